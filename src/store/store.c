/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The backend-independent half of the store: store_open() picks a backend by
 * the URI's scheme, and batches are built here (validated as they are built,
 * so a backend never sees a key it cannot hold).
 */
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "store/store_backend.h"

typedef int store_open_fn(struct store **out, const char *where, uv_loop_t *loop);

static const struct {
	const char *scheme;
	store_open_fn *open;
} backends[] = {
	{"lmdb", store_lmdb_open},
};

int store_open(struct store **out, const char *uri, uv_loop_t *loop)
{
	const char *colon = strchr(uri, ':');
	size_t scheme_len;

	*out = NULL;
	if (!colon || colon == uri) {
		log_error("cannot open store '%s': no scheme (expected lmdb:DIR)", uri);
		return PACER_EBADCONFIG;
	}
	scheme_len = (size_t)(colon - uri);
	for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
		if (strlen(backends[i].scheme) == scheme_len &&
		    !memcmp(backends[i].scheme, uri, scheme_len))
			return backends[i].open(out, colon + 1, loop);
	}
	log_error("cannot open store '%s': unknown scheme '%.*s' (expected lmdb:DIR)", uri,
		  (int)scheme_len, uri);
	return PACER_EBADCONFIG;
}

struct store_batch *store_batch_new(void)
{
	struct store_batch *b = xcalloc(1, sizeof(*b));

	strbuf_init(&b->data, 0);
	return b;
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	free(b->ops);
	strbuf_release(&b->data);
	free(b);
}

/* Appends an op for key; NULL (and the batch marked invalid) when key is unfit. */
static struct store_op *add_op(struct store_batch *b, enum store_op_kind kind, const char *key)
{
	size_t key_len = strlen(key);
	struct store_op *op;

	if (!key_len || key_len > STORE_KEY_MAX) {
		log_warn("cannot add '%.64s%s' to a store batch: key must be 1 to %d bytes, "
			 "not %zu",
			 key, key_len > 64 ? "..." : "", STORE_KEY_MAX, key_len);
		b->err = PACER_EINVALID;
		return NULL;
	}
	ALLOC_GROW(b->ops, b->nr + 1, b->alloc);
	op = &b->ops[b->nr++];
	memset(op, 0, sizeof(*op));
	op->kind = kind;
	op->key_off = b->data.len;
	op->key_len = key_len;
	strbuf_add(&b->data, key, key_len + 1); /* with its NUL */
	return op;
}

void store_batch_put(struct store_batch *b, const char *key, const void *val, size_t len)
{
	struct store_op *op = add_op(b, STORE_OP_PUT, key);

	if (!op)
		return;
	op->val_off = b->data.len;
	op->val_len = len;
	strbuf_add(&b->data, val, len);
	b->val_bytes += len;
	if (len > b->largest_val)
		b->largest_val = len;
}

void store_batch_del(struct store_batch *b, const char *key)
{
	add_op(b, STORE_OP_DEL, key);
}

void store_batch_del_prefix(struct store_batch *b, const char *prefix)
{
	add_op(b, STORE_OP_DEL_PREFIX, prefix);
}

size_t store_batch_count(const struct store_batch *b)
{
	return b->nr;
}

int store_batch_error(const struct store_batch *b)
{
	return b->err;
}
