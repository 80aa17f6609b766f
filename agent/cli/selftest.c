// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * `tunlock selftest`: tries each leak class once, from a transient child
 * cgroup of the attach cgroup, and asks the pinned TC program, by test
 * runs against the live maps, what it does with what cannot be tried live
 * without disturbing the machine. Every probe goes to a destination that
 * reveals nothing if it leaks: documentation ranges, a name under
 * .invalid, and the VPN server itself (docs/operations.md, "Self-test").
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/pkt_cls.h>

#include "cgroup.h"
#include "feed.h"
#include "json.h"
#include "metrics.h"
#include "pins.h"
#include "selftest.h"
#include "selftest_channel.h"
#include "selftest_int.h"
#include "status.h"

enum {
	C_ENFORCEMENT,
	C_BYPASS,
	C_DNS,
	C_IPV6,
	C_STUN,
	C_ENDPOINT,
	C_RAW,
	C_PACKET,
	C_TUNNEL_DOWN,
	C_FORWARDED,
	C_INBOUND,
	C_COUNT,
};

_Static_assert(C_COUNT == TL_SELFTEST_CLASSES, "a name for every class");

void selftest_note(char *buf, size_t len, const char *what)
{
	size_t n = strlen(buf);

	if (n >= len - 1 || strstr(buf, what))
		return;
	snprintf(buf + n, len - n, "%s%s", n ? ", " : "", what);
}

void selftest_set(struct tl_selftest_class *c, enum tl_selftest_result r,
		const char *fmt, const char *arg)
{
	c->result = r;
	snprintf(c->why, sizeof(c->why), fmt, arg);
}

void selftest_conclude(struct tl_selftest_class *c, const struct outcome *o,
		     const char *none)
{
	if (o->fail)
		selftest_set(c, TL_SELFTEST_FAIL, "%s", o->fail_why);
	else if (o->pass)
		selftest_set(c, TL_SELFTEST_PASS, "stopped: %s", o->pass_why);
	else
		selftest_set(c, TL_SELFTEST_SKIP, "%s", o->skip_why[0] ? o->skip_why : none);
}

static __u64 verdicts_of(const struct context *x, __u64 key);
static __u64 selftest_verdicts(const struct context *x);
static void selftest_refused(const struct context *x, struct outcome *o,
			     __u64 before, const char *label, int err);

/*
 * One datagram from a socket of the transient cgroup, bound to ifname
 * (NULL: routed). Nothing left: pass; it left: fail; the interface cannot
 * send at all: skip.
 */
static void try_datagram(const struct context *x, struct outcome *o,
			 const char *ifname, const struct sockaddr *to,
			 socklen_t tolen, const void *data, size_t len,
			 const char *label)
{
	int fd = socket(to->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	__u64 before = selftest_verdicts(x);
	char what[96];
	int err = 0;

	if (fd < 0) {
		snprintf(what, sizeof(what), "%s: no socket (%s)", label,
			 strerror(errno));
		selftest_note(o->skip_why, sizeof(o->skip_why), what);
		o->skip++;
		return;
	}
	if (ifname && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, ifname,
				 strlen(ifname) + 1))
		err = errno;
	if (!err && connect(fd, to, tolen))
		err = errno;
	if (!err && send(fd, data, len, 0) < 0)
		err = errno;
	close(fd);
	switch (err) {
	case 0:
		snprintf(what, sizeof(what), "%s: sent, nothing stopped it",
			 label);
		selftest_note(o->fail_why, sizeof(o->fail_why), what);
		o->fail++;
		return;
	case EPERM:
	case EACCES:
	case ENETUNREACH: /* tunlock's answer to IPv6 calls, or no route */
	case ENOBUFS:	  /* dropped at TC */
		selftest_refused(x, o, before, label, err);
		return;
	default:
		snprintf(what, sizeof(what), "%s: cannot send (%s)", label,
			 strerror(err));
		selftest_note(o->skip_why, sizeof(o->skip_why), what);
		o->skip++;
	}
}

static socklen_t sockaddr_of(const char *addr, __u16 port,
			     struct sockaddr_storage *ss)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons(port);
		return sizeof(*a6);
	}
	return 0;
}

