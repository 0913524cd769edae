/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's side of the agent protocol (docs/agent-protocol.md) over
 * HTTP: libcurl's multi interface driven by the agent's libuv loop
 * (CURLMOPT_SOCKETFUNCTION + uv_poll, CURLMOPT_TIMERFUNCTION + uv_timer,
 * curl_multi_socket_action), so it adds no thread.
 *
 *   register      POST /v1/agents; on failure retried with backoff
 *                 (100 ms doubling to 5 s) for as long as it takes
 *   commands      one long-lived GET /v1/agents/{id}/commands read as
 *                 newline-delimited JSON; when it ends, fails, or stays
 *                 silent for STREAM_IDLE_MS (the server pings every few
 *                 seconds), the client registers again and reopens it
 *   updates       POST /v1/agents/{id}/updates with everything pending,
 *                 at most one in flight; sent when kicked and at least
 *                 every heartbeatIntervalMs (empty: a heartbeat); failures
 *                 are retried with backoff (100 ms doubling to 5 s); 404
 *                 means the server forgot the agent: register again
 *
 * The client knows nothing of tasks: the agent gives it bodies and takes
 * its answers through struct client_ops. Host names are resolved once, in
 * client_new, before the loop runs (Debian's libcurl would resolve on a
 * thread of its own per lookup); curl is then handed the address with
 * CURLOPT_RESOLVE, so it never resolves and the Host header stays right.
 */
#ifndef PACER_AGENT_CLIENT_H
#define PACER_AGENT_CLIENT_H

#include <jansson.h>
#include <stdint.h>
#include <uv.h>

#include "base/strbuf.h"

/* Longest line of the commands stream, and largest answer, accepted. */
#define CLIENT_MAX_LINE (1u << 20)
/* Most updates sent in one POST; the rest follow once it is answered. */
#define CLIENT_MAX_BATCH 1000

/*
 * What the client asks of the agent. All are called from loop callbacks,
 * never from inside client_* calls; none may call client_free.
 */
struct client_ops {
	/* Appends the body of POST /v1/agents. */
	void (*registration_body)(void *data, struct strbuf *out);
	/* Registration answered 200: the agent's id, the server's epoch, ackedSeq. */
	void (*registered)(void *data, const char *agent_id, int64_t epoch, uint64_t acked_seq);
	/*
	 * Appends the body of POST /v1/agents/{id}/updates with at most max
	 * updates; returns the seq of the last one included, 0 for none.
	 */
	uint64_t (*updates_body)(void *data, size_t max, struct strbuf *out);
	/* The server applied every update up to acked_seq. */
	void (*acked)(void *data, uint64_t acked_seq);
	/* One command from the stream (borrowed: valid during the call). */
	void (*command)(void *data, json_t *cmd);
};

struct client;

/*
 * Creates a client for server_url ("http://host:port", optionally with a
 * path prefix; https works too), resolving the host synchronously. Nothing
 * is sent before client_start. Returns 0 and *out, or PACER_EBADCONFIG /
 * a negative code with a reason appended to why.
 */
int client_new(struct client **out, uv_loop_t *loop, const char *server_url,
	       const struct client_ops *ops, void *data, struct strbuf *why);

/* Starts registering (and everything that follows a registration). */
void client_start(struct client *c);

/* Updates are pending: send them soon (coalesced; never sends from inside the call). */
void client_kick(struct client *c);

/*
 * Aborts every transfer and closes the client's handles; its memory goes
 * once the loop has run their close callbacks. ops are never called again.
 */
void client_free(struct client *c);

#endif
