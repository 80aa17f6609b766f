// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "build_id.h"
#include "log.h"
#include "reuse.h"
#include "socket.skel.h"
#include "cgroup_skb.skel.h"
#include "tc.skel.h"
#include "lsm.skel.h"

#define TL_BUILD_PIN "tl_build"

/* What the loaded programs depended on besides the build. */
#define TL_BUILT_ROUTE_PROOF (1u << 0)
#define TL_BUILT_LSM (1u << 1)

struct tl_prog_record {
	char name[32];
	__u32 id;
	__u32 type;
	__u8 tag[BPF_TAG_SIZE];
};

#define TL_PINNED_MAPS_MAX 48

/* A pinned map the programs were loaded with. */
struct tl_map_record {
	char name[BPF_OBJ_NAME_LEN];
	__u32 id;
};

/* The value of tl_build's one entry. Another shape is another build. */
struct tl_build_record {
	char build_id[40];
	__u32 layout_version;
	__u32 flags;
	__u32 nprogs;
	__u32 nmaps;
	struct tl_prog_record progs[TL_PROGS_MAX];
	struct tl_map_record maps[TL_PINNED_MAPS_MAX];
};

static int open_pinned_maps(struct tl_bpf *b, int *fds, char *names,
			    __u32 *ids, int max);

const char *tl_build_id(void)
{
	return TL_BUILD_ID;
}

/* The objects whose programs the agent uses, the LSM's when it counts. */
static int layer_objects(const struct tl_bpf *b, struct bpf_object **objs,
			 bool lsm)
{
	int n = 0;

	objs[n++] = b->sock->obj;
	objs[n++] = b->skb->obj;
	objs[n++] = b->tc->obj;
	if (lsm && b->lsm)
		objs[n++] = b->lsm->obj;
	return n;
}

