/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A socket's network namespace for cgroup_skb, on kernels where that
 * program type may not call bpf_get_netns_cookie (6.12 may not, 6.18 may):
 * sock_create records it in the socket's storage, cgroup_skb reads it
 * back. The agent probes the helper and sets tl_skb_netns_from_sock in
 * both objects before loading; otherwise neither touches this map.
 */
#ifndef TL_BPF_SOCK_NETNS_H
#define TL_BPF_SOCK_NETNS_H

#include "common.h"

struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tl_sock_netns SEC(".maps");

/* Set by the agent when cgroup_skb lacks bpf_get_netns_cookie. */
const volatile bool tl_skb_netns_from_sock = false;

/* sock_create: remember the namespace the socket was made in */
static __always_inline void sock_netns_record(struct bpf_sock *sk)
{
	__u64 *ns;

	if (!tl_skb_netns_from_sock)
		return;
	ns = bpf_sk_storage_get(&tl_sock_netns, sk, NULL,
				BPF_SK_STORAGE_GET_F_CREATE);
	if (ns)
		*ns = bpf_get_netns_cookie(sk);
}

/*
 * cgroup_skb: the packet's namespace; where the kernel does not say, what
 * sock_create recorded, and for a socket made before tunlock attached (or
 * not a full socket) the agent's namespace, `dflt`.
 */
static __always_inline __u64 skb_netns(struct __sk_buff *skb, __u64 dflt)
{
	struct bpf_sock *sk;
	__u64 *ns;

	if (!tl_skb_netns_from_sock)
		return bpf_get_netns_cookie(skb);
	sk = skb->sk;
	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (!sk)
		return dflt;
	ns = bpf_sk_storage_get(&tl_sock_netns, sk, NULL, 0);
	return ns ? *ns : dflt;
}

#endif
