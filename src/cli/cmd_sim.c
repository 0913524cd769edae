/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `pacer sim`: parses the flags (each also read from PACER_SIM_<FLAG>), runs
 * the simulated agents (src/sim/sim.h) on a libuv loop until SIGTERM or
 * SIGINT (or --duration), and prints what they do and what they cost: the
 * process's RSS beside the agents and tasks it holds, once per --report-ms,
 * also written as JSON to --stats-file for the benchmarks.
 */
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "cli/commands.h"
#include "sim/sim.h"

struct sim_opts {
	struct sim_config cfg;
	unsigned report_ms, duration_s;
	const char *stats_file;
};

struct sim_run {
	struct sim_opts *o;
	struct sim *sim;
	uv_timer_t report, stop;
	uv_signal_t sigint, sigterm;
	uint64_t rss_base;  /* before the agents existed */
	uint64_t rss_agents; /* once every agent was first on a stream */
	uint64_t tasks_mark; /* tasks at that moment */
	uv_timer_t mark;
};

static uint64_t rss_bytes(void)
{
	unsigned long size = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu %lu", &size, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pacer sim --server URL --agents N [OPTIONS]\n\n"
		"Runs N simulated agents that speak the agent protocol to a Pacer server but run\n"
		"nothing: they register, heartbeat, answer launches with TASK_STARTING then\n"
		"TASK_RUNNING after a delay (or TASK_FAILED), and kills with TASK_KILLED.\n"
		"They share K connections; one thread.\n\n"
		"Options (each also read from PACER_SIM_<OPTION>, e.g. PACER_SIM_AGENTS):\n"
		"  --server URL            the server, http://HOST:PORT (required)\n"
		"  --agents N              simulated agents (required)\n"
		"  --connections K         connections they share (default 8)\n"
		"  --resources TEXT        per agent (default \"cpus:64;mem:262144;disk:1000000;"
		"ports:[10000-30000]\")\n"
		"  --attributes TEXT       per agent, e.g. \"rack:r{i%%10};zone:z{i%%3}\": {i}, {i%%N}\n"
		"                          and {i/N} are the agent's number (default none)\n"
		"  --hostname-prefix P     agent i is host P<i>, id agent-P<i> (default \"sim-\")\n"
		"  --start-delay-ms D      TASK_STARTING to TASK_RUNNING (default 100)\n"
		"  --fail-rate R           fraction of launches that fail (default 0)\n"
		"  --unhealthy-rate U      fraction of tasks reported unhealthy (default 0)\n"
		"  --seed S                for the fail and unhealthy draws (default fixed)\n"
		"  --report-ms MS          print figures this often (default 5000; 0: never)\n"
		"  --stats-file FILE       also write them there as JSON\n"
		"  --duration S            stop after S seconds (default: run until signalled)\n"
		"  --log-level LEVEL       debug, info, warn or error (default warn)\n");
}

static void report(struct sim_run *r, int final)
{
	struct sim_stats st;
	uint64_t rss = rss_bytes();
	double per_agent, per_task;
	struct strbuf j = STRBUF_INIT;

	sim_stats(r->sim, &st);
	if (!r->rss_agents) {
		per_agent = per_task = 0;
	} else {
		per_agent = (double)((int64_t)r->rss_agents - (int64_t)r->rss_base) / st.agents;
		per_task = st.tasks > r->tasks_mark ? (double)((int64_t)rss - (int64_t)r->rss_agents) /
							      (double)(st.tasks - r->tasks_mark)
						    : 0;
	}
	strbuf_addf(&j,
		    "{\"agents\":%u,\"registered\":%u,\"tasks\":%llu,\"starting\":%llu,"
		    "\"running\":%llu,\"launches\":%llu,\"kills\":%llu,\"failed\":%llu,"
		    "\"killed\":%llu,\"updates_sent\":%llu,\"registrations\":%llu,"
		    "\"stream_breaks\":%llu,\"rss_bytes\":%llu,\"rss_base_bytes\":%llu,"
		    "\"rss_agents_bytes\":%llu,\"rss_per_agent\":%.1f,\"rss_per_task\":%.1f,"
		    "\"struct_per_agent\":%.1f,\"struct_per_task\":%.1f,\"final\":%s}",
		    st.agents, st.registered, (unsigned long long)st.tasks,
		    (unsigned long long)st.starting, (unsigned long long)st.running,
		    (unsigned long long)st.launches, (unsigned long long)st.kills,
		    (unsigned long long)st.failed, (unsigned long long)st.killed,
		    (unsigned long long)st.updates_sent, (unsigned long long)st.registrations,
		    (unsigned long long)st.stream_breaks, (unsigned long long)rss,
		    (unsigned long long)r->rss_base, (unsigned long long)r->rss_agents, per_agent,
		    per_task, st.agents ? (double)st.agent_bytes / st.agents : 0,
		    st.tasks ? (double)st.task_bytes / (double)st.tasks : 0,
		    final ? "true" : "false");
	printf("sim: %u/%u agents on streams, %llu tasks (%llu running, %llu starting), "
	       "%llu launches, %llu kills, rss %.1f MiB: %.0f B/agent, %.0f B/task "
	       "(records %.0f B/task)\n",
	       st.registered, st.agents, (unsigned long long)st.tasks,
	       (unsigned long long)st.running, (unsigned long long)st.starting,
	       (unsigned long long)st.launches, (unsigned long long)st.kills,
	       (double)rss / 1048576.0, per_agent, per_task,
	       st.tasks ? (double)st.task_bytes / (double)st.tasks : 0);
	fflush(stdout);
	if (r->o->stats_file) {
		struct strbuf tmp = STRBUF_INIT;
		FILE *f;

		strbuf_addf(&tmp, "%s.tmp", r->o->stats_file);
		f = fopen(tmp.buf, "w");
		if (f) {
			fprintf(f, "%s\n", j.buf);
			fclose(f);
			rename(tmp.buf, r->o->stats_file);
		} else {
			log_warn("cannot write '%s'", tmp.buf);
		}
		strbuf_release(&tmp);
	}
	strbuf_release(&j);
}

