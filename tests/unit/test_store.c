/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of the store through store.h, on the LMDB backend in a fresh
 * temporary directory per test: reads and writes, prefix scans and deletes,
 * group commit and callback order, reopening, durability across a kill -9,
 * invalid keys, closing, and bad URIs.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>
#include <setjmp.h>
#include <cmocka.h>

#include "base/error.h"
#include "base/timeutil.h"
#include "store/store.h"

struct ctx {
	uv_loop_t loop;
	char tmp[64];
	char uri[128];
	struct store *s;
};

static int setup(void **state)
{
	struct ctx *c = calloc(1, sizeof(*c));

	snprintf(c->tmp, sizeof(c->tmp), "/tmp/test_store.XXXXXX");
	if (!mkdtemp(c->tmp) || uv_loop_init(&c->loop)) {
		free(c);
		return -1;
	}
	/* Two levels that do not exist yet: store_open creates them. */
	snprintf(c->uri, sizeof(c->uri), "lmdb:%s/var/db", c->tmp);
	*state = c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;
	char cmd[128];

	if (c->s) {
		store_close(c->s);
		c->s = NULL;
	}
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(uv_loop_close(&c->loop), 0); /* every handle of the store is gone */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", c->tmp);
	assert_int_equal(system(cmd), 0);
	free(c);
	return 0;
}

static void open_store(struct ctx *c)
{
	assert_int_equal(store_open(&c->s, c->uri, &c->loop), 0);
	assert_non_null(c->s);
}

static void close_store(struct ctx *c)
{
	store_close(c->s);
	c->s = NULL;
	uv_run(&c->loop, UV_RUN_DEFAULT);
}

static void record_status(void *arg, int status)
{
	*(int *)arg = status;
}

/* Commits b and runs the loop until its callback; returns the callback's status. */
static int commit_wait(struct ctx *c, struct store_batch *b)
{
	int status = 1;

	assert_int_equal(store_commit(c->s, b, record_status, &status), 0);
	uv_run(&c->loop, UV_RUN_DEFAULT); /* returns once no commit is outstanding */
	assert_int_not_equal(status, 1);
	return status;
}

static void put_one(struct ctx *c, const char *key, const char *val)
{
	struct store_batch *b = store_batch_new();

	store_batch_put(b, key, val, strlen(val));
	assert_int_equal(commit_wait(c, b), 0);
}

static void assert_value(struct ctx *c, const char *key, const char *want)
{
	char *val;
	size_t len;

	assert_int_equal(store_get(c->s, key, &val, &len), 0);
	assert_int_equal(len, strlen(want));
	assert_memory_equal(val, want, len);
	assert_int_equal(val[len], '\0');
	free(val);
}

static void assert_absent(struct ctx *c, const char *key)
{
	char *val = (char *)1;
	size_t len;

	assert_int_equal(store_get(c->s, key, &val, &len), PACER_ENOTFOUND);
	assert_null(val);
}

static void test_put_get_delete(void **state)
{
	struct ctx *c = *state;
	static const char binary[] = {'a', '\0', 'b', '\0', '\xff'};
	struct store_batch *b;
	char *val;
	size_t len;

	open_store(c);
	assert_absent(c, "apps/web");

	b = store_batch_new();
	store_batch_put(b, "apps/web", binary, sizeof(binary));
	store_batch_put(b, "apps/empty", "", 0);
	store_batch_put(b, "apps/db", "v1", 2);
	assert_int_equal(store_batch_count(b), 3);
	assert_int_equal(store_batch_error(b), 0);
	assert_int_equal(commit_wait(c, b), 0);

	assert_int_equal(store_get(c->s, "apps/web", &val, &len), 0);
	assert_int_equal(len, sizeof(binary));
	assert_memory_equal(val, binary, sizeof(binary)); /* NULs kept */
	assert_int_equal(val[len], '\0');
	free(val);
	assert_value(c, "apps/empty", "");
	assert_value(c, "apps/db", "v1");

	/* Overwrite, delete, and delete a key that never existed. */
	b = store_batch_new();
	store_batch_put(b, "apps/db", "version two", 11);
	store_batch_del(b, "apps/web");
	store_batch_del(b, "apps/never");
	assert_int_equal(commit_wait(c, b), 0);
	assert_value(c, "apps/db", "version two");
	assert_absent(c, "apps/web");
	assert_absent(c, "apps/never");

	/* Later ops of a batch see earlier ones. */
	b = store_batch_new();
	store_batch_put(b, "apps/x", "1", 1);
	store_batch_del(b, "apps/x");
	store_batch_put(b, "apps/y", "1", 1);
	store_batch_put(b, "apps/y", "2", 1);
	assert_int_equal(commit_wait(c, b), 0);
	assert_absent(c, "apps/x");
	assert_value(c, "apps/y", "2");
}

