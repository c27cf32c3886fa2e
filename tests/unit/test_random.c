/* Unit tests for util/random. */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util/random.h"

#define BIG (1024 * 1024)

/* Longest run of one byte value: long runs mean the buffer was not filled. */
static size_t
longest_run(const unsigned char *p, size_t len)
{
	size_t	i, run = 1, best = 1;

	for (i = 1; i < len; i++) {
		run = p[i] == p[i - 1] ? run + 1 : 1;
		if (run > best)
			best = run;
	}
	return best;
}

Test(random, fills_small_and_large_buffers)
{
	unsigned char	*a = calloc(1, BIG), *b = calloc(1, BIG);

	cr_assert(a != NULL && b != NULL);
	random_bytes(a, 5);
	random_bytes(a + 5, BIG - 5);
	random_bytes(b, BIG);
	/* every part filled, the tail of a large read included */
	cr_expect_lt(longest_run(a, BIG), 8);
	cr_expect_lt(longest_run(b + BIG - 4096, 4096), 8);
	cr_expect_neq(memcmp(a, b, BIG), 0);
	free(a);
	free(b);
}

Test(random, zero_length_is_a_no_op)
{
	unsigned char	c = 0x5a;

	random_bytes(&c, 0);
	cr_expect_eq(c, 0x5a);
}
