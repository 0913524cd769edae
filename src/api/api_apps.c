/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /v2/apps: Marathon's apps resource. Requests are parsed and validated here,
 * changes go to the apps index as one transaction each, and the answer is
 * sent when the transaction is durable. Every change is a deployment: it gets
 * a deployment id and the new version.
 */
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "api/labelsel.h"
#include "base/error.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "model/app.h"
#include "cluster/cluster.h"
#include "deploy/deployments.h"
#include "model/pathid.h"

#define SERVICE_PORT_MIN 10000
#define SERVICE_PORT_MAX 20000

enum embed {
	EMBED_COUNTS = 1 << 0,
	EMBED_DEPLOYMENTS = 1 << 1,
	EMBED_TASKS = 1 << 2,
	EMBED_FAILURE = 1 << 3,
	EMBED_STATS = 1 << 4,
	EMBED_READINESS = 1 << 5,
};

/* A change waiting for its commit: the answer is ready, only durability is missing. */
struct apps_op {
	struct api *api;
	struct http_request *req;
	int status;
	struct strbuf body;
	struct strbuf events;      /* apps changed, for events (api_events_take) */
	struct deployment *dep;    /* registered once durable (api_deploy_take), or NULL */
};

/* ---- service ports ---- */

static void port_set(struct api *api, long port, int on)
{
	if (port < SERVICE_PORT_MIN || port >= SERVICE_PORT_MAX)
		return;
	if (on)
		api->service_ports[port / 8] |= (uint8_t)(1u << (port % 8));
	else
		api->service_ports[port / 8] &= (uint8_t)~(1u << (port % 8));
}

static int port_used(const struct api *api, unsigned port)
{
	return api->service_ports[port / 8] & (1u << (port % 8));
}

/* Marks (on) or frees every service port a definition holds. */
static void ports_mark(struct api *api, const struct app_def *def, int on)
{
	const json_t *pd = json_object_get(def->json, "portDefinitions");
	const json_t *pm = json_object_get(json_object_get(def->json, "container"), "portMappings");
	size_t i;
	json_t *v;

	json_array_foreach(pd, i, v)
		port_set(api, (long)json_integer_value(json_object_get(v, "port")), on);
	json_array_foreach(pm, i, v)
		port_set(api, (long)json_integer_value(json_object_get(v, "servicePort")), on);
}

static int port_alloc(void *ctx)
{
	struct api *api = ctx;
	unsigned span = SERVICE_PORT_MAX - SERVICE_PORT_MIN;

	for (unsigned i = 0; i < span; i++) {
		unsigned p = SERVICE_PORT_MIN + (api->next_service_port - SERVICE_PORT_MIN + i) % span;

		if (!port_used(api, p)) {
			port_set(api, p, 1);
			api->next_service_port = p + 1 < SERVICE_PORT_MAX ? p + 1 : SERVICE_PORT_MIN;
			return (int)p;
		}
	}
	return 0; /* all taken: the port stays 0, as Marathon leaves it when out of range */
}

void api_ports_init(struct api *api)
{
	struct app *const *all;
	size_t n;

	api->service_ports = xcalloc(65536 / 8, 1);
	api->next_service_port = SERVICE_PORT_MIN;
	all = apps_sorted(api->apps, &n);
	for (size_t i = 0; i < n; i++)
		ports_mark(api, all[i]->def, 1);
}

void api_ports_release(struct api *api)
{
	free(api->service_ports);
	api->service_ports = NULL;
}

/* ---- serialization ---- */

