/* SPDX-License-Identifier: Apache-2.0 */
/* A supervised task as a state x event table on the loop; see task.h. */
#include "agent/task.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"

#define DEFAULT_GRACE_MS 3000
#define CLEANUP_FIRST_MS 5
#define CLEANUP_MAX_STEP_MS 100
#define CLEANUP_DEADLINE_MS 5000

/*
 * Internal states: the public ones plus CLEANUP, where the main process is
 * reaped but its cgroup still holds processes; it shows as the state before.
 */
enum st { S_STAGING, S_STARTING, S_RUNNING, S_KILLING, S_CLEANUP, S_FINISHED, S_FAILED, S_KILLED,
	  S_N };

enum ev {
	E_START,      /* task_start */
	E_KILL,       /* task_kill */
	E_EXEC_OK,    /* error pipe closed, nothing written */
	E_LAUNCH_ERR, /* error pipe closed after a message */
	E_EXIT,       /* pidfd readable */
	E_TIMER,      /* grace period over / cleanup retry */
	E_N
};

struct task {
	const struct task_runtime *rt;
	task_state_fn *cb;
	void *data;
	enum st st;
	enum task_state shown; /* last reported */

	/* copy of the config */
	char *id, *sandbox, *cmd, *user;
	bool sandbox_given; /* used as is, not created */
	char **args, **env;
	size_t nargs, nenv;
	char **words; /* cmd as argv when it needs no shell (task_cmd_words), or NULL */
	struct launch_fetch *fetch;
	size_t nfetch;
	bool use_cgroup;
	struct cgroup_limits limits;
	uint64_t grace_ms;

	pid_t pid, pgid; /* pgid -1: do not signal a group */
	int pidfd, err_fd;
	bool attached; /* not necessarily our child */
	struct cgroup cg;
	bool has_cg;
	struct strbuf cg_problem;
	struct strbuf launch_msg;

	/* result kept between reaping and the terminal report */
	enum st final;
	struct strbuf final_msg;
	bool exit_known;
	int exit_code, term_signal;
	uint64_t cleanup_start, cleanup_step;

	uv_poll_t _pid_poll, _err_poll;
	uv_timer_t _timer;
	bool _pid_poll_open, _err_poll_open;
	int _open_handles;
	int _depth;
	bool _free_requested, _freed;
};

static const enum task_state shown_of[S_N] = {
	[S_STAGING] = TASK_STAGING,   [S_STARTING] = TASK_STARTING, [S_RUNNING] = TASK_RUNNING,
	[S_KILLING] = TASK_KILLING,   [S_CLEANUP] = TASK_KILLING,   [S_FINISHED] = TASK_FINISHED,
	[S_FAILED] = TASK_FAILED,     [S_KILLED] = TASK_KILLED,
};

const char *task_state_name(enum task_state s)
{
	static const char *const names[] = {"TASK_STAGING",  "TASK_STARTING", "TASK_RUNNING",
					    "TASK_KILLING",  "TASK_FINISHED", "TASK_FAILED",
					    "TASK_KILLED"};

	return (unsigned)s < sizeof(names) / sizeof(names[0]) ? names[s] : "TASK_UNKNOWN";
}

/* ---- reporting ---- */

static void report(struct task *t, enum task_state s, const char *msg)
{
	struct task_status st = {
		.state = s,
		.prev = t->shown,
		.message = msg ? msg : "",
		.exit_known = task_state_is_terminal(s) && t->exit_known,
		.exit_code = t->exit_code,
		.term_signal = t->term_signal,
	};

	t->shown = s;
	if (t->cb)
		t->cb(t, &st, t->data);
}

/* Enters state s and reports it when it shows as a different public state. */
static void enter(struct task *t, enum st s, const char *msg)
{
	t->st = s;
	if (s != S_CLEANUP && shown_of[s] != t->shown)
		report(t, shown_of[s], msg);
}

