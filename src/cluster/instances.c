/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Instances and their per-app bookkeeping (struct app_run): creation,
 * store records (instances/<task-id>), loading at start-up, and Marathon's
 * task JSON.
 */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cluster/cluster_int.h"
#include "events/bus.h"

static const char *const state_names[] = {
	"TASK_STAGING", "TASK_STARTING", "TASK_RUNNING", "TASK_KILLING", "TASK_UNREACHABLE",
	"TASK_FINISHED", "TASK_FAILED", "TASK_KILLED", "TASK_LOST",
};

const char *inst_state_name(enum inst_state s)
{
	return state_names[s];
}

static int state_from_name(const char *name, enum inst_state *out)
{
	for (size_t i = 0; i < sizeof(state_names) / sizeof(state_names[0]); i++) {
		if (!strcmp(state_names[i], name)) {
			*out = (enum inst_state)i;
			return 0;
		}
	}
	return PACER_EBADREQUEST;
}

int inst_is_terminal(enum inst_state s)
{
	return s >= INST_FINISHED;
}

struct app_run *run_get(struct cluster *c, const char *app_id)
{
	struct app_run *run = hashmap_get(&c->runs, app_id);

	if (!run) {
		run = xcalloc(1, sizeof(*run));
		run->app_id = xstrdup(app_id);
		run->sched_app = sched_app_get(c->sched, app_id);
		hashmap_put(&c->runs, run->app_id, run);
	}
	return run;
}

/* Frees a run that has no instances left and no app. */
void run_maybe_free(struct cluster *c, struct app_run *run)
{
	if (run->n || apps_get(c->apps, run->app_id))
		return;
	hashmap_remove(&c->runs, run->app_id);
	if (run->spec)
		sched_spec_free(c->sched, run->spec);
	sched_app_remove(c->sched, run->sched_app);
	free(run->insts);
	free(run->last_failure);
	free(run->app_id);
	free(run);
}

struct inst *inst_new(struct cluster *c, struct app_run *run, const char *task_id)
{
	struct inst *in = xcalloc(1, sizeof(*in));

	in->task_id = xstrdup(task_id);
	in->app_id = xstrdup(run->app_id);
	in->run = run;
	ALLOC_GROW(run->insts, run->n + 1, run->alloc);
	run->insts[run->n++] = in;
	hashmap_put(&c->insts, in->task_id, in);
	c->generation++;
	return in;
}

static void key_of(struct strbuf *key, const char *task_id)
{
	strbuf_reset(key);
	strbuf_addstr(key, "instances/");
	strbuf_addstr(key, task_id);
}

static void record_json(const struct inst *in, struct strbuf *b)
{
	strbuf_addstr(b, "{\"taskId\":");
	strbuf_add_json_str(b, in->task_id);
	strbuf_addstr(b, ",\"appId\":");
	strbuf_add_json_str(b, in->app_id);
	strbuf_addstr(b, ",\"version\":");
	time_add_json(b, in->version);
	strbuf_addstr(b, ",\"agentId\":");
	strbuf_add_json_str(b, in->agent_id);
	strbuf_addstr(b, ",\"host\":");
	strbuf_add_json_str(b, in->host);
	strbuf_addstr(b, ",\"ports\":[");
	for (size_t i = 0; i < in->nports; i++)
		strbuf_addf(b, "%s%u", i ? "," : "", in->ports[i]);
	strbuf_addf(b, "],\"state\":\"%s\",\"stagedAt\":", inst_state_name(in->state));
	time_add_json(b, in->staged_at);
	if (in->started_at) {
		strbuf_addstr(b, ",\"startedAt\":");
		time_add_json(b, in->started_at);
	}
	strbuf_addch(b, '}');
}

static void commit_done(void *arg, int status)
{
	if (status)
		log_error("cannot store instance changes: %s", pacer_strerror(status));
}

