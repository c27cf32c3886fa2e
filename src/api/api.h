/* The API handlers, one file per resource, and what they share. */
#ifndef EXPORTD_API_H
#define EXPORTD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ratelimit.h"
#include "crypto/crypto.h"
#include "http/request.h"
#include "http/router.h"
#include "model/project.h"
#include "run/egress.h"
#include "run/fetch.h"
#include "run/pool.h"
#include "run/run.h"
#include "store/store.h"
#include "util/errors.h"

/* What the handlers share for the server's life (context.c). The HTTP
 * layer carries it as an opaque pointer (server.app) and calls into it
 * through api_hooks. */
struct api_context {
	struct store		*store;
	unsigned char		 key[CRYPTO_KEYLEN];	/* secrets at rest */
	int64_t			 inbox_cap;	/* records kept per export */
	size_t			 listener_max_records;	/* per delivery */
	size_t			 listener_max_stored;	/* bytes per delivery */
	struct ratelimit	 listener_rl;	/* per webhook export */
	struct ratelimit	 listener_failed_rl; /* per client address:
						failed verifications */
	char			*metrics_token;	/* for /metrics, or NULL */
	int64_t			 started_ms;	/* Unix time, for /metrics */
	long			 audit_retention_days;	/* 0: forever */
	struct audit_pruner	*pruner;
	/* outbound requests (pings, runs): a fetch_client per worker
	 * thread, made with these */
	const struct egress	*egress;	/* not owned */
	struct fetch_limits	 fetch_limits;
	struct run_pool		*runs;		/* the workers of runs */
	struct run_limits	 run_limits;
};

struct api_options {
	long	 inbox_cap;
	size_t	 listener_max_records;
	size_t	 listener_max_stored;
	long	 listener_burst;
	long	 listener_per_second;
	long	 listener_failed_burst;
	long	 listener_failed_per_second;
	const char *metrics_token;	/* NULL or "": /metrics is open */
	long	 audit_retention_days;
	const struct egress *egress;	/* not owned; outlives the context */
	struct fetch_limits fetch_limits;
	unsigned run_workers;
	struct run_limits run_limits;
};

/* A request's write (api_write_get), with what it adds beside the change:
 * its audit entry (api_audit). */
struct api_write {
	struct store_write	 w;	/* first: a write is its api_write */
	struct store_side_row	 audit;
	char			 audit_id[OID_HEXLEN + 1];
	char			*audit_body;
};

struct server_hooks;
extern const struct server_hooks api_hooks;

/* Set up a context over an open store (not owned) and a copy of the
 * secret key; api_context_free wipes the key. */
void	 api_context_init(struct api_context *, struct store *,
	    const unsigned char key[CRYPTO_KEYLEN], const struct api_options *);
void	 api_context_free(struct api_context *);
/* The context of the server a request came in on, and its store. */
struct api_context *api_context(const struct request *);
struct store	*api_store(const struct request *);
/* The request's write, zeroed on first use and freed (with the row it
 * stored) when the request completes. */
struct store_write *api_write_get(struct request *);
/* Submit the request's write in the request's account and suspend the
 * request; cont runs on a server thread once the write is durable or has
 * failed (its status and result are in api_write_get). */
void	 api_write_submit(struct request *, void (*cont)(struct request *));

extern const struct route api_routes[];
extern const size_t api_nroutes;

void	health_get(struct request *);
void	ready_get(struct request *);
void	metrics_get(struct request *);
void	openapi_get(struct request *);
void	tokeninfo_get(struct request *);
void	exports_list(struct request *);
void	exports_get(struct request *);
void	exports_create(struct request *);
void	exports_replace(struct request *);
void	exports_delete(struct request *);
void	exports_distributed_get(struct request *);
void	exports_distributed_put(struct request *);
void	exports_clone(struct request *);
void	exports_patch(struct request *);
void	exports_dependencies(struct request *);
void	exports_replace_connection(struct request *);
void	connections_list(struct request *);
void	connections_get(struct request *);
void	connections_create(struct request *);
void	connections_replace(struct request *);
void	connections_patch(struct request *);
void	connections_delete(struct request *);
void	connections_dependencies(struct request *);
void	connections_audit(struct request *);
void	connections_ping(struct request *);
void	connections_ping_unsaved(struct request *);

