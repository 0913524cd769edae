/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The first stage of app parsing: the id, the command, resources, scheduling
 * fields, labels, secrets and env, fetch (and the legacy "uris"),
 * dependencies and constraints, with Marathon 1.11's defaults and rules.
 */
#define PCRE2_CODE_UNIT_WIDTH 8

#include <errno.h>
#include <limits.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "model/app_priv.h"
#include "model/pathid.h"

static const char *const kill_selections[] = {"YOUNGEST_FIRST", "OLDEST_FIRST", NULL};
static const char *const lost_behaviors[] = {"WAIT_FOREVER", "RELAUNCH_AFTER_TIMEOUT", NULL};

static void parse_id(struct app_parse *p)
{
	struct strbuf why = STRBUF_INIT, from_url = STRBUF_INIT, base = STRBUF_INIT;
	const char *id = NULL;
	int r = ap_str(p, p->in, "", "id", &id);

	if (r == AP_BAD)
		goto out;
	if (r == AP_ABSENT && !p->path_id) {
		verrors_add_type(p->errs, "/id", "error.path.missing");
		goto out;
	}
	if (r == AP_ABSENT)
		id = p->path_id;
	/* A relative id in the body of PUT /v2/apps/{id} is relative to that app's group. */
	if (p->path_id && r == AP_OK && id[0] != '/')
		pathid_parent(p->path_id, &from_url);
	else
		strbuf_addstr(&from_url, p->base);
	if (pathid_resolve(id, from_url.buf, 0, &p->id, &why)) {
		verrors_add(p->errs, "/id", "%s", why.buf);
		strbuf_reset(&p->id);
		goto out;
	}
	if (pathid_check_reserved(p->id.buf, &why)) {
		verrors_add(p->errs, "/id", "%s", why.buf);
		strbuf_reset(&p->id);
		goto out;
	}
	if (p->path_id && r == AP_OK) {
		if (pathid_resolve(p->path_id, "/", 0, &from_url, &why) ||
		    strcmp(from_url.buf, p->id.buf)) {
			verrors_add(p->errs, "/id", "id '%s' in the body differs from '%s' in the path",
				    p->id.buf, p->path_id);
			strbuf_reset(&p->id);
			goto out;
		}
	}
	strbuf_reset(&why);
	if (!pathid_resolve(p->base, "/", 1, &base, &why) && strcmp(base.buf, "/")) {
		/* An app inside a group is a direct child of it (Marathon's validNestedApp). */
		pathid_parent(p->id.buf, &from_url);
		if (strcmp(from_url.buf, base.buf)) {
			verrors_add(p->errs, "/id",
				    "Identifier is not child of %s. Hint: use relative paths.", base.buf);
			strbuf_reset(&p->id);
			goto out;
		}
	}
	ap_set(p, "id", ap_string(p->id.buf));
out:
	strbuf_release(&base);
	strbuf_release(&from_url);
	strbuf_release(&why);
}

static void parse_command(struct app_parse *p)
{
	const json_t *v = ap_member(p->in, "cmd");
	const char *cmd;
	json_t *args;

	if (v && ap_vstr_max(p, v, "/cmd", APP_MAX_CMD, &cmd) == AP_OK) {
		if (!*cmd)
			verrors_add(p->errs, "/cmd", "must not be an empty string");
		else
			ap_set(p, "cmd", ap_string(cmd));
	}
	if (ap_strarr(p, p->in, "", "args", 0, &args) == AP_OK) {
		/* An empty args is no args (omitted as Marathon omits it). */
		if (json_array_size(args))
			ap_set(p, "args", args);
		else
			json_decref(args);
	}
}

/* Mesos' rules for a role name ("*" is the unreserved role). */
static int role_valid(const char *r)
{
	if (!*r || !strcmp(r, ".") || !strcmp(r, "..") || r[0] == '-')
		return 0;
	for (const char *c = r; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == '\\' || *c == 0x7f)
			return 0;
	}
	return 1;
}

static void parse_resources(struct app_parse *p)
{
	int64_t i;
	double d;

	i = 1;
	ap_int(p, p->in, "", "instances", 0, 0, INT32_MAX, &i);
	ap_set(p, "instances", json_integer(i));
	d = 1.0;
	ap_num(p, p->in, "", "cpus", 0.001, 1e12, &d);
	ap_set(p, "cpus", json_real(d));
	d = 128.0;
	ap_num(p, p->in, "", "mem", 0, 1e15, &d);
	ap_set(p, "mem", json_real(d));
	d = 0.0;
	ap_num(p, p->in, "", "disk", 0, 1e15, &d);
	ap_set(p, "disk", json_real(d));
	i = 0;
	ap_int(p, p->in, "", "gpus", 0, 0, INT32_MAX, &i);
	ap_set(p, "gpus", json_integer(i));
}

