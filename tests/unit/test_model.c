/* Unit tests for model/export (normalise, secrets, render, meta). */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "model/export.h"
#include "util/json.h"

static json_t *
parse(const char *s)
{
	json_error_t	 err;
	json_t		*v;

	v = json_loads(s, JSON_REJECT_DUPLICATES, &err);
	cr_assert_not_null(v, "bad test JSON %s: %s", s, err.text);
	return v;
}

/* Compact rendering (keys in stored order) equals want. */
static void
expect_json(const json_t *v, const char *want)
{
	char	*s;
	size_t	 len;

	s = json_render_new(v, &len);
	cr_assert_not_null(s);
	cr_assert_str_eq(s, want);
	cr_assert_eq(len, strlen(want));
	free(s);
}

static void
strip_case(const char *in, const char *want)
{
	json_t	*doc = parse(in);

	export_strip_nulls(doc);
	expect_json(doc, want);
	json_decref(doc);
}

/* ---- export_strip_nulls ---- */

Test(strip_nulls, top_level_nulls)
{
	strip_case("{\"a\":null,\"b\":1,\"c\":null}", "{\"b\":1}");
	strip_case("{\"a\":null}", "{}");
	strip_case("{}", "{}");
}

Test(strip_nulls, falsy_values_kept)
{
	strip_case("{\"a\":false,\"b\":0,\"c\":\"\",\"d\":[],\"e\":0.0}",
	    "{\"a\":false,\"b\":0,\"c\":\"\",\"d\":[],\"e\":0.0}");
}

Test(strip_nulls, nested_nulls)
{
	strip_case("{\"name\":\"x\",\"http\":{\"method\":\"GET\","
	    "\"body\":null,\"paging\":{\"path\":null,\"method\":\"page\"}}}",
	    "{\"name\":\"x\",\"http\":{\"method\":\"GET\","
	    "\"paging\":{\"method\":\"page\"}}}");
}

Test(strip_nulls, emptied_objects_removed_recursively)
{
	/* the seed's PUT: hooks disappear */
	strip_case("{\"name\":\"x\",\"hooks\":{\"preSavePage\":"
	    "{\"function\":null,\"_scriptId\":null}}}",
	    "{\"name\":\"x\"}");
	strip_case("{\"a\":{\"b\":{\"c\":{\"d\":null}}},\"e\":1}",
	    "{\"e\":1}");
	strip_case("{\"a\":{\"b\":{\"c\":null}},\"d\":{\"e\":null,\"f\":0}}",
	    "{\"d\":{\"f\":0}}");
	/* a parent keeps a non-empty sibling */
	strip_case("{\"a\":{\"b\":{\"c\":null},\"k\":\"v\"}}",
	    "{\"a\":{\"k\":\"v\"}}");
	/* everything gone: the top-level document stays an object */
	strip_case("{\"a\":{\"b\":null},\"c\":null}", "{}");
}

Test(strip_nulls, explicit_empty_objects_kept)
{
	strip_case("{\"a\":{},\"b\":{\"c\":{}}}", "{\"a\":{},\"b\":{\"c\":{}}}");
	/* a parent that still holds an explicit {} is not empty */
	strip_case("{\"a\":{\"b\":null,\"c\":{}}}", "{\"a\":{\"c\":{}}}");
	strip_case("{\"webhook\":{}}", "{\"webhook\":{}}");
}

Test(strip_nulls, arrays_keep_elements)
{
	strip_case("{\"arr\":[null,1,null]}", "{\"arr\":[null,1,null]}");
	strip_case("{\"arr\":[]}", "{\"arr\":[]}");
	strip_case("{\"arr\":[null]}", "{\"arr\":[null]}");
}

Test(strip_nulls, objects_in_arrays_cleaned_but_kept)
{
	strip_case("{\"arr\":[{\"x\":null},{\"y\":null,\"z\":2},"
	    "[null,{\"q\":null}],{\"o\":{\"p\":null}},{}]}",
	    "{\"arr\":[{},{\"z\":2},[null,{}],{},{}]}");
	strip_case("{\"a\":{\"list\":[{\"k\":null,\"deep\":{\"n\":null},"
	    "\"v\":1}],\"gone\":null}}",
	    "{\"a\":{\"list\":[{\"v\":1}]}}");
}

Test(strip_nulls, order_preserved)
{
	strip_case("{\"z\":1,\"n\":null,\"a\":2,\"m\":{\"y\":null,\"b\":3,"
	    "\"a\":4}}", "{\"z\":1,\"a\":2,\"m\":{\"b\":3,\"a\":4}}");
}

