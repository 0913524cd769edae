/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `pacer dev`: the single-machine mode. The server, on an embedded store
 * under the data directory, and one agent for this machine run on one loop
 * in one process; the agent speaks the same protocol over loopback HTTP as a
 * remote agent would.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/agent.h"
#include "agent/launcher.h"
#include "base/error.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "cli/commands.h"
#include "cli/server.h"
#include "sched/resources.h"

struct dev_main {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	struct server server;
	struct agent *agent;
};

static void usage(FILE *f)
{
	fprintf(f, "usage: pacer dev [OPTIONS]\n\n"
		   "Runs the server and one agent for this machine in one process: Marathon's API\n"
		   "on --listen, state and task sandboxes under --data-dir.\n\n"
		   "Options (each also read from the environment variable shown):\n"
		   "  --listen ADDR:PORT\n      the API's address (default 127.0.0.1:8080) [PACER_LISTEN]\n"
		   "  --data-dir DIR\n      store in DIR/store, agent in DIR/agent (default ./pacer-data) [PACER_DATA_DIR]\n"
		   "  --resources TEXT\n      the agent's resources, Mesos syntax; what is left out is measured\n"
		   "      (default: the machine's cpus, mem, disk and ports:[31000-32000]) [PACER_RESOURCES]\n"
		   "  --attributes TEXT\n      the agent's attributes, e.g. rack:r1;zone:a [PACER_ATTRIBUTES]\n"
		   "  --log-level LEVEL\n      debug, info, warn or error (default info) [PACER_LOG_LEVEL]\n"
		   "  --help\n      show this text\n");
}

static void on_signal(uv_signal_t *h, int signum)
{
	struct dev_main *m = h->data;

	if (!m->agent)
		return;
	log_info("stopping on signal %d; tasks keep running", signum);
	agent_stop(m->agent);
	m->agent = NULL;
	server_close(&m->server);
	uv_close((uv_handle_t *)&m->sigterm, NULL);
	uv_close((uv_handle_t *)&m->sigint, NULL);
}

static const char *env_or(const char *name, const char *def)
{
	const char *v = getenv(name);

	return v && *v ? v : def;
}

int cmd_dev(int argc, char **argv)
{
	char launcher_path[PATH_MAX];
	static const struct option longopts[] = {
		{"listen", required_argument, NULL, 'l'},
		{"data-dir", required_argument, NULL, 'd'},
		{"resources", required_argument, NULL, 'r'},
		{"attributes", required_argument, NULL, 'a'},
		{"log-level", required_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	const char *data_dir = env_or("PACER_DATA_DIR", "pacer-data");
	const char *given_resources = env_or("PACER_RESOURCES", NULL);
	const char *attributes = env_or("PACER_ATTRIBUTES", "");
	struct strbuf store_uri = STRBUF_INIT, work = STRBUF_INIT, url = STRBUF_INIT;
	struct strbuf why = STRBUF_INIT;
	struct server_options o;
	struct agent_config cfg = {0};
	struct dev_main m;
	char host[256], abs_dir[PATH_MAX];
	char *resources = NULL;
	int c, err, rc = 1;

	server_options_defaults(&o);
	o.api.listen = env_or("PACER_LISTEN", o.api.listen);
	o.log_level = env_or("PACER_LOG_LEVEL", o.log_level);
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'l': o.api.listen = optarg; break;
		case 'd': data_dir = optarg; break;
		case 'r': given_resources = optarg; break;
		case 'a': attributes = optarg; break;
		case 'v': o.log_level = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "pacer dev: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (server_set_log_level(o.log_level))
		return 2;
	if (mkdir(data_dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "pacer dev: cannot create '%s': %s\n", data_dir, strerror(errno));
		return 1;
	}
	if (!realpath(data_dir, abs_dir)) {
		fprintf(stderr, "pacer dev: cannot resolve '%s': %s\n", data_dir, strerror(errno));
		return 1;
	}
	strbuf_addf(&store_uri, "lmdb:%s/store", abs_dir);
	strbuf_addf(&work, "%s/agent", abs_dir);
	o.store = store_uri.buf;
	resources = agent_full_resources(given_resources, abs_dir);
	{
		/* refuse a bad --resources or --attributes before anything starts */
		struct sched_resources r;
		struct sched_attrs at;

		sched_resources_init(&r);
		sched_attrs_init(&at);
		err = sched_resources_parse(&r, resources, &why);
		if (err)
			fprintf(stderr, "pacer dev: --resources: %s\n", why.buf);
		else if (*attributes && sched_attrs_parse(&at, attributes, &why))
			fprintf(stderr, "pacer dev: --attributes: %s\n", why.buf), err = -1;
		sched_resources_release(&r);
		sched_attrs_release(&at);
		if (err) {
			rc = 2;
			goto out;
		}
	}
	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&m.loop);
	if (server_open(&m.server, &m.loop, &o)) {
		uv_loop_close(&m.loop);
		goto out;
	}
	if (gethostname(host, sizeof(host)) < 0)
		snprintf(host, sizeof(host), "localhost");
	host[sizeof(host) - 1] = '\0';
	strbuf_addf(&url, "http://127.0.0.1:%u", server_port(&m.server));
	cfg.server_url = url.buf;
	cfg.work_dir = work.buf;
	cfg.hostname = host;
	cfg.resources = resources;
	cfg.attributes = attributes;
	launcher_locate(&cfg.launcher, launcher_path, sizeof(launcher_path));
	err = agent_start(&m.agent, &m.loop, &cfg, &why);
	if (err) {
		fprintf(stderr, "pacer dev: cannot start the agent: %s\n", why.buf);
		server_close(&m.server);
		uv_run(&m.loop, UV_RUN_DEFAULT);
		server_release(&m.server);
		uv_loop_close(&m.loop);
		goto out;
	}
	uv_signal_init(&m.loop, &m.sigterm);
	uv_signal_init(&m.loop, &m.sigint);
	m.sigterm.data = m.sigint.data = &m;
	uv_signal_start(&m.sigterm, on_signal, SIGTERM);
	uv_signal_start(&m.sigint, on_signal, SIGINT);
	log_info("pacer dev: API on http://%s, data in %s, agent '%s' with %s", o.api.listen,
		 abs_dir, host, resources);
	uv_run(&m.loop, UV_RUN_DEFAULT);
	server_release(&m.server);
	if (uv_loop_close(&m.loop))
		log_warn("event loop closed with handles still open");
	log_info("stopped");
	rc = 0;
out:
	free(resources);
	strbuf_release(&store_uri);
	strbuf_release(&work);
	strbuf_release(&url);
	strbuf_release(&why);
	return rc;
}
