/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Placement benchmark: 1,000 and 100,000 agents (attributes rack and zone),
 * 100,000 and 1,000,000 instances in apps of 1 or 10 instances, without a
 * constraint, with UNIQUE hostname and with GROUP_BY zone. Prints
 * placements per second and the resident memory per agent and per
 * instance (each scenario runs in a child process, so RSS deltas are its
 * own). Run: ninja -C build src/sched/place_bench && build/src/sched/place_bench [quick]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/strbuf.h"
#include "base/timeutil.h"
#include "sched/sched.h"

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
		resident = 0;
	fclose(f);
	return resident * sysconf(_SC_PAGESIZE);
}

static const char *const cons_names[] = {"none", "UNIQUE hostname", "GROUP_BY zone"};

static void run(int nagents, int ninstances, int per_app, int cons)
{
	const char *const unique[1][3] = {{"hostname", "UNIQUE", NULL}};
	const char *const group[1][3] = {{"zone", "GROUP_BY", NULL}};
	struct sched_spec_desc d = {.cpus = 0.01, .mem = 16, .disk = 10,
				    .ports = (const uint16_t[]){0}, .nports = 1};
	struct sched_resources res;
	struct sched_attrs attrs;
	struct sched_spec *spec;
	struct sched_placement *pl;
	uint16_t *ports;
	struct sched *s;
	char id[64], host[64], attr[64];
	long rss0, rss1, rss2;
	uint64_t t0, t1;
	int placed = 0;

	if (cons == 1) {
		d.constraints = unique;
		d.nconstraints = 1;
	} else if (cons == 2) {
		d.constraints = group;
		d.nconstraints = 1;
	}
	pl = malloc(sizeof(*pl) * (size_t)ninstances);
	ports = malloc(sizeof(*ports) * (size_t)ninstances);
	/* touch the caller's arrays now: they are not the scheduler's memory */
	memset(pl, 0, sizeof(*pl) * (size_t)ninstances);
	memset(ports, 0, sizeof(*ports) * (size_t)ninstances);

	rss0 = rss_bytes();
	s = sched_new(NULL);
	sched_resources_init(&res);
	if (sched_resources_parse(&res, "cpus:64;mem:262144;disk:2000000;ports:[20000-40000]", NULL))
		abort();
	for (int i = 0; i < nagents; i++) {
		snprintf(id, sizeof(id), "agent-%08d-S%d", i, i % 7);
		snprintf(host, sizeof(host), "node%06d.dc1.example.com", i);
		snprintf(attr, sizeof(attr), "rack:r%d;zone:%c", i / 40, 'a' + i % 3);
		sched_attrs_init(&attrs);
		sched_attrs_parse(&attrs, attr, NULL);
		if (sched_agent_add(s, id, host, &res, &attrs, NULL))
			abort();
		sched_attrs_release(&attrs);
	}
	sched_resources_release(&res);
	if (sched_spec_new(s, &d, &spec, NULL))
		abort();
	rss1 = rss_bytes();

	t0 = time_mono_ns();
	for (int i = 0; i < ninstances; i++) {
		struct sched_app *app;

		snprintf(id, sizeof(id), "/bench/app-%d", i / per_app);
		app = sched_app_get(s, id);
		if (!sched_place(s, app, spec, &pl[i], &ports[i], NULL))
			placed++;
	}
	t1 = time_mono_ns();
	rss2 = rss_bytes();

	printf("%7d agents %8d instances %2d/app %-16s %9.0f placements/s  %5.0f B/agent  "
	       "%4.0f B/instance%s\n",
	       nagents, ninstances, per_app, cons_names[cons],
	       placed / ((double)(t1 - t0) / 1e9), (double)(rss1 - rss0) / nagents,
	       (double)(rss2 - rss1) / (placed ? placed : 1),
	       placed == ninstances ? "" : "  (NOT ALL PLACED)");
	fflush(stdout);

	/* release half and place them again: churn */
	t0 = time_mono_ns();
	for (int i = 0; i < ninstances; i += 2)
		if (pl[i].app)
			sched_release(s, &pl[i], &ports[i]);
	for (int i = 0; i < ninstances; i += 2) {
		snprintf(id, sizeof(id), "/bench/app-%d", i / per_app);
		sched_place(s, sched_app_get(s, id), spec, &pl[i], &ports[i], NULL);
	}
	t1 = time_mono_ns();
	printf("%58s churn: %9.0f release+place/s\n", "", (ninstances / 2) / ((double)(t1 - t0) / 1e9));
	fflush(stdout);
	for (int i = 0; i < ninstances; i++)
		if (pl[i].app)
			sched_release(s, &pl[i], &ports[i]);
	sched_spec_free(s, spec);
	sched_free(s);
	free(pl);
	free(ports);
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[1], "quick");
	const int agents[] = {1000, 100000};
	const int instances[] = {100000, 1000000};
	const int per_app[] = {1, 10};

	for (int a = 0; a < 2; a++)
		for (int n = 0; n < (quick ? 1 : 2); n++)
			for (int p = 0; p < 2; p++)
				for (int c = 0; c < 3; c++) {
					pid_t pid = fork();
					int status;

					if (pid == 0) {
						run(agents[a], instances[n], per_app[p], c);
						_exit(0);
					}
					if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
					    WEXITSTATUS(status))
						fprintf(stderr, "scenario failed\n");
				}
	return 0;
}
