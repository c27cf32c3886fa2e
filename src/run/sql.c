/*
 * An RDBMSExport's run: its rendered query through run/rdbms.c
 * (PostgreSQL, a server-side cursor, one page per FETCH), under the same
 * caps, errors and cursor as an HTTP run. A resumed run (a virtual
 * export's next page) opens the cursor again and skips the rows already
 * returned: a cursor does not outlive the request that opened it.
 */
#include <stdbool.h>
#include <stdlib.h>

#include "run/internal.h"
#include "run/rdbms.h"

/* Fail the run with the reader's error (err is freed). */
static int
sql_fail(struct run *r, char *err)
{
	run_error(r, rdbms_error_code(), "connection", 0, "%s",
	    err != NULL ? err : "the database failed");
	free(err);
	r->done = true;
	return 1;
}

int
run_sql_next(struct run *r, json_t **records)
{
	json_t	*recs = NULL;
	char	*err = NULL;
	bool	 end = false;

	*records = json_array();
	if (r->done)
		return 1;
	if (r->db == NULL && r->want_stages) {
		char	*q = run_mask(r, r->sql);

		json_array_append_new(r->stages, json_pack("{s:s, s:[{s:s}]}",
		    "name", "request", "data", "query", q));
		free(q);
	}
	if (r->db == NULL && (r->db = rdbms_run_start(r->db_conn, r->sql,
	    r->db_rows, r->egress, &err)) == NULL)
		return sql_fail(r, err);
	for (;;) {
		if (r->pages >= r->lim.max_pages) {
			run_error(r, "max_pages", "exportd", 0, "the run "
			    "stopped at its cap of %lld pages",
			    (long long)r->lim.max_pages);
			r->done = true;
			return 1;
		}
		if (rdbms_run_next(r->db, &recs, &end, &err) == -1)
			return sql_fail(r, err);
		if (r->db_skip == 0)
			break;
		/* a resumed run: drop the rows returned before */
		while (r->db_skip > 0 && json_array_size(recs) > 0) {
			json_array_remove(recs, 0);
			r->db_skip--;
		}
		if (json_array_size(recs) > 0 || end)
			break;
		json_decref(recs);
	}
	r->pages++;
	run_cap(r, recs);
	if (end || json_array_size(recs) == 0)
		r->done = true;
	if (r->want_stages)
		json_array_append_new(r->stages, json_pack("{s:s, s:O}", "name",
		    "parse", "data", recs));
	json_decref(*records);
	*records = recs;
	return r->done ? 1 : 0;
}

void
run_sql_free(struct run *r)
{
	rdbms_run_free(r->db);
	r->db = NULL;
}
