/* SPDX-License-Identifier: Apache-2.0 */
/* The running deployments and their convergence; see deployments.h. */
#include "deploy/deployments.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "events/bus.h"

#define CHECK_INTERVAL_MS 200
/* Actions listed in one event at most: events stay far below EVENT_MAX_BYTES. */
#define EVENT_ACTIONS_BYTES 1500

struct deployments {
	uv_loop_t *loop;
	uv_timer_t timer;           /* runs while a deployment does */
	deploy_converged_fn *converged;
	void *arg;
	struct event_bus *bus;
	struct deployment **v;      /* in registration order */
	size_t n, alloc;
	struct hashmap by_app;      /* app id -> the deployment that affects it */
	uint64_t generation;
	int stopped;
};

const char *deploy_action_name(enum deploy_action a)
{
	switch (a) {
	case DEPLOY_START:
		return "StartApplication";
	case DEPLOY_SCALE:
		return "ScaleApplication";
	case DEPLOY_RESTART:
		return "RestartApplication";
	case DEPLOY_STOP:
		return "StopApplication";
	}
	return "RestartApplication";
}

struct deployment *deployment_new(const char *id, int64_t version)
{
	struct deployment *dep = xcalloc(1, sizeof(*dep));

	snprintf(dep->id, sizeof(dep->id), "%s", id);
	dep->version = version;
	return dep;
}

static void app_release(struct deploy_app *a)
{
	free(a->app_id);
	free(a->prev_def);
}

void deployment_add(struct deployment *dep, const char *app_id, enum deploy_action action,
		    int64_t prev_version, const char *prev_def)
{
	struct deploy_app *a = NULL;

	for (size_t i = 0; i < dep->napps && !a; i++)
		if (!strcmp(dep->apps[i].app_id, app_id))
			a = &dep->apps[i];
	if (a) {
		/* a later put of the same app in one change: the first one's origin stays */
		if (a->action != DEPLOY_START)
			a->action = action;
		return;
	}
	ALLOC_GROW(dep->apps, dep->napps + 1, dep->alloc);
	a = &dep->apps[dep->napps++];
	memset(a, 0, sizeof(*a));
	a->app_id = xstrdup(app_id);
	a->action = action;
	a->prev_version = prev_version;
	a->prev_def = prev_def ? xstrdup(prev_def) : NULL;
}

void deployment_free(struct deployment *dep)
{
	if (!dep)
		return;
	for (size_t i = 0; i < dep->napps; i++)
		app_release(&dep->apps[i]);
	free(dep->apps);
	free(dep);
}

/* ---- JSON ---- */

static void add_actions(const struct deployment *dep, int readiness, size_t budget,
			struct strbuf *out)
{
	size_t start = out->len;

	strbuf_addch(out, '[');
	for (size_t i = 0; i < dep->napps; i++) {
		if (budget && out->len - start > budget)
			break;
		if (i)
			strbuf_addch(out, ',');
		strbuf_addf(out, "{\"action\":\"%s\",\"app\":", deploy_action_name(dep->apps[i].action));
		strbuf_add_json_str(out, dep->apps[i].app_id);
		if (readiness)
			strbuf_addstr(out, ",\"readinessCheckResults\":[]");
		strbuf_addch(out, '}');
	}
	strbuf_addch(out, ']');
}

void deployment_json(const struct deployment *dep, struct strbuf *out)
{
	strbuf_addstr(out, "{\"id\":");
	strbuf_add_json_str(out, dep->id);
	strbuf_addstr(out, ",\"version\":");
	time_add_json(out, dep->version);
	strbuf_addstr(out, ",\"affectedApps\":[");
	for (size_t i = 0; i < dep->napps; i++) {
		if (i)
			strbuf_addch(out, ',');
		strbuf_add_json_str(out, dep->apps[i].app_id);
	}
	strbuf_addstr(out, "],\"affectedPods\":[],\"steps\":[{\"actions\":");
	add_actions(dep, 0, 0, out);
	strbuf_addstr(out, "}],\"currentActions\":");
	add_actions(dep, 1, 0, out);
	strbuf_addstr(out, ",\"currentStep\":1,\"totalSteps\":1}");
}

void deployments_json(const struct deployments *d, struct strbuf *out)
{
	strbuf_addch(out, '[');
	for (size_t i = 0; i < d->n; i++) {
		if (i)
			strbuf_addch(out, ',');
		deployment_json(d->v[i], out);
	}
	strbuf_addch(out, ']');
}

/* ---- events ---- */

/* Marathon's light plan: {"id","version","steps":[{"actions":[...]}]}, apps by id only. */
static void add_plan(const struct deployment *dep, struct strbuf *out)
{
	size_t before;

	strbuf_addstr(out, "\"plan\":{\"id\":");
	strbuf_add_json_str(out, dep->id);
	strbuf_addstr(out, ",\"version\":");
	time_add_json(out, dep->version);
	strbuf_addstr(out, ",\"steps\":[{\"actions\":");
	before = out->len;
	add_actions(dep, 0, EVENT_ACTIONS_BYTES, out);
	strbuf_addstr(out, "}]");
	if (out->len - before > EVENT_ACTIONS_BYTES)
		strbuf_addstr(out, ",\"actionsTrimmed\":true");
	strbuf_addch(out, '}');
}

static void publish(struct deployments *d, const struct deployment *dep, enum event_type type)
{
	struct strbuf f = STRBUF_INIT;

	if (d->stopped || !d->bus)
		return;
	if (type != EVENT_DEPLOYMENT_INFO) {
		strbuf_addstr(&f, "\"id\":");
		strbuf_add_json_str(&f, dep->id);
		strbuf_addch(&f, ',');
	}
	add_plan(dep, &f);
	if (type == EVENT_DEPLOYMENT_INFO) {
		strbuf_addstr(&f, ",\"currentStep\":{\"actions\":");
		add_actions(dep, 0, EVENT_ACTIONS_BYTES, &f);
		strbuf_addch(&f, '}');
	}
	event_bus_publish(d->bus, type, dep->napps == 1 ? dep->apps[0].app_id : NULL, f.buf, f.len);
	strbuf_release(&f);
}

