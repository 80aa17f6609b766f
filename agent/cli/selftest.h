/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * `tunlock selftest`: the leak test, done by the machine itself
 * (docs/operations.md, "Self-test"). One try per leak class from a
 * transient cgroup under the attach cgroup, and test runs of the pinned
 * programs for what cannot be tried live.
 */
#ifndef TUNLOCK_SELFTEST_H
#define TUNLOCK_SELFTEST_H

#include <stdio.h>

#include "daemon.h"

enum tl_selftest_result {
	TL_SELFTEST_PASS = 0,
	TL_SELFTEST_FAIL,
	TL_SELFTEST_SKIP,
};

#define TL_SELFTEST_WHY 256

struct tl_selftest_class {
	const char *name; /* bypass, dns, ipv6, stun, endpoint, ... */
	enum tl_selftest_result result;
	char why[TL_SELFTEST_WHY];
};

#define TL_SELFTEST_CLASSES 11
/* enforcement, bypass, dns, ... in the order the report holds them */
extern const char *const tl_selftest_class_names[TL_SELFTEST_CLASSES];

struct tl_selftest_report {
	unsigned long long time_ns; /* CLOCK_REALTIME */
	/* leak verdicts tunlock gave the probes: counted for the run (in
	 * tl_selftest), not as leaks */
	unsigned long long probe_verdicts;
	struct tl_selftest_class c[TL_SELFTEST_CLASSES];
	int n;
};

/* The exit status: 0 every applicable class passed, 1 one failed. */
int tl_selftest(const struct tl_run_opts *o);

/* The report as one feed line (kind "selftest", with '\n') in format f
 * (enum tl_feed_format); its length or -1 when len is too small. */
int tl_selftest_format(const struct tl_selftest_report *r, int f, char *buf,
		       size_t len);
/* tunlock_selftest_* gauges in the text exposition format. */
void tl_selftest_metrics(FILE *f, const struct tl_selftest_report *r);
/* The same, written to path atomically; 0 or a negative errno. */
int tl_selftest_metrics_write(const char *path,
			      const struct tl_selftest_report *r);
/* One line per class: name, result, reason. */
void tl_selftest_print(const struct tl_selftest_report *r, FILE *out);

#endif
