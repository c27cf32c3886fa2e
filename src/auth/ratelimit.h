/* Per-token rate limit: a token bucket of `burst` requests refilled at
 * `rate` per second, kept as one GCRA timestamp per token and updated with
 * a compare-and-swap, so the limiter takes no lock on the request path. */
#ifndef EXPORTD_RATELIMIT_H
#define EXPORTD_RATELIMIT_H

#include <stdatomic.h>
#include <stdint.h>

#define RATELIMIT_SLOTS	65536	/* tokens tracked at once (power of two) */
#define RATELIMIT_PROBES 32

struct ratelimit_slot {
	_Atomic uint64_t key;	/* 0: free */
	_Atomic uint64_t tat;	/* theoretical arrival time, ns */
};

struct ratelimit {
	uint64_t		 interval_ns;	/* 1 / rate */
	uint64_t		 tolerance_ns;	/* interval * (burst - 1) */
	uint64_t		(*now_ns)(void *);	/* the clock (tests inject one) */
	void			*clock_arg;
	struct ratelimit_slot	*slots;
};

/* rate 0 disables limiting. now_ns NULL: CLOCK_MONOTONIC. */
void	ratelimit_init(struct ratelimit *, long burst, long rate,
	    uint64_t (*now_ns)(void *), void *clock_arg);
void	ratelimit_free(struct ratelimit *);
/* Take one request for key (any non-zero 64-bit value). Returns 0 if
 * allowed, else the whole seconds to wait before a retry (at least 1). */
long	ratelimit_take(struct ratelimit *, uint64_t key);

#endif
