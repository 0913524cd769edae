/* SPDX-License-Identifier: Apache-2.0 */
/* The event bus: ring, SSE fan-out, resume and overflow; see bus.h. */
#include "events/bus.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "events/callbacks.h"
#include "events/ring.h"

/* Room beyond a subscriber's buffer for the closing overflow event. */
#define STREAM_SLACK (2 * EVENT_MAX_BYTES)
#define KEEPALIVE_LINE ": keepalive\n\n"

struct sub_vec {
	struct sse_sub **v;
	size_t n, alloc;
};

struct sse_sub {
	struct event_bus *bus;
	struct http_stream *s;     /* NULL once closed */
	struct event_filter f;
	char remote[64];
	uint64_t last_write_ms;    /* monotonic */
	uint64_t seen;             /* id of the last event offered: dedupes prefix lists */
	int dead;                  /* cut off or gone; removed after the fan-out */
};

struct prefix_list {
	char *prefix;
	struct sub_vec subs;
};

struct event_bus {
	uv_loop_t *loop;
	struct store *store;
	struct event_bus_config cfg;
	struct event_ring ring;
	struct event_callbacks *callbacks;
	struct sub_vec all;        /* every open subscriber */
	struct sub_vec unindexed;  /* subscribers without app id prefixes */
	struct hashmap by_prefix;  /* prefix -> struct prefix_list */
	struct sub_vec doomed;     /* to remove once the current fan-out is done */
	struct sse_sub *attaching; /* gets its own attached event whatever its filter */
	int publishing;
	uv_timer_t keepalive;
	struct event_bus_stats stats;
};

/* ---- subscriber sets ---- */

static void vec_add(struct sub_vec *v, struct sse_sub *s)
{
	ALLOC_GROW(v->v, v->n + 1, v->alloc);
	v->v[v->n++] = s;
}

/* Removes s keeping the order (fan-out order is attach order). */
static void vec_del(struct sub_vec *v, struct sse_sub *s)
{
	for (size_t i = 0; i < v->n; i++) {
		if (v->v[i] == s) {
			memmove(v->v + i, v->v + i + 1, (v->n - i - 1) * sizeof(*v->v));
			v->n--;
			return;
		}
	}
}

static void index_add(struct event_bus *b, struct sse_sub *s)
{
	vec_add(&b->all, s);
	if (!s->f.nprefixes) {
		vec_add(&b->unindexed, s);
		return;
	}
	for (size_t i = 0; i < s->f.nprefixes; i++) {
		struct prefix_list *pl = hashmap_get(&b->by_prefix, s->f.prefixes[i]);

		if (!pl) {
			pl = xcalloc(1, sizeof(*pl));
			pl->prefix = xstrdup(s->f.prefixes[i]);
			hashmap_put(&b->by_prefix, pl->prefix, pl);
		}
		vec_del(&pl->subs, s); /* the same prefix given twice */
		vec_add(&pl->subs, s);
	}
}

static void index_del(struct event_bus *b, struct sse_sub *s)
{
	vec_del(&b->all, s);
	if (!s->f.nprefixes) {
		vec_del(&b->unindexed, s);
		return;
	}
	for (size_t i = 0; i < s->f.nprefixes; i++) {
		struct prefix_list *pl = hashmap_get(&b->by_prefix, s->f.prefixes[i]);

		if (!pl)
			continue;
		vec_del(&pl->subs, s);
		if (!pl->subs.n) {
			hashmap_remove(&b->by_prefix, pl->prefix);
			free(pl->subs.v);
			free(pl->prefix);
			free(pl);
		}
	}
}

/* ---- writing to one subscriber ---- */

static void sub_publish_detached(struct event_bus *b, const char *remote);

/* Marks s for removal after the current fan-out. */
static void sub_doom(struct sse_sub *s)
{
	if (s->dead)
		return;
	s->dead = 1;
	vec_add(&s->bus->doomed, s);
}

