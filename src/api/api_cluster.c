/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Cluster resources: the agent protocol (/v1/agents, docs/agent-protocol.md),
 * Marathon's tasks (/v2/tasks, /v2/apps/{id}/tasks) and launch queue
 * (/v2/queue).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/error.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cluster/cluster.h"
#include "deploy/deployments.h"
#include "model/pathid.h"
#include "state/apps.h"

static void answer(struct api *api, struct http_request *req, struct cluster_answer *ans)
{
	api_respond(api, req, ans->status, &ans->body);
	strbuf_release(&ans->body);
}

/* /v1/agents, /v1/agents/{id}/commands, /v1/agents/{id}/updates */
static void agents_resource(struct api *api, struct http_request *req, const char *rest)
{
	enum http_method m = http_request_method(req);
	struct cluster_answer ans = {0};
	char id[256];
	const char *slash;
	json_t *body;

	if (!*rest) {
		if (m == HTTP_POST) {
			if (api_parse_body(api, req, &body))
				return;
			cluster_register(api->cluster, body, &ans);
			json_decref(body);
			answer(api, req, &ans);
		} else if (m == HTTP_GET || m == HTTP_HEAD) {
			struct strbuf b = STRBUF_INIT;

			cluster_agents_json(api->cluster, &b);
			api_respond(api, req, 200, &b);
		} else {
			http_response_header(req, "Allow", "GET, HEAD, POST");
			api_respond_error(api, req, 405, "method %s is not allowed on '/v1/agents'",
					  http_request_method_name(req));
		}
		return;
	}
	if (!strcmp(rest, "/commands") && m == HTTP_POST) {
		/* several agents' commands on one stream */
		if (api_parse_body(api, req, &body))
			return;
		if (cluster_open_commands_mux(api->cluster, body, req, &ans))
			answer(api, req, &ans);
		else
			api_record(api, req, 200);
		json_decref(body);
		return;
	}
	if (!strcmp(rest, "/updates") && m == HTTP_POST) {
		if (api_parse_body(api, req, &body))
			return;
		cluster_updates_mux(api->cluster, body, &ans);
		json_decref(body);
		answer(api, req, &ans);
		return;
	}
	slash = strchr(rest + 1, '/');
	if (!slash || (size_t)(slash - rest - 1) >= sizeof(id)) {
		api_respond_error(api, req, 404, "no resource at '/v1/agents%s'", rest);
		return;
	}
	memcpy(id, rest + 1, (size_t)(slash - rest - 1));
	id[slash - rest - 1] = '\0';
	if (!strcmp(slash, "/commands") && (m == HTTP_GET)) {
		if (cluster_open_commands(api->cluster, id, req))
			api_respond_error(api, req, 404, "unknown agent '%s': register again", id);
		else
			api_record(api, req, 200);
		return;
	}
	if (!strcmp(slash, "/updates") && m == HTTP_POST) {
		if (api_parse_body(api, req, &body))
			return;
		cluster_updates(api->cluster, id, body, &ans);
		json_decref(body);
		answer(api, req, &ans);
		return;
	}
	api_respond_error(api, req, 404, "no resource at '/v1/agents%s' for %s", rest,
			  http_request_method_name(req));
}

/* ---- one app's tasks: /v2/apps/{id}/tasks[/{taskId}] ---- */

void api_app_tasks_get(struct api *api, struct http_request *req, const char *id)
{
	struct strbuf b = STRBUF_INIT;

	if (!apps_get(api->apps, id)) {
		api_app_not_found(api, req, id);
		return;
	}
	strbuf_addstr(&b, "{\"tasks\":[");
	cluster_app_tasks_json(api->cluster, id, &b);
	strbuf_addstr(&b, "]}");
	api_respond(api, req, 200, &b);
}

