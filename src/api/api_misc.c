/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Small resources: /ping, /v2/info, /v2/leader, and the metrics endpoints
 * (/metrics in Marathon's Dropwizard JSON shape, /metrics/prometheus as text).
 */
#include <stdio.h>
#include <string.h>

#include "api/api_int.h"
#include "base/timeutil.h"
#include "events/bus.h"

static void get_ping(struct api *api, struct http_request *req, const char *rest)
{
	struct strbuf body = STRBUF_INIT;

	strbuf_addstr(&body, "pong");
	api_respond_text(api, req, 200, "text/plain; charset=utf-8", &body);
}

static void get_info(struct api *api, struct http_request *req, const char *rest)
{
	struct strbuf b = STRBUF_INIT;
	const char *colon = strrchr(api->leader, ':');

	strbuf_addstr(&b, "{\"name\":\"pacer\",\"version\":\"1.11.0\",\"buildref\":");
	strbuf_add_json_str(&b, "pacer-" PACER_VERSION);
	strbuf_addstr(&b, ",\"elected\":true,\"leader\":");
	strbuf_add_json_str(&b, api->leader);
	strbuf_addstr(&b, ",\"frameworkId\":");
	strbuf_add_json_str(&b, api->framework_id);
	strbuf_addstr(&b, ",\"marathon_config\":{\"checkpoint\":true,\"executor\":\"//cmd\","
			  "\"failover_timeout\":604800,\"features\":[],\"framework_name\":\"pacer\","
			  "\"ha\":false,\"hostname\":");
	strbuf_add_json_strn(&b, api->leader, colon ? (size_t)(colon - api->leader) : strlen(api->leader));
	strbuf_addstr(&b, ",\"local_port_min\":10000,\"local_port_max\":20000,\"master\":\"\","
			  "\"mesos_role\":\"*\",\"mesos_user\":\"root\",\"webui_url\":null,"
			  "\"access_control_allow_origin\":[],\"task_launch_timeout\":300000},"
			  "\"zookeeper_config\":{\"zk\":null,");
	strbuf_addf(&b, "\"zk_max_versions\":%zu},", api->cfg.max_versions);
	strbuf_addf(&b, "\"http_config\":{\"http_port\":%u,\"https_port\":null},", httpd_port(api->httpd));
	strbuf_addstr(&b, "\"event_subscriber\":null}");
	api_respond(api, req, 200, &b);
}

static void get_leader(struct api *api, struct http_request *req, const char *rest)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addstr(&b, "{\"leader\":");
	strbuf_add_json_str(&b, api->leader);
	strbuf_addch(&b, '}');
	api_respond(api, req, 200, &b);
}

/* Threads of this process, read from the kernel (never a number we keep ourselves). */
static long thread_count(void)
{
	char line[256];
	long n = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "Threads: %ld", &n) == 1)
			break;
	fclose(f);
	return n;
}