static void write_own_event(struct sse_sub *s, enum event_type type, const struct strbuf *fields)
{
	struct event *e = event_new(0, type, NULL, fields->buf, fields->len);

	/* within the slack: the stream's limit is the buffer plus STREAM_SLACK */
	if (http_stream_write(s->s, e->frame, e->frame_len))
		log_warn("cannot write '%s' to the event stream of %s", event_type_name(type),
			 s->remote);
	s->last_write_ms = time_mono_ns() / 1000000u;
	event_unref(e);
}

/* The subscriber fell behind: an explicit event, then the end of its stream. */
static void sub_overflow(struct sse_sub *s, size_t need)
{
	struct event_bus *b = s->bus;
	struct strbuf f = STRBUF_INIT;

	strbuf_addf(&f, "\"pendingBytes\":%zu,\"limitBytes\":%zu,\"lastEventId\":\"%llu\","
			"\"message\":\"the client fell more than its buffer behind: reconnect "
			"with Last-Event-ID\"",
		    http_stream_pending(s->s) + need, b->cfg.subscriber_buffer,
		    (unsigned long long)b->ring.last_id);
	write_own_event(s, EVENT_OVERFLOW, &f);
	strbuf_release(&f);
	log_warn("event stream of %s fell %zu bytes behind: cut off", s->remote,
		 http_stream_pending(s->s));
	/*
	 * close, not abort: abort would drop the overflow event with the rest of
	 * the queue. The queue is bounded (buffer + slack) and the server drops a
	 * client that does not read within its idle timeout.
	 */
	http_stream_close(s->s);
	s->s = NULL;
	b->stats.sse_overflows++;
	sub_doom(s);
}

/* Returns 0, or -1 when s was cut off. */
static int sub_write(struct sse_sub *s, const char *buf, size_t len)
{
	if (s->dead)
		return -1;
	if (http_stream_pending(s->s) + len > s->bus->cfg.subscriber_buffer) {
		sub_overflow(s, len);
		return -1;
	}
	if (http_stream_write(s->s, buf, len)) {
		sub_overflow(s, len);
		return -1;
	}
	s->last_write_ms = time_mono_ns() / 1000000u;
	return 0;
}

static void offer(struct event_bus *b, struct sse_sub *s, struct event *e)
{
	if (s->seen == e->id || s->dead)
		return;
	s->seen = e->id;
	if (!event_filter_match(&s->f, e) &&
	    !(e->type == EVENT_EVENT_STREAM_ATTACHED && s == b->attaching))
		return;
	if (!sub_write(s, e->frame, e->frame_len))
		b->stats.sse_written++;
}

static void fanout(struct event_bus *b, struct event *e)
{
	char path[512];
	size_t len;

	if (!e->app_id || !b->by_prefix.count) {
		for (size_t i = 0; i < b->all.n; i++)
			offer(b, b->all.v[i], e);
		return;
	}
	for (size_t i = 0; i < b->unindexed.n; i++)
		offer(b, b->unindexed.v[i], e);
	len = strlen(e->app_id);
	if (len >= sizeof(path)) {
		/* longer than any app id Marathon allows: visit everyone, the filter decides */
		for (size_t i = 0; i < b->all.n; i++)
			offer(b, b->all.v[i], e);
		return;
	}
	memcpy(path, e->app_id, len + 1);
	/* the app id and each ancestor: "/a/b", then "/a", then "/" */
	for (;;) {
		struct prefix_list *pl = hashmap_get(&b->by_prefix, path);

		if (pl)
			for (size_t i = 0; i < pl->subs.n; i++)
				offer(b, pl->subs.v[i], e);
		if (len <= 1)
			break;
		while (len > 1 && path[len - 1] != '/')
			len--;
		if (len > 1)
			len--; /* the '/' goes too, except the root's */
		path[len] = '\0';
	}
}

