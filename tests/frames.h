/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Crafted frames for BPF_PROG_TEST_RUN, shared by the packet tests and the
 * benchmarks: an Ethernet header, optional VLAN tags, IPv4 or IPv6 (with
 * extension headers and fragments) and a transport header, built in order.
 */
#ifndef TUNLOCK_TESTS_FRAMES_H
#define TUNLOCK_TESTS_FRAMES_H

#include <arpa/inet.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct frame {
	uint8_t b[512];
	size_t len;
};

static inline void put(struct frame *f, const void *p, size_t n)
{
	if (n) /* an empty payload may be NULL: memcpy must not see it */
		memcpy(f->b + f->len, p, n);
	f->len += n;
}

static inline void put16(struct frame *f, uint16_t v)
{
	v = htons(v);
	put(f, &v, 2);
}

static inline void eth(struct frame *f, uint16_t proto)
{
	static const uint8_t macs[12] = { 2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2 };

	f->len = 0;
	put(f, macs, sizeof(macs));
	put16(f, proto);
}

static inline void vlan(struct frame *f, uint16_t tpid_inner_proto)
{
	put16(f, 100); /* TCI */
	put16(f, tpid_inner_proto);
}

static inline void ipv4(struct frame *f, const char *src, const char *dst,
			uint8_t proto, uint16_t frag, uint8_t ihl)
{
	uint8_t h[60] = {};
	struct in_addr a;

	h[0] = 0x40 | ihl;
	h[2] = 0;
	h[3] = 60;
	h[6] = frag >> 8;
	h[7] = frag & 0xff;
	h[8] = 64;
	h[9] = proto;
	inet_pton(AF_INET, src, &a);
	memcpy(h + 12, &a, 4);
	inet_pton(AF_INET, dst, &a);
	memcpy(h + 16, &a, 4);
	put(f, h, ihl >= 5 ? ihl * 4 : 20);
}

/* The same with the given options (zero-padded to whole words). */
static inline void ipv4_options(struct frame *f, const char *src,
				const char *dst, uint8_t proto, uint16_t frag,
				const uint8_t *opts, size_t n)
{
	size_t at = f->len + 20;

	ipv4(f, src, dst, proto, frag, 5 + (n + 3) / 4);
	memcpy(f->b + at, opts, n);
}

static inline void ipv6(struct frame *f, const char *src, const char *dst,
			uint8_t next)
{
	uint8_t h[40] = { 0x60 };

	h[5] = 40;
	h[6] = next;
	h[7] = 64;
	inet_pton(AF_INET6, src, h + 8);
	inet_pton(AF_INET6, dst, h + 24);
	put(f, h, sizeof(h));
}

/* The same with another hop limit (NDP wants 255). */
static inline void ipv6_hops(struct frame *f, const char *src,
			     const char *dst, uint8_t next, uint8_t hops)
{
	ipv6(f, src, dst, next);
	f->b[f->len - 40 + 7] = hops;
}

/* An 8-byte extension header (hop-by-hop, destination options). */
static inline void ext8(struct frame *f, uint8_t next)
{
	uint8_t h[8] = { next, 0, 1, 4 }; /* PadN */

	put(f, h, sizeof(h));
}

/* A routing header of one address (type 4: a segment routing header;
 * segments left 0: every hop taken, the header's destination is the last). */
static inline void rthdr(struct frame *f, uint8_t next, uint8_t type,
			 uint8_t segments_left, const char *segment)
{
	uint8_t h[24] = { next, 2, type, segments_left };

	inet_pton(AF_INET6, segment, h + 8);
	put(f, h, sizeof(h));
}

static inline void frag6(struct frame *f, uint8_t next, uint16_t offset,
			 bool more)
{
	uint8_t h[8] = { next };
	uint16_t v = htons((offset << 3) | (more ? 1 : 0));

	memcpy(h + 2, &v, 2);
	put(f, h, sizeof(h));
}

static inline void udp(struct frame *f, uint16_t sport, uint16_t dport)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, 16);
	put16(f, 0);
	put(f, "payload!", 8);
}

