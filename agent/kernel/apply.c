// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "apply.h"
#include "cgindex.h"
#include "cgroup.h"
#include "jobs.h"
#include "log.h"

/* A cgroup that some rule or tunnel client names, as found on disk. */
struct cg_node {
	char rel[TL_GLOB_MAX];
	uint64_t id;
	int rule;	  /* index of the rule that matched it, or -1 */
	uint32_t client;  /* tunnels whose client cgroup it is */
};

/*
 * The cgroups found, indexed by id and by path (open addressing, 2 * cap
 * slots holding a node's index + 1): a host with 10,000 matched cgroups
 * took a second per apply comparing every pair.
 */
struct cg_nodes {
	struct cg_node *v;
	size_t n, cap;
	uint32_t *by_id, *by_rel;
	int rule;
	uint32_t client;
};

/* FNV-1a: spread for tl_cgroup_id_home like an id */
static uint64_t rel_hash(const char *rel, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (uint8_t)rel[i]) * 0x100000001b3ull;
	return h;
}

/* The slot of id: its node's, or the empty one where it would go. */
static uint32_t *slot_by_id(const struct cg_nodes *ns, uint64_t id)
{
	size_t mask = 2 * ns->cap - 1;
	size_t s = tl_cgroup_id_home(id, 2 * ns->cap);

	while (ns->by_id[s] && ns->v[ns->by_id[s] - 1].id != id)
		s = (s + 1) & mask;
	return &ns->by_id[s];
}

/* The slot of the path rel[0, len). */
static uint32_t *slot_by_rel(const struct cg_nodes *ns, const char *rel,
			     size_t len)
{
	size_t mask = 2 * ns->cap - 1;
	size_t s = tl_cgroup_id_home(rel_hash(rel, len), 2 * ns->cap);
	const char *r;

	for (; ns->by_rel[s]; s = (s + 1) & mask) {
		r = ns->v[ns->by_rel[s] - 1].rel;
		if (!strncmp(r, rel, len) && !r[len])
			break;
	}
	return &ns->by_rel[s];
}

static void index_node(struct cg_nodes *ns, uint32_t i)
{
	const char *rel = ns->v[i].rel;

	*slot_by_id(ns, ns->v[i].id) = i + 1;
	*slot_by_rel(ns, rel, strlen(rel)) = i + 1;
}

/* Room for one more node (the load of the indexes stays at most a half). */
static int grow_nodes(struct cg_nodes *ns)
{
	size_t cap = ns->cap ? ns->cap * 2 : 64;
	struct cg_node *v = realloc(ns->v, cap * sizeof(*v));
	uint32_t *by_id = calloc(2 * cap, sizeof(*by_id));
	uint32_t *by_rel = calloc(2 * cap, sizeof(*by_rel));

	if (v)
		ns->v = v;
	if (!v || !by_id || !by_rel) {
		free(by_id);
		free(by_rel);
		return -ENOMEM;
	}
	free(ns->by_id);
	free(ns->by_rel);
	ns->by_id = by_id;
	ns->by_rel = by_rel;
	ns->cap = cap;
	for (size_t i = 0; i < ns->n; i++)
		index_node(ns, i);
	return 0;
}

static void free_nodes(struct cg_nodes *ns)
{
	free(ns->v);
	free(ns->by_id);
	free(ns->by_rel);
}

const char *tl_profile_name(const struct tl_policy *p, uint32_t id)
{
	if (p && id < p->nprofiles)
		return p->profiles[id].name;
	return "locked";
}

static uint32_t builtin_locked(const struct tl_policy *p)
{
	return p->nprofiles; /* validation keeps this below TL_MAX_PROFILES */
}

/* Profile of cgroups that no rule covers. */
static uint32_t default_profile(const struct tl_policy *p)
{
	return p->default_profile >= 0 ? (uint32_t)p->default_profile :
					 builtin_locked(p);
}

static int add_node(const char *rel, uint64_t id, void *arg)
{
	struct cg_nodes *ns = arg;
	struct cg_node *n;
	uint32_t *at;

	at = ns->cap ? slot_by_id(ns, id) : NULL;
	if (at && *at) {
		n = &ns->v[*at - 1];
		if (ns->rule >= 0 && n->rule < 0)
			n->rule = ns->rule;
		n->client |= ns->client;
		return 0;
	}
	if (ns->n >= TL_MAX_CGROUPS)
		return -E2BIG;
	if (ns->n == ns->cap && grow_nodes(ns))
		return -ENOMEM;
	n = &ns->v[ns->n];
	snprintf(n->rel, sizeof(n->rel), "%s", rel);
	n->id = id;
	n->rule = ns->rule;
	n->client = ns->client;
	index_node(ns, ns->n++);
	return 0;
}

static int collect_nodes(const struct tl_policy *p, const char *mount,
			 struct cg_nodes *ns)
{
	int err;

	for (size_t r = 0; r < p->ncgroups; r++) {
		size_t before = ns->n;

		ns->rule = r;
		ns->client = 0;
		err = tl_cgroup_glob(mount, p->cgroups[r].path, add_node, ns);
		if (err)
			return err;
		if (ns->n == before)
			log_info("%s: cgroup %s does not exist (yet)", p->file,
				 p->cgroups[r].path);
	}
	for (size_t t = 0; t < p->ntunnels; t++) {
		if (!p->tunnels[t].client_cgroup[0])
			continue;
		ns->rule = -1;
		ns->client = 1u << t;
		err = tl_cgroup_glob(mount, p->tunnels[t].client_cgroup,
				     add_node, ns);
		if (err)
			return err;
	}
	return 0;
}

