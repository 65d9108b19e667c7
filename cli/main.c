/* The epara command: git-style subcommands, each with its own --help. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "epara/core/log.h"
#include "util.h"
#include "gitrev.h"

static const cli_cmd commands[] = {
        {"trace", "import, generate, inspect, transform and export request traces", cmd_trace},
        {"sim", "simulate a scenario under a policy: goodput, SLO attainment, latency", cmd_sim},
        {"maxrate", "highest rate scale meeting an SLO attainment target (bisection)", cmd_maxrate},
        {"sweep", "run policies x a parameter grid in parallel into a results database", cmd_sweep},
        {"report", "export a results database as CSV files for the plots", cmd_report},
        {"plot", "draw every figure of a results database with gnuplot (png and svg)", cmd_plot},
        {"profile", "measure a service with an engine; write a profile table the sim reads",
         cmd_profile},
        {"cost", "print the cost model's prefill, decode or batch time of a service", cmd_cost},
        {"testbed", "run a live local testbed of a scenario: controller, nodes, loadgen",
         cmd_testbed},
        {"controller", "executor: the placement controller of a live testbed", cmd_controller},
        {"node", "executor: a node agent of a live testbed", cmd_node},
        {"loadgen", "executor: replay a workload against a live testbed, record outcomes",
         cmd_loadgen},
        {"replay", "replay a policy call log: check every decision is identical", cmd_replay},
        {"bench", "measure epara's own speed (trace store, simulator)", cmd_bench},
        {"version", "print the version and git revision", cmd_version},
};

int
cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("epara %s (git %s)\n", EP_VERSION, EP_GIT_REV);
    return EXIT_OK;
}

static void
usage(FILE *f)
{
    fprintf(f, "usage: epara [--log-level LEVEL] <command> [options]\n\n"
               "EPARA: categorized parallel AI inference in edge clouds — trace store,\n"
               "simulator, policies, sweeps and figures.\n\ncommands:\n");
    for (size_t i = 0; i < EP_ARRAY_LEN(commands); i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\nRun 'epara <command> --help' for the options of a command.\n"
               "Exit status: 0 success, 1 runtime failure, 2 bad input or usage.\n");
}

int
main(int argc, char **argv)
{
    int i = 1;
    while (i < argc && argv[i][0] == '-') {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return EXIT_OK;
        }
        if (strcmp(argv[i], "--version") == 0)
            return cmd_version(0, NULL);
        if (strcmp(argv[i], "--log-level") == 0 && i + 1 < argc) {
            enum ep_log_level lv;
            if (ep_log_level_parse(argv[i + 1], &lv)) {
                cli_err("--log-level: '%s' is not one of error, warn, info, debug, trace",
                        argv[i + 1]);
                return EXIT_USAGE;
            }
            ep_log_set_level(lv);
            i += 2;
            continue;
        }
        cli_err("unknown option '%s' (see 'epara --help')", argv[i]);
        return EXIT_USAGE;
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    for (size_t k = 0; k < EP_ARRAY_LEN(commands); k++)
        if (strcmp(argv[i], commands[k].name) == 0)
            return commands[k].run(argc - i, argv + i);
    if (strcmp(argv[i], "help") == 0) {
        usage(stdout);
        return EXIT_OK;
    }
    cli_err("unknown command '%s' (see 'epara --help')", argv[i]);
    return EXIT_USAGE;
}
