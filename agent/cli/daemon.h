/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The agent: `run` (the daemon) and `apply` (enforce once, then exit). */
#ifndef TL_DAEMON_H
#define TL_DAEMON_H

#include <stdbool.h>

#include "feed.h"

#define TL_DEFAULT_CONFIG "/etc/tunlock/policy.yaml"
#define TL_DEFAULT_INTERVAL 30 /* seconds: metrics and summaries */
#define TL_MAX_INTERVAL 86400

/* What the command line gives the agent (and the other commands). */
struct tl_run_opts {
	const char *config;
	const char *pin_dir;
	bool json;
	bool verbose;
	const char *events; /* NULL: stdout */
	enum tl_feed_format format;
	const char *metrics; /* NULL: none */
	unsigned int interval; /* seconds */
	const char *profile; /* selftest: NULL, the default profile */
};

/*
 * Loads or adopts the pins, applies the policy, attaches, then follows
 * interfaces, tunnels, cgroups and the policy file and streams events
 * until SIGTERM or SIGINT. Returns the exit status: 0 after a signal,
 * 1 when the policy or the kernel refuses.
 */
int tl_daemon_run(const struct tl_run_opts *o);

/*
 * The pinned state `run` makes, for what exists now, then returns: 0
 * applied, 1 when the policy or the kernel refuses (or an agent runs).
 */
int tl_daemon_apply(const struct tl_run_opts *o);

#endif
