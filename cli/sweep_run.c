/* `epara sweep`: one run of the plan (policy parameters and the SLO scale applied to the shared
 * scenario and restored afterwards, simulator or bound, stored with its identity key in one
 * transaction), and the results-database bookkeeping around a sweep (what is left to run,
 * journal mode). The simulation runs outside any transaction, so concurrent workers only
 * queue to store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "epara/bound.h"
#include "epara/error.h"
#include "epara/scenario.h"
#include "epara/sim.h"
#include "lathist.h"
#include "sweep.h"
#include "util.h"
#include "gitrev.h"

/* Workers wait this long for another writer's lock (a run with records takes seconds). */
#define BUSY_MS 600000

/* Checks every policy parameter any planned run would get, before any trace is prepared
 * or worker started: for each policy, every value of every param.KEY dimension over the
 * scenario's parameters (each entry is checked on its own, so tuples that take each value
 * once cover every grid point). Prints the problem; -1 on the first. */
static int
check_params(const sweep_opts *o, const ep_scenario *sc)
{
    const char *keys[SWEEP_MAX_DIMS], *vals[SWEEP_MAX_DIMS];
    int n = 0, nvals = 1;
    for (int d = 0; d < o->grid.ndims; d++)
        if (o->grid.dims[d].kind == SWEEP_PARAM) {
            keys[n++] = o->grid.dims[d].key;
            if (o->grid.dims[d].nvals > nvals)
                nvals = o->grid.dims[d].nvals;
        }
    for (int p = 0; p < o->npolicies; p++)
        for (int j = 0; j < nvals; j++) {
            for (int d = 0, k = 0; d < o->grid.ndims; d++) {
                const sweep_dim *dm = &o->grid.dims[d];
                if (dm->kind == SWEEP_PARAM)
                    vals[k++] = dm->text[j < dm->nvals ? j : dm->nvals - 1];
            }
            if (cli_policy_params_check(sc, o->scen, o->policies[p], keys, vals, n, "--grid"))
                return -1;
        }
    return 0;
}