/* The node of the path rel[0, len), the root's when len is 0. */
static const struct cg_node *node_at(const struct cg_nodes *ns,
				     const char *rel, size_t len)
{
	uint32_t i;

	if (!len) {
		rel = "/";
		len = 1;
	}
	i = *slot_by_rel(ns, rel, len);
	return i ? &ns->v[i - 1] : NULL;
}

/*
 * Nearest configured ancestor: the entry each node gets in the kernel, as
 * tl_cgroup_entry_for gives a cgroup that appears later. The node and its
 * ancestors, deepest first, by path: the deepest rule says whether it is
 * exempt, the deepest rule that is not exempt gives the profile, and every
 * VPN client's cgroup among them adds its tunnels.
 */
static struct tl_cgroup_entry node_entry(const struct tl_policy *p,
					 const struct cg_nodes *ns,
					 const struct cg_node *node)
{
	struct tl_cgroup_entry e = {.profile = default_profile(p)};
	bool flagged = false, profiled = false;
	size_t len = strlen(node->rel);
	const struct cg_node *a;

	for (;;) {
		a = node_at(ns, node->rel, len);
		if (a)
			e.client_of |= a->client;
		if (a && a->rule >= 0) {
			bool exempt = p->cgroups[a->rule].exempt;

			if (!flagged)
				e.flags = exempt ? TL_CGROUP_EXEMPT : 0;
			flagged = true;
			if (!profiled && !exempt)
				e.profile = p->cgroups[a->rule].profile;
			profiled |= !exempt;
		}
		if (!len || (len == 1 && node->rel[0] == '/'))
			break;
		/* the parent: up to the last '/' */
		while (len && node->rel[--len] != '/')
			;
	}
	return e;
}

/*
 * The tables of a policy slot: the outer map that holds each, the name
 * each fresh table gets, and how it is filled. The allow tables are never
 * written once in a slot, so a policy that would fill one as the live
 * slot's was filled shares that table (reusable).
 */
enum {
	TL_SLOT_CGROUPS,
	TL_SLOT_ALLOW,
	TL_SLOT_ENDPOINTS,
	TL_SLOT_ALLOW_EXACT,
	TL_SLOT_TABLES
};

struct table_fill;
static int fill_cgroups(struct table_fill *t);
static int fill_allow(struct table_fill *t);
static int fill_endpoints(struct table_fill *t);

static const struct {
	enum tl_map_id outer;
	const char *name;
	int (*fill)(struct table_fill *t); /* into t->fd, made */
	bool exact;	/* allow: the exact table's entries, or the trie's */
	/* an allow table: of the policy alone, so it may be the live slot's
	 * own (same entries), or made before the apply (tl_apply_ahead) */
	bool reusable;
} slot_tables[TL_SLOT_TABLES] = {
    [TL_SLOT_CGROUPS] = {.outer = TL_MAP_CGROUPS, .name = "tl_cgroup_tab",
			 .fill = fill_cgroups},
    [TL_SLOT_ALLOW] = {.outer = TL_MAP_ALLOW, .name = "tl_allow_tab",
		       .fill = fill_allow, .reusable = true},
    [TL_SLOT_ENDPOINTS] = {.outer = TL_MAP_ENDPOINTS, .name = "tl_endpoint_tab",
			   .fill = fill_endpoints},
    [TL_SLOT_ALLOW_EXACT] = {.outer = TL_MAP_ALLOW_EXACT,
			     .name = "tl_allow_exact_tab", .fill = fill_allow,
			     .exact = true, .reusable = true},
};

/* A fresh table of slot_tables[i], of the shape (type, key and value size,
 * entries, flags) that the BPF side declares for its outer map's values:
 * stated once, in bpf/; entries, when not 0, sizes it instead. */
static int create_inner(const struct tl_map_shape shapes[TL_MAP_COUNT], int i,
			__u32 entries)
{
	const struct tl_map_shape *sh = &shapes[slot_tables[i].outer];
	const char *name = slot_tables[i].name;
	LIBBPF_OPTS(bpf_map_create_opts, o);
	int fd;

	if (!sh->type) {
		log_error("creating map %s: its outer map has no inner map "
			  "definition",
			  name);
		return -ENOENT;
	}
	o.map_flags = sh->flags;
	fd = bpf_map_create(sh->type, name, sh->key_size, sh->value_size,
			    entries ?: sh->max_entries, &o);
	if (fd < 0)
		log_error("creating map %s: %s", name, strerror(errno));
	return fd < 0 ? -errno : fd;
}

#define ENOTSUPP 524 /* the kernel's, which errno.h does not name */

/*
 * n entries into a table in one syscall; a kernel without batch updates
 * for the table's type gets one call each.
 */
static int write_entries(int fd, const void *keys, size_t key_size,
			 const void *vals, size_t val_size, __u32 n)
{
	static bool said;
	__u32 done = n;
	int err;

	if (!n)
		return 0;
	err = bpf_map_update_batch(fd, keys, vals, &done, NULL);
	if ((err != -EOPNOTSUPP && err != -ENOTSUPP) || done)
		return err;
	/* tables fill side by side: said once */
	if (!__atomic_exchange_n(&said, true, __ATOMIC_RELAXED))
		log_info("this kernel has no batch updates for the policy "
			 "tables: one syscall per entry");
	for (__u32 i = 0; i < n; i++)
		if (bpf_map_update_elem(fd, (const char *)keys + i * key_size,
					(const char *)vals + i * val_size,
					BPF_ANY))
			return -errno;
	return 0;
}

