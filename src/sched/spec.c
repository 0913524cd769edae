/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Specs (what one instance needs, constraints compiled) and the per-app
 * counters that let each constraint be checked in O(1): for each field an
 * app's constraints name, how many of its instances run on each value.
 * The checks follow Marathon's mesosphere.mesos.Constraints (1.5+,
 * ConstraintsChecker.checkConstraint) operator by operator.
 */
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "sched/sched_int.h"

static const char *const op_names[] = {
	[OP_UNIQUE] = "UNIQUE", [OP_CLUSTER] = "CLUSTER", [OP_GROUP_BY] = "GROUP_BY",
	[OP_LIKE] = "LIKE",     [OP_UNLIKE] = "UNLIKE",   [OP_MAX_PER] = "MAX_PER",
	[OP_IS] = "IS",
};

/* Java's Integer.parseInt: optional sign, decimal digits, int range. */
static int parse_java_int(const char *v, long *out)
{
	char *end;
	long n;

	if (!*v || !strchr("+-0123456789", *v))
		return -1;
	n = strtol(v, &end, 10);
	if (*end || n < INT_MIN || n > INT_MAX)
		return -1;
	*out = n;
	return 0;
}

__attribute__((format(printf, 3, 4))) static int cons_fail(struct strbuf *err,
							   const char *const t[3], const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return PACER_EINVALID;
	strbuf_addstr(err, "constraint [");
	for (int i = 0; i < 3; i++) {
		if (i == 2 && !t[2])
			break;
		if (i)
			strbuf_addstr(err, ", ");
		strbuf_add_json_str(err, t[i] ? t[i] : "");
	}
	strbuf_addstr(err, "]: ");
	va_start(ap, fmt);
	strbuf_vaddf(err, fmt, ap);
	va_end(ap);
	return PACER_EINVALID;
}

static int compile_cons(struct sched *s, struct cons *c, const char *const t[3], struct strbuf *err)
{
	const char *field = t[0], *opname = t[1], *value = t[2];
	int has_value = value && *value, op = -1;
	long n;

	if (!field || !*field)
		return cons_fail(err, t, "the field is empty");
	for (size_t i = 0; i < sizeof(op_names) / sizeof(op_names[0]); i++)
		if (opname && !strcmp(opname, op_names[i]))
			op = (int)i;
	if (op < 0)
		return cons_fail(err, t,
				 "unknown operator '%s' (known: UNIQUE, CLUSTER, GROUP_BY, LIKE, UNLIKE, MAX_PER, IS)",
				 opname ? opname : "");
	c->op = (enum cons_op)op;
	c->value = VALUE_NONE;
	c->has_value = has_value;
	switch (c->op) {
	case OP_UNIQUE:
		if (has_value)
			return cons_fail(err, t, "UNIQUE does not take a value");
		break;
	case OP_CLUSTER:
		break;
	case OP_GROUP_BY:
		/* Marathon's getIntValue: "inf" is no limit, absent is 0 */
		if (!has_value)
			break;
		if (!strcmp(value, "inf"))
			c->num = INT_MAX;
		else if (parse_java_int(value, &n))
			return cons_fail(err, t, "'%s' is not a number", value);
		else
			c->num = n > 0 ? (uint32_t)n : 0;
		break;
	case OP_MAX_PER:
		if (!has_value)
			return cons_fail(err, t, "MAX_PER needs a number");
		if (parse_java_int(value, &n))
			return cons_fail(err, t, "'%s' is not a number", value);
		if (n < 0)
			return cons_fail(err, t, "'%s' is negative", value);
		c->num = (uint32_t)n;
		break;
	case OP_IS:
		if (!has_value)
			return cons_fail(err, t, "IS needs a value");
		break;
	case OP_LIKE:
	case OP_UNLIKE: {
		int errcode;
		PCRE2_SIZE off;
		PCRE2_UCHAR msg[160];

		if (!has_value)
			return cons_fail(err, t, "%s needs a regular expression", opname);
		/* Java's String.matches: the whole value must match */
		c->re = pcre2_compile((PCRE2_SPTR)value, PCRE2_ZERO_TERMINATED,
				      PCRE2_ANCHORED | PCRE2_ENDANCHORED, &errcode, &off, NULL);
		if (!c->re) {
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			return cons_fail(err, t, "'%s' is not a valid regular expression: %s at offset %zu",
					 value, (char *)msg, (size_t)off);
		}
		pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE); /* interpreted if JIT is unavailable */
		break;
	}
	}
	c->field = !strcmp(field, "hostname") || !strcmp(field, "@hostname")
			   ? FIELD_HOSTNAME
			   : sched_field_id(s, field);
	if ((c->op == OP_IS || c->op == OP_CLUSTER) && has_value)
		c->value = sched_value_ref(s, c->field, value);
	return 0;
}