struct visit {
	char keys[16][32];
	char vals[16][32];
	int n;
	int stop_after; /* return 7 after this many; 0: never */
	struct store *s;
	int nested_ok;
};

static int visit_fn(void *arg, const char *key, size_t key_len, const void *val, size_t val_len)
{
	struct visit *v = arg;
	char *got;
	size_t len;

	assert_true(v->n < 16);
	assert_int_equal(strlen(key), key_len); /* NUL-terminated */
	snprintf(v->keys[v->n], sizeof(v->keys[0]), "%s", key);
	snprintf(v->vals[v->n], sizeof(v->vals[0]), "%.*s", (int)val_len, (const char *)val);
	v->n++;
	/* Reading from inside a scan works (it needs a read transaction of its own). */
	if (v->s && !store_get(v->s, key, &got, &len)) {
		v->nested_ok += len == val_len && !memcmp(got, val, len);
		free(got);
	}
	return v->stop_after && v->n == v->stop_after ? 7 : 0;
}

static void test_scan(void **state)
{
	struct ctx *c = *state;
	static const char *const keys[] = {"apps/b", "apps/a", "apps/c", "appsx", "app", "groups/x",
					   "apps/a/b"};
	struct store_batch *b = store_batch_new();
	struct visit v;

	open_store(c);
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		store_batch_put(b, keys[i], keys[i], strlen(keys[i]));
	assert_int_equal(commit_wait(c, b), 0);

	memset(&v, 0, sizeof(v));
	v.s = c->s;
	assert_int_equal(store_scan(c->s, "apps/", visit_fn, &v), 0);
	assert_int_equal(v.n, 4);
	assert_string_equal(v.keys[0], "apps/a");
	assert_string_equal(v.keys[1], "apps/a/b");
	assert_string_equal(v.keys[2], "apps/b");
	assert_string_equal(v.keys[3], "apps/c");
	assert_string_equal(v.vals[2], "apps/b");
	assert_int_equal(v.nested_ok, 4);

	/* Early stop: the function's value comes back. */
	memset(&v, 0, sizeof(v));
	v.stop_after = 2;
	assert_int_equal(store_scan(c->s, "apps/", visit_fn, &v), 7);
	assert_int_equal(v.n, 2);
	assert_string_equal(v.keys[1], "apps/a/b");

	/* The empty prefix visits everything, bytewise order. */
	memset(&v, 0, sizeof(v));
	assert_int_equal(store_scan(c->s, "", visit_fn, &v), 0);
	assert_int_equal(v.n, 7);
	assert_string_equal(v.keys[0], "app");
	assert_string_equal(v.keys[4], "apps/c");
	assert_string_equal(v.keys[5], "appsx");
	assert_string_equal(v.keys[6], "groups/x");

	memset(&v, 0, sizeof(v));
	assert_int_equal(store_scan(c->s, "deployments/", visit_fn, &v), 0);
	assert_int_equal(v.n, 0);
	assert_int_equal(store_scan(c->s, "zzz", visit_fn, &v), 0); /* past the last key */
	assert_int_equal(v.n, 0);
}

struct counter {
	size_t n;
	size_t bytes;
	char last[32];
	int ordered;
};

static int count_fn(void *arg, const char *key, size_t key_len, const void *val, size_t val_len)
{
	struct counter *k = arg;

	if (k->n && strcmp(k->last, key) >= 0)
		k->ordered = 0;
	snprintf(k->last, sizeof(k->last), "%s", key);
	k->n++;
	k->bytes += val_len;
	return 0;
}

