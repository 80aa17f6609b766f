// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Packet tests: the TC and cgroup_skb programs run on crafted frames with
 * BPF_PROG_TEST_RUN, against a real policy applied to real maps. Each case
 * asserts the verdict and that exactly the expected counter moved.
 *
 * Runs in a network namespace of its own (interfaces for ifindex)
 * and a pin directory of its own, removed at the end.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "cgroup.h"
#include "events.h"
#include "kfeatures.h"
#include "pins.h"
#include "names.h"
#include "policy.h"
#include "tc.skel.h"
#include "cgroup_skb.skel.h"
#include "../bpftest.h"
#include "../frames.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

/* skb->gso_size of the next runs: a GSO superpacket */
static __u32 run_gso_size;
/* up0 is guarded, wg0 a tunnel, new0 appeared and is not known yet,
 * vport the host end of a container's veth */
static int ifindex_uplink, ifindex_tunnel, ifindex_new, ifindex_port;
/* past the array of interface slots: looked up in the tl_ifaces hash */
static int ifindex_high;

/* ---- running and judging ------------------------------------------- */

static __u64 total_counters(void)
{
	__u64 sum = 0;

	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		sum += layer_counters(l);
	return sum;
}

struct expect {
	bool pass;
	__u32 reason;
	__u32 verdict;
};

#define PASS(r) ((struct expect){ true, (r), TL_VERDICT_PASS })
#define BLOCK(r) ((struct expect){ false, (r), TL_VERDICT_BLOCKED })
#define AUDIT(r) ((struct expect){ true, (r), TL_VERDICT_AUDIT })
/* passes and counts nothing: another layer has reported it */
#define SILENT ((struct expect){ true, TL_REASON_MAX, TL_VERDICT_PASS })

/*
 * The agent's namespace is made another for a case: a test run's skb has
 * no socket, so where cgroup_skb may not call bpf_get_netns_cookie (it then
 * takes the namespace sock_create recorded) it cannot see the difference.
 */
static bool netns_faked;

/* A case in a faked namespace that this kernel's programs cannot tell
 * apart (docs/compatibility.md): a SKIP line, true. */
static bool skip_faked_netns(const char *label, __u32 layer)
{
	const char *why = NULL;

	if (!netns_faked)
		return false;
	if (layer == TL_LAYER_CGROUP_SKB && !tl_kernel_has_skb_netns())
		why = "kernel without bpf_get_netns_cookie for cgroup_skb: a "
		      "test run's namespace is the agent's";
	/* before Linux 6.3 TC egress trusts marks from any namespace */
	if (layer == TL_LAYER_TC && !bpf.route_proof)
		why = "kernel without bpf_cast_to_kern_ctx: TC egress cannot "
		      "tell another namespace's packets";
	if (why)
		printf("SKIP: %s: %s\n", label, why);
	return why;
}

/*
 * repeat test runs of frame f with ctx as the __sk_buff (written back to
 * ctx afterwards): 0 with the program's return value in *retval, or -1
 * (errno) when the run failed.
 */
static int test_run(int prog_fd, const struct frame *f,
		    struct __sk_buff *ctx, __u32 repeat, __u32 *retval)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = f->b,
		    .data_size_in = f->len, .ctx_in = ctx,
		    .ctx_size_in = sizeof(*ctx), .ctx_out = ctx,
		    .ctx_size_out = sizeof(*ctx), .repeat = repeat);

	if (bpf_prog_test_run_opts(prog_fd, &o))
		return -1;
	*retval = o.retval;
	return 0;
}

static void run(const char *name, int prog_fd, __u32 layer,
		const struct frame *f, int ifindex, __u32 mark,
		struct expect want)
{
	struct __sk_buff ctx = { .ifindex = ifindex,
				 .mark = mark,
				 .gso_size = run_gso_size };
	__u64 before, after, all_before, all_after;
	__u32 got;
	int retval = layer == TL_LAYER_TC ? (want.pass ? TC_ACT_OK : TC_ACT_SHOT) :
					     (want.pass ? 1 : 0);
	char label[160];

	snprintf(label, sizeof(label), "%s/%s",
		 layer == TL_LAYER_TC ? "tc" : "cgroup_skb", name);
	bool silent = want.reason == TL_REASON_MAX;

	if (skip_faked_netns(label, layer))
		return;

	if (!silent)
		read_counter(layer, want.reason, want.verdict, &before);
	all_before = total_counters();
	if (test_run(prog_fd, f, &ctx, 1, &got)) {
		report(false, label, "test run failed: %s", strerror(errno));
		return;
	}
	if (!silent)
		read_counter(layer, want.reason, want.verdict, &after);
	all_after = total_counters();
	if ((int)got != retval)
		report(false, label, "program returned %u, want %d (%s)",
		       got, retval, want.pass ? "pass" : "drop");
	else if (silent && all_after != all_before)
		report(false, label, "counters moved by %llu, want 0",
		       (unsigned long long)(all_after - all_before));
	else if (!silent && (after - before != 1 || all_after - all_before != 1))
		report(false, label,
		       "counter %s/%s moved by %llu (all counters by %llu), "
		       "want exactly 1",
		       tl_reason_name(want.reason),
		       tl_verdict_name(want.verdict),
		       (unsigned long long)(after - before),
		       (unsigned long long)(all_after - all_before));
	else
		report(true, label, NULL);
}

/* TC egress as the loader chose it: before Linux 6.3 the _unproven one */
static int tc_fd(void)
{
	return bpf_program__fd(bpf.route_proof ?
				       bpf.tc->progs.tl_tc_egress :
				       bpf.tc->progs.tl_tc_egress_unproven);
}

static int skb_fd(void)
{
	return bpf_program__fd(bpf.skb->progs.tl_cgroup_skb_egress);
}

/* An IP frame judged alike by both packet layers. */
static void both(const char *name, const struct frame *f, int ifindex,
		 __u32 mark, struct expect want)
{
	run(name, tc_fd(), TL_LAYER_TC, f, ifindex, mark, want);
	run(name, skb_fd(), TL_LAYER_CGROUP_SKB, f, ifindex, mark, want);
}

/* ---- the last event on the ring buffer ------------------------------ */

static struct tl_event last_event;
static int events_seen;

static int on_event(void *ctx, void *data, size_t size)
{
	(void)ctx;
	if (size >= sizeof(last_event))
		memcpy(&last_event, data, sizeof(last_event));
	events_seen++;
	return 0;
}

static void check_event(const char *name, struct ring_buffer *rb,
			__u32 reason, __u32 layer, const char *dst,
			uint16_t dport)
{
	struct tl_event_context ctx = { .ifname = "up0", .profile = "locked" };
	char line[2048], want[128];

	events_seen = 0;
	ring_buffer__consume(rb);
	if (events_seen != 1) {
		report(false, name, "%d events, want 1", events_seen);
		return;
	}
	if (last_event.reason != reason || last_event.layer != layer) {
		report(false, name, "event reason %s layer %s",
		       tl_reason_name(last_event.reason),
		       tl_layer_name(last_event.layer));
		return;
	}
	if (tl_event_format(&last_event, &ctx, line, sizeof(line)) < 0) {
		report(false, name, "event does not format");
		return;
	}
	snprintf(want, sizeof(want), "\"dst\":\"%s\",\"dport\":%u", dst,
		 dport);
	report(strstr(line, want) != NULL, name, "%s lacks %s", line, want);
}

/* ---- policy and runtime state --------------------------------------- */

static const char *const policy_fmt =
	"%s"
	"mode: %s\n"
	"no_socket: %s\n"
	"tunnels:\n"
	"  - name: lab\n"
	"    interface: wg*\n"
	"    endpoints:\n"
	"      - {address: 198.51.100.2, port: 51820, protocol: udp}\n"
	"      - {address: '2001:db8::2', port: 51820, protocol: udp}\n"
	"    client: {fwmark: 0xca6c}\n"
	"    resolvers: [100.100.0.1]\n"
	"profiles:\n"
	"  - name: locked\n"
	"    allow:\n"
	"      - {cidr: 203.0.113.0/24, protocol: tcp, ports: [443]}\n"
	"      - {cidr: 198.51.100.128/25}\n"
	"      - {cidr: 198.51.100.20/32, protocol: udp, ports: [53000]}\n"
	"      - {cidr: '2001:db8:1::/48', protocol: udp, ports: [5000-5010]}\n"
	"      - {cidr: '2001:db8:7::9/128'}\n"
	"  - name: lan\n"
	"    lan: allow\n"
	"  - name: v6block\n"
	"    lan: allow\n"
	"    ipv6: block\n"
	"  - name: lan-ordinary-dns\n"
	"    lan: allow\n"
	"    dns: ordinary\n"
	"  - name: lan-redirect\n"
	"    lan: allow\n"
	"    dns: redirect\n"
	"cgroups:\n"
	"  - {path: /, profile: %s}\n";

/* extra: top-level keys put before the rest (e.g. dns_ports); events: the
 * value of an `events:` key, or NULL for the default rate limit */
static int apply_full(const char *extra, const char *mode,
		      const char *no_socket, const char *profile,
		      const char *events)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml), policy_fmt, extra, mode, no_socket,
		 profile);
	if (events)
		snprintf(yaml + strlen(yaml), sizeof(yaml) - strlen(yaml),
			 "events: %s\n", events);
	return apply_yaml(yaml);
}

static int apply_events(const char *mode, const char *no_socket,
			const char *profile, const char *events)
{
	return apply_full("", mode, no_socket, profile, events);
}

static int apply_extra(const char *extra, const char *mode,
		       const char *no_socket, const char *profile)
{
	return apply_full(extra, mode, no_socket, profile, NULL);
}

static int apply(const char *mode, const char *no_socket, const char *profile)
{
	return apply_full("", mode, no_socket, profile, NULL);
}

static int set_iface(int ifindex, __u32 flags)
{
	struct tl_iface v = { .flags = flags };

	return tl_iface_put(&bpf, ifindex, &v);
}

static int make_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	char high[96];

	snprintf(high, sizeof(high),
		 "ip link add high0 index %d type veth peer name high0p",
		 TL_IFACE_SLOTS + 10);
	/* veth: the kernel may have no dummy driver */
	if (system("ip link add up0 type veth peer name up0p && "
		   "ip link add wg0 type veth peer name wg0p && "
		   "ip link add new0 type veth peer name new0p && "
		   "ip link add vport type veth peer name vportp") ||
	    system(high))
		return -1;
	ifindex_uplink = if_nametoindex("up0");
	ifindex_tunnel = if_nametoindex("wg0");
	ifindex_new = if_nametoindex("new0");
	ifindex_port = if_nametoindex("vport");
	ifindex_high = if_nametoindex("high0");
	return ifindex_uplink && ifindex_tunnel && ifindex_new &&
			       ifindex_port && ifindex_high == TL_IFACE_SLOTS + 10 ?
		       0 :
		       -1;
}

/* ---- the cases ------------------------------------------------------ */

/* An IPv4 fragment (frag: flags and offset) to dst, of datagram id. */
static void frag4(struct frame *f, const char *dst, uint16_t id, uint16_t frag)
{
	eth(f, ETH_P_IP);
	ipv4(f, "10.213.0.2", dst, IPPROTO_UDP, frag, 5);
	f->b[ETH_HLEN + 4] = id >> 8;
	f->b[ETH_HLEN + 5] = id & 0xff;
}

/* An IPv6 fragment (offset in 8-byte units) to the LAN host, of datagram id. */
static void frag6_to(struct frame *f, uint8_t id, uint16_t offset, bool more)
{
	eth(f, ETH_P_IPV6);
	ipv6(f, "fd13:213::2", "fd13:213::5", IPPROTO_FRAGMENT);
	frag6(f, IPPROTO_UDP, offset, more);
	f->b[f->len - 1] = id; /* identification */
}

/* A UDP header that claims ulen bytes, and n bytes of payload. */
static void udp_part(struct frame *f, uint16_t dport, uint16_t ulen,
		     const void *payload, size_t n)
{
	put16(f, 40000);
	put16(f, dport);
	put16(f, ulen);
	put16(f, 0);
	put(f, payload, n);
}

/*
 * IPv4 options: a loose or strict source route makes the header's
 * destination only the first hop; other options pass as before. Options
 * that cannot be read through are malformed. The tunnel is down here.
 */
static void cases_ipv4_source_routes(struct ring_buffer *rb)
{
	enum { LSRR = 131, SSRR = 137, NOP = 1, RR = 7 };
	struct {
		const char *name;
		uint8_t opts[40];
		size_t n;
		uint16_t frag;
		struct expect want;
	} cases[] = {
	    {"ipv4 loose source route via an allowed hop",
	     {LSRR, 7, 4, 203, 0, 113, 99}, 7, 0, BLOCK(TL_REASON_TUNNEL_DOWN)},
	    {"ipv4 strict source route behind no-ops",
	     {NOP, NOP, SSRR, 7, 4, 203, 0, 113, 99}, 9, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN)},
	    {"ipv4 source route behind another option",
	     {RR, 7, 4, 0, 0, 0, 0, LSRR, 7, 4, 203, 0, 113, 99}, 14, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN)},
	    {"ipv4 source route behind 36 no-ops", {[36] = LSRR, 3, 4, NOP}, 40,
	     0, BLOCK(TL_REASON_TUNNEL_DOWN)},
	    {"ipv4 source route, later fragment", {LSRR, 7, 4, 203, 0, 113, 99},
	     7, 0x0010, BLOCK(TL_REASON_TUNNEL_DOWN)},
	    {"ipv4 record route, allowed port", {RR, 7, 4}, 7, 0,
	     PASS(TL_ALLOW_LISTED)},
	    {"ipv4 router alert, allowed port", {148, 4}, 4, 0,
	     PASS(TL_ALLOW_LISTED)},
	    {"ipv4 40 bytes of no-ops, allowed port", {0}, 40, 0,
	     PASS(TL_ALLOW_LISTED)},
	    {"ipv4 option of length 1", {NOP, 68, 1}, 3, 0,
	     BLOCK(TL_REASON_MALFORMED)},
	    {"ipv4 option cut by the header's end", {[39] = LSRR}, 40, 0,
	     BLOCK(TL_REASON_MALFORMED)},
	};
	struct frame f;

	/* no-ops where a case leaves zeros before its last option */
	memset(cases[3].opts, NOP, 36);
	memset(cases[7].opts, NOP, 40);
	memset(cases[9].opts, NOP, 39);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		eth(&f, ETH_P_IP);
		ipv4_options(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP,
			     cases[i].frag, cases[i].opts, cases[i].n);
		if (cases[i].frag)
			put(&f, "fragment-data-xx", 16);
		else
			tcp(&f, 40000, 443);
		both(cases[i].name, &f, ifindex_uplink, 0, cases[i].want);
		ring_buffer__consume(rb);
	}
}

