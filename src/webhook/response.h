/* What the listener answers: the success response after records are
 * stored, or the answer to a subscription challenge (docs/webhooks.md). */
#ifndef EXPORTD_WEBHOOK_RESPONSE_H
#define EXPORTD_WEBHOOK_RESPONSE_H

#include <jansson.h>
#include <stddef.h>

#include "webhook/webhook.h"

struct webhook_header {
	char	*name;
	char	*value;
};

/* Owned strings; free with webhook_response_free. Content-Type, when a
 * body is sent, is one of the headers (a configured header may replace
 * it). The HTTP layer adds Content-Length and framing itself. */
struct webhook_response {
	int			 status;
	char			*body;		/* NULL: no body */
	size_t			 bodylen;
	size_t			 nheaders;
	struct webhook_header	 headers[WEBHOOK_MAX_HEADERS];
};

/*
 * If req is a subscription challenge, fill *resp and return 1; else leave
 * it empty and return 0. Challenges: a POST/PUT whose parsed body (doc) is
 * {"type":"url_verification","challenge":"..."} (Slack), a GET with
 * ?hub.challenge= (WebSub, Facebook), a GET with ?challenge= (Dropbox).
 * Call only after webhook_verify accepted req; store nothing for it.
 */
int	webhook_response_challenge(const json_t *webhook,
	    const struct webhook_request *req, const json_t *doc,
	    struct webhook_response *resp);

/* Fill *resp with the answer to a delivery whose records are stored:
 * successStatusCode (2xx, default 204), successBody rendered unless the
 * status is 204 or 205, successMediaType, successResponseHeaders. */
void	webhook_response_success(const json_t *webhook,
	    const struct webhook_request *req, const json_t *doc,
	    struct webhook_response *resp);

void	webhook_response_free(struct webhook_response *);

#endif
