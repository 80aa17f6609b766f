/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The verdict logic that every layer shares. A layer turns what its hook
 * sees into a tl_flow and a tl_subject, then asks decide_*() for a reason:
 * a leak reason (block, or report in audit mode) or an allow reason.
 */
#ifndef TL_BPF_DECIDE_H
#define TL_BPF_DECIDE_H

#include "maps.h"
#include "basics.h"
#include "stun.h"

/* The live policy slot, read once per decision so that it is consistent. */
struct tl_policy_view {
	__u32 slot;
	__u64 netns_cookie; /* the agent's network namespace */
	struct tl_settings *settings;
	void *cgroups;
	void *allow;
	void *endpoints;
	struct tl_tunnel_summary *summary;
};

/* Who sent it: the nearest configured cgroup of the socket or task. */
struct tl_subject {
	__u64 cgroup_id;
	__u64 netns_cookie;
	struct tl_cgroup_entry entry;
	__u32 mark;
	/* TC: a forwarded packet that a container's port stamped (container.h) */
	struct tl_port *port;
};

/* The live slot's settings: all that the transport fast path needs. */
static __always_inline int policy_view(struct tl_policy_view *v)
{
	__u32 zero = 0, slot;
	struct tl_state *st;

	v->cgroups = v->allow = v->endpoints = NULL;
	v->summary = NULL;
	st = bpf_map_lookup_elem(&tl_state, &zero);
	if (!st)
		return -1;
	slot = st->active_slot & (TL_POLICY_SLOTS - 1);
	v->slot = slot;
	v->netns_cookie = st->netns_cookie;
	v->settings = bpf_map_lookup_elem(&tl_settings, &slot);
	return v->settings ? 0 : -1;
}

/* The rest of the slot, fetched once the fast path has not decided. */
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
 * Nearest configured ancestor wins. skb selects the socket's cgroup
 * (packet layers); without it the current task's cgroup (socket layer).
 */
static __always_inline void resolve_subject(struct tl_policy_view *v,
					    struct __sk_buff *skb,
					    struct tl_subject *s)
{
	struct tl_cgroup_entry *e;
	__u64 id;
	int level;

	s->entry.profile = v->settings->default_profile;
	s->entry.flags = 0;
	s->entry.client_of = 0;
	/* unrolled: a loop entered past its top is refused by Linux 6.1's
	 * check_cfg (a fall-through back-edge) */
#pragma unroll
	for (level = TL_MAX_CGROUP_DEPTH - 1; level >= 0; level--) {
		id = skb ? bpf_skb_ancestor_cgroup_id(skb, level) :
			   bpf_get_current_ancestor_cgroup_id(level);
		if (!id)
			continue;
		e = bpf_map_lookup_elem(v->cgroups, &id);
		if (e) {
			s->entry = *e;
			return;
		}
	}
}

/*
 * The same for the cgroup a container's port stands for: its ancestors are
 * in the port (recorded by the agent), looked up in the live slot, so a
 * policy switch applies to forwarded traffic as atomically as to sockets.
 */
static __always_inline void resolve_port(struct tl_policy_view *v,
					 struct tl_port *port,
					 struct tl_subject *s)
{
	struct tl_cgroup_entry *e;
	__u64 id;
	int level;

	s->entry.profile = v->settings->default_profile;
	s->entry.flags = 0;
	s->entry.client_of = 0;
	/* unrolled: a loop entered past its top is refused by Linux 6.1's
	 * check_cfg (a fall-through back-edge) */
#pragma unroll
	for (level = TL_MAX_CGROUP_DEPTH - 1; level >= 0; level--) {
		if (level > port->level)
			continue;
		id = port->ancestors[level];
		if (!id)
			continue;
		e = bpf_map_lookup_elem(v->cgroups, &id);
		if (e) {
			s->entry = *e;
			return;
		}
	}
}

/* The container's cgroup is outside attach_cgroup (or not known yet). */
static __always_inline bool port_unprotected(struct tl_settings *cfg,
					     struct tl_port *port)
{
	__u32 l = cfg->attach_cgroup_level & (TL_MAX_CGROUP_DEPTH - 1);

