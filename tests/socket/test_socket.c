// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket tests: the socket layer's cgroup programs (connect4/6, sendmsg4/6,
 * recvmsg4/6, getpeername4/6, sock_create), loaded, pinned and attached by
 * the agent's own code, judged by real socket calls of this process.
 *
 * Runs in a network namespace of its own (lo, with lab addresses on it), in
 * a child cgroup of its own where the programs attach (never the root
 * cgroup), and with a pin directory of its own; all are removed at the end.
 * Each case asserts what the call returned and that exactly the expected
 * socket-layer counter moved, so each fails when its hook is not attached.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <linux/rtnetlink.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "apply.h"
#include "cgroup.h"
#include "cgwatch.h"
#include "containers.h"
#include "names.h"
#include "pins.h"
#include "policy.h"
#include "../bpftest.h"

/* the tunnel's resolvers, and two servers outside it */
#define RESOLVER_A "198.51.100.53"
#define RESOLVER_B "198.51.100.54"
#define SERVER_A   "203.0.113.53"
#define SERVER_B   "203.0.113.54"
/* somewhere outside the tunnel, and an IPv6 one */
#define OUTSIDE	 "203.0.113.9"
#define OUTSIDE6 "2001:db8::9"
/* the tunnel's endpoint (local too), and the client's mark */
#define ENDPOINT "198.51.100.2"
#define CLIENT_MARK 0xca6c
/* a veth of the namespace (the default route), and beyond it */
#define VETH	"tlv0"
#define FAR	"203.0.113.200"
/* the veth's IPv6 address, and a LAN neighbour behind it */
#define LAN6	 "fd13:213::2"
#define LAN6_HOP "fd13:213::1"
/* the ports of FAR that profile listed allows (UDP) */
#define FAR_PORT   4000
#define FAR_PORT2  4010
#define FAR_PORT_S "4000, 4010"
/* beyond the veth too: the TCP port of it that profile listed allows */
#define FAR_TCP	     "203.0.113.201"
#define FAR_TCP_PORT 4020
#define FAR_TCP_PORT_S "4020"

static char pin_dir[128];
static char cg_rel[64], cg_dir[sizeof(cg_mount) + 64];
static char cg_exempt[sizeof(cg_dir) + 16];
static char cg_home[sizeof(cg_mount) + PATH_MAX]; /* where this was */
static char ctr_ns[64]; /* a container's namespace, named under /run/netns */
/* the DNS responders on the resolvers' addresses: made before this process
 * moved into the test cgroup, so no hook runs for them */
static int responder_a = -1, responder_b = -1;

/* ---- the namespace and the cgroup ----------------------------------- */

static int make_netns(void)
{
	if (unshare(CLONE_NEWNET)) {
		perror("unshare(CLONE_NEWNET)");
		return -1;
	}
	/* every destination of the cases is local, on lo; the veth sends
	 * nothing of its own (router solicitations go on for minutes, and TC
	 * counts whatever leaves there) */
	return system("echo 0 > /proc/sys/net/ipv6/conf/default/"
		      "router_solicitations && "
		      "ip link set lo up && "
		      "ip addr add " RESOLVER_A "/32 dev lo && "
		      "ip addr add " RESOLVER_B "/32 dev lo && "
		      "ip addr add " SERVER_A "/32 dev lo && "
		      "ip addr add " SERVER_B "/32 dev lo && "
		      "ip addr add " OUTSIDE "/32 dev lo && "
		      "ip addr add " ENDPOINT "/32 dev lo && "
		      "ip addr add " OUTSIDE6 "/128 dev lo nodad && "
		      "ip link add " VETH " type veth peer name tlv1 && "
		      "ip link set tlv1 up && ip link set " VETH " up && "
		      "ip addr add 10.213.0.2/24 dev " VETH " && "
		      "ip route add default via 10.213.0.1 dev " VETH)
		   ? -1
		   : 0;
}

static int write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, s, strlen(s)) < 0)
		err = -errno;
	close(fd);
	return err;
}

/* Moves this process into cgroup directory dir. */
static int enter_cgroup(const char *dir)
{
	char path[PATH_MAX + 16], pid[16];

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	return write_file(path, pid);
}

/* The cgroup this process is in (cgroup2: the "0::" line). */
static int find_home(void)
{
	char line[PATH_MAX];
	FILE *f = fopen("/proc/self/cgroup", "re");
	int err = -ENOENT;

	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			line[strcspn(line, "\n")] = 0;
			snprintf(cg_home, sizeof(cg_home), "%s%s", cg_mount,
				 line + 3);
			err = 0;
		}
	fclose(f);
	return err;
}

static int make_cgroups(void)
{
	if (tl_cgroup_mount(cg_mount, sizeof(cg_mount)) || find_home())
		return -1;
	snprintf(cg_rel, sizeof(cg_rel), "/tunlock-stest-%d", getpid());
	snprintf(cg_dir, sizeof(cg_dir), "%s%s", cg_mount, cg_rel);
	snprintf(cg_exempt, sizeof(cg_exempt), "%s/exempt", cg_dir);
	if (mkdir(cg_dir, 0755) || mkdir(cg_exempt, 0755)) {
		perror("mkdir cgroup");
		return -1;
	}
	return 0;
}

/* Back home, and the test's cgroups and pins gone; also after a failure. */
static void cleanup(void)
{
	/* detaching TC where nothing was attached is no news */
	libbpf_set_print(NULL);
	if (cg_home[0])
		enter_cgroup(cg_home);
	if (cg_exempt[0])
		rmdir(cg_exempt);
	if (cg_dir[0])
		rmdir(cg_dir);
	if (ctr_ns[0]) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "ip netns del %s 2>/dev/null", ctr_ns);
		if (system(cmd))
			report(false, "remove netns", "%s left behind", ctr_ns);
	}
	tl_bpf_close(&bpf);
	if (pin_dir[0] && tl_pins_remove(pin_dir))
		report(false, "remove pins", "%s left behind", pin_dir);
}

/* ---- policy and tunnel state ---------------------------------------- */

static const char *const policy_fmt =
    "attach_cgroup: %s\n"
    "tunnels:\n"
    "  - name: lab\n"
    "    interface: wg*\n"
    "    endpoints:\n"
    "      - {address: 198.51.100.2, port: 51820, protocol: udp}\n"
    "    client: {fwmark: 0xca6c}\n"
    "    resolvers: [" RESOLVER_A ", " RESOLVER_B "]\n"
    "profiles:\n"
    "  - name: locked\n"
    "  - name: redirect\n"
    "    dns: redirect\n"
    "  - name: v6block\n"
    "    ipv6: block\n"
    "  - name: raw\n"
    "    raw_sockets: allow\n"
    "  - name: listed\n"
    "    allow:\n"
    "      - {cidr: " OUTSIDE "/32}\n"
    "      - {cidr: " FAR "/32, protocol: udp, ports: [" FAR_PORT_S "]}\n"
    "      - {cidr: " FAR_TCP "/32, protocol: tcp, ports: [" FAR_TCP_PORT_S "]}\n"
    "  - name: lan\n"
    "    lan: allow\n"
    "cgroups:\n"
    "  - {path: %s, profile: %s}\n"
    "  - {path: %s/exempt, exempt: true}\n";

static int apply(const char *profile)
{
	char yaml[2048];

	snprintf(yaml, sizeof(yaml), policy_fmt, cg_rel, cg_rel, profile,
		 cg_rel);
	return apply_yaml(yaml);
}

/* The same policy, but for the ports that a DNS query goes to. */
static int apply_dns_ports(const char *profile, const char *ports)
{
	char yaml[2048];
	int n = snprintf(yaml, sizeof(yaml), "dns_ports: %s\n", ports);

	snprintf(yaml + n, sizeof(yaml) - n, policy_fmt, cg_rel, cg_rel,
		 profile, cg_rel);
	return apply_yaml(yaml);
}

/* The tunnel (index 0, the resolvers') up with IPv4, and IPv6 with ipv6,
 * or down. */
static int tunnel(bool up, bool ipv6)
{
	struct tl_tunnel_state ts = {0};
	__u32 zero = 0;

	if (up)
		ts.flags =
		    TL_TUNNEL_UP | TL_TUNNEL_IPV4 | (ipv6 ? TL_TUNNEL_IPV6 : 0);
	snprintf(ts.name, sizeof(ts.name), "lab");
	snprintf(ts.ifname, sizeof(ts.ifname), "wg0");
	if (bpf_map_update_elem(tl_bpf_map_fd(&bpf, TL_MAP_TUNNELS), &zero, &ts,
				BPF_ANY))
		return -errno;
	return set_tunnels(up, up && ipv6);
}

/* ---- judging a call ------------------------------------------------- */

static __u64 before[TL_REASON_MAX][TL_VERDICT_MAX], before_all;

/* The layer that judges the calls: the socket layer's, but a raw socket
 * that BPF LSM refuses (where the kernel has it) never reaches sock_create */
static __u32 judged_layer = TL_LAYER_SOCKET;

/* Before a call: the judging layer's counters. */
static void begin(void)
{
	for (__u32 r = 0; r < TL_REASON_MAX; r++)
		for (__u32 v = 0; v < TL_VERDICT_MAX; v++)
			if (read_counter(judged_layer, r, v, &before[r][v]))
				before[r][v] = 0;
	before_all = layer_counters(judged_layer);
}

