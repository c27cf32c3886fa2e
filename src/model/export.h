/* The export document: normalise, validate, mask, merge secrets, render.
 * Pure JSON work; knows nothing of HTTP or of the store. */
#ifndef EXPORTD_EXPORT_H
#define EXPORTD_EXPORT_H

#include <jansson.h>
#include <stdint.h>

#include "util/errors.h"

#define EXPORT_MASK "******"
#define EXPORT_NSECRETS 4
#define EXPORT_NADAPTORS 15

extern const char *const export_secret_paths[EXPORT_NSECRETS];
extern const char *const export_adaptor_types[EXPORT_NADAPTORS];

/* Remove keys whose value is null, at every depth, and objects that this
 * leaves empty; arrays keep their elements (objects inside them are
 * cleaned but kept). */
void	 export_strip_nulls(json_t *doc);
/* Remove the server-managed fields a client may send (ignored on write). */
void	 export_strip_readonly(json_t *doc);
/* adaptorType when absent: WebhookExport for type webhook, SimpleExport
 * for type simple; else NULL. */
const char *export_infer_adaptor(const json_t *doc);
/* A client document for create (stored_adaptor NULL) or replace: strip the
 * read-only fields and the nulls, then fill an absent adaptorType with the
 * stored one, or the inferred one. */
void	 export_normalise(json_t *doc, const char *stored_adaptor);
/* Check every rule of a whole document; adds one error per failing field
 * and returns -1, or 0 when valid. */
int	 export_validate(const json_t *doc, struct errors *);
/* Check a distributed configuration block for an adaptor. */
int	 export_validate_distributed(const char *adaptor, const json_t *block,
	    struct errors *);

/* Move secret values out of doc into a new object {"webhook.key": "..."}
 * and leave EXPORT_MASK in their place (secrets_take). */
json_t	*export_secrets_take(json_t *doc, const json_t *stored);

struct export_meta {
	const char	*id;
	const char	*api_identifier;
	const char	*source_id;	/* or NULL */
	int64_t		 created_ms;
	int64_t		 modified_ms;
	const char	*debug_until;	/* or NULL: set by PATCH only */
};

/* What every resource's rendering starts with: _id, the document's
 * fields, createdAt and lastModified (a new object). */
json_t	*render_start(const char *id, const json_t *doc, int64_t created_ms,
	    int64_t modified_ms);
/* The public rendering: _id first, then the document's fields in their
 * order, then the server-managed fields. Caller frees. */
char	*export_render(const json_t *doc, const struct export_meta *,
	    size_t *len);
/* Read the server-managed fields back from a stored rendering; strings
 * point into body (borrowed). -1 if body is not a stored export. */
int	 export_meta_read(const json_t *body, struct export_meta *);

#endif