/* Leak verdicts tunlock gave the transient cgroup so far (tl_selftest). */
static __u64 selftest_verdicts(const struct context *x)
{
	return x->marks < 0 ? 0 : verdicts_of(x, x->probe_cgroup);
}

/*
 * A try that failed with err: a pass only when tunlock judged it a leak on
 * the way (its verdict for the transient cgroup moved); else something
 * else refused it (no route, say), which proves nothing about tunlock.
 */
static void selftest_refused(const struct context *x, struct outcome *o,
			     __u64 before, const char *label, int err)
{
	char what[128];

	if (selftest_verdicts(x) > before) {
		snprintf(what, sizeof(what), "%s (%s)", label,
			 strerrorname_np(err));
		selftest_note(o->pass_why, sizeof(o->pass_why), what);
		o->pass++;
		return;
	}
	snprintf(what, sizeof(what), "%s: %s, not by tunlock", label,
		 strerrorname_np(err));
	selftest_note(o->skip_why, sizeof(o->skip_why), what);
	o->skip++;
}

/* Each guarded interface, bound to, toward addr:port. */
static void try_guarded(const struct context *x, struct outcome *o,
			const char *addr, __u16 port, const void *data,
			size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(addr, port, &ss);

	for (unsigned int i = 0; i < x->nguarded; i++)
		try_datagram(x, o, x->guarded_name[i], (struct sockaddr *)&ss,
			     sl, data, len, x->guarded_name[i]);
}

static void probe_bypass(const struct context *x, struct tl_selftest_class *c)
{
	struct outcome o = {};

	try_guarded(x, &o, PROBE_V4, 9, "tl", 2);
	selftest_conclude(c, &o, "no guarded interface");
}

static void probe_ipv6(const struct context *x, struct tl_selftest_class *c)
{
	struct outcome o = {};

	try_guarded(x, &o, PROBE_V6, 9, "tl", 2);
	selftest_conclude(c, &o, "no guarded interface");
}

static void probe_stun(const struct context *x, struct tl_selftest_class *c)
{
	/* a STUN Binding Request: type, length 0, magic cookie, id */
	static const unsigned char req[20] = { 0x00, 0x01, 0x00, 0x00, 0x21,
					       0x12, 0xa4, 0x42, 't',  'u',
					       'n',  'l',  'o',	 'c',  'k',
					       's',  'e',  'l',	 'f',  't' };
	struct outcome o = {};

	try_guarded(x, &o, PROBE_V4, 3478, req, sizeof(req));
	selftest_conclude(c, &o, "no guarded interface");
}

/* A query for PROBE_DNS_NAME (type A), in wire format. */
static size_t dns_query(unsigned char *q, size_t room)
{
	static const unsigned char head[12] = { 0x7e, 0x57, 0x01, 0x00, 0, 1 };
	const char *label = PROBE_DNS_NAME;
	size_t n = sizeof(head);

	if (room < n + strlen(label) + 6)
		return 0;
	memcpy(q, head, n);
	while (*label) {
		size_t l = strcspn(label, ".");

		q[n++] = l;
		memcpy(q + n, label, l);
		n += l;
		label += l + (label[l] == '.');
	}
	q[n++] = 0;
	memcpy(q + n, "\0\1\0\1", 4);
	return n + 4;
}

static bool is_tunnel_resolver(const struct tl_settings *cfg,
			       const struct sockaddr_storage *ss)
{
	__u32 a[4] = { 0, 0, htonl(0xffff) };

	if (ss->ss_family == AF_INET)
		a[3] = ((struct sockaddr_in *)ss)->sin_addr.s_addr;
	else
		memcpy(a, &((struct sockaddr_in6 *)ss)->sin6_addr, 16);
	for (__u32 i = 0; i < cfg->nresolvers && i < TL_MAX_RESOLVERS; i++)
		if (!memcmp(cfg->resolvers[i].addr, a, sizeof(a)))
			return true;
	return false;
}

static bool is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((struct sockaddr_in *)ss)->sin_addr.s_addr) >>
			24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((struct sockaddr_in6 *)ss)->sin6_addr);
}

