/* SPDX-License-Identifier: Apache-2.0 */
/* Aborting allocation wrappers; see xalloc.h. */
#include "base/xalloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die_oom(size_t size)
{
	fprintf(stderr, "pacer: out of memory allocating %zu bytes\n", size);
	abort();
}

void *xmalloc(size_t size)
{
	void *p = malloc(size ? size : 1);
	if (!p)
		die_oom(size);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (!p)
		die_oom(st_mult(nmemb, size));
	return p;
}

void *xrealloc(void *ptr, size_t size)
{
	void *p = realloc(ptr, size ? size : 1);
	if (!p)
		die_oom(size);
	return p;
}

char *xstrdup(const char *s)
{
	return xmemdupz(s, strlen(s));
}

char *xstrndup(const char *s, size_t len)
{
	const char *end = memchr(s, '\0', len);
	return xmemdupz(s, end ? (size_t)(end - s) : len);
}

void *xmemdupz(const void *data, size_t len)
{
	char *p = xmalloc(st_add(len, 1));
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	return p;
}

size_t st_add(size_t a, size_t b)
{
	if (SIZE_MAX - a < b) {
		fprintf(stderr, "pacer: size overflow: %zu + %zu\n", a, b);
		abort();
	}
	return a + b;
}

size_t st_mult(size_t a, size_t b)
{
	if (a && SIZE_MAX / a < b) {
		fprintf(stderr, "pacer: size overflow: %zu * %zu\n", a, b);
		abort();
	}
	return a * b;
}
