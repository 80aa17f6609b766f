/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The telemetry feed: ring-buffer events as one JSON object per line. */
#ifndef TUNLOCK_EVENTS_H
#define TUNLOCK_EVENTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "tunlock.h"

#define TL_EVENT_SCHEMA 1
/* Room for one line: every field is cut to fit (json.h TL_JSON_FIELD_MAX). */
#define TL_EVENT_LINE_MAX 4096

/* What the kernel event does not carry, resolved by the agent. */
struct tl_event_context {
	int64_t boot_to_real_ns; /* CLOCK_REALTIME - CLOCK_BOOTTIME */
	const char *ifname;	 /* NULL when unknown */
	const char *cgroup;	 /* NULL when unknown */
	const char *profile;	 /* NULL when unknown */
};

/* Formats ev as one JSON line (with '\n'). Returns its length, or -1 when
 * len is too small. */
int tl_event_format(const struct tl_event *ev,
		    const struct tl_event_context *ctx, char *buf, size_t len);

struct ring_buffer;
struct tl_policy;
struct tl_output;

struct tl_events {
	struct ring_buffer *rb;
	struct tl_output *out;
	int format; /* enum tl_feed_format (feed.h) */
	const struct tl_policy *policy;
	const char *cg_mount;
	uint64_t emitted;
	uint64_t dropped[TL_REASON_MAX]; /* the output was full */
	uint64_t unformatted[TL_REASON_MAX]; /* the line could not be made */
	size_t line_max; /* 0: TL_EVENT_LINE_MAX (less only in tests) */
};

int tl_events_open(struct tl_events *e, int ringbuf_fd, struct tl_output *out,
		   const char *cg_mount);
int tl_events_fd(struct tl_events *e);
/* Formats one event and queues its line; a line that cannot be made or
 * queued is counted (unformatted, dropped) by its reason. 0 or -1. */
int tl_events_write(struct tl_events *e, const struct tl_event *ev,
		    const struct tl_event_context *ctx);
/* Writes every event waiting in the ring buffer. */
int tl_events_drain(struct tl_events *e);
void tl_events_close(struct tl_events *e);

#endif
