/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Internal to the app model (app*.c), not a public header: the state of one
 * app_def_parse call and the typed readers that report Marathon-style errors.
 *
 * Parsing builds the normalized object in place: app_parse_init() creates it
 * with every output key in Marathon's order, each set to JSON null; each stage
 * replaces the keys it owns (jansson keeps a replaced key where it was), and
 * app_parse_finish() drops the keys still null. Stages run in order, and a
 * later stage may read what an earlier one wrote to p->out (the health check
 * stage reads the normalized portDefinitions, for example).
 *
 * Paths follow Marathon: "" is the object itself (reported as "/"), members
 * are "/name", array elements "(i)": "/portDefinitions(0)/port".
 */
#ifndef PACER_MODEL_APP_PRIV_H
#define PACER_MODEL_APP_PRIV_H

#include <jansson.h>
#include <stdint.h>

#include "base/strbuf.h"
#include "model/verrors.h"

/* Limits against abuse: items per array or object, bytes per string. */
#define APP_MAX_ITEMS 1000
#define APP_MAX_STR 65536
/* cmd may be longer; the request body limit bounds it. */
#define APP_MAX_CMD (1024 * 1024)

enum ap_status { AP_BAD = -1, AP_ABSENT = 0, AP_OK = 1 };

enum ap_engine { AP_ENGINE_NONE, AP_ENGINE_MESOS, AP_ENGINE_DOCKER };

struct app_parse {
	struct verrors *errs;
	const json_t *in;    /* the request body, an object */
	json_t *out;         /* the normalized definition being built, owned */
	const char *base;    /* group a relative id resolves against */
	const char *path_id; /* id from the URL, or NULL */
	struct strbuf id;    /* canonical id; empty when the id is invalid */

	/* Facts found by earlier stages for later rules. */
	enum ap_engine engine;  /* container.type, NONE without container */
	int has_persistent;     /* a persistent volume in container.volumes */
	int residency_given;    /* "residency" in the input */
	int host_network;       /* the (normalized) networks are host mode */
	const json_t *secrets;  /* input "secrets" when an object, else NULL */
	const json_t *labels;   /* input "labels" when an object, else NULL */
};

/* app_read.c: setup, teardown and readers. */
void app_parse_init(struct app_parse *p, const json_t *in, const char *base, const char *path_id,
		    struct verrors *errs);
/* Drops the keys no stage set. */
void app_parse_finish(struct app_parse *p);
void app_parse_release(struct app_parse *p);

/* sb = parent + "/" + key, or parent + "(i)". */
void ap_child(struct strbuf *sb, const char *parent, const char *key);
void ap_index(struct strbuf *sb, const char *parent, size_t i);
/* The member key of obj, or NULL when obj is no object, key is absent or null. */
const json_t *ap_member(const json_t *obj, const char *key);
/* Replaces key of p->out (or of obj) with v, taking the reference. */
void ap_set(struct app_parse *p, const char *key, json_t *v);

/*
 * Readers of one value at path. Each returns AP_OK and *out, or AP_BAD after
 * adding an error: a wrong JSON type ("error.expected.jsstring" and the like,
 * marking errs->type_error) or a rule of the reader (range, length). Strings
 * hold at most APP_MAX_STR bytes (max for ap_vstr_max) and no NUL; integers
 * are int32 unless wide; min/max bounds are inclusive.
 */
int ap_vstr(struct app_parse *p, const json_t *v, const char *path, const char **out);
int ap_vstr_max(struct app_parse *p, const json_t *v, const char *path, size_t max,
		const char **out);
int ap_vbool(struct app_parse *p, const json_t *v, const char *path, int *out);
int ap_vint(struct app_parse *p, const json_t *v, const char *path, int wide, int64_t min,
	    int64_t max, int64_t *out);
int ap_vnum(struct app_parse *p, const json_t *v, const char *path, double min, double max,
	    double *out);
/* Type checks only; arrays and objects also get the APP_MAX_ITEMS limit. */
int ap_vobj(struct app_parse *p, const json_t *v, const char *path);
int ap_varr(struct app_parse *p, const json_t *v, const char *path);
/* A string out of a NULL-terminated list of literals. */
int ap_venum(struct app_parse *p, const json_t *v, const char *path, const char *const *vals,
	     const char **out);

/* The same for member key of obj (path parent/key); AP_ABSENT when absent or null. */
int ap_str(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   const char **out);
int ap_bool(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	    int *out);
int ap_int(struct app_parse *p, const json_t *obj, const char *parent, const char *key, int wide,
	   int64_t min, int64_t max, int64_t *out);
int ap_num(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   double min, double max, double *out);
int ap_obj(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   const json_t **out);
int ap_arr(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	   const json_t **out);
int ap_enum(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	    const char *const *vals, const char **out);
/* A string-to-string object (labels): a new normalized copy in *out. */
int ap_strmap(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	      json_t **out);
/* An array of strings: a new copy in *out; unique: duplicates are an error. */
int ap_strarr(struct app_parse *p, const json_t *obj, const char *parent, const char *key,
	      int unique, json_t **out);

/* Copies a string value (which may hold any bytes but NUL). */
json_t *ap_string(const char *s);

/* Stages, in the order app_def_parse runs them. */
void app_parse_fields(struct app_parse *p);   /* app_fields.c: id, command, resources, ... */
void app_parse_network(struct app_parse *p);  /* app_net.c: networks, container, ports */
void app_parse_checks(struct app_parse *p);   /* app_checks.c: health, readiness, check */
void app_parse_rules(struct app_parse *p);    /* app_checks.c: strategies, cross-field rules */

/* app_fields.c: 1 when pattern compiles as a LIKE/UNLIKE regular expression. */
int app_regex_valid(const char *pattern, struct strbuf *why);

#endif
