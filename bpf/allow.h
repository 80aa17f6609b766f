/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a profile allows outside the tunnel: the LAN, discovery, and its
 * allow list: exact addresses (/32, /128) in a hash (tl_allow_exact), asked
 * first, and prefixes in an LPM trie (tl_allow), both keyed by profile and
 * destination, whose values hold port ranges. An exact address is the
 * longest prefix a destination can match, so the hash answers as the trie
 * would; each profile's flags say which tables hold any of its entries.
 */
#ifndef TL_BPF_ALLOW_H
#define TL_BPF_ALLOW_H

#include "flow.h"
#include "subject.h"

/* Per slot: the profiles' allowed destinations, longest prefix first. */
struct tl_allow_table {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, TL_MAX_ALLOW_ENTRIES);
	__uint(key_size, sizeof(struct tl_allow_key));
	__uint(value_size, sizeof(struct tl_allow_value));
	__uint(map_flags, BPF_F_NO_PREALLOC);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tl_allow_table);
} tl_allow SEC(".maps");

/*
 * Per slot: the profiles' exact allowed addresses. Preallocated: the agent
 * makes each table as large as its policy's exact entries (a hash in a map
 * of maps may differ in size from this one), and fills it at less than
 * half the cost of allocating every entry as it is written.
 */
struct tl_allow_exact_table {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, TL_MAX_ALLOW_ENTRIES);
	__uint(key_size, sizeof(struct tl_allow_exact_key));
	__uint(value_size, sizeof(struct tl_allow_value));
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, TL_POLICY_SLOTS);
	__type(key, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
	__array(values, struct tl_allow_exact_table);
} tl_allow_exact SEC(".maps");

static __always_inline bool port_range_match(const struct tl_port_range *r,
					     const struct tl_flow *f)
{
	if (r->protocol && r->protocol != f->protocol)
		return false;
	if (!r->lo && !r->hi)
		return true;
	return f->has_ports && f->dport >= r->lo && f->dport <= r->hi;
}

/*
 * The entry of the profile's allow list that the destination falls in:
 * the exact table's, else the trie's. The exact table is fetched here, by
 * slot, not kept in the view: the packet layers have no stack to spare.
 */
static __always_inline struct tl_allow_value *
allow_entry(struct tl_policy_view *v, const struct tl_flow *f, __u32 profile,
	    __u32 flags)
{
	struct tl_allow_key key = {
		.prefixlen = 32 + 128,
		.profile = profile,
	};
	struct tl_allow_value *val = NULL;
	__u32 slot = v->slot & (TL_POLICY_SLOTS - 1);
	void *exact;

	__builtin_memcpy(key.addr, f->daddr.b, 16);
	if (flags & TL_PROFILE_ALLOW_EXACT) {
		exact = bpf_map_lookup_elem(&tl_allow_exact, &slot);
		/* tl_allow_exact_key is tl_allow_key from profile on */
		if (exact)
			val = bpf_map_lookup_elem(exact, &key.profile);
	}
	if (!val && (flags & TL_PROFILE_ALLOW_PREFIX))
		val = bpf_map_lookup_elem(v->allow, &key);
	return val;
}

/*
 * An entry's port ranges that the flow falls in. A global function: checked
 * once by the verifier, not on every path of a layer that asks the allow
 * list; only an entry with ranges calls it.
 */
__noinline int ports_listed(const struct tl_allow_value *val,
			    const struct tl_flow *f)
{
	__u32 i;

	if (!val || !f)
		return false;
	for (i = 0; i < TL_MAX_PORT_RANGES; i++) {
		if (i >= val->count)
			break;
		if (port_range_match(&val->ranges[i], f))
			return true;
	}
	return false;
}

static __always_inline bool allow_listed(struct tl_policy_view *v,
					 const struct tl_flow *f, __u32 profile,
					 __u32 flags)
{
	struct tl_allow_value *val = allow_entry(v, f, profile, flags);

	if (!val)
		return false;
	return !val->count || ports_listed(val, f);
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
	if (allow_listed(v, f, s->entry.profile, flags))
		return TL_ALLOW_LISTED;
	return TL_REASON_NONE;
}

#endif