void	 audit_list(struct request *);
void	 exports_audit(struct request *);
void	 state_global_keys(struct request *);
void	 state_global_get(struct request *);
void	 state_global_put(struct request *);
void	 state_global_delete(struct request *);
void	 exports_state_keys(struct request *);
void	 exports_state_get(struct request *);
void	 exports_state_put(struct request *);
void	 exports_state_delete(struct request *);

/* The audit log (audit.c). */

/* Inside a write's mutate: the write's audit entry, a side row committed
 * with the change or not at all. event is "create", "update" or
 * "delete"; cur and next are the rows before and after (NULL where there
 * is none); the secret maps (plain, may be NULL) tell which secrets
 * changed, shown masked. Made again when mutate runs again. Returns 0,
 * or -1 (the store could not be read: refuse the write). */
int	 api_audit(struct store_write *, const char *resource_type,
	    const char *event, const struct store_row *cur,
	    const struct store_row *next, const json_t *secrets_before,
	    const json_t *secrets_after);
/* The background pruning of entries past --audit-retention-days. */
void	 audit_pruner_start(struct api_context *);
void	 audit_pruner_stop(struct api_context *);
/* The audit page of a resource of kind res (GET /v1/<kind>/{id}/audit). */
void	 audit_resource_list(struct request *, enum store_res,
	    const char *resource_type, const char *what);
/* State of a resource of kind res (/v1/<kind>/{id}/state[/{key}]). */
void	 state_keys(struct request *, enum store_res, const char *what);
void	 state_get(struct request *, enum store_res, const char *what);
void	 state_put(struct request *, enum store_res, const char *what);
void	 state_delete(struct request *, enum store_res, const char *what);

/* What POST /v1/exports does to a document, for other ways in (--seed).
 * exports_doc_check normalises doc in place and validates it, for a new
 * export (stored_adaptor NULL) or a replace; -1 with errors added.
 * exports_row_create fills next for a new export (account, id) from a
 * checked document: its secrets taken out and sealed under key, a new
 * api identifier, timestamps, the rendering. */
int	exports_doc_check(json_t *doc, const char *stored_adaptor,
	    struct errors *);
/* The connection id a document names (24 hex digits), or NULL. */
const char *exports_doc_connection(const json_t *doc);
/* exports_doc_check with the reference the document names resolved by
 * the caller: ctype is the type of the account's connection it names, or
 * NULL if there is none. An absent adaptorType is derived from it; a
 * missing or unsuitable connection is 422 invalid_ref. */
int	exports_doc_check_ref(json_t *doc, const char *stored_adaptor,
	    const char *ctype, struct errors *);
/* The same for POST /v1/connections: connections_doc_check normalises and
 * validates; connections_row_create fills next for a new connection. */
int	connections_doc_check(json_t *doc, struct errors *);
void	connections_row_create(const unsigned char key[CRYPTO_KEYLEN],
	    const char *account, const char *id, const json_t *checked,
	    struct store_row *next);
void	exports_row_create(const unsigned char key[CRYPTO_KEYLEN],
	    const char *account, const char *id, const json_t *checked,
	    struct store_row *next);

/* Exports that run (runs.c). */
void	 exports_invoke(struct request *);
void	 exports_preview(struct request *);
void	 connections_export(struct request *);
void	 connections_export_pages(struct request *);
/* Shutdown (server_hooks.abandon): a run still going answers now — 503
 * if it was to answer in one piece, a cut stream if it was streaming —
 * and its worker stops after the page in flight. */
void	 runs_abandon(void *app);

void	 listener_receive(struct request *);
void	 inbox_get(struct request *);
void	 inbox_ack(struct request *);

/* A resource kind as its handlers see it (resource.c). */
struct api_kind {
	enum store_res	 res;
	const char	*what;		/* "Export": "<what> not found" */
	const char	*noun;		/* "export", in messages */
	const char	*path;		/* "/v1/exports" */
	/* the list filter of each store column: a query parameter, or NULL */
	const char	*filters[STORE_MAX_COLS];
};

extern const struct api_kind api_exports_kind;
extern const struct api_kind api_connections_kind;