/* Marathon's executor pattern: "", "//cmd", or a path without empty segments. */
static int executor_valid(const char *e)
{
	if (!*e || !strcmp(e, "//cmd"))
		return 1;
	if (*e == '/')
		e++;
	if (!*e)
		return 0;
	for (; *e; e++) {
		if (*e == '/' && (e[1] == '/' || e[1] == '\0'))
			return 0;
	}
	return 1;
}

static void parse_scheduling(struct app_parse *p)
{
	const char *s;
	int64_t i;
	double d;
	int b;

	s = "";
	if (ap_str(p, p->in, "", "executor", &s) == AP_OK && !executor_valid(s))
		verrors_add(p->errs, "/executor",
			    "must fully match regular expression '^(//cmd)|(/?[^/]+(/[^/]+)*)|$'");
	ap_set(p, "executor", ap_string(s));
	i = 1;
	ap_int(p, p->in, "", "backoffSeconds", 0, 0, INT32_MAX, &i);
	ap_set(p, "backoffSeconds", json_integer(i));
	d = 1.15;
	ap_num(p, p->in, "", "backoffFactor", 1.0, 1e6, &d);
	ap_set(p, "backoffFactor", json_real(d));
	i = 300;
	ap_int(p, p->in, "", "maxLaunchDelaySeconds", 0, 0, INT32_MAX, &i);
	ap_set(p, "maxLaunchDelaySeconds", json_integer(i));
	s = kill_selections[0];
	ap_enum(p, p->in, "", "killSelection", kill_selections, &s);
	ap_set(p, "killSelection", ap_string(s));
	if (ap_int(p, p->in, "", "taskKillGracePeriodSeconds", 0, 0, INT32_MAX, &i) == AP_OK)
		ap_set(p, "taskKillGracePeriodSeconds", json_integer(i));
	if (ap_str(p, p->in, "", "user", &s) == AP_OK)
		ap_set(p, "user", ap_string(s));
	if (ap_str(p, p->in, "", "role", &s) == AP_OK) {
		if (!role_valid(s))
			verrors_add(p->errs, "/role", "'%.64s' is not a valid role name", s);
		else
			ap_set(p, "role", ap_string(s));
	}
	if (ap_bool(p, p->in, "", "tty", &b) == AP_OK)
		ap_set(p, "tty", json_boolean(b));
}

static void parse_roles(struct app_parse *p)
{
	json_t *roles;
	size_t i;

	if (ap_strarr(p, p->in, "", "acceptedResourceRoles", 1, &roles) != AP_OK)
		return;
	if (!json_array_size(roles)) {
		verrors_add(p->errs, "/acceptedResourceRoles", "must not be empty");
		json_decref(roles);
		return;
	}
	for (i = 0; i < json_array_size(roles); i++) {
		const char *r = json_string_value(json_array_get(roles, i));

		if (!role_valid(r)) {
			verrors_add(p->errs, "/acceptedResourceRoles",
				    "'%.64s' is not a valid role name", r);
		}
	}
	ap_set(p, "acceptedResourceRoles", roles);
}

static void parse_secrets(struct app_parse *p)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *secrets, *def;
	const char *name, *src;
	json_t *out;

	if (ap_obj(p, p->in, "", "secrets", &secrets) != AP_OK)
		return;
	out = json_object();
	json_object_foreach((json_t *)secrets, name, def) {
		ap_child(&path, "/secrets", name);
		if (ap_vobj(p, def, path.buf) != AP_OK)
			continue;
		switch (ap_str(p, def, path.buf, "source", &src)) {
		case AP_OK:
			if (!*src) {
				strbuf_addstr(&path, "/source");
				verrors_add(p->errs, path.buf, "must not be empty");
			}
			json_object_set_new(out, name, json_pack("{s:s}", "source", src));
			break;
		case AP_ABSENT:
			strbuf_addstr(&path, "/source");
			verrors_add_type(p->errs, path.buf, "error.path.missing");
			break;
		default:
			break;
		}
	}
	if (json_object_size(out))
		ap_set(p, "secrets", out);
	else
		json_decref(out);
	strbuf_release(&path);
}

