// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The schema written as code: one reader per kind of mapping, each taking
 * what parsed and reporting the rest at its node.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy_int.h"

/* ---- tunnels ---- */

/* The keys of an endpoint. */
enum { EP_ADDRESS, EP_PORT, EP_PROTOCOL, EP_NKEYS };

/* Endpoint i of tunnel t. */
static void read_endpoint(struct ctx *c, struct ynode *n, size_t i, void *t)
{
	struct tl_endpoint_cfg *ep = &((struct tl_tunnel_cfg *)t)->endpoints[i];
	static const struct key keys[] = {
	    [EP_ADDRESS] = {"address", T_SCALAR, true},
	    [EP_PORT] = {"port", T_SCALAR, true},
	    [EP_PROTOCOL] = {"protocol", T_SCALAR, false},
	};
	struct ynode *v[EP_NKEYS];
	int proto;

	ep->loc = node_loc(n);
	ep->protocol = IPPROTO_UDP;
	get_keys(c, n, keys, v);
	if (v[EP_ADDRESS]) {
		ep->loc = node_loc(v[EP_ADDRESS]);
		if (addr_val(c, v[EP_ADDRESS], &ep->addr))
			ep->addr.family = 0;
	}
	if (v[EP_PORT] && port_val(c, v[EP_PORT], text(v[EP_PORT]), &ep->port))
		ep->addr.family = 0;
	if (v[EP_PROTOCOL] && (proto = proto_val(c, v[EP_PROTOCOL])) >= 0)
		ep->protocol = (uint8_t)proto;
}

/* The keys of a tunnel's client. */
enum { CL_CGROUP, CL_FWMARK, CL_NKEYS };

static void read_client(struct ctx *c, const struct ynode *n,
			struct tl_tunnel_cfg *t)
{
	static const struct key keys[] = {
	    [CL_CGROUP] = {"cgroup", T_SCALAR, false},
	    [CL_FWMARK] = {"fwmark", T_SCALAR, false},
	};
	struct ynode *v[CL_NKEYS];
	const char *why;
	uint64_t mark;
	int r;

	get_keys(c, n, keys, v);
	if (v[CL_CGROUP]) {
		why = check_cgroup_path(text(v[CL_CGROUP]), true);
		if (why)
			error_node(c, v[CL_CGROUP], "cgroup '%s' %s",
				   shown(c, text(v[CL_CGROUP])), why);
		else
			copy_str(t->client_cgroup, TL_GLOB_MAX,
				 text(v[CL_CGROUP]));
	}
	if (v[CL_FWMARK]) {
		r = tl_parse_uint(text(v[CL_FWMARK]), true, UINT32_MAX, &mark);
		if (r == -1)
			error_node(
			    c, v[CL_FWMARK],
			    "fwmark '%s' is not a number (decimal or 0x hex)",
			    text(v[CL_FWMARK]));
		else if (r == -2)
			error_node(c, v[CL_FWMARK],
				   "fwmark %s does not fit in 32 bits",
				   text(v[CL_FWMARK]));
		else if (!mark)
			error_node(c, v[CL_FWMARK],
				   "fwmark must be non-zero (0 means no mark)");
		else
			t->has_fwmark = true;
		t->fwmark = (uint32_t)mark;
	}
	if (!v[CL_CGROUP] && !v[CL_FWMARK])
		warn_at(c, node_loc(n),
			"neither cgroup nor fwmark: no process may send VPN "
			"transport to the endpoints of tunnel '%s'",
			t->name);
}

static void read_endpoints(struct ctx *c, const struct ynode *n,
			   struct tl_tunnel_cfg *t)
{
	size_t len = seq_len(n);

	if (!len) {
		error_node(c, n, "at least one endpoint is required");
		return;
	}
	if (c->nendpoints + len > TL_MAX_ENDPOINTS) {
		error_node(c, n,
			   "too many endpoints (at most %d over all tunnels)",
			   TL_MAX_ENDPOINTS);
		return;
	}
	t->endpoints = calloc(len, sizeof(*t->endpoints));
	if (!t->endpoints) {
		c->oom = true;
		return;
	}
	t->nendpoints = len;
	c->nendpoints += len;
	read_list(c, n, len, T_MAP, read_endpoint, t);
}

