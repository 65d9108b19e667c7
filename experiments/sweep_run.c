/* One run of a sweep plan (epara/experiments/sweep.h: policy parameters and the SLO scale applied
 * to the shared scenario and restored afterwards, simulator or bound, stored with its identity key
 * in one transaction), and the results-database bookkeeping around a sweep (what is left to
 * run, journal mode). The simulation runs outside any transaction, so concurrent workers
 * only queue to store. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/sim/lathist.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "epara/experiments/sweep.h"

/* Workers wait this long for another writer's lock (a run with records takes seconds). */
#define BUSY_MS 600000

void
ep_sweep_ctx_init(ep_sweep_ctx *ctx, ep_scenario *sc, const char *trace_db, const char *out,
                  int records, const char *git_rev)
{
    memset(ctx, 0, sizeof *ctx);
    ctx->sc = sc;
    ctx->trace_db = trace_db;
    ctx->out = out;
    ctx->git_rev = git_rev;
    ctx->records = records;
    snprintf(ctx->host, sizeof ctx->host, "unknown");
    gethostname(ctx->host, sizeof ctx->host - 1);
}

int
ep_sweep_conn_open(const ep_sweep_ctx *ctx, ep_sweep_conn *c, char *err, size_t errlen)
{
    memset(c, 0, sizeof *c);
    char msg[512] = "";
    int rc = ep_store_open(ctx->trace_db, EP_STORE_READONLY, &c->st, msg, sizeof msg);
    if (rc) {
        if (rc == EP_ENOENT)
            snprintf(err, errlen, "%s: no such database", ctx->trace_db);
        else
            snprintf(err, errlen, "%s", msg[0] ? msg : ep_strerror(rc));
        c->st = NULL;
        return rc;
    }
    if (ep_results_open(ctx->out, &c->res, msg, sizeof msg) ||
        ep_results_sweep_init(c->res, BUSY_MS)) {
        snprintf(err, errlen, "sweep: %s", c->res ? ep_results_errmsg(c->res) : msg);
        ep_sweep_conn_close(c);
        return EP_EDB;
    }
    return 0;
}

void
ep_sweep_conn_close(ep_sweep_conn *c)
{
    ep_results_close(c->res);
    ep_store_close(c->st);
    memset(c, 0, sizeof *c);
}

/* Every run keeps a latency histogram of its window (stored in its summary); with --records
 * the records too, in memory during the run and stored after it, so the results database
 * is locked only while storing. */
typedef struct rec_buf {
    ep_lathist hist;
    int keep; /* --records */
    ep_record *v;
    size_t n, cap;
    int oom;
} rec_buf;

static void
on_record(void *ctx, const ep_record *rec)
{
    rec_buf *b = ctx;
    ep_lathist_add(&b->hist, rec);
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
store(const ep_sweep_ctx *ctx, ep_sweep_conn *c, const ep_sweep_run *r, const ep_run_result *res,
      const rec_buf *rb, int bound)
{
    size_t dlen;
    const ep_scenario *sc = ctx->sc;
    ep_run_info info = {
            .sc = sc,
            .scenario_name = sc->name,
            .scenario_text = sc->text ? sc->text : ep_scenario_default_text(&dlen),
            .git_rev = ctx->git_rev,
            .host = ctx->host,
            .options_json = r->options,
            .rate_scale = r->rate_scale,
            .duration_s = r->duration_s,
            .seed = r->seed,
            .policy = r->policy,
    };
    json_t *js = ep_sim_summary_json(sc, res);
    if (js && !bound && json_object_set_new(js, "latency_hist", ep_lathist_json(&rb->hist))) {
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
ep_sweep_run_one(const ep_sweep_ctx *ctx, ep_sweep_conn *c, const ep_sweep_run *r, int idx,
                 ep_sweep_result *out)
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
        out->status = EP_ENOMEM;
        snprintf(out->msg, sizeof out->msg, "out of memory");
        return;
    }
    memcpy(saved, sc->params, sizeof sc->params);
    for (int i = 0; i < sc->nservices; i++)
        slos[i] = sc->services[i].slo;
    ep_scenario_scale_slos(sc, r->slo_scale);
    rec_buf rb;
    memset(&rb, 0, sizeof rb);
    rb.keep = ctx->records;
    ep_run_result res;
    memset(&res, 0, sizeof res);
    for (int i = 0; i < r->nparams; i++)
        if ((out->status = ep_scenario_param_put(sc, r->pkey[i], r->pval[i])) != 0) {
            snprintf(out->msg, sizeof out->msg, "more than %d policy parameters", EP_MAX_PARAMS);
            goto done;
        }
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.policy = r->policy;
    o.seed = r->seed;
    o.seed_set = 1;
    o.rate_scale = r->rate_scale;
    o.traces = c->st;
    if (r->duration_s > 0 && ep_dur_from_s(r->duration_s, &o.duration)) {
        out->status = EP_ERANGE;
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
        out->status = err;
        goto done;
    }
    if (rb.oom) {
        out->status = EP_ENOMEM;
        snprintf(out->msg, sizeof out->msg, "out of memory keeping the records");
        goto done;
    }
    if (store(ctx, c, r, &res, &rb, bound)) {
        out->status = EP_EDB;
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
    ep_run_result_fini(&res);
}

int
ep_sweep_todo(const char *out, const ep_sweep_plan *plan, int dry_run, int **todo, int *ntodo,
              char *err, size_t errlen)
{
    ep_results *res = NULL;
    char msg[512] = "";
    *todo = NULL;
    *ntodo = 0;
    int *t = malloc((size_t)(plan->n ? plan->n : 1) * sizeof *t);
    if (!t) {
        snprintf(err, errlen, "sweep: out of memory");
        return EP_ENOMEM;
    }
    if (dry_run && access(out, F_OK) != 0) {
        /* Nothing stored yet, and a dry run creates nothing. */
        for (int i = 0; i < plan->n; i++)
            t[i] = i;
        *todo = t;
        *ntodo = plan->n;
        return 0;
    }
    if (ep_results_open(out, &res, msg, sizeof msg)) {
        snprintf(err, errlen, "sweep: %s", msg);
        free(t);
        return EP_EDB;
    }
    int rc = EP_EDB, n = 0;
    if (ep_results_sweep_init(res, BUSY_MS)) {
        snprintf(err, errlen, "sweep: %s: %s", out, ep_results_errmsg(res));
        goto done;
    }
    for (int i = 0; i < plan->n; i++) {
        int found = 0;
        if (ep_results_sweep_has(res, plan->runs[i].key, &found)) {
            snprintf(err, errlen, "sweep: %s: %s", out, ep_results_errmsg(res));
            goto done;
        }
        if (!found)
            t[n++] = i;
    }
    *todo = t;
    *ntodo = n;
    t = NULL;
    rc = 0;
done:
    free(t);
    ep_results_close(res);
    return rc;
}

int
ep_sweep_journal(const char *out, int wal, char *err, size_t errlen)
{
    ep_results *res = NULL;
    char msg[512] = "";
    int rc = 0;
    if (ep_results_open(out, &res, msg, sizeof msg)) {
        snprintf(err, errlen, "%s", msg);
        rc = EP_EDB;
    } else if (ep_results_sweep_init(res, BUSY_MS) || ep_results_set_wal(res, wal)) {
        snprintf(err, errlen, "%s", ep_results_errmsg(res));
        rc = EP_EDB;
    }
    ep_results_close(res);
    return rc;
}