/* The app as Marathon shows it: its definition plus runtime fields. */
static void app_json(const struct cluster *cl, const struct app *app, unsigned embed,
		     const char *deployment, struct strbuf *b)
{
	struct app_counts counts;

	/* def_json is a non-empty object: drop its '}' and go on */
	strbuf_add(b, app->def_json, app->def_json_len - 1);
	strbuf_addstr(b, ",\"version\":");
	time_add_json(b, app->version);
	strbuf_addstr(b, ",\"versionInfo\":{\"lastScalingAt\":");
	time_add_json(b, app->last_scaling_at);
	strbuf_addstr(b, ",\"lastConfigChangeAt\":");
	time_add_json(b, app->last_config_change_at);
	strbuf_addch(b, '}');
	if (embed & EMBED_COUNTS) {
		cluster_app_counts(cl, app->id, &counts);
		strbuf_addf(b, ",\"tasksStaged\":%u,\"tasksRunning\":%u,\"tasksHealthy\":%u,"
			       "\"tasksUnhealthy\":%u",
			    counts.staged, counts.running, counts.healthy, counts.unhealthy);
	}
	if (embed & EMBED_DEPLOYMENTS) {
		strbuf_addstr(b, ",\"deployments\":[");
		if (deployment)
			strbuf_addf(b, "{\"id\":\"%s\"}", deployment);
		strbuf_addch(b, ']');
	}
	if (embed & EMBED_TASKS) {
		strbuf_addstr(b, ",\"tasks\":[");
		cluster_app_tasks_json(cl, app->id, b);
		strbuf_addch(b, ']');
	}
	if (embed & EMBED_FAILURE)
		cluster_app_last_failure_json(cl, app->id, b);
	if (embed & EMBED_STATS)
		strbuf_addstr(b, ",\"taskStats\":{}");
	if (embed & EMBED_READINESS)
		strbuf_addstr(b, ",\"readinessCheckResults\":[]");
	strbuf_addch(b, '}');
}

void api_app_json(struct api *api, const struct app *app, struct strbuf *out)
{
	app_json(api->cluster, app, EMBED_COUNTS | EMBED_DEPLOYMENTS,
		 api_deployment_of(api, app->id), out);
}

void api_deployment_result(struct strbuf *b, const char *deployment, int64_t version)
{
	strbuf_addstr(b, "{\"version\":");
	time_add_json(b, version);
	strbuf_addf(b, ",\"deploymentId\":\"%s\"}", deployment);
}

/* ---- committing ---- */

static void op_committed(void *arg, int status, int64_t version)
{
	struct apps_op *op = arg;

	if (status)
		api_respond_error(op->api, op->req, pacer_err_http_status(status) >= 500 ? 503 : 500,
				  "cannot store the change: %s", pacer_strerror(status));
	else
		api_events_committed(op->api, op->req, &op->events, version);
	if (!status) {
		/* listed before the answer goes out: clients read GET /v2/deployments next */
		api_deploy_committed(op->api, op->dep);
		op->dep = NULL;
	}
	deployment_free(op->dep);
	if (!status)
		api_respond(op->api, op->req, op->status, &op->body);
	if (!status)
		cluster_apps_changed(op->api->cluster);
	strbuf_release(&op->events);
	strbuf_release(&op->body);
	free(op);
}

/* Commits t and answers status with body once durable (body is taken). */
void api_commit_and_answer(struct api *api, struct http_request *req, struct apps_txn *t,
			      int status, struct strbuf *body)
{
	struct apps_op *op = xcalloc(1, sizeof(*op));
	int err;

	op->api = api;
	op->req = req;
	op->status = status;
	op->body = *body;
	strbuf_init(body, 0);
	api_events_take(api, t, &op->events);
	op->dep = api_deploy_take(api, t);
	err = apps_txn_commit(t, op_committed, op);
	if (err) {
		api_respond_error(api, req, 503, "cannot store the change: %s", pacer_strerror(err));
		deployment_free(op->dep);
		strbuf_release(&op->events);
		strbuf_release(&op->body);
		free(op);
	}
}

/* ---- request helpers ---- */

/* Location of a new app: absolute when the client said which host it asked, as Marathon's. */
static void set_location(struct http_request *req, const char *id)
{
	struct strbuf loc = STRBUF_INIT;
	const char *host = http_request_header(req, "Host");

	if (host && *host && !strpbrk(host, "/\r\n"))
		strbuf_addf(&loc, "http://%s", host);
	strbuf_addf(&loc, "/v2/apps%s", id);
	http_response_header(req, "Location", loc.buf);
	strbuf_release(&loc);
}

void api_app_not_found(struct api *api, struct http_request *req, const char *id)
{
	api_respond_error(api, req, 404, "App '%s' does not exist", id);
}

/* Canonical id from a URL path part; NULL (and answered 404) when it cannot name an app. */
static int url_app_id(struct api *api, struct http_request *req, const char *raw,
		      struct strbuf *id)
{
	struct strbuf why = STRBUF_INIT;
	int err = pathid_resolve(raw, "/", 0, id, &why);