/* A resolver of tunnel arg, kept when it parsed and is new. */
static void read_resolver(struct ctx *c, struct ynode *item, size_t i, void *arg)
{
	struct tl_tunnel_cfg *t = arg;
	struct tl_cidr *r = &t->resolvers[t->nresolvers];
	size_t j;

	(void)i;
	if (addr_val(c, item, r))
		return;
	for (j = 0; j < t->nresolvers; j++)
		if (!memcmp(t->resolvers[j].addr, r->addr, 16))
			break;
	if (j < t->nresolvers)
		error_node(c, item, "duplicate resolver %s", text(item));
	else
		t->nresolvers++;
}

static void read_resolvers(struct ctx *c, const struct ynode *n,
			   struct tl_tunnel_cfg *t)
{
	size_t len = seq_len(n);

	if (len > TL_MAX_TUNNEL_RESOLVERS) {
		error_node(c, n, "too many resolvers (at most %d)",
			   TL_MAX_TUNNEL_RESOLVERS);
		return;
	}
	if (c->nresolvers + len > TL_MAX_RESOLVERS) {
		error_node(c, n,
			   "too many resolvers (at most %d over all tunnels)",
			   TL_MAX_RESOLVERS);
		return;
	}
	c->nresolvers += len;
	t->resolvers = calloc(len ? len : 1, sizeof(*t->resolvers));
	if (!t->resolvers) {
		c->oom = true;
		return;
	}
	read_list(c, n, len, T_SCALAR, read_resolver, t);
}

/* Kinds of the kernel's tunnel and VPN devices; never macvlan, vlan, veth,
 * bridge or dummy: a link of those kinds is an uplink whatever its name. */
const char *const tl_tunnel_kinds[] = {
    "wireguard", "tun",	   "ovpn",	"ipip",	  "sit",     "gre",
    "gretap",	 "ip6gre", "ip6gretap", "ip6tnl", "vti",     "vti6",
    "xfrm",	 "ppp",	   "vxlan",	"geneve", "l2tpeth", NULL,
};

int tl_tunnel_kind_bit(const char *kind)
{
	for (int i = 0; tl_tunnel_kinds[i]; i++)
		if (!strcmp(tl_tunnel_kinds[i], kind))
			return i;
	return -1;
}

/* A kind, added to the bits at seen. */
static void read_kind(struct ctx *c, struct ynode *item, size_t i, void *seen)
{
	uint32_t *bits = seen;
	int bit;

	(void)i;
	bit = tl_tunnel_kind_bit(text(item));
	if (bit < 0) {
		char known[256] = "";

		for (int k = 0; tl_tunnel_kinds[k]; k++) {
			strcat(known, k ? ", " : "");
			strcat(known, tl_tunnel_kinds[k]);
		}
		error_node(c, item,
			   "'%s' is no tunnel kind (expected one of: "
			   "%s)",
			   shown(c, text(item)), known);
	} else if (*bits & (1u << bit))
		error_node(c, item, "duplicate kind '%s'", shown(c, text(item)));
	else
		*bits |= 1u << bit;
}

static void read_kinds(struct ctx *c, const struct ynode *n,
		       struct tl_tunnel_cfg *t)
{
	size_t len = seq_len(n);
	uint32_t seen = 0;

	if (!len)
		error_node(c, n, "an empty list (leave 'kind' out instead)");
	read_list(c, n, len, T_SCALAR, read_kind, &seen);
	t->kinds |= seen;
}

/* The keys of a tunnel. */
enum {
	TN_NAME,
	TN_INTERFACE,
	TN_ENDPOINTS,
	TN_CLIENT,
	TN_RESOLVERS,
	TN_KIND,
	TN_NKEYS
};

