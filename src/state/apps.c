/* SPDX-License-Identifier: Apache-2.0 */
/* The apps index and its store records; see apps.h. */
#include "state/apps.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "model/pathid.h"

struct group_count {
	char *id;
	size_t n;
};

struct txn_op {
	char *id;
	struct app_def *def; /* NULL: delete */
	int restart;         /* a configuration change whatever def says */
};

struct apps_txn {
	struct apps *a;
	struct txn_op *ops;
	size_t n, alloc;
	struct hashmap by_id;       /* id -> index + 1 into ops, once a batch is large */
	int64_t version;
	apps_txn_cb *cb;
	void *arg;
};

static void app_key(struct strbuf *sb, const char *id)
{
	strbuf_reset(sb);
	strbuf_addstr(sb, "apps");
	strbuf_addstr(sb, id);
}

static void version_prefix(struct strbuf *sb, const char *id)
{
	strbuf_reset(sb);
	strbuf_addstr(sb, "appversions");
	strbuf_addstr(sb, id);
	strbuf_addch(sb, '@');
}

static void version_key(struct strbuf *sb, const char *id, int64_t version)
{
	char iso[TIME_ISO_LEN];

	time_format_iso(version, iso);
	version_prefix(sb, id);
	strbuf_addstr(sb, iso);
}

static void app_free(struct app *app)
{
	if (!app)
		return;
	app_def_free(app->def);
	free(app->def_json);
	free(app->versions);
	free(app->id);
	free(app);
}

static void app_set_def(struct app *app, struct app_def *def)
{
	struct strbuf sb = STRBUF_INIT;

	app_def_free(app->def);
	free(app->def_json);
	app->def = def;
	app_def_serialize_public(def, &sb);
	app->def_json = strbuf_detach(&sb, &app->def_json_len);
}

static void app_add_version(struct app *app, int64_t v)
{
	size_t i = app->nversions;

	ALLOC_GROW(app->versions, app->nversions + 1, app->alloc_versions);
	while (i > 0 && app->versions[i - 1] > v)
		i--;
	if (i > 0 && app->versions[i - 1] == v)
		return;
	memmove(app->versions + i + 1, app->versions + i, (app->nversions - i) * sizeof(int64_t));
	app->versions[i] = v;
	app->nversions++;
}

/* Counts id in every ancestor group but the root: delta is +1 or -1. */
static void groups_adjust(struct apps *a, const char *id, int delta)
{
	struct strbuf g = STRBUF_INIT;
	const char *p;

	for (p = strchr(id + 1, '/'); p; p = strchr(p + 1, '/')) {
		struct group_count *gc;

		strbuf_reset(&g);
		strbuf_add(&g, id, (size_t)(p - id));
		gc = hashmap_get(&a->groups, g.buf);
		if (!gc) {
			PACER_ASSERT(delta > 0);
			gc = xcalloc(1, sizeof(*gc));
			gc->id = xstrdup(g.buf);
			hashmap_put(&a->groups, gc->id, gc);
		}
		gc->n += (size_t)delta;
		if (!gc->n) {
			hashmap_remove(&a->groups, gc->id);
			free(gc->id);
			free(gc);
		}
	}
	strbuf_release(&g);
}

static void index_insert(struct apps *a, struct app *app)
{
	hashmap_put(&a->by_id, app->id, app);
	groups_adjust(a, app->id, 1);
	a->sorted_dirty = 1;
}

static void index_remove(struct apps *a, struct app *app)
{
	hashmap_remove(&a->by_id, app->id);
	groups_adjust(a, app->id, -1);
	a->sorted_dirty = 1;
}

static int parse_ts(json_t *rec, const char *field, int64_t *out)
{
	const char *s = json_string_value(json_object_get(rec, field));

	return s ? time_parse_iso(s, out) : PACER_EBADJSON;
}

/* Builds an app from its apps/<id> record, reading its current definition. */
static int load_app(struct apps *a, const char *id, const char *rec_buf, size_t rec_len,
		    struct app **out)
{
	struct strbuf key = STRBUF_INIT;
	struct app_def *def = NULL;
	struct app *app;
	char *val = NULL;
	size_t len;
	json_t *rec;
	int64_t version, scaling, config;
	int err;

