/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server; see httpd.h. libmicrohttpd (MHD) runs in external-epoll
 * mode: its epoll fd sits in a uv_poll, MHD_run() is called when it is
 * readable, and a uv_timer is re-armed from MHD_get_timeout() after every
 * run. MHD never blocks and never starts a thread.
 *
 * A request (struct http_request) is created on the access handler's first
 * call and freed only in MHD's completion callback, whatever happened in
 * between: answered, suspended, client gone, server stopped. The response is
 * always queued on a later call of the access handler than the first (MHD
 * 0.9.75 answers "Connection: close" to responses queued on the first call).
 */
#include "http/httpd.h"
#include "http/listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

#define DEFAULT_MAX_BODY (16u << 20)
#define DEFAULT_MAX_HEADER (32u << 10)
#define DEFAULT_IDLE_TIMEOUT_S 60
#define DEFAULT_MAX_CONNECTIONS 4096
/* MHD_run() calls spent at httpd_stop() to flush the 503 answers */
#define STOP_FLUSH_RUNS 8
/* MHD's block size for stream responses (advisory: chunked bodies are built
 * in the connection's own buffer; only HTTP/1.0 bodies use this one) */
#define STREAM_BLOCK_SIZE 4096
/* a drained stream queue keeps at most this much memory */
#define STREAM_KEEP_ALLOC (16u << 10)

enum request_state {
	REQ_READING,    /* headers in, body arriving */
	REQ_IN_HANDLER, /* the handler runs; http_respond stores the answer */
	REQ_SUSPENDED,  /* handler returned without answering; connection suspended */
	REQ_RESUMED,    /* answered while suspended; queued on the next call */
	REQ_QUEUED,     /* handed to MHD; waiting for completion */
};

struct http_header {
	char *name, *value;
};

struct http_request {
	struct httpd *_h;
	struct MHD_Connection *_conn;
	enum request_state _state;
	enum http_method method;
	const char *method_name; /* MHD's, valid until completion */
	const char *path;        /* MHD's, percent-decoded, valid until completion */
	uint64_t start_ns;
	unsigned tag;            /* the owner's, for metrics */
	char peer[48];           /* filled on first use */
	struct strbuf body;
	bool _body_too_large;
	struct http_header *_headers; /* response headers, owned */
	size_t _headers_nr, _headers_alloc;
	struct MHD_Response *_resp; /* set by http_respond until queued */
	int _status;
	struct http_request *_prev, *_next; /* in h->suspended while REQ_SUSPENDED */
	struct http_stream *_stream; /* the answer is this stream; freed with r */
};

/*
 * A stream belongs to its request (freed with it, in request_free) and is
 * lent to its owner until close, abort or the closed callback. Its queue is
 * _q.buf[_q_off .. _q.len); MHD's reader takes bytes from the front.
 */
struct http_stream {
	struct http_request *_req;
	http_stream_closed_fn *_closed;
	void *_arg;
	struct strbuf _q;
	size_t _q_off;
	size_t max_pending;
	bool _suspended; /* the reader found the queue empty and suspended the connection */
	bool _ending;    /* send the queue, then end the body */
	bool _aborted;   /* drop the queue, close the connection */
	bool _released;  /* the owner has let go: closed, aborted or told */
	struct http_stream *_prev, *_next; /* in h->_streams until freed */
};

struct httpd {
	uv_loop_t *loop;
	struct MHD_Daemon *_daemon;
	uv_poll_t _poll;
	uv_timer_t _timer;
	int _open_handles; /* h is freed when the last uv handle has closed */
	uint16_t port;
	size_t max_body_bytes;
	unsigned max_connections;
	http_handler_fn *handler;
	void *ctx;
	struct httpd_stats stats;
	struct http_request *_suspended; /* list head */
	struct http_stream *_streams;    /* list head: every stream not yet freed */
	bool _in_run;   /* inside MHD_run: MHD must not be re-entered */
	bool _need_run; /* a connection was resumed during the current run */
	bool _quiesced;
	bool _stopping;
};

static void httpd_run(struct httpd *h);
static void on_timer(uv_timer_t *t);

