/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's wiring, shared by `pacer server` and `pacer dev`: its options
 * and the modules it opens on one loop (store, apps, cluster, API).
 */
#ifndef PACER_CLI_SERVER_H
#define PACER_CLI_SERVER_H

#include <uv.h>

#include "api/api.h"
#include "cluster/cluster.h"
#include "events/bus.h"
#include "state/apps.h"
#include "store/store.h"

struct server_options {
	struct api_config api;
	struct cluster_config cluster;
	struct event_bus_config events;
	const char *store;
	const char *log_level;
};

/* Fills o with the defaults (and nothing from the environment). */
void server_options_defaults(struct server_options *o);
/* Parses `pacer server` arguments (and PACER_* variables); prints errors. Returns 0 or -1. */
int server_parse_args(int argc, char **argv, struct server_options *o);
/* Sets the log level by name; returns -1 (with a message) for an unknown one. */
int server_set_log_level(const char *name);

struct server {
	uv_loop_t *loop;
	struct store *store;
	struct apps apps;
	struct cluster *cluster;
	struct event_bus *events;
	struct api *api;
};

/* Opens everything; returns 0, or a negative code with a message printed and nothing open. */
int server_open(struct server *s, uv_loop_t *loop, const struct server_options *o);
unsigned server_port(const struct server *s);
/* Stops serving, flushes the store and closes it; the loop then winds down. */
void server_close(struct server *s);
/* After the loop has run out: frees the apps index. */
void server_release(struct server *s);

#endif
