// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Unit test of the policy reader and the address helpers.
 *
 * Bad policies are a table: each names the exact FILE:LINE:COL and a
 * substring of every error it must produce, in file order, and no other
 * error may appear. Good policies assert the parsed values. Every YAML
 * file in examples/ must check clean (run from the repository root, or
 * set TL_EXAMPLES to the examples directory).
 *
 * Output: one "PASS: name" or "FAIL: name: why" line per case ("# ..."
 * lines are notes), then "N passed, N failed". Exit 1 when anything failed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <glob.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "apply.h"
#include "policy.h"
#include "../plain_diff.h"

#define FILE_NAME "t.yaml"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_UNDEFINED__)
#define SANITIZED 1 /* sanitizers cost time and address space of their own */
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) ||                                        \
    __has_feature(undefined_behavior_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

static int npassed, nfailed;

static void pass(const char *name)
{
	printf("PASS: %s\n", name);
	npassed++;
}

__attribute__((format(printf, 2, 3))) static void fail(const char *name,
						       const char *fmt, ...)
{
	va_list ap;

	printf("FAIL: %s: ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	nfailed++;
}

/* Messages on one line, so a FAIL stays one line. */
static const char *oneline(char *s)
{
	char *p;

	for (p = s; *p; p++)
		if (*p == '\n')
			*p = '|';
	return s;
}

/* Parse buf; *out gets what the parser printed (caller frees). */
static int parse(const char *buf, size_t len, struct tl_policy *p, char **out)
{
	size_t outlen;
	FILE *err = open_memstream(out, &outlen);
	int r;

	if (!err) {
		perror("open_memstream");
		exit(2);
	}
	r = tl_policy_parse(FILE_NAME, buf, len, p, err);
	fclose(err);
	return r;
}

/* ---- bad policies ---- */

struct expect {
	int line;
	int col;
	const char *msg;
};

struct bad_case {
	const char *name;
	const char *yaml;
	struct expect e[4]; /* in file order; ends at msg == NULL */
};

/* A valid tunnel, with lines 1-6 and known columns:
 * name value 2:11, interface 3:16, endpoint 5:9 (address 5:19, port 5:39),
 * client 6:13 (fwmark 6:22). */
#define TUNNEL(NAME, IFACE, EP, CLIENT)                                        \
	"tunnels:\n"                                                           \
	"  - name: " NAME "\n"                                                 \
	"    interface: " IFACE "\n"                                           \
	"    endpoints:\n"                                                     \
	"      - " EP "\n"                                                     \
	"    client: " CLIENT "\n"
#define EP_OK "{address: 198.51.100.2, port: 51820}"
#define CL_OK "{fwmark: 0xca6c}"
#define TUN   TUNNEL("t", "wg0", EP_OK, CL_OK)
/* lines 7-8 */
#define PROF                                                                   \
	"profiles:\n"                                                          \
	"  - name: p\n"
#define H TUN PROF
/* An allow list of profile p, from line 9; the first rule is on line 10,
 * its cidr value at column 15. */
#define ALLOW H "    allow:\n"

static const struct bad_case bad_cases[] = {
    /* top level */
    {"unknown top-level key",
     H "colour: red\n",
     {{9, 1, "unknown key 'colour' (expected one of: mode,"}}},
    {"bad mode",
     "mode: block\n" H,
     {{1, 7, "mode must be enforce or audit, found 'block'"}}},
    {"bad no_socket",
     "no_socket: drop\n" H,
     {{1, 12, "no_socket must be enforce or allow, found 'drop'"}}},
    {"mode is a list",
     "mode: [enforce]\n" H,
     {{1, 7, "mode: expected a single value, found a list"}}},
    {"tunnels is a mapping",
     "tunnels: {name: t}\n" PROF,
     {{1, 10, "tunnels: expected a list, found a mapping"}}},
    {"missing tunnels", PROF, {{1, 1, "missing required key 'tunnels'"}}},
    {"missing profiles", TUN, {{1, 1, "missing required key 'profiles'"}}},
    {"empty tunnels",
     "tunnels: []\n" PROF,
     {{1, 10, "at least one tunnel is required"}}},
    {"empty profiles",
     TUN "profiles: []\n",
     {{7, 11, "at least one profile is required"}}},
    {"duplicate key",
     "mode: enforce\nmode: audit\n" H,
     {{2, 1, "duplicate key 'mode' (first at line 1)"}}},
    {"attach_cgroup glob",
     "attach_cgroup: /sys*\n" H,
     {{1, 16, "attach_cgroup '/sys*' must not be a glob"}}},
    {"attach_cgroup relative",
     "attach_cgroup: sys\n" H,
     {{1, 16, "must start with '/'"}}},
    {"root is a list",
     "- a\n- b\n",
     {{1, 1, "expected a mapping, found a list"}}},
    {"key is a list",
     "? [a]\n: x\n" H,
     {{1, 3, "a key must be a word, found a list"}}},
    {"empty file", "", {{1, 1, "the policy is empty"}}},
    /* the fuzzer's first find: no children at all (UBSan) */
    {"empty list", "[]\n", {{1, 1, "expected a mapping, found a list"}}},
    {"only a comment", "# nothing\n", {{1, 1, "the policy is empty"}}},
    {"unsupported tag",
     "mode: !env enforce\n" H,
     {{1, 7, "unsupported tag '!env'"}}},
    /* tags: exactly those the reader honours */
    {"tag !!binary",
     "mode: !!binary ZW5mb3JjZQ==\n" H,
     {{1, 7, "unsupported tag '!!binary' on a value"},
      {1, 7, "mode must be enforce or audit, found 'ZW5mb3JjZQ=='"}}},
    {"tag !!null",
     "mode: !!null enforce\n" H,
     {{1, 7, "unsupported tag '!!null' on a value"}}},
    {"tag !!env",
     "mode: !!env enforce\n" H,
     {{1, 7, "unsupported tag '!!env' on a value"}}},
    {"tag !<tag:yaml.org,2002:include>",
     "mode: !<tag:yaml.org,2002:include> enforce\n" H,
     {{1, 7, "unsupported tag '!!include' on a value"}}},
    {"tag !!float",
     "events: {rate: !!float 10}\n" H,
     {{1, 16, "unsupported tag '!!float' on a value"}}},
    {"tag !!seq on a mapping",
     "events: !!seq {rate: 10}\n" H,
     {{1, 9, "unsupported tag '!!seq' on a mapping"}}},
    {"tag !!map on a value",
     "mode: !!map enforce\n" H,
     {{1, 7, "unsupported tag '!!map' on a value"}}},
    {"tag !!int on a word",
     "mode: !!int enforce\n" H,
     {{1, 7, "tag '!!int' on 'enforce', which is not an integer"}}},
    {"tag !!bool on yes",
     H "cgroups:\n  - {path: /a, exempt: !!bool yes}\n",
     {{10, 24, "tag '!!bool' on 'yes', which is not true or false"},
      {10, 24, "exempt must be true or false, found 'yes'"}}},
    {"tag of another schema through %TAG",
     "%TAG !! tag:example.com,2026:\n---\nmode: !!str enforce\n" H,
     {{3, 7, "unsupported tag 'tag:example.com,2026:str'"}}},
    {"tag on a key",
     "!!binary bW9kZQ==: enforce\n" H,
     {{1, 1, "unsupported tag '!!binary'"}, {1, 1, "unknown key 'bW9kZQ=='"}}},
    {"NUL in a value",
     "mode: \"enf\\0orce\"\n" H,
     {{1, 7, "a key or value must not hold a NUL character"}}},
    {"NUL in a key",
     "\"mode\\0junk\": audit\n" H,
     {{1, 1, "a key or value must not hold a NUL character"}}},
    {"NUL in a list item",
     H "    allow: [{cidr: \"10.0.0.0/8\\0junk\"}]\n",
     {{9, 20, "a key or value must not hold a NUL character"}}},
    {"anchor defined twice",
     "mode: &a enforce\nno_socket: &a allow\n" H,
     {{2, 12, "found duplicate anchor '&a' (first at line 1)"}}},
    {"alias inside the node it names",
     "events: &e {rate: *e}\n" H,
     {{1, 19, "alias '*e' inside the node it names"}}},
    {"a long value is cut on a UTF-8 character",
     "mode: \xc3\xa9"
     "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
     "\xc3\xa9x\n" H,
     {{1, 7,
       "found '\xc3\xa9"
       "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
       "...'"}}},
    {"control characters in an echoed value",
     "mode: \"a\\nb\\tc\"\n" H,
     {{1, 7, "found 'a\\x0ab\\x09c'"}}},
    {"second document",
     H "---\nmode: audit\n",
     {{9, 1, "a policy is one YAML document"}}},

    /* YAML syntax, at the parser's problem mark */
    {"syntax: bad indentation",
     "mode: enforce\n  bad: x\n" H,
     {{2, 6, "syntax error: mapping values are not allowed"}}},
    {"syntax: unclosed flow",
     "mode: [enforce\n",
     {{2, 1, "did not find expected ',' or ']'"}}},
    {"syntax: tab",
     "tunnels:\n\t- a\n",
     {{2, 1, "a tab; YAML indents with spaces only"}}},
    {"syntax: undefined alias",
     "mode: *nope\n" H,
     {{1, 7, "found undefined alias"}}},
    {"syntax: invalid UTF-8",
     "mode: \xff"
     "\n" H,
     {{1, 7, "invalid leading UTF-8 octet (byte 0xff)"}}},

    /* tunnels */
    {"tunnel missing endpoints",
     "tunnels:\n  - name: t\n    interface: wg0\n    client: {fwmark: "
     "1}\n" PROF,
     {{2, 5, "tunnels[0]: missing required key 'endpoints'"}}},
    {"unknown tunnel key",
     TUN "    mtu: 1400\n" PROF,
     {{7, 5, "tunnels[0]: unknown key 'mtu'"}}},
    {"tunnel name with a space",
     TUNNEL("bad name", "wg0", EP_OK, CL_OK) PROF,
     {{2, 11, "name 'bad name' may only hold letters, digits"}}},
    {"tunnel name too long",
     "tunnels:\n  - name: "
     "a123456789b123456789c123456789d123456789e123456789f123456789abcd\n"
     "    interface: wg0\n    endpoints:\n      - " EP_OK "\n    client: " CL_OK
     "\n" PROF,
     {{2, 11, "is longer than 63 characters"}}},
    {"tunnel kind unknown",
     TUN "    kind: [ovpn, macvlan]\n" PROF,
     {{7, 18, "tunnels[0].kind[1]: 'macvlan' is no tunnel kind (expected "
	      "one of: wireguard, tun, ovpn,"}}},
    {"tunnel kind not a list",
     TUN "    kind: ovpn\n" PROF,
     {{7, 11, "tunnels[0].kind: expected a list, found 'ovpn'"}}},
    {"tunnel kind a mapping in the list",
     TUN "    kind: [{name: gre}]\n" PROF,
     {{7, 12, "tunnels[0].kind[0]: expected a single value, found a "
	      "mapping"}}},
    {"tunnel kind twice",
     TUN "    kind: [gre, gre]\n" PROF,
     {{7, 17, "tunnels[0].kind[1]: duplicate kind 'gre'"}}},
    {"tunnel kind empty",
     TUN "    kind: []\n" PROF,
     {{7, 11, "tunnels[0].kind: an empty list (leave 'kind' out"}}},
    {"interface lo",
     TUNNEL("t", "lo", EP_OK, CL_OK) PROF,
     {{3, 16, "must not match the loopback interface lo"}}},
    {"interface glob matching lo",
     TUNNEL("t", "\"*\"", EP_OK, CL_OK) PROF,
     {{3, 16, "must not match the loopback interface lo"}}},
    {"interface too long",
     TUNNEL("t", "wireguard-tunnel0", EP_OK, CL_OK) PROF,
     {{3, 16, "interface name is longer than 15 characters"}}},
    {"interface empty",
     TUNNEL("t", "\"\"", EP_OK, CL_OK) PROF,
     {{3, 16, "interface name is empty"}}},
    {"interface bad glob",
     TUNNEL("t", "wg[0", EP_OK, CL_OK) PROF,
     {{3, 16, "unterminated '[' in interface glob"}}},
    {"interface with slash",
     TUNNEL("t", "wg/0", EP_OK, CL_OK) PROF,
     {{3, 16, "not a valid interface name"}}},
    {"endpoint bad address",
     TUNNEL("t", "wg0", "{address: 198.51.100.300, port: 51820}", CL_OK) PROF,
     {{5, 19, "'198.51.100.300' is not an IPv4 or IPv6 address"}}},
    {"endpoint address with prefix",
     TUNNEL("t", "wg0", "{address: 198.51.100.2/32, port: 51820}", CL_OK) PROF,
     {{5, 19, "(a single address, no prefix)"}}},
    {"endpoint loopback",
     TUNNEL("t", "wg0", "{address: 127.0.0.1, port: 51820}", CL_OK) PROF,
     {{5, 19, "127.0.0.1 is a loopback address"}}},
    {"endpoint multicast",
     TUNNEL("t", "wg0", "{address: \"ff02::1\", port: 51820}", CL_OK) PROF,
     {{5, 19, "ff02::1 is a multicast address"}}},
    {"endpoint unspecified",
     TUNNEL("t", "wg0", "{address: \"::\", port: 51820}", CL_OK) PROF,
     {{5, 19, ":: is the unspecified address"}}},
    {"endpoint port 0",
     TUNNEL("t", "wg0", "{address: 198.51.100.2, port: 0}", CL_OK) PROF,
     {{5, 39, "port 0 is out of range 1-65535"}}},
    {"endpoint port 65536",
     TUNNEL("t", "wg0", "{address: 198.51.100.2, port: 65536}", CL_OK) PROF,
     {{5, 39, "port 65536 is out of range 1-65535"}}},
    {"endpoint port leading zero",
     TUNNEL("t", "wg0", "{address: 198.51.100.2, port: 080}", CL_OK) PROF,
     {{5, 39, "'080' is not a port number"}}},
    {"endpoint bad protocol",
     TUNNEL("t", "wg0", "{address: 198.51.100.2, port: 51820, protocol: sctp}",
	    CL_OK) PROF,
     {{5, 56, "protocol must be udp or tcp, found 'sctp'"}}},
    {"endpoint unknown key",
     TUNNEL("t", "wg0", "{address: 198.51.100.2, port: 51820, weight: 1}",
	    CL_OK) PROF,
     {{5, 46, "tunnels[0].endpoints[0]: unknown key 'weight'"}}},
    {"endpoint missing port",
     TUNNEL("t", "wg0", "{address: 198.51.100.2}", CL_OK) PROF,
     {{5, 9, "tunnels[0].endpoints[0]: missing required key 'port'"}}},
    {"endpoint port empty",
     "tunnels:\n  - name: t\n    interface: wg0\n    endpoints:\n"
     "      - address: 198.51.100.2\n        port:\n    client: " CL_OK
     "\n" PROF,
     {{6, 14, "port: expected a single value, found an empty value"}}},
    {"endpoints empty",
     "tunnels:\n  - name: t\n    interface: wg0\n    endpoints: []\n"
     "    client: " CL_OK "\n" PROF,
     {{4, 16, "at least one endpoint is required"}}},
    {"endpoint is a scalar",
     TUNNEL("t", "wg0", "198.51.100.2", CL_OK) PROF,
     {{5, 9,
       "tunnels[0].endpoints[0]: expected a mapping, found '198.51.100.2'"}}},
    {"duplicate endpoint",
     "tunnels:\n"
     "  - name: a\n"
     "    interface: wg0\n"
     "    endpoints: [{address: 198.51.100.2, port: 51820}]\n"
     "    client: {fwmark: 1}\n"
     "  - name: b\n"
     "    interface: wg1\n"
     "    endpoints: [{address: 198.51.100.2, port: 51820}]\n"
     "    client: {fwmark: 2}\n" PROF,
     {{8, 27, "duplicate endpoint (first at line 4)"}}},
    {"duplicate endpoint, IPv4-mapped spelling",
     "tunnels:\n"
     "  - name: t\n"
     "    interface: wg0\n"
     "    endpoints:\n"
     "      - {address: 198.51.100.2, port: 51820}\n"
     "      - {address: \"::ffff:198.51.100.2\", port: 51820}\n"
     "    client: {fwmark: 1}\n" PROF,
     {{6, 19, "duplicate endpoint (first at line 5)"}}},
    {"duplicate tunnel name",
     "tunnels:\n"
     "  - name: a\n"
     "    interface: wg0\n"
     "    endpoints: [{address: 198.51.100.2, port: 51820}]\n"
     "    client: {fwmark: 1}\n"
     "  - name: a\n"
     "    interface: wg1\n"
     "    endpoints: [{address: 198.51.100.3, port: 51820}]\n"
     "    client: {fwmark: 2}\n" PROF,
     {{6, 11, "duplicate tunnel name 'a' (first at line 2)"}}},
    {"fwmark 0",
     TUNNEL("t", "wg0", EP_OK, "{fwmark: 0}") PROF,
     {{6, 22, "fwmark must be non-zero"}}},
    {"fwmark too big",
     TUNNEL("t", "wg0", EP_OK, "{fwmark: 0x1ffffffff}") PROF,
     {{6, 22, "fwmark 0x1ffffffff does not fit in 32 bits"}}},
    {"fwmark not a number",
     TUNNEL("t", "wg0", EP_OK, "{fwmark: abc}") PROF,
     {{6, 22, "fwmark 'abc' is not a number"}}},
    {"client cgroup relative",
     TUNNEL("t", "wg0", EP_OK, "{cgroup: system.slice/x}") PROF,
     {{6, 22, "cgroup 'system.slice/x' must start with '/'"}}},
    {"client is empty",
     TUNNEL("t", "wg0", EP_OK, "") PROF,
     {{6, 12, "client: expected a mapping, found an empty value"}}},
    {"resolver loopback",
     TUN "    resolvers: [100.64.0.53, 127.0.0.53]\n" PROF,
     {{7, 30, "resolvers[1]: 127.0.0.53 is a loopback address"}}},
    {"resolver duplicate",
     TUN "    resolvers: [100.64.0.53, 100.64.0.53]\n" PROF,
     {{7, 30, "duplicate resolver 100.64.0.53"}}},

    /* profiles */
    {"bad lan",
     H "    lan: maybe\n",
     {{9, 10, "lan must be block or allow, found 'maybe'"}}},
    {"profile name invalid",
     TUN "profiles:\n  - name: p/q\n",
     {{8, 11, "name 'p/q' may only hold"}}},
    {"duplicate profile name",
     H "  - name: p\n",
     {{9, 11, "duplicate profile name 'p' (first at line 8)"}}},
    {"allow host bits",
     ALLOW "      - cidr: 10.0.0.1/8\n",
     {{10, 15,
       "cidr 10.0.0.1/8: host bits are set; the network is 10.0.0.0/8"}}},
    {"allow IPv6 host bits",
     ALLOW "      - cidr: 2001:db8::1/32\n",
     {{10, 15, "host bits are set; the network is 2001:db8::/32"}}},
    {"allow prefix over 32",
     ALLOW "      - cidr: 10.0.0.0/33\n",
     {{10, 15, "prefix length is out of range 0-32"}}},
    {"allow prefix over 128",
     ALLOW "      - cidr: 2001:db8::/129\n",
     {{10, 15, "prefix length is out of range 0-128"}}},
    {"allow prefix not a number",
     ALLOW "      - cidr: 10.0.0.0/x\n",
     {{10, 15, "prefix length is not a number"}}},
    {"allow not an address",
     ALLOW "      - cidr: example.com\n",
     {{10, 15, "cidr example.com: not an IPv4 or IPv6 address"}}},
    {"allow bad protocol",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: sctp\n",
     {{11, 19, "protocol must be any, tcp, udp or icmp, found 'sctp'"}}},
    {"ports without tcp or udp",
     ALLOW "      - cidr: 203.0.113.0/24\n        ports: [443]\n",
     {{11, 16, "ports need 'protocol: tcp' or 'protocol: udp'"}}},
    {"ports with icmp",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: icmp\n        "
	   "ports: [1]\n",
     {{12, 16, "ports need 'protocol: tcp' or 'protocol: udp'"}}},
    {"port 0",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: tcp\n        "
	   "ports: [0]\n",
     {{12, 17, "ports[0]: port 0 is out of range 1-65535"}}},
    {"port above 65535",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: udp\n        "
	   "ports: [1-70000]\n",
     {{12, 17, "port 70000 is out of range 1-65535"}}},
    {"port range backwards",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: tcp\n        "
	   "ports: [9000-8000]\n",
     {{12, 17, "port range 9000-8000 is backwards"}}},
    {"port not a number",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: tcp\n        "
	   "ports: [http]\n",
     {{12, 17, "'http' is not a port number"}}},
    {"too many ports",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: tcp\n"
	   "        ports: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n",
     {{12, 41, "too many port entries (at most 8)"}}},
    {"overlapping ports",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: tcp\n        "
	   "ports: [80-90, 85]\n",
     {{12, 24, "port 85 overlaps 80-90 in the same list"}}},
    {"empty port list",
     ALLOW
     "      - cidr: 203.0.113.0/24\n        protocol: tcp\n        ports: []\n",
     {{12, 16, "an empty port list allows nothing"}}},
    {"ports is a scalar",
     ALLOW "      - cidr: 203.0.113.0/24\n        protocol: tcp\n        "
	   "ports: 443\n",
     {{12, 16, "ports: expected a list, found '443'"}}},
    {"overlapping allow CIDRs",
     ALLOW "      - cidr: 10.0.0.0/8\n      - cidr: 10.1.0.0/16\n",
     {{11, 15,
       "profile 'p': allow CIDR 10.1.0.0/16 overlaps 10.0.0.0/8 (line 10)"}}},
    {"overlapping allow CIDRs, wider later",
     ALLOW "      - cidr: 10.1.0.0/16\n      - cidr: 10.0.0.0/8\n",
     {{11, 15, "allow CIDR 10.0.0.0/8 overlaps 10.1.0.0/16 (line 10)"}}},
    {"duplicate allow CIDR",
     ALLOW "      - cidr: 10.0.0.0/8\n        protocol: tcp\n      - cidr: "
	   "10.0.0.0/8\n",
     {{12, 15, "duplicate allow CIDR 10.0.0.0/8 (first at line 10)"}}},
    {"overlapping allow CIDRs, IPv6",
     ALLOW "      - cidr: 2001:db8::/32\n      - cidr: 10.0.0.0/8\n"
	   "      - cidr: 2001:db8:5::/48\n",
     {{12, 15, "allow CIDR 2001:db8:5::/48 overlaps 2001:db8::/32 (line 10)"}}},
    {"allow IPv6 CIDR holding all of IPv4",
     ALLOW "      - cidr: ::/0\n",
     {{10, 15, "IPv6 allow CIDR ::/0 holds ::ffff:0:0/96"},
      {10, 15, "allow CIDR ::/0 contains endpoint 198.51.100.2"}}},
    {"allow CIDR contains endpoint",
     ALLOW "      - cidr: 198.51.100.0/24\n",
     {{10, 15,
       "allow CIDR 198.51.100.0/24 contains endpoint 198.51.100.2 of tunnel "
       "'t' (line 5)"}}},
    {"allow 0.0.0.0/0 contains endpoint",
     ALLOW "      - cidr: 0.0.0.0/0\n",
     {{10, 15, "allow CIDR 0.0.0.0/0 contains endpoint 198.51.100.2"}}},
    {"allow CIDR contains IPv6 endpoint",
     TUNNEL("t", "wg0", "{address: \"2001:db8::2\", port: 51820}", CL_OK) PROF
     "    allow:\n      - cidr: 2001:db8::/32\n",
     {{10, 15, "allow CIDR 2001:db8::/32 contains endpoint 2001:db8::2"}}},
    {"allow CIDR contains IPv4-mapped endpoint",
     TUNNEL("t", "wg0", "{address: \"::ffff:198.51.100.2\", port: 51820}",
	    CL_OK) PROF "    allow:\n      - cidr: 198.51.100.0/25\n",
     {{10, 15, "contains endpoint 198.51.100.2"}}},
    {"allow endpoint inside nested rules",
     ALLOW "      - cidr: 198.51.100.0/24\n      - cidr: 198.51.100.128/25\n",
     {{10, 15, "allow CIDR 198.51.100.0/24 contains endpoint 198.51.100.2"},
      {11, 15, "allow CIDR 198.51.100.128/25 overlaps 198.51.100.0/24"}}},

    {"allow endpoint below a rule that misses it",
     ALLOW "      - cidr: 198.51.100.0/24\n      - cidr: 198.51.100.0/31\n",
     {{10, 15, "allow CIDR 198.51.100.0/24 contains endpoint 198.51.100.2"},
      {11, 15, "allow CIDR 198.51.100.0/31 overlaps 198.51.100.0/24"}}},

    /* DNS */
    {"bad dns action",
     H "    dns: allow\n",
     {{9, 10, "dns must be block, redirect or ordinary, found 'allow'"}}},
    {"dns redirect without a resolver",
     H "    dns: redirect\n",
     {{9, 10,
       "profile 'p': 'dns: redirect' needs a tunnel resolver, and no tunnel "
       "lists 'resolvers'"}}},
    {"allow rule for DNS port with dns: block (the default)",
     ALLOW "      - cidr: 10.213.0.1/32\n        protocol: udp\n"
	   "        ports: [53]\n",
     {{12, 16,
       "profile 'p': allow rule for 10.213.0.1/32 names DNS port 53, but "
       "'dns: block' decides DNS outside the tunnel; a profile that must "
       "reach this resolver needs 'dns: ordinary'"}}},
    {"allow rule for DNS over TLS with dns: redirect",
     TUN "    resolvers: [100.100.0.1]\n" PROF "    dns: redirect\n"
	 "    allow:\n"
	 "      - {cidr: 203.0.113.0/24, protocol: tcp, ports: [443, 853]}\n",
     {{12, 54, "allow rule for 203.0.113.0/24 names DNS port 853, but "
	       "'dns: redirect' decides"}}},
    {"allow rule for a configured DNS port",
     "dns_ports: [53, 5353]\n" ALLOW "      - cidr: 10.213.0.0/24\n"
     "        protocol: udp\n        ports: [5353]\n",
     {{13, 16, "names DNS port 5353"}}},
    {"dns_ports empty",
     "dns_ports: []\n" H,
     {{1, 12, "an empty list recognises no DNS at all"}}},
    {"dns_ports duplicate",
     "dns_ports: [53, 853, 53]\n" H,
     {{1, 22, "dns_ports[2]: duplicate DNS port 53"}}},
    {"dns_ports port 0",
     "dns_ports: [53, 0]\n" H,
     {{1, 17, "dns_ports[1]: port 0 is out of range 1-65535"}}},
    {"dns_ports range",
     "dns_ports: [53-60]\n" H,
     {{1, 13, "'53-60' is not a port number"}}},
    {"dns_ports too many",
     "dns_ports: [53, 853, 1, 2, 3, 4, 5, 6, 7]\n" H,
     {{1, 40, "too many DNS ports (at most 8)"}}},
    {"dns_ports not a list",
     "dns_ports: 53\n" H,
     {{1, 12, "dns_ports: expected a list, found '53'"}}},

    /* cgroups */
    {"cgroup path relative",
     H "cgroups:\n  - {path: x, profile: p}\n",
     {{10, 12, "path 'x' must start with '/'"}}},
    {"cgroup path dotdot",
     H "cgroups:\n  - {path: /a/../b, profile: p}\n",
     {{10, 12, "must not hold '.' or '..' components"}}},
    {"cgroup path double slash",
     H "cgroups:\n  - {path: /a//b, profile: p}\n",
     {{10, 12, "holds an empty component ('//')"}}},
    {"cgroup path trailing slash",
     H "cgroups:\n  - {path: /a/, profile: p}\n",
     {{10, 12, "must not end with '/'"}}},
    {"cgroup profile and exempt",
     H "cgroups:\n  - {path: /a, profile: p, exempt: true}\n",
     {{10, 5, "give either 'profile' or 'exempt: true', not both"}}},
    {"cgroup neither profile nor exempt",
     H "cgroups:\n  - {path: /a}\n",
     {{10, 5, "needs 'profile' or 'exempt: true'"}}},
    {"cgroup exempt false without profile",
     H "cgroups:\n  - {path: /a, exempt: false}\n",
     {{10, 5, "'exempt: false' needs a 'profile'"}}},
    {"cgroup unknown profile",
     H "cgroups:\n  - {path: /a, profile: nope}\n",
     {{10, 25, "unknown profile 'nope'"}}},
    {"cgroup exempt not a bool",
     H "cgroups:\n  - {path: /a, exempt: yes}\n",
     {{10, 24, "exempt must be true or false, found 'yes'"}}},
    {"duplicate cgroup path",
     H "cgroups:\n  - {path: /a, profile: p}\n  - {path: /a, exempt: true}\n",
     {{11, 12, "duplicate cgroup path '/a' (first at line 10)"}}},
    {"cgroup missing path",
     H "cgroups:\n  - {profile: p}\n",
     {{10, 5, "cgroups[0]: missing required key 'path'"}}},

    /* events: the feed's rate limit */
    {"events is a list",
     H "events: [100]\n",
     {{9, 9, "events: expected a mapping, found a list"}}},
    {"events unknown key",
     H "events: {rate: 10, period: 5}\n",
     {{9, 20, "events: unknown key 'period' (expected one of: rate, burst)"}}},
    {"events rate not a number",
     H "events: {rate: fast}\n",
     {{9, 16, "events.rate: rate 'fast' is not a number"}}},
    {"events rate negative",
     H "events: {rate: -1}\n",
     {{9, 16, "events.rate: rate '-1' is not a number"}}},
    {"events rate too high",
     H "events: {rate: 1000001}\n",
     {{9, 16, "events.rate: rate 1000001 is out of range 0-1000000"}}},
    {"events rate leading zero",
     H "events: {rate: 010}\n",
     {{9, 16, "events.rate: rate '010' is not a number"}}},
    {"events burst zero",
     H "events: {rate: 10, burst: 0}\n",
     {{9, 27, "events.burst: burst 0 is out of range 1-1000000"}}},
    {"events burst too high",
     H "events:\n  rate: 10\n  burst: 99999999999999999999\n",
     {{11, 10, "events.burst: burst 99999999999999999999 is out of range"}}},
    {"events burst empty",
     H "events:\n  burst:\n",
     {{10, 9, "events.burst: expected a single value, found an empty value"}}},
    {"events duplicate rate",
     H "events:\n  rate: 1\n  rate: 2\n",
     {{11, 3, "duplicate key 'rate' (first at line 10)"}}},

    /* every error, not just the first, in file order */
    {"all errors reported",
     "mode: strict\n" TUNNEL("t", "wg0", "{address: 198.51.100.2, port: 0}",
			     CL_OK) PROF
     "cgroups:\n  - {path: /a, profile: nope}\n",
     {{1, 7, "mode must be"},
      {6, 39, "port 0 is out of range"},
      {11, 25, "unknown profile 'nope'"}}},

    /* raw and packet sockets, containers */
    {"bad raw_sockets",
     H "    raw_sockets: maybe\n",
     {{9, 18, "raw_sockets must be deny or allow, found 'maybe'"}}},
    {"raw_sockets is a list",
     H "    raw_sockets: [allow]\n",
     {{9, 18, "profiles[0].raw_sockets: expected a single value, found a list"}}},
    {"container_mark not contiguous",
     "container_mark: 0xff00ff00\n" H,
     {{1, 17, "container_mark 0xff00ff00 must be one run of contiguous bits"}}},
    {"container_mark zero",
     "container_mark: 0\n" H,
     {{1, 17, "container_mark 0 must be one run of contiguous bits"}}},
    {"container_mark too wide",
     "container_mark: 0xffff0000\n" H,
     {{1, 17, "has more than 12 bits"}}},
    {"container_mark not a number",
     "container_mark: 010\n" H,
     {{1, 17, "container_mark '010' is not a number"}}},
    {"container_mark too large",
     "container_mark: 0x1ff000000\n" H,
     {{1, 17, "does not fit in 32 bits"}}},
    {"container_mark shares bits with a fwmark",
     "container_mark: 0x0000ff00\n" H,
     {{1, 17, "container_mark 0xff00 shares bits with fwmark 0xca6c of "
	      "tunnel 't'"}}},
};

/* Does line (without its newline) say exactly where and what e says? */
static bool line_matches(const char *line, size_t len, const struct expect *e)
{
	char prefix[64], *copy;
	bool ok;

	snprintf(prefix, sizeof(prefix), "%s:%d:%d: ", FILE_NAME, e->line,
		 e->col);
	if (len < strlen(prefix) || strncmp(line, prefix, strlen(prefix)))
		return false;
	copy = strndup(line, len);
	ok = copy && strstr(copy + strlen(prefix), e->msg);
	free(copy);
	return ok;
}

/* Every error line must match the next expectation; warnings are skipped. */
static const char *match_errors(char *out, const struct expect *e, size_t ne,
				char *why, size_t whylen)
{
	const char *line = out;
	size_t k = 0;

	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (!memmem(line, len, ": warning: ", 11)) {
			if (k == ne || !line_matches(line, len, &e[k])) {
				snprintf(why, whylen,
					 "error %zu is not %s:%d:%d: ...%s...",
					 k + 1, FILE_NAME,
					 k < ne ? e[k].line : 0,
					 k < ne ? e[k].col : 0,
					 k < ne ? e[k].msg : "(none expected)");
				return why;
			}
			k++;
		}
		line += len + (nl ? 1 : 0);
	}
	if (k < ne) {
		snprintf(why, whylen, "missing %s:%d:%d: ...%s...", FILE_NAME,
			 e[k].line, e[k].col, e[k].msg);
		return why;
	}
	return NULL;
}

static void run_bad(const struct bad_case *c)
{
	struct tl_policy p;
	char *out = NULL, why[512];
	const char *w;
	size_t ne = 0;
	int r;

	while (ne < 4 && c->e[ne].msg)
		ne++;
	r = parse(c->yaml, strlen(c->yaml), &p, &out);
	if (r != -1)
		fail(c->name, "returned %d, not -1", r);
	else if ((w = match_errors(out, c->e, ne, why, sizeof(why))))
		fail(c->name, "%s; got: %s", w, oneline(out));
	else if (p.tunnels || p.profiles || p.cgroups || p.file)
		fail(c->name, "failed parse left memory in the policy");
	else
		pass(c->name);
	tl_policy_free(&p);
	free(out);
}

/* Lists past their limit: the error is at the first entry too many. */
static void run_limits(void)
{
	static const struct {
		const char *name;
		int count;
		int limit;
	} lim[] = {{"too many tunnels", TL_MAX_TUNNELS + 1, TL_MAX_TUNNELS},
		   {"too many profiles", TL_MAX_PROFILES + 1, TL_MAX_PROFILES}};
	unsigned i;
	int k;

	for (i = 0; i < sizeof(lim) / sizeof(lim[0]); i++) {
		struct expect e[2] = {{0}};
		char *buf = NULL, *out = NULL, why[512];
		size_t len;
		FILE *f = open_memstream(&buf, &len);
		struct tl_policy p;
		const char *w;
		int r;

		if (i == 0) {
			/* 4 lines per tunnel, from line 2 */
			fprintf(f, "tunnels:\n");
			for (k = 0; k < lim[i].count; k++)
				fprintf(f,
					"  - name: t%d\n    interface: wg%d\n"
					"    endpoints: [{address: "
					"198.51.100.%d, port: 51820}]\n"
					"    client: {fwmark: %d}\n",
					k, k, k + 1, k + 1);
			fprintf(f, PROF);
			e[0] = (struct expect){2 + 4 * lim[i].limit, 5,
					       "too many tunnels (at most 16)"};
		} else {
			/* one line per profile, from line 8 */
			fprintf(f, TUN "profiles:\n");
			for (k = 0; k < lim[i].count; k++)
				fprintf(f, "  - name: p%d\n", k);
			e[0] =
			    (struct expect){8 + lim[i].limit, 5,
					    "too many profiles (at most 64)"};
		}
		fclose(f);
		r = parse(buf, len, &p, &out);
		if (r != -1)
			fail(lim[i].name, "returned %d", r);
		else if ((w = match_errors(out, e, 1, why, sizeof(why))))
			fail(lim[i].name, "%s; got: %s", w, oneline(out));
		else
			pass(lim[i].name);
		tl_policy_free(&p);
		free(buf);
		free(out);
	}
}

/* A check across profiles names a place even when the profile is no
 * mapping: here the 64th, which leaves the built-in profile no slot. */
static void run_no_slot(void)
{
	const char *name = "64 profiles, the last not a mapping: no 0:0";
	struct expect e[2] = {{71, 5, "profiles[63]: expected a mapping"},
			      {71, 5, "the built-in locked profile has no slot"}};
	char *buf = NULL, *out = NULL, why[512];
	struct tl_policy p;
	FILE *f;
	size_t len;
	const char *w;

	f = open_memstream(&buf, &len);
	fprintf(f, TUN "profiles:\n");
	for (int k = 0; k < 63; k++)
		fprintf(f, "  - name: p%d\n", k);
	fprintf(f, "  - x\n");
	fclose(f);
	if (parse(buf, len, &p, &out) != -1)
		fail(name, "accepted");
	else if ((w = match_errors(out, e, 2, why, sizeof(why))))
		fail(name, "%s; got: %s", w, oneline(out));
	else
		pass(name);
	tl_policy_free(&p);
	free(buf);
	free(out);
}

/* Resolvers: 16 per tunnel, TL_MAX_RESOLVERS over all (the kernel's list). */
static void run_resolver_limit(void)
{
	const char *name = "too many resolvers over all tunnels";
	struct expect e = {0};
	char *buf = NULL, *out = NULL, why[512];
	struct tl_policy p;
	const char *w;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	int t, k, r;

	/* 5 lines per tunnel, from line 2; the third tunnel's list is over */
	fprintf(f, "tunnels:\n");
	for (t = 0; t < 3; t++) {
		fprintf(f,
			"  - name: t%d\n    interface: wg%d\n"
			"    endpoints: [{address: 198.51.100.%d, port: 51820}]\n"
			"    client: {fwmark: %d}\n    resolvers: [",
			t, t, t + 1, t + 1);
		for (k = 0; k < 16; k++)
			fprintf(f, "%s100.64.%d.%d", k ? ", " : "", t, k + 1);
		fprintf(f, "]\n");
	}
	fprintf(f, PROF);
	fclose(f);
	e = (struct expect){2 + 5 * 2 + 4, 16,
			    "too many resolvers (at most 32 over all tunnels)"};
	r = parse(buf, len, &p, &out);
	if (r != -1)
		fail(name, "returned %d", r);
	else if ((w = match_errors(out, &e, 1, why, sizeof(why))))
		fail(name, "%s; got: %s", w, oneline(out));
	else
		pass(name);
	tl_policy_free(&p);
	free(buf);
	free(out);
}

/* 64 profiles fill every slot: then "/" must name the default. */
static void run_full_slots(void)
{
	static const char *const names[] = {
	    "64 profiles without a default",
	    "64 profiles with a default",
	};
	int i, k;

	for (i = 0; i < 2; i++) {
		struct expect e = {7 + TL_MAX_PROFILES, 11,
				   "the built-in locked profile has no slot"};
		char *buf = NULL, *out = NULL, why[512];
		struct tl_policy p;
		size_t len;
		FILE *f = open_memstream(&buf, &len);
		const char *w;
		int r;

		fprintf(f, TUN "profiles:\n");
		for (k = 0; k < TL_MAX_PROFILES; k++)
			fprintf(f, "  - name: p%d\n", k);
		if (i)
			fprintf(f, "cgroups:\n  - {path: /, profile: p63}\n");
		fclose(f);
		r = parse(buf, len, &p, &out);
		if (i && (r || *out || p.default_profile != 63))
			fail(names[i], "returned %d: %s", r, oneline(out));
		else if (!i && r != -1)
			fail(names[i], "returned %d", r);
		else if (!i && (w = match_errors(out, &e, 1, why, sizeof(why))))
			fail(names[i], "%s; got: %s", w, oneline(out));
		else
			pass(names[i]);
		tl_policy_free(&p);
		free(buf);
		free(out);
	}
}

/* ---- good policies ---- */

#define CHECK(name, cond)                                                      \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fail(name, "line %d: %s", __LINE__, #cond);            \
			goto out;                                              \
		}                                                              \
	} while (0)