/* Requests */

static enum http_method method_from_name(const char *name)
{
	static const struct {
		const char *name;
		enum http_method method;
	} map[] = {
		{"GET", HTTP_GET},       {"HEAD", HTTP_HEAD},     {"POST", HTTP_POST},
		{"PUT", HTTP_PUT},       {"PATCH", HTTP_PATCH},   {"DELETE", HTTP_DELETE},
		{"OPTIONS", HTTP_OPTIONS},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(name, map[i].name))
			return map[i].method;
	return HTTP_OTHER;
}

static void suspended_unlink(struct httpd *h, struct http_request *r)
{
	if (r->_prev)
		r->_prev->_next = r->_next;
	else
		h->_suspended = r->_next;
	if (r->_next)
		r->_next->_prev = r->_prev;
	r->_prev = r->_next = NULL;
}

static void stream_free(struct httpd *h, struct http_stream *s);

static void request_free(struct http_request *r)
{
	if (r->_state == REQ_SUSPENDED)
		suspended_unlink(r->_h, r);
	if (r->_stream)
		stream_free(r->_h, r->_stream);
	if (r->_resp)
		MHD_destroy_response(r->_resp);
	for (size_t i = 0; i < r->_headers_nr; i++) {
		free(r->_headers[i].name);
		free(r->_headers[i].value);
	}
	free(r->_headers);
	strbuf_release(&r->body);
	free(r);
}

enum http_method http_request_method(const struct http_request *r)
{
	return r->method;
}

const char *http_request_method_name(const struct http_request *r)
{
	return r->method_name;
}

const char *http_request_path(const struct http_request *r)
{
	return r->path;
}

struct query_iter {
	const char *name;
	http_query_fn *fn;
	void *arg;
	const char *first;
	size_t count;
};

static enum MHD_Result query_iter_cb(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct query_iter *it = cls;

	(void)kind;
	if (strcmp(key, it->name))
		return MHD_YES;
	if (!value)
		value = "";
	it->count++;
	if (it->fn) {
		it->fn(it->arg, value);
		return MHD_YES;
	}
	it->first = value;
	return MHD_NO; /* the first is enough */
}

/*
 * Query names compare case-sensitively, as Marathon's do (MHD's own lookup
 * ignores case), hence a scan rather than MHD_lookup_connection_value().
 */
const char *http_request_query(const struct http_request *r, const char *name)
{
	struct query_iter it = {.name = name};

	MHD_get_connection_values(r->_conn, MHD_GET_ARGUMENT_KIND, query_iter_cb, &it);
	return it.first;
}

size_t http_request_query_each(const struct http_request *r, const char *name, http_query_fn *fn,
			       void *arg)
{
	struct query_iter it = {.name = name, .fn = fn, .arg = arg};

	MHD_get_connection_values(r->_conn, MHD_GET_ARGUMENT_KIND, query_iter_cb, &it);
	return it.count;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->_conn, MHD_HEADER_KIND, name);
}

const char *http_request_body(const struct http_request *r, size_t *len)
{
	if (len)
		*len = r->body.len;
	return r->body.buf;
}

const char *http_request_peer(struct http_request *r)
{
	const union MHD_ConnectionInfo *ci;
	const struct sockaddr *sa;

	if (r->peer[0])
		return r->peer;
	ci = MHD_get_connection_info(r->_conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	sa = ci ? ci->client_addr : NULL;
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, r->peer,
			  sizeof(r->peer));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, r->peer,
			  sizeof(r->peer));
	return r->peer;
}

uint64_t http_request_start_ns(const struct http_request *r)
{
	return r->start_ns;
}

void http_response_header(struct http_request *r, const char *name, const char *value)
{
	PACER_ASSERT(r->_state == REQ_IN_HANDLER || r->_state == REQ_SUSPENDED);
	ALLOC_GROW(r->_headers, r->_headers_nr + 1, r->_headers_alloc);
	r->_headers[r->_headers_nr].name = xstrdup(name);
	r->_headers[r->_headers_nr].value = xstrdup(value);
	r->_headers_nr++;
}

