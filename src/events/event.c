/* SPDX-License-Identifier: Apache-2.0 */
/* Events, their names and filters; see event.h. */
#include "events/event.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

static const char *const type_names[] = {
#define EVENT_TYPE_NAME(name, str) str,
	EVENT_TYPES(EVENT_TYPE_NAME)
#undef EVENT_TYPE_NAME
};

const char *event_type_name(enum event_type t)
{
	PACER_ASSERT(t < EVENT_NTYPES);
	return type_names[t];
}

int event_type_parse(const char *name, enum event_type *out)
{
	for (size_t i = 0; i < EVENT_NTYPES; i++) {
		if (!strcmp(type_names[i], name)) {
			*out = (enum event_type)i;
			return 0;
		}
	}
	return PACER_EBADREQUEST;
}

struct event *event_new(uint64_t id, enum event_type type, const char *app_id,
			const char *fields, size_t fields_len)
{
	struct event *e = xcalloc(1, sizeof(*e));
	struct strbuf b = STRBUF_INIT;
	char ts[TIME_ISO_LEN];

	e->refs = 1;
	e->id = id;
	e->type = type;
	e->app_id = app_id ? xstrdup(app_id) : NULL;
	e->made_ns = time_mono_ns();
	time_format_iso(time_now_ms(), ts);
	strbuf_grow(&b, fields_len + 128);
	if (id)
		strbuf_addf(&b, "id: %llu\n", (unsigned long long)id);
	strbuf_addf(&b, "event: %s\ndata: {", type_names[type]);
	e->data_off = b.len - 1;
	strbuf_add(&b, fields, fields_len);
	strbuf_addf(&b, "%s\"eventType\":\"%s\",\"timestamp\":\"%s\"}", fields_len ? "," : "",
		    type_names[type], ts);
	e->data_len = b.len - e->data_off;
	strbuf_addstr(&b, "\n\n");
	e->frame = strbuf_detach(&b, &e->frame_len);
	return e;
}

struct event *event_ref(struct event *e)
{
	e->refs++;
	return e;
}

void event_unref(struct event *e)
{
	if (!e || --e->refs)
		return;
	free(e->app_id);
	free(e->frame);
	free(e);
}

void event_filter_release(struct event_filter *f)
{
	for (size_t i = 0; i < f->nprefixes; i++)
		free(f->prefixes[i]);
	free(f->prefixes);
	memset(f, 0, sizeof(*f));
}

int event_filter_add_type(struct event_filter *f, const char *name, struct strbuf *why)
{
	enum event_type t;

	if (event_type_parse(name, &t) || t >= EVENT_RESYNC) {
		strbuf_addf(why, "unknown event_type '%s'", name);
		return PACER_EBADREQUEST;
	}
	f->types |= 1u << t;
	return 0;
}

int event_filter_add_prefix(struct event_filter *f, const char *prefix, struct strbuf *why)
{
	size_t len = strlen(prefix);
	const char *p;

	if (prefix[0] != '/') {
		strbuf_addf(why, "invalid app_id '%s': it must start with '/'", prefix);
		return PACER_EBADREQUEST;
	}
	while (len > 1 && prefix[len - 1] == '/')
		len--;
	for (p = prefix + 1; p < prefix + len;) {
		const char *end = memchr(p, '/', (size_t)(prefix + len - p));
		size_t seg = end ? (size_t)(end - p) : (size_t)(prefix + len - p);

		if (!seg || (seg == 1 && p[0] == '.') || (seg == 2 && p[0] == '.' && p[1] == '.')) {
			strbuf_addf(why, "invalid app_id '%s': empty, '.' or '..' path segment",
				    prefix);
			return PACER_EBADREQUEST;
		}
		p += seg + 1;
	}
	ALLOC_GROW(f->prefixes, f->nprefixes + 1, f->alloc);
	f->prefixes[f->nprefixes++] = xstrndup(prefix, len);
	return 0;
}

int event_prefix_match(const char *prefix, const char *app_id)
{
	size_t n = strlen(prefix);

	if (n == 1)
		return 1; /* "/" */
	return !strncmp(prefix, app_id, n) && (app_id[n] == '\0' || app_id[n] == '/');
}

int event_filter_match(const struct event_filter *f, const struct event *e)
{
	if (f->types && !(f->types & (1u << e->type)))
		return 0;
	if (!f->nprefixes || !e->app_id)
		return 1;
	for (size_t i = 0; i < f->nprefixes; i++)
		if (event_prefix_match(f->prefixes[i], e->app_id))
			return 1;
	return 0;
}