/* ---- handles ---- */

static void really_free(struct task *t);

static void on_close(uv_handle_t *h)
{
	struct task *t = h->data;

	t->_open_handles--;
	if (!t->_open_handles && t->_freed)
		really_free(t);
}

static void close_err_pipe(struct task *t)
{
	if (t->_err_poll_open) {
		uv_close((uv_handle_t *)&t->_err_poll, on_close);
		t->_err_poll_open = false;
	}
	if (t->err_fd >= 0) {
		close(t->err_fd);
		t->err_fd = -1;
	}
}

static void close_pidfd(struct task *t)
{
	if (t->_pid_poll_open) {
		uv_close((uv_handle_t *)&t->_pid_poll, on_close);
		t->_pid_poll_open = false;
	}
	if (t->pidfd >= 0) {
		close(t->pidfd);
		t->pidfd = -1;
	}
}

static void dispatch(struct task *t, enum ev ev);

static void on_pid_readable(uv_poll_t *h, int status, int events)
{
	dispatch(h->data, E_EXIT);
}

static void on_err_readable(uv_poll_t *h, int status, int events)
{
	struct task *t = h->data;
	int r = spawn_read_error(t->err_fd, &t->launch_msg);

	if (r == 0)
		return;
	close_err_pipe(t);
	dispatch(t, t->launch_msg.len ? E_LAUNCH_ERR : E_EXEC_OK);
}

static void on_timer(uv_timer_t *h)
{
	dispatch(h->data, E_TIMER);
}

static int watch_pidfd(struct task *t)
{
	int err = uv_poll_init(t->rt->loop, &t->_pid_poll, t->pidfd);

	if (err)
		return err;
	t->_pid_poll.data = t;
	t->_pid_poll_open = true;
	t->_open_handles++;
	return uv_poll_start(&t->_pid_poll, UV_READABLE, on_pid_readable);
}

/* ---- signals ---- */

static void signal_all(struct task *t, int sig)
{
	if (t->pidfd >= 0)
		spawn_pidfd_signal(t->pidfd, sig);
	if (t->pgid > 0)
		kill(-t->pgid, sig);
	if (t->has_cg)
		cgroup_signal_all(&t->cg, sig);
}

/* ---- actions ---- */

typedef void action_fn(struct task *t);

static void a_ignore(struct task *t)
{
}

static int make_sandbox(struct task *t)
{
	struct strbuf p = STRBUF_INIT;
	int err = 0;

	if (t->sandbox_given)
		return 0;
	strbuf_addf(&p, "%s/tasks", t->rt->work_dir);
	if (mkdir(t->rt->work_dir, 0755) < 0 && errno != EEXIST)
		err = -errno;
	else if (mkdir(p.buf, 0755) < 0 && errno != EEXIST)
		err = -errno;
	else if (mkdir(t->sandbox, 0755) < 0 && errno != EEXIST)
		err = -errno;
	strbuf_release(&p);
	return err;
}

/* Opens cg's cgroup.procs files for writing; returns how many, or -errno. */
static int open_cgroup_procs(struct task *t, int fds[CGROUP_NCTL])
{
	char *procs[CGROUP_NCTL] = {0};
	size_t n = cgroup_procs_files(&t->cg, procs);
	int err = 0, nfds = 0;

	for (size_t i = 0; i < n; i++) {
		int fd = err ? -1 : open(procs[i], O_WRONLY | O_CLOEXEC);

		if (!err && fd < 0)
			err = -errno;
		if (fd >= 0)
			fds[nfds++] = fd;
		free(procs[i]);
	}
	if (err) {
		while (nfds)
			close(fds[--nfds]);
		return err;
	}
	return nfds;
}

/*
 * The task's environment for execve, as the launcher gives it: PATH added
 * when absent (*path_env is its value); for a cmd also PWD, as the shell
 * that would have run it exports. *pwd (freed by the caller) holds it.
 */
