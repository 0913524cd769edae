/* SPDX-License-Identifier: Apache-2.0 */
/* Limited JSON parsing; see json.h. */
#include "base/json.h"

#include "base/error.h"

static int depth_exceeds(const char *buf, size_t len, size_t max_depth)
{
	size_t depth = 0;
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (in_str) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"') {
			in_str = 1;
		} else if (c == '[' || c == '{') {
			if (++depth > max_depth)
				return 1;
		} else if ((c == ']' || c == '}') && depth) {
			depth--;
		}
	}
	return 0;
}

int json_parse_limited(const char *buf, size_t len, size_t max_depth, json_t **out,
		       struct strbuf *why)
{
	json_error_t jerr;
	json_t *v;

	if (depth_exceeds(buf, len, max_depth)) {
		strbuf_addf(why, "JSON nesting is deeper than the limit of %zu", max_depth);
		return PACER_ETOODEEP;
	}
	v = json_loadb(buf, len, JSON_DECODE_ANY, &jerr);
	if (!v) {
		strbuf_addf(why, "%s at line %d column %d", jerr.text, jerr.line, jerr.column);
		return PACER_EBADJSON;
	}
	*out = v;
	return 0;
}

static int dump_cb(const char *buf, size_t size, void *data)
{
	strbuf_add(data, buf, size);
	return 0;
}

void json_dump_to(const json_t *v, struct strbuf *out)
{
	json_dump_callback(v, dump_cb, out,
			   JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
}
