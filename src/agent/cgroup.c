/* SPDX-License-Identifier: Apache-2.0 */
/* Per-task control groups on cgroup v1 and v2; see cgroup.h. */
#include "agent/cgroup.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/xalloc.h"

/* Files under /proc and /sys are small; this bounds what we read. */
#define CG_FILE_MAX (1 << 20)

static const char *const ctl_name[CGROUP_NCTL] = {"memory", "cpu", "pids"};

const char *cgroup_version_name(enum cgroup_version v)
{
	switch (v) {
	case CGROUP_V1:
		return "v1";
	case CGROUP_V2:
		return "v2";
	default:
		return "none";
	}
}

/* Reads a whole (small) file into sb. Returns 0 or -errno. */
static int read_file(const char *path, struct strbuf *sb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t n;

		strbuf_grow(sb, 4096);
		n = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;

			close(fd);
			return err;
		}
		if (n == 0)
			break;
		strbuf_setlen(sb, sb->len + (size_t)n);
		if (sb->len > CG_FILE_MAX) {
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	return 0;
}

static int write_file(const char *dir, const char *name, const char *value)
{
	char path[4096];
	size_t len = strlen(value);
	ssize_t n;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, value, len);
	if (n < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return (size_t)n == len ? 0 : -EIO;
}

static int write_limit(const char *dir, const char *name, const char *value, struct strbuf *why)
{
	int err = write_file(dir, name, value);

	if (err && why)
		strbuf_addf(why, "cannot write '%s' to '%s/%s': %s", value, dir, name,
			    pacer_strerror(err));
	return err;
}

/* mkdir -p; returns 0 or -errno. */
static int mkdir_p(const char *path)
{
	char *p = xstrdup(path);
	int err = 0;

	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;

			*s = '\0';
			if (mkdir(p, 0755) < 0 && errno != EEXIST) {
				err = -errno;
				break;
			}
			*s = c;
			if (!c)
				break;
		}
	}
	free(p);
	return err;
}

/* Splits s at sep in place into at most max fields; returns the count. */
static size_t split(char *s, char sep, char **fields, size_t max)
{
	size_t n = 0;

	while (n < max) {
		char *e = strchr(s, sep);

		fields[n++] = s;
		if (!e)
			break;
		*e = '\0';
		s = e + 1;
	}
	return n;
}

static bool has_word(const char *list, char sep, const char *word)
{
	size_t wl = strlen(word);

	for (const char *p = list; p && *p;) {
		const char *e = strchr(p, sep);
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l == wl && !memcmp(p, word, wl))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

struct mount_ent {
	char *root;   /* the part of the hierarchy the mount shows */
	char *point;  /* where it is mounted */
};

/* This process's path in a hierarchy, from a /proc/self/cgroup text. */
static char *own_path(const char *proc_cgroup, const char *ctl)
{
	char *copy = xstrdup(proc_cgroup);
	char *res = NULL;

	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		char *f[3];

		if (split(line, ':', f, 3) != 3)
			continue;
		if (ctl ? has_word(f[1], ',', ctl) : (!strcmp(f[0], "0") && !*f[1])) {
			res = xstrdup(f[2]);
			break;
		}
	}
	free(copy);
	return res;
}

/*
 * The directory for task cgroups: the mount point, plus this process's own
 * cgroup (relative to the mount's root) when parent is relative, plus parent.
 */
static char *parent_dir(const struct mount_ent *m, const char *own, const char *parent)
{
	struct strbuf sb = STRBUF_INIT;

	strbuf_addstr(&sb, m->point);
	if (parent[0] != '/' && own) {
		const char *rel = own;
		size_t rl = strlen(m->root);

		if (strcmp(m->root, "/") && !strncmp(own, m->root, rl))
			rel = own + rl;
		if (strcmp(rel, "/"))
			strbuf_addstr(&sb, rel);
	}
	if (parent[0] != '/')
		strbuf_addch(&sb, '/');
	strbuf_addstr(&sb, parent);
	while (sb.len > 1 && sb.buf[sb.len - 1] == '/')
		strbuf_setlen(&sb, sb.len - 1);
	return strbuf_detach(&sb, NULL);
}

