/* Test fixture: a one-node, one-device scenario built in C, a trace written straight into a
 * temporary store, and a run that keeps every record. Header-only, for tests/sim/; include
 * it after <cmocka.h> (its trace helpers assert). */
#ifndef EPARA_TEST_SIM_FIXTURE_H
#define EPARA_TEST_SIM_FIXTURE_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "epara/core/error.h"
#include "epara/core/rng.h"
#include "epara/sim/sim.h"
#include "epara/traces/store.h"
#include "epara/traces/trace.h"
#include "trace_gen.h"

typedef struct fx {
    ep_scenario sc;
    ep_device_spec spec[2];
    ep_node node[2];
    ep_device dev[4];
    ep_link link[2];
    ep_service svc[2];
    ep_profile_table prof[2];
    ep_workload wl[2];
    ep_store *st;
    char db[128];
    ep_record *recs;
    size_t nrecs, cap;
} fx;

static inline void
fx_on_record(void *ctx, const ep_record *r)
{
    fx *f = ctx;
    if (f->nrecs == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 4096;
        f->recs = realloc(f->recs, f->cap * sizeof *f->recs);
        if (!f->recs)
            abort();
    }
    f->recs[f->nrecs++] = *r;
}

/* An RTX-4090-like GPU on one server node with a 10 GbE link, no services yet. */
static inline void
fx_init(fx *f, const char *tag)
{
    memset(f, 0, sizeof *f);
    ep_device_spec *d = &f->spec[0];
    snprintf(d->name, sizeof d->name, "gpu");
    d->kind = EP_DEV_GPU;
    d->mem_bytes = INT64_C(24000000000);
    d->mem_bw_bytes_per_s = 1.008e12;
    d->peak_flops = 165e12;
    d->compute_eff = 0.4;
    d->mem_eff = 0.7;
    d->mem_util = 0.9;
    d->batch_overhead = 0;
    d->load_bw_bytes_per_s = 2e9;
    snprintf(f->node[0].name, sizeof f->node[0].name, "n0");
    f->node[0].ndev = 1;
    f->node[0].link = 0;
    f->node[0].intra_bw_bytes_per_s = 32e9;
    f->link[0].bw_bytes_per_s = 1.25e9;
    f->link[0].latency = 100 * EP_NS_PER_US;
    f->sc.specs = f->spec;
    f->sc.nspecs = 1;
    f->sc.nodes = f->node;
    f->sc.nnodes = 1;
    f->sc.devices = f->dev;
    f->sc.ndevices = 1;
    f->sc.links = f->link;
    f->sc.nlinks = 1;
    f->sc.services = f->svc;
    f->sc.profiles = f->prof;
    f->sc.workloads = f->wl;
    f->sc.run.seed = 1;
    f->sc.run.sync_period = 500 * EP_NS_PER_MS;
    snprintf(f->sc.policy, sizeof f->sc.policy, "static");
    snprintf(f->db, sizeof f->db, "test_sim_%s_%ld.db", tag, (long)getpid());
    remove(f->db);
    if (ep_store_open(f->db, 0, &f->st, NULL, 0))
        abort();
}

static inline void
fx_fini(fx *f)
{
    ep_store_close(f->st);
    remove(f->db);
    free(f->recs);
}

/* Node n1 with its own GPU and 10 GbE uplink, like n0. */
static inline void
fx_add_node(fx *f)
{
    f->node[1] = f->node[0];
    snprintf(f->node[1].name, sizeof f->node[1].name, "n1");
    f->node[1].dev0 = 1;
    f->node[1].link = 1;
    f->dev[1].node = 1;
    f->link[1] = f->link[0];
    f->sc.nnodes = 2;
    f->sc.ndevices = 2;
    f->sc.nlinks = 2;
}

/* Maps trace `name` to service 0 at node 0. */
static inline void
fx_workload(fx *f, const char *name)
{
    ep_workload *w = &f->wl[0];
    snprintf(w->trace, sizeof w->trace, "%s", name);
    w->service = 0;
    w->ingress[0] = 0;
    w->ningress = 1;
    w->rate_scale = 1;
    w->time_scale = 1;
    f->sc.nworkloads = 1;
}

/* Generates trace `name` from g into the fixture's store; returns its rows. */
static inline int64_t
fx_gen_trace(fx *f, const char *name, const ep_gen_spec *g)
{
    int64_t rows = 0;
    assert_int_equal(tg_generate(f->st, name, g, &rows), 0);
    return rows;
}

/* Poisson arrivals at `rate` per second for `secs` seconds into trace `name`; its rows. */
static inline int64_t
fx_poisson(fx *f, const char *name, double rate, double secs, uint64_t seed)
{
    ep_gen_spec g;
    ep_gen_spec_init(&g);
    g.rate_per_s = rate;
    g.duration = (ep_dur)llround(secs * 1e9);
    g.seed = seed;
    return fx_gen_trace(f, name, &g);
}

/* Runs the scenario under ops (NULL: the scenario's policy), keeping every record. */
static inline int
fx_run_with(fx *f, const ep_policy_ops *ops, ep_run_result *res)
{
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.traces = f->st;
    o.policy_ops = ops;
    o.on_record = fx_on_record;
    o.ctx = f;
    char err[256] = "";
    int rc = ep_sim_run(&f->sc, &o, res, err, sizeof err);
    if (rc)
        fprintf(stderr, "ep_sim_run: %s\n", err);
    return rc;
}

static inline int
fx_run(fx *f, ep_run_result *res)
{
    return fx_run_with(f, NULL, res);
}

#endif