/* A /32 or /128: the exact table's, asked before the trie. */
static bool cidr_exact(const struct tl_cidr *c)
{
	return c->prefixlen == (c->family == AF_INET ? 32 : 128);
}

/* The exact table's size: its entries, all allocated when it is made. */
static __u32 exact_entries(const struct tl_policy *p)
{
	__u32 n = 0;

	for (size_t i = 0; i < p->nprofiles; i++)
		for (size_t j = 0; j < p->profiles[i].nallow; j++)
			n += cidr_exact(&p->profiles[i].allow[j].cidr);
	return n ?: 1;
}

/* One table of a slot, made (or reused) and filled from the policy, as a
 * job (jobs.h). */
struct table_fill {
	int fd;
	int index; /* in slot_tables */
	struct tl_bpf *b; /* NULL: made ahead, with shapes and no live slot */
	const struct tl_map_shape *shapes; /* of the outer maps' values */
	const struct tl_policy *p;
	const char *mount;
	int live;	 /* the live slot, to reuse a table of; -1: none */
	uint64_t digest; /* a reusable table's entries (allow_digest) */
	bool reused;
	bool ahead; /* made before the apply (tl_apply_ahead) */
	struct tl_ahead *made_ahead; /* tables to take when they match, or NULL */
	size_t count;
};

static int fill_cgroups(struct table_fill *t)
{
	struct cg_nodes ns = {};
	int err;

	struct tl_cgroup_entry *vals = NULL;
	uint64_t *ids = NULL;

	err = collect_nodes(t->p, t->mount, &ns);
	if (!err && ns.n) {
		ids = malloc(ns.n * sizeof(*ids));
		vals = malloc(ns.n * sizeof(*vals));
		err = ids && vals ? 0 : -ENOMEM;
	}
	for (size_t i = 0; !err && i < ns.n; i++) {
		ids[i] = ns.v[i].id;
		vals[i] = node_entry(t->p, &ns, &ns.v[i]);
	}
	if (!err)
		err = write_entries(t->fd, ids, sizeof(*ids), vals,
				    sizeof(*vals), ns.n);
	t->count = ns.n;
	free(ids);
	free(vals);
	free_nodes(&ns);
	return err;
}

static void allow_key(struct tl_allow_key *k, uint32_t profile,
		      const struct tl_cidr *c)
{
	memset(k, 0, sizeof(*k));
	k->profile = profile;
	memcpy(k->addr, c->addr, 16);
	k->prefixlen = 32 + (c->family == AF_INET ? 96 : 0) + c->prefixlen;
}

static void allow_value(struct tl_allow_value *v,
			const struct tl_profile_cfg *pr,
			const struct tl_allow_rule *r)
{
	const struct tl_port_range *ports = tl_allow_ports(pr, r);

	memset(v, 0, sizeof(*v));
	if (r->nports) {
		v->count = r->nports;
		for (int i = 0; i < r->nports; i++) {
			v->ranges[i] = ports[i];
			v->ranges[i].protocol = r->protocol;
		}
	} else if (r->protocol) {
		v->count = 1;
		v->ranges[0].protocol = r->protocol;
	}
}

typedef int (*allow_fn)(void *ctx, const void *key,
			const struct tl_allow_value *v);

/*
 * The entries of the exact table, or of the trie, in the order they are
 * written: a later rule of the same key replaces an earlier one in either.
 * The same answer as one trie: a /32 or /128 is the longest prefix an
 * address can match.
 */
static int each_allow(const struct tl_policy *p, bool exact, allow_fn fn,
		      void *ctx, size_t *count)
{
	struct tl_allow_value v;
	struct tl_allow_key k;
	int err = 0;

	*count = 0;
	for (size_t i = 0; !err && i < p->nprofiles; i++) {
		const struct tl_profile_cfg *pr = &p->profiles[i];

		for (size_t j = 0; !err && j < pr->nallow; j++) {
			if (cidr_exact(&pr->allow[j].cidr) != exact)
				continue;
			allow_key(&k, i, &pr->allow[j].cidr);
			allow_value(&v, pr, &pr->allow[j]);
			/* tl_allow_exact_key is tl_allow_key from profile on */
			err = fn(ctx, exact ? (void *)&k.profile : (void *)&k,
				 &v);
			(*count)++;
		}
	}
	return err;
}

static size_t allow_key_size(bool exact)
{
	return exact ? sizeof(struct tl_allow_exact_key) :
		       sizeof(struct tl_allow_key);
}

static uint64_t digest_add(uint64_t h, const void *data, size_t len)
{
	const unsigned char *d = data;
	uint64_t w;

	for (size_t at = 0; at < len; at += sizeof(w)) {
		w = 0;
		memcpy(&w, d + at, len - at < sizeof(w) ? len - at : sizeof(w));
		h = (h ^ w) * 0x9e3779b97f4a7c15ull;
		h ^= h >> 29;
	}
	return h;
}

struct allow_digest {
	uint64_t h;
	size_t key_size;
};

