// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "tunlock.h"
#include "apply.h"
#include "json.h"
#include "names.h"
#include "netns.h"
#include "kfeatures.h"
#include "pins.h"
#include "policy.h"
#include "status.h"

unsigned int tl_kernel_features(void)
{
	unsigned int f = tl_kernel_has_bpf_lsm() ? TL_FEATURE_BPF_LSM : 0;

	if (libbpf_probe_bpf_helper(BPF_PROG_TYPE_CGROUP_SOCK_ADDR,
				    BPF_FUNC_set_retval, NULL) > 0)
		f |= TL_FEATURE_SET_RETVAL;
	if (tl_kernel_has_route_proof())
		f |= TL_FEATURE_ROUTE_PROOF;
	if (tl_kernel_has_skb_netns())
		f |= TL_FEATURE_SKB_NETNS;
	return f;
}

/*
 * What is in place, for coverage: each layer counts when every link of it
 * is attached (not merely pinned), TC when every interface that is not a
 * tunnel or loopback has tunlock's egress filter.
 */
enum {
	CV_SOCK = 1 << 0,    /* connect4/6, sendmsg4/6 */
	CV_RESTORE = 1 << 1, /* recvmsg4/6, getpeername4/6 (DNS answers) */
	CV_CREATE = 1 << 2,  /* sock_create: raw IP sockets */
	CV_SKB = 1 << 3,     /* cgroup_skb egress */
	CV_TC = 1 << 4,	     /* TC egress on every interface but tunnels */
	CV_AGENT = 1 << 5,   /* an agent follows interfaces and tunnels */
	CV_LSM = 1 << 6,     /* BPF LSM socket_create */
};
/* the layers that stop a leak by themselves */
#define CV_ENFORCING (CV_SOCK | CV_CREATE | CV_SKB | CV_TC | CV_LSM)

struct coverage {
	const char *leak;
	const char *level;
	unsigned int missing; /* CV_* the class needs and lacks */
	char why[512];
};

/* Each leak class (the event reasons), the layers that judge it, and what
 * full coverage means. */
static const struct cov_class {
	const char *leak;
	unsigned int needs;
	const char *full;
} cov_classes[] = {
	{ "tunnel_down", CV_SOCK | CV_SKB | CV_TC,
	  "socket calls fail at once; packet layers drop what is left" },
	{ "bypass", CV_SOCK | CV_SKB | CV_TC | CV_AGENT,
	  "cgroup_skb and TC judge the real egress interface; the agent "
	  "guards interfaces as they appear" },
	{ "endpoint", CV_SOCK | CV_SKB | CV_TC,
	  "only the VPN client's cgroup or fwmark reaches the endpoint" },
	{ "dns", CV_SOCK | CV_RESTORE | CV_SKB | CV_TC,
	  "queries to any resolver but the tunnel's are blocked or "
	  "redirected at connect and sendmsg (answers and peer restored); "
	  "packet layers drop DNS outside the tunnel, LAN included; DNS over "
	  "HTTPS is HTTPS to the network" },
	{ "ipv6", CV_SOCK | CV_SKB | CV_TC,
	  "IPv6 leaves only through a tunnel with IPv6; calls fail at once "
	  "with ENETUNREACH (Happy Eyeballs falls back to IPv4)" },
	{ "stun", CV_SKB | CV_TC,
	  "STUN and TURN ChannelData on any port are dropped outside the "
	  "tunnel, also to the LAN; browsers' host candidates are the "
	  "browser's own (mDNS setting)" },
	{ "inbound", CV_TC | CV_AGENT,
	  "TC ingress on every guarded interface drops what arrives there "
	  "addressed to a tunnel's address; the agent keeps the addresses" },
	{ "raw_socket", CV_CREATE | CV_SKB | CV_TC | CV_LSM,
	  "BPF LSM denies raw, packet and XDP socket creation to protected "
	  "cgroups whose profile does not allow them; the packet layers drop "
	  "raw IP and AF_PACKET without qdisc bypass as well" },
};

