/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The verdict order that every layer shares. A layer turns what its hook
 * sees into a tl_flow and a tl_subject, then asks decide_*() or judge_*()
 * for a reason: a leak reason (block, or report in audit mode) or an allow
 * reason.
 */
#ifndef TL_BPF_VERDICT_H
#define TL_BPF_VERDICT_H

#include "basics.h"
#include "stun.h"
#include "allow.h"
#include "endpoint.h"
#include "dns.h"
#include "links.h"

/*
 * The rest of the live slot (the tables of subject.h, allow.h and
 * endpoint.h) and the tunnels' summary (links.h), fetched once the fast
 * path has not decided.
 */
static __always_inline int policy_tables(struct tl_policy_view *v)
{
	__u32 zero = 0, slot = v->slot & (TL_POLICY_SLOTS - 1);

	v->cgroups = bpf_map_lookup_elem(&tl_cgroups, &slot);
	v->allow = bpf_map_lookup_elem(&tl_allow, &slot);
	v->endpoints = bpf_map_lookup_elem(&tl_endpoints, &slot);
	v->summary = bpf_map_lookup_elem(&tl_summary, &zero);
	if (!v->cgroups || !v->allow || !v->endpoints || !v->summary)
		return -1;
	return 0;
}

/*
 * Both packet layers, once the fast path has not decided: the rest of the
 * slot (fail closed without it), then who sent it (packet_subject). A
 * reason when that decides; TL_REASON_NONE when the packet is to be judged.
 */
static __always_inline __u32 packet_scope(struct tl_policy_view *v,
					  struct __sk_buff *skb,
					  struct tl_subject *s)
{
	if (policy_tables(v))
		return TL_REASON_TUNNEL_DOWN; /* fail closed */
	return packet_subject(v, skb, s);
}

/* Which leak it is, for a flow that nothing allows outside the tunnel. */
static __always_inline __u32 leak_reason(struct tl_policy_view *v,
					 const struct tl_flow *f)
{
	if (!v->summary->up_count)
		return TL_REASON_TUNNEL_DOWN;
	if (flow_is_dns(v->settings, f))
		return TL_REASON_DNS;
	if (f->family == AF_INET6 && !addr_is_v4(&f->daddr) &&
	    !v->summary->ipv6_up_count)
		return TL_REASON_IPV6;
	return TL_REASON_BYPASS;
}

/*
 * IPv6 leaves only through a tunnel that carries it, and not at all for a
 * profile that blocks it (LAN and allow-listed destinations aside).
 */
static __always_inline bool ipv6_refused(struct tl_policy_view *v,
					 const struct tl_flow *f,
					 struct tl_subject *s)
{
	if (!flow_is_ipv6(f))
		return false;
	return (profile_flags(v, s->entry.profile) & TL_PROFILE_IPV6_BLOCK) ||
	       !v->summary->ipv6_up_count;
}

/*
 * Inside a tunnel, and toward the host from a container, IPv6 is refused
 * only to a profile that blocks it, LAN and allow-listed destinations aside.
 */
static __always_inline bool tunnel_refuses_ipv6(struct tl_policy_view *v,
						const struct tl_flow *f,
						struct tl_subject *s)
{
	return flow_is_ipv6(f) && decide_outside(v, f, s) < TL_ALLOW_FIRST &&
	       (profile_flags(v, s->entry.profile) & TL_PROFILE_IPV6_BLOCK);
}

/*
 * Socket layer (connect, unconnected send): the route is not known yet.
 * A DNS query to anything but a tunnel resolver is the profile's DNS
 * action's (dns->found: redirect it there). Otherwise, with a tunnel up
 * the packet layers judge where it really goes; with none up, or a socket
 * bound to a non-tunnel device, fail the call now.
 */
static __always_inline __u32 decide_socket(struct tl_policy_view *v,
					   const struct tl_flow *f,
					   struct tl_subject *s,
					   __u32 bound_ifindex,
					   struct tl_dns_target *dns)
{
	__u32 r;

	if (addr_is_loopback(&f->daddr) || bound_ifindex == LOOPBACK_IFINDEX)
		return TL_ALLOW_LOOPBACK;
	if (s->entry.flags & TL_CGROUP_EXEMPT)
		return TL_ALLOW_EXEMPT;
	r = dns_action(v, f, s);
	if (r && !is_tunnel_resolver(v->settings, &f->daddr)) {
		/* any other resolver, LAN or not, through the tunnel or not */
		if (r == TL_DNS_REDIRECT && !(flow_is_ipv6(f) &&
					      (profile_flags(v, s->entry.profile) &
					       TL_PROFILE_IPV6_BLOCK)))
			pick_resolver(v->settings, f, dns);
		return TL_REASON_DNS;
	}
	r = decide_endpoint(v, f, s);
	if (r)
		return r;
	if (socket_is_basic(f))
		return TL_ALLOW_ALWAYS;
	r = decide_outside(v, f, s);
	if (r)
		return r;
	if (ipv6_refused(v, f, s))
		return TL_REASON_IPV6;
	if (bound_ifindex && is_tunnel_iface(v, s->netns_cookie, bound_ifindex))
		return TL_ALLOW_TUNNEL;
	/* bound to a container's veth to the host: the host routes it */
	if (bound_ifindex && v->netns_cookie != s->netns_cookie &&
	    via_host_iface(s->netns_cookie, bound_ifindex))
		bound_ifindex = 0;
	if (!bound_ifindex && v->summary->up_count)
		return TL_ALLOW_TUNNEL_UP;
	return leak_reason(v, f);
}

