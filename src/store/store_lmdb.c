/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The LMDB backend. Reads run on the loop thread, each in one short read
 * transaction (one is kept and renewed, so a get costs no allocation). Writes
 * run on the one store thread: store_commit() queues a batch under a mutex
 * and wakes the thread; the thread takes every batch queued at that moment
 * (up to a bound), applies them in order in one write transaction with one
 * commit and fsync (group commit), moves them to a done list and wakes the
 * loop through a uv_async handle; on the loop, the async callback runs each
 * batch's callback in submission order and keeps the statistics.
 *
 * LMDB runs in its default, durable sync mode; MDB_NOTLS ties read slots to
 * transactions rather than threads, since reads and writes run on different
 * threads.
 */
#include <errno.h>
#include <lmdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "store/store_backend.h"

/*
 * Address space reserved for the map; the file only grows as data does. Where
 * address space is capped (ulimit -v, valgrind) open settles for less, down
 * to MAP_SIZE_MIN.
 */
#if SIZE_MAX > 0xffffffffu
#define MAP_SIZE ((size_t)64 << 30)
#else
#define MAP_SIZE ((size_t)1 << 30)
#endif
#define MAP_SIZE_MIN ((size_t)256 << 20)
/*
 * The loop holds one read slot (two while a scan function reads); the rest
 * are for mdb_stat and friends.
 */
#define MAX_READERS 126
/* Bounds on one group, so one transaction (and its dirty pages) stays bounded. */
#define GROUP_MAX_BATCHES 4096
#define GROUP_MAX_BYTES ((size_t)64 << 20)

/* A submitted batch on its way through the store thread and back. */
struct pending {
	struct pending *next;
	struct store_batch *batch;
	store_commit_cb *cb;
	void *arg;
	uint64_t start_ns;
	uint64_t ops; /* keys written or deleted; set by the store thread */
	int status;   /* set by the store thread */
};

struct pending_list {
	struct pending *head;
	struct pending **tailp;
};

struct lmdb_store {
	struct store base;
	char *dir;
	pid_t pid; /* the process that opened env, the only one that may use it */
	MDB_env *env;
	MDB_dbi dbi;
	uv_async_t *async; /* on the heap: freed by its close callback, after the store */
	uv_thread_t thread;

	/* Shared with the store thread, under mu. */
	uv_mutex_t mu;
	uv_cond_t cond;
	struct pending_list queue; /* submitted, not yet taken by the thread */
	struct pending_list done;  /* applied, callbacks not yet run */
	uint64_t txn_commits;      /* transactions committed, counted by the thread */
	uint64_t txn_failures;
	bool stopping;

	/* Loop thread only. */
	MDB_txn *rtxn; /* kept between reads, reset while idle */
	bool rtxn_busy;
	/* Commits whose callback has not run; the async handle is ref'd while > 0. */
	size_t outstanding;
	bool closing;
	bool in_callback;
	struct store_stats stats;
};

static void list_init(struct pending_list *l)
{
	l->head = NULL;
	l->tailp = &l->head;
}

/* Appends a NULL-terminated chain. */
static void list_append(struct pending_list *l, struct pending *first)
{
	*l->tailp = first;
	while (*l->tailp)
		l->tailp = &(*l->tailp)->next;
}

static int lmdb_err(int rc)
{
	return rc > 0 ? -rc : PACER_ESTORE;
}

/* LMDB's or the C library's message, lowercased as the house style wants. */
static const char *cause(int rc, char *buf, size_t size)
{
	snprintf(buf, size, "%s", mdb_strerror(rc));
	if (buf[0] >= 'A' && buf[0] <= 'Z' && !(buf[1] >= 'A' && buf[1] <= 'Z'))
		buf[0] = (char)(buf[0] - 'A' + 'a');
	return buf;
}

/* ---- reads, on the loop thread ---- */

