/* The store: durable rows of resources, as the API and the command line
 * see it. The store keeps rows and bytes; it knows nothing of JSON rules.
 *
 * Contract (checked by tests/unit/test_store_contract.c against every
 * driver):
 * - Reads run on the calling thread's own connection and see committed
 *   data only.
 * - A write is submitted and completes through its done() callback, once,
 *   after it is durable or has failed (group commit: many concurrent
 *   writes may share one commit). STORE_OK from a write means committed.
 * - A create whose keys (id, unique columns) are taken is retried with
 *   fresh ones: mutate is called again with w->attempts > 0.
 * - Rows of one account are invisible to another: every lookup but
 *   store_get_any names the account.
 * - Lists page by seq (creation order), oldest first, never skipping a
 *   row committed with a lower seq than one already listed.
 * - A dump is one consistent snapshot; a restore is one transaction and
 *   keeps ids and seqs, so dump -> restore -> dump is byte-identical.
 * - When the database cannot be reached, calls answer STORE_UNAVAILABLE
 *   and the store reconnects by itself. */
#ifndef EXPORTD_STORE_H
#define EXPORTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

#define STORE_APIID_LEN	11	/* "e" + 10 hex */
#define STORE_MAX_COLS	8	/* text columns a resource declares */

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,	/* no such row for this account */
	STORE_REJECTED,		/* the mutate callback refused the change */
	STORE_CONFLICT,		/* a unique key was taken (after retries) */
	STORE_UNAVAILABLE,	/* back end unreachable or busy: retry later */
	STORE_FULL,		/* an inbox is at its cap: retry later */
	STORE_IN_USE,		/* a delete of a row other rows still name
				   (w->affected says how many) */
	STORE_ERROR,		/* anything else: logged by the store */
};

/* The resources the store keeps, each a table declared in store/sql.c:
 * an id, the account, a seq (creation order), a rev (ETag), the public
 * rendering (body), the sealed secrets and a few text columns. */
enum store_res {
	STORE_EXPORTS = 0,
	STORE_CONNECTIONS,
	STORE_NRES
};

/* The text columns of exports, in their declared order. */
enum export_col {
	EXPORT_APIID = 0,	/* unique */
	EXPORT_ADAPTOR_TYPE,
	EXPORT_TYPE,
	EXPORT_CONNECTION_ID,
	EXPORT_INTEGRATION_ID,
	EXPORT_NAME,
	EXPORT_NCOLS
};

/* The text columns of connections, in their declared order. */
enum connection_col {
	CONNECTION_TYPE = 0,
	CONNECTION_INTEGRATION_ID,
	CONNECTION_NAME,
	CONNECTION_NCOLS
};

/* One row as stored. body is the public (masked) JSON rendering, served
 * as is; secrets is an opaque sealed envelope, or NULL; col[] mirrors
 * fields of the body for filtering (NULL: absent). */
struct store_row {
	char		 id[OID_HEXLEN + 1];
	char		 account[OID_HEXLEN + 1];
	int64_t		 seq;		/* creation order, set by the store */
	int64_t		 rev;		/* revision, set by the store */
	char		*body;
	size_t		 body_len;
	unsigned char	*secrets;
	size_t		 secrets_len;
	char		*col[STORE_MAX_COLS];
};

void	store_row_free(struct store_row *);	/* frees members, not row */

/* A value of a column; text and blobs are borrowed. */
enum store_val_type { SV_NULL, SV_INT, SV_TEXT, SV_BLOB };

struct store_val {
	enum store_val_type	 type;
	int64_t			 i;
	const char		*p;
	size_t			 len;
};

/* Set a borrowed text or blob value (NULL: SQL NULL). */
void	store_val_set(struct store_val *, const void *, size_t, bool blob);

/* Side tables: rows that a write adds in its own transaction, after its
 * change (inbox entries; audit entries and state values are declared the
 * same way), each declared in store/sql.c with its columns. */
enum store_side {
	STORE_SIDE_INBOX = 0,	/* export_id, received_ms, request_id,
				   headers, record */
	STORE_SIDE_AUDIT,	/* id, account_id, resource_type,
				   resource_id, source, event, time_ms, body */
	STORE_NSIDES
};

