/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internals shared by the API's resource files (api_*.c): the API context,
 * answering helpers and request parsing. Not for use outside src/api/.
 */
#ifndef PACER_API_API_INT_H
#define PACER_API_API_INT_H

#include <jansson.h>
#include <stdint.h>

#include "api/api.h"
#include "api/metrics.h"
#include "base/strbuf.h"
#include "http/httpd.h"
#include "http/router.h"
#include "model/verrors.h"

struct api {
	uv_loop_t *loop;
	struct api_config cfg;
	struct store *store;
	struct apps *apps;
	struct cluster *cluster;
	struct event_bus *events;  /* the cluster's (cluster_event_bus), or NULL */
	struct strbuf ev_notes;    /* apps the transaction being built changes (api_events.c) */
	int64_t ev_notes_version;  /* ... and its version */
	struct httpd *httpd;
	struct router *router;
	struct metrics metrics;
	char leader[300];          /* host:port */
	char framework_id[40];
	int64_t started_ms;
	uint8_t *service_ports;    /* bitmap of assigned service ports */
	unsigned next_service_port;
	/* GET /v2/apps without parameters, built once per apps generation */
	struct http_blob *apps_cache;
	uint64_t apps_cache_generation, apps_cache_cluster_generation;
	uint64_t apps_cache_deploy_generation;
	struct deployments *deployments; /* the running ones (api_deployments.c) */
	struct deployment *dep_pending;  /* the plan of the transaction being built ... */
	int64_t dep_pending_version;     /* ... and its version */
};

typedef void api_handler_fn(struct api *api, struct http_request *req, const char *rest);

/* Answering: every request is answered exactly once through one of these. */
/* Counts an answer (status, latency) that the caller sends by other means (a stream). */
void api_record(struct api *api, struct http_request *req, int status);
/* Answers with a shared JSON body (the blob keeps its own reference). */
void api_respond_blob(struct api *api, struct http_request *req, int status,
		      struct http_blob *blob);
void api_respond(struct api *api, struct http_request *req, int status, struct strbuf *body);
void api_respond_text(struct api *api, struct http_request *req, int status,
		      const char *content_type, struct strbuf *body);
__attribute__((format(printf, 4, 5))) void api_respond_error(struct api *api,
							     struct http_request *req, int status,
							     const char *fmt, ...);
void api_respond_verrors(struct api *api, struct http_request *req, const struct verrors *e);

/*
 * Parses the request body as JSON within the configured depth limit. On
 * failure answers the request (400 with Marathon's "Invalid JSON" body) and
 * returns a negative code.
 */
int api_parse_body(struct api *api, struct http_request *req, json_t **out);
/*
 * Reads a boolean query parameter, case-insensitively ("true", "True", "1",
 * "false", ...). Absent: *out = def. Invalid: answers 400 and returns < 0.
 */
int api_query_bool(struct api *api, struct http_request *req, const char *name, int def,
		   int *out);

/* A fresh deployment id (a UUID) in out[37]. */
void api_new_deployment_id(char out[37]);

/* One app as Marathon shows it in lists and the queue (counts and deployments). */
struct app;
void api_app_json(struct api *api, const struct app *app, struct strbuf *out);

/* Shared by the apps and tasks resources. */
struct apps_txn;
void api_app_not_found(struct api *api, struct http_request *req, const char *id);
/* {"version": ..., "deploymentId": ...} */
void api_deployment_result(struct strbuf *b, const char *deployment, int64_t version);
/* Commits t and answers status with body (taken) once durable; tells the cluster. */
void api_commit_and_answer(struct api *api, struct http_request *req, struct apps_txn *t,
			   int status, struct strbuf *body);
void api_app_tasks_get(struct api *api, struct http_request *req, const char *id);
void api_app_tasks_kill(struct api *api, struct http_request *req, const char *id,
			const char *task_id);

/* Resources. */
void api_apps_register(struct api *api);
void api_cluster_register(struct api *api);
void api_misc_register(struct api *api);
void api_events_register(struct api *api);
/*
 * Events of app changes (api_events.c): api_events_note records that the
 * transaction t puts (deleted 0) or deletes app id; api_events_take moves
 * t's notes into out before the commit; api_events_committed publishes
 * api_post_event / app_terminated_event for them once durable.
 */
struct apps_txn;
void api_events_note(struct api *api, struct apps_txn *t, const char *id, int deleted);
void api_events_take(struct api *api, struct apps_txn *t, struct strbuf *out);
void api_events_committed(struct api *api, struct http_request *req, const struct strbuf *notes,
			  int64_t version);
/*
 * Deployments (api_deployments.c). api_deploy_note records that the
 * transaction t gives app_id action (prev_version: its version before, 0 for
 * a new app; prev_def: a deleted app's stored definition, or NULL);
 * api_deployment_header names t's deployment (and sets the
 * Marathon-Deployment-Id header); api_commit_and_answer registers the plan
 * once the commit succeeds, before answering.
 */
enum deploy_action;
struct deployment;
void api_deploy_note(struct api *api, struct apps_txn *t, const char *app_id,
		     enum deploy_action action, int64_t prev_version, const char *prev_def);
void api_deployment_header(struct api *api, struct http_request *req, struct apps_txn *t,
			   const char *dep);
/* Takes t's plan (NULL when nothing was noted for t). */
struct deployment *api_deploy_take(struct api *api, struct apps_txn *t);
/* Registers a committed plan (taken; NULL is allowed). */
void api_deploy_committed(struct api *api, struct deployment *dep);
/* The running deployment that affects app_id, or NULL. */
const char *api_deployment_of(const struct api *api, const char *app_id);
void api_deployments_register(struct api *api);
void api_deployments_start(struct api *api);
void api_deployments_stop(struct api *api);
void api_deployments_free(struct api *api);
/* Puts def into t as the apps resource does (service ports, events, deployment action). */
void api_apps_txn_put(struct api *api, struct apps_txn *t, struct app_def *def);
/* Deletes app (which exists) in t likewise. */
void api_apps_txn_delete(struct api *api, struct apps_txn *t, const struct app *app);
/* Keeps the service port bitmap in step with the apps: call after loading. */
void api_ports_init(struct api *api);
void api_ports_release(struct api *api);

#endif
