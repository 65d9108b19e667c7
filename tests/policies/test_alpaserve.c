/* The alpaserve baseline (policies/alpaserve*.c): placements fit device memory, every LLM
 * with the KV cache of the batch its share of the demand needs (its running batch fits the
 * cache the simulator's even split gives it, stays within its SLO batch and carries its
 * share, also for a replica that stays through a re-placement), a model whose demand needs
 * it keeps its SLO batch's cache, every service gets a replica when memory allows, a model
 * larger than one GPU gets a TP or PP group, demand decides replica counts, re-placement
 * follows a demand shift and stays put otherwise; the parameters (link_admission included)
 * are declared and init refuses others; routing goes to the shortest queue,
 * counts what it sent to remote instances, rejects requests that would miss their deadline;
 * batches meet the deadlines of the requests in them. In the simulator: one record per
 * request, equal replicas share the load, LLMs never run out of KV cache, the same seed
 * gives the same event hash. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/policies/policy_util.h"
#include "epara/experiments/prepare.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "arrivals_count.h"

extern const ep_policy_ops ep_policy_alpaserve;
#define OPS (&ep_policy_alpaserve)

/* Two servers of two 24 GB GPUs: a 13B model (26 GB) needs two of them. */
static const char yaml_mp[] =
        "name: alpa-mp\n"
        "run: {seed: 1, warmup_s: 0, cooldown_s: 0, placement_period_s: 30}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: server, class: server, count: 2, cores: 32, mem_gb: 128,"
        " devices: [gpu, gpu], link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "services:\n"
        "  - {name: big, kind: llm, params_b: 13, layers: 40, hidden: 5120,"
        " kv_kb_per_token: 800, slo: {ttft_ms: 2000, tpot_ms: 200}}\n"
        "  - {name: small, kind: llm, params_b: 1.24, layers: 16, hidden: 2048,"
        " kv_kb_per_token: 32, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
        "  - {name: seg, kind: dnn, params_m: 27.5, gflops: 62, act_mb: 2, input_kb: 200,"
        " max_batch: 8, slo: {deadline_ms: 100}}\n"
        "workload:\n"
        "  - {trace: t-big, service: big, ingress: server,"
        " generate: {kind: poisson, rate: 0.5, duration_s: 120, seed: 1,"
        " sizes: \"lognormal:6,1,4,0.8\"}}\n"
        "  - {trace: t-small, service: small, ingress: server,"
        " generate: {kind: poisson, rate: 2, duration_s: 120, seed: 2,"
        " sizes: \"lognormal:6,1,4,0.8\"}}\n"
        "  - {trace: t-seg, service: seg, ingress: server,"
        " generate: {kind: poisson, rate: 20, duration_s: 120, seed: 3}}\n"
        "policy: {name: alpaserve}\n";

/* Four one-GPU nodes, two 15 GB DNN services of 20 ms per request: one replica fits per
 * GPU, and pipelining is out (200 MB activations over 10 GbE miss the deadline). */
static const char yaml_hc[] =
        "name: alpa-hc\n"
        "run: {seed: 1, warmup_s: 0, cooldown_s: 0, placement_period_s: 30}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: n, class: server, count: 4, cores: 32, mem_gb: 128, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: hot, kind: dnn, weights_gb: 15, gflops: 100, act_mb: 200, input_kb: 10,"
        " max_batch: 1, slo: {deadline_ms: 100}}\n"
        "  - {name: cold, kind: dnn, weights_gb: 15, gflops: 100, act_mb: 200, input_kb: 10,"
        " max_batch: 1, slo: {deadline_ms: 100}}\n"
        "profiles:\n"
        "  - {service: hot, device: gpu, batch: [1], latency_ms: [20]}\n"
        "  - {service: cold, device: gpu, batch: [1], latency_ms: [20]}\n"
        "workload:\n"
        "  - {trace: t-hot, service: hot, ingress: n,"
        " generate: {kind: poisson, rate: 100, duration_s: 60, seed: 1}}\n"
        "  - {trace: t-cold, service: cold, ingress: n,"
        " generate: {kind: poisson, rate: 10, duration_s: 60, seed: 2}}\n"
        "policy: {name: alpaserve, params: {ewma: 1}}\n";

/* Two one-GPU nodes and one 15 GB DNN service entering at the first node only: two equal
 * replicas, one local and one remote to the router. */
static const char yaml_bal[] =
        "name: alpa-bal\n"
        "run: {seed: 7, warmup_s: 0, cooldown_s: 0, placement_period_s: 30}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: n, class: server, count: 2, cores: 32, mem_gb: 128, devices: [gpu],"
        " link: {bw_gbps: 10, latency_ms: 0.1}}\n"
        "services:\n"
        "  - {name: seg, kind: dnn, weights_gb: 15, gflops: 100, act_mb: 200, input_kb: 10,"
        " max_batch: 1, slo: {deadline_ms: 200}}\n"
        "profiles:\n"
        "  - {service: seg, device: gpu, batch: [1], latency_ms: [10]}\n"
        "workload:\n"
        "  - {trace: t-seg, service: seg, ingress: n-1,"
        " generate: {kind: poisson, rate: 120, duration_s: 60, seed: 5}}\n"
        "policy: {name: alpaserve}\n";

