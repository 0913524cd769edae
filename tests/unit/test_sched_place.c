/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of placement through sched.h, without constraints: an instance
 * lands where its cpus, mem, disk, gpus and ports fit, and when nothing
 * fits the refusals name Marathon's reasons; host ports dynamic and
 * required; acceptedResourceRoles; release gives everything back;
 * unreachable, maintenance and removed agents; spread and pack; and 10,000
 * instances on 1,000 agents never over-commit an agent.
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

static uint32_t add_agent(struct sched *s, const char *id, const char *res, const char *attrs)
{
	struct sched_resources r;
	struct sched_attrs a;
	uint32_t idx;

	sched_resources_init(&r);
	sched_attrs_init(&a);
	assert_int_equal(sched_resources_parse(&r, res, NULL), 0);
	assert_int_equal(sched_attrs_parse(&a, attrs ? attrs : "", NULL), 0);
	assert_int_equal(sched_agent_add(s, id, id, &r, &a, &idx), 0);
	sched_resources_release(&r);
	sched_attrs_release(&a);
	return idx;
}

static struct sched_spec *spec_new(struct sched *s, double cpus, double mem, double disk,
				   double gpus, const uint16_t *ports, size_t nports)
{
	struct sched_spec_desc d = {.cpus = cpus, .mem = mem, .disk = disk, .gpus = gpus,
				    .ports = ports, .nports = nports};
	struct sched_spec *spec;

	assert_int_equal(sched_spec_new(s, &d, &spec, NULL), 0);
	return spec;
}

static struct sched_spec *spec_roles(struct sched *s, const char *const *roles, size_t n)
{
	struct sched_spec_desc d = {.cpus = 1, .mem = 128, .roles = roles, .nroles = n};
	struct sched_spec *spec;

	assert_int_equal(sched_spec_new(s, &d, &spec, NULL), 0);
	return spec;
}

/* Asserts that placing spec fails for exactly this one reason. */
static void expect_refused(struct sched *s, struct sched_app *app, struct sched_spec *spec,
			   enum sched_reason reason, uint32_t agents)
{
	struct sched_placement p;
	struct sched_refusals why;
	uint16_t ports[SCHED_MAX_PORTS];

	assert_int_equal(sched_place(s, app, spec, &p, ports, &why), SCHED_NOFIT);
	assert_int_equal(why.processed, agents);
	for (int r = 0; r < SCHED_NREASONS; r++)
		assert_int_equal(why.declined[r], r == (int)reason ? agents : 0);
}

static void test_fits_and_reasons(void **state)
{
	struct sched *s = sched_new(NULL);
	struct sched_app *app = sched_app_get(s, "/web");
	struct sched_placement p;
	uint16_t ports[4];
	struct sched_spec *spec;

	add_agent(s, "a1", "cpus:1;mem:128;disk:100;ports:[31000-31001]", NULL);

	spec = spec_new(s, 1.5, 64, 0, 0, NULL, 0);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_CPUS, 1);
	sched_spec_free(s, spec);
	spec = spec_new(s, 0.5, 256, 0, 0, NULL, 0);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_MEMORY, 1);
	sched_spec_free(s, spec);
	spec = spec_new(s, 0.5, 64, 200, 0, NULL, 0);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_DISK, 1);
	sched_spec_free(s, spec);
	spec = spec_new(s, 0.5, 64, 0, 1, NULL, 0);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_GPUS, 1);
	sched_spec_free(s, spec);
	spec = spec_new(s, 0.5, 64, 0, 0, (const uint16_t[]){0, 0, 0}, 3);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_PORTS, 1);
	sched_spec_free(s, spec);

	/* cpus comes first in the funnel when several are short */
	spec = spec_new(s, 2, 256, 0, 0, NULL, 0);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_CPUS, 1);
	sched_spec_free(s, spec);

	/* exactly everything fits */
	spec = spec_new(s, 1, 128, 100, 0, (const uint16_t[]){0, 0}, 2);
	assert_int_equal(sched_place(s, app, spec, &p, ports, NULL), 0);
	assert_int_equal(p.agent, sched_agent_find(s, "a1"));
	assert_int_equal(sched_app_instances(app), 1);
	assert_int_equal(sched_app_instances_on(app, p.agent), 1);
	sched_release(s, &p, ports);
	sched_spec_free(s, spec);
	sched_free(s);
}

