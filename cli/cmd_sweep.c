/* `epara sweep`: runs policies x a parameter grid on one scenario in parallel worker
 * processes (or MPI ranks) into one results database, with the sweep engine of
 * epara/experiments/sweep.h (experiments/sweep_*.c). Here: the options, the scenario loaded and its
 * policy parameters checked before its traces are prepared, once, before any worker
 * starts, the progress display and the summary lines. Every run is stored with a key
 * naming its scenario, policy and options, and a run whose key is already stored is
 * skipped, so an interrupted sweep resumes. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/policies/policy.h"
#include "epara/experiments/scenario.h"
#include "epara/experiments/sweep.h"
#include "util.h"
#include "gitrev.h"

#define MAX_POLICIES 32

/* The command's options. */
typedef struct sweep_opts {
    const char *scen;     /* NULL: the embedded default */
    const char *trace_db; /* NULL: the scenario's */
    const char *out;
    const char *policies[MAX_POLICIES];
    int npolicies;
    ep_sweep_grid grid;
    double duration_s;
    int jobs, records, quiet, dry_run;
} sweep_opts;

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
    if (o->npolicies == MAX_POLICIES) {
        cli_err("--policies: at most %d", MAX_POLICIES);
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

/* Checks every policy parameter any planned run would get, before any trace is prepared
 * or worker started: for each policy, every value of every param.KEY dimension over the
 * scenario's parameters (each entry is checked on its own, so tuples that take each value
 * once cover every grid point). Prints the problem; -1 on the first. */
static int
check_params(const sweep_opts *o, const ep_scenario *sc)
{
    const char *keys[EP_SWEEP_MAX_DIMS], *vals[EP_SWEEP_MAX_DIMS];
    int n = 0, nvals = 1;
    for (int d = 0; d < o->grid.ndims; d++)
        if (o->grid.dims[d].kind == EP_SWEEP_PARAM) {
            keys[n++] = o->grid.dims[d].key;
            if (o->grid.dims[d].nvals > nvals)
                nvals = o->grid.dims[d].nvals;
        }
    for (int p = 0; p < o->npolicies; p++)
        for (int j = 0; j < nvals; j++) {
            for (int d = 0, k = 0; d < o->grid.ndims; d++) {
                const ep_sweep_dim *dm = &o->grid.dims[d];
                if (dm->kind == EP_SWEEP_PARAM)
                    vals[k++] = dm->text[j < dm->nvals ? j : dm->nvals - 1];
            }
            if (cli_policy_params_check(sc, o->scen, o->policies[p], keys, vals, n, "--grid"))
                return -1;
        }
    return 0;
}

/* Loads the scenario (preparing its traces and profiles: quiet_prepare silences where they
 * came from), fills *ctx (ctx->sc = sc) and builds *plan. Prints problems; returns an exit
 * status (0: *sc and *plan are the caller's to free). */
static int
setup(const sweep_opts *o, int quiet_prepare, ep_scenario *sc, ep_sweep_ctx *ctx,
      ep_sweep_plan *plan)
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
    ep_sweep_ctx_init(ctx, sc, o->trace_db ? o->trace_db : sc->run.trace_db, o->out, o->records,
                      EP_GIT_REV);
    char err[256];
    if (ep_sweep_plan_build(&o->grid, o->policies, o->npolicies, sc, o->scen, o->duration_s,
                            o->records, plan, err, sizeof err)) {
        cli_err("%s", err);
        ep_scenario_fini(sc);
        return EXIT_USAGE;
    }
    return EXIT_OK;
}

/* "policy xRATE seed N [duration S] [slo xX] [k=v ...]" of r into buf. */
static void
describe(const ep_sweep_run *r, char *buf, size_t len)
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

/* Progress on stderr: a bar with runs done / total and the ETA on a terminal, one line per
 * run otherwise, nothing but failures when quiet. */
typedef struct progress {
    int total, done, failed;
    int bar, quiet;
    double t0, last_draw;
    const char *label; /* "sweep" or "sweep rank N" */
} progress;

static double
now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
fmt_dur(double s, char *buf, size_t len)
{
    long t = (long)(s + 0.5);
    if (t >= 3600)
        snprintf(buf, len, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60)
        snprintf(buf, len, "%ldm%02lds", t / 60, t % 60);
    else
        snprintf(buf, len, "%lds", t);
}

