// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"

void tl_json_init(struct tl_json *j, char *buf, size_t len)
{
	memset(j, 0, sizeof(*j));
	j->buf = buf;
	j->len = len;
	j->overflow = len == 0;
	j->first = true;
}

void tl_json_init_file(struct tl_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->file = f;
	j->first = true;
}

static void emit(struct tl_json *j, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void emit(struct tl_json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->overflow)
		return;
	va_start(ap, fmt);
	if (j->file)
		n = vfprintf(j->file, fmt, ap);
	else
		n = vsnprintf(j->buf + j->pos, j->len - j->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (!j->file && (size_t)n >= j->len - j->pos))
		j->overflow = true;
	else
		j->pos += n;
}

/* Bytes of the escape of c. */
static size_t escaped_len(unsigned char c)
{
	if (c == '"' || c == '\\')
		return 2;
	return c < 0x20 || c >= 0x7f ? 6 : 1;
}

static size_t put_escaped(char *out, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";

	if (c == '"' || c == '\\') {
		out[0] = '\\';
		out[1] = c;
		return 2;
	}
	if (c < 0x20 || c >= 0x7f) {
		memcpy(out, "\\u00", 4);
		out[4] = hex[c >> 4];
		out[5] = hex[c & 15];
		return 6;
	}
	out[0] = c;
	return 1;
}

size_t tl_json_escape(char *out, size_t room, const char *s, size_t max)
{
	size_t need = 0, pos = 0, i, cut = sizeof(TL_JSON_CUT) - 1;

	if (room > TL_JSON_FIELD_MAX)
		room = TL_JSON_FIELD_MAX;
	for (i = 0; i < max && s[i]; i++)
		need += escaped_len(s[i]);
	if (need <= room) {
		for (i = 0; i < max && s[i]; i++)
			pos += put_escaped(out + pos, s[i]);
		return pos;
	}
	if (room < cut)
		return 0;
	for (i = 0; pos + escaped_len(s[i]) + cut <= room; i++)
		pos += put_escaped(out + pos, s[i]);
	memcpy(out + pos, TL_JSON_CUT, cut);
	return pos + cut;
}

/* A quoted, escaped string: cut to fit a buffer, whole into a file. */
static void quoted(struct tl_json *j, const char *s, size_t max)
{
	char c[8];

	emit(j, "\"");
	if (j->overflow)
		return;
	if (!j->file) {
		j->pos += tl_json_escape(j->buf + j->pos, j->len - j->pos, s,
					 max);
	} else {
		for (size_t i = 0; i < max && s[i]; i++) {
			size_t n = put_escaped(c, s[i]);

			if (fwrite(c, 1, n, j->file) != n)
				j->overflow = true;
			j->pos += n;
		}
	}
	emit(j, "\"");
}

static void key(struct tl_json *j, const char *k)
{
	if (!j->first)
		emit(j, ",");
	j->first = false;
	if (k) {
		quoted(j, k, TL_JSON_FIELD_MAX);
		emit(j, ":");
	}
}

/* An object or an array begins with c and ends with its closing c. */
static void begin(struct tl_json *j, const char *k, char c)
{
	key(j, k);
	emit(j, "%c", c);
	j->first = true;
}

static void end(struct tl_json *j, char c)
{
	emit(j, "%c", c);
	j->first = false;
}

void tl_json_open(struct tl_json *j, const char *k)
{
	begin(j, k, '{');
}

void tl_json_close(struct tl_json *j)
{
	end(j, '}');
}

void tl_json_array(struct tl_json *j, const char *k)
{
	begin(j, k, '[');
}

void tl_json_array_end(struct tl_json *j)
{
	end(j, ']');
}

void tl_json_str(struct tl_json *j, const char *k, const char *s, size_t max)
{
	if (!s)
		return;
	key(j, k);
	quoted(j, s, max);
}

void tl_json_null(struct tl_json *j, const char *k)
{
	key(j, k);
	emit(j, "null");
}

void tl_json_bool(struct tl_json *j, const char *k, bool v)
{
	key(j, k);
	emit(j, "%s", v ? "true" : "false");
}

void tl_json_u64(struct tl_json *j, const char *k, uint64_t v)
{
	key(j, k);
	emit(j, "%" PRIu64, v);
}

void tl_json_i64(struct tl_json *j, const char *k, int64_t v)
{
	key(j, k);
	emit(j, "%" PRId64, v);
}

const char *tl_time_format(char *buf, size_t len, uint64_t real_ns, bool ns)
{
	time_t sec = real_ns / 1000000000ull;
	char when[TL_TIME_LEN];
	struct tm tm;

	if (!gmtime_r(&sec, &tm) ||
	    !strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm))
		when[0] = '\0';
	if (ns)
		snprintf(buf, len, "%s.%09" PRIu64 "Z", when,
			 (uint64_t)(real_ns % 1000000000ull));
	else
		snprintf(buf, len, "%sZ", when);
	return buf;
}

void tl_json_time(struct tl_json *j, const char *k, uint64_t real_ns)
{
	char when[TL_TIME_LEN];

	tl_json_str(j, k, tl_time_format(when, sizeof(when), real_ns, true),
		    sizeof(when));
}

int tl_json_end(struct tl_json *j)
{
	emit(j, "\n");
	if (j->file && ferror(j->file))
		j->overflow = true;
	return j->overflow ? -1 : (int)j->pos;
}
