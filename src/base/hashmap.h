/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A hash map from NUL-terminated string keys to pointers: open addressing
 * with linear probing, O(1) lookups, no allocation per entry. The map does
 * not own keys or values: a key must stay valid (usually it lives inside the
 * value) until its entry is removed. The hash is seeded per map so that ids
 * chosen by clients cannot be crafted to collide across servers.
 */
#ifndef PACER_BASE_HASHMAP_H
#define PACER_BASE_HASHMAP_H

#include <stddef.h>
#include <stdint.h>

struct hashmap_slot {
	const char *key;  /* NULL: empty; HASHMAP_TOMBSTONE: removed */
	void *value;
	uint64_t hash;
};

struct hashmap {
	struct hashmap_slot *slots;
	size_t cap;        /* power of two, or 0 */
	size_t count;      /* live entries */
	size_t used;       /* live + tombstones */
	uint64_t seed;
};

void hashmap_init(struct hashmap *m);
void hashmap_release(struct hashmap *m);
void *hashmap_get(const struct hashmap *m, const char *key);
/* Inserts or replaces; returns the previous value or NULL. */
void *hashmap_put(struct hashmap *m, const char *key, void *value);
/* Removes key; returns its value or NULL. */
void *hashmap_remove(struct hashmap *m, const char *key);
static inline size_t hashmap_count(const struct hashmap *m)
{
	return m->count;
}

/*
 * Iteration: for (size_t i = 0; hashmap_next(m, &i, &key, &value);) ...
 * The map must not change during iteration.
 */
int hashmap_next(const struct hashmap *m, size_t *pos, const char **key, void **value);

#endif
