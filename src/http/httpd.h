/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The HTTP server: libmicrohttpd in external-epoll mode, driven by the libuv
 * loop (its epoll fd in a uv_poll, its timeout in a uv_timer). One thread,
 * no knowledge of apps: it hands each complete request (headers and a body
 * within the size limit) to one handler and sends what the handler answers.
 *
 * A handler answers at once by calling http_respond() before returning, or
 * later (after a store commit, say) by returning without answering: the
 * connection is then suspended until http_respond() is called on the loop
 * thread. The request stays valid until it is answered, even if the client
 * went away meanwhile; every request must be answered exactly once.
 *
 * Limits answered by the server itself, never reaching the handler:
 *   body over max_body_bytes   -> 413 with a JSON message
 *   headers over max_header_bytes -> 431 (libmicrohttpd)
 *   more than max_connections (or max_connections_per_ip) -> connection refused
 *   idle_timeout_s without progress -> connection closed
 *
 * In detail (verified by tests/unit/test_httpd.c):
 *   - 413: the body is read to its end and dropped, so the connection stays
 *     usable; body {"message":"request body is larger than the limit of N bytes"}.
 *   - 431: sent by libmicrohttpd with its own small HTML body, then the
 *     connection is closed. max_header_bytes is libmicrohttpd's memory per
 *     connection: request line, headers and read buffer share it.
 *   - Over max_connections the connection is accepted and closed at once,
 *     without an answer (counted in connections_refused); likewise over
 *     max_connections_per_ip.
 *   - A suspended request (handler returned without answering) never times
 *     out: its owner must answer it, or enforce its own deadline.
 *   - HEAD requests reach the handler as HTTP_HEAD (the router matches them
 *     to GET routes); the server sends the answer's headers, Content-Length
 *     included, without its body.
 *
 * A handler may also answer with a stream (http_respond_stream): the headers
 * go out at once, then the body in pieces written over time, until the
 * owner closes the stream or the client goes away. See "Streams" below.
 */
#ifndef PACER_HTTP_HTTPD_H
#define PACER_HTTP_HTTPD_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct httpd;
struct http_request;

enum http_method {
	HTTP_GET = 1 << 0,
	HTTP_HEAD = 1 << 1,
	HTTP_POST = 1 << 2,
	HTTP_PUT = 1 << 3,
	HTTP_PATCH = 1 << 4,
	HTTP_DELETE = 1 << 5,
	HTTP_OPTIONS = 1 << 6,
	HTTP_OTHER = 1 << 7,
};

struct httpd_config {
	const char *listen;           /* "127.0.0.1:8080", "[::1]:8080", ":8080"; port 0 picks one */
	size_t max_body_bytes;        /* default 16 MiB */
	size_t max_header_bytes;      /* per-connection memory for headers; default 32 KiB */
	unsigned idle_timeout_s;      /* default 60 */
	unsigned max_connections;     /* default 4096 */
	unsigned max_connections_per_ip; /* 0 = no per-address limit */
};

typedef void http_handler_fn(void *ctx, struct http_request *req);

struct httpd_stats {
	uint64_t connections_open;
	uint64_t connections_total;
	uint64_t requests_total;
	uint64_t rejected_body_too_large;
	uint64_t connections_refused; /* closed at once: over max_connections */
	uint64_t streams_open;        /* http_stream responses not yet ended */
	uint64_t streams_total;
	uint64_t streams_too_big;     /* writes refused with PACER_ETOOBIG */
};

/*
 * Binds and starts serving on loop. Unset (zero) config fields take the
 * defaults above. Returns 0 and *out, or a negative code (-errno for bind
 * errors, PACER_EBADCONFIG for a bad listen address) with a message logged;
 * the handler is then never called.
 */
int httpd_start(struct httpd **out, uv_loop_t *loop, const struct httpd_config *cfg,
		http_handler_fn *handler, void *ctx);
