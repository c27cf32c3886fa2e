/* Unit tests for util/number. */

#include <stdint.h>
#include <string.h>

#include <criterion/criterion.h>

#include "util/number.h"

static int
parse(const char *s, int64_t *out)
{
	return number_parse(s, strlen(s), out);
}

Test(number, accepts_plain_digits)
{
	int64_t	n = -1;

	cr_assert_eq(parse("0", &n), 0);
	cr_assert_eq(n, 0);
	cr_assert_eq(parse("17", &n), 0);
	cr_assert_eq(n, 17);
	cr_assert_eq(parse("007", &n), 0);
	cr_assert_eq(n, 7);
	cr_assert_eq(parse("9223372036854775807", &n), 0);
	cr_assert_eq(n, INT64_MAX);
}

Test(number, refuses_anything_else)
{
	static const char *const bad[] = {
		"", " 5", "\n5", "\t5", "5 ", "+5", "-1", "-0", "5x", "x5",
		"1.5", "1e3", "0x10", "9223372036854775808",
		"99999999999999999999", "١",
	};
	int64_t	n = 42;
	size_t	i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(parse(bad[i], &n), -1, "accepted \"%s\"", bad[i]);
		cr_assert_eq(n, 42, "changed the output for \"%s\"", bad[i]);
	}
	cr_assert_eq(number_parse(NULL, 0, &n), -1);
}

Test(number, length_is_explicit)
{
	int64_t	n = 0;

	/* a NUL inside the value is not the end of it */
	cr_assert_eq(number_parse("5\0" "6", 3, &n), -1);
	cr_assert_eq(number_parse("56", 1, &n), 0);
	cr_assert_eq(n, 5);
}
