/* Shared by the files of the HTTP run engine only (run.c, request.c,
 * auth.c, reply.c, slots.c); run.h is the interface. */
#ifndef EXPORTD_RUN_INTERNAL_H
#define EXPORTD_RUN_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "run/fetch.h"
#include "run/run.h"
#include "util/buf.h"

#define RUN_MAX_HEADERS		64	/* request headers, auth included */
#define RUN_MAX_MESSAGE		512	/* bytes of a remote error message */
#define RUN_MIN_SECRET		4	/* shorter values are not masked */
#define RUN_TIME_LEN		64	/* a formatted cutoff */

struct rdbms_run;

struct run {
	json_t		*http;		/* the export's http block (copy) */
	json_t		*conn;		/* the connection's http block (copy) */
	json_t		*ctx;		/* the templates' context */
	json_t		*errors;
	json_t		*stages;
	json_t		*secrets;	/* strings to mask */
	char		 conn_id[80];
	char		 conn_key[128];	/* conn_id and revision: caches */
	struct run_limits lim;
	const char	*paging;	/* method, or NULL */
	int64_t		 page;
	int64_t		 skip;
	char		*token;
	char		*next_url;	/* the next request, rendered */
	char		*next_body;	/* or NULL */
	int64_t		 pages;		/* requests made (pages) */
	int64_t		 records;	/* records returned */
	int64_t		 test_limit;	/* type test: records; 0: none */
	int		 concurrency;	/* connection.concurrencyLevel; 0 */
	bool		 done;
	bool		 want_stages;
	int64_t		 now_ms;
	char		 current[RUN_TIME_LEN];
	/* RDBMSExport: the rendered query, its reader once started, the
	 * rows a resumed run skips */
	bool		 rdbms;
	char		*sql;
	struct rdbms_run *db;
	const json_t	*db_conn;	/* the connection document */
	json_t		*db_conn_ref;
	const struct egress *egress;
	int		 db_rows;
	int64_t		 db_skip;
};

/* One request as sent: its headers own their strings. */
struct run_req {
	char			*method;
	char			*url;
	struct fetch_header	 h[RUN_MAX_HEADERS];
	char			*hname[RUN_MAX_HEADERS];
	char			*hvalue[RUN_MAX_HEADERS];
	size_t			 nh;
	char			*body;
};

/* run.c */
void	 run_error(struct run *, const char *code, const char *source,
	    long status, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
/* A run with its connection, masks and context only: no export read,
 * nothing to send yet (run_free frees it). */
struct run *run_base_new(const struct run_input *);
/* Render text over the run's context: a new string, or NULL after an
 * error about field was added. */
char	*run_render(struct run *, const char *text, const char *field);
/* A string member at a dot path of v, or NULL. */
const char *run_str(const json_t *v, const char *path);
/* A JSON string of s, "" when s is not UTF-8 (a new reference). */
json_t	*run_jtext(const char *s);
/* A value to mask wherever it appears from now on. */
void	 run_secret(struct run *, const char *);
/* Render the next request's URL and body after the counters moved (page
 * 2+: later, from the paging templates); -1 with an error added. */
int	 run_prepare(struct run *, bool later);
/* Copy of s with every secret replaced by "******" (caller frees). */
char	*run_mask(const struct run *, const char *s);

/* request.c: build the next request (headers rendered, auth applied);
 * -1 with an error added. */
int	 run_req_build(struct run *, struct fetch_client *, struct run_req *);
void	 run_req_add(struct run_req *, const char *name, const char *value,
	    unsigned flags);
void	 run_req_free(struct run_req *);
/* The request as the preview's request stage shows it. */
json_t	*run_req_stage(const struct run *, const struct run_req *);

/* auth.c: add the connection's auth to req, fetching a token or a
 * cookie first if it needs one (cached per connection); -1 with an error
 * added. */
int	 run_auth_apply(struct run *, struct fetch_client *, struct run_req *);
/* 0 if the engine does the auth of conn (an http block); -1 with why
 * filled (no secret in it) if not. */
int	 run_auth_check(const json_t *conn, char *why, size_t whysz);
/* Whether resp says the auth failed (failStatusCode, failPath). */
bool	 run_auth_failed(const struct run *, long status, const json_t *doc);
/* Forget the cached token or cookie of the run's connection; 1 if the
 * auth type fetches one (a retry may help), else 0. */
int	 run_auth_forget(struct run *);

/* reply.c: parse a response's body by the export's media types; NULL
 * (and an error added) if it cannot be. An empty body is JSON null. */
json_t	*run_reply_parse(struct run *, const struct fetch_response *,
	    bool success);
/* The records of a parsed page at the resource path (a new array). */
json_t	*run_reply_records(const struct run *, const json_t *doc);
/* 0 if the page is a success by successPath and failPath; -1 with an
 * error added (its message from errorPath). */
int	 run_reply_check(struct run *, const struct fetch_response *,
	    const json_t *doc);
/* The message of a failed answer: errorPath's value, or the body. */
char	*run_reply_message(const struct run *, const struct fetch_response *,
	    const json_t *doc);
/* Value at path compared as integrator.io compares: as strings. */
bool	 run_value_in(const json_t *v, const json_t *values, bool any_elem);

/* page.c: keep at most what the caps and test.limit still allow of recs
 * (r->done once they are reached). */
void	 run_cap(struct run *, json_t *recs);

/* rdbms.c's pages as a run's (sql.c). */
int	 run_sql_next(struct run *, json_t **records);
void	 run_sql_free(struct run *);

/* slots.c: at most level requests at once per connection key (0: no
 * bound); -1 if a slot did not free up in time. */
int	 run_slot_take(const char *key, int level, long wait_ms);
void	 run_slot_give(const char *key, int level);

#endif
