/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The policy as read from YAML and validated: see README "Policy reference". */
#ifndef TUNLOCK_POLICY_H
#define TUNLOCK_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../include/tunlock.h"
#include "addr.h"

#define TL_NAME_MAX 64
#define TL_GLOB_MAX 256
#define TL_MAX_TUNNEL_RESOLVERS 16 /* per tunnel; TL_MAX_RESOLVERS in all */

/*
 * Where a value stood in the file (1-based), for FILE:LINE:COL messages.
 * Entries keep the position of the value that identifies them: a tunnel's
 * or profile's name, an endpoint's address, an allow rule's cidr, a cgroup
 * entry's path.
 */
struct tl_loc {
	int line;
	int col;
};

/*
 * An allow rule: 24 bytes, since a profile may hold 100,000 of them for as
 * long as the agent runs. Its port ranges are the profile's
 * ports[port0 .. port0 + nports) (tl_allow_ports()); where it stood in the
 * file is kept only while the policy is read (diagnostics).
 */
struct tl_allow_rule {
	struct tl_cidr cidr;
	uint8_t protocol; /* 0 any, IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP(V6) */
	uint8_t nports;	  /* 0: every port; at most TL_MAX_PORT_RANGES */
	uint32_t port0;
};
_Static_assert(sizeof(struct tl_allow_rule) == 24, "an allow rule stays small");

/* What a profile does with DNS queries outside the tunnel (docs/policy.md). */
enum tl_dns_mode {
	TL_DNS_MODE_BLOCK = 0,
	TL_DNS_MODE_REDIRECT,
	TL_DNS_MODE_ORDINARY, /* no DNS rule: lan and allow decide */
};

struct tl_profile_cfg {
	char name[TL_NAME_MAX];
	bool lan;
	bool ipv6_block; /* IPv6 not even through an IPv6 tunnel */
	enum tl_dns_mode dns;
	bool raw_allow;	 /* raw and packet sockets allowed (a DHCP client) */
	struct tl_allow_rule *allow;
	size_t nallow;
	struct tl_port_range *ports; /* of the allow rules, in their order */
	size_t nports;
	struct tl_loc loc;
	struct tl_loc dns_loc; /* of the dns value, when given */
};

struct tl_endpoint_cfg {
	struct tl_cidr addr; /* prefixlen is the full length */
	uint16_t port;
	uint8_t protocol;
	struct tl_loc loc;
};

/*
 * Interface kinds (rtnetlink IFLA_INFO_KIND) that a tunnel may be of: kind
 * i is bit i of tl_tunnel_cfg.kinds. Every tunnel may be wireguard or tun
 * (wireguard-go, OpenVPN, most userspace VPNs); `kind:` adds others.
 */
extern const char *const tl_tunnel_kinds[];
#define TL_TUNNEL_KINDS_DEFAULT 0x3u /* wireguard, tun */
/* Bit of kind in tl_tunnel_cfg.kinds, or -1 when it is no tunnel kind. */
int tl_tunnel_kind_bit(const char *kind);

struct tl_tunnel_cfg {
	char name[TL_NAME_MAX];
	char interface[TL_GLOB_MAX]; /* name or fnmatch glob */
	uint32_t kinds; /* what the interface must be: tl_tunnel_kinds bits */
	struct tl_endpoint_cfg *endpoints;
	size_t nendpoints;
	char client_cgroup[TL_GLOB_MAX]; /* "" when none */
	bool has_fwmark;
	uint32_t fwmark;
	struct tl_cidr *resolvers;
	size_t nresolvers;
	struct tl_loc loc;
};

struct tl_cgroup_rule {
	char *path; /* relative to the cgroup2 mount, may be a glob; own copy */
	int profile;		/* index into profiles, -1 when exempt */
	bool exempt;
	struct tl_loc loc;
};

struct tl_policy {
	char *file;
	enum tl_mode mode;
	bool no_socket_allow;
	char attach_cgroup[TL_GLOB_MAX];
	int default_profile; /* profile of "/" when given, else the built-in locked profile */
	struct tl_tunnel_cfg *tunnels;
	size_t ntunnels;
	struct tl_profile_cfg *profiles;
	size_t nprofiles;
	struct tl_cgroup_rule *cgroups;
	size_t ncgroups;
	/* events: per-reason rate limit of the event feed (0: counters only) */
	uint32_t event_rate;  /* events per second */
	uint32_t event_burst; /* events at once */
	uint16_t dns_ports[TL_MAX_DNS_PORTS]; /* what a DNS query is */
	size_t ndns_ports;
	uint32_t container_mark; /* skb->mark bits for container attribution */
	struct tl_loc container_mark_loc;
	bool allow_dropped; /* tl_policy_drop_allow() ran: not to be applied */
};

/* The port ranges of allow rule r of profile pr (r->nports of them;
 * NULL when none). */
static inline const struct tl_port_range *
tl_allow_ports(const struct tl_profile_cfg *pr, const struct tl_allow_rule *r)
{
	return r->nports ? pr->ports + r->port0 : NULL;
}

/* The dns value of a profile as the policy spells it. */
const char *tl_dns_mode_name(enum tl_dns_mode m);
/* Is port one of the policy's DNS ports? */
bool tl_policy_dns_port(const struct tl_policy *p, uint16_t port);

/*
 * Read and validate FILE. Returns 0 and fills *out, or -1 after printing
 * every problem as "FILE:LINE:COL: message" to err.
 */
int tl_policy_load(const char *file, struct tl_policy *out, FILE *err);
/* Same, from a buffer; name is used in messages. */
int tl_policy_parse(const char *name, const char *buf, size_t len,
		    struct tl_policy *out, FILE *err);
void tl_policy_free(struct tl_policy *p);
/*
 * Free the allow rules and their ports once the kernel's tables hold them:
 * the agent keeps the rest (names, tunnels, cgroup rules) while it runs.
 * A policy without them is not applied again (tl_apply_policy refuses it).
 */
void tl_policy_drop_allow(struct tl_policy *p);

#endif