static void why_add(char *why, size_t len, const char *fmt, const char *arg)
{
	size_t n = strlen(why);

	if (n && n + 2 < len) {
		memcpy(why + n, "; ", 3);
		n += 2;
	}
	if (n < len)
		snprintf(why + n, len - n, fmt, arg);
}

/* What is lost without each layer; %s: the interfaces without TC, or why
 * the LSM layer is missing. */
static const struct {
	unsigned int bit;
	const char *fmt;
} cov_losses[] = {
	{ CV_SOCK, "connect/sendmsg links not attached: calls are not "
		   "refused at once" },
	{ CV_RESTORE, "recvmsg/getpeername links not attached: answers of "
		      "redirected queries read as the tunnel resolver's, and "
		      "clients drop them" },
	{ CV_CREATE, "sock_create link not attached: raw IP sockets are not "
		     "refused" },
	{ CV_SKB, "cgroup_skb link not attached: local traffic is judged "
		  "only by TC" },
	{ CV_TC, "no TC egress filter on %s: what leaves there is not judged "
		 "by TC" },
	{ CV_AGENT, "agent not running: an interface that appears gets no TC "
		    "filter" },
	{ CV_LSM, "%s: AF_PACKET with PACKET_QDISC_BYPASS and AF_XDP sockets "
		  "are created (the packet layers drop AF_PACKET without qdisc "
		  "bypass; raw IP sockets are sock_create's)" },
};

/* What a class loses, all layers in place, on a kernel without a feature. */
static const struct {
	const char *leak;
	unsigned int feature;
	const char *why;
} cov_kernel[] = {
	{ "ipv6", TL_FEATURE_SET_RETVAL,
	  "kernel without bpf_set_retval: calls fail with EPERM, which some "
	  "clients do not fall back from" },
	{ "endpoint", TL_FEATURE_ROUTE_PROOF,
	  "kernel without bpf_cast_to_kern_ctx: the fwmark (and a container "
	  "stamp) counts also on what another namespace sends through a "
	  "macvlan, ipvlan or VLAN device on a NIC" },
	{ "bypass", TL_FEATURE_SKB_NETNS,
	  "kernel without bpf_get_netns_cookie for cgroup_skb: a socket's "
	  "namespace is the one sock_create saw; sockets made before tunlock "
	  "attached count as the agent's namespace" },
};

/*
 * How far what is attached covers each leak class: full when every layer
 * that judges it is in place, none when no layer that stops it is, else
 * partial, saying what is missing.
 */
static int coverage(unsigned int features, unsigned int present,
		    const char *unguarded, struct coverage *c)
{
	const char *lsm = features & TL_FEATURE_BPF_LSM ?
				  "the LSM layer is not attached" :
				  "kernel without BPF LSM";
	int n = 0;

	for (size_t i = 0; i < sizeof(cov_classes) / sizeof(cov_classes[0]);
	     i++) {
		const struct cov_class *k = &cov_classes[i];
		unsigned int missing = k->needs & ~present;
		struct coverage *cv = &c[n++];

		cv->leak = k->leak;
		cv->missing = missing;
		cv->why[0] = '\0';
		if (!(k->needs & present & CV_ENFORCING))
			cv->level = "none";
		else
			cv->level = missing ? "partial" : "full";
		for (size_t l = 0; l < sizeof(cov_losses) / sizeof(cov_losses[0]);
		     l++)
			if (missing & cov_losses[l].bit)
				why_add(cv->why, sizeof(cv->why),
					cov_losses[l].fmt,
					cov_losses[l].bit == CV_TC ? unguarded :
								     lsm);
		for (size_t l = 0; l < sizeof(cov_kernel) / sizeof(cov_kernel[0]);
		     l++) {
			if (strcmp(k->leak, cov_kernel[l].leak) ||
			    (features & cov_kernel[l].feature))
				continue;
			if (!missing)
				cv->level = "partial";
			why_add(cv->why, sizeof(cv->why), "%s",
				cov_kernel[l].why);
		}
		if (!cv->why[0])
			snprintf(cv->why, sizeof(cv->why), "%s", k->full);
	}
	return n;
}

