/* The webhook listener's view of one request, its caps, and the helpers
 * that verify.c, parse.c, template.c and response.c share. Nothing here
 * does I/O: the HTTP layer fills struct webhook_request and calls in. */
#ifndef EXPORTD_WEBHOOK_H
#define EXPORTD_WEBHOOK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "util/limits.h"

/* records from one request, and their JSON text (413): the defaults of
 * --listener-max-records and --listener-max-stored-bytes */
#define WEBHOOK_MAX_RECORDS	LIMIT_LISTENER_RECORDS
#define WEBHOOK_MAX_STORED	LIMIT_LISTENER_STORED
#define WEBHOOK_MAX_FIELDS	10000	/* form pairs, CSV columns (413) */
#define WEBHOOK_MAX_XML_NODES	1000000	/* XML elements + attributes (413) */
/* attributes of one XML element (413): libxml2 checks them pairwise */
#define WEBHOOK_MAX_XML_ATTRS	1000
/* estimated memory of one JSON, CSV or XML document, libxml2's tree
 * included (413), and what the estimate counts */
#define WEBHOOK_MAX_DOC		(32 << 20)
#define WEBHOOK_VALUE_COST	96	/* one value or member */
#define WEBHOOK_XML_ELEMENT_COST 240	/* libxml2: one start tag */
#define WEBHOOK_XML_ATTR_COST	300	/* libxml2: one attribute */
#define WEBHOOK_MAX_DEPTH	LIMIT_JSON_DEPTH /* JSON, XML nesting (400) */
#define WEBHOOK_MAX_PATH	512	/* record, token, placeholder paths */
#define WEBHOOK_MAX_BODY_OUT	65536	/* rendered success/challenge body */
#define WEBHOOK_MAX_HEADER_OUT	4096	/* rendered response header value */
#define WEBHOOK_MAX_HEADERS	32	/* response headers */
#define WEBHOOK_WINDOW_MS	300000	/* slack/hubspot timestamp window */

/*
 * One request as the webhook modules see it. All pointers are borrowed and
 * must outlive the call. header() matches names case-insensitively; both
 * lookups return NULL when the name is absent and may be NULL themselves.
 */
struct webhook_request {
	const char	*method;	/* "POST", "PUT", "GET", ... */
	const char	*url;		/* public absolute URL the sender used,
					   with query (hubspot, trello) */
	const char	*url_token;	/* {token} path segment, or NULL */
	const char	*body;		/* raw bytes exactly as received */
	size_t		 bodylen;
	int64_t		 now_ms;	/* wall clock, ms since the epoch */
	const char	*(*header)(void *arg, const char *name);
	const char	*(*query)(void *arg, const char *name);
	void		*arg;		/* passed to header() and query() */
};

/* Header or query parameter of req, NULL if absent. */
const char	*webhook_header(const struct webhook_request *, const char *);
const char	*webhook_query(const struct webhook_request *, const char *);
/* String member of the webhook block, NULL if absent or not a string. */
const char	*webhook_string(const json_t *webhook, const char *name);
/* Case-insensitive ASCII prefix: s past the prefix, or NULL. */
const char	*webhook_prefix(const char *s, const char *prefix);

/*
 * Value at a dot path, borrowed. Segments walk objects by key and arrays by
 * decimal index ("items.0.id"); where the walk fails, a key equal to the
 * whole rest of the path is tried ("hub.challenge" as one urlencoded key).
 * NULL if absent or if the path is empty or longer than WEBHOOK_MAX_PATH.
 */
json_t		*webhook_path_get(const json_t *root, const char *path);
/* Remove the string at a dot path (found as webhook_path_get finds it)
 * from its object or array; 1 if one was removed, 0 if there is none. */
int		 webhook_path_del_string(json_t *root, const char *path);

#endif
