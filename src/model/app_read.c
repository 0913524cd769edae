/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The parse state of one app definition and the typed readers that report
 * errors with Marathon's paths and Play JSON's type messages; see app_priv.h.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "model/app_priv.h"

/* Every key of the normalized definition, in the order it is written. */
static const char *const out_keys[] = {
	"id", "cmd", "args", "user", "env", "instances", "cpus", "mem", "disk", "gpus",
	"executor", "constraints", "fetch", "backoffSeconds", "backoffFactor",
	"maxLaunchDelaySeconds", "container", "healthChecks", "readinessChecks", "dependencies",
	"upgradeStrategy", "labels", "acceptedResourceRoles", "requirePorts", "portDefinitions",
	"networks", "killSelection", "unreachableStrategy", "taskKillGracePeriodSeconds",
	"secrets", "residency", "role", "tty", "check", "resourceLimits", "executorResources",
};

void app_parse_init(struct app_parse *p, const json_t *in, const char *base, const char *path_id,
		    struct verrors *errs)
{
	memset(p, 0, sizeof(*p));
	p->errs = errs;
	p->in = in;
	p->base = base && *base ? base : "/";
	p->path_id = path_id;
	strbuf_init(&p->id, 0);
	p->out = json_object();
	for (size_t i = 0; i < sizeof(out_keys) / sizeof(out_keys[0]); i++)
		json_object_set_new(p->out, out_keys[i], json_null());
	if (json_is_object(ap_member(in, "secrets")))
		p->secrets = ap_member(in, "secrets");
	if (json_is_object(ap_member(in, "labels")))
		p->labels = ap_member(in, "labels");
}

void app_parse_finish(struct app_parse *p)
{
	for (size_t i = 0; i < sizeof(out_keys) / sizeof(out_keys[0]); i++) {
		if (json_is_null(json_object_get(p->out, out_keys[i])))
			json_object_del(p->out, out_keys[i]);
	}
}

void app_parse_release(struct app_parse *p)
{
	json_decref(p->out);
	p->out = NULL;
	strbuf_release(&p->id);
}

void ap_child(struct strbuf *sb, const char *parent, const char *key)
{
	strbuf_reset(sb);
	strbuf_addstr(sb, parent);
	strbuf_addch(sb, '/');
	strbuf_addstr(sb, key);
}

void ap_index(struct strbuf *sb, const char *parent, size_t i)
{
	strbuf_reset(sb);
	strbuf_addf(sb, "%s(%zu)", parent, i);
}

const json_t *ap_member(const json_t *obj, const char *key)
{
	const json_t *v;

	if (!json_is_object(obj))
		return NULL;
	v = json_object_get(obj, key);
	return json_is_null(v) ? NULL : v;
}

void ap_set(struct app_parse *p, const char *key, json_t *v)
{
	json_object_set_new(p->out, key, v);
}

json_t *ap_string(const char *s)
{
	json_t *v = json_stringn_nocheck(s, strlen(s));

	PACER_ASSERT(v != NULL);
	return v;
}

int ap_vstr_max(struct app_parse *p, const json_t *v, const char *path, size_t max,
		const char **out)
{
	size_t len;

	if (!json_is_string(v)) {
		verrors_add_type(p->errs, path, "error.expected.jsstring");
		return AP_BAD;
	}
	len = json_string_length(v);
	if (strlen(json_string_value(v)) != len) {
		verrors_add(p->errs, path, "must not contain NUL characters");
		return AP_BAD;
	}
	if (len > max) {
		verrors_add(p->errs, path, "must be at most %zu bytes long", max);
		return AP_BAD;
	}
	*out = json_string_value(v);
	return AP_OK;
}

int ap_vstr(struct app_parse *p, const json_t *v, const char *path, const char **out)
{
	return ap_vstr_max(p, v, path, APP_MAX_STR, out);
}

int ap_vbool(struct app_parse *p, const json_t *v, const char *path, int *out)
{
	if (!json_is_boolean(v)) {
		verrors_add_type(p->errs, path, "error.expected.jsboolean");
		return AP_BAD;
	}
	*out = json_is_true(v);
	return AP_OK;
}

