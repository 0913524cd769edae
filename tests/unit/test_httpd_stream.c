/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the HTTP server's streams (http_respond_stream and friends)
 * through httpd.h. As in test_httpd.c, the server runs in a uv loop on the
 * main thread while a client thread speaks raw HTTP/1.1 over TCP, decodes
 * the chunked bodies itself and records what it got. Server-side writes are
 * driven by a uv timer ("tick"). Assertions run on the main thread after the
 * loop ends; uv_loop_close() returning 0 proves httpd_stop closed its
 * handles, and the sanitizer build proves nothing leaked.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <cmocka.h>

#include "base/error.h"
#include "base/strbuf.h"
#include "http/httpd.h"

#define MAX_SLOTS 512
#define MANY_STREAMS 500
#define FLOOD_BLOCK (64u << 10)
#define FLOOD_MAX (10u << 20)

/* cmocka's asserts must not run on the client thread: abort instead */
#define CLIENT_CHECK(expr)                                                                 \
	do {                                                                               \
		if (!(expr)) {                                                             \
			fprintf(stderr, "client check failed at %s:%d: %s\n", __FILE__,    \
				__LINE__, #expr);                                          \
			abort();                                                           \
		}                                                                          \
	} while (0)

struct fixture;
typedef void client_fn(struct fixture *f);
typedef void tick_fn(struct fixture *f);

/* One stream as its owner (the test's server side) sees it. */
struct slot {
	struct fixture *f;
	struct http_stream *s; /* NULL once closed, aborted or told */
	int closed_calls;
	int writes;
};

struct fixture {
	uv_loop_t loop;
	uv_async_t stop;
	uv_timer_t tick;
	uv_timer_t later;
	struct httpd *h;
	uint16_t port;
	client_fn *client;
	tick_fn *on_tick;
	struct httpd_stats stats; /* taken just before httpd_stop */
	bool fill_at_stop;        /* write to streams 0 and 3 just before httpd_stop */
	/* loop thread */
	struct slot slots[MAX_SLOTS];
	int nslots;
	int ticks;
	int ticks_without_stream; /* ticks that found the stream gone */
	struct http_request *pending;
	size_t written;           /* flood: bytes accepted */
	size_t pending_at_limit;  /* flood: queued when the write was refused */
	int too_big;              /* flood: the refusal's code */
	/* both threads */
	atomic_int streams_ready;
	atomic_int limit_hit;
	/* client thread */
	bool stop_sent;
	struct strbuf heads[MAX_SLOTS];
	struct strbuf bodies[MAX_SLOTS];
	int chunks[MAX_SLOTS];   /* data chunks received */
	bool ended[MAX_SLOTS];   /* the terminating chunk arrived */
	int status[4];
	double ms[4];
	int flags;
};

/* Client side */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int client_socket(uint16_t port, int rcvbuf)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 5};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CLIENT_CHECK(fd >= 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CLIENT_CHECK(connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	return fd;
}

static int client_connect(uint16_t port)
{
	return client_socket(port, 0);
}

static void send_str(int fd, const char *s)
{
	size_t len = strlen(s);

	while (len) {
		ssize_t n = send(fd, s, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		s += n;
		len -= (size_t)n;
	}
}

static bool recv_exact(int fd, char *buf, size_t len)
{
	while (len) {
		ssize_t n = recv(fd, buf, len, 0);

		if (n <= 0)
			return false;
		buf += n;
		len -= (size_t)n;
	}
	return true;
}

/* Reads a response's head (through the blank line) into head; returns the status or 0. */
static int read_head(int fd, struct strbuf *head)
{
	int status = 0;
	char c;

	strbuf_reset(head);
	while (head->len < 4 || strcmp(head->buf + head->len - 4, "\r\n\r\n")) {
		if (recv(fd, &c, 1, 0) != 1)
			return 0;
		strbuf_addch(head, c);
	}
	if (sscanf(head->buf, "HTTP/1.%*d %d", &status) != 1)
		return 0;
	return status;
}

/*
 * Reads one chunk of a chunked body, appending its data to body. Returns its
 * size, 0 for the terminating chunk (its final CRLF read too), -1 when the
 * connection closed or the framing is wrong.
 */
static long read_chunk(int fd, struct strbuf *body)
{
	char line[32], crlf[2];
	size_t n = 0;
	long size;
	char c;

	for (;;) {
		if (recv(fd, &c, 1, 0) != 1)
			return -1;
		if (c == '\n')
			break;
		if (n < sizeof(line) - 1)
			line[n++] = c;
	}
	line[n] = '\0';
	size = strtol(line, NULL, 16);
	if (size < 0 || (size == 0 && line[0] != '0'))
		return -1;
	if (size) {
		strbuf_grow(body, (size_t)size);
		if (!recv_exact(fd, body->buf + body->len, (size_t)size))
			return -1;
		strbuf_setlen(body, body->len + (size_t)size);
	}
	if (!recv_exact(fd, crlf, 2) || memcmp(crlf, "\r\n", 2))
		return -1;
	return size;
}

/* Reads a whole chunked body into slot i of the client's records. */
static void read_stream(struct fixture *f, int fd, int i)
{
	long n;

	while ((n = read_chunk(fd, &f->bodies[i])) > 0)
		f->chunks[i]++;
	f->ended[i] = n == 0;
}

/* One request with a Content-Length answer on its own connection; returns ms taken. */
static double timed_get(struct fixture *f, int *status)
{
	struct strbuf head = STRBUF_INIT;
	double t0 = now_ms();
	int fd = client_connect(f->port);
	const char *cl;
	char buf[256];

	send_str(fd, "GET /v2/info HTTP/1.1\r\nHost: x\r\n\r\n");
	*status = read_head(fd, &head);
	cl = strcasestr(head.buf, "\r\nContent-Length:");
	if (cl) {
		size_t len = strtoul(cl + 17, NULL, 10);

		CLIENT_CHECK(len < sizeof(buf) && recv_exact(fd, buf, len));
	}
	close(fd);
	strbuf_release(&head);
	return now_ms() - t0;
}

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

static void on_closed(struct http_stream *s, void *arg)
{
	struct slot *sl = arg;

	assert_ptr_equal(sl->s, s);
	sl->closed_calls++;
	sl->s = NULL; /* the owner drops its pointer */
}

static struct slot *open_stream(struct fixture *f, struct http_request *r)
{
	struct slot *sl;

	assert_true(f->nslots < MAX_SLOTS);
	sl = &f->slots[f->nslots++];
	sl->f = f;
	http_response_header(r, "X-Stream", "yes");
	sl->s = http_respond_stream(r, 200, "application/x-ndjson", on_closed, sl);
	return sl;
}

static void stream_write_str(struct slot *sl, const char *s)
{
	assert_int_equal(http_stream_write(sl->s, s, strlen(s)), 0);
	sl->writes++;
}

static void on_tick(uv_timer_t *t)
{
	struct fixture *f = t->data;

	f->ticks++;
	f->on_tick(f);
}

static void start_ticks(struct fixture *f, tick_fn *fn, uint64_t ms)
{
	f->on_tick = fn;
	uv_timer_start(&f->tick, on_tick, ms, ms);
}

/* /ndjson: three lines at 20 ms intervals, then the end */
static void tick_three(struct fixture *f)
{
	struct slot *sl = &f->slots[0];
	char line[64];

	if (!sl->s)
		return;
	if (sl->writes == 3) {
		http_stream_close(sl->s);
		sl->s = NULL;
		uv_timer_stop(&f->tick);
		return;
	}
	snprintf(line, sizeof(line), "{\"type\":\"ping\",\"n\":%d}\n", sl->writes + 1);
	stream_write_str(sl, line);
}

/* /pings: a ping every tick while the stream is open */
static void tick_pings(struct fixture *f)
{
	struct slot *sl = &f->slots[0];

	if (!sl->s) {
		f->ticks_without_stream++;
		return;
	}
	stream_write_str(sl, "{\"type\":\"ping\"}\n");
}

/* /flood: 64 KiB per tick to a client that does not read, until refused */
static void tick_flood(struct fixture *f)
{
	static char block[FLOOD_BLOCK];
	struct slot *sl = &f->slots[0];
	int err;

	if (!sl->s || f->written >= FLOOD_MAX) {
		uv_timer_stop(&f->tick);
		return;
	}
	memset(block, 'f', sizeof(block));
	block[sizeof(block) - 1] = '\n';
	err = http_stream_write(sl->s, block, sizeof(block));
	if (!err) {
		f->written += sizeof(block);
		return;
	}
	f->too_big = err;
	f->pending_at_limit = http_stream_pending(sl->s);
	http_stream_abort(sl->s);
	sl->s = NULL;
	uv_timer_stop(&f->tick);
	atomic_store(&f->limit_hit, 1);
}

/* /s: once all streams are open, three lines to each, then the end */
static void tick_many(struct fixture *f)
{
	char line[64];

	if (f->nslots < MANY_STREAMS)
		return;
	for (int i = 0; i < f->nslots; i++) {
		struct slot *sl = &f->slots[i];

		snprintf(line, sizeof(line), "{\"stream\":%d,\"n\":%d}\n", i, sl->writes + 1);
		stream_write_str(sl, line);
		if (sl->writes == 3) {
			http_stream_close(sl->s);
			sl->s = NULL;
		}
	}
	if (f->slots[0].writes == 3)
		uv_timer_stop(&f->tick);
}

static void stream_later(uv_timer_t *t)
{
	struct fixture *f = t->data;
	struct slot *sl = open_stream(f, f->pending);

	f->pending = NULL;
	/* written and closed before MHD has even sent the headers */
	stream_write_str(sl, "{\"later\":true}\n");
	http_stream_close(sl->s);
	sl->s = NULL;
}

static void handler(void *ctx, struct http_request *r)
{
	struct fixture *f = ctx;
	const char *path = http_request_path(r);
	struct strbuf out = STRBUF_INIT;
	size_t len;
	char *body;

	if (!strcmp(path, "/ndjson")) {
		open_stream(f, r);
		start_ticks(f, tick_three, 20);
		return;
	}
	if (!strcmp(path, "/later")) {
		f->pending = r;
		uv_timer_start(&f->later, stream_later, 10, 0);
		return;
	}
	if (!strcmp(path, "/pings")) {
		open_stream(f, r);
		start_ticks(f, tick_pings, 10);
		return;
	}
	if (!strcmp(path, "/flood")) {
		open_stream(f, r);
		start_ticks(f, tick_flood, 1);
		return;
	}
	if (!strcmp(path, "/idle")) {
		open_stream(f, r);
		atomic_fetch_add(&f->streams_ready, 1);
		return;
	}
	if (!strcmp(path, "/s")) {
		open_stream(f, r);
		atomic_fetch_add(&f->streams_ready, 1);
		if (f->nslots == 1)
			start_ticks(f, tick_many, 5);
		return;
	}
	strbuf_addf(&out, "%s %s", http_request_method_name(r), path);
	body = strbuf_detach(&out, &len);
	http_respond(r, 200, "text/plain", body, len);
}

static void on_stop(uv_async_t *a)
{
	struct fixture *f = a->data;

	/* for the stop test: something queued on one stream, a lot on another */
	if (f->fill_at_stop) {
		static char big[256 << 10];

		memset(big, 'b', sizeof(big));
		stream_write_str(&f->slots[0], "{\"bye\":true}\n");
		assert_int_equal(http_stream_write(f->slots[3].s, big, sizeof(big)), 0);
	}
	httpd_get_stats(f->h, &f->stats);
	httpd_stop(f->h);
	uv_close((uv_handle_t *)&f->stop, NULL);
	uv_close((uv_handle_t *)&f->tick, NULL);
	uv_close((uv_handle_t *)&f->later, NULL);
}

static void run_fixture(struct fixture *f, client_fn *client)
{
	struct httpd_config cfg = {.listen = "127.0.0.1:0"};
	pthread_t tid;

	for (int i = 0; i < MAX_SLOTS; i++) {
		strbuf_init(&f->heads[i], 0);
		strbuf_init(&f->bodies[i], 0);
	}
	assert_int_equal(uv_loop_init(&f->loop), 0);
	assert_int_equal(httpd_start(&f->h, &f->loop, &cfg, handler, f), 0);
	f->port = httpd_port(f->h);
	uv_async_init(&f->loop, &f->stop, on_stop);
	f->stop.data = f;
	uv_timer_init(&f->loop, &f->tick);
	f->tick.data = f;
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
	for (int i = 0; i < MAX_SLOTS; i++) {
		strbuf_release(&f->heads[i]);
		strbuf_release(&f->bodies[i]);
	}
}

static bool has_header(const struct strbuf *head, const char *line)
{
	return strcasestr(head->buf, line) != NULL;
}

/* Tests */

static void client_chunks(struct fixture *f)
{
	int fd = client_connect(f->port);
	double t0;

	send_str(fd, "GET /ndjson HTTP/1.1\r\nHost: x\r\n\r\n");
	f->status[0] = read_head(fd, &f->heads[0]);
	/* one chunk per write, as written: 20 ms apart */
	t0 = now_ms();
	read_stream(f, fd, 0);
	f->ms[0] = now_ms() - t0;
	/* the connection is kept alive: a stream answered later, then a plain GET */
	send_str(fd, "GET /later HTTP/1.1\r\nHost: x\r\n\r\n");
	f->status[1] = read_head(fd, &f->heads[1]);
	read_stream(f, fd, 1);
	send_str(fd, "GET /v2/info HTTP/1.1\r\nHost: x\r\n\r\n");
	f->status[2] = read_head(fd, &f->heads[2]);
	CLIENT_CHECK(recv_exact(fd, (char[12]){0}, 12)); /* "GET /v2/info" */
	close(fd);
}

static void test_stream_chunks_and_keepalive(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, client_chunks);
	assert_int_equal(f.status[0], 200);
	assert_true(has_header(&f.heads[0], "\r\nTransfer-Encoding: chunked\r\n"));
	assert_true(has_header(&f.heads[0], "\r\nContent-Type: application/x-ndjson\r\n"));
	assert_true(has_header(&f.heads[0], "\r\nX-Stream: yes\r\n"));
	assert_false(has_header(&f.heads[0], "Connection: close"));
	assert_false(has_header(&f.heads[0], "Content-Length"));
	assert_int_equal(f.chunks[0], 3);
	assert_true(f.ended[0]);
	assert_string_equal(f.bodies[0].buf, "{\"type\":\"ping\",\"n\":1}\n"
					     "{\"type\":\"ping\",\"n\":2}\n"
					     "{\"type\":\"ping\",\"n\":3}\n");
	assert_true(f.ms[0] >= 40); /* delivered over time, not at the end */
	assert_int_equal(f.status[1], 200);
	assert_int_equal(f.chunks[1], 1);
	assert_true(f.ended[1]);
	assert_string_equal(f.bodies[1].buf, "{\"later\":true}\n");
	assert_int_equal(f.status[2], 200);
	assert_int_equal(f.slots[0].closed_calls, 0); /* closed by its owner */
	assert_int_equal(f.slots[1].closed_calls, 0);
	assert_int_equal(f.stats.connections_total, 1);
	assert_int_equal(f.stats.streams_total, 2);
	assert_int_equal(f.stats.streams_open, 0);
	fixture_release(&f);
}

static void client_goes_away(struct fixture *f)
{
	int fd = client_connect(f->port);

	send_str(fd, "GET /pings HTTP/1.1\r\nHost: x\r\n\r\n");
	f->status[0] = read_head(fd, &f->heads[0]);
	CLIENT_CHECK(read_chunk(fd, &f->bodies[0]) > 0);
	close(fd);
	usleep(300 * 1000); /* pings go on; the server notices */
	/* a HEAD answered with a stream gets the headers, then the stream ends */
	fd = client_connect(f->port);
	send_str(fd, "HEAD /pings HTTP/1.1\r\nHost: x\r\n\r\n");
	f->status[1] = read_head(fd, &f->heads[1]);
	usleep(50 * 1000);
	close(fd);
}

static void test_stream_client_goes_away(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, client_goes_away);
	print_message("client gone: noticed after %d pings\n", f.slots[0].writes);
	assert_int_equal(f.status[0], 200);
	assert_string_equal(f.bodies[0].buf, "{\"type\":\"ping\"}\n");
	assert_int_equal(f.slots[0].closed_calls, 1);
	assert_null(f.slots[0].s);
	assert_true(f.slots[0].writes >= 2);
	assert_true(f.slots[0].writes < 10); /* noticed within a few pings */
	assert_true(f.ticks_without_stream > 0);
	assert_int_equal(f.status[1], 200);
	assert_true(has_header(&f.heads[1], "\r\nContent-Type: application/x-ndjson\r\n"));
	assert_int_equal(f.slots[1].closed_calls, 1);
	assert_int_equal(f.stats.streams_open, 0);
	fixture_release(&f);
}

