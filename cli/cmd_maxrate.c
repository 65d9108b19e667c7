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
#include "epara/bound.h"
#include "epara/results.h"
#include "epara/error.h"
#include "epara/scenario.h"
#include "epara/sim.h"
#include "util.h"
#include "gitrev.h"

static const char help[] =
        "usage: epara maxrate [options] --policy P\n"
        "\n"
        "Finds the highest rate scale at which policy P keeps the SLO attainment of the\n"
        "measured window >= the target: exponential search from 1, then bisection until the\n"
        "bracket is within --tol. Assumes attainment falls as the rate grows.\n"
        "\n"
        "  --scenario FILE   scenario (default: the embedded edge-default)\n"
        "  --policy P        policy (required)\n"
        "  --attainment A    target SLO attainment in (0, 1] (default 0.9)\n"
        "  --service NAME    use one service's attainment instead of the overall one\n"
        "  --metric M        overall (default: SLO-met / all requests in the window) or\n"
        "                    services (the lowest attainment of any service with requests)\n"
        "                    or mean (the mean attainment over services with requests)\n"
        "  --duration S      replay only the first S seconds of the workload\n"
        "  --seed N          seed (default: the scenario's)\n"
        "  --param KEY=VALUE set a policy parameter (repeatable; epara sim --list-params)\n"
        "  --slo-scale X     multiply every service's SLO times by X (default 1)\n"
        "  --tol T           relative bracket width to stop at (default 0.02)\n"
        "  --max-scale X     give up above this scale (default 1024)\n"
        "  --trace-db DB     trace database (default: the scenario's)\n"
        "  --out DB          also store the result as a row of table max_rates in this results\n"
        "                    database (created when absent; checked before any run): epara\n"
        "                    report and plot use it for the series with the same scenario,\n"
        "                    policy, parameters, duration and SLO scale (overall metric,\n"
        "                    target 0.9)\n"
        "  --json            one JSON object on stdout\n"
        "  --quiet           no per-run lines on stderr\n";

typedef struct probe {
    const ep_scenario *sc;
    ep_sim_opts o;
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
    ep_sim_result r;
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
    ep_sim_result_fini(&r);
    return 0;
}

/* The result as a row of max_rates in results database path. The options object names the
 * parameters as `epara sweep` and `epara sim` record them, so that epara report can match the
 * row to a series. Prints the problem; 0 or -1. */
