/* `epara testbed`: a live testbed of a scenario on this machine. Parses the options (the
 * roles' and the faults: --kill, --link-down, --link-up, --link-loss), checks the scenario
 * and its policy parameters, hands the run to the testbed of include/epara/exec/testbed.h
 * (exec/testbed.c: the processes, key, ports, namespaces, faults, tear-down) and prints the
 * loadgen's summary: the same table or JSON as `epara sim`, plus a "testbed" object. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "commands.h"
#include "epara/core/error.h"
#include "epara/exec/exec.h"
#include "epara/experiments/scenario.h"
#include "epara/exec/deploy.h"
#include "epara/exec/testbed.h"
#include "exec_cli.h"
#include "util.h"

static const char testbed_help[] =
        "usage: epara testbed [--scenario FILE] [--engine emulated] [--seed N] [--duration S]\n"
        "                     [--time-scale X] [--json] [options]\n"
        "\n"
        "Runs a live testbed of the scenario on this machine: `epara controller`, one\n"
        "`epara node` per scenario node and `epara loadgen`, as processes talking over nng\n"
        "on loopback TCP with authenticated messages, the same policy code as `epara sim`.\n"
        "Prints the same summary as `epara sim` (same --seed and --duration meaning), with\n"
        "a \"testbed\" object (messages, dispatch overhead, processes) in the JSON.\n"
        "\n"
        "options (and those of `epara loadgen --help`):\n"
        "  --engine KIND       emulated (default): a batch ends when its profiled time has\n"
        "                      passed, so a 20-node testbed runs on one small machine;\n"
        "                      cpu: real compute (see --llm-shape, --dnn-shape; measure\n"
        "                      it first with `epara profile` so `epara sim` can compare)\n"
        "  --netns             (root) each node in its own network namespace, joined by veth\n"
        "                      pairs on a bridge, its link shaped with tc from the scenario:\n"
        "                      netem (rate, delay, loss), or tbf (rate) with the latency\n"
        "                      emulated where the kernel has no netem; with --deploy FILE\n"
        "                      each namespace takes the address its node's line names and\n"
        "                      the bridge the controller's and the loadgen's; requests\n"
        "                      carry their bytes over the shaped links (--payloads)\n"
        "  --kill WHAT@S       kill -9 a process S trace seconds into the run; WHAT is\n"
        "                      node:K or controller (repeatable)\n"
        "  --link-down node:K@S, --link-up node:K@S\n"
        "                      (--netns) take node K's link down / up S trace seconds in\n"
        "  --link-loss node:K=P@S\n"
        "                      (--netns) node K's link drops each packet with probability\n"
        "                      P from S trace seconds in (netem, else iptables; P=0 ends it)\n"
        "  --sync-loss S:E     every state message (nodes' reports to the controller and\n"
        "                      to each other) lost between S and E trace seconds\n"
        "  --clock-offset node:K=MS\n"
        "                      node K's clock reads MS ms ahead (negative: behind) of the\n"
        "                      others' (repeatable): the nodes estimate their offsets to\n"
        "                      the controller's clock unless --no-clock-sync\n"
        "  --keep-logs DIR     keep each process's stderr in DIR/<role>.log\n"
        "  --quiet             no progress lines\n"
        "\n"
        "exit status: 0 done, 1 runtime failure, 2 bad arguments\n";
static const char *const testbed_helps[] = {testbed_help, NULL};

/* The fault options, in the order of ep_testbed_fault_kind. */
static const char *const fault_opts[] = {"--kill", "--link-down", "--link-up", "--link-loss"};
_Static_assert(EP_ARRAY_LEN(fault_opts) == EP_TESTBED_LINK_LOSS + 1, "one option per fault kind");

/* The options every process of the testbed gets, or the loadgen's own: the parsed options
 * written back for `epara controller|node|loadgen` (include/epara/exec/testbed.h, args). */
#define ARGS_MAX           (40 + 2 * EP_MAX_PARAMS) /* every option below with its value, and NULL */
#define NUMS_MAX           8                        /* numbers among them */
#define CLOCK_AHEAD_MAX_MS 86400e3                  /* --clock-offset: at most a day either way */
typedef struct arg_list {
    const char *v[ARGS_MAX];
    int n;
    char num[NUMS_MAX][64];
    int nnum;
} arg_list;

/* opt, and its value unless val is NULL. */
static void
arg(arg_list *a, const char *opt, const char *val)
{
    if (a->n < (int)EP_ARRAY_LEN(a->v) - 2) {
        a->v[a->n++] = opt;
        if (val)
            a->v[a->n++] = val;
    }
    a->v[a->n] = NULL;
}

