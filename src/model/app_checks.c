/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The last stages of app parsing: health checks, readiness checks and the
 * Mesos "check"; then upgrade and unreachable strategies, residency and the
 * rules that span several fields (Marathon's AppValidation). These stages
 * read the normalized ports written by the networking stage.
 */
#include <string.h>

#include "model/app_priv.h"

static const char *const hc_protocols[] = {"HTTP", "HTTPS", "TCP", "COMMAND", "MESOS_HTTP",
					   "MESOS_HTTPS", "MESOS_TCP", NULL};
static const char *const ip_protocols[] = {"IPv4", "IPv6", NULL};
static const char *const schemes[] = {"HTTP", "HTTPS", NULL};

/* The ports health checks index: container port mappings if any, else port definitions. */
static const json_t *app_ports(const struct app_parse *p)
{
	const json_t *pm = json_object_get(json_object_get(p->out, "container"), "portMappings");

	if (json_array_size(pm))
		return pm;
	return json_object_get(p->out, "portDefinitions");
}


/* portIndex / port of a health check or check: portIndex 0 when neither is given. */
static void check_port(struct app_parse *p, const json_t *hc, const char *path, json_t *out)
{
	int64_t port = -1, index = -1;

	ap_int(p, hc, path, "port", 0, 0, 65535, &port);
	ap_int(p, hc, path, "portIndex", 0, 0, 65535, &index);
	if (port < 0 && index < 0)
		index = 0;
	if (index >= 0) {
		json_object_set_new(out, "portIndex", json_integer(index));
		if ((size_t)index >= json_array_size(app_ports(p)))
			verrors_add(p->errs, path,
				    "Health check port indices must address an element of the ports "
				    "array or container port mappings.");
	}
	if (port >= 0)
		json_object_set_new(out, "port", json_integer(port));
}

static json_t *parse_health_check(struct app_parse *p, const json_t *hc, const char *path)
{
	const char *proto = "HTTP", *hpath = "/", *ipp = "IPv4", *value;
	int64_t grace = 300, interval = 60, timeout = 20, failures = 3, delay = 15;
	const json_t *cmd;
	int ignore1xx = 0;
	json_t *out;

	if (ap_vobj(p, hc, path) != AP_OK)
		return NULL;
	ap_enum(p, hc, path, "protocol", hc_protocols, &proto);
	ap_int(p, hc, path, "gracePeriodSeconds", 0, 0, INT32_MAX, &grace);
	ap_int(p, hc, path, "intervalSeconds", 0, 0, INT32_MAX, &interval);
	ap_int(p, hc, path, "timeoutSeconds", 0, 0, INT32_MAX, &timeout);
	ap_int(p, hc, path, "maxConsecutiveFailures", 0, 0, INT32_MAX, &failures);
	ap_int(p, hc, path, "delaySeconds", 0, 0, INT32_MAX, &delay);
	ap_bool(p, hc, path, "ignoreHttp1xx", &ignore1xx);
	ap_str(p, hc, path, "path", &hpath);
	ap_enum(p, hc, path, "ipProtocol", ip_protocols, &ipp);
	out = json_pack("{s:I,s:I,s:I,s:I,s:I,s:s}", "gracePeriodSeconds", (json_int_t)grace,
			"intervalSeconds", (json_int_t)interval, "maxConsecutiveFailures",
			(json_int_t)failures, "timeoutSeconds", (json_int_t)timeout, "delaySeconds",
			(json_int_t)delay, "protocol", proto);
	if (strstr(proto, "HTTP"))
		json_object_set_new(out, "path", ap_string(hpath));
	if (!strcmp(proto, "HTTP") || !strcmp(proto, "HTTPS"))
		json_object_set_new(out, "ignoreHttp1xx", json_boolean(ignore1xx));
	if (!strcmp(proto, "COMMAND")) {
		struct strbuf sub = STRBUF_INIT;

		ap_child(&sub, path, "command");
		if (ap_obj(p, hc, path, "command", &cmd) != AP_OK)
			verrors_add(p->errs, sub.buf, "must be defined for protocol COMMAND");
		else if (ap_str(p, cmd, sub.buf, "value", &value) == AP_OK)
			json_object_set_new(out, "command", json_pack("{s:s}", "value", value));
		else
			verrors_add(p->errs, sub.buf, "command.value must be defined");
		strbuf_release(&sub);
	} else {
		check_port(p, hc, path, out);
	}
	if (!strncmp(proto, "MESOS_", 6))
		json_object_set_new(out, "ipProtocol", ap_string(ipp));
	if (strcmp(ipp, "IPv4") &&
	    (strncmp(proto, "MESOS_", 6) || p->engine != AP_ENGINE_DOCKER))
		verrors_add(p->errs, path,
			    "IPv6 can only be used for container type DOCKER and Mesos "
			    "http/https/tcp health checks");
	return out;
}

static void parse_health_checks(struct app_parse *p)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *hcs;
	json_t *out = json_array(), *hc;
	size_t mesos = 0;

	if (ap_arr(p, p->in, "", "healthChecks", &hcs) == AP_OK) {
		for (size_t i = 0; i < json_array_size(hcs); i++) {
			int dup = 0;

			ap_index(&path, "/healthChecks", i);
			hc = parse_health_check(p, json_array_get(hcs, i), path.buf);
			if (!hc)
				continue;
			/* Marathon keeps health checks in a set: a repeated one is dropped. */
			for (size_t j = 0; j < json_array_size(out); j++)
				dup |= json_equal(json_array_get(out, j), hc);
			if (!strncmp(json_string_value(json_object_get(hc, "protocol")), "MESOS_", 6))
				mesos++;
			if (dup)
				json_decref(hc);
			else
				json_array_append_new(out, hc);
		}
	}
	if (mesos > 1)
		verrors_add(p->errs, "", "AppDefinition can contain at most one Mesos health check");
	ap_set(p, "healthChecks", out);
	strbuf_release(&path);
}

