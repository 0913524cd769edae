/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The search for an agent, allocation and release, and the refusal
 * counts. Candidates come, in this order of preference, from the agents
 * with the value an IS or CLUSTER constraint pins, from the agents with the
 * one reserved role the spec accepts, from the agents with GPUs, or else
 * from the free-capacity buckets; a bounded sample is tried before a full
 * scan of all agents, which is also what counts the refusals.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "sched/sched_int.h"

static const char *const reason_names[SCHED_NREASONS] = {
	[SCHED_R_UNFULFILLED_ROLE] = "UnfulfilledRole",
	[SCHED_R_UNFULFILLED_CONSTRAINT] = "UnfulfilledConstraint",
	[SCHED_R_NO_RESERVATION] = "NoCorrespondingReservationFound",
	[SCHED_R_AGENT_MAINTENANCE] = "AgentMaintenance",
	[SCHED_R_INSUFFICIENT_CPUS] = "InsufficientCpus",
	[SCHED_R_INSUFFICIENT_MEMORY] = "InsufficientMemory",
	[SCHED_R_INSUFFICIENT_DISK] = "InsufficientDisk",
	[SCHED_R_INSUFFICIENT_GPUS] = "InsufficientGpus",
	[SCHED_R_INSUFFICIENT_PORTS] = "InsufficientPorts",
	[SCHED_R_DECLINED_SCARCE] = "DeclinedScarceResources",
};

const char *sched_reason_name(enum sched_reason r)
{
	return (unsigned)r < SCHED_NREASONS ? reason_names[r] : "Unknown";
}

void sched_refusals_add(struct sched_refusals *a, const struct sched_refusals *b)
{
	a->processed += b->processed;
	for (int i = 0; i < SCHED_NREASONS; i++)
		a->declined[i] += b->declined[i];
}

uint32_t sched_refusals_processed_at(const struct sched_refusals *f, enum sched_reason r)
{
	uint32_t left = f->processed;

	for (int i = 0; i < (int)r && i < SCHED_NREASONS; i++)
		left -= f->declined[i];
	return left;
}

/* ---- Ports --------------------------------------------------------------- */

