/* SPDX-License-Identifier: Apache-2.0 */
/* vfork-style spawning with pidfds; see spawner.h. */
#include "agent/spawner.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"

extern char **environ;

int spawn_pidfd_open(pid_t pid)
{
	long fd = syscall(SYS_pidfd_open, pid, 0);

	return fd < 0 ? -errno : (int)fd;
}

int spawn_pidfd_signal(int pidfd, int sig)
{
	return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

int spawn_process(const char *path, char *const argv[], char *const envp[],
		  const struct spawn_fd *fds, size_t nfds, unsigned flags, struct spawn_child *out)
{
	return spawn_process_at(-1, path, argv, envp, fds, nfds, flags, out);
}

int spawn_process_at(int dir_fd, const char *path, char *const argv[], char *const envp[],
		     const struct spawn_fd *fds, size_t nfds, unsigned flags,
		     struct spawn_child *out)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t set;
	short aflags = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
	pid_t pid;
	int err, pidfd;

	out->pid = -1;
	out->pidfd = out->err_fd = -1;
	err = posix_spawn_file_actions_init(&fa);
	if (err)
		return -err;
	err = posix_spawnattr_init(&attr);
	if (err)
		goto out_fa;
	if (flags & SPAWN_STDIN_NULL)
		err = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	for (size_t i = 0; !err && i < nfds; i++)
		err = posix_spawn_file_actions_adddup2(&fa, fds[i].parent_fd, fds[i].child_fd);
	if (!err && dir_fd >= 0)
		err = posix_spawn_file_actions_addfchdir_np(&fa, dir_fd);
	if (!err && (flags & SPAWN_CLOSE_OTHERS)) {
		int from = 3;

		for (size_t i = 0; i < nfds; i++)
			if (fds[i].child_fd >= from)
				from = fds[i].child_fd + 1;
		err = posix_spawn_file_actions_addclosefrom_np(&fa, from);
	}
	if (err)
		goto out_attr;
	/* the agent's loop may block or ignore signals: the task starts clean */
	sigemptyset(&set);
	posix_spawnattr_setsigmask(&attr, &set);
	sigfillset(&set);
	posix_spawnattr_setsigdefault(&attr, &set);
	if (flags & SPAWN_SETSID)
		aflags |= POSIX_SPAWN_SETSID;
	posix_spawnattr_setflags(&attr, aflags);

	err = posix_spawn(&pid, path, &fa, &attr, argv, envp ? envp : environ);
	if (err)
		goto out_attr;
	pidfd = spawn_pidfd_open(pid);
	if (pidfd < 0) {
		/* cannot supervise it: do not leave it running */
		err = -pidfd;
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		goto out_attr;
	}
	out->pid = pid;
	out->pidfd = pidfd;
out_attr:
	posix_spawnattr_destroy(&attr);
out_fa:
	posix_spawn_file_actions_destroy(&fa);
	return -err;
}

int spawn_find_program(const char *file, const char *path_env, int dir_fd, struct strbuf *out)
{
	struct strbuf cand = STRBUF_INIT;
	const char *p = path_env, *end;
	bool eacces = false;
	struct stat st;
	int err = -ENOENT;

	if (!*file)
		return -ENOENT;
	if (strchr(file, '/')) {
		strbuf_addstr(out, file);
		return 0;
	}
	for (;; p = end + 1) {
		end = strchrnul(p, ':');
		strbuf_reset(&cand);
		if (end == p)
			strbuf_addstr(&cand, "./"); /* empty entry: the current directory */
		else
			strbuf_addf(&cand, "%.*s/", (int)(end - p), p);
		strbuf_addstr(&cand, file);
		/* as execvp, which goes on past entries it cannot use */
		if (!fstatat(dir_fd, cand.buf, &st, 0)) {
			if (S_ISREG(st.st_mode) && !faccessat(dir_fd, cand.buf, X_OK, AT_EACCESS)) {
				strbuf_add(out, cand.buf, cand.len);
				err = 0;
				break;
			}
			eacces = true;
		} else if (errno == EACCES) {
			eacces = true;
		}
		if (!*end)
			break;
	}
	strbuf_release(&cand);
	return err && eacces ? -EACCES : err;
}

