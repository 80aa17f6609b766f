/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Network basics: what a network needs and every profile gets outside the
 * tunnel (TL_ALLOW_ALWAYS), each only in its own shape and never beyond
 * the link, so that a port number or an ethertype is no way out:
 *
 * - DHCPv4 client (UDP 68 -> 67): to 255.255.255.255 or a unicast address
 *   of the fixed LAN ranges; at the packet layers a whole BOOTREQUEST (op 1,
 *   the magic cookie at offset 236), not a fragment.
 * - DHCPv6 client (UDP 546 -> 547): to ff02::1:2 or a link-local server;
 *   at the packet layers a client message type, not a fragment.
 * - NDP (ICMPv6 133-136, code 0, hop limit 255, not a fragment): to a
 *   link-local address or a link-scope multicast group (ff02::/16, which
 *   holds the solicited-node groups); the kernel's own NS and NA also to
 *   a neighbour's unicast address.
 * - ARP (Ethernet/IPv4, request or reply), EAPOL, PPPoE discovery (the
 *   client's PADI, PADR, PADT) and the PPP control protocols of a PPPoE
 *   session (LCP, PAP, CHAP, IPCP, IPV6CP): the frame holds the message and
 *   nothing more than zero padding to the minimum Ethernet frame.
 *
 * The socket layer sees no payload: it checks ports and destination, and
 * the packet layers check the rest. Callers ask only after the endpoint,
 * STUN and DNS checks, which no basic exception overrides.
 */
#ifndef TL_BPF_BASICS_H
#define TL_BPF_BASICS_H

#include "parse.h"

#define TL_ETH_ZLEN 60 /* the minimum Ethernet frame, without FCS */
#define TL_DHCP_COOKIE 0x63825363
#define TL_DHCP_COOKIE_OFF 236
#define TL_LLDP_MAC_LAST 0x0e /* 01:80:c2:00:00:0e, nearest bridge */

/* A unicast address of the fixed LAN ranges, or 255.255.255.255. */
static __always_inline bool dhcp4_server_ok(const union tl_addr *a)
{
	return addr_is_v4(a) && addr_is_lan(a) && !addr_is_multicast(a);
}

/* ff02::1:2 (All_DHCP_Relay_Agents_and_Servers) or fe80::/10. */
static __always_inline bool dhcp6_server_ok(const union tl_addr *a)
{
	if (addr_is_v4(a))
		return false;
	if (a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80)
		return true;
	return a->w[0] == bpf_htonl(0xff020000) && !a->w[1] && !a->w[2] &&
	       a->w[3] == bpf_htonl(0x00010002);
}

/*
 * fe80::/10, or a link-scope multicast group (ff02::/16). The kernel's own
 * solicitations and advertisements may also go to a neighbour's unicast
 * address of any scope: it sends them only to neighbours on the link (a
 * packet that was forwarded has a hop limit below 255).
 */
static __always_inline bool ndp_target_ok(const struct tl_flow *f,
					  bool kernel)
{
	const union tl_addr *a = &f->daddr;

	if (addr_is_v4(a))
		return false;
	if ((a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80) ||
	    (a->b[0] == 0xff && a->b[1] == 0x02))
		return true;
	return kernel && a->b[0] != 0xff &&
	       (f->icmp_type == 135 || f->icmp_type == 136);
}

static __always_inline bool flow_is_dhcp4(const struct tl_flow *f)
{
	return f->protocol == IPPROTO_UDP && f->has_ports && f->sport == 68 &&
	       f->dport == 67 && dhcp4_server_ok(&f->daddr);
}

static __always_inline bool flow_is_dhcp6(const struct tl_flow *f)
{
	return f->family == AF_INET6 && f->protocol == IPPROTO_UDP &&
	       f->has_ports && f->sport == 546 && f->dport == 547 &&
	       dhcp6_server_ok(&f->daddr);
}

/* Socket layer: DHCP client traffic by ports and destination. */
static __always_inline bool socket_is_basic(const struct tl_flow *f)
{
	return flow_is_dhcp4(f) || flow_is_dhcp6(f);
}

/*
 * Basics are rare next to the rest of the traffic, and their offsets vary
 * (tags, PPPoE, extension headers): they are read by copy, always.
 */
static __always_inline const void *basic_header(struct __sk_buff *skb,
						__u32 off, const __u32 len,
						void *buf)
{
	return bpf_skb_load_bytes(skb, off, buf, len) ? NULL : buf;
}

/* The byte at off, or -1 when the packet ends first. */
static __always_inline int byte_at(struct __sk_buff *skb, __u32 off)
{
	__u8 b;

	return basic_header(skb, off, 1, &b) ? b : -1;
}

/* A DHCPv4 BOOTREQUEST: op 1 and the magic cookie after the fixed part. */
static __always_inline bool payload_is_bootrequest(struct __sk_buff *skb,
						   __u32 off)
{
	const __be32 *cookie;
	__be32 buf;

	if (skb->len < off + TL_DHCP_COOKIE_OFF + 4 || byte_at(skb, off) != 1)
		return false;
	cookie = basic_header(skb, off + TL_DHCP_COOKIE_OFF, 4, &buf);
	return cookie && *cookie == bpf_htonl(TL_DHCP_COOKIE);
}

/* Solicit, Request, Confirm, Renew, Rebind, Release, Decline, Info-request */
static __always_inline bool payload_is_dhcp6_client(struct __sk_buff *skb,
						    __u32 off)
{
	int type;

	if (skb->len < off + 4) /* msg-type and transaction-id */
		return false;
	type = byte_at(skb, off);
	return type == 1 || (type >= 3 && type <= 6) || type == 8 ||
	       type == 9 || type == 11;
}

/* Router and neighbour solicitation and advertisement, as RFC 4861 has them. */
static __always_inline bool packet_is_ndp(struct __sk_buff *skb,
					  const struct tl_flow *f, bool kernel)
{
	return f->family == AF_INET6 && f->protocol == IPPROTO_ICMPV6 &&
	       f->has_icmp_type && f->icmp_type >= 133 && f->icmp_type <= 136 &&
	       ndp_target_ok(f, kernel) &&
	       byte_at(skb, f->l3_off + 7) == 255 && /* hop limit */
	       byte_at(skb, f->l4_off + 1) == 0;     /* code */
}

/*
 * Packet layers: an IP packet that is one of the network basics; kernel:
 * no local socket sent it (packet_subject). A global function, like
 * frame_kind().
 */
__noinline bool packet_is_basic(struct __sk_buff *skb, const struct tl_flow *f,
				bool kernel)
{
	if (!f || f->fragment || f->frag_first)
		return false;
	if (f->family == AF_INET) /* not an IPv6 header to a mapped address */
		return flow_is_dhcp4(f) &&
		       payload_is_bootrequest(skb, f->l4_off + 8);
	if (flow_is_dhcp6(f))
		return payload_is_dhcp6_client(skb, f->l4_off + 8);
	return packet_is_ndp(skb, f, kernel);
}

/*
 * The message of a non-IP frame ends at end: nothing follows it but zero
 * padding up to the minimum frame (with its VLAN tags).
 */
static __always_inline bool frame_ends_at(struct __sk_buff *skb,
					  const struct tl_flow *f, __u32 end)
{
	__u32 min = TL_ETH_ZLEN + f->l3_off - ETH_HLEN, n, k, i;
	__u64 word;

	if (skb->len < end)
		return false;
	n = skb->len - end;
	if (n && skb->len > min)
		return false;
	/* at most 50 bytes: in words, to keep the stack small; the odd part
	 * first, so that the verifier sees 1 to 8 bytes (Linux 6.1 refuses
	 * a length that may be 0) */
	for (i = 0; i < TL_ETH_ZLEN / 8 && n; i++) {
		k = ((n - 1) & 7) + 1;
		word = 0;
		if (bpf_skb_load_bytes(skb, end, &word, k) || word)
			return false;
		end += k;
		n -= k;
	}
	return !n;
}

struct tl_arp_hdr {
	__be16 htype;
	__be16 ptype;
	__u8 hlen;
	__u8 plen;
	__be16 op;
};

/* Ethernet/IPv4 ARP request or reply: 28 bytes. */
static __always_inline bool frame_is_arp(struct __sk_buff *skb,
					 const struct tl_flow *f)
{
	const struct tl_arp_hdr *a;
	struct tl_arp_hdr buf;

	a = basic_header(skb, f->l3_off, sizeof(buf), &buf);
	return a && a->htype == bpf_htons(1) &&
	       a->ptype == bpf_htons(ETH_P_IP) && a->hlen == 6 &&
	       a->plen == 4 &&
	       (a->op == bpf_htons(1) || a->op == bpf_htons(2)) &&
	       frame_ends_at(skb, f, f->l3_off + 28);
}

/* 802.1X: version 1-3, a packet type of 802.1X-2010 (0-8), its length. */
static __always_inline bool frame_is_eapol(struct __sk_buff *skb,
					   const struct tl_flow *f)
{
	const __u8 *h;
	__u8 buf[4];

	h = basic_header(skb, f->l3_off, sizeof(buf), buf);
	return h && h[0] >= 1 && h[0] <= 3 && h[1] <= 8 &&
	       frame_ends_at(skb, f, f->l3_off + 4 + ((h[2] << 8) | h[3]));
}

/* PPPoE discovery from a client: PADI, PADR (session 0) or PADT. */
static __always_inline bool frame_is_pppoe_discovery(struct __sk_buff *skb,
						     const struct tl_flow *f)
{
	const struct tl_pppoe_hdr *h;
	struct tl_pppoe_hdr buf;
	__u32 len;

	h = basic_header(skb, f->l3_off, TL_PPPOE_HLEN, &buf);
	if (!h || h->ver_type != 0x11)
		return false;
	if (h->code == 0x09 || h->code == 0x19) {
		if (h->session)
			return false;
	} else if (h->code != 0xa7) {
		return false;
	}
	len = bpf_ntohs(h->length);
	return frame_ends_at(skb, f, f->l3_off + TL_PPPOE_HLEN + len);
}

/* What a PPPoE session needs that is not IP: link, auth and IP control. */
static __always_inline bool frame_is_ppp_control(struct __sk_buff *skb,
						 const struct tl_flow *f)
{
	const struct tl_pppoe_hdr *h;
	struct tl_pppoe_hdr buf;
	__u16 proto;

	h = basic_header(skb, f->l3_off, sizeof(buf), &buf);
	if (!h)
		return false;
	proto = bpf_ntohs(h->ppp_proto);
	if (proto != 0xc021 && /* LCP */
	    proto != 0xc023 && /* PAP */
	    proto != 0xc223 && /* CHAP */
	    proto != 0x8021 && /* IPCP */
	    proto != 0x8057)   /* IPV6CP */
		return false;
	return frame_ends_at(skb, f, f->l3_off + TL_PPPOE_HLEN +
					     bpf_ntohs(h->length));
}

enum tl_frame_kind {
	TL_FRAME_OTHER = 0, /* judged as any traffic outside the tunnel */
	TL_FRAME_BASIC,	    /* a network basic */
	TL_FRAME_LAN,	    /* LLDP to the nearest bridge: the profile's lan */
};

/* LLDP to 01:80:c2:00:00:0e, which no bridge forwards. */
static __always_inline bool frame_is_lldp(struct __sk_buff *skb,
					  const struct tl_flow *f)
{
	const __u8 *d;
	__u8 buf[6];

	if (f->ethertype != ETH_P_LLDP)
		return false;
	d = basic_header(skb, 0, sizeof(buf), buf);
	return d && d[0] == 0x01 && d[1] == 0x80 && d[2] == 0xc2 && !d[3] &&
	       !d[4] && d[5] == TL_LLDP_MAC_LAST;
}

/*
 * A frame that parse_frame() found not to be IP (TC on Ethernet links). A
 * global function: verified once, and its buffers stay off the stack of
 * the layers that call it.
 */
__noinline int frame_kind(struct __sk_buff *skb, const struct tl_flow *f)
{
	if (!f)
		return TL_FRAME_OTHER;
	switch (f->ethertype) {
	case ETH_P_ARP:
		return frame_is_arp(skb, f) ? TL_FRAME_BASIC : TL_FRAME_OTHER;
	case ETH_P_PAE:
		return frame_is_eapol(skb, f) ? TL_FRAME_BASIC : TL_FRAME_OTHER;
	case ETH_P_PPP_DISC:
		return frame_is_pppoe_discovery(skb, f) ? TL_FRAME_BASIC :
							  TL_FRAME_OTHER;
	case ETH_P_PPP_SES:
		return frame_is_ppp_control(skb, f) ? TL_FRAME_BASIC :
						      TL_FRAME_OTHER;
	}
	return frame_is_lldp(skb, f) ? TL_FRAME_LAN : TL_FRAME_OTHER;
}

#endif