	return !port->cgroup_id || l > port->level ||
	       port->ancestors[l] != cfg->attach_cgroup_id;
}

/*
 * Packet layers: who sent it. Returns an allow reason when the packet is
 * outside tunlock's scope. Kernel sockets (ICMP errors, RSTs, MLD) live in
 * the root cgroup and count as "no local socket", like forwarded packets;
 * what a container forwards is judged with the profile of its cgroup.
 */
static __always_inline __u32 packet_subject(struct tl_policy_view *v,
					    struct __sk_buff *skb,
					    struct tl_subject *s)
{
	struct tl_settings *cfg = v->settings;

	s->cgroup_id = bpf_skb_cgroup_id(skb);
	if (!s->cgroup_id ||
	    s->cgroup_id == bpf_skb_ancestor_cgroup_id(skb, 0)) {
		if (s->port) {
			s->cgroup_id = s->port->cgroup_id;
			if (port_unprotected(cfg, s->port))
				return TL_ALLOW_UNPROTECTED;
			resolve_port(v, s->port, s);
			return TL_REASON_NONE;
		}
		if (cfg->flags & TL_SETTINGS_NO_SOCKET_ALLOW)
			return TL_ALLOW_NO_SOCKET;
		s->entry.profile = cfg->default_profile;
		return TL_REASON_NONE;
	}
	if (bpf_skb_ancestor_cgroup_id(skb, cfg->attach_cgroup_level) !=
	    cfg->attach_cgroup_id)
		return TL_ALLOW_UNPROTECTED;
	/* never true (skb is the context), but it lets the compiler drop the
	 * socket layer's bpf_get_current_ancestor_cgroup_id from what follows:
	 * Linux 6.1 does not know a context is not NULL, walks that call and
	 * refuses it in a packet program */
	if (!skb)
		return TL_REASON_NONE;
	resolve_subject(v, skb, s);
	return TL_REASON_NONE;
}

/*
 * After packet_subject(): no local socket sent it (the kernel's own, or
 * forwarded and not stamped by a container's port).
 */
static __always_inline bool sent_by_no_socket(struct __sk_buff *skb,
					      const struct tl_subject *s)
{
	return !s->port && (!s->cgroup_id ||
			    s->cgroup_id == bpf_skb_ancestor_cgroup_id(skb, 0));
}

static __always_inline struct tl_endpoint_value *
lookup_endpoint(struct tl_policy_view *v, const struct tl_flow *f)
{
	struct tl_endpoint_key key = {};

	if (!f->has_ports)
		return NULL;
	__builtin_memcpy(key.addr, f->daddr.b, 16);
	key.port = f->dport;
	key.protocol = f->protocol;
	return bpf_map_lookup_elem(v->endpoints, &key);
}

static __always_inline bool is_vpn_client(const struct tl_endpoint_value *ep,
					  const struct tl_subject *s)
{
	if (ep->fwmark && s->mark == ep->fwmark)
		return true;
	return ep->tunnel < 32 && (s->entry.client_of & (1u << ep->tunnel));
}

static __always_inline bool port_range_match(const struct tl_port_range *r,
					     const struct tl_flow *f)
{
	if (r->protocol && r->protocol != f->protocol)
		return false;
	if (!r->lo && !r->hi)
		return true;
	return f->has_ports && f->dport >= r->lo && f->dport <= r->hi;
}

static __always_inline bool allow_listed(struct tl_policy_view *v,
					 const struct tl_flow *f, __u32 profile)
{
	struct tl_allow_key key = {
		.prefixlen = 32 + 128,
		.profile = profile,
	};
	struct tl_allow_value *val;
	__u32 i;

	__builtin_memcpy(key.addr, f->daddr.b, 16);
	val = bpf_map_lookup_elem(v->allow, &key);
	if (!val)
		return false;
	if (!val->count)
		return true;
	for (i = 0; i < TL_MAX_PORT_RANGES; i++) {
		if (i >= val->count)
			break;
		if (port_range_match(&val->ranges[i], f))
			return true;
	}
	return false;
}

