// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The scalars of a policy: enums, numbers, ports, names, globs, cgroup
 * paths and peer addresses, each reported at its node when it is wrong.
 */
#include <fnmatch.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "policy_int.h"

/* Linux interface names: IFNAMSIZ - 1. */
#define IFNAME_MAX 15

/* ---- scalars ---- */

/* An enum value: index into names, or -1 after reporting. */
int enum_val(struct ctx *c, const struct ynode *n, const char *key,
	     const char *const *names, int nnames)
{
	char expect[128] = "";
	int i;

	for (i = 0; i < nnames; i++)
		if (!strcmp(text(n), names[i]))
			return i;
	for (i = 0; i < nnames; i++) {
		strcat(expect, i ? (i == nnames - 1 ? " or " : ", ") : "");
		strcat(expect, names[i]);
	}
	error_node(c, n, "%s must be %s, found '%s'", key, expect,
		   shown(c, text(n)));
	return -1;
}

/* The YAML 1.2 core schema booleans, nothing looser ("yes", "on"):
 * 1 true, 0 false, -1 neither. */
int bool_of(const char *s)
{
	static const char *const t[] = {"true", "True", "TRUE"};
	static const char *const f[] = {"false", "False", "FALSE"};

	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, t[i]))
			return 1;
		if (!strcmp(s, f[i]))
			return 0;
	}
	return -1;
}

int bool_val(struct ctx *c, const struct ynode *n, bool *out)
{
	int b = bool_of(text(n));

	if (b >= 0) {
		*out = b;
		return 0;
	}
	error_node(c, n, "exempt must be true or false, found '%s'",
		   shown(c, text(n)));
	return -1;
}

int port_val(struct ctx *c, const struct ynode *n, const char *s, uint16_t *out)
{
	uint64_t v;
	int r = tl_parse_uint(s, false, 65535, &v);

	if (r == -1) {
		error_node(c, n, "'%s' is not a port number", shown(c, s));
		return -1;
	}
	if (r == -2 || v == 0) {
		error_node(c, n, "port %s is out of range 1-65535",
			   shown(c, s));
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

/* "443" or "8000-8080". */
int port_range_val(struct ctx *c, const struct ynode *n,
		   struct tl_port_range *out)
{
	char buf[32];
	char *dash;

	if (strlen(text(n)) >= sizeof(buf)) {
		error_node(c, n, "'%s' is not a port or port range",
			   shown(c, text(n)));
		return -1;
	}
	strcpy(buf, text(n));
	dash = strchr(buf, '-');
	if (dash)
		*dash = '\0';
	if (port_val(c, n, buf, &out->lo))
		return -1;
	out->hi = out->lo;
	if (dash && port_val(c, n, dash + 1, &out->hi))
		return -1;
	if (out->lo > out->hi) {
		error_node(c, n, "port range %s is backwards (%u > %u)",
			   shown(c, text(n)), out->lo, out->hi);
		return -1;
	}
	return 0;
}

/* Copy a validated string; the checks made sure it fits. */
void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* ---- names, globs and paths ---- */

const char *check_name(const char *s)
{
	size_t n = strlen(s);

	if (!n)
		return "is empty";
	if (n > TL_NAME_MAX - 1)
		return "is longer than 63 characters";
	if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		      "0123456789_.-") != n)
		return "may only hold letters, digits, '_', '.' and '-'";
	return NULL;
}

static bool is_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* fnmatch takes an unterminated '[' literally: almost surely a typo. */
static bool brackets_closed(const char *s)
{
	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
		} else if (*s == '[') {
			const char *e = s + 1;

			if (*e == '!' || *e == '^')
				e++;
			if (*e == ']')
				e++;
			e = strchr(e, ']');
			if (!e)
				return false;
			s = e;
		}
	}
	return true;
}

