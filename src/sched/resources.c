/* SPDX-License-Identifier: Apache-2.0 */
/* Mesos resource and attribute strings; see resources.h. */
#include "sched/resources.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "base/xalloc.h"

/* Anything larger is a typo: 2^53 thousandths stay exact in a double. */
#define SCALAR_MAX 1e12

int64_t sched_milli(double v)
{
	return llround(v * 1000.0);
}

double sched_unmilli(int64_t m)
{
	return (double)m / 1000.0;
}

/* A slice of the input: (ptr, len), spaces trimmed. */
struct span {
	const char *p;
	size_t n;
};

static struct span trim(const char *p, size_t n)
{
	while (n && isspace((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n && isspace((unsigned char)p[n - 1]))
		n--;
	return (struct span){p, n};
}

static int span_eq(struct span s, const char *lit)
{
	return strlen(lit) == s.n && !memcmp(s.p, lit, s.n);
}

/* "invalid <what> '<text>': " then the cause, printf-style. */
__attribute__((format(printf, 4, 5))) static int fail(struct strbuf *err, const char *what,
						       const char *text, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return PACER_EBADCONFIG;
	strbuf_addf(err, "invalid %s '%s': ", what, text);
	va_start(ap, fmt);
	strbuf_vaddf(err, fmt, ap);
	va_end(ap);
	return PACER_EBADCONFIG;
}

/* A finite decimal number spanning all of s (no hex, inf or nan). */
static int parse_number(struct span s, double *out)
{
	char buf[64], *end;

	if (!s.n || s.n >= sizeof(buf))
		return -1;
	for (size_t i = 0; i < s.n; i++)
		if (!strchr("0123456789+-.eE", s.p[i]))
			return -1;
	memcpy(buf, s.p, s.n);
	buf[s.n] = '\0';
	errno = 0;
	*out = strtod(buf, &end);
	if (*end || errno || !isfinite(*out))
		return -1;
	return 0;
}

static int parse_u64(struct span s, uint64_t *out)
{
	uint64_t v = 0;

	if (!s.n)
		return -1;
	for (size_t i = 0; i < s.n; i++) {
		if (!isdigit((unsigned char)s.p[i]) || v > (UINT64_MAX - 9) / 10)
			return -1;
		v = v * 10 + (uint64_t)(s.p[i] - '0');
	}
	*out = v;
	return 0;
}

void sched_resources_init(struct sched_resources *r)
{
	r->pools = NULL;
	r->npools = 0;
}

void sched_resources_release(struct sched_resources *r)
{
	for (size_t i = 0; i < r->npools; i++) {
		free(r->pools[i].role);
		free(r->pools[i].ports);
	}
	free(r->pools);
	sched_resources_init(r);
}

static struct sched_pool_desc *pool_for(struct sched_resources *r, struct span role)
{
	for (size_t i = 0; i < r->npools; i++)
		if (span_eq(role, r->pools[i].role))
			return &r->pools[i];
	r->pools = xrealloc(r->pools, st_mult(r->npools + 1, sizeof(*r->pools)));
	memset(&r->pools[r->npools], 0, sizeof(r->pools[0]));
	r->pools[r->npools].role = xstrndup(role.p, role.n);
	for (int k = 0; k < SCHED_NSCALARS; k++)
		r->pools[r->npools].scalar[k] = -1; /* not given yet */
	return &r->pools[r->npools++];
}

static int cmp_range(const void *a, const void *b)
{
	const struct sched_port_range *x = a, *y = b;

	return (int)x->begin - (int)y->begin;
}

/* "[31000-32000,33000-33100]" into sorted, merged ranges. */
static int parse_ports(struct sched_pool_desc *pool, struct span v, const char *text,
		       struct strbuf *err)
{
	struct sched_port_range *rs = NULL;
	size_t n = 0, alloc = 0, out;
	const char *p, *end;

	if (v.n < 2 || v.p[0] != '[' || v.p[v.n - 1] != ']')
		return fail(err, "resources", text, "'%.*s' is not a list of port ranges like [31000-32000]",
			    (int)v.n, v.p);
	p = v.p + 1;
	end = v.p + v.n - 1;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p)), *dash;
		struct span item = trim(p, (size_t)((comma ? comma : end) - p));
		uint64_t b, e;

