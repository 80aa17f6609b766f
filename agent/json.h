/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* A small JSON writer into a fixed buffer, for the feed's other formats. */
#ifndef TUNLOCK_JSON_H
#define TUNLOCK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tl_json {
	char *buf;
	size_t len, pos;
	bool overflow;
	bool first; /* no member yet in the innermost object */
};

void tl_json_init(struct tl_json *j, char *buf, size_t len);
void tl_json_raw(struct tl_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Opens an object as a member (key) or as the value (key NULL). */
void tl_json_open(struct tl_json *j, const char *key);
void tl_json_close(struct tl_json *j);
/*
 * A feed field's text is at most this long, escaped: a longer one is cut
 * (at a character, never inside an escape) and ends with TL_JSON_CUT, so
 * that a line always fits its buffer and nothing is dropped for its length.
 */
#define TL_JSON_FIELD_MAX 1024
#define TL_JSON_CUT "..."
/*
 * Escapes up to max bytes of s (less at a NUL) into out, using at most room
 * bytes and no more than TL_JSON_FIELD_MAX (no NUL written); what does not
 * fit is cut as above. The one escaping of both feed writers. Returns the
 * bytes written.
 */
size_t tl_json_escape(char *out, size_t room, const char *s, size_t max);
/* A string member; up to max bytes of s, escaped and cut as above. s NULL:
 * nothing. */
void tl_json_str(struct tl_json *j, const char *key, const char *s,
		 size_t max);
void tl_json_u64(struct tl_json *j, const char *key, uint64_t v);
/* An RFC 3339 UTC time with nanoseconds. */
void tl_json_time(struct tl_json *j, const char *key, uint64_t real_ns);
/* Ends the document with '\n'; returns its length or -1 on overflow. */
int tl_json_end(struct tl_json *j);

#endif
