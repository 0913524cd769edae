/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Simulated agents for scale tests (`pacer sim`), like Kubernetes' hollow
 * nodes: N agents that speak the real agent protocol (docs/agent-protocol.md)
 * to a server but run nothing. They register, keep a command stream,
 * heartbeat, answer a launch with TASK_STARTING and, after a delay,
 * TASK_RUNNING (or TASK_FAILED for a fraction of tasks), and a kill with
 * TASK_KILLED.
 *
 * The N agents share K connections ("lanes"), all driven by one libcurl multi
 * handle on the caller's libuv loop: no thread is started. Each lane carries
 * the commands of its agents on one multiplexed stream
 * (POST /v1/agents/commands) and their updates and heartbeats in one batched
 * POST /v1/agents/updates per round; registrations are ordinary
 * POST /v1/agents, one per agent, on the lane's request connection. An agent
 * costs a few tens of bytes and a task its id plus a 10-byte header, kept in
 * its agent's packed array (see sim_int.h).
 */
#ifndef PACER_SIM_SIM_H
#define PACER_SIM_SIM_H

#include <stdint.h>
#include <uv.h>

#include "base/strbuf.h"

struct sim_config {
	const char *server;          /* "http://host:port" */
	unsigned agents;             /* N >= 1 */
	unsigned connections;        /* K >= 1 (at most N) */
	const char *resources;       /* template, e.g. "cpus:64;mem:262144;ports:[10000-30000]" */
	const char *attributes;      /* template, e.g. "rack:r{i%10};zone:z{i%3}" */
	const char *hostname_prefix; /* agent i is "<prefix><i>", id "agent-<prefix><i>" */
	unsigned start_delay_ms;     /* TASK_STARTING -> TASK_RUNNING */
	double fail_rate;            /* fraction of launches that end TASK_FAILED */
	double unhealthy_rate;       /* fraction of running tasks reported unhealthy */
	uint32_t seed;               /* for the fail and unhealthy draws */
};

struct sim_stats {
	unsigned agents, registered;  /* registered: on an open stream */
	uint64_t tasks, starting, running;
	uint64_t launches, kills, failed, killed; /* commands and outcomes so far */
	uint64_t updates_sent, registrations, stream_breaks;
	uint64_t task_bytes;          /* the packed task records, exactly */
	uint64_t agent_bytes;         /* the agent structs, exactly */
};

struct sim;

/*
 * Validates cfg (templates, URL) and allocates the agents; nothing is sent
 * before sim_start. Returns 0 and *out, or a negative code with the reason
 * appended to why.
 */
int sim_new(struct sim **out, uv_loop_t *loop, const struct sim_config *cfg, struct strbuf *why);
/* Starts registering every agent and keeps them going until sim_free. */
void sim_start(struct sim *s);
void sim_stats(const struct sim *s, struct sim_stats *out);
/* Aborts every transfer and closes the handles; memory goes with their close callbacks. */
void sim_free(struct sim *s);

/*
 * Expands a template for agent i: "{i}" becomes i, "{i%N}" i mod N, "{i/N}"
 * i div N; everything else is copied. Returns 0, or PACER_EBADCONFIG with why.
 */
int sim_template_expand(const char *tmpl, unsigned i, struct strbuf *out, struct strbuf *why);

#endif