struct snapshot {
	struct tl_state state;
	struct tl_settings settings;
	struct tl_tunnel_state tunnels[TL_MAX_TUNNELS];
	__u64 counters[TL_COUNTERS];
	__u32 ifindex[TL_MAX_IFACES];
	struct tl_iface ifaces[TL_MAX_IFACES];
	size_t nifaces;
	bool links[16]; /* pinned, and attached */
	bool lsm_link;
	bool agent_running;
	uint32_t cgroups_used, cgroups_max; /* the live cgroup table */
	unsigned int present; /* CV_* */
	char unguarded[256];  /* interfaces without our TC filter */
};

static void read_cgroup_table(const char *pin_dir, struct snapshot *s)
{
	int sfd = tl_pins_open_map(pin_dir, TL_MAP_STATE);
	int cfd = tl_pins_open_map(pin_dir, TL_MAP_CGROUPS);

	if (sfd >= 0 && cfd >= 0)
		tl_cgroup_table_use(sfd, cfd, &s->cgroups_used,
				    &s->cgroups_max);
	if (sfd >= 0)
		close(sfd);
	if (cfd >= 0)
		close(cfd);
}

static int read_counters(const char *pin_dir, __u64 *sum)
{
	int fd = tl_pins_open_map(pin_dir, TL_MAP_COUNTERS);

	if (fd < 0)
		return fd;
	for (__u32 i = 0; i < TL_COUNTERS; i++)
		if (tl_counter_read(fd, i, &sum[i]))
			sum[i] = 0;
	close(fd);
	return 0;
}

static void read_ifaces(const char *pin_dir, struct snapshot *s)
{
	int fd = tl_pins_open_map(pin_dir, TL_MAP_IFACES);
	__u32 key, next, *prev = NULL;

	if (fd < 0)
		return;
	while (s->nifaces < TL_MAX_IFACES &&
	       !bpf_map_get_next_key(fd, prev, &next)) {
		if (!bpf_map_lookup_elem(fd, &next, &s->ifaces[s->nifaces]))
			s->ifindex[s->nifaces++] = next;
		key = next;
		prev = &key;
	}
	close(fd);
}

static int lookup_pinned(const char *pin_dir, enum tl_map_id id, __u32 key,
			 void *val)
{
	int fd = tl_pins_open_map(pin_dir, id), err;

	if (fd < 0)
		return fd;
	err = bpf_map_lookup_elem(fd, &key, val) ? -errno : 0;
	close(fd);
	return err;
}

/* The pinned link of prog is attached (a detached link keeps its pin). */
static bool link_attached(const char *pin_dir, const char *prog)
{
	char path[PATH_MAX], name[64];
	struct bpf_link_info info;
	__u32 len = sizeof(info);
	bool ok;
	int fd;

	snprintf(name, sizeof(name), "link_%s", prog);
	if (tl_pin_path(path, sizeof(path), pin_dir, name))
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	memset(&info, 0, sizeof(info));
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.prog_id &&
	     (info.type != BPF_LINK_TYPE_CGROUP || info.cgroup.cgroup_id);
	close(fd);
	return ok;
}

/* The coverage layer a cgroup program belongs to. */
static unsigned int prog_layer(const char *prog)
{
	if (!strncmp(prog, "tl_recvmsg", 10) ||
	    !strncmp(prog, "tl_getpeername", 14))
		return CV_RESTORE;
	if (!strncmp(prog, "tl_connect", 10) || !strncmp(prog, "tl_sendmsg", 10))
		return CV_SOCK;
	if (!strcmp(prog, "tl_sock_create"))
		return CV_CREATE;
	return CV_SKB;
}

static const struct tl_iface *iface_of(const struct snapshot *s, __u32 ifindex)
{
	for (size_t i = 0; i < s->nifaces; i++)
		if (s->ifindex[i] == ifindex)
			return &s->ifaces[i];
	return NULL;
}

