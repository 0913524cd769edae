/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pacer-agent-test: `pacer agent` and `pacer _launch` alone, for the agent's
 * end-to-end tests until src/cli/main.c wires both. The agent starts its
 * launcher as /proc/self/exe with "_launch", so this binary serves both.
 */
#include <stdio.h>
#include <string.h>

#include "agent/launcher.h"
#include "cli/commands.h"

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "agent"))
		return cmd_agent(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "_launch"))
		return launcher_main(argc - 1, argv + 1);
	fprintf(stderr, "usage: pacer-agent-test agent|_launch ...\n");
	return 2;
}
