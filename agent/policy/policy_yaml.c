// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The policy as a document of compact nodes, composed from parser events
 * (the limits on size, depth, nodes, tags and NULs are judged as they
 * come), libyaml's or the plain reader's (policy_plain.c), and the helpers
 * that the section readers walk it with.
 */
#define _GNU_SOURCE /* mremap */
#include <string.h>
#include <sys/mman.h>

#include "policy_int.h"

/* libyaml's cost grows with the square of the nesting; a policy needs 6. */
#define MAX_DEPTH 64
/*
 * Reading visits every node once; aliases may repeat nodes (one allow list
 * shared by profiles) up to what the tables can hold, and no further.
 */
#define ALIAS_VISITS 2500000

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif

void populate(void *p, size_t len)
{
	uintptr_t a = ((uintptr_t)p + 4095) & ~(uintptr_t)4095;
	uintptr_t e = ((uintptr_t)p + len) & ~(uintptr_t)4095;

	if (e > a)
		madvise((void *)a, e - a, MADV_POPULATE_WRITE);
}

/* Bump allocation for the composed document: freed all at once. */
struct chunk {
	struct chunk *next;
	size_t used, size;
	max_align_t data[];
};

/* ---- nodes ---- */

/*
 * The tags a policy may carry, as the reader honours them: each says what
 * the node is anyway, so the document keeps none.
 */
static yaml_char_t tag_str[] = YAML_STR_TAG;
static yaml_char_t tag_int[] = YAML_INT_TAG;
static yaml_char_t tag_bool[] = YAML_BOOL_TAG;
static yaml_char_t tag_seq[] = YAML_SEQ_TAG;
static yaml_char_t tag_map[] = YAML_MAP_TAG;

