// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Checks that span entries (duplicates, overlaps, references), run after
 * the reading on whatever parsed cleanly. They stay O(n log n) where the
 * lists can be long: a profile may hold 100k allow CIDRs.
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "policy_int.h"

/* ---- checks across entries ---- */

/*
 * Names are unique among n entries of size bytes from base, each with a
 * name and a loc at the given offsets. At most 64 entries: quadratic is fine.
 */
static void check_unique_names(struct ctx *c, const void *base, size_t n,
			       size_t size, size_t name_off, size_t loc_off,
			       const char *what)
{
	const char *e = base;
	size_t i, j;

	for (i = 0; i < n; i++) {
		const char *name = e + i * size + name_off;

		for (j = 0; j < i && name[0]; j++) {
			const char *prev = e + j * size + name_off;
			const struct tl_loc *loc, *first;

			if (strcmp(name, prev))
				continue;
			loc = (const void *)(e + i * size + loc_off);
			first = (const void *)(e + j * size + loc_off);
			error_at(c, *loc,
				 "duplicate %s name '%s' (first at line %d)",
				 what, name, first->line);
			break;
		}
	}
}

#define check_names(c, arr, n, what)                                         \
	check_unique_names(c, arr, n, sizeof(*(arr)),                         \
			   offsetof(__typeof__(*(arr)), name),                \
			   offsetof(__typeof__(*(arr)), loc), what)

static bool endpoint_eq(const struct tl_endpoint_cfg *a,
			const struct tl_endpoint_cfg *b)
{
	return a->port == b->port && a->protocol == b->protocol &&
	       !memcmp(a->addr.addr, b->addr.addr, 16);
}

/* Every endpoint that parsed, with its tunnel, in file order. */
static void collect_endpoints(struct ctx *c)
{
	const struct tl_policy *p = c->p;
	size_t t, e;

	for (t = 0; t < p->ntunnels; t++) {
		for (e = 0; e < p->tunnels[t].nendpoints; e++) {
			if (!p->tunnels[t].endpoints[e].addr.family)
				continue;
			c->eps[c->neps].ep = &p->tunnels[t].endpoints[e];
			c->eps[c->neps].tunnel = &p->tunnels[t];
			c->neps++;
		}
	}
}

/* One endpoint map: an endpoint belongs to one tunnel, once. */
static void check_endpoints(struct ctx *c)
{
	size_t i, j;

	collect_endpoints(c);
	/* at most TL_MAX_ENDPOINTS: quadratic is fine */
	for (i = 0; i < c->neps; i++) {
		for (j = 0; j < i; j++) {
			if (!endpoint_eq(c->eps[i].ep, c->eps[j].ep))
				continue;
			error_at(c, c->eps[i].ep->loc,
				 "duplicate endpoint (first at line %d)",
				 c->eps[j].ep->loc.line);
			break;
		}
	}
}

/*
 * Processes that no entry covers get the profile of "/", or else a built-in
 * locked profile, which the agent puts in the slot after the last one.
 */
static void check_default(struct ctx *c)
{
	const struct tl_policy *p = c->p;

	if (p->default_profile >= 0 || p->nprofiles < TL_MAX_PROFILES ||
	    c->profiles_cut)
		return;
	error_at(c, p->profiles[TL_MAX_PROFILES - 1].loc,
		 "with %d profiles the built-in locked profile has no slot; "
		 "give the default with a 'path: /' cgroup entry",
		 TL_MAX_PROFILES);
}

static int cgroup_cmp(const void *a, const void *b)
{
	const struct tl_cgroup_rule *x =
	    *(const struct tl_cgroup_rule *const *)a;
	const struct tl_cgroup_rule *y =
	    *(const struct tl_cgroup_rule *const *)b;
	int r = strcmp(x->path, y->path);

	if (r)
		return r;
	return x < y ? -1 : x > y;
}

