/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of health.h on a real loop: HTTP checks against a libuv server in
 * the test (200, 404, a 1xx ignored, a server that never answers), TCP
 * checks against a closed port, the grace period, the transitions reported
 * (first result, alive changes, maxConsecutiveFailures reached), COMMAND
 * checks in a sandbox with the task's environment, a hanging command
 * abandoned and reaped by health_free, and parsing a launch command's
 * healthChecks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>
#include <cmocka.h>

#include "agent/health.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "base/timeutil.h"

/* ---- a tiny HTTP server: answers every request with `answer` (NULL: never) ---- */

struct server {
	uv_tcp_t listener;
	int port;
	const char *answer;
	int requests;
};

struct conn {
	uv_tcp_t tcp;
	struct server *s;
	uv_write_t wr;
	char buf[1024];
	bool answered;
};

static void conn_closed(uv_handle_t *h)
{
	free(h->data);
}

static void conn_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct conn *c = h->data;

	b->base = c->buf;
	b->len = sizeof(c->buf);
}

static void conn_written(uv_write_t *w, int status)
{
	struct conn *c = w->data;

	uv_close((uv_handle_t *)&c->tcp, conn_closed);
}

static void conn_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
	struct conn *c = st->data;
	uv_buf_t out;

	if (n < 0) {
		if (!uv_is_closing((uv_handle_t *)&c->tcp))
			uv_close((uv_handle_t *)&c->tcp, conn_closed);
		return;
	}
	if (c->answered || !memmem(b->base, (size_t)n, "\r\n\r\n", 4))
		return;
	c->answered = true;
	c->s->requests++;
	assert_non_null(memmem(b->base, (size_t)n, "Connection: close", 17));
	if (!c->s->answer)
		return; /* hangs */
	out = uv_buf_init((char *)c->s->answer, (unsigned)strlen(c->s->answer));
	c->wr.data = c;
	uv_write(&c->wr, st, &out, 1, conn_written);
}

static void on_conn(uv_stream_t *l, int status)
{
	struct server *s = l->data;
	struct conn *c = calloc(1, sizeof(*c));

	c->s = s;
	uv_tcp_init(l->loop, &c->tcp);
	c->tcp.data = c;
	assert_int_equal(uv_accept(l, (uv_stream_t *)&c->tcp), 0);
	uv_read_start((uv_stream_t *)&c->tcp, conn_alloc, conn_read);
}

