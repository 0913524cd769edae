/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The key-value store behind all of Pacer's state: a struct of function
 * pointers chosen at run time from a URI ("lmdb:/var/lib/pacer"; "zk://..."
 * later). Keys are NUL-free strings (see docs/architecture.md for the key
 * layout); values are bytes.
 *
 * Threads: every function here is called from the loop thread. Reads are
 * synchronous and cheap (LMDB read transactions). Writes go through
 * store_commit(): the batch is queued to the one store thread, which merges
 * every batch queued at that moment into one transaction and one fsync
 * (group commit), then reports back on the loop, in submission order.
 */
#ifndef PACER_STORE_STORE_H
#define PACER_STORE_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/histogram.h"

struct store;
struct store_batch;

/*
 * Longest key (and del_prefix prefix) in bytes: LMDB's compiled-in limit, kept
 * for every backend so a key valid on one is valid on all. Keys are 1 to
 * STORE_KEY_MAX bytes.
 */
#define STORE_KEY_MAX 511

/* Called on the loop thread once the batch is durable (status 0) or failed (< 0). */
typedef void store_commit_cb(void *arg, int status);
/*
 * Called for each key under a prefix, in key order. key and val are valid only
 * during the call; key is NUL-terminated, val is not (it may point into the
 * store's memory map: never write through it). Return 0 to go on, non-zero to
 * stop (store_scan then returns that value).
 */
typedef int store_scan_fn(void *arg, const char *key, size_t key_len, const void *val,
			  size_t val_len);

struct store_stats {
	uint64_t commits;        /* transactions committed (each one fsync) */
	uint64_t batches;        /* store_commit() calls completed */
	uint64_t ops;            /* puts and deletes applied */
	uint64_t bytes_written;  /* value bytes put */
	uint64_t largest_value;  /* largest single value ever put */
	uint64_t failures;       /* transactions that failed */
	struct histogram commit_latency; /* from store_commit() to its callback */
};

struct store_ops {
	const char *name;
	int (*get)(struct store *s, const char *key, char **val, size_t *len);
	int (*scan)(struct store *s, const char *prefix, store_scan_fn *fn, void *arg);
	int (*commit)(struct store *s, struct store_batch *b, store_commit_cb *cb, void *arg);
	void (*stats)(struct store *s, struct store_stats *out);
	void (*close)(struct store *s);
};

struct store {
	const struct store_ops *ops;
};

/*
 * Opens the store named by uri ("lmdb:DIR"; DIR is created when missing) on
 * the given loop and starts its store thread. Returns 0 and *out, or a
 * negative code (PACER_EBADCONFIG for an unknown scheme, -errno for I/O) with
 * a message already logged.
 *
 * The store belongs to the process that opened it: never use it in a forked
 * child (LMDB forbids it); a child opens its own.
 */
int store_open(struct store **out, const char *uri, uv_loop_t *loop);

/*
 * Reads one key. Returns 0 with *val (NUL-terminated copy, caller frees) and
 * *len, PACER_ENOTFOUND when absent (also for a key no store can hold: empty
 * or longer than STORE_KEY_MAX), or another negative code.
 */
static inline int store_get(struct store *s, const char *key, char **val, size_t *len)
{
	return s->ops->get(s, key, val, len);
}

/* Visits every key that starts with prefix; returns 0, fn's non-zero value, or < 0. */
static inline int store_scan(struct store *s, const char *prefix, store_scan_fn *fn, void *arg)
{
	return s->ops->scan(s, prefix, fn, arg);
}

/*
 * Queues batch (ownership passes to the store, even on error) for the next
 * group commit. cb runs on the loop thread after the commit that holds the
 * batch, with 0 when durable (fsynced). Batches commit, and callbacks run, in
 * the order submitted. A batch holding an invalid key (see store_batch_put)
 * is not applied and its cb gets PACER_EINVALID, in its turn. When the
 * transaction holding a batch fails, it is aborted (the store is unchanged)
 * and every batch it held gets the error. Returns 0, or PACER_ECLOSED once
 * store_close() has started, in which case cb is never called.
 *
 * Like a pending libuv request, an outstanding commit keeps the loop alive
 * (uv_run(UV_RUN_DEFAULT) returns once every callback has run); an idle store
 * does not.
 */
static inline int store_commit(struct store *s, struct store_batch *b, store_commit_cb *cb,
			       void *arg)
{
	return s->ops->commit(s, b, cb, arg);
}

static inline void store_get_stats(struct store *s, struct store_stats *out)
{
	s->ops->stats(s, out);
}

/*
 * Waits for queued commits to finish (their callbacks run, inside this call;
 * a store_commit() from one of them gets PACER_ECLOSED), stops the store
 * thread and frees the store: s is invalid when this returns. Must be called
 * on the loop thread, not from a store callback or scan function.
 *
 * One libuv handle outlives the call: it is closed here (uv_close) and freed
 * by its close callback, so the caller must run the loop once more (e.g.
 * uv_run(loop, UV_RUN_DEFAULT) after closing its own handles) before
 * uv_loop_close(), which reports UV_EBUSY until then.
 */
static inline void store_close(struct store *s)
{
	s->ops->close(s);
}

/*
 * Batches: an ordered list of puts and deletes, applied atomically. An empty
 * key or prefix, or one longer than STORE_KEY_MAX, is not added and marks the
 * batch invalid (it then fails as a whole with PACER_EINVALID at commit).
 */
struct store_batch *store_batch_new(void);
void store_batch_free(struct store_batch *b);
/* Copies key and val. */
void store_batch_put(struct store_batch *b, const char *key, const void *val, size_t len);
void store_batch_del(struct store_batch *b, const char *key);
/* Deletes every key that starts with prefix (at commit time). */
void store_batch_del_prefix(struct store_batch *b, const char *prefix);
size_t store_batch_count(const struct store_batch *b);
/* 0, or PACER_EINVALID when a rejected key made the batch invalid. */
int store_batch_error(const struct store_batch *b);

#endif
