/*
 * dateFormat, dateAdd and timestamp: moment.js's format tokens (English),
 * its ISO 8601 input and a forgiving parse by an input format, and IANA
 * time zones read from the system's zoneinfo files (TZif). Dates are
 * milliseconds since the epoch (int64), kept within moment's range of
 * +-8.64e15 ms; the calendar is the proleptic Gregorian one.
 */

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "template/internal.h"
#include "util/buf.h"
#include "util/xmalloc.h"

#define DAY_MS		86400000LL
#define MAX_MS		8640000000000000LL
#define ZONEINFO	"/usr/share/zoneinfo/"
#define ZONE_FILE_MAX	131072
#define ZONE_TYPES	256
#define DEFAULT_FORMAT	"YYYY-MM-DDTHH:mm:ssZ"

static const char *const months[] = { "January", "February", "March",
	"April", "May", "June", "July", "August", "September", "October",
	"November", "December" };
static const char *const wdays[] = { "Sunday", "Monday", "Tuesday",
	"Wednesday", "Thursday", "Friday", "Saturday" };

/* A time zone: a fixed offset, or the transitions of a TZif file. */
struct zone {
	int		 fixed;		/* seconds east of UTC, if ntypes == 0 */
	size_t		 ntrans, ntypes;
	int64_t		*trans;		/* UTC seconds */
	unsigned char	*idx;		/* type after each transition */
	int		 off[ZONE_TYPES];
	char		 abbr[ZONE_TYPES][8];
	char		 fixed_abbr[8];
};

/* A date broken down in local time. */
struct tm64 {
	int64_t	 year;
	int	 mon, mday, hour, min, sec, ms;	/* mon 1-12 */
	int	 wday, yday;			/* 0 = Sunday; 1-366 */
	int64_t	 days;				/* since 1970-01-01 */
	int	 offset;			/* seconds east of UTC */
	const char *abbr;
	int64_t	 utc_ms;
};

/* Days since 1970-01-01 of a Gregorian date (any year). */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t		era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t		era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static bool
leap(int64_t y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int64_t y, int m)
{
	static const int	n[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31,
	    30, 31 };

	return m == 2 && leap(y) ? 29 : n[m - 1];
}

static int64_t
floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static int
weekday(int64_t days)
{
	return (int)((days % 7 + 11) % 7);	/* 1970-01-01 was a Thursday */
}

/* A zone name that is safe to look for under ZONEINFO. */
static bool
zone_name_ok(const char *s, size_t len)
{
	size_t	i;

	if (len == 0 || len > 64 || s[0] == '/' || s[0] == '.')
		return false;
	for (i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) &&
		    strchr("_+-/", s[i]) == NULL)
			return false;
	return strstr(s, "..") == NULL;
}

static uint32_t
be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

/* Read the 64-bit part of a TZif file (version 2 or later) into z. */
static int
zone_parse(struct zone *z, const unsigned char *d, size_t n)
{
	size_t		cnt[6], skip, i, k, need;
	const unsigned char *p;

	if (n < 44 || memcmp(d, "TZif", 4) != 0 || d[4] < '2')
		return -1;
	for (k = 0; k < 6; k++)
		cnt[k] = be32(d + 20 + 4 * k);
	/* isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt */
	skip = 44 + cnt[3] * 5 + cnt[4] * 6 + cnt[5] + cnt[2] * 8 + cnt[1] +
	    cnt[0];
	if (skip + 44 > n || memcmp(d + skip, "TZif", 4) != 0)
		return -1;
	p = d + skip;
	for (k = 0; k < 6; k++)
		cnt[k] = be32(p + 20 + 4 * k);
	need = 44 + cnt[3] * 9 + cnt[4] * 6 + cnt[5];
	if (cnt[4] == 0 || cnt[4] > ZONE_TYPES || skip + need > n ||
	    cnt[3] > 100000)
		return -1;
	p += 44;
	z->ntrans = cnt[3];
	z->ntypes = cnt[4];
	z->trans = xmalloc(z->ntrans * sizeof(*z->trans) + 1);
	z->idx = xmalloc(z->ntrans + 1);
	for (i = 0; i < z->ntrans; i++)
		z->trans[i] = (int64_t)((uint64_t)be32(p + 8 * i) << 32 |
		    be32(p + 8 * i + 4));
	p += 8 * z->ntrans;
	for (i = 0; i < z->ntrans; i++)
		z->idx[i] = p[i] < z->ntypes ? p[i] : 0;
	p += z->ntrans;
	for (i = 0; i < z->ntypes; i++) {
		z->off[i] = (int)(int32_t)be32(p + 6 * i);
		k = p[6 * i + 5];
		if (k < cnt[5])
			snprintf(z->abbr[i], sizeof(z->abbr[i]), "%.*s",
			    (int)strnlen((const char *)p + 6 * z->ntypes + k,
			    cnt[5] - k), p + 6 * z->ntypes + k);
	}
	return 0;
}

