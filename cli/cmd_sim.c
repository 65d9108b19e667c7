/* `epara sim`: loads a scenario (a file, or the embedded default), makes its workload
 * traces available (database, import, or generated fallback, saying which), runs the
 * simulator, prints a summary (or one JSON object with --json) and stores the run in a
 * results database. The policy `bound` is no runtime policy: it solves the fluid upper
 * bound (epara/experiments/bound.h) instead of simulating, and reports it in the same form. */
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "commands.h"
#include "epara/experiments/bound.h"
#include "epara/core/error.h"
#include "epara/sim/lathist.h"
#include "epara/experiments/prepare.h"
#include "epara/sim/results.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "run_opts.h"
#include "util.h"
#include "gitrev.h"

static const char sim_help[] =
        "usage: epara sim [options]\n"
        "\n"
        "Simulates a scenario (cluster, services, workload, policy) and reports goodput,\n"
        "SLO attainment and latencies over the measured window.\n"
        "\n"
        "  --scenario FILE    scenario YAML (default: the embedded edge-default scenario;\n"
        "                     format in experiments/scenarios/README.md)\n"
        "  --policy P         policy (default: the scenario's); see --list-policies;\n"
        "                     'bound' solves the fluid LP upper bound instead of simulating\n"
        "  --bound-objective O  what the bound maximizes: requests (default: the overall\n"
        "                     attainment), mean or min (the mean or lowest attainment over\n"
        "                     services with requests) or service:NAME (one service's)\n"
        "  --seed N           seed (default: the scenario's)\n"
        "  --param KEY=VALUE  set a policy parameter (repeatable; overrides the scenario's;\n"
        "                     see --list-params: any other key or value is refused)\n"
        "  --rate-scale X     multiply every workload's request rate by X (default 1)\n"
        "  --slo-scale X      multiply every service's SLO times (TTFT, TPOT, deadlines) by X\n"
        "                     (default 1; frame rates unchanged)\n"
        "  --duration S       replay only the first S seconds of the workload\n"
        "  --trace-db DB      trace database (default: the scenario's run.trace_db); missing\n"
        "                     traces are imported from their file, or generated when the\n"
        "                     file is absent\n"
        "  --out DB           store the run in this results database (checked before the\n"
        "                     run), with a latency histogram of its window\n"
        "  --records          also store one record per request (with --out; not with\n"
        "                     the bound, which has no requests)\n"
        "  --policy-log FILE  write every call into the policy with its inputs and outputs\n"
        "                     (binary; `epara replay` checks them against the policy)\n"
        "  --decisions FILE   write every placement, route and batch decision as JSON lines\n"
        "  --json             print one JSON object on stdout\n"
        "  --quiet            no progress or trace messages on stderr\n"
        "  --list-policies    list the built-in policies and exit\n"
        "  --list-params      list each policy's parameters (with --policy: that one's)\n"
        "                     with default, domain and meaning, and exit\n";

typedef struct sim_cli {
    ep_results *res;  /* records go here (--records) */
    ep_lathist *hist; /* the window's latency histogram, stored with the run (--out) */
    int rec_err;
    int progress;
    FILE *decisions; /* JSON lines, or NULL */
    const ep_scenario *sc;
    int note; /* say before the run what no placement can serve */
} sim_cli;

static const char *const route_kinds[] = {"dispatch", "forward", "reject"};
static const char *const modes[] = {"single", "mt", "tp", "pp"};

/* One JSON line per decision: {"t_ns":..,"kind":"route"|"batch"|"place",...}. */
static void
on_decision(void *ctx, const ep_decision *d)
{
    sim_cli *c = ctx;
    if (!c->decisions)
        return;
    FILE *f = c->decisions;
    switch (d->kind) {
    case EP_DECIDE_ROUTE:
        fprintf(f,
                "{\"t_ns\":%lld,\"kind\":\"route\",\"request\":%llu,\"node\":%d,"
                "\"decision\":\"%s\",\"instance\":%d,\"to_node\":%d}\n",
                (long long)d->at, (unsigned long long)d->request, d->node,
                route_kinds[d->route->kind], d->route->instance, d->route->node);
        break;
    case EP_DECIDE_BATCH:
        fprintf(f, "{\"t_ns\":%lld,\"kind\":\"batch\",\"instance\":%d,\"batch\":%d}\n",
                (long long)d->at, d->instance, d->batch);
        break;
    case EP_DECIDE_PLACE:
        fprintf(f, "{\"t_ns\":%lld,\"kind\":\"place\",\"instances\":[", (long long)d->at);
        for (int i = 0; i < d->ninst; i++) {
            const ep_instance_spec *sp = &d->inst[i];
            fprintf(f, "%s{\"service\":%d,\"mode\":\"%s\",\"devices\":[", i ? "," : "", sp->service,
                    modes[sp->mode]);
            for (int k = 0; k < sp->ndev; k++)
                fprintf(f, "%s%d", k ? "," : "", sp->devs[k]);
            fprintf(f, "],\"max_batch\":%d,\"edf\":%d}", sp->max_batch, sp->order == EP_QUEUE_EDF);
        }
        fputs("]}\n", f);
        break;
    }
}

