// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Unit tests of the event feed's JSON formatting (docs/events.md). */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/rtnetlink.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cgindex.h"
#include "events.h"
#include "feed.h"
#include "metrics.h"
#include "netlink.h"
#include "json.h"
#include "names.h"
#include "output.h"
#include "pins.h"
#include "selftest.h"
#include "selftest_channel.h"
#include "status.h"

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

static void ok(const char *name, bool cond, const char *line)
{
	if (cond) {
		printf("PASS: events: %s\n", name);
		passed++;
	} else {
		printf("FAIL: events: %s: %.300s\n", name, line ? line : "");
		failed++;
	}
}

/* The value of "key":"..." in line (escaped as written), in val. */
static size_t field_len(const char *line, const char *key)
{
	const char *p = strstr(line, key), *q;

	if (!p)
		return 0;
	p += strlen(key);
	for (q = p; *q && *q != '"'; q++)
		if (*q == '\\' && q[1])
			q++;
	return q - p;
}

/*
 * A cgroup path of 4,095 escaped bytes (6 bytes each once escaped, 24 KB)
 * used to make the line too long, and the event was dropped without a
 * trace: now the field is cut, the line made, in both formats.
 */
static void check_truncation(void)
{
	struct tl_event_context ctx = { 0, "up0", NULL, "locked" };
	struct tl_event ev = base_event();
	static char cg[4096], line[TL_EVENT_LINE_MAX];
	int n;

	cg[0] = '/';
	memset(cg + 1, 0x01, sizeof(cg) - 2);
	ctx.cgroup = cg;
	n = tl_event_format(&ev, &ctx, line, sizeof(line));
	ok("a 4 KiB escaped cgroup path still makes a line", n > 0, line);
	if (n <= 0)
		return;
	ok("the line is whole", line[n - 1] == '\n' && line[n - 2] == '}',
	   line);
	ok("the cut cgroup ends with ...",
	   strstr(line, "\\u0001...\",\"cgroup_id\":42,") != NULL, line);
	ok("the cut cgroup is at most TL_JSON_FIELD_MAX bytes",
	   field_len(line, "\"cgroup\":\"") <= TL_JSON_FIELD_MAX, line);
	ok("a cut never splits an escape",
	   (field_len(line, "\"cgroup\":\"") - 1 - 3) % 6 == 0, line);
	expect("the fields after the cgroup are all there", line,
	       "\"profile\":\"locked\",\"tunnel\":\"up\",\"generation\":9,"
	       "\"selftest\":false}\n");

	n = tl_event_format_ecs(&ev, &ctx, line, sizeof(line));
	ok("ecs: a 4 KiB escaped cgroup path still makes a line", n > 0, line);
	expect("ecs: the cut cgroup ends with ...", line,
	       "\\u0001...\",\"cgroup_id\":42,");

	/* short fields are not touched */
	ctx.cgroup = "/a\"b";
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("a short field is whole", line, "\"cgroup\":\"/a\\\"b\",");
}

/* The metrics text of m (to free), or NULL. */
static char *metrics_text(const struct tl_metrics *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	tl_metrics_format(f, m);
	fclose(f);
	return text;
}