/* ---- export_strip_readonly ---- */

Test(strip_readonly, removes_server_fields)
{
	json_t	*doc;

	doc = parse("{\"_id\":\"5a0b1c2d3e4f5a6b7c8d9e0f\",\"name\":\"n\","
	    "\"createdAt\":\"2017-11-28T19:37:04.180Z\","
	    "\"lastModified\":\"2017-11-28T19:37:04.180Z\","
	    "\"apiIdentifier\":\"e0123456789\",\"asynchronous\":false,"
	    "\"_sourceId\":\"5a0b1c2d3e4f5a6b7c8d9e0e\","
	    "\"_connectionId\":\"5a0b1c2d3e4f5a6b7c8d9e0d\",\"id\":\"keep\","
	    "\"webhook\":{\"_id\":\"inner\",\"createdAt\":\"x\"}}");
	export_strip_readonly(doc);
	expect_json(doc, "{\"name\":\"n\","
	    "\"_connectionId\":\"5a0b1c2d3e4f5a6b7c8d9e0d\",\"id\":\"keep\","
	    "\"webhook\":{\"_id\":\"inner\",\"createdAt\":\"x\"}}");
	json_decref(doc);
}

Test(strip_readonly, nothing_to_remove)
{
	json_t	*doc = parse("{\"name\":\"n\",\"type\":\"test\"}");

	export_strip_readonly(doc);
	expect_json(doc, "{\"name\":\"n\",\"type\":\"test\"}");
	json_decref(doc);
}

/* ---- export_infer_adaptor ---- */

static const char *
infer(const char *s)
{
	json_t		*doc = parse(s);
	const char	*r = export_infer_adaptor(doc);

	json_decref(doc);	/* the result is a static string */
	return r;
}

Test(infer_adaptor, values)
{
	cr_assert_str_eq(infer("{\"type\":\"webhook\"}"), "WebhookExport");
	cr_assert_str_eq(infer("{\"type\":\"simple\",\"name\":\"x\"}"),
	    "SimpleExport");
	cr_assert_null(infer("{\"type\":\"delta\"}"));
	cr_assert_null(infer("{\"type\":\"test\"}"));
	cr_assert_null(infer("{}"));
	cr_assert_null(infer("{\"name\":\"webhook\"}"));
	cr_assert_null(infer("{\"type\":5}"));
	cr_assert_null(infer("{\"type\":{\"webhook\":true}}"));
	cr_assert_null(infer("{\"type\":\"Webhook\"}"));
	cr_assert_null(infer("{\"type\":\"webhooks\"}"));
	cr_assert_null(infer("{\"type\":\"\"}"));
}

/* ---- export_secrets_take ---- */

Test(secrets, paths)
{
	cr_assert_str_eq(export_secret_paths[0], "webhook.key");
	cr_assert_str_eq(export_secret_paths[1], "webhook.token");
	cr_assert_str_eq(export_secret_paths[2], "webhook.password");
	cr_assert_str_eq(export_secret_paths[3], "distributed.bearerToken");
	cr_assert_str_eq(EXPORT_MASK, "******");
}

Test(secrets, new_values_moved_out_and_masked)
{
	json_t	*doc, *out;

	doc = parse("{\"name\":\"n\",\"webhook\":{\"verify\":\"hmac\","
	    "\"key\":\"k1\",\"token\":\"t1\",\"password\":\"p1\","
	    "\"username\":\"u\"},\"distributed\":{\"bearerToken\":\"b1\","
	    "\"other\":1}}");
	out = export_secrets_take(doc, NULL);
	cr_assert_not_null(out);
	/* the document no longer holds the values */
	json_decref(doc);
	expect_json(out, "{\"webhook.key\":\"k1\",\"webhook.token\":\"t1\","
	    "\"webhook.password\":\"p1\",\"distributed.bearerToken\":\"b1\"}");
	json_decref(out);
}

Test(secrets, document_masked)
{
	json_t	*doc, *out;

	doc = parse("{\"name\":\"n\",\"webhook\":{\"verify\":\"hmac\","
	    "\"key\":\"k1\",\"token\":\"t1\",\"password\":\"p1\","
	    "\"username\":\"u\"},\"distributed\":{\"bearerToken\":\"b1\","
	    "\"other\":1}}");
	out = export_secrets_take(doc, NULL);
	expect_json(doc, "{\"name\":\"n\",\"webhook\":{\"verify\":\"hmac\","
	    "\"key\":\"******\",\"token\":\"******\",\"password\":\"******\","
	    "\"username\":\"u\"},\"distributed\":{\"bearerToken\":\"******\","
	    "\"other\":1}}");
	json_decref(out);
	json_decref(doc);
}

