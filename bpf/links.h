/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the agent keeps current from rtnetlink: runtime state, not slotted
 * (the same whichever policy slot is live). The interfaces of the agent's
 * namespace (tl_ifaces, tl_iface_slots), the tunnels (tl_tunnels, and
 * tl_summary: how many are up), and container namespaces (container.h):
 * their ports by the index stamped in skb->mark (tl_ports), and their
 * interfaces inside (tl_nsifs).
 */
#ifndef TL_BPF_LINKS_H
#define TL_BPF_LINKS_H

#include "policy.h"

/* The agent's namespace's interfaces by index: tunnel, guarded, port. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct tl_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_ifaces SEC(".maps");

/* The same entries for the indexes below TL_IFACE_SLOTS, by index; an
 * index with no interface has flags 0. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_IFACE_SLOTS);
	__type(key, __u32);
	__type(value, struct tl_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_iface_slots SEC(".maps");

/*
 * Out of line: inlined, clang merges the two lookups into one call of
 * either map, and the verifier then inlines neither (an indirect call, 30
 * ns more a packet in the lab than the hash alone).
 */
static __noinline struct tl_iface *iface_past_slots(__u32 ifindex)
{
	return bpf_map_lookup_elem(&tl_ifaces, &ifindex);
}

/* The interface ifindex of the agent's namespace, or NULL; callers judge
 * flags, which are 0 for an index the agent has not written. */
static __always_inline struct tl_iface *iface_at(__u32 ifindex)
{
	if (ifindex < TL_IFACE_SLOTS)
		return bpf_map_lookup_elem(&tl_iface_slots, &ifindex);
	return iface_past_slots(ifindex);
}

/*
 * Flags of an interface of the agent's namespace; 0 in any other.
 * Interface indexes are per network namespace, and the interface maps hold
 * the agent's: in any other namespace (a container's) no interface is taken
 * for a tunnel, which fails closed.
 */
static __always_inline __u32 agent_iface_flags(struct tl_policy_view *v,
					       __u64 netns_cookie,
					       __u32 ifindex)
{
	struct tl_iface *iface;

	if (netns_cookie != v->netns_cookie)
		return 0;
	iface = iface_at(ifindex);
	return iface ? iface->flags : 0;
}

static __always_inline bool is_tunnel_iface(struct tl_policy_view *v,
					    __u64 netns_cookie, __u32 ifindex)
{
	return agent_iface_flags(v, netns_cookie, ifindex) & TL_IFACE_TUNNEL;
}

/* Each tunnel of the policy: up, and which families it carries. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_TUNNELS);
	__type(key, __u32);
	__type(value, struct tl_tunnel_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_tunnels SEC(".maps");

static __always_inline bool tunnel_has(__u32 tunnel, __u32 flags)
{
	struct tl_tunnel_state *ts = bpf_map_lookup_elem(&tl_tunnels, &tunnel);

	return ts && (ts->flags & flags) == flags;
}

/* How many tunnels are up, and how many carry IPv6 (policy_tables). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_tunnel_summary);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_summary SEC(".maps");

/* Containers' ports by the index stamped in skb->mark; 0 is no port. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_MAX_PORTS);
	__type(key, __u32);
	__type(value, struct tl_port);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_ports SEC(".maps");

static __always_inline struct tl_port *port_at(__u32 idx)
{
	struct tl_port *port = bpf_map_lookup_elem(&tl_ports, &idx);

	return port && port->ifindex ? port : NULL;
}

/* Containers' interfaces toward the host, by namespace and index. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_NSIFS);
	__type(key, struct tl_nsif_key);
	__type(value, struct tl_nsif);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_nsifs SEC(".maps");

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

#endif
