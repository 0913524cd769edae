/* SPDX-License-Identifier: Apache-2.0 */
/* The agent: tasks by id, commands, updates, agent.json; see agent.h. */
#include "agent/agent.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/agent_state.h"
#include "agent/cgroup.h"
#include "agent/client.h"
#include "agent/env.h"
#include "agent/health.h"
#include "agent/task.h"
#include "base/error.h"
#include "base/hashmap.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

/* Limits on one launch command (outside input). */
#define MAX_ARGS 4096
#define MAX_ENV 4096
#define MAX_PORTS 1024
#define MAX_FETCH 256

/* One task the agent knows of, by id. */
struct agent_task {
	struct agent *a;
	struct agent_task_record rec; /* what agent.json says of it */
	struct task *t;               /* NULL once terminal (or gone at start-up) */
	struct health *health;        /* its health checks while it may run, or NULL */
	bool terminal;                /* terminal update queued */
	uint64_t terminal_seq;        /* forgotten once the server acked this */
};

struct agent {
	uv_loop_t *loop;
	char *work_dir, *hostname, *resources, *attributes, *server_url;
	char *state_path;
	struct cgroup_sys cgroups;
	struct strbuf cgroups_problem;
	struct task_runtime rt;
	struct hashmap tasks; /* task id -> struct agent_task */
	size_t nterminal;     /* of them, waiting for their terminal update's ack */
	char *agent_id;
	int64_t epoch; /* highest seen */
	struct update_queue updates;
	struct client *client;
	uv_timer_t flush_timer;
	bool dirty;
};

/* ---- agent.json ---- */

static int save_state(struct agent *a)
{
	const struct agent_task_record **recs;
	struct strbuf why = STRBUF_INIT;
	const char *key;
	void *val;
	size_t n = 0;
	int err;

	recs = xcalloc(hashmap_count(&a->tasks) + 1, sizeof(*recs));
	for (size_t pos = 0; hashmap_next(&a->tasks, &pos, &key, &val);)
		recs[n++] = &((struct agent_task *)val)->rec;
	err = agent_state_save(a->state_path, a->agent_id, a->epoch, &a->updates, recs, n, &why);
	if (err)
		log_error("%s", why.buf);
	free(recs);
	strbuf_release(&why);
	return err;
}

static void on_flush(uv_timer_t *t)
{
	struct agent *a = t->data;

	if (a->dirty) {
		a->dirty = false;
		/* on failure the updates still go: the server must learn what happened */
		save_state(a);
	}
	if (a->updates.n)
		client_kick(a->client);
}

/* State changed: written, then pending updates sent, once this loop turn is over. */
static void mark_dirty(struct agent *a)
{
	a->dirty = true;
	if (!uv_is_active((uv_handle_t *)&a->flush_timer))
		uv_timer_start(&a->flush_timer, on_flush, 0, 0);
}

/* ---- updates ---- */

static uint64_t push_update(struct agent *a, const char *task_id, const char *state,
			    const char *message, pid_t pid, bool has_exit, int exit_code)
{
	struct agent_update u = {
		.task_id = (char *)task_id,
		.state = agent_state_name(state),
		.timestamp_ms = time_now_ms(),
		.message = (char *)(message ? message : ""),
		.pid = pid > 0 ? pid : 0,
		.has_exit_code = has_exit,
		.exit_code = exit_code,
	};
	uint64_t seq;

	PACER_ASSERT(u.state);
	seq = update_queue_push(&a->updates, &u);
	log_info("task '%s' is %s%s%s (update %llu)", task_id, state, *u.message ? ": " : "",
		 u.message, (unsigned long long)seq);
	mark_dirty(a);
	return seq;
}

static void mark_terminal(struct agent_task *e, uint64_t seq)
{
	if (!e->terminal) {
		e->terminal = true;
		e->terminal_seq = seq;
		e->a->nterminal++;
	}
}