static void sub_free(struct sse_sub *s)
{
	event_filter_release(&s->f);
	free(s);
}

/* Removes the subscribers cut off or gone during fan-outs, and says so. */
static void reap(struct event_bus *b)
{
	while (b->doomed.n) {
		struct sse_sub *s = b->doomed.v[--b->doomed.n];
		char remote[sizeof(s->remote)];

		memcpy(remote, s->remote, sizeof(remote));
		index_del(b, s);
		b->stats.sse_subscribers--;
		sub_free(s);
		sub_publish_detached(b, remote);
	}
}

uint64_t event_bus_publish(struct event_bus *b, enum event_type type, const char *app_id,
			   const char *fields, size_t fields_len)
{
	struct event *e;

	if (!b)
		return 0;
	PACER_ASSERT(type < EVENT_RESYNC);
	e = event_new(event_ring_next_id(&b->ring), type, app_id, fields, fields_len);
	if (e->frame_len > EVENT_MAX_BYTES)
		log_warn("event %llu (%s) is %zu bytes, over the limit of %d",
			 (unsigned long long)e->id, event_type_name(type), e->frame_len,
			 EVENT_MAX_BYTES);
	if (e->frame_len > b->stats.largest_event)
		b->stats.largest_event = e->frame_len;
	event_ring_push(&b->ring, e);
	b->stats.published++;
	b->publishing++;
	fanout(b, e);
	event_callbacks_deliver(b->callbacks, e);
	b->publishing--;
	if (!b->publishing)
		reap(b);
	return e->id;
}

static void sub_publish_detached(struct event_bus *b, const char *remote)
{
	struct strbuf f = STRBUF_INIT;

	strbuf_addstr(&f, "\"remoteAddress\":");
	strbuf_add_json_str(&f, remote);
	event_bus_publish(b, EVENT_EVENT_STREAM_DETACHED, NULL, f.buf, f.len);
	strbuf_release(&f);
}

/* ---- SSE subscribers ---- */

static void stream_closed(struct http_stream *st, void *arg)
{
	struct sse_sub *s = arg;

	s->s = NULL;
	if (s->dead)
		return;
	sub_doom(s);
	if (!s->bus->publishing)
		reap(s->bus);
}

static void replay(struct event_bus *b, struct sse_sub *s, uint64_t last_id)
{
	size_t pos;
	enum event_ring_seek r = event_ring_seek(&b->ring, last_id, &pos);
	struct strbuf f = STRBUF_INIT;

	if (r == EVENT_RING_FOUND) {
		struct event *e;

		for (; (e = event_ring_at(&b->ring, pos)); pos++) {
			s->seen = e->id;
			if (event_filter_match(&s->f, e) && sub_write(s, e->frame, e->frame_len))
				return;
		}
		return;
	}
	b->stats.sse_resyncs++;
	strbuf_addf(&f, "\"lastEventId\":\"%llu\",\"oldestEventId\":\"%llu\",\"reason\":\"%s\","
			"\"message\":\"events after Last-Event-ID are no longer available: "
			"re-read the state\"",
		    (unsigned long long)last_id,
		    (unsigned long long)event_ring_first_id(&b->ring),
		    r == EVENT_RING_GONE ? "gone" : last_id < b->ring.base ? "restarted" : "unknown");
	write_own_event(s, EVENT_RESYNC, &f);
	strbuf_release(&f);
}

