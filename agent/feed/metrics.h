/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Prometheus metrics in the text exposition format, written atomically
 * (a temporary file in the same directory, then rename) for
 * node_exporter's textfile collector. docs/metrics.md lists them.
 */
#ifndef TUNLOCK_METRICS_H
#define TUNLOCK_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "tunlock.h"

struct tl_bpf;

struct tl_metrics_tunnel {
	char name[TL_NAME_LEN];
	char ifname[16];
	bool up;
};

struct tl_metrics {
	/* from the kernel */
	__u64 counters[TL_COUNTERS];
	__u64 evstats[TL_EVSTATS];
	struct tl_metrics_tunnel tunnels[TL_MAX_TUNNELS];
	unsigned int ntunnels;
	unsigned int ifaces_guarded, ifaces_tunnel, ifaces_unguarded;
	__u32 generation;
	__u32 mode;
	uint64_t applied_ns; /* CLOCK_REALTIME */
	/* from the agent */
	uint64_t reloads_ok, reloads_failed;
	uint64_t last_reload_ns; /* CLOCK_REALTIME, 0: none yet */
	bool last_reload_ok;
	uint64_t lines_written, lines_dropped, lines_unformatted;
	uint64_t start_ns; /* CLOCK_REALTIME */
	/* cgroups: the live table and what the agent did when it was full */
	uint32_t cgroup_entries, cgroup_entries_max;
	uint64_t cgroup_rescans;    /* after lost inotify events */
	uint64_t cgroup_table_full; /* cgroups whose entry found no room */
	uint64_t cgroups_frozen;    /* held now, fail closed */
	uint64_t cgroup_paths_unknown; /* event cgroup ids not resolved */
	/* pinned state found changed and put back */
	uint64_t links_restored; /* cgroup links re-pinned or re-attached */
	uint64_t settings_restored; /* live settings or state rewritten */
};

/* The kernel's part, from the agent's map descriptors. */
int tl_metrics_collect(struct tl_bpf *b, struct tl_metrics *m);
void tl_metrics_format(FILE *f, const struct tl_metrics *m);
/* Writes path atomically; returns 0 or a negative errno. */
int tl_metrics_write(const char *path, const struct tl_metrics *m);
/* Writes what fn formats to path atomically (a temporary file in the same
 * directory, then rename); 0 or a negative errno. */
typedef void (*tl_textfile_fn)(FILE *f, const void *ctx);
int tl_textfile_write(const char *path, tl_textfile_fn fn, const void *ctx);

#endif
