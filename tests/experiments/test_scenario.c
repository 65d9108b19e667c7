/* Scenario loader: the embedded default scenario loads into the expected cluster, services
 * and workload; every kind of bad input gives EP_EPARSE with the right line and a field
 * path; ${VAR} expansion, count expansion and ingress expansion work; nothing leaks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "epara/core/error.h"
#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"

#define DEFAULT_YAML EP_SOURCE_DIR "/experiments/scenarios/edge-default.yaml"

/* A small valid cluster the error cases build on (lines 1-6). */
#define CLUSTER                                                                       \
    "name: t\n"                                                                       \
    "devices:\n"                                                                      \
    "  - {name: g, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"     \
    "  - {name: c, kind: cpu, mem_gb: 8, mem_bw_gbps: 17, peak_tflops: 0.15}\n"       \
    "nodes:\n"                                                                        \
    "  - {name: n, class: server, count: 3, cores: 8, mem_gb: 64, devices: [g, g],\n" \
    "     link: {bw_gbps: 10, latency_ms: 0.5}}\n"                                    \
    "  - {name: pi, class: micro, cores: 4, mem_gb: 8, devices: [c],\n"               \
    "     link: {bw_gbps: 0.1, latency_ms: 3, loss: 0.01}}\n"
/* Line 10 onwards. */
#define SERVICES                             \
    "services:\n"                            \
    "  - name: chat\n"                       \
    "    kind: llm\n"                        \
    "    params_b: 1.24\n"                   \
    "    layers: 16\n"                       \
    "    hidden: 2048\n"                     \
    "    kv_kb_per_token: 32\n"              \
    "    slo: {ttft_ms: 450, tpot_ms: 40}\n" \
    "  - name: seg\n"                        \
    "    kind: dnn\n"                        \
    "    params_m: 3.8\n"                    \
    "    gflops: 8.4\n"                      \
    "    slo: {fps: 30}\n"
/* Line 23 onwards. */

static ep_scenario
load_ok(const char *yaml, const char *base)
{
    ep_scenario sc;
    ep_parse_error err;
    int rc = ep_scenario_load_text(yaml, strlen(yaml), "test", base, &sc, &err);
    if (rc)
        fprintf(stderr, "unexpected error %d at line %ld: %s\n", rc, err.line, err.msg);
    assert_int_equal(rc, 0);
    return sc;
}

/* Loads yaml, expecting EP_EPARSE at `line` with `part` in the message, and *out untouched. */
static void
expect_error(const char *yaml, long line, const char *part)
{
    ep_scenario sc;
    memset(&sc, 0xA5, sizeof sc);
    ep_parse_error err;
    int rc = ep_scenario_load_text(yaml, strlen(yaml), "test", ".", &sc, &err);
    if (rc != EP_EPARSE || err.line != line || !strstr(err.msg, part))
        fprintf(stderr, "got rc %d line %ld msg '%s'; wanted line %ld and '%s'\n", rc, err.line,
                err.msg, line, part);
    assert_int_equal(rc, EP_EPARSE);
    assert_int_equal(err.line, line);
    assert_non_null(strstr(err.msg, part));
    const unsigned char *b = (const unsigned char *)&sc;
    for (size_t i = 0; i < sizeof sc; i++)
        assert_int_equal(b[i], 0xA5);
}

static void
test_default_scenario_builds_the_edge_cluster(void **state)
{
    (void)state;
    size_t len;
    const char *text = ep_scenario_default_text(&len);
    assert_int_equal(strlen(text), len);
    ep_scenario sc;
    ep_parse_error err;
    assert_int_equal(ep_scenario_load_text(text, len, "edge-default", ".", &sc, &err), 0);
    assert_string_equal(sc.name, "edge-default");
    assert_string_equal(sc.path, "edge-default");
    assert_memory_equal(sc.text, text, len + 1);

    assert_int_equal(sc.nspecs, 3);
    assert_int_equal(sc.nnodes, 10);
    assert_int_equal(sc.nlinks, 10);
    assert_int_equal(sc.ndevices, 2 * 2 + 4 + 4);
    const ep_device_spec *gpu = &sc.specs[ep_scenario_find_spec(&sc, "rtx4090")];
    assert_int_equal(gpu->kind, EP_DEV_GPU);
    assert_int_equal(gpu->mem_bytes, INT64_C(24000000000));
    assert_true(gpu->mem_bw_bytes_per_s == 1008e9);
    assert_true(gpu->peak_flops == 165e12);
    /* Calibrated: memory constants set (docs/calibration.md), the others the defaults. */
    assert_true(gpu->mem_eff == 0.86 && gpu->kv_eff == 0.72 && gpu->mem_util == 0.9);
    assert_true(
            gpu->compute_eff == EP_DEFAULT_COMPUTE_EFF && gpu->attn_eff == EP_DEFAULT_ATTN_EFF &&
            gpu->attn_half_tokens == EP_DEFAULT_ATTN_HALF_TOKENS &&
            gpu->kv_half_batch == EP_DEFAULT_KV_HALF_BATCH && gpu->dnn_eff == EP_DEFAULT_DNN_EFF);
    assert_int_equal(gpu->kernel_floor, EP_DEFAULT_KERNEL_FLOOR_NS);
    assert_int_equal(gpu->batch_overhead, 200 * EP_NS_PER_US);
    assert_int_equal(sc.specs[ep_scenario_find_spec(&sc, "rpi5")].kind, EP_DEV_CPU);

    const char *names[] = {"server-1", "server-2", "jetson-1", "jetson-2", "jetson-3",
                           "jetson-4", "rpi-1",    "rpi-2",    "rpi-3",    "rpi-4"};
    for (int i = 0; i < 10; i++) {
        assert_string_equal(sc.nodes[i].name, names[i]);
        assert_string_equal(sc.links[i].name, names[i]);
        assert_int_equal(sc.nodes[i].link, i);
    }
    const ep_node *s2 = &sc.nodes[1];
    assert_int_equal(s2->cls, EP_NODE_SERVER);
    assert_int_equal(s2->dev0, 2);
    assert_int_equal(s2->ndev, 2);
    assert_int_equal(sc.devices[2].node, 1);
    assert_int_equal(sc.devices[3].spec, ep_scenario_find_spec(&sc, "rtx4090"));
    assert_true(s2->intra_bw_bytes_per_s == 25e9);
    const ep_node *j1 = &sc.nodes[2];
    assert_int_equal(j1->cls, EP_NODE_EMBEDDED);
    assert_int_equal(j1->dev0, 4);
    assert_int_equal(j1->ndev, 1);
    assert_true(j1->intra_bw_bytes_per_s == 0);
    assert_int_equal(sc.nodes[9].dev0, 11);
    assert_int_equal(sc.nodes[9].cls, EP_NODE_MICRO);

    /* Gbit/s to bytes/s: 10 GbE, 1 GbE, 100 Mbit/s Wi-Fi. */
    assert_true(sc.links[0].bw_bytes_per_s == 1.25e9);
    assert_true(sc.links[2].bw_bytes_per_s == 1.25e8);
    assert_true(sc.links[9].bw_bytes_per_s == 1.25e7);
    assert_int_equal(sc.links[9].latency, 3 * EP_NS_PER_MS);
    assert_true(sc.links[9].loss == 0.001);
    assert_true(sc.links[0].loss == 0);

    assert_int_equal(sc.run.duration, 3600 * EP_NS_PER_S);
    assert_int_equal(sc.run.warmup, 60 * EP_NS_PER_S);
    assert_int_equal(sc.run.sync_period, 500 * EP_NS_PER_MS);
    assert_int_equal(sc.run.placement_period, 30 * EP_NS_PER_S);
    assert_string_equal(sc.run.trace_db, "epara-traces.db");
    assert_string_equal(sc.policy, "static");
    assert_true(sc.mt_slowdown[0] == 1.0 && sc.mt_slowdown[3] == 5.891);
    assert_true(sc.mt_slowdown[4] == 0);
    ep_scenario_fini(&sc);
}