/* Two servers of two 24 GB GPUs and three LLMs with fixed request sizes (600 in, 80 out):
 * with weights and reserves all three fit on one pair (14 + 4.2 + 2.2 GB of the 21.6 GB
 * usable per GPU), with the KV cache each needs only when their demand is low. */
static const char yaml_kv[] =
        "name: alpa-kv\n"
        "run: {seed: 2, warmup_s: 0, cooldown_s: 0, placement_period_s: 30}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: server, class: server, count: 2, cores: 32, mem_gb: 128,"
        " devices: [gpu, gpu], link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "services:\n"
        "  - {name: big, kind: llm, params_b: 13, layers: 40, hidden: 5120,"
        " kv_kb_per_token: 800, slo: {ttft_ms: 2000, tpot_ms: 200}}\n"
        "  - {name: mid, kind: llm, params_b: 3.21, layers: 28, hidden: 3072,"
        " kv_kb_per_token: 112, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
        "  - {name: small, kind: llm, params_b: 1.24, layers: 16, hidden: 2048,"
        " kv_kb_per_token: 32, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
        "workload:\n"
        "  - {trace: t-kbig, service: big, ingress: server, generate: {kind: poisson, rate: 1,"
        " duration_s: 120, seed: 1, sizes: \"fixed:600,80\"}}\n"
        "  - {trace: t-kmid, service: mid, ingress: server, generate: {kind: poisson, rate: 6,"
        " duration_s: 120, seed: 2, sizes: \"fixed:600,80\"}}\n"
        "  - {trace: t-ksmall, service: small, ingress: server, generate: {kind: poisson, rate: 4,"
        " duration_s: 120, seed: 3, sizes: \"fixed:600,80\"}}\n"
        "policy: {name: alpaserve}\n";

/* One server of two 24 GB GPUs, both busy with a chat LLM and a segmentation DNN, and a
 * rarely used image generator (23 s per request, 5 GB) whose replica slows down the services
 * it shares a GPU with more than its few requests gain in the simulated score: AlpaServe's
 * greedy with our stopping rule would leave it out, although memory allows it. */
static const char yaml_gen[] =
        "name: alpa-gen\n"
        "run: {seed: 1, warmup_s: 0, cooldown_s: 0, placement_period_s: 30}\n"
        "devices:\n"
        "  - {name: gpu, kind: gpu, mem_gb: 24, mem_bw_gbps: 1008, peak_tflops: 165}\n"
        "nodes:\n"
        "  - {name: server, class: server, count: 1, cores: 32, mem_gb: 128,"
        " devices: [gpu, gpu], link: {bw_gbps: 10, latency_ms: 0.1}, intra_gbps: 25}\n"
        "services:\n"
        "  - {name: chat, kind: llm, params_b: 3.21, layers: 28, hidden: 3072,"
        " kv_kb_per_token: 112, slo: {ttft_ms: 450, tpot_ms: 40}}\n"
        "  - {name: seg, kind: dnn, params_m: 27.5, gflops: 62, act_mb: 2, input_kb: 200,"
        " max_batch: 8, slo: {deadline_ms: 100}}\n"
        "  - {name: gen, kind: dnn, params_b: 1.07, gflops: 1500000, reserve_mb: 3000,"
        " input_kb: 1, max_batch: 4, slo: {deadline_ms: 120000}}\n"
        "workload:\n"
        "  - {trace: t-chat, service: chat, ingress: server,"
        " generate: {kind: poisson, rate: 20, duration_s: 60, seed: 1, sizes: \"fixed:600,80\"}}\n"
        "  - {trace: t-gseg, service: seg, ingress: server,"
        " generate: {kind: poisson, rate: 400, duration_s: 60, seed: 2}}\n"
        "  - {trace: t-gen, service: gen, ingress: server,"
        " generate: {kind: poisson, rate: 0.3, duration_s: 60, seed: 3}}\n"
        "policy: {name: alpaserve}\n";

/* --- a fake host ------------------------------------------------------------------------- */

typedef struct fake {
    ep_scenario sc;
    ep_category cat[8];
    ep_instance_view inst[256];
    int node_up[16], link_up[16];
    int64_t arrivals[8];
    double rate[8], mean_in[8], mean_out[8];
    ep_view view;
    ep_rng rng;
    ep_env env;
    void *state;
    ep_instance_spec specs[256];
    ep_placement p;
} fake;

static ep_dur
star_delay(const ep_view *v, int a, int b, int64_t bytes)
{
    if (a == b)
        return 0;
    const ep_link *x = &v->sc->links[v->sc->nodes[a].link];
    const ep_link *y = &v->sc->links[v->sc->nodes[b].link];
    return x->latency + y->latency +
           (ep_dur)((double)bytes / x->bw_bytes_per_s * 1e9 +
                    (double)bytes / y->bw_bytes_per_s * 1e9);
}

static void
no_timer(void *host, ep_dur after, uint64_t cookie)
{
    (void)host;
    (void)after;
    (void)cookie;
}