		p = comma ? comma + 1 : end;
		dash = memchr(item.p, '-', item.n);
		if (!dash || parse_u64(trim(item.p, (size_t)(dash - item.p)), &b) ||
		    parse_u64(trim(dash + 1, (size_t)(item.p + item.n - dash - 1)), &e)) {
			free(rs);
			return fail(err, "resources", text, "'%.*s' is not a port range like 31000-32000",
				    (int)item.n, item.p);
		}
		if (b < 1 || b > 65535 || e < 1 || e > 65535) {
			free(rs);
			return fail(err, "resources", text, "port range '%.*s' is outside 1-65535",
				    (int)item.n, item.p);
		}
		if (e < b) {
			free(rs);
			return fail(err, "resources", text, "port range '%.*s' ends before it begins",
				    (int)item.n, item.p);
		}
		ALLOC_GROW(rs, n + 1, alloc);
		rs[n++] = (struct sched_port_range){(uint16_t)b, (uint16_t)e};
	}
	if (!n) {
		free(rs);
		return fail(err, "resources", text, "'%.*s' holds no port range", (int)v.n, v.p);
	}
	qsort(rs, n, sizeof(*rs), cmp_range);
	out = 0;
	for (size_t i = 1; i < n; i++) {
		if ((uint32_t)rs[i].begin <= (uint32_t)rs[out].end + 1) {
			if (rs[i].end > rs[out].end)
				rs[out].end = rs[i].end;
		} else {
			rs[++out] = rs[i];
		}
	}
	pool->ports = rs;
	pool->nports = out + 1;
	return 0;
}

static const char *const scalar_names[SCHED_NSCALARS] = {"cpus", "mem", "disk", "gpus"};

static int parse_resource(struct sched_resources *r, struct span item, const char *text,
			  struct strbuf *err)
{
	const char *colon = memchr(item.p, ':', item.n), *paren;
	struct span name, role = {"*", 1}, v;
	struct sched_pool_desc *pool;
	double d;

	if (!colon)
		return fail(err, "resources", text, "'%.*s' is not name:value", (int)item.n, item.p);
	name = trim(item.p, (size_t)(colon - item.p));
	v = trim(colon + 1, (size_t)(item.p + item.n - colon - 1));
	paren = memchr(name.p, '(', name.n);
	if (paren) {
		if (name.p[name.n - 1] != ')')
			return fail(err, "resources", text, "'%.*s' has an unterminated role",
				    (int)name.n, name.p);
		role = trim(paren + 1, (size_t)(name.p + name.n - 1 - paren - 1));
		if (!role.n || memchr(role.p, '(', role.n) || memchr(role.p, ')', role.n))
			return fail(err, "resources", text, "'%.*s' has an invalid role",
				    (int)name.n, name.p);
		name = trim(name.p, (size_t)(paren - name.p));
	}
	if (!v.n)
		return fail(err, "resources", text, "'%.*s' has no value", (int)name.n, name.p);
	if (span_eq(name, "ports")) {
		pool = pool_for(r, role);
		if (pool->ports)
			return fail(err, "resources", text, "'ports' is given twice for role '%s'",
				    pool->role);
		return parse_ports(pool, v, text, err);
	}
	for (int k = 0; k < SCHED_NSCALARS; k++) {
		if (!span_eq(name, scalar_names[k]))
			continue;
		if (parse_number(v, &d))
			return fail(err, "resources", text, "'%.*s' is not a number", (int)v.n, v.p);
		if (d < 0)
			return fail(err, "resources", text, "%s '%.*s' is negative", scalar_names[k],
				    (int)v.n, v.p);
		if (d > SCALAR_MAX)
			return fail(err, "resources", text, "%s '%.*s' is too large", scalar_names[k],
				    (int)v.n, v.p);
		pool = pool_for(r, role);
		if (pool->scalar[k] >= 0)
			return fail(err, "resources", text, "'%s' is given twice for role '%s'",
				    scalar_names[k], pool->role);
		pool->scalar[k] = sched_milli(d);
		return 0;
	}
	return fail(err, "resources", text,
		    "unknown resource '%.*s' (known: cpus, mem, disk, gpus, ports)", (int)name.n, name.p);
}

