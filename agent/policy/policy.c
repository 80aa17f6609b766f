// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Policy reader and validator (docs/policy.md is the reference).
 *
 * The whole file is composed into a document of compact nodes from
 * libyaml's parser events (policy_yaml.c), then walked by a schema written
 * as code: one function per kind of mapping (policy_read.c, its scalars in
 * policy_value.c). Nothing stops at the first problem: every error and
 * warning is counted with the position of the offending node, and the
 * first 100 in file order are printed as "FILE:LINE:COL: message"
 * (policy_diag.c). What a hostile file can cost is bounded: see "Limits"
 * in docs/policy.md.
 *
 * Checks that span entries (duplicates, overlaps, references) run after
 * the walk on whatever parsed cleanly (policy_check.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_int.h"

/*
 * A policy larger than this is a mistake, not a policy: the largest within
 * the node limit (131072 allow rules, 16384 cgroups) takes about 9 MB.
 */
#define MAX_FILE_BYTES (16u << 20)
#define TOO_LARGE      "larger than %u MiB: no policy is that large"

const char *tl_dns_mode_name(enum tl_dns_mode m)
{
	switch (m) {
	case TL_DNS_MODE_REDIRECT:
		return "redirect";
	case TL_DNS_MODE_ORDINARY:
		return "ordinary";
	default:
		return "block";
	}
}

bool tl_policy_dns_port(const struct tl_policy *p, uint16_t port)
{
	for (size_t i = 0; i < p->ndns_ports; i++)
		if (p->dns_ports[i] == port)
			return true;
	return false;
}

/* ---- entry points ---- */

void tl_policy_free(struct tl_policy *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->ntunnels; i++) {
		free(p->tunnels[i].endpoints);
		free(p->tunnels[i].resolvers);
	}
	for (i = 0; i < p->nprofiles; i++) {
		free(p->profiles[i].allow);
		free(p->profiles[i].ports);
	}
	for (i = 0; i < p->ncgroups; i++)
		free(p->cgroups[i].path);
	free(p->tunnels);
	free(p->profiles);
	free(p->cgroups);
	free(p->file);
	memset(p, 0, sizeof(*p));
}

void tl_policy_drop_allow(struct tl_policy *p)
{
	for (size_t i = 0; i < p->nprofiles; i++) {
		struct tl_profile_cfg *pr = &p->profiles[i];

		free(pr->allow);
		free(pr->ports);
		pr->allow = NULL;
		pr->ports = NULL;
		pr->nallow = pr->nports = 0;
	}
	p->allow_dropped = true;
	/* megabytes for a long list: give them back to the system now */
	malloc_trim(0);
}

static void check_document(struct ctx *c)
{
	struct ynode *root = c->doc.n ? node(c, 1) : NULL;

	if (!root || is_null(root)) {
		error_at(c, (struct tl_loc){1, 1},
			 "the policy is empty: 'tunnels' and 'profiles' are "
			 "required");
		return;
	}
	read_root(c, root);
	check_entries(c);
}

int tl_policy_parse(const char *name, const char *buf, size_t len,
		    struct tl_policy *out, FILE *err)
{
	struct ctx c = {.file = name, .p = out};
	yaml_parser_t ps;

	memset(out, 0, sizeof(*out));
	out->mode = TL_MODE_ENFORCE;
	out->default_profile = -1;
	out->event_rate = TL_EVENT_RATE_DEFAULT;
	out->event_burst = TL_EVENT_BURST_DEFAULT;
	out->container_mark = TL_CONTAINER_MARK_DEFAULT;
	strcpy(out->attach_cgroup, "/");
	out->dns_ports[0] = 53;
	out->dns_ports[1] = 853;
	out->ndns_ports = 2;
	out->file = strdup(name);
	if (!out->file || !yaml_parser_initialize(&ps)) {
		if (err)
			fprintf(err, "%s: out of memory\n", name);
		tl_policy_free(out);
		return -1;
	}
	if (len > MAX_FILE_BYTES) {
		stop_at(&c, (struct tl_loc){0, 0}, TOO_LARGE,
			MAX_FILE_BYTES >> 20);
	} else {
		yaml_parser_set_input_string(&ps, (const unsigned char *)buf,
					     len);
		if (compose(&c, &ps, buf, len))
			check_document(&c);
	}
	free_document(&c);
	for (size_t i = 0; i < TL_MAX_PROFILES; i++)
		free(c.allow_locs[i]);
	yaml_parser_delete(&ps);
	if (c.oom)
		c.nerrors++;
	flush_diags(&c, err);
	if (c.nerrors) {
		tl_policy_free(out);
		out->default_profile = -1;
		return -1;
	}
	return 0;
}

/*
 * The whole file, which must be a regular file (a FIFO or a device would
 * block a check or a reload) of at most MAX_FILE_BYTES.
 */
static char *read_file(const char *file, size_t *len, FILE *err)
{
	int fd = open(file, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	const char *why = NULL;
	char *buf = NULL, big[64];
	struct stat st;
	size_t n = 0;

	if (fd < 0 || fstat(fd, &st)) {
		why = strerror(errno);
	} else if (!S_ISREG(st.st_mode)) {
		why = "not a regular file";
	} else if (st.st_size > MAX_FILE_BYTES) {
		snprintf(big, sizeof(big), TOO_LARGE, MAX_FILE_BYTES >> 20);
		why = big;
	} else if (!(buf = malloc((size_t)st.st_size + 1))) {
		why = strerror(ENOMEM);
	} else {
		/* faulted in at once, not a page at a time by read() */
		populate(buf, (size_t)st.st_size + 1);
	}
	/* one byte more than the size, to see a file that grew */
	while (!why) {
		ssize_t got = read(fd, buf + n, (size_t)st.st_size + 1 - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			why = strerror(errno);
		else if (!got)
			break;
		else if ((n += (size_t)got) > (size_t)st.st_size)
			why = "changed while it was read";
	}
	if (fd >= 0)
		close(fd);
	if (why) {
		if (err)
			fprintf(err, "%s: %s\n", file, why);
		free(buf);
		return NULL;
	}
	*len = n;
	return buf;
}

int tl_policy_load(const char *file, struct tl_policy *out, FILE *err)
{
	size_t len;
	char *buf;
	int r;

	memset(out, 0, sizeof(*out));
	out->default_profile = -1;
	buf = read_file(file, &len, err);
	if (!buf)
		return -1;
	r = tl_policy_parse(file, buf, len, out, err);
	free(buf);
	return r;
}
