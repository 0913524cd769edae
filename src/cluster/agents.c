/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent protocol, server side (docs/agent-protocol.md): registration and
 * reconciliation, command streams, status updates and heartbeats, and
 * agents that stop answering.
 */
#include <stdlib.h>
#include <string.h>
#include <uuid/uuid.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cluster/cluster_int.h"

static uint64_t mono_ms(void)
{
	return time_mono_ns() / 1000000u;
}

static void stream_closed(struct http_stream *s, void *arg)
{
	struct agent *a = arg;

	if (a->stream == s)
		a->stream = NULL;
}

static void mux_free(struct agent_mux *m);

/* Writes lines (each starting with '{') to the agent's shared stream, adding "agentId". */
static int mux_write(struct agent *a, const char *lines, size_t len)
{
	struct strbuf out = STRBUF_INIT;
	const char *p = lines, *end = lines + len;
	int err;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);

		strbuf_addstr(&out, "{\"agentId\":");
		strbuf_add_json_str(&out, a->id);
		strbuf_addch(&out, ',');
		strbuf_add(&out, p + 1, n - 1);
		p += n;
	}
	err = http_stream_write(a->stream, out.buf, out.len);
	strbuf_release(&out);
	return err;
}

void agent_send(struct cluster *c, struct agent *a, const char *line, size_t len)
{
	if (a->stream && a->mux && c->epoch_durable) {
		struct agent_mux *m = a->mux;

		if (mux_write(a, line, len) == 0)
			return;
		log_warn("a shared command stream does not read its commands: closing it");
		http_stream_abort(m->stream);
		mux_free(m);
	} else if (a->stream && c->epoch_durable) {
		if (http_stream_write(a->stream, line, len) == 0)
			return;
		/* the agent does not read: drop the stream, it reconnects and resyncs */
		log_warn("agent '%s' does not read its commands: closing its stream", a->id);
		http_stream_abort(a->stream);
		a->stream = NULL;
	}
	strbuf_add(&a->outbox, line, len);
}

void agent_send_kill(struct cluster *c, struct inst *in, int grace_s)
{
	struct agent *a = hashmap_get(&c->agents, in->agent_id);
	struct strbuf line = STRBUF_INIT;

	in->kill_sent = 1;
	if (!a)
		return;
	strbuf_addf(&line, "{\"type\":\"kill\",\"epoch\":%llu,\"taskId\":",
		    (unsigned long long)c->epoch);
	strbuf_add_json_str(&line, in->task_id);
	strbuf_addf(&line, ",\"gracePeriodSeconds\":%d}\n", grace_s);
	agent_send(c, a, line.buf, line.len);
	strbuf_release(&line);
}

static void agent_free(struct agent *a)
{
	if (a->stream && !a->mux)
		http_stream_close(a->stream);
	strbuf_release(&a->outbox);
	free(a->id);
	free(a->hostname);
	free(a->resources);
	free(a->attributes);
	free(a->cgroups);
	free(a);
}

void agents_free_all(struct cluster *c)
{
	const char *key;
	void *val;

	while (c->muxes) {
		http_stream_close(c->muxes->stream);
		mux_free(c->muxes);
	}
	for (size_t i = 0; hashmap_next(&c->agents, &i, &key, &val);)
		agent_free(val);
	hashmap_release(&c->agents);
}

/* Adds (or finds) the agent in the scheduler. Returns 0 or PACER_EINVALID with why. */
static int agent_sched_add(struct cluster *c, struct agent *a, struct strbuf *why,
			   const char **bad_field)
{
	struct sched_resources res;
	struct sched_attrs attrs;
	int err;

	a->sched_index = sched_agent_find(c->sched, a->id);
	if (a->sched_index != SCHED_NO_AGENT)
		return 0;
	sched_resources_init(&res);
	sched_attrs_init(&attrs);
	err = sched_resources_parse(&res, a->resources, why);
	if (err) {
		*bad_field = "/resources";
	} else {
		err = sched_attrs_parse(&attrs, a->attributes, why);
		if (err)
			*bad_field = "/attributes";
	}
	if (!err)
		err = sched_agent_add(c->sched, a->id, a->hostname, &res, &attrs, &a->sched_index);
	sched_resources_release(&res);
	sched_attrs_release(&attrs);
	return err ? PACER_EINVALID : 0;
}

