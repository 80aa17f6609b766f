// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The part of `tunlock selftest` that cannot be tried live without
 * disturbing the machine (a packet after the tunnel went down, a forwarded
 * packet, a forged packet to a tunnel address from the LAN): test runs of
 * the TC programs attached to each guarded interface, against the live
 * maps, on IPv4 Ethernet frames to and from documentation addresses.
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

static size_t frame_v4(unsigned char *b, __be32 src, __be32 dst)
{
	unsigned char *ip = b + ETH_HLEN, *udp = ip + 20;
	__u32 sum = 0;

	memset(b, 0, ETH_HLEN + 20 + 8 + 4);
	memcpy(b, "\x02\0\0\0\0\x01\x02\0\0\0\0\x02", 12);
	b[12] = ETH_P_IP >> 8;
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
	udp[0] = 40000 >> 8;
	udp[1] = 40000 & 0xff;
	udp[3] = 9;
	udp[5] = 8 + 4;
	return ETH_HLEN + 20 + 8 + 4;
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
 * Runs our TC program at point of guarded interface i on an IPv4 frame
 * from src to dst, against the live maps, and notes what it did with it:
 * dropped (pass), let through (fail), or no answer (skip).
 */
static void tc_try(const struct context *x, unsigned int i,
		   enum bpf_tc_attach_point point, __be32 src, __be32 dst,
		   struct outcome *o)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = x->guarded[i],
		    .attach_point = point);
	LIBBPF_OPTS(bpf_tc_opts, tc, .handle = TL_TC_HANDLE,
		    .priority = TL_TC_PRIORITY);
	unsigned char frame[64];
	struct __sk_buff ctx = { .ifindex = x->guarded[i] };
	LIBBPF_OPTS(bpf_test_run_opts, run, .data_in = frame,
		    .data_size_in = frame_v4(frame, src, dst), .ctx_in = &ctx,
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
			tc_try(x, i, BPF_TC_EGRESS, src, dst, &o);
		else
			selftest_note(o.skip_why, sizeof(o.skip_why),
			     "an interface without IPv4 address");
	}
	selftest_conclude(c, &o, "no guarded Ethernet interface");
}

/*
 * The TC ingress program of each guarded Ethernet interface on a packet
 * from TEST-NET-3 to each IPv4 address of a tunnel (tl_inbound): what
 * someone on the LAN forges (CVE-2019-14899).
 */
void tl_selftest_inbound(const struct context *x, struct tl_selftest_class *c)
{
	int fd;
	__u8 key[16], next[16], *prev = NULL;
	struct outcome o = {};
	char path[PATH_MAX];
	__be32 dst;

	if (tl_pin_path(path, sizeof(path), x->pin_dir, "tl_inbound") ||
	    (fd = bpf_obj_get(path)) < 0) {
		selftest_set(c, TL_SELFTEST_FAIL, "%s", "no tl_inbound map pinned");
		return;
	}
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, sizeof(key));
		prev = key;
		if (memcmp(key, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12))
			continue; /* test runs build IPv4 frames */
		memcpy(&dst, key + 12, 4);
		for (unsigned int i = 0; i < x->nguarded; i++)
			if (!x->guarded_l3[i])
				tc_try(x, i, BPF_TC_INGRESS,
				       inet_addr(PROBE_V4), dst, &o);
	}
	close(fd);
	selftest_conclude(c, &o, "no tunnel with an IPv4 address, or no guarded "
			"Ethernet interface");
}
