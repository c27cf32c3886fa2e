/* Validation of the export document: one table of field rules read by one
 * validator. A rule names a dot path, the JSON kind it must have, an
 * optional enum or bounds, and when it is required or forbidden (by
 * adaptorType and type). Every failing field is reported. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model/export.h"
#include "util/json.h"
#include "util/oid.h"

enum vkind { V_ANY, V_STRING, V_INT, V_BOOL, V_OBJECT, V_ARRAY, V_OID };

struct rule {
	const char		*path;
	enum vkind		 kind;
	const char *const	*enums;		/* NULL-terminated, or NULL */
	long			 min, max;	/* int value or string length */
	const char		*when_type;	/* applies only for this type */
	const char *const	*adaptors;	/* applies only for these */
	const char *const	*not_adaptors;	/* ... and not for these */
	bool			 required;	/* else: checked when present */
	bool			 forbidden;
	const char		*message;	/* for enum failures */
};

static const char *const type_values[] = {
	"delta", "once", "test", "tranlinedelta", "simple", "blob", "webhook",
	"distributed", "stream", NULL,
};
static const char *const adaptor_values[] = {
	"HTTPExport", "FTPExport", "AS2Export", "S3Export", "NetSuiteExport",
	"SalesforceExport", "JDBCExport", "RDBMSExport", "MongodbExport",
	"DynamodbExport", "WrapperExport", "SimpleExport", "WebhookExport",
	"FileSystemExport", NULL,
};
static const char *const no_connection[] = {
	"WebhookExport", "SimpleExport", NULL,
};
static const char *const webhook_only[] = { "WebhookExport", NULL };
static const char *const http_only[] = { "HTTPExport", NULL };
static const char *const webhook_type[] = { "webhook", NULL };
static const char *const simple_only[] = { "SimpleExport", NULL };
static const char *const simple_type[] = { "simple", NULL };

#define NOLIMIT 0, 0

static const struct rule rules[] = {
	{ "name", V_STRING, NULL, 1, LIMIT_NAME, NULL, NULL, NULL, true,
	  false, NULL },
	{ "adaptorType", V_STRING, adaptor_values, NOLIMIT, NULL, NULL, NULL,
	  true, false, "Invalid adaptorType" },
	{ "type", V_STRING, type_values, NOLIMIT, NULL, NULL, NULL, false,
	  false, NULL },
	{ "type", V_STRING, webhook_type, NOLIMIT, NULL, webhook_only, NULL,
	  true, false, "type must be webhook on a WebhookExport" },
	{ "type", V_STRING, simple_type, NOLIMIT, NULL, simple_only, NULL,
	  true, false, "type must be simple on a SimpleExport" },
	{ "_connectionId", V_OID, NULL, NOLIMIT, NULL, NULL, no_connection,
	  true, false, NULL },
	{ "_connectionId", V_ANY, NULL, NOLIMIT, NULL, webhook_only, NULL,
	  false, true, "_connectionId is not allowed on a WebhookExport" },
	{ "_connectionId", V_OID, NULL, NOLIMIT, NULL, simple_only, NULL,
	  false, false, NULL },
	{ "_integrationId", V_OID, NULL, NOLIMIT, NULL, NULL, NULL, false,
	  false, NULL },
	{ "description", V_STRING, NULL, 0, 10240, NULL, NULL, NULL, false,
	  false, NULL },
	{ "pageSize", V_INT, NULL, 1, 0, NULL, NULL, NULL, false, false,
	  NULL },
	{ "isLookup", V_BOOL, NULL, NOLIMIT, NULL, NULL, NULL, false, false,
	  NULL },
	{ "oneToMany", V_BOOL, NULL, NOLIMIT, NULL, NULL, NULL, false, false,
	  NULL },
	{ "hooks", V_OBJECT, NULL, NOLIMIT, NULL, NULL, NULL, false, false,
	  NULL },

	/* type blocks */
	{ "delta", V_OBJECT, NULL, NOLIMIT, "delta", NULL, NULL, false, false,
	  NULL },
	{ "delta.dateField", V_STRING, NULL, 1, 0, "delta", NULL, http_only,
	  true, false, NULL },
	{ "delta.dateField", V_ANY, NULL, NOLIMIT, NULL, http_only, NULL,
	  false, true, "delta.dateField is not valid on an HTTPExport: use "
	  "{{lastExportDateTime}} in the relative URI or body" },
	{ "test", V_OBJECT, NULL, NOLIMIT, "test", NULL, NULL, false, false,
	  NULL },
	{ "test.limit", V_INT, NULL, 1, 100, "test", NULL, NULL, true, false,
	  NULL },
	{ "once", V_OBJECT, NULL, NOLIMIT, "once", NULL, NULL, false, false,
	  NULL },
	{ "once.booleanField", V_STRING, NULL, 1, 0, "once", NULL, NULL,
	  true, false, NULL },
	{ "webhook", V_OBJECT, NULL, NOLIMIT, "webhook", NULL, NULL, true,
	  false, NULL },
	{ "simple", V_OBJECT, NULL, NOLIMIT, "simple", NULL, NULL, true,
	  false, NULL },

	/* secrets are strings */
	{ "webhook.key", V_STRING, NULL, NOLIMIT, NULL, NULL, NULL, false,
	  false, NULL },
	{ "webhook.token", V_STRING, NULL, NOLIMIT, NULL, NULL, NULL, false,
	  false, NULL },
	{ "webhook.password", V_STRING, NULL, NOLIMIT, NULL, NULL, NULL,
	  false, false, NULL },
	{ "distributed", V_OBJECT, NULL, NOLIMIT, NULL, NULL, NULL, false,
	  false, NULL },
	{ "distributed.bearerToken", V_STRING, NULL, NOLIMIT, NULL, NULL,
	  NULL, false, false, NULL },
};