Test(secrets, new_value_replaces_stored)
{
	json_t	*doc, *stored, *out;

	doc = parse("{\"webhook\":{\"key\":\"new\"}}");
	stored = parse("{\"webhook.key\":\"old\"}");
	out = export_secrets_take(doc, stored);
	expect_json(out, "{\"webhook.key\":\"new\"}");
	expect_json(doc, "{\"webhook\":{\"key\":\"******\"}}");
	expect_json(stored, "{\"webhook.key\":\"old\"}");
	json_decref(out);
	json_decref(stored);
	json_decref(doc);
}

Test(secrets, mask_keeps_stored)
{
	json_t	*doc, *stored, *out;

	doc = parse("{\"webhook\":{\"key\":\"******\",\"token\":\"new\","
	    "\"password\":\"******\"},\"distributed\":{\"bearerToken\":"
	    "\"******\"}}");
	stored = parse("{\"webhook.key\":\"oldk\",\"webhook.token\":\"oldt\","
	    "\"webhook.password\":\"oldp\",\"distributed.bearerToken\":"
	    "\"oldb\"}");
	out = export_secrets_take(doc, stored);
	json_decref(stored);
	expect_json(out, "{\"webhook.key\":\"oldk\",\"webhook.token\":\"new\","
	    "\"webhook.password\":\"oldp\",\"distributed.bearerToken\":"
	    "\"oldb\"}");
	expect_json(doc, "{\"webhook\":{\"key\":\"******\",\"token\":"
	    "\"******\",\"password\":\"******\"},\"distributed\":"
	    "{\"bearerToken\":\"******\"}}");
	json_decref(out);
	json_decref(doc);
}

Test(secrets, mask_with_nothing_stored_removes_field)
{
	json_t	*doc, *stored, *out;

	doc = parse("{\"webhook\":{\"verify\":\"token\",\"token\":\"******\"}}");
	out = export_secrets_take(doc, NULL);
	expect_json(out, "{}");
	expect_json(doc, "{\"webhook\":{\"verify\":\"token\"}}");
	json_decref(out);
	json_decref(doc);

	/* stored map without that secret */
	doc = parse("{\"webhook\":{\"key\":\"******\",\"password\":"
	    "\"******\"},\"distributed\":{\"bearerToken\":\"******\"}}");
	stored = parse("{\"webhook.password\":\"p\"}");
	out = export_secrets_take(doc, stored);
	expect_json(out, "{\"webhook.password\":\"p\"}");
	cr_assert_null(json_path_get(doc, "webhook.key"));
	cr_assert_null(json_path_get(doc, "distributed.bearerToken"));
	cr_assert_str_eq(json_string_value(json_path_get(doc,
	    "webhook.password")), EXPORT_MASK);
	json_decref(out);
	json_decref(stored);
	json_decref(doc);
}

Test(secrets, omitted_secret_is_erased)
{
	json_t	*doc, *stored, *out;

	doc = parse("{\"name\":\"n\",\"webhook\":{\"verify\":\"hmac\"}}");
	stored = parse("{\"webhook.key\":\"old\",\"distributed.bearerToken\":"
	    "\"b\"}");
	out = export_secrets_take(doc, stored);
	expect_json(out, "{}");
	expect_json(doc, "{\"name\":\"n\",\"webhook\":{\"verify\":\"hmac\"}}");
	json_decref(out);
	json_decref(stored);
	json_decref(doc);
}

Test(secrets, non_string_left_in_place)
{
	json_t	*doc, *stored, *out;

	doc = parse("{\"webhook\":{\"key\":5,\"token\":{\"a\":1},"
	    "\"password\":true},\"distributed\":{\"bearerToken\":[\"x\"]}}");
	stored = parse("{\"webhook.key\":\"old\"}");
	out = export_secrets_take(doc, stored);
	expect_json(out, "{}");
	expect_json(doc, "{\"webhook\":{\"key\":5,\"token\":{\"a\":1},"
	    "\"password\":true},\"distributed\":{\"bearerToken\":[\"x\"]}}");
	json_decref(out);
	json_decref(stored);
	json_decref(doc);
}

Test(secrets, parent_not_object)
{
	json_t	*doc, *out;

	doc = parse("{\"webhook\":\"x\",\"distributed\":[1]}");
	out = export_secrets_take(doc, NULL);
	expect_json(out, "{}");
	expect_json(doc, "{\"webhook\":\"x\",\"distributed\":[1]}");
	json_decref(out);
	json_decref(doc);
}

