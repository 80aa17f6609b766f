/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's one cgroup id <-> path index. The cgroup watch (cgwatch.c)
 * puts every cgroup it watches; events ask for the path of any id, which
 * the index answers without ever walking the tree (a walk per unknown id
 * stalled the agent's one thread for seconds on a host with thousands of
 * cgroups): from what the watch put, else from the kernel by file handle
 * (CAP_DAC_READ_SEARCH), an answer kept, a miss included (ids are never
 * reused), among at most TL_CGINDEX_CACHED such answers.
 */
#ifndef TUNLOCK_CGINDEX_H
#define TUNLOCK_CGINDEX_H

#include <stddef.h>
#include <stdint.h>

#define TL_CGINDEX_CACHED 1024

/* The home slot of a cgroup id in an open-addressed table of cap slots (a
 * power of two). Fibonacci hashing: the high bits of the product spread
 * the ids, which are inode numbers, mostly consecutive. */
static inline size_t tl_cgroup_id_home(uint64_t id, size_t cap)
{
	return (id * 0x9e3779b97f4a7c15ull) >> (64 - __builtin_ctzll(cap));
}

/* A watched cgroup: kept until dropped. rel is copied. */
int tl_cgindex_put(uint64_t id, const char *rel);
void tl_cgindex_drop(uint64_t id);
/* Every entry, watched or not (a reset of the watch). */
void tl_cgindex_clear(void);
/* The id of a watched path, or 0. */
uint64_t tl_cgindex_id(const char *rel);
/* The path of an id in the index, or NULL: never asks the kernel. */
const char *tl_cgindex_path(uint64_t id);

/* The relative path of a cgroup id, NULL when it is gone or cannot be
 * resolved; valid until the next call into the index. */
const char *tl_cgroup_path(const char *mount, uint64_t id);
/* 1: the cgroup of id exists, 0: it is gone, or a negative errno when the
 * kernel does not say (no CAP_DAC_READ_SEARCH). */
int tl_cgroup_exists(const char *mount, uint64_t id);
/* Ids resolved and not resolved so far. */
void tl_cgroup_path_stats(uint64_t *ok, uint64_t *unknown);

#endif