int ap_vint(struct app_parse *p, const json_t *v, const char *path, int wide, int64_t min,
	    int64_t max, int64_t *out)
{
	const char *what = wide ? "error.expected.long" : "error.expected.int";
	int64_t lo = wide ? INT64_MIN : INT32_MIN, hi = wide ? INT64_MAX : INT32_MAX;
	int64_t n;

	if (!json_is_number(v)) {
		verrors_add_type(p->errs, path, "error.expected.jsnumber");
		return AP_BAD;
	}
	if (json_is_integer(v)) {
		n = json_integer_value(v);
	} else {
		/* Play reads 2.0 as the Int 2, and 2.5 as an error. */
		double d = json_real_value(v);

		if (d != floor(d) || d < -9.2e18 || d > 9.2e18) {
			verrors_add_type(p->errs, path, "%s", what);
			return AP_BAD;
		}
		n = (int64_t)d;
	}
	if (n < lo || n > hi) {
		verrors_add_type(p->errs, path, "%s", what);
		return AP_BAD;
	}
	if (n < min) {
		verrors_add(p->errs, path, "must be at least %" PRId64, min);
		return AP_BAD;
	}
	if (n > max) {
		verrors_add(p->errs, path, "must be at most %" PRId64, max);
		return AP_BAD;
	}
	*out = n;
	return AP_OK;
}

/*
 * The stored form prints doubles with 15 significant digits; rounding to them
 * here makes the definition in memory equal to the one read back from the
 * store (1.15111111111111111 is 1.15111111111111 in both).
 */
static double round15(double d)
{
	char buf[40];

	snprintf(buf, sizeof(buf), "%.15g", d);
	return strtod(buf, NULL);
}

int ap_vnum(struct app_parse *p, const json_t *v, const char *path, double min, double max,
	    double *out)
{
	double d;

	if (!json_is_number(v)) {
		verrors_add_type(p->errs, path, "error.expected.jsnumber");
		return AP_BAD;
	}
	d = json_number_value(v);
	if (!isfinite(d)) {
		verrors_add_type(p->errs, path, "error.expected.jsnumber");
		return AP_BAD;
	}
	d = round15(d);
	if (d < min) {
		verrors_add(p->errs, path, "must be at least %g", min);
		return AP_BAD;
	}
	if (d > max) {
		verrors_add(p->errs, path, "must be at most %g", max);
		return AP_BAD;
	}
	*out = d;
	return AP_OK;
}

int ap_vobj(struct app_parse *p, const json_t *v, const char *path)
{
	if (!json_is_object(v)) {
		verrors_add_type(p->errs, path, "error.expected.jsobject");
		return AP_BAD;
	}
	if (json_object_size(v) > APP_MAX_ITEMS) {
		verrors_add(p->errs, path, "must have at most %d entries", APP_MAX_ITEMS);
		return AP_BAD;
	}
	return AP_OK;
}

int ap_varr(struct app_parse *p, const json_t *v, const char *path)
{
	if (!json_is_array(v)) {
		verrors_add_type(p->errs, path, "error.expected.jsarray");
		return AP_BAD;
	}
	if (json_array_size(v) > APP_MAX_ITEMS) {
		verrors_add(p->errs, path, "must have at most %d elements", APP_MAX_ITEMS);
		return AP_BAD;
	}
	return AP_OK;
}

int ap_venum(struct app_parse *p, const json_t *v, const char *path, const char *const *vals,
	     const char **out)
{
	struct strbuf list = STRBUF_INIT;
	const char *s;

	if (ap_vstr(p, v, path, &s) != AP_OK)
		return AP_BAD;
	for (size_t i = 0; vals[i]; i++) {
		if (!strcmp(s, vals[i])) {
			*out = vals[i];
			return AP_OK;
		}
	}
	for (size_t i = 0; vals[i]; i++) {
		strbuf_addstr(&list, i ? ", " : "");
		strbuf_addstr(&list, vals[i]);
	}
	verrors_add(p->errs, path, "'%.64s' is not one of %s", s, list.buf);
	strbuf_release(&list);
	return AP_BAD;
}

/*
 * Member wrappers: look the key up, and read it at parent/key. A macro would
 * save lines but hide the control flow; these stay explicit.
 */
static const json_t *member_path(const json_t *obj, const char *parent, const char *key,
				 struct strbuf *path)
{
	const json_t *v = ap_member(obj, key);

	if (v)
		ap_child(path, parent, key);
	return v;
}

int ap_str(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   const char **out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = member_path(obj, parent, key, &path);
	int r = v ? ap_vstr(p, v, path.buf, out) : AP_ABSENT;

	strbuf_release(&path);
	return r;
}

