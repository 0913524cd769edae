/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of src/base: strbuf, timestamps, hash map, JSON limits, histograms, errors. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/histogram.h"
#include "base/json.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

static void strbuf_basics(void **state)
{
	struct strbuf sb = STRBUF_INIT;
	char *s;
	size_t len;

	assert_string_equal(sb.buf, "");
	strbuf_addstr(&sb, "abc");
	strbuf_addch(&sb, 'd');
	strbuf_addf(&sb, "%d-%s", 42, "x");
	assert_string_equal(sb.buf, "abcd42-x");
	assert_int_equal(sb.len, 8);
	for (int i = 0; i < 1000; i++)
		strbuf_addf(&sb, "%04d", i);
	assert_int_equal(sb.len, 8 + 4000);
	assert_int_equal(sb.buf[sb.len], '\0');
	strbuf_setlen(&sb, 3);
	assert_string_equal(sb.buf, "abc");
	s = strbuf_detach(&sb, &len);
	assert_int_equal(len, 3);
	assert_string_equal(s, "abc");
	assert_string_equal(sb.buf, "");
	free(s);
	strbuf_release(&sb);
}

static void strbuf_json_escapes(void **state)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_add_json_str(&sb, "a\"b\\c\n\t\x01");
	assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\n\\t\\u0001\"");
	strbuf_reset(&sb);
	strbuf_add_json_strn(&sb, "x\0y", 3);
	assert_string_equal(sb.buf, "\"x\\u0000y\"");
	strbuf_reset(&sb);
	strbuf_add_json_double(&sb, 0.1);
	strbuf_addch(&sb, ' ');
	strbuf_add_json_double(&sb, 1.15);
	strbuf_addch(&sb, ' ');
	strbuf_add_json_double(&sb, 128);
	strbuf_addch(&sb, ' ');
	strbuf_add_json_int(&sb, INT64_MIN);
	assert_string_equal(sb.buf, "0.1 1.15 128 -9223372036854775808");
	strbuf_release(&sb);
}

static void iso_round_trip(void **state)
{
	char out[TIME_ISO_LEN];
	int64_t ms;

	time_format_iso(1443194028343, out);
	assert_string_equal(out, "2015-09-25T15:13:48.343Z");
	assert_int_equal(time_parse_iso(out, &ms), 0);
	assert_int_equal(ms, 1443194028343);
	assert_int_equal(time_parse_iso("2015-09-25T17:13:48.343+02:00", &ms), 0);
	assert_int_equal(ms, 1443194028343);
	assert_int_equal(time_parse_iso("2015-09-25T15:13:48Z", &ms), 0);
	assert_int_equal(ms, 1443194028000);
	assert_int_equal(time_parse_iso("2015-09-25T15:13:48.343999Z", &ms), 0);
	assert_int_equal(ms, 1443194028343);
	assert_int_equal(time_parse_iso("2016-02-29T00:00:00.000Z", &ms), 0);
	time_format_iso(0, out);
	assert_string_equal(out, "1970-01-01T00:00:00.000Z");
}

static void iso_rejects(void **state)
{
	static const char *const bad[] = {
		"", "2015", "2015-09-25", "2015-09-25T13:53:48", "2015-13-01T00:00:00Z",
		"2015-02-29T00:00:00Z", "2015-09-25T24:00:00Z", "2015-09-25T13:53:48.Z",
		"2015-09-25T13:53:48.1Zjunk", "abcd-09-25T13:53:48Z", "2015-09-25 13:53:48Z",
	};
	int64_t ms;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(time_parse_iso(bad[i], &ms), PACER_EBADREQUEST);
}