static void
on_record(void *ctx, const ep_record *rec)
{
    sim_cli *c = ctx;
    if (c->hist)
        ep_lathist_add(c->hist, rec);
    if (c->res && !c->rec_err && ep_results_add_record(c->res, rec) != 0)
        c->rec_err = 1;
}

static void
on_progress(void *ctx, double frac, ep_time now, uint64_t events)
{
    sim_cli *c = ctx;
    if (!c->progress)
        return;
    fprintf(stderr, "\rsim: %5.1f%%  t=%.0f s  %.2f M events", frac > 1 ? 100.0 : frac * 100,
            ep_dur_to_s(now), (double)events / 1e6);
}

/* The --param values as an object (later ones win, as in cli_param_set), for the options a
 * run records; each "KEY=VALUE" was checked by cli_param_set. */
static json_t *
params_json(const char *const *kv, int n)
{
    json_t *o = json_object();
    for (int i = 0; o && i < n; i++) {
        const char *eq = strchr(kv[i], '=');
        char key[EP_NAME_MAX];
        snprintf(key, sizeof key, "%.*s", (int)(eq - kv[i]), kv[i]);
        json_object_set_new(o, key, json_string(eq + 1));
    }
    return o;
}

/* Says before the run how many requests in the window no placement can serve within their
 * SLO, by reason and service (they are misses for every policy and for the bound). */
static void
on_unservable(void *ctx, const ep_run_result *r)
{
    const sim_cli *c = ctx;
    if (!c->note || r->unservable == 0)
        return;
    cli_err("sim: %lld requests in the window cannot meet their SLO on any device group even "
            "alone (misses for every policy and the bound):",
            (long long)r->unservable);
    for (int k = 1; k < EP_UNSERVABLE_COUNT_; k++)
        if (r->unservable_why[k])
            cli_err("sim:   %lld: %s", (long long)r->unservable_why[k],
                    ep_unservable_name((ep_unservable)k));
    for (int i = 0; i < c->sc->nservices && i < EP_RUN_MAX_SERVICES; i++)
        if (r->svc[i].unservable)
            cli_err("sim:   service %s: %lld", c->sc->services[i].name,
                    (long long)r->svc[i].unservable);
}

void
cli_sim_print_table(const ep_scenario *sc, const ep_run_result *r)
{
    printf("scenario %s, policy %s, seed %llu: %.1f s measured window\n", sc->name, r->policy,
           (unsigned long long)r->seed, r->window_s);
    printf("%-16s %9s %9s %9s %9s %9s %10s %10s\n", "service", "requests", "slo_met", "rejected",
           "dropped", "attain", "goodput/s", "p99_lat_s");
    for (int i = 0; i < r->nservices; i++) {
        const ep_run_service_stats *v = &r->svc[i];
        printf("%-16s %9lld %9lld %9lld %9lld %8.1f%% %10.3f %10.3f\n", sc->services[i].name,
               (long long)v->requests, (long long)v->slo_met, (long long)v->rejected,
               (long long)(v->dropped + v->unfinished), 100 * v->slo_attainment, v->goodput_per_s,
               v->p99_latency_s);
    }
    printf("%-16s %9lld %9lld %9lld %9lld %8.1f%% %10.3f %10.3f\n", "all", (long long)r->requests,
           (long long)r->slo_met, (long long)r->rejected, (long long)(r->dropped + r->unfinished),
           100 * r->slo_attainment, r->goodput_per_s, r->p99_latency_s);
    if (strcmp(r->policy, EP_BOUND_NAME) == 0)
        printf("fluid upper bound: %lld LPs in %.3f s (%.3f s in all); %lld instances "
               "deployed; no latencies in a fluid model\n",
               (long long)r->placements, r->place_time_s, r->wall_s, (long long)r->instances);
    else
        printf("%llu events in %.3f s (%.2f M events/s), event hash %016llx\n",
               (unsigned long long)r->events, r->wall_s, r->events_per_s / 1e6,
               (unsigned long long)r->event_hash);
}

