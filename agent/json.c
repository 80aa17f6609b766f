// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "json.h"

void tl_json_init(struct tl_json *j, char *buf, size_t len)
{
	j->buf = buf;
	j->len = len;
	j->pos = 0;
	j->overflow = len == 0;
	j->first = true;
}

void tl_json_raw(struct tl_json *j, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (j->overflow)
		return;
	va_start(ap, fmt);
	n = vsnprintf(j->buf + j->pos, j->len - j->pos, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= j->len - j->pos)
		j->overflow = true;
	else
		j->pos += n;
}

static void key(struct tl_json *j, const char *k)
{
	if (!j->first)
		tl_json_raw(j, ",");
	j->first = false;
	if (k)
		tl_json_raw(j, "\"%s\":", k);
}

void tl_json_open(struct tl_json *j, const char *k)
{
	if (k)
		key(j, k);
	tl_json_raw(j, "{");
	j->first = true;
}

void tl_json_close(struct tl_json *j)
{
	tl_json_raw(j, "}");
	j->first = false;
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

void tl_json_str(struct tl_json *j, const char *k, const char *s, size_t max)
{
	if (!s)
		return;
	key(j, k);
	tl_json_raw(j, "\"");
	if (!j->overflow)
		j->pos += tl_json_escape(j->buf + j->pos, j->len - j->pos, s,
					 max);
	tl_json_raw(j, "\"");
}

void tl_json_u64(struct tl_json *j, const char *k, uint64_t v)
{
	key(j, k);
	tl_json_raw(j, "%llu", (unsigned long long)v);
}

void tl_json_time(struct tl_json *j, const char *k, uint64_t ns)
{
	time_t sec = ns / 1000000000ull;
	char when[32];
	struct tm tm;

	gmtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%S", &tm);
	key(j, k);
	tl_json_raw(j, "\"%s.%09lluZ\"", when,
		    (unsigned long long)(ns % 1000000000ull));
}

int tl_json_end(struct tl_json *j)
{
	tl_json_raw(j, "\n");
	return j->overflow ? -1 : (int)j->pos;
}
