// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <linux/rtnetlink.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tunlock.h"
#include "inbound.h"
#include "links.h"
#include "netlink.h"
#include "pins.h"
#include "tc.skel.h"

struct tunnel_addr {
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
	struct tl_inbound_addr v;
};

struct addr_set {
	const struct tl_link *links;
	size_t nlinks;
	struct tunnel_addr a[TL_MAX_TUNNEL_ADDRS];
	size_t n;
};

static const struct tl_link *tunnel_link(const struct addr_set *s, int ifindex)
{
	for (size_t i = 0; i < s->nlinks; i++)
		if (s->links[i].tunnel >= 0 && s->links[i].ifindex == ifindex)
			return &s->links[i];
	return NULL;
}

/* One address of the dump: kept when a tunnel has it and it is not
 * scoped to its link (the same address may be the uplink's own). */
static int on_addr(void *ctx, struct nlmsghdr *h)
{
	struct addr_set *s = ctx;
	const struct tl_link *t;
	struct tl_nl_addr m;
	struct tunnel_addr *a;
	int err;

	if (h->nlmsg_type != RTM_NEWADDR || s->n >= TL_MAX_TUNNEL_ADDRS)
		return 0;
	err = tl_nl_parse_addr(h, &m);
	if (err)
		return err;
	t = tunnel_link(s, m.ifindex);
	if (!t || (m.family == AF_INET6 &&
		   IN6_IS_ADDR_LINKLOCAL((struct in6_addr *)m.addr)))
		return 0;
	a = &s->a[s->n];
	memset(a, 0, sizeof(*a));
	if (m.family == AF_INET) {
		a->addr[10] = a->addr[11] = 0xff;
		memcpy(a->addr + 12, m.addr, 4);
	} else if (m.family == AF_INET6) {
		memcpy(a->addr, m.addr, 16);
	} else {
		return 0;
	}
	a->v.tunnel = t->tunnel;
	a->v.ifindex = t->ifindex;
	s->n++;
	return 0;
}

static bool listed(const struct addr_set *s, const __u8 *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (!memcmp(s->a[i].addr, key, 16))
			return true;
	return false;
}

int tl_inbound_publish(struct tl_bpf *b, struct tl_nl *query,
		       const struct tl_link *v, size_t n)
{
	static struct addr_set s;
	int fd = bpf_map__fd(b->tc->maps.tl_inbound), err;
	__u8 key[16], next[16], *prev = NULL;

	if (fd < 0)
		return -EBADF;
	s.links = v;
	s.nlinks = n;
	s.n = 0;
	err = tl_nl_dump(query, RTM_GETADDR, on_addr, &s);
	if (err)
		return err;
	/* stale ones first: deleting the key in hand restarts the walk */
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		if (listed(&s, key)) {
			prev = key;
			continue;
		}
		if (bpf_map_delete_elem(fd, key))
			return -errno;
		prev = NULL;
	}
	for (size_t i = 0; i < s.n; i++)
		if (bpf_map_update_elem(fd, s.a[i].addr, &s.a[i].v, BPF_ANY))
			return -errno;
	return 0;
}
