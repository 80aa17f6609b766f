// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Policy reader and validator (docs/policy.md is the reference).
 *
 * The whole file is composed into a libyaml document from its parser's
 * events (the limits on size, depth, nodes, tags and NULs are judged as
 * they come), then walked by a schema written as code: one function per
 * kind of mapping. Nothing stops at the first problem: every error and
 * warning is counted with the position of the offending node, and the
 * first 100 in file order are printed as "FILE:LINE:COL: message". What
 * a hostile file can cost is bounded: see "Limits" in docs/policy.md.
 *
 * Checks that span entries (duplicates, overlaps, references) run after
 * the walk on whatever parsed cleanly, and stay O(n log n) where the
 * lists can be long: a profile may hold 100k allow CIDRs.
 */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "policy.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Past this many, a check run floods the terminal without helping. */
#define MAX_SHOWN 100
/*
 * A policy larger than this is a mistake, not a policy: the largest within
 * MAX_NODES (131072 allow rules, 16384 cgroups) takes about 9 MB.
 */
#define MAX_FILE_BYTES (16u << 20)
#define TOO_LARGE "larger than %u MiB: no policy is that large"
/* libyaml's cost grows with the square of the nesting; a policy needs 6. */
#define MAX_DEPTH 64
/*
 * YAML nodes (values, lists, mappings) in one file, 96 bytes each: 131072
 * allow rules with a protocol and three ports each, and 16384 cgroups, fit.
 */
#define MAX_NODES 1500000
/*
 * Reading visits every node once; aliases may repeat nodes (one allow list
 * shared by profiles) up to what the tables can hold, and no further.
 */
#define ALIAS_VISITS 2500000
/* An echoed value is cut after this many bytes. */
#define SHOWN_MAX 64
/* Linux interface names: IFNAMSIZ - 1. */
#define IFNAME_MAX 15

struct diag {
	struct tl_loc loc;
	size_t seq; /* report order, to keep the sort stable */
	bool warning;
	char *msg;
};

struct ep_ref {
	const struct tl_endpoint_cfg *ep;
	const struct tl_tunnel_cfg *tunnel;
};

/* Bump allocation for the composed document: freed all at once. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

struct ctx {
	const char *file;
	yaml_document_t *doc;
	struct tl_policy *p;
	/* The MAX_SHOWN first diagnostics in file order: a max-heap, the
	 * last of them at the root. The others are only counted. */
	struct diag diags[MAX_SHOWN];
	size_t ndiags;
	size_t seq;
	size_t nerrors;
	size_t cut_errors, cut_warnings;
	/* The error that stopped reading (a limit), shown whatever else. */
	struct diag stop;
	bool oom;
	/* Key path of the node being read, e.g. "tunnels[0].endpoints[1]". */
	char path[512];
	size_t pathlen;
	/* nodes read so far, and how many reading may take */
	size_t visits, max_visits;
	bool visits_out; /* the budget ran out, already reported */
	/* values as messages echo them: cut and escaped, a few at once */
	char shown[4][4 * SHOWN_MAX + 8];
	unsigned nshown;
	struct chunk *arena;		     /* of the composed document */
	size_t nallow;			     /* allow rules over all profiles */
	size_t nendpoints;		     /* endpoints over all tunnels */
	size_t nresolvers;		     /* resolvers over all tunnels */
	struct ep_ref eps[TL_MAX_ENDPOINTS]; /* those that parsed */
	size_t neps;
	bool profiles_cut; /* more than TL_MAX_PROFILES, already reported */
};

enum vtype { T_SCALAR, T_SEQ, T_MAP };

struct key {
	const char *name;
	enum vtype type;
	bool required;
};

#define MAX_KEYS 12 /* the most keys a mapping of the schema has, and then some */

/* ---- diagnostics ---- */

static struct tl_loc node_loc(const yaml_node_t *n)
{
	return (struct tl_loc){n->start_mark.line + 1,
			       n->start_mark.column + 1};
}

/* Does diagnostic x come after y in the output? */
static bool diag_after(const struct diag *x, const struct diag *y)
{
	if (x->loc.line != y->loc.line)
		return x->loc.line > y->loc.line;
	if (x->loc.col != y->loc.col)
		return x->loc.col > y->loc.col;
	return x->seq > y->seq;
}

static void heap_down(struct diag *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, m = i;
		struct diag t;

		if (l < n && diag_after(&h[l], &h[m]))
			m = l;
		if (l + 1 < n && diag_after(&h[l + 1], &h[m]))
			m = l + 1;
		if (m == i)
			return;
		t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

/*
 * Counts the diagnostic, and says whether it is among the MAX_SHOWN first
 * in file order so far, so worth formatting. Hot loops that format values
 * for a message ask first.
 */
static bool diag_wanted(struct ctx *c, struct tl_loc loc, bool warning)
{
	struct diag d = {.loc = loc, .seq = c->seq};

	if (!warning)
		c->nerrors++;
	c->seq++;
	if (c->ndiags < MAX_SHOWN || !diag_after(&d, &c->diags[0]))
		return true;
	if (warning)
		c->cut_warnings++;
	else
		c->cut_errors++;
	return false;
}

/* Keep msg (taken over) for a diagnostic that diag_wanted let through. */
static void diag_keep(struct ctx *c, struct tl_loc loc, bool warning, char *msg)
{
	struct diag *d, *h = c->diags;

	if (!msg) {
		c->oom = true;
		return;
	}
	if (c->ndiags == MAX_SHOWN) {
		/* the last one so far makes room */
		if (h[0].warning)
			c->cut_warnings++;
		else
			c->cut_errors++;
		free(h[0].msg);
		h[0] = h[--c->ndiags];
		heap_down(h, c->ndiags, 0);
	}
	d = &h[c->ndiags];
	*d = (struct diag){loc, c->seq - 1, warning, msg};
	for (size_t i = c->ndiags++; i;) {
		size_t up = (i - 1) / 2;
		struct diag t;

		if (!diag_after(&h[i], &h[up]))
			break;
		t = h[i];
		h[i] = h[up];
		h[up] = t;
		i = up;
	}
}

/*
 * A message is one line of bounded length whatever the values it echoes:
 * control characters are escaped, and it is cut at 512 bytes.
 */
static char *one_line(char *msg)
{
	size_t n = 0, ctrl = 0;
	char *out, *o;

	for (const char *s = msg; *s && n < 512; s++, n++)
		ctrl += (unsigned char)*s < 0x20 || *s == 0x7f;
	if (!ctrl && !msg[n])
		return msg;
	out = malloc(n + 3 * ctrl + 4);
	if (out) {
		o = out;
		for (size_t i = 0; i < n; i++) {
			unsigned char ch = (unsigned char)msg[i];

			if (ch < 0x20 || ch == 0x7f)
				o += sprintf(o, "\\x%02x", ch);
			else
				*o++ = (char)ch;
		}
		strcpy(o, msg[n] ? "..." : "");
	}
	free(msg);
	return out;
}

static void vreport(struct ctx *c, struct tl_loc loc, bool warning,
		    const char *fmt, va_list ap)
{
	char *msg = NULL, *full = NULL;

	if (!diag_wanted(c, loc, warning))
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	/* prefix the key path: "tunnels[0].endpoints[1].port: ..." */
	if (msg && c->pathlen && asprintf(&full, "%s: %s", c->path, msg) < 0)
		full = NULL;
	if (msg && c->pathlen) {
		free(msg);
		msg = full;
	}
	diag_keep(c, loc, warning, msg ? one_line(msg) : NULL);
}

__attribute__((format(printf, 3, 4))) static void
error_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, loc, false, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void
error_node(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, node_loc(n), false, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 3, 4))) static void
warn_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, loc, true, fmt, ap);
	va_end(ap);
}

/*
 * A limit passed: reading stops here, and this error is shown last even
 * when MAX_SHOWN others come before it.
 */
__attribute__((format(printf, 3, 4))) static void
stop_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...)
{
	char *msg = NULL, *full;
	va_list ap;

	c->nerrors++;
	if (c->stop.msg)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (msg && c->pathlen && asprintf(&full, "%s: %s", c->path, msg) >= 0) {
		free(msg);
		msg = full;
	}
	c->stop.msg = msg ? one_line(msg) : NULL;
	c->stop.loc = loc;
	c->oom |= !c->stop.msg;
}

/*
 * A value as a message echoes it: control characters escaped, cut after
 * SHOWN_MAX bytes (on a UTF-8 character boundary) with "...". Valid until
 * the fourth call after.
 */
static const char *shown(struct ctx *c, const char *s)
{
	char *out = c->shown[c->nshown++ % ARRAY_SIZE(c->shown)], *o = out;
	size_t i;

	for (i = 0; s[i] && i < SHOWN_MAX; i++) {
		unsigned char ch = (unsigned char)s[i];

		if (ch < 0x20 || ch == 0x7f)
			o += sprintf(o, "\\x%02x", ch);
		else
			*o++ = (char)ch;
	}
	if (s[i]) {
		/* a UTF-8 character cut in two goes whole (copied 1:1) */
		while (i > 0 && ((unsigned char)s[i] & 0xc0) == 0x80) {
			i--;
			o--;
		}
		strcpy(o, "...");
	} else {
		*o = '\0';
	}
	return out;
}

/* FILE:LINE:COL: message, or FILE: message when it has no place. */
static void print_diag(const struct ctx *c, const struct diag *d, FILE *err)
{
	if (d->loc.line > 0)
		fprintf(err, "%s:%d:%d: %s%s\n", c->file, d->loc.line,
			d->loc.col, d->warning ? "warning: " : "", d->msg);
	else
		fprintf(err, "%s: %s%s\n", c->file,
			d->warning ? "warning: " : "", d->msg);
}

