/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Routing table; see router.h. A linear scan over the routes: Pacer has a few
 * dozen, and a scan keeps registration order meaningful for ties.
 */
#include "http/router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"

struct router_entry {
	struct route route;
	const char *pattern;
	size_t base_len; /* for a prefix route, the length without the final slash-star */
	bool prefix;
};

struct router {
	struct router_entry *entries;
	size_t nr, alloc;
};

struct router *router_new(void)
{
	return xcalloc(1, sizeof(struct router));
}

void router_free(struct router *r)
{
	if (!r)
		return;
	free(r->entries);
	free(r);
}

void router_add(struct router *r, unsigned methods, const char *pattern, const char *name,
		void *fn)
{
	size_t len = strlen(pattern);
	struct router_entry *e;

	PACER_ASSERT(len && pattern[0] == '/');
	ALLOC_GROW(r->entries, r->nr + 1, r->alloc);
	e = &r->entries[r->nr++];
	e->route.name = name;
	e->route.methods = methods;
	e->route.fn = fn;
	e->pattern = pattern;
	e->prefix = len >= 2 && !strcmp(pattern + len - 2, "/*");
	e->base_len = e->prefix ? len - 2 : len;
}

void router_normalize(const char *path, char *out)
{
	const char *src = path;
	size_t o = 0;

	if (path[0] != '/') {
		/* make room for the '/': memmove copes with path == out */
		memmove(out + 1, path, strlen(path) + 1);
		out[0] = '/';
		src = out;
	}
	/* collapsing only shrinks, so reading src at i >= o is safe in place */
	for (size_t i = 0; src[i]; i++) {
		if (src[i] == '/' && o && out[o - 1] == '/')
			continue;
		out[o++] = src[i];
	}
	if (o > 1 && out[o - 1] == '/')
		o--;
	out[o] = '\0';
}

/*
 * How well e matches path: 0 for no match, otherwise a score where exact
 * routes beat every prefix and longer prefixes beat shorter ones.
 */
static size_t match_score(const struct router_entry *e, const char *path, const char **rest)
{
	if (!e->prefix) {
		if (strcmp(path, e->pattern))
			return 0;
		*rest = path + strlen(path);
		return SIZE_MAX;
	}
	if (strncmp(path, e->pattern, e->base_len))
		return 0;
	if (path[e->base_len] != '\0' && path[e->base_len] != '/')
		return 0;
	*rest = path + e->base_len;
	if (!strcmp(*rest, "/")) /* only for the root prefix, slash-star alone */
		*rest += 1;
	return e->base_len + 1;
}

static bool method_allowed(unsigned methods, enum http_method method)
{
	if (methods & (unsigned)method)
		return true;
	return method == HTTP_HEAD && (methods & HTTP_GET);
}

const struct route *router_match(const struct router *r, enum http_method method,
				 const char *path, const char **rest, int *status,
				 unsigned *allowed)
{
	const struct router_entry *best = NULL;
	const char *best_rest = NULL;
	size_t best_score = 0;
	unsigned methods = 0;

	for (size_t i = 0; i < r->nr; i++) {
		const struct router_entry *e = &r->entries[i];
		const char *e_rest;
		size_t score = match_score(e, path, &e_rest);

		if (!score)
			continue;
		methods |= e->route.methods;
		if (!method_allowed(e->route.methods, method) || score <= best_score)
			continue;
		best = e;
		best_score = score;
		best_rest = e_rest;
	}
	if (best) {
		*rest = best_rest;
		return &best->route;
	}
	if (methods & HTTP_GET)
		methods |= HTTP_HEAD;
	*status = methods ? 405 : 404;
	*allowed = methods;
	return NULL;
}
