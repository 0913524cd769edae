/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `pacer agent`: parses the agent's flags (each also read from PACER_<FLAG>),
 * fills in the resources the machine has where --resources leaves them out
 * (as Mesos' agent does), validates resources and attributes, and runs the
 * agent (src/agent/agent.h) on a libuv loop until SIGTERM or SIGINT, which
 * stop the agent and leave its tasks running.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stddef.h>
#include <signal.h>
#include <stdbool.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <uv.h>

#include "agent/agent.h"
#include "agent/launcher.h"
#include "base/error.h"
#include "base/log.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "cli/commands.h"
#include "sched/resources.h"

#define DEFAULT_PORTS "[31000-32000]"

struct agent_opts {
	const char *server;
	const char *work_dir;
	const char *resources;
	const char *attributes;
	const char *hostname;
	const char *log_level;
};

struct agent_opt {
	const char *name; /* --name; the environment variable is PACER_<NAME> */
	const char *arg;
	const char *help;
	size_t offset; /* into struct agent_opts */
};

#define OFF(field) offsetof(struct agent_opts, field)

static const struct agent_opt agent_opts_table[] = {
	{"server", "URL", "the Pacer server, e.g. http://10.0.0.1:8080 (required; a host name is "
			  "resolved once at start-up)", OFF(server)},
	{"work-dir", "DIR", "where agent.json and the task sandboxes live (required; created)",
	 OFF(work_dir)},
	{"resources", "TEXT", "resources offered, e.g. \"cpus:4;mem:8192;disk:20000;ports:[31000-32000]\"; "
			      "those left out are detected: all CPUs, memory less 1 GB, disk of the "
			      "work dir less 5 GB, ports " DEFAULT_PORTS, OFF(resources)},
	{"attributes", "TEXT", "attributes for constraints, e.g. \"rack:r1;zone:a\" (default none)",
	 OFF(attributes)},
	{"hostname", "NAME", "the host name tasks and the server see (default: gethostname)",
	 OFF(hostname)},
	{"log-level", "LEVEL", "debug, info, warn or error (default info)", OFF(log_level)},
};
#define NOPTS (sizeof(agent_opts_table) / sizeof(agent_opts_table[0]))

static void env_name(const char *opt, char *out, size_t size)
{
	snprintf(out, size, "PACER_%s", opt);
	for (char *p = out; *p; p++)
		*p = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: pacer agent --server URL --work-dir DIR [OPTIONS]\n\n"
		   "Runs tasks for a Pacer server on this machine. Stopping the agent (SIGTERM,\n"
		   "SIGINT) leaves its tasks running; a restarted agent takes them back.\n\n"
		   "Options (each also read from the environment variable shown):\n");
	for (size_t i = 0; i < NOPTS; i++) {
		char env[64];

		env_name(agent_opts_table[i].name, env, sizeof(env));
		fprintf(f, "  --%s %s\n      %s [%s]\n", agent_opts_table[i].name,
			agent_opts_table[i].arg, agent_opts_table[i].help, env);
	}
	fprintf(f, "  --help\n      show this text\n");
}

static int set_log_level(const char *level)
{
	static const struct {
		const char *name;
		enum log_level level;
	} levels[] = {{"debug", LOG_DEBUG}, {"info", LOG_INFO}, {"warn", LOG_WARN}, {"error", LOG_ERROR}};

	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		if (!strcmp(level, levels[i].name)) {
			log_set_level(levels[i].level);
			return 0;
		}
	}
	fprintf(stderr, "pacer agent: invalid log level '%s': debug, info, warn or error\n", level);
	return -1;
}

