/* `epara cost`: what the cost model says a service takes on a device class (LLM prefill by
 * prompt length and decode step by batch; DNN batch), with the attention part of LLM
 * times, as a table or CSV. The numbers the simulator and the policies use; calibration
 * scripts compare them with published measurements (docs/calibration.md). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "epara/core/profile.h"
#include "epara/experiments/scenario.h"

#include "commands.h"
#include "util.h"

static const char help[] =
        "usage: epara cost --service NAME [options]\n"
        "\n"
        "Prints the cost model's time for one service of a scenario on its device classes:\n"
        "an LLM's lone prefill per --prefill prompt length and one decode step per --decode\n"
        "batch size (each sequence holding --ctx tokens of context), with the attention part\n"
        "of each; a DNN's batch per --batch size. These are the times the simulator charges\n"
        "on one device (no queueing, no TP, no co-location slowdown). A profile table of the\n"
        "scenario for the (service, device class) takes precedence over the estimate, as in\n"
        "the simulator; the source column says which answered. Whether the weights fit\n"
        "the device is not checked.\n"
        "\n"
        "  epara cost --service llama-8b --device rtx4090 --prefill 512,4096 --decode 1,32\n"
        "\n"
        "  --scenario FILE  scenario YAML (default: the embedded edge-default scenario)\n"
        "  --service NAME   the service (required)\n"
        "  --device SPEC    one device class (default: every class of the scenario)\n"
        "  --prefill LIST   LLM prompt lengths in tokens (default 128,512,2048)\n"
        "  --decode LIST    LLM decode batch sizes (default 1,8,32; with only one of\n"
        "                   --prefill and --decode given, only that part is printed)\n"
        "  --ctx N          LLM context tokens per sequence in a decode step (default 1024)\n"
        "  --batch LIST     DNN batch sizes (default 1,4,16)\n"
        "  --csv            CSV with a header (service,device,kind,x,ctx,ms,attention_ms,\n"
        "                   source) instead of the aligned table\n"
        "\n"
        "Lists are comma-separated positive integers, at most 32 each. Times in ms.\n";

#define MAX_LIST   32
#define MAX_TOKENS INT64_C(100000000)

typedef struct cost_args {
    const char *scenario, *service, *device;
    int64_t prefill[MAX_LIST], decode[MAX_LIST], batch[MAX_LIST];
    int nprefill, ndecode, nbatch, csv, llm_given;
    int64_t ctx;
} cost_args;

/* Whether a profile table of the scenario answers (svc, spec) for the part (main: DNN batch
 * or prefill; else decode), as ep_cost_* would find it. */
static int
has_table(const ep_scenario *sc, int svc, int spec, int main_part)
{
    for (int i = 0; i < sc->nprofiles; i++) {
        const ep_profile_table *t = &sc->profiles[i];
        if (t->service == svc && t->spec == spec && (main_part ? t->n : t->m) > 0)
            return 1;
    }
    return 0;
}

static void
print_row(const cost_args *a, const char *svc, const char *dev, const char *kind, int64_t x,
          int64_t ctx, ep_dur t, ep_dur attn, int table)
{
    double ms = (double)t / (double)EP_NS_PER_MS, ams = (double)attn / (double)EP_NS_PER_MS;
    const char *src = table ? "table" : "estimate";
    if (a->csv) {
        printf("%s,%s,%s,%lld,", svc, dev, kind, (long long)x);
        if (ctx >= 0)
            printf("%lld", (long long)ctx);
        if (attn >= 0)
            printf(",%.4f,%.4f,%s\n", ms, ams, src);
        else
            printf(",%.4f,,%s\n", ms, src);
        return;
    }
    char cbuf[24] = "-", abuf[24] = "-";
    if (ctx >= 0)
        snprintf(cbuf, sizeof cbuf, "%lld", (long long)ctx);
    if (attn >= 0 && !table)
        snprintf(abuf, sizeof abuf, "%.3f", ams);
    printf("  %-8s %8lld %8s %12.3f %12s  %s\n", kind, (long long)x, cbuf, ms, abuf, src);
}