static char **task_envp(struct task *t, const char **path_env, char **pwd)
{
	char **envp = xcalloc(st_add(t->nenv, 3), sizeof(*envp));
	bool has_pwd = false;
	size_t n = 0;

	*path_env = NULL;
	*pwd = NULL;
	for (size_t i = 0; i < t->nenv; i++) {
		envp[n++] = t->env[i];
		if (!strncmp(t->env[i], "PATH=", 5))
			*path_env = t->env[i] + 5;
		else if (!strncmp(t->env[i], "PWD=", 4))
			has_pwd = true;
	}
	if (!*path_env) {
		envp[n++] = (char *)"PATH=" LAUNCH_DEFAULT_PATH;
		*path_env = LAUNCH_DEFAULT_PATH;
	}
	if (t->words && !has_pwd) {
		struct strbuf sb = STRBUF_INIT;

		strbuf_addf(&sb, "PWD=%s", t->sandbox);
		*pwd = envp[n++] = strbuf_detach(&sb, NULL);
	}
	envp[n] = NULL;
	return envp;
}

/* The report of a direct exec that failed: what the launcher or the shell would give. */
static void direct_exec_failed(struct task *t, const char *prog, int err, int stderr_fd,
			       struct strbuf *why)
{
	if (err == -EAGAIN || err == -ENOMEM) {
		/* most likely the clone itself: no process, no exit status */
		strbuf_addf(why, "cannot start '%s': %s", prog, strerror(-err));
		return;
	}
	if (t->words && err == -ENOENT && !strchr(prog, '/'))
		strbuf_addf(why, "cannot exec '%s': command not found", prog);
	else
		strbuf_addf(why, "cannot exec '%s': %s", prog, strerror(-err));
	t->exit_known = true;
	t->term_signal = 0;
	if (!t->words)
		t->exit_code = LAUNCHER_EXIT_CODE;
	else
		t->exit_code = err == -ENOENT ? 127 : 126;
	if (dprintf(stderr_fd, "pacer: %s\n", why->buf) < 0) {
		/* the report above still tells */
	}
}

enum direct_result { DIRECT_STARTED, DIRECT_FAILED, DIRECT_FALLBACK };

/*
 * The direct path (see task.h): one exec, no launcher. DIRECT_FALLBACK
 * leaves nothing behind and why empty; DIRECT_FAILED puts the reason in why.
 */
static enum direct_result start_direct(struct task *t, struct strbuf *why)
{
	char *const *argv = t->words ? t->words : t->args;
	struct strbuf prog = STRBUF_INIT;
	enum direct_result res = DIRECT_FALLBACK;
	int procs_fd[CGROUP_NCTL], nprocs = 0;
	int dir_fd, out_fd = -1, err_fd = -1, null_fd = -1, err;
	struct spawn_child child;
	const char *path_env;
	char **envp = NULL, *pwd = NULL;

