/* GET /v1/tokenInfo: the account the bearer token belongs to. */
#include <jansson.h>

#include "api/api.h"
#include "http/response.h"
#include "util/json.h"

void
tokeninfo_get(struct request *req)
{
	json_t	*o;
	char	*body;
	size_t	 len;

	o = json_pack("{ss}", "_userId", req->account);
	body = json_render_new(o, &len);
	json_decref(o);
	reply_json(req, 200, body, len);
}