static void test_refusals_funnel(void **state)
{
	struct sched *s = sched_new(NULL);
	struct sched_app *app = sched_app_get(s, "/web");
	struct sched_refusals why, sum = {0};
	struct sched_placement p;
	struct sched_spec *spec;
	uint16_t ports[1];

	add_agent(s, "small-cpu", "cpus:1;mem:4096", NULL);
	add_agent(s, "small-mem1", "cpus:8;mem:128", NULL);
	add_agent(s, "small-mem2", "cpus:8;mem:128", NULL);
	add_agent(s, "reserved", "cpus(prod):8;mem(prod):4096", NULL);
	spec = spec_new(s, 2, 1024, 0, 0, NULL, 0);
	assert_int_equal(sched_place(s, app, spec, &p, ports, &why), SCHED_NOFIT);
	assert_int_equal(why.processed, 4);
	assert_int_equal(why.declined[SCHED_R_UNFULFILLED_ROLE], 1);
	assert_int_equal(why.declined[SCHED_R_INSUFFICIENT_CPUS], 1);
	assert_int_equal(why.declined[SCHED_R_INSUFFICIENT_MEMORY], 2);
	/* Marathon's DeclinedOfferStep "processed": what is left at each step */
	assert_int_equal(sched_refusals_processed_at(&why, SCHED_R_UNFULFILLED_ROLE), 4);
	assert_int_equal(sched_refusals_processed_at(&why, SCHED_R_INSUFFICIENT_CPUS), 3);
	assert_int_equal(sched_refusals_processed_at(&why, SCHED_R_INSUFFICIENT_MEMORY), 2);
	assert_int_equal(sched_refusals_processed_at(&why, SCHED_R_INSUFFICIENT_DISK), 0);
	sched_refusals_add(&sum, &why);
	sched_refusals_add(&sum, &why);
	assert_int_equal(sum.processed, 8);
	assert_int_equal(sum.declined[SCHED_R_INSUFFICIENT_MEMORY], 4);
	assert_string_equal(sched_reason_name(SCHED_R_UNFULFILLED_ROLE), "UnfulfilledRole");
	assert_string_equal(sched_reason_name(SCHED_R_INSUFFICIENT_MEMORY), "InsufficientMemory");
	assert_string_equal(sched_reason_name(SCHED_R_NO_RESERVATION), "NoCorrespondingReservationFound");
	assert_string_equal(sched_reason_name(SCHED_R_DECLINED_SCARCE), "DeclinedScarceResources");
	sched_spec_free(s, spec);
	sched_free(s);
}

static void test_dynamic_ports(void **state)
{
	struct sched *s = sched_new(NULL);
	struct sched_app *app = sched_app_get(s, "/web");
	struct sched_spec *spec = spec_new(s, 0.1, 16, 0, 0, (const uint16_t[]){0}, 1);
	struct sched_placement p[4];
	uint16_t ports[4][1];

	add_agent(s, "a1", "cpus:4;mem:1024;ports:[31000-31001,31005-31005]", NULL);
	assert_int_equal(sched_place(s, app, spec, &p[0], ports[0], NULL), 0);
	assert_int_equal(sched_place(s, app, spec, &p[1], ports[1], NULL), 0);
	assert_int_equal(sched_place(s, app, spec, &p[2], ports[2], NULL), 0);
	assert_int_equal(ports[0][0], 31000);
	assert_int_equal(ports[1][0], 31001);
	assert_int_equal(ports[2][0], 31005);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_PORTS, 1);

	/* a released port comes back */
	sched_release(s, &p[1], ports[1]);
	assert_int_equal(sched_place(s, app, spec, &p[3], ports[3], NULL), 0);
	assert_int_equal(ports[3][0], 31001);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_PORTS, 1);
	sched_release(s, &p[0], ports[0]);
	sched_release(s, &p[2], ports[2]);
	sched_release(s, &p[3], ports[3]);
	sched_spec_free(s, spec);
	sched_free(s);
}

