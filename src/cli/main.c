/* SPDX-License-Identifier: Apache-2.0 */
/*
 * pacer: the one binary. Parses the command line and wires the modules
 * together; nothing else lives here.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "agent/launcher.h"
#include "api/api.h"
#include "cli/commands.h"
#include "base/error.h"
#include "base/log.h"
#include "cluster/cluster.h"
#include "state/apps.h"
#include "store/store.h"

struct server_opts {
	struct api_config api;
	struct cluster_config cluster;
	const char *store;
	const char *log_level;
};

enum opt_kind { OPT_STR, OPT_SIZE, OPT_UINT };

struct opt {
	const char *name;   /* --name; the environment variable is PACER_<NAME> */
	enum opt_kind kind;
	const char *arg;
	const char *help;
	size_t offset;      /* into struct server_opts */
};

#define OFF(field) offsetof(struct server_opts, field)

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

static int set_opt(struct server_opts *o, const struct opt *opt, const char *val,
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

static int parse_server_args(int argc, char **argv, struct server_opts *o)
{
	struct option longopts[NOPTS + 2];
	size_t i;
	int c;

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
	    !o->api.max_versions || !o->api.max_header_bytes) {
		fprintf(stderr, "pacer: limits must be greater than 0\n");
		return -1;
	}
	if (!strcmp(o->log_level, "debug"))
		log_set_level(LOG_DEBUG);
	else if (!strcmp(o->log_level, "info"))
		log_set_level(LOG_INFO);
	else if (!strcmp(o->log_level, "warn"))
		log_set_level(LOG_WARN);
	else if (!strcmp(o->log_level, "error"))
		log_set_level(LOG_ERROR);
	else {
		fprintf(stderr, "pacer: invalid log level '%s': debug, info, warn or error\n", o->log_level);
		return -1;
	}
	return 0;
}

struct server {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	struct store *store;
	struct apps apps;
	struct cluster *cluster;
	struct api *api;
	int stopping;
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct server *s = h->data;

	if (s->stopping)
		return;
	s->stopping = 1;
	log_info("stopping on signal %d", signum);
	api_quiesce(s->api);
	/* flushes queued commits: their answers go out before the server closes */
	store_close(s->store);
	s->store = NULL;
	cluster_free(s->cluster);
	s->cluster = NULL;
	api_stop(s->api);
	s->api = NULL;
	uv_close((uv_handle_t *)&s->sigterm, NULL);
	uv_close((uv_handle_t *)&s->sigint, NULL);
}

static int cmd_server(int argc, char **argv)
{
	struct server_opts o;
	struct server s = {0};
	int err;

	if (parse_server_args(argc, argv, &o))
		return 2;
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&s.loop);
	err = store_open(&s.store, o.store, &s.loop);
	if (err) {
		fprintf(stderr, "pacer: cannot open store '%s': %s\n", o.store, pacer_strerror(err));
		uv_loop_close(&s.loop);
		return 1;
	}
	err = apps_init(&s.apps, s.store, o.api.max_versions);
	if (err) {
		fprintf(stderr, "pacer: cannot load apps from '%s': %s\n", o.store, pacer_strerror(err));
		goto fail_store;
	}
	err = cluster_init(&s.cluster, &s.loop, s.store, &s.apps, &o.cluster);
	if (err) {
		fprintf(stderr, "pacer: cannot load the cluster from '%s': %s\n", o.store,
			pacer_strerror(err));
		goto fail_apps;
	}
	err = api_start(&s.api, &s.loop, &o.api, s.store, &s.apps, s.cluster);
	if (err) {
		fprintf(stderr, "pacer: cannot serve on '%s': %s\n", o.api.listen, pacer_strerror(err));
		goto fail_cluster;
	}
	uv_signal_init(&s.loop, &s.sigterm);
	uv_signal_init(&s.loop, &s.sigint);
	s.sigterm.data = s.sigint.data = &s;
	uv_signal_start(&s.sigterm, on_signal, SIGTERM);
	uv_signal_start(&s.sigint, on_signal, SIGINT);
	log_info("pacer %s serving on %s (port %u), store %s, %zu apps", PACER_VERSION, o.api.listen,
		 api_port(s.api), o.store, apps_count(&s.apps));
	uv_run(&s.loop, UV_RUN_DEFAULT);
	apps_release(&s.apps);
	err = uv_loop_close(&s.loop);
	if (err)
		log_warn("event loop closed with handles still open: %s", uv_strerror(err));
	log_info("stopped");
	return 0;

fail_cluster:
	store_close(s.store);
	s.store = NULL;
	cluster_free(s.cluster);
fail_apps:
	apps_release(&s.apps);
fail_store:
	if (s.store)
		store_close(s.store);
	uv_run(&s.loop, UV_RUN_NOWAIT);
	uv_loop_close(&s.loop);
	return 1;
}

static void main_usage(FILE *f)
{
	fprintf(f, "usage: pacer COMMAND [OPTIONS]\n\n"
		   "Commands:\n"
		   "  server    the API server on an embedded store (pacer server --help)\n"
		   "  agent     a node agent that runs tasks for a server (pacer agent --help)\n"
		   "  version   print the version\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		main_usage(stderr);
		return 2;
	}
	/* every task starts through this: keep it first and cheap */
	if (!strcmp(argv[1], "_launch"))
		return launcher_main(argc - 1, argv + 1);
	if (!strcmp(argv[1], "agent"))
		return cmd_agent(argc - 1, argv + 1);
	if (!strcmp(argv[1], "server"))
		return cmd_server(argc - 1, argv + 1);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("pacer %s\n", PACER_VERSION);
		return 0;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		main_usage(stdout);
		return 0;
	}
	fprintf(stderr, "pacer: unknown command '%s'\n", argv[1]);
	main_usage(stderr);
	return 2;
}
