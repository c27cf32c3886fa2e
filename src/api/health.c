/* The probes; no token. GET /v1/health: liveness, the process answers.
 * GET /v1/ready: readiness, the store answers a read too. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "http/response.h"

void
health_get(struct request *req)
{
	static const char body[] = "{\"status\":\"ok\"}";

	reply_json_copy(req, 200, body, strlen(body));
}

/* A round trip to the database on this server thread's connection,
 * bounded by the driver's timeouts (PostgreSQL: connect 3 s, a silent
 * peer 5 s). */
void
ready_get(struct request *req)
{
	struct store	*st = api_store(req);
	char		 body[64];
	int		 n;

	if (store_ready(st) != STORE_OK) {
		reply_error(req, 503, "unavailable", NULL,
		    "The store cannot be reached; retry shortly");
		reply_header(req, "Retry-After", "1");
		return;
	}
	n = snprintf(body, sizeof(body), "{\"status\":\"ready\",\"store\":"
	    "\"%s\"}", store_name(st));
	reply_json_copy(req, 200, body, (size_t)n);
}