int ap_bool(struct app_parse *p, const json_t *obj, const char *parent, const char *key, int *out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = member_path(obj, parent, key, &path);
	int r = v ? ap_vbool(p, v, path.buf, out) : AP_ABSENT;

	strbuf_release(&path);
	return r;
}

int ap_int(struct app_parse *p, const json_t *obj, const char *parent, const char *key, int wide,
	   int64_t min, int64_t max, int64_t *out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = member_path(obj, parent, key, &path);
	int r = v ? ap_vint(p, v, path.buf, wide, min, max, out) : AP_ABSENT;

	strbuf_release(&path);
	return r;
}

int ap_num(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   double min, double max, double *out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = member_path(obj, parent, key, &path);
	int r = v ? ap_vnum(p, v, path.buf, min, max, out) : AP_ABSENT;

	strbuf_release(&path);
	return r;
}

int ap_obj(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   const json_t **out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = member_path(obj, parent, key, &path);
	int r = v ? ap_vobj(p, v, path.buf) : AP_ABSENT;

	strbuf_release(&path);
	if (r == AP_OK)
		*out = v;
	return r;
}

int ap_arr(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   const json_t **out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = member_path(obj, parent, key, &path);
	int r = v ? ap_varr(p, v, path.buf) : AP_ABSENT;

	strbuf_release(&path);
	if (r == AP_OK)
		*out = v;
	return r;
}

int ap_enum(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	    const char *const *vals, const char **out)
{
	struct strbuf path = STRBUF_INIT;
	const json_t *v = member_path(obj, parent, key, &path);
	int r = v ? ap_venum(p, v, path.buf, vals, out) : AP_ABSENT;

	strbuf_release(&path);
	return r;
}

int ap_strmap(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	      json_t **out)
{
	struct strbuf path = STRBUF_INIT, kpath = STRBUF_INIT;
	const json_t *m = member_path(obj, parent, key, &path);
	const char *k, *s;
	json_t *v, *res;
	int r = AP_OK;

	if (!m) {
		strbuf_release(&path);
		return AP_ABSENT;
	}
	if (ap_vobj(p, m, path.buf) != AP_OK) {
		strbuf_release(&path);
		return AP_BAD;
	}
	res = json_object();
	json_object_foreach((json_t *)m, k, v) {
		ap_child(&kpath, path.buf, k);
		if (strlen(k) > APP_MAX_STR) {
			verrors_add(p->errs, path.buf, "keys must be at most %d bytes long",
				    APP_MAX_STR);
			r = AP_BAD;
		} else if (ap_vstr(p, v, kpath.buf, &s) == AP_OK) {
			json_object_set_new(res, k, ap_string(s));
		} else {
			r = AP_BAD;
		}
	}
	strbuf_release(&kpath);
	strbuf_release(&path);
	if (r != AP_OK) {
		json_decref(res);
		return AP_BAD;
	}
	*out = res;
	return AP_OK;
}

int ap_strarr(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	      int unique, json_t **out)
{
	struct strbuf path = STRBUF_INIT, ipath = STRBUF_INIT;
	const json_t *a = member_path(obj, parent, key, &path);
	const char *s;
	json_t *res;
	size_t i;
	int r = AP_OK;

	if (!a) {
		strbuf_release(&path);
		return AP_ABSENT;
	}
	if (ap_varr(p, a, path.buf) != AP_OK) {
		strbuf_release(&path);
		return AP_BAD;
	}
	res = json_array();
	for (i = 0; i < json_array_size(a); i++) {
		ap_index(&ipath, path.buf, i);
		if (ap_vstr(p, json_array_get(a, i), ipath.buf, &s) != AP_OK) {
			r = AP_BAD;
			continue;
		}
		if (unique) {
			for (size_t j = 0; j < json_array_size(res); j++) {
				if (!strcmp(json_string_value(json_array_get(res, j)), s)) {
					verrors_add(p->errs, path.buf, "elements must be unique");
					r = AP_BAD;
					break;
				}
			}
		}
		json_array_append_new(res, ap_string(s));
	}
	strbuf_release(&ipath);
	strbuf_release(&path);
	if (r != AP_OK) {
		json_decref(res);
		return AP_BAD;
	}
	*out = res;
	return AP_OK;
}
