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

/* A cgroup's resolved entry, valid while generation is the live
 * subjects generation * TL_POLICY_SLOTS + the slot read from. */
struct tl_subject_cache {
	__u32 generation;
	struct tl_cgroup_entry entry;
};

/* Who sent it: the nearest configured cgroup of the socket or task. */
struct tl_subject {
	__u64 cgroup_id;
	__u64 netns_cookie;
	union { /* entry, and as tl_subjects caches it (the stack is tight) */
		struct tl_subject_cache cached;
		struct {
			__u32 generation;
			struct tl_cgroup_entry entry;
		};
	};
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
static __always_inline void resolve_ancestors(void *cgroups,
					      __u32 default_profile,
					      struct __sk_buff *skb,
					      const struct tl_port *port,
					      struct tl_cgroup_entry *out)
{
	struct tl_cgroup_entry *e;
	__u64 id;
	int level;

	out->profile = default_profile;
	out->flags = 0;
	out->client_of = 0;
	/* unrolled: a loop entered past its top is refused by Linux 6.1's
	 * check_cfg (a fall-through back-edge) */
#pragma unroll
	for (level = TL_MAX_CGROUP_DEPTH - 1; level >= 0; level--) {
		id = ancestor_at(skb, port, level);
		if (!id)
			continue;
		e = bpf_map_lookup_elem(cgroups, &id);
		if (e) {
			*out = *e;
			return;
		}
	}
}

/* What the agent bumps when cached answers may be stale (tl_subjects). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_generation);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_generation SEC(".maps");

/*
 * Each cgroup's nearest configured ancestor, as resolve_ancestors() found
 * it, tagged with the slot it was read from and the subjects generation
 * read before that slot's table was fetched and walked. The agent bumps
 * the generation after every switch and every write of the live table: an
 * entry resolved from an idle slot has another slot in its tag, one walked
 * before a write or a rebuild of its slot has an older generation, and a
 * generation read after the last bump means the table fetched after it is
 * the one now live. Cgroup ids are never reused.
 *
 * A direct-mapped cache: an array of lines indexed by the cgroup id's low
 * bits, each holding the id it is for, read and written whole under its
 * lock. Not a hash map: the kernel reuses a hash map's freed element for
 * another key at once, so a copy could mix two cgroups' entries; an
 * array's lines are never freed, and a collision only costs a walk.
 */
struct tl_subject_line {
	struct bpf_spin_lock lock;
	__u32 generation;
	__u64 cgroup_id;
	struct tl_cgroup_entry entry;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_SUBJECT_CACHE);
	__type(key, __u32);
	__type(value, struct tl_subject_line);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_subjects SEC(".maps");

/* The line's entry when it holds cgroup id at tag; false otherwise. */
static __always_inline bool subject_line_get(struct tl_subject_line *l,
					     __u64 id, __u32 tag,
					     struct tl_cgroup_entry *out)
{
	bool hit;

	bpf_spin_lock(&l->lock);
	hit = l->cgroup_id == id && l->generation == tag;
	if (hit)
		*out = l->entry;
	bpf_spin_unlock(&l->lock);
	return hit;
}

static __always_inline void subject_line_set(struct tl_subject_line *l,
					     __u64 id, __u32 tag,
					     const struct tl_cgroup_entry *e)
{
	bpf_spin_lock(&l->lock);
	l->cgroup_id = id;
	l->generation = tag;
	l->entry = *e;
	bpf_spin_unlock(&l->lock);
}

/*
 * The entry of cgroup id (a socket's, skb, or the current task's) in
 * slot's table: one line of the cache while it holds it, instead of a
 * lookup per ancestor level. -1 when the slot has no table.
 */
static __always_inline int resolve_cached(__u32 slot, __u32 default_profile,
					  struct __sk_buff *skb, __u64 id,
					  struct tl_subject_cache *out)
{
	struct tl_subject_line *line = NULL;
	struct tl_generation *gen;
	__u32 zero = 0, tag, idx;
	void *cgroups;

	slot &= TL_POLICY_SLOTS - 1;
	gen = bpf_map_lookup_elem(&tl_generation, &zero);
	if (!gen)
		return -1;
	/* before the table: a volatile load stays before the calls after it */
	tag = *(volatile __u32 *)&gen->subjects * TL_POLICY_SLOTS + slot;
	out->generation = tag;
	if (id) {
		idx = (__u32)id & (TL_SUBJECT_CACHE - 1);
		line = bpf_map_lookup_elem(&tl_subjects, &idx);
		if (line && subject_line_get(line, id, tag, &out->entry))
			return 0;
	}
	cgroups = bpf_map_lookup_elem(&tl_cgroups, &slot);
	if (!cgroups)
		return -1;
	resolve_ancestors(cgroups, default_profile, skb, NULL, &out->entry);
	if (line)
		subject_line_set(line, id, tag, &out->entry);
	return 0;
}

/* The current task's cgroup, s->cgroup_id (socket layer). */
static __always_inline int resolve_subject(struct tl_policy_view *v,
					   struct tl_subject *s)
{
	return resolve_cached(v->slot, v->settings->default_profile, NULL,
			      s->cgroup_id, &s->cached);
}

/*
 * The packet layers' socket, skb: out of line, as a global function, so
 * that the walk's stack is not added to the packet layers' deepest calls.
 */
__noinline int resolve_skb_subject(struct __sk_buff *skb, __u64 id,
				   __u32 slot, __u32 default_profile,
				   struct tl_subject_cache *out)
{
	if (!skb || !out)
		return -1;
	return resolve_cached(slot, default_profile, skb, id, out);
}

/*
 * The cgroup a container's port stands for, from the ancestors the agent
 * recorded: out of line too. -1 when the slot has no table.
 */
__noinline int resolve_port_entry(const struct tl_port *port, __u32 slot,
				  __u32 default_profile,
				  struct tl_cgroup_entry *out)
{
	void *cgroups;

	if (!port || !out)
		return -1;
	slot &= TL_POLICY_SLOTS - 1;
	cgroups = bpf_map_lookup_elem(&tl_cgroups, &slot);
	if (!cgroups)
		return -1;
	resolve_ancestors(cgroups, default_profile, NULL, port, out);
	return 0;
}

static __always_inline int resolve_port(struct tl_policy_view *v,
					struct tl_port *port,
					struct tl_subject *s)
{
	return resolve_port_entry(port, v->slot, v->settings->default_profile,
				  &s->entry);
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
			/* no slot table: fail closed */
			return resolve_port(v, s->port, s) ?
				       TL_REASON_TUNNEL_DOWN : TL_REASON_NONE;
		}
		if (cfg->flags & TL_SETTINGS_NO_SOCKET_ALLOW)
			return TL_ALLOW_NO_SOCKET;
		s->entry.profile = cfg->default_profile;
		return TL_REASON_NONE;
	}
	if (bpf_skb_ancestor_cgroup_id(skb, cfg->attach_cgroup_level) !=
	    cfg->attach_cgroup_id)
		return TL_ALLOW_UNPROTECTED;
	/* no slot table: fail closed, as without a policy */
	if (resolve_skb_subject(skb, s->cgroup_id, v->slot,
				cfg->default_profile, &s->cached))
		return TL_REASON_TUNNEL_DOWN;
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