void inst_persist(struct cluster *c, const struct inst *in)
{
	c->generation++;
	struct store_batch *b = store_batch_new();
	struct strbuf key = STRBUF_INIT, val = STRBUF_INIT;

	key_of(&key, in->task_id);
	record_json(in, &val);
	store_batch_put(b, key.buf, val.buf, val.len);
	if (store_commit(c->store, b, commit_done, NULL))
		log_warn("cannot store instance '%s': the store is closed", in->task_id);
	strbuf_release(&key);
	strbuf_release(&val);
}

/* Removes an instance for good: releases its resources and its record. */
void inst_forget(struct cluster *c, struct inst *in)
{
	struct app_run *run = in->run;
	struct store_batch *b = store_batch_new();
	struct strbuf key = STRBUF_INIT;

	key_of(&key, in->task_id);
	store_batch_del(b, key.buf);
	if (store_commit(c->store, b, commit_done, NULL))
		log_warn("cannot remove instance '%s': the store is closed", in->task_id);
	strbuf_release(&key);
	if (in->placed)
		sched_release(c->sched, &in->placement, in->ports);
	for (size_t i = 0; i < run->n; i++) {
		if (run->insts[i] == in) {
			run->insts[i] = run->insts[--run->n];
			break;
		}
	}
	hashmap_remove(&c->insts, in->task_id);
	c->generation++;
	free(in->task_id);
	free(in->app_id);
	free(in->agent_id);
	free(in->host);
	json_decref(in->health);
	free(in);
}

/* The app's service ports, comma-separated (from the current definition). */
void inst_service_ports(const struct cluster *c, const char *app_id, struct strbuf *out)
{
	struct app *app = apps_get(c->apps, app_id);
	const json_t *pd, *v;
	size_t i, k = 0;

	if (!app)
		return;
	pd = json_object_get(app->def->json, "portDefinitions");
	json_array_foreach(pd, i, v)
		strbuf_addf(out, "%s%lld", k++ ? "," : "",
			    (long long)json_integer_value(json_object_get(v, "port")));
	pd = json_object_get(json_object_get(app->def->json, "container"), "portMappings");
	json_array_foreach(pd, i, v)
		strbuf_addf(out, "%s%lld", k++ ? "," : "",
			    (long long)json_integer_value(json_object_get(v, "servicePort")));
}

static const json_t *app_health_checks(const struct cluster *c, const char *app_id)
{
	const struct app *app = apps_get(c->apps, app_id);
	const json_t *hcs = app ? json_object_get(app->def->json, "healthChecks") : NULL;

	return json_array_size(hcs) ? hcs : NULL;
}

int inst_health(const struct cluster *c, const struct inst *in)
{
	const json_t *hcs = in->health ? app_health_checks(c, in->app_id) : NULL, *r;
	size_t i, alive = 0;

	if (!hcs)
		return 0;
	json_array_foreach(in->health, i, r) {
		if (!json_is_object(r))
			continue;
		if (!json_is_true(json_object_get(r, "alive")))
			return -1;
		alive++;
	}
	return alive == json_array_size(hcs) ? 1 : 0;
}

/* ,"healthCheckResults":[...] for an app with health checks: Marathon's Health objects. */
static void add_health_results(const struct cluster *c, const struct inst *in, struct strbuf *b)
{
	static const char *const keys[] = {"alive", "consecutiveFailures", "firstSuccess",
					   "lastSuccess", "lastFailure", "lastFailureCause"};
	const char *dot = strrchr(in->task_id, '.');
	const json_t *r;
	size_t i;
	int first = 1;

	if (!app_health_checks(c, in->app_id))
		return;
	strbuf_addstr(b, ",\"healthCheckResults\":[");
	json_array_foreach(in->health, i, r) {
		if (!json_is_object(r))
			continue; /* no result yet */
		strbuf_addstr(b, first ? "{" : ",{");
		first = 0;
		for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
			const json_t *v = json_object_get(r, keys[k]);

			strbuf_addf(b, "%s\"%s\":", k ? "," : "", keys[k]);
			if (v && (json_is_string(v) || json_is_boolean(v) || json_is_integer(v)))
				json_dump_to(v, b);
			else if (!k)
				strbuf_addstr(b, "false");
			else if (k == 1)
				strbuf_addstr(b, "0");
			else
				strbuf_addstr(b, "null");
		}
		/* Marathon 1.4's ids: instance "<app>.marathon-<uuid>" of task "<app>.<uuid>" */
		strbuf_addstr(b, ",\"instanceId\":");
		if (dot) {
			struct strbuf iid = STRBUF_INIT;

			strbuf_add(&iid, in->task_id, (size_t)(dot - in->task_id));
			strbuf_addf(&iid, ".marathon-%s", dot + 1);
			strbuf_add_json_str(b, iid.buf);
			strbuf_release(&iid);
		} else {
			strbuf_add_json_str(b, in->task_id);
		}
		strbuf_addstr(b, ",\"taskId\":");
		strbuf_add_json_str(b, in->task_id);
		strbuf_addch(b, '}');
	}
	strbuf_addch(b, ']');
}

