/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Addresses and CIDRs in the one 128-bit space of the BPF tables (IPv4 as
 * ::ffff:0:0/96), parsed and formatted as the policy, events, the feed and
 * status spell them.
 */
#ifndef TUNLOCK_ADDR_H
#define TUNLOCK_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A CIDR; IPv4 kept IPv4-mapped in addr, prefixlen counted in its family.
 * An IPv4-mapped spelling (::ffff:a.b.c.d, ::ffff:10.0.0.0/104) is read as
 * the IPv4 it is, so one address has one form.
 */
struct tl_cidr {
	uint8_t family; /* AF_INET or AF_INET6: a byte, 18 bytes in all */
	uint8_t prefixlen;
	uint8_t addr[16];
};

int tl_parse_addr(const char *s, struct tl_cidr *out); /* full-length */
int tl_parse_cidr(const char *s, struct tl_cidr *out); /* a/len or a */
/*
 * Like tl_parse_cidr, but says what is wrong (NULL when nothing); when
 * the host bits are set, hint (if given) gets the network, "a/len".
 */
const char *tl_parse_cidr_why(const char *s, struct tl_cidr *out, char *hint,
			      size_t hintlen);
int tl_format_addr(const uint8_t addr[16], char *buf,
		   size_t len); /* mapped -> dotted */
int tl_format_cidr(const struct tl_cidr *c, char *buf,
		   size_t len); /* "a/len" */

/* Prefix length in the 128-bit space. */
unsigned tl_cidr_full_plen(const struct tl_cidr *c);
/* Does a contain b? */
bool tl_cidr_contains(const struct tl_cidr *a, const struct tl_cidr *b);
/*
 * Overlap in the 128-bit space, where IPv4 is ::ffff:0:0/96: so ::/0
 * overlaps every IPv4 CIDR, as it would match them.
 */
bool tl_cidr_overlap(const struct tl_cidr *a, const struct tl_cidr *b);

/*
 * Unsigned decimal, or 0x hex when hex is set. No sign, no spaces and no
 * leading zero: a YAML 1.1 reader would take 010 for octal, so refusing it
 * keeps every tool reading the same number. 0 ok, -1 syntax, -2 range.
 */
int tl_parse_uint(const char *s, bool hex, uint64_t max, uint64_t *out);

#endif
