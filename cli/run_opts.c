/* The shared run options (run_opts.h). */
#include <string.h>

#include "epara/experiments/bound.h"
#include "epara/policies/policy.h"
#include "epara/experiments/scenario.h"
#include "run_opts.h"

#define RATE_SCALE_MIN 1e-6 /* --rate-scale */
#define RATE_SCALE_MAX 1e6
#define DURATION_S_MIN 1e-3 /* --duration, trace seconds */
#define DURATION_S_MAX 1e9

void
cli_run_init(cli_run *r)
{
    memset(r, 0, sizeof *r);
    r->rate = 1;
    r->slo = 1;
}

int
cli_run_opt(cli_run *r, int ch, const char *arg)
{
    int bad = 0;
    switch (ch) {
    case CLI_RUN_SCENARIO:
        r->scenario = arg;
        break;
    case CLI_RUN_TRACE_DB:
        r->trace_db = arg;
        break;
    case CLI_RUN_POLICY:
        r->policy = arg;
        break;
    case CLI_RUN_PARAM:
        bad = cli_params_add(&r->params, arg);
        break;
    case CLI_RUN_SEED:
        bad = cli_u64("--seed", arg, &r->seed);
        r->seed_set = 1;
        break;
    case CLI_RUN_RATE:
        bad = cli_double("--rate-scale", arg, RATE_SCALE_MIN, RATE_SCALE_MAX, &r->rate);
        break;
    case CLI_RUN_DURATION:
        bad = cli_double("--duration", arg, DURATION_S_MIN, DURATION_S_MAX, &r->duration);
        break;
    case CLI_RUN_SLO:
        bad = cli_double("--slo-scale", arg, EP_SLO_SCALE_MIN, EP_SLO_SCALE_MAX, &r->slo);
        break;
    default:
        return CLI_OPT_OTHER;
    }
    return bad ? EXIT_USAGE : CLI_OPT_TAKEN;
}

int
cli_run_check_policy(const cli_run *r, int bound_ok, const char *hint)
{
    if (!r->policy || ep_policy_find(r->policy) ||
        (bound_ok && strcmp(r->policy, EP_BOUND_NAME) == 0))
        return 0;
    cli_err("--policy: unknown policy '%s' (%s)", r->policy, hint);
    return EXIT_USAGE;
}

int
cli_run_load(const cli_run *r, ep_scenario *sc, ep_store **st, int quiet)
{
    int rc = cli_scenario_load(r->scenario, sc);
    if (rc)
        return rc;
    if (cli_params_apply(&r->params, sc) ||
        cli_params_check(&r->params, sc, r->scenario, r->policy)) {
        ep_scenario_fini(sc);
        return EXIT_USAGE;
    }
    if ((rc = cli_scenario_prepare(sc, r->trace_db, quiet, st)) != 0)
        return rc;
    ep_scenario_scale_slos(sc, r->slo);
    return 0;
}