static __always_inline __u32 profile_flags(struct tl_policy_view *v, __u32 p)
{
	/* The agent keeps ids below TL_MAX_PROFILES; the mask (no branch
	 * that the compiler could use to drop it) proves it to the verifier. */
	return v->settings->profiles[p & (TL_MAX_PROFILES - 1)].flags;
}

/* ---- DNS ---- */

/* A DNS query: UDP or TCP (the only flows with ports) to a policy DNS port. */
static __always_inline bool flow_is_dns(const struct tl_settings *cfg,
					const struct tl_flow *f)
{
	__u32 i;

	if (!f->has_ports)
		return false;
	for (i = 0; i < TL_MAX_DNS_PORTS; i++) {
		if (i >= cfg->ndns_ports)
			break;
		if (cfg->dns_ports[i] == f->dport)
			return true;
	}
	return false;
}

enum tl_dns_action {
	TL_DNS_NONE = 0, /* not a query the profile's DNS action decides */
	TL_DNS_BLOCK,
	TL_DNS_REDIRECT,
};

/*
 * What the profile does with a DNS query outside the tunnel. The VPN client
 * is left to its profile's ordinary rules (it may have to resolve its
 * endpoint before the tunnel is up), and so are profiles that say
 * "dns: ordinary"; the caller has let exempt cgroups go already.
 */
static __always_inline __u32 dns_action(struct tl_policy_view *v,
					const struct tl_flow *f,
					const struct tl_subject *s)
{
	__u32 flags;

	if (s->entry.client_of || !flow_is_dns(v->settings, f))
		return TL_DNS_NONE;
	flags = profile_flags(v, s->entry.profile);
	if (flags & TL_PROFILE_DNS_ORDINARY)
		return TL_DNS_NONE;
	return flags & TL_PROFILE_DNS_REDIRECT ? TL_DNS_REDIRECT : TL_DNS_BLOCK;
}

static __always_inline bool addr_eq(const __u32 *a, const union tl_addr *b)
{
	return a[0] == b->w[0] && a[1] == b->w[1] && a[2] == b->w[2] &&
	       a[3] == b->w[3];
}

/* One of the policy's tunnel resolvers, whether its tunnel is up or not. */
static __always_inline bool is_tunnel_resolver(const struct tl_settings *cfg,
					       const union tl_addr *a)
{
	__u32 i;

	/* unrolled: a loop entered past its top is refused by Linux 6.1's
	 * check_cfg (a fall-through back-edge) */
#pragma unroll
	for (i = 0; i < TL_MAX_RESOLVERS; i++) {
		if (i >= cfg->nresolvers)
			break;
		if (addr_eq(cfg->resolvers[i].addr, a))
			return true;
	}
	return false;
}

/* Where a redirected query goes. */
struct tl_dns_target {
	union tl_addr addr;
	__u16 port;  /* host byte order */
	bool found;
	__u32 index; /* the resolver's place in the policy */
};

static __always_inline bool tunnel_has(__u32 tunnel, __u32 flags)
{
	struct tl_tunnel_state *ts = bpf_map_lookup_elem(&tl_tunnels, &tunnel);

	return ts && (ts->flags & flags) == flags;
}

/*
 * A resolver can take the query: its tunnel is up and carries the query's
 * family (IPv4-mapped counts as IPv4: that is what goes on the wire). An
 * IPv6 query has no IPv4 target: the kernel cannot send an unconnected IPv6
 * socket's datagram to a mapped address, so it is blocked rather than sent
 * anywhere.
 */
static __always_inline bool resolver_serves(const struct tl_resolver *r,
					    const struct tl_flow *f)
{
	bool v4 = f->family == AF_INET;

	return addr_is_v4((const union tl_addr *)r->addr) == v4 &&
	       tunnel_has(r->tunnel, TL_TUNNEL_UP | (v4 ? TL_TUNNEL_IPV4 :
							  TL_TUNNEL_IPV6));
}

