/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Agent log: human-readable lines on stderr; events go to their own feed. */
#ifndef TUNLOCK_LOG_H
#define TUNLOCK_LOG_H

#include <stdarg.h>

enum tl_log_level { TL_LOG_ERROR, TL_LOG_WARN, TL_LOG_INFO, TL_LOG_DEBUG };

extern enum tl_log_level tl_log_threshold;

void tl_log(enum tl_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) tl_log(TL_LOG_ERROR, __VA_ARGS__)
#define log_warn(...) tl_log(TL_LOG_WARN, __VA_ARGS__)
#define log_info(...) tl_log(TL_LOG_INFO, __VA_ARGS__)
#define log_debug(...) tl_log(TL_LOG_DEBUG, __VA_ARGS__)

/* Routes libbpf's messages through tl_log (warnings and above). */
void tl_log_setup_libbpf(void);

#endif
