/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Parsing JSON from outside input with limits. jansson's own depth limit is a
 * compile-time constant (2048), so the nesting depth is checked first by a
 * linear scan that allocates nothing; then jansson parses.
 */
#ifndef PACER_BASE_JSON_H
#define PACER_BASE_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "base/strbuf.h"

/*
 * Parses buf[0..len) as one JSON value, nesting at most max_depth arrays and
 * objects deep. Returns 0 and *out (caller decrefs), PACER_ETOODEEP, or
 * PACER_EBADJSON; on error a one-line reason ("unexpected token near 'x' at
 * line 1 column 5") is appended to why.
 */
int json_parse_limited(const char *buf, size_t len, size_t max_depth, json_t **out,
		       struct strbuf *why);

/* Compact dump keeping key order, appended to out. */
void json_dump_to(const json_t *v, struct strbuf *out);

#endif
