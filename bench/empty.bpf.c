// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of each hook for the benchmarks: programs that do nothing.
 * bench_tc runs the packet ones on the same frames in the same run as the
 * real ones; bench/killswitch attaches them all where tunlock attaches its
 * own (its `hooks` configuration), so that a ratio says what tunlock adds
 * over the hooks themselves.
 */
#include "../vmlinux/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "../include/tunlock.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* A ring buffer of the size of tunlock's own, for the event floor below. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, TL_EVENTS_BYTES);
} empty_events SEC(".maps");

/*
 * The floor of a drop with an event: nothing but one record of tunlock's
 * event size reserved and submitted, what any program that reports a
 * packet pays to the ring buffer (bench_tc drains it as it drains
 * tunlock's). 1 when the record was made.
 */
static __always_inline int emit_empty_event(void)
{
	struct tl_event *e;

	e = bpf_ringbuf_reserve(&empty_events, sizeof(*e), 0);
	if (!e)
		return 0;
	e->reason = 0;
	bpf_ringbuf_submit(e, 0);
	return 1;
}

SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

/* the same on an uplink's ingress, where tunlock guards its tunnels'
 * addresses: a program of its own, so that its statistics are its own */
SEC("tc")
int empty_tc_ingress(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

SEC("cgroup_skb/egress")
int empty_cgroup_skb(struct __sk_buff *skb)
{
	return 1; /* pass */
}

SEC("tc")
int empty_tc_event(struct __sk_buff *skb)
{
	emit_empty_event();
	return 2; /* TC_ACT_SHOT */
}

SEC("cgroup_skb/egress")
int empty_cgroup_skb_event(struct __sk_buff *skb)
{
	emit_empty_event();
	return 0; /* drop */
}

SEC("cgroup/connect4")
int empty_connect4(struct bpf_sock_addr *ctx)
{
	return 1; /* go on */
}

SEC("cgroup/sendmsg4")
int empty_sendmsg4(struct bpf_sock_addr *ctx)
{
	return 1; /* go on */
}
