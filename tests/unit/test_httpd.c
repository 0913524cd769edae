/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the HTTP server through httpd.h. Each test runs the server on
 * port 0 in a uv loop on the main thread while a client thread speaks raw
 * HTTP/1.1 over TCP, records what it got, and wakes the loop (uv_async) to
 * stop the server. Assertions run on the main thread after the loop ends;
 * uv_loop_close() returning 0 proves httpd_stop closed all its handles.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "base/strbuf.h"
#include "base/xalloc.h"
#include "http/httpd.h"

#define MAX_REPLIES 8

/* cmocka's asserts must not run on the client thread: abort instead */
#define CLIENT_CHECK(expr)                                                                 \
	do {                                                                               \
		if (!(expr)) {                                                             \
			fprintf(stderr, "client check failed at %s:%d: %s\n", __FILE__,    \
				__LINE__, #expr);                                          \
			abort();                                                           \
		}                                                                          \
	} while (0)

struct reply {
	int status; /* 0: none (closed or timed out) */
	struct strbuf head;
	struct strbuf body;
};

struct fixture;
typedef void client_fn(struct fixture *f);

struct fixture {
	uv_loop_t loop;
	uv_async_t stop;
	uv_timer_t later; /* the asynchronous answer */
	struct httpd *h;
	uint16_t port;
	client_fn *client;
	struct httpd_stats stats; /* taken just before httpd_stop */
	/* loop thread */
	int handler_calls;
	struct http_request *pending;
	char last_path[256];
	char last_method[16];
	/* client thread */
	bool stop_sent;
	struct reply replies[MAX_REPLIES];
	size_t nreplies;
	int flags; /* test-specific observations */
};

/* Client side */

static int client_connect(uint16_t port)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CLIENT_CHECK(fd >= 0);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CLIENT_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static void send_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* the server closed: the reply tells */
		p += n;
		len -= (size_t)n;
	}
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* Waits up to ms for fd to become readable; true if it did. */
static bool readable_within(int fd, int ms)
{
	struct pollfd pfd = {.fd = fd, .events = POLLIN};

	return poll(&pfd, 1, ms) == 1;
}

/*
 * Reads exactly one response (headers, then Content-Length bytes of body
 * unless head_only) into rep, so that a pipelined next one stays in the
 * socket. Returns the status, or 0 on close/timeout.
 */
static int read_reply(int fd, struct reply *rep, bool head_only)
{
	char buf[65536];
	const char *cl;
	size_t body_len = 0;

	strbuf_init(&rep->head, 0);
	strbuf_init(&rep->body, 0);
	rep->status = 0;
	while (rep->head.len < 4 || strcmp(rep->head.buf + rep->head.len - 4, "\r\n\r\n")) {
		if (recv(fd, buf, 1, 0) != 1)
			return 0;
		strbuf_addch(&rep->head, buf[0]);
	}
	strbuf_setlen(&rep->head, rep->head.len - 2);
	if (sscanf(rep->head.buf, "HTTP/1.%*d %d", &rep->status) != 1)
		return rep->status = 0;
	cl = strcasestr(rep->head.buf, "\r\nContent-Length:");
	if (cl && !head_only)
		body_len = strtoul(cl + 17, NULL, 10);
	while (rep->body.len < body_len) {
		size_t want = body_len - rep->body.len;
		ssize_t n = recv(fd, buf, want < sizeof(buf) ? want : sizeof(buf), 0);

		if (n <= 0)
			break;
		strbuf_add(&rep->body, buf, (size_t)n);
	}
	return rep->status;
}

static struct reply *next_reply(struct fixture *f)
{
	CLIENT_CHECK(f->nreplies < MAX_REPLIES);
	return &f->replies[f->nreplies++];
}

/* One request on a new connection; the reply goes to the next slot. */
static int roundtrip(struct fixture *f, const char *request)
{
	int fd = client_connect(f->port);
	int status;

	send_str(fd, request);
	status = read_reply(fd, next_reply(f), false);
	close(fd);
	return status;
}