static struct MHD_Response *response_new(char *body, size_t len)
{
	struct MHD_Response *resp;

	if (body && len) {
		resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
	} else {
		free(body);
		resp = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	}
	PACER_ASSERT(resp);
	return resp;
}

/*
 * Resumes a suspended connection. MHD picks resumed connections up at the
 * start of its next run; make that run happen soon. Inside a run (another
 * request's handler answered this one) MHD must not be re-entered:
 * httpd_run schedules it after.
 */
static void resume(struct httpd *h, struct MHD_Connection *conn)
{
	MHD_resume_connection(conn);
	if (h->_in_run)
		h->_need_run = true;
	else if (!h->_stopping)
		uv_timer_start(&h->_timer, on_timer, 0, 0);
}

/* Answers r with resp (taking its reference); see http_respond. */
static void respond_with(struct http_request *r, int status, const char *content_type,
			 struct MHD_Response *resp)
{
	struct httpd *h = r->_h;

	PACER_ASSERT(r->_state == REQ_IN_HANDLER || r->_state == REQ_SUSPENDED);
	if (content_type)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	for (size_t i = 0; i < r->_headers_nr; i++)
		if (MHD_add_response_header(resp, r->_headers[i].name, r->_headers[i].value) != MHD_YES)
			log_warn("cannot add response header '%s' to '%s': invalid name or value",
				 r->_headers[i].name, r->path);
	r->_resp = resp;
	r->_status = status;
	if (r->_state == REQ_IN_HANDLER)
		return; /* access_handler queues it when the handler returns */

	suspended_unlink(h, r);
	r->_state = REQ_RESUMED;
	resume(h, r->_conn);
}

void http_respond(struct http_request *r, int status, const char *content_type, char *body,
		  size_t len)
{
	respond_with(r, status, content_type, response_new(body, len));
}

struct http_blob {
	unsigned refs;
	size_t len;
	char *data;
};

struct http_blob *http_blob_new(char *data, size_t len)
{
	struct http_blob *b = xmalloc(sizeof(*b));

	b->refs = 1;
	b->len = len;
	b->data = data;
	return b;
}

void http_blob_unref(struct http_blob *b)
{
	if (b && !--b->refs) {
		free(b->data);
		free(b);
	}
}

static void blob_release(void *cls)
{
	http_blob_unref(cls);
}

void http_respond_blob(struct http_request *r, int status, const char *content_type,
		       struct http_blob *b)
{
	struct MHD_Response *resp;

	b->refs++;
	resp = MHD_create_response_from_buffer_with_free_callback_cls(b->len, b->data,
								      blob_release, b);
	PACER_ASSERT(resp);
	respond_with(r, status, content_type, resp);
}

/* Streams */

static size_t stream_queued(const struct http_stream *s)
{
	return s->_q.len - s->_q_off;
}

static void stream_wake(struct http_stream *s)
{
	s->_suspended = false;
	resume(s->_req->_h, s->_req->_conn);
}

/*
 * MHD's content reader. With nothing queued it suspends the connection
 * until the next write, close or abort: returning 0 alone would make MHD
 * call again on every run, a busy loop. Suspending from a content reader is
 * allowed by MHD's documentation.
 */
static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_stream *s = cls;
	size_t n = stream_queued(s);

	(void)pos;
	if (s->_aborted)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (!n) {
		if (s->_ending)
			return MHD_CONTENT_READER_END_OF_STREAM;
		s->_suspended = true;
		MHD_suspend_connection(s->_req->_conn);
		return 0;
	}
	if (n > max)
		n = max;
	memcpy(buf, s->_q.buf + s->_q_off, n);
	s->_q_off += n;
	if (s->_q_off == s->_q.len) {
		/* drained: a burst's large buffer is not kept for an idle stream */
		if (s->_q.alloc > STREAM_KEEP_ALLOC)
			strbuf_release(&s->_q);
		else
			strbuf_reset(&s->_q);
		s->_q_off = 0;
	}
	return (ssize_t)n;
}