/* opt and its value, when the option was given (val not NULL). */
static void
arg_set(arg_list *a, const char *opt, const char *val)
{
    if (val)
        arg(a, opt, val);
}

/* Storage for a number's text (the last slot is reused beyond NUMS_MAX: never reached). */
static char *
num_slot(arg_list *a)
{
    return a->num[a->nnum < NUMS_MAX - 1 ? a->nnum++ : NUMS_MAX - 1];
}

/* A number as an argument: integral (%.0f) or exact (%.17g). */
static void
arg_num(arg_list *a, const char *opt, int integral, double x)
{
    char *s = num_slot(a);
    snprintf(s, sizeof a->num[0], integral ? "%.0f" : "%.17g", x);
    arg(a, opt, s);
}

/* The parsed options the processes take, as arguments: every process's and the loadgen's. */
static void
role_args(const exec_cli *c, arg_list *common, arg_list *lg)
{
    memset(common, 0, sizeof *common);
    memset(lg, 0, sizeof *lg);
    arg_set(common, "--scenario", c->run.scenario);
    arg_set(common, "--trace-db", c->run.trace_db);
    arg_set(common, "--policy", c->run.policy);
    for (int i = 0; i < c->run.params.n; i++)
        arg(common, "--param", c->run.params.kv[i]);
    if (c->run.seed_set)
        arg_num(common, "--seed", 1, (double)c->run.seed);
    arg_num(common, "--rate-scale", 0, c->run.rate);
    if (c->run.duration > 0)
        arg_num(common, "--duration", 0, c->run.duration);
    arg_num(common, "--slo-scale", 0, c->run.slo);
    if (c->verbose)
        arg(common, "--verbose", NULL);
    if (c->no_clock_sync)
        arg(common, "--no-clock-sync", NULL);
    if (c->payloads == 1 || (c->payloads < 0 && c->netns))
        arg(common, "--payloads", NULL);
    arg(common, "--engine", c->engine);
    if (c->max_held > 0)
        arg_num(common, "--max-held", 1, (double)c->max_held);
    if (c->sync_loss[1] > c->sync_loss[0]) {
        char *span = num_slot(common);
        snprintf(span, sizeof common->num[0], "%.17g:%.17g", c->sync_loss[0], c->sync_loss[1]);
        arg(common, "--sync-loss", span);
    }
    arg_set(common, "--llm-shape", c->llm_shape);
    arg_set(common, "--dnn-shape", c->dnn_shape);
    arg_set(common, "--checkpoint", c->checkpoint);
    if (c->threads > 0)
        arg_num(common, "--threads", 1, (double)c->threads);
    if (c->grace > 0)
        arg_num(lg, "--grace", 0, c->grace);
    arg_set(lg, "--out", c->out);
    if (c->records)
        arg(lg, "--records", NULL);
    if (c->json)
        arg(lg, "--json", NULL);
}

/* --clock-offset node:K=MS into clocks (at most EP_TESTBED_MAX_FAULTS). Returns 0, or
 * EXIT_USAGE after printing the problem. */
static int
parse_clock(const char *v, ep_testbed_clock *clocks, int *nclocks)
{
    char nb[32];
    const char *eq = strchr(v, '=');
    size_t l = eq ? (size_t)(eq - v) : 0;
    int64_t n = -1;
    int ok = eq && strncmp(v, "node:", 5) == 0 && l > 5 && l - 5 < sizeof nb &&
             *nclocks < EP_TESTBED_MAX_FAULTS;
    if (ok) {
        memcpy(nb, v + 5, l - 5);
        nb[l - 5] = '\0';
        ok = cli_i64("--clock-offset", nb, 0, EP_EXEC_MAX_NODES - 1, &n) == 0 &&
             cli_double("--clock-offset", eq + 1, -CLOCK_AHEAD_MAX_MS, CLOCK_AHEAD_MAX_MS,
                        &clocks[*nclocks].ahead_ms) == 0;
    }
    if (!ok) {
        cli_err("--clock-offset %s: expected node:K=MILLISECONDS (at most %d)", v,
                EP_TESTBED_MAX_FAULTS);
        return EXIT_USAGE;
    }
    clocks[(*nclocks)++].node = (int)n;
    return 0;
}

/* Takes the fault options and --clock-offset (the testbed's own) out of argv into faults
 * and clocks; the rest into args. Returns 0, or EXIT_USAGE after printing the problem. */