static void
fake_init(fake *f, const char *yaml, const double *rates)
{
    memset(f, 0, sizeof *f);
    ep_parse_error pe;
    if (ep_scenario_load_text(yaml, strlen(yaml), "alpa", ".", &f->sc, &pe))
        fail_msg("scenario: %ld: %s", pe.line, pe.msg);
    for (int i = 0; i < f->sc.nnodes; i++)
        f->node_up[i] = 1;
    for (int i = 0; i < f->sc.nlinks; i++)
        f->link_up[i] = 1;
    for (int s = 0; s < f->sc.nservices; s++) {
        f->rate[s] = rates[s];
        f->mean_in[s] = f->sc.services[s].kind == EP_SVC_LLM ? 600 : 10000;
        f->mean_out[s] = f->sc.services[s].kind == EP_SVC_LLM ? 80 : 1;
    }
    ep_view *v = &f->view;
    v->sc = &f->sc;
    v->cat = f->cat;
    v->inst = f->inst;
    v->node_up = f->node_up;
    v->link_up = f->link_up;
    v->delay = star_delay;
    v->arrivals = f->arrivals;
    v->rate = f->rate;
    v->mean_input = f->mean_in;
    v->mean_output = f->mean_out;
    v->placement_period = 30 * EP_NS_PER_S;
    v->sync_period = 500 * EP_NS_PER_MS;
    assert_int_equal(ep_rng_init(&f->rng, 1, EP_STREAM_POLICY), 0);
    f->env.rng = &f->rng;
    f->env.timer_arm = no_timer;
    f->state = calloc(1, OPS->state_size);
    assert_non_null(f->state);
    assert_int_equal(OPS->init(f->state, &f->env, v, f->sc.params, f->sc.nparams), 0);
    for (int s = 0; s < f->sc.nservices; s++)
        OPS->categorize(f->state, v, s, &f->cat[s]);
    f->p.inst = f->specs;
    f->p.cap = 256;
}

static void
fake_fini(fake *f)
{
    OPS->fini(f->state);
    free(f->state);
    ep_rng_fini(&f->rng);
    ep_scenario_fini(&f->sc);
}

/* KV-cache tokens the simulator gives LLM instance i of the view: what weights and reserves
 * leave on each of its devices, split evenly among the LLM instances there, times its device
 * count, the smallest over its devices (as node/place.c, share_kv). */
static int64_t
kv_share(const fake *f, int i)
{
    const ep_scenario *sc = &f->sc;
    const ep_instance_spec *sp = &f->inst[i].spec;
    double share = INFINITY;
    for (int k = 0; k < sp->ndev; k++) {
        int d = sp->devs[k], llms = 0;
        double left = ep_pol_usable_mem(sc, d);
        for (int j = 0; j < f->view.ninst; j++) {
            const ep_instance_spec *o = &f->inst[j].spec;
            for (int m = 0; m < o->ndev; m++)
                if (o->devs[m] == d) {
                    left -= (double)ep_cost_instance_mem(sc, o->service, o->ndev);
                    llms += sc->services[o->service].kind == EP_SVC_LLM;
                }
        }
        if (left / llms < share)
            share = left / llms;
    }
    double bpt = (double)sc->services[sp->service].kv_bytes_per_token;
    return share > 0 ? (int64_t)(share * sp->ndev / bpt) : 0;
}

/* Checks LLM instance i against the KV cache the simulator gives it (have tokens): it runs
 * at most the batch that cache holds with requests of the mean sizes and at most its SLO
 * batch alone (the batch ep_pol_capacity's throughput assumes), and at that batch within that
 * cache it carries its even share of the service's demand, or all it can at its SLO batch
 * (*need gets that rate, *cap what it carries). */
static void
check_llm(const fake *f, int i, int64_t have, double *need, double *cap)
{
    const ep_instance_spec *sp = &f->inst[i].spec;
    int s = sp->service, mb = sp->max_batch, slo_batch = 0, b = 0;
    double tokens = f->mean_in[s] + f->mean_out[s];
    if (mb < 1 || (double)mb * tokens > (double)have)
        fail_msg("instance %d (service %d): batch %d, but %lld KV tokens hold %.1f requests", i, s,
                 mb, (long long)have, (double)have / tokens);
    ep_instance_spec alone = *sp;
    alone.max_batch = 0;
    double slo_cap = ep_pol_capacity(&f->view, &alone, &slo_batch);
    assert_true(slo_cap > 0);
    assert_true(mb <= slo_batch);
    int n = 0;
    for (int j = 0; j < f->view.ninst; j++)
        n += f->inst[j].spec.service == s;
    *need = fmin(f->rate[s] / n, slo_cap);
    *cap = ep_pol_capacity_at(&f->view, sp, 1, have, 0, 0, &b, NULL);
    if (*cap < *need * (1 - 1e-9))
        fail_msg("instance %d (service %d): carries %.3f/s at batch %d, its share is %.3f/s", i, s,
                 *cap, mb, *need);
}

/* Runs place(); unless unchanged, checks every instance against memory (every LLM with its
 * batch within the KV cache the simulator gives it, carrying its share of the demand:
 * check_llm) and installs them all as ready and idle. Returns whether the placement
 * changed. */
