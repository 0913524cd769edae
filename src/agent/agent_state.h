/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What `pacer agent` keeps across its own restarts, and the queue of status
 * updates it owes the server (docs/agent-protocol.md).
 *
 * The update queue numbers updates 1, 2, 3, ... (next_seq is kept across
 * restarts) and holds every update the server has not acknowledged yet;
 * update_queue_ack drops them once the server's ackedSeq covers them.
 *
 * The state file, <work-dir>/agent.json, holds the agentId, the highest
 * epoch seen, the update queue (next seq and the unacknowledged updates),
 * and one record per task not yet reported terminal to the server: enough
 * to re-attach to its process (pid, and the process start time from
 * /proc/<pid>/stat so that a reused pid is not taken for the task) and to
 * list it when registering. It is written atomically: a temporary file,
 * fsync, rename over the old one, fsync of the directory.
 *
 *   {"agentId": "agent-...", "epoch": 7, "nextSeq": 44,
 *    "tasks": [{"taskId": "...", "pid": 4242, "startTime": 123456,
 *               "state": "TASK_RUNNING", "startedAt": "2026-...Z",
 *               "cgroup": false, "killGracePeriodSeconds": 3}],
 *    "updates": [{"seq": 43, "taskId": "...", "state": "TASK_RUNNING",
 *                 "timestamp": "2026-...Z", "message": "", "pid": 4242}]}
 */
#ifndef PACER_AGENT_AGENT_STATE_H
#define PACER_AGENT_AGENT_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/strbuf.h"

/*
 * The interned name of a task state as the protocol spells it
 * ("TASK_STAGING" ... "TASK_KILLED", and "TASK_LOST"), or NULL when name
 * is none of them. The result is a static string: compare with ==.
 */
const char *agent_state_name(const char *name);
/* TASK_FINISHED, TASK_FAILED, TASK_KILLED or TASK_LOST. */
bool agent_state_is_terminal(const char *state);

/* One status update. Strings are owned by the queue once pushed. */
struct agent_update {
	uint64_t seq;
	char *task_id;
	const char *state;    /* interned, see agent_state_name */
	int64_t timestamp_ms; /* wall clock */
	char *message;        /* never NULL in the queue */
	pid_t pid;            /* > 0: sent as "pid" */
	bool has_exit_code;
	int exit_code;        /* sent as "exitCode" when has_exit_code */
	char *extra;          /* more members, e.g. "\"healthy\":true,...", or NULL */
};

struct update_queue {
	struct agent_update *v; /* ascending seq */
	size_t n, alloc;
	uint64_t next_seq; /* seq of the next update pushed, >= 1 */
};

void update_queue_init(struct update_queue *q);
void update_queue_release(struct update_queue *q);

/*
 * Appends a copy of u (its seq is ignored; task_id, message and extra are
 * copied, a NULL message becomes "") numbered next_seq, and returns that seq.
 */
uint64_t update_queue_push(struct update_queue *q, const struct agent_update *u);

/*
 * The server applied every update up to acked: drops them and returns how
 * many were dropped. next_seq is raised above acked if it was not already
 * (so seqs keep increasing even if the server saw more than we remember).
 */
size_t update_queue_ack(struct update_queue *q, uint64_t acked);

/*
 * Appends the body of POST /v1/agents/{id}/updates to out:
 * {"epoch": E, "updates": [...]} with the first max pending updates (all
 * when there are fewer). Returns the seq of the last update included, or 0
 * when none was (a heartbeat).
 */
uint64_t update_queue_to_json(const struct update_queue *q, int64_t epoch, size_t max,
			      struct strbuf *out);

/* What agent.json says about one task. */
struct agent_task_record {
	char *task_id;          /* owned */
	pid_t pid;              /* 0 before the spawn */
	uint64_t start_time;    /* field 22 of /proc/<pid>/stat; 0 unknown */
	const char *state;      /* interned: the last state reported */
	int64_t started_at_ms;  /* when the launch command arrived */
	bool cgroup;            /* runs in a cgroup named after the task */
	double kill_grace_seconds;
};

void agent_task_record_release(struct agent_task_record *r);

/* The whole file. */
struct agent_state {
	char *agent_id; /* NULL before the first registration */
	int64_t epoch;  /* highest seen, 0 when none */
	struct update_queue updates;
	struct agent_task_record *tasks;
	size_t ntasks, alloc;
};

void agent_state_init(struct agent_state *st);
/* Frees everything st holds, including the task records. */
void agent_state_release(struct agent_state *st);

/*
 * Reads the state file at path into st (freshly initialized). Returns 0;
 * -ENOENT when there is no such file (st stays empty: a new agent); or
 * another negative code with a reason appended to why (unreadable, not
 * JSON, a field of the wrong type): the caller must not start over it, as
 * it would lose track of running tasks.
 */
int agent_state_load(struct agent_state *st, const char *path, struct strbuf *why);

/*
 * Writes the state atomically to path. The tasks are given apart from
 * st->tasks (the agent keeps its records elsewhere): ntasks pointers, each
 * written as is. Returns 0, or -errno with a reason appended to why (the
 * previous file is then left untouched).
 */
int agent_state_save(const char *path, const char *agent_id, int64_t epoch,
		     const struct update_queue *q, const struct agent_task_record *const *tasks,
		     size_t ntasks, struct strbuf *why);

/*
 * The start time of process pid (field 22 of /proc/<pid>/stat, clock ticks
 * since boot). Returns 0 and *out, or -errno (-ENOENT when pid is gone).
 */
int agent_proc_start_time(pid_t pid, uint64_t *out);

#endif