/* Answers a repeated command with the task's current state. */
static void push_current(struct agent_task *e)
{
	uint64_t seq = push_update(e->a, e->rec.task_id, e->rec.state, "", e->rec.pid, false, 0);

	if (agent_state_is_terminal(e->rec.state))
		mark_terminal(e, seq);
}

static void entry_free(struct agent_task *e)
{
	health_free(e->health);
	task_free(e->t);
	agent_task_record_release(&e->rec);
	free(e);
}

/* ---- tasks ---- */

static void on_task_state(struct task *t, const struct task_status *st, void *data)
{
	struct agent_task *e = data;
	bool terminal = task_state_is_terminal(st->state);
	uint64_t seq;

	e->rec.state = agent_state_name(task_state_name(st->state));
	if (st->state == TASK_RUNNING) {
		health_start(e->health);
	} else if (st->state != TASK_STARTING) {
		/* a task on its way out is not checked any more */
		health_free(e->health);
		e->health = NULL;
	}
	if (task_pid(t) > 0 && e->rec.pid != task_pid(t)) {
		e->rec.pid = task_pid(t);
		if (agent_proc_start_time(e->rec.pid, &e->rec.start_time))
			e->rec.start_time = 0;
		e->rec.cgroup = task_cgroup(t) != NULL;
	}
	seq = push_update(e->a, e->rec.task_id, e->rec.state, st->message, e->rec.pid,
			  terminal && st->exit_known && !st->term_signal && st->exit_code >= 0,
			  st->exit_code);
	if (terminal) {
		mark_terminal(e, seq);
		task_free(t);
		e->t = NULL;
	}
}

/* A health transition (health.h): an update with the task's state and its results. */
static void on_health(struct health *h, void *data)
{
	struct agent_task *e = data;
	struct strbuf extra = STRBUF_INIT;
	struct agent_update u = {
		.task_id = e->rec.task_id,
		.state = e->rec.state,
		.timestamp_ms = time_now_ms(),
		.message = (char *)"",
		.pid = e->rec.pid > 0 ? e->rec.pid : 0,
	};
	uint64_t seq;

	health_results_json(h, &extra);
	u.extra = extra.buf;
	seq = update_queue_push(&e->a->updates, &u);
	log_info("task '%s' is %s (update %llu)", e->rec.task_id,
		 health_healthy(h) ? "healthy" : "unhealthy", (unsigned long long)seq);
	mark_dirty(e->a);
	strbuf_release(&extra);
}

