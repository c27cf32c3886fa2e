/* Wall-clock timestamps as ISO 8601 UTC with milliseconds and Z. */
#ifndef EXPORTD_ISOTIME_H
#define EXPORTD_ISOTIME_H

#include <stdint.h>

#define ISOTIME_LEN 24	/* "2017-11-28T19:37:04.180Z" */

/* Milliseconds since the epoch, from CLOCK_REALTIME. */
int64_t	isotime_now_ms(void);
/* Format ms since the epoch into out[25]; years 0000-9999 only, else -1. */
int	isotime_format(int64_t ms, char out[ISOTIME_LEN + 1]);
/* Parse exactly the format above; -1 if anything else. */
int	isotime_parse(const char *s, int64_t *ms);
/* Microseconds from CLOCK_MONOTONIC, for durations. */
int64_t	isotime_mono_us(void);

#endif
