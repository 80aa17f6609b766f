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

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int empty_tc(struct __sk_buff *skb)
{
	return 0; /* TC_ACT_OK */
}

SEC("cgroup_skb/egress")
int empty_cgroup_skb(struct __sk_buff *skb)
{
	return 1; /* pass */
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
