/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The feed's formats (docs/events.md): tunlock's own JSON lines, or the
 * same facts as Elastic Common Schema documents; and the summary that says,
 * per interval and reason, how many events were suppressed by the rate
 * limit, lost to a full ring buffer or dropped by a stuck consumer.
 */
#ifndef TUNLOCK_FEED_H
#define TUNLOCK_FEED_H

#include <stddef.h>
#include <stdint.h>

#include "events.h"

#define TL_ECS_VERSION "8.11.0"

enum tl_feed_format {
	TL_FEED_NATIVE = 0,
	TL_FEED_ECS,
};

/* "tunlock" or "ecs"; -1 for anything else. */
int tl_feed_format_parse(const char *s, enum tl_feed_format *out);

/* One ECS document (with '\n'); its length, or -1 when len is too small. */
int tl_event_format_ecs(const struct tl_event *ev,
			const struct tl_event_context *ctx, char *buf,
			size_t len);

struct tl_json;
/* An ECS document's head, up to its open "event" object. */
void tl_ecs_head(struct tl_json *j, uint64_t time_ns, const char *kind,
		 const char *category, const char *type);
/* Ends the "event" object: tunlock's module and the document's dataset
 * (tunlock.leak, tunlock.summary, ...). */
void tl_ecs_event_end(struct tl_json *j, const char *dataset);

/* What the events of one reason became over one interval. */
struct tl_summary {
	uint32_t reason;
	uint32_t generation;
	uint64_t start_ns, end_ns; /* CLOCK_REALTIME */
	uint64_t decisions;	   /* leak verdicts counted, all layers */
	uint64_t emitted, suppressed, lost; /* by the kernel */
	uint64_t dropped; /* emitted, but the output was full */
	uint64_t unformatted; /* emitted, but its line could not be made */
};

int tl_summary_format(const struct tl_summary *s, enum tl_feed_format f,
		      char *buf, size_t len);

/*
 * Pinned state that someone else changed, and what the agent did about it
 * (docs/events.md, kind "integrity").
 */
struct tl_integrity_event {
	uint64_t time_ns;   /* CLOCK_REALTIME */
	const char *object; /* "link", "settings" */
	const char *name;   /* tl_connect4, tl_settings, tl_state */
	const char *found;  /* unpinned, replaced, detached, rewritten */
	const char *action; /* repinned, reattached, restored, failed */
	uint32_t generation;
};

int tl_integrity_format(const struct tl_integrity_event *x,
			enum tl_feed_format f, char *buf, size_t len);

/* Running totals per reason, from the kernel's counters. */
struct tl_feed_totals {
	uint64_t decisions[TL_REASON_MAX];
	uint64_t ev[TL_REASON_MAX][TL_EVSTAT_MAX];
};

int tl_feed_read_totals(int counters_fd, int evstats_fd,
			struct tl_feed_totals *t);

#endif