static int digest_entry(void *ctx, const void *key,
			const struct tl_allow_value *v)
{
	struct allow_digest *d = ctx;

	d->h = digest_add(d->h, key, d->key_size);
	d->h = digest_add(d->h, v, sizeof(*v));
	return 0;
}

/* What an allow table would hold: a digest of its entries in the order
 * they are written, never 0 (not known). */
static uint64_t allow_digest(const struct tl_policy *p, bool exact,
			     size_t *count)
{
	struct allow_digest d = {0xcbf29ce484222325ull, allow_key_size(exact)};

	each_allow(p, exact, digest_entry, &d, count);
	d.h = digest_add(d.h, count, sizeof(*count));
	return d.h ?: 1;
}

/*
 * The live slot's table instead of a fresh one, when this agent filled it
 * with the entries t would write (both slots hold it then). Its id must
 * still be the one recorded: a table put there by anyone else is not it.
 */
static bool reuse_live(struct table_fill *t)
{
	enum tl_map_id outer = slot_tables[t->index].outer;
	const struct tl_table_record *r;
	__u32 id;

	if (t->live < 0)
		return false;
	r = &t->b->tables[t->live][outer];
	if (r->digest != t->digest ||
	    bpf_map_lookup_elem(tl_bpf_map_fd(t->b, outer), &t->live, &id) ||
	    id != r->id)
		return false;
	t->fd = bpf_map_get_fd_by_id(id);
	t->reused = t->fd >= 0;
	return t->reused;
}

/*
 * Allow entries are written ALLOW_BATCH at a time, one syscall a batch:
 * 100,000 rules took 100,000 syscalls.
 */
#define ALLOW_BATCH 1024

struct allow_batch {
	int fd;
	size_t key_size;
	__u32 n;
	uint8_t keys[ALLOW_BATCH * sizeof(struct tl_allow_key)];
	struct tl_allow_value vals[ALLOW_BATCH];
};

static int allow_flush(struct allow_batch *b)
{
	int err = write_entries(b->fd, b->keys, b->key_size, b->vals,
				sizeof(b->vals[0]), b->n);

	b->n = 0;
	return err;
}

static int allow_add(void *ctx, const void *key,
		     const struct tl_allow_value *v)
{
	struct allow_batch *b = ctx;

	memcpy(b->keys + b->n * b->key_size, key, b->key_size);
	b->vals[b->n++] = *v;
	return b->n == ALLOW_BATCH ? allow_flush(b) : 0;
}

