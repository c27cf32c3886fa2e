/* The rate limiter's arithmetic, on a clock the test moves by hand. */
#include <criterion/criterion.h>

#include "auth/ratelimit.h"

static uint64_t fake_now;

static uint64_t
fake_clock(void *arg)
{
	(void)arg;
	return fake_now;
}

#define SEC 1000000000ull

Test(ratelimit, burst_then_refuse)
{
	struct ratelimit	rl;
	int			i;

	fake_now = 5 * SEC;
	ratelimit_init(&rl, 1000, 300, fake_clock, NULL);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(ratelimit_take(&rl, 42), 0, "request %d refused", i);
	cr_assert_eq(ratelimit_take(&rl, 42), 1);
	/* another token has its own bucket */
	cr_assert_eq(ratelimit_take(&rl, 43), 0);
	ratelimit_free(&rl);
}

Test(ratelimit, refill_rate)
{
	struct ratelimit	rl;
	int			i, ok;

	fake_now = 0;
	ratelimit_init(&rl, 1000, 300, fake_clock, NULL);
	for (i = 0; i < 1000; i++)
		cr_assert_eq(ratelimit_take(&rl, 7), 0);
	cr_assert_neq(ratelimit_take(&rl, 7), 0);
	/* one second later about 300 requests fit again, not 301 */
	fake_now += SEC;
	for (ok = 0; ratelimit_take(&rl, 7) == 0; ok++)
		cr_assert_lt(ok, 1000);
	cr_assert(ok == 300 || ok == 301, "refilled %d", ok);
	ratelimit_free(&rl);
}

Test(ratelimit, full_after_idle)
{
	struct ratelimit	rl;
	int			i;

	fake_now = 0;
	ratelimit_init(&rl, 10, 5, fake_clock, NULL);
	for (i = 0; i < 10; i++)
		cr_assert_eq(ratelimit_take(&rl, 1), 0);
	cr_assert_neq(ratelimit_take(&rl, 1), 0);
	fake_now += 60 * SEC;	/* long idle: back to a full bucket, no more */
	for (i = 0; i < 10; i++)
		cr_assert_eq(ratelimit_take(&rl, 1), 0);
	cr_assert_neq(ratelimit_take(&rl, 1), 0);
	ratelimit_free(&rl);
}

Test(ratelimit, retry_after_whole_seconds)
{
	struct ratelimit	rl;
	int			i;

	fake_now = 0;
	/* burst 2, one request every 4 seconds */
	ratelimit_init(&rl, 2, 1, fake_clock, NULL);
	rl.interval_ns = 4 * SEC;
	rl.tolerance_ns = rl.interval_ns;
	for (i = 0; i < 2; i++)
		cr_assert_eq(ratelimit_take(&rl, 9), 0);
	cr_assert_eq(ratelimit_take(&rl, 9), 4);
	fake_now += SEC + 1;
	cr_assert_eq(ratelimit_take(&rl, 9), 3);
	fake_now += 3 * SEC - 1;
	cr_assert_eq(ratelimit_take(&rl, 9), 0);
	ratelimit_free(&rl);
}

Test(ratelimit, disabled)
{
	struct ratelimit	rl;
	int			i;

	ratelimit_init(&rl, 1000, 0, fake_clock, NULL);
	for (i = 0; i < 5000; i++)
		cr_assert_eq(ratelimit_take(&rl, 3), 0);
	ratelimit_free(&rl);
}
