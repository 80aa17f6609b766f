/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the policy reader's files share, and nothing else includes:
 *   policy_yaml.c   the document composed from libyaml's events, node helpers
 *   policy_plain.c  the same events from a file in plain YAML, without libyaml
 *   policy_diag.c   diagnostics (FILE:LINE:COL, first MAX_SHOWN in file order)
 *   policy_value.c  scalars: enums, numbers, ports, names, paths, addresses
 *   policy_read.c   one reader per section of the schema
 *   policy_check.c  checks across entries, after the reading
 *   policy.c        the entry points (policy.h)
 */
#ifndef TUNLOCK_POLICY_INT_H
#define TUNLOCK_POLICY_INT_H

#include <stdarg.h>
#include <yaml.h>

#include "policy.h"

/* Never seen outside the binary, whatever the names. */
#pragma GCC visibility push(hidden)

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Past this many, a check run floods the terminal without helping. */
#define MAX_SHOWN 100
/* An echoed value is cut after this many bytes. */
#define SHOWN_MAX 64

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

struct chunk; /* of the composed document: policy_yaml.c */

/*
 * A node of the composed document: 24 bytes where libyaml's is 96, since a
 * large policy has half a million of them and what they cost is mostly
 * the pages they take.
 */
struct ynode {
	struct tl_loc loc;
	uint8_t type;  /* yaml_node_type_t */
	uint8_t style; /* yaml_scalar_style_t, of a scalar */
	bool nul;      /* a scalar holding a NUL, already reported */
	uint32_t len;  /* a scalar's bytes, a list's items, a mapping's pairs */
	union {
		const char *value;	       /* a scalar's, NUL-terminated */
		const int *items;	       /* a list's node ids */
		const yaml_node_pair_t *pairs; /* a mapping's node ids */
	};
};

/* The composed document: node ids from 1, as libyaml counts them. */
struct ydoc {
	struct ynode *nodes;
	size_t n, cap;
};

/* Where an allow rule stood: kept beside the rules while reading only. */
struct allow_loc {
	struct tl_loc cidr;  /* of its cidr, or of the rule */
	struct tl_loc ports; /* of its ports list, when given */
};

/* A step of the key path: a mapping key, or (key NULL) a list index. */
struct path_step {
	const char *key; /* static: a key table's name */
	size_t index;
};

/* deeper than any policy (the reader follows the schema: 6 at most) */
#define MAX_PATH_STEPS 16

struct ctx {
	const char *file;
	struct ydoc doc;
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
	/*
	 * Key path of the node being read, e.g. "tunnels[0].endpoints[1]":
	 * its steps, written out only for a diagnostic (reading visits
	 * every node; few have one).
	 */
	struct path_step path[MAX_PATH_STEPS];
	size_t pathlen; /* steps; those past MAX_PATH_STEPS are not kept */
	/* nodes read so far, and how many reading may take */
	size_t visits, max_visits;
	bool visits_out; /* the budget ran out, already reported */
	/* values as messages echo them: cut and escaped, a few at once */
	char shown[4][4 * SHOWN_MAX + 8];
	unsigned nshown;
	struct chunk *arena;		     /* of the composed document */
	size_t nallow;			     /* allow rules over all profiles */
	/* per profile, parallel to its allow[]: freed with the document */
	struct allow_loc *allow_locs[TL_MAX_PROFILES];
	size_t ports_cap; /* of the profile whose allow list is being read */
	size_t nendpoints;		     /* endpoints over all tunnels */
	size_t nresolvers;		     /* resolvers over all tunnels */
	struct ep_ref eps[TL_MAX_ENDPOINTS]; /* those that parsed */
	size_t neps;
	bool profiles_cut; /* more than TL_MAX_PROFILES, already reported */
};

/* ---- diagnostics and key path (policy_diag.c) ---- */

static inline struct tl_loc node_loc(const struct ynode *n)
{
	return n->loc;
}

__attribute__((format(printf, 3, 4))) void
error_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void
error_node(struct ctx *c, const struct ynode *n, const char *fmt, ...);
__attribute__((format(printf, 3, 4))) void
warn_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...);
/*
 * A limit passed: reading stops here, and this error is shown last even
 * when MAX_SHOWN others come before it.
 */
__attribute__((format(printf, 3, 4))) void
stop_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...);
/* A value as a message echoes it; valid until the fourth call after. */
const char *shown(struct ctx *c, const char *s);
/* Print the diagnostics in file order (when err), then free them. */
void flush_diags(struct ctx *c, FILE *err);

/* Extend the key path; pop() back to the length these return. KEY must
 * outlive the step (a key table's name). */
size_t push_key(struct ctx *c, const char *key);
size_t push_index(struct ctx *c, size_t index);
void pop(struct ctx *c, size_t len);

/* ---- the document and its nodes (policy_yaml.c) ---- */

enum vtype { T_SCALAR, T_SEQ, T_MAP };

struct key {
	const char *name;
	enum vtype type;
	bool required;
};

/* the most keys a mapping of the schema has, and then some */
#define MAX_KEYS 12

static inline struct ynode *node(struct ctx *c, int id)
{
	return &c->doc.nodes[id - 1];
}

