// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fnmatch.h>
#include <ifaddrs.h>
#include <net/if_arp.h>
#include <linux/if_link.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "inbound.h"
#include "links.h"
#include "log.h"

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

/* IPv4 and global IPv6 addresses of a tunnel interface. */
static uint32_t address_flags(const char *ifname)
{
	struct ifaddrs *ifa, *i;
	uint32_t flags = 0;

	if (getifaddrs(&ifa))
		return 0;
	for (i = ifa; i; i = i->ifa_next) {
		if (!i->ifa_addr || strcmp(i->ifa_name, ifname))
			continue;
		if (i->ifa_addr->sa_family == AF_INET) {
			flags |= TL_TUNNEL_IPV4;
		} else if (i->ifa_addr->sa_family == AF_INET6) {
			struct sockaddr_in6 *s6 = (void *)i->ifa_addr;

			if (!IN6_IS_ADDR_LINKLOCAL(&s6->sin6_addr))
				flags |= TL_TUNNEL_IPV6;
		}
	}
	freeifaddrs(ifa);
	return flags;
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
					    address_flags(k->name);
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
	return tl_inbound_publish(l->bpf, l->v, l->n);
}

static int publish_iface(struct tl_links *l, const struct tl_link *k)
{
	struct tl_iface v = {};
	__u32 key = k->ifindex;

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
	if (bpf_map_update_elem(tl_bpf_map_fd(l->bpf, TL_MAP_IFACES), &key, &v,
				BPF_ANY))
		return -errno;
	return 0;
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
static void link_topology(struct nlmsghdr *h, struct tl_link *k)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi)), ilen;
	struct rtattr *a, *i;

	k->kind = TL_KIND_OTHER;
	k->kind_name[0] = '\0';
	k->master = 0;
	k->link_nsid = -1;
	k->peer = 0;
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
		if (a->rta_type == IFLA_MASTER)
			k->master = *(int *)RTA_DATA(a);
		else if (a->rta_type == IFLA_LINK)
			k->peer = *(int *)RTA_DATA(a);
		else if (a->rta_type == IFLA_LINK_NETNSID)
			k->link_nsid = *(__s32 *)RTA_DATA(a);
		if (a->rta_type != IFLA_LINKINFO)
			continue;
		ilen = RTA_PAYLOAD(a);
		for (i = RTA_DATA(a); RTA_OK(i, ilen); i = RTA_NEXT(i, ilen)) {
			if (i->rta_type != IFLA_INFO_KIND)
				continue;
			snprintf(k->kind_name, sizeof(k->kind_name), "%.*s",
				 (int)RTA_PAYLOAD(i), (char *)RTA_DATA(i));
			if (!strcmp(RTA_DATA(i), "veth"))
				k->kind = TL_KIND_VETH;
			else if (!strcmp(RTA_DATA(i), "bridge"))
				k->kind = TL_KIND_BRIDGE;
		}
	}
}

static int on_newlink(struct tl_links *l, struct nlmsghdr *h)
{
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	int len = h->nlmsg_len - NLMSG_LENGTH(sizeof(*ifi));
	const char *name = NULL;
	struct tl_link *k;
	struct rtattr *a;
	int old_master;

	/* a bridge's news about its port (STP state), not the link itself */
	if (ifi->ifi_family == AF_BRIDGE)
		return 0;
	for (a = IFLA_RTA(ifi); RTA_OK(a, len); a = RTA_NEXT(a, len))
		if (a->rta_type == IFLA_IFNAME)
			name = RTA_DATA(a);
	if (!name || (ifi->ifi_flags & IFF_LOOPBACK))
		return 0;
	k = find_link(l, ifi->ifi_index);
	if (!k) {
		k = add_link(l, ifi->ifi_index);
		if (!k)
			return -ENOMEM;
	}
	snprintf(k->name, sizeof(k->name), "%s", name);
	k->flags = ifi->ifi_flags;
	k->type = ifi->ifi_type;
	old_master = k->master;
	link_topology(h, k);
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
	struct ifinfomsg *ifi = NLMSG_DATA(h);
	struct tl_link *k = find_link(l, ifi->ifi_index);
	__u32 key = ifi->ifi_index;
	struct tl_link *br;
	bool tunnel;
	int master;

	/* a port left its bridge: the link itself is still there */
	if (!k || ifi->ifi_family == AF_BRIDGE)
		return 0;
	master = k->master;
	tunnel = k->tunnel >= 0;
	log_info("%s (ifindex %d) is gone", k->name, k->ifindex);
	*k = l->v[--l->n];
	bpf_map_delete_elem(tl_bpf_map_fd(l->bpf, TL_MAP_IFACES), &key);
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
	return tunnel ? publish_tunnels(l) : 0;
}

