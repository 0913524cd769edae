/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A supervised task on the agent's libuv loop: an explicit state machine
 * (state x event table, as s6-supervise) over Mesos' task states.
 *
 *   STAGING --start--> STARTING   sandbox <work-dir>/tasks/<id>/ made, cgroup
 *                                 made (when asked and usable), process spawned
 *   STARTING --exec--> RUNNING    the error pipe closed with no message (launcher
 *                                 path); at once on the direct path
 *   STARTING/RUNNING --exit 0--> FINISHED
 *   STARTING/RUNNING --exit != 0, signal, launcher error--> FAILED
 *   STAGING --kill--> KILLED
 *   STARTING/RUNNING --kill--> KILLING: SIGTERM to the process group (and
 *                                 the cgroup); after the grace period SIGKILL
 *   KILLING --exit--> KILLED
 *
 * The task's pidfd is watched with a uv_poll (readable = the process
 * exited) and reaped with waitid(P_PIDFD). When the task's main process
 * exits, for whatever reason, whatever is left of its process group and
 * cgroup is SIGKILLed before the process is reaped (as Mesos destroys a
 * container when its task ends), and the cgroup is removed, retried while
 * processes linger (up to 5 s); the terminal state is reported after that,
 * so a terminal state means nothing of the task runs any more (barring
 * processes that left both its session and, without cgroups, its cgroup).
 *
 * Two ways to start. The direct path, for tasks with no fetch and no user
 * and either args or a simple cmd (task_cmd_words): the agent opens the
 * sandbox and its "stdout"/"stderr" files itself, finds the program in the
 * task's PATH, and spawns the program vfork-style (spawn_exec_direct) with
 * the task's environment (PATH added when absent, as the launcher does; for a
 * cmd also PWD, as the shell exports it), stdin on /dev/null, in a new
 * session, in the sandbox: one exec per task instead of three (launcher,
 * /bin/sh, program). The spawn returns once the child has exec'd, so both
 * STARTING and RUNNING are reported before task_start returns. Cgroups: the
 * child writes itself into each cgroup.procs before it execs, so nothing of
 * the task, not even its first fork, runs outside its cgroup. When joining
 * fails, the child exits before exec and the task goes the launcher
 * way (which joins before exec or fails with the reason); so does any
 * direct start whose preparation fails (sandbox, files, cgroup.procs not
 * writable) or whose program is not a binary and has no #! (ENOEXEC: the
 * shell or execvp runs it). An exec failure ends the task as FAILED from
 * STAGING, as the launcher would have: "cannot exec '<prog>': <cause>"
 * with exit code LAUNCHER_EXIT_CODE for args; for a cmd what the shell
 * gives, exit code 127 ("cannot exec '<prog>': command not found" when not
 * in PATH) or 126; the line also goes to the task's stderr file.
 *
 * The launcher path (`pacer-launch`, see launcher.h) runs everything else:
 * tasks with fetch or user, commands that need /bin/sh -c, and the
 * fallbacks above.
 *
 * Re-attaching (task_attach, after the agent restarted): the task is
 * supervised again through a new pidfd, starting in RUNNING. Its exit
 * status can only be read if it is still the agent's child (an agent that
 * re-exec'd itself keeps its children); otherwise the task ends as FAILED
 * with exit_known false and the message "exit status unknown: ...". Chosen
 * over guessing FINISHED: Marathon restarts a long-running task either way,
 * and a failure with a clear reason is the safe report.
 *
 * Callbacks: cb is called for every transition, with the new state and
 * why. Transitions caused by task_start and task_kill are reported before
 * those calls return; the others from loop callbacks. cb may call
 * task_kill and task_free on its own task.
 */
#ifndef PACER_AGENT_TASK_H
#define PACER_AGENT_TASK_H

#include <stdbool.h>
#include <sys/types.h>
#include <uv.h>

#include "agent/cgroup.h"
#include "agent/launcher.h"
#include "agent/spawner.h"

enum task_state {
	TASK_STAGING,
	TASK_STARTING,
	TASK_RUNNING,
	TASK_KILLING,
	TASK_FINISHED,
	TASK_FAILED,
	TASK_KILLED,
};

/* "TASK_STAGING", ... as Mesos names them. */
const char *task_state_name(enum task_state s);
static inline bool task_state_is_terminal(enum task_state s)
{
	return s >= TASK_FINISHED;
}

