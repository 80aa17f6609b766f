/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a socket's redirected DNS queries asked for, in the socket's own
 * storage (tl_dns_records): recvmsg and getpeername show the answer as
 * coming from the server the application asked, which resolvers (dnsmasq,
 * glibc for unconnected sockets) insist on. No other socket's queries can
 * push a record out. One record per tunnel resolver: a query that goes to a
 * resolver which already stands for another server of the same socket would
 * make one of the two answers look as if it came from the wrong server, so
 * such a query goes to another resolver of an up tunnel where there is one.
 * Without a record an answer reads as the tunnel resolver's, and the
 * application drops it: the query fails, nothing leaks.
 */
#ifndef TL_BPF_DNS_RECORDS_H
#define TL_BPF_DNS_RECORDS_H

#include "report.h"

#define TL_NO_RESOLVER TL_MAX_RESOLVERS

static __always_inline bool words_eq(const __u32 *a, const __u32 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3];
}

/* The socket's record for resolver a:port, or NULL. */
static __always_inline struct tl_dns_record *
find_dns_record(struct tl_dns_records *rs, const union tl_addr *a, __u16 port)
{
	__u32 i;

	for (i = 0; i < TL_DNS_RECORDS; i++) {
		struct tl_dns_record *d = &rs->rec[i];

		if (d->resolver_port == port && addr_eq(d->resolver, a))
			return d;
	}
	return NULL;
}

/*
 * Where this socket's query to f goes, among the resolvers that can take it
 * (t holds the first of them): the one that already stands for the server
 * asked; else the first, in policy order, that stands for no other server
 * of this socket; else the one whose record is the oldest.
 */
static __always_inline __u32 choose_resolver(struct tl_policy_view *v,
					     const struct tl_flow *f,
					     struct tl_dns_records *rs,
					     struct tl_dns_target *t)
{
	struct tl_settings *cfg = v->settings;
	__u32 busy = 0, oldest = TL_NO_RESOLVER, oldest_used = ~0u, i, idx;

	for (i = 0; i < TL_DNS_RECORDS; i++) {
		struct tl_dns_record *d = &rs->rec[i];

		idx = d->index;
		if (d->resolver_port != t->port || idx >= TL_MAX_RESOLVERS ||
		    idx >= cfg->nresolvers)
			continue;
		/* the index is a hint: the policy may have changed since */
		if (!words_eq(cfg->resolvers[idx].addr, d->resolver) ||
		    !resolver_serves(&cfg->resolvers[idx], f))
			continue;
		if (d->asked_port == f->dport && addr_eq(d->asked, &f->daddr))
			goto found;
		busy |= 1u << idx;
		if (d->used < oldest_used) {
			oldest_used = d->used;
			oldest = idx;
		}
	}
	for (idx = 0; idx < TL_MAX_RESOLVERS; idx++) {
		if (idx >= cfg->nresolvers)
			break;
		if (!(busy & (1u << idx)) &&
		    resolver_serves(&cfg->resolvers[idx], f))
			goto found;
	}
	idx = oldest;
	if (idx >= TL_MAX_RESOLVERS)
		return TL_NO_RESOLVER; /* keep t */
found:
	set_dns_target(t, &cfg->resolvers[idx], f);
	return idx;
}

/*
 * Records that the query to f went to t instead: in t's record, else in a
 * free one, else in the socket's oldest.
 */
static __always_inline void record_dns(struct tl_dns_records *rs,
				       const struct tl_dns_target *t,
				       __u32 index, const struct tl_flow *f)
{
	struct tl_dns_record *d = NULL, *free = NULL, *oldest = NULL;
	__u32 i;

	for (i = 0; i < TL_DNS_RECORDS; i++) {
		struct tl_dns_record *e = &rs->rec[i];

		if (e->resolver_port == t->port && addr_eq(e->resolver, &t->addr)) {
			d = e;
			break;
		}
		if (!e->resolver_port) {
			if (!free)
				free = e;
		} else if (!oldest || e->used < oldest->used) {
			oldest = e;
		}
	}
	if (!d)
		d = free ? free : oldest;
	if (!d)
		return;
	__builtin_memcpy(d->resolver, t->addr.w, 16);
	__builtin_memcpy(d->asked, f->daddr.w, 16);
	d->resolver_port = t->port;
	d->asked_port = f->dport;
	d->index = index;
	d->used = ++rs->queries;
}

/* The socket's records, made on first use when create is set. */
static __always_inline struct tl_dns_records *
dns_records(struct bpf_sock_addr *ctx, bool create)
{
	struct bpf_sock *sk = ctx->sk;

	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&tl_dns_records, sk, NULL,
				  create ? BPF_SK_STORAGE_GET_F_CREATE : 0);
}

#endif
