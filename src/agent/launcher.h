/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The launcher: what runs in a task's process between the agent's spawn and
 * the task's own exec. It is a mode of the pacer binary (`pacer _launch`),
 * started with posix_spawn by spawner.c, so the agent never forks and all the
 * work that is not async-signal-safe (JSON, getpwnam, fetching) happens in a
 * fresh, small process of its own. Tasks that need none of that (no fetch,
 * no user, no shell) skip it: task.c spawns their program directly (see
 * task.h), and uses the launcher for the rest and as the fallback.
 *
 * Protocol. The agent starts
 *
 *     <launcher> [prefix args...] --spec-fd 3 --error-fd 4
 *
 * with stdin on /dev/null, fd 3 a memfd holding the task spec as JSON (see
 * launch_spec_to_json), and fd 4 the write end of a pipe. The launcher marks
 * fd 4 close-on-exec, then in this order:
 *
 *   1. joins its cgroup: writes "0" to each of spec.cgroup_procs;
 *   2. setsid() unless already a session leader (spawner.c asks posix_spawn
 *      for POSIX_SPAWN_SETSID, so the agent can signal the process group
 *      from the first instant); the task's pgid is its pid;
 *   3. chdir(spec.sandbox);
 *   4. redirects stdout and stderr to the files "stdout" and "stderr" in the
 *      sandbox (created 0644, appended to);
 *   5. fetches spec.fetch: file:// URIs and plain paths are copied, http(s)
 *      and ftp URIs are downloaded with curl (when installed); then
 *      `executable` does chmod 0755, else `extract` unpacks .tar, .tar.gz,
 *      .tgz, .tar.bz2, .tbz2, .tar.xz, .txz (tar) and .zip (unzip) into the
 *      sandbox; destPath (relative to the sandbox, no "..") names the file;
 *   6. if spec.user: chowns the sandbox tree to the user, initgroups,
 *      setgid, setuid;
 *   7. replaces the environment with spec.env (plus PATH when absent);
 *   8. execs "/bin/sh -c cmd", or args[0] (searched in PATH) with args.
 *
 * A failure in any step writes one line, "<what failed>: <cause>" (house
 * style, at most LAUNCHER_MSG_MAX bytes), to the error pipe and to the
 * task's stderr when already redirected, and exits with
 * LAUNCHER_EXIT_CODE. A successful exec closes the pipe with nothing
 * written: EOF without a message means the task's own program is running.
 */
#ifndef PACER_AGENT_LAUNCHER_H
#define PACER_AGENT_LAUNCHER_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/strbuf.h"

/* The PATH a task gets when its environment has none. */
#define LAUNCH_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* Exit status of a launcher that failed before exec. */
#define LAUNCHER_EXIT_CODE 121
/* Longest error message the launcher sends (atomic pipe write). */
#define LAUNCHER_MSG_MAX 4000
/* The fds the launcher gets its spec on and reports errors to. */
#define LAUNCHER_SPEC_FD 3
#define LAUNCHER_ERROR_FD 4

/* One of Marathon's `fetch` entries. */
struct launch_fetch {
	const char *uri;
	const char *dest_path; /* or NULL: the URI's last path component */
	bool extract;          /* Marathon's default: true */
	bool executable;
};

/*
 * What the launcher needs. Strings and arrays are not owned by the struct:
 * they belong to whoever filled it (the agent's task, or the parsed JSON in
 * the launcher). Exactly one of cmd and args is used: cmd when non-NULL.
 */
struct launch_spec {
	const char *sandbox;
	const char *const *cgroup_procs;
	size_t ncgroup_procs;
	const char *user; /* or NULL: stay who the agent is */
	const struct launch_fetch *fetch;
	size_t nfetch;
	const char *const *env; /* "NAME=value" */
	size_t nenv;
	const char *cmd;
	const char *const *args;
	size_t nargs;
};

/* Appends spec as one JSON object to out. */
void launch_spec_to_json(const struct launch_spec *spec, struct strbuf *out);

/*
 * Fills spec from a JSON object (as written by launch_spec_to_json). The
 * strings point into root, which must outlive spec; arrays are allocated:
 * free them with launch_spec_release. Returns 0, or PACER_EBADREQUEST with a
 * reason in why (spec is then released already).
 */
int launch_spec_from_json(json_t *root, struct launch_spec *spec, struct strbuf *why);
void launch_spec_release(struct launch_spec *spec);

/*
 * The launcher mode of the binary: argv[0] is the program or subcommand
 * name (ignored), then "--spec-fd N" and "--error-fd N" (defaults 3 and 4).
 * Does not return on success (the task's program replaces the process);
 * returns LAUNCHER_EXIT_CODE on failure (main returns it), or 2 on bad
 * arguments.
 */
int launcher_main(int argc, char **argv);

/*
 * Chooses how the agent starts the launcher: `pacer-launch` beside the running
 * binary when it is there (a small executable that links only libc and
 * jansson, so each task's extra exec loads 4 libraries instead of the 41 the
 * pacer binary needs: ~5x faster launches), else the running binary itself
 * in its `_launch` mode (/proc/self/exe, right even once it is replaced on
 * disk). path_buf (PATH_MAX bytes) holds the path; out points into it.
 */
struct spawn_launcher;
void launcher_locate(struct spawn_launcher *out, char *path_buf, size_t size);

#endif
