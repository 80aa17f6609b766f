/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where the event feed goes: stdout or a file, written without ever
 * blocking the agent. A consumer that reads slowly or not at all (a full
 * pipe, a stuck log shipper) fills a bounded buffer; past it whole lines
 * are dropped and counted, and the agent goes on following interfaces,
 * tunnels and reloads. Enforcement is in the kernel and never waits on it.
 */
#ifndef TUNLOCK_OUTPUT_H
#define TUNLOCK_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TL_OUTPUT_BUFFER (1u << 20)

struct tl_output {
	char *path; /* NULL: stdout */
	int fd;
	bool pollable; /* pipe, socket or terminal: wait for it to drain */
	char *buf;
	size_t len;
	uint64_t written; /* lines handed to the kernel */
	uint64_t dropped; /* lines dropped: the buffer was full */
	uint64_t queued;  /* lines in buf, not yet written */
};

/* path NULL or "-": stdout. Opens the file for appending (0640). */
int tl_output_open(struct tl_output *o, const char *path);
/* SIGUSR1: the file was rotated away; open it anew at its path. */
int tl_output_reopen(struct tl_output *o);
/* Queues one whole line (with its '\n'); false when dropped. */
bool tl_output_line(struct tl_output *o, const char *line, size_t len);
/* Writes what it can without blocking; true when something is left. */
bool tl_output_flush(struct tl_output *o);
void tl_output_close(struct tl_output *o);

#endif