void event_bus_attach(struct event_bus *b, struct http_request *req, struct event_filter *f,
		      int has_last, uint64_t last_id, const char *remote)
{
	struct sse_sub *s = xcalloc(1, sizeof(*s));
	struct strbuf af = STRBUF_INIT;

	s->bus = b;
	s->f = *f;
	memset(f, 0, sizeof(*f));
	snprintf(s->remote, sizeof(s->remote), "%s", remote ? remote : "");
	http_response_header(req, "Cache-Control", "no-cache, no-store");
	http_response_header(req, "X-Accel-Buffering", "no");
	s->s = http_respond_stream(req, 200, "text/event-stream", stream_closed, s);
	http_stream_set_limit(s->s, b->cfg.subscriber_buffer + STREAM_SLACK);
	s->last_write_ms = time_mono_ns() / 1000000u;
	b->stats.sse_subscribers++;
	index_add(b, s);
	b->publishing++;
	if (has_last)
		replay(b, s, last_id);
	/* Marathon publishes event_stream_attached to everyone */
	strbuf_addstr(&af, "\"remoteAddress\":");
	strbuf_add_json_str(&af, s->remote);
	b->attaching = s;
	event_bus_publish(b, EVENT_EVENT_STREAM_ATTACHED, NULL, af.buf, af.len);
	b->attaching = NULL;
	strbuf_release(&af);
	b->publishing--;
	if (!b->publishing)
		reap(b);
}

/* Comments keep proxies from closing idle streams, and find departed clients. */
static void on_keepalive(uv_timer_t *t)
{
	struct event_bus *b = t->data;
	uint64_t now = time_mono_ns() / 1000000u, every = b->cfg.keepalive_s * 1000u;

	b->publishing++;
	for (size_t i = 0; i < b->all.n; i++) {
		struct sse_sub *s = b->all.v[i];

		if (!s->dead && now - s->last_write_ms >= every - every / 4)
			sub_write(s, KEEPALIVE_LINE, sizeof(KEEPALIVE_LINE) - 1);
	}
	b->publishing--;
	reap(b);
}

/* ---- life cycle ---- */

static void epoch_stored(void *arg, int status)
{
	if (status)
		log_error("cannot store the event id epoch: %s", pacer_strerror(status));
}

static int raise_epoch(struct store *store, uint64_t *epoch)
{
	struct store_batch *batch;
	char *val = NULL, buf[32];
	size_t len;
	uint64_t stored = 0, now = (uint64_t)time_now_ms() / 1000u;
	int err = store_get(store, "events/epoch", &val, &len);

	if (!err)
		stored = strtoull(val, NULL, 10);
	else if (err != PACER_ENOTFOUND)
		return err;
	free(val);
	/* the clock as a floor: a lost commit of the last raise cannot reuse an epoch */
	*epoch = stored + 1 > now ? stored + 1 : now;
	if (*epoch >= (1ull << 31))
		*epoch = stored + 1; /* past 2038: keep counting */
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)*epoch);
	batch = store_batch_new();
	store_batch_put(batch, "events/epoch", buf, strlen(buf));
	return store_commit(store, batch, epoch_stored, NULL);
}

int event_bus_new(struct event_bus **out, uv_loop_t *loop, struct store *store,
		  const struct event_bus_config *cfg)
{
	struct event_bus *b = xcalloc(1, sizeof(*b));
	uint64_t epoch = 0;
	int err;

	b->loop = loop;
	b->store = store;
	b->cfg = *cfg;
	if (!b->cfg.ring_size)
		b->cfg.ring_size = EVENT_BUS_DEFAULT_RING;
	if (!b->cfg.subscriber_buffer)
		b->cfg.subscriber_buffer = EVENT_BUS_DEFAULT_BUFFER;
	if (!b->cfg.keepalive_s)
		b->cfg.keepalive_s = EVENT_BUS_DEFAULT_KEEPALIVE_S;
	if (!b->cfg.callback_queue)
		b->cfg.callback_queue = EVENT_BUS_DEFAULT_CALLBACK_QUEUE;
	err = raise_epoch(store, &epoch);
	if (err) {
		log_error("cannot raise the event id epoch: %s", pacer_strerror(err));
		goto fail;
	}
	err = event_callbacks_new(&b->callbacks, loop, store, b->cfg.callback_queue);
	if (err)
		goto fail;
	event_ring_init(&b->ring, b->cfg.ring_size, epoch << 32);
	hashmap_init(&b->by_prefix);
	uv_timer_init(loop, &b->keepalive);
	b->keepalive.data = b;
	uv_timer_start(&b->keepalive, on_keepalive, b->cfg.keepalive_s * 1000u / 2,
		       b->cfg.keepalive_s * 1000u / 2);
	log_info("events: epoch %llu, ring of %zu events, %zu bytes per subscriber",
		 (unsigned long long)epoch, b->cfg.ring_size, b->cfg.subscriber_buffer);
	*out = b;
	return 0;
fail:
	free(b);
	return err;
}

