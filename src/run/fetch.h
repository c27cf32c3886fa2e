/* One outbound HTTP request, as a connection's ping and an export's run
 * send them (docs/egress.md): libcurl under the egress policy, with caps
 * on time and size, redirects followed by hand (each hop checked, and
 * credentials kept to the origin they were meant for), and bounded
 * retries on 429, 5xx and failed connections.
 *
 * A fetch blocks the thread that calls it for up to (retries + 1) times
 * (the request's timeout plus the wait before a retry) per hop: call it
 * from a worker, never from a thread that serves requests. */
#ifndef EXPORTD_RUN_FETCH_H
#define EXPORTD_RUN_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "run/egress.h"

/* A request header is a credential: it is not sent past a redirect that
 * leaves the request's origin. Authorization, Proxy-Authorization and
 * Cookie are credentials whether flagged or not. */
#define FETCH_SECRET	0x01

struct fetch_header {
	const char	*name;
	const char	*value;
	unsigned	 flags;		/* FETCH_SECRET */
};

struct fetch_request {
	const char			*method;	/* NULL: GET */
	const char			*url;		/* http:// or https:// */
	const struct fetch_header	*headers;	/* sent in this order */
	size_t				 nheaders;
	const void			*body;		/* NULL: none */
	size_t				 body_len;
	int				 insecure;	/* disableStrictSSL: no
							   certificate or name
							   check */
};

/* The caps of a fetch; fetch_limits_default gives limits.h's. */
struct fetch_limits {
	long		 connect_timeout_ms;	/* per connection */
	long		 timeout_ms;		/* per request sent, whole */
	size_t		 max_response;		/* body bytes, decoded; >= 1 */
	unsigned	 max_redirects;
	unsigned	 retries;		/* after the first try, per hop */
	long		 max_retry_after_ms;	/* longer Retry-After: no retry */
	long		 backoff_ms;		/* first wait; doubles */
};

enum fetch_error {
	FETCH_OK,
	FETCH_EGRESS_DENIED,	/* every address refused by the policy */
	FETCH_BAD_URL,		/* not an http(s) URL, or a bad Location */
	FETCH_BAD_REQUEST,	/* a method or header that cannot be sent */
	FETCH_DNS,		/* the name did not resolve */
	FETCH_REFUSED,		/* no connection could be made */
	FETCH_TIMEOUT,		/* connect or whole request over its cap */
	FETCH_TLS,		/* handshake or certificate check failed */
	FETCH_TOO_LARGE,	/* body or headers over their cap */
	FETCH_TOO_MANY_REDIRECTS,
	FETCH_CONNECTION,	/* reset, closed early, malformed answer */
	FETCH_FAILED,		/* anything else */
};

/* A response header, in the order received; a name that comes more than
 * once is there more than once. */
struct fetch_field {
	char	*name;
	char	*value;
};

/* Microseconds. Phases are from the start of the last request sent
 * (libcurl's): name resolved, connected, TLS done, first byte, done;
 * elapsed is the whole fetch, redirects, retries and waits included. */
struct fetch_timings {
	int64_t	 dns_us;
	int64_t	 connect_us;
	int64_t	 tls_us;
	int64_t	 first_byte_us;
	int64_t	 total_us;
	int64_t	 elapsed_us;
};

#define FETCH_MESSAGE_LEN	256

struct fetch_response {
	long			 status;	/* 0: no answer */
	struct fetch_field	*headers;	/* of the last answer */
	size_t			 nheaders;
	char			*body;		/* NUL-terminated; never NULL
						   after fetch_do */
	size_t			 body_len;
	char			*url;		/* the last URL requested; may
						   hold credentials: mask it
						   before showing it */
	char			 ip[64];	/* the address connected to */
	unsigned		 redirects;	/* followed */
	unsigned		 retries;	/* requests sent again */
	struct fetch_timings	 t;
	enum fetch_error	 error;
	/* Why it failed, safe to show to the caller and to log: it names at
	 * most an origin (scheme://host:port), never a path, a query, user
	 * information or a header value. */
	char			 message[FETCH_MESSAGE_LEN];
};

struct fetch_client;

void	 fetch_limits_default(struct fetch_limits *);

/*
 * A client for one thread at a time: it keeps connections open between
 * its fetches. The policy is not owned and must outlive the client; any
 * number of clients, on any threads, may share it. libcurl's global
 * state is set up once, by the first client. NULL if libcurl cannot be
 * set up (logged).
 */
struct fetch_client *fetch_client_new(const struct egress *,
		    const struct fetch_limits *);
void		 fetch_client_free(struct fetch_client *);

/*
 * Send req and fill resp (which the caller frees with fetch_response_free,
 * whatever the result). Returns 0 when an answer came, whatever its
 * status: a 4xx, or a 429 or 5xx left after the retries, is the caller's
 * to judge. Returns -1 with resp->error and resp->message otherwise.
 *
 * Redirects (301, 302, 303, 307, 308) are followed up to max_redirects,
 * every hop checked by the policy; 303, and 301 or 302 after a POST,
 * become a GET without a body. A hop to another origin than req->url's
 * goes without the credential headers. A 429 or 503 with Retry-After
 * (seconds or an HTTP date) is retried after that wait if it is at most
 * max_retry_after_ms, else returned as it is; other 5xx, a 429 without
 * Retry-After, a refused or reset connection and a connect timeout are
 * retried after backoff_ms, doubled each time, with jitter.
 */
int		 fetch_do(struct fetch_client *, const struct fetch_request *,
		    struct fetch_response *);
void		 fetch_response_free(struct fetch_response *);

/* The first value of a response header (any case), or NULL. */
const char	*fetch_response_header(const struct fetch_response *,
		    const char *name);
/* "egress_denied", "timeout", "refused", ...: the error's code. */
const char	*fetch_error_code(enum fetch_error);
/* A Retry-After value in milliseconds from now_ms (Unix time, ms), or -1
 * if it is neither a number of seconds nor an HTTP date. */
int64_t		 fetch_retry_after_parse(const char *, int64_t now_ms);
/* The origin of a URL (scheme://host[:port]) into out, for messages:
 * "(invalid URL)" if it has none. */
void		 fetch_url_origin(const char *url, char *out, size_t outsz);

#endif