static bool
in_list(const char *const *list, const char *s)
{
	for (; *list != NULL; list++)
		if (s != NULL && strcmp(*list, s) == 0)
			return true;
	return false;
}

/* Value at path; *reachable is false when a parent exists but is not an
 * object (then the parent's own rule reports it). */
static json_t *
lookup(const json_t *doc, const char *path, bool *reachable)
{
	char		 buf[160];
	const char	*dot;
	json_t		*parent;

	*reachable = true;
	if ((dot = strrchr(path, '.')) == NULL)
		return json_object_get(doc, path);
	snprintf(buf, sizeof(buf), "%.*s", (int)(dot - path), path);
	parent = json_path_get(doc, buf);
	if (parent == NULL) {
		/* an intermediate might exist with the wrong kind */
		const char *p = buf, *d;
		const json_t *cur = doc;
		char seg[160];

		while (cur != NULL) {
			d = strchrnul(p, '.');
			snprintf(seg, sizeof(seg), "%.*s", (int)(d - p), p);
			cur = json_object_get(cur, seg);
			if (cur != NULL && !json_is_object(cur)) {
				*reachable = false;
				return NULL;
			}
			if (*d == '\0')
				break;
			p = d + 1;
		}
		return NULL;
	}
	if (!json_is_object(parent)) {
		*reachable = false;
		return NULL;
	}
	return json_object_get(parent, dot + 1);
}

static const char *
kind_name(enum vkind k)
{
	switch (k) {
	case V_STRING:	return "a string";
	case V_INT:	return "an integer";
	case V_BOOL:	return "a boolean";
	case V_OBJECT:	return "an object";
	case V_ARRAY:	return "an array";
	case V_OID:	return "a 24-character hex ObjectId";
	case V_ANY:	break;
	}
	return "a value";
}

