/* `epara maxrate`: the highest rate scale at which a policy keeps SLO attainment at or above
 * a target (DistServe-style goodput), by exponential search then bisection over
 * `--rate-scale`, with the request rate it corresponds to, in total and per device; with
 * --out, also one row of table max_rates in a results database (epara report marks it in
 * the figures instead of interpolating between swept scales). */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "epara/experiments/bound.h"
#include "epara/sim/results.h"
#include "epara/core/error.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "run_opts.h"
#include "util.h"
#include "gitrev.h"

static const char help[] =
        "usage: epara maxrate [options] --policy P\n"
        "\n"
        "Finds the highest rate scale at which policy P keeps the SLO attainment of the\n"
        "measured window >= the target: exponential search from 1, then bisection until the\n"
        "bracket is within --tol. Assumes attainment falls as the rate grows; --verify\n"
        "checks that it does below the answer.\n"
        "\n"
        "  --scenario FILE   scenario (default: the embedded edge-default)\n"
        "  --policy P        policy (required)\n"
        "  --attainment A    target SLO attainment in (0, 1] (default 0.9)\n"
        "  --service NAME    use one service's attainment instead of the overall one\n"
        "  --metric M        overall (default: SLO-met / all requests in the window) or\n"
        "                    services (the lowest attainment of any service with requests)\n"
        "                    or mean (the mean attainment over services with requests);\n"
        "                    the bound maximizes the same metric (or --service's)\n"
        "  --duration S      replay only the first S seconds of the workload\n"
        "  --seed N          seed (default: the scenario's)\n"
        "  --param KEY=VALUE set a policy parameter (repeatable; epara sim --list-params)\n"
        "  --slo-scale X     multiply every service's SLO times by X (default 1)\n"
        "  --tol T           relative bracket width to stop at (default 0.02)\n"
        "  --max-scale X     give up above this scale (default 1024)\n"
        "  --verify N        also run N scales below the answer, geometrically spaced down\n"
        "                    to half of it; where one misses the target, search again\n"
        "                    below it, until all N meet it (default 0: none). The answer\n"
        "                    is then a scale at and below which the target holds, not\n"
        "                    any crossing of a curve that is not monotone\n"
        "  --trace-db DB     trace database (default: the scenario's)\n"
        "  --out DB          also store the result as a row of table max_rates in this results\n"
        "                    database (created when absent; checked before any run): epara\n"
        "                    report and plot use it for the series with the same scenario,\n"
        "                    policy, parameters, duration and SLO scale (overall metric,\n"
        "                    target 0.9)\n"
        "  --json            one JSON object on stdout\n"
        "  --quiet           no per-run lines on stderr\n";

/* Option defaults (--help gives them) and the ranges an option is checked against. */
#define MR_TARGET_DEFAULT    0.9  /* --attainment */
#define MR_TARGET_MIN        1e-6 /* --attainment: the target must be above 0 */
#define MR_TOL_DEFAULT       0.02 /* --tol, relative bracket width */
#define MR_TOL_MIN           1e-4
#define MR_MAX_SCALE_DEFAULT 1024 /* --max-scale */
#define MR_MAX_SCALE_MAX     1e6
#define MR_VERIFY_MAX        64 /* --verify */
/* The lowest scale the downward search tries (halving from 1) before it concludes that no
 * scale meets the target. */
#define MR_MIN_SCALE (1.0 / 1024)
/* mr_parse: the options are good, go on to the runs (any other value is an exit status). */
#define MR_RUN (-1)

typedef struct probe {
    const ep_scenario *sc;
    ep_run_opts o;
    int svc;
    int min_over_services;
    int mean_over_services;
    int runs;
    int quiet;
    double last_requests_per_s; /* requests per second in the window at the last scale */
    double last_goodput_per_s;  /* SLO-met requests per second in the window, likewise */
} probe;

