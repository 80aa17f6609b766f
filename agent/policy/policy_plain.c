// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The plain reader: the events of a policy written in plain block YAML,
 * read without libyaml, whose scanner spends some 100 of the 130 ms that
 * 100,000 allow rules take to read.
 *
 * It takes only what it reads as libyaml does: printable ASCII; block
 * mappings and lists indented with spaces; flow mappings and lists on one
 * line; plain values of the characters below, and quoted values on one
 * line without escapes; comments. Anything else (escapes, anchors, tags,
 * block scalars, a value that goes on over lines, an empty value, a
 * second document, a tab, ...) and it declines: the events it gave are
 * thrown away, and libyaml reads the file and says what is wrong with it.
 * The unit and fuzz tiers compare the documents the two compose for every
 * file it takes.
 */
#include <stdint.h>
#include <string.h>

#include "policy_int.h"

/* deeper than a policy needs (6), and within the composer's MAX_DEPTH */
#define PLAIN_DEPTH 32
/* libyaml gives up on a key this long (it looks 1024 bytes ahead) */
#define PLAIN_KEY_MAX 1000

enum {
	C_START = 1, /* may begin a plain value */
	C_BODY = 2,  /* may go on one; ':' and ' ' are judged apart */
};

/*
 * Letters, digits and '/', '_', '.' begin a value; '-', '+', '*', '=',
 * '~', '@' and '\' may follow. Every other character has a meaning in some
 * YAML context that this reader does not follow.
 */
static uint8_t char_class(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '.')
		return C_START | C_BODY;
	return c && strchr("-+*=~@\\", c) ? C_BODY : 0;
}

struct plain {
	struct composer *cp;
	struct ctx *c;
	const char *buf, *end;
	const char *line, *eol; /* the current line, eol at its '\n' or end */
	size_t lineno;		/* from 0, as libyaml's marks count */
	const char *p;		/* where reading is, in the line */
	/* open block collections, outermost first */
	struct {
		int indent; /* the column of their entries */
		bool seq;
		bool indentless; /* a list at its mapping's column */
	} open[PLAIN_DEPTH];
	int depth, flow;
	bool pending; /* a "key:" whose value is the block that follows */
	uint8_t cls[256];
};

static int at(const struct plain *pl, const char *q)
{
	return q < pl->eol ? (unsigned char)*q : '\n';
}

static void skip_spaces(struct plain *pl)
{
	while (at(pl, pl->p) == ' ')
		pl->p++;
}

/* A value as written: where it starts, its bytes and its style. */
struct token {
	const char *at;
	const char *value;
	size_t len;
	yaml_scalar_style_t style;
};

/* ':' goes on a value only when a value character or another ':' follows:
 * ': ' and ':' at the end of the line make a key, and libyaml ends a value
 * in a flow collection at ':' before ',', '[', ']', '{' or '}'. */
static bool is_body(const struct plain *pl, const char *q)
{
	int ch = at(pl, q);

	if (pl->cls[ch] & C_BODY)
		return true;
	return ch == ':' && ((pl->cls[at(pl, q + 1)] & C_BODY) ||
			     at(pl, q + 1) == ':');
}

/* A plain value from pl->p (at a C_START character), spaces within it
 * kept; pl->p is left at its end. */
static void scan_plain(struct plain *pl, struct token *t)
{
	const char *q = pl->p, *end;

	for (;;) {
		while (is_body(pl, q))
			q++;
		end = q;
		while (at(pl, q) == ' ')
			q++;
		if (q == end || !is_body(pl, q))
			break;
	}
	*t = (struct token){pl->p, pl->p, end - pl->p, YAML_PLAIN_SCALAR_STYLE};
	pl->p = end;
}

/*
 * A quoted value from pl->p, when it closes on this line and holds no
 * escape ('\' in double quotes, '' in single ones): libyaml takes it
 * character for character then. pl->p is left after it.
 */
static bool scan_quoted(struct plain *pl, struct token *t)
{
	char quote = *pl->p;
	const char *end = memchr(pl->p + 1, quote, pl->eol - (pl->p + 1));

	if (!end || at(pl, end + 1) == quote ||
	    (quote == '"' && memchr(pl->p + 1, '\\', end - (pl->p + 1))))
		return false;
	*t = (struct token){pl->p, pl->p + 1, end - (pl->p + 1),
			    quote == '"' ? YAML_DOUBLE_QUOTED_SCALAR_STYLE
					 : YAML_SINGLE_QUOTED_SCALAR_STYLE};
	pl->p = end + 1;
	return true;
}

/* A value, plain or quoted, from pl->p: false when there is none that
 * this reader takes (an indicator, a comment, nothing). */