bool is_null(const struct ynode *n)
{
	const char *s = text(n);

	if (n->type != YAML_SCALAR_NODE || n->style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") ||
	       !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *kind(const struct ynode *n)
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

static bool has_type(const struct ynode *n, enum vtype t)
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
static bool visit(struct ctx *c, const struct ynode *n)
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

bool want(struct ctx *c, const struct ynode *n, enum vtype t)
{
	if (!visit(c, n))
		return false;
	/* a NUL cuts the value short in C: reported where it was read */
	if (n->nul)
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

/* Through get_keys(), which asserts that nkeys fits knodes[]. */
bool get_keys_n(struct ctx *c, const struct ynode *map, const struct key *keys,
		size_t nkeys, struct ynode **vals)
{
	struct ynode *knodes[MAX_KEYS] = {0};
	const yaml_node_pair_t *pair;
	bool ok = true;
	size_t i;

	memset(vals, 0, nkeys * sizeof(*vals));
	for (pair = map->pairs; pair < map->pairs + map->len; pair++) {
		struct ynode *k = node(c, pair->key);
		struct ynode *v = node(c, pair->value);
		size_t saved;

		if (!visit(c, k))
			return false;
		if (k->nul)
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

void read_list(struct ctx *c, const struct ynode *n, size_t len, enum vtype t,
	       read_item_fn *item, void *arg)
{
	for (size_t i = 0; i < len; i++) {
		struct ynode *v = seq_item(c, n, i);
		size_t saved = push_index(c, i);

		if (want(c, v, t))
			item(c, v, i, arg);
		pop(c, saved);
	}
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

/* ---- composing the document ---- */

/*
 * The document is built here from libyaml's events, not by its loader:
 * depth, size, tags, NULs and aliases are judged as they come, so a hostile
 * file stops early, and the nodes (struct ynode) take a quarter of the
 * loader's memory.
 */

/* size bytes aligned to align (a power of two) */
static void *arena_alloc(struct ctx *c, size_t size, size_t align)
{
	struct chunk *k = c->arena;
	size_t at = k ? (k->used + align - 1) & ~(align - 1) : 0;

	if (!k || at > k->size || k->size - at < size) {
		/* from 64 KiB, doubling to 1 MiB: small files stay small */
		size_t cap = !k			  ? 1u << 16
			     : k->size < 1u << 20 ? 2 * k->size
						  : 1u << 20;

		if (cap < size)
			cap = size;
		k = malloc(sizeof(*k) + cap);
		if (!k) {
			c->oom = true;
			return NULL;
		}
		populate(k->data, cap);
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
	struct ydoc *doc;
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

/* Is the tag of a node as written (NULL or "!" when none) one the reader
 * honours? Says so when it is not. */
static bool check_tag(struct composer *cp, const char *tag,
		      yaml_node_type_t type, const char *value,
		      yaml_mark_t mark)
{
	struct ctx *c = cp->c;
	bool ok, is_int;
	uint64_t v;

	if (!tag || !strcmp(tag, "!"))
		return true;
	switch (type) {
	case YAML_SEQUENCE_NODE:
		ok = !strcmp(tag, (char *)tag_seq);
		break;
	case YAML_MAPPING_NODE:
		ok = !strcmp(tag, (char *)tag_map);
		break;
	default:
		if (!strcmp(tag, (char *)tag_str))
			return true;
		is_int = !strcmp(tag, (char *)tag_int);
		if (is_int || !strcmp(tag, (char *)tag_bool)) {
			if (is_int ? !tl_parse_uint(value, true, UINT64_MAX, &v)
				   : bool_of(value) >= 0)
				return true;
			error_at(c, mark_loc(mark),
				 "tag '!!%s' on '%s', which is not %s",
				 is_int ? "int" : "bool", shown(c, value),
				 is_int ? "an integer (decimal, or 0x hex)"
					: "true or false");
			return false;
		}
		ok = false;
	}
	if (ok)
		return true;
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
	return false;
}

/*
 * The node array, in pages of its own that grow in place where they can:
 * large ones in huge pages, since a big file's nodes cost more in page
 * faults than in anything else.
 */
static struct ynode *grow_nodes(struct ynode *old, size_t oldcap,
				size_t cap)
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
	populate((char *)p + oldcap * sizeof(*old),
		 (cap - oldcap) * sizeof(*old));
	return p;
}

/* A new node, the child of the innermost open collection. */
static int add_node(struct composer *cp, yaml_node_type_t type,
		    yaml_mark_t start)
{
	struct ydoc *d = cp->doc;
	struct ctx *c = cp->c;
	struct ynode *n;

	if (d->n == MAX_NODES) {
		stop_at(c, mark_loc(start),
			"more than %d YAML nodes (values, lists, "
			"mappings), the most a policy may have",
			MAX_NODES);
		return 0;
	}
	if (d->n == d->cap) {
		size_t cap = d->cap ? 2 * d->cap : 1024;

		if (cap > MAX_NODES)
			cap = MAX_NODES;
		n = grow_nodes(d->nodes, d->cap, cap);
		if (!n) {
			c->oom = true;
			return 0;
		}
		d->nodes = n;
		d->cap = cap;
	}
	n = &d->nodes[d->n++];
	*n = (struct ynode){.loc = mark_loc(start), .type = type};
	return (int)d->n;
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
	int id;

	if (cp->depth == MAX_DEPTH) {
		stop_at(cp->c, mark_loc(e->start_mark),
			"nested deeper than %d levels", MAX_DEPTH);
		return false;
	}
	/* a tag it does not honour is reported; the node is read anyway */
	check_tag(cp,
		  (char *)(seq ? e->data.sequence_start.tag
			       : e->data.mapping_start.tag),
		  seq ? YAML_SEQUENCE_NODE : YAML_MAPPING_NODE, NULL,
		  e->start_mark);
	id = add_node(cp, seq ? YAML_SEQUENCE_NODE : YAML_MAPPING_NODE,
		      e->start_mark);
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
	struct ynode *n;
	size_t first, nk;
	int *items;

	if (!cp->depth)
		return false; /* libyaml balances them */
	cp->depth--;
	n = node(cp->c, cp->open[cp->depth].id);
	first = cp->open[cp->depth].first;
	nk = cp->nkids - first;
	(void)e;
	if (n->type == YAML_SEQUENCE_NODE) {
		items = arena_alloc(cp->c, nk * sizeof(int), sizeof(int));
		if (!items)
			return false;
		if (nk)
			memcpy(items, cp->kids + first, nk * sizeof(int));
		n->items = items;
		n->len = (uint32_t)nk;
	} else {
		yaml_node_pair_t *pairs =
		    arena_alloc(cp->c, nk / 2 * sizeof(*pairs), sizeof(int));

		if (!pairs)
			return false;
		for (size_t i = 0; i + 1 < nk; i += 2)
			pairs[i / 2] = (yaml_node_pair_t){
			    cp->kids[first + i], cp->kids[first + i + 1]};
		n->pairs = pairs;
		n->len = (uint32_t)(nk / 2);
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
	struct ynode *n;
	bool nul = false;
	char *copy;
	int id;

	/* reported when not honoured; the value is read anyway */
	check_tag(cp, (char *)e->data.scalar.tag, YAML_SCALAR_NODE, value,
		  e->start_mark);
	if (memchr(value, '\0', len)) {
		error_at(c, mark_loc(e->start_mark),
			 "a key or value must not hold a NUL character");
		nul = true; /* reported here: no reader takes it */
	}
	id = add_node(cp, YAML_SCALAR_NODE, e->start_mark);
	copy = id ? arena_alloc(c, len + 1, 1) : NULL;
	if (!copy)
		return false;
	memcpy(copy, value, len); /* the plain reader's are not terminated */
	copy[len] = '\0';
	n = node(c, id);
	n->value = copy;
	n->len = (uint32_t)len;
	n->style = (uint8_t)e->data.scalar.style;
	n->nul = nul;
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

bool compose_event(struct composer *cp, const yaml_event_t *e)
{
	switch (e->type) {
	case YAML_SEQUENCE_START_EVENT:
	case YAML_MAPPING_START_EVENT:
		return open_node(cp, e);
	case YAML_SEQUENCE_END_EVENT:
	case YAML_MAPPING_END_EVENT:
		return close_node(cp, e);
	case YAML_SCALAR_EVENT:
		return add_scalar(cp, e);
	case YAML_ALIAS_EVENT:
		return add_alias(cp, e);
	default:
		return true;
	}
}

/* The document from libyaml's events, the first of the stream (a second
 * is an error). */
static bool compose_libyaml(struct composer *cp, yaml_parser_t *ps,
			    const char *buf, size_t len)
{
	struct ctx *c = cp->c;
	bool ok = true, done = false;
	int docs = 0;

	while (ok && !done) {
		yaml_event_t e;

		if (!yaml_parser_parse(ps, &e)) {
			syntax_error(c, ps, buf, len);
			return false;
		}
		if (e.type == YAML_DOCUMENT_START_EVENT && ++docs > 1) {
			error_at(c, mark_loc(e.start_mark),
				 "a policy is one YAML document; found another");
			done = true;
		}
		done |= e.type == YAML_STREAM_END_EVENT;
		ok = compose_event(cp, &e);
		yaml_event_delete(&e);
	}
	return ok;
}

/* What the plain reader composed before it declined, thrown away. */
static void compose_reset(struct composer *cp)
{
	free_document(cp->c);
	cp->depth = 0;
	cp->nkids = 0;
}

bool compose_by(struct ctx *c, yaml_parser_t *ps, const char *buf, size_t len,
		enum yaml_reader by)
{
	struct composer cp = {.c = c, .doc = &c->doc};
	int plain = by == READ_LIBYAML ? 0 : plain_compose(&cp, c, buf, len);
	bool ok = plain > 0;

	if (!plain) {
		compose_reset(&cp);
		if (by != READ_PLAIN)
			ok = compose_libyaml(&cp, ps, buf, len);
	}
	free(cp.kids);
	free(cp.anchors);
	/* every node once, and what aliases may add */
	c->max_visits = c->doc.n + ALIAS_VISITS;
	return ok && !c->oom;
}

bool compose(struct ctx *c, yaml_parser_t *ps, const char *buf, size_t len)
{
	return compose_by(c, ps, buf, len, READ_ANY);
}

void free_document(struct ctx *c)
{
	while (c->arena) {
		struct chunk *k = c->arena;

		c->arena = k->next;
		free(k);
	}
	if (c->doc.nodes)
		munmap(c->doc.nodes, c->doc.cap * sizeof(struct ynode));
	memset(&c->doc, 0, sizeof(c->doc));
}
