/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the task environment through env.h: the variables Marathon and
 * Mesos set, their formats (ports, labels, resources), and that the app's
 * own env overrides them as in Marathon's TaskBuilder.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/env.h"

static void build_full(struct env_list *l)
{
	static const struct env_port ports[] = {
		{31000, 0, "http"}, {31001, 8080, NULL}, {31002, 0, "admin-ui"}};
	static const struct env_pair labels[] = {{"X", "y"}, {"my.label-a", "v"}};
	static const struct env_pair env[] = {{"FOO", "bar"}, {"MARATHON_APP_VERSION", "mine"}};
	struct task_env_input in = {
		.app_id = "/web/app",
		.app_version = "2015-04-02T09:37:00.596Z",
		.task_id = "web_app.1234",
		.host = "node-1",
		.sandbox = "/var/pacer/tasks/web_app.1234",
		.cpus = 0.5,
		.mem = 128,
		.disk = 0,
		.gpus = 0,
		.ports = ports,
		.nports = 3,
		.labels = labels,
		.nlabels = 2,
		.env = env,
		.nenv = 2,
	};

	task_env_build(&in, l);
}

static void test_ports(void **state)
{
	struct env_list l = ENV_LIST_INIT;

	build_full(&l);
	assert_string_equal(env_list_get(&l, "PORT0"), "31000");
	assert_string_equal(env_list_get(&l, "PORT1"), "31001");
	assert_string_equal(env_list_get(&l, "PORT2"), "31002");
	assert_string_equal(env_list_get(&l, "PORT"), "31000");
	assert_string_equal(env_list_get(&l, "PORTS"), "31000,31001,31002");
	assert_string_equal(env_list_get(&l, "PORT_HTTP"), "31000");
	assert_string_equal(env_list_get(&l, "PORT_ADMIN_UI"), "31002");
	/* a requested port names its variable (Marathon's PORT_<port>); a port asked as 0 none */
	assert_string_equal(env_list_get(&l, "PORT_8080"), "31001");
	assert_null(env_list_get(&l, "PORT_31000"));
	assert_null(env_list_get(&l, "PORT_0"));
	assert_string_equal(env_list_get(&l, "HOST"), "node-1");
	env_list_release(&l);
}

static void test_app_metadata(void **state)
{
	struct env_list l = ENV_LIST_INIT;

	build_full(&l);
	assert_string_equal(env_list_get(&l, "MARATHON_APP_ID"), "/web/app");
	assert_string_equal(env_list_get(&l, "MESOS_TASK_ID"), "web_app.1234");
	assert_string_equal(env_list_get(&l, "MESOS_SANDBOX"), "/var/pacer/tasks/web_app.1234");
	assert_string_equal(env_list_get(&l, "MARATHON_APP_RESOURCE_CPUS"), "0.5");
	assert_string_equal(env_list_get(&l, "MARATHON_APP_RESOURCE_MEM"), "128.0");
	assert_string_equal(env_list_get(&l, "MARATHON_APP_RESOURCE_DISK"), "0.0");
	assert_string_equal(env_list_get(&l, "MARATHON_APP_RESOURCE_GPUS"), "0");
	assert_null(env_list_get(&l, "MARATHON_APP_DOCKER_IMAGE"));
	assert_null(env_list_get(&l, "MESOS_AGENT_ENDPOINT"));
	env_list_release(&l);
}

static void test_labels(void **state)
{
	struct env_list l = ENV_LIST_INIT;

	build_full(&l);
	assert_string_equal(env_list_get(&l, "MARATHON_APP_LABELS"), "X MY_LABEL_A");
	assert_string_equal(env_list_get(&l, "MARATHON_APP_LABEL_X"), "y");
	assert_string_equal(env_list_get(&l, "MARATHON_APP_LABEL_MY_LABEL_A"), "v");
	env_list_release(&l);
}

static void test_app_env_wins(void **state)
{
	struct env_list l = ENV_LIST_INIT;

	build_full(&l);
	assert_string_equal(env_list_get(&l, "FOO"), "bar");
	/* Marathon merges context ++ ports ++ app.env: the app's value wins */
	assert_string_equal(env_list_get(&l, "MARATHON_APP_VERSION"), "mine");
	/* one entry per name, NULL-terminated */
	assert_null(l.v[l.n]);
	for (size_t i = 0; i < l.n; i++)
		for (size_t j = i + 1; j < l.n; j++)
			assert_false(strcspn(l.v[i], "=") == strcspn(l.v[j], "=") &&
				     !strncmp(l.v[i], l.v[j], strcspn(l.v[i], "=")));
	env_list_release(&l);
}

static void test_no_ports_long_labels(void **state)
{
	char longname[600];
	struct env_pair labels[] = {{longname, "v"}, {"ok", "1"}};
	struct task_env_input in = {.app_id = "/a", .docker_image = "nginx:1.9",
				    .agent_endpoint = "10.0.0.1:5051", .labels = labels,
				    .nlabels = 2};
	struct env_list l = ENV_LIST_INIT;

	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	task_env_build(&in, &l);
	assert_null(env_list_get(&l, "PORT"));
	assert_null(env_list_get(&l, "PORTS"));
	assert_string_equal(env_list_get(&l, "MARATHON_APP_LABELS"), "OK");
	assert_string_equal(env_list_get(&l, "MARATHON_APP_DOCKER_IMAGE"), "nginx:1.9");
	assert_string_equal(env_list_get(&l, "MESOS_AGENT_ENDPOINT"), "10.0.0.1:5051");
	env_list_release(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_app_metadata),
		cmocka_unit_test(test_labels),
		cmocka_unit_test(test_app_env_wins),
		cmocka_unit_test(test_no_ports_long_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