int sched_resources_parse(struct sched_resources *r, const char *text, struct strbuf *err)
{
	const char *p = text;
	int ret;

	while (*p) {
		const char *semi = strchr(p, ';');
		size_t n = semi ? (size_t)(semi - p) : strlen(p);
		struct span item = trim(p, n);

		p += n + (semi ? 1 : 0);
		if (!item.n)
			continue;
		ret = parse_resource(r, item, text, err);
		if (ret) {
			sched_resources_release(r);
			return ret;
		}
	}
	for (size_t i = 0; i < r->npools; i++)
		for (int k = 0; k < SCHED_NSCALARS; k++)
			if (r->pools[i].scalar[k] < 0)
				r->pools[i].scalar[k] = 0;
	return 0;
}

void sched_format_scalar(struct strbuf *sb, double v)
{
	char buf[400], *dot, *digits;
	size_t len, intlen;

	/* %.3f rounds the exact binary value half-even, as HALF_EVEN does */
	snprintf(buf, sizeof(buf), "%.3f", v);
	len = strlen(buf);
	while (buf[len - 1] == '0')
		buf[--len] = '\0';
	if (buf[len - 1] == '.')
		buf[--len] = '\0';
	digits = buf[0] == '-' ? buf + 1 : buf;
	if (digits != buf)
		strbuf_addch(sb, '-');
	dot = strchr(digits, '.');
	intlen = dot ? (size_t)(dot - digits) : strlen(digits);
	for (size_t i = 0; i < intlen; i++) {
		if (i && (intlen - i) % 3 == 0)
			strbuf_addch(sb, ',');
		strbuf_addch(sb, digits[i]);
	}
	if (dot)
		strbuf_addstr(sb, dot);
}

void sched_attrs_init(struct sched_attrs *a)
{
	a->v = NULL;
	a->n = 0;
}

void sched_attrs_release(struct sched_attrs *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].value);
	}
	free(a->v);
	sched_attrs_init(a);
}

void sched_attrs_add(struct sched_attrs *a, const char *name, const char *value)
{
	a->v = xrealloc(a->v, st_mult(a->n + 1, sizeof(*a->v)));
	a->v[a->n].name = xstrdup(name);
	a->v[a->n].value = xstrdup(value);
	a->n++;
}

