/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The bounded ring of recent events, numbered without gaps. Ids are
 * base + 1, base + 2, ... where base is chosen once per server start
 * (events/bus.h: the epoch in the high 32 bits), so ids keep increasing
 * across restarts while ids of an earlier start are recognizably older
 * than anything this ring ever held.
 *
 * The ring owns one reference to each event it holds and drops the oldest
 * when full. Resuming after id X is possible while X is the newest id or X
 * is at most one before the oldest held: then every event after X is still
 * here, in order.
 */
#ifndef PACER_EVENTS_RING_H
#define PACER_EVENTS_RING_H

#include <stddef.h>
#include <stdint.h>

#include "events/event.h"

struct event_ring {
	struct event **_slots;
	size_t cap, _head, count;  /* _head: index of the oldest event */
	uint64_t base;             /* ids of this ring are > base */
	uint64_t last_id;          /* the newest id issued; base when none */
};

/* cap >= 1 events. */
void event_ring_init(struct event_ring *r, size_t cap, uint64_t base);
/* Drops every reference the ring holds. */
void event_ring_release(struct event_ring *r);

/* The id the next pushed event must carry. */
static inline uint64_t event_ring_next_id(const struct event_ring *r)
{
	return r->last_id + 1;
}
/* Appends e (its id must be event_ring_next_id), taking its reference. */
void event_ring_push(struct event_ring *r, struct event *e);
/* The i-th event held, 0 the oldest; NULL past the end. Borrowed. */
struct event *event_ring_at(const struct event_ring *r, size_t i);
/* The id of the oldest event held, or last_id + 1 when empty. */
uint64_t event_ring_first_id(const struct event_ring *r);

enum event_ring_seek {
	EVENT_RING_FOUND,   /* *pos: index of the first event after the id */
	EVENT_RING_GONE,    /* events after the id have left the ring */
	EVENT_RING_FOREIGN, /* not an id of this ring: earlier start, or never issued */
};
enum event_ring_seek event_ring_seek(const struct event_ring *r, uint64_t last_seen,
				     size_t *pos);

#endif
