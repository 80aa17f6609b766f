/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Packet parsing shared by the cgroup_skb and TC layers. Every header is
 * read through tl_header(): in place when it is in the linear data (the
 * common case, no helper call), else through bpf_skb_load_bytes, so that
 * non-linear skbs and malformed lengths are handled in one place; a header
 * that is not all there is malformed.
 */
#ifndef TL_BPF_PARSE_H
#define TL_BPF_PARSE_H

#include "flow.h"

enum tl_parse_result {
	TL_PARSE_OK = 0,
	TL_PARSE_NOT_IP,    /* ARP, EAPOL, other ethertypes (PPPoE sessions
			     * not carrying IP among them): see flow.ethertype */
	TL_PARSE_MALFORMED, /* truncated or inconsistent headers */
	TL_PARSE_ROUTED,    /* whole, but its sender chose its route: an IPv4
			     * source route or an IPv6 routing header with
			     * segments left, so the destination in its header
			     * is only the first hop (the flow is parsed) */
};

/* IPv4 options (RFC 791) that name the hops a packet must take. */
#define TL_IPOPT_END  0
#define TL_IPOPT_NOOP 1
#define TL_IPOPT_LSRR 131
#define TL_IPOPT_SSRR 137
#define TL_IPOPT_BYTES 40

#define TL_MAX_VLAN_TAGS 2
#define TL_MAX_IPV6_EXT 8

/*
 * The header at off, like the kernel's skb_header_pointer: a pointer into the
 * linear data when it is all there (no helper call, no copy), else a copy in
 * buf through bpf_skb_load_bytes (non-linear skbs); NULL when the packet
 * ends first.
 */
static __always_inline const void *tl_header(struct __sk_buff *skb, __u32 off,
					     const __u32 len, void *buf)
{
	void *data = skb_data(skb);
	void *end = skb_data_end(skb);

	/* the verifier must see off itself tested, then added: not a value
	 * the compiler derived it from, nor a sum made before the test */
	asm volatile("" : "+r"(off));
	if (off <= 0x3ff) {
		void *p;

		asm volatile("" : "+r"(off));
		p = data + off;

		if (p + len <= end)
			return p;
	}
	return bpf_skb_load_bytes(skb, off, buf, len) ? NULL : buf;
}

struct tl_vlan_hdr {
	__be16 tci;
	__be16 proto;
};

/* RFC 2516; a session frame's payload starts with the PPP protocol. */
struct tl_pppoe_hdr {
	__u8 ver_type; /* 0x11 */
	__u8 code;     /* 0 in session frames */
	__be16 session;
	__be16 length; /* of the payload */
	__be16 ppp_proto;
};

#define TL_PPPOE_HLEN 6
#define TL_PPP_IP 0x0021
#define TL_PPP_IPV6 0x0057

/* Ports and ICMP type of the transport header at off. */
static __always_inline int parse_l4(struct __sk_buff *skb, __u32 off,
				    struct tl_flow *f)
{
	struct tcphdr tbuf;
	struct udphdr ubuf;
	const struct tcphdr *tcp;
	const struct udphdr *udp;
	const __u8 *type;
	__u8 typebuf;

	f->l4_off = off;
	switch (f->protocol) {
	case IPPROTO_TCP:
		tcp = tl_header(skb, off, sizeof(tbuf), &tbuf);
		if (!tcp || tcp->doff < 5)
			return TL_PARSE_MALFORMED;
		f->sport = bpf_ntohs(tcp->source);
		f->dport = bpf_ntohs(tcp->dest);
		f->has_ports = 1;
		return TL_PARSE_OK;
	case IPPROTO_UDP:
		udp = tl_header(skb, off, sizeof(ubuf), &ubuf);
		if (!udp)
			return TL_PARSE_MALFORMED;
		f->sport = bpf_ntohs(udp->source);
		f->dport = bpf_ntohs(udp->dest);
		f->has_ports = 1;
		return TL_PARSE_OK;
	case IPPROTO_ICMP:
	case IPPROTO_ICMPV6:
		type = tl_header(skb, off, 1, &typebuf);
		if (!type)
			return TL_PARSE_MALFORMED;
		f->icmp_type = *type;
		f->has_icmp_type = 1;
		return TL_PARSE_OK;
	}
	return TL_PARSE_OK;
}

