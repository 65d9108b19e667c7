/* Entry points of the epara subcommands: argv[0] is the command's own name. Each returns
 * an exit status (util.h). */
#ifndef EPARA_CLI_COMMANDS_H
#define EPARA_CLI_COMMANDS_H

int cmd_trace(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_maxrate(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_sweep(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_plot(int argc, char **argv);
int cmd_profile(int argc, char **argv);
/* `epara profile import` (cmd_profile_import.c), dispatched by cmd_profile. */
int cmd_profile_import(int argc, char **argv);
int cmd_cost(int argc, char **argv);
int cmd_controller(int argc, char **argv);
int cmd_node(int argc, char **argv);
int cmd_loadgen(int argc, char **argv);
int cmd_testbed(int argc, char **argv);
int cmd_replay(int argc, char **argv);
/* `epara bench exec` (bench_exec.c), dispatched by cmd_bench. */
int bench_exec(int argc, char **argv);

/* What the figures' titles say beside the CSV files: the reference rate scale (the swept
 * one nearest --rate; NaN without runs) and the devices no series uses there, with the
 * reason ("" when none). */
typedef struct report_notes {
    double ref_rate;
    char idle[512];
} report_notes;

/* Writes the CSV files of `epara report` for results database db into dir (created when
 * absent): only scenario's runs when not NULL; the reference figures (latency CDF,
 * utilization, per category, ablation) at the swept rate scale nearest at_rate; lists the
 * files on stdout unless quiet; fills *notes (may be NULL). Returns an exit status. */
int report_export(const char *db, const char *dir, const char *scenario, double at_rate, int quiet,
                  report_notes *notes);

/* `epara trace` tools (cmd_trace_tools.c), dispatched by cmd_trace. */
int trace_info(int argc, char **argv);
int trace_list(int argc, char **argv);
int trace_export(int argc, char **argv);
int trace_rm(int argc, char **argv);
int trace_scale(int argc, char **argv);
int trace_spread(int argc, char **argv);
int trace_merge(int argc, char **argv);

#endif