/* Moves fd to a number above the launcher's fixed ones, keeping it close-on-exec. */
static int move_high(int fd)
{
	int nfd;

	if (fd > LAUNCHER_ERROR_FD)
		return fd;
	nfd = fcntl(fd, F_DUPFD_CLOEXEC, LAUNCHER_ERROR_FD + 1);
	if (nfd < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return nfd;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int spawn_launch(const struct spawn_launcher *l, const struct launch_spec *spec,
		 struct spawn_child *out, struct strbuf *why)
{
	struct strbuf json = STRBUF_INIT;
	const char **argv;
	size_t n = 0, i;
	int memfd, pipefd[2], err;

	out->pid = -1;
	out->pidfd = out->err_fd = -1;
	launch_spec_to_json(spec, &json);
	memfd = memfd_create("pacer-launch-spec", MFD_CLOEXEC);
	if (memfd < 0) {
		err = -errno;
		strbuf_addf(why, "cannot create the launch spec memfd: %s", pacer_strerror(err));
		goto out_json;
	}
	memfd = move_high(memfd);
	if (memfd < 0) {
		err = memfd;
		strbuf_addf(why, "cannot move the launch spec memfd: %s", pacer_strerror(err));
		goto out_json;
	}
	err = write_all(memfd, json.buf, json.len);
	if (!err && lseek(memfd, 0, SEEK_SET) < 0)
		err = -errno;
	if (err) {
		strbuf_addf(why, "cannot write the launch spec: %s", pacer_strerror(err));
		goto out_memfd;
	}
	if (pipe2(pipefd, O_CLOEXEC | O_NONBLOCK) < 0) {
		err = -errno;
		strbuf_addf(why, "cannot create the launcher's error pipe: %s", pacer_strerror(err));
		goto out_memfd;
	}
	pipefd[1] = move_high(pipefd[1]);
	if (pipefd[1] < 0) {
		err = pipefd[1];
		close(pipefd[0]);
		strbuf_addf(why, "cannot move the launcher's error pipe: %s", pacer_strerror(err));
		goto out_memfd;
	}

	while (l->argv[n])
		n++;
	argv = xcalloc(n + 5, sizeof(*argv));
	for (i = 0; i < n; i++)
		argv[i] = l->argv[i];
	argv[i++] = "--spec-fd";
	argv[i++] = "3";
	argv[i++] = "--error-fd";
	argv[i++] = "4";
	argv[i] = NULL;
	{
		struct spawn_fd fds[2] = {{memfd, LAUNCHER_SPEC_FD}, {pipefd[1], LAUNCHER_ERROR_FD}};

		err = spawn_process(l->path, (char *const *)argv, NULL, fds, 2,
				    SPAWN_SETSID | SPAWN_STDIN_NULL, out);
	}
	free(argv);
	close(pipefd[1]);
	if (err) {
		close(pipefd[0]);
		strbuf_addf(why, "cannot start launcher '%s': %s", l->path, pacer_strerror(err));
		goto out_memfd;
	}
	out->err_fd = pipefd[0];
out_memfd:
	close(memfd);
out_json:
	strbuf_release(&json);
	return err;
}

int spawn_read_error(int err_fd, struct strbuf *msg)
{
	char buf[1024];

	for (;;) {
		ssize_t n = read(err_fd, buf, sizeof(buf));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return 1;
		if (msg->len < LAUNCHER_MSG_MAX) {
			size_t room = LAUNCHER_MSG_MAX - msg->len;

			strbuf_add(msg, buf, (size_t)n < room ? (size_t)n : room);
		}
	}
}

/* What the child leaves for the parent: shared memory until it execs. */
struct exec_report {
	int err;   /* errno of what failed, 0 when the exec happened */
	int stage; /* 1: joining a cgroup, 2: setting up or exec */
};

__attribute__((noreturn)) static void exec_child(const struct spawn_exec *r,
						 volatile struct exec_report *rep)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL};
	sigset_t none;

	/* join the cgroups first: everything after, forks included, is accounted there */
	for (int i = 0; i < r->ncgroup_fds; i++) {
		if (write(r->cgroup_fds[i], "0\n", 2) != 2) {
			rep->err = errno;
			rep->stage = 1;
			_exit(127);
		}
	}
	/* the agent's handlers and ignored signals are not the task's */
	for (int sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	if (setsid() < 0 || dup2(r->stdin_fd, 0) < 0 || dup2(r->stdout_fd, 1) < 0 ||
	    dup2(r->stderr_fd, 2) < 0 || fchdir(r->dir_fd) < 0)
		goto fail;
	syscall(SYS_close_range, 3u, ~0u, 0u);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execve(r->path, r->argv, r->envp);
fail:
	rep->err = errno;
	rep->stage = 2;
	_exit(127);
}

int spawn_exec_direct(const struct spawn_exec *req, struct spawn_child *out)
{
	volatile struct exec_report rep = {0, 0};
	sigset_t all, old;
	pid_t pid;
	int pidfd;

	out->pid = -1;
	out->pidfd = out->err_fd = -1;
	/* no signal handler may run in the child while it borrows our memory */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	pid = vfork();
	if (pid == 0)
		exec_child(req, &rep);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		return -errno;
	if (rep.stage) {
		/* it never ran the task: reap what is left of it */
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return rep.stage == 1 ? SPAWN_ECGROUP : -rep.err;
	}
	pidfd = spawn_pidfd_open(pid);
	if (pidfd < 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
		return pidfd;
	}
	out->pid = pid;
	out->pidfd = pidfd;
	return 0;
}
