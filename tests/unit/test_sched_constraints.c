/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of Marathon's constraint operators through sched.h, on agents with
 * rack and zone attributes: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE,
 * MAX_PER and IS, an attribute the agent lacks, counters that follow
 * releases and adopted instances, and the validation messages.
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
#include "sched/sched.h"

struct fixture {
	struct sched *s;
	struct sched_app *app;
	struct sched_spec *spec;
	struct sched_placement p[64];
	uint16_t ports[64][1];
	int n;
};

static void add_agent(struct sched *s, const char *host, const char *attrs)
{
	struct sched_resources r;
	struct sched_attrs a;

	sched_resources_init(&r);
	sched_attrs_init(&a);
	assert_int_equal(sched_resources_parse(&r, "cpus:16;mem:16384", NULL), 0);
	assert_int_equal(sched_attrs_parse(&a, attrs, NULL), 0);
	assert_int_equal(sched_agent_add(s, host, host, &r, &a, NULL), 0);
	sched_resources_release(&r);
	sched_attrs_release(&a);
}

/*
 * Six agents: h1..h3 in rack r1, h4..h6 in rack r2; zones a, b, c two by
 * two across racks; h6 has no zone attribute.
 */
static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->s = sched_new(NULL);
	f->app = sched_app_get(f->s, "/db");
	add_agent(f->s, "h1", "rack:r1;zone:a");
	add_agent(f->s, "h2", "rack:r1;zone:b");
	add_agent(f->s, "h3", "rack:r1;zone:c");
	add_agent(f->s, "h4", "rack:r2;zone:a");
	add_agent(f->s, "h5", "rack:r2;zone:b");
	add_agent(f->s, "h6", "rack:r2");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	for (int i = 0; i < f->n; i++)
		if (f->p[i].app)
			sched_release(f->s, &f->p[i], f->ports[i]);
	sched_spec_free(f->s, f->spec);
	sched_free(f->s);
	free(f);
	return 0;
}

static void use(struct fixture *f, const char *field, const char *op, const char *value)
{
	const char *const c[1][3] = {{field, op, value}};
	struct sched_spec_desc d = {.cpus = 0.1, .mem = 32, .constraints = c, .nconstraints = 1};
	struct strbuf err = STRBUF_INIT;

	sched_spec_free(f->s, f->spec);
	assert_int_equal(sched_spec_new(f->s, &d, &f->spec, &err), 0);
	assert_int_equal(err.len, 0);
	strbuf_release(&err);
}

/* Places one instance; returns its hostname, or NULL when refused. */
static const char *place(struct fixture *f, struct sched_refusals *why)
{
	int i = f->n;

	if (sched_place(f->s, f->app, f->spec, &f->p[i], f->ports[i], why))
		return NULL;
	f->n++;
	return sched_agent_hostname(f->s, f->p[i].agent);
}

static const char *attr_of(const char *host, const char *field)
{
	static const char *const tab[][3] = {
		{"h1", "r1", "a"}, {"h2", "r1", "b"}, {"h3", "r1", "c"},
		{"h4", "r2", "a"}, {"h5", "r2", "b"}, {"h6", "r2", NULL},
	};

	for (int i = 0; i < 6; i++)
		if (!strcmp(tab[i][0], host))
			return !strcmp(field, "rack") ? tab[i][1] : tab[i][2];
	fail();
	return NULL;
}

static void test_unique_hostname(void **state)
{
	struct fixture *f = *state;
	struct sched_refusals why;
	const char *seen[6];

	use(f, "hostname", "UNIQUE", NULL);
	for (int i = 0; i < 6; i++) {
		seen[i] = place(f, NULL);
		assert_non_null(seen[i]);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(seen[i], seen[k]);
	}
	assert_null(place(f, &why));
	assert_int_equal(why.processed, 6);
	assert_int_equal(why.declined[SCHED_R_UNFULFILLED_CONSTRAINT], 6);

	/* a released host is free again */
	sched_release(f->s, &f->p[2], f->ports[2]);
	assert_string_equal(place(f, NULL), seen[2]);
}

static void test_unique_fourth_on_three_hosts(void **state)
{
	struct fixture *f = *state;
	struct sched_refusals why;

	sched_agent_set_state(f->s, sched_agent_find(f->s, "h4"), SCHED_AGENT_UNREACHABLE);
	sched_agent_remove(f->s, sched_agent_find(f->s, "h5"));
	sched_agent_remove(f->s, sched_agent_find(f->s, "h6"));
	use(f, "hostname", "UNIQUE", NULL);
	assert_non_null(place(f, NULL));
	assert_non_null(place(f, NULL));
	assert_non_null(place(f, NULL));
	assert_null(place(f, &why));
	assert_int_equal(why.processed, 3);
	assert_int_equal(why.declined[SCHED_R_UNFULFILLED_CONSTRAINT], 3);
	assert_string_equal(sched_reason_name(SCHED_R_UNFULFILLED_CONSTRAINT), "UnfulfilledConstraint");
}