static void read_tunnel(struct ctx *c, struct ynode *n, size_t i, void *arg)
{
	static const struct key keys[] = {
	    [TN_NAME] = {"name", T_SCALAR, true},
	    [TN_INTERFACE] = {"interface", T_SCALAR, true},
	    [TN_ENDPOINTS] = {"endpoints", T_SEQ, true},
	    [TN_CLIENT] = {"client", T_MAP, false},
	    [TN_RESOLVERS] = {"resolvers", T_SEQ, false},
	    [TN_KIND] = {"kind", T_SEQ, false},
	};
	struct tl_tunnel_cfg *t = &c->p->tunnels[i];
	struct ynode *v[TN_NKEYS];
	const char *why;
	size_t saved;

	(void)arg;
	t->loc = node_loc(n);
	get_keys(c, n, keys, v);
	if (v[TN_NAME]) {
		t->loc = node_loc(v[TN_NAME]);
		why = check_name(text(v[TN_NAME]));
		if (why)
			error_node(c, v[TN_NAME], "name '%s' %s",
				   shown(c, text(v[TN_NAME])), why);
		else
			copy_str(t->name, TL_NAME_MAX, text(v[TN_NAME]));
	}
	if (v[TN_INTERFACE]) {
		why = check_ifname(text(v[TN_INTERFACE]));
		if (why)
			error_node(c, v[TN_INTERFACE], "interface '%s': %s",
				   shown(c, text(v[TN_INTERFACE])), why);
		else
			copy_str(t->interface, TL_GLOB_MAX,
				 text(v[TN_INTERFACE]));
	}
	saved = push_key(c, "endpoints");
	if (v[TN_ENDPOINTS])
		read_endpoints(c, v[TN_ENDPOINTS], t);
	pop(c, saved);
	if (!v[TN_CLIENT] && v[TN_NAME])
		warn_at(c, t->loc,
			"no 'client' (cgroup or fwmark): no process may send "
			"VPN transport to the endpoints of tunnel '%s'",
			text(v[TN_NAME]));
	saved = push_key(c, "client");
	if (v[TN_CLIENT])
		read_client(c, v[TN_CLIENT], t);
	pop(c, saved);
	saved = push_key(c, "resolvers");
	if (v[TN_RESOLVERS])
		read_resolvers(c, v[TN_RESOLVERS], t);
	pop(c, saved);
	t->kinds = TL_TUNNEL_KINDS_DEFAULT;
	saved = push_key(c, "kind");
	if (v[TN_KIND])
		read_kinds(c, v[TN_KIND], t);
	pop(c, saved);
}

static void read_tunnels(struct ctx *c, const struct ynode *n)
{
	struct tl_policy *p = c->p;
	size_t len = seq_len(n);

	if (!len) {
		error_node(c, n, "at least one tunnel is required");
		return;
	}
	if (len > TL_MAX_TUNNELS) {
		error_node(c, seq_item(c, n, TL_MAX_TUNNELS),
			   "too many tunnels (at most %d)", TL_MAX_TUNNELS);
		len = TL_MAX_TUNNELS;
	}
	p->tunnels = calloc(len, sizeof(*p->tunnels));
	if (!p->tunnels) {
		c->oom = true;
		return;
	}
	p->ntunnels = len;
	read_list(c, n, len, T_MAP, read_tunnel, NULL);
}

/* ---- profiles ---- */

/* An allow rule being read, and its profile, which keeps its ports. */
struct allow_reading {
	struct tl_profile_cfg *pr;
	struct tl_allow_rule *r;
	struct allow_loc *loc;
};

/* Room for one more port range in the profile's pool. */
static bool port_room(struct ctx *c, struct tl_profile_cfg *pr)
{
	size_t cap = c->ports_cap ? 2 * c->ports_cap : 64;
	struct tl_port_range *v;

	if (pr->nports < c->ports_cap)
		return true;
	v = realloc(pr->ports, cap * sizeof(*v));
	if (!v) {
		c->oom = true;
		return false;
	}
	pr->ports = v;
	c->ports_cap = cap;
	return true;
}

