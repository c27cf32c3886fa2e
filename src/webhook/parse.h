/* Webhook bodies to records: JSON, XML, CSV, urlencoded or plain text,
 * then split by webhook.pathToRecords. Rules in docs/webhooks.md. */
#ifndef EXPORTD_WEBHOOK_PARSE_H
#define EXPORTD_WEBHOOK_PARSE_H

#include <jansson.h>
#include <stddef.h>

#include "webhook/webhook.h"

enum webhook_media {
	WEBHOOK_MEDIA_JSON,
	WEBHOOK_MEDIA_XML,
	WEBHOOK_MEDIA_CSV,
	WEBHOOK_MEDIA_URLENCODED,
	WEBHOOK_MEDIA_PLAINTEXT,
	WEBHOOK_MEDIA_UNSUPPORTED,
};

/* Outcome of parsing: 0, or the HTTP status the listener answers with. */
enum webhook_parse_status {
	WEBHOOK_PARSE_OK = 0,
	WEBHOOK_PARSE_MALFORMED = 400,	/* unparseable, bad pathToRecords */
	WEBHOOK_PARSE_TOO_LARGE = 413,	/* past a WEBHOOK_MAX_* cap */
	WEBHOOK_PARSE_UNSUPPORTED = 415,	/* Content-Type not parsed */
};

#define WEBHOOK_WHYLEN	160	/* size for the why buffers below */

/* Initialise libxml2; call once from the main thread before any thread
 * parses a body. */
void	webhook_parse_init(void);

/* Media type from webhook.requestMediaType when it is one of json, xml,
 * csv, urlencoded, plaintext; else from content_type (NULL: JSON). */
enum webhook_media webhook_parse_media(const json_t *webhook,
	    const char *content_type);

/*
 * Parse req's body into a new document in *doc (NULL for an empty body).
 * Returns a webhook_parse_status; on failure *doc is NULL and why holds a
 * short message that may be shown to the sender (no secrets in it).
 */
int	webhook_parse_body(const json_t *webhook,
	    const struct webhook_request *req, json_t **doc, char *why,
	    size_t whysz);

/* Bounds of one delivery's records (413 beyond). */
struct webhook_caps {
	size_t	records;	/* records */
	size_t	bytes;		/* their JSON text, all together */
};

/*
 * The records of a parsed document as a new array of objects in *records,
 * following pathToRecords and includeParentData, within WEBHOOK_MAX_RECORDS
 * and WEBHOOK_MAX_STORED (includeParentData's copies counted). Records may
 * share values with doc (reference counted): treat both as read-only.
 */
int	webhook_parse_records(const json_t *webhook, const json_t *doc,
	    json_t **records, char *why, size_t whysz);

/* How many records doc holds (what pathToRecords selects), without
 * making any: 0, 400, or 413 past caps->records. */
int	webhook_parse_count(const json_t *webhook, const json_t *doc,
	    const struct webhook_caps *caps, size_t *n, char *why,
	    size_t whysz);

/* One record's JSON text; takes ownership of text (free()). */
typedef void (*webhook_record_cb)(void *arg, char *text, size_t len);

/*
 * The records of doc (as webhook_parse_records makes them) rendered one at
 * a time and handed to cb in order, within caps: 0, 400, or 413 as soon
 * as a cap is passed (records already handed over stay the caller's). At
 * most one record object exists at a time, so memory stays bounded by
 * doc plus caps->bytes of text.
 */
int	webhook_parse_render(const json_t *webhook, const json_t *doc,
	    const struct webhook_caps *caps, webhook_record_cb cb, void *arg,
	    char *why, size_t whysz);

/* Both steps. *doc (if doc is not NULL) gets the document for templates
 * and challenges; the caller frees *doc and *records. */
int	webhook_parse(const json_t *webhook, const struct webhook_request *req,
	    json_t **doc, json_t **records, char *why, size_t whysz);

#endif