static void persisted(void *arg, int status)
{
	if (status)
		log_error("cannot store an agent's record: %s", pacer_strerror(status));
}

static void agent_persist(struct cluster *c, const struct agent *a)
{
	struct store_batch *b = store_batch_new();
	struct strbuf key = STRBUF_INIT, val = STRBUF_INIT;

	strbuf_addf(&key, "agents/%s", a->id);
	strbuf_addstr(&val, "{\"hostname\":");
	strbuf_add_json_str(&val, a->hostname);
	strbuf_addstr(&val, ",\"resources\":");
	strbuf_add_json_str(&val, a->resources);
	strbuf_addstr(&val, ",\"attributes\":");
	strbuf_add_json_str(&val, a->attributes);
	strbuf_addstr(&val, ",\"cgroups\":");
	strbuf_add_json_str(&val, a->cgroups);
	strbuf_addf(&val, ",\"ackedSeq\":%llu}", (unsigned long long)a->acked_seq);
	store_batch_put(b, key.buf, val.buf, val.len);
	if (store_commit(c->store, b, persisted, NULL))
		log_warn("cannot store agent '%s': the store is closed", a->id);
	strbuf_release(&key);
	strbuf_release(&val);
}

static struct agent *agent_new(const char *id, const char *hostname, const char *resources,
			       const char *attributes, const char *cgroups)
{
	struct agent *a = xcalloc(1, sizeof(*a));

	a->id = xstrdup(id);
	a->hostname = xstrdup(hostname);
	a->resources = xstrdup(resources);
	a->attributes = xstrdup(attributes);
	a->cgroups = xstrdup(cgroups);
	a->sched_index = SCHED_NO_AGENT;
	strbuf_init(&a->outbox, 0);
	return a;
}

static int load_cb(void *arg, const char *key, size_t key_len, const void *val, size_t val_len)
{
	struct cluster *c = arg;
	json_t *rec = json_loadb(val, val_len, 0, NULL);
	const char *host, *res, *attrs, *cg = "";
	struct strbuf why = STRBUF_INIT;
	const char *bad = NULL;
	json_int_t acked = 0;
	struct agent *a;

	if (json_unpack(rec, "{s:s,s:s,s:s,s?:s,s?:I}", "hostname", &host, "resources", &res,
			"attributes", &attrs, "cgroups", &cg, "ackedSeq", &acked)) {
		log_warn("ignoring corrupt agent record '%s'", key);
		json_decref(rec);
		return 0;
	}
	a = agent_new(key + strlen("agents/"), host, res, attrs, cg);
	a->acked_seq = acked > 0 ? (uint64_t)acked : 0;
	json_decref(rec);
	if (agent_sched_add(c, a, &why, &bad)) {
		log_warn("ignoring agent record '%s': %s", key, why.buf);
		agent_free(a);
	} else {
		/* agents get their timeout from now on to register again */
		a->reachable = 1;
		a->last_contact_ms = mono_ms();
		hashmap_put(&c->agents, a->id, a);
	}
	strbuf_release(&why);
	return 0;
}

int agents_load_all(struct cluster *c)
{
	return store_scan(c->store, "agents/", load_cb, c);
}

static void answer_error(struct cluster_answer *ans, int status, const char *path,
			 const char *msg)
{
	ans->status = status;
	strbuf_reset(&ans->body);
	strbuf_addstr(&ans->body, "{\"message\":");
	strbuf_add_json_str(&ans->body, msg);
	if (path) {
		strbuf_addstr(&ans->body, ",\"details\":[{\"path\":");
		strbuf_add_json_str(&ans->body, path);
		strbuf_addstr(&ans->body, ",\"errors\":[");
		strbuf_add_json_str(&ans->body, msg);
		strbuf_addstr(&ans->body, "]}]");
	}
	strbuf_addch(&ans->body, '}');
}

static void set_reachable(struct cluster *c, struct agent *a)
{
	a->last_contact_ms = mono_ms();
	if (a->reachable)
		return;
	a->reachable = 1;
	sched_agent_set_state(c->sched, a->sched_index, SCHED_AGENT_ACTIVE);
	log_info("agent '%s' (%s) is reachable again", a->id, a->hostname);
}