/* The port actually bound (useful with port 0). */
uint16_t httpd_port(const struct httpd *h);
void httpd_get_stats(const struct httpd *h, struct httpd_stats *out);
/*
 * Stops accepting new connections: the listening socket is closed, so new
 * connects are refused. Open connections (keep-alive ones included) go on
 * being served, and requests in flight may still be answered. Idempotent.
 */
void httpd_quiesce(struct httpd *h);
/*
 * Closes every connection and frees h. Requests not yet answered are answered
 * 503 first, and must not be touched by their owners afterwards.
 *
 * Call it from a loop callback, never from inside the handler (defer with a
 * uv_timer or uv_async). h is freed by the close callbacks of its libuv
 * handles: keep running the loop afterwards (uv_run until it returns, as
 * anyone closing handles must) or h leaks. The 503 answers are sent best
 * effort: a client that does not read loses them.
 */
void httpd_stop(struct httpd *h);

/* Request accessors: valid until the request is answered. */
enum http_method http_request_method(const struct http_request *r);
const char *http_request_method_name(const struct http_request *r);
/* The URL path, percent-decoded, without the query string. */
const char *http_request_path(const struct http_request *r);
/* First value of a query parameter ("" when given without value), or NULL. */
const char *http_request_query(const struct http_request *r, const char *name);
/* Calls fn for every value of a repeated query parameter, in order; returns how many. */
typedef void http_query_fn(void *arg, const char *value);
size_t http_request_query_each(const struct http_request *r, const char *name, http_query_fn *fn,
			       void *arg);
/* A request header (case-insensitive name), or NULL. Query names are case-sensitive. */
const char *http_request_header(const struct http_request *r, const char *name);
/* The body, NUL-terminated (len excludes the NUL); "" when there is none. */
const char *http_request_body(const struct http_request *r, size_t *len);
/* The client's address as text ("127.0.0.1", "::1"), or "" when unknown. */
const char *http_request_peer(struct http_request *r);
/* Monotonic time (ns) when the request's headers were complete. */
uint64_t http_request_start_ns(const struct http_request *r);

/* A number of the owner's choosing carried with the request (0 until set). */
void http_request_set_tag(struct http_request *r, unsigned tag);
unsigned http_request_tag(const struct http_request *r);

/* Adds a header to the answer (copied). Call before http_respond. */
void http_response_header(struct http_request *r, const char *name, const char *value);
/*
 * Answers the request: status, Content-Type, and body (len bytes, which the
 * server takes ownership of and frees; NULL for none). Must run on the loop
 * thread. r is invalid afterwards.
 *
 * body must come from malloc (xmalloc, strbuf_detach): it is released with
 * free(). Content-Type may be NULL for none. Answering twice aborts. An
 * answer given after the handler returned resumes the connection; it goes
 * out within the same loop iteration or the next.
 */
void http_respond(struct http_request *r, int status, const char *content_type, char *body,
		  size_t len);

/*
 * Shared response bodies: one buffer sent to many clients without copying
 * (e.g. a cached list). http_blob_new takes data (malloc'ed) with one
 * reference; every http_respond_blob takes another until its response is
 * sent; http_blob_unref drops one and frees data with the last.
 */
struct http_blob;
struct http_blob *http_blob_new(char *data, size_t len);
void http_blob_unref(struct http_blob *b);
/* As http_respond, with a shared body (b keeps the reference it had). */
void http_respond_blob(struct http_request *r, int status, const char *content_type,
		       struct http_blob *b);

