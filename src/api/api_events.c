/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event resources: GET /v2/events (Server-Sent Events, filters,
 * Last-Event-ID), /v2/eventSubscriptions (HTTP callbacks) and
 * /metrics/events (the bus's counters). The bus itself is src/events.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/error.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "events/bus.h"
#include "events/callbacks.h"

/* Who is asking, for remoteAddress/clientIp: a proxy's header, else the peer. */
static const char *client_ip(struct http_request *req)
{
	const char *v = http_request_header(req, "X-Real-IP");

	if (!v)
		v = http_request_header(req, "X-Forwarded-For");
	return v ? v : http_request_peer(req);
}

struct filter_ctx {
	struct event_filter *f;
	struct strbuf *why;
	int err;
};

static void add_type(void *arg, const char *value)
{
	struct filter_ctx *c = arg;

	if (!c->err)
		c->err = event_filter_add_type(c->f, value, c->why);
}

static void add_prefix(void *arg, const char *value)
{
	struct filter_ctx *c = arg;

	if (!c->err)
		c->err = event_filter_add_prefix(c->f, value, c->why);
}

/* Reads event_type and app_id parameters; on error answers 400 and returns < 0. */
static int parse_filter(struct api *api, struct http_request *req, struct event_filter *f)
{
	struct strbuf why = STRBUF_INIT;
	struct filter_ctx c = {f, &why, 0};

	http_request_query_each(req, "event_type", add_type, &c);
	http_request_query_each(req, "app_id", add_prefix, &c);
	if (c.err) {
		api_respond_error(api, req, 400, "%s", why.buf);
		event_filter_release(f);
	}
	strbuf_release(&why);
	return c.err;
}

/* A decimal id as the stream sent it. */
static int parse_id(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!*s || *s < '0' || *s > '9' || strlen(s) > 20)
		return PACER_EBADREQUEST;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return PACER_EBADREQUEST;
	*out = v;
	return 0;
}

static int accepts_sse(struct http_request *req)
{
	const char *a = http_request_header(req, "Accept");

	return !a || !*a || strstr(a, "text/event-stream") || strstr(a, "*/*") ||
	       strstr(a, "text/*");
}

static void get_events(struct api *api, struct http_request *req, const char *rest)
{
	struct event_filter f = EVENT_FILTER_INIT;
	const char *last = http_request_header(req, "Last-Event-ID");
	uint64_t last_id = 0;

	if (!api->events) {
		api_respond_error(api, req, 503, "the event bus is not running");
		return;
	}
	if (http_request_method(req) == HTTP_HEAD) {
		api_respond_text(api, req, 200, "text/event-stream", NULL);
		return;
	}
	if (!accepts_sse(req)) {
		api_respond_error(api, req, 406,
				  "'/v2/events' answers only 'text/event-stream': send that Accept header");
		return;
	}
	if (last && parse_id(last, &last_id)) {
		api_respond_error(api, req, 400,
				  "invalid Last-Event-ID '%s': an event id (a decimal number) is expected",
				  last);
		return;
	}
	if (parse_filter(api, req, &f))
		return;
	/* the stream is answered now: count the request as such */
	api_record(api, req, 200);
	event_bus_attach(api->events, req, &f, last != NULL, last_id, client_ip(req));
}

/* ---- app changes ---- */

/* Notes are "P/id\0" (put) or "D/id\0" (deleted), for one transaction version. */
void api_events_note(struct api *api, struct apps_txn *t, const char *id, int deleted)
{
	int64_t v = apps_txn_version(t);

	if (!api->ev_notes.buf)
		strbuf_init(&api->ev_notes, 0);
	if (api->ev_notes_version != v) {
		/* notes of a transaction that was aborted */
		strbuf_reset(&api->ev_notes);
		api->ev_notes_version = v;
	}
	strbuf_addch(&api->ev_notes, deleted ? 'D' : 'P');
	strbuf_add(&api->ev_notes, id, strlen(id) + 1);
}

void api_events_take(struct api *api, struct apps_txn *t, struct strbuf *out)
{
	strbuf_init(out, 0);
	if (!api->ev_notes.buf || api->ev_notes_version != apps_txn_version(t))
		return;
	strbuf_add(out, api->ev_notes.buf, api->ev_notes.len);
	strbuf_reset(&api->ev_notes);
	api->ev_notes_version = 0;
}

