/* The HTTP server: libmicrohttpd with its internal thread pool, and the
 * fixed sequence of checks every request passes through. */
#ifndef EXPORTD_SERVER_H
#define EXPORTD_SERVER_H

#include <stdatomic.h>
#include <stddef.h>

#include "auth/ratelimit.h"
#include "crypto/crypto.h"
#include "http/router.h"
#include "store/store.h"

struct server {
	struct MHD_Daemon	*daemon;
	struct store		*store;
	const struct route	*routes;
	size_t			 nroutes;
	unsigned char		 key[CRYPTO_KEYLEN];	/* secrets at rest */
	char			*public_url;	/* or NULL */
	size_t			 max_body;
	size_t			 listener_max_body;
	size_t			 listener_max_records;
	size_t			 listener_max_stored;	/* bytes */
	struct ratelimit	 listener_rl;	/* per webhook export */
	struct ratelimit	 listener_failed_rl; /* per client address:
						failed verifications */
	int64_t			 inbox_cap;	/* records kept per export */
	struct ratelimit	 rl;		/* per token */
	atomic_long		 inflight;
	atomic_int		 draining;
	int			 port;		/* bound port */
};

struct server_options {
	const char	*listen;	/* HOST:PORT */
	unsigned	 threads;
	size_t		 max_body;
	unsigned	 max_connections;
	unsigned	 timeout;
	const char	*public_url;
	long		 rate_burst;
	long		 rate_per_second;
	size_t		 listener_max_body;
	size_t		 listener_max_records;
	size_t		 listener_max_stored;
	long		 listener_burst;
	long		 listener_per_second;
	long		 listener_failed_burst;
	long		 listener_failed_per_second;
	long		 inbox_cap;
};

int	server_start(struct server *, const struct server_options *);
/* Stop accepting, let in-flight requests finish, stop the threads. */
void	server_stop(struct server *);

#endif