static void
test_default_scenario_maps_services_and_workload(void **state)
{
    (void)state;
    size_t len;
    const char *text = ep_scenario_default_text(&len);
    ep_scenario sc;
    ep_parse_error err;
    assert_int_equal(ep_scenario_load_text(text, len, NULL, NULL, &sc, &err), 0);
    assert_string_equal(sc.path, "<text>");
    assert_int_equal(sc.nservices, 7);
    const ep_service *l13 = &sc.services[ep_scenario_find_service(&sc, "llama-13b")];
    assert_int_equal(l13->kind, EP_SVC_LLM);
    assert_int_equal(l13->weights_bytes, INT64_C(26000000000));
    assert_int_equal(l13->kv_bytes_per_token, 800 * 1024);
    assert_int_equal(l13->layers, 40);
    assert_int_equal(l13->hidden, 5120);
    assert_int_equal(l13->vocab, 32000);
    assert_false(l13->tied_embeddings);
    assert_true(sc.services[ep_scenario_find_service(&sc, "llama-1b")].tied_embeddings);
    assert_int_equal(l13->slo.ttft, 2 * EP_NS_PER_S);
    assert_int_equal(l13->slo.tpot, 200 * EP_NS_PER_MS);
    assert_int_equal(l13->max_batch, 256);
    assert_int_equal(l13->act_bytes_reserve, INT64_C(1000000000));
    assert_int_equal(l13->bytes_per_token, 4);
    const ep_service *vs = &sc.services[ep_scenario_find_service(&sc, "video-seg")];
    assert_int_equal(vs->kind, EP_SVC_DNN);
    assert_true(vs->slo.fps == 30);
    assert_int_equal(vs->slo.frame_deadline, 66666667);
    assert_int_equal(vs->sensitivity, EP_SENS_FREQUENCY);
    assert_true(vs->flops_per_item == 8.4e9);
    assert_int_equal(vs->weights_bytes, 7600000);
    assert_int_equal(vs->act_bytes_reserve, vs->act_bytes_per_item * 32);
    const ep_service *sd = &sc.services[ep_scenario_find_service(&sc, "sd-gen")];
    assert_int_equal(sd->use_trace_exec, 1);
    assert_int_equal(sd->slo.deadline, 120 * EP_NS_PER_S);
    assert_int_equal(sc.services[ep_scenario_find_service(&sc, "llama-8b")].use_trace_exec, 0);

    assert_int_equal(sc.nworkloads, 7);
    const ep_workload *code = &sc.workloads[0];
    assert_string_equal(code->trace, "azure-code");
    assert_int_equal(code->service, ep_scenario_find_service(&sc, "llama-8b"));
    /* [server, jetson] expands to both servers and all four Jetsons. */
    assert_int_equal(code->ningress, 6);
    for (int i = 0; i < 6; i++)
        assert_int_equal(code->ingress[i], i);
    assert_true(code->origin->has_import && code->origin->has_gen);
    assert_int_equal(code->origin->import_format, EP_FMT_AZURE_LLM);
    const char *tail = "/traces/AzureLLMInferenceTrace_code.csv";
    size_t fl = strlen(code->origin->import_file);
    assert_true(fl > strlen(tail));
    assert_string_equal(code->origin->import_file + fl - strlen(tail), tail);
    assert_int_equal(code->origin->gen.kind, EP_GEN_GAMMA);
    assert_true(code->origin->gen.rate_per_s == 2.57 && code->origin->gen.cv == 13.2);
    assert_int_equal(code->origin->gen.duration, 3435 * EP_NS_PER_S);
    assert_int_equal(code->origin->gen.sizes, EP_SIZES_LOGNORMAL);
    assert_true(code->origin->gen.in_mu == 7.292 && code->origin->gen.out_sigma == 1.273);
    /* clipped at the real trace's maxima, so the tails match (traces/README.md) */
    assert_int_equal(code->origin->gen.in_max, 7437);
    assert_int_equal(code->origin->gen.out_max, 1899);

    /* The conv trace's source, given once, is copied to its other two workloads. */
    const ep_workload *w1b = &sc.workloads[2];
    assert_string_equal(w1b->trace, "azure-conv");
    assert_int_equal(w1b->service, ep_scenario_find_service(&sc, "llama-1b"));
    assert_true(w1b->rate_scale == 0.5);
    assert_int_equal(w1b->ningress, 4);
    assert_int_equal(w1b->ingress[0], 2);
    assert_true(w1b->origin->has_import && w1b->origin->has_gen);
    assert_string_equal(w1b->origin->import_file, sc.workloads[1].origin->import_file);
    assert_int_equal(w1b->origin->gen.seed, 2);
    assert_int_equal(sc.workloads[3].ningress, 2);

    const ep_workload *gen = &sc.workloads[4];
    assert_string_equal(gen->trace, "gentd26");
    assert_int_equal(gen->origin->import_format, EP_FMT_ALIBABA_GENTD);
    assert_true(gen->rate_scale == 24);
    assert_true(gen->origin->has_gen && gen->origin->gen.cv == 5.9 && gen->origin->gen.seed == 11);
    assert_int_equal(gen->origin->gen.in_max, 1288);
    assert_int_equal(gen->origin->gen.out_max, 8);
    const ep_workload *cams = &sc.workloads[5];
    assert_int_equal(cams->origin->gen.kind, EP_GEN_VIDEO);
    assert_int_equal(cams->origin->gen.cameras, 8);
    assert_true(cams->origin->gen.mean_on_s == 120 && cams->origin->gen.mean_off_s == 30);
    assert_int_equal(cams->origin->gen.sizes, EP_SIZES_FIXED);
    assert_int_equal(cams->origin->gen.fixed_input, 50000);
    assert_int_equal(cams->ningress, 8);
    assert_int_equal(cams->ingress[0], 6); /* rpi-1 first, as listed */
    assert_false(cams->origin->has_import);
    const ep_workload *seg = &sc.workloads[6];
    assert_int_equal(seg->origin->gen.kind, EP_GEN_POISSON);
    assert_int_equal(seg->origin->gen.duration, 3600 * EP_NS_PER_S); /* run.duration_s */
    assert_int_equal(seg->origin->gen.fixed_input, 200000);
    assert_int_equal(seg->origin->gen.fixed_output, 0);
    assert_int_equal(seg->ningress, 4);
    ep_scenario_fini(&sc);
}

