/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The policy in force. Every map is pinned by name under the pin directory,
 * so that all layers share one instance and a restarted agent adopts them;
 * each is declared beside the logic that reads it.
 *
 * The policy comes in TL_POLICY_SLOTS slots: tl_state names the live slot,
 * tl_settings holds each slot's settings, and each slot's tables are arrays
 * of maps indexed by slot (tl_cgroups in subject.h, tl_allow in allow.h,
 * tl_endpoints in endpoint.h), fetched by policy_tables() (verdict.h).
 * Their inner maps give sizes rather than BTF types: clang emits BTF only
 * for types that globals reach, and these would be forward declarations.
 * Runtime state (links.h) is not slotted: the agent keeps it current from
 * rtnetlink.
 */
#ifndef TL_BPF_POLICY_H
#define TL_BPF_POLICY_H

#include "common.h"

/* The live slot, the agent's namespace and the layout version. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct tl_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_state SEC(".maps");

/* Per slot: the mode, profiles, resolvers and the fast path's endpoints. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__type(value, struct tl_settings);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_settings SEC(".maps");

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

static __always_inline __u32 profile_flags(struct tl_policy_view *v, __u32 p)
{
	/* The agent keeps ids below TL_MAX_PROFILES; the mask (no branch
	 * that the compiler could use to drop it) proves it to the verifier. */
	return v->settings->profiles[p & (TL_MAX_PROFILES - 1)].flags;
}

#endif