static bool addr_is(const uint8_t addr[16], const char *want)
{
	char buf[INET6_ADDRSTRLEN];

	return !tl_format_addr(addr, buf, sizeof(buf)) && !strcmp(buf, want);
}

static const char full_policy[] =
    "mode: audit\n"
    "attach_cgroup: /tunlock\n"
    "no_socket: allow\n"
    "tunnels:\n"
    "  - name: corp\n" /* line 5 */
    "    interface: wg*\n"
    "    endpoints:\n"
    "      - address: 198.51.100.2\n"
    "        port: 51820\n"
    "      - address: 2001:db8::2\n"
    "        port: 443\n"
    "        protocol: tcp\n"
    "    client:\n"
    "      cgroup: /system.slice/wg-quick@wg0.service\n"
    "      fwmark: 0xca6c\n"
    "    resolvers: [100.64.0.53, \"2001:db8::53\"]\n"
    "  - name: backup\n"
    "    interface: tun0\n"
    "    endpoints:\n"
    "      - address: \"::ffff:198.51.100.7\"\n"
    "        port: 1194\n"
    "    client:\n"
    "      fwmark: 4660\n"
    "profiles:\n"
    "  - name: locked\n"
    "  - name: lan\n"
    "    lan: allow\n"
    "    dns: ordinary\n"
    "    allow:\n"
    "      - cidr: 203.0.113.0/24\n"
    "        protocol: tcp\n"
    "        ports: [443, 8000-8080]\n"
    "      - cidr: 2001:db8:1::/48\n"
    "        protocol: icmp\n"
    "      - cidr: 100.64.0.0/10\n"
    "      - cidr: 10.213.0.0/25\n"
    "        protocol: udp\n"
    "        ports: [\"53\"]\n"
    "      - cidr: 10.213.0.128/25\n"
    "cgroups:\n"
    "  - path: /system.slice/NetworkManager.service\n"
    "    exempt: true\n"
    "  - path: /system.slice/docker-*.scope\n"
    "    profile: lan\n"
    "  - path: /\n"
    "    profile: lan\n";

