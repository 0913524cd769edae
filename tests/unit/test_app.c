/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Unit tests of Marathon app definitions (model/app.h): defaults, every
 * validation rule with its path and message, the legacy format, the output
 * keys clients accept, merge, ports, round trips, and Marathon's own sample
 * apps (tests skip those when ../shared/marathon is absent).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "base/json.h"
#include "model/app.h"

/* ---- helpers ---------------------------------------------------------------------- */

static json_t *load(const char *text)
{
	json_error_t jerr;
	json_t *v = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);

	if (!v)
		fail_msg("bad test JSON: %s: %s", jerr.text, text);
	return v;
}

static struct app_def *parse_in(const char *text, const char *base)
{
	struct verrors errs = VERRORS_INIT;
	struct strbuf why = STRBUF_INIT;
	struct app_def *def = NULL;
	json_t *v = load(text);

	if (app_def_parse(v, base, NULL, &def, &errs)) {
		verrors_to_json(&errs, &why);
		fail_msg("%s: %s", text, why.buf);
	}
	assert_non_null(def);
	verrors_release(&errs);
	strbuf_release(&why);
	json_decref(v);
	return def;
}

static struct app_def *parse(const char *text)
{
	return parse_in(text, "/");
}

/* Parses text, which must fail, and returns the error body. */
static char *errors_of(const char *text, const char *base, const char *path_id)
{
	struct verrors errs = VERRORS_INIT;
	struct strbuf body = STRBUF_INIT;
	struct app_def *def = NULL;
	json_t *v = load(text);

	assert_int_equal(app_def_parse(v, base, path_id, &def, &errs), PACER_EINVALID);
	assert_null(def);
	assert_true(errs.n > 0);
	verrors_to_json(&errs, &body);
	verrors_release(&errs);
	json_decref(v);
	return strbuf_detach(&body, NULL);
}

/* Checks that parsing text reports msg at path (and whether it is a type error). */
static void expect_error_at(const char *text, const char *base, const char *path_id,
			    const char *path, const char *msg, int type_error)
{
	struct verrors errs = VERRORS_INIT;
	struct app_def *def = NULL;
	json_t *v = load(text);
	int found = 0;

	assert_int_equal(app_def_parse(v, base, path_id, &def, &errs), PACER_EINVALID);
	for (size_t i = 0; i < errs.n; i++)
		found |= !strcmp(errs.v[i].path, path) && !strcmp(errs.v[i].error, msg);
	if (!found || errs.type_error != type_error) {
		struct strbuf body = STRBUF_INIT;

		verrors_to_json(&errs, &body);
		fail_msg("%s: wanted %s \"%s\" (type_error %d), got %s", text, path, msg,
			 type_error, body.buf);
	}
	verrors_release(&errs);
	json_decref(v);
}

static void expect_error(const char *text, const char *path, const char *msg)
{
	expect_error_at(text, "/", NULL, path, msg, 0);
}

static void expect_type_error(const char *text, const char *path, const char *msg)
{
	expect_error_at(text, "/", NULL, path, msg, 1);
}

/* The member at a path of keys and array indexes, e.g. get(j, "container", "docker"). */
static json_t *getp(json_t *j, const char *const *keys)
{
	for (; *keys && j; keys++) {
		if (json_is_array(j))
			j = json_array_get(j, (size_t)atoi(*keys));
		else
			j = json_object_get(j, *keys);
	}
	return j;
}
#define GET(j, ...) getp((j), (const char *const[]){__VA_ARGS__, NULL})

/* json_equal, but numbers compare by value: 1 equals 1.0. */
static int same_json(json_t *a, json_t *b)
{
	const char *k;
	json_t *v;

	if (json_is_number(a) && json_is_number(b))
		return json_number_value(a) == json_number_value(b);
	if (json_is_array(a) && json_is_array(b)) {
		if (json_array_size(a) != json_array_size(b))
			return 0;
		for (size_t i = 0; i < json_array_size(a); i++) {
			if (!same_json(json_array_get(a, i), json_array_get(b, i)))
				return 0;
		}
		return 1;
	}
	if (json_is_object(a) && json_is_object(b)) {
		if (json_object_size(a) != json_object_size(b))
			return 0;
		json_object_foreach(a, k, v) {
			if (!same_json(v, json_object_get(b, k)))
				return 0;
		}
		return 1;
	}
	return a && b && json_equal(a, b);
}

static void assert_json(json_t *got, const char *want)
{
	json_t *w = load(want);

	if (!same_json(got, w)) {
		char *s = got ? json_dumps(got, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

		fail_msg("got %s, want %s", s ? s : "(absent)", want);
	}
	json_decref(w);
}

static char *serialize(const struct app_def *def)
{
	struct strbuf sb = STRBUF_INIT;

	app_def_serialize(def, &sb);
	return strbuf_detach(&sb, NULL);
}

/* serialize -> from_stored -> serialize gives the same bytes. */
static void assert_round_trip(const struct app_def *def)
{
	char *a = serialize(def), *b;
	struct app_def *again = NULL;

	if (app_def_from_stored(a, strlen(a), &again))
		fail_msg("stored form does not parse: %s", a);
	b = serialize(again);
	assert_string_equal(a, b);
	assert_string_equal(def->id, again->id);
	/* What is in memory equals what comes back from the store. */
	assert_true(app_def_only_scaling_differs(def, again));
	assert_true(json_equal(def->json, again->json));
	free(a);
	free(b);
	app_def_free(again);
}

/*
 * Where Marathon's reference files are: <source root>/../shared/marathon, the
 * source root being $PACER_SOURCE_ROOT, else the one __FILE__ names (relative
 * to the build dir, where meson runs tests), else "." or "..".
 */
static void shared_path(struct strbuf *sb, const char *rel)
{
	const char *f = __FILE__, *end = strstr(f, "tests/unit/test_app.c");
	struct strbuf from_file = STRBUF_INIT;
	const char *roots[4] = {getenv("PACER_SOURCE_ROOT"), NULL, ".", ".."};

	if (end && end != f) {
		strbuf_add(&from_file, f, (size_t)(end - f - 1));
		roots[1] = from_file.buf;
	}
	for (size_t i = 0; i < 4; i++) {
		if (!roots[i])
			continue;
		strbuf_reset(sb);
		strbuf_addf(sb, "%s/../shared/marathon/", roots[i]);
		if (!access(sb->buf, R_OK))
			break;
	}
	strbuf_addstr(sb, rel);
	strbuf_release(&from_file);
}

static json_t *load_shared(const char *rel)
{
	struct strbuf path = STRBUF_INIT;
	json_t *v;

	shared_path(&path, rel);
	v = json_load_file(path.buf, 0, NULL);
	strbuf_release(&path);
	return v;
}

/* ---- defaults and output keys ------------------------------------------------------ */

static void test_defaults(void **state)
{
	struct app_def *def = parse("{\"id\":\"/a\",\"cmd\":\"sleep 1\"}");
	json_t *j = def->json;

	(void)state;
	assert_string_equal(def->id, "/a");
	assert_int_equal(def->instances, 1);
	assert_true(def->cpus == 1.0 && def->mem == 128.0 && def->disk == 0.0);
	assert_int_equal(def->gpus, 0);
	assert_json(GET(j, "id"), "\"/a\"");
	assert_json(GET(j, "cmd"), "\"sleep 1\"");
	assert_null(GET(j, "args"));
	assert_null(GET(j, "user"));
	assert_json(GET(j, "env"), "{}");
	assert_json(GET(j, "labels"), "{}");
	assert_json(GET(j, "constraints"), "[]");
	assert_json(GET(j, "fetch"), "[]");
	assert_json(GET(j, "healthChecks"), "[]");
	assert_json(GET(j, "readinessChecks"), "[]");
	assert_json(GET(j, "dependencies"), "[]");
	assert_json(GET(j, "executor"), "\"\"");
	assert_json(GET(j, "backoffSeconds"), "1");
	assert_json(GET(j, "backoffFactor"), "1.15");
	assert_json(GET(j, "maxLaunchDelaySeconds"), "300");
	assert_json(GET(j, "upgradeStrategy"),
		    "{\"minimumHealthCapacity\":1,\"maximumOverCapacity\":1}");
	assert_json(GET(j, "requirePorts"), "false");
	assert_json(GET(j, "portDefinitions"),
		    "[{\"port\":0,\"name\":\"default\",\"protocol\":\"tcp\"}]");
	assert_json(GET(j, "networks"), "[{\"mode\":\"host\"}]");
	assert_json(GET(j, "killSelection"), "\"YOUNGEST_FIRST\"");
	assert_json(GET(j, "unreachableStrategy"),
		    "{\"inactiveAfterSeconds\":0,\"expungeAfterSeconds\":0}");
	assert_json(GET(j, "gpus"), "0");
	assert_json(GET(j, "instances"), "1");
	/* Set only when given. */
	const char *absent[] = {"container", "acceptedResourceRoles", "taskKillGracePeriodSeconds",
				"secrets", "residency", "role", "ipAddress", "tty", "check",
				"resourceLimits", "executorResources", "ports", "uris", "version",
				"versionInfo"};
	for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++) {
		if (json_object_get(j, absent[i]))
			fail_msg("unexpected key %s", absent[i]);
	}
	app_def_free(def);
}