static const char *str_or_null(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

static double num_or_zero(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	double d = json_is_number(v) ? json_number_value(v) : 0;

	return isfinite(d) && d > 0 ? d : 0;
}

/* A JSON object of strings as pairs; other values are skipped (Marathon's secrets). */
static struct env_pair *string_pairs(json_t *obj, size_t max, size_t *n)
{
	struct env_pair *v;
	const char *key;
	json_t *val;

	*n = 0;
	if (!json_is_object(obj) || !json_object_size(obj))
		return NULL;
	v = xcalloc(json_object_size(obj), sizeof(*v));
	json_object_foreach(obj, key, val) {
		if (!json_is_string(val) || *n >= max)
			continue;
		v[*n].name = key;
		v[(*n)++].value = json_string_value(val);
	}
	return v;
}

/* What a launch command holds, pointing into its JSON. */
struct launch_parts {
	const char **args;
	size_t nargs;
	struct env_pair *env, *labels;
	size_t nenv, nlabels;
	struct env_port *ports;
	size_t nports;
	struct launch_fetch *fetch;
	size_t nfetch;
};

static void launch_parts_release(struct launch_parts *p)
{
	free(p->args);
	free(p->env);
	free(p->labels);
	free(p->ports);
	free(p->fetch);
}

/* Fills p from the command's task object; returns NULL or what is wrong. */
static const char *launch_parts_read(json_t *task, struct launch_parts *p)
{
	json_t *args = json_object_get(task, "args"), *ports = json_object_get(task, "ports");
	json_t *names = json_object_get(task, "portNames");
	json_t *req = json_object_get(task, "requestedPorts");
	json_t *fetch = json_object_get(task, "fetch"), *v;
	size_t i;

	memset(p, 0, sizeof(*p));
	if (json_is_array(args) && json_array_size(args)) {
		if (json_array_size(args) > MAX_ARGS)
			return "too many args";
		p->args = xcalloc(json_array_size(args), sizeof(*p->args));
		json_array_foreach(args, i, v) {
			if (!json_is_string(v))
				return "args must be strings";
			p->args[p->nargs++] = json_string_value(v);
		}
	}
	p->env = string_pairs(json_object_get(task, "env"), MAX_ENV, &p->nenv);
	p->labels = string_pairs(json_object_get(task, "labels"), MAX_ENV, &p->nlabels);
	if (json_is_array(ports) && json_array_size(ports)) {
		if (json_array_size(ports) > MAX_PORTS)
			return "too many ports";
		p->ports = xcalloc(json_array_size(ports), sizeof(*p->ports));
		json_array_foreach(ports, i, v) {
			json_t *r = json_array_get(req, i);

			if (!json_is_integer(v) || json_integer_value(v) < 0 ||
			    json_integer_value(v) > 65535)
				return "ports must be numbers from 0 to 65535";
			p->ports[i].host_port = (int)json_integer_value(v);
			if (json_is_integer(r) && json_integer_value(r) > 0 &&
			    json_integer_value(r) <= 65535)
				p->ports[i].requested_port = (int)json_integer_value(r);
			p->ports[i].name = json_string_value(json_array_get(names, i));
			p->nports++;
		}
	}
	if (json_is_array(fetch) && json_array_size(fetch)) {
		if (json_array_size(fetch) > MAX_FETCH)
			return "too many fetch entries";
		p->fetch = xcalloc(json_array_size(fetch), sizeof(*p->fetch));
		json_array_foreach(fetch, i, v) {
			json_t *ex = json_object_get(v, "extract");
			struct launch_fetch *f = &p->fetch[p->nfetch++];

			f->uri = str_or_null(v, "uri");
			if (!f->uri)
				return "each fetch entry needs a uri";
			f->dest_path = str_or_null(v, "destPath");
			f->extract = ex ? json_is_true(ex) : true;
			f->executable = json_is_true(json_object_get(v, "executable"));
		}
	}
	return NULL;
}

static void do_launch(struct agent *a, json_t *task)
{
	const char *id = str_or_null(task, "taskId"), *bad;
	struct env_list env = ENV_LIST_INIT;
	struct strbuf sandbox = STRBUF_INIT, msg = STRBUF_INIT;
	struct launch_parts p;
	struct agent_task *e;
	struct task_config cfg = {0};
	struct task_env_input in = {0};
	struct health_check_config *checks = NULL;
	size_t nchecks = 0;
	int err;

	if (!id || !*id) {
		log_warn("ignoring launch command without a taskId");
		return;
	}
	e = hashmap_get(&a->tasks, id);
	if (e) {
		log_info("task '%s' was launched already: answering with its state", id);
		push_current(e);
		return;
	}
	bad = launch_parts_read(task, &p);
	if (!bad && !str_or_null(task, "cmd") && !p.nargs)
		bad = "neither cmd nor args is given";
	if (!bad && health_checks_parse(json_object_get(task, "healthChecks"), p.ports, p.nports,
					&checks, &nchecks, &msg))
		bad = msg.buf;
	if (bad) {
		bad = xstrdup(bad);
		strbuf_reset(&msg);
		strbuf_addf(&msg, "invalid launch command: %s", bad);
		free((char *)bad);
		push_update(a, id, "TASK_FAILED", msg.buf, 0, false, 0);
		goto out;
	}
	strbuf_addf(&sandbox, "%s/tasks/%s", a->work_dir, id);
	in.app_id = str_or_null(task, "appId") ? str_or_null(task, "appId") : "";
	in.app_version = str_or_null(task, "version") ? str_or_null(task, "version") : "";
	in.task_id = id;
	in.host = a->hostname;
	in.sandbox = sandbox.buf;
	in.cpus = num_or_zero(task, "cpus");
	in.mem = num_or_zero(task, "mem");
	in.disk = num_or_zero(task, "disk");
	in.gpus = num_or_zero(task, "gpus");
	in.ports = p.ports;
	in.nports = p.nports;
	in.labels = p.labels;
	in.nlabels = p.nlabels;
	in.env = p.env;
	in.nenv = p.nenv;
	task_env_build(&in, &env);

	cfg.id = id;
	cfg.cmd = str_or_null(task, "cmd");
	cfg.args = p.args;
	cfg.nargs = p.nargs;
	cfg.user = str_or_null(task, "user");
	cfg.fetch = p.fetch;
	cfg.nfetch = p.nfetch;
	cfg.env = (const char *const *)env.v;
	cfg.nenv = env.n;
	cfg.use_cgroup = a->cgroups.version != CGROUP_NONE;
	cfg.limits.mem_bytes = (uint64_t)(in.mem * 1024.0 * 1024.0);
	cfg.limits.cpus = in.cpus;
	cfg.kill_grace_seconds = num_or_zero(task, "killGracePeriodSeconds");

	e = xcalloc(1, sizeof(*e));
	e->a = a;
	e->rec.task_id = xstrdup(id);
	e->rec.state = agent_state_name("TASK_STAGING");
	e->rec.started_at_ms = time_now_ms();
	e->rec.kill_grace_seconds = cfg.kill_grace_seconds;
	err = task_new(&a->rt, &cfg, on_task_state, e, &e->t);
	if (err) {
		strbuf_addf(&msg, "invalid launch command: task id '%s' is not one path component",
			    id);
		push_update(a, id, "TASK_FAILED", msg.buf, 0, false, 0);
		entry_free(e);
		goto out_env;
	}
	if (nchecks) {
		struct health_config hc = {
			.loop = a->loop, .sandbox = sandbox.buf,
			.env = (const char *const *)env.v, .nenv = env.n,
			.checks = checks, .nchecks = nchecks,
		};

		health_new(&e->health, &hc, on_health, e);
	}
	hashmap_put(&a->tasks, e->rec.task_id, e);
	log_info("launching task '%s' of app '%s'", id, in.app_id);
	mark_dirty(a);
	task_start(e->t); /* reports STARTING or FAILED before it returns */
out_env:
	env_list_release(&env);
out:
	launch_parts_release(&p);
	free(checks);
	strbuf_release(&sandbox);
	strbuf_release(&msg);
}

static void do_kill(struct agent *a, const char *id, double grace)
{
	struct agent_task *e = hashmap_get(&a->tasks, id);
	const char *before;

	if (!e) {
		push_update(a, id, "TASK_LOST", "unknown task", 0, false, 0);
		return;
	}
	before = e->rec.state;
	if (e->t) {
		log_info("killing task '%s'", id);
		task_kill(e->t, grace);
	}
	if (e->rec.state == before)
		push_current(e);
}

/* ---- the client's questions ---- */

static void on_command(void *data, json_t *cmd)
{
	struct agent *a = data;
	const char *type = str_or_null(cmd, "type");
	json_t *ep = json_object_get(cmd, "epoch");
	int64_t epoch;

	if (!type || !json_is_integer(ep)) {
		log_warn("ignoring command without a type or an epoch");
		return;
	}
	epoch = json_integer_value(ep);
	if (epoch < a->epoch) {
		log_warn("refusing %s command of epoch %lld: epoch %lld was seen already", type,
			 (long long)epoch, (long long)a->epoch);
		return;
	}
	if (epoch > a->epoch) {
		a->epoch = epoch;
		mark_dirty(a);
	}
	if (!strcmp(type, "ping"))
		return;
	if (!strcmp(type, "launch")) {
		json_t *task = json_object_get(cmd, "task");

		if (!json_is_object(task))
			log_warn("ignoring launch command without a task");
		else
			do_launch(a, task);
	} else if (!strcmp(type, "kill")) {
		const char *id = str_or_null(cmd, "taskId");

		if (!id || !*id)
			log_warn("ignoring kill command without a taskId");
		else
			do_kill(a, id, num_or_zero(cmd, "gracePeriodSeconds"));
	} else {
		log_warn("ignoring command of unknown type '%s'", type);
	}
}

static void registration_body(void *data, struct strbuf *out)
{
	struct agent *a = data;
	const char *key;
	void *val;
	bool first = true;

	strbuf_addch(out, '{');
	if (a->agent_id) {
		strbuf_addstr(out, "\"agentId\":");
		strbuf_add_json_str(out, a->agent_id);
		strbuf_addch(out, ',');
	}
	strbuf_addstr(out, "\"hostname\":");
	strbuf_add_json_str(out, a->hostname);
	strbuf_addstr(out, ",\"resources\":");
	strbuf_add_json_str(out, a->resources);
	strbuf_addstr(out, ",\"attributes\":");
	strbuf_add_json_str(out, a->attributes);
	strbuf_addstr(out, ",\"cgroups\":");
	strbuf_add_json_str(out, cgroup_version_name(a->cgroups.version));
	strbuf_addstr(out, ",\"cgroupsProblem\":");
	strbuf_add_json_str(out, a->cgroups_problem.buf);
	strbuf_addstr(out, ",\"tasks\":[");
	for (size_t pos = 0; hashmap_next(&a->tasks, &pos, &key, &val);) {
		const struct agent_task *e = val;
		char ts[TIME_ISO_LEN];

		time_format_iso(e->rec.started_at_ms, ts);
		if (!first)
			strbuf_addch(out, ',');
		first = false;
		strbuf_addstr(out, "{\"taskId\":");
		strbuf_add_json_str(out, e->rec.task_id);
		strbuf_addstr(out, ",\"state\":");
		strbuf_add_json_str(out, e->rec.state);
		if (e->rec.pid > 0) {
			strbuf_addstr(out, ",\"pid\":");
			strbuf_add_json_int(out, e->rec.pid);
		}
		strbuf_addstr(out, ",\"startedAt\":");
		strbuf_add_json_str(out, ts);
		strbuf_addch(out, '}');
	}
	strbuf_addstr(out, "]}");
}

static void on_acked(void *data, uint64_t acked)
{
	struct agent *a = data;
	uint64_t next = a->updates.next_seq;
	struct agent_task **gone = NULL;
	size_t ngone = 0, alloc = 0;
	const char *key;
	void *val;

	if (update_queue_ack(&a->updates, acked) || a->updates.next_seq != next)
		mark_dirty(a);
	/* most acks are heartbeats': no scan of the tasks for them */
	for (size_t pos = 0; a->nterminal && hashmap_next(&a->tasks, &pos, &key, &val);) {
		struct agent_task *e = val;

		if (e->terminal && e->terminal_seq <= acked) {
			ALLOC_GROW(gone, ngone + 1, alloc);
			gone[ngone++] = e;
		}
	}
	for (size_t i = 0; i < ngone; i++) {
		log_debug("forgetting task '%s': its terminal state was acknowledged",
			  gone[i]->rec.task_id);
		hashmap_remove(&a->tasks, gone[i]->rec.task_id);
		entry_free(gone[i]);
		a->nterminal--;
	}
	if (ngone)
		mark_dirty(a);
	free(gone);
}

static void on_registered(void *data, const char *agent_id, int64_t epoch, uint64_t acked)
{
	struct agent *a = data;

	if (!a->agent_id || strcmp(a->agent_id, agent_id)) {
		if (a->agent_id)
			log_warn("the server gave a new agent id '%s' (was '%s')", agent_id,
				 a->agent_id);
		free(a->agent_id);
		a->agent_id = xstrdup(agent_id);
		mark_dirty(a);
	}
	if (epoch > a->epoch) {
		a->epoch = epoch;
		mark_dirty(a);
	} else if (epoch < a->epoch) {
		log_warn("server epoch %lld is lower than epoch %lld seen before: its commands "
			 "will be refused", (long long)epoch, (long long)a->epoch);
	}
	on_acked(a, acked);
}

static uint64_t updates_body(void *data, size_t max, struct strbuf *out)
{
	struct agent *a = data;

	/*
	 * An update goes out only once agent.json numbers it: a restarted agent
	 * must never give a seq the server may have applied to another update.
	 */
	if (a->dirty) {
		a->dirty = false;
		save_state(a);
	}
	return update_queue_to_json(&a->updates, a->epoch, max, out);
}

static const struct client_ops agent_client_ops = {
	.registration_body = registration_body,
	.registered = on_registered,
	.updates_body = updates_body,
	.acked = on_acked,
	.command = on_command,
};

/* ---- start and stop ---- */

/* Takes back a task from agent.json: re-attach, or report it gone. */
static void adopt(struct agent *a, struct agent_task_record *rec)
{
	struct agent_task *e = xcalloc(1, sizeof(*e));
	struct task_config cfg = {0};
	uint64_t start = 0;
	char msg[160];
	int err = -ESRCH;

	e->a = a;
	e->rec = *rec;
	memset(rec, 0, sizeof(*rec));
	hashmap_put(&a->tasks, e->rec.task_id, e);
	if (agent_state_is_terminal(e->rec.state)) {
		/* its terminal update is still queued (or was acked just before a crash) */
		uint64_t seq = 0;

		for (size_t i = 0; i < a->updates.n; i++)
			if (!strcmp(a->updates.v[i].task_id, e->rec.task_id))
				seq = a->updates.v[i].seq;
		mark_terminal(e, seq);
		return;
	}
	if (e->rec.pid > 0 && e->rec.start_time && !agent_proc_start_time(e->rec.pid, &start) &&
	    start == e->rec.start_time) {
		cfg.id = e->rec.task_id;
		cfg.use_cgroup = e->rec.cgroup;
		cfg.kill_grace_seconds = e->rec.kill_grace_seconds;
		err = task_attach(&a->rt, &cfg, e->rec.pid, on_task_state, e, &e->t);
	}
	if (err) {
		if (e->rec.pid > 0)
			snprintf(msg, sizeof(msg), "task process %ld ended while the agent was not "
				 "running (exit status unknown)", (long)e->rec.pid);
		else
			snprintf(msg, sizeof(msg), "the task had not started when the agent stopped");
		e->rec.state = agent_state_name("TASK_FAILED");
		mark_terminal(e, push_update(a, e->rec.task_id, e->rec.state, msg, e->rec.pid,
					     false, 0));
		return;
	}
	log_info("re-attached to task '%s' (pid %ld)", e->rec.task_id, (long)e->rec.pid);
	if (!strcmp(e->rec.state, "TASK_KILLING")) {
		e->rec.state = agent_state_name("TASK_RUNNING");
		task_kill(e->t, e->rec.kill_grace_seconds);
	} else if (strcmp(e->rec.state, "TASK_RUNNING")) {
		e->rec.state = agent_state_name("TASK_RUNNING");
		push_update(a, e->rec.task_id, e->rec.state, "", e->rec.pid, false, 0);
	}
}

static int make_dirs(const char *work_dir, struct strbuf *why)
{
	struct strbuf p = STRBUF_INIT;
	int err = 0;

	/* mkdir -p: each prefix in turn */
	strbuf_addstr(&p, work_dir);
	strbuf_addstr(&p, "/tasks");
	for (char *s = p.buf + 1; !err; s++) {
		if (*s && *s != '/')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p.buf, 0755) < 0 && errno != EEXIST) {
			err = -errno;
			strbuf_addf(why, "cannot create '%s': %s", p.buf, pacer_strerror(err));
		}
		*s = c;
		if (!c)
			break;
	}
	strbuf_release(&p);
	return err;
}

