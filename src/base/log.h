/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging to stderr, one line per message with a UTC timestamp and level.
 * Messages follow the house style: lowercase, no final period, what failed
 * first, the subject quoted, then the cause. PACER_ASSERT checks an
 * invariant and aborts with file:line when it does not hold.
 */
#ifndef PACER_BASE_LOG_H
#define PACER_BASE_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log_set_level(enum log_level level);
__attribute__((format(printf, 2, 3))) void log_msg(enum log_level level, const char *fmt, ...);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

__attribute__((noreturn)) void pacer_assert_fail(const char *expr, const char *file, int line);
#define PACER_ASSERT(expr) ((expr) ? (void)0 : pacer_assert_fail(#expr, __FILE__, __LINE__))

#endif