static int
parse_faults(int argc, char **argv, char **args, int *nargs, ep_testbed_fault *faults, int *nfaults,
             ep_testbed_clock *clocks, int *nclocks)
{
    for (int i = 0; i < argc; i++) {
        const char *v = NULL;
        int which = -1;
        if (strcmp(argv[i], "--clock-offset") == 0 ||
            strncmp(argv[i], "--clock-offset=", 15) == 0) {
            const char *cv = argv[i][14] == '=' ? argv[i] + 15 : i + 1 < argc ? argv[++i] : "";
            if (parse_clock(cv, clocks, nclocks))
                return EXIT_USAGE;
            continue;
        }
        for (int o = 0; o < (int)EP_ARRAY_LEN(fault_opts) && !v; o++) {
            size_t l = strlen(fault_opts[o]);
            if (strcmp(argv[i], fault_opts[o]) == 0 && i + 1 < argc)
                v = argv[++i];
            else if (strncmp(argv[i], fault_opts[o], l) == 0 && argv[i][l] == '=')
                v = argv[i] + l + 1;
            if (v)
                which = o;
        }
        if (!v) {
            args[(*nargs)++] = argv[i];
            continue;
        }
        const char *at = strchr(v, '@');
        ep_testbed_fault k = {(ep_testbed_fault_kind)which, -1, 0, 0};
        int ok = at && *nfaults < EP_TESTBED_MAX_FAULTS;
        if (ok && strncmp(v, "node:", 5) == 0) {
            int64_t n = -1;
            char nb[32];
            size_t l = (size_t)(at - v - 5);
            ok = l > 0 && l < sizeof nb;
            if (ok) {
                memcpy(nb, v + 5, l);
                nb[l] = '\0';
                char *eq = strchr(nb, '=');
                ok = (eq != NULL) == (which == EP_TESTBED_LINK_LOSS);
                if (ok && eq) {
                    *eq = '\0';
                    ok = cli_double(fault_opts[which], eq + 1, 0, 1, &k.loss) == 0;
                }
                ok = ok && cli_i64(fault_opts[which], nb, 0, EP_EXEC_MAX_NODES - 1, &n) == 0;
                k.node = (int)n;
            }
        } else if (ok) {
            ok = which == EP_TESTBED_KILL && (size_t)(at - v) == strlen("controller") &&
                 strncmp(v, "controller", 10) == 0;
        }
        if (ok)
            ok = cli_double(fault_opts[which], at + 1, 0, 1e9, &k.at_s) == 0;
        if (!ok) {
            cli_err("%s %s: expected %s@SECONDS (at most %d)", fault_opts[which], v,
                    which == EP_TESTBED_KILL        ? "node:K or controller"
                    : which == EP_TESTBED_LINK_LOSS ? "node:K=PROBABILITY"
                                                    : "node:K",
                    EP_TESTBED_MAX_FAULTS);
            return EXIT_USAGE;
        }
        faults[(*nfaults)++] = k;
    }
    return 0;
}

/* The loadgen's output on stdout: its JSON summary with the testbed's object added (--json,
 * when it succeeded), else as it wrote it. Returns rc, or EXIT_FAIL when the summary is not
 * JSON. */
static int
print_output(const ep_testbed *tb, const exec_cli *c, int rc)
{
    FILE *f = ep_testbed_output(tb);
    if (c->json && f && rc == EXIT_OK) {
        json_error_t je;
        json_t *js = json_loadf(f, 0, &je);
        if (!js) {
            cli_err("testbed: the loadgen's summary is not JSON: %s", je.text);
            rc = EXIT_FAIL;
        } else {
            ep_testbed_json_add(tb, js);
            json_dumpf(js, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
            putchar('\n');
            json_decref(js);
        }
    } else if (f) {
        char buf[4096];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, f)) > 0)
            fwrite(buf, 1, n, stdout);
    }
    if (f)
        fclose(f);
    return rc;
}

