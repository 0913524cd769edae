/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the simulator through sim.h that need no server: templates for
 * per-agent resources and attributes, and set-up errors.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/error.h"
#include "sim/sim.h"

static void expand_ok(const char *tmpl, unsigned i, const char *want)
{
	struct strbuf out = STRBUF_INIT, why = STRBUF_INIT;

	assert_int_equal(sim_template_expand(tmpl, i, &out, &why), 0);
	assert_string_equal(out.buf, want);
	strbuf_release(&out);
	strbuf_release(&why);
}

static void test_template(void **state)
{
	(void)state;
	expand_ok("rack:r{i%10};zone:z{i%3}", 25, "rack:r5;zone:z1");
	expand_ok("host{i}", 7, "host7");
	expand_ok("block:{i/100}", 250, "block:2");
	expand_ok("", 3, "");
	expand_ok("plain;text", 3, "plain;text");
}

static void test_template_errors(void **state)
{
	static const char *const bad[] = {"{i%0}", "{j}", "{i", "{i%x}", "{i+1}"};
	(void)state;

	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct strbuf out = STRBUF_INIT, why = STRBUF_INIT;

		assert_int_equal(sim_template_expand(bad[k], 1, &out, &why), PACER_EBADCONFIG);
		assert_non_null(strstr(why.buf, "invalid template"));
		strbuf_release(&out);
		strbuf_release(&why);
	}
}

static void test_new_errors(void **state)
{
	struct sim_config cfg = {.server = "ftp://x", .agents = 1, .connections = 1,
				 .resources = "cpus:1", .attributes = "", .hostname_prefix = "s"};
	struct strbuf why = STRBUF_INIT;
	struct sim *s;
	uv_loop_t loop;
	(void)state;

	uv_loop_init(&loop);
	assert_int_equal(sim_new(&s, &loop, &cfg, &why), PACER_EBADCONFIG);
	assert_non_null(strstr(why.buf, "invalid server URL"));
	strbuf_reset(&why);
	cfg.server = "http://127.0.0.1:1";
	cfg.attributes = "rack:{k}";
	assert_int_equal(sim_new(&s, &loop, &cfg, &why), PACER_EBADCONFIG);
	strbuf_reset(&why);
	cfg.attributes = "rack:r{i%2}";
	assert_int_equal(sim_new(&s, &loop, &cfg, &why), 0);
	sim_free(s);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
	strbuf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template),
		cmocka_unit_test(test_template_errors),
		cmocka_unit_test(test_new_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
