/* Strict decimal numbers: strtoll takes blanks, a sign and trailing
 * junk, none of which a cursor or a page size may carry. */
#include "util/number.h"

int
number_parse(const char *s, size_t len, int64_t *out)
{
	int64_t	n = 0;
	size_t	i;
	int	d;

	if (s == NULL || len == 0)
		return -1;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = s[i] - '0';
		if (n > (INT64_MAX - d) / 10)
			return -1;
		n = n * 10 + d;
	}
	*out = n;
	return 0;
}
