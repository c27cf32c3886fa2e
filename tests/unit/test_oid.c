/* Unit tests for util/oid. */

#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util/oid.h"

#define NTHREADS	4
#define PER_THREAD	25000

static char	ids[NTHREADS * PER_THREAD][OID_HEXLEN + 1];

static void	*make_ids(void *);
static int	 cmp_id(const void *, const void *);
static unsigned long counter_of(const char *);

static void *
make_ids(void *arg)
{
	size_t	base = (size_t)(uintptr_t)arg * PER_THREAD, i;

	for (i = 0; i < PER_THREAD; i++)
		oid_new(ids[base + i]);
	return NULL;
}

static int
cmp_id(const void *a, const void *b)
{
	return memcmp(a, b, OID_HEXLEN + 1);
}

/* The 3-byte counter at the end of an id. */
static unsigned long
counter_of(const char *id)
{
	return strtoul(id + 18, NULL, 16);
}

static void
assert_lower_hex(const char *id)
{
	size_t	i;

	cr_assert_eq(strlen(id), OID_HEXLEN);
	for (i = 0; i < OID_HEXLEN; i++)
		cr_assert(strchr("0123456789abcdef", id[i]) != NULL,
		    "bad char in %s", id);
}

Test(oid, format)
{
	char	id[OID_HEXLEN + 1];

	memset(id, 'X', sizeof id);
	oid_new(id);
	assert_lower_hex(id);
	cr_assert(oid_valid(id, strlen(id)));
}

Test(oid, time_prefix)
{
	char	id[OID_HEXLEN + 1], pre[9];
	time_t	before, after, t;

	oid_new_at(id, (time_t)1511897824);
	cr_assert_eq(strncmp(id, "5a1dbae0", 8), 0, "%s", id);
	oid_new_at(id, 0);
	cr_assert_eq(strncmp(id, "00000000", 8), 0, "%s", id);
	oid_new_at(id, (time_t)0xffffffff);
	cr_assert_eq(strncmp(id, "ffffffff", 8), 0, "%s", id);

	before = time(NULL);
	oid_new(id);
	after = time(NULL);
	memcpy(pre, id, 8);
	pre[8] = '\0';
	t = (time_t)strtoul(pre, NULL, 16);
	cr_assert(t >= before && t <= after, "%s", id);
}

Test(oid, random_part_fixed_and_counter_increments)
{
	char		a[OID_HEXLEN + 1], b[OID_HEXLEN + 1];
	unsigned long	ca, cb;

	oid_new_at(a, 1000);
	oid_new_at(b, 1000);
	cr_assert_eq(memcmp(a + 8, b + 8, 10), 0, "%s %s", a, b);
	ca = counter_of(a);
	cb = counter_of(b);
	cr_assert_eq(cb, (ca + 1) & 0xffffff, "%s %s", a, b);
	cr_assert_str_neq(a, b);
}

Test(oid, unique_across_threads)
{
	pthread_t	t[NTHREADS];
	size_t		i;
	uintptr_t	n;

	for (n = 0; n < NTHREADS; n++)
		cr_assert_eq(pthread_create(&t[n], NULL, make_ids,
		    (void *)n), 0);
	for (n = 0; n < NTHREADS; n++)
		pthread_join(t[n], NULL);

	for (i = 0; i < NTHREADS * PER_THREAD; i++) {
		cr_assert(oid_valid(ids[i], strlen(ids[i])));
		/* The same process-random bytes in every thread. */
		cr_assert_eq(memcmp(ids[i] + 8, ids[0] + 8, 10), 0);
	}
	qsort(ids, NTHREADS * PER_THREAD, sizeof ids[0], cmp_id);
	for (i = 1; i < NTHREADS * PER_THREAD; i++)
		cr_assert_neq(cmp_id(ids[i - 1], ids[i]), 0,
		    "duplicate %s", ids[i]);
}

Test(oid, valid)
{
	cr_assert(oid_valid("5a1dbae0aabbccddee000001", 24));
	cr_assert(oid_valid("5A1DBAE0AABBCCDDEE000001", 24));
	cr_assert(oid_valid("5a1dbae0aabbccddee000001zz", 24));
	cr_assert_not(oid_valid("5a1dbae0aabbccddee00000", 23));
	cr_assert_not(oid_valid("5a1dbae0aabbccddee0000011", 25));
	cr_assert_not(oid_valid("5a1dbae0aabbccddee00000g", 24));
	cr_assert_not(oid_valid("5a1dbae0aabbccddee00000 ", 24));
	cr_assert_not(oid_valid("5a1dbae0aabb\0cddee000001", 24));
	cr_assert_not(oid_valid("", 0));
}

Test(oid, normalize)
{
	char	out[OID_HEXLEN + 1];

	cr_assert_eq(oid_normalize("5A1DBAE0AaBbCcDdEe00000F", 24, out), 0);
	cr_assert_str_eq(out, "5a1dbae0aabbccddee00000f");
	cr_assert_eq(oid_normalize("5a1dbae0aabbccddee00000fXX", 24, out), 0);
	cr_assert_str_eq(out, "5a1dbae0aabbccddee00000f");
	cr_assert_eq(oid_normalize("5a1dbae0aabbccddee00000", 23, out), -1);
	cr_assert_eq(oid_normalize("5a1dbae0aabbccddee00000x", 24, out), -1);
}