static void test_unique_attribute(void **state)
{
	struct fixture *f = *state;
	const char *a, *b;

	use(f, "rack", "UNIQUE", NULL);
	a = place(f, NULL);
	b = place(f, NULL);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_not_equal(attr_of(a, "rack"), attr_of(b, "rack"));
	assert_null(place(f, NULL));
}

static void test_cluster_value(void **state)
{
	struct fixture *f = *state;

	use(f, "rack", "CLUSTER", "r1");
	for (int i = 0; i < 10; i++)
		assert_string_equal(attr_of(place(f, NULL), "rack"), "r1");
}

static void test_cluster_no_value(void **state)
{
	struct fixture *f = *state;
	const char *first;

	/* pinned to the rack of the first instance */
	use(f, "rack", "CLUSTER", NULL);
	first = attr_of(place(f, NULL), "rack");
	for (int i = 0; i < 10; i++)
		assert_string_equal(attr_of(place(f, NULL), "rack"), first);

	/* on hostname: all on one host */
	teardown(state);
	setup(state);
	f = *state;
	use(f, "hostname", "CLUSTER", NULL);
	first = place(f, NULL);
	for (int i = 0; i < 5; i++)
		assert_string_equal(place(f, NULL), first);
	/* with a value, only the value counts (Marathon 1.5+ checkCluster) */
	use(f, "hostname", "CLUSTER", "h5");
	assert_string_equal(place(f, NULL), "h5");
}

static void test_cluster_hostname_value(void **state)
{
	struct fixture *f = *state;

	use(f, "hostname", "CLUSTER", "h5");
	for (int i = 0; i < 4; i++)
		assert_string_equal(place(f, NULL), "h5");
	use(f, "hostname", "CLUSTER", "nowhere");
	assert_null(place(f, NULL));
}

static void test_group_by_spreads_evenly(void **state)
{
	struct fixture *f = *state;
	int count[3] = {0};

	/* zones a, b, c; h6 has no zone and never takes an instance */
	use(f, "zone", "GROUP_BY", NULL);
	for (int i = 0; i < 9; i++) {
		const char *h = place(f, NULL), *z;

		assert_non_null(h);
		z = attr_of(h, "zone");
		assert_non_null(z);
		count[z[0] - 'a']++;
		/* after every instance the groups differ by at most one */
		for (int k = 0; k < 3; k++)
			for (int j = 0; j < 3; j++)
				assert_true(count[k] - count[j] <= 1 || i < 2);
	}
	assert_int_equal(count[0], 3);
	assert_int_equal(count[1], 3);
	assert_int_equal(count[2], 3);
}

static void test_group_by_with_number(void **state)
{
	struct fixture *f = *state;
	int count[2] = {0};

	use(f, "rack", "GROUP_BY", "2");
	for (int i = 0; i < 8; i++)
		count[attr_of(place(f, NULL), "rack")[1] - '1']++;
	assert_int_equal(count[0], 4);
	assert_int_equal(count[1], 4);
}

static void test_like_unlike(void **state)
{
	struct fixture *f = *state;
	struct sched_refusals why;

	use(f, "zone", "LIKE", "[ab]");
	for (int i = 0; i < 8; i++) {
		const char *z = attr_of(place(f, NULL), "zone");

		assert_true(!strcmp(z, "a") || !strcmp(z, "b"));
	}
	/* the whole value must match: "r" does not match "r1" */
	use(f, "rack", "LIKE", "r");
	assert_null(place(f, &why));
	assert_int_equal(why.declined[SCHED_R_UNFULFILLED_CONSTRAINT], 6);
	use(f, "hostname", "LIKE", "h[4-5]|h1");
	for (int i = 0; i < 6; i++) {
		const char *h = place(f, NULL);

		assert_true(!strcmp(h, "h1") || !strcmp(h, "h4") || !strcmp(h, "h5"));
	}
	/* UNLIKE: anything but zone a or b, including no zone at all (h6) */
	use(f, "zone", "UNLIKE", "a|b");
	for (int i = 0; i < 8; i++) {
		const char *h = place(f, NULL);

		assert_true(!strcmp(h, "h3") || !strcmp(h, "h6"));
	}
}

static void test_missing_attribute(void **state)
{
	struct fixture *f = *state;
	struct sched_refusals why;

	/* only UNLIKE accepts an agent without the attribute */
	use(f, "gpu_model", "LIKE", ".*");
	assert_null(place(f, &why));
	assert_int_equal(why.declined[SCHED_R_UNFULFILLED_CONSTRAINT], 6);
	use(f, "gpu_model", "UNIQUE", NULL);
	assert_null(place(f, NULL));
	use(f, "gpu_model", "UNLIKE", "k80");
	assert_non_null(place(f, NULL));
}