/*
 * Streams: long-lived responses whose body is written over time, such as
 * the agents' command stream (application/x-ndjson) or Server-Sent Events.
 * The body goes out with chunked transfer encoding (HTTP/1.1 clients; an
 * HTTP/1.0 client gets a body ended by closing the connection).
 *
 * Ownership: http_respond_stream returns a stream that its owner (the
 * caller) holds until either
 *   - the owner calls http_stream_close or http_stream_abort, or
 *   - the server calls the owner's closed callback: the client went away,
 *     the connection broke, or httpd_stop runs.
 * After either, the owner must drop its pointer: the stream is freed by the
 * server once the connection is done with it. closed is called at most once,
 * and never after http_stream_close or http_stream_abort.
 *
 * Every function runs on the loop thread. Writes never block: they copy the
 * bytes into the stream's queue, from which libmicrohttpd takes them as the
 * socket accepts them. A slow reader only grows its own queue, up to the
 * stream's limit; at the limit http_stream_write refuses with PACER_ETOOBIG,
 * and the owner should then abort the stream (the client has fallen behind
 * and lost data; it reconnects).
 *
 * In detail (tests/unit/test_httpd_stream.c verifies all but the timeouts,
 * which follow libmicrohttpd's rules):
 *   - A stream never times out, whether idle or not: while its queue is empty
 *     its connection is suspended, and libmicrohttpd neither times it out nor
 *     notices that the client closed it. A departed client is noticed when a
 *     write fails to reach it, usually at the first or second write after it
 *     left. Owners must write periodically (pings, SSE comments) and enforce
 *     their own deadlines.
 *   - A stream that still has bytes queued is an ordinary connection for
 *     libmicrohttpd: without progress for idle_timeout_s it is closed (and
 *     closed is called).
 *   - closed runs from within the server's processing of the connection (or
 *     from httpd_stop): it may write to or close other streams and answer
 *     requests, but must not call httpd_stop.
 *   - TCP_NODELAY is set on a stream's socket: every write goes out at once.
 *   - A HEAD request answered with a stream gets the headers only; the
 *     stream ends at once and closed is called.
 *   - httpd_stop calls closed for every open stream, then sends what they
 *     have queued and ends them properly (best effort, as for the 503s).
 *   - After a stream is closed (not aborted) and its end sent, an HTTP/1.1
 *     connection is kept alive and serves further requests.
 */
struct http_stream;
typedef void http_stream_closed_fn(struct http_stream *s, void *arg);

#define HTTP_STREAM_DEFAULT_LIMIT (1u << 20)

/*
 * Answers r with a stream: status, Content-Type (NULL for none) and the
 * headers added with http_response_header go out at once (within the same
 * loop iteration or the next), then whatever is written to the stream. Call
 * it from the handler or later, like http_respond; r is invalid afterwards.
 * closed (not NULL) is called with arg as described above. Never fails.
 */
struct http_stream *http_respond_stream(struct http_request *r, int status,
					const char *content_type, http_stream_closed_fn *closed,
					void *arg);
/*
 * Queues a copy of data (len bytes) on s; it goes out as soon as the socket
 * takes it. Returns 0, or PACER_ETOOBIG (nothing queued) when the queued bytes
 * would exceed the stream's limit. O(len) amortized; never blocks. Writing
 * 0 bytes does nothing.
 */
int http_stream_write(struct http_stream *s, const char *data, size_t len);
/* Bytes queued on s and not yet taken by the server. */
size_t http_stream_pending(const struct http_stream *s);
/* Sets the queue limit of s (default HTTP_STREAM_DEFAULT_LIMIT). */
void http_stream_set_limit(struct http_stream *s, size_t max_pending);
/*
 * Ends the stream once its queued bytes are sent (the chunked body's end,
 * then the connection serves the next request). s is invalid afterwards;
 * closed is not called. A client that stops reading is dropped after
 * idle_timeout_s.
 */
void http_stream_close(struct http_stream *s);
/*
 * Drops the queued bytes and closes the connection without ending the body
 * properly, so the client sees a broken response: for a client that fell
 * behind (PACER_ETOOBIG). The connection closes at once if the stream was
 * idle, otherwise as soon as its socket accepts data again or within about
 * a second. s is invalid afterwards; closed is not called.
 */
void http_stream_abort(struct http_stream *s);

#endif
