/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the packet and socket tiers share: PASS:/FAIL: reporting, the
 * loaded objects (the agent's own loader and pins), reading the counters,
 * and applying a policy and a tunnel state to the maps.
 */
#ifndef TUNLOCK_TESTS_BPFTEST_H
#define TUNLOCK_TESTS_BPFTEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "pins.h"
#include "policy.h"

static int passed, failed;
static struct tl_bpf bpf;
static char cg_mount[256];

static inline void report(bool ok, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Each line whole before anything else writes: the agent's code logs to
 * stderr, and a line cut by it is not counted (tests/run.sh). */
static inline void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("PASS: %s\n", name);
		passed++;
	} else {
		printf("FAIL: %s: ", name);
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
		printf("\n");
		failed++;
	}
	fflush(stdout);
}

/*
 * libbpf's warnings only, on stderr: a program the kernel refuses comes
 * with the verifier's log, the rest of libbpf's chatter stays out.
 */
static inline int test_libbpf_print(enum libbpf_print_level level,
				    const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static inline int read_counter(__u32 layer, __u32 reason, __u32 verdict,
			       __u64 *out)
{
	return tl_counter_read(tl_bpf_map_fd(&bpf, TL_MAP_COUNTERS),
			       TL_COUNTER_INDEX(layer, reason, verdict), out);
}

/* The sum of every counter of one layer. */
static inline __u64 layer_counters(__u32 layer)
{
	__u64 sum = 0, c;

	for (__u32 r = 0; r < TL_REASON_MAX; r++)
		for (__u32 v = 0; v < TL_VERDICT_MAX; v++)
			if (!read_counter(layer, r, v, &c))
				sum += c;
	return sum;
}

/* Parses yaml as a policy file and applies it to the loaded maps. */
static inline int apply_yaml(const char *yaml)
{
	struct tl_applied ap;
	struct tl_policy p;
	int err;

	if (tl_policy_parse("bpf-test", yaml, strlen(yaml), &p, stderr))
		return -EINVAL;
	err = tl_apply_policy(&bpf, &p, cg_mount, &ap);
	tl_policy_free(&p);
	return err;
}

/* What the agent writes when tunnels come and go: how many are up. */
static inline int set_tunnels(bool up, bool ipv6_up)
{
	struct tl_tunnel_summary sum = {.up_count = up,
					.ipv6_up_count = ipv6_up};
	__u32 zero = 0;

	if (bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_SUMMARY), &zero,
				&sum, BPF_ANY))
		return -errno;
	/* as the agent's links.c does after every write of runtime state */
	return tl_bump_verdicts(&bpf);
}

#endif
