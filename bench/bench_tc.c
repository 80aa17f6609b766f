// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Per-packet cost of the packet programs (TC egress, cgroup_skb egress),
 * with BPF_PROG_TEST_RUN, against an empty program of the same type run on
 * the same frame in the same run: the hook's floor (docs/design.md, Targets).
 *
 * Real maps, a real policy (10,000 allowed CIDRs and a LAN profile by
 * default), real runtime state, in a network namespace and a pin directory
 * of its own that are gone when it ends. Every case is checked first: the
 * verdict, the one counter that must move and, for drops, one event per
 * packet on the ring buffer (drained between runs, so it never fills and no
 * event is skipped). Targets are reported, never asserted: the exit status
 * is 0 whatever the numbers, 1 when the bench could not measure what it
 * says (setup failed, a case took another path, events went missing).
 *
 *   bench_tc [-r ROUNDS] [-n PACKETS] [-a ALLOW] [-c CPU|-1] [-k CASE]
 *            [--tc-obj FILE]... [--skb-obj FILE]... [--unchecked ...]
 *
 * --tc-obj/--skb-obj load another build of tc.bpf.o/cgroup_skb.bpf.o on
 * the same pinned maps and measure it too (prototypes, A/B comparisons).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <linux/if_ether.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "cgroup.h"
#include "log.h"
#include "names.h"
#include "pins.h"
#include "policy.h"
#include "tc.skel.h"
#include "cgroup_skb.skel.h"
#include "empty.skel.h"
#include "../tests/frames.h"

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2
#define FWMARK 0xca6c
#define MAX_ROUNDS 101
#define MAX_VARIANTS 8
#define MAX_CASES 64

static volatile sig_atomic_t stop;
static struct tl_bpf bpf;
static struct empty_bpf *empty;
static struct ring_buffer *rb;
static __u64 events_seen, floor_events;
static int ifindex_uplink, ifindex_tunnel;

/* ---- options -------------------------------------------------------- */

static int rounds = 11;
static long packets = 1000000;
static int nallow = 10000;
static int cpu = -2; /* -2: the last allowed CPU, -1: do not pin */
static const char *only; /* measure only the cases whose name holds it */

struct variant {
	const char *path;
	bool tc; /* else cgroup_skb */
	bool unchecked; /* a cut-down probe: verdict and counters not checked */
	struct bpf_object *obj;
	int fd;
	char label[64];
};
static struct variant variants[MAX_VARIANTS];
static int nvariants;

/* ---- the cases ------------------------------------------------------ */

struct bcase {
	char name[96];
	__u32 layer; /* TL_LAYER_TC or TL_LAYER_CGROUP_SKB */
	int prog_fd, empty_fd;
	int floor_fd; /* drops: an empty program that only makes an event */
	struct frame f;
	int ifindex;
	__u32 mark;
	int want_ret;
	__u32 reason, verdict; /* the counter that must move */
	bool event;
	bool unchecked;
	double target; /* ratio; 0: none in the spec */
	/* results */
	double ns[MAX_ROUNDS], empty_ns[MAX_ROUNDS], floor_ns[MAX_ROUNDS];
	double kernel_ns[MAX_ROUNDS]; /* the kernel's own (whole-ns) figure */
	__u64 runs, events, counted;
	double overhead_ns; /* fixed cost of one call, taken off */
	bool bad_ret;
	const char *invalid; /* why the numbers mean nothing, or NULL */
};
static struct bcase cases[MAX_CASES];
static int ncases;

/* ---- small helpers -------------------------------------------------- */

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(const double *v, int n)
{
	double s[MAX_ROUNDS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_double);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double vmin(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

static double vmax(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] > m ? v[i] : m;
	return m;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1; /* test runs return early (EINTR); cleanup runs as usual */
}

/* Counts the records of a ring buffer: ctx is its counter. */
static int count_event(void *ctx, void *data, size_t size)
{
	(void)data;
	(void)size;
	++*(__u64 *)ctx;
	return 0;
}

/*
 * Also empties the event rate limiter's buckets: the drop cases measure a
 * packet with its event, so no event may be suppressed (untimed, like the
 * drain itself).
 */
static void drain(void)
{
	struct tl_event_bucket zero = {};

	ring_buffer__consume(rb);
	for (__u32 r = 0; r < TL_REASON_MAX; r++)
		bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_EVENT_RATE), &r,
				    &zero, BPF_ANY);
}

