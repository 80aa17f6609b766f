/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Tunnel and link tracking over rtnetlink: every interface of the agent's
 * network namespace is a tunnel (its name matches a tunnel's interface
 * glob and its kind is a tunnel's) or gets the TC egress filter, before
 * anything else is done with it.
 * Tunnel state (up, IPv4, IPv6) follows link and address events.
 */
#ifndef TUNLOCK_LINKS_H
#define TUNLOCK_LINKS_H

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "containers.h"
#include "netlink.h"
#include "pins.h"
#include "policy.h"

/* Bursts of link changes (a container runtime starting many) fit. */
#define TL_LINKS_RCVBUF (4 << 20)

enum tl_link_kind { TL_KIND_OTHER = 0, TL_KIND_VETH, TL_KIND_BRIDGE };

struct tl_link {
	int ifindex;
	char name[IF_NAMESIZE];
	unsigned int flags; /* IFF_* */
	unsigned short type; /* ARPHRD_* */
	int tunnel;	     /* tunnel id, or -1 */
	bool guarded;	     /* TC filter attached */
	enum tl_link_kind kind;
	char kind_name[TL_NL_KIND_LEN]; /* IFLA_INFO_KIND, "" for a NIC */
	int impostor;	     /* tunnel whose glob matches the name but not
				the kind: guarded as an uplink; or -1 */
	int master;	     /* bridge (IFLA_MASTER), or 0 */
	int link_nsid;	     /* veth: its peer's namespace, -1 when ours */
	int peer;	     /* veth: its peer's ifindex there */
	bool port;	     /* guarded as a port into containers */
	uint32_t stamp;	     /* tl_ports index stamped at ingress, or 0 */
};

struct tl_links {
	struct tl_bpf *bpf;
	const struct tl_policy *policy;
	struct tl_containers *ctr; /* NULL: no container ports */
	bool rescan;		   /* a veth's far side is not known yet */
	struct tl_nl nl;    /* subscribed to link and address changes */
	struct tl_nl query; /* for address dumps, subscribed to nothing */
	struct tl_link *v;
	size_t n, cap;
};

/* Subscribes first, then dumps, so that no change falls in between. */
int tl_links_open(struct tl_links *l, struct tl_bpf *b,
		  const struct tl_policy *p, struct tl_containers *ctr);
/* Handles whatever the socket has for us (non-blocking). */
int tl_links_handle(struct tl_links *l);
/* A new policy: reclassify every interface and rewrite the tunnel state. */
int tl_links_set_policy(struct tl_links *l, const struct tl_policy *p);
void tl_links_close(struct tl_links *l);
/* Rescans container namespaces and reclassifies veths and bridges. */
int tl_links_rescan(struct tl_links *l);
/* Some container namespace is verified but has no processes to attribute
 * it to yet. */
bool tl_links_pending(const struct tl_links *l);

/*
 * Index of the tunnel whose interface glob matches name and whose kinds
 * (wireguard, tun, its `kind:`) hold kind, or -1. *impostor: the first
 * tunnel whose glob matches but whose kinds do not, or -1.
 */
int tl_tunnel_for_link(const struct tl_policy *p, const char *name,
		       const char *kind, int *impostor);

#endif
