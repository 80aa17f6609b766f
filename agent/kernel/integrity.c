// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "integrity.h"
#include "log.h"

static int read_live(struct tl_bpf *b, struct tl_state *st,
		     struct tl_settings *s, __u32 slot)
{
	__u32 zero = 0;

	if (bpf_map_lookup_elem(tl_bpf_map_fd(b, TL_MAP_STATE), &zero, st))
		return -errno;
	if (bpf_map_lookup_elem(tl_bpf_map_fd(b, TL_MAP_SETTINGS), &slot, s))
		return -errno;
	return 0;
}

int tl_integrity_record(struct tl_integrity *g, struct tl_bpf *b)
{
	__u32 zero = 0;
	int err;

	g->known = false;
	if (bpf_map_lookup_elem(tl_bpf_map_fd(b, TL_MAP_STATE), &zero,
				&g->state))
		return -errno;
	err = read_live(b, &g->state, &g->settings, g->state.active_slot);
	g->known = !err;
	return err;
}

unsigned int tl_integrity_check(struct tl_integrity *g, struct tl_bpf *b)
{
	struct tl_settings s;
	struct tl_state st;
	unsigned int found = 0;
	__u32 zero = 0;

	if (!g->known || read_live(b, &st, &s, g->state.active_slot))
		return 0;
	if (memcmp(&s, &g->settings, sizeof(s))) {
		found |= TL_TAMPER_SETTINGS;
		if (bpf_map_update_elem(tl_bpf_map_fd(b, TL_MAP_SETTINGS),
					&g->state.active_slot, &g->settings,
					BPF_ANY))
			found |= TL_TAMPER_FAILED;
	}
	/* the slot switch last: the settings it points at are right again */
	if (memcmp(&st, &g->state, sizeof(st))) {
		found |= TL_TAMPER_STATE;
		if (bpf_map_update_elem(tl_bpf_map_fd(b, TL_MAP_STATE), &zero,
					&g->state, BPF_ANY))
			found |= TL_TAMPER_FAILED;
	}
	/* what cgroups resolved to under the tampered settings is stale */
	if (found && tl_bump_subjects(b))
		found |= TL_TAMPER_FAILED;
	return found;
}