/* A query to one resolver the system names: blocked, or redirected to a
 * tunnel resolver (sent, and tunlock judged it), else it leaked. */
static void try_resolver(const struct context *x, struct outcome *o,
			 const char *addr)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(addr, 53, &ss);
	unsigned char q[64];
	size_t qlen = dns_query(q, sizeof(q)), why_len = strlen(o->fail_why);
	int fails = o->fail;
	char what[128];
	__u64 before;

	if (!sl || is_loopback(&ss) || is_tunnel_resolver(&x->cfg, &ss))
		return;
	before = selftest_verdicts(x);
	try_datagram(x, o, NULL, (struct sockaddr *)&ss, sl, q, qlen, addr);
	if (o->fail > fails && selftest_verdicts(x) > before &&
	    x->cfg.mode != TL_MODE_AUDIT) {
		/* it left, but to the tunnel's resolver */
		o->fail--;
		o->fail_why[why_len] = '\0';
		snprintf(what, sizeof(what),
			 "%.63s (redirected to a tunnel resolver)", addr);
		selftest_note(o->pass_why, sizeof(o->pass_why), what);
		o->pass++;
	}
}

/* The resolvers of resolv.conf and systemd-resolved's upstreams. */
static void probe_dns(const struct context *x, struct tl_selftest_class *c)
{
	static const char *const files[] = {
		"/etc/resolv.conf", "/run/systemd/resolve/resolv.conf"
	};
	struct outcome o = {};
	char line[256], addr[64];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f = fopen(files[i], "re");

		if (!f)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, " nameserver %63s", addr) == 1)
				try_resolver(x, &o, addr);
		fclose(f);
	}
	selftest_conclude(c, &o, "no resolver outside the tunnel is configured");
}

/* The pinned table of the live slot (array of maps): an fd, or -errno. */
static int slot_table(const struct context *x, enum tl_map_id id)
{
	int outer = tl_pins_open_map(x->pin_dir, id), fd;
	__u32 slot = x->st.active_slot, inner;

	if (outer < 0)
		return outer;
	fd = bpf_map_lookup_elem(outer, &slot, &inner) ? -errno :
							 bpf_map_get_fd_by_id(inner);
	if (fd < 0 && fd != -errno)
		fd = -errno;
	close(outer);
	return fd;
}

static void try_endpoint(const struct context *x, struct outcome *o,
			 const struct tl_endpoint_key *k)
{
	struct sockaddr_storage ss = {};
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
	socklen_t sl = sizeof(*a6);
	char label[INET6_ADDRSTRLEN + 16], a[INET6_ADDRSTRLEN];

	if (!memcmp(k->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		a4->sin_family = AF_INET;
		memcpy(&a4->sin_addr, k->addr + 12, 4);
		a4->sin_port = htons(k->port);
		sl = sizeof(*a4);
		inet_ntop(AF_INET, &a4->sin_addr, a, sizeof(a));
	} else {
		a6->sin6_family = AF_INET6;
		memcpy(&a6->sin6_addr, k->addr, 16);
		a6->sin6_port = htons(k->port);
		inet_ntop(AF_INET6, &a6->sin6_addr, a, sizeof(a));
	}
	snprintf(label, sizeof(label), "%s port %u", a, k->port);
	if (k->protocol == IPPROTO_UDP) {
		try_datagram(x, o, NULL, (struct sockaddr *)&ss, sl, "", 0,
			     label);
		return;
	}
	/* TCP: the SYN is the leak; a non-blocking connect sends it */
	__u64 before = selftest_verdicts(x);
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
			0);
	int err = fd < 0 || !connect(fd, (struct sockaddr *)&ss, sl) ? 0 : errno;

	if (fd >= 0)
		close(fd);
	if (err == EPERM || err == EACCES || err == ENETUNREACH) {
		selftest_refused(x, o, before, label, err);
	} else {
		selftest_note(o->fail_why, sizeof(o->fail_why), label);
		strncat(o->fail_why, ": a TCP SYN left",
			sizeof(o->fail_why) - strlen(o->fail_why) - 1);
		o->fail++;
	}
}