static void
test_default_text_is_the_shipped_file_and_paths_resolve_against_it(void **state)
{
    (void)state;
    FILE *f = fopen(DEFAULT_YAML, "rb");
    assert_non_null(f);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    size_t len;
    const char *text = ep_scenario_default_text(&len);
    assert_int_equal(n, len);
    assert_memory_equal(buf, text, len);

    ep_scenario sc;
    ep_parse_error err;
    assert_int_equal(ep_scenario_load_file(DEFAULT_YAML, &sc, &err), 0);
    assert_string_equal(sc.path, DEFAULT_YAML);
    const char *db = "/experiments/scenarios/epara-traces.db";
    size_t dl = strlen(sc.run.trace_db);
    assert_true(dl > strlen(db));
    assert_string_equal(sc.run.trace_db + dl - strlen(db), db);
    ep_scenario_fini(&sc);

    assert_int_equal(ep_scenario_load_file("/nonexistent/dir/x.yaml", &sc, &err), EP_EIO);
    assert_non_null(strstr(err.msg, "cannot open"));
}

static void
test_count_expands_names_and_ingress_and_faults_resolve(void **state)
{
    (void)state;
    ep_scenario sc =
            load_ok(CLUSTER SERVICES "workload:\n"
                                     "  - {trace: a, service: seg, ingress: [pi, n]}\n"
                                     "  - {trace: b, service: chat, ingress: n-2}\n"
                                     "faults:\n"
                                     "  - {at_s: 10, node_down: n-2}\n"
                                     "  - {at_s: 10, link_down: pi}\n"
                                     "  - {at_s: 20.5, sync_loss: true}\n"
                                     "  - {at_s: 30, sync_loss: false}\n"
                                     "policy: {name: epara, params: {max_hops: 3, mode: fast}}\n",
                    ".");
    assert_int_equal(sc.nnodes, 4);
    assert_string_equal(sc.nodes[0].name, "n-1");
    assert_string_equal(sc.nodes[2].name, "n-3");
    assert_string_equal(sc.nodes[3].name, "pi");
    assert_int_equal(sc.ndevices, 7);
    assert_true(sc.nodes[0].intra_bw_bytes_per_s == 32e9); /* server default */
    assert_int_equal(sc.workloads[0].ningress, 4);
    int want[] = {3, 0, 1, 2};
    for (int i = 0; i < 4; i++)
        assert_int_equal(sc.workloads[0].ingress[i], want[i]);
    assert_int_equal(sc.workloads[1].ningress, 1);
    assert_int_equal(sc.workloads[1].ingress[0], 1);
    assert_false(sc.workloads[0].origin->has_import || sc.workloads[0].origin->has_gen);
    assert_int_equal(sc.nfaults, 4);
    assert_int_equal(sc.faults[0].kind, EP_FAULT_NODE_DOWN);
    assert_int_equal(sc.faults[0].target, 1);
    assert_int_equal(sc.faults[1].kind, EP_FAULT_LINK_DOWN);
    assert_int_equal(sc.faults[1].target, 3);
    assert_int_equal(sc.faults[2].kind, EP_FAULT_SYNC_LOSS);
    assert_int_equal(sc.faults[2].at, 20500 * EP_NS_PER_MS);
    assert_int_equal(sc.faults[3].kind, EP_FAULT_SYNC_OK);
    assert_string_equal(sc.policy, "epara");
    assert_int_equal(sc.nparams, 2);
    assert_string_equal(sc.params[0].key, "max_hops");
    assert_true(ep_param_get(sc.params, sc.nparams, "max_hops", 0) == 3);
    assert_string_equal(sc.params[1].value, "fast");
    /* Defaults of an otherwise empty scenario. */
    assert_int_equal(sc.run.seed, 1);
    assert_int_equal(sc.run.duration, 0);
    assert_string_equal(sc.run.trace_db, "epara-traces.db");
    assert_true(sc.mt_slowdown[1] == 1.232);
    assert_int_equal(sc.services[1].max_batch, 32);
    assert_int_equal(sc.services[1].slo.frame_deadline, 66666667);
    assert_int_equal(sc.services[1].input_bytes, 100000);
    ep_scenario_fini(&sc);
}