/* The new entry ports[nports] against those of the rule before it. */
static bool port_overlap(struct ctx *c, const struct ynode *n,
			 const struct allow_reading *a)
{
	const struct tl_port_range *x = &a->pr->ports[a->pr->nports];

	for (size_t i = a->r->port0; i < a->pr->nports; i++) {
		const struct tl_port_range *y = &a->pr->ports[i];

		if (x->lo <= y->hi && y->lo <= x->hi) {
			error_node(c, n,
				   "port %s overlaps %u-%u in the same list",
				   shown(c, text(n)), y->lo, y->hi);
			return true;
		}
	}
	return false;
}

/* A port or range of the allow rule being read, kept when it parsed and
 * is new. */
static void read_port(struct ctx *c, struct ynode *item, size_t i, void *arg)
{
	struct allow_reading *a = arg;
	struct tl_port_range *x;

	(void)i;
	if (!port_room(c, a->pr))
		return;
	x = &a->pr->ports[a->pr->nports];
	memset(x, 0, sizeof(*x));
	if (!port_range_val(c, item, x) && !port_overlap(c, item, a)) {
		x->protocol = a->r->protocol;
		a->pr->nports++;
		a->r->nports++;
	}
}

static void read_ports(struct ctx *c, const struct ynode *n,
		       struct allow_reading *a)
{
	size_t len = seq_len(n);

	if (!len) {
		error_node(c, n,
			   "an empty port list allows nothing; omit 'ports' "
			   "for every port");
		return;
	}
	if (len > TL_MAX_PORT_RANGES) {
		error_node(c, seq_item(c, n, TL_MAX_PORT_RANGES),
			   "too many port entries (at most %d)",
			   TL_MAX_PORT_RANGES);
		return;
	}
	read_list(c, n, len, T_SCALAR, read_port, a);
}

/* The keys of an allow rule. */
enum { AL_CIDR, AL_PROTOCOL, AL_PORTS, AL_NKEYS };

/* Returns false when the rule is not usable for the cross checks. */
static bool read_allow(struct ctx *c, const struct ynode *n,
		       struct allow_reading *a)
{
	static const struct key keys[] = {
	    [AL_CIDR] = {"cidr", T_SCALAR, true},
	    [AL_PROTOCOL] = {"protocol", T_SCALAR, false},
	    [AL_PORTS] = {"ports", T_SEQ, false},
	};
	static const char *const protos[] = {"any", "tcp", "udp", "icmp"};
	static const uint8_t proto_nums[] = {0, IPPROTO_TCP, IPPROTO_UDP,
					     IPPROTO_ICMP};
	struct tl_allow_rule *r = a->r;
	struct ynode *v[AL_NKEYS];
	char hint[64];
	const char *why;
	bool ok = false;
	size_t saved;
	int proto = 0;

	a->loc->cidr = node_loc(n);
	r->port0 = (uint32_t)a->pr->nports;
	get_keys(c, n, keys, v);
	if (v[AL_CIDR]) {
		a->loc->cidr = node_loc(v[AL_CIDR]);
		why = tl_parse_cidr_why(text(v[AL_CIDR]), &r->cidr, hint,
					sizeof(hint));
		if (why)
			error_node(c, v[AL_CIDR], "cidr %s: %s%s%s",
				   shown(c, text(v[AL_CIDR])), why,
				   hint[0] ? "; the network is " : "", hint);
		ok = !why;
	}
	if (v[AL_PROTOCOL])
		proto = enum_val(c, v[AL_PROTOCOL], "protocol", protos, 4);
	if (proto < 0)
		proto = 0;
	r->protocol = proto_nums[proto];
	if (r->protocol == IPPROTO_ICMP && ok && r->cidr.family == AF_INET6)
		r->protocol = IPPROTO_ICMPV6;
	if (v[AL_PORTS] && r->protocol != IPPROTO_TCP &&
	    r->protocol != IPPROTO_UDP) {
		error_node(c, v[AL_PORTS],
			   "ports need 'protocol: tcp' or 'protocol: udp'");
	} else if (v[AL_PORTS]) {
		a->loc->ports = node_loc(v[AL_PORTS]);
		saved = push_key(c, "ports");
		read_ports(c, v[AL_PORTS], a);
		pop(c, saved);
	}
	return ok;
}