/* Wakes the loop to stop the server; once only (the handle closes then). */
static void request_stop(struct fixture *f)
{
	if (f->stop_sent)
		return;
	f->stop_sent = true;
	uv_async_send(&f->stop);
}

static void *client_main(void *arg)
{
	struct fixture *f = arg;

	f->client(f);
	request_stop(f);
	return NULL;
}

/* Server side */

static void answer_later(uv_timer_t *t)
{
	struct fixture *f = t->data;
	struct http_request *r = f->pending;

	f->pending = NULL;
	http_response_header(r, "X-Later", "10ms");
	http_respond(r, 202, "text/plain", xstrdup("later"), 5);
}

static void collect_query(void *arg, const char *value)
{
	struct strbuf *sb = arg;

	strbuf_addf(sb, "[%s]", value);
}

static void handler(void *ctx, struct http_request *r)
{
	struct fixture *f = ctx;
	const char *path = http_request_path(r);
	struct strbuf out = STRBUF_INIT;
	size_t len;
	const char *body;

	f->handler_calls++;
	snprintf(f->last_path, sizeof(f->last_path), "%s", path);
	snprintf(f->last_method, sizeof(f->last_method), "%s", http_request_method_name(r));
	assert_true(http_request_start_ns(r) > 0);

	if (!strcmp(path, "/async")) {
		f->pending = r;
		uv_timer_start(&f->later, answer_later, 10, 0);
		return;
	}
	if (!strcmp(path, "/never")) {
		f->pending = r; /* httpd_stop answers it */
		return;
	}
	if (!strcmp(path, "/echo")) {
		body = http_request_body(r, &len);
		assert_int_equal(body[len], '\0');
		http_respond(r, 200, "application/octet-stream", xmemdupz(body, len), len);
		return;
	}
	if (!strcmp(path, "/query")) {
		const char *a = http_request_query(r, "a");
		const char *flag = http_request_query(r, "flag");
		size_t n;

		strbuf_addf(&out, "a=%s flag=%s missing=%s embed=", a ? a : "(null)",
			    flag ? flag : "(null)",
			    http_request_query(r, "missing") ? "yes" : "no");
		n = http_request_query_each(r, "embed", collect_query, &out);
		strbuf_addf(&out, " n=%zu", n);
	} else if (!strcmp(path, "/headers")) {
		const char *v = http_request_header(r, "x-pacer-test");

		strbuf_addf(&out, "x=%s none=%s", v ? v : "(null)",
			    http_request_header(r, "X-Absent") ? "yes" : "no");
		http_response_header(r, "X-Reply", "one");
		http_response_header(r, "Location", "/v2/apps/x");
	} else {
		strbuf_addf(&out, "%s %s", http_request_method_name(r), path);
	}
	body = strbuf_detach(&out, &len);
	http_respond(r, 200, "text/plain", (char *)body, len);
}

static void on_stop(uv_async_t *a)
{
	struct fixture *f = a->data;

	httpd_get_stats(f->h, &f->stats);
	httpd_stop(f->h);
	uv_close((uv_handle_t *)&f->stop, NULL);
	uv_close((uv_handle_t *)&f->later, NULL);
}

static void run_fixture(struct fixture *f, const struct httpd_config *cfg, client_fn *client)
{
	struct httpd_config def = {.listen = "127.0.0.1:0"};
	pthread_t tid;

	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(httpd_start(&f->h, &f->loop, cfg ? cfg : &def, handler, f), 0);
	f->port = httpd_port(f->h);
	assert_true(f->port > 0);
	uv_async_init(&f->loop, &f->stop, on_stop);
	f->stop.data = f;
	uv_timer_init(&f->loop, &f->later);
	f->later.data = f;
	f->client = client;
	assert_int_equal(pthread_create(&tid, NULL, client_main, f), 0);
	assert_int_equal(uv_run(&f->loop, UV_RUN_DEFAULT), 0);
	pthread_join(tid, NULL);
	assert_int_equal(uv_loop_close(&f->loop), 0);
}

