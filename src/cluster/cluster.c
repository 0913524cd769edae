/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster's lifecycle, its timers and what the Marathon API reads of it; see cluster.h. */
#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cluster/cluster_int.h"

static void on_tick(uv_timer_t *t)
{
	struct cluster *c = t->data;

	agents_tick(c, time_mono_ns() / 1000000u);
	scale_check(c);
}

static void flush_outboxes(struct cluster *c)
{
	const char *key;
	void *val;

	for (size_t i = 0; hashmap_next(&c->agents, &i, &key, &val);) {
		struct agent *a = val;

		if (a->stream && a->outbox.len) {
			struct strbuf out = a->outbox;

			strbuf_init(&a->outbox, 0);
			agent_send(c, a, out.buf, out.len);
			strbuf_release(&out);
		}
	}
}

static void epoch_stored(void *arg, int status)
{
	struct cluster *c = arg;

	if (status) {
		log_error("cannot store the epoch: %s; no commands are sent", pacer_strerror(status));
		return;
	}
	c->epoch_durable = 1;
	flush_outboxes(c);
}

int cluster_init(struct cluster **out, uv_loop_t *loop, struct store *store, struct apps *apps,
		 const struct cluster_config *cfg)
{
	struct cluster *c = xcalloc(1, sizeof(*c));
	struct sched_options so = {.strategy = SCHED_SPREAD};
	struct store_batch *b;
	char *val = NULL, buf[32];
	size_t len;
	int err;

	c->loop = loop;
	c->store = store;
	c->apps = apps;
	c->cfg = *cfg;
	if (!c->cfg.agent_timeout_s)
		c->cfg.agent_timeout_s = 15;
	if (!c->cfg.unknown_task_grace_s)
		c->cfg.unknown_task_grace_s = 60;
	if (!c->cfg.heartbeat_interval_ms)
		c->cfg.heartbeat_interval_ms = 1000;
	c->sched = sched_new(&so);
	hashmap_init(&c->agents);
	hashmap_init(&c->insts);
	hashmap_init(&c->runs);
	hashmap_init(&c->unknown);

	err = store_get(store, "meta/epoch", &val, &len);
	if (!err)
		c->epoch = strtoull(val, NULL, 10);
	else if (err != PACER_ENOTFOUND)
		goto fail;
	free(val);
	c->epoch++;
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)c->epoch);
	b = store_batch_new();
	store_batch_put(b, "meta/epoch", buf, strlen(buf));
	err = store_commit(store, b, epoch_stored, c);
	if (err)
		goto fail;
	err = agents_load_all(c);
	if (!err)
		err = inst_load_all(c);
	if (err)
		goto fail;
	uv_timer_init(loop, &c->check_timer);
	uv_timer_init(loop, &c->tick_timer);
	c->check_timer.data = c->tick_timer.data = c;
	uv_timer_start(&c->tick_timer, on_tick, 1000, 1000);
	log_info("cluster: epoch %llu, %zu agents, %zu instances", (unsigned long long)c->epoch,
		 hashmap_count(&c->agents), hashmap_count(&c->insts));
	scale_schedule(c);
	*out = c;
	return 0;
fail:
	log_error("cannot load the cluster state: %s", pacer_strerror(err));
	cluster_free(c);
	return err;
}

static void timer_closed(uv_handle_t *h)
{
	struct cluster *c = h->data;

	if (--c->closing == 1)
		free(c);
}