void sched_spec_free(struct sched *s, struct sched_spec *spec)
{
	if (!spec)
		return;
	for (uint32_t i = 0; i < spec->ncons; i++) {
		if (spec->cons[i].value != VALUE_NONE)
			sched_value_unref(s, spec->cons[i].value);
		pcre2_code_free(spec->cons[i].re);
	}
	free(spec->cons);
	free(spec->ports);
	free(spec);
}

int sched_spec_new(struct sched *s, const struct sched_spec_desc *d, struct sched_spec **out,
		   struct strbuf *err)
{
	const double amounts[SCHED_NSCALARS] = {d->cpus, d->mem, d->disk, d->gpus};
	static const char *const names[SCHED_NSCALARS] = {"cpus", "mem", "disk", "gpus"};
	struct sched_spec *spec;
	int ret;

	*out = NULL;
	for (int k = 0; k < SCHED_NSCALARS; k++) {
		if (!isfinite(amounts[k]) || amounts[k] < 0 || amounts[k] > 1e12) {
			if (err)
				strbuf_addf(err, "%s must be a number from 0 to 1e12", names[k]);
			return PACER_EINVALID;
		}
	}
	if (d->nports > SCHED_MAX_PORTS || d->nconstraints > SCHED_MAX_CONSTRAINTS ||
	    d->nroles > SCHED_MAX_ROLES) {
		if (err)
			strbuf_addf(err, "too many ports, constraints or roles (at most %d, %d, %d)",
				    SCHED_MAX_PORTS, SCHED_MAX_CONSTRAINTS, SCHED_MAX_ROLES);
		return PACER_EINVALID;
	}
	for (size_t i = 0; i < d->nports; i++)
		for (size_t j = 0; j < i; j++)
			if (d->ports[i] && d->ports[i] == d->ports[j]) {
				if (err)
					strbuf_addf(err, "host port %u is given twice", d->ports[i]);
				return PACER_EINVALID;
			}

	spec = xcalloc(1, sizeof(*spec));
	for (int k = 0; k < SCHED_NSCALARS; k++)
		spec->milli[k] = sched_milli(amounts[k]);
	spec->nports = (uint16_t)d->nports;
	if (d->nports) {
		spec->ports = xmalloc(st_mult(d->nports, sizeof(*spec->ports)));
		memcpy(spec->ports, d->ports, d->nports * sizeof(*spec->ports));
		for (size_t i = 0; i < d->nports; i++)
			spec->ndynamic += d->ports[i] == 0;
	}
	for (size_t i = 0; i < d->nroles; i++) {
		uint32_t r = sched_role_id(s, d->roles[i]);
		int dup = 0;

		for (uint32_t k = 0; k < spec->nroles; k++)
			dup |= spec->roles[k] == r;
		if (!dup)
			spec->roles[spec->nroles++] = r;
	}
	if (!spec->nroles)
		spec->roles[spec->nroles++] = 0; /* "*" */
	if (d->nconstraints)
		spec->cons = xcalloc(d->nconstraints, sizeof(*spec->cons));
	for (size_t i = 0; i < d->nconstraints; i++) {
		ret = compile_cons(s, &spec->cons[i], d->constraints[i], err);
		if (ret) {
			pcre2_code_free(spec->cons[i].re);
			sched_spec_free(s, spec);
			return ret;
		}
		spec->ncons++;
	}
	*out = spec;
	return 0;
}

size_t sched_spec_nports(const struct sched_spec *spec)
{
	return spec->nports;
}

/* ---- Per-app counters ---------------------------------------------------- */

static void fcount_add(struct fcount *fc, uint32_t value, int32_t delta)
{
	uint32_t c = u32map_add(&fc->counts, value, delta); /* the new count */

	if (delta > 0) {
		if (c == 1) {
			fc->ngroups++;
			if (fc->dirty)
				return;
			if (fc->ngroups == 1 || fc->min > 1) {
				fc->min = 1;
				fc->nmin = 1;
			} else if (fc->min == 1) {
				fc->nmin++;
			}
		} else if (!fc->dirty && c - 1 == fc->min && --fc->nmin == 0) {
			fc->dirty = 1; /* the new minimum is c, but how many have it? */
		}
		return;
	}
	if (c == 0) {
		fc->ngroups--;
		if (!fc->ngroups) {
			fc->min = fc->nmin = 0;
			fc->dirty = 0;
		} else if (!fc->dirty && fc->min == 1 && --fc->nmin == 0) {
			fc->dirty = 1;
		}
	} else if (!fc->dirty) {
		if (c + 1 == fc->min) {
			fc->min = c;
			fc->nmin = 1;
		} else if (c == fc->min) {
			fc->nmin++;
		}
	}
}