/* The cost of the agents: RSS once all are registered, before (most) tasks arrive. */
static void on_mark(uv_timer_t *t)
{
	struct sim_run *r = t->data;
	struct sim_stats st;

	sim_stats(r->sim, &st);
	if (st.registered < st.agents)
		return;
	r->rss_agents = rss_bytes();
	r->tasks_mark = st.tasks;
	uv_timer_stop(t);
}

static void on_report(uv_timer_t *t)
{
	report(t->data, 0);
}

static void stop(struct sim_run *r)
{
	report(r, 1);
	sim_free(r->sim);
	r->sim = NULL;
	uv_close((uv_handle_t *)&r->report, NULL);
	uv_close((uv_handle_t *)&r->mark, NULL);
	uv_close((uv_handle_t *)&r->stop, NULL);
	uv_close((uv_handle_t *)&r->sigint, NULL);
	uv_close((uv_handle_t *)&r->sigterm, NULL);
}

static void on_stop(uv_timer_t *t)
{
	stop(t->data);
}

static void on_signal(uv_signal_t *h, int signum)
{
	stop(h->data);
}

enum { O_SERVER = 1, O_AGENTS, O_CONNECTIONS, O_RESOURCES, O_ATTRIBUTES, O_PREFIX, O_DELAY,
       O_FAIL, O_UNHEALTHY, O_SEED, O_REPORT, O_STATS, O_DURATION, O_LOG, O_HELP };

static const struct option longopts[] = {
	{"server", required_argument, NULL, O_SERVER},
	{"agents", required_argument, NULL, O_AGENTS},
	{"connections", required_argument, NULL, O_CONNECTIONS},
	{"resources", required_argument, NULL, O_RESOURCES},
	{"attributes", required_argument, NULL, O_ATTRIBUTES},
	{"hostname-prefix", required_argument, NULL, O_PREFIX},
	{"start-delay-ms", required_argument, NULL, O_DELAY},
	{"fail-rate", required_argument, NULL, O_FAIL},
	{"unhealthy-rate", required_argument, NULL, O_UNHEALTHY},
	{"seed", required_argument, NULL, O_SEED},
	{"report-ms", required_argument, NULL, O_REPORT},
	{"stats-file", required_argument, NULL, O_STATS},
	{"duration", required_argument, NULL, O_DURATION},
	{"log-level", required_argument, NULL, O_LOG},
	{"help", no_argument, NULL, O_HELP},
	{NULL, 0, NULL, 0},
};

static int parse_uint(const char *name, const char *v, unsigned *out)
{
	char *end;
	unsigned long n = strtoul(v, &end, 10);

	if (!*v || *end || n > 10000000ul) {
		fprintf(stderr, "pacer sim: invalid --%s '%s': a number expected\n", name, v);
		return -1;
	}
	*out = (unsigned)n;
	return 0;
}

static int parse_rate(const char *name, const char *v, double *out)
{
	char *end;
	double d = strtod(v, &end);

	if (!*v || *end || d < 0 || d > 1) {
		fprintf(stderr, "pacer sim: invalid --%s '%s': a fraction from 0 to 1 expected\n",
			name, v);
		return -1;
	}
	*out = d;
	return 0;
}