/*
 * An allow rule of profile arg, kept only when its CIDR parsed (with its
 * ports): the others failed already.
 */
static void read_allow_item(struct ctx *c, struct ynode *item, size_t i,
			    void *arg)
{
	struct tl_profile_cfg *pr = arg;
	struct allow_reading a = {
	    .pr = pr,
	    .r = &pr->allow[pr->nallow],
	    .loc = &c->allow_locs[pr - c->p->profiles][pr->nallow],
	};

	(void)i;
	if (read_allow(c, item, &a)) {
		pr->nallow++;
		return;
	}
	pr->nports = a.r->port0;
	memset(a.r, 0, sizeof(*a.r));
	memset(a.loc, 0, sizeof(*a.loc));
}

static void read_allows(struct ctx *c, const struct ynode *n,
			struct tl_profile_cfg *pr)
{
	struct allow_loc **locs = &c->allow_locs[pr - c->p->profiles];
	size_t len = seq_len(n);
	void *fit;

	if (c->nallow + len > TL_MAX_ALLOW_ENTRIES) {
		error_node(
		    c, n, "too many allow rules (at most %d over all profiles)",
		    TL_MAX_ALLOW_ENTRIES);
		return;
	}
	if (!len)
		return;
	pr->allow = calloc(len, sizeof(*pr->allow));
	*locs = calloc(len, sizeof(**locs));
	if (!pr->allow || !*locs) {
		c->oom = true;
		return;
	}
	populate(pr->allow, len * sizeof(*pr->allow));
	populate(*locs, len * sizeof(**locs));
	c->nallow += len;
	c->ports_cap = 0;
	read_list(c, n, len, T_MAP, read_allow_item, pr);
	/* what the agent keeps while it runs: no more than it needs */
	if (pr->nallow < len && pr->nallow &&
	    (fit = realloc(pr->allow, pr->nallow * sizeof(*pr->allow))))
		pr->allow = fit;
	if (pr->nports && pr->nports < c->ports_cap &&
	    (fit = realloc(pr->ports, pr->nports * sizeof(*pr->ports))))
		pr->ports = fit;
}

/* The keys of a profile. */
enum { PR_NAME, PR_LAN, PR_ALLOW, PR_IPV6, PR_DNS, PR_RAW_SOCKETS, PR_NKEYS };

static void read_profile(struct ctx *c, struct ynode *n, size_t k, void *arg)
{
	static const struct key keys[] = {
	    [PR_NAME] = {"name", T_SCALAR, true},
	    [PR_LAN] = {"lan", T_SCALAR, false},
	    [PR_ALLOW] = {"allow", T_SEQ, false},
	    [PR_IPV6] = {"ipv6", T_SCALAR, false},
	    [PR_DNS] = {"dns", T_SCALAR, false},
	    [PR_RAW_SOCKETS] = {"raw_sockets", T_SCALAR, false},
	};
	static const char *const lan[] = {"block", "allow"};
	static const char *const ipv6[] = {"tunnel", "block"};
	static const char *const dns[] = {"block", "redirect", "ordinary"};
	static const char *const raw[] = {"deny", "allow"};
	struct tl_profile_cfg *pr = &c->p->profiles[k];
	struct ynode *v[PR_NKEYS];
	const char *why;
	size_t saved;
	int i;

	(void)arg;
	pr->loc = node_loc(n);
	get_keys(c, n, keys, v);
	if (v[PR_NAME]) {
		pr->loc = node_loc(v[PR_NAME]);
		why = check_name(text(v[PR_NAME]));
		if (why)
			error_node(c, v[PR_NAME], "name '%s' %s",
				   shown(c, text(v[PR_NAME])), why);
		else
			copy_str(pr->name, TL_NAME_MAX, text(v[PR_NAME]));
	}
	if (v[PR_LAN])
		pr->lan = enum_val(c, v[PR_LAN], "lan", lan, 2) == 1;
	if (v[PR_IPV6])
		pr->ipv6_block = enum_val(c, v[PR_IPV6], "ipv6", ipv6, 2) == 1;
	if (v[PR_DNS] && (i = enum_val(c, v[PR_DNS], "dns", dns, 3)) >= 0) {
		pr->dns = (enum tl_dns_mode)i;
		pr->dns_loc = node_loc(v[PR_DNS]);
	}
	if (v[PR_RAW_SOCKETS])
		pr->raw_allow =
		    enum_val(c, v[PR_RAW_SOCKETS], "raw_sockets", raw, 2) == 1;
	saved = push_key(c, "allow");
	if (v[PR_ALLOW])
		read_allows(c, v[PR_ALLOW], pr);
	pop(c, saved);
}