/* Print in file order, then free. */
static void flush_diags(struct ctx *c, FILE *err)
{
	size_t i;

	/* a heap sorted in place by popping the last to the end */
	for (i = c->ndiags; i > 1; i--) {
		struct diag t = c->diags[0];

		c->diags[0] = c->diags[i - 1];
		c->diags[i - 1] = t;
		heap_down(c->diags, i - 1, 0);
	}
	for (i = 0; i < c->ndiags; i++) {
		if (err)
			print_diag(c, &c->diags[i], err);
		free(c->diags[i].msg);
	}
	if (c->stop.msg) {
		if (err)
			print_diag(c, &c->stop, err);
		free(c->stop.msg);
		c->stop.msg = NULL;
	}
	if (err && c->cut_errors)
		fprintf(err, "%s: ... and %zu more errors%s\n", c->file,
			c->cut_errors, c->cut_warnings ? " and warnings" : "");
	else if (err && c->cut_warnings)
		fprintf(err, "%s: ... and %zu more warnings\n", c->file,
			c->cut_warnings);
	if (err && c->oom)
		fprintf(err, "%s: out of memory\n", c->file);
	c->ndiags = 0;
}

/* ---- key path, for messages ---- */

__attribute__((format(printf, 2, 3))) static size_t push(struct ctx *c,
							 const char *fmt, ...)
{
	size_t old = c->pathlen;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(c->path + old, sizeof(c->path) - old, fmt, ap);
	va_end(ap);
	if (n > 0)
		c->pathlen = old + (size_t)n < sizeof(c->path)
				 ? old + (size_t)n
				 : sizeof(c->path) - 1;
	return old;
}

static size_t push_key(struct ctx *c, const char *key)
{
	return push(c, c->pathlen ? ".%s" : "%s", key);
}

static void pop(struct ctx *c, size_t len)
{
	c->pathlen = len;
	c->path[len] = '\0';
}

/* ---- nodes ---- */

/*
 * The tags a policy may carry, as the reader honours them: each says what
 * the node is anyway. The composed document points at these.
 */
static yaml_char_t tag_str[] = YAML_STR_TAG;
static yaml_char_t tag_int[] = YAML_INT_TAG;
static yaml_char_t tag_bool[] = YAML_BOOL_TAG;
static yaml_char_t tag_seq[] = YAML_SEQ_TAG;
static yaml_char_t tag_map[] = YAML_MAP_TAG;
/* A scalar holding a NUL, already reported: no reader takes it. */
static yaml_char_t tag_nul[] = "tag:tunlock,2026:nul";

static yaml_node_t *node(struct ctx *c, int id)
{
	return yaml_document_get_node(c->doc, id);
}

static const char *text(const yaml_node_t *n)
{
	return (const char *)n->data.scalar.value;
}

/* An empty plain value ("key:" alone), "~" or "null". */
static bool is_null(const yaml_node_t *n)
{
	const char *s = text(n);

	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *kind(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_MAPPING_NODE:
		return "a mapping";
	default:
		return is_null(n) ? "an empty value" : "a scalar";
	}
}

static const char *const vtype_name[] = {"a single value", "a list",
					 "a mapping"};

static bool has_type(const yaml_node_t *n, enum vtype t)
{
	switch (t) {
	case T_SCALAR:
		return n->type == YAML_SCALAR_NODE && !is_null(n);
	case T_SEQ:
		return n->type == YAML_SEQUENCE_NODE;
	default:
		return n->type == YAML_MAPPING_NODE;
	}
}

/*
 * Count a node read. Aliases may make the walk read a node many times: past
 * the budget, the rest of the document is left unread, with one error at
 * the node where it ran out.
 */
static bool visit(struct ctx *c, const yaml_node_t *n)
{
	if (c->visits_out)
		return false;
	if (++c->visits <= c->max_visits)
		return true;
	c->visits_out = true;
	stop_at(c, node_loc(n),
		"aliases repeat nodes past anything a policy needs (%zu "
		"nodes read); this node is read no more",
		c->max_visits);
	return false;
}

/* The node must be of type t; says so at the node when it is not. */
static bool want(struct ctx *c, const yaml_node_t *n, enum vtype t)
{
	if (!visit(c, n))
		return false;
	/* a NUL cuts the value short in C: reported where it was read */
	if (n->tag == tag_nul)
		return false;
	if (has_type(n, t))
		return true;
	if (n->type == YAML_SCALAR_NODE && !is_null(n))
		error_node(c, n, "expected %s, found '%s'", vtype_name[t],
			   shown(c, text(n)));
	else
		error_node(c, n, "expected %s, found %s", vtype_name[t],
			   kind(n));
	return false;
}

static size_t seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top -
			n->data.sequence.items.start);
}

static yaml_node_t *seq_item(struct ctx *c, const yaml_node_t *n, size_t i)
{
	return node(c, n->data.sequence.items.start[i]);
}

/*
 * Look up the keys of a mapping: vals[i] gets the value of keys[i], or NULL
 * when it is absent or of the wrong type (that is reported here, as are
 * unknown and duplicate keys). Returns false when a required key is
 * missing, reported at the mapping.
 */
static bool get_keys(struct ctx *c, const yaml_node_t *map,
		     const struct key *keys, size_t nkeys, yaml_node_t **vals)
{
	yaml_node_t *knodes[MAX_KEYS] = {0};
	yaml_node_pair_t *pair;
	bool ok = true;
	size_t i;

	memset(vals, 0, nkeys * sizeof(*vals));
	for (pair = map->data.mapping.pairs.start;
	     pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = node(c, pair->key);
		yaml_node_t *v = node(c, pair->value);
		size_t saved;

		if (!visit(c, k))
			return false;
		if (k->tag == tag_nul)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			error_node(c, k, "a key must be a word, found %s",
				   kind(k));
			continue;
		}
		for (i = 0; i < nkeys; i++)
			if (!strcmp(text(k), keys[i].name))
				break;
		if (i == nkeys) {
			char known[256] = "";

			for (i = 0; i < nkeys; i++) {
				strcat(known, i ? ", " : "");
				strcat(known, keys[i].name);
			}
			error_node(c, k,
				   "unknown key '%s' (expected one of: %s)",
				   shown(c, text(k)), known);
			continue;
		}
		if (knodes[i]) {
			error_node(c, k,
				   "duplicate key '%s' (first at line %d)",
				   keys[i].name, node_loc(knodes[i]).line);
			continue;
		}
		knodes[i] = k;
		saved = push_key(c, keys[i].name);
		if (want(c, v, keys[i].type))
			vals[i] = v;
		pop(c, saved);
	}
	for (i = 0; i < nkeys; i++) {
		if (keys[i].required && !knodes[i]) {
			error_node(c, map, "missing required key '%s'",
				   keys[i].name);
			ok = false;
		}
	}
	return ok;
}

/* ---- scalars ---- */

