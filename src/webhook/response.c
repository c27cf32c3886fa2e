/* Success and challenge responses of the webhook listener. */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/xmalloc.h"
#include "webhook/response.h"
#include "webhook/template.h"

/* Headers the HTTP layer owns: a configured one of these is ignored. */
static const char *const response_reserved[] = {
	"Content-Length", "Transfer-Encoding", "Connection", "Keep-Alive",
	"Upgrade", "TE", "Trailer", NULL,
};

static int	 response_status(const json_t *, const char *, int);
static const char *response_media(const json_t *, const char *,
		    enum webhook_escape *);
static void	 response_set(struct webhook_response *, const char *, char *);
static bool	 response_name_ok(const char *);
static void	 response_headers(struct webhook_response *, const json_t *,
		    const char *, const json_t *,
		    const struct webhook_request *);
static void	 response_body(struct webhook_response *, const json_t *,
		    const char *, const char *, const json_t *,
		    const struct webhook_request *);

/* The integer member name if it is a 2xx status, else def. */
static int
response_status(const json_t *w, const char *name, int def)
{
	json_t		*v = json_object_get(w, name);
	json_int_t	 n;

	if (!json_is_integer(v))
		return def;
	n = json_integer_value(v);
	return n >= 200 && n <= 299 ? (int)n : def;
}

/* Content-Type and escaping for a *MediaType member: json (default),
 * xml, plaintext. */
static const char *
response_media(const json_t *w, const char *name, enum webhook_escape *esc)
{
	const char	*m = webhook_string(w, name);

	if (m != NULL && strcasecmp(m, "xml") == 0) {
		*esc = WEBHOOK_ESCAPE_XML;
		return "application/xml";
	}
	if (m != NULL && strcasecmp(m, "plaintext") == 0) {
		*esc = WEBHOOK_ESCAPE_NONE;
		return "text/plain";
	}
	*esc = WEBHOOK_ESCAPE_JSON;
	return "application/json";
}

/* Set header name to value (taken): replaces one of the same name (any
 * case), else appends; dropped when the table is full. */
static void
response_set(struct webhook_response *resp, const char *name, char *value)
{
	size_t	i;

	for (i = 0; i < resp->nheaders; i++) {
		if (strcasecmp(resp->headers[i].name, name) == 0) {
			free(resp->headers[i].value);
			resp->headers[i].value = value;
			return;
		}
	}
	if (resp->nheaders == WEBHOOK_MAX_HEADERS) {
		free(value);
		return;
	}
	resp->headers[resp->nheaders].name = xstrdup(name);
	resp->headers[resp->nheaders].value = value;
	resp->nheaders++;
}

/* An RFC 9110 token of at most 256 characters, not a reserved header. */
static bool
response_name_ok(const char *name)
{
	const char	*p;
	size_t		 i;

	if (*name == '\0' || strlen(name) > 256)
		return false;
	for (p = name; *p != '\0'; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		    (*p >= '0' && *p <= '9') || strchr("!#$%&'*+-.^_`|~",
		    *p) != NULL))
			return false;
	for (i = 0; response_reserved[i] != NULL; i++)
		if (strcasecmp(name, response_reserved[i]) == 0)
			return false;
	return true;
}

/* The configured [{name, value}] headers, values rendered as templates;
 * entries with a bad name, a non-string value or an over-long result are
 * skipped. */
static void
response_headers(struct webhook_response *resp, const json_t *w,
    const char *member, const json_t *doc, const struct webhook_request *req)
{
	const char	*name, *tmpl;
	json_t		*h;
	char		*value;
	size_t		 i, len;

	json_array_foreach(json_object_get(w, member), i, h) {
		name = json_string_value(json_object_get(h, "name"));
		tmpl = json_string_value(json_object_get(h, "value"));
		if (name == NULL || tmpl == NULL || !response_name_ok(name))
			continue;
		value = webhook_template_render(tmpl, WEBHOOK_ESCAPE_HEADER,
		    doc, req, WEBHOOK_MAX_HEADER_OUT, &len);
		if (value != NULL)
			response_set(resp, name, value);
	}
}

/* Render tmpl as the body with its Content-Type; no body if the result
 * would pass WEBHOOK_MAX_BODY_OUT. */
static void
response_body(struct webhook_response *resp, const json_t *w,
    const char *media_member, const char *tmpl, const json_t *doc,
    const struct webhook_request *req)
{
	enum webhook_escape	 esc;
	const char		*ct;

	ct = response_media(w, media_member, &esc);
	resp->body = webhook_template_render(tmpl, esc, doc, req,
	    WEBHOOK_MAX_BODY_OUT, &resp->bodylen);
	if (resp->body != NULL)
		response_set(resp, "Content-Type", xstrdup(ct));
}

int
webhook_response_challenge(const json_t *w, const struct webhook_request *req,
    const json_t *doc, struct webhook_response *resp)
{
	const char	*m = req->method != NULL ? req->method : "";
	const char	*value = NULL, *tmpl, *type;
	json_t		*c;
	size_t		 len = 0;

	memset(resp, 0, sizeof *resp);
	type = webhook_string(doc, "type");
	c = json_object_get(doc, "challenge");
	if ((strcmp(m, "POST") == 0 || strcmp(m, "PUT") == 0) &&
	    type != NULL && strcmp(type, "url_verification") == 0 &&
	    json_is_string(c)) {
		value = json_string_value(c);
		len = json_string_length(c);
	} else if (strcmp(m, "GET") == 0) {
		if ((value = webhook_query(req, "hub.challenge")) == NULL)
			value = webhook_query(req, "challenge");
		len = value != NULL ? strlen(value) : 0;
	}
	if (value == NULL)
		return 0;

	resp->status = response_status(w, "challengeSuccessStatusCode", 200);
	tmpl = webhook_string(w, "challengeSuccessBody");
	if (resp->status == 204 || resp->status == 205)
		;
	else if (tmpl != NULL && *tmpl != '\0')
		response_body(resp, w, "challengeSuccessMediaType", tmpl, doc,
		    req);
	else if (len <= WEBHOOK_MAX_BODY_OUT) {
		resp->body = xmalloc(len + 1);
		memcpy(resp->body, value, len);
		resp->body[len] = '\0';
		resp->bodylen = len;
		response_set(resp, "Content-Type", xstrdup("text/plain"));
	}
	response_set(resp, "X-Content-Type-Options", xstrdup("nosniff"));
	response_headers(resp, w, "challengeResponseHeaders", doc, req);
	return 1;
}

void
webhook_response_success(const json_t *w, const struct webhook_request *req,
    const json_t *doc, struct webhook_response *resp)
{
	const char	*tmpl;

	memset(resp, 0, sizeof *resp);
	resp->status = response_status(w, "successStatusCode", 204);
	tmpl = webhook_string(w, "successBody");
	if (resp->status != 204 && resp->status != 205 && tmpl != NULL &&
	    *tmpl != '\0')
		response_body(resp, w, "successMediaType", tmpl, doc, req);
	response_headers(resp, w, "successResponseHeaders", doc, req);
}

void
webhook_response_free(struct webhook_response *resp)
{
	size_t	i;

	for (i = 0; i < resp->nheaders; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->body);
	memset(resp, 0, sizeof *resp);
}