static int prog_info(int fd, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

static int prog_pin_path(char *buf, size_t len, const struct tl_bpf *b,
			 const char *name)
{
	char pin[64];

	snprintf(pin, sizeof(pin), "prog_%s", name);
	return tl_pin_path(buf, len, b->pin_dir, pin);
}

/* Pinned as prog_NAME, in place of what an earlier agent pinned there. */
static int pin_prog(const struct tl_bpf *b, const struct tl_prog *p)
{
	char path[PATH_MAX];
	int err = prog_pin_path(path, sizeof(path), b, p->name);

	if (err)
		return err;
	if (unlink(path) && errno != ENOENT)
		return -errno;
	if (bpf_obj_pin(p->fd, path)) {
		err = -errno;
		log_error("pinning %s: %s", path, strerror(-err));
	}
	return err;
}

static int keep_loaded_progs(struct tl_bpf *b)
{
	struct bpf_object *objs[4];
	struct bpf_program *p;
	int n = layer_objects(b, objs, true);

	b->nprogs = 0;
	for (int i = 0; i < n; i++) {
		bpf_object__for_each_program(p, objs[i]) {
			if (bpf_program__fd(p) < 0)
				continue; /* not loaded on this kernel */
			if (b->nprogs == TL_PROGS_MAX)
				return -E2BIG;
			b->progs[b->nprogs].name = bpf_program__name(p);
			b->progs[b->nprogs].fd = dup(bpf_program__fd(p));
			if (b->progs[b->nprogs].fd < 0)
				return -errno;
			b->nprogs++;
		}
	}
	return 0;
}

/* The pinned maps as the programs were just loaded with them: their ids
 * (map ids are never reused while the map lives). */
static int record_maps(struct tl_bpf *b, struct tl_build_record *r)
{
	char names[TL_PINNED_MAPS_MAX * BPF_OBJ_NAME_LEN];
	int fds[TL_PINNED_MAPS_MAX], n;
	__u32 ids[TL_PINNED_MAPS_MAX];

	n = open_pinned_maps(b, fds, names, ids, TL_PINNED_MAPS_MAX);
	if (n < 0)
		return n;
	r->nmaps = n;
	for (int i = 0; i < n; i++) {
		memcpy(r->maps[i].name, names + i * BPF_OBJ_NAME_LEN,
		       BPF_OBJ_NAME_LEN);
		r->maps[i].id = ids[i];
		close(fds[i]);
	}
	return 0;
}

static int fill_record(struct tl_bpf *b, struct tl_build_record *r)
{
	struct bpf_prog_info info;
	int err;

	memset(r, 0, sizeof(*r));
	snprintf(r->build_id, sizeof(r->build_id), "%s", TL_BUILD_ID);
	r->layout_version = TL_LAYOUT_VERSION;
	r->flags = (b->route_proof ? TL_BUILT_ROUTE_PROOF : 0) |
		   (b->lsm ? TL_BUILT_LSM : 0);
	r->nprogs = b->nprogs;
	for (int i = 0; i < b->nprogs; i++) {
		struct tl_prog_record *pr = &r->progs[i];

		err = prog_info(b->progs[i].fd, &info);
		if (err)
			return err;
		snprintf(pr->name, sizeof(pr->name), "%s", b->progs[i].name);
		pr->id = info.id;
		pr->type = info.type;
		memcpy(pr->tag, info.tag, sizeof(pr->tag));
	}
	return record_maps(b, r);
}

/* A frozen map made, filled and pinned aside (bpffs refuses names with a
 * dot), then renamed over the old record: one whole record, or none. */
static int pin_record(const struct tl_bpf *b, const struct tl_build_record *r)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	__u32 zero = 0;
	int fd, err;

	err = tl_pin_path(path, sizeof(path), b->pin_dir, TL_BUILD_PIN);
	if (!err)
		err = tl_pin_path(tmp, sizeof(tmp), b->pin_dir,
				  TL_BUILD_PIN "_new");
	if (err)
		return err;
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, TL_BUILD_PIN, sizeof(zero),
			    sizeof(*r), 1, NULL);
	if (fd < 0)
		return -errno;
	unlink(tmp);
	if (bpf_map_update_elem(fd, &zero, r, BPF_ANY) || bpf_map_freeze(fd) ||
	    bpf_obj_pin(fd, tmp) || rename(tmp, path))
		err = -errno;
	close(fd);
	if (err)
		unlink(tmp);
	return err;
}

int tl_reuse_record(struct tl_bpf *b)
{
	struct tl_build_record *r;
	char path[PATH_MAX];
	int err;

	/* the old record goes first: it must never name programs whose
	 * pins were replaced */
	if (!tl_pin_path(path, sizeof(path), b->pin_dir, TL_BUILD_PIN) &&
	    unlink(path) && errno != ENOENT)
		log_warn("removing %s: %s", path, strerror(errno));
	err = keep_loaded_progs(b);
	if (err)
		return err;
	/* the programs are loaded and usable: failing to record them
	 * costs the next start a fresh load, nothing more */
	for (int i = 0; !err && i < b->nprogs; i++)
		err = pin_prog(b, &b->progs[i]);
	r = err ? NULL : malloc(sizeof(*r));
	if (!err && !r)
		err = -ENOMEM;
	if (!err)
		err = fill_record(b, r);
	if (!err)
		err = pin_record(b, r);
	free(r);
	if (err)
		log_error("recording the build in %s: %s (the next start "
			  "loads the programs afresh)",
			  b->pin_dir, strerror(-err));
	return 0;
}

/* ---- adopting */

/* tl_build as this agent would have made it: an array of one record that
 * no one can write (frozen). Returns 1 when it is not. */