static void
test_import_paths_expand_variables_and_resolve_against_base_dir(void **state)
{
    (void)state;
    setenv("EP_SCENARIO_TEST_DIR", "/data/x", 1);
    unsetenv("EP_SCENARIO_TEST_UNSET");
    setenv("EP_SCENARIO_TEST_EMPTY", "", 1);
    ep_scenario sc = load_ok(CLUSTER SERVICES
                             "workload:\n"
                             "  - trace: a\n"
                             "    service: seg\n"
                             "    ingress: pi\n"
                             "    import: {file: '${EP_SCENARIO_TEST_DIR}/a.csv', format: csv,\n"
                             "             map: 'time=t:s,input=bytes'}\n"
                             "  - trace: b\n"
                             "    service: chat\n"
                             "    ingress: pi\n"
                             "    import: {file: '${EP_SCENARIO_TEST_UNSET:-../shared}/b.csv',\n"
                             "             format: azure-llm}\n"
                             "  - trace: c\n"
                             "    service: chat\n"
                             "    ingress: pi\n"
                             "    import: {file: '${EP_SCENARIO_TEST_EMPTY:-/d}/$c.csv',\n"
                             "             format: azure-functions, expand: even}\n"
                             "run: {trace_db: db/t.db}\n",
                             "/base/dir");
    assert_string_equal(sc.workloads[0].origin->import_file, "/data/x/a.csv");
    assert_int_equal(sc.workloads[0].origin->import_format, EP_FMT_CSV);
    assert_string_equal(sc.workloads[0].origin->import_map, "time=t:s,input=bytes");
    assert_string_equal(sc.workloads[1].origin->import_file, "/base/dir/../shared/b.csv");
    assert_string_equal(sc.workloads[2].origin->import_file, "/d/$c.csv");
    assert_int_equal(sc.workloads[2].origin->import_expand, EP_EXPAND_EVEN);
    assert_string_equal(sc.run.trace_db, "/base/dir/db/t.db");
    ep_scenario_fini(&sc);

    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - trace: a\n"
                                  "    service: seg\n"
                                  "    ingress: pi\n"
                                  "    import:\n"
                                  "      file: ${EP_SCENARIO_TEST_UNSET}/a.csv\n"
                                  "      format: azure-llm\n",
                 28, "workload[0].import.file: environment variable EP_SCENARIO_TEST_UNSET");
    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - trace: a\n"
                                  "    service: seg\n"
                                  "    ingress: pi\n"
                                  "    import: {file: '${oops/a.csv', format: azure-llm}\n",
                 27, "malformed ${...}");
    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - trace: a\n"
                                  "    service: seg\n"
                                  "    ingress: pi\n"
                                  "    import: {file: a.csv, format: csv}\n",
                 27, "workload[0].import: missing required key 'map'");
}