void api_events_committed(struct api *api, struct http_request *req, const struct strbuf *notes,
			  int64_t version)
{
	const char *uri = http_request_path(req);

	for (size_t off = 0; off < notes->len;) {
		const char *id = notes->buf + off + 1;
		const struct app *app;

		if (notes->buf[off] == 'D') {
			events_app_terminated(api->events, id);
		} else if ((app = apps_get(api->apps, id))) {
			events_api_post(api->events, client_ip(req), uri, id, app->def_json,
					app->def_json_len, app->version);
		}
		off += strlen(id) + 2;
	}
}

/* ---- /v2/eventSubscriptions ---- */

struct sub_op {
	struct api *api;
	struct http_request *req;
	struct strbuf body;
};

static void sub_committed(void *arg, int status)
{
	struct sub_op *op = arg;

	if (status)
		api_respond_error(op->api, op->req, 503, "cannot store the subscription: %s",
				  pacer_strerror(status));
	else
		api_respond(op->api, op->req, 200, &op->body);
	strbuf_release(&op->body);
	free(op);
}

static void subscriptions(struct api *api, struct http_request *req, const char *rest)
{
	enum http_method m = http_request_method(req);
	const char *url = http_request_query(req, "callbackUrl");
	struct event_callbacks *cbs;
	struct strbuf b = STRBUF_INIT, why = STRBUF_INIT;
	struct sub_op *op;
	int err;

	if (*rest) {
		api_respond_error(api, req, 404, "no resource at '/v2/eventSubscriptions%s'", rest);
		return;
	}
	if (!api->events) {
		api_respond_error(api, req, 503, "the event bus is not running");
		return;
	}
	cbs = event_bus_callbacks(api->events);
	if (m == HTTP_GET || m == HTTP_HEAD) {
		event_callbacks_json(cbs, &b);
		api_respond(api, req, 200, &b);
		return;
	}
	if (!url || !*url) {
		api_respond_error(api, req, 400, "the query parameter 'callbackUrl' is required");
		return;
	}
	op = xcalloc(1, sizeof(*op));
	op->api = api;
	op->req = req;
	if (m == HTTP_POST) {
		struct event_filter f = EVENT_FILTER_INIT;

		if (parse_filter(api, req, &f)) {
			free(op);
			return;
		}
		err = event_callbacks_add(cbs, url, &f, sub_committed, op, &why);
		event_filter_release(&f);
		if (err == PACER_EBADREQUEST) {
			api_respond_error(api, req, 400, "%s", why.buf);
			goto fail;
		}
	} else {
		err = event_callbacks_remove(cbs, url, sub_committed, op);
		if (err == PACER_ENOTFOUND) {
			/* as Marathon: unsubscribing an unknown URL answers the event anyway */
			events_subscription(api->events, 0, client_ip(req), url, &b);
			api_respond(api, req, 200, &b);
			free(op);
			strbuf_release(&why);
			return;
		}
	}
	if (err) {
		api_respond_error(api, req, 503, "cannot store the subscription: %s",
				  pacer_strerror(err));
		goto fail;
	}
	/* the answer is Marathon's subscribe/unsubscribe event, sent once durable */
	events_subscription(api->events, m == HTTP_POST, client_ip(req), url, &op->body);
	strbuf_release(&why);
	return;
fail:
	free(op);
	strbuf_release(&why);
}

static void events_metrics(struct api *api, struct http_request *req, const char *rest)
{
	struct strbuf b = STRBUF_INIT;

	if (api->events)
		event_bus_prometheus(api->events, &b);
	api_respond_text(api, req, 200, "text/plain; version=0.0.4", &b);
}

void api_events_register(struct api *api)
{
	router_add(api->router, HTTP_GET | HTTP_HEAD, "/v2/events", "/v2/events", get_events);
	router_add(api->router, HTTP_GET | HTTP_HEAD | HTTP_POST | HTTP_DELETE,
		   "/v2/eventSubscriptions/*", "/v2/eventSubscriptions", subscriptions);
	router_add(api->router, HTTP_GET | HTTP_HEAD, "/metrics/events", "/metrics/events",
		   events_metrics);
}