/* "+05:30", "-0800", "+05" as seconds east of UTC; -1 if not one. */
static int
offset_parse(const char *s, size_t len, int *out)
{
	int	h, m = 0;

	if (len < 3 || (s[0] != '+' && s[0] != '-') || !isdigit((unsigned
	    char)s[1]) || !isdigit((unsigned char)s[2]))
		return -1;
	h = (s[1] - '0') * 10 + s[2] - '0';
	if (len == 6 && s[3] == ':' && isdigit((unsigned char)s[4]) &&
	    isdigit((unsigned char)s[5]))
		m = (s[4] - '0') * 10 + s[5] - '0';
	else if (len == 5 && isdigit((unsigned char)s[3]) &&
	    isdigit((unsigned char)s[4]))
		m = (s[3] - '0') * 10 + s[4] - '0';
	else if (len != 3)
		return -1;
	if (h > 23 || m > 59)
		return -1;
	*out = (s[0] == '-' ? -1 : 1) * (h * 3600 + m * 60);
	return 0;
}

/* The zone of a name: UTC when absent, empty or unknown (as
 * moment-timezone does, which only logs unknown names). */
static void
zone_load(struct zone *z, const json_t *name)
{
	char		 path[128];
	unsigned char	*d = NULL;
	const char	*s;
	size_t		 len, n;
	FILE		*f;

	memset(z, 0, sizeof(*z));
	snprintf(z->fixed_abbr, sizeof(z->fixed_abbr), "UTC");
	if (name == NULL || !json_is_string(name))
		return;
	s = json_string_value(name);
	len = json_string_length(name);
	if (offset_parse(s, len, &z->fixed) == 0) {
		z->fixed_abbr[0] = '\0';
		return;
	}
	if (!zone_name_ok(s, len) || strlen(s) != len)
		return;
	snprintf(path, sizeof(path), ZONEINFO "%s", s);
	if ((f = fopen(path, "rb")) == NULL)
		return;
	d = xmalloc(ZONE_FILE_MAX);
	n = fread(d, 1, ZONE_FILE_MAX, f);
	fclose(f);
	if (zone_parse(z, d, n) != 0) {
		free(z->trans);
		free(z->idx);
		memset(z, 0, sizeof(*z));
		snprintf(z->fixed_abbr, sizeof(z->fixed_abbr), "UTC");
	}
	free(d);
}

static void
zone_free(struct zone *z)
{
	free(z->trans);
	free(z->idx);
}

/* The offset (seconds) and abbreviation in force at a UTC instant. */
static int
zone_offset(const struct zone *z, int64_t utc_ms, const char **abbr)
{
	int64_t	t = floor_div(utc_ms, 1000);
	size_t	lo = 0, hi = z->ntrans, mid, type = 0;

	if (z->ntypes == 0) {
		*abbr = z->fixed_abbr;
		return z->fixed;
	}
	/* the first type without a transition before it is the oldest;
	 * otherwise the type of the last transition at or before t */
	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (z->trans[mid] <= t)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo > 0)
		type = z->idx[lo - 1];
	*abbr = z->abbr[type];
	return z->off[type];
}

/* A local wall-clock time in z as UTC: the offset at the guess, checked
 * once more at the result (a time in a gap moves forward). */
