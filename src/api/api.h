/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Marathon's REST API on top of the HTTP server: routing, request parsing and
 * limits, Marathon's error bodies, and one file per resource (apps, info,
 * metrics, ...). The API owns its HTTP server; the store, the apps index
 * and the cluster are the caller's and must outlive it.
 */
#ifndef PACER_API_API_H
#define PACER_API_API_H

#include <stddef.h>
#include <uv.h>

#include "state/apps.h"
#include "store/store.h"

struct api_config {
	const char *listen;
	size_t max_body_bytes;
	size_t max_header_bytes;
	size_t max_json_depth;
	unsigned idle_timeout_s;
	unsigned max_connections;
	size_t max_versions;       /* reported in /v2/info */
	const char *hostname;      /* reported as the leader; default: the listen address */
};

struct api;

/* Starts serving. Returns 0 and *out, or a negative code with a message logged. */
struct cluster;
int api_start(struct api **out, uv_loop_t *loop, const struct api_config *cfg,
	      struct store *store, struct apps *apps, struct cluster *cluster);
/* Stops accepting connections; answers still in flight are sent as their commits finish. */
void api_quiesce(struct api *api);
/* Closes the HTTP server and frees api. Run after the store has flushed (store_close). */
void api_stop(struct api *api);
/* The port the API listens on. */
unsigned api_port(const struct api *api);

#endif
