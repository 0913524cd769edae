/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A counter map from uint32_t keys to uint32_t counts: open addressing with
 * linear probing and backward-shift deletion (no tombstones), 8 bytes per
 * slot. A count of 0 means "absent": u32map_add removes an entry whose count
 * drops to 0, so the map holds exactly the keys with a positive count. The
 * scheduler keys it by its own dense ids (agents, attribute values), never
 * by client input, so a fixed multiplicative hash is enough.
 */
#ifndef PACER_SCHED_U32MAP_H
#define PACER_SCHED_U32MAP_H

#include <stddef.h>
#include <stdint.h>

/* The one key that cannot be stored. */
#define U32MAP_EMPTY UINT32_MAX

struct u32map_slot {
	uint32_t key;
	uint32_t val;
};

struct u32map {
	struct u32map_slot *slots; /* NULL while cap is 0 */
	uint32_t cap;              /* power of two, or 0 */
	uint32_t count;            /* keys present */
};

void u32map_init(struct u32map *m);
void u32map_release(struct u32map *m);
/* The count of key, 0 when absent. */
uint32_t u32map_get(const struct u32map *m, uint32_t key);
/*
 * Adds delta (which may be negative) to key's count and returns the new
 * count. The count must not go below 0 (asserted); at 0 the entry goes.
 */
uint32_t u32map_add(struct u32map *m, uint32_t key, int32_t delta);
/*
 * Iteration: for (size_t i = 0; u32map_next(m, &i, &key, &count);) ...
 * The map must not change during iteration.
 */
int u32map_next(const struct u32map *m, size_t *pos, uint32_t *key, uint32_t *count);

#endif