/* An enum value: index into names, or -1 after reporting. */
static int enum_val(struct ctx *c, const yaml_node_t *n, const char *key,
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

/*
 * Unsigned decimal, or 0x hex when hex is set. No sign, no spaces and no
 * leading zero: a YAML 1.1 reader would take 010 for octal, so refusing it
 * keeps every tool reading the same number. 0 ok, -1 syntax, -2 range.
 */
static int parse_uint(const char *s, bool hex, uint64_t max, uint64_t *out)
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

/* The YAML 1.2 core schema booleans, nothing looser ("yes", "on"):
 * 1 true, 0 false, -1 neither. */
static int bool_of(const char *s)
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

static int bool_val(struct ctx *c, const yaml_node_t *n, bool *out)
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

static int port_val(struct ctx *c, const yaml_node_t *n, const char *s,
		    uint16_t *out)
{
	uint64_t v;
	int r = parse_uint(s, false, 65535, &v);

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
static int port_range_val(struct ctx *c, const yaml_node_t *n,
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
static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src);
}

/* ---- names, globs and paths ---- */

static const char *check_name(const char *s)
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
static const char *check_ifname(const char *s)
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
static const char *check_cgroup_path(const char *s, bool glob_ok)
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

/* ---- addresses ---- */

static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

static bool is_mapped(const uint8_t a[16])
{
	return !memcmp(a, v4mapped, sizeof(v4mapped));
}

/* Prefix length in the one 128-bit space that the BPF tables use. */
static unsigned full_plen(const struct tl_cidr *c)
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
static bool cidr_contains(const struct tl_cidr *a, const struct tl_cidr *b)
{
	return full_plen(a) <= full_plen(b) &&
	       prefix_eq(a->addr, b->addr, full_plen(a));
}

bool tl_cidr_overlap(const struct tl_cidr *a, const struct tl_cidr *b)
{
	unsigned pa = full_plen(a), pb = full_plen(b);

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
static const char *cidr_parse(const char *s, struct tl_cidr *out, char *hint,
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
	if (parse_uint(slash + 1, false, UINT64_MAX, &plen))
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
	return cidr_parse(s, out, NULL, 0) ? -1 : 0;
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

static int addr_val(struct ctx *c, const yaml_node_t *n, struct tl_cidr *out)
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

/* ---- tunnels ---- */

static int proto_val(struct ctx *c, const yaml_node_t *n)
{
	static const char *const names[] = {"udp", "tcp"};
	int i = enum_val(c, n, "protocol", names, 2);

	return i < 0 ? -1 : i == 0 ? IPPROTO_UDP : IPPROTO_TCP;
}

static void read_endpoint(struct ctx *c, const yaml_node_t *n,
			  struct tl_endpoint_cfg *ep)
{
	static const struct key keys[] = {
	    {"address", T_SCALAR, true},
	    {"port", T_SCALAR, true},
	    {"protocol", T_SCALAR, false},
	};
	yaml_node_t *v[3];
	int proto;

	ep->loc = node_loc(n);
	ep->protocol = IPPROTO_UDP;
	get_keys(c, n, keys, ARRAY_SIZE(keys), v);
	if (v[0]) {
		ep->loc = node_loc(v[0]);
		if (addr_val(c, v[0], &ep->addr))
			ep->addr.family = 0;
	}
	if (v[1] && port_val(c, v[1], text(v[1]), &ep->port))
		ep->addr.family = 0;
	if (v[2] && (proto = proto_val(c, v[2])) >= 0)
		ep->protocol = (uint8_t)proto;
}

static void read_client(struct ctx *c, const yaml_node_t *n,
			struct tl_tunnel_cfg *t)
{
	static const struct key keys[] = {
	    {"cgroup", T_SCALAR, false},
	    {"fwmark", T_SCALAR, false},
	};
	yaml_node_t *v[2];
	const char *why;
	uint64_t mark;
	int r;

	get_keys(c, n, keys, ARRAY_SIZE(keys), v);
	if (v[0]) {
		why = check_cgroup_path(text(v[0]), true);
		if (why)
			error_node(c, v[0], "cgroup '%s' %s", text(v[0]), why);
		else
			copy_str(t->client_cgroup, TL_GLOB_MAX, text(v[0]));
	}
	if (v[1]) {
		r = parse_uint(text(v[1]), true, UINT32_MAX, &mark);
		if (r == -1)
			error_node(
			    c, v[1],
			    "fwmark '%s' is not a number (decimal or 0x hex)",
			    text(v[1]));
		else if (r == -2)
			error_node(c, v[1], "fwmark %s does not fit in 32 bits",
				   text(v[1]));
		else if (!mark)
			error_node(c, v[1],
				   "fwmark must be non-zero (0 means no mark)");
		else
			t->has_fwmark = true;
		t->fwmark = (uint32_t)mark;
	}
	if (!v[0] && !v[1])
		warn_at(c, node_loc(n),
			"neither cgroup nor fwmark: no process may send VPN "
			"transport to the endpoints of tunnel '%s'",
			t->name);
}

static void read_endpoints(struct ctx *c, const yaml_node_t *n,
			   struct tl_tunnel_cfg *t)
{
	size_t i, len = seq_len(n);

	if (!len) {
		error_node(c, n, "at least one endpoint is required");
		return;
	}
	if (c->nendpoints + len > TL_MAX_ENDPOINTS) {
		error_node(c, n,
			   "too many endpoints (at most %d over all tunnels)",
			   TL_MAX_ENDPOINTS);
		return;
	}
	t->endpoints = calloc(len, sizeof(*t->endpoints));
	if (!t->endpoints) {
		c->oom = true;
		return;
	}
	t->nendpoints = len;
	c->nendpoints += len;
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		size_t saved = push(c, "[%zu]", i);

		if (want(c, item, T_MAP))
			read_endpoint(c, item, &t->endpoints[i]);
		pop(c, saved);
	}
}

static void read_resolvers(struct ctx *c, const yaml_node_t *n,
			   struct tl_tunnel_cfg *t)
{
	size_t i, j, len = seq_len(n);

	if (len > TL_MAX_TUNNEL_RESOLVERS) {
		error_node(c, n, "too many resolvers (at most %d)",
			   TL_MAX_TUNNEL_RESOLVERS);
		return;
	}
	if (c->nresolvers + len > TL_MAX_RESOLVERS) {
		error_node(c, n,
			   "too many resolvers (at most %d over all tunnels)",
			   TL_MAX_RESOLVERS);
		return;
	}
	c->nresolvers += len;
	t->resolvers = calloc(len ? len : 1, sizeof(*t->resolvers));
	if (!t->resolvers) {
		c->oom = true;
		return;
	}
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		struct tl_cidr *r = &t->resolvers[t->nresolvers];
		size_t saved = push(c, "[%zu]", i);

		if (want(c, item, T_SCALAR) && !addr_val(c, item, r)) {
			for (j = 0; j < t->nresolvers; j++)
				if (!memcmp(t->resolvers[j].addr, r->addr, 16))
					break;
			if (j < t->nresolvers)
				error_node(c, item, "duplicate resolver %s",
					   text(item));
			else
				t->nresolvers++;
		}
		pop(c, saved);
	}
}

/* Kinds of the kernel's tunnel and VPN devices; never macvlan, vlan, veth,
 * bridge or dummy: a link of those kinds is an uplink whatever its name. */
const char *const tl_tunnel_kinds[] = {
    "wireguard", "tun",	  "ovpn", "ipip",  "sit",	"gre",
    "gretap",	 "ip6gre", "ip6gretap", "ip6tnl", "vti", "vti6",
    "xfrm",	 "ppp",	  "vxlan", "geneve", "l2tpeth", NULL,
};

int tl_tunnel_kind_bit(const char *kind)
{
	for (int i = 0; tl_tunnel_kinds[i]; i++)
		if (!strcmp(tl_tunnel_kinds[i], kind))
			return i;
	return -1;
}

static void read_kinds(struct ctx *c, const yaml_node_t *n,
		       struct tl_tunnel_cfg *t)
{
	size_t i, len = seq_len(n);
	uint32_t seen = 0;
	int bit;

	if (!len)
		error_node(c, n, "an empty list (leave 'kind' out instead)");
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		size_t saved = push(c, "[%zu]", i);

		if (!want(c, item, T_SCALAR)) {
			pop(c, saved);
			continue;
		}
		bit = tl_tunnel_kind_bit(text(item));
		if (bit < 0) {
			char known[256] = "";

			for (int k = 0; tl_tunnel_kinds[k]; k++) {
				strcat(known, k ? ", " : "");
				strcat(known, tl_tunnel_kinds[k]);
			}
			error_node(c, item,
				   "'%s' is no tunnel kind (expected one of: "
				   "%s)",
				   text(item), known);
		} else if (seen & (1u << bit))
			error_node(c, item, "duplicate kind '%s'", text(item));
		else
			seen |= 1u << bit;
		pop(c, saved);
	}
	t->kinds |= seen;
}

static void read_tunnel(struct ctx *c, const yaml_node_t *n,
			struct tl_tunnel_cfg *t)
{
	static const struct key keys[] = {
	    {"name", T_SCALAR, true},	 {"interface", T_SCALAR, true},
	    {"endpoints", T_SEQ, true},	 {"client", T_MAP, false},
	    {"resolvers", T_SEQ, false}, {"kind", T_SEQ, false},
	};
	yaml_node_t *v[6];
	const char *why;
	size_t saved;

	t->loc = node_loc(n);
	get_keys(c, n, keys, ARRAY_SIZE(keys), v);
	if (v[0]) {
		t->loc = node_loc(v[0]);
		why = check_name(text(v[0]));
		if (why)
			error_node(c, v[0], "name '%s' %s", text(v[0]), why);
		else
			copy_str(t->name, TL_NAME_MAX, text(v[0]));
	}
	if (v[1]) {
		why = check_ifname(text(v[1]));
		if (why)
			error_node(c, v[1], "interface '%s': %s", text(v[1]),
				   why);
		else
			copy_str(t->interface, TL_GLOB_MAX, text(v[1]));
	}
	saved = push_key(c, "endpoints");
	if (v[2])
		read_endpoints(c, v[2], t);
	pop(c, saved);
	if (!v[3] && v[0])
		warn_at(c, t->loc,
			"no 'client' (cgroup or fwmark): no process may send "
			"VPN transport to the endpoints of tunnel '%s'",
			text(v[0]));
	saved = push_key(c, "client");
	if (v[3])
		read_client(c, v[3], t);
	pop(c, saved);
	saved = push_key(c, "resolvers");
	if (v[4])
		read_resolvers(c, v[4], t);
	pop(c, saved);
	t->kinds = TL_TUNNEL_KINDS_DEFAULT;
	saved = push_key(c, "kind");
	if (v[5])
		read_kinds(c, v[5], t);
	pop(c, saved);
}

static void read_tunnels(struct ctx *c, const yaml_node_t *n)
{
	struct tl_policy *p = c->p;
	size_t i, len = seq_len(n);

	if (!len) {
		error_node(c, n, "at least one tunnel is required");
		return;
	}
	if (len > TL_MAX_TUNNELS) {
		error_node(c, seq_item(c, n, TL_MAX_TUNNELS),
			   "too many tunnels (at most %d)", TL_MAX_TUNNELS);
		len = TL_MAX_TUNNELS;
	}
	p->tunnels = calloc(len, sizeof(*p->tunnels));
	if (!p->tunnels) {
		c->oom = true;
		return;
	}
	p->ntunnels = len;
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		size_t saved = push(c, "[%zu]", i);

		if (want(c, item, T_MAP))
			read_tunnel(c, item, &p->tunnels[i]);
		pop(c, saved);
	}
}

/* ---- profiles ---- */

/* The new entry ports[nports] against those before it. */
static bool port_overlap(struct ctx *c, const yaml_node_t *n,
			 const struct tl_allow_rule *r)
{
	const struct tl_port_range *x = &r->ports[r->nports];
	int i;

	for (i = 0; i < r->nports; i++) {
		const struct tl_port_range *y = &r->ports[i];

		if (x->lo <= y->hi && y->lo <= x->hi) {
			error_node(c, n,
				   "port %s overlaps %u-%u in the same list",
				   shown(c, text(n)), y->lo, y->hi);
			return true;
		}
	}
	return false;
}

static void read_ports(struct ctx *c, const yaml_node_t *n,
		       struct tl_allow_rule *r)
{
	size_t i, len = seq_len(n);

	if (!len) {
		error_node(c, n,
			   "an empty port list allows nothing; omit 'ports' "
			   "for every port");
		return;
	}
	if (len > TL_MAX_PORT_RANGES) {
		error_node(c, seq_item(c, n, TL_MAX_PORT_RANGES),
			   "too many port entries (at most %d)",
			   TL_MAX_PORT_RANGES);
		return;
	}
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		size_t saved = push(c, "[%zu]", i);

		if (want(c, item, T_SCALAR) &&
		    !port_range_val(c, item, &r->ports[r->nports]) &&
		    !port_overlap(c, item, r)) {
			r->ports[r->nports].protocol = r->protocol;
			r->nports++;
		}
		pop(c, saved);
	}
}

