// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "apply.h"
#include "cgindex.h"
#include "cgroup.h"
#include "cgwatch.h"
#include "log.h"

#define WATCH_MASK                                                             \
	(IN_CREATE | IN_MOVED_TO | IN_DELETE | IN_MODIFY | IN_ONLYDIR |        \
	 IN_DONT_FOLLOW)

/*
 * The watched directories, sorted by watch descriptor: the kernel hands
 * them out in increasing order, so a new one goes at the end (10,000
 * cgroups looked up one by one were 50 million comparisons).
 */
static size_t wd_slot(const struct tl_cgwatch *w, int wd)
{
	size_t lo = 0, hi = w->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (w->v[mid].wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct tl_cgwatch_dir *find_wd(struct tl_cgwatch *w, int wd)
{
	size_t i = wd_slot(w, wd);

	return i < w->n && w->v[i].wd == wd ? &w->v[i] : NULL;
}

static int remember(struct tl_cgwatch *w, int wd, uint64_t id, const char *rel)
{
	struct tl_cgwatch_dir *d = find_wd(w, wd);
	int err = tl_cgindex_put(id, rel);
	size_t at;

	if (err)
		return err;
	if (d && d->id != id)
		tl_cgindex_drop(d->id);
	if (!d) {
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 64;
			struct tl_cgwatch_dir *v =
			    realloc(w->v, cap * sizeof(*v));

			if (!v)
				return -ENOMEM;
			w->v = v;
			w->cap = cap;
		}
		at = wd_slot(w, wd); /* the end, but after a wrap */
		memmove(&w->v[at + 1], &w->v[at], (w->n - at) * sizeof(*w->v));
		w->n++;
		d = &w->v[at];
	}
	d->wd = wd;
	d->id = id;
	return 0;
}

static void forget(struct tl_cgwatch *w, struct tl_cgwatch_dir *d)
{
	size_t at = d - w->v;

	tl_cgindex_drop(d->id);
	memmove(d, d + 1, (--w->n - at) * sizeof(*d));
}

/* The path of a watched cgroup, from the index. */
static const char *dir_rel(const struct tl_cgwatch_dir *d)
{
	const char *rel = tl_cgindex_path(d->id);

	return rel ? rel : "";
}

static int set_frozen(struct tl_cgwatch *w, const char *rel, bool frozen)
{
	char path[4096];
	FILE *f;
	int err = 0;

	snprintf(path, sizeof(path), "%s%s/cgroup.freeze", w->mount, rel);
	f = fopen(path, "w");
	if (!f)
		return -errno;
	if (fputs(frozen ? "1" : "0", f) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/*
 * A cgroup whose entry cannot be written (the table is full): the nearest
 * ancestor's entry would judge it, and that may be looser than its own
 * rule. Fail closed: it is frozen (its processes do not run, so send
 * nothing) until tl_cgwatch_retry writes its entry.
 */
static void hold(struct tl_cgwatch *w, const char *rel, uint64_t id, int err)
{
	struct tl_cgwatch_held *h;
	int ferr;

	for (size_t i = 0; i < w->nheld; i++)
		if (w->held[i].id == id)
			return;
	w->table_full++;
	ferr = set_frozen(w, rel, true);
	log_error("cgroup %s: its entry cannot be written (%s: the cgroup "
		  "table is full): %s until there is room (fail closed; "
		  "`tunlock status`)",
		  rel, strerror(-err),
		  ferr ? "and it cannot be frozen either" : "frozen");
	if (w->nheld == w->heldcap) {
		size_t cap = w->heldcap ? w->heldcap * 2 : 16;

		h = realloc(w->held, cap * sizeof(*h));
		if (!h)
			return; /* frozen all the same, until a reload */
		w->held = h;
		w->heldcap = cap;
	}
	h = &w->held[w->nheld];
	h->rel = strdup(rel);
	if (!h->rel)
		return;
	h->id = id;
	h->frozen = !ferr;
	w->nheld++;
}

void tl_cgwatch_retry(struct tl_cgwatch *w)
{
	for (size_t i = 0; i < w->nheld;) {
		struct tl_cgwatch_held *h = &w->held[i];
		uint64_t id;
		int r = 0;

		if (!tl_cgroup_id(w->mount, h->rel, &id) && id == h->id)
			r = tl_apply_cgroup(w->bpf, w->policy, h->rel, id);
		if (r < 0) {
			i++;
			continue;
		}
		/* written, or gone */
		r = h->frozen ? set_frozen(w, h->rel, false) : 0;
		if (r && r != -ENOENT)
			log_error("cgroup %s: thawing: %s", h->rel,
				  strerror(-r));
		else if (!r)
			log_info("cgroup %s: its entry is live now: thawed",
				 h->rel);
		free(h->rel);
		*h = w->held[--w->nheld];
	}
}

static void apply_new(struct tl_cgwatch *w, const char *rel, uint64_t id)
{
	int r = tl_apply_cgroup(w->bpf, w->policy, rel, id);

	if (r > 0) {
		w->added++;
		log_info("cgroup %s appeared: its policy entry is live", rel);
	} else if (r == -E2BIG) {
		hold(w, rel, id, r);
	} else if (r < 0) {
		log_error("cgroup %s: writing its policy entry: %s", rel,
			  strerror(-r));
	}
}

/*
 * A cgroup to follow: its entry (when a rule names it), a watch, then its
 * subdirectories, which may have appeared before the watch did. Bounded
 * by TL_CGWATCH_MAX watches and the tree's depth.
 */
static void follow(struct tl_cgwatch *w, const char *rel, int depth, bool apply)
{
	char path[4096], sub[4096];
	bool full = w->n >= TL_CGWATCH_MAX;
	struct dirent *e;
	int wd, subdirs;
	uint64_t id;
	DIR *dir;

	snprintf(path, sizeof(path), "%s%s", w->mount,
		 strcmp(rel, "/") ? rel : "");
	if (depth > 64)
		return;
	wd = full ? -1 : inotify_add_watch(w->fd, path, WATCH_MASK);
	w->missed |= !full && wd < 0;
	/* after the watch: a subdirectory made since is an event */
	if (tl_cgroup_stat(path, &id, &subdirs)) {
		if (wd >= 0) /* gone meanwhile, or not a directory */
			inotify_rm_watch(w->fd, wd);
		return;
	}
	if (apply)
		apply_new(w, rel, id);
	if (full) {
		if (!w->full)
			log_warn(
			    "watching %d cgroups already: cgroups below %s "
			    "get their ancestor's profile until a reload",
			    TL_CGWATCH_MAX, rel);
		w->full = true;
		return;
	}
	if (wd < 0)
		return;
	/* a subtree left unwatched: a reload watches the tree afresh */
	if (remember(w, wd, id, rel)) {
		w->missed = true;
		return;
	}
	/* a leaf is not read: a cgroup's directory holds dozens of files */
	if (!subdirs)
		return;
	dir = opendir(path);
	if (!dir) {
		w->missed = true;
		return;
	}
	while ((e = readdir(dir))) {
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s",
			     strcmp(rel, "/") ? rel : "",
			     e->d_name) < (int)sizeof(sub))
			follow(w, sub, depth + 1, apply);
	}
	closedir(dir);
}

static void on_event(struct tl_cgwatch *w, const struct inotify_event *ev)
{
	struct tl_cgwatch_dir *d = find_wd(w, ev->wd);
	char rel[4096];

	if (ev->mask & IN_IGNORED) {
		if (d)
			forget(w, d); /* the cgroup is gone */
		return;
	}
	if (!d || !ev->len || !*dir_rel(d))
		return;
	if ((ev->mask & IN_MODIFY) && !strcmp(ev->name, "cgroup.events")) {
		w->populated = true;
		return;
	}
	if (!(ev->mask & IN_ISDIR))
		return;
	snprintf(rel, sizeof(rel), "%s/%s",
		 strcmp(dir_rel(d), "/") ? dir_rel(d) : "", ev->name);
	if (ev->mask & (IN_CREATE | IN_MOVED_TO)) {
		follow(w, rel, 0, true);
		w->populated = true;
	}
	if (ev->mask & IN_DELETE) {
		uint64_t id = tl_cgindex_id(rel);

		if (id) {
			tl_apply_cgroup_gone(w->bpf, id);
			w->room = true; /* for a held cgroup's entry */
		}
	}
}

static void unwatch_all(struct tl_cgwatch *w);

/*
 * Events were lost: cgroups may have appeared (and gone) unseen. Every
 * cgroup below the attach cgroup is looked at again, its entry written as
 * if it had just appeared, and entries of cgroups that are gone are
 * dropped (their room is needed).
 */
static void rescan(struct tl_cgwatch *w)
{
	int swept;

	w->rescans++;
	log_warn("cgroup events were lost (inotify queue overflow): "
		 "rescanning the cgroups below %s",
		 w->policy->attach_cgroup);
	unwatch_all(w);
	follow(w, w->policy->attach_cgroup, 0, true);
	swept = tl_apply_cgroup_sweep(w->bpf, w->mount);
	if (swept > 0)
		log_info("dropped the entries of %d cgroups that are gone",
			 swept);
}

static void after_events(struct tl_cgwatch *w)
{
	if (w->overflow) {
		w->overflow = false;
		rescan(w);
	}
	if (w->room && w->nheld) {
		w->room = false;
		tl_cgwatch_retry(w);
	}
}

int tl_cgwatch_handle(struct tl_cgwatch *w)
{
	char buf[16384] __attribute__((aligned(8)));
	ssize_t n = 0;
	int rounds, err = 0;

	for (rounds = 0; rounds < 64; rounds++) {
		n = read(w->fd, buf, sizeof(buf));
		if (n <= 0) {
			err = n < 0 && errno != EAGAIN ? -errno : 0;
			break;
		}
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (void *)p;

			if (ev->mask & IN_Q_OVERFLOW)
				w->overflow = true;
			else
				on_event(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
	after_events(w);
	return err;
}

static void unwatch_all(struct tl_cgwatch *w)
{
	for (size_t i = 0; i < w->n; i++) {
		inotify_rm_watch(w->fd, w->v[i].wd);
		tl_cgindex_drop(w->v[i].id);
	}
	w->n = 0;
	w->full = w->missed = false;
}

void tl_cgwatch_close(struct tl_cgwatch *w)
{
	if (w->fd >= 0) {
		unwatch_all(w);
		close(w->fd);
	}
	/* frozen cgroups stay frozen: their entries are still missing */
	for (size_t i = 0; i < w->nheld; i++)
		free(w->held[i].rel);
	free(w->held);
	free(w->v);
	memset(w, 0, sizeof(*w));
	w->fd = -1;
}

/*
 * After a reload applied p. Under the same attach cgroup the watches stay:
 * a cgroup made while the reload applied is an event still queued, which
 * gets p's entry when handled (watched afresh, it was in neither the
 * table nor the queue). Another attach cgroup, or a tree not wholly
 * watched (the limit, a watch refused), is watched from scratch; the full
 * build has just written the entries of every cgroup there is.
 */
void tl_cgwatch_reset(struct tl_cgwatch *w, const struct tl_policy *p)
{
	w->policy = p;
	if (w->n && !w->full && !w->missed &&
	    !strcmp(w->root, p->attach_cgroup))
		return;
	unwatch_all(w);
	snprintf(w->root, sizeof(w->root), "%s", p->attach_cgroup);
	follow(w, p->attach_cgroup, 0, false);
}

int tl_cgwatch_open(struct tl_cgwatch *w, struct tl_bpf *b,
		    const struct tl_policy *p, const char *mount)
{
	memset(w, 0, sizeof(*w));
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0)
		return -errno;
	w->mount = mount;
	w->bpf = b;
	tl_cgwatch_reset(w, p);
	return 0;
}
