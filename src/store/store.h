/* The store: a table of operations with one implementation per back end.
 * The store keeps rows and bytes; it knows nothing of JSON rules. Reads run
 * on the calling thread's own connection. Writes are submitted and
 * complete through a callback, after they are durable, so that a back end
 * can commit many concurrent writes with one sync (group commit). */
#ifndef EXPORTD_STORE_H
#define EXPORTD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/oid.h"

#define STORE_APIID_LEN 11	/* "e" + 10 hex */

enum store_status {
	STORE_OK = 0,
	STORE_NOT_FOUND,	/* no such row for this account */
	STORE_REJECTED,		/* the mutate callback refused the change */
	STORE_CONFLICT,		/* a unique key was taken (after retries) */
	STORE_UNAVAILABLE,	/* back end unreachable or busy: retry later */
	STORE_FULL,		/* an inbox is at its cap: retry later */
	STORE_ERROR,		/* anything else: logged by the store */
};

/* One export as stored. body is the public (masked) JSON rendering, served
 * as is; secrets is an opaque sealed envelope, or NULL. The text columns
 * mirror fields of the body for filtering. */
struct export_row {
	char		 id[OID_HEXLEN + 1];
	char		 account[OID_HEXLEN + 1];
	char		 api_identifier[STORE_APIID_LEN + 1];
	int64_t		 seq;		/* creation order, set by the store */
	int64_t		 rev;		/* revision, set by the store */
	char		*body;
	size_t		 body_len;
	unsigned char	*secrets;
	size_t		 secrets_len;
	char		*adaptor_type;
	char		*type;
	char		*connection_id;
	char		*integration_id;
	char		*name;
};

void	export_row_free(struct export_row *);	/* frees members, not row */

enum store_write_kind {
	STORE_CREATE,	/* mutate(NULL or source, next); insert next */
	STORE_UPDATE,	/* mutate(current, next); replace */
	STORE_DELETE,	/* mutate(current, NULL) may refuse; delete (and
			   the export's inbox) */
	STORE_INBOX_APPEND,	/* add inbox entries to export id, if it
				   exists, unless that passes inbox_cap */
	STORE_INBOX_ACK,	/* delete export id's entries up to inbox_upto */
};

/* One record delivered to a webhook export, as stored in its inbox. */
struct inbox_entry {
	const char	*record;	/* JSON text */
	size_t		 record_len;
};

/* A write in flight. The caller owns it until done() runs; done() runs once,
 * on a store thread or the caller's, after the change is durable or has
 * failed. mutate runs inside the write transaction on the current row
 * (for STORE_CREATE with source_id set: the source row) and fills next;
 * it returns 0, -1 to refuse (status STORE_REJECTED), or 1 to be called
 * again with a fresh next (used when api_identifier was taken). */
struct store_write {
	enum store_write_kind	 kind;
	char			 account[OID_HEXLEN + 1];
	char			 id[OID_HEXLEN + 1];	/* target (CREATE: new id) */
	char			 source_id[OID_HEXLEN + 1];	/* CREATE from a copy */
	int			(*mutate)(struct store_write *,
				    const struct export_row *current,
				    struct export_row *next);
	void			(*done)(struct store_write *);
	void			*arg;
	enum store_status	 status;
	struct export_row	 result;	/* the row as stored (CREATE/UPDATE) */
	/* inbox writes */
	const struct inbox_entry *entries;
	size_t			 nentries;
	int64_t			 received_ms;
	const char		*request_id;
	const char		*headers;	/* JSON object text */
	int64_t			 inbox_cap;	/* most entries kept per export */
	int64_t			 inbox_upto;	/* ACK: last seq consumed */
	int64_t			 affected;	/* entries added or deleted */
	struct store_write	*next_in_queue;	/* back end's use */
	int			 attempts;	/* back end's use */
};

struct store_filter {
	const char	*adaptor_type;
	const char	*type;
	const char	*connection_id;
	const char	*integration_id;
	const char	*name;
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
	STORE_REC_NKINDS
};

