/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What a socket's redirected DNS queries asked for, in the socket's own
 * storage (tl_dns_records): recvmsg and getpeername show the answer as
 * coming from the server the application asked, which resolvers (dnsmasq,
 * glibc for unconnected sockets) insist on. No other socket's queries can
 * push a record out. One record per tunnel resolver, at its place in the
 * policy: a query that would go to a resolver which already stands for
 * another server of the same socket goes to the next resolver of an up
 * tunnel that stands for none, where there is one; else the first takes
 * it, and the answer of the server it stood for reads as the new one's (the
 * client drops it and retries). Without a record an answer reads as the
 * tunnel resolver's, and the application drops it: nothing leaks.
 */
#ifndef TL_BPF_DNS_RECORDS_H
#define TL_BPF_DNS_RECORDS_H

#include "dns.h"
#include "sock_storage.h"

/* The socket's record for resolver a:port, or NULL. */
static __always_inline struct tl_dns_record *
find_dns_record(struct tl_dns_records *rs, const union tl_addr *a, __u16 port)
{
	__u32 i;

	/* unrolled: a loop entered past its top is refused by Linux 6.1's
	 * check_cfg (a fall-through back-edge) */
#pragma unroll
	for (i = 0; i < TL_MAX_RESOLVERS; i++) {
		struct tl_dns_record *d = &rs->rec[i];

		if (d->resolver_port == port && addr_eq(d->resolver, a))
			return d;
	}
	return NULL;
}

/*
 * Where this socket's query to f goes: t (the first resolver that can take
 * it) unless that one stands for another server of the socket; then the
 * next one, in policy order, that can take it and stands for none.
 */
static __always_inline void choose_resolver(const struct tl_settings *cfg,
					    const struct tl_flow *f,
					    const struct tl_dns_records *rs,
					    struct tl_dns_target *t)
{
	if (resolver_taken(cfg, rs, t->index, f, t->port))
		find_resolver(cfg, f, rs, t->index + 1, t);
}

/*
 * The two entry points are global functions, each verified once on its own:
 * inlined, their loops would be walked again for every state in which the
 * socket programs reach them.
 */

/* Sends f to t or, for this socket, a better resolver, and records it. */
__noinline int tl_dns_record(struct bpf_sock_addr *ctx, struct tl_settings *cfg,
			     const struct tl_flow *f, struct tl_dns_target *t)
{
	struct tl_dns_records *rs;
	struct tl_dns_record *d;

	if (!ctx || !cfg || !f || !t)
		return 0;
	rs = dns_records(ctx, true);
	if (!rs)
		return 0;
	choose_resolver(cfg, f, rs, t);
	if (t->index >= TL_MAX_RESOLVERS)
		return 0;
	d = &rs->rec[t->index];
	__builtin_memcpy(d->resolver, t->addr.w, 16);
	__builtin_memcpy(d->asked, f->daddr.w, 16);
	d->resolver_port = t->port;
	d->asked_port = f->dport;
	return 1;
}

/*
 * A query the socket sends to a tunnel resolver itself (f): its answer is
 * that resolver's, so an earlier redirect's record must not rewrite it.
 */
__noinline int tl_dns_forget(struct bpf_sock_addr *ctx, const struct tl_flow *f)
{
	struct tl_dns_records *rs;
	struct tl_dns_record *d;

	if (!ctx || !f)
		return 0;
	rs = dns_records(ctx, false);
	d = rs ? find_dns_record(rs, &f->daddr, f->dport) : NULL;
	if (d)
		d->resolver_port = 0;
	return 0;
}

#endif