static bool tc_filter_present(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TL_TC_HANDLE,
		    .priority = TL_TC_PRIORITY);

	return !bpf_tc_query(&hook, &opts) && opts.prog_id;
}

static void add_unguarded(struct snapshot *s, const char *name)
{
	size_t n = strlen(s->unguarded);

	snprintf(s->unguarded + n, sizeof(s->unguarded) - n, "%s%s",
		 n ? ", " : "", name);
	/* one line of "why" (text and JSON alike): no quote or control byte */
	for (char *c = s->unguarded + n; *c; c++)
		if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20)
			*c = '?';
}

/*
 * TC: in the namespace of the filters, every interface but loopback and
 * tunnels must have ours; from elsewhere, what the agent recorded.
 */
static bool tc_complete(struct snapshot *s)
{
	struct if_nameindex *ifs, *i;

	if (!s->state.netns_ino || tl_netns_ino() != s->state.netns_ino) {
		char what[96];
		size_t n = 0;

		for (size_t k = 0; k < s->nifaces; k++)
			n += !(s->ifaces[k].flags &
			       (TL_IFACE_TUNNEL | TL_IFACE_GUARDED));
		snprintf(what, sizeof(what), "%zu interface(s), as the agent "
			 "recorded them (not checked from here)", n);
		if (n)
			add_unguarded(s, what);
		return !n;
	}
	ifs = if_nameindex();
	if (!ifs) {
		add_unguarded(s, "any interface (cannot list them)");
		return false;
	}
	for (i = ifs; i->if_index; i++) {
		const struct tl_iface *f = iface_of(s, i->if_index);

		if (i->if_index == 1 || (f && (f->flags & TL_IFACE_TUNNEL)))
			continue; /* loopback is ifindex 1 in every namespace */
		if (!tc_filter_present(i->if_index))
			add_unguarded(s, i->if_name);
	}
	if_freenameindex(ifs);
	return !s->unguarded[0];
}

static int snapshot(const char *pin_dir, struct snapshot *s)
{
	unsigned int missing = 0;
	int err;

	memset(s, 0, sizeof(*s));
	err = tl_pins_read_state(pin_dir, &s->state);
	if (err)
		return err;
	lookup_pinned(pin_dir, TL_MAP_SETTINGS, s->state.active_slot,
		      &s->settings);
	for (__u32 t = 0; t < TL_MAX_TUNNELS; t++)
		lookup_pinned(pin_dir, TL_MAP_TUNNELS, t, &s->tunnels[t]);
	read_counters(pin_dir, s->counters);
	read_ifaces(pin_dir, s);
	for (int i = 0; i < tl_cgroup_prog_count; i++) {
		s->links[i] = link_attached(pin_dir, tl_cgroup_progs[i]);
		s->present |= prog_layer(tl_cgroup_progs[i]);
		if (!s->links[i])
			missing |= prog_layer(tl_cgroup_progs[i]);
	}
	s->present &= ~missing;
	s->lsm_link = link_attached(pin_dir, tl_lsm_prog);
	if (s->lsm_link)
		s->present |= CV_LSM;
	if (tc_complete(s))
		s->present |= CV_TC;
	read_cgroup_table(pin_dir, s);
	s->agent_running = tl_agent_alive(s->state.agent_pid);
	if (s->agent_running)
		s->present |= CV_AGENT;
	return 0;
}

static const char *iface_role(const struct tl_iface *i)
{
	if (i->flags & TL_IFACE_TUNNEL)
		return "tunnel";
	if (i->flags & TL_IFACE_PORT)
		return i->flags & TL_IFACE_STAMP ? "container" : "port";
	return i->flags & TL_IFACE_GUARDED ? "guarded" : "unguarded";
}

enum health {
	ENFORCING,
	DEGRADED,     /* a policy, with gaps: see why */
	NOT_ENFORCING,
};

/*
 * Enforcing: a policy is live and every cgroup link is pinned and attached.
 * Degraded: some link pins are missing or detached (an agent that holds
 * its links keeps them attached and restores the pins; without one, the
 * missing ones are gaps), or the cgroup table is full (new cgroups are
 * frozen until their entry can be written).
 */
