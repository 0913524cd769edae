/* SPDX-License-Identifier: Apache-2.0 */
/* The agent's state file and update queue; see agent_state.h. */
#include "agent/agent_state.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/error.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

/* agent.json holds one record per task: far below this even with many tasks. */
#define STATE_MAX_BYTES (64u << 20)
#define STATE_MAX_DEPTH 8

static const char *const state_names[] = {
	"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING",
	"TASK_FINISHED", "TASK_FAILED",  "TASK_KILLED",  "TASK_LOST",
};
#define NSTATES (sizeof(state_names) / sizeof(state_names[0]))
#define FIRST_TERMINAL 4

const char *agent_state_name(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < NSTATES; i++)
		if (!strcmp(name, state_names[i]))
			return state_names[i];
	return NULL;
}

bool agent_state_is_terminal(const char *state)
{
	for (size_t i = FIRST_TERMINAL; i < NSTATES; i++)
		if (state == state_names[i] || (state && !strcmp(state, state_names[i])))
			return true;
	return false;
}

/* ---- the update queue ---- */

void update_queue_init(struct update_queue *q)
{
	memset(q, 0, sizeof(*q));
	q->next_seq = 1;
}

static void update_release(struct agent_update *u)
{
	free(u->task_id);
	free(u->message);
	free(u->extra);
}

void update_queue_release(struct update_queue *q)
{
	for (size_t i = 0; i < q->n; i++)
		update_release(&q->v[i]);
	free(q->v);
	update_queue_init(q);
}

/* Appends u with the given seq, copying its strings. */
static void queue_append(struct update_queue *q, const struct agent_update *u, uint64_t seq)
{
	struct agent_update *d;

	ALLOC_GROW(q->v, q->n + 1, q->alloc);
	d = &q->v[q->n++];
	*d = *u;
	d->seq = seq;
	d->task_id = xstrdup(u->task_id);
	d->message = xstrdup(u->message ? u->message : "");
	d->extra = u->extra ? xstrdup(u->extra) : NULL;
}

uint64_t update_queue_push(struct update_queue *q, const struct agent_update *u)
{
	uint64_t seq = q->next_seq++;

	queue_append(q, u, seq);
	return seq;
}

size_t update_queue_ack(struct update_queue *q, uint64_t acked)
{
	size_t k = 0;

	while (k < q->n && q->v[k].seq <= acked)
		update_release(&q->v[k++]);
	if (k) {
		memmove(q->v, q->v + k, (q->n - k) * sizeof(*q->v));
		q->n -= k;
	}
	if (acked != UINT64_MAX && q->next_seq <= acked)
		q->next_seq = acked + 1;
	return k;
}

static void update_to_json(const struct agent_update *u, struct strbuf *out)
{
	char ts[TIME_ISO_LEN];

	time_format_iso(u->timestamp_ms, ts);
	strbuf_addstr(out, "{\"seq\":");
	strbuf_add_json_int(out, (int64_t)u->seq);
	strbuf_addstr(out, ",\"taskId\":");
	strbuf_add_json_str(out, u->task_id);
	strbuf_addstr(out, ",\"state\":");
	strbuf_add_json_str(out, u->state);
	strbuf_addstr(out, ",\"timestamp\":");
	strbuf_add_json_str(out, ts);
	strbuf_addstr(out, ",\"message\":");
	strbuf_add_json_str(out, u->message);
	if (u->pid > 0) {
		strbuf_addstr(out, ",\"pid\":");
		strbuf_add_json_int(out, u->pid);
	}
	if (u->has_exit_code) {
		strbuf_addstr(out, ",\"exitCode\":");
		strbuf_add_json_int(out, u->exit_code);
	}
	if (u->extra) {
		strbuf_addch(out, ',');
		strbuf_addstr(out, u->extra);
	}
	strbuf_addch(out, '}');
}

uint64_t update_queue_to_json(const struct update_queue *q, int64_t epoch, size_t max,
			      struct strbuf *out)
{
	size_t n = q->n < max ? q->n : max;

