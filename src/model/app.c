/* SPDX-License-Identifier: Apache-2.0 */
/*
 * App definitions: the public entry points of the model (see app.h). Parsing
 * runs in stages kept in their own files by concern: app_fields.c (id,
 * command, resources, scheduling, env, fetch, constraints), app_net.c
 * (networks, container, ports and the legacy format), app_checks.c (health
 * and readiness checks, strategies, cross-field rules); app_read.c holds the
 * typed readers they share.
 */
#include "model/app.h"

#include <stdlib.h>
#include <string.h>

#include "base/error.h"
#include "base/json.h"
#include "base/xalloc.h"
#include "model/app_priv.h"

/* A stored definition is no deeper than the request it came from (free-form
 * parts such as linuxInfo keep their depth), so only jansson's limit applies. */
#define STORED_MAX_DEPTH 2048

static void fill_view(struct app_def *def)
{
	const json_t *j = def->json;

	def->instances = json_integer_value(json_object_get(j, "instances"));
	def->cpus = json_number_value(json_object_get(j, "cpus"));
	def->mem = json_number_value(json_object_get(j, "mem"));
	def->disk = json_number_value(json_object_get(j, "disk"));
	def->gpus = json_integer_value(json_object_get(j, "gpus"));
}

int app_def_parse(const json_t *in, const char *base, const char *path_id, struct app_def **out,
		  struct verrors *errs)
{
	struct app_parse p;
	struct app_def *def;
	size_t before = errs->n;

	*out = NULL;
	if (!json_is_object(in)) {
		verrors_add_type(errs, "", "error.expected.jsobject");
		return PACER_EINVALID;
	}
	app_parse_init(&p, in, base, path_id, errs);
	app_parse_fields(&p);
	app_parse_network(&p);
	app_parse_checks(&p);
	app_parse_rules(&p);
	if (errs->n > before) {
		app_parse_release(&p);
		return PACER_EINVALID;
	}
	app_parse_finish(&p);

	def = xcalloc(1, sizeof(*def));
	def->id = strbuf_detach(&p.id, NULL);
	def->json = p.out;
	p.out = NULL;
	fill_view(def);
	app_parse_release(&p);
	*out = def;
	return 0;
}

int app_def_from_stored(const char *buf, size_t len, struct app_def **out)
{
	struct verrors errs = VERRORS_INIT;
	struct strbuf why = STRBUF_INIT;
	json_t *v = NULL;
	int err;

	*out = NULL;
	err = json_parse_limited(buf, len, STORED_MAX_DEPTH, &v, &why);
	strbuf_release(&why);
	if (err)
		return PACER_EBADJSON;
	/* The stored form is normalized, so parsing it again is the identity; a
	 * definition that no longer passes is refused rather than trusted. */
	err = app_def_parse(v, "/", NULL, out, &errs) ? PACER_EBADJSON : 0;
	verrors_release(&errs);
	json_decref(v);
	return err;
}

void app_def_free(struct app_def *def)
{
	if (!def)
		return;
	free(def->id);
	json_decref(def->json);
	free(def);
}

/* Keys a patched key makes obsolete in the current definition. */
static const char *const merge_conflicts[][2] = {
	{"cmd", "args"},        {"args", "cmd"},
	{"ports", "portDefinitions"}, {"portDefinitions", "ports"},
	{"uris", "fetch"},      {"fetch", "uris"},
	{"ipAddress", "networks"}, {"networks", "ipAddress"},
};

json_t *app_def_merge(const json_t *current, const json_t *patch)
{
	const char *key;
	json_t *res, *v;

	if (!json_is_object(patch))
		return json_deep_copy(patch);
	res = json_is_object(current) ? json_deep_copy(current) : json_object();
	json_object_foreach((json_t *)patch, key, v) {
		if (json_is_null(v))
			continue;	/* null means "unchanged", as Marathon reads it */
		for (size_t i = 0; i < sizeof(merge_conflicts) / sizeof(merge_conflicts[0]); i++) {
			/* a patch that sets both keeps both, and validation says no */
			if (!strcmp(key, merge_conflicts[i][0]) &&
			    !json_object_get(patch, merge_conflicts[i][1]))
				json_object_del(res, merge_conflicts[i][1]);
		}
		/* A legacy docker network in the patch stands for the networks. */
		if (!strcmp(key, "container") &&
		    json_object_get(json_object_get(v, "docker"), "network") &&
		    !json_object_get(patch, "networks"))
			json_object_del(res, "networks");
		json_object_set_new(res, key, json_deep_copy(v));
	}
	return res;
}

int app_def_only_scaling_differs(const struct app_def *a, const struct app_def *b)
{
	const char *key;
	json_t *v;

	if (json_object_size(a->json) != json_object_size(b->json))
		return 0;
	json_object_foreach(a->json, key, v) {
		if (!strcmp(key, "instances"))
			continue;
		if (!json_equal(v, json_object_get(b->json, key)))
			return 0;
	}
	return 1;
}

static int assign_in(json_t *list, const char *key, app_port_alloc_fn *alloc, void *ctx)
{
	int n = 0;

	for (size_t i = 0; i < json_array_size(list); i++) {
		json_t *item = json_array_get(list, i);
		int port;

		if (json_integer_value(json_object_get(item, key)) != 0)
			continue;
		port = alloc(ctx);
		if (port <= 0)
			continue;
		json_object_set_new(item, key, json_integer(port));
		n++;
	}
	return n;
}

int app_def_assign_ports(struct app_def *def, app_port_alloc_fn *alloc, void *ctx)
{
	json_t *pm = json_object_get(json_object_get(def->json, "container"), "portMappings");

	return assign_in(json_object_get(def->json, "portDefinitions"), "port", alloc, ctx) +
	       assign_in(pm, "servicePort", alloc, ctx);
}

void app_def_serialize(const struct app_def *def, struct strbuf *out)
{
	json_dump_to(def->json, out);
}

/* Accepted and kept, but unknown to marathon-python, which crashes on them. */
static const char *const private_keys[] = {"tty", "check", "resourceLimits", "executorResources"};

void app_def_serialize_public(const struct app_def *def, struct strbuf *out)
{
	json_t *copy = NULL;

	for (size_t i = 0; i < sizeof(private_keys) / sizeof(private_keys[0]); i++) {
		if (!json_object_get(def->json, private_keys[i]))
			continue;
		if (!copy)
			copy = json_copy(def->json);
		json_object_del(copy, private_keys[i]);
	}
	json_dump_to(copy ? copy : def->json, out);
	json_decref(copy);
}