static void client_flood(struct fixture *f)
{
	int fd = client_socket(f->port, 16 << 10);
	double deadline;
	char buf[65536];
	ssize_t n;

	send_str(fd, "GET /flood HTTP/1.1\r\nHost: x\r\n\r\n");
	usleep(20 * 1000);
	/* others are served while the flood grows */
	f->ms[0] = timed_get(f, &f->status[0]);
	deadline = now_ms() + 5000;
	while (!atomic_load(&f->limit_hit) && now_ms() < deadline)
		usleep(1000);
	f->ms[1] = timed_get(f, &f->status[1]);
	/* the aborted stream's connection is closed: reading reaches its end */
	for (;;) {
		n = recv(fd, buf, sizeof(buf), 0);
		if (n <= 0)
			break;
	}
	if (n == 0 || errno == ECONNRESET)
		f->flags |= 1;
	close(fd);
}

static void test_stream_pending_limit(void **state)
{
	struct fixture f = {0};

	(void)state;
	run_fixture(&f, client_flood);
	print_message("flood: %zu bytes accepted, %zu queued at the refusal; GETs took %.1f and %.1f ms\n",
		      f.written, f.pending_at_limit, f.ms[0], f.ms[1]);
	assert_int_equal(atomic_load(&f.limit_hit), 1);
	assert_int_equal(f.too_big, PACER_ETOOBIG);
	assert_true(f.written >= HTTP_STREAM_DEFAULT_LIMIT);
	assert_true(f.written < FLOOD_MAX);
	assert_true(f.pending_at_limit <= HTTP_STREAM_DEFAULT_LIMIT);
	assert_true(f.pending_at_limit + FLOOD_BLOCK > HTTP_STREAM_DEFAULT_LIMIT);
	assert_int_equal(f.status[0], 200);
	assert_int_equal(f.status[1], 200);
	assert_true(f.ms[0] < 200);
	assert_true(f.ms[1] < 200);
	assert_int_equal(f.flags, 1);
	assert_int_equal(f.slots[0].closed_calls, 0); /* aborted by its owner */
	assert_int_equal(f.stats.streams_too_big, 1);
	assert_int_equal(f.stats.streams_open, 0);
	fixture_release(&f);
}