static bool scan_scalar(struct plain *pl, struct token *t)
{
	if (at(pl, pl->p) == '"' || at(pl, pl->p) == '\'')
		return scan_quoted(pl, t);
	if (!(pl->cls[at(pl, pl->p)] & C_START))
		return false;
	scan_plain(pl, t);
	return true;
}

/* At ": " or ":" ending the line: the end of a key. */
static bool at_key_end(const struct plain *pl)
{
	return at(pl, pl->p) == ':' &&
	       (at(pl, pl->p + 1) == ' ' || at(pl, pl->p + 1) == '\n');
}

/* After a value: spaces, then the end of the line or a comment. */
static bool line_done(struct plain *pl)
{
	const char *from = pl->p;

	skip_spaces(pl);
	return at(pl, pl->p) == '\n' || (at(pl, pl->p) == '#' && pl->p > from);
}

/* ---- events ---- */

static bool emit(struct plain *pl, yaml_event_type_t type, const char *pos,
		 const struct token *t)
{
	yaml_event_t e;

	memset(&e, 0, sizeof(e));
	e.type = type;
	e.start_mark = (yaml_mark_t){(size_t)(pos - pl->buf), pl->lineno,
				     (size_t)(pos - pl->line)};
	e.end_mark = e.start_mark;
	if (t) {
		e.data.scalar.value = (yaml_char_t *)t->value;
		e.data.scalar.length = t->len;
		e.data.scalar.plain_implicit = t->style == YAML_PLAIN_SCALAR_STYLE;
		e.data.scalar.quoted_implicit = !e.data.scalar.plain_implicit;
		e.data.scalar.style = t->style;
	}
	return compose_event(pl->cp, &e);
}

/* The composer's node limit is libyaml's path to report, not this one's. */
static bool room(const struct plain *pl)
{
	return pl->c->doc.n < MAX_NODES && pl->depth + pl->flow < PLAIN_DEPTH;
}

static int scalar(struct plain *pl, const struct token *t)
{
	if (!room(pl))
		return 0;
	return emit(pl, YAML_SCALAR_EVENT, t->at, t) ? 1 : -1;
}

/* Every reader below returns 1 when it read what is there, 0 when the
 * file is not plain YAML, -1 when the composer stopped (out of memory). */

static int open_block(struct plain *pl, bool seq, bool indentless)
{
	int indent = pl->p - pl->line;

	if (!room(pl))
		return 0;
	if (!emit(pl, seq ? YAML_SEQUENCE_START_EVENT : YAML_MAPPING_START_EVENT,
		  pl->p, NULL))
		return -1;
	pl->open[pl->depth++] = (typeof(pl->open[0])){indent, seq, indentless};
	return 1;
}

static int close_block(struct plain *pl)
{
	bool seq = pl->open[--pl->depth].seq;

	return emit(pl, seq ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT,
		    pl->p, NULL) ?
		   1 :
		   -1;
}

/* A flow mapping or list, whole on this line, from its '{' or '['. */
static int flow_node(struct plain *pl)
{
	bool map = at(pl, pl->p) == '{';
	int close = map ? '}' : ']', r;

	if (!room(pl))
		return 0;
	if (!emit(pl, map ? YAML_MAPPING_START_EVENT : YAML_SEQUENCE_START_EVENT,
		  pl->p, NULL))
		return -1;
	pl->flow++;
	pl->p++;
	skip_spaces(pl);
	if (at(pl, pl->p) != close) {
		for (;;) {
			struct token t;

			if (map) { /* key: value */
				if (!scan_scalar(pl, &t) || !at_key_end(pl) ||
				    pl->p - t.at >= PLAIN_KEY_MAX ||
				    at(pl, pl->p + 1) != ' ')
					return 0;
				if ((r = scalar(pl, &t)) < 1)
					return r;
				pl->p++;
				skip_spaces(pl);
			}
			if (at(pl, pl->p) == '{' || at(pl, pl->p) == '[')
				r = flow_node(pl);
			else if (scan_scalar(pl, &t))
				r = scalar(pl, &t);
			else
				return 0;
			if (r < 1)
				return r;
			skip_spaces(pl);
			if (at(pl, pl->p) == close)
				break;
			if (at(pl, pl->p) != ',')
				return 0;
			pl->p++;
			skip_spaces(pl);
		}
	}
	pl->p++;
	pl->flow--;
	return emit(pl, map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT,
		    pl->p - 1, NULL) ?
		   1 :
		   -1;
}

static int key_and_value(struct plain *pl, const struct token *key);

/*
 * A value in a block: a flow collection, or a plain value, which may be
 * the first key of a mapping when it is a list item ("- name: x").
 */
