/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Containers in network namespaces of their own, reached through veths of
 * the agent's namespace. A scan finds the namespaces (named ones under
 * /run/netns and /run/docker/netns, and those of processes), learns from
 * inside each, through a short-lived thread that enters it, its cookie and
 * its veths to the agent's namespace, and attributes it to the common
 * cgroup of its processes. links.c asks it about each veth whose peer is
 * in another namespace; what it verified becomes a port (tl_ports, the
 * veth's entry in tl_nsifs), the rest stays an uplink, fail closed.
 */
#ifndef TUNLOCK_CONTAINERS_H
#define TUNLOCK_CONTAINERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tunlock.h"
#include "netlink.h"
#include "pins.h"

#define TL_CTR_MAX_NS	 4096
#define TL_CTR_MAX_VETHS 16 /* veths to the host per namespace */

struct tl_ctr_ns {
	uint64_t ino;	  /* nsfs inode: identity within one scan */
	uint64_t cookie;  /* identity for the BPF side */
	int nsid;	  /* its id in the agent's namespace, -1 when none */
	bool probed;	  /* entered and read */
	bool escape;	  /* a NIC, a link into a third namespace, or a
			     non-veth link (macvlan, ipvlan, VLAN) into ours */
	char path[64];	  /* how to open it */
	char cgroup[256]; /* common cgroup of its processes, "" when none:
			     of those below the attach cgroup, when any */
	char outside[256]; /* common cgroup of the rest */
	int nveths;
	struct {
		int ifindex; /* in that namespace */
		int peer;    /* its peer, in the agent's namespace */
	} veths[TL_CTR_MAX_VETHS];
};

struct tl_containers {
	struct tl_bpf *bpf;
	const char *cg_mount;
	char attach[256]; /* the policy's attach cgroup */
	int self_ns; /* the agent's namespace (fd) */
	struct tl_nl nl; /* in the agent's namespace, for nsids */
	struct tl_ctr_ns *ns, *prev; /* this scan's and the last one's */
	size_t nns, nprev, cap, prev_cap;
	bool stale; /* links changed: what was read from inside may have too */
	uint32_t max_port; /* largest index the policy's container_mark holds */
	int ports[TL_MAX_PORTS]; /* host ifindex by port index, 0 free */
	struct {
		uint64_t cookie; /* the tl_nsifs entry of each port */
		int ifindex;
	} nsifs[TL_MAX_PORTS];
};

/* What the agent knows about the far side of one of its veths. */
struct tl_ctr_port {
	bool known;    /* the pair was seen from both sides */
	bool verified; /* and its namespace has no way out of its own */
	uint32_t port; /* tl_ports index when attributed, else 0 */
};

int tl_containers_open(struct tl_containers *c, struct tl_bpf *b,
		       const char *cg_mount);
void tl_containers_close(struct tl_containers *c);
/* The policy's container_mark changed (or was set): ports must fit it. */
void tl_containers_set_mark(struct tl_containers *c, uint32_t mark);
/* The policy's attach cgroup: a namespace holding processes below it is
 * theirs, whatever else passes through it. */
void tl_containers_set_attach(struct tl_containers *c, const char *attach);
/* Rescans namespaces and processes; a namespace read before is not
 * entered again unless links changed since (tl_containers_stale). */
int tl_containers_scan(struct tl_containers *c);
void tl_containers_stale(struct tl_containers *c);
/*
 * The veth ifindex of the agent's namespace, whose peer is peer in the
 * namespace nsid: verified and attributed, its port entries written
 * (before the caller stamps or passes anything), or released.
 */
void tl_containers_classify(struct tl_containers *c, int ifindex, int master,
			    int nsid, int peer, struct tl_ctr_port *out);
/* The veth is gone or is no longer a port: after the caller detached. */
void tl_containers_release(struct tl_containers *c, int ifindex);
/* Releases adopted ports that in_use does not claim (gone meanwhile). */
void tl_containers_prune(struct tl_containers *c,
			 bool (*in_use)(void *ctx, int ifindex, uint32_t port),
			 void *ctx);

#endif
