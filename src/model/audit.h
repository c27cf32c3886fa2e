/* Audit entries of a resource's writes: the field-level changes between
 * two public renderings, and the entry itself. Plain values in and out;
 * knows nothing of HTTP or of the store. */
#ifndef EXPORTD_MODEL_AUDIT_H
#define EXPORTD_MODEL_AUDIT_H

#include <jansson.h>
#include <stdint.h>

#define AUDIT_MASK	"******"

/* The changes from before to after (public renderings, secrets masked)
 * as [{fieldPath, oldValue?, newValue?}]: one per changed leaf, by dot
 * path, arrays compared whole, server-kept times left out. The secret
 * maps (dot path -> value, plain) say which secrets were set, removed or
 * changed; each shows as AUDIT_MASK, never its value. A new reference. */
json_t	*audit_changes(const json_t *before, const json_t *after,
	    const json_t *secrets_before, const json_t *secrets_after);

/* What an entry says besides its changes. */
struct audit_meta {
	const char	*id;
	const char	*resource_type;	/* "export", "connection" */
	const char	*resource_id;
	const char	*source;	/* "api", "system" */
	const char	*event;		/* "create", "update", "delete" */
	int64_t		 time_ms;
	const char	*user_id;
	const char	*user_name;
};

/* The entry as served, rendered once: takes ownership of changes. Caller
 * frees the text. */
char	*audit_render(const struct audit_meta *, json_t *changes, size_t *len);

#endif