static int apply(struct sim_opts *o, int id, const char *name, const char *v)
{
	unsigned seed;

	switch (id) {
	case O_SERVER: o->cfg.server = v; return 0;
	case O_AGENTS: return parse_uint(name, v, &o->cfg.agents);
	case O_CONNECTIONS: return parse_uint(name, v, &o->cfg.connections);
	case O_RESOURCES: o->cfg.resources = v; return 0;
	case O_ATTRIBUTES: o->cfg.attributes = v; return 0;
	case O_PREFIX: o->cfg.hostname_prefix = v; return 0;
	case O_DELAY: return parse_uint(name, v, &o->cfg.start_delay_ms);
	case O_FAIL: return parse_rate(name, v, &o->cfg.fail_rate);
	case O_UNHEALTHY: return parse_rate(name, v, &o->cfg.unhealthy_rate);
	case O_SEED:
		if (parse_uint(name, v, &seed))
			return -1;
		o->cfg.seed = seed;
		return 0;
	case O_REPORT: return parse_uint(name, v, &o->report_ms);
	case O_STATS: o->stats_file = v; return 0;
	case O_DURATION: return parse_uint(name, v, &o->duration_s);
	case O_LOG:
		if (!strcmp(v, "debug"))
			log_set_level(LOG_DEBUG);
		else if (!strcmp(v, "info"))
			log_set_level(LOG_INFO);
		else if (!strcmp(v, "warn"))
			log_set_level(LOG_WARN);
		else if (!strcmp(v, "error"))
			log_set_level(LOG_ERROR);
		else {
			fprintf(stderr, "pacer sim: invalid log level '%s'\n", v);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* Returns 0, 1 for --help (shown), or -1 on a usage error (reported). */
static int parse_args(int argc, char **argv, struct sim_opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->cfg.connections = 8;
	o->cfg.resources = "cpus:64;mem:262144;disk:1000000;ports:[10000-30000]";
	o->cfg.attributes = "";
	o->cfg.hostname_prefix = "sim-";
	o->cfg.start_delay_ms = 100;
	o->report_ms = 5000;
	log_set_level(LOG_WARN);
	/* the environment first, flags override */
	for (const struct option *lo = longopts; lo->name; lo++) {
		char env[64];
		const char *v;

		if (lo->has_arg == no_argument)
			continue;
		snprintf(env, sizeof(env), "PACER_SIM_%s", lo->name);
		for (char *p = env; *p; p++)
			*p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
		v = getenv(env);
		if (v && apply(o, lo->val, lo->name, v))
			return -1;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == O_HELP) {
			usage(stdout);
			return 1;
		}
		if (c == '?' || apply(o, c, longopts[c - 1].name, optarg)) {
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc || !o->cfg.server || !o->cfg.agents) {
		fprintf(stderr, "pacer sim: --server and --agents are required\n");
		usage(stderr);
		return -1;
	}
	return 0;
}

int cmd_sim(int argc, char **argv)
{
	struct sim_opts o;
	struct sim_run r = {0};
	struct strbuf why = STRBUF_INIT;
	uv_loop_t *loop = uv_default_loop();
	int err = parse_args(argc, argv, &o);

	if (err)
		return err > 0 ? 0 : 2;
	r.o = &o;
	r.rss_base = rss_bytes();
	err = sim_new(&r.sim, loop, &o.cfg, &why);
	if (err) {
		fprintf(stderr, "pacer sim: %s\n", why.buf);
		strbuf_release(&why);
		return 2;
	}
	uv_timer_init(loop, &r.mark);
	uv_timer_init(loop, &r.report);
	uv_timer_init(loop, &r.stop);
	uv_signal_init(loop, &r.sigint);
	uv_signal_init(loop, &r.sigterm);
	r.mark.data = r.report.data = r.stop.data = r.sigint.data = r.sigterm.data = &r;
	uv_signal_start(&r.sigint, on_signal, SIGINT);
	uv_signal_start(&r.sigterm, on_signal, SIGTERM);
	uv_timer_start(&r.mark, on_mark, 20, 20);
	if (o.report_ms)
		uv_timer_start(&r.report, on_report, o.report_ms, o.report_ms);
	if (o.duration_s)
		uv_timer_start(&r.stop, on_stop, (uint64_t)o.duration_s * 1000, 0);
	sim_start(r.sim);
	uv_run(loop, UV_RUN_DEFAULT);
	uv_loop_close(loop);
	strbuf_release(&why);
	return 0;
}