static void
cost_one(const cost_args *a, const ep_scenario *sc, int svc, int spec)
{
    const ep_service *s = &sc->services[svc];
    const char *sn = s->name, *dn = sc->specs[spec].name;
    if (!a->csv)
        printf("%s on %s\n  %-8s %8s %8s %12s %12s  %s\n", sn, dn, "kind", "x", "ctx", "ms",
               "attention", "source");
    if (s->kind == EP_SVC_DNN) {
        int tab = has_table(sc, svc, spec, 1);
        for (int i = 0; i < a->nbatch; i++)
            print_row(a, sn, dn, "batch", a->batch[i], -1,
                      ep_cost_dnn_batch(sc, svc, spec, (int)a->batch[i]), -1, tab);
        return;
    }
    int ptab = has_table(sc, svc, spec, 1), dtab = has_table(sc, svc, spec, 0);
    for (int i = 0; i < a->nprefill; i++) {
        int64_t n = a->prefill[i];
        double sq = (double)n * (double)n;
        print_row(a, sn, dn, "prefill", n, -1, ep_cost_llm_prefill(sc, svc, spec, n),
                  ep_cost_llm_attention(sc, svc, spec, n, sq, 0, 0), ptab);
    }
    for (int i = 0; i < a->ndecode; i++) {
        int b = (int)a->decode[i];
        int64_t ctx = (int64_t)b * a->ctx;
        print_row(a, sn, dn, "decode", b, a->ctx, ep_cost_llm_decode(sc, svc, spec, b, ctx),
                  ep_cost_llm_attention(sc, svc, spec, 0, 0, b, ctx), dtab);
    }
}

static int
parse_args(int argc, char **argv, cost_args *a)
{
    static const struct option longopts[] = {
            {"scenario", required_argument, NULL, 's'}, {"service", required_argument, NULL, 'v'},
            {"device", required_argument, NULL, 'd'},   {"prefill", required_argument, NULL, 'p'},
            {"decode", required_argument, NULL, 'D'},   {"ctx", required_argument, NULL, 'c'},
            {"batch", required_argument, NULL, 'b'},    {"csv", no_argument, NULL, 'C'},
            {"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int n = 0;
        switch (c) {
        case 's':
            a->scenario = optarg;
            break;
        case 'v':
            a->service = optarg;
            break;
        case 'd':
            a->device = optarg;
            break;
        case 'p':
            a->llm_given |= 1;
            n = a->nprefill = cli_i64_list("--prefill", optarg, MAX_TOKENS, a->prefill, MAX_LIST);
            break;
        case 'D':
            a->llm_given |= 2;
            n = a->ndecode = cli_i64_list("--decode", optarg, 1000000, a->decode, MAX_LIST);
            break;
        case 'b':
            n = a->nbatch = cli_i64_list("--batch", optarg, 1000000, a->batch, MAX_LIST);
            break;
        case 'c':
            n = cli_i64("--ctx", optarg, 0, MAX_TOKENS, &a->ctx);
            break;
        case 'C':
            a->csv = 1;
            break;
        case 'h':
            return cli_help_or_usage(1, help) == EXIT_OK ? -1 : -2;
        default:
            return -2;
        }
        if (n < 0)
            return -2;
    }
    if (optind < argc) {
        cli_err("cost: unexpected argument '%s' (see --help)", argv[optind]);
        return -2;
    }
    /* One of --prefill and --decode alone asks for that part only. */
    if (a->llm_given == 1)
        a->ndecode = 0;
    if (a->llm_given == 2)
        a->nprefill = 0;
    if (!a->service) {
        cli_err("cost: --service is required (see --help)");
        return -2;
    }
    return 0;
}

int
cmd_cost(int argc, char **argv)
{
    cost_args a = {.prefill = {128, 512, 2048},
                   .nprefill = 3,
                   .decode = {1, 8, 32},
                   .ndecode = 3,
                   .batch = {1, 4, 16},
                   .nbatch = 3,
                   .ctx = 1024};
    int rc = parse_args(argc, argv, &a);
    if (rc)
        return rc == -1 ? EXIT_OK : EXIT_USAGE;
    ep_scenario sc;
    if ((rc = cli_scenario_load(a.scenario, &sc)))
        return rc;
    int svc = ep_scenario_find_service(&sc, a.service);
    int spec = a.device ? ep_scenario_find_spec(&sc, a.device) : 0;
    if (svc < 0 || spec < 0) {
        cli_err("cost: %s: no %s '%s' in the scenario", cli_scenario_name(a.scenario),
                svc < 0 ? "service" : "device class", svc < 0 ? a.service : a.device);
        ep_scenario_fini(&sc);
        return EXIT_USAGE;
    }
    if (a.csv)
        printf("service,device,kind,x,ctx,ms,attention_ms,source\n");
    for (int d = a.device ? spec : 0; d < (a.device ? spec + 1 : sc.nspecs); d++)
        cost_one(&a, &sc, svc, d);
    ep_scenario_fini(&sc);
    return EXIT_OK;
}