#define STORE_SIDE_MAX_COLS	8

struct store_side_row {
	enum store_side		 side;
	struct store_val	 v[STORE_SIDE_MAX_COLS];	/* declared order */
};

enum store_write_kind {
	STORE_CREATE,	/* mutate(NULL or source, next); insert next */
	STORE_UPDATE,	/* mutate(current, next); replace */
	STORE_DELETE,	/* mutate(current, NULL) may refuse; delete (and
			   the row's side rows: an export's inbox), unless
			   rows of another kind name it (STORE_IN_USE) */
	STORE_INBOX_APPEND,	/* add inbox entries to export id, if it
				   exists, unless that passes inbox_cap */
	STORE_INBOX_ACK,	/* delete export id's entries up to inbox_upto */
	STORE_STATE_PUT,	/* set state_key to state_value in the scope
				   (id of a row of res; "" for the account's
				   own): affected 1 if the key is new */
	STORE_STATE_DELETE,	/* delete state_key of the scope (NULL: every
				   key); affected: keys deleted */
	STORE_AUDIT_PRUNE,	/* delete at most prune_limit audit entries
				   older than prune_before_ms; affected */
};

/* One record delivered to a webhook export, as stored in its inbox. */
struct inbox_entry {
	const char	*record;	/* JSON text */
	size_t		 record_len;
};

/* A write in flight. The caller owns it until done() runs; done() runs
 * once, on a store thread or the caller's, after the change is durable or
 * has failed. mutate runs inside the write transaction on the current row
 * (for STORE_CREATE with source_id set: the source row) and fills next;
 * it returns 0, or -1 to refuse (status STORE_REJECTED). It may run more
 * than once for one write: again with w->attempts > 0 when a create's
 * keys were taken (it must then pick a fresh id), and again when the
 * store had to start the transaction over. */
struct store_write {
	enum store_write_kind	 kind;
	enum store_res		 res;
	char			 account[OID_HEXLEN + 1];
	char			 id[OID_HEXLEN + 1];	/* target (CREATE: new id) */
	char			 source_id[OID_HEXLEN + 1];	/* CREATE from a copy */
	int			(*mutate)(struct store_write *,
				    const struct store_row *current,
				    struct store_row *next);
	void			(*done)(struct store_write *);
	void			*arg;
	int			 attempts;	/* creates: tries so far */
	enum store_status	 status;
	struct store_row	 result;	/* the row as stored (CREATE/UPDATE) */
	/* Side rows to add once the change is made; mutate may set them
	 * (they must stay valid until done() runs). */
	const struct store_side_row *side;
	size_t			 nside;
	/* A row of another kind the change names (an export's connection):
	 * when ref_id is set, creates and updates read it in the account,
	 * share-locked until COMMIT, before mutate runs; mutate finds it in
	 * ref (ref_found false: there is none) and may refuse the write. */
	enum store_res		 ref_res;
	char			 ref_id[OID_HEXLEN + 1];
	bool			 ref_found;
	struct store_row	 ref;
	/* inbox writes */
	const struct inbox_entry *entries;
	size_t			 nentries;
	int64_t			 received_ms;
	const char		*request_id;
	const char		*headers;	/* JSON object text */
	int64_t			 inbox_cap;	/* most entries kept per export */
	int64_t			 inbox_upto;	/* ACK: last seq consumed */
	/* state writes */
	const char		*state_key;
	const char		*state_value;	/* JSON text */
	size_t			 state_value_len;
	/* audit pruning */
	int64_t			 prune_before_ms;
	int64_t			 prune_limit;
	int64_t			 affected;	/* entries added or deleted */
	struct store_write	*next_in_queue;	/* the store's, while queued */
};

/* Equality filters of a list, by column (NULL: any value). */
struct store_filter {
	const char	*eq[STORE_MAX_COLS];
};

/* Called once per row of a page, in order; return -1 to stop. */
typedef int (*store_row_cb)(void *arg, int64_t seq, const char *body,
    size_t len);