static void fixture_release(struct fixture *f)
{
	for (size_t i = 0; i < f->nreplies; i++) {
		strbuf_release(&f->replies[i].head);
		strbuf_release(&f->replies[i].body);
	}
}

static bool has_header(const struct reply *rep, const char *line)
{
	return strcasestr(rep->head.buf, line) != NULL;
}

/* Tests */

static void client_sync_get(struct fixture *f)
{
	roundtrip(f, "GET /v2/info HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_sync_get(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_sync_get);
	assert_int_equal(f.replies[0].status, 200);
	assert_string_equal(f.replies[0].body.buf, "GET /v2/info");
	assert_true(has_header(&f.replies[0], "\r\nContent-Type: text/plain\r\n"));
	assert_int_equal(f.handler_calls, 1);
	assert_int_equal(f.stats.requests_total, 1);
	assert_int_equal(f.stats.connections_total, 1);
	fixture_release(&f);
}

static void client_post(struct fixture *f)
{
	size_t n = 1 << 20;
	struct strbuf req = STRBUF_INIT;
	int fd;

	strbuf_addf(&req, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: %zu\r\n\r\n", n);
	for (size_t i = 0; i < n; i++)
		strbuf_addch(&req, 'a' + (int)(i % 26));
	fd = client_connect(f->port);
	send_all(fd, req.buf, req.len);
	read_reply(fd, next_reply(f), false);
	/* and a small one with bytes a C string would stop at */
	send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n");
	send_all(fd, "a\0b\r\n", 5);
	read_reply(fd, next_reply(f), false);
	close(fd);
	strbuf_release(&req);
}

static void test_post_body(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_post);
	assert_int_equal(f.replies[0].status, 200);
	assert_int_equal(f.replies[0].body.len, 1 << 20);
	for (size_t i = 0; i < f.replies[0].body.len; i++)
		if (f.replies[0].body.buf[i] != 'a' + (int)(i % 26))
			fail_msg("body differs at byte %zu", i);
	assert_int_equal(f.replies[1].status, 200);
	assert_int_equal(f.replies[1].body.len, 5);
	assert_memory_equal(f.replies[1].body.buf, "a\0b\r\n", 5);
	assert_string_equal(f.last_method, "POST");
	fixture_release(&f);
}

static void client_async(struct fixture *f)
{
	int fd = client_connect(f->port);

	/* two answers on one connection: the resumed one must keep it alive */
	send_str(fd, "GET /async HTTP/1.1\r\nHost: x\r\n\r\n");
	read_reply(fd, next_reply(f), false);
	send_str(fd, "GET /async HTTP/1.1\r\nHost: x\r\n\r\n");
	read_reply(fd, next_reply(f), false);
	close(fd);
}

static void test_async_answer(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_async);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(f.replies[i].status, 202);
		assert_string_equal(f.replies[i].body.buf, "later");
		assert_true(has_header(&f.replies[i], "\r\nX-Later: 10ms\r\n"));
		assert_false(has_header(&f.replies[i], "Connection: close"));
	}
	assert_int_equal(f.handler_calls, 2);
	assert_int_equal(f.stats.connections_total, 1);
	fixture_release(&f);
}

