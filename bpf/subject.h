/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Who sent it, and which entry of the policy's cgroup table judges it: the
 * nearest configured ancestor of the socket's or task's cgroup, or of the
 * cgroup that a container's port stands for.
 */
#ifndef TL_BPF_SUBJECT_H
#define TL_BPF_SUBJECT_H

#include "policy.h"

/* Per slot: a cgroup id to its entry (profile, flags, VPN client of). */
struct tl_cgroup_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_CGROUPS);
	__uint(key_size, sizeof(__u64));
	__uint(value_size, sizeof(struct tl_cgroup_entry));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tl_cgroup_table);
} tl_cgroups SEC(".maps");

/* Who sent it: the nearest configured cgroup of the socket or task. */
struct tl_subject {
	__u64 cgroup_id;
	__u64 netns_cookie;
	struct tl_cgroup_entry entry;
	__u32 mark;
	/* TC: a forwarded packet that a container's port stamped (container.h) */
	struct tl_port *port;
};

/*
 * The cgroup at level of the subject's hierarchy, 0 where there is none: a
 * container's port carries its cgroup's ancestors (recorded by the agent);
 * otherwise skb selects the socket's cgroup (packet layers), and without it
 * the current task's (socket layer).
 */
static __always_inline __u64 ancestor_at(struct __sk_buff *skb,
					 const struct tl_port *port, int level)
{
	if (port)
		return level > port->level ? 0 : port->ancestors[level];
	return skb ? bpf_skb_ancestor_cgroup_id(skb, level) :
		     bpf_get_current_ancestor_cgroup_id(level);
}

/*
 * Nearest configured ancestor wins, looked up in the live slot: for a
 * container's port too, so that a policy switch applies to forwarded
 * traffic as atomically as to sockets.
 */
static __always_inline void resolve_ancestors(struct tl_policy_view *v,
					      struct __sk_buff *skb,
					      const struct tl_port *port,
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
		id = ancestor_at(skb, port, level);
		if (!id)
			continue;
		e = bpf_map_lookup_elem(v->cgroups, &id);
		if (e) {
			s->entry = *e;
			return;
		}
	}
}

/* A socket's (skb) or the current task's cgroup. */
static __always_inline void resolve_subject(struct tl_policy_view *v,
					    struct __sk_buff *skb,
					    struct tl_subject *s)
{
	resolve_ancestors(v, skb, NULL, s);
}

/* The cgroup a container's port stands for. */
static __always_inline void resolve_port(struct tl_policy_view *v,
					 struct tl_port *port,
					 struct tl_subject *s)
{
	resolve_ancestors(v, NULL, port, s);
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

#endif
