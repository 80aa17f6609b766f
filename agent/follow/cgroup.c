// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <fts.h>
#include <mntent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cgroup.h"

int tl_cgroup_mount(char *buf, size_t len)
{
	static const char *const preferred[] = { "/sys/fs/cgroup",
						 "/sys/fs/cgroup/unified" };
	char found[4096] = "";
	struct mntent *m;
	FILE *f;
	size_t i;

	f = setmntent("/proc/self/mounts", "r");
	if (!f)
		return -errno;
	while ((m = getmntent(f))) {
		if (strcmp(m->mnt_type, "cgroup2"))
			continue;
		for (i = 0; i < 2; i++)
			if (!strcmp(m->mnt_dir, preferred[i]))
				break;
		/* a preferred mount point wins over any other */
		if (i < 2 || !found[0])
			snprintf(found, sizeof(found), "%s", m->mnt_dir);
		if (i < 2)
			break;
	}
	endmntent(f);
	if (!found[0])
		return -ENOENT;
	if (strlen(found) >= len)
		return -ENAMETOOLONG;
	strcpy(buf, found);
	return 0;
}

static int join(char *buf, size_t len, const char *mount, const char *rel)
{
	int n = snprintf(buf, len, "%s%s", mount, strcmp(rel, "/") ? rel : "");

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

int tl_cgroup_stat(const char *path, uint64_t *id, int *subdirs)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return -ENOTDIR;
	/* On cgroup2 the inode number is the kernfs id BPF reports. */
	*id = st.st_ino;
	*subdirs = st.st_nlink >= 2 ? (int)(st.st_nlink - 2) : -1;
	return 0;
}

int tl_cgroup_id(const char *mount, const char *rel, uint64_t *id)
{
	char path[4096];
	int subdirs;
	int err;

	err = join(path, sizeof(path), mount, rel);
	return err ? err : tl_cgroup_stat(path, id, &subdirs);
}

int tl_cgroup_level(const char *rel)
{
	int level = 0;

	for (; *rel; rel++)
		if (*rel == '/' && rel[1])
			level++;
	return level;
}

int tl_cgroup_is_under(const char *rel, const char *anc)
{
	size_t n = strlen(anc);

	if (!strcmp(anc, "/"))
		return 1;
	return !strncmp(rel, anc, n) && (rel[n] == '\0' || rel[n] == '/');
}

int tl_cgroup_match(const char *pattern, const char *rel)
{
	size_t n = strlen(pattern);

	// a trailing slash-star-star matches the prefix and all below it
	if (n >= 3 && !strcmp(pattern + n - 3, "/**")) {
		char prefix[4096];

		snprintf(prefix, sizeof(prefix), "%.*s", (int)(n - 3), pattern);
		if (!fnmatch(prefix, rel, FNM_PATHNAME))
			return 1;
		for (const char *p = rel + strlen(rel); p > rel; p--) {
			char head[4096];

			if (*p != '/')
				continue;
			snprintf(head, sizeof(head), "%.*s", (int)(p - rel),
				 rel);
			if (!fnmatch(prefix, head, FNM_PATHNAME))
				return 1;
		}
		return 0;
	}
	return !fnmatch(pattern, rel, FNM_PATHNAME);
}

/* Visits every cgroup directory below mount, as a path relative to it. */
static int walk(const char *mount, int (*visit)(const char *rel, void *ctx),
		void *ctx)
{
	char *roots[] = { (char *)mount, NULL };
	size_t mlen = strlen(mount);
	FTSENT *e;
	FTS *fts;
	int err = 0;

	fts = fts_open(roots, FTS_PHYSICAL | FTS_NOSTAT | FTS_XDEV, NULL);
	if (!fts)
		return -errno;
	while (!err && (e = fts_read(fts))) {
		const char *rel = e->fts_path + mlen;

		if (e->fts_info != FTS_D)
			continue;
		err = visit(*rel ? rel : "/", ctx);
	}
	fts_close(fts);
	return err;
}

struct glob_ctx {
	const char *mount;
	const char *pattern;
	tl_cgroup_fn fn;
	void *ctx;
};

static int glob_visit(const char *rel, void *arg)
{
	struct glob_ctx *g = arg;
	uint64_t id;

	if (!tl_cgroup_match(g->pattern, rel))
		return 0;
	if (tl_cgroup_id(g->mount, rel, &id))
		return 0; /* removed while we walked */
	return g->fn(rel, id, g->ctx);
}

int tl_cgroup_glob(const char *mount, const char *pattern, tl_cgroup_fn fn,
		   void *ctx)
{
	struct glob_ctx g = { mount, pattern, fn, ctx };

	if (!strpbrk(pattern, "*?[")) {
		uint64_t id;

		if (tl_cgroup_id(mount, pattern, &id))
			return 0;
		return fn(pattern, id, ctx);
	}
	return walk(mount, glob_visit, &g);
}
