/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler's agents and dictionaries: interned attribute values with
 * the agents that have each one, roles, and the free-capacity buckets.
 * Specs and constraints live in spec.c, the search in place.c.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "sched/sched_int.h"

uint32_t idxlist_add(struct idxlist *l, uint32_t agent)
{
	ALLOC_GROW(l->v, l->n + 1, l->alloc);
	l->v[l->n] = agent;
	return l->n++;
}

uint32_t idxlist_remove(struct idxlist *l, uint32_t pos)
{
	uint32_t moved = UINT32_MAX;

	PACER_ASSERT(pos < l->n);
	l->n--;
	if (pos != l->n) {
		l->v[pos] = l->v[l->n];
		moved = l->v[pos];
	}
	if (!l->n) {
		free(l->v);
		l->v = NULL;
		l->alloc = 0;
	}
	return moved;
}

static void idxlist_release(struct idxlist *l)
{
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static inline void *id_ptr(uint32_t id)
{
	return (void *)(uintptr_t)((uintptr_t)id + 1);
}

static inline uint32_t ptr_id(void *p)
{
	return p ? (uint32_t)((uintptr_t)p - 1) : UINT32_MAX;
}

uint32_t sched_field_id(struct sched *s, const char *name)
{
	uint32_t id = ptr_id(hashmap_get(&s->field_ids, name));

	if (id != UINT32_MAX)
		return id;
	ALLOC_GROW(s->fields, s->nfields + 1, s->fields_alloc);
	id = s->nfields++;
	s->fields[id].name = xstrdup(name);
	s->fields[id].nvalues = 0;
	hashmap_put(&s->field_ids, s->fields[id].name, id_ptr(id));
	return id;
}

uint32_t sched_role_id(struct sched *s, const char *name)
{
	uint32_t id = ptr_id(hashmap_get(&s->role_ids, name));

	if (id != UINT32_MAX)
		return id;
	if (s->nroles + 1 > s->roles_alloc) {
		uint32_t old = s->roles_alloc;

		ALLOC_GROW(s->roles, s->nroles + 1, s->roles_alloc);
		s->role_agents = xrealloc(s->role_agents, st_mult(s->roles_alloc, sizeof(*s->role_agents)));
		memset(s->role_agents + old, 0, (s->roles_alloc - old) * sizeof(*s->role_agents));
	}
	id = s->nroles++;
	s->roles[id] = xstrdup(name);
	hashmap_put(&s->role_ids, s->roles[id], id_ptr(id));
	return id;
}

uint32_t sched_value_ref(struct sched *s, uint32_t field, const char *text)
{
	struct value *v;
	uint32_t id;
	size_t prefix;

	strbuf_reset(&s->tmp);
	strbuf_addf(&s->tmp, "%u\x1f", field);
	prefix = s->tmp.len;
	strbuf_addstr(&s->tmp, text);
	id = ptr_id(hashmap_get(&s->value_ids, s->tmp.buf));
	if (id != UINT32_MAX) {
		s->values[id].refs++;
		return id;
	}
	if (s->nfree_values) {
		id = s->free_values[--s->nfree_values];
	} else {
		ALLOC_GROW(s->values, s->nvalues + 1, s->values_alloc);
		id = s->nvalues++;
	}
	v = &s->values[id];
	memset(v, 0, sizeof(*v));
	v->key = xstrdup(s->tmp.buf);
	v->text = v->key + prefix;
	v->field = field;
	v->refs = 1;
	hashmap_put(&s->value_ids, v->key, id_ptr(id));
	return id;
}

void sched_value_unref(struct sched *s, uint32_t id)
{
	struct value *v = &s->values[id];

	PACER_ASSERT(v->refs > 0);
	if (--v->refs)
		return;
	PACER_ASSERT(v->agents.n == 0);
	hashmap_remove(&s->value_ids, v->key);
	free(v->key);
	idxlist_release(&v->agents);
	v->key = NULL;
	ALLOC_GROW(s->free_values, s->nfree_values + 1, s->free_values_alloc);
	s->free_values[s->nfree_values++] = id;
}

/* Classes of free capacity: 0 below one unit, then one per power of two. */
static int log_class(int64_t milli, int64_t unit, int nclasses)
{
	uint64_t q;
	int c;

	if (milli < unit)
		return 0;
	q = (uint64_t)(milli / unit);
	c = 64 - __builtin_clzll(q);
	return c < nclasses ? c : nclasses - 1;
}

int sched_cpu_class(int64_t milli)
{
	return log_class(milli, 125, CPU_CLASSES); /* 1/8 cpu .. 2048 cpus */
}

int sched_mem_class(int64_t milli)
{
	return log_class(milli, 32000, MEM_CLASSES); /* 32 MB .. 512 GB */
}

static int cmp_bucket_spread(const void *a, const void *b)
{
	int x = *(const uint16_t *)a, y = *(const uint16_t *)b;
	int sx = x / MEM_CLASSES + x % MEM_CLASSES, sy = y / MEM_CLASSES + y % MEM_CLASSES;

	if (sx != sy)
		return sy - sx;
	return y - x;
}

struct sched *sched_new(const struct sched_options *opts)
{
	struct sched *s = xcalloc(1, sizeof(*s));

	if (opts)
		s->opts = *opts;
	if (!s->opts.sample)
		s->opts.sample = 32;
	hashmap_init(&s->agent_ids);
	hashmap_init(&s->value_ids);
	hashmap_init(&s->field_ids);
	hashmap_init(&s->role_ids);
	hashmap_init(&s->apps);
	strbuf_init(&s->tmp, 64);
	PACER_ASSERT(sched_field_id(s, "hostname") == FIELD_HOSTNAME);
	PACER_ASSERT(sched_role_id(s, "*") == 0);
	for (int i = 0; i < NBUCKETS; i++)
		s->bucket_order[i] = (uint16_t)i;
	qsort(s->bucket_order, NBUCKETS, sizeof(s->bucket_order[0]), cmp_bucket_spread);
	s->md = pcre2_match_data_create(1, NULL);
	PACER_ASSERT(s->md);
	return s;
}

static void agent_destroy(struct sched *s, struct agent *a)
{
	sched_value_unref(s, a->host);
	for (uint16_t i = 0; i < a->nattrs; i++)
		sched_value_unref(s, a->attrs[i].value);
	for (uint8_t i = 0; i < a->npools; i++) {
		free(a->pools[i].free);
		free(a->pools[i].ranges);
	}
	free(a->pools);
	free(a->attrs);
	free(a->id);
	memset(a, 0, sizeof(*a));
	a->state = ST_UNUSED;
	a->bucket = BUCKET_NONE;
}

void sched_free(struct sched *s)
{
	const char *key;
	void *val;

	if (!s)
		return;
	for (size_t i = 0; hashmap_next(&s->apps, &i, &key, &val);)
		app_free(val);
	hashmap_release(&s->apps);
	for (uint32_t i = 0; i < s->nslots; i++) {
		struct agent *a = &s->agents[i];

		if (a->state == ST_UNUSED)
			continue;
		/* values, lists and buckets are freed wholesale below */
		free(a->id);
		for (uint8_t k = 0; k < a->npools; k++) {
			free(a->pools[k].free);
			free(a->pools[k].ranges);
		}
		free(a->pools);
		free(a->attrs);
	}
	free(s->agents);
	free(s->free_slots);
	hashmap_release(&s->agent_ids);
	for (uint32_t i = 0; i < s->nvalues; i++) {
		free(s->values[i].key);
		idxlist_release(&s->values[i].agents);
	}
	free(s->values);
	free(s->free_values);
	hashmap_release(&s->value_ids);
	for (uint32_t i = 0; i < s->nfields; i++)
		free(s->fields[i].name);
	free(s->fields);
	hashmap_release(&s->field_ids);
	for (uint32_t i = 0; i < s->nroles; i++) {
		free(s->roles[i]);
		idxlist_release(&s->role_agents[i]);
	}
	free(s->roles);
	free(s->role_agents);
	hashmap_release(&s->role_ids);
	for (int i = 0; i < NBUCKETS; i++)
		idxlist_release(&s->buckets[i]);
	idxlist_release(&s->gpu_agents);
	pcre2_match_data_free(s->md);
	strbuf_release(&s->tmp);
	free(s);
}

static void bucket_leave(struct sched *s, uint32_t idx)
{
	struct agent *a = &s->agents[idx];
	uint32_t moved;

	if (a->bucket == BUCKET_NONE)
		return;
	moved = idxlist_remove(&s->buckets[a->bucket], a->bucket_pos);
	if (moved != UINT32_MAX)
		s->agents[moved].bucket_pos = a->bucket_pos;
	a->bucket = BUCKET_NONE;
}

void sched_agent_rebucket(struct sched *s, uint32_t idx)
{
	struct agent *a = &s->agents[idx];
	const struct pool *p;
	uint16_t b;

	if (a->state != ST_ACTIVE || a->star < 0) {
		bucket_leave(s, idx);
		return;
	}
	p = &a->pools[a->star];
	b = (uint16_t)(sched_cpu_class(p->total[SCHED_CPUS] - p->used[SCHED_CPUS]) * MEM_CLASSES +
		       sched_mem_class(p->total[SCHED_MEM] - p->used[SCHED_MEM]));
	if (b == a->bucket)
		return;
	bucket_leave(s, idx);
	a->bucket = b;
	a->bucket_pos = idxlist_add(&s->buckets[b], idx);
}

/* Joins the agent list of a value; returns the position. */
static uint32_t value_join(struct sched *s, uint32_t value, uint32_t idx)
{
	struct value *v = &s->values[value];

	if (!v->agents.n)
		s->fields[v->field].nvalues++;
	return idxlist_add(&v->agents, idx);
}

static void value_leave(struct sched *s, uint32_t value, uint32_t pos)
{
	struct value *v = &s->values[value];
	uint32_t moved = idxlist_remove(&v->agents, pos);

	if (moved != UINT32_MAX) {
		struct agent *m = &s->agents[moved];

		if (v->field == FIELD_HOSTNAME) {
			m->host_pos = pos;
		} else {
			for (uint16_t i = 0; i < m->nattrs; i++)
				if (m->attrs[i].field == v->field)
					m->attrs[i].pos = pos;
		}
	}
	if (!v->agents.n)
		s->fields[v->field].nvalues--;
}

int sched_agent_add(struct sched *s, const char *id, const char *hostname,
		    const struct sched_resources *res, const struct sched_attrs *attrs, uint32_t *index)
{
	struct agent *a;
	uint32_t idx;

	if (hashmap_get(&s->agent_ids, id))
		return PACER_ECONFLICT;
	if (s->nfree_slots) {
		idx = s->free_slots[--s->nfree_slots];
	} else {
		ALLOC_GROW(s->agents, s->nslots + 1, s->slots_alloc);
		idx = s->nslots++;
	}
	a = &s->agents[idx];
	memset(a, 0, sizeof(*a));
	a->id = xstrdup(id);
	a->bucket = BUCKET_NONE;
	a->star = -1;
	a->state = ST_ACTIVE;
	hashmap_put(&s->agent_ids, a->id, id_ptr(idx));

	a->host = sched_value_ref(s, FIELD_HOSTNAME, hostname);
	a->host_pos = value_join(s, a->host, idx);
	if (attrs && attrs->n) {
		a->attrs = xcalloc(attrs->n, sizeof(*a->attrs));
		for (size_t i = 0; i < attrs->n; i++) {
			uint32_t f;
			int dup = 0;

			if (!strcmp(attrs->v[i].name, "hostname"))
				continue; /* the hostname field always means the hostname */
			f = sched_field_id(s, attrs->v[i].name);
			a = &s->agents[idx];
			for (uint16_t k = 0; k < a->nattrs; k++)
				dup |= a->attrs[k].field == f;
			if (dup)
				continue; /* Marathon uses the first one */
			a->attrs[a->nattrs].field = f;
			a->attrs[a->nattrs].value = sched_value_ref(s, f, attrs->v[i].value);
			a->attrs[a->nattrs].pos = value_join(s, a->attrs[a->nattrs].value, idx);
			a->nattrs++;
		}
	}
	a = &s->agents[idx];
	if (res && res->npools) {
		PACER_ASSERT(res->npools <= 127);
		a->pools = xcalloc(res->npools, sizeof(*a->pools));
		for (size_t i = 0; i < res->npools; i++) {
			const struct sched_pool_desc *d = &res->pools[i];
			uint32_t role = sched_role_id(s, d->role);
			struct pool *p = &s->agents[idx].pools[i];

			p->role = role;
			memcpy(p->total, d->scalar, sizeof(p->total));
			if (d->nports) {
				p->free = xmalloc(st_mult(d->nports, sizeof(*p->free)));
				memcpy(p->free, d->ports, d->nports * sizeof(*p->free));
				p->nfree = p->free_alloc = (uint32_t)d->nports;
				p->ranges = xmalloc(st_mult(d->nports, sizeof(*p->ranges)));
				memcpy(p->ranges, d->ports, d->nports * sizeof(*p->ranges));
				p->nranges = (uint32_t)d->nports;
				for (size_t k = 0; k < d->nports; k++)
					p->total_ports += (uint32_t)(d->ports[k].end - d->ports[k].begin) + 1;
				p->free_ports = p->total_ports;
				p->port_cursor = d->ports[0].begin;
			}
			if (role == 0)
				s->agents[idx].star = (int8_t)i;
			else
				p->role_pos = idxlist_add(&s->role_agents[role], idx);
			if (p->total[SCHED_GPUS] > 0)
				s->agents[idx].has_gpus = 1;
		}
		a = &s->agents[idx];
		a->npools = (uint8_t)res->npools;
	}
	if (a->has_gpus)
		a->gpu_pos = idxlist_add(&s->gpu_agents, idx);
	s->live++;
	sched_agent_rebucket(s, idx);
	if (index)
		*index = idx;
	return 0;
}

static struct agent *live_agent(const struct sched *s, uint32_t idx)
{
	if (idx >= s->nslots || s->agents[idx].state >= ST_REMOVED)
		return NULL;
	return &s->agents[idx];
}

uint32_t sched_agent_find(const struct sched *s, const char *id)
{
	return ptr_id(hashmap_get(&s->agent_ids, id));
}

int sched_agent_set_state(struct sched *s, uint32_t idx, enum sched_agent_state state)
{
	struct agent *a = live_agent(s, idx);

	if (!a)
		return PACER_ENOTFOUND;
	switch (state) {
	case SCHED_AGENT_ACTIVE:
		a->state = ST_ACTIVE;
		break;
	case SCHED_AGENT_MAINTENANCE:
		a->state = ST_MAINTENANCE;
		break;
	case SCHED_AGENT_UNREACHABLE:
		a->state = ST_UNREACHABLE;
		break;
	default:
		return PACER_EINVALID;
	}
	sched_agent_rebucket(s, idx);
	return 0;
}

int sched_agent_remove(struct sched *s, uint32_t idx)
{
	struct agent *a = live_agent(s, idx);
	uint32_t moved;

	if (!a)
		return PACER_ENOTFOUND;
	a->state = ST_REMOVED;
	bucket_leave(s, idx);
	value_leave(s, a->host, a->host_pos);
	for (uint16_t i = 0; i < a->nattrs; i++)
		value_leave(s, a->attrs[i].value, a->attrs[i].pos);
	for (uint8_t i = 0; i < a->npools; i++) {
		struct pool *p = &a->pools[i];

		if (p->role == 0)
			continue;
		moved = idxlist_remove(&s->role_agents[p->role], p->role_pos);
		if (moved != UINT32_MAX) {
			struct agent *m = &s->agents[moved];

			for (uint8_t k = 0; k < m->npools; k++)
				if (m->pools[k].role == p->role)
					m->pools[k].role_pos = p->role_pos;
		}
	}
	if (a->has_gpus) {
		moved = idxlist_remove(&s->gpu_agents, a->gpu_pos);
		if (moved != UINT32_MAX)
			s->agents[moved].gpu_pos = a->gpu_pos;
	}
	hashmap_remove(&s->agent_ids, a->id);
	s->live--;
	sched_agent_reap(s, idx);
	return 0;
}

void sched_agent_reap(struct sched *s, uint32_t idx)
{
	struct agent *a = &s->agents[idx];

	if (a->state != ST_REMOVED || a->ninstances)
		return;
	agent_destroy(s, a);
	ALLOC_GROW(s->free_slots, s->nfree_slots + 1, s->free_slots_alloc);
	s->free_slots[s->nfree_slots++] = idx;
}

size_t sched_agent_count(const struct sched *s)
{
	return s->live;
}

const char *sched_agent_id(const struct sched *s, uint32_t idx)
{
	const struct agent *a = live_agent(s, idx);

	return a ? a->id : NULL;
}

const char *sched_agent_hostname(const struct sched *s, uint32_t idx)
{
	const struct agent *a = live_agent(s, idx);

	return a ? s->values[a->host].text : NULL;
}

int sched_agent_usage(const struct sched *s, uint32_t idx, struct sched_usage *used,
		      struct sched_usage *total)
{
	const struct agent *a = live_agent(s, idx);
	struct sched_usage u = {0}, t = {0};

	if (!a)
		return PACER_ENOTFOUND;
	for (uint8_t i = 0; i < a->npools; i++) {
		const struct pool *p = &a->pools[i];

		u.cpus += sched_unmilli(p->used[SCHED_CPUS]);
		u.mem += sched_unmilli(p->used[SCHED_MEM]);
		u.disk += sched_unmilli(p->used[SCHED_DISK]);
		u.gpus += sched_unmilli(p->used[SCHED_GPUS]);
		u.ports += p->total_ports - p->free_ports;
		t.cpus += sched_unmilli(p->total[SCHED_CPUS]);
		t.mem += sched_unmilli(p->total[SCHED_MEM]);
		t.disk += sched_unmilli(p->total[SCHED_DISK]);
		t.gpus += sched_unmilli(p->total[SCHED_GPUS]);
		t.ports += p->total_ports;
	}
	u.instances = t.instances = a->ninstances;
	if (used)
		*used = u;
	if (total)
		*total = t;
	return 0;
}
