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
#include "names.h"
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
	return f;
}

/* How far this build and kernel cover each leak class (docs/design.md). */
struct coverage {
	const char *leak;
	const char *level;
	const char *why;
};

/* lsm: the socket_create link is attached */
static int coverage(unsigned int features, bool lsm, struct coverage *c)
{
	int n = 0;

	c[n++] = (struct coverage){ "tunnel_down", "full",
				    "socket calls fail at once; packet layers "
				    "drop what is left" };
	c[n++] = (struct coverage){ "bypass", "full",
				    "cgroup_skb and TC judge the real egress "
				    "interface" };
	c[n++] = features & TL_FEATURE_ROUTE_PROOF ?
		(struct coverage){ "endpoint", "full",
				   "only the VPN client's cgroup or fwmark "
				   "reaches the endpoint" } :
		(struct coverage){ "endpoint", "partial",
				   "kernel without bpf_cast_to_kern_ctx: the "
				   "fwmark (and a container stamp) counts also "
				   "on what another namespace sends through a "
				   "macvlan, ipvlan or VLAN device on a NIC" };
	c[n++] = (struct coverage){ "dns", "full",
				    "queries to any resolver but the tunnel's "
				    "are blocked or redirected at connect and "
				    "sendmsg (answers and peer restored); "
				    "packet layers drop DNS outside the "
				    "tunnel, LAN included; DNS over HTTPS is "
				    "HTTPS to the network" };
	c[n++] = (struct coverage){
		"ipv6", features & TL_FEATURE_SET_RETVAL ? "full" : "partial",
		features & TL_FEATURE_SET_RETVAL ?
			"IPv6 leaves only through a tunnel with IPv6; calls "
			"fail at once with ENETUNREACH (Happy Eyeballs falls "
			"back to IPv4)" :
			"IPv6 leaves only through a tunnel with IPv6; kernel "
			"without bpf_set_retval: calls fail with EPERM, which "
			"some clients do not fall back from"
	};
	c[n++] = (struct coverage){ "stun", "full",
				    "STUN and TURN ChannelData on any port "
				    "are dropped outside the tunnel, also to "
				    "the LAN; browsers' host candidates are "
				    "the browser's own (mDNS setting)" };
	c[n++] = lsm ?
		(struct coverage){
			"raw_socket", "full",
			"BPF LSM denies raw, packet and XDP socket creation to "
			"protected cgroups whose profile does not allow them; "
			"the packet layers drop raw IP and AF_PACKET without "
			"qdisc bypass as well" } :
		(struct coverage){
			"raw_socket", "partial",
			features & TL_FEATURE_BPF_LSM ?
				"the LSM layer is not attached: AF_PACKET with "
				"PACKET_QDISC_BYPASS and AF_XDP are not "
				"covered; the packet layers drop raw IP and "
				"AF_PACKET without qdisc bypass" :
				"kernel without BPF LSM: AF_PACKET with "
				"PACKET_QDISC_BYPASS and AF_XDP are not "
				"covered; the packet layers drop raw IP and "
				"AF_PACKET without qdisc bypass" };
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
};

/* The link pinned as link_NAME is there and still attached. */
static bool link_attached(const char *pin_dir, const char *prog)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX], name[64];
	int fd;
	bool ok;

	snprintf(name, sizeof(name), "link_%s", prog);
	if (tl_pin_path(path, sizeof(path), pin_dir, name))
		return false;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return false;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && info.cgroup.cgroup_id;
	close(fd);
	return ok;
}

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

static int snapshot(const char *pin_dir, struct snapshot *s)
{
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
	for (int i = 0; i < tl_cgroup_prog_count; i++)
		s->links[i] = link_attached(pin_dir, tl_cgroup_progs[i]);
	s->lsm_link = link_attached(pin_dir, tl_lsm_prog);
	read_cgroup_table(pin_dir, s);
	s->agent_running = s->state.agent_pid && !kill(s->state.agent_pid, 0);
	return 0;
}