static void server_start(uv_loop_t *loop, struct server *s, const char *answer)
{
	struct sockaddr_in addr;
	struct sockaddr_storage got;
	int len = sizeof(got);

	memset(s, 0, sizeof(*s));
	s->answer = answer;
	uv_tcp_init(loop, &s->listener);
	s->listener.data = s;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	assert_int_equal(uv_tcp_bind(&s->listener, (struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&s->listener, 16, on_conn), 0);
	uv_tcp_getsockname(&s->listener, (struct sockaddr *)&got, &len);
	s->port = ntohs(((struct sockaddr_in *)&got)->sin_port);
}

/* Closes the server's handles; the checks' own close themselves after health_free. */
static void close_walk(uv_handle_t *h, void *arg)
{
	if (h->type == UV_TCP && !uv_is_closing(h))
		uv_close(h, h->data != arg ? conn_closed : NULL);
}

/* ---- the test's context ---- */

struct ctx {
	uv_loop_t loop;
	struct server srv;
	struct health *h;
	int calls;
	struct health_result last; /* copy of check 0's result at the last call */
	char cause[256];
	uint64_t first_call_ms;
	int stop_after; /* stop the loop after this many calls */
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	assert_int_equal(uv_loop_init(&c->loop), 0);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	health_free(c->h);
	uv_walk(&c->loop, close_walk, &c->srv);
	while (uv_run(&c->loop, UV_RUN_NOWAIT))
		;
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	free(c);
	return 0;
}

static void on_changed(struct health *h, void *data)
{
	struct ctx *c = data;
	const struct health_result *r = health_result(h, 0);

	if (!c->calls++)
		c->first_call_ms = uv_now(&c->loop);
	c->last = *r;
	snprintf(c->cause, sizeof(c->cause), "%s", r->last_failure_cause ? r->last_failure_cause : "");
	c->last.last_failure_cause = NULL;
	if (c->stop_after && c->calls >= c->stop_after)
		uv_stop(&c->loop);
}

static void on_deadline(uv_timer_t *t)
{
	uv_stop(t->loop);
}

/* Runs the loop for at most ms (or until stop_after calls). */
static void run_for(struct ctx *c, unsigned ms)
{
	uv_timer_t t;

	uv_timer_init(&c->loop, &t);
	uv_timer_start(&t, on_deadline, ms, 0);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	uv_close((uv_handle_t *)&t, NULL);
	uv_run(&c->loop, UV_RUN_NOWAIT);
}

static struct health_check_config quick(enum health_protocol p, int port)
{
	struct health_check_config hc = {
		.protocol = p, .path = "/health", .port = port, .interval_ms = 50,
		.timeout_ms = 1000, .max_failures = 3,
	};

	return hc;
}

static void start(struct ctx *c, const struct health_check_config *hc, const char *sandbox,
		  const char *const *env, size_t nenv)
{
	struct health_config cfg = {
		.loop = &c->loop, .sandbox = sandbox ? sandbox : "/tmp",
		.env = env, .nenv = nenv, .checks = hc, .nchecks = 1,
	};

	assert_int_equal(health_new(&c->h, &cfg, on_changed, c), 0);
	health_start(c->h);
}

/* ---- tests ---- */

static void test_http_healthy(void **state)
{
	struct ctx *c = *state;
	struct health_check_config hc;
	struct strbuf sb = STRBUF_INIT;

	server_start(&c->loop, &c->srv, "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n");
	hc = quick(HEALTH_HTTP, c->srv.port);
	start(c, &hc, NULL, NULL, 0);
	run_for(c, 500);
	/* a transition only: the first result, then nothing while it stays healthy */
	assert_int_equal(c->calls, 1);
	assert_true(c->srv.requests >= 3);
	assert_true(c->last.alive);
	assert_int_equal(c->last.consecutive_failures, 0);
	assert_true(c->last.first_success > 0);
	assert_true(health_healthy(c->h));
	health_results_json(c->h, &sb);
	assert_non_null(strstr(sb.buf, "\"healthy\":true,\"healthResults\":[{\"alive\":true,"
				       "\"consecutiveFailures\":0,\"firstSuccess\":\""));
	assert_non_null(strstr(sb.buf, "\"lastFailure\":null,\"lastFailureCause\":null}]"));
	strbuf_release(&sb);
}

static void test_http_404_and_max_failures(void **state)
{
	struct ctx *c = *state;
	struct health_check_config hc;

	server_start(&c->loop, &c->srv, "HTTP/1.1 404 Not Found\r\n\r\n");
	hc = quick(HEALTH_HTTP, c->srv.port);
	hc.max_failures = 2;
	start(c, &hc, NULL, NULL, 0);
	run_for(c, 600);
	/* the first result (unhealthy), then maxConsecutiveFailures reached; no more */
	assert_int_equal(c->calls, 2);
	assert_true(c->srv.requests >= 5);
	assert_false(c->last.alive);
	assert_int_equal(c->last.consecutive_failures, 2);
	assert_string_equal(c->cause, "HTTP status 404");
	assert_int_equal(c->last.first_success, 0);
	assert_false(health_healthy(c->h));
}

static void test_http_1xx_ignored(void **state)
{
	struct ctx *c = *state;
	struct health_check_config hc;

	server_start(&c->loop, &c->srv, "HTTP/1.1 100 Continue\r\n\r\n");
	hc = quick(HEALTH_HTTP, c->srv.port);
	hc.ignore_1xx = true;
	start(c, &hc, NULL, NULL, 0);
	run_for(c, 300);
	assert_true(c->srv.requests >= 3);
	assert_int_equal(c->calls, 0);
	assert_false(health_result(c->h, 0)->known);
}

static void test_http_timeout(void **state)
{
	struct ctx *c = *state;
	struct health_check_config hc;

	server_start(&c->loop, &c->srv, NULL);
	hc = quick(HEALTH_HTTP, c->srv.port);
	hc.timeout_ms = 100;
	hc.interval_ms = 20;
	hc.max_failures = 0;
	start(c, &hc, NULL, NULL, 0);
	run_for(c, 450);
	assert_int_equal(c->calls, 1);
	assert_string_equal(c->cause, "no answer within 0.1 s");
	assert_true(health_result(c->h, 0)->consecutive_failures >= 3);
	/* one check in flight at a time: a new one only once the hanging one is abandoned */
	assert_in_range(c->srv.requests, 3, 5);
}

static void test_tcp_and_grace(void **state)
{
	struct ctx *c = *state;
	struct health_check_config hc;
	int port;

	/* a port nothing listens on: bind, note, close */
	server_start(&c->loop, &c->srv, NULL);
	port = c->srv.port;
	uv_close((uv_handle_t *)&c->srv.listener, NULL);
	uv_run(&c->loop, UV_RUN_NOWAIT);
	hc = quick(HEALTH_TCP, port);
	hc.grace_ms = 300;
	c->stop_after = 1;
	start(c, &hc, NULL, NULL, 0);
	run_for(c, 2000);
	assert_int_equal(c->calls, 1);
	assert_non_null(strstr(c->cause, "cannot connect to 127.0.0.1:"));
	assert_int_equal(c->last.consecutive_failures, 1);
}

static void test_grace_delays_first_failure(void **state)
{
	struct ctx *c = *state;
	struct health_check_config hc;
	uint64_t t0;

	server_start(&c->loop, &c->srv, "HTTP/1.0 500 Oops\r\n\r\n");
	hc = quick(HEALTH_HTTP, c->srv.port);
	hc.grace_ms = 300;
	c->stop_after = 1;
	uv_update_time(&c->loop);
	t0 = uv_now(&c->loop);
	start(c, &hc, NULL, NULL, 0);
	run_for(c, 2000);
	assert_int_equal(c->calls, 1);
	assert_true(c->first_call_ms - t0 >= 300);
	assert_true(c->srv.requests >= 4); /* failures inside the grace period did not count */
	assert_int_equal(c->last.consecutive_failures, 1);
	assert_string_equal(c->cause, "HTTP status 500");
}

static void test_command(void **state)
{
	struct ctx *c = *state;
	char dir[] = "/tmp/test_agent_health.XXXXXX", path[64];
	const char *env[] = {"HC_VALUE=42"};
	struct health_check_config hc = quick(HEALTH_COMMAND, 0);
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/marker", dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	hc.command = "test -f marker && test \"$HC_VALUE\" = 42 && echo noise";
	c->stop_after = 1;
	start(c, &hc, dir, env, 1);
	run_for(c, 3000);
	assert_int_equal(c->calls, 1);
	assert_true(c->last.alive);
	health_free(c->h);
	c->h = NULL;
	c->calls = 0;

	hc.command = "exit 3";
	start(c, &hc, dir, env, 1);
	run_for(c, 3000);
	assert_int_equal(c->calls, 1);
	assert_false(c->last.alive);
	assert_string_equal(c->cause, "command exited with status 3");
	health_free(c->h);
	c->h = NULL;
	unlink(path);
	rmdir(dir);
}

static void test_command_hanging_abandoned(void **state)
{
	struct ctx *c = *state;
	struct health_check_config hc = quick(HEALTH_COMMAND, 0);
	uint64_t t0 = time_mono_ns();

	hc.command = "sleep 30";
	hc.timeout_ms = 150;
	c->stop_after = 1;
	start(c, &hc, NULL, NULL, 0);
	run_for(c, 3000);
	assert_int_equal(c->calls, 1);
	assert_string_equal(c->cause, "no answer within 0.15 s");
	/* the next one is in flight now: health_free kills it, and the loop reaps it */
	health_free(c->h);
	c->h = NULL;
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_true(time_mono_ns() - t0 < 5000000000ull);
}

static void test_parse(void **state)
{
	struct env_port ports[] = {{31001, 80, "http"}, {31002, 0, NULL}};
	struct health_check_config *v;
	struct strbuf why = STRBUF_INIT;
	json_t *arr = json_loads(
		"[{\"protocol\":\"MESOS_HTTP\",\"path\":\"/h\",\"portIndex\":1,"
		"\"gracePeriodSeconds\":5,\"intervalSeconds\":2,\"timeoutSeconds\":1,"
		"\"maxConsecutiveFailures\":0,\"delaySeconds\":0},"
		"{\"protocol\":\"TCP\",\"port\":8080},"
		"{\"protocol\":\"COMMAND\",\"command\":{\"value\":\"true\"}}]", 0, NULL);
	size_t n;

	(void)state;
	assert_int_equal(health_checks_parse(arr, ports, 2, &v, &n, &why), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].protocol, HEALTH_HTTP);
	assert_string_equal(v[0].path, "/h");
	assert_int_equal(v[0].port, 31002);
	assert_int_equal(v[0].grace_ms, 5000);
	assert_int_equal(v[0].interval_ms, 2000);
	assert_int_equal(v[0].timeout_ms, 1000);
	assert_int_equal(v[0].delay_ms, 0);
	assert_int_equal(v[0].max_failures, 0);
	assert_int_equal(v[1].protocol, HEALTH_TCP);
	assert_int_equal(v[1].port, 8080);
	assert_int_equal(v[1].delay_ms, 15000); /* Marathon's defaults */
	assert_int_equal(v[1].max_failures, 3);
	assert_int_equal(v[2].protocol, HEALTH_COMMAND);
	assert_string_equal(v[2].command, "true");
	free(v);
	json_decref(arr);

	arr = json_loads("[{\"protocol\":\"FTP\"}]", 0, NULL);
	assert_int_equal(health_checks_parse(arr, ports, 2, &v, &n, &why), PACER_EBADREQUEST);
	assert_string_equal(why.buf, "healthChecks[0] is not a health check");
	assert_null(v);
	json_decref(arr);
	assert_int_equal(health_checks_parse(NULL, ports, 2, &v, &n, &why), 0);
	assert_int_equal(n, 0);
	strbuf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_http_healthy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_404_and_max_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_1xx_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_http_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tcp_and_grace, setup, teardown),
		cmocka_unit_test_setup_teardown(test_grace_delays_first_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_hanging_abandoned, setup, teardown),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