static inline const char *text(const struct ynode *n)
{
	return n->value;
}

static inline size_t seq_len(const struct ynode *n)
{
	return n->len;
}

static inline struct ynode *seq_item(struct ctx *c, const struct ynode *n,
				     size_t i)
{
	return node(c, n->items[i]);
}

/* An empty plain value ("key:" alone), "~" or "null". */
bool is_null(const struct ynode *n);
/* The node must be of type t; says so at the node when it is not. */
bool want(struct ctx *c, const struct ynode *n, enum vtype t);

bool get_keys_n(struct ctx *c, const struct ynode *map, const struct key *keys,
		size_t nkeys, struct ynode **vals);
/*
 * Look up the keys of a mapping: vals[i] gets the value of keys[i], or NULL
 * when it is absent or of the wrong type (that is reported, as are unknown
 * and duplicate keys). False when a required key is missing, reported at
 * the mapping. keys and vals are arrays of one size, at most MAX_KEYS.
 */
#define get_keys(c, map, keys, vals)                                           \
	({                                                                     \
		_Static_assert(ARRAY_SIZE(keys) == ARRAY_SIZE(vals),           \
			       "one value per key");                           \
		_Static_assert(ARRAY_SIZE(keys) <= MAX_KEYS,                   \
			       "more keys than MAX_KEYS");                     \
		get_keys_n(c, map, keys, ARRAY_SIZE(keys), vals);              \
	})

/*
 * Read the first len items of list n, each under its "[i]" key path: those
 * of type t by item(c, node, i, arg), the others reported.
 */
typedef void read_item_fn(struct ctx *c, struct ynode *item, size_t i,
			  void *arg);
void read_list(struct ctx *c, const struct ynode *n, size_t len, enum vtype t,
	       read_item_fn *item, void *arg);

/*
 * Fault in the whole pages of [p, p + len) at once: one call, where page
 * by page a large file took thousands of faults, a fifth of `check`'s
 * time. A hint: an older kernel refuses it, and the pages fault as before.
 */
void populate(void *p, size_t len);

/*
 * YAML nodes (values, lists, mappings) in one file, 24 bytes each: 131072
 * allow rules with a protocol and three ports each, and 16384 cgroups, fit.
 */
#define MAX_NODES 1500000

/* Compose the document from the parser; false when there is nothing to
 * read (a syntax error or a limit passed, reported). */
bool compose(struct ctx *c, yaml_parser_t *ps, const char *buf, size_t len);
void free_document(struct ctx *c);

/* Which reader gives the composer its events: the plain reader when it
 * takes the file, else libyaml; or only one of them (the tests compare). */
enum yaml_reader { READ_ANY, READ_LIBYAML, READ_PLAIN };
/* compose() by one reader; with READ_PLAIN, false as well when it declined
 * (nothing reported, no document). */
bool compose_by(struct ctx *c, yaml_parser_t *ps, const char *buf, size_t len,
		enum yaml_reader by);

/* The composer, which both readers feed. */
struct composer;
/* One event into the document; false when it stopped (reported, or out of
 * memory). */
bool compose_event(struct composer *cp, const yaml_event_t *e);

/* ---- the plain reader (policy_plain.c) ---- */

/*
 * The events of a file in plain block YAML: 1 when it read the document,
 * 0 when the file is not plain (what it composed is to be thrown away),
 * -1 when the composer stopped.
 */
int plain_compose(struct composer *cp, struct ctx *c, const char *buf,
		  size_t len);

/* ---- scalars (policy_value.c) ---- */

/* An enum value: index into names, or -1 after reporting. */
int enum_val(struct ctx *c, const struct ynode *n, const char *key,
	     const char *const *names, int nnames);
/* The YAML 1.2 core schema booleans: 1 true, 0 false, -1 neither. */
int bool_of(const char *s);
int bool_val(struct ctx *c, const struct ynode *n, bool *out);
/* An integer in [lo, hi], reported at the node when it is not. */
int uint_in(struct ctx *c, const struct ynode *n, const char *key, uint64_t lo,
	    uint64_t hi, uint32_t *out);
int port_val(struct ctx *c, const struct ynode *n, const char *s, uint16_t *out);
/* "443" or "8000-8080". */
int port_range_val(struct ctx *c, const struct ynode *n,
		   struct tl_port_range *out);
/* "udp" or "tcp": IPPROTO_UDP or IPPROTO_TCP, or -1 after reporting. */
int proto_val(struct ctx *c, const struct ynode *n);
/* A single unicast address: a VPN server or a resolver. */
int addr_val(struct ctx *c, const struct ynode *n, struct tl_cidr *out);
/* Copy a validated string; the checks made sure it fits. */
void copy_str(char *dst, size_t size, const char *src);
/* What is wrong with a value, or NULL: */
const char *check_name(const char *s);
const char *check_ifname(const char *s);
const char *check_cgroup_path(const char *s, bool glob_ok);

/* ---- sections and checks (policy_read.c, policy_check.c) ---- */

void read_root(struct ctx *c, const struct ynode *root);
void check_entries(struct ctx *c);

#pragma GCC visibility pop

#endif