static int
attain_at(probe *p, double scale, double *att)
{
    ep_run_result r;
    char msg[512];
    p->o.rate_scale = scale;
    int err = p->o.policy && strcmp(p->o.policy, EP_BOUND_NAME) == 0
                      ? ep_bound_run(p->sc, &p->o, &r, msg, sizeof msg)
                      : ep_sim_run(p->sc, &p->o, &r, msg, sizeof msg);
    if (err) {
        cli_err("maxrate: %s", msg);
        return err;
    }
    p->runs++;
    *att = p->svc >= 0 ? r.svc[p->svc].slo_attainment : r.slo_attainment;
    if (p->min_over_services)
        for (int i = 0; i < r.nservices; i++)
            if (r.svc[i].requests > 0 && !(r.svc[i].slo_attainment >= *att))
                *att = r.svc[i].slo_attainment;
    if (p->mean_over_services) {
        double sum = 0;
        int k = 0;
        for (int i = 0; i < r.nservices; i++)
            if (r.svc[i].requests > 0) {
                sum += isfinite(r.svc[i].slo_attainment) ? r.svc[i].slo_attainment : 0;
                k++;
            }
        *att = k ? sum / k : 0;
    }
    double reqs = p->svc >= 0 ? (double)r.svc[p->svc].requests : (double)r.requests;
    p->last_requests_per_s = r.window_s > 0 ? reqs / r.window_s : 0;
    p->last_goodput_per_s = p->svc >= 0 ? r.svc[p->svc].goodput_per_s : r.goodput_per_s;
    if (!isfinite(*att))
        *att = 0;
    if (!p->quiet)
        fprintf(stderr, "maxrate: %s x%.4g: attainment %.4f (%.1f s)\n", r.policy, scale, *att,
                r.wall_s);
    ep_run_result_fini(&r);
    return 0;
}

/* The options of one run, as parsed (the policy, seed, metric and --quiet go to the probe). */
typedef struct mr_opts {
    cli_run run; /* --scenario, --policy, --seed, ... (run_opts.h; the probe's o takes policy
                  * and seed) */
    const char *svcname, *outp, *metric;
    double target, tol, maxscale;
    int as_json;
    int verify; /* --verify: scales checked below the answer */
} mr_opts;

/* The bracket: lo meets the target (0: no scale tried does), hi does not; the attainment and
 * the rates measured at lo. */
typedef struct mr_bracket {
    double lo, hi, att_lo, rps_lo, gps_lo;
} mr_bracket;

/* The result as a row of max_rates in results database path. The options object names the
 * parameters as `epara sweep` and `epara sim` record them, so that epara report can match the
 * row to a series. Prints the problem; 0 or -1. */
static int
store_result(const char *path, const ep_scenario *sc, const probe *p, const mr_opts *m,
             const mr_bracket *b)
{
    json_t *pj = json_object(), *opts = NULL;
    char *otxt = NULL, host[256] = "unknown", err[512] = "out of memory";
    ep_results *res = NULL;
    int ok = 0;
    for (int i = 0; pj && i < m->run.params.n; i++) {
        const char *kv = m->run.params.kv[i], *eq = strchr(kv, '=');
        char key[EP_NAME_MAX];
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
        json_object_set_new(pj, key, json_string(eq + 1));
    }
    opts = json_pack("{s:f, s:f, s:o}", "slo_scale", m->run.slo, "duration_s", m->run.duration,
                     "params", pj);
    otxt = opts ? json_dumps(opts, JSON_COMPACT) : NULL;
    gethostname(host, sizeof host - 1);
    double met = b->lo > 0 ? b->lo : NAN; /* unknown when the target was never met */
    ep_max_rate_row row = {
            .scenario = sc->name,
            .policy = p->o.policy,
            .metric = m->metric,
            .service = m->svcname,
            .options_json = otxt,
            .git_rev = EP_GIT_REV,
            .host = host,
            .attainment_target = m->target,
            .max_rate_scale = met,
            .bracket_lo = met,
            .bracket_hi = b->hi,
            .attainment = b->lo > 0 ? b->att_lo : NAN,
            .requests_per_s = b->lo > 0 ? b->rps_lo : NAN,
            .goodput_per_s = b->lo > 0 ? b->gps_lo : NAN,
            .duration_s = m->run.duration,
            .slo_scale = m->run.slo,
            .tol = m->tol,
            .seed = p->o.seed_set ? p->o.seed : sc->run.seed,
            .runs = p->runs,
    };
    if (otxt && ep_results_open(path, &res, err, sizeof err) == 0) {
        ok = ep_results_add_max_rate(res, &row) == 0;
        if (!ok)
            snprintf(err, sizeof err, "%s", ep_results_errmsg(res));
    }
    if (!ok)
        cli_err("maxrate: %s: cannot store the result: %s", path, err);
    ep_results_close(res);
    json_decref(opts);
    free(otxt);
    return ok ? 0 : -1;
}

