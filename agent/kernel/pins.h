/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Loader and pins: the BPF objects, the maps they share under the pin
 * directory, and the attachments (cgroup links, TC filters) that keep
 * enforcing when no agent runs.
 */
#ifndef TUNLOCK_PINS_H
#define TUNLOCK_PINS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include <linux/types.h>

#include "tunlock.h"

#define TL_DEFAULT_PIN_DIR "/sys/fs/bpf/tunlock"
#define TL_TC_HANDLE 0x746c
#define TL_TC_PRIORITY 1

struct socket_bpf;
struct cgroup_skb_bpf;
struct tc_bpf;
struct lsm_bpf;

/* The cgroup links (tl_cgroup_progs, then the LSM link). */
#define TL_LINKS_MAX 16
/* The programs of all layers that one kernel loads (pinned as prog_NAME). */
#define TL_PROGS_MAX 24

/* A loaded or adopted program, by its name in bpf/. */
struct tl_prog {
	const char *name;
	int fd; /* ours: closed by tl_bpf_close */
};

/* The shared maps, by their pinned names. */
enum tl_map_id {
	TL_MAP_STATE,
	TL_MAP_SETTINGS,
	TL_MAP_CGROUPS,
	TL_MAP_ALLOW,
	TL_MAP_ENDPOINTS,
	TL_MAP_IFACES,
	TL_MAP_TUNNELS,
	TL_MAP_SUMMARY,
	TL_MAP_COUNTERS,
	TL_MAP_EVENTS,
	TL_MAP_EVENT_RATE,
	TL_MAP_EVENT_STATS,
	TL_MAP_PORTS,
	TL_MAP_NSIFS,
	TL_MAP_GENERATION,
	TL_MAP_ALLOW_EXACT,
	TL_MAP_IFACE_SLOTS,
	TL_MAP_COUNT,
};

/* What bpf_map_create needs to make a map of one definition. */
struct tl_map_shape {
	__u32 type; /* enum bpf_map_type; 0: none */
	__u32 key_size, value_size, max_entries, flags;
};

/* A policy table this agent put in a slot (apply.c): a digest of its
 * entries (0: not known) and the map's id. */
struct tl_table_record {
	uint64_t digest;
	__u32 id;
};

struct tl_bpf {
	struct socket_bpf *sock;
	struct cgroup_skb_bpf *skb;
	struct tc_bpf *tc;
	bool route_proof; /* tc's egress programs tell where a packet was routed */
	struct lsm_bpf *lsm; /* NULL: this kernel has no BPF LSM (lsm_cgroup) */
	char pin_dir[PATH_MAX];
	bool adopted; /* pins from an earlier agent were found and reused */
	/* The programs too: the pinned ones of this same build were reused,
	 * none loaded or verified (reuse.c). */
	bool reused;
	struct tl_prog progs[TL_PROGS_MAX];
	int nprogs;
	/* CPU time of each layer's fresh load (TL_LAYER_*) */
	long load_cpu_ms[TL_LAYER_MAX];
	/* The links the agent attached or adopted, held open: removing a
	 * pin does not detach them, and tl_bpf_check_links puts back what
	 * was removed or detached. */
	int link_fd[TL_LINKS_MAX];
	bool link_held[TL_LINKS_MAX];
	char cgroup_path[PATH_MAX]; /* where they are attached */
	/* The inner map of each outer map (by enum tl_map_id), as bpf/
	 * declares it: read before loading, since libbpf drops the inner
	 * definition once it created the outer map. */
	struct tl_map_shape inner[TL_MAP_COUNT];
	/* What each slot's tables hold, by their outer map: known only for
	 * the tables this agent wrote (apply.c reuses them). */
	struct tl_table_record tables[TL_POLICY_SLOTS][TL_MAP_COUNT];
};

/* What tl_bpf_check_links found wrong with one link, and did about it. */
struct tl_link_repair {
	const char *name; /* program name, e.g. tl_connect4 */
	const char *found; /* "unpinned", "replaced", "detached" */
	const char *action; /* "repinned", "reattached", or "failed" */
};

extern const char *const tl_map_names[TL_MAP_COUNT];

/* Opens and loads every layer, creating or adopting the pinned maps. */
int tl_bpf_load(struct tl_bpf *b, const char *pin_dir);
void tl_bpf_close(struct tl_bpf *b);
/* Which TC egress pair loads: with the proof of where a packet was
 * routed (Linux 6.3), or without. */
