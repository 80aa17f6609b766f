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
/* The cgroup directory at path: its id, and how many subdirectories the
 * kernel counts in it (a kernfs directory has 2 links and one more per
 * subdirectory; -1 when it cannot say). */
int tl_cgroup_stat(const char *path, uint64_t *id, int *subdirs);
int tl_cgroup_level(const char *rel);

/* Calls fn for every existing cgroup whose relative path matches the
 * fnmatch pattern (FNM_PATHNAME; "**" at the end matches any depth). */
typedef int (*tl_cgroup_fn)(const char *rel, uint64_t id, void *ctx);
int tl_cgroup_glob(const char *mount, const char *pattern, tl_cgroup_fn fn,
		   void *ctx);

/* True when rel matches the policy path or glob pattern (as the glob walk
 * matches it). */
int tl_cgroup_match(const char *pattern, const char *rel);

/* True when rel is anc or below it. */
int tl_cgroup_is_under(const char *rel, const char *anc);

#endif
