/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the parts of `tunlock selftest` share: where probes go, what the
 * pins said, and how one try's outcome becomes a class's result.
 */
#ifndef TUNLOCK_SELFTEST_INT_H
#define TUNLOCK_SELFTEST_INT_H

#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "pins.h"
#include "selftest.h"

/* where probes go: TEST-NET-3 and the IPv6 documentation prefix */
#define PROBE_V4 "203.0.113.254"
#define PROBE_V6 "2001:db8:5e1f::1"
#define PROBE_FORWARDED_SRC "100.64.254.254" /* as if from a container */
#define PROBE_DNS_NAME "selftest.tunlock.invalid"
#define MAX_GUARDED 16
/* longer than a run may take: tl_selftest marks its cgroup until then */
#define SELFTEST_MAX_S 120

/* What the pins say, read before the probes. */
struct context {
	const char *pin_dir;
	struct tl_state st;
	struct tl_settings cfg;
	__u32 profile; /* the probes' profile */
	bool exempt;
	unsigned int nguarded;
	int guarded[MAX_GUARDED];
	bool guarded_l3[MAX_GUARDED];
	char guarded_name[MAX_GUARDED][IF_NAMESIZE];
	/* the transient cgroup and the test runs' token, registered in
	 * tl_selftest (marks: its fd) */
	__u64 probe_cgroup, token;
	int marks;
};

/* Outcome of one try on one interface or destination. */
struct outcome {
	int pass, fail, skip;
	char pass_why[128], fail_why[TL_SELFTEST_WHY], skip_why[128];
};

/* Adds what to a comma-separated list in buf, once. */
void selftest_note(char *buf, size_t len, const char *what);
/* A class's result and its reason. */
void selftest_set(struct tl_selftest_class *c, enum tl_selftest_result r,
		  const char *fmt, const char *arg);
/* A class's result from the outcome of its tries; none: why there were none. */
void selftest_conclude(struct tl_selftest_class *c, const struct outcome *o,
		       const char *none);

/* selftest_tc.c: test runs of the pinned TC programs against the live maps */
void tl_selftest_tc_run(const struct context *x, struct tl_selftest_class *c,
			bool forwarded);
void tl_selftest_inbound(const struct context *x,
			 struct tl_selftest_class *c);

#endif
