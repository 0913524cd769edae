/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The scheduler's private state, shared by sched.c (agents, dictionaries,
 * indexes), spec.c (specs, per-app counters, constraint checks) and place.c
 * (candidate search, allocation, refusals). Not part of the public API.
 */
#ifndef PACER_SCHED_SCHED_INT_H
#define PACER_SCHED_SCHED_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdint.h>

#include "base/hashmap.h"
#include "base/strbuf.h"
#include "sched/sched.h"
#include "sched/u32map.h"

/* A list of agent indexes; members remember their position for O(1) removal. */
struct idxlist {
	uint32_t *v;
	uint32_t n, alloc;
	uint32_t cursor; /* round-robin start for the next search */
};

/* The field id of "hostname"; attribute names get ids from 1. */
#define FIELD_HOSTNAME 0
/* A value id: an agent lacks the attribute (Marathon's None group). */
#define VALUE_MISSING (UINT32_MAX - 1)
#define VALUE_NONE UINT32_MAX

/* One (field, text) pair, interned: agents and specs refer to it by id. */
struct value {
	char *key;           /* "<field>\x1f<text>", the key in value_ids; NULL: free slot */
	const char *text;    /* inside key */
	uint32_t field;
	uint32_t refs;       /* agents and specs holding the id */
	struct idxlist agents;
};

struct field {
	char *name;
	uint32_t nvalues; /* values that at least one agent has */
};

struct agent_attr {
	uint32_t field, value, pos; /* pos: in values[value].agents */
};

/* Free port ranges of a pool, sorted and disjoint. */
struct pool {
	uint32_t role;
	uint32_t free_ports;         /* single ports free */
	uint32_t total_ports;
	uint32_t nfree, free_alloc;  /* free ranges */
	uint32_t role_pos;           /* in role_agents[role], for a reserved role */
	uint16_t port_cursor;        /* dynamic ports are taken from here on */
	int64_t total[SCHED_NSCALARS];
	int64_t used[SCHED_NSCALARS];
	struct sched_port_range *free;
	struct sched_port_range *ranges; /* all the pool's ports */
	uint32_t nranges;
};

enum agent_state_int { ST_ACTIVE, ST_MAINTENANCE, ST_UNREACHABLE, ST_REMOVED, ST_UNUSED };

struct agent {
	char *id;
	uint32_t host;         /* value id of the hostname */
	uint32_t host_pos;     /* in values[host].agents */
	uint8_t state;
	uint8_t npools;
	int8_t star;           /* pool index of role "*", or -1 */
	uint8_t has_gpus;
	uint16_t nattrs;
	uint16_t bucket;       /* BUCKET_NONE when in no bucket */
	uint32_t bucket_pos;
	uint32_t gpu_pos;
	uint32_t ninstances;
	struct pool *pools;
	struct agent_attr *attrs;
};

#define CPU_CLASSES 16
#define MEM_CLASSES 16
#define NBUCKETS (CPU_CLASSES * MEM_CLASSES)
#define BUCKET_NONE UINT16_MAX

enum cons_op { OP_UNIQUE, OP_CLUSTER, OP_GROUP_BY, OP_LIKE, OP_UNLIKE, OP_MAX_PER, OP_IS };

struct cons {
	enum cons_op op;
	uint32_t field;
	uint32_t value;  /* IS, CLUSTER with a value: the value id (a reference); else VALUE_NONE */
	uint32_t num;    /* MAX_PER: the maximum; GROUP_BY: the minimum number of groups */
	pcre2_code *re;  /* LIKE, UNLIKE */
	int has_value;
};

struct sched_spec {
	int64_t milli[SCHED_NSCALARS];
	uint16_t nports, ndynamic;
	uint16_t *ports;
	uint32_t nroles;
	uint32_t roles[SCHED_MAX_ROLES];
	uint32_t ncons;
	struct cons *cons;
};

/* An app's instance counts per value of one field (Marathon's groupBy). */
struct fcount {
	uint32_t field;
	uint32_t ngroups;  /* values with count > 0, VALUE_MISSING included */
	uint32_t min;      /* smallest count among them (when !dirty) */
	uint32_t nmin;     /* how many have it */
	int dirty;         /* min unknown: recompute on demand */
	struct u32map counts;
};

struct sched_app {
	char *id;
	uint32_t ninstances;
	uint32_t nfields;
	struct fcount *fields;
	struct u32map per_agent;
};

struct sched {
	struct sched_options opts;

	struct agent *agents;
	uint32_t nslots, slots_alloc; /* slots ever used */
	uint32_t *free_slots;
	uint32_t nfree_slots, free_slots_alloc;
	uint32_t live;                /* added, not removed */
	struct hashmap agent_ids;     /* id -> slot + 1 */
	uint32_t scan_cursor;

	struct value *values;
	uint32_t nvalues, values_alloc;
	uint32_t *free_values;
	uint32_t nfree_values, free_values_alloc;
	struct hashmap value_ids;     /* key -> id + 1 */

	struct field *fields;
	uint32_t nfields, fields_alloc;
	struct hashmap field_ids;     /* name -> id + 1 */

	char **roles;
	struct idxlist *role_agents;  /* agents with a pool of that role (not "*") */
	uint32_t nroles, roles_alloc;
	struct hashmap role_ids;      /* name -> id + 1 */

	struct idxlist buckets[NBUCKETS];
	uint16_t bucket_order[NBUCKETS]; /* most free first */
	struct idxlist gpu_agents;

	struct hashmap apps;          /* id -> struct sched_app */
	pcre2_match_data *md;
	struct strbuf tmp;
};

/* sched.c */
uint32_t idxlist_add(struct idxlist *l, uint32_t agent);
/* Removes the member at pos; returns the agent moved into pos, or UINT32_MAX. */
uint32_t idxlist_remove(struct idxlist *l, uint32_t pos);
uint32_t sched_field_id(struct sched *s, const char *name);
uint32_t sched_role_id(struct sched *s, const char *name);
/* Interns (field, text) and takes a reference. */
uint32_t sched_value_ref(struct sched *s, uint32_t field, const char *text);
void sched_value_unref(struct sched *s, uint32_t value);
/* The agent's value for a field, or VALUE_MISSING. */
static inline uint32_t agent_value(const struct agent *a, uint32_t field)
{
	if (field == FIELD_HOSTNAME)
		return a->host;
	for (uint16_t i = 0; i < a->nattrs; i++)
		if (a->attrs[i].field == field)
			return a->attrs[i].value;
	return VALUE_MISSING;
}
/* Puts the agent in the bucket its free "*" resources say (or none). */
void sched_agent_rebucket(struct sched *s, uint32_t agent);
/* Frees a removed agent's slot once its last instance is gone. */
void sched_agent_reap(struct sched *s, uint32_t agent);
int sched_cpu_class(int64_t milli);
int sched_mem_class(int64_t milli);

/* spec.c */
struct fcount *app_fcount(struct sched *s, struct sched_app *app, uint32_t field);
uint32_t fcount_min(struct fcount *fc);
void app_count(struct sched *s, struct sched_app *app, uint32_t agent, int32_t delta);
void app_free(struct sched_app *app);
/*
 * Checks one constraint for an agent; fc is the app's counter for its
 * field. Returns 1 when met, 0 when not.
 */
int cons_check(struct sched *s, const struct sched_app *app, const struct cons *c,
	       struct fcount *fc, const struct agent *a);

#endif