static void client_stop(struct fixture *f)
{
	int fd[4];

	for (int i = 0; i < 4; i++) {
		fd[i] = client_socket(f->port, i == 3 ? 16 << 10 : 0);
		send_str(fd[i], "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n");
		f->status[i] = read_head(fd[i], &f->heads[i]);
	}
	request_stop(f);
	/* the first three end properly; the fourth, not read, is cut */
	for (int i = 0; i < 3; i++)
		read_stream(f, fd[i], i);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
}

static void test_stream_stop(void **state)
{
	struct fixture f = {.fill_at_stop = true};

	(void)state;
	run_fixture(&f, client_stop);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(f.status[i], 200);
		assert_int_equal(f.slots[i].closed_calls, 1);
		assert_null(f.slots[i].s);
	}
	assert_string_equal(f.bodies[0].buf, "{\"bye\":true}\n");
	for (int i = 0; i < 3; i++)
		assert_true(f.ended[i]);
	assert_int_equal(f.stats.streams_open, 4);
	fixture_release(&f);
}

static void client_many(struct fixture *f)
{
	int fd[MANY_STREAMS];

	for (int i = 0; i < MANY_STREAMS; i++) {
		fd[i] = client_connect(f->port);
		send_str(fd[i], "GET /s HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	/* the server answers in its own order: match streams by their content */
	for (int i = 0; i < MANY_STREAMS; i++) {
		f->status[0] += read_head(fd[i], &f->heads[i]) == 200;
		read_stream(f, fd[i], i);
		close(fd[i]);
	}
}

static void test_stream_many(void **state)
{
	struct fixture f = {0};
	bool seen[MANY_STREAMS] = {0};

	(void)state;
	run_fixture(&f, client_many);
	assert_int_equal(f.status[0], MANY_STREAMS);
	assert_int_equal(f.nslots, MANY_STREAMS);
	for (int i = 0; i < MANY_STREAMS; i++) {
		int id = -1;
		char want[256];

		assert_true(f.ended[i]);
		assert_int_equal(sscanf(f.bodies[i].buf, "{\"stream\":%d", &id), 1);
		assert_true(id >= 0 && id < MANY_STREAMS && !seen[id]);
		seen[id] = true;
		snprintf(want, sizeof(want),
			 "{\"stream\":%d,\"n\":1}\n{\"stream\":%d,\"n\":2}\n{\"stream\":%d,\"n\":3}\n",
			 id, id, id);
		assert_string_equal(f.bodies[i].buf, want);
		assert_int_equal(f.slots[id].closed_calls, 0);
	}
	assert_int_equal(f.stats.streams_total, MANY_STREAMS);
	fixture_release(&f);
}

/* httpd_stop straight from the loop with many idle streams: each told once */
static void test_stream_stop_many_idle(void **state)
{
	struct httpd_config cfg = {.listen = "127.0.0.1:0"};
	struct fixture f = {0};
	int fds[64];

	(void)state;
	assert_int_equal(uv_loop_init(&f.loop), 0);
	assert_int_equal(httpd_start(&f.h, &f.loop, &cfg, handler, &f), 0);
	f.port = httpd_port(f.h);
	for (int i = 0; i < 64; i++) {
		fds[i] = client_connect(f.port);
		send_str(fds[i], "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n");
	}
	while (atomic_load(&f.streams_ready) < 64)
		uv_run(&f.loop, UV_RUN_ONCE);
	httpd_stop(f.h);
	uv_run(&f.loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f.loop), 0);
	for (int i = 0; i < 64; i++) {
		assert_int_equal(f.slots[i].closed_calls, 1);
		close(fds[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stream_chunks_and_keepalive),
		cmocka_unit_test(test_stream_client_goes_away),
		cmocka_unit_test(test_stream_pending_limit),
		cmocka_unit_test(test_stream_stop),
		cmocka_unit_test(test_stream_many),
		cmocka_unit_test(test_stream_stop_many_idle),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