static void client_too_large(struct fixture *f)
{
	char body[2048];
	int fd = client_connect(f->port);

	memset(body, 'x', sizeof(body));
	send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2048\r\n\r\n");
	send_all(fd, body, sizeof(body));
	read_reply(fd, next_reply(f), false);
	/* a body announced over the limit is answered at once and its connection
	 * closed (the body is never read); a new connection is served */
	close(fd);
	fd = client_connect(f->port);
	send_str(fd, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n");
	send_all(fd, body, 1024);
	read_reply(fd, next_reply(f), false);
	close(fd);
}

static void test_body_too_large(void **state)
{
	struct httpd_config cfg = {.listen = "127.0.0.1:0", .max_body_bytes = 1024};
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, &cfg, client_too_large);
	assert_int_equal(f.replies[0].status, 413);
	assert_string_equal(f.replies[0].body.buf,
			    "{\"message\":\"request body is larger than the limit of 1024 bytes\"}");
	assert_true(has_header(&f.replies[0], "\r\nContent-Type: application/json\r\n"));
	assert_int_equal(f.replies[1].status, 200);
	assert_int_equal(f.replies[1].body.len, 1024);
	assert_int_equal(f.handler_calls, 1); /* only the second */
	assert_int_equal(f.stats.rejected_body_too_large, 1);
	assert_int_equal(f.stats.connections_total, 2);
	fixture_release(&f);
}

static void client_big_headers(struct fixture *f)
{
	struct strbuf req = STRBUF_INIT;

	strbuf_addstr(&req, "GET /v2/info HTTP/1.1\r\nHost: x\r\nX-Big: ");
	for (int i = 0; i < 40000; i++)
		strbuf_addch(&req, 'h');
	strbuf_addstr(&req, "\r\n\r\n");
	roundtrip(f, req.buf);
	strbuf_release(&req);
	/* the server still serves others */
	roundtrip(f, "GET /v2/info HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_headers_too_large(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_big_headers); /* default limit: 32 KiB */
	assert_int_equal(f.replies[0].status, 431);
	assert_int_equal(f.replies[1].status, 200);
	assert_int_equal(f.handler_calls, 1);
	fixture_release(&f);
}

static void client_keepalive(struct fixture *f)
{
	int fd = client_connect(f->port);

	send_str(fd, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
	read_reply(fd, next_reply(f), false);
	send_str(fd, "GET /v2/leader HTTP/1.1\r\nHost: x\r\n\r\n");
	read_reply(fd, next_reply(f), false);
	/* pipelined: two requests in one write */
	send_str(fd, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nHEAD /b HTTP/1.1\r\nHost: x\r\n\r\n");
	read_reply(fd, next_reply(f), false);
	read_reply(fd, next_reply(f), true);
	close(fd);
}

static void test_keepalive(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_keepalive);
	assert_int_equal(f.replies[0].status, 200);
	assert_string_equal(f.replies[0].body.buf, "GET /ping");
	assert_false(has_header(&f.replies[0], "Connection: close"));
	assert_int_equal(f.replies[1].status, 200);
	assert_string_equal(f.replies[1].body.buf, "GET /v2/leader");
	assert_string_equal(f.replies[2].body.buf, "GET /a");
	assert_int_equal(f.replies[3].status, 200);
	assert_int_equal(f.replies[3].body.len, 0); /* HEAD: GET's headers, no body */
	assert_true(has_header(&f.replies[3], "\r\nContent-Length: 7\r\n"));
	assert_string_equal(f.last_method, "HEAD");
	assert_int_equal(f.stats.requests_total, 4);
	assert_int_equal(f.stats.connections_total, 1);
	fixture_release(&f);
}

static void client_query(struct fixture *f)
{
	roundtrip(f, "GET /query?a=x%20y%26z&embed=apps.tasks&flag&embed=apps.counts"
		     "&embed=%2Fv2%2Fapps HTTP/1.1\r\nHost: x\r\n\r\n");
	roundtrip(f, "GET /query HTTP/1.1\r\nHost: x\r\n\r\n");
	roundtrip(f, "GET /query?A=1&a= HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_query(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_query);
	assert_int_equal(f.replies[0].status, 200);
	assert_string_equal(f.replies[0].body.buf,
			    "a=x y&z flag= missing=no embed=[apps.tasks][apps.counts][/v2/apps] n=3");
	assert_string_equal(f.replies[1].body.buf,
			    "a=(null) flag=(null) missing=no embed= n=0");
	/* names are case-sensitive; an empty value is "" */
	assert_string_equal(f.replies[2].body.buf, "a= flag=(null) missing=no embed= n=0");
	fixture_release(&f);
}

static void client_headers(struct fixture *f)
{
	roundtrip(f, "GET /headers HTTP/1.1\r\nHost: x\r\nX-Pacer-Test: hello world\r\n\r\n");
	roundtrip(f, "GET /v2/apps/a%2Fb/x%20y HTTP/1.1\r\nHost: x\r\n\r\n");
	roundtrip(f, "DELETE /v2/apps/x HTTP/1.1\r\nHost: x\r\n\r\n");
	roundtrip(f, "BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n");
}

static void test_headers_and_path(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_headers);
	assert_int_equal(f.replies[0].status, 200);
	assert_string_equal(f.replies[0].body.buf, "x=hello world none=no");
	assert_true(has_header(&f.replies[0], "\r\nX-Reply: one\r\n"));
	assert_true(has_header(&f.replies[0], "\r\nLocation: /v2/apps/x\r\n"));
	/* the path arrives percent-decoded */
	assert_string_equal(f.replies[1].body.buf, "GET /v2/apps/a/b/x y");
	assert_string_equal(f.replies[2].body.buf, "DELETE /v2/apps/x");
	assert_string_equal(f.replies[3].body.buf, "BREW /pot");
	fixture_release(&f);
}

static void client_half_open(struct fixture *f)
{
	int slow_head = client_connect(f->port);
	int slow_body = client_connect(f->port);

	send_str(slow_head, "GET /v2/info HTTP/1.1\r\nHost: x\r\nX-Half: ");
	send_str(slow_body, "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc");
	roundtrip(f, "GET /ping HTTP/1.1\r\nHost: x\r\n\r\n");
	/* the stalled ones got nothing and are still open */
	if (!readable_within(slow_head, 50) && !readable_within(slow_body, 0))
		f->flags |= 1;
	close(slow_head);
	close(slow_body);
}

static void test_half_open_does_not_block(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_half_open);
	assert_int_equal(f.replies[0].status, 200);
	assert_string_equal(f.replies[0].body.buf, "GET /ping");
	assert_int_equal(f.flags, 1);
	assert_int_equal(f.handler_calls, 1);
	fixture_release(&f);
}

static void client_idle_timeout(struct fixture *f)
{
	int fd = client_connect(f->port);
	char c;

	send_str(fd, "GET /v2/info HTTP/1.1\r\nHost: x\r\n");
	/* closed by the server after about one second, without an answer */
	if (readable_within(fd, 3000) && recv(fd, &c, 1, 0) <= 0)
		f->flags |= 1;
	close(fd);
}

static void test_idle_timeout(void **state)
{
	struct httpd_config cfg = {.listen = "127.0.0.1:0", .idle_timeout_s = 1};
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, &cfg, client_idle_timeout);
	assert_int_equal(f.flags, 1);
	assert_int_equal(f.handler_calls, 0);
	fixture_release(&f);
}

