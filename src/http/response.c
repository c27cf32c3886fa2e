/* Response construction and the one error renderer. */
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "http/response.h"
#include "util/json.h"
#include "util/xmalloc.h"

#define JSON_TYPE "application/json; charset=utf-8"
#define STREAM_BLOCK (16 * 1024)	/* bytes asked of a stream at a time */

static void
reply_set(struct request *req, unsigned status, struct MHD_Response *r,
    size_t len)
{
	if (req->resp != NULL)
		MHD_destroy_response(req->resp);
	req->resp = r;
	req->status = status;
	req->resp_bytes = len;
	req->resp_sent = NULL;
	MHD_add_response_header(r, "X-Request-Id", req->id);
}

void
reply_text(struct request *req, unsigned status, const char *type,
    char *body, size_t len)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_buffer_with_free_callback(len, body,
	    free);
	if (r == NULL)
		abort();
	reply_set(req, status, r, len);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
}

void
reply_json(struct request *req, unsigned status, char *body, size_t len)
{
	reply_text(req, status, JSON_TYPE, body, len);
}

/* A JSON body from bytes libmicrohttpd copies or keeps (mode). */
static void
reply_json_buffer(struct request *req, unsigned status, const char *body,
    size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_buffer(len, (void *)(uintptr_t)body,
	    mode);
	if (r == NULL)
		abort();
	reply_set(req, status, r, len);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
}

void
reply_json_copy(struct request *req, unsigned status, const char *body,
    size_t len)
{
	reply_json_buffer(req, status, body, len, MHD_RESPMEM_MUST_COPY);
}

void
reply_json_static(struct request *req, unsigned status, const char *body,
    size_t len)
{
	reply_json_buffer(req, status, body, len, MHD_RESPMEM_PERSISTENT);
}

void
reply_json_stream(struct request *req, unsigned status,
    ssize_t (*read)(void *, uint64_t, char *, size_t), void *cls,
    void (*free_cls)(void *), const uint64_t *sent)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
	    STREAM_BLOCK, read, cls, free_cls);
	if (r == NULL)
		abort();
	reply_set(req, status, r, 0);
	req->resp_sent = sent;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, JSON_TYPE);
}

void
reply_empty(struct request *req, unsigned status)
{
	struct MHD_Response	*r;

	r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		abort();
	reply_set(req, status, r, 0);
}

void
reply_header(struct request *req, const char *name, const char *value)
{
	if (req->resp != NULL)
		MHD_add_response_header(req->resp, name, value);
}

void
reply_challenge(struct request *req, const char *challenge)
{
	if (req->resp == NULL)
		return;
	MHD_del_response_header(req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
	    "Bearer");
	MHD_add_response_header(req->resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
	    challenge);
}

void
reply_rate_limited(struct request *req, long wait)
{
	char	secs[24];

	reply_error(req, 429, "rate_limited", NULL,
	    "Too many requests. Retry after %ld seconds.", wait);
	snprintf(secs, sizeof(secs), "%ld", wait);
	reply_header(req, MHD_HTTP_HEADER_RETRY_AFTER, secs);
}

/* errs holds one error, its message formatted from fmt and ap. */
static void __attribute__((format(printf, 5, 0)))
errors_one(struct errors *errs, int status, const char *code,
    const char *field, const char *fmt, va_list ap)
{
	char	msg[256];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	errors_init(errs);
	errors_add(errs, status, code, field, "%s", msg);
}

/* {"errors":[{code,message,field}]} as a new string; caller frees. */
static char *
errors_render_new(const struct errors *errs, size_t *len)
{
	json_t		*root, *arr, *e;
	char		*body;
	size_t		 i;

	root = json_object();
	arr = json_array();
	for (i = 0; i < errs->n; i++) {
		e = json_object();
		json_object_set_new(e, "code", json_string(errs->e[i].code));
		json_object_set_new(e, "message",
		    json_string(errs->e[i].message));
		if (errs->e[i].field[0] != '\0')
			json_object_set_new(e, "field",
			    json_string(errs->e[i].field));
		json_array_append_new(arr, e);
	}
	json_object_set_new(root, "errors", arr);
	body = json_render_new(root, len);
	json_decref(root);
	return body;
}

void
reply_errors(struct request *req, const struct errors *errs)
{
	char		*body;
	size_t		 len;
	int		 status = errors_status(errs);

	body = errors_render_new(errs, &len);
	reply_json(req, (unsigned)status, body, len);
	if (status == 401)
		reply_header(req, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
}

char *
reply_raw_error_new(int status, const char *code, const char *id,
    int retry_after, size_t *len, const char *fmt, ...)
{
	struct errors	 errs;
	char		 retry[40] = "", date[64], *body, *out;
	struct tm	 tm;
	time_t		 now = time(NULL);
	va_list		 ap;
	size_t		 blen;

	va_start(ap, fmt);
	errors_one(&errs, status, code, NULL, fmt, ap);
	va_end(ap);
	body = errors_render_new(&errs, &blen);
	if (retry_after > 0)
		snprintf(retry, sizeof(retry), "Retry-After: %d\r\n",
		    retry_after);
	gmtime_r(&now, &tm);
	strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
	out = xasprintf("HTTP/1.1 %d %s\r\nDate: %s\r\nX-Request-Id: %s\r\n"
	    "Content-Type: %s\r\nContent-Length: %zu\r\n%s"
	    "Connection: close\r\n\r\n%s", status,
	    MHD_get_reason_phrase_for((unsigned)status), date, id, JSON_TYPE,
	    blen, retry, body);
	free(body);
	*len = strlen(out);
	return out;
}

void
reply_error(struct request *req, int status, const char *code,
    const char *field, const char *fmt, ...)
{
	struct errors	errs;
	va_list		ap;

	va_start(ap, fmt);
	errors_one(&errs, status, code, field, fmt, ap);
	va_end(ap);
	reply_errors(req, &errs);
}
