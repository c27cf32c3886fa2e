/*
 * Running an HTTP export (docs/running.md): the export's http block (or a
 * legacy rest block mapped onto it) and its connection, secrets opened,
 * become requests; their answers become pages of records. The rules are
 * integrator.io's: request building, auth, the seven paging methods,
 * response parsing, test and delta types.
 *
 * A run is a value with no tie to HTTP serving: run_new builds it, each
 * run_next sends one request (two after an auth refresh) and hands back
 * that page's records; only one page is held at a time. Requests are
 * sent with the caller's fetch_client, so a run belongs to the thread
 * that owns that client (a worker, never a thread serving requests).
 */
#ifndef EXPORTD_RUN_H
#define EXPORTD_RUN_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "run/egress.h"
#include "run/fetch.h"

/* The caps of one run (limits.h's defaults, --run-max-* options). */
struct run_limits {
	int64_t	 max_pages;
	int64_t	 max_records;
};

struct run_input {
	const json_t	*export;	/* the export document */
	const json_t	*connection;	/* its connection, secrets in place */
	const json_t	*secrets;	/* its opened secrets: every string in
					   it is masked in stages and errors */
	const char	*connection_id;	/* caches and concurrency; may be "" */
	int64_t		 connection_rev; /* a changed connection: new caches */
	const json_t	*settings;	/* or NULL */
	const json_t	*record;	/* input data for lookups, or NULL */
	const json_t	*post_data;	/* {lastExportDateTime?,
					   currentExportDateTime?} or NULL */
	const char	*state_last;	/* delta: the export's state, or NULL */
	const json_t	*cursor;	/* resume (run_cursor), or NULL */
	bool		 stages;	/* keep preview stages */
	const struct egress *egress;	/* RDBMS: the policy it connects under */
	int		 rdbms_rows;	/* RDBMS: rows of one page */
	int64_t		 now_ms;
	struct run_limits limits;
};

struct run;

/*
 * A new run, or NULL with why filled when the export cannot run as it
 * is (a template that does not parse, a method or auth type that is not
 * supported): the caller answers 422 with why. why names fields, never
 * a secret.
 */
struct run	*run_new(const struct run_input *, char *why, size_t whysz);
void		 run_free(struct run *);

/*
 * Send the next request and put its records in *records (a new array,
 * maybe empty). Returns 0 while the run goes on, 1 when it is over (this
 * page was the last, or a failure ended it: see run_errors). A run that
 * is over gives empty pages.
 */
int		 run_next(struct run *, struct fetch_client *, json_t **records);
/* Whether the run is over. */
bool		 run_done(const struct run *);
/* The failures so far: [{code, message, source, statusCode?}] (borrowed;
 * every known secret replaced by "******"). */
const json_t	*run_errors(const struct run *);
/* Preview stages so far: [{name, data}] for request, raw and parse
 * (borrowed; secrets masked). Empty unless input.stages. */
const json_t	*run_stages(const struct run *);
/* Where the run stands, to carry on in another run_new (a new object;
 * it holds the next request and may hold secrets: seal it). */
json_t		*run_cursor(const struct run *);
/* Pages requested and records returned so far, cursor included. */
int64_t		 run_pages(const struct run *);
/* The delta cutoff this run passed as currentExportDateTime. */
const char	*run_current(const struct run *);

/* Whether the run engine can run this export ("HTTPExport" or
 * "RESTExport" through an http or rest connection, "RDBMSExport" through
 * an rdbms one): 1, or 0 with why filled. */
int		 run_supported(const char *adaptor, const char *conn_type,
		    char *why, size_t whysz);

enum run_auth_result {
	RUN_AUTH_OK,
	RUN_AUTH_FAILED,	/* the token request or the login failed */
	RUN_AUTH_UNSUPPORTED,	/* an auth the engine does not do */
};

/* One request signed outside a run: what run_auth_sign fills. */
struct run_signed {
	char	*url;		/* the URL to request: a token may be in it */
	char	*name;		/* the header to send, or NULL */
	char	*value;		/* its value */
	json_t	*masks;		/* strings no message may show: the secrets,
				   the token or cookie, values made of them */
	char	*why;		/* not RUN_AUTH_OK: what failed, no secret */
};

/*
 * Sign one request made outside a run (a connection's ping) with the
 * connection's auth as a run signs its requests: in names the connection
 * (connection, secrets, connection_id, connection_rev, now_ms; the
 * export is not read). A token or cookie login is made now with fc,
 * never taken from the cache: it replaces the one the runs of
 * connection_id share (nothing is kept without an id; a failed login
 * leaves nothing). out is filled whatever the result; the caller frees
 * it with run_signed_free.
 */
enum run_auth_result run_auth_sign(const struct run_input *in,
		    struct fetch_client *, const char *url,
		    struct run_signed *out);
void		 run_signed_free(struct run_signed *);

/* Empty the OAuth and cookie caches (tests, key rotation). */
void		 run_auth_flush(void);

/* s percent-encoded for a URL query or a form body (RFC 3986 unreserved
 * characters kept); caller frees. */
char	*run_url_encode(const char *s);
/* The Content-Type of an integrator.io media type name (json, xml,
 * urlencoded, form-data, plaintext, csv; any case); application/json
 * for NULL or any other. */
const char *run_content_type(const char *media);

#endif
