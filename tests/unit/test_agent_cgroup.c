/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of cgroup.h: detection from mountinfo texts (v1 hybrid, none), and
 * on this machine, where cgroups are usable (root, v1 or v2 mounted), a
 * real cgroup with limits written and read back, a process joined, and the
 * cgroup removed only once empty. Skipped with a message elsewhere.
 */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/cgroup.h"
#include "agent/spawner.h"

static const char hybrid_mountinfo[] =
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct\n"
	"35 31 0:32 / /sys/fs/cgroup/memory rw,relatime shared:9 - cgroup cgroup rw,memory\n"
	"39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
	"41 31 0:38 / /nonexistent/unified rw,relatime - cgroup2 cgroup2 rw\n";
static const char hybrid_proc[] = "9:pids:/\n4:memory:/agents/a1\n1:cpu,cpuacct:/\n0::/\n";

static void test_detect_v1_hybrid(void **state)
{
	struct cgroup_sys cs;
	struct strbuf why = STRBUF_INIT;

	/* the v2 mount has no readable controllers: v1 it is */
	assert_int_equal(cgroup_sys_detect_from(&cs, hybrid_mountinfo, hybrid_proc, "pacer", &why),
			 0);
	assert_int_equal(cs.version, CGROUP_V1);
	/* relative parent: under the agent's own cgroup of each hierarchy */
	assert_string_equal(cs.parent[CGROUP_MEMORY], "/sys/fs/cgroup/memory/agents/a1/pacer");
	assert_string_equal(cs.parent[CGROUP_CPU], "/sys/fs/cgroup/cpu,cpuacct/pacer");
	assert_string_equal(cs.parent[CGROUP_PIDS], "/sys/fs/cgroup/pids/pacer");
	cgroup_sys_release(&cs);

	/* absolute parent: from the hierarchy's root */
	assert_int_equal(cgroup_sys_detect_from(&cs, hybrid_mountinfo, hybrid_proc, "/pacer", &why),
			 0);
	assert_string_equal(cs.parent[CGROUP_MEMORY], "/sys/fs/cgroup/memory/pacer");
	cgroup_sys_release(&cs);
	strbuf_release(&why);
}

static void test_detect_none(void **state)
{
	struct cgroup_sys cs;
	struct strbuf why = STRBUF_INIT;

	assert_true(cgroup_sys_detect_from(&cs, "22 1 0:5 / /proc rw - proc proc rw\n", "", "pacer",
					   &why) < 0);
	assert_int_equal(cs.version, CGROUP_NONE);
	assert_string_equal(why.buf, "no cgroup hierarchy is mounted");
	strbuf_release(&why);
}

/* A cgroup setup usable here, or a reason to skip in why. */
static int usable(struct cgroup_sys *cs, struct strbuf *why, const char *parent)
{
	struct cgroup cg;
	struct cgroup_limits lim = {0};

	if (cgroup_sys_detect(cs, parent, why))
		return 0;
	if (cgroup_create(cs, "probe", &lim, &cg, why)) {
		cgroup_sys_release(cs);
		return 0;
	}
	cgroup_remove(&cg);
	cgroup_release(&cg);
	return 1;
}

static void rm_parents(const struct cgroup_sys *cs)
{
	for (int c = 0; c < CGROUP_NCTL; c++)
		if (cs->parent[c])
			rmdir(cs->parent[c]);
}

static void test_real_limits(void **state)
{
	struct cgroup_sys cs;
	struct strbuf why = STRBUF_INIT;
	struct cgroup_limits lim = {.mem_bytes = 64 << 20, .cpus = 0.5, .cpu_quota = true,
				    .pids_max = 100};
	struct cgroup_limits got;
	struct spawn_child child;
	struct cgroup cg;
	char parent[64], *argv[] = {"sleep", "30", NULL};

	snprintf(parent, sizeof(parent), "pacer-test-%ld", (long)getpid());
	if (!usable(&cs, &why, parent)) {
		print_message("skipped: cgroups not usable here: %s\n", why.buf);
		strbuf_release(&why);
		skip();
	}
	print_message("cgroup %s, parent %s\n", cgroup_version_name(cs.version),
		      cs.parent[CGROUP_MEMORY] ? cs.parent[CGROUP_MEMORY] : cs.parent[0]);
	assert_int_equal(cgroup_create(&cs, "t1", &lim, &cg, &why), 0);
	assert_int_equal(cgroup_read_limits(&cg, &got), 0);
	assert_int_equal(got.mem_bytes, 64 << 20);
	assert_true(got.cpu_quota);
	assert_true(got.cpus > 0.49 && got.cpus < 0.51);
	assert_int_equal(got.pids_max, 100);

	/* a process in it keeps it; once gone, it can be removed */
	assert_int_equal(spawn_process("/bin/sleep", argv, NULL, NULL, 0, 0, &child), 0);
	assert_int_equal(cgroup_attach(&cg, child.pid), 0);
	assert_int_equal(cgroup_count_procs(&cg), 1);
	assert_int_equal(cgroup_remove(&cg), -EBUSY);
	assert_int_equal(cgroup_signal_all(&cg, SIGKILL), 1);
	waitpid(child.pid, NULL, 0);
	close(child.pidfd);
	for (int i = 0; i < 100 && cgroup_remove(&cg) == -EBUSY; i++)
		usleep(10000);
	for (int c = 0; c < CGROUP_NCTL; c++)
		if (cg.path[c])
			assert_int_equal(access(cg.path[c], F_OK), -1);
	cgroup_release(&cg);

	/* unlimited reads back as 0 */
	lim = (struct cgroup_limits){.cpus = 1};
	assert_int_equal(cgroup_create(&cs, "t2", &lim, &cg, &why), 0);
	assert_int_equal(cgroup_read_limits(&cg, &got), 0);
	assert_int_equal(got.mem_bytes, 0);
	assert_false(got.cpu_quota);
	assert_int_equal(got.pids_max, 0);
	assert_int_equal(cgroup_remove(&cg), 0);
	cgroup_release(&cg);

	rm_parents(&cs);
	cgroup_sys_release(&cs);
	strbuf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_detect_v1_hybrid),
		cmocka_unit_test(test_detect_none),
		cmocka_unit_test(test_real_limits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
