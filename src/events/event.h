/* SPDX-License-Identifier: Apache-2.0 */
/*
 * One event of the bus: Marathon's event types, the event itself (its id,
 * type, app id and its bytes, serialized once) and subscriber filters.
 *
 * An event is immutable once made and shared by reference: the ring holds
 * one reference, every callback queue that still has to deliver it another.
 * Its bytes are the whole Server-Sent-Events frame
 *
 *     id: <id>\nevent: <type>\ndata: <json>\n\n
 *
 * and the JSON alone (for HTTP callbacks) is a slice of the same buffer, so
 * nothing is formatted per subscriber.
 */
#ifndef PACER_EVENTS_EVENT_H
#define PACER_EVENTS_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/strbuf.h"

/* Marathon 1.11's event types, then Pacer's own stream-control events. */
#define EVENT_TYPES(X)                                                                     \
	X(STATUS_UPDATE, "status_update_event")                                            \
	X(INSTANCE_CHANGED, "instance_changed_event")                                      \
	X(HEALTH_STATUS_CHANGED, "health_status_changed_event")                            \
	X(INSTANCE_HEALTH_CHANGED, "instance_health_changed_event")                        \
	X(FAILED_HEALTH_CHECK, "failed_health_check_event")                                \
	X(UNHEALTHY_INSTANCE_KILL, "unhealthy_instance_kill_event")                        \
	X(DEPLOYMENT_INFO, "deployment_info")                                              \
	X(DEPLOYMENT_SUCCESS, "deployment_success")                                        \
	X(DEPLOYMENT_FAILED, "deployment_failed")                                          \
	X(DEPLOYMENT_STEP_SUCCESS, "deployment_step_success")                              \
	X(DEPLOYMENT_STEP_FAILURE, "deployment_step_failure")                              \
	X(API_POST, "api_post_event")                                                      \
	X(GROUP_CHANGE_SUCCESS, "group_change_success")                                    \
	X(GROUP_CHANGE_FAILED, "group_change_failed")                                      \
	X(APP_TERMINATED, "app_terminated_event")                                          \
	X(ADD_HEALTH_CHECK, "add_health_check_event")                                      \
	X(REMOVE_HEALTH_CHECK, "remove_health_check_event")                                \
	X(EVENT_STREAM_ATTACHED, "event_stream_attached")                                  \
	X(EVENT_STREAM_DETACHED, "event_stream_detached")                                  \
	X(SUBSCRIBE, "subscribe_event")                                                    \
	X(UNSUBSCRIBE, "unsubscribe_event")                                                \
	X(RESYNC, "event_stream_resync")                                                   \
	X(OVERFLOW, "event_stream_overflow")

enum event_type {
#define EVENT_TYPE_ENUM(name, str) EVENT_##name,
	EVENT_TYPES(EVENT_TYPE_ENUM)
#undef EVENT_TYPE_ENUM
	EVENT_NTYPES
};

/* The largest event: bigger ones are trimmed by their builders (docs/events.md). */
#define EVENT_MAX_BYTES 4096

/* "status_update_event", ... */
const char *event_type_name(enum event_type t);
/* Returns 0 and *out for a known name, PACER_EBADREQUEST otherwise. */
int event_type_parse(const char *name, enum event_type *out);

struct event {
	unsigned refs;
	uint64_t id;               /* 0 for per-subscriber events (no id: line) */
	enum event_type type;
	char *app_id;              /* the app it concerns, or NULL */
	char *frame;               /* the SSE frame, NUL-terminated */
	size_t frame_len;
	size_t data_off, data_len; /* the JSON inside frame */
	uint64_t made_ns;          /* monotonic, when it was made (for lag figures) */
};

/*
 * Makes an event with one reference. fields is the JSON object's members
 * without braces (may be empty); the event appends "eventType" and
 * "timestamp" (now) as Marathon does. id 0 writes no id: line. app_id may be
 * NULL. Never fails.
 */
struct event *event_new(uint64_t id, enum event_type type, const char *app_id,
			const char *fields, size_t fields_len);
struct event *event_ref(struct event *e);
/* Drops one reference; frees e with the last. NULL is allowed. */
void event_unref(struct event *e);

/*
 * A subscriber's filter: a set of event types (empty: all) and app id
 * prefixes (none: all). A prefix matches an app id equal to it or below it
 * ("/prod" matches "/prod" and "/prod/web", not "/production"); "/" matches
 * all. An event that concerns no app passes every prefix filter.
 */
struct event_filter {
	uint32_t types;            /* bit (1 << type); 0: every type */
	char **prefixes;           /* canonical, without a final '/' (except "/") */
	size_t nprefixes, alloc;
};

#define EVENT_FILTER_INIT {0, NULL, 0, 0}
void event_filter_release(struct event_filter *f);
/* Adds a type by name; returns 0 or PACER_EBADREQUEST with why filled. */
int event_filter_add_type(struct event_filter *f, const char *name, struct strbuf *why);
/*
 * Adds an app id prefix: it must start with '/' and hold no empty, "." or
 * ".." segment; a final '/' is dropped. Returns 0 or PACER_EBADREQUEST.
 */
int event_filter_add_prefix(struct event_filter *f, const char *prefix, struct strbuf *why);
/* Whether f lets e through. */
int event_filter_match(const struct event_filter *f, const struct event *e);
/* Whether prefix matches app_id as described above. */
int event_prefix_match(const char *prefix, const char *app_id);

#endif