static int cmp_u64_pair(const void *a, const void *b)
{
	const uint64_t *x = a, *y = b;

	return x[0] < y[0] ? -1 : x[0] > y[0];
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Normalizes an attribute value into sb as Marathon's getValueString. */
static int attr_value(struct strbuf *sb, struct span v, const char *text, struct strbuf *err)
{
	double d;

	if (v.p[0] == '[') {
		uint64_t(*rs)[2] = NULL;
		size_t n = 0, alloc = 0;
		const char *p = v.p + 1, *end = v.p + v.n - 1;

		if (v.n < 2 || *end != ']')
			return fail(err, "attributes", text, "'%.*s' is not a list of ranges like [1-5]",
				    (int)v.n, v.p);
		while (p < end) {
			const char *comma = memchr(p, ',', (size_t)(end - p)), *dash;
			struct span item = trim(p, (size_t)((comma ? comma : end) - p));
			uint64_t b, e;

			p = comma ? comma + 1 : end;
			dash = memchr(item.p, '-', item.n);
			if (!dash || parse_u64(trim(item.p, (size_t)(dash - item.p)), &b) ||
			    parse_u64(trim(dash + 1, (size_t)(item.p + item.n - dash - 1)), &e) || e < b) {
				free(rs);
				return fail(err, "attributes", text, "'%.*s' is not a range like 1-5",
					    (int)item.n, item.p);
			}
			ALLOC_GROW(rs, n + 1, alloc);
			rs[n][0] = b;
			rs[n][1] = e;
			n++;
		}
		qsort(rs, n, sizeof(*rs), cmp_u64_pair);
		strbuf_addch(sb, '[');
		for (size_t i = 0; i < n; i++)
			strbuf_addf(sb, "%s%llu-%llu", i ? "," : "", (unsigned long long)rs[i][0],
				    (unsigned long long)rs[i][1]);
		strbuf_addch(sb, ']');
		free(rs);
		return 0;
	}
	if (v.p[0] == '{') {
		char **items = NULL;
		size_t n = 0, alloc = 0;
		const char *p = v.p + 1, *end = v.p + v.n - 1;

		if (v.n < 2 || *end != '}')
			return fail(err, "attributes", text, "'%.*s' is not a set like {a,b}", (int)v.n,
				    v.p);
		while (p < end) {
			const char *comma = memchr(p, ',', (size_t)(end - p));
			struct span item = trim(p, (size_t)((comma ? comma : end) - p));

			p = comma ? comma + 1 : end;
			ALLOC_GROW(items, n + 1, alloc);
			items[n++] = xstrndup(item.p, item.n);
		}
		qsort(items, n, sizeof(*items), cmp_str);
		strbuf_addch(sb, '{');
		for (size_t i = 0; i < n; i++) {
			strbuf_addf(sb, "%s%s", i ? "," : "", items[i]);
			free(items[i]);
		}
		strbuf_addch(sb, '}');
		free(items);
		return 0;
	}
	if (!parse_number(v, &d)) {
		sched_format_scalar(sb, d);
		return 0;
	}
	strbuf_add(sb, v.p, v.n);
	return 0;
}

int sched_attrs_parse(struct sched_attrs *a, const char *text, struct strbuf *err)
{
	struct strbuf val = STRBUF_INIT;
	const char *p = text;
	int ret = 0;

	while (*p && !ret) {
		const char *semi = strchr(p, ';'), *colon;
		size_t n = semi ? (size_t)(semi - p) : strlen(p);
		struct span item = trim(p, n), name, v;

		p += n + (semi ? 1 : 0);
		if (!item.n)
			continue;
		colon = memchr(item.p, ':', item.n);
		if (!colon || memchr(colon + 1, ':', (size_t)(item.p + item.n - colon - 1))) {
			ret = fail(err, "attributes", text, "'%.*s' is not name:value", (int)item.n,
				   item.p);
			break;
		}
		name = trim(item.p, (size_t)(colon - item.p));
		v = trim(colon + 1, (size_t)(item.p + item.n - colon - 1));
		if (!name.n || !v.n) {
			ret = fail(err, "attributes", text, "'%.*s' needs a name and a value",
				   (int)item.n, item.p);
			break;
		}
		for (size_t i = 0; i < a->n && !ret; i++)
			if (span_eq(name, a->v[i].name))
				ret = fail(err, "attributes", text, "attribute '%s' is given twice",
					   a->v[i].name);
		if (ret)
			break;
		strbuf_reset(&val);
		ret = attr_value(&val, v, text, err);
		if (ret)
			break;
		a->v = xrealloc(a->v, st_mult(a->n + 1, sizeof(*a->v)));
		a->v[a->n].name = xstrndup(name.p, name.n);
		a->v[a->n].value = strbuf_detach(&val, NULL);
		a->n++;
	}
	strbuf_release(&val);
	if (ret)
		sched_attrs_release(a);
	return ret;
}