/* Marathon 1.4's task object (the keys marathon-python knows). */
void inst_json(const struct cluster *c, const struct inst *in, struct strbuf *b)
{
	strbuf_addstr(b, "{\"id\":");
	strbuf_add_json_str(b, in->task_id);
	strbuf_addstr(b, ",\"appId\":");
	strbuf_add_json_str(b, in->app_id);
	strbuf_addstr(b, ",\"host\":");
	strbuf_add_json_str(b, in->host);
	strbuf_addstr(b, ",\"slaveId\":");
	strbuf_add_json_str(b, in->agent_id);
	strbuf_addstr(b, ",\"ports\":[");
	for (size_t i = 0; i < in->nports; i++)
		strbuf_addf(b, "%s%u", i ? "," : "", in->ports[i]);
	strbuf_addstr(b, "],\"servicePorts\":[");
	inst_service_ports(c, in->app_id, b);
	strbuf_addf(b, "],\"state\":\"%s\",\"version\":", inst_state_name(in->state));
	time_add_json(b, in->version);
	strbuf_addstr(b, ",\"stagedAt\":");
	time_add_json(b, in->staged_at);
	if (in->started_at) {
		strbuf_addstr(b, ",\"startedAt\":");
		time_add_json(b, in->started_at);
	}
	add_health_results(c, in, b);
	strbuf_addstr(b, ",\"ipAddresses\":[],\"localVolumes\":[]}");
}

static int load_cb(void *arg, const char *key, size_t key_len, const void *val, size_t val_len)
{
	struct cluster *c = arg;
	json_t *rec = json_loadb(val, val_len, 0, NULL), *ports;
	const char *task_id, *app_id, *agent_id, *host, *state, *version, *staged, *started;
	struct inst *in;
	struct app_run *run;
	size_t i;
	json_t *p;

	if (json_unpack(rec, "{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:o}", "taskId", &task_id, "appId",
			&app_id, "agentId", &agent_id, "host", &host, "state", &state, "version",
			&version, "stagedAt", &staged, "ports", &ports)) {
		log_warn("ignoring corrupt instance record '%s'", key);
		json_decref(rec);
		return 0;
	}
	run = run_get(c, app_id);
	in = inst_new(c, run, task_id);
	in->agent_id = xstrdup(agent_id);
	in->host = xstrdup(host);
	if (state_from_name(state, &in->state))
		in->state = INST_STAGING;
	time_parse_iso(version, &in->version);
	time_parse_iso(staged, &in->staged_at);
	started = json_string_value(json_object_get(rec, "startedAt"));
	if (started)
		time_parse_iso(started, &in->started_at);
	json_array_foreach(ports, i, p)
		if (in->nports < MAX_TASK_PORTS)
			in->ports[in->nports++] = (uint16_t)json_integer_value(p);
	json_decref(rec);
	return 0;
}

int inst_load_all(struct cluster *c)
{
	return store_scan(c->store, "instances/", load_cb, c);
}

void inst_emit(struct cluster *c, const struct inst *in, const char *message)
{
	struct event_task t = {
		.task_id = in->task_id,
		.app_id = in->app_id,
		.agent_id = in->agent_id,
		.host = in->host,
		.ports = in->ports,
		.nports = in->nports,
		.version = in->version,
		.state = inst_state_name(in->state),
		.message = message,
	};

	events_task_changed(c->events, &t);
}