static int read_record(const struct tl_bpf *b, struct tl_build_record *r)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	char path[PATH_MAX];
	int fd, ret = 1;

	if (tl_pin_path(path, sizeof(path), b->pin_dir, TL_BUILD_PIN))
		return 1;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		log_info("no build record in %s (pins of an older tunlock, "
			 "or of `stop`ped state): loading the programs",
			 b->pin_dir);
		return 1;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len) ||
	    info.type != BPF_MAP_TYPE_ARRAY || info.key_size != 4 ||
	    info.value_size != sizeof(*r) || info.max_entries != 1) {
		log_info("the build record in %s is another tunlock's: "
			 "loading the programs",
			 b->pin_dir);
	} else if (bpf_map_lookup_elem(fd, &zero, r)) {
		log_warn("reading %s: %s: loading the programs", path,
			 strerror(errno));
	} else if (!bpf_map_update_elem(fd, &zero, r, BPF_ANY) ||
		   errno != EPERM) {
		/* frozen maps refuse every write with EPERM */
		log_warn("the build record in %s is writable: not made by "
			 "tunlock; loading the programs",
			 b->pin_dir);
	} else {
		ret = 0;
	}
	close(fd);
	return ret;
}

static const struct tl_prog_record *
recorded(const struct tl_build_record *r, const char *name)
{
	for (__u32 i = 0; i < r->nprogs && i < TL_PROGS_MAX; i++)
		if (!strncmp(r->progs[i].name, name, sizeof(r->progs[i].name)))
			return &r->progs[i];
	return NULL;
}

/* Pinned prog_NAME is the recorded program: same id, type and tag. */
static int open_recorded(const struct tl_bpf *b,
			 const struct tl_prog_record *pr, struct bpf_program *p)
{
	struct bpf_prog_info info;
	char path[PATH_MAX];
	const char *why = NULL;
	int fd;

	if (prog_pin_path(path, sizeof(path), b, pr->name))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		why = "missing";
	else if (prog_info(fd, &info))
		why = "unreadable";
	else if (info.id != pr->id || info.type != pr->type ||
		 info.type != (__u32)bpf_program__type(p) ||
		 memcmp(info.tag, pr->tag, sizeof(pr->tag)))
		why = "not the program recorded (replaced?)";
	if (!why)
		return fd;
	log_warn("pinned program %s is %s: loading the programs afresh",
		 path, why);
	if (fd >= 0)
		close(fd);
	return -ESTALE;
}

/* Every program this kernel needs, from its pin; 1 when one is amiss. */
static int open_progs(struct tl_bpf *b, const struct tl_build_record *r)
{
	struct bpf_object *objs[4];
	struct bpf_program *p;
	int n = layer_objects(b, objs, r->flags & TL_BUILT_LSM), fd;

	b->nprogs = 0;
	for (int i = 0; i < n; i++) {
		bpf_object__for_each_program(p, objs[i]) {
			const char *name = bpf_program__name(p);
			const struct tl_prog_record *pr = recorded(r, name);

			if (!bpf_program__autoload(p))
				continue;
			if (!pr || b->nprogs == TL_PROGS_MAX) {
				log_warn("program %s is not in the build "
					 "record: loading the programs",
					 name);
				return 1;
			}
			fd = open_recorded(b, pr, p);
			if (fd < 0)
				return 1;
			b->progs[b->nprogs++] = (struct tl_prog){ name, fd };
		}
	}
	if ((__u32)b->nprogs != r->nprogs) {
		log_warn("the build record names %u programs, this kernel "
			 "needs %d: loading the programs",
			 r->nprogs, b->nprogs);
		return 1;
	}
	return 0;
}

static int map_name_id(int fd, char *name, __u32 *id)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	snprintf(name, BPF_OBJ_NAME_LEN, "%s", info.name);
	*id = info.id;
	return 0;
}

/*
 * Every pinned map is the one the recorded programs were loaded with (same
 * name and id): the agent writes what the programs read, and a pin
 * renamed over another map's (same shape) is seen. Returns 1 when not.
 */
