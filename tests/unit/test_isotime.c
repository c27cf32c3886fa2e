/* Unit tests for util/isotime. */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util/isotime.h"

#define MS_MIN	INT64_C(-62167219200000)	/* 0000-01-01T00:00:00.000Z */
#define MS_MAX	INT64_C(253402300799999)	/* 9999-12-31T23:59:59.999Z */

static void
check(int64_t ms, const char *s)
{
	char	out[ISOTIME_LEN + 1];
	int64_t	back = -42;

	memset(out, 'X', sizeof out);
	cr_assert_eq(isotime_format(ms, out), 0, "format %lld",
	    (long long)ms);
	cr_assert_str_eq(out, s);
	cr_assert_eq(isotime_parse(s, &back), 0, "parse %s", s);
	cr_assert_eq(back, ms, "parse %s: %lld != %lld", s, (long long)back,
	    (long long)ms);
}

static void
reject(const char *s)
{
	int64_t	ms = 12345;

	cr_assert_eq(isotime_parse(s, &ms), -1, "accepted \"%s\"", s);
	cr_assert_eq(ms, 12345);
}

Test(isotime, known_instants)
{
	check(INT64_C(1511897824180), "2017-11-28T19:37:04.180Z");
	check(0, "1970-01-01T00:00:00.000Z");
	check(1, "1970-01-01T00:00:00.001Z");
	check(-1, "1969-12-31T23:59:59.999Z");
	check(INT64_C(1709164800000), "2024-02-29T00:00:00.000Z");
	check(INT64_C(1709251199999), "2024-02-29T23:59:59.999Z");
	check(INT64_C(1709251200000), "2024-03-01T00:00:00.000Z");
	check(INT64_C(951782400000), "2000-02-29T00:00:00.000Z");
	check(INT64_C(4107542400000), "2100-03-01T00:00:00.000Z");
	check(INT64_C(253402214400000), "9999-12-31T00:00:00.000Z");
	check(MS_MAX, "9999-12-31T23:59:59.999Z");
	check(MS_MIN, "0000-01-01T00:00:00.000Z");
	check(INT64_C(-62162121600000), "0000-02-29T00:00:00.000Z");
	check(INT64_C(-2208988800000), "1900-01-01T00:00:00.000Z");
}

Test(isotime, out_of_range)
{
	char	out[ISOTIME_LEN + 1];

	cr_assert_eq(isotime_format(MS_MAX + 1, out), -1);
	cr_assert_eq(isotime_format(MS_MIN - 1, out), -1);
	cr_assert_eq(isotime_format(INT64_MAX, out), -1);
	cr_assert_eq(isotime_format(INT64_MIN, out), -1);
}

/* Compare with glibc's gmtime_r and timegm over the whole range. */
Test(isotime, agrees_with_libc)
{
	char		 out[ISOTIME_LEN + 1], want[64];
	struct tm	 tm;
	time_t		 secs;
	int64_t		 ms, back, span = MS_MAX - MS_MIN;
	int		 i;

	srand(12345);
	for (i = 0; i < 200000; i++) {
		ms = MS_MIN + (int64_t)(((uint64_t)rand() << 31 ^
		    (uint64_t)rand()) % (uint64_t)span);
		secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
		cr_assert_not_null(gmtime_r(&secs, &tm));
		snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		    tm.tm_min, tm.tm_sec, (int)(ms - (int64_t)secs * 1000));
		cr_assert_eq(isotime_format(ms, out), 0);
		cr_assert_str_eq(out, want, "ms %lld", (long long)ms);
		cr_assert_eq(isotime_parse(out, &back), 0);
		cr_assert_eq(back, ms);
		cr_assert_eq(timegm(&tm), secs);
	}
}

Test(isotime, parse_rejects)
{
	reject("");
	reject("2017-11-28T19:37:04.180");
	reject("2017-11-28T19:37:04.180z");
	reject("2017-11-28T19:37:04.180Z ");
	reject("2017-11-28T19:37:04.180Z\n");
	reject(" 2017-11-28T19:37:04.180Z");
	reject("2017-11-28 19:37:04.180Z");
	reject("2017-11-28t19:37:04.180Z");
	reject("2017-11-28T19:37:04Z");
	reject("2017-11-28T19:37:04.18Z");
	reject("2017-11-28T19:37:04.1800Z");
	reject("2017-11-28T19:37:04,180Z");
	reject("2017-11-28T19:37:04.180+00:00");
	reject("2017/11/28T19:37:04.180Z");
	reject("17-11-28T19:37:04.180Z");
	reject("+017-11-28T19:37:04.180Z");
	reject("-017-11-28T19:37:04.180Z");
	reject("2017-1a-28T19:37:04.180Z");
	reject("2017-11-28T19:37:04.-80Z");
	reject("2017-00-28T19:37:04.180Z");
	reject("2017-13-28T19:37:04.180Z");
	reject("2017-11-00T19:37:04.180Z");
	reject("2017-11-31T19:37:04.180Z");
	reject("2017-04-31T00:00:00.000Z");
	reject("2017-01-32T00:00:00.000Z");
	reject("2017-02-29T00:00:00.000Z");
	reject("1900-02-29T00:00:00.000Z");
	reject("2100-02-29T00:00:00.000Z");
	reject("2024-02-30T00:00:00.000Z");
	reject("2017-11-28T24:00:00.000Z");
	reject("2017-11-28T23:60:00.000Z");
	reject("2017-11-28T23:59:60.000Z");
	reject("２017-11-28T19:37:04.180Z");
}

Test(isotime, clocks)
{
	char	out[ISOTIME_LEN + 1];
	int64_t	now, a, b;

	now = isotime_now_ms();
	cr_assert_gt(now, INT64_C(1500000000000));
	cr_assert_lt(now, MS_MAX);
	cr_assert_leq(now / 1000 - 1, (int64_t)time(NULL));
	cr_assert_eq(isotime_format(now, out), 0);
	a = isotime_mono_us();
	b = isotime_mono_us();
	cr_assert_geq(b, a);
}