static void good_full(void)
{
	const char *name = "good: full policy values";
	const struct tl_tunnel_cfg *t;
	const struct tl_endpoint_cfg *ep;
	const struct tl_allow_rule *a;
	const struct tl_port_range *ports;
	const struct tl_profile_cfg *pr;
	struct tl_policy p;
	char *out = NULL;
	int r = parse(full_policy, strlen(full_policy), &p, &out);

	CHECK(name, r == 0);
	CHECK(name, !*out);
	CHECK(name, p.file && !strcmp(p.file, FILE_NAME));
	CHECK(name, p.mode == TL_MODE_AUDIT);
	CHECK(name, p.no_socket_allow);
	CHECK(name, !strcmp(p.attach_cgroup, "/tunlock"));
	CHECK(name, p.ntunnels == 2);

	t = &p.tunnels[0];
	CHECK(name, !strcmp(t->name, "corp") && !strcmp(t->interface, "wg*"));
	CHECK(name, t->loc.line == 5 && t->loc.col == 11);
	CHECK(name, t->nendpoints == 2);
	ep = &t->endpoints[0];
	CHECK(name, ep->addr.family == AF_INET && ep->addr.prefixlen == 32);
	CHECK(name,
	      !memcmp(ep->addr.addr,
		      "\0\0\0\0\0\0\0\0\0\0\xff\xff\xc6\x33\x64\x02", 16));
	CHECK(name, ep->port == 51820 && ep->protocol == IPPROTO_UDP);
	CHECK(name, ep->loc.line == 8 && ep->loc.col == 18);
	ep = &t->endpoints[1];
	CHECK(name, ep->addr.family == AF_INET6 && ep->addr.prefixlen == 128);
	CHECK(name, addr_is(ep->addr.addr, "2001:db8::2"));
	CHECK(name, ep->port == 443 && ep->protocol == IPPROTO_TCP);
	CHECK(name,
	      !strcmp(t->client_cgroup, "/system.slice/wg-quick@wg0.service"));
	CHECK(name, t->has_fwmark && t->fwmark == 0xca6c);
	CHECK(name, t->nresolvers == 2);
	CHECK(name, t->resolvers[0].family == AF_INET &&
			addr_is(t->resolvers[0].addr, "100.64.0.53"));
	CHECK(name, t->resolvers[1].family == AF_INET6 &&
			addr_is(t->resolvers[1].addr, "2001:db8::53"));

	t = &p.tunnels[1];
	CHECK(name, !strcmp(t->name, "backup") && t->nendpoints == 1);
	/* the IPv4-mapped spelling is read as IPv4 */
	CHECK(name, t->endpoints[0].addr.family == AF_INET &&
			t->endpoints[0].addr.prefixlen == 32 &&
			addr_is(t->endpoints[0].addr.addr, "198.51.100.7"));
	CHECK(name, !t->client_cgroup[0] && t->has_fwmark && t->fwmark == 4660);
	CHECK(name, t->nresolvers == 0);

	CHECK(name, p.nprofiles == 2);
	pr = &p.profiles[0];
	CHECK(name, !strcmp(pr->name, "locked") && !pr->lan && !pr->nallow);
	CHECK(name, pr->dns == TL_DNS_MODE_BLOCK);
	pr = &p.profiles[1];
	CHECK(name, !strcmp(pr->name, "lan") && pr->lan && pr->nallow == 5);
	/* an explicit rule for a LAN resolver needs dns: ordinary */
	CHECK(name, pr->dns == TL_DNS_MODE_ORDINARY);
	CHECK(name, pr->dns_loc.line == 28 && pr->dns_loc.col == 10);
	CHECK(name, p.ndns_ports == 2 && p.dns_ports[0] == 53 &&
			p.dns_ports[1] == 853);
	a = &pr->allow[0];
	CHECK(name, a->cidr.family == AF_INET && a->cidr.prefixlen == 24);
	CHECK(name, addr_is(a->cidr.addr, "203.0.113.0"));
	CHECK(name, a->protocol == IPPROTO_TCP && a->nports == 2);
	ports = tl_allow_ports(pr, a);
	CHECK(name, ports[0].lo == 443 && ports[0].hi == 443);
	CHECK(name, ports[1].lo == 8000 && ports[1].hi == 8080);
	CHECK(name, ports[0].protocol == IPPROTO_TCP &&
			ports[1].protocol == IPPROTO_TCP);
	a = &pr->allow[1];
	CHECK(name, a->cidr.family == AF_INET6 && a->cidr.prefixlen == 48);
	CHECK(name, a->protocol == IPPROTO_ICMPV6 && a->nports == 0);
	a = &pr->allow[2];
	CHECK(name, a->cidr.prefixlen == 10 && a->protocol == 0 && !a->nports);
	a = &pr->allow[3];
	ports = tl_allow_ports(pr, a);
	CHECK(name, a->protocol == IPPROTO_UDP && a->nports == 1 &&
			ports[0].lo == 53 && ports[0].hi == 53);
	/* the rules' ranges, one after the other in the profile's pool */
	CHECK(name, pr->nports == 3 && a->port0 == 2);
	a = &pr->allow[4];
	CHECK(name,
	      a->cidr.prefixlen == 25 && addr_is(a->cidr.addr, "10.213.0.128"));

	CHECK(name, p.ncgroups == 3);
	CHECK(name, p.cgroups[0].exempt && p.cgroups[0].profile == -1);
	CHECK(name, !strcmp(p.cgroups[0].path,
			    "/system.slice/NetworkManager.service"));
	CHECK(name, !p.cgroups[1].exempt && p.cgroups[1].profile == 1);
	CHECK(name, !strcmp(p.cgroups[1].path, "/system.slice/docker-*.scope"));
	CHECK(name,
	      !strcmp(p.cgroups[2].path, "/") && p.cgroups[2].profile == 1);
	CHECK(name, p.default_profile == 1);
	pass(name);
out:
	tl_policy_free(&p);
	free(out);
}