static int64_t
zone_to_utc(const struct zone *z, int64_t local_ms)
{
	const char	*a;
	int		 o1, o2;

	o1 = zone_offset(z, local_ms, &a);
	o2 = zone_offset(z, local_ms - (int64_t)o1 * 1000, &a);
	return local_ms - (int64_t)o2 * 1000;
}

/* Break a UTC instant down in zone z. */
static void
breakdown(const struct zone *z, int64_t utc_ms, struct tm64 *t)
{
	int64_t	local, msday;

	t->utc_ms = utc_ms;
	t->offset = zone_offset(z, utc_ms, &t->abbr);
	local = utc_ms + (int64_t)t->offset * 1000;
	t->days = floor_div(local, DAY_MS);
	msday = local - t->days * DAY_MS;
	civil_from_days(t->days, &t->year, &t->mon, &t->mday);
	t->hour = (int)(msday / 3600000);
	t->min = (int)(msday / 60000 % 60);
	t->sec = (int)(msday / 1000 % 60);
	t->ms = (int)(msday % 1000);
	t->wday = weekday(t->days);
	t->yday = (int)(t->days - days_from_civil(t->year, 1, 1)) + 1;
}

/* Weeks as moment counts them: weeks start on day dow, and week 1 holds
 * January (7 + dow - doy). ISO: dow 1, doy 4; English: dow 0, doy 6. */
static int64_t
week_start(int64_t year, int dow, int doy)
{
	int64_t	jan = days_from_civil(year, 1, 7 + dow - doy);

	return jan - (weekday(jan) - dow + 7) % 7;
}

static void
week_of(const struct tm64 *t, int dow, int doy, int *week, int64_t *wyear)
{
	int64_t	y = t->year, s = week_start(y, dow, doy), s2;

	if (t->days < s)
		s = week_start(--y, dow, doy);
	else if (t->days >= (s2 = week_start(y + 1, dow, doy))) {
		y++;
		s = s2;
	}
	*week = (int)((t->days - s) / 7 + 1);
	*wyear = y;
}

static const char *
ordinal(int64_t n)
{
	int64_t	m = n % 100;

	if (m >= 11 && m <= 13)
		return "th";
	switch (n % 10) {
	case 1: return "st";
	case 2: return "nd";
	case 3: return "rd";
	default: return "th";
	}
}

/* English long-date formats. */
static const char *
long_format(const char *tok, size_t len)
{
	static const char *const names[][2] = {
		{ "LTS", "h:mm:ss A" }, { "LT", "h:mm A" },
		{ "LLLL", "dddd, MMMM D, YYYY h:mm A" },
		{ "LLL", "MMMM D, YYYY h:mm A" }, { "LL", "MMMM D, YYYY" },
		{ "L", "MM/DD/YYYY" },
		{ "llll", "ddd, MMM D, YYYY h:mm A" },
		{ "lll", "MMM D, YYYY h:mm A" }, { "ll", "MMM D, YYYY" },
		{ "l", "M/D/YYYY" },
	};
	size_t	i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i][0]) == len &&
		    memcmp(names[i][0], tok, len) == 0)
			return names[i][1];
	return NULL;
}

/* The format tokens, longest first where one is a prefix of another. */
static const char *const tokens[] = {
	"YYYYYY", "YYYY", "YY", "Y", "Qo", "Q", "MMMM", "MMM", "Mo", "MM", "M",
	"DDDD", "DDDo", "DDD", "Do", "DD", "D", "dddd", "ddd", "do",
	"dd", "d", "e", "E", "wo", "ww", "w", "Wo", "WW", "W", "gggg", "gg",
	"GGGG", "GG", "A", "a", "HH", "H", "hh", "h", "kk", "k", "mm", "m",
	"ss", "s", "SSSSSSSSS", "SSSSSSSS", "SSSSSSS", "SSSSSS", "SSSSS",
	"SSSS", "SSS", "SS", "S", "ZZ", "Z", "zz", "z", "X", "x", "LTS", "LT",
	"LLLL", "LLL", "LL", "L", "llll", "lll", "ll", "l",
};

static size_t
token_at(const char *f, size_t len)
{
	size_t	i, n;

	for (i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++) {
		n = strlen(tokens[i]);
		if (n <= len && memcmp(f, tokens[i], n) == 0)
			return n;
	}
	return 0;
}

