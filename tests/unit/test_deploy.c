/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the running deployments (deploy/deployments.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "deploy/deployments.h"

/* The convergence stub: apps named in `done` have converged; every question is recorded. */
struct stub {
	const char *done[8];
	char asked[256];
	int64_t last_version;
};

static int converged(void *arg, const char *app_id, int64_t version)
{
	struct stub *s = arg;

	strncat(s->asked, app_id, sizeof(s->asked) - strlen(s->asked) - 2);
	strcat(s->asked, " ");
	s->last_version = version;
	for (size_t i = 0; i < 8 && s->done[i]; i++)
		if (!strcmp(s->done[i], app_id))
			return 1;
	return 0;
}

struct fixture {
	uv_loop_t loop;
	struct stub stub;
	struct deployments *d;
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	uv_loop_init(&f->loop);
	f->d = deployments_new(&f->loop, converged, &f->stub, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	deployments_free(f->d);
	uv_run(&f->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	free(f);
	return 0;
}

static struct deployment *dep1(const char *id, const char *app, enum deploy_action a)
{
	struct deployment *dep = deployment_new(id, 1700000000000);

	deployment_add(dep, app, a, 0, NULL);
	return dep;
}

static void lists_until_converged(void **state)
{
	struct fixture *f = *state;
	struct strbuf b = STRBUF_INIT;
	uint64_t gen = deployments_generation(f->d);

	deployments_add(f->d, dep1("d1", "/a", DEPLOY_START));
	assert_true(deployments_generation(f->d) != gen);
	assert_int_equal(deployments_count(f->d), 1);
	assert_string_equal(deployments_of_app(f->d, "/a")->id, "d1");
	assert_non_null(deployments_get(f->d, "d1"));
	deployments_json(f->d, &b);
	assert_string_equal(b.buf,
			    "[{\"id\":\"d1\",\"version\":\"2023-11-14T22:13:20.000Z\","
			    "\"affectedApps\":[\"/a\"],\"affectedPods\":[],"
			    "\"steps\":[{\"actions\":[{\"action\":\"StartApplication\",\"app\":\"/a\"}]}],"
			    "\"currentActions\":[{\"action\":\"StartApplication\",\"app\":\"/a\","
			    "\"readinessCheckResults\":[]}],\"currentStep\":1,\"totalSteps\":1}]");
	strbuf_release(&b);

	deployments_check(f->d);
	assert_int_equal(deployments_count(f->d), 1);
	assert_int_equal(f->stub.last_version, 1700000000000);
	f->stub.done[0] = "/a";
	deployments_check(f->d);
	assert_int_equal(deployments_count(f->d), 0);
	assert_null(deployments_of_app(f->d, "/a"));
	assert_null(deployments_get(f->d, "d1"));
}

static void stop_asks_for_nothing_left(void **state)
{
	struct fixture *f = *state;

	deployments_add(f->d, dep1("d1", "/gone", DEPLOY_STOP));
	deployments_check(f->d);
	assert_int_equal(f->stub.last_version, 0);
	assert_int_equal(deployments_count(f->d), 1);
}

static void batch_finishes_when_all_converged(void **state)
{
	struct fixture *f = *state;
	struct deployment *dep = deployment_new("b", 5);

	deployment_add(dep, "/x", DEPLOY_SCALE, 1, NULL);
	deployment_add(dep, "/y", DEPLOY_RESTART, 1, NULL);
	deployment_add(dep, "/x", DEPLOY_RESTART, 1, NULL); /* one action per app */
	assert_int_equal(dep->napps, 2);
	assert_int_equal(dep->apps[0].action, DEPLOY_RESTART);
	deployments_add(f->d, dep);
	f->stub.done[0] = "/x";
	deployments_check(f->d);
	assert_int_equal(deployments_count(f->d), 1);
	/* a converged action is not asked again */
	f->stub.asked[0] = '\0';
	deployments_check(f->d);
	assert_string_equal(f->stub.asked, "/y ");
	f->stub.done[1] = "/y";
	deployments_check(f->d);
	assert_int_equal(deployments_count(f->d), 0);
}

static void newer_change_supersedes(void **state)
{
	struct fixture *f = *state;
	struct deployment *dep = deployment_new("old", 5);
	const struct deployment *old;

	deployment_add(dep, "/a", DEPLOY_START, 0, NULL);
	deployment_add(dep, "/b", DEPLOY_START, 0, NULL);
	deployments_add(f->d, dep);
	deployments_add(f->d, dep1("new-a", "/a", DEPLOY_SCALE));
	old = deployments_get(f->d, "old");
	assert_non_null(old);
	assert_int_equal(old->napps, 1);
	assert_string_equal(old->apps[0].app_id, "/b");
	assert_string_equal(deployments_of_app(f->d, "/a")->id, "new-a");
	/* left without actions: gone */
	deployments_add(f->d, dep1("new-b", "/b", DEPLOY_STOP));
	assert_null(deployments_get(f->d, "old"));
	assert_int_equal(deployments_count(f->d), 2);
}

static void cancel_and_empty(void **state)
{
	struct fixture *f = *state;
	struct deployment *dep;

	deployments_add(f->d, dep1("c", "/a", DEPLOY_RESTART));
	assert_null(deployments_cancel(f->d, "nope"));
	dep = deployments_cancel(f->d, "c");
	assert_non_null(dep);
	assert_string_equal(dep->id, "c");
	deployment_free(dep);
	assert_int_equal(deployments_count(f->d), 0);
	assert_null(deployments_of_app(f->d, "/a"));
	/* a change without actions finishes at once */
	deployments_add(f->d, deployment_new("empty", 1));
	assert_int_equal(deployments_count(f->d), 0);
}

static void keeps_prev_def(void **state)
{
	struct deployment *dep = deployment_new("p", 9);

	(void)state;
	deployment_add(dep, "/a", DEPLOY_STOP, 7, "{\"id\":\"/a\"}");
	assert_int_equal(dep->apps[0].prev_version, 7);
	assert_string_equal(dep->apps[0].prev_def, "{\"id\":\"/a\"}");
	assert_string_equal(deploy_action_name(DEPLOY_STOP), "StopApplication");
	assert_string_equal(deploy_action_name(DEPLOY_SCALE), "ScaleApplication");
	deployment_free(dep);
}

static void timer_checks(void **state)
{
	struct fixture *f = *state;

	f->stub.done[0] = "/t";
	deployments_add(f->d, dep1("t", "/t", DEPLOY_START));
	/* the 200 ms timer finishes it, then stops: the loop ends by itself */
	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(deployments_count(f->d), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(lists_until_converged, setup, teardown),
		cmocka_unit_test_setup_teardown(stop_asks_for_nothing_left, setup, teardown),
		cmocka_unit_test_setup_teardown(batch_finishes_when_all_converged, setup, teardown),
		cmocka_unit_test_setup_teardown(newer_change_supersedes, setup, teardown),
		cmocka_unit_test_setup_teardown(cancel_and_empty, setup, teardown),
		cmocka_unit_test(keeps_prev_def),
		cmocka_unit_test_setup_teardown(timer_checks, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
