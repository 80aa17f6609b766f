/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the agent wrote to the pinned state, kept to compare: a process
 * that can open the pins (uid 0 needs no capability for that; see
 * docs/operations.md, "Trust boundary") could rewrite the live settings
 * (audit mode, say) or flip the live slot. Each interval the agent
 * compares tl_state and the live slot of tl_settings with what it applied
 * and writes back what differs.
 */
#ifndef TUNLOCK_INTEGRITY_H
#define TUNLOCK_INTEGRITY_H

#include <stdbool.h>

#include "pins.h"
#include "tunlock.h"

struct tl_integrity {
	struct tl_state state;
	struct tl_settings settings; /* of state.active_slot */
	bool known;
};

/* Right after the agent itself wrote them: what is live now is right. */
int tl_integrity_record(struct tl_integrity *g, struct tl_bpf *b);

/* What tl_integrity_check found changed (bits). */
#define TL_TAMPER_STATE (1u << 0)
#define TL_TAMPER_SETTINGS (1u << 1)
#define TL_TAMPER_FAILED (1u << 2) /* and could not put it back */

/* Compares the live state with the record and puts back what differs. */
unsigned int tl_integrity_check(struct tl_integrity *g, struct tl_bpf *b);

#endif