uint32_t fcount_min(struct fcount *fc)
{
	uint32_t key, n;

	if (!fc->dirty)
		return fc->min;
	fc->min = UINT32_MAX;
	fc->nmin = 0;
	for (size_t i = 0; u32map_next(&fc->counts, &i, &key, &n);) {
		if (n < fc->min) {
			fc->min = n;
			fc->nmin = 1;
		} else if (n == fc->min) {
			fc->nmin++;
		}
	}
	if (!fc->ngroups)
		fc->min = 0;
	fc->dirty = 0;
	return fc->min;
}

struct fcount *app_fcount(struct sched *s, struct sched_app *app, uint32_t field)
{
	struct fcount *fc;
	uint32_t agent, n;

	for (uint32_t i = 0; i < app->nfields; i++)
		if (app->fields[i].field == field)
			return &app->fields[i];
	/* first constraint on this field: count the app's instances once */
	app->fields = xrealloc(app->fields, st_mult(app->nfields + 1, sizeof(*app->fields)));
	fc = &app->fields[app->nfields++];
	memset(fc, 0, sizeof(*fc));
	fc->field = field;
	u32map_init(&fc->counts);
	for (size_t i = 0; u32map_next(&app->per_agent, &i, &agent, &n);)
		if (u32map_add(&fc->counts, agent_value(&s->agents[agent], field), (int32_t)n) == n)
			fc->ngroups++;
	fc->dirty = 1;
	return fc;
}

void app_count(struct sched *s, struct sched_app *app, uint32_t agent, int32_t delta)
{
	struct agent *a = &s->agents[agent];

	u32map_add(&app->per_agent, agent, delta);
	for (uint32_t i = 0; i < app->nfields; i++)
		fcount_add(&app->fields[i], agent_value(a, app->fields[i].field), delta);
	app->ninstances += (uint32_t)delta;
	a->ninstances += (uint32_t)delta;
}

void app_free(struct sched_app *app)
{
	for (uint32_t i = 0; i < app->nfields; i++)
		u32map_release(&app->fields[i].counts);
	free(app->fields);
	u32map_release(&app->per_agent);
	free(app->id);
	free(app);
}

struct sched_app *sched_app_get(struct sched *s, const char *app_id)
{
	struct sched_app *app = hashmap_get(&s->apps, app_id);

	if (app)
		return app;
	app = xcalloc(1, sizeof(*app));
	app->id = xstrdup(app_id);
	u32map_init(&app->per_agent);
	hashmap_put(&s->apps, app->id, app);
	return app;
}

struct sched_app *sched_app_find(const struct sched *s, const char *app_id)
{
	return hashmap_get(&s->apps, app_id);
}

uint32_t sched_app_instances(const struct sched_app *app)
{
	return app->ninstances;
}

uint32_t sched_app_instances_on(const struct sched_app *app, uint32_t agent)
{
	return u32map_get(&app->per_agent, agent);
}

int sched_app_remove(struct sched *s, struct sched_app *app)
{
	if (app->ninstances)
		return PACER_ECONFLICT;
	hashmap_remove(&s->apps, app->id);
	app_free(app);
	return 0;
}

/* ---- The checks ---------------------------------------------------------- */

int cons_check(struct sched *s, const struct sched_app *app, const struct cons *c,
	       struct fcount *fc, const struct agent *a)
{
	uint32_t v = agent_value(a, c->field), n;
	const char *text;

	/* only UNLIKE accepts an agent without the attribute */
	if (v == VALUE_MISSING)
		return c->op == OP_UNLIKE;
	switch (c->op) {
	case OP_UNIQUE:
		return u32map_get(&fc->counts, v) == 0;
	case OP_CLUSTER:
		if (c->has_value)
			return v == c->value;
		/* no value: where the instances already are, if anywhere */
		return !app->ninstances || u32map_get(&fc->counts, v) == app->ninstances;
	case OP_GROUP_BY:
		/* a value not yet used, or the smallest group once there are enough */
		n = u32map_get(&fc->counts, v);
		return !n || (fc->ngroups >= c->num && n == fcount_min(fc));
	case OP_MAX_PER:
		return u32map_get(&fc->counts, v) < c->num;
	case OP_IS:
		return v == c->value;
	case OP_LIKE:
	case OP_UNLIKE:
		text = s->values[v].text;
		n = pcre2_match(c->re, (PCRE2_SPTR)text, strlen(text), 0, 0, s->md, NULL) >= 0;
		return c->op == OP_LIKE ? (int)n : !n;
	}
	return 0;
}
