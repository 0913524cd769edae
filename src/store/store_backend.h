/* SPDX-License-Identifier: Apache-2.0 */
/*
 * What store.c shares with the store backends, and nobody else: the layout of
 * a batch, which a backend reads on its store thread, and each backend's
 * constructor, which store_open() picks by URI scheme. Callers use store.h.
 */
#ifndef PACER_STORE_STORE_BACKEND_H
#define PACER_STORE_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/strbuf.h"
#include "store/store.h"

enum store_op_kind { STORE_OP_PUT, STORE_OP_DEL, STORE_OP_DEL_PREFIX };

/* One operation; key and value live in the batch's data buffer, by offset. */
struct store_op {
	enum store_op_kind kind;
	size_t key_off, key_len; /* the key is NUL-terminated in data */
	size_t val_off, val_len; /* puts only */
};

/*
 * A batch owns its ops and one buffer holding every key and value back to
 * back (offsets, not pointers, since the buffer moves as it grows). Once
 * committed it is only read, by the store thread, then freed on the loop.
 */
struct store_batch {
	struct store_op *ops;
	size_t nr, alloc;
	struct strbuf data;
	uint64_t val_bytes;   /* sum of put value lengths */
	uint64_t largest_val; /* longest put value */
	int err;              /* 0, or PACER_EINVALID once a key was rejected */
};

static inline const char *store_op_key(const struct store_batch *b, const struct store_op *op)
{
	return b->data.buf + op->key_off;
}

static inline const void *store_op_val(const struct store_batch *b, const struct store_op *op)
{
	return b->data.buf + op->val_off;
}

/*
 * Backend constructors, with store_open()'s contract; where is the part of
 * the URI after "scheme:" (for lmdb, the directory).
 */
int store_lmdb_open(struct store **out, const char *where, uv_loop_t *loop);

#endif