int cgroup_sys_detect_from(struct cgroup_sys *cs, const char *mountinfo, const char *proc_cgroup,
			   const char *parent, struct strbuf *why)
{
	struct mount_ent v1[CGROUP_NCTL] = {{0}}, v2 = {0};
	char *copy = xstrdup(mountinfo);
	int err = 0;

	memset(cs, 0, sizeof(*cs));
	for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n")) {
		char *f[64];
		size_t n = split(line, ' ', f, 64), dash;

		for (dash = 6; dash < n && strcmp(f[dash], "-"); dash++)
			;
		if (dash + 3 > n)
			continue;
		if (!strcmp(f[dash + 1], "cgroup2") && !v2.point) {
			v2.root = f[3];
			v2.point = f[4];
		} else if (!strcmp(f[dash + 1], "cgroup")) {
			for (int c = 0; c < CGROUP_NCTL; c++)
				if (!v1[c].point && has_word(f[dash + 3], ',', ctl_name[c])) {
					v1[c].root = f[3];
					v1[c].point = f[4];
				}
		}
	}

	if (v2.point) {
		struct strbuf ctl = STRBUF_INIT, path = STRBUF_INIT;
		char *own = own_path(proc_cgroup, NULL);

		/* Controllers usable by our children: those of our own cgroup. */
		free(cs->parent[0]);
		cs->parent[0] = parent_dir(&v2, own, "");
		strbuf_addf(&path, "%s/cgroup.controllers", cs->parent[0]);
		if (!read_file(path.buf, &ctl) && strstr(ctl.buf, "memory")) {
			cs->version = CGROUP_V2;
			free(cs->parent[0]);
			cs->parent[0] = parent_dir(&v2, own, parent);
		} else {
			free(cs->parent[0]);
			cs->parent[0] = NULL;
		}
		strbuf_release(&ctl);
		strbuf_release(&path);
		free(own);
	}
	if (cs->version == CGROUP_NONE && v1[CGROUP_MEMORY].point) {
		cs->version = CGROUP_V1;
		for (int c = 0; c < CGROUP_NCTL; c++) {
			char *own;

			if (!v1[c].point)
				continue;
			own = own_path(proc_cgroup, ctl_name[c]);
			cs->parent[c] = parent_dir(&v1[c], own, parent);
			free(own);
		}
		if (cs->parent[CGROUP_MEMORY]) {
			struct stat st;
			struct strbuf p = STRBUF_INIT;

			/* memsw files exist in a hierarchy's root iff swap accounting is on */
			strbuf_addf(&p, "%s/memory.memsw.limit_in_bytes", v1[CGROUP_MEMORY].point);
			cs->memsw = !stat(p.buf, &st);
			strbuf_release(&p);
		}
	}
	if (cs->version == CGROUP_NONE) {
		strbuf_addstr(why, v2.point ? "cgroup v2 has no memory controller and no cgroup v1 "
					      "memory hierarchy is mounted"
					    : "no cgroup hierarchy is mounted");
		err = -ENOENT;
	}
	free(copy);
	return err;
}

int cgroup_sys_detect(struct cgroup_sys *cs, const char *parent, struct strbuf *why)
{
	struct strbuf mi = STRBUF_INIT, pc = STRBUF_INIT;
	int err = read_file("/proc/self/mountinfo", &mi);

	if (err) {
		memset(cs, 0, sizeof(*cs));
		strbuf_addf(why, "cannot read '/proc/self/mountinfo': %s", pacer_strerror(err));
		goto out;
	}
	err = read_file("/proc/self/cgroup", &pc);
	if (err) {
		memset(cs, 0, sizeof(*cs));
		strbuf_addf(why, "cannot read '/proc/self/cgroup': %s", pacer_strerror(err));
		goto out;
	}
	err = cgroup_sys_detect_from(cs, mi.buf, pc.buf, parent, why);
out:
	strbuf_release(&mi);
	strbuf_release(&pc);
	return err;
}

void cgroup_sys_release(struct cgroup_sys *cs)
{
	for (int c = 0; c < CGROUP_NCTL; c++)
		free(cs->parent[c]);
	memset(cs, 0, sizeof(*cs));
}

/*
 * v2: a child gets a controller only if every ancestor enables it in
 * cgroup.subtree_control, from the mount root down to the parent.
 */
