// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#include "jobs.h"

static void *run_job(void *arg)
{
	struct tl_job *j = arg;

	j->err = j->run(j->arg);
	return NULL;
}

int tl_jobs_run(struct tl_job *jobs, size_t n)
{
	int err = 0;

	for (size_t i = 0; i < n; i++)
		jobs[i].threaded =
		    !pthread_create(&jobs[i].thread, NULL, run_job, &jobs[i]);
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].threaded)
			pthread_join(jobs[i].thread, NULL);
		else
			run_job(&jobs[i]);
		if (!err)
			err = jobs[i].err;
	}
	return err;
}
