/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Tests of agent_state.h: the update queue (numbering, acknowledgement,
 * the body of a POST of updates), agent.json written and read back, a
 * missing file, corrupt files refused with a reason, and process start
 * times.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <setjmp.h>
#include <cmocka.h>

#include "agent/agent_state.h"
#include "base/strbuf.h"

static struct agent_update upd(const char *task, const char *state, const char *msg)
{
	struct agent_update u = {
		.task_id = (char *)task,
		.state = agent_state_name(state),
		.timestamp_ms = 1764041528881,
		.message = (char *)msg,
	};
	return u;
}

static void test_state_names(void **state)
{
	assert_ptr_equal(agent_state_name("TASK_RUNNING"), agent_state_name("TASK_RUNNING"));
	assert_non_null(agent_state_name("TASK_LOST"));
	assert_null(agent_state_name("TASK_BOGUS"));
	assert_null(agent_state_name(NULL));
	assert_true(agent_state_is_terminal(agent_state_name("TASK_FINISHED")));
	assert_true(agent_state_is_terminal("TASK_LOST"));
	assert_false(agent_state_is_terminal(agent_state_name("TASK_KILLING")));
	assert_false(agent_state_is_terminal(NULL));
}

static void test_queue_numbers_and_acks(void **state)
{
	struct update_queue q;
	struct agent_update u = upd("t1", "TASK_STARTING", NULL);

	update_queue_init(&q);
	assert_int_equal(update_queue_push(&q, &u), 1);
	u.state = agent_state_name("TASK_RUNNING");
	u.pid = 42;
	assert_int_equal(update_queue_push(&q, &u), 2);
	u.state = agent_state_name("TASK_FAILED");
	u.has_exit_code = true;
	u.exit_code = 3;
	u.message = "command exited with status 3";
	assert_int_equal(update_queue_push(&q, &u), 3);
	assert_int_equal(q.n, 3);
	assert_string_equal(q.v[0].message, "");

	/* an ack below what is queued drops nothing; a repeated ack is harmless */
	assert_int_equal(update_queue_ack(&q, 0), 0);
	assert_int_equal(update_queue_ack(&q, 2), 2);
	assert_int_equal(update_queue_ack(&q, 2), 0);
	assert_int_equal(q.n, 1);
	assert_int_equal(q.v[0].seq, 3);
	assert_int_equal(q.next_seq, 4);

	/* the server saw more than we remember: seqs continue above its ack */
	assert_int_equal(update_queue_ack(&q, 10), 1);
	assert_int_equal(q.n, 0);
	assert_int_equal(q.next_seq, 11);
	assert_int_equal(update_queue_push(&q, &u), 11);
	update_queue_release(&q);
}

static void test_queue_json(void **state)
{
	struct update_queue q;
	struct agent_update u = upd("web.1", "TASK_RUNNING", "");
	struct strbuf sb = STRBUF_INIT;
	json_t *root, *ups, *first;

	update_queue_init(&q);
	/* a heartbeat: no updates */
	assert_int_equal(update_queue_to_json(&q, 7, 100, &sb), 0);
	assert_string_equal(sb.buf, "{\"epoch\":7,\"updates\":[]}");
	strbuf_reset(&sb);

	u.pid = 4242;
	update_queue_push(&q, &u);
	u = upd("web.2", "TASK_FAILED", "exited with status 3");
	u.has_exit_code = true;
	u.exit_code = 3;
	update_queue_push(&q, &u);
	update_queue_push(&q, &u);
	/* at most max updates in one body */
	assert_int_equal(update_queue_to_json(&q, 7, 2, &sb), 2);
	root = json_loads(sb.buf, 0, NULL);
	assert_non_null(root);
	assert_int_equal(json_integer_value(json_object_get(root, "epoch")), 7);
	ups = json_object_get(root, "updates");
	assert_int_equal(json_array_size(ups), 2);
	first = json_array_get(ups, 0);
	assert_int_equal(json_integer_value(json_object_get(first, "seq")), 1);
	assert_string_equal(json_string_value(json_object_get(first, "taskId")), "web.1");
	assert_string_equal(json_string_value(json_object_get(first, "state")), "TASK_RUNNING");
	assert_string_equal(json_string_value(json_object_get(first, "timestamp")),
			    "2025-11-25T03:32:08.881Z");
	assert_int_equal(json_integer_value(json_object_get(first, "pid")), 4242);
	assert_null(json_object_get(first, "exitCode"));
	assert_int_equal(json_integer_value(json_object_get(json_array_get(ups, 1), "exitCode")), 3);
	assert_null(json_object_get(json_array_get(ups, 1), "pid"));
	json_decref(root);
	strbuf_release(&sb);
	update_queue_release(&q);
}