Test(secrets, mask_is_exact)
{
	json_t	*doc, *stored, *out;

	/* only exactly six asterisks means "keep" */
	doc = parse("{\"webhook\":{\"key\":\"*****\",\"token\":\"*******\"}}");
	stored = parse("{\"webhook.key\":\"old\",\"webhook.token\":\"oldt\"}");
	out = export_secrets_take(doc, stored);
	expect_json(out, "{\"webhook.key\":\"*****\",\"webhook.token\":"
	    "\"*******\"}");
	expect_json(doc, "{\"webhook\":{\"key\":\"******\",\"token\":"
	    "\"******\"}}");
	json_decref(out);
	json_decref(stored);
	json_decref(doc);
}

/* ---- export_render / export_meta_read ---- */

#define ID	"5a0b1c2d3e4f5a6b7c8d9e0f"
#define SRC	"5a0b1c2d3e4f5a6b7c8d9e00"
#define CREATED	1511897824180LL		/* 2017-11-28T19:37:04.180Z */
#define MODIFIED 1514862245007LL	/* 2018-01-02T03:04:05.007Z */

Test(render, exact_bytes)
{
	struct export_meta	 m = { ID, "e0123456789", NULL, CREATED,
				    MODIFIED, NULL };
	json_t			*doc;
	char			*s;
	size_t			 len = 0;
	const char		*want = "{\"_id\":\"" ID "\",\"name\":\"n\","
	    "\"type\":\"webhook\",\"webhook\":{\"verify\":\"token\"},"
	    "\"createdAt\":\"2017-11-28T19:37:04.180Z\","
	    "\"lastModified\":\"2018-01-02T03:04:05.007Z\","
	    "\"apiIdentifier\":\"e0123456789\",\"asynchronous\":true}";

	doc = parse("{\"name\":\"n\",\"type\":\"webhook\",\"webhook\":"
	    "{\"verify\":\"token\"}}");
	s = export_render(doc, &m, &len);
	cr_assert_not_null(s);
	cr_assert_str_eq(s, want);
	cr_assert_eq(len, strlen(want));
	free(s);
	/* the document is not changed */
	expect_json(doc, "{\"name\":\"n\",\"type\":\"webhook\",\"webhook\":"
	    "{\"verify\":\"token\"}}");
	json_decref(doc);
}

Test(render, source_id_last_when_set)
{
	struct export_meta	 m = { ID, "e00000000ff", SRC, CREATED,
				    CREATED, NULL };
	json_t			*doc;
	char			*s;
	size_t			 len;
	const char		*want = "{\"_id\":\"" ID "\",\"name\":\"c\","
	    "\"createdAt\":\"2017-11-28T19:37:04.180Z\","
	    "\"lastModified\":\"2017-11-28T19:37:04.180Z\","
	    "\"apiIdentifier\":\"e00000000ff\",\"asynchronous\":true,"
	    "\"_sourceId\":\"" SRC "\"}";

	doc = parse("{\"name\":\"c\"}");
	s = export_render(doc, &m, &len);
	cr_assert_str_eq(s, want);
	cr_assert_eq(len, strlen(want));
	free(s);
	json_decref(doc);
}

Test(render, client_field_order_kept)
{
	struct export_meta	 m = { ID, "e0123456789", NULL, 0, 0, NULL };
	json_t			*doc, *back;
	const char		*k;
	json_t			*v;
	char			*s;
	size_t			 len, i = 0;
	const char *const	 order[] = { "_id", "zeta", "name", "alpha",
	    "_connectionId", "mid", "createdAt", "lastModified",
	    "apiIdentifier", "asynchronous" };

	doc = parse("{\"zeta\":1,\"name\":\"n\",\"alpha\":[1,{\"b\":2,"
	    "\"a\":1}],\"_connectionId\":\"" SRC "\",\"mid\":{\"y\":1,"
	    "\"x\":2}}");
	s = export_render(doc, &m, &len);
	back = parse(s);
	json_object_foreach(back, k, v) {
		cr_assert_lt(i, sizeof(order) / sizeof(order[0]));
		cr_assert_str_eq(k, order[i], "key %zu", i);
		i++;
	}
	cr_assert_eq(i, sizeof(order) / sizeof(order[0]));
	cr_assert_str_eq(json_string_value(json_object_get(back,
	    "createdAt")), "1970-01-01T00:00:00.000Z");
	cr_assert(strstr(s, "\"mid\":{\"y\":1,\"x\":2}") != NULL, "%s", s);
	cr_assert(strstr(s, "\"alpha\":[1,{\"b\":2,\"a\":1}]") != NULL, "%s",
	    s);
	json_decref(back);
	free(s);
	json_decref(doc);
}