void tl_bpf_choose_tc(struct tl_bpf *b, bool proof);
/* Without the LSM layer (it did not load, or was not loaded before). */
void tl_bpf_drop_lsm(struct tl_bpf *b);
int tl_bpf_map_fd(struct tl_bpf *b, enum tl_map_id id);
/* The fd of program name (loaded or reused), or -ENOENT. */
int tl_bpf_prog_fd(const struct tl_bpf *b, const char *name);
/*
 * The shapes of the maps that each outer map holds (type 0: not an outer
 * map), from the objects alone: no kernel, no pins; what a table may be
 * made with before the programs load (b->inner holds them once loaded).
 */
int tl_bpf_read_shapes(struct tl_map_shape out[TL_MAP_COUNT]);

/* Attaches the cgroup programs at cgroup_path (absolute), or atomically
 * swaps the programs of pinned links from an earlier agent. */
int tl_bpf_attach_cgroup(struct tl_bpf *b, const char *cgroup_path);
/*
 * Checks every held link: still attached, still pinned as itself. A link
 * whose pin was removed (or replaced) is pinned again; a detached one is
 * attached anew and pinned. Fills up to max repairs; returns their count.
 */
int tl_bpf_check_links(struct tl_bpf *b, struct tl_link_repair *r, int max);
/* Attaches, or atomically replaces, the TC egress filter of ifindex; l3:
 * the interface has no link-layer header. */
int tl_bpf_attach_tc(struct tl_bpf *b, int ifindex, bool l3);
/* Removes our TC egress filter from ifindex (it became a tunnel). */
int tl_bpf_detach_tc(int ifindex);
/* A port (into containers): the pass-through egress filter and, with
 * stamp, the ingress filter that stamps what containers send; without,
 * any ingress filter of ours is removed. */
int tl_bpf_attach_tc_port(struct tl_bpf *b, int ifindex, bool stamp);

/* Sum over CPUs of counter idx (TL_COUNTER_INDEX) of the counters map. */
int tl_counter_read(int counters_fd, __u32 idx, __u64 *sum);

/*
 * The pinned state (tl_state), read only when its layout is this agent's:
 * -EPROTO when pins of another tunlock version are there, -ENOENT when
 * nothing is pinned.
 */
int tl_pins_read_state(const char *pin_dir, struct tl_state *st);
/* The one layout-version check: st is of this agent's layout, or was
 * never written (layout 0). */
bool tl_layout_known(const struct tl_state *st);
/* Says that the pins in pin_dir are of another layout, and what to do. */
void tl_layout_refused(const char *pin_dir, unsigned int layout);
/* The pid of a live agent that keeps these pins (not us), else 0. */
unsigned int tl_pins_agent(const char *pin_dir);
/* The one "is the agent alive" check: pid is a live tunlock process, not
 * a pid recycled by something else (0: none). */
bool tl_agent_alive(unsigned int pid);

/* Pinned objects, for status and stop (no agent needed). */
int tl_pin_path(char *buf, size_t len, const char *pin_dir, const char *name);
int tl_pins_open_map(const char *pin_dir, enum tl_map_id id);
bool tl_pins_exist(const char *pin_dir);
/* Detaches every link and TC filter and removes the pins. */
int tl_pins_remove(const char *pin_dir);
/* Nothing pinned in pin_dir yet, nor a bpffs to mount: what a load makes
 * there, tl_pins_unpin takes back whole. */
bool tl_pins_fresh(const char *pin_dir);
/* Removes the pins and the directory (links detached; TC is not touched). */
int tl_pins_unpin(const char *pin_dir);

/* Makes sure dir's parent is a bpffs (mounting /sys/fs/bpf if needed) and
 * creates dir with mode 0700, or checks the one that is there. */
int tl_pins_prepare(const char *pin_dir);
/* The pin directory is root's, mode 0700, not a symbolic link, in a parent
 * no one else can rename it in; else a negative errno, after saying why. */
int tl_pins_check_dir(const char *pin_dir);

/* Records this process's network namespace in tl_state: the one whose
 * interfaces tl_ifaces indexes and where the TC filters live. */
int tl_record_netns(int state_fd);

/* The cgroup link names, for status. */
extern const char *const tl_cgroup_progs[];
extern const int tl_cgroup_prog_count;
/* The LSM link (BPF_LSM_CGROUP), where the kernel has BPF LSM. */
extern const char *const tl_lsm_prog;

#endif
