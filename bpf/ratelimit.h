/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Events are rate-limited per reason; counters never are. A flood of
 * blocked packets costs a counter increment and a bucket check each, and
 * only the events the policy's `events:` rate allows reach the ring buffer.
 * What became of every event (emitted, suppressed, lost to a full ring
 * buffer) is counted per reason, so the agent can say so in a summary and
 * emitted + suppressed + lost always equals the leak verdicts counted.
 */
#ifndef TL_BPF_RATELIMIT_H
#define TL_BPF_RATELIMIT_H

#include "common.h"

/* Compare-and-swap attempts before giving up on a contended bucket. */
#define TL_RATE_TRIES 4

#define TL_READ_ONCE(x) (*(volatile typeof(x) *)&(x))

/* The limit when no policy is in force (fail closed, still reported). */
#define TL_DEFAULT_INTERVAL_NS (1000000000ull / TL_EVENT_RATE_DEFAULT)
#define TL_DEFAULT_LIMIT                                                       \
	((struct tl_event_limit){                                              \
		.interval_ns = TL_DEFAULT_INTERVAL_NS,                         \
		.tolerance_ns =                                                \
			TL_DEFAULT_INTERVAL_NS * (TL_EVENT_BURST_DEFAULT - 1), \
	})

/* Per CPU and reason: what became of events (emitted, suppressed, lost). */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, TL_EVSTATS);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_event_stats SEC(".maps");

static __always_inline void event_stat(__u32 reason, __u32 stat)
{
	__u32 idx = TL_EVSTAT_INDEX(reason, stat);
	__u64 *c = bpf_map_lookup_elem(&tl_event_stats, &idx);

	if (c)
		*c += 1;
}

/* One bucket per reason, shared by every CPU (compare-and-swap). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_REASON_MAX);
	__type(key, __u32);
	__type(value, struct tl_event_bucket);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_event_rate SEC(".maps");

/*
 * GCRA (the token bucket as a "theoretical arrival time"): an event is
 * allowed while the bucket's time runs less than tolerance ahead of now;
 * each allowed event moves it one interval on. One 64-bit word per reason,
 * updated with compare-and-swap, so CPUs share the limit without a lock.
 * A bucket that stays contended for TL_RATE_TRIES rounds suppresses the
 * event: the limit is never exceeded, and the counters still say it all.
 * The coarse clock is enough for a limit and costs a fraction of the
 * precise one (the event's own time stamp stays precise).
 */
/* LSM (tracing) programs may not read the coarse clock: lsm.bpf.c sets the
 * precise one */
#ifndef TL_RATE_CLOCK
#define TL_RATE_CLOCK bpf_ktime_get_coarse_ns
#endif

static __always_inline bool event_allowed(const struct tl_event_limit *lim,
					  __u32 reason)
{
	struct tl_event_bucket *b;
	__u64 now, old, tat;
	int i;

	if (!lim->interval_ns)
		return false; /* `rate: 0`: counters only */
	b = bpf_map_lookup_elem(&tl_event_rate, &reason);
	if (!b)
		return false;
	now = TL_RATE_CLOCK();
	for (i = 0; i < TL_RATE_TRIES; i++) {
		old = TL_READ_ONCE(b->tat);
		tat = old > now ? old : now;
		if (tat - now > lim->tolerance_ns)
			return false;
		if (__sync_val_compare_and_swap(&b->tat, old,
						tat + lim->interval_ns) == old)
			return true;
	}
	return false;
}

#endif
