/* The HTTP server: libmicrohttpd with its internal thread pool, and the
 * fixed sequence of checks every request passes through. */
#ifndef EXPORTD_SERVER_H
#define EXPORTD_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "auth/ratelimit.h"
#include "crypto/crypto.h"
#include "http/cors.h"
#include "http/router.h"
#include "util/oid.h"

/* What the server asks of the application behind it (api/), which it
 * knows only as an opaque pointer. */
struct server_hooks {
	/* The account of a bearer token's SHA-256 into account: 0; 1 when
	 * no active token has that hash (401); -1 when it cannot be looked
	 * up now (503). */
	int	(*token_account)(void *app,
		    const unsigned char hash[CRYPTO_SHA256LEN],
		    char account[OID_HEXLEN + 1]);
	/* At shutdown, past the drain deadline: wake every request the
	 * application keeps suspended (libmicrohttpd cannot stop with one),
	 * each to answer at once. NULL: none are kept that long. */
	void	(*abandon)(void *app);
};

struct gate;
struct http_metrics;
struct tls;

struct server {
	struct MHD_Daemon	*daemon;
	void			*app;	/* the application's, opaque here */
	const struct server_hooks *hooks;
	struct gate		*gate;		/* accepts, caps, deadlines */
	struct tls		*tls;		/* or NULL: plain HTTP */
	unsigned		 drain_timeout;	/* seconds, at shutdown */
	const struct route	*routes;
	size_t			 nroutes;
	unsigned		 methods;	/* of every route */
	char			*public_url;	/* or NULL */
	struct cors		 cors;		/* allowed browser origins */
	size_t			 max_body;
	size_t			 listener_max_body;
	struct ratelimit	 rl;		/* per token */
	struct http_metrics	*metrics;	/* requests by route */
	atomic_long		 inflight;
	atomic_int		 draining;
	int			 port;		/* bound port */
};

struct server_options {
	const char	*listen;	/* HOST:PORT */
	bool		 reuse_port;	/* SO_REUSEPORT: share the port */
	unsigned	 threads;
	size_t		 max_body;
	unsigned	 max_connections;
	unsigned	 max_per_ip;	/* connections per address; 0: no cap */
	unsigned	 timeout;	/* idle, between requests */
	unsigned	 header_timeout;	/* to receive a request's head */
	unsigned	 body_timeout;	/* to receive a request's body */
	unsigned	 drain_timeout;	/* for requests in flight at shutdown */
	const char	*public_url;
	const char *const *cors_origins;	/* NULL-terminated, or NULL */
	long		 rate_burst;
	long		 rate_per_second;
	size_t		 listener_max_body;
	struct tls	*tls;		/* TLS credentials (taken over); NULL */
};

/* Whether --listen names an address (HOST:PORT, [V6]:PORT); -1 after
 * a message. Nothing is opened. */
int	server_listen_check(const char *listen);
/* Start serving; takes ownership of o->tls, even on failure. */
int	server_start(struct server *, const struct server_options *);
/* SIGHUP: read the TLS certificate and key again (0, or -1 when the
 * old ones stay). */
int	server_reload(struct server *);
/* Stop accepting, let in-flight requests finish, stop the threads. */
void	server_stop(struct server *);

#endif