	strbuf_addstr(out, "{\"epoch\":");
	strbuf_add_json_int(out, epoch);
	strbuf_addstr(out, ",\"updates\":[");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_addch(out, ',');
		update_to_json(&q->v[i], out);
	}
	strbuf_addstr(out, "]}");
	return n ? q->v[n - 1].seq : 0;
}

/* ---- the state file ---- */

void agent_task_record_release(struct agent_task_record *r)
{
	free(r->task_id);
	r->task_id = NULL;
}

void agent_state_init(struct agent_state *st)
{
	memset(st, 0, sizeof(*st));
	update_queue_init(&st->updates);
}

void agent_state_release(struct agent_state *st)
{
	free(st->agent_id);
	update_queue_release(&st->updates);
	for (size_t i = 0; i < st->ntasks; i++)
		agent_task_record_release(&st->tasks[i]);
	free(st->tasks);
	agent_state_init(st);
}

static void record_to_json(const struct agent_task_record *r, struct strbuf *out)
{
	char ts[TIME_ISO_LEN];

	time_format_iso(r->started_at_ms, ts);
	strbuf_addstr(out, "{\"taskId\":");
	strbuf_add_json_str(out, r->task_id);
	strbuf_addstr(out, ",\"pid\":");
	strbuf_add_json_int(out, r->pid);
	strbuf_addstr(out, ",\"startTime\":");
	strbuf_add_json_int(out, (int64_t)r->start_time);
	strbuf_addstr(out, ",\"state\":");
	strbuf_add_json_str(out, r->state);
	strbuf_addstr(out, ",\"startedAt\":");
	strbuf_add_json_str(out, ts);
	strbuf_addstr(out, r->cgroup ? ",\"cgroup\":true" : ",\"cgroup\":false");
	strbuf_addstr(out, ",\"killGracePeriodSeconds\":");
	strbuf_add_json_double(out, r->kill_grace_seconds);
	strbuf_addch(out, '}');
}

/* Writes all of buf to fd, retrying short writes. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t w = write(fd, buf, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -errno;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

/* fsyncs the directory holding path, so that a rename in it is durable. */
static int sync_dir_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), err = 0;

	free(dir);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		err = -errno;
	close(fd);
	return err;
}

int agent_state_save(const char *path, const char *agent_id, int64_t epoch,
		     const struct update_queue *q, const struct agent_task_record *const *tasks,
		     size_t ntasks, struct strbuf *why)
{
	struct strbuf body = STRBUF_INIT, tmp = STRBUF_INIT;
	int fd, err;

	strbuf_addstr(&body, "{\"agentId\":");
	if (agent_id)
		strbuf_add_json_str(&body, agent_id);
	else
		strbuf_addstr(&body, "null");
	strbuf_addstr(&body, ",\"epoch\":");
	strbuf_add_json_int(&body, epoch);
	strbuf_addstr(&body, ",\"nextSeq\":");
	strbuf_add_json_int(&body, (int64_t)q->next_seq);
	strbuf_addstr(&body, ",\"tasks\":[");
	for (size_t i = 0; i < ntasks; i++) {
		if (i)
			strbuf_addch(&body, ',');
		record_to_json(tasks[i], &body);
	}
	strbuf_addstr(&body, "],\"updates\":");
	/* the queue's own body minus the epoch: reuse its writer */
	{
		struct strbuf ups = STRBUF_INIT;
		const char *arr;

		update_queue_to_json(q, 0, q->n, &ups);
		arr = strchr(ups.buf, '[');
		strbuf_add(&body, arr, ups.len - (size_t)(arr - ups.buf) - 1);
		strbuf_release(&ups);
	}
	strbuf_addstr(&body, "}\n");

	strbuf_addf(&tmp, "%s.tmp", path);
	fd = open(tmp.buf, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		err = -errno;
		strbuf_addf(why, "cannot create '%s': %s", tmp.buf, pacer_strerror(err));
		goto out;
	}
	err = write_all(fd, body.buf, body.len);
	if (!err && fsync(fd) < 0)
		err = -errno;
	if (close(fd) < 0 && !err)
		err = -errno;
	if (err) {
		strbuf_addf(why, "cannot write '%s': %s", tmp.buf, pacer_strerror(err));
		goto unlink_tmp;
	}
	if (rename(tmp.buf, path) < 0) {
		err = -errno;
		strbuf_addf(why, "cannot rename '%s' to '%s': %s", tmp.buf, path,
			    pacer_strerror(err));
		goto unlink_tmp;
	}
	err = sync_dir_of(path);
	if (err)
		strbuf_addf(why, "cannot sync the directory of '%s': %s", path, pacer_strerror(err));
	goto out;
unlink_tmp:
	unlink(tmp.buf);
out:
	strbuf_release(&tmp);
	strbuf_release(&body);
	return err;
}