int
sweep_setup(const sweep_opts *o, int quiet_prepare, ep_scenario *sc, sweep_ctx *ctx,
            sweep_plan *plan)
{
    ep_store *st = NULL;
    int rc = cli_scenario_load(o->scen, sc);
    if (rc)
        return rc;
    if (check_params(o, sc)) {
        ep_scenario_fini(sc);
        return EXIT_USAGE;
    }
    if ((rc = cli_scenario_prepare(sc, o->trace_db, quiet_prepare, &st)) != 0)
        return rc;
    /* Workers open their own read-only connections; none may cross a fork. */
    ep_store_close(st);
    memset(ctx, 0, sizeof *ctx);
    ctx->sc = sc;
    ctx->trace_db = o->trace_db ? o->trace_db : sc->run.trace_db;
    ctx->out = o->out;
    ctx->records = o->records;
    snprintf(ctx->host, sizeof ctx->host, "unknown");
    gethostname(ctx->host, sizeof ctx->host - 1);
    char err[256];
    if (sweep_plan_build(&o->grid, o->policies, o->npolicies, sc, o->scen, o->duration_s,
                         o->records, plan, err, sizeof err)) {
        cli_err("%s", err);
        ep_scenario_fini(sc);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

void
sweep_describe(const sweep_run *r, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s x%g seed %llu", r->policy, r->rate_scale,
                     (unsigned long long)r->seed);
    if (r->duration_s > 0 && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " duration %g", r->duration_s);
    if (r->slo_scale != 1 && n >= 0 && (size_t)n < len)
        n += snprintf(buf + n, len - (size_t)n, " slo x%g", r->slo_scale);
    for (int i = 0; i < r->nparams && n >= 0 && (size_t)n < len; i++)
        n += snprintf(buf + n, len - (size_t)n, " %s=%s", r->pkey[i], r->pval[i]);
}

int
sweep_conn_open(const sweep_ctx *ctx, sweep_conn *c)
{
    memset(c, 0, sizeof *c);
    char msg[512] = "";
    if (!(c->st = cli_store_open(ctx->trace_db, EP_STORE_READONLY)))
        return EXIT_FAIL;
    if (ep_results_open(ctx->out, &c->res, msg, sizeof msg) ||
        ep_results_sweep_init(c->res, BUSY_MS)) {
        cli_err("sweep: %s", c->res ? ep_results_errmsg(c->res) : msg);
        sweep_conn_close(c);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

void
sweep_conn_close(sweep_conn *c)
{
    ep_results_close(c->res);
    ep_store_close(c->st);
    memset(c, 0, sizeof *c);
}

/* Every run keeps a latency histogram of its window (stored in its summary); with --records
 * the records too, in memory during the run and stored after it, so the results database
 * is locked only while storing. */
typedef struct rec_buf {
    cli_lathist hist;
    int keep; /* --records */
    ep_record *v;
    size_t n, cap;
    int oom;
} rec_buf;

static void
on_record(void *ctx, const ep_record *rec)
{
    rec_buf *b = ctx;
    cli_lathist_add(&b->hist, rec);
    if (b->oom || !b->keep)
        return;
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 4096;
        ep_record *v = realloc(b->v, cap * sizeof *v);
        if (!v) {
            b->oom = 1;
            return;
        }
        b->v = v;
        b->cap = cap;
    }
    b->v[b->n++] = *rec;
}

static int
store(const sweep_ctx *ctx, sweep_conn *c, const sweep_run *r, const ep_sim_result *res,
      const rec_buf *rb, int bound)
{
    size_t dlen;
    const ep_scenario *sc = ctx->sc;
    ep_run_info info = {
            .sc = sc,
            .scenario_name = sc->name,
            .scenario_text = sc->text ? sc->text : ep_scenario_default_text(&dlen),
            .git_rev = EP_GIT_REV,
            .host = ctx->host,
            .options_json = r->options,
            .rate_scale = r->rate_scale,
            .duration_s = r->duration_s,
            .seed = r->seed,
            .policy = r->policy,
    };
    json_t *js = cli_sim_summary_json(sc, res);
    if (js && !bound && json_object_set_new(js, "latency_hist", cli_lathist_json(&rb->hist))) {
        json_decref(js);
        js = NULL;
    }
    char *txt = js ? json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(js);
    int64_t id;
    int err = !txt || ep_results_begin(c->res, &info, &id);
    if (err) {
        free(txt);
        return -1;
    }
    err = ep_results_sweep_tag(c->res, r->key);
    for (size_t i = 0; !err && i < rb->n; i++)
        err = ep_results_add_record(c->res, &rb->v[i]);
    if (err) {
        ep_results_abort(c->res);
        free(txt);
        return -1;
    }
    err = ep_results_commit(c->res, sc, res, txt);
    free(txt);
    return err ? -1 : 0;
}

void
sweep_run_one(const sweep_ctx *ctx, sweep_conn *c, const sweep_run *r, int idx, sweep_result *out)
{
    memset(out, 0, sizeof *out);
    out->run = idx;
    ep_scenario *sc = ctx->sc;
    ep_param *saved = malloc(sizeof sc->params);
    ep_slo *slos = malloc((size_t)(sc->nservices > 0 ? sc->nservices : 1) * sizeof *slos);
    int nsaved = sc->nparams;
    if (!saved || !slos) {
        free(saved);
        free(slos);
        out->status = EXIT_FAIL;
        snprintf(out->msg, sizeof out->msg, "out of memory");
        return;
    }
    memcpy(saved, sc->params, sizeof sc->params);
    for (int i = 0; i < sc->nservices; i++)
        slos[i] = sc->services[i].slo;
    cli_slo_scale(sc, r->slo_scale);
    rec_buf rb;
    memset(&rb, 0, sizeof rb);
    rb.keep = ctx->records;
    ep_sim_result res;
    memset(&res, 0, sizeof res);
    for (int i = 0; i < r->nparams; i++)
        if (cli_param_put(sc, r->pkey[i], r->pval[i])) {
            out->status = EXIT_USAGE;
            snprintf(out->msg, sizeof out->msg, "more than %d policy parameters", EP_MAX_PARAMS);
            goto done;
        }
    ep_sim_opts o;
    memset(&o, 0, sizeof o);
    o.policy = r->policy;
    o.seed = r->seed;
    o.seed_set = 1;
    o.rate_scale = r->rate_scale;
    o.traces = c->st;
    if (r->duration_s > 0 && ep_dur_from_s(r->duration_s, &o.duration)) {
        out->status = EXIT_USAGE;
        snprintf(out->msg, sizeof out->msg, "duration %g s is out of range", r->duration_s);
        goto done;
    }
    int bound = strcmp(r->policy, EP_BOUND_NAME) == 0;
    if (!bound) {
        o.on_record = on_record;
        o.ctx = &rb;
    }
    int err = bound ? ep_bound_run(sc, &o, &res, out->msg, sizeof out->msg)
                    : ep_sim_run(sc, &o, &res, out->msg, sizeof out->msg);
    if (err) {
        out->status = err == EP_EINVAL || err == EP_ENOENT ? EXIT_USAGE : EXIT_FAIL;
        goto done;
    }
    if (rb.oom) {
        out->status = EXIT_FAIL;
        snprintf(out->msg, sizeof out->msg, "out of memory keeping the records");
        goto done;
    }
    if (store(ctx, c, r, &res, &rb, bound)) {
        out->status = EXIT_FAIL;
        snprintf(out->msg, sizeof out->msg, "%s: cannot store the run: %s", ctx->out,
                 ep_results_errmsg(c->res));
        goto done;
    }
    out->wall_s = res.wall_s;
    out->goodput_per_s = res.goodput_per_s;
    out->slo_attainment = res.slo_attainment;
done:
    memcpy(sc->params, saved, sizeof sc->params);
    sc->nparams = nsaved;
    for (int i = 0; i < sc->nservices; i++)
        sc->services[i].slo = slos[i];
    free(saved);
    free(slos);
    free(rb.v);
    ep_sim_result_fini(&res);
}

int
sweep_todo(const char *out, const sweep_plan *plan, int wal, int dry_run, int **todo, int *ntodo)
{
    ep_results *res = NULL;
    char msg[512] = "";
    *todo = NULL;
    *ntodo = 0;
    if (dry_run && access(out, F_OK) != 0) {
        /* Nothing stored yet, and a dry run creates nothing. */
        int *t = malloc((size_t)(plan->n ? plan->n : 1) * sizeof *t);
        if (!t) {
            cli_err("sweep: out of memory");
            return EXIT_FAIL;
        }
        for (int i = 0; i < plan->n; i++)
            t[i] = i;
        *todo = t;
        *ntodo = plan->n;
        return EXIT_OK;
    }
    if (ep_results_open(out, &res, msg, sizeof msg)) {
        cli_err("sweep: %s", msg);
        return EXIT_FAIL;
    }
    int rc = EXIT_FAIL;
    if (ep_results_sweep_init(res, BUSY_MS)) {
        cli_err("sweep: %s: %s", out, ep_results_errmsg(res));
        goto done;
    }
    /* WAL lets workers store while others read; without it (another connection is open)
     * the busy timeout still serializes them correctly. */
    if (wal && ep_results_set_wal(res, 1))
        cli_err("sweep: %s: cannot switch to WAL (%s); continuing", out, ep_results_errmsg(res));
    int *t = malloc((size_t)(plan->n ? plan->n : 1) * sizeof *t);
    if (!t) {
        cli_err("sweep: out of memory");
        goto done;
    }
    int n = 0;
    for (int i = 0; i < plan->n; i++) {
        int found = 0;
        if (ep_results_sweep_has(res, plan->runs[i].key, &found)) {
            cli_err("sweep: %s: %s", out, ep_results_errmsg(res));
            free(t);
            goto done;
        }
        if (!found)
            t[n++] = i;
    }
    *todo = t;
    *ntodo = n;
    rc = EXIT_OK;
done:
    ep_results_close(res);
    return rc;
}

void
sweep_settle(const char *out)
{
    ep_results *res = NULL;
    char msg[512];
    if (ep_results_open(out, &res, msg, sizeof msg) == 0)
        ep_results_set_wal(res, 0);
    ep_results_close(res);
}
