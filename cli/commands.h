/* Entry points of the epara subcommands: argv[0] is the command's own name. Each returns
 * an exit status (util.h). */
#ifndef EPARA_CLI_COMMANDS_H
#define EPARA_CLI_COMMANDS_H

int cmd_trace(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_sim(int argc, char **argv);
int cmd_version(int argc, char **argv);

#endif