void cluster_free(struct cluster *c)
{
	const char *key;
	void *val;
	struct inst **all;
	size_t n = 0;

	if (!c)
		return;
	agents_free_all(c);
	all = xcalloc(hashmap_count(&c->insts) + 1, sizeof(*all));
	for (size_t i = 0; hashmap_next(&c->insts, &i, &key, &val);)
		all[n++] = val;
	for (size_t i = 0; i < n; i++) {
		free(all[i]->task_id);
		free(all[i]->app_id);
		free(all[i]->agent_id);
		free(all[i]->host);
		json_decref(all[i]->health);
		free(all[i]);
	}
	free(all);
	hashmap_release(&c->insts);
	for (size_t i = 0; hashmap_next(&c->runs, &i, &key, &val);) {
		struct app_run *run = val;

		if (run->spec)
			sched_spec_free(c->sched, run->spec);
		free(run->insts);
		free(run->last_failure);
		free(run->app_id);
		free(run);
	}
	hashmap_release(&c->runs);
	for (size_t i = 0; hashmap_next(&c->unknown, &i, &key, &val);) {
		struct unknown_task *u = val;

		free(u->task_id);
		free(u->agent_id);
		free(u);
	}
	hashmap_release(&c->unknown);
	sched_free(c->sched);
	if (uv_is_active((uv_handle_t *)&c->tick_timer) || c->tick_timer.loop) {
		/* the struct goes with the last timer's close callback */
		c->closing = 3;
		uv_close((uv_handle_t *)&c->check_timer, timer_closed);
		uv_close((uv_handle_t *)&c->tick_timer, timer_closed);
		return;
	}
	free(c);
}

void cluster_set_event_bus(struct cluster *c, struct event_bus *bus)
{
	c->events = bus;
}

struct event_bus *cluster_event_bus(const struct cluster *c)
{
	return c->events;
}

uint64_t cluster_generation(const struct cluster *c)
{
	return c ? c->generation : 0;
}

void cluster_apps_changed(struct cluster *c)
{
	if (c)
		scale_schedule(c);
}

void cluster_app_counts(const struct cluster *c, const char *app_id, struct app_counts *out)
{
	const struct app_run *run = c ? hashmap_get(&c->runs, app_id) : NULL;

	memset(out, 0, sizeof(*out));
	if (!run)
		return;
	for (size_t i = 0; i < run->n; i++) {
		enum inst_state s = run->insts[i]->state;

		if (s == INST_RUNNING || s == INST_KILLING)
			out->running++;
		else if (s == INST_STAGING || s == INST_STARTING)
			out->staged++;
		if (s == INST_RUNNING) {
			int h = inst_health(c, run->insts[i]);

			out->healthy += h > 0;
			out->unhealthy += h < 0;
		}
	}
}

int cluster_app_converged(const struct cluster *c, const char *app_id, int64_t version)
{
	const struct app_run *run = c ? hashmap_get(&c->runs, app_id) : NULL;
	const struct app *app;
	int64_t running = 0;

	if (!c)
		return 1;
	if (!version) {
		for (size_t i = 0; run && i < run->n; i++)
			if (!inst_is_terminal(run->insts[i]->state))
				return 0;
		return 1;
	}
	app = apps_get(c->apps, app_id);
	if (!app || app->version < version)
		return 0;
	for (size_t i = 0; run && i < run->n; i++) {
		const struct inst *in = run->insts[i];

		if (inst_is_terminal(in->state))
			continue;
		/* anything not running the current configuration is still on its way in or out */
		if (in->state != INST_RUNNING || in->kill_sent ||
		    in->version < app->last_config_change_at)
			return 0;
		running++;
	}
	return running == app->def->instances;
}

void cluster_app_tasks_json(const struct cluster *c, const char *app_id, struct strbuf *out)
{
	const struct app_run *run = c ? hashmap_get(&c->runs, app_id) : NULL;

	for (size_t i = 0; run && i < run->n; i++) {
		if (i)
			strbuf_addch(out, ',');
		inst_json(c, run->insts[i], out);
	}
}

void cluster_app_last_failure_json(const struct cluster *c, const char *app_id,
				   struct strbuf *out)
{
	const struct app_run *run = c ? hashmap_get(&c->runs, app_id) : NULL;

	if (run && run->last_failure) {
		strbuf_addstr(out, ",\"lastTaskFailure\":");
		strbuf_addstr(out, run->last_failure);
	}
}

static int state_matches(const char *filter, enum inst_state s)
{
	const char *name = inst_state_name(s);
	size_t len = strlen(name);

	/* Marathon's status filter: running, staging, ... (case-insensitive, without TASK_) */
	for (const char *p = filter; *p;) {
		const char *end = strchr(p, ',');
		size_t n = end ? (size_t)(end - p) : strlen(p);

		if (n == len - 5 && !strncasecmp(p, name + 5, n))
			return 1;
		if (n == len && !strncasecmp(p, name, n))
			return 1;
		p += n + (end ? 1 : 0);
	}
	return 0;
}

