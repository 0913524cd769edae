/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of Marathon path ids (model/pathid.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "base/error.h"
#include "model/pathid.h"

/* Resolves id against base and checks the canonical result. */
static void ok(const char *id, const char *base, const char *want)
{
	struct strbuf out = STRBUF_INIT, why = STRBUF_INIT;
	int err = pathid_resolve(id, base, 0, &out, &why);

	if (err)
		fail_msg("'%s' against '%s': %s", id, base, why.buf);
	assert_string_equal(out.buf, want);
	strbuf_release(&out);
	strbuf_release(&why);
}

/* Checks that id is refused, with why naming the bad segment when seg is set. */
static void bad(const char *id, const char *base, const char *seg)
{
	struct strbuf out = STRBUF_INIT, why = STRBUF_INIT;

	assert_int_equal(pathid_resolve(id, base, 0, &out, &why), PACER_EINVALID);
	assert_true(why.len > 0);
	if (seg) {
		struct strbuf want = STRBUF_INIT;

		strbuf_addf(&want, "'%s' is not a valid path segment: must fully match", seg);
		assert_non_null(strstr(why.buf, want.buf));
		strbuf_release(&want);
	}
	strbuf_release(&out);
	strbuf_release(&why);
}

static void test_absolute(void **state)
{
	(void)state;
	ok("/a", "/", "/a");
	ok("/a/b/c", "/x", "/a/b/c");
	ok("/a/", "/", "/a");
	ok("/a//b", "/", "/a/b");	/* empty segments dropped, as Marathon's PathId does */
	ok("//a", "/", "/a");
	ok("/a.b-c/0", "/", "/a.b-c/0");
	ok("/9", "/", "/9");
}

static void test_relative(void **state)
{
	(void)state;
	ok("a", "/", "/a");
	ok("a", "/prod", "/prod/a");
	ok("a/b", "/prod/", "/prod/a/b");
	ok("./a", "/prod", "/prod/a");
	ok("../a", "/prod/web", "/prod/a");
	ok("a/../b", "/", "/b");
	ok("../../../a", "/x", "/a");	/* ".." above the root stays at the root */
	ok("/a/./b/../c", "/", "/a/c");
}

static void test_invalid_segments(void **state)
{
	(void)state;
	bad("Foo", "/", "Foo");
	bad("/a_b", "/", "a_b");
	bad("-a", "/", "-a");
	bad("a-", "/", "a-");
	bad("/a/b c", "/", "b c");
	bad("/a..b", "/", "a..b");
	bad("/a.-b", "/", "a.-b");
	bad("/.a", "/", ".a");
	bad("/a.", "/", "a.");
	bad("/...", "/", "...");
	bad("a", "/Bad", "Bad");
}

static void test_root(void **state)
{
	struct strbuf out = STRBUF_INIT, why = STRBUF_INIT;

	(void)state;
	bad("/", "/", NULL);
	bad("", "/", NULL);
	bad("..", "/a", NULL);
	assert_int_equal(pathid_resolve("/", "/", 0, &out, &why), PACER_EINVALID);
	assert_string_equal(why.buf, "Path must contain at least one path element");
	strbuf_reset(&why);
	assert_int_equal(pathid_resolve("/", "/", 1, &out, &why), 0);
	assert_string_equal(out.buf, "/");
	assert_int_equal(pathid_resolve("", "/a", 1, &out, &why), 0);
	assert_string_equal(out.buf, "/a");
	strbuf_release(&out);
	strbuf_release(&why);
}

static void test_segment_valid(void **state)
{
	(void)state;
	assert_true(pathid_segment_valid("a", 1));
	assert_true(pathid_segment_valid("a-b", 3));
	assert_true(pathid_segment_valid("a.b", 3));
	assert_true(pathid_segment_valid(".", 1));
	assert_true(pathid_segment_valid("..", 2));
	assert_false(pathid_segment_valid("", 0));
	assert_false(pathid_segment_valid("A", 1));
	assert_false(pathid_segment_valid("a_", 2));
	/* len bounds the segment: "ab/c" read as "ab" */
	assert_true(pathid_segment_valid("ab/c", 2));
}

static void test_reserved(void **state)
{
	struct strbuf why = STRBUF_INIT;

	(void)state;
	assert_int_equal(pathid_check_reserved("/a/tasks", &why), PACER_EINVALID);
	assert_string_equal(why.buf, "must not end with any of the following reserved keywords: "
				     "restart, tasks, versions");
	assert_int_equal(pathid_check_reserved("/restart", &why), PACER_EINVALID);
	assert_int_equal(pathid_check_reserved("/versions", &why), PACER_EINVALID);
	assert_int_equal(pathid_check_reserved("/tasks/a", &why), 0);
	assert_int_equal(pathid_check_reserved("/my-tasks", &why), 0);
	strbuf_release(&why);
}

static void test_parent(void **state)
{
	struct strbuf out = STRBUF_INIT;

	(void)state;
	pathid_parent("/a/b/c", &out);
	assert_string_equal(out.buf, "/a/b");
	pathid_parent("/a", &out);
	assert_string_equal(out.buf, "/");
	pathid_parent("/", &out);
	assert_string_equal(out.buf, "/");
	strbuf_release(&out);
}

static void test_is_under(void **state)
{
	(void)state;
	assert_true(pathid_is_under("/a/b", "/a"));
	assert_true(pathid_is_under("/a/b", "/"));
	assert_true(pathid_is_under("/a", "/a"));
	assert_true(pathid_is_under("/a/b", "/a/"));
	assert_false(pathid_is_under("/ab", "/a"));
	assert_false(pathid_is_under("/a", "/a/b"));
	assert_false(pathid_is_under("/b/a", "/a"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_absolute),
		cmocka_unit_test(test_relative),
		cmocka_unit_test(test_invalid_segments),
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_segment_valid),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_parent),
		cmocka_unit_test(test_is_under),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