/*
 * Packet layers: the flow leaves on a non-tunnel interface (the caller has
 * checked). The endpoint, STUN and DNS checks come first, then network
 * basics (basics.h), then the profile decides. STUN never leaves outside
 * the tunnel, however it is cut (stun.h): its answer would reveal the real
 * address.
 */
static __always_inline __u32 decide_packet(struct tl_policy_view *v,
					   struct __sk_buff *skb,
					   const struct tl_flow *f,
					   struct tl_subject *s)
{
	__u32 r;

	if (s->entry.flags & TL_CGROUP_EXEMPT)
		return TL_ALLOW_EXEMPT;
	r = decide_endpoint(v, f, s);
	if (r)
		return r;
	r = stun_verdict(skb, f);
	if (r)
		return r;
	/* DNS outside the tunnel is a leak even to the LAN or a listed
	 * address: the resolver there forwards it to the ISP */
	if (dns_action(v, f, s))
		return TL_REASON_DNS;
	if (packet_is_basic(skb, f, sent_by_no_socket(skb, s)))
		return TL_ALLOW_ALWAYS;
	r = decide_outside(v, f, s);
	if (r)
		return r;
	if (ipv6_refused(v, f, s))
		return TL_REASON_IPV6;
	return leak_reason(v, f);
}

/*
 * TC on an Ethernet link: a frame that is not IP. Exempt cgroups' frames
 * pass; network basics pass when they are what they say (basics.h); LLDP
 * to the nearest bridge is LAN traffic; anything else is a leak.
 */
static __always_inline __u32 decide_frame(struct tl_policy_view *v,
					  struct __sk_buff *skb,
					  const struct tl_flow *f,
					  struct tl_subject *s)
{
	int kind;

	if (s->entry.flags & TL_CGROUP_EXEMPT)
		return TL_ALLOW_EXEMPT;
	kind = frame_kind(skb, f);
	if (kind == TL_FRAME_BASIC)
		return TL_ALLOW_ALWAYS;
	if (kind == TL_FRAME_LAN &&
	    (profile_flags(v, s->entry.profile) & TL_PROFILE_LAN))
		return TL_ALLOW_LAN;
	return leak_reason(v, f);
}

/*
 * Inside a tunnel everything passes, but for IPv6 of a profile that blocks
 * it (only looked at when some profile does: TL_SETTINGS_IPV6_BLOCK).
 */
static __always_inline __u32 judge_in_tunnel(struct tl_policy_view *v,
					     struct __sk_buff *skb, int parsed,
					     struct tl_flow *f,
					     struct tl_subject *s)
{
	__u32 reason;

	reason = packet_scope(v, skb, s);
	if (reason)
		return reason;
	/* a route its sender chose starts in the tunnel: it is the tunnel's */
	if (parsed != TL_PARSE_OK && parsed != TL_PARSE_ROUTED)
		return TL_REASON_MALFORMED;
	if (s->entry.flags & TL_CGROUP_EXEMPT)
		return TL_ALLOW_EXEMPT;
	return tunnel_refuses_ipv6(v, f, s) ? TL_REASON_IPV6 : TL_ALLOW_TUNNEL;
}

/*
 * Both packet layers: the verdict for a parsed packet leaving on a
 * non-tunnel interface. The VPN client's marked transport is judged first
 * and cheapest; then scope (which socket), then the profile; a later IP
 * fragment gets its first fragment's verdict.
 */
static __always_inline __u32 judge_datagram(struct tl_policy_view *v,
					    struct __sk_buff *skb, int parsed,
					    struct tl_flow *f,
					    struct tl_subject *s)
{
	__u32 reason;

	if (parsed == TL_PARSE_OK && s->mark && f->has_ports &&
	    fast_endpoint_match(v->settings, f->daddr.w, f->dport, f->protocol,
				s->mark))
		return TL_ALLOW_TRANSPORT;
	reason = packet_scope(v, skb, s);
	if (reason)
		return reason;
	if (parsed == TL_PARSE_MALFORMED)
		return TL_REASON_MALFORMED;
	if (parsed == TL_PARSE_NOT_IP)
		return decide_frame(v, skb, f, s);
	/* the destination in its header is only the first hop: a LAN router
	 * or an allowed address would carry it on, outside the tunnel, to
	 * addresses that no rule allowed */
	if (parsed == TL_PARSE_ROUTED)
		return s->entry.flags & TL_CGROUP_EXEMPT ? TL_ALLOW_EXEMPT :
							   leak_reason(v, f);
	if (f->fragment)
		return s->entry.flags & TL_CGROUP_EXEMPT ?
			       TL_ALLOW_EXEMPT :
			       stun_later_fragment(f);
	return decide_packet(v, skb, f, s);
}

static __always_inline __u32 judge_packet(struct tl_policy_view *v,
					  struct __sk_buff *skb, int parsed,
					  struct tl_flow *f,
					  struct tl_subject *s)
{
	__u32 reason = judge_datagram(v, skb, parsed, f, s);

	if (f->frag_first && parsed == TL_PARSE_OK)
		stun_first_fragment(f, reason);
	return reason;
}

#endif