/*
 * After it: the call's result (0 or an errno) is want_err, and the socket
 * layer counted exactly one call, as reason/verdict.
 */
static void judge(const char *name, int err, int want_err, __u32 reason,
		  __u32 verdict)
{
	__u64 after = 0, all = layer_counters(judged_layer);

	read_counter(judged_layer, reason, verdict, &after);
	if (err != want_err)
		report(false, name, "got %s, want %s",
		       err ? strerror(err) : "success",
		       want_err ? strerror(want_err) : "success");
	else if (after - before[reason][verdict] != 1 || all - before_all != 1)
		report(false, name,
		       "counter %s/%s moved by %llu (the layer's by %llu), "
		       "want 1",
		       tl_reason_name(reason), tl_verdict_name(verdict),
		       (unsigned long long)(after - before[reason][verdict]),
		       (unsigned long long)(all - before_all));
	else
		report(true, name, NULL);
}

/* ---- sockets -------------------------------------------------------- */

static socklen_t sockaddr_of(struct sockaddr_storage *ss, const char *ip,
			     uint16_t port)
{
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, ip, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons(port);
		return sizeof(*a4);
	}
	if (inet_pton(AF_INET6, ip, &a6->sin6_addr) != 1)
		return 0;
	a6->sin6_family = AF_INET6;
	a6->sin6_port = htons(port);
	return sizeof(*a6);
}

/* "a.b.c.d:port" or "[v6]:port" of ss. */
static const char *sockaddr_str(const struct sockaddr_storage *ss, char *buf,
				size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
	} else {
		const struct sockaddr_in6 *a = (const void *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->sin6_port));
	}
	return buf;
}

/* connect() of a new socket to ip:port: 0 or the errno. */
static int try_connect(int family, int type, const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&ss, ip, port);
	int fd = socket(family, type | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return errno;
	if (connect(fd, (struct sockaddr *)&ss, len))
		err = errno;
	close(fd);
	return err;
}

/* sendto() of an unconnected socket (fd, or a new one when fd < 0). */
static int try_sendto(int fd, int family, const char *ip, uint16_t port,
		      const void *msg, size_t n)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&ss, ip, port);
	bool own = fd < 0;
	int err = 0;

	if (own)
		fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (sendto(fd, msg, n, 0, (struct sockaddr *)&ss, len) < 0)
		err = errno;
	if (own)
		close(fd);
	return err;
}

static int udp_bound(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;
	socklen_t len = sockaddr_of(&ss, ip, port);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len)) {
		perror("responder");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Waits (bounded) for a datagram on fd: its length, or -1. */
static ssize_t recv_wait(int fd, void *buf, size_t n,
			 struct sockaddr_storage *from)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	socklen_t len = sizeof(*from);

	if (poll(&p, 1, 5000) != 1)
		return -1;
	return recvfrom(fd, buf, n, 0, (struct sockaddr *)from, &len);
}

/*
 * The responder on fd answers one query ("answer:" and the query): true
 * when the query arrived there and was answered.
 */
static bool respond(int fd, const char *query)
{
	struct sockaddr_storage from;
	char buf[256], answer[300];
	ssize_t n = recv_wait(fd, buf, sizeof(buf) - 1, &from);

	if (n < 0)
		return false;
	buf[n] = 0;
	if (strcmp(buf, query))
		return false;
	snprintf(answer, sizeof(answer), "answer:%s", buf);
	return sendto(fd, answer, strlen(answer), 0, (struct sockaddr *)&from,
		      from.ss_family == AF_INET
			  ? sizeof(struct sockaddr_in)
			  : sizeof(struct sockaddr_in6)) > 0;
}

/* The client reads the answer to query; it must show server:53 as its
 * source (the recvmsg hooks' restore). */
static void check_answer(const char *name, int fd, const char *query,
			 const char *server)
{
	struct sockaddr_storage from, want;
	char buf[300], expect[300], got[64], wanted[64];
	ssize_t n = recv_wait(fd, buf, sizeof(buf) - 1, &from);

	snprintf(expect, sizeof(expect), "answer:%s", query);
	sockaddr_of(&want, server, 53);
	if (n < 0) {
		report(false, name, "no answer: %s", strerror(errno));
		return;
	}
	buf[n] = 0;
	sockaddr_str(&from, got, sizeof(got));
	sockaddr_str(&want, wanted, sizeof(wanted));
	if (strcmp(buf, expect))
		report(false, name, "answer \"%s\", want \"%s\"", buf, expect);
	else
		report(!strcmp(got, wanted), name, "answer from %s, want %s",
		       got, wanted);
}

/* ---- the cases ------------------------------------------------------ */

static const char q1[] = "query-1", q2[] = "query-2", q3[] = "query-3";

/* One call of a new socket, and what the socket layer must make of it. */
struct call {
	const char *name;
	int type; /* SOCK_STREAM: connect; SOCK_DGRAM: connect, or sendto */
	bool send;
	const char *ip; /* IPv4, IPv6, or IPv4-mapped (an AF_INET6 socket) */
	uint16_t port;
	int want_err;
	__u32 reason, verdict;
};

#define CONNECT_UDP	SOCK_DGRAM, false
#define CONNECT_TCP	SOCK_STREAM, false
#define SENDTO		SOCK_DGRAM, true
#define BLOCKED(err, r) (err), (r), TL_VERDICT_BLOCKED
#define ALLOWED(r)	0, (r), TL_VERDICT_PASS

static void run_calls(const struct call *c, size_t n)
{
	for (size_t i = 0; i < n; i++, c++) {
		int family = strchr(c->ip, ':') ? AF_INET6 : AF_INET;

		begin();
		judge(c->name,
		      c->send ? try_sendto(-1, family, c->ip, c->port, q1,
					   strlen(q1))
			      : try_connect(family, c->type, c->ip, c->port),
		      c->want_err, c->reason, c->verdict);
	}
}

#define RUN_CALLS(table) run_calls(table, sizeof(table) / sizeof(table[0]))

static void cases_tunnel_down(void)
{
	static const struct call calls[] = {
	    {"connect4 udp, tunnel down: EPERM", CONNECT_UDP, OUTSIDE, 9,
	     BLOCKED(EPERM, TL_REASON_TUNNEL_DOWN)},
	    {"connect4 tcp, tunnel down: EPERM", CONNECT_TCP, OUTSIDE, 80,
	     BLOCKED(EPERM, TL_REASON_TUNNEL_DOWN)},
	    {"sendmsg4, tunnel down: EPERM", SENDTO, OUTSIDE, 9,
	     BLOCKED(EPERM, TL_REASON_TUNNEL_DOWN)},
	    {"connect6 udp, tunnel down: ENETUNREACH", CONNECT_UDP, OUTSIDE6, 9,
	     BLOCKED(ENETUNREACH, TL_REASON_IPV6)},
	    {"sendmsg6 to IPv4-mapped, tunnel down: EPERM", SENDTO,
	     "::ffff:" OUTSIDE, 9, BLOCKED(EPERM, TL_REASON_TUNNEL_DOWN)},
	    {"connect4 to loopback, tunnel down: allowed", CONNECT_UDP,
	     "127.0.0.1", 9, ALLOWED(TL_ALLOW_LOOPBACK)},
	};

	RUN_CALLS(calls);
}

static void cases_tunnel_up(void)
{
	static const struct call calls[] = {
	    {"connect4 udp, tunnel up: allowed", CONNECT_UDP, OUTSIDE, 9,
	     ALLOWED(TL_ALLOW_TUNNEL_UP)},
	    /* nothing listens: refused by the stack, not by the hook */
	    {"connect4 tcp, tunnel up: reaches the stack", CONNECT_TCP, OUTSIDE,
	     80, ECONNREFUSED, TL_ALLOW_TUNNEL_UP, TL_VERDICT_PASS},
	    {"sendmsg4, tunnel up: allowed", SENDTO, OUTSIDE, 9,
	     ALLOWED(TL_ALLOW_TUNNEL_UP)},
	    {"connect6, tunnel up without IPv6: ENETUNREACH", CONNECT_UDP,
	     OUTSIDE6, 9, BLOCKED(ENETUNREACH, TL_REASON_IPV6)},
	    {"sendmsg4 dns to another resolver, dns block: EPERM", SENDTO,
	     SERVER_A, 53, BLOCKED(EPERM, TL_REASON_DNS)},
	    {"connect4 tcp dns to another resolver, dns block: EPERM",
	     CONNECT_TCP, SERVER_A, 53, BLOCKED(EPERM, TL_REASON_DNS)},
	    {"connect4 DNS over TLS to another resolver, dns block: EPERM",
	     CONNECT_TCP, SERVER_A, 853, BLOCKED(EPERM, TL_REASON_DNS)},
	    {"sendmsg6 dns to IPv4-mapped resolver, dns block: EPERM", SENDTO,
	     "::ffff:" SERVER_A, 53, BLOCKED(EPERM, TL_REASON_DNS)},
	};
	int err;

	RUN_CALLS(calls);
	begin();
	err = try_sendto(-1, AF_INET, RESOLVER_A, 53, q1, strlen(q1));
	if (!err && !respond(responder_a, q1))
		err = ENOMSG; /* sent, but not to the resolver */
	judge("sendmsg4 dns to the tunnel resolver: allowed, arrives", err, 0,
	      TL_ALLOW_TUNNEL_UP, TL_VERDICT_PASS);
}

