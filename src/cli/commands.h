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

#endif