static void test_explicit_values(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"args\":[\"x\",\"y\"],\"user\":\"nobody\",\"instances\":3,"
		"\"cpus\":0.25,\"mem\":64,\"disk\":10,\"gpus\":1,\"executor\":\"//cmd\","
		"\"backoffSeconds\":5,\"backoffFactor\":2,\"maxLaunchDelaySeconds\":60,"
		"\"killSelection\":\"OLDEST_FIRST\",\"taskKillGracePeriodSeconds\":30,"
		"\"acceptedResourceRoles\":[\"*\",\"prod\"],\"role\":\"prod\",\"tty\":true,"
		"\"labels\":{\"HAPROXY_GROUP\":\"external\"},\"requirePorts\":true,"
		"\"upgradeStrategy\":{\"minimumHealthCapacity\":0.5,\"maximumOverCapacity\":0},"
		"\"resourceLimits\":{\"cpus\":\"unlimited\",\"mem\":128},"
		"\"executorResources\":{\"cpus\":0.2},"
		"\"version\":\"2015-09-25T15:13:48.343Z\",\"tasksRunning\":4,\"unknownKey\":1}");
	json_t *j = def->json;

	(void)state;
	assert_int_equal(def->instances, 3);
	assert_true(def->cpus == 0.25 && def->mem == 64 && def->disk == 10);
	assert_int_equal(def->gpus, 1);
	assert_json(GET(j, "args"), "[\"x\",\"y\"]");
	assert_null(GET(j, "cmd"));
	assert_json(GET(j, "user"), "\"nobody\"");
	assert_json(GET(j, "executor"), "\"//cmd\"");
	assert_json(GET(j, "backoffFactor"), "2");
	assert_json(GET(j, "killSelection"), "\"OLDEST_FIRST\"");
	assert_json(GET(j, "taskKillGracePeriodSeconds"), "30");
	assert_json(GET(j, "acceptedResourceRoles"), "[\"*\",\"prod\"]");
	assert_json(GET(j, "role"), "\"prod\"");
	assert_json(GET(j, "tty"), "true");
	assert_json(GET(j, "requirePorts"), "true");
	assert_json(GET(j, "labels"), "{\"HAPROXY_GROUP\":\"external\"}");
	assert_json(GET(j, "upgradeStrategy"),
		    "{\"minimumHealthCapacity\":0.5,\"maximumOverCapacity\":0}");
	assert_json(GET(j, "resourceLimits"), "{\"cpus\":\"unlimited\",\"mem\":128}");
	assert_json(GET(j, "executorResources"), "{\"cpus\":0.2,\"mem\":32,\"disk\":10}");
	/* Runtime and unknown fields are ignored. */
	assert_null(GET(j, "version"));
	assert_null(GET(j, "tasksRunning"));
	assert_null(GET(j, "unknownKey"));
	assert_round_trip(def);
	app_def_free(def);
}

/* Checks every key of obj against the client's list for object, when the client is strict. */
static void check_keys(json_t *keys_file, const char *object, json_t *obj)
{
	json_t *spec = json_object_get(keys_file, object), *keys = json_object_get(spec, "keys");
	const char *k;
	json_t *v;

	assert_non_null(keys);
	if (!json_is_true(json_object_get(spec, "strict")))
		return;	/* unknown keys are fine in a non-strict object */
	json_object_foreach(obj, k, v) {
		int found = 0;

		for (size_t i = 0; i < json_array_size(keys); i++)
			found |= !strcmp(json_string_value(json_array_get(keys, i)), k);
		if (!found)
			fail_msg("key '%s' of %s is unknown to marathon-python", k, object);
	}
}

static void check_list(json_t *keys_file, const char *object, json_t *list)
{
	for (size_t i = 0; i < json_array_size(list); i++)
		check_keys(keys_file, object, json_array_get(list, i));
}

static void test_output_keys_marathon_python(void **state)
{
	json_t *keys = load_shared("clients/marathon-python-keys.json");
	const char *apps[] = {
		"{\"id\":\"/a\",\"cmd\":\"sleep 1\"}",
		"{\"id\":\"/b\",\"cmd\":\"x\",\"ports\":[0,0],\"uris\":[\"http://x/a.tgz\"],"
		"\"healthChecks\":[{}],\"readinessChecks\":[{\"portName\":\"default\"}],"
		"\"portDefinitions\":[{\"port\":0,\"name\":\"default\"},{\"port\":0}],"
		"\"secrets\":{\"s\":{\"source\":\"/x\"}},\"env\":{\"A\":{\"secret\":\"s\"}},"
		"\"acceptedResourceRoles\":[\"*\"],\"user\":\"u\",\"dependencies\":[\"/c\"]}",
		"{\"id\":\"/c\",\"container\":{\"type\":\"DOCKER\",\"docker\":{\"image\":\"n\","
		"\"network\":\"BRIDGE\",\"portMappings\":[{\"containerPort\":80,\"name\":\"http\"}]},"
		"\"volumes\":[{\"containerPath\":\"/d\",\"hostPath\":\"/h\",\"mode\":\"RO\"}]}}",
		("{\"id\":\"/d\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\",\"volumes\":"
		 "[{\"containerPath\":\"data\",\"persistent\":{\"size\":10}}]}}"),
	};

	(void)state;
	if (!keys)
		skip();
	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
		struct app_def *def = parse(apps[i]);
		json_t *j = def->json, *c = json_object_get(j, "container");

		check_keys(keys, "MarathonApp", j);
		check_keys(keys, "MarathonUpgradeStrategy", GET(j, "upgradeStrategy"));
		if (json_is_object(GET(j, "unreachableStrategy")))
			check_keys(keys, "MarathonUnreachableStrategy", GET(j, "unreachableStrategy"));
		check_list(keys, "PortDefinition", GET(j, "portDefinitions"));
		check_list(keys, "ReadinessCheck", GET(j, "readinessChecks"));
		check_list(keys, "MarathonHealthCheck", GET(j, "healthChecks"));
		if (GET(j, "residency"))
			check_keys(keys, "Residency", GET(j, "residency"));
		if (c) {
			check_keys(keys, "MarathonContainer", c);
			check_list(keys, "MarathonContainerPortMapping", GET(c, "portMappings"));
			check_list(keys, "MarathonContainerVolume", GET(c, "volumes"));
			if (GET(c, "docker"))
				check_keys(keys, "MarathonDockerContainer", GET(c, "docker"));
		}
		{
			const char *k;
			json_t *v;

			json_object_foreach(json_object_get(j, "secrets"), k, v)
				check_keys(keys, "Secret", v);
		}
		app_def_free(def);
	}
	json_decref(keys);
}

