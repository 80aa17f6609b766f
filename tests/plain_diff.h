/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The plain reader against libyaml (agent/policy/policy_plain.c): a file
 * the plain reader takes must compose, node for node, the document that
 * libyaml's events compose, and libyaml must read it without an error.
 * Used by the unit tier (test_policy) and the fuzz tier (fuzz_policy).
 */
#ifndef TUNLOCK_TESTS_PLAIN_DIFF_H
#define TUNLOCK_TESTS_PLAIN_DIFF_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* The document of buf by one reader into c: compose_by's answer. */
static bool plain_diff_compose(struct ctx *c, const char *buf, size_t len,
			       enum yaml_reader by)
{
	yaml_parser_t ps;
	bool ok;

	memset(c, 0, sizeof(*c));
	c->file = "t.yaml";
	if (!yaml_parser_initialize(&ps))
		return false;
	yaml_parser_set_input_string(&ps, (const unsigned char *)buf, len);
	ok = compose_by(c, &ps, buf, len, by);
	yaml_parser_delete(&ps);
	return ok;
}

static void plain_diff_free(struct ctx *c)
{
	free_document(c);
	flush_diags(c, NULL);
}

/* Where two composed documents first differ, into why; false if nowhere. */
static bool plain_diff_nodes(const struct ydoc *a, const struct ydoc *b,
			     char *why, size_t whylen)
{
	if (a->n != b->n) {
		snprintf(why, whylen, "%zu nodes, libyaml %zu", a->n, b->n);
		return true;
	}
	for (size_t i = 0; i < a->n; i++) {
		const struct ynode *x = &a->nodes[i], *y = &b->nodes[i];
		size_t bytes = x->type == YAML_SCALAR_NODE     ? x->len
			       : x->type == YAML_SEQUENCE_NODE ? x->len * sizeof(int)
							       : x->len * sizeof(yaml_node_pair_t);
		const void *px = x->type == YAML_SCALAR_NODE ? (const void *)x->value
			       : x->type == YAML_SEQUENCE_NODE
				   ? (const void *)x->items
				   : (const void *)x->pairs;
		const void *py = y->type == YAML_SCALAR_NODE ? (const void *)y->value
			       : y->type == YAML_SEQUENCE_NODE
				   ? (const void *)y->items
				   : (const void *)y->pairs;

		if (x->type != y->type || x->style != y->style ||
		    x->nul != y->nul || x->len != y->len ||
		    x->loc.line != y->loc.line || x->loc.col != y->loc.col ||
		    (bytes && memcmp(px, py, bytes))) {
			snprintf(why, whylen,
				 "node %zu: type %d style %d len %u at %d:%d "
				 "'%.*s', libyaml type %d style %d len %u at "
				 "%d:%d '%.*s'",
				 i + 1, x->type, x->style, x->len, x->loc.line,
				 x->loc.col,
				 x->type == YAML_SCALAR_NODE ? (int)x->len : 0,
				 x->type == YAML_SCALAR_NODE ? x->value : "",
				 y->type, y->style, y->len, y->loc.line,
				 y->loc.col,
				 y->type == YAML_SCALAR_NODE ? (int)y->len : 0,
				 y->type == YAML_SCALAR_NODE ? y->value : "");
			return true;
		}
	}
	return false;
}

/*
 * 1 when the plain reader took buf and composed what libyaml does, 0 when
 * it declined, -1 when they differ (why says where).
 */
static int plain_vs_libyaml(const char *buf, size_t len, char *why,
			    size_t whylen)
{
	struct ctx *plain = calloc(1, sizeof(*plain));
	struct ctx *lib = calloc(1, sizeof(*lib));
	int r = 0;

	if (!plain || !lib) {
		snprintf(why, whylen, "out of memory");
		r = -1;
	} else if (plain_diff_compose(plain, buf, len, READ_PLAIN)) {
		bool ok = plain_diff_compose(lib, buf, len, READ_LIBYAML);

		r = 1;
		if (!ok || lib->nerrors || lib->stop.msg) {
			snprintf(why, whylen, "libyaml refuses what the plain "
					      "reader took");
			r = -1;
		} else if (plain_diff_nodes(&plain->doc, &lib->doc, why, whylen))
			r = -1;
		plain_diff_free(lib);
	} else if (plain->nerrors || plain->stop.msg || plain->doc.n) {
		snprintf(why, whylen, "the plain reader declined, leaving %s",
			 plain->doc.n ? "nodes" : "a diagnostic");
		r = -1;
	}
	if (plain)
		plain_diff_free(plain);
	free(plain);
	free(lib);
	return r;
}

#endif
