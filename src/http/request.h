/* One HTTP request from its first byte to its access-log line. Everything
 * a request owns is freed in the server's completion callback. */
#ifndef EXPORTD_REQUEST_H
#define EXPORTD_REQUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "http/head.h"
#include "util/buf.h"
#include "util/errors.h"
#include "util/oid.h"

enum http_method {
	M_GET = 0x01, M_HEAD = 0x02, M_POST = 0x04, M_PUT = 0x08,
	M_DELETE = 0x10, M_PATCH = 0x20, M_OPTIONS = 0x40, M_OTHER = 0x80,
};

#define ROUTE_MAX_PARAMS 4

struct route;
struct server;
struct MHD_Connection;
struct MHD_Response;

struct request {
	struct server		*srv;
	struct MHD_Connection	*conn;
	enum http_method	 method;
	const char		*method_str;
	char			*path;		/* decoded, trailing '/' removed */
	int64_t			 start_us;
	size_t			 uri_len;	/* path and query as received */
	char			*uri;		/* the same, as received */
	enum head_target	 target;	/* the form of uri */
	size_t			 target_prefix;	/* absolute: "scheme://host" */
	size_t			 target_auth;	/* absolute: where host begins */
	bool			 target_https;	/* absolute: https scheme */
	int			 route_result;	/* enum router_result */
	unsigned		 allowed;	/* methods of the path, on 405 */
	bool			 started;
	char			 id[17];	/* request id */

	struct buf		 body;
	bool			 body_too_large;
	size_t			 dropped;	/* chunked bytes past the cap */
	bool			 has_body;	/* bytes arrived */
	bool			 dispatched;
	bool			 must_close;	/* framing refused: close after */

	const struct route	*route;
	char			*params[ROUTE_MAX_PARAMS];
	int			 nparams;

	char			 account[OID_HEXLEN + 1];	/* after auth */
	uint64_t		 token_key;	/* rate-limit key, after auth */

	/* Suspended (a write in flight): resume runs once request_resume
	 * was called. */
	bool			 suspended;
	volatile int		 resumed;
	void			(*resume)(struct request *);
	void			*state;		/* handler's, freed by free_state */
	void			(*free_state)(void *);
	/* The application's own data for this request (api/: its write),
	 * opaque here; freed by app_free when the request completes. */
	void			*app;
	void			(*app_free)(void *);

	/* The response being built. */
	struct MHD_Response	*resp;
	unsigned int		 status;
	size_t			 resp_bytes;
	const uint64_t		*resp_sent;	/* streamed: bytes so far,
						   kept by the response */
	bool			 queued;
};

/* Header and query lookups; NULL if absent. */
const char	*request_header(struct request *, const char *);
const char	*request_query(struct request *, const char *);
/* The absolute URL the client used (request_base, then path and query
 * as received); caller frees. */
char		*request_url(struct request *);
/* "http://host" or "https://host" for absolute URLs without --public-url:
 * the scheme and authority of an absolute target (a client behind a
 * forward proxy); else the Host header if it is a plain host[:port]
 * (else "localhost"), https when X-Forwarded-Proto says so. Caller
 * frees. */
char		*request_origin(struct request *);
/* The base of absolute URLs: --public-url (no trailing '/') when set,
 * else request_origin. Caller frees. */
char		*request_base(struct request *);
/* The value of a Location header for path: absolute (request_base) when
 * --public-url is set or the target was absolute, else path alone.
 * Caller frees. */
char		*request_location(struct request *, const char *path);
/* A new request id: 16 hex digits and a NUL. */
void		 request_id_new(char id[17]);
/* Suspend the request: no reply is sent until request_resume, after
 * which cont runs on a server thread to build it. */
void		 request_suspend(struct request *, void (*cont)(struct request *));
/* Wake a suspended request; safe from any thread, once per suspend. */
void		 request_resume(struct request *);
/* A streamed answer with nothing to send yet: its content reader calls
 * request_stream_pause and returns 0; the connection waits, without
 * polling, until request_stream_wake (from any thread, once per
 * pause). */
void		 request_stream_pause(struct request *);
void		 request_stream_wake(struct request *);

#endif
