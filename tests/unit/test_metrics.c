/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of request metrics (api/metrics.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "api/metrics.h"

static void counts_and_exposition(void **state)
{
	struct metrics m;
	struct strbuf out = STRBUF_INIT;
	unsigned apps, ping;

	metrics_init(&m);
	apps = metrics_route(&m, "/v2/apps");
	ping = metrics_route(&m, "/ping");
	assert_int_equal(metrics_route(&m, "/v2/apps"), apps);
	assert_int_not_equal(apps, ping);
	metrics_record(&m, apps, 201, 1000000);
	metrics_record(&m, apps, 201, 3000000);
	metrics_record(&m, apps, 422, 100000);
	metrics_record(&m, ping, 200, 10000);
	metrics_record(&m, ping, 299, 10000); /* an unusual status still counts */
	assert_int_equal(metrics_count_class(&m, 2), 3);
	assert_int_equal(metrics_count_class(&m, 4), 1);
	metrics_prometheus(&m, &out);
	assert_non_null(strstr(out.buf, "pacer_http_requests_total{route=\"/v2/apps\",status=\"201\"} 2\n"));
	assert_non_null(strstr(out.buf, "pacer_http_requests_total{route=\"/v2/apps\",status=\"422\"} 1\n"));
	assert_non_null(strstr(out.buf, "pacer_http_requests_total{route=\"/ping\",status=\"other\"} 1\n"));
	assert_non_null(strstr(out.buf, "pacer_http_request_duration_seconds_count{route=\"/v2/apps\"} 3\n"));
	assert_non_null(strstr(out.buf, "pacer_http_request_duration_seconds_bucket{route=\"/v2/apps\",le=\"+Inf\"} 3\n"));
	assert_non_null(strstr(out.buf, "pacer_http_request_duration_seconds_sum{route=\"/v2/apps\"} 0.004100000\n"));
	/* a route with no requests has no series */
	assert_null(strstr(out.buf, "route=\"other\""));
	strbuf_release(&out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(counts_and_exposition)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