static void on_agent_closed(uv_handle_t *h)
{
	struct agent *a = h->data;

	free(a);
}

/* Frees what agent_start set up; the timer (already initialized) frees a. */
static void agent_release(struct agent *a)
{
	const char *key;
	void *val;

	for (size_t pos = 0; hashmap_next(&a->tasks, &pos, &key, &val);)
		entry_free(val);
	hashmap_release(&a->tasks);
	client_free(a->client);
	update_queue_release(&a->updates);
	cgroup_sys_release(&a->cgroups);
	strbuf_release(&a->cgroups_problem);
	free(a->work_dir);
	free(a->hostname);
	free(a->resources);
	free(a->attributes);
	free(a->server_url);
	free(a->state_path);
	free(a->agent_id);
	uv_close((uv_handle_t *)&a->flush_timer, on_agent_closed);
}

int agent_start(struct agent **out, uv_loop_t *loop, const struct agent_config *cfg,
		struct strbuf *why)
{
	struct agent *a = xcalloc(1, sizeof(*a));
	struct agent_state st;
	struct strbuf p = STRBUF_INIT;
	int err;

	*out = NULL;
	a->loop = loop;
	a->work_dir = xstrdup(cfg->work_dir);
	a->hostname = xstrdup(cfg->hostname);
	a->resources = xstrdup(cfg->resources);
	a->attributes = xstrdup(cfg->attributes ? cfg->attributes : "");
	a->server_url = xstrdup(cfg->server_url);
	strbuf_addf(&p, "%s/agent.json", cfg->work_dir);
	a->state_path = strbuf_detach(&p, NULL);
	strbuf_init(&a->cgroups_problem, 0);
	hashmap_init(&a->tasks);
	update_queue_init(&a->updates);
	uv_timer_init(loop, &a->flush_timer);
	a->flush_timer.data = a;