	if (err)
		api_respond_error(api, req, 404, "App '%s' does not exist: %s", raw, why.buf);
	strbuf_release(&why);
	return err;
}

static void embed_cb(void *arg, const char *value)
{
	unsigned *embed = arg;
	const char *v = value;

	if (!strncmp(v, "apps.", 5))
		v += 5;
	else if (!strncmp(v, "app.", 4))
		v += 4;
	if (!strcmp(v, "tasks"))
		*embed |= EMBED_TASKS | EMBED_DEPLOYMENTS;
	else if (!strcmp(v, "counts") || !strcmp(v, "count"))
		*embed |= EMBED_COUNTS;
	else if (!strcmp(v, "deployments"))
		*embed |= EMBED_DEPLOYMENTS;
	else if (!strcmp(v, "lastTaskFailure"))
		*embed |= EMBED_FAILURE;
	else if (!strcmp(v, "failures"))
		*embed |= EMBED_FAILURE | EMBED_TASKS | EMBED_COUNTS | EMBED_DEPLOYMENTS;
	else if (!strcmp(v, "taskStats"))
		*embed |= EMBED_STATS;
	else if (!strcmp(v, "readiness"))
		*embed |= EMBED_READINESS;
	/* unknown values are ignored, as Marathon does */
}

/* Whether body is {"version": ...} (with at most "id" beside it): a rollback. */
static int is_rollback(const json_t *body)
{
	const char *key;
	json_t *v;

	if (!json_is_object(body) || !json_object_get(body, "version"))
		return 0;
	json_object_foreach((json_t *)body, key, v)
		if (strcmp(key, "version") && strcmp(key, "id"))
			return -1;
	return 1;
}

/*
 * Builds the new definition of one app from an update body: a rollback to a
 * stored version, a merge into the current definition (partial), or a full
 * definition. Returns 0 and *out, PACER_ENOTFOUND (with message in why),
 * PACER_EINVALID (errs filled).
 */
static int build_update(struct api *api, const char *id, const json_t *body, int partial,
			struct app_def **out, struct verrors *errs, struct strbuf *why)
{
	struct app *app = apps_get(api->apps, id);
	int rb = is_rollback(body);
	int err;

	if (rb < 0) {
		verrors_add(errs, "/version",
			    "The 'version' field may only be combined with the 'id' field.");
		return PACER_EINVALID;
	}
	if (rb > 0) {
		const char *vs = json_string_value(json_object_get(body, "version"));
		int64_t v;

		if (!vs || time_parse_iso(vs, &v)) {
			verrors_add(errs, "/version", "must be an ISO-8601 timestamp");
			return PACER_EINVALID;
		}
		if (!app) {
			strbuf_addf(why, "App '%s' does not exist", id);
			return PACER_ENOTFOUND;
		}
		err = apps_load_version(api->apps, id, v, out);
		if (err == PACER_ENOTFOUND)
			strbuf_addf(why, "App '%s' does not exist in version %s", id, vs);
		return err;
	}
	if (app && partial) {
		json_t *merged = app_def_merge(app->def->json, body);

		err = app_def_parse(merged, "/", id, out, errs);
		json_decref(merged);
		return err;
	}
	return app_def_parse(body, "/", id, out, errs);
}

/* Puts def into t, keeping service ports in step. */
static void txn_put_def(struct api *api, struct apps_txn *t, struct app_def *def)
{
	struct app *old = apps_get(api->apps, def->id);

	if (old)
		ports_mark(api, old->def, 0);
	ports_mark(api, def, 1);
	app_def_assign_ports(def, port_alloc, api);
	api_events_note(api, t, def->id, 0);
	api_deploy_note(api, t, def->id,
			!old ? DEPLOY_START
			     : app_def_only_scaling_differs(old->def, def) ? DEPLOY_SCALE : DEPLOY_RESTART,
			old ? old->version : 0, NULL);
	apps_txn_put(t, def);
}

void api_apps_txn_put(struct api *api, struct apps_txn *t, struct app_def *def)
{
	txn_put_def(api, t, def);
}

