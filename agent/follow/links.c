// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <net/if_arp.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "inbound.h"
#include "links.h"
#include "log.h"
#include "netlink.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h, which clashes with net/if.h */
#endif

int tl_tunnel_for_link(const struct tl_policy *p, const char *name,
		       const char *kind, int *impostor)
{
	int bit = tl_tunnel_kind_bit(kind);

	*impostor = -1;
	for (size_t t = 0; p && t < p->ntunnels; t++) {
		if (fnmatch(p->tunnels[t].interface, name, 0))
			continue;
		if (bit >= 0 && (p->tunnels[t].kinds & (1u << bit)))
			return t;
		if (*impostor < 0)
			*impostor = t;
	}
	return -1;
}

static struct tl_link *find_link(struct tl_links *l, int ifindex)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].ifindex == ifindex)
			return &l->v[i];
	return NULL;
}

static struct tl_link *add_link(struct tl_links *l, int ifindex)
{
	struct tl_link *k;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 32;
		struct tl_link *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		l->v = v;
		l->cap = cap;
	}
	k = &l->v[l->n++];
	memset(k, 0, sizeof(*k));
	k->ifindex = ifindex;
	k->tunnel = -1;
	k->impostor = -1;
	k->link_nsid = -1;
	return k;
}

static bool tunnel_iface_up(const struct tl_link *k)
{
	return k->tunnel >= 0 && (k->flags & IFF_UP) &&
	       (k->flags & IFF_LOWER_UP);
}

struct addr_query {
	int ifindex;
	uint32_t flags;
};

static int on_query_addr(void *ctx, struct nlmsghdr *h)
{
	struct addr_query *q = ctx;
	struct tl_nl_addr m;
	int err;

	if (h->nlmsg_type != RTM_NEWADDR)
		return 0;
	err = tl_nl_parse_addr(h, &m);
	if (err || m.ifindex != q->ifindex)
		return err;
	if (m.family == AF_INET)
		q->flags |= TL_TUNNEL_IPV4;
	else if (m.family == AF_INET6 &&
		 !IN6_IS_ADDR_LINKLOCAL((struct in6_addr *)m.addr))
		q->flags |= TL_TUNNEL_IPV6;
	return 0;
}

/* IPv4 and global IPv6 addresses of a tunnel interface, from a dump on a
 * socket of its own: the event socket's messages wait for their turn. */
static uint32_t address_flags(struct tl_links *l, const struct tl_link *k)
{
	struct addr_query q = {.ifindex = k->ifindex};
	int err = tl_nl_dump(&l->query, RTM_GETADDR, on_query_addr, &q);

	if (err)
		log_warn("reading the addresses of %s: %s", k->name,
			 strerror(-err));
	return q.flags;
}

/* Rewrites tl_tunnels and tl_summary from the links we know. */
static int publish_tunnels(struct tl_links *l)
{
	int tfd = tl_bpf_map_fd(l->bpf, TL_MAP_TUNNELS);
	int sfd = tl_bpf_map_fd(l->bpf, TL_MAP_SUMMARY);
	struct tl_tunnel_summary sum = {};
	__u32 zero = 0;

	for (__u32 t = 0; t < TL_MAX_TUNNELS; t++) {
		struct tl_tunnel_state st = {};

		if (l->policy && t < l->policy->ntunnels)
			snprintf(st.name, sizeof(st.name), "%s",
				 l->policy->tunnels[t].name);
		for (size_t i = 0; i < l->n; i++) {
			struct tl_link *k = &l->v[i];

			if (k->tunnel != (int)t)
				continue;
			st.ifindex = k->ifindex;
			snprintf(st.ifname, sizeof(st.ifname), "%s", k->name);
			if (tunnel_iface_up(k)) {
				st.flags |= TL_TUNNEL_UP |
					    address_flags(l, k);
				break;
			}
		}
		if (st.flags & TL_TUNNEL_UP) {
			sum.up_count++;
			if (st.flags & TL_TUNNEL_IPV6)
				sum.ipv6_up_count++;
		}
		if (bpf_map_update_elem(tfd, &t, &st, BPF_ANY))
			return -errno;
	}
	if (bpf_map_update_elem(sfd, &zero, &sum, BPF_ANY))
		return -errno;
	if (tl_bump_verdicts(l->bpf))
		return -EIO;
	return tl_inbound_publish(l->bpf, &l->query, l->v, l->n);
}

