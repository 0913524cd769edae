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
 * deployments, ...) are ignored, as are unknown keys. Returns 0 and *out (free
 * with app_def_free), or PACER_EINVALID with every problem found added to errs
 * (existing entries of errs are kept; *out is NULL).
 *
 * With a base other than "/" (an app inside a group), the app must be a direct
 * child of base ("Identifier is not child of /g. Hint: use relative paths.").
 * Relative dependencies resolve against the app's parent group.
 *
 * Normalization follows Marathon 1.11: defaults filled in; "ports" becomes
 * portDefinitions, "uris" becomes fetch (extract only for archives, as
 * Marathon's FetchUri.isExtract), container.docker.network and ipAddress
 * become networks, docker.portMappings and ipAddress.discovery.ports become
 * container.portMappings. Host networking without ports gets
 * [{"port":0,"protocol":"tcp","name":"default"}]; other networks drop
 * portDefinitions (emitted as []) and get a default port mapping when none
 * is given. The output holds only keys marathon-python accepts, plus tty,
 * check, resourceLimits and executorResources when the user set them.
 *
 * Errors use Marathon's paths ("/", "/cpus", "/portDefinitions(0)/port").
 * A value of the wrong JSON type (or a missing required field) is reported
 * with Play JSON's words ("error.expected.jsnumber", "error.path.missing")
 * and sets errs->type_error; everything else is a rule violation.
 */
int app_def_parse(const json_t *in, const char *base, const char *path_id, struct app_def **out,
		  struct verrors *errs);

/*
 * Rebuilds a definition from its stored normalized JSON. The stored form is
 * parsed and validated again (normalization is idempotent, so the result
 * serializes to the same bytes). Returns 0 and *out, or PACER_EBADJSON for
 * anything that is not a valid app definition; never crashes on garbage.
 */
int app_def_from_stored(const char *buf, size_t len, struct app_def **out);

void app_def_free(struct app_def *def);

/*
 * Marathon's patch-like update: a copy of current (normalized JSON) with each
 * top-level key of patch replacing the one there, as PUT with
 * partialUpdate=true and PATCH do. Keys that would conflict with a patched
 * key are dropped (e.g. a patch setting "cmd" drops "args", "portDefinitions"
 * drops "ports"; "uris"/"fetch" and "ipAddress"/"networks" likewise, and a
 * container with a legacy docker.network drops "networks"). A null value in
 * the patch leaves the key unchanged. The result (a new reference, deep
 * copies only) is to be passed to app_def_parse with the app's id as
 * path_id; a patch that is not an object is returned as a copy, so that
 * app_def_parse reports it.
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

/* Appends the normalized definition as one compact JSON object (keys in
 * Marathon's order; cpus, mem, disk and capacities as doubles: 1.0). */
void app_def_serialize(const struct app_def *def, struct strbuf *out);
/*
 * The same without the fields Marathon's clients do not know (tty, check,
 * resourceLimits, executorResources: marathon-python crashes on unknown
 * keys): what API answers show. The store keeps the full form.
 */
void app_def_serialize_public(const struct app_def *def, struct strbuf *out);

#endif