void api_apps_txn_delete(struct api *api, struct apps_txn *t, const struct app *app)
{
	struct strbuf stored = STRBUF_INIT;

	ports_mark(api, app->def, 0);
	api_events_note(api, t, app->id, 1);
	/* the definition goes with the app's versions: kept for a rollback */
	app_def_serialize(app->def, &stored);
	api_deploy_note(api, t, app->id, DEPLOY_STOP, app->version, stored.buf);
	strbuf_release(&stored);
	apps_txn_delete(t, app->id);
}

/* ---- the collection: /v2/apps ---- */

static int matches(const struct app *app, const char *id, const char *cmd,
		   const struct labelsel *sel)
{
	if (id && !strcasestr(app->id, id))
		return 0;
	if (cmd) {
		const char *c = json_string_value(json_object_get(app->def->json, "cmd"));

		if (!c || !strcasestr(c, cmd))
			return 0;
	}
	if (sel && !labelsel_match(sel, json_object_get(app->def->json, "labels")))
		return 0;
	return 1;
}

/* Whether the cached plain list still shows what apps, tasks and deployments are. */
static int apps_cache_fresh(const struct api *api)
{
	return api->apps_cache && api->apps_cache_generation == api->apps->generation &&
	       api->apps_cache_deploy_generation == deployments_generation(api->deployments) &&
	       api->apps_cache_cluster_generation == cluster_generation(api->cluster);
}

/* Makes b (taken) the cached plain list. */
static void apps_cache_store(struct api *api, struct strbuf *b)
{
	size_t len;
	char *buf = strbuf_detach(b, &len);

	if (api->apps_cache)
		http_blob_unref(api->apps_cache);
	api->apps_cache = http_blob_new(buf, len);
	api->apps_cache_generation = api->apps->generation;
	api->apps_cache_deploy_generation = deployments_generation(api->deployments);
	api->apps_cache_cluster_generation = cluster_generation(api->cluster);
}

static void list_apps(struct api *api, struct http_request *req)
{
	const char *id = http_request_query(req, "id");
	const char *cmd = http_request_query(req, "cmd");
	const char *label = http_request_query(req, "label");
	unsigned embed = EMBED_COUNTS | EMBED_DEPLOYMENTS;
	size_t nembed = http_request_query_each(req, "embed", embed_cb, &embed);
	struct labelsel *sel = NULL;
	struct strbuf b = STRBUF_INIT;
	struct app *const *all;
	size_t n, k = 0;
	int plain;

	if (label) {
		struct strbuf why = STRBUF_INIT;

		if (labelsel_parse(label, &sel, &why)) {
			api_respond_error(api, req, 400, "%s", why.buf);
			strbuf_release(&why);
			return;
		}
	}
	/* the plain list is what pollers ask for again and again: build it once per change */
	plain = !id && !cmd && !label && !nembed;
	if (plain && apps_cache_fresh(api)) {
		api_respond_blob(api, req, 200, api->apps_cache);
		return;
	}
	all = apps_sorted(api->apps, &n);
	strbuf_grow(&b, n * 1024);
	strbuf_addstr(&b, "{\"apps\":[");
	for (size_t i = 0; i < n; i++) {
		if (!matches(all[i], id, cmd, sel))
			continue;
		if (k++)
			strbuf_addch(&b, ',');
		app_json(api->cluster, all[i], embed, api_deployment_of(api, all[i]->id), &b);
	}
	strbuf_addstr(&b, "]}");
	labelsel_free(sel);
	if (plain) {
		apps_cache_store(api, &b);
		api_respond_blob(api, req, 200, api->apps_cache);
		return;
	}
	api_respond(api, req, 200, &b);
}