/* Checks what the options name before anything is loaded: the policy (required, known), no
 * operand after them (optind short of argc), an --out that can be written.
 * Returns MR_RUN or EXIT_USAGE (printed). */
static int
mr_check(const mr_opts *m, const probe *p, int argc)
{
    if (!p->o.policy || optind != argc) {
        cli_err("maxrate: --policy is required (see --help)");
        return EXIT_USAGE;
    }
    if (cli_run_check_policy(&m->run, 1, "see 'epara sim --list-policies'"))
        return EXIT_USAGE;
    /* An output that cannot be written fails now, not after the runs. */
    if (m->outp && cli_out_check("--out", m->outp))
        return EXIT_USAGE;
    return MR_RUN;
}

/* Reads the options into *m and the probe's part into *p (both set to the defaults first).
 * Returns MR_RUN (the options checked by mr_check), or the exit status when there is nothing
 * to run: --help, or a bad option (printed). */
static int
mr_parse(int argc, char **argv, mr_opts *m, probe *p)
{
    static const struct option longopts[] = {CLI_RUN_LONGOPTS,
                                             {"attainment", required_argument, NULL, 'a'},
                                             {"service", required_argument, NULL, 'v'},
                                             {"tol", required_argument, NULL, 't'},
                                             {"metric", required_argument, NULL, 'M'},
                                             {"max-scale", required_argument, NULL, 'm'},
                                             {"verify", required_argument, NULL, 'V'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    memset(m, 0, sizeof *m);
    m->metric = "overall";
    m->target = MR_TARGET_DEFAULT;
    m->tol = MR_TOL_DEFAULT;
    m->maxscale = MR_MAX_SCALE_DEFAULT;
    cli_run_init(&m->run);
    memset(p, 0, sizeof *p);
    p->svc = -1;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = cli_run_opt(&m->run, c, optarg);
        if (bad == CLI_OPT_TAKEN)
            continue;
        if (bad != CLI_OPT_OTHER)
            return bad;
        bad = 0;
        switch (c) {
        case 'a':
            bad = cli_double("--attainment", optarg, MR_TARGET_MIN, 1, &m->target);
            break;
        case 'v':
            m->svcname = optarg;
            break;
        case 't':
            bad = cli_double("--tol", optarg, MR_TOL_MIN, 1, &m->tol);
            break;
        case 'm':
            bad = cli_double("--max-scale", optarg, 1, MR_MAX_SCALE_MAX, &m->maxscale);
            break;
        case 'o':
            m->outp = optarg;
            break;
        case 'V': {
            int64_t v = 0;
            bad = cli_i64("--verify", optarg, 0, MR_VERIFY_MAX, &v);
            m->verify = (int)v;
            break;
        }
        case 'M':
            if (strcmp(optarg, "services") == 0) {
                p->min_over_services = 1;
                m->metric = "services";
            } else if (strcmp(optarg, "mean") == 0) {
                p->mean_over_services = 1;
                m->metric = "mean";
            } else if (strcmp(optarg, "overall") != 0) {
                cli_err("--metric: '%s' is not overall, services or mean", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'j':
            m->as_json = 1;
            break;
        case 'q':
            p->quiet = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return EXIT_OK;
        default:
            fputs(help, stderr);
            return EXIT_USAGE;
        }
        if (bad)
            return EXIT_USAGE;
    }
    p->o.policy = m->run.policy;
    p->o.seed = m->run.seed;
    p->o.seed_set = m->run.seed_set;
    return mr_check(m, p, argc);
}

/* Loads the scenario, checks the parameters, prepares its traces (trace database --trace-db or
 * the scenario's) and sets the probe up on them: SLOs scaled, the service, the duration.
 * Returns an exit status; 0: *sc and *st are the caller's (on failure nothing is). */
static int
mr_setup(const mr_opts *m, probe *p, ep_scenario *sc, ep_store **st)
{
    /* Parameters are checked before any trace is prepared. */
    int rc = cli_run_load(&m->run, sc, st, p->quiet);
    if (rc)
        return rc;
    /* The bound maximizes what the search measures (epara/node/node.h). */
    p->o.bound_objective = p->min_over_services    ? EP_BOUND_OBJ_MIN
                           : p->mean_over_services ? EP_BOUND_OBJ_MEAN
                                                   : EP_BOUND_OBJ_REQUESTS;
    if (m->svcname && (p->svc = ep_scenario_find_service(sc, m->svcname)) < 0) {
        cli_err("--service: no service '%s' in the scenario", m->svcname);
        rc = EXIT_USAGE;
    } else {
        if (p->svc >= 0) {
            p->o.bound_objective = EP_BOUND_OBJ_SERVICE;
            p->o.bound_service = p->svc;
        }
        p->sc = sc;
        p->o.traces = *st;
        if (m->run.duration > 0 && ep_dur_from_s(m->run.duration, &p->o.duration))
            rc = EXIT_USAGE;
    }
    if (rc) {
        ep_store_close(*st);
        *st = NULL;
        ep_scenario_fini(sc);
    }
    return rc;
}

/* Makes scale, where the probe just measured attainment att, the bracket's low end. */
static void
mr_take_lo(mr_bracket *b, const probe *p, double scale, double att)
{
    b->lo = scale;
    b->att_lo = att;
    b->rps_lo = p->last_requests_per_s;
    b->gps_lo = p->last_goodput_per_s;
}

/* The exponential search: from scale 1, doubling while the target is met (up to --max-scale)
 * or halving while it is not (down to MR_MIN_SCALE; the target never met leaves lo 0). 0 or
 * -1 (printed). */
static int
mr_bracket_search(probe *p, const mr_opts *m, mr_bracket *b)
{
    double att;
    *b = (mr_bracket){0, 1, 0, 0, 0};
    if (attain_at(p, b->hi, &att))
        return -1;
    if (att >= m->target) {
        while (att >= m->target) {
            mr_take_lo(b, p, b->hi, att);
            b->hi *= 2;
            if (b->hi > m->maxscale) {
                cli_err("maxrate: attainment still %.3f at x%g; raise --max-scale", att, b->lo);
                return -1;
            }
            if (attain_at(p, b->hi, &att))
                return -1;
        }
    } else {
        double s = 1;
        while (att < m->target && s > MR_MIN_SCALE) {
            b->hi = s;
            s /= 2;
            if (attain_at(p, s, &att))
                return -1;
        }
        if (att >= m->target)
            mr_take_lo(b, p, s, att);
    }
    return 0;
}

/* Bisection (at geometric midpoints) until the bracket is within --tol. 0 or -1 (printed). */
static int
mr_bisect(probe *p, const mr_opts *m, mr_bracket *b)
{
    double att;
    while (b->lo > 0 && b->hi / b->lo > 1 + m->tol) {
        double mid = sqrt(b->lo * b->hi);
        if (attain_at(p, mid, &att))
            return -1;
        if (att >= m->target)
            mr_take_lo(b, p, mid, att);
        else
            b->hi = mid;
    }
    return 0;
}

/* --verify: the scales lo x 2^(-k / N), k = 1..N, from the highest down, each must meet the
 * target. At the first that misses, the bracket becomes [the next checked scale below it
 * that meets it (or, past the last, a halving search from it), that scale] and is bisected
 * again, then verified again. Each round lowers hi, so it ends. 0 or -1 (printed). */
static int
mr_verify(probe *p, const mr_opts *m, mr_bracket *b)
{
    double att;
    int again = 1;
    while (again && b->lo > 0 && m->verify > 0) {
        again = 0;
        double miss = 0;
        for (int k = 1; k <= m->verify && !again; k++) {
            double s = b->lo * pow(2, -(double)k / m->verify);
            if (attain_at(p, s, &att))
                return -1;
            if (!(att >= m->target)) {
                miss = s;
            } else if (miss > 0) {
                b->hi = miss;
                mr_take_lo(b, p, s, att);
                again = 1;
            }
        }
        if (miss > 0 && !again) { /* the lowest checked scale missed too: halve from it */
            double s = miss;
            *b = (mr_bracket){0, miss, 0, 0, 0};
            while (s > MR_MIN_SCALE) {
                s /= 2;
                if (attain_at(p, s, &att))
                    return -1;
                if (att >= m->target) {
                    mr_take_lo(b, p, s, att);
                    break;
                }
                b->hi = s;
            }
            again = b->lo > 0;
        }
        if (again && mr_bisect(p, m, b))
            return -1;
    }
    return 0;
}

/* Stores the result with --out, then prints it on stdout, as JSON with --json. Returns the
 * exit status. */
static int
mr_report(const mr_opts *m, const probe *p, const ep_scenario *sc, const mr_bracket *b)
{
    const char *svc = m->svcname;
    double per_dev = sc->ndevices > 0 ? b->rps_lo / sc->ndevices : 0;
    if (m->outp && store_result(m->outp, sc, p, m, b))
        return EXIT_FAIL;
    if (m->as_json)
        printf("{\"policy\":\"%s\",\"scenario\":\"%s\",\"attainment_target\":%g,"
               "\"service\":%s%s%s,\"max_rate_scale\":%.6g,\"attainment\":%.6g,"
               "\"requests_per_s\":%.6g,\"requests_per_s_per_device\":%.6g,\"devices\":%d,"
               "\"slo_scale\":%g,\"runs\":%d,\"verified\":%d,\"bracket\":[%.6g,%.6g]}\n",
               p->o.policy, sc->name, m->target, svc ? "\"" : "", svc ? svc : "null",
               svc ? "\"" : "", b->lo, b->att_lo, b->rps_lo, per_dev, sc->ndevices, m->run.slo,
               p->runs, m->verify, b->lo, b->hi);
    else
        printf("%s: max rate scale %.4g at attainment >= %.3g%s%s (%.4g req/s in the window, "
               "%.4g per device over %d devices; %d runs)\n",
               p->o.policy, b->lo, m->target, svc ? " for " : "", svc ? svc : "", b->rps_lo,
               per_dev, sc->ndevices, p->runs);
    return EXIT_OK;
}

int
cmd_maxrate(int argc, char **argv)
{
    mr_opts m;
    probe p;
    int rc = mr_parse(argc, argv, &m, &p);
    if (rc != MR_RUN)
        return rc;
    ep_scenario sc;
    ep_store *st = NULL;
    if ((rc = mr_setup(&m, &p, &sc, &st)) != 0)
        return rc;
    mr_bracket b;
    if (mr_bracket_search(&p, &m, &b) || mr_bisect(&p, &m, &b) || mr_verify(&p, &m, &b))
        rc = EXIT_FAIL;
    else
        rc = mr_report(&m, &p, &sc, &b);
    ep_store_close(st);
    ep_scenario_fini(&sc);
    return rc;
}
