/*
 * connection.concurrencyLevel: how many requests of runs may be in
 * flight at once through one connection, over all runs of this server.
 * A request waits for a slot; a connection with no level is not bound.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "run/internal.h"

#define SLOTS	1024	/* connections with requests in flight */

struct slot {
	char	 key[128];
	int	 busy;
};

static pthread_mutex_t	 slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 slot_freed = PTHREAD_COND_INITIALIZER;
static struct slot	 slots[SLOTS];

/* The slot of key, or a free one set to key; NULL if the table is full.
 * Called with slot_lock held. */
static struct slot *
slot_find(const char *key)
{
	struct slot	*free_one = NULL;
	size_t		 i;

	for (i = 0; i < SLOTS; i++) {
		if (slots[i].busy > 0 && strcmp(slots[i].key, key) == 0)
			return &slots[i];
		if (slots[i].busy == 0 && free_one == NULL)
			free_one = &slots[i];
	}
	if (free_one != NULL)
		snprintf(free_one->key, sizeof free_one->key, "%s", key);
	return free_one;
}

int
run_slot_take(const char *key, int level, long wait_ms)
{
	struct timespec	 until;
	struct slot	*s;
	int		 rc = 0;

	if (level <= 0)
		return 0;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += wait_ms / 1000;
	until.tv_nsec += (wait_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&slot_lock);
	while ((s = slot_find(key)) == NULL || s->busy >= level)
		if (pthread_cond_timedwait(&slot_freed, &slot_lock, &until) ==
		    ETIMEDOUT) {
			rc = -1;
			break;
		}
	if (rc == 0)
		s->busy++;
	pthread_mutex_unlock(&slot_lock);
	return rc;
}

void
run_slot_give(const char *key, int level)
{
	struct slot	*s;

	if (level <= 0)
		return;
	pthread_mutex_lock(&slot_lock);
	if ((s = slot_find(key)) != NULL && s->busy > 0)
		s->busy--;
	pthread_cond_broadcast(&slot_freed);
	pthread_mutex_unlock(&slot_lock);
}