static void parse_env(struct app_parse *p)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *env, *v;
	const char *name, *s;
	json_t *out = json_object();

	if (ap_obj(p, p->in, "", "env", &env) == AP_OK) {
		json_object_foreach((json_t *)env, name, v) {
			ap_child(&path, "/env", name);
			if (strlen(name) > APP_MAX_STR) {
				verrors_add(p->errs, "/env", "names must be at most %d bytes long",
					    APP_MAX_STR);
			} else if (json_is_object(v)) {
				const json_t *ref = ap_member(v, "secret");

				if (!ref) {
					strbuf_addstr(&path, "/secret");
					verrors_add_type(p->errs, path.buf, "error.path.missing");
				} else if (ap_str(p, v, path.buf, "secret", &s) == AP_OK) {
					if (!p->secrets || !json_object_get(p->secrets, s))
						verrors_add(p->errs, path.buf,
							    "references an undefined secret named '%.64s'",
							    s);
					json_object_set_new(out, name, json_pack("{s:s}", "secret", s));
				}
			} else if (ap_vstr(p, v, path.buf, &s) == AP_OK) {
				json_object_set_new(out, name, ap_string(s));
			}
		}
	}
	ap_set(p, "env", out);
	strbuf_release(&path);
}

static void parse_labels(struct app_parse *p)
{
	json_t *labels;

	if (ap_strmap(p, p->in, "", "labels", &labels) != AP_OK)
		labels = json_object();
	ap_set(p, "labels", labels);
}

/* Marathon's FetchUri.isExtract: archives the Mesos fetcher can unpack. */
static int uri_is_archive(const char *uri)
{
	static const char *const exts[] = {".tgz", ".tar.gz", ".tbz2", ".tar.bz2",
					   ".txz", ".tar.xz", ".zip"};
	size_t len = strlen(uri);

	for (size_t i = 0; i < sizeof(exts) / sizeof(exts[0]); i++) {
		size_t el = strlen(exts[i]);

		if (len >= el && !strcmp(uri + len - el, exts[i]))
			return 1;
	}
	return 0;
}

static int check_uri(struct app_parse *p, const char *path, const char *uri)
{
	size_t len = strlen(uri);

	if (!len || len > 1024) {
		verrors_add(p->errs, path, "must be between 1 and 1024 characters long");
		return AP_BAD;
	}
	return AP_OK;
}

static json_t *parse_artifact(struct app_parse *p, const json_t *a, const char *path)
{
	struct strbuf sub = STRBUF_INIT;
	const char *uri, *dest;
	int extract = 1, executable = 0, cache = 0, r;
	json_t *out = NULL;

	if (ap_vobj(p, a, path) != AP_OK)
		return NULL;
	r = ap_str(p, a, path, "uri", &uri);
	if (r == AP_ABSENT) {
		ap_child(&sub, path, "uri");
		verrors_add_type(p->errs, sub.buf, "error.path.missing");
	}
	if (r == AP_OK) {
		ap_child(&sub, path, "uri");
		r = check_uri(p, sub.buf, uri);
	}
	ap_bool(p, a, path, "extract", &extract);
	ap_bool(p, a, path, "executable", &executable);
	ap_bool(p, a, path, "cache", &cache);
	if (r == AP_OK) {
		out = json_pack("{s:s,s:b,s:b,s:b}", "uri", uri, "extract", extract, "executable",
				executable, "cache", cache);
	}
	if (ap_str(p, a, path, "destPath", &dest) == AP_OK) {
		ap_child(&sub, path, "destPath");
		if (check_uri(p, sub.buf, dest) == AP_OK && out)
			json_object_set_new(out, "destPath", ap_string(dest));
	}
	strbuf_release(&sub);
	return out;
}

static void parse_fetch(struct app_parse *p)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *fetch = NULL;
	json_t *out = json_array(), *uris = NULL, *a;
	size_t i;

	if (ap_arr(p, p->in, "", "fetch", &fetch) == AP_OK) {
		for (i = 0; i < json_array_size(fetch); i++) {
			ap_index(&path, "/fetch", i);
			a = parse_artifact(p, json_array_get(fetch, i), path.buf);
			if (a)
				json_array_append_new(out, a);
		}
	}
	if (ap_strarr(p, p->in, "", "uris", 0, &uris) == AP_OK && json_array_size(uris)) {
		if (fetch && json_array_size(fetch)) {
			verrors_add(p->errs, "/uris", "may not be set in conjunction with fetch");
		} else {
			for (i = 0; i < json_array_size(uris); i++) {
				const char *uri = json_string_value(json_array_get(uris, i));

				ap_index(&path, "/uris", i);
				if (check_uri(p, path.buf, uri) != AP_OK)
					continue;
				json_array_append_new(out, json_pack("{s:s,s:b,s:b,s:b}", "uri", uri,
								     "extract", uri_is_archive(uri),
								     "executable", 0, "cache", 0));
			}
		}
	}
	json_decref(uris);
	ap_set(p, "fetch", out);
	strbuf_release(&path);
}

