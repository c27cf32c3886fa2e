/* Unit tests for model/validate: export_validate. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "model/export.h"
#include "util/errors.h"

#define OID	"5a0b1c2d3e4f5a6b7c8d9e0f"
#define OID2	"5A0B1C2D3E4F5A6B7C8D9E0F"

static json_t *
parse(const char *s)
{
	json_error_t	 err;
	json_t		*v;

	v = json_loads(s, JSON_REJECT_DUPLICATES, &err);
	cr_assert_not_null(v, "bad test JSON %s: %s", s, err.text);
	return v;
}

/* "code:field" of every error, joined with ';', in order. */
static void
describe(const struct errors *e, char *out, size_t outsz)
{
	size_t	i, len = 0;

	out[0] = '\0';
	for (i = 0; i < e->n && len < outsz; i++)
		len += (size_t)snprintf(out + len, outsz - len, "%s%s:%s",
		    i > 0 ? ";" : "", e->e[i].code, e->e[i].field);
}

/* Validate doc (not stolen) and compare the errors, as a set, with want
 * ("code:field;code:field", or "" for valid). */
static void
expect_doc(const json_t *doc, const char *want, struct errors *errs)
{
	char		 got[2048], wantbuf[1024], *tok, *save;
	size_t		 nwant = 0, i;
	int		 rc;

	errors_init(errs);
	rc = export_validate(doc, errs);
	describe(errs, got, sizeof(got));
	cr_assert_eq(rc, want[0] == '\0' ? 0 : -1, "rc %d, errors [%s], "
	    "want [%s]", rc, got, want);
	snprintf(wantbuf, sizeof(wantbuf), "%s", want);
	for (tok = strtok_r(wantbuf, ";", &save); tok != NULL;
	    tok = strtok_r(NULL, ";", &save)) {
		char	one[256];

		nwant++;
		for (i = 0; i < errs->n; i++) {
			snprintf(one, sizeof(one), "%s:%s", errs->e[i].code,
			    errs->e[i].field);
			if (strcmp(one, tok) == 0)
				break;
		}
		cr_assert_lt(i, errs->n, "missing %s: errors [%s], want [%s]",
		    tok, got, want);
	}
	cr_assert_eq(errs->n, nwant, "errors [%s], want [%s]", got, want);
	for (i = 0; i < errs->n; i++)
		cr_assert_eq(errs->e[i].status, 422, "status of %s",
		    errs->e[i].field);
}

static void
expect(const char *s, const char *want)
{
	struct errors	 errs;
	json_t		*doc = parse(s);

	expect_doc(doc, want, &errs);
	json_decref(doc);
}

/* Validate and return the message of the only error. */
static void
expect_message(const char *s, const char *field, const char *msg)
{
	struct errors	 errs;
	json_t		*doc = parse(s);

	errors_init(&errs);
	cr_assert_eq(export_validate(doc, &errs), -1);
	cr_assert_eq(errs.n, 1, "%zu errors", errs.n);
	cr_assert_str_eq(errs.e[0].field, field);
	cr_assert_str_eq(errs.e[0].message, msg);
	json_decref(doc);
}

#define HTTP	"\"name\":\"n\",\"adaptorType\":\"HTTPExport\"," \
		"\"_connectionId\":\"" OID "\""
#define NS	"\"name\":\"n\",\"adaptorType\":\"NetSuiteExport\"," \
		"\"_connectionId\":\"" OID "\""
#define WH	"\"name\":\"n\",\"adaptorType\":\"WebhookExport\"," \
		"\"type\":\"webhook\""
/* the smallest webhook block: verification by token */
#define WHB	"\"webhook\":{\"verify\":\"token\"}"

/* ---- valid documents ---- */

Test(validate, valid_minimal)
{
	expect("{\"name\":\"n\",\"adaptorType\":\"WebhookExport\","
	    "\"type\":\"webhook\",\"webhook\":{\"verify\":\"token\"}}", "");
	expect("{\"name\":\"n\",\"adaptorType\":\"WebhookExport\","
	    "\"type\":\"webhook\",\"webhook\":{\"provider\":\"github\"}}",
	    "");
	expect("{\"name\":\"n\",\"adaptorType\":\"SimpleExport\","
	    "\"type\":\"simple\",\"simple\":{}}", "");
	expect("{" HTTP "}", "");
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"" OID2 "\"}", "");
}