	/* whatever fails before the spawn, the launcher reports in its own words */
	dir_fd = open(t->sandbox, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0)
		return DIRECT_FALLBACK;
	out_fd = openat(dir_fd, "stdout", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (out_fd < 0)
		goto out;
	err_fd = openat(dir_fd, "stderr", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (err_fd < 0)
		goto out;
	null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		goto out;
	if (t->has_cg) {
		nprocs = open_cgroup_procs(t, procs_fd);
		if (nprocs < 0) {
			nprocs = 0;
			goto out;
		}
	}
	envp = task_envp(t, &path_env, &pwd);
	err = spawn_find_program(argv[0], path_env, dir_fd, &prog);
	if (!err) {
		struct spawn_exec req = {
			.path = prog.buf, .argv = argv, .envp = envp, .dir_fd = dir_fd,
			.stdin_fd = null_fd, .stdout_fd = out_fd, .stderr_fd = err_fd,
			.cgroup_fds = procs_fd, .ncgroup_fds = nprocs,
		};

		/* the child joins its cgroups before it execs: nothing escapes them */
		err = spawn_exec_direct(&req, &child);
	}
	if (err == SPAWN_ECGROUP) {
		log_warn("cannot move task '%s' into its cgroup; starting it through the launcher",
			 t->id);
		goto out;
	}
	if (err == -ENOEXEC)
		goto out; /* a script without #!: the shell (or execvp) runs it */
	if (err) {
		direct_exec_failed(t, argv[0], err, err_fd, why);
		res = DIRECT_FAILED;
		goto out;
	}
	t->pid = t->pgid = child.pid;
	t->pidfd = child.pidfd;
	err = watch_pidfd(t);
	if (err) {
		strbuf_addf(why, "cannot watch task process %ld: %s", (long)t->pid,
			    uv_strerror(err));
		signal_all(t, SIGKILL);
		waitid(P_PIDFD, (id_t)t->pidfd, &(siginfo_t){0}, WEXITED);
		close_pidfd(t);
		res = DIRECT_FAILED;
		goto out;
	}
	res = DIRECT_STARTED;
out:
	free(pwd);
	free(envp);
	strbuf_release(&prog);
	while (nprocs)
		close(procs_fd[--nprocs]);
	if (null_fd >= 0)
		close(null_fd);
	if (err_fd >= 0)
		close(err_fd);
	if (out_fd >= 0)
		close(out_fd);
	close(dir_fd);
	return res;
}

static bool direct_usable(const struct task *t)
{
	if (t->rt->launcher_only || t->user || t->nfetch)
		return false;
	return t->cmd ? t->words != NULL : t->nargs > 0;
}

/* The launcher path: `pacer-launch` does the rest; see launcher.h. */
static int start_launcher(struct task *t, struct strbuf *why)
{
	char *procs[CGROUP_NCTL] = {0};
	struct spawn_child child;
	struct launch_spec spec = {0};
	size_t nprocs = 0;
	int err;

	if (t->has_cg)
		nprocs = cgroup_procs_files(&t->cg, procs);
	spec.sandbox = t->sandbox;
	spec.cgroup_procs = (const char *const *)procs;
	spec.ncgroup_procs = nprocs;
	spec.user = t->user;
	spec.fetch = t->fetch;
	spec.nfetch = t->nfetch;
	spec.env = (const char *const *)t->env;
	spec.nenv = t->nenv;
	spec.cmd = t->cmd;
	spec.args = (const char *const *)t->args;
	spec.nargs = t->nargs;
	err = spawn_launch(&t->rt->launcher, &spec, &child, why);
	for (size_t i = 0; i < nprocs; i++)
		free(procs[i]);
	if (err)
		return err;
	t->pid = t->pgid = child.pid;
	t->pidfd = child.pidfd;
	t->err_fd = child.err_fd;
	err = watch_pidfd(t);
	if (!err) {
		err = uv_poll_init(t->rt->loop, &t->_err_poll, t->err_fd);
		if (!err) {
			t->_err_poll.data = t;
			t->_err_poll_open = true;
			t->_open_handles++;
			err = uv_poll_start(&t->_err_poll, UV_READABLE, on_err_readable);
		}
	}
	if (err) {
		/* cannot watch it: take it down again, synchronously (rare) */
		strbuf_addf(why, "cannot watch task process %ld: %s", (long)t->pid,
			    uv_strerror(err));
		signal_all(t, SIGKILL);
		waitid(P_PIDFD, (id_t)t->pidfd, &(siginfo_t){0}, WEXITED);
		close_err_pipe(t);
		close_pidfd(t);
		return err;
	}
	return 0;
}

static void a_start(struct task *t)
{
	struct strbuf why = STRBUF_INIT;
	int err;

	err = make_sandbox(t);
	if (err) {
		strbuf_addf(&why, "cannot create sandbox '%s': %s", t->sandbox, pacer_strerror(err));
		goto fail;
	}
	if (t->use_cgroup) {
		const struct cgroup_sys *cs = t->rt->cgroups;

		if (!cs || cs->version == CGROUP_NONE)
			strbuf_addstr(&t->cg_problem, "cgroups are not available on this agent");
		else if (!cgroup_create(cs, t->id, &t->limits, &t->cg, &t->cg_problem))
			t->has_cg = true;
		if (!t->has_cg)
			log_warn("task '%s' runs without a cgroup: %s", t->id, t->cg_problem.buf);
	}
	if (direct_usable(t)) {
		switch (start_direct(t, &why)) {
		case DIRECT_STARTED:
			enter(t, S_STARTING, "");
			/* the callback may have killed it already */
			if (t->st == S_STARTING)
				enter(t, S_RUNNING, "");
			strbuf_release(&why);
			return;
		case DIRECT_FAILED:
			goto fail;
		case DIRECT_FALLBACK:
			break;
		}
	}
	if (start_launcher(t, &why))
		goto fail;
	enter(t, S_STARTING, "");
	strbuf_release(&why);
	return;
fail:
	if (t->has_cg) {
		cgroup_remove(&t->cg);
		cgroup_release(&t->cg);
		t->has_cg = false;
	}
	enter(t, S_FAILED, why.buf);
	strbuf_release(&why);
}

static void a_kill_staging(struct task *t)
{
	enter(t, S_KILLED, "killed before it started");
}

static void a_term(struct task *t)
{
	signal_all(t, SIGTERM);
	/* the loop's cached time may be old after a long turn (many launches): the grace
	 * period counts from now */
	uv_update_time(t->_timer.loop);
	uv_timer_start(&t->_timer, on_timer, t->grace_ms, 0);
	enter(t, S_KILLING, "");
}

static void a_exec_ok(struct task *t)
{
	enter(t, S_RUNNING, "");
}

static void a_record(struct task *t)
{
	/* the message is in launch_msg; the exit that follows reports it */
}

static void a_sigkill(struct task *t)
{
	log_info("task '%s' did not stop within its grace period: sending SIGKILL", t->id);
	signal_all(t, SIGKILL);
}

static void finish(struct task *t)
{
	uv_timer_stop(&t->_timer);
	if (t->has_cg) {
		cgroup_release(&t->cg);
		t->has_cg = false;
	}
	enter(t, t->final, t->final_msg.buf);
}

/* One attempt to remove the cgroup; retried from the timer. */
static void try_cleanup(struct task *t)
{
	uint64_t now = uv_now(t->rt->loop);
	int err;

	cgroup_signal_all(&t->cg, SIGKILL);
	err = cgroup_remove(&t->cg);
	if (!err) {
		finish(t);
		return;
	}
	if (now - t->cleanup_start >= CLEANUP_DEADLINE_MS) {
		log_warn("cannot remove cgroup of task '%s': %s", t->id, pacer_strerror(err));
		finish(t);
		return;
	}
	uv_timer_start(&t->_timer, on_timer, t->cleanup_step, 0);
	if (t->cleanup_step < CLEANUP_MAX_STEP_MS)
		t->cleanup_step *= 2;
}

static void a_cleanup_retry(struct task *t)
{
	try_cleanup(t);
}

/* The main process exited: kill what is left, reap, decide, clean up. */
static void a_exit(struct task *t)
{
	siginfo_t info = {0};
	int r;

	/* the zombie still holds the pgid: no other group can have taken it */
	if (t->pgid > 0)
		kill(-t->pgid, SIGKILL);
	if (t->has_cg)
		cgroup_signal_all(&t->cg, SIGKILL);

	r = waitid(P_PIDFD, (id_t)t->pidfd, &info, WEXITED | WNOHANG);
	if (r == 0 && info.si_pid == 0)
		return; /* spurious wakeup: not exited yet */
	if (r == 0) {
		t->exit_known = true;
		t->exit_code = info.si_code == CLD_EXITED ? info.si_status : -1;
		t->term_signal = info.si_code == CLD_EXITED ? 0 : info.si_status;
	} else {
		t->exit_known = false;
		t->exit_code = -1;
		t->term_signal = 0;
	}
	uv_timer_stop(&t->_timer);
	close_pidfd(t);
	if (t->err_fd >= 0) {
		/* the launcher is gone: what it wrote is all there is */
		spawn_read_error(t->err_fd, &t->launch_msg);
		close_err_pipe(t);
		if (t->st == S_STARTING && !t->launch_msg.len)
			enter(t, S_RUNNING, "");
	}

	strbuf_reset(&t->final_msg);
	if (t->st == S_KILLING) {
		t->final = S_KILLED;
	} else if (t->launch_msg.len) {
		t->final = S_FAILED;
		strbuf_addstr(&t->final_msg, t->launch_msg.buf);
	} else if (!t->exit_known) {
		t->final = S_FAILED;
		strbuf_addstr(&t->final_msg, "exit status unknown: the task was not a child of "
					     "this agent (re-attached)");
	} else if (t->term_signal) {
		t->final = S_FAILED;
		strbuf_addf(&t->final_msg, "command terminated by signal %d (%s)", t->term_signal,
			    strsignal(t->term_signal));
	} else if (t->exit_code) {
		t->final = S_FAILED;
		strbuf_addf(&t->final_msg, "command exited with status %d", t->exit_code);
	} else {
		t->final = S_FINISHED;
	}
	if (!t->has_cg) {
		finish(t);
		return;
	}
	t->st = S_CLEANUP;
	t->cleanup_start = uv_now(t->rt->loop);
	t->cleanup_step = CLEANUP_FIRST_MS;
	try_cleanup(t);
}

static action_fn *const table[S_N][E_N] = {
	[S_STAGING] = {a_start, a_kill_staging, a_ignore, a_ignore, a_ignore, a_ignore},
	[S_STARTING] = {a_ignore, a_term, a_exec_ok, a_record, a_exit, a_ignore},
	[S_RUNNING] = {a_ignore, a_term, a_ignore, a_record, a_exit, a_ignore},
	[S_KILLING] = {a_ignore, a_ignore, a_ignore, a_record, a_exit, a_sigkill},
	[S_CLEANUP] = {a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_cleanup_retry},
	[S_FINISHED] = {a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_ignore},
	[S_FAILED] = {a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_ignore},
	[S_KILLED] = {a_ignore, a_ignore, a_ignore, a_ignore, a_ignore, a_ignore},
};

static void dispatch(struct task *t, enum ev ev)
{
	t->_depth++;
	table[t->st][ev](t);
	t->_depth--;
	if (!t->_depth && t->_free_requested)
		task_free(t);
}

/* ---- construction ---- */

static char **dup_strv(const char *const *v, size_t n)
{
	char **out = xcalloc(st_add(n, 1), sizeof(*out));

	for (size_t i = 0; i < n; i++)
		out[i] = xstrdup(v[i]);
	return out;
}

static void free_strv(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static bool plain_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("_./:,=+@%-", c));
}

/* Words the shell would not exec as a program: builtins of dash and bash, reserved words. */
static bool shell_word(const char *w)
{
	static const char *const words[] = {
		".", ":", "alias", "bg", "bind", "break", "builtin", "caller", "case", "cd",
		"chdir", "command", "compgen", "complete", "compopt", "continue", "coproc",
		"declare", "dirs", "disown", "do", "done", "echo", "elif", "else", "enable",
		"esac", "eval", "exec", "exit", "export", "false", "fc", "fg", "fi", "for",
		"function", "getopts", "hash", "help", "history", "if", "in", "jobs", "kill",
		"let", "local", "logout", "mapfile", "popd", "printf", "pushd", "pwd", "read",
		"readarray", "readonly", "return", "select", "set", "shift", "shopt", "source",
		"suspend", "test", "then", "time", "times", "trap", "true", "type", "typeset",
		"ulimit", "umask", "unalias", "unset", "until", "wait", "while",
	};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(w, words[i]))
			return true;
	return false;
}