static void bus_closed(uv_handle_t *h)
{
	free(h->data);
}

void event_bus_free(struct event_bus *b)
{
	const char *key;
	void *val;

	if (!b)
		return;
	b->publishing++; /* no detached events while closing */
	for (size_t i = 0; i < b->all.n; i++) {
		struct sse_sub *s = b->all.v[i];

		if (s->s)
			http_stream_close(s->s);
		sub_free(s);
	}
	for (size_t i = 0; hashmap_next(&b->by_prefix, &i, &key, &val);) {
		struct prefix_list *pl = val;

		free(pl->subs.v);
		free(pl->prefix);
		free(pl);
	}
	hashmap_release(&b->by_prefix);
	free(b->all.v);
	free(b->unindexed.v);
	free(b->doomed.v);
	event_callbacks_free(b->callbacks);
	event_ring_release(&b->ring);
	uv_timer_stop(&b->keepalive);
	uv_close((uv_handle_t *)&b->keepalive, bus_closed);
}

struct event_callbacks *event_bus_callbacks(struct event_bus *b)
{
	return b->callbacks;
}

void event_bus_get_stats(const struct event_bus *b, struct event_bus_stats *out)
{
	struct event_callbacks_stats cs;

	*out = b->stats;
	out->last_id = b->ring.last_id;
	out->ring_count = b->ring.count;
	out->ring_size = b->ring.cap;
	event_callbacks_get_stats(b->callbacks, &cs);
	out->cb_subscribers = cs.subscribers;
	out->cb_delivered = cs.delivered;
	out->cb_failed = cs.failed;
	out->cb_dropped = cs.dropped;
}

void event_bus_prometheus(const struct event_bus *b, struct strbuf *out)
{
	struct event_bus_stats s;

	event_bus_get_stats(b, &s);
#define C(name, help, v)                                                                   \
	strbuf_addf(out, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %llu\n", \
		    (unsigned long long)(v))
#define G(name, help, v)                                                                   \
	strbuf_addf(out, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %llu\n",   \
		    (unsigned long long)(v))
	C("pacer_events_published_total", "Events numbered and fanned out.", s.published);
	G("pacer_events_last_id", "The newest event id.", s.last_id);
	G("pacer_events_largest_bytes", "Bytes of the largest event frame.", s.largest_event);
	G("pacer_events_ring_events", "Events held for resuming.", s.ring_count);
	G("pacer_event_stream_subscribers", "Open /v2/events streams.", s.sse_subscribers);
	C("pacer_event_stream_written_total", "Events written to event streams.", s.sse_written);
	C("pacer_event_stream_overflows_total", "Event streams cut off for lagging.",
	  s.sse_overflows);
	C("pacer_event_stream_resyncs_total", "Resumes answered with event_stream_resync.",
	  s.sse_resyncs);
	G("pacer_event_callback_subscribers", "HTTP callback subscriptions.", s.cb_subscribers);
	C("pacer_event_callback_delivered_total", "Callback POSTs answered 2xx.", s.cb_delivered);
	C("pacer_event_callback_failed_total", "Callback attempts that failed and are retried.",
	  s.cb_failed);
	C("pacer_event_callback_dropped_total", "Events dropped from full callback queues.",
	  s.cb_dropped);
#undef C
#undef G
}
