/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request routing by method and path. Paths are first normalized the way
 * Marathon's clients need: repeated slashes collapse ("/v2/apps//x" is
 * "/v2/apps/x"), a trailing slash is dropped. A route is either exact
 * ("/v2/info") or a prefix: a pattern ending in a slash and an asterisk,
 * written "/v2/apps/" "*" in these comments (which a slash-star would end).
 * "/v2/apps/" "*" matches "/v2/apps" and everything below it, handing the
 * part after the prefix to the handler as rest: "" or "/x/y".
 *
 * The router knows nothing of libmicrohttpd: it only uses enum http_method,
 * so it can be fuzzed and tested without a server.
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
/*
 * Registers a route; name and pattern must outlive the router (string
 * literals). pattern is a normalized path ("/v2/info"), or one followed by
 * a slash and an asterisk for a prefix route ("/v2/apps/" "*"; "/" "*"
 * alone matches every path).
 */
void router_add(struct router *r, unsigned methods, const char *pattern, const char *name,
		void *fn);

/*
 * Writes the normalized form of path into out (at most len(path)+1 bytes
 * are needed, and path itself may be out). Always starts with '/'.
 *
 * Precisely: out needs strlen(path) + 1 bytes when path starts with '/'
 * and strlen(path) + 2 when the leading '/' must be added (also in place).
 * Dot segments ("/./", "/../") are left as they are: routing is by prefix
 * and ids are validated by the API.
 */
void router_normalize(const char *path, char *out);

/*
 * Finds the route for a normalized path. Returns it and sets *rest (pointing
 * into path) when one matches path and method; returns NULL with *status 404
 * (no route for the path) or 405 (the path exists, not for this method; then
 * *allowed holds the route's methods).
 *
 * Among the routes that match path and method, an exact route wins over any
 * prefix, a longer prefix over a shorter one, and an earlier registration
 * over a later one. *allowed on 405 is the union of the methods of every
 * route matching the path. HEAD matches a route that allows GET (the server
 * sends the GET answer's headers without its body), so HEAD is in *allowed
 * whenever GET is. *rest is "" for an exact route and for a prefix route
 * matched by its base ("/v2/apps"), else "/x/y".
 */
const struct route *router_match(const struct router *r, enum http_method method,
				 const char *path, const char **rest, int *status,
				 unsigned *allowed);

#endif