/* A line that cannot be made is counted by reason, not lost silently. */
static void check_unformatted_counted(void)
{
	struct tl_event_context ctx = { 0, "up0", "/lab/apps", "locked" };
	struct tl_event ev = base_event();
	struct tl_output out;
	struct tl_events e = { .out = &out };
	static struct tl_metrics m;
	char *text;

	if (tl_output_open(&out, "/dev/null")) {
		printf("FAIL: events: opening /dev/null\n");
		failed++;
		return;
	}
	ok("an event is written", !tl_events_write(&e, &ev, &ctx) &&
					  e.emitted == 1, NULL);
	e.line_max = 64; /* no event fits */
	ok("an event that cannot be formatted says so",
	   tl_events_write(&e, &ev, &ctx) == -1, NULL);
	ev.reason = TL_REASON_DNS;
	tl_events_write(&e, &ev, &ctx);
	tl_events_write(&e, &ev, &ctx);
	ok("formatting failures are counted by reason",
	   e.unformatted[TL_REASON_BYPASS] == 1 &&
		   e.unformatted[TL_REASON_DNS] == 2 && e.emitted == 1,
	   NULL);
	e.format = TL_FEED_ECS;
	tl_events_write(&e, &ev, &ctx);
	ok("ecs formatting failures are counted too",
	   e.unformatted[TL_REASON_DNS] == 3, NULL);
	tl_output_close(&out);

	m.lines_unformatted = 4;
	text = metrics_text(&m);
	expect("metrics: lines not made", text,
	       "tunlock_feed_lines_total{result=\"unformatted\"} 4\n");
	free(text);
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
	snprintf(m.tunnels[0].name, sizeof(m.tunnels[0].name), "corp");
	snprintf(m.tunnels[0].ifname, sizeof(m.tunnels[0].ifname), "wg0");
	m.tunnels[0].up = true;
	/* label values with a quote, a backslash and a newline */
	m.ntunnels = 2;
	snprintf(m.tunnels[1].name, sizeof(m.tunnels[1].name), "a\"b\\c\nd");
	snprintf(m.tunnels[1].ifname, sizeof(m.tunnels[1].ifname), "wg\"\\");
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
	expect("metrics: label values escaped", text,
	       "tunlock_tunnel_up{tunnel=\"a\\\"b\\\\c\\nd\","
	       "interface=\"wg\\\"\\\\\"} 0\n");
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

/*
 * text parses as JSON and the Python expression test (of d, the document)
 * holds; argv[1] of the expression is arg.
 */
static void check_json(const char *name, const char *text, const char *test,
		       const char *arg)
{
	char path[] = "/tmp/tunlock-json-XXXXXX", cmd[1024];
	int fd = mkstemp(path), rc;
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f) {
		printf("FAIL: %s: temporary file: %m\n", name);
		failed++;
		return;
	}
	fputs(text, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json, sys; d = json.load(open(sys.argv[2])); "
		 "sys.exit(0 if (%s) else 3)' '%s' %s",
		 test, arg, path);
	rc = system(cmd);
	unlink(path);
	ok(name, rc == 0, text);
}

/* Pins an array map of n values of size at dir/name; 0 or -1. */
static int pin_array(const char *dir, const char *name, __u32 size, __u32 n,
		     const void *values)
{
	char path[512];
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, NULL, 4, size, n, NULL);
	int err = fd < 0;

	for (__u32 k = 0; !err && k < n; k++)
		err = bpf_map_update_elem(fd, &k, (const char *)values + k * size,
					  BPF_ANY);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!err)
		err = bpf_obj_pin(fd, path);
	if (fd >= 0)
		close(fd);
	return err ? -1 : 0;
}

/*
 * `status --json` of a pin dir, attach cgroup, tunnel and interface names
 * with a quote and a backslash (pins of its own in bpffs, made by hand:
 * nothing is attached) parses as JSON and says the names as they are.
 */
