/* SPDX-License-Identifier: Apache-2.0 */
/*
 * HTTP callback subscribers (/v2/eventSubscriptions): each callback URL gets
 * every event its filter lets through, one event per POST (the event's JSON,
 * as Marathon 1.4 sent it), in order, at least once.
 *
 *   - Durable: each subscription is the store key eventsubs/<hash of URL>
 *     ({"callbackUrl", "eventTypes", "appIds"}), loaded at start.
 *   - One request in flight per subscriber; a failed one (transport error or
 *     a status other than 2xx) is retried with backoff (100 ms doubling to
 *     30 s) until it succeeds or the subscription is removed.
 *   - A bounded queue per subscriber (events shared by reference with the
 *     ring): when full the oldest queued event is dropped and counted.
 *   - libcurl multi on the loop (sockets in uv_poll, its timer in a
 *     uv_timer), as src/agent/client.c drives it: no thread per delivery.
 *     Host names are resolved once, when the subscription is added or
 *     loaded (and again before a retry if that failed), and handed to curl
 *     with CURLOPT_RESOLVE, so curl never starts a resolver thread.
 *
 * Everything runs on the loop thread.
 */
#ifndef PACER_EVENTS_CALLBACKS_H
#define PACER_EVENTS_CALLBACKS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/strbuf.h"
#include "events/event.h"
#include "store/store.h"

struct event_callbacks;

/* Returns 0 and *out, or a negative code with a message logged. */
int event_callbacks_new(struct event_callbacks **out, uv_loop_t *loop, struct store *store,
			size_t queue_max);
/* Aborts transfers and frees everything once its handles are closed. NULL is allowed. */
void event_callbacks_free(struct event_callbacks *cbs);

/*
 * Checks a callback URL: http or https, with a host that resolves. Returns 0
 * or PACER_EBADREQUEST with the reason in why.
 */
int event_callbacks_check_url(const char *url, struct strbuf *why);

typedef void event_callbacks_done_fn(void *arg, int status);
/*
 * Adds (or replaces the filter of) the subscription for url, taking f (left
 * empty). It receives events at once; done runs when it is durable (0) or
 * the store failed. Returns 0, or a negative code (bad URL: PACER_EBADREQUEST
 * with why filled; store closed) and then done is never called.
 */
int event_callbacks_add(struct event_callbacks *cbs, const char *url, struct event_filter *f,
			event_callbacks_done_fn *done, void *arg, struct strbuf *why);
/*
 * Removes the subscription for url; done runs once the removal is durable.
 * Returns 0, PACER_ENOTFOUND (done not called) or another negative code.
 */
int event_callbacks_remove(struct event_callbacks *cbs, const char *url,
			   event_callbacks_done_fn *done, void *arg);
/* Appends {"callbackUrls":[...]}. */
void event_callbacks_json(const struct event_callbacks *cbs, struct strbuf *out);

/* Queues e (a reference is taken) for every subscriber whose filter lets it through. */
void event_callbacks_deliver(struct event_callbacks *cbs, struct event *e);

struct event_callbacks_stats {
	uint64_t subscribers, delivered, failed, dropped;
};
void event_callbacks_get_stats(const struct event_callbacks *cbs,
			       struct event_callbacks_stats *out);

#endif
