/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Health checks of one task, run by the agent on its libuv loop next to the
 * task (Marathon's healthChecks, as the launch command carries them
 * normalized; see docs/agent-protocol.md).
 *
 *   HTTP, MESOS_HTTP   GET <path> of 127.0.0.1:<port> over HTTP/1.0 with
 *                      "Connection: close"; only the status line is read.
 *                      Healthy when the status is 200-399; a 1xx is
 *                      discarded (no result) when ignoreHttp1xx.
 *   TCP, MESOS_TCP     healthy when a connection to 127.0.0.1:<port> opens.
 *   COMMAND            `/bin/sh -c <command.value>` in the task's sandbox
 *                      with its environment, spawned vfork-style (spawner.h),
 *                      output to /dev/null; healthy on exit status 0.
 *   HTTPS, MESOS_HTTPS not supported yet: one result, not alive, with the
 *                      cause saying so; the check never runs and never
 *                      counts a failure (so it never gets a task killed).
 *
 * <port> is ports[portIndex] of the task, or the fixed `port`. HTTP and TCP
 * checks cost one TCP handle while in flight, no thread and no process.
 *
 * Timing (per check): the first check starts delaySeconds after
 * health_start (the task is RUNNING); the next one intervalSeconds after
 * the previous one started (at once when it took longer). A check still
 * running after timeoutSeconds is abandoned (its connection closed, its
 * process group SIGKILLed and reaped) and counts as a failure; there is
 * never more than one check of a kind in flight per task. A failure within
 * gracePeriodSeconds of health_start does not count (no result at all)
 * until the check has succeeded once.
 *
 * Results follow Marathon's: alive is the outcome of the last counted check,
 * consecutiveFailures counts failures since the last success. The callback
 * is called on transitions only: the first result of a check, a change of
 * alive, and when consecutiveFailures reaches maxConsecutiveFailures (> 0),
 * which is when the server may kill the task.
 */
#ifndef PACER_AGENT_HEALTH_H
#define PACER_AGENT_HEALTH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "agent/env.h"
#include "base/strbuf.h"

/* Most checks one task may have (outside input). */
#define HEALTH_MAX_CHECKS 16

enum health_protocol { HEALTH_HTTP, HEALTH_HTTPS, HEALTH_TCP, HEALTH_COMMAND };

/* One check, as health_checks_parse reads it; strings point into the JSON. */
struct health_check_config {
	enum health_protocol protocol;
	const char *path;    /* HTTP: "/" when absent */
	int port;            /* HTTP, TCP: resolved host port; 0 when the task has none */
	bool ignore_1xx;
	const char *command; /* COMMAND */
	uint64_t grace_ms, interval_ms, timeout_ms, delay_ms;
	unsigned max_failures; /* 0: never reported as due for a kill */
};

/* One check's result. Times are wall-clock ms, 0 for none. */
struct health_result {
	bool known; /* false until the first counted result */
	bool alive;
	unsigned consecutive_failures;
	int64_t first_success, last_success, last_failure;
	char *last_failure_cause; /* NULL when none */
};

/*
 * Reads a launch command's "healthChecks" (a JSON array, or NULL/absent:
 * none) into *out (allocated, n entries; free() it), resolving portIndex
 * against ports. Strings point into arr. Returns 0, or PACER_EBADREQUEST
 * with a reason appended to why (*out is then NULL).
 */
int health_checks_parse(const json_t *arr, const struct env_port *ports, size_t nports,
			struct health_check_config **out, size_t *n, struct strbuf *why);

struct health;
typedef void health_changed_fn(struct health *h, void *data);

struct health_config {
	uv_loop_t *loop;
	const char *sandbox;    /* COMMAND checks run there */
	const char *const *env; /* "NAME=value": the task's environment */
	size_t nenv;
	const struct health_check_config *checks;
	size_t nchecks; /* 1 .. HEALTH_MAX_CHECKS */
};

/*
 * Creates the checks of a task (copying cfg), not yet running. Returns 0
 * and *out (freed with health_free), or PACER_EBADREQUEST for no or too
 * many checks (cb is then never called). cb is called from loop callbacks
 * only, and may call health_free.
 */
int health_new(struct health **out, const struct health_config *cfg, health_changed_fn *cb,
	       void *data);

/* The task is RUNNING: the checks start (each after its delay). Once only. */
void health_start(struct health *h);

/*
 * Stops the checks: abandons those in flight (a COMMAND check's process is
 * SIGKILLed and still reaped) and frees h once the loop has closed its
 * handles. NULL is a no-op.
 */
void health_free(struct health *h);

size_t health_count(const struct health *h);
const struct health_result *health_result(const struct health *h, size_t i);
/* Every check known and alive. */
bool health_healthy(const struct health *h);

/*
 * Appends the members an update carries (docs/agent-protocol.md):
 * "healthy":B,"healthResults":[{alive, consecutiveFailures, firstSuccess,
 * lastSuccess, lastFailure, lastFailureCause} or null (no result yet), ...]
 * in the order of the checks.
 */
void health_results_json(const struct health *h, struct strbuf *out);

#endif
