/* Handlebars-style placeholders for webhook responses: {{path.to.value}}
 * filled from the parsed body, then the query string. No helpers, no code;
 * rules in docs/webhooks.md. */
#ifndef EXPORTD_WEBHOOK_TEMPLATE_H
#define EXPORTD_WEBHOOK_TEMPLATE_H

#include <jansson.h>
#include <stddef.h>

#include "webhook/webhook.h"

/* How a value is escaped where {{...}} puts it ({{{...}}} is never
 * escaped, except that HEADER output as a whole is always cleaned). */
enum webhook_escape {
	WEBHOOK_ESCAPE_NONE,	/* text/plain */
	WEBHOOK_ESCAPE_JSON,	/* as the inside of a JSON string */
	WEBHOOK_ESCAPE_XML,	/* & < > " ' as entities */
	WEBHOOK_ESCAPE_HEADER,	/* control characters dropped from it all */
};

/*
 * Render tmpl into a new NUL-terminated string (caller frees) of *len
 * bytes. A placeholder's path is looked up in doc (webhook_path_get), then
 * as a query parameter of that exact name; missing and null values render
 * as nothing. Returns NULL if the output would pass cap bytes.
 */
char	*webhook_template_render(const char *tmpl, enum webhook_escape,
	    const json_t *doc, const struct webhook_request *req, size_t cap,
	    size_t *len);

#endif