static int
place(fake *f)
{
    f->p.n = 0;
    f->p.unchanged = 0;
    assert_int_equal(OPS->place(f->state, &f->env, &f->view, &f->p), 0);
    if (f->p.unchanged)
        return 0;
    double freem[64];
    for (int d = 0; d < f->sc.ndevices; d++)
        freem[d] = ep_pol_usable_mem(&f->sc, d);
    f->view.ninst = 0;
    for (int i = 0; i < f->p.n; i++) {
        const ep_instance_spec *sp = &f->p.inst[i];
        assert_true(sp->ndev >= 1 && sp->ndev <= EP_MAX_STAGE_DEVS);
        if (sp->mode == EP_MODE_SINGLE)
            assert_int_equal(sp->ndev, 1);
        if (sp->mode == EP_MODE_TP)
            for (int k = 1; k < sp->ndev; k++)
                assert_int_equal(f->sc.devices[sp->devs[k]].node, f->sc.devices[sp->devs[0]].node);
        assert_true(ep_pol_fits(&f->view, sp, freem));
        ep_pol_take(&f->view, sp, freem);
        ep_instance_view *iv = &f->inst[f->view.ninst];
        memset(iv, 0, sizeof *iv);
        iv->spec = *sp;
        iv->id = f->view.ninst;
        iv->node = f->sc.devices[sp->devs[0]].node;
        iv->ready = 1;
        iv->active = 1;
        iv->kv_free = -1;
        f->view.ninst++;
    }
    for (int i = 0; i < f->view.ninst; i++) {
        if (f->sc.services[f->inst[i].spec.service].kind != EP_SVC_LLM)
            continue;
        int64_t have = kv_share(f, i);
        double need, cap;
        check_llm(f, i, have, &need, &cap);
        f->inst[i].kv_free = have;
    }
    return 1;
}

static int
replicas(const fake *f, int svc)
{
    int n = 0;
    for (int i = 0; i < f->view.ninst; i++)
        n += f->inst[i].spec.service == svc;
    return n;
}

static ep_request_info
request(const fake *f, int svc, int at_node)
{
    const ep_service *s = &f->sc.services[svc];
    ep_request_info r = {
            .id = 1,
            .service = svc,
            .ingress = at_node,
            .at_node = at_node,
            .arrival = f->env.now,
            .deadline = f->env.now + (s->kind == EP_SVC_LLM ? s->slo.ttft : s->slo.deadline),
            .input = s->kind == EP_SVC_LLM ? 600 : 10000,
            .output = s->kind == EP_SVC_LLM ? 80 : 1,
            .bytes = 10000,
    };
    return r;
}

/* --- placement ---------------------------------------------------------------------------- */

static void
test_placement_fits_memory_and_gives_the_13b_model_a_parallel_group(void **state)
{
    (void)state;
    fake f;
    double rates[] = {0.5, 2, 20};
    fake_init(&f, yaml_mp, rates);
    assert_true(place(&f)); /* checks memory and modes */
    assert_true(f.cat[0].multi_device);
    int big = 0;
    for (int i = 0; i < f.view.ninst; i++) {
        const ep_instance_spec *sp = &f.inst[i].spec;
        if (sp->service != 0)
            continue;
        big++;
        assert_true(sp->ndev >= 2);
        assert_true(sp->mode == EP_MODE_TP || sp->mode == EP_MODE_PP);
    }
    assert_true(big >= 1);
    assert_true(replicas(&f, 1) >= 1);
    assert_true(replicas(&f, 2) >= 1);
    fake_fini(&f);
}

/* The SLO batch of LLM instance i alone (ep_pol_capacity with the service's max batch). */
static int
slo_batch(const fake *f, int i)
{
    ep_instance_spec sp = f->inst[i].spec;
    int b = 0;
    sp.max_batch = 0;
    assert_true(ep_pol_capacity(&f->view, &sp, &b) > 0);
    return b;
}

/* Whether instances i and j share a device. */
static int
share_a_device(const fake *f, int i, int j)
{
    for (int a = 0; a < f->inst[i].spec.ndev; a++)
        for (int b = 0; b < f->inst[j].spec.ndev; b++)
            if (f->inst[i].spec.devs[a] == f->inst[j].spec.devs[b])
                return 1;
    return 0;
}

