/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation errors of one request body and their rendering as Marathon's
 * error body; see verrors.h.
 */
#include "model/verrors.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void verrors_init(struct verrors *e)
{
	e->v = NULL;
	e->n = e->alloc = 0;
	e->type_error = 0;
}

void verrors_release(struct verrors *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].path);
		free(e->v[i].error);
	}
	free(e->v);
	verrors_init(e);
}

static void verrors_vadd(struct verrors *e, const char *path, const char *fmt, va_list ap)
{
	struct strbuf msg = STRBUF_INIT;

	strbuf_vaddf(&msg, fmt, ap);
	/* The same problem found twice (e.g. by two rules) is reported once. */
	for (size_t i = 0; i < e->n; i++) {
		if (!strcmp(e->v[i].path, path) && !strcmp(e->v[i].error, msg.buf)) {
			strbuf_release(&msg);
			return;
		}
	}
	ALLOC_GROW(e->v, e->n + 1, e->alloc);
	e->v[e->n].path = xstrdup(path && *path ? path : "/");
	e->v[e->n].error = strbuf_detach(&msg, NULL);
	e->n++;
}

void verrors_add(struct verrors *e, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	verrors_vadd(e, path, fmt, ap);
	va_end(ap);
}

void verrors_add_type(struct verrors *e, const char *path, const char *fmt, ...)
{
	va_list ap;

	e->type_error = 1;
	va_start(ap, fmt);
	verrors_vadd(e, path, fmt, ap);
	va_end(ap);
}

const char *verrors_message(const struct verrors *e)
{
	return e->type_error ? "Invalid JSON" : "Object is not valid";
}

void verrors_to_json(const struct verrors *e, struct strbuf *out)
{
	char *done = xcalloc(e->n ? e->n : 1, 1);

	strbuf_addstr(out, "{\"message\":");
	strbuf_add_json_str(out, verrors_message(e));
	strbuf_addstr(out, ",\"details\":[");
	for (size_t i = 0; i < e->n; i++) {
		if (done[i])
			continue;
		if (i)
			strbuf_addch(out, ',');
		strbuf_addstr(out, "{\"path\":");
		strbuf_add_json_str(out, e->v[i].path);
		strbuf_addstr(out, ",\"errors\":[");
		for (size_t j = i; j < e->n; j++) {
			if (done[j] || strcmp(e->v[j].path, e->v[i].path))
				continue;
			if (j != i)
				strbuf_addch(out, ',');
			strbuf_add_json_str(out, e->v[j].error);
			done[j] = 1;
		}
		strbuf_addstr(out, "]}");
	}
	strbuf_addstr(out, "]}");
	free(done);
}