static int read_counter(__u32 layer, __u32 reason, __u32 verdict, __u64 *out)
{
	return tl_counter_read(tl_bpf_map_fd(&bpf, TL_MAP_COUNTERS),
			       TL_COUNTER_INDEX(layer, reason, verdict), out);
}

static __u64 total_counters(void)
{
	__u64 sum = 0, c;

	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		for (__u32 r = 0; r < TL_REASON_MAX; r++)
			for (__u32 v = 0; v < TL_VERDICT_MAX; v++)
				if (!read_counter(l, r, v, &c))
					sum += c;
	return sum;
}

/* ---- the machine ---------------------------------------------------- */

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	snprintf(buf, len, "?");
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

static void cpu_model(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");

	snprintf(buf, len, "unknown");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');

		if (!colon || (strncmp(line, "model name", 10) &&
			       strncmp(line, "Model", 5)))
			continue;
		colon += 1 + (colon[1] == ' ');
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(buf, len, "%s", colon);
		break;
	}
	fclose(f);
}

static void own_cgroup(char *buf, size_t len)
{
	char line[4096];
	FILE *f = fopen("/proc/self/cgroup", "r");

	snprintf(buf, len, "?");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(buf, len, "%s", line + 3);
		}
	fclose(f);
}

static int pin_cpu(void)
{
	cpu_set_t set;

	if (cpu == -1)
		return -1;
	if (sched_getaffinity(0, sizeof(set), &set))
		return -1;
	if (cpu == -2)
		for (int i = CPU_SETSIZE - 1; i >= 0; i--)
			if (CPU_ISSET(i, &set)) {
				cpu = i;
				break;
			}
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set)) {
		fprintf(stderr, "bench: cannot pin to CPU %d: %s\n", cpu,
			strerror(errno));
		cpu = -1;
	}
	return cpu;
}

static void print_machine(void)
{
	char model[256], jit[32], stats[32], cg[4096];
	struct utsname u;

	uname(&u);
	cpu_model(model, sizeof(model));
	read_line("/proc/sys/net/core/bpf_jit_enable", jit, sizeof(jit));
	read_line("/proc/sys/kernel/bpf_stats_enabled", stats, sizeof(stats));
	own_cgroup(cg, sizeof(cg));
	printf("machine: Linux %s %s, %s, %ld CPUs online\n", u.release,
	       u.machine, model, sysconf(_SC_NPROCESSORS_ONLN));
	printf("bpf: jit_enable=%s, bpf_stats_enabled=%s%s; libbpf %s\n", jit,
	       stats,
	       strcmp(stats, "0") ? " (adds accounting to every run: "
				    "numbers are higher)" :
				    "",
	       libbpf_version_string());
	if (cpu >= 0)
		printf("bench: pinned to CPU %d, ", cpu);
	else
		printf("bench: not pinned, ");
	printf("cgroup %s (a test run's socket is in the caller's cgroup)\n",
	       cg);
}

/* ---- setup ---------------------------------------------------------- */

static int make_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("bench: unshare(CLONE_NEWNET)");
		return -1;
	}
	if (system("ip link add up0 type veth peer name up0p && "
		   "ip link add wg0 type veth peer name wg0p"))
		return -1;
	ifindex_uplink = if_nametoindex("up0");
	ifindex_tunnel = if_nametoindex("wg0");
	return ifindex_uplink && ifindex_tunnel ? 0 : -1;
}

/* The allow list: half IPv4 /32s spread over 100.64.0.0/10, half IPv6
 * /48s 2001:db8:N::/48 (N >= 1: 2001:db8::/48 holds an endpoint). */
static int allow_v4(void)
{
	return nallow / 2;
}

static void v4_addr(int i, char *buf, size_t len)
{
	uint32_t a = 0x64400000u + 1 + (uint32_t)i * 409u; /* 100.64/10 */

	snprintf(buf, len, "%u.%u.%u.%u", a >> 24, (a >> 16) & 255,
		 (a >> 8) & 255, a & 255);
}

