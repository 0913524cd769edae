/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Marathon path ids: syntax of a segment, resolution of relative ids, and
 * navigation; see pathid.h. Marathon's segment rule, from its PathId:
 *   (([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])
 * that is, dot-separated labels of lowercase letters, digits and dashes, each
 * label starting and ending with a letter or digit; "." and ".." are the
 * relative references.
 */
#include "model/pathid.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/xalloc.h"

#define SEGMENT_RULE                                                                       \
	"must fully match regular expression "                                             \
	"'^(([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])\\.)*([a-z0-9]|[a-z0-9][a-z0-9\\-]*[a-z0-9])" \
	"|(\\.|\\.\\.)$'"

static const char *const reserved_names[] = {"restart", "tasks", "versions"};

static int is_alnum_lower(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* One label of a segment: [a-z0-9] or [a-z0-9][a-z0-9-]*[a-z0-9]. */
static int label_valid(const char *s, size_t len)
{
	if (!len || !is_alnum_lower(s[0]) || !is_alnum_lower(s[len - 1]))
		return 0;
	for (size_t i = 1; i + 1 < len; i++) {
		if (!is_alnum_lower(s[i]) && s[i] != '-')
			return 0;
	}
	return 1;
}

int pathid_segment_valid(const char *seg, size_t len)
{
	size_t start = 0;

	if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
		return 1;
	if (!len)
		return 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || seg[i] == '.') {
			if (!label_valid(seg + start, i - start))
				return 0;
			start = i + 1;
		}
	}
	return 1;
}

struct segs {
	const char **p;
	size_t *len;
	size_t n, alloc, alloc_len;
};

static void segs_push(struct segs *s, const char *p, size_t len)
{
	ALLOC_GROW(s->p, s->n + 1, s->alloc);
	ALLOC_GROW(s->len, s->n + 1, s->alloc_len);
	s->p[s->n] = p;
	s->len[s->n] = len;
	s->n++;
}

/* Splits str on '/', checks each non-empty segment and applies "." and "..". */
static int segs_add_path(struct segs *s, const char *str, struct strbuf *why)
{
	const char *p = str;

	while (*p) {
		const char *end = strchr(p, '/');
		size_t len = end ? (size_t)(end - p) : strlen(p);

		if (len) {
			if (!pathid_segment_valid(p, len)) {
				strbuf_addch(why, '\'');
				strbuf_add(why, p, len);
				strbuf_addstr(why, "' is not a valid path segment: " SEGMENT_RULE);
				return PACER_EINVALID;
			}
			if (len == 2 && p[0] == '.' && p[1] == '.') {
				if (s->n)
					s->n--;
			} else if (!(len == 1 && p[0] == '.')) {
				segs_push(s, p, len);
			}
		}
		p += len;
		if (*p == '/')
			p++;
	}
	return 0;
}

int pathid_resolve(const char *id, const char *base, int allow_root, struct strbuf *out,
		   struct strbuf *why)
{
	struct segs s = {0};
	int err = 0;

	if (id[0] != '/' && base)
		err = segs_add_path(&s, base, why);
	if (!err)
		err = segs_add_path(&s, id, why);
	if (!err && !s.n && !allow_root) {
		strbuf_addstr(why, "Path must contain at least one path element");
		err = PACER_EINVALID;
	}
	if (!err) {
		strbuf_reset(out);
		for (size_t i = 0; i < s.n; i++) {
			strbuf_addch(out, '/');
			strbuf_add(out, s.p[i], s.len[i]);
		}
		if (!s.n)
			strbuf_addch(out, '/');
	}
	free(s.p);
	free(s.len);
	return err;
}

int pathid_check_reserved(const char *id, struct strbuf *why)
{
	const char *last = strrchr(id, '/');

	last = last ? last + 1 : id;
	for (size_t i = 0; i < sizeof(reserved_names) / sizeof(reserved_names[0]); i++) {
		if (!strcmp(last, reserved_names[i])) {
			strbuf_addstr(why, "must not end with any of the following reserved "
					   "keywords: restart, tasks, versions");
			return PACER_EINVALID;
		}
	}
	return 0;
}

void pathid_parent(const char *id, struct strbuf *out)
{
	const char *last = strrchr(id, '/');

	strbuf_reset(out);
	if (!last || last == id)
		strbuf_addch(out, '/');
	else
		strbuf_add(out, id, (size_t)(last - id));
}

int pathid_is_under(const char *id, const char *group)
{
	size_t glen = strlen(group);

	while (glen && group[glen - 1] == '/')
		glen--;
	if (!glen)
		return id[0] == '/';
	if (strncmp(id, group, glen))
		return 0;
	return id[glen] == '\0' || id[glen] == '/';
}
