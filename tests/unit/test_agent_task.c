/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of task.h with real processes, through the launcher binary
 * (pacer-launch-test, standing in for `pacer _launch`), each in a fresh
 * work directory: a command that finishes with its output in the sandbox,
 * failures with their exit codes, args without a shell, the environment as
 * the task sees it, kills (SIGTERM handled; SIGTERM ignored, SIGKILL after
 * the grace period, grandchild included), launcher failures with their
 * messages, fetching, the memory limit of a task's cgroup, re-attaching.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/env.h"
#include "agent/launch_test_path.h"
#include "agent/task.h"
#include "base/error.h"
#include "base/strbuf.h"
#include "base/timeutil.h"

struct ctx {
	uv_loop_t loop;
	char work[64];
	struct task_runtime rt;
	struct cgroup_sys cs;
	/* what the callback saw */
	enum task_state seen[16];
	size_t nseen;
	char msg[4096];
	bool exit_known;
	int exit_code, term_signal;
	uint64_t terminal_ns;
};

static const char *const launcher_argv[] = {"pacer-launch-test", NULL};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	snprintf(c->work, sizeof(c->work), "/tmp/test_agent_task.XXXXXX");
	if (!mkdtemp(c->work) || uv_loop_init(&c->loop)) {
		free(c);
		return -1;
	}
	c->rt.loop = &c->loop;
	c->rt.work_dir = c->work;
	c->rt.launcher.path = PACER_LAUNCH_TEST;
	c->rt.launcher.argv = launcher_argv;
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];

	uv_run(&c->loop, UV_RUN_NOWAIT);
	assert_int_equal(uv_loop_close(&c->loop), 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->work);
	if (system(cmd) != 0)
		return -1;
	cgroup_sys_release(&c->cs);
	free(c);
	return 0;
}

static void on_state(struct task *t, const struct task_status *st, void *data)
{
	struct ctx *c = data;

	if (c->nseen < 16)
		c->seen[c->nseen++] = st->state;
	snprintf(c->msg, sizeof(c->msg), "%s", st->message);
	c->exit_known = st->exit_known;
	c->exit_code = st->exit_code;
	c->term_signal = st->term_signal;
	if (task_state_is_terminal(st->state))
		c->terminal_ns = time_mono_ns();
}

static void on_deadline(uv_timer_t *h)
{
	uv_stop(h->loop);
}

/* Runs the loop until the task is terminal, cond() holds, or ms pass. */
static bool run_until(struct ctx *c, struct task *t, bool (*cond)(struct ctx *, struct task *),
		      unsigned ms)
{
	uv_timer_t deadline;
	uint64_t end = time_mono_ns() + (uint64_t)ms * 1000000;
	bool ok = false;

	uv_timer_init(&c->loop, &deadline);
	while (time_mono_ns() < end) {
		if (cond ? cond(c, t) : task_state_is_terminal(task_state(t))) {
			ok = true;
			break;
		}
		uv_timer_start(&deadline, on_deadline, 10, 0);
		uv_run(&c->loop, UV_RUN_ONCE);
	}
	uv_close((uv_handle_t *)&deadline, NULL);
	uv_run(&c->loop, UV_RUN_NOWAIT);
	return ok;
}

static char *read_sandbox_file(struct task *t, const char *name)
{
	struct strbuf path = STRBUF_INIT;
	static char buf[65536];
	FILE *f;
	size_t n;

	strbuf_addf(&path, "%s/%s", task_sandbox(t), name);
	f = fopen(path.buf, "r");
	strbuf_release(&path);
	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

static bool ready_file(struct ctx *c, struct task *t)
{
	struct strbuf path = STRBUF_INIT;
	bool ok;

	strbuf_addf(&path, "%s/ready", task_sandbox(t));
	ok = !access(path.buf, F_OK);
	strbuf_release(&path);
	return ok;
}

static struct task *start(struct ctx *c, const struct task_config *cfg)
{
	struct task *t;

	assert_int_equal(task_new(&c->rt, cfg, on_state, c, &t), 0);
	assert_int_equal(task_state(t), TASK_STAGING);
	assert_int_equal(task_start(t), 0);
	return t;
}

static void test_cmd_finishes(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {.id = "app.1", .cmd = "echo hello; echo oops >&2"};
	struct task *t = start(c, &cfg);

	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(c->nseen, 3);
	assert_int_equal(c->seen[0], TASK_STARTING);
	assert_int_equal(c->seen[1], TASK_RUNNING);
	assert_int_equal(c->seen[2], TASK_FINISHED);
	assert_true(c->exit_known);
	assert_int_equal(c->exit_code, 0);
	assert_string_equal(read_sandbox_file(t, "stdout"), "hello\n");
	assert_string_equal(read_sandbox_file(t, "stderr"), "oops\n");
	/* the sandbox is <work-dir>/tasks/<id> */
	assert_true(strstr(task_sandbox(t), "/tasks/app.1") != NULL);
	task_free(t);
}

static void test_cmd_fails(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {.id = "app.2", .cmd = "exit 3"};
	struct task *t = start(c, &cfg);

	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_true(c->exit_known);
	assert_int_equal(c->exit_code, 3);
	assert_string_equal(c->msg, "command exited with status 3");
	task_free(t);
}

static void test_args_without_shell(void **state)
{
	struct ctx *c = *state;
	const char *const args[] = {"printf", "%s|%s", "a b;$HOME", "c"};
	struct task_config cfg = {.id = "app.3", .args = args, .nargs = 4};
	struct task *t = start(c, &cfg);

	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FINISHED);
	/* no word splitting, no expansion */
	assert_string_equal(read_sandbox_file(t, "stdout"), "a b;$HOME|c");
	task_free(t);
}