/* An IPv6 tunnel is up: the profile decides. */
static void cases_ipv6(bool block)
{
	static const struct call allowed[] = {
	    {"connect6, IPv6 tunnel up: allowed", CONNECT_UDP, OUTSIDE6, 9,
	     ALLOWED(TL_ALLOW_TUNNEL_UP)},
	};
	static const struct call blocked[] = {
	    {"connect6, IPv6 tunnel up, ipv6 block: ENETUNREACH", CONNECT_UDP,
	     OUTSIDE6, 9, BLOCKED(ENETUNREACH, TL_REASON_IPV6)},
	    {"sendmsg6, IPv6 tunnel up, ipv6 block: ENETUNREACH", SENDTO,
	     OUTSIDE6, 9, BLOCKED(ENETUNREACH, TL_REASON_IPV6)},
	    {"connect6 to IPv4-mapped, ipv6 block: allowed", CONNECT_UDP,
	     "::ffff:" OUTSIDE, 9, ALLOWED(TL_ALLOW_TUNNEL_UP)},
	};

	if (block)
		RUN_CALLS(blocked);
	else
		RUN_CALLS(allowed);
}

/* One unconnected socket asks two servers: each answer shows its own. */
static void case_redirect_unconnected(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	begin();
	judge("sendmsg4 dns, redirect: sent",
	      try_sendto(fd, 0, SERVER_A, 53, q1, strlen(q1)), 0, TL_REASON_DNS,
	      TL_VERDICT_REDIRECTED);
	report(respond(responder_a, q1), "redirect: query at the resolver",
	       "nothing arrived at %s:53", RESOLVER_A);
	check_answer("recvmsg4: answer from the server asked", fd, q1,
		     SERVER_A);
	begin();
	judge("sendmsg4 dns to a second server, same socket: sent",
	      try_sendto(fd, 0, SERVER_B, 53, q2, strlen(q2)), 0, TL_REASON_DNS,
	      TL_VERDICT_REDIRECTED);
	report(respond(responder_b, q2),
	       "second server: query at the other resolver",
	       "nothing arrived at %s:53", RESOLVER_B);
	check_answer("recvmsg4: second answer from the second server", fd, q2,
		     SERVER_B);
	close(fd);
}

/* A connected socket: its peer reads as the server asked. */
/*
 * A connected socket asking server (IPv4, or IPv4-mapped on an IPv6
 * socket, v 4 or 6 in the names): its peer reads as the server asked.
 */
static void case_redirect_connected(const char *server, char v)
{
	struct sockaddr_storage ss, peer;
	socklen_t len = sockaddr_of(&ss, server, 53), plen = sizeof(peer);
	int fd = socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;
	char got[64], want[64], name[3][80];
	bool redirected;

	snprintf(name[0], sizeof(name[0]), "connect%c dns, redirect: connected",
		 v);
	snprintf(name[1], sizeof(name[1]),
		 "getpeername%c: the server asked, of a redirected socket", v);
	snprintf(name[2], sizeof(name[2]),
		 "recvmsg%c connected: answer from the server asked", v);
	begin();
	if (connect(fd, (struct sockaddr *)&ss, len))
		err = errno;
	judge(name[0], err, 0, TL_REASON_DNS, TL_VERDICT_REDIRECTED);
	if (send(fd, q3, strlen(q3), 0) < 0)
		report(false, name[0], "send: %s", strerror(errno));
	/* without the redirect the peer would read as asked, too */
	redirected = respond(responder_a, q3);
	if (getpeername(fd, (struct sockaddr *)&peer, &plen))
		report(false, name[1], "%s", strerror(errno));
	else
		report(redirected &&
			   !strcmp(sockaddr_str(&peer, got, sizeof(got)),
				   sockaddr_str(&ss, want, sizeof(want))),
		       name[1], "peer %s, want %s (%s at %s:53)", got, want,
		       redirected ? "query" : "no query", RESOLVER_A);
	check_answer(name[2], fd, q3, server);
	close(fd);
}

/* An IPv6 socket asking an IPv4 server (IPv4-mapped). */
static void case_redirect_mapped(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	begin();
	judge("sendmsg6 dns to IPv4-mapped, redirect: sent",
	      try_sendto(fd, 0, "::ffff:" SERVER_B, 53, q1, strlen(q1)), 0,
	      TL_REASON_DNS, TL_VERDICT_REDIRECTED);
	report(respond(responder_a, q1),
	       "IPv4-mapped redirect: query at the resolver",
	       "nothing arrived at %s:53", RESOLVER_A);
	check_answer("recvmsg6: answer from the IPv4-mapped server asked", fd,
		     q1, "::ffff:" SERVER_B);
	close(fd);
}

/* socket() of a raw IP socket: 0 or the errno. */
static int try_raw(int family)
{
	int fd = socket(family, SOCK_RAW | SOCK_CLOEXEC,
			family == AF_INET ? IPPROTO_UDP : IPPROTO_ICMPV6);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/*
 * A raw IP socket made and judged. Refused, it is counted by the LSM layer
 * where that is attached (the socket never reaches sock_create); created,
 * by sock_create.
 */
static void judge_raw(const char *name, int family, bool allowed)
{
	if (!allowed && bpf.lsm)
		judged_layer = TL_LAYER_LSM;
	begin();
	judge(name, try_raw(family), allowed ? 0 : EPERM,
	      allowed ? TL_ALLOW_RAW : TL_REASON_RAW_SOCKET,
	      allowed ? TL_VERDICT_PASS : TL_VERDICT_BLOCKED);
	judged_layer = TL_LAYER_SOCKET;
}

static void cases_raw(bool allowed)
{
	static const int families[] = {AF_INET, AF_INET6};
	char name[96];

	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name),
			 "%s raw%c, raw_sockets %s",
			 !allowed && bpf.lsm ? "lsm socket_create" :
					       "sock_create",
			 families[i] == AF_INET ? '4' : '6',
			 allowed ? "allow: created" : "deny: EPERM");
		judge_raw(name, families[i], allowed);
	}
}

static void cases_exempt(void)
{
	static const struct call calls[] = {
	    {"connect4, exempt cgroup, tunnel down: allowed", CONNECT_UDP,
	     OUTSIDE, 9, ALLOWED(TL_ALLOW_EXEMPT)},
	    {"sendmsg4 dns, exempt cgroup: allowed", SENDTO, SERVER_A, 53,
	     ALLOWED(TL_ALLOW_EXEMPT)},
	};

	if (enter_cgroup(cg_exempt)) {
		report(false, "exempt cgroup", "cannot enter %s", cg_exempt);
		return;
	}
	RUN_CALLS(calls);
	if (enter_cgroup(cg_dir))
		report(false, "exempt cgroup", "cannot go back to %s", cg_dir);
}

static bool step(const char *what, int err)
{
	if (err)
		report(false, "socket test state", "%s: %s", what,
		       strerror(err < 0 ? -err : err));
	return !err;
}

/* ---- kept verdicts (bpf/sock_verdict.h) ----------------------------- */

/* A sendto() on the unconnected socket fd, judged. */
static void send_on(const char *name, int fd, const char *ip, uint16_t port,
		    int want_err, __u32 reason, __u32 verdict)
{
	begin();
	judge(name, try_sendto(fd, 0, ip, port, q1, strlen(q1)), want_err,
	      reason, verdict);
}

static int sockopt(int fd, int opt, const void *val, socklen_t len)
{
	return setsockopt(fd, SOL_SOCKET, opt, val, len) ? -errno : 0;
}

static int set_mark(int fd, int mark)
{
	return sockopt(fd, SO_MARK, &mark, sizeof(mark));
}

/* VETH in tl_ifaces as a tunnel, as not one, or gone; then the bump, as
 * the agent's links.c does. */
static int veth_is(int tunnel)
{
	struct tl_iface v = {.flags = tunnel > 0 ? TL_IFACE_TUNNEL : 0};
	__u32 key = if_nametoindex(VETH);
	int err;

	if (!key)
		return -errno;
	err = tunnel < 0 ? tl_iface_del(&bpf, key) :
			   tl_iface_put(&bpf, key, &v);
	return err ? err : tl_bump_verdicts(&bpf);
}

/* Sends to ip:port on fd until the socket layer keeps that port, bounded:
 * 0, or an errno. Each must be allowed. */
static int sock_kept_moves_to(int fd, const char *ip, uint16_t port)
{
	struct tl_sock_verdict v;
	int map = -1, err = ETIMEDOUT;
	char path[PATH_MAX];

	if (!tl_pin_path(path, sizeof(path), pin_dir, "tl_sock_verdicts"))
		map = bpf_obj_get(path);
	if (map < 0)
		return errno;
	for (int i = 0; i < 500; i++) {
		int e = try_sendto(fd, 0, ip, port, q1, strlen(q1));

		if (e) {
			err = e;
			break;
		}
		if (!bpf_map_lookup_elem(map, &fd, &v) && v.key.dport == port &&
		    v.reason == TL_ALLOW_TUNNEL_UP) {
			err = 0;
			break;
		}
		usleep(10000);
	}
	close(map);
	return err;
}