size_t task_cmd_words(const char *cmd, char ***argv)
{
	size_t len, n = 0;
	char **v, *copy, *p;

	*argv = NULL;
	for (p = (char *)cmd; *p; p++) {
		if (*p != ' ' && !plain_char(*p))
			return 0;
		if (*p != ' ' && (p == cmd || p[-1] == ' '))
			n++;
	}
	if (!n)
		return 0;
	len = (size_t)(p - cmd);
	/* one block: the n + 1 pointers, then a copy of cmd cut into words */
	v = xmalloc(st_add(st_mult(n + 1, sizeof(*v)), len + 1));
	copy = memcpy((char *)(v + n + 1), cmd, len + 1);
	n = 0;
	for (p = copy; *p; p++) {
		if (*p == ' ')
			*p = '\0';
		else if (p == copy || !p[-1])
			v[n++] = p;
	}
	v[n] = NULL;

	if (strchr(v[0], '='))
		goto shell; /* NAME=value: an assignment */
	if (!strcmp(v[0], "exec") && n > 1) {
		/* exec runs its first word as a program, builtin names included */
		if (v[1][0] == '-')
			goto shell; /* an option of exec, or "--" */
		memmove(v, v + 1, n * sizeof(*v));
		n--;
	} else if (shell_word(v[0])) {
		goto shell;
	}
	*argv = v;
	return n;
shell:
	free(v);
	return 0;
}