static void test_environment(void **state)
{
	struct ctx *c = *state;
	const struct env_port ports[] = {{31000, 0, "http"}, {31001, 0, NULL}};
	const struct env_pair labels[] = {{"X", "label value"}};
	const struct env_pair env[] = {{"FOO", "bar baz"}};
	char sandbox[128];
	struct task_env_input in = {.app_id = "/web/app", .app_version = "2024-01-01T00:00:00.000Z",
				    .task_id = "web_app.4", .host = "localhost",
				    .sandbox = sandbox, .cpus = 1, .mem = 64,
				    .ports = ports, .nports = 2, .labels = labels, .nlabels = 1,
				    .env = env, .nenv = 1};
	struct env_list l = ENV_LIST_INIT;
	struct task_config cfg = {.id = "web_app.4", .cmd = "env"};
	struct task *t;
	const char *out;

	snprintf(sandbox, sizeof(sandbox), "%s/tasks/web_app.4", c->work);
	task_env_build(&in, &l);
	cfg.env = (const char *const *)l.v;
	cfg.nenv = l.n;
	t = start(c, &cfg);
	env_list_release(&l); /* the task keeps its own copy */
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FINISHED);
	/* one line per variable, each after a '\n' (the order is not ours to test) */
	out = read_sandbox_file(t, "stdout");
	memmove((char *)out + 1, out, strlen(out) + 1);
	((char *)out)[0] = '\n';
	assert_non_null(strstr(out, "\nPORT0=31000\n"));
	assert_non_null(strstr(out, "\nPORT=31000\n"));
	assert_non_null(strstr(out, "\nPORTS=31000,31001\n"));
	assert_non_null(strstr(out, "\nPORT_HTTP=31000\n"));
	assert_non_null(strstr(out, "\nMARATHON_APP_ID=/web/app\n"));
	assert_non_null(strstr(out, "\nMARATHON_APP_LABEL_X=label value\n"));
	assert_non_null(strstr(out, "\nMARATHON_APP_RESOURCE_MEM=64.0\n"));
	assert_non_null(strstr(out, "\nMESOS_TASK_ID=web_app.4\n"));
	assert_non_null(strstr(out, "\nFOO=bar baz\n"));
	{
		char line[256];

		snprintf(line, sizeof(line), "\nMESOS_SANDBOX=%s\n", task_sandbox(t));
		assert_non_null(strstr(out, line));
	}
	/* nothing of the agent's own environment leaks in, but PATH is there */
	assert_non_null(strstr(out, "PATH="));
	assert_null(strstr(out, "CMOCKA"));
	task_free(t);
}

static void test_kill_handled_term(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {
		.id = "app.5",
		.cmd = "trap 'exit 0' TERM; touch ready; while :; do sleep 0.05; done",
		.kill_grace_seconds = 10,
	};
	struct task *t = start(c, &cfg);
	uint64_t t0;

	assert_true(run_until(c, t, ready_file, 4000));
	assert_int_equal(task_state(t), TASK_RUNNING);
	t0 = time_mono_ns();
	assert_int_equal(task_kill(t, 0), 0);
	assert_int_equal(task_state(t), TASK_KILLING);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_KILLED);
	/* the trap ran (exit 0), well before the 10 s grace period */
	assert_true(c->exit_known);
	assert_int_equal(c->exit_code, 0);
	assert_true(c->terminal_ns - t0 < 1000000000ull);
	task_free(t);
}

static bool proc_gone(pid_t pid)
{
	char path[64], buf[512];
	FILE *f;
	char *p;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return true;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	p = strrchr(buf, ')');
	return p && (p[2] == 'Z' || p[2] == 'X'); /* dead, waiting for its reaper */
}

static void test_kill_ignored_term(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {
		.id = "app.6",
		.cmd = "trap '' TERM; sleep 100 & echo $! > child.pid; touch ready; wait",
		.kill_grace_seconds = 0.3,
	};
	struct task *t = start(c, &cfg);
	uint64_t t0, dt;
	pid_t grandchild;

	assert_true(run_until(c, t, ready_file, 4000));
	grandchild = (pid_t)atol(read_sandbox_file(t, "child.pid"));
	assert_true(grandchild > 0);
	assert_false(proc_gone(grandchild));
	t0 = time_mono_ns();
	task_kill(t, 0);
	assert_true(run_until(c, t, NULL, 4000));
	dt = time_mono_ns() - t0;
	assert_int_equal(task_state(t), TASK_KILLED);
	assert_int_equal(c->term_signal, SIGKILL);
	/* libuv timers count from the loop time cached at the iteration start */
	if (dt < 290000000ull || dt >= 3000000000ull)
		fail_msg("killed after %.3f s, grace period 0.3 s", (double)dt / 1e9);
	task_free(t);
	/* SIGKILLed with the group before the report; its exit completes at once */
	for (int i = 0; i < 200 && !proc_gone(grandchild); i++)
		usleep(10000);
	assert_true(proc_gone(grandchild));
}