/* Up to 16k entries: sort, then equal paths are neighbours. */
static void check_cgroups(struct ctx *c)
{
	struct tl_policy *p = c->p;
	struct tl_cgroup_rule **s;
	size_t i;

	for (i = 0; i < p->ncgroups; i++) {
		struct tl_cgroup_rule *r = &p->cgroups[i];

		if (strcmp(r->path, "/"))
			continue;
		if (r->exempt)
			warn_at(c, r->loc,
				"exempting '/' leaves every process without a "
				"profile unprotected");
		else if (p->default_profile < 0)
			p->default_profile = r->profile;
	}
	if (p->ncgroups < 2)
		return;
	s = malloc(p->ncgroups * sizeof(*s));
	if (!s) {
		c->oom = true;
		return;
	}
	for (i = 0; i < p->ncgroups; i++)
		s[i] = &p->cgroups[i];
	qsort(s, p->ncgroups, sizeof(*s), cgroup_cmp);
	for (i = 1; i < p->ncgroups; i++)
		if (!strcmp(s[i]->path, s[i - 1]->path))
			error_at(
			    c, s[i]->loc,
			    "duplicate cgroup path '%s' (first at line %d)",
			    s[i]->path, s[i - 1]->loc.line);
	free(s);
}

/* Order of the 128-bit space: by address, then wider first. */
static int cidr_cmp(const struct tl_cidr *a, const struct tl_cidr *b)
{
	int r = memcmp(a->addr, b->addr, 16);

	if (r)
		return r;
	return (int)tl_cidr_full_plen(a) - (int)tl_cidr_full_plen(b);
}

static int rule_cmp(const void *a, const void *b)
{
	const struct tl_allow_rule *x = *(const struct tl_allow_rule *const *)a;
	const struct tl_allow_rule *y = *(const struct tl_allow_rule *const *)b;
	int r = cidr_cmp(&x->cidr, &y->cidr);

	if (r)
		return r;
	return x < y ? -1 : x > y; /* file order among equals */
}

/* Where rule r of profile pr stood (kept while reading). */
static const struct allow_loc *rule_loc(const struct ctx *c,
					const struct tl_profile_cfg *pr,
					const struct tl_allow_rule *r)
{
	return &c->allow_locs[pr - c->p->profiles][r - pr->allow];
}

static bool loc_before(struct tl_loc a, struct tl_loc b)
{
	return a.line < b.line || (a.line == b.line && a.col < b.col);
}

static void report_overlap(struct ctx *c, const struct tl_profile_cfg *pr,
			   const struct tl_allow_rule *x,
			   const struct tl_allow_rule *y)
{
	struct tl_loc xl = rule_loc(c, pr, x)->cidr, yl = rule_loc(c, pr, y)->cidr;
	char a[64], b[64];

	/* name the one further down the file: the other was there first */
	if (loc_before(xl, yl)) {
		const struct tl_allow_rule *t = x;
		struct tl_loc tl = xl;

		x = y;
		y = t;
		xl = yl;
		yl = tl;
	}
	tl_format_cidr(&x->cidr, a, sizeof(a));
	tl_format_cidr(&y->cidr, b, sizeof(b));
	if (!cidr_cmp(&x->cidr, &y->cidr))
		error_at(
		    c, xl,
		    "profile '%s': duplicate allow CIDR %s (first at line %d)",
		    pr->name, a, yl.line);
	else
		error_at(c, xl,
			 "profile '%s': allow CIDR %s overlaps %s (line %d)",
			 pr->name, a, b, yl.line);
}

/*
 * CIDRs are nested or disjoint. Sorted by address, wider first, each rule
 * that lies inside an earlier one lies inside the innermost rule still on
 * a stack of open containers. parent[] keeps that innermost container, so
 * the containers of any address form a chain.
 */