/*
 * The agent frees the allow rules once applied and keeps the rest; such a
 * policy is refused by tl_apply_policy (before it touches the kernel: no
 * BPF object is needed to see that).
 */
static void good_drop_allow(void)
{
	const char *name = "good: allow rules dropped after apply";
	struct tl_applied ap;
	struct tl_policy p;
	char *out = NULL;
	int r = parse(full_policy, strlen(full_policy), &p, &out);

	CHECK(name, r == 0 && !*out);
	CHECK(name, p.profiles[1].nallow == 5 && !p.allow_dropped);
	tl_policy_drop_allow(&p);
	CHECK(name, p.allow_dropped);
	for (size_t i = 0; i < p.nprofiles; i++)
		CHECK(name, !p.profiles[i].allow && !p.profiles[i].nallow &&
				!p.profiles[i].ports && !p.profiles[i].nports);
	/* what the running agent still needs */
	CHECK(name, p.nprofiles == 2 && !strcmp(p.profiles[1].name, "lan"));
	CHECK(name, p.ncgroups == 3 && !strcmp(p.cgroups[2].path, "/"));
	CHECK(name, p.ntunnels == 2 && p.tunnels[0].nendpoints == 2);
	CHECK(name, tl_apply_policy(NULL, &p, "/sys/fs/cgroup", &ap) == -EINVAL);
	pass(name);
out:
	tl_policy_free(&p);
	free(out);
}