static void read_profiles(struct ctx *c, const struct ynode *n)
{
	struct tl_policy *p = c->p;
	size_t i, len = seq_len(n);

	if (!len) {
		error_node(c, n, "at least one profile is required");
		return;
	}
	if (len > TL_MAX_PROFILES) {
		error_node(c, seq_item(c, n, TL_MAX_PROFILES),
			   "too many profiles (at most %d)", TL_MAX_PROFILES);
		c->profiles_cut = true;
		len = TL_MAX_PROFILES;
	}
	p->profiles = calloc(len, sizeof(*p->profiles));
	if (!p->profiles) {
		c->oom = true;
		return;
	}
	p->nprofiles = len;
	/* a place for checks across profiles, whatever the item is */
	for (i = 0; i < len; i++)
		p->profiles[i].loc = node_loc(seq_item(c, n, i));
	read_list(c, n, len, T_MAP, read_profile, NULL);
}

/* ---- cgroups ---- */

static int find_profile(const struct tl_policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nprofiles; i++)
		if (p->profiles[i].name[0] &&
		    !strcmp(p->profiles[i].name, name))
			return (int)i;
	return -1;
}

/* The keys of a cgroup entry. */
enum { CG_PATH, CG_PROFILE, CG_EXEMPT, CG_NKEYS };

/* Returns false when the rule is not usable for the cross checks. */
static bool read_cgroup(struct ctx *c, const struct ynode *n,
			struct tl_cgroup_rule *r)
{
	static const struct key keys[] = {
	    [CG_PATH] = {"path", T_SCALAR, true},
	    [CG_PROFILE] = {"profile", T_SCALAR, false},
	    [CG_EXEMPT] = {"exempt", T_SCALAR, false},
	};
	struct ynode *v[CG_NKEYS];
	const char *why;
	bool ok = false;

	r->loc = node_loc(n);
	r->profile = -1;
	get_keys(c, n, keys, v);
	if (v[CG_PATH]) {
		r->loc = node_loc(v[CG_PATH]);
		why = check_cgroup_path(text(v[CG_PATH]), true);
		if (why)
			error_node(c, v[CG_PATH], "path '%s' %s",
				   shown(c, text(v[CG_PATH])), why);
		else if (!(r->path = strdup(text(v[CG_PATH]))))
			c->oom = true;
		ok = r->path != NULL;
	}
	if (v[CG_EXEMPT] && bool_val(c, v[CG_EXEMPT], &r->exempt))
		return false;
	if (v[CG_PROFILE] && r->exempt) {
		error_node(c, n,
			   "give either 'profile' or 'exempt: true', not both");
		return false;
	}
	if (!v[CG_PROFILE] && !r->exempt) {
		if (!v[CG_EXEMPT])
			error_node(c, n, "needs 'profile' or 'exempt: true'");
		else
			error_node(c, n, "'exempt: false' needs a 'profile'");
		return false;
	}
	if (v[CG_PROFILE]) {
		r->profile = find_profile(c->p, text(v[CG_PROFILE]));
		if (r->profile < 0) {
			error_node(c, v[CG_PROFILE], "unknown profile '%s'",
				   shown(c, text(v[CG_PROFILE])));
			return false;
		}
	}
	return ok;
}

/* A cgroup entry, kept only when usable for the cross checks. */
static void read_cgroup_item(struct ctx *c, struct ynode *item, size_t i,
			     void *arg)
{
	struct tl_cgroup_rule *r = &c->p->cgroups[c->p->ncgroups];

	(void)i;
	(void)arg;
	if (read_cgroup(c, item, r)) {
		c->p->ncgroups++;
		return;
	}
	free(r->path);
	memset(r, 0, sizeof(*r));
}

