/* SPDX-License-Identifier: Apache-2.0 */
/*
 * /v2/deployments: the running deployments (src/deploy) as Marathon lists
 * them, cancelling one (?force=true) or rolling it back as a new deployment;
 * and the glue that turns every committed change of apps into a registered
 * deployment before its answer goes out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api_int.h"
#include "base/error.h"
#include "base/timeutil.h"
#include "cluster/cluster.h"
#include "deploy/deployments.h"
#include "model/app.h"

/* ---- plans of changes ---- */

/* The plan being built for t (a stale one, of an aborted transaction, is dropped). */
static struct deployment *pending(struct api *api, struct apps_txn *t)
{
	int64_t v = apps_txn_version(t);

	if (api->dep_pending && api->dep_pending_version != v) {
		deployment_free(api->dep_pending);
		api->dep_pending = NULL;
	}
	if (!api->dep_pending) {
		api->dep_pending = deployment_new("", v);
		api->dep_pending_version = v;
	}
	return api->dep_pending;
}

void api_deploy_note(struct api *api, struct apps_txn *t, const char *app_id,
		     enum deploy_action action, int64_t prev_version, const char *prev_def)
{
	deployment_add(pending(api, t), app_id, action, prev_version, prev_def);
}

void api_deployment_header(struct api *api, struct http_request *req, struct apps_txn *t,
			   const char *dep)
{
	struct deployment *p = pending(api, t);

	snprintf(p->id, sizeof(p->id), "%s", dep);
	http_response_header(req, "Marathon-Deployment-Id", dep);
}

struct deployment *api_deploy_take(struct api *api, struct apps_txn *t)
{
	struct deployment *p = api->dep_pending;

	if (!p || api->dep_pending_version != apps_txn_version(t) || !p->id[0])
		return NULL;
	api->dep_pending = NULL;
	return p;
}

void api_deploy_committed(struct api *api, struct deployment *dep)
{
	if (dep)
		deployments_add(api->deployments, dep);
}

const char *api_deployment_of(const struct api *api, const char *app_id)
{
	const struct deployment *d = deployments_of_app(api->deployments, app_id);

	return d ? d->id : NULL;
}

/* ---- the set's lifecycle ---- */

static int converged(void *arg, const char *app_id, int64_t version)
{
	struct api *api = arg;

	return cluster_app_converged(api->cluster, app_id, version);
}

void api_deployments_start(struct api *api)
{
	api->deployments = deployments_new(api->loop, converged, api, api->events);
}

void api_deployments_stop(struct api *api)
{
	if (api->deployments)
		deployments_stop(api->deployments);
}

void api_deployments_free(struct api *api)
{
	deployments_free(api->deployments);
	api->deployments = NULL;
	deployment_free(api->dep_pending);
	api->dep_pending = NULL;
}

/* ---- /v2/deployments ---- */

static void list(struct api *api, struct http_request *req)
{
	struct strbuf b = STRBUF_INIT;

	deployments_json(api->deployments, &b);
	api_respond(api, req, 200, &b);
}

/*
 * Marathon's rollback: a new change that puts every app of dep back as it
 * was before (its previous version; apps dep created are deleted, apps it
 * deleted come back). Answers the new deployment.
 */
static void roll_back(struct api *api, struct http_request *req, const struct deployment *dep)
{
	struct strbuf b = STRBUF_INIT;
	struct apps_txn *t = apps_txn_begin(api->apps);
	struct deployment *old;
	char id[37];

	for (size_t i = 0; i < dep->napps; i++) {
		const struct deploy_app *a = &dep->apps[i];
		struct app *app = apps_get(api->apps, a->app_id);
		struct app_def *def = NULL;
		int err = 0;

		if (a->action == DEPLOY_START) {
			if (app)
				api_apps_txn_delete(api, t, app);
			continue;
		}
		if (a->action == DEPLOY_STOP) {
			if (app || !a->prev_def)
				continue;
			err = app_def_from_stored(a->prev_def, strlen(a->prev_def), &def);
		} else if (app) {
			err = apps_load_version(api->apps, a->app_id, a->prev_version, &def);
		} else {
			continue;
		}
		if (err) {
			char v[TIME_ISO_LEN];

			time_format_iso(a->prev_version, v);
			api_respond_error(api, req, 409,
					  "cannot roll back app '%s' to version %s: %s", a->app_id, v,
					  pacer_strerror(err));
			apps_txn_abort(t);
			return;
		}
		api_apps_txn_put(api, t, def);
	}
	old = deployments_cancel(api->deployments, dep->id);
	deployment_free(old);
	api_new_deployment_id(id);
	api_deployment_result(&b, id, apps_txn_version(t));
	api_deployment_header(api, req, t, id);
	api_commit_and_answer(api, req, t, 200, &b);
}

static void deployments_resource(struct api *api, struct http_request *req, const char *rest)
{
	const struct deployment *dep;
	struct strbuf b = STRBUF_INIT;
	int force;

	if (!*rest) {
		if (http_request_method(req) == HTTP_DELETE)
			api_respond_error(api, req, 405, "method DELETE is not allowed on '/v2/deployments'");
		else
			list(api, req);
		return;
	}
	if (http_request_method(req) != HTTP_DELETE) {
		http_response_header(req, "Allow", "DELETE");
		api_respond_error(api, req, 405, "method %s is not allowed on '/v2/deployments%s'",
				  http_request_method_name(req), rest);
		return;
	}
	if (api_query_bool(api, req, "force", 0, &force))
		return;
	dep = deployments_get(api->deployments, rest + 1);
	if (!dep) {
		api_respond_error(api, req, 404, "DeploymentPlan %s does not exist", rest + 1);
		return;
	}
	if (!force) {
		roll_back(api, req, dep);
		return;
	}
	api_deployment_result(&b, dep->id, dep->version);
	deployment_free(deployments_cancel(api->deployments, dep->id));
	api_respond(api, req, 202, &b);
}

void api_deployments_register(struct api *api)
{
	router_add(api->router, HTTP_GET | HTTP_HEAD | HTTP_DELETE, "/v2/deployments/*",
		   "/v2/deployments", deployments_resource);
}