static int on_addr(struct tl_links *l, struct nlmsghdr *h)
{
	struct ifaddrmsg *ifa = NLMSG_DATA(h);
	struct tl_link *k = find_link(l, ifa->ifa_index);

	return k && k->tunnel >= 0 ? publish_tunnels(l) : 0;
}

static int dispatch(struct tl_links *l, struct nlmsghdr *h)
{
	switch (h->nlmsg_type) {
	case RTM_NEWLINK:
		return on_newlink(l, h);
	case RTM_DELLINK:
		return on_dellink(l, h);
	case RTM_NEWADDR:
	case RTM_DELADDR:
		return on_addr(l, h);
	case NLMSG_ERROR: {
		struct nlmsgerr *e = NLMSG_DATA(h);

		if (e->error)
			log_warn("rtnetlink: %s", strerror(-e->error));
		return 0;
	}
	}
	return 0;
}

/* Reads one datagram; returns 1 when NLMSG_DONE was seen. */
static int read_batch(struct tl_links *l)
{
	char buf[32768] __attribute__((aligned(4)));
	struct nlmsghdr *h;
	ssize_t n;
	int done = 0, err;

	n = recv(l->fd, buf, sizeof(buf), MSG_DONTWAIT);
	if (n < 0) {
		if (errno == ENOBUFS) {
			/* We missed changes: the caller resynchronises. */
			log_warn("rtnetlink overrun, resynchronising");
			return -ENOBUFS;
		}
		return errno == EAGAIN ? -EAGAIN : -errno;
	}
	for (h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
		if (h->nlmsg_type == NLMSG_DONE) {
			done = 1;
			continue;
		}
		err = dispatch(l, h);
		if (err)
			log_warn("handling rtnetlink message %u: %s",
				 h->nlmsg_type, strerror(-err));
	}
	return done;
}

static int request_dump(struct tl_links *l, int type)
{
	struct {
		struct nlmsghdr h;
		struct rtgenmsg g;
	} req = {
		.h.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtgenmsg)),
		.h.nlmsg_type = type,
		.h.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		.h.nlmsg_seq = ++l->seq,
		.g.rtgen_family = AF_UNSPEC,
	};

	return send(l->fd, &req, req.h.nlmsg_len, 0) < 0 ? -errno : 0;
}

/* A full link dump, waited for (bounded: the kernel always ends it). */
static int dump_links(struct tl_links *l)
{
	int err = request_dump(l, RTM_GETLINK), tries;

	for (tries = 0; !err && tries < 10000; tries++) {
		err = read_batch(l);
		if (err == -EAGAIN) {
			usleep(1000);
			err = 0;
		} else if (err == 1) {
			return 0;
		}
	}
	return err ? err : -ETIMEDOUT;
}

/* Drops interface entries that an earlier agent or policy left behind. */
static void prune_ifaces(struct tl_links *l)
{
	int fd = tl_bpf_map_fd(l->bpf, TL_MAP_IFACES);
	__u32 key, next, *prev = NULL;
	__u32 stale[TL_MAX_IFACES];
	size_t nstale = 0;

	while (!bpf_map_get_next_key(fd, prev, &next) &&
	       nstale < TL_MAX_IFACES) {
		if (!find_link(l, next))
			stale[nstale++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < nstale; i++)
		bpf_map_delete_elem(fd, &stale[i]);
}

static bool port_in_use(void *ctx, int ifindex, uint32_t port)
{
	struct tl_link *k = find_link(ctx, ifindex);

	return k && k->stamp == port;
}

static int resync(struct tl_links *l)
{
	int err = dump_links(l);

	if (err) {
		log_error("dumping links: %s", strerror(-err));
		return err;
	}
	prune_ifaces(l);
	if (l->ctr)
		tl_containers_prune(l->ctr, port_in_use, l);
	return publish_tunnels(l);
}

int tl_links_open(struct tl_links *l, struct tl_bpf *b,
		  const struct tl_policy *p, struct tl_containers *ctr)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK,
		.nl_groups = RTMGRP_LINK | RTMGRP_IPV4_IFADDR |
			     RTMGRP_IPV6_IFADDR,
	};
	int rcvbuf = 4 << 20;

	memset(l, 0, sizeof(*l));
	l->bpf = b;
	l->policy = p;
	l->ctr = ctr;
	if (ctr)
		tl_containers_scan(ctr);
	l->fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (l->fd < 0)
		return -errno;
	setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (bind(l->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		int err = -errno;

		close(l->fd);
		return err;
	}
	return resync(l);
}

int tl_links_handle(struct tl_links *l)
{
	int err, batches;

	for (batches = 0; batches < 64; batches++) {
		err = read_batch(l);
		if (err == -EAGAIN)
			return 0;
		if (err == -ENOBUFS)
			return resync(l);
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
	if (l->fd >= 0)
		close(l->fd);
	free(l->v);
	memset(l, 0, sizeof(*l));
	l->fd = -1;
}
