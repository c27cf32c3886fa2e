/*
 * The workers of runs (pool.h). Threads start with the first job, so a
 * server that never runs an export never starts them; each makes its
 * fetch_client once and keeps it, with its open connections, for life.
 */
#include <pthread.h>
#include <stdlib.h>

#include "run/pool.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct pool_job {
	run_job_fn	 fn;
	void		*arg;
};

struct run_pool {
	pthread_mutex_t		 lock;
	pthread_cond_t		 more;
	struct pool_job		*q;	/* ring of max_queue */
	size_t			 max_queue, head, n;
	pthread_t		*threads;
	unsigned		 nthreads, started;
	int			 stopping;
	const struct egress	*egress;
	struct fetch_limits	 limits;
};

struct run_pool *
run_pool_new(unsigned nthreads, size_t max_queue, const struct egress *e,
    const struct fetch_limits *lim)
{
	struct run_pool	*p = xcalloc(1, sizeof *p);

	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->more, NULL);
	p->nthreads = nthreads > 0 ? nthreads : 1;
	p->max_queue = max_queue > 0 ? max_queue : 1;
	p->q = xcalloc(p->max_queue, sizeof *p->q);
	p->threads = xcalloc(p->nthreads, sizeof *p->threads);
	p->egress = e;
	p->limits = *lim;
	return p;
}

static void *
pool_worker(void *arg)
{
	struct run_pool		*p = arg;
	struct fetch_client	*fc;
	struct pool_job		 job;

	fc = fetch_client_new(p->egress, &p->limits);
	pthread_mutex_lock(&p->lock);
	for (;;) {
		while (p->n == 0 && !p->stopping)
			pthread_cond_wait(&p->more, &p->lock);
		if (p->n == 0)
			break;
		job = p->q[p->head];
		p->head = (p->head + 1) % p->max_queue;
		p->n--;
		pthread_mutex_unlock(&p->lock);
		job.fn(job.arg, fc);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	fetch_client_free(fc);
	return NULL;
}

int
run_pool_submit(struct run_pool *p, run_job_fn fn, void *arg)
{
	int	 rc = -1;

	pthread_mutex_lock(&p->lock);
	while (p->started < p->nthreads) {
		if (pthread_create(&p->threads[p->started], NULL, pool_worker,
		    p) != 0) {
			log_error("runs: cannot start a worker thread");
			break;
		}
		p->started++;
	}
	if (p->started > 0 && p->n < p->max_queue && !p->stopping) {
		p->q[(p->head + p->n) % p->max_queue] =
		    (struct pool_job){ fn, arg };
		p->n++;
		pthread_cond_signal(&p->more);
		rc = 0;
	}
	pthread_mutex_unlock(&p->lock);
	return rc;
}

void
run_pool_free(struct run_pool *p)
{
	unsigned	 i;

	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->more);
	pthread_mutex_unlock(&p->lock);
	for (i = 0; i < p->started; i++)
		pthread_join(p->threads[i], NULL);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->more);
	free(p->q);
	free(p->threads);
	free(p);
}
