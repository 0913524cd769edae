/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `pacer server` and the server half of `pacer dev`: options (each also an
 * environment variable) and the wiring of store, apps, cluster and API on
 * one loop.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "api/api.h"
#include "cli/commands.h"
#include "cli/server.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/cluster.h"
#include "state/apps.h"
#include "store/store.h"

enum opt_kind { OPT_STR, OPT_SIZE, OPT_UINT };

struct opt {
	const char *name;   /* --name; the environment variable is PACER_<NAME> */
	enum opt_kind kind;
	const char *arg;
	const char *help;
	size_t offset;      /* into struct server_options */
};

#define OFF(field) offsetof(struct server_options, field)

static const struct opt server_opts_table[] = {
	{"listen", OPT_STR, "ADDR:PORT", "address to serve the API on (default 127.0.0.1:8080)",
	 OFF(api.listen)},
	{"store", OPT_STR, "URI", "where state lives: lmdb:DIR (default lmdb:/var/lib/pacer)",
	 OFF(store)},
	{"hostname", OPT_STR, "NAME", "host name reported as leader (default: from --listen)",
	 OFF(api.hostname)},
	{"max-body-bytes", OPT_SIZE, "N", "largest request body accepted; larger gets 413 (default 16777216)",
	 OFF(api.max_body_bytes)},
	{"max-json-depth", OPT_SIZE, "N", "deepest JSON nesting accepted; deeper gets 400 (default 64)",
	 OFF(api.max_json_depth)},
	{"max-header-bytes", OPT_SIZE, "N", "memory for one request's headers; more gets 431 (default 32768)",
	 OFF(api.max_header_bytes)},
	{"idle-timeout", OPT_UINT, "SECONDS", "close connections idle this long, including slow headers (default 60)",
	 OFF(api.idle_timeout_s)},
	{"max-connections", OPT_UINT, "N", "connections served at once; more are refused (default 4096)",
	 OFF(api.max_connections)},
	{"max-versions", OPT_SIZE, "N", "versions kept per app (default 50)", OFF(api.max_versions)},
	{"agent-timeout", OPT_UINT, "SECONDS", "an agent silent this long is unreachable (default 15)",
	 OFF(cluster.agent_timeout_s)},
	{"unknown-task-grace", OPT_UINT, "SECONDS", "tasks an agent runs that the server does not know are killed after this (default 60)",
	 OFF(cluster.unknown_task_grace_s)},
	{"event-ring-size", OPT_SIZE, "N", "events kept for clients resuming with Last-Event-ID (default 10000)",
	 OFF(events.ring_size)},
	{"event-subscriber-buffer", OPT_SIZE, "BYTES", "how far an event stream client may fall behind before it is cut off (default 1048576)",
	 OFF(events.subscriber_buffer)},
	{"event-keepalive", OPT_UINT, "SECONDS", "idle event streams get a comment line this often (default 5)",
	 OFF(events.keepalive_s)},
	{"log-level", OPT_STR, "LEVEL", "debug, info, warn or error (default info)", OFF(log_level)},
};
#define NOPTS (sizeof(server_opts_table) / sizeof(server_opts_table[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: pacer server [OPTIONS]\n\n"
		   "Runs Pacer's API server (Marathon's v2 REST API) on an embedded store.\n\n"
		   "Options (each also read from the environment variable shown):\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char env[64], *p;

		snprintf(env, sizeof(env), "PACER_%s", server_opts_table[i].name);
		for (p = env; *p; p++)
			*p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		fprintf(f, "  --%s %s\n      %s [%s]\n", server_opts_table[i].name,
			server_opts_table[i].arg, server_opts_table[i].help, env);
	}
	fprintf(f, "  --help\n      show this text\n");
}

static int set_opt(struct server_options *o, const struct opt *opt, const char *val,
		   const char *source)
{
	char *p = (char *)o + opt->offset, *end;
	unsigned long long n;

	if (opt->kind == OPT_STR) {
		*(const char **)p = val;
		return 0;
	}
	errno = 0;
	n = strtoull(val, &end, 10);
	if (errno || end == val || *end || val[0] == '-' || (opt->kind == OPT_UINT && n > 0xffffffffull)) {
		fprintf(stderr, "pacer: invalid value '%s' for %s: a whole number is expected\n", val,
			source);
		return -1;
	}
	if (opt->kind == OPT_SIZE)
		*(size_t *)p = (size_t)n;
	else
		*(unsigned *)p = (unsigned)n;
	return 0;
}

int server_set_log_level(const char *name)
{
	if (!strcmp(name, "debug"))
		log_set_level(LOG_DEBUG);
	else if (!strcmp(name, "info"))
		log_set_level(LOG_INFO);
	else if (!strcmp(name, "warn"))
		log_set_level(LOG_WARN);
	else if (!strcmp(name, "error"))
		log_set_level(LOG_ERROR);
	else {
		fprintf(stderr, "pacer: invalid log level '%s': debug, info, warn or error\n", name);
		return -1;
	}
	return 0;
}

void server_options_defaults(struct server_options *o)
{
	memset(o, 0, sizeof(*o));
	o->api.listen = "127.0.0.1:8080";
	o->store = "lmdb:/var/lib/pacer";
	o->api.max_body_bytes = 16u << 20;
	o->api.max_json_depth = 64;
	o->api.max_header_bytes = 32u << 10;
	o->api.idle_timeout_s = 60;
	o->api.max_connections = 4096;
	o->api.max_versions = 50;
	o->log_level = "info";
	o->cluster.agent_timeout_s = 15;
	o->cluster.unknown_task_grace_s = 60;
	o->cluster.heartbeat_interval_ms = 1000;
	o->events.ring_size = EVENT_BUS_DEFAULT_RING;
	o->events.subscriber_buffer = EVENT_BUS_DEFAULT_BUFFER;
	o->events.keepalive_s = EVENT_BUS_DEFAULT_KEEPALIVE_S;
	o->events.callback_queue = EVENT_BUS_DEFAULT_CALLBACK_QUEUE;
}