static void
test_generators_fill_specs_and_reject_keys_of_other_kinds(void **state)
{
    (void)state;
    ep_scenario sc =
            load_ok(CLUSTER SERVICES
                    "run: {duration_s: 600}\n"
                    "workload:\n"
                    "  - trace: m\n"
                    "    service: chat\n"
                    "    ingress: n\n"
                    "    generate: {kind: mmpp, rate: 9, off_rate: 1, on_s: 5, off_s: 7,\n"
                    "               sizes: 'fit:azure-conv', seed: 42}\n"
                    "  - trace: r\n"
                    "    service: chat\n"
                    "    ingress: n\n"
                    "    generate: {kind: poisson, rate: 1, sizes: 'resample:azure-code'}\n",
                    ".");
    const ep_gen_spec *m = &sc.workloads[0].origin->gen;
    assert_int_equal(m->kind, EP_GEN_MMPP);
    assert_int_equal(m->seed, 42);
    assert_int_equal(m->duration, 600 * EP_NS_PER_S);
    assert_true(m->rate_per_s == 9 && m->off_rate_per_s == 1);
    assert_true(m->mean_on_s == 5 && m->mean_off_s == 7);
    assert_int_equal(m->sizes, EP_SIZES_LOGNORMAL);
    assert_string_equal(sc.workloads[0].origin->gen_sizes_trace, "azure-conv");
    assert_int_equal(sc.workloads[1].origin->gen.sizes, EP_SIZES_RESAMPLE);
    assert_int_equal(sc.workloads[1].origin->gen.seed, 2); /* default: workload index + 1 */
    assert_string_equal(sc.workloads[1].origin->gen_sizes_trace, "azure-code");
    ep_scenario_fini(&sc);

    expect_error(CLUSTER SERVICES
                 "workload:\n"
                 "  - {trace: p, service: seg, ingress: n,\n"
                 "     generate: {kind: poisson, rate: 1, cv: 2, duration_s: 9}}\n",
                 25, "workload[0].generate.cv: does not apply to kind poisson");
    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - {trace: p, service: seg, ingress: n,\n"
                                  "     generate: {kind: gamma, rate: 1, duration_s: 9}}\n",
                 25, "workload[0].generate: missing required key 'cv'");
    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - {trace: p, service: seg, ingress: n,\n"
                                  "     generate: {kind: poisson, rate: 1}}\n",
                 25, "missing required key 'duration_s'");
    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - {trace: p, service: seg, ingress: n, generate: {kind: "
                                  "poisson, rate: 1, duration_s: 5, sizes: 'fixed:1,x'}}\n",
                 24, "workload[0].generate.sizes: fixed: expects IN,OUT");
}

/* lognormal sizes take an optional clip: two more numbers, the largest input and output. */
static void
test_lognormal_sizes_take_an_optional_clip(void **state)
{
    (void)state;
    ep_scenario sc = load_ok(CLUSTER SERVICES
                             "workload:\n"
                             "  - {trace: a, service: chat, ingress: n, generate: {kind: poisson,\n"
                             "     rate: 1, duration_s: 9, sizes: 'lognormal:8.2,1.2,4.9,0.8'}}\n"
                             "  - {trace: b, service: chat, ingress: n, generate: {kind: poisson,\n"
                             "     rate: 1, duration_s: 9,\n"
                             "     sizes: 'lognormal:8.2,1.2,4.9,0.8,131072,4096'}}\n",
                             ".");
    assert_true(sc.workloads[0].origin->gen.in_max == 0 &&
                sc.workloads[0].origin->gen.out_max == 0);
    const ep_gen_spec *g = &sc.workloads[1].origin->gen;
    assert_int_equal(g->sizes, EP_SIZES_LOGNORMAL);
    assert_true(g->in_mu == 8.2 && g->in_sigma == 1.2 && g->out_mu == 4.9 && g->out_sigma == 0.8);
    assert_int_equal(g->in_max, 131072);
    assert_int_equal(g->out_max, 4096);
    ep_scenario_fini(&sc);

    static const char *bad[] = {"lognormal:8,1,4,1,100", "lognormal:8,1,4,1,0,10",
                                "lognormal:8,1,4,1,10,2.5", "lognormal:8,1,4,1,2e9,10",
                                "lognormal:8,1,4,1,10,10,10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char yaml[2048];
        snprintf(yaml, sizeof yaml,
                 CLUSTER SERVICES "workload:\n"
                                  "  - {trace: p, service: chat, ingress: n, generate: {kind: "
                                  "poisson, rate: 1, duration_s: 5, sizes: '%s'}}\n",
                 bad[i]);
        expect_error(yaml, 24, "workload[0].generate.sizes: lognormal: expects");
    }
}

static void
test_profiles_load_and_check_lengths_and_order(void **state)
{
    (void)state;
    ep_scenario sc =
            load_ok(CLUSTER SERVICES
                    "profiles:\n"
                    "  - {service: seg, device: g, batch: [1, 2, 8],\n"
                    "     latency_ms: [1.5, 2, 6]}\n"
                    "  - {service: chat, device: g, prefill_tokens: [128, 1024],\n"
                    "     prefill_ms: [10, 60], decode_batch: [1, 64], decode_ms: [5, 9],\n"
                    "     decode_ctx: 1024}\n",
                    ".");
    assert_int_equal(sc.nprofiles, 2);
    const ep_profile_table *d = &sc.profiles[0];
    assert_int_equal(d->service, 1);
    assert_int_equal(d->spec, 0);
    assert_int_equal(d->n, 3);
    assert_int_equal(d->x[2], 8);
    assert_int_equal(d->y[0], 1500 * EP_NS_PER_US);
    assert_string_equal(d->source, "scenario");
    const ep_profile_table *l = &sc.profiles[1];
    assert_int_equal(l->n, 2);
    assert_int_equal(l->m, 2);
    assert_int_equal(l->dx[1], 64);
    assert_int_equal(l->dy[1], 9 * EP_NS_PER_MS);
    assert_int_equal(l->ctx_ref, 1024);
    ep_scenario_fini(&sc);

    expect_error(CLUSTER SERVICES "profiles:\n"
                                  "  - service: seg\n"
                                  "    device: g\n"
                                  "    batch: [1, 2, 4]\n"
                                  "    latency_ms: [1, 2]\n",
                 27, "profiles[0].latency_ms: 2 values, but batch has 3");
    expect_error(CLUSTER SERVICES "profiles:\n"
                                  "  - service: seg\n"
                                  "    device: g\n"
                                  "    batch: [1, 4, 4]\n"
                                  "    latency_ms: [1, 2, 3]\n",
                 26, "profiles[0].batch[2]: 4 is not above the previous point 4");
    expect_error(CLUSTER SERVICES "profiles:\n"
                                  "  - {service: seg, device: g, batch: [1], latency_ms: [1],\n"
                                  "     decode_ctx: 5}\n",
                 25, "profiles[0].decode_ctx: applies to llm services only");
    expect_error(CLUSTER SERVICES "profiles:\n"
                                  "  - {service: seg, device: tpu, batch: [1], latency_ms: [1]}\n",
                 24, "profiles[0].device: unknown device class 'tpu'");
}

static void
test_unknown_keys_and_wrong_types_name_the_field(void **state)
{
    (void)state;
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gbb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n",
                 3, "devices[0]: unknown key 'mem_gbb' (accepted: name, kind, mem_gb");
    expect_error("name: t\nnodez: []\n", 2, "top level: unknown key 'nodez'");
    /* A link's mtu: 0 (no framing) or a real packet size. */
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
                 "nodes:\n"
                 "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [g],\n"
                 "     link: {bw_gbps: 10, mtu: 100}}\n",
                 6, "nodes[0].link.mtu: 100 bytes, expected 0 (no framing) or 576 to 65535");
    {
        const char *y =
                "name: t\n"
                "devices:\n"
                "  - {name: g, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
                "nodes:\n"
                "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [g],\n"
                "     link: {bw_gbps: 10, mtu: 1500}}\n" SERVICES;
        ep_scenario sc = load_ok(y, ".");
        assert_int_equal(sc.links[0].mtu, 1500);
        assert_int_equal(sc.specs[0].serial, 0); /* co-located instances run at once */
        ep_scenario_fini(&sc);
    }
    /* A serial device class: one batch at a time. */
    {
        const char *y = "name: t\n"
                        "devices:\n"
                        "  - {name: g, kind: cpu, mem_gb: 4, mem_bw_gbps: 10, peak_tflops: 0.05,\n"
                        "     serial: true}\n"
                        "nodes:\n"
                        "  - {name: n, class: micro, cores: 1, mem_gb: 4, devices: [g],\n"
                        "     link: {bw_gbps: 1}}\n" SERVICES;
        ep_scenario sc = load_ok(y, ".");
        assert_int_equal(sc.specs[0].serial, 1);
        ep_scenario_fini(&sc);
    }
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: cpu, mem_gb: 4, mem_bw_gbps: 10, peak_tflops: 0.05,\n"
                 "     serial: 2}\n",
                 4, "devices[0].serial: expected true or false, got '2'");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
                 "nodes: {name: n}\n",
                 4, "nodes: expected a list, got a map");
    expect_error(CLUSTER "services:\n"
                         "  - name: chat\n"
                         "    kind: llm\n"
                         "    params_b: 1\n"
                         "    layers: 16\n"
                         "    hidden: 2048\n"
                         "    kv_kb_per_token: 32\n"
                         "    slo: [450, 40]\n",
                 17, "services[0].slo: expected a map of keys, got a list");
    expect_error(CLUSTER "services:\n"
                         "  - name: chat\n"
                         "    kind: llm\n"
                         "    params_b: 1\n"
                         "    layers: 16\n"
                         "    hidden: 2048\n"
                         "    kv_kb_per_token: 32\n"
                         "    gflops: 3\n"
                         "    slo: {ttft_ms: 1, tpot_ms: 1}\n",
                 17, "services[0].gflops: applies to dnn services only");
    /* An embedding as large as the model: a vocabulary or hidden size typo. */
    expect_error(CLUSTER "services:\n"
                         "  - name: chat\n"
                         "    kind: llm\n"
                         "    params_b: 1\n"
                         "    layers: 16\n"
                         "    hidden: 2048\n"
                         "    vocab: 300000\n"
                         "    kv_kb_per_token: 32\n"
                         "    slo: {ttft_ms: 1, tpot_ms: 1}\n",
                 16, "services[0].vocab: 300000 x hidden 2048 embedding parameters (x2, untied)");
    expect_error(CLUSTER "services:\n"
                         "  - {name: s, kind: dnn, params_m: 1, gflops: 1, vocab: 10,"
                         " slo: {deadline_ms: 1}}\n",
                 11, "services[0].vocab: applies to llm services only");
    expect_error(CLUSTER "services:\n"
                         "  - {name: s, kind: dnn, params_m: 1, gflops: 1, slo: {deadline_ms: 1},\n"
                         "     kind: llm}\n",
                 12, "services[0]: duplicate key 'kind'");
    expect_error(CLUSTER "services:\n  - {name: s, kind: cnn}\n", 11,
                 "services[0].kind: expected one of llm, dnn, got 'cnn'");
    expect_error("- a\n- b\n", 1, "top level: expected a map of keys, got a list");
}

