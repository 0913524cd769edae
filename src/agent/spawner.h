/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Spawning processes vfork-style: posix_spawn (glibc clones with
 * CLONE_VM | CLONE_VFORK, so the cost does not grow with the agent's size)
 * then pidfd_open on the new pid, which is race-free because only the
 * agent reaps its children. Never fork, never uv_spawn. Everything the
 * child needs (argv, envp, fd layout, the launch spec) is prepared before
 * the spawn; the child runs only glibc's spawn code until it execs.
 *
 * The agent must not set SIGCHLD to SIG_IGN (children would be reaped by
 * the kernel and their exit status lost) and must not reap with
 * waitpid(-1, ...): task.c reaps each task through its pidfd.
 *
 * (The file is spawner.h, not spawn.h, so that it never shadows <spawn.h>
 * for sources in this folder; the functions keep the spawn_ prefix.)
 */
#ifndef PACER_AGENT_SPAWNER_H
#define PACER_AGENT_SPAWNER_H

#include <sys/types.h>

#include "agent/launcher.h"
#include "base/strbuf.h"

/* A started child. pidfd and err_fd (-1 when unused) belong to the caller. */
struct spawn_child {
	pid_t pid;
	int pidfd;
	int err_fd; /* read end of the launcher's error pipe, O_NONBLOCK */
};

/* Child fd child_fd becomes a copy of the parent's parent_fd. */
struct spawn_fd {
	int parent_fd;
	int child_fd;
};

enum spawn_flags {
	SPAWN_SETSID = 1 << 0,     /* own session and process group (pgid = pid) */
	SPAWN_STDIN_NULL = 1 << 1, /* stdin from /dev/null */
	/*
	 * Close every fd above 2 and the mapped ones just before the exec, as
	 * the launcher does: for programs the agent runs itself, so that an fd
	 * some library opened without close-on-exec (libcurl's sockets) never
	 * reaches a task.
	 */
	SPAWN_CLOSE_OTHERS = 1 << 2,
};

/*
 * Starts path with argv and envp (envp NULL: the agent's environ), the
 * given fds mapped (parent fds must be >= nfds + 3 or otherwise not collide
 * with any child_fd; every other fd of the agent must be close-on-exec), all
 * signals at their default and none blocked. Returns 0 with out->pid and
 * out->pidfd (err_fd = -1), or -errno (nothing is left running).
 */
int spawn_process(const char *path, char *const argv[], char *const envp[],
		  const struct spawn_fd *fds, size_t nfds, unsigned flags, struct spawn_child *out);

/*
 * The same, with the child's working directory changed to dir_fd (an open
 * directory; -1: unchanged) before its exec, so a relative path is taken
 * from there. An error of the child's own setup (fchdir, dup2, exec) comes
 * back as the return value, as posix_spawn reports it: -ENOENT for a
 * missing program, -EACCES, -ENOEXEC (no #! and not a binary), ...
 */
int spawn_process_at(int dir_fd, const char *path, char *const argv[], char *const envp[],
		     const struct spawn_fd *fds, size_t nfds, unsigned flags,
		     struct spawn_child *out);

/*
 * Finds program file as execvp would with the search path path_env (the
 * task's PATH; empty entries and relative ones count from dir_fd, the
 * directory the program will run in): a file containing '/' is used as
 * is; else the first regular, executable <dir>/<file>. Appends the path
 * to use (relative ones are relative to dir_fd) to out. Returns 0,
 * -ENOENT (nowhere), or -EACCES (found, but none executable). Only stats:
 * the exec itself may still fail.
 */
int spawn_find_program(const char *file, const char *path_env, int dir_fd, struct strbuf *out);

/* How to start the launcher: e.g. {"/proc/self/exe", {"pacer", "_launch", NULL}}. */
struct spawn_launcher {
	const char *path;
	const char *const *argv; /* NULL-terminated prefix */
};

/*
 * Starts the launcher for spec in a new session, with the spec on a memfd
 * (fd 3) and a close-on-exec error pipe (fd 4), as launcher.h describes.
 * Returns 0 with out->pid, out->pidfd and out->err_fd, or -errno with a
 * reason in why.
 */
int spawn_launch(const struct spawn_launcher *l, const struct launch_spec *spec,
		 struct spawn_child *out, struct strbuf *why);

/*
 * Reads what is available on a launcher's error pipe into msg (at most
 * LAUNCHER_MSG_MAX bytes are kept). Returns 1 at end of file (the launcher
 * exec'd the task if msg is empty, else failed), 0 when more may come, or
 * -errno.
 */
int spawn_read_error(int err_fd, struct strbuf *msg);

/* pidfd_open(2) and pidfd_send_signal(2) through syscall(). -errno on error. */
int spawn_pidfd_open(pid_t pid);
int spawn_pidfd_signal(int pidfd, int sig);

/*
 * A task spawned vfork-style with its cgroups joined before exec: the child
 * (which shares the agent's memory until it execs, so it makes only system
 * calls) writes itself into each cgroup.procs fd, starts its own session,
 * takes stdin, stdout and stderr, changes into dir_fd, closes every other
 * fd, resets signals and execs path. Nothing the task does, not even its
 * first fork, happens outside its cgroup.
 */
struct spawn_exec {
	const char *path;
	char *const *argv;
	char *const *envp;
	int dir_fd;                 /* working directory */
	int stdin_fd, stdout_fd, stderr_fd;
	const int *cgroup_fds;      /* open cgroup.procs files */
	int ncgroup_fds;
};

/*
 * Returns 0 with out->pid and out->pidfd (err_fd -1); SPAWN_ECGROUP when
 * joining a cgroup failed (nothing runs then); or -errno of the failed exec
 * (nothing runs either).
 */
#define SPAWN_ECGROUP (-30001)
int spawn_exec_direct(const struct spawn_exec *req, struct spawn_child *out);

#endif