/* One inbox entry of a page; return -1 to stop. */
typedef int (*store_inbox_cb)(void *arg, int64_t seq, int64_t received_ms,
    const char *request_id, const char *headers, const char *record,
    size_t record_len);

struct token_row {
	char	 id[OID_HEXLEN + 1];
	char	 account[OID_HEXLEN + 1];
	char	*account_name;
	int64_t	 created_ms;
	int64_t	 revoked_ms;	/* 0: active */
};

/* Dump and restore: every row of every table. Kinds in dump order. */
enum store_rec_kind {
	STORE_REC_ACCOUNT,
	STORE_REC_TOKEN,
	STORE_REC_EXPORT,
	STORE_REC_INBOX,
	STORE_REC_INBOX_COUNT,
	STORE_REC_AUDIT,
	STORE_REC_STATE,
	STORE_REC_CONNECTION,
	STORE_REC_NKINDS
};

/* What a store holds: rows of each kind, and the highest sequence numbers
 * ever given out (at least the highest seq of any row). */
struct store_census {
	int64_t	 rows[STORE_REC_NKINDS];
	int64_t	 export_seq;
	int64_t	 inbox_seq;
	int64_t	 audit_seq;
	int64_t	 connection_seq;
};

/* One row of any table; the pointers are borrowed for one call. */
struct store_rec {
	enum store_rec_kind	 kind;
	char			 id[OID_HEXLEN + 1];	/* account, token or
							   export id; inbox
							   rows: the export */
	char			 account[OID_HEXLEN + 1];	/* token's */
	const char		*name;		/* account name */
	int64_t			 created_ms;	/* account, token */
	int64_t			 revoked_ms;	/* token, if revoked */
	bool			 revoked;
	unsigned char		 hash[32];	/* token */
	struct store_row	 row;		/* STORE_REC_EXPORT,
						   STORE_REC_CONNECTION */
	int64_t			 seq;		/* inbox entry */
	int64_t			 received_ms;
	const char		*request_id;
	const char		*headers;
	const char		*record;
	size_t			 record_len;
	int64_t			 n;		/* inbox count */
	/* audit entries (seq, id, account; time_ms and body in
	 * received_ms and record) and state values (account; record) */
	const char		*resource_type;
	const char		*resource_id;	/* state: the scope */
	const char		*source;
	const char		*event;	/* state: the key */
};

/* Dump callbacks; return -1 to stop the dump. */
typedef int (*store_census_cb)(void *arg, const struct store_census *);
typedef int (*store_rec_cb)(void *arg, const struct store_rec *);

struct store;

/* How the store reaches its database. */
#define STORE_TRANSACTION_POOLING	0x1	/* PostgreSQL through a pooler
						   in transaction mode
						   (PgBouncer): no session
						   state between transactions */

/* Open the store named by url (sqlite:PATH or postgresql://...), bringing
 * its schema up to date; NULL (logged) if it cannot be opened. */
struct store	*store_open(const char *url, unsigned flags);
void		 store_close(struct store *);
const char	*store_name(const struct store *);
const char	*store_status_str(enum store_status);

/* Start the writer threads (a server); without them a write commits
 * alone on the calling thread (the command line). drain finishes every
 * queued write and stops them. */
int		 store_start(struct store *);
void		 store_drain(struct store *);


enum store_status store_get(struct store *, enum store_res,
		    const char *account, const char *id, struct store_row *);
/* A row of any account (the public webhook listener). */
enum store_status store_get_any(struct store *, enum store_res,
		    const char *id, struct store_row *);
/* Rows with seq > after (then skip more) matching the filter, oldest
 * first, at most limit. *more tells if rows remain; *last_seq is the seq
 * of the last row given. */
enum store_status store_list(struct store *, enum store_res,
		    const char *account, const struct store_filter *,
		    int64_t after, int64_t skip, int64_t limit, store_row_cb,
		    void *arg, bool *more, int64_t *last_seq);
void		 store_write_submit(struct store *, struct store_write *);
/* Inbox entries of an export with seq > after, oldest first. */
enum store_status store_inbox_list(struct store *, const char *export_id,
		    int64_t after, int64_t limit, store_inbox_cb, void *arg,
		    bool *more);