static void stream_free(struct httpd *h, struct http_stream *s)
{
	if (s->_prev)
		s->_prev->_next = s->_next;
	else
		h->_streams = s->_next;
	if (s->_next)
		s->_next->_prev = s->_prev;
	h->stats.streams_open--;
	strbuf_release(&s->_q);
	free(s);
}

struct http_stream *http_respond_stream(struct http_request *r, int status,
					const char *content_type, http_stream_closed_fn *closed,
					void *arg)
{
	struct httpd *h = r->_h;
	const union MHD_ConnectionInfo *info;
	struct MHD_Response *resp;
	struct http_stream *s;
	int one = 1;

	PACER_ASSERT(closed && !r->_stream && !h->_stopping);
	s = xcalloc(1, sizeof(*s));
	s->_req = r;
	s->_closed = closed;
	s->_arg = arg;
	strbuf_init(&s->_q, 0);
	s->max_pending = HTTP_STREAM_DEFAULT_LIMIT;
	s->_next = h->_streams;
	if (s->_next)
		s->_next->_prev = s;
	h->_streams = s;
	h->stats.streams_open++;
	h->stats.streams_total++;
	r->_stream = s;

	/* without a size, MHD sends HTTP/1.1 bodies chunked */
	resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK_SIZE, stream_reader,
						 s, NULL);
	PACER_ASSERT(resp);
	/* small writes must not wait for the client's delayed ACK (Nagle) */
	info = MHD_get_connection_info(r->_conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (info && setsockopt(info->connect_fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		log_debug("cannot set TCP_NODELAY on the stream '%s': %s", r->path, strerror(errno));
	respond_with(r, status, content_type, resp);
	return s;
}

int http_stream_write(struct http_stream *s, const char *data, size_t len)
{
	size_t queued = stream_queued(s);

	PACER_ASSERT(!s->_released);
	if (!len)
		return 0;
	if (len > s->max_pending || queued > s->max_pending - len) {
		s->_req->_h->stats.streams_too_big++;
		return PACER_ETOOBIG;
	}
	/*
	 * Move what is left to the front once the taken part is at least as
	 * large: each byte taken pays for at most one byte moved, so writes stay
	 * O(len) amortized and the buffer under twice the limit.
	 */
	if (s->_q_off && s->_q_off >= queued) {
		memmove(s->_q.buf, s->_q.buf + s->_q_off, queued);
		strbuf_setlen(&s->_q, queued);
		s->_q_off = 0;
	}
	strbuf_add(&s->_q, data, len);
	if (s->_suspended)
		stream_wake(s);
	return 0;
}

size_t http_stream_pending(const struct http_stream *s)
{
	return stream_queued(s);
}

void http_stream_set_limit(struct http_stream *s, size_t max_pending)
{
	s->max_pending = max_pending;
}

void http_stream_close(struct http_stream *s)
{
	PACER_ASSERT(!s->_released);
	s->_released = true;
	s->_ending = true;
	if (s->_suspended)
		stream_wake(s);
}

void http_stream_abort(struct http_stream *s)
{
	struct httpd *h = s->_req->_h;

	PACER_ASSERT(!s->_released);
	s->_released = true;
	s->_aborted = true;
	strbuf_release(&s->_q);
	s->_q_off = 0;
	if (s->_suspended) {
		stream_wake(s); /* the reader closes the connection */
		return;
	}
	/*
	 * MHD is waiting for the socket to take what it already holds, or has
	 * not asked for the body yet: the reader answers once it is asked; a
	 * client that does not read is dropped by a short timeout instead.
	 */
	MHD_set_connection_option(s->_req->_conn, MHD_CONNECTION_OPTION_TIMEOUT, 1u);
	if (h->_in_run)
		h->_need_run = true;
	else if (!h->_stopping)
		uv_timer_start(&h->_timer, on_timer, 0, 0); /* the timer follows the new timeout */
}

void http_request_set_tag(struct http_request *r, unsigned tag)
{
	r->tag = tag;
}

unsigned http_request_tag(const struct http_request *r)
{
	return r->tag;
}

/* MHD callbacks */

static enum MHD_Result queue_response(struct http_request *r)
{
	enum MHD_Result ret = MHD_queue_response(r->_conn, (unsigned)r->_status, r->_resp);

	MHD_destroy_response(r->_resp); /* MHD holds its own reference */
	r->_resp = NULL;
	r->_state = REQ_QUEUED;
	return ret;
}

static void answer_too_large(struct http_request *r)
{
	struct strbuf msg = STRBUF_INIT;
	size_t len;
	char *body;

	strbuf_addstr(&msg, "{\"message\":");
	{
		struct strbuf text = STRBUF_INIT;

		strbuf_addf(&text, "request body is larger than the limit of %zu bytes",
			    r->_h->max_body_bytes);
		strbuf_add_json_str(&msg, text.buf);
		strbuf_release(&text);
	}
	strbuf_addch(&msg, '}');
	body = strbuf_detach(&msg, &len);
	r->_h->stats.rejected_body_too_large++;
	r->_state = REQ_IN_HANDLER;
	http_respond(r, 413, "application/json", body, len);
}

/* Whether Content-Length announces a body over the limit. */
static bool declared_too_large(const struct httpd *h, struct MHD_Connection *conn)
{
	const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	char *end;
	unsigned long long n;

	if (!cl)
		return false;
	errno = 0;
	n = strtoull(cl, &end, 10);
	return !errno && end != cl && n > h->max_body_bytes;
}

static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
				      const char *method, const char *version,
				      const char *upload_data, size_t *upload_data_size,
				      void **con_cls)
{
	struct httpd *h = cls;
	struct http_request *r = *con_cls;

	(void)version;
	if (!r) {
		/* headers are complete; answering now would cost keep-alive */
		r = xcalloc(1, sizeof(*r));
		r->_h = h;
		r->_conn = conn;
		r->_state = REQ_READING;
		r->method = method_from_name(method);
		r->method_name = method;
		r->path = url;
		r->start_ns = time_mono_ns();
		strbuf_init(&r->body, 0);
		*con_cls = r;
		h->stats.requests_total++;
		if (declared_too_large(h, conn)) {
			/*
			 * The client announced a body over the limit: answer now rather
			 * than read (or wait for) it, and say no to "Expect: 100-continue".
			 * MHD closes the connection after this answer, as the body was
			 * never read.
			 */
			answer_too_large(r);
			return queue_response(r);
		}
		return MHD_YES;
	}

	switch (r->_state) {
	case REQ_READING:
		break;
	case REQ_RESUMED:
		return queue_response(r);
	case REQ_IN_HANDLER:
	case REQ_SUSPENDED:
	case REQ_QUEUED:
		/* MHD does not call a suspended or answered request again */
		PACER_ASSERT(!"access handler called in an unexpected state");
	}

	if (*upload_data_size) {
		size_t n = *upload_data_size;

		if (!r->_body_too_large && r->body.len + n <= h->max_body_bytes)
			strbuf_add(&r->body, upload_data, n);
		else if (!r->_body_too_large) {
			/* keep reading (and dropping) the rest so the connection survives */
			r->_body_too_large = true;
			strbuf_release(&r->body);
		}
		*upload_data_size = 0;
		return MHD_YES;
	}

	/* the final call: the whole request is in */
	if (r->_body_too_large) {
		answer_too_large(r);
		return queue_response(r);
	}
	r->_state = REQ_IN_HANDLER;
	h->handler(h->ctx, r);
	if (r->_resp)
		return queue_response(r);
	r->_state = REQ_SUSPENDED;
	r->_next = h->_suspended;
	if (r->_next)
		r->_next->_prev = r;
	h->_suspended = r;
	MHD_suspend_connection(conn);
	return MHD_YES;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			      enum MHD_RequestTerminationCode toe)
{
	struct http_request *r = *con_cls;

	(void)cls;
	(void)conn;
	if (!r)
		return;
	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		log_debug("request '%s %s' ended early: termination code %d", r->method_name,
			  r->path, (int)toe);
	if (r->_stream && !r->_stream->_released) {
		/* the client went away (or a HEAD request ended): tell the owner */
		r->_stream->_released = true;
		r->_stream->_closed(r->_stream, r->_stream->_arg);
	}
	request_free(r);
	*con_cls = NULL;
}

static void connection_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			      enum MHD_ConnectionNotificationCode toe)
{
	struct httpd *h = cls;

	(void)conn;
	(void)socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		h->stats.connections_open++;
		h->stats.connections_total++;
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		h->stats.connections_open--;
	}
}

