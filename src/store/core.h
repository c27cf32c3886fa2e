/* Inside the store core: the resource declarations, the statements built
 * from them, and the state shared by store.c, write.c and records.c. */
#ifndef EXPORTD_STORE_CORE_H
#define EXPORTD_STORE_CORE_H

#include <pthread.h>

#include "store/driver.h"

/* A resource's table: its text columns, which of them are unique keys and
 * which lists filter on, and the side tables a delete empties (by the
 * row's id in their first parameter). */
struct store_kind {
	const char	*table;
	const char	*cols[STORE_MAX_COLS];
	int		 ncols;
	unsigned	 unique;	/* bit per column */
	unsigned	 filters;	/* bit per column */
	int		 drop[4];	/* global statements, -1 ends */
	/* Rows of another kind that name this one in a text column: a
	 * delete is refused while any of the account's do (K_USERS). */
	bool		 used;
	enum store_res	 used_by;
	int		 used_col;
};

extern const struct store_kind store_kinds[STORE_NRES];

/* A side table: its columns, in the order of store_side_row values. */
struct store_side_kind {
	const char	*table;
	const char	*cols[STORE_SIDE_MAX_COLS];
	int		 ncols;
};

extern const struct store_side_kind store_sides[STORE_NSIDES];

/* Statements that do not depend on a resource. */
enum {
	S_TOKEN_ACCOUNT,
	S_ACCOUNT_FIND,
	S_ACCOUNT_INSERT,
	S_TOKEN_INSERT,
	S_TOKEN_LIST,
	S_TOKEN_REVOKE,
	S_TOKEN_COUNT,
	S_INBOX_EXPORT,
	S_INBOX_RESERVE,
	S_INBOX_COUNT_ADD,
	S_INBOX_DELETE_UPTO,
	S_INBOX_DELETE_ALL,
	S_INBOX_COUNT_DELETE,
	S_INBOX_LIST,
	S_INBOX_COUNT,
	S_INBOX_BOUND,
	S_INBOX_TOTAL,
	S_READY,
	S_SAVEPOINT,
	S_RELEASE,
	S_ROLLBACK_TO,
	S_CENSUS,
	S_IS_EMPTY,
	S_DUMP_ACCOUNTS,
	S_DUMP_TOKENS,
	S_DUMP_INBOX,
	S_DUMP_INBOX_COUNTS,
	S_RESTORE_ACCOUNT,
	S_RESTORE_TOKEN,
	S_RESTORE_INBOX,
	S_RESTORE_INBOX_COUNT,
	S_ACCOUNT_NAME,
	S_AUDIT_LIST,
	S_AUDIT_PRUNE,
	S_DUMP_AUDIT,
	S_RESTORE_AUDIT,
	S_STATE_GET,
	S_STATE_KEYS,
	S_STATE_INSERT,
	S_STATE_UPDATE,
	S_STATE_DELETE,
	S_STATE_CLEAR,
	S_STATE_DROP,
	S_DUMP_STATE,
	S_RESTORE_STATE,
	S_CLEAR,	/* S_CLEAR + i: empty the i-th table of clear_order */
	S_SIDE_INSERT = S_CLEAR + 8,	/* + side table */
	S_NGLOBAL = S_SIDE_INSERT + STORE_NSIDES
};

/* Statements of each resource, at S_NGLOBAL + res * K_NSTMTS. */
enum {
	K_GET,
	K_GET_LOCK,
	K_GET_SHARE,
	K_GET_ANY,
	K_INSERT,
	K_DELETE,
	K_DUMP,
	K_RESTORE,
	K_USERS,	/* how many rows of used_by name this row */
	K_UPDATE,	/* K_UPDATE + mask of the text columns it sets */
	K_LIST = K_UPDATE + (1 << STORE_MAX_COLS),	/* + filter mask */
	K_BOUND = K_LIST + (1 << STORE_MAX_COLS),	/* seqs only, + mask */
	K_NSTMTS = K_BOUND + (1 << STORE_MAX_COLS)
};

#define STORE_NSTMTS	(S_NGLOBAL + STORE_NRES * K_NSTMTS)

/* A row's fixed columns as the resource statements select them:
 * seq, rev, account_id, body, secrets, then the text columns. */
#define ROW_FIXED	5

/* One writer: a queue and the thread that commits it. */
struct store_writer {
	struct store		*s;
	pthread_t		 thread;
	pthread_mutex_t		 lock;
	pthread_cond_t		 cond;
	struct store_write	*head, *tail;
	bool			 stopping;
	bool			 running;
};

struct store_conn_slot {
	struct store_conn	*c;
	struct store_conn_slot	*next;
};

struct store {
	const struct store_driver *drv;
	void			*engine;
	struct store_stmt	 stmts[STORE_NSTMTS];
	pthread_key_t		 key;		/* this thread's connection */
	pthread_mutex_t		 reg_lock;
	struct store_conn_slot	*conns;
	struct store_writer	*writers;
	int			 nwriters;
	struct store_conn	*restoring;
};

const struct store_stmt	*store_stmt(const struct store *, int id);
const struct store_stmt	*store_kstmt(const struct store *, enum store_res,
			    int k);
void			 store_stmts_build(struct store *);
void			 store_stmts_free(struct store *);
struct store_conn	*store_conn(struct store *);
/* A writer thread inside a batch's transaction: store_conn answers that
 * connection as it is (a read made by mutate sees the write's own
 * transaction instead of ending it), until store_tx_leave. */
void		 store_tx_enter(struct store *, struct store_conn *);
void		 store_tx_leave(void);

/* Parameters. */
struct store_params {
	int		 n;
	struct store_val v[STORE_MAX_PARAMS];
};

/* A text value as a new string (copy), or borrowed; NULL for SQL NULL. */
char	*store_val_text(const struct store_val *, bool copy);
void	sp_text(struct store_params *, const char *);
void	sp_bytes(struct store_params *, const void *, size_t, bool blob);
void	sp_int(struct store_params *, int64_t);

/* Run a statement of the store on a connection. */
enum store_status store_run(struct store *, struct store_conn *, int id,
		    const struct store_params *, store_rows_cb, void *arg,
		    int64_t *changes);

/* Fill a row from a resource statement's columns (borrowed: copy makes
 * it owned). */
int	store_row_from(struct store_row *, const struct store_val *, int ncols,
	    enum store_res, bool copy);
/* The writable columns of a row as parameters after id and account. */
void	store_row_params(struct store_params *, const char *id,
	    const char *account, const struct store_row *, enum store_res);

/* Copy an id value into a fixed buffer; -1 (logged) if it is not one. */
int	store_val_id(const struct store_val *, char out[OID_HEXLEN + 1]);

/* A row callback that keeps the first column of the first row in an
 * int64_t. */
int	store_first_int(void *arg, const struct store_val *, int ncols);

/* Add one side row in the open transaction. */
enum store_status store_side_insert(struct store *, struct store_conn *,
		    const struct store_side_row *);

/* Read a row for a write: op is K_GET, K_GET_LOCK or K_GET_SHARE. */
enum store_status store_row_read(struct store *, struct store_conn *,
		    enum store_res, int op, const char *account,
		    const char *id, struct store_row *);

/* The write path (write.c). */
void	store_commit_batch(struct store *, struct store_write *);

#endif
