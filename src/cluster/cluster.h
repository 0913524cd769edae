/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The server's side of the cluster: agents and the instances running on
 * them, kept at each app's instance count. It places instances with the
 * scheduler (src/sched), sends launch and kill commands to agents over their
 * command streams (docs/agent-protocol.md), applies their status updates,
 * replaces failed instances with backoff, notices unreachable agents and
 * reconciles agents that register again.
 *
 * Store keys (see docs/architecture.md):
 *   agents/<agent-id>       {"hostname","resources","attributes","cgroups",...}
 *   instances/<task-id>     one instance: app, version, agent, ports, state, times
 *   meta/epoch              the server's epoch, raised at every start
 *
 * Everything runs on the loop thread.
 */
#ifndef PACER_CLUSTER_CLUSTER_H
#define PACER_CLUSTER_CLUSTER_H

#include <stdint.h>
#include <uv.h>

#include "base/strbuf.h"
#include "sched/sched.h"
#include "http/httpd.h"
#include "state/apps.h"
#include "store/store.h"

struct cluster;

enum inst_state {
	INST_STAGING,     /* placed and launch sent; nothing heard yet */
	INST_STARTING,
	INST_RUNNING,
	INST_KILLING,
	INST_UNREACHABLE, /* its agent stopped heartbeating */
	INST_FINISHED,    /* terminal states: the instance is being forgotten */
	INST_FAILED,
	INST_KILLED,
	INST_LOST,
};

/* "TASK_STAGING", ... as Marathon shows them. */
const char *inst_state_name(enum inst_state s);

struct cluster_config {
	unsigned agent_timeout_s;       /* no contact this long: unreachable (default 15) */
	unsigned unknown_task_grace_s;  /* unknown tasks on a registering agent live this long (60) */
	unsigned heartbeat_interval_ms; /* told to agents (1000) */
};

/*
 * Creates the cluster state, loading agents and instances from the store and
 * raising the epoch there (the commit finishes asynchronously; commands are
 * sent only after it). Returns 0 or a negative code with a message logged.
 */
int cluster_init(struct cluster **out, uv_loop_t *loop, struct store *store, struct apps *apps,
		 const struct cluster_config *cfg);
/* Closes command streams and timers and frees everything. */
void cluster_free(struct cluster *c);

/*
 * Publishes status_update_event and instance_changed_event on bus for every
 * change of an instance's state from now on (NULL: none). bus must outlive c.
 */
struct event_bus;
void cluster_set_event_bus(struct cluster *c, struct event_bus *bus);
struct event_bus *cluster_event_bus(const struct cluster *c);

/* Changes with every visible change of instances (for response caches). */
uint64_t cluster_generation(const struct cluster *c);

/* To be called after every change of apps (created, changed, deleted): schedules a check. */
void cluster_apps_changed(struct cluster *c);

/* ---- the agent protocol (handlers for the API's /v1/agents routes) ---- */

/* POST /v1/agents: body parsed by the caller. Answers 200 or 422 through the callbacks below. */
struct cluster_answer {
	int status;
	struct strbuf body; /* JSON */
};
void cluster_register(struct cluster *c, const json_t *body, struct cluster_answer *ans);
/* GET /v1/agents/{id}/commands: opens the agent's command stream on req, or answers 404. */
int cluster_open_commands(struct cluster *c, const char *agent_id, struct http_request *req);
/* POST /v1/agents/{id}/updates. */
void cluster_updates(struct cluster *c, const char *agent_id, const json_t *body,
		     struct cluster_answer *ans);
/*
 * Several agents on one connection (docs/agent-protocol.md, "Several agents
 * on one connection"). POST /v1/agents/commands {"agents":[id,...]}: one
 * stream carrying the commands of all of them, each line with "agentId";
 * answers 422 through ans (and opens nothing) when the body is not such a
 * list, 404 when none of the agents is known. Returns 0 when the stream was
 * opened on req, or -1 with ans filled.
 */
int cluster_open_commands_mux(struct cluster *c, const json_t *body, struct http_request *req,
			      struct cluster_answer *ans);
/* POST /v1/agents/updates {"agents":[{"agentId","epoch","updates"}]}. */
void cluster_updates_mux(struct cluster *c, const json_t *body, struct cluster_answer *ans);

/* ---- what the Marathon API shows ---- */

struct app_counts {
	unsigned staged, running, healthy, unhealthy;
};
void cluster_app_counts(const struct cluster *c, const char *app_id, struct app_counts *out);
/*
 * Whether app_id has converged to its current configuration, for
 * deployments: with version > 0, the app exists at version or later and
 * exactly its instance count runs (TASK_RUNNING, not being killed) that
 * configuration, with no other instance left; with version 0, no instance
 * of the app is left. Returns 1 or 0 (1 without a cluster).
 */
int cluster_app_converged(const struct cluster *c, const char *app_id, int64_t version);
/* Appends the app's tasks as Marathon's task objects, comma-separated (no brackets). */
void cluster_app_tasks_json(const struct cluster *c, const char *app_id, struct strbuf *out);
/* Appends ,"lastTaskFailure":{...} when the app has one. */
void cluster_app_last_failure_json(const struct cluster *c, const char *app_id,
				   struct strbuf *out);
/* Appends every task (filtered by state names, comma-separated list, or NULL for all). */
void cluster_tasks_json(const struct cluster *c, const char *status_filter, struct strbuf *out);
/* The launch queue: apps with instances that wait for a place or for their backoff. */
struct cluster_queue_item {
	const struct app *app;
	unsigned count;            /* instances waiting */
	int64_t since;             /* wall ms */
	double delay_left_s;       /* backoff left */
	int overdue;               /* the delay is over and it still waits */
	const struct sched_refusals *last_refusals;    /* the last placement attempt */
	const struct sched_refusals *attempt_refusals; /* all attempts since queued */
	int64_t last_refused_at;
};
typedef void cluster_queue_fn(void *arg, const struct cluster_queue_item *item);
void cluster_queue_each(const struct cluster *c, cluster_queue_fn *fn, void *arg);
/* Resets the launch delay of an app; returns 0 or PACER_ENOTFOUND when it is not queued. */
int cluster_reset_delay(struct cluster *c, const char *app_id);
/* Appends {"agents":[...]} for GET /v1/agents. */
void cluster_agents_json(const struct cluster *c, struct strbuf *out);

/*
 * Kills tasks by id (each must belong to app_id when app_id is given).
 * Returns how many kills this call started (tasks already being killed do
 * not count again, so a repeated scale-down lowers the count once); unknown
 * ids are skipped and counted in *unknown.
 */
size_t cluster_kill_tasks(struct cluster *c, const char *app_id, const char *const *task_ids,
			  size_t n, size_t *unknown);
/* Kills every task of app_id (optionally only those on host). Returns how many kills it started. */
size_t cluster_kill_app_tasks(struct cluster *c, const char *app_id, const char *host);
/* Appends one task's JSON; returns 0 or PACER_ENOTFOUND. */
int cluster_task_json(const struct cluster *c, const char *task_id, struct strbuf *out);
/* Looks up the app a task id belongs to, or NULL. */
const char *cluster_task_app(const struct cluster *c, const char *task_id);

#endif
