/* Metrics for Prometheus: histograms and counters that any thread adds to
 * without a lock (relaxed atomics), and their rendering in the text
 * exposition format 0.0.4. The process-wide figures of the store live
 * here too, so that the store core adds to them without knowing HTTP,
 * and the HTTP layer renders them without knowing the store. */
#ifndef EXPORTD_METRICS_H
#define EXPORTD_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/buf.h"

#define METRICS_BUCKETS_MAX	16

/* Upper bounds of a histogram's buckets, in whole units (µs, records),
 * ascending; scale divides them (and the sum) when rendered: 1e6 turns
 * µs into seconds. */
struct metrics_bounds {
	const int64_t	*le;
	int		 n;		/* bounds, at most METRICS_BUCKETS_MAX - 1 */
	double		 scale;
};

/* Counts per bucket (not cumulative: each observation adds to one), the
 * last one for observations past every bound (+Inf). */
struct metrics_hist {
	_Atomic uint64_t	counts[METRICS_BUCKETS_MAX];
	_Atomic uint64_t	sum;
};

extern const struct metrics_bounds metrics_latency;	/* µs, as seconds */
extern const struct metrics_bounds metrics_batch;	/* writes per batch */

void	 metrics_observe(struct metrics_hist *, const struct metrics_bounds *,
	    int64_t v);
/* Observations in a histogram (the sum of its buckets). */
uint64_t metrics_hist_count(const struct metrics_hist *);

/* Rendering. A family's "# HELP" and "# TYPE" lines: */
void	 metrics_family(struct buf *, const char *name, const char *type,
	    const char *help);
/* One histogram's _bucket, _sum and _count lines; labels is a label list
 * without braces ("route=\"/v1/x\"") or "". +Inf equals _count. */
void	 metrics_hist_render(struct buf *, const char *name,
	    const char *labels, const struct metrics_hist *,
	    const struct metrics_bounds *);
/* A label value with '\\', '"' and newlines escaped. */
void	 metrics_label_value(struct buf *, const char *);

/* The store's figures, added to by the store core and its drivers. */
struct metrics_store {
	struct metrics_hist	 batch_writes;	/* writes per commit */
	struct metrics_hist	 commit_us;	/* BEGIN to COMMIT of a batch */
	_Atomic uint64_t	 errors;	/* statements that failed */
	_Atomic uint64_t	 reconnects;	/* lost connections made again */
	/* Inbox records waiting: a base counted by the store, plus the
	 * records committed and acknowledged here since (delta). dirty says
	 * the base must be counted again (an export and its inbox were
	 * deleted). */
	_Atomic int64_t		 inbox_base;
	_Atomic int64_t		 inbox_delta;
	_Atomic int64_t		 inbox_counted_ms;	/* 0: never */
	atomic_int		 inbox_dirty;
	atomic_int		 inbox_counting;	/* one scrape counts at a time */
};

extern struct metrics_store metrics_store;

/* A committed batch of n writes that took us from BEGIN to COMMIT. */
void	 metrics_store_batch(int n, int64_t us);
void	 metrics_store_error(void);
void	 metrics_store_reconnect(void);
/* Records added (n > 0) to or taken (n < 0) from inboxes, committed. */
void	 metrics_inbox_add(int64_t n);
void	 metrics_inbox_dirty(void);
/* Records waiting in every inbox: the base, counted again by count(arg,
 * &n) (0 on success) when it is older than METRICS_INBOX_RECOUNT_MS or
 * dirty, plus what committed here since. -1 while it was never counted. */
#define METRICS_INBOX_RECOUNT_MS	30000
int64_t	 metrics_inbox_depth(int (*count)(void *, int64_t *), void *arg);

#endif
