/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the Mesos resource and attribute strings an agent is started
 * with: what parses into what, and the message a malformed flag gets.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "sched/resources.h"

static void test_parse_full(void **state)
{
	struct sched_resources r;
	struct strbuf err = STRBUF_INIT;

	sched_resources_init(&r);
	assert_int_equal(sched_resources_parse(&r, "cpus:4;mem:8192;disk:20000;gpus:1;"
						   "ports:[31000-32000,33000-33100]",
					       &err),
			 0);
	assert_int_equal(r.npools, 1);
	assert_string_equal(r.pools[0].role, "*");
	assert_int_equal(r.pools[0].scalar[SCHED_CPUS], 4000);
	assert_int_equal(r.pools[0].scalar[SCHED_MEM], 8192000);
	assert_int_equal(r.pools[0].scalar[SCHED_DISK], 20000000);
	assert_int_equal(r.pools[0].scalar[SCHED_GPUS], 1000);
	assert_int_equal(r.pools[0].nports, 2);
	assert_int_equal(r.pools[0].ports[0].begin, 31000);
	assert_int_equal(r.pools[0].ports[0].end, 32000);
	assert_int_equal(r.pools[0].ports[1].begin, 33000);
	assert_int_equal(r.pools[0].ports[1].end, 33100);
	assert_int_equal(err.len, 0);
	sched_resources_release(&r);
	strbuf_release(&err);
}

static void test_parse_roles_fractions_spaces(void **state)
{
	struct sched_resources r;

	sched_resources_init(&r);
	assert_int_equal(sched_resources_parse(&r, " cpus(prod):2 ; cpus:0.1;;mem : 512 ;"
						   "ports(prod):[31005-31010, 31000-31006]",
					       NULL),
			 0);
	assert_int_equal(r.npools, 2);
	assert_string_equal(r.pools[0].role, "prod");
	assert_int_equal(r.pools[0].scalar[SCHED_CPUS], 2000);
	assert_int_equal(r.pools[0].scalar[SCHED_MEM], 0);
	/* overlapping ranges merge, as in Mesos */
	assert_int_equal(r.pools[0].nports, 1);
	assert_int_equal(r.pools[0].ports[0].begin, 31000);
	assert_int_equal(r.pools[0].ports[0].end, 31010);
	assert_string_equal(r.pools[1].role, "*");
	assert_int_equal(r.pools[1].scalar[SCHED_CPUS], 100);
	assert_int_equal(r.pools[1].scalar[SCHED_MEM], 512000);
	sched_resources_release(&r);

	/* the empty string is no resources at all */
	sched_resources_init(&r);
	assert_int_equal(sched_resources_parse(&r, "", NULL), 0);
	assert_int_equal(r.npools, 0);
	sched_resources_release(&r);
}

static void expect_resources_error(const char *text, const char *msg)
{
	struct sched_resources r;
	struct strbuf err = STRBUF_INIT;

	sched_resources_init(&r);
	assert_int_equal(sched_resources_parse(&r, text, &err), PACER_EBADCONFIG);
	assert_string_equal(err.buf, msg);
	assert_int_equal(r.npools, 0);
	assert_null(r.pools);
	strbuf_release(&err);
}