static void cases_enforce(struct ring_buffer *rb)
{
	struct frame f;

	/* VPN transport: only with the client's fwmark. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.2", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 51820);
	both("ipv4 transport with fwmark", &f, ifindex_uplink, 0xca6c,
	     PASS(TL_ALLOW_TRANSPORT));
	both("ipv4 to endpoint without fwmark", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_ENDPOINT));
	ring_buffer__consume(rb);
	both("ipv4 to endpoint with another mark", &f, ifindex_uplink, 0x1,
	     BLOCK(TL_REASON_ENDPOINT));
	ring_buffer__consume(rb);

	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8::2", IPPROTO_UDP);
	udp(&f, 40000, 51820);
	both("ipv6 transport with fwmark", &f, ifindex_uplink, 0xca6c,
	     PASS(TL_ALLOW_TRANSPORT));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.2", IPPROTO_UDP, 0, 6);
	udp(&f, 40000, 51820);
	both("ipv4 transport with options (full path)", &f, ifindex_uplink,
	     0xca6c, PASS(TL_ALLOW_TRANSPORT));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.3", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 51820);
	both("marked udp to another address", &f, ifindex_uplink, 0xca6c,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.2", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 51821);
	both("marked udp to another endpoint port", &f, ifindex_uplink, 0xca6c,
	     BLOCK(TL_REASON_ENDPOINT));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.2", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 51820);
	both("tcp to the endpoint address, even marked", &f, ifindex_uplink,
	     0xca6c, BLOCK(TL_REASON_ENDPOINT));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.2", IPPROTO_ICMP, 0, 5);
	icmp(&f, 8);
	both("ping to the endpoint address", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_ENDPOINT));
	ring_buffer__consume(rb);

	/* The tunnel interface passes everything. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "100.100.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	/* (TC is never attached to a tunnel interface) */
	run("ipv4 on the tunnel interface", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_tunnel, 0, PASS(TL_ALLOW_TUNNEL));

	/* Tunnel down: not allowed outside the tunnel. */
	both("ipv4 tcp 80 with the tunnel down", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	run("event for the blocked tcp 80", tc_fd(), TL_LAYER_TC, &f,
	    ifindex_uplink, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	check_event("tc/event names the destination", rb,
		    TL_REASON_TUNNEL_DOWN, TL_LAYER_TC, "203.0.113.10", 80);
	ring_buffer__consume(rb);

	/* Allow list: CIDR, protocol and port. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 443);
	both("ipv4 allowed cidr and port", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 443);
	both("ipv4 allowed cidr, wrong protocol", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.200", IPPROTO_ICMP, 0, 5);
	icmp(&f, 8);
	both("ipv4 allowed cidr, any protocol", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	/* Exact addresses are in their own table (tl_allow_exact), asked
	 * before the trie: these pass only when it answers. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.20", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 53000);
	both("ipv4 allowed /32 and port", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.20", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	both("ipv4 allowed /32, other port", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "2001:db8:5::2", "2001:db8:7::9", IPPROTO_TCP);
	tcp(&f, 40000, 80);
	both("ipv6 allowed /128", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));

	/* IPv4 fragments: a later fragment carries no ports; it takes the
	 * verdict of its datagram's first fragment. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP, 0x2000, 5);
	tcp(&f, 40000, 443);
	both("ipv4 first fragment to allowed port", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP, 0x0010, 5);
	put(&f, "fragment-data-xx", 16);
	both("ipv4 later fragment follows its first", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	f.b[ETH_HLEN + 5] = 9; /* another datagram */
	both("ipv4 later fragment of no judged datagram", &f, ifindex_uplink,
	     0, BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	frag4(&f, "198.51.100.200", 0, 0x0010);
	put(&f, "fragment-data-xx", 16);
	both("ipv4 later fragment alone, to an any-port rule", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);

	/* IPv4 options: the transport header is found past them. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP, 0, 8);
	tcp(&f, 40000, 443);
	both("ipv4 with options, allowed port", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	cases_ipv4_source_routes(rb);

	/* IPv6 extension headers are walked to the transport header. */
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 0 /* hop-by-hop */);
	ext8(&f, 60 /* destination options */);
	ext8(&f, IPPROTO_UDP);
	udp(&f, 40000, 5005);
	both("ipv6 hop-by-hop and dstopts, allowed port", &f, ifindex_uplink,
	     0, PASS(TL_ALLOW_LISTED));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 0);
	ext8(&f, IPPROTO_UDP);
	udp(&f, 40000, 6000);
	both("ipv6 hop-by-hop, port not allowed", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 44);
	frag6(&f, IPPROTO_UDP, 0, true);
	udp(&f, 40000, 5001);
	both("ipv6 first fragment, allowed port", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 44);
	frag6(&f, IPPROTO_UDP, 16, false);
	put(&f, "fragment-data-xx", 16);
	both("ipv6 later fragment follows its first", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LISTED));
	f.b[f.len - 17] = 9; /* another datagram */
	both("ipv6 later fragment of no judged datagram", &f, ifindex_uplink,
	     0, BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);

	/* A routing header with segments left: the header's destination is
	 * only the first hop, which would carry it on outside the tunnel. */
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 43 /* routing */);
	rthdr(&f, IPPROTO_UDP, 4, 1, "2001:db8:99::9");
	udp(&f, 40000, 5005);
	both("ipv6 routing header with a segment left, to an allowed hop", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	f.b[ETH_HLEN + 40 + 3] = 0; /* none left */
	both("ipv6 routing header, no segment left, allowed port", &f,
	     ifindex_uplink, 0, PASS(TL_ALLOW_LISTED));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 0 /* hop-by-hop */);
	ext8(&f, 43);
	rthdr(&f, IPPROTO_UDP, 2 /* mobile IPv6 */, 1, "2001:db8:1::5");
	udp(&f, 40000, 5005);
	both("ipv6 routing header of any type, behind hop-by-hop", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 43);
	rthdr(&f, 44, 4, 1, "2001:db8:99::9");
	frag6(&f, IPPROTO_UDP, 0, true);
	udp(&f, 40000, 5005);
	both("ipv6 routing header, first fragment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 43);
	rthdr(&f, 44, 4, 1, "2001:db8:99::9");
	frag6(&f, IPPROTO_UDP, 16, false);
	put(&f, "fragment-data-xx", 16);
	both("ipv6 routing header, later fragment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 43);
	put(&f, (uint8_t[]){ IPPROTO_UDP, 0, 4 }, 3);
	both("ipv6 routing header cut short", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);

	/* VLAN tags (TC only: cgroup_skb never sees a tag). */
	eth(&f, 0x8100);
	vlan(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.2", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 51820);
	run("802.1Q transport with fwmark", tc_fd(), TL_LAYER_TC, &f,
	    ifindex_uplink, 0xca6c, PASS(TL_ALLOW_TRANSPORT));
	eth(&f, 0x88a8);
	vlan(&f, 0x8100);
	vlan(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	run("802.1ad double tag, blocked", tc_fd(), TL_LAYER_TC, &f,
	    ifindex_uplink, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);

	/* LAN with a LAN-blocked profile. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	both("lan blocked by the profile", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);

	/* Malformed and truncated headers fail closed. */
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP, 0, 5);
	f.b[14] = 0x4f; /* options claimed to the 60th byte, packet ends */
	both("ipv4 header length past the end", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP, 0, 3);
	tcp(&f, 40000, 443);
	both("ipv4 header length below 20", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_UDP, 0, 5);
	put(&f, "\x9c", 1);
	both("truncated udp header", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", IPPROTO_TCP);
	put(&f, "\x9c\x40", 2);
	both("truncated tcp header in ipv6", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 0);
	put(&f, "\x3c", 1);
	both("truncated ipv6 extension header", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "2001:db8:1::5", 0);
	for (int i = 0; i < 9; i++)
		ext8(&f, i < 8 ? 60 : IPPROTO_UDP);
	udp(&f, 40000, 5005);
	both("ipv6 chain longer than followed", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	eth(&f, 0x8100);
	put(&f, "\x00", 1);
	run("truncated vlan tag", tc_fd(), TL_LAYER_TC, &f, ifindex_uplink, 0,
	    BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.77", IPPROTO_TCP, 0, 5);
	f.b[14] = 0x65; /* version 6 in an IPv4 frame */
	tcp(&f, 40000, 443);
	both("ipv4 frame with version 6", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
}

/* As if the agent lived in another namespace than the test (on), and back
 * (off); saved holds the state in between. */
static bool agent_elsewhere(bool on, struct tl_state *saved, const char *name)
{
	int fd = tl_bpf_map_fd(&bpf, TL_MAP_STATE);
	struct tl_state st;
	__u32 zero = 0;

	netns_faked = on;
	if (!on)
		return !bpf_map_update_elem(fd, &zero, saved, BPF_ANY);
	if (bpf_map_lookup_elem(fd, &zero, &st)) {
		report(false, name, "no state");
		return false;
	}
	*saved = st;
	st.netns_cookie ^= 1;
	return !bpf_map_update_elem(fd, &zero, &st, BPF_ANY);
}

/* ---- allow tables kept across applies -------------------------------- */

static const char *const allow_fmt =
	"tunnels: [{name: lab, interface: 'wg*', client: {fwmark: 0xca6c},\n"
	"  endpoints: [{address: 198.51.100.2, port: 51820, protocol: udp}]}]\n"
	"profiles:\n"
	"  - name: locked\n"
	"    allow:\n"
	"      - {cidr: 203.0.113.0/24, protocol: tcp, ports: [443]}\n"
	"      - {cidr: %s/32, protocol: udp, ports: [%u]}\n"
	"cgroups:\n"
	"  - {path: /, profile: locked}\n";

static int parse_allow(struct tl_policy *p, const char *addr,
		       unsigned int port)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml), allow_fmt, addr, port);
	return tl_policy_parse("bpf-test", yaml, strlen(yaml), p, stderr);
}

/* A policy whose exact rule is addr:port/udp; how many allow tables the
 * apply kept from the policy before, or -1. */
static int apply_allow(const char *addr, unsigned int port)
{
	struct tl_applied ap;
	struct tl_policy p;
	int err;

	if (parse_allow(&p, addr, port))
		return -1;
	err = tl_apply_policy(&bpf, &p, cg_mount, &ap);
	tl_policy_free(&p);
	return err ? -1 : (int)ap.reused;
}

/* Applies addr:port with the allow tables made ahead for the policy of
 * made_for:port, parsed apart (the same policy when NULL); how many the
 * apply took, or -1. */
static int apply_ahead(const char *addr, unsigned int port,
		       const char *made_for)
{
	struct tl_policy p, other;
	struct tl_ahead *ahead = NULL;
	struct tl_applied ap;
	int err = -1;

	if (parse_allow(&p, addr, port))
		return -1;
	if (!made_for)
		ahead = tl_apply_ahead(&p);
	else if (!parse_allow(&other, made_for, port)) {
		ahead = tl_apply_ahead(&other);
		tl_policy_free(&other);
	}
	if (ahead)
		err = tl_apply_policy_ahead(&bpf, &p, cg_mount, ahead, &ap);
	tl_apply_ahead_free(ahead);
	tl_policy_free(&p);
	return err ? -1 : (int)ap.ahead;
}

/* The table of outer map id in slot, as its map id and size. */
static int slot_table(enum tl_map_id outer, __u32 slot, __u32 *id,
		      __u32 *max_entries)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	int fd, err;

	if (bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, outer), &slot, id))
		return -errno;
	fd = bpf_map_get_fd_by_id(*id);
	if (fd < 0)
		return -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len) ? -errno : 0;
	*max_entries = info.max_entries;
	close(fd);
	return err;
}

static __u32 live_slot(void)
{
	struct tl_state st = {};
	__u32 zero = 0;

	bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, TL_MAP_STATE), &zero, &st);
	return st.active_slot;
}

static bool slots_share(enum tl_map_id outer)
{
	__u32 a, b, max;

	return !slot_table(outer, 0, &a, &max) &&
	       !slot_table(outer, 1, &b, &max) && a == b;
}

static void send_udp(const char *name, const char *dst, uint16_t port,
		     struct expect want, struct ring_buffer *rb)
{
	struct frame f;

	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", dst, IPPROTO_UDP, 0, 5);
	udp(&f, 40000, port);
	both(name, &f, ifindex_uplink, 0, want);
	ring_buffer__consume(rb);
}

/*
 * An apply whose allow table would hold what the live slot's holds shares
 * that table instead of filling another (the tables are never written
 * once in a slot); one that differs in an address, or only in a port,
 * gets a fresh table, and its packets see the new entries. The exact
 * table is made as large as its entries.
 */