/* Defaults, and no "/" entry: the built-in locked profile. */
static void good_defaults(void)
{
	const char *name = "good: defaults";
	static const char y[] =
	    H "cgroups:\n  - {path: /user.slice, profile: p}\n";
	struct tl_policy p;
	char *out = NULL;
	int r = parse(y, strlen(y), &p, &out);

	CHECK(name, r == 0 && !*out);
	CHECK(name, p.mode == TL_MODE_ENFORCE && !p.no_socket_allow);
	CHECK(name, !strcmp(p.attach_cgroup, "/"));
	CHECK(name, p.default_profile == -1);
	CHECK(name, p.ncgroups == 1 && p.cgroups[0].profile == 0);
	CHECK(name, p.tunnels[0].endpoints[0].protocol == IPPROTO_UDP);
	CHECK(name, !p.tunnels[0].client_cgroup[0]);
	CHECK(name, !p.profiles[0].lan && !p.profiles[0].allow);
	CHECK(name, p.event_rate == TL_EVENT_RATE_DEFAULT &&
			p.event_burst == TL_EVENT_BURST_DEFAULT);
	CHECK(name, !p.profiles[0].raw_allow);
	CHECK(name, p.container_mark == TL_CONTAINER_MARK_DEFAULT);
	pass(name);
out:
	tl_policy_free(&p);
	free(out);
}

/* raw_sockets per profile, container_mark at the top. */
static void good_raw_and_mark(void)
{
	const char *name = "good: raw_sockets and container_mark values";
	static const char y[] = "container_mark: 0x00f00000\n" H
				"    raw_sockets: allow\n"
				"  - name: q\n    raw_sockets: deny\n";
	struct tl_policy p;
	char *out = NULL;
	int r = parse(y, strlen(y), &p, &out);

	CHECK(name, r == 0 && !*out);
	CHECK(name, p.nprofiles == 2 && p.profiles[0].raw_allow &&
			    !p.profiles[1].raw_allow);
	CHECK(name, p.container_mark == 0x00f00000);
	pass(name);
out:
	tl_policy_free(&p);
	free(out);
}

static void good_tunnel_kinds(void)
{
	const char *name = "good: tunnel kinds";
	static const char y[] = "tunnels:\n"
				"  - name: a\n    interface: wg0\n"
				"    endpoints: [" EP_OK "]\n"
				"    client: " CL_OK "\n"
				"  - name: b\n    interface: \"gre*\"\n"
				"    endpoints: [{address: 198.51.100.3, port: 1}]\n"
				"    client: " CL_OK "\n"
				"    kind: [gre, ip6gre]\n" PROF;
	struct tl_policy p;
	char *out = NULL;
	int r = parse(y, strlen(y), &p, &out);

	CHECK(name, r == 0 && !*out);
	CHECK(name, p.ntunnels == 2);
	CHECK(name, p.tunnels[0].kinds == TL_TUNNEL_KINDS_DEFAULT);
	CHECK(name, p.tunnels[1].kinds ==
			(TL_TUNNEL_KINDS_DEFAULT |
			 1u << tl_tunnel_kind_bit("gre") |
			 1u << tl_tunnel_kind_bit("ip6gre")));
	CHECK(name, tl_tunnel_kind_bit("wireguard") == 0 &&
			    tl_tunnel_kind_bit("tun") == 1 &&
			    tl_tunnel_kind_bit("macvlan") < 0 &&
			    tl_tunnel_kind_bit("") < 0);
	pass(name);
out:
	tl_policy_free(&p);
	free(out);
}

struct good_case {
	const char *name;
	const char *yaml;
	struct expect warn[2]; /* warnings it must print */
};

static const struct good_case good_cases[] = {
    {.name = "good: anchors share an allow list",
     .yaml =
	 TUN "profiles:\n"
	     "  - name: a\n    allow: &common\n      - cidr: 203.0.113.0/24\n"
	     "  - name: b\n    allow: *common\n"},
    {.name = "good: same CIDR in two profiles",
     .yaml = TUN "profiles:\n"
		 "  - name: a\n    allow: [{cidr: 203.0.113.0/24}]\n"
		 "  - name: b\n    allow: [{cidr: 203.0.113.0/24}]\n"},
    {.name = "good: adjacent CIDRs do not overlap",
     .yaml =
	 ALLOW "      - cidr: 10.0.0.0/9\n      - cidr: 10.128.0.0/9\n"
	       "      - cidr: 198.51.100.3/32\n      - cidr: 2001:db8::/33\n"
	       "      - cidr: 2001:db8:8000::/33\n"},
    {.name = "good: same address, another port",
     .yaml = "tunnels:\n  - name: t\n    interface: wg0\n    endpoints:\n"
	     "      - " EP_OK "\n      - {address: 198.51.100.2, port: 51821}\n"
	     "    client: " CL_OK "\n" PROF},
    {.name = "good: quoted and YAML 1.2 booleans",
     .yaml = "mode: \"audit\"\n" H "cgroups:\n  - {path: /a, exempt: True}\n"
	     "  - {path: /b, exempt: FALSE, profile: p}\n"},
    {.name = "good: cgroup paths with dots and globs",
     .yaml = H
     "cgroups:\n  - {path: /a..b/c.d, profile: p}\n"
     "  - {path: \"/system.slice/docker-[0-9a-f]*.scope\", exempt: true}\n"},
    {.name = "good: interface glob",
     .yaml = TUNNEL("t", "\"wg[0-9]*\"", EP_OK, CL_OK) PROF},
    {.name = "good: full port range",
     .yaml = ALLOW
     "      - {cidr: 203.0.113.0/24, protocol: udp, ports: [1-65535]}\n"},
    {.name = "good: raw sockets allowed, another container_mark",
     .yaml = "container_mark: 0x00f00000\n" H "    raw_sockets: allow\n"
	     "  - name: q\n    raw_sockets: deny\n"},
    {.name = "warning: tunnel without client",
     .yaml = "tunnels:\n  - name: t\n    interface: wg0\n    endpoints:\n      "
	     "- " EP_OK "\n" PROF,
     .warn =
	 {{2, 11,
	   "warning: tunnels[0]: no 'client' (cgroup or fwmark): no process "
	   "may send VPN transport to the endpoints of tunnel 't'"}}},
    {.name = "warning: client with neither cgroup nor fwmark",
     .yaml = TUNNEL("t", "wg0", EP_OK, "{}") PROF,
     .warn = {{6, 13,
	       "warning: tunnels[0].client: neither cgroup nor fwmark"}}},
    {.name = "good: dns actions",
     .yaml = TUN "    resolvers: [100.100.0.1, \"2001:db8::53\"]\n"
	     "profiles:\n  - name: r\n    dns: redirect\n"
	     "  - name: b\n    dns: block\n    lan: allow\n"
	     "  - name: o\n    dns: ordinary\n"
	     "    allow: [{cidr: 10.213.0.1/32, protocol: udp, ports: [53]}]\n"},
    {.name = "good: a port range that covers DNS ports",
     .yaml = ALLOW
     "      - {cidr: 203.0.113.0/24, protocol: udp, ports: [1-1024]}\n"
     "      - {cidr: 198.51.100.128/25, protocol: tcp, ports: [53-54]}\n"},
    {.name = "good: dns_ports",
     .yaml = "dns_ports: [53, 853, 5353]\n" H},
    {.name = "warning: dns_ports without 53",
     .yaml = "dns_ports: [853]\n" H,
     .warn = {{1, 12, "warning: dns_ports: port 53 is not listed"}}},
    {.name = "warning: dns redirect with IPv6 resolvers only",
     .yaml = TUN "    resolvers: [\"2001:db8::53\"]\n" PROF "    dns: redirect\n",
     .warn = {{10, 10,
	       "warning: profile 'p': no tunnel has an IPv4 resolver: IPv4 DNS "
	       "queries are blocked, not redirected"}}},
    {.name = "good: the tags the reader honours",
     .yaml = "mode: !!str audit\n" TUN "profiles: !!seq\n  - !!map\n"
	     "    name: p\n    allow:\n      - {cidr: 10.0.0.0/8, "
	     "protocol: tcp, ports: [!!int 443, !!str 80]}\n"
	     "cgroups:\n  - {path: /a, exempt: !!bool true}\n"
	     "events: {rate: !<tag:yaml.org,2002:int> 10}\n"},
    {.name = "warning: / exempt",
     .yaml = H "cgroups:\n  - {path: /, exempt: true}\n",
     .warn = {{10, 12, "warning: exempting '/' leaves every process"}}},
};