static int v2_enable(const char *parent_path, struct strbuf *why)
{
	char *p = xstrdup(parent_path);
	int err = 0;

	/* find the mount root: the topmost directory that has cgroup.controllers */
	for (char *s = p + 1;; s++) {
		if (*s == '/' || !*s) {
			char c = *s;
			char probe[4096];
			struct stat st;

			*s = '\0';
			snprintf(probe, sizeof(probe), "%s/cgroup.controllers", p);
			if (!stat(probe, &st)) {
				for (int i = 0; i < CGROUP_NCTL; i++) {
					char v[16];
					int e;

					snprintf(v, sizeof(v), "+%s", ctl_name[i]);
					e = write_file(p, "cgroup.subtree_control", v);
					if (e && i == CGROUP_MEMORY) {
						strbuf_addf(why, "cannot enable the memory controller in "
								 "'%s': %s",
							    p, pacer_strerror(e));
						err = e;
						goto out;
					}
				}
			}
			*s = c;
			if (!c)
				break;
		}
	}
out:
	free(p);
	return err;
}

static void fmt_u64(char *buf, size_t size, uint64_t v)
{
	snprintf(buf, size, "%" PRIu64, v);
}

static int set_v1_limits(const struct cgroup_sys *cs, const struct cgroup *cg,
			 const struct cgroup_limits *lim, struct strbuf *why)
{
	const char *mem = cg->path[CGROUP_MEMORY];
	char v[32];
	int err;

	if (lim->mem_bytes)
		fmt_u64(v, sizeof(v), lim->mem_bytes);
	else
		snprintf(v, sizeof(v), "-1");
	/* memsw must stay >= limit: order the two writes accordingly */
	err = write_file(mem, "memory.limit_in_bytes", v);
	if (err == -EINVAL && cs->memsw) {
		err = write_limit(mem, "memory.memsw.limit_in_bytes", v, why);
		if (err)
			return err;
		err = write_limit(mem, "memory.limit_in_bytes", v, why);
	} else if (err) {
		return write_limit(mem, "memory.limit_in_bytes", v, why);
	} else if (cs->memsw) {
		err = write_limit(mem, "memory.memsw.limit_in_bytes", v, why);
	}
	if (err)
		return err;

	if (cg->path[CGROUP_CPU]) {
		const char *cpu = cg->path[CGROUP_CPU];
		uint64_t shares = (uint64_t)(lim->cpus * 1024.0);

		fmt_u64(v, sizeof(v), shares < 2 ? 2 : shares);
		err = write_limit(cpu, "cpu.shares", v, why);
		/*
		 * A new cgroup has period 100000 and no quota already; each write of
		 * them walks every CPU in the kernel, so only a quota is written.
		 */
		if (!err && lim->cpu_quota && lim->cpus > 0) {
			uint64_t q = (uint64_t)(lim->cpus * 100000.0);

			err = write_limit(cpu, "cpu.cfs_period_us", "100000", why);
			fmt_u64(v, sizeof(v), q < 1000 ? 1000 : q);
			if (!err)
				err = write_limit(cpu, "cpu.cfs_quota_us", v, why);
		}
		if (err)
			return err;
	}
	if (cg->path[CGROUP_PIDS]) {
		if (lim->pids_max)
			fmt_u64(v, sizeof(v), lim->pids_max);
		else
			snprintf(v, sizeof(v), "max");
		err = write_limit(cg->path[CGROUP_PIDS], "pids.max", v, why);
	}
	return err;
}

static int set_v2_limits(const struct cgroup *cg, const struct cgroup_limits *lim,
			 struct strbuf *why)
{
	const char *dir = cg->path[0];
	char v[64];
	int err;

	if (lim->mem_bytes)
		fmt_u64(v, sizeof(v), lim->mem_bytes);
	else
		snprintf(v, sizeof(v), "max");
	err = write_limit(dir, "memory.max", v, why);
	if (err)
		return err;
	/* no swap beyond the memory limit; the file is absent without swap */
	err = write_file(dir, "memory.swap.max", lim->mem_bytes ? "0" : "max");
	if (err && err != -ENOENT)
		return write_limit(dir, "memory.swap.max", lim->mem_bytes ? "0" : "max", why);

	{
		/* systemd's conversion of v1 shares [2, 262144] to weight [1, 10000] */
		uint64_t shares = (uint64_t)(lim->cpus * 1024.0), weight;

		if (shares < 2)
			shares = 2;
		if (shares > 262144)
			shares = 262144;
		weight = 1 + ((shares - 2) * 9999) / 262142;
		fmt_u64(v, sizeof(v), weight);
		err = write_file(dir, "cpu.weight", v);
		if (err && err != -ENOENT)
			return write_limit(dir, "cpu.weight", v, why);
		if (lim->cpu_quota && lim->cpus > 0) {
			uint64_t q = (uint64_t)(lim->cpus * 100000.0);

			snprintf(v, sizeof(v), "%" PRIu64 " 100000", q < 1000 ? 1000 : q);
		} else {
			snprintf(v, sizeof(v), "max 100000");
		}
		err = write_file(dir, "cpu.max", v);
		if (err && err != -ENOENT)
			return write_limit(dir, "cpu.max", v, why);
	}
	if (lim->pids_max)
		fmt_u64(v, sizeof(v), lim->pids_max);
	else
		snprintf(v, sizeof(v), "max");
	err = write_file(dir, "pids.max", v);
	if (err && err != -ENOENT)
		return write_limit(dir, "pids.max", v, why);
	return 0;
}

