// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <stdarg.h>
#include <stdio.h>
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

void tl_json_str(struct tl_json *j, const char *k, const char *s, size_t max)
{
	if (!s)
		return;
	key(j, k);
	tl_json_raw(j, "\"");
	for (size_t i = 0; i < max && s[i]; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\')
			tl_json_raw(j, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			tl_json_raw(j, "\\u%04x", c);
		else
			tl_json_raw(j, "%c", c);
	}
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