/* Returns false when the rule is not usable for the cross checks. */
static bool read_allow(struct ctx *c, const yaml_node_t *n,
		       struct tl_allow_rule *r)
{
	static const struct key keys[] = {
	    {"cidr", T_SCALAR, true},
	    {"protocol", T_SCALAR, false},
	    {"ports", T_SEQ, false},
	};
	static const char *const protos[] = {"any", "tcp", "udp", "icmp"};
	static const uint8_t proto_nums[] = {0, IPPROTO_TCP, IPPROTO_UDP,
					     IPPROTO_ICMP};
	yaml_node_t *v[3];
	char hint[64];
	const char *why;
	bool ok = false;
	size_t saved;
	int proto = 0;

	r->loc = node_loc(n);
	get_keys(c, n, keys, ARRAY_SIZE(keys), v);
	if (v[0]) {
		r->loc = node_loc(v[0]);
		why = cidr_parse(text(v[0]), &r->cidr, hint, sizeof(hint));
		if (why)
			error_node(c, v[0], "cidr %s: %s%s%s",
				   shown(c, text(v[0])), why,
				   hint[0] ? "; the network is " : "", hint);
		ok = !why;
	}
	if (v[1])
		proto = enum_val(c, v[1], "protocol", protos, 4);
	if (proto < 0)
		proto = 0;
	r->protocol = proto_nums[proto];
	if (r->protocol == IPPROTO_ICMP && ok && r->cidr.family == AF_INET6)
		r->protocol = IPPROTO_ICMPV6;
	if (v[2] && r->protocol != IPPROTO_TCP && r->protocol != IPPROTO_UDP) {
		error_node(c, v[2],
			   "ports need 'protocol: tcp' or 'protocol: udp'");
	} else if (v[2]) {
		r->ports_loc = node_loc(v[2]);
		saved = push_key(c, "ports");
		read_ports(c, v[2], r);
		pop(c, saved);
	}
	return ok;
}

static void read_allows(struct ctx *c, const yaml_node_t *n,
			struct tl_profile_cfg *pr)
{
	size_t i, len = seq_len(n);

	if (c->nallow + len > TL_MAX_ALLOW_ENTRIES) {
		error_node(
		    c, n, "too many allow rules (at most %d over all profiles)",
		    TL_MAX_ALLOW_ENTRIES);
		return;
	}
	if (!len)
		return;
	pr->allow = calloc(len, sizeof(*pr->allow));
	if (!pr->allow) {
		c->oom = true;
		return;
	}
	c->nallow += len;
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		struct tl_allow_rule *r = &pr->allow[pr->nallow];
		size_t saved = push(c, "[%zu]", i);

		/* keep only rules whose CIDR parsed: the others failed already
		 */
		if (want(c, item, T_MAP) && read_allow(c, item, r))
			pr->nallow++;
		else
			memset(r, 0, sizeof(*r));
		pop(c, saved);
	}
}

static void read_profile(struct ctx *c, const yaml_node_t *n,
			 struct tl_profile_cfg *pr)
{
	static const struct key keys[] = {
	    {"name", T_SCALAR, true},
	    {"lan", T_SCALAR, false},
	    {"allow", T_SEQ, false},
	    {"ipv6", T_SCALAR, false},
	    {"dns", T_SCALAR, false},
	    {"raw_sockets", T_SCALAR, false},
	};
	static const char *const lan[] = {"block", "allow"};
	static const char *const ipv6[] = {"tunnel", "block"};
	static const char *const dns[] = {"block", "redirect", "ordinary"};
	static const char *const raw[] = {"deny", "allow"};
	yaml_node_t *v[ARRAY_SIZE(keys)];
	const char *why;
	size_t saved;
	int i;

	pr->loc = node_loc(n);
	get_keys(c, n, keys, ARRAY_SIZE(keys), v);
	if (v[0]) {
		pr->loc = node_loc(v[0]);
		why = check_name(text(v[0]));
		if (why)
			error_node(c, v[0], "name '%s' %s",
				   shown(c, text(v[0])), why);
		else
			copy_str(pr->name, TL_NAME_MAX, text(v[0]));
	}
	if (v[1])
		pr->lan = enum_val(c, v[1], "lan", lan, 2) == 1;
	if (v[3])
		pr->ipv6_block = enum_val(c, v[3], "ipv6", ipv6, 2) == 1;
	if (v[4] && (i = enum_val(c, v[4], "dns", dns, 3)) >= 0) {
		pr->dns = (enum tl_dns_mode)i;
		pr->dns_loc = node_loc(v[4]);
	}
	if (v[5])
		pr->raw_allow = enum_val(c, v[5], "raw_sockets", raw, 2) == 1;
	saved = push_key(c, "allow");
	if (v[2])
		read_allows(c, v[2], pr);
	pop(c, saved);
}

static void read_profiles(struct ctx *c, const yaml_node_t *n)
{
	struct tl_policy *p = c->p;
	size_t i, len = seq_len(n);

	if (!len) {
		error_node(c, n, "at least one profile is required");
		return;
	}
	if (len > TL_MAX_PROFILES) {
		error_node(c, seq_item(c, n, TL_MAX_PROFILES),
			   "too many profiles (at most %d)", TL_MAX_PROFILES);
		c->profiles_cut = true;
		len = TL_MAX_PROFILES;
	}
	p->profiles = calloc(len, sizeof(*p->profiles));
	if (!p->profiles) {
		c->oom = true;
		return;
	}
	p->nprofiles = len;
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		size_t saved = push(c, "[%zu]", i);

		/* a place for checks across profiles, whatever the item is */
		p->profiles[i].loc = node_loc(item);
		if (want(c, item, T_MAP))
			read_profile(c, item, &p->profiles[i]);
		pop(c, saved);
	}
}

/* ---- cgroups ---- */

static int find_profile(const struct tl_policy *p, const char *name)
{
	size_t i;

	for (i = 0; i < p->nprofiles; i++)
		if (p->profiles[i].name[0] &&
		    !strcmp(p->profiles[i].name, name))
			return (int)i;
	return -1;
}

/* Returns false when the rule is not usable for the cross checks. */
static bool read_cgroup(struct ctx *c, const yaml_node_t *n,
			struct tl_cgroup_rule *r)
{
	static const struct key keys[] = {
	    {"path", T_SCALAR, true},
	    {"profile", T_SCALAR, false},
	    {"exempt", T_SCALAR, false},
	};
	yaml_node_t *v[3];
	const char *why;
	bool ok = false;

	r->loc = node_loc(n);
	r->profile = -1;
	get_keys(c, n, keys, ARRAY_SIZE(keys), v);
	if (v[0]) {
		r->loc = node_loc(v[0]);
		why = check_cgroup_path(text(v[0]), true);
		if (why)
			error_node(c, v[0], "path '%s' %s",
				   shown(c, text(v[0])), why);
		else
			copy_str(r->path, TL_GLOB_MAX, text(v[0]));
		ok = !why;
	}
	if (v[2] && bool_val(c, v[2], &r->exempt))
		return false;
	if (v[1] && r->exempt) {
		error_node(c, n,
			   "give either 'profile' or 'exempt: true', not both");
		return false;
	}
	if (!v[1] && !r->exempt) {
		if (!v[2])
			error_node(c, n, "needs 'profile' or 'exempt: true'");
		else
			error_node(c, n, "'exempt: false' needs a 'profile'");
		return false;
	}
	if (v[1]) {
		r->profile = find_profile(c->p, text(v[1]));
		if (r->profile < 0) {
			error_node(c, v[1], "unknown profile '%s'",
				   shown(c, text(v[1])));
			return false;
		}
	}
	return ok;
}

static void read_cgroups(struct ctx *c, const yaml_node_t *n)
{
	struct tl_policy *p = c->p;
	size_t i, len = seq_len(n);

	if (len > TL_MAX_CGROUPS) {
		error_node(c, seq_item(c, n, TL_MAX_CGROUPS),
			   "too many cgroup entries (at most %d)",
			   TL_MAX_CGROUPS);
		len = TL_MAX_CGROUPS;
	}
	if (!len)
		return;
	p->cgroups = calloc(len, sizeof(*p->cgroups));
	if (!p->cgroups) {
		c->oom = true;
		return;
	}
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		struct tl_cgroup_rule *r = &p->cgroups[p->ncgroups];
		size_t saved = push(c, "[%zu]", i);

		if (want(c, item, T_MAP) && read_cgroup(c, item, r))
			p->ncgroups++;
		else
			memset(r, 0, sizeof(*r));
		pop(c, saved);
	}
}

/* ---- top level ---- */

/* ---- events ---- */