/*
 * Tunnel up, profile locked. One socket is allowed a destination, then
 * something its verdict was judged on changes: each change must be seen,
 * however the socket layer keeps its last verdict. Each pair fails when
 * the kept verdict outlives the change (a stale allow).
 */
static void cases_kept_same_socket(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	send_on("kept: sendmsg4, tunnel up: allowed", fd, OUTSIDE, 9,
		ALLOWED(TL_ALLOW_TUNNEL_UP));
	send_on("kept: the same again: allowed, counted", fd, OUTSIDE, 9,
		ALLOWED(TL_ALLOW_TUNNEL_UP));
	err = sock_kept_moves_to(fd, OUTSIDE, 10);
	report(!err, "kept: another destination, again and again: kept instead "
	       "within 5 s", "%s", strerror(err));
	send_on("kept: same socket, another destination (the endpoint, "
		"unmarked): EPERM", fd, ENDPOINT, 51820,
		BLOCKED(EPERM, TL_REASON_ENDPOINT));
	if (!step("SO_MARK", set_mark(fd, CLIENT_MARK)))
		goto out;
	send_on("kept: SO_MARK of the client, to the endpoint: allowed", fd,
		ENDPOINT, 51820, ALLOWED(TL_ALLOW_TRANSPORT));
	send_on("kept: same address, another port: EPERM", fd, ENDPOINT,
		51821, BLOCKED(EPERM, TL_REASON_ENDPOINT));
	send_on("kept: the endpoint again: allowed", fd, ENDPOINT, 51820,
		ALLOWED(TL_ALLOW_TRANSPORT));
	if (!step("SO_MARK", set_mark(fd, 0)))
		goto out;
	send_on("kept: SO_MARK cleared after the verdict: EPERM", fd, ENDPOINT,
		51820, BLOCKED(EPERM, TL_REASON_ENDPOINT));
	send_on("kept: allowed again before the tunnel goes down", fd,
		OUTSIDE, 9, ALLOWED(TL_ALLOW_TUNNEL_UP));
	if (!step("tunnel", tunnel(false, false)))
		goto out;
	send_on("kept: the tunnel went down after the verdict: EPERM", fd,
		OUTSIDE, 9, BLOCKED(EPERM, TL_REASON_TUNNEL_DOWN));
	if (!step("tunnel", tunnel(true, false)))
		goto out;
	send_on("kept: the tunnel up again: allowed", fd, OUTSIDE, 9,
		ALLOWED(TL_ALLOW_TUNNEL_UP));
	if (!step("SO_BINDTODEVICE", sockopt(fd, SO_BINDTODEVICE, VETH,
					     sizeof(VETH))))
		goto out;
	send_on("kept: SO_BINDTODEVICE to a non-tunnel after the verdict: "
		"EPERM", fd, OUTSIDE, 9, BLOCKED(EPERM, TL_REASON_BYPASS));
	if (!step("tl_ifaces", veth_is(1)))
		goto out;
	send_on("kept: bound to an interface that became a tunnel: allowed",
		fd, FAR, 9, ALLOWED(TL_ALLOW_TUNNEL));
	if (!step("tl_ifaces", veth_is(0)))
		goto out;
	send_on("kept: the interface is no tunnel any more: EPERM", fd, FAR,
		9, BLOCKED(EPERM, TL_REASON_BYPASS));
out:
	veth_is(-1);
	close(fd);
}

/* sendto() on fd until it succeeds, bounded: 0 or the last errno. */
static int send_until_sent(int fd, const char *ip, uint16_t port)
{
	int err = 0;

	for (int i = 0; i < 500; i++) {
		err = try_sendto(fd, 0, ip, port, q1, strlen(q1));
		if (!err)
			break;
		usleep(10000);
	}
	return err;
}

/*
 * Tunnel up, profile locked: cgroup_skb refuses what leaves on VETH (not a
 * tunnel), and the socket keeps that refusal: the next send is refused by
 * the socket layer, before routing. The refusal must end when VETH becomes
 * a tunnel (the bump), and within its time when only the route changes
 * (no bump: the agent does not follow routes).
 */
static void cases_kept_refusal(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;

	send_on("kept refusal: routed out of a non-tunnel: allowed here, "
		"EPERM from cgroup_skb", fd, FAR, 9, EPERM, TL_ALLOW_TUNNEL_UP,
		TL_VERDICT_PASS);
	send_on("kept refusal: the same again: EPERM at the socket layer", fd,
		FAR, 9, BLOCKED(EPERM, TL_REASON_BYPASS));
	send_on("kept refusal: another port: judged again", fd, FAR, 10,
		EPERM, TL_ALLOW_TUNNEL_UP, TL_VERDICT_PASS);
	if (!step("tl_ifaces", veth_is(1)))
		goto out;
	send_on("kept refusal: the interface became a tunnel: sent", fd, FAR,
		9, ALLOWED(TL_ALLOW_TUNNEL_UP));
	if (!step("tl_ifaces", veth_is(0)))
		goto out;
	send_on("kept refusal: no tunnel again: EPERM from cgroup_skb", fd,
		FAR, 9, EPERM, TL_ALLOW_TUNNEL_UP, TL_VERDICT_PASS);
	send_on("kept refusal: kept again: EPERM at the socket layer", fd, FAR,
		9, BLOCKED(EPERM, TL_REASON_BYPASS));
	if (!step("route", system("ip route replace default dev lo")))
		goto out;
	err = send_until_sent(fd, FAR, 9);
	report(!err, "kept refusal: the route changed (no bump): sent within "
	       "5 s", "still refused: %s", strerror(err));
out:
	if (system("ip route replace default via 10.213.0.1 dev " VETH))
		report(false, "kept refusal", "cannot restore the route");
	veth_is(-1);
	close(fd);
}

/*
 * Tunnel down. A socket allowed in an exempt cgroup, used from a protected
 * one (as after SCM_RIGHTS or a fork and a move): judged for the caller. A
 * destination the policy allow-lists, then a policy without it in the
 * same slot.
 */
static void cases_kept_caller_and_policy(void)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (!step("tunnel", tunnel(false, false)) ||
	    !step("exempt cgroup", enter_cgroup(cg_exempt)))
		goto out;
	send_on("kept: sendmsg4 from an exempt cgroup: allowed", fd, OUTSIDE,
		9, ALLOWED(TL_ALLOW_EXEMPT));
	if (!step("cgroup", enter_cgroup(cg_dir)))
		goto out;
	send_on("kept: the same socket from a protected cgroup: EPERM", fd,
		OUTSIDE, 9, BLOCKED(EPERM, TL_REASON_TUNNEL_DOWN));
	if (!step("policy", apply("listed")))
		goto out;
	send_on("kept: allow-listed: allowed", fd, OUTSIDE, 9,
		ALLOWED(TL_ALLOW_LISTED));
	/* twice: the kept verdict's slot is live again, with other tables */
	if (!step("policy", apply("locked")) || !step("policy", apply("locked")))
		goto out;
	send_on("kept: policy reloaded twice without the entry (its slot "
		"again): EPERM", fd, OUTSIDE, 9,
		BLOCKED(EPERM, TL_REASON_TUNNEL_DOWN));
	/* a kept send is no DNS query only while the ports are the same */
	if (!step("policy", apply("listed")))
		goto out;
	send_on("kept: allow-listed, port 9: allowed", fd, OUTSIDE, 9,
		ALLOWED(TL_ALLOW_LISTED));
	if (!step("policy", apply_dns_ports("listed", "[53, 9]")))
		goto out;
	send_on("kept: port 9 made a DNS port: a query, blocked", fd, OUTSIDE,
		9, BLOCKED(EPERM, TL_REASON_DNS));
	step("policy", apply("locked")); /* what the cases after assume */
out:
	enter_cgroup(cg_dir);
	close(fd);
}

/*
 * IPv6 tunnel up, ipv6 block: an IPv6 socket allowed an IPv4-mapped
 * destination is refused real IPv6; and the mapped one again is allowed.
 */
static void cases_kept_mapped(void)
{
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	send_on("kept: sendmsg6 to IPv4-mapped, ipv6 block: allowed", fd,
		"::ffff:" OUTSIDE, 9, ALLOWED(TL_ALLOW_TUNNEL_UP));
	send_on("kept: the same socket to IPv6: ENETUNREACH", fd, OUTSIDE6, 9,
		BLOCKED(ENETUNREACH, TL_REASON_IPV6));
	send_on("kept: IPv4-mapped again: allowed", fd, "::ffff:" OUTSIDE, 9,
		ALLOWED(TL_ALLOW_TUNNEL_UP));
	close(fd);
}

/* ---- kept allows of the packet layers (bpf/packet_kept.h) ----------- */

/* A STUN Binding request: never leaves outside the tunnel. */
static const unsigned char stun_binding[20] = {
    0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42, 't', 'u',
    'n',  'l',	'o',  'c',  'k',  '-',	's',  't',  'u', 'n'};

