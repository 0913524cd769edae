/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for what clients send the event bus as filters: event_type
 * and app_id (one per line: "t<type>", "p<prefix>"; any other line is an app
 * id matched against every prefix). Callback URLs are left out: checking one
 * resolves its host.
 * Checks that prefix matching means what event.h says: equal, or below
 * at a '/' boundary, or the root.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/strbuf.h"
#include "base/xalloc.h"
#include "events/event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int expected_match(const char *prefix, const char *app_id)
{
	size_t n = strlen(prefix);

	if (!strcmp(prefix, "/"))
		return 1;
	return !strncmp(app_id, prefix, n) && (app_id[n] == '\0' || app_id[n] == '/');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct event_filter f = EVENT_FILTER_INIT;
	struct strbuf why = STRBUF_INIT;
	char *text = xmemdupz(data, size), *line, *save = NULL;

	log_set_level(LOG_ERROR);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		strbuf_reset(&why);
		switch (line[0]) {
		case 't':
			event_filter_add_type(&f, line + 1, &why);
			break;
		case 'p':
			event_filter_add_prefix(&f, line + 1, &why);
			break;
		default:
			for (size_t i = 0; i < f.nprefixes; i++)
				if (!!event_prefix_match(f.prefixes[i], line) !=
				    expected_match(f.prefixes[i], line))
					abort();
		}
	}
	event_filter_release(&f);
	strbuf_release(&why);
	free(text);
	return 0;
}
