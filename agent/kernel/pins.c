// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <linux/magic.h>

#include "tunlock.h"
#include "log.h"
#include "netns.h"
#include "kfeatures.h"
#include "jobs.h"
#include "pins.h"
#include "reuse.h"
#include "socket.skel.h"
#include "cgroup_skb.skel.h"
#include "tc.skel.h"
#include "lsm.skel.h"

const char *const tl_map_names[TL_MAP_COUNT] = {
	[TL_MAP_STATE] = "tl_state",	     [TL_MAP_SETTINGS] = "tl_settings",
	[TL_MAP_CGROUPS] = "tl_cgroups",     [TL_MAP_ALLOW] = "tl_allow",
	[TL_MAP_ENDPOINTS] = "tl_endpoints", [TL_MAP_IFACES] = "tl_ifaces",
	[TL_MAP_TUNNELS] = "tl_tunnels",     [TL_MAP_SUMMARY] = "tl_summary",
	[TL_MAP_COUNTERS] = "tl_counters",   [TL_MAP_EVENTS] = "tl_events",
	[TL_MAP_EVENT_RATE] = "tl_event_rate",
	[TL_MAP_EVENT_STATS] = "tl_event_stats",
	[TL_MAP_PORTS] = "tl_ports",	     [TL_MAP_NSIFS] = "tl_nsifs",
	[TL_MAP_GENERATION] = "tl_generation",
	[TL_MAP_ALLOW_EXACT] = "tl_allow_exact",
	[TL_MAP_IFACE_SLOTS] = "tl_iface_slots",
};

/* In attach order: what undoes a DNS redirect is in place before anything
 * redirects, and attribution before the packet layer that uses it. */
const char *const tl_cgroup_progs[] = {
	"tl_recvmsg4",	   "tl_recvmsg6",  "tl_getpeername4",
	"tl_getpeername6", "tl_connect4",  "tl_connect6",
	"tl_sendmsg4",	   "tl_sendmsg6",  "tl_sock_create",
	"tl_cgroup_skb_egress",
};
const int tl_cgroup_prog_count =
	sizeof(tl_cgroup_progs) / sizeof(tl_cgroup_progs[0]);
const char *const tl_lsm_prog = "tl_socket_create";