static void test_parse_errors(void **state)
{
	expect_resources_error("cpus:x", "invalid resources 'cpus:x': 'x' is not a number");
	expect_resources_error("cpus:4;mem:lots",
			       "invalid resources 'cpus:4;mem:lots': 'lots' is not a number");
	expect_resources_error("cpus:nan", "invalid resources 'cpus:nan': 'nan' is not a number");
	expect_resources_error("cpus:4;mem", "invalid resources 'cpus:4;mem': 'mem' is not name:value");
	expect_resources_error("cpus:", "invalid resources 'cpus:': 'cpus' has no value");
	expect_resources_error("cpus:-1", "invalid resources 'cpus:-1': cpus '-1' is negative");
	expect_resources_error("mems:1", "invalid resources 'mems:1': unknown resource 'mems' "
					 "(known: cpus, mem, disk, gpus, ports)");
	expect_resources_error("cpus:1;cpus:2",
			       "invalid resources 'cpus:1;cpus:2': 'cpus' is given twice for role '*'");
	expect_resources_error("cpus(prod:1",
			       "invalid resources 'cpus(prod:1': 'cpus(prod' has an unterminated role");
	expect_resources_error("cpus():1", "invalid resources 'cpus():1': 'cpus()' has an invalid role");
	expect_resources_error("ports:31000-32000",
			       "invalid resources 'ports:31000-32000': '31000-32000' is not a list "
			       "of port ranges like [31000-32000]");
	expect_resources_error("ports:[32000-31000]",
			       "invalid resources 'ports:[32000-31000]': port range '32000-31000' "
			       "ends before it begins");
	expect_resources_error("ports:[0-10]",
			       "invalid resources 'ports:[0-10]': port range '0-10' is outside 1-65535");
	expect_resources_error("ports:[1-70000]",
			       "invalid resources 'ports:[1-70000]': port range '1-70000' is outside 1-65535");
	expect_resources_error("ports:[31000]",
			       "invalid resources 'ports:[31000]': '31000' is not a port range like 31000-32000");
	expect_resources_error("ports:[]", "invalid resources 'ports:[]': '[]' holds no port range");
}

static void test_attributes(void **state)
{
	struct sched_attrs a;

	sched_attrs_init(&a);
	assert_int_equal(sched_attrs_parse(&a, "rack:r1;zone:us-east-1a;level:2.50;big:1000;"
					       "ratio:0.12345;slots:[5-6,1-4];tags:{b,a}",
					   NULL),
			 0);
	assert_int_equal(a.n, 7);
	assert_string_equal(a.v[0].name, "rack");
	assert_string_equal(a.v[0].value, "r1");
	assert_string_equal(a.v[1].value, "us-east-1a");
	/* values as Marathon compares them (Constraints.getValueString) */
	assert_string_equal(a.v[2].value, "2.5");
	assert_string_equal(a.v[3].value, "1,000");
	assert_string_equal(a.v[4].value, "0.123");
	assert_string_equal(a.v[5].value, "[1-4,5-6]");
	assert_string_equal(a.v[6].value, "{a,b}");
	sched_attrs_release(&a);
}

static void expect_attrs_error(const char *text, const char *msg)
{
	struct sched_attrs a;
	struct strbuf err = STRBUF_INIT;

	sched_attrs_init(&a);
	assert_int_equal(sched_attrs_parse(&a, text, &err), PACER_EBADCONFIG);
	assert_string_equal(err.buf, msg);
	assert_int_equal(a.n, 0);
	strbuf_release(&err);
}

static void test_attribute_errors(void **state)
{
	expect_attrs_error("rack", "invalid attributes 'rack': 'rack' is not name:value");
	expect_attrs_error("zone:a;rack:a:b", "invalid attributes 'zone:a;rack:a:b': 'rack:a:b' is not name:value");
	expect_attrs_error("rack:", "invalid attributes 'rack:': 'rack:' needs a name and a value");
	expect_attrs_error("rack:a;rack:b", "invalid attributes 'rack:a;rack:b': attribute 'rack' is given twice");
	expect_attrs_error("slots:[4-1]", "invalid attributes 'slots:[4-1]': '4-1' is not a range like 1-5");
}

static void test_format_scalar(void **state)
{
	static const struct {
		double v;
		const char *s;
	} cases[] = {
		{2, "2"}, {2.0625, "2.062"}, {1234567.5, "1,234,567.5"}, {-1500, "-1,500"},
		{0.1, "0.1"}, {999, "999"}, {100000, "100,000"},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct strbuf sb = STRBUF_INIT;

		sched_format_scalar(&sb, cases[i].v);
		assert_string_equal(sb.buf, cases[i].s);
		strbuf_release(&sb);
	}
	assert_int_equal(sched_milli(0.1) * 3, sched_milli(0.3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_full),
		cmocka_unit_test(test_parse_roles_fractions_spaces),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_attributes),
		cmocka_unit_test(test_attribute_errors),
		cmocka_unit_test(test_format_scalar),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
