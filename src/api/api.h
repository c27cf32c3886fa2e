/* The API handlers, one file per resource, and what they share. */
#ifndef EXPORTD_API_H
#define EXPORTD_API_H

#include <jansson.h>
#include <stddef.h>

#include "http/request.h"
#include "http/router.h"

extern const struct route api_routes[];
extern const size_t api_nroutes;

void	health_get(struct request *);
void	tokeninfo_get(struct request *);
void	exports_list(struct request *);
void	exports_get(struct request *);
void	exports_create(struct request *);
void	exports_replace(struct request *);
void	exports_delete(struct request *);
void	exports_distributed_get(struct request *);
void	exports_distributed_put(struct request *);
void	exports_clone(struct request *);

/* The request body as a JSON object, or NULL after replying 400. */
json_t	*api_body_object(struct request *);
struct server;
/* A row's secrets as {"webhook.key": "...", ...}, decrypted (caller
 * frees); NULL with *bad set when they cannot be read. */
json_t	*api_secrets_open(const struct server *, const struct store_row *,
	    int *bad);
void	 listener_receive(struct request *);
void	 inbox_get(struct request *);
void	 inbox_ack(struct request *);

/* Reply for a store failure (404, 503, 500). */
void	 api_store_failure(struct request *, enum store_status,
	    const char *what);

#endif
