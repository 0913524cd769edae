/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of the event ring (events/ring.h) and event filters (events/event.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/error.h"
#include "events/event.h"
#include "events/ring.h"

#define BASE (1700000000ull << 32)

static struct event *make(struct event_ring *r, enum event_type t, const char *app)
{
	return event_new(event_ring_next_id(r), t, app, "\"x\":1", 5);
}

static void push_n(struct event_ring *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		event_ring_push(r, make(r, EVENT_STATUS_UPDATE, "/a"));
}

static void frame_shape(void **state)
{
	struct event *e = event_new(BASE + 7, EVENT_API_POST, "/a", "\"uri\":\"/v2/apps/a\"", 18);
	const char *data = e->frame + e->data_off;
	char want[64];

	snprintf(want, sizeof(want), "id: %llu\nevent: api_post_event\ndata: {",
		 (unsigned long long)(BASE + 7));
	assert_memory_equal(e->frame, want, strlen(want));
	assert_int_equal(data[0], '{');
	assert_int_equal(data[e->data_len - 1], '}');
	assert_true(strstr(e->frame, "\"uri\":\"/v2/apps/a\",\"eventType\":\"api_post_event\","
				     "\"timestamp\":\"") != NULL);
	assert_string_equal(e->frame + e->frame_len - 3, "}\n\n");
	event_unref(e);
	/* no id: line for per-subscriber events, and no fields at all */
	e = event_new(0, EVENT_RESYNC, NULL, "", 0);
	assert_memory_equal(e->frame, "event: event_stream_resync\ndata: {\"eventType\"", 45);
	event_unref(e);
}

static void ids_and_wrap(void **state)
{
	struct event_ring r;

	event_ring_init(&r, 4, BASE);
	assert_int_equal(event_ring_next_id(&r), BASE + 1);
	assert_int_equal(event_ring_first_id(&r), BASE + 1);
	push_n(&r, 3);
	assert_int_equal(r.count, 3);
	assert_int_equal(event_ring_at(&r, 0)->id, BASE + 1);
	assert_int_equal(event_ring_at(&r, 2)->id, BASE + 3);
	assert_null(event_ring_at(&r, 3));
	push_n(&r, 7); /* 10 in all: 7..10 held */
	assert_int_equal(r.count, 4);
	assert_int_equal(r.last_id, BASE + 10);
	assert_int_equal(event_ring_first_id(&r), BASE + 7);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(event_ring_at(&r, i)->id, BASE + 7 + i);
	event_ring_release(&r);
}

static void resume_positions(void **state)
{
	struct event_ring r;
	size_t pos = 99;

	event_ring_init(&r, 4, BASE);
	/* empty ring: the base itself is "nothing seen yet" */
	assert_int_equal(event_ring_seek(&r, BASE, &pos), EVENT_RING_FOUND);
	assert_int_equal(pos, 0);
	assert_int_equal(event_ring_seek(&r, BASE + 1, &pos), EVENT_RING_FOREIGN);
	push_n(&r, 10); /* 7..10 held */
	assert_int_equal(event_ring_seek(&r, BASE + 10, &pos), EVENT_RING_FOUND);
	assert_int_equal(pos, 4); /* nothing after the newest */
	assert_int_equal(event_ring_seek(&r, BASE + 8, &pos), EVENT_RING_FOUND);
	assert_int_equal(pos, 2);
	assert_int_equal(event_ring_at(&r, pos)->id, BASE + 9);
	/* one before the oldest: everything held follows without a gap */
	assert_int_equal(event_ring_seek(&r, BASE + 6, &pos), EVENT_RING_FOUND);
	assert_int_equal(pos, 0);
	/* 6 is gone: resuming after 5 would skip it */
	assert_int_equal(event_ring_seek(&r, BASE + 5, &pos), EVENT_RING_GONE);
	assert_int_equal(event_ring_seek(&r, BASE, &pos), EVENT_RING_GONE);
	/* ids of an earlier start, or never issued */
	assert_int_equal(event_ring_seek(&r, BASE - 1, &pos), EVENT_RING_FOREIGN);
	assert_int_equal(event_ring_seek(&r, (1699999999ull << 32) + 12, &pos),
			 EVENT_RING_FOREIGN);
	assert_int_equal(event_ring_seek(&r, BASE + 11, &pos), EVENT_RING_FOREIGN);
	event_ring_release(&r);
}

static void shared_references(void **state)
{
	struct event_ring r;
	struct event *e, *kept;

	event_ring_init(&r, 2, BASE);
	e = make(&r, EVENT_STATUS_UPDATE, "/a");
	kept = event_ref(e); /* a callback queue still holds it */
	event_ring_push(&r, e);
	push_n(&r, 2); /* e leaves the ring */
	assert_int_equal(kept->refs, 1);
	assert_int_equal(kept->id, BASE + 1);
	event_unref(kept);
	event_ring_release(&r);
}

static int passes(struct event_filter *f, enum event_type t, const char *app)
{
	struct event *e = event_new(1, t, app, "", 0);
	int r = event_filter_match(f, e);

	event_unref(e);
	return r;
}

static void filters(void **state)
{
	struct event_filter f = EVENT_FILTER_INIT;
	struct strbuf why = STRBUF_INIT;

	assert_true(passes(&f, EVENT_API_POST, "/x"));
	assert_int_equal(event_filter_add_type(&f, "status_update_event", &why), 0);
	assert_int_equal(event_filter_add_type(&f, "api_post_event", &why), 0);
	assert_true(passes(&f, EVENT_STATUS_UPDATE, "/x"));
	assert_true(passes(&f, EVENT_API_POST, NULL));
	assert_false(passes(&f, EVENT_INSTANCE_CHANGED, "/x"));
	assert_int_equal(event_filter_add_type(&f, "no_such_event", &why), PACER_EBADREQUEST);
	assert_non_null(strstr(why.buf, "'no_such_event'"));
	/* stream-control events are not filterable */
	assert_int_equal(event_filter_add_type(&f, "event_stream_resync", &why),
			 PACER_EBADREQUEST);

	assert_int_equal(event_filter_add_prefix(&f, "/prod/", &why), 0);
	assert_string_equal(f.prefixes[0], "/prod");
	assert_true(passes(&f, EVENT_STATUS_UPDATE, "/prod"));
	assert_true(passes(&f, EVENT_STATUS_UPDATE, "/prod/web"));
	assert_false(passes(&f, EVENT_STATUS_UPDATE, "/production"));
	assert_false(passes(&f, EVENT_STATUS_UPDATE, "/dev/web"));
	assert_true(passes(&f, EVENT_API_POST, NULL)); /* no app: not filtered by app */
	assert_int_equal(event_filter_add_prefix(&f, "/dev", &why), 0);
	assert_true(passes(&f, EVENT_STATUS_UPDATE, "/dev/web"));

	strbuf_reset(&why);
	assert_int_equal(event_filter_add_prefix(&f, "prod", &why), PACER_EBADREQUEST);
	assert_non_null(strstr(why.buf, "must start with '/'"));
	assert_int_equal(event_filter_add_prefix(&f, "/a//b", &why), PACER_EBADREQUEST);
	assert_int_equal(event_filter_add_prefix(&f, "/a/../b", &why), PACER_EBADREQUEST);
	event_filter_release(&f);

	assert_int_equal(event_filter_add_prefix(&f, "/", &why), 0);
	assert_true(passes(&f, EVENT_STATUS_UPDATE, "/anything/at/all"));
	event_filter_release(&f);
	assert_true(event_prefix_match("/a/b", "/a/b/c"));
	assert_false(event_prefix_match("/a/b", "/a/bc"));
	strbuf_release(&why);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(frame_shape),
		cmocka_unit_test(ids_and_wrap),
		cmocka_unit_test(resume_positions),
		cmocka_unit_test(shared_references),
		cmocka_unit_test(filters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