static enum health health(const struct snapshot *s, const char **why)
{
	int missing = 0;

	*why = "";
	if (!s->state.generation) {
		*why = "no policy applied";
		return NOT_ENFORCING;
	}
	for (int i = 0; i < tl_cgroup_prog_count; i++)
		missing += !s->links[i];
	if (missing == tl_cgroup_prog_count && !s->agent_running) {
		*why = "cgroup links missing";
		return NOT_ENFORCING;
	}
	if (missing) {
		*why = s->agent_running ? "cgroup link pins missing or detached; "
					  "the agent restores them" :
					  "cgroup links missing or detached";
		return DEGRADED;
	}
	if (s->cgroups_max && s->cgroups_used >= s->cgroups_max) {
		*why = "the cgroup table is full: new cgroups its rules name "
		       "are frozen until there is room";
		return DEGRADED;
	}
	return ENFORCING;
}

static const char *dns_action_name(__u32 flags)
{
	if (flags & TL_PROFILE_DNS_REDIRECT)
		return "redirect";
	return flags & TL_PROFILE_DNS_ORDINARY ? "ordinary" : "block";
}

/* DNS decisions over every layer. */
static __u64 dns_count(const struct snapshot *s, __u32 verdict)
{
	__u64 n = 0;

	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		n += s->counters[TL_COUNTER_INDEX(l, TL_REASON_DNS, verdict)];
	return n;
}

static const char *tunnel_name(const struct snapshot *s, __u32 id)
{
	return id < TL_MAX_TUNNELS ? s->tunnels[id].name : "";
}

static void print_dns_text(const struct snapshot *s, FILE *out)
{
	const struct tl_settings *cfg = &s->settings;
	char a[64];

	fprintf(out, "dns:       ports");
	for (__u32 i = 0; i < cfg->ndns_ports && i < TL_MAX_DNS_PORTS; i++)
		fprintf(out, "%s%u", i ? "," : " ", cfg->dns_ports[i]);
	fprintf(out, "; redirected %llu, blocked %llu, audit %llu\n",
		(unsigned long long)dns_count(s, TL_VERDICT_REDIRECTED),
		(unsigned long long)dns_count(s, TL_VERDICT_BLOCKED),
		(unsigned long long)dns_count(s, TL_VERDICT_AUDIT));
	for (__u32 i = 0; i < cfg->nresolvers && i < TL_MAX_RESOLVERS; i++) {
		const struct tl_resolver *r = &cfg->resolvers[i];

		if (tl_format_addr((const uint8_t *)r->addr, a, sizeof(a)))
			continue;
		fprintf(out, "  resolver %-24s tunnel %s\n", a,
			tunnel_name(s, r->tunnel));
	}
	for (int i = 0; i < TL_MAX_PROFILES; i++)
		if (cfg->profiles[i].name[0])
			fprintf(out, "  profile  %-24s %s\n",
				cfg->profiles[i].name,
				dns_action_name(cfg->profiles[i].flags));
}

