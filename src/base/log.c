/* SPDX-License-Identifier: Apache-2.0 */
/* Logging; see log.h. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/timeutil.h"

static enum log_level min_level = LOG_INFO;

void log_set_level(enum log_level level)
{
	min_level = level;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = {"debug", "info", "warn", "error"};
	char ts[TIME_ISO_LEN];
	va_list ap;

	if (level < min_level)
		return;
	time_format_iso(time_now_ms(), ts);
	flockfile(stderr);
	fprintf(stderr, "%s %s ", ts, names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void pacer_assert_fail(const char *expr, const char *file, int line)
{
	fprintf(stderr, "pacer: assertion failed at %s:%d: %s\n", file, line, expr);
	abort();
}