static void test_command_not_found(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {.id = "app.7", .cmd = "no-such-command-pacer-xyz"};
	struct task *t = start(c, &cfg);

	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_int_equal(c->exit_code, 127);
	assert_non_null(strstr(read_sandbox_file(t, "stderr"), "not found"));
	task_free(t);

	/* the same through the shell */
	c->rt.launcher_only = true;
	cfg.id = "app.7b";
	t = start(c, &cfg);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_int_equal(c->exit_code, 127);
	assert_non_null(strstr(read_sandbox_file(t, "stderr"), "not found"));
	task_free(t);
}

static void test_launcher_failures(void **state)
{
	struct ctx *c = *state;
	const char *const args[] = {"/no/such/program"};
	struct task_config cfg = {.id = "app.8", .cmd = "true", .sandbox = "/nonexistent/sandbox"};
	struct task *t = start(c, &cfg);

	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_string_equal(c->msg,
			    "cannot chdir into '/nonexistent/sandbox': No such file or directory");
	assert_int_equal(c->exit_code, LAUNCHER_EXIT_CODE);
	/* it never looked like running */
	assert_int_equal(c->nseen, 2);
	task_free(t);

	c->nseen = 0;
	cfg = (struct task_config){.id = "app.9", .cmd = "true", .user = "no-such-user-pacer"};
	t = start(c, &cfg);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_string_equal(c->msg, "unknown user 'no-such-user-pacer'");
	/* also in the task's own stderr */
	assert_non_null(strstr(read_sandbox_file(t, "stderr"), "unknown user"));
	task_free(t);

	c->nseen = 0;
	cfg = (struct task_config){.id = "app.10", .args = args, .nargs = 1};
	t = start(c, &cfg);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_string_equal(c->msg, "cannot exec '/no/such/program': No such file or directory");
	task_free(t);
}

static void test_fetch(void **state)
{
	struct ctx *c = *state;
	char src[128], uri_data[160], uri_tgz[160], script[160], missing[160], cmd[512];
	struct launch_fetch fetch[] = {
		{.uri = uri_data, .extract = true},
		{.uri = script, .executable = true},
		{.uri = uri_tgz, .extract = true},
		{.uri = uri_data, .dest_path = "renamed.txt", .extract = false},
	};
	struct task_config cfg = {
		.id = "app.11",
		.cmd = "test -x run.sh && test ! -x data.txt && ./run.sh && cat data.txt "
		       "renamed.txt dir/inner.txt && test -f bundle.tar.gz",
		.fetch = fetch,
		.nfetch = 4,
	};
	struct task *t;

	snprintf(src, sizeof(src), "%s/src", c->work);
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/dir && cd %s && echo data > data.txt && "
		 "printf '#!/bin/sh\\necho script\\n' > run.sh && echo inner > dir/inner.txt && "
		 "tar czf bundle.tar.gz dir && rm -r dir",
		 src, src);
	assert_int_equal(system(cmd), 0);
	snprintf(uri_data, sizeof(uri_data), "file://%s/data.txt", src);
	snprintf(script, sizeof(script), "%s/run.sh", src);
	snprintf(uri_tgz, sizeof(uri_tgz), "file://%s/bundle.tar.gz", src);

	t = start(c, &cfg);
	assert_true(run_until(c, t, NULL, 4000));
	assert_string_equal(c->msg, "");
	assert_int_equal(task_state(t), TASK_FINISHED);
	assert_string_equal(read_sandbox_file(t, "stdout"), "script\ndata\ndata\ninner\n");
	task_free(t);

	/* a missing file fails the launch with the reason */
	snprintf(missing, sizeof(missing), "%s/nope.txt", src);
	fetch[0] = (struct launch_fetch){.uri = missing};
	cfg = (struct task_config){.id = "app.12", .cmd = "true", .fetch = fetch, .nfetch = 1};
	c->nseen = 0;
	t = start(c, &cfg);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	snprintf(cmd, sizeof(cmd), "cannot fetch '%s': cannot open '%s': No such file or directory",
		 missing, missing);
	assert_string_equal(c->msg, cmd);
	task_free(t);
}

/*
 * Starts cfg's task with cgroups under a parent named for this test process;
 * skips the test (cleaning up) where cgroups cannot be used.
 */