void cluster_tasks_json(const struct cluster *c, const char *status_filter, struct strbuf *out)
{
	struct app *const *all;
	size_t n;
	int first = 1;

	all = apps_sorted(c->apps, &n);
	for (size_t k = 0; k < n; k++) {
		const struct app_run *run = hashmap_get(&c->runs, all[k]->id);

		for (size_t i = 0; run && i < run->n; i++) {
			if (status_filter && *status_filter &&
			    !state_matches(status_filter, run->insts[i]->state))
				continue;
			if (!first)
				strbuf_addch(out, ',');
			first = 0;
			inst_json(c, run->insts[i], out);
		}
	}
}

void cluster_queue_each(const struct cluster *c, cluster_queue_fn *fn, void *arg)
{
	struct app *const *all;
	size_t n;
	int64_t now = time_now_ms();

	all = apps_sorted(c->apps, &n);
	for (size_t k = 0; k < n; k++) {
		const struct app_run *run = hashmap_get(&c->runs, all[k]->id);
		struct cluster_queue_item item;

		if (!run || !run->waiting)
			continue;
		memset(&item, 0, sizeof(item));
		item.app = all[k];
		item.count = run->waiting;
		item.since = run->queued_since;
		item.delay_left_s = run->delay_until > now ? (double)(run->delay_until - now) / 1000 : 0;
		item.overdue = run->delay_until <= now;
		item.last_refusals = &run->last_refusals;
		item.attempt_refusals = &run->attempt_refusals;
		item.last_refused_at = run->last_refused_at;
		fn(arg, &item);
	}
}

int cluster_reset_delay(struct cluster *c, const char *app_id)
{
	struct app_run *run = hashmap_get(&c->runs, app_id);

	if (!run || !run->waiting)
		return PACER_ENOTFOUND;
	run->delay_until = 0;
	run->backoff_s = 0;
	scale_schedule(c);
	return 0;
}

/* taskKillGracePeriodSeconds of the app, or Mesos' 3 s. */
static int kill_grace_of(const struct cluster *c, const char *app_id)
{
	const struct app *app = apps_get(c->apps, app_id);
	const json_t *g = app ? json_object_get(app->def->json, "taskKillGracePeriodSeconds") : NULL;

	return json_is_integer(g) ? (int)json_integer_value(g) : 3;
}

size_t cluster_kill_tasks(struct cluster *c, const char *app_id, const char *const *task_ids,
			  size_t n, size_t *unknown)
{
	size_t killed = 0;

	*unknown = 0;
	for (size_t i = 0; i < n; i++) {
		struct inst *in = hashmap_get(&c->insts, task_ids[i]);

		if (!in || (app_id && strcmp(in->app_id, app_id))) {
			(*unknown)++;
			continue;
		}
		if (in->kill_sent || inst_is_terminal(in->state))
			continue; /* on its way out already: counted once */
		agent_send_kill(c, in, kill_grace_of(c, in->app_id));
		killed++;
	}
	scale_schedule(c);
	return killed;
}

size_t cluster_kill_app_tasks(struct cluster *c, const char *app_id, const char *host)
{
	struct app_run *run = hashmap_get(&c->runs, app_id);
	size_t killed = 0;

	for (size_t i = 0; run && i < run->n; i++) {
		struct inst *in = run->insts[i];

		if (host && strcmp(in->host, host))
			continue;
		if (in->kill_sent || inst_is_terminal(in->state))
			continue;
		agent_send_kill(c, in, kill_grace_of(c, app_id));
		killed++;
	}
	scale_schedule(c);
	return killed;
}

int cluster_task_json(const struct cluster *c, const char *task_id, struct strbuf *out)
{
	const struct inst *in = hashmap_get(&c->insts, task_id);

	if (!in)
		return PACER_ENOTFOUND;
	inst_json(c, in, out);
	return 0;
}

const char *cluster_task_app(const struct cluster *c, const char *task_id)
{
	const struct inst *in = hashmap_get(&c->insts, task_id);

	return in ? in->app_id : NULL;
}