/* An integer in [lo, hi], reported at the node when it is not. */
static int uint_in(struct ctx *c, const yaml_node_t *n, const char *key,
		   uint64_t lo, uint64_t hi, uint32_t *out)
{
	uint64_t v;
	int r = parse_uint(text(n), false, hi, &v);

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

/* events: {rate: N, burst: M}: how many events per reason reach the feed. */
static void read_events(struct ctx *c, const yaml_node_t *n)
{
	static const struct key keys[] = {
	    {"rate", T_SCALAR, false},
	    {"burst", T_SCALAR, false},
	};
	struct tl_policy *p = c->p;
	yaml_node_t *v[2];
	size_t saved;

	get_keys(c, n, keys, ARRAY_SIZE(keys), v);
	saved = push_key(c, "rate");
	if (v[0])
		uint_in(c, v[0], "rate", 0, TL_EVENT_RATE_MAX, &p->event_rate);
	pop(c, saved);
	saved = push_key(c, "burst");
	if (v[1])
		uint_in(c, v[1], "burst", 1, TL_EVENT_BURST_MAX,
			&p->event_burst);
	pop(c, saved);
}

/* ---- DNS ---- */

const char *tl_dns_mode_name(enum tl_dns_mode m)
{
	switch (m) {
	case TL_DNS_MODE_REDIRECT:
		return "redirect";
	case TL_DNS_MODE_ORDINARY:
		return "ordinary";
	default:
		return "block";
	}
}

bool tl_policy_dns_port(const struct tl_policy *p, uint16_t port)
{
	for (size_t i = 0; i < p->ndns_ports; i++)
		if (p->dns_ports[i] == port)
			return true;
	return false;
}

/* What a DNS query is: UDP or TCP to one of these destination ports. */
static void read_dns_ports(struct ctx *c, const yaml_node_t *n)
{
	struct tl_policy *p = c->p;
	size_t i, len = seq_len(n);
	uint16_t port;

	if (!len) {
		error_node(c, n,
			   "an empty list recognises no DNS at all; omit "
			   "'dns_ports' for the default [53, 853]");
		return;
	}
	if (len > TL_MAX_DNS_PORTS) {
		error_node(c, seq_item(c, n, TL_MAX_DNS_PORTS),
			   "too many DNS ports (at most %d)", TL_MAX_DNS_PORTS);
		return;
	}
	p->ndns_ports = 0;
	for (i = 0; i < len; i++) {
		yaml_node_t *item = seq_item(c, n, i);
		size_t saved = push(c, "[%zu]", i);

		if (want(c, item, T_SCALAR) &&
		    !port_val(c, item, text(item), &port)) {
			if (tl_policy_dns_port(p, port))
				error_node(c, item, "duplicate DNS port %u",
					   port);
			else
				p->dns_ports[p->ndns_ports++] = port;
		}
		pop(c, saved);
	}
	if (!tl_policy_dns_port(p, 53))
		warn_at(c, node_loc(n),
			"port 53 is not listed: plain DNS queries would not be "
			"recognised as DNS");
}

/*
 * The skb->mark bits that carry a container's port index from where its
 * packets come in to where they leave: contiguous, at most 12 bits (the
 * port table), and nothing else on the host may use them.
 */
static void read_container_mark(struct ctx *c, const yaml_node_t *n)
{
	uint64_t v;
	uint32_t low;
	int r;

	r = parse_uint(text(n), true, UINT32_MAX, &v);
	if (r == -1) {
		error_node(c, n,
			   "container_mark '%s' is not a number (decimal or "
			   "0x hex)",
			   shown(c, text(n)));
		return;
	}
	if (r == -2) {
		error_node(c, n, "container_mark %s does not fit in 32 bits",
			   shown(c, text(n)));
		return;
	}
	low = (uint32_t)v & -(uint32_t)v;
	if (!v || ((v + low) & v)) {
		error_node(c, n,
			   "container_mark %s must be one run of contiguous "
			   "bits, such as 0xff000000",
			   shown(c, text(n)));
		return;
	}
	if (__builtin_popcount((uint32_t)v) > 12) {
		error_node(c, n,
			   "container_mark %s has more than 12 bits (at most "
			   "%d container namespaces)",
			   shown(c, text(n)), TL_MAX_PORTS - 1);
		return;
	}
	c->p->container_mark = (uint32_t)v;
	c->p->container_mark_loc = node_loc(n);
}

static void read_root(struct ctx *c, const yaml_node_t *root)
{
	static const struct key keys[] = {
	    {"mode", T_SCALAR, false},	    {"attach_cgroup", T_SCALAR, false},
	    {"no_socket", T_SCALAR, false}, {"tunnels", T_SEQ, true},
	    {"profiles", T_SEQ, true},	    {"cgroups", T_SEQ, false},
	    {"events", T_MAP, false},
	    {"dns_ports", T_SEQ, false},
	    {"container_mark", T_SCALAR, false},
	};
	static const char *const modes[] = {"enforce", "audit"};
	static const char *const nosock[] = {"enforce", "allow"};
	struct tl_policy *p = c->p;
	yaml_node_t *v[ARRAY_SIZE(keys)];
	const char *why;
	size_t saved;
	int i;

	if (!want(c, root, T_MAP))
		return;
	get_keys(c, root, keys, ARRAY_SIZE(keys), v);
	if (v[0] && (i = enum_val(c, v[0], "mode", modes, 2)) >= 0)
		p->mode = i ? TL_MODE_AUDIT : TL_MODE_ENFORCE;
	if (v[1]) {
		why = check_cgroup_path(text(v[1]), false);
		if (why)
			error_node(c, v[1], "attach_cgroup '%s' %s",
				   shown(c, text(v[1])), why);
		else
			copy_str(p->attach_cgroup, TL_GLOB_MAX, text(v[1]));
	}
	if (v[2] && (i = enum_val(c, v[2], "no_socket", nosock, 2)) >= 0)
		p->no_socket_allow = i == 1;
	if (v[8])
		read_container_mark(c, v[8]);
	/* profiles before cgroups, which name them */
	saved = push_key(c, "tunnels");
	if (v[3])
		read_tunnels(c, v[3]);
	pop(c, saved);
	saved = push_key(c, "profiles");
	if (v[4])
		read_profiles(c, v[4]);
	pop(c, saved);
	saved = push_key(c, "cgroups");
	if (v[5])
		read_cgroups(c, v[5]);
	pop(c, saved);
	saved = push_key(c, "events");
	if (v[6])
		read_events(c, v[6]);
	pop(c, saved);
	saved = push_key(c, "dns_ports");
	if (v[7])
		read_dns_ports(c, v[7]);
	pop(c, saved);
}

/* ---- checks across entries ---- */

static void check_tunnel_names(struct ctx *c)
{
	const struct tl_tunnel_cfg *t = c->p->tunnels;
	size_t i, j;

	/* at most 16: quadratic is fine */
	for (i = 0; i < c->p->ntunnels; i++) {
		for (j = 0; j < i && t[i].name[0]; j++) {
			if (strcmp(t[i].name, t[j].name))
				continue;
			error_at(
			    c, t[i].loc,
			    "duplicate tunnel name '%s' (first at line %d)",
			    t[i].name, t[j].loc.line);
			break;
		}
	}
}

static void check_profile_names(struct ctx *c)
{
	const struct tl_profile_cfg *pr = c->p->profiles;
	size_t i, j;

	/* at most 64: quadratic is fine */
	for (i = 0; i < c->p->nprofiles; i++) {
		for (j = 0; j < i && pr[i].name[0]; j++) {
			if (strcmp(pr[i].name, pr[j].name))
				continue;
			error_at(
			    c, pr[i].loc,
			    "duplicate profile name '%s' (first at line %d)",
			    pr[i].name, pr[j].loc.line);
			break;
		}
	}
}

static bool endpoint_eq(const struct tl_endpoint_cfg *a,
			const struct tl_endpoint_cfg *b)
{
	return a->port == b->port && a->protocol == b->protocol &&
	       !memcmp(a->addr.addr, b->addr.addr, 16);
}

/* Every endpoint that parsed, with its tunnel, in file order. */
static void collect_endpoints(struct ctx *c)
{
	const struct tl_policy *p = c->p;
	size_t t, e;

	for (t = 0; t < p->ntunnels; t++) {
		for (e = 0; e < p->tunnels[t].nendpoints; e++) {
			if (!p->tunnels[t].endpoints[e].addr.family)
				continue;
			c->eps[c->neps].ep = &p->tunnels[t].endpoints[e];
			c->eps[c->neps].tunnel = &p->tunnels[t];
			c->neps++;
		}
	}
}

/* One endpoint map: an endpoint belongs to one tunnel, once. */
static void check_endpoints(struct ctx *c)
{
	size_t i, j;

	collect_endpoints(c);
	/* at most TL_MAX_ENDPOINTS: quadratic is fine */
	for (i = 0; i < c->neps; i++) {
		for (j = 0; j < i; j++) {
			if (!endpoint_eq(c->eps[i].ep, c->eps[j].ep))
				continue;
			error_at(c, c->eps[i].ep->loc,
				 "duplicate endpoint (first at line %d)",
				 c->eps[j].ep->loc.line);
			break;
		}
	}
}

/*
 * Processes that no entry covers get the profile of "/", or else a built-in
 * locked profile, which the agent puts in the slot after the last one.
 */
static void check_default(struct ctx *c)
{
	const struct tl_policy *p = c->p;

	if (p->default_profile >= 0 || p->nprofiles < TL_MAX_PROFILES ||
	    c->profiles_cut)
		return;
	error_at(c, p->profiles[TL_MAX_PROFILES - 1].loc,
		 "with %d profiles the built-in locked profile has no slot; "
		 "give the default with a 'path: /' cgroup entry",
		 TL_MAX_PROFILES);
}

static int cgroup_cmp(const void *a, const void *b)
{
	const struct tl_cgroup_rule *x =
	    *(const struct tl_cgroup_rule *const *)a;
	const struct tl_cgroup_rule *y =
	    *(const struct tl_cgroup_rule *const *)b;
	int r = strcmp(x->path, y->path);

	if (r)
		return r;
	return x < y ? -1 : x > y;
}

/* Up to 16k entries: sort, then equal paths are neighbours. */
static void check_cgroups(struct ctx *c)
{
	struct tl_policy *p = c->p;
	struct tl_cgroup_rule **s;
	size_t i;

	for (i = 0; i < p->ncgroups; i++) {
		struct tl_cgroup_rule *r = &p->cgroups[i];

		if (strcmp(r->path, "/"))
			continue;
		if (r->exempt)
			warn_at(c, r->loc,
				"exempting '/' leaves every process without a "
				"profile unprotected");
		else if (p->default_profile < 0)
			p->default_profile = r->profile;
	}
	if (p->ncgroups < 2)
		return;
	s = malloc(p->ncgroups * sizeof(*s));
	if (!s) {
		c->oom = true;
		return;
	}
	for (i = 0; i < p->ncgroups; i++)
		s[i] = &p->cgroups[i];
	qsort(s, p->ncgroups, sizeof(*s), cgroup_cmp);
	for (i = 1; i < p->ncgroups; i++)
		if (!strcmp(s[i]->path, s[i - 1]->path))
			error_at(
			    c, s[i]->loc,
			    "duplicate cgroup path '%s' (first at line %d)",
			    s[i]->path, s[i - 1]->loc.line);
	free(s);
}

/* Order of the 128-bit space: by address, then wider first. */
static int cidr_cmp(const struct tl_cidr *a, const struct tl_cidr *b)
{
	int r = memcmp(a->addr, b->addr, 16);

	if (r)
		return r;
	return (int)full_plen(a) - (int)full_plen(b);
}

static int rule_cmp(const void *a, const void *b)
{
	const struct tl_allow_rule *x = *(const struct tl_allow_rule *const *)a;
	const struct tl_allow_rule *y = *(const struct tl_allow_rule *const *)b;
	int r = cidr_cmp(&x->cidr, &y->cidr);

	if (r)
		return r;
	return x < y ? -1 : x > y; /* file order among equals */
}

static bool loc_before(struct tl_loc a, struct tl_loc b)
{
	return a.line < b.line || (a.line == b.line && a.col < b.col);
}

static void report_overlap(struct ctx *c, const struct tl_profile_cfg *pr,
			   const struct tl_allow_rule *x,
			   const struct tl_allow_rule *y)
{
	char a[64], b[64];

	/* name the one further down the file: the other was there first */
	if (loc_before(x->loc, y->loc)) {
		const struct tl_allow_rule *t = x;

		x = y;
		y = t;
	}
	tl_format_cidr(&x->cidr, a, sizeof(a));
	tl_format_cidr(&y->cidr, b, sizeof(b));
	if (!cidr_cmp(&x->cidr, &y->cidr))
		error_at(
		    c, x->loc,
		    "profile '%s': duplicate allow CIDR %s (first at line %d)",
		    pr->name, a, y->loc.line);
	else
		error_at(c, x->loc,
			 "profile '%s': allow CIDR %s overlaps %s (line %d)",
			 pr->name, a, b, y->loc.line);
}

/*
 * CIDRs are nested or disjoint. Sorted by address, wider first, each rule
 * that lies inside an earlier one lies inside the innermost rule still on
 * a stack of open containers. parent[] keeps that innermost container, so
 * the containers of any address form a chain.
 */
static void sweep_overlaps(struct ctx *c, const struct tl_profile_cfg *pr,
			   const struct tl_allow_rule **s, long *parent)
{
	size_t i, sp = 0, n = pr->nallow;
	long *stack = malloc(n * sizeof(*stack));

	if (!stack) {
		c->oom = true;
		return;
	}
	for (i = 0; i < n; i++) {
		while (sp &&
		       !cidr_contains(&s[stack[sp - 1]]->cidr, &s[i]->cidr))
			sp--;
		parent[i] = sp ? stack[sp - 1] : -1;
		if (sp)
			report_overlap(c, pr, s[i], s[stack[sp - 1]]);
		/* a duplicate's first stands for it: chains stay short */
		if (sp && !cidr_cmp(&s[stack[sp - 1]]->cidr, &s[i]->cidr))
			continue;
		stack[sp++] = (long)i;
	}
	free(stack);
}

/* Last rule at or before addr in sorted order; -1 when none. */
static long rule_floor(const struct tl_allow_rule **s, size_t n,
		       const struct tl_cidr *addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (cidr_cmp(&s[mid]->cidr, addr) <= 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (long)lo - 1;
}

/*
 * An allow rule around an endpoint would let every process of the profile
 * reach the VPN server outside the tunnel: the MUL-02-002 class. Every rule
 * holding the endpoint sorts at or before it and is an ancestor of the last
 * rule that does.
 */
static void check_endpoint_cover(struct ctx *c, const struct tl_profile_cfg *pr,
				 const struct tl_allow_rule **s,
				 const long *parent, const struct ep_ref *ref)
{
	const struct tl_cidr *addr = &ref->ep->addr;
	char a[64], e[64];
	long j;

	for (j = rule_floor(s, pr->nallow, addr); j >= 0; j = parent[j]) {
		if (!cidr_contains(&s[j]->cidr, addr))
			continue;
		tl_format_cidr(&s[j]->cidr, a, sizeof(a));
		tl_format_addr(addr->addr, e, sizeof(e));
		error_at(c, s[j]->loc,
			 "profile '%s': allow CIDR %s contains endpoint %s of "
			 "tunnel '%s' (line %d): every process could reach it "
			 "outside the tunnel",
			 pr->name, a, e, ref->tunnel->name, ref->ep->loc.line);
	}
}

/* One LPM table serves both families, IPv4 mapped into IPv6. */
static void check_mapped_cover(struct ctx *c, const struct tl_profile_cfg *pr)
{
	static const struct tl_cidr mapped = {
	    .family = AF_INET6,
	    .prefixlen = 96,
	    .addr = {[10] = 0xff, [11] = 0xff},
	};
	char a[64];
	size_t i;

	for (i = 0; i < pr->nallow; i++) {
		const struct tl_allow_rule *r = &pr->allow[i];

		if (r->cidr.family != AF_INET6 ||
		    !cidr_contains(&r->cidr, &mapped))
			continue;
		tl_format_cidr(&r->cidr, a, sizeof(a));
		error_at(c, r->loc,
			 "profile '%s': IPv6 allow CIDR %s holds ::ffff:0:0/96 "
			 "and so all of IPv4; allow narrower IPv6 ranges (e.g. "
			 "2000::/3)",
			 pr->name, a);
	}
}

static void check_allows(struct ctx *c)
{
	const struct tl_policy *p = c->p;
	size_t i, k;

	for (k = 0; k < p->nprofiles; k++) {
		const struct tl_profile_cfg *pr = &p->profiles[k];
		const struct tl_allow_rule **s;
		long *parent;

		check_mapped_cover(c, pr);
		if (!pr->nallow)
			continue;
		s = malloc(pr->nallow * sizeof(*s));
		parent = malloc(pr->nallow * sizeof(*parent));
		if (!s || !parent) {
			c->oom = true;
			free(s);
			free(parent);
			return;
		}
		for (i = 0; i < pr->nallow; i++)
			s[i] = &pr->allow[i];
		qsort(s, pr->nallow, sizeof(*s), rule_cmp);
		sweep_overlaps(c, pr, s, parent);
		for (i = 0; i < c->neps; i++)
			check_endpoint_cover(c, pr, s, parent, &c->eps[i]);
		free(s);
		free(parent);
	}
}

/*
 * A port entry of nothing but DNS ports allows nothing in a profile whose
 * dns action decides DNS: the two rules contradict each other.
 */
static bool only_dns_ports(const struct tl_policy *p,
			   const struct tl_port_range *r)
{
	if (r->hi - r->lo >= TL_MAX_DNS_PORTS)
		return false;
	for (unsigned port = r->lo; port <= r->hi; port++)
		if (!tl_policy_dns_port(p, (uint16_t)port))
			return false;
	return true;
}

static void check_dns_allows(struct ctx *c, const struct tl_profile_cfg *pr)
{
	for (size_t i = 0; i < pr->nallow; i++) {
		const struct tl_allow_rule *r = &pr->allow[i];
		char a[64];

		for (int k = 0; k < r->nports; k++) {
			if (!only_dns_ports(c->p, &r->ports[k]))
				continue;
			tl_format_cidr(&r->cidr, a, sizeof(a));
			error_at(c, r->ports_loc,
				 "profile '%s': allow rule for %s names DNS "
				 "port %u, but 'dns: %s' decides DNS outside "
				 "the tunnel; a profile that must reach this "
				 "resolver needs 'dns: ordinary'",
				 pr->name, a, r->ports[k].lo,
				 tl_dns_mode_name(pr->dns));
			break;
		}
	}
}

/* Redirect needs somewhere to go; allow rules must not undo the dns action. */
static void check_dns(struct ctx *c)
{
	const struct tl_policy *p = c->p;
	size_t nres = 0, nres4 = 0;

	for (size_t t = 0; t < p->ntunnels; t++) {
		nres += p->tunnels[t].nresolvers;
		for (size_t i = 0; i < p->tunnels[t].nresolvers; i++)
			nres4 += p->tunnels[t].resolvers[i].family == AF_INET;
	}
	for (size_t k = 0; k < p->nprofiles; k++) {
		const struct tl_profile_cfg *pr = &p->profiles[k];

		if (pr->dns == TL_DNS_MODE_REDIRECT && !nres)
			error_at(c, pr->dns_loc,
				 "profile '%s': 'dns: redirect' needs a tunnel "
				 "resolver, and no tunnel lists 'resolvers'",
				 pr->name);
		else if (pr->dns == TL_DNS_MODE_REDIRECT && !nres4)
			warn_at(c, pr->dns_loc,
				"profile '%s': no tunnel has an IPv4 resolver: "
				"IPv4 DNS queries are blocked, not redirected",
				pr->name);
		if (pr->dns != TL_DNS_MODE_ORDINARY)
			check_dns_allows(c, pr);
	}
}

/* ---- entry points ---- */

void tl_policy_free(struct tl_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->ntunnels; i++) {
		free(p->tunnels[i].endpoints);
		free(p->tunnels[i].resolvers);
	}
	for (i = 0; i < p->nprofiles; i++)
		free(p->profiles[i].allow);
	free(p->tunnels);
	free(p->profiles);
	free(p->cgroups);
	free(p->file);
	memset(p, 0, sizeof(*p));
}

/* libyaml reports reader (encoding) errors by byte offset only. */
static struct tl_loc offset_loc(const char *buf, size_t len, size_t off)
{
	struct tl_loc loc = {1, 1};
	size_t i;

	for (i = 0; i < off && i < len; i++) {
		if (buf[i] == '\n') {
			loc.line++;
			loc.col = 1;
		} else {
			loc.col++;
		}
	}
	return loc;
}

static void syntax_error(struct ctx *c, const yaml_parser_t *ps,
			 const char *buf, size_t len)
{
	struct tl_loc loc = {ps->problem_mark.line + 1,
			     ps->problem_mark.column + 1};

	switch (ps->error) {
	case YAML_MEMORY_ERROR:
		c->oom = true;
		c->nerrors++;
		return;
	case YAML_READER_ERROR:
		loc = offset_loc(buf, len, ps->problem_offset);
		if (ps->problem_value >= 0)
			error_at(c, loc, "%s (byte 0x%02x)", ps->problem,
				 ps->problem_value);
		else
			error_at(c, loc, "%s", ps->problem);
		return;
	default:
		break;
	}
	/* the commonest YAML mistake gets a plain answer */
	if (ps->problem_mark.index < len && buf[ps->problem_mark.index] == '\t')
		error_at(c, loc,
			 "syntax error: a tab; YAML indents with spaces only");
	else if (ps->context)
		error_at(c, loc, "syntax error: %s, %s at line %zu",
			 ps->problem ? ps->problem : "bad YAML", ps->context,
			 ps->context_mark.line + 1);
	else
		error_at(c, loc, "syntax error: %s",
			 ps->problem ? ps->problem : "bad YAML");
}

/* A VPN client's fwmark is an identity: it must not share the bits that
 * stamp containers' traffic. */
static void check_container_mark(struct ctx *c)
{
	const struct tl_policy *p = c->p;

	for (size_t t = 0; t < p->ntunnels; t++) {
		const struct tl_tunnel_cfg *tn = &p->tunnels[t];

		if (!tn->has_fwmark || !(tn->fwmark & p->container_mark))
			continue;
		error_at(c, p->container_mark_loc.line ? p->container_mark_loc :
							 tn->loc,
			 "container_mark 0x%x shares bits with fwmark 0x%x of "
			 "tunnel '%s'; the container_mark bits are tunlock's "
			 "alone",
			 p->container_mark, tn->fwmark, tn->name);
	}
}

static void check_document(struct ctx *c)
{
	yaml_node_t *root = yaml_document_get_root_node(c->doc);

	if (!root || is_null(root)) {
		error_at(c, (struct tl_loc){1, 1},
			 "the policy is empty: 'tunnels' and 'profiles' are "
			 "required");
		return;
	}
	read_root(c, root);
	check_tunnel_names(c);
	check_profile_names(c);
	check_endpoints(c);
	check_cgroups(c);
	check_default(c);
	check_allows(c);
	check_dns(c);
	check_container_mark(c);
}

/* ---- composing the document ---- */

/*
 * The document is built here from libyaml's events, not by its loader:
 * depth, size, tags, NULs and aliases are judged as they come, so a hostile
 * file stops early, and the nodes take a fraction of the loader's memory.
 * The result is an ordinary yaml_document_t for the readers above.
 */

/* size bytes aligned to align (a power of two) */
static void *arena_alloc(struct ctx *c, size_t size, size_t align)
{
	struct chunk *k = c->arena;
	size_t at = k ? (k->used + align - 1) & ~(align - 1) : 0;

	if (!k || at > k->size || k->size - at < size) {
		/* from 64 KiB, doubling to 1 MiB: small files stay small */
		size_t cap = !k			 ? 1u << 16
			     : k->size < 1u << 20 ? 2 * k->size
						  : 1u << 20;

		if (cap < size)
			cap = size;
		k = malloc(sizeof(*k) + cap);
		if (!k) {
			c->oom = true;
			return NULL;
		}
		k->size = cap;
		k->used = at = 0;
		k->next = c->arena;
		c->arena = k;
	}
	k->used = at + size;
	return (char *)k->data + at;
}

struct anchor {
	const char *name; /* NULL: a free slot */
	size_t hash;
	int id;
	bool open; /* a collection still being read */
};

struct composer {
	struct ctx *c;
	yaml_document_t *doc;
	size_t nnodes, cap;
	/* collections being read, outermost first; their children so far */
	struct {
		int id;
		size_t first;
		const char *anchor; /* its name, or NULL */
	} open[MAX_DEPTH];
	int depth;
	int *kids;
	size_t nkids, kids_cap;
	struct anchor *anchors;
	size_t nanchors, anchors_cap; /* cap: a power of two */
};

static struct tl_loc mark_loc(yaml_mark_t m)
{
	return (struct tl_loc){(int)m.line + 1, (int)m.column + 1};
}

static size_t anchor_hash(const char *s)
{
	size_t h = 14695981039346656037ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	/* FNV-1a mixes its low bits poorly, and the table takes those */
	h ^= h >> 31;
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ h >> 32;
}

static struct anchor *anchor_slot(struct composer *cp, const char *name,
				  size_t hash)
{
	size_t mask = cp->anchors_cap - 1, i = hash & mask;

	while (cp->anchors[i].name && (cp->anchors[i].hash != hash ||
				       strcmp(cp->anchors[i].name, name)))
		i = (i + 1) & mask;
	return &cp->anchors[i];
}

/* Names a node for the aliases that follow; NULL when it cannot, or the
 * name as kept. */
static const char *anchor_add(struct composer *cp, const char *name, int id,
			      bool open, yaml_mark_t mark)
{
	struct ctx *c = cp->c;
	size_t hash = anchor_hash(name);
	struct anchor *a;
	char *copy;

	if (2 * (cp->nanchors + 1) > cp->anchors_cap) {
		size_t cap = cp->anchors_cap ? 2 * cp->anchors_cap : 64;
		struct anchor *old = cp->anchors;
		size_t oldcap = cp->anchors_cap;

		cp->anchors = calloc(cap, sizeof(*cp->anchors));
		if (!cp->anchors) {
			cp->anchors = old;
			c->oom = true;
			return NULL;
		}
		cp->anchors_cap = cap;
		for (size_t i = 0; i < oldcap; i++)
			if (old[i].name)
				*anchor_slot(cp, old[i].name, old[i].hash) =
				    old[i];
		free(old);
	}
	a = anchor_slot(cp, name, hash);
	if (a->name) {
		error_at(c, mark_loc(mark),
			 "found duplicate anchor '&%s' (first at line %d)",
			 shown(c, name), node_loc(node(c, a->id)).line);
		return NULL;
	}
	copy = arena_alloc(c, strlen(name) + 1, 1);
	if (!copy)
		return NULL;
	*a = (struct anchor){strcpy(copy, name), hash, id, open};
	cp->nanchors++;
	return copy;
}

/* The tag of a node as written (NULL or "!" when none), or NULL after
 * reporting one the reader does not honour. */
static yaml_char_t *node_tag(struct composer *cp, const char *tag,
			     yaml_node_type_t type, const char *value,
			     yaml_mark_t mark)
{
	struct ctx *c = cp->c;
	bool ok, is_int;
	uint64_t v;

	if (!tag || !strcmp(tag, "!"))
		return type == YAML_SCALAR_NODE	    ? tag_str
		       : type == YAML_SEQUENCE_NODE ? tag_seq
						    : tag_map;
	switch (type) {
	case YAML_SEQUENCE_NODE:
		ok = !strcmp(tag, (char *)tag_seq);
		break;
	case YAML_MAPPING_NODE:
		ok = !strcmp(tag, (char *)tag_map);
		break;
	default:
		if (!strcmp(tag, (char *)tag_str))
			return tag_str;
		is_int = !strcmp(tag, (char *)tag_int);
		if (is_int || !strcmp(tag, (char *)tag_bool)) {
			if (is_int ? !parse_uint(value, true, UINT64_MAX, &v)
				   : bool_of(value) >= 0)
				return is_int ? tag_int : tag_bool;
			error_at(c, mark_loc(mark),
				 "tag '!!%s' on '%s', which is not %s",
				 is_int ? "int" : "bool", shown(c, value),
				 is_int ? "an integer (decimal, or 0x hex)"
					: "true or false");
			return NULL;
		}
		ok = false;
	}
	if (ok)
		return type == YAML_SEQUENCE_NODE ? tag_seq : tag_map;
	if (!strncmp(tag, "tag:yaml.org,2002:", 18))
		error_at(c, mark_loc(mark),
			 "unsupported tag '!!%s' on %s: only !!str, !!int and "
			 "!!bool values, !!seq lists and !!map mappings",
			 shown(c, tag + 18),
			 type == YAML_SCALAR_NODE     ? "a value"
			 : type == YAML_SEQUENCE_NODE ? "a list"
						      : "a mapping");
	else
		error_at(c, mark_loc(mark),
			 "unsupported tag '%s': tunlock honours only !!str, "
			 "!!int, !!bool, !!seq and !!map",
			 shown(c, tag));
	return NULL;
}

/*
 * The node array, in pages of its own that grow in place where they can:
 * large ones in huge pages, since a big file's nodes cost more in page
 * faults than in anything else.
 */
static yaml_node_t *grow_nodes(yaml_node_t *old, size_t oldcap, size_t cap)
{
	size_t len = cap * sizeof(*old);
	void *p;

	p = old ? mremap(old, oldcap * sizeof(*old), len, MREMAP_MAYMOVE)
		: mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (len >= 2u << 20)
		madvise(p, len, MADV_HUGEPAGE); /* a hint: failing is fine */
	return p;
}

/* A new node, the child of the innermost open collection. */
static int add_node(struct composer *cp, yaml_node_type_t type,
		    yaml_char_t *tag, yaml_mark_t start, yaml_mark_t end)
{
	struct ctx *c = cp->c;
	yaml_node_t *n;

	if (cp->nnodes == MAX_NODES) {
		stop_at(c, mark_loc(start),
			"more than %d YAML nodes (values, lists, "
			"mappings), the most a policy may have",
			MAX_NODES);
		return 0;
	}
	if (cp->nnodes == cp->cap) {
		size_t cap = cp->cap ? 2 * cp->cap : 1024;

		if (cap > MAX_NODES)
			cap = MAX_NODES;
		n = grow_nodes(cp->doc->nodes.start, cp->cap, cap);
		if (!n) {
			c->oom = true;
			return 0;
		}
		cp->doc->nodes.start = n;
		cp->cap = cap;
	}
	n = &cp->doc->nodes.start[cp->nnodes++];
	cp->doc->nodes.top = n + 1;
	cp->doc->nodes.end = cp->doc->nodes.start + cp->cap;
	*n = (yaml_node_t){
	    .type = type, .tag = tag, .start_mark = start, .end_mark = end};
	return (int)cp->nnodes;
}

static bool add_kid(struct composer *cp, int id)
{
	if (!cp->depth)
		return true; /* the root */
	if (cp->nkids == cp->kids_cap) {
		size_t cap = cp->kids_cap ? 2 * cp->kids_cap : 256;
		int *k = realloc(cp->kids, cap * sizeof(*k));

		if (!k) {
			cp->c->oom = true;
			return false;
		}
		cp->kids = k;
		cp->kids_cap = cap;
	}
	cp->kids[cp->nkids++] = id;
	return true;
}

static bool open_node(struct composer *cp, const yaml_event_t *e)
{
	bool seq = e->type == YAML_SEQUENCE_START_EVENT;
	const char *anchor = (char *)(seq ? e->data.sequence_start.anchor
					  : e->data.mapping_start.anchor);
	yaml_char_t *tag;
	int id;

	if (cp->depth == MAX_DEPTH) {
		stop_at(cp->c, mark_loc(e->start_mark),
			"nested deeper than %d levels", MAX_DEPTH);
		return false;
	}
	tag = node_tag(cp,
		       (char *)(seq ? e->data.sequence_start.tag
				    : e->data.mapping_start.tag),
		       seq ? YAML_SEQUENCE_NODE : YAML_MAPPING_NODE, NULL,
		       e->start_mark);
	id = add_node(cp, seq ? YAML_SEQUENCE_NODE : YAML_MAPPING_NODE,
		      tag   ? tag
		      : seq ? tag_seq
			    : tag_map,
		      e->start_mark, e->end_mark);
	if (!id || !add_kid(cp, id))
		return false;
	cp->open[cp->depth].anchor = NULL;
	if (anchor && !(cp->open[cp->depth].anchor =
			    anchor_add(cp, anchor, id, true, e->start_mark)))
		return false;
	cp->open[cp->depth].id = id;
	cp->open[cp->depth].first = cp->nkids;
	cp->depth++;
	return true;
}

static bool close_node(struct composer *cp, const yaml_event_t *e)
{
	yaml_node_t *n;
	size_t first, nk;
	void *items;

	if (!cp->depth)
		return false; /* libyaml balances them */
	cp->depth--;
	n = node(cp->c, cp->open[cp->depth].id);
	first = cp->open[cp->depth].first;
	nk = cp->nkids - first;
	n->end_mark = e->end_mark;
	if (n->type == YAML_SEQUENCE_NODE) {
		items = arena_alloc(cp->c, nk * sizeof(int), sizeof(int));
		if (!items)
			return false;
		if (nk)
			memcpy(items, cp->kids + first, nk * sizeof(int));
		n->data.sequence.items.start = items;
		n->data.sequence.items.top = n->data.sequence.items.end =
		    (int *)items + nk;
	} else {
		yaml_node_pair_t *pairs =
		    arena_alloc(cp->c, nk / 2 * sizeof(*pairs), sizeof(int));

		if (!pairs)
			return false;
		for (size_t i = 0; i + 1 < nk; i += 2)
			pairs[i / 2] = (yaml_node_pair_t){
			    cp->kids[first + i], cp->kids[first + i + 1]};
		n->data.mapping.pairs.start = pairs;
		n->data.mapping.pairs.top = n->data.mapping.pairs.end =
		    pairs + nk / 2;
	}
	cp->nkids = first;
	/* the node is whole: aliases may name it from here on */
	if (cp->open[cp->depth].anchor)
		anchor_slot(cp, cp->open[cp->depth].anchor,
			    anchor_hash(cp->open[cp->depth].anchor))
		    ->open = false;
	return true;
}

static bool add_scalar(struct composer *cp, const yaml_event_t *e)
{
	struct ctx *c = cp->c;
	const char *value = (char *)e->data.scalar.value;
	size_t len = e->data.scalar.length;
	yaml_char_t *tag;
	char *copy;
	int id;

	tag = node_tag(cp, (char *)e->data.scalar.tag, YAML_SCALAR_NODE, value,
		       e->start_mark);
	if (memchr(value, '\0', len)) {
		error_at(c, mark_loc(e->start_mark),
			 "a key or value must not hold a NUL character");
		tag = tag_nul;
	}
	id = add_node(cp, YAML_SCALAR_NODE, tag ? tag : tag_str, e->start_mark,
		      e->end_mark);
	copy = id ? arena_alloc(c, len + 1, 1) : NULL;
	if (!copy)
		return false;
	memcpy(copy, value, len + 1);
	node(c, id)->data.scalar.value = (yaml_char_t *)copy;
	node(c, id)->data.scalar.length = len;
	node(c, id)->data.scalar.style = e->data.scalar.style;
	if (e->data.scalar.anchor &&
	    !anchor_add(cp, (char *)e->data.scalar.anchor, id, false,
			e->start_mark))
		return false;
	return add_kid(cp, id);
}

static bool add_alias(struct composer *cp, const yaml_event_t *e)
{
	const char *name = (char *)e->data.alias.anchor;
	struct anchor *a =
	    cp->anchors_cap ? anchor_slot(cp, name, anchor_hash(name)) : NULL;

	if (!a || !a->name) {
		error_at(cp->c, mark_loc(e->start_mark),
			 "found undefined alias '*%s'", shown(cp->c, name));
		return false;
	}
	if (a->open) {
		error_at(cp->c, mark_loc(e->start_mark),
			 "alias '*%s' inside the node it names",
			 shown(cp->c, name));
		return false;
	}
	return add_kid(cp, a->id);
}

/*
 * Build the document (the first of the stream; a second is an error).
 * Returns false when there is nothing to read: a syntax error, or a limit
 * passed (reported).
 */
static bool compose(struct ctx *c, yaml_parser_t *ps, const char *buf,
		    size_t len)
{
	struct composer cp = {.c = c, .doc = c->doc};
	bool ok = true, done = false;
	int docs = 0;

	while (ok && !done) {
		yaml_event_t e;

		if (!yaml_parser_parse(ps, &e)) {
			syntax_error(c, ps, buf, len);
			ok = false;
			break;
		}
		switch (e.type) {
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1) {
				error_at(c, mark_loc(e.start_mark),
					 "a policy is one YAML document; "
					 "found another");
				done = true;
			}
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			ok = open_node(&cp, &e);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			ok = close_node(&cp, &e);
			break;
		case YAML_SCALAR_EVENT:
			ok = add_scalar(&cp, &e);
			break;
		case YAML_ALIAS_EVENT:
			ok = add_alias(&cp, &e);
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&e);
	}
	free(cp.kids);
	free(cp.anchors);
	/* every node once, and what aliases may add */
	c->max_visits = cp.nnodes + ALIAS_VISITS;
	return ok && !c->oom;
}

