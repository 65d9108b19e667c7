/* `epara profile import`: a service's profile table from published GPU kernel profiles
 * (Vidur's mlp.csv and attention.csv; the importer is experiments/profiles_vidur.c) into the
 * `profiles` table the simulator reads. Argument parsing and printing only; nothing is
 * written unless the whole table was read. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "epara/core/error.h"
#include "epara/experiments/prepare.h"
#include "epara/experiments/scenario.h"
#include "util.h"

static const char help[] =
        "usage: epara profile import --format vidur DIR --service NAME --device SPEC [options]\n"
        "\n"
        "Writes the profile table of one LLM service on one device class from Vidur's\n"
        "GPU kernel profiles (Agrawal et al., \"Vidur: A Large-Scale Simulation Framework for\n"
        "LLM Inference\", MLSys 2024; MIT license; github.com/microsoft/vidur,\n"
        "data/profiling/compute/DEVICE/MODEL/) into the `profiles` table of --out, which\n"
        "'epara sim --trace-db' reads ahead of the scenario's tables and the estimate.\n"
        "\n"
        "Reads DIR/mlp.csv: the rows with num_tensor_parallel_workers = 1 (the simulator applies\n"
        "its own tensor-parallel model to single-device tables), and their num_tokens, n_embd\n"
        "(must equal the service's hidden size), vocab_size (informational) and\n"
        "time_stats.OP.median (milliseconds, one transformer layer). The point at x tokens is\n"
        "    layers x (sum of the medians of input_layernorm, attn_pre_proj, attn_rope,\n"
        "              attn_post_proj, post_attention_layernorm, mlp_up_proj, mlp_act,\n"
        "              mlp_down_proj, add) + emb            (Vidur; rows of one num_tokens "
        "averaged)\n"
        "  + attention       DIR/attention.csv's when DIR has one (below), else the cost\n"
        "                    model's: a prefill of x tokens, or a decode step of x requests\n"
        "                    holding --ctx-ref context tokens each\n"
        "  + batch_overhead  the device class's: kernel times leave out the host, and a table\n"
        "                    point is a whole iteration\n"
        "Prefill points: up to 32 of mlp.csv's token counts, spread geometrically from the\n"
        "smallest to the largest. Decode points: up to 32 of its token counts in [1, max_batch]\n"
        "as batch sizes, spread the same way.\n"
        "\n"
        "DIR/attention.csv (Vidur's attention profiler), rows with num_tensor_parallel_workers\n"
        "= 1: n_embd (must equal hidden; n_q_head must divide it), is_prefill (True/False),\n"
        "batch_size, prefill_chunk_size, kv_cache_size and the per-layer medians (ms)\n"
        "time_stats.T.median. A layer's attention is attn_prefill (prefill rows) or attn_decode\n"
        "(decode rows) + attn_kv_cache_save + attn_input_reshape + attn_output_reshape (each\n"
        "when present; an empty cell counts 0); the point's is layers x that (Vidur's rule).\n"
        "  prefill at x: the row with batch_size 1, kv_cache_size 0 and prefill_chunk_size x,\n"
        "    else linear between the two nearest such rows; beyond the smallest or largest, that\n"
        "    row's x (x / chunk)^2 (causal attention grows with the square)\n"
        "  decode at batch b: the rows with batch_size b at kv_cache_size = --ctx-ref (linear\n"
        "    between the two nearest kv_cache_size, the nearest x ctx_ref / kv beyond them),\n"
        "    else linear between the two nearest batches (the nearest x b / batch beyond them)\n"
        "Stored with source 'vidur mlp.csv + attention.csv + batch_overhead' ('vidur mlp.csv\n"
        "+ modelled attention + batch_overhead' without the file). A missing or malformed file\n"
        "(a missing column, a cell that is not a number, is_prefill not True/False, no\n"
        "single-device prefill or decode row, a Git LFS pointer: 'git lfs pull' in the Vidur\n"
        "clone) writes nothing and names FILE:LINE; exit 2.\n"
        "\n"
        "  --format vidur   profile format (required; vidur is the only one for now)\n"
        "  --service NAME   the scenario's LLM service the profile is of (required)\n"
        "  --device SPEC    the scenario's device class the rows are stored under (required)\n"
        "  --scenario FILE  scenario YAML (default: the embedded edge-default scenario)\n"
        "  --ctx-ref N      context tokens per request of the decode points (default 1024)\n"
        "  --out DB         database to write (default profiles.db; created with the trace\n"
        "                   store's schema); earlier rows of this service and device go\n"
        "\n"
        "Example, with a100.yaml a scenario holding device class a100 (312 TFLOPS, 2000 GB/s,\n"
        "80 GB) and the LLM service llama2-7b (Llama-2-7B: layers 32, hidden 4096):\n"
        "  epara profile import --format vidur vidur/data/profiling/compute/a100/meta-llama/"
        "Llama-2-7b-hf \\\n"
        "      --scenario a100.yaml --service llama2-7b --device a100 --out prof.db\n"
        "  epara sim --scenario a100.yaml --trace-db prof.db  # '1 measured profile tables ...'\n";

static double
ms(ep_dur d)
{
    return ep_dur_to_s(d) * 1e3;
}

static void
print_table(const ep_scenario *sc, int svc, int spec, const ep_vidur_profile *p)
{
    const ep_service *s = &sc->services[svc];
    const char *from = p->attention_measured ? "vidur" : "model";
    printf("vidur: %s: %ld rows, %ld with num_tensor_parallel_workers = 1 (vocab_size %lld, "
           "informational)\n",
           p->path, p->rows, p->rows_tp1, (long long)p->vocab_size);
    if (p->attention_measured)
        printf("vidur: %s: %ld rows, %ld single-device prefills of a whole prompt and %ld "
               "single-device decode rows\n",
               p->attention_path, p->attention_rows, p->attention_prefill, p->attention_decode);
    printf("service %s (%d layers, hidden %lld) on %s: linear_ms from Vidur's kernels, "
           "attention_ms from %s, overhead_ms the device's batch_overhead\n",
           s->name, s->layers, (long long)s->hidden, sc->specs[spec].name,
           p->attention_measured ? "Vidur's attention.csv"
                                 : "the cost model (DIR has no attention.csv)");
    printf("%-8s %6s %8s %11s %13s(%s) %12s %11s\n", "kind", "x", "ctx_ref", "linear_ms",
           "attention_ms", from, "overhead_ms", "total_ms");
    for (int i = 0; i < p->nprefill + p->ndecode; i++) {
        const ep_vidur_point *pt = &p->pts[i];
        char ctx[24] = "-";
        if (pt->row.ctx_ref > 0)
            snprintf(ctx, sizeof ctx, "%lld", (long long)pt->row.ctx_ref);
        printf("%-8s %6lld %8s %11.4f %20.4f %12.4f %11.4f\n", pt->row.kind, (long long)pt->row.x,
               ctx, ms(pt->linear), ms(pt->attention), ms(pt->overhead), ms(pt->row.latency));
    }
}

/* Exit status of a library error: the caller's input (2) or the machine (1). */
static int
exit_for(int err)
{
    return err == EP_ENOMEM || err == EP_EIO || err == EP_EDB ? EXIT_FAIL : EXIT_USAGE;
}