static void post_app(struct api *api, struct http_request *req)
{
	struct verrors errs = VERRORS_INIT;
	struct strbuf why = STRBUF_INIT, b = STRBUF_INIT;
	struct app_def *def = NULL;
	struct apps_txn *t;
	char dep[37];
	json_t *body;
	int force;

	if (api_query_bool(api, req, "force", 0, &force) || api_parse_body(api, req, &body))
		return;
	if (app_def_parse(body, "/", NULL, &def, &errs)) {
		api_respond_verrors(api, req, &errs);
		goto out;
	}
	if (apps_get(api->apps, def->id)) {
		api_respond_error(api, req, 409, "An app with id [%s] already exists.", def->id);
		goto out;
	}
	if (apps_check_path(api->apps, def->id, &why)) {
		api_respond_error(api, req, 409, "%s", why.buf);
		goto out;
	}
	api_new_deployment_id(dep);
	t = apps_txn_begin(api->apps);
	txn_put_def(api, t, def);
	/* the answer shows the app as it will be once committed */
	{
		struct app preview = {0};
		struct strbuf dj = STRBUF_INIT;

		app_def_serialize_public(def, &dj);
		preview.def_json = dj.buf;
		preview.def_json_len = dj.len;
		preview.version = preview.last_scaling_at = preview.last_config_change_at =
			apps_txn_version(t);
		app_json(NULL, &preview, EMBED_COUNTS | EMBED_DEPLOYMENTS | EMBED_TASKS, dep, &b);
		strbuf_release(&dj);
	}
	set_location(req, def->id);
	api_deployment_header(api, req, t, dep);
	def = NULL; /* the transaction owns it */
	api_commit_and_answer(api, req, t, 201, &b);
out:
	app_def_free(def);
	json_decref(body);
	verrors_release(&errs);
	strbuf_release(&why);
	strbuf_release(&b);
}

/* Copies errs into all with each path prefixed by "/(i)". */
static void prefix_errors(struct verrors *all, const struct verrors *errs, size_t i)
{
	for (size_t k = 0; k < errs->n; k++) {
		struct strbuf p = STRBUF_INIT;

		strbuf_addf(&p, "/(%zu)%s", i, strcmp(errs->v[k].path, "/") ? errs->v[k].path : "");
		verrors_add(all, p.buf, "%s", errs->v[k].error);
		strbuf_release(&p);
	}
	all->type_error |= errs->type_error;
}

/* PUT and PATCH /v2/apps: many apps, one deployment. */
static void update_many(struct api *api, struct http_request *req, int is_patch)
{
	struct verrors all = VERRORS_INIT;
	struct strbuf why = STRBUF_INIT, b = STRBUF_INIT;
	struct apps_txn *t = NULL;
	int partial = 1, force;
	char dep[37];
	json_t *body, *item;
	size_t i;

	if (api_query_bool(api, req, "force", 0, &force) ||
	    (!is_patch && api_query_bool(api, req, "partialUpdate", 1, &partial)) ||
	    api_parse_body(api, req, &body))
		return;
	if (!json_is_array(body)) {
		verrors_add(&all, "/", "error.expected.jsarray");
		all.type_error = 1;
		api_respond_verrors(api, req, &all);
		goto out;
	}
	t = apps_txn_begin(api->apps);
	json_array_foreach(body, i, item) {
		struct verrors errs = VERRORS_INIT;
		struct strbuf id = STRBUF_INIT, path = STRBUF_INIT;
		const char *raw = json_string_value(json_object_get(item, "id"));
		struct app_def *def = NULL;
		int err;

		if (!raw) {
			strbuf_addf(&path, "/(%zu)/id", i);
			verrors_add(&all, path.buf, "error.path.missing");
			strbuf_release(&path);
			continue;
		}
		err = pathid_resolve(raw, "/", 0, &id, &why);
		if (err) {
			strbuf_addf(&path, "/(%zu)/id", i);
			verrors_add(&all, path.buf, "%s", why.buf);
			strbuf_reset(&why);
		} else if (is_patch && !apps_get(api->apps, id.buf)) {
			strbuf_addf(&why, "App '%s' does not exist", id.buf);
			err = PACER_ENOTFOUND;
		} else if (!apps_get(api->apps, id.buf) && apps_check_path(api->apps, id.buf, &why)) {
			err = PACER_ECONFLICT;
		} else {
			err = build_update(api, id.buf, item, partial, &def, &errs, &why);
			if (err == PACER_EINVALID)
				prefix_errors(&all, &errs, i);
			else if (!err)
				txn_put_def(api, t, def);
		}
		verrors_release(&errs);
		strbuf_release(&id);
		strbuf_release(&path);
		if (err == PACER_ENOTFOUND || err == PACER_ECONFLICT) {
			api_respond_error(api, req, err == PACER_ENOTFOUND ? 404 : 409, "%s", why.buf);
			goto abort;
		}
	}
	if (all.n) {
		api_respond_verrors(api, req, &all);
		goto abort;
	}
	api_new_deployment_id(dep);
	api_deployment_result(&b, dep, apps_txn_version(t));
	api_deployment_header(api, req, t, dep);
	api_commit_and_answer(api, req, t, 200, &b);
	goto out;
abort:
	/* service ports taken for the aborted apps are given back on restart at the latest */
	apps_txn_abort(t);
out:
	json_decref(body);
	verrors_release(&all);
	strbuf_release(&why);
	strbuf_release(&b);
}

