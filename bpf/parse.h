/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing shared by the cgroup_skb and TC layers. Reads go through
 * bpf_skb_load_bytes so that non-linear skbs and malformed lengths are
 * handled in one place; a header that is not all there is malformed.
 */
#ifndef TL_BPF_PARSE_H
#define TL_BPF_PARSE_H

#include "flow.h"

enum tl_parse_result {
	TL_PARSE_OK = 0,
	TL_PARSE_NOT_IP,    /* ARP, EAPOL, other ethertypes: see flow.ethertype */
	TL_PARSE_MALFORMED, /* truncated or inconsistent headers */
};

#define TL_MAX_VLAN_TAGS 2
#define TL_MAX_IPV6_EXT 8

struct tl_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* Ports and ICMP type of the transport header at off. */
static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off,
				    struct tl_flow *f)
{
	__be16 ports[2];
	__u8 type;

	switch (f->protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
			return TL_PARSE_MALFORMED;
		f->sport = bpf_ntohs(ports[0]);
		f->dport = bpf_ntohs(ports[1]);
		f->has_ports = 1;
		return TL_PARSE_OK;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		if (bpf_skb_load_bytes(skb, off, &type, 1))
			return TL_PARSE_MALFORMED;
		f->icmp_type = type;
		f->has_icmp_type = 1;
		return TL_PARSE_OK;
	}
	return TL_PARSE_OK;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off,
				      struct tl_flow *f)
{
	struct iphdr ip;
	__u32 hlen;

	if (bpf_skb_load_bytes(skb, off, &ip, sizeof(ip)))
		return TL_PARSE_MALFORMED;
	hlen = ip.ihl * 4;
	if (ip.version != 4 || hlen < sizeof(ip))
		return TL_PARSE_MALFORMED;
	f->family = AF_INET;
	f->protocol = ip.protocol;
	addr_set_v4(&f->saddr, ip.saddr);
	addr_set_v4(&f->daddr, ip.daddr);
	if (bpf_ntohs(ip.frag_off) & IP_OFFSET) {
		f->fragment = 1;
		return TL_PARSE_OK;
	}
	return parse_l4(skb, off + hlen, f);
}

/* Walks the extension header chain to the transport header. */
static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off,
				      struct tl_flow *f)
{
	struct ipv6hdr ip6;
	__u8 ext[2];
	__be16 frag_off;
	__u8 next;
	int i;

	if (bpf_skb_load_bytes(skb, off, &ip6, sizeof(ip6)))
		return TL_PARSE_MALFORMED;
	if (ip6.version != 6)
		return TL_PARSE_MALFORMED;
	f->family = AF_INET6;
	__builtin_memcpy(f->saddr.b, &ip6.saddr, 16);
	__builtin_memcpy(f->daddr.b, &ip6.daddr, 16);
	next = ip6.nexthdr;
	off += sizeof(ip6);

	for (i = 0; i < TL_MAX_IPV6_EXT; i++) {
		switch (next) {
		case NEXTHDR_HOP:
		case NEXTHDR_ROUTING:
		case NEXTHDR_DEST:
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
				return TL_PARSE_MALFORMED;
			next = ext[0];
			off += (ext[1] + 1) * 8;
			continue;
		case NEXTHDR_AUTH:
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
				return TL_PARSE_MALFORMED;
			next = ext[0];
			off += (ext[1] + 2) * 4;
			continue;
		case NEXTHDR_FRAGMENT:
			if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)) ||
			    bpf_skb_load_bytes(skb, off + 2, &frag_off, 2))
				return TL_PARSE_MALFORMED;
			next = ext[0];
			off += 8;
			if (bpf_ntohs(frag_off) & ~7) {
				f->protocol = next;
				f->fragment = 1;
				return TL_PARSE_OK;
			}
			continue;
		}
		f->protocol = next;
		if (next == NEXTHDR_NONE)
			return TL_PARSE_OK;
		return parse_l4(skb, off, f);
	}
	/* A chain longer than we follow: we cannot tell what it carries. */
	return TL_PARSE_MALFORMED;
}

static __always_inline int parse_l3(struct __sk_buff *skb, __u32 off,
				    __u16 ethertype, struct tl_flow *f)
{
	f->ethertype = ethertype;
	if (ethertype == ETH_P_IP)
		return parse_ipv4(skb, off, f);
	if (ethertype == ETH_P_IPV6)
		return parse_ipv6(skb, off, f);
	return TL_PARSE_NOT_IP;
}

/* From the Ethernet header, through up to two VLAN tags. */
static __always_inline int parse_frame(struct __sk_buff *skb, struct tl_flow *f)
{
	struct tl_vlan_hdr vlan;
	__be16 proto;
	__u32 off = ETH_HLEN;
	int i;

	if (bpf_skb_load_bytes(skb, 12, &proto, sizeof(proto)))
		return TL_PARSE_MALFORMED;
	for (i = 0; i < TL_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		if (bpf_skb_load_bytes(skb, off, &vlan, sizeof(vlan)))
			return TL_PARSE_MALFORMED;
		proto = vlan.proto;
		off += sizeof(vlan);
	}
	return parse_l3(skb, off, bpf_ntohs(proto), f);
}

#endif