/* ---- ids --------------------------------------------------------------------------- */

static void test_relative_ids(void **state)
{
	struct app_def *def;

	(void)state;
	def = parse_in("{\"id\":\"web\",\"cmd\":\"x\"}", "/prod");
	assert_string_equal(def->id, "/prod/web");
	assert_json(GET(def->json, "id"), "\"/prod/web\"");
	app_def_free(def);
	def = parse_in("{\"id\":\"/prod/web\",\"cmd\":\"x\"}", "prod/");
	assert_string_equal(def->id, "/prod/web");
	app_def_free(def);
	def = parse("{\"id\":\"a/b/../c\",\"cmd\":\"x\"}");
	assert_string_equal(def->id, "/a/c");
	app_def_free(def);
	def = parse("{\"id\":\"/a//b/\",\"cmd\":\"x\"}");
	assert_string_equal(def->id, "/a/b");
	app_def_free(def);
	/* Inside a group an app is a direct child of it. */
	expect_error_at("{\"id\":\"/other/web\",\"cmd\":\"x\"}", "/prod", NULL, "/id",
			"Identifier is not child of /prod. Hint: use relative paths.", 0);
}

static void test_path_id(void **state)
{
	struct verrors errs = VERRORS_INIT;
	struct app_def *def = NULL;
	json_t *v = load("{\"cmd\":\"x\"}");

	(void)state;
	assert_int_equal(app_def_parse(v, "/", "/a/b", &def, &errs), 0);
	assert_string_equal(def->id, "/a/b");
	app_def_free(def);
	json_decref(v);
	v = load("{\"id\":\"/a/b\",\"cmd\":\"x\"}");
	assert_int_equal(app_def_parse(v, "/", "/a/b", &def, &errs), 0);
	app_def_free(def);
	json_decref(v);
	v = load("{\"id\":\"b\",\"cmd\":\"x\"}");
	assert_int_equal(app_def_parse(v, "/", "/a/b", &def, &errs), 0);
	assert_string_equal(def->id, "/a/b");
	app_def_free(def);
	json_decref(v);
	verrors_release(&errs);
	expect_error_at("{\"id\":\"/c\",\"cmd\":\"x\"}", "/", "/a/b", "/id",
			"id '/c' in the body differs from '/a/b' in the path", 0);
}

static void test_invalid_ids(void **state)
{
	const char *rule = "must fully match regular expression "
			   "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9]"
			   "[a-z0-9\\-]*[a-z0-9])|(\\.|\\.\\.)$'";
	const char *bad[] = {"Foo", "a_b", "-a", "a-", "/a/B", "a..b"};
	char text[128], msg[512];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *seg = strrchr(bad[i], '/') ? strrchr(bad[i], '/') + 1 : bad[i];

		snprintf(text, sizeof(text), "{\"id\":\"%s\",\"cmd\":\"x\"}", bad[i]);
		snprintf(msg, sizeof(msg), "'%s' is not a valid path segment: %s", seg, rule);
		expect_error(text, "/id", msg);
	}
	expect_error("{\"id\":\"/\",\"cmd\":\"x\"}", "/id",
		     "Path must contain at least one path element");
	expect_error("{\"id\":\"\",\"cmd\":\"x\"}", "/id",
		     "Path must contain at least one path element");
	expect_error("{\"id\":\"/a/tasks\",\"cmd\":\"x\"}", "/id",
		     "must not end with any of the following reserved keywords: restart, tasks, "
		     "versions");
	expect_type_error("{\"cmd\":\"x\"}", "/id", "error.path.missing");
	expect_type_error("{\"id\":5,\"cmd\":\"x\"}", "/id", "error.expected.jsstring");
}

/* ---- command ----------------------------------------------------------------------- */

static void test_command_rules(void **state)
{
	const char *msg = "AppDefinition must either contain one of 'cmd' or 'args', and/or a "
			  "'container'.";
	struct app_def *def;

	(void)state;
	expect_error("{\"id\":\"/a\"}", "/", msg);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"args\":[\"y\"]}", "/", msg);
	expect_error("{\"id\":\"/a\",\"container\":{\"type\":\"MESOS\"}}", "/", msg);
	expect_error("{\"id\":\"/a\",\"args\":[]}", "/", msg);
	expect_error("{\"id\":\"/a\",\"cmd\":\"\"}", "/cmd", "must not be an empty string");
	expect_type_error("{\"id\":\"/a\",\"args\":\"x\"}", "/args", "error.expected.jsarray");
	expect_type_error("{\"id\":\"/a\",\"args\":[1]}", "/args(0)", "error.expected.jsstring");
	def = parse("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"nginx\"}}}");
	assert_json(GET(def->json, "container", "type"), "\"DOCKER\"");
	app_def_free(def);
	def = parse("{\"id\":\"/a\",\"args\":[\"-x\"],\"container\":{\"type\":\"MESOS\","
		    "\"docker\":{\"image\":\"nginx\"}}}");
	app_def_free(def);
}

/* ---- numbers and types ------------------------------------------------------------- */

static void test_ranges(void **state)
{
	(void)state;
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"cpus\":0}", "/cpus", "must be at least 0.001");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"mem\":-1}", "/mem", "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"disk\":-0.5}", "/disk", "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"gpus\":-1}", "/gpus", "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"instances\":-1}", "/instances",
		     "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"backoffFactor\":0.9}", "/backoffFactor",
		     "must be at least 1");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"backoffSeconds\":-1}", "/backoffSeconds",
		     "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"maxLaunchDelaySeconds\":-1}",
		     "/maxLaunchDelaySeconds", "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"taskKillGracePeriodSeconds\":-1}",
		     "/taskKillGracePeriodSeconds", "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"upgradeStrategy\":"
		     "{\"minimumHealthCapacity\":1.5}}",
		     "/upgradeStrategy/minimumHealthCapacity", "is greater than 1");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"upgradeStrategy\":"
		     "{\"maximumOverCapacity\":-0.1}}",
		     "/upgradeStrategy/maximumOverCapacity", "is less than 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"executor\":\"a//b\"}", "/executor",
		     "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"killSelection\":\"RANDOM\"}", "/killSelection",
		     "'RANDOM' is not one of YOUNGEST_FIRST, OLDEST_FIRST");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"acceptedResourceRoles\":[]}",
		     "/acceptedResourceRoles", "must not be empty");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"acceptedResourceRoles\":[\"a\",\"a\"]}",
		     "/acceptedResourceRoles", "elements must be unique");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"role\":\"\"}", "/role",
		     "'' is not a valid role name");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"resourceLimits\":{\"mem\":64}}",
		     "/resourceLimits/mem", "must be at least the requested mem (128)");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"gpus\":1,\"container\":{\"docker\":"
		     "{\"image\":\"i\"}}}",
		     "/", "GPU resources only work with the Mesos containerizer");
}

static void test_bad_types(void **state)
{
	char *body;

	(void)state;
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"cpus\":\"1\"}", "/cpus",
			  "error.expected.jsnumber");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"instances\":1.5}", "/instances",
			  "error.expected.int");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"instances\":3000000000}", "/instances",
			  "error.expected.int");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"env\":[]}", "/env",
			  "error.expected.jsobject");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"env\":{\"A\":1}}", "/env/A",
			  "error.expected.jsstring");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"constraints\":{}}", "/constraints",
			  "error.expected.jsarray");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"requirePorts\":\"yes\"}", "/requirePorts",
			  "error.expected.jsboolean");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"labels\":{\"a\":1}}", "/labels/a",
			  "error.expected.jsstring");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[{\"port\":\"80\"}]}",
			  "/portDefinitions(0)/port", "error.expected.jsnumber");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"container\":[]}", "/container",
			  "error.expected.jsobject");
	expect_type_error("[1]", "/", "error.expected.jsobject");
	/* Doubles keep the 15 significant digits the stored form has. */
	struct app_def *r = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"cpus\":0.1234567890123456789}");
	assert_true(r->cpus == 0.123456789012346);
	assert_round_trip(r);
	app_def_free(r);
	/* Integral doubles are integers, as Play reads them. */
	struct app_def *def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"instances\":2.0,\"cpus\":2}");
	assert_int_equal(def->instances, 2);
	assert_true(def->cpus == 2.0);
	app_def_free(def);

	body = errors_of("{\"id\":5,\"cmd\":\"x\",\"cpus\":\"a\"}", "/", NULL);
	assert_string_equal(body, "{\"message\":\"Invalid JSON\",\"details\":["
				  "{\"path\":\"/id\",\"errors\":[\"error.expected.jsstring\"]},"
				  "{\"path\":\"/cpus\",\"errors\":[\"error.expected.jsnumber\"]}]}");
	free(body);
}