/* A domain in a few characters: "0|1", "int [1, 16]", "[0, 10]", ">= 1". */
static void
domain_short(const ep_param_decl *d, char *buf, size_t len)
{
    const char *in = d->integer ? "int " : "";
    if (d->integer && d->lo == 0 && d->hi == 1)
        snprintf(buf, len, "0|1");
    else if (isinf(d->hi))
        snprintf(buf, len, "%s>= %.15g", in, d->lo);
    else
        snprintf(buf, len, "%s[%.15g, %.15g]", in, d->lo, d->hi);
}

static void
print_decls(const ep_param_decl *d)
{
    if (!d || !d->key)
        printf("  (none of its own)\n");
    for (; d && d->key; d++) {
        char key[EP_NAME_MAX + 16], dom[96];
        snprintf(key, sizeof key, "%s%s", d->key,
                 d->key[strlen(d->key) - 1] == '.' ? "SERVICE" : "");
        domain_short(d, dom, sizeof dom);
        printf("  %-16s %-6.15g %-16s %s\n", key, d->dflt, dom, d->help ? d->help : "");
    }
}

/* --list-params: every policy's parameters (or only `only`'s), then the host's. */
static void
print_params(const char *only)
{
    printf("policy parameters (--param KEY=VALUE, scenario policy.params); columns: key,\n"
           "default, domain, meaning; KEY ending in SERVICE: one per service of the scenario\n");
    for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++) {
        if (only && strcmp(only, (*p)->name) != 0)
            continue;
        printf("\n%s\n", (*p)->name);
        print_decls((*p)->params);
    }
    if (!only || strcmp(only, EP_BOUND_NAME) == 0) {
        printf("\n%s\n", EP_BOUND_NAME);
        print_decls(NULL);
    }
    printf("\nevery policy (read by the host)\n");
    print_decls(ep_param_host());
}

/* What `epara sim` was asked for. */
typedef struct sim_args {
    cli_run run; /* --scenario, --policy, --seed, the scales, ... (run_opts.h) */
    const char *outp, *decisions, *plog, *bobj;
    ep_run_opts o; /* policy and seed from run */
    int records, as_json, quiet, list_params;
} sim_args;

/* Reads the options into *a; returns -1 to go on, else the exit code (help, a list, a
 * usage error). */