static void print_dns_json(const struct snapshot *s, struct tl_json *j)
{
	const struct tl_settings *cfg = &s->settings;
	char a[64];

	tl_json_open(j, "dns");
	tl_json_array(j, "ports");
	for (__u32 i = 0; i < cfg->ndns_ports && i < TL_MAX_DNS_PORTS; i++)
		tl_json_u64(j, NULL, cfg->dns_ports[i]);
	tl_json_array_end(j);
	tl_json_array(j, "resolvers");
	for (__u32 i = 0; i < cfg->nresolvers && i < TL_MAX_RESOLVERS; i++) {
		const struct tl_resolver *r = &cfg->resolvers[i];

		if (tl_format_addr((const uint8_t *)r->addr, a, sizeof(a)))
			continue;
		tl_json_open(j, NULL);
		tl_json_str(j, "address", a, sizeof(a));
		tl_json_str(j, "tunnel", tunnel_name(s, r->tunnel), TL_NAME_LEN);
		tl_json_close(j);
	}
	tl_json_array_end(j);
	tl_json_array(j, "profiles");
	for (int i = 0; i < TL_MAX_PROFILES; i++) {
		if (!cfg->profiles[i].name[0])
			continue;
		tl_json_open(j, NULL);
		tl_json_str(j, "name", cfg->profiles[i].name, TL_NAME_LEN);
		tl_json_str(j, "action", dns_action_name(cfg->profiles[i].flags),
			    16);
		tl_json_close(j);
	}
	tl_json_array_end(j);
	tl_json_u64(j, "redirected", dns_count(s, TL_VERDICT_REDIRECTED));
	tl_json_u64(j, "blocked", dns_count(s, TL_VERDICT_BLOCKED));
	tl_json_u64(j, "audit", dns_count(s, TL_VERDICT_AUDIT));
	tl_json_close(j);
}

static void print_text(const char *pin_dir, struct snapshot *s, FILE *out)
{
	const char *why;
	struct coverage cov[16];
	char when[32], ifname[IF_NAMESIZE];
	int n;

	tl_time_format(when, sizeof(when), s->state.applied_ns, false);
	switch (health(s, &why)) {
	case ENFORCING:
		fprintf(out, "enforcing: %s, policy generation %u, applied %s\n",
			tl_mode_name(s->state.mode), s->state.generation, when);
		break;
	case DEGRADED:
		fprintf(out, "degraded: %s, policy generation %u, applied %s: "
			     "%s\n",
			tl_mode_name(s->state.mode), s->state.generation, when,
			why);
		break;
	default:
		fprintf(out, "not enforcing: pins present but %s\n", why);
	}
	fprintf(out, "pin dir:   %s\n", pin_dir);
	if (s->agent_running)
		fprintf(out, "agent:     running (pid %u)\n", s->state.agent_pid);
	else
		fprintf(out, "agent:     not running (enforcement stays pinned)\n");
	fprintf(out, "attached:  %s:", s->state.attach_cgroup);
	for (int i = 0; i < tl_cgroup_prog_count; i++)
		fprintf(out, " %s%s", tl_cgroup_progs[i] + 3,
			s->links[i] ? "" : "(missing)");
	fprintf(out, " %s%s", tl_lsm_prog + 3,
		s->lsm_link ? "" : "(not attached)");
	fprintf(out, "\ncgroups:   %u entries of %u in the live table\n",
		s->cgroups_used, s->cgroups_max);
	fprintf(out, "tunnels:\n");
	for (int t = 0; t < TL_MAX_TUNNELS; t++) {
		struct tl_tunnel_state *ts = &s->tunnels[t];

		if (!ts->name[0])
			continue;
		fprintf(out, "  %-16s %-16s %s%s%s\n", ts->name,
			ts->ifname[0] ? ts->ifname : "-",
			ts->flags & TL_TUNNEL_UP ? "up" : "down",
			ts->flags & TL_TUNNEL_IPV4 ? " ipv4" : "",
			ts->flags & TL_TUNNEL_IPV6 ? " ipv6" : "");
	}
	fprintf(out, "interfaces:\n");
	for (size_t i = 0; i < s->nifaces; i++)
		fprintf(out, "  %-16s %s\n",
			if_indextoname(s->ifindex[i], ifname) ? ifname : "?",
			iface_role(&s->ifaces[i]));
	print_dns_text(s, out);
	fprintf(out, "counters (layer reason verdict count):\n");
	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		for (__u32 r = 0; r < TL_REASON_MAX; r++)
			for (__u32 v = 0; v < TL_VERDICT_MAX; v++) {
				__u64 c = s->counters[TL_COUNTER_INDEX(l, r, v)];

				if (c)
					fprintf(out, "  %-10s %-14s %-8s %llu\n",
						tl_layer_name(l),
						tl_reason_name(r),
						tl_verdict_name(v),
						(unsigned long long)c);
			}
	fprintf(out, "coverage:\n");
	n = coverage(s->state.features, s->present, s->unguarded, cov);
	for (int i = 0; i < n; i++)
		fprintf(out, "  %-12s %-8s %s\n", cov[i].leak, cov[i].level,
			cov[i].why);
}

