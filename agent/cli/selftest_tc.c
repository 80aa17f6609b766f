// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The part of `tunlock selftest` that cannot be tried live without
 * disturbing the machine (a packet after the tunnel went down, a forwarded
 * packet, a forged packet to a tunnel address from the LAN): test runs of
 * the TC programs attached to each guarded interface, against the live
 * maps, on Ethernet frames to and from documentation addresses.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "selftest_int.h"

#define FRAME_MAX (ETH_HLEN + 40 + 8 + 4)

/* The UDP header and 4 bytes after it: port 40000 to 9. */
static void udp_probe(unsigned char *udp)
{
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[3] = 9;
	udp[5] = 8 + 4;
}

static void frame_eth(unsigned char *b, __u16 proto)
{
	memset(b, 0, FRAME_MAX);
	memcpy(b, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
	b[12] = proto >> 8;
	b[13] = proto & 0xff;
}

static size_t frame_v4(unsigned char *b, __be32 src, __be32 dst)
{
	unsigned char *ip = b + ETH_HLEN, *udp = ip + 20;
	__u32 sum = 0;

	frame_eth(b, ETH_P_IP);
	ip[0] = 0x45;
	ip[3] = 20 + 8 + 4;
	ip[8] = 64;
	ip[9] = IPPROTO_UDP;
	memcpy(ip + 12, &src, 4);
	memcpy(ip + 16, &dst, 4);
	for (int i = 0; i < 20; i += 2)
		sum += ip[i] << 8 | ip[i + 1];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = ~((sum & 0xffff) + (sum >> 16)) & 0xffff;
	ip[10] = sum >> 8;
	ip[11] = sum & 0xff;
	udp_probe(udp);
	return ETH_HLEN + 20 + 8 + 4;
}

/* IPv6 UDP from src to dst (16 bytes each), hop limit 64. */
static size_t frame_v6(unsigned char *b, const void *src, const void *dst)
{
	unsigned char *ip = b + ETH_HLEN, *udp = ip + 40;

	frame_eth(b, ETH_P_IPV6);
	ip[0] = 0x60;
	ip[5] = 8 + 4;
	ip[6] = IPPROTO_UDP;
	ip[7] = 64;
	memcpy(ip + 8, src, 16);
	memcpy(ip + 24, dst, 16);
	udp_probe(udp);
	return ETH_HLEN + 40 + 8 + 4;
}

static __be32 iface_v4(const char *ifname)
{
	struct ifaddrs *all, *i;
	__be32 a = 0;

	if (getifaddrs(&all))
		return 0;
	for (i = all; i && !a; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    !strcmp(i->ifa_name, ifname))
			a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr;
	freeifaddrs(all);
	return a;
}

/*
 * Runs our TC program at point of guarded interface i on a frame, against
 * the live maps, and notes what it did with it: dropped (pass), let
 * through (fail), or no answer (skip).
 */
static void tc_try(const struct context *x, unsigned int i,
		   enum bpf_tc_attach_point point, unsigned char *frame,
		   size_t len, struct outcome *o)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = x->guarded[i],
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TL_TC_HANDLE,
		    .priority = TL_TC_PRIORITY);
	/* the token: its verdict is the self-test's (tl_selftest) */
	struct __sk_buff ctx = { .ifindex = x->guarded[i],
				 .cb = { x->token >> 32, (__u32)x->token } };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame,
		    .data_size_in = len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = 1);
	const char *name = x->guarded_name[i];
	char label[96];
	int fd;

	if (bpf_tc_query(&hook, &tc) || !tc.prog_id) {
		snprintf(label, sizeof(label), "%s: no TC %s filter", name,
			 point == BPF_TC_INGRESS ? "ingress" : "egress");
		selftest_note(o->fail_why, sizeof(o->fail_why), label);
		o->fail++;
		return;
	}
	fd = bpf_prog_get_fd_by_id(tc.prog_id);
	if (fd < 0 || bpf_prog_test_run_opts(fd, &run)) {
		snprintf(label, sizeof(label), "%s: test run: %s", name,
			 strerror(errno));
		selftest_note(o->skip_why, sizeof(o->skip_why), label);
		o->skip++;
	} else if (run.retval == TC_ACT_SHOT) {
		selftest_note(o->pass_why, sizeof(o->pass_why), name);
		o->pass++;
	} else {
		snprintf(label, sizeof(label), "%s: TC lets it %s", name,
			 point == BPF_TC_INGRESS ? "in" : "out");
		selftest_note(o->fail_why, sizeof(o->fail_why), label);
		o->fail++;
	}
	if (fd >= 0)
		close(fd);
}