static int
put_num(struct buf *b, int64_t v, int width, bool ord)
{
	return buf_printf(b, "%0*lld%s", width, (long long)v, ord ?
	    ordinal(v) : "");
}

/* One token's text. */
static int
put_token(struct buf *b, const char *k, size_t n, const struct tm64 *t)
{
	char	frac[10];
	int64_t	wy;
	int	w, o = t->offset / 60;
	char	c = k[0];
	bool	ord = n > 1 && k[n - 1] == 'o';
	int	width = ord ? 1 : (int)n;

	switch (c) {
	case 'Y':
		if (n == 6)
			return buf_printf(b, "%c%06lld", t->year < 0 ? '-' : '+',
			    (long long)llabs(t->year));
		if (n == 2)
			return put_num(b, (t->year % 100 + 100) % 100, 2, false);
		return put_num(b, t->year, n == 4 ? 4 : 1, false);
	case 'Q':
		return put_num(b, (t->mon - 1) / 3 + 1, 1, ord);
	case 'M':
		if (n >= 3 && !ord)
			return buf_printf(b, "%.*s", n == 3 ? 3 : 9,
			    months[t->mon - 1]);
		return put_num(b, t->mon, width, ord);
	case 'D':
		if (ord)
			return put_num(b, n == 2 ? t->mday : t->yday, 1, true);
		if (n >= 3)
			return put_num(b, t->yday, n == 4 ? 3 : 1, false);
		return put_num(b, t->mday, width, false);
	case 'd':
		if (n >= 3)
			return buf_printf(b, "%.*s", n == 3 ? 3 : 9,
			    wdays[t->wday]);
		if (n == 2 && !ord)
			return buf_printf(b, "%.2s", wdays[t->wday]);
		return put_num(b, t->wday, 1, ord);
	case 'e':
		return put_num(b, t->wday, 1, false);
	case 'E':
		return put_num(b, t->wday == 0 ? 7 : t->wday, 1, false);
	case 'w':
	case 'W':
		week_of(t, c == 'W', c == 'W' ? 4 : 6, &w, &wy);
		return put_num(b, w, width, ord);
	case 'g':
	case 'G':
		week_of(t, c == 'G', c == 'G' ? 4 : 6, &w, &wy);
		return n == 2 ? put_num(b, (wy % 100 + 100) % 100, 2, false) :
		    put_num(b, wy, 4, false);
	case 'A':
	case 'a':
		return buf_adds(b, t->hour < 12 ? (c == 'A' ? "AM" : "am") :
		    (c == 'A' ? "PM" : "pm"));
	case 'H':
		return put_num(b, t->hour, width, false);
	case 'h':
		return put_num(b, t->hour % 12 == 0 ? 12 : t->hour % 12, width,
		    false);
	case 'k':
		return put_num(b, t->hour == 0 ? 24 : t->hour, width, false);
	case 'm':
		return put_num(b, t->min, width, false);
	case 's':
		return put_num(b, t->sec, width, false);
	case 'S':
		/* milliseconds, then zeros: moment keeps no finer digits */
		snprintf(frac, sizeof(frac), "%03d000000", t->ms);
		return buf_add(b, frac, n);
	case 'Z':
		return buf_printf(b, "%c%02d%s%02d", o < 0 ? '-' : '+',
		    abs(o) / 60, n == 1 ? ":" : "", abs(o) % 60);
	case 'z':
		return buf_adds(b, t->abbr != NULL ? t->abbr : "");
	case 'X':
		return buf_printf(b, "%lld", (long long)floor_div(t->utc_ms,
		    1000));
	case 'x':
		return buf_printf(b, "%lld", (long long)t->utc_ms);
	default:
		return buf_add(b, k, n);
	}
}