static struct unknown_task *unknown_add(struct cluster *c, const char *agent_id,
				       const char *task_id, uint64_t kill_at_ms)
{
	struct unknown_task *u = hashmap_get(&c->unknown, task_id);

	if (u)
		return NULL;
	u = xcalloc(1, sizeof(*u));
	u->task_id = xstrdup(task_id);
	u->agent_id = xstrdup(agent_id);
	u->kill_at_ms = kill_at_ms;
	hashmap_put(&c->unknown, u->task_id, u);
	return u;
}

/* A task the agent reports that the server does not know: killed after a grace period. */
static void note_unknown(struct cluster *c, const char *agent_id, const char *task_id)
{
	if (unknown_add(c, agent_id, task_id,
			mono_ms() + (uint64_t)c->cfg.unknown_task_grace_s * 1000u))
		log_warn("agent '%s' runs task '%s', which this server does not know: it is killed "
			 "in %u s unless it becomes known",
			 agent_id, task_id, c->cfg.unknown_task_grace_s);
}

void agents_note_expunged(struct cluster *c, const char *agent_id, const char *task_id)
{
	/* "it will be killed if it ever comes back" (Marathon's unreachableStrategy) */
	unknown_add(c, agent_id, task_id, 0);
}

void cluster_register(struct cluster *c, const json_t *body, struct cluster_answer *ans)
{
	const char *id = NULL, *host = NULL, *res = NULL, *attrs = "", *cg = "";
	struct strbuf why = STRBUF_INIT;
	const char *bad = NULL;
	char newid[64];
	json_t *tasks = NULL, *t;
	struct agent *a;
	size_t i;

	if (json_unpack((json_t *)body, "{s?:s,s:s,s:s,s?:s,s?:s,s?:o}", "agentId", &id,
			"hostname", &host, "resources", &res, "attributes", &attrs, "cgroups", &cg,
			"tasks", &tasks) ||
	    (tasks && !json_is_array(tasks))) {
		answer_error(ans, 422, "/", "a registration needs hostname and resources (strings) "
					    "and tasks (an array)");
		return;
	}
	if (!id || !*id) {
		uuid_t u;
		char s[37];

		uuid_generate_random(u);
		uuid_unparse_lower(u, s);
		snprintf(newid, sizeof(newid), "agent-%s", s);
		id = newid;
	}
	{
		struct sched_resources pr;
		struct sched_attrs pa;
		int bad_res, bad_attrs = 0;

		sched_resources_init(&pr);
		sched_attrs_init(&pa);
		bad_res = sched_resources_parse(&pr, res, &why);
		if (!bad_res)
			bad_attrs = sched_attrs_parse(&pa, attrs, &why);
		sched_resources_release(&pr);
		sched_attrs_release(&pa);
		if (bad_res || bad_attrs) {
			answer_error(ans, 422, bad_res ? "/resources" : "/attributes", why.buf);
			strbuf_release(&why);
			return;
		}
	}
	a = hashmap_get(&c->agents, id);
	if (!a) {
		a = agent_new(id, host, res, attrs, cg);
		if (agent_sched_add(c, a, &why, &bad)) {
			answer_error(ans, 422, bad, why.buf);
			agent_free(a);
			strbuf_release(&why);
			return;
		}
		a->reachable = 1;
		hashmap_put(&c->agents, a->id, a);
		log_info("agent '%s' (%s) registered: %s", a->id, a->hostname, a->resources);
	} else {
		if (strcmp(a->resources, res) || strcmp(a->attributes, attrs))
			log_warn("agent '%s' registered with other resources or attributes than "
				 "before; the first ones stay in force",
				 a->id);
		free(a->cgroups);
		a->cgroups = xstrdup(cg);
		log_info("agent '%s' (%s) registered again with %zu tasks", a->id, a->hostname,
			 json_array_size(tasks));
	}
	agent_persist(c, a);
	/* commands queued before this registration are stale: reconciliation decides anew */
	strbuf_reset(&a->outbox);
	set_reachable(c, a);

	/* reconcile: what the server expects there against what the agent runs */
	{
		struct hashmap listed;
		const char *key;
		void *val;

		hashmap_init(&listed);
		json_array_foreach(tasks, i, t) {
			const char *tid = json_string_value(json_object_get(t, "taskId"));
			const char *st = json_string_value(json_object_get(t, "state"));
			struct inst *in;

			if (!tid)
				continue;
			hashmap_put(&listed, tid, (void *)1);
			in = hashmap_get(&c->insts, tid);
			if (!in || strcmp(in->agent_id, a->id)) {
				note_unknown(c, a->id, tid);
				continue;
			}
			if (in->state == INST_UNREACHABLE || in->state == INST_STAGING ||
			    in->state == INST_STARTING) {
				in->state = st && !strcmp(st, "TASK_STARTING") ? INST_STARTING
										: INST_RUNNING;
				if (!in->started_at && in->state == INST_RUNNING)
					in->started_at = time_now_ms();
				inst_persist(c, in);
				inst_emit(c, in, "reconciled: the agent runs this task");
			}
			if (in->kill_sent)
				agent_send_kill(c, in, 3); /* it was to die: say so again */
		}
		/* instances on this agent that it does not list are gone */
		{
			struct inst **gone = NULL;
			size_t ngone = 0, agone = 0;

			for (size_t k = 0; hashmap_next(&c->insts, &k, &key, &val);) {
				struct inst *in = val;

				if (!strcmp(in->agent_id, a->id) && !hashmap_get(&listed, in->task_id)) {
					ALLOC_GROW(gone, ngone + 1, agone);
					gone[ngone++] = in;
				}
			}
			for (size_t k = 0; k < ngone; k++) {
				gone[k]->state = INST_LOST;
				scale_terminal(c, gone[k], "the agent does not run this task any more");
			}
			free(gone);
		}
		hashmap_release(&listed);
	}
	ans->status = 200;
	strbuf_reset(&ans->body);
	strbuf_addstr(&ans->body, "{\"agentId\":");
	strbuf_add_json_str(&ans->body, a->id);
	strbuf_addf(&ans->body, ",\"epoch\":%llu,\"heartbeatIntervalMs\":%u,\"ackedSeq\":%llu}",
		    (unsigned long long)c->epoch, c->cfg.heartbeat_interval_ms,
		    (unsigned long long)a->acked_seq);
	strbuf_release(&why);
	scale_schedule(c);
}