/* Resolver i; DNS over TLS keeps port 853, the rest go to 53. */
static __always_inline void set_dns_target(struct tl_dns_target *t,
					   const struct tl_settings *cfg,
					   __u32 i, const struct tl_flow *f)
{
	if (i >= TL_MAX_RESOLVERS)
		return;
	__builtin_memcpy(t->addr.w, cfg->resolvers[i].addr, 16);
	t->port = f->dport == 853 ? 853 : 53;
	t->found = true;
	t->index = i;
}

/* The first resolver, in policy order, that can take the query. */
static __always_inline bool pick_resolver(struct tl_policy_view *v,
					  const struct tl_flow *f,
					  struct tl_dns_target *t)
{
	struct tl_settings *cfg = v->settings;
	__u32 i;

	/* unrolled: a loop entered past its top is refused by Linux 6.1's
	 * check_cfg (a fall-through back-edge) */
#pragma unroll
	for (i = 0; i < TL_MAX_RESOLVERS; i++) {
		if (i >= cfg->nresolvers)
			break;
		if (!resolver_serves(&cfg->resolvers[i], f))
			continue;
		set_dns_target(t, cfg, i, f);
		return true;
	}
	return false;
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
 * What a profile allows outside the tunnel, whichever layer asks: an allow
 * reason, a leak reason, or none when the profile has nothing to say.
 * Discovery follows the LAN setting but is counted apart.
 */
static __always_inline __u32 decide_outside(struct tl_policy_view *v,
					    const struct tl_flow *f,
					    struct tl_subject *s)
{
	__u32 flags = profile_flags(v, s->entry.profile);

	if (flow_is_discovery(f))
		return flags & TL_PROFILE_LAN ? TL_ALLOW_DISCOVERY :
						TL_REASON_DISCOVERY;
	if ((flags & TL_PROFILE_LAN) && addr_is_lan(&f->daddr))
		return TL_ALLOW_LAN;
	if (allow_listed(v, f, s->entry.profile))
		return TL_ALLOW_LISTED;
	return TL_REASON_NONE;
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
 * VPN transport is judged before anything else: only the VPN client may
 * reach the endpoint outside the tunnel, whatever its profile allows, and
 * only with its transport; anything else to the endpoint's address is
 * endpoint abuse (its host route leads past the tunnel).
 */
static __always_inline __u32 decide_endpoint(struct tl_policy_view *v,
					     const struct tl_flow *f,
					     struct tl_subject *s)
{
	struct tl_endpoint_value *ep;
	struct tl_endpoint_key key = {};