/* Text of a date in a moment.js format ("" or absent: DEFAULT_FORMAT). */
static int
format_date(struct buf *b, const char *f, size_t len, const struct tm64 *t,
    int depth)
{
	const char	*lf, *e;
	size_t		 i = 0, n;

	if (len == 0)
		return format_date(b, DEFAULT_FORMAT, strlen(DEFAULT_FORMAT), t,
		    depth);
	while (i < len) {
		if (f[i] == '[' && (e = memchr(f + i, ']', len - i)) != NULL) {
			if (buf_add(b, f + i + 1, (size_t)(e - f) - i - 1) != 0)
				return -1;
			i = (size_t)(e - f) + 1;
			continue;
		}
		n = token_at(f + i, len - i);
		if (n == 0) {
			if (buf_addc(b, f[i++]) != 0)
				return -1;
			continue;
		}
		lf = (f[i] == 'L' || f[i] == 'l') ? long_format(f + i, n) : NULL;
		if (lf != NULL && depth == 0) {
			if (format_date(b, lf, strlen(lf), t, 1) != 0)
				return -1;
		} else if (put_token(b, f + i, n, t) != 0)
			return -1;
		i += n;
	}
	return 0;
}

/* Parsed fields before they make a date. */
struct fields {
	int64_t	 year;
	int	 mon, mday, yday, hour, min, sec, ms;
	bool	 has_year, has_mon, has_mday, has_yday, pm, am;
	bool	 has_offset, has_epoch, any;
	int	 offset;
	int64_t	 epoch_ms;
};

/* Read up to max digits (after skipping what cannot start them). */
static bool
read_num(const char *s, size_t len, size_t *i, int max, int64_t *v,
    int *ndig)
{
	while (*i < len && !isdigit((unsigned char)s[*i]))
		(*i)++;
	*v = 0;
	*ndig = 0;
	while (*i < len && *ndig < max && isdigit((unsigned char)s[*i])) {
		*v = *v * 10 + (s[(*i)++] - '0');
		(*ndig)++;
	}
	return *ndig > 0;
}

static bool
read_offset(const char *s, size_t len, size_t *i, int *off)
{
	size_t	k = *i, e;

	while (k < len && s[k] == ' ')
		k++;
	if (k < len && s[k] == 'Z') {
		*off = 0;
		*i = k + 1;
		return true;
	}
	for (e = k + 1; e < len && e < k + 6 && (isdigit((unsigned char)s[e]) ||
	    s[e] == ':'); e++)
		;
	if (k < len && offset_parse(s + k, e - k, off) == 0) {
		*i = e;
		return true;
	}
	return false;
}

/* A month name (three letters at least) at s[*i]. */
static bool
read_month(const char *s, size_t len, size_t *i, int *mon)
{
	size_t	k, n;
	int	m;

	while (*i < len && !isalpha((unsigned char)s[*i]))
		(*i)++;
	for (n = 0; *i + n < len && isalpha((unsigned char)s[*i + n]); n++)
		;
	for (m = 0; m < 12 && n >= 3; m++) {
		k = strlen(months[m]);
		if ((n == 3 || n == k) && strncasecmp(s + *i, months[m], n) == 0) {
			*mon = m + 1;
			*i += n;
			return true;
		}
	}
	return false;
}

/* One input-format token against the input; false if it found nothing. */
static bool
parse_token(const char *k, size_t n, const char *s, size_t len, size_t *i,
    struct fields *f)
{
	int64_t	v;
	int	nd;