static int read_begin(struct lmdb_store *s, MDB_txn **out)
{
	int rc;

	/* A scan function that reads again gets a transaction of its own. */
	if (s->rtxn_busy)
		return mdb_txn_begin(s->env, NULL, MDB_RDONLY, out);
	if (s->rtxn) {
		rc = mdb_txn_renew(s->rtxn);
		if (!rc)
			goto ok;
		mdb_txn_abort(s->rtxn);
		s->rtxn = NULL;
	}
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &s->rtxn);
	if (rc) {
		s->rtxn = NULL;
		return rc;
	}
ok:
	s->rtxn_busy = true;
	*out = s->rtxn;
	return 0;
}

static void read_end(struct lmdb_store *s, MDB_txn *txn)
{
	if (txn != s->rtxn) {
		mdb_txn_abort(txn);
		return;
	}
	/* Reset, not abort: the slot stays ours but pins no old pages. */
	mdb_txn_reset(txn);
	s->rtxn_busy = false;
}

static int lmdb_get(struct store *base, const char *key, char **val, size_t *len)
{
	struct lmdb_store *s = (struct lmdb_store *)base;
	size_t key_len = strlen(key);
	MDB_val k = {key_len, (void *)key}, v;
	MDB_txn *txn;
	char why[128];
	int rc;

	*val = NULL;
	*len = 0;
	if (!key_len || key_len > STORE_KEY_MAX)
		return PACER_ENOTFOUND;
	rc = read_begin(s, &txn);
	if (rc)
		goto fail;
	rc = mdb_get(txn, s->dbi, &k, &v);
	if (!rc) {
		*val = xmemdupz(v.mv_data, v.mv_size);
		*len = v.mv_size;
	}
	read_end(s, txn);
	if (rc == MDB_NOTFOUND)
		return PACER_ENOTFOUND;
	if (rc)
		goto fail;
	return 0;
fail:
	log_error("cannot read '%s' from store '%s': %s", key, s->dir, cause(rc, why, sizeof(why)));
	return lmdb_err(rc);
}

static int lmdb_scan(struct store *base, const char *prefix, store_scan_fn *fn, void *arg)
{
	struct lmdb_store *s = (struct lmdb_store *)base;
	size_t plen = strlen(prefix);
	MDB_val k = {plen, (void *)prefix}, v;
	char key[STORE_KEY_MAX + 1];
	MDB_cursor *cur;
	MDB_txn *txn;
	char why[128];
	int rc, ret = 0;

	if (plen > STORE_KEY_MAX)
		return 0; /* no key is that long */
	rc = read_begin(s, &txn);
	if (rc)
		goto fail;
	rc = mdb_cursor_open(txn, s->dbi, &cur);
	if (rc)
		goto fail_txn;
	/* LMDB refuses an empty key for MDB_SET_RANGE. */
	rc = mdb_cursor_get(cur, &k, &v, plen ? MDB_SET_RANGE : MDB_FIRST);
	while (!rc) {
		if (k.mv_size < plen || memcmp(k.mv_data, prefix, plen) != 0)
			break;
		memcpy(key, k.mv_data, k.mv_size); /* LMDB keys fit: at most 511 bytes */
		key[k.mv_size] = '\0';
		ret = fn(arg, key, k.mv_size, v.mv_data, v.mv_size);
		if (ret)
			break;
		rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
	}
	mdb_cursor_close(cur);
	read_end(s, txn);
	if (ret)
		return ret;
	if (rc && rc != MDB_NOTFOUND)
		goto fail;
	return 0;
fail_txn:
	read_end(s, txn);
fail:
	log_error("cannot scan '%s' in store '%s': %s", prefix, s->dir,
		  cause(rc, why, sizeof(why)));
	return lmdb_err(rc);
}

/* ---- writes, on the store thread ---- */

