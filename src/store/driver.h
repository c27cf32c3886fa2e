/* What a database driver gives the store core: connections, statements
 * run with typed parameters and streamed rows, transactions, and the
 * error mapping of its engine. The core owns every rule and the SQL that
 * both engines speak alike (written with $1-style parameters); a driver
 * adds only its dialect's words, its schema and its engine's mechanisms
 * (sequences, advisory locks, transaction ids). */
#ifndef EXPORTD_STORE_DRIVER_H
#define EXPORTD_STORE_DRIVER_H

#include "store/store.h"

#define STORE_MAX_PARAMS	16

/* A statement of the core, prepared once per connection by id. */
struct store_stmt {
	int		 id;
	const char	*sql;
};

/* One row of a result: 0 for the next, 1 to stop, -1 to fail. */
typedef int (*store_rows_cb)(void *arg, const struct store_val *cols,
    int ncols);

enum store_tx {
	TX_READ,	/* committed reads */
	TX_WRITE,	/* a write transaction (the writer lock where there
			   is one) */
	TX_SNAPSHOT,	/* one snapshot for many reads (dump) */
};

enum store_outcome { TX_COMMITTED, TX_ABORTED, TX_UNKNOWN };

/* Words that differ between dialects, pasted into the core's SQL. */
struct store_dialect {
	const char	*for_update;	/* lock a row read for a change */
	const char	*for_share;	/* keep a row while it is copied */
	const char	*for_key_share;	/* keep a row while side rows are
					   added to it */
	const char	*collate_c;	/* byte order for ORDER BY of text */
	const char	*keep_seq;	/* INSERT that sets seq itself */
};

struct store_conn;

struct store_driver {
	const char		*name;
	const char		*scheme;	/* URL prefixes */
	const char		*scheme2;
	const struct store_dialect *dialect;
	int			 writers;	/* concurrent writer connections */

	/* The engine: open runs the migrations; NULL if it cannot.
	 * flags: STORE_TRANSACTION_POOLING and the like. */
	void			*(*open)(const char *url, unsigned flags);
	void			 (*close)(void *engine);

	/* A connection for one thread; ready answers whether it can be used
	 * now (reconnecting a lost one, at most once per back-off), lost
	 * whether a failure was the connection going away. */
	struct store_conn	*(*conn_open)(void *engine);
	void			 (*conn_close)(struct store_conn *);
	bool			 (*conn_ready)(struct store_conn *);
	bool			 (*conn_lost)(struct store_conn *);

	/* Run a statement; rows go to cb (may be NULL) as they arrive, and
	 * *changes (may be NULL) gets the rows a change touched. A unique
	 * key taken answers STORE_CONFLICT. */
	enum store_status	 (*run)(struct store_conn *,
				    const struct store_stmt *,
				    const struct store_val *, int nparams,
				    store_rows_cb, void *arg, int64_t *changes);
	enum store_status	 (*begin)(struct store_conn *, enum store_tx);
	enum store_status	 (*commit)(struct store_conn *);
	void			 (*rollback)(struct store_conn *);

	/* Optional. A write transaction's id, and after its COMMIT lost its
	 * answer, what became of it (reconnecting at once to ask). */
	enum store_status	 (*tx_id)(struct store_conn *, int64_t *);
	enum store_outcome	 (*tx_outcome)(struct store_conn *, int64_t);
	/* Optional. Creates of one account take turns from mutate to
	 * INSERT and are fenced until COMMIT; a list page waits (boundedly)
	 * for the creates in flight: page_fence begins a transaction and
	 * answers whether one is open. */
	enum store_status	 (*create_lock)(struct store_conn *,
				    const char *account);
	void			 (*create_unlock)(struct store_conn *,
				    const char *account);
	bool			 (*page_fence)(struct store_conn *,
				    const char *account);

	/* Sequences: the highest seq a table has given out, and setting it
	 * (in the open transaction) after a restore. */
	enum store_status	 (*seq_high)(struct store_conn *,
				    const char *table, int64_t *);
	enum store_status	 (*seq_set)(struct store_conn *,
				    const char *table, int64_t high);
	/* Hold off every other writer until the transaction ends. */
	enum store_status	 (*lock_all)(struct store_conn *);

	/* Tokens are cached by the core. token_epoch is cheap and changes
	 * whenever a token may have been revoked or replaced by any process
	 * or instance sharing the database; token_changed (after such a
	 * change commits) makes every one of them see it. */
	uint64_t		 (*token_epoch)(void *engine);
	void			 (*token_changed)(struct store_conn *);
};

extern const struct store_driver store_sqlite_driver;
extern const struct store_driver store_postgres_driver;

/* Whether text is strict UTF-8 (what PostgreSQL accepts as text). */
bool	store_utf8_valid(const char *, size_t);

#endif