static char *policy_yaml(size_t *len)
{
	char *buf = NULL, a[64];
	FILE *f = open_memstream(&buf, len);

	if (!f)
		return NULL;
	fprintf(f, "mode: enforce\n"
		   "tunnels:\n"
		   "  - name: lab\n"
		   "    interface: wg*\n"
		   "    endpoints:\n"
		   "      - {address: 198.51.100.2, port: 51820, protocol: udp}\n"
		   "      - {address: '2001:db8::2', port: 51820, protocol: udp}\n"
		   "    client: {fwmark: 0x%x}\n"
		   "profiles:\n"
		   "  - name: locked\n"
		   "    allow:\n"
		   "      - {cidr: 203.0.113.128/25, protocol: tcp, ports: [443]}\n"
		   "  - name: lan\n"
		   "    lan: allow\n"
		   "    allow:\n",
		FWMARK);
	for (int i = 0; i < allow_v4(); i++) {
		v4_addr(i, a, sizeof(a));
		fprintf(f,
			"      - {cidr: %s/32, protocol: tcp, ports: [443, 8443]}\n",
			a);
	}
	for (int i = 0; i < nallow - allow_v4(); i++)
		fprintf(f, "      - {cidr: '2001:db8:%x::/48'}\n", i + 1);
	fprintf(f, "cgroups:\n"
		   "  - {path: /, profile: lan}\n"
		   "events: {rate: 1000000, burst: 1000000}\n");
	fclose(f);
	return buf;
}

static int apply_policy(const char *cg_mount)
{
	struct tl_applied ap;
	struct tl_policy p;
	double t0, t1, t2;
	size_t len;
	char *yaml = policy_yaml(&len);
	int err;

	if (!yaml)
		return -ENOMEM;
	t0 = now_ns();
	err = tl_policy_parse("bench-policy", yaml, len, &p, stderr);
	free(yaml);
	if (err)
		return -EINVAL;
	t1 = now_ns();
	err = tl_apply_policy(&bpf, &p, cg_mount, &ap);
	t2 = now_ns();
	tl_policy_free(&p);
	if (err)
		return err;
	printf("policy: %d allowed CIDRs (%d IPv4 /32 with tcp 443,8443; %d "
	       "IPv6 /48) in profile 'lan' (lan: allow), the default (path: /), "
	       "%zu allow entries in all; %zu endpoints, fwmark 0x%x; tunnel up "
	       "(IPv4)\n",
	       nallow, allow_v4(), nallow - allow_v4(), ap.allow_entries,
	       ap.endpoints, FWMARK);
	printf("policy: parsed in %.1f ms, applied in %.1f ms (not a target "
	       "measurement)\n",
	       (t1 - t0) / 1e6, (t2 - t1) / 1e6);
	return 0;
}

static int set_runtime_state(void)
{
	struct tl_tunnel_summary sum = { .up_count = 1 };
	struct tl_iface up = { .flags = TL_IFACE_GUARDED };
	struct tl_iface wg = { .flags = TL_IFACE_TUNNEL };
	__u32 zero = 0;
	int err;

	if (tl_record_netns(tl_bpf_map_fd(&bpf, TL_MAP_STATE)) ||
	    bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_SUMMARY), &zero,
				&sum, BPF_ANY))
		return -errno;
	err = tl_iface_put(&bpf, ifindex_uplink, &up);
	return err ? err : tl_iface_put(&bpf, ifindex_tunnel, &wg);
}

static int load_variant(struct variant *v, const char *pin_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = pin_dir);
	const char *want = v->tc ? "tl_tc_egress" : "tl_cgroup_skb_egress";
	struct bpf_program *prog;
	const char *base = strrchr(v->path, '/');

	v->obj = bpf_object__open_file(v->path, &o);
	if (!v->obj) {
		fprintf(stderr, "bench: opening %s: %s\n", v->path,
			strerror(errno));
		return -1;
	}
	if (bpf_object__load(v->obj)) {
		fprintf(stderr, "bench: loading %s: %s\n", v->path,
			strerror(errno));
		return -1;
	}
	prog = bpf_object__find_program_by_name(v->obj, want);
	if (!prog) {
		fprintf(stderr, "bench: %s has no program %s\n", v->path, want);
		return -1;
	}
	v->fd = bpf_program__fd(prog);
	snprintf(v->label, sizeof(v->label), "%s", base ? base + 1 : v->path);
	return 0;
}

/* ---- measuring ------------------------------------------------------ */

static int run_once(int fd, const struct bcase *c, __u32 repeat,
		    double *wall, __u32 *kernel_avg, __u32 *retval)
{
	struct __sk_buff ctx = { .ifindex = c->ifindex, .mark = c->mark };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = c->f.b,
		    .data_size_in = c->f.len, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .repeat = repeat);
	double t0, t1;
	int err;

	t0 = now_ns();
	err = bpf_prog_test_run_opts(fd, &o);
	t1 = now_ns();
	if (err)
		return -errno;
	*wall = t1 - t0;
	*kernel_avg = o.duration;
	*retval = o.retval;
	return 0;
}