Test(validate, valid_plain_adaptors)
{
	expect("{" NS "}", "");
	expect("{\"name\":\"n\",\"adaptorType\":\"AS2Export\","
	    "\"_connectionId\":\"" OID "\"}", "");
}

Test(validate, valid_with_type_blocks)
{
	expect("{" NS ",\"type\":\"delta\",\"delta\":{\"dateField\":"
	    "\"lastModifiedDate\"}}", "");
	expect("{" HTTP ",\"type\":\"delta\",\"delta\":{}}", "");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":1}}", "");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":100}}", "");
	expect("{" NS ",\"type\":\"once\",\"once\":{\"booleanField\":"
	    "\"exported\"}}", "");
	expect("{" NS ",\"type\":\"tranlinedelta\"}", "");
	expect("{" NS ",\"type\":\"distributed\",\"distributed\":{}}", "");
	expect("{" NS ",\"type\":\"stream\"}", "");
	/* a SimpleExport may name a connection */
	expect("{\"name\":\"n\",\"adaptorType\":\"SimpleExport\",\"type\":"
	    "\"simple\",\"simple\":{},\"_connectionId\":\"" OID "\"}", "");
	/* unknown fields are kept and not validated */
	expect("{" HTTP ",\"whatever\":{\"x\":[1,null]},\"_integrationId\":"
	    "\"" OID "\",\"isLookup\":true,\"pageSize\":20}", "");
	/* secrets as strings, including the mask */
	expect("{" WH ",\"webhook\":{\"verify\":\"hmac\",\"algorithm\":"
	    "\"sha256\",\"encoding\":\"hex\",\"header\":\"X-Sig\","
	    "\"key\":\"******\",\"token\":\"t\",\"password\":\"p\"}}", "");
}

/* ---- name ---- */

Test(validate, name_missing)
{
	expect("{\"adaptorType\":\"HTTPExport\",\"_connectionId\":\"" OID
	    "\"}", "missing_required_field:name");
}

Test(validate, name_empty)
{
	expect("{\"name\":\"\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"" OID "\"}", "invalid_field:name");
}

Test(validate, name_not_string)
{
	expect("{\"name\":5,\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"" OID "\"}", "invalid_field:name");
	expect("{\"name\":[\"n\"],\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"" OID "\"}", "invalid_field:name");
	expect("{\"name\":{},\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"" OID "\"}", "invalid_field:name");
	expect("{\"name\":true,\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"" OID "\"}", "invalid_field:name");
}

/* A valid HTTP export named with n copies of unit. */
static json_t *
named(const char *unit, size_t n)
{
	json_t	*doc = parse("{\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"" OID "\"}");
	size_t	 ul = strlen(unit), i;
	char	*s = malloc(ul * n + 1);

	cr_assert_not_null(s);
	for (i = 0; i < n; i++)
		memcpy(s + i * ul, unit, ul);
	s[ul * n] = '\0';
	cr_assert_eq(json_object_set_new(doc, "name", json_string(s)), 0);
	free(s);
	return doc;
}

static void
expect_named(const char *unit, size_t n, const char *want)
{
	struct errors	 errs;
	json_t		*doc = named(unit, n);

	expect_doc(doc, want, &errs);
	json_decref(doc);
}

Test(validate, name_length)
{
	expect_named("a", 1, "");
	expect_named("a", 255, "");
	expect_named("a", 256, "invalid_field:name");
	expect_named("a", 1000, "invalid_field:name");
	/* characters, not bytes */
	expect_named("\xc3\xa9", 255, "");		/* é: 510 bytes */
	expect_named("\xe2\x82\xac", 255, "");		/* €: 765 bytes */
	expect_named("\xf0\x9f\x98\x80", 255, "");	/* 😀: 1020 bytes */
	expect_named("\xc3\xa9", 256, "invalid_field:name");
	expect_named("\xf0\x9f\x98\x80", 256, "invalid_field:name");
}

