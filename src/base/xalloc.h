/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Allocation that never returns NULL: each wrapper aborts with a message when
 * memory runs out, and size arithmetic is overflow-checked (st_add, st_mult),
 * so callers never carry an out-of-memory error path.
 */
#ifndef PACER_BASE_XALLOC_H
#define PACER_BASE_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t size);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *ptr, size_t size);
char *xstrdup(const char *s);
/* Copies at most len bytes of s and NUL-terminates the copy. */
char *xstrndup(const char *s, size_t len);
/* Copies exactly len bytes (which may contain NULs) and adds a NUL. */
void *xmemdupz(const void *data, size_t len);

/* a + b and a * b, aborting on overflow. */
size_t st_add(size_t a, size_t b);
size_t st_mult(size_t a, size_t b);

/* Grow *arr (of *alloc elements of elsize bytes) to hold at least n. */
#define ALLOC_GROW(arr, n, alloc)                                              \
	do {                                                                   \
		if ((size_t)(n) > (alloc)) {                                   \
			size_t _nalloc = (alloc) ? (alloc) * 2 : 8;            \
			if (_nalloc < (size_t)(n))                             \
				_nalloc = (size_t)(n);                         \
			(arr) = xrealloc((arr), st_mult(_nalloc, sizeof(*(arr)))); \
			(alloc) = _nalloc;                                     \
		}                                                              \
	} while (0)

#endif
