/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Placement: which agent runs the next instance of an app. The scheduler
 * knows every agent's resources (per role), attributes and state, and for
 * every app how many of its instances run on each agent and on each value of
 * the attributes its constraints name. Placing an instance picks an agent
 * that has the cpus, mem, disk, gpus and host ports, offers them to one of
 * the app's acceptedResourceRoles and meets all its constraints with
 * Marathon's semantics; it then allocates those resources and counts the
 * instance. Releasing the instance gives everything back.
 *
 * Cost: constraints are checked in O(1) per candidate from per-app counters
 * (never by scanning instances), and candidates come from indexes: agents
 * bucketed by free cpus x mem (tried from the most free down, "spread", or
 * from the least free that can fit, "pack"), agents per attribute value (for
 * IS and CLUSTER), per reserved role and with GPUs. A bounded sample of
 * candidates is tried first; only when it finds nothing does placement scan
 * every agent, from a rotating start. When nothing fits, the refusals are
 * counted over every agent considered, with Marathon's reason names, for
 * GET /v2/queue.
 *
 * Ownership: struct sched owns its agents and apps. A struct sched_spec is
 * owned by its caller (one per app version, say) and must be freed with
 * sched_spec_free before the scheduler. A struct sched_placement is the
 * caller's record of one placed instance (48 bytes, embed it in the
 * instance); the instance's host ports stay with the caller too, who must
 * hand them back on release.
 *
 * Not thread-safe: the loop thread owns the scheduler.
 */
#ifndef PACER_SCHED_SCHED_H
#define PACER_SCHED_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "sched/resources.h"

struct strbuf;
struct sched;
struct sched_app;
struct sched_spec;

enum sched_strategy {
	SCHED_SPREAD, /* prefer the agent with the most free cpus and mem */
	SCHED_PACK,   /* prefer the agent with the least free cpus and mem that fits */
};

struct sched_options {
	enum sched_strategy strategy;
	/*
	 * Marathon's --gpu_scheduling_behavior=restricted: an app without GPUs
	 * is not placed on an agent that has GPUs (DeclinedScarceResources).
	 */
	int gpu_restricted;
	/* Candidates tried from the indexes before a full scan; 0: 32. */
	unsigned sample;
};

/* opts may be NULL for the defaults (spread, GPUs unrestricted, sample 32). */
struct sched *sched_new(const struct sched_options *opts);
/* Frees the scheduler, its agents and apps; every spec must be freed first. */
void sched_free(struct sched *s);

/* ---- Agents -------------------------------------------------------------- */

/* Agents are named by a dense index, valid until sched_agent_remove. */
#define SCHED_NO_AGENT UINT32_MAX

enum sched_agent_state {
	SCHED_AGENT_ACTIVE,      /* takes new instances */
	SCHED_AGENT_MAINTENANCE, /* considered but refused: AgentMaintenance */
	SCHED_AGENT_UNREACHABLE, /* not considered at all (Mesos sends no offers) */
};

/*
 * Adds an active agent with its resources and attributes (both copied;
 * attrs may be NULL). The hostname is the value of the "hostname"
 * constraint field. Returns 0 and its index in *index, or PACER_ECONFLICT
 * when an agent with this id exists.
 */
int sched_agent_add(struct sched *s, const char *id, const char *hostname,
		    const struct sched_resources *res, const struct sched_attrs *attrs, uint32_t *index);
/* The index of the agent with this id, or SCHED_NO_AGENT. */
uint32_t sched_agent_find(const struct sched *s, const char *id);
/* Returns 0, or PACER_ENOTFOUND for an index that names no agent. */
int sched_agent_set_state(struct sched *s, uint32_t agent, enum sched_agent_state state);
/*
 * Removes an agent: it is no longer considered and its id may be added
 * again. Instances still placed on it keep counting for their apps'
 * constraints until they are released; its index stays reserved until the
 * last one is. Returns 0 or PACER_ENOTFOUND.
 */
int sched_agent_remove(struct sched *s, uint32_t agent);
/* Agents added and not removed. */
size_t sched_agent_count(const struct sched *s);
/* The agent's id and hostname, or NULL for an index that names no agent. */
const char *sched_agent_id(const struct sched *s, uint32_t agent);
const char *sched_agent_hostname(const struct sched *s, uint32_t agent);

/* Amounts summed over all roles of an agent; ports counts single ports. */
struct sched_usage {
	double cpus, mem, disk, gpus;
	uint32_t ports;
	uint32_t instances;
};
/* Fills used and total (either may be NULL). Returns 0 or PACER_ENOTFOUND. */
int sched_agent_usage(const struct sched *s, uint32_t agent, struct sched_usage *used,
		      struct sched_usage *total);

/* ---- What an instance needs ---------------------------------------------- */

#define SCHED_MAX_CONSTRAINTS 32
#define SCHED_MAX_PORTS 256
#define SCHED_MAX_ROLES 16