int server_parse_args(int argc, char **argv, struct server_options *o)
{
	struct option longopts[NOPTS + 2];
	size_t i;
	int c;

	server_options_defaults(o);
	for (i = 0; i < NOPTS; i++) {
		char env[64], *p;
		const char *v;

		snprintf(env, sizeof(env), "PACER_%s", server_opts_table[i].name);
		for (p = env; *p; p++)
			*p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		v = getenv(env);
		if (v && set_opt(o, &server_opts_table[i], v, env))
			return -1;
		longopts[i] = (struct option){server_opts_table[i].name, required_argument, NULL, (int)i};
	}
	longopts[i++] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[i] = (struct option){0};
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			exit(0);
		}
		if (c < 0 || (size_t)c >= NOPTS) {
			usage(stderr);
			return -1;
		}
		char source[80];

		snprintf(source, sizeof(source), "--%s", server_opts_table[c].name);
		if (set_opt(o, &server_opts_table[c], optarg, source))
			return -1;
	}
	if (optind < argc) {
		fprintf(stderr, "pacer: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->api.max_json_depth || !o->api.max_body_bytes || !o->api.max_connections ||
	    !o->api.max_versions || !o->api.max_header_bytes || !o->events.ring_size ||
	    !o->events.subscriber_buffer || !o->events.keepalive_s) {
		fprintf(stderr, "pacer: limits must be greater than 0\n");
		return -1;
	}
	return server_set_log_level(o->log_level);
}

/* Opens store, apps, cluster and API on loop; on failure nothing is left open. */
int server_open(struct server *s, uv_loop_t *loop, const struct server_options *o)
{
	int err;

	memset(s, 0, sizeof(*s));
	s->loop = loop;
	err = store_open(&s->store, o->store, loop);
	if (err) {
		fprintf(stderr, "pacer: cannot open store '%s': %s\n", o->store, pacer_strerror(err));
		return err;
	}
	err = apps_init(&s->apps, s->store, o->api.max_versions);
	if (err) {
		fprintf(stderr, "pacer: cannot load apps from '%s': %s\n", o->store,
			pacer_strerror(err));
		goto fail_store;
	}
	err = event_bus_new(&s->events, loop, s->store, &o->events);
	if (err) {
		fprintf(stderr, "pacer: cannot start the event bus on '%s': %s\n", o->store,
			pacer_strerror(err));
		goto fail_apps;
	}
	err = cluster_init(&s->cluster, loop, s->store, &s->apps, &o->cluster);
	if (err) {
		fprintf(stderr, "pacer: cannot load the cluster from '%s': %s\n", o->store,
			pacer_strerror(err));
		goto fail_events;
	}
	cluster_set_event_bus(s->cluster, s->events);
	err = api_start(&s->api, loop, &o->api, s->store, &s->apps, s->cluster);
	if (err) {
		fprintf(stderr, "pacer: cannot serve on '%s': %s\n", o->api.listen,
			pacer_strerror(err));
		goto fail_cluster;
	}
	log_info("pacer %s serving on %s (port %u), store %s, %zu apps", PACER_VERSION,
		 o->api.listen, api_port(s->api), o->store, apps_count(&s->apps));
	return 0;

fail_cluster:
	store_close(s->store);
	s->store = NULL;
	cluster_free(s->cluster);
fail_events:
	event_bus_free(s->events);
	s->events = NULL;
fail_apps:
	apps_release(&s->apps);
fail_store:
	if (s->store)
		store_close(s->store);
	s->store = NULL;
	uv_run(loop, UV_RUN_NOWAIT);
	return err;
}

unsigned server_port(const struct server *s)
{
	return api_port(s->api);
}

void server_close(struct server *s)
{
	if (!s->api)
		return;
	api_quiesce(s->api);
	/* flushes queued commits: their answers go out before the server closes */
	store_close(s->store);
	s->store = NULL;
	cluster_free(s->cluster);
	s->cluster = NULL;
	/* ends the event streams properly, before the server closes connections */
	event_bus_free(s->events);
	s->events = NULL;
	api_stop(s->api);
	s->api = NULL;
}

void server_release(struct server *s)
{
	apps_release(&s->apps);
}

struct server_main {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	struct server server;
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct server_main *m = h->data;

	if (!m->server.api)
		return;
	log_info("stopping on signal %d", signum);
	server_close(&m->server);
	uv_close((uv_handle_t *)&m->sigterm, NULL);
	uv_close((uv_handle_t *)&m->sigint, NULL);
}

int cmd_server(int argc, char **argv)
{
	struct server_options o;
	struct server_main m;
	int err;

	if (server_parse_args(argc, argv, &o))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&m.loop);
	if (server_open(&m.server, &m.loop, &o)) {
		uv_loop_close(&m.loop);
		return 1;
	}
	uv_signal_init(&m.loop, &m.sigterm);
	uv_signal_init(&m.loop, &m.sigint);
	m.sigterm.data = m.sigint.data = &m;
	uv_signal_start(&m.sigterm, on_signal, SIGTERM);
	uv_signal_start(&m.sigint, on_signal, SIGINT);
	uv_run(&m.loop, UV_RUN_DEFAULT);
	server_release(&m.server);
	err = uv_loop_close(&m.loop);
	if (err)
		log_warn("event loop closed with handles still open: %s", uv_strerror(err));
	log_info("stopped");
	return 0;
}
