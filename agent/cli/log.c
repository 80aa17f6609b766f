// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdio.h>
#include <time.h>

#include <bpf/libbpf.h>

#include "log.h"

enum tl_log_level tl_log_threshold = TL_LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info",
					   "debug" };

void tl_log(enum tl_log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > tl_log_threshold)
		return;
	fprintf(stderr, "tunlock: %s: ", level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	if (level == LIBBPF_DEBUG && tl_log_threshold < TL_LOG_DEBUG)
		return 0;
	if (level == LIBBPF_INFO && tl_log_threshold < TL_LOG_DEBUG)
		return 0;
	fprintf(stderr, "tunlock: libbpf: ");
	return vfprintf(stderr, fmt, ap);
}

void tl_log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