/* A sendto() of len bytes of msg on fd, judged. */
static void send_msg_on(const char *name, int fd, const char *ip,
			uint16_t port, const void *msg, size_t len,
			int want_err, __u32 reason, __u32 verdict)
{
	begin();
	judge(name, try_sendto(fd, 0, ip, port, msg, len), want_err, reason,
	      verdict);
}

/* The map where layer keeps its allows, opened through its pin. */
static int kept_map(enum tl_kept_layer layer)
{
	char path[PATH_MAX];

	if (tl_pin_path(path, sizeof(path), pin_dir,
			layer == TL_KEPT_TC ? "tl_kept_tc" : "tl_kept_skb"))
		return -1;
	return bpf_obj_get(path);
}

/* The tag a verdict judged now carries: the verdicts generation and the
 * live slot. */
static int live_tag(__u32 *tag)
{
	struct tl_generation gen;
	struct tl_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, TL_MAP_GENERATION), &zero,
				&gen) ||
	    bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, TL_MAP_STATE), &zero, &st))
		return -errno;
	*tag = gen.verdicts * TL_POLICY_SLOTS +
	       (st.active_slot & (TL_POLICY_SLOTS - 1));
	return 0;
}

/* A layer's kept allow for ip:port from socket fd (its protocol), with the
 * live tag, the mark and the interface it leaves by (VETH). */
static void kept_for(struct tl_kept_allow *k, int fd, const char *ip,
		     uint16_t port, __u32 tag)
{
	struct sockaddr_storage dst, src;
	socklen_t len = sizeof(src);
	struct sockaddr_in *d = (struct sockaddr_in *)&dst;
	uint64_t cgroup_id = 0;
	int mark = 0, protocol = 0;
	socklen_t mlen = sizeof(mark), plen = sizeof(protocol);

	memset(k, 0, sizeof(*k));
	tl_cgroup_id(cg_mount, cg_rel, &cgroup_id);
	sockaddr_of(&dst, ip, port);
	getsockname(fd, (struct sockaddr *)&src, &len);
	getsockopt(fd, SOL_SOCKET, SO_MARK, &mark, &mlen);
	getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &plen);
	k->key.daddr[2] = htonl(0xffff);
	k->key.daddr[3] = d->sin_addr.s_addr;
	k->key.cgroup_id = cgroup_id;
	k->key.mark = mark;
	k->key.bound = if_nametoindex(VETH);
	k->key.dport = port;
	k->key.sport = ntohs(((struct sockaddr_in *)&src)->sin_port);
	k->key.protocol = protocol;
	k->key.tag = tag;
	k->reason = TL_ALLOW_LISTED;
}

/* What socket fd's storage keeps for layer: 0, or an errno (ENOENT:
 * nothing). */
static int kept_read(int fd, enum tl_kept_layer layer,
		     struct tl_kept_allow *out)
{
	int map = kept_map(layer), err = 0;

	if (map < 0)
		return errno;
	if (bpf_map_lookup_elem(map, &fd, out))
		err = errno;
	close(map);
	return err;
}

/* Socket fd's storage made to keep k for layer, as if the layer had
 * judged it. */
static int kept_plant(int fd, enum tl_kept_layer layer,
		      const struct tl_kept_allow *k)
{
	int map = kept_map(layer), err = 0;

	if (map < 0)
		return -errno;
	if (bpf_map_update_elem(map, &fd, k, BPF_ANY))
		err = -errno;
	close(map);
	return err;
}

/* layer of fd keeps exactly what it would for ip:port now. */
static void check_kept(const char *name, int fd, enum tl_kept_layer layer,
		       const char *ip, uint16_t port)
{
	struct tl_kept_allow got, want;
	__u32 tag = 0;
	int err = live_tag(&tag) ? EIO : kept_read(fd, layer, &got);

	kept_for(&want, fd, ip, port, tag);
	if (err)
		report(false, name, "nothing kept: %s", strerror(err));
	else if (memcmp(&got.key, &want.key, sizeof(got.key)) ||
		 got.reason != want.reason)
		report(false, name,
		       "kept port %u, reason %s, tag %u, interface %u; want "
		       "port %u, reason %s, tag %u, interface %u",
		       got.key.dport, tl_reason_name(got.reason), got.key.tag,
		       got.key.bound, want.key.dport,
		       tl_reason_name(want.reason), want.key.tag,
		       want.key.bound);
	else
		report(true, name, NULL);
}

/* Datagrams to ip:port on fd until its cgroup_skb entry names port,
 * bounded: 0, or an errno. Each must be allowed. */
static int kept_moves_to(int fd, const char *ip, uint16_t port)
{
	struct tl_kept_allow k;
	int err;

	for (int i = 0; i < 500; i++) {
		err = try_sendto(fd, 0, ip, port, q1, strlen(q1));
		if (err)
			return err;
		if (!kept_read(fd, TL_KEPT_CGROUP_SKB, &k) &&
		    k.key.dport == port)
			return 0;
		usleep(10000);
	}
	return ETIMEDOUT;
}

/*
 * Profile listed, tunnel up: FAR_PORT and FAR_PORT2 of FAR are
 * allow-listed (UDP), routed out of VETH, a non-tunnel; other ports of FAR
 * are not. cgroup_skb keeps the
 * socket's allow: what it keeps, that it trusts it, and what it must still
 * look at or judge again. Each case fails when the kept allow outlives
 * what it was judged on, or lets a STUN payload out.
 */
static void cases_packet_kept(void)
{
	struct tl_kept_allow k;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err;
	__u32 tag;

	judged_layer = TL_LAYER_CGROUP_SKB;
	if (!step("policy", apply("listed")))
		goto out;
	send_on("packet kept: allow-listed out of the veth: allowed", fd, FAR,
		FAR_PORT, ALLOWED(TL_ALLOW_LISTED));
	check_kept("packet kept: cgroup_skb keeps it with the live tag", fd,
		   TL_KEPT_CGROUP_SKB, FAR, FAR_PORT);
	send_on("packet kept: the same again: allowed", fd, FAR, FAR_PORT,
		ALLOWED(TL_ALLOW_LISTED));
	send_msg_on("packet kept: a STUN request to it: EPERM", fd, FAR, FAR_PORT,
		    stun_binding, sizeof(stun_binding),
		    BLOCKED(EPERM, TL_REASON_STUN));
	send_on("packet kept: a datagram after it: allowed", fd, FAR, FAR_PORT,
		ALLOWED(TL_ALLOW_LISTED));
	send_on("packet kept: another port (not listed): EPERM", fd, FAR, FAR_PORT + 1,
		BLOCKED(EPERM, TL_REASON_BYPASS));
	if (!step("tag", live_tag(&tag)))
		goto out;
	kept_for(&k, fd, FAR, FAR_PORT + 2, tag);
	if (!step("plant", kept_plant(fd, TL_KEPT_CGROUP_SKB, &k)))
		goto out;
	send_on("packet kept: an allow kept for another port is trusted: allowed",
		fd, FAR, FAR_PORT + 2, ALLOWED(TL_ALLOW_LISTED));
	kept_for(&k, fd, FAR, FAR_PORT + 3, tag - TL_POLICY_SLOTS);
	if (!step("plant", kept_plant(fd, TL_KEPT_CGROUP_SKB, &k)))
		goto out;
	send_on("packet kept: one of the last generation is not: EPERM", fd,
		FAR, FAR_PORT + 3, BLOCKED(EPERM, TL_REASON_BYPASS));
	kept_for(&k, fd, FAR, FAR_PORT + 4, tag);
	k.key.mark = 0;
	if (!step("plant", kept_plant(fd, TL_KEPT_CGROUP_SKB, &k)) ||
	    !step("SO_MARK", set_mark(fd, 0x13)))
		goto out;
	send_on("packet kept: one judged without the socket's new mark is "
		"not: EPERM", fd, FAR, FAR_PORT + 4, BLOCKED(EPERM, TL_REASON_BYPASS));
	if (!step("SO_MARK", set_mark(fd, 0)))
		goto out;
	kept_for(&k, fd, FAR, FAR_PORT + 5, tag);
	k.reason = TL_REASON_BYPASS;
	if (!step("plant", kept_plant(fd, TL_KEPT_CGROUP_SKB, &k)))
		goto out;
	send_on("packet kept: a leak reason kept is no allow: EPERM", fd, FAR,
		FAR_PORT + 5, BLOCKED(EPERM, TL_REASON_BYPASS));
	send_on("packet kept: allowed again", fd, FAR, FAR_PORT,
		ALLOWED(TL_ALLOW_LISTED));
	err = kept_moves_to(fd, FAR, FAR_PORT2);
	report(!err, "packet kept: another allowed port, again and again: kept "
	       "instead within 5 s", "%s", strerror(err));
	/* twice: the kept allow's slot is live again, with other tables */
	if (!step("policy", apply("locked")) || !step("policy", apply("locked")))
		goto out;
	send_on("packet kept: policy reloaded twice without the rule (its "
		"slot again): EPERM", fd, FAR, FAR_PORT,
		BLOCKED(EPERM, TL_REASON_BYPASS));
out:
	judged_layer = TL_LAYER_SOCKET;
	step("policy", apply("locked"));
	close(fd);
}