	switch (k[0]) {
	case 'Y':
		if (!read_num(s, len, i, n == 2 ? 2 : 4, &v, &nd))
			return false;
		f->year = n == 2 ? v + (v > 68 ? 1900 : 2000) : v;
		return f->has_year = true;
	case 'M':
		if (n >= 3) {
			if (!read_month(s, len, i, &f->mon))
				return false;
		} else if (!read_num(s, len, i, 2, &v, &nd))
			return false;
		else
			f->mon = (int)v;
		return f->has_mon = true;
	case 'D':
		if (n >= 3 && k[n - 1] != 'o') {
			if (!read_num(s, len, i, 3, &v, &nd))
				return false;
			f->yday = (int)v;
			return f->has_yday = true;
		}
		if (!read_num(s, len, i, 2, &v, &nd))
			return false;
		f->mday = (int)v;
		if (k[n - 1] == 'o')
			while (*i < len && isalpha((unsigned char)s[*i]))
				(*i)++;
		return f->has_mday = true;
	case 'H': case 'h': case 'k': case 'm': case 's':
		if (!read_num(s, len, i, 2, &v, &nd))
			return false;
		if (k[0] == 'm')
			f->min = (int)v;
		else if (k[0] == 's')
			f->sec = (int)v;
		else
			f->hour = (int)v;
		return true;
	case 'S':
		if (!read_num(s, len, i, 9, &v, &nd))
			return false;
		while (nd > 3) {
			v /= 10;
			nd--;
		}
		while (nd < 3) {
			v *= 10;
			nd++;
		}
		f->ms = (int)v;
		return true;
	case 'A': case 'a':
		while (*i < len && s[*i] == ' ')
			(*i)++;
		if (*i < len && (s[*i] | 0x20) == 'p')
			f->pm = true;
		else if (*i < len && (s[*i] | 0x20) == 'a')
			f->am = true;
		else
			return false;
		(*i)++;
		if (*i < len && (s[*i] | 0x20) == 'm')
			(*i)++;
		return true;
	case 'Z':
		return f->has_offset = read_offset(s, len, i, &f->offset);
	case 'X': case 'x': {
		char	*end, tmp[40];
		size_t	 k0 = *i, e;
		double	 d;

		while (k0 < len && !isdigit((unsigned char)s[k0]) &&
		    s[k0] != '-')
			k0++;
		for (e = k0 + 1; e < len && e - k0 < 30 &&
		    (isdigit((unsigned char)s[e]) || (k[0] == 'X' &&
		    s[e] == '.')); e++)
			;
		if (k0 >= len)
			return false;
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(e - k0), s + k0);
		d = strtod(tmp, &end);
		if (end == tmp || !isfinite(d))
			return false;
		d = k[0] == 'X' ? d * 1000 : d;
		if (fabs(d) > (double)MAX_MS)
			return false;
		f->epoch_ms = (int64_t)d;
		*i = e;
		return f->has_epoch = true;
	}
	case 'd':
		while (*i < len && !isalnum((unsigned char)s[*i]))
			(*i)++;
		while (*i < len && isalnum((unsigned char)s[*i]))
			(*i)++;
		return true;
	default:
		return false;
	}
}

/* Parse by an input format, forgivingly as moment does: separators need
 * not match, a token that finds nothing is passed over. */
static bool
parse_format(const char *s, size_t len, const char *fmt, size_t flen,
    struct fields *f)
{
	const char	*e;
	size_t		 i = 0, j = 0, n;

	while (j < flen && i <= len) {
		if (fmt[j] == '[' && (e = memchr(fmt + j, ']', flen - j)) !=
		    NULL) {
			n = (size_t)(e - fmt) - j - 1;
			if (len - i >= n && memcmp(s + i, fmt + j + 1, n) == 0)
				i += n;
			j = (size_t)(e - fmt) + 1;
			continue;
		}
		n = token_at(fmt + j, flen - j);
		if (n == 0) {
			if (i < len && s[i] == fmt[j])
				i++;
			j++;
			continue;
		}
		if (parse_token(fmt + j, n, s, len, &i, f))
			f->any = true;
		j += n;
	}
	return f->any;
}

static bool
iso_digits(const char *s, size_t len, size_t i, size_t n, int64_t *v)
{
	size_t	k;

	if (len - i < n || i > len)
		return false;
	*v = 0;
	for (k = 0; k < n; k++) {
		if (!isdigit((unsigned char)s[i + k]))
			return false;
		*v = *v * 10 + (s[i + k] - '0');
	}
	return true;
}

/* ISO 8601 as moment reads it without a format: YYYY[-MM[-DD]] or
 * YYYYMMDD, then optionally T or a blank and HH[:mm[:ss[.fff]]] (or
 * HHmm[ss]), then an optional Z or offset. */
