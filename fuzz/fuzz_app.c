/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the app model: bytes -> json_parse_limited ->
 * app_def_parse (as POST /v2/apps and as a group member), then the stored
 * form back through app_def_from_stored, a merge with the input as patch,
 * and the error body. Everything is freed; the round trip must hold.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "model/app.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int fake_port(void *ctx)
{
	int *n = ctx;

	return (*n)++;
}

static void round_trip(struct app_def *def)
{
	struct strbuf a = STRBUF_INIT, b = STRBUF_INIT;
	struct app_def *again = NULL;

	app_def_serialize(def, &a);
	PACER_ASSERT(app_def_from_stored(a.buf, a.len, &again) == 0);
	app_def_serialize(again, &b);
	PACER_ASSERT(a.len == b.len && !memcmp(a.buf, b.buf, a.len));
	PACER_ASSERT(app_def_only_scaling_differs(def, again));
	app_def_free(again);
	strbuf_release(&b);
	strbuf_release(&a);
}

static void parse_once(const json_t *in, const char *base)
{
	struct verrors errs = VERRORS_INIT;
	struct strbuf body = STRBUF_INIT;
	struct app_def *def = NULL, *merged_def = NULL;
	json_t *merged;
	int port = 10000;

	if (app_def_parse(in, base, NULL, &def, &errs)) {
		verrors_to_json(&errs, &body);
		goto out;
	}
	round_trip(def);
	merged = app_def_merge(def->json, in);
	if (!app_def_parse(merged, "/", def->id, &merged_def, &errs))
		app_def_free(merged_def);
	json_decref(merged);
	app_def_assign_ports(def, fake_port, &port);
	round_trip(def);
	app_def_free(def);
out:
	strbuf_release(&body);
	verrors_release(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct strbuf why = STRBUF_INIT;
	struct app_def *stored = NULL;
	json_t *in = NULL;

	if (!json_parse_limited((const char *)data, size, 32, &in, &why)) {
		parse_once(in, "/");
		parse_once(in, "/prod/web");
		json_decref(in);
	}
	if (!app_def_from_stored((const char *)data, size, &stored))
		app_def_free(stored);
	strbuf_release(&why);
	return 0;
}