/* The walk through a header's IPv4 options (bpf_loop: verified once). */
struct tl_ipopt_walk {
	struct __sk_buff *skb;
	__u32 off;  /* the IP header */
	__u32 hlen; /* its length, options included */
	__u32 at;   /* the next option, from the header's start */
	int result;
};

/*
 * One option: a source route ends the walk with TL_PARSE_ROUTED; options
 * that cannot be read through end it with TL_PARSE_MALFORMED.
 */
static long ipv4_option(__u32 n, void *ctx)
{
	struct tl_ipopt_walk *w = ctx;
	__u32 i = w->at;
	__u8 o[2];

	if (i >= w->hlen || i < sizeof(struct iphdr))
		return 1;
	if (i + 1 == w->hlen) { /* the last byte: only an end or a no-op */
		if (bpf_skb_load_bytes(w->skb, w->off + i, o, 1) ||
		    o[0] > TL_IPOPT_NOOP)
			w->result = TL_PARSE_MALFORMED;
		return 1;
	}
	if (bpf_skb_load_bytes(w->skb, w->off + i, o, 2)) {
		w->result = TL_PARSE_MALFORMED;
		return 1;
	}
	if (o[0] == TL_IPOPT_END)
		return 1;
	if (o[0] == TL_IPOPT_NOOP) {
		w->at = i + 1;
		return 0;
	}
	if (o[1] < 2)
		w->result = TL_PARSE_MALFORMED;
	else if (o[0] == TL_IPOPT_LSRR || o[0] == TL_IPOPT_SSRR)
		w->result = TL_PARSE_ROUTED;
	else
		w->at = i + o[1];
	return w->result != TL_PARSE_OK;
}

/*
 * Whether the IPv4 options (the header's bytes past its first 20) hold a
 * source route: TL_PARSE_ROUTED, TL_PARSE_OK when not, TL_PARSE_MALFORMED
 * when they cannot be read through.
 */
static __always_inline int ipv4_options(struct __sk_buff *skb, __u32 off,
					__u32 hlen)
{
	struct tl_ipopt_walk w = {
		.skb = skb,
		.off = off,
		.hlen = hlen,
		.at = sizeof(struct iphdr),
		.result = TL_PARSE_OK,
	};

	/* each option takes a byte at least */
	if (bpf_loop(TL_IPOPT_BYTES, ipv4_option, &w, 0) < 0)
		return TL_PARSE_MALFORMED;
	return w.result;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, __u32 off,
				      struct tl_flow *f)
{
	struct iphdr buf;
	const struct iphdr *ip = tl_header(skb, off, sizeof(buf), &buf);
	int whole = TL_PARSE_OK, l4;
	__u32 hlen;
	__u16 frag;

	if (!ip)
		return TL_PARSE_MALFORMED;
	hlen = ip->ihl * 4;
	if (ip->version != 4 || hlen < sizeof(buf))
		return TL_PARSE_MALFORMED;
	f->family = AF_INET;
	f->protocol = ip->protocol;
	addr_set_v4(&f->saddr, ip->saddr);
	addr_set_v4(&f->daddr, ip->daddr);
	frag = bpf_ntohs(ip->frag_off);
	if (hlen > sizeof(buf)) {
		/* a source route is copied into every fragment */
		whole = ipv4_options(skb, off, hlen);
		if (whole == TL_PARSE_MALFORMED)
			return whole;
	}
	if (frag & (IP_OFFSET | IP_MF)) {
		f->frag_id = bpf_ntohs(ip->id);
		f->frag_proto = ip->protocol;
	}
	if (frag & IP_OFFSET) {
		f->fragment = 1;
		f->frag_off = (frag & IP_OFFSET) * 8;
		return whole;
	}
	f->frag_first = !!(frag & IP_MF);
	l4 = parse_l4(skb, off + hlen, f);
	return l4 == TL_PARSE_OK ? whole : l4;
}

