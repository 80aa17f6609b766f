/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Inbound protection of the tunnel address (CVE-2019-14899): a packet that
 * arrives on a non-tunnel interface addressed to an address of a tunnel
 * interface was forged by someone on the LAN (or the access point) to
 * learn, from the answers sent through the tunnel, which connections run
 * in it, and to inject into them; the weak host model would accept it.
 * TC ingress on every guarded interface drops it (audit: reports it) under
 * its own reason, inbound. The agent keeps tl_inbound, the addresses of the
 * tunnel interfaces, from rtnetlink (agent/follow/inbound.c).
 */
#ifndef TL_BPF_INBOUND_H
#define TL_BPF_INBOUND_H

#include "parse.h"
#include "report.h"

/* An address of a tunnel interface (IPv4-mapped for IPv4): which tunnel. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_TUNNEL_ADDRS);
	__type(key, union tl_addr);
	__type(value, struct tl_inbound_addr);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_inbound SEC(".maps");

/* One lookup for what is not addressed to a tunnel: nothing counted. */
static __always_inline int tc_ingress(struct __sk_buff *skb, bool l3)
{
	struct tl_report r = {
		.layer = TL_LAYER_TC,
		.hook = TL_HOOK_TC_INGRESS,
		.ifindex = skb->ifindex,
	};
	struct tl_policy_view v;
	struct tl_subject s = {};
	struct tl_flow f = {};
	bool have_policy;
	int parsed;

	parsed = l3 ? parse_ip_skb(skb, &f) : parse_eth_skb(skb, &f);
	/* malformed too: the destination is read before what is cut short,
	 * and the stack may still take the packet; unread, it stays zero,
	 * which is no tunnel's address */
	if (parsed == TL_PARSE_NOT_IP ||
	    !bpf_map_lookup_elem(&tl_inbound, &f.daddr))
		return TC_ACT_OK;
	r.selftest_token = selftest_token(skb);
	have_policy = policy_view(&v) == 0;
	if (have_policy)
		s.entry.profile = v.settings->default_profile;
	return apply(have_policy ? &v : NULL, &f, &s, &r, TL_REASON_INBOUND) ?
		       TC_ACT_OK :
		       TC_ACT_SHOT;
}

SEC("tc")
int tl_tc_ingress(struct __sk_buff *skb)
{
	return tc_ingress(skb, false);
}

SEC("tc")
int tl_tc_ingress_l3(struct __sk_buff *skb)
{
	return tc_ingress(skb, true);
}

#endif