/* One transition, valid during the callback only. */
struct task_status {
	enum task_state state;
	enum task_state prev;
	const char *message; /* why, never NULL ("" when there is nothing to say) */
	bool exit_known;     /* exit_code / term_signal are meaningful */
	int exit_code;       /* exit status, or -1 when killed by a signal */
	int term_signal;     /* the signal that ended it, or 0 */
};

struct task;
typedef void task_state_fn(struct task *t, const struct task_status *st, void *data);

/* Shared by the tasks of an agent; must outlive them. */
struct task_runtime {
	uv_loop_t *loop;
	const char *work_dir;            /* sandboxes go to <work_dir>/tasks/<id>/ */
	struct spawn_launcher launcher;  /* how to run `pacer _launch` */
	const struct cgroup_sys *cgroups; /* NULL or CGROUP_NONE: no cgroups */
	bool launcher_only;              /* never the direct path (tests, comparisons) */
};

/* What to run. task_new copies all of it. */
struct task_config {
	const char *id;      /* one path component: no '/', not "." or ".." */
	const char *sandbox; /* NULL: <work_dir>/tasks/<id>/, created; else used as is */
	const char *cmd;     /* run with /bin/sh -c (or directly if simple); or NULL and args */
	const char *const *args;
	size_t nargs;
	const char *user;    /* or NULL */
	const struct launch_fetch *fetch;
	size_t nfetch;
	const char *const *env; /* "NAME=value", e.g. from task_env_build */
	size_t nenv;
	bool use_cgroup;         /* put the task in a cgroup with limits */
	struct cgroup_limits limits;
	double kill_grace_seconds; /* taskKillGracePeriodSeconds; <= 0: 3 s */
};

/*
 * Creates a task in STAGING. Returns 0 and *out (freed with task_free), or
 * PACER_EBADREQUEST for an invalid id or neither cmd nor args (cb is then
 * never called).
 */
int task_new(const struct task_runtime *rt, const struct task_config *cfg, task_state_fn *cb,
	     void *data, struct task **out);

/*
 * Starts a STAGING task: creates the sandbox and (if use_cgroup) the cgroup,
 * spawns the launcher and reports STARTING, or FAILED with the reason when
 * any of that fails. A cgroup that cannot be made is not fatal: the task
 * runs without one and task_cgroup_problem says why. Returns 0, or
 * PACER_ECONFLICT when the task is not in STAGING.
 */
int task_start(struct task *t);

/*
 * Kills the task: STAGING -> KILLED at once; STARTING/RUNNING -> KILLING,
 * SIGTERM now and SIGKILL after the grace period (grace_seconds > 0
 * overrides the task's). No-op while KILLING or when terminal. Returns 0.
 */
int task_kill(struct task *t, double grace_seconds);

/*
 * Supervises an already running process again (e.g. after the agent
 * restarted): opens a pidfd for pid and reports from RUNNING on. cfg gives
 * the id, grace period and, with use_cgroup, the name of its existing cgroup
 * (not created, but removed at the end). Returns 0 and *out, -ESRCH when
 * pid is gone, or another negative code (cb is then never called).
 */
int task_attach(const struct task_runtime *rt, const struct task_config *cfg, pid_t pid,
		task_state_fn *cb, void *data, struct task **out);

/*
 * Frees the task. A task that still runs is left running, unsupervised
 * (the agent stops without killing its tasks; task_attach takes them
 * back). The memory goes once the loop has closed the task's handles.
 */
void task_free(struct task *t);

/*
 * Whether cmd can run without /bin/sh -c, and as which argv. It can when it
 * is only plain words, made of [A-Za-z0-9_./:,=+@%-] and separated by
 * spaces, optionally after the word "exec" (dropped), and the shell would
 * exec the first word as a program: not a shell builtin or reserved word
 * (unless after "exec"), not an assignment (NAME=...), not an option of
 * exec. Returns the number of words (> 0) with *argv a NULL-terminated copy
 * (one allocation: free(*argv)), or 0 with *argv NULL when cmd needs the
 * shell (anything else: quotes, $, globs, ~, redirections, operators,
 * tabs, newlines, an empty cmd).
 */
size_t task_cmd_words(const char *cmd, char ***argv);

enum task_state task_state(const struct task *t);
const char *task_id(const struct task *t);
/* The process id, or -1 before the spawn. */
pid_t task_pid(const struct task *t);
/* The sandbox directory. */
const char *task_sandbox(const struct task *t);
/* The task's cgroup, or NULL when it runs without one. */
const struct cgroup *task_cgroup(const struct task *t);
/* Why a cgroup was asked for but not used, or "". */
const char *task_cgroup_problem(const struct task *t);

#endif