/*
 * The offset of the next IPv6 header, kept in l4_off while the chain is
 * walked and read back from there: f is a global function's argument,
 * whose memory the verifier does not follow, so each step of the walk
 * starts from one state (any offset) instead of one for every kind and
 * length of header before it. That walk was most of what verifying the
 * packet layers cost (tl_tc_egress: 116,000 instructions, 44,000 with it).
 */
static __always_inline __u32 walk_offset(struct tl_flow *f, __u16 off)
{
	*(volatile __u16 *)&f->l4_off = off;
	return *(volatile __u16 *)&f->l4_off;
}

/* Walks the extension header chain to the transport header. */
static __always_inline int parse_ipv6(struct __sk_buff *skb, __u32 off,
				      struct tl_flow *f)
{
	struct ipv6hdr buf;
	const struct ipv6hdr *ip6 = tl_header(skb, off, sizeof(buf), &buf);
	int whole = TL_PARSE_OK, l4, i;
	__u8 ext[4], fh[8];
	const __u8 *e;
	__u16 frag;
	__u8 next;

	if (!ip6)
		return TL_PARSE_MALFORMED;
	if (ip6->version != 6)
		return TL_PARSE_MALFORMED;
	f->family = AF_INET6;
	for (i = 0; i < 4; i++) {
		f->saddr.w[i] = ip6->saddr.in6_u.u6_addr32[i];
		f->daddr.w[i] = ip6->daddr.in6_u.u6_addr32[i];
	}
	next = ip6->nexthdr;
	off += sizeof(buf);

	for (i = 0; i < TL_MAX_IPV6_EXT; i++) {
		if (off > 0xffff) /* 8 headers hold 16 KiB at most */
			return TL_PARSE_MALFORMED;
		off = walk_offset(f, off);
		switch (next) {
		case NEXTHDR_ROUTING: /* next, length, type, segments left */
			e = tl_header(skb, off, 4, ext);
			if (!e)
				return TL_PARSE_MALFORMED;
			if (e[3])
				whole = TL_PARSE_ROUTED;
			next = e[0];
			off += (e[1] + 1) * 8;
			continue;
		case NEXTHDR_HOP:
		case NEXTHDR_DEST:
			e = tl_header(skb, off, 2, ext);
			if (!e)
				return TL_PARSE_MALFORMED;
			next = e[0];
			off += (e[1] + 1) * 8;
			continue;
		case NEXTHDR_AUTH:
			e = tl_header(skb, off, 2, ext);
			if (!e)
				return TL_PARSE_MALFORMED;
			next = e[0];
			off += (e[1] + 2) * 4;
			continue;
		case NEXTHDR_FRAGMENT:
			e = tl_header(skb, off, sizeof(fh), fh);
			if (!e)
				return TL_PARSE_MALFORMED;
			next = e[0];
			frag = (__u16)e[2] << 8 | e[3]; /* offset, flags */
			off += 8;
			if (!(frag & ~6))
				continue; /* an atomic fragment: whole */
			f->frag_id = (__u32)e[4] << 24 | (__u32)e[5] << 16 |
				     (__u32)e[6] << 8 | e[7];
			f->frag_proto = next;
			if (frag & ~7) {
				f->protocol = next;
				f->fragment = 1;
				f->frag_off = frag & ~7;
				return whole;
			}
			f->frag_first = 1;
			continue;
		}
		f->protocol = next;
		if (next == NEXTHDR_NONE)
			return whole;
		l4 = parse_l4(skb, off, f);
		return l4 == TL_PARSE_OK ? whole : l4;
	}
	/* A chain longer than we follow: we cannot tell what it carries. */
	return TL_PARSE_MALFORMED;
}