/* Events a run may make without the ring buffer filling up: half of what
 * it holds (a record is the event plus an 8-byte header, 8-aligned). */
static __u32 event_chunk(void)
{
	size_t rec = (sizeof(struct tl_event) + 8 + 7) & ~(size_t)7;

	return TL_EVENTS_BYTES / rec / 2;
}

/*
 * Fixed cost of one test-run call (syscall, skb set up and freed), which
 * wall time includes and a run split in many calls pays many times.
 */
static double call_overhead(int fd, const struct bcase *c)
{
	double v[201], wall;
	__u32 k, ret;
	int n = 0;

	for (int i = 0; i < 201 && !stop; i++)
		if (!run_once(fd, c, 1, &wall, &k, &ret))
			v[n++] = wall;
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/*
 * ns per packet of one program on the case's frame: `packets` runs, in one
 * call, or in calls of at most event_chunk() with the ring buffer drained
 * after each (untimed) when the case makes events.
 */
static int measure(int fd, struct bcase *c, bool real, double overhead,
		   double *ns, double *kns)
{
	__u32 chunk = c->event ? event_chunk() : (__u32)packets;
	double wall_sum = 0, kernel_sum = 0, wall;
	__u64 count_before = 0, count_after = 0;
	__u32 k, ret;
	long done = 0;
	int calls = 0, err;

	if (real)
		read_counter(c->layer, c->reason, c->verdict, &count_before);
	while (done < packets && !stop) {
		__u32 n = packets - done < chunk ? packets - done : chunk;
		__u64 before = events_seen;

		err = run_once(fd, c, n, &wall, &k, &ret);
		if (err)
			return err;
		if (real && !c->unchecked && (int)ret != c->want_ret)
			c->bad_ret = true;
		wall_sum += wall;
		kernel_sum += (double)k * n;
		calls++;
		done += n;
		drain();
		if (real) {
			c->runs += n;
			c->events += events_seen - before;
		}
	}
	if (stop)
		return -EINTR;
	if (real) {
		read_counter(c->layer, c->reason, c->verdict, &count_after);
		c->counted += count_after - count_before;
	}
	*ns = (wall_sum - calls * overhead) / packets;
	*kns = kernel_sum / packets;
	return 0;
}

/*
 * The event floor of a drop case, like measure() of the empty program:
 * one event per run, each run's event made (never a full ring).
 */
static int measure_floor(struct bcase *c, double *ns)
{
	static double overhead[2] = { -1, -1 }; /* per program type */
	double *o = &overhead[c->layer == TL_LAYER_TC];
	__u64 before;
	double kns;
	int err;

	if (*o < 0) {
		*o = call_overhead(c->floor_fd, c);
		drain();
	}
	before = floor_events;
	err = measure(c->floor_fd, c, false, *o, ns, &kns);
	if (!err && floor_events - before != (__u64)packets)
		return -EPROTO; /* events missing: the floor would be low */
	return err;
}

static bool adding_unchecked;

/* The case added (on the uplink), or NULL when it is left out. */
static struct bcase *add_case(const char *name, __u32 layer, int prog_fd,
			      const struct frame *f, __u32 mark, int want_pass,
			      __u32 reason, double target)
{
	struct bcase *c;

	if (ncases == MAX_CASES || (only && !strstr(name, only)))
		return NULL;
	c = &cases[ncases++];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->layer = layer;
	c->prog_fd = prog_fd;
	c->empty_fd = layer == TL_LAYER_TC ?
			      bpf_program__fd(empty->progs.empty_tc) :
			      bpf_program__fd(empty->progs.empty_cgroup_skb);
	c->floor_fd = layer == TL_LAYER_TC ?
			      bpf_program__fd(empty->progs.empty_tc_event) :
			      bpf_program__fd(empty->progs.empty_cgroup_skb_event);
	c->f = *f;
	c->ifindex = ifindex_uplink;
	c->mark = mark;
	c->reason = reason;
	c->verdict = want_pass ? TL_VERDICT_PASS : TL_VERDICT_BLOCKED;
	c->want_ret = layer == TL_LAYER_TC ? (want_pass ? TC_ACT_OK : TC_ACT_SHOT) :
					      (want_pass ? 1 : 0);
	c->event = !want_pass;
	c->target = target;
	c->unchecked = adding_unchecked;
	if (c->unchecked)
		c->target = 0;
	return c;
}

static void build_cases(void)
{
	int tc = bpf_program__fd(bpf.tc->progs.tl_tc_egress);
	int skb = bpf_program__fd(bpf.skb->progs.tl_cgroup_skb_egress);
	struct frame transport, lan, drop, listed4, listed6;
	char a[64], a6[64], name[96];
	struct bcase *c;

	eth(&transport, ETH_P_IP);
	ipv4(&transport, "10.213.0.2", "198.51.100.2", IPPROTO_UDP, 0, 5);
	udp(&transport, 40000, 51820);
	eth(&lan, ETH_P_IP);
	ipv4(&lan, "10.213.0.2", "10.213.0.5", IPPROTO_TCP, 0, 5);
	tcp(&lan, 40000, 80);
	eth(&drop, ETH_P_IP);
	ipv4(&drop, "10.213.0.2", "203.0.113.10", IPPROTO_TCP, 0, 5);
	tcp(&drop, 40000, 80);
	v4_addr(allow_v4() / 2, a, sizeof(a));
	eth(&listed4, ETH_P_IP);
	ipv4(&listed4, "10.213.0.2", a, IPPROTO_TCP, 0, 5);
	tcp(&listed4, 40000, 443);
	snprintf(a6, sizeof(a6), "2001:db8:%x::5",
		 (nallow - allow_v4()) / 2 + 1);
	eth(&listed6, ETH_P_IPV6);
	ipv6(&listed6, "2001:db8:ffff::2", a6, IPPROTO_UDP);
	udp(&listed6, 40000, 5000);

	/* each program (and each variant) gets the same cases */
	for (int p = -1; p < nvariants; p++) {
		bool is_tc = p < 0 || variants[p].tc;
		const char *tag = p < 0 ? "" : variants[p].label;
		char sfx[80] = "";
		int fd;

		if (p >= 0)
			snprintf(sfx, sizeof(sfx), " [%s]", tag);
		adding_unchecked = p >= 0 && variants[p].unchecked;
		if (p < 0 || is_tc) {
			fd = p < 0 ? tc : variants[p].fd;
			snprintf(name, sizeof(name), "tc: VPN transport fast path%s", sfx);
			add_case(name, TL_LAYER_TC, fd, &transport, FWMARK, 1,
				 TL_ALLOW_TRANSPORT, 1.5);
			snprintf(name, sizeof(name), "tc: LAN allowed by profile%s", sfx);
			add_case(name, TL_LAYER_TC, fd, &lan, 0, 1, TL_ALLOW_LAN, 0);
			snprintf(name, sizeof(name), "tc: drop with event%s", sfx);
			add_case(name, TL_LAYER_TC, fd, &drop, 0, 0,
				 TL_REASON_BYPASS, 3);
			snprintf(name, sizeof(name), "tc: allow-list hit, IPv4%s", sfx);
			add_case(name, TL_LAYER_TC, fd, &listed4, 0, 1,
				 TL_ALLOW_LISTED, 0);
			snprintf(name, sizeof(name), "tc: allow-list hit, IPv6%s", sfx);
			add_case(name, TL_LAYER_TC, fd, &listed6, 0, 1,
				 TL_ALLOW_LISTED, 0);
		}
		if (p < 0 || !is_tc) {
			fd = p < 0 ? skb : variants[p].fd;
			snprintf(name, sizeof(name), "cgroup_skb: VPN transport%s", sfx);
			add_case(name, TL_LAYER_CGROUP_SKB, fd, &transport,
				 FWMARK, 1, TL_ALLOW_TRANSPORT, 0);
			/* what every packet of a VPN user takes */
			snprintf(name, sizeof(name), "cgroup_skb: through the tunnel%s", sfx);
			c = add_case(name, TL_LAYER_CGROUP_SKB, fd, &drop, 0, 1,
				     TL_ALLOW_TUNNEL, 0);
			if (c)
				c->ifindex = ifindex_tunnel;
			snprintf(name, sizeof(name), "cgroup_skb: LAN allowed by profile%s", sfx);
			add_case(name, TL_LAYER_CGROUP_SKB, fd, &lan, 0, 1,
				 TL_ALLOW_LAN, 0);
			snprintf(name, sizeof(name), "cgroup_skb: drop with event%s", sfx);
			add_case(name, TL_LAYER_CGROUP_SKB, fd, &drop, 0, 0,
				 TL_REASON_BYPASS, 3);
			snprintf(name, sizeof(name), "cgroup_skb: allow-list hit, IPv4%s", sfx);
			add_case(name, TL_LAYER_CGROUP_SKB, fd, &listed4, 0, 1,
				 TL_ALLOW_LISTED, 0);
		}
	}
}

/* One run of every case: the verdict and the counter it must move. */
static bool check_paths(void)
{
	bool ok = true;

	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];
		__u64 before, after, all_before, all_after, ev = events_seen;
		double wall;
		__u32 k, ret;

		if (c->unchecked)
			continue;
		read_counter(c->layer, c->reason, c->verdict, &before);
		all_before = total_counters();
		if (run_once(c->prog_fd, c, 1, &wall, &k, &ret)) {
			printf("FAIL: %s: test run: %s\n", c->name,
			       strerror(errno));
			ok = false;
			continue;
		}
		drain();
		read_counter(c->layer, c->reason, c->verdict, &after);
		all_after = total_counters();
		if ((int)ret != c->want_ret || after - before != 1 ||
		    all_after - all_before != 1 ||
		    events_seen - ev != (c->event ? 1u : 0u)) {
			printf("FAIL: %s: returned %u (want %d), %s/%s moved by "
			       "%llu, all counters by %llu, %llu events\n",
			       c->name, ret, c->want_ret,
			       tl_reason_name(c->reason),
			       tl_verdict_name(c->verdict),
			       (unsigned long long)(after - before),
			       (unsigned long long)(all_after - all_before),
			       (unsigned long long)(events_seen - ev));
			c->invalid = "wrong path";
			ok = false;
		}
	}
	return ok;
}