Test(render, escapes_strings)
{
	struct export_meta	 m = { ID, "e0123456789", NULL, CREATED,
				    CREATED, NULL };
	json_t			*doc;
	char			*s;
	size_t			 len;

	doc = json_object();
	json_object_set_new(doc, "name", json_string("a\"b\\c/\n\xc3\xa9"));
	s = export_render(doc, &m, &len);
	cr_assert_eq(strncmp(s, "{\"_id\":\"" ID "\",\"name\":"
	    "\"a\\\"b\\\\c/\\n\xc3\xa9\",", strlen("{\"_id\":\"" ID
	    "\",\"name\":\"a\\\"b\\\\c/\\n\xc3\xa9\",")), 0, "%s", s);
	free(s);
	json_decref(doc);
}

Test(meta, round_trip)
{
	struct export_meta	 m = { ID, "e0123456789", SRC, CREATED,
				    MODIFIED, NULL }, r;
	json_t			*doc, *body;
	char			*s;
	size_t			 len;

	doc = parse("{\"name\":\"n\"}");
	s = export_render(doc, &m, &len);
	body = parse(s);
	free(s);
	cr_assert_eq(export_meta_read(body, &r), 0);
	cr_assert_str_eq(r.id, ID);
	cr_assert_str_eq(r.api_identifier, "e0123456789");
	cr_assert_str_eq(r.source_id, SRC);
	cr_assert_eq(r.created_ms, CREATED);
	cr_assert_eq(r.modified_ms, MODIFIED);
	/* borrowed from body */
	cr_assert_eq(r.id, json_string_value(json_object_get(body, "_id")));
	json_decref(body);
	json_decref(doc);
}

Test(meta, round_trip_without_source)
{
	struct export_meta	 m = { ID, "effffffffff", NULL, 0,
				    253402300799999LL, NULL }, r;
	json_t			*doc, *body;
	char			*s;
	size_t			 len;

	doc = parse("{\"name\":\"n\",\"_sourceIdx\":1}");
	s = export_render(doc, &m, &len);
	body = parse(s);
	free(s);
	memset(&r, 0xff, sizeof(r));
	cr_assert_eq(export_meta_read(body, &r), 0);
	cr_assert_str_eq(r.id, ID);
	cr_assert_str_eq(r.api_identifier, "effffffffff");
	cr_assert_null(r.source_id);
	cr_assert_eq(r.created_ms, 0);
	cr_assert_eq(r.modified_ms, 253402300799999LL);
	json_decref(body);
	json_decref(doc);
}

static int
meta_of(const char *s)
{
	struct export_meta	 r;
	json_t			*body = parse(s);
	int			 rc = export_meta_read(body, &r);

	json_decref(body);
	return rc;
}

Test(meta, rejects_non_exports)
{
#define TS "\"2017-11-28T19:37:04.180Z\""
	cr_assert_eq(meta_of("{\"_id\":\"a\",\"apiIdentifier\":\"e\","
	    "\"createdAt\":" TS ",\"lastModified\":" TS "}"), 0);
	cr_assert_eq(meta_of("{}"), -1);
	cr_assert_eq(meta_of("[]"), -1);
	cr_assert_eq(meta_of("{\"apiIdentifier\":\"e\","
	    "\"createdAt\":" TS ",\"lastModified\":" TS "}"), -1);
	cr_assert_eq(meta_of("{\"_id\":\"a\","
	    "\"createdAt\":" TS ",\"lastModified\":" TS "}"), -1);
	cr_assert_eq(meta_of("{\"_id\":\"a\",\"apiIdentifier\":\"e\","
	    "\"lastModified\":" TS "}"), -1);
	cr_assert_eq(meta_of("{\"_id\":\"a\",\"apiIdentifier\":\"e\","
	    "\"createdAt\":" TS "}"), -1);
	cr_assert_eq(meta_of("{\"_id\":5,\"apiIdentifier\":\"e\","
	    "\"createdAt\":" TS ",\"lastModified\":" TS "}"), -1);
	cr_assert_eq(meta_of("{\"_id\":\"a\",\"apiIdentifier\":\"e\","
	    "\"createdAt\":\"2017-11-28T19:37:04Z\",\"lastModified\":" TS
	    "}"), -1);
	cr_assert_eq(meta_of("{\"_id\":\"a\",\"apiIdentifier\":\"e\","
	    "\"createdAt\":" TS ",\"lastModified\":1511897824180}"), -1);
#undef TS
}
