/* SPDX-License-Identifier: Apache-2.0 */
/* pacer: the one binary. Dispatches to its commands; nothing else lives here. */
#include <stdio.h>
#include <string.h>

#include "agent/launcher.h"
#include "cli/commands.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: pacer COMMAND [OPTIONS]\n\n"
		   "Commands:\n"
		   "  dev       server and one agent in one process: the single-machine mode\n"
		   "  server    the API server on an embedded store (pacer server --help)\n"
		   "  agent     a node agent that runs tasks for a server (pacer agent --help)\n"
		   "  sim       simulated agents for scale tests (pacer sim --help)\n"
		   "  version   print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/* every task starts through this: keep it first and cheap */
	if (!strcmp(argv[1], "_launch"))
		return launcher_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "server"))
		return cmd_server(argc - 1, argv + 1);
	if (!strcmp(argv[1], "agent"))
		return cmd_agent(argc - 1, argv + 1);
	if (!strcmp(argv[1], "dev"))
		return cmd_dev(argc - 1, argv + 1);
	if (!strcmp(argv[1], "sim"))
		return cmd_sim(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("pacer %s\n", PACER_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	fprintf(stderr, "pacer: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