static void read_cgroups(struct ctx *c, const struct ynode *n)
{
	struct tl_policy *p = c->p;
	size_t len = seq_len(n);

	if (len > TL_MAX_CGROUPS) {
		error_node(c, seq_item(c, n, TL_MAX_CGROUPS),
			   "too many cgroup entries (at most %d)",
			   TL_MAX_CGROUPS);
		len = TL_MAX_CGROUPS;
	}
	if (!len)
		return;
	p->cgroups = calloc(len, sizeof(*p->cgroups));
	if (!p->cgroups) {
		c->oom = true;
		return;
	}
	read_list(c, n, len, T_MAP, read_cgroup_item, NULL);
}

/* ---- events ---- */

/* The keys of events. */
enum { EV_RATE, EV_BURST, EV_NKEYS };

/* events: {rate: N, burst: M}: how many events per reason reach the feed. */
static void read_events(struct ctx *c, const struct ynode *n)
{
	static const struct key keys[] = {
	    [EV_RATE] = {"rate", T_SCALAR, false},
	    [EV_BURST] = {"burst", T_SCALAR, false},
	};
	struct tl_policy *p = c->p;
	struct ynode *v[EV_NKEYS];
	size_t saved;

	get_keys(c, n, keys, v);
	saved = push_key(c, "rate");
	if (v[EV_RATE])
		uint_in(c, v[EV_RATE], "rate", 0, TL_EVENT_RATE_MAX,
			&p->event_rate);
	pop(c, saved);
	saved = push_key(c, "burst");
	if (v[EV_BURST])
		uint_in(c, v[EV_BURST], "burst", 1, TL_EVENT_BURST_MAX,
			&p->event_burst);
	pop(c, saved);
}

/* ---- DNS ---- */

/* A DNS port, kept when it parsed and is new. */
static void read_dns_port(struct ctx *c, struct ynode *item, size_t i, void *arg)
{
	struct tl_policy *p = c->p;
	uint16_t port;

	(void)i;
	(void)arg;
	if (port_val(c, item, text(item), &port))
		return;
	if (tl_policy_dns_port(p, port))
		error_node(c, item, "duplicate DNS port %u", port);
	else
		p->dns_ports[p->ndns_ports++] = port;
}

/* What a DNS query is: UDP or TCP to one of these destination ports. */
static void read_dns_ports(struct ctx *c, const struct ynode *n)
{
	struct tl_policy *p = c->p;
	size_t len = seq_len(n);

	if (!len) {
		error_node(c, n,
			   "an empty list recognises no DNS at all; omit "
			   "'dns_ports' for the default [53, 853]");
		return;
	}
	if (len > TL_MAX_DNS_PORTS) {
		error_node(c, seq_item(c, n, TL_MAX_DNS_PORTS),
			   "too many DNS ports (at most %d)", TL_MAX_DNS_PORTS);
		return;
	}
	p->ndns_ports = 0;
	read_list(c, n, len, T_SCALAR, read_dns_port, NULL);
	if (!tl_policy_dns_port(p, 53))
		warn_at(c, node_loc(n),
			"port 53 is not listed: plain DNS queries would not be "
			"recognised as DNS");
}

/*
 * The skb->mark bits that carry a container's port index from where its
 * packets come in to where they leave: contiguous, at most 12 bits (the
 * port table), and nothing else on the host may use them.
 */