int cluster_open_commands(struct cluster *c, const char *agent_id, struct http_request *req)
{
	struct agent *a = hashmap_get(&c->agents, agent_id);
	struct strbuf ping = STRBUF_INIT;

	if (!a)
		return PACER_ENOTFOUND;
	if (a->stream && !a->mux)
		http_stream_close(a->stream);
	a->mux = NULL; /* a shared stream stays open for its other agents */
	a->stream = http_respond_stream(req, 200, "application/x-ndjson", stream_closed, a);
	set_reachable(c, a);
	strbuf_addf(&ping, "{\"type\":\"ping\",\"epoch\":%llu}\n", (unsigned long long)c->epoch);
	http_stream_write(a->stream, ping.buf, ping.len);
	strbuf_release(&ping);
	if (a->outbox.len && c->epoch_durable) {
		struct strbuf out = a->outbox;

		strbuf_init(&a->outbox, 0);
		agent_send(c, a, out.buf, out.len);
		strbuf_release(&out);
	}
	return 0;
}

/* Detaches the mux's agents and frees it; its stream is already closed or aborted. */
static void mux_free(struct agent_mux *m)
{
	struct cluster *c = m->c;

	for (size_t i = 0; i < m->n; i++) {
		if (m->agents[i]->mux == m) {
			m->agents[i]->mux = NULL;
			m->agents[i]->stream = NULL;
		}
	}
	if (m->prev)
		m->prev->next = m->next;
	else
		c->muxes = m->next;
	if (m->next)
		m->next->prev = m->prev;
	free(m->agents);
	free(m);
}

static void mux_closed(struct http_stream *s, void *arg)
{
	mux_free(arg);
}

int cluster_open_commands_mux(struct cluster *c, const json_t *body, struct http_request *req,
			      struct cluster_answer *ans)
{
	const json_t *ids = json_object_get(body, "agents"), *v;
	struct agent_mux *m;
	struct strbuf ping = STRBUF_INIT;
	size_t i, alloc = 0;