/* Reads the profile, then writes it: a bad file never creates or changes the database. */
static int
import(const char *dir, const ep_scenario *sc, int svc, int spec, int64_t ctx_ref, const char *outp)
{
    char err[1024];
    ep_vidur_profile *p = malloc(sizeof *p);
    if (!p) {
        cli_err("profile import: out of memory");
        return EXIT_FAIL;
    }
    int rc = ep_vidur_read(dir, sc, svc, spec, ctx_ref, p, err, sizeof err);
    if (rc) {
        cli_err("profile import: %s", err);
        free(p);
        return exit_for(rc);
    }
    ep_profile_row rows[2 * EP_PROFILE_POINTS];
    int n = p->nprefill + p->ndecode;
    for (int i = 0; i < n; i++)
        rows[i] = p->pts[i].row;
    ep_store *st = cli_store_open(outp, 0);
    rc = st ? ep_profiles_replace(st, sc->services[svc].name, sc->specs[spec].name, p->source, rows,
                                  n, err, sizeof err)
            : EP_EDB;
    ep_store_close(st);
    if (rc) {
        if (st)
            cli_err("profile import: %s: %s", outp, err);
        free(p);
        return EXIT_FAIL;
    }
    print_table(sc, svc, spec, p);
    printf("wrote %d rows into %s (service %s, device %s: %d prefill, %d decode at ctx_ref "
           "%lld); use them with 'epara sim --trace-db %s'\n",
           n, outp, sc->services[svc].name, sc->specs[spec].name, p->nprefill, p->ndecode,
           (long long)ctx_ref, outp);
    free(p);
    return EXIT_OK;
}

int
cmd_profile_import(int argc, char **argv)
{
    static const struct option longopts[] = {
            {"format", required_argument, NULL, 'f'},  {"scenario", required_argument, NULL, 's'},
            {"service", required_argument, NULL, 'v'}, {"device", required_argument, NULL, 'd'},
            {"ctx-ref", required_argument, NULL, 'c'}, {"out", required_argument, NULL, 'o'},
            {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0}};
    const char *format = NULL, *scen = NULL, *svcname = NULL, *devname = NULL;
    const char *outp = "profiles.db";
    int64_t ctx_ref = EP_VIDUR_CTX_REF_DEFAULT;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 's':
            scen = optarg;
            break;
        case 'v':
            svcname = optarg;
            break;
        case 'd':
            devname = optarg;
            break;
        case 'c':
            if (cli_i64("--ctx-ref", optarg, 1, 10000000, &ctx_ref))
                return EXIT_USAGE;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'h':
            fputs(help, stdout);
            return EXIT_OK;
        default:
            fputs(help, stderr);
            return EXIT_USAGE;
        }
    }
    if (!format || !svcname || !devname || optind != argc - 1) {
        cli_err("profile import: --format, --service, --device and one DIR are required "
                "(see --help)");
        return EXIT_USAGE;
    }
    if (strcmp(format, "vidur") != 0) {
        cli_err("--format: '%s' is not a profile format this epara reads (only vidur)", format);
        return EXIT_USAGE;
    }
    if (cli_out_check("--out", outp))
        return EXIT_USAGE;
    ep_scenario sc;
    int rc = cli_scenario_load(scen, &sc);
    if (rc)
        return rc;
    int svc = ep_scenario_find_service(&sc, svcname);
    int spec = ep_scenario_find_spec(&sc, devname);
    rc = EXIT_USAGE;
    if (svc < 0)
        cli_err("--service: no service '%s' in %s", svcname, cli_scenario_name(scen));
    else if (sc.services[svc].kind != EP_SVC_LLM)
        cli_err("--service: %s is a DNN service; Vidur profiles are of LLMs", svcname);
    else if (spec < 0)
        cli_err("--device: no device class '%s' in %s", devname, cli_scenario_name(scen));
    else
        rc = import(argv[optind], &sc, svc, spec, ctx_ref, outp);
    ep_scenario_fini(&sc);
    return rc;
}