static void
draw(progress *pg)
{
    enum { WIDTH = 30 };
    char bar[WIDTH + 1], el[32], eta[32] = "--";
    int fill = pg->total ? (int)((long)pg->done * WIDTH / pg->total) : WIDTH;
    for (int i = 0; i < WIDTH; i++)
        bar[i] = i < fill ? '#' : '-';
    bar[WIDTH] = '\0';
    double now = now_s(), elapsed = now - pg->t0;
    fmt_dur(elapsed, el, sizeof el);
    if (pg->done > 0 && pg->done < pg->total)
        fmt_dur(elapsed / pg->done * (pg->total - pg->done), eta, sizeof eta);
    else if (pg->done == pg->total)
        snprintf(eta, sizeof eta, "0s");
    fprintf(stderr, "\r\033[K%s [%s] %d/%d runs %3d%%  %s elapsed, ETA %s", pg->label, bar,
            pg->done, pg->total, pg->total ? 100 * pg->done / pg->total : 100, el, eta);
    if (pg->failed)
        fprintf(stderr, "  (%d failed)", pg->failed);
    fflush(stderr);
    pg->last_draw = now;
}

static void
progress_init(progress *pg, int total, int quiet, const char *label)
{
    memset(pg, 0, sizeof *pg);
    pg->total = total;
    pg->quiet = quiet;
    pg->bar = !quiet && cli_tty() && total > 0;
    pg->label = label;
    pg->t0 = pg->last_draw = now_s();
    if (pg->bar)
        draw(pg);
}

/* ep_sweep_hooks.on_result */
static void
progress_run(void *arg, const ep_sweep_plan *plan, const ep_sweep_result *r)
{
    progress *pg = arg;
    char what[512];
    pg->done++;
    if (r->status)
        pg->failed++;
    describe(&plan->runs[r->run], what, sizeof what);
    if (r->status) {
        fprintf(stderr, "%s%s: run %d (%s) failed: %s\n", pg->bar ? "\r\033[K" : "", pg->label,
                r->run, what, r->msg);
    } else if (!pg->quiet && !pg->bar) {
        fprintf(stderr, "%s: %d/%d %s: goodput %.4g/s, attainment %.4f (%.2f s)\n", pg->label,
                pg->done, pg->total, what, r->goodput_per_s, r->slo_attainment, r->wall_s);
    }
    if (pg->bar)
        draw(pg);
}

/* ep_sweep_hooks.on_tick */
static void
progress_tick(void *arg)
{
    progress *pg = arg;
    if (pg->bar && now_s() - pg->last_draw >= 0.5)
        draw(pg);
}

static void
progress_end(progress *pg)
{
    if (pg->bar) {
        draw(pg);
        fputc('\n', stderr);
    }
}

static int
dry_run(const ep_sweep_plan *plan, const int *todo, int ntodo)
{
    char what[512];
    int k = 0;
    for (int i = 0; i < plan->n; i++) {
        int pending = k < ntodo && todo[k] == i;
        k += pending;
        describe(&plan->runs[i], what, sizeof what);
        printf("%-4s %s\n", pending ? "todo" : "done", what);
    }
    printf("sweep: %d runs planned, %d already stored, %d to run\n", plan->n, plan->n - ntodo,
           ntodo);
    return EXIT_OK;
}

/* Asks for WAL on the results database so that workers store while others read; without
 * it the busy timeout still serializes them correctly. */
static void
want_wal(const sweep_opts *o)
{
    char err[512];
    if (!o->dry_run && o->jobs > 1 && ep_sweep_journal(o->out, 1, err, sizeof err))
        cli_err("sweep: %s: cannot switch to WAL (%s); continuing", o->out, err);
}

