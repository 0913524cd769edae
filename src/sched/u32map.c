/* SPDX-License-Identifier: Apache-2.0 */
/* Counter map with linear probing; see u32map.h. */
#include "sched/u32map.h"

#include <stdlib.h>

#include "base/log.h"
#include "base/xalloc.h"

static inline uint32_t slot_of(const struct u32map *m, uint32_t key)
{
	/* Fibonacci hashing: dense ids spread over the whole table */
	return (uint32_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> 32) & (m->cap - 1);
}

void u32map_init(struct u32map *m)
{
	m->slots = NULL;
	m->cap = m->count = 0;
}

void u32map_release(struct u32map *m)
{
	free(m->slots);
	u32map_init(m);
}

static void resize(struct u32map *m, uint32_t ncap)
{
	struct u32map_slot *old = m->slots;
	uint32_t ocap = m->cap;

	m->slots = xmalloc(st_mult(ncap, sizeof(*m->slots)));
	for (uint32_t i = 0; i < ncap; i++)
		m->slots[i].key = U32MAP_EMPTY;
	m->cap = ncap;
	for (uint32_t i = 0; i < ocap; i++) {
		uint32_t j;

		if (old[i].key == U32MAP_EMPTY)
			continue;
		j = slot_of(m, old[i].key);
		while (m->slots[j].key != U32MAP_EMPTY)
			j = (j + 1) & (ncap - 1);
		m->slots[j] = old[i];
	}
	free(old);
}

uint32_t u32map_get(const struct u32map *m, uint32_t key)
{
	uint32_t i;

	if (!m->count)
		return 0;
	for (i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
		if (m->slots[i].key == key)
			return m->slots[i].val;
		if (m->slots[i].key == U32MAP_EMPTY)
			return 0;
	}
}

/* Empties slot i and shifts later members of its probe chain back. */
static void delete_at(struct u32map *m, uint32_t i)
{
	uint32_t mask = m->cap - 1, j = i;

	for (;;) {
		uint32_t home;

		j = (j + 1) & mask;
		if (m->slots[j].key == U32MAP_EMPTY)
			break;
		home = slot_of(m, m->slots[j].key);
		/* move j into the hole at i unless its home lies in (i, j] */
		if (((j - home) & mask) >= ((j - i) & mask)) {
			m->slots[i] = m->slots[j];
			i = j;
		}
	}
	m->slots[i].key = U32MAP_EMPTY;
	m->count--;
}

uint32_t u32map_add(struct u32map *m, uint32_t key, int32_t delta)
{
	uint32_t i;

	PACER_ASSERT(key != U32MAP_EMPTY);
	if (m->cap) {
		for (i = slot_of(m, key);; i = (i + 1) & (m->cap - 1)) {
			struct u32map_slot *s = &m->slots[i];

			if (s->key == key) {
				PACER_ASSERT(delta >= 0 || s->val >= (uint32_t)-(int64_t)delta);
				s->val += (uint32_t)delta;
				if (s->val)
					return s->val;
				delete_at(m, i);
				if (m->cap > 8 && m->count * 8 < m->cap)
					resize(m, m->cap / 2);
				return 0;
			}
			if (s->key == U32MAP_EMPTY)
				break;
		}
	}
	PACER_ASSERT(delta >= 0);
	if (!delta)
		return 0;
	if ((m->count + 1) * 4 > m->cap * 3) {
		resize(m, m->cap ? m->cap * 2 : 4);
	}
	for (i = slot_of(m, key); m->slots[i].key != U32MAP_EMPTY; i = (i + 1) & (m->cap - 1))
		;
	m->slots[i].key = key;
	m->slots[i].val = (uint32_t)delta;
	m->count++;
	return (uint32_t)delta;
}

int u32map_next(const struct u32map *m, size_t *pos, uint32_t *key, uint32_t *count)
{
	for (; *pos < m->cap; (*pos)++) {
		const struct u32map_slot *s = &m->slots[*pos];

		if (s->key != U32MAP_EMPTY) {
			*key = s->key;
			*count = s->val;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
