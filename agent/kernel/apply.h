/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Applying a policy: the tables are built aside in fresh maps, put in the
 * idle slot, and one write of tl_state makes them live. A packet sees the
 * whole old policy or the whole new one, never a mix. An allow table that
 * would be filled as the live slot's was is that table, in both slots.
 */
#ifndef TUNLOCK_APPLY_H
#define TUNLOCK_APPLY_H

#include <stdint.h>

#include "pins.h"
#include "policy.h"

struct tl_applied {
	uint32_t generation;
	uint32_t slot;
	uint64_t attach_cgroup_id;
	size_t cgroups;
	size_t allow_entries;
	size_t endpoints;
	/* allow tables shared with the policy before (the same entries) */
	unsigned int reused;
	/* allow tables made ahead (tl_apply_ahead) */
	unsigned int ahead;
};

/* cg_mount: the cgroup2 mount. Returns 0, or a negative errno after
 * logging why; on failure the running policy stays in force. */
int tl_apply_policy(struct tl_bpf *b, const struct tl_policy *p,
		    const char *cg_mount, struct tl_applied *out);

/*
 * p's allow tables, made before its apply from the objects' map shapes
 * alone: a fresh start makes them while the programs load, off the path
 * to enforcing. NULL when they could not be made (logged): the apply
 * makes them then. An apply takes each one whose entries are those it
 * would write (a digest, as for the live slot's tables); free closes the
 * rest.
 */
struct tl_ahead;
struct tl_ahead *tl_apply_ahead(const struct tl_policy *p);
void tl_apply_ahead_free(struct tl_ahead *a);
/* tl_apply_policy, with tables made ahead (or NULL). */
int tl_apply_policy_ahead(struct tl_bpf *b, const struct tl_policy *p,
			  const char *cg_mount, struct tl_ahead *ahead,
			  struct tl_applied *out);

/*
 * After a write that changes what a cgroup resolves to (a switch, the live
 * cgroup table, the live settings): the BPF side's cached resolutions
 * (tl_subjects) are tagged with the old generation, so none is used again.
 * Returns 0 or a negative errno, logged.
 */
int tl_bump_subjects(struct tl_bpf *b);

/*
 * After a write of runtime state (interfaces, tunnels, containers' ports
 * and interfaces, the agent's namespace): the socket layer's cached
 * verdicts (tl_sock_verdicts) are tagged with the old generation. Returns
 * 0 or a negative errno, logged.
 */
int tl_bump_verdicts(struct tl_bpf *b);

/*
 * An interface of the agent's namespace as the BPF side reads it: in
 * tl_ifaces (what status, metrics and the self-test read), and in
 * tl_iface_slots too when its index is below TL_IFACE_SLOTS. Neither bumps
 * the verdicts' generation. Return 0 or a negative errno.
 */
int tl_iface_put(struct tl_bpf *b, __u32 ifindex, const struct tl_iface *v);
int tl_iface_del(struct tl_bpf *b, __u32 ifindex);
/* Drops every entry whose index keep() refuses; returns how many. */
int tl_iface_prune(struct tl_bpf *b, bool (*keep)(void *ctx, __u32 ifindex),
		   void *ctx);

/* Generation of the policy in force (0 when none or unreadable). */
uint32_t tl_applied_generation(struct tl_bpf *b);
/*
 * A cgroup appeared (or was renamed) under the running policy: its entry,
 * computed from its path as the full build would, goes into the live
 * slot's table in place, when a rule or tunnel client names it and it
 * differs from its ancestor's. The policy is the same, so is the
 * generation: a packet of the cgroup sees its nearest ancestor's entry
 * before and its own after, never none. Returns 1 when an entry was
 * written, 0 when its ancestor's covers it, -E2BIG when the table is full
 * (the caller must fail closed: the ancestor's entry may be looser).
 */
int tl_apply_cgroup(struct tl_bpf *b, const struct tl_policy *p,
		    const char *rel, uint64_t id);
int tl_apply_cgroup_gone(struct tl_bpf *b, uint64_t id);
/* Entries in the live cgroup table, and its size (status, metrics). */
int tl_cgroup_table_use(int state_fd, int cgroups_fd, uint32_t *used,
			uint32_t *max);
/* Drops the live entries of cgroups that are gone (missed deletions);
 * returns how many. */
int tl_apply_cgroup_sweep(struct tl_bpf *b, const char *mount);
/* The entry the policy gives cgroup rel (nearest configured ancestor);
 * returns 1 when a rule or tunnel client names rel itself. */
int tl_cgroup_entry_for(const struct tl_policy *p, const char *rel,
			struct tl_cgroup_entry *e);

/* Profile name of id as the policy names it ("locked" for the built-in). */
const char *tl_profile_name(const struct tl_policy *p, uint32_t id);

#endif