static void print_json(const char *pin_dir, struct snapshot *s, FILE *out)
{
	static const char *const names[] = { "enforcing", "degraded",
					      "not_enforcing" };
	const char *why;
	enum health h = health(s, &why);
	struct coverage cov[16];
	char when[TL_TIME_LEN], ifname[IF_NAMESIZE];
	struct tl_json j;
	int n;

	tl_json_init_file(&j, out);
	tl_json_open(&j, NULL);
	tl_json_bool(&j, "enforcing", h == ENFORCING);
	tl_json_str(&j, "health", names[h], 16);
	tl_json_str(&j, "why", why, 256);
	tl_json_str(&j, "pin_dir", pin_dir, PATH_MAX);
	tl_json_str(&j, "mode", tl_mode_name(s->state.mode), 16);
	tl_json_u64(&j, "generation", s->state.generation);
	tl_json_str(&j, "applied",
		    tl_time_format(when, sizeof(when), s->state.applied_ns,
				   false),
		    sizeof(when));
	tl_json_open(&j, "cgroup_table");
	tl_json_u64(&j, "used", s->cgroups_used);
	tl_json_u64(&j, "limit", s->cgroups_max);
	tl_json_close(&j);
	tl_json_open(&j, "agent");
	tl_json_bool(&j, "running", s->agent_running);
	tl_json_u64(&j, "pid", s->state.agent_pid);
	tl_json_close(&j);
	tl_json_str(&j, "attach_cgroup", s->state.attach_cgroup,
		    sizeof(s->state.attach_cgroup));
	tl_json_open(&j, "links");
	for (int i = 0; i < tl_cgroup_prog_count; i++)
		tl_json_bool(&j, tl_cgroup_progs[i] + 3, s->links[i]);
	tl_json_bool(&j, tl_lsm_prog + 3, s->lsm_link);
	tl_json_close(&j);
	tl_json_array(&j, "tunnels");
	for (int t = 0; t < TL_MAX_TUNNELS; t++) {
		struct tl_tunnel_state *ts = &s->tunnels[t];

		if (!ts->name[0])
			continue;
		tl_json_open(&j, NULL);
		tl_json_str(&j, "name", ts->name, sizeof(ts->name));
		tl_json_str(&j, "interface", ts->ifname, sizeof(ts->ifname));
		tl_json_str(&j, "state", ts->flags & TL_TUNNEL_UP ? "up" : "down",
			    8);
		tl_json_bool(&j, "ipv4", ts->flags & TL_TUNNEL_IPV4);
		tl_json_bool(&j, "ipv6", ts->flags & TL_TUNNEL_IPV6);
		tl_json_close(&j);
	}
	tl_json_array_end(&j);
	tl_json_array(&j, "interfaces");
	for (size_t i = 0; i < s->nifaces; i++) {
		tl_json_open(&j, NULL);
		tl_json_str(&j, "name",
			    if_indextoname(s->ifindex[i], ifname) ? ifname : "",
			    sizeof(ifname));
		tl_json_u64(&j, "ifindex", s->ifindex[i]);
		tl_json_str(&j, "role", iface_role(&s->ifaces[i]), 16);
		tl_json_close(&j);
	}
	tl_json_array_end(&j);
	tl_json_array(&j, "counters");
	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		for (__u32 r = 0; r < TL_REASON_MAX; r++)
			for (__u32 v = 0; v < TL_VERDICT_MAX; v++) {
				__u64 c = s->counters[TL_COUNTER_INDEX(l, r, v)];

				if (!c)
					continue;
				tl_json_open(&j, NULL);
				tl_json_str(&j, "layer", tl_layer_name(l), 32);
				tl_json_str(&j, "reason", tl_reason_name(r), 32);
				tl_json_str(&j, "verdict", tl_verdict_name(v),
					    32);
				tl_json_u64(&j, "count", c);
				tl_json_close(&j);
			}
	tl_json_array_end(&j);
	print_dns_json(s, &j);
	tl_json_open(&j, "features");
	tl_json_bool(&j, "bpf_lsm", s->state.features & TL_FEATURE_BPF_LSM);
	tl_json_bool(&j, "set_retval",
		     s->state.features & TL_FEATURE_SET_RETVAL);
	tl_json_bool(&j, "route_proof",
		     s->state.features & TL_FEATURE_ROUTE_PROOF);
	tl_json_bool(&j, "skb_netns",
		     s->state.features & TL_FEATURE_SKB_NETNS);
	tl_json_close(&j);
	tl_json_open(&j, "coverage");
	n = coverage(s->state.features, s->present, s->unguarded, cov);
	for (int i = 0; i < n; i++) {
		tl_json_open(&j, cov[i].leak);
		tl_json_str(&j, "level", cov[i].level, 16);
		tl_json_str(&j, "why", cov[i].why, sizeof(cov[i].why));
		tl_json_close(&j);
	}
	tl_json_close(&j);
	tl_json_close(&j);
	tl_json_end(&j);
}