static void cases_allow_tables(struct ring_buffer *rb)
{
	__u32 id, max;
	int kept;

	kept = apply_allow("198.51.100.20", 53000);
	kept = kept < 0 ? kept : apply_allow("198.51.100.20", 53000);
	report(kept == 2 && slots_share(TL_MAP_ALLOW_EXACT) &&
		       slots_share(TL_MAP_ALLOW),
	       "allow tables: the same rules again share both tables",
	       "kept %d, exact shared %d, trie shared %d", kept,
	       slots_share(TL_MAP_ALLOW_EXACT), slots_share(TL_MAP_ALLOW));
	send_udp("allow tables: shared, the rule holds", "198.51.100.20",
		 53000, PASS(TL_ALLOW_LISTED), rb);

	kept = apply_allow("198.51.100.21", 53000);
	report(kept == 1 && !slots_share(TL_MAP_ALLOW_EXACT) &&
		       slots_share(TL_MAP_ALLOW),
	       "allow tables: another address, a fresh exact table",
	       "kept %d, exact shared %d, trie shared %d", kept,
	       slots_share(TL_MAP_ALLOW_EXACT), slots_share(TL_MAP_ALLOW));
	send_udp("allow tables: the address replaced is refused",
		 "198.51.100.20", 53000, BLOCK(TL_REASON_TUNNEL_DOWN), rb);
	send_udp("allow tables: the new address passes", "198.51.100.21",
		 53000, PASS(TL_ALLOW_LISTED), rb);

	kept = apply_allow("198.51.100.21", 53001);
	report(kept == 1 && !slots_share(TL_MAP_ALLOW_EXACT),
	       "allow tables: another port only, a fresh exact table",
	       "kept %d", kept);
	send_udp("allow tables: the port replaced is refused", "198.51.100.21",
		 53000, BLOCK(TL_REASON_TUNNEL_DOWN), rb);
	send_udp("allow tables: the new port passes", "198.51.100.21", 53001,
		 PASS(TL_ALLOW_LISTED), rb);

	if (slot_table(TL_MAP_ALLOW_EXACT, live_slot(), &id, &max))
		max = 0;
	report(max == 1,
	       "allow tables: the exact table is as large as its one entry",
	       "max_entries %u", max);

	/* made ahead, as a fresh start makes them while the programs load */
	kept = apply_ahead("198.51.100.22", 53002, NULL);
	report(kept == 2 && !slots_share(TL_MAP_ALLOW_EXACT) &&
		       !slots_share(TL_MAP_ALLOW),
	       "allow tables: made ahead, the apply takes both",
	       "taken %d, exact shared %d, trie shared %d", kept,
	       slots_share(TL_MAP_ALLOW_EXACT), slots_share(TL_MAP_ALLOW));
	send_udp("allow tables: made ahead, the rule holds", "198.51.100.22",
		 53002, PASS(TL_ALLOW_LISTED), rb);
	send_udp("allow tables: made ahead, the rule before is refused",
		 "198.51.100.21", 53001, BLOCK(TL_REASON_TUNNEL_DOWN), rb);
	kept = apply_ahead("198.51.100.23", 53003, "198.51.100.24");
	/* the trie (203.0.113.0/24 alone) is the same in both: taken */
	report(kept == 1,
	       "allow tables: made for another address, the exact table not "
	       "taken",
	       "taken %d", kept);
	send_udp("allow tables: not taken, the policy's rule holds",
		 "198.51.100.23", 53003, PASS(TL_ALLOW_LISTED), rb);
	send_udp("allow tables: not taken, the other policy's rule is refused",
		 "198.51.100.24", 53003, BLOCK(TL_REASON_TUNNEL_DOWN), rb);
	kept = apply_ahead("198.51.100.25", 53005, "198.51.100.25");
	report(kept == 2,
	       "allow tables: made for the same rules, parsed apart, taken",
	       "taken %d", kept);
	send_udp("allow tables: the same rules made ahead hold", "198.51.100.25",
		 53005, PASS(TL_ALLOW_LISTED), rb);
	if (apply("enforce", "enforce", "locked"))
		report(false, "allow tables: the policy back", "%s",
		       strerror(errno));
}

/* The same interface index in another network namespace is no tunnel. */
static void case_foreign_netns(struct ring_buffer *rb)
{
	struct tl_state saved;
	struct frame f;

	if (!agent_elsewhere(true, &saved, "foreign netns"))
		return;
	eth(&f, ETH_P_IP);
	ipv4(&f, "100.100.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	run("tunnel index of another namespace", skb_fd(), TL_LAYER_CGROUP_SKB,
	    &f, ifindex_tunnel, 0, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	agent_elsewhere(false, &saved, NULL);
}

/* ---- containers ---------------------------------------------------- */

/* Cgroup ids that no real cgroup has: the port's ancestors point at them. */
#define CG_CTR_LAN 0x7e57000000000001ull
#define CG_CTR_EXEMPT 0x7e57000000000002ull
#define CG_CTR_DEFAULT 0x7e57000000000003ull

static int live_cgroup_table(void)
{
	struct tl_state st;
	__u32 zero = 0, id;

	if (bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, TL_MAP_STATE), &zero, &st) ||
	    bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, TL_MAP_CGROUPS),
				&st.active_slot, &id))
		return -1;
	return bpf_map_get_fd_by_id(id);
}

/* Port idx: a container whose cgroup is cg, below the cgroup2 root (the
 * policy's attach_cgroup) or, unprotected, below something else. */
static int set_port(__u32 idx, __u64 cg, bool protected, __u32 master)
{
	struct tl_port p = { .ifindex = ifindex_port, .master = master,
			     .cgroup_id = cg, .level = 1 };
	uint64_t root;

	if (tl_cgroup_id(cg_mount, "/", &root))
		return -1;
	p.ancestors[0] = root;
	if (!protected)
		p.ancestors[0] ^= 0x5a5a;
	p.ancestors[1] = cg;
	return bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_PORTS), &idx, &p,
				   BPF_ANY);
}

static int set_cgroup_entry(int fd, __u64 id, __u16 profile, __u16 flags)
{
	struct tl_cgroup_entry e = { .profile = profile, .flags = flags };

	return bpf_map_update_elem(fd, &id, &e, BPF_ANY);
}

/* Runs the stamping program: the mark that comes out. */
static __u32 stamp(int ifindex, __u32 mark)
{
	struct __sk_buff ctx = { .ifindex = ifindex, .mark = mark };
	struct frame f;
	__u32 ret;

	eth(&f, ETH_P_IP);
	ipv4(&f, "100.80.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	if (test_run(bpf_program__fd(bpf.tc->progs.tl_tc_ingress_port), &f,
		     &ctx, 1, &ret))
		return 0xdeadbeef;
	return ctx.mark;
}

static void cases_stamp(void)
{
	struct tl_iface port = { .flags = TL_IFACE_GUARDED | TL_IFACE_PORT |
					  TL_IFACE_STAMP,
				 .port = 5 };
	__u32 key = ifindex_port, m;

	tl_iface_put(&bpf, key, &port);
	m = stamp(ifindex_port, 0xabc);
	report(m == 0x05000abc, "tc_ingress/port stamps its index",
	       "mark 0x%x, want 0x05000abc", m);
	m = stamp(ifindex_port, 0xff000abc);
	report(m == 0x05000abc, "tc_ingress/port overwrites the stamp bits",
	       "mark 0x%x, want 0x05000abc", m);
	m = stamp(ifindex_uplink, 0x7f000001);
	report(m == 0x00000001, "tc_ingress/no port clears the stamp bits",
	       "mark 0x%x, want 0x1", m);
}

/* A forwarded frame from the container, with its stamp, as the uplink's TC
 * egress sees it: the container's profile decides, not the host's. */
static void run_stamped(const char *name, const struct frame *f, __u32 mark,
			__u32 iif, struct expect want)
{
	struct __sk_buff ctx = { .ifindex = ifindex_uplink, .mark = mark,
				 .ingress_ifindex = iif };
	__u64 before = 0, after = 0;
	char label[160];
	__u32 ret;

	snprintf(label, sizeof(label), "tc/%s", name);
	if (skip_faked_netns(label, TL_LAYER_TC))
		return;
	read_counter(TL_LAYER_TC, want.reason, want.verdict, &before);
	if (test_run(tc_fd(), f, &ctx, 1, &ret)) {
		report(false, label, "test run failed: %s", strerror(errno));
		return;
	}
	read_counter(TL_LAYER_TC, want.reason, want.verdict, &after);
	report(ret == (want.pass ? TC_ACT_OK : TC_ACT_SHOT) &&
		       after - before == 1,
	       label, "returned %u, counter %s moved by %llu", ret,
	       tl_reason_name(want.reason),
	       (unsigned long long)(after - before));
}

