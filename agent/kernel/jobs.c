// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include <malloc.h>

#include "jobs.h"

static void *run_job(void *arg)
{
	struct tl_job *j = arg;

	j->err = j->run(j->arg);
	return NULL;
}

void tl_job_start(struct tl_job *job)
{
	/* one malloc arena for the jobs' threads too: what they free goes
	 * back to the arena the daemon trims once enforcing (a thread's own
	 * arena would keep it: RSS 18 MB instead of 7) */
	mallopt(M_ARENA_MAX, 1);
	job->threaded = !pthread_create(&job->thread, NULL, run_job, job);
	if (!job->threaded)
		run_job(job);
}

int tl_job_wait(struct tl_job *job)
{
	if (job->threaded)
		pthread_join(job->thread, NULL);
	job->threaded = false;
	return job->err;
}

int tl_jobs_run(struct tl_job *jobs, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n; i++)
		tl_job_start(&jobs[i]);
	for (size_t i = 0; i < n; i++) {
		int e = tl_job_wait(&jobs[i]);

		err = err ?: e;
	}
	return err;
}
