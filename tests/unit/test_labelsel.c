/* SPDX-License-Identifier: Apache-2.0 */
/* Unit tests of Marathon's label selector queries (api/labelsel.h). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "api/labelsel.h"
#include "base/error.h"

static int match(const char *query, const char *labels_json)
{
	struct strbuf why = STRBUF_INIT;
	struct labelsel *s;
	json_t *labels = json_loads(labels_json, 0, NULL);
	int r;

	assert_non_null(labels);
	assert_int_equal(labelsel_parse(query, &s, &why), 0);
	r = labelsel_match(s, labels);
	labelsel_free(s);
	json_decref(labels);
	strbuf_release(&why);
	return r;
}

static void selectors(void **state)
{
	const char *l = "{\"env\":\"prod\",\"tier\":\"web\",\"odd key\":\"v,1\",\"consul\":\"\"}";

	assert_true(match("env", l));
	assert_false(match("missing", l));
	assert_true(match("consul", l));
	assert_true(match("env==prod", l));
	assert_false(match("env==stage", l));
	assert_true(match("env!=stage", l));
	assert_false(match("env!=prod", l));
	assert_false(match("missing!=x", l)); /* the label must exist */
	assert_true(match("env in (stage, prod)", l));
	assert_false(match("env notin (stage,prod)", l));
	assert_true(match("tier notin (db)", l));
	assert_true(match("env==prod, tier==web", l));
	assert_false(match("env==prod,tier==db", l));
	assert_true(match("odd\\ key==v\\,1", l));
	assert_true(match("  env  ==  prod  ", l));
}

static void bad_selectors(void **state)
{
	static const char *const bad[] = {"", "env==prod,", "env in prod", "env in (a,",
					  "env in ()", "==x", "env=prod", "env==a b"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct strbuf why = STRBUF_INIT;
		struct labelsel *s = NULL;

		assert_int_equal(labelsel_parse(bad[i], &s, &why), PACER_EBADREQUEST);
		assert_non_null(strstr(why.buf, "invalid label selector"));
		assert_null(s);
		strbuf_release(&why);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(selectors),
					   cmocka_unit_test(bad_selectors)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