/* What a store holds: rows of each kind, and the highest sequence numbers
 * ever given out (at least the highest seq of any row). */
struct store_census {
	int64_t	 rows[STORE_REC_NKINDS];
	int64_t	 export_seq;
	int64_t	 inbox_seq;
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
	struct export_row	 export;	/* STORE_REC_EXPORT */
	int64_t			 seq;		/* inbox entry */
	int64_t			 received_ms;
	const char		*request_id;
	const char		*headers;
	const char		*record;
	size_t			 record_len;
	int64_t			 n;		/* inbox count */
};

/* Dump callbacks; return -1 to stop the dump. */
typedef int (*store_census_cb)(void *arg, const struct store_census *);
typedef int (*store_rec_cb)(void *arg, const struct store_rec *);

struct store;

struct store_ops {
	const char *name;
	int	(*open)(struct store *, const char *url);
	void	(*close)(struct store *);
	/* Start or stop the write machinery (group commit thread). */
	int	(*start)(struct store *);
	void	(*drain)(struct store *);

	/* Optional: the calling thread's reads until read_end see one
	 * snapshot (a request's reads: its token, then its data). Writes
	 * are unaffected; they run on the back end's own connections. */
	void	(*read_begin)(struct store *);
	void	(*read_end)(struct store *);

	enum store_status (*export_get)(struct store *, const char *account,
		    const char *id, struct export_row *out);
	/* Rows with seq > after (then skip more) matching the filter,
	 * oldest first, at most limit. *more tells if rows remain. */
	enum store_status (*export_list)(struct store *, const char *account,
		    const struct store_filter *, int64_t after, int64_t skip,
		    int64_t limit, store_row_cb, void *arg, bool *more,
		    int64_t *last_seq);
	void	(*write_submit)(struct store *, struct store_write *);
	/* An export of any account (the public webhook listener). */
	enum store_status (*export_get_any)(struct store *, const char *id,
		    struct export_row *out);
	/* Inbox entries of an export with seq > after, oldest first. */
	enum store_status (*inbox_list)(struct store *, const char *export_id,
		    int64_t after, int64_t limit, store_inbox_cb, void *arg,
		    bool *more);

	enum store_status (*token_account)(struct store *,
		    const unsigned char hash[32], char account[OID_HEXLEN + 1]);
	enum store_status (*account_ensure)(struct store *, const char *name,
		    char account[OID_HEXLEN + 1]);
	enum store_status (*token_insert)(struct store *, const char *account,
		    const unsigned char hash[32], char id[OID_HEXLEN + 1]);
	enum store_status (*token_list)(struct store *,
		    struct token_row **rows, size_t *n);
	enum store_status (*token_revoke)(struct store *, const char *id);
	enum store_status (*token_count)(struct store *, int64_t *n);

	/* Every row in one consistent snapshot, streamed: the census first,
	 * then accounts and tokens by id, exports and inbox entries by seq,
	 * inbox counts by export id. */
	enum store_status (*dump)(struct store *, store_census_cb,
		    store_rec_cb, void *arg);
	/* Whether the store holds no account, token, export or inbox row. */
	enum store_status (*is_empty)(struct store *, bool *empty);
	/* Restore runs in one transaction on the opening thread's
	 * connection, holding off other writers. begin answers
	 * STORE_CONFLICT if the store is not empty, unless replace: then
	 * it deletes every row first. Rows keep their ids and seqs. */
	enum store_status (*restore_begin)(struct store *, bool replace);
	enum store_status (*restore_row)(struct store *,
		    const struct store_rec *);
	/* Move the sequences past the census's and every restored row's,
	 * then COMMIT. */
	enum store_status (*restore_commit)(struct store *,
		    const struct store_census *);
	void	(*restore_abort)(struct store *);
};

struct store {
	const struct store_ops	*ops;
	void			*impl;
};

/* Open the back end named by url (sqlite:PATH or postgresql://...). */
struct store	*store_open(const char *url);
void		 store_close(struct store *);
const char	*store_status_str(enum store_status);
void		 token_rows_free(struct token_row *, size_t);

#endif