/* Entries in an export's inbox now (0 if none): a cheap read for the
 * listener before it makes a delivery's records. An append still checks
 * its cap inside its own transaction. */
enum store_status store_inbox_count(struct store *, const char *export_id,
		    int64_t *n);
/* Records waiting in every export's inbox, from the per-export counts. */
enum store_status store_inbox_total(struct store *, int64_t *n);
/* A round trip to the database on this thread's connection (reconnecting
 * once if it was lost): STORE_OK when a read of a table succeeds. */
enum store_status store_ready(struct store *);
/* Of the first limit rows with seq > after matching the filter: the seq
 * of the last (after if none), how many, and whether a row follows them
 * (set on STORE_OK). Seqs only, from the index, never a body: a page
 * streamed in chunks fixes its end with it before its first byte. */
enum store_status store_bound(struct store *, enum store_res,
		    const char *account, const struct store_filter *,
		    int64_t after, int64_t limit, int64_t *last_seq,
		    int64_t *rows, bool *more);
/* store_bound for the entries of an export's inbox. */
enum store_status store_inbox_bound(struct store *, const char *export_id,
		    int64_t after, int64_t limit, int64_t *last_seq,
		    int64_t *rows, bool *more);

enum store_status store_token_account(struct store *,
		    const unsigned char hash[32], char account[OID_HEXLEN + 1]);
enum store_status store_account_ensure(struct store *, const char *name,
		    char account[OID_HEXLEN + 1]);
enum store_status store_token_insert(struct store *, const char *account,
		    const unsigned char hash[32], char id[OID_HEXLEN + 1]);
enum store_status store_token_list(struct store *, struct token_row **,
		    size_t *);
enum store_status store_token_revoke(struct store *, const char *id);
enum store_status store_token_count(struct store *, int64_t *);
void		 token_rows_free(struct token_row *, size_t);

/* Audit entries of an account matching a filter, newest first: seq
 * below before (0: from the newest), at most limit; *more tells if
 * entries remain, *last_seq is the seq of the last given. The callback
 * may answer 1 to end the page after an entry (*more is then set). */
struct store_audit_filter {
	const char	*resource_type;	/* NULL: any */
	const char	*resource_id;
	const char	*source;
	const char	*event;
	int64_t		 from_ms;	/* inclusive */
	int64_t		 to_ms;
};

enum store_status store_audit_list(struct store *, const char *account,
		    const struct store_audit_filter *, int64_t before,
		    int64_t limit, store_row_cb, void *arg, bool *more,
		    int64_t *last_seq);
/* A state value of a scope ("" for the account's own, else a row's id):
 * STORE_OK with *value (caller frees), or STORE_NOT_FOUND. */
enum store_status store_state_get(struct store *, const char *account,
		    const char *scope, const char *key, char **value,
		    size_t *len);
/* The keys of a scope in byte order; cb gets each (return -1 to stop). */
enum store_status store_state_keys(struct store *, const char *account,
		    const char *scope, int (*cb)(void *, const char *),
		    void *arg);
/* An account's name (caller frees), or STORE_NOT_FOUND. */
enum store_status store_account_name(struct store *, const char *account,
		    char **name);

/* Every row in one consistent snapshot, streamed: the census first, then
 * accounts and tokens by id, exports and inbox entries by seq, inbox
 * counts by export id, connections by seq. */
enum store_status store_dump(struct store *, store_census_cb, store_rec_cb,
		    void *arg);
/* Whether the store holds no row at all. */
enum store_status store_is_empty(struct store *, bool *empty);
/* Restore runs in one transaction on the calling thread's connection,
 * holding off other writers. begin answers STORE_CONFLICT if the store is
 * not empty, unless replace: then it deletes every row first. Rows keep
 * their ids and seqs; commit moves the sequences past the census's and
 * every restored row's. */
enum store_status store_restore_begin(struct store *, bool replace);
enum store_status store_restore_row(struct store *, const struct store_rec *);
enum store_status store_restore_commit(struct store *,
		    const struct store_census *);
void		 store_restore_abort(struct store *);

#endif