static bool
parse_iso(const char *s, size_t len, struct fields *f)
{
	size_t	i = 0;
	int64_t	v;
	bool	ext;

	while (i < len && isspace((unsigned char)s[i]))
		i++;
	while (len > i && isspace((unsigned char)s[len - 1]))
		len--;
	if (!iso_digits(s, len, i, 4, &f->year))
		return false;
	f->has_year = true;
	i += 4;
	ext = i < len && s[i] == '-';
	if (ext || (i < len && isdigit((unsigned char)s[i]))) {
		if (!iso_digits(s, len, i + ext, 2, &v))
			return false;
		f->mon = (int)v;
		f->has_mon = true;
		i += ext + 2;
		if ((ext && i < len && s[i] == '-') || (!ext && i < len &&
		    isdigit((unsigned char)s[i]))) {
			if (!iso_digits(s, len, i + ext, 2, &v))
				return false;
			f->mday = (int)v;
			f->has_mday = true;
			i += ext + 2;
		} else if (!ext)
			return false;
	}
	if (i < len && (s[i] == 'T' || s[i] == ' ') && f->has_mday) {
		i++;
		if (!iso_digits(s, len, i, 2, &v))
			return false;
		f->hour = (int)v;
		i += 2;
		ext = i < len && s[i] == ':';
		if (ext || (i < len && isdigit((unsigned char)s[i]))) {
			if (!iso_digits(s, len, i + ext, 2, &v))
				return false;
			f->min = (int)v;
			i += ext + 2;
			if ((ext && i < len && s[i] == ':') || (!ext && i <
			    len && isdigit((unsigned char)s[i]))) {
				if (!iso_digits(s, len, i + ext, 2, &v))
					return false;
				f->sec = (int)v;
				i += ext + 2;
				if (i < len && (s[i] == '.' || s[i] == ',')) {
					int	nd;

					i++;
					if (!isdigit((unsigned char)s[i]) ||
					    !read_num(s, len, &i, 9, &v, &nd))
						return false;
					while (nd > 3) {
						v /= 10;
						nd--;
					}
					while (nd++ < 3)
						v *= 10;
					f->ms = (int)v;
					while (i < len &&
					    isdigit((unsigned char)s[i]))
						i++;
				}
			}
		}
		if (i < len && !(f->has_offset = read_offset(s, len, &i,
		    &f->offset)))
			return false;
	}
	return i == len;
}

/* The instant of parsed fields: missing date parts from now (in the
 * zone) down to the first given one, then their starts; a time without
 * an offset is read in the zone. -1 if the fields are out of range. */
static int
fields_instant(struct fields *f, const struct zone *z, int64_t now_ms,
    int64_t *out)
{
	struct tm64	now;
	int64_t		days, local;

	if (f->has_epoch) {
		*out = f->epoch_ms;
		return 0;
	}
	breakdown(z, now_ms, &now);
	if (!f->has_year) {
		f->year = now.year;
		if (!f->has_mon && !f->has_yday) {
			f->mon = now.mon;
			if (!f->has_mday)
				f->mday = now.mday;
		}
	}
	if (f->mon == 0)
		f->mon = 1;
	if (f->mday == 0 && !f->has_mday)
		f->mday = 1;
	if (f->pm && f->hour < 12)
		f->hour += 12;
	if (f->am && f->hour == 12)
		f->hour = 0;
	if (f->year < -271820 || f->year > 275759 || f->mon < 1 ||
	    f->mon > 12 || f->mday < 1 ||
	    f->mday > month_days(f->year, f->mon) || f->hour > 24 ||
	    f->min > 59 || f->sec > 59 || (f->hour == 24 && (f->min ||
	    f->sec || f->ms)) || (f->has_yday && (f->yday < 1 ||
	    f->yday > (leap(f->year) ? 366 : 365))))
		return -1;
	days = f->has_yday ? days_from_civil(f->year, 1, 1) + f->yday - 1 :
	    days_from_civil(f->year, f->mon, f->mday);
	local = days * DAY_MS + f->hour * 3600000LL + f->min * 60000LL +
	    f->sec * 1000LL + f->ms;
	*out = f->has_offset ? local - f->offset * 1000LL :
	    zone_to_utc(z, local);
	return 0;
}

/* moment(date[, format]) in zone z: undefined is now; numbers are epoch
 * milliseconds; strings ISO 8601 or by format. -1: an invalid date. */