static void check_status_json(void)
{
	static struct tl_tunnel_state tun[TL_MAX_TUNNELS];
	struct tl_state st = { .generation = 1 };
	char dir[256], path[512], *text = NULL;
	size_t len = 0;
	FILE *f;

	snprintf(dir, sizeof(dir), "/sys/fs/bpf/tunlock-unit-%d-a\"b\\c",
		 getpid());
	f = open_memstream(&text, &len);
	if (!f) {
		printf("FAIL: status json: open_memstream: %m\n");
		failed++;
		return;
	}
	tl_status(dir, true, f); /* nothing pinned yet */
	fclose(f);
	check_json("status json: nothing pinned, quoted pin dir", text,
		   "d[\"pin_dir\"] == sys.argv[1] and not d[\"enforcing\"]",
		   dir);
	free(text);

	snprintf(st.attach_cgroup, sizeof(st.attach_cgroup), "/lab/\"x\\y");
	snprintf(tun[0].name, sizeof(tun[0].name), "corp\"\\");
	snprintf(tun[0].ifname, sizeof(tun[0].ifname), "wg\"0\\");
	if (mkdir(dir, 0700) ||
	    pin_array(dir, tl_map_names[TL_MAP_STATE], sizeof(st), 1, &st) ||
	    pin_array(dir, tl_map_names[TL_MAP_TUNNELS], sizeof(tun[0]),
		      TL_MAX_TUNNELS, tun)) {
		printf("FAIL: status json: pinning maps at %s (root, bpffs): "
		       "%m\n", dir);
		failed++;
	} else {
		text = NULL;
		f = open_memstream(&text, &len);
		if (f) {
			tl_status(dir, true, f);
			fclose(f);
		}
		check_json("status json: quote and backslash in pin dir, "
			   "cgroup, tunnel and interface names",
			   text ? text : "",
			   "d[\"pin_dir\"] == sys.argv[1] and "
			   "d[\"attach_cgroup\"] == \"/lab/\\\"x\\\\y\" and "
			   "d[\"tunnels\"][0][\"name\"] == \"corp\\\"\\\\\" and "
			   "d[\"tunnels\"][0][\"interface\"] == \"wg\\\"0\\\\\"",
			   dir);
		free(text);
	}
	for (int m = 0; m < TL_MAP_COUNT; m++) {
		snprintf(path, sizeof(path), "%s/%s", dir, tl_map_names[m]);
		unlink(path);
	}
	rmdir(dir);
}

/* Distinct, scattered ids (xorshift64 never repeats within its period):
 * consecutive ones would land in distinct slots and never collide. */
static uint64_t cg_id(int i)
{
	uint64_t x = 88172645463325252ull;

	for (int k = 0; k <= i; k++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
	}
	return x;
}

/* The cgroup index: watched entries survive drops of their neighbours
 * (backward shift), growth, and the purge of kept answers. */
static void check_cgindex(void)
{
	const int n = 3000;
	char rel[32];
	int bad = 0;
	uint64_t found, unknown;

	for (int i = 1; i <= n; i++) {
		snprintf(rel, sizeof(rel), "/c%d", i);
		if (tl_cgindex_put(cg_id(i), rel))
			bad++;
	}
	/* unknown ids, not resolvable under a mount that is not there:
	 * misses kept, more than TL_CGINDEX_CACHED of them */
	for (int i = 0; i < 3 * TL_CGINDEX_CACHED; i++)
		if (tl_cgroup_path("/nonexistent-tl", cg_id(n + 1 + i)))
			bad++;
	/* after the last rebuild: what follows a hole must stay reachable */
	for (int i = 2; i <= n; i += 2)
		tl_cgindex_drop(cg_id(i));
	for (int i = 1; i <= n; i++) {
		const char *got = tl_cgindex_path(cg_id(i));

		snprintf(rel, sizeof(rel), "/c%d", i);
		if (i % 2 && (!got || strcmp(got, rel)))
			bad++;
		if (!(i % 2) && got)
			bad++;
	}
	if (tl_cgindex_id("/c2999") != cg_id(2999) || tl_cgindex_id("/c2998"))
		bad++;
	if (!tl_cgroup_path("/nonexistent-tl", cg_id(1)))
		bad++;
	tl_cgroup_path_stats(&found, &unknown);
	ok("cgindex keeps watched entries through drops, growth and purges",
	   !bad && found == 1 && unknown == 3 * TL_CGINDEX_CACHED, NULL);
	tl_cgindex_clear();
	ok("cgindex is empty after clear",
	   !tl_cgindex_path(cg_id(1)) && !tl_cgindex_id("/c1"), NULL);
}

/* name passes when line is valid against the documented schemas. */
static void schema_valid(const char *name, const char *line)
{
	char path[] = "/tmp/tunlock-schema-XXXXXX", cmd[128];
	int fd = mkstemp(path);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f) {
		ok(name, false, "no temporary file");
		return;
	}
	fputs(line, f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "python3 tests/lab/schema.py %s >/dev/null 2>&1", path);
	ok(name, !system(cmd), line);
	unlink(path);
}

