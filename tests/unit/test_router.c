/* SPDX-License-Identifier: Apache-2.0 */
/* Tests of the router through router.h. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/router.h"

static void test_normalize(void **state)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
		{"", "/"},
		{"/", "/"},
		{"//", "/"},
		{"///", "/"},
		{"v2/apps", "/v2/apps"},
		{"v2", "/v2"},
		{"/v2/apps/", "/v2/apps"},
		{"/v2/apps//", "/v2/apps"},
		{"//v2//apps///x/", "/v2/apps/x"},
		{"/v2/apps/x", "/v2/apps/x"},
		{"a//b", "/a/b"},
		{"/./x/..", "/./x/.."},
		{"/v2/apps/x y", "/v2/apps/x y"},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = strlen(cases[i].in);
		char *out = malloc(n + 2);
		char *inplace = malloc(n + 2);

		router_normalize(cases[i].in, out);
		assert_string_equal(out, cases[i].out);
		memcpy(inplace, cases[i].in, n + 1);
		router_normalize(inplace, inplace);
		assert_string_equal(inplace, cases[i].out);
		/* idempotent */
		router_normalize(inplace, inplace);
		assert_string_equal(inplace, cases[i].out);
		free(out);
		free(inplace);
	}
}

static int h_ping, h_info, h_apps, h_apps_post, h_app_restart, h_v2_all, h_root;

static struct router *pacer_router(void)
{
	struct router *r = router_new();

	router_add(r, HTTP_GET, "/ping", "/ping", &h_ping);
	router_add(r, HTTP_GET, "/v2/info", "/v2/info", &h_info);
	router_add(r, HTTP_GET | HTTP_PUT | HTTP_DELETE | HTTP_PATCH, "/v2/apps/*", "/v2/apps",
		   &h_apps);
	router_add(r, HTTP_POST, "/v2/apps/*", "/v2/apps", &h_apps_post);
	router_add(r, HTTP_POST, "/v2/apps/x/restart", "/v2/apps/restart", &h_app_restart);
	router_add(r, HTTP_OPTIONS, "/v2/*", "/v2", &h_v2_all);
	return r;
}

struct match {
	const char *method_name;
	enum http_method method;
	const char *path;
	void *fn;       /* NULL: no match */
	const char *rest;
	int status;
	unsigned allowed;
};

static void check_match(const struct router *r, const struct match *m)
{
	const char *rest = NULL;
	int status = 0;
	unsigned allowed = 0;
	const struct route *rt = router_match(r, m->method, m->path, &rest, &status, &allowed);

	if (!m->fn) {
		if (rt)
			fail_msg("%s %s matched '%s'", m->method_name, m->path, rt->name);
		assert_int_equal(status, m->status);
		assert_int_equal(allowed, m->allowed);
		return;
	}
	if (!rt)
		fail_msg("%s %s did not match (status %d)", m->method_name, m->path, status);
	assert_ptr_equal(rt->fn, m->fn);
	assert_non_null(rest);
	assert_string_equal(rest, m->rest);
	/* rest points into path, at its end */
	assert_true(rest >= m->path && rest <= m->path + strlen(m->path));
	assert_string_equal(m->path + (rest - m->path), rest);
}

#define M(meth, path, fn, rest) {#meth, HTTP_##meth, path, fn, rest, 0, 0}
#define MISS(meth, path, status, allowed) {#meth, HTTP_##meth, path, NULL, NULL, status, allowed}

static void test_match(void **state)
{
	static const unsigned apps = HTTP_GET | HTTP_HEAD | HTTP_PUT | HTTP_DELETE | HTTP_PATCH |
				     HTTP_POST | HTTP_OPTIONS;
	const struct match cases[] = {
		/* exact */
		M(GET, "/ping", &h_ping, ""),
		M(HEAD, "/ping", &h_ping, ""), /* HEAD rides on GET */
		MISS(POST, "/ping", 405, HTTP_GET | HTTP_HEAD),
		MISS(GET, "/pingx", 404, 0),
		MISS(GET, "/ping/x", 404, 0),
		MISS(GET, "/", 404, 0),
		M(GET, "/v2/info", &h_info, ""),
		/* prefix: the base and everything below, not a longer name */
		M(GET, "/v2/apps", &h_apps, ""),
		M(GET, "/v2/apps/x", &h_apps, "/x"),
		M(DELETE, "/v2/apps/a/b/c", &h_apps, "/a/b/c"),
		M(POST, "/v2/apps", &h_apps_post, ""),
		M(POST, "/v2/apps/a/b", &h_apps_post, "/a/b"),
		M(OPTIONS, "/v2/appsx", &h_v2_all, "/appsx"), /* not under /v2/apps */
		MISS(GET, "/v2/appsx", 405, HTTP_OPTIONS),
		/* an exact route beats any prefix */
		M(POST, "/v2/apps/x/restart", &h_app_restart, ""),
		M(GET, "/v2/apps/x/restart", &h_apps, "/x/restart"),
		/* a longer prefix beats a shorter one, for the method */
		M(OPTIONS, "/v2/apps/x", &h_v2_all, "/apps/x"),
		M(OPTIONS, "/v2", &h_v2_all, ""),
		/* 405: union of all matching routes' methods */
		MISS(OTHER, "/v2/apps/x", 405, apps),
		MISS(POST, "/v2/info", 405, HTTP_GET | HTTP_HEAD | HTTP_OPTIONS),
		MISS(GET, "/v3/apps", 404, 0),
	};
	struct router *r = pacer_router();

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_match(r, &cases[i]);
	router_free(r);
}

static void test_first_registered_wins_and_root(void **state)
{
	struct router *r = router_new();
	const struct match cases[] = {
		M(GET, "/", &h_root, ""),
		M(GET, "/x/y", &h_root, "/x/y"),
		M(GET, "/v2/info", &h_info, ""),
		M(POST, "/v2/info", &h_root, "/v2/info"),
	};

	(void)state;
	router_add(r, HTTP_GET | HTTP_POST, "/*", "root", &h_root);
	router_add(r, HTTP_GET, "/*", "root again", &h_v2_all);
	router_add(r, HTTP_GET, "/v2/info", "/v2/info", &h_info);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		check_match(r, &cases[i]);
	router_free(r);
}

static void test_empty_router(void **state)
{
	struct router *r = router_new();
	const struct match miss = MISS(GET, "/ping", 404, 0);

	(void)state;
	check_match(r, &miss);
	router_free(r);
	router_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_first_registered_wins_and_root),
		cmocka_unit_test(test_empty_router),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
