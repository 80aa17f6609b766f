/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Containers in network namespaces of their own, reached through a veth
 * whose host end is a "port" of the agent's namespace (agent/follow/containers.c
 * verifies the pair). Three things follow:
 *
 * - Inside the container, its veth to the host is no uplink: the host
 *   routes what leaves there and judges it where it leaves the host, so
 *   cgroup_skb defers to it (TL_ALLOW_VIA_HOST) when the host will judge
 *   with this socket's own profile.
 * - On the host, what a port receives is stamped (bits of skb->mark that
 *   the policy reserves, container_mark) with the port's index, so that TC
 *   egress on the uplink judges the forwarded packet with the profile of
 *   the container's cgroup. Crossing a veth into the host's namespace
 *   clears skb->mark, so a container cannot stamp what it sends that way.
 *   Other devices need not: a macvlan, macvtap or VLAN device that another
 *   namespace holds on a NIC of ours hands that namespace's frames to the
 *   NIC's TC egress with whatever skb->mark and ingress ifindex (ifindexes
 *   are per namespace: it can pick one) it set.
 *   So a stamp, and the VPN client's fwmark, count only on a packet that
 *   left from this namespace (sent_from_here).
 * - What the host sends into a port stays on this host (TL_ALLOW_CONTAINER).
 */
#ifndef TL_BPF_CONTAINER_H
#define TL_BPF_CONTAINER_H

#include "links.h"
#include "verdict.h"

/* weak: on kernels without them only programs that do not call them load */
extern void *bpf_cast_to_kern_ctx(void *obj) __ksym __weak;
extern void *bpf_rdonly_cast(const void *obj, __u32 btf_id) __ksym __weak;

#define SKB_DST_NOREF 1UL

/*
 * TC egress: whether the agent's namespace sent this packet, so that the
 * marks on it are its own. Structural, not a secret in the packet: the
 * kernel records where a packet was routed, in its dst, whose device
 * belongs to the namespace whose routing chose it. A packet that the host
 * routed (forwarded from a port, or from a local socket) carries a route of
 * the agent's namespace; one that another namespace handed over through a
 * macvlan, ipvlan or VLAN device on our NIC carries that namespace's route,
 * or none (dropped on the way, or never routed: AF_PACKET, bridging). With
 * no route, a local socket of the agent's namespace (AF_PACKET, and the
 * socket that BPF_PROG_TEST_RUN gives a frame) is the sender; no socket
 * and no route: not ours. Neither the route nor the socket is something
 * that a namespace can set on a packet; both outlive every mark it can set.
 */
static __always_inline bool sent_from_here(struct tl_policy_view *v,
					   struct __sk_buff *ctx)
{
	struct sk_buff *skb = bpf_cast_to_kern_ctx(ctx);
	unsigned long refdst = skb->_skb_refdst & ~SKB_DST_NOREF;
	struct net_device *dev;
	struct dst_entry *dst;
	struct sock *sk;

	if (refdst) {
		dst = bpf_rdonly_cast((void *)refdst,
				      bpf_core_type_id_kernel(struct dst_entry));
		dev = dst->dev;
		return dev && dev->nd_net.net->net_cookie == v->netns_cookie;
	}
	/* the socket from the context, then read-only: walking the pointer
	 * from the kernel's skb (trusted) made the verifier scan the kernel's
	 * whole BTF for "__safe_trusted" and "__safe_rcu" types, four times
	 * per field and state (a third of TC's load) */
	sk = bpf_rdonly_cast(ctx->sk, bpf_core_type_id_kernel(struct sock));
	return sk && sk->__sk_common.skc_net.net->net_cookie == v->netns_cookie;
}

/*
 * TC egress: the port that stamped a forwarded packet. Trusted only on a
 * packet of this namespace (s->mark is 0 on any other, tc_egress) that came
 * in on that port or its bridge (a packet made on this host has no ingress
 * interface), and only where no local socket sent it (packet_subject), so
 * that other users of the same mark bits cannot pass for a container.
 */
static __always_inline struct tl_port *stamped_port(struct tl_policy_view *v,
						    struct __sk_buff *skb,
						    __u32 mark)
{
	struct tl_settings *cfg = v->settings;
	struct tl_port *port;
	__u32 idx, iif;

	if (!cfg->container_mark)
		return NULL;
	idx = (mark & cfg->container_mark) >> (cfg->container_shift & 31);
	if (!idx)
		return NULL;
	port = port_at(idx);
	if (!port)
		return NULL;
	iif = skb->ingress_ifindex;
	if (iif != port->ifindex && (!port->master || iif != port->master))
		return NULL;
	return port;
}

static __always_inline bool same_entry(const struct tl_cgroup_entry *a,
				       const struct tl_cgroup_entry *b)
{
	return a->profile == b->profile && a->flags == b->flags &&
	       a->client_of == b->client_of;
}

/*
 * cgroup_skb in a container's namespace, on its veth to the host: defer to
 * the host only when it will judge with this socket's own profile. A
 * namespace shared by cgroups of different profiles (a pod whose
 * containers the policy tells apart) is judged here, fail closed.
 * Returns a reason when it decides, and TL_REASON_NONE (no reason yet, as
 * from decide_outside) when it does not defer: then the packet is judged
 * as anywhere else.
 */
static __always_inline __u32 judge_via_host(struct tl_policy_view *v,
					    struct __sk_buff *skb, int parsed,
					    struct tl_flow *f,
					    struct tl_subject *s,
					    struct tl_nsif *nsif)
{
	struct tl_subject ps = {};
	struct tl_port *port;
	__u32 reason;

	reason = packet_scope(v, skb, s);
	if (reason)
		return reason;
	port = port_at(nsif->port);
	if (!port || port_unprotected(v->settings, port))
		return TL_REASON_NONE;
	if (resolve_port(v, port, &ps) || !same_entry(&ps.entry, &s->entry))
		return TL_REASON_NONE;
	if (parsed == TL_PARSE_MALFORMED)
		return TL_REASON_MALFORMED;
	if (s->entry.flags & TL_CGROUP_EXEMPT)
		return TL_ALLOW_EXEMPT;
	/* the host runs no packet layer on its tunnels: IPv6 that the
	 * profile refuses even there is refused here */
	if ((parsed == TL_PARSE_OK || parsed == TL_PARSE_ROUTED) &&
	    tunnel_refuses_ipv6(v, f, s))
		return TL_REASON_IPV6;
	return TL_ALLOW_VIA_HOST;
}

#endif