struct dir {
	char path[64];
	char file[96];
};

static int dir_setup(void **state)
{
	struct dir *d = calloc(1, sizeof(*d));

	snprintf(d->path, sizeof(d->path), "/tmp/test_agent_state.XXXXXX");
	if (!mkdtemp(d->path))
		return -1;
	snprintf(d->file, sizeof(d->file), "%s/agent.json", d->path);
	*state = d;
	return 0;
}

static int dir_teardown(void **state)
{
	struct dir *d = *state;
	char tmp[128];

	unlink(d->file);
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->file);
	unlink(tmp);
	rmdir(d->path);
	free(d);
	return 0;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_save_load_round_trip(void **state)
{
	struct dir *d = *state;
	struct update_queue q;
	struct agent_update u = upd("web.1", "TASK_RUNNING", "");
	struct agent_task_record r1 = {
		.task_id = "web.1", .pid = 4242, .start_time = 987654321,
		.state = agent_state_name("TASK_RUNNING"), .started_at_ms = 1764041528881,
		.cgroup = true, .kill_grace_seconds = 2.5,
	};
	struct agent_task_record r2 = {
		.task_id = "db.1", .pid = 0, .state = agent_state_name("TASK_FAILED"),
		.started_at_ms = 1764041529000,
	};
	const struct agent_task_record *recs[] = {&r1, &r2};
	struct strbuf why = STRBUF_INIT;
	struct agent_state st;
	struct stat sbuf;

	update_queue_init(&q);
	update_queue_push(&q, &u);
	update_queue_push(&q, &u);
	u = upd("db.1", "TASK_FAILED", "command exited with status 3 \"quoted\"");
	u.has_exit_code = true;
	u.exit_code = 3;
	update_queue_push(&q, &u);
	update_queue_ack(&q, 1);
	assert_int_equal(agent_state_save(d->file, "agent-123", 7, &q, recs, 2, &why), 0);
	assert_int_equal(stat(d->file, &sbuf), 0);
	assert_int_equal(sbuf.st_mode & 0777, 0600);

	agent_state_init(&st);
	assert_int_equal(agent_state_load(&st, d->file, &why), 0);
	assert_string_equal(st.agent_id, "agent-123");
	assert_int_equal(st.epoch, 7);
	assert_int_equal(st.updates.next_seq, 4);
	assert_int_equal(st.updates.n, 2);
	assert_int_equal(st.updates.v[0].seq, 2);
	assert_int_equal(st.updates.v[1].seq, 3);
	assert_ptr_equal(st.updates.v[1].state, agent_state_name("TASK_FAILED"));
	assert_string_equal(st.updates.v[1].message, "command exited with status 3 \"quoted\"");
	assert_true(st.updates.v[1].has_exit_code);
	assert_int_equal(st.updates.v[1].exit_code, 3);
	assert_int_equal(st.updates.v[1].timestamp_ms, 1764041528881);
	assert_int_equal(st.ntasks, 2);
	assert_string_equal(st.tasks[0].task_id, "web.1");
	assert_int_equal(st.tasks[0].pid, 4242);
	assert_int_equal(st.tasks[0].start_time, 987654321);
	assert_ptr_equal(st.tasks[0].state, agent_state_name("TASK_RUNNING"));
	assert_int_equal(st.tasks[0].started_at_ms, 1764041528881);
	assert_true(st.tasks[0].cgroup);
	assert_true(st.tasks[0].kill_grace_seconds == 2.5);
	assert_string_equal(st.tasks[1].task_id, "db.1");
	assert_false(st.tasks[1].cgroup);
	agent_state_release(&st);

	/* a second save replaces the first; a new agent has no id */
	update_queue_ack(&q, 3);
	assert_int_equal(agent_state_save(d->file, NULL, 0, &q, NULL, 0, &why), 0);
	agent_state_init(&st);
	assert_int_equal(agent_state_load(&st, d->file, &why), 0);
	assert_null(st.agent_id);
	assert_int_equal(st.ntasks, 0);
	assert_int_equal(st.updates.n, 0);
	assert_int_equal(st.updates.next_seq, 4);
	agent_state_release(&st);
	assert_int_equal(why.len, 0);
	strbuf_release(&why);
	update_queue_release(&q);
}

