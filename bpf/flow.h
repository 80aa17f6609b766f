/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What a verdict is made of: the flow as every layer sees it. */
#ifndef TL_BPF_FLOW_H
#define TL_BPF_FLOW_H

#include "common.h"

union tl_addr {
	__u8 b[16];
	__u32 w[4];
};

struct tl_flow {
	union tl_addr saddr; /* IPv4 kept IPv4-mapped */
	union tl_addr daddr;
	__u16 sport; /* host byte order */
	__u16 dport;
	__u16 ethertype; /* frames that are not IP (TC only) */
	__u8 family;	 /* AF_INET, AF_INET6, 0 when not IP */
	__u8 protocol;
	__u8 has_ports;	 /* ports parsed (not a later fragment) */
	__u8 icmp_type;
	__u8 has_icmp_type;
	__u8 fragment;	 /* a later fragment: no transport header */
	__u8 frag_first; /* the first fragment of a datagram */
	__u8 frag_proto; /* fragments: IPv4 protocol, IPv6 fragment's next */
	__u16 l4_off;	 /* where the transport header starts (parse.h's
			  * IPv6 walk keeps its offset here) */
	__u16 frag_off;	 /* a later fragment's offset, in bytes */
	__u16 l3_off;	 /* the IP header, or a non-IP frame's message */
	__u32 frag_id;	 /* fragments: the datagram's identification */
};

static __always_inline void addr_set_v4(union tl_addr *a, __u32 be_addr)
{
	a->w[0] = 0;
	a->w[1] = 0;
	a->w[2] = bpf_htonl(0x0000ffff);
	a->w[3] = be_addr;
}

static __always_inline bool addr_is_v4(const union tl_addr *a)
{
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == bpf_htonl(0x0000ffff);
}

static __always_inline bool addr_is_loopback(const union tl_addr *a)
{
	if (addr_is_v4(a))
		return (bpf_ntohl(a->w[3]) >> 24) == 127;
	return a->w[0] == 0 && a->w[1] == 0 && a->w[2] == 0 &&
	       a->w[3] == bpf_htonl(1);
}

static __always_inline bool v4_in(__u32 host_addr, __u32 net, int len)
{
	return (host_addr >> (32 - len)) == (net >> (32 - len));
}

/* The fixed LAN ranges of the policy reference; never learned from routes. */
static __always_inline bool addr_is_lan(const union tl_addr *a)
{
	if (addr_is_v4(a)) {
		__u32 h = bpf_ntohl(a->w[3]);

		return v4_in(h, 0x0a000000, 8) ||  /* 10/8 */
		       v4_in(h, 0xac100000, 12) || /* 172.16/12 */
		       v4_in(h, 0xc0a80000, 16) || /* 192.168/16 */
		       v4_in(h, 0xa9fe0000, 16) || /* 169.254/16 */
		       v4_in(h, 0xe0000000, 4) ||  /* 224/4 */
		       h == 0xffffffff;
	}
	return (a->b[0] & 0xfe) == 0xfc ||			/* fc00::/7 */
	       (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) || /* fe80::/10 */
	       a->b[0] == 0xff;					/* ff00::/8 */
}

static __always_inline bool addr_is_multicast(const union tl_addr *a)
{
	if (addr_is_v4(a))
		return (bpf_ntohl(a->w[3]) >> 28) == 0xe;
	return a->b[0] == 0xff;
}

/* Multicast discovery that names the host on the LAN: mDNS, LLMNR, SSDP. */
static __always_inline bool flow_is_discovery(const struct tl_flow *f)
{
	if (f->protocol != IPPROTO_UDP || !f->has_ports ||
	    !addr_is_multicast(&f->daddr))
		return false;
	return f->dport == 5353 || f->dport == 5355 || f->dport == 1900;
}

static __always_inline bool flow_is_ipv6(const struct tl_flow *f)
{
	return f->family == AF_INET6 && !addr_is_v4(&f->daddr);
}

#endif
