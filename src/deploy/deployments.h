/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The running deployments, in memory: every change of apps answered with a
 * deployment id is registered here once durable, with one step of actions
 * (one per app, in Marathon's names) and a target per app, and stays listed
 * (GET /v2/deployments, the apps' "deployments") until every affected app
 * has converged to its target. Whether an app has converged is asked of the
 * caller's function (the cluster's, in the server), every 200 ms while a
 * deployment runs; nothing is checked when none does.
 *
 * An app belongs to at most one running deployment: a newer change of the
 * app takes its action away from the older deployment, which fails when it
 * is left with no action. deployment_info is published when a deployment is
 * registered, deployment_success when it finishes and deployment_failed when
 * it is superseded or cancelled; events name apps by id only.
 *
 * Deployments are not stored: after a restart none runs (the scale check
 * converges the apps all the same).
 *
 * Everything runs on the loop thread.
 */
#ifndef PACER_DEPLOY_DEPLOYMENTS_H
#define PACER_DEPLOY_DEPLOYMENTS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "base/hashmap.h"
#include "base/strbuf.h"

struct event_bus;

enum deploy_action {
	DEPLOY_START,   /* the change created the app */
	DEPLOY_SCALE,   /* only "instances" changed */
	DEPLOY_RESTART, /* another change, or a restart: every instance is replaced */
	DEPLOY_STOP,    /* the app was deleted */
};

/* "StartApplication", "ScaleApplication", "RestartApplication", "StopApplication". */
const char *deploy_action_name(enum deploy_action a);

/* One app's action in a deployment. */
struct deploy_app {
	char *app_id;
	enum deploy_action action;
	int64_t prev_version; /* the app's version before the change; 0: the change created it */
	char *prev_def;       /* STOP only: the deleted app's stored definition (for a rollback), or NULL */
	int done;             /* converged once: not checked again */
};

struct deployment {
	char id[37];
	int64_t version;      /* the change's version: the target of start, scale and restart */
	struct deploy_app *apps;
	size_t napps, alloc;
};

/* A new deployment with no action yet (free with deployment_free unless registered). */
struct deployment *deployment_new(const char *id, int64_t version);
/*
 * Adds the action for app_id; prev_def (may be NULL) is copied. A second
 * action for the same app replaces the first.
 */
void deployment_add(struct deployment *dep, const char *app_id, enum deploy_action action,
		    int64_t prev_version, const char *prev_def);
void deployment_free(struct deployment *dep);

/*
 * Whether app_id has converged: version > 0 asks for the app at version (or
 * later) with exactly its instance count running and nothing older left;
 * version 0 asks whether nothing of the app is left. Returns 1 or 0.
 */
typedef int deploy_converged_fn(void *arg, const char *app_id, int64_t version);

struct deployments;

/*
 * Creates the set; converged(arg, ...) is asked every 200 ms for the apps of
 * running deployments. bus may be NULL (no events) and must outlive the
 * set's running: stop the set (deployments_stop) before the bus goes.
 */
struct deployments *deployments_new(uv_loop_t *loop, deploy_converged_fn *converged, void *arg,
				    struct event_bus *bus);
/* No more checks, timers or events from now on; registering still works (nothing is published). */
void deployments_stop(struct deployments *d);
/* Frees everything; the memory goes once the timer is closed (keep running the loop). */
void deployments_free(struct deployments *d);

/*
 * Registers dep (taken): its apps leave older deployments (which fail when
 * left empty), deployment_info is published and a check follows soon. A
 * deployment without actions finishes at once.
 */
void deployments_add(struct deployments *d, struct deployment *dep);
/* The running deployment id, or NULL. */
const struct deployment *deployments_get(const struct deployments *d, const char *id);
/* The running deployment that affects app_id, or NULL. */
const struct deployment *deployments_of_app(const struct deployments *d, const char *app_id);
/*
 * Removes deployment id and returns it (the caller frees it), publishing
 * deployment_failed; NULL when it is not running.
 */
struct deployment *deployments_cancel(struct deployments *d, const char *id);
/* Finishes every deployment whose apps have all converged (the timer calls it). */
void deployments_check(struct deployments *d);
size_t deployments_count(const struct deployments *d);
/* Changes with every change of the set (for response caches). */
uint64_t deployments_generation(const struct deployments *d);

/* Appends the list as GET /v2/deployments answers it (a JSON array). */
void deployments_json(const struct deployments *d, struct strbuf *out);
/* Appends one deployment's {"id","version","affectedApps",...} object. */
void deployment_json(const struct deployment *dep, struct strbuf *out);

#endif