int tl_pin_path(char *buf, size_t len, const char *pin_dir, const char *name)
{
	int n = snprintf(buf, len, "%s/%s", pin_dir, name);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* The directory pin_dir is in; -EINVAL when it has none but "/". */
static int pin_parent(const char *pin_dir, char parent[PATH_MAX])
{
	char *slash;

	snprintf(parent, PATH_MAX, "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (!slash || slash == parent)
		return -EINVAL;
	*slash = '\0';
	return 0;
}

int tl_pins_prepare(const char *pin_dir)
{
	char parent[PATH_MAX];

	if (pin_parent(pin_dir, parent)) {
		log_error("pin directory %s must be inside a bpffs mount",
			  pin_dir);
		return -EINVAL;
	}
	if (!is_bpffs(parent)) {
		if (strcmp(parent, "/sys/fs/bpf")) {
			log_error("%s is not a bpffs mount", parent);
			return -EINVAL;
		}
		if (mount("bpf", parent, "bpf", 0, "mode=0700")) {
			log_error("mounting bpffs at %s: %s", parent,
				  strerror(errno));
			return -errno;
		}
		log_info("mounted bpffs at %s", parent);
	}
	if (!mkdir(pin_dir, 0700)) {
		/* ours: whatever the umask made of it */
		if (chmod(pin_dir, 0700)) {
			log_error("chmod 0700 %s: %s", pin_dir, strerror(errno));
			return -errno;
		}
	} else if (errno != EEXIST) {
		log_error("creating %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	return tl_pins_check_dir(pin_dir);
}

/*
 * Whoever made the pin directory can remove what is pinned in it: where
 * bpffs is world-writable (mode 1777, as many distributions mount it), an
 * unprivileged user could make it first and later unlink the link pins.
 * Only a real directory of root's, mode 0700, below a parent that no one
 * else may rename it in, is used.
 */
int tl_pins_check_dir(const char *pin_dir)
{
	char parent[PATH_MAX];
	struct stat st;
	char *slash;

	if (lstat(pin_dir, &st)) {
		int err = -errno;

		log_error("pin directory %s: %s", pin_dir, strerror(-err));
		return err;
	}
	if (S_ISLNK(st.st_mode)) {
		log_error("pin directory %s is a symbolic link: refused (whoever "
			  "made it controls the pins); remove it, or give "
			  "--pin-dir a real directory",
			  pin_dir);
		return -ELOOP;
	}
	if (!S_ISDIR(st.st_mode)) {
		log_error("pin directory %s is not a directory: refused", pin_dir);
		return -ENOTDIR;
	}
	if (st.st_uid != 0) {
		log_error("pin directory %s is owned by uid %u, not root: refused "
			  "(its owner can remove the pins and so the "
			  "enforcement); remove it (rm -r %s) and start again",
			  pin_dir, (unsigned int)st.st_uid, pin_dir);
		return -EPERM;
	}
	if ((st.st_mode & 07777) != 0700) {
		log_error("pin directory %s has mode %04o, not 0700: refused "
			  "(others could change the pins); remove it, or chmod "
			  "0700 it if it is tunlock's",
			  pin_dir, (unsigned int)(st.st_mode & 07777));
		return -EPERM;
	}
	snprintf(parent, sizeof(parent), "%s", pin_dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent)
		*slash = '\0';
	else
		snprintf(parent, sizeof(parent), "/");
	if (stat(parent, &st)) {
		int err = -errno;

		log_error("%s: %s", parent, strerror(-err));
		return err;
	}
	if (st.st_uid != 0 ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		log_error("%s (the pin directory's parent) is %s: refused (others "
			  "could replace %s)",
			  parent,
			  st.st_uid ? "not owned by root" :
				      "writable by others without the sticky bit",
			  pin_dir);
		return -EPERM;
	}
	return 0;
}

bool tl_pins_exist(const char *pin_dir)
{
	char path[PATH_MAX];

	return !tl_pin_path(path, sizeof(path), pin_dir, "tl_state") &&
	       !access(path, F_OK);
}

int tl_counter_read(int counters_fd, __u32 idx, __u64 *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	__u64 *vals;

	if (ncpu <= 0)
		return -EINVAL;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	if (bpf_map_lookup_elem(counters_fd, &idx, vals)) {
		free(vals);
		return -errno;
	}
	*sum = 0;
	for (int i = 0; i < ncpu; i++)
		*sum += vals[i];
	free(vals);
	return 0;
}

int tl_pins_open_map(const char *pin_dir, enum tl_map_id id)
{
	char path[PATH_MAX];
	int fd;

	if (tl_pin_path(path, sizeof(path), pin_dir, tl_map_names[id]))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	return fd < 0 ? -errno : fd;
}

static int map_info(int fd, struct bpf_map_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

int tl_pins_read_state(const char *pin_dir, struct tl_state *st)
{
	int fd = tl_pins_open_map(pin_dir, TL_MAP_STATE), err;
	struct bpf_map_info info;
	__u32 zero = 0;

	if (fd < 0)
		return fd;
	err = map_info(fd, &info);
	if (!err && info.value_size != sizeof(*st))
		err = -EPROTO; /* another layout: do not read past st */
	if (!err && bpf_map_lookup_elem(fd, &zero, st))
		err = -errno;
	close(fd);
	if (!err && !tl_layout_known(st))
		err = -EPROTO;
	return err;
}

bool tl_layout_known(const struct tl_state *st)
{
	return !st->layout_version || st->layout_version == TL_LAYOUT_VERSION;
}

void tl_layout_refused(const char *pin_dir, unsigned int layout)
{
	log_error("the pinned state in %s has layout %u; this tunlock "
		  "knows layout %d. Nothing was changed; remove the "
		  "pins with that version's `tunlock stop` (or "
		  "`tunlock stop --pin-dir %s`), then start again",
		  pin_dir, layout, TL_LAYOUT_VERSION, pin_dir);
}

/* A process that is a tunlock: not a recycled pid of something else. */
bool tl_agent_alive(unsigned int pid)
{
	char path[64], comm[32] = "";
	FILE *f;

	if (!pid)
		return false;
	snprintf(path, sizeof(path), "/proc/%u/comm", pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	return !strncmp(comm, "tunlock", 7);
}

unsigned int tl_pins_agent(const char *pin_dir)
{
	struct tl_state st;

	if (tl_pins_read_state(pin_dir, &st) ||
	    st.agent_pid == (unsigned int)getpid())
		return 0;
	return tl_agent_alive(st.agent_pid) ? st.agent_pid : 0;
}

/*
 * Pins that this build cannot use: a map whose definition differs, or a
 * state of another layout version. Said here, before anything is loaded
 * or replaced, so that nothing of the running enforcement changes.
 */
static int check_pinned_layout(struct tl_bpf *b)
{
	struct bpf_map_info info;
	struct tl_state st;
	struct bpf_map *m;
	const char *path;
	int fd, err;

	bpf_object__for_each_map(m, b->tc->obj) {
		path = bpf_map__pin_path(m);
		if (!path || access(path, F_OK))
			continue;
		fd = bpf_obj_get(path);
		if (fd < 0)
			return -errno;
		err = map_info(fd, &info);
		close(fd);
		if (err)
			return err;
		if (info.type == bpf_map__type(m) &&
		    info.key_size == bpf_map__key_size(m) &&
		    info.value_size == bpf_map__value_size(m) &&
		    info.max_entries == bpf_map__max_entries(m))
			continue;
		log_error("pinned map %s is not what this tunlock (layout %d) "
			  "knows: type %u, key %u, value %u bytes, %u entries; "
			  "expected type %u, key %u, value %u bytes, %u "
			  "entries. These pins are another tunlock version's: "
			  "nothing was changed; remove them with that "
			  "version's `tunlock stop`, or `tunlock stop "
			  "--pin-dir %s`, then start again",
			  bpf_map__name(m), TL_LAYOUT_VERSION, info.type,
			  info.key_size, info.value_size, info.max_entries,
			  bpf_map__type(m), bpf_map__key_size(m),
			  bpf_map__value_size(m), bpf_map__max_entries(m),
			  b->pin_dir);
		return -EPROTO;
	}
	err = tl_pins_read_state(b->pin_dir, &st);
	if (err == -EPROTO) {
		tl_layout_refused(b->pin_dir, st.layout_version);
		return err;
	}
	return 0;
}

/* Opens one layer's object with its maps pinned by name in pin_dir. */
#define OPEN_LAYER(skel_type, field, b)                                         \
	({                                                                      \
		LIBBPF_OPTS(bpf_object_open_opts, o,                            \
			    .pin_root_path = (b)->pin_dir);                     \
		(b)->field = skel_type##__open_opts(&o);                        \
		(b)->field ? 0 : -errno;                                        \
	})

/* The process layer is optional: without BPF LSM the others still stand,
 * and status says what is not covered. Opened with the others (a reused
 * build needs its program list), loaded only with them. */
static void open_lsm(struct tl_bpf *b)
{
	int err;

	if (!tl_kernel_has_bpf_lsm()) {
		log_warn("no BPF LSM in this kernel: raw and packet socket "
			 "creation is not denied");
		return;
	}
	err = OPEN_LAYER(lsm_bpf, lsm, b);
	if (err)
		log_warn("opening the LSM layer: %s: raw and packet socket "
			 "creation is not denied",
			 strerror(-err));
}

void tl_bpf_drop_lsm(struct tl_bpf *b)
{
	lsm_bpf__destroy(b->lsm);
	b->lsm = NULL;
}

static void load_lsm(struct tl_bpf *b)
{
	int err;

	if (!b->lsm)
		return;
	err = lsm_bpf__load(b->lsm);
	if (!err)
		return;
	log_warn("loading the LSM layer: %s: raw and packet socket creation "
		 "is not denied",
		 strerror(-err));
	tl_bpf_drop_lsm(b);
}

/* Where cgroup_skb may not ask a packet's namespace, sock_create records
 * each socket's and cgroup_skb reads that (bpf/sock_netns.h). */
static void choose_skb_netns(struct tl_bpf *b)
{
	bool from_sock = !tl_kernel_has_skb_netns();

	b->sock->rodata->tl_skb_netns_from_sock = from_sock;
	b->skb->rodata->tl_skb_netns_from_sock = from_sock;
	if (from_sock)
		log_warn("no bpf_get_netns_cookie for cgroup_skb in this "
			 "kernel: the per-cgroup packet layer takes a "
			 "socket's network namespace from sock_create, and "
			 "the agent's for sockets made before tunlock "
			 "attached");
}

void tl_bpf_choose_tc(struct tl_bpf *b, bool proof)
{
	b->route_proof = proof;
	bpf_program__set_autoload(b->tc->progs.tl_tc_egress, proof);
	bpf_program__set_autoload(b->tc->progs.tl_tc_egress_l3, proof);
	bpf_program__set_autoload(b->tc->progs.tl_tc_egress_unproven, !proof);
	bpf_program__set_autoload(b->tc->progs.tl_tc_egress_l3_unproven,
				  !proof);
}

/* TC egress with the proof of where a packet was routed, or (before Linux
 * 6.3) without: only one pair loads. */
static void choose_tc_egress(struct tl_bpf *b)
{
	bool proof = tl_kernel_has_route_proof();

	tl_bpf_choose_tc(b, proof);
	if (!proof)
		log_warn("no bpf_cast_to_kern_ctx/bpf_rdonly_cast in this "
			 "kernel (Linux 6.3): TC egress cannot tell this "
			 "namespace's packets from those another namespace "
			 "hands a NIC through a macvlan, ipvlan or VLAN "
			 "device, so it trusts the VPN client's fwmark and "
			 "container stamps on those too");
}

/* The inner definitions of the outer maps of tc's object, while it is
 * open. */
static void inner_shapes(struct bpf_object *obj,
			 struct tl_map_shape out[TL_MAP_COUNT])
{
	for (int id = 0; id < TL_MAP_COUNT; id++) {
		struct bpf_map *m, *in;

		m = bpf_object__find_map_by_name(obj, tl_map_names[id]);
		in = m ? bpf_map__inner_map(m) : NULL;
		out[id] = in ? (struct tl_map_shape){
				   .type = bpf_map__type(in),
				   .key_size = bpf_map__key_size(in),
				   .value_size = bpf_map__value_size(in),
				   .max_entries = bpf_map__max_entries(in),
				   .flags = bpf_map__map_flags(in),
			       } :
			     (struct tl_map_shape){};
	}
}

int tl_bpf_read_shapes(struct tl_map_shape out[TL_MAP_COUNT])
{
	struct tc_bpf *tc = tc_bpf__open();

	if (!tc) {
		log_error("opening the BPF objects: %s", strerror(errno));
		return -errno;
	}
	inner_shapes(tc->obj, out);
	tc_bpf__destroy(tc);
	return 0;
}

/* Parses the kernel's BTF once, while the shared maps are pinned. */
static int probe_route_proof(void *arg)
{
	(void)arg;
	tl_kernel_has_route_proof();
	return 0;
}

/* CPU time of the calling thread: what one layer's load cost, whatever
 * else shared the CPUs. */
static long thread_cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* The name of a map pinned by name whose pin is not there yet: the layer
 * loading it will create it. */
static const char *unpinned_map(struct bpf_map *m)
{
	const char *path = bpf_map__pin_path(m);

	return path && access(path, F_OK) ? bpf_map__name(m) : NULL;
}

/*
 * The maps that layers other than the socket layer create themselves
 * (TC's tl_inbound) must each be one layer's only: two layers loading side
 * by side would race to create and pin the same one.
 */
static int check_unshared_maps(struct tl_bpf *b)
{
	struct bpf_object *objs[] = {b->skb->obj, b->tc->obj,
				     b->lsm ? b->lsm->obj : NULL};
	size_t n = sizeof(objs) / sizeof(objs[0]);
	struct bpf_map *m, *o;
	const char *name;

	for (size_t i = 0; i < n; i++) {
		if (!objs[i])
			continue;
		bpf_object__for_each_map(m, objs[i]) {
			name = unpinned_map(m);
			for (size_t j = i + 1; name && j < n; j++) {
				o = objs[j] ? bpf_object__find_map_by_name(
						  objs[j], name) :
					      NULL;
				if (!o || !unpinned_map(o))
					continue;
				log_error("map %s is in two layers but not in "
					  "the socket layer's object: they "
					  "would race to create it",
					  name);
				return -EINVAL;
			}
		}
	}
	return 0;
}

/*
 * A BTF with no types, as a file (a memfd): what CO-RE is pointed at in an
 * object that loads no program. libbpf would parse the kernel's BTF for
 * its relocations anyway (some 80 ms, on the path to enforcing), and then
 * apply none of them. Returns the memfd, or -errno.
 */
static int empty_btf_file(char *path, size_t len)
{
	struct btf *btf = btf__new_empty();
	const void *raw;
	__u32 size;
	int fd;

	if (!btf)
		return -errno;
	raw = btf__raw_data(btf, &size);
	fd = raw ? memfd_create("tl_empty_btf", MFD_CLOEXEC) : -1;
	if (fd >= 0 && write(fd, raw, size) != (ssize_t)size) {
		close(fd);
		fd = -1;
	}
	btf__free(btf);
	if (fd < 0)
		return -errno ?: -EIO;
	snprintf(path, len, "/proc/self/fd/%d", fd);
	return fd;
}

/*
 * Every map the layers share, created and pinned first by a copy of the
 * socket layer's object that loads no program (it holds all of them but
 * TC's own tl_inbound): then no two layers loading side by side race to
 * create one.
 */
static int pin_shared_maps(void *arg)
{
	struct tl_bpf *b = arg;
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = b->pin_dir);
	char btf_path[64];
	int btf_fd = empty_btf_file(btf_path, sizeof(btf_path));
	struct socket_bpf *maps;
	struct bpf_program *p;
	int err;

	if (btf_fd < 0)
		return btf_fd;
	o.btf_custom_path = btf_path;
	maps = socket_bpf__open_opts(&o);
	if (!maps) {
		err = -errno;
		close(btf_fd);
		return err;
	}
	bpf_object__for_each_program(p, maps->obj)
		bpf_program__set_autoload(p, false);
	err = socket_bpf__load(maps);
	socket_bpf__destroy(maps);
	close(btf_fd);
	return err ? err : check_unshared_maps(b);
}

static int load_socket_layer(struct tl_bpf *b)
{
	return socket_bpf__load(b->sock);
}

static int load_cgroup_skb_layer(struct tl_bpf *b)
{
	return cgroup_skb_bpf__load(b->skb);
}

static int load_tc_layer(struct tl_bpf *b)
{
	return tc_bpf__load(b->tc);
}

static int load_lsm_layer(struct tl_bpf *b)
{
	load_lsm(b); /* optional: a failure drops it, with a warning */
	return 0;
}

/* One layer's load, and what it cost in CPU. */
struct layer_load {
	struct tl_bpf *b;
	int (*load)(struct tl_bpf *b);
	int layer;
};

static int run_layer_load(void *arg)
{
	struct layer_load *l = arg;
	long t0 = thread_cpu_ms();
	int err = l->load(l->b);

	l->b->load_cpu_ms[l->layer] = thread_cpu_ms() - t0;
	return err;
}

/*
 * The verifier is most of start-up: every layer loads side by side (the
 * shared maps are pinned already), as many at a time as there are CPUs to
 * take them.
 */
static int load_layers(struct tl_bpf *b)
{
	struct layer_load layers[] = {
	    {.b = b, .load = load_socket_layer, .layer = TL_LAYER_SOCKET},
	    {.b = b, .load = load_cgroup_skb_layer, .layer = TL_LAYER_CGROUP_SKB},
	    {.b = b, .load = load_tc_layer, .layer = TL_LAYER_TC},
	    {.b = b, .load = load_lsm_layer, .layer = TL_LAYER_LSM},
	};
	size_t n = sizeof(layers) / sizeof(layers[0]);
	struct tl_job jobs[sizeof(layers) / sizeof(layers[0])];

	for (size_t i = 0; i < n; i++)
		jobs[i] = (struct tl_job){.run = run_layer_load,
					  .arg = &layers[i]};
	return tl_jobs_run(jobs, n);
}

/* Loads and verifies every layer, reusing the pinned maps; then pins the
 * programs with the build's record, for the next agent to reuse. */
static int load_fresh(struct tl_bpf *b)
{
	struct tl_job first[] = {
	    {.run = pin_shared_maps, .arg = b},
	    {.run = probe_route_proof},
	};
	int err;

	choose_skb_netns(b);
	err = tl_jobs_run(first, sizeof(first) / sizeof(first[0]));
	choose_tc_egress(b); /* probed already, or probes now */
	if (!err)
		err = load_layers(b);
	if (err) {
		log_error("loading the BPF programs: %s%s", strerror(-err),
			  b->adopted ? " (pinned maps of another layout? "
				       "'tunlock stop' removes them)" :
				       "");
		return err;
	}
	log_info("loading cost CPU time: socket layer %ld ms, cgroup_skb %ld "
		 "ms, TC %ld ms, LSM %ld ms (the kernel's verifier, and "
		 "libbpf's CO-RE over the kernel's BTF)",
		 b->load_cpu_ms[TL_LAYER_SOCKET],
		 b->load_cpu_ms[TL_LAYER_CGROUP_SKB], b->load_cpu_ms[TL_LAYER_TC],
		 b->load_cpu_ms[TL_LAYER_LSM]);
	err = tl_reuse_record(b);
	if (err)
		log_error("keeping the loaded programs: %s", strerror(-err));
	return err;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

int tl_bpf_load(struct tl_bpf *b, const char *pin_dir)
{
	struct timespec t0;
	int err;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(b, 0, sizeof(*b));
	snprintf(b->pin_dir, sizeof(b->pin_dir), "%s", pin_dir);
	err = tl_pins_prepare(pin_dir);
	if (err)
		return err;
	b->adopted = tl_pins_exist(pin_dir);

	err = OPEN_LAYER(socket_bpf, sock, b);
	if (!err)
		err = OPEN_LAYER(cgroup_skb_bpf, skb, b);
	if (!err)
		err = OPEN_LAYER(tc_bpf, tc, b);
	if (err) {
		log_error("opening the BPF objects: %s", strerror(-err));
		return err;
	}
	open_lsm(b);
	inner_shapes(b->tc->obj, b->inner);
	/* also when tl_state is missing: another version may lack it */
	err = check_pinned_layout(b);
	if (err)
		return err;
	err = b->adopted ? tl_reuse_adopt(b) : 1;
	if (err > 0)
		err = load_fresh(b);
	if (!err)
		log_info("BPF programs %s in %ld ms (build %.16s)",
			 b->reused ? "reused from the pins" :
				     "loaded and verified",
			 elapsed_ms(&t0), tl_build_id());
	return err;
}

/* Keeps fd as link i's (closing the one held before). */
static void hold_link(struct tl_bpf *b, int i, int fd)
{
	if (b->link_held[i] && b->link_fd[i] != fd)
		close(b->link_fd[i]);
	b->link_fd[i] = fd;
	b->link_held[i] = fd >= 0;
}

void tl_bpf_close(struct tl_bpf *b)
{
	for (int i = 0; i < TL_LINKS_MAX; i++)
		hold_link(b, i, -1);
	for (int i = 0; i < b->nprogs; i++)
		close(b->progs[i].fd);
	lsm_bpf__destroy(b->lsm);
	tc_bpf__destroy(b->tc);
	cgroup_skb_bpf__destroy(b->skb);
	socket_bpf__destroy(b->sock);
	memset(b, 0, sizeof(*b));
}

int tl_bpf_map_fd(struct tl_bpf *b, enum tl_map_id id)
{
	struct bpf_map *m;

	m = bpf_object__find_map_by_name(b->tc->obj, tl_map_names[id]);
	return m ? bpf_map__fd(m) : -ENOENT;
}

int tl_bpf_prog_fd(const struct tl_bpf *b, const char *name)
{
	for (int i = 0; i < b->nprogs; i++)
		if (!strcmp(b->progs[i].name, name))
			return b->progs[i].fd;
	return -ENOENT;
}

/* Where a cgroup program attaches, from its section in bpf/. */
static int cgroup_attach_type(struct tl_bpf *b, const char *name)
{
	struct bpf_program *p;

	p = bpf_object__find_program_by_name(b->sock->obj, name);
	if (!p)
		p = bpf_object__find_program_by_name(b->skb->obj, name);
	if (!p && b->lsm)
		p = bpf_object__find_program_by_name(b->lsm->obj, name);
	return p ? (int)bpf_program__expected_attach_type(p) : -ENOENT;
}

static int link_info(int link_fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(link_fd, info, &len) ? -errno : 0;
}

static uint64_t link_cgroup_id(int link_fd)
{
	struct bpf_link_info info;

	return link_info(link_fd, &info) ? 0 : info.cgroup.cgroup_id;
}

static __u32 prog_id(int prog_fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(prog_fd, &info, &len) ? 0 : info.id;
}

/* The pinned link on cgroup id holds prog already (a reused build). */
static bool link_holds(int link_fd, uint64_t cgroup_id, int prog_fd)
{
	struct bpf_link_info info;

	return !link_info(link_fd, &info) &&
	       info.cgroup.cgroup_id == cgroup_id && info.prog_id && info.prog_id == prog_id(prog_fd);
}

/*
 * A pinned link on the same cgroup gets the new program in one step
 * (no moment without enforcement); otherwise a new link is attached first
 * and only then replaces the pin.
 */
static int attach_one(struct tl_bpf *b, int idx, const char *name,
		      const char *cgroup_path, int cgroup_fd)
{
	int prog_fd = tl_bpf_prog_fd(b, name);
	int type = cgroup_attach_type(b, name);
	uint64_t cgroup_id = tl_path_ino(cgroup_path);
	char link_name[64], path[PATH_MAX];
	int old_fd, fd, err;

	if (prog_fd < 0 || type < 0)
		return -ENOENT;
	snprintf(link_name, sizeof(link_name), "link_%s", name);
	err = tl_pin_path(path, sizeof(path), b->pin_dir, link_name);
	if (err)
		return err;
	old_fd = bpf_obj_get(path);
	if (old_fd >= 0 && link_holds(old_fd, cgroup_id, prog_fd)) {
		hold_link(b, idx, old_fd);
		return 0;
	}
	if (old_fd >= 0 && link_cgroup_id(old_fd) == cgroup_id) {
		err = bpf_link_update(old_fd, prog_fd, NULL);
		if (err) {
			err = -errno;
			log_error("updating link %s: %s", link_name,
				  strerror(-err));
			close(old_fd);
			return err;
		}
		hold_link(b, idx, old_fd);
		return 0;
	}
	fd = bpf_link_create(prog_fd, cgroup_fd, type, NULL);
	if (fd < 0) {
		err = -errno;
		log_error("attaching %s to %s: %s", name, cgroup_path,
			  strerror(-err));
		if (old_fd >= 0)
			close(old_fd);
		return err;
	}
	if (old_fd >= 0) {
		bpf_link_detach(old_fd);
		close(old_fd);
		unlink(path);
	}
	if (bpf_obj_pin(fd, path)) {
		err = -errno;
		log_error("pinning %s: %s", path, strerror(-err));
	}
	/* ours to hold (the pin keeps it attached too) */
	hold_link(b, idx, fd);
	return err;
}

int tl_bpf_attach_cgroup(struct tl_bpf *b, const char *cgroup_path)
{
	int fd, err = 0;

	fd = open(cgroup_path, O_RDONLY | O_DIRECTORY);
	if (fd < 0) {
		log_error("opening cgroup %s: %s", cgroup_path,
			  strerror(errno));
		return -errno;
	}
	snprintf(b->cgroup_path, sizeof(b->cgroup_path), "%s", cgroup_path);
	for (int i = 0; i < tl_cgroup_prog_count && !err; i++)
		err = attach_one(b, i, tl_cgroup_progs[i], cgroup_path, fd);
	/* lsm_cgroup: like the others, only below the attach cgroup */
	if (!err && tl_bpf_prog_fd(b, tl_lsm_prog) >= 0 &&
	    attach_one(b, tl_cgroup_prog_count, tl_lsm_prog, cgroup_path, fd))
		log_warn("raw and packet socket creation is not denied");
	close(fd);
	return err;
}

static uint32_t link_id(int fd)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Link i's pin names it again (after it was removed, or replaced). */
static const char *repin(int fd, const char *path)
{
	unlink(path);
	if (bpf_obj_pin(fd, path)) {
		log_error("pinning %s again: %s", path, strerror(errno));
		return "failed";
	}
	return "repinned";
}

/* Link i was detached: attached anew (and pinned, and held). */
static const char *reattach(struct tl_bpf *b, int i, const char *name,
			    const char *path)
{
	int fd = open(b->cgroup_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	if (fd < 0) {
		log_error("opening cgroup %s: %s", b->cgroup_path,
			  strerror(errno));
		return "failed";
	}
	unlink(path); /* the dead link's pin: attach_one makes a new one */
	err = attach_one(b, i, name, b->cgroup_path, fd);
	close(fd);
	return err ? "failed" : "reattached";
}

int tl_bpf_check_links(struct tl_bpf *b, struct tl_link_repair *r, int max)
{
	char path[PATH_MAX], link_name[64];
	int n = 0;

	for (int i = 0; i <= tl_cgroup_prog_count && n < max; i++) {
		const char *name = i < tl_cgroup_prog_count ?
					   tl_cgroup_progs[i] :
					   tl_lsm_prog;
		const char *found = NULL, *action = NULL;
		int pin_fd;

		if (!b->link_held[i])
			continue;
		snprintf(link_name, sizeof(link_name), "link_%s", name);
		if (tl_pin_path(path, sizeof(path), b->pin_dir, link_name))
			continue;
		pin_fd = bpf_obj_get(path);
		if (!link_cgroup_id(b->link_fd[i])) {
			found = "detached";
			action = reattach(b, i, name, path);
		} else if (pin_fd < 0) {
			found = "unpinned";
			action = repin(b->link_fd[i], path);
		} else if (link_id(pin_fd) != link_id(b->link_fd[i])) {
			found = "replaced";
			action = repin(b->link_fd[i], path);
		}
		if (pin_fd >= 0)
			close(pin_fd);
		if (!found)
			continue;
		r[n++] = (struct tl_link_repair){ name, found, action };
	}
	return n;
}


static int detach_tc_at(int ifindex, enum bpf_tc_attach_point point)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TL_TC_HANDLE,
		    .priority = TL_TC_PRIORITY);

	if (bpf_tc_query(&hook, &opts))
		return 0; /* not ours, or gone */
	opts.prog_fd = opts.prog_id = opts.flags = 0;
	return bpf_tc_detach(&hook, &opts);
}

int tl_bpf_detach_tc(int ifindex)
{
	int err = detach_tc_at(ifindex, BPF_TC_INGRESS);

	return detach_tc_at(ifindex, BPF_TC_EGRESS) ?: err;
}

static int attach_tc_at(struct tl_bpf *b, int ifindex,
			enum bpf_tc_attach_point point, const char *prog)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TL_TC_HANDLE,
		    .priority = TL_TC_PRIORITY,
		    .prog_fd = tl_bpf_prog_fd(b, prog),
		    .flags = BPF_TC_F_REPLACE);
	int err;

	if (opts.prog_fd < 0)
		return -ENOENT;
	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

/* Ingress first: what comes in is stamped before egress stops judging. */
int tl_bpf_attach_tc_port(struct tl_bpf *b, int ifindex, bool stamp)
{
	int err;

	if (stamp)
		err = attach_tc_at(b, ifindex, BPF_TC_INGRESS,
				   "tl_tc_ingress_port");
	else
		err = detach_tc_at(ifindex, BPF_TC_INGRESS);
	if (err)
		return err;
	return attach_tc_at(b, ifindex, BPF_TC_EGRESS, "tl_tc_egress_port");
}

/* Egress first: no moment unguarded; then ingress, which protects the
 * tunnel addresses (bpf/inbound.h) and replaces a port's stamping. */
int tl_bpf_attach_tc(struct tl_bpf *b, int ifindex, bool l3)
{
	const char *prog =
	    b->route_proof ?
		(l3 ? "tl_tc_egress_l3" : "tl_tc_egress") :
		(l3 ? "tl_tc_egress_l3_unproven" : "tl_tc_egress_unproven");
	int err = attach_tc_at(b, ifindex, BPF_TC_EGRESS, prog);

	return err ? err :
		     attach_tc_at(b, ifindex, BPF_TC_INGRESS,
				  l3 ? "tl_tc_ingress_l3" : "tl_tc_ingress");
}

static void detach_tc_all(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;

	if (!ifs)
		return;
	for (i = ifs; i->if_index; i++)
		if (tl_bpf_detach_tc(i->if_index))
			log_warn("detaching TC from %s: %s", i->if_name,
				 strerror(errno));
	if_freenameindex(ifs);
}

int tl_record_netns(int state_fd)
{
	struct tl_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(state_fd, &zero, &st))
		return -errno;
	st.netns_ino = tl_netns_ino();
	st.netns_cookie = tl_netns_cookie();
	if (!st.netns_cookie)
		log_warn("no network namespace cookie (SO_NETNS_COOKIE): "
			 "no interface will count as a tunnel");
	if (bpf_map_update_elem(state_fd, &zero, &st, BPF_ANY))
		return -errno;
	return 0;
}

/* Asks a running agent to leave before its pins go. */
static void stop_agent(uint32_t pid)
{
	if (!tl_agent_alive(pid))
		return;
	if (kill(pid, SIGTERM)) {
		log_warn("stopping the agent (pid %u): %s", pid,
			 strerror(errno));
		return;
	}
	for (int i = 0; i < 50 && tl_agent_alive(pid); i++)
		usleep(100 * 1000);
}

int tl_pins_remove(const char *pin_dir)
{
	struct tl_state state = {};

	/* pins of another layout are removed all the same, unread */
	if (tl_pins_read_state(pin_dir, &state))
		memset(&state, 0, sizeof(state));
	stop_agent(state.agent_pid);
	if (state.netns_ino && state.netns_ino != tl_netns_ino())
		log_warn("TC filters live in another network namespace "
			 "(inode %llu): run stop there to remove them",
			 (unsigned long long)state.netns_ino);
	else
		detach_tc_all();
	return tl_pins_unpin(pin_dir);
}

bool tl_pins_fresh(const char *pin_dir)
{
	char parent[PATH_MAX];

	return !pin_parent(pin_dir, parent) && access(pin_dir, F_OK) &&
	       errno == ENOENT && is_bpffs(parent);
}

int tl_pins_unpin(const char *pin_dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	int fd, err = 0;
	DIR *d;

	d = opendir(pin_dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		if (tl_pin_path(path, sizeof(path), pin_dir, e->d_name))
			continue;
		if (!strncmp(e->d_name, "link_", 5)) {
			fd = bpf_obj_get(path);
			if (fd >= 0) {
				bpf_link_detach(fd);
				close(fd);
			}
		}
		if (unlink(path)) {
			log_error("removing %s: %s", path, strerror(errno));
			err = -errno;
		}
	}
	closedir(d);
	if (rmdir(pin_dir) && errno != ENOENT) {
		log_error("removing %s: %s", pin_dir, strerror(errno));
		err = -errno;
	}
	return err;
}