	__builtin_memcpy(key.addr, f->daddr.b, 16);
	if (!bpf_map_lookup_elem(v->endpoints, &key))
		return TL_REASON_NONE;
	ep = lookup_endpoint(v, f);
	if (ep && is_vpn_client(ep, s))
		return TL_ALLOW_TRANSPORT;
	return TL_REASON_ENDPOINT;
}

/*
 * Interface indexes are per network namespace, and tl_ifaces holds the
 * agent's: in any other namespace (a container's) no interface is taken
 * for a tunnel, which fails closed.
 */
static __always_inline bool is_tunnel_iface(struct tl_policy_view *v,
					    __u64 netns_cookie, __u32 ifindex)
{
	struct tl_iface *iface;

	if (netns_cookie != v->netns_cookie)
		return false;
	iface = bpf_map_lookup_elem(&tl_ifaces, &ifindex);
	return iface && (iface->flags & TL_IFACE_TUNNEL);
}

/*
 * An interface of a container namespace whose veth leads to the agent's
 * namespace (the agent verified the pair): the host routes and judges
 * what leaves there. Any other interface of another namespace (macvlan,
 * ipvlan, a NIC moved in) is judged where it is, as not a tunnel.
 */
static __always_inline struct tl_nsif *via_host_iface(__u64 netns_cookie,
						      __u32 ifindex)
{
	struct tl_nsif_key key = {
		.netns_cookie = netns_cookie,
		.ifindex = ifindex,
	};

	return bpf_map_lookup_elem(&tl_nsifs, &key);
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
			pick_resolver(v, f, dns);
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

	if (policy_tables(v))
		return TL_REASON_TUNNEL_DOWN; /* fail closed */
	reason = packet_subject(v, skb, s);
	if (reason)
		return reason;
	if (parsed != TL_PARSE_OK)
		return TL_REASON_MALFORMED;
	if (s->entry.flags & TL_CGROUP_EXEMPT)
		return TL_ALLOW_EXEMPT;
	if (!flow_is_ipv6(f) || decide_outside(v, f, s) >= TL_ALLOW_FIRST)
		return TL_ALLOW_TUNNEL;
	if (profile_flags(v, s->entry.profile) & TL_PROFILE_IPV6_BLOCK)
		return TL_REASON_IPV6;
	return TL_ALLOW_TUNNEL;
}

/* An endpoint of the slot's inline table that the client's fwmark names. */
static __always_inline bool fast_endpoint_match(struct tl_settings *cfg,
						const __u32 daddr[4],
						__u16 dport, __u8 protocol,
						__u32 mark)
{
	__u32 i;

	for (i = 0; i < TL_MAX_FAST_ENDPOINTS; i++) {
		struct tl_fast_endpoint *e = &cfg->fast[i];

		if (i >= cfg->nfast)
			break;
		if (e->fwmark == mark && e->port == dport &&
		    e->protocol == protocol && e->addr[3] == daddr[3] &&
		    e->addr[2] == daddr[2] && e->addr[1] == daddr[1] &&
		    e->addr[0] == daddr[0])
			return true;
	}
	return false;
}

/*
 * The VPN's own transport, the heaviest traffic of a guarded interface:
 * judged from the headers in place, before any parse into a tl_flow or
 * any hash lookup. Plain IPv4 or IPv6 UDP only; anything else (tags,
 * options, extension headers, TCP transport) takes the full path, which
 * checks the same table.
 */
static __always_inline bool fast_transport(struct __sk_buff *skb, bool l3,
					   struct tl_settings *cfg, __u32 mark)
{
	void *data = skb_data(skb);
	void *end = skb_data_end(skb);
	__u32 off = l3 ? 0 : ETH_HLEN, daddr[4];
	__be16 proto = skb->protocol;
	struct udphdr *udp;

	if (!l3) {
		struct ethhdr *eth = data;

		if ((void *)(eth + 1) > end)
			return false;
		proto = eth->h_proto;
	}
	if (!l3 && proto == bpf_htons(ETH_P_PPP_SES)) { /* a DSL uplink */
		struct tl_pppoe_hdr *h = data + off;

		if ((void *)(h + 1) > end || h->ver_type != 0x11 || h->code)
			return false;
		off += sizeof(*h);
		if (h->ppp_proto == bpf_htons(TL_PPP_IP))
			proto = bpf_htons(ETH_P_IP);
		else if (h->ppp_proto == bpf_htons(TL_PPP_IPV6))
			proto = bpf_htons(ETH_P_IPV6);
		else
			return false;
	}
	if (proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = data + off;

		/* a first fragment too: its verdict is kept for the rest */
		if ((void *)(ip + 1) > end || ip->ihl != 5 ||
		    ip->protocol != IPPROTO_UDP ||
		    (ip->frag_off & bpf_htons(IP_OFFSET | IP_MF)))
			return false;
		daddr[0] = daddr[1] = 0;
		daddr[2] = bpf_htonl(0x0000ffff);
		daddr[3] = ip->daddr;
		udp = (void *)(ip + 1);
	} else if (proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = data + off;

		if ((void *)(ip6 + 1) > end || ip6->nexthdr != IPPROTO_UDP)
			return false;
		__builtin_memcpy(daddr, &ip6->daddr, 16);
		udp = (void *)(ip6 + 1);
	} else {
		return false;
	}
	if ((void *)(udp + 1) > end)
		return false;
	return fast_endpoint_match(cfg, daddr, bpf_ntohs(udp->dest),
				   IPPROTO_UDP, mark);
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
	if (policy_tables(v))
		return TL_REASON_TUNNEL_DOWN; /* fail closed */
	reason = packet_subject(v, skb, s);
	if (reason)
		return reason;
	if (parsed == TL_PARSE_MALFORMED)
		return TL_REASON_MALFORMED;
	if (parsed == TL_PARSE_NOT_IP)
		return decide_frame(v, skb, f, s);
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