static int port_name_exists(const struct app_parse *p, const char *name)
{
	const json_t *ports = app_ports(p);

	for (size_t i = 0; i < json_array_size(ports); i++) {
		const char *n = json_string_value(json_object_get(json_array_get(ports, i), "name"));

		if (n && !strcmp(n, name))
			return 1;
	}
	return 0;
}

static json_t *parse_readiness_check(struct app_parse *p, const json_t *rc, const char *path)
{
	struct strbuf sub = STRBUF_INIT;
	const char *name = "readinessCheck", *proto = "HTTP", *rpath = "/", *port = "http-api";
	int64_t interval = 30, timeout = 10, code;
	const json_t *codes;
	int preserve = 0;
	json_t *out, *list = json_array();

	if (ap_vobj(p, rc, path) != AP_OK) {
		json_decref(list);
		return NULL;
	}
	if (ap_str(p, rc, path, "name", &name) == AP_OK && !*name) {
		ap_child(&sub, path, "name");
		verrors_add(p->errs, sub.buf, "must not be empty");
	}
	ap_enum(p, rc, path, "protocol", schemes, &proto);
	if (ap_str(p, rc, path, "path", &rpath) == AP_OK && !*rpath) {
		ap_child(&sub, path, "path");
		verrors_add(p->errs, sub.buf, "must not be empty");
	}
	ap_str(p, rc, path, "portName", &port);
	ap_int(p, rc, path, "intervalSeconds", 0, 0, INT32_MAX, &interval);
	ap_int(p, rc, path, "timeoutSeconds", 0, 1, INT32_MAX, &timeout);
	if (timeout >= interval) {
		ap_child(&sub, path, "timeoutSeconds");
		verrors_add(p->errs, sub.buf, "must be less than intervalSeconds (%lld)",
			    (long long)interval);
	}
	if (ap_arr(p, rc, path, "httpStatusCodesForReady", &codes) == AP_OK) {
		if (!json_array_size(codes)) {
			ap_child(&sub, path, "httpStatusCodesForReady");
			verrors_add(p->errs, sub.buf, "must not be empty");
		}
		for (size_t i = 0; i < json_array_size(codes); i++) {
			int dup = 0;

			ap_child(&sub, path, "httpStatusCodesForReady");
			strbuf_addf(&sub, "(%zu)", i);
			if (ap_vint(p, json_array_get(codes, i), sub.buf, 0, 100, 999, &code) != AP_OK)
				continue;
			for (size_t j = 0; j < json_array_size(list); j++)
				dup |= json_integer_value(json_array_get(list, j)) == code;
			if (!dup)
				json_array_append_new(list, json_integer(code));
		}
	}
	if (!json_array_size(list))
		json_array_append_new(list, json_integer(200));
	ap_bool(p, rc, path, "preserveLastResponse", &preserve);
	if (!port_name_exists(p, port)) {
		ap_child(&sub, path, "portName");
		verrors_add(p->errs, sub.buf, "No port definition reference for portName %.64s",
			    port);
	}
	out = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:o,s:b}", "name", name, "protocol", proto,
			"path", rpath, "portName", port, "intervalSeconds", (json_int_t)interval,
			"timeoutSeconds", (json_int_t)timeout, "httpStatusCodesForReady", list,
			"preserveLastResponse", preserve);
	strbuf_release(&sub);
	return out;
}

