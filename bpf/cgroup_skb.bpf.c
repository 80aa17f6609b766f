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

/* IPv6 in a tunnel is looked at only when some profile blocks it. */
static __always_inline bool tunnel_ipv6_judged(struct tl_policy_view *v,
					       struct __sk_buff *skb)
{
	return (v->settings->flags & TL_SETTINGS_IPV6_BLOCK) &&
	       skb->protocol == bpf_htons(ETH_P_IPV6);
}

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
	bool have_policy, tunnel;
	__u32 reason;
	int parsed;

	if (skb->ifindex == LOOPBACK_IFINDEX)
		return SK_PASS;
	have_policy = policy_view(&v) == 0;
	tunnel = have_policy && is_tunnel_iface(&v, bpf_get_netns_cookie(skb),
						skb->ifindex);
	if (tunnel && !(have_policy && tunnel_ipv6_judged(&v, skb))) {
		count(r.layer, TL_ALLOW_TUNNEL, TL_VERDICT_PASS);
		return SK_PASS;
	}
	if (!tunnel && have_policy && skb->mark &&
	    fast_transport(skb, true, v.settings, skb->mark)) {
		count(r.layer, TL_ALLOW_TRANSPORT, TL_VERDICT_PASS);
		return SK_PASS;
	}
	s.cgroup_id = bpf_skb_cgroup_id(skb);
	s.mark = skb->mark;
	parsed = parse_l3(skb, 0, bpf_ntohs(skb->protocol), &f);
	if (!have_policy)
		reason = TL_REASON_TUNNEL_DOWN; /* fail closed */
	else if (tunnel)
		reason = judge_in_tunnel(&v, skb, parsed, &f, &s);
	else
		reason = judge_packet(&v, skb, parsed, &f, &s);
	if (is_leak(reason)) /* only an event names the owner */
		r.owner = skb_owner(skb);
	return apply(have_policy ? &v : NULL, &f, &s, &r, reason);
}
