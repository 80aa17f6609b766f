// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the event feed's JSON formatting (docs/events.md). */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "events.h"
#include "names.h"

static int passed, failed;

static void expect(const char *name, const char *line, const char *want)
{
	if (line && strstr(line, want)) {
		printf("PASS: events: %s\n", name);
		passed++;
	} else {
		printf("FAIL: events: %s: %s lacks %s\n", name,
		       line ? line : "(no line)", want);
		failed++;
	}
}

static void v4(uint8_t a[16], const char *s)
{
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	inet_pton(AF_INET, s, a + 12);
}

static struct tl_event base_event(void)
{
	struct tl_event ev = {
		.boot_ns = 1000000000ull * 5 + 123,
		.cgroup_id = 42,
		.pid = 777,
		.ifindex = 3,
		.generation = 9,
		.sport = 40000,
		.dport = 443,
		.profile = 1,
		.family = AF_INET,
		.protocol = IPPROTO_TCP,
		.reason = TL_REASON_BYPASS,
		.verdict = TL_VERDICT_BLOCKED,
		.layer = TL_LAYER_CGROUP_SKB,
		.hook = TL_HOOK_CGROUP_SKB_EGRESS,
		.tunnel_up = 1,
	};

	v4(ev.saddr, "10.213.0.2");
	v4(ev.daddr, "203.0.113.10");
	strcpy(ev.comm, "curl");
	return ev;
}

int main(void)
{
	/* 1970-01-01T00:00:05 boot offset 0: fixed time to compare */
	struct tl_event_context ctx = { 0, "up0", "/lab/apps", "locked" };
	struct tl_event ev = base_event();
	char line[2048], small[64];

	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("time is RFC 3339 with ns", line,
	       "{\"time\":\"1970-01-01T00:00:05.000000123Z\"");
	expect("reason", line, "\"reason\":\"bypass\"");
	expect("verdict", line, "\"verdict\":\"blocked\"");
	expect("layer and hook", line,
	       "\"layer\":\"cgroup_skb\",\"hook\":\"cgroup_skb_egress\"");
	expect("ipv4 addresses are dotted", line,
	       "\"src\":\"10.213.0.2\",\"sport\":40000,\"dst\":\"203.0.113.10\","
	       "\"dport\":443");
	expect("interface", line, "\"interface\":\"up0\",\"ifindex\":3");
	expect("process", line, "\"pid\":777,\"comm\":\"curl\"");
	expect("cgroup and profile", line,
	       "\"cgroup\":\"/lab/apps\",\"cgroup_id\":42,\"profile\":\"locked\"");
	expect("tunnel and generation end the line", line,
	       "\"tunnel\":\"up\",\"generation\":9}\n");
	expect("no redirect is null", line,
	       "\"dport\":443,\"redirect_dst\":null,\"redirect_dport\":null,");

	ev.family = AF_INET6;
	ev.protocol = IPPROTO_UDP;
	inet_pton(AF_INET6, "2001:db8::1", ev.daddr);
	memset(ev.saddr, 0, 16);
	ev.sport = 0;
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("ipv6 destination in RFC 5952 form", line,
	       "\"dst\":\"2001:db8::1\"");
	expect("unbound source is null", line, "\"src\":null,\"sport\":null");
	expect("family", line, "\"family\":\"ipv6\"");

	ev = base_event();
	ev.protocol = IPPROTO_ICMP;
	ev.pid = 0;
	ev.ifindex = 0;
	ctx.ifname = NULL;
	ctx.cgroup = NULL;
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("no ports for icmp", line, "\"sport\":null");
	expect("icmp named", line, "\"protocol\":\"icmp\"");
	expect("unknown process is null", line, "\"pid\":null,\"comm\":null");
	expect("unknown interface is null", line,
	       "\"interface\":null,\"ifindex\":null");
	expect("unknown cgroup path is null", line, "\"cgroup\":null");

	ev = base_event();
	ev.protocol = 47;
	memcpy(ev.comm, "a\"b\\c\x01\x7f", 8);
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("unnamed protocol is its number", line, "\"protocol\":\"47\"");
	expect("comm is escaped", line, "\"comm\":\"a\\\"b\\\\c\\u0001\\u007f\"");


	ev = base_event();
	ev.reason = TL_REASON_DNS;
	ev.verdict = TL_VERDICT_REDIRECTED;
	ev.layer = TL_LAYER_SOCKET;
	ev.hook = TL_HOOK_SENDMSG4;
	ev.protocol = IPPROTO_UDP;
	ev.dport = 53;
	v4(ev.daddr, "10.213.0.1");
	v4(ev.redirect_addr, "100.100.0.1");
	ev.redirect_port = 53;
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("dns redirect", line,
	       "\"reason\":\"dns\",\"verdict\":\"redirected\",\"layer\":"
	       "\"socket\",\"hook\":\"sendmsg4\"");
	expect("dns redirect names the original and the target", line,
	       "\"dst\":\"10.213.0.1\",\"dport\":53,\"redirect_dst\":"
	       "\"100.100.0.1\",\"redirect_dport\":53,");
	ev.family = AF_INET6;
	inet_pton(AF_INET6, "fd13:213::1", ev.daddr);
	inet_pton(AF_INET6, "2001:db8::53", ev.redirect_addr);
	ev.dport = ev.redirect_port = 853;
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("dns redirect over IPv6, DNS over TLS", line,
	       "\"dst\":\"fd13:213::1\",\"dport\":853,\"redirect_dst\":"
	       "\"2001:db8::53\",\"redirect_dport\":853,");

	ev = base_event();
	ev.verdict = TL_VERDICT_AUDIT;
	ev.reason = TL_REASON_ENDPOINT;
	ev.family = 0;
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("audit verdict", line, "\"reason\":\"endpoint\",\"verdict\":\"audit\"");
	expect("not IP: no addresses", line, "\"family\":null,\"src\":null");

	if (tl_event_format(&ev, &ctx, small, sizeof(small)) == -1) {
		printf("PASS: events: too small a buffer is refused\n");
		passed++;
	} else {
		printf("FAIL: events: too small a buffer was filled\n");
		failed++;
	}
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
