/* Reading an RDBMSExport's rows from PostgreSQL (export-api.md §13):
 * libpq under the egress policy, the query in a read-only transaction
 * over a server-side cursor, one page of rows at a time, each value
 * turned into JSON by its column's type (docs/rdbms.md).
 *
 * The calls block the thread that makes them (connect, each page): call
 * them from a worker, never from a thread that serves requests. A run is
 * for one thread at a time. */
#ifndef EXPORTD_RUN_RDBMS_H
#define EXPORTD_RUN_RDBMS_H

#include <jansson.h>
#include <stdbool.h>

#include "run/egress.h"

struct rdbms_run;

/*
 * Connect with the connection document's rdbms block (type postgresql;
 * host, port, database, user, password in plain text) and its ssl block,
 * to an address of the host the policy allows (resolved here, the
 * address given to libpq so that it cannot be resolved again), and open
 * a cursor over sql (one statement, already rendered) in a read-only
 * transaction. page_size is the rows of one rdbms_run_next (capped at
 * LIMIT_RDBMS_PAGE_ROWS). NULL on failure, with *err a new message (the
 * caller frees it) that never holds the password; rdbms_error_code then
 * tells what failed.
 */
struct rdbms_run *rdbms_run_start(const json_t *connection, const char *sql,
		    int page_size, const struct egress *policy, char **err);
/*
 * The next page: *records a new array of one object per row (column
 * name → value), *done true when the cursor has no more rows (the page
 * may still hold some). Once done, further calls give an empty page.
 * Returns 0, or -1 with *err a new message (the run is then over: only
 * rdbms_run_free is left).
 */
int		 rdbms_run_next(struct rdbms_run *, json_t **records, bool *done,
		    char **err);
/* Close the cursor and the connection; NULL is allowed. */
void		 rdbms_run_free(struct rdbms_run *);

/*
 * Connect as rdbms_run_start does and run SELECT 1 (a connection's
 * ping). Returns 0, or -1 with *err as rdbms_run_start's.
 */
int		 rdbms_ping(const json_t *connection, const struct egress *policy,
		    char **err);

/*
 * What the calling thread's last failed call failed on, as the code of
 * an error in a run's errors: "egress_denied" (no address of the host
 * allowed), "invalid_connection" (the rdbms block cannot be used),
 * "connect_failed" (no connection, or the login refused), "timeout"
 * (connect or statement over its cap), "query_failed" (the server
 * refused the SQL), "too_large" (a page over LIMIT_RDBMS_PAGE_BYTES).
 */
const char	*rdbms_error_code(void);

#endif