/* Reads the whole file into sb (at most STATE_MAX_BYTES). */
static int read_file(const char *path, struct strbuf *sb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		ssize_t r;

		strbuf_grow(sb, 8192);
		r = read(fd, sb->buf + sb->len, sb->alloc - sb->len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			break;
		}
		if (!r)
			break;
		strbuf_setlen(sb, sb->len + (size_t)r);
		if (sb->len > STATE_MAX_BYTES) {
			err = -EFBIG;
			break;
		}
	}
	close(fd);
	return err;
}

/* Reads an integer member; absent is fine (*out unchanged). */
static int get_int(json_t *obj, const char *key, int64_t min, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return -1;
	*out = json_integer_value(v);
	return 0;
}

static int get_time(json_t *obj, const char *key, int64_t *out)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return 0;
	return json_is_string(v) && !time_parse_iso(json_string_value(v), out) ? 0 : -1;
}

static int load_record(json_t *o, struct agent_task_record *r)
{
	json_t *id = json_object_get(o, "taskId"), *cg = json_object_get(o, "cgroup");
	json_t *grace = json_object_get(o, "killGracePeriodSeconds");
	int64_t pid = 0, start = 0;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o) || !json_is_string(id) || !*json_string_value(id))
		return -1;
	r->state = agent_state_name(json_string_value(json_object_get(o, "state")));
	if (!r->state || get_int(o, "pid", 0, &pid) || pid > INT_MAX ||
	    get_int(o, "startTime", 0, &start) || get_time(o, "startedAt", &r->started_at_ms))
		return -1;
	if (cg && !json_is_boolean(cg))
		return -1;
	if (grace && !json_is_number(grace))
		return -1;
	r->task_id = xstrdup(json_string_value(id));
	r->pid = (pid_t)pid;
	r->start_time = (uint64_t)start;
	r->cgroup = json_is_true(cg);
	r->kill_grace_seconds = grace ? json_number_value(grace) : 0;
	return 0;
}

/* Health members (health.h) come back as they were written; u->extra is allocated. */
static void load_extra(json_t *o, struct agent_update *u)
{
	static const char *const keys[] = {"healthy", "healthResults"};
	struct strbuf sb = STRBUF_INIT;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		json_t *v = json_object_get(o, keys[i]);

		if (!v)
			continue;
		strbuf_addf(&sb, "%s\"%s\":", sb.len ? "," : "", keys[i]);
		json_dump_to(v, &sb);
	}
	u->extra = sb.len ? strbuf_detach(&sb, NULL) : NULL;
	strbuf_release(&sb);
}