int cgroup_create(const struct cgroup_sys *cs, const char *name, const struct cgroup_limits *lim,
		  struct cgroup *cg, struct strbuf *why)
{
	int err = 0;

	memset(cg, 0, sizeof(*cg));
	if (cs->version == CGROUP_NONE) {
		strbuf_addstr(why, "cgroups are not available");
		return -ENOENT;
	}
	if (!*name || strchr(name, '/') || !strcmp(name, ".") || !strcmp(name, "..")) {
		strbuf_addf(why, "invalid cgroup name '%s'", name);
		return -EINVAL;
	}
	cg->version = cs->version;
	for (int c = 0; c < CGROUP_NCTL; c++) {
		struct strbuf p = STRBUF_INIT;

		if (!cs->parent[c] || (cs->version == CGROUP_V2 && c > 0))
			continue;
		err = mkdir_p(cs->parent[c]);
		if (err) {
			strbuf_addf(why, "cannot create '%s': %s", cs->parent[c],
				    pacer_strerror(err));
			goto fail;
		}
		if (cs->version == CGROUP_V2) {
			err = v2_enable(cs->parent[c], why);
			if (err)
				goto fail;
		}
		strbuf_addf(&p, "%s/%s", cs->parent[c], name);
		if (mkdir(p.buf, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			strbuf_addf(why, "cannot create '%s': %s", p.buf, pacer_strerror(err));
			strbuf_release(&p);
			goto fail;
		}
		cg->path[c] = strbuf_detach(&p, NULL);
	}
	err = cs->version == CGROUP_V2 ? set_v2_limits(cg, lim, why) : set_v1_limits(cs, cg, lim, why);
	if (err)
		goto fail;
	return 0;
fail:
	cgroup_remove(cg);
	cgroup_release(cg);
	return err;
}

int cgroup_open(const struct cgroup_sys *cs, const char *name, struct cgroup *cg)
{
	memset(cg, 0, sizeof(*cg));
	if (cs->version == CGROUP_NONE || !*name || strchr(name, '/'))
		return -ENOENT;
	cg->version = cs->version;
	for (int c = 0; c < CGROUP_NCTL; c++) {
		struct strbuf p = STRBUF_INIT;
		struct stat st;

		if (!cs->parent[c] || (cs->version == CGROUP_V2 && c > 0))
			continue;
		strbuf_addf(&p, "%s/%s", cs->parent[c], name);
		if (stat(p.buf, &st) < 0) {
			strbuf_release(&p);
			cgroup_release(cg);
			return -ENOENT;
		}
		cg->path[c] = strbuf_detach(&p, NULL);
	}
	return 0;
}

size_t cgroup_procs_files(const struct cgroup *cg, char *out[CGROUP_NCTL])
{
	size_t n = 0;

	for (int c = 0; c < CGROUP_NCTL; c++) {
		struct strbuf p = STRBUF_INIT;

		if (!cg->path[c])
			continue;
		strbuf_addf(&p, "%s/cgroup.procs", cg->path[c]);
		out[n++] = strbuf_detach(&p, NULL);
	}
	return n;
}

int cgroup_attach(const struct cgroup *cg, pid_t pid)
{
	char v[24];

	snprintf(v, sizeof(v), "%ld", (long)pid);
	for (int c = 0; c < CGROUP_NCTL; c++) {
		int err;

		if (!cg->path[c])
			continue;
		err = write_file(cg->path[c], "cgroup.procs", v);
		if (err)
			return err;
	}
	return 0;
}

/* Reads one integer (or "max", as 0) from dir/name. */
static int read_u64(const char *dir, const char *name, uint64_t *out, uint64_t *second)
{
	struct strbuf p = STRBUF_INIT, sb = STRBUF_INIT;
	int err;

	strbuf_addf(&p, "%s/%s", dir, name);
	err = read_file(p.buf, &sb);
	if (!err) {
		char *end;

		if (!strncmp(sb.buf, "max", 3)) {
			*out = 0;
			end = sb.buf + 3;
		} else if (sb.buf[0] == '-') {
			*out = 0; /* -1: unlimited */
			end = sb.buf + 2;
		} else {
			*out = strtoull(sb.buf, &end, 10);
		}
		if (second)
			*second = strtoull(end, NULL, 10);
	}
	strbuf_release(&p);
	strbuf_release(&sb);
	return err;
}

int cgroup_read_limits(const struct cgroup *cg, struct cgroup_limits *out)
{
	uint64_t v = 0, period = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (cg->version == CGROUP_V2) {
		const char *dir = cg->path[0];

		err = read_u64(dir, "memory.max", &out->mem_bytes, NULL);
		if (err)
			return err;
		if (!read_u64(dir, "cpu.max", &v, &period) && v && period) {
			out->cpu_quota = true;
			out->cpus = (double)v / (double)period;
		} else if (!read_u64(dir, "cpu.weight", &v, NULL) && v) {
			/* inverse of the conversion in set_v2_limits, approximately */
			out->cpus = (double)(((v - 1) * 262142) / 9999 + 2) / 1024.0;
		}
		read_u64(dir, "pids.max", &out->pids_max, NULL);
		return 0;
	}
	if (cg->version != CGROUP_V1 || !cg->path[CGROUP_MEMORY])
		return -ENOENT;
	err = read_u64(cg->path[CGROUP_MEMORY], "memory.limit_in_bytes", &v, NULL);
	if (err)
		return err;
	/* "unlimited" reads back as the largest page-aligned value */
	out->mem_bytes = v >= (UINT64_C(1) << 62) ? 0 : v;
	if (cg->path[CGROUP_CPU]) {
		uint64_t quota = 0;

		if (!read_u64(cg->path[CGROUP_CPU], "cpu.cfs_quota_us", &quota, NULL) && quota &&
		    !read_u64(cg->path[CGROUP_CPU], "cpu.cfs_period_us", &period, NULL) && period) {
			out->cpu_quota = true;
			out->cpus = (double)quota / (double)period;
		} else if (!read_u64(cg->path[CGROUP_CPU], "cpu.shares", &v, NULL)) {
			out->cpus = (double)v / 1024.0;
		}
	}
	if (cg->path[CGROUP_PIDS])
		read_u64(cg->path[CGROUP_PIDS], "pids.max", &out->pids_max, NULL);
	return 0;
}

/* Calls fn for each pid listed in dir/cgroup.procs. */
static int for_each_proc(const char *dir, int sig, int *count)
{
	struct strbuf p = STRBUF_INIT, sb = STRBUF_INIT;
	int err;

	strbuf_addf(&p, "%s/cgroup.procs", dir);
	err = read_file(p.buf, &sb);
	if (!err) {
		int n = 0;

		for (char *s = sb.buf; *s;) {
			char *end;
			long pid = strtol(s, &end, 10);

			if (end == s)
				break;
			if (pid > 0) {
				n++;
				if (sig)
					kill((pid_t)pid, sig);
			}
			s = end;
			while (*s == '\n')
				s++;
		}
		if (n > *count)
			*count = n;
	}
	strbuf_release(&p);
	strbuf_release(&sb);
	return err == -ENOENT ? 0 : err;
}

int cgroup_count_procs(const struct cgroup *cg)
{
	int count = 0;

	for (int c = 0; c < CGROUP_NCTL; c++) {
		int err;

		if (!cg->path[c])
			continue;
		err = for_each_proc(cg->path[c], 0, &count);
		if (err)
			return err;
	}
	return count;
}

int cgroup_signal_all(const struct cgroup *cg, int sig)
{
	int count = 0;

	for (int c = 0; c < CGROUP_NCTL; c++) {
		int err;

		if (!cg->path[c])
			continue;
		err = for_each_proc(cg->path[c], sig, &count);
		if (err)
			return err;
	}
	return count;
}

int cgroup_remove(struct cgroup *cg)
{
	int res = 0;

	for (int c = 0; c < CGROUP_NCTL; c++) {
		if (!cg->path[c])
			continue;
		if (rmdir(cg->path[c]) < 0 && errno != ENOENT && !res)
			res = -errno;
	}
	return res;
}

void cgroup_release(struct cgroup *cg)
{
	for (int c = 0; c < CGROUP_NCTL; c++)
		free(cg->path[c]);
	memset(cg, 0, sizeof(*cg));
}
