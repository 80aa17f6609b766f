/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The cgroup2 hierarchy: where it is mounted, ids, levels and globs. */
#ifndef TUNLOCK_CGROUP_H
#define TUNLOCK_CGROUP_H

#include <stddef.h>
#include <stdint.h>

/* Finds the cgroup2 mount (/sys/fs/cgroup, or .../unified on hybrid). */
int tl_cgroup_mount(char *buf, size_t len);

/* Id (the kernfs node id that BPF sees) and depth of a path relative to
 * the mount; "/" is the root at level 0. */
int tl_cgroup_id(const char *mount, const char *rel, uint64_t *id);
int tl_cgroup_level(const char *rel);

/* Calls fn for every existing cgroup whose relative path matches the
 * fnmatch pattern (FNM_PATHNAME; "**" at the end matches any depth). */
typedef int (*tl_cgroup_fn)(const char *rel, uint64_t id, void *ctx);
int tl_cgroup_glob(const char *mount, const char *pattern, tl_cgroup_fn fn,
		   void *ctx);

/* True when rel matches the policy path or glob pattern (as the glob walk
 * matches it). */
int tl_cgroup_match(const char *pattern, const char *rel);

/*
 * Relative path of a cgroup id, for events, in constant time: from lookup
 * (the agent's cgroup watch) when it knows the id, else from the kernel by
 * file handle (CAP_DAC_READ_SEARCH); answers, misses included, are cached.
 * NULL when the cgroup is gone or cannot be resolved. Never walks the tree.
 */
typedef const char *(*tl_cgroup_lookup_fn)(void *ctx, uint64_t id);
void tl_cgroup_path_lookup(tl_cgroup_lookup_fn fn, void *ctx);
const char *tl_cgroup_path(const char *mount, uint64_t id);
/* 1: the cgroup of id exists, 0: it is gone, or a negative errno when the
 * kernel does not say (no CAP_DAC_READ_SEARCH). */
int tl_cgroup_exists(const char *mount, uint64_t id);
/* Ids resolved and not resolved so far. */
void tl_cgroup_path_stats(uint64_t *ok, uint64_t *unknown);

/* True when rel is anc or below it. */
int tl_cgroup_is_under(const char *rel, const char *anc);

#endif
