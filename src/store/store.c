/* Back-end selection and the helpers every back end shares. */
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/log.h"
#include "util/xmalloc.h"

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_postgres_ops;

struct store *
store_open(const char *url)
{
	struct store	*s;

	s = xcalloc(1, sizeof(*s));
	if (strncmp(url, "sqlite:", 7) == 0)
		s->ops = &store_sqlite_ops;
	else if (strncmp(url, "postgresql://", 13) == 0 ||
	    strncmp(url, "postgres://", 11) == 0)
		s->ops = &store_postgres_ops;
	else {
		log_error("store: unsupported database URL scheme (want "
		    "sqlite:PATH or postgresql://...)");
		free(s);
		return NULL;
	}
	if (s->ops->open(s, url) == -1) {
		free(s);
		return NULL;
	}
	return s;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	s->ops->close(s);
	free(s);
}

const char *
store_status_str(enum store_status st)
{
	switch (st) {
	case STORE_OK:		return "ok";
	case STORE_NOT_FOUND:	return "not found";
	case STORE_REJECTED:	return "rejected";
	case STORE_CONFLICT:	return "conflict";
	case STORE_UNAVAILABLE:	return "unavailable";
	case STORE_FULL:	return "full";
	case STORE_ERROR:	return "error";
	}
	return "?";
}

void
export_row_free(struct export_row *r)
{
	if (r == NULL)
		return;
	free(r->body);
	free(r->secrets);
	free(r->adaptor_type);
	free(r->type);
	free(r->connection_id);
	free(r->integration_id);
	free(r->name);
	r->body = NULL;
	r->secrets = NULL;
	r->adaptor_type = r->type = r->connection_id = NULL;
	r->integration_id = r->name = NULL;
}

void
token_rows_free(struct token_row *rows, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		free(rows[i].account_name);
	free(rows);
}
