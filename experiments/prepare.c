/* Workload trace preparation: present in the database -> used; else its import file ->
 * imported; else its generator -> generated. One transaction per trace, so an interrupted
 * preparation never leaves a partial trace behind. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/experiments/prepare.h"

static void say(ep_prepare_log_fn log, void *ctx, const char *fmt, ...) EP_PRINTF(3, 4);

static void
say(ep_prepare_log_fn log, void *ctx, const char *fmt, ...)
{
    if (!log)
        return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log(ctx, msg);
}

static int
generate(const ep_workload *w, const ep_trace_origin *org, ep_store *st, char *err, size_t errlen,
         int64_t *rows)
{
    ep_gen_spec g = org->gen;
    int64_t *pin = NULL, *pout = NULL;
    int rc = 0;
    if (org->gen_sizes_trace[0]) {
        size_t n;
        rc = ep_trace_load_sizes(st, org->gen_sizes_trace, &pin, &pout, &n);
        if (rc) {
            snprintf(err, errlen, "trace '%s': its sizes come from trace '%s', which is %s",
                     w->trace, org->gen_sizes_trace,
                     rc == EP_ENOENT ? "not in the database" : "unreadable");
            return rc;
        }
        if (g.sizes == EP_SIZES_RESAMPLE) {
            g.pool_input = pin;
            g.pool_output = pout;
            g.pool_len = n;
        } else if (ep_lognormal_fit(pin, n, &g.in_mu, &g.in_sigma) ||
                   ep_lognormal_fit(pout, n, &g.out_mu, &g.out_sigma)) {
            snprintf(err, errlen, "trace '%s': cannot fit sizes of '%s'", w->trace,
                     org->gen_sizes_trace);
            rc = EP_EINVAL;
            goto done;
        }
    }
    static const char *const kinds[] = {"poisson", "gamma", "mmpp", "video"};
    ep_trace_meta meta;
    memset(&meta, 0, sizeof meta);
    snprintf(meta.name, sizeof meta.name, "%s", w->trace);
    snprintf(meta.format, sizeof meta.format, "gen-%s", kinds[g.kind]);
    snprintf(meta.license, sizeof meta.license, "synthetic (scenario generator)");
    snprintf(meta.source, sizeof meta.source, "scenario generator: %s, seed %llu, %.6g req/s",
             kinds[g.kind], (unsigned long long)g.seed, g.rate_per_s);
    ep_trace_writer *wr;
    if ((rc = ep_trace_writer_begin(st, &meta, 0, &wr)) != 0) {
        snprintf(err, errlen, "trace '%s': cannot start writing: %s", w->trace, ep_strerror(rc));
        goto done;
    }
    ep_trace_writer_set_origin(wr, 0);
    char msg[256] = "";
    rc = ep_trace_generate(&g, ep_trace_writer_sink, wr, msg, sizeof msg);
    if (rc) {
        ep_trace_writer_abort(wr);
        snprintf(err, errlen, "trace '%s': generator: %s", w->trace,
                 msg[0] ? msg : ep_strerror(rc));
        goto done;
    }
    ep_trace_meta out;
    if ((rc = ep_trace_writer_commit(wr, &out)) != 0) {
        snprintf(err, errlen, "trace '%s': %s", w->trace,
                 rc == EP_EEMPTY ? "the generator produced no rows" : ep_strerror(rc));
        goto done;
    }
    *rows = out.rows;
done:
    free(pin);
    free(pout);
    return rc;
}

int
ep_scenario_prepare_traces(const ep_scenario *sc, ep_store *st, ep_prepare_log_fn log, void *ctx,
                           char *err, size_t errlen)
{
    for (int i = 0; i < sc->nworkloads; i++) {
        static const ep_trace_origin none;
        const ep_workload *w = &sc->workloads[i];
        const ep_trace_origin *org = w->origin ? w->origin : &none;
        int seen = 0;
        for (int j = 0; j < i && !seen; j++)
            seen = strcmp(sc->workloads[j].trace, w->trace) == 0;
        if (seen)
            continue; /* several workloads may replay one trace */
        ep_trace_meta m;
        int rc = ep_trace_meta_get(st, w->trace, &m);
        if (rc == 0) {
            say(log, ctx, "trace '%s': from the trace database (%s, %lld rows)", w->trace, m.source,
                (long long)m.rows);
            continue;
        }
        if (rc != EP_ENOENT) {
            snprintf(err, errlen, "trace '%s': database error: %s", w->trace, ep_store_errmsg(st));
            return rc;
        }
        if (org->has_import && access(org->import_file, R_OK) == 0) {
            ep_parse_opts o;
            memset(&o, 0, sizeof o);
            o.format = org->import_format;
            o.seed = sc->run.seed;
            o.expand = org->import_expand;
            ep_colmap cmap;
            if (org->import_format == EP_FMT_CSV || org->import_format == EP_FMT_JSONL) {
                char merr[256];
                if (ep_colmap_parse(org->import_map, &cmap, merr, sizeof merr)) {
                    snprintf(err, errlen, "trace '%s': import map: %s", w->trace, merr);
                    return EP_EINVAL;
                }
                o.map = &cmap;
            }
            ep_trace_meta meta;
            memset(&meta, 0, sizeof meta);
            snprintf(meta.name, sizeof meta.name, "%s", w->trace);
            snprintf(meta.source, sizeof meta.source, "%.500s", org->import_file);
            snprintf(meta.format, sizeof meta.format, "%s", ep_trace_format_name(o.format));
            snprintf(meta.license, sizeof meta.license, "see the source's license");
            ep_parse_error pe;
            ep_parse_stats ps;
            memset(&ps, 0, sizeof ps);
            rc = ep_trace_import_file(st, org->import_file, &o, &meta, 0, &pe, &ps, &m);
            if (rc) {
                if (rc == EP_EPARSE)
                    snprintf(err, errlen, "%s:%ld: %s", org->import_file, pe.line, pe.msg);
                else
                    snprintf(err, errlen, "%s: %s", org->import_file,
                             pe.msg[0] ? pe.msg : ep_strerror(rc));
                return rc;
            }
            say(log, ctx, "trace '%s': imported %s (%lld rows)", w->trace, org->import_file,
                (long long)m.rows);
            if (ps.skipped)
                say(log, ctx, "trace '%s': %ld rows skipped (pending requests)", w->trace,
                    ps.skipped);
            continue;
        }
        if (org->has_gen) {
            int64_t rows = 0;
            if ((rc = generate(w, org, st, err, errlen, &rows)) != 0)
                return rc;
            if (org->has_import)
                say(log, ctx,
                    "trace '%s': %s not found; generated a stand-in with its rate, "
                    "burstiness and size quantiles (traces/README.md; %lld rows)",
                    w->trace, org->import_file, (long long)rows);
            else
                say(log, ctx, "trace '%s': generated (%lld rows)", w->trace, (long long)rows);
            continue;
        }
        if (org->has_import)
            snprintf(err, errlen,
                     "trace '%s' is not in the trace database, and the scenario's import file "
                     "%.3000s is missing (and it gives no generator to fall back on)",
                     w->trace, org->import_file);
        else
            snprintf(err, errlen,
                     "trace '%s' is not in the trace database and the scenario gives neither an "
                     "import file nor a generator",
                     w->trace);
        return EP_ENOENT;
    }
    return 0;
}