static void
test_bad_numbers_give_the_line_and_the_value(void **state)
{
    (void)state;
    expect_error(CLUSTER "services:\n"
                         "  - name: chat\n"
                         "    kind: llm\n"
                         "    params_b: 1\n"
                         "    layers: 16\n"
                         "    hidden: 2048\n"
                         "    kv_kb_per_token: 32\n"
                         "    slo:\n"
                         "      ttft_ms: abc\n"
                         "      tpot_ms: 40\n",
                 18,
                 "services[0].slo.ttft_ms: expected a positive number (at most 1e+09), got 'abc'");
    expect_error(CLUSTER "services:\n"
                         "  - name: chat\n"
                         "    kind: llm\n"
                         "    params_b: 1\n"
                         "    layers: 16\n"
                         "    hidden: 2048\n"
                         "    kv_kb_per_token: -32\n",
                 16, "services[0].kv_kb_per_token: expected a positive number");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: .nan, mem_bw_gbps: 1000, peak_tflops: 100}\n",
                 3, "devices[0].mem_gb: expected a positive number");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 2e6, mem_bw_gbps: 1000, peak_tflops: 100}\n",
                 3, "got '2e6'");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 1, mem_bw_gbps: 1e999, peak_tflops: 100}\n",
                 3, "devices[0].mem_bw_gbps");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 1, mem_bw_gbps: 1, peak_tflops: 0x10}\n",
                 3, "devices[0].peak_tflops");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 1, mem_bw_gbps: 1, peak_tflops: 1}\n"
                 "nodes:\n"
                 "  - {name: n, class: server, count: 20000, cores: 8, mem_gb: 64,\n"
                 "     link: {bw_gbps: 10}}\n",
                 5, "nodes[0].count: expected an integer in [1, 10000], got '20000'");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 1, mem_bw_gbps: 1, peak_tflops: 1}\n"
                 "nodes:\n"
                 "  - {name: n, class: server, cores: 8, mem_gb: 64, link: {bw_gbps: 10,\n"
                 "     loss: 1.5}}\n",
                 6, "nodes[0].link.loss: expected a non-negative number (at most 0.99)");
    expect_error(CLUSTER "run: {warmup_s: 60, cooldown_s: 60, duration_s: 100}\n", 10,
                 "run.duration_s: leaves no measured time");
    expect_error(CLUSTER "mt_slowdown: [1.0, 2.0, 1.5]\n", 10,
                 "mt_slowdown[2]: expected a number in [2, 1000]");
    expect_error(CLUSTER "mt_slowdown: [1.1]\n", 10, "mt_slowdown[0]");
}

static void
test_total_node_count_is_bounded(void **state)
{
    (void)state;
    static char yaml[4096];
    int o = snprintf(yaml, sizeof yaml,
                     "name: t\ndevices:\n  - {name: g, kind: gpu, mem_gb: 1, "
                     "mem_bw_gbps: 1, peak_tflops: 1}\nnodes:\n");
    for (int i = 0; i < 11; i++)
        o += snprintf(yaml + o, sizeof yaml - (size_t)o,
                      "  - {name: g%d, class: micro, count: 10000, cores: 1, mem_gb: 1, "
                      "link: {bw_gbps: 1}}\n",
                      i);
    expect_error(yaml, 15, "nodes[10].count: more than 100000 nodes in all");
}