static void client_conn_limit(struct fixture *f)
{
	int a = client_connect(f->port), b = client_connect(f->port), c;
	char ch;

	/* a and b hold both slots (answered, kept alive) */
	send_str(a, "GET /a HTTP/1.1\r\nHost: x\r\n\r\n");
	read_reply(a, next_reply(f), false);
	send_str(b, "GET /b HTTP/1.1\r\nHost: x\r\n\r\n");
	read_reply(b, next_reply(f), false);
	c = client_connect(f->port);
	send_str(c, "GET /c HTTP/1.1\r\nHost: x\r\n\r\n");
	/* the third is closed without an answer */
	if (readable_within(c, 2000) && recv(c, &ch, 1, 0) <= 0)
		f->flags |= 1;
	close(c);
	close(a);
	usleep(100 * 1000);
	/* a's slot is free again */
	roundtrip(f, "GET /d HTTP/1.1\r\nHost: x\r\n\r\n");
	close(b);
}

static void test_connection_limit(void **state)
{
	struct httpd_config cfg = {.listen = "127.0.0.1:0", .max_connections = 2};
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, &cfg, client_conn_limit);
	assert_int_equal(f.replies[0].status, 200);
	assert_int_equal(f.replies[1].status, 200);
	assert_int_equal(f.flags, 1);
	assert_int_equal(f.replies[2].status, 200);
	assert_string_equal(f.replies[2].body.buf, "GET /d");
	assert_int_equal(f.handler_calls, 3);
	assert_int_equal(f.stats.connections_refused, 1);
	fixture_release(&f);
}

