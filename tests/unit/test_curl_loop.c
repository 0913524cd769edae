/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of http/curl_loop.h. Each test runs a tiny HTTP server (a libuv TCP
 * server on 127.0.0.1, port 0) and one curl_loop on the same loop. The server
 * answers each request with a fixed body, or holds it unanswered. The loop
 * runs until everything is closed; uv_loop_close() returning 0 proves
 * curl_loop_close closed all its handles, and the sanitizer build checks that
 * nothing leaks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include <cmocka.h>

#include "base/strbuf.h"
#include "base/xalloc.h"
#include "http/curl_loop.h"

#define BODY "hello, curl_loop"

enum server_mode { ANSWER, HOLD_AND_CLOSE, HOLD_AND_REMOVE };

struct fixture {
	uv_loop_t loop;
	uv_tcp_t server;
	uv_tcp_t conn;
	bool conn_open;
	struct strbuf req;
	enum server_mode mode;
	int port;

	struct curl_loop *cl;
	CURL *easy;
	struct strbuf body;
	int ndone;
	CURLcode result;
	long status;
};

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	buf->base = xmalloc(suggested);
	buf->len = suggested;
}

static void on_conn_closed(uv_handle_t *h)
{
}

static void on_written(uv_write_t *w, int status)
{
	struct fixture *f = w->data;

	free(w);
	uv_close((uv_handle_t *)&f->conn, on_conn_closed);
	uv_close((uv_handle_t *)&f->server, NULL);
}

static void stop_client(struct fixture *f)
{
	if (f->mode == HOLD_AND_REMOVE) {
		curl_loop_remove(f->cl, f->easy);
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
		curl_loop_close(f->cl);
	} else {
		/* the transfer is still in the multi: close detaches it */
		curl_loop_close(f->cl);
		curl_easy_cleanup(f->easy);
		f->easy = NULL;
	}
	f->cl = NULL;
	uv_close((uv_handle_t *)&f->conn, on_conn_closed);
	uv_close((uv_handle_t *)&f->server, NULL);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *buf)
{
	struct fixture *f = st->data;

	if (n > 0)
		strbuf_add(&f->req, buf->base, (size_t)n);
	free(buf->base);
	if (n < 0 || !strstr(f->req.buf, "\r\n\r\n"))
		return;
	uv_read_stop(st);
	if (f->mode == ANSWER) {
		static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: " "16"
					     "\r\nConnection: close\r\n\r\n" BODY;
		uv_write_t *w = xcalloc(1, sizeof(*w));
		uv_buf_t b = uv_buf_init((char *)answer, sizeof(answer) - 1);

		w->data = f;
		uv_write(w, st, &b, 1, on_written);
	} else {
		stop_client(f);
	}
}

static void on_connection(uv_stream_t *server, int status)
{
	struct fixture *f = server->data;

	assert_int_equal(status, 0);
	assert_false(f->conn_open);
	uv_tcp_init(&f->loop, &f->conn);
	f->conn.data = f;
	f->conn_open = true;
	assert_int_equal(uv_accept(server, (uv_stream_t *)&f->conn), 0);
	uv_read_start((uv_stream_t *)&f->conn, on_alloc, on_read);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct fixture *f = userdata;

	strbuf_add(&f->body, ptr, size * nmemb);
	return size * nmemb;
}

static void on_done(void *arg, CURL *easy, CURLcode result)
{
	struct fixture *f = arg;

	assert_ptr_equal(easy, f->easy);
	f->ndone++;
	f->result = result;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &f->status);
	/* the handle is ours again: free it, and close the loop from done */
	curl_easy_cleanup(easy);
	f->easy = NULL;
	curl_loop_close(f->cl);
	f->cl = NULL;
}

static void run(struct fixture *f, enum server_mode mode)
{
	struct sockaddr_in addr;
	struct sockaddr_storage bound;
	int len = sizeof(bound);
	char url[64];

	memset(f, 0, sizeof(*f));
	f->mode = mode;
	strbuf_init(&f->req, 0);
	strbuf_init(&f->body, 0);
	assert_int_equal(uv_loop_init(&f->loop), 0);
	uv_tcp_init(&f->loop, &f->server);
	f->server.data = f;
	uv_ip4_addr("127.0.0.1", 0, &addr);
	assert_int_equal(uv_tcp_bind(&f->server, (struct sockaddr *)&addr, 0), 0);
	assert_int_equal(uv_listen((uv_stream_t *)&f->server, 4, on_connection), 0);
	uv_tcp_getsockname(&f->server, (struct sockaddr *)&bound, &len);
	f->port = ntohs(((struct sockaddr_in *)&bound)->sin_port);

	assert_int_equal(curl_loop_new(&f->cl, &f->loop, on_done, f), 0);
	assert_non_null(curl_loop_multi(f->cl));
	f->easy = curl_easy_init();
	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", f->port);
	curl_easy_setopt(f->easy, CURLOPT_URL, url);
	curl_easy_setopt(f->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(f->easy, CURLOPT_TIMEOUT_MS, 10000L);
	curl_easy_setopt(f->easy, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(f->easy, CURLOPT_WRITEDATA, f);
	assert_int_equal(curl_loop_add(f->cl, f->easy), 0);

	uv_run(&f->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&f->loop), 0);
	assert_null(f->cl);
	assert_null(f->easy);
	strbuf_release(&f->req);
}

static void test_transfer(void **state)
{
	struct fixture f;

	run(&f, ANSWER);
	assert_int_equal(f.ndone, 1);
	assert_int_equal(f.result, CURLE_OK);
	assert_int_equal(f.status, 200);
	assert_string_equal(f.body.buf, BODY);
	strbuf_release(&f.body);
}

static void test_close_in_flight(void **state)
{
	struct fixture f;

	run(&f, HOLD_AND_CLOSE);
	assert_int_equal(f.ndone, 0);
	assert_int_equal(f.body.len, 0);
	strbuf_release(&f.body);
}

static void test_remove_in_flight(void **state)
{
	struct fixture f;

	run(&f, HOLD_AND_REMOVE);
	assert_int_equal(f.ndone, 0);
	strbuf_release(&f.body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_transfer),
		cmocka_unit_test(test_close_in_flight),
		cmocka_unit_test(test_remove_in_flight),
	};
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