static void
test_unknown_references_and_duplicates_are_refused(void **state)
{
    (void)state;
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
                 "nodes:\n"
                 "  - {name: n, class: server, cores: 8, mem_gb: 64, devices: [g, h],\n"
                 "     link: {bw_gbps: 10}}\n",
                 5, "nodes[0].devices[1]: unknown device class 'h'");
    expect_error(CLUSTER SERVICES "workload:\n  - {trace: a, service: chatt, ingress: n}\n", 24,
                 "workload[0].service: unknown service 'chatt'");
    expect_error(CLUSTER SERVICES "workload:\n  - {trace: a, service: chat, ingress: [n, foo]}\n",
                 24, "workload[0].ingress[1]: unknown node 'foo'");
    expect_error(CLUSTER SERVICES "workload:\n  - {trace: a, service: chat, ingress: [n, n-1]}\n",
                 24, "workload[0].ingress[1]: node 'n-1' is listed twice");
    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - {trace: a, service: chat, ingress: n}\n"
                                  "  - {trace: a, service: chat, ingress: pi}\n",
                 25, "workload[1]: trace 'a' is already mapped to service 'chat'");
    expect_error(CLUSTER SERVICES "workload:\n"
                                  "  - {trace: a, service: chat, ingress: n, generate: {kind: "
                                  "poisson, rate: 1, duration_s: 5}}\n"
                                  "  - {trace: a, service: seg, ingress: pi, generate: {kind: "
                                  "poisson, rate: 2, duration_s: 5}}\n",
                 25, "workload[1]: trace 'a' gets a different import/generate");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
                 "  - {name: g, kind: cpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n",
                 4, "devices[1].name: duplicate device class 'g' (also devices[0])");
    expect_error(
            "name: t\n"
            "devices:\n"
            "  - {name: g, kind: gpu, mem_gb: 24, mem_bw_gbps: 1000, peak_tflops: 100}\n"
            "nodes:\n"
            "  - {name: n, class: server, count: 2, cores: 8, mem_gb: 64, link: {bw_gbps: 1}}\n"
            "  - {name: n-2, class: micro, cores: 1, mem_gb: 1, link: {bw_gbps: 1}}\n",
            6, "nodes[1].name: node name 'n-2' is used twice (also by nodes[0])");
    expect_error(CLUSTER SERVICES "  - {name: chat, kind: dnn, gflops: 1, params_m: 1,\n"
                                  "     slo: {deadline_ms: 5}}\n",
                 23, "services[2].name: duplicate service 'chat' (also services[0])");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, node_down: n}\n", 24,
                 "faults[0].node_down: 'n' names 3 nodes; give one (e.g. n-1)");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, link_up: x}\n", 24,
                 "faults[0].link_up: unknown link 'x'");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, node_up: pi, sync_loss: true}\n", 24,
                 "faults[0]: one fault per entry");
    expect_error(CLUSTER SERVICES "faults:\n"
                                  "  - {at_s: 5, node_up: pi}\n"
                                  "  - {at_s: 4, node_up: pi}\n",
                 25, "faults[1].at_s: before the previous fault");
    expect_error(CLUSTER "policy: {name: x, params: {a: 1, a: 2}}\n", 10,
                 "policy.params.a: duplicate key");
}

static void
test_partition_sync_delay_and_slow_device_faults_load(void **state)
{
    (void)state;
    ep_scenario sc = load_ok(CLUSTER SERVICES "faults:\n"
                                              "  - {at_s: 10, partition: [n-3, pi]}\n"
                                              "  - {at_s: 10, sync_delay_ms: 1500}\n"
                                              "  - {at_s: 12, slow_device: n-2, factor: 2.5}\n"
                                              "  - {at_s: 13, slow_device: n-2, factor: 1,\n"
                                              "     device: 1}\n"
                                              "  - {at_s: 20, heal: true}\n"
                                              "  - {at_s: 20, sync_delay_ms: 0}\n"
                                              "  - {at_s: 30, partition: n}\n"
                                              "  - {at_s: 40, heal: true}\n",
                             ".");
    assert_int_equal(sc.nfaults, 8);
    const ep_fault *f = sc.faults;
    assert_int_equal(f[0].kind, EP_FAULT_PARTITION);
    assert_int_equal(f[0].nnodes, 2);
    assert_int_equal(f[0].nodes[0], 2);
    assert_int_equal(f[0].nodes[1], 3);
    assert_int_equal(f[0].target, 2);
    assert_int_equal(f[1].kind, EP_FAULT_SYNC_DELAY);
    assert_int_equal(f[1].delay, 1500 * EP_NS_PER_MS);
    assert_int_equal(f[2].kind, EP_FAULT_SLOW);
    assert_int_equal(f[2].target, 1);
    assert_int_equal(f[2].device, -1); /* every device of the node */
    assert_true(f[2].factor == 2.5);
    assert_int_equal(f[3].device, sc.nodes[1].dev0 + 1); /* its second device */
    assert_true(f[3].factor == 1);
    assert_int_equal(f[4].kind, EP_FAULT_HEAL);
    assert_int_equal(f[4].target, 2);
    assert_int_equal(f[5].delay, 0);
    assert_int_equal(f[6].nnodes, 3); /* a group base name: all its nodes */
    assert_int_equal(f[6].nodes[2], 2);
    assert_null(f[1].nodes);
    ep_scenario_fini(&sc);
}

static void
test_bad_partition_sync_delay_and_slow_device_faults_are_refused(void **state)
{
    (void)state;
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, partition: [pi, x]}\n", 24,
                 "faults[0].partition[1]: unknown node 'x'");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, partition: [pi, n-1, pi]}\n", 24,
                 "faults[0].partition[2]: node 'pi' is listed twice");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, partition: [n, pi]}\n", 24,
                 "faults[0].partition: cuts off every node");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, partition: []}\n", 24,
                 "faults[0].partition: expected at least one node");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, partition: {a: 1}}\n", 24,
                 "faults[0].partition");
    expect_error(CLUSTER SERVICES "faults:\n"
                                  "  - {at_s: 5, partition: pi}\n"
                                  "  - {at_s: 6, partition: n-1}\n",
                 25, "faults[1].partition: faults[0]'s partition is still in effect");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, heal: true}\n", 24,
                 "faults[0].heal: no partition in effect");
    expect_error(CLUSTER SERVICES "faults:\n"
                                  "  - {at_s: 5, partition: pi}\n"
                                  "  - {at_s: 6, heal: false}\n",
                 25, "faults[1].heal: expected true");
    expect_error(CLUSTER SERVICES "faults:\n"
                                  "  - {at_s: 5, partition: pi}\n"
                                  "  - {at_s: 6, heal: true, partition: pi}\n",
                 25, "faults[1]: one fault per entry (partition and heal given)");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, sync_delay_ms: -1}\n", 24,
                 "faults[0].sync_delay_ms");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, sync_delay_ms: soon}\n", 24,
                 "faults[0].sync_delay_ms");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, slow_device: n-1}\n", 24,
                 "faults[0]: missing required key 'factor' with slow_device");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, slow_device: n-1, factor: 0.5}\n", 24,
                 "faults[0].factor: expected a number in [1, 1000]");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, slow_device: n, factor: 2}\n", 24,
                 "faults[0].slow_device: 'n' names 3 nodes; give one (e.g. n-1)");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, slow_device: gpu, factor: 2}\n", 24,
                 "faults[0].slow_device: unknown node 'gpu'");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, slow_device: pi, factor: 2, device: 1}\n",
                 24, "faults[0].device: expected an integer in [0, 0], got '1'");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, node_down: pi, factor: 2}\n", 24,
                 "faults[0].factor: only with slow_device");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, sync_delay_ms: 5, device: 0}\n", 24,
                 "faults[0].device: only with slow_device");
    expect_error(CLUSTER SERVICES "faults:\n  - {at_s: 5, slow: pi}\n", 24, "faults[0]");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 1, mem_bw_gbps: 1, peak_tflops: 1}\n"
                 "nodes:\n"
                 "  - {name: a, class: server, cores: 8, mem_gb: 64, devices: [g],\n"
                 "     link: {bw_gbps: 10}}\n"
                 "  - {name: b, class: micro, cores: 1, mem_gb: 1, link: {bw_gbps: 1}}\n"
                 "faults:\n"
                 "  - {at_s: 5, slow_device: b, factor: 2}\n",
                 9, "faults[0].slow_device: node 'b' has no devices");
}