static void test_error_body(void **state)
{
	char *body;
	struct verrors e = VERRORS_INIT;
	struct strbuf sb = STRBUF_INIT;

	(void)state;
	body = errors_of("{\"id\":\"/a\",\"cmd\":\"x\",\"cpus\":0,\"mem\":-1,"
			 "\"upgradeStrategy\":{\"minimumHealthCapacity\":2,"
			 "\"maximumOverCapacity\":2}}",
			 "/", NULL);
	assert_string_equal(body,
			    "{\"message\":\"Object is not valid\",\"details\":["
			    "{\"path\":\"/cpus\",\"errors\":[\"must be at least 0.001\"]},"
			    "{\"path\":\"/mem\",\"errors\":[\"must be at least 0\"]},"
			    "{\"path\":\"/upgradeStrategy/minimumHealthCapacity\","
			    "\"errors\":[\"is greater than 1\"]},"
			    "{\"path\":\"/upgradeStrategy/maximumOverCapacity\","
			    "\"errors\":[\"is greater than 1\"]}]}");
	free(body);

	/* Grouping by path, in order of first appearance; duplicates dropped. */
	verrors_add(&e, "/a", "one");
	verrors_add(&e, "/b", "two");
	verrors_add(&e, "/a", "three \"q\"");
	verrors_add(&e, "/a", "one");
	verrors_add(&e, "", "root");
	verrors_to_json(&e, &sb);
	assert_string_equal(sb.buf, "{\"message\":\"Object is not valid\",\"details\":["
				    "{\"path\":\"/a\",\"errors\":[\"one\",\"three \\\"q\\\"\"]},"
				    "{\"path\":\"/b\",\"errors\":[\"two\"]},"
				    "{\"path\":\"/\",\"errors\":[\"root\"]}]}");
	strbuf_reset(&sb);
	verrors_add_type(&e, "/c", "error.expected.jsnumber");
	assert_string_equal(verrors_message(&e), "Invalid JSON");
	verrors_release(&e);
	verrors_to_json(&e, &sb);
	assert_string_equal(sb.buf, "{\"message\":\"Object is not valid\",\"details\":[]}");
	strbuf_release(&sb);
}

/* ---- constraints ------------------------------------------------------------------- */

static void constraint_error(const char *c, const char *msg)
{
	char text[512];

	snprintf(text, sizeof(text), "{\"id\":\"/a\",\"cmd\":\"x\",\"constraints\":[%s]}", c);
	expect_error(text, "/constraints(0)", msg);
}

static void test_constraints(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"constraints\":[[\"hostname\",\"UNIQUE\"],"
		"[\"rack\",\"CLUSTER\",\"r1\"],[\"rack\",\"GROUP_BY\"],[\"rack\",\"GROUP_BY\",\"3\"],"
		"[\"host\",\"LIKE\",\"srv[0-9]+\\\\d*\"],[\"host\",\"UNLIKE\",\"x.*\"],"
		"[\"host\",\"MAX_PER\",\"2\"],[\"zone\",\"IS\",\"a\"],[\"hostname\",\"UNIQUE\"]]}");

	(void)state;
	/* The repeated UNIQUE is dropped, as Marathon keeps a set. */
	assert_int_equal(json_array_size(GET(def->json, "constraints")), 8);
	assert_json(GET(def->json, "constraints", "1"), "[\"rack\",\"CLUSTER\",\"r1\"]");
	app_def_free(def);

	constraint_error("[\"a\"]", "Each constraint must have either 2 or 3 fields");
	constraint_error("[\"a\",\"UNIQUE\",\"x\",\"y\"]",
			 "Each constraint must have either 2 or 3 fields");
	constraint_error("[\"a\",\"NEAR\"]", "Constraint operator must be one of the following "
					     "UNIQUE, CLUSTER, GROUP_BY, LIKE, MAX_PER, UNLIKE or IS");
	constraint_error("[\"a\",\"UNIQUE\",\"x\"]", "Value specified but not used");
	constraint_error("[\"a\",\"CLUSTER\"]", "Missing value");
	constraint_error("[\"a\",\"IS\"]", "Missing value");
	constraint_error("[\"a\",\"GROUP_BY\",\"x\"]", "Value was specified but is not a number");
	constraint_error("[\"a\",\"MAX_PER\",\"x\"]", "Value was not specified or is not a number");
	constraint_error("[\"a\",\"MAX_PER\"]", "Value was not specified or is not a number");
	constraint_error("[\"a\",\"LIKE\"]", "A regular expression value must be provided");
	constraint_error("[\"a\",\"LIKE\",\"[\"]", "'[' is not a valid regular expression");
	constraint_error("[\"a\",\"UNLIKE\",\"(a\"]", "'(a' is not a valid regular expression");
	constraint_error("[\"\",\"UNIQUE\"]", "Missing field and operator");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"constraints\":[[\"a\",1]]}",
			  "/constraints(0)(1)", "error.expected.jsstring");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"constraints\":[\"a\"]}",
			  "/constraints(0)", "error.expected.jsarray");
}

/* ---- health and readiness checks --------------------------------------------------- */

static void test_health_checks(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"healthChecks\":[{},{\"protocol\":\"TCP\","
		"\"port\":8080},{\"protocol\":\"COMMAND\",\"command\":{\"value\":\"true\"}},"
		"{\"protocol\":\"MESOS_HTTP\",\"path\":\"/h\",\"portIndex\":0,"
		"\"ignoreHttp1xx\":true}]}");
	json_t *hc = GET(def->json, "healthChecks");

	(void)state;
	assert_json(json_array_get(hc, 0),
		    "{\"gracePeriodSeconds\":300,\"intervalSeconds\":60,\"timeoutSeconds\":20,"
		    "\"maxConsecutiveFailures\":3,\"delaySeconds\":15,\"protocol\":\"HTTP\","
		    "\"path\":\"/\",\"portIndex\":0,\"ignoreHttp1xx\":false}");
	assert_json(json_array_get(hc, 1),
		    "{\"gracePeriodSeconds\":300,\"intervalSeconds\":60,\"timeoutSeconds\":20,"
		    "\"maxConsecutiveFailures\":3,\"delaySeconds\":15,\"protocol\":\"TCP\","
		    "\"port\":8080}");
	assert_json(json_array_get(hc, 2),
		    "{\"gracePeriodSeconds\":300,\"intervalSeconds\":60,\"timeoutSeconds\":20,"
		    "\"maxConsecutiveFailures\":3,\"delaySeconds\":15,\"protocol\":\"COMMAND\","
		    "\"command\":{\"value\":\"true\"}}");
	assert_json(GET(hc, "3", "ipProtocol"), "\"IPv4\"");
	assert_json(GET(hc, "3", "path"), "\"/h\"");
	assert_round_trip(def);
	app_def_free(def);

	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"healthChecks\":[{\"protocol\":\"COMMAND\"}]}",
		     "/healthChecks(0)/command", "must be defined for protocol COMMAND");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"healthChecks\":[{},{\"protocol\":\"FTP\"}]}",
		     "/healthChecks(1)/protocol",
		     "'FTP' is not one of HTTP, HTTPS, TCP, COMMAND, MESOS_HTTP, MESOS_HTTPS, "
		     "MESOS_TCP");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"healthChecks\":[{\"portIndex\":1}]}",
		     "/healthChecks(0)",
		     "Health check port indices must address an element of the ports array or "
		     "container port mappings.");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[],\"healthChecks\":[{}]}",
		     "/healthChecks(0)",
		     "Health check port indices must address an element of the ports array or "
		     "container port mappings.");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"healthChecks\":[{\"intervalSeconds\":-1}]}",
		     "/healthChecks(0)/intervalSeconds", "must be at least 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"healthChecks\":[{\"protocol\":\"MESOS_TCP\"},"
		     "{\"protocol\":\"MESOS_HTTP\"}]}",
		     "/", "AppDefinition can contain at most one Mesos health check");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"healthChecks\":[{\"ipProtocol\":\"IPv6\"}]}",
		     "/healthChecks(0)",
		     "IPv6 can only be used for container type DOCKER and Mesos http/https/tcp "
		     "health checks");
	/* Two port definitions: portIndex 1 is fine. */
	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[0,0],"
		    "\"healthChecks\":[{\"portIndex\":1}]}");
	app_def_free(def);
}