/* A UDP header and the given payload. */
static inline void udp_with(struct frame *f, uint16_t sport, uint16_t dport,
			    const void *payload, size_t n)
{
	put16(f, sport);
	put16(f, dport);
	put16(f, 8 + n);
	put16(f, 0);
	put(f, payload, n);
}

static inline void tcp(struct frame *f, uint16_t sport, uint16_t dport)
{
	uint8_t rest[16] = { [8] = 0x50, [9] = 0x02 };

	put16(f, sport);
	put16(f, dport);
	put(f, rest, sizeof(rest));
}

/* A TCP header (flags: FIN 0x01, SYN 0x02, ACK 0x10, URG 0x20) and the
 * given payload. */
static inline void tcp_with(struct frame *f, uint16_t sport, uint16_t dport,
			    uint32_t seq, uint8_t flags, uint16_t urg,
			    const void *payload, size_t n)
{
	uint8_t rest[8] = { [4] = 0x50 };
	uint32_t v = htonl(seq);

	put16(f, sport);
	put16(f, dport);
	put(f, &v, 4);
	put(f, rest, 4); /* ack */
	rest[5] = flags;
	put(f, rest + 4, 2);
	put16(f, 65535); /* window */
	put16(f, 0);	 /* checksum */
	put16(f, urg);
	put(f, payload, n);
}

static inline void icmp(struct frame *f, uint8_t type)
{
	uint8_t h[8] = { type };

	put(f, h, sizeof(h));
}

/* UDP 68 -> 67 and a DHCPv4 message: op (1, BOOTREQUEST), the magic cookie
 * at 236, a DHCPDISCOVER option and the end option. */
static inline void dhcp4(struct frame *f, uint8_t op)
{
	uint8_t m[244] = { op, 1, 6 };

	memcpy(m + 236, "\x63\x82\x53\x63", 4);
	memcpy(m + 240, "\x35\x01\x01\xff", 4);
	udp_with(f, 68, 67, m, sizeof(m));
}

/* UDP 546 -> 547 and a DHCPv6 message of the given type (1: Solicit). */
static inline void dhcp6(struct frame *f, uint8_t type)
{
	uint8_t m[8] = { type, 0x12, 0x34, 0x56 };

	udp_with(f, 546, 547, m, sizeof(m));
}

/* An NDP message: type, code, and a solicitation's 20 bytes. */
static inline void ndp(struct frame *f, uint8_t type, uint8_t code)
{
	uint8_t h[24] = { type, code };

	put(f, h, sizeof(h));
}

/* Ethernet/IPv4 ARP, 28 bytes. */
static inline void arp(struct frame *f, uint16_t op)
{
	static const uint8_t addrs[20] = { 2, 0, 0, 0, 0, 2, 10, 213, 0, 2,
					   0, 0, 0, 0, 0, 0, 10, 213, 0, 1 };

	put(f, "\x00\x01\x08\x00\x06\x04", 6);
	put16(f, op);
	put(f, addrs, sizeof(addrs));
}

/* Fill up to len with byte (a padded minimum frame, or junk). */
static inline void pad(struct frame *f, size_t len, uint8_t byte)
{
	while (f->len < len)
		f->b[f->len++] = byte;
}

static inline void dst_mac(struct frame *f, const uint8_t mac[6])
{
	memcpy(f->b, mac, 6);
}

/* A PPPoE header (and the PPP protocol, when not 0); its length is filled
 * in by pppoe_len() once the payload is in. Returns where it starts. */
static inline size_t pppoe(struct frame *f, uint8_t code, uint16_t session,
			   uint16_t ppp_proto)
{
	size_t at = f->len;

	put(f, "\x11", 1);
	put(f, &code, 1);
	put16(f, session);
	put16(f, 0);
	if (ppp_proto)
		put16(f, ppp_proto);
	return at;
}

static inline void pppoe_len(struct frame *f, size_t at)
{
	uint16_t n = htons(f->len - at - 6);

	memcpy(f->b + at + 4, &n, 2);
}

#endif