/* Deletes every key starting with prefix; re-seeks after each delete, which is simple and sure. */
static int del_prefix(MDB_txn *txn, MDB_dbi dbi, const MDB_val *prefix, uint64_t *ops)
{
	MDB_cursor *cur;
	MDB_val k, v;
	int rc;

	rc = mdb_cursor_open(txn, dbi, &cur);
	if (rc)
		return rc;
	for (;;) {
		k = *prefix;
		rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
		if (rc)
			break;
		if (k.mv_size < prefix->mv_size ||
		    memcmp(k.mv_data, prefix->mv_data, prefix->mv_size) != 0)
			break;
		rc = mdb_cursor_del(cur, 0);
		if (rc)
			break;
		(*ops)++;
	}
	mdb_cursor_close(cur);
	return rc == MDB_NOTFOUND ? 0 : rc;
}

static int apply_batch(struct lmdb_store *s, MDB_txn *txn, struct pending *p)
{
	const struct store_batch *b = p->batch;
	int rc = 0;

	for (size_t i = 0; i < b->nr && !rc; i++) {
		const struct store_op *op = &b->ops[i];
		MDB_val k = {op->key_len, (void *)store_op_key(b, op)};
		MDB_val v = {op->val_len, (void *)store_op_val(b, op)};

		switch (op->kind) {
		case STORE_OP_PUT:
			rc = mdb_put(txn, s->dbi, &k, &v, 0);
			p->ops += !rc;
			break;
		case STORE_OP_DEL:
			rc = mdb_del(txn, s->dbi, &k, NULL);
			p->ops += !rc;
			if (rc == MDB_NOTFOUND)
				rc = 0;
			break;
		case STORE_OP_DEL_PREFIX:
			rc = del_prefix(txn, s->dbi, &k, &p->ops);
			break;
		}
	}
	return rc;
}

/*
 * Applies a group in one transaction. Returns 1 when it committed, 0 when
 * there was nothing to write, -1 when the transaction failed (and was
 * aborted: every valid batch of the group then carries the error).
 */
static int apply_group(struct lmdb_store *s, struct pending *group)
{
	struct pending *p;
	bool any = false;
	MDB_txn *txn;
	char why[128];
	int rc;

	for (p = group; p; p = p->next) {
		p->status = p->batch->err;
		p->ops = 0;
		if (!p->status && p->batch->nr)
			any = true;
	}
	if (!any)
		return 0;
	rc = mdb_txn_begin(s->env, NULL, 0, &txn);
	if (rc)
		goto fail;
	for (p = group; p; p = p->next) {
		if (p->status)
			continue;
		rc = apply_batch(s, txn, p);
		if (rc) {
			mdb_txn_abort(txn);
			goto fail;
		}
	}
	rc = mdb_txn_commit(txn); /* writes and fsyncs; frees txn either way */
	if (rc)
		goto fail;
	return 1;
fail:
	log_error("cannot commit to store '%s': %s", s->dir, cause(rc, why, sizeof(why)));
	for (p = group; p; p = p->next) {
		if (!p->status) {
			p->status = lmdb_err(rc);
			p->ops = 0;
		}
	}
	return -1;
}

/* Detaches the head of the queue, up to the group bounds. Under mu. */
static struct pending *take_group(struct lmdb_store *s)
{
	struct pending *first = s->queue.head, *last = first, *p = first->next;
	size_t n = 1, bytes = first->batch->data.len;

	while (p && n < GROUP_MAX_BATCHES && bytes + p->batch->data.len <= GROUP_MAX_BYTES) {
		bytes += p->batch->data.len;
		n++;
		last = p;
		p = p->next;
	}
	last->next = NULL;
	s->queue.head = p;
	if (!p)
		s->queue.tailp = &s->queue.head;
	return first;
}

static void store_thread(void *arg)
{
	struct lmdb_store *s = arg;

	uv_mutex_lock(&s->mu);
	for (;;) {
		while (!s->queue.head && !s->stopping)
			uv_cond_wait(&s->cond, &s->mu);
		if (!s->queue.head)
			break; /* stopping, and the queue is drained */
		struct pending *group = take_group(s);
		uv_mutex_unlock(&s->mu);

		int rc = apply_group(s, group);

		uv_mutex_lock(&s->mu);
		if (rc > 0)
			s->txn_commits++;
		else if (rc < 0)
			s->txn_failures++;
		list_append(&s->done, group);
		uv_mutex_unlock(&s->mu);
		uv_async_send(s->async);
		uv_mutex_lock(&s->mu);
	}
	uv_mutex_unlock(&s->mu);
}