static void test_readiness_checks(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[{\"name\":\"http-api\"}],"
		"\"readinessChecks\":[{}]}");

	(void)state;
	assert_json(GET(def->json, "readinessChecks"),
		    "[{\"name\":\"readinessCheck\",\"protocol\":\"HTTP\",\"path\":\"/\","
		    "\"portName\":\"http-api\",\"intervalSeconds\":30,\"timeoutSeconds\":10,"
		    "\"httpStatusCodesForReady\":[200],\"preserveLastResponse\":false}]");
	app_def_free(def);
	def = parse("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"i\",\"network\":"
		    "\"BRIDGE\",\"portMappings\":[{\"containerPort\":80,\"name\":\"web\"}]}},"
		    "\"readinessChecks\":[{\"portName\":\"web\",\"protocol\":\"HTTPS\","
		    "\"httpStatusCodesForReady\":[200,204,200],\"preserveLastResponse\":true}]}");
	assert_json(GET(def->json, "readinessChecks", "0", "httpStatusCodesForReady"), "[200,204]");
	app_def_free(def);

	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"readinessChecks\":[{\"portName\":\"nope\"}]}",
		     "/readinessChecks(0)/portName", "No port definition reference for portName nope");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"readinessChecks\":[{\"portName\":\"default\","
		     "\"timeoutSeconds\":30}]}",
		     "/readinessChecks(0)/timeoutSeconds", "must be less than intervalSeconds (30)");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"readinessChecks\":[{\"portName\":\"default\","
		     "\"httpStatusCodesForReady\":[99]}]}",
		     "/readinessChecks(0)/httpStatusCodesForReady(0)", "must be at least 100");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"readinessChecks\":[{\"portName\":\"default\"},"
		     "{\"portName\":\"default\"}]}",
		     "/readinessChecks", "must not contain more than 1 readiness check");
}

/* ---- ports, networks, containers and the legacy format ----------------------------- */

static void test_legacy_ports_and_uris(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[8080,0],"
		"\"uris\":[\"http://h/app.tgz\",\"http://h/run.sh\"]}");

	(void)state;
	assert_json(GET(def->json, "portDefinitions"),
		    "[{\"port\":8080,\"protocol\":\"tcp\"},{\"port\":0,\"protocol\":\"tcp\"}]");
	/* Marathon's FetchUri.isExtract: only archives are extracted. */
	assert_json(GET(def->json, "fetch"),
		    "[{\"uri\":\"http://h/app.tgz\",\"extract\":true,\"executable\":false,"
		    "\"cache\":false},{\"uri\":\"http://h/run.sh\",\"extract\":false,"
		    "\"executable\":false,\"cache\":false}]");
	assert_null(GET(def->json, "ports"));
	assert_null(GET(def->json, "uris"));
	assert_round_trip(def);
	app_def_free(def);

	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[]}");
	assert_json(GET(def->json, "portDefinitions"), "[]");
	app_def_free(def);
	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[]}");
	assert_json(GET(def->json, "portDefinitions"), "[]");
	app_def_free(def);
	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[],\"portDefinitions\":"
		    "[{\"port\":10001}]}");
	assert_json(GET(def->json, "portDefinitions"), "[{\"port\":10001,\"protocol\":\"tcp\"}]");
	app_def_free(def);
	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[10001],\"portDefinitions\":"
		    "[{\"port\":10001,\"name\":\"web\"}]}");
	assert_json(GET(def->json, "portDefinitions", "0", "name"), "\"web\"");
	app_def_free(def);
	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"fetch\":[{\"uri\":\"http://h/f\","
		    "\"executable\":true,\"destPath\":\"bin/f\"}]}");
	assert_json(GET(def->json, "fetch"),
		    "[{\"uri\":\"http://h/f\",\"extract\":true,\"executable\":true,"
		    "\"cache\":false,\"destPath\":\"bin/f\"}]");
	app_def_free(def);

	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[80,80]}", "/", "ports must be unique");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[80],\"portDefinitions\":"
		     "[{\"port\":81}]}",
		     "/", "cannot specify both ports and port definitions");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[{\"port\":80},"
		     "{\"port\":80}]}",
		     "/portDefinitions", "Ports must be unique.");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[{\"name\":\"a\"},"
		     "{\"name\":\"a\"}]}",
		     "/portDefinitions", "Port names must be unique.");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[{\"port\":70000}]}",
		     "/portDefinitions(0)/port", "must be at most 65535");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"portDefinitions\":[{\"protocol\":\"sctp\"}]}",
		     "/portDefinitions(0)/protocol", "'sctp' is not one of tcp, udp, udp,tcp");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"uris\":[\"http://a\"],\"fetch\":"
		     "[{\"uri\":\"http://b\"}]}",
		     "/uris", "may not be set in conjunction with fetch");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"fetch\":[{}]}", "/fetch(0)/uri",
			  "error.path.missing");
}

static void test_legacy_docker_network(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"container\":{\"type\":\"DOCKER\",\"docker\":{\"image\":\"nginx\","
		"\"network\":\"BRIDGE\",\"portMappings\":[{\"containerPort\":80,\"servicePort\":0,"
		"\"protocol\":\"tcp\",\"name\":\"http\",\"labels\":{\"vip\":\"1.2.3.4:80\"}}]}}}");
	json_t *c;

	(void)state;
	c = GET(def->json, "container");
	assert_json(GET(def->json, "networks"), "[{\"mode\":\"container/bridge\"}]");
	assert_json(GET(c, "portMappings"),
		    "[{\"containerPort\":80,\"hostPort\":0,\"servicePort\":0,\"protocol\":\"tcp\","
		    "\"name\":\"http\",\"labels\":{\"vip\":\"1.2.3.4:80\"}}]");
	assert_null(GET(c, "docker", "network"));
	assert_null(GET(c, "docker", "portMappings"));
	assert_json(GET(def->json, "portDefinitions"), "[]");
	assert_round_trip(def);
	app_def_free(def);

	def = parse("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\","
		    "\"network\":\"HOST\"}}}");
	assert_json(GET(def->json, "networks"), "[{\"mode\":\"host\"}]");
	assert_null(GET(def->json, "container", "portMappings"));
	assert_json(GET(def->json, "portDefinitions", "0", "name"), "\"default\"");
	app_def_free(def);

	def = parse("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\","
		    "\"network\":\"USER\"}},\"ipAddress\":{\"networkName\":\"dcos\"}}");
	assert_json(GET(def->json, "networks"), "[{\"mode\":\"container\",\"name\":\"dcos\"}]");
	/* Non-host networks get Marathon's default port mapping. */
	assert_json(GET(def->json, "container", "portMappings"),
		    "[{\"containerPort\":0,\"servicePort\":0,\"protocol\":\"tcp\","
		    "\"name\":\"default\"}]");
	assert_null(GET(def->json, "ipAddress"));
	assert_round_trip(def);
	app_def_free(def);

	/* BRIDGE without portMappings: default mapping with hostPort 0. */
	def = parse("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\","
		    "\"network\":\"BRIDGE\"}}}");
	assert_json(GET(def->json, "container", "portMappings"),
		    "[{\"containerPort\":0,\"hostPort\":0,\"servicePort\":0,\"protocol\":\"tcp\","
		    "\"name\":\"default\"}]");
	app_def_free(def);

	expect_error("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\",\"network\":"
		     "\"BRIDGE\"}},\"networks\":[{\"mode\":\"host\"}]}",
		     "/", "must not specify both container.docker.network and networks");
	expect_error("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\",\"network\":"
		     "\"BRIDGE\",\"portMappings\":[{}]},\"portMappings\":[{}]}}",
		     "/container", "cannot specify both portMappings and docker.portMappings");
	expect_error("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\",\"network\":"
		     "\"SOMETHING\"}}}",
		     "/container/docker/network", "'SOMETHING' is not one of BRIDGE, HOST, NONE, USER");
}

