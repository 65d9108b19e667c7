/* `epara replay`: replays a policy call log (`epara sim --policy-log`, or a testbed process's
 * `--policy-log`) through the policy library and checks every decision is identical. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "epara/core/error.h"
#include "epara/experiments/scenario.h"
#include "epara/sim/sim.h"
#include "util.h"

static const char replay_help[] =
        "usage: epara replay --log FILE [--scenario FILE] [--param KEY=VALUE] [--slo-scale X]\n"
        "\n"
        "Replays a policy call log through fresh states of the same policy, one for each\n"
        "state the writer had (the simulator: each node's and the controller's): every call\n"
        "(init, categorize, place, route, pick_batch, on_timer) on its state with the view\n"
        "and inputs the host gave it, in order, checking that each decision and each timer\n"
        "armed is identical.\n"
        "The log comes from `epara sim --policy-log` or a testbed process (`epara testbed\n"
        "--policy-log DIR`); give the scenario and options it ran with.\n"
        "\n"
        "exit status: 0 identical, 1 a decision differs (the first is named), 2 bad input\n";

int
cmd_replay(int argc, char **argv)
{
    static const struct option longopts[] = {{"log", required_argument, NULL, 'l'},
                                             {"scenario", required_argument, NULL, 's'},
                                             {"param", required_argument, NULL, 'P'},
                                             {"slo-scale", required_argument, NULL, 'x'},
                                             {"quiet", no_argument, NULL, 'q'},
                                             {"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    const char *log = NULL, *scen = NULL;
    double slo = 1;
    int quiet = 0, c;
    cli_params params = {{NULL}, 0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'l':
            log = optarg;
            break;
        case 's':
            scen = optarg;
            break;
        case 'P':
            if (cli_params_add(&params, optarg))
                return EXIT_USAGE;
            break;
        case 'x':
            if (cli_double("--slo-scale", optarg, EP_SLO_SCALE_MIN, EP_SLO_SCALE_MAX, &slo))
                return EXIT_USAGE;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(replay_help, stdout);
            return EXIT_OK;
        default:
            fputs(replay_help, stderr);
            return EXIT_USAGE;
        }
    }
    if (!log || optind != argc) {
        cli_err("replay: %s (see --help)", !log ? "--log FILE is required" : "unexpected argument");
        return EXIT_USAGE;
    }
    ep_scenario sc;
    ep_parse_error pe;
    size_t dlen;
    const char *dtext = ep_scenario_default_text(&dlen);
    int rc = scen ? ep_scenario_load_file(scen, &sc, &pe)
                  : ep_scenario_load_text(dtext, dlen, "edge-default.yaml", ".", &sc, &pe);
    if (rc) {
        cli_err("%s:%ld: %s", scen ? scen : "edge-default.yaml", pe.line, pe.msg);
        return EXIT_USAGE;
    }
    if (cli_params_apply(&params, &sc)) {
        ep_scenario_fini(&sc);
        return EXIT_USAGE;
    }
    ep_scenario_scale_slos(&sc, slo);
    FILE *f = fopen(log, "rb");
    if (!f) {
        cli_err("replay: %s: cannot open", log);
        ep_scenario_fini(&sc);
        return EXIT_USAGE;
    }
    ep_replay_result r;
    char msg[512] = "";
    int err = ep_policy_replay(&sc, f, log, &r, msg, sizeof msg);
    fclose(f);
    ep_scenario_fini(&sc);
    static const char *const roles[] = {"simulator", "controller", "node", "loadgen"};
    if (err) {
        cli_err("replay: %s", msg);
        return err == EP_ERANGE ? EXIT_FAIL : EXIT_USAGE;
    }
    if (!quiet) {
        printf("%s: policy %s, seed %llu, written by the %s", log, r.policy,
               (unsigned long long)r.seed, r.role >= 0 && r.role < 4 ? roles[r.role] : "?");
        if (r.role == 2)
            printf(" of node %d", r.node);
        printf("\n%lld calls replayed on %d policy state%s, every decision identical: %lld "
               "routes, %lld batches, %lld placements, %lld timers\n",
               (long long)r.calls, r.states, r.states == 1 ? "" : "s", (long long)r.routes,
               (long long)r.batches, (long long)r.places, (long long)r.timers);
    }
    return EXIT_OK;
}
