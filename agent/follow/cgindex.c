// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cgindex.h"
#include "log.h"

#ifndef FILEID_KERNFS
#define FILEID_KERNFS 0xfe /* cgroup2 ids are kernfs handles */
#endif
#define MIN_SLOTS 2048 /* a power of two, above twice TL_CGINDEX_CACHED */

/* Open addressing, linear probing; id 0 (no cgroup has it) is a free slot. */
struct slot {
	uint64_t id;
	char *rel;    /* NULL: gone, or not resolvable */
	bool watched; /* put by the watch, else an answer kept */
};

static struct {
	struct slot *v;
	size_t cap, n, cached;
} idx;
static int mount_fd = -1;
static bool said_handles;
static uint64_t resolved, misses;

static size_t home(uint64_t id, size_t cap)
{
	return tl_cgroup_id_home(id, cap);
}

static struct slot *find(uint64_t id)
{
	for (size_t i = 0, s = idx.cap ? home(id, idx.cap) : 0; i < idx.cap;
	     i++, s = (s + 1) & (idx.cap - 1)) {
		if (idx.v[s].id == id)
			return &idx.v[s];
		if (!idx.v[s].id)
			return NULL;
	}
	return NULL;
}

/* Into a table with room (the load stays under a half). */
static struct slot *place(struct slot *v, size_t cap, uint64_t id)
{
	size_t s = home(id, cap);

	while (v[s].id)
		s = (s + 1) & (cap - 1);
	return &v[s];
}

/* A table of cap slots with the watched entries, and the kept answers
 * unless keep_cached is false (their bound was reached). */
static int rebuild(size_t cap, bool keep_cached)
{
	struct slot *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	idx.n = idx.cached = 0;
	for (size_t i = 0; i < idx.cap; i++) {
		struct slot *o = &idx.v[i];

		if (!o->id)
			continue;
		if (!o->watched && !keep_cached) {
			free(o->rel);
			continue;
		}
		*place(v, cap, o->id) = *o;
		idx.n++;
		idx.cached += !o->watched;
	}
	free(idx.v);
	idx.v = v;
	idx.cap = cap;
	return 0;
}

static struct slot *insert(uint64_t id, bool watched)
{
	struct slot *s = find(id);

	if (!s && !watched && idx.cached >= TL_CGINDEX_CACHED &&
	    rebuild(idx.cap, false))
		return NULL;
	if (!s && (idx.n + 1) * 2 > idx.cap &&
	    rebuild(idx.cap ? idx.cap * 2 : MIN_SLOTS, true))
		return NULL;
	if (!s) {
		s = place(idx.v, idx.cap, id);
		s->id = id;
		idx.n++;
	} else if (!s->watched) {
		idx.cached--;
	}
	free(s->rel);
	s->rel = NULL;
	s->watched = watched;
	idx.cached += !watched;
	return s;
}

int tl_cgindex_put(uint64_t id, const char *rel)
{
	char *copy = strdup(rel);
	struct slot *s = copy ? insert(id, true) : NULL;

	if (!s) {
		free(copy);
		return -ENOMEM;
	}
	s->rel = copy;
	return 0;
}

/* Backward shift: the entries after s move up so that probes still
 * find them. */
void tl_cgindex_drop(uint64_t id)
{
	struct slot *s = find(id);
	size_t hole, i;

	if (!s)
		return;
	free(s->rel);
	idx.cached -= !s->watched;
	idx.n--;
	hole = s - idx.v;
	idx.v[hole] = (struct slot){0};
	for (i = (hole + 1) & (idx.cap - 1); idx.v[i].id;
	     i = (i + 1) & (idx.cap - 1)) {
		size_t h = home(idx.v[i].id, idx.cap);

		/* i may move into hole when h is not in (hole, i] */
		if ((i > hole && (h <= hole || h > i)) ||
		    (i < hole && h <= hole && h > i)) {
			idx.v[hole] = idx.v[i];
			idx.v[i] = (struct slot){0};
			hole = i;
		}
	}
}

void tl_cgindex_clear(void)
{
	for (size_t i = 0; i < idx.cap; i++)
		free(idx.v[i].rel);
	free(idx.v);
	memset(&idx, 0, sizeof(idx));
}

uint64_t tl_cgindex_id(const char *rel)
{
	for (size_t i = 0; i < idx.cap; i++)
		if (idx.v[i].id && idx.v[i].watched && !strcmp(idx.v[i].rel, rel))
			return idx.v[i].id;
	return 0;
}

const char *tl_cgindex_path(uint64_t id)
{
	struct slot *s = id ? find(id) : NULL;

	return s ? s->rel : NULL;
}

void tl_cgroup_path_stats(uint64_t *ok, uint64_t *unknown)
{
	*ok = resolved;
	*unknown = misses;
}

/* The path of id from the kernel (needs CAP_DAC_READ_SEARCH). */
static char *by_handle(const char *mount, uint64_t id)
{
	struct {
		struct file_handle fh;
		uint64_t id;
	} h = {.fh = {.handle_bytes = sizeof(uint64_t),
		      .handle_type = FILEID_KERNFS}};
	char link[64], path[4096];
	size_t mlen = strlen(mount);
	ssize_t n;
	int fd;

	memcpy(h.fh.f_handle, &id, sizeof(id));
	if (mount_fd < 0)
		mount_fd = open(mount, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mount_fd < 0)
		return NULL;
	fd = open_by_handle_at(mount_fd, &h.fh, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		int err = errno;

		if (err != ESTALE && err != ENOENT && !said_handles) {
			said_handles = true;
			log_warn("cgroup paths of events come from the cgroup "
				 "watch only: resolving cgroup ids by handle: "
				 "%s (needs CAP_DAC_READ_SEARCH)",
				 strerror(err));
		}
		errno = err;
		return NULL;
	}
	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	n = readlink(link, path, sizeof(path) - 1);
	close(fd);
	if (n <= 0 || (size_t)n < mlen || strncmp(path, mount, mlen)) {
		errno = EXDEV; /* not below the mount we know */
		return NULL;
	}
	path[n] = '\0';
	return strdup(path[mlen] ? path + mlen : "/");
}

int tl_cgroup_exists(const char *mount, uint64_t id)
{
	char *rel = by_handle(mount, id);

	if (rel) {
		free(rel);
		return 1;
	}
	return errno == ESTALE || errno == ENOENT ? 0 : -errno;
}

const char *tl_cgroup_path(const char *mount, uint64_t id)
{
	struct slot *s;
	char *rel;

	if (!id)
		return NULL;
	s = find(id);
	if (!s) {
		rel = by_handle(mount, id);
		s = insert(id, false);
		if (s)
			s->rel = rel;
		else
			free(rel); /* no memory: a miss, asked again later */
	}
	if (s && s->rel)
		resolved++;
	else
		misses++;
	return s ? s->rel : NULL;
}