static int block_value(struct plain *pl, bool item)
{
	struct token t;
	int r;

	if (at(pl, pl->p) == '{' || at(pl, pl->p) == '[') {
		r = flow_node(pl);
		return r < 1 ? r : line_done(pl);
	}
	if (!scan_scalar(pl, &t))
		return 0;
	if (at_key_end(pl)) {
		const char *colon = pl->p;

		if (!item)
			return 0; /* "a: b: c" */
		pl->p = t.at;
		if ((r = open_block(pl, false, false)) < 1)
			return r;
		pl->p = colon;
		return key_and_value(pl, &t);
	}
	/* A deeper line after it would go on this value in libyaml: no line
	 * deeper than the innermost collection is taken (content_line). */
	if ((r = scalar(pl, &t)) < 1)
		return r;
	return line_done(pl);
}

/* From the ':' after a key. */
static int key_and_value(struct plain *pl, const struct token *key)
{
	int r;

	if (pl->p - key->at >= PLAIN_KEY_MAX)
		return 0;
	if ((r = scalar(pl, key)) < 1)
		return r;
	pl->p++;
	skip_spaces(pl);
	if (at(pl, pl->p) == '\n' || at(pl, pl->p) == '#') {
		pl->pending = true; /* the value is the block below */
		return 1;
	}
	return block_value(pl, false);
}

static int map_entry(struct plain *pl)
{
	struct token key;

	if (!scan_scalar(pl, &key))
		return 0;
	return at_key_end(pl) ? key_and_value(pl, &key) : 0;
}

static bool is_item(const struct plain *pl)
{
	return at(pl, pl->p) == '-' && at(pl, pl->p + 1) == ' ';
}

static int seq_entry(struct plain *pl)
{
	if (!is_item(pl))
		return 0; /* "-" alone, "- - x", ...: not read here */
	pl->p++;
	skip_spaces(pl);
	return block_value(pl, true);
}

static int entry(struct plain *pl)
{
	return pl->open[pl->depth - 1].seq ? seq_entry(pl) : map_entry(pl);
}

/* A line with something on it, indented by indent spaces. */
static int content_line(struct plain *pl, int indent)
{
	int r;

	if (pl->pending) {
		int above = pl->open[pl->depth - 1].indent;

		pl->pending = false;
		if (indent < above || (indent == above && !is_item(pl)))
			return 0; /* an empty value */
		r = open_block(pl, is_item(pl), indent == above);
		return r < 1 ? r : entry(pl);
	}
	if (!pl->depth) { /* the first line: the root, a mapping at column 0 */
		if (indent)
			return 0;
		r = open_block(pl, false, false);
		return r < 1 ? r : entry(pl);
	}
	while (pl->depth > 1 && pl->open[pl->depth - 1].indent > indent)
		if ((r = close_block(pl)) < 1)
			return r;
	/* a list at its mapping's column ends where the items do */
	if (pl->open[pl->depth - 1].indentless && !is_item(pl) &&
	    (r = close_block(pl)) < 1)
		return r;
	if (pl->open[pl->depth - 1].indent != indent)
		return 0;
	return entry(pl);
}

static bool printable_ascii(const char *buf, size_t len)
{
	unsigned char bad = 0;

	/* no branch per byte: one test at the end */
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = buf[i];

		bad |= (ch != '\n') & ((ch < 0x20) | (ch > 0x7e));
	}
	return !bad;
}

static int read_lines(struct plain *pl)
{
	int r;

	for (pl->line = pl->buf; pl->line < pl->end;
	     pl->line = pl->eol + (pl->eol < pl->end)) {
		const char *nl = memchr(pl->line, '\n', pl->end - pl->line);

		pl->eol = nl ? nl : pl->end;
		pl->p = pl->line;
		skip_spaces(pl);
		if (pl->p == pl->line && pl->eol - pl->line >= 3 &&
		    (!memcmp(pl->line, "---", 3) || !memcmp(pl->line, "...", 3)))
			return 0; /* a document marker, or a value like one */
		if (at(pl, pl->p) != '\n' && at(pl, pl->p) != '#' &&
		    (r = content_line(pl, pl->p - pl->line)) < 1)
			return r;
		pl->lineno++;
	}
	if (pl->pending || !pl->depth)
		return 0; /* a last key without a value; no document */
	pl->p = pl->line = pl->end;
	while (pl->depth)
		if ((r = close_block(pl)) < 1)
			return r;
	return 1;
}

int plain_compose(struct composer *cp, struct ctx *c, const char *buf,
		  size_t len)
{
	struct plain pl = {.cp = cp, .c = c, .buf = buf, .end = buf + len};

	if (!printable_ascii(buf, len))
		return 0;
	for (int ch = 0; ch < 256; ch++)
		pl.cls[ch] = char_class(ch);
	return read_lines(&pl);
}
