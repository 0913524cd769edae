/* SPDX-License-Identifier: Apache-2.0 */
/* The ring of recent events; see ring.h. */
#include "events/ring.h"

#include <stdlib.h>

#include "base/log.h"
#include "base/xalloc.h"

void event_ring_init(struct event_ring *r, size_t cap, uint64_t base)
{
	PACER_ASSERT(cap >= 1);
	r->_slots = xcalloc(cap, sizeof(*r->_slots));
	r->cap = cap;
	r->_head = 0;
	r->count = 0;
	r->base = base;
	r->last_id = base;
}

void event_ring_release(struct event_ring *r)
{
	for (size_t i = 0; i < r->count; i++)
		event_unref(r->_slots[(r->_head + i) % r->cap]);
	free(r->_slots);
	r->_slots = NULL;
	r->count = 0;
}

void event_ring_push(struct event_ring *r, struct event *e)
{
	PACER_ASSERT(e->id == r->last_id + 1);
	if (r->count == r->cap) {
		event_unref(r->_slots[r->_head]);
		r->_slots[r->_head] = e;
		r->_head = (r->_head + 1) % r->cap;
	} else {
		r->_slots[(r->_head + r->count) % r->cap] = e;
		r->count++;
	}
	r->last_id = e->id;
}

struct event *event_ring_at(const struct event_ring *r, size_t i)
{
	if (i >= r->count)
		return NULL;
	return r->_slots[(r->_head + i) % r->cap];
}

uint64_t event_ring_first_id(const struct event_ring *r)
{
	return r->last_id + 1 - r->count;
}

enum event_ring_seek event_ring_seek(const struct event_ring *r, uint64_t last_seen, size_t *pos)
{
	uint64_t first = event_ring_first_id(r);

	if (last_seen < r->base || last_seen > r->last_id)
		return EVENT_RING_FOREIGN;
	if (last_seen + 1 < first)
		return EVENT_RING_GONE;
	*pos = (size_t)(last_seen + 1 - first);
	return EVENT_RING_FOUND;
}