/* events: rate and burst, each with the other's default. */
static void good_events(void)
{
	static const struct {
		const char *yaml;
		uint32_t rate, burst;
	} c[] = {
		{H "events: {rate: 50, burst: 7}\n", 50, 7},
		{H "events: {rate: 0}\n", 0, TL_EVENT_BURST_DEFAULT},
		{H "events: {burst: 1}\n", TL_EVENT_RATE_DEFAULT, 1},
		{H "events: {rate: \"1000000\", burst: 1000000}\n", 1000000,
		 1000000},
		{H "events: {}\n", TL_EVENT_RATE_DEFAULT, TL_EVENT_BURST_DEFAULT},
	};
	char name[64];

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct tl_policy p;
		char *out = NULL;
		int r = parse(c[i].yaml, strlen(c[i].yaml), &p, &out);

		snprintf(name, sizeof(name), "good: events %zu", i);
		if (r || *out)
			fail(name, "returned %d: %s", r, oneline(out));
		else if (p.event_rate != c[i].rate ||
			 p.event_burst != c[i].burst)
			fail(name, "rate %u burst %u, want %u %u", p.event_rate,
			     p.event_burst, c[i].rate, c[i].burst);
		else
			pass(name);
		tl_policy_free(&p);
		free(out);
	}
}

static void run_good(const struct good_case *c)
{
	struct tl_policy p;
	char *out = NULL, *line;
	size_t nw = 0, k = 0;
	int r;

	while (nw < 2 && c->warn[nw].msg)
		nw++;
	r = parse(c->yaml, strlen(c->yaml), &p, &out);
	if (r) {
		fail(c->name, "returned %d: %s", r, oneline(out));
		goto out;
	}
	for (line = out; *line; k++) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (k >= nw || !line_matches(line, len, &c->warn[k])) {
			fail(c->name, "unexpected output: %s", oneline(out));
			goto out;
		}
		line += len + (nl ? 1 : 0);
	}
	if (k < nw)
		fail(c->name, "missing %d:%d: %s", c->warn[k].line,
		     c->warn[k].col, c->warn[k].msg);
	else
		pass(c->name);
out:
	tl_policy_free(&p);
	free(out);
}

/* ---- a new cgroup's entry, from its path ---- */

struct entry_case {
	const char *rel;
	int own;
	uint16_t profile;
	uint16_t flags;
	uint32_t client_of;
};

/* What the live-table insert for a cgroup that appears gives it: the same
 * nearest-ancestor entry as the full build. */
static void run_cgroup_entries(void)
{
	static const char y[] =
	    TUNNEL("t", "wg0", EP_OK,
		   "{cgroup: /system.slice/wg.service, fwmark: 0xca6c}")
	    "profiles:\n  - name: p\n  - name: q\n"
	    "cgroups:\n"
	    "  - {path: /, profile: p}\n"
	    "  - {path: /system.slice/docker-*.scope, profile: q}\n"
	    "  - {path: /system.slice/docker-ab.scope/x, profile: p}\n"
	    "  - {path: /kubepods.slice/**, exempt: true}\n";
	static const struct entry_case cases[] = {
	    {"/system.slice/docker-12.scope", 1, 1, 0, 0},
	    {"/system.slice/docker-12.scope/init", 0, 1, 0, 0},
	    {"/system.slice/docker-ab.scope/x", 1, 0, 0, 0},
	    {"/kubepods.slice/pod1/ctr", 1, 0, TL_CGROUP_EXEMPT, 0},
	    {"/user.slice", 0, 0, 0, 0},
	    {"/", 1, 0, 0, 0},
	    {"/system.slice/wg.service", 1, 0, 0, 1},
	    {"/system.slice/wg.service/sub", 0, 0, 0, 1},
	};
	struct tl_policy p;
	char *out = NULL, name[128];

	if (parse(y, strlen(y), &p, &out)) {
		fail("cgroup entries", "policy: %s", oneline(out));
		free(out);
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct entry_case *c = &cases[i];
		struct tl_cgroup_entry e;
		int own = tl_cgroup_entry_for(&p, c->rel, &e);

		snprintf(name, sizeof(name), "cgroup entry: %s", c->rel);
		if (own != c->own || e.profile != c->profile ||
		    e.flags != c->flags || e.client_of != c->client_of)
			fail(name, "own %d profile %u flags %u client_of %u", own,
			     e.profile, e.flags, e.client_of);
		else
			pass(name);
	}
	tl_policy_free(&p);
	free(out);
}

/* ---- scale ---- */

/* CPU time, not wall time: a loaded machine must not fail a complexity bound. */
static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * 100k allow CIDRs in one profile and 10k cgroups must check in linear
 * time: the overlap and duplicate checks must not be quadratic (that would
 * take minutes, not seconds). The bound is CPU time, generous so that it
 * guards complexity only; the speed itself is `make bench`'s to measure.
 * TL_TEST_SLOW=1 (for valgrind) drops it, as sanitizers do.
 */
static void run_scale(int n, bool overlap)
{
	const char *name = overlap ? "scale: one overlap among 100k CIDRs"
				   : "scale: 100k CIDRs, 10k cgroups";
	char *buf = NULL, *out = NULL;
	struct tl_policy p;
	size_t len;
	FILE *f = open_memstream(&buf, &len);
	double t0, dt, limit = getenv("TL_TEST_SLOW") || SANITIZED ? 1e9 : 5.0;
	int i, r;

	fprintf(f, ALLOW);
	for (i = 0; i < n; i++) {
		/* half IPv4 /32s in 10/8, half IPv6 /64s, interleaved */
		if (i & 1)
			fprintf(f, "      - cidr: 2001:db8:%x:%x::/64\n",
				i >> 16, i & 0xffff);
		else
			fprintf(f, "      - cidr: 10.%d.%d.%d/32\n", i >> 16,
				(i >> 8) & 255, i & 255);
	}
	if (overlap)
		fprintf(f, "      - cidr: 10.0.0.0/31\n"); /* line n + 10 */
	fprintf(f, "cgroups:\n");
	for (i = 0; i < 10000; i++)
		fprintf(f, "  - {path: /tenant.slice/t%d.scope, profile: p}\n",
			i);
	fclose(f);

	t0 = now();
	r = parse(buf, len, &p, &out);
	dt = now() - t0;
	if (!overlap && (r || *out))
		fail(name, "returned %d: %.200s", r, out);
	else if (overlap &&
		 (r != -1 ||
		  !line_matches(
		      out, strcspn(out, "\n"),
		      &(struct expect){n + 10, 15,
				       "10.0.0.0/31 overlaps 10.0.0.0/32"}) ||
		  strchr(out, '\n') != out + strlen(out) - 1))
		fail(name, "returned %d: %.300s", r, oneline(out));
	else if (!overlap &&
		 (p.profiles[0].nallow != (size_t)n || p.ncgroups != 10000))
		fail(name, "parsed %zu rules, %zu cgroups",
		     p.profiles[0].nallow, p.ncgroups);
	else if (dt > limit)
		fail(name, "took %.3f s of CPU (limit %.1f s)", dt, limit);
	else
		pass(name);
	printf("# %s: %.3f s of CPU for %zu bytes\n", name, dt, len);
	tl_policy_free(&p);
	free(buf);
	free(out);
}

/* ---- hostile input ---- */

/* What a hostile input may cost `tunlock check`: 2 s of CPU, 256 MB. */
#define HOSTILE_CPU_S 2
#define HOSTILE_MEM   (256ul << 20)

/* The address space this process holds now. */
static unsigned long vm_size(void)
{
	unsigned long pages = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%lu", &pages) != 1)
			pages = 0;
		fclose(f);
	}
	return pages * (unsigned long)sysconf(_SC_PAGESIZE);
}

/*
 * Run fn in a child under the hostile-input bounds: RLIMIT_CPU (SIGXCPU
 * past it) and 256 MB of address space more than the child starts with
 * (malloc fails past it, and the parser says "out of memory"). fn prints
 * its own PASS or FAIL line and returns 0 when it passed. Without
 * sanitizers only: they reserve terabytes of address space.
 */