	rec = json_loadb(rec_buf, rec_len, 0, NULL);
	if (!rec || parse_ts(rec, "version", &version) || parse_ts(rec, "lastScalingAt", &scaling) ||
	    parse_ts(rec, "lastConfigChangeAt", &config)) {
		json_decref(rec);
		log_error("cannot load app '%s': its record is corrupt", id);
		return PACER_EBADJSON;
	}
	json_decref(rec);
	version_key(&key, id, version);
	err = store_get(a->store, key.buf, &val, &len);
	if (!err)
		err = app_def_from_stored(val, len, &def);
	free(val);
	if (err) {
		log_error("cannot load app '%s': definition '%s': %s", id, key.buf,
			  pacer_strerror(err));
		strbuf_release(&key);
		return err;
	}
	strbuf_release(&key);
	app = xcalloc(1, sizeof(*app));
	app->id = xstrdup(id);
	app->version = version;
	app->last_scaling_at = scaling;
	app->last_config_change_at = config;
	app_set_def(app, def);
	if (version > a->last_version)
		a->last_version = version;
	*out = app;
	return 0;
}

struct load_ctx {
	struct apps *a;
	struct store_batch *orphans;
	struct app *only; /* when reloading one app: collect its versions only */
	int err;
};

static int load_app_cb(void *arg, const char *key, size_t key_len, const void *val,
		       size_t val_len)
{
	struct load_ctx *ctx = arg;
	struct app *app;
	int err;

	err = load_app(ctx->a, key + 4, val, val_len, &app);
	if (err) {
		ctx->err = err;
		return 0; /* report every corrupt app, then fail */
	}
	index_insert(ctx->a, app);
	return 0;
}

static int load_version_cb(void *arg, const char *key, size_t key_len, const void *val,
			   size_t val_len)
{
	struct load_ctx *ctx = arg;
	const char *at = strrchr(key, '@');
	struct app *app;
	int64_t v;
	char *id;

	if (!at || time_parse_iso(at + 1, &v)) {
		log_warn("ignoring malformed store key '%s'", key);
		return 0;
	}
	id = xstrndup(key + strlen("appversions"), (size_t)(at - key) - strlen("appversions"));
	app = ctx->only ? ctx->only : apps_get(ctx->a, id);
	if (ctx->only && strcmp(id, ctx->only->id))
		app = NULL;
	if (app)
		app_add_version(app, v);
	else if (ctx->orphans)
		store_batch_del(ctx->orphans, key);
	free(id);
	return 0;
}

static void orphans_done(void *arg, int status)
{
	if (status)
		log_warn("cannot remove orphaned app versions: %s", pacer_strerror(status));
}

int apps_init(struct apps *a, struct store *store, size_t max_versions)
{
	struct load_ctx ctx = {.a = a};
	int err;

	memset(a, 0, sizeof(*a));
	a->store = store;
	a->max_versions = max_versions ? max_versions : 1;
	hashmap_init(&a->by_id);
	hashmap_init(&a->groups);
	err = store_scan(store, "apps/", load_app_cb, &ctx);
	if (!err)
		err = ctx.err;
	if (err)
		goto fail;
	ctx.orphans = store_batch_new();
	err = store_scan(store, "appversions/", load_version_cb, &ctx);
	if (err) {
		store_batch_free(ctx.orphans);
		goto fail;
	}
	if (store_batch_count(ctx.orphans)) {
		log_info("removing %zu orphaned app versions", store_batch_count(ctx.orphans));
		err = store_commit(store, ctx.orphans, orphans_done, NULL);
		if (err)
			goto fail;
	} else {
		store_batch_free(ctx.orphans);
	}
	a->generation = 1;
	return 0;
fail:
	apps_release(a);
	return err;
}

void apps_release(struct apps *a)
{
	const char *key;
	void *val;

	for (size_t i = 0; hashmap_next(&a->by_id, &i, &key, &val);)
		app_free(val);
	for (size_t i = 0; hashmap_next(&a->groups, &i, &key, &val);) {
		struct group_count *gc = val;

		free(gc->id);
		free(gc);
	}
	hashmap_release(&a->by_id);
	hashmap_release(&a->groups);
	free(a->sorted);
	a->sorted = NULL;
	a->nsorted = a->alloc_sorted = 0;
}

struct app *apps_get(const struct apps *a, const char *id)
{
	return hashmap_get(&a->by_id, id);
}

static int cmp_app_id(const void *x, const void *y)
{
	const struct app *const *l = x, *const *r = y;

	return strcmp((*l)->id, (*r)->id);
}

