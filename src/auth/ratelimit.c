/* GCRA rate limiting: equivalent to a token bucket of `burst` refilled at
 * `rate` per second, with one 64-bit word of state per key. */
#include <stdlib.h>
#include <time.h>

#include "auth/ratelimit.h"
#include "util/xmalloc.h"

static uint64_t
mono_ns(void *arg)
{
	struct timespec	ts;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void
ratelimit_init(struct ratelimit *rl, long burst, long rate,
    uint64_t (*now_ns)(void *), void *clock_arg)
{
	rl->now_ns = now_ns != NULL ? now_ns : mono_ns;
	rl->clock_arg = clock_arg;
	rl->slots = NULL;
	rl->interval_ns = 0;
	rl->tolerance_ns = 0;
	if (rate <= 0 || burst <= 0)
		return;
	rl->interval_ns = 1000000000ull / (uint64_t)rate;
	if (rl->interval_ns == 0)
		rl->interval_ns = 1;
	rl->tolerance_ns = rl->interval_ns * (uint64_t)(burst - 1);
	rl->slots = xcalloc(RATELIMIT_SLOTS, sizeof(*rl->slots));
}

void
ratelimit_free(struct ratelimit *rl)
{
	free(rl->slots);
	rl->slots = NULL;
}

/* The slot of a key, claimed if new. When every probed slot holds other
 * keys, the last one is shared: limiting stays on, only coarser. */
static struct ratelimit_slot *
slot_get(struct ratelimit *rl, uint64_t key)
{
	struct ratelimit_slot	*s = NULL;
	uint64_t		 i, h, want;

	h = key * 0x9e3779b97f4a7c15ull;
	for (i = 0; i < RATELIMIT_PROBES; i++) {
		s = &rl->slots[(h + i) & (RATELIMIT_SLOTS - 1)];
		want = atomic_load_explicit(&s->key, memory_order_acquire);
		if (want == key)
			return s;
		if (want == 0) {
			if (atomic_compare_exchange_strong(&s->key, &want, key) ||
			    want == key)
				return s;
		}
	}
	return s;
}

long
ratelimit_take(struct ratelimit *rl, uint64_t key)
{
	struct ratelimit_slot	*s;
	uint64_t		 now, tat, old, wait;

	if (rl->slots == NULL)
		return 0;
	s = slot_get(rl, key != 0 ? key : 1);
	now = rl->now_ns(rl->clock_arg);
	old = atomic_load_explicit(&s->tat, memory_order_relaxed);
	for (;;) {
		tat = old > now ? old : now;
		if (tat - now > rl->tolerance_ns) {
			wait = tat - now - rl->tolerance_ns;
			return (long)((wait + 999999999ull) / 1000000000ull);
		}
		if (atomic_compare_exchange_weak(&s->tat, &old,
		    tat + rl->interval_ns))
			return 0;
	}
}