static void
test_missing_required_keys_are_named(void **state)
{
    (void)state;
    expect_error(CLUSTER "services:\n"
                         "  - name: chat\n"
                         "    kind: llm\n"
                         "    params_b: 1\n"
                         "    layers: 16\n"
                         "    hidden: 2048\n"
                         "    kv_kb_per_token: 32\n"
                         "    slo: {ttft_ms: 450}\n",
                 17, "services[0].slo: missing required key 'tpot_ms'");
    expect_error(CLUSTER "services:\n"
                         "  - name: chat\n"
                         "    kind: llm\n"
                         "    params_b: 1\n"
                         "    hidden: 2048\n",
                 11, "services[0]: missing required key 'layers'");
    expect_error(CLUSTER "services:\n  - {name: s, kind: dnn, gflops: 1, slo: {fps: 1}}\n", 11,
                 "services[0]: missing required key 'params_b' (or params_m or weights_gb)");
    expect_error(CLUSTER "services:\n"
                         "  - {name: s, kind: dnn, params_m: 1, gflops: 1, slo: {fps: 30},\n"
                         "     sensitivity: latency}\n",
                 12, "services[0].sensitivity: latency needs slo.deadline_ms");
    expect_error(CLUSTER "services:\n  - {name: s, kind: dnn, params_m: 1, gflops: 1, slo: {}}\n",
                 11, "services[0].slo: a dnn service needs deadline_ms or fps");
    expect_error("name: t\ndevices: []\n", 2, "devices: expected 1 to 10000 device classes");
    expect_error("devices: []\n", 1, "top level: missing required key 'name'");
    expect_error(CLUSTER SERVICES "workload:\n  - {trace: a, service: chat}\n", 24,
                 "workload[0]: missing required key 'ingress'");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 1, mem_bw_gbps: 1, peak_tflops: 1}\n"
                 "nodes:\n"
                 "  - {name: n, class: server, cores: 8, mem_gb: 64}\n",
                 5, "nodes[0]: missing required key 'link'");
    expect_error("name: t\n"
                 "devices:\n"
                 "  - {name: g, kind: gpu, mem_gb: 1, mem_bw_gbps: 1, peak_tflops: 1}\n"
                 "nodes:\n"
                 "  - name: n\n"
                 "    class: server\n"
                 "    cores:\n"
                 "    mem_gb: 64\n",
                 7, "nodes[0].cores: expected an integer in [1, 1000000], got nothing");
}

static void
test_malformed_and_empty_documents_are_parse_errors(void **state)
{
    (void)state;
    expect_error("", 1, "empty document");
    expect_error("# nothing but a comment\n\n", 1, "empty document");
    expect_error("name: [a, b\n", 1, "malformed YAML");
    expect_error("name: t\nx: {a: b", 2, "malformed YAML");
    expect_error("name:", 1, "name: expected a name");
    expect_error("name: t\n  bad: indent\n", 2, "malformed YAML");
    expect_error("name: t\nx: *nope\n", 2, "malformed YAML");
    expect_error("name: t\ndevices:\n  - \xff\xfe\n", 3, "malformed YAML");
    expect_error("name: t\n---\nname: u\n", 3, "a second YAML document");
    expect_error("name: \"a\\0b\"\n", 1, "name: expected a name");
    expect_error("name: \"-x\"\n", 1, "name: expected a name");
    /* An alias to the document's own map nests, but the schema's fixed depth stops it. */
    expect_error("name: t\ndevices: &d [*d]\n", 2, "devices[0]: expected a map of keys");

    ep_scenario sc;
    ep_parse_error err;
    assert_int_equal(ep_scenario_load_text(NULL, 1, NULL, NULL, &sc, &err), EP_EINVAL);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(test_default_scenario_builds_the_edge_cluster),
            cmocka_unit_test(test_default_scenario_maps_services_and_workload),
            cmocka_unit_test(test_default_text_is_the_shipped_file_and_paths_resolve_against_it),
            cmocka_unit_test(test_count_expands_names_and_ingress_and_faults_resolve),
            cmocka_unit_test(test_import_paths_expand_variables_and_resolve_against_base_dir),
            cmocka_unit_test(test_generators_fill_specs_and_reject_keys_of_other_kinds),
            cmocka_unit_test(test_lognormal_sizes_take_an_optional_clip),
            cmocka_unit_test(test_profiles_load_and_check_lengths_and_order),
            cmocka_unit_test(test_unknown_keys_and_wrong_types_name_the_field),
            cmocka_unit_test(test_bad_numbers_give_the_line_and_the_value),
            cmocka_unit_test(test_total_node_count_is_bounded),
            cmocka_unit_test(test_unknown_references_and_duplicates_are_refused),
            cmocka_unit_test(test_partition_sync_delay_and_slow_device_faults_load),
            cmocka_unit_test(test_bad_partition_sync_delay_and_slow_device_faults_are_refused),
            cmocka_unit_test(test_missing_required_keys_are_named),
            cmocka_unit_test(test_malformed_and_empty_documents_are_parse_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
