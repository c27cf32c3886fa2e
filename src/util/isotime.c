/* ISO 8601 UTC timestamps with milliseconds, without locale or time zones. */

#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/isotime.h"

#define MS_PER_DAY	INT64_C(86400000)
/* 0000-01-01 and 10000-01-01 in days since 1970-01-01. */
#define DAYS_MIN	INT64_C(-719528)
#define DAYS_MAX	INT64_C(2932897)

static int64_t	days_from_civil(int64_t, unsigned, unsigned);
static void	civil_from_days(int64_t, int64_t *, unsigned *, unsigned *);
static int	days_in_month(int64_t, unsigned);
static int	parse_digits(const char *, size_t, unsigned *);

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t		era;
	unsigned	yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	int64_t		era;
	unsigned	doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int
days_in_month(int64_t y, unsigned m)
{
	static const int	days[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int			leap;

	leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (m == 2)
		return 28 + leap;
	return days[m - 1];
}

/* Read exactly n ASCII digits; -1 if any is not a digit. */
static int
parse_digits(const char *s, size_t n, unsigned *v)
{
	size_t	i;

	*v = 0;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned)(s[i] - '0');
	}
	return 0;
}

int64_t
isotime_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
isotime_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int
isotime_format(int64_t ms, char out[ISOTIME_LEN + 1])
{
	int64_t		days, rem, y;
	unsigned	m, d, v[7];
	static const struct {
		size_t	off, n;
	} f[7] = {
		{ 0, 4 }, { 5, 2 }, { 8, 2 }, { 11, 2 }, { 14, 2 }, { 17, 2 },
		{ 20, 3 }
	};
	size_t		i, j;

	if (ms < DAYS_MIN * MS_PER_DAY || ms >= DAYS_MAX * MS_PER_DAY)
		return -1;
	days = ms / MS_PER_DAY;
	rem = ms % MS_PER_DAY;
	if (rem < 0) {
		rem += MS_PER_DAY;
		days--;
	}
	civil_from_days(days, &y, &m, &d);

	v[0] = (unsigned)y;
	v[1] = m;
	v[2] = d;
	v[3] = (unsigned)(rem / 3600000);
	v[4] = (unsigned)(rem / 60000 % 60);
	v[5] = (unsigned)(rem / 1000 % 60);
	v[6] = (unsigned)(rem % 1000);

	memcpy(out, "0000-00-00T00:00:00.000Z", ISOTIME_LEN + 1);
	for (i = 0; i < 7; i++) {
		for (j = f[i].n; j > 0; j--) {
			out[f[i].off + j - 1] = (char)('0' + v[i] % 10);
			v[i] /= 10;
		}
	}
	return 0;
}

int
isotime_parse(const char *s, int64_t *ms)
{
	unsigned	y, mo, d, h, mi, sec, frac;

	if (s == NULL || strnlen(s, ISOTIME_LEN + 1) != ISOTIME_LEN)
		return -1;
	if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
	    s[16] != ':' || s[19] != '.' || s[23] != 'Z')
		return -1;
	if (parse_digits(s, 4, &y) != 0 ||
	    parse_digits(s + 5, 2, &mo) != 0 ||
	    parse_digits(s + 8, 2, &d) != 0 ||
	    parse_digits(s + 11, 2, &h) != 0 ||
	    parse_digits(s + 14, 2, &mi) != 0 ||
	    parse_digits(s + 17, 2, &sec) != 0 ||
	    parse_digits(s + 20, 3, &frac) != 0)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || (int)d > days_in_month(y, mo))
		return -1;
	if (h > 23 || mi > 59 || sec > 59)
		return -1;

	*ms = days_from_civil(y, mo, d) * MS_PER_DAY +
	    (int64_t)h * 3600000 + (int64_t)mi * 60000 + (int64_t)sec * 1000 +
	    frac;
	return 0;
}