static void test_scan_100k(void **state)
{
	struct ctx *c = *state;
	struct store_batch *b = store_batch_new();
	struct counter k = {.ordered = 1};
	char key[32], val[100];
	uint64_t t0, t1;

	open_store(c);
	memset(val, 'v', sizeof(val));
	for (int i = 0; i < 100000; i++) {
		/* Not in key order. */
		snprintf(key, sizeof(key), "instances/%06d", (i * 7919) % 100000);
		store_batch_put(b, key, val, sizeof(val));
	}
	put_one(c, "instancez", "after");
	assert_int_equal(commit_wait(c, b), 0);

	t0 = time_mono_ns();
	assert_int_equal(store_scan(c->s, "instances/", count_fn, &k), 0);
	t1 = time_mono_ns();
	assert_int_equal(k.n, 100000);
	assert_int_equal(k.bytes, 100000 * sizeof(val));
	assert_true(k.ordered);
	print_message("scan of 100k keys: %.1f ms\n", (double)(t1 - t0) / 1e6);
	assert_true(t1 - t0 < 5000000000ull); /* loose: valgrind runs this too */
}

static void test_del_prefix(void **state)
{
	struct ctx *c = *state;
	static const char *const keep[] = {"appversions/a/b@1", "appversions/a/b@2",
					   "appversions/aa@1", "appversions/a", "appversions/a?",
					   "apps/a@1"};
	struct store_batch *b = store_batch_new();
	struct store_stats st;
	struct counter k = {.ordered = 1};
	char key[64];

	open_store(c);
	store_batch_put(b, "appversions/a@1", "x", 1);
	store_batch_put(b, "appversions/a@2", "x", 1);
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		store_batch_put(b, keep[i], "keep", 4);
	/* Enough keys to span many pages. */
	for (int i = 0; i < 3000; i++) {
		snprintf(key, sizeof(key), "appversions/big@%04d", i);
		store_batch_put(b, key, "0123456789abcdef0123456789abcdef", 32);
	}
	assert_int_equal(commit_wait(c, b), 0);

	b = store_batch_new();
	store_batch_del_prefix(b, "appversions/a@");
	store_batch_del_prefix(b, "appversions/big@");
	store_batch_del_prefix(b, "appversions/none@");
	/* Ops run in order: a put after the delete survives it. */
	store_batch_put(b, "appversions/big@new", "n", 1);
	assert_int_equal(commit_wait(c, b), 0);

	assert_absent(c, "appversions/a@1");
	assert_absent(c, "appversions/a@2");
	assert_absent(c, "appversions/big@0000");
	assert_absent(c, "appversions/big@2999");
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		assert_value(c, keep[i], "keep");
	assert_value(c, "appversions/big@new", "n");
	assert_int_equal(store_scan(c->s, "appversions/big@", count_fn, &k), 0);
	assert_int_equal(k.n, 1);

	store_get_stats(c->s, &st);
	assert_int_equal(st.ops, 2 + 6 + 3000 + (2 + 3000 + 1)); /* every key deleted counts */

	/* An empty prefix would wipe the store: refused. */
	b = store_batch_new();
	store_batch_del_prefix(b, "");
	assert_int_equal(store_batch_error(b), PACER_EINVALID);
	assert_int_equal(commit_wait(c, b), PACER_EINVALID);
	assert_value(c, "apps/a@1", "keep");
}

static int count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

#define NGROUP 2000

struct order {
	int next;
	int statuses_ok;
	int seq[NGROUP];
};

struct order_arg {
	struct order *o;
	int i;
};

static void order_cb(void *arg, int status)
{
	struct order_arg *a = arg;

	a->o->seq[a->o->next++] = a->i;
	a->o->statuses_ok += status == 0;
}

