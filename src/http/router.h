/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request routing by method and path. Paths are first normalized the way
 * Marathon's clients need: repeated slashes collapse ("/v2/apps//x" is
 * "/v2/apps/x"), a trailing slash is dropped. A route is either exact
 * ("/v2/info") or a prefix ending in "/*" ("/v2/apps/*" matches "/v2/apps"
 * and everything below it, handing the part after the prefix to the
 * handler as rest: "" or "/x/y").
 */
#ifndef PACER_HTTP_ROUTER_H
#define PACER_HTTP_ROUTER_H

#include <stddef.h>

#include "http/httpd.h"

struct router;

struct route {
	const char *name;   /* for metrics: "/v2/apps" */
	unsigned methods;   /* mask of enum http_method */
	void *fn;           /* the handler, as registered */
};

struct router *router_new(void);
void router_free(struct router *r);
/* Registers a route; name and pattern must outlive the router (string literals). */
void router_add(struct router *r, unsigned methods, const char *pattern, const char *name,
		void *fn);

/*
 * Writes the normalized form of path into out (at most len(path)+1 bytes
 * are needed, and path itself may be out). Always starts with '/'.
 */
void router_normalize(const char *path, char *out);

/*
 * Finds the route for a normalized path. Returns it and sets *rest (pointing
 * into path) when one matches path and method; returns NULL with *status 404
 * (no route for the path) or 405 (the path exists, not for this method; then
 * *allowed holds the route's methods).
 */
const struct route *router_match(const struct router *r, enum http_method method,
				 const char *path, const char **rest, int *status,
				 unsigned *allowed);

#endif