static struct task *start_in_test_cgroup(struct ctx *c, struct task_config *cfg, char *parent,
					 size_t size, struct strbuf *why)
{
	struct task *t;

	snprintf(parent, size, "pacer-test-%ld", (long)getpid());
	if (cgroup_sys_detect(&c->cs, parent, why)) {
		print_message("skipped: no cgroups: %s\n", why->buf);
		strbuf_release(why);
		skip();
	}
	c->rt.cgroups = &c->cs;
	t = start(c, cfg);
	if (!task_cgroup(t)) {
		print_message("skipped: cgroups not usable here: %s\n", task_cgroup_problem(t));
		task_kill(t, 0);
		run_until(c, t, NULL, 4000);
		task_free(t);
		for (int i = 0; i < CGROUP_NCTL; i++)
			if (c->cs.parent[i])
				rmdir(c->cs.parent[i]);
		strbuf_release(why);
		skip();
	}
	return t;
}

static void test_cgroup_memory(void **state)
{
	struct ctx *c = *state;
	struct strbuf why = STRBUF_INIT;
	struct task_config cfg = {
		.id = "app.13",
		.cmd = "touch ready; exec sleep 30",
		.use_cgroup = true,
		.limits = {.mem_bytes = 64 << 20, .cpus = 0.25},
		.kill_grace_seconds = 1,
	};
	struct cgroup_limits got;
	char parent[64], *paths[CGROUP_NCTL] = {0};
	const struct cgroup *cg;
	struct task *t;
	char pid_line[32], *procs;

	t = start_in_test_cgroup(c, &cfg, parent, sizeof(parent), &why);
	cg = task_cgroup(t);
	assert_true(run_until(c, t, ready_file, 4000));
	assert_int_equal(cgroup_read_limits(cg, &got), 0);
	assert_int_equal(got.mem_bytes, 64 << 20);
	print_message("%s: memory limit %llu read back from %s\n",
		      cgroup_version_name(cg->version), (unsigned long long)got.mem_bytes,
		      cg->path[0]);
	/* the task itself is in it */
	{
		struct strbuf p = STRBUF_INIT;
		FILE *f;
		static char buf[4096];
		size_t n;

		strbuf_addf(&p, "%s/cgroup.procs", cg->path[0]);
		f = fopen(p.buf, "r");
		assert_non_null(f);
		n = fread(buf, 1, sizeof(buf) - 1, f);
		buf[n] = '\0';
		fclose(f);
		procs = buf;
		strbuf_release(&p);
	}
	snprintf(pid_line, sizeof(pid_line), "%ld\n", (long)task_pid(t));
	assert_non_null(strstr(procs, pid_line));
	for (int i = 0; i < CGROUP_NCTL; i++)
		paths[i] = cg->path[i] ? strdup(cg->path[i]) : NULL;

	task_kill(t, 0);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_KILLED);
	/* gone by the time the terminal state is reported */
	for (int i = 0; i < CGROUP_NCTL; i++) {
		if (paths[i]) {
			assert_int_equal(access(paths[i], F_OK), -1);
			free(paths[i]);
		}
	}
	task_free(t);
	for (int i = 0; i < CGROUP_NCTL; i++)
		if (c->cs.parent[i])
			rmdir(c->cs.parent[i]);
	strbuf_release(&why);
}

static void test_reattach(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {.id = "app.14", .cmd = "unused", .kill_grace_seconds = 2};
	char *argv[] = {"sleep", "30", NULL};
	struct spawn_child child;
	struct task *t;
	char cmd[256], *p;

	/* our own child (an agent that re-exec'd itself): exit status known */
	assert_int_equal(spawn_process("/bin/sleep", argv, NULL, NULL, 0, SPAWN_SETSID, &child), 0);
	close(child.pidfd);
	assert_int_equal(task_attach(&c->rt, &cfg, child.pid, on_state, c, &t), 0);
	assert_int_equal(task_state(t), TASK_RUNNING);
	task_kill(t, 0);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_KILLED);
	assert_true(c->exit_known);
	assert_int_equal(c->term_signal, SIGTERM);
	task_free(t);

	/* not our child (orphaned, adopted elsewhere): exit status unknown */
	snprintf(cmd, sizeof(cmd), "sh -c 'sleep 0.3 >/dev/null 2>&1 & echo $!' > %s/orphan.pid",
		 c->work);
	assert_int_equal(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s/orphan.pid", c->work);
	{
		FILE *f = fopen(cmd, "r");
		long pid = 0;

		assert_non_null(f);
		assert_int_equal(fscanf(f, "%ld", &pid), 1);
		fclose(f);
		c->nseen = 0;
		assert_int_equal(task_attach(&c->rt, &cfg, (pid_t)pid, on_state, c, &t), 0);
	}
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_false(c->exit_known);
	p = strstr(c->msg, "exit status unknown");
	assert_non_null(p);
	task_free(t);

	/* gone already */
	assert_int_equal(task_attach(&c->rt, &cfg, 999999, on_state, c, &t), -ESRCH);
}

static void test_kill_before_start(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {.id = "app.15", .cmd = "true"};
	struct task *t;

	assert_int_equal(task_new(&c->rt, &cfg, on_state, c, &t), 0);
	task_kill(t, 0);
	assert_int_equal(task_state(t), TASK_KILLED);
	assert_int_equal(task_start(t), PACER_ECONFLICT);
	task_free(t);
	cfg.id = "a/b";
	assert_true(task_new(&c->rt, &cfg, on_state, c, &t) < 0);
}