/*
 * TCP: a socket's SYN is its first segment. Bound first, so that its port
 * is known before connect() (kept_for), and non-blocking: connect() returns
 * once the SYN has left (EINPROGRESS), whatever a packet layer made of it;
 * the counters tell. Nothing answers beyond the veth, so the SYN is sent
 * again after a second: judge_segments() counts every SYN of the socket.
 */
static int tcp_bound(void)
{
	struct sockaddr_in a = {.sin_family = AF_INET};
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a))) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The SYN of fd to ip:port, with data (TCP Fast Open) when len > 0: 0 once
 * it left, or an errno. */
static int tcp_syn(int fd, const char *ip, uint16_t port, const void *data,
		   size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sockaddr_of(&ss, ip, port);
	int err = 0;

	if (fd < 0)
		return EBADF;
	if (len ? sendto(fd, data, len, MSG_FASTOPEN, (struct sockaddr *)&ss,
			 sl) < 0
		: connect(fd, (struct sockaddr *)&ss, sl) != 0)
		err = errno;
	return err == EINPROGRESS ? 0 : err;
}

/* As judge(), for a TCP socket's segments: at least one counted, each as
 * reason/verdict (a SYN sent again counts again). */
static void judge_segments(const char *name, int err, __u32 reason,
			   __u32 verdict)
{
	__u64 after = 0, all = layer_counters(judged_layer), moved;

	read_counter(judged_layer, reason, verdict, &after);
	moved = after - before[reason][verdict];
	if (err)
		report(false, name, "the SYN did not leave: %s", strerror(err));
	else if (!moved || all - before_all != moved)
		report(false, name,
		       "counter %s/%s moved by %llu (the layer's by %llu), "
		       "want all of at least 1",
		       tl_reason_name(reason), tl_verdict_name(verdict),
		       (unsigned long long)moved,
		       (unsigned long long)(all - before_all));
	else
		report(true, name, NULL);
}

/* A new TCP socket's SYN to ip:port (with data when len > 0), judged at
 * the layer under test; first, when plant_port is set, layer's allow kept
 * for plant_port planted in its storage (of protocol when it is set, else
 * of the socket's). */
static void syn_judged(const char *name, enum tl_kept_layer layer,
		       uint16_t plant_port, int protocol, const char *ip,
		       uint16_t port, const void *data, size_t len,
		       __u32 reason, __u32 verdict)
{
	struct tl_kept_allow k;
	int fd = tcp_bound();
	__u32 tag;

	if (fd < 0) {
		report(false, name, "no TCP socket: %s", strerror(errno));
		return;
	}
	if (!step("tag", live_tag(&tag)))
		goto out;
	if (plant_port) {
		kept_for(&k, fd, ip, plant_port, tag);
		if (protocol)
			k.key.protocol = protocol;
		if (!step("plant", kept_plant(fd, layer, &k)))
			goto out;
	}
	begin();
	judge_segments(name, tcp_syn(fd, ip, port, data, len), reason, verdict);
out:
	close(fd);
}

/* net.ipv4.tcp_fastopen of this namespace set to value (5: data on a SYN
 * without a cookie); what it was in *old when old is set. */
static int tcp_fastopen(int value, int *old)
{
	FILE *f = fopen("/proc/sys/net/ipv4/tcp_fastopen", "r+");
	int err = 0;

	if (!f)
		return -errno;
	if (old && fscanf(f, "%d", old) != 1)
		err = -EIO;
	if (!err && (fseek(f, 0, SEEK_SET) || fprintf(f, "%d\n", value) < 0))
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	return err;
}

/*
 * Profile listed, tunnel up: FAR_TCP_PORT of FAR_TCP is allow-listed (TCP),
 * routed out of VETH. cgroup_skb keeps a TCP socket's allow as it keeps a
 * UDP socket's: what it keeps, that it trusts it, and that it still looks
 * at the stream for STUN. What it keeps, and the allow kept for another
 * port, fail when TCP segments are not kept (each judged whole; the case
 * after them shows that port refused with nothing kept); the last two fail
 * when a kept allow lets past what it was not judged for.
 */
static void cases_packet_kept_tcp(void)
{
	int fd = tcp_bound(), fastopen = 0;

	judged_layer = TL_LAYER_CGROUP_SKB;
	if (!step("policy", apply("listed")) ||
	    !step("TCP socket", fd < 0 ? -errno : 0))
		goto out;
	begin();
	judge_segments("packet kept, TCP: a SYN to an allow-listed port out of "
		       "the veth: allowed",
		       tcp_syn(fd, FAR_TCP, FAR_TCP_PORT, NULL, 0),
		       TL_ALLOW_LISTED, TL_VERDICT_PASS);
	check_kept("packet kept, TCP: cgroup_skb keeps it, protocol TCP, with "
		   "the live tag",
		   fd, TL_KEPT_CGROUP_SKB, FAR_TCP, FAR_TCP_PORT);
	syn_judged("packet kept, TCP: an allow kept for another port is "
		   "trusted: allowed",
		   TL_KEPT_CGROUP_SKB, FAR_TCP_PORT + 1, 0, FAR_TCP,
		   FAR_TCP_PORT + 1, NULL, 0, TL_ALLOW_LISTED, TL_VERDICT_PASS);
	syn_judged("packet kept, TCP: that port with nothing kept: EPERM",
		   TL_KEPT_CGROUP_SKB, 0, 0, FAR_TCP, FAR_TCP_PORT + 1, NULL, 0,
		   TL_REASON_BYPASS, TL_VERDICT_BLOCKED);
	syn_judged("packet kept, TCP: an allow kept for UDP is not TCP's: "
		   "EPERM",
		   TL_KEPT_CGROUP_SKB, FAR_TCP_PORT + 2, IPPROTO_UDP, FAR_TCP,
		   FAR_TCP_PORT + 2, NULL, 0, TL_REASON_BYPASS,
		   TL_VERDICT_BLOCKED);
	if (!step("tcp_fastopen", tcp_fastopen(5, &fastopen)))
		goto out;
	syn_judged("packet kept, TCP: a STUN request on the SYN (Fast Open) of "
		   "a kept stream: EPERM",
		   TL_KEPT_CGROUP_SKB, FAR_TCP_PORT, 0, FAR_TCP, FAR_TCP_PORT,
		   stun_binding, sizeof(stun_binding), TL_REASON_STUN,
		   TL_VERDICT_BLOCKED);
	step("tcp_fastopen", tcp_fastopen(fastopen, NULL));
out:
	judged_layer = TL_LAYER_SOCKET;
	step("policy", apply("locked"));
	if (fd >= 0)
		close(fd);
}

/* The packet layer at cgroup_skb taken away (the last cases only). */
static int detach_cgroup_skb(void)
{
	char path[PATH_MAX];
	int fd, err = 0;

	if (tl_pin_path(path, sizeof(path), pin_dir,
			"link_tl_cgroup_skb_egress"))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return -errno;
	if (bpf_link_detach(fd))
		err = -errno;
	close(fd);
	return err;
}

/*
 * TC egress on VETH, profile listed, tunnel up. TC keeps its own allow;
 * then, with cgroup_skb gone, TC alone must still look at every payload
 * for STUN and judge another port, and trusts what it kept. The drops are
 * TC's: the call itself succeeds.
 */
static void cases_packet_kept_tc(void)
{
	struct tl_kept_allow k;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	__u32 tag;

	/* TC sees the datagrams only once the gateway's address resolves */
	if (!step("neighbour", system("ip neigh replace 10.213.0.1 lladdr "
				      "$(ip -br link show dev tlv1 | "
				      "awk '{print $3}') "
				      "dev " VETH " nud permanent")) ||
	    !step("TC", tl_bpf_attach_tc(&bpf, if_nametoindex(VETH), false)) ||
	    !step("policy", apply("listed")))
		goto out;
	judged_layer = TL_LAYER_TC;
	send_on("packet kept, TC: allow-listed out of the veth: allowed", fd,
		FAR, FAR_PORT, ALLOWED(TL_ALLOW_LISTED));
	check_kept("packet kept, TC: keeps its own with the live tag", fd,
		   TL_KEPT_TC, FAR, FAR_PORT);
	if (!step("cgroup_skb detached", detach_cgroup_skb()))
		goto out;
	send_on("packet kept, TC alone: the same again: allowed", fd, FAR,
		FAR_PORT, ALLOWED(TL_ALLOW_LISTED));
	send_msg_on("packet kept, TC alone: a STUN request to it: dropped", fd,
		    FAR, FAR_PORT, stun_binding, sizeof(stun_binding), 0,
		    TL_REASON_STUN, TL_VERDICT_BLOCKED);
	send_on("packet kept, TC alone: a datagram after it: allowed", fd,
		FAR, FAR_PORT, ALLOWED(TL_ALLOW_LISTED));
	send_on("packet kept, TC alone: another port: dropped", fd, FAR,
		FAR_PORT + 1, 0, TL_REASON_BYPASS, TL_VERDICT_BLOCKED);
	if (!step("tag", live_tag(&tag)))
		goto out;
	kept_for(&k, fd, FAR, FAR_PORT + 2, tag);
	if (!step("plant", kept_plant(fd, TL_KEPT_TC, &k)))
		goto out;
	send_on("packet kept, TC alone: an allow kept for another port is "
		"trusted: allowed", fd, FAR, FAR_PORT + 2,
		ALLOWED(TL_ALLOW_LISTED));
	kept_for(&k, fd, FAR, FAR_PORT + 3, tag);
	if (!step("plant", kept_plant(fd, TL_KEPT_CGROUP_SKB, &k)))
		goto out;
	send_on("packet kept, TC alone: cgroup_skb's is not TC's: dropped",
		fd, FAR, FAR_PORT + 3, 0, TL_REASON_BYPASS,
		TL_VERDICT_BLOCKED);
	syn_judged("packet kept, TC alone: an allow kept for another TCP port "
		   "is trusted: allowed",
		   TL_KEPT_TC, FAR_TCP_PORT + 1, 0, FAR_TCP, FAR_TCP_PORT + 1,
		   NULL, 0, TL_ALLOW_LISTED, TL_VERDICT_PASS);
	syn_judged("packet kept, TC alone: that TCP port with nothing kept: "
		   "dropped",
		   TL_KEPT_TC, 0, 0, FAR_TCP, FAR_TCP_PORT + 1, NULL, 0,
		   TL_REASON_BYPASS, TL_VERDICT_BLOCKED);
out:
	judged_layer = TL_LAYER_SOCKET;
	tl_bpf_detach_tc(if_nametoindex(VETH));
	close(fd);
}