/* DELETE /v2/apps/{id}/tasks[/{taskId}]: kill (and, with scale=true, scale down). */
void api_app_tasks_kill(struct api *api, struct http_request *req, const char *id,
			const char *task_id)
{
	struct app *app = apps_get(api->apps, id);
	struct strbuf b = STRBUF_INIT;
	size_t killed, unknown = 0;
	int scale, wipe, force;

	if (api_query_bool(api, req, "scale", 0, &scale) ||
	    api_query_bool(api, req, "wipe", 0, &wipe) ||
	    api_query_bool(api, req, "force", 0, &force))
		return;
	if (!app) {
		api_app_not_found(api, req, id);
		return;
	}
	if (task_id)
		killed = cluster_kill_tasks(api->cluster, id, &task_id, 1, &unknown);
	else
		killed = cluster_kill_app_tasks(api->cluster, id, http_request_query(req, "host"));
	if (task_id && unknown) {
		api_respond_error(api, req, 404, "Task '%s' does not exist", task_id);
		return;
	}
	if (scale && killed) {
		/* scale down by as many as were killed: a new version of the app */
		struct app_def *def;
		struct apps_txn *t;
		char dep[37];

		if (apps_load_version(api->apps, id, app->version, &def)) {
			api_respond_error(api, req, 500, "cannot copy the definition of app '%s'", id);
			return;
		}
		def->instances = def->instances > (int64_t)killed ? def->instances - (int64_t)killed : 0;
		json_object_set_new(def->json, "instances", json_integer(def->instances));
		api_new_deployment_id(dep);
		t = apps_txn_begin(api->apps);
		api_events_note(api, t, def->id, 0);
		api_deploy_note(api, t, def->id, DEPLOY_SCALE, app->version, NULL);
		apps_txn_put(t, def);
		api_deployment_result(&b, dep, apps_txn_version(t));
		api_deployment_header(api, req, t, dep);
		api_commit_and_answer(api, req, t, 200, &b);
		return;
	}
	/* Marathon answers the killed tasks; they are on their way out */
	strbuf_addstr(&b, task_id ? "{\"task\":" : "{\"tasks\":[");
	if (task_id) {
		strbuf_addstr(&b, "{\"id\":");
		strbuf_add_json_str(&b, task_id);
		strbuf_addstr(&b, ",\"appId\":");
		strbuf_add_json_str(&b, id);
		strbuf_addstr(&b, "}}");
	} else {
		cluster_app_tasks_json(api->cluster, id, &b);
		strbuf_addstr(&b, "]}");
	}
	api_respond(api, req, 200, &b);
}

/* ---- all tasks: /v2/tasks ---- */

static void tasks_list(struct api *api, struct http_request *req)
{
	struct strbuf b = STRBUF_INIT;

	strbuf_addstr(&b, "{\"tasks\":[");
	cluster_tasks_json(api->cluster, http_request_query(req, "status"), &b);
	strbuf_addstr(&b, "]}");
	api_respond(api, req, 200, &b);
}

/* Lowers each app's instances by the number of its tasks killed: one deployment. */
static void scale_down_after_kill(struct api *api, struct http_request *req,
				  const char *const *ids, size_t n)
{
	struct strbuf b = STRBUF_INIT;
	struct apps_txn *t = apps_txn_begin(api->apps);
	struct hashmap dec;
	const char *key;
	void *val;
	char dep[37];

	hashmap_init(&dec);
	for (size_t i = 0; i < n; i++) {
		const char *app_id = cluster_task_app(api->cluster, ids[i]);
		size_t unknown;

		if (app_id && cluster_kill_tasks(api->cluster, NULL, &ids[i], 1, &unknown))
			hashmap_put(&dec, app_id, (void *)((uintptr_t)hashmap_get(&dec, app_id) + 1));
	}
	for (size_t i = 0; hashmap_next(&dec, &i, &key, &val);) {
		struct app *app = apps_get(api->apps, key);
		struct app_def *def;

		if (!app || apps_load_version(api->apps, key, app->version, &def))
			continue;
		def->instances = def->instances > (int64_t)(uintptr_t)val
					 ? def->instances - (int64_t)(uintptr_t)val
					 : 0;
		json_object_set_new(def->json, "instances", json_integer(def->instances));
		api_events_note(api, t, def->id, 0);
		api_deploy_note(api, t, def->id, DEPLOY_SCALE, app->version, NULL);
		apps_txn_put(t, def);
	}
	hashmap_release(&dec);
	api_new_deployment_id(dep);
	api_deployment_result(&b, dep, apps_txn_version(t));
	api_deployment_header(api, req, t, dep);
	api_commit_and_answer(api, req, t, 200, &b);
}

/* POST /v2/tasks/delete {"ids": [...]}: kill tasks of any app. */
static void tasks_delete(struct api *api, struct http_request *req)
{
	struct strbuf b = STRBUF_INIT;
	const char **ids;
	size_t n, unknown, i;
	json_t *body, *list, *v;
	int scale, wipe;

	if (api_query_bool(api, req, "scale", 0, &scale) ||
	    api_query_bool(api, req, "wipe", 0, &wipe) || api_parse_body(api, req, &body))
		return;
	list = json_object_get(body, "ids");
	if (!json_is_array(list)) {
		struct verrors e = VERRORS_INIT;

		verrors_add(&e, "/ids", "error.expected.jsarray");
		e.type_error = 1;
		api_respond_verrors(api, req, &e);
		verrors_release(&e);
		json_decref(body);
		return;
	}
	n = json_array_size(list);
	ids = xcalloc(n + 1, sizeof(*ids));
	json_array_foreach(list, i, v) {
		ids[i] = json_string_value(v) ? json_string_value(v) : "";
		if (!cluster_task_app(api->cluster, ids[i])) {
			/* Marathon's answer: nothing is killed when one id is unknown */
			api_respond_error(api, req, 400, "Invalid task id %s", ids[i]);
			goto out;
		}
	}
	if (scale) {
		scale_down_after_kill(api, req, ids, n);
		goto out;
	}
	strbuf_addstr(&b, "{\"tasks\":[");
	for (i = 0; i < n; i++) {
		if (i)
			strbuf_addch(&b, ',');
		cluster_task_json(api->cluster, ids[i], &b);
	}
	strbuf_addstr(&b, "]}");
	cluster_kill_tasks(api->cluster, NULL, ids, n, &unknown);
	api_respond(api, req, 200, &b);
out:
	free(ids);
	json_decref(body);
	strbuf_release(&b);
}