struct sched_spec_desc {
	double cpus, mem, disk, gpus;
	/* Host ports: 0 takes any free port, a number takes exactly that port
	 * (Marathon's requirePorts, or a fixed hostPort). */
	const uint16_t *ports;
	size_t nports;
	/* Marathon's [field, OPERATOR, value] triples; value may be NULL. */
	const char *const (*constraints)[3];
	size_t nconstraints;
	/* acceptedResourceRoles; none means {"*"}. */
	const char *const *roles;
	size_t nroles;
};

/*
 * Compiles what one instance of an app version needs. Checks the
 * constraints as Marathon validates them: a known operator; UNIQUE takes no
 * value; IS, LIKE and UNLIKE need one; LIKE and UNLIKE a valid regular
 * expression (matched against the whole value, like Java's
 * String.matches); MAX_PER a non-negative integer; GROUP_BY an optional
 * integer (or "inf"). Returns 0 and *out, or PACER_EINVALID with a message
 * appended to err (if not NULL), e.g.
 *   constraint ["rack", "MAX_PER", "x"]: 'x' is not a number
 */
int sched_spec_new(struct sched *s, const struct sched_spec_desc *d, struct sched_spec **out,
		   struct strbuf *err);
void sched_spec_free(struct sched *s, struct sched_spec *spec);
/* The number of host ports an instance of spec gets. */
size_t sched_spec_nports(const struct sched_spec *spec);

/* ---- Apps ---------------------------------------------------------------- */

/* The app with this id, created (with no instances) when unknown. */
struct sched_app *sched_app_get(struct sched *s, const char *app_id);
/* The app with this id, or NULL. */
struct sched_app *sched_app_find(const struct sched *s, const char *app_id);
uint32_t sched_app_instances(const struct sched_app *app);
/* How many of the app's instances run on this agent. */
uint32_t sched_app_instances_on(const struct sched_app *app, uint32_t agent);
/* Forgets an app. Returns 0, or PACER_ECONFLICT while it has instances. */
int sched_app_remove(struct sched *s, struct sched_app *app);

/* ---- Placing ------------------------------------------------------------- */

/* Marathon's NoOfferMatchReason, in its funnel order. */
enum sched_reason {
	SCHED_R_UNFULFILLED_ROLE,
	SCHED_R_UNFULFILLED_CONSTRAINT,
	SCHED_R_NO_RESERVATION, /* NoCorrespondingReservationFound: never, no resident apps yet */
	SCHED_R_AGENT_MAINTENANCE,
	SCHED_R_INSUFFICIENT_CPUS,
	SCHED_R_INSUFFICIENT_MEMORY,
	SCHED_R_INSUFFICIENT_DISK,
	SCHED_R_INSUFFICIENT_GPUS,
	SCHED_R_INSUFFICIENT_PORTS,
	SCHED_R_DECLINED_SCARCE,
	SCHED_NREASONS
};

/* "UnfulfilledRole", "InsufficientCpus", ... never NULL. */
const char *sched_reason_name(enum sched_reason r);

/*
 * Why nothing fit. Like Marathon, each refusing agent counts once, under
 * the first of its reasons in funnel order; processed is the number of
 * agents considered (all but the unreachable and removed ones).
 */
struct sched_refusals {
	uint32_t processed;
	uint32_t declined[SCHED_NREASONS];
};

/* Adds b into a (the launch attempt's running sum). */
void sched_refusals_add(struct sched_refusals *a, const struct sched_refusals *b);
/*
 * The "processed" figure of reason r in Marathon's DeclinedOfferStep: the
 * agents still left at that step of the funnel.
 */
uint32_t sched_refusals_processed_at(const struct sched_refusals *f, enum sched_reason r);

/* One placed instance: the caller keeps it until sched_release. */
struct sched_placement {
	struct sched_app *app;
	uint32_t agent;
	uint16_t nports;
	uint8_t pool; /* the role pool on the agent it takes from */
	uint8_t _pad;
	int64_t milli[SCHED_NSCALARS]; /* what it holds, in thousandths */
};

#define SCHED_NOFIT 1

/*
 * Places one instance of app as spec describes. Returns 0, fills *out and
 * writes the instance's host ports (sched_spec_nports of them, in the
 * order of the spec's ports) into ports; or SCHED_NOFIT (a positive value:
 * not an error, the launch queue waits) when no agent fits, with the
 * refusals in *why if why is not NULL (it is zeroed on success).
 */
int sched_place(struct sched *s, struct sched_app *app, const struct sched_spec *spec,
		struct sched_placement *out, uint16_t *ports, struct sched_refusals *why);
/*
 * Records an instance that already runs on a known agent (recovery after a
 * restart): takes spec's resources and the given host ports (out->nports
 * of them, sched_spec_nports) from the agent even when they exceed what is
 * free, since the instance runs there anyway. Returns 0, or PACER_ENOTFOUND.
 */
int sched_adopt(struct sched *s, struct sched_app *app, const struct sched_spec *spec,
		uint32_t agent, const uint16_t *ports, struct sched_placement *out);
/*
 * Gives back what p holds: its resources, its host ports (ports: the
 * p->nports ports sched_place wrote) and its count in the app's
 * constraints. p must not be released twice.
 */
void sched_release(struct sched *s, struct sched_placement *p, const uint16_t *ports);

#endif