/* The VPN server, from a process that is not its client. */
static void probe_endpoint(const struct context *x, struct tl_selftest_class *c)
{
	int fd = slot_table(x, TL_MAP_ENDPOINTS);
	struct tl_endpoint_key k, next, *prev = NULL;
	struct outcome o = {};

	if (fd < 0) {
		selftest_set(c, TL_SELFTEST_FAIL, "endpoint table: %s", strerror(-fd));
		return;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.port) /* the entry of the address alone has no port */
			try_endpoint(x, &o, &k);
	}
	close(fd);
	selftest_conclude(c, &o, "no endpoint in the policy");
}

static void try_socket(struct tl_selftest_class *c, int family, int type,
		       int protocol, const char *what)
{
	int fd = socket(family, type | SOCK_CLOEXEC, protocol);

	if (fd >= 0) {
		close(fd);
		selftest_set(c, TL_SELFTEST_FAIL, "%s socket created", what);
	} else if (errno == EPERM || errno == EACCES) {
		selftest_set(c, TL_SELFTEST_PASS, "%s socket refused", what);
	} else {
		c->result = TL_SELFTEST_SKIP;
		snprintf(c->why, sizeof(c->why), "%s socket: %s", what,
			 strerror(errno));
	}
}

static void probe_sockets(const struct context *x, struct tl_selftest_class *raw,
			  struct tl_selftest_class *packet)
{
	if (x->cfg.profiles[x->profile % TL_MAX_PROFILES].flags &
	    TL_PROFILE_RAW_ALLOW) {
		selftest_set(raw, TL_SELFTEST_SKIP, "profile %s allows raw sockets",
		    x->cfg.profiles[x->profile % TL_MAX_PROFILES].name);
		packet->result = raw->result;
		memcpy(packet->why, raw->why, sizeof(raw->why));
		return;
	}
	try_socket(raw, AF_INET, SOCK_RAW, IPPROTO_UDP, "raw IP");
	if (!(x->st.features & TL_FEATURE_BPF_LSM))
		selftest_set(packet, TL_SELFTEST_SKIP,
		    "%s: packet sockets are created; the packet layers judge "
		    "what they send",
		    "kernel without BPF LSM");
	else
		try_socket(packet, AF_PACKET, SOCK_DGRAM, 0, "packet");
}

/* An Ethernet frame: IPv4 UDP from src to dst port 9. */
/*
 * In a child in the transient cgroup: the live tries, and the test run of
 * tunnel_down, whose dummy socket is then this protected cgroup's (the
 * kernel gives a test run's packet a socket of the caller's cgroup): a
 * packet of a protected process that the routes send to the uplink.
 */
static void live_probes(const struct context *x, struct tl_selftest_class *c)
{
	probe_bypass(x, &c[C_BYPASS]);
	probe_dns(x, &c[C_DNS]);
	probe_ipv6(x, &c[C_IPV6]);
	probe_stun(x, &c[C_STUN]);
	probe_endpoint(x, &c[C_ENDPOINT]);
	probe_sockets(x, &c[C_RAW], &c[C_PACKET]);
	tl_selftest_tc_run(x, &c[C_TUNNEL_DOWN], false);
	tl_selftest_inbound(x, &c[C_INBOUND]);
}

/* In a child in the root cgroup, whose sockets count as none: a packet
 * routed through this host from elsewhere, at the uplink's TC. */
static void forwarded_probe(const struct context *x, struct tl_selftest_class *c)
{
	tl_selftest_tc_run(x, &c[C_FORWARDED], true);
}

/* The guarded interfaces, from tl_ifaces. */
static void read_guarded(struct context *x)
{
	int fd = tl_pins_open_map(x->pin_dir, TL_MAP_IFACES);
	__u32 key, next, *prev = NULL;
	struct tl_iface v;

	if (fd < 0)
		return;
	while (x->nguarded < MAX_GUARDED &&
	       !bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v) ||
		    !(v.flags & TL_IFACE_GUARDED) ||
		    (v.flags & (TL_IFACE_TUNNEL | TL_IFACE_PORT)) ||
		    !if_indextoname(key, x->guarded_name[x->nguarded]))
			continue;
		x->guarded_l3[x->nguarded] = v.flags & TL_IFACE_L3;
		x->guarded[x->nguarded++] = key;
	}
	close(fd);
}

