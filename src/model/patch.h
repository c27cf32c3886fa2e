/* PATCH (export-api.md §8): a JSON array of RFC 6902 operations, of
 * which replace, add and remove, on a resource's list of patchable paths.
 * Pure JSON work. */
#ifndef EXPORTD_PATCH_H
#define EXPORTD_PATCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/rules.h"
#include "util/errors.h"

/* A patchable path (dot form) and the kind its value must have; window:
 * a date-time from now to at most one hour ahead (debugUntil). */
struct patch_path {
	const char	*path;
	enum vkind	 kind;
	bool		 window;
};

extern const struct patch_path export_patch_paths[];
extern const struct patch_path connection_patch_paths[];

/* Whether ops is an array of objects (else the body is a 400). */
bool	 patch_shape_ok(const json_t *ops);
/* Check every operation against the allowed paths (NULL-path ended) at
 * time now_ms: 422 invalid_field errors, field the operation's path;
 * -1 if any failed. */
int	 patch_check(const json_t *ops, const struct patch_path *allowed,
	    int64_t now_ms, struct errors *);
/* Apply checked operations to doc, all of them. */
void	 patch_apply(json_t *doc, const json_t *ops,
	    const struct patch_path *allowed);
/* The document a PATCH makes of a stored one (a new one): a copy with
 * strip applied (its read-only fields), field set to value (a field the
 * row keeps aside, as debugUntil; NULL: absent) so that operations reach
 * it, the operations applied, field taken out again and nulls stripped.
 * field's value after the operations in *after (a new string, or NULL). */
json_t	*patch_document(const json_t *stored, void (*strip)(json_t *),
	    const char *field, const char *value, const json_t *ops,
	    const struct patch_path *allowed, char **after);

#endif
