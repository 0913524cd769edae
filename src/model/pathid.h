/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Marathon path ids ("/prod/web/frontend"): the syntax, resolution of
 * relative ids against a base group, and navigation.
 */
#ifndef PACER_MODEL_PATHID_H
#define PACER_MODEL_PATHID_H

#include <stddef.h>

#include "base/strbuf.h"

/*
 * Resolves id against base (an absolute group id such as "/" or "/prod") and
 * writes the canonical absolute id to out: one leading '/', no trailing '/',
 * empty segments dropped, "." and ".." resolved. Each segment must match
 * Marathon's rule: [a-z0-9] or [a-z0-9][a-z0-9.-]*[a-z0-9] (digits, lowercase
 * letters, dots and dashes; not starting or ending with a dash or dot), where
 * each dot-separated label also starts and ends with a letter or digit
 * ("a.b-c" is valid, "a..b" and "a.-b" are not), or "." / "..".
 * Returns 0, or PACER_EINVALID with a message ("'Foo' is not a valid
 * path segment: ...") appended to why. The root "/" is valid only when
 * allow_root is set. A ".." above the root stays at the root, as in Marathon.
 * Every segment of base is checked as well; out is reset first.
 */
int pathid_resolve(const char *id, const char *base, int allow_root, struct strbuf *out,
		   struct strbuf *why);

/* 1 when seg[0..len) is one valid segment by the rule above ("." and ".." included). */
int pathid_segment_valid(const char *seg, size_t len);

/*
 * Marathon reserves the last segments "restart", "tasks" and "versions" for
 * app ids (they would clash with /v2/apps/{id}/tasks ...). Returns 0, or
 * PACER_EINVALID with Marathon's message appended to why.
 */
int pathid_check_reserved(const char *id, struct strbuf *why);

/* Writes the parent group of an absolute canonical id ("/a/b" -> "/a", "/a" -> "/"). */
void pathid_parent(const char *id, struct strbuf *out);

/* 1 when id equals group or lies below it ("/a/b" is under "/a" and "/"; "/ab" is not under "/a"). */
int pathid_is_under(const char *id, const char *group);

#endif