static void free_document(struct ctx *c)
{
	while (c->arena) {
		struct chunk *k = c->arena;

		c->arena = k->next;
		free(k);
	}
	if (c->doc->nodes.start)
		munmap(c->doc->nodes.start,
		       (size_t)(c->doc->nodes.end - c->doc->nodes.start) *
			   sizeof(yaml_node_t));
	memset(c->doc, 0, sizeof(*c->doc));
}

int tl_policy_parse(const char *name, const char *buf, size_t len,
		    struct tl_policy *out, FILE *err)
{
	struct ctx c = {.file = name, .p = out};
	yaml_document_t doc = {0};
	yaml_parser_t ps;

	memset(out, 0, sizeof(*out));
	out->mode = TL_MODE_ENFORCE;
	out->default_profile = -1;
	out->event_rate = TL_EVENT_RATE_DEFAULT;
	out->event_burst = TL_EVENT_BURST_DEFAULT;
	out->container_mark = TL_CONTAINER_MARK_DEFAULT;
	strcpy(out->attach_cgroup, "/");
	out->dns_ports[0] = 53;
	out->dns_ports[1] = 853;
	out->ndns_ports = 2;
	out->file = strdup(name);
	if (!out->file || !yaml_parser_initialize(&ps)) {
		if (err)
			fprintf(err, "%s: out of memory\n", name);
		tl_policy_free(out);
		return -1;
	}
	c.doc = &doc;
	if (len > MAX_FILE_BYTES) {
		stop_at(&c, (struct tl_loc){0, 0}, TOO_LARGE,
			MAX_FILE_BYTES >> 20);
	} else {
		yaml_parser_set_input_string(&ps, (const unsigned char *)buf,
					     len);
		if (compose(&c, &ps, buf, len))
			check_document(&c);
	}
	free_document(&c);
	yaml_parser_delete(&ps);
	if (c.oom)
		c.nerrors++;
	flush_diags(&c, err);
	if (c.nerrors) {
		tl_policy_free(out);
		out->default_profile = -1;
		return -1;
	}
	return 0;
}