/*
 * At MHD_OPTION_CONNECTION_LIMIT, MHD stops accepting: new clients then wait
 * in the kernel's backlog, unanswered, for as long as the slots stay taken.
 * Refusing them at once (accept and close) tells them to retry elsewhere, so
 * MHD's limit is set one higher and the real one is checked here.
 */
static enum MHD_Result accept_policy(void *cls, const struct sockaddr *addr, socklen_t addrlen)
{
	struct httpd *h = cls;

	(void)addr;
	(void)addrlen;
	if (h->stats.connections_open < h->max_connections)
		return MHD_YES;
	h->stats.connections_refused++;
	return MHD_NO;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct strbuf sb = STRBUF_INIT;

	(void)cls;
	strbuf_vaddf(&sb, fmt, ap);
	while (sb.len && (sb.buf[sb.len - 1] == '\n' || sb.buf[sb.len - 1] == '.'))
		strbuf_setlen(&sb, sb.len - 1);
	log_info("httpd: %s", sb.buf);
	strbuf_release(&sb);
}

/* Loop integration */

static void on_timer(uv_timer_t *t)
{
	httpd_run(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
	struct httpd *h = p->data;

	(void)events;
	if (status < 0)
		log_error("cannot poll the http server: %s", uv_strerror(status));
	httpd_run(h);
}

/* One MHD pass, then the timer from MHD's next deadline. */
static void httpd_run(struct httpd *h)
{
	MHD_UNSIGNED_LONG_LONG timeout;

	h->_need_run = false;
	h->_in_run = true;
	MHD_run(h->_daemon);
	h->_in_run = false;
	if (h->_need_run)
		uv_timer_start(&h->_timer, on_timer, 0, 0);
	else if (MHD_get_timeout(h->_daemon, &timeout) == MHD_YES)
		uv_timer_start(&h->_timer, on_timer, (uint64_t)timeout, 0);
	else
		uv_timer_stop(&h->_timer);
}

static void on_handle_closed(uv_handle_t *handle)
{
	struct httpd *h = handle->data;

	if (--h->_open_handles == 0)
		free(h);
}

/* Listening socket */

/* Life cycle */

int httpd_start(struct httpd **out, uv_loop_t *loop, const struct httpd_config *cfg,
		http_handler_fn *handler, void *ctx)
{
	const union MHD_DaemonInfo *info;
	struct httpd *h;
	size_t max_header = cfg->max_header_bytes ? cfg->max_header_bytes : DEFAULT_MAX_HEADER;
	unsigned idle = cfg->idle_timeout_s ? cfg->idle_timeout_s : DEFAULT_IDLE_TIMEOUT_S;
	unsigned max_conn = cfg->max_connections ? cfg->max_connections : DEFAULT_MAX_CONNECTIONS;
	unsigned per_ip = cfg->max_connections_per_ip;
	int fd, err;

	h = xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->handler = handler;
	h->ctx = ctx;
	h->max_body_bytes = cfg->max_body_bytes ? cfg->max_body_bytes : DEFAULT_MAX_BODY;

	err = http_listen_open(cfg->listen ? cfg->listen : ":8080", &fd, &h->port);
	if (err)
		goto err_free;

	/*
	 * MHD_USE_ERROR_LOG only makes MHD report its errors, through our
	 * logger; without it MHD is silent. MHD_ALLOW_SUSPEND_RESUME implies
	 * MHD_USE_ITC: the ITC's pipe is in the epoll set, so a resume also
	 * wakes the uv_poll. No MHD_USE_INTERNAL_POLLING_THREAD: no threads.
	 */
	h->max_connections = max_conn;
	h->_daemon = MHD_start_daemon(
		MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0,
		accept_policy, h, access_handler, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, h, /* first, or MHD complains */
		MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, max_header,
		MHD_OPTION_CONNECTION_TIMEOUT, idle,
		/* one above ours: accept_policy enforces the limit (see there) */
		MHD_OPTION_CONNECTION_LIMIT, max_conn + 1,
		MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
		MHD_OPTION_NOTIFY_COMPLETED, request_completed, h,
		MHD_OPTION_NOTIFY_CONNECTION, connection_notify, h,
		MHD_OPTION_END);
	if (!h->_daemon) {
		log_error("cannot start the http server on '%s': libmicrohttpd refused",
			  cfg->listen ? cfg->listen : ":8080");
		err = PACER_EBADCONFIG;
		goto err_close_fd;
	}
	info = MHD_get_daemon_info(h->_daemon, MHD_DAEMON_INFO_EPOLL_FD);
	PACER_ASSERT(info && info->epoll_fd >= 0);

	err = uv_poll_init(loop, &h->_poll, info->epoll_fd);
	if (err) {
		log_error("cannot poll the http server: %s", uv_strerror(err));
		goto err_stop;
	}
	h->_poll.data = h;
	uv_timer_init(loop, &h->_timer);
	h->_timer.data = h;
	h->_open_handles = 2;
	uv_poll_start(&h->_poll, UV_READABLE, on_poll);
	uv_timer_start(&h->_timer, on_timer, 0, 0);
	*out = h;
	return 0;

err_stop:
	MHD_stop_daemon(h->_daemon); /* closes fd too */
	goto err_free;
err_close_fd:
	close(fd);
err_free:
	free(h);
	return err;
}

uint16_t httpd_port(const struct httpd *h)
{
	return h->port;
}

void httpd_get_stats(const struct httpd *h, struct httpd_stats *out)
{
	*out = h->stats;
}

void httpd_quiesce(struct httpd *h)
{
	MHD_socket fd;

	if (h->_quiesced)
		return;
	h->_quiesced = true;
	/*
	 * Works in external-epoll mode: MHD takes the socket out of its epoll set
	 * and hands it back to us (it needs MHD_USE_ITC only with its own
	 * threads). Closing it makes new connects fail at once.
	 */
	fd = MHD_quiesce_daemon(h->_daemon);
	if (fd != MHD_INVALID_SOCKET)
		close(fd);
}

void httpd_stop(struct httpd *h)
{
	static const char msg[] = "{\"message\":\"shutting down\"}";

	PACER_ASSERT(!h->_in_run);
	h->_stopping = true;
	httpd_quiesce(h);
	/*
	 * Open streams: tell their owners, then end them after what is queued.
	 * A callback may write to or close streams not yet visited, never free
	 * one (only MHD's completion does), so the walk is safe. None may stay
	 * suspended, for MHD_stop_daemon.
	 */
	for (struct http_stream *s = h->_streams; s; s = s->_next) {
		if (!s->_released) {
			s->_released = true;
			s->_ending = true;
			s->_closed(s, s->_arg);
		}
		if (s->_suspended)
			stream_wake(s);
	}
	/*
	 * MHD_stop_daemon() panics on suspended connections: answer them, then
	 * give MHD a few passes to send the answers (best effort: a client that
	 * does not read just loses it).
	 */
	while (h->_suspended)
		http_respond(h->_suspended, 503, "application/json", xmemdupz(msg, sizeof(msg) - 1),
			     sizeof(msg) - 1);
	for (int i = 0; i < STOP_FLUSH_RUNS; i++) {
		h->_in_run = true;
		MHD_run(h->_daemon);
		h->_in_run = false;
	}
	/* stop polling before MHD closes the epoll fd, so libuv never sees it reused */
	uv_close((uv_handle_t *)&h->_poll, on_handle_closed);
	uv_close((uv_handle_t *)&h->_timer, on_handle_closed);
	MHD_stop_daemon(h->_daemon); /* completion callbacks free the last requests */
	h->_daemon = NULL;
}