static int measure_all(void)
{
	double overhead[MAX_CASES][2];
	__u64 all_before;
	double t0 = now_ns();
	int err;

	for (int i = 0; i < ncases; i++) {
		overhead[i][0] = call_overhead(cases[i].empty_fd, &cases[i]);
		overhead[i][1] = call_overhead(cases[i].prog_fd, &cases[i]);
		cases[i].overhead_ns = overhead[i][1];
		drain();
	}
	for (int i = 0; i < ncases; i++)
		cases[i].runs = cases[i].events = cases[i].counted = 0;
	all_before = total_counters();
	/* Rounds interleave the cases, and alternate which of a pair runs
	 * first, so that drift and warm-up fall on both alike. */
	for (int r = 0; r < rounds; r++) {
		for (int i = 0; i < ncases; i++) {
			struct bcase *c = &cases[i];
			double kempty;

			if (c->invalid)
				continue;
			if (r % 2) {
				err = measure(c->prog_fd, c, true,
					      overhead[i][1], &c->ns[r],
					      &c->kernel_ns[r]);
				if (!err)
					err = measure(c->empty_fd, c, false,
						      overhead[i][0],
						      &c->empty_ns[r], &kempty);
			} else {
				err = measure(c->empty_fd, c, false,
					      overhead[i][0], &c->empty_ns[r],
					      &kempty);
				if (!err)
					err = measure(c->prog_fd, c, true,
						      overhead[i][1], &c->ns[r],
						      &c->kernel_ns[r]);
			}
			if (!err && c->event)
				err = measure_floor(c, &c->floor_ns[r]);
			if (err)
				return err;
		}
		if (isatty(2))
			fprintf(stderr, "\rbench: round %d/%d", r + 1, rounds);
	}
	fprintf(stderr, "%sbench: %d rounds of %ld packets per program and "
			"case in %.1f s\n",
		isatty(2) ? "\r" : "", rounds, packets, (now_ns() - t0) / 1e9);
	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];

		if (c->invalid || c->unchecked)
			continue;
		if (c->bad_ret)
			c->invalid = "verdict changed during the runs";
		else if (c->counted != c->runs)
			c->invalid = "counter did not move once per packet";
		else if (c->event && c->events != c->runs)
			c->invalid = "events missing (ring buffer full?)";
		else if (!c->event && c->events)
			c->invalid = "unexpected events";
	}
	/* every counter together moved exactly once per run of a program */
	{
		__u64 runs = 0, all_after = total_counters();

		bool probes = false;

		for (int i = 0; i < ncases; i++) {
			runs += cases[i].runs;
			probes |= cases[i].unchecked;
		}
		if (!probes && all_after - all_before != runs) {
			printf("FAIL: counters moved by %llu over %llu runs\n",
			       (unsigned long long)(all_after - all_before),
			       (unsigned long long)runs);
			return -EPROTO;
		}
	}
	return 0;
}

