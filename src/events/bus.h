/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The event bus: every change becomes one small, numbered event (event.h),
 * serialized once, kept in a bounded ring (ring.h) and fanned out on the loop
 * thread to
 *   - Server-Sent-Events subscribers of GET /v2/events, each with its own
 *     filter (event types, app id prefixes), resumable with Last-Event-ID
 *     while the ring holds the position, told to re-read the state
 *     ("event_stream_resync") when not, and cut off with an explicit
 *     "event_stream_overflow" when it falls more than its buffer behind;
 *   - HTTP callback subscribers of /v2/eventSubscriptions (callbacks.h).
 *
 * Ids: base + n, where base = epoch << 32 and the epoch (store key
 * events/epoch) is max(stored + 1, seconds since 1970) at every start. Ids
 * therefore grow across restarts; an id of an earlier start is answered with
 * event_stream_resync, never silently skipped (docs/events.md).
 *
 * Subscribers with app id prefixes sit in an index by prefix, so an event
 * visits only the subscribers that can want it: the unfiltered ones and those
 * registered under one of its app id's ancestors.
 *
 * Everything runs on the loop thread. A NULL bus is allowed wherever a bus is
 * taken for publishing: nothing happens (for tests that run without one).
 */
#ifndef PACER_EVENTS_BUS_H
#define PACER_EVENTS_BUS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/strbuf.h"
#include "events/event.h"
#include "http/httpd.h"
#include "store/store.h"

struct event_bus;
struct event_callbacks;

struct event_bus_config {
	size_t ring_size;          /* events kept for resuming (default 10000) */
	size_t subscriber_buffer;  /* bytes an SSE subscriber may lag (default 1 MiB) */
	unsigned keepalive_s;      /* idle SSE streams get a comment this often (default 5) */
	size_t callback_queue;     /* events queued per callback subscriber (default 1024) */
};

#define EVENT_BUS_DEFAULT_RING 10000
#define EVENT_BUS_DEFAULT_BUFFER (1u << 20)
#define EVENT_BUS_DEFAULT_KEEPALIVE_S 5
#define EVENT_BUS_DEFAULT_CALLBACK_QUEUE 1024

/*
 * Creates the bus: raises the id epoch in the store (committed
 * asynchronously) and loads the callback subscriptions. Zero config fields
 * take the defaults. Returns 0 and *out, or a negative code with a message
 * logged.
 */
int event_bus_new(struct event_bus **out, uv_loop_t *loop, struct store *store,
		  const struct event_bus_config *cfg);
/*
 * Ends every SSE stream (properly: what is queued still goes out), drops
 * pending callbacks and frees the bus once its handles are closed (keep
 * running the loop). Publishing afterwards is a bug. NULL is allowed.
 */
void event_bus_free(struct event_bus *b);

/*
 * Publishes one event: fields are the JSON object's members without braces
 * (the bus adds eventType and timestamp); app_id (NULL for none) drives the
 * app_id filters. Events of future issues (deployment_*, health) come
 * through here too. Returns the event's id (0 when b is NULL).
 */
uint64_t event_bus_publish(struct event_bus *b, enum event_type type, const char *app_id,
			   const char *fields, size_t fields_len);

/*
 * Answers req with an event stream for filter f (taken: f is left empty).
 * With has_last, the stream first replays every event after last_id that f
 * lets through, or starts with event_stream_resync when the ring no longer
 * holds that position. Then it sends event_stream_attached (published to
 * every subscriber, as Marathon does; the new one gets its own whatever its
 * filter). remote names the client in attached/detached events.
 */
void event_bus_attach(struct event_bus *b, struct http_request *req, struct event_filter *f,
		      int has_last, uint64_t last_id, const char *remote);

/* The callback subscriptions (owned by the bus). */
struct event_callbacks *event_bus_callbacks(struct event_bus *b);

struct event_bus_stats {
	uint64_t published;        /* events numbered and fanned out */
	uint64_t last_id;
	uint64_t largest_event;    /* bytes of the largest SSE frame */
	uint64_t sse_subscribers;  /* open now */
	uint64_t sse_written;      /* events written to SSE subscribers */
	uint64_t sse_overflows;    /* subscribers cut off for lagging */
	uint64_t sse_resyncs;      /* resumes refused: told to re-read */
	uint64_t cb_subscribers;
	uint64_t cb_delivered;     /* callback POSTs answered 2xx */
	uint64_t cb_failed;        /* callback attempts that failed (retried) */
	uint64_t cb_dropped;       /* events dropped from full callback queues */
	size_t ring_count, ring_size;
};
void event_bus_get_stats(const struct event_bus *b, struct event_bus_stats *out);
/* Appends the bus's counters in Prometheus text format. */
void event_bus_prometheus(const struct event_bus *b, struct strbuf *out);

/* ---- Marathon's events, built from plain fields (emit.c) ---- */

/* A task as status_update_event and instance_changed_event show it. */
struct event_task {
	const char *task_id, *app_id, *agent_id, *host;
	const uint16_t *ports;
	size_t nports;
	int64_t version;           /* the app version it runs (ms) */
	const char *state;         /* "TASK_RUNNING", ... */
	const char *message;       /* may be NULL */
};
/* Publishes status_update_event then instance_changed_event. */
void events_task_changed(struct event_bus *b, const struct event_task *t);
/*
 * api_post_event for one app created or changed through the API: def_json is
 * the app's public definition (an object), version its version. A definition
 * that would make the event larger than EVENT_MAX_BYTES is trimmed to id and
 * version, with "appDefinitionTrimmed": true.
 */
void events_api_post(struct event_bus *b, const char *client_ip, const char *uri,
		     const char *app_id, const char *def_json, size_t def_len, int64_t version);
/* app_terminated_event: the app was deleted. */
void events_app_terminated(struct event_bus *b, const char *app_id);
/* subscribe_event / unsubscribe_event; fills the JSON object into out when not NULL. */
void events_subscription(struct event_bus *b, int subscribe, const char *client_ip,
			 const char *callback_url, struct strbuf *out);

#endif