struct app *const *apps_sorted(struct apps *a, size_t *n)
{
	if (a->sorted_dirty || a->nsorted != apps_count(a)) {
		const char *key;
		void *val;
		size_t k = 0;

		ALLOC_GROW(a->sorted, apps_count(a), a->alloc_sorted);
		for (size_t i = 0; hashmap_next(&a->by_id, &i, &key, &val);)
			a->sorted[k++] = val;
		qsort(a->sorted, k, sizeof(*a->sorted), cmp_app_id);
		a->nsorted = k;
		a->sorted_dirty = 0;
	}
	*n = a->nsorted;
	return a->sorted;
}

int apps_check_path(const struct apps *a, const char *id, struct strbuf *why)
{
	struct strbuf g = STRBUF_INIT;
	int err = 0;

	for (const char *p = strchr(id + 1, '/'); p; p = strchr(p + 1, '/')) {
		strbuf_reset(&g);
		strbuf_add(&g, id, (size_t)(p - id));
		if (apps_get(a, g.buf)) {
			strbuf_addf(why, "cannot create '%s': '%s' is an app, not a group", id,
				    g.buf);
			err = PACER_ECONFLICT;
			break;
		}
	}
	strbuf_release(&g);
	if (!err && hashmap_get(&a->groups, id)) {
		strbuf_addf(why, "cannot create app '%s': a group with id '%s' already exists", id,
			    id);
		err = PACER_ECONFLICT;
	}
	return err;
}

int apps_load_version(struct apps *a, const char *id, int64_t version, struct app_def **out)
{
	struct strbuf key = STRBUF_INIT;
	char *val = NULL;
	size_t len;
	int err;

	version_key(&key, id, version);
	err = store_get(a->store, key.buf, &val, &len);
	strbuf_release(&key);
	if (!err)
		err = app_def_from_stored(val, len, out);
	free(val);
	return err;
}

struct apps_txn *apps_txn_begin(struct apps *a)
{
	struct apps_txn *t = xcalloc(1, sizeof(*t));
	int64_t now = time_now_ms();

	t->a = a;
	t->version = now > a->last_version ? now : a->last_version + 1;
	a->last_version = t->version;
	return t;
}

int64_t apps_txn_version(const struct apps_txn *t)
{
	return t->version;
}

/* Small transactions scan; a batch of thousands (PUT /v2/apps [...]) looks up by id. */
#define TXN_SCAN_MAX 16

static struct txn_op *txn_slot(struct apps_txn *t, const char *id)
{
	size_t found = SIZE_MAX;

	if (t->n > TXN_SCAN_MAX) {
		if (!t->by_id.cap) {
			hashmap_init(&t->by_id);
			for (size_t i = 0; i < t->n; i++)
				hashmap_put(&t->by_id, t->ops[i].id, (void *)(uintptr_t)(i + 1));
		}
		found = (size_t)(uintptr_t)hashmap_get(&t->by_id, id);
		found = found ? found - 1 : SIZE_MAX;
	} else {
		for (size_t i = 0; i < t->n; i++)
			if (!strcmp(t->ops[i].id, id))
				found = i;
	}
	if (found != SIZE_MAX) {
		app_def_free(t->ops[found].def);
		t->ops[found].def = NULL;
		t->ops[found].restart = 0;
		return &t->ops[found];
	}
	ALLOC_GROW(t->ops, t->n + 1, t->alloc);
	t->ops[t->n].id = xstrdup(id);
	t->ops[t->n].def = NULL;
	t->ops[t->n].restart = 0;
	if (t->by_id.cap)
		hashmap_put(&t->by_id, t->ops[t->n].id, (void *)(uintptr_t)(t->n + 1));
	return &t->ops[t->n++];
}

void apps_txn_put(struct apps_txn *t, struct app_def *def)
{
	txn_slot(t, def->id)->def = def;
}

void apps_txn_restart(struct apps_txn *t, struct app_def *def)
{
	struct txn_op *op = txn_slot(t, def->id);

	op->def = def;
	op->restart = 1;
}

void apps_txn_delete(struct apps_txn *t, const char *id)
{
	txn_slot(t, id);
}

static void txn_free(struct apps_txn *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->ops[i].id);
		app_def_free(t->ops[i].def);
	}
	free(t->ops);
	hashmap_release(&t->by_id);
	free(t);
}

void apps_txn_abort(struct apps_txn *t)
{
	txn_free(t);
}

