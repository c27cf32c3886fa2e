/* The connection document (export-api.md §9): normalise, validate, take
 * its secrets, render, and which export adaptors a connection type
 * serves. Pure JSON work; knows nothing of HTTP or of the store. */
#ifndef EXPORTD_CONNECTION_H
#define EXPORTD_CONNECTION_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "util/errors.h"

/* A client document for create or replace: strip the server-managed
 * fields (a debugDate too: only PATCH sets it) and the nulls. */
void	 connection_normalise(json_t *doc);
/* Check every rule of a whole document; -1 with one error per field. */
int	 connection_validate(const json_t *doc, struct errors *);
/* Move the secrets out of doc into a new map, "******" in their place;
 * the keep rule of secrets_take. */
json_t	*connection_secrets_take(json_t *doc, const json_t *stored);

struct connection_meta {
	const char	*id;
	const char	*modified_by;	/* the writer's account id */
	const char	*debug_date;	/* or NULL */
	int64_t		 created_ms;
	int64_t		 modified_ms;
	int		 offline;	/* -1: never pinged, else 0 or 1 */
};

/* The public rendering: _id, the document's fields in their order, then
 * the server-managed ones. Caller frees. */
char	*connection_render(const json_t *doc, const struct connection_meta *,
	    size_t *len);
/* The server-managed fields of a stored rendering (strings borrowed from
 * body); -1 if body is not a stored connection. */
int	 connection_meta_read(const json_t *body, struct connection_meta *);
/* Remove the server-managed fields of a stored rendering. */
void	 connection_strip_readonly(json_t *doc);

/* The adaptorType an export through a connection of this type has:
 * rest_block tells whether the export carries the legacy rest block.
 * NULL for a type no export reads through (mcp, van). */
const char *connection_adaptor(const char *type, bool rest_block);
/* Whether type is one of the connection types (export-api.md §9). */
bool	 connection_type_known(const char *type);
/* Whether an export of adaptorType may read through a connection of
 * type (export-api.md §9). */
bool	 connection_suits(const char *type, const char *adaptor);

#endif