/*
 * What the ring buffer alone costs: a drop case against an empty program
 * that makes one event of the same size and nothing else.
 */
static void print_event_floor(int w)
{
	bool header = false;

	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];
		double ns, e, fl;

		if (c->invalid || c->unchecked || !c->event)
			continue;
		if (!header)
			printf("\nevent floor: an empty program that only "
			       "reserves and submits one event of tunlock's "
			       "size (%zu bytes)\n%-*s %9s %9s %9s %8s\n",
			       sizeof(struct tl_event), w, "case", "ns/pkt",
			       "floor", "of empty", "of floor");
		header = true;
		ns = median(c->ns, rounds);
		e = median(c->empty_ns, rounds);
		fl = median(c->floor_ns, rounds);
		printf("%-*s %9.2f %9.2f %8.2fx %7.2fx\n", w, c->name, ns, fl,
		       fl / e, ns / fl);
	}
}

static bool print_results(void)
{
	bool ok = true;
	int met = 0, missed = 0, w = 4;

	for (int i = 0; i < ncases; i++)
		if ((int)strlen(cases[i].name) > w)
			w = strlen(cases[i].name);
	printf("\n%-*s %9s %9s %8s %7s  %s\n", w, "case", "ns/pkt",
	       "empty", "ratio", "target", "result");
	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];
		double ns, e, ratio;
		char target[16] = "-", result[64] = "-";

		if (c->invalid) {
			printf("%-*s %9s %9s %8s %7s  INVALID: %s\n", w, c->name,
			       "-", "-", "-", "-", c->invalid);
			ok = false;
			continue;
		}
		ns = median(c->ns, rounds);
		e = median(c->empty_ns, rounds);
		ratio = ns / e;
		if (c->unchecked) {
			snprintf(result, sizeof(result), "probe, unchecked");
		} else if (c->target) {
			snprintf(target, sizeof(target), "<=%.1fx", c->target);
			snprintf(result, sizeof(result), "%s",
				 ratio <= c->target ? "meets" : "misses");
			if (ratio <= c->target)
				met++;
			else
				missed++;
		}
		printf("%-*s %9.2f %9.2f %7.2fx %7s  %s\n", w, c->name, ns, e,
		       ratio, target, result);
	}
	printf("\ntargets: %d met, %d missed\n", met, missed);
	print_event_floor(w);

	printf("\ndetails: ns/pkt over %d rounds (min / median / max), the "
	       "kernel's own whole-ns figure (median), the fixed cost of a "
	       "call taken off (us), events\n",
	       rounds);
	for (int i = 0; i < ncases; i++) {
		struct bcase *c = &cases[i];

		if (c->invalid)
			continue;
		printf("  %-*s prog %6.2f / %6.2f / %6.2f  empty %6.2f / "
		       "%6.2f / %6.2f  kernel %6.1f  call %.1f",
		       w, c->name, vmin(c->ns, rounds), median(c->ns, rounds),
		       vmax(c->ns, rounds), vmin(c->empty_ns, rounds),
		       median(c->empty_ns, rounds), vmax(c->empty_ns, rounds),
		       median(c->kernel_ns, rounds), c->overhead_ns / 1e3);
		if (c->event)
			printf("  events %llu of %llu (runs of %u, ring "
			       "drained between)",
			       (unsigned long long)c->events,
			       (unsigned long long)c->runs, event_chunk());
		printf("\n");
	}
	return ok;
}

