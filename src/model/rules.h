/* The field rules of the export document, read by the one validator in
 * validate.c. A rule names a dot path, the JSON kind its value must have,
 * an optional enum, bounds or shape check, and when it applies (type,
 * adaptorType, or the value of another field) and whether it is then
 * required or forbidden. */
#ifndef EXPORTD_RULES_H
#define EXPORTD_RULES_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "util/errors.h"

enum vkind {
	V_ANY,
	V_STRING,
	V_INT,
	V_NUMBER,
	V_BOOL,
	V_OBJECT,
	V_ARRAY,
	V_OID,
	V_STRINGS,	/* array of strings (each in enums, if given) */
	V_NAMEVALUES,	/* array of {name: string, value: any} */
	V_DATETIME,	/* ISO 8601 date-time string */
};

struct rule {
	const char		*path;
	enum vkind		 kind;
	const char *const	*enums;		/* NULL-terminated, or NULL */
	long			 min, max;	/* bounds: value, length, count */
	/* when the rule applies (all that are set must hold) */
	const char *const	*types;		/* type is one of these */
	const char *const	*not_types;	/* type is none of these (or absent) */
	const char *const	*adaptors;	/* adaptorType is one of these */
	const char *const	*not_adaptors;
	const char		*when_path;	/* this field ... */
	const char *const	*when_values;	/* ... is one of these strings */
	bool			 when_absent;	/* ... or is absent */
	/* what it demands */
	bool			 required;
	bool			 forbidden;
	const char		*message;	/* fixed message for any failure */
	/* a shape check beyond kind: returns false if invalid */
	bool			(*check)(const json_t *);
};

extern const struct rule export_rules[];
extern const unsigned long export_nrules;

/* Check every rule of a table against a document (adaptor: the valid
 * adaptorType, or NULL; rules about adaptors then wait); one error per
 * failing field; -1 if any failed. The document's "type" is what the
 * rules' types name. */
int	rules_validate(const struct rule *, size_t, const json_t *doc,
	    const char *adaptor, struct errors *);
/* Check one present value against one rule; -1 (error added) if bad. */
int	rules_check_value(const struct rule *, const json_t *,
	    struct errors *);

#endif
