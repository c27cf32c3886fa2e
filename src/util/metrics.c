/* Lock-free histograms and counters, rendered as Prometheus text. */
#include <stdio.h>
#include <string.h>

#include "util/isotime.h"
#include "util/metrics.h"

/* Latency: 250 µs to 10 s. */
static const int64_t latency_le[] = {
	250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000,
	500000, 1000000, 2500000, 5000000, 10000000,
};
const struct metrics_bounds metrics_latency = {
	latency_le, sizeof(latency_le) / sizeof(latency_le[0]), 1e6
};

/* Writes per group commit: 1 to LIMIT_WRITE_BATCH and past it. */
static const int64_t batch_le[] = {
	1, 2, 4, 8, 16, 32, 64, 128, 256, 512,
};
const struct metrics_bounds metrics_batch = {
	batch_le, sizeof(batch_le) / sizeof(batch_le[0]), 1
};

struct metrics_store metrics_store;

void
metrics_observe(struct metrics_hist *h, const struct metrics_bounds *b,
    int64_t v)
{
	int	i;

	if (v < 0)
		v = 0;
	for (i = 0; i < b->n && v > b->le[i]; i++)
		;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum, (uint64_t)v, memory_order_relaxed);
}

uint64_t
metrics_hist_count(const struct metrics_hist *h)
{
	uint64_t	n = 0;
	int		i;

	for (i = 0; i < METRICS_BUCKETS_MAX; i++)
		n += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
	return n;
}

void
metrics_family(struct buf *b, const char *name, const char *type,
    const char *help)
{
	buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void
metrics_label_value(struct buf *b, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\' || *s == '"')
			buf_addc(b, '\\');
		if (*s == '\n')
			buf_adds(b, "\\n");
		else
			buf_addc(b, *s);
	}
}

/* A bound or a sum in the rendered unit: 15 significant digits print
 * 0.00025 as it was written, whole numbers without a fraction. */
static void
metrics_number(char *out, size_t outsz, double v)
{
	snprintf(out, outsz, "%.15g", v);
}

void
metrics_hist_render(struct buf *b, const char *name, const char *labels,
    const struct metrics_hist *h, const struct metrics_bounds *bd)
{
	const char	*sep = labels[0] != '\0' ? "," : "";
	uint64_t	 cum = 0;
	char		 num[40];
	int		 i;

	for (i = 0; i <= bd->n; i++) {
		cum += atomic_load_explicit(&h->counts[i],
		    memory_order_relaxed);
		if (i < bd->n)
			metrics_number(num, sizeof(num),
			    (double)bd->le[i] / bd->scale);
		else
			strcpy(num, "+Inf");
		buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels,
		    sep, num, (unsigned long long)cum);
	}
	metrics_number(num, sizeof(num), (double)atomic_load_explicit(&h->sum,
	    memory_order_relaxed) / bd->scale);
	if (labels[0] != '\0') {
		buf_printf(b, "%s_sum{%s} %s\n", name, labels, num);
		buf_printf(b, "%s_count{%s} %llu\n", name, labels,
		    (unsigned long long)cum);
	} else {
		buf_printf(b, "%s_sum %s\n", name, num);
		buf_printf(b, "%s_count %llu\n", name,
		    (unsigned long long)cum);
	}
}

void
metrics_store_batch(int n, int64_t us)
{
	metrics_observe(&metrics_store.batch_writes, &metrics_batch, n);
	metrics_observe(&metrics_store.commit_us, &metrics_latency, us);
}

void
metrics_store_error(void)
{
	atomic_fetch_add_explicit(&metrics_store.errors, 1,
	    memory_order_relaxed);
}

void
metrics_store_reconnect(void)
{
	atomic_fetch_add_explicit(&metrics_store.reconnects, 1,
	    memory_order_relaxed);
}

void
metrics_inbox_add(int64_t n)
{
	atomic_fetch_add_explicit(&metrics_store.inbox_delta, n,
	    memory_order_relaxed);
}

void
metrics_inbox_dirty(void)
{
	atomic_store_explicit(&metrics_store.inbox_dirty, 1,
	    memory_order_relaxed);
}

/* One scrape at a time counts; the others use the count they find. The
 * delta is taken before counting, so a commit during the count is at
 * worst counted twice until the next count. */
int64_t
metrics_inbox_depth(int (*count)(void *, int64_t *), void *arg)
{
	struct metrics_store	*m = &metrics_store;
	int64_t			 now = isotime_mono_us() / 1000, n, delta;
	int			 idle = 0;

	if ((atomic_load(&m->inbox_dirty) || atomic_load(&m->inbox_counted_ms)
	    == 0 || now - atomic_load(&m->inbox_counted_ms) >=
	    METRICS_INBOX_RECOUNT_MS) &&
	    atomic_compare_exchange_strong(&m->inbox_counting, &idle, 1)) {
		atomic_store(&m->inbox_dirty, 0);
		delta = atomic_exchange(&m->inbox_delta, 0);
		if (count(arg, &n) == 0) {
			atomic_store(&m->inbox_base, n);
			atomic_store(&m->inbox_counted_ms, now > 0 ? now : 1);
		} else {
			atomic_fetch_add(&m->inbox_delta, delta);
			atomic_store(&m->inbox_dirty, 1);
		}
		atomic_store(&m->inbox_counting, 0);
	}
	if (atomic_load(&m->inbox_counted_ms) == 0)
		return -1;
	return atomic_load(&m->inbox_base) + atomic_load(&m->inbox_delta);
}