/* ---- main ----------------------------------------------------------- */

static void usage(void)
{
	fprintf(stderr,
		"usage: bench_tc [-r ROUNDS] [-n PACKETS] [-a ALLOW] [-c CPU|-1] [-k CASE]\n"
		"                [--tc-obj FILE]... [--skb-obj FILE]... [--unchecked ...]\n"
		"  -r  rounds, the median is reported (default 11, max %d)\n"
		"  -n  packets per program, case and round (default 1000000)\n"
		"  -a  allowed CIDRs in the policy (default 10000)\n"
		"  -c  CPU to pin to (default: the last allowed; -1: none)\n"
		"  -k  only the cases whose name contains this string\n"
		"  --tc-obj, --skb-obj  also measure another build of\n"
		"      tc.bpf.o / cgroup_skb.bpf.o on the same maps\n"
		"  --unchecked  the objects named after it are probes (e.g. cut\n"
		"      short): measured, their verdicts and counters not checked\n",
		MAX_ROUNDS);
}

static int parse_args(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "tc-obj", required_argument, NULL, 'T' },
		{ "skb-obj", required_argument, NULL, 'S' },
		{ "unchecked", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	bool unchecked = false;
	int o;

	while ((o = getopt_long(argc, argv, "r:n:a:c:k:h", longopts, NULL)) != -1) {
		switch (o) {
		case 'r':
			rounds = atoi(optarg);
			break;
		case 'n':
			packets = atol(optarg);
			break;
		case 'a':
			nallow = atoi(optarg);
			break;
		case 'c':
			cpu = atoi(optarg);
			break;
		case 'k':
			only = optarg;
			break;
		case 'U':
			unchecked = true;
			break;
		case 'T':
		case 'S':
			if (nvariants == MAX_VARIANTS) {
				fprintf(stderr, "bench: at most %d objects\n",
					MAX_VARIANTS);
				return -1;
			}
			variants[nvariants].path = optarg;
			variants[nvariants].unchecked = unchecked;
			variants[nvariants++].tc = o == 'T';
			break;
		default:
			usage();
			return -1;
		}
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || packets < 1 ||
	    packets > 100000000 || nallow < 2 || nallow > 2 * 65535 ||
	    cpu < -2 || optind != argc) {
		usage();
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char pin_dir[128], cg_mount[256];
	bool pins = false, ok = false;

	if (parse_args(argc, argv))
		return 2;
	if (geteuid()) {
		fprintf(stderr, "bench_tc: needs root (BPF, a network "
				"namespace, bpffs)\n");
		return 1;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	libbpf_set_print(NULL);
	pin_cpu();
	print_machine();

	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/tunlock-bench-%d-%lx",
		 getpid(), (unsigned long)time(NULL));
	if (make_netns()) {
		fprintf(stderr, "bench: network namespace setup failed\n");
		return 1;
	}
	if (tl_cgroup_mount(cg_mount, sizeof(cg_mount))) {
		fprintf(stderr, "bench: no cgroup2 mount\n");
		return 1;
	}
	if (!access(pin_dir, F_OK)) {
		fprintf(stderr, "bench: %s exists already\n", pin_dir);
		return 1;
	}
	pins = true; /* from here on, the pin directory is ours to remove */
	if (tl_bpf_load(&bpf, pin_dir)) {
		fprintf(stderr, "bench: loading the tunlock objects failed\n");
		goto out;
	}
	empty = empty_bpf__open_and_load();
	if (!empty) {
		fprintf(stderr, "bench: loading empty.bpf.o failed: %s\n",
			strerror(errno));
		goto out;
	}
	for (int i = 0; i < nvariants; i++)
		if (load_variant(&variants[i], pin_dir))
			goto out;
	rb = ring_buffer__new(tl_bpf_map_fd(&bpf, TL_MAP_EVENTS), count_event,
			      &events_seen, NULL);
	if (!rb || ring_buffer__add(rb, bpf_map__fd(empty->maps.empty_events),
				    count_event, &floor_events)) {
		fprintf(stderr, "bench: ring buffer: %s\n", strerror(errno));
		goto out;
	}
	if (apply_policy(cg_mount) || set_runtime_state()) {
		fprintf(stderr, "bench: applying the policy failed\n");
		goto out;
	}
	for (int i = 0; i < nvariants; i++)
		printf("variant: %s (%s%s) on the same maps\n", variants[i].path,
		       variants[i].tc ? "tc" : "cgroup_skb",
		       variants[i].unchecked ? ", probe: unchecked" : "");
	printf("method: BPF_PROG_TEST_RUN, %ld packets per program, case and "
	       "round, %d rounds, median; wall time of the runs less the "
	       "fixed cost of a call\n",
	       packets, rounds);
	build_cases();
	ok = check_paths();
	if (!ok)
		fprintf(stderr, "bench: some cases take another path than "
				"the one they measure\n");
	if (measure_all()) {
		fprintf(stderr, "\nbench: %s\n",
			stop ? "interrupted" : "measuring failed");
		ok = false;
		goto out;
	}
	if (!print_results())
		ok = false;
out:
	ring_buffer__free(rb);
	for (int i = 0; i < nvariants; i++)
		bpf_object__close(variants[i].obj);
	empty_bpf__destroy(empty);
	tl_bpf_close(&bpf);
	if (pins && tl_pins_remove(pin_dir)) {
		fprintf(stderr, "bench: %s left behind\n", pin_dir);
		ok = false;
	}
	return ok ? 0 : 1;
}