static void parse_dependencies(struct app_parse *p)
{
	struct strbuf path = STRBUF_INIT, parent = STRBUF_INIT, dep = STRBUF_INIT,
		      why = STRBUF_INIT;
	json_t *deps, *out = json_array();

	if (ap_strarr(p, p->in, "", "dependencies", 0, &deps) == AP_OK) {
		/* Relative dependencies resolve against the app's group. */
		if (p->id.len)
			pathid_parent(p->id.buf, &parent);
		else
			strbuf_addstr(&parent, p->base);
		for (size_t i = 0; i < json_array_size(deps); i++) {
			const char *d = json_string_value(json_array_get(deps, i));
			int dup = 0;

			ap_index(&path, "/dependencies", i);
			strbuf_reset(&why);
			if (pathid_resolve(d, parent.buf, 0, &dep, &why)) {
				verrors_add(p->errs, path.buf, "%s", why.buf);
				continue;
			}
			for (size_t j = 0; j < json_array_size(out); j++)
				dup |= !strcmp(json_string_value(json_array_get(out, j)), dep.buf);
			if (!dup)
				json_array_append_new(out, ap_string(dep.buf));
		}
		json_decref(deps);
	}
	ap_set(p, "dependencies", out);
	strbuf_release(&why);
	strbuf_release(&dep);
	strbuf_release(&parent);
	strbuf_release(&path);
}

int app_regex_valid(const char *pattern, struct strbuf *why)
{
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	pcre2_code *re;
	int code;

	re = pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &code, &off,
			   NULL);
	if (!re) {
		if (why) {
			pcre2_get_error_message(code, msg, sizeof(msg));
			strbuf_addf(why, "%s at offset %zu", (const char *)msg, (size_t)off);
		}
		return 0;
	}
	pcre2_code_free(re);
	return 1;
}

/* Java's Integer.parseInt: an optional sign and decimal digits, within int32. */
static int java_int_valid(const char *s)
{
	char *end;
	long long v;

	if (!*s || (!(*s >= '0' && *s <= '9') && *s != '-' && *s != '+'))
		return 0;
	if ((*s == '-' || *s == '+') && !(s[1] >= '0' && s[1] <= '9'))
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	return !errno && !*end && v >= INT_MIN && v <= INT_MAX;
}

static void check_constraint(struct app_parse *p, const json_t *c, const char *path)
{
	size_t n = json_array_size(c);
	const char *field, *op, *value;

	if (n < 2 || n > 3) {
		verrors_add(p->errs, path, "Each constraint must have either 2 or 3 fields");
		return;
	}
	field = json_string_value(json_array_get(c, 0));
	op = json_string_value(json_array_get(c, 1));
	value = n == 3 ? json_string_value(json_array_get(c, 2)) : NULL;
	if (!*field) {
		verrors_add(p->errs, path, "Missing field and operator");
	} else if (!strcmp(op, "UNIQUE")) {
		if (value)
			verrors_add(p->errs, path, "Value specified but not used");
	} else if (!strcmp(op, "CLUSTER") || !strcmp(op, "IS")) {
		if (!value)
			verrors_add(p->errs, path, "Missing value");
	} else if (!strcmp(op, "GROUP_BY")) {
		if (value && !java_int_valid(value))
			verrors_add(p->errs, path, "Value was specified but is not a number");
	} else if (!strcmp(op, "MAX_PER")) {
		if (!value || !java_int_valid(value))
			verrors_add(p->errs, path, "Value was not specified or is not a number");
	} else if (!strcmp(op, "LIKE") || !strcmp(op, "UNLIKE")) {
		if (!value)
			verrors_add(p->errs, path, "A regular expression value must be provided");
		else if (!app_regex_valid(value, NULL))
			verrors_add(p->errs, path, "'%.200s' is not a valid regular expression",
				    value);
	} else {
		verrors_add(p->errs, path,
			    "Constraint operator must be one of the following UNIQUE, CLUSTER, "
			    "GROUP_BY, LIKE, MAX_PER, UNLIKE or IS");
	}
}