static bool
kind_ok(enum vkind k, const json_t *v)
{
	switch (k) {
	case V_ANY:	return true;
	case V_STRING:	return json_is_string(v);
	case V_INT:	return json_is_integer(v);
	case V_BOOL:	return json_is_boolean(v);
	case V_OBJECT:	return json_is_object(v);
	case V_ARRAY:	return json_is_array(v);
	case V_OID:	return json_is_string(v) &&
			    oid_valid(json_string_value(v),
			    json_string_length(v));
	}
	return false;
}

/* Check one present value against its rule. */
static void
check_value(const struct rule *r, const json_t *v, struct errors *errs)
{
	size_t		 n;
	json_int_t	 i;

	if (!kind_ok(r->kind, v)) {
		if (r->enums != NULL && r->message != NULL)
			errors_add(errs, 422, "invalid_field", r->path, "%s",
			    r->message);
		else
			errors_add(errs, 422, "invalid_field", r->path,
			    "%s must be %s", r->path, kind_name(r->kind));
		return;
	}
	if (r->enums != NULL && !in_list(r->enums, json_string_value(v))) {
		if (r->message != NULL)
			errors_add(errs, 422, "invalid_field", r->path, "%s",
			    r->message);
		else
			errors_add(errs, 422, "invalid_field", r->path,
			    "Invalid %s", r->path);
		return;
	}
	if (r->kind == V_STRING && (r->min > 0 || r->max > 0)) {
		n = json_utf8_length(json_string_value(v),
		    json_string_length(v));
		if ((long)n < r->min)
			errors_add(errs, 422, "invalid_field", r->path,
			    "%s must not be empty", r->path);
		else if (r->max > 0 && (long)n > r->max)
			errors_add(errs, 422, "invalid_field", r->path,
			    "%s must be at most %ld characters", r->path,
			    r->max);
	}
	if (r->kind == V_INT) {
		i = json_integer_value(v);
		if (i < r->min || (r->max > 0 && i > r->max)) {
			if (r->max > 0)
				errors_add(errs, 422, "invalid_field", r->path,
				    "%s must be an integer from %ld to %ld",
				    r->path, r->min, r->max);
			else
				errors_add(errs, 422, "invalid_field", r->path,
				    "%s must be an integer of at least %ld",
				    r->path, r->min);
		}
	}
}

/* Whether the rule applies to this document. */
static bool
rule_applies(const struct rule *r, const char *adaptor, const char *type)
{
	if (r->when_type != NULL && (type == NULL ||
	    strcmp(r->when_type, type) != 0))
		return false;
	if (r->adaptors != NULL && !in_list(r->adaptors, adaptor))
		return false;
	if (r->not_adaptors != NULL && in_list(r->not_adaptors, adaptor))
		return false;
	return true;
}

/* Whether a path already has an error (one error per field). */
static bool
reported(const struct errors *errs, const char *path)
{
	size_t	i;

	for (i = 0; i < errs->n; i++)
		if (strcmp(errs->e[i].field, path) == 0)
			return true;
	return false;
}

int
export_validate(const json_t *doc, struct errors *errs)
{
	const struct rule	*r;
	const char		*adaptor, *type;
	json_t			*v;
	bool			 reachable;
	size_t			 i, before = errs->n;

	adaptor = json_string_value(json_object_get(doc, "adaptorType"));
	if (adaptor != NULL && !in_list(adaptor_values, adaptor))
		adaptor = NULL;
	type = json_string_value(json_object_get(doc, "type"));
	for (i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		r = &rules[i];
		if (!rule_applies(r, adaptor, type) || reported(errs, r->path))
			continue;
		if (r->adaptors != NULL || r->not_adaptors != NULL) {
			/* adaptor-dependent rules wait for a valid adaptor */
			if (adaptor == NULL)
				continue;
		}
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
export_validate_distributed(const char *adaptor, const json_t *block,
    struct errors *errs)
{
	if (!json_is_object(block)) {
		errors_add(errs, 400, "invalid_json", NULL,
		    "The body must be a JSON object");
		return -1;
	}
	return 0;
}
