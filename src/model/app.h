/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Marathon app definitions: parsing, Marathon's defaults and validation
 * rules, normalization of the legacy (pre-1.5) format, and serialization.
 *
 * The normalized definition is a jansson object holding every field Marathon
 * 1.11 emits for an app (defaults filled in, legacy fields converted), and
 * none of the runtime fields (version, versionInfo, tasks*, deployments,
 * lastTaskFailure): those belong to the app's state and are added by the API
 * when answering. The normalized form is what the store keeps, so parsing
 * a stored definition again yields the same object.
 */
#ifndef PACER_MODEL_APP_H
#define PACER_MODEL_APP_H

#include <jansson.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "model/verrors.h"

struct app_def {
	char *id;      /* absolute canonical id, owned */
	json_t *json;  /* normalized definition, owned (one reference) */

	/* Typed view of what the scheduler needs, read from json. */
	int64_t instances;
	double cpus, mem, disk;
	int64_t gpus;
};

/*
 * Parses, defaults, normalizes and validates one AppDefinition.
 * in: the request's JSON value (any type: a non-object is an error).
 * base: group that a relative id resolves against ("/" for /v2/apps).
 * path_id: for PUT/PATCH /v2/apps/{id}, the canonical id from the URL, which
 *   the app takes; a body "id" that resolves to another id is an error.
 *   NULL for POST, where the body must carry an id.
 * Fields Marathon ignores on input (version, versionInfo, tasks, counts,
 * deployments, ...) are ignored. Returns 0 and *out (free with
 * app_def_free), or PACER_EINVALID with every problem found added to errs.
 */
int app_def_parse(const json_t *in, const char *base, const char *path_id, struct app_def **out,
		  struct verrors *errs);

/* Rebuilds a definition from its stored normalized JSON (trusted input). */
int app_def_from_stored(const char *buf, size_t len, struct app_def **out);

void app_def_free(struct app_def *def);

/*
 * Marathon's patch-like update: a copy of current (normalized JSON) with each
 * top-level key of patch replacing the one there, as PUT with
 * partialUpdate=true and PATCH do. Keys that would conflict with a patched
 * key are dropped (e.g. a patch setting "cmd" drops "args", "portDefinitions"
 * drops "ports"). The result is to be passed to app_def_parse.
 */
json_t *app_def_merge(const json_t *current, const json_t *patch);

/* 1 when a and b differ in nothing but "instances" (a scaling change). */
int app_def_only_scaling_differs(const struct app_def *a, const struct app_def *b);

/*
 * Service ports: every portDefinitions[].port (or, for containers with
 * portMappings, servicePort) that is 0 gets alloc(ctx), a port number > 0,
 * or stays 0 when alloc returns <= 0. Returns the number assigned.
 */
typedef int app_port_alloc_fn(void *ctx);
int app_def_assign_ports(struct app_def *def, app_port_alloc_fn *alloc, void *ctx);

/* Appends the normalized definition as one compact JSON object. */
void app_def_serialize(const struct app_def *def, struct strbuf *out);

#endif