/* The index of the first range whose end is >= port (nr when none). */
static uint32_t range_at(const struct sched_port_range *rs, uint32_t nr, uint16_t port)
{
	uint32_t lo = 0, hi = nr;

	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (rs[mid].end < port)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int in_ranges(const struct sched_port_range *rs, uint32_t nr, uint16_t port)
{
	uint32_t i = range_at(rs, nr, port);

	return i < nr && rs[i].begin <= port;
}

static void take_port(struct pool *p, uint16_t port)
{
	uint32_t i = range_at(p->free, p->nfree, port);
	struct sched_port_range *r = &p->free[i];

	if (i == p->nfree || r->begin > port)
		return; /* not free: an adopted instance's port already taken */
	if (r->begin == r->end) {
		memmove(r, r + 1, (p->nfree - i - 1) * sizeof(*r));
		p->nfree--;
	} else if (r->begin == port) {
		r->begin++;
	} else if (r->end == port) {
		r->end--;
	} else {
		ALLOC_GROW(p->free, p->nfree + 1, p->free_alloc);
		r = &p->free[i];
		memmove(r + 1, r, (p->nfree - i) * sizeof(*r));
		p->nfree++;
		r[0].end = (uint16_t)(port - 1);
		r[1].begin = (uint16_t)(port + 1);
	}
	p->free_ports--;
}

static void give_port(struct pool *p, uint16_t port)
{
	uint32_t i;
	int join_prev, join_next;

	if (!in_ranges(p->ranges, p->nranges, port) || in_ranges(p->free, p->nfree, port))
		return;
	i = range_at(p->free, p->nfree, port); /* the first free range after port */
	join_prev = i > 0 && p->free[i - 1].end + 1 == port;
	join_next = i < p->nfree && p->free[i].begin == port + 1;
	if (join_prev && join_next) {
		p->free[i - 1].end = p->free[i].end;
		memmove(&p->free[i], &p->free[i + 1], (p->nfree - i - 1) * sizeof(p->free[0]));
		p->nfree--;
	} else if (join_prev) {
		p->free[i - 1].end = port;
	} else if (join_next) {
		p->free[i].begin = port;
	} else {
		ALLOC_GROW(p->free, p->nfree + 1, p->free_alloc);
		memmove(&p->free[i + 1], &p->free[i], (p->nfree - i) * sizeof(p->free[0]));
		p->free[i].begin = p->free[i].end = port;
		p->nfree++;
	}
	p->free_ports++;
}

/*
 * A dynamic port: the next free one from the pool's cursor on, wrapping,
 * so a port just released is not handed out again at once.
 */
static uint16_t take_dynamic(struct pool *p)
{
	uint32_t i = range_at(p->free, p->nfree, p->port_cursor);
	uint16_t port;

	PACER_ASSERT(p->nfree > 0);
	if (i == p->nfree)
		i = 0;
	port = p->free[i].begin > p->port_cursor ? p->free[i].begin : p->port_cursor;
	if (port < p->free[i].begin || port > p->free[i].end)
		port = p->free[i].begin;
	take_port(p, port);
	p->port_cursor = (uint16_t)(port + 1);
	return port;
}

/* ---- Checks -------------------------------------------------------------- */

#define FIT SCHED_NREASONS

struct pctx {
	struct sched *s;
	struct sched_app *app;
	const struct sched_spec *spec;
	struct fcount *fc[SCHED_MAX_CONSTRAINTS];
	/* GROUP_BY constraints that prefer a value the app does not use yet */
	uint8_t want_new[SCHED_MAX_CONSTRAINTS];
	int any_want_new;
	/* the choice: a preferred fit, or the first fit as a fallback */
	uint32_t best, fallback;
	int best_pool, fallback_pool;
	uint32_t since_fallback;
	struct sched_refusals *count; /* non-NULL while a full scan counts */
};

static int pool_fit(const struct pool *p, const struct sched_spec *spec)
{
	for (int k = 0; k < SCHED_NSCALARS; k++)
		if (p->total[k] - p->used[k] < spec->milli[k])
			return SCHED_R_INSUFFICIENT_CPUS + k;
	if (spec->nports) {
		if (p->free_ports < spec->nports)
			return SCHED_R_INSUFFICIENT_PORTS;
		for (uint16_t i = 0; i < spec->nports; i++)
			if (spec->ports[i] && !in_ranges(p->free, p->nfree, spec->ports[i]))
				return SCHED_R_INSUFFICIENT_PORTS;
	}
	return FIT;
}

static int role_accepted(const struct sched_spec *spec, uint32_t role)
{
	for (uint32_t i = 0; i < spec->nroles; i++)
		if (spec->roles[i] == role)
			return 1;
	return 0;
}

/*
 * Checks an agent in Marathon's funnel order; returns the first reason it
 * refuses, or FIT with the pool to take from and whether it is preferred.
 */
static int check(struct pctx *x, const struct agent *a, int *pool, int *preferred)
{
	const struct sched_spec *spec = x->spec;
	int worst = -1, any = 0;

	for (uint8_t i = 0; i < a->npools && !any; i++)
		any = role_accepted(spec, a->pools[i].role);
	if (!any)
		return SCHED_R_UNFULFILLED_ROLE;
	for (uint32_t i = 0; i < spec->ncons; i++)
		if (!cons_check(x->s, x->app, &spec->cons[i], x->fc[i], a))
			return SCHED_R_UNFULFILLED_CONSTRAINT;
	if (a->state == ST_MAINTENANCE)
		return SCHED_R_AGENT_MAINTENANCE;
	*pool = -1;
	/* reserved resources first, then unreserved ones */
	for (int pass = 0; pass < 2 && *pool < 0; pass++) {
		for (uint8_t i = 0; i < a->npools; i++) {
			const struct pool *p = &a->pools[i];
			int r;

			if ((pass == 0) != (p->role != 0) || !role_accepted(spec, p->role))
				continue;
			r = pool_fit(p, spec);
			if (r == FIT) {
				*pool = i;
				break;
			}
			if (r > worst)
				worst = r; /* the pool that got furthest names the reason */
		}
	}
	if (*pool < 0)
		return worst;
	if (x->s->opts.gpu_restricted && !spec->milli[SCHED_GPUS] && a->has_gpus)
		return SCHED_R_DECLINED_SCARCE;
	*preferred = 1;
	if (x->any_want_new) {
		for (uint32_t i = 0; i < spec->ncons; i++)
			if (x->want_new[i] &&
			    u32map_get(&x->fc[i]->counts, agent_value(a, spec->cons[i].field)))
				*preferred = 0;
	}
	return FIT;
}

/* Tries one agent; returns 1 when the search should stop. */
static int consider(struct pctx *x, uint32_t idx)
{
	const struct agent *a = &x->s->agents[idx];
	int pool = -1, preferred = 0, r;

	if (a->state != ST_ACTIVE && a->state != ST_MAINTENANCE)
		return 0;
	r = check(x, a, &pool, &preferred);
	if (x->count) {
		x->count->processed++;
		if (r != FIT)
			x->count->declined[r]++;
	}
	if (r == FIT) {
		if (preferred) {
			x->best = idx;
			x->best_pool = pool;
			return 1;
		}
		if (x->fallback == SCHED_NO_AGENT) {
			x->fallback = idx;
			x->fallback_pool = pool;
			return 0;
		}
	}
	/* with a fallback in hand, look a little further for a preferred one */
	return x->fallback != SCHED_NO_AGENT && ++x->since_fallback >= x->s->opts.sample;
}

static int found(const struct pctx *x)
{
	return x->best != SCHED_NO_AGENT || x->fallback != SCHED_NO_AGENT;
}

static void search_list(struct pctx *x, struct idxlist *l)
{
	uint32_t n = l->n, start = n ? l->cursor % n : 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t pos = (start + i) % n;

		if (consider(x, l->v[pos])) {
			l->cursor = pos + 1;
			return;
		}
	}
}

