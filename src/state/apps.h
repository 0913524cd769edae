/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The set of apps the server manages: an in-memory index over the store.
 * Owns the store keys of apps (see docs/architecture.md):
 *   apps/<id>                  {"version", "lastScalingAt", "lastConfigChangeAt"}
 *   appversions/<id>@<version> one normalized definition, as app_def_serialize writes it
 * ('@' cannot occur in an id, so one app's versions never share a prefix with
 * another app's).
 *
 * Changes go through a transaction: every app it touches gets the same new
 * version, the in-memory state changes at once (later requests see it), and
 * the callback runs when the change is durable. If the store fails, the apps
 * the transaction touched are reloaded from the store, which holds the truth,
 * and the callback gets the error.
 */
#ifndef PACER_STATE_APPS_H
#define PACER_STATE_APPS_H

#include <stddef.h>
#include <stdint.h>

#include "base/hashmap.h"
#include "base/strbuf.h"
#include "model/app.h"
#include "store/store.h"

struct app {
	char *id;                 /* canonical absolute id; the index key */
	struct app_def *def;      /* current definition */
	int64_t version;          /* ms since the epoch */
	int64_t last_scaling_at;
	int64_t last_config_change_at;
	char *def_json;           /* app_def_serialize_public(def), cached for answers */
	size_t def_json_len;
	int64_t *versions;        /* every stored version, ascending */
	size_t nversions, alloc_versions;
};

struct apps {
	struct store *store;
	struct hashmap by_id;     /* id -> struct app */
	struct hashmap groups;    /* group id -> struct group_count: apps below it */
	struct app **sorted;      /* by id, rebuilt lazily */
	size_t nsorted, alloc_sorted;
	int sorted_dirty;
	size_t max_versions;      /* versions kept per app (>= 1) */
	int64_t last_version;     /* versions are unique and increasing */
	uint64_t generation;      /* bumped by every change: for response caches */
};

/*
 * Loads every app from the store. Returns 0, or a negative code with a
 * message logged (a corrupt record is reported with its key).
 */
int apps_init(struct apps *a, struct store *store, size_t max_versions);
void apps_release(struct apps *a);

struct app *apps_get(const struct apps *a, const char *id);
static inline size_t apps_count(const struct apps *a)
{
	return hashmap_count(&a->by_id);
}
/* Every app, sorted by id; valid until the next change. */
struct app *const *apps_sorted(struct apps *a, size_t *n);

/*
 * Whether id can hold an app: no app may sit at an ancestor of id (that is a
 * group), and no app may sit below id (id is then a group). Returns 0, or
 * PACER_ECONFLICT with the reason appended to why.
 */
int apps_check_path(const struct apps *a, const char *id, struct strbuf *why);

/*
 * Reads the definition of id at version. Returns 0 and *out, PACER_ENOTFOUND,
 * or another negative code.
 */
int apps_load_version(struct apps *a, const char *id, int64_t version, struct app_def **out);

/* Transactions. */
struct apps_txn;
typedef void apps_txn_cb(void *arg, int status, int64_t version);

struct apps_txn *apps_txn_begin(struct apps *a);
/*
 * Sets def (ownership passes to the transaction) as the new definition of
 * its app, creating the app when new. Later puts of the same id in the same
 * transaction replace earlier ones.
 */
void apps_txn_put(struct apps_txn *t, struct app_def *def);
/* As apps_txn_put, counted as a configuration change even when def is unchanged:
 * a restart (every instance is replaced). */
void apps_txn_restart(struct apps_txn *t, struct app_def *def);
/* Removes the app and all its versions. */
void apps_txn_delete(struct apps_txn *t, const char *id);
/* The version the transaction will give its apps. */
int64_t apps_txn_version(const struct apps_txn *t);
/*
 * Applies the transaction in memory and commits it. cb runs once the change
 * is durable (status 0) or failed; the transaction is freed either way.
 * Returns 0, or a negative code (store closed) with nothing applied and cb
 * never called.
 */
int apps_txn_commit(struct apps_txn *t, apps_txn_cb *cb, void *arg);
void apps_txn_abort(struct apps_txn *t);

#endif
