/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Constants the BPF side needs that vmlinux.h does not carry (macros). */
#ifndef TL_BPF_COMMON_H
#define TL_BPF_COMMON_H

#include "../vmlinux/vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_core_read.h>

#include "../include/tunlock.h"

#define AF_INET 2
#define AF_INET6 10

#define ETH_P_IP 0x0800
#define ETH_P_ARP 0x0806
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8
#define ETH_P_IPV6 0x86DD
#define ETH_P_PAE 0x888E /* EAPOL */
#define ETH_P_PPP_DISC 0x8863 /* PPPoE discovery */
#define ETH_P_PPP_SES 0x8864  /* PPPoE session */
#define ETH_P_LLDP 0x88CC
#define ETH_HLEN 14

#define TC_ACT_OK 0
#define TC_ACT_SHOT 2

#define SK_DROP 0
#define SK_PASS 1

#define EPERM 1
#define ENETUNREACH 101

#define IP_MF 0x2000
#define IP_OFFSET 0x1FFF

#define NEXTHDR_HOP 0
#define NEXTHDR_ROUTING 43
#define NEXTHDR_FRAGMENT 44
#define NEXTHDR_AUTH 51
#define NEXTHDR_NONE 59
#define NEXTHDR_DEST 60

#define LOOPBACK_IFINDEX 1

/* vmlinux.h has IPPROTO_* for IPv4 only */
#define IPPROTO_ICMPV6 58

/*
 * skb->data and skb->data_end as one load each from a constant offset:
 * clang may otherwise merge several inlined reads into a load through a
 * computed context pointer, which the verifier refuses.
 */
#define TL_CTX_LOAD(skb, field)                                                \
	({                                                                     \
		__u64 __v;                                                     \
		asm volatile("%0 = *(u32 *)(%1 + %2)"                          \
			     : "=r"(__v)                                       \
			     : "r"(skb),                                       \
			       "i"(__builtin_offsetof(struct __sk_buff, field))); \
		(void *)(long)__v;                                             \
	})
#define skb_data(skb) TL_CTX_LOAD(skb, data)
#define skb_data_end(skb) TL_CTX_LOAD(skb, data_end)

#endif