	if (!json_is_array(ids)) {
		answer_error(ans, 422, "/agents", "must be an array of agent ids");
		return -1;
	}
	m = xcalloc(1, sizeof(*m));
	m->c = c;
	json_array_foreach(ids, i, v) {
		struct agent *a = json_is_string(v) ? hashmap_get(&c->agents, json_string_value(v)) : NULL;

		if (!a)
			continue;
		ALLOC_GROW(m->agents, m->n + 1, alloc);
		m->agents[m->n++] = a;
	}
	if (!m->n) {
		free(m);
		answer_error(ans, 404, NULL, "none of these agents is known: register them again");
		return -1;
	}
	m->stream = http_respond_stream(req, 200, "application/x-ndjson", mux_closed, m);
	m->next = c->muxes;
	if (c->muxes)
		c->muxes->prev = m;
	c->muxes = m;
	strbuf_addf(&ping, "{\"type\":\"ping\",\"epoch\":%llu}\n", (unsigned long long)c->epoch);
	http_stream_write(m->stream, ping.buf, ping.len);
	strbuf_release(&ping);
	for (i = 0; i < m->n; i++) {
		struct agent *a = m->agents[i];

		if (a->stream && !a->mux)
			http_stream_close(a->stream);
		a->stream = m->stream;
		a->mux = m;
		set_reachable(c, a);
	}
	/* queued commands go out now; a failing write aborts the stream and frees m */
	for (i = 0; i < m->n; i++) {
		struct agent *a = m->agents[i];

		if (a->mux != m || !a->outbox.len || !c->epoch_durable)
			continue;
		{
			struct strbuf out = a->outbox;

			strbuf_init(&a->outbox, 0);
			agent_send(c, a, out.buf, out.len);
			strbuf_release(&out);
		}
		if (a->mux != m)
			break;
	}
	return 0;
}

static int parse_state(const char *s, enum inst_state *out)
{
	static const struct {
		const char *name;
		enum inst_state state;
	} map[] = {
		{"TASK_STAGING", INST_STAGING},   {"TASK_STARTING", INST_STARTING},
		{"TASK_RUNNING", INST_RUNNING},   {"TASK_KILLING", INST_KILLING},
		{"TASK_FINISHED", INST_FINISHED}, {"TASK_FAILED", INST_FAILED},
		{"TASK_KILLED", INST_KILLED},     {"TASK_LOST", INST_LOST},
		{"TASK_ERROR", INST_FAILED},      {"TASK_DROPPED", INST_LOST},
		{"TASK_GONE", INST_LOST},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (!strcmp(map[i].name, s)) {
			*out = map[i].state;
			return 0;
		}
	}
	return PACER_EBADREQUEST;
}

/* Most results one update may carry (outside input; the agent sends at most 16). */
#define MAX_HEALTH_RESULTS 64

/*
 * An agent's health results (docs/agent-protocol.md) replace the previous
 * ones; a check failing maxConsecutiveFailures (> 0) times in a row marks
 * the task for a kill, which scale.c rate-limits per app.
 */
static void apply_health(struct cluster *c, struct inst *in, const json_t *results)
{
	const struct app *app = apps_get(c->apps, in->app_id);
	const json_t *hcs = app ? json_object_get(app->def->json, "healthChecks") : NULL, *r;
	size_t i;

	if (json_array_size(results) > MAX_HEALTH_RESULTS)
		return;
	json_decref(in->health);
	in->health = json_incref((json_t *)results);
	c->generation++;
	json_array_foreach(results, i, r) {
		json_int_t max = json_integer_value(
			json_object_get(json_array_get(hcs, i), "maxConsecutiveFailures"));

		if (max > 0 && !json_is_true(json_object_get(r, "alive")) &&
		    json_integer_value(json_object_get(r, "consecutiveFailures")) >= max)
			in->health_kill = 1;
	}
	if (in->health_kill)
		scale_schedule(c);
}

static void apply_update(struct cluster *c, struct agent *a, const json_t *u)
{
	const char *tid = json_string_value(json_object_get(u, "taskId"));
	const char *st = json_string_value(json_object_get(u, "state"));
	const char *msg = json_string_value(json_object_get(u, "message"));
	struct inst *in;
	enum inst_state s;

	if (!tid || !st || parse_state(st, &s))
		return;
	in = hashmap_get(&c->insts, tid);
	if (!in || strcmp(in->agent_id, a->id)) {
		if (!inst_is_terminal(s)) {
			note_unknown(c, a->id, tid);
		} else {
			struct unknown_task *ut = hashmap_remove(&c->unknown, tid);

			if (ut) {
				free(ut->task_id);
				free(ut->agent_id);
				free(ut);
			}
		}
		return;
	}
	if (inst_is_terminal(s)) {
		in->state = s;
		scale_terminal(c, in, msg ? msg : "");
		return;
	}
	if (json_is_array(json_object_get(u, "healthResults")))
		apply_health(c, in, json_object_get(u, "healthResults"));
	/* states only move forward; a repeated update changes nothing */
	if (s == in->state || (s < in->state && in->state != INST_UNREACHABLE))
		return;
	in->state = s;
	c->generation++;
	if (s == INST_RUNNING && !in->started_at)
		in->started_at = time_now_ms();
	if (s == INST_RUNNING)
		inst_persist(c, in);
	inst_emit(c, in, msg);
}