/* ---- back on the loop thread ---- */

/* Runs the callbacks of every applied batch, in submission order. */
static void run_done(struct lmdb_store *s)
{
	struct pending *p, *next;
	uint64_t now;

	uv_mutex_lock(&s->mu);
	p = s->done.head;
	list_init(&s->done);
	s->stats.commits = s->txn_commits;
	s->stats.failures = s->txn_failures;
	uv_mutex_unlock(&s->mu);

	now = time_mono_ns();
	s->in_callback = true;
	for (; p; p = next) {
		next = p->next;
		s->stats.batches++;
		if (!p->status) {
			s->stats.ops += p->ops;
			s->stats.bytes_written += p->batch->val_bytes;
			if (p->batch->largest_val > s->stats.largest_value)
				s->stats.largest_value = p->batch->largest_val;
		}
		histogram_record(&s->stats.commit_latency, now - p->start_ns);
		store_batch_free(p->batch);
		s->outstanding--;
		p->cb(p->arg, p->status);
		free(p);
	}
	s->in_callback = false;
	/* Like a pending request, only outstanding commits keep the loop alive. */
	if (!s->outstanding)
		uv_unref((uv_handle_t *)s->async);
}

static void on_async(uv_async_t *h)
{
	run_done(h->data);
}

static void free_handle(uv_handle_t *h)
{
	free(h);
}

static int lmdb_commit(struct store *base, struct store_batch *b, store_commit_cb *cb, void *arg)
{
	struct lmdb_store *s = (struct lmdb_store *)base;
	struct pending *p;

	PACER_ASSERT(getpid() == s->pid);
	PACER_ASSERT(cb != NULL);
	if (s->closing) {
		store_batch_free(b);
		return PACER_ECLOSED;
	}
	p = xmalloc(sizeof(*p));
	p->next = NULL;
	p->batch = b;
	p->cb = cb;
	p->arg = arg;
	p->start_ns = time_mono_ns();
	p->ops = 0;
	p->status = 0;
	if (s->outstanding == 0)
		uv_ref((uv_handle_t *)s->async);
	s->outstanding++;

	uv_mutex_lock(&s->mu);
	*s->queue.tailp = p;
	s->queue.tailp = &p->next;
	uv_cond_signal(&s->cond);
	uv_mutex_unlock(&s->mu);
	return 0;
}

static void lmdb_stats(struct store *base, struct store_stats *out)
{
	*out = ((struct lmdb_store *)base)->stats;
}

static void lmdb_close(struct store *base)
{
	struct lmdb_store *s = (struct lmdb_store *)base;

	PACER_ASSERT(getpid() == s->pid);
	PACER_ASSERT(!s->in_callback && !s->rtxn_busy);
	s->closing = true;

	uv_mutex_lock(&s->mu);
	s->stopping = true;
	uv_cond_signal(&s->cond);
	uv_mutex_unlock(&s->mu);
	uv_thread_join(&s->thread); /* the thread drains the queue first */
	run_done(s);

	s->async->data = NULL;
	uv_close((uv_handle_t *)s->async, free_handle);
	if (s->rtxn)
		mdb_txn_abort(s->rtxn);
	mdb_env_close(s->env);
	uv_cond_destroy(&s->cond);
	uv_mutex_destroy(&s->mu);
	free(s->dir);
	free(s);
}

static const struct store_ops lmdb_ops = {
	.name = "lmdb",
	.get = lmdb_get,
	.scan = lmdb_scan,
	.commit = lmdb_commit,
	.stats = lmdb_stats,
	.close = lmdb_close,
};