static int publish_iface(struct tl_links *l, const struct tl_link *k)
{
	struct tl_iface v = {};
	int err;

	if (k->tunnel >= 0) {
		v.flags |= TL_IFACE_TUNNEL;
		v.tunnel = k->tunnel;
	}
	if (k->type != ARPHRD_ETHER)
		v.flags |= TL_IFACE_L3;
	if (k->guarded)
		v.flags |= TL_IFACE_GUARDED;
	if (k->guarded && k->port)
		v.flags |= TL_IFACE_PORT;
	if (k->guarded && k->port && k->stamp) {
		v.flags |= TL_IFACE_STAMP;
		v.port = k->stamp;
	}
	err = tl_iface_put(l->bpf, k->ifindex, &v);
	if (err)
		return err;
	return tl_bump_verdicts(l->bpf) ? -EIO : 0;
}

enum role { ROLE_TUNNEL, ROLE_UPLINK, ROLE_PORT };

/* A bridge leads into containers only when every member does. */
static bool bridge_of_ports(struct tl_links *l, const struct tl_link *br)
{
	size_t members = 0;

	for (size_t i = 0; i < l->n; i++) {
		if (l->v[i].master != br->ifindex)
			continue;
		if (!l->v[i].port)
			return false;
		members++;
	}
	return members > 0;
}

/*
 * What k is: a tunnel, a port into container namespaces (verified from
 * both sides, see containers.h), or an uplink. Whatever is not verified
 * is an uplink: fail closed.
 */
static enum role link_role(struct tl_links *l, struct tl_link *k,
			   struct tl_ctr_port *cp)
{
	memset(cp, 0, sizeof(*cp));
	if (k->tunnel >= 0)
		return ROLE_TUNNEL;
	if (!l->ctr)
		return ROLE_UPLINK;
	if (k->kind == TL_KIND_VETH && k->link_nsid >= 0) {
		tl_containers_classify(l->ctr, k->ifindex, k->master,
				       k->link_nsid, k->peer, cp);
		if (!cp->known)
			l->rescan = true; /* a namespace we have not read */
		return cp->verified ? ROLE_PORT : ROLE_UPLINK;
	}
	if (k->kind == TL_KIND_BRIDGE && bridge_of_ports(l, k))
		return ROLE_PORT;
	return ROLE_UPLINK;
}

static int guard_uplink(struct tl_links *l, struct tl_link *k)
{
	int err;

	if (k->guarded && !k->port)
		return 0;
	err = tl_bpf_attach_tc(l->bpf, k->ifindex, k->type != ARPHRD_ETHER);
	if (err) {
		log_error("attaching TC egress to %s: %s (only local sockets "
			  "are guarded there)",
			  k->name, strerror(-err));
		return err;
	}
	log_info("guarding %s (ifindex %d)", k->name, k->ifindex);
	k->guarded = true;
	k->port = false;
	k->stamp = 0;
	return 0;
}

static int guard_port(struct tl_links *l, struct tl_link *k, uint32_t stamp)
{
	int err;

	if (k->guarded && k->port && !k->stamp == !stamp) {
		k->stamp = stamp;
		return 0;
	}
	err = tl_bpf_attach_tc_port(l->bpf, k->ifindex, stamp != 0);
	if (err) {
		log_error("attaching TC to port %s: %s", k->name,
			  strerror(-err));
		return err;
	}
	if (!k->port)
		log_info("%s (ifindex %d) leads into containers%s", k->name,
			 k->ifindex, stamp ? "; their traffic is attributed" :
					     "");
	k->guarded = true;
	k->port = true;
	k->stamp = stamp;
	return 0;
}