static int
store_result(const char *path, const ep_scenario *sc, const probe *p, const char *metric,
             const char *svcname, double target, double tol, double dur, double slo,
             const cli_params *params, double lo, double hi, double att_lo, double rps_lo,
             double gps_lo)
{
    json_t *pj = json_object(), *opts = NULL;
    char *otxt = NULL, host[256] = "unknown", err[512] = "out of memory";
    ep_results *res = NULL;
    int ok = 0;
    for (int i = 0; pj && i < params->n; i++) {
        const char *eq = strchr(params->kv[i], '=');
        char key[EP_NAME_MAX];
        snprintf(key, sizeof key, "%.*s", (int)(eq - params->kv[i]), params->kv[i]);
        json_object_set_new(pj, key, json_string(eq + 1));
    }
    opts = json_pack("{s:f, s:f, s:o}", "slo_scale", slo, "duration_s", dur, "params", pj);
    otxt = opts ? json_dumps(opts, JSON_COMPACT) : NULL;
    gethostname(host, sizeof host - 1);
    double met = lo > 0 ? lo : NAN; /* unknown when the target was never met */
    ep_max_rate_row row = {
            .scenario = sc->name,
            .policy = p->o.policy,
            .metric = metric,
            .service = svcname,
            .options_json = otxt,
            .git_rev = EP_GIT_REV,
            .host = host,
            .attainment_target = target,
            .max_rate_scale = met,
            .bracket_lo = met,
            .bracket_hi = hi,
            .attainment = lo > 0 ? att_lo : NAN,
            .requests_per_s = lo > 0 ? rps_lo : NAN,
            .goodput_per_s = lo > 0 ? gps_lo : NAN,
            .duration_s = dur,
            .slo_scale = slo,
            .tol = tol,
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

int
cmd_maxrate(int argc, char **argv)
{
    static const struct option longopts[] = {{"scenario", required_argument, NULL, 's'},
                                             {"policy", required_argument, NULL, 'p'},
                                             {"attainment", required_argument, NULL, 'a'},
                                             {"service", required_argument, NULL, 'v'},
                                             {"duration", required_argument, NULL, 'd'},
                                             {"seed", required_argument, NULL, 'S'},
                                             {"tol", required_argument, NULL, 't'},
                                             {"metric", required_argument, NULL, 'M'},
                                             {"param", required_argument, NULL, 'P'},
                                             {"slo-scale", required_argument, NULL, 'l'},
                                             {"max-scale", required_argument, NULL, 'm'},
                                             {"trace-db", required_argument, NULL, 'T'},
                                             {"out", required_argument, NULL, 'o'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *scen = NULL, *tdb = NULL, *svcname = NULL, *outp = NULL, *metric = "overall";
    double target = 0.9, dur = 0, tol = 0.02, maxscale = 1024, slo = 1;
    int as_json = 0, c;
    cli_params params = {{NULL}, 0};
    probe p;
    memset(&p, 0, sizeof p);
    p.svc = -1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 's':
            scen = optarg;
            break;
        case 'p':
            p.o.policy = optarg;
            break;
        case 'a':
            bad = cli_double("--attainment", optarg, 1e-6, 1, &target);
            break;
        case 'v':
            svcname = optarg;
            break;
        case 'd':
            bad = cli_double("--duration", optarg, 1e-3, 1e9, &dur);
            break;
        case 'S':
            bad = cli_u64("--seed", optarg, &p.o.seed);
            p.o.seed_set = 1;
            break;
        case 't':
            bad = cli_double("--tol", optarg, 1e-4, 1, &tol);
            break;
        case 'm':
            bad = cli_double("--max-scale", optarg, 1, 1e6, &maxscale);
            break;
        case 'l':
            bad = cli_double("--slo-scale", optarg, EP_SLO_SCALE_MIN, EP_SLO_SCALE_MAX, &slo);
            break;
        case 'T':
            tdb = optarg;
            break;
        case 'o':
            outp = optarg;
            break;
        case 'P':
            if (cli_params_add(&params, optarg))
                return EXIT_USAGE;
            break;
        case 'M':
            if (strcmp(optarg, "services") == 0) {
                p.min_over_services = 1;
                metric = "services";
            } else if (strcmp(optarg, "mean") == 0) {
                p.mean_over_services = 1;
                metric = "mean";
            } else if (strcmp(optarg, "overall") != 0) {
                cli_err("--metric: '%s' is not overall, services or mean", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'j':
            as_json = 1;
            break;
        case 'q':
            p.quiet = 1;
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
    if (!p.o.policy || optind != argc) {
        cli_err("maxrate: --policy is required (see --help)");
        return EXIT_USAGE;
    }
    if (strcmp(p.o.policy, EP_BOUND_NAME) != 0 && !ep_policy_find(p.o.policy)) {
        cli_err("--policy: unknown policy '%s' (see 'epara sim --list-policies')", p.o.policy);
        return EXIT_USAGE;
    }
    /* An output that cannot be written fails now, not after the runs. */
    if (outp && cli_out_check("--out", outp))
        return EXIT_USAGE;
    ep_scenario sc;
    ep_store *st = NULL;
    int rc = cli_scenario_load(scen, &sc);
    if (rc)
        return rc;
    /* Parameters are checked before any trace is prepared. */
    if (cli_params_apply(&params, &sc) || cli_params_check(&params, &sc, scen, p.o.policy)) {
        ep_scenario_fini(&sc);
        return EXIT_USAGE;
    }
    if ((rc = cli_scenario_prepare(&sc, tdb, p.quiet, &st)) != 0)
        return rc;
    rc = EXIT_FAIL;
    ep_scenario_scale_slos(&sc, slo);
    if (svcname && (p.svc = ep_scenario_find_service(&sc, svcname)) < 0) {
        cli_err("--service: no service '%s' in the scenario", svcname);
        rc = EXIT_USAGE;
        goto done;
    }
    p.sc = &sc;
    p.o.traces = st;
    if (dur > 0 && ep_dur_from_s(dur, &p.o.duration)) {
        rc = EXIT_USAGE;
        goto done;
    }
    /* Bracket: lo meets the target, hi does not. */
    double lo = 0, hi = 1, att, att_lo = 0, rps_lo = 0, gps_lo = 0;
    if (attain_at(&p, hi, &att))
        goto done;
    if (att >= target) {
        while (att >= target) {
            lo = hi;
            att_lo = att;
            rps_lo = p.last_requests_per_s;
            gps_lo = p.last_goodput_per_s;
            hi *= 2;
            if (hi > maxscale) {
                cli_err("maxrate: attainment still %.3f at x%g; raise --max-scale", att, lo);
                goto done;
            }
            if (attain_at(&p, hi, &att))
                goto done;
        }
    } else {
        double s = 1;
        while (att < target && s > 1.0 / 1024) {
            hi = s;
            s /= 2;
            if (attain_at(&p, s, &att))
                goto done;
        }
        if (att < target) {
            lo = 0;
        } else {
            lo = s;
            att_lo = att;
            rps_lo = p.last_requests_per_s;
            gps_lo = p.last_goodput_per_s;
        }
    }
    while (lo > 0 && hi / lo > 1 + tol) {
        double mid = sqrt(lo * hi);
        if (attain_at(&p, mid, &att))
            goto done;
        if (att >= target) {
            lo = mid;
            att_lo = att;
            rps_lo = p.last_requests_per_s;
            gps_lo = p.last_goodput_per_s;
        } else {
            hi = mid;
        }
    }
    double per_dev = sc.ndevices > 0 ? rps_lo / sc.ndevices : 0;
    if (outp && store_result(outp, &sc, &p, metric, svcname, target, tol, dur, slo, &params, lo, hi,
                             att_lo, rps_lo, gps_lo))
        goto done;
    if (as_json)
        printf("{\"policy\":\"%s\",\"scenario\":\"%s\",\"attainment_target\":%g,"
               "\"service\":%s%s%s,\"max_rate_scale\":%.6g,\"attainment\":%.6g,"
               "\"requests_per_s\":%.6g,\"requests_per_s_per_device\":%.6g,\"devices\":%d,"
               "\"slo_scale\":%g,\"runs\":%d,\"bracket\":[%.6g,%.6g]}\n",
               p.o.policy, sc.name, target, svcname ? "\"" : "", svcname ? svcname : "null",
               svcname ? "\"" : "", lo, att_lo, rps_lo, per_dev, sc.ndevices, slo, p.runs, lo, hi);
    else
        printf("%s: max rate scale %.4g at attainment >= %.3g%s%s (%.4g req/s in the window, "
               "%.4g per device over %d devices; %d runs)\n",
               p.o.policy, lo, target, svcname ? " for " : "", svcname ? svcname : "", rps_lo,
               per_dev, sc.ndevices, p.runs);
    rc = EXIT_OK;
done:
    ep_store_close(st);
    ep_scenario_fini(&sc);
    return rc;
}