static void apps_collection(struct api *api, struct http_request *req)
{
	switch (http_request_method(req)) {
	case HTTP_GET:
	case HTTP_HEAD:
		list_apps(api, req);
		break;
	case HTTP_POST:
		post_app(api, req);
		break;
	case HTTP_PUT:
		update_many(api, req, 0);
		break;
	case HTTP_PATCH:
		update_many(api, req, 1);
		break;
	default:
		http_response_header(req, "Allow", "GET, HEAD, POST, PUT, PATCH");
		api_respond_error(api, req, 405, "method %s is not allowed on '/v2/apps'",
				  http_request_method_name(req));
	}
}

/* ---- one app: /v2/apps/{id} ---- */

static void get_app(struct api *api, struct http_request *req, const char *id)
{
	struct app *app = apps_get(api->apps, id);
	unsigned embed = EMBED_COUNTS | EMBED_DEPLOYMENTS | EMBED_TASKS | EMBED_FAILURE;
	struct strbuf b = STRBUF_INIT;

	if (!app) {
		api_app_not_found(api, req, id);
		return;
	}
	http_request_query_each(req, "embed", embed_cb, &embed);
	strbuf_addstr(&b, "{\"app\":");
	app_json(api->cluster, app, embed, api_deployment_of(api, app->id), &b);
	strbuf_addch(&b, '}');
	api_respond(api, req, 200, &b);
}

static void put_app(struct api *api, struct http_request *req, const char *id, int is_patch)
{
	struct verrors errs = VERRORS_INIT;
	struct strbuf why = STRBUF_INIT, b = STRBUF_INIT;
	struct app_def *def = NULL;
	struct apps_txn *t;
	int partial = 1, force, exists, err;
	char dep[37];
	json_t *body;

	if (api_query_bool(api, req, "force", 0, &force) ||
	    (!is_patch && api_query_bool(api, req, "partialUpdate", 1, &partial)) ||
	    api_parse_body(api, req, &body))
		return;
	exists = apps_get(api->apps, id) != NULL;
	if (!json_is_object(body)) {
		verrors_add(&errs, "/", "error.expected.jsobject");
		errs.type_error = 1;
		api_respond_verrors(api, req, &errs);
		goto out;
	}
	if (is_patch && !exists) {
		api_app_not_found(api, req, id);
		goto out;
	}
	if (!exists && apps_check_path(api->apps, id, &why)) {
		api_respond_error(api, req, 409, "%s", why.buf);
		goto out;
	}
	err = build_update(api, id, body, partial, &def, &errs, &why);
	if (err == PACER_EINVALID) {
		api_respond_verrors(api, req, &errs);
		goto out;
	}
	if (err) {
		api_respond_error(api, req, pacer_err_http_status(err), "%s",
				  why.len ? why.buf : pacer_strerror(err));
		goto out;
	}
	api_new_deployment_id(dep);
	t = apps_txn_begin(api->apps);
	txn_put_def(api, t, def);
	def = NULL;
	api_deployment_result(&b, dep, apps_txn_version(t));
	api_deployment_header(api, req, t, dep);
	if (!exists) {
		set_location(req, id);
	}
	api_commit_and_answer(api, req, t, exists ? 200 : 201, &b);
out:
	app_def_free(def);
	json_decref(body);
	verrors_release(&errs);
	strbuf_release(&why);
	strbuf_release(&b);
}

static void delete_app(struct api *api, struct http_request *req, const char *id)
{
	struct app *app = apps_get(api->apps, id);
	struct strbuf b = STRBUF_INIT;
	struct apps_txn *t;
	char dep[37];
	int force;

	/* Marathon's default for DELETE is force=true; clients rely on it */
	if (api_query_bool(api, req, "force", 1, &force))
		return;
	if (!app) {
		api_app_not_found(api, req, id);
		return;
	}
	api_new_deployment_id(dep);
	t = apps_txn_begin(api->apps);
	api_apps_txn_delete(api, t, app);
	api_deployment_result(&b, dep, apps_txn_version(t));
	api_deployment_header(api, req, t, dep);
	api_commit_and_answer(api, req, t, 200, &b);
}