static void cases_attribution(struct ring_buffer *rb, int table)
{
	__u32 stamp5 = 5u << 24, stamp6 = 6u << 24, stamp7 = 7u << 24;
	struct frame lan, inet, frag;

	eth(&lan, ETH_P_IP);
	ipv4(&lan, "10.213.0.2", "10.213.0.5", IPPROTO_TCP, 0, 5);
	tcp(&lan, 40000, 80);
	eth(&inet, ETH_P_IP);
	ipv4(&inet, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&inet, 40000, 80);
	if (set_cgroup_entry(table, CG_CTR_LAN, 1 /* lan */, 0) ||
	    set_cgroup_entry(table, CG_CTR_EXEMPT, 0, TL_CGROUP_EXEMPT) ||
	    set_port(5, CG_CTR_LAN, true, 0) ||
	    set_port(6, CG_CTR_EXEMPT, true, 77) ||
	    set_port(7, CG_CTR_EXEMPT, false, 0)) {
		report(false, "attribution setup", "%s", strerror(errno));
		return;
	}
	run_stamped("forwarded lan, container's profile allows it", &lan,
		    stamp5, ifindex_port, PASS(TL_ALLOW_LAN));
	run_stamped("forwarded lan, no stamp: the host's profile", &lan, 0,
		    ifindex_port, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	run_stamped("stamp from another ingress interface is ignored", &lan,
		    stamp5, ifindex_new, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	run_stamped("stamp of an unused port is ignored", &lan, 9u << 24,
		    ifindex_port, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	run_stamped("forwarded from an exempt container via its bridge", &inet,
		    stamp6, 77, PASS(TL_ALLOW_EXEMPT));
	run_stamped("forwarded from a locked container past the tunnel", &inet,
		    stamp5, ifindex_port, BLOCK(TL_REASON_BYPASS));
	check_event("tc/event names the container's cgroup", rb,
		    TL_REASON_BYPASS, TL_LAYER_TC, "203.0.113.10", 80);
	report(last_event.cgroup_id == CG_CTR_LAN && last_event.profile == 1,
	       "tc/event has the container's cgroup and profile",
	       "cgroup_id 0x%llx profile %u",
	       (unsigned long long)last_event.cgroup_id, last_event.profile);
	ring_buffer__consume(rb);
	frag4(&frag, "203.0.113.10", 0, 1);
	put(&frag, "fragment-data-xx", 16);
	run_stamped("an exempt container's later fragment is exempt", &frag,
		    stamp6, 77, PASS(TL_ALLOW_EXEMPT));
	run_stamped("a locked container's later fragment, none judged", &frag,
		    stamp5, ifindex_port, BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	run_stamped("forwarded from a container outside attach_cgroup", &inet,
		    stamp7, ifindex_port, PASS(TL_ALLOW_UNPROTECTED));
	eth(&inet, ETH_P_IP);
	ipv4(&inet, "10.213.0.2", "198.51.100.2", IPPROTO_UDP, 0, 5);
	udp(&inet, 40000, 51820);
	run_stamped("a container is not the VPN client", &inet, stamp5,
		    ifindex_port, BLOCK(TL_REASON_ENDPOINT));
	ring_buffer__consume(rb);
}

/*
 * What another namespace hands to the uplink through a macvlan, ipvlan or
 * VLAN device on it carries that namespace's marks and ingress ifindex: as
 * if the frame's socket lived elsewhere (the agent's namespace is not the
 * test's), neither the client's fwmark nor a port's stamp counts.
 */
static void cases_foreign_marks(struct ring_buffer *rb)
{
	struct tl_state saved;
	struct frame f;

	if (!agent_elsewhere(true, &saved, "foreign marks"))
		return;
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.77", "198.51.100.2", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 51820);
	both("fwmark from another namespace is no VPN client", &f,
	     ifindex_uplink, 0xca6c, BLOCK(TL_REASON_ENDPOINT));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.77", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	run_stamped("exempt stamp from another namespace is ignored", &f,
		    6u << 24, 77, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	run_stamped("exempt stamp and fwmark from another namespace", &f,
		    (6u << 24) | 0xca6c, 77, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	agent_elsewhere(false, &saved, NULL);
	run_stamped("the same stamp from this namespace counts", &f, 6u << 24,
		    77, PASS(TL_ALLOW_EXEMPT));
}

/* cgroup_skb inside a container: defers to the host on its verified veth
 * when the host will judge with the same profile. */
static void cases_via_host(struct ring_buffer *rb, int table)
{
	int fd = tl_bpf_map_fd(&bpf, TL_MAP_STATE);
	struct tl_nsif_key key = { .ifindex = ifindex_uplink };
	struct tl_nsif val = { .port = 8 };
	struct tl_state st, saved;
	socklen_t len = sizeof(key.netns_cookie);
	struct tl_settings settings = {};
	__u32 zero = 0, default_profile = 0;
	uint64_t root = 0;
	struct frame f;
	int sock, sfd;

	sock = socket(AF_INET, SOCK_DGRAM, 0);
	if (sock < 0 || getsockopt(sock, SOL_SOCKET, 71 /* SO_NETNS_COOKIE */,
				   &key.netns_cookie, &len) ||
	    bpf_map_lookup_elem(fd, &zero, &st) ||
	    set_cgroup_entry(table, CG_CTR_DEFAULT, 0 /* locked */, 0) ||
	    set_port(8, CG_CTR_DEFAULT, true, 0) ||
	    bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_NSIFS), &key, &val,
				BPF_ANY)) {
		report(false, "via host setup", "%s", strerror(errno));
		if (sock >= 0)
			close(sock);
		return;
	}
	close(sock);
	saved = st;
	st.netns_cookie ^= 1; /* this namespace is a container's now */
	bpf_map_update_elem(fd, &zero, &st, BPF_ANY);
	netns_faked = true;
	eth(&f, ETH_P_IP);
	ipv4(&f, "100.80.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	run("container veth to the host, same profile", skb_fd(),
	    TL_LAYER_CGROUP_SKB, &f, ifindex_uplink, 0,
	    PASS(TL_ALLOW_VIA_HOST));
	run("container interface that is no veth to the host", skb_fd(),
	    TL_LAYER_CGROUP_SKB, &f, ifindex_new, 0, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	set_port(8, CG_CTR_EXEMPT, true, 0);
	run("container veth, the host would judge another profile", skb_fd(),
	    TL_LAYER_CGROUP_SKB, &f, ifindex_uplink, 0,
	    BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	/* the host runs no packet layer on its tunnels: IPv6 that the
	 * profile blocks is refused here, routed or not */
	/* a test run's packet has no socket of a protected cgroup: the
	 * settings' default profile is its sender's */
	sfd = tl_bpf_map_fd(&bpf, TL_MAP_SETTINGS);
	if (tl_cgroup_id(cg_mount, "/", &root) ||
	    bpf_map_lookup_elem(sfd, &st.active_slot, &settings))
		report(false, "via host, v6block", "%s", strerror(errno));
	default_profile = settings.default_profile;
	settings.default_profile = 2; /* v6block */
	if (bpf_map_update_elem(sfd, &st.active_slot, &settings, BPF_ANY) ||
	    set_cgroup_entry(table, root, 2, 0) ||
	    set_cgroup_entry(table, CG_CTR_DEFAULT, 2, 0) ||
	    set_port(8, CG_CTR_DEFAULT, true, 0) || tl_bump_subjects(&bpf))
		report(false, "via host, v6block", "%s", strerror(errno));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::9", "2001:db8:99::1", IPPROTO_TCP);
	tcp(&f, 40000, 80);
	run("container veth to the host, IPv6 of a v6block profile", skb_fd(),
	    TL_LAYER_CGROUP_SKB, &f, ifindex_uplink, 0, BLOCK(TL_REASON_IPV6));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::9", "2001:db8:99::1", 43 /* routing */);
	rthdr(&f, IPPROTO_TCP, 4, 1, "2001:db8:99::9");
	tcp(&f, 40000, 80);
	run("container veth to the host, routed IPv6 of a v6block profile",
	    skb_fd(), TL_LAYER_CGROUP_SKB, &f, ifindex_uplink, 0,
	    BLOCK(TL_REASON_IPV6));
	ring_buffer__consume(rb);
	settings.default_profile = default_profile;
	bpf_map_update_elem(sfd, &st.active_slot, &settings, BPF_ANY);
	set_cgroup_entry(table, root, 0 /* locked */, 0);
	set_cgroup_entry(table, CG_CTR_DEFAULT, 0, 0);
	tl_bump_subjects(&bpf);
	bpf_map_update_elem(fd, &zero, &saved, BPF_ANY);
	netns_faked = false;
}

static void cases_exempt_frames(struct ring_buffer *rb);

static void cases_containers(struct ring_buffer *rb)
{
	int table = live_cgroup_table();
	struct tl_iface port = { .flags = TL_IFACE_GUARDED | TL_IFACE_PORT };
	__u32 key = ifindex_port;
	struct frame f;

	if (table < 0) {
		report(false, "containers setup", "no live cgroup table");
		return;
	}
	cases_stamp();
	cases_attribution(rb, table);
	cases_exempt_frames(rb);
	cases_foreign_marks(rb);
	cases_via_host(rb, table);
	close(table);
	eth(&f, ETH_P_IP);
	ipv4(&f, "203.0.113.10", "100.80.0.2", IPPROTO_TCP, 0, 5);
	tcp(&f, 80, 40000);
	run("into a container", bpf_program__fd(bpf.tc->progs.tl_tc_egress_port),
	    TL_LAYER_TC, &f, ifindex_port, 0, PASS(TL_ALLOW_CONTAINER));
	tl_iface_put(&bpf, key, &port);
	run("host socket into a container", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_port, 0, PASS(TL_ALLOW_CONTAINER));
}

static void cases_tunnel_up(struct ring_buffer *rb)
{
	struct frame f;

	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	both("ipv4 on the uplink with the tunnel up", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 53);
	both("dns on the uplink with the tunnel up", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_DNS));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "2001:db8:5::2", "2001:db8:6::10", IPPROTO_TCP);
	tcp(&f, 40000, 80);
	both("ipv6 with an IPv4-only tunnel up", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	both("unknown interface is not a tunnel", &f,
	    ifindex_new, 0, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
}

static bool all_but_new0(void *ctx, __u32 ifindex)
{
	(void)ctx;
	return (int)ifindex != ifindex_new;
}

/*
 * Interfaces below TL_IFACE_SLOTS are read from the array, the others from
 * the hash: both must say tunnel or not, and what the agent deletes or
 * prunes must be gone from the array too.
 */
static void cases_iface_index(struct ring_buffer *rb)
{
	struct tl_iface tunnel = { .flags = TL_IFACE_TUNNEL };
	__u32 key = ifindex_new;
	struct frame f;
	int pruned;

	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	set_iface(ifindex_high, TL_IFACE_TUNNEL);
	run("a tunnel past the interface slots", skb_fd(), TL_LAYER_CGROUP_SKB,
	    &f, ifindex_high, 0, PASS(TL_ALLOW_TUNNEL));
	set_iface(ifindex_high, TL_IFACE_GUARDED);
	both("an uplink past the interface slots", &f, ifindex_high, 0,
	     BLOCK(TL_REASON_BYPASS));
	tl_iface_del(&bpf, ifindex_high);
	run("a deleted tunnel past the slots", skb_fd(), TL_LAYER_CGROUP_SKB,
	    &f, ifindex_high, 0, BLOCK(TL_REASON_BYPASS));
	set_iface(ifindex_new, TL_IFACE_TUNNEL);
	run("a tunnel in the interface slots", skb_fd(), TL_LAYER_CGROUP_SKB,
	    &f, ifindex_new, 0, PASS(TL_ALLOW_TUNNEL));
	tl_iface_del(&bpf, ifindex_new);
	run("a deleted tunnel in the slots", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_new, 0, BLOCK(TL_REASON_BYPASS));
	/* a slot left by an agent that died between its two writes */
	bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_IFACE_SLOTS), &key,
			    &tunnel, BPF_ANY);
	run("the packet layers read the slot", skb_fd(), TL_LAYER_CGROUP_SKB,
	    &f, ifindex_new, 0, PASS(TL_ALLOW_TUNNEL));
	pruned = tl_iface_prune(&bpf, all_but_new0, NULL);
	report(pruned == 1, "prune drops the stale slot alone", "pruned %d",
	       pruned);
	run("a pruned slot is no tunnel", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_new, 0, BLOCK(TL_REASON_BYPASS));
	run("prune keeps the others", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_tunnel, 0, PASS(TL_ALLOW_TUNNEL));
	ring_buffer__consume(rb);
}

/* STUN binding request: type 0x0001, length 0, magic cookie, id */
static const uint8_t stun_request[20] = { 0x00, 0x01, 0x00, 0x00, 0x21, 0x12,
					  0xa4, 0x42, 1, 2, 3, 4, 5, 6, 7, 8,
					  9, 10, 11, 12 };
/* TURN ChannelData on channel 0x4000 with 4 bytes of data */
static const uint8_t channel_data[8] = { 0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4 };
/* A QUIC short header starts with 0x40-0x7f too: its length does not fit */
static const uint8_t quic_short[20] = { 0x45, 0xaa, 0xbb, 0xcc, 0x21, 0x12,
					0xa4, 0x42 };

/* A UDP datagram of the client to the LAN STUN server. */
static void udp4_to_lan(struct frame *f, const void *payload, size_t n)
{
	eth(f, ETH_P_IP);
	ipv4(f, "10.213.0.2", "10.213.0.5", IPPROTO_UDP, 0, 5);
	udp_with(f, 40000, 3478, payload, n);
}

/* Everything UDP_SEGMENT, IP fragments and TCP segmentation can do to a
 * STUN request or ChannelData, under the LAN-allowing profile. */
static void cases_stun_gso(struct ring_buffer *rb)
{
	uint8_t p[256] = {};
	struct frame f;

	if (apply("enforce", "enforce", "lan")) {
		report(false, "apply lan policy", "apply failed");
		return;
	}
	/* 20 junk bytes, then the request: segment size 20 */
	memcpy(p + 20, stun_request, sizeof(stun_request));
	run_gso_size = 20;
	udp4_to_lan(&f, p, 40);
	both("gso: stun in the second segment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	memset(p, 0x55, sizeof(p));
	memcpy(p + 40, channel_data, sizeof(channel_data));
	udp4_to_lan(&f, p, 48);
	both("gso: channeldata in a last short segment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	udp4_to_lan(&f, p, 40);
	both("gso: ordinary segments pass", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "fd13:213::5", IPPROTO_UDP);
	memcpy(p + 20, stun_request, sizeof(stun_request));
	udp_with(&f, 40000, 3478, p, 40);
	both("gso: stun in a segment over ipv6", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	run_gso_size = 1;
	memset(p, 0x55, sizeof(p));
	udp4_to_lan(&f, p, 200);
	both("gso: more segments than judged fails closed", &f, ifindex_uplink,
	     0, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	run_gso_size = 0;

	/* the receiver takes the UDP length: bytes past it are cut */
	memcpy(p, channel_data, sizeof(channel_data));
	udp4_to_lan(&f, p, 28);
	f.b[ETH_HLEN + 20 + 5] = 8 + sizeof(channel_data);
	both("channeldata within a shorter udp length", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
}

static void cases_stun_fragments(struct ring_buffer *rb)
{
	uint8_t p[96];
	struct frame f;

	memset(p, 0x55, sizeof(p));
	/* IPv4: the first fragment holds the UDP header only */
	frag4(&f, "10.213.0.5", 1, 0x2000);
	udp_part(&f, 3478, 8 + sizeof(stun_request), NULL, 0);
	both("ipv4 first fragment too short to tell", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	frag4(&f, "10.213.0.5", 1, 1);
	put(&f, stun_request, sizeof(stun_request));
	both("ipv4 stun in a later fragment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);

	/* later fragment first: nothing judged its datagram yet */
	frag4(&f, "10.213.0.6", 2, 10);
	put(&f, p, 16);
	both("ipv4 later fragment before its first", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	frag4(&f, "10.213.0.6", 2, 0x2000);
	udp_part(&f, 7, 96, p, 72);
	both("ipv4 ordinary first fragment", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
	frag4(&f, "10.213.0.6", 2, 10);
	put(&f, p, 16);
	both("ipv4 later fragment of an allowed datagram", &f, ifindex_uplink,
	     0, PASS(TL_ALLOW_LAN));
	frag4(&f, "10.213.0.6", 2, 1);
	put(&f, stun_request, sizeof(stun_request));
	both("ipv4 fragment overlapping the first bytes", &f, ifindex_uplink,
	     0, BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);

	/* a blocked first fragment takes the rest of its datagram along */
	memcpy(p, stun_request, sizeof(stun_request));
	frag4(&f, "10.213.0.7", 3, 0x2000);
	udp_part(&f, 3478, 96, p, 72);
	both("ipv4 first fragment with stun", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	memset(p, 0x55, sizeof(p));
	frag4(&f, "10.213.0.7", 3, 10);
	put(&f, p, 16);
	both("ipv4 later fragment of a stun datagram", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);

	/* IPv6 */
	frag6_to(&f, 1, 0, true);
	udp_part(&f, 3478, 8 + sizeof(stun_request), NULL, 0);
	both("ipv6 first fragment too short to tell", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	frag6_to(&f, 1, 1, false);
	put(&f, stun_request, sizeof(stun_request));
	both("ipv6 stun in a later fragment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);
	frag6_to(&f, 2, 0, true);
	udp_part(&f, 7, 96, p, 72);
	both("ipv6 ordinary first fragment", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
	frag6_to(&f, 2, 10, false);
	put(&f, p, 16);
	both("ipv6 later fragment of an allowed datagram", &f, ifindex_uplink,
	     0, PASS(TL_ALLOW_LAN));
}

/* One TCP segment of 10.213.0.2:sport to the LAN STUN server. */
static void seg(const char *name, uint16_t sport, uint32_t seq,
		uint8_t flags, uint16_t urg, const void *payload, size_t n,
		struct expect want)
{
	struct frame f;

	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_TCP, 0, 5);
	tcp_with(&f, sport, 3478, seq, flags, urg, payload, n);
	both(name, &f, ifindex_uplink, 0, want);
}

static void cases_stun_tcp(struct ring_buffer *rb)
{
	static const uint8_t cd_stun[] = { 0x40, 0x00, 0x00, 0x04, 1, 2, 3, 4,
					   0x00, 0x01, 0x00, 0x00, 0x21, 0x12,
					   0xa4, 0x42 };
	uint8_t x[24] = "X";

	seg("tcp: syn", 41000, 1000, 0x02, 0, NULL, 0, PASS(TL_ALLOW_LAN));
	seg("tcp: first 4 bytes of a stun header pass", 41000, 1001, 0x10, 0,
	    stun_request, 4, PASS(TL_ALLOW_LAN));
	seg("tcp: the rest of the split stun header", 41000, 1005, 0x10, 0,
	    stun_request + 4, 16, BLOCK(TL_REASON_STUN));
	seg("tcp: a stun stream stays blocked", 41000, 1021, 0x10, 0, "hello",
	    5, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);

	seg("tcp: syn 2", 41001, 0, 0x02, 0, NULL, 0, PASS(TL_ALLOW_LAN));
	seg("tcp: a segment past unseen head bytes is held", 41001, 5, 0x10, 0,
	    stun_request + 4, 16, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	seg("tcp: ordinary stream head", 41001, 1, 0x10, 0, "GET / HTTP/1.1",
	    14, PASS(TL_ALLOW_LAN));
	seg("tcp: ordinary retransmission", 41001, 1, 0x10, 0, "GET / HT", 8,
	    PASS(TL_ALLOW_LAN));
	seg("tcp: retransmission with other bytes", 41001, 1, 0x10, 0,
	    stun_request, sizeof(stun_request), BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);

	seg("tcp: syn 3", 41002, 0, 0x02, 0, NULL, 0, PASS(TL_ALLOW_LAN));
	memcpy(x + 1, stun_request, 20);
	seg("tcp: urgent byte before a stun header", 41002, 1, 0x30, 1, x, 21,
	    BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);

	seg("tcp: fast open with half a stun header", 41003, 0, 0x02, 0,
	    stun_request, 4, PASS(TL_ALLOW_LAN));
	seg("tcp: the other half after fast open", 41003, 5, 0x10, 0,
	    stun_request + 4, 16, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);

	seg("tcp: syn 4", 41004, 0, 0x02, 0, NULL, 0, PASS(TL_ALLOW_LAN));
	seg("tcp: split channeldata", 41004, 1, 0x10, 0, cd_stun, 2,
	    PASS(TL_ALLOW_LAN));
	seg("tcp: channeldata body and half the next header", 41004, 3, 0x10,
	    0, cd_stun + 2, 10, PASS(TL_ALLOW_LAN));
	seg("tcp: stun after channeldata", 41004, 13, 0x10, 0, cd_stun + 12, 4,
	    BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);

	seg("tcp: a stream seen from its middle", 41006, 5000, 0x10, 0,
	    "hello world!", 12, PASS(TL_ALLOW_LAN));
	seg("tcp: a retransmission from before it", 41006, 4996, 0x10, 0,
	    "abcdhello world!", 16, PASS(TL_ALLOW_LAN));
	seg("tcp: the same with other bytes", 41006, 4996, 0x10, 0,
	    "abcdjello world!", 16, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);

	seg("tcp: syn 5", 41005, 0, 0x02, 0, NULL, 0, PASS(TL_ALLOW_LAN));
	seg("tcp: a new syn in the middle of a head", 41005, 1, 0x10, 0,
	    stun_request, 4, PASS(TL_ALLOW_LAN));
	seg("tcp: restarting the count taints", 41005, 100, 0x02, 0, NULL, 0,
	    BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
}

/* Payload bytes of one segment of stream_through(): under a page with
 * the headers, as a test run's packet must be. */
#define STREAM_SEG 3500

/*
 * Bytes [seq, seq + len) of a TCP stream of 10.213.0.2:sport to the LAN
 * STUN server, "aaaa...", in STREAM_SEG segments through cgroup_skb (TC
 * shares the stream's state: both look it up by addresses and ports here).
 * How many segments did not pass, or -1 when a run failed.
 */
static long stream_through(uint16_t sport, uint32_t seq, uint64_t len)
{
	static uint8_t buf[128 + STREAM_SEG];
	struct __sk_buff ctx = { .ifindex = ifindex_uplink };
	struct frame h;
	long refused = 0;

	memset(buf, 'a', sizeof(buf));
	eth(&h, ETH_P_IP);
	ipv4(&h, "10.213.0.2", "10.213.0.5", IPPROTO_TCP, 0, 5);
	tcp_with(&h, sport, 3478, 0, 0x10, 0, NULL, 0);
	while (len) {
		size_t n = len < STREAM_SEG ? len : STREAM_SEG;
		uint32_t v = htonl(seq);
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = buf,
			    .data_size_in = h.len + n, .ctx_in = &ctx,
			    .ctx_size_in = sizeof(ctx));

		memcpy(h.b + h.len - 16, &v, 4); /* the TCP header's seq */
		memcpy(buf, h.b, h.len);
		if (bpf_prog_test_run_opts(skb_fd(), &o))
			return -1;
		refused += o.retval != 1;
		seq += n;
		len -= n;
	}
	return refused;
}

/*
 * Sequence numbers wrap: a stream outside the tunnel (a LAN copy, an
 * allow-listed backup) goes on past 2 and 4 GiB. A gap never takes a
 * stream past its heads: only bytes seen without one do.
 */
static void cases_stun_tcp_long(struct ring_buffer *rb)
{
	const uint64_t gib = 1ull << 30;
	long refused;

	seg("tcp: syn of a long stream", 41008, 0, 0x02, 0, NULL, 0,
	    PASS(TL_ALLOW_LAN));
	refused = stream_through(41008, 1, gib + STREAM_SEG);
	report(refused == 0, "cgroup_skb/tcp: a clean stream, 1 GiB on",
	       "%ld segments refused (want 0)", refused);
	seg("tcp: past 2 GiB", 41008, (uint32_t)(1 + 2 * gib + 100), 0x10, 0,
	    "more data", 9, PASS(TL_ALLOW_LAN));
	seg("tcp: at 4 GiB, other bytes where its heads were", 41008, 1, 0x10,
	    0, "GET / HTTP/1.1", 14, PASS(TL_ALLOW_LAN));
	ring_buffer__consume(rb);

	seg("tcp: syn of a stream that jumps", 41009, 0, 0x02, 0, NULL, 0,
	    PASS(TL_ALLOW_LAN));
	seg("tcp: its head", 41009, 1, 0x10, 0, "hello world!", 12,
	    PASS(TL_ALLOW_LAN));
	seg("tcp: a segment 1 GiB past a gap", 41009, (uint32_t)(1 + gib), 0x10,
	    0, "more data", 9, PASS(TL_ALLOW_LAN));
	seg("tcp: the gap left its heads in force", 41009, 1, 0x10, 0,
	    stun_request, sizeof(stun_request), BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
}

/* Under the LAN-allowing default profile ("lan"). */
static void cases_stun_and_discovery(struct ring_buffer *rb)
{
	struct frame f;

	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_UDP, 0, 5);
	udp_with(&f, 40000, 3478, stun_request, sizeof(stun_request));
	both("stun to a LAN the profile allows", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_UDP, 0, 5);
	udp_with(&f, 40000, 40001, stun_request, sizeof(stun_request));
	both("stun on any port", &f, ifindex_uplink, 0, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_UDP, 0, 5);
	udp_with(&f, 40000, 3478, channel_data, sizeof(channel_data));
	both("turn channeldata", &f, ifindex_uplink, 0, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 3478);
	put(&f, stun_request, sizeof(stun_request));
	both("stun over tcp", &f, ifindex_uplink, 0, BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "fd13:213::5", IPPROTO_UDP);
	udp_with(&f, 40000, 3478, stun_request, sizeof(stun_request));
	both("stun over ipv6 to the LAN", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_UDP, 0, 5);
	udp_with(&f, 40000, 443, quic_short, sizeof(quic_short));
	both("quic short header is not stun", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "224.0.0.251", IPPROTO_UDP, 0, 5);
	udp(&f, 5353, 5353);
	both("mdns with the LAN allowed", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_DISCOVERY));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fe80::2", "ff02::c", IPPROTO_UDP);
	udp(&f, 40000, 1900);
	both("ssdp over ipv6 with the LAN allowed", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_DISCOVERY));

	if (apply("enforce", "enforce", "locked")) {
		report(false, "apply locked policy", "apply failed");
		return;
	}
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "224.0.0.252", IPPROTO_UDP, 0, 5);
	udp(&f, 40000, 5355);
	both("llmnr with the LAN blocked", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_DISCOVERY));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "198.51.100.200", IPPROTO_UDP, 0, 5);
	udp_with(&f, 40000, 3478, stun_request, sizeof(stun_request));
	both("stun to an allow-listed destination", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	ring_buffer__consume(rb);
}

static void cases_ipv6_policies(struct ring_buffer *rb)
{
	struct frame f;

	set_tunnels(true, true);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "2001:db8:5::2", "2001:db8:6::10", IPPROTO_TCP);
	tcp(&f, 40000, 80);
	both("ipv6 on the uplink with an ipv6 tunnel up", &f, ifindex_uplink,
	     0, BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);
	run("ipv6 through an ipv6 tunnel", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_tunnel, 0, PASS(TL_ALLOW_TUNNEL));

	if (apply("enforce", "enforce", "v6block")) {
		report(false, "apply v6block policy", "apply failed");
		return;
	}
	run("ipv6 blocked by the profile even in the tunnel", skb_fd(),
	    TL_LAYER_CGROUP_SKB, &f, ifindex_tunnel, 0, BLOCK(TL_REASON_IPV6));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "fd13:213::5", IPPROTO_TCP);
	tcp(&f, 40000, 80);
	run("ula in the tunnel with the LAN allowed", skb_fd(),
	    TL_LAYER_CGROUP_SKB, &f, ifindex_tunnel, 0, PASS(TL_ALLOW_TUNNEL));
	eth(&f, ETH_P_IP);
	ipv4(&f, "100.100.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	run("ipv4 in the tunnel with ipv6 blocked", skb_fd(),
	    TL_LAYER_CGROUP_SKB, &f, ifindex_tunnel, 0, PASS(TL_ALLOW_TUNNEL));
	set_tunnels(true, false);
}

static void cases_other_policies(struct ring_buffer *rb)
{
	struct frame f;

	if (apply("audit", "enforce", "locked")) {
		report(false, "apply audit policy", "apply failed");
		return;
	}
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	run("audit mode passes and reports", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_uplink, 0, AUDIT(TL_REASON_BYPASS));
	run("audit mode leaves the report to cgroup_skb", tc_fd(), TL_LAYER_TC,
	    &f, ifindex_uplink, 0, SILENT);
	events_seen = 0;
	ring_buffer__consume(rb);
	report(events_seen == 1, "audit mode reports an attempt once",
	       "%d events", events_seen);

	if (apply("enforce", "enforce", "lan")) {
		report(false, "apply lan policy", "apply failed");
		return;
	}
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	both("lan allowed by the profile", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fd13:213::2", "fd13:213::5", IPPROTO_TCP);
	tcp(&f, 40000, 80);
	both("ula allowed by the profile", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "100.64.0.1", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	both("cgnat space is not lan", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_BYPASS));
	ring_buffer__consume(rb);

	cases_stun_and_discovery(rb);
	cases_stun_gso(rb);
	cases_stun_fragments(rb);
	cases_stun_tcp(rb);
	cases_stun_tcp_long(rb);
	cases_ipv6_policies(rb);

	if (apply("enforce", "allow", "locked")) {
		report(false, "apply no_socket allow policy", "apply failed");
		return;
	}
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	run("no local socket, policy allows", tc_fd(), TL_LAYER_TC, &f,
	    ifindex_uplink, 0, PASS(TL_ALLOW_NO_SOCKET));
}

/* ---- a flood: exact counters, events within the rate limit ---------- */

#define FLOOD 100000

static __u64 evstat(__u32 reason, __u32 stat)
{
	__u64 v = 0;

	tl_counter_read(tl_bpf_map_fd(&bpf, TL_MAP_EVENT_STATS),
			TL_EVSTAT_INDEX(reason, stat), &v);
	return v;
}

static double mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Empty buckets: each case starts with its whole burst available. */
static void reset_buckets(void)
{
	struct tl_event_bucket zero = {};

	for (__u32 r = 0; r < TL_REASON_MAX; r++)
		bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_EVENT_RATE), &r,
				    &zero, BPF_ANY);
}

struct flood_result {
	__u64 blocked, emitted, suppressed, lost;
	int read; /* events read from the ring buffer */
	double seconds;
	bool ran;
};

/*
 * FLOOD copies of one blocked (bypass) frame in one BPF_PROG_TEST_RUN
 * call. The ring buffer is read only after the run, so that a policy with
 * room for more events than the ring holds loses some (counted as lost).
 */
static struct flood_result flood(int prog_fd, __u32 layer,
				 struct ring_buffer *rb, const char *events)
{
	struct flood_result res = {};
	struct __sk_buff ctx = { .ifindex = ifindex_uplink };
	struct frame f;
	__u64 b0, b1, e0[TL_EVSTAT_MAX];
	__u32 ret;
	double t0;

	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&f, 40000, 80);
	if (apply_events("enforce", "enforce", "locked", events))
		return res;
	events_seen = 0;
	ring_buffer__consume(rb);
	reset_buckets();
	read_counter(layer, TL_REASON_BYPASS, TL_VERDICT_BLOCKED, &b0);
	for (int i = 0; i < TL_EVSTAT_MAX; i++)
		e0[i] = evstat(TL_REASON_BYPASS, i);
	t0 = mono_s();
	if (test_run(prog_fd, &f, &ctx, FLOOD, &ret))
		return res;
	res.seconds = mono_s() - t0;
	res.ran = ret == (layer == TL_LAYER_TC ? TC_ACT_SHOT : 0);
	read_counter(layer, TL_REASON_BYPASS, TL_VERDICT_BLOCKED, &b1);
	res.blocked = b1 - b0;
	res.emitted = evstat(TL_REASON_BYPASS, TL_EVSTAT_EMITTED) -
		      e0[TL_EVSTAT_EMITTED];
	res.suppressed = evstat(TL_REASON_BYPASS, TL_EVSTAT_SUPPRESSED) -
			 e0[TL_EVSTAT_SUPPRESSED];
	res.lost = evstat(TL_REASON_BYPASS, TL_EVSTAT_LOST) - e0[TL_EVSTAT_LOST];
	events_seen = 0;
	ring_buffer__consume(rb);
	res.read = events_seen;
	return res;
}

static void check_flood(const char *name, struct flood_result r,
			double rate, double burst)
{
	/* the coarse clock may run a tick (up to 10 ms) ahead */
	double limit = burst + rate * (r.seconds + 0.02);
	char why[256];

	snprintf(why, sizeof(why),
		 "blocked %llu, emitted %llu, suppressed %llu, lost %llu, read "
		 "%d, in %.3f s (limit %.0f)",
		 (unsigned long long)r.blocked, (unsigned long long)r.emitted,
		 (unsigned long long)r.suppressed, (unsigned long long)r.lost,
		 r.read, r.seconds, limit);
	printf("# %s: %s\n", name, why);
	report(r.ran && r.blocked == FLOOD, name, "counter: %s", why);
	report(r.emitted + r.suppressed + r.lost == FLOOD,
	       "flood: emitted + suppressed + lost == blocked", "%s", why);
	report((__u64)r.read == r.emitted, "flood: every emitted event is read",
	       "%s", why);
	report(r.emitted <= limit, "flood: events within the limit", "%s", why);
}

static void cases_flood(struct ring_buffer *rb)
{
	struct flood_result r;

	set_tunnels(true, false);
	r = flood(tc_fd(), TL_LAYER_TC, rb, "{rate: 1000, burst: 100}");
	check_flood("tc/flood: 100000 blocked counted", r, 1000, 100);
	report(r.suppressed > 0 && r.emitted >= 100 && !r.lost,
	       "tc/flood: the burst is emitted, the rest suppressed",
	       "emitted %llu suppressed %llu lost %llu",
	       (unsigned long long)r.emitted,
	       (unsigned long long)r.suppressed, (unsigned long long)r.lost);

	r = flood(skb_fd(), TL_LAYER_CGROUP_SKB, rb, "{rate: 10, burst: 1}");
	check_flood("cgroup_skb/flood: 100000 blocked counted", r, 10, 1);

	/* room for every event: the ring buffer (about 9,000) fills */
	r = flood(tc_fd(), TL_LAYER_TC, rb, "{rate: 1000000, burst: 1000000}");
	check_flood("tc/flood, no limit: 100000 blocked counted", r, 1e6, 1e6);
	report(r.lost > 0 && r.emitted > 1000,
	       "tc/flood, no limit: a full ring buffer loses events, counted",
	       "emitted %llu lost %llu", (unsigned long long)r.emitted,
	       (unsigned long long)r.lost);

	r = flood(tc_fd(), TL_LAYER_TC, rb, "{rate: 0}");
	report(r.ran && r.blocked == FLOOD && !r.emitted && !r.read &&
		       r.suppressed == FLOOD,
	       "tc/flood, rate 0: counters only, every event suppressed",
	       "blocked %llu emitted %llu suppressed %llu read %d",
	       (unsigned long long)r.blocked, (unsigned long long)r.emitted,
	       (unsigned long long)r.suppressed, r.read);
}

/* One DNS-port flow: UDP or TCP, IPv4 or IPv6, to dst:dport. */
static void dns_frame(struct frame *f, bool tcp_, const char *dst,
		      uint16_t dport)
{
	uint8_t proto = tcp_ ? IPPROTO_TCP : IPPROTO_UDP;

	if (strchr(dst, ':')) {
		eth(f, ETH_P_IPV6);
		ipv6(f, "fd13:213::2", dst, proto);
	} else {
		eth(f, ETH_P_IP);
		ipv4(f, "10.213.0.2", dst, proto, 0, 5);
	}
	if (tcp_)
		tcp(f, 40000, dport);
	else
		udp(f, 40000, dport);
}

/*
 * DNS at the packet layers: a query (UDP or TCP to a DNS port) leaving on
 * a non-tunnel interface is a dns leak, to the LAN too, whatever the
 * profile's lan says, unless the profile says dns: ordinary.
 */
static void cases_dns(struct ring_buffer *rb)
{
	static const struct {
		const char *name;
		bool tcp;
		const char *dst;
		uint16_t dport;
	} lan_dns[] = {
		{ "udp 53 to the LAN resolver", false, "10.213.0.1", 53 },
		{ "tcp 53 to the LAN resolver", true, "10.213.0.1", 53 },
		{ "dns over tls to the LAN", true, "10.213.0.1", 853 },
		{ "udp 853 to the LAN", false, "192.168.1.1", 853 },
		{ "ipv6 udp 53 to a ULA resolver", false, "fd13:213::1", 53 },
		{ "ipv6 tcp 853 to a link-local resolver", true, "fe80::1", 853 },
		{ "udp 53 to the tunnel resolver, off the tunnel", false,
		  "100.100.0.1", 53 },
	};
	char name[160];
	struct frame f;

	if (apply("enforce", "enforce", "lan")) {
		report(false, "apply lan policy for dns", "apply failed");
		return;
	}
	set_tunnels(true, false);
	for (size_t i = 0; i < sizeof(lan_dns) / sizeof(lan_dns[0]); i++) {
		snprintf(name, sizeof(name), "dns: %s, lan allowed, tunnel up",
			 lan_dns[i].name);
		dns_frame(&f, lan_dns[i].tcp, lan_dns[i].dst, lan_dns[i].dport);
		both(name, &f, ifindex_uplink, 0, BLOCK(TL_REASON_DNS));
		ring_buffer__consume(rb);
	}
	dns_frame(&f, false, "10.213.0.1", 53);
	run("dns: event for the LAN resolver", tc_fd(), TL_LAYER_TC, &f,
	    ifindex_uplink, 0, BLOCK(TL_REASON_DNS));
	check_event("tc/dns: event names the resolver asked", rb, TL_REASON_DNS,
		    TL_LAYER_TC, "10.213.0.1", 53);
	run("dns: on the tunnel interface", skb_fd(), TL_LAYER_CGROUP_SKB, &f,
	    ifindex_tunnel, 0, PASS(TL_ALLOW_TUNNEL));
	dns_frame(&f, false, "224.0.0.251", 5353);
	both("dns: mdns is not a dns port, lan allowed", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_DISCOVERY));
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.5", IPPROTO_UDP, 0, 5);
	udp(&f, 53, 40000);
	both("dns: an answer from a local server is not a query", &f,
	     ifindex_uplink, 0, PASS(TL_ALLOW_LAN));

	set_tunnels(false, false);
	dns_frame(&f, false, "203.0.113.53", 53);
	both("dns: udp 53 with the tunnel down is dns", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_DNS));
	ring_buffer__consume(rb);
	dns_frame(&f, false, "10.213.0.1", 53);
	both("dns: redirect profile, LAN resolver, tunnel down", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_DNS));
	ring_buffer__consume(rb);

	if (apply("enforce", "enforce", "lan-redirect")) {
		report(false, "apply redirect policy", "apply failed");
		return;
	}
	set_tunnels(true, false);
	both("dns: redirect profile, LAN resolver off the tunnel", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_DNS));
	ring_buffer__consume(rb);

	if (apply("enforce", "enforce", "lan-ordinary-dns")) {
		report(false, "apply ordinary dns policy", "apply failed");
		return;
	}
	both("dns: ordinary profile, LAN resolver", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
	dns_frame(&f, false, "203.0.113.53", 53);
	both("dns: ordinary profile, public resolver off the tunnel", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_DNS));
	ring_buffer__consume(rb);

	if (apply_extra("dns_ports: [53, 5300]\n", "enforce", "enforce",
			"lan")) {
		report(false, "apply dns_ports policy", "apply failed");
		return;
	}
	dns_frame(&f, false, "10.213.0.1", 5300);
	both("dns: a configured dns port", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_DNS));
	ring_buffer__consume(rb);
	dns_frame(&f, true, "10.213.0.1", 853);
	both("dns: 853 when dns_ports leaves it out", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_LAN));
}

/* ---- network basics: each only in its own shape ---------------------- */

static void tc_frame(const char *name, const struct frame *f, __u32 mark,
		     struct expect want)
{
	run(name, tc_fd(), TL_LAYER_TC, f, ifindex_uplink, mark, want);
}

/* IPv4 UDP from the client to dst with a DHCPv4 message (op). */
static void dhcp4_frame(struct frame *f, const char *dst, uint16_t frag,
			uint8_t op)
{
	eth(f, ETH_P_IP);
	ipv4(f, "0.0.0.0", dst, IPPROTO_UDP, frag, 5);
	dhcp4(f, op);
}

static void dhcp6_frame(struct frame *f, const char *dst, uint8_t type)
{
	eth(f, ETH_P_IPV6);
	ipv6(f, "fe80::2", dst, IPPROTO_UDP);
	dhcp6(f, type);
}

static void ndp_frame(struct frame *f, const char *dst, uint8_t type,
		      uint8_t code, uint8_t hops)
{
	eth(f, ETH_P_IPV6);
	ipv6_hops(f, "fe80::2", dst, IPPROTO_ICMPV6, hops);
	ndp(f, type, code);
}

/* Tunnel down, LAN blocked, no IPv6 tunnel: only the basics leave. */
static void cases_basics_ip(struct ring_buffer *rb)
{
	struct frame f;

	dhcp4_frame(&f, "255.255.255.255", 0, 1);
	both("dhcpv4 discover, broadcast", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_ALWAYS));
	dhcp4_frame(&f, "10.213.0.1", 0, 1);
	both("dhcpv4 renewal to a LAN server", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_ALWAYS));
	dhcp4_frame(&f, "203.0.113.10", 0, 1);
	both("dhcpv4 to a public address", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	tc_frame("dhcpv4 to a public address, its event", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	check_event("tc/dhcpv4 to a public address: event", rb,
		    TL_REASON_TUNNEL_DOWN, TL_LAYER_TC, "203.0.113.10", 67);
	dhcp4_frame(&f, "100.64.0.1", 0, 1);
	both("dhcpv4 to a shared (CGNAT) address", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	dhcp4_frame(&f, "224.0.0.1", 0, 1);
	both("dhcpv4 to multicast", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	dhcp4_frame(&f, "255.255.255.255", 0, 2);
	both("dhcpv4 bootreply from the client", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	dhcp4_frame(&f, "255.255.255.255", 0, 1);
	f.b[f.len - 8] = 0x64; /* the cookie's first byte */
	both("dhcpv4 without the magic cookie", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_IP);
	ipv4(&f, "0.0.0.0", "255.255.255.255", IPPROTO_UDP, 0, 5);
	udp(&f, 68, 67);
	both("dhcpv4 ports with junk payload", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	dhcp4_frame(&f, "255.255.255.255", 0x2000, 1);
	both("dhcpv4 as a first fragment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_TUNNEL_DOWN));
	dhcp4_frame(&f, "198.51.100.2", 0, 1);
	both("dhcpv4 ports to the endpoint", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_ENDPOINT));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fe80::2", "::ffff:255.255.255.255", IPPROTO_UDP);
	dhcp4(&f, 1);
	both("dhcpv4 in an ipv6 header to a mapped address", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);

	dhcp6_frame(&f, "ff02::1:2", 1);
	both("dhcpv6 solicit to ff02::1:2", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_ALWAYS));
	dhcp6_frame(&f, "fe80::1", 5);
	both("dhcpv6 renew to a link-local server", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_ALWAYS));
	dhcp6_frame(&f, "2001:db8:203::10", 1);
	both("dhcpv6 to a global address", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	dhcp6_frame(&f, "ff05::1:3", 1);
	both("dhcpv6 to the site-scope servers", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	dhcp6_frame(&f, "ff02::1:2", 2);
	both("dhcpv6 advertise from the client", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fe80::2", "ff02::1:2", IPPROTO_UDP);
	udp(&f, 546, 547);
	both("dhcpv6 ports with junk payload", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fe80::2", "ff02::1:2", 44);
	frag6(&f, IPPROTO_UDP, 0, true);
	dhcp6(&f, 1);
	both("dhcpv6 as a first fragment", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	ring_buffer__consume(rb);

	ndp_frame(&f, "ff02::1:ff00:1", 135, 0, 255);
	both("ndp solicitation to a solicited-node group", &f, ifindex_uplink,
	     0, PASS(TL_ALLOW_ALWAYS));
	ndp_frame(&f, "ff02::2", 133, 0, 255);
	both("ndp router solicitation", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_ALWAYS));
	ndp_frame(&f, "fe80::1", 136, 0, 255);
	both("ndp advertisement to a link-local neighbour", &f, ifindex_uplink,
	     0, PASS(TL_ALLOW_ALWAYS));
	ndp_frame(&f, "ff02::1:ff00:1", 135, 0, 64);
	both("ndp with hop limit 64", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	/* no socket here: the kernel's own, which answers neighbours of any
	 * scope on the link; a process's (raw socket) is judged in the lab
	 * (t43) and a container's below (cases_exempt_frames) */
	ndp_frame(&f, "2001:db8:203::10", 136, 0, 255);
	both("kernel's ndp advertisement to a global neighbour", &f,
	     ifindex_uplink, 0, PASS(TL_ALLOW_ALWAYS));
	ndp_frame(&f, "2001:db8:203::10", 135, 0, 254);
	both("forwarded ndp to a global address (hop limit 254)", &f,
	     ifindex_uplink, 0, BLOCK(TL_REASON_IPV6));
	ndp_frame(&f, "2001:db8:203::10", 133, 0, 255);
	both("router solicitation to a global address", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	ndp_frame(&f, "ff0e::1", 136, 0, 255);
	both("kernel's ndp to a global-scope group", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	ndp_frame(&f, "ff05::2", 133, 0, 255);
	both("ndp to a site-scope group", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	ndp_frame(&f, "ff02::1:ff00:1", 135, 1, 255);
	both("ndp with a code", &f, ifindex_uplink, 0, BLOCK(TL_REASON_IPV6));
	ndp_frame(&f, "ff02::1", 137, 0, 255);
	both("redirect is not ndp", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "fe80::2", "ff02::16", 0);
	ext8(&f, IPPROTO_ICMPV6);
	icmp(&f, 143);
	both("mld report is not ndp", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	ring_buffer__consume(rb);
}

/* The basics never pass what the endpoint, STUN and DNS checks refuse. */
static void cases_basics_order(struct ring_buffer *rb)
{
	struct frame f;

	if (apply_extra("dns_ports: [53, 67]\n", "enforce", "enforce", "lan")) {
		report(false, "apply basics order policy", "apply failed");
		return;
	}
	set_tunnels(true, true);
	eth(&f, ETH_P_IP);
	ipv4(&f, "10.213.0.2", "10.213.0.1", IPPROTO_UDP, 0, 5);
	udp_with(&f, 68, 67, stun_request, sizeof(stun_request));
	both("stun on dhcp ports to the LAN", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_STUN));
	dhcp4_frame(&f, "10.213.0.1", 0, 1);
	both("dhcp to a port the policy calls dns", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_DNS));
	ring_buffer__consume(rb);
	if (apply("enforce", "enforce", "v6block")) {
		report(false, "apply v6block policy", "apply failed");
		return;
	}
	dhcp6_frame(&f, "2001:db8:203::10", 1);
	both("dhcpv6 to a global address, ipv6 blocked", &f, ifindex_uplink, 0,
	     BLOCK(TL_REASON_IPV6));
	dhcp6_frame(&f, "ff02::1:2", 1);
	both("dhcpv6 solicit, ipv6 blocked", &f, ifindex_uplink, 0,
	     PASS(TL_ALLOW_ALWAYS));
	ring_buffer__consume(rb);
	set_tunnels(false, false);
}

static const uint8_t lldp_mac[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x0e };

static void lldp_frame(struct frame *f, bool nearest_bridge)
{
	eth(f, 0x88cc);
	if (nearest_bridge)
		dst_mac(f, lldp_mac);
	put(f, "\x02\x07\x04\x02\x00\x00\x00\x00\x02", 9); /* chassis id */
	pad(f, 60, 0);
}

/* A PPPoE session frame (a DSL uplink's) carrying IPv4 TCP or UDP to dst. */
static void pppoe_ipv4(struct frame *f, const char *dst, uint8_t proto,
		       uint16_t dport)
{
	size_t at;

	eth(f, 0x8864);
	at = pppoe(f, 0, 7, 0x0021);
	ipv4(f, "100.64.1.2", dst, proto, 0, 5);
	if (proto == IPPROTO_TCP)
		tcp(f, 40000, dport);
	else
		udp(f, 40000, dport);
	pppoe_len(f, at);
}

/* Frames that are not IP (TC on an Ethernet uplink), tunnel down. */
static void cases_frames(struct ring_buffer *rb)
{
	struct frame f;
	size_t at;

	eth(&f, ETH_P_ARP);
	arp(&f, 1);
	tc_frame("arp request", &f, 0, PASS(TL_ALLOW_ALWAYS));
	pad(&f, 60, 0);
	tc_frame("arp reply padded to the minimum frame", &f, 0,
		 PASS(TL_ALLOW_ALWAYS));
	eth(&f, ETH_P_ARP);
	arp(&f, 1);
	pad(&f, 60, 'x');
	tc_frame("arp with junk in its padding", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_ARP);
	arp(&f, 2);
	pad(&f, 200, 0);
	tc_frame("arp with more than the minimum frame", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_ARP);
	arp(&f, 1);
	f.len -= 10;
	tc_frame("arp, truncated", &f, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_ARP);
	arp(&f, 3);
	tc_frame("rarp request", &f, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_ARP);
	arp(&f, 1);
	f.b[ETH_HLEN + 4] = 16; /* hlen */
	tc_frame("arp with another hardware length", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_8021Q);
	vlan(&f, ETH_P_ARP);
	put(&f, "exfiltrated-payload-exfiltrated-payload", 39);
	tc_frame("vlan-tagged fake arp", &f, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	eth(&f, ETH_P_8021Q);
	vlan(&f, ETH_P_ARP);
	arp(&f, 1);
	pad(&f, 64, 0);
	tc_frame("vlan-tagged arp", &f, 0, PASS(TL_ALLOW_ALWAYS));

	eth(&f, ETH_P_PAE);
	put(&f, "\x02\x01\x00\x00", 4); /* EAPOL-Start */
	pad(&f, 60, 0);
	tc_frame("eapol start", &f, 0, PASS(TL_ALLOW_ALWAYS));
	eth(&f, ETH_P_PAE);
	put(&f, "\x02\x00\x00\x05\x02\x01\x00\x05\x01", 9); /* EAP response */
	tc_frame("eapol eap packet", &f, 0, PASS(TL_ALLOW_ALWAYS));
	eth(&f, ETH_P_PAE);
	put(&f, "\x02\x00\x00\x05\x02\x01\x00\x05\x01", 9);
	put(&f, "and-then-something-else-entirely", 32);
	tc_frame("eapol with more than its length", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_PAE);
	put(&f, "\x02\x00\x01\x00", 4);
	tc_frame("eapol with a length past the frame", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, ETH_P_PAE);
	put(&f, "\x09\x42\x00\x00", 4);
	tc_frame("eapol of no known version", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);

	/* PPPoE: discovery is a basic, a session is judged by what it carries */
	eth(&f, 0x8863);
	at = pppoe(&f, 0x09, 0, 0);
	put(&f, "\x01\x01\x00\x00", 4); /* Service-Name, any */
	pppoe_len(&f, at);
	pad(&f, 60, 0);
	tc_frame("pppoe padi", &f, 0, PASS(TL_ALLOW_ALWAYS));
	eth(&f, 0x8863);
	at = pppoe(&f, 0x07, 0, 0);
	put(&f, "\x01\x01\x00\x00", 4);
	pppoe_len(&f, at);
	tc_frame("pppoe pado is the server's", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, 0x8863);
	at = pppoe(&f, 0x09, 0, 0);
	put(&f, "\x01\x01\x00\x00", 4);
	pppoe_len(&f, at);
	put(&f, "trailing-data-past-the-pppoe-length", 35);
	tc_frame("pppoe padi with trailing data", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, 0x8864);
	at = pppoe(&f, 0, 7, 0xc021); /* LCP Configure-Request */
	put(&f, "\x01\x01\x00\x04", 4);
	pppoe_len(&f, at);
	pad(&f, 60, 0);
	tc_frame("pppoe session lcp", &f, 0, PASS(TL_ALLOW_ALWAYS));
	eth(&f, 0x8864);
	at = pppoe(&f, 0, 7, 0x002b); /* IPX */
	put(&f, "not-ip-but-routed-somewhere", 27);
	pppoe_len(&f, at);
	tc_frame("pppoe session, another network protocol", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	pppoe_ipv4(&f, "198.51.100.2", IPPROTO_UDP, 51820);
	tc_frame("pppoe session, vpn transport with fwmark", &f, 0xca6c,
		 PASS(TL_ALLOW_TRANSPORT));
	ring_buffer__consume(rb);
	tc_frame("pppoe session, endpoint without fwmark", &f, 0,
		 BLOCK(TL_REASON_ENDPOINT));
	check_event("tc/pppoe session, endpoint: event", rb,
		    TL_REASON_ENDPOINT, TL_LAYER_TC, "198.51.100.2", 51820);
	pppoe_ipv4(&f, "203.0.113.10", IPPROTO_TCP, 80);
	tc_frame("pppoe session, ipv4 leak", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	check_event("tc/pppoe session, ipv4 leak: event", rb,
		    TL_REASON_TUNNEL_DOWN, TL_LAYER_TC, "203.0.113.10", 80);
	pppoe_ipv4(&f, "203.0.113.10", IPPROTO_TCP, 443);
	tc_frame("pppoe session, ipv4 allow-listed", &f, 0,
		 PASS(TL_ALLOW_LISTED));
	eth(&f, 0x8864);
	at = pppoe(&f, 0, 7, 0x0057);
	ipv6(&f, "2001:db8:64::2", "2001:db8:203::10", IPPROTO_TCP);
	tcp(&f, 40000, 80);
	pppoe_len(&f, at);
	tc_frame("pppoe session, ipv6 leak", &f, 0, BLOCK(TL_REASON_IPV6));
	eth(&f, ETH_P_8021Q);
	vlan(&f, 0x8864);
	at = pppoe(&f, 0, 7, 0x0057);
	ipv6_hops(&f, "fe80::2", "ff02::1:ff00:1", IPPROTO_ICMPV6, 255);
	ndp(&f, 135, 0);
	pppoe_len(&f, at);
	tc_frame("pppoe session in a vlan, ndp", &f, 0, PASS(TL_ALLOW_ALWAYS));
	ring_buffer__consume(rb);
	eth(&f, 0x8864);
	put(&f, "\x11\x00\x00", 3);
	tc_frame("pppoe, truncated header", &f, 0,
		 BLOCK(TL_REASON_MALFORMED));
	pppoe_ipv4(&f, "203.0.113.10", IPPROTO_TCP, 80);
	f.b[ETH_HLEN + 4] = 0x7f; /* a length past the frame */
	tc_frame("pppoe, length past the frame", &f, 0,
		 BLOCK(TL_REASON_MALFORMED));
	pppoe_ipv4(&f, "203.0.113.10", IPPROTO_TCP, 80);
	f.b[ETH_HLEN] = 0x21; /* version 2 */
	tc_frame("pppoe of another version", &f, 0,
		 BLOCK(TL_REASON_MALFORMED));
	ring_buffer__consume(rb);

	/* LLDP: LAN traffic to the nearest bridge, by the profile's lan */
	lldp_frame(&f, true);
	tc_frame("lldp, lan blocked", &f, 0, BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
	if (apply("enforce", "enforce", "lan")) {
		report(false, "apply lan policy", "apply failed");
		return;
	}
	tc_frame("lldp, lan allowed", &f, 0, PASS(TL_ALLOW_LAN));
	lldp_frame(&f, false);
	tc_frame("lldp type to another address", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	eth(&f, 0x88b5); /* local experimental */
	put(&f, "anything-at-all", 15);
	tc_frame("other ethertype, lan allowed", &f, 0,
		 BLOCK(TL_REASON_TUNNEL_DOWN));
	ring_buffer__consume(rb);
}

static void cases_basics(struct ring_buffer *rb)
{
	if (apply("enforce", "enforce", "locked") ||
	    set_tunnels(false, false)) {
		report(false, "apply basics policy", "apply failed");
		return;
	}
	cases_basics_ip(rb);
	cases_frames(rb);
	cases_basics_order(rb);
}

/* Non-IP frames of an exempt container (forwarded, stamped) pass. */
static void cases_exempt_frames(struct ring_buffer *rb)
{
	__u32 stamp5 = 5u << 24, stamp6 = 6u << 24;
	struct frame f;

	eth(&f, 0x88b5);
	put(&f, "anything-at-all", 15);
	run_stamped("exempt container's other ethertype", &f, stamp6, 77,
		    PASS(TL_ALLOW_EXEMPT));
	run_stamped("locked container's other ethertype", &f, stamp5,
		    ifindex_port, BLOCK(TL_REASON_BYPASS));
	eth(&f, ETH_P_8021Q);
	vlan(&f, ETH_P_ARP);
	put(&f, "exfiltrated-payload", 19);
	run_stamped("exempt container's odd arp", &f, stamp6, 77,
		    PASS(TL_ALLOW_EXEMPT));
	run_stamped("locked container's odd arp", &f, stamp5, ifindex_port,
		    BLOCK(TL_REASON_BYPASS));
	eth(&f, ETH_P_IPV6);
	ipv6_hops(&f, "fe80::2", "2001:db8:203::10", IPPROTO_ICMPV6, 255);
	ndp(&f, 135, 0);
	run_stamped("container's ndp to a global address", &f, stamp5,
		    ifindex_port, BLOCK(TL_REASON_IPV6));
	eth(&f, ETH_P_IPV6);
	ipv6_hops(&f, "fe80::2", "ff02::1:ff00:1", IPPROTO_ICMPV6, 255);
	ndp(&f, 135, 0);
	run_stamped("container's ndp to a solicited-node group", &f, stamp5,
		    ifindex_port, PASS(TL_ALLOW_ALWAYS));
	ring_buffer__consume(rb);
}

/* ---- inbound to a tunnel address (bpf/inbound.h) ------------------- */

static int inbound_fd(void)
{
	return bpf_program__fd(bpf.tc->progs.tl_tc_ingress);
}

/* addr (text) as an address of the tunnel interface, or no longer */
static int set_tunnel_addr(const char *addr, bool present)
{
	int fd = bpf_map__fd(bpf.tc->maps.tl_inbound);
	struct tl_inbound_addr v = { 0, (__u32)ifindex_tunnel };
	__u8 key[16] = { [10] = 0xff, [11] = 0xff };

	if (inet_pton(AF_INET, addr, key + 12) != 1 &&
	    inet_pton(AF_INET6, addr, key) != 1)
		return -EINVAL;
	return present ? bpf_map_update_elem(fd, key, &v, BPF_ANY) :
			 bpf_map_delete_elem(fd, key);
}

/* A forged SYN from the LAN's side (CVE-2019-14899) at the uplink's TC
 * ingress: dropped in enforce, reported in audit; nothing else counted. */
static void cases_inbound(struct ring_buffer *rb)
{
	struct frame f;

	if (set_tunnel_addr("100.100.0.2", true) ||
	    set_tunnel_addr("2001:db8:100::2", true)) {
		report(false, "inbound: tunnel addresses", "%s", strerror(errno));
		return;
	}
	ring_buffer__consume(rb);
	eth(&f, ETH_P_IP);
	ipv4(&f, "203.0.113.10", "100.100.0.2", IPPROTO_TCP, 0, 5);
	tcp(&f, 80, 40000);
	run("inbound: forged SYN to the tunnel address", inbound_fd(),
	    TL_LAYER_TC, &f, ifindex_uplink, 0, BLOCK(TL_REASON_INBOUND));
	check_event("inbound: event", rb, TL_REASON_INBOUND, TL_LAYER_TC,
		    "100.100.0.2", 40000);
	eth(&f, ETH_P_IPV6);
	ipv6(&f, "2001:db8:203::10", "2001:db8:100::2", IPPROTO_TCP);
	tcp(&f, 80, 40000);
	run("inbound: forged IPv6 SYN to the tunnel address", inbound_fd(),
	    TL_LAYER_TC, &f, ifindex_uplink, 0, BLOCK(TL_REASON_INBOUND));
	check_event("inbound: IPv6 event", rb, TL_REASON_INBOUND, TL_LAYER_TC,
		    "2001:db8:100::2", 40000);
	/* a header the parser calls malformed still names its destination:
	 * cut short, it must not pass for that (the stack may take it) */
	eth(&f, ETH_P_IP);
	ipv4(&f, "203.0.113.10", "100.100.0.2", IPPROTO_TCP, 0, 5);
	run("inbound: TCP header cut off, to the tunnel address",
	    inbound_fd(), TL_LAYER_TC, &f, ifindex_uplink, 0,
	    BLOCK(TL_REASON_INBOUND));
	eth(&f, ETH_P_IP);
	ipv4(&f, "203.0.113.10", "10.213.0.2", IPPROTO_TCP, 0, 5);
	tcp(&f, 80, 40000);
	run("inbound: to the uplink's own address, untouched", inbound_fd(),
	    TL_LAYER_TC, &f, ifindex_uplink, 0, SILENT);
	eth(&f, ETH_P_ARP);
	run("inbound: not IP, untouched", inbound_fd(), TL_LAYER_TC, &f,
	    ifindex_uplink, 0, SILENT);
	if (apply("audit", "enforce", "locked")) {
		report(false, "inbound: audit policy", "apply failed");
		return;
	}
	eth(&f, ETH_P_IP);
	ipv4(&f, "203.0.113.10", "100.100.0.2", IPPROTO_UDP, 0, 5);
	udp(&f, 53, 40000);
	run("inbound: audit reports and passes", inbound_fd(), TL_LAYER_TC, &f,
	    ifindex_uplink, 0, AUDIT(TL_REASON_INBOUND));
	ring_buffer__consume(rb);
	apply("enforce", "enforce", "locked");
	set_tunnel_addr("100.100.0.2", false);
	eth(&f, ETH_P_IP);
	ipv4(&f, "203.0.113.10", "100.100.0.2", IPPROTO_TCP, 0, 5);
	tcp(&f, 80, 40000);
	run("inbound: an address the tunnel no longer has, untouched",
	    inbound_fd(), TL_LAYER_TC, &f, ifindex_uplink, 0, SILENT);
	set_tunnel_addr("2001:db8:100::2", false);
}

/* A forged SYN to the tunnel address at TC ingress carrying token in cb,
 * as `tunlock selftest`'s test runs do: its retval, -1 when it did not run. */
static int run_token(__u64 token)
{
	struct __sk_buff ctx = { .ifindex = ifindex_uplink,
				 .cb = { token >> 32, (__u32)token } };
	struct frame f;
	__u32 ret;

	eth(&f, ETH_P_IP);
	ipv4(&f, "203.0.113.10", "100.100.0.2", IPPROTO_TCP, 0, 5);
	tcp(&f, 80, 40000);
	return test_run(inbound_fd(), &f, &ctx, 1, &ret) ? -1 : (int)ret;
}

/* key in tl_selftest as kind, valid for ttl_s (negative: expired) */
static int set_selftest(__u64 key, __u32 kind, int ttl_s)
{
	struct tl_selftest_probe p = { .kind = kind };
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	p.until_ns = (__u64)(ts.tv_sec + ttl_s) * 1000000000ull;
	return bpf_map_update_elem(bpf_map__fd(bpf.tc->maps.tl_selftest), &key,
				   &p, BPF_ANY);
}

static __u64 selftest_verdicts(__u64 key)
{
	struct tl_selftest_probe p;

	if (bpf_map_lookup_elem(bpf_map__fd(bpf.tc->maps.tl_selftest), &key,
				&p))
		return 0;
	return p.verdicts[TL_REASON_INBOUND];
}

/*
 * One self-test case: the test run is dropped; counted for the self-test
 * (its entry) and not in tl_counters, or the other way round; its event
 * marked selftest or not.
 */
static void selftest_case(const char *name, struct ring_buffer *rb,
			  __u64 token, __u64 key, bool is_probe)
{
	__u64 counted, before = total_counters(), mine = selftest_verdicts(key);
	int ret;

	ring_buffer__consume(rb);
	events_seen = 0;
	ret = run_token(token);
	counted = total_counters() - before;
	ring_buffer__consume(rb);
	if (ret != TC_ACT_SHOT)
		report(false, name, "program returned %d, want a drop", ret);
	else if (counted != !is_probe ||
		 selftest_verdicts(key) - mine != is_probe)
		report(false, name, "tl_counters moved by %llu, the self-test's "
		       "entry by %llu; want %d and %d",
		       (unsigned long long)counted,
		       (unsigned long long)(selftest_verdicts(key) - mine),
		       !is_probe, is_probe);
	else if (events_seen != 1 ||
		 !(last_event.flags & TL_EVENT_SELFTEST) != !is_probe)
		report(false, name, "%d events, flags %u", events_seen,
		       last_event.flags);
	else
		report(true, name, NULL);
}

/* A self-test's test runs are its own, by token; nothing else is. */
static void cases_selftest(struct ring_buffer *rb)
{
	const __u64 token = 0x5e1f7e5700c0ffeeull;
	int fd = bpf_map__fd(bpf.tc->maps.tl_selftest);

	if (set_tunnel_addr("100.100.0.2", true) ||
	    set_selftest(token, TL_SELFTEST_BY_TOKEN, 60)) {
		report(false, "selftest: state", "%s", strerror(errno));
		return;
	}
	selftest_case("selftest: a test run with the token is the self-test's",
		      rb, token, token, true);
	selftest_case("selftest: another token is a leak", rb, token + 1, token,
		      false);
	selftest_case("selftest: no token is a leak", rb, 0, token, false);
	set_selftest(token, TL_SELFTEST_BY_TOKEN, -1);
	selftest_case("selftest: past its deadline, a leak", rb, token, token,
		      false);
	/* a cgroup id is no token: a packet's cb could be made to hold one */
	set_selftest(token, TL_SELFTEST_BY_CGROUP, 60);
	selftest_case("selftest: a cgroup's entry is no token", rb, token,
		      token, false);
	bpf_map_delete_elem(fd, &token);
	set_tunnel_addr("100.100.0.2", false);
}

/*
 * What the verifier spent on each program, against its limit of 1,000,000
 * processed instructions (BPF_COMPLEXITY_LIMIT_INSNS): at most half of it,
 * so that another kernel's verifier (Debian 12's 6.1 spends up to three
 * times what 6.18 does on the same program) still has room. And against
 * the agent's first start, which waits for all of it (some 3 us an
 * instruction on a 2-core VM): at most VERIFIER_START_BUDGET each. With
 * the IPv6 extension walk and the resolver loops verified path by path,
 * tl_tc_egress took 116,190 on 6.18; now the most is cgroup_skb's 69,003
 * on 6.1.
 */
#define VERIFIER_LIMIT 1000000u
#define VERIFIER_START_BUDGET 80000u
static void case_verifier_budget(void)
{
	__u32 worst = 0;
	const char *worst_name = "none";

	for (int i = 0; i < bpf.nprogs; i++) {
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf.progs[i].fd, &info, &len)) {
			report(false, "verifier: program info", "%s: %s",
			       bpf.progs[i].name, strerror(errno));
			return;
		}
		printf("# verifier: %s: %u instructions processed\n",
		       bpf.progs[i].name, info.verified_insns);
		if (info.verified_insns > worst) {
			worst = info.verified_insns;
			worst_name = bpf.progs[i].name;
		}
	}
	if (!bpf.nprogs || !worst)
		report(false, "verifier: every program within half the limit",
		       "no program, or the kernel does not say (verified_insns)");
	else if (worst > VERIFIER_LIMIT / 2)
		report(false, "verifier: every program within half the limit",
		       "%s: %u of %u", worst_name, worst, VERIFIER_LIMIT);
	else
		report(true, "verifier: every program within half the limit",
		       NULL);
	if (worst)
		report(worst <= VERIFIER_START_BUDGET,
		       "verifier: every program within the start-up budget",
		       "%s: %u instructions, budget %u", worst_name, worst,
		       VERIFIER_START_BUDGET);
}

/* The address of kernel symbol name from /proc/kallsyms; 0 when hidden. */
static unsigned long long kernel_symbol(const char *name)
{
	unsigned long long addr = 0, a;
	char line[256], sym[128], type;
	FILE *f = fopen("/proc/kallsyms", "r");

	while (f && !addr && fgets(line, sizeof(line), f))
		if (sscanf(line, "%llx %c %127s", &a, &type, sym) == 3 &&
		    !strcmp(sym, name))
			addr = a;
	if (f)
		fclose(f);
	return addr;
}

/* How many calls of program fd go to the kernel function at rel (its
 * address less __bpf_call_base, as the verifier writes helper calls). */
static int calls_to(int fd, long long rel)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), n;
	struct bpf_insn *insns;
	int found = 0;

	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !info.xlated_prog_len)
		return -1;
	n = info.xlated_prog_len / sizeof(*insns);
	insns = calloc(n, sizeof(*insns));
	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = n * sizeof(*insns);
	info.xlated_prog_insns = (__u64)(unsigned long)insns;
	len = sizeof(info);
	if (!insns || bpf_obj_get_info_by_fd(fd, &info, &len)) {
		free(insns);
		return -1;
	}
	for (__u32 i = 0; i < n; i++)
		found += insns[i].code == (BPF_JMP | BPF_CALL) &&
			 insns[i].src_reg == 0 && insns[i].imm == rel;
	free(insns);
	return found;
}

/*
 * Every map lookup of every program is one the verifier resolved to its
 * map: a call site that sees two maps (clang merges two lookups into one
 * call of either) stays a call of the generic helper, an indirect call
 * per packet that the verifier would otherwise inline.
 */
static void case_lookups_resolved(void)
{
	static const char *const generic[] = {"bpf_map_lookup_elem",
					      "bpf_map_update_elem",
					      "bpf_map_delete_elem"};
	const char *label = "verifier: every map call resolved to its map";
	unsigned long long base = kernel_symbol("__bpf_call_base");

	if (!base) {
		printf("SKIP: %s: /proc/kallsyms hides __bpf_call_base\n",
		       label);
		return;
	}
	for (size_t g = 0; g < sizeof(generic) / sizeof(generic[0]); g++) {
		unsigned long long fn = kernel_symbol(generic[g]);

		if (!fn) {
			report(false, label, "no %s in /proc/kallsyms",
			       generic[g]);
			return;
		}
		for (int i = 0; i < bpf.nprogs; i++) {
			int n = calls_to(bpf.progs[i].fd, (long long)(fn - base));

			if (n) {
				report(false, label, "%s: %s %d", bpf.progs[i].name,
				       n < 0 ? "no xlated code" : generic[g], n);
				return;
			}
		}
	}
	report(bpf.nprogs > 0, label, "no program");
}

int main(void)
{
	char pin_dir[128];
	struct ring_buffer *rb;

	if (geteuid()) {
		printf("SKIP: packet tests: need root\n0 passed, 0 failed, 1 skipped\n");
		return 0;
	}
	libbpf_set_print(test_libbpf_print);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/tunlock-ptest-%d",
		 getpid());
	if (make_netns() || tl_cgroup_mount(cg_mount, sizeof(cg_mount)) ||
	    tl_bpf_load(&bpf, pin_dir)) {
		printf("FAIL: packet test setup\n0 passed, 1 failed\n");
		tl_pins_remove(pin_dir);
		return 1;
	}
	rb = ring_buffer__new(tl_bpf_map_fd(&bpf, TL_MAP_EVENTS), on_event,
			      NULL, NULL);
	if (!rb || apply("enforce", "enforce", "locked") ||
	    tl_record_netns(tl_bpf_map_fd(&bpf, TL_MAP_STATE)) ||
	    set_iface(ifindex_uplink, TL_IFACE_GUARDED) ||
	    set_iface(ifindex_tunnel, TL_IFACE_TUNNEL) ||
	    set_tunnels(false, false)) {
		report(false, "packet test state", "%s", strerror(errno));
	} else {
		case_verifier_budget();
		case_lookups_resolved();
		cases_enforce(rb);
		cases_allow_tables(rb);
		cases_basics(rb);
		/* back to the policy main() set, which the rest assumes */
		apply("enforce", "enforce", "locked");
		set_tunnels(true, false);
		cases_tunnel_up(rb);
		cases_iface_index(rb);
		case_foreign_netns(rb);
		cases_containers(rb);
		cases_other_policies(rb);
		cases_flood(rb);
		cases_dns(rb);
		cases_inbound(rb);
		cases_selftest(rb);
	}
	ring_buffer__free(rb);
	libbpf_set_print(NULL); /* detaching is no news */
	tl_bpf_close(&bpf);
	if (tl_pins_remove(pin_dir))
		report(false, "remove pins", "%s left behind", pin_dir);
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
