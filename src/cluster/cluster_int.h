/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the .c files of src/cluster; not for use outside the folder. */
#ifndef PACER_CLUSTER_CLUSTER_INT_H
#define PACER_CLUSTER_CLUSTER_INT_H

#include <jansson.h>

#include "base/hashmap.h"
#include "cluster/cluster.h"
#include "sched/sched.h"

#define MAX_TASK_PORTS 64

struct agent {
	char *id;
	char *hostname;
	char *resources, *attributes, *cgroups;
	uint32_t sched_index;
	int reachable;
	uint64_t last_contact_ms;   /* monotonic */
	uint64_t acked_seq;
	struct http_stream *stream; /* the open command stream, or NULL */
	struct agent_mux *mux;      /* the shared stream it is on (stream is mux's), or NULL */
	struct strbuf outbox;       /* commands waiting for a stream */
};

/*
 * A command stream shared by several agents (POST /v1/agents/commands):
 * each line carries "agentId". The mux owns the stream; its agents point
 * at it while they are on it.
 */
struct agent_mux {
	struct cluster *c;
	struct http_stream *stream;
	struct agent **agents;      /* may hold agents that moved elsewhere since */
	size_t n;
	struct agent_mux *prev, *next;
};

struct app_run;

struct inst {
	char *task_id;
	char *app_id;
	int64_t version;            /* the app version it runs */
	char *agent_id;
	char *host;
	uint16_t ports[MAX_TASK_PORTS];
	size_t nports;
	enum inst_state state;
	int64_t staged_at, started_at, unreachable_since;
	struct sched_placement placement;
	int placed;
	int kill_sent;
	struct app_run *run;
	json_t *health;             /* the agent's last healthResults (an array), or NULL */
	int health_kill;            /* reported failing maxConsecutiveFailures times: to kill */
};

struct app_run {
	char *app_id;
	struct inst **insts;
	size_t n, alloc;
	struct sched_app *sched_app;
	struct sched_spec *spec;
	int64_t spec_version;       /* lastConfigChangeAt the spec was built for */
	int64_t spec_scaling;       /* ... and its version */
	/* backoff */
	double backoff_s;           /* the next failure's delay */
	int64_t delay_until;        /* wall ms; no launch before */
	char *last_failure;         /* lastTaskFailure JSON object */
	/* the launch queue */
	unsigned waiting;           /* instances that could not be placed */
	int64_t queued_since;
	struct sched_refusals last_refusals, attempt_refusals;
	int64_t last_refused_at;
	uint64_t last_health_kill_ms; /* monotonic; one kill for health per 10 s */
};

struct unknown_task {
	char *task_id;
	char *agent_id;
	uint64_t kill_at_ms;        /* monotonic */
};

struct cluster {
	uv_loop_t *loop;
	struct store *store;
	struct apps *apps;
	struct cluster_config cfg;
	struct sched *sched;
	struct hashmap agents;      /* id -> struct agent */
	struct hashmap insts;       /* task id -> struct inst */
	struct hashmap runs;        /* app id -> struct app_run */
	struct hashmap unknown;     /* task id -> struct unknown_task */
	uint64_t epoch;
	int epoch_durable;          /* commands wait until the raised epoch is stored */
	uv_timer_t check_timer;     /* the scale check, soon after changes */
	uv_timer_t tick_timer;      /* once a second: timeouts, backoff, unknown tasks */
	int closing;
	uint64_t generation;        /* bumped by every visible change of instances */
	struct event_bus *events;   /* task events go here (NULL: none) */
	struct agent_mux *muxes;    /* open shared command streams */
	size_t scan_pos;            /* where a scale check that ran out of launches stopped */
	uint64_t check_cost_ms;     /* how long the last scale check took */
};

/* instances.c */
struct app_run *run_get(struct cluster *c, const char *app_id);
void run_maybe_free(struct cluster *c, struct app_run *run);
struct inst *inst_new(struct cluster *c, struct app_run *run, const char *task_id);
void inst_persist(struct cluster *c, const struct inst *in);
void inst_forget(struct cluster *c, struct inst *in);
void inst_json(const struct cluster *c, const struct inst *in, struct strbuf *out);
int inst_load_all(struct cluster *c);
int inst_is_terminal(enum inst_state s);
void inst_service_ports(const struct cluster *c, const char *app_id, struct strbuf *out);
/* 1 when every health check of the instance's app is alive, -1 when one is not, 0 unknown. */
int inst_health(const struct cluster *c, const struct inst *in);
/* Publishes the instance's current state as status_update_event and instance_changed_event. */
void inst_emit(struct cluster *c, const struct inst *in, const char *message);

/* agents.c */
void agent_send(struct cluster *c, struct agent *a, const char *line, size_t len);
void agent_send_kill(struct cluster *c, struct inst *in, int grace_s);
int agents_load_all(struct cluster *c);
void agents_free_all(struct cluster *c);
void agents_tick(struct cluster *c, uint64_t now_ms);
/* An expunged task: killed as soon as its agent is heard from again. */
void agents_note_expunged(struct cluster *c, const char *agent_id, const char *task_id);

/* scale.c */
void scale_check(struct cluster *c);
void scale_terminal(struct cluster *c, struct inst *in, const char *message);
void scale_schedule(struct cluster *c);

#endif
