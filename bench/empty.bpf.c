// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The floor of each packet hook for the benchmarks: programs that do
 * nothing, run on the same frames in the same run as the real ones, so that
 * a ratio says what tunlock adds over the hook itself.
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