/* ---- the direct path: simple commands and args without launcher or shell ---- */

/* words of cmd joined with '|', or "SHELL" */
static const char *words_of(const char *cmd)
{
	static char buf[512];
	char **v;
	size_t n = task_cmd_words(cmd, &v);

	if (!n) {
		assert_null(v);
		return "SHELL";
	}
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(buf, "|");
		strcat(buf, v[i]);
	}
	assert_null(v[n]);
	free(v);
	return buf;
}

static void test_cmd_words(void **state)
{
	/* plain words: argv, an `exec` in front dropped */
	assert_string_equal(words_of("exec sleep 600"), "sleep|600");
	assert_string_equal(words_of("sleep 600"), "sleep|600");
	assert_string_equal(words_of("  sleep   600  "), "sleep|600");
	assert_string_equal(words_of("sleep"), "sleep");
	assert_string_equal(words_of("/usr/bin/python3 -m http.server 8080"),
			    "/usr/bin/python3|-m|http.server|8080");
	assert_string_equal(words_of("./run.sh --port=31000 a,b:c+d@e%f_g-h"),
			    "./run.sh|--port=31000|a,b:c+d@e%f_g-h");
	assert_string_equal(words_of("java -Xmx512m -jar app.jar"), "java|-Xmx512m|-jar|app.jar");
	/* after exec a builtin's name is a program too, as the shell does it */
	assert_string_equal(words_of("exec echo hi"), "echo|hi");
	assert_string_equal(words_of("exec exec"), "exec");
	/* expansions, quoting, operators, redirections, globs: the shell */
	assert_string_equal(words_of("python3 -m http.server $PORT0"), "SHELL");
	assert_string_equal(words_of("python3 -m http.server ${PORT0}"), "SHELL");
	assert_string_equal(words_of("a && b"), "SHELL");
	assert_string_equal(words_of("a || b"), "SHELL");
	assert_string_equal(words_of("a; b"), "SHELL");
	assert_string_equal(words_of("a | b"), "SHELL");
	assert_string_equal(words_of("a &"), "SHELL");
	assert_string_equal(words_of("echo 'quoted arg'"), "SHELL");
	assert_string_equal(words_of("sleep \"600\""), "SHELL");
	assert_string_equal(words_of("sleep 6\\00"), "SHELL");
	assert_string_equal(words_of("ls *.txt"), "SHELL");
	assert_string_equal(words_of("ls file?"), "SHELL");
	assert_string_equal(words_of("ls [ab]"), "SHELL");
	assert_string_equal(words_of("ls ~"), "SHELL");
	assert_string_equal(words_of("ls ~/x"), "SHELL");
	assert_string_equal(words_of("cat < in"), "SHELL");
	assert_string_equal(words_of("echo x > out"), "SHELL");
	assert_string_equal(words_of("sleep 1 2>/dev/null"), "SHELL");
	assert_string_equal(words_of("(sleep 1)"), "SHELL");
	assert_string_equal(words_of("echo `date`"), "SHELL");
	assert_string_equal(words_of("echo {a,b}"), "SHELL");
	assert_string_equal(words_of("sleep 1 # comment"), "SHELL");
	assert_string_equal(words_of("! false"), "SHELL");
	assert_string_equal(words_of("sleep\t600"), "SHELL");
	assert_string_equal(words_of("sleep 600\n"), "SHELL");
	assert_string_equal(words_of("sleep 1\nsleep 2"), "SHELL");
	assert_string_equal(words_of("caf\xc3\xa9 1"), "SHELL");
	/* empty */
	assert_string_equal(words_of(""), "SHELL");
	assert_string_equal(words_of("   "), "SHELL");
	assert_string_equal(words_of("exec"), "SHELL");
	/* builtins and reserved words run in the shell, not as programs */
	assert_string_equal(words_of("exit 3"), "SHELL");
	assert_string_equal(words_of("echo hello"), "SHELL");
	assert_string_equal(words_of("true"), "SHELL");
	assert_string_equal(words_of("cd /tmp"), "SHELL");
	assert_string_equal(words_of(". ./env.sh"), "SHELL");
	assert_string_equal(words_of(": nothing"), "SHELL");
	assert_string_equal(words_of("export A=1"), "SHELL");
	assert_string_equal(words_of("ulimit -n 100"), "SHELL");
	assert_string_equal(words_of("wait"), "SHELL");
	assert_string_equal(words_of("if"), "SHELL");
	assert_string_equal(words_of("while"), "SHELL");
	/* assignments and exec's options */
	assert_string_equal(words_of("FOO=bar sleep 1"), "SHELL");
	assert_string_equal(words_of("A=1"), "SHELL");
	assert_string_equal(words_of("exec -a name sleep 1"), "SHELL");
	assert_string_equal(words_of("exec -- sleep 1"), "SHELL");
	/* '=' in a later word is an argument */
	assert_string_equal(words_of("env A=1 B=2 prog"), "env|A=1|B=2|prog");
	assert_string_equal(words_of("exec A=1"), "A=1");
}