/* What a write carries from the request thread into its mutate step. */
struct api_wstate {
	const struct api_kind	*kind;
	json_t		*doc;		/* client document, normalised */
	json_t		*block;		/* distributed configuration */
	json_t		*ops;		/* PATCH operations */
	char		*clone_name;
	json_t		*connection_map;
	char		*if_match;	/* header copy, or NULL */
	char		*reply;		/* a reply body made by mutate */
	size_t		 reply_len;
	void		*extra;		/* a handler's own, freed with */
	void		(*extra_free)(void *);
	struct errors	 errs;		/* why mutate refused; last: large */
};

/* The request's write state (freed with the request). */
struct api_wstate *api_wstate_new(struct request *, const struct api_kind *);
/* Inside a write: 0, or -1 with a 412 added unless If-Match allows the
 * current revision. */
int	 api_precondition(struct api_wstate *, const struct store_row *cur);
/* Inside a write: add a 500 for the request; returns -1. */
int	 api_internal_error(struct request *, struct api_wstate *);
/* A copy of a row's sealed secrets, for a write that keeps them as they
 * are (NULL when it has none). */
unsigned char *api_secrets_copy(const struct store_row *);
struct patch_path;
/* PATCH: check the body's operations against paths and submit an update
 * whose mutate applies them; 204 with the new ETag. */
void	 api_patch_submit(struct request *, const struct api_kind *,
	    const struct patch_path *paths,
	    int (*mutate)(struct store_write *, const struct store_row *,
	    struct store_row *));
/* GET one, DELETE and GET the list of a kind. */
void	 api_get(struct request *, const struct api_kind *);
void	 api_delete(struct request *, const struct api_kind *);
void	 api_list(struct request *, const struct api_kind *);

/* What every handler shares (common.c). */

/* The request body as a JSON object, or NULL after replying 400. */
json_t	*api_body_object(struct request *);
/* The request body as any JSON value, or NULL after replying 400. */
json_t	*api_body_json(struct request *);
/* The same parse and caps on bytes from elsewhere (--seed): NULL with
 * why set to the reason ("is not valid JSON: ..."); api_object_caps
 * checks the caps of one parsed document (-1 with why set). */
json_t	*api_object_parse(const char *data, size_t len, char *why,
	    size_t whysz);
int	 api_object_caps(const json_t *v, char *why, size_t whysz);
/* Reply for a store failure (404 "<what> not found", 503, 500). */
void	 api_store_failure(struct request *, enum store_status,
	    const char *what);
/* The id in the path, lowercased; -1 after replying 404 ("<what> not
 * found") when it is not an ObjectId. */
int	 api_path_id(struct request *, const char *what,
	    char id[OID_HEXLEN + 1]);
/* Add the ETag of a stored revision: "id-rev", a strong validator. */
void	 api_reply_etag(struct request *, const char *id, int64_t rev);
/* Whether an RFC 9110 entity-tag list (If-Match, If-None-Match) matches
 * the revision: "*" matches any current representation; a malformed list
 * matches nothing. If-Match compares strongly (weak false: a W/ tag never
 * matches); If-None-Match weakly (W/ is ignored). */
int	 api_etag_matches(const char *list, const char *id, int64_t rev,
	    bool weak);
struct server;
/* A row's secrets as {"webhook.key": "...", ...}, decrypted (caller
 * frees); NULL with *bad set when they cannot be read. */
json_t	*api_secrets_open(const struct server *, const struct store_row *,
	    int *bad);
/* After a write: 0 if it succeeded, else 1 after replying with errs (a
 * refusal by the mutate step) or the store's failure about <what>. */
int	 api_write_failed(struct request *, const struct errors *errs,
	    const char *what);
/* Reply with the row the write stored, and its ETag. */
void	 api_reply_row(struct request *, unsigned status);
/* A whole number query parameter, def when absent; -1 (with an error
 * added) if present and not a whole number of at least min. */
int	 api_query_number(struct request *, struct errors *,
	    const char *name, int64_t def, int64_t min, int64_t *out);
/* The include and exclude query parameters; -1 with an error added when
 * they are malformed. The caller frees the projection either way. */
int	 api_projection_parse(struct request *, struct projection *,
	    struct errors *);
/* A Link header value for the next page of a list at path: the same
 * limit and the query parameters named in params, and the keyset cursor
 * after the last row served. Absolute, from --public-url or the request's
 * origin. Caller frees. */
char	*api_next_link(struct request *, const char *path,
	    const char *const *params, size_t nparams, int64_t limit,
	    int64_t last_seq);

#endif
