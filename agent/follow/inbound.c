// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tunlock.h"
#include "inbound.h"
#include "links.h"
#include "pins.h"
#include "tc.skel.h"

struct tunnel_addr {
	__u8 addr[16]; /* IPv4-mapped for IPv4 */
	struct tl_inbound_addr v;
};

/* The address of ifa as tl_inbound's key; false for what is not kept. */
static bool inbound_key(const struct ifaddrs *ifa, __u8 key[16])
{
	const struct sockaddr *sa = ifa->ifa_addr;

	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		memset(key, 0, 10);
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	/* scoped to its link: the same address may be the uplink's own */
	if (IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)sa)->sin6_addr))
		return false;
	memcpy(key, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
	return true;
}

static const struct tl_link *tunnel_link(const struct tl_link *v, size_t n,
					 const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].tunnel >= 0 && !strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

static size_t collect(const struct tl_link *v, size_t n,
		      struct tunnel_addr *out, size_t max)
{
	struct ifaddrs *all, *ifa;
	size_t k = 0;

	if (getifaddrs(&all))
		return 0;
	for (ifa = all; ifa && k < max; ifa = ifa->ifa_next) {
		const struct tl_link *t = tunnel_link(v, n, ifa->ifa_name);

		if (!t || !inbound_key(ifa, out[k].addr))
			continue;
		out[k].v.tunnel = t->tunnel;
		out[k].v.ifindex = t->ifindex;
		k++;
	}
	freeifaddrs(all);
	return k;
}

static bool listed(const struct tunnel_addr *a, size_t n, const __u8 *key)
{
	for (size_t i = 0; i < n; i++)
		if (!memcmp(a[i].addr, key, 16))
			return true;
	return false;
}

int tl_inbound_publish(struct tl_bpf *b, const struct tl_link *v, size_t n)
{
	static struct tunnel_addr want[TL_MAX_TUNNEL_ADDRS];
	int fd = bpf_map__fd(b->tc->maps.tl_inbound);
	size_t k = collect(v, n, want, TL_MAX_TUNNEL_ADDRS);
	__u8 key[16], next[16], *prev = NULL;

	if (fd < 0)
		return -EBADF;
	/* stale ones first: deleting the key in hand restarts the walk */
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		if (listed(want, k, key)) {
			prev = key;
			continue;
		}
		if (bpf_map_delete_elem(fd, key))
			return -errno;
		prev = NULL;
	}
	for (size_t i = 0; i < k; i++)
		if (bpf_map_update_elem(fd, want[i].addr, &want[i].v, BPF_ANY))
			return -errno;
	return 0;
}