static void test_group_commit(void **state)
{
	struct ctx *c = *state;
	static struct order o;
	static struct order_arg args[NGROUP];
	struct store_stats st;
	char key[32], val[301];
	int threads_before, threads_during;

	threads_before = count_threads();
	open_store(c);
	memset(&o, 0, sizeof(o));
	memset(val, 'z', sizeof(val));
	/* All submitted within one loop iteration, as many requests' handlers would. */
	for (int i = 0; i < NGROUP; i++) {
		struct store_batch *b = store_batch_new();

		snprintf(key, sizeof(key), "instances/i%05d", i);
		store_batch_put(b, key, val, (size_t)(i % 300) + 1);
		args[i].o = &o;
		args[i].i = i;
		assert_int_equal(store_commit(c->s, b, order_cb, &args[i]), 0);
	}
	threads_during = count_threads();
	uv_run(&c->loop, UV_RUN_DEFAULT);

	/* One store thread, however many commits are queued. */
	assert_int_equal(threads_during, threads_before + 1);
	assert_int_equal(o.next, NGROUP);
	assert_int_equal(o.statuses_ok, NGROUP);
	for (int i = 0; i < NGROUP; i++)
		assert_int_equal(o.seq[i], i);

	store_get_stats(c->s, &st);
	print_message("%d batches in %llu transactions\n", NGROUP, (unsigned long long)st.commits);
	assert_int_equal(st.batches, NGROUP);
	assert_true(st.commits >= 1);
	assert_true(st.commits < st.batches); /* group commit happened */
	assert_int_equal(st.ops, NGROUP);
	assert_int_equal(st.failures, 0);
	assert_int_equal(st.largest_value, 300);
	assert_int_equal(st.commit_latency.count, NGROUP);
	assert_true(st.commit_latency.sum_ns > 0);
	assert_true(histogram_quantile_ns(&st.commit_latency, 0.5) > 0);
	{
		uint64_t sum = 0;

		for (int i = 0; i < NGROUP; i++)
			sum += (uint64_t)(i % 300) + 1;
		assert_int_equal(st.bytes_written, sum);
	}
	val[(1999 % 300) + 1] = '\0';
	assert_value(c, "instances/i01999", val);

	close_store(c);
	assert_int_equal(count_threads(), threads_before); /* joined */
}

static void test_reopen(void **state)
{
	struct ctx *c = *state;

	open_store(c);
	put_one(c, "meta/schema", "1");
	put_one(c, "apps/web", "v2");
	close_store(c);

	open_store(c);
	assert_value(c, "meta/schema", "1");
	assert_value(c, "apps/web", "v2");
	put_one(c, "apps/web", "v3");
	close_store(c);

	open_store(c);
	assert_value(c, "apps/web", "v3");
}

static int crash_fd = -1;

static void crash_cb(void *arg, int status)
{
	char byte = status ? 'f' : 'k';

	/* Durable now: tell the parent, then wait to be killed. */
	if (write(crash_fd, &byte, 1) != 1)
		_exit(3);
	for (;;)
		pause();
}

/* In the child: its own loop and its own store, never the parent's. */
static void crash_child(const char *uri)
{
	struct store_batch *b;
	struct store *s;
	uv_loop_t loop;
	char key[32];

	if (uv_loop_init(&loop) || store_open(&s, uri, &loop))
		_exit(2);
	b = store_batch_new();
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "instances/c%03d", i);
		store_batch_put(b, key, key, strlen(key));
	}
	store_batch_put(b, "meta/crash", "acknowledged", 12);
	if (store_commit(s, b, crash_cb, NULL))
		_exit(2);
	uv_run(&loop, UV_RUN_DEFAULT);
	_exit(4); /* not reached: crash_cb never returns */
}

static void test_durable_across_kill(void **state)
{
	struct ctx *c = *state;
	char byte = 0, key[32];
	int fds[2], wstatus;
	pid_t pid;

	/* Create the store first, so the child only reopens it. */
	open_store(c);
	put_one(c, "meta/schema", "1");
	close_store(c); /* no MDB_env open across the fork */

	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (!pid) {
		close(fds[0]);
		crash_fd = fds[1];
		crash_child(c->uri);
	}
	close(fds[1]);
	assert_int_equal(read(fds[0], &byte, 1), 1);
	close(fds[0]);
	assert_int_equal(byte, 'k');
	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitpid(pid, &wstatus, 0), pid);
	assert_true(WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGKILL);

	open_store(c);
	assert_value(c, "meta/crash", "acknowledged");
	assert_value(c, "meta/schema", "1");
	for (int i = 0; i < 500; i++) {
		snprintf(key, sizeof(key), "instances/c%03d", i);
		assert_value(c, key, key);
	}
	/* The dead child's lock and reader slot are no obstacle to writing. */
	put_one(c, "meta/after", "yes");
	assert_value(c, "meta/after", "yes");
}