/* Returns 0, 1 for --help (shown), or -1 on a usage error (reported). */
static int parse_args(int argc, char **argv, struct agent_opts *o)
{
	struct option longopts[NOPTS + 2];
	size_t i;
	int c;

	memset(o, 0, sizeof(*o));
	o->log_level = "info";
	for (i = 0; i < NOPTS; i++) {
		char env[64];
		const char *v;

		env_name(agent_opts_table[i].name, env, sizeof(env));
		v = getenv(env);
		if (v)
			*(const char **)((char *)o + agent_opts_table[i].offset) = v;
		longopts[i] = (struct option){agent_opts_table[i].name, required_argument, NULL, (int)i};
	}
	longopts[i++] = (struct option){"help", no_argument, NULL, 'h'};
	longopts[i] = (struct option){0};
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c < 0 || (size_t)c >= NOPTS) {
			usage(stderr);
			return -1;
		}
		*(const char **)((char *)o + agent_opts_table[c].offset) = optarg;
	}
	if (optind < argc) {
		fprintf(stderr, "pacer agent: unexpected argument '%s'\n", argv[optind]);
		return -1;
	}
	if (!o->server || !*o->server) {
		fprintf(stderr, "pacer agent: --server is required (or PACER_SERVER)\n");
		return -1;
	}
	if (!o->work_dir || !*o->work_dir) {
		fprintf(stderr, "pacer agent: --work-dir is required (or PACER_WORK_DIR)\n");
		return -1;
	}
	return set_log_level(o->log_level);
}

/* ---- what the machine has ---- */

static long detect_cpus(void)
{
	cpu_set_t set;
	long n = 0;

	if (!sched_getaffinity(0, sizeof(set), &set))
		n = CPU_COUNT(&set);
	if (n <= 0)
		n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? n : 1;
}

/* MB of memory for tasks: MemTotal less 1 GB, or half of it below 2 GB (as Mesos). */
static long long detect_mem_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "re");
	char line[256];
	long long kb = 0, mb;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemTotal: %lld kB", &kb) == 1)
			break;
	fclose(f);
	mb = kb / 1024;
	return mb >= 2048 ? mb - 1024 : mb / 2;
}

/* MB of disk for tasks on the work dir's file system: less 5 GB, or half below 10 GB. */
static long long detect_disk_mb(const char *work_dir)
{
	struct statvfs sv;
	char *dir = xstrdup(work_dir), *slash;
	long long mb = 0;

	/* the work dir may not exist yet: its nearest existing ancestor tells */
	while (statvfs(dir, &sv) < 0) {
		slash = strrchr(dir, '/');
		if (!slash || slash == dir) {
			if (statvfs(slash ? "/" : ".", &sv) < 0)
				goto out;
			break;
		}
		*slash = '\0';
	}
	mb = (long long)((unsigned long long)sv.f_blocks * sv.f_frsize / (1024 * 1024));
	mb = mb >= 10240 ? mb - 5120 : mb / 2;
out:
	free(dir);
	return mb;
}

/* Whether the Mesos resource text names resource `name` (in any role). */
static bool names_resource(const char *text, const char *name)
{
	size_t len = strlen(name);

	for (const char *p = text; *p;) {
		const char *end = p + strcspn(p, ";");

		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		if ((size_t)(end - p) > len && !strncmp(p, name, len) &&
		    strchr(":( \t", p[len]))
			return true;
		p = *end ? end + 1 : end;
	}
	return false;
}

/*
 * The full resource text: what the user gave plus the detected amount of
 * each of cpus, mem, disk and ports it leaves out. Caller frees.
 */
char *agent_full_resources(const char *given, const char *work_dir)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, given ? given : "");
	while (sb.len && (sb.buf[sb.len - 1] == ';' || sb.buf[sb.len - 1] == ' '))
		strbuf_setlen(&sb, sb.len - 1);
#define ADD_DEFAULT(name, ...)                                                                    \
	do {                                                                                      \
		if (!names_resource(sb.buf, name)) {                                              \
			if (sb.len)                                                               \
				strbuf_addch(&sb, ';');                                           \
			strbuf_addf(&sb, __VA_ARGS__);                                            \
		}                                                                                 \
	} while (0)
	ADD_DEFAULT("cpus", "cpus:%ld", detect_cpus());
	ADD_DEFAULT("mem", "mem:%lld", detect_mem_mb());
	ADD_DEFAULT("disk", "disk:%lld", detect_disk_mb(work_dir));
	ADD_DEFAULT("ports", "ports:%s", DEFAULT_PORTS);
#undef ADD_DEFAULT
	return strbuf_detach(&sb, NULL);
}

