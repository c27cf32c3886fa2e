/* GET /v1/tokenInfo: the account the bearer token belongs to. */
#include <stdio.h>
#include <string.h>

#include "api/api.h"
#include "http/response.h"
#include "util/xmalloc.h"

void
tokeninfo_get(struct request *req)
{
	char	*body;

	body = xasprintf("{\"_userId\":\"%s\"}", req->account);
	reply_json(req, 200, body, strlen(body));
}