static int check_maps(const struct tl_build_record *r, const char *names,
		      const __u32 *ids, int n)
{
	if ((__u32)n != r->nmaps) {
		log_warn("%d maps are pinned, the build record names %u: "
			 "loading the programs",
			 n, r->nmaps);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = names + i * BPF_OBJ_NAME_LEN;

		if (i < TL_PINNED_MAPS_MAX && r->maps[i].id == ids[i] &&
		    !strncmp(r->maps[i].name, name, BPF_OBJ_NAME_LEN))
			continue;
		log_warn("pinned map %s (id %u) is not the map the programs "
			 "were loaded with: loading the programs",
			 name, ids[i]);
		return 1;
	}
	return 0;
}

/* The pinned maps of the tc object (it declares them all), for the
 * programs' check and then for the agent's use. */
static int open_pinned_maps(struct tl_bpf *b, int *fds, char *names,
			    __u32 *ids, int max)
{
	struct bpf_map *m;
	int n = 0, fd;

	bpf_object__for_each_map(m, b->tc->obj) {
		const char *path = bpf_map__pin_path(m);

		if (!path)
			continue;
		if (n == max)
			return -E2BIG;
		fd = bpf_obj_get(path);
		if (fd < 0) {
			log_warn("pinned map %s is missing: loading the "
				 "programs",
				 path);
			return -ENOENT;
		}
		fds[n] = fd;
		if (map_name_id(fd, names + n * BPF_OBJ_NAME_LEN, &ids[n]))
			return -EIO;
		n++;
	}
	return n;
}

static void close_progs(struct tl_bpf *b)
{
	for (int i = 0; i < b->nprogs; i++)
		close(b->progs[i].fd);
	b->nprogs = 0;
}

/* The pinned maps become the objects' (tl_bpf_map_fd, tl_inbound). */
static int reuse_maps(struct tl_bpf *b, const int *fds, int n)
{
	struct bpf_map *m;
	int i = 0;

	bpf_object__for_each_map(m, b->tc->obj) {
		if (!bpf_map__pin_path(m))
			continue;
		if (i >= n || bpf_map__reuse_fd(m, fds[i++]))
			return -EIO;
	}
	return 0;
}

static int adopt_checked(struct tl_bpf *b, const struct tl_build_record *r)
{
	enum { MAX_PINS = TL_PINNED_MAPS_MAX };
	char names[MAX_PINS * BPF_OBJ_NAME_LEN];
	int fds[MAX_PINS], n, ret = 1;
	__u32 ids[MAX_PINS];

	n = open_pinned_maps(b, fds, names, ids, MAX_PINS);
	if (n >= 0 && !check_maps(r, names, ids, n) && !open_progs(b, r)) {
		ret = 0;
		if (reuse_maps(b, fds, n))
			ret = 1;
	}
	for (int i = 0; i < n; i++)
		close(fds[i]); /* reuse_fd keeps a dup */
	if (ret)
		close_progs(b);
	return ret;
}

int tl_reuse_adopt(struct tl_bpf *b)
{
	struct tl_build_record *r = malloc(sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = read_record(b, r);
	if (!ret && (strncmp(r->build_id, TL_BUILD_ID, sizeof(r->build_id)) ||
		     r->layout_version != TL_LAYOUT_VERSION)) {
		log_info("the pinned programs are another build's (%.16s, "
			 "this is %.16s): loading the programs",
			 r->build_id, TL_BUILD_ID);
		ret = 1;
	}
	if (!ret && (r->flags & TL_BUILT_LSM) && !b->lsm) {
		log_info("the pinned programs include the LSM layer, which "
			 "this agent did not open: loading the programs");
		ret = 1;
	}
	if (!ret) {
		tl_bpf_choose_tc(b, r->flags & TL_BUILT_ROUTE_PROOF);
		ret = adopt_checked(b, r);
	}
	if (!ret && !(r->flags & TL_BUILT_LSM))
		tl_bpf_drop_lsm(b); /* it did not load for the first agent */
	free(r);
	b->reused = !ret;
	return ret;
}
