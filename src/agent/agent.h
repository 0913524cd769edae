/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent: `pacer agent`'s runtime on one libuv loop. It keeps the set of
 * tasks it supervises by task id, applies the server's commands (launch,
 * kill, ping) from the commands stream, turns every task state transition
 * into a numbered status update, and keeps <work-dir>/agent.json (see
 * agent_state.h) current, so that a restarted agent re-attaches to the
 * tasks that kept running. The protocol is docs/agent-protocol.md; HTTP is
 * client.h's business.
 *
 * Rules it follows:
 *   - a command whose epoch is lower than the highest seen is refused
 *     (logged and ignored): a stale server can launch and kill nothing;
 *   - a launch of a task it already has, and a kill of a task it has but
 *     that no longer runs, are answered with the task's current state; a
 *     kill of a task it does not know with TASK_LOST "unknown task";
 *   - a terminal task is forgotten once the server has acknowledged its
 *     terminal update; its sandbox stays;
 *   - nothing kills a task because the server is gone, and stopping the
 *     agent (agent_stop) leaves its tasks running.
 *
 * agent.json is written (atomically, synchronously: it is small) before any
 * update it numbers is sent, coalesced to once per loop turn.
 */
#ifndef PACER_AGENT_AGENT_H
#define PACER_AGENT_AGENT_H

#include <uv.h>

#include "agent/spawner.h"
#include "base/strbuf.h"

/* Where tasks' cgroups go, from the agent's own cgroup (see cgroup.h). */
#define AGENT_CGROUP_PARENT "pacer"

/* The agent's settings; strings are copied by agent_start. */
struct agent_config {
	const char *server_url; /* "http://10.0.0.1:8080"; a host name is resolved once */
	const char *work_dir;   /* created if missing; sandboxes in <work_dir>/tasks/ */
	const char *hostname;   /* HOST of tasks, and the name registered */
	const char *resources;  /* Mesos text, already valid (sched_resources_parse) */
	const char *attributes; /* Mesos text, already valid, or "" */
	/* how to run `pacer _launch`; the pointers must outlive the agent */
	struct spawn_launcher launcher;
};

struct agent;

/*
 * Starts the agent on loop: creates the work directory, reads agent.json
 * and re-attaches to each task process still alive (the same pid with the
 * same start time), reports the others as failed, detects cgroups, and
 * starts registering with the server (retried until it answers). Returns 0
 * and *out, or a negative code with a reason appended to why (work dir not
 * usable, agent.json unreadable or corrupt, bad server URL); nothing is then
 * left on the loop.
 */
int agent_start(struct agent **out, uv_loop_t *loop, const struct agent_config *cfg,
		struct strbuf *why);

/*
 * Stops the agent without killing its tasks: writes agent.json, stops
 * supervising (the tasks keep running), aborts transfers and closes every
 * handle. The memory goes once the loop has run the close callbacks; the
 * loop then has nothing left of the agent.
 */
void agent_stop(struct agent *a);

#endif