static void parse_readiness_checks(struct app_parse *p)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *rcs;
	json_t *out = json_array(), *rc;

	if (ap_arr(p, p->in, "", "readinessChecks", &rcs) == AP_OK) {
		if (json_array_size(rcs) > 1)
			verrors_add(p->errs, "/readinessChecks",
				    "must not contain more than 1 readiness check");
		for (size_t i = 0; i < json_array_size(rcs); i++) {
			ap_index(&path, "/readinessChecks", i);
			rc = parse_readiness_check(p, json_array_get(rcs, i), path.buf);
			if (rc)
				json_array_append_new(out, rc);
		}
	}
	ap_set(p, "readinessChecks", out);
	strbuf_release(&path);
}

/* The Mesos check of an app (AppCheck): exactly one of http, tcp, exec. */
static void parse_check(struct app_parse *p)
{
	const json_t *c, *http = NULL, *tcp = NULL, *exec = NULL, *cmd;
	int64_t interval = 60, timeout = 20, delay = 15;
	const char *scheme = "HTTP", *cpath;
	json_t *out;

	if (ap_obj(p, p->in, "", "check", &c) != AP_OK)
		return;
	out = json_object();
	ap_obj(p, c, "/check", "http", &http);
	ap_obj(p, c, "/check", "tcp", &tcp);
	ap_obj(p, c, "/check", "exec", &exec);
	if (!!http + !!tcp + !!exec != 1)
		verrors_add(p->errs, "/check", "must specify exactly one of http, tcp or exec");
	if (http) {
		json_t *h = json_object();

		check_port(p, http, "/check/http", h);
		if (ap_str(p, http, "/check/http", "path", &cpath) == AP_OK)
			json_object_set_new(h, "path", ap_string(cpath));
		ap_enum(p, http, "/check/http", "scheme", schemes, &scheme);
		json_object_set_new(h, "scheme", ap_string(scheme));
		json_object_set_new(out, "http", h);
	} else if (tcp) {
		json_t *t = json_object();

		check_port(p, tcp, "/check/tcp", t);
		json_object_set_new(out, "tcp", t);
	} else if (exec) {
		if (ap_obj(p, exec, "/check/exec", "command", &cmd) != AP_OK)
			verrors_add(p->errs, "/check/exec/command", "must be defined");
		else
			json_object_set_new(out, "exec", json_pack("{s:o}", "command", json_deep_copy(cmd)));
	}
	ap_int(p, c, "/check", "intervalSeconds", 0, 0, INT32_MAX, &interval);
	ap_int(p, c, "/check", "timeoutSeconds", 0, 0, INT32_MAX, &timeout);
	ap_int(p, c, "/check", "delaySeconds", 0, 0, INT32_MAX, &delay);
	json_object_set_new(out, "intervalSeconds", json_integer(interval));
	json_object_set_new(out, "timeoutSeconds", json_integer(timeout));
	json_object_set_new(out, "delaySeconds", json_integer(delay));
	ap_set(p, "check", out);
}

void app_parse_checks(struct app_parse *p)
{
	parse_health_checks(p);
	parse_readiness_checks(p);
	parse_check(p);
}

static const char *label(const struct app_parse *p, const char *key)
{
	return json_string_value(json_object_get(p->labels, key));
}

static void capacity(struct app_parse *p, const json_t *us, const char *key, double *v)
{
	struct strbuf path = STRBUF_INIT;

	ap_child(&path, "/upgradeStrategy", key);
	if (ap_num(p, us, "/upgradeStrategy", key, -1e300, 1e300, v) == AP_OK) {
		if (*v < 0)
			verrors_add(p->errs, path.buf, "is less than 0");
		else if (*v > 1)
			verrors_add(p->errs, path.buf, "is greater than 1");
	}
	strbuf_release(&path);
}

static void parse_upgrade_strategy(struct app_parse *p, int resident, int single)
{
	const json_t *us = NULL;
	double min_health = 1, max_over = 1;

	/* Marathon's defaults: single-instance apps (0, 0), resident apps (0.5, 0).
	 * An app that is both gets (0, 0), the only value valid for both. */
	if (single) {
		min_health = max_over = 0;
	} else if (resident) {
		min_health = 0.5;
		max_over = 0;
	}
	if (ap_obj(p, p->in, "", "upgradeStrategy", &us) == AP_OK) {
		capacity(p, us, "minimumHealthCapacity", &min_health);
		capacity(p, us, "maximumOverCapacity", &max_over);
		if (single && min_health != 0)
			verrors_add(p->errs, "/upgradeStrategy/minimumHealthCapacity",
				    "must be 0 for single instance apps");
		if ((single || resident) && max_over != 0)
			verrors_add(p->errs, "/upgradeStrategy/maximumOverCapacity",
				    "must be 0 for %s apps", single ? "single instance" : "resident");
	}
	ap_set(p, "upgradeStrategy", json_pack("{s:f,s:f}", "minimumHealthCapacity", min_health,
					       "maximumOverCapacity", max_over));
}