static int load_update(json_t *o, struct agent_update *u)
{
	json_t *id = json_object_get(o, "taskId"), *msg = json_object_get(o, "message");
	json_t *code = json_object_get(o, "exitCode");
	int64_t seq = 0, pid = 0;

	memset(u, 0, sizeof(*u));
	if (!json_is_object(o) || !json_is_string(id) || get_int(o, "seq", 1, &seq) || !seq ||
	    get_int(o, "pid", 0, &pid) || pid > INT_MAX ||
	    get_time(o, "timestamp", &u->timestamp_ms) || (msg && !json_is_string(msg)) ||
	    (code && !json_is_integer(code)))
		return -1;
	u->state = agent_state_name(json_string_value(json_object_get(o, "state")));
	if (!u->state)
		return -1;
	u->seq = (uint64_t)seq;
	u->task_id = (char *)json_string_value(id); /* copied by queue_append */
	u->message = msg ? (char *)json_string_value(msg) : NULL;
	u->pid = (pid_t)pid;
	u->has_exit_code = code != NULL;
	u->exit_code = code ? (int)json_integer_value(code) : 0;
	load_extra(o, u);
	return 0;
}

int agent_state_load(struct agent_state *st, const char *path, struct strbuf *why)
{
	struct strbuf buf = STRBUF_INIT, jwhy = STRBUF_INIT;
	json_t *root = NULL, *id, *tasks, *ups, *v;
	int64_t next_seq = 1;
	size_t i;
	int err;

	err = read_file(path, &buf);
	if (err == -ENOENT)
		goto out;
	if (err) {
		strbuf_addf(why, "cannot read '%s': %s", path, pacer_strerror(err));
		goto out;
	}
	err = json_parse_limited(buf.buf, buf.len, STATE_MAX_DEPTH, &root, &jwhy);
	if (err) {
		strbuf_addf(why, "cannot parse '%s': %s", path, jwhy.buf);
		goto out;
	}
	err = PACER_EBADCONFIG;
	id = json_object_get(root, "agentId");
	tasks = json_object_get(root, "tasks");
	ups = json_object_get(root, "updates");
	if (!json_is_object(root) || (id && !json_is_null(id) && !json_is_string(id)) ||
	    get_int(root, "epoch", 0, &st->epoch) || get_int(root, "nextSeq", 1, &next_seq) ||
	    (tasks && !json_is_array(tasks)) || (ups && !json_is_array(ups))) {
		strbuf_addf(why, "cannot parse '%s': agentId, epoch, nextSeq, tasks or updates "
				 "has the wrong type", path);
		goto fail;
	}
	if (json_is_string(id))
		st->agent_id = xstrdup(json_string_value(id));
	st->updates.next_seq = (uint64_t)next_seq;
	json_array_foreach(tasks, i, v) {
		struct agent_task_record r;

		if (load_record(v, &r)) {
			strbuf_addf(why, "cannot parse '%s': task %zu is not a valid record", path, i);
			goto fail;
		}
		ALLOC_GROW(st->tasks, st->ntasks + 1, st->alloc);
		st->tasks[st->ntasks++] = r;
	}
	json_array_foreach(ups, i, v) {
		struct agent_update u;

		if (load_update(v, &u) || u.seq >= st->updates.next_seq ||
		    (st->updates.n && u.seq <= st->updates.v[st->updates.n - 1].seq)) {
			strbuf_addf(why, "cannot parse '%s': update %zu is not a valid update", path, i);
			free(u.extra);
			goto fail;
		}
		queue_append(&st->updates, &u, u.seq);
		free(u.extra);
	}
	err = 0;
	goto out;
fail:
	agent_state_release(st);
out:
	json_decref(root);
	strbuf_release(&jwhy);
	strbuf_release(&buf);
	return err;
}

int agent_proc_start_time(pid_t pid, uint64_t *out)
{
	char path[64], buf[1024], *p;
	unsigned long long v;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n < 0 ? -errno : -ENOENT;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: skip to the last ')' */
	p = strrchr(buf, ')');
	if (!p)
		return -EINVAL;
	p++;
	/* fields 3 (state) .. 21 precede starttime, field 22 */
	for (int field = 3; field <= 22; field++) {
		while (*p == ' ')
			p++;
		if (!*p)
			return -EINVAL;
		if (field == 22)
			break;
		while (*p && *p != ' ')
			p++;
	}
	if (sscanf(p, "%llu", &v) != 1)
		return -EINVAL;
	*out = v;
	return 0;
}