static void tasks_resource(struct api *api, struct http_request *req, const char *rest)
{
	enum http_method m = http_request_method(req);

	if (!*rest && (m == HTTP_GET || m == HTTP_HEAD))
		tasks_list(api, req);
	else if (!strcmp(rest, "/delete") && m == HTTP_POST)
		tasks_delete(api, req);
	else
		api_respond_error(api, req, m == HTTP_GET ? 404 : 405, "no %s on '/v2/tasks%s'",
				  http_request_method_name(req), rest);
}

/* ---- the launch queue ---- */

struct queue_ctx {
	struct api *api;
	struct strbuf *b;
	int n;
};

static void refusals_json(struct strbuf *b, const struct sched_refusals *r)
{
	strbuf_addch(b, '[');
	for (int i = 0; i < SCHED_NREASONS; i++) {
		strbuf_addf(b, "%s{\"reason\":\"%s\",\"declined\":%u,\"processed\":%u}", i ? "," : "",
			    sched_reason_name((enum sched_reason)i), r->declined[i],
			    sched_refusals_processed_at(r, (enum sched_reason)i));
	}
	strbuf_addch(b, ']');
}

static void queue_item(void *arg, const struct cluster_queue_item *it)
{
	struct queue_ctx *q = arg;
	struct strbuf *b = q->b;
	unsigned unused = 0;

	for (int i = 0; i < SCHED_NREASONS; i++)
		unused += it->last_refusals->declined[i];
	strbuf_addstr(b, q->n++ ? ",{" : "{");
	strbuf_addf(b, "\"count\":%u,\"delay\":{\"timeLeftSeconds\":%d,\"overdue\":%s},\"since\":",
		    it->count, (int)(it->delay_left_s + 0.999), it->overdue ? "true" : "false");
	time_add_json(b, it->since);
	strbuf_addstr(b, ",\"app\":");
	api_app_json(q->api, it->app, b);
	strbuf_addf(b, ",\"processedOffersSummary\":{\"processedOffersCount\":%u,"
		       "\"unusedOffersCount\":%u,",
		    it->attempt_refusals->processed, unused);
	if (it->last_refused_at) {
		strbuf_addstr(b, "\"lastUnusedOfferAt\":");
		time_add_json(b, it->last_refused_at);
		strbuf_addch(b, ',');
	}
	strbuf_addstr(b, "\"rejectSummaryLastOffers\":");
	refusals_json(b, it->last_refusals);
	strbuf_addstr(b, ",\"rejectSummaryLaunchAttempt\":");
	refusals_json(b, it->attempt_refusals);
	strbuf_addstr(b, "},\"lastUnusedOffers\":[]}");
}

static void queue_resource(struct api *api, struct http_request *req, const char *rest)
{
	enum http_method m = http_request_method(req);
	size_t len = strlen(rest);

	if (!*rest && (m == HTTP_GET || m == HTTP_HEAD)) {
		struct strbuf b = STRBUF_INIT;
		struct queue_ctx q = {api, &b, 0};

		strbuf_addstr(&b, "{\"queue\":[");
		cluster_queue_each(api->cluster, queue_item, &q);
		strbuf_addstr(&b, "]}");
		api_respond(api, req, 200, &b);
		return;
	}
	if (len > 6 && !strcmp(rest + len - 6, "/delay") && m == HTTP_DELETE) {
		struct strbuf raw = STRBUF_INIT, id = STRBUF_INIT, why = STRBUF_INIT;

		strbuf_add(&raw, rest, len - 6);
		if (pathid_resolve(raw.buf, "/", 0, &id, &why) ||
		    cluster_reset_delay(api->cluster, id.buf))
			api_respond_error(api, req, 404, "Application %s not found in tasks queue.",
					  id.len ? id.buf : raw.buf);
		else
			api_respond_text(api, req, 204, NULL, NULL);
		strbuf_release(&raw);
		strbuf_release(&id);
		strbuf_release(&why);
		return;
	}
	api_respond_error(api, req, 404, "no %s on '/v2/queue%s'", http_request_method_name(req),
			  rest);
}

void api_cluster_register(struct api *api)
{
	router_add(api->router, ~0u, "/v1/agents/*", "/v1/agents", agents_resource);
	router_add(api->router, ~0u, "/v2/tasks/*", "/v2/tasks", tasks_resource);
	router_add(api->router, ~0u, "/v2/queue/*", "/v2/queue", queue_resource);
}