/* A bounded sample from the buckets that may fit, most free first (spread). */
static void search_buckets(struct pctx *x)
{
	struct sched *s = x->s;
	int need_c = sched_cpu_class(x->spec->milli[SCHED_CPUS]);
	int need_m = sched_mem_class(x->spec->milli[SCHED_MEM]);
	uint32_t tries = 0;

	for (int i = 0; i < NBUCKETS && tries < s->opts.sample; i++) {
		int b = s->bucket_order[s->opts.strategy == SCHED_PACK ? NBUCKETS - 1 - i : i];
		struct idxlist *l = &s->buckets[b];
		uint32_t j, start;

		if (!l->n || b / MEM_CLASSES < need_c || b % MEM_CLASSES < need_m)
			continue;
		start = l->cursor % l->n;
		for (j = 0; j < l->n && tries < s->opts.sample; j++, tries++) {
			uint32_t pos = (start + j) % l->n;

			if (consider(x, l->v[pos])) {
				/* spread moves on to the next agent, pack stays */
				l->cursor = s->opts.strategy == SCHED_PACK ? pos : pos + 1;
				return;
			}
		}
		l->cursor = start + j;
	}
}

static void search_all(struct pctx *x)
{
	struct sched *s = x->s;
	uint32_t n = s->nslots, start = n ? s->scan_cursor % n : 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t idx = (start + i) % n;

		if (consider(x, idx)) {
			s->scan_cursor = idx + 1;
			return;
		}
	}
}

/*
 * The agents an IS or CLUSTER constraint allows, if any does: the smallest
 * such list. *empty is set when a CLUSTER constraint allows no agent.
 */
static struct idxlist *pinned_list(struct pctx *x, int *empty)
{
	struct sched *s = x->s;
	struct idxlist *best = NULL;

	*empty = 0;
	for (uint32_t i = 0; i < x->spec->ncons; i++) {
		const struct cons *c = &x->spec->cons[i];
		uint32_t v = VALUE_NONE, key, n;

		if (c->op == OP_IS || (c->op == OP_CLUSTER && c->has_value)) {
			v = c->value;
		} else if (c->op == OP_CLUSTER && x->app->ninstances) {
			/* pinned to the value all instances share, if they do */
			for (size_t k = 0; u32map_next(&x->fc[i]->counts, &k, &key, &n);)
				if (n == x->app->ninstances)
					v = key;
			if (v == VALUE_NONE || v == VALUE_MISSING) {
				*empty = 1;
				return NULL;
			}
		}
		if (v != VALUE_NONE && (!best || s->values[v].agents.n < best->n))
			best = &s->values[v].agents;
	}
	return best;
}

static void allocate(struct pctx *x, uint32_t idx, int pool, struct sched_placement *out,
		     uint16_t *ports)
{
	struct sched *s = x->s;
	const struct sched_spec *spec = x->spec;
	struct agent *a = &s->agents[idx];
	struct pool *p = &a->pools[pool];

	for (int k = 0; k < SCHED_NSCALARS; k++)
		p->used[k] += spec->milli[k];
	for (uint16_t i = 0; i < spec->nports; i++)
		if (spec->ports[i]) {
			take_port(p, spec->ports[i]);
			ports[i] = spec->ports[i];
		}
	for (uint16_t i = 0; i < spec->nports; i++)
		if (!spec->ports[i])
			ports[i] = take_dynamic(p);
	memset(out, 0, sizeof(*out));
	out->app = x->app;
	out->agent = idx;
	out->pool = (uint8_t)pool;
	out->nports = spec->nports;
	memcpy(out->milli, spec->milli, sizeof(out->milli));
	app_count(s, x->app, idx, 1);
	sched_agent_rebucket(s, idx);
}

