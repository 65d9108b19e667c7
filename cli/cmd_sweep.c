/* `epara sweep`: runs policies x a parameter grid on one scenario in parallel worker
 * processes (or MPI ranks) into one results database. Traces are prepared once before any
 * worker starts; every run is stored with a key naming its scenario, policy and options,
 * and a run whose key is already stored is skipped, so an interrupted sweep resumes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "epara/bound.h"
#include "epara/policy.h"
#include "epara/scenario.h"
#include "sweep.h"
#include "util.h"

static const char help[] =
        "usage: epara sweep --policies P1,P2,... --out DB [options]\n"
        "\n"
        "Runs every policy at every point of a parameter grid (the cross product) on one\n"
        "scenario, in parallel, storing each run in the results database DB with its\n"
        "parameters, seed, git revision and host. Runs already stored by an earlier sweep\n"
        "(same scenario, policy and options) are skipped, so an interrupted sweep resumes.\n"
        "\n"
        "  --scenario FILE    scenario YAML (default: the embedded edge-default)\n"
        "  --policies LIST    comma-separated policies ('all': every built-in and the bound;\n"
        "                     see 'epara sim --list-policies')\n"
        "  --grid SPEC        comma-separated dimensions NAME=VALUES, VALUES one of\n"
        "                       lo:hi:step   numbers from lo to hi inclusive\n"
        "                       a..b         integers a to b\n"
        "                       v1|v2|v3     a list\n"
        "                     NAME: rate_scale, seed, duration (s), slo_scale (multiplies\n"
        "                     every service's SLO times), param.KEY (a policy parameter,\n"
        "                     checked for every policy before anything runs; see 'epara\n"
        "                     sim --list-params').\n"
        "                     Example: 'rate_scale=0.5:4:0.25,seed=1..3,param.mt=0|1'\n"
        "  -j, --jobs N       worker processes (default 1)\n"
        "  --out DB           results database (created when absent; required; checked\n"
        "                     before anything runs)\n"
        "  --duration S       replay only the first S seconds of the workload (unless the\n"
        "                     grid has duration)\n"
        "  --trace-db DB      trace database (default: the scenario's run.trace_db)\n"
        "  --records          also store one record per request (kept in memory during each\n"
        "                     run). Without it every run still stores a latency histogram\n"
        "                     of its window in its summary, which the latency CDF of\n"
        "                     'epara report' reads\n"
        "  --mpi              distribute over MPI ranks (run under mpiexec; rank 0 plans and\n"
        "                     merges the others' runs into DB)\n"
        "  --dry-run          list the planned runs (todo or done) and exit\n"
        "  --quiet            no progress on stderr (failures are still reported)\n"
        "\n"
        "Exit status: 0 every run done, 1 some run failed or a database error, 2 bad input.\n";

static int
add_policy(sweep_opts *o, const char *name)
{
    if (strcmp(name, EP_BOUND_NAME) != 0 && !ep_policy_find(name)) {
        cli_err("--policies: unknown policy '%s' (see 'epara sim --list-policies')", name);
        return -1;
    }
    for (int i = 0; i < o->npolicies; i++)
        if (strcmp(o->policies[i], name) == 0) {
            cli_err("--policies: '%s' is listed twice", name);
            return -1;
        }
    if (o->npolicies == SWEEP_MAX_POLICIES) {
        cli_err("--policies: at most %d", SWEEP_MAX_POLICIES);
        return -1;
    }
    o->policies[o->npolicies++] = name;
    return 0;
}

/* Splits LIST in place (text outlives the options). */
static int
parse_policies(sweep_opts *o, char *text)
{
    char *save = NULL;
    size_t len = strlen(text);
    if (len == 0 || text[0] == ',' || text[len - 1] == ',' || strstr(text, ",,")) {
        cli_err("--policies: empty name in '%s'", text);
        return -1;
    }
    for (char *p = strtok_r(text, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
        if (strcmp(p, "all") == 0) {
            for (const ep_policy_ops *const *q = ep_policy_all(); *q; q++)
                if (add_policy(o, (*q)->name))
                    return -1;
            if (add_policy(o, EP_BOUND_NAME))
                return -1;
        } else if (add_policy(o, p)) {
            return -1;
        }
    }
    return 0;
}

static int
dry_run(const sweep_plan *plan, const int *todo, int ntodo)
{
    char what[512];
    int k = 0;
    for (int i = 0; i < plan->n; i++) {
        int pending = k < ntodo && todo[k] == i;
        k += pending;
        sweep_describe(&plan->runs[i], what, sizeof what);
        printf("%-4s %s\n", pending ? "todo" : "done", what);
    }
    printf("sweep: %d runs planned, %d already stored, %d to run\n", plan->n, plan->n - ntodo,
           ntodo);
    return EXIT_OK;
}

static int
run_local(const sweep_opts *o)
{
    ep_scenario sc;
    sweep_ctx ctx;
    sweep_plan plan;
    int rc = sweep_setup(o, o->quiet, &sc, &ctx, &plan);
    if (rc)
        return rc;
    int *todo = NULL, ntodo = 0;
    rc = sweep_todo(o->out, &plan, !o->dry_run && o->jobs > 1, o->dry_run, &todo, &ntodo);
    if (rc)
        goto done;
    if (o->dry_run) {
        rc = dry_run(&plan, todo, ntodo);
        goto done;
    }
    int jobs = o->jobs < ntodo ? o->jobs : ntodo;
    if (!o->quiet && ntodo == 0)
        fprintf(stderr, "sweep: all %d runs already in %s; nothing to run\n", plan.n, o->out);
    else if (!o->quiet)
        fprintf(stderr,
                "sweep: %d runs planned (%d policies x %d grid points); %d already in %s, "
                "%d to run with %d worker%s\n",
                plan.n, o->npolicies, o->npolicies ? plan.n / o->npolicies : 0, plan.n - ntodo,
                o->out, ntodo, jobs > 1 ? jobs : 1, jobs > 1 ? "s" : "");
    sweep_progress pg;
    sweep_progress_init(&pg, ntodo, o->quiet, "sweep");
    int failed = sweep_exec(&ctx, &plan, todo, ntodo, o->jobs, &pg);
    sweep_progress_end(&pg);
    sweep_settle(o->out);
    if (failed < 0) {
        rc = EXIT_FAIL;
        goto done;
    }
    printf("sweep: %d runs: %d run, %d already stored, %d failed in %.1f s; results in %s\n",
           plan.n, ntodo - failed, plan.n - ntodo, failed, sweep_now() - pg.t0, o->out);
    rc = failed ? EXIT_FAIL : EXIT_OK;
done:
    free(todo);
    sweep_plan_fini(&plan);
    ep_scenario_fini(&sc);
    return rc;
}

int
cmd_sweep(int argc, char **argv)
{
    static const struct option longopts[] = {{"scenario", required_argument, NULL, 's'},
                                             {"policies", required_argument, NULL, 'p'},
                                             {"grid", required_argument, NULL, 'g'},
                                             {"jobs", required_argument, NULL, 'j'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"trace-db", required_argument, NULL, 't'},
                                             {"records", no_argument, NULL, 'R'},
                                             {"mpi", no_argument, NULL, 'M'},
                                             {"dry-run", no_argument, NULL, 'n'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    sweep_opts o;
    memset(&o, 0, sizeof o);
    o.jobs = 1;
    const char *grid = NULL;
    char *pols = NULL;
    int mpi = 0, c, rc = EXIT_USAGE;
    optind = 1;
    while ((c = getopt_long(argc, argv, "hj:", longopts, NULL)) != -1) {
        int bad = 0;
        int64_t j;
        switch (c) {
        case 's':
            o.scen = optarg;
            break;
        case 'p':
            free(pols);
            pols = strdup(optarg);
            break;
        case 'g':
            grid = optarg;
            break;
        case 'j':
            bad = cli_i64("--jobs", optarg, 1, 1024, &j);
            o.jobs = (int)j;
            break;
        case 'o':
            o.out = optarg;
            break;
        case 'd':
            bad = cli_double("--duration", optarg, 1e-3, 1e9, &o.duration_s);
            break;
        case 't':
            o.trace_db = optarg;
            break;
        case 'R':
            o.records = 1;
            break;
        case 'M':
            mpi = 1;
            break;
        case 'n':
            o.dry_run = 1;
            break;
        case 'q':
            o.quiet = 1;
            break;
        case 'h':
            free(pols);
            fputs(help, stdout);
            printf("MPI: %s\n",
                   EP_HAVE_MPI ? "built in (--mpi available)" : "not built in (--mpi exits 2)");
            return EXIT_OK;
        default:
            free(pols);
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        if (bad)
            goto done;
    }
    if (optind != argc) {
        cli_err("sweep: unexpected argument '%s' (see --help)", argv[optind]);
        goto done;
    }
    if (!pols || !o.out) {
        cli_err("sweep: --policies and --out are required (see --help)");
        goto done;
    }
    if (parse_policies(&o, pols))
        goto done;
    /* An output that cannot be written fails now, not after the runs. */
    if (!o.dry_run && cli_out_check("--out", o.out))
        goto done;
    char err[256];
    if (grid && sweep_grid_parse(grid, &o.grid, err, sizeof err)) {
        cli_err("%s", err);
        goto done;
    }
    if (mpi) {
#if EP_HAVE_MPI
        rc = sweep_mpi_main(&o);
#else
        cli_err("sweep: --mpi: this epara was built without MPI (install an MPI, e.g. "
                "libmpich-dev, and reconfigure with CMake)");
        rc = EXIT_USAGE;
#endif
        goto done;
    }
    rc = run_local(&o);
done:
    sweep_grid_fini(&o.grid);
    free(pols);
    return rc;
}
