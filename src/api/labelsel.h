/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Marathon's label selector queries (GET /v2/apps?label=...): comma-separated
 * selectors that must all match:
 *   key                  the label exists
 *   key==value, key!=value
 *   key in (a, b), key notin (a, b)
 * Keys and values are [-A-Za-z0-9_.]; any other character must be escaped
 * with a backslash.
 */
#ifndef PACER_API_LABELSEL_H
#define PACER_API_LABELSEL_H

#include <jansson.h>

#include "base/strbuf.h"

struct labelsel;

/* Returns 0 and *out, or PACER_EBADREQUEST with the reason appended to why. */
int labelsel_parse(const char *query, struct labelsel **out, struct strbuf *why);
void labelsel_free(struct labelsel *s);
/* 1 when labels (a JSON object of strings) satisfies every selector. */
int labelsel_match(const struct labelsel *s, const json_t *labels);

#endif
