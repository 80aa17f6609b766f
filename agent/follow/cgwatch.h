/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Following the cgroup tree below attach_cgroup with inotify: a cgroup that
 * appears after the policy was applied gets the entry its rules give it in
 * the live table (apply.h tl_apply_cgroup), and a cgroup whose population
 * changes tells the agent to look for container namespaces again. One
 * watch per directory, at most TL_CGWATCH_MAX; deeper or further cgroups
 * keep their nearest watched ancestor's profile until the next reload.
 */
#ifndef TUNLOCK_CGWATCH_H
#define TUNLOCK_CGWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pins.h"
#include "policy.h"

#define TL_CGWATCH_MAX 65536

/* A cgroup frozen because its entry could not be written (table full). */
struct tl_cgwatch_held {
	uint64_t id;
	char *rel;
	bool frozen;
};

/* A watched cgroup directory; its path is in the index (cgindex.h). */
struct tl_cgwatch_dir {
	int wd;
	uint64_t id;
};

struct tl_cgwatch {
	int fd; /* inotify */
	const char *mount;
	struct tl_bpf *bpf;
	const struct tl_policy *policy;
	char root[TL_GLOB_MAX]; /* the attach cgroup watched from */
	struct tl_cgwatch_dir *v;
	size_t n, cap;
	bool full;	/* TL_CGWATCH_MAX reached (said once) */
	bool missed;	/* a directory refused its watch, or was not read */
	bool populated; /* some cgroup's population changed */
	bool overflow;	/* inotify lost events: rescan */
	bool room;	/* an entry was deleted: retry the held ones */
	uint64_t added; /* entries written since start */
	uint64_t rescans;    /* after an inotify overflow */
	uint64_t table_full; /* cgroups whose entry found no room */
	struct tl_cgwatch_held *held; /* frozen until their entry is written */
	size_t nheld, heldcap;
};

/*
 * Watches the subtree of p's attach_cgroup, before p is applied: a cgroup
 * made from then on is an event, handled once p is live, and one made
 * before is there for the apply to find.
 */
int tl_cgwatch_open(struct tl_cgwatch *w, struct tl_bpf *b,
		    const struct tl_policy *p, const char *mount);
/* After a reload applied p (its attach cgroup may differ). */
void tl_cgwatch_reset(struct tl_cgwatch *w, const struct tl_policy *p);
void tl_cgwatch_close(struct tl_cgwatch *w);
/* Handles whatever inotify has (non-blocking); an overflow rescans. */
int tl_cgwatch_handle(struct tl_cgwatch *w);
/* Tries again to write the entries of held (frozen) cgroups; thaws those
 * written or gone. */
void tl_cgwatch_retry(struct tl_cgwatch *w);

#endif