static void bounded(const char *name, int (*fn)(const char *name, void *arg),
		    void *arg)
{
	struct rusage ru;
	int status;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		fail(name, "fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		struct rlimit cpu = {HOSTILE_CPU_S, HOSTILE_CPU_S + 1};
		struct rlimit as = {vm_size() + HOSTILE_MEM,
				    vm_size() + HOSTILE_MEM};

		if (!SANITIZED && !getenv("TL_TEST_SLOW") &&
		    (setrlimit(RLIMIT_CPU, &cpu) || setrlimit(RLIMIT_AS, &as)))
			_exit(3);
		alarm(60); /* a read that blocks */
		_exit(fn(name, arg) ? 1 : 0);
	}
	if (wait4(pid, &status, 0, &ru) != pid) {
		fail(name, "wait4: %s", strerror(errno));
		return;
	}
	printf("# %s: %.2f s of CPU, %ld MB at most\n", name,
	       ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
		   (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6,
	       ru.ru_maxrss >> 10);
	if (WIFSIGNALED(status)) {
		fail(name, "killed by signal %d (%s)", WTERMSIG(status),
		     WTERMSIG(status) == SIGXCPU   ? "more than 2 s of CPU"
		     : WTERMSIG(status) == SIGALRM ? "blocked for 60 s"
						   : "crashed");
	} else if (WEXITSTATUS(status) == 0) {
		npassed++;
	} else if (WEXITSTATUS(status) == 1) {
		nfailed++;
	} else {
		fail(name, "child exited with %d", WEXITSTATUS(status));
	}
}

/* A generated policy and what its check must say. */
struct hostile {
	char *buf;
	size_t len;
	const char *first; /* "L:C: message" substring of the first line */
	const char *has;   /* a substring of some line */
	const char *last;  /* a substring of the last line */
};

/*
 * The check refuses it, with at most MAX_SHOWN + 2 lines (the shown ones,
 * the error that stopped reading, the count of the others), each short.
 */
static int check_hostile(const char *name, void *arg)
{
	const struct hostile *h = arg;
	char *out = NULL, *line, *last = NULL;
	struct tl_policy p;
	size_t nlines = 0, longest = 0;
	int r = parse(h->buf, h->len, &p, &out), bad = 1;

	for (line = out; *line;) {
		size_t n = strcspn(line, "\n");

		nlines++;
		longest = n > longest ? n : longest;
		last = line;
		line += n + (line[n] == '\n');
	}
	if (r != -1)
		fail(name, "returned %d", r);
	else if (nlines > 102 || longest > 600)
		fail(name, "%zu lines, the longest %zu bytes", nlines, longest);
	else if (h->first && !strstr(out, h->first))
		fail(name, "no '%s' first: %.300s", h->first, oneline(out));
	else if (h->first && strstr(out, h->first) - out > 40)
		fail(name, "'%s' is not first: %.300s", h->first, oneline(out));
	else if (h->has && !strstr(out, h->has))
		fail(name, "no '%s': %.300s", h->has, oneline(out));
	else if (h->last && (!last || !strstr(last, h->last)))
		fail(name, "last line is not '%s': %.300s", h->last,
		     last ? oneline(last) : "");
	else
		bad = 0;
	if (!bad)
		pass(name);
	tl_policy_free(&p);
	free(out);
	return bad;
}

static void run_hostile(void)
{
	struct hostile h = {0};
	FILE *f;
	int i;

	/* a mapping of 2,000 unknown keys aliased by 16,384 cgroup entries */
	f = open_memstream(&h.buf, &h.len);
	fprintf(f, H "x: &m {");
	for (i = 0; i < 2000; i++)
		fprintf(f, "%sk%d: 1", i ? ", " : "", i);
	fprintf(f, "}\ncgroups:\n");
	for (i = 0; i < 16384; i++)
		fprintf(f, "  - *m\n");
	fclose(f);
	h.first = "t.yaml:9:1: unknown key 'x'";
	h.has = "aliases repeat nodes past anything a policy needs";
	h.last = "more errors";
	bounded("hostile: 2,000 unknown keys aliased 16,384 times",
		check_hostile, &h);
	free(h.buf);

	/* 256 endpoints, and one allow rule around them aliased 131,071 times
	 */
	h = (struct hostile){0};
	f = open_memstream(&h.buf, &h.len);
	fprintf(f, "tunnels:\n  - name: t\n    interface: wg0\n"
		   "    client: {fwmark: 1}\n    endpoints:\n");
	for (i = 0; i < 256; i++)
		fprintf(f, "      - {address: 198.51.%d.%d, port: 51820}\n",
			100 + i / 250, 1 + i % 250);
	fprintf(f, "profiles:\n  - name: p\n    allow:\n"
		   "      - &r {cidr: 0.0.0.0/0}\n");
	for (i = 0; i < 131071; i++)
		fprintf(f, "      - *r\n");
	fclose(f);
	h.first = "t.yaml:265:19: profile 'p': duplicate allow CIDR 0.0.0.0/0";
	h.last = "more errors";
	bounded("hostile: 131,071 aliases of a rule around 256 endpoints",
		check_hostile, &h);
	free(h.buf);

	/* a 10 MB value, echoed cut */
	h = (struct hostile){0};
	h.len = 10u << 20;
	h.buf = malloc(h.len + sizeof(H) + 16);
	memcpy(h.buf, "mode: '", 7);
	memset(h.buf + 7, 'a', h.len - 7);
	h.len += (size_t)sprintf(h.buf + h.len, "'\n" H);
	h.first =
	    "t.yaml:1:7: mode must be enforce or audit, found "
	    "'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "aaaa...'\n";
	bounded("hostile: a 10 MB value is echoed cut", check_hostile, &h);
	free(h.buf);

	/* 100,000 '[': refused at the 64th (the 65th level with the root
	 * mapping), before the rest is even scanned */
	h = (struct hostile){0};
	h.len = 3 + 200000 + 1;
	h.buf = malloc(h.len + 1);
	memcpy(h.buf, "x: ", 3);
	memset(h.buf + 3, '[', 100000);
	memset(h.buf + 3 + 100000, ']', 100000);
	strcpy(h.buf + 3 + 200000, "\n");
	h.first = "t.yaml:1:67: nested deeper than 64 levels";
	bounded("hostile: 100,000 nested lists", check_hostile, &h);
	free(h.buf);
	/* block style, one level an indent */
	f = open_memstream(&h.buf, &h.len);
	for (i = 0; i < 70; i++)
		fprintf(f, "%*sk:\n", i, "");
	fclose(f);
	h.first = "t.yaml:65:65: nested deeper than 64 levels";
	bounded("hostile: 70 nested mappings", check_hostile, &h);
	free(h.buf);

	/* 16 MiB of one flow list: 8 million nodes */
	h = (struct hostile){0};
	h.len = 16u << 20;
	h.buf = malloc(h.len);
	memcpy(h.buf, "x: [", 4);
	for (size_t k = 4; k + 2 < h.len; k += 2)
		memcpy(h.buf + k, "a,", 2);
	memcpy(h.buf + h.len - 2, "]\n", 2);
	h.first = "t.yaml:1:2999999: more than 1500000 YAML nodes";
	bounded("hostile: 16 MiB of nodes", check_hostile, &h);
	free(h.buf);

	/* past the size limit: refused, with no line and column */
	h = (struct hostile){0};
	h.len = (16u << 20) + 1;
	h.buf = calloc(1, h.len);
	h.first = "t.yaml: larger than 16 MiB";
	bounded("hostile: more than 16 MiB", check_hostile, &h);
	free(h.buf);
}

/* Loading FILE fails, saying why, and does not block. */
static int load_refused(const char *name, void *arg)
{
	const char *const *fw = arg;
	struct tl_policy p;
	char *out = NULL;
	size_t outlen;
	FILE *err = open_memstream(&out, &outlen);
	int r = tl_policy_load(fw[0], &p, err), bad = 1;

	fclose(err);
	if (r != -1)
		fail(name, "returned %d", r);
	else if (strncmp(out, fw[0], strlen(fw[0])) ||
		 strncmp(out + strlen(fw[0]), ": ", 2) || !strstr(out, fw[1]) ||
		 strchr(out, '\n') != out + outlen - 1)
		fail(name, "not '%s: %s': %s", fw[0], fw[1], oneline(out));
	else
		bad = 0;
	if (!bad)
		pass(name);
	tl_policy_free(&p);
	free(out);
	return bad;
}

/* Only regular files of at most 16 MiB are read. */
static void run_load_files(void)
{
	char dir[] = "/tmp/tl-policy-XXXXXX", path[64];
	const char *fw[2] = {path};
	int fd;

	if (!mkdtemp(dir)) {
		fail("load: files", "mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s/fifo", dir);
	fw[1] = "not a regular file";
	if (mkfifo(path, 0600))
		fail("load: a FIFO", "mkfifo: %s", strerror(errno));
	else
		bounded("load: a FIFO is refused at once", load_refused, fw);
	unlink(path);
	snprintf(path, sizeof(path), "%s", dir);
	bounded("load: a directory is refused", load_refused, fw);
	/* sparse: nothing of it is read */
	snprintf(path, sizeof(path), "%s/big.yaml", dir);
	fw[1] = "larger than 16 MiB: no policy is that large";
	fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, (16 << 20) + 1))
		fail("load: more than 16 MiB", "%s", strerror(errno));
	else
		bounded("load: more than 16 MiB is refused", load_refused, fw);
	if (fd >= 0)
		close(fd);
	unlink(path);
	rmdir(dir);
}

/* ---- address helpers ---- */

