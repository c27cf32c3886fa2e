/* GET /v1/health: liveness for load balancers; no token. */
#include <string.h>

#include "api/api.h"
#include "http/response.h"

void
health_get(struct request *req)
{
	static const char body[] = "{\"status\":\"ok\"}";

	reply_json_copy(req, 200, body, strlen(body));
}
