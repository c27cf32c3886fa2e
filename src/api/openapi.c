/* GET /v1/openapi.json: the OpenAPI document, no token. It changes only
 * with the binary, so it carries a strong ETag and may be cached. */
#include <microhttpd.h>
#include <string.h>

#include "api/api.h"
#include "api/openapi.h"
#include "http/response.h"

#define OPENAPI_CACHE "public, max-age=300"

/* Whether an If-None-Match list names the document's tag (a weak tag
 * of the same value counts, as RFC 9110 §13.1.2 says), or is "*". */
static int
openapi_matches(const char *inm)
{
	return strcmp(inm, "*") == 0 || strstr(inm, openapi_doc_etag) != NULL;
}

void
openapi_get(struct request *req)
{
	const char	*inm;

	inm = request_header(req, MHD_HTTP_HEADER_IF_NONE_MATCH);
	if (inm != NULL && openapi_matches(inm))
		reply_empty(req, 304);
	else
		reply_json_static(req, 200, openapi_doc, openapi_doc_len);
	reply_header(req, MHD_HTTP_HEADER_ETAG, openapi_doc_etag);
	reply_header(req, MHD_HTTP_HEADER_CACHE_CONTROL, OPENAPI_CACHE);
}
