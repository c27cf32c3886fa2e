/* The validator: reads a rule table (rules.c for exports, connection.c
 * for connections) and reports every failing field of a document at once,
 * one error per field, with its dot path. */
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model/export.h"
#include "model/rules.h"
#include "util/json.h"
#include "util/oid.h"

static bool
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (s != NULL && strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Value at path; *reachable is false when an ancestor exists but is not
 * an object (then the ancestor's own rule reports it). */
static json_t *
lookup(const json_t *doc, const char *path, bool *reachable)
{
	const char	*p = path, *d;
	const json_t	*cur = doc;

	*reachable = true;
	for (;;) {
		d = strchrnul(p, '.');
		cur = json_object_getn(cur, p, (size_t)(d - p));
		if (*d == '\0' || cur == NULL)
			return (json_t *)cur;
		if (!json_is_object(cur)) {
			*reachable = false;
			return NULL;
		}
		p = d + 1;
	}
}

static const char *
kind_name(enum vkind k)
{
	switch (k) {
	case V_STRING:		return "a string";
	case V_INT:		return "an integer";
	case V_NUMBER:		return "a number";
	case V_BOOL:		return "a boolean";
	case V_OBJECT:		return "an object";
	case V_ARRAY:		return "an array";
	case V_OID:		return "a 24-character hex ObjectId";
	case V_STRINGS:		return "an array of strings";
	case V_NAMEVALUES:	return "an array of {name, value} objects";
	case V_DATETIME:	return "an ISO 8601 date-time";
	case V_ANY:		break;
	}
	return "a value";
}

static bool
digits(const char *s, int n)
{
	int	i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return false;
	return true;
}

/* YYYY-MM-DDTHH:MM[:SS[.fff…]](Z|±HH:MM), or a bare date. */
static bool
datetime_ok(const char *s)
{
	if (strlen(s) < 10 || !digits(s, 4) || s[4] != '-' ||
	    !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2))
		return false;
	s += 10;
	if (*s == '\0')
		return true;
	if ((*s != 'T' && *s != ' ') || !digits(s + 1, 2) || s[3] != ':' ||
	    !digits(s + 4, 2))
		return false;
	s += 6;
	if (*s == ':') {
		if (!digits(s + 1, 2))
			return false;
		s += 3;
		if (*s == '.') {
			for (s++; isdigit((unsigned char)*s); s++)
				;
		}
	}
	if (*s == 'Z')
		return s[1] == '\0';
	if (*s == '+' || *s == '-')
		return digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2) &&
		    s[6] == '\0';
	return *s == '\0';
}

static bool
kind_ok(const struct rule *r, const json_t *v)
{
	json_t	*e;
	size_t	 i;

	switch (r->kind) {
	case V_ANY:	return true;
	case V_STRING:	return json_is_string(v);
	case V_INT:	return json_is_integer(v);
	case V_NUMBER:	return json_is_number(v);
	case V_BOOL:	return json_is_boolean(v);
	case V_OBJECT:	return json_is_object(v);
	case V_ARRAY:	return json_is_array(v);
	case V_OID:	return json_is_string(v) &&
			    oid_valid(json_string_value(v),
			    json_string_length(v));
	case V_DATETIME: return json_is_string(v) &&
			    datetime_ok(json_string_value(v));
	case V_STRINGS:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e)
			if (!json_is_string(e) || (r->enums != NULL &&
			    !in_list(r->enums, json_string_value(e))))
				return false;
		return true;
	case V_NAMEVALUES:
		if (!json_is_array(v))
			return false;
		json_array_foreach(v, i, e)
			if (!json_is_object(e) ||
			    !json_is_string(json_object_get(e, "name")))
				return false;
		return true;
	}
	return false;
}