static void format_time(uint64_t ns, char *buf, size_t len)
{
	time_t sec = ns / 1000000000ull;
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
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

static void print_dns_json(const struct snapshot *s, FILE *out)
{
	const struct tl_settings *cfg = &s->settings;
	const char *sep = "";
	char a[64];

	fprintf(out, "\"dns\":{\"ports\":[");
	for (__u32 i = 0; i < cfg->ndns_ports && i < TL_MAX_DNS_PORTS; i++)
		fprintf(out, "%s%u", i ? "," : "", cfg->dns_ports[i]);
	fprintf(out, "],\"resolvers\":[");
	for (__u32 i = 0; i < cfg->nresolvers && i < TL_MAX_RESOLVERS; i++) {
		const struct tl_resolver *r = &cfg->resolvers[i];

		if (tl_format_addr((const uint8_t *)r->addr, a, sizeof(a)))
			continue;
		fprintf(out, "%s{\"address\":\"%s\",\"tunnel\":\"%s\"}", sep, a,
			tunnel_name(s, r->tunnel));
		sep = ",";
	}
	fprintf(out, "],\"profiles\":[");
	sep = "";
	for (int i = 0; i < TL_MAX_PROFILES; i++) {
		if (!cfg->profiles[i].name[0])
			continue;
		fprintf(out, "%s{\"name\":\"%s\",\"action\":\"%s\"}", sep,
			cfg->profiles[i].name,
			dns_action_name(cfg->profiles[i].flags));
		sep = ",";
	}
	fprintf(out, "],\"redirected\":%llu,\"blocked\":%llu,\"audit\":%llu},",
		(unsigned long long)dns_count(s, TL_VERDICT_REDIRECTED),
		(unsigned long long)dns_count(s, TL_VERDICT_BLOCKED),
		(unsigned long long)dns_count(s, TL_VERDICT_AUDIT));
}

static void print_text(const char *pin_dir, struct snapshot *s, FILE *out)
{
	const char *why;
	struct coverage cov[16];
	char when[32], ifname[IF_NAMESIZE];
	int n;

	format_time(s->state.applied_ns, when, sizeof(when));
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
	n = coverage(s->state.features, s->lsm_link, cov);
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
	char when[32], ifname[IF_NAMESIZE];
	const char *sep = "";
	int n;

	format_time(s->state.applied_ns, when, sizeof(when));
	fprintf(out,
		"{\"enforcing\":%s,\"health\":\"%s\",\"why\":\"%s\","
		"\"pin_dir\":\"%s\",\"mode\":\"%s\","
		"\"generation\":%u,\"applied\":\"%s\",",
		h == ENFORCING ? "true" : "false", names[h], why,
		pin_dir, tl_mode_name(s->state.mode), s->state.generation,
		when);
	fprintf(out, "\"cgroup_table\":{\"used\":%u,\"limit\":%u},",
		s->cgroups_used, s->cgroups_max);
	fprintf(out, "\"agent\":{\"running\":%s,\"pid\":%u},",
		s->agent_running ? "true" : "false", s->state.agent_pid);
	fprintf(out, "\"attach_cgroup\":\"%s\",\"links\":{",
		s->state.attach_cgroup);
	for (int i = 0; i < tl_cgroup_prog_count; i++)
		fprintf(out, "%s\"%s\":%s", i ? "," : "",
			tl_cgroup_progs[i] + 3, s->links[i] ? "true" : "false");
	fprintf(out, ",\"%s\":%s", tl_lsm_prog + 3,
		s->lsm_link ? "true" : "false");
	fprintf(out, "},\"tunnels\":[");
	for (int t = 0; t < TL_MAX_TUNNELS; t++) {
		struct tl_tunnel_state *ts = &s->tunnels[t];

		if (!ts->name[0])
			continue;
		fprintf(out,
			"%s{\"name\":\"%s\",\"interface\":\"%s\",\"state\":"
			"\"%s\",\"ipv4\":%s,\"ipv6\":%s}",
			sep, ts->name, ts->ifname,
			ts->flags & TL_TUNNEL_UP ? "up" : "down",
			ts->flags & TL_TUNNEL_IPV4 ? "true" : "false",
			ts->flags & TL_TUNNEL_IPV6 ? "true" : "false");
		sep = ",";
	}
	fprintf(out, "],\"interfaces\":[");
	for (size_t i = 0; i < s->nifaces; i++)
		fprintf(out, "%s{\"name\":\"%s\",\"ifindex\":%u,\"role\":\"%s\"}",
			i ? "," : "",
			if_indextoname(s->ifindex[i], ifname) ? ifname : "",
			s->ifindex[i], iface_role(&s->ifaces[i]));
	fprintf(out, "],\"counters\":[");
	sep = "";
	for (__u32 l = 0; l < TL_LAYER_MAX; l++)
		for (__u32 r = 0; r < TL_REASON_MAX; r++)
			for (__u32 v = 0; v < TL_VERDICT_MAX; v++) {
				__u64 c = s->counters[TL_COUNTER_INDEX(l, r, v)];

				if (!c)
					continue;
				fprintf(out,
					"%s{\"layer\":\"%s\",\"reason\":\"%s\","
					"\"verdict\":\"%s\",\"count\":%llu}",
					sep, tl_layer_name(l), tl_reason_name(r),
					tl_verdict_name(v),
					(unsigned long long)c);
				sep = ",";
			}
	fprintf(out, "],");
	print_dns_json(s, out);
	fprintf(out,
		"\"features\":{\"bpf_lsm\":%s,\"set_retval\":%s,"
		"\"route_proof\":%s},",
		s->state.features & TL_FEATURE_BPF_LSM ? "true" : "false",
		s->state.features & TL_FEATURE_SET_RETVAL ? "true" : "false",
		s->state.features & TL_FEATURE_ROUTE_PROOF ? "true" : "false");
	fprintf(out, "\"coverage\":{");
	n = coverage(s->state.features, s->lsm_link, cov);
	for (int i = 0; i < n; i++)
		fprintf(out, "%s\"%s\":{\"level\":\"%s\",\"why\":\"%s\"}",
			i ? "," : "", cov[i].leak, cov[i].level, cov[i].why);
	fprintf(out, "}}\n");
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
			fprintf(out, "{\"enforcing\":null,\"pin_dir\":\"%s\","
				     "\"layout\":%u,\"known_layout\":%d}\n",
				pin_dir, s->state.layout_version,
				TL_LAYOUT_VERSION);
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
			fprintf(out, "{\"enforcing\":false,\"pin_dir\":\"%s\"}\n",
				pin_dir);
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
