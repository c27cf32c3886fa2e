/* A small HTTP/1.1 server on 127.0.0.1 for the tests of outbound
 * requests: a thread per connection, one request per connection, and a
 * behaviour per path (testserver.c lists them). It counts the
 * connections it accepts and the requests each path gets, and keeps the
 * last request it read, so a test can see what was sent and whether
 * anything arrived at all. */
#ifndef EXPORTD_TESTSERVER_H
#define EXPORTD_TESTSERVER_H

#include <pthread.h>
#include <stdatomic.h>

#define TESTSERVER_PATHS	64
#define TESTSERVER_LAST		16384

struct testserver {
	int		 fd;
	int		 port;
	pthread_t	 thread;
	atomic_int	 stop;
	atomic_int	 active;		/* connection threads running */
	atomic_int	 connections;		/* accepted */
	pthread_mutex_t	 mu;
	char		 paths[TESTSERVER_PATHS][128];
	int		 hits[TESTSERVER_PATHS];
	char		 last[TESTSERVER_LAST];	/* "METHOD TARGET\n" head, body */
};

/* Listen on 127.0.0.1 (a free port) and serve; 0 or -1. */
int	 testserver_start(struct testserver *);
/* Stop accepting, wait for the connection threads, close. */
void	 testserver_stop(struct testserver *);
/* Requests a path (without its query) has had. */
int	 testserver_hits(struct testserver *, const char *path);
/* A copy of the last request read: the caller frees it. */
char	*testserver_last(struct testserver *);
/* A port nothing listens on (bound, then closed). */
int	 testserver_free_port(void);

#endif
