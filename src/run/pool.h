/* The worker threads that runs of exports happen on: a bounded queue of
 * jobs, each given the worker's own fetch_client, so that a request
 * waiting on a remote API never holds a thread that serves requests. */
#ifndef EXPORTD_RUN_POOL_H
#define EXPORTD_RUN_POOL_H

#include <stddef.h>

#include "run/egress.h"
#include "run/fetch.h"

struct run_pool;

typedef void (*run_job_fn)(void *arg, struct fetch_client *);

/* A pool of nthreads workers (started on the first job) and a queue of
 * at most max_queue waiting jobs. The policy must outlive the pool. */
struct run_pool	*run_pool_new(unsigned nthreads, size_t max_queue,
		    const struct egress *, const struct fetch_limits *);
/* Queue fn(arg, client) for a worker: 0, or -1 if the queue is full. */
int		 run_pool_submit(struct run_pool *, run_job_fn, void *arg);
/* Run what is queued, stop the workers and free the pool. */
void		 run_pool_free(struct run_pool *);

#endif