static void test_load_missing(void **state)
{
	struct dir *d = *state;
	struct strbuf why = STRBUF_INIT;
	struct agent_state st;

	agent_state_init(&st);
	assert_int_equal(agent_state_load(&st, d->file, &why), -ENOENT);
	assert_null(st.agent_id);
	assert_int_equal(st.ntasks, 0);
	assert_int_equal(st.updates.next_seq, 1);
	agent_state_release(&st);
	strbuf_release(&why);
}

static void expect_refused(const char *file, const char *text, const char *needle)
{
	struct strbuf why = STRBUF_INIT;
	struct agent_state st;
	int err;

	write_text(file, text);
	agent_state_init(&st);
	err = agent_state_load(&st, file, &why);
	if (err >= 0 || !strstr(why.buf, needle) || !strstr(why.buf, file))
		fail_msg("'%s' gave %d '%s', expected an error naming '%s'", text, err, why.buf,
			 needle);
	assert_null(st.agent_id);
	assert_int_equal(st.ntasks, 0);
	agent_state_release(&st);
	strbuf_release(&why);
}

static void test_load_corrupt(void **state)
{
	struct dir *d = *state;

	expect_refused(d->file, "{\"agentId\": ", "cannot parse");
	expect_refused(d->file, "[]", "wrong type");
	expect_refused(d->file, "{\"agentId\": 3}", "wrong type");
	expect_refused(d->file, "{\"epoch\": -1}", "wrong type");
	expect_refused(d->file, "{\"agentId\": \"a\", \"tasks\": [{\"taskId\": \"x\", "
				"\"state\": \"TASK_BOGUS\"}]}", "task 0");
	expect_refused(d->file, "{\"agentId\": \"a\", \"tasks\": [{\"state\": \"TASK_RUNNING\"}]}",
		       "task 0");
	/* an update numbered at or above nextSeq would be numbered again */
	expect_refused(d->file, "{\"nextSeq\": 2, \"updates\": [{\"seq\": 2, \"taskId\": \"x\", "
				"\"state\": \"TASK_RUNNING\"}]}", "update 0");
	expect_refused(d->file, "{\"nextSeq\": 9, \"updates\": [{\"seq\": 3, \"taskId\": \"x\", "
				"\"state\": \"TASK_RUNNING\"}, {\"seq\": 3, \"taskId\": \"x\", "
				"\"state\": \"TASK_RUNNING\"}]}", "update 1");
}

static void test_proc_start_time(void **state)
{
	uint64_t a = 0, b = 0;

	assert_int_equal(agent_proc_start_time(getpid(), &a), 0);
	assert_true(a > 0);
	assert_int_equal(agent_proc_start_time(getpid(), &b), 0);
	assert_true(a == b);
	/* pid_max is far below this */
	assert_int_equal(agent_proc_start_time(999999999, &b), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_queue_numbers_and_acks),
		cmocka_unit_test(test_queue_json),
		cmocka_unit_test_setup_teardown(test_save_load_round_trip, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_load_missing, dir_setup, dir_teardown),
		cmocka_unit_test_setup_teardown(test_load_corrupt, dir_setup, dir_teardown),
		cmocka_unit_test(test_proc_start_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
