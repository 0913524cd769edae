/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Validation errors, collected while checking one request body and answered
 * as Marathon's 422 body:
 *   {"message":"Object is not valid","details":[{"path":"/cpus","errors":["..."]}]}
 * Errors on the same path are grouped under one detail, in the order added.
 */
#ifndef PACER_MODEL_VERRORS_H
#define PACER_MODEL_VERRORS_H

#include <stddef.h>

#include "base/strbuf.h"

struct verror {
	char *path;   /* JSON pointer-like: "/portDefinitions(0)/port" as Marathon writes it */
	char *error;  /* "must be at least 0.001" */
};

struct verrors {
	struct verror *v;
	size_t n, alloc;
	/* Set when a value had the wrong JSON type: the body's message is then
	 * "Invalid JSON" as Marathon's, else "Object is not valid". */
	int type_error;
};

#define VERRORS_INIT {0}

void verrors_init(struct verrors *e);
void verrors_release(struct verrors *e);
/* Adds one error at path (an empty path means the object itself, "/").
 * An error equal to one already added on the same path is not repeated. */
__attribute__((format(printf, 3, 4))) void verrors_add(struct verrors *e, const char *path,
						      const char *fmt, ...);
/* As verrors_add, and marks the body as badly typed (type_error). Messages are
 * Play JSON's: "error.expected.jsnumber", "error.expected.jsstring", ... */
__attribute__((format(printf, 3, 4))) void verrors_add_type(struct verrors *e, const char *path,
							   const char *fmt, ...);
/* "Invalid JSON" when type_error is set, else "Object is not valid". */
const char *verrors_message(const struct verrors *e);
/* Appends Marathon's error body for these errors to out. */
void verrors_to_json(const struct verrors *e, struct strbuf *out);

#endif