int sched_place(struct sched *s, struct sched_app *app, const struct sched_spec *spec,
		struct sched_placement *out, uint16_t *ports, struct sched_refusals *why)
{
	struct pctx x = {.s = s, .app = app, .spec = spec};
	struct idxlist *list = NULL;
	int empty = 0;

	x.best = x.fallback = SCHED_NO_AGENT;
	if (why)
		memset(why, 0, sizeof(*why));
	/* resolve counters in two passes: adding one may move the others */
	for (uint32_t i = 0; i < spec->ncons; i++)
		app_fcount(s, app, spec->cons[i].field);
	for (uint32_t i = 0; i < spec->ncons; i++) {
		const struct cons *c = &spec->cons[i];
		struct fcount *fc = app_fcount(s, app, c->field);
		uint32_t used;

		x.fc[i] = fc;
		if (c->op != OP_GROUP_BY)
			continue;
		used = fc->ngroups - (u32map_get(&fc->counts, VALUE_MISSING) ? 1 : 0);
		x.want_new[i] = used < s->fields[c->field].nvalues;
		x.any_want_new |= x.want_new[i];
	}

	list = pinned_list(&x, &empty);
	if (!list && !empty) {
		if (spec->nroles == 1 && spec->roles[0] != 0)
			list = &s->role_agents[spec->roles[0]];
		else if (spec->milli[SCHED_GPUS] > 0)
			list = &s->gpu_agents;
	}
	if (list)
		search_list(&x, list);
	else if (!empty)
		search_buckets(&x);
	if (!found(&x) && (why || (!list && !empty))) {
		/* the indexes found nothing: ask every agent, counting refusals */
		x.count = why;
		x.since_fallback = 0;
		search_all(&x);
	}
	if (x.best != SCHED_NO_AGENT) {
		allocate(&x, x.best, x.best_pool, out, ports);
	} else if (x.fallback != SCHED_NO_AGENT) {
		allocate(&x, x.fallback, x.fallback_pool, out, ports);
	} else {
		return SCHED_NOFIT;
	}
	if (why)
		memset(why, 0, sizeof(*why));
	return 0;
}

int sched_adopt(struct sched *s, struct sched_app *app, const struct sched_spec *spec,
		uint32_t idx, const uint16_t *ports, struct sched_placement *out)
{
	struct agent *a = idx < s->nslots ? &s->agents[idx] : NULL;
	struct pool *p;
	int pool = -1;

	if (!a || a->state >= ST_REMOVED || !a->npools)
		return PACER_ENOTFOUND;
	for (uint8_t i = 0; i < a->npools && pool < 0; i++)
		if (role_accepted(spec, a->pools[i].role))
			pool = i;
	if (pool < 0)
		pool = a->star >= 0 ? a->star : 0;
	p = &a->pools[pool];
	for (int k = 0; k < SCHED_NSCALARS; k++)
		p->used[k] += spec->milli[k];
	for (uint16_t i = 0; i < spec->nports; i++)
		take_port(p, ports[i]);
	memset(out, 0, sizeof(*out));
	out->app = app;
	out->agent = idx;
	out->pool = (uint8_t)pool;
	out->nports = spec->nports;
	memcpy(out->milli, spec->milli, sizeof(out->milli));
	app_count(s, app, idx, 1);
	sched_agent_rebucket(s, idx);
	return 0;
}

void sched_release(struct sched *s, struct sched_placement *pl, const uint16_t *ports)
{
	struct agent *a;
	struct pool *p;

	PACER_ASSERT(pl->app && pl->agent < s->nslots);
	a = &s->agents[pl->agent];
	PACER_ASSERT(a->ninstances > 0 && pl->pool < a->npools);
	p = &a->pools[pl->pool];
	for (int k = 0; k < SCHED_NSCALARS; k++)
		p->used[k] -= pl->milli[k];
	for (uint16_t i = 0; i < pl->nports; i++)
		give_port(p, ports[i]);
	app_count(s, pl->app, pl->agent, -1);
	pl->app = NULL;
	if (a->state == ST_REMOVED)
		sched_agent_reap(s, pl->agent);
	else
		sched_agent_rebucket(s, pl->agent);
}