static void
test_an_llm_reserves_the_kv_cache_of_the_batch_its_demand_needs(void **state)
{
    (void)state;
    fake f;
    /* At 5/s a replica of the big model needs a running batch of about 15 (4.2 GB of KV per
     * GPU of its pair, beside 14 GB of weights and reserve of the 21.6 GB usable; at 3/s it
     * needs 9, and the small model fits beside it): neither other LLM fits beside it (the
     * small one needs 3.5 GB with its reserve), so it gets a pair to itself and runs the SLO
     * batch the whole pair holds (27). */
    double hot[] = {8, 6, 4};
    fake_init(&f, yaml_kv, hot);
    assert_true(place(&f)); /* asserts every LLM's batch within its KV share, carrying its share */
    assert_int_equal(replicas(&f, 0), 1);
    for (int i = 0; i < f.view.ninst; i++) {
        if (f.inst[i].spec.service != 0)
            continue;
        assert_int_equal(f.inst[i].spec.ndev, 2);
        assert_int_equal(f.inst[i].spec.max_batch, slo_batch(&f, i));
        for (int j = 0; j < f.view.ninst; j++)
            if (j != i)
                assert_false(share_a_device(&f, i, j));
    }
    assert_true(replicas(&f, 1) >= 1);
    assert_true(replicas(&f, 2) >= 1);
    fake_fini(&f);
    /* At 0.2/s a replica of the big model needs the cache of a batch of one (0.27 GB per
     * GPU): a GPU pair holds it beside both other LLMs (weights and reserves 14 + 4.2 + 2.2 GB
     * per GPU) with the cache each needs; the big model's SLO batch's (7.5 GB per GPU) would
     * leave no room for them. */
    double cold[] = {0.2, 1, 1};
    fake_init(&f, yaml_kv, cold);
    assert_true(place(&f));
    int shared = 0;
    for (int i = 0; i < f.view.ninst; i++) {
        if (f.inst[i].spec.service != 0)
            continue;
        assert_true(f.inst[i].spec.max_batch < slo_batch(&f, i));
        int with = 0;
        for (int j = 0; j < f.view.ninst; j++)
            if (f.inst[j].spec.service != 0 && share_a_device(&f, i, j))
                with |= 1 << f.inst[j].spec.service;
        shared |= with == 6;
    }
    assert_true(shared);
    fake_fini(&f);
    /* Requests twice as long: the same cache holds half the batch, and every LLM still gets
     * the cache of the batch its share needs. */
    double mid[] = {1, 6, 4};
    fake_init(&f, yaml_kv, mid);
    for (int s = 0; s < 3; s++) {
        f.mean_in[s] = 1200;
        f.mean_out[s] = 160;
    }
    assert_true(place(&f));
    assert_true(replicas(&f, 0) >= 1);
    fake_fini(&f);
}

static void
test_after_a_demand_rise_every_llm_replica_still_carries_its_share(void **state)
{
    (void)state;
    fake f;
    double cold[] = {0.2, 1, 1};
    fake_init(&f, yaml_kv, cold);
    f.view.oracle_rate = f.rate; /* the policy plans for exactly these rates */
    assert_true(place(&f));
    /* Fifteen times the demand: the search reruns and moves replicas; those that stay on
     * their group keep their batch only if it carries their new share (place() checks). */
    f.rate[0] = 3;
    f.rate[1] = 6;
    f.rate[2] = 4;
    f.env.now = 30 * EP_NS_PER_S;
    assert_true(place(&f));
    assert_int_equal(replicas(&f, 0), 1);
    fake_fini(&f);
}

static void
test_every_service_gets_a_replica_when_memory_allows(void **state)
{
    (void)state;
    fake f;
    double rates[] = {20, 400, 0.3};
    fake_init(&f, yaml_gen, rates);
    assert_true(place(&f));
    assert_true(replicas(&f, 0) >= 1);
    assert_true(replicas(&f, 1) >= 1);
    assert_true(replicas(&f, 2) >= 1); /* the generator, although it lowers the score */
    /* A service nobody asks for (no sampled request) is placed too. */
    fake g;
    double none[] = {20, 400, 0};
    fake_init(&g, yaml_gen, none);
    assert_true(place(&g));
    assert_true(replicas(&g, 2) >= 1);
    fake_fini(&g);
    fake_fini(&f);
}

static void
test_hot_service_gets_more_replicas_than_a_cold_one(void **state)
{
    (void)state;
    fake f;
    double rates[] = {100, 10};
    fake_init(&f, yaml_hc, rates);
    assert_true(place(&f));
    for (int i = 0; i < f.view.ninst; i++)
        assert_int_equal(f.inst[i].spec.mode, EP_MODE_SINGLE); /* PP misses the deadline */
    assert_true(replicas(&f, 0) >= 3);
    assert_true(replicas(&f, 1) >= 1);
    assert_true(replicas(&f, 0) > replicas(&f, 1));
    fake_fini(&f);
}

static void
test_replacement_follows_a_demand_shift_and_keeps_a_stable_placement(void **state)
{
    (void)state;
    fake f;
    double rates[] = {100, 10};
    fake_init(&f, yaml_hc, rates);
    assert_true(place(&f));
    /* Same demand a period later: no search, no change. */
    f.env.now = 30 * EP_NS_PER_S;
    assert_false(place(&f));
    /* The demand swaps: the cold service becomes the hot one (ewma: 1 in the scenario). */
    f.rate[0] = 10;
    f.rate[1] = 100;
    f.env.now = 60 * EP_NS_PER_S;
    assert_true(place(&f));
    assert_true(replicas(&f, 1) > replicas(&f, 0));
    assert_true(replicas(&f, 0) >= 1);
    fake_fini(&f);
}

/* --- parameters ---------------------------------------------------------------------------- */

/* Runs init on yaml_gen with one parameter key=value; returns its result. */
static int
init_with(const char *key, const char *value)
{
    ep_scenario sc;
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml_gen, strlen(yaml_gen), "alpa", ".", &sc, &pe), 0);
    ep_param p;
    memset(&p, 0, sizeof p);
    snprintf(p.key, sizeof p.key, "%s", key);
    snprintf(p.value, sizeof p.value, "%s", value);
    ep_view v;
    memset(&v, 0, sizeof v);
    v.sc = &sc;
    ep_env env;
    memset(&env, 0, sizeof env);
    void *state = calloc(1, OPS->state_size);
    assert_non_null(state);
    int rc = OPS->init(state, &env, &v, &p, 1);
    if (rc == 0)
        OPS->fini(state);
    free(state);
    ep_scenario_fini(&sc);
    return rc;
}

