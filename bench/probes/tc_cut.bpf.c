// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Probe, not a layer: tl_tc_egress's VPN-transport fast path cut short at
 * CUT, to attribute its cost step by step with
 *   bench_tc -k "tc: VPN" --unchecked --tc-obj build/probes/tc_cut1.bpf.o ...
 * CUT=1 after the tl_ifaces lookup, 2 after parsing, 3 after the policy
 * view, 4 after the endpoint lookup, 5 the whole fast path with its counter.
 * Uses the tree's own headers, so it follows what bpf/ does.
 */
#include "../../bpf/parse.h"
#include "../../bpf/report.h"

#ifndef CUT
#define CUT 5
#endif

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int tl_tc_egress(struct __sk_buff *skb)
{
	struct tl_policy_view v;
	struct tl_subject s = {};
	struct tl_flow f = {};
	struct tl_iface *iface;
	__u32 ifindex = skb->ifindex;
	int parsed;

	iface = bpf_map_lookup_elem(&tl_ifaces, &ifindex);
	if (iface && (iface->flags & TL_IFACE_TUNNEL))
		return TC_ACT_OK;
#if CUT == 1
	return TC_ACT_OK;
#endif
	if (iface && (iface->flags & TL_IFACE_L3))
		parsed = parse_l3(skb, 0, bpf_ntohs(skb->protocol), &f);
	else
		parsed = parse_frame(skb, &f);
	s.mark = skb->mark;
#if CUT == 2
	return parsed == TL_PARSE_OK ? TC_ACT_OK : TC_ACT_SHOT;
#endif
	if (policy_view(&v))
		return TC_ACT_SHOT;
#if CUT == 3
	return parsed == TL_PARSE_OK ? TC_ACT_OK : TC_ACT_SHOT;
#endif
	if (parsed == TL_PARSE_OK) {
		struct tl_endpoint_value *ep = lookup_endpoint(&v, &f);

		if (ep && ep->fwmark && ep->fwmark == s.mark) {
#if CUT == 4
			return TC_ACT_OK;
#endif
			count(TL_LAYER_TC, TL_ALLOW_TRANSPORT, TL_VERDICT_PASS);
			return TC_ACT_OK;
		}
	}
	return TC_ACT_SHOT;
}