static void restart_app(struct api *api, struct http_request *req, const char *id)
{
	struct app *app = apps_get(api->apps, id);
	struct strbuf b = STRBUF_INIT;
	struct app_def *def;
	struct apps_txn *t;
	char dep[37];
	int force;

	if (api_query_bool(api, req, "force", 0, &force))
		return;
	if (!app) {
		api_app_not_found(api, req, id);
		return;
	}
	if (apps_load_version(api->apps, id, app->version, &def)) {
		api_respond_error(api, req, 500, "cannot copy the definition of app '%s'", id);
		return;
	}
	api_new_deployment_id(dep);
	t = apps_txn_begin(api->apps);
	api_events_note(api, t, id, 0);
	api_deploy_note(api, t, id, DEPLOY_RESTART, app->version, NULL);
	apps_txn_restart(t, def);
	api_deployment_result(&b, dep, apps_txn_version(t));
	api_deployment_header(api, req, t, dep);
	api_commit_and_answer(api, req, t, 200, &b);
}

static void list_group(struct api *api, struct http_request *req, const char *group)
{
	unsigned embed = EMBED_COUNTS | EMBED_DEPLOYMENTS | EMBED_TASKS | EMBED_FAILURE;
	struct strbuf gid = STRBUF_INIT, why = STRBUF_INIT, b = STRBUF_INIT;
	struct app *const *all;
	size_t n, k = 0;

	if (*group && pathid_resolve(group, "/", 1, &gid, &why)) {
		api_respond_error(api, req, 404, "Group '%s' does not exist: %s", group, why.buf);
		goto out;
	}
	if (!*group)
		strbuf_addch(&gid, '/');
	all = apps_sorted(api->apps, &n);
	strbuf_addstr(&b, "{\"*\":[");
	for (size_t i = 0; i < n; i++) {
		if (!pathid_is_under(all[i]->id, gid.buf))
			continue;
		if (k++)
			strbuf_addch(&b, ',');
		app_json(api->cluster, all[i], embed, api_deployment_of(api, all[i]->id), &b);
	}
	strbuf_addstr(&b, "]}");
	api_respond(api, req, 200, &b);
out:
	strbuf_release(&gid);
	strbuf_release(&why);
	strbuf_release(&b);
}

static void list_versions(struct api *api, struct http_request *req, const char *id)
{
	struct app *app = apps_get(api->apps, id);
	struct strbuf b = STRBUF_INIT;

	if (!app) {
		api_app_not_found(api, req, id);
		return;
	}
	strbuf_addstr(&b, "{\"versions\":[");
	for (size_t i = app->nversions; i > 0; i--) {
		if (i != app->nversions)
			strbuf_addch(&b, ',');
		time_add_json(&b, app->versions[i - 1]);
	}
	strbuf_addstr(&b, "]}");
	api_respond(api, req, 200, &b);
}

static void get_version(struct api *api, struct http_request *req, const char *id,
			const char *vs)
{
	struct app *app = apps_get(api->apps, id);
	struct app_def *def = NULL;
	struct strbuf b = STRBUF_INIT, dj = STRBUF_INIT;
	int64_t v;

	if (!app) {
		api_app_not_found(api, req, id);
		return;
	}
	if (time_parse_iso(vs, &v)) {
		api_respond_error(api, req, 400, "'%s' is not a valid version: an ISO-8601 timestamp is expected", vs);
		return;
	}
	if (apps_load_version(api->apps, id, v, &def)) {
		api_respond_error(api, req, 404, "App '%s' does not exist in version %s", id, vs);
		return;
	}
	app_def_serialize_public(def, &dj);
	strbuf_add(&b, dj.buf, dj.len - 1);
	strbuf_addstr(&b, ",\"version\":");
	time_add_json(&b, v);
	if (v == app->version) {
		strbuf_addstr(&b, ",\"versionInfo\":{\"lastScalingAt\":");
		time_add_json(&b, app->last_scaling_at);
		strbuf_addstr(&b, ",\"lastConfigChangeAt\":");
		time_add_json(&b, app->last_config_change_at);
		strbuf_addch(&b, '}');
	}
	strbuf_addch(&b, '}');
	app_def_free(def);
	strbuf_release(&dj);
	api_respond(api, req, 200, &b);
}

