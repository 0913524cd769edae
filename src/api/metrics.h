/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Request metrics: counters by route and status and a latency histogram per
 * route. Recording is O(1) (array indexes, no allocation, no lock: the loop
 * thread is the only writer), so collecting costs nothing in proportion to
 * the number of apps or tasks.
 */
#ifndef PACER_API_METRICS_H
#define PACER_API_METRICS_H

#include <stdint.h>

#include "base/histogram.h"
#include "base/strbuf.h"

#define METRICS_MAX_ROUTES 48
#define METRICS_NSTATUS 21

struct metrics {
	const char *routes[METRICS_MAX_ROUTES];
	unsigned nroutes;
	uint64_t requests[METRICS_MAX_ROUTES][METRICS_NSTATUS];
	struct histogram latency[METRICS_MAX_ROUTES];
};

void metrics_init(struct metrics *m);
/* Registers a route name (a string literal) and returns its index; 0 is "other". */
unsigned metrics_route(struct metrics *m, const char *name);
void metrics_record(struct metrics *m, unsigned route, int status, uint64_t latency_ns);

/* Appends the request families in Prometheus text format. */
void metrics_prometheus(const struct metrics *m, struct strbuf *out);
/* Appends Dropwizard-style "timers" entries (one per route) for Marathon's /metrics JSON. */
void metrics_json_timers(const struct metrics *m, struct strbuf *out);
/* Total requests answered with a status of the given class (2 for 2xx, ...). */
uint64_t metrics_count_class(const struct metrics *m, int cls);

#endif