/* A child cgroup named leaf (not made yet): its path and directory, and a
 * policy whose rules give it the raw profile, as YAML and parsed. */
struct late_cgroup {
	char rel[sizeof(cg_rel) + 8], dir[sizeof(cg_dir) + 8], yaml[2048];
	struct tl_policy p;
};

static int late_cgroup(struct late_cgroup *l, const char *leaf)
{
	size_t n;

	snprintf(l->rel, sizeof(l->rel), "%s/%s", cg_rel, leaf);
	snprintf(l->dir, sizeof(l->dir), "%s/%s", cg_dir, leaf);
	n = snprintf(l->yaml, sizeof(l->yaml), policy_fmt, cg_rel, cg_rel,
		     "locked", cg_rel);
	snprintf(l->yaml + n, sizeof(l->yaml) - n,
		 "  - {path: %s, profile: raw}\n", l->rel);
	return tl_policy_parse("bpf-test", l->yaml, strlen(l->yaml), &l->p,
			       stderr);
}

/*
 * A cgroup that a rule names appears under the running policy: cgwatch
 * writes its entry into the live table (tl_apply_cgroup). Its processes
 * resolved to the parent's entry before, and tl_subjects cached that: the
 * write must invalidate it (tl_generation), or the new cgroup keeps the
 * parent's profile (here: raw sockets refused where its own allows them).
 */
static void case_cgroup_appears(void)
{
	struct late_cgroup l;
	uint64_t id;
	int r;

	if (late_cgroup(&l, "late")) {
		report(false, "cgroup appears", "policy does not parse");
		return;
	}
	if (!step("policy", apply_yaml(l.yaml)) || mkdir(l.dir, 0755) ||
	    enter_cgroup(l.dir)) {
		report(false, "cgroup appears", "cannot make or enter %s",
		       l.dir);
		goto out;
	}
	judge_raw("raw socket, new cgroup not written yet: its parent's profile",
		  AF_INET, false);
	r = tl_cgroup_id(cg_mount, l.rel, &id);
	if (!r)
		r = tl_apply_cgroup(&bpf, &l.p, l.rel, id);
	if (r != 1) {
		report(false, "cgroup appears", "tl_apply_cgroup: %d", r);
		goto out;
	}
	judge_raw("raw socket, new cgroup written: its own profile, not the "
		  "cached parent's", AF_INET, true);
out:
	enter_cgroup(cg_dir);
	rmdir(l.dir);
	tl_policy_free(&l.p);
}

/*
 * After cases_raw(true): the cgroup's entry (raw) is cached with the live
 * slot. Two switches without a call in between bring a policy that
 * refuses raw sockets into that same slot: the switch must invalidate the
 * cached entry (tl_generation), or the old profile's allowance outlives it.
 */
static void case_switch_same_slot(void)
{
	if (!step("policy", apply("locked")) || !step("policy", apply("v6block")))
		return;
	judge_raw("raw socket, policy switched twice: the new profile, not the "
		  "cached one of the old policy in the same slot", AF_INET, false);
}

/* ---- the cgroup table at apply ------------------------------------ */

static const char *const tree_dirs[] = {"/t1",	   "/t1/t2", "/t1/t2/t3",
					"/t1/ex", "/t1/ex/in", "/t1x"};
#define TREE_DIRS (sizeof(tree_dirs) / sizeof(tree_dirs[0]))

static const char *const tree_fmt =
    "attach_cgroup: %1$s\n"
    "tunnels:\n"
    "  - name: lab\n"
    "    interface: wg*\n"
    "    endpoints:\n"
    "      - {address: 198.51.100.2, port: 51820, protocol: udp}\n"
    "    client: {cgroup: %1$s/t1/t2}\n"
    "  - name: lab2\n"
    "    interface: tun9*\n"
    "    endpoints:\n"
    "      - {address: 198.51.100.3, port: 51820, protocol: udp}\n"
    "    client: {cgroup: %1$s/t1x}\n"
    "profiles:\n"
    "  - name: locked\n"
    "  - name: lan\n"
    "    lan: allow\n"
    "  - name: v6block\n"
    "    ipv6: block\n"
    "  - name: raw\n"
    "    raw_sockets: allow\n"
    "cgroups:\n"
    "  - {path: %1$s, profile: lan}\n"
    "  - {path: %1$s/t1, profile: raw}\n"
    "  - {path: %1$s/t1/t2/t3, profile: v6block}\n"
    "  - {path: %1$s/t1/ex, exempt: true}\n"
    "  - {path: %1$s/t1/ex/in, profile: lan}\n";

static int profile_id(const struct tl_policy *p, const char *name)
{
	for (size_t i = 0; i < p->nprofiles; i++)
		if (!strcmp(p->profiles[i].name, name))
			return (int)i;
	return -1;
}

/* The live table's entry of the cgroup at rel. */
static int table_entry(const char *rel, struct tl_cgroup_entry *e)
{
	struct tl_state st;
	__u32 zero = 0, id;
	uint64_t cg;
	int fd, err;

	if (tl_cgroup_id(cg_mount, rel, &cg) ||
	    bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, TL_MAP_STATE), &zero,
				&st) ||
	    bpf_map_lookup_elem(tl_bpf_map_fd(&bpf, TL_MAP_CGROUPS),
				&st.active_slot, &id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	err = bpf_map_lookup_elem(fd, &cg, e) ? -errno : 0;
	close(fd);
	return err;
}

/*
 * At apply, every cgroup that a rule or a VPN client names gets the entry
 * of its nearest configured ancestors, found by path, and the same entry
 * as tl_cgroup_entry_for gives one that appears later (cgwatch): t1x is
 * not under t1, a client's tunnels reach its descendants, an exempt rule
 * keeps the profile above it, and a rule under it is not exempt.
 */
static void case_cgroup_tree(void)
{
	struct {
		const char *profile;
		__u16 flags;
		__u32 client_of;
	} want[TREE_DIRS] = {
	    {"raw", 0, 0},		   {"raw", 0, 1}, {"v6block", 0, 1},
	    {"raw", TL_CGROUP_EXEMPT, 0}, {"lan", 0, 0},
	    {"lan", 0, 2}, /* the attach cgroup's: not under t1 */
	};
	char rel[TREE_DIRS][sizeof(cg_rel) + 16], dir[sizeof(cg_dir) + 16];
	char yaml[4096], name[160];
	struct tl_cgroup_entry got, then;
	size_t made = 0;
	struct tl_policy p;

	snprintf(yaml, sizeof(yaml), tree_fmt, cg_rel);
	if (tl_policy_parse("bpf-test", yaml, strlen(yaml), &p, stderr)) {
		report(false, "cgroup tree", "policy does not parse");
		return;
	}
	for (; made < TREE_DIRS; made++) {
		snprintf(rel[made], sizeof(rel[made]), "%s%s", cg_rel,
			 tree_dirs[made]);
		snprintf(dir, sizeof(dir), "%s%s", cg_mount, rel[made]);
		if (mkdir(dir, 0755))
			break;
	}
	if (made < TREE_DIRS || !step("policy", apply_yaml(yaml))) {
		report(false, "cgroup tree", "cannot make %s", dir);
		goto out;
	}
	for (size_t i = 0; i < TREE_DIRS; i++) {
		snprintf(name, sizeof(name),
			 "apply: cgroup %s gets its nearest ancestors' entry",
			 tree_dirs[i]);
		if (table_entry(rel[i], &got) ||
		    tl_cgroup_entry_for(&p, rel[i], &then) < 0) {
			report(false, name, "no entry");
			continue;
		}
		report(got.profile == profile_id(&p, want[i].profile) &&
			   got.flags == want[i].flags &&
			   got.client_of == want[i].client_of &&
			   !memcmp(&got, &then, sizeof(got)),
		       name,
		       "profile %u flags %u client_of %u; a cgroup appearing "
		       "later: %u %u %u",
		       got.profile, got.flags, got.client_of, then.profile,
		       then.flags, then.client_of);
	}
out:
	while (made--) {
		snprintf(dir, sizeof(dir), "%s%s", cg_mount, rel[made]);
		rmdir(dir);
	}
	tl_policy_free(&p);
}

