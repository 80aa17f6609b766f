// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet layer per interface: TC (clsact) egress on every non-tunnel
 * interface. The line-rate backstop for what the cgroup layers cannot see
 * (forwarded traffic of containers and VMs, kernel packets, AF_PACKET), and
 * the path of the VPN's own transport, which is judged first and cheapest.
 */
#include "parse.h"
#include "report.h"
#include "container.h"
#include "inbound.h"
#include "packet_kept.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * cgroup_skb has judged (and in audit mode reported) packets of inet
 * sockets below the attach cgroup already.
 */
static __always_inline bool judged_by_cgroup_skb(struct tl_policy_view *v,
						 struct __sk_buff *skb)
{
	struct tl_settings *cfg = v->settings;
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return false;
	sk = bpf_sk_fullsock(sk);
	if (!sk || (sk->family != AF_INET && sk->family != AF_INET6))
		return false;
	return bpf_skb_ancestor_cgroup_id(skb, cfg->attach_cgroup_level) ==
	       cfg->attach_cgroup_id;
}

/*
 * One program per link type, so that nothing is looked up per packet to
 * know where the IP header starts. TC is attached only to non-tunnel
 * interfaces: a tunnel never runs this. proof: the kernel has the kfuncs
 * that tell where a packet was routed (sent_from_here); without them
 * (before Linux 6.3) the loader takes the _unproven programs, which trust
 * the marks of whatever reaches the interface, and says so.
 */
static __always_inline int tc_egress(struct __sk_buff *skb, bool l3,
				     bool proof)
{
	struct tl_report r = {
		.layer = TL_LAYER_TC,
		.hook = TL_HOOK_TC_EGRESS,
		.ifindex = skb->ifindex,
	};
	struct tl_policy_view v;
	struct tl_subject s = {};
	struct tl_flow f = {};
	__u64 cgroup_id = 0, kept = 0;
	__u32 reason;
	int parsed;

	s.mark = skb->mark;
	if (s.mark && !policy_view(&v) &&
	    fast_transport(skb, l3, v.settings, s.mark)) {
		if (!proof || sent_from_here(&v, skb)) {
			count(r.layer, TL_ALLOW_TRANSPORT, TL_VERDICT_PASS);
			return TC_ACT_OK;
		}
		s.mark = 0; /* another namespace's: no fwmark, no stamp */
	}
	r.selftest_token = selftest_token(skb);
	parsed = l3 ? parse_ip_skb(skb, &f) : parse_eth_skb(skb, &f);
	if (policy_view(&v)) {
		/* no policy in force: only ARP, fail closed */
		bool arp = parsed == TL_PARSE_NOT_IP &&
			   f.ethertype == ETH_P_ARP && frame_is_arp(skb, &f);

		reason = arp ? TL_ALLOW_ALWAYS : TL_REASON_TUNNEL_DOWN;
		return apply(NULL, &f, &s, &r, reason) ? TC_ACT_OK : TC_ACT_SHOT;
	}
	/* the fwmark and the stamp count only where this namespace set
	 * them, not where a macvlan of another one did (container.h) */
	if (proof && s.mark && !sent_from_here(&v, skb))
		s.mark = 0;
	s.port = stamped_port(&v, skb, s.mark);
	/* a local socket's datagram or segment: forwarded ones have none to
	 * keep in */
	if (!s.port && parsed == TL_PARSE_OK && skb->sk) {
		cgroup_id = bpf_skb_cgroup_id(skb);
		kept = packet_kept_get(skb, &f, cgroup_id, s.mark,
				       TL_KEPT_ASK(v.slot, TL_KEPT_TC));
		reason = packet_kept(skb, &f, kept);
		if (reason != TL_REASON_NONE) {
			count(r.layer, reason, TL_VERDICT_PASS);
			return TC_ACT_OK;
		}
	}
	reason = judge_packet(&v, skb, parsed, &f, &s);
	packet_kept_set(skb, &f, cgroup_id, s.mark, TL_KEPT_JUDGED(kept, reason));
	if (is_leak(reason) && v.settings->mode == TL_MODE_AUDIT &&
	    judged_by_cgroup_skb(&v, skb))
		return TC_ACT_OK;
	if (is_leak(reason)) /* only an event names the owner */
		r.owner = skb_owner(skb);
	return apply(&v, &f, &s, &r, reason) ? TC_ACT_OK : TC_ACT_SHOT;
}

SEC("tc")
int tl_tc_egress(struct __sk_buff *skb)
{
	return tc_egress(skb, false, true);
}

SEC("tc")
int tl_tc_egress_l3(struct __sk_buff *skb)
{
	return tc_egress(skb, true, true);
}

SEC("tc")
int tl_tc_egress_unproven(struct __sk_buff *skb)
{
	return tc_egress(skb, false, false);
}

SEC("tc")
int tl_tc_egress_l3_unproven(struct __sk_buff *skb)
{
	return tc_egress(skb, true, false);
}

/*
 * A port (the host end of a container's veth, or a bridge of them): what
 * leaves here enters another namespace of this host, and is judged again
 * wherever it leaves the host.
 */
SEC("tc")
int tl_tc_egress_port(struct __sk_buff *skb)
{
	count(TL_LAYER_TC, TL_ALLOW_CONTAINER, TL_VERDICT_PASS);
	return TC_ACT_OK;
}

/*
 * What a container sends, stamped on its way in with the index of its port
 * in the policy's container_mark bits, so that TC egress on the uplink
 * judges it with the container's profile after routing and NAT. Whatever
 * else set those bits is overwritten.
 */
SEC("tc")
int tl_tc_ingress_port(struct __sk_buff *skb)
{
	struct tl_policy_view v;
	struct tl_settings *cfg;
	struct tl_iface *iface;
	__u32 ifindex = skb->ifindex, stamp = 0;

	if (policy_view(&v))
		return TC_ACT_OK; /* unstamped: judged as no socket, closed */
	cfg = v.settings;
	iface = iface_at(ifindex);
	if (iface && (iface->flags & TL_IFACE_STAMP))
		stamp = (iface->port << (cfg->container_shift & 31)) &
			cfg->container_mark;
	skb->mark = (skb->mark & ~cfg->container_mark) | stamp;
	return TC_ACT_OK;
}