static void test_networks(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"container/bridge\"}],"
		"\"portDefinitions\":[{\"port\":0},{\"port\":0}],\"requirePorts\":true}");

	(void)state;
	/* No container given: a MESOS one with the default mapping, plus one per port definition. */
	assert_json(GET(def->json, "container"),
		    "{\"type\":\"MESOS\",\"volumes\":[],\"portMappings\":["
		    "{\"containerPort\":0,\"hostPort\":0,\"servicePort\":0,\"protocol\":\"tcp\","
		    "\"name\":\"default\"},"
		    "{\"containerPort\":0,\"hostPort\":0,\"servicePort\":0,\"protocol\":\"tcp\"}]}");
	assert_json(GET(def->json, "portDefinitions"), "[]");
	assert_json(GET(def->json, "requirePorts"), "false");
	assert_round_trip(def);
	app_def_free(def);

	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"networks\":[{\"name\":\"n1\"},"
		    "{\"mode\":\"container\",\"name\":\"n2\",\"labels\":{\"a\":\"b\"}}],"
		    "\"container\":{\"type\":\"MESOS\",\"portMappings\":[{\"containerPort\":80,"
		    "\"hostPort\":0,\"networkNames\":[\"n1\"]}]}}");
	assert_json(GET(def->json, "networks"),
		    "[{\"mode\":\"container\",\"name\":\"n1\"},"
		    "{\"mode\":\"container\",\"name\":\"n2\",\"labels\":{\"a\":\"b\"}}]");
	assert_json(GET(def->json, "container", "portMappings", "0", "networkNames"), "[\"n1\"]");
	app_def_free(def);

	/* Port mappings given with host networking would be dropped: refuse them instead. */
	expect_error("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\"},\"portMappings\":"
		     "[{\"containerPort\":80}]}}",
		     "/container", "portMappings are not allowed with host-networking");

	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"host\"},"
		     "{\"mode\":\"container\",\"name\":\"a\"}]}",
		     "/networks", "host networking may not be combined with other networks");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"host\","
		     "\"name\":\"a\"}]}",
		     "/networks(0)/name", "must not be set for host networking");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"networks\":[{\"mode\":\"bridge\"}]}",
		     "/networks(0)/mode", "'bridge' is not one of container, container/bridge, host");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"networks\":[{\"name\":\"n1\"},"
		     "{\"name\":\"n2\"}],\"container\":{\"type\":\"MESOS\",\"portMappings\":"
		     "[{\"hostPort\":0}]}}",
		     "/container/portMappings(0)",
		     "networkNames must be a single item list when hostPort is specified and more "
		     "than 1 container network is defined");
	expect_error("{\"id\":\"/a\",\"networks\":[{\"name\":\"n1\"},{\"name\":\"n2\"}],"
		     "\"container\":{\"docker\":{\"image\":\"i\"}}}",
		     "/", "may only specify a single container network when using the Docker "
			  "container engine");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"networks\":[{\"name\":\"n1\"}],"
		     "\"container\":{\"type\":\"MESOS\",\"portMappings\":[{\"name\":\"p\"},"
		     "{\"name\":\"p\"}]}}",
		     "/container/portMappings", "Port names must be unique.");
}

static void test_container_rules(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"secrets\":{\"s\":{\"source\":\"/x\"}},"
		"\"container\":{\"type\":\"MESOS\",\"docker\":{\"image\":\"i\",\"pullConfig\":"
		"{\"secret\":\"s\"}},\"volumes\":[{\"containerPath\":\"/etc/s\",\"secret\":\"s\"},"
		"{\"containerPath\":\"/v\",\"hostPath\":\"/h\"}]}}");

	(void)state;
	assert_json(GET(def->json, "container", "volumes"),
		    "[{\"containerPath\":\"/etc/s\",\"secret\":\"s\"},"
		    "{\"containerPath\":\"/v\",\"hostPath\":\"/h\",\"mode\":\"RW\"}]");
	assert_json(GET(def->json, "secrets"), "{\"s\":{\"source\":\"/x\"}}");
	assert_round_trip(def);
	app_def_free(def);

	expect_error("{\"id\":\"/a\",\"container\":{\"type\":\"DOCKER\"}}", "/container/docker",
		     "must be defined for container type DOCKER");
	expect_error("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"\"}}}",
		     "/container/docker/image", "must not be empty");
	expect_type_error("{\"id\":\"/a\",\"container\":{\"docker\":{}}}", "/container/docker/image",
			  "error.path.missing");
	expect_error("{\"id\":\"/a\",\"container\":{\"type\":\"RKT\"}}", "/container/type",
		     "'RKT' is not one of MESOS, DOCKER");
	expect_error("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"i\",\"pullConfig\":"
		     "{\"secret\":\"s\"}}}}",
		     "/container/docker/pullConfig",
		     "pullConfig is not supported with Docker containerizer");
	expect_error("{\"id\":\"/a\",\"container\":{\"type\":\"MESOS\",\"docker\":{\"image\":\"i\","
		     "\"pullConfig\":{\"secret\":\"s\"}}}}",
		     "/container/docker/pullConfig", "pullConfig.secret must refer to an existing secret");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\",\"volumes\":"
		     "[{\"containerPath\":\"/s\",\"secret\":\"nope\"}]}}",
		     "/container/volumes(0)", "volume.secret must refer to an existing secret");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\",\"volumes\":"
		     "[{\"containerPath\":\"a/b\",\"persistent\":{\"size\":1}}]}}",
		     "/container/volumes(0)/containerPath", "value must not contain \"/\"");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\",\"volumes\":"
		     "[{\"containerPath\":\"d\",\"persistent\":{\"size\":0}}]}}",
		     "/container/volumes(0)/persistent", "size must be greater than 0");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\",\"docker\":"
		     "{\"image\":\"i\",\"network\":\"HOST\"}}}",
		     "/container/docker/network", "must be empty");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"residency\":{}}", "/",
		     "App must contain persistent volumes and define residency");
}

static void test_resident_app(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"container\":{\"type\":\"MESOS\",\"volumes\":"
		"[{\"containerPath\":\"data\",\"mode\":\"RW\",\"persistent\":{\"size\":10}}]}}");

	(void)state;
	assert_json(GET(def->json, "residency"),
		    "{\"relaunchEscalationTimeoutSeconds\":3600,\"taskLostBehavior\":\"WAIT_FOREVER\"}");
	assert_json(GET(def->json, "unreachableStrategy"), "\"disabled\"");
	assert_json(GET(def->json, "upgradeStrategy"),
		    "{\"minimumHealthCapacity\":0.5,\"maximumOverCapacity\":0}");
	assert_json(GET(def->json, "container", "volumes", "0", "persistent"),
		    "{\"type\":\"root\",\"size\":10,\"constraints\":[]}");
	assert_round_trip(def);
	app_def_free(def);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"unreachableStrategy\":{},\"container\":"
		     "{\"type\":\"MESOS\",\"volumes\":[{\"containerPath\":\"d\",\"persistent\":"
		     "{\"size\":1}}]}}",
		     "/", "unreachableStrategy must be disabled for resident tasks");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"upgradeStrategy\":{\"maximumOverCapacity\":0.5},"
		     "\"container\":{\"type\":\"MESOS\",\"volumes\":[{\"containerPath\":\"d\","
		     "\"persistent\":{\"size\":1}}]}}",
		     "/upgradeStrategy/maximumOverCapacity", "must be 0 for resident apps");
}

