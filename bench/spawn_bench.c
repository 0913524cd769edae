/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spawn benchmark: N `sleep 30` tasks through the agent's real path
 * (task_new + task_start) on one loop, against a plain C loop of
 * posix_spawn of the same N `sleep 30`. By default the tasks take the
 * direct path (sandbox and its stdout/stderr opened by the agent,
 * posix_spawn of sleep itself, pidfd, uv_poll: one exec per task); with
 * `launcher` as the 4th argument they go through the launcher (memfd spec,
 * error pipe, posix_spawn of the launcher, which sets up the sandbox and
 * execs sleep: two execs). Prints launches/s of both, the time until every
 * task is RUNNING (its exec confirmed), and the ratio. Then kills and reaps
 * everything.
 *
 *   ninja -C build src/agent/spawn_bench &&
 *   build/src/agent/spawn_bench [N] [rounds] [dir] [direct|launcher]
 *
 * The sandboxes go under dir (default /tmp): on ext4 creating a sandbox and
 * its stdout/stderr files is a visible part of the cost; on tmpfs it is not.
 * On ext4 without a journal (these VMs) every inode allocation also skips
 * the inodes deleted in the last 1-6 minutes (ext4's recently_deleted), so
 * the rm -rf between rounds slows the next round's sandboxes, and whatever
 * else creates files in dir soon after.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include "agent/launch_test_path.h"
#include "agent/task.h"
#include "base/timeutil.h"

extern char **environ;

struct bench {
	uv_loop_t loop;
	size_t running, terminal, failed;
};

static void on_state(struct task *t, const struct task_status *st, void *data)
{
	struct bench *b = data;

	if (st->state == TASK_RUNNING)
		b->running++;
	if (task_state_is_terminal(st->state)) {
		b->terminal++;
		if (st->state == TASK_FAILED) {
			if (!b->failed)
				fprintf(stderr, "task '%s' failed: %s\n", task_id(t), st->message);
			b->failed++;
		}
	}
}

static double plain_loop(size_t n)
{
	pid_t *pids = calloc(n, sizeof(*pids));
	char *argv[] = {"sleep", "30", NULL};
	uint64_t t0 = time_mono_ns(), dt;

	for (size_t i = 0; i < n; i++) {
		int err = posix_spawn(&pids[i], "/bin/sleep", NULL, NULL, argv, environ);

		if (err) {
			fprintf(stderr, "posix_spawn: %s\n", strerror(err));
			exit(1);
		}
	}
	dt = time_mono_ns() - t0;
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGKILL);
	for (size_t i = 0; i < n; i++)
		waitpid(pids[i], NULL, 0);
	free(pids);
	return (double)dt / 1e9;
}

static void pacer_loop(size_t n, const char *work, bool launcher_only, double *launch_s,
		       double *running_s)
{
	static const char *const launcher_argv[] = {"pacer-launch-test", NULL};
	static const char *const args[] = {"sleep", "30"};
	struct bench b = {0};
	struct task_runtime rt = {.loop = &b.loop, .work_dir = work,
				  .launcher = {PACER_LAUNCH_TEST, launcher_argv},
				  .launcher_only = launcher_only};
	struct task **tasks = calloc(n, sizeof(*tasks));
	uint64_t t0, t1;

	uv_loop_init(&b.loop);
	t0 = time_mono_ns();
	for (size_t i = 0; i < n; i++) {
		char id[32];
		struct task_config cfg = {.id = id, .args = args, .nargs = 2,
					  .kill_grace_seconds = 1};

		snprintf(id, sizeof(id), "bench.%zu", i);
		if (task_new(&rt, &cfg, on_state, &b, &tasks[i]) || task_start(tasks[i])) {
			fprintf(stderr, "cannot start task %zu\n", i);
			exit(1);
		}
	}
	t1 = time_mono_ns();
	while (b.running + b.terminal < n)
		uv_run(&b.loop, UV_RUN_ONCE);
	*launch_s = (double)(t1 - t0) / 1e9;
	*running_s = (double)(time_mono_ns() - t0) / 1e9;
	if (b.failed)
		fprintf(stderr, "%zu tasks failed\n", b.failed);

	/* the direct path reports RUNNING without a loop iteration: refresh the
	 * loop's clock, or the grace timers count from before the launches */
	uv_update_time(&b.loop);
	for (size_t i = 0; i < n; i++)
		task_kill(tasks[i], 0);
	while (b.terminal < n)
		uv_run(&b.loop, UV_RUN_ONCE);
	for (size_t i = 0; i < n; i++)
		task_free(tasks[i]);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_loop_close(&b.loop);
	free(tasks);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? (size_t)atol(argv[1]) : 1000;
	int rounds = argc > 2 ? atoi(argv[2]) : 3;
	const char *base = argc > 3 ? argv[3] : "/tmp";
	bool launcher_only = argc > 4 && !strcmp(argv[4], "launcher");
	char work[256], cmd[300];

	snprintf(work, sizeof(work), "%s/spawn_bench.XXXXXX", base);
	if (!mkdtemp(work)) {
		perror("mkdtemp");
		return 1;
	}
	printf("%zu x `sleep 30`, %d rounds, %s path, sandboxes in %s\n", n, rounds,
	       launcher_only ? "launcher" : "direct", work);
	for (int r = 0; r < rounds; r++) {
		double plain = 0, launch, running;

		/* alternate the order: the machine's state drifts between the two */
		if (r % 2)
			plain = plain_loop(n);
		pacer_loop(n, work, launcher_only, &launch, &running);
		if (!(r % 2))
			plain = plain_loop(n);
		printf("round %d: plain posix_spawn %.3f s (%.0f/s) | pacer launch %.3f s (%.0f/s), "
		       "all RUNNING after %.3f s (%.0f/s) | ratio launches %.2f, to-running %.2f\n",
		       r + 1, plain, n / plain, launch, n / launch, running, n / running,
		       plain / launch, plain / running);
		fflush(stdout);
		snprintf(cmd, sizeof(cmd), "rm -rf %s/tasks", work);
		if (system(cmd) != 0)
			return 1;
	}
	rmdir(work);
	return 0;
}
