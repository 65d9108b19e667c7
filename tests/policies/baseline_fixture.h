/* Test fixture for the baseline policies (adainf, offload): a scenario from YAML text, traces
 * generated straight into a temporary store, a simulator run that keeps every record, and a
 * hand-built view for calling a policy's hooks directly. Header-only, for tests/policies/. */
#ifndef EPARA_TEST_BASELINE_FIXTURE_H
#define EPARA_TEST_BASELINE_FIXTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/policies/policy_util.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "epara/traces/store.h"
#include "trace_gen.h"

#define BF_MAX 64

typedef struct bf {
    ep_scenario sc;
    ep_store *st;
    char db[128];
    ep_record *recs;
    size_t nrecs, cap;
    /* hand-built view */
    ep_view view;
    ep_category cat[BF_MAX];
    double rate[BF_MAX], mean_in[BF_MAX], mean_out[BF_MAX];
    int up[BF_MAX * 4];
    ep_instance_view inst[BF_MAX];
    ep_dur delay_ms[BF_MAX][BF_MAX]; /* one-way delay between nodes (view->delay) */
    ep_env env;
    void *pstate;
    const ep_policy_ops *ops;
} bf;

static inline void
bf_on_record(void *ctx, const ep_record *r)
{
    bf *f = ctx;
    if (f->nrecs == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4096;
        f->recs = realloc(f->recs, f->cap * sizeof *f->recs);
        if (!f->recs)
            abort();
    }
    f->recs[f->nrecs++] = *r;
}

static inline ep_dur
bf_delay(const ep_view *v, int a, int b, int64_t bytes)
{
    (void)bytes;
    const bf *f = (const bf *)v->host_;
    return a == b ? 0 : f->delay_ms[a][b] * EP_NS_PER_MS;
}

/* Loads the scenario and opens an empty trace store named after tag. */
static inline int
bf_init(bf *f, const char *yaml, const char *tag)
{
    memset(f, 0, sizeof *f);
    ep_parse_error pe;
    if (ep_scenario_load_text(yaml, strlen(yaml), tag, ".", &f->sc, &pe) != 0) {
        fprintf(stderr, "scenario: %ld: %s\n", (long)pe.line, pe.msg);
        return -1;
    }
    snprintf(f->db, sizeof f->db, "test_pol_%s_%ld.db", tag, (long)getpid());
    remove(f->db);
    return ep_store_open(f->db, 0, &f->st, NULL, 0);
}

static inline void
bf_fini(bf *f)
{
    if (f->pstate && f->ops && f->ops->fini)
        f->ops->fini(f->pstate);
    free(f->pstate);
    ep_store_close(f->st);
    remove(f->db);
    free(f->recs);
    ep_scenario_fini(&f->sc);
}

/* Generates trace `name` from spec g into the fixture's store. */
static inline int
bf_gen(bf *f, const char *name, const ep_gen_spec *g)
{
    return tg_generate(f->st, name, g, NULL);
}

/* Writes a Poisson trace `name` of rate_per_s for duration_s (input sizes fixed). */
static inline int
bf_poisson(bf *f, const char *name, double rate_per_s, double duration_s, uint64_t seed,
           int64_t input)
{
    ep_gen_spec g;
    ep_gen_spec_init(&g);
    g.kind = EP_GEN_POISSON;
    g.rate_per_s = rate_per_s;
    g.seed = seed;
    g.duration = (ep_dur)(duration_s * 1e9);
    g.sizes = EP_SIZES_FIXED;
    g.fixed_input = input;
    g.fixed_output = input > 0 ? 1 : 0;
    return bf_gen(f, name, &g);
}

/* Runs the simulator under policy (records kept in f->recs). */
static inline int
bf_run(bf *f, const char *policy, ep_run_result *res)
{
    free(f->recs);
    f->recs = NULL;
    f->nrecs = f->cap = 0;
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.policy = policy;
    o.traces = f->st;
    o.on_record = bf_on_record;
    o.ctx = f;
    char err[256] = "";
    int rc = ep_sim_run(&f->sc, &o, res, err, sizeof err);
    if (rc)
        fprintf(stderr, "ep_sim_run: %s\n", err);
    return rc;
}

/* A view of the scenario with no instances, every node and link up, default categories,
 * rates and mean sizes as given (NULL: zero). */
static inline void
bf_view(bf *f, const double *rate, const double *mean_in, const double *mean_out)
{
    ep_view *v = &f->view;
    memset(v, 0, sizeof *v);
    v->sc = &f->sc;
    for (int s = 0; s < f->sc.nservices && s < BF_MAX; s++) {
        ep_category_default(v, s, &f->cat[s]);
        f->rate[s] = rate ? rate[s] : 0;
        f->mean_in[s] = mean_in ? mean_in[s] : 0;
        f->mean_out[s] = mean_out ? mean_out[s] : 0;
    }
    for (int i = 0; i < BF_MAX * 4; i++)
        f->up[i] = 1;
    v->cat = f->cat;
    v->rate = f->rate;
    v->mean_input = f->mean_in;
    v->mean_output = f->mean_out;
    v->node_up = f->up;
    v->link_up = f->up;
    v->inst = f->inst;
    v->ninst = 0;
    v->placement_period = 30 * EP_NS_PER_S;
    v->sync_period = 500 * EP_NS_PER_MS;
    v->delay = bf_delay;
    v->host_ = f;
    for (int a = 0; a < BF_MAX; a++)
        for (int b = 0; b < BF_MAX; b++)
            f->delay_ms[a][b] = 1;
    memset(&f->env, 0, sizeof f->env);
}

/* Allocates and initializes the policy's state for the view (scenario parameters). */
static inline int
bf_policy(bf *f, const char *name)
{
    f->ops = ep_policy_find(name);
    if (!f->ops)
        return EP_ENOENT;
    f->pstate = calloc(1, f->ops->state_size + 1);
    if (!f->pstate)
        return EP_ENOMEM;
    return f->ops->init ? f->ops->init(f->pstate, &f->env, &f->view, f->sc.params, f->sc.nparams)
                        : 0;
}

/* Appends a ready instance of spec to the view with the given backlog (live: synced now). */
static inline int
bf_add_instance(bf *f, const ep_instance_spec *sp, ep_dur backlog)
{
    int i = f->view.ninst++;
    ep_instance_view *iv = &f->inst[i];
    memset(iv, 0, sizeof *iv);
    iv->spec = *sp;
    iv->id = i;
    iv->node = f->sc.devices[sp->devs[0]].node;
    iv->ready = 1;
    iv->active = 1;
    iv->backlog = backlog;
    iv->kv_free = f->sc.services[sp->service].kind == EP_SVC_LLM ? 1000000 : -1;
    iv->synced_at = f->env.now;
    return i;
}

#endif