static bool valid_id(const char *id)
{
	return id && *id && !strchr(id, '/') && strcmp(id, ".") && strcmp(id, "..");
}

static struct task *task_alloc(const struct task_runtime *rt, const struct task_config *cfg,
			       task_state_fn *cb, void *data)
{
	struct task *t = xcalloc(1, sizeof(*t));
	struct strbuf sb = STRBUF_INIT;

	t->rt = rt;
	t->cb = cb;
	t->data = data;
	t->st = S_STAGING;
	t->shown = TASK_STAGING;
	t->id = xstrdup(cfg->id);
	if (cfg->sandbox) {
		t->sandbox = xstrdup(cfg->sandbox);
		t->sandbox_given = true;
	} else {
		strbuf_addf(&sb, "%s/tasks/%s", rt->work_dir, cfg->id);
		t->sandbox = strbuf_detach(&sb, NULL);
	}
	t->cmd = cfg->cmd ? xstrdup(cfg->cmd) : NULL;
	t->user = cfg->user ? xstrdup(cfg->user) : NULL;
	if (cfg->cmd)
		task_cmd_words(cfg->cmd, &t->words);
	t->args = dup_strv(cfg->args, cfg->nargs);
	t->nargs = cfg->nargs;
	t->env = dup_strv(cfg->env, cfg->nenv);
	t->nenv = cfg->nenv;
	if (cfg->nfetch) {
		t->fetch = xcalloc(cfg->nfetch, sizeof(*t->fetch));
		t->nfetch = cfg->nfetch;
		for (size_t i = 0; i < cfg->nfetch; i++) {
			t->fetch[i] = cfg->fetch[i];
			t->fetch[i].uri = xstrdup(cfg->fetch[i].uri);
			t->fetch[i].dest_path =
				cfg->fetch[i].dest_path ? xstrdup(cfg->fetch[i].dest_path) : NULL;
		}
	}
	t->use_cgroup = cfg->use_cgroup;
	t->limits = cfg->limits;
	t->grace_ms = cfg->kill_grace_seconds > 0
			      ? (uint64_t)(cfg->kill_grace_seconds * 1000.0)
			      : DEFAULT_GRACE_MS;
	t->pid = t->pgid = -1;
	t->pidfd = t->err_fd = -1;
	t->exit_code = -1;
	strbuf_init(&t->cg_problem, 0);
	strbuf_init(&t->launch_msg, 0);
	strbuf_init(&t->final_msg, 0);
	uv_timer_init(rt->loop, &t->_timer);
	t->_timer.data = t;
	t->_open_handles = 1;
	return t;
}