static void parse_unreachable(struct app_parse *p, int resident)
{
	const json_t *u = ap_member(p->in, "unreachableStrategy");
	int64_t inactive = 0, expunge = 0;

	if (!u) {
		ap_set(p, "unreachableStrategy",
		       resident ? ap_string("disabled")
				: json_pack("{s:i,s:i}", "inactiveAfterSeconds", 0,
					    "expungeAfterSeconds", 0));
		return;
	}
	if (json_is_string(u)) {
		if (strcmp(json_string_value(u), "disabled"))
			verrors_add(p->errs, "/unreachableStrategy",
				    "must be \"disabled\" or an object");
		else
			ap_set(p, "unreachableStrategy", ap_string("disabled"));
		return;
	}
	if (ap_vobj(p, u, "/unreachableStrategy") != AP_OK)
		return;
	if (resident)
		verrors_add(p->errs, "", "unreachableStrategy must be disabled for resident tasks");
	ap_int(p, u, "/unreachableStrategy", "inactiveAfterSeconds", 1, 0, INT64_MAX, &inactive);
	ap_int(p, u, "/unreachableStrategy", "expungeAfterSeconds", 1, 0, INT64_MAX, &expunge);
	if (inactive > expunge)
		verrors_add(p->errs, "/unreachableStrategy/inactiveAfterSeconds",
			    "must be less than or equal to expungeAfterSeconds");
	ap_set(p, "unreachableStrategy",
	       json_pack("{s:I,s:I}", "inactiveAfterSeconds", (json_int_t)inactive,
			 "expungeAfterSeconds", (json_int_t)expunge));
}

/* Marathon's containsCmdArgsOrContainer: a container counts when it names an image. */
static void check_command(struct app_parse *p)
{
	const json_t *args = ap_member(p->in, "args");
	int cmd = json_is_string(ap_member(p->in, "cmd"));
	int has_args = json_is_array(args) && json_array_size(args);
	int container = json_object_get(json_object_get(p->out, "container"), "docker") != NULL;

	if (!((cmd ^ has_args) || (!(cmd && has_args) && container)))
		verrors_add(p->errs, "",
			    "AppDefinition must either contain one of 'cmd' or 'args', and/or a "
			    "'container'.");
}

static void check_labels(struct app_parse *p, int single)
{
	const char *api = label(p, "DCOS_MIGRATION_API_VERSION");

	if (single && json_integer_value(json_object_get(p->out, "instances")) > 1)
		verrors_add(p->errs, "", "Single instance app may only have one instance");
	if (api && *api) {
		const char *fw = label(p, "DCOS_PACKAGE_FRAMEWORK_NAME");
		const char *path = label(p, "DCOS_MIGRATION_API_PATH");

		if (strcmp(api, "v1") || !fw || !*fw || !path || !*path)
			verrors_add(p->errs, "",
				    "DCOS_PACKAGE_FRAMEWORK_NAME and DCOS_MIGRATION_API_PATH must be "
				    "defined when using DCOS_MIGRATION_API_VERSION");
	}
}

void app_parse_rules(struct app_parse *p)
{
	const char *single_label = label(p, "MARATHON_SINGLE_INSTANCE_APP");
	int single = single_label && !strcmp(single_label, "true");
	int resident = p->residency_given || p->has_persistent;

	if (p->residency_given && !p->has_persistent)
		verrors_add(p->errs, "", "App must contain persistent volumes and define residency");
	if (p->has_persistent && !p->residency_given) {
		ap_set(p, "residency", json_pack("{s:i,s:s}", "relaunchEscalationTimeoutSeconds", 3600,
						 "taskLostBehavior", "WAIT_FOREVER"));
	}
	parse_upgrade_strategy(p, resident, single);
	parse_unreachable(p, resident);
	check_command(p);
	check_labels(p, single);
	if (json_integer_value(json_object_get(p->out, "gpus")) > 0 &&
	    p->engine == AP_ENGINE_DOCKER)
		verrors_add(p->errs, "", "GPU resources only work with the Mesos containerizer");
}