/* Checks --resources and --attributes; prints what is wrong. */
static int validate(const char *given_resources, const char *resources, const char *attributes)
{
	struct sched_resources r;
	struct sched_attrs at;
	struct strbuf err = STRBUF_INIT;
	int bad = 0;

	sched_resources_init(&r);
	/* the user's own text first, so that the message quotes what they wrote */
	if (given_resources && sched_resources_parse(&r, given_resources, &err))
		bad = 1;
	sched_resources_release(&r);
	sched_resources_init(&r);
	if (!bad && sched_resources_parse(&r, resources, &err))
		bad = 1;
	sched_resources_release(&r);
	if (bad)
		fprintf(stderr, "pacer agent: --resources: %s\n", err.buf);
	strbuf_reset(&err);
	sched_attrs_init(&at);
	if (attributes && *attributes && sched_attrs_parse(&at, attributes, &err)) {
		fprintf(stderr, "pacer agent: --attributes: %s\n", err.buf);
		bad = 1;
	}
	sched_attrs_release(&at);
	strbuf_release(&err);
	return bad ? -1 : 0;
}

/* ---- running ---- */

struct agent_main {
	uv_loop_t loop;
	uv_signal_t sigterm, sigint;
	struct agent *agent;
};

static void on_signal(uv_signal_t *h, int signum)
{
	struct agent_main *m = h->data;

	if (!m->agent)
		return;
	log_info("stopping on signal %d; tasks keep running", signum);
	agent_stop(m->agent);
	m->agent = NULL;
	uv_close((uv_handle_t *)&m->sigterm, NULL);
	uv_close((uv_handle_t *)&m->sigint, NULL);
}

int cmd_agent(int argc, char **argv)
{
	char launcher_path[PATH_MAX];
	struct agent_opts o;
	struct agent_config cfg = {0};
	struct agent_main m = {0};
	struct strbuf why = STRBUF_INIT;
	char host[256];
	char *resources;
	int err;

	err = parse_args(argc, argv, &o);
	if (err)
		return err > 0 ? 0 : 2;
	resources = agent_full_resources(o.resources, o.work_dir);
	if (validate(o.resources, resources, o.attributes)) {
		free(resources);
		return 2;
	}
	if (!o.hostname || !*o.hostname) {
		if (gethostname(host, sizeof(host)) < 0)
			snprintf(host, sizeof(host), "localhost");
		host[sizeof(host) - 1] = '\0';
		o.hostname = host;
	}
	cfg.server_url = o.server;
	cfg.work_dir = o.work_dir;
	cfg.hostname = o.hostname;
	cfg.resources = resources;
	cfg.attributes = o.attributes ? o.attributes : "";
	launcher_locate(&cfg.launcher, launcher_path, sizeof(launcher_path));

	signal(SIGPIPE, SIG_IGN);
	uv_loop_init(&m.loop);
	err = agent_start(&m.agent, &m.loop, &cfg, &why);
	if (err) {
		fprintf(stderr, "pacer agent: %s\n", why.buf);
		uv_run(&m.loop, UV_RUN_NOWAIT);
		uv_loop_close(&m.loop);
		strbuf_release(&why);
		free(resources);
		/* a server URL that does not parse or resolve is the user's to fix */
		return err == PACER_EBADCONFIG ? 2 : 1;
	}
	uv_signal_init(&m.loop, &m.sigterm);
	uv_signal_init(&m.loop, &m.sigint);
	m.sigterm.data = m.sigint.data = &m;
	uv_signal_start(&m.sigterm, on_signal, SIGTERM);
	uv_signal_start(&m.sigint, on_signal, SIGINT);
	log_info("pacer %s agent on '%s' for '%s', work dir '%s', resources '%s'%s%s",
		 PACER_VERSION, o.hostname, o.server, o.work_dir, resources,
		 *cfg.attributes ? ", attributes " : "", cfg.attributes);
	uv_run(&m.loop, UV_RUN_DEFAULT);
	err = uv_loop_close(&m.loop);
	if (err)
		log_warn("event loop closed with handles still open: %s", uv_strerror(err));
	log_info("stopped");
	strbuf_release(&why);
	free(resources);
	return 0;
}