/*
 * A cgroup that a rule names, made while a reload applies: after the full
 * build looked, before the watch is reset. Its creation is an event queued
 * on the watch that was there; the reset keeps it (same attach cgroup),
 * so handled, it gets the new policy's entry. Watched afresh instead, the
 * event was lost and the cgroup judged by its parent's profile until the
 * next reload.
 */
static void case_cgroup_during_reload(void)
{
	struct tl_cgwatch w = {.fd = -1};
	struct tl_cgroup_entry e = {};
	struct late_cgroup l;
	int found;

	if (late_cgroup(&l, "mid")) {
		report(false, "cgroup made during a reload", "policy");
		return;
	}
	if (!step("policy", apply_yaml(l.yaml)) ||
	    tl_cgwatch_open(&w, &bpf, &l.p, cg_mount)) {
		report(false, "cgroup made during a reload", "setup");
		goto out;
	}
	/* the reload: the full build, a cgroup made, then the reset */
	if (!step("policy", apply_yaml(l.yaml)) || mkdir(l.dir, 0755)) {
		report(false, "cgroup made during a reload", "mkdir %s", l.dir);
		goto out;
	}
	tl_cgwatch_reset(&w, &l.p);
	tl_cgwatch_handle(&w);
	found = !table_entry(l.rel, &e);
	report(found && e.profile == (__u32)profile_id(&l.p, "raw"),
	       "cgroup made during a reload: its own entry once handled",
	       "entry %s, profile %u", found ? "found" : "missing", e.profile);
	if (enter_cgroup(l.dir))
		report(false, "cgroup made during a reload", "cannot enter");
	else
		judge_raw("raw socket in a cgroup made during a reload: its own "
			  "profile", AF_INET, true);
	enter_cgroup(cg_dir);
out:
	tl_cgwatch_close(&w);
	rmdir(l.dir);
	tl_policy_free(&l.p);
}

/* The veth tlc0 as the agent's link tracking reads it (rtnetlink). */
static int find_tlc0(void *ctx, struct nlmsghdr *h)
{
	struct tl_nl_link *out = ctx, la;

	if (h->nlmsg_type == RTM_NEWLINK && !tl_nl_parse_link(h, &la) &&
	    !strcmp(la.name, "tlc0"))
		*out = la;
	return 0;
}

/*
 * A container's veth made from the host with its far end in the
 * container's namespace (`ip link add ... peer ... netns`, as a runtime
 * may): that namespace numbers ours only once one of its links is
 * reported to someone. The first scan must pair the veth all the same: it
 * read it as a link into an unknown namespace (a way out), and kept that
 * until the next veth change on the host.
 */
static void case_container_first_scan(void)
{
	const char *name = "container: a new veth into a namespace is paired "
			   "on the first scan";
	struct tl_nl_link veth = {};
	struct tl_ctr_port port;
	struct tl_containers c;
	struct tl_nl nl;
	char cmd[256];

	snprintf(ctr_ns, sizeof(ctr_ns), "tunlock-stest-ctr-%d", getpid());
	snprintf(cmd, sizeof(cmd),
		 "ip netns add %s && ip link add tlc0 type veth peer name "
		 "eth0 netns %s",
		 ctr_ns, ctr_ns);
	if (system(cmd) || tl_nl_open(&nl, 0, 0)) {
		report(false, name, "cannot make the container's veth");
		return;
	}
	tl_nl_dump(&nl, RTM_GETLINK, find_tlc0, &veth);
	tl_nl_close(&nl);
	if (!veth.link || veth.link_nsid < 0) {
		report(false, name, "tlc0 has no peer in another namespace");
		return;
	}
	/* the case itself: the far side has no number for ours yet
	 * (`netns list-id` reads the numbers without making one) */
	snprintf(cmd, sizeof(cmd), "ip -n %s netns list-id | grep -q .",
		 ctr_ns);
	if (!system(cmd)) {
		report(false, name, "%s already numbers this namespace: the "
		       "case is not made", ctr_ns);
		return;
	}
	if (tl_containers_open(&c, &bpf, cg_mount)) {
		report(false, name, "tl_containers_open failed");
		return;
	}
	tl_containers_scan(&c);
	tl_containers_classify(&c, veth.ifindex, 0, veth.link_nsid, veth.link,
			       &port);
	report(port.known && port.verified, name, "known %d, verified %d",
	       port.known, port.verified);
	tl_containers_close(&c);
	if (system("ip link del tlc0"))
		report(false, name, "cannot remove tlc0");
}

/*
 * A routing header names the hops itself (IPV6_RTHDR needs no privilege):
 * a datagram whose header goes to a LAN address, with a segment left to
 * an address outside, is refused by the packet layer; the socket layer
 * saw, and allowed with the tunnel up, only its last hop. A LAN router
 * that takes routing headers would carry it on outside the tunnel.
 */
static void cases_routed(void)
{
	/* a segment routing header: segments[0] is the last hop (the
	 * socket's destination), segments[1] the first, one left after it */
	uint8_t srh[40] = {0, 4, 4, 1, 1};
	int fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool added = false;

	judged_layer = TL_LAYER_CGROUP_SKB;
	if (!step("socket", fd < 0 ? -errno : 0) ||
	    !step("policy", apply("lan")))
		goto out;
	added = step("address", system("ip addr replace " LAN6 "/64 dev " VETH
				       " nodad"));
	if (!added)
		goto out;
	inet_pton(AF_INET6, OUTSIDE6, srh + 8);
	inet_pton(AF_INET6, LAN6_HOP, srh + 24);
	send_on("routed: a datagram to a LAN address: allowed", fd, LAN6_HOP, 9,
		ALLOWED(TL_ALLOW_LAN));
	if (!step("IPV6_RTHDR", setsockopt(fd, IPPROTO_IPV6, IPV6_RTHDR, srh,
					   sizeof(srh)) ? -errno : 0))
		goto out;
	send_on("routed: through a LAN address to one outside (a routing "
		"header): EPERM",
		fd, OUTSIDE6, 9, BLOCKED(EPERM, TL_REASON_BYPASS));
out:
	judged_layer = TL_LAYER_SOCKET;
	if (fd >= 0)
		close(fd);
	/* gone now, not while TC counts what leaves the veth: leaving its
	 * multicast groups sends MLD reports */
	if (added)
		step("address", system("ip addr del " LAN6 "/64 dev " VETH));
}

static void run_cases(void)
{
	if (!step("policy", apply("locked")) ||
	    !step("tunnel", tunnel(false, false)))
		return;
	cases_tunnel_down();
	cases_raw(false);
	cases_exempt();
	if (!step("tunnel", tunnel(true, false)))
		return;
	cases_tunnel_up();
	cases_kept_same_socket();
	cases_kept_refusal();
	cases_kept_caller_and_policy();
	if (!step("tunnel", tunnel(true, false)))
		return;
	cases_packet_kept();
	cases_packet_kept_tcp();
	if (!step("tunnel", tunnel(true, true)))
		return;
	cases_ipv6(false);
	cases_routed();
	if (!step("policy", apply("v6block")))
		return;
	cases_ipv6(true);
	cases_kept_mapped();
	if (!step("policy", apply("redirect")))
		return;
	case_redirect_unconnected();
	case_redirect_connected(SERVER_A, '4');
	case_redirect_connected("::ffff:" SERVER_B, '6');
	case_redirect_mapped();
	if (!step("policy", apply("raw")))
		return;
	cases_raw(true);
	case_switch_same_slot();
	case_cgroup_appears();
	case_cgroup_tree();
	case_cgroup_during_reload();
	case_container_first_scan();
	if (!step("tunnel", tunnel(true, false)))
		return;
	cases_packet_kept_tc(); /* last: it takes cgroup_skb away */
}

int main(void)
{
	sigset_t sigs;

	if (geteuid()) {
		printf("SKIP: socket tests: need root\n0 passed, 0 failed, 1 "
		       "skipped\n");
		return 0;
	}
	libbpf_set_print(test_libbpf_print);
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/tunlock-stest-%d",
		 getpid());
	/* a signal waits until the cgroups and pins are gone (every wait of
	 * the cases is bounded) */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	sigprocmask(SIG_BLOCK, &sigs, NULL);
	if (make_netns() || make_cgroups() ||
	    (responder_a = udp_bound(RESOLVER_A, 53)) < 0 ||
	    (responder_b = udp_bound(RESOLVER_B, 53)) < 0 ||
	    tl_bpf_load(&bpf, pin_dir) ||
	    tl_record_netns(tl_bpf_map_fd(&bpf, TL_MAP_STATE)) ||
	    tl_bpf_attach_cgroup(&bpf, cg_dir) || enter_cgroup(cg_dir))
		report(false, "socket test setup", "%s", strerror(errno));
	else
		run_cases();
	cleanup();
	printf("%d passed, %d failed\n", passed, failed);
	fflush(stdout);
	sigprocmask(SIG_UNBLOCK, &sigs, NULL);
	return failed ? 1 : 0;
}