/*
 * A self-test report: its feed line is valid against docs/events.schema.json
 * (reasons with a quote and a backslash escaped), its gauges pass promtool;
 * and an inbound event names its reason and hook.
 */
static void check_selftest(void)
{
	static struct tl_selftest_report r = {
		.time_ns = 1796153028000000000ull,
		.n = 3,
		.c = { { "bypass", TL_SELFTEST_PASS, "stopped: up0 (EPERM)" },
		       { "stun", TL_SELFTEST_FAIL, "up\"0\\: sent" },
		       { "packet_socket", TL_SELFTEST_SKIP, "kernel without BPF LSM" } },
	};
	struct tl_event_context ctx = { 0, "up0", NULL, "locked" };
	struct tl_event ev = base_event();
	char line[4096], path[] = "/tmp/tunlock-selftest-XXXXXX", cmd[1024];
	char *text = NULL;
	size_t len = 0;
	FILE *f;
	int fd;

	ok("selftest: the line formats", tl_selftest_format(&r, TL_FEED_NATIVE, line, sizeof(line)) > 0,
	   line);
	check_json("selftest: result fail, stun failed, reasons as given", line,
		   "d[\"kind\"] == \"selftest\" and d[\"result\"] == \"fail\" and "
		   "d[\"failed\"] == [\"stun\"] and "
		   "d[\"classes\"][1][\"reason\"] == sys.argv[1] and "
		   "[c[\"result\"] for c in d[\"classes\"]] == [\"pass\", \"fail\", \"skip\"]",
		   "up\"0\\: sent");
	schema_valid("selftest: the line is valid against the schema", line);
	f = open_memstream(&text, &len);
	if (f) {
		tl_selftest_metrics(f, &r);
		fclose(f);
		expect("selftest: class gauges", text,
		       "tunlock_selftest_class_result{class=\"stun\"} 0\n"
		       "tunlock_selftest_class_result{class=\"packet_socket\"} -1\n");
		expect("selftest: ok and failed classes", text,
		       "tunlock_selftest_ok 0\n");
		expect("selftest: the probes' verdicts", text,
		       "tunlock_selftest_probe_verdicts 0\n");
		free(text);
	}
	fd = mkstemp(path);
	if (fd >= 0)
		close(fd);
	if (fd >= 0 && !tl_selftest_metrics_write(path, &r)) {
		snprintf(cmd, sizeof(cmd), "%s check metrics < %s",
			 !access("build/tools/promtool", X_OK) ?
				 "build/tools/promtool" : "promtool",
			 path);
		ok("selftest: promtool check metrics", !system(cmd), path);
	} else {
		ok("selftest: writing the gauges", false, path);
	}
	unlink(path);

	ev.reason = TL_REASON_INBOUND;
	ev.layer = TL_LAYER_TC;
	ev.hook = TL_HOOK_TC_INGRESS;
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("inbound: reason and hook", line,
	       "\"reason\":\"inbound\",\"verdict\":\"blocked\",\"layer\":\"tc\","
	       "\"hook\":\"tc_ingress\"");

	/* a self-test's probe says so, in both formats */
	ev.flags = TL_EVENT_SELFTEST;
	tl_event_format(&ev, &ctx, line, sizeof(line));
	expect("selftest: a probe's event says selftest", line,
	       "\"selftest\":true}\n");
	tl_event_format_ecs(&ev, &ctx, line, sizeof(line));
	expect("selftest: a probe's ECS document says selftest", line,
	       "\"selftest\":true}}\n");
	tl_selftest_format(&r, TL_FEED_ECS, line, sizeof(line));
	check_json("selftest: the ECS document", line,
		   "d[\"event\"][\"dataset\"] == \"tunlock.selftest\" and "
		   "d[\"event\"][\"outcome\"] == \"failure\" and "
		   "d[\"tunlock\"][\"failed\"] == [\"stun\"] and "
		   "d[\"tunlock\"][\"classes\"][1][\"reason\"] == sys.argv[1]",
		   "up\"0\\: sent");
	schema_valid("selftest: the ECS document is valid against the schema",
		     line);
}

