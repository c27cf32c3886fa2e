/* The OpenAPI document built into the binary against the route table:
 * every route and method the router serves is documented, and every
 * documented operation is served (OPTIONS, the CORS preflight, by the
 * HTTP layer on every path). */

#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "api/api.h"
#include "api/openapi.h"

static const struct { unsigned bit; const char *name; } methods[] = {
	{ M_GET, "get" }, { M_HEAD, "head" }, { M_POST, "post" },
	{ M_PUT, "put" }, { M_DELETE, "delete" }, { M_PATCH, "patch" },
	{ M_OPTIONS, "options" },
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

/* "/v1/exports/:id/data" as the document writes it: every ':name'
 * segment and every '{name}' segment read as "{}". */
static void
path_shape(const char *p, char *out, size_t outsz)
{
	size_t	n = 0;

	while (*p != '\0' && n + 3 < outsz) {
		if ((p[0] == ':' || p[0] == '{') && (n == 0 || out[n - 1] == '/')) {
			out[n++] = '{';
			out[n++] = '}';
			p += strcspn(p, "/");
			continue;
		}
		out[n++] = *p++;
	}
	out[n] = '\0';
}

static json_t *
doc_load(void)
{
	json_error_t	 err;
	json_t		*doc;

	doc = json_loadb(openapi_doc, openapi_doc_len, 0, &err);
	cr_assert_not_null(doc, "the document does not parse: %s", err.text);
	cr_assert_eq(strlen(openapi_doc), openapi_doc_len);
	return doc;
}

/* The document's path item of a route pattern, or NULL. */
static json_t *
doc_item(json_t *paths, const char *pattern)
{
	const char	*k;
	json_t		*v;
	char		 want[256], got[256];

	path_shape(pattern, want, sizeof(want));
	json_object_foreach(paths, k, v) {
		path_shape(k, got, sizeof(got));
		if (strcmp(want, got) == 0)
			return v;
	}
	return NULL;
}

Test(openapi, every_route_is_documented)
{
	json_t		*doc = doc_load(), *paths, *item;
	size_t		 i, m;

	paths = json_object_get(doc, "paths");
	for (i = 0; i < api_nroutes; i++) {
		item = doc_item(paths, api_routes[i].pattern);
		cr_assert_not_null(item, "route %s is not in openapi/exportd.json",
		    api_routes[i].pattern);
		for (m = 0; m < NMETHODS; m++)
			if (api_routes[i].methods & methods[m].bit)
				cr_assert_not_null(json_object_get(item,
				    methods[m].name), "%s %s is not in "
				    "openapi/exportd.json", methods[m].name,
				    api_routes[i].pattern);
	}
	json_decref(doc);
}

Test(openapi, every_documented_operation_is_routed)
{
	json_t		*doc = doc_load(), *v, *unused;
	const char	*k, *op;
	char		 want[256], got[256];
	size_t		 i, m;
	unsigned	 served;

	json_object_foreach(json_object_get(doc, "paths"), k, v) {
		path_shape(k, want, sizeof(want));
		served = 0;
		for (i = 0; i < api_nroutes; i++) {
			path_shape(api_routes[i].pattern, got, sizeof(got));
			if (strcmp(want, got) == 0)
				served |= api_routes[i].methods;
		}
		if (served & M_GET)
			served |= M_HEAD;	/* the router answers HEAD as GET */
		/* CORS preflights: the HTTP layer answers them on every path */
		served |= M_OPTIONS;
		json_object_foreach(v, op, unused) {
			for (m = 0; m < NMETHODS; m++)
				if (strcmp(op, methods[m].name) == 0)
					cr_assert(served & methods[m].bit,
					    "%s %s is documented but not routed",
					    op, k);
		}
	}
	json_decref(doc);
}

Test(openapi, etag_is_a_strong_quoted_tag)
{
	cr_assert_eq(openapi_doc_etag[0], '"');
	cr_assert_eq(openapi_doc_etag[strlen(openapi_doc_etag) - 1], '"');
	cr_assert_eq(strlen(openapi_doc_etag), 34);
}
