/* MongoDB-style ObjectIds: 4-byte big-endian seconds, 5 random bytes fixed
 * per process, 3-byte counter starting at a random value. */
#ifndef EXPORTD_OID_H
#define EXPORTD_OID_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define OID_HEXLEN 24

/* Write a new id as 24 lowercase hex characters plus NUL into out[25].
 * Thread-safe. */
void	oid_new(char out[OID_HEXLEN + 1]);
/* Same, with an explicit time (for tests). */
void	oid_new_at(char out[OID_HEXLEN + 1], time_t);
/* True when s (of length len) is exactly 24 hex characters (either case). */
bool	oid_valid(const char *s, size_t len);
/* Copy a valid id into out[25] in lowercase; -1 if not valid. */
int	oid_normalize(const char *s, size_t len, char out[OID_HEXLEN + 1]);

#endif