static void sweep_overlaps(struct ctx *c, const struct tl_profile_cfg *pr,
			   const struct tl_allow_rule **s, long *parent)
{
	size_t i, sp = 0, n = pr->nallow;
	long *stack = malloc(n * sizeof(*stack));

	if (!stack) {
		c->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		while (sp &&
		       !tl_cidr_contains(&s[stack[sp - 1]]->cidr, &s[i]->cidr))
			sp--;
		parent[i] = sp ? stack[sp - 1] : -1;
		if (sp)
			report_overlap(c, pr, s[i], s[stack[sp - 1]]);
		/* a duplicate's first stands for it: chains stay short */
		if (sp && !cidr_cmp(&s[stack[sp - 1]]->cidr, &s[i]->cidr))
			continue;
		stack[sp++] = (long)i;
	}
	free(stack);
}

/* Last rule at or before addr in sorted order; -1 when none. */
static long rule_floor(const struct tl_allow_rule **s, size_t n,
		       const struct tl_cidr *addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cidr_cmp(&s[mid]->cidr, addr) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/*
 * An allow rule around an endpoint would let every process of the profile
 * reach the VPN server outside the tunnel: the MUL-02-002 class. Every rule
 * holding the endpoint sorts at or before it and is an ancestor of the last
 * rule that does.
 */
static void check_endpoint_cover(struct ctx *c, const struct tl_profile_cfg *pr,
				 const struct tl_allow_rule **s,
				 const long *parent, const struct ep_ref *ref)
{
	const struct tl_cidr *addr = &ref->ep->addr;
	char a[64], e[64];
	long j;

	for (j = rule_floor(s, pr->nallow, addr); j >= 0; j = parent[j]) {
		if (!tl_cidr_contains(&s[j]->cidr, addr))
			continue;
		tl_format_cidr(&s[j]->cidr, a, sizeof(a));
		tl_format_addr(addr->addr, e, sizeof(e));
		error_at(c, rule_loc(c, pr, s[j])->cidr,
			 "profile '%s': allow CIDR %s contains endpoint %s of "
			 "tunnel '%s' (line %d): every process could reach it "
			 "outside the tunnel",
			 pr->name, a, e, ref->tunnel->name, ref->ep->loc.line);
	}
}

/* One LPM table serves both families, IPv4 mapped into IPv6. */
static void check_mapped_cover(struct ctx *c, const struct tl_profile_cfg *pr)
{
	static const struct tl_cidr mapped = {
	    .family = AF_INET6,
	    .prefixlen = 96,
	    .addr = {[10] = 0xff, [11] = 0xff},
	};
	char a[64];
	size_t i;

	for (i = 0; i < pr->nallow; i++) {
		const struct tl_allow_rule *r = &pr->allow[i];

		if (r->cidr.family != AF_INET6 ||
		    !tl_cidr_contains(&r->cidr, &mapped))
			continue;
		tl_format_cidr(&r->cidr, a, sizeof(a));
		error_at(c, rule_loc(c, pr, r)->cidr,
			 "profile '%s': IPv6 allow CIDR %s holds ::ffff:0:0/96 "
			 "and so all of IPv4; allow narrower IPv6 ranges (e.g. "
			 "2000::/3)",
			 pr->name, a);
	}
}

static void check_allows(struct ctx *c)
{
	const struct tl_policy *p = c->p;
	size_t i, k;

	for (k = 0; k < p->nprofiles; k++) {
		const struct tl_profile_cfg *pr = &p->profiles[k];
		const struct tl_allow_rule **s;
		long *parent;

		check_mapped_cover(c, pr);
		if (!pr->nallow)
			continue;
		s = malloc(pr->nallow * sizeof(*s));
		parent = malloc(pr->nallow * sizeof(*parent));
		if (!s || !parent) {
			c->oom = true;
			free(s);
			free(parent);
			return;
		}
		for (i = 0; i < pr->nallow; i++)
			s[i] = &pr->allow[i];
		qsort(s, pr->nallow, sizeof(*s), rule_cmp);
		sweep_overlaps(c, pr, s, parent);
		for (i = 0; i < c->neps; i++)
			check_endpoint_cover(c, pr, s, parent, &c->eps[i]);
		free(s);
		free(parent);
	}
}

/*
 * A port entry of nothing but DNS ports allows nothing in a profile whose
 * dns action decides DNS: the two rules contradict each other.
 */
static bool only_dns_ports(const struct tl_policy *p,
			   const struct tl_port_range *r)
{
	if (r->hi - r->lo >= TL_MAX_DNS_PORTS)
		return false;
	for (unsigned port = r->lo; port <= r->hi; port++)
		if (!tl_policy_dns_port(p, (uint16_t)port))
			return false;
	return true;
}

static void check_dns_allows(struct ctx *c, const struct tl_profile_cfg *pr)
{
	for (size_t i = 0; i < pr->nallow; i++) {
		const struct tl_allow_rule *r = &pr->allow[i];
		char a[64];

		const struct tl_port_range *ports = tl_allow_ports(pr, r);

		for (int k = 0; k < r->nports; k++) {
			if (!only_dns_ports(c->p, &ports[k]))
				continue;
			tl_format_cidr(&r->cidr, a, sizeof(a));
			error_at(c, rule_loc(c, pr, r)->ports,
				 "profile '%s': allow rule for %s names DNS "
				 "port %u, but 'dns: %s' decides DNS outside "
				 "the tunnel; a profile that must reach this "
				 "resolver needs 'dns: ordinary'",
				 pr->name, a, ports[k].lo,
				 tl_dns_mode_name(pr->dns));
			break;
		}
	}
}

/* Redirect needs somewhere to go; allow rules must not undo the dns action. */
static void check_dns(struct ctx *c)
{
	const struct tl_policy *p = c->p;
	size_t nres = 0, nres4 = 0;

	for (size_t t = 0; t < p->ntunnels; t++) {
		nres += p->tunnels[t].nresolvers;
		for (size_t i = 0; i < p->tunnels[t].nresolvers; i++)
			nres4 += p->tunnels[t].resolvers[i].family == AF_INET;
	}
	for (size_t k = 0; k < p->nprofiles; k++) {
		const struct tl_profile_cfg *pr = &p->profiles[k];

		if (pr->dns == TL_DNS_MODE_REDIRECT && !nres)
			error_at(c, pr->dns_loc,
				 "profile '%s': 'dns: redirect' needs a tunnel "
				 "resolver, and no tunnel lists 'resolvers'",
				 pr->name);
		else if (pr->dns == TL_DNS_MODE_REDIRECT && !nres4)
			warn_at(c, pr->dns_loc,
				"profile '%s': no tunnel has an IPv4 resolver: "
				"IPv4 DNS queries are blocked, not redirected",
				pr->name);
		if (pr->dns != TL_DNS_MODE_ORDINARY)
			check_dns_allows(c, pr);
	}
}

/* A VPN client's fwmark is an identity: it must not share the bits that
 * stamp containers' traffic. */
static void check_container_mark(struct ctx *c)
{
	const struct tl_policy *p = c->p;

	for (size_t t = 0; t < p->ntunnels; t++) {
		const struct tl_tunnel_cfg *tn = &p->tunnels[t];

		if (!tn->has_fwmark || !(tn->fwmark & p->container_mark))
			continue;
		error_at(c,
			 p->container_mark_loc.line ? p->container_mark_loc
						    : tn->loc,
			 "container_mark 0x%x shares bits with fwmark 0x%x of "
			 "tunnel '%s'; the container_mark bits are tunlock's "
			 "alone",
			 p->container_mark, tn->fwmark, tn->name);
	}
}

void check_entries(struct ctx *c)
{
	check_names(c, c->p->tunnels, c->p->ntunnels, "tunnel");
	check_names(c, c->p->profiles, c->p->nprofiles, "profile");
	check_endpoints(c);
	check_cgroups(c);
	check_default(c);
	check_allows(c);
	check_dns(c);
	check_container_mark(c);
}
