// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer harness of the policy reader: any bytes as a policy file.
 * Besides what ASan and UBSan catch, it aborts when the diagnostics break
 * their contract (docs/policy.md): every line is "FILE:LINE:COL: message"
 * with LINE and COL from 1, or "FILE: message" for the file as a whole;
 * at most 100 are shown, plus the error that stopped reading and the
 * count of the rest; a failed read says why and leaves no policy behind.
 * And what the plain reader takes, it composes as libyaml does.
 */
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"
#include "../plain_diff.h"

#define NAME "fuzz.yaml"

static void check_line(const char *line, size_t len)
{
	const char *p = line + strlen(NAME ":");
	char *end;
	long l, c;

	if (len < strlen(NAME ": ") || strncmp(line, NAME ":", strlen(NAME ":")))
		abort(); /* not about the file */
	if (len > 600)
		abort(); /* a message is one line of bounded length */
	if (*p == ' ')
		return; /* the file as a whole */
	l = strtol(p, &end, 10);
	if (end == p || *end != ':' || l < 1)
		abort(); /* no line, or line 0 */
	p = end + 1;
	c = strtol(p, &end, 10);
	if (end == p || *end != ':' || c < 1 || end[1] != ' ')
		abort(); /* no column, or column 0 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tl_policy p;
	char *out = NULL;
	size_t outlen = 0, lines = 0;
	char why[512];
	FILE *err = open_memstream(&out, &outlen);
	int r;

	if (!err)
		return 0;
	if (plain_vs_libyaml((const char *)data, size, why, sizeof(why)) < 0) {
		fprintf(stderr, "plain reader: %s\n", why);
		abort();
	}
	r = tl_policy_parse(NAME, (const char *)data, size, &p, err);
	fclose(err);
	for (const char *s = out; *s;) {
		size_t n = strcspn(s, "\n");

		if (!s[n])
			abort(); /* every line ends */
		check_line(s, n);
		lines++;
		s += n + 1;
	}
	if (lines > 102)
		abort();
	if (r == -1 && (!lines || p.tunnels || p.profiles || p.cgroups))
		abort(); /* refused without a reason, or left memory behind */
	if (r == 0 && (!p.ntunnels || !p.nprofiles))
		abort(); /* both are required */
	tl_policy_free(&p);
	free(out);
	return 0;
}
