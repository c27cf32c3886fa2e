/* JSON Patch on the patchable paths of a resource. */
#include <string.h>

#include "model/export.h"
#include "model/patch.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

#define DEBUG_WINDOW_MS	(60 * 60 * 1000)

const struct patch_path export_patch_paths[] = {
	{ "assistantMetadata", V_ANY, false },
	{ "netsuite.distributed.disabled", V_BOOL, false },
	{ "salesforce.distributed.disabled", V_BOOL, false },
	{ "debugUntil", V_DATETIME, true },
	{ NULL, V_ANY, false },
};

const struct patch_path connection_patch_paths[] = {
	{ "name", V_STRING, false },
	{ "debugDate", V_DATETIME, true },
	{ "http.ping.successPath", V_STRING, false },
	{ "http.ping.successValues", V_STRINGS, false },
	{ "http.ping.failPath", V_STRING, false },
	{ "http.ping.failValues", V_STRINGS, false },
	{ "http.auth.failStatusCode", V_INT, false },
	{ "http.auth.failPath", V_STRING, false },
	{ "http.auth.failValues", V_STRINGS, false },
	{ NULL, V_ANY, false },
};

bool
patch_shape_ok(const json_t *ops)
{
	json_t	*op;
	size_t	 i;

	if (!json_is_array(ops))
		return false;
	json_array_foreach(ops, i, op)
		if (!json_is_object(op))
			return false;
	return true;
}

/* The dot form of an operation's path: "/a/b" (RFC 6901, ~1 and ~0
 * unescaped) or the dotted alias "/a.b"; false if it is neither. */
static bool
patch_path_dots(const char *p, char *out, size_t outsz)
{
	size_t	n = 0;

	if (p == NULL || *p++ != '/')
		return false;
	for (; *p != '\0'; p++) {
		if (n + 2 > outsz)
			return false;
		if (*p == '/')
			out[n++] = '.';
		else if (*p == '~' && (p[1] == '0' || p[1] == '1'))
			out[n++] = *++p == '0' ? '~' : '/';
		else
			out[n++] = *p;
	}
	out[n] = '\0';
	return n > 0;
}

static const struct patch_path *
patch_find(const struct patch_path *allowed, const char *dots)
{
	for (; allowed->path != NULL; allowed++)
		if (strcmp(allowed->path, dots) == 0)
			return allowed;
	return NULL;
}

/* A value for a path: its kind, and the debug window. */
static void
patch_value_check(const struct patch_path *pp, const char *field,
    const json_t *v, int64_t now_ms, struct errors *errs)
{
	struct rule	r;
	struct errors	e;
	int64_t		t;

	memset(&r, 0, sizeof(r));
	r.path = pp->path;
	r.kind = pp->kind;
	errors_init(&e);
	if (rules_check_value(&r, v, &e) == -1) {
		errors_add(errs, 422, "invalid_field", field, "%s",
		    e.e[0].message);
		return;
	}
	if (!pp->window)
		return;
	if (isotime_parse(json_string_value(v), &t) == -1 ||
	    t < now_ms - 1000 || t > now_ms + DEBUG_WINDOW_MS)
		errors_add(errs, 422, "invalid_field", field,
		    "%s must be an ISO 8601 date-time from now to at most "
		    "one hour ahead", pp->path);
}

int
patch_check(const json_t *ops, const struct patch_path *allowed,
    int64_t now_ms, struct errors *errs)
{
	const struct patch_path	*pp;
	const char		*op, *path;
	json_t			*o, *v;
	char			 dots[160], field[160];
	size_t			 i, before = errs->n;

	json_array_foreach(ops, i, o) {
		op = json_string_value(json_object_get(o, "op"));
		path = json_string_value(json_object_get(o, "path"));
		snprintf(field, sizeof(field), "%s", path != NULL ? path : "");
		if (!patch_path_dots(path, dots, sizeof(dots)) ||
		    (pp = patch_find(allowed, dots)) == NULL) {
			errors_add(errs, 422, "invalid_field", field,
			    "%s is not a path that can be patched",
			    path != NULL ? field : "(no path)");
			continue;
		}
		if (op == NULL || (strcmp(op, "replace") != 0 &&
		    strcmp(op, "add") != 0 && strcmp(op, "remove") != 0)) {
			errors_add(errs, 422, "invalid_field", field,
			    "op must be replace, add or remove");
			continue;
		}
		if (strcmp(op, "remove") == 0)
			continue;
		if ((v = json_object_get(o, "value")) == NULL) {
			errors_add(errs, 422, "invalid_field", field,
			    "%s needs a value", op);
			continue;
		}
		patch_value_check(pp, field, v, now_ms, errs);
	}
	return errs->n > before ? -1 : 0;
}

void
patch_apply(json_t *doc, const json_t *ops, const struct patch_path *allowed)
{
	const char	*op;
	json_t		*o;
	char		 dots[160];
	size_t		 i;

	json_array_foreach(ops, i, o) {
		op = json_string_value(json_object_get(o, "op"));
		if (!patch_path_dots(json_string_value(json_object_get(o,
		    "path")), dots, sizeof(dots)) ||
		    patch_find(allowed, dots) == NULL || op == NULL)
			continue;
		if (strcmp(op, "remove") == 0)
			json_path_del(doc, dots);
		else
			json_path_set_new(doc, dots, json_deep_copy(
			    json_object_get(o, "value")));
	}
}

json_t *
patch_document(const json_t *stored, void (*strip)(json_t *),
    const char *field, const char *value, const json_t *ops,
    const struct patch_path *allowed, char **after)
{
	json_t	*doc, *v;

	doc = json_deep_copy(stored);
	strip(doc);
	if (value != NULL)
		json_object_set_new(doc, field, json_string(value));
	patch_apply(doc, ops, allowed);
	v = json_object_get(doc, field);
	*after = json_is_string(v) ? xstrdup(json_string_value(v)) : NULL;
	json_object_del(doc, field);
	export_strip_nulls(doc);
	return doc;
}