/*
 * A transaction that fails (here: the data file may not grow, so a write
 * comes up short and LMDB reports EIO) is
 * aborted: none of its batches leaves a trace, each gets the error, and the
 * store goes on working.
 */
static void test_failed_transaction(void **state)
{
	struct ctx *c = *state;
	int status[3] = {1, 1, 1};
	static const char *const small_keys[] = {"apps/b1", NULL, "apps/b3"};
	struct store_batch *b[3];
	struct store_stats st;
	struct rlimit old, lim;
	char path[128], key[32];
	static char big[100 << 10];
	struct stat sb;
	void (*old_xfsz)(int);

	open_store(c);
	put_one(c, "apps/keep", "1");
	snprintf(path, sizeof(path), "%s/data.mdb", c->uri + strlen("lmdb:"));
	assert_int_equal(stat(path, &sb), 0);

	b[0] = store_batch_new();
	store_batch_put(b[0], "apps/b1", "1", 1);
	b[1] = store_batch_new();
	store_batch_del(b[1], "apps/keep");
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "big/%02d", i);
		store_batch_put(b[1], key, big, sizeof(big));
	}
	b[2] = store_batch_new();
	store_batch_put(b[2], "apps/b3", "1", 1);

	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = (rlim_t)sb.st_size + (256 << 10); /* 4 MiB will not fit */
	old_xfsz = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_commit(c->s, b[i], record_status, &status[i]), 0);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_xfsz);

	assert_true(status[1] == -EIO || status[1] == -EFBIG);
	assert_value(c, "apps/keep", "1"); /* its delete was rolled back */
	assert_absent(c, "big/00");
	assert_absent(c, "big/39");
	/* Small batches fail exactly when they shared the big one's transaction. */
	for (int i = 0; i < 3; i += 2) {
		char *val;
		size_t len;
		int rc = store_get(c->s, small_keys[i], &val, &len);

		print_message("batch %d: %s\n", i, pacer_strerror(status[i]));
		assert_true(status[i] == 0 || status[i] == status[1]);
		assert_int_equal(rc, status[i] ? PACER_ENOTFOUND : 0);
		if (!rc)
			free(val);
	}
	store_get_stats(c->s, &st);
	assert_true(st.failures >= 1);
	assert_int_equal(st.batches, 4);

	/* Without the limit the same batch goes through. */
	b[1] = store_batch_new();
	store_batch_put(b[1], "big/00", big, sizeof(big));
	store_batch_del(b[1], "apps/keep");
	assert_int_equal(commit_wait(c, b[1]), 0);
	assert_absent(c, "apps/keep");
	close_store(c);
	open_store(c);
	assert_absent(c, "apps/keep");
	{
		char *val;
		size_t len;

		assert_int_equal(store_get(c->s, "big/00", &val, &len), 0);
		assert_int_equal(len, sizeof(big));
		free(val);
	}
}