/* Resident set size in bytes. */
static long long rss_bytes(void)
{
	long long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return -1;
	if (fscanf(f, "%lld %lld", &pages, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * 4096;
}

static void get_metrics_prometheus(struct api *api, struct http_request *req, const char *rest)
{
	struct strbuf b = STRBUF_INIT;
	struct store_stats ss;
	struct httpd_stats hs;
	uint64_t cum = 0;

	store_get_stats(api->store, &ss);
	httpd_get_stats(api->httpd, &hs);
	metrics_prometheus(&api->metrics, &b);
	strbuf_addf(&b,
		    "# HELP pacer_store_commits_total Store transactions committed (one fsync each).\n"
		    "# TYPE pacer_store_commits_total counter\n"
		    "pacer_store_commits_total %llu\n"
		    "# HELP pacer_store_batches_total Changes committed; several share a commit.\n"
		    "# TYPE pacer_store_batches_total counter\n"
		    "pacer_store_batches_total %llu\n"
		    "# HELP pacer_store_commit_failures_total Store transactions that failed.\n"
		    "# TYPE pacer_store_commit_failures_total counter\n"
		    "pacer_store_commit_failures_total %llu\n"
		    "# HELP pacer_store_written_bytes_total Value bytes written to the store.\n"
		    "# TYPE pacer_store_written_bytes_total counter\n"
		    "pacer_store_written_bytes_total %llu\n"
		    "# HELP pacer_store_largest_value_bytes Largest single record written.\n"
		    "# TYPE pacer_store_largest_value_bytes gauge\n"
		    "pacer_store_largest_value_bytes %llu\n",
		    (unsigned long long)ss.commits, (unsigned long long)ss.batches,
		    (unsigned long long)ss.failures, (unsigned long long)ss.bytes_written,
		    (unsigned long long)ss.largest_value);
	strbuf_addstr(&b, "# HELP pacer_store_commit_duration_seconds Time from a change's submission to its commit.\n"
			  "# TYPE pacer_store_commit_duration_seconds histogram\n");
	for (int i = 0; i < HISTOGRAM_BUCKETS; i++) {
		cum += ss.commit_latency.counts[i];
		strbuf_addf(&b, "pacer_store_commit_duration_seconds_bucket{le=\"%g\"} %llu\n",
			    histogram_bound_seconds(i), (unsigned long long)cum);
	}
	strbuf_addf(&b,
		    "pacer_store_commit_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
		    "pacer_store_commit_duration_seconds_sum %.9f\n"
		    "pacer_store_commit_duration_seconds_count %llu\n",
		    (unsigned long long)ss.commit_latency.count,
		    (double)ss.commit_latency.sum_ns / 1e9,
		    (unsigned long long)ss.commit_latency.count);
	strbuf_addf(&b,
		    "# HELP pacer_apps Apps defined.\n# TYPE pacer_apps gauge\npacer_apps %zu\n"
		    "# HELP pacer_threads Threads of the server process.\n# TYPE pacer_threads gauge\n"
		    "pacer_threads %ld\n"
		    "# HELP pacer_resident_memory_bytes Resident memory of the server process.\n"
		    "# TYPE pacer_resident_memory_bytes gauge\npacer_resident_memory_bytes %lld\n"
		    "# HELP pacer_http_connections_open Open HTTP connections.\n"
		    "# TYPE pacer_http_connections_open gauge\npacer_http_connections_open %llu\n"
		    "# HELP pacer_http_connections_total HTTP connections accepted.\n"
		    "# TYPE pacer_http_connections_total counter\npacer_http_connections_total %llu\n"
		    "# HELP pacer_http_body_too_large_total Requests refused for their body size.\n"
		    "# TYPE pacer_http_body_too_large_total counter\n"
		    "pacer_http_body_too_large_total %llu\n"
		    "# HELP pacer_uptime_seconds Time since the server started.\n"
		    "# TYPE pacer_uptime_seconds gauge\npacer_uptime_seconds %.3f\n",
		    apps_count(api->apps), thread_count(), rss_bytes(),
		    (unsigned long long)hs.connections_open,
		    (unsigned long long)hs.connections_total,
		    (unsigned long long)hs.rejected_body_too_large,
		    (double)(time_now_ms() - api->started_ms) / 1000.0);
	if (api->events)
		event_bus_prometheus(api->events, &b);
	api_respond_text(api, req, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static void get_metrics(struct api *api, struct http_request *req, const char *rest)
{
	struct strbuf b = STRBUF_INIT;
	struct store_stats ss;
	struct httpd_stats hs;

	store_get_stats(api->store, &ss);
	httpd_get_stats(api->httpd, &hs);
	strbuf_addf(&b,
		    "{\"version\":\"4.0.0\",\"gauges\":{"
		    "\"pacer.apps\":{\"value\":%zu},\"pacer.threads\":{\"value\":%ld},"
		    "\"jvm.threads.count\":{\"value\":%ld},"
		    "\"pacer.memory.resident.bytes\":{\"value\":%lld},"
		    "\"pacer.http.connections.open\":{\"value\":%llu},"
		    "\"pacer.uptime.seconds\":{\"value\":%.3f}},"
		    "\"counters\":{"
		    "\"pacer.store.commits\":{\"count\":%llu},\"pacer.store.batches\":{\"count\":%llu},"
		    "\"pacer.store.failures\":{\"count\":%llu},"
		    "\"pacer.http.responses.2xx\":{\"count\":%llu},"
		    "\"pacer.http.responses.4xx\":{\"count\":%llu},"
		    "\"pacer.http.responses.5xx\":{\"count\":%llu}},"
		    "\"histograms\":{},\"meters\":{},\"timers\":{",
		    apps_count(api->apps), thread_count(), thread_count(), rss_bytes(),
		    (unsigned long long)hs.connections_open, (double)(time_now_ms() - api->started_ms) / 1000.0,
		    (unsigned long long)ss.commits, (unsigned long long)ss.batches,
		    (unsigned long long)ss.failures,
		    (unsigned long long)metrics_count_class(&api->metrics, 2),
		    (unsigned long long)metrics_count_class(&api->metrics, 4),
		    (unsigned long long)metrics_count_class(&api->metrics, 5));
	metrics_json_timers(&api->metrics, &b);
	strbuf_addstr(&b, "}}");
	api_respond(api, req, 200, &b);
}

void api_misc_register(struct api *api)
{
	router_add(api->router, HTTP_GET | HTTP_HEAD, "/ping", "/ping", get_ping);
	router_add(api->router, HTTP_GET | HTTP_HEAD, "/v2/info", "/v2/info", get_info);
	router_add(api->router, HTTP_GET | HTTP_HEAD, "/v2/leader", "/v2/leader", get_leader);
	router_add(api->router, HTTP_GET | HTTP_HEAD, "/metrics", "/metrics", get_metrics);
	router_add(api->router, HTTP_GET | HTTP_HEAD, "/metrics/prometheus",
		   "/metrics/prometheus", get_metrics_prometheus);
}