static void hashmap_ops(void **state)
{
	struct hashmap m;
	char keys[5000][16];
	const char *k;
	void *v;
	size_t n = 0;

	hashmap_init(&m);
	assert_null(hashmap_get(&m, "x"));
	for (int i = 0; i < 5000; i++) {
		snprintf(keys[i], sizeof(keys[i]), "/app-%d", i);
		assert_null(hashmap_put(&m, keys[i], (void *)(intptr_t)(i + 1)));
	}
	assert_int_equal(hashmap_count(&m), 5000);
	for (int i = 0; i < 5000; i++)
		assert_int_equal((intptr_t)hashmap_get(&m, keys[i]), i + 1);
	for (int i = 0; i < 5000; i += 2)
		assert_int_equal((intptr_t)hashmap_remove(&m, keys[i]), i + 1);
	assert_int_equal(hashmap_count(&m), 2500);
	for (int i = 0; i < 5000; i++)
		assert_int_equal((intptr_t)hashmap_get(&m, keys[i]), i % 2 ? i + 1 : 0);
	/* re-adding after removals reuses tombstones without losing entries */
	for (int i = 0; i < 5000; i += 2)
		hashmap_put(&m, keys[i], (void *)(intptr_t)(i + 1));
	assert_int_equal(hashmap_count(&m), 5000);
	assert_int_equal((intptr_t)hashmap_put(&m, keys[7], (void *)99), 8);
	for (size_t i = 0; hashmap_next(&m, &i, &k, &v);)
		n++;
	assert_int_equal(n, 5000);
	hashmap_release(&m);
}

static void json_limits(void **state)
{
	struct strbuf why = STRBUF_INIT;
	json_t *v = NULL;
	char deep[300];

	assert_int_equal(json_parse_limited("{\"a\":[1,2]}", 11, 2, &v, &why), 0);
	json_decref(v);
	assert_int_equal(json_parse_limited("{\"a\":[[1]]}", 11, 2, &v, &why), PACER_ETOODEEP);
	assert_non_null(strstr(why.buf, "limit of 2"));
	strbuf_reset(&why);
	/* brackets inside strings do not count */
	assert_int_equal(json_parse_limited("{\"a\":\"[[[[\\\"[[\"}", 16, 1, &v, &why), 0);
	json_decref(v);
	memset(deep, '[', sizeof(deep));
	assert_int_equal(json_parse_limited(deep, sizeof(deep), 64, &v, &why), PACER_ETOODEEP);
	strbuf_reset(&why);
	assert_int_equal(json_parse_limited("{\"a\":", 5, 64, &v, &why), PACER_EBADJSON);
	assert_non_null(strstr(why.buf, "line 1"));
	strbuf_reset(&why);
	assert_int_equal(json_parse_limited("", 0, 64, &v, &why), PACER_EBADJSON);
	strbuf_release(&why);
}

static void histogram_buckets(void **state)
{
	struct histogram h = {0};

	for (int i = 0; i < 99; i++)
		histogram_record(&h, 40000); /* 40 us: first bucket */
	histogram_record(&h, 2000000000ull); /* 2 s: +Inf */
	assert_int_equal(h.count, 100);
	assert_int_equal(h.counts[0], 99);
	assert_int_equal(h.counts[HISTOGRAM_BUCKETS], 1);
	assert_int_equal(histogram_quantile_ns(&h, 0.5), 50000);
	assert_true(histogram_quantile_ns(&h, 1.0) == UINT64_MAX);
}

static void error_table(void **state)
{
	assert_int_equal(pacer_err_http_status(PACER_ENOTFOUND), 404);
	assert_int_equal(pacer_err_http_status(PACER_EINVALID), 422);
	assert_int_equal(pacer_err_http_status(PACER_ETOOBIG), 413);
	assert_int_equal(pacer_err_http_status(-2), 500);
	assert_string_equal(pacer_strerror(-2), "No such file or directory");
	assert_string_equal(pacer_err_name(PACER_ECONFLICT), "PACER_ECONFLICT");
}

static void size_arith(void **state)
{
	assert_int_equal(st_add(2, 3), 5);
	assert_int_equal(st_mult(4, 5), 20);
	char *p = xmemdupz("ab\0c", 4);
	assert_memory_equal(p, "ab\0c\0", 5);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(strbuf_basics),   cmocka_unit_test(strbuf_json_escapes),
		cmocka_unit_test(iso_round_trip),  cmocka_unit_test(iso_rejects),
		cmocka_unit_test(hashmap_ops),     cmocka_unit_test(json_limits),
		cmocka_unit_test(histogram_buckets), cmocka_unit_test(error_table),
		cmocka_unit_test(size_arith),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
