// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Diagnostics of the policy reader: every error and warning is counted with
 * the position of the offending node, and the first MAX_SHOWN in file order
 * are kept (a heap) and printed as "FILE:LINE:COL: message", prefixed with
 * the key path of the node being read.
 */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

/* ---- diagnostics ---- */

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
 * control characters are escaped, and what is written is cut at
 * MSG_MAX bytes, escapes included.
 */
#define MSG_MAX 512

static char *one_line(char *msg)
{
	size_t n = 0, len = 0;
	char *out, *o;

	for (; msg[n]; n++) {
		unsigned char ch = (unsigned char)msg[n];
		size_t w = ch < 0x20 || ch == 0x7f ? 4 : 1;

		if (len + w > MSG_MAX)
			break;
		len += w;
	}
	if (len == n && !msg[n])
		return msg;
	out = malloc(len + 4);
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

/* The key path written out, e.g. "tunnels[0].endpoints[1]" (cut to fit). */
static void format_path(const struct ctx *c, char *buf, size_t size)
{
	size_t len = 0, steps = c->pathlen;
	int n = 0;

	buf[0] = '\0';
	if (steps > MAX_PATH_STEPS)
		steps = MAX_PATH_STEPS;
	for (size_t i = 0; i < steps && n >= 0 && len < size; i++, len += n)
		n = c->path[i].key ? snprintf(buf + len, size - len, "%s%s",
					      i ? "." : "", c->path[i].key)
				   : snprintf(buf + len, size - len, "[%zu]",
					      c->path[i].index);
}

/* "PATH: MSG" when the key path is not empty (MSG freed), else MSG. */
static char *with_path(const struct ctx *c, char *msg)
{
	char path[512], *full;

	if (!msg || !c->pathlen)
		return msg;
	format_path(c, path, sizeof(path));
	if (asprintf(&full, "%s: %s", path, msg) < 0)
		full = NULL;
	free(msg);
	return full;
}

static void vreport(struct ctx *c, struct tl_loc loc, bool warning,
		    const char *fmt, va_list ap)
{
	char *msg = NULL;

	if (!diag_wanted(c, loc, warning))
		return;
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	/* prefix the key path: "tunnels[0].endpoints[1].port: ..." */
	msg = with_path(c, msg);
	diag_keep(c, loc, warning, msg ? one_line(msg) : NULL);
}

void error_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, loc, false, fmt, ap);
	va_end(ap);
}

void error_node(struct ctx *c, const struct ynode *n, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(c, node_loc(n), false, fmt, ap);
	va_end(ap);
}

void warn_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...)
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
void stop_at(struct ctx *c, struct tl_loc loc, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	c->nerrors++;
	if (c->stop.msg)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	msg = with_path(c, msg);
	c->stop.msg = msg ? one_line(msg) : NULL;
	c->stop.loc = loc;
	c->oom |= !c->stop.msg;
}

/*
 * A value as a message echoes it: control characters escaped, cut after
 * SHOWN_MAX bytes (on a UTF-8 character boundary) with "...". Valid until
 * the fourth call after.
 */
const char *shown(struct ctx *c, const char *s)
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
void flush_diags(struct ctx *c, FILE *err)
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

static size_t push_step(struct ctx *c, const char *key, size_t index)
{
	size_t old = c->pathlen;

	if (old < MAX_PATH_STEPS)
		c->path[old] = (struct path_step){key, index};
	c->pathlen = old + 1;
	return old;
}

size_t push_key(struct ctx *c, const char *key)
{
	return push_step(c, key, 0);
}

size_t push_index(struct ctx *c, size_t index)
{
	return push_step(c, NULL, index);
}

void pop(struct ctx *c, size_t len)
{
	c->pathlen = len;
}
