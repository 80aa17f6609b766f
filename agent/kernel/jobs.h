/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Work that runs side by side: the verifier's loads of the layers, the
 * policy tables' fills, and their writes into maps of maps (each of which
 * the kernel follows with an RCU grace period). Each job runs on a thread
 * of its own; one whose thread cannot start runs on the caller's.
 */
#ifndef TUNLOCK_JOBS_H
#define TUNLOCK_JOBS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

struct tl_job {
	int (*run)(void *arg); /* 0 or -errno */
	void *arg;
	int err;	       /* what run returned */
	pthread_t thread;
	bool threaded;
};

/* Runs every job and waits for all; the first error in job order, or 0. */
int tl_jobs_run(struct tl_job *jobs, size_t n);
/* One job started (or, when no thread starts, run at once) ... */
void tl_job_start(struct tl_job *job);
/* ... and waited for: what it returned. */
int tl_job_wait(struct tl_job *job);

#endif