/*
 * Nothing pinned (s NULL: "enforcing" false), or pins of another layout
 * (null: unknown).
 */
static void print_json_unread(const char *pin_dir, const struct snapshot *s,
			      FILE *out)
{
	struct tl_json j;

	tl_json_init_file(&j, out);
	tl_json_open(&j, NULL);
	if (s)
		tl_json_null(&j, "enforcing");
	else
		tl_json_bool(&j, "enforcing", false);
	tl_json_str(&j, "pin_dir", pin_dir, PATH_MAX);
	if (s) {
		tl_json_u64(&j, "layout", s->state.layout_version);
		tl_json_i64(&j, "known_layout", TL_LAYOUT_VERSION);
	}
	tl_json_close(&j);
	tl_json_end(&j);
}

int tl_status(const char *pin_dir, bool json, FILE *out)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	const char *why;
	int err;

	if (!s)
		return 1;
	err = snapshot(pin_dir, s);
	if (err == -EPROTO) {
		/* another version's pins: say so, read nothing more */
		if (json)
			print_json_unread(pin_dir, s, out);
		else
			fprintf(out, "unknown: %s holds pins of layout %u (another "
				     "tunlock version); this one knows layout %d\n",
				pin_dir, s->state.layout_version,
				TL_LAYOUT_VERSION);
		free(s);
		return 1;
	}
	if (err) {
		if (json)
			print_json_unread(pin_dir, NULL, out);
		else
			fprintf(out, "not enforcing: nothing pinned at %s\n",
				pin_dir);
		free(s);
		return 1;
	}
	if (json)
		print_json(pin_dir, s, out);
	else
		print_text(pin_dir, s, out);
	switch (health(s, &why)) {
	case ENFORCING:
		err = 0;
		break;
	case DEGRADED:
		err = 3;
		break;
	default:
		err = 1;
	}
	free(s);
	return err;
}

int tl_status_gaps(const char *pin_dir, struct tl_class_gap *g, int max)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct coverage cov[16];
	unsigned int stops = CV_ENFORCING;
	int n, err;

	if (!s)
		return -ENOMEM;
	err = snapshot(pin_dir, s);
	if (err) {
		free(s);
		return err;
	}
	/* a kernel without BPF LSM never has the LSM layer: no gap of ours */
	if (!(s->state.features & TL_FEATURE_BPF_LSM))
		stops &= ~CV_LSM;
	n = coverage(s->state.features, s->present, s->unguarded, cov);
	for (int i = 0; i < n && i < max; i++) {
		g[i].leak = cov[i].leak;
		g[i].gap = cov[i].missing & stops;
		snprintf(g[i].why, sizeof(g[i].why), "%s", cov[i].why);
	}
	free(s);
	return n < max ? n : max;
}
