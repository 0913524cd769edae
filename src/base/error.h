/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Error codes. A function that can fail returns 0 or a negative code: -errno
 * for system errors, or one of Pacer's own codes below (a range of their own,
 * far from errno values). One table gives each code its name, message and
 * HTTP status, so an error travels unchanged from the store to the API.
 */
#ifndef PACER_BASE_ERROR_H
#define PACER_BASE_ERROR_H

#define PACER_ERRNO_MAP(X)                                                                 \
	X(BADJSON, -20001, 400, "invalid JSON")                                            \
	X(BADREQUEST, -20002, 400, "bad request")                                          \
	X(TOODEEP, -20003, 400, "JSON nesting too deep")                                   \
	X(NOTFOUND, -20004, 404, "not found")                                              \
	X(METHOD, -20005, 405, "method not allowed")                                       \
	X(CONFLICT, -20006, 409, "conflict")                                               \
	X(TOOBIG, -20007, 413, "request body too large")                                   \
	X(INVALID, -20008, 422, "Object is not valid")                                     \
	X(FORBIDDEN, -20009, 403, "forbidden")                                             \
	X(STORE, -20010, 500, "store failure")                                             \
	X(INTERNAL, -20011, 500, "internal error")                                         \
	X(UNAVAILABLE, -20012, 503, "service unavailable")                                 \
	X(BADCONFIG, -20013, 400, "invalid configuration")                                 \
	X(CLOSED, -20014, 503, "shutting down")

enum pacer_error {
#define PACER_ERR_ENUM(name, code, status, msg) PACER_E##name = code,
	PACER_ERRNO_MAP(PACER_ERR_ENUM)
#undef PACER_ERR_ENUM
};

/* "PACER_ENOTFOUND", "ENOENT", ... never NULL. */
const char *pacer_err_name(int err);
/* Human message: Pacer's own text, or strerror() for -errno. Never NULL. */
const char *pacer_strerror(int err);
/* HTTP status that answers this error (500 for system errors). */
int pacer_err_http_status(int err);

#endif