/* One invalid_field error: the rule's fixed message, or this one. */
static void
add(struct errors *errs, const struct rule *r, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add(struct errors *errs, const struct rule *r, const char *fmt, ...)
{
	char	msg[256];
	va_list	ap;

	if (r->message != NULL) {
		errors_add(errs, 422, "invalid_field", r->path, "%s",
		    r->message);
		return;
	}
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errors_add(errs, 422, "invalid_field", r->path, "%s", msg);
}

/* Check one present value against its rule. */
static void
check_value(const struct rule *r, const json_t *v, struct errors *errs)
{
	size_t		 n;
	json_int_t	 i;

	if (!kind_ok(r, v)) {
		if (r->kind == V_STRINGS && r->enums != NULL &&
		    json_is_array(v))
			add(errs, r, "%s has a value that is not allowed",
			    r->path);
		else
			add(errs, r, "%s must be %s", r->path,
			    kind_name(r->kind));
		return;
	}
	if (r->check != NULL && !r->check(v)) {
		add(errs, r, "%s is invalid", r->path);
		return;
	}
	if (r->enums != NULL && r->kind == V_STRING &&
	    !in_list(r->enums, json_string_value(v))) {
		add(errs, r, "Invalid %s", r->path);
		return;
	}
	if (r->kind == V_STRING && (r->min > 0 || r->max > 0)) {
		n = json_utf8_length(json_string_value(v),
		    json_string_length(v));
		if ((long)n < r->min)
			add(errs, r, "%s must not be empty", r->path);
		else if (r->max > 0 && (long)n > r->max)
			add(errs, r, "%s must be at most %ld characters",
			    r->path, r->max);
	}
	if (r->kind == V_INT && (r->min != 0 || r->max != 0)) {
		i = json_integer_value(v);
		if (r->max == LONG_MAX && i < r->min)
			add(errs, r, "%s must be an integer of at least %ld",
			    r->path, r->min);
		else if (r->max != 0 && (i < r->min || i > r->max))
			add(errs, r, "%s must be an integer from %ld to %ld",
			    r->path, r->min, r->max);
		else if (i < r->min)
			add(errs, r, "%s must be an integer of at least %ld",
			    r->path, r->min);
	}
}

/* Whether the rule applies to this document. Rules that depend on the
 * adaptor wait for a valid adaptorType. */
static bool
rule_applies(const struct rule *r, const json_t *doc, const char *adaptor,
    const char *type)
{
	const json_t	*w;
	bool		 reachable;

	if (r->types != NULL && !in_list(r->types, type))
		return false;
	if (r->not_types != NULL && in_list(r->not_types, type))
		return false;
	if ((r->adaptors != NULL || r->not_adaptors != NULL) && adaptor == NULL)
		return false;
	if (r->adaptors != NULL && !in_list(r->adaptors, adaptor))
		return false;
	if (r->not_adaptors != NULL && in_list(r->not_adaptors, adaptor))
		return false;
	if (r->when_path != NULL) {
		w = lookup(doc, r->when_path, &reachable);
		if (w == NULL)
			return r->when_absent && reachable;
		if (in_list(r->when_values, "*"))
			return true;
		return json_is_string(w) &&
		    in_list(r->when_values, json_string_value(w));
	}
	return true;
}

#define TOP_KEYS 32

/* The top-level keys of a document, to test rules against quickly. */
struct top_keys {
	size_t		 n;	/* n > TOP_KEYS: too many, use the object */
	const char	*k[TOP_KEYS];
	size_t		 len[TOP_KEYS];
};

static void
top_keys_read(const json_t *doc, struct top_keys *t)
{
	const char	*k;
	json_t		*v;

	t->n = 0;
	json_object_foreach((json_t *)doc, k, v) {
		if (t->n < TOP_KEYS) {
			t->k[t->n] = k;
			t->len[t->n] = strlen(k);
		}
		t->n++;
	}
}

/* Whether the first segment of path is a key of the document. */
static bool
top_present(const json_t *doc, const struct top_keys *t, const char *path)
{
	size_t	n = strcspn(path, "."), i;

	if (t->n > TOP_KEYS)
		return json_object_getn(doc, path, n) != NULL;
	for (i = 0; i < t->n; i++)
		if (t->len[i] == n && t->k[i][0] == path[0] &&
		    memcmp(t->k[i], path, n) == 0)
			return true;
	return false;
}

/* Whether a path or one of its ancestors already has an error. */
static bool
reported(const struct errors *errs, const char *path)
{
	size_t	i, n;

	for (i = 0; i < errs->n; i++) {
		n = strlen(errs->e[i].field);
		if (n > 0 && strncmp(errs->e[i].field, path, n) == 0 &&
		    (path[n] == '\0' || path[n] == '.'))
			return true;
	}
	return false;
}

int
rules_validate(const struct rule *rules, size_t nrules, const json_t *doc,
    const char *adaptor, struct errors *errs)
{
	const struct rule	*r;
	const char		*type;
	struct top_keys		 top;
	json_t			*v;
	bool			 reachable;
	size_t			 i, before = errs->n;

	type = json_string_value(json_object_get(doc, "type"));
	top_keys_read(doc, &top);
	for (i = 0; i < nrules; i++) {
		r = &rules[i];
		/* most rules are about blocks this document does not have */
		if (!r->required && !top_present(doc, &top, r->path))
			continue;
		if (!rule_applies(r, doc, adaptor, type) ||
		    reported(errs, r->path))
			continue;
		v = lookup(doc, r->path, &reachable);
		if (!reachable)
			continue;
		if (v == NULL) {
			if (r->required)
				errors_add(errs, 422, "missing_required_field",
				    r->path, "%s is required", r->path);
			continue;
		}
		if (r->forbidden) {
			errors_add(errs, 422, "invalid_field", r->path, "%s",
			    r->message);
			continue;
		}
		check_value(r, v, errs);
	}
	return errs->n > before ? -1 : 0;
}

int
rules_check_value(const struct rule *r, const json_t *v, struct errors *errs)
{
	size_t	before = errs->n;

	check_value(r, v, errs);
	return errs->n > before ? -1 : 0;
}

int
export_validate(const json_t *doc, struct errors *errs)
{
	const char	*adaptor;
	size_t		 i;

	adaptor = json_string_value(json_object_get(doc, "adaptorType"));
	for (i = 0; adaptor != NULL && i < EXPORT_NADAPTORS; i++)
		if (strcmp(adaptor, export_adaptor_types[i]) == 0)
			break;
	if (i == EXPORT_NADAPTORS)
		adaptor = NULL;
	return rules_validate(export_rules, export_nrules, doc, adaptor, errs);
}

int
export_validate_distributed(const char *adaptor, const json_t *block,
    struct errors *errs)
{
	const struct rule	*r;
	const char		*prefix;
	json_t			*doc, *v;
	bool			 reachable;
	size_t			 k, first = errs->n, plen;

	if (!json_is_object(block)) {
		errors_add(errs, 400, "invalid_json", NULL,
		    "The body must be a JSON object");
		return -1;
	}
	/* Check the block where it lives in the export, with the export's
	 * rules for that place; report paths relative to the block. */
	prefix = strcmp(adaptor, "NetSuiteExport") == 0 ?
	    "netsuite.distributed" : "salesforce.distributed";
	plen = strlen(prefix);
	doc = json_object();
	json_path_set_new(doc, prefix, json_incref((json_t *)block));
	for (k = 0; k < export_nrules; k++) {
		r = &export_rules[k];
		if (strncmp(r->path, prefix, plen) != 0 ||
		    r->path[plen] != '.' || reported(errs, r->path))
			continue;
		v = lookup(doc, r->path, &reachable);
		if (v != NULL && reachable)
			check_value(r, v, errs);
	}
	json_decref(doc);
	for (k = first; k < errs->n; k++)
		memmove(errs->e[k].field, errs->e[k].field + plen + 1,
		    strlen(errs->e[k].field + plen + 1) + 1);
	return errs->n > first ? -1 : 0;
}
