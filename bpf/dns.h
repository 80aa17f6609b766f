/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * DNS outside the tunnel: which flows are queries, what the profile does
 * with them (block or redirect), and which tunnel resolver a redirected
 * query goes to. What a socket's redirects asked for is dns_records.h's.
 */
#ifndef TL_BPF_DNS_H
#define TL_BPF_DNS_H

#include "flow.h"
#include "subject.h"
#include "links.h"

/* A DNS query: UDP or TCP (the only flows with ports) to a policy DNS port. */
static __always_inline bool flow_is_dns(const struct tl_settings *cfg,
					const struct tl_flow *f)
{
	__u32 i;

	if (!f->has_ports)
		return false;
	for (i = 0; i < TL_MAX_DNS_PORTS; i++) {
		if (i >= cfg->ndns_ports)
			break;
		if (cfg->dns_ports[i] == f->dport)
			return true;
	}
	return false;
}

enum tl_dns_action {
	TL_DNS_NONE = 0, /* not a query the profile's DNS action decides */
	TL_DNS_BLOCK,
	TL_DNS_REDIRECT,
};

/*
 * What the profile does with a DNS query outside the tunnel. The VPN client
 * is left to its profile's ordinary rules (it may have to resolve its
 * endpoint before the tunnel is up), and so are profiles that say
 * "dns: ordinary"; the caller has let exempt cgroups go already.
 */
static __always_inline __u32 dns_action(struct tl_policy_view *v,
					const struct tl_flow *f,
					const struct tl_subject *s)
{
	__u32 flags;

	if (s->entry.client_of || !flow_is_dns(v->settings, f))
		return TL_DNS_NONE;
	flags = profile_flags(v, s->entry.profile);
	if (flags & TL_PROFILE_DNS_ORDINARY)
		return TL_DNS_NONE;
	return flags & TL_PROFILE_DNS_REDIRECT ? TL_DNS_REDIRECT : TL_DNS_BLOCK;
}

static __always_inline bool words_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

static __always_inline bool addr_eq(const __u32 *a, const union tl_addr *b)
{
	return a[0] == b->w[0] && a[1] == b->w[1] && a[2] == b->w[2] &&
	       a[3] == b->w[3];
}

/*
 * One of the policy's tunnel resolvers, whether its tunnel is up or not.
 * This and pick_resolver() are global functions: the verifier checks each
 * once, not again on every path that reaches a DNS query (the socket
 * layer's programs verified three to four times as many instructions with
 * them inline). Only a DNS query calls them.
 */
__noinline int is_tunnel_resolver(const struct tl_settings *cfg,
				  const union tl_addr *a)
{
	__u32 i;

	if (!cfg || !a)
		return false;

	/* unrolled: a loop entered past its top is refused by Linux 6.1's
	 * check_cfg (a fall-through back-edge) */
#pragma unroll
	for (i = 0; i < TL_MAX_RESOLVERS; i++) {
		if (i >= cfg->nresolvers)
			break;
		if (addr_eq(cfg->resolvers[i].addr, a))
			return true;
	}
	return false;
}

/* Where a redirected query goes. */
struct tl_dns_target {
	union tl_addr addr;
	__u16 port;  /* host byte order */
	bool found;
	__u32 index; /* the resolver's place in the policy */
};

/*
 * A resolver can take the query: its tunnel is up and carries the query's
 * family (IPv4-mapped counts as IPv4: that is what goes on the wire). An
 * IPv6 query has no IPv4 target: the kernel cannot send an unconnected IPv6
 * socket's datagram to a mapped address, so it is blocked rather than sent
 * anywhere.
 */
static __always_inline bool resolver_serves(const struct tl_resolver *r,
					    const struct tl_flow *f)
{
	bool v4 = f->family == AF_INET;

	return addr_is_v4((const union tl_addr *)r->addr) == v4 &&
	       tunnel_has(r->tunnel, TL_TUNNEL_UP | (v4 ? TL_TUNNEL_IPV4 :
							  TL_TUNNEL_IPV6));
}

/* Resolver i; DNS over TLS keeps port 853, the rest go to 53. */
static __always_inline void set_dns_target(struct tl_dns_target *t,
					   const struct tl_settings *cfg,
					   __u32 i, const struct tl_flow *f)
{
	if (i >= TL_MAX_RESOLVERS)
		return;
	__builtin_memcpy(t->addr.w, cfg->resolvers[i].addr, 16);
	t->port = f->dport == 853 ? 853 : 53;
	t->found = true;
	t->index = i;
}

/*
 * Resolver i of the policy stands for another server than f's in this
 * socket's records (a record of another policy's resolver i does not).
 */
static __always_inline bool resolver_taken(const struct tl_settings *cfg,
					   const struct tl_dns_records *rs,
					   __u32 i, const struct tl_flow *f,
					   __u16 port)
{
	const struct tl_dns_record *d;

	if (i >= TL_MAX_RESOLVERS)
		return false;
	d = &rs->rec[i];
	return d->resolver_port == port &&
	       words_eq(d->resolver, cfg->resolvers[i].addr) &&
	       (d->asked_port != f->dport || !addr_eq(d->asked, &f->daddr));
}

/* A walk over the policy's resolvers, one bpf_loop step each. */
struct resolver_walk {
	const struct tl_settings *cfg;
	const struct tl_flow *f;
	const struct tl_dns_records *rs; /* NULL: taken or not */
	__u32 from;			 /* the first index looked at */
	__u16 port;			 /* the query's port at the resolver */
	__u32 found;			 /* its index + 1; 0: none */
};

static long resolver_step(__u32 i, void *arg)
{
	struct resolver_walk *w = arg;
	const struct tl_settings *cfg = w->cfg;

	if (i >= TL_MAX_RESOLVERS || i >= cfg->nresolvers)
		return 1;
	if (i < w->from || !resolver_serves(&cfg->resolvers[i], w->f) ||
	    (w->rs && resolver_taken(cfg, w->rs, i, w->f, w->port)))
		return 0;
	w->found = i + 1;
	return 1;
}

/*
 * The first resolver from index from on, in policy order, that can take
 * the query, and with rs, stands for no other server of the socket. A
 * bpf_loop: its step is verified once, where an unrolled loop was verified
 * once for each of the TL_MAX_RESOLVERS places (half of what the socket
 * layer cost to verify). Only a DNS query walks it.
 */
static __always_inline bool find_resolver(const struct tl_settings *cfg,
					  const struct tl_flow *f,
					  const struct tl_dns_records *rs,
					  __u32 from, struct tl_dns_target *t)
{
	struct resolver_walk w = {
		.cfg = cfg,
		.f = f,
		.rs = rs,
		.from = from,
		.port = t->port,
	};

	if (bpf_loop(TL_MAX_RESOLVERS, resolver_step, &w, 0) < 0 || !w.found)
		return false;
	set_dns_target(t, cfg, w.found - 1, f);
	return true;
}

/* The first resolver, in policy order, that can take the query. */
__noinline int pick_resolver(const struct tl_settings *cfg,
			     const struct tl_flow *f, struct tl_dns_target *t)
{
	if (!cfg || !f || !t)
		return false;
	return find_resolver(cfg, f, NULL, 0, t);
}

#endif