int
cmd_testbed(int argc, char **argv)
{
    ep_testbed_fault faults[EP_TESTBED_MAX_FAULTS];
    int nfaults = 0;
    char **args = calloc((size_t)argc + 1, sizeof *args);
    if (!args)
        return EXIT_FAIL;
    int nargs = 0;
    /* The fault options are the testbed's own: taken out before the shared parser. */
    ep_testbed_clock clocks[EP_TESTBED_MAX_FAULTS];
    int nclocks = 0;
    int rc = parse_faults(argc, argv, args, &nargs, faults, &nfaults, clocks, &nclocks);
    exec_cli c;
    if (!rc)
        rc = exec_cli_parse(&c, nargs, args, testbed_helps, 1);
    free(args);
    if (rc)
        return rc < 0 ? EXIT_OK : rc;
    if (c.clock_offset_ms != 0) {
        cli_err("--clock-offset-ms: an option of `epara controller|node|loadgen`; the "
                "testbed takes --clock-offset node:K=MS");
        return EXIT_USAGE;
    }
    if (!ep_engine_kind_available(c.eng.kind)) {
        cli_err("testbed: --engine %s is not available (not built into this epara, or no "
                "CUDA device)",
                c.engine);
        return EXIT_USAGE;
    }
    /* Check the policy parameters before any process starts (a refused one would stop every
     * process alike), then prepare the traces once, before the processes open the database. */
    ep_scenario sc;
    ep_store *st = NULL;
    if ((rc = cli_run_load(&c.run, &sc, &st, c.quiet || c.json)) != 0)
        return rc;
    int nnodes = sc.nnodes;
    ep_store_close(st);
    for (int i = 0; i < nfaults; i++)
        if (faults[i].what != EP_TESTBED_KILL && !c.netns) {
            cli_err("%s: links can be cut or made lossy only with --netns",
                    fault_opts[faults[i].what]);
            ep_scenario_fini(&sc);
            return EXIT_USAGE;
        }
    for (int i = 0; i < nfaults; i++)
        if (faults[i].node >= nnodes) {
            cli_err("%s node:%d: the scenario has %d nodes", fault_opts[faults[i].what],
                    faults[i].node, nnodes);
            ep_scenario_fini(&sc);
            return EXIT_USAGE;
        }

    ep_deploy *dep = NULL;
    char msg[1200];
    if (c.deploy && ep_deploy_load(c.deploy, &sc, &dep, msg, sizeof msg) != 0) {
        cli_err("--deploy %s", msg);
        ep_scenario_fini(&sc);
        return EXIT_USAGE;
    }
    arg_list common, lg;
    role_args(&c, &common, &lg);
    ep_testbed_opts o = {
            .sc = &sc,
            .args = common.v,
            .loadgen_args = lg.v,
            .key_file = c.key_file,
            .host = c.host,
            .node_ip = c.node_ip,
            .real_links = c.real_links,
            .base_port = c.base_port,
            .deploy_file = c.deploy,
            .deploy = dep,
            .time_scale = c.time_scale,
            .netns = c.netns,
            .logs = c.logs,
            .policy_log = c.policy_log,
            .faults = faults,
            .nfaults = nfaults,
            .clocks = clocks,
            .nclocks = nclocks,
            .cpus = c.cpus,
            .ncpus = c.ncpus,
            .engine = c.engine,
            .sync_loss_from_s = c.sync_loss[0],
            .sync_loss_until_s = c.sync_loss[1],
    };
    ep_testbed *tb = NULL;
    int err = ep_testbed_open(&o, &tb, msg, sizeof msg);
    ep_deploy_free(dep);
    ep_scenario_fini(&sc);
    if (err) {
        cli_err("testbed: %s", msg);
        return err == EP_EINVAL ? EXIT_USAGE : EXIT_FAIL;
    }
    ep_testbed_info info;
    ep_testbed_get_info(tb, &info);
    if (c.netns && !c.quiet && !c.json)
        fprintf(stderr, "testbed: %d network namespaces, links shaped by tc %s\n", nnodes,
                info.links == EP_TESTBED_LINKS_NETEM
                        ? "netem (rate, delay, loss)"
                        : "tbf (rate; no netem in this kernel: latency emulated)");
    if (ep_testbed_start(tb, msg, sizeof msg) != 0) {
        cli_err("testbed: %s", msg);
        ep_testbed_close(tb);
        return EXIT_FAIL;
    }
    if (!c.quiet && !c.json && cli_tty() && c.deploy)
        fprintf(stderr, "testbed: %d nodes at the addresses of %s, engine %s, time scale %g\n",
                nnodes, c.deploy, c.engine, c.time_scale);
    else if (!c.quiet && !c.json && cli_tty())
        fprintf(stderr, "testbed: %d nodes, ports %d-%d, engine %s, time scale %g\n", nnodes,
                info.base_port, info.base_port + nnodes + 1, c.engine, c.time_scale);
    int status = ep_testbed_wait(tb);
    rc = print_output(tb, &c, status >= 0 ? status : EXIT_FAIL);
    if (rc != EXIT_OK)
        cli_err("testbed: the loadgen failed (exit %d)%s", rc,
                c.logs ? "; see the logs" : "; rerun with --keep-logs DIR for the logs");
    ep_testbed_close(tb);
    return rc;
}
