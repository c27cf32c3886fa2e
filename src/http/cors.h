/* CORS for browser clients (the Fetch standard's CORS protocol): which
 * origins may read exportd's answers, and the answer to a preflight.
 * Off (no header at all) unless origins are configured. */
#ifndef EXPORTD_CORS_H
#define EXPORTD_CORS_H

#include <stdbool.h>
#include <stddef.h>

struct cors {
	char	**origins;	/* allowed, lowercase; NULL when off */
	size_t	  n;
	bool	  any;		/* "*" is among them */
};

/* Is s an origin --cors-origin accepts: "*", or http(s)://host[:port]
 * with nothing after (no path, no '/' at the end)? */
bool	 cors_origin_valid(const char *s);
/* Set up from a NULL-terminated list of valid origins (copied; NULL or
 * empty: CORS off). */
void	 cors_init(struct cors *, const char *const *origins);
void	 cors_free(struct cors *);
/* The Access-Control-Allow-Origin value for a request's Origin header
 * (may be NULL): "*" when any origin is allowed, origin itself when it
 * is listed, else NULL (no grant). */
const char *cors_allow(const struct cors *, const char *origin);

/* What a granted response exposes to the page's script beyond the
 * safelisted headers, and what a preflight allows. */
#define CORS_EXPOSE_HEADERS \
	"Link, ETag, Location, Retry-After, X-Request-Id, WWW-Authenticate, " \
	"Allow"
#define CORS_ALLOW_HEADERS \
	"Authorization, Content-Type, If-Match, If-None-Match"
#define CORS_MAX_AGE	"600"	/* seconds a browser may cache a preflight */

#endif