static void test_required_ports(void **state)
{
	struct sched *s = sched_new(NULL);
	struct sched_app *app = sched_app_get(s, "/web");
	struct sched_spec *spec = spec_new(s, 0.1, 16, 0, 0, (const uint16_t[]){0, 31001}, 2);
	struct sched_spec *outside = spec_new(s, 0.1, 16, 0, 0, (const uint16_t[]){8080}, 1);
	struct sched_placement p[3];
	uint16_t ports[3][2];
	uint32_t a1 = add_agent(s, "a1", "cpus:4;mem:1024;ports:[31000-31010]", NULL);
	uint32_t a2;

	/* the required port is held, the dynamic one avoids it */
	assert_int_equal(sched_place(s, app, spec, &p[0], ports[0], NULL), 0);
	assert_int_equal(ports[0][1], 31001);
	assert_int_equal(ports[0][0], 31000);
	/* nobody else can have 31001 on a1 */
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_PORTS, 1);
	expect_refused(s, app, outside, SCHED_R_INSUFFICIENT_PORTS, 1);
	a2 = add_agent(s, "a2", "cpus:4;mem:1024;ports:[31000-31010]", NULL);
	assert_int_equal(sched_place(s, app, spec, &p[1], ports[1], NULL), 0);
	assert_int_equal(p[1].agent, a2);
	assert_int_equal(ports[1][1], 31001);
	/* released on a1, 31001 can be required again there */
	sched_release(s, &p[0], ports[0]);
	assert_int_equal(sched_place(s, app, spec, &p[2], ports[2], NULL), 0);
	assert_int_equal(p[2].agent, a1);
	sched_release(s, &p[1], ports[1]);
	sched_release(s, &p[2], ports[2]);
	sched_spec_free(s, spec);
	sched_spec_free(s, outside);
	sched_free(s);
}

static void test_accepted_roles(void **state)
{
	struct sched *s = sched_new(NULL);
	struct sched_app *app = sched_app_get(s, "/web");
	const char *const prod[] = {"prod"}, *const both[] = {"*", "prod"};
	struct sched_spec *sp = spec_roles(s, prod, 1), *sstar = spec_roles(s, NULL, 0);
	struct sched_spec *sboth = spec_roles(s, both, 2);
	struct sched_placement p;
	struct sched_usage used;
	uint16_t ports[1];
	uint32_t res = add_agent(s, "reserved", "cpus(prod):2;mem(prod):1024;cpus:1;mem:128", NULL);
	uint32_t pub = add_agent(s, "public", "cpus:4;mem:4096", NULL);

	/* prod only: the reserved resources */
	assert_int_equal(sched_place(s, app, sp, &p, ports, NULL), 0);
	assert_int_equal(p.agent, res);
	sched_release(s, &p, ports);
	/* the default ["*"] never takes reserved resources */
	for (int i = 0; i < 3; i++) {
		struct sched_placement q;

		assert_int_equal(sched_place(s, app, sstar, &q, ports, NULL), 0);
		assert_true(q.agent == pub || (q.agent == res && q.pool != p.pool));
		sched_release(s, &q, ports);
	}
	/* both: reserved resources first (pool 0 is "prod" on that agent) */
	sched_agent_set_state(s, pub, SCHED_AGENT_MAINTENANCE);
	assert_int_equal(sched_place(s, app, sboth, &p, ports, NULL), 0);
	assert_int_equal(p.agent, res);
	assert_int_equal(p.pool, 0);
	sched_agent_usage(s, res, &used, NULL);
	assert_true(used.cpus == 1.0);
	sched_release(s, &p, ports);
	sched_agent_set_state(s, pub, SCHED_AGENT_ACTIVE);

	/* no agent with the role: UnfulfilledRole from every agent without it */
	sched_agent_remove(s, res);
	expect_refused(s, app, sp, SCHED_R_UNFULFILLED_ROLE, 1);
	sched_spec_free(s, sp);
	sched_spec_free(s, sstar);
	sched_spec_free(s, sboth);
	sched_free(s);
}

static void test_release_returns_everything(void **state)
{
	struct sched *s = sched_new(NULL);
	struct sched_app *app = sched_app_get(s, "/web");
	struct sched_spec *spec = spec_new(s, 1.5, 300, 50, 1, (const uint16_t[]){0, 0}, 2);
	uint32_t a = add_agent(s, "a1", "cpus:4;mem:1024;disk:100;gpus:2;ports:[31000-31009]", NULL);
	struct sched_placement p[2];
	struct sched_usage used, total;
	uint16_t ports[2][2];

	assert_int_equal(sched_place(s, app, spec, &p[0], ports[0], NULL), 0);
	assert_int_equal(sched_place(s, app, spec, &p[1], ports[1], NULL), 0);
	assert_int_equal(sched_agent_usage(s, a, &used, &total), 0);
	assert_true(used.cpus == 3.0 && used.mem == 600 && used.disk == 100 && used.gpus == 2);
	assert_int_equal(used.ports, 4);
	assert_int_equal(used.instances, 2);
	assert_true(total.cpus == 4.0 && total.mem == 1024 && total.gpus == 2);
	assert_int_equal(total.ports, 10);
	expect_refused(s, app, spec, SCHED_R_INSUFFICIENT_CPUS, 1);
	sched_release(s, &p[0], ports[0]);
	sched_release(s, &p[1], ports[1]);
	assert_int_equal(sched_agent_usage(s, a, &used, NULL), 0);
	assert_true(used.cpus == 0 && used.mem == 0 && used.disk == 0 && used.gpus == 0);
	assert_int_equal(used.ports, 0);
	assert_int_equal(used.instances, 0);
	assert_int_equal(sched_app_instances(app), 0);
	assert_int_equal(sched_app_remove(s, app), 0);
	assert_null(sched_app_find(s, "/web"));
	sched_spec_free(s, spec);
	sched_free(s);
}