/*
 * The TC egress program of each guarded Ethernet interface (test runs
 * build Ethernet frames) on a packet to TEST-NET-3: from the interface's
 * own address, or (forwarded) from one this host does not have.
 */
void tl_selftest_tc_run(const struct context *x, struct tl_selftest_class *c,
			bool forwarded)
{
	struct outcome o = {};
	__be32 dst = inet_addr(PROBE_V4);
	unsigned char frame[FRAME_MAX];

	if (forwarded && (x->cfg.flags & TL_SETTINGS_NO_SOCKET_ALLOW)) {
		selftest_set(c, TL_SELFTEST_SKIP, "%s",
		    "the policy allows packets with no socket (no_socket: allow)");
		return;
	}
	for (unsigned int i = 0; i < x->nguarded; i++) {
		__be32 src = forwarded ? inet_addr(PROBE_FORWARDED_SRC) :
					 iface_v4(x->guarded_name[i]);

		if (x->guarded_l3[i])
			continue;
		if (src)
			tc_try(x, i, BPF_TC_EGRESS, frame,
			       frame_v4(frame, src, dst), &o);
		else
			selftest_note(o.skip_why, sizeof(o.skip_why),
			     "an interface without IPv4 address");
	}
	selftest_conclude(c, &o, "no guarded Ethernet interface");
}

/* The frame someone on the LAN forges to a tunnel address (IPv4-mapped
 * for IPv4), from a documentation address of its family. */
static size_t forged_frame(unsigned char *frame, const __u8 *tunnel_addr,
			   bool *v6)
{
	struct in6_addr src;
	__be32 dst;

	*v6 = memcmp(tunnel_addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12);
	if (*v6) {
		inet_pton(AF_INET6, PROBE_V6, &src);
		return frame_v6(frame, &src, tunnel_addr);
	}
	memcpy(&dst, tunnel_addr + 12, 4);
	return frame_v4(frame, inet_addr(PROBE_V4), dst);
}

/* Which families were forged, and why one was not. */
static void note_families(struct tl_selftest_class *c, const bool have[2])
{
	size_t n = strlen(c->why);

	snprintf(c->why + n, sizeof(c->why) - n, "; %s",
		 have[0] && have[1] ? "IPv4 and IPv6 tried" :
		 have[0] ? "IPv4 tried; IPv6 not: no tunnel has an IPv6 address" :
			   "IPv6 tried; IPv4 not: no tunnel has an IPv4 address");
}

/*
 * The TC ingress program of each guarded Ethernet interface on a packet
 * from a documentation address to each address of a tunnel (tl_inbound),
 * IPv4 and IPv6: what someone on the LAN forges (CVE-2019-14899). A family
 * no tunnel has an address of is said in the reason.
 */
void tl_selftest_inbound(const struct context *x, struct tl_selftest_class *c)
{
	int fd;
	__u8 key[16], next[16], *prev = NULL;
	unsigned char frame[FRAME_MAX];
	bool have[2] = {}, v6;
	struct outcome o = {};
	char path[PATH_MAX];
	size_t len;

	if (tl_pin_path(path, sizeof(path), x->pin_dir, "tl_inbound") ||
	    (fd = bpf_obj_get(path)) < 0) {
		selftest_set(c, TL_SELFTEST_FAIL, "%s", "no tl_inbound map pinned");
		return;
	}
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		len = forged_frame(frame, key, &v6);
		for (unsigned int i = 0; i < x->nguarded; i++) {
			if (x->guarded_l3[i])
				continue;
			tc_try(x, i, BPF_TC_INGRESS, frame, len, &o);
			have[v6] = true;
		}
	}
	close(fd);
	selftest_conclude(c, &o, "no tunnel with an address, or no guarded "
			"Ethernet interface");
	if (c->result != TL_SELFTEST_SKIP)
		note_families(c, have);
}