Test(validate, name_messages)
{
	expect_message("{\"adaptorType\":\"HTTPExport\",\"_connectionId\":\""
	    OID "\"}", "name", "name is required");
}

/* ---- adaptorType ---- */

Test(validate, adaptor_bad)
{
	expect("{\"name\":\"n\",\"adaptorType\":\"FooExport\"}",
	    "invalid_field:adaptorType");
	/* case-sensitive; rules of an adaptor wait for a valid one, but a
	 * malformed _connectionId is malformed on any adaptor */
	expect("{\"name\":\"n\",\"adaptorType\":\"httpexport\","
	    "\"_connectionId\":\"bad\"}",
	    "invalid_field:adaptorType;invalid_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"httpexport\"}",
	    "invalid_field:adaptorType");
	expect("{\"name\":\"n\",\"adaptorType\":\"\"}",
	    "invalid_field:adaptorType");
	expect("{\"name\":\"n\",\"adaptorType\":5}",
	    "invalid_field:adaptorType");
	expect_message("{\"name\":\"n\",\"adaptorType\":\"FooExport\"}",
	    "adaptorType", "Invalid adaptorType");
}

Test(validate, adaptor_missing)
{
	expect("{\"name\":\"n\",\"_connectionId\":\"" OID "\"}",
	    "missing_required_field:adaptorType");
	expect("{\"name\":\"n\",\"type\":\"webhook\",\"webhook\":{}}",
	    "missing_required_field:adaptorType");
	expect_message("{\"name\":\"n\"}", "adaptorType",
	    "adaptorType is required");
}

/* ---- _connectionId ---- */

Test(validate, connection_missing)
{
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\"}",
	    "missing_required_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"NetSuiteExport\"}",
	    "missing_required_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"AS2Export\"}",
	    "missing_required_field:_connectionId");
}

Test(validate, connection_malformed)
{
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"abc\"}", "invalid_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"5a0b1c2d3e4f5a6b7c8d9e0\"}",
	    "invalid_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"5a0b1c2d3e4f5a6b7c8d9e0f0\"}",
	    "invalid_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"5a0b1c2d3e4f5a6b7c8d9e0g\"}",
	    "invalid_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":\"\"}", "invalid_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"HTTPExport\","
	    "\"_connectionId\":12345}", "invalid_field:_connectionId");
	expect("{\"name\":\"n\",\"adaptorType\":\"SimpleExport\","
	    "\"type\":\"simple\",\"simple\":{},\"_connectionId\":\"nope\"}",
	    "invalid_field:_connectionId");
}

Test(validate, connection_on_webhook)
{
	expect("{" WH "," WHB ",\"_connectionId\":\"" OID "\"}",
	    "invalid_field:_connectionId");
	expect("{" WH "," WHB ",\"_connectionId\":\"junk\"}",
	    "invalid_field:_connectionId");
	expect_message("{" WH "," WHB ",\"_connectionId\":\"" OID
	    "\"}", "_connectionId",
	    "_connectionId is not allowed on a WebhookExport");
}

/* ---- type ---- */

Test(validate, type_bad)
{
	expect("{" HTTP ",\"type\":\"full\"}", "invalid_field:type");
	expect("{" HTTP ",\"type\":\"Delta\"}", "invalid_field:type");
	expect("{" HTTP ",\"type\":\"\"}", "invalid_field:type");
	expect("{" HTTP ",\"type\":1}", "invalid_field:type");
	/* one error for the field, even where two rules apply */
	expect("{\"name\":\"n\",\"adaptorType\":\"WebhookExport\","
	    "\"type\":\"full\"," WHB "}", "invalid_field:type");
}

