/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Per-task control groups. At start-up the agent detects which cgroup
 * hierarchy the machine offers, from /proc/self/mountinfo and
 * /proc/self/cgroup: v2 (the unified hierarchy with the memory, cpu and pids
 * controllers available), v1 (one hierarchy per controller under
 * /sys/fs/cgroup/<controller>, as on the "hybrid" machines where the v2 mount
 * at /sys/fs/cgroup/unified has no useful controller), or none. Then, per
 * task, it creates a cgroup under a configurable parent, sets its limits
 * from the app's resources, hands the launcher the cgroup.procs files to
 * join, reads the limits back, and removes the cgroup once the task is gone.
 *
 * The parent is a path inside each hierarchy: "/pacer" (leading slash) is
 * taken from the hierarchy's root; "pacer" (no leading slash) from the
 * agent's own cgroup in that hierarchy, so that tasks stay under whatever
 * limits the agent itself runs with. On v2 the agent's own cgroup must allow
 * enabling controllers for its children ("no internal processes"): run the
 * agent in a leaf of a delegated subtree and give an absolute parent, or the
 * creation fails with a reason.
 *
 * Where cgroups cannot be used (not mounted, no permission, controller
 * missing) the functions return an error and append a reason to `why`; the
 * caller then runs the task without a cgroup and reports the reason.
 * Nothing here touches global state; all paths are owned by the structs.
 */
#ifndef PACER_AGENT_CGROUP_H
#define PACER_AGENT_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/strbuf.h"

enum cgroup_version { CGROUP_NONE = 0, CGROUP_V1 = 1, CGROUP_V2 = 2 };

/* The controllers Pacer uses; on v1 each has its own hierarchy. */
enum cgroup_controller { CGROUP_MEMORY, CGROUP_CPU, CGROUP_PIDS, CGROUP_NCTL };

/*
 * What the machine offers, and where task cgroups go. For v1, parent[c] is
 * the directory holding task cgroups in controller c's hierarchy (NULL if
 * that controller is not mounted); for v2 only parent[0] is used. memsw: v1
 * memory.memsw.* exists (swap accounting), so memory+swap is limited too.
 */
struct cgroup_sys {
	enum cgroup_version version;
	char *parent[CGROUP_NCTL];
	bool memsw;
};

/*
 * Limits of one task. Zero means "no limit" for mem_bytes and pids_max.
 * cpus sets the relative share (v1 cpu.shares = cpus * 1024, v2 cpu.weight
 * from that share as systemd converts it); cpu_quota also caps the task at
 * cpus CPUs (CFS quota over a 100 ms period), as Mesos' cgroups_enable_cfs.
 */
struct cgroup_limits {
	uint64_t mem_bytes;
	double cpus;
	bool cpu_quota;
	uint64_t pids_max;
};

/* One task's cgroup: a directory per controller (v1) or one directory (v2). */
struct cgroup {
	enum cgroup_version version;
	char *path[CGROUP_NCTL];
};

/* "v1", "v2" or "none". */
const char *cgroup_version_name(enum cgroup_version v);

/*
 * Detects the hierarchy from this process's /proc/self/mountinfo and
 * /proc/self/cgroup and fills cs (which the caller later releases) with
 * the parent directories for `parent` (see above). Does not create anything.
 * Returns 0, or a negative code with cs->version == CGROUP_NONE and a reason
 * in why (nothing mounted, memory controller missing, unreadable files).
 */
int cgroup_sys_detect(struct cgroup_sys *cs, const char *parent, struct strbuf *why);

/*
 * The same from given file contents (for tests and for diagnosis): the text
 * of a mountinfo file and of a /proc/<pid>/cgroup file. For v2 the
 * controllers are still read from cgroup.controllers on the mounted file
 * system; where it cannot be read, v2 counts as having none.
 */
int cgroup_sys_detect_from(struct cgroup_sys *cs, const char *mountinfo, const char *proc_cgroup,
			   const char *parent, struct strbuf *why);

void cgroup_sys_release(struct cgroup_sys *cs);

/*
 * Creates the cgroup `name` (one path component, e.g. the task id) under
 * the parent in each controller, creating the parent as needed, and writes
 * the limits. On success cg holds the directories (caller calls
 * cgroup_remove when the task is gone, then cgroup_release). On failure
 * whatever was created is removed again, cg is empty, a reason is appended
 * to why and a negative code returned (-EACCES, -EROFS, -ENOENT, ...).
 * An existing cgroup of that name is reused (limits rewritten).
 */
int cgroup_create(const struct cgroup_sys *cs, const char *name, const struct cgroup_limits *lim,
		  struct cgroup *cg, struct strbuf *why);

/*
 * Fills cg with the paths of an existing cgroup `name` (e.g. of a task the
 * agent re-attaches to after a restart), without creating or changing it.
 * Returns 0, or -ENOENT when it does not exist (cg is then empty).
 */
int cgroup_open(const struct cgroup_sys *cs, const char *name, struct cgroup *cg);

/*
 * The cgroup.procs files a process writes to join cg: up to CGROUP_NCTL
 * paths into out[] (caller frees each); returns how many.
 */
size_t cgroup_procs_files(const struct cgroup *cg, char *out[CGROUP_NCTL]);

/*
 * Moves process pid (0: the caller) into cg by writing to each cgroup.procs.
 * Only open/write/close: callable from the launcher. Returns 0 or -errno.
 */
int cgroup_attach(const struct cgroup *cg, pid_t pid);

/* Reads back the limits as the kernel holds them; 0 for "max". */
int cgroup_read_limits(const struct cgroup *cg, struct cgroup_limits *out);

/*
 * Counts the processes in cg (all controllers); returns the count (>= 0)
 * or -errno.
 */
int cgroup_count_procs(const struct cgroup *cg);

/*
 * Sends sig to every process in cg. Returns the number signalled or -errno.
 * Processes joining concurrently may be missed: call again until empty.
 */
int cgroup_signal_all(const struct cgroup *cg, int sig);

/*
 * Removes cg's directories (one attempt, never blocks). Returns 0 when all
 * are gone (also when they were already gone), -EBUSY while processes
 * remain (kill them and retry later), or another -errno. Paths stay in cg
 * until cgroup_release.
 */
int cgroup_remove(struct cgroup *cg);

/* Frees the paths; does not touch the cgroup itself. */
void cgroup_release(struct cgroup *cg);

#endif