static __always_inline int parse_l3(struct __sk_buff *skb, __u32 off,
				    __u16 ethertype, struct tl_flow *f)
{
	f->ethertype = ethertype;
	f->l3_off = off;
	if (ethertype == ETH_P_IP)
		return parse_ipv4(skb, off, f);
	if (ethertype == ETH_P_IPV6)
		return parse_ipv6(skb, off, f);
	return TL_PARSE_NOT_IP;
}

/*
 * A PPPoE session frame (a DSL uplink's, under its ppp device) is judged by
 * the IP packet it carries; anything else it carries is not IP. A header
 * that is not all there, or a length past the frame, is malformed.
 */
static __always_inline int parse_pppoe(struct __sk_buff *skb, __u32 off,
				       struct tl_flow *f)
{
	const struct tl_pppoe_hdr *h;
	struct tl_pppoe_hdr buf;
	__u16 len;

	f->ethertype = ETH_P_PPP_SES;
	f->l3_off = off;
	h = tl_header(skb, off, sizeof(buf), &buf);
	if (!h || h->ver_type != 0x11 || h->code)
		return TL_PARSE_MALFORMED;
	len = bpf_ntohs(h->length);
	if (len < 2 || off + TL_PPPOE_HLEN + len > skb->len)
		return TL_PARSE_MALFORMED;
	off += sizeof(buf);
	if (h->ppp_proto == bpf_htons(TL_PPP_IP))
		return parse_l3(skb, off, ETH_P_IP, f);
	if (h->ppp_proto == bpf_htons(TL_PPP_IPV6))
		return parse_l3(skb, off, ETH_P_IPV6, f);
	return TL_PARSE_NOT_IP;
}

/* From the Ethernet header, through up to two VLAN tags (and PPPoE). */
static __always_inline int parse_frame(struct __sk_buff *skb, struct tl_flow *f)
{
	struct tl_vlan_hdr vbuf;
	const struct tl_vlan_hdr *vlan;
	const __be16 *pp;
	__be16 proto, pbuf;
	__u32 off = ETH_HLEN;
	int i;

	pp = tl_header(skb, 12, sizeof(pbuf), &pbuf);
	if (!pp)
		return TL_PARSE_MALFORMED;
	proto = *pp;
	for (i = 0; i < TL_MAX_VLAN_TAGS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) &&
		    proto != bpf_htons(ETH_P_8021AD))
			break;
		vlan = tl_header(skb, off, sizeof(vbuf), &vbuf);
		if (!vlan)
			return TL_PARSE_MALFORMED;
		proto = vlan->proto;
		off += sizeof(vbuf);
	}
	if (proto == bpf_htons(ETH_P_PPP_SES))
		return parse_pppoe(skb, off, f);
	return parse_l3(skb, off, bpf_ntohs(proto), f);
}

/*
 * What the packet layers parse, out of line as global functions: the
 * verifier checks each parser once, and a layer's verdict once for any
 * flow, instead of once more for every kind of packet the parser tells
 * apart (with the parsers inline, Debian 12's 6.1 came within 7% of its
 * 1,000,000-instruction limit on cgroup_skb). One per link type, so that
 * a program verifies only the parser it runs.
 */

/* A packet that starts with its IP header (skb->protocol says which). */
__noinline int parse_ip_skb(struct __sk_buff *skb, struct tl_flow *f)
{
	if (!skb || !f)
		return TL_PARSE_MALFORMED;
	return parse_l3(skb, 0, bpf_ntohs(skb->protocol), f);
}

/* A frame that starts with an Ethernet header. */
__noinline int parse_eth_skb(struct __sk_buff *skb, struct tl_flow *f)
{
	if (!skb || !f)
		return TL_PARSE_MALFORMED;
	return parse_frame(skb, f);
}

#endif
