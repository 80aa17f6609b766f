/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Applying a policy: the tables are built aside in fresh maps, put in the
 * idle slot, and one write of tl_state makes them live. A packet sees the
 * whole old policy or the whole new one, never a mix.
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
};

/* cg_mount: the cgroup2 mount. Returns 0, or a negative errno after
 * logging why; on failure the running policy stays in force. */
int tl_apply_policy(struct tl_bpf *b, const struct tl_policy *p,
		    const char *cg_mount, struct tl_applied *out);

/* Generation of the policy in force (0 when none or unreadable). */
uint32_t tl_applied_generation(struct tl_bpf *b);

/* Profile name of id as the policy names it ("locked" for the built-in). */
const char *tl_profile_name(const struct tl_policy *p, uint32_t id);

#endif