/*
 * The whole file, which must be a regular file (a FIFO or a device would
 * block a check or a reload) of at most MAX_FILE_BYTES.
 */
static char *read_file(const char *file, size_t *len, FILE *err)
{
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	const char *why = NULL;
	char *buf = NULL, big[64];
	struct stat st;
	size_t n = 0;

	if (fd < 0 || fstat(fd, &st)) {
		why = strerror(errno);
	} else if (!S_ISREG(st.st_mode)) {
		why = "not a regular file";
	} else if (st.st_size > MAX_FILE_BYTES) {
		snprintf(big, sizeof(big), TOO_LARGE, MAX_FILE_BYTES >> 20);
		why = big;
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		why = strerror(ENOMEM);
	}
	/* one byte more than the size, to see a file that grew */
	while (!why) {
		ssize_t got = read(fd, buf + n, (size_t)st.st_size + 1 - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			why = strerror(errno);
		else if (!got)
			break;
		else if ((n += (size_t)got) > (size_t)st.st_size)
			why = "changed while it was read";
	}
	if (fd >= 0)
		close(fd);
	if (why) {
		if (err)
			fprintf(err, "%s: %s\n", file, why);
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

int tl_policy_load(const char *file, struct tl_policy *out, FILE *err)
{
	size_t len;
	char *buf;
	int r;

	memset(out, 0, sizeof(*out));
	out->default_profile = -1;
	buf = read_file(file, &len, err);
	if (!buf)
		return -1;
	r = tl_policy_parse(file, buf, len, out, err);
	free(buf);
	return r;
}
