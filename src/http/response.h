/* Building responses. Every JSON body, success or error, leaves through
 * here with the same headers; errors are rendered in exactly one place. */
#ifndef EXPORTD_RESPONSE_H
#define EXPORTD_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "http/request.h"
#include "util/errors.h"

/* A JSON body; takes ownership of body (freed with free()). */
void	reply_json(struct request *, unsigned status, char *body, size_t len);
/* A body of the given Content-Type; takes ownership of body. */
void	reply_text(struct request *, unsigned status, const char *type,
	    char *body, size_t len);
/* A JSON body served from bytes the caller keeps alive until the reply
 * is built (copied). */
void	reply_json_copy(struct request *, unsigned status, const char *body,
	    size_t len);
/* A body that lives as long as the program (static data): not copied. */
void	reply_json_static(struct request *, unsigned status, const char *body,
	    size_t len);
/* A JSON body of unknown length, sent as read(cls, ...) produces it
 * (libmicrohttpd's content reader contract: bytes, END_OF_STREAM, or
 * END_WITH_ERROR, which cuts the connection so that the client sees an
 * incomplete body, never a short valid one). free_cls(cls) runs once the
 * response is done with; *sent is where read() counts the bytes it gave,
 * for the access log (it lives in cls). Takes ownership of cls. */
void	reply_json_stream(struct request *, unsigned status,
	    ssize_t (*read)(void *cls, uint64_t pos, char *buf, size_t max),
	    void *cls, void (*free_cls)(void *), const uint64_t *sent);
/* No body (204, or HEAD). */
void	reply_empty(struct request *, unsigned status);
/* Render errors as {"errors":[{code,message,field}]} with the first
 * error's status, plus the headers that status needs. */
void	reply_errors(struct request *, const struct errors *);
/* A whole HTTP/1.1 response carrying one error, for a connection answered
 * outside libmicrohttpd (it ends with Connection: close), with request
 * id id and a Retry-After header if retry_after > 0. Caller frees. */
char	*reply_raw_error_new(int status, const char *code, const char *id,
	    int retry_after, size_t *len, const char *fmt, ...)
	    __attribute__((format(printf, 6, 7)));
/* A single error. */
void	reply_error(struct request *, int status, const char *code,
	    const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/* 429 rate_limited with Retry-After: wait (whole seconds). */
void	reply_rate_limited(struct request *, long wait);
/* Add a header to the response built above. */
void	reply_header(struct request *, const char *name, const char *value);
/* Replace a 401's WWW-Authenticate challenge (errors carry "Bearer"). */
void	reply_challenge(struct request *, const char *challenge);

#endif
