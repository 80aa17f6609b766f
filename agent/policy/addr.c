// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Addresses and CIDRs (addr.h). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "addr.h"

/*
 * Unsigned decimal, or 0x hex when hex is set. No sign, no spaces and no
 * leading zero: a YAML 1.1 reader would take 010 for octal, so refusing it
 * keeps every tool reading the same number. 0 ok, -1 syntax, -2 range.
 */
int tl_parse_uint(const char *s, bool hex, uint64_t max, uint64_t *out)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
	} else if (s[0] == '0' && s[1]) {
		return -1;
	}
	if (!*s)
		return -1;
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = *s - '0';
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = *s - 'a' + 10;
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = *s - 'A' + 10;
		else
			return -1;
		if (v > (max - d) / base)
			return -2;
		v = v * base + d;
	}
	*out = v;
	return 0;
}

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_mapped(const uint8_t a[16])
{
	return !memcmp(a, v4mapped, sizeof(v4mapped));
}

/* Prefix length in the one 128-bit space that the BPF tables use. */
unsigned tl_cidr_full_plen(const struct tl_cidr *c)
{
	return c->family == AF_INET ? 96u + c->prefixlen : c->prefixlen;
}

static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	uint8_t mask;

	if (memcmp(a, b, bytes))
		return false;
	if (!rest)
		return true;
	mask = (uint8_t)(0xff00 >> rest);
	return !((a[bytes] ^ b[bytes]) & mask);
}

/* Does a contain b (both in the 128-bit space)? */
bool tl_cidr_contains(const struct tl_cidr *a, const struct tl_cidr *b)
{
	return tl_cidr_full_plen(a) <= tl_cidr_full_plen(b) &&
	       prefix_eq(a->addr, b->addr, tl_cidr_full_plen(a));
}

bool tl_cidr_overlap(const struct tl_cidr *a, const struct tl_cidr *b)
{
	unsigned pa = tl_cidr_full_plen(a), pb = tl_cidr_full_plen(b);

	return prefix_eq(a->addr, b->addr, pa < pb ? pa : pb);
}

int tl_parse_addr(const char *s, struct tl_cidr *out)
{
	struct tl_cidr c = {0};
	struct in_addr a4;

	if (inet_pton(AF_INET, s, &a4) == 1) {
		memcpy(c.addr, v4mapped, sizeof(v4mapped));
		memcpy(c.addr + 12, &a4, 4);
		c.family = AF_INET;
		c.prefixlen = 32;
	} else if (inet_pton(AF_INET6, s, c.addr) == 1) {
		/* ::ffff:a.b.c.d is IPv4 on the wire: one spelling, one rule.
		 */
		c.family = is_mapped(c.addr) ? AF_INET : AF_INET6;
		c.prefixlen = c.family == AF_INET ? 32 : 128;
	} else {
		return -1;
	}
	*out = c;
	return 0;
}

/* Like tl_parse_cidr, but says what is wrong (NULL when nothing). */
const char *tl_parse_cidr_why(const char *s, struct tl_cidr *out, char *hint,
			      size_t hintlen)
{
	const char *slash = strchr(s, '/');
	char addr[INET6_ADDRSTRLEN + 8];
	struct tl_cidr c;
	uint64_t plen;
	unsigned max, full, i;

	if (hint && hintlen)
		hint[0] = '\0';
	if (!slash)
		return tl_parse_addr(s, out) ? "not an IPv4 or IPv6 address"
					     : NULL;
	if ((size_t)(slash - s) >= sizeof(addr))
		return "not an IPv4 or IPv6 address";
	memcpy(addr, s, slash - s);
	addr[slash - s] = '\0';
	if (tl_parse_addr(addr, &c))
		return "not an IPv4 or IPv6 address";
	/* a mapped IPv6 spelling counts in IPv6 bits */
	max = strchr(addr, ':') ? 128 : 32;
	if (tl_parse_uint(slash + 1, false, UINT64_MAX, &plen))
		return "prefix length is not a number";
	if (plen > max)
		return max == 32 ? "prefix length is out of range 0-32"
				 : "prefix length is out of range 0-128";
	full = max == 32 ? 96 + (unsigned)plen : (unsigned)plen;
	if (c.family == AF_INET && full < 96)
		c.family = AF_INET6; /* ::ffff:0:0/80: wider than IPv4 */
	c.prefixlen = c.family == AF_INET ? full - 96 : full;
	for (i = full; i < 128; i++) {
		if (c.addr[i / 8] & (0x80 >> (i % 8))) {
			if (hint) {
				struct tl_cidr net = c;

				for (; i < 128; i++)
					net.addr[i / 8] &= ~(0x80 >> (i % 8));
				tl_format_cidr(&net, hint, hintlen);
			}
			return "host bits are set";
		}
	}
	*out = c;
	return NULL;
}

int tl_parse_cidr(const char *s, struct tl_cidr *out)
{
	return tl_parse_cidr_why(s, out, NULL, 0) ? -1 : 0;
}

int tl_format_addr(const uint8_t addr[16], char *buf, size_t len)
{
	const char *r;

	if (is_mapped(addr))
		r = inet_ntop(AF_INET, addr + 12, buf, len);
	else
		r = inet_ntop(AF_INET6, addr, buf, len);
	return r ? 0 : -1;
}

int tl_format_cidr(const struct tl_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];
	int n;

	if (c->family == AF_INET6 && is_mapped(c->addr)) {
		/* e.g. ::ffff:0:0/96 itself: keep it IPv6-spelled */
		if (!inet_ntop(AF_INET6, c->addr, a, sizeof(a)))
			return -1;
	} else if (tl_format_addr(c->addr, a, sizeof(a))) {
		return -1;
	}
	n = snprintf(buf, len, "%s/%u", a, c->prefixlen);
	return n < 0 || (size_t)n >= len ? -1 : 0;
}