/* mkdir -p, mode 0700 (the store holds app definitions, env vars included). */
static int mkdir_parents(const char *dir)
{
	char *path = xstrdup(dir);
	struct stat st;
	int rc = 0;

	for (char *p = path + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		char c = *p;
		*p = '\0';
		if (mkdir(path, 0700) && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	if (!rc && stat(dir, &st))
		rc = -errno;
	else if (!rc && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR;
	free(path);
	return rc;
}

/* Creates and opens s->env (closed again on failure) and the main DB. */
static int env_open(struct lmdb_store *s, const char *dir)
{
	size_t map = MAP_SIZE;
	MDB_txn *txn;
	int rc, dead;

	for (;;) {
		rc = mdb_env_create(&s->env);
		if (rc)
			return rc;
		rc = mdb_env_set_mapsize(s->env, map);
		if (!rc)
			rc = mdb_env_set_maxreaders(s->env, MAX_READERS);
		if (!rc)
			rc = mdb_env_open(s->env, dir, MDB_NOTLS, 0600);
		if (!rc)
			break;
		mdb_env_close(s->env);
		/* mmap() refusing the reservation says ENOMEM or EINVAL. */
		if ((rc != ENOMEM && rc != EINVAL) || map / 2 < MAP_SIZE_MIN)
			return rc;
		map /= 2;
	}
	if (map < MAP_SIZE)
		log_warn("store '%s' maps %zu MiB: no room to reserve %zu MiB of address space",
			 dir, map >> 20, MAP_SIZE >> 20);
	/* Frees the read slots of processes that died holding them (e.g. a kill -9). */
	mdb_reader_check(s->env, &dead);
	rc = mdb_txn_begin(s->env, NULL, MDB_RDONLY, &txn);
	if (rc)
		goto err_env;
	rc = mdb_dbi_open(txn, NULL, 0, &s->dbi); /* the main DB: keys in bytewise order */
	if (rc) {
		mdb_txn_abort(txn);
		goto err_env;
	}
	rc = mdb_txn_commit(txn);
	if (rc)
		goto err_env;
	return 0;
err_env:
	mdb_env_close(s->env);
	return rc;
}

int store_lmdb_open(struct store **out, const char *dir, uv_loop_t *loop)
{
	struct lmdb_store *s;
	sigset_t all, old;
	const char *why;
	char buf[128];
	int rc, err;

	*out = NULL;
	if (!*dir) {
		log_error("cannot open store 'lmdb:': no directory given (expected lmdb:DIR)");
		return PACER_EBADCONFIG;
	}
	err = mkdir_parents(dir);
	if (err) {
		log_error("cannot open store '%s': %s", dir, cause(-err, buf, sizeof(buf)));
		return err;
	}

	s = xcalloc(1, sizeof(*s));
	s->base.ops = &lmdb_ops;
	s->dir = xstrdup(dir);
	s->pid = getpid();
	list_init(&s->queue);
	list_init(&s->done);

	rc = env_open(s, dir);
	if (rc)
		goto err_lmdb;

	err = uv_mutex_init(&s->mu);
	if (err)
		goto err_env;
	err = uv_cond_init(&s->cond);
	if (err)
		goto err_mutex;
	s->async = xmalloc(sizeof(*s->async));
	err = uv_async_init(loop, s->async, on_async);
	if (err) {
		free(s->async);
		goto err_cond;
	}
	s->async->data = s;
	uv_unref((uv_handle_t *)s->async);
	/* The store thread takes no signals: they are the loop's business. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = uv_thread_create(&s->thread, store_thread, s);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		goto err_async;

	*out = &s->base;
	return 0;

err_async:
	uv_close((uv_handle_t *)s->async, free_handle);
err_cond:
	uv_cond_destroy(&s->cond);
err_mutex:
	uv_mutex_destroy(&s->mu);
err_env:
	why = uv_strerror(err); /* uv errors are -errno here */
	mdb_env_close(s->env);
	goto err_free;
err_lmdb:
	why = cause(rc, buf, sizeof(buf));
	err = lmdb_err(rc);
err_free:
	log_error("cannot open store '%s': %s", dir, why);
	free(s->dir);
	free(s);
	return err;
}