static void test_find_program(void **state)
{
	struct ctx *c = *state;
	struct strbuf out = STRBUF_INIT;
	char path[256], cmd[512];

	snprintf(cmd, sizeof(cmd),
		 "cd %s && mkdir -p b1 b2 rel && touch b1/tool && chmod 644 b1/tool && "
		 "printf '#!/bin/sh\\n' > b2/tool && chmod 755 b2/tool && cp b2/tool rel/own && "
		 "mkdir b1/dir",
		 c->work);
	assert_int_equal(system(cmd), 0);
	snprintf(path, sizeof(path), "%s/b1:%s/b2", c->work, c->work);
	/* the first executable one, past a non-executable one */
	assert_int_equal(spawn_find_program("tool", path, AT_FDCWD, &out), 0);
	snprintf(cmd, sizeof(cmd), "%s/b2/tool", c->work);
	assert_string_equal(out.buf, cmd);
	/* found but not executable; a directory is not a program */
	strbuf_reset(&out);
	snprintf(path, sizeof(path), "/nonexistent:%s/b1", c->work);
	assert_int_equal(spawn_find_program("tool", path, AT_FDCWD, &out), -EACCES);
	assert_int_equal(spawn_find_program("dir", path, AT_FDCWD, &out), -EACCES);
	assert_int_equal(spawn_find_program("nope", path, AT_FDCWD, &out), -ENOENT);
	assert_int_equal(spawn_find_program("", path, AT_FDCWD, &out), -ENOENT);
	/* relative entries count from the given directory */
	{
		int dfd = open(c->work, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		assert_true(dfd >= 0);
		assert_int_equal(spawn_find_program("own", "/nonexistent:rel", dfd, &out), 0);
		assert_string_equal(out.buf, "rel/own");
		strbuf_reset(&out);
		close(dfd);
	}
	/* with a '/': as is */
	assert_int_equal(spawn_find_program("./x/y", "", AT_FDCWD, &out), 0);
	assert_string_equal(out.buf, "./x/y");
	strbuf_release(&out);
}

/* /proc/<pid>/exe of the task: which program the task's pid runs */
static const char *task_exe(struct task *t)
{
	static char buf[256];
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/exe", (long)task_pid(t));
	n = readlink(path, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static void test_direct_spawn(void **state)
{
	struct ctx *c = *state;
	struct task_config cfg = {.id = "direct.1", .cmd = "exec sleep 30", .kill_grace_seconds = 2};
	struct task *t = start(c, &cfg);
	char sleep_path[256];

	/* RUNNING before task_start returned: posix_spawn came back after the exec */
	assert_int_equal(c->nseen, 2);
	assert_int_equal(c->seen[0], TASK_STARTING);
	assert_int_equal(c->seen[1], TASK_RUNNING);
	/* the task's pid is the program itself, leading its own session and group */
	assert_non_null(realpath("/bin/sleep", sleep_path));
	assert_string_equal(task_exe(t), sleep_path);
	assert_int_equal(getpgid(task_pid(t)), task_pid(t));
	assert_int_equal(getsid(task_pid(t)), task_pid(t));
	task_kill(t, 0);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_KILLED);
	assert_int_equal(c->term_signal, SIGTERM);
	task_free(t);

	/* the launcher path for the same command: STARTING only, RUNNING later */
	c->rt.launcher_only = true;
	c->nseen = 0;
	cfg.id = "direct.2";
	t = start(c, &cfg);
	assert_int_equal(c->nseen, 1);
	assert_true(run_until(c, t, NULL, 4000) || task_state(t) == TASK_RUNNING);
	assert_int_equal(task_state(t), TASK_RUNNING);
	task_kill(t, 0);
	assert_true(run_until(c, t, NULL, 4000));
	task_free(t);
}

static void test_direct_files(void **state)
{
	struct ctx *c = *state;
	const char *const args[] = {"/bin/sh", "-c", "echo out; echo err >&2; pwd; cat; exit 4"};
	struct task_config cfg = {.id = "direct.3", .args = args, .nargs = 3};
	struct task *t = start(c, &cfg);
	char want[256];

	assert_int_equal(c->nseen, 2); /* direct: RUNNING already */
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_string_equal(c->msg, "command exited with status 4");
	/* stdout and stderr in the sandbox, the sandbox the working directory, stdin empty */
	snprintf(want, sizeof(want), "out\n%s\n", task_sandbox(t));
	assert_string_equal(read_sandbox_file(t, "stdout"), want);
	assert_string_equal(read_sandbox_file(t, "stderr"), "err\n");
	task_free(t);

	/* a simple cmd, PATH searched, arguments as given; files appended to */
	c->nseen = 0;
	cfg = (struct task_config){.id = "direct.3", .cmd = "ls -d . nonexistent-file"};
	t = start(c, &cfg);
	assert_int_equal(c->nseen, 2);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FAILED);
	snprintf(want, sizeof(want), "out\n%s\n.\n", task_sandbox(t));
	assert_string_equal(read_sandbox_file(t, "stdout"), want);
	assert_non_null(strstr(read_sandbox_file(t, "stderr"), "err\nls: "));
	task_free(t);

	/* an fd of the agent's without close-on-exec does not reach the task */
	{
		int leak = open("/dev/null", O_RDONLY);
		char script[128];
		const char *const args2[] = {"/bin/sh", "-c", script};

		assert_true(leak > 2);
		snprintf(script, sizeof(script),
			 "if [ -e /proc/$$/fd/%d ]; then echo leaked; else echo closed; fi", leak);
		c->nseen = 0;
		cfg = (struct task_config){.id = "direct.3b", .args = args2, .nargs = 3};
		t = start(c, &cfg);
		assert_int_equal(c->nseen, 2);
		assert_true(run_until(c, t, NULL, 4000));
		assert_string_equal(read_sandbox_file(t, "stdout"), "closed\n");
		task_free(t);
		close(leak);
	}
}

static void test_direct_environment(void **state)
{
	struct ctx *c = *state;
	char path_var[200], cmd[512];
	const char *env[] = {"FOO=bar baz", "MESOS_TASK_ID=direct.4", path_var};
	struct task_config cfg = {.id = "direct.4", .cmd = "exec hello world", .env = env,
				  .nenv = 3};
	struct task *t;
	char *out, want[256];

	/* a program found through the task's PATH, not the agent's */
	snprintf(cmd, sizeof(cmd),
		 "mkdir -p %s/bin && printf '#!/bin/sh\\necho \"$1\"; env\\n' > %s/bin/hello && "
		 "chmod 755 %s/bin/hello",
		 c->work, c->work, c->work);
	assert_int_equal(system(cmd), 0);
	snprintf(path_var, sizeof(path_var), "PATH=/nonexistent:%s/bin:/usr/bin:/bin", c->work);
	setenv("PACER_TEST_AGENT_ONLY", "1", 1);
	t = start(c, &cfg);
	assert_int_equal(c->nseen, 2);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FINISHED);
	out = read_sandbox_file(t, "stdout");
	assert_true(!strncmp(out, "world\n", 6));
	assert_non_null(strstr(out, "\nFOO=bar baz\n"));
	assert_non_null(strstr(out, "\nMESOS_TASK_ID=direct.4\n"));
	snprintf(want, sizeof(want), "\n%s\n", path_var);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\nPWD=%s\n", task_sandbox(t));
	assert_non_null(strstr(out, want));
	/* nothing of the agent's own environment */
	assert_null(strstr(out, "PACER_TEST_AGENT_ONLY"));
	task_free(t);

	/* no PATH in the task's environment: the launcher's default */
	c->nseen = 0;
	cfg = (struct task_config){.id = "direct.5", .cmd = "env", .env = env, .nenv = 2};
	t = start(c, &cfg);
	assert_int_equal(c->nseen, 2);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FINISHED);
	assert_non_null(strstr(read_sandbox_file(t, "stdout"), "\nPATH=" LAUNCH_DEFAULT_PATH "\n"));
	task_free(t);
	unsetenv("PACER_TEST_AGENT_ONLY");
}

