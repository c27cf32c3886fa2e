/* The OpenAPI document of every route (openapi/exportd.json), built into
 * the binary by openapi/embed.py. */
#ifndef EXPORTD_OPENAPI_H
#define EXPORTD_OPENAPI_H

#include <stddef.h>

extern const char	openapi_doc[];		/* the bytes, NUL-terminated */
extern const size_t	openapi_doc_len;	/* without the NUL */
extern const char	openapi_doc_etag[];	/* "\"<32 hex>\"" */

#endif