static void test_agent_states(void **state)
{
	struct sched *s = sched_new(NULL);
	struct sched_app *app = sched_app_get(s, "/web");
	struct sched_spec *spec = spec_new(s, 1, 64, 0, 0, NULL, 0);
	uint32_t a1 = add_agent(s, "a1", "cpus:8;mem:1024", NULL);
	uint32_t a2 = add_agent(s, "a2", "cpus:8;mem:1024", NULL);
	struct sched_placement p[7];
	uint16_t ports[1];

	assert_int_equal(sched_agent_set_state(s, a1, SCHED_AGENT_UNREACHABLE), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(sched_place(s, app, spec, &p[i], ports, NULL), 0);
		assert_int_equal(p[i].agent, a2);
	}
	/* unreachable agents are not even considered; maintenance refuses */
	assert_int_equal(sched_agent_set_state(s, a2, SCHED_AGENT_MAINTENANCE), 0);
	expect_refused(s, app, spec, SCHED_R_AGENT_MAINTENANCE, 1);
	assert_int_equal(sched_agent_set_state(s, a1, SCHED_AGENT_ACTIVE), 0);
	assert_int_equal(sched_place(s, app, spec, &p[6], ports, NULL), 0);
	assert_int_equal(p[6].agent, a1);

	/* a removed agent keeps its instances' counts until they are released */
	assert_int_equal(sched_agent_remove(s, a2), 0);
	assert_int_equal(sched_agent_count(s), 1);
	assert_int_equal(sched_agent_find(s, "a2"), SCHED_NO_AGENT);
	assert_null(sched_agent_id(s, a2));
	assert_int_equal(sched_agent_remove(s, a2), PACER_ENOTFOUND);
	assert_int_equal(sched_app_instances(app), 7);
	for (int i = 0; i < 6; i++)
		sched_release(s, &p[i], ports);
	/* its id can come back as a new agent */
	add_agent(s, "a2", "cpus:1;mem:64", NULL);
	assert_int_equal(sched_agent_count(s), 2);
	sched_release(s, &p[6], ports);
	assert_int_equal(sched_app_instances(app), 0);
	assert_int_equal(sched_agent_add(s, "a1", "x", NULL, NULL, NULL), PACER_ECONFLICT);
	sched_spec_free(s, spec);
	sched_free(s);
}

static void test_gpu_restricted(void **state)
{
	struct sched_options o = {.gpu_restricted = 1};
	struct sched *s = sched_new(&o);
	struct sched_app *app = sched_app_get(s, "/web");
	struct sched_spec *cpu = spec_new(s, 1, 64, 0, 0, NULL, 0);
	struct sched_spec *gpu = spec_new(s, 1, 64, 0, 1, NULL, 0);
	struct sched_placement p;
	uint16_t ports[1];
	uint32_t g = add_agent(s, "gpu", "cpus:8;mem:1024;gpus:4", NULL);

	expect_refused(s, app, cpu, SCHED_R_DECLINED_SCARCE, 1);
	assert_int_equal(sched_place(s, app, gpu, &p, ports, NULL), 0);
	assert_int_equal(p.agent, g);
	sched_release(s, &p, ports);
	sched_spec_free(s, cpu);
	sched_spec_free(s, gpu);
	sched_free(s);
}