static void client_stop_pending(struct fixture *f)
{
	int fd = client_connect(f->port);

	send_str(fd, "GET /never HTTP/1.1\r\nHost: x\r\n\r\n");
	usleep(100 * 1000); /* the handler has run and not answered */
	request_stop(f);
	read_reply(fd, next_reply(f), false);
	close(fd);
}

static void test_stop_answers_pending(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, NULL, client_stop_pending);
	assert_int_equal(f.replies[0].status, 503);
	assert_string_equal(f.replies[0].body.buf, "{\"message\":\"shutting down\"}");
	assert_int_equal(f.handler_calls, 1);
	assert_int_equal(f.stats.connections_open, 1);
	fixture_release(&f);
}

static void test_listen_addresses(void **state)
{
	static const char *const good[] = {"127.0.0.1:0", "[::1]:0", ":0", "*:0", "localhost:0"};
	static const char *const bad[] = {"8080", "127.0.0.1:", "127.0.0.1:70000", "[::1:0",
					  "127.0.0.1:8x", "not an address:0"};
	uv_loop_t loop;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct httpd_config cfg = {.listen = good[i]};
		struct httpd *h;

		assert_int_equal(httpd_start(&h, &loop, &cfg, handler, NULL), 0);
		assert_true(httpd_port(h) > 0);
		httpd_stop(h);
		uv_run(&loop, UV_RUN_DEFAULT); /* the close callbacks free h */
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct httpd_config cfg = {.listen = bad[i]};
		struct httpd *h = NULL;

		assert_true(httpd_start(&h, &loop, &cfg, handler, NULL) < 0);
		assert_null(h);
	}
	assert_int_equal(uv_loop_close(&loop), 0);
}

static void test_bind_conflict_and_quiesce(void **state)
{
	struct httpd_config cfg = {.listen = "127.0.0.1:0"};
	struct httpd *h, *h2 = NULL;
	char listen[32];
	uv_loop_t loop;
	int fd;

	(void)state;
	assert_int_equal(uv_loop_init(&loop), 0);
	assert_int_equal(httpd_start(&h, &loop, &cfg, handler, NULL), 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", httpd_port(h));
	cfg.listen = listen;
	assert_int_equal(httpd_start(&h2, &loop, &cfg, handler, NULL), -EADDRINUSE);
	assert_null(h2);

	httpd_quiesce(h);
	{
		struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(httpd_port(h))};

		sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		fd = socket(AF_INET, SOCK_STREAM, 0);
		assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), -1);
		assert_int_equal(errno, ECONNREFUSED);
		close(fd);
	}
	httpd_quiesce(h); /* twice is harmless */
	httpd_stop(h);
	uv_run(&loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sync_get),
		cmocka_unit_test(test_post_body),
		cmocka_unit_test(test_async_answer),
		cmocka_unit_test(test_body_too_large),
		cmocka_unit_test(test_headers_too_large),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_query),
		cmocka_unit_test(test_headers_and_path),
		cmocka_unit_test(test_half_open_does_not_block),
		cmocka_unit_test(test_idle_timeout),
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_stop_answers_pending),
		cmocka_unit_test(test_listen_addresses),
		cmocka_unit_test(test_bind_conflict_and_quiesce),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
