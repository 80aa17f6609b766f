// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet layer per cgroup: every packet of a protected local socket, with
 * the egress interface known. Catches what the socket layer cannot see:
 * bound devices, policy routing, raw IP and ping sockets, interfaces that
 * appear later (unknown interfaces are not tunnels).
 */
#include "parse.h"
#include "report.h"
#include "container.h"
#include "sock_netns.h"
#include "sock_verdict.h"
#include "packet_kept.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * A refusal that only the route decided: the destination, its port and
 * the socket's state say it all, no payload could make it an allow (not
 * DHCP, whose basics are judged by payload; STUN and DNS have reasons of
 * their own).
 */
static __always_inline bool refusal_keepable(const struct tl_flow *f,
					     __u32 reason)
{
	if (reason != TL_REASON_BYPASS && reason != TL_REASON_TUNNEL_DOWN &&
	    reason != TL_REASON_ENDPOINT && reason != TL_REASON_IPV6)
		return false;
	return f->protocol == IPPROTO_UDP && f->has_ports && !f->fragment &&
	       !socket_is_basic(f);
}

/*
 * A protected UDP socket's datagram refused: kept in the socket's storage
 * under the key its next unconnected send will have at the socket layer,
 * which then refuses it before the kernel routes it (sock_verdict.h). A
 * global function: verified once, outside the layer's own paths. The tag
 * is read here, after the tables: a bump in between can only leave a
 * refusal that the next bump or TL_KEPT_REFUSAL_NS ends.
 */
__noinline int keep_refusal(struct __sk_buff *skb, const struct tl_flow *f,
			    const struct tl_subject *s, __u32 slot,
			    __u32 reason)
{
	struct tl_verdict_key key = {};
	struct bpf_sock *sk;

	if (!skb || !f || !s || !s->cgroup_id || !refusal_keepable(f, reason))
		return 0;
	sk = skb->sk;
	if (!sk)
		return 0;
	sk = bpf_sk_fullsock(sk);
	if (!sk || sk->protocol != IPPROTO_UDP || verdict_tag(slot, &key.tag))
		return 0;
	__builtin_memcpy(key.daddr, f->daddr.w, 16);
	key.cgroup_id = s->cgroup_id;
	key.mark = sk->mark;
	key.bound = sk->bound_dev_if;
	key.dport = f->dport;
	key.sport = f->sport;
	key.protocol = f->protocol;
	sock_verdict_set(sk, &key, reason, s->entry.profile);
	return 0;
}

/* IPv6 in a tunnel is looked at only when some profile blocks it (the
 * settings' line read for IPv6 alone: IPv4 through the tunnel skips it). */
static __always_inline bool tunnel_ipv6_judged(struct tl_policy_view *v,
					       struct __sk_buff *skb)
{
	return skb->protocol == bpf_htons(ETH_P_IPV6) &&
	       (v->settings->flags & TL_SETTINGS_IPV6_BLOCK);
}

static __always_inline __u32 judge(struct tl_policy_view *v,
				   struct __sk_buff *skb, int parsed,
				   struct tl_flow *f, struct tl_subject *s,
				   bool tunnel, struct tl_nsif *nsif)
{
	__u32 reason;

	if (nsif) {
		reason = judge_via_host(v, skb, parsed, f, s, nsif);
		if (reason != TL_REASON_NONE)
			return reason;
	}
	if (tunnel)
		return judge_in_tunnel(v, skb, parsed, f, s);
	return judge_packet(v, skb, parsed, f, s);
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
	struct tl_nsif *nsif = NULL;
	bool have_policy, tunnel;
	__u32 reason, flags = 0;
	__u64 kept = 0;
	int parsed;

	if (skb->ifindex == LOOPBACK_IFINDEX)
		return SK_PASS;
	have_policy = policy_view(&v) == 0;
	s.netns_cookie = skb_netns(skb, have_policy ? v.netns_cookie : 0);
	if (have_policy)
		flags = agent_iface_flags(&v, s.netns_cookie, skb->ifindex);
	tunnel = flags & TL_IFACE_TUNNEL;
	if (flags & TL_IFACE_PORT) {
		count(r.layer, TL_ALLOW_CONTAINER, TL_VERDICT_PASS);
		return SK_PASS;
	}
	if (have_policy && s.netns_cookie != v.netns_cookie) {
		r.ifindex = 0; /* not an index of the agent's namespace */
		nsif = via_host_iface(s.netns_cookie, skb->ifindex);
	}
	if (tunnel && !(have_policy && tunnel_ipv6_judged(&v, skb))) {
		count(r.layer, TL_ALLOW_TUNNEL, TL_VERDICT_PASS);
		return SK_PASS;
	}
	/* the client's fwmark is its identity only in the agent's namespace:
	 * in any other, whoever may set marks there could pass for it on a
	 * way out that no TC of ours sees (a NIC or macvlan of its own) */
	if (have_policy && s.netns_cookie == v.netns_cookie)
		s.mark = skb->mark;
	if (!tunnel && have_policy && s.mark &&
	    fast_transport(skb, true, v.settings, s.mark)) {
		count(r.layer, TL_ALLOW_TRANSPORT, TL_VERDICT_PASS);
		return SK_PASS;
	}
	s.cgroup_id = bpf_skb_cgroup_id(skb);
	parsed = parse_ip_skb(skb, &f);
	if (have_policy && !tunnel && !nsif && s.netns_cookie == v.netns_cookie &&
	    parsed == TL_PARSE_OK) {
		kept = packet_kept_get(skb, &f, s.cgroup_id, s.mark,
				       TL_KEPT_ASK(v.slot, TL_KEPT_CGROUP_SKB));
		reason = packet_kept(skb, &f, kept);
		if (reason != TL_REASON_NONE) {
			count(r.layer, reason, TL_VERDICT_PASS);
			return SK_PASS;
		}
	}
	if (have_policy) {
		reason = judge(&v, skb, parsed, &f, &s, tunnel, nsif);
		packet_kept_set(skb, &f, s.cgroup_id, s.mark,
				TL_KEPT_JUDGED(kept, reason));
	} else {
		reason = TL_REASON_TUNNEL_DOWN; /* fail closed */
	}
	if (is_leak(reason)) {
		r.owner = skb_owner(skb); /* only an event names the owner */
		/* before apply(): what it needs of the flow ends there */
		if (have_policy && v.settings->mode == TL_MODE_ENFORCE)
			keep_refusal(skb, &f, &s, v.slot, reason);
	}
	return apply(have_policy ? &v : NULL, &f, &s, &r, reason);
}
