/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pacer-launch-test: the launcher mode alone, for the agent's unit tests and
 * benchmark, standing in for `pacer _launch` until the CLI wires it.
 */
#include "agent/launcher.h"

int main(int argc, char **argv)
{
	return launcher_main(argc, argv);
}