/* Classify, guard (TC first), then publish; ports released last. */
static int update_one(struct tl_links *l, struct tl_link *k)
{
	int was_tunnel = k->tunnel, was_impostor = k->impostor, err = 0;
	uint32_t old_stamp = k->stamp;
	struct tl_ctr_port cp;
	enum role role;

	k->tunnel = tl_tunnel_for_link(l->policy, k->name, k->kind_name,
				       &k->impostor);
	/* a macvlan, veth or NIC that anyone with CAP_NET_ADMIN named like
	 * a tunnel: its traffic is judged as an uplink's */
	if (k->tunnel < 0 && k->impostor >= 0 && k->impostor != was_impostor)
		log_warn("%s (ifindex %d) is named like tunnel %s's interface "
			 "but is of kind %s, not a tunnel kind (wireguard, tun "
			 "or the tunnel's kind:): guarded as an uplink",
			 k->name, k->ifindex,
			 l->policy->tunnels[k->impostor].name,
			 k->kind_name[0] ? k->kind_name : "none (a NIC)");
	role = link_role(l, k, &cp);
	if (role == ROLE_TUNNEL && k->guarded) {
		/* renamed into a tunnel: its traffic is the tunnel's now */
		if (tl_bpf_detach_tc(k->ifindex))
			log_warn("detaching TC from %s failed", k->name);
		k->guarded = k->port = false;
		k->stamp = 0;
	}
	if (role == ROLE_UPLINK)
		guard_uplink(l, k);
	if (role == ROLE_PORT && guard_port(l, k, cp.port))
		guard_uplink(l, k);
	if (k->tunnel >= 0 && was_tunnel != k->tunnel)
		log_info("%s is tunnel %s", k->name,
			 l->policy->tunnels[k->tunnel].name);
	err = publish_iface(l, k);
	if (l->ctr && !k->stamp && (old_stamp || cp.port))
		tl_containers_release(l->ctr, k->ifindex);
	if (!err && (k->tunnel >= 0 || was_tunnel >= 0))
		err = publish_tunnels(l);
	return err;
}

/* A member changed: so may its bridge. */
static int update_link(struct tl_links *l, struct tl_link *k)
{
	int err = update_one(l, k);
	struct tl_link *br = k->master ? find_link(l, k->master) : NULL;

	if (br && br->kind == TL_KIND_BRIDGE)
		update_one(l, br);
	return err;
}

/* Kind, bridge and veth peer: what tells a port from an uplink. */
static void link_topology(const struct tl_nl_link *m, struct tl_link *k)
{
	snprintf(k->kind_name, sizeof(k->kind_name), "%s", m->kind);
	k->kind = TL_KIND_OTHER;
	if (!strcmp(m->kind, "veth"))
		k->kind = TL_KIND_VETH;
	else if (!strcmp(m->kind, "bridge"))
		k->kind = TL_KIND_BRIDGE;
	k->master = m->master;
	k->link_nsid = m->link_nsid;
	k->peer = m->link;
}

static int on_newlink(struct tl_links *l, struct nlmsghdr *h)
{
	struct tl_nl_link m;
	struct tl_link *k;
	int old_master, err = tl_nl_parse_link(h, &m);

	if (err)
		return err;
	/* a bridge's news about its port (STP state), not the link itself */
	if (m.family == AF_BRIDGE)
		return 0;
	if (!m.name[0] || (m.flags & IFF_LOOPBACK))
		return 0;
	k = find_link(l, m.ifindex);
	if (!k) {
		k = add_link(l, m.ifindex);
		if (!k)
			return -ENOMEM;
	}
	snprintf(k->name, sizeof(k->name), "%s", m.name);
	k->flags = m.flags;
	k->type = m.type;
	old_master = k->master;
	link_topology(&m, k);
	if (l->ctr && k->kind == TL_KIND_VETH)
		tl_containers_stale(l->ctr); /* its far side may have changed */
	if (old_master && old_master != k->master) {
		struct tl_link *br = find_link(l, old_master);

		if (br && br->kind == TL_KIND_BRIDGE)
			update_one(l, br); /* it lost a member */
	}
	return update_link(l, k);
}

static int on_dellink(struct tl_links *l, struct nlmsghdr *h)
{
	struct tl_nl_link m;
	struct tl_link *k, *br;
	int master, err = tl_nl_parse_link(h, &m);
	__u32 key = m.ifindex;
	bool tunnel;

	if (err)
		return err;
	k = find_link(l, m.ifindex);
	/* a port left its bridge: the link itself is still there */
	if (!k || m.family == AF_BRIDGE)
		return 0;
	master = k->master;
	tunnel = k->tunnel >= 0;
	log_info("%s (ifindex %d) is gone", k->name, k->ifindex);
	*k = l->v[--l->n];
	err = tl_iface_del(l->bpf, key);
	if (err)
		log_error("dropping interface %u: %s", key, strerror(-err));
	if (l->ctr)
		tl_containers_release(l->ctr, key);
	br = master ? find_link(l, master) : NULL;
	if (br && br->kind == TL_KIND_BRIDGE)
		update_one(l, br);
	/* a NIC may have moved into a namespace behind a port */
	if (l->ctr && !tunnel) {
		tl_containers_stale(l->ctr);
		l->rescan = true;
	}
	if (tl_bump_verdicts(l->bpf))
		return -EIO;
	return tunnel ? publish_tunnels(l) : 0;
}