int task_new(const struct task_runtime *rt, const struct task_config *cfg, task_state_fn *cb,
	     void *data, struct task **out)
{
	*out = NULL;
	if (!valid_id(cfg->id) || (!cfg->cmd && !cfg->nargs))
		return PACER_EBADREQUEST;
	*out = task_alloc(rt, cfg, cb, data);
	return 0;
}

int task_start(struct task *t)
{
	if (t->st != S_STAGING)
		return PACER_ECONFLICT;
	dispatch(t, E_START);
	return 0;
}

int task_kill(struct task *t, double grace_seconds)
{
	if (grace_seconds > 0)
		t->grace_ms = (uint64_t)(grace_seconds * 1000.0);
	dispatch(t, E_KILL);
	return 0;
}

int task_attach(const struct task_runtime *rt, const struct task_config *cfg, pid_t pid,
		task_state_fn *cb, void *data, struct task **out)
{
	struct task *t;
	int pidfd, err;

	*out = NULL;
	if (!valid_id(cfg->id))
		return PACER_EBADREQUEST;
	pidfd = spawn_pidfd_open(pid);
	if (pidfd < 0)
		return pidfd;
	t = task_alloc(rt, cfg, cb, data);
	t->attached = true;
	t->pid = pid;
	/* our tasks lead their own group; anything else is signalled alone */
	t->pgid = getpgid(pid) == pid ? pid : -1;
	t->pidfd = pidfd;
	if (cfg->use_cgroup && rt->cgroups && !cgroup_open(rt->cgroups, cfg->id, &t->cg))
		t->has_cg = true;
	err = watch_pidfd(t);
	if (err) {
		task_free(t);
		return err;
	}
	t->st = S_RUNNING;
	t->shown = TASK_RUNNING;
	*out = t;
	return 0;
}