void cluster_updates(struct cluster *c, const char *agent_id, const json_t *body,
		     struct cluster_answer *ans)
{
	struct agent *a = hashmap_get(&c->agents, agent_id);
	const json_t *updates = json_object_get(body, "updates"), *u;
	uint64_t acked_before;
	size_t i;

	if (!a) {
		answer_error(ans, 404, NULL, "unknown agent: register again");
		return;
	}
	if (updates && !json_is_array(updates)) {
		answer_error(ans, 422, "/updates", "must be an array");
		return;
	}
	if (!json_is_object(body)) {
		answer_error(ans, 422, "/", "an updates body is an object: {\"epoch\": ..., \"updates\": [...]}");
		return;
	}
	set_reachable(c, a);
	acked_before = a->acked_seq;
	json_array_foreach(updates, i, u) {
		json_int_t seq = json_integer_value(json_object_get(u, "seq"));

		if (seq > 0 && (uint64_t)seq <= a->acked_seq)
			continue; /* applied before: at-least-once delivery */
		apply_update(c, a, u);
		if (seq > 0 && (uint64_t)seq > a->acked_seq)
			a->acked_seq = (uint64_t)seq;
	}
	if (a->acked_seq != acked_before)
		agent_persist(c, a);
	ans->status = 200;
	strbuf_reset(&ans->body);
	strbuf_addf(&ans->body, "{\"ackedSeq\":%llu}", (unsigned long long)a->acked_seq);
}

void cluster_updates_mux(struct cluster *c, const json_t *body, struct cluster_answer *ans)
{
	const json_t *list = json_object_get(body, "agents"), *e;
	struct cluster_answer one = {0};
	struct strbuf unknown = STRBUF_INIT;
	size_t i;
	int first = 1;

	if (!json_is_array(list)) {
		answer_error(ans, 422, "/agents", "must be an array");
		return;
	}
	strbuf_reset(&ans->body);
	strbuf_addstr(&ans->body, "{\"acked\":{");
	json_array_foreach(list, i, e) {
		const char *id = json_string_value(json_object_get(e, "agentId"));
		struct agent *a = id ? hashmap_get(&c->agents, id) : NULL;

		if (!id)
			continue;
		if (!a) {
			strbuf_addstr(&unknown, unknown.len ? "," : "");
			strbuf_add_json_str(&unknown, id);
			continue;
		}
		cluster_updates(c, id, e, &one);
		if (one.status != 200)
			continue;
		strbuf_addstr(&ans->body, first ? "" : ",");
		first = 0;
		strbuf_add_json_str(&ans->body, id);
		strbuf_addf(&ans->body, ":%llu", (unsigned long long)a->acked_seq);
	}
	strbuf_release(&one.body);
	strbuf_addstr(&ans->body, "},\"unknown\":[");
	strbuf_add(&ans->body, unknown.buf, unknown.len);
	strbuf_addstr(&ans->body, "]}");
	strbuf_release(&unknown);
	ans->status = 200;
}