static void put_record(struct store_batch *b, struct strbuf *key, const struct app *app)
{
	char v[TIME_ISO_LEN], s[TIME_ISO_LEN], c[TIME_ISO_LEN];
	struct strbuf val = STRBUF_INIT;

	time_format_iso(app->version, v);
	time_format_iso(app->last_scaling_at, s);
	time_format_iso(app->last_config_change_at, c);
	strbuf_addf(&val, "{\"version\":\"%s\",\"lastScalingAt\":\"%s\",\"lastConfigChangeAt\":\"%s\"}",
		    v, s, c);
	app_key(key, app->id);
	store_batch_put(b, key->buf, val.buf, val.len);
	strbuf_release(&val);
}

static void apply_put(struct apps_txn *t, struct txn_op *op, struct store_batch *b,
		      struct strbuf *key)
{
	struct apps *a = t->a;
	struct app *app = apps_get(a, op->id);

	if (!app) {
		app = xcalloc(1, sizeof(*app));
		app->id = xstrdup(op->id);
		app->last_scaling_at = app->last_config_change_at = t->version;
		index_insert(a, app);
	} else if (!op->restart && app_def_only_scaling_differs(app->def, op->def)) {
		app->last_scaling_at = t->version;
	} else {
		app->last_scaling_at = app->last_config_change_at = t->version;
	}
	app->version = t->version;
	app_set_def(app, op->def);
	op->def = NULL;

	version_key(key, app->id, app->version);
	{
		struct strbuf full = STRBUF_INIT;

		app_def_serialize(app->def, &full);
		store_batch_put(b, key->buf, full.buf, full.len);
		strbuf_release(&full);
	}
	app_add_version(app, app->version);
	/* keep the newest max_versions versions */
	while (app->nversions > a->max_versions) {
		version_key(key, app->id, app->versions[0]);
		store_batch_del(b, key->buf);
		memmove(app->versions, app->versions + 1, (app->nversions - 1) * sizeof(int64_t));
		app->nversions--;
	}
	put_record(b, key, app);
}

static void apply_delete(struct apps_txn *t, struct txn_op *op, struct store_batch *b,
			 struct strbuf *key)
{
	struct app *app = apps_get(t->a, op->id);

	app_key(key, op->id);
	store_batch_del(b, key->buf);
	version_prefix(key, op->id);
	store_batch_del_prefix(b, key->buf);
	if (app) {
		index_remove(t->a, app);
		app_free(app);
	}
}

/* After a failed commit: make the app's memory match the store again. */
static void reload_app(struct apps *a, const char *id)
{
	struct strbuf key = STRBUF_INIT;
	struct app *old = apps_get(a, id), *app = NULL;
	char *val = NULL;
	size_t len;

	app_key(&key, id);
	if (!store_get(a->store, key.buf, &val, &len) && !load_app(a, id, val, len, &app)) {
		struct load_ctx ctx = {.a = a, .only = app};

		version_prefix(&key, id);
		store_scan(a->store, key.buf, load_version_cb, &ctx);
	}
	free(val);
	strbuf_release(&key);
	if (old) {
		index_remove(a, old);
		app_free(old);
	}
	if (app)
		index_insert(a, app);
	a->generation++;
}

static void txn_committed(void *arg, int status)
{
	struct apps_txn *t = arg;

	if (status) {
		log_error("cannot commit change of %zu apps: %s", t->n, pacer_strerror(status));
		for (size_t i = 0; i < t->n; i++)
			reload_app(t->a, t->ops[i].id);
	}
	if (t->cb)
		t->cb(t->arg, status, t->version);
	txn_free(t);
}

int apps_txn_commit(struct apps_txn *t, apps_txn_cb *cb, void *arg)
{
	struct store_batch *b = store_batch_new();
	struct strbuf key = STRBUF_INIT;
	int err;

	t->cb = cb;
	t->arg = arg;
	for (size_t i = 0; i < t->n; i++) {
		if (t->ops[i].def)
			apply_put(t, &t->ops[i], b, &key);
		else
			apply_delete(t, &t->ops[i], b, &key);
	}
	strbuf_release(&key);
	t->a->generation++;
	err = store_commit(t->a->store, b, txn_committed, t);
	if (err) {
		/* the store is closed: memory is ahead of it, put it back */
		for (size_t i = 0; i < t->n; i++)
			reload_app(t->a, t->ops[i].id);
		txn_free(t);
	}
	return err;
}