static int
run_local(const sweep_opts *o)
{
    ep_scenario sc;
    ep_sweep_ctx ctx;
    ep_sweep_plan plan;
    char err[1024];
    int rc = setup(o, o->quiet, &sc, &ctx, &plan);
    if (rc)
        return rc;
    int *todo = NULL, ntodo = 0;
    if (ep_sweep_todo(o->out, &plan, o->dry_run, &todo, &ntodo, err, sizeof err)) {
        cli_err("%s", err);
        rc = EXIT_FAIL;
        goto done;
    }
    want_wal(o);
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
    progress pg;
    progress_init(&pg, ntodo, o->quiet, "sweep");
    ep_sweep_hooks hooks = {&pg, progress_run, progress_tick};
    int failed = ep_sweep_exec(&ctx, &plan, todo, ntodo, o->jobs, &hooks, err, sizeof err);
    progress_end(&pg);
    char jerr[512];
    ep_sweep_journal(o->out, 0, jerr, sizeof jerr);
    if (failed < 0) {
        cli_err("%s", err);
        rc = EXIT_FAIL;
        goto done;
    }
    printf("sweep: %d runs: %d run, %d already stored, %d failed in %.1f s; results in %s\n",
           plan.n, ntodo - failed, plan.n - ntodo, failed, now_s() - pg.t0, o->out);
    rc = failed ? EXIT_FAIL : EXIT_OK;
done:
    free(todo);
    ep_sweep_plan_fini(&plan);
    ep_scenario_fini(&sc);
    return rc;
}

#if EP_HAVE_MPI
/* What `epara sweep --mpi` shows on one rank: rank 0 the plan, the merges and the summary;
 * every rank its failures (and rank 0 its progress). */
typedef struct mpi_cli {
    const sweep_opts *o;
    progress pg;
    char label[64];
} mpi_cli;

/* Rank 0 says where the traces came from; the others are quiet. */
static int
mpi_setup(void *arg, int rank, ep_scenario *sc, ep_sweep_ctx *ctx, ep_sweep_plan *plan)
{
    const mpi_cli *m = arg;
    return setup(m->o, rank != 0 || m->o->quiet, sc, ctx, plan);
}

static void
mpi_start(void *arg, const ep_sweep_mpi_info *in)
{
    mpi_cli *m = arg;
    if (in->rank == 0 && !m->o->quiet)
        fprintf(stderr, "sweep: %d runs planned; %d already in %s, %d to run over %d ranks\n",
                in->planned, in->planned - in->todo, m->o->out, in->todo, in->size);
    snprintf(m->label, sizeof m->label, "sweep rank %d", in->rank);
    progress_init(&m->pg, in->mine, in->rank != 0 || m->o->quiet, m->label);
}

static void
mpi_end(void *arg, const ep_sweep_mpi_info *in)
{
    (void)in;
    progress_end(&((mpi_cli *)arg)->pg);
}

static void
mpi_note(void *arg, int error, const char *msg)
{
    const mpi_cli *m = arg;
    if (error)
        cli_err("%s", msg);
    else if (!m->o->quiet)
        fprintf(stderr, "%s\n", msg);
}

static int
run_mpi(const sweep_opts *o)
{
    mpi_cli m;
    memset(&m, 0, sizeof m);
    m.o = o;
    ep_sweep_mpi_ops ops = {.arg = &m,
                            .setup = mpi_setup,
                            .on_start = mpi_start,
                            .on_end = mpi_end,
                            .on_note = mpi_note,
                            .hooks = {&m.pg, progress_run, progress_tick}};
    ep_sweep_mpi_info in;
    int err = ep_sweep_mpi_run(&ops, o->out, o->jobs, o->dry_run, &in);
    if (err == EP_ECANCELED)
        return in.setup_status;
    if (err)
        return EXIT_FAIL;
    if (o->dry_run) {
        if (in.rank == 0)
            printf("sweep: %d runs planned, %d already stored, %d to run over %d ranks\n",
                   in.planned, in.planned - in.todo, in.todo, in.size);
        return EXIT_OK;
    }
    if (in.rank == 0)
        printf("sweep: %d runs over %d ranks: %lld run, %d already stored, %lld failed in %.1f "
               "s; results in %s\n",
               in.planned, in.size, (long long)(in.todo - in.failed), in.planned - in.todo,
               (long long)in.failed, now_s() - m.pg.t0, o->out);
    return in.failed ? EXIT_FAIL : EXIT_OK;
}
#endif

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
    if (grid && ep_sweep_grid_parse(grid, &o.grid, err, sizeof err)) {
        cli_err("%s", err);
        goto done;
    }
    if (mpi) {
#if EP_HAVE_MPI
        rc = run_mpi(&o);
#else
        cli_err("sweep: --mpi: this epara was built without MPI (install an MPI, e.g. "
                "libmpich-dev, and reconfigure with CMake)");
        rc = EXIT_USAGE;
#endif
        goto done;
    }
    rc = run_local(&o);
done:
    ep_sweep_grid_fini(&o.grid);
    free(pols);
    return rc;
}