/* ---- the set ---- */

static void on_timer(uv_timer_t *t)
{
	deployments_check(t->data);
}

struct deployments *deployments_new(uv_loop_t *loop, deploy_converged_fn *converged, void *arg,
				    struct event_bus *bus)
{
	struct deployments *d = xcalloc(1, sizeof(*d));

	d->loop = loop;
	d->converged = converged;
	d->arg = arg;
	d->bus = bus;
	hashmap_init(&d->by_app);
	uv_timer_init(loop, &d->timer);
	d->timer.data = d;
	return d;
}

void deployments_stop(struct deployments *d)
{
	d->stopped = 1;
	uv_timer_stop(&d->timer);
}

static void timer_closed(uv_handle_t *h)
{
	free(h->data);
}

void deployments_free(struct deployments *d)
{
	if (!d)
		return;
	deployments_stop(d);
	for (size_t i = 0; i < d->n; i++)
		deployment_free(d->v[i]);
	free(d->v);
	hashmap_release(&d->by_app);
	uv_close((uv_handle_t *)&d->timer, timer_closed);
}

/* Takes the deployment at i out of the set (the caller frees or hands it on). */
static struct deployment *remove_at(struct deployments *d, size_t i)
{
	struct deployment *dep = d->v[i];

	for (size_t k = 0; k < dep->napps; k++)
		if (hashmap_get(&d->by_app, dep->apps[k].app_id) == dep)
			hashmap_remove(&d->by_app, dep->apps[k].app_id);
	memmove(&d->v[i], &d->v[i + 1], (d->n - i - 1) * sizeof(*d->v));
	d->n--;
	d->generation++;
	return dep;
}

static size_t index_of(const struct deployments *d, const struct deployment *dep)
{
	for (size_t i = 0; i < d->n; i++)
		if (d->v[i] == dep)
			return i;
	return d->n;
}

/* A newer change of app_id: its action leaves older, which fails when left empty. */
static void supersede(struct deployments *d, struct deployment *older, const char *app_id)
{
	size_t i;

	hashmap_remove(&d->by_app, app_id);
	for (size_t k = 0; k < older->napps; k++) {
		if (strcmp(older->apps[k].app_id, app_id))
			continue;
		app_release(&older->apps[k]);
		memmove(&older->apps[k], &older->apps[k + 1],
			(older->napps - k - 1) * sizeof(*older->apps));
		older->napps--;
		break;
	}
	d->generation++;
	if (older->napps)
		return;
	i = index_of(d, older);
	if (i < d->n) {
		remove_at(d, i);
		publish(d, older, EVENT_DEPLOYMENT_FAILED);
		deployment_free(older);
	}
}

void deployments_add(struct deployments *d, struct deployment *dep)
{
	for (size_t k = 0; k < dep->napps; k++) {
		struct deployment *older = hashmap_get(&d->by_app, dep->apps[k].app_id);

		if (older)
			supersede(d, older, dep->apps[k].app_id);
	}
	for (size_t k = 0; k < dep->napps; k++)
		hashmap_put(&d->by_app, dep->apps[k].app_id, dep);
	ALLOC_GROW(d->v, d->n + 1, d->alloc);
	d->v[d->n++] = dep;
	d->generation++;
	publish(d, dep, EVENT_DEPLOYMENT_INFO);
	if (!dep->napps) {
		remove_at(d, d->n - 1);
		publish(d, dep, EVENT_DEPLOYMENT_SUCCESS);
		deployment_free(dep);
		return;
	}
	if (!d->stopped && !uv_is_active((uv_handle_t *)&d->timer))
		uv_timer_start(&d->timer, on_timer, CHECK_INTERVAL_MS, CHECK_INTERVAL_MS);
}

const struct deployment *deployments_get(const struct deployments *d, const char *id)
{
	for (size_t i = 0; i < d->n; i++)
		if (!strcmp(d->v[i]->id, id))
			return d->v[i];
	return NULL;
}

const struct deployment *deployments_of_app(const struct deployments *d, const char *app_id)
{
	return hashmap_get(&d->by_app, app_id);
}

struct deployment *deployments_cancel(struct deployments *d, const char *id)
{
	for (size_t i = 0; i < d->n; i++) {
		if (!strcmp(d->v[i]->id, id)) {
			struct deployment *dep = remove_at(d, i);

			publish(d, dep, EVENT_DEPLOYMENT_FAILED);
			return dep;
		}
	}
	return NULL;
}

void deployments_check(struct deployments *d)
{
	for (size_t i = 0; i < d->n;) {
		struct deployment *dep = d->v[i];
		int all = 1;

		for (size_t k = 0; k < dep->napps; k++) {
			struct deploy_app *a = &dep->apps[k];

			if (!a->done)
				a->done = d->converged(d->arg, a->app_id,
						       a->action == DEPLOY_STOP ? 0 : dep->version);
			all &= a->done;
		}
		if (!all) {
			i++;
			continue;
		}
		remove_at(d, i);
		publish(d, dep, EVENT_DEPLOYMENT_SUCCESS);
		deployment_free(dep);
	}
	if (!d->n)
		uv_timer_stop(&d->timer);
}

size_t deployments_count(const struct deployments *d)
{
	return d->n;
}

uint64_t deployments_generation(const struct deployments *d)
{
	return d->generation;
}