static void test_invalid_key(void **state)
{
	struct ctx *c = *state;
	int status[3] = {1, 1, 1};
	char longkey[STORE_KEY_MAX + 2];
	struct store_batch *b[3];
	struct store_stats st;

	open_store(c);
	memset(longkey, 'k', sizeof(longkey));
	longkey[STORE_KEY_MAX] = '\0'; /* exactly the limit: fine */
	put_one(c, longkey, "max");
	assert_value(c, longkey, "max");
	longkey[STORE_KEY_MAX] = 'k';
	longkey[STORE_KEY_MAX + 1] = '\0'; /* one over */

	b[0] = store_batch_new();
	store_batch_put(b[0], "apps/before", "1", 1);
	b[1] = store_batch_new();
	store_batch_put(b[1], "apps/same-batch", "1", 1);
	store_batch_put(b[1], longkey, "x", 1);
	store_batch_put(b[1], "", "x", 1);
	assert_int_equal(store_batch_error(b[1]), PACER_EINVALID);
	b[2] = store_batch_new();
	store_batch_put(b[2], "apps/after", "1", 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(store_commit(c->s, b[i], record_status, &status[i]), 0);
	uv_run(&c->loop, UV_RUN_DEFAULT);

	assert_int_equal(status[0], 0);
	assert_int_equal(status[1], PACER_EINVALID);
	assert_int_equal(status[2], 0);
	assert_value(c, "apps/before", "1");
	assert_value(c, "apps/after", "1");
	assert_absent(c, "apps/same-batch"); /* the invalid batch applies nothing */
	assert_absent(c, longkey);
	assert_absent(c, "");

	store_get_stats(c->s, &st);
	assert_int_equal(st.failures, 0); /* no transaction failed */
}

struct close_probe {
	struct store *s;
	int first_status;
	int inner_rc;
	int never_called;
};

static void never_cb(void *arg, int status)
{
	((struct close_probe *)arg)->never_called++;
}

static void commit_during_close_cb(void *arg, int status)
{
	struct close_probe *p = arg;
	struct store_batch *b = store_batch_new();

	p->first_status = status;
	store_batch_put(b, "apps/too-late", "x", 1);
	p->inner_rc = store_commit(p->s, b, never_cb, p); /* store_close has started */
}

static void test_commit_after_close(void **state)
{
	struct ctx *c = *state;
	struct close_probe p = {.first_status = 1, .inner_rc = 1};
	struct store_batch *b = store_batch_new();

	open_store(c);
	p.s = c->s;
	store_batch_put(b, "apps/queued", "q", 1);
	assert_int_equal(store_commit(c->s, b, commit_during_close_cb, &p), 0);
	/* No loop run: close itself finishes the queued commit and runs its callback. */
	store_close(c->s);
	c->s = NULL;
	assert_int_equal(p.first_status, 0);
	assert_int_equal(p.inner_rc, PACER_ECLOSED);
	uv_run(&c->loop, UV_RUN_DEFAULT);
	assert_int_equal(p.never_called, 0);

	open_store(c);
	assert_value(c, "apps/queued", "q");
	assert_absent(c, "apps/too-late");
}

static void test_bad_uri(void **state)
{
	struct ctx *c = *state;
	struct store *s = (struct store *)1;
	char uri[160], path[128];
	int fd;

	assert_int_equal(store_open(&s, "zk://localhost:2181/pacer", &c->loop), PACER_EBADCONFIG);
	assert_null(s);
	assert_int_equal(store_open(&s, "/var/lib/pacer", &c->loop), PACER_EBADCONFIG);
	assert_int_equal(store_open(&s, ":/x", &c->loop), PACER_EBADCONFIG);
	assert_int_equal(store_open(&s, "lmdb:", &c->loop), PACER_EBADCONFIG);

	/* A directory under a regular file cannot exist. */
	snprintf(path, sizeof(path), "%s/file", c->tmp);
	fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
	snprintf(uri, sizeof(uri), "lmdb:%s/sub/db", path);
	assert_int_equal(store_open(&s, uri, &c->loop), -ENOTDIR);
	assert_null(s);
	snprintf(uri, sizeof(uri), "lmdb:%s", path);
	assert_int_equal(store_open(&s, uri, &c->loop), -ENOTDIR);

	/* Unwritable directory (root writes anywhere, so only as another user). */
	if (geteuid()) {
		snprintf(path, sizeof(path), "%s/ro", c->tmp);
		assert_int_equal(mkdir(path, 0500), 0);
		snprintf(uri, sizeof(uri), "lmdb:%s/db", path);
		assert_int_equal(store_open(&s, uri, &c->loop), -EACCES);
		snprintf(uri, sizeof(uri), "lmdb:%s", path);
		assert_int_equal(store_open(&s, uri, &c->loop), -EACCES);
	}
	/* /proc takes no new directories, even from root. */
	assert_true(store_open(&s, "lmdb:/proc/pacer-test-store", &c->loop) < 0);
	assert_null(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_put_get_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan, setup, teardown),
		cmocka_unit_test_setup_teardown(test_scan_100k, setup, teardown),
		cmocka_unit_test_setup_teardown(test_del_prefix, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_across_kill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_invalid_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commit_after_close, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_uri, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
