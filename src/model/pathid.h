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
 * letters, dots and dashes; not starting or ending with a dash or dot).
 * Returns 0, or PACER_EINVALID with a message ("'Foo' is not a valid
 * path segment: ...") appended to why. The root "/" is valid only when
 * allow_root is set.
 */
int pathid_resolve(const char *id, const char *base, int allow_root, struct strbuf *out,
		   struct strbuf *why);

/* Writes the parent group of an absolute canonical id ("/a/b" -> "/a", "/a" -> "/"). */
void pathid_parent(const char *id, struct strbuf *out);

/* 1 when id equals group or lies below it ("/a/b" is under "/a" and "/"; "/ab" is not under "/a"). */
int pathid_is_under(const char *id, const char *group);

#endif