static void test_direct_kill_group(void **state)
{
	struct ctx *c = *state;
	const char *const args[] = {
		"/bin/sh", "-c", "trap '' TERM; sleep 100 & echo $! > child.pid; touch ready; wait"};
	struct task_config cfg = {.id = "direct.6", .args = args, .nargs = 3,
				  .kill_grace_seconds = 0.3};
	struct task *t = start(c, &cfg);
	pid_t grandchild;

	assert_int_equal(c->nseen, 2);
	assert_true(run_until(c, t, ready_file, 4000));
	grandchild = (pid_t)atol(read_sandbox_file(t, "child.pid"));
	assert_true(grandchild > 0);
	assert_int_equal(getpgid(grandchild), task_pid(t));
	task_kill(t, 0);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_KILLED);
	assert_int_equal(c->term_signal, SIGKILL);
	task_free(t);
	for (int i = 0; i < 200 && !proc_gone(grandchild); i++)
		usleep(10000);
	assert_true(proc_gone(grandchild));
}

static void test_direct_exec_failures(void **state)
{
	struct ctx *c = *state;
	const char *const args[] = {"no-such-program-pacer-xyz", "x"};
	char sandbox[128], cmd[512];
	struct task_config cfg = {.id = "direct.7", .args = args, .nargs = 2};
	struct task *t = start(c, &cfg);

	/* args: as the launcher reports it, straight from STAGING */
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_int_equal(c->nseen, 1);
	assert_string_equal(c->msg,
			    "cannot exec 'no-such-program-pacer-xyz': No such file or directory");
	assert_true(c->exit_known);
	assert_int_equal(c->exit_code, LAUNCHER_EXIT_CODE);
	assert_non_null(strstr(read_sandbox_file(t, "stderr"), c->msg));
	task_free(t);

	/* cmd: what the shell gives, 127 for not found, 126 for not executable */
	c->nseen = 0;
	cfg = (struct task_config){.id = "direct.8", .cmd = "exec no-such-program-pacer-xyz 1"};
	t = start(c, &cfg);
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_string_equal(c->msg, "cannot exec 'no-such-program-pacer-xyz': command not found");
	assert_int_equal(c->exit_code, 127);
	assert_non_null(strstr(read_sandbox_file(t, "stderr"), "command not found"));
	task_free(t);

	snprintf(sandbox, sizeof(sandbox), "%s/given", c->work);
	snprintf(cmd, sizeof(cmd),
		 "mkdir %s && cd %s && echo data > data.txt && printf 'echo from script\\n' > "
		 "script && chmod 755 script",
		 sandbox, sandbox);
	assert_int_equal(system(cmd), 0);
	c->nseen = 0;
	cfg = (struct task_config){.id = "direct.9", .cmd = "./data.txt", .sandbox = sandbox};
	t = start(c, &cfg);
	assert_int_equal(task_state(t), TASK_FAILED);
	assert_string_equal(c->msg, "cannot exec './data.txt': Permission denied");
	assert_int_equal(c->exit_code, 126);
	task_free(t);

	/* no #!: not an exec failure, the shell runs it (through the launcher) */
	c->nseen = 0;
	cfg = (struct task_config){.id = "direct.10", .cmd = "./script", .sandbox = sandbox};
	t = start(c, &cfg);
	assert_int_equal(c->nseen, 1); /* STARTING: the launcher path */
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_FINISHED);
	assert_string_equal(read_sandbox_file(t, "stdout"), "from script\n");
	task_free(t);
}