static int find_profile(const struct tl_settings *cfg, const char *name)
{
	for (int i = 0; i < TL_MAX_PROFILES; i++)
		if (cfg->profiles[i].name[0] &&
		    !strncmp(cfg->profiles[i].name, name, TL_NAME_LEN))
			return i;
	return -1;
}

/* key in tl_selftest as kind, until a run has surely ended. */
static int mark_probes(const struct context *x, __u64 key,
		       enum tl_selftest_key kind)
{
	struct tl_selftest_probe p = { .kind = kind };
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	p.until_ns = (ts.tv_sec + SELFTEST_MAX_S) * 1000000000ull;
	return bpf_map_update_elem(x->marks, &key, &p, BPF_NOEXIST) ? -errno : 0;
}

/*
 * The run's token in tl_selftest, which its test runs carry: their leak
 * verdicts are the self-test's, counted apart and marked in their events.
 */
static int register_token(struct context *x)
{
	char path[PATH_MAX];
	int err;

	if (tl_pin_path(path, sizeof(path), x->pin_dir, "tl_selftest"))
		return -ENAMETOOLONG;
	x->marks = bpf_obj_get(path);
	if (x->marks < 0)
		return -errno;
	if (getrandom(&x->token, sizeof(x->token), 0) != sizeof(x->token))
		return -errno;
	err = mark_probes(x, x->token, TL_SELFTEST_BY_TOKEN);
	if (err)
		x->token = 0;
	return err;
}

/* The transient cgroup's id, the same way. By id, never by name: a
 * process with a delegated subtree can name its cgroup anything. */
static int register_probes(struct context *x, __u64 id)
{
	int err = mark_probes(x, id, TL_SELFTEST_BY_CGROUP);

	if (!err)
		x->probe_cgroup = id;
	return err;
}

/* Leak verdicts of the run's probes, by key (0: none). */
static __u64 verdicts_of(const struct context *x, __u64 key)
{
	struct tl_selftest_probe p;
	__u64 sum = 0;

	if (!key || bpf_map_lookup_elem(x->marks, &key, &p))
		return 0;
	for (int r = 0; r < TL_ALLOW_FIRST; r++)
		sum += p.verdicts[r];
	return sum;
}

/* The run's marks removed, once their verdicts are in the report. */
static void unregister_probes(struct context *x,
			      struct tl_selftest_report *r)
{
	if (x->marks < 0)
		return;
	r->probe_verdicts = verdicts_of(x, x->probe_cgroup) +
			    verdicts_of(x, x->token);
	if (x->probe_cgroup)
		bpf_map_delete_elem(x->marks, &x->probe_cgroup);
	if (x->token)
		bpf_map_delete_elem(x->marks, &x->token);
	close(x->marks);
	x->marks = -1;
	x->probe_cgroup = x->token = 0;
}

/* The transient cgroup, and its entry when a profile is named. */
struct probe_cgroup {
	char path[PATH_MAX];
	uint64_t id;
	int table; /* the live cgroup table, when an entry was written */
};

static int make_cgroup(struct context *x, const char *profile,
		       struct probe_cgroup *pc)
{
	char mount[PATH_MAX], rel[PATH_MAX];
	struct tl_cgroup_entry e = {};
	int err;

	pc->table = -1;
	err = tl_cgroup_mount(mount, sizeof(mount));
	if (err)
		return err;
	snprintf(rel, sizeof(rel), "%s/tunlock-selftest-%d",
		 strcmp(x->st.attach_cgroup, "/") ? x->st.attach_cgroup : "",
		 getpid());
	if (snprintf(pc->path, sizeof(pc->path), "%s%s", mount, rel) >=
	    (int)sizeof(pc->path))
		return -ENAMETOOLONG;
	if (mkdir(pc->path, 0755)) {
		err = -errno;
		pc->path[0] = '\0'; /* not ours to remove */
		return err;
	}
	err = tl_cgroup_id(mount, rel, &pc->id);
	if (!err)
		err = register_probes(x, pc->id);
	if (err || !profile)
		return err;
	pc->table = slot_table(x, TL_MAP_CGROUPS);
	if (pc->table < 0)
		return pc->table;
	e.profile = x->profile;
	return bpf_map_update_elem(pc->table, &pc->id, &e, BPF_ANY) ? -errno : 0;
}

