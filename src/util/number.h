/* Whole numbers from untrusted text (query parameters, cursors). */
#ifndef EXPORTD_NUMBER_H
#define EXPORTD_NUMBER_H

#include <stddef.h>
#include <stdint.h>

/* A decimal whole number of len bytes: ASCII digits only (no sign, no
 * blank, nothing after), at least one, at most INT64_MAX. Returns 0 and
 * sets *out, or -1 and leaves *out alone. */
int	number_parse(const char *s, size_t len, int64_t *out);

#endif
