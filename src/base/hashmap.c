/* SPDX-License-Identifier: Apache-2.0 */
/* Open-addressing string hash map; see hashmap.h. */
#include "base/hashmap.h"

#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "base/xalloc.h"

static const char tombstone_key[1];
#define HASHMAP_TOMBSTONE tombstone_key

static uint64_t hash_str(uint64_t seed, const char *s)
{
	/* FNV-1a over the bytes, then a murmur3 finalizer to spread the seed */
	uint64_t h = 0xcbf29ce484222325ull ^ seed;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

void hashmap_init(struct hashmap *m)
{
	memset(m, 0, sizeof(*m));
	if (getrandom(&m->seed, sizeof(m->seed), GRND_NONBLOCK) != sizeof(m->seed))
		m->seed = (uint64_t)(uintptr_t)m ^ 0x9e3779b97f4a7c15ull;
}

void hashmap_release(struct hashmap *m)
{
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = m->used = 0;
}

static struct hashmap_slot *find(const struct hashmap *m, const char *key, uint64_t h)
{
	size_t mask = m->cap - 1, i = h & mask;

	for (;;) {
		struct hashmap_slot *s = &m->slots[i];

		if (!s->key)
			return NULL;
		if (s->key != HASHMAP_TOMBSTONE && s->hash == h && !strcmp(s->key, key))
			return s;
		i = (i + 1) & mask;
	}
}

static void insert_slot(struct hashmap *m, const char *key, void *value, uint64_t h)
{
	size_t mask = m->cap - 1, i = h & mask;

	while (m->slots[i].key && m->slots[i].key != HASHMAP_TOMBSTONE)
		i = (i + 1) & mask;
	if (!m->slots[i].key)
		m->used++;
	m->slots[i].key = key;
	m->slots[i].value = value;
	m->slots[i].hash = h;
	m->count++;
}

static void rehash(struct hashmap *m, size_t ncap)
{
	struct hashmap_slot *old = m->slots;
	size_t ocap = m->cap;

	m->slots = xcalloc(ncap, sizeof(*m->slots));
	m->cap = ncap;
	m->count = m->used = 0;
	for (size_t i = 0; i < ocap; i++)
		if (old[i].key && old[i].key != HASHMAP_TOMBSTONE)
			insert_slot(m, old[i].key, old[i].value, old[i].hash);
	free(old);
}

void *hashmap_get(const struct hashmap *m, const char *key)
{
	struct hashmap_slot *s;

	if (!m->count)
		return NULL;
	s = find(m, key, hash_str(m->seed, key));
	return s ? s->value : NULL;
}

void *hashmap_put(struct hashmap *m, const char *key, void *value)
{
	uint64_t h = hash_str(m->seed, key);
	struct hashmap_slot *s;

	if (m->cap) {
		s = find(m, key, h);
		if (s) {
			void *prev = s->value;

			s->key = key;
			s->value = value;
			return prev;
		}
	}
	/* keep the load (tombstones included) under 3/4 */
	if (st_mult(m->used + 1, 4) > st_mult(m->cap, 3))
		rehash(m, m->count * 2 + 2 > m->cap ? (m->cap ? m->cap * 2 : 16) : m->cap);
	insert_slot(m, key, value, h);
	return NULL;
}

void *hashmap_remove(struct hashmap *m, const char *key)
{
	struct hashmap_slot *s;
	void *value;

	if (!m->count)
		return NULL;
	s = find(m, key, hash_str(m->seed, key));
	if (!s)
		return NULL;
	value = s->value;
	s->key = HASHMAP_TOMBSTONE;
	s->value = NULL;
	m->count--;
	return value;
}

int hashmap_next(const struct hashmap *m, size_t *pos, const char **key, void **value)
{
	for (; *pos < m->cap; (*pos)++) {
		struct hashmap_slot *s = &m->slots[*pos];

		if (s->key && s->key != HASHMAP_TOMBSTONE) {
			*key = s->key;
			*value = s->value;
			(*pos)++;
			return 1;
		}
	}
	return 0;
}