void agents_tick(struct cluster *c, uint64_t now_ms)
{
	const char *key;
	void *val;
	struct unknown_task **due = NULL;
	size_t ndue = 0, adue = 0;

	for (size_t i = 0; hashmap_next(&c->agents, &i, &key, &val);) {
		struct agent *a = val;

		if (a->reachable && now_ms - a->last_contact_ms > c->cfg.agent_timeout_s * 1000u) {
			a->reachable = 0;
			sched_agent_set_state(c->sched, a->sched_index, SCHED_AGENT_UNREACHABLE);
			log_warn("agent '%s' (%s) is unreachable: no contact for %u s", a->id,
				 a->hostname, c->cfg.agent_timeout_s);
			for (size_t k = 0; hashmap_next(&c->insts, &k, &key, &val);) {
				struct inst *in = val;

				if (!strcmp(in->agent_id, a->id) && !inst_is_terminal(in->state) &&
				    in->state != INST_UNREACHABLE) {
					in->state = INST_UNREACHABLE;
					in->unreachable_since = time_now_ms();
					c->generation++;
					inst_emit(c, in, "the agent is unreachable");
				}
			}
			scale_schedule(c);
		} else if (a->stream && a->reachable && !a->mux) {
			struct strbuf ping = STRBUF_INIT;

			strbuf_addf(&ping, "{\"type\":\"ping\",\"epoch\":%llu}\n",
				    (unsigned long long)c->epoch);
			agent_send(c, a, ping.buf, ping.len);
			strbuf_release(&ping);
		}
	}
	for (struct agent_mux *m = c->muxes, *next; m; m = next) {
		struct strbuf ping = STRBUF_INIT;

		next = m->next;
		strbuf_addf(&ping, "{\"type\":\"ping\",\"epoch\":%llu}\n", (unsigned long long)c->epoch);
		if (http_stream_write(m->stream, ping.buf, ping.len)) {
			log_warn("a shared command stream does not read its commands: closing it");
			http_stream_abort(m->stream);
			mux_free(m);
		}
		strbuf_release(&ping);
	}
	for (size_t i = 0; hashmap_next(&c->unknown, &i, &key, &val);) {
		struct unknown_task *u = val;
		struct agent *ua = hashmap_get(&c->agents, u->agent_id);

		/* a kill waits until its agent can hear it */
		if (hashmap_get(&c->insts, u->task_id) ||
		    (now_ms >= u->kill_at_ms && ua && ua->reachable)) {
			ALLOC_GROW(due, ndue + 1, adue);
			due[ndue++] = u;
		}
	}
	for (size_t i = 0; i < ndue; i++) {
		struct unknown_task *u = due[i];
		struct agent *a = hashmap_get(&c->agents, u->agent_id);

		if (!hashmap_get(&c->insts, u->task_id) && a) {
			struct strbuf line = STRBUF_INIT;

			log_warn("killing unknown task '%s' on agent '%s'", u->task_id, a->id);
			strbuf_addf(&line, "{\"type\":\"kill\",\"epoch\":%llu,\"taskId\":",
				    (unsigned long long)c->epoch);
			strbuf_add_json_str(&line, u->task_id);
			strbuf_addstr(&line, ",\"gracePeriodSeconds\":3}\n");
			agent_send(c, a, line.buf, line.len);
			strbuf_release(&line);
		}
		hashmap_remove(&c->unknown, u->task_id);
		free(u->task_id);
		free(u->agent_id);
		free(u);
	}
	free(due);
}

void cluster_agents_json(const struct cluster *c, struct strbuf *out)
{
	const char *key;
	void *val;
	int first = 1;

	strbuf_addstr(out, "{\"agents\":[");
	for (size_t i = 0; hashmap_next(&c->agents, &i, &key, &val);) {
		const struct agent *a = val;
		struct sched_usage used, total;

		sched_agent_usage(c->sched, a->sched_index, &used, &total);
		strbuf_addstr(out, first ? "{\"id\":" : ",{\"id\":");
		first = 0;
		strbuf_add_json_str(out, a->id);
		strbuf_addstr(out, ",\"hostname\":");
		strbuf_add_json_str(out, a->hostname);
		strbuf_addf(out, ",\"state\":\"%s\",\"resources\":", a->reachable ? "ACTIVE" : "UNREACHABLE");
		strbuf_add_json_str(out, a->resources);
		strbuf_addstr(out, ",\"attributes\":");
		strbuf_add_json_str(out, a->attributes);
		strbuf_addstr(out, ",\"cgroups\":");
		strbuf_add_json_str(out, a->cgroups);
		strbuf_addf(out, ",\"total\":{\"cpus\":%g,\"mem\":%g,\"disk\":%g,\"gpus\":%g,\"ports\":%u},"
				 "\"used\":{\"cpus\":%g,\"mem\":%g,\"disk\":%g,\"gpus\":%g,\"ports\":%u,"
				 "\"instances\":%u},\"connected\":%s}",
			    total.cpus, total.mem, total.disk, total.gpus, total.ports, used.cpus,
			    used.mem, used.disk, used.gpus, used.ports, used.instances,
			    a->stream ? "true" : "false");
	}
	strbuf_addstr(out, "]}");
}