	err = client_new(&a->client, loop, a->server_url, &agent_client_ops, a, why);
	if (err)
		goto fail;
	err = make_dirs(a->work_dir, why);
	if (err)
		goto fail;
	if (cgroup_sys_detect(&a->cgroups, AGENT_CGROUP_PARENT, &a->cgroups_problem))
		log_warn("tasks run without cgroups: %s", a->cgroups_problem.buf);
	else
		log_info("cgroups %s", cgroup_version_name(a->cgroups.version));
	a->rt.loop = loop;
	a->rt.work_dir = a->work_dir;
	a->rt.launcher = cfg->launcher;
	a->rt.cgroups = &a->cgroups;

	agent_state_init(&st);
	err = agent_state_load(&st, a->state_path, why);
	if (err && err != -ENOENT)
		goto fail;
	a->agent_id = st.agent_id;
	st.agent_id = NULL;
	a->epoch = st.epoch;
	a->updates = st.updates;
	update_queue_init(&st.updates);
	for (size_t i = 0; i < st.ntasks; i++)
		adopt(a, &st.tasks[i]);
	agent_state_release(&st);
	if (a->agent_id)
		log_info("agent '%s' (epoch %lld seen, next update %llu, %zu tasks)", a->agent_id,
			 (long long)a->epoch, (unsigned long long)a->updates.next_seq,
			 hashmap_count(&a->tasks));
	/* written now: proves the directory is writable before anything runs */
	err = save_state(a);
	if (err) {
		strbuf_addf(why, "cannot write '%s'", a->state_path);
		goto fail;
	}
	a->dirty = false;
	client_start(a->client);
	*out = a;
	return 0;
fail:
	agent_release(a);
	return err;
}

void agent_stop(struct agent *a)
{
	if (!a)
		return;
	save_state(a);
	uv_timer_stop(&a->flush_timer);
	log_info("stopping; %zu tasks keep running", hashmap_count(&a->tasks));
	agent_release(a);
}