static void parse_constraints(struct app_parse *p)
{
	struct strbuf path = STRBUF_INIT, ipath = STRBUF_INIT;
	const json_t *cs;
	json_t *out = json_array();

	if (ap_arr(p, p->in, "", "constraints", &cs) == AP_OK) {
		for (size_t i = 0; i < json_array_size(cs); i++) {
			const json_t *c = json_array_get(cs, i);
			json_t *copy;
			int ok = 1;
			const char *s;

			ap_index(&path, "/constraints", i);
			if (ap_varr(p, c, path.buf) != AP_OK)
				continue;
			copy = json_array();
			for (size_t j = 0; j < json_array_size(c) && j < 4; j++) {
				ap_index(&ipath, path.buf, j);
				if (ap_vstr(p, json_array_get(c, j), ipath.buf, &s) == AP_OK)
					json_array_append_new(copy, ap_string(s));
				else
					ok = 0;
			}
			if (ok)
				check_constraint(p, c, path.buf);
			/* Marathon keeps constraints as a set: a repeated one is dropped. */
			for (size_t j = 0; j < json_array_size(out) && copy; j++) {
				if (json_equal(json_array_get(out, j), copy)) {
					json_decref(copy);
					copy = NULL;
				}
			}
			if (copy)
				json_array_append_new(out, copy);
		}
	}
	ap_set(p, "constraints", out);
	strbuf_release(&ipath);
	strbuf_release(&path);
}

static void parse_residency(struct app_parse *p)
{
	const json_t *r;
	const char *lost = lost_behaviors[0];
	int64_t timeout = 3600;

	if (ap_obj(p, p->in, "", "residency", &r) != AP_OK)
		return;
	p->residency_given = 1;
	ap_int(p, r, "/residency", "relaunchEscalationTimeoutSeconds", 1, 0, INT64_MAX, &timeout);
	ap_enum(p, r, "/residency", "taskLostBehavior", lost_behaviors, &lost);
	ap_set(p, "residency", json_pack("{s:I,s:s}", "relaunchEscalationTimeoutSeconds",
					 (json_int_t)timeout, "taskLostBehavior", lost));
}

/* resourceLimits.cpus / .mem: a number no less than the request, or "unlimited". */
static void parse_limit(struct app_parse *p, const json_t *lim, const char *key, json_t *out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = ap_member(lim, key);
	double want = json_real_value(json_object_get(p->out, key)), d;

	ap_child(&path, "/resourceLimits", key);
	if (!v) {
		/* absent: no limit beyond the request */
	} else if (json_is_string(v)) {
		if (strcmp(json_string_value(v), "unlimited"))
			verrors_add(p->errs, path.buf, "must be a number or \"unlimited\"");
		else
			json_object_set_new(out, key, ap_string("unlimited"));
	} else if (ap_vnum(p, v, path.buf, 0, 1e15, &d) == AP_OK) {
		if (d < want)
			verrors_add(p->errs, path.buf, "must be at least the requested %s (%g)", key,
				    want);
		json_object_set_new(out, key, json_real(d));
	}
	strbuf_release(&path);
}

static void parse_limits(struct app_parse *p)
{
	const json_t *lim, *er;
	double cpus = 0.1, mem = 32, disk = 10;
	json_t *out;

	if (ap_obj(p, p->in, "", "resourceLimits", &lim) == AP_OK) {
		out = json_object();
		parse_limit(p, lim, "cpus", out);
		parse_limit(p, lim, "mem", out);
		ap_set(p, "resourceLimits", out);
	}
	if (ap_obj(p, p->in, "", "executorResources", &er) == AP_OK) {
		ap_num(p, er, "/executorResources", "cpus", 0.1, 1e12, &cpus);
		ap_num(p, er, "/executorResources", "mem", 32, 1e15, &mem);
		ap_num(p, er, "/executorResources", "disk", 10, 1e15, &disk);
		ap_set(p, "executorResources",
		       json_pack("{s:f,s:f,s:f}", "cpus", cpus, "mem", mem, "disk", disk));
	}
}

void app_parse_fields(struct app_parse *p)
{
	parse_id(p);
	parse_command(p);
	parse_resources(p);
	parse_scheduling(p);
	parse_roles(p);
	parse_secrets(p);
	parse_env(p);
	parse_labels(p);
	parse_fetch(p);
	parse_dependencies(p);
	parse_constraints(p);
	parse_residency(p);
	parse_limits(p);
}