static void run_addr(void)
{
	static const struct {
		const char *in, *out;
		int family, plen;
	} addrs[] = {
	    {"192.0.2.1", "192.0.2.1", AF_INET, 32},
	    {"0.0.0.0", "0.0.0.0", AF_INET, 32},
	    {"2001:db8::1", "2001:db8::1", AF_INET6, 128},
	    {"2001:DB8:0:0:0:0:0:1", "2001:db8::1", AF_INET6, 128},
	    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", AF_INET6, 128},
	    {"::ffff:192.0.2.1", "192.0.2.1", AF_INET, 32},
	    {"::1", "::1", AF_INET6, 128},
	    {"fe80::1", "fe80::1", AF_INET6, 128},
	};
	static const char *const bad_addrs[] = {
	    "",		  "1.2.3",	  "1.2.3.4.5",	   "01.2.3.4",
	    "256.1.1.1",  "fe80::1%eth0", "2001:db8::/32", " 1.2.3.4",
	    "1.2.3.4/32", "g::1",
	};
	static const struct {
		const char *in, *out;
	} cidrs[] = {
	    {"10.0.0.0/8", "10.0.0.0/8"},
	    {"10.1.2.3", "10.1.2.3/32"},
	    {"0.0.0.0/0", "0.0.0.0/0"},
	    {"2001:db8::/32", "2001:db8::/32"},
	    {"::/0", "::/0"},
	    {"2001:db8::1", "2001:db8::1/128"},
	    {"::ffff:10.0.0.0/104", "10.0.0.0/8"},
	    {"::ffff:0.0.0.0/96", "0.0.0.0/0"},
	};
	static const char *const bad_cidrs[] = {
	    "10.0.0.1/8",     "10.0.0.0/33",
	    "10.0.0.0/",      "10.0.0.0/08",
	    "10.0.0.0/-1",    "2001:db8::1/32",
	    "2001:db8::/129", "::ffff:0:0/80",
	    "10.0.0.0/8/8",   "x/8",
	};
	static const struct {
		const char *a, *b;
		bool overlap;
	} ov[] = {
	    {"10.0.0.0/8", "10.1.0.0/16", true},
	    {"10.1.0.0/16", "10.0.0.0/8", true},
	    {"10.0.0.0/8", "11.0.0.0/8", false},
	    {"10.0.0.0/9", "10.128.0.0/9", false},
	    {"10.0.0.0/8", "10.0.0.0/8", true},
	    {"0.0.0.0/0", "203.0.113.7", true},
	    {"10.0.0.0/8", "2001:db8::/32", false},
	    {"0.0.0.0/0", "2001:db8::/32", false},
	    {"2001:db8::/32", "2001:db8:1::/48", true},
	    {"2001:db8::/48", "2001:db8:1::/48", false},
	    /* the BPF tables' view: ::/0 also matches mapped IPv4 */
	    {"::/0", "10.0.0.0/8", true},
	    {"::ffff:0:0/96", "198.51.100.2", true},
	};
	char buf[INET6_ADDRSTRLEN + 8], why[256];
	struct tl_cidr c, d;
	unsigned i;
	bool ok;

	ok = true;
	for (i = 0; i < sizeof(addrs) / sizeof(addrs[0]) && ok; i++) {
		ok = !tl_parse_addr(addrs[i].in, &c) &&
		     c.family == addrs[i].family &&
		     c.prefixlen == addrs[i].plen &&
		     !tl_format_addr(c.addr, buf, sizeof(buf)) &&
		     !strcmp(buf, addrs[i].out);
		snprintf(why, sizeof(why), "%s -> %s", addrs[i].in,
			 ok ? "" : buf);
	}
	if (ok)
		pass("addr: parse and format round trips");
	else
		fail("addr: parse and format round trips", "%s", why);

	ok = true;
	for (i = 0; i < sizeof(bad_addrs) / sizeof(bad_addrs[0]) && ok; i++) {
		ok = tl_parse_addr(bad_addrs[i], &c) == -1;
		snprintf(why, sizeof(why), "'%s' accepted", bad_addrs[i]);
	}
	if (ok)
		pass("addr: bad addresses refused");
	else
		fail("addr: bad addresses refused", "%s", why);

	ok = !tl_parse_addr("2001:db8::1", &c) &&
	     tl_format_addr(c.addr, buf, 5) == -1;
	if (ok)
		pass("addr: format into a short buffer fails");
	else
		fail("addr: format into a short buffer fails", "no error");

	ok = true;
	for (i = 0; i < sizeof(cidrs) / sizeof(cidrs[0]) && ok; i++) {
		buf[0] = '\0';
		ok = !tl_parse_cidr(cidrs[i].in, &c) &&
		     !tl_format_cidr(&c, buf, sizeof(buf)) &&
		     !strcmp(buf, cidrs[i].out);
		snprintf(why, sizeof(why), "%s -> '%s'", cidrs[i].in, buf);
	}
	if (ok)
		pass("cidr: parse and format round trips");
	else
		fail("cidr: parse and format round trips", "%s", why);

	ok = !tl_parse_cidr("10.0.0.0/8", &c) && c.family == AF_INET &&
	     c.prefixlen == 8 &&
	     !memcmp(c.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff\x0a\0\0\0", 16);
	if (ok)
		pass("cidr: IPv4 stored mapped, prefix counted in IPv4");
	else
		fail("cidr: IPv4 stored mapped, prefix counted in IPv4",
		     "bad value");

	ok = true;
	for (i = 0; i < sizeof(bad_cidrs) / sizeof(bad_cidrs[0]) && ok; i++) {
		ok = tl_parse_cidr(bad_cidrs[i], &c) == -1;
		snprintf(why, sizeof(why), "'%s' accepted", bad_cidrs[i]);
	}
	if (ok)
		pass("cidr: bad CIDRs refused");
	else
		fail("cidr: bad CIDRs refused", "%s", why);

	ok = true;
	for (i = 0; i < sizeof(ov) / sizeof(ov[0]) && ok; i++) {
		if (tl_parse_cidr(ov[i].a, &c) || tl_parse_cidr(ov[i].b, &d)) {
			/* "::ffff:0:0/96" is read as IPv4 0.0.0.0/0 */
			ok = false;
		} else {
			ok = tl_cidr_overlap(&c, &d) == ov[i].overlap &&
			     tl_cidr_overlap(&d, &c) == ov[i].overlap;
		}
		snprintf(why, sizeof(why), "%s vs %s", ov[i].a, ov[i].b);
	}
	if (ok)
		pass("cidr: overlap");
	else
		fail("cidr: overlap", "%s", why);
}

/* ---- files ---- */

static void run_examples(void)
{
	const char *dir =
	    getenv("TL_EXAMPLES") ? getenv("TL_EXAMPLES") : "examples";
	char pattern[4096], name[4200];
	glob_t g;
	size_t i;

	snprintf(pattern, sizeof(pattern), "%s/*.yaml", dir);
	if (glob(pattern, 0, NULL, &g) || !g.gl_pathc) {
		fail("examples", "no %s (run from the repository root)",
		     pattern);
		return;
	}
	for (i = 0; i < g.gl_pathc; i++) {
		struct tl_policy p;
		char *out = NULL;
		size_t outlen;
		FILE *err = open_memstream(&out, &outlen);
		int r = tl_policy_load(g.gl_pathv[i], &p, err);

		fclose(err);
		snprintf(name, sizeof(name), "example %s", g.gl_pathv[i]);
		if (r || *out)
			fail(name, "not clean: %s", oneline(out));
		else
			pass(name);
		tl_policy_free(&p);
		free(out);
	}
	globfree(&g);
}

/* The example at the top of docs/policy.md must be a valid policy. */
static void run_doc_example(void)
{
	const char *name = "docs/policy.md example";
	const char *file = getenv("TL_POLICY_DOC") ? getenv("TL_POLICY_DOC")
						   : "docs/policy.md";
	char *doc = NULL, *out = NULL, *start, *end;
	size_t cap = 0;
	struct tl_policy p;
	FILE *f = fopen(file, "r");
	ssize_t n;
	int r;

	if (!f) {
		fail(name, "cannot open %s (run from the repository root)",
		     file);
		return;
	}
	n = getdelim(&doc, &cap, '\0', f);
	fclose(f);
	start = n > 0 ? strstr(doc, "```yaml\n") : NULL;
	end = start ? strstr(start + 8, "\n```") : NULL;
	if (!end) {
		fail(name, "no ```yaml block in %s", file);
		free(doc);
		return;
	}
	r = parse(start + 8, (size_t)(end + 1 - (start + 8)), &p, &out);
	if (r || *out)
		fail(name, "not clean: %s", oneline(out));
	else
		pass(name);
	tl_policy_free(&p);
	free(out);
	free(doc);
}

/* ---- the plain reader against libyaml ---- */

struct plain_tally {
	size_t taken, declined, differed;
	char first[600]; /* the first difference */
};

static void plain_check(struct plain_tally *t, const char *what,
			const char *buf, size_t len)
{
	char why[512];
	int r = plain_vs_libyaml(buf, len, why, sizeof(why));

	if (r > 0)
		t->taken++;
	else if (!r)
		t->declined++;
	else if (!t->differed++)
		snprintf(t->first, sizeof(t->first), "%s: %s", what, why);
}

static void plain_report(const char *name, const struct plain_tally *t)
{
	if (t->differed)
		fail(name, "%zu differ; first %s", t->differed, t->first);
	else
		printf("# %s: %zu taken, %zu declined\n", name, t->taken,
		       t->declined);
}

/* Read whole into a fresh buffer (caller frees); NULL when it cannot. */
static char *slurp(const char *file, size_t *len)
{
	char *buf = NULL;
	size_t cap = 0;
	FILE *f = fopen(file, "r");
	ssize_t n = f ? getdelim(&buf, &cap, '\0', f) : -1;

	if (f)
		fclose(f);
	if (n < 0) {
		free(buf);
		return NULL;
	}
	*len = (size_t)n;
	return buf;
}

/*
 * Every policy of this test and every example: what the plain reader
 * takes, it composes as libyaml does. The examples, written as users
 * write policies, must be taken: a large file in their style is read in
 * half the time.
 */
static void run_plain_corpus(void)
{
	const char *name = "plain reader: the test's policies and the examples";
	struct plain_tally t = {};
	glob_t g;

	for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++)
		plain_check(&t, bad_cases[i].name, bad_cases[i].yaml,
			    strlen(bad_cases[i].yaml));
	for (size_t i = 0; i < ARRAY_SIZE(good_cases); i++)
		plain_check(&t, good_cases[i].name, good_cases[i].yaml,
			    strlen(good_cases[i].yaml));
	if (glob("examples/*.yaml", 0, NULL, &g) || !g.gl_pathc) {
		fail(name, "no examples/*.yaml (run from the repository root)");
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		size_t len, before = t.taken;
		char *buf = slurp(g.gl_pathv[i], &len);

		if (buf)
			plain_check(&t, g.gl_pathv[i], buf, len);
		if (!buf || t.taken == before) {
			fail(name, "%s is not read by the plain reader",
			     g.gl_pathv[i]);
			t.differed = ~0ul; /* reported */
		}
		free(buf);
	}
	globfree(&g);
	if (t.differed == ~0ul)
		return;
	plain_report(name, &t);
	if (!t.differed && t.taken && t.declined)
		pass(name);
	else if (!t.differed)
		fail(name, "%zu taken, %zu declined: both should be seen",
		     t.taken, t.declined);
}

/*
 * Each seed, and each one-character change of it (a character replaced by,
 * or inserted before it, one of those that mean something in YAML, or
 * deleted): what the plain reader takes, it composes as libyaml does.
 */
static const char *const plain_seeds[] = {
    "# a policy in the common style\n"
    "mode: enforce\n"
    "tunnels:\n"
    "  - name: wg\n"
    "    interface: wg*\n"
    "    endpoints:\n"
    "      - {address: 198.51.100.2, port: 51820, protocol: udp}\n"
    "      - address: 2001:db8::2\n"
    "        port: 51820\n"
    "    resolvers: [100.64.0.53, 2001:db8::53]\n"
    "profiles:\n"
    "- name: apps\n"
    "  allow:\n"
    "  - {cidr: 203.0.113.0/24, ports: [443, 8000-8080]}\n"
    "  - cidr: 2001:db8:1::/48   # v6\n"
    "  lan: block\n"
    "\n"
    "cgroups:\n"
    "  - {path: /a/user@1000.service, profile: apps}\n"
    "  - path: \"/b/*.scope\"\n"
    "    'profile': 'apps' # quoted\n",
    "a: {b: [c, {d: e f}], g: [], h: {}}\n"
    "i: x y  z\n"
    "j:\n"
    "  k:\n"
    "    - l\n"
    "    - [m, n]\n"
    "    -   o: p\n"
    "        q: 1.5\n"
    "  r: s:t::u\n"
    "v: w\n"
    "x: [\"a b\", 'c', {\"d\": ''}]",
};

static void run_plain_mutants(void)
{
	static const char marks[] = " -:#{}[],'\"&*!|>?%@`\n\t\r.x0~\\/\x80";
	const char *name = "plain reader: one-character changes of the seeds";
	struct plain_tally t = {};
	char what[64];

	for (size_t s = 0; s < ARRAY_SIZE(plain_seeds); s++) {
		const char *seed = plain_seeds[s];
		size_t n = strlen(seed);
		char *buf = malloc(n + 2);

		for (size_t i = 0; buf && i <= n; i++) {
			for (size_t m = 0; m < sizeof(marks) - 1; m++) {
				/* replaced */
				memcpy(buf, seed, n);
				snprintf(what, sizeof(what), "seed %zu, '%c' at %zu", s,
					 marks[m], i);
				if (i < n) {
					buf[i] = marks[m];
					plain_check(&t, what, buf, n);
				}
				/* inserted */
				memcpy(buf, seed, i);
				buf[i] = marks[m];
				memcpy(buf + i + 1, seed + i, n - i);
				plain_check(&t, what, buf, n + 1);
			}
			if (i < n) { /* deleted */
				memcpy(buf, seed, i);
				memcpy(buf + i, seed + i + 1, n - i - 1);
				snprintf(what, sizeof(what), "seed %zu, %zu deleted", s, i);
				plain_check(&t, what, buf, n - 1);
			}
		}
		free(buf);
	}
	plain_report(name, &t);
	if (!t.differed)
		pass(name);
}

static void run_load_missing(void)
{
	const char *name = "load: missing file";
	struct tl_policy p;
	char *out = NULL;
	size_t outlen;
	FILE *err = open_memstream(&out, &outlen);
	int r = tl_policy_load("/nonexistent/tunlock.yaml", &p, err);

	fclose(err);
	if (r == -1 && strstr(out, "/nonexistent/tunlock.yaml: No such file"))
		pass(name);
	else
		fail(name, "returned %d: %s", r, oneline(out));
	tl_policy_free(&p);
	free(out);
}

int main(void)
{
	size_t i;

	/* keep our lines in order with anything the library prints */
	setvbuf(stdout, NULL, _IOLBF, 0);
	/* first, while this process is small: they bound its growth */
	run_hostile();
	run_load_files();
	for (i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++)
		run_bad(&bad_cases[i]);
	run_limits();
	run_resolver_limit();
	run_no_slot();
	run_full_slots();
	good_full();
	good_drop_allow();
	good_defaults();
	good_events();
	good_raw_and_mark();
	good_tunnel_kinds();
	for (i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++)
		run_good(&good_cases[i]);
	run_addr();
	run_cgroup_entries();
	run_scale(100000, false);
	run_scale(100000, true);
	run_examples();
	run_doc_example();
	run_plain_corpus();
	run_plain_mutants();
	run_load_missing();
	printf("%d passed, %d failed\n", npassed, nfailed);
	return nfailed ? 1 : 0;
}
