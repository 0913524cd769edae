/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Growable byte strings. Invariants: buf is never NULL and always
 * NUL-terminated at buf[len]; alloc is the allocated size (0 while buf points
 * at the shared empty string). A strbuf owns its buf; strbuf_detach hands it
 * over to the caller.
 */
#ifndef PACER_BASE_STRBUF_H
#define PACER_BASE_STRBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct strbuf {
	size_t alloc;
	size_t len;
	char *buf;
};

extern char strbuf_slopbuf[];
#define STRBUF_INIT {.alloc = 0, .len = 0, .buf = strbuf_slopbuf}

void strbuf_init(struct strbuf *sb, size_t hint);
void strbuf_release(struct strbuf *sb);
/* Returns the buffer (caller frees) and leaves sb empty and reusable. */
char *strbuf_detach(struct strbuf *sb, size_t *len);
void strbuf_grow(struct strbuf *sb, size_t extra);
void strbuf_reset(struct strbuf *sb);
void strbuf_setlen(struct strbuf *sb, size_t len);

void strbuf_add(struct strbuf *sb, const void *data, size_t len);
void strbuf_addstr(struct strbuf *sb, const char *s);
void strbuf_addch(struct strbuf *sb, int c);
__attribute__((format(printf, 2, 3))) void strbuf_addf(struct strbuf *sb, const char *fmt, ...);
void strbuf_vaddf(struct strbuf *sb, const char *fmt, va_list ap);

/* Appends s as a JSON string literal, quotes included. */
void strbuf_add_json_str(struct strbuf *sb, const char *s);
void strbuf_add_json_strn(struct strbuf *sb, const char *s, size_t len);
/* Appends a JSON number: integers exactly, doubles in shortest round-trip form. */
void strbuf_add_json_int(struct strbuf *sb, int64_t v);
void strbuf_add_json_double(struct strbuf *sb, double v);

#endif