/* The path of pid's cgroup in the hierarchy with this controller (v1), or the v2 one. */
static bool proc_cgroup_has(pid_t pid, const char *want_path_suffix)
{
	char path[64], line[1024];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/cgroup", (long)pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		p = p ? strchr(p + 1, ':') : NULL;
		if (!p)
			continue;
		p++;
		p[strcspn(p, "\n")] = '\0';
		/* the cgroup's directory ends with the path the kernel shows */
		found = *p && strlen(want_path_suffix) >= strlen(p) &&
			!strcmp(want_path_suffix + strlen(want_path_suffix) - strlen(p), p);
	}
	fclose(f);
	return found;
}

static void test_direct_cgroup(void **state)
{
	struct ctx *c = *state;
	struct strbuf why = STRBUF_INIT;
	struct task_config cfg = {
		.id = "direct.11",
		.cmd = "exec sleep 30",
		.use_cgroup = true,
		.limits = {.mem_bytes = 64 << 20, .cpus = 0.25},
		.kill_grace_seconds = 1,
	};
	char parent[64], *paths[CGROUP_NCTL] = {0};
	const struct cgroup *cg;
	struct cgroup_limits got;
	struct task *t;
	int n = 0;

	t = start_in_test_cgroup(c, &cfg, parent, sizeof(parent), &why);
	cg = task_cgroup(t);
	/* direct: running, and already in its cgroup, when task_start returned */
	assert_int_equal(c->nseen, 2);
	assert_int_equal(task_state(t), TASK_RUNNING);
	for (int i = 0; i < CGROUP_NCTL; i++) {
		if (!cg->path[i])
			continue;
		if (!proc_cgroup_has(task_pid(t), cg->path[i]))
			fail_msg("pid %ld is not in '%s'", (long)task_pid(t), cg->path[i]);
		paths[i] = strdup(cg->path[i]);
		n++;
	}
	assert_true(n > 0);
	assert_int_equal(cgroup_count_procs(cg) > 0, 1);
	assert_int_equal(cgroup_read_limits(cg, &got), 0);
	assert_int_equal(got.mem_bytes, 64 << 20);
	print_message("%s: pid %ld found in %d task cgroup(s) through /proc/%ld/cgroup\n",
		      cgroup_version_name(cg->version), (long)task_pid(t), n, (long)task_pid(t));

	task_kill(t, 0);
	assert_true(run_until(c, t, NULL, 4000));
	assert_int_equal(task_state(t), TASK_KILLED);
	for (int i = 0; i < CGROUP_NCTL; i++) {
		if (paths[i]) {
			assert_int_equal(access(paths[i], F_OK), -1);
			free(paths[i]);
		}
	}
	task_free(t);
	for (int i = 0; i < CGROUP_NCTL; i++)
		if (c->cs.parent[i])
			rmdir(c->cs.parent[i]);
	strbuf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_cmd_finishes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cmd_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_args_without_shell, setup, teardown),
		cmocka_unit_test_setup_teardown(test_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_handled_term, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_ignored_term, setup, teardown),
		cmocka_unit_test_setup_teardown(test_command_not_found, setup, teardown),
		cmocka_unit_test_setup_teardown(test_launcher_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fetch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cgroup_memory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reattach, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_before_start, setup, teardown),
		cmocka_unit_test(test_cmd_words),
		cmocka_unit_test_setup_teardown(test_find_program, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_spawn, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_environment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_kill_group, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_exec_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_direct_cgroup, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
