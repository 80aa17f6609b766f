// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness of the event formatters: any bytes as a ring-buffer
 * record (struct tl_event) followed by the names the agent resolves for it
 * (interface, cgroup path, profile: NUL-separated), formatted as tunlock's
 * JSON and as ECS into a buffer of a fuzzed size, and a summary line.
 * Besides what ASan and UBSan catch, it aborts when a line that fits is
 * not one line of printable text ending in '\n', or when one that does
 * not fit is not refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "events.h"
#include "feed.h"

#define HEAD (10 + sizeof(struct tl_event) + sizeof(struct tl_summary))

static const char *take(const uint8_t **p, const uint8_t *end)
{
	const uint8_t *s = *p, *nul;

	if (s >= end)
		return NULL;
	nul = memchr(s, '\0', (size_t)(end - s));
	if (!nul)
		return NULL; /* the last piece is not terminated: unresolved */
	*p = nul + 1;
	return (const char *)s;
}

static void check(int n, const char *buf, size_t len)
{
	if (n < 0)
		return; /* did not fit */
	if ((size_t)n >= len || !n || buf[n - 1] != '\n' || buf[n] != '\0')
		abort();
	for (int i = 0; i < n - 1; i++)
		if ((unsigned char)buf[i] < 0x20)
			abort(); /* a raw control character or newline */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tl_event ev;
	struct tl_event_context ctx = {0};
	struct tl_summary sum;
	const uint8_t *p, *end = data + size;
	size_t len;
	char *buf;

	/* buffer size, clock offset, event, summary, then the names */
	if (size < HEAD)
		return 0;
	len = (size_t)(data[0] | (data[1] & 0x0f) << 8) + 1; /* to 4 KiB */
	memcpy(&ctx.boot_to_real_ns, data + 2, 8);
	memcpy(&ev, data + 10, sizeof(ev));
	memcpy(&sum, data + 10 + sizeof(ev), sizeof(sum));
	p = data + HEAD;
	ctx.ifname = take(&p, end);
	ctx.cgroup = take(&p, end);
	ctx.profile = take(&p, end);
	buf = malloc(len);
	if (!buf)
		return 0;
	check(tl_event_format(&ev, &ctx, buf, len), buf, len);
	check(tl_event_format_ecs(&ev, &ctx, buf, len), buf, len);
	check(tl_summary_format(&sum, TL_FEED_NATIVE, buf, len), buf, len);
	check(tl_summary_format(&sum, TL_FEED_ECS, buf, len), buf, len);
	free(buf);
	return 0;
}
