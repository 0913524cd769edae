/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Clocks and Marathon's timestamps. Versions and timestamps on the wire are
 * ISO-8601 UTC with milliseconds, as Marathon writes them:
 * "2015-09-25T15:13:48.343Z".
 */
#ifndef PACER_BASE_TIMEUTIL_H
#define PACER_BASE_TIMEUTIL_H

#include <stdint.h>

/* "YYYY-MM-DDTHH:MM:SS.mmmZ" plus NUL. */
#define TIME_ISO_LEN 25

/* Wall clock in milliseconds since the epoch. */
int64_t time_now_ms(void);
/* Monotonic clock in nanoseconds (for latencies). */
uint64_t time_mono_ns(void);

/* Writes ms as "2015-09-25T15:13:48.343Z" into out (TIME_ISO_LEN bytes). */
void time_format_iso(int64_t ms, char out[TIME_ISO_LEN]);
/*
 * Parses an ISO-8601 date-time: "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+hh:mm|-hh:mm)".
 * Returns 0 and the instant in *ms (fraction truncated to milliseconds), or
 * PACER_EBADREQUEST when s is not such a timestamp.
 */
int time_parse_iso(const char *s, int64_t *ms);

struct strbuf;
/* Appends ms as a JSON string: "2015-09-25T15:13:48.343Z" with its quotes. */
void time_add_json(struct strbuf *sb, int64_t ms);

#endif