static void remove_cgroup(struct probe_cgroup *pc)
{
	if (pc->table >= 0) {
		bpf_map_delete_elem(pc->table, &pc->id);
		close(pc->table);
	}
	if (pc->path[0] && rmdir(pc->path))
		fprintf(stderr, "tunlock: selftest: removing %s: %s\n", pc->path,
			strerror(errno));
}

typedef void (*probe_fn)(const struct context *x, struct tl_selftest_class *c);

/* Runs fn in a child in the cgroup directory dir; the classes it filled
 * come back through a pipe. */
static int run_in_cgroup(const struct context *x, const char *dir, probe_fn fn,
			 struct tl_selftest_report *r)
{
	struct tl_selftest_class got[C_COUNT];
	int p[2], status;
	char procs[PATH_MAX + 16];
	pid_t pid;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return -errno;
	}
	if (!pid) {
		int fd;

		close(p[0]);
		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			_exit(3);
		close(fd);
		memcpy(got, r->c, sizeof(got));
		fn(x, got);
		_exit(write(p[1], got, sizeof(got)) == sizeof(got) ? 0 : 4);
	}
	close(p[1]);
	n = read(p[0], got, sizeof(got));
	close(p[0]);
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) || n != sizeof(got))
		return -ECHILD;
	for (int i = 0; i < C_COUNT; i++) {
		r->c[i] = got[i];
		r->c[i].name = tl_selftest_class_names[i];
	}
	return 0;
}

/* A class whose stopping layer is missing fails, whatever its try did. */
static void apply_gaps(const struct context *x, struct tl_selftest_report *r)
{
	struct tl_class_gap g[16];
	int n = tl_status_gaps(x->pin_dir, g, 16);

	for (int i = 0; i < n; i++) {
		if (!g[i].gap)
			continue;
		for (int k = 0; k < r->n; k++) {
			struct tl_selftest_class *c = &r->c[k];

			if (strcmp(c->name, g[i].leak) &&
			    !(k == C_PACKET && !strcmp(g[i].leak, "raw_socket")) &&
			    !(k == C_TUNNEL_DOWN && !strcmp(g[i].leak, "bypass")))
				continue;
			c->result = TL_SELFTEST_FAIL;
			snprintf(c->why, sizeof(c->why), "%s", g[i].why);
		}
	}
}

static bool read_context(struct context *x, struct tl_selftest_report *r)
{
	int fd, err = tl_pins_read_state(x->pin_dir, &x->st);
	__u32 slot;

	if (err) {
		for (int i = 0; i < r->n; i++)
			selftest_set(&r->c[i], TL_SELFTEST_FAIL,
			    err == -EPROTO ? "pins of another tunlock version at %s" :
					     "nothing pinned at %s: enforcement is detached",
			    x->pin_dir);
		return false;
	}
	fd = tl_pins_open_map(x->pin_dir, TL_MAP_SETTINGS);
	slot = x->st.active_slot;
	if (fd < 0 || bpf_map_lookup_elem(fd, &slot, &x->cfg)) {
		selftest_set(&r->c[C_ENFORCEMENT], TL_SELFTEST_FAIL, "%s",
		    "the pinned settings cannot be read");
		if (fd >= 0)
			close(fd);
		return false;
	}
	close(fd);
	x->profile = x->cfg.default_profile;
	read_guarded(x);
	if (!x->st.generation)
		selftest_set(&r->c[C_ENFORCEMENT], TL_SELFTEST_FAIL, "%s",
		    "no policy applied");
	else if (x->cfg.mode == TL_MODE_AUDIT)
		selftest_set(&r->c[C_ENFORCEMENT], TL_SELFTEST_FAIL, "%s",
		    "audit mode: leaks are reported, nothing is dropped");
	else
		selftest_set(&r->c[C_ENFORCEMENT], TL_SELFTEST_PASS, "%s",
		    "enforce mode, every stopping layer attached");
	return true;
}