static void really_free(struct task *t)
{
	free(t->id);
	free(t->sandbox);
	free(t->cmd);
	free(t->user);
	free(t->words);
	free_strv(t->args, t->nargs);
	free_strv(t->env, t->nenv);
	for (size_t i = 0; i < t->nfetch; i++) {
		free((char *)t->fetch[i].uri);
		free((char *)t->fetch[i].dest_path);
	}
	free(t->fetch);
	strbuf_release(&t->cg_problem);
	strbuf_release(&t->launch_msg);
	strbuf_release(&t->final_msg);
	free(t);
}

void task_free(struct task *t)
{
	if (!t || t->_freed)
		return;
	if (t->_depth) {
		t->_free_requested = true;
		return;
	}
	t->_freed = true;
	t->cb = NULL;
	close_err_pipe(t);
	close_pidfd(t);
	if (t->has_cg)
		cgroup_release(&t->cg); /* the task may still run in it */
	uv_close((uv_handle_t *)&t->_timer, on_close);
}

/* ---- accessors ---- */

enum task_state task_state(const struct task *t)
{
	return t->shown;
}

const char *task_id(const struct task *t)
{
	return t->id;
}

pid_t task_pid(const struct task *t)
{
	return t->pid;
}

const char *task_sandbox(const struct task *t)
{
	return t->sandbox;
}

const struct cgroup *task_cgroup(const struct task *t)
{
	return t->has_cg ? &t->cg : NULL;
}

const char *task_cgroup_problem(const struct task *t)
{
	return t->cg_problem.buf;
}
