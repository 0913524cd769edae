/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The subcommands of the pacer binary that live outside main.c. Each takes
 * argv with argv[0] being the subcommand's name and returns the process's
 * exit status: 0 success, 1 a run-time failure, 2 a usage error.
 */
#ifndef PACER_CLI_COMMANDS_H
#define PACER_CLI_COMMANDS_H

/* `pacer agent` (src/cli/cmd_agent.c): runs the agent until SIGTERM or SIGINT. */
int cmd_agent(int argc, char **argv);
/*
 * The agent's resource text: what the user gave plus the machine's amount of
 * each of cpus, mem, disk and ports it leaves out. Caller frees.
 */
char *agent_full_resources(const char *given, const char *work_dir);

/* `pacer sim` (src/cli/cmd_sim.c): simulated agents until SIGTERM, SIGINT or --duration. */
int cmd_sim(int argc, char **argv);
/* `pacer server` (src/cli/cmd_server.c). */
int cmd_server(int argc, char **argv);
/* `pacer dev` (src/cli/cmd_dev.c): the server and one agent in one process. */
int cmd_dev(int argc, char **argv);

#endif
