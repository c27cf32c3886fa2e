/* Request metrics of the HTTP layer: a latency histogram per route,
 * method and status class, added to without a lock, and their rendering
 * with the server's gauges (open connections, requests in flight). */
#ifndef EXPORTD_HTTP_METRICS_H
#define EXPORTD_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/buf.h"

struct server;
struct http_metrics;

/* Slots past the routes: requests that matched no route (404, 405), and
 * connections the gate refused before any route was known. */
#define HTTP_SLOT_UNMATCHED(nroutes)	(nroutes)
#define HTTP_SLOT_GATE(nroutes)		((nroutes) + 1)

/* Method index for a connection refused before its request line was
 * read (the gate). */
#define HTTP_METHOD_NONE	0x100

struct http_metrics *http_metrics_new(size_t nroutes);
void	 http_metrics_free(struct http_metrics *);
/* One request answered: its slot (a route's index or one of the slots
 * above), its method (enum http_method bit or HTTP_METHOD_NONE), status
 * and time from its first byte to its answer. */
void	 http_metrics_request(struct http_metrics *, size_t slot,
	    unsigned method, unsigned status, int64_t us);
/* The request families and the server's gauges, appended to b. */
void	 http_metrics_render(const struct server *, struct buf *b);

#endif