static void
test_parameters_are_declared_and_init_refuses_others(void **state)
{
    (void)state;
    const ep_param_decl *d = OPS->params;
    assert_non_null(d);
    static const char *const keys[] = {"horizon_s",      "samples",       "max_per_service",
                                       "cv.gen",         "ewma",          "drift",
                                       "replan_gain",    "admission",     "fallback",
                                       "max_partitions", "link_admission"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_non_null(ep_param_decl_find(d, keys[i]));
    assert_int_equal(ep_param_decl_find(d, "admission")->integer, 1);
    assert_true(ep_param_decl_find(d, "link_admission")->integer);
    assert_true(ep_param_decl_find(d, "link_admission")->dflt == 0); /* AlpaServe as published */
    assert_int_equal(init_with("cv.gen", "4"), 0);
    assert_int_equal(init_with("admission", "0"), 0);
    assert_int_equal(init_with("link_admission", "1"), 0);
    assert_int_equal(init_with("link_admission", "2"), EP_EINVAL);
    assert_int_equal(init_with("cv.nosuch", "4"), EP_EINVAL);
    assert_int_equal(init_with("admission", "2"), EP_EINVAL);
    assert_int_equal(init_with("max_partitions", "2.5"), EP_EINVAL);
    assert_int_equal(init_with("ewma", "0"), EP_EINVAL);
    assert_int_equal(init_with("beam", "3"), EP_EINVAL);
}

/* --- routing and batching ------------------------------------------------------------------ */

static void
test_route_picks_the_shortest_queue_and_rejects_without_instance(void **state)
{
    (void)state;
    fake f;
    double rates[] = {100, 10};
    fake_init(&f, yaml_hc, rates);
    assert_true(place(&f));
    int a = -1, b = -1;
    for (int i = 0; i < f.view.ninst; i++) {
        if (f.inst[i].spec.service != 0)
            continue;
        if (a < 0)
            a = i;
        else if (b < 0)
            b = i;
    }
    assert_true(a >= 0 && b >= 0);
    /* Both instances seen live (the router on each one's node would; here we route from the
     * node of a with b's numbers fresh: synced now). */
    f.env.now = EP_NS_PER_S;
    f.inst[a].synced_at = f.inst[b].synced_at = f.env.now;
    f.inst[a].queued = 3;
    f.inst[a].backlog = 3 * 20 * EP_NS_PER_MS;
    f.inst[b].queued = 1;
    f.inst[b].backlog = 20 * EP_NS_PER_MS;
    for (int i = 0; i < f.view.ninst; i++) {
        if (i == a || i == b || f.inst[i].spec.service != 0)
            continue;
        f.inst[i].synced_at = f.env.now;
        f.inst[i].queued = 5;
        f.inst[i].backlog = 5 * 20 * EP_NS_PER_MS;
    }
    ep_request_info r = request(&f, 0, f.inst[a].node);
    ep_route out;
    OPS->route(f.state, &f.env, &f.view, &r, &out);
    assert_int_equal(out.kind, EP_ROUTE_DISPATCH);
    assert_int_equal(out.instance, b);
    /* No ready instance: rejected with a reason. */
    for (int i = 0; i < f.view.ninst; i++)
        f.inst[i].ready = 0;
    OPS->route(f.state, &f.env, &f.view, &r, &out);
    assert_int_equal(out.kind, EP_ROUTE_REJECT);
    assert_non_null(out.reason);
    fake_fini(&f);
}

static void
test_route_counts_requests_sent_to_remote_instances_since_the_sync(void **state)
{
    (void)state;
    fake f;
    double rates[] = {100, 10};
    fake_init(&f, yaml_hc, rates);
    assert_true(place(&f));
    /* Route from a node holding no replica of `hot`, so every replica is remote, all seen
     * idle at the last sync: successive requests spread over the replicas instead of all
     * going to the first one. */
    int from = -1;
    for (int n = 0; n < f.sc.nnodes && from < 0; n++) {
        int has = 0;
        for (int i = 0; i < f.view.ninst; i++)
            has |= f.inst[i].node == n && f.inst[i].spec.service == 0;
        if (!has)
            from = n;
    }
    assert_true(from >= 0);
    int nrep = replicas(&f, 0), hits[256] = {0};
    f.env.now = EP_NS_PER_S;
    /* Central dispatch: a request entering a node goes once to the dispatcher node (the
     * node with the most compute), which routes it again with hops 1. */
    int disp = -1;
    double most = -1;
    for (int n = 0; n < f.sc.nnodes; n++) {
        double fl = 0;
        for (int d = f.sc.nodes[n].dev0; d < f.sc.nodes[n].dev0 + f.sc.nodes[n].ndev; d++)
            fl += f.sc.specs[f.sc.devices[d].spec].peak_flops;
        if (fl > most) {
            most = fl;
            disp = n;
        }
    }
    ep_request_info r0 = request(&f, 0, from);
    ep_route fw;
    OPS->route(f.state, &f.env, &f.view, &r0, &fw);
    assert_int_not_equal(from, disp);
    assert_int_equal(fw.kind, EP_ROUTE_FORWARD);
    assert_int_equal(fw.node, disp);
    for (int k = 0; k < nrep; k++) {
        ep_request_info r = request(&f, 0, from);
        r.hops = 1; /* as the dispatcher routes it */
        ep_route out;
        OPS->route(f.state, &f.env, &f.view, &r, &out);
        assert_int_equal(out.kind, EP_ROUTE_DISPATCH);
        hits[out.instance]++;
    }
    for (int i = 0; i < f.view.ninst; i++)
        if (f.inst[i].spec.service == 0)
            assert_int_equal(hits[i], 1);
    fake_fini(&f);
}

static void
test_route_rejects_a_request_that_would_miss_its_deadline(void **state)
{
    (void)state;
    fake f;
    double rates[] = {100, 10};
    fake_init(&f, yaml_hc, rates);
    assert_true(place(&f));
    f.env.now = EP_NS_PER_S;
    for (int i = 0; i < f.view.ninst; i++) {
        f.inst[i].synced_at = f.env.now;
        f.inst[i].queued = 50;
        f.inst[i].backlog = 50 * 20 * EP_NS_PER_MS; /* 1 s of work: the deadline is 100 ms */
    }
    ep_request_info r = request(&f, 1, 0);
    ep_route out;
    OPS->route(f.state, &f.env, &f.view, &r, &out);
    assert_int_equal(out.kind, EP_ROUTE_REJECT);
    assert_non_null(strstr(out.reason, "SLO"));
    /* With room again (a later snapshot) it dispatches. */
    f.env.now += EP_NS_PER_MS;
    r.deadline += EP_NS_PER_MS;
    for (int i = 0; i < f.view.ninst; i++) {
        f.inst[i].synced_at = f.env.now;
        f.inst[i].queued = 0;
        f.inst[i].backlog = 0;
    }
    OPS->route(f.state, &f.env, &f.view, &r, &out);
    assert_int_equal(out.kind, EP_ROUTE_DISPATCH);
    fake_fini(&f);
}

static void
test_batches_meet_the_deadlines_of_their_requests(void **state)
{
    (void)state;
    fake f;
    double rates[] = {0.5, 2, 20};
    fake_init(&f, yaml_mp, rates);
    assert_true(place(&f));
    int seg = -1;
    for (int i = 0; i < f.view.ninst && seg < 0; i++)
        if (f.inst[i].spec.service == 2)
            seg = i;
    assert_true(seg >= 0);
    const ep_instance_spec *sp = &f.inst[seg].spec;
    f.env.now = 10 * EP_NS_PER_S;
    ep_dur t1 = ep_pol_dnn_batch(&f.view, sp, 1, NULL);
    ep_dur t4 = ep_pol_dnn_batch(&f.view, sp, 4, NULL);
    ep_dur t5 = ep_pol_dnn_batch(&f.view, sp, 5, NULL);
    assert_true(t4 < t5);
    /* Eight queued requests; the fifth's deadline only allows a batch of four. */
    ep_time dl[8], arr[8];
    for (int k = 0; k < 8; k++) {
        arr[k] = f.env.now;
        dl[k] = f.env.now + 100 * EP_NS_PER_MS;
    }
    dl[4] = f.env.now + (t4 + t5) / 2;
    ep_queue_view q = {8, dl, arr};
    int drop = 0;
    assert_int_equal(OPS->pick_batch(f.state, &f.env, &f.view, seg, &q, &drop), 4);
    assert_true(drop); /* expired requests are dropped (AlpaServe drops what cannot finish) */
    /* A head request already past its deadline is not counted; one that cannot make it
     * even alone does not constrain the batch. */
    dl[0] = f.env.now - 1;
    dl[1] = f.env.now + t1 / 2;
    dl[4] = f.env.now + 100 * EP_NS_PER_MS;
    int b = OPS->pick_batch(f.state, &f.env, &f.view, seg, &q, &drop);
    assert_int_equal(b, 7);
    fake_fini(&f);
}

/* --- in the simulator ---------------------------------------------------------------------- */

typedef struct recs {
    int64_t n, dup, per_inst[64], met, kv_rejected;
    uint64_t *ids;
    int64_t cap;
} recs;

static void
on_record(void *ctx, const ep_record *r)
{
    recs *c = ctx;
    if (r->id < (uint64_t)c->cap) {
        c->dup += c->ids[r->id] != 0;
        c->ids[r->id] = 1;
    }
    c->n++;
    c->met += r->slo_met;
    c->kv_rejected += r->reason && strstr(r->reason, "KV") != NULL;
    if (r->outcome == EP_OUT_COMPLETED && r->instance >= 0 && r->instance < 64)
        c->per_inst[r->instance]++;
}

static int64_t
run_sim(const char *yaml, const char *tag, recs *c, ep_run_result *res)
{
    char db[64];
    snprintf(db, sizeof db, "test_alpa_%s_%ld.db", tag, (long)getpid());
    remove(db);
    ep_store *st;
    assert_int_equal(ep_store_open(db, 0, &st, NULL, 0), 0);
    ep_scenario sc;
    ep_parse_error pe;
    assert_int_equal(ep_scenario_load_text(yaml, strlen(yaml), tag, ".", &sc, &pe), 0);
    char err[256];
    assert_int_equal(ep_scenario_prepare_traces(&sc, st, NULL, NULL, err, sizeof err), 0);
    int64_t arrivals = rc_arrivals(st, &sc, 1, 0);
    assert_true(arrivals > 0);
    memset(c, 0, sizeof *c);
    c->cap = 4 * arrivals + 16;
    c->ids = calloc((size_t)c->cap, sizeof *c->ids);
    assert_non_null(c->ids);
    ep_run_opts o;
    memset(&o, 0, sizeof o);
    o.policy = "alpaserve";
    o.traces = st;
    o.on_record = on_record;
    o.ctx = c;
    if (ep_sim_run(&sc, &o, res, err, sizeof err))
        fail_msg("ep_sim_run: %s", err);
    free(c->ids);
    c->ids = NULL;
    ep_scenario_fini(&sc);
    ep_store_close(st);
    remove(db);
    return arrivals;
}

static void
test_in_the_simulator_every_request_gets_one_record_and_the_big_model_serves(void **state)
{
    (void)state;
    recs c;
    ep_run_result r1, r2;
    int64_t arrivals = run_sim(yaml_mp, "mp", &c, &r1);
    assert_int_equal(c.n, arrivals);
    assert_int_equal(c.dup, 0);
    assert_int_equal(r1.requests, r1.completed + r1.rejected + r1.dropped + r1.unfinished);
    assert_int_equal(r1.placements_refused, 0);
    assert_true(r1.svc[0].slo_met > 0); /* the 13B model runs on a TP/PP group */
    assert_true(r1.slo_attainment > 0.5);
    /* Determinism: the same seed gives the same event hash and outcomes. */
    recs c2;
    run_sim(yaml_mp, "mp2", &c2, &r2);
    assert_int_equal(r1.event_hash, r2.event_hash);
    assert_int_equal(r1.slo_met, r2.slo_met);
    ep_run_result_fini(&r1);
    ep_run_result_fini(&r2);
}

static void
test_in_the_simulator_two_equal_replicas_share_the_load(void **state)
{
    (void)state;
    recs c;
    ep_run_result r;
    int64_t arrivals = run_sim(yaml_bal, "bal", &c, &r);
    assert_int_equal(c.n, arrivals);
    assert_int_equal(r.instances, 2);
    int64_t a = c.per_inst[0], b = c.per_inst[1];
    print_message("split %lld / %lld of %lld\n", (long long)a, (long long)b, (long long)arrivals);
    assert_true(a + b > arrivals * 9 / 10);
    /* Within 10 points of an even split, although one replica is local to the router (live
     * queue) and the other seen through 500 ms syncs (ties go to the local one). */
    assert_true(a * 10 >= (a + b) * 4 && b * 10 >= (a + b) * 4);
    assert_true(r.slo_attainment > 0.95);
    ep_run_result_fini(&r);
}

static void
test_in_the_simulator_llm_instances_never_run_out_of_kv_cache(void **state)
{
    (void)state;
    recs c;
    ep_run_result r;
    int64_t arrivals = run_sim(yaml_kv, "kv", &c, &r);
    assert_int_equal(c.n, arrivals);
    /* Every request is 680 tokens and every LLM runs at most its SLO batch, whose cache it
     * has: none is refused for KV capacity and none is preempted to free cache. */
    assert_int_equal(c.kv_rejected, 0);
    assert_int_equal(r.preemptions, 0);
    assert_int_equal(r.placements_refused, 0);
    for (int s = 0; s < 3; s++) {
        print_message("service %d: %lld of %lld met\n", s, (long long)r.svc[s].slo_met,
                      (long long)r.svc[s].requests);
        assert_true(r.svc[s].slo_met > r.svc[s].requests / 2);
    }
    ep_run_result_fini(&r);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_placement_fits_memory_and_gives_the_13b_model_a_parallel_group),
            cmocka_unit_test(test_an_llm_reserves_the_kv_cache_of_the_batch_its_demand_needs),
            cmocka_unit_test(test_after_a_demand_rise_every_llm_replica_still_carries_its_share),
            cmocka_unit_test(test_every_service_gets_a_replica_when_memory_allows),
            cmocka_unit_test(test_hot_service_gets_more_replicas_than_a_cold_one),
            cmocka_unit_test(test_parameters_are_declared_and_init_refuses_others),
            cmocka_unit_test(test_replacement_follows_a_demand_shift_and_keeps_a_stable_placement),
            cmocka_unit_test(test_route_picks_the_shortest_queue_and_rejects_without_instance),
            cmocka_unit_test(test_route_counts_requests_sent_to_remote_instances_since_the_sync),
            cmocka_unit_test(test_route_rejects_a_request_that_would_miss_its_deadline),
            cmocka_unit_test(test_batches_meet_the_deadlines_of_their_requests),
            cmocka_unit_test(
                    test_in_the_simulator_every_request_gets_one_record_and_the_big_model_serves),
            cmocka_unit_test(test_in_the_simulator_two_equal_replicas_share_the_load),
            cmocka_unit_test(test_in_the_simulator_llm_instances_never_run_out_of_kv_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