/* A full report of every class, as `tunlock selftest` makes one. */
static void full_report(struct tl_selftest_report *r)
{
	memset(r, 0, sizeof(*r));
	r->time_ns = 1796153028000000000ull;
	r->n = TL_SELFTEST_CLASSES;
	r->probe_verdicts = 7;
	for (int i = 0; i < r->n; i++) {
		r->c[i].name = tl_selftest_class_names[i];
		r->c[i].result = i % 3;
		snprintf(r->c[i].why, sizeof(r->c[i].why), "why %d", i);
	}
}

/* A child that sends r as uid 65534; its exit status: 0 sent, 1 refused. */
static int send_unprivileged(const char *pin_dir,
			     const struct tl_selftest_report *r)
{
	pid_t pid = fork();
	int status;

	if (!pid)
		_exit(setgid(65534) || setuid(65534) ? 3 :
		      tl_selftest_send(pin_dir, r) ? 1 : 0);
	if (pid < 0 || waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * The self-test's channel to the agent: a run goes in whole; a process
 * that is not root cannot send one (the socket's mode), and were the
 * socket open to it, its datagram is refused (the kernel's credentials).
 */
static void check_selftest_channel(void)
{
	static struct tl_selftest_report r, got;
	char pin_dir[64], sock[128];
	int fd, n;

	if (geteuid()) {
		printf("SKIP: selftest channel: not root\n");
		return;
	}
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/tunlock-unit-%d",
		 getpid());
	full_report(&r);
	fd = tl_selftest_listen(pin_dir);
	ok("selftest channel: the agent listens", fd >= 0, pin_dir);
	if (fd < 0)
		return;
	tl_selftest_sock_path(sock, sizeof(sock), pin_dir);
	ok("selftest channel: root sends", !tl_selftest_send(pin_dir, &r), sock);
	n = tl_selftest_receive(fd, &got);
	ok("selftest channel: the agent gets it whole", n == 1 &&
	   got.n == r.n && got.c[4].result == r.c[4].result &&
	   got.probe_verdicts == 7 &&
	   !strcmp(got.c[10].why, "why 10") &&
	   !strcmp(got.c[10].name, "inbound"), sock);
	ok("selftest channel: nobody else may send",
	   send_unprivileged(pin_dir, &r) == 1, sock);
	ok("selftest channel: nothing came", tl_selftest_receive(fd, &got) == 0,
	   sock);
	/* the socket opened to all: the credentials still refuse it */
	chmod(sock, 0666);
	ok("selftest channel: sent, the socket open to all",
	   send_unprivileged(pin_dir, &r) == 0, sock);
	ok("selftest channel: refused, not from root",
	   tl_selftest_receive(fd, &got) == -EPERM, sock);
	tl_selftest_unlisten(fd, pin_dir);
	ok("selftest channel: the socket is removed", access(sock, F_OK), sock);
	ok("selftest channel: no agent, said", tl_selftest_send(pin_dir, &r) ==
	   -ENOENT, sock);
	rmdir(TL_RUN_DIR); /* when no agent of this machine has its socket there */
}

static int count_message(void *ctx, struct nlmsghdr *h)
{
	(void)h;
	(*(int *)ctx)++;
	return 0;
}

/* A link message unicast to the agent's rtnetlink port by a process: -errno,
 * or 0 once sent. */
static int forge_link_news(const struct tl_nl *nl)
{
	struct sockaddr_nl to = {.nl_family = AF_NETLINK}, me;
	socklen_t len = sizeof(me);
	struct {
		struct nlmsghdr h;
		struct ifinfomsg i;
	} msg = {
	    .h.nlmsg_len = sizeof(msg),
	    .h.nlmsg_type = RTM_NEWLINK,
	    .i.ifi_index = 4242,
	};
	int fd, err = 0;

	if (getsockname(nl->fd, (struct sockaddr *)&me, &len))
		return -errno;
	to.nl_pid = me.nl_pid;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0)
		return -errno;
	if (sendto(fd, &msg, sizeof(msg), 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Only the kernel speaks rtnetlink to the agent: a forged message from a
 * process (root's, since others may not send) is dropped, while a dump
 * from the kernel still reaches the callback. */
static void check_netlink_sender(void)
{
	struct tl_nl nl;
	int forged = 0, dumped = 0, err;

	if (tl_nl_open(&nl, 0, 0)) {
		ok("rtnetlink socket opens", false, strerror(errno));
		return;
	}
	err = forge_link_news(&nl);
	if (err == -EPERM) {
		printf("SKIP: events: rtnetlink forged sender: needs CAP_NET_ADMIN\n");
	} else {
		for (int i = 0; i < 4 && tl_nl_read(&nl, count_message, &forged) == 0; i++)
			;
		ok("rtnetlink news sent by a process is dropped", !err && !forged,
		   err ? strerror(-err) : "the forged RTM_NEWLINK reached the callback");
	}
	err = tl_nl_dump(&nl, RTM_GETLINK, count_message, &dumped);
	ok("rtnetlink dump from the kernel is read", !err && dumped > 0,
	   err ? strerror(-err) : "no link in the dump");
	tl_nl_close(&nl);
}

int main(void)
{
	check_selftest_channel();
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
	expect("tunnel, generation and selftest end the line", line,
	       "\"tunnel\":\"up\",\"generation\":9,\"selftest\":false}\n");
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
	       "\"tunnel\":\"up\",\"generation\":9,\"selftest\":false}}\n");
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
		.lost = 400, .dropped = 7, .unformatted = 3,
	};
	tl_summary_format(&sum, TL_FEED_NATIVE, line, sizeof(line));
	expect("summary", line,
	       "{\"time\":\"1970-01-01T00:00:31.000000000Z\",\"schema\":1,"
	       "\"kind\":\"summary\",\"reason\":\"bypass\",\"start\":"
	       "\"1970-01-01T00:00:01.000000000Z\",\"decisions\":100000,"
	       "\"emitted\":600,\"suppressed\":99000,\"lost\":400,\"dropped\":7,"
	       "\"unformatted\":3,\"generation\":4}\n");
	tl_summary_format(&sum, TL_FEED_ECS, line, sizeof(line));
	expect("ecs summary is a metric", line,
	       "\"event\":{\"kind\":\"metric\",\"category\":[\"network\"],"
	       "\"type\":[\"info\"],\"reason\":\"bypass\"");
	expect("ecs summary counts", line,
	       "\"tunlock\":{\"schema\":1,\"kind\":\"summary\",\"decisions\":"
	       "100000,\"emitted\":600,\"suppressed\":99000,\"lost\":400");
	expect("ecs summary counts lines not made", line,
	       "\"dropped\":7,\"unformatted\":3,\"generation\":4}}\n");
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
	struct tl_integrity_event x = {
		.time_ns = 31000000000ull, .object = "link",
		.name = "tl_connect4", .found = "unpinned",
		.action = "repinned", .generation = 4,
	};
	tl_integrity_format(&x, TL_FEED_NATIVE, line, sizeof(line));
	expect("integrity event", line,
	       "{\"time\":\"1970-01-01T00:00:31.000000000Z\",\"schema\":1,"
	       "\"kind\":\"integrity\",\"object\":\"link\",\"name\":"
	       "\"tl_connect4\",\"found\":\"unpinned\",\"action\":"
	       "\"repinned\",\"generation\":4}\n");
	x.action = "failed";
	tl_integrity_format(&x, TL_FEED_ECS, line, sizeof(line));
	expect("ecs integrity event is an alert", line,
	       "\"event\":{\"kind\":\"alert\",\"category\":"
	       "[\"configuration\"],\"type\":[\"change\"],\"action\":"
	       "\"failed\",\"reason\":\"unpinned\",\"outcome\":\"failure\"");
	check_truncation();
	check_unformatted_counted();
	check_metrics();
	check_status_json();
	check_cgindex();
	check_selftest();
	check_netlink_sender();
	printf("%d passed, %d failed\n", passed, failed);
	return failed ? 1 : 0;
}
