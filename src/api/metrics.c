/* SPDX-License-Identifier: Apache-2.0 */
/* Request metrics; see metrics.h. */
#include "api/metrics.h"

#include <string.h>

#include "base/log.h"

static const int statuses[METRICS_NSTATUS - 1] = {200, 201, 202, 204, 301, 304, 400,
						   401, 403, 404, 405, 409, 413, 415,
						   422, 429, 431, 500, 502, 503};

void metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof(*m));
	m->routes[0] = "other";
	m->nroutes = 1;
}

unsigned metrics_route(struct metrics *m, const char *name)
{
	for (unsigned i = 0; i < m->nroutes; i++)
		if (!strcmp(m->routes[i], name))
			return i;
	PACER_ASSERT(m->nroutes < METRICS_MAX_ROUTES);
	m->routes[m->nroutes] = name;
	return m->nroutes++;
}

static unsigned status_index(int status)
{
	for (unsigned i = 0; i < METRICS_NSTATUS - 1; i++)
		if (statuses[i] == status)
			return i;
	return METRICS_NSTATUS - 1;
}

void metrics_record(struct metrics *m, unsigned route, int status, uint64_t latency_ns)
{
	if (route >= m->nroutes)
		route = 0;
	m->requests[route][status_index(status)]++;
	histogram_record(&m->latency[route], latency_ns);
}

void metrics_prometheus(const struct metrics *m, struct strbuf *out)
{
	strbuf_addstr(out, "# HELP pacer_http_requests_total HTTP requests answered, by route and status.\n"
			   "# TYPE pacer_http_requests_total counter\n");
	for (unsigned r = 0; r < m->nroutes; r++) {
		for (unsigned s = 0; s < METRICS_NSTATUS; s++) {
			if (!m->requests[r][s])
				continue;
			if (s < METRICS_NSTATUS - 1)
				strbuf_addf(out, "pacer_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n",
					    m->routes[r], statuses[s],
					    (unsigned long long)m->requests[r][s]);
			else
				strbuf_addf(out, "pacer_http_requests_total{route=\"%s\",status=\"other\"} %llu\n",
					    m->routes[r], (unsigned long long)m->requests[r][s]);
		}
	}
	strbuf_addstr(out, "# HELP pacer_http_request_duration_seconds Time from request to answer, by route.\n"
			   "# TYPE pacer_http_request_duration_seconds histogram\n");
	for (unsigned r = 0; r < m->nroutes; r++) {
		const struct histogram *h = &m->latency[r];
		uint64_t cum = 0;

		if (!h->count)
			continue;
		for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
			cum += h->counts[i];
			strbuf_addf(out, "pacer_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n",
				    m->routes[r], histogram_bound_seconds(i), (unsigned long long)cum);
		}
		strbuf_addf(out, "pacer_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n",
			    m->routes[r], (unsigned long long)h->count);
		strbuf_addf(out, "pacer_http_request_duration_seconds_sum{route=\"%s\"} %.9f\n",
			    m->routes[r], (double)h->sum_ns / 1e9);
		strbuf_addf(out, "pacer_http_request_duration_seconds_count{route=\"%s\"} %llu\n",
			    m->routes[r], (unsigned long long)h->count);
	}
}

void metrics_json_timers(const struct metrics *m, struct strbuf *out)
{
	int first = 1;

	for (unsigned r = 0; r < m->nroutes; r++) {
		const struct histogram *h = &m->latency[r];

		if (!h->count)
			continue;
		strbuf_addf(out, "%s\"pacer.http.requests%s\":{\"count\":%llu,\"mean\":%.6f,"
				 "\"p50\":%.6f,\"p95\":%.6f,\"p99\":%.6f,\"duration_units\":\"seconds\"}",
			    first ? "" : ",", strcmp(m->routes[r], "other") ? m->routes[r] : ".other",
			    (unsigned long long)h->count, (double)h->sum_ns / 1e9 / (double)h->count,
			    (double)histogram_quantile_ns(h, 0.5) / 1e9,
			    (double)histogram_quantile_ns(h, 0.95) / 1e9,
			    (double)histogram_quantile_ns(h, 0.99) / 1e9);
		first = 0;
	}
}

uint64_t metrics_count_class(const struct metrics *m, int cls)
{
	uint64_t n = 0;

	for (unsigned r = 0; r < m->nroutes; r++)
		for (unsigned s = 0; s < METRICS_NSTATUS - 1; s++)
			if (statuses[s] / 100 == cls)
				n += m->requests[r][s];
	return n;
}
