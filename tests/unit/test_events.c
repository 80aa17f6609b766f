// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the event feed's JSON formatting (docs/events.md). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>

#include "events.h"
#include "feed.h"
#include "metrics.h"
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

/*
 * Metrics of a made-up agent, checked by promtool (Debian's prometheus
 * package; tests/deps.sh extracts it into build/tools when missing).
 */
static void check_metrics(void)
{
	static struct tl_metrics m;
	const char *promtool = getenv("PROMTOOL");
	const char *tmpdir = getenv("TMPDIR");
	char cmd[1024], path[512];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int fd, rc;

	m.counters[TL_COUNTER_INDEX(TL_LAYER_TC, TL_REASON_BYPASS,
				    TL_VERDICT_BLOCKED)] = 100000;
	m.evstats[TL_EVSTAT_INDEX(TL_REASON_BYPASS, TL_EVSTAT_SUPPRESSED)] = 99000;
	m.ntunnels = 1;
	snprintf(m.tunnels[0].name, sizeof(m.tunnels[0].name), "corp");
	snprintf(m.tunnels[0].ifname, sizeof(m.tunnels[0].ifname), "wg0");
	m.tunnels[0].up = true;
	m.ifaces_guarded = 2;
	m.generation = 7;
	m.reloads_ok = 6;
	m.reloads_failed = 1;
	m.last_reload_ns = 1700000000ull * 1000000000ull;
	f = open_memstream(&text, &len);
	if (!f) {
		printf("FAIL: metrics: open_memstream: %m\n");
		failed++;
		return;
	}
	tl_metrics_format(f, &m);
	fclose(f);
	expect("metrics: leaks by layer, reason, verdict", text,
	       "tunlock_leaks_total{layer=\"tc\",reason=\"bypass\","
	       "verdict=\"blocked\"} 100000\n");
	expect("metrics: events suppressed", text,
	       "tunlock_events_total{reason=\"bypass\",outcome=\"suppressed\"} "
	       "99000\n");
	expect("metrics: tunnel up", text,
	       "tunlock_tunnel_up{tunnel=\"corp\",interface=\"wg0\"} 1\n");
	expect("metrics: reloads", text,
	       "tunlock_reloads_total{result=\"failure\"} 1\n");
	expect("metrics: generation", text, "tunlock_policy_generation 7\n");
	free(text);

	snprintf(path, sizeof(path), "%s/tunlock-metrics-XXXXXX",
		 tmpdir && *tmpdir ? tmpdir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0) {
		printf("FAIL: metrics: mkstemp %s: %m\n", path);
		failed++;
		return;
	}
	close(fd);
	if (tl_metrics_write(path, &m)) {
		printf("FAIL: metrics: writing %s\n", path);
		failed++;
		unlink(path);
		return;
	}
	if (!promtool)
		promtool = !access("build/tools/promtool", X_OK) ?
				   "build/tools/promtool" :
				   "promtool";
	snprintf(cmd, sizeof(cmd), "%s check metrics < %s", promtool, path);
	rc = system(cmd);
	if (rc == 0) {
		printf("PASS: metrics: promtool check metrics\n");
		passed++;
	} else {
		printf("FAIL: metrics: promtool check metrics (%s) exited %d\n",
		       promtool, rc);
		failed++;
	}
	unlink(path);
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

	ev = base_event();
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("kind leak after schema", line, "\"schema\":1,\"kind\":\"leak\",");

	/* ECS: the same facts under ECS names, unknowns left out */
	ctx = (struct tl_event_context){ 0, "up0", "/lab/apps", "locked" };
	tl_event_format_ecs(&ev, &ctx, line, sizeof(line));
	expect("ecs timestamp", line,
	       "{\"@timestamp\":\"1970-01-01T00:00:05.000000123Z\",\"ecs\":"
	       "{\"version\":\"8.11.0\"}");
	expect("ecs event", line,
	       "\"event\":{\"kind\":\"event\",\"category\":[\"network\"],"
	       "\"type\":[\"connection\",\"denied\"],\"action\":\"blocked\","
	       "\"reason\":\"bypass\",\"outcome\":\"failure\"");
	expect("ecs network", line,
	       "\"network\":{\"transport\":\"tcp\",\"iana_number\":\"6\","
	       "\"type\":\"ipv4\",\"direction\":\"egress\"}");
	expect("ecs source and destination", line,
	       "\"source\":{\"ip\":\"10.213.0.2\",\"port\":40000},"
	       "\"destination\":{\"ip\":\"203.0.113.10\",\"port\":443}");
	expect("ecs process", line, "\"process\":{\"pid\":777,\"name\":\"curl\"}");
	expect("ecs egress interface", line,
	       "\"egress\":{\"interface\":{\"name\":\"up0\",\"id\":\"3\"}}");
	expect("ecs rule", line,
	       "\"rule\":{\"name\":\"locked\",\"version\":\"9\",\"ruleset\":"
	       "\"tunlock\"}");
	expect("ecs tunlock fields", line,
	       "\"tunlock\":{\"schema\":1,\"kind\":\"leak\",\"verdict\":"
	       "\"blocked\",\"layer\":\"cgroup_skb\",\"hook\":"
	       "\"cgroup_skb_egress\",\"cgroup\":\"/lab/apps\",\"cgroup_id\":42,"
	       "\"tunnel\":\"up\",\"generation\":9}}\n");
	ev.verdict = TL_VERDICT_AUDIT;
	ev.pid = 0;
	memset(ev.saddr, 0, 16);
	ev.sport = 0;
	tl_event_format_ecs(&ev, &ctx, line, sizeof(line));
	expect("ecs audit is allowed", line,
	       "\"type\":[\"connection\",\"allowed\"],\"action\":\"audit\"");
	expect("ecs unknowns are left out", line,
	       "\"direction\":\"egress\"},\"destination\"");
	if (!strstr(line, "\"process\"") && !strstr(line, "\"source\"")) {
		printf("PASS: events: ecs has no process or source when unknown\n");
		passed++;
	} else {
		printf("FAIL: events: ecs unknown process or source: %s", line);
		failed++;
	}

	struct tl_summary sum = {
		.reason = TL_REASON_BYPASS, .generation = 4,
		.start_ns = 1000000000ull, .end_ns = 31000000000ull,
		.decisions = 100000, .emitted = 600, .suppressed = 99000,
		.lost = 400, .dropped = 7,
	};
	tl_summary_format(&sum, TL_FEED_NATIVE, line, sizeof(line));
	expect("summary", line,
	       "{\"time\":\"1970-01-01T00:00:31.000000000Z\",\"schema\":1,"
	       "\"kind\":\"summary\",\"reason\":\"bypass\",\"start\":"
	       "\"1970-01-01T00:00:01.000000000Z\",\"decisions\":100000,"
	       "\"emitted\":600,\"suppressed\":99000,\"lost\":400,\"dropped\":7,"
	       "\"generation\":4}\n");
	tl_summary_format(&sum, TL_FEED_ECS, line, sizeof(line));
	expect("ecs summary is a metric", line,
	       "\"event\":{\"kind\":\"metric\",\"category\":[\"network\"],"
	       "\"type\":[\"info\"],\"reason\":\"bypass\"");
	expect("ecs summary counts", line,
	       "\"tunlock\":{\"schema\":1,\"kind\":\"summary\",\"decisions\":"
	       "100000,\"emitted\":600,\"suppressed\":99000,\"lost\":400");
	if (tl_event_format_ecs(&ev, &ctx, small, sizeof(small)) == -1 &&
	    tl_summary_format(&sum, TL_FEED_ECS, small, sizeof(small)) == -1) {
		printf("PASS: events: ecs and summary refuse a small buffer\n");
		passed++;
	} else {
		printf("FAIL: events: ecs or summary filled a small buffer\n");
		failed++;
	}

	ev = base_event();
	if (tl_event_format(&ev, &ctx, small, sizeof(small)) == -1) {
		printf("PASS: events: too small a buffer is refused\n");
		passed++;
	} else {
		printf("FAIL: events: too small a buffer was filled\n");
		failed++;
	}
	check_metrics();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