static void read_container_mark(struct ctx *c, const struct ynode *n)
{
	uint64_t v;
	uint32_t low;
	int r;

	r = tl_parse_uint(text(n), true, UINT32_MAX, &v);
	if (r == -1) {
		error_node(c, n,
			   "container_mark '%s' is not a number (decimal or "
			   "0x hex)",
			   shown(c, text(n)));
		return;
	}
	if (r == -2) {
		error_node(c, n, "container_mark %s does not fit in 32 bits",
			   shown(c, text(n)));
		return;
	}
	low = (uint32_t)v & -(uint32_t)v;
	if (!v || ((v + low) & v)) {
		error_node(c, n,
			   "container_mark %s must be one run of contiguous "
			   "bits, such as 0xff000000",
			   shown(c, text(n)));
		return;
	}
	if (__builtin_popcount((uint32_t)v) > 12) {
		error_node(c, n,
			   "container_mark %s has more than 12 bits (at most "
			   "%d container namespaces)",
			   shown(c, text(n)), TL_MAX_PORTS - 1);
		return;
	}
	c->p->container_mark = (uint32_t)v;
	c->p->container_mark_loc = node_loc(n);
}

/* The keys of the top level. */
enum {
	ROOT_MODE,
	ROOT_ATTACH_CGROUP,
	ROOT_NO_SOCKET,
	ROOT_TUNNELS,
	ROOT_PROFILES,
	ROOT_CGROUPS,
	ROOT_EVENTS,
	ROOT_DNS_PORTS,
	ROOT_CONTAINER_MARK,
	ROOT_NKEYS
};

void read_root(struct ctx *c, const struct ynode *root)
{
	static const struct key keys[] = {
	    [ROOT_MODE] = {"mode", T_SCALAR, false},
	    [ROOT_ATTACH_CGROUP] = {"attach_cgroup", T_SCALAR, false},
	    [ROOT_NO_SOCKET] = {"no_socket", T_SCALAR, false},
	    [ROOT_TUNNELS] = {"tunnels", T_SEQ, true},
	    [ROOT_PROFILES] = {"profiles", T_SEQ, true},
	    [ROOT_CGROUPS] = {"cgroups", T_SEQ, false},
	    [ROOT_EVENTS] = {"events", T_MAP, false},
	    [ROOT_DNS_PORTS] = {"dns_ports", T_SEQ, false},
	    [ROOT_CONTAINER_MARK] = {"container_mark", T_SCALAR, false},
	};
	/* the sections that are lists or mappings, in the order read */
	static const struct {
		int key;
		void (*read)(struct ctx *c, const struct ynode *n);
	} sections[] = {
	    {ROOT_TUNNELS, read_tunnels},     {ROOT_PROFILES, read_profiles},
	    {ROOT_CGROUPS, read_cgroups},     {ROOT_EVENTS, read_events},
	    {ROOT_DNS_PORTS, read_dns_ports},
	};
	static const char *const modes[] = {"enforce", "audit"};
	static const char *const nosock[] = {"enforce", "allow"};
	struct tl_policy *p = c->p;
	struct ynode *v[ROOT_NKEYS];
	const char *why;
	int i;

	if (!want(c, root, T_MAP))
		return;
	get_keys(c, root, keys, v);
	if (v[ROOT_MODE] &&
	    (i = enum_val(c, v[ROOT_MODE], "mode", modes, 2)) >= 0)
		p->mode = i ? TL_MODE_AUDIT : TL_MODE_ENFORCE;
	if (v[ROOT_ATTACH_CGROUP]) {
		why = check_cgroup_path(text(v[ROOT_ATTACH_CGROUP]), false);
		if (why)
			error_node(c, v[ROOT_ATTACH_CGROUP],
				   "attach_cgroup '%s' %s",
				   shown(c, text(v[ROOT_ATTACH_CGROUP])), why);
		else
			copy_str(p->attach_cgroup, TL_GLOB_MAX,
				 text(v[ROOT_ATTACH_CGROUP]));
	}
	if (v[ROOT_NO_SOCKET] &&
	    (i = enum_val(c, v[ROOT_NO_SOCKET], "no_socket", nosock, 2)) >= 0)
		p->no_socket_allow = i == 1;
	if (v[ROOT_CONTAINER_MARK])
		read_container_mark(c, v[ROOT_CONTAINER_MARK]);
	/* profiles before cgroups, which name them */
	for (size_t k = 0; k < ARRAY_SIZE(sections); k++) {
		int key = sections[k].key;
		size_t saved = push_key(c, keys[key].name);

		if (v[key])
			sections[k].read(c, v[key]);
		pop(c, saved);
	}
}