static void report_init(struct tl_selftest_report *r)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	memset(r, 0, sizeof(*r));
	r->time_ns = (unsigned long long)ts.tv_sec * 1000000000ull + ts.tv_nsec;
	r->n = C_COUNT;
	for (int i = 0; i < C_COUNT; i++)
		selftest_set(&r->c[i], TL_SELFTEST_SKIP, "%s", "not tried");
	for (int i = 0; i < C_COUNT; i++)
		r->c[i].name = tl_selftest_class_names[i];
}

static void run_all(struct context *x, const char *profile,
		    struct tl_selftest_report *r)
{
	struct probe_cgroup pc = { .table = -1 };
	char root[PATH_MAX];
	int err;

	if (profile) {
		int p = find_profile(&x->cfg, profile);

		if (p < 0) {
			selftest_set(&r->c[C_ENFORCEMENT], TL_SELFTEST_FAIL,
			    "no profile %s in the applied policy", profile);
			return;
		}
		x->profile = p;
	}
	err = register_token(x);
	if (err) {
		selftest_set(&r->c[C_ENFORCEMENT], TL_SELFTEST_FAIL,
		    "marking the probes in tl_selftest: %s", strerror(-err));
		unregister_probes(x, r);
		return;
	}
	err = make_cgroup(x, profile, &pc);
	if (!err)
		err = run_in_cgroup(x, pc.path, live_probes, r);
	remove_cgroup(&pc);
	if (err)
		for (int i = C_BYPASS; i <= C_INBOUND; i++)
			if (i != C_FORWARDED)
				selftest_set(&r->c[i], TL_SELFTEST_FAIL,
				    "the transient cgroup: %s", strerror(-err));
	err = tl_cgroup_mount(root, sizeof(root));
	if (!err)
		err = run_in_cgroup(x, root, forwarded_probe, r);
	if (err)
		selftest_set(&r->c[C_FORWARDED], TL_SELFTEST_FAIL,
		    "a child in the root cgroup: %s", strerror(-err));
	unregister_probes(x, r);
	apply_gaps(x, r);
}

/* The run, for the agent's feed (and so a SIEM): said when it cannot be. */
static void hand_to_agent(const char *pin_dir,
			  const struct tl_selftest_report *r)
{
	int err = tl_selftest_send(pin_dir, r);

	if (err == -ENOENT)
		fprintf(stderr, "tunlock: selftest: no agent keeps %s: the "
				"run is not in its feed\n", pin_dir);
	else if (err)
		fprintf(stderr, "tunlock: selftest: handing the run to the "
				"agent: %s\n", strerror(-err));
}

int tl_selftest(const struct tl_run_opts *o)
{
	struct tl_selftest_report r;
	struct context x = { .pin_dir = o->pin_dir, .marks = -1 };
	char line[8192];
	int failed = 0, n;

	report_init(&r);
	if (read_context(&x, &r))
		run_all(&x, o->profile, &r);
	n = tl_selftest_format(&r, TL_FEED_NATIVE, line, sizeof(line));
	hand_to_agent(o->pin_dir, &r);
	if (o->json)
		fputs(n > 0 ? line : "{}\n", stdout);
	else
		tl_selftest_print(&r, stdout);
	/* the feed's line, for the journal under the timer */
	if (!o->json && n > 0)
		fputs(line, stderr);
	if (o->metrics) {
		int err = tl_selftest_metrics_write(o->metrics, &r);

		if (err)
			fprintf(stderr, "tunlock: selftest: writing %s: %s\n",
				o->metrics, strerror(-err));
	}
	for (int i = 0; i < r.n; i++)
		if (r.c[i].result == TL_SELFTEST_FAIL) {
			fprintf(stderr, "tunlock: selftest: %s failed: %s\n",
				r.c[i].name, r.c[i].why);
			failed++;
		}
	return failed ? 1 : 0;
}
