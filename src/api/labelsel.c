/* SPDX-License-Identifier: Apache-2.0 */
/* Label selector parsing and matching; see labelsel.h. */
#include "api/labelsel.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

enum sel_op { SEL_EXISTS, SEL_EQ, SEL_NE, SEL_IN, SEL_NOTIN };

struct selector {
	enum sel_op op;
	char *key;
	char **values;
	size_t nvalues, alloc_values;
};

struct labelsel {
	struct selector *v;
	size_t n, alloc;
};

struct parser {
	const char *p;
	struct strbuf *why;
};

static void skip_ws(struct parser *ps)
{
	while (*ps->p == ' ' || *ps->p == '\t')
		ps->p++;
}

static int is_plain(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* A key or value: plain characters and backslash escapes. */
static int parse_word(struct parser *ps, struct strbuf *out)
{
	strbuf_reset(out);
	for (;;) {
		char c = *ps->p;

		if (c == '\\' && ps->p[1]) {
			strbuf_addch(out, ps->p[1]);
			ps->p += 2;
		} else if (c && is_plain(c)) {
			strbuf_addch(out, c);
			ps->p++;
		} else {
			break;
		}
	}
	return out->len ? 0 : -1;
}

static int fail(struct parser *ps, const char *what)
{
	strbuf_addf(ps->why, "invalid label selector: %s at '%s'", what, ps->p);
	return PACER_EBADREQUEST;
}

static int parse_selector(struct parser *ps, struct selector *sel)
{
	struct strbuf w = STRBUF_INIT;
	int err = 0;

	skip_ws(ps);
	if (parse_word(ps, &w)) {
		err = fail(ps, "expected a label name");
		goto out;
	}
	sel->key = xstrdup(w.buf);
	skip_ws(ps);
	if (!strncmp(ps->p, "==", 2) || !strncmp(ps->p, "!=", 2)) {
		sel->op = ps->p[0] == '=' ? SEL_EQ : SEL_NE;
		ps->p += 2;
		skip_ws(ps);
		ALLOC_GROW(sel->values, 1, sel->alloc_values);
		parse_word(ps, &w); /* an empty value is allowed: label==  */
		sel->values[sel->nvalues++] = xstrdup(w.buf);
	} else if (!strncmp(ps->p, "in", 2) || !strncmp(ps->p, "notin", 5)) {
		sel->op = ps->p[0] == 'i' ? SEL_IN : SEL_NOTIN;
		ps->p += sel->op == SEL_IN ? 2 : 5;
		skip_ws(ps);
		if (*ps->p != '(') {
			err = fail(ps, "expected '('");
			goto out;
		}
		ps->p++;
		for (;;) {
			skip_ws(ps);
			if (parse_word(ps, &w)) {
				err = fail(ps, "expected a value");
				goto out;
			}
			ALLOC_GROW(sel->values, sel->nvalues + 1, sel->alloc_values);
			sel->values[sel->nvalues++] = xstrdup(w.buf);
			skip_ws(ps);
			if (*ps->p == ',') {
				ps->p++;
				continue;
			}
			if (*ps->p == ')') {
				ps->p++;
				break;
			}
			err = fail(ps, "expected ',' or ')'");
			goto out;
		}
	} else {
		sel->op = SEL_EXISTS;
	}
	skip_ws(ps);
	if (*ps->p && *ps->p != ',')
		err = fail(ps, "unexpected character");
out:
	strbuf_release(&w);
	return err;
}

int labelsel_parse(const char *query, struct labelsel **out, struct strbuf *why)
{
	struct labelsel *s = xcalloc(1, sizeof(*s));
	struct parser ps = {.p = query, .why = why};

	for (;;) {
		int err;

		ALLOC_GROW(s->v, s->n + 1, s->alloc);
		memset(&s->v[s->n], 0, sizeof(s->v[0]));
		s->n++;
		err = parse_selector(&ps, &s->v[s->n - 1]);
		if (err) {
			labelsel_free(s);
			return err;
		}
		if (!*ps.p)
			break;
		ps.p++; /* ',' */
	}
	*out = s;
	return 0;
}

void labelsel_free(struct labelsel *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].key);
		for (size_t j = 0; j < s->v[i].nvalues; j++)
			free(s->v[i].values[j]);
		free(s->v[i].values);
	}
	free(s->v);
	free(s);
}

static int in_values(const struct selector *sel, const char *v)
{
	for (size_t i = 0; i < sel->nvalues; i++)
		if (!strcmp(sel->values[i], v))
			return 1;
	return 0;
}

int labelsel_match(const struct labelsel *s, const json_t *labels)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct selector *sel = &s->v[i];
		const char *v = json_string_value(json_object_get(labels, sel->key));

		if (!v)
			return 0;
		switch (sel->op) {
		case SEL_EXISTS:
			break;
		case SEL_EQ:
		case SEL_IN:
			if (!in_values(sel, v))
				return 0;
			break;
		case SEL_NE:
		case SEL_NOTIN:
			if (in_values(sel, v))
				return 0;
			break;
		}
	}
	return 1;
}