/* ---- env, secrets, strategies, dependencies, labels -------------------------------- */

static void test_env_and_secrets(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"env\":{\"A\":\"1\",\"lower.case-ok\":\"\","
		"\"PW\":{\"secret\":\"db\"}},\"secrets\":{\"db\":{\"source\":\"/db/pw\"}}}");

	(void)state;
	assert_json(GET(def->json, "env"),
		    "{\"A\":\"1\",\"lower.case-ok\":\"\",\"PW\":{\"secret\":\"db\"}}");
	assert_json(GET(def->json, "secrets"), "{\"db\":{\"source\":\"/db/pw\"}}");
	app_def_free(def);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"env\":{\"PW\":{\"secret\":\"nope\"}}}",
		     "/env/PW", "references an undefined secret named 'nope'");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"secrets\":{\"s\":{\"source\":\"\"}}}",
		     "/secrets/s/source", "must not be empty");
	expect_type_error("{\"id\":\"/a\",\"cmd\":\"x\",\"secrets\":{\"s\":{}}}",
			  "/secrets/s/source", "error.path.missing");
}

static void test_unreachable_and_kill(void **state)
{
	struct app_def *def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"unreachableStrategy\":"
				    "\"disabled\"}");

	(void)state;
	assert_json(GET(def->json, "unreachableStrategy"), "\"disabled\"");
	app_def_free(def);
	def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"unreachableStrategy\":"
		    "{\"expungeAfterSeconds\":600}}");
	assert_json(GET(def->json, "unreachableStrategy"),
		    "{\"inactiveAfterSeconds\":0,\"expungeAfterSeconds\":600}");
	app_def_free(def);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"unreachableStrategy\":\"off\"}",
		     "/unreachableStrategy", "must be \"disabled\" or an object");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"unreachableStrategy\":"
		     "{\"inactiveAfterSeconds\":600,\"expungeAfterSeconds\":300}}",
		     "/unreachableStrategy/inactiveAfterSeconds",
		     "must be less than or equal to expungeAfterSeconds");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"unreachableStrategy\":"
		     "{\"inactiveAfterSeconds\":-1}}",
		     "/unreachableStrategy/inactiveAfterSeconds", "must be at least 0");
}

static void test_single_instance_and_migration_labels(void **state)
{
	struct app_def *def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"labels\":"
				    "{\"MARATHON_SINGLE_INSTANCE_APP\":\"true\"}}");

	(void)state;
	assert_json(GET(def->json, "upgradeStrategy"),
		    "{\"minimumHealthCapacity\":0,\"maximumOverCapacity\":0}");
	app_def_free(def);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"instances\":2,\"labels\":"
		     "{\"MARATHON_SINGLE_INSTANCE_APP\":\"true\"}}",
		     "/", "Single instance app may only have one instance");
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"labels\":"
		     "{\"DCOS_MIGRATION_API_VERSION\":\"v1\"}}",
		     "/", "DCOS_PACKAGE_FRAMEWORK_NAME and DCOS_MIGRATION_API_PATH must be defined "
			  "when using DCOS_MIGRATION_API_VERSION");
}

static void test_dependencies(void **state)
{
	struct app_def *def = parse_in(
		"{\"id\":\"web\",\"cmd\":\"x\",\"dependencies\":[\"db\",\"../other/x\",\"/abs\","
		"\"db\"]}",
		"/prod");

	(void)state;
	assert_json(GET(def->json, "dependencies"), "[\"/prod/db\",\"/other/x\",\"/abs\"]");
	app_def_free(def);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"dependencies\":[\"Bad\"]}", "/dependencies(0)",
		     "'Bad' is not a valid path segment: must fully match regular expression "
		     "'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*"
		     "[a-z0-9])|(\\.|\\.\\.)$'");
}

static void test_optional_extras(void **state)
{
	struct app_def *def = parse(
		"{\"id\":\"/a\",\"cmd\":\"x\",\"check\":{\"tcp\":{\"portIndex\":0}},\"tty\":false}");

	(void)state;
	assert_json(GET(def->json, "check"),
		    "{\"tcp\":{\"portIndex\":0},\"intervalSeconds\":60,\"timeoutSeconds\":20,"
		    "\"delaySeconds\":15}");
	assert_json(GET(def->json, "tty"), "false");
	assert_round_trip(def);
	app_def_free(def);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"check\":{}}", "/check",
		     "must specify exactly one of http, tcp or exec");
}

static void test_limits(void **state)
{
	struct strbuf text = STRBUF_INIT;

	(void)state;
	strbuf_addstr(&text, "{\"id\":\"/a\",\"cmd\":\"x\",\"constraints\":[");
	for (int i = 0; i < 1001; i++)
		strbuf_addstr(&text, i ? ",[\"h\",\"UNIQUE\"]" : "[\"h\",\"UNIQUE\"]");
	strbuf_addstr(&text, "]}");
	expect_error(text.buf, "/constraints", "must have at most 1000 elements");
	strbuf_reset(&text);
	strbuf_addstr(&text, "{\"id\":\"/a\",\"cmd\":\"x\",\"labels\":{\"k\":\"");
	for (int i = 0; i < 65537; i++)
		strbuf_addch(&text, 'v');
	strbuf_addstr(&text, "\"}}");
	expect_error(text.buf, "/labels/k", "must be at most 65536 bytes long");
	strbuf_reset(&text);
	/* cmd is not bound by the string limit. */
	strbuf_addstr(&text, "{\"id\":\"/a\",\"cmd\":\"");
	for (int i = 0; i < 100000; i++)
		strbuf_addch(&text, 'c');
	strbuf_addstr(&text, "\"}");
	app_def_free(parse(text.buf));
	strbuf_release(&text);
	expect_error("{\"id\":\"/a\",\"cmd\":\"x\",\"labels\":{\"k\":\"a\\u0000b\"}}", "/labels/k",
		     "must not contain NUL characters");
}

/* ---- merge, scaling, ports, stored form -------------------------------------------- */

static struct app_def *merge_parse(const struct app_def *cur, const char *patch_text)
{
	struct verrors errs = VERRORS_INIT;
	struct strbuf why = STRBUF_INIT;
	json_t *patch = load(patch_text), *merged = app_def_merge(cur->json, patch);
	struct app_def *def = NULL;

	if (app_def_parse(merged, "/", cur->id, &def, &errs)) {
		verrors_to_json(&errs, &why);
		fail_msg("merge of %s: %s", patch_text, why.buf);
	}
	json_decref(patch);
	json_decref(merged);
	verrors_release(&errs);
	strbuf_release(&why);
	return def;
}