static void method_not_allowed(struct api *api, struct http_request *req, const char *allow)
{
	http_response_header(req, "Allow", allow);
	api_respond_error(api, req, 405, "method %s is not allowed on '%s'",
			  http_request_method_name(req), http_request_path(req));
}

/* Splits rest ("/a/b/versions/2020-...") at its last segment. */
static const char *last_segment(const char *rest, size_t *prefix_len)
{
	const char *slash = strrchr(rest, '/');

	*prefix_len = (size_t)(slash - rest);
	return slash + 1;
}

static void apps_resource(struct api *api, struct http_request *req, const char *rest)
{
	enum http_method m = http_request_method(req);
	int is_get = m == HTTP_GET || m == HTTP_HEAD;
	struct strbuf raw = STRBUF_INIT, id = STRBUF_INIT;
	size_t plen, plen2;
	const char *last, *prev = NULL;

	if (!*rest) {
		apps_collection(api, req);
		return;
	}
	last = last_segment(rest, &plen);
	if (plen) {
		strbuf_add(&raw, rest, plen);
		prev = last_segment(raw.buf, &plen2);
	}
	if (!strcmp(last, "*")) {
		strbuf_reset(&raw);
		strbuf_add(&raw, rest, plen);
		if (is_get)
			list_group(api, req, raw.buf);
		else
			method_not_allowed(api, req, "GET, HEAD");
		goto out;
	}
	if (plen && (!strcmp(last, "versions") || !strcmp(last, "restart") || !strcmp(last, "tasks"))) {
		if (url_app_id(api, req, raw.buf, &id))
			goto out;
		if (!strcmp(last, "restart")) {
			if (m == HTTP_POST)
				restart_app(api, req, id.buf);
			else
				method_not_allowed(api, req, "POST");
		} else if (!strcmp(last, "tasks") && m == HTTP_DELETE) {
			api_app_tasks_kill(api, req, id.buf, NULL);
		} else if (!is_get) {
			method_not_allowed(api, req, !strcmp(last, "tasks") ? "GET, HEAD, DELETE" : "GET, HEAD");
		} else if (!strcmp(last, "versions")) {
			list_versions(api, req, id.buf);
		} else {
			api_app_tasks_get(api, req, id.buf);
		}
		goto out;
	}
	if (prev && plen2 && !strcmp(prev, "versions")) {
		strbuf_setlen(&raw, plen2);
		if (url_app_id(api, req, raw.buf, &id))
			goto out;
		if (is_get)
			get_version(api, req, id.buf, last);
		else
			method_not_allowed(api, req, "GET, HEAD");
		goto out;
	}
	if (prev && plen2 && !strcmp(prev, "tasks")) {
		strbuf_setlen(&raw, plen2);
		if (url_app_id(api, req, raw.buf, &id))
			goto out;
		if (m == HTTP_DELETE)
			api_app_tasks_kill(api, req, id.buf, last);
		else if (!apps_get(api->apps, id.buf))
			api_app_not_found(api, req, id.buf);
		else
			method_not_allowed(api, req, "DELETE");
		goto out;
	}
	if (m == HTTP_PUT || m == HTTP_PATCH) {
		/* an id that is not valid reaches validation, which names the field */
		struct strbuf why = STRBUF_INIT;

		if (pathid_resolve(rest, "/", 0, &id, &why)) {
			struct verrors errs = VERRORS_INIT;

			verrors_add(&errs, "/id", "%s", why.buf);
			api_respond_verrors(api, req, &errs);
			verrors_release(&errs);
		} else {
			put_app(api, req, id.buf, m == HTTP_PATCH);
		}
		strbuf_release(&why);
		goto out;
	}
	if (url_app_id(api, req, rest, &id))
		goto out;
	if (is_get)
		get_app(api, req, id.buf);
	else if (m == HTTP_DELETE)
		delete_app(api, req, id.buf);
	else
		method_not_allowed(api, req, "GET, HEAD, PUT, PATCH, DELETE");
out:
	strbuf_release(&raw);
	strbuf_release(&id);
}

void api_apps_register(struct api *api)
{
	router_add(api->router, ~0u, "/v2/apps/*", "/v2/apps", apps_resource);
}
