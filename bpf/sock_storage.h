/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the socket layer keeps in each socket's own storage, gone with the
 * socket: who created it (tl_sock_owners, cgroup/sock_create), for the
 * packet layers' events, which run where current is unknown; and what its
 * redirected DNS queries asked for (tl_dns_records, dns_records.h), for
 * recvmsg and getpeername to undo.
 */
#ifndef TL_BPF_SOCK_STORAGE_H
#define TL_BPF_SOCK_STORAGE_H

#include "common.h"

/* Who created the socket: its process id and name. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_sock_owner);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_sock_owners SEC(".maps");

/* Who created the socket of a packet, recorded by cgroup/sock_create. */
static __always_inline struct tl_sock_owner *skb_owner(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;

	if (!sk)
		return NULL;
	sk = bpf_sk_fullsock(sk);
	if (!sk)
		return NULL;
	return bpf_sk_storage_get(&tl_sock_owners, sk, NULL, 0);
}

/* Redirected DNS queries, one record per tunnel resolver. */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct tl_dns_records);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_dns_records SEC(".maps");

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