Test(validate, webhook_export_type)
{
	expect("{\"name\":\"n\",\"adaptorType\":\"WebhookExport\","
	    "\"type\":\"delta\",\"delta\":{\"dateField\":\"d\"}," WHB "}",
	    "invalid_field:type");
	expect_message("{\"name\":\"n\",\"adaptorType\":\"WebhookExport\","
	    "\"type\":\"delta\",\"delta\":{\"dateField\":\"d\"}," WHB "}", "type",
	    "type must be webhook on a WebhookExport");
	expect("{\"name\":\"n\",\"adaptorType\":\"WebhookExport\","
	    WHB "}", "missing_required_field:type");
	/* type webhook / simple need their adaptor */
	expect("{" HTTP ",\"type\":\"webhook\"," WHB "}",
	    "invalid_field:type");
	expect("{\"name\":\"n\",\"adaptorType\":\"SimpleExport\","
	    "\"type\":\"test\",\"test\":{\"limit\":1}}", "invalid_field:type");
	expect("{\"name\":\"n\",\"adaptorType\":\"SimpleExport\","
	    "\"simple\":{}}", "missing_required_field:type");
}

Test(validate, webhook_block)
{
	expect("{" WH "}", "missing_required_field:webhook");
	expect("{" WH ",\"webhook\":{}}",
	    "missing_required_field:webhook.verify");
	expect("{" WH ",\"webhook\":[]}", "invalid_field:webhook");
	expect("{\"name\":\"n\",\"adaptorType\":\"SimpleExport\","
	    "\"type\":\"simple\"}", "missing_required_field:simple");
	expect("{\"name\":\"n\",\"adaptorType\":\"SimpleExport\","
	    "\"type\":\"simple\",\"simple\":\"x\"}", "invalid_field:simple");
}

/* ---- delta ---- */

Test(validate, delta_date_field)
{
	expect("{" NS ",\"type\":\"delta\",\"delta\":{}}",
	    "missing_required_field:delta.dateField");
	expect("{" NS ",\"type\":\"delta\",\"delta\":{\"dateField\":\"\"}}",
	    "invalid_field:delta.dateField");
	expect("{" NS ",\"type\":\"delta\",\"delta\":{\"dateField\":5}}",
	    "invalid_field:delta.dateField");
}

Test(validate, delta_date_field_on_http)
{
	expect("{" HTTP ",\"type\":\"delta\",\"delta\":{\"dateField\":"
	    "\"updated\"}}", "invalid_field:delta.dateField");
	/* invalid on HTTP whatever the type */
	expect("{" HTTP ",\"delta\":{\"dateField\":\"updated\"}}",
	    "invalid_field:delta.dateField");
}

Test(validate, parent_of_wrong_kind_reported_once)
{
	expect("{" NS ",\"type\":\"delta\",\"delta\":\"x\"}",
	    "invalid_field:delta");
	expect("{" NS ",\"type\":\"delta\",\"delta\":[{\"dateField\":\"d\"}]}",
	    "invalid_field:delta");
	expect("{" HTTP ",\"type\":\"test\",\"test\":5}",
	    "invalid_field:test");
	expect("{" NS ",\"type\":\"once\",\"once\":true}",
	    "invalid_field:once");
	expect("{" WH ",\"webhook\":\"x\"}", "invalid_field:webhook");
	expect("{" NS ",\"type\":\"distributed\",\"distributed\":\"x\"}",
	    "invalid_field:distributed");
	expect("{" HTTP ",\"type\":\"delta\",\"delta\":\"x\"}",
	    "invalid_field:delta");
	/* deeper: only the first non-object ancestor is reported */
	expect("{" HTTP ",\"hooks\":{\"preSavePage\":\"x\"}}",
	    "invalid_field:hooks.preSavePage");
}

/* ---- test ---- */

Test(validate, test_limit)
{
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":0}}",
	    "invalid_field:test.limit");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":101}}",
	    "invalid_field:test.limit");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":-1}}",
	    "invalid_field:test.limit");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":"
	    "4294967297}}", "invalid_field:test.limit");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":\"5\"}}",
	    "invalid_field:test.limit");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":5.0}}",
	    "invalid_field:test.limit");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{}}",
	    "missing_required_field:test.limit");
	expect("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":50}}", "");
}

Test(validate, test_limit_messages)
{
	expect_message("{" HTTP ",\"type\":\"test\",\"test\":{\"limit\":0}}",
	    "test.limit", "test.limit must be an integer from 1 to 100");
	expect_message("{" HTTP ",\"type\":\"test\",\"test\":{}}",
	    "test.limit", "test.limit is required");
}