static bool has_ctrl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* What the kernel accepts as a device name (dev_valid_name), or a glob. */
const char *check_ifname(const char *s)
{
	size_t n = strlen(s);

	if (!n)
		return "interface name is empty";
	if (n >= TL_GLOB_MAX)
		return "interface glob is longer than 255 characters";
	if (!is_glob(s) && n > IFNAME_MAX)
		return "interface name is longer than 15 characters";
	if (strpbrk(s, "/: \t") || has_ctrl(s) || !strcmp(s, ".") ||
	    !strcmp(s, ".."))
		return "not a valid interface name";
	if (!brackets_closed(s))
		return "unterminated '[' in interface glob";
	if (!fnmatch(s, "lo", 0))
		return "a tunnel interface must not match the loopback "
		       "interface lo";
	return NULL;
}

/* A path below the cgroup2 mount, written the one way the agent looks it up. */
const char *check_cgroup_path(const char *s, bool glob_ok)
{
	size_t n = strlen(s);
	const char *comp;

	if (s[0] != '/')
		return "must start with '/'";
	if (n >= TL_GLOB_MAX)
		return "is longer than 255 characters";
	if (has_ctrl(s))
		return "holds a control character";
	if (strstr(s, "//"))
		return "holds an empty component ('//')";
	if (n > 1 && s[n - 1] == '/')
		return "must not end with '/'";
	for (comp = s; comp; comp = strchr(comp + 1, '/')) {
		if (!strncmp(comp, "/../", 4) || !strcmp(comp, "/..") ||
		    !strncmp(comp, "/./", 3) || !strcmp(comp, "/."))
			return "must not hold '.' or '..' components";
	}
	if (is_glob(s) && !glob_ok)
		return "must not be a glob";
	if (!brackets_closed(s))
		return "unterminated '[' in glob";
	return NULL;
}

/* A single address for a peer: the VPN server or a resolver. */
static const char *check_unicast(const struct tl_cidr *a)
{
	static const uint8_t zero[16];
	const uint8_t *v4 = a->addr + 12;

	if (a->family == AF_INET) {
		if (v4[0] == 127)
			return "is a loopback address";
		if (v4[0] >= 224)
			return v4[0] < 240 ? "is a multicast address"
					   : "is not a unicast address";
		if (!memcmp(v4, zero, 4))
			return "is the unspecified address";
		if (v4[0] == 0)
			return "is not a unicast address";
		return NULL;
	}
	if (!memcmp(a->addr, zero, 15))
		return a->addr[15] == 1	  ? "is a loopback address"
		       : a->addr[15] == 0 ? "is the unspecified address"
					  : NULL;
	if (a->addr[0] == 0xff)
		return "is a multicast address";
	return NULL;
}

int addr_val(struct ctx *c, const struct ynode *n, struct tl_cidr *out)
{
	const char *why;

	if (tl_parse_addr(text(n), out)) {
		error_node(c, n, "'%s' is not an IPv4 or IPv6 address%s",
			   shown(c, text(n)),
			   strchr(text(n), '/')
			       ? " (a single address, no prefix)"
			       : "");
		return -1;
	}
	why = check_unicast(out);
	if (why) {
		error_node(c, n, "%s %s", shown(c, text(n)), why);
		return -1;
	}
	return 0;
}

int proto_val(struct ctx *c, const struct ynode *n)
{
	static const char *const names[] = {"udp", "tcp"};
	int i = enum_val(c, n, "protocol", names, 2);

	return i < 0 ? -1 : i == 0 ? IPPROTO_UDP : IPPROTO_TCP;
}

/* An integer in [lo, hi], reported at the node when it is not. */
int uint_in(struct ctx *c, const struct ynode *n, const char *key, uint64_t lo,
	    uint64_t hi, uint32_t *out)
{
	uint64_t v;
	int r = tl_parse_uint(text(n), false, hi, &v);

	if (r == -1) {
		error_node(c, n, "%s '%s' is not a number", key,
			   shown(c, text(n)));
		return -1;
	}
	if (r == -2 || v < lo) {
		error_node(c, n, "%s %s is out of range %llu-%llu", key,
			   shown(c, text(n)), (unsigned long long)lo,
			   (unsigned long long)hi);
		return -1;
	}
	*out = (uint32_t)v;
	return 0;
}