static void test_spread_and_pack(void **state)
{
	struct sched_options pack = {.strategy = SCHED_PACK};
	struct sched *s = sched_new(NULL), *t = sched_new(&pack);
	struct sched_spec *spec = spec_new(s, 0.5, 64, 0, 0, NULL, 0);
	struct sched_spec *tspec = spec_new(t, 0.5, 64, 0, 0, NULL, 0);
	struct sched_app *app = sched_app_get(s, "/web"), *tapp = sched_app_get(t, "/web");
	struct sched_placement p[10];
	uint16_t ports[1];
	char id[16];

	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "a%d", i);
		add_agent(s, id, "cpus:8;mem:4096", NULL);
		add_agent(t, id, "cpus:8;mem:4096", NULL);
	}
	for (int i = 0; i < 10; i++)
		assert_int_equal(sched_place(s, app, spec, &p[i], ports, NULL), 0);
	for (uint32_t a = 0; a < 10; a++)
		assert_int_equal(sched_app_instances_on(app, a), 1);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(sched_place(t, tapp, tspec, &p[i], ports, NULL), 0);
		assert_int_equal(p[i].agent, p[0].agent);
	}
	sched_spec_free(s, spec);
	sched_spec_free(t, tspec);
	sched_free(s);
	sched_free(t);
}

/* 10,000 instances of 100 apps of mixed sizes on 1,000 agents of mixed sizes. */
static void test_consistency(void **state)
{
	enum { AGENTS = 1000, APPS = 100, N = 10000 };
	struct sched *s = sched_new(NULL);
	struct sched_spec *specs[APPS];
	struct sched_app *apps[APPS];
	struct sched_placement *pl = calloc(N, sizeof(*pl));
	uint16_t(*ports)[2] = calloc(N, sizeof(*ports));
	char *placed = calloc(N, 1);
	char buf[128];
	unsigned seed = 42;
	int nplaced = 0;

	for (int i = 0; i < AGENTS; i++) {
		snprintf(buf, sizeof(buf), "cpus:%d;mem:%d;disk:%d;ports:[31000-%d]", 4 + i % 13,
			 2048 + 512 * (i % 7), 10000, 31000 + i % 20);
		snprintf(buf + 64, 64, "a%d", i);
		add_agent(s, buf + 64, buf, NULL);
	}
	for (int i = 0; i < APPS; i++) {
		snprintf(buf, sizeof(buf), "/app%d", i);
		apps[i] = sched_app_get(s, buf);
		specs[i] = spec_new(s, 0.1 * (1 + i % 10), 32.0 * (1 + i % 5), i % 3 * 10, 0,
				    (const uint16_t[]){0, 0}, (size_t)(i % 3));
	}
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			int a = i % APPS;

			if (placed[i] && round > 0 && rand_r(&seed) % 2) {
				sched_release(s, &pl[i], ports[i]);
				placed[i] = 0;
				nplaced--;
			} else if (!placed[i] &&
				   !sched_place(s, apps[a], specs[a], &pl[i], ports[i], NULL)) {
				placed[i] = 1;
				nplaced++;
			}
		}
		/* no agent over-committed, instance counts add up, ports distinct */
		uint32_t sum = 0;
		for (uint32_t a = 0; a < AGENTS; a++) {
			struct sched_usage u, t;

			assert_int_equal(sched_agent_usage(s, a, &u, &t), 0);
			assert_true(u.cpus <= t.cpus + 1e-9 && u.mem <= t.mem + 1e-9 &&
				    u.disk <= t.disk + 1e-9 && u.ports <= t.ports);
			sum += u.instances;
		}
		assert_int_equal(sum, nplaced);
		for (int i = 0; i < N; i++)
			for (int k = 1; placed[i] && k < pl[i].nports; k++)
				assert_int_not_equal(ports[i][0], ports[i][k]);
	}
	assert_true(nplaced > N / 2);
	for (int i = 0; i < N; i++)
		if (placed[i])
			sched_release(s, &pl[i], ports[i]);
	for (uint32_t a = 0; a < AGENTS; a++) {
		struct sched_usage u;

		sched_agent_usage(s, a, &u, NULL);
		assert_true(u.cpus == 0 && u.mem == 0 && u.disk == 0 && u.ports == 0 && !u.instances);
	}
	for (int i = 0; i < APPS; i++)
		sched_spec_free(s, specs[i]);
	free(pl);
	free(ports);
	free(placed);
	sched_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fits_and_reasons),
		cmocka_unit_test(test_refusals_funnel),
		cmocka_unit_test(test_dynamic_ports),
		cmocka_unit_test(test_required_ports),
		cmocka_unit_test(test_accepted_roles),
		cmocka_unit_test(test_release_returns_everything),
		cmocka_unit_test(test_agent_states),
		cmocka_unit_test(test_gpu_restricted),
		cmocka_unit_test(test_spread_and_pack),
		cmocka_unit_test(test_consistency),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