/* Exact addresses into the hash, prefixes into the trie: a job each. */
static int fill_allow(struct table_fill *t)
{
	bool exact = slot_tables[t->index].exact;
	struct allow_batch *b = malloc(sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	b->fd = t->fd;
	b->key_size = allow_key_size(exact);
	b->n = 0;
	err = each_allow(t->p, exact, allow_add, b, &t->count);
	if (!err)
		err = allow_flush(b);
	free(b);
	return err;
}

static bool take_ahead(struct table_fill *t);

/* One table as a job: one made ahead or the live slot's, when it holds
 * the same entries, else a fresh one, filled. */
static int make_table(void *arg)
{
	struct table_fill *t = arg;
	int i = t->index;

	if (slot_tables[i].reusable) {
		t->digest = allow_digest(t->p, slot_tables[i].exact, &t->count);
		if (take_ahead(t) || reuse_live(t))
			return 0;
	}
	t->fd = create_inner(t->shapes, i,
			     slot_tables[i].exact ? exact_entries(t->p) : 0);
	return t->fd < 0 ? t->fd : slot_tables[i].fill(t);
}

static int fill_endpoints(struct table_fill *f)
{
	const struct tl_policy *p = f->p;

	f->count = 0;
	for (size_t t = 0; t < p->ntunnels; t++) {
		const struct tl_tunnel_cfg *tn = &p->tunnels[t];

		for (size_t i = 0; i < tn->nendpoints; i++) {
			struct tl_endpoint_key k = {};
			struct tl_endpoint_value v = { .tunnel = t };

			memcpy(k.addr, tn->endpoints[i].addr.addr, 16);
			if (tn->has_fwmark)
				v.fwmark = tn->fwmark;
			/* the address alone: reserved to VPN transport */
			if (bpf_map_update_elem(f->fd, &k, &v, BPF_ANY))
				return -errno;
			k.port = tn->endpoints[i].port;
			k.protocol = tn->endpoints[i].protocol;
			if (bpf_map_update_elem(f->fd, &k, &v, BPF_ANY))
				return -errno;
			f->count++;
		}
	}
	return 0;
}

/* The first fwmark-identified endpoints go inline (the fast path). */
static void fill_fast_endpoints(struct tl_settings *s, const struct tl_policy *p)
{
	for (size_t t = 0; t < p->ntunnels; t++) {
		const struct tl_tunnel_cfg *tn = &p->tunnels[t];

		for (size_t i = 0; tn->has_fwmark && i < tn->nendpoints; i++) {
			struct tl_fast_endpoint *e = &s->fast[s->nfast];

			if (s->nfast == TL_MAX_FAST_ENDPOINTS)
				return;
			memcpy(e->addr, tn->endpoints[i].addr.addr, 16);
			e->fwmark = tn->fwmark;
			e->port = tn->endpoints[i].port;
			e->protocol = tn->endpoints[i].protocol;
			s->nfast++;
		}
	}
}

/* events: {rate, burst} as the kernel's GCRA takes it (bpf/ratelimit.h). */
static void fill_event_limit(struct tl_event_limit *l, const struct tl_policy *p)
{
	l->interval_ns = p->event_rate ? 1000000000ull / p->event_rate : 0;
	l->tolerance_ns = l->interval_ns * (p->event_burst ? p->event_burst - 1 : 0);
}

/* The DNS ports and every tunnel's resolvers, in policy order (the order
 * in which a redirect picks one). Validation keeps both within bounds. */
static void fill_dns(struct tl_settings *s, const struct tl_policy *p)
{
	for (size_t i = 0; i < p->ndns_ports && i < TL_MAX_DNS_PORTS; i++)
		s->dns_ports[s->ndns_ports++] = p->dns_ports[i];
	for (size_t t = 0; t < p->ntunnels; t++) {
		const struct tl_tunnel_cfg *tn = &p->tunnels[t];

		for (size_t i = 0; i < tn->nresolvers; i++) {
			struct tl_resolver *r = &s->resolvers[s->nresolvers];

			if (s->nresolvers == TL_MAX_RESOLVERS)
				return;
			memcpy(r->addr, tn->resolvers[i].addr, 16);
			r->tunnel = t;
			s->nresolvers++;
		}
	}
}

/* Block is no flag: a profile the kernel does not know blocks DNS. */
static __u32 profile_flags(const struct tl_profile_cfg *pr)
{
	__u32 f = pr->lan ? TL_PROFILE_LAN : 0;

	if (pr->ipv6_block)
		f |= TL_PROFILE_IPV6_BLOCK;
	if (pr->raw_allow)
		f |= TL_PROFILE_RAW_ALLOW;
	if (pr->dns == TL_DNS_MODE_REDIRECT)
		f |= TL_PROFILE_DNS_REDIRECT;
	else if (pr->dns == TL_DNS_MODE_ORDINARY)
		f |= TL_PROFILE_DNS_ORDINARY;
	for (size_t j = 0; j < pr->nallow; j++)
		f |= cidr_exact(&pr->allow[j].cidr) ? TL_PROFILE_ALLOW_EXACT :
						       TL_PROFILE_ALLOW_PREFIX;
	return f;
}

static void fill_settings(struct tl_settings *s, const struct tl_policy *p,
			  uint32_t generation, uint64_t attach_id)
{
	memset(s, 0, sizeof(*s));
	s->generation = generation;
	s->mode = p->mode;
	s->flags = p->no_socket_allow ? TL_SETTINGS_NO_SOCKET_ALLOW : 0;
	s->default_profile = default_profile(p);
	s->attach_cgroup_id = attach_id;
	s->attach_cgroup_level = tl_cgroup_level(p->attach_cgroup);
	fill_fast_endpoints(s, p);
	fill_event_limit(&s->events, p);
	fill_dns(s, p);
	s->container_mark = p->container_mark;
	s->container_shift = p->container_mark ?
				     __builtin_ctz(p->container_mark) : 0;
	for (size_t i = 0; i < p->nprofiles && i < TL_MAX_PROFILES; i++) {
		s->profiles[i].flags = profile_flags(&p->profiles[i]);
		if (p->profiles[i].ipv6_block)
			s->flags |= TL_SETTINGS_IPV6_BLOCK;
		snprintf(s->profiles[i].name, TL_NAME_LEN, "%s",
			 p->profiles[i].name);
	}
	if (builtin_locked(p) < TL_MAX_PROFILES)
		snprintf(s->profiles[builtin_locked(p)].name, TL_NAME_LEN,
			 "locked");
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void close_tables(struct table_fill t[TL_SLOT_TABLES])
{
	for (int i = 0; i < TL_SLOT_TABLES; i++)
		if (t[i].fd >= 0)
			close(t[i].fd);
}

/* Allow tables made before their apply (apply.h). */
struct tl_ahead {
	struct tl_map_shape shapes[TL_MAP_COUNT];
	struct table_fill t[TL_SLOT_TABLES]; /* fd -1: not made, or taken */
};

/*
 * The table made ahead in t's place, when its entries are the ones t
 * would write (the same digest, as for the live slot's): a table made for
 * another policy, or for this one before it changed, is not taken.
 */
static bool take_ahead(struct table_fill *t)
{
	struct table_fill *a =
	    t->made_ahead ? &t->made_ahead->t[t->index] : NULL;

	if (!a || a->fd < 0 || a->digest != t->digest)
		return false;
	t->fd = a->fd;
	a->fd = -1; /* the slot will hold it */
	t->ahead = true;
	return true;
}

struct tl_ahead *tl_apply_ahead(const struct tl_policy *p)
{
	struct tl_ahead *a = calloc(1, sizeof(*a));
	struct tl_job jobs[TL_SLOT_TABLES];
	size_t n = 0;

	if (!a)
		return NULL;
	for (int i = 0; i < TL_SLOT_TABLES; i++) {
		a->t[i] = (struct table_fill){.fd = -1, .index = i,
					      .shapes = a->shapes, .p = p,
					      .live = -1};
		if (slot_tables[i].reusable)
			jobs[n++] = (struct tl_job){.run = make_table,
						    .arg = &a->t[i]};
	}
	if (tl_bpf_read_shapes(a->shapes) || tl_jobs_run(jobs, n)) {
		tl_apply_ahead_free(a);
		return NULL;
	}
	return a;
}

void tl_apply_ahead_free(struct tl_ahead *a)
{
	if (!a)
		return;
	close_tables(a->t);
	free(a);
}

/*
 * Builds the tables of a slot, filling them side by side (a large policy's
 * cgroup walk, trie and hash each take their own CPU); closes what it
 * made on failure. live: the live slot, or -1; ahead: tables made ahead,
 * or NULL.
 */
static int build_tables(struct tl_bpf *b, const struct tl_policy *p,
			const char *mount, int live, struct tl_ahead *ahead,
			struct table_fill t[TL_SLOT_TABLES])
{
	struct tl_job jobs[TL_SLOT_TABLES];
	int err;

	for (int i = 0; i < TL_SLOT_TABLES; i++) {
		t[i] = (struct table_fill){
		    .fd = -1, .index = i, .b = b, .shapes = b->inner, .p = p,
		    .mount = mount, .live = live, .made_ahead = ahead};
		jobs[i] = (struct tl_job){.run = make_table, .arg = &t[i]};
	}
	err = tl_jobs_run(jobs, TL_SLOT_TABLES);
	if (err) {
		log_error("filling the policy tables: %s", strerror(-err));
		close_tables(t);
	}
	return err;
}

/* What the slot holds now, for the next apply to reuse (0: not known). */
static void record_tables(struct tl_bpf *b, __u32 slot,
			  const struct table_fill t[TL_SLOT_TABLES])
{
	for (int i = 0; i < TL_SLOT_TABLES; i++) {
		struct tl_table_record *r =
		    &b->tables[slot][slot_tables[i].outer];
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);

		*r = (struct tl_table_record){};
		if (t[i].digest &&
		    !bpf_obj_get_info_by_fd(t[i].fd, &info, &len))
			*r = (struct tl_table_record){t[i].digest, info.id};
	}
}

/* One table into its outer map's slot. */
struct slot_install {
	int outer_fd, table_fd;
	__u32 slot;
};

static int install_table(void *arg)
{
	struct slot_install *t = arg;

	return bpf_map_update_elem(t->outer_fd, &t->slot, &t->table_fd,
				   BPF_ANY) ?
		   -errno :
		   0;
}

/*
 * The tables into their outer maps, side by side: the kernel waits out an
 * RCU grace period after each write of a map of maps (10-16 ms), and waits
 * begun together end together.
 */
static int install_tables(struct tl_bpf *b, __u32 slot,
			  const struct table_fill fills[TL_SLOT_TABLES])
{
	struct slot_install t[TL_SLOT_TABLES];
	struct tl_job jobs[TL_SLOT_TABLES];

	for (int i = 0; i < TL_SLOT_TABLES; i++) {
		t[i] = (struct slot_install){
		    .outer_fd = tl_bpf_map_fd(b, slot_tables[i].outer),
		    .table_fd = fills[i].fd,
		    .slot = slot,
		};
		jobs[i] = (struct tl_job){.run = install_table, .arg = &t[i]};
	}
	return tl_jobs_run(jobs, TL_SLOT_TABLES);
}

int tl_apply_policy(struct tl_bpf *b, const struct tl_policy *p,
		    const char *mount, struct tl_applied *out)
{
	return tl_apply_policy_ahead(b, p, mount, NULL, out);
}

int tl_apply_policy_ahead(struct tl_bpf *b, const struct tl_policy *p,
			  const char *mount, struct tl_ahead *ahead,
			  struct tl_applied *out)
{
	struct tl_settings settings;
	struct tl_state state = {};
	uint64_t attach_id;
	struct table_fill t[TL_SLOT_TABLES];
	__u32 zero = 0;
	int err = 0, state_fd;

	memset(out, 0, sizeof(*out));
	if (p->allow_dropped) {
		/* it would apply without its allow rules: refuse, loudly */
		log_error("%s: the allow rules of this policy were freed after "
			  "it was applied; load it again to apply it",
			  p->file);
		return -EINVAL;
	}
	state_fd = tl_bpf_map_fd(b, TL_MAP_STATE);
	if (tl_cgroup_id(mount, p->attach_cgroup, &attach_id)) {
		log_error("%s: attach_cgroup %s does not exist under %s",
			  p->file, p->attach_cgroup, mount);
		return -ENOENT;
	}
	if (bpf_map_lookup_elem(state_fd, &zero, &state))
		return -errno;
	if (!tl_layout_known(&state)) {
		tl_layout_refused(b->pin_dir, state.layout_version);
		return -EPROTO;
	}
	if (build_tables(b, p, mount,
			 state.layout_version ? (int)state.active_slot : -1,
			 ahead, t))
		return -EINVAL;

	out->slot = state.layout_version ? state.active_slot ^ 1 : 0;
	out->generation = state.generation + 1;
	out->attach_cgroup_id = attach_id;
	out->cgroups = t[TL_SLOT_CGROUPS].count;
	out->allow_entries =
	    t[TL_SLOT_ALLOW].count + t[TL_SLOT_ALLOW_EXACT].count;
	out->endpoints = t[TL_SLOT_ENDPOINTS].count;
	out->reused = t[TL_SLOT_ALLOW].reused + t[TL_SLOT_ALLOW_EXACT].reused;
	out->ahead = t[TL_SLOT_ALLOW].ahead + t[TL_SLOT_ALLOW_EXACT].ahead;
	fill_settings(&settings, p, out->generation, attach_id);
	err = install_tables(b, out->slot, t);
	/* what the slot holds, or nothing known when it may be half written */
	if (!err)
		record_tables(b, out->slot, t);
	else
		memset(b->tables[out->slot], 0, sizeof(b->tables[out->slot]));
	if (!err && bpf_map_update_elem(tl_bpf_map_fd(b, TL_MAP_SETTINGS),
					&out->slot, &settings, BPF_ANY))
		err = -errno;
	close_tables(t); /* the outer maps hold them now */
	if (err) {
		log_error("installing the policy: %s", strerror(-err));
		return err;
	}

	/* The switch: one write of the live slot. */
	state.active_slot = out->slot;
	state.layout_version = TL_LAYOUT_VERSION;
	state.generation = out->generation;
	state.mode = p->mode;
	state.applied_ns = realtime_ns();
	snprintf(state.attach_cgroup, sizeof(state.attach_cgroup), "%s",
		 p->attach_cgroup);
	if (bpf_map_update_elem(state_fd, &zero, &state, BPF_ANY)) {
		log_error("switching to the new policy: %s", strerror(errno));
		return -errno;
	}
	return tl_bump_subjects(b);
}

/* What a cgroup resolves to decides verdicts too: subjects bumps both. */
static int bump_generation(struct tl_bpf *b, bool subjects)
{
	int fd = tl_bpf_map_fd(b, TL_MAP_GENERATION);
	struct tl_generation g;
	__u32 zero = 0;
	int err;

	if (!bpf_map_lookup_elem(fd, &zero, &g)) {
		g.subjects += subjects;
		g.verdicts++;
		if (!bpf_map_update_elem(fd, &zero, &g, BPF_ANY))
			return 0;
	}
	err = -errno;
	log_error("invalidating the cached %s (tl_generation): %s",
		  subjects ? "cgroup entries and verdicts" : "verdicts",
		  strerror(-err));
	return err;
}

int tl_bump_subjects(struct tl_bpf *b)
{
	return bump_generation(b, true);
}

int tl_bump_verdicts(struct tl_bpf *b)
{
	return bump_generation(b, false);
}

int tl_iface_put(struct tl_bpf *b, __u32 ifindex, const struct tl_iface *v)
{
	if (bpf_map_update_elem(tl_bpf_map_fd(b, TL_MAP_IFACES), &ifindex, v,
				BPF_ANY))
		return -errno;
	if (ifindex < TL_IFACE_SLOTS &&
	    bpf_map_update_elem(tl_bpf_map_fd(b, TL_MAP_IFACE_SLOTS), &ifindex,
				v, BPF_ANY))
		return -errno;
	return 0;
}

int tl_iface_del(struct tl_bpf *b, __u32 ifindex)
{
	static const struct tl_iface none;

	if (ifindex < TL_IFACE_SLOTS &&
	    bpf_map_update_elem(tl_bpf_map_fd(b, TL_MAP_IFACE_SLOTS), &ifindex,
				&none, BPF_ANY))
		return -errno;
	if (bpf_map_delete_elem(tl_bpf_map_fd(b, TL_MAP_IFACES), &ifindex) &&
	    errno != ENOENT)
		return -errno;
	return 0;
}

/* The slots whose flags are set: an earlier agent's, which its tl_ifaces
 * entry may no longer name (a crash between the two writes). */
static int prune_iface_slots(struct tl_bpf *b,
			     bool (*keep)(void *ctx, __u32 ifindex), void *ctx)
{
	__u32 count = TL_IFACE_SLOTS, batch, *keys;
	struct tl_iface *vals;
	int n = 0, err;

	keys = calloc(TL_IFACE_SLOTS, sizeof(*keys));
	vals = calloc(TL_IFACE_SLOTS, sizeof(*vals));
	err = keys && vals ? 0 : -ENOMEM;
	if (!err && bpf_map_lookup_batch(tl_bpf_map_fd(b, TL_MAP_IFACE_SLOTS),
					 NULL, &batch, keys, vals, &count,
					 NULL) &&
	    errno != ENOENT)
		err = -errno;
	for (__u32 i = 0; !err && i < count; i++) {
		if (!vals[i].flags || keep(ctx, keys[i]))
			continue;
		err = tl_iface_del(b, keys[i]);
		n++;
	}
	free(keys);
	free(vals);
	return err ? err : n;
}

int tl_iface_prune(struct tl_bpf *b, bool (*keep)(void *ctx, __u32 ifindex),
		   void *ctx)
{
	int fd = tl_bpf_map_fd(b, TL_MAP_IFACES), err;
	__u32 key, next, *prev = NULL;
	__u32 stale[TL_MAX_IFACES];
	size_t nstale = 0;

	while (!bpf_map_get_next_key(fd, prev, &next) &&
	       nstale < TL_MAX_IFACES) {
		if (!keep(ctx, next))
			stale[nstale++] = next;
		key = next;
		prev = &key;
	}
	for (size_t i = 0; i < nstale; i++) {
		err = tl_iface_del(b, stale[i]);
		if (err)
			return err;
	}
	err = prune_iface_slots(b, keep, ctx);
	return err < 0 ? err : (int)nstale + err;
}

uint32_t tl_applied_generation(struct tl_bpf *b)
{
	struct tl_state st;
	__u32 zero = 0;

	if (bpf_map_lookup_elem(tl_bpf_map_fd(b, TL_MAP_STATE), &zero, &st))
		return 0;
	return st.generation;
}

/* The rule of the cgroup rel itself: the first in file order, or -1. */
static int rule_at(const struct tl_policy *p, const char *rel)
{
	for (size_t r = 0; r < p->ncgroups; r++)
		if (tl_cgroup_match(p->cgroups[r].path, rel))
			return (int)r;
	return -1;
}

static uint32_t clients_at(const struct tl_policy *p, const char *rel)
{
	uint32_t client = 0;

	for (size_t t = 0; t < p->ntunnels; t++)
		if (p->tunnels[t].client_cgroup[0] &&
		    tl_cgroup_match(p->tunnels[t].client_cgroup, rel))
			client |= 1u << t;
	return client;
}

int tl_cgroup_entry_for(const struct tl_policy *p, const char *rel,
			struct tl_cgroup_entry *e)
{
	char prefix[TL_GLOB_MAX];
	size_t len = strlen(rel);
	int rule, own = 0;

	if (len >= sizeof(prefix))
		return -ENAMETOOLONG;
	memset(e, 0, sizeof(*e));
	e->profile = default_profile(p);
	/* "/", then every ancestor down to rel: a deeper rule overrides */
	for (size_t end = strcmp(rel, "/") ? 0 : len; end <= len; end++) {
		if (end && end < len && rel[end] != '/')
			continue;
		snprintf(prefix, sizeof(prefix), "%.*s", end ? (int)end : 1,
			 rel);
		rule = rule_at(p, prefix);
		e->client_of |= clients_at(p, prefix);
		if (end == len)
			own = rule >= 0 || clients_at(p, prefix);
		if (rule < 0)
			continue;
		e->flags = p->cgroups[rule].exempt ? TL_CGROUP_EXEMPT : 0;
		if (!p->cgroups[rule].exempt)
			e->profile = p->cgroups[rule].profile;
	}
	return own;
}

/* The cgroup table of the live slot. */
static int live_table(int state_fd, int cgroups_fd)
{
	struct tl_state state;
	__u32 zero = 0, id;
	int fd;

	if (bpf_map_lookup_elem(state_fd, &zero, &state))
		return -errno;
	if (bpf_map_lookup_elem(cgroups_fd, &state.active_slot, &id))
		return -errno;
	fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

static int live_cgroup_table(struct tl_bpf *b)
{
	return live_table(tl_bpf_map_fd(b, TL_MAP_STATE),
			  tl_bpf_map_fd(b, TL_MAP_CGROUPS));
}

/* The entry rel gets from its nearest ancestor's (the parent's policy). */
static int parent_entry(const struct tl_policy *p, const char *rel,
			struct tl_cgroup_entry *e)
{
	char parent[TL_GLOB_MAX];
	const char *slash = strrchr(rel, '/');

	if (!slash || slash == rel)
		snprintf(parent, sizeof(parent), "/");
	else
		snprintf(parent, sizeof(parent), "%.*s", (int)(slash - rel),
			 rel);
	return tl_cgroup_entry_for(p, parent, e) < 0 ? -1 : 0;
}

int tl_apply_cgroup(struct tl_bpf *b, const struct tl_policy *p,
		    const char *rel, uint64_t id)
{
	struct tl_cgroup_entry e, pe;
	int fd, own, err = 0;

	own = tl_cgroup_entry_for(p, rel, &e);
	if (own <= 0)
		return own; /* its ancestor's entry covers it */
	/* the same as the ancestor's: nothing to write, no room taken */
	if (strcmp(rel, "/") && !parent_entry(p, rel, &pe) &&
	    !memcmp(&e, &pe, sizeof(e)))
		return 0;
	fd = live_cgroup_table(b);
	if (fd < 0)
		return fd;
	if (bpf_map_update_elem(fd, &id, &e, BPF_ANY))
		err = -errno;
	close(fd);
	if (!err)
		err = tl_bump_subjects(b);
	return err ? err : 1;
}

int tl_apply_cgroup_sweep(struct tl_bpf *b, const char *mount)
{
	uint64_t key, next, *prev = NULL;
	int fd = live_cgroup_table(b), n = 0;

	if (fd < 0)
		return fd;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		/* unknown (no handles): kept */
		if (!tl_cgroup_exists(mount, next) &&
		    !bpf_map_delete_elem(fd, &next)) {
			n++;
			continue; /* the next key after a deleted one: again */
		}
		key = next;
		prev = &key;
	}
	close(fd);
	if (n && tl_bump_subjects(b))
		return -EIO;
	return n;
}

int tl_cgroup_table_use(int state_fd, int cgroups_fd, uint32_t *used,
			uint32_t *max)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	uint64_t key, next, *prev = NULL;
	int fd = live_table(state_fd, cgroups_fd);

	if (fd < 0)
		return fd;
	*used = 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		*max = info.max_entries;
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		(*used)++;
		key = next;
		prev = &key;
	}
	close(fd);
	return 0;
}

int tl_apply_cgroup_gone(struct tl_bpf *b, uint64_t id)
{
	int fd = live_cgroup_table(b);

	if (fd < 0)
		return fd;
	/* absent when no rule named it: then nothing resolved to it */
	if (bpf_map_delete_elem(fd, &id)) {
		close(fd);
		return 0;
	}
	close(fd);
	return tl_bump_subjects(b);
}
