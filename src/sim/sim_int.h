/* SPDX-License-Identifier: Apache-2.0 */
/* Internals shared by the .c files of src/sim; not for use outside the folder. */
#ifndef PACER_SIM_SIM_INT_H
#define PACER_SIM_SIM_INT_H

#include <curl/curl.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "sim/sim.h"

/* Task states, in the order they may move. */
enum sim_state { ST_NONE, ST_STARTING, ST_RUNNING, ST_KILLED, ST_FAILED };

#define TF_FAIL 1u      /* ends TASK_FAILED instead of TASK_RUNNING */
#define TF_UNHEALTHY 2u /* reported unhealthy once running */
#define TF_INFLIGHT 4u  /* its state is in the updates batch being sent */

/*
 * A task: a record in its agent's arena, header then id bytes (no NUL):
 *   u32 due_ms   when TASK_STARTING ends (ms since the sim started)
 *   u8  state    what the task is
 *   u8  sent     the state in the batch in flight
 *   u8  acked    the state the server acknowledged (ST_NONE: nothing yet)
 *   u8  flags    TF_*
 *   u16 idlen
 * Records are unaligned: read and written with memcpy.
 */
#define TASK_HDR 10u
struct task_hdr {
	uint32_t due_ms;
	uint8_t state, sent, acked, flags;
	uint16_t idlen;
};

struct sim_agent {
	char *arena;        /* packed task records */
	uint32_t len, alloc;
	uint32_t ntasks;
	uint32_t seq;       /* the last update seq given out */
	uint32_t sent_seq;  /* the last seq of the batch in flight (0: none) */
	uint8_t registered; /* registered since the lane's session began */
	uint8_t pending;    /* has updates to send */
};

/* One transfer. */
enum req_kind { REQ_REGISTER, REQ_STREAM, REQ_UPDATES };
struct sim_req {
	struct lane *l;
	enum req_kind kind;
	CURL *easy;
	struct curl_slist *headers;
	struct strbuf resp;
	uint32_t agent; /* registration: which agent */
};

enum lane_phase { LANE_IDLE, LANE_REGISTER, LANE_ONLINE };

/* K lanes: lane k carries agents k, k+K, k+2K, ... */
struct lane {
	struct sim *s;
	unsigned idx;
	enum lane_phase phase;
	uint32_t reg_next;      /* the next agent to register */
	struct sim_req *req;    /* the registration or updates POST in flight */
	struct sim_req *stream;
	struct strbuf line;     /* the stream's partial line */
	bool upd_again, hb_due; /* updates pending; every agent due for a heartbeat */
	uint64_t backoff_ms;
	uv_timer_t retry_timer, idle_timer;
	uint32_t *batch;        /* agents in the updates batch in flight */
	size_t nbatch, abatch;
};

struct due {
	uint32_t agent, due_ms;
};

struct sim {
	uv_loop_t *loop;
	struct sim_config cfg;
	char *base;              /* server URL without a final '/' */
	char *id_prefix;         /* "agent-<hostname prefix>" */
	struct curl_slist *resolve;
	struct curl_loop *cl;    /* http/curl_loop.h */
	struct sim_agent *agents;
	struct lane *lanes;
	uint64_t epoch;
	uint64_t start_ms;       /* uv_now at sim_new */
	uint64_t hb_ms;
	uint32_t rng;
	/* launches waiting to leave TASK_STARTING, in time order (constant delay) */
	struct due *dues;
	size_t due_head, due_len, due_alloc; /* a ring */
	uv_timer_t due_timer, hb_timer, kick_timer;
	int open_handles;
	bool multi_inited;       /* curl_global_init succeeded */
	struct sim_stats st;
};

/* sim.c: the agents and their tasks */
uint32_t sim_now(const struct sim *s);
void sim_agent_id(const struct sim *s, uint32_t i, struct strbuf *out);
/* Agent index of an id, or UINT32_MAX. */
uint32_t sim_agent_index(const struct sim *s, const char *id);
void sim_registration_body(struct sim *s, uint32_t i, struct strbuf *out);
void sim_registered(struct sim *s, uint32_t i, uint64_t epoch, uint64_t acked_seq);
void sim_command(struct sim *s, json_t *cmd);
/* Appends the agent's entry of a batched updates body; returns whether it had updates. */
bool sim_agent_updates(struct sim *s, uint32_t i, const char *iso, struct strbuf *out);
/* The batch holding the agent's updates was answered (acked) or failed (!acked). */
void sim_agent_batch_done(struct sim *s, uint32_t i, bool acked, uint64_t acked_seq);
/* Close callback of every handle; h->data is the sim. The last one frees it. */
void sim_handle_closed(uv_handle_t *h);

/* lane.c: the connections */
int lanes_init(struct sim *s, struct strbuf *why);
void lanes_start(struct sim *s);
/* Updates are pending on agent i's lane. */
void lane_kick(struct sim *s, uint32_t agent);
void lanes_free(struct sim *s);

#endif