static int on_addr(struct tl_links *l, struct nlmsghdr *h)
{
	struct tl_nl_addr m;
	struct tl_link *k;
	int err = tl_nl_parse_addr(h, &m);

	if (err)
		return err;
	k = find_link(l, m.ifindex);
	return k && k->tunnel >= 0 ? publish_tunnels(l) : 0;
}

static int dispatch(void *ctx, struct nlmsghdr *h)
{
	struct tl_links *l = ctx;

	switch (h->nlmsg_type) {
	case RTM_NEWLINK:
		return on_newlink(l, h);
	case RTM_DELLINK:
		return on_dellink(l, h);
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return on_addr(l, h);
	}
	return 0;
}

static bool iface_known(void *ctx, __u32 ifindex)
{
	return find_link(ctx, ifindex) != NULL;
}

static bool port_in_use(void *ctx, int ifindex, uint32_t port)
{
	struct tl_link *k = find_link(ctx, ifindex);

	return k && k->stamp == port;
}

static int resync(struct tl_links *l)
{
	int err = tl_nl_dump(&l->nl, RTM_GETLINK, dispatch, l);

	if (err) {
		log_error("dumping links: %s", strerror(-err));
		return err;
	}
	/* entries that an earlier agent or policy left behind */
	err = tl_iface_prune(l->bpf, iface_known, l);
	if (err < 0) {
		log_error("dropping stale interface entries: %s",
			  strerror(-err));
		return err;
	}
	if (l->ctr)
		tl_containers_prune(l->ctr, port_in_use, l);
	return publish_tunnels(l);
}

int tl_links_open(struct tl_links *l, struct tl_bpf *b,
		  const struct tl_policy *p, struct tl_containers *ctr)
{
	unsigned int groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
			      RTMGRP_IPV6_IFADDR;
	int err;

	memset(l, 0, sizeof(*l));
	l->bpf = b;
	l->policy = p;
	l->ctr = ctr;
	l->nl.fd = l->query.fd = -1;
	if (ctr)
		tl_containers_scan(ctr);
	err = tl_nl_open(&l->nl, groups, TL_LINKS_RCVBUF);
	if (!err)
		err = tl_nl_open(&l->query, 0, 0);
	return err ? err : resync(l);
}

int tl_links_handle(struct tl_links *l)
{
	int err, batches;

	for (batches = 0; batches < 64; batches++) {
		err = tl_nl_read(&l->nl, dispatch, l);
		if (err == -EAGAIN)
			return 0;
		if (err == -ENOBUFS) {
			/* We missed changes: resynchronise. */
			log_warn("rtnetlink overrun, resynchronising");
			return resync(l);
		}
		if (err < 0)
			return err;
	}
	return 0;
}

int tl_links_set_policy(struct tl_links *l, const struct tl_policy *p)
{
	int err = 0;

	l->policy = p;
	for (size_t i = 0; i < l->n && !err; i++)
		err = update_link(l, &l->v[i]);
	return err ? err : publish_tunnels(l);
}

/* Veths first, then the bridges that depend on them. */
int tl_links_rescan(struct tl_links *l)
{
	int err = 0;

	if (!l->ctr)
		return 0;
	l->rescan = false;
	tl_containers_scan(l->ctr);
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < l->n; i++) {
			struct tl_link *k = &l->v[i];

			if ((pass == 0 && k->kind == TL_KIND_VETH &&
			     k->link_nsid >= 0) ||
			    (pass == 1 && k->kind == TL_KIND_BRIDGE))
				err = update_one(l, k) ?: err;
		}
	l->rescan = false; /* what is still unknown waits for an event */
	return err;
}

/* A container namespace verified but not attributed yet: its processes
 * may still be on their way into it. */
bool tl_links_pending(const struct tl_links *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->v[i].kind == TL_KIND_VETH && l->v[i].port &&
		    !l->v[i].stamp)
			return true;
	return false;
}

void tl_links_close(struct tl_links *l)
{
	tl_nl_close(&l->nl);
	tl_nl_close(&l->query);
	free(l->v);
	memset(l, 0, sizeof(*l));
	l->nl.fd = l->query.fd = -1;
}
