/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The one JSON writer: the event feed (both formats), `status --json` and
 * anything else that emits JSON. It writes into a bounded buffer (a feed
 * line) or a FILE (status); keys and strings are always escaped.
 */
#ifndef TUNLOCK_JSON_H
#define TUNLOCK_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct tl_json {
	char *buf; /* NULL: writing to file */
	FILE *file;
	size_t len, pos; /* pos: bytes written so far, to either */
	bool overflow;	 /* the buffer was too small, or file failed */
	bool first;	 /* no member yet in the innermost object or array */
};

void tl_json_init(struct tl_json *j, char *buf, size_t len);
void tl_json_init_file(struct tl_json *j, FILE *f);
/*
 * Every value below is written as a member (key) or, with key NULL, as the
 * document or an array element.
 */
void tl_json_open(struct tl_json *j, const char *key);
void tl_json_close(struct tl_json *j);
void tl_json_array(struct tl_json *j, const char *key);
void tl_json_array_end(struct tl_json *j);
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
 * fit is cut as above. Returns the bytes written.
 */
size_t tl_json_escape(char *out, size_t room, const char *s, size_t max);
/*
 * A string; up to max bytes of s, escaped (into a buffer also cut as
 * above; into a file whole). s NULL: nothing is written.
 */
void tl_json_str(struct tl_json *j, const char *key, const char *s,
		 size_t max);
void tl_json_null(struct tl_json *j, const char *key);
void tl_json_bool(struct tl_json *j, const char *key, bool v);
void tl_json_u64(struct tl_json *j, const char *key, uint64_t v);
void tl_json_i64(struct tl_json *j, const char *key, int64_t v);
/* A time as a string, formatted by tl_time_format with nanoseconds. */
void tl_json_time(struct tl_json *j, const char *key, uint64_t real_ns);
/* Ends the document with '\n'; returns its length or -1 on overflow (or a
 * failed write to the file). */
int tl_json_end(struct tl_json *j);

/*
 * The one timestamp format: RFC 3339 in UTC of real_ns (CLOCK_REALTIME),
 * "2026-12-01T17:32:26.000000123Z" with ns, "2026-12-01T17:32:26Z"
 * without. Returns buf.
 */
#define TL_TIME_LEN 32
const char *tl_time_format(char *buf, size_t len, uint64_t real_ns, bool ns);

#endif