/* ---- once ---- */

Test(validate, once_boolean_field)
{
	expect("{" NS ",\"type\":\"once\",\"once\":{}}",
	    "missing_required_field:once.booleanField");
	expect("{" NS ",\"type\":\"once\",\"once\":{\"booleanField\":\"\"}}",
	    "invalid_field:once.booleanField");
	expect("{" NS ",\"type\":\"once\",\"once\":{\"booleanField\":true}}",
	    "invalid_field:once.booleanField");
}

/* ---- other known fields ---- */

Test(validate, known_optional_fields)
{
	expect("{" HTTP ",\"_integrationId\":\"x\"}",
	    "invalid_field:_integrationId");
	expect("{" HTTP ",\"pageSize\":0}", "invalid_field:pageSize");
	expect("{" HTTP ",\"pageSize\":\"10\"}", "invalid_field:pageSize");
	expect("{" HTTP ",\"isLookup\":\"yes\"}", "invalid_field:isLookup");
	expect("{" HTTP ",\"oneToMany\":1}", "invalid_field:oneToMany");
	expect("{" HTTP ",\"hooks\":[]}", "invalid_field:hooks");
	expect("{" HTTP ",\"description\":5}", "invalid_field:description");
	expect("{" HTTP ",\"description\":\"\"}", "");
}

Test(validate, secrets_must_be_strings)
{
	expect("{" WH ",\"webhook\":{\"verify\":\"token\",\"key\":5}}",
	    "invalid_field:webhook.key");
	expect("{" WH ",\"webhook\":{\"verify\":\"token\",\"token\":{}}}",
	    "invalid_field:webhook.token");
	expect("{" WH ",\"webhook\":{\"verify\":\"token\",\"password\":"
	    "true}}",
	    "invalid_field:webhook.password");
	expect("{" NS ",\"type\":\"distributed\",\"distributed\":"
	    "{\"bearerToken\":1}}", "invalid_field:distributed.bearerToken");
}

/* ---- several errors at once ---- */

Test(validate, multiple_errors)
{
	expect("{\"name\":\"\",\"adaptorType\":\"NetSuiteExport\","
	    "\"_connectionId\":\"nope\",\"type\":\"test\",\"test\":"
	    "{\"limit\":0},\"isLookup\":\"yes\"}",
	    "invalid_field:name;invalid_field:_connectionId;"
	    "invalid_field:isLookup;invalid_field:test.limit");
	expect("{\"adaptorType\":\"HTTPExport\",\"type\":\"once\","
	    "\"once\":{},\"delta\":{\"dateField\":\"d\"}}",
	    "missing_required_field:name;"
	    "missing_required_field:_connectionId;"
	    "invalid_field:delta.dateField;"
	    "missing_required_field:once.booleanField");
	expect("{\"name\":7,\"adaptorType\":\"WebhookExport\",\"type\":"
	    "\"webhook\",\"_connectionId\":\"" OID "\",\"webhook\":"
	    "{\"verify\":\"token\",\"key\":[],\"password\":0}}",
	    "invalid_field:name;invalid_field:_connectionId;"
	    "invalid_field:webhook.key;invalid_field:webhook.password");
}

Test(validate, errors_appended)
{
	struct errors	 errs;
	json_t		*doc;

	errors_init(&errs);
	errors_add(&errs, 409, "conflict", NULL, "earlier");
	doc = parse("{" HTTP "}");
	cr_assert_eq(export_validate(doc, &errs), 0);
	cr_assert_eq(errs.n, 1);
	json_decref(doc);

	doc = parse("{\"adaptorType\":\"HTTPExport\",\"_connectionId\":\""
	    OID "\"}");
	cr_assert_eq(export_validate(doc, &errs), -1);
	cr_assert_eq(errs.n, 2);
	cr_assert_str_eq(errs.e[0].code, "conflict");
	cr_assert_str_eq(errs.e[1].code, "missing_required_field");
	cr_assert_str_eq(errs.e[1].field, "name");
	json_decref(doc);
}
