/* MongoDB-style ObjectIds. */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "util/oid.h"
#include "util/random.h"

static pthread_once_t		 oid_once = PTHREAD_ONCE_INIT;
static unsigned char		 oid_random[5];
static atomic_uint_least32_t	 oid_counter;

static void	oid_init(void);

/* Pick the per-process random bytes and the counter's start, once. */
static void
oid_init(void)
{
	unsigned char	c[3];

	random_bytes(oid_random, sizeof oid_random);
	random_bytes(c, sizeof c);
	atomic_store(&oid_counter,
	    (uint_least32_t)c[0] << 16 | (uint_least32_t)c[1] << 8 | c[2]);
}

void
oid_new(char out[OID_HEXLEN + 1])
{
	oid_new_at(out, time(NULL));
}

void
oid_new_at(char out[OID_HEXLEN + 1], time_t t)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 id[12];
	uint32_t		 secs, count;
	size_t			 i;

	pthread_once(&oid_once, oid_init);
	secs = (uint32_t)t;
	count = (uint32_t)atomic_fetch_add(&oid_counter, 1) & 0xffffff;

	id[0] = secs >> 24;
	id[1] = secs >> 16;
	id[2] = secs >> 8;
	id[3] = secs;
	memcpy(id + 4, oid_random, sizeof oid_random);
	id[9] = count >> 16;
	id[10] = count >> 8;
	id[11] = count;

	for (i = 0; i < sizeof id; i++) {
		out[2 * i] = hex[id[i] >> 4];
		out[2 * i + 1] = hex[id[i] & 0xf];
	}
	out[OID_HEXLEN] = '\0';
}

bool
oid_valid(const char *s, size_t len)
{
	size_t	i;
	char	c;

	if (s == NULL || len != OID_HEXLEN)
		return false;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

int
oid_normalize(const char *s, size_t len, char out[OID_HEXLEN + 1])
{
	size_t	i;
	char	c;

	if (!oid_valid(s, len))
		return -1;
	for (i = 0; i < len; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'F')
			c = c - 'A' + 'a';
		out[i] = c;
	}
	out[OID_HEXLEN] = '\0';
	return 0;
}
