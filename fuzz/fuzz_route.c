/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the router: takes arbitrary bytes as a request path,
 * normalizes it (into a fresh buffer and in place) and matches it against a
 * table shaped like Pacer's, checking the invariants router.h promises.
 *
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE -Isrc \
 *     fuzz/fuzz_route.c src/http/router.c src/base/\*.c -ljansson -lm -o /tmp/fuzz_route
 *   /tmp/fuzz_route -max_total_time=30 fuzz/corpus/route
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "http/router.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ALL_METHODS (HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_PUT | HTTP_PATCH | HTTP_DELETE)

static int h_exact, h_prefix;

static struct router *pacer_router(void)
{
	static const char *const exact[] = {"/ping", "/metrics", "/metrics/prometheus", "/v2/info",
					    "/v2/leader", "/v2/events"};
	static const char *const prefix[] = {"/v2/apps/*", "/v2/groups/*", "/v2/deployments/*",
					     "/v2/tasks/*", "/v2/queue/*"};
	struct router *r = router_new();

	for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++)
		router_add(r, HTTP_GET, exact[i], exact[i], &h_exact);
	router_add(r, HTTP_DELETE, "/v2/leader", "/v2/leader", &h_exact);
	for (size_t i = 0; i < sizeof(prefix) / sizeof(prefix[0]); i++)
		router_add(r, ALL_METHODS, prefix[i], prefix[i], &h_prefix);
	router_add(r, HTTP_POST, "/v2/apps/x/restart", "/v2/apps/restart", &h_exact);
	return r;
}

static void check_normalized(const char *p)
{
	size_t n = strlen(p);

	PACER_ASSERT(p[0] == '/');
	PACER_ASSERT(!strstr(p, "//"));
	PACER_ASSERT(n == 1 || p[n - 1] != '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct router *r;
	static const enum http_method methods[] = {HTTP_GET,   HTTP_HEAD,   HTTP_POST,
						   HTTP_PUT,   HTTP_DELETE, HTTP_OTHER};
	enum http_method method;
	char *path, *inplace, *again;
	size_t n;

	if (!r)
		r = pacer_router();
	if (!size)
		return 0;
	/* the first byte picks the method, the rest is the path (up to a NUL) */
	method = methods[data[0] % (sizeof(methods) / sizeof(methods[0]))];
	path = xmemdupz(data + 1, size - 1);
	n = strlen(path);

	inplace = xmalloc(n + 2);
	memcpy(inplace, path, n + 1);
	router_normalize(inplace, inplace);
	{
		char *out = xmalloc(n + 2);

		router_normalize(path, out);
		PACER_ASSERT(!strcmp(out, inplace)); /* in place == into a fresh buffer */
		free(out);
	}
	check_normalized(inplace);
	PACER_ASSERT(strlen(inplace) <= n + 1);
	again = xstrdup(inplace);
	router_normalize(again, again);
	PACER_ASSERT(!strcmp(again, inplace)); /* idempotent */

	{
		const char *rest = NULL;
		int status = 0;
		unsigned allowed = 0;
		const struct route *rt = router_match(r, method, inplace, &rest, &status, &allowed);
		size_t len = strlen(inplace);

		if (rt) {
			/* rest is a suffix of path: "" or "/..." */
			PACER_ASSERT(rest >= inplace && rest <= inplace + len);
			PACER_ASSERT(strlen(rest) == len - (size_t)(rest - inplace));
			PACER_ASSERT(!*rest || *rest == '/');
			PACER_ASSERT(rt->methods & (method == HTTP_HEAD ? (method | HTTP_GET) : method));
			PACER_ASSERT(rt->fn == &h_exact ? !*rest : 1);
		} else {
			PACER_ASSERT(status == 404 || status == 405);
			PACER_ASSERT(status == 405 ? allowed && !(allowed & method) : !allowed);
		}
	}
	free(again);
	free(inplace);
	free(path);
	return 0;
}