static int
date_of(const json_t *date, const json_t *fmt, const struct zone *z,
    int64_t now_ms, int64_t *out)
{
	struct fields	f;
	double		d;

	memset(&f, 0, sizeof(f));
	if (date == NULL) {
		*out = now_ms;
		return 0;
	}
	if (json_is_number(date)) {
		d = json_number_value(date);
		if (!isfinite(d) || fabs(d) > (double)MAX_MS)
			return -1;
		*out = (int64_t)d;
		return 0;
	}
	if (!json_is_string(date))
		return -1;
	if (fmt != NULL && json_is_string(fmt) && json_string_length(fmt) > 0) {
		if (!parse_format(json_string_value(date),
		    json_string_length(date), json_string_value(fmt),
		    json_string_length(fmt), &f))
			return -1;
	} else if (!parse_iso(json_string_value(date),
	    json_string_length(date), &f))
		return -1;
	if (fields_instant(&f, z, now_ms, out) != 0)
		return -1;
	return *out < -MAX_MS || *out > MAX_MS ? -1 : 0;
}

/* The result text of a format (NULL: the default), or "Invalid date". */
static int
format_result(const char *fmt, size_t flen, int64_t ms, bool valid,
    const struct zone *z, struct template_env *env, json_t **out)
{
	struct tm64	t;
	struct buf	b;
	int		rc;

	buf_init(&b, env->cap);
	if (!valid)
		rc = buf_adds(&b, "Invalid date");
	else {
		breakdown(z, ms, &t);
		rc = format_date(&b, fmt != NULL ? fmt : "", fmt != NULL ?
		    flen : 0, &t, 0);
	}
	if (rc != 0) {
		buf_free(&b);
		snprintf(env->why, sizeof(env->why), "date longer than the cap");
		return -1;
	}
	*out = template_value_string(b.data, b.len);
	buf_free(&b);
	return 0;
}

/* A format argument: a string, else the default format. */
static const char *
format_arg(json_t **args, size_t nargs, size_t i, size_t *len)
{
	if (i >= nargs || args[i] == NULL || !json_is_string(args[i])) {
		*len = 0;
		return NULL;
	}
	*len = json_string_length(args[i]);
	return json_string_value(args[i]);
}

/* dateFormat outputFormat date [inputFormat] [timezone] */
int
template_date_format(json_t **args, size_t nargs, struct template_env *env,
    json_t **out)
{
	struct zone	 z;
	const char	*f;
	size_t		 flen;
	int64_t		 ms = 0;
	int		 rc, valid;

	zone_load(&z, nargs > 3 ? args[3] : NULL);
	valid = date_of(nargs > 1 ? args[1] : NULL, nargs > 2 ? args[2] : NULL,
	    &z, env->now_ms, &ms) == 0;
	f = format_arg(args, nargs, 0, &flen);
	rc = format_result(f, flen, ms, valid, &z, env, out);
	zone_free(&z);
	return rc;
}

/* dateAdd date [milliseconds] [timezone]: ISO 8601 in UTC, as
 * Date.prototype.toISOString writes it. */
int
template_date_add(json_t **args, size_t nargs, struct template_env *env,
    json_t **out)
{
	static const char	 iso[] = "YYYY-MM-DDTHH:mm:ss.SSS[Z]";
	struct zone		 z, utc;
	int64_t			 ms = 0;
	double			 add;
	int			 rc, valid;

	zone_load(&z, nargs > 2 ? args[2] : NULL);
	zone_load(&utc, NULL);
	valid = date_of(nargs > 0 ? args[0] : NULL, NULL, &z, env->now_ms,
	    &ms) == 0;
	add = nargs > 1 ? template_value_number(args[1]) : 0;
	if (isnan(add) || fabs((double)ms + add) > (double)MAX_MS)
		valid = 0;
	else
		ms += (int64_t)add;
	rc = format_result(iso, strlen(iso), ms, valid, &utc, env, out);
	zone_free(&z);
	return rc;
}

/* timestamp [format] [timezone]: now. */
int
template_date_timestamp(json_t **args, size_t nargs,
    struct template_env *env, json_t **out)
{
	struct zone	 z;
	const char	*f;
	size_t		 flen;
	int		 rc;

	zone_load(&z, nargs > 1 ? args[1] : NULL);
	f = format_arg(args, nargs, 0, &flen);
	rc = format_result(f, flen, env->now_ms, true, &z, env, out);
	zone_free(&z);
	return rc;
}