static void test_merge(void **state)
{
	struct app_def *cur = parse(
		"{\"id\":\"/a\",\"args\":[\"run\"],\"instances\":2,\"labels\":{\"x\":\"1\"},"
		"\"ports\":[0]}");
	struct app_def *next;

	(void)state;
	next = merge_parse(cur, "{\"instances\":5}");
	assert_int_equal(next->instances, 5);
	assert_json(GET(next->json, "args"), "[\"run\"]");
	assert_true(app_def_only_scaling_differs(cur, next));
	assert_true(app_def_only_scaling_differs(next, cur));
	app_def_free(next);

	/* cmd replaces args; null leaves a key unchanged; labels are replaced whole. */
	next = merge_parse(cur, "{\"cmd\":\"sleep 1\",\"labels\":{\"y\":\"2\"},\"instances\":null}");
	assert_json(GET(next->json, "cmd"), "\"sleep 1\"");
	assert_null(GET(next->json, "args"));
	assert_int_equal(next->instances, 2);
	assert_json(GET(next->json, "labels"), "{\"y\":\"2\"}");
	assert_false(app_def_only_scaling_differs(cur, next));
	app_def_free(next);

	/* Legacy keys in a patch replace their canonical counterparts. */
	next = merge_parse(cur, "{\"ports\":[9000,9001],\"uris\":[\"http://h/x\"]}");
	assert_json(GET(next->json, "portDefinitions"),
		    "[{\"port\":9000,\"protocol\":\"tcp\"},{\"port\":9001,\"protocol\":\"tcp\"}]");
	assert_json(GET(next->json, "fetch", "0", "uri"), "\"http://h/x\"");
	app_def_free(next);

	/* A docker network in the patch replaces the current networks. */
	next = merge_parse(cur, "{\"args\":null,\"container\":{\"docker\":{\"image\":\"n\","
				"\"network\":\"BRIDGE\"}}}");
	assert_json(GET(next->json, "networks"), "[{\"mode\":\"container/bridge\"}]");
	assert_json(GET(next->json, "portDefinitions"), "[]");
	assert_int_equal(json_array_size(GET(next->json, "container", "portMappings")), 1);
	app_def_free(next);
	app_def_free(cur);

	/* A non-object patch is returned as is, for app_def_parse to refuse. */
	json_t *p = load("[1]"), *m = app_def_merge(NULL, p);
	assert_true(json_equal(p, m));
	json_decref(p);
	json_decref(m);
}

static int next_port(void *ctx)
{
	int *n = ctx;

	return (*n)++;
}

static int no_port(void *ctx)
{
	(void)ctx;
	return 0;
}

static void test_assign_ports(void **state)
{
	struct app_def *def = parse("{\"id\":\"/a\",\"cmd\":\"x\",\"ports\":[0,8080,0]}");
	int n = 10000;

	(void)state;
	assert_int_equal(app_def_assign_ports(def, next_port, &n), 2);
	assert_json(GET(def->json, "portDefinitions"),
		    "[{\"port\":10000,\"protocol\":\"tcp\"},{\"port\":8080,\"protocol\":\"tcp\"},"
		    "{\"port\":10001,\"protocol\":\"tcp\"}]");
	assert_int_equal(app_def_assign_ports(def, next_port, &n), 0);
	assert_round_trip(def);
	app_def_free(def);

	def = parse("{\"id\":\"/a\",\"container\":{\"docker\":{\"image\":\"n\",\"network\":"
		    "\"BRIDGE\",\"portMappings\":[{\"containerPort\":80},{\"containerPort\":81,"
		    "\"servicePort\":10500}]}}}");
	assert_int_equal(app_def_assign_ports(def, no_port, NULL), 0);
	assert_int_equal(app_def_assign_ports(def, next_port, &n), 1);
	assert_json(GET(def->json, "container", "portMappings", "0", "servicePort"), "10002");
	assert_json(GET(def->json, "container", "portMappings", "1", "servicePort"), "10500");
	app_def_free(def);
}

static void test_from_stored(void **state)
{
	const char *garbage[] = {"", "{", "[]", "null", "42", "{\"id\":\"/a\"}",
				 "{\"id\":\"/a\",\"cmd\":\"x\",\"cpus\":-1}", "\"str\""};
	struct app_def *def = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		assert_int_equal(app_def_from_stored(garbage[i], strlen(garbage[i]), &def),
				 PACER_EBADJSON);
		assert_null(def);
	}
	const char *ok = "{\"id\":\"/s\",\"cmd\":\"x\",\"instances\":4}";
	assert_int_equal(app_def_from_stored(ok, strlen(ok), &def), 0);
	assert_string_equal(def->id, "/s");
	assert_int_equal(def->instances, 4);
	assert_round_trip(def);
	app_def_free(def);
}

/* ---- Marathon's own samples -------------------------------------------------------- */

static size_t parse_group_apps(json_t *group, size_t *failed)
{
	const char *gid = json_string_value(json_object_get(group, "id"));
	json_t *apps = json_object_get(group, "apps"), *groups = json_object_get(group, "groups");
	size_t n = 0;

	for (size_t i = 0; i < json_array_size(apps); i++) {
		struct verrors errs = VERRORS_INIT;
		struct app_def *def = NULL;

		if (app_def_parse(json_array_get(apps, i), gid ? gid : "/", NULL, &def, &errs)) {
			struct strbuf body = STRBUF_INIT;

			verrors_to_json(&errs, &body);
			print_error("app %zu of group %s: %s\n", i, gid, body.buf);
			strbuf_release(&body);
			(*failed)++;
		} else if (n % 97 == 0) {
			assert_round_trip(def);
		}
		app_def_free(def);
		verrors_release(&errs);
		n++;
	}
	for (size_t i = 0; i < json_array_size(groups); i++)
		n += parse_group_apps(json_array_get(groups, i), failed);
	return n;
}

static void test_real_groups(void **state)
{
	const char *files[] = {"real-groups/155_1000.json", "real-groups/155_100.json",
			       "real-groups/155_500.json"};
	json_t *g = load_shared(files[0]);

	(void)state;
	if (!g)
		skip();
	json_decref(g);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t failed = 0, n;

		g = load_shared(files[i]);
		if (!g)
			continue;
		n = parse_group_apps(g, &failed);
		json_decref(g);
		assert_int_equal(failed, 0);
		if (i == 0)
			assert_int_equal(n, 1000);
	}
}

static void test_system_apps(void **state)
{
	struct strbuf dir = STRBUF_INIT, file = STRBUF_INIT;
	struct dirent *ent;
	size_t n = 0;
	DIR *d;

	(void)state;
	shared_path(&dir, "system-apps");
	d = opendir(dir.buf);
	if (!d) {
		strbuf_release(&dir);
		skip();
	}
	while ((ent = readdir(d))) {
		struct verrors errs = VERRORS_INIT;
		struct app_def *def = NULL;
		json_t *v;

		if (!strstr(ent->d_name, ".json"))
			continue;
		strbuf_reset(&file);
		strbuf_addf(&file, "%s/%s", dir.buf, ent->d_name);
		v = json_load_file(file.buf, 0, NULL);
		assert_non_null(v);
		if (app_def_parse(v, "/", NULL, &def, &errs)) {
			struct strbuf body = STRBUF_INIT;

			verrors_to_json(&errs, &body);
			fail_msg("%s: %s", ent->d_name, body.buf);
		}
		assert_round_trip(def);
		app_def_free(def);
		verrors_release(&errs);
		json_decref(v);
		n++;
	}
	closedir(d);
	assert_true(n >= 20);
	strbuf_release(&file);
	strbuf_release(&dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_explicit_values),
		cmocka_unit_test(test_output_keys_marathon_python),
		cmocka_unit_test(test_relative_ids),
		cmocka_unit_test(test_path_id),
		cmocka_unit_test(test_invalid_ids),
		cmocka_unit_test(test_command_rules),
		cmocka_unit_test(test_ranges),
		cmocka_unit_test(test_bad_types),
		cmocka_unit_test(test_error_body),
		cmocka_unit_test(test_constraints),
		cmocka_unit_test(test_health_checks),
		cmocka_unit_test(test_readiness_checks),
		cmocka_unit_test(test_legacy_ports_and_uris),
		cmocka_unit_test(test_legacy_docker_network),
		cmocka_unit_test(test_networks),
		cmocka_unit_test(test_container_rules),
		cmocka_unit_test(test_resident_app),
		cmocka_unit_test(test_env_and_secrets),
		cmocka_unit_test(test_unreachable_and_kill),
		cmocka_unit_test(test_single_instance_and_migration_labels),
		cmocka_unit_test(test_dependencies),
		cmocka_unit_test(test_optional_extras),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_merge),
		cmocka_unit_test(test_assign_ports),
		cmocka_unit_test(test_from_stored),
		cmocka_unit_test(test_real_groups),
		cmocka_unit_test(test_system_apps),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
