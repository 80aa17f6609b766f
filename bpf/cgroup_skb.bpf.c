// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet layer per cgroup: every packet of a protected local socket, with
 * the egress interface known. Catches what the socket layer cannot see:
 * bound devices, policy routing, raw IP and ping sockets, interfaces that
 * appear later (unknown interfaces are not tunnels).
 */
#include "parse.h"
#include "report.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("cgroup_skb/egress")
int tl_cgroup_skb_egress(struct __sk_buff *skb)
{
	struct tl_report r = {
		.layer = TL_LAYER_CGROUP_SKB,
		.hook = TL_HOOK_CGROUP_SKB_EGRESS,
		.ifindex = skb->ifindex,
	};
	struct tl_policy_view v;
	struct tl_subject s = {};
	struct tl_flow f = {};
	bool have_policy;
	__u32 reason;
	int parsed;

	if (skb->ifindex == LOOPBACK_IFINDEX)
		return SK_PASS;
	if (is_tunnel_iface(skb->ifindex)) {
		count(r.layer, TL_ALLOW_TUNNEL, TL_VERDICT_PASS);
		return SK_PASS;
	}
	have_policy = policy_view(&v) == 0;
	if (have_policy && skb->mark &&
	    fast_transport(skb, true, v.settings, skb->mark)) {
		count(r.layer, TL_ALLOW_TRANSPORT, TL_VERDICT_PASS);
		return SK_PASS;
	}
	s.cgroup_id = bpf_skb_cgroup_id(skb);
	s.mark = skb->mark;
	parsed = parse_l3(skb, 0, bpf_ntohs(skb->protocol), &f);
	reason = have_policy ? judge_packet(&v, skb, parsed, &f, &s) :
			       TL_REASON_TUNNEL_DOWN; /* fail closed */
	if (is_leak(reason)) /* only an event names the owner */
		r.owner = skb_owner(skb);
	return apply(have_policy ? &v : NULL, &f, &s, &r, reason);
}