static int
sim_parse(int argc, char **argv, sim_args *a)
{
    static const struct option longopts[] = {CLI_RUN_LONGOPTS,
                                             CLI_RUN_LONGOPT_RATE,
                                             {"out", required_argument, NULL, 'o'},
                                             {"records", no_argument, NULL, 'R'},
                                             {"decisions", required_argument, NULL, 'D'},
                                             {"policy-log", required_argument, NULL, 'G'},
                                             {"json", no_argument, NULL, 'j'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"bound-objective", required_argument, NULL, 'B'},
                                             {"list-policies", no_argument, NULL, 'L'},
                                             {"list-params", no_argument, NULL, 'A'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    memset(a, 0, sizeof *a);
    cli_run_init(&a->run);
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        int bad = cli_run_opt(&a->run, c, optarg);
        if (bad == CLI_OPT_TAKEN)
            continue;
        if (bad != CLI_OPT_OTHER)
            return bad;
        bad = 0;
        switch (c) {
        case 'o':
            a->outp = optarg;
            break;
        case 'D':
            a->decisions = optarg;
            break;
        case 'G':
            a->plog = optarg;
            break;
        case 'R':
            a->records = 1;
            break;
        case 'B':
            a->bobj = optarg;
            if (strcmp(optarg, "requests") == 0)
                a->o.bound_objective = EP_BOUND_OBJ_REQUESTS;
            else if (strcmp(optarg, "mean") == 0)
                a->o.bound_objective = EP_BOUND_OBJ_MEAN;
            else if (strcmp(optarg, "min") == 0)
                a->o.bound_objective = EP_BOUND_OBJ_MIN;
            else if (strncmp(optarg, "service:", 8) == 0 && optarg[8])
                a->o.bound_objective = EP_BOUND_OBJ_SERVICE; /* the name: after loading */
            else {
                cli_err("--bound-objective: '%s' is not requests, mean, min or service:NAME",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'j':
            a->as_json = 1;
            break;
        case 'q':
            a->quiet = 1;
            break;
        case 'A':
            a->list_params = 1;
            break;
        case 'L':
            for (const ep_policy_ops *const *p = ep_policy_all(); *p; p++)
                printf("%-10s %s\n", (*p)->name, (*p)->summary);
            printf("%-10s %s\n", EP_BOUND_NAME, EP_BOUND_SUMMARY);
            return EXIT_OK;
        case 'h':
            fputs(sim_help, stdout);
            return EXIT_OK;
        default:
            fputs(sim_help, stderr);
            return EXIT_USAGE;
        }
        if (bad)
            return EXIT_USAGE;
    }
    if (optind != argc) {
        cli_err("sim: unexpected argument '%s' (see --help)", argv[optind]);
        return EXIT_USAGE;
    }
    if (a->records && !a->outp) {
        cli_err("sim: --records needs --out DB");
        return EXIT_USAGE;
    }
    /* An output that cannot be written fails now, not after the run. */
    if (a->outp && cli_out_check("--out", a->outp))
        return EXIT_USAGE;
    if (cli_run_check_policy(&a->run, 1, "see --list-policies"))
        return EXIT_USAGE;
    a->o.policy = a->run.policy;
    a->o.seed = a->run.seed;
    a->o.seed_set = a->run.seed_set;
    if (a->list_params) {
        print_params(a->o.policy);
        return EXIT_OK;
    }
    return -1;
}

/* --out: opens the results database and begins the run's row (its options, scenario text,
 * revision, host); a histogram for its latency CDF unless bound. 0 or -1 (said). */
static int
sim_results_begin(const sim_args *a, const ep_scenario *sc, int bound, ep_results **res,
                  ep_lathist **hist)
{
    char msg[1024] = "";
    if (ep_results_open(a->outp, res, msg, sizeof msg)) {
        cli_err("sim: %s", msg);
        return -1;
    }
    char host[256] = "unknown";
    gethostname(host, sizeof host - 1);
    json_t *opts = json_pack("{s:s?, s:s?, s:f, s:f, s:f, s:b, s:o}", "scenario", a->run.scenario,
                             "policy", a->o.policy, "rate_scale", a->run.rate, "slo_scale",
                             a->run.slo, "duration_s", a->run.duration, "records", a->records,
                             "params", params_json(a->run.params.kv, a->run.params.n));
    char *otxt = opts ? json_dumps(opts, JSON_COMPACT) : NULL;
    json_decref(opts);
    size_t dlen;
    ep_run_info info = {
            .sc = sc,
            .scenario_name = sc->name,
            .scenario_text = sc->text ? sc->text : ep_scenario_default_text(&dlen),
            .git_rev = EP_GIT_REV,
            .host = host,
            .options_json = otxt,
            .rate_scale = a->run.rate,
            .duration_s = a->run.duration,
            .seed = a->o.seed_set ? a->o.seed : sc->run.seed,
            .policy = a->o.policy ? a->o.policy : sc->policy,
    };
    int64_t run_id;
    int err = ep_results_begin(*res, &info, &run_id);
    free(otxt);
    if (err) {
        cli_err("sim: %s: %s", a->outp, ep_results_errmsg(*res));
        return -1;
    }
    if (!bound && !(*hist = calloc(1, sizeof **hist))) {
        cli_err("sim: out of memory");
        ep_results_abort(*res);
        return -1;
    }
    return 0;
}

/* --out: commits the run with its summary js, which also keeps the latency histogram there
 * (epara report draws the latency CDF from it; --json prints the summary without it). 0 or
 * -1 (said). */
static int
sim_results_commit(const sim_args *a, const ep_scenario *sc, const ep_run_result *r,
                   ep_results *res, const ep_lathist *hist, json_t *js)
{
    char *txt = NULL;
    if (js && (!hist || json_object_set_new(js, "latency_hist", ep_lathist_json(hist)) == 0))
        txt = json_dumps(js, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_object_del(js, "latency_hist");
    int err = txt ? ep_results_commit(res, sc, r, txt) : EP_ENOMEM;
    free(txt);
    if (err) {
        cli_err("sim: %s: cannot store the run: %s", a->outp, ep_results_errmsg(res));
        return -1;
    }
    return 0;
}

int
cmd_sim(int argc, char **argv)
{
    sim_args a;
    int rc = sim_parse(argc, argv, &a);
    if (rc >= 0)
        return rc;
    ep_run_opts *o = &a.o;
    ep_scenario sc;
    ep_store *st = NULL;
    /* Parameters are checked before any trace is prepared or any output opened. */
    if ((rc = cli_run_load(&a.run, &sc, &st, a.quiet)) != 0)
        return rc;
    cli_out dout;
    int dout_open = 0;
    rc = EXIT_FAIL;
    ep_results *res = NULL;
    json_t *js = NULL;
    ep_lathist *hist = NULL;
    ep_run_result r;
    memset(&r, 0, sizeof r);
    char msg[1024] = "";
    const char *pname = o->policy ? o->policy : sc.policy;
    int bound = strcmp(pname, EP_BOUND_NAME) == 0;
    if (bound && a.records) {
        cli_err("sim: --records: the bound has no per-request records");
        rc = EXIT_USAGE;
        goto done;
    }
    if (a.bobj && !bound) {
        cli_err("sim: --bound-objective needs --policy %s", EP_BOUND_NAME);
        rc = EXIT_USAGE;
        goto done;
    }
    if (a.bobj && o->bound_objective == EP_BOUND_OBJ_SERVICE &&
        (o->bound_service = ep_scenario_find_service(&sc, a.bobj + 8)) < 0) {
        cli_err("--bound-objective: no service '%s' in the scenario", a.bobj + 8);
        rc = EXIT_USAGE;
        goto done;
    }
    sim_cli cc = {NULL, NULL, 0, !a.quiet && cli_tty(), NULL, &sc, !a.quiet};
    if (a.decisions) {
        if (cli_out_open(&dout, a.decisions))
            goto done;
        dout_open = 1;
        cc.decisions = dout.f;
        o->on_decision = on_decision;
    }
    if (a.outp) {
        if (sim_results_begin(&a, &sc, bound, &res, &hist))
            goto done;
        cc.res = a.records ? res : NULL;
        cc.hist = hist;
    }
    o->rate_scale = a.run.rate;
    if (a.run.duration > 0 && ep_dur_from_s(a.run.duration, &o->duration)) {
        cli_err("--duration: out of range");
        rc = EXIT_USAGE;
        goto done;
    }
    o->traces = st;
    if (a.plog && !bound && !(o->policy_log = fopen(a.plog, "wb"))) {
        cli_err("sim: --policy-log %s: cannot create", a.plog);
        goto done;
    }
    o->on_record = on_record;
    o->on_progress = on_progress;
    o->on_unservable = on_unservable;
    o->ctx = &cc;
    int err = bound ? ep_bound_run(&sc, o, &r, msg, sizeof msg)
                    : ep_sim_run(&sc, o, &r, msg, sizeof msg);
    if (cc.progress)
        fputc('\n', stderr);
    if (err) {
        cli_err("sim: %s", msg);
        rc = err == EP_EINVAL || err == EP_ENOENT ? EXIT_USAGE : EXIT_FAIL;
        ep_results_abort(res);
        goto done;
    }
    if (cc.rec_err) {
        cli_err("sim: %s: cannot store records: %s", a.outp, ep_results_errmsg(res));
        ep_results_abort(res);
        goto done;
    }
    js = ep_sim_summary_json(&sc, &r);
    if (res && sim_results_commit(&a, &sc, &r, res, hist, js))
        goto done;
    if (a.as_json) {
        json_dumpf(js, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        putchar('\n');
    } else {
        cli_sim_print_table(&sc, &r);
    }
    rc = EXIT_OK;
done:
    if (dout_open && cli_out_close(&dout, rc == EXIT_OK) != 0 && rc == EXIT_OK)
        rc = EXIT_FAIL;
    json_decref(js);
    if (o->policy_log && fclose(o->policy_log) != 0 && rc == EXIT_OK) {
        cli_err("sim: --policy-log %s: write failed", a.plog);
        rc = EXIT_FAIL;
    }
    ep_run_result_fini(&r);
    free(hist);
    ep_results_close(res);
    ep_store_close(st);
    ep_scenario_fini(&sc);
    return rc;
}