static void test_max_per(void **state)
{
	struct fixture *f = *state;
	struct sched_refusals why;
	int count[2] = {0};

	use(f, "rack", "MAX_PER", "2");
	for (int i = 0; i < 4; i++)
		count[attr_of(place(f, NULL), "rack")[1] - '1']++;
	assert_int_equal(count[0], 2);
	assert_int_equal(count[1], 2);
	assert_null(place(f, &why));
	assert_int_equal(why.declined[SCHED_R_UNFULFILLED_CONSTRAINT], 6);
	/* one leaves rack r1: one more fits there */
	for (int i = 0; i < f->n; i++)
		if (!strcmp(attr_of(sched_agent_hostname(f->s, f->p[i].agent), "rack"), "r1")) {
			sched_release(f->s, &f->p[i], f->ports[i]);
			break;
		}
	assert_string_equal(attr_of(place(f, NULL), "rack"), "r1");
}

static void test_is(void **state)
{
	struct fixture *f = *state;

	use(f, "zone", "IS", "b");
	for (int i = 0; i < 6; i++)
		assert_string_equal(attr_of(place(f, NULL), "zone"), "b");
	use(f, "zone", "IS", "d");
	assert_null(place(f, NULL));
	/* an agent that joins later with the value is found */
	add_agent(f->s, "h7", "rack:r3;zone:d");
	assert_string_equal(place(f, NULL), "h7");
}

static void test_several_constraints_and_adopt(void **state)
{
	struct fixture *f = *state;
	const char *const c[2][3] = {{"hostname", "UNIQUE", NULL}, {"rack", "IS", "r2"}};
	struct sched_spec_desc d = {.cpus = 0.1, .mem = 32, .constraints = c, .nconstraints = 2};
	struct sched_placement adopted;
	struct sched_spec *spec;
	const char *h;

	assert_int_equal(sched_spec_new(f->s, &d, &spec, NULL), 0);
	/* an instance found running on h4 after a restart counts too */
	assert_int_equal(sched_adopt(f->s, f->app, spec, sched_agent_find(f->s, "h4"), NULL, &adopted), 0);
	f->spec = spec;
	h = place(f, NULL);
	assert_true(!strcmp(h, "h5") || !strcmp(h, "h6"));
	h = place(f, NULL);
	assert_true(!strcmp(h, "h5") || !strcmp(h, "h6"));
	assert_null(place(f, NULL));
	sched_release(f->s, &adopted, NULL);
	assert_string_equal(place(f, NULL), "h4");
}

static void expect_invalid(struct sched *s, const char *field, const char *op, const char *value,
			   const char *msg)
{
	const char *const c[1][3] = {{field, op, value}};
	struct sched_spec_desc d = {.cpus = 1, .constraints = c, .nconstraints = 1};
	struct strbuf err = STRBUF_INIT;
	struct sched_spec *spec;

	assert_int_equal(sched_spec_new(s, &d, &spec, &err), PACER_EINVALID);
	assert_null(spec);
	assert_string_equal(err.buf, msg);
	strbuf_release(&err);
}

static void test_validation(void **state)
{
	struct fixture *f = *state;

	expect_invalid(f->s, "rack", "NEAR", NULL,
		       "constraint [\"rack\", \"NEAR\"]: unknown operator 'NEAR' (known: UNIQUE, "
		       "CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)");
	expect_invalid(f->s, "hostname", "UNIQUE", "x",
		       "constraint [\"hostname\", \"UNIQUE\", \"x\"]: UNIQUE does not take a value");
	expect_invalid(f->s, "rack", "MAX_PER", "x",
		       "constraint [\"rack\", \"MAX_PER\", \"x\"]: 'x' is not a number");
	expect_invalid(f->s, "rack", "MAX_PER", NULL,
		       "constraint [\"rack\", \"MAX_PER\"]: MAX_PER needs a number");
	expect_invalid(f->s, "rack", "GROUP_BY", "two",
		       "constraint [\"rack\", \"GROUP_BY\", \"two\"]: 'two' is not a number");
	expect_invalid(f->s, "rack", "IS", NULL, "constraint [\"rack\", \"IS\"]: IS needs a value");
	expect_invalid(f->s, "rack", "LIKE", "r(",
		       "constraint [\"rack\", \"LIKE\", \"r(\"]: 'r(' is not a valid regular "
		       "expression: missing closing parenthesis at offset 2");
	expect_invalid(f->s, "", "UNIQUE", NULL, "constraint [\"\", \"UNIQUE\"]: the field is empty");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_unique_hostname, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique_fourth_on_three_hosts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unique_attribute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_no_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cluster_hostname_value, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_by_spreads_evenly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_by_with_number, setup, teardown),
		cmocka_unit_test_setup_teardown(test_like_unlike, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_attribute, setup, teardown),
		cmocka_unit_test_setup_teardown(test_max_per, setup, teardown),
		cmocka_unit_test_setup_teardown(test_is, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several_constraints_and_adopt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_validation, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
