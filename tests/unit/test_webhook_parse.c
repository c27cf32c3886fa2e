/* Unit tests for webhook/parse: every media type, pathToRecords,
 * includeParentData, caps, and hostile input. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <criterion/criterion.h>

#include "util/json.h"
#include "webhook/parse.h"

static const char	*ct_header(void *, const char *);
static void		 setup(void);
static int		 parse(const char *, const char *, const char *,
			    size_t, json_t **, char *);
static void		 expect(const json_t *, const char *);

TestSuite(webhook_parse, .init = setup);

static void
setup(void)
{
	webhook_parse_init();
}

/* The only header these tests send is Content-Type, held in arg. */
static const char *
ct_header(void *arg, const char *name)
{
	return strcasecmp(name, "Content-Type") == 0 ? arg : NULL;
}

/* Parse body under the webhook block (JSON text) and Content-Type ct. */
static int
parse(const char *webhook, const char *ct, const char *data, size_t len,
    json_t **records, char *why)
{
	struct webhook_request	 r;
	json_error_t		 err;
	json_t			*w;
	int			 rc;

	memset(&r, 0, sizeof r);
	r.method = "POST";
	r.body = data;
	r.bodylen = len;
	r.header = ct_header;
	r.arg = (void *)ct;
	w = json_loads(webhook, 0, &err);
	cr_assert_not_null(w, "bad test JSON: %s", err.text);
	rc = webhook_parse(w, &r, NULL, records, why, WEBHOOK_WHYLEN);
	json_decref(w);
	if (rc != 0)
		cr_assert_null(*records);
	else
		cr_assert(json_is_array(*records));
	return rc;
}

/* v renders (compact, keys in order) exactly as want. */
static void
expect(const json_t *v, const char *want)
{
	char	*s;

	s = json_render_new(v, NULL);
	cr_assert_str_eq(s, want);
	free(s);
}

#define P(w, ct, s, rec) parse(w, ct, s, strlen(s), rec, why)

Test(webhook_parse, media_selection)
{
	json_t	*w = json_pack("{s:s}", "requestMediaType", "csv");

	cr_assert_eq(webhook_parse_media(NULL, NULL), WEBHOOK_MEDIA_JSON);
	cr_assert_eq(webhook_parse_media(NULL,
	    "application/json; charset=utf-8"), WEBHOOK_MEDIA_JSON);
	cr_assert_eq(webhook_parse_media(NULL, "application/vnd.api+json"),
	    WEBHOOK_MEDIA_JSON);
	cr_assert_eq(webhook_parse_media(NULL, "Application/XML"),
	    WEBHOOK_MEDIA_XML);
	cr_assert_eq(webhook_parse_media(NULL, "text/xml;charset=UTF-8"),
	    WEBHOOK_MEDIA_XML);
	cr_assert_eq(webhook_parse_media(NULL, "application/soap+xml"),
	    WEBHOOK_MEDIA_XML);
	cr_assert_eq(webhook_parse_media(NULL,
	    "application/x-www-form-urlencoded"), WEBHOOK_MEDIA_URLENCODED);
	cr_assert_eq(webhook_parse_media(NULL, "text/csv"), WEBHOOK_MEDIA_CSV);
	cr_assert_eq(webhook_parse_media(NULL, "text/plain"),
	    WEBHOOK_MEDIA_PLAINTEXT);
	cr_assert_eq(webhook_parse_media(NULL, "application/octet-stream"),
	    WEBHOOK_MEDIA_UNSUPPORTED);
	cr_assert_eq(webhook_parse_media(NULL, "multipart/form-data; b=x"),
	    WEBHOOK_MEDIA_UNSUPPORTED);
	/* requestMediaType wins over the Content-Type */
	cr_assert_eq(webhook_parse_media(w, "application/json"),
	    WEBHOOK_MEDIA_CSV);
	json_decref(w);
}

Test(webhook_parse, json_object_is_one_record)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(P("{}", "application/json", "{\"a\":1,\"b\":[1,2]}",
	    &rec), 0);
	expect(rec, "[{\"a\":1,\"b\":[1,2]}]");
	json_decref(rec);
	/* a byte order mark is allowed */
	cr_assert_eq(P("{}", "application/json", "\xef\xbb\xbf{\"a\":1}",
	    &rec), 0);
	expect(rec, "[{\"a\":1}]");
	json_decref(rec);
}

Test(webhook_parse, json_array_elements_are_records)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(P("{}", NULL, "[{\"a\":1},{\"a\":2},3,\"x\"]", &rec), 0);
	expect(rec, "[{\"a\":1},{\"a\":2},{\"data\":3},{\"data\":\"x\"}]");
	json_decref(rec);
	/* pathToRecords does not apply to an array payload */
	cr_assert_eq(P("{\"pathToRecords\":\"x\"}", NULL, "[{\"a\":1}]", &rec),
	    0);
	expect(rec, "[{\"a\":1}]");
	json_decref(rec);
}

Test(webhook_parse, empty_body_has_no_records)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(parse("{}", "application/json", NULL, 0, &rec, why), 0);
	expect(rec, "[]");
	json_decref(rec);
	cr_assert_eq(P("{\"pathToRecords\":\"a\"}", "application/xml", " \r\n",
	    &rec), 0);
	expect(rec, "[]");
	json_decref(rec);
}

Test(webhook_parse, json_malformed)
{
	char	 why[WEBHOOK_WHYLEN], deep[200];
	json_t	*rec;

	cr_assert_eq(P("{}", "application/json", "{\"a\":", &rec), 400);
	cr_assert(strstr(why, "invalid JSON") != NULL, "%s", why);
	cr_assert_eq(P("{}", "application/json", "{\"a\":1,\"a\":2}", &rec),
	    400);
	cr_assert_eq(P("{}", "application/json", "\"just a string\"", &rec),
	    400);
	cr_assert_eq(P("{}", "application/json", "{\"a\":\"\xff\"}", &rec),
	    400);
	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	cr_assert_eq(parse("{}", "application/json", deep, sizeof deep, &rec,
	    why), 400);
	cr_assert(strstr(why, "too deep") != NULL, "%s", why);
}

Test(webhook_parse, path_to_records)
{
	char		 why[WEBHOOK_WHYLEN];
	json_t		*rec;
	const char	*order = "{\"id\":7,\"customer\":{\"name\":\"Ann\"},"
			    "\"data\":{\"items\":[{\"sku\":\"a\"},{\"sku\":\"b\","
			    "\"id\":9}]}}";

	cr_assert_eq(P("{\"pathToRecords\":\"data.items\"}", NULL, order,
	    &rec), 0);
	expect(rec, "[{\"sku\":\"a\"},{\"sku\":\"b\",\"id\":9}]");
	json_decref(rec);
	/* an object is one record */
	cr_assert_eq(P("{\"pathToRecords\":\"customer\"}", NULL, order, &rec),
	    0);
	expect(rec, "[{\"name\":\"Ann\"}]");
	json_decref(rec);
	/* array index in the path */
	cr_assert_eq(P("{\"pathToRecords\":\"data.items.1\"}", NULL, order,
	    &rec), 0);
	expect(rec, "[{\"sku\":\"b\",\"id\":9}]");
	json_decref(rec);
	/* missing, or pointing at a scalar */
	cr_assert_eq(P("{\"pathToRecords\":\"data.nope\"}", NULL, order, &rec),
	    400);
	cr_assert(strstr(why, "not found") != NULL, "%s", why);
	cr_assert_eq(P("{\"pathToRecords\":\"id\"}", NULL, order, &rec), 400);
	/* an empty array is no records, not an error */
	cr_assert_eq(P("{\"pathToRecords\":\"x\"}", NULL, "{\"x\":[]}", &rec),
	    0);
	expect(rec, "[]");
	json_decref(rec);
}

Test(webhook_parse, include_parent_data)
{
	char		 why[WEBHOOK_WHYLEN];
	json_t		*rec, *doc, *w;
	const char	*order = "{\"id\":7,\"data\":{\"batch\":\"B1\","
			    "\"items\":[{\"sku\":\"a\"},{\"sku\":\"b\","
			    "\"batch\":\"own\"},5]}}";
	struct webhook_request r;

	/* the parent is the object holding the records; the record's own
	 * fields win; top-level fields beyond the parent are not copied */
	cr_assert_eq(P("{\"pathToRecords\":\"data.items\","
	    "\"includeParentData\":true}", NULL, order, &rec), 0);
	expect(rec, "[{\"sku\":\"a\",\"batch\":\"B1\"},{\"sku\":\"b\","
	    "\"batch\":\"own\"},{\"data\":5,\"batch\":\"B1\"}]");
	json_decref(rec);
	/* one level: the parent is the payload */
	cr_assert_eq(P("{\"pathToRecords\":\"items\",\"includeParentData\":"
	    "true}", NULL, "{\"id\":1,\"items\":[{\"n\":1},{\"n\":2}]}", &rec),
	    0);
	expect(rec, "[{\"n\":1,\"id\":1},{\"n\":2,\"id\":1}]");
	json_decref(rec);
	/* false or absent: nothing copied */
	cr_assert_eq(P("{\"pathToRecords\":\"items\",\"includeParentData\":"
	    "false}", NULL, "{\"id\":1,\"items\":[{\"n\":1}]}", &rec), 0);
	expect(rec, "[{\"n\":1}]");
	json_decref(rec);

	/* the document is left as it was */
	memset(&r, 0, sizeof r);
	r.body = "{\"id\":1,\"items\":[{\"n\":1}]}";
	r.bodylen = strlen(r.body);
	w = json_pack("{s:s,s:b}", "pathToRecords", "items",
	    "includeParentData", 1);
	cr_assert_eq(webhook_parse(w, &r, &doc, &rec, why, sizeof why), 0);
	expect(doc, "{\"id\":1,\"items\":[{\"n\":1}]}");
	expect(rec, "[{\"n\":1,\"id\":1}]");
	json_decref(doc);
	json_decref(rec);
	json_decref(w);
}

Test(webhook_parse, xml_elements_attributes_arrays)
{
	char		 why[WEBHOOK_WHYLEN];
	json_t		*rec;
	const char	*xml =
	    "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<orders source=\"shop\">\n"
	    "  <order id=\"1\"><sku>a</sku><qty>2</qty></order>\n"
	    "  <order id=\"2\"><sku>b &amp; c</sku><note/></order>\n"
	    "  <!-- comment -->\n"
	    "  <total><![CDATA[<5>]]></total>\n"
	    "</orders>";

	cr_assert_eq(P("{}", "application/xml", xml, &rec), 0, "%s", why);
	expect(rec, "[{\"orders\":{\"@source\":\"shop\",\"order\":["
	    "{\"@id\":\"1\",\"sku\":\"a\",\"qty\":\"2\"},"
	    "{\"@id\":\"2\",\"sku\":\"b & c\",\"note\":\"\"}],"
	    "\"total\":\"<5>\"}}]");
	json_decref(rec);
	cr_assert_eq(P("{\"pathToRecords\":\"orders.order\","
	    "\"includeParentData\":true}", "text/xml", xml, &rec), 0);
	expect(rec, "[{\"@id\":\"1\",\"sku\":\"a\",\"qty\":\"2\","
	    "\"@source\":\"shop\",\"total\":\"<5>\"},"
	    "{\"@id\":\"2\",\"sku\":\"b & c\",\"note\":\"\","
	    "\"@source\":\"shop\",\"total\":\"<5>\"}]");
	json_decref(rec);
}

Test(webhook_parse, xml_text_namespaces_single)
{
	char		 why[WEBHOOK_WHYLEN];
	json_t		*rec;

	/* mixed content keeps its text under #text; prefixes are kept;
	 * xmlns declarations are not attributes */
	cr_assert_eq(P("{\"requestMediaType\":\"xml\"}", "text/plain",
	    "<s:Env xmlns:s=\"urn:x\"><s:Body a=\"1\">hi<b>x</b></s:Body>"
	    "</s:Env>", &rec), 0, "%s", why);
	expect(rec, "[{\"s:Env\":{\"s:Body\":{\"@a\":\"1\",\"b\":\"x\","
	    "\"#text\":\"hi\"}}}]");
	json_decref(rec);
	/* one repeated-name element is an object: still one record */
	cr_assert_eq(P("{\"pathToRecords\":\"r.item\"}", "application/xml",
	    "<r><item><n>1</n></item></r>", &rec), 0);
	expect(rec, "[{\"n\":\"1\"}]");
	json_decref(rec);
	/* a leaf's text is kept exactly */
	cr_assert_eq(P("{}", "application/xml", "<a> x </a>", &rec), 0);
	expect(rec, "[{\"a\":\" x \"}]");
	json_decref(rec);
}

Test(webhook_parse, xml_malformed)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(P("{}", "application/xml", "<a><b></a>", &rec), 400);
	cr_assert(strstr(why, "invalid XML") != NULL, "%s", why);
	cr_assert_eq(P("{}", "application/xml", "not xml", &rec), 400);
	cr_assert_eq(P("{}", "application/xml", "<a>&undefined;</a>", &rec),
	    400);
	cr_assert_eq(P("{}", "application/xml", "<a/><b/>", &rec), 400);
}

Test(webhook_parse, xml_billion_laughs_and_xxe)
{
	char		 why[WEBHOOK_WHYLEN];
	json_t		*rec;
	clock_t		 t0;
	const char	*lol =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE lolz [\n"
	    " <!ENTITY lol \"lol\">\n"
	    " <!ENTITY lol1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">\n"
	    " <!ENTITY lol2 \"&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;\">\n"
	    " <!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">\n"
	    " <!ENTITY lol4 \"&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;\">\n"
	    " <!ENTITY lol5 \"&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;\">\n"
	    " <!ENTITY lol6 \"&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;\">\n"
	    " <!ENTITY lol7 \"&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;\">\n"
	    " <!ENTITY lol8 \"&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;\">\n"
	    " <!ENTITY lol9 \"&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;\">\n"
	    "]>\n"
	    "<lolz a=\"&lol9;\">&lol9;</lolz>";
	const char	*xxe =
	    "<?xml version=\"1.0\"?>\n"
	    "<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]>\n"
	    "<r>&x;</r>";

	t0 = clock();
	cr_assert_eq(P("{}", "application/xml", lol, &rec), 400);
	cr_assert(strstr(why, "DTD") != NULL, "%s", why);
	cr_assert_eq(P("{}", "application/xml", xxe, &rec), 400);
	cr_assert(strstr(why, "DTD") != NULL, "%s", why);
	cr_assert_lt((double)(clock() - t0) / CLOCKS_PER_SEC, 1.0);
}

Test(webhook_parse, xml_dtd_in_utf16_refused)
{
	char		 why[WEBHOOK_WHYLEN], u16[1024];
	const char	*src = "<?xml version=\"1.0\" encoding=\"UTF-16\"?>"
			    "<!DOCTYPE r [<!ENTITY a \"aaaaaaaaaa\">"
			    "<!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>"
			    "<r>&b;</r>";
	json_t		*rec;
	size_t		 i, n = 2;

	/* the byte scan for "<!DOCTYPE" cannot see UTF-16; the tree check
	 * after parsing still refuses the DTD */
	u16[0] = (char)0xff;
	u16[1] = (char)0xfe;
	for (i = 0; src[i] != '\0'; i++) {
		u16[n++] = src[i];
		u16[n++] = '\0';
	}
	cr_assert_eq(parse("{}", "application/xml", u16, n, &rec, why), 400);
	cr_assert(strstr(why, "DTD") != NULL, "%s", why);
}

Test(webhook_parse, xml_too_deep)
{
	char	 why[WEBHOOK_WHYLEN], *xml, *p;
	json_t	*rec;
	int	 i;

	p = xml = malloc(100 * 7 + 1);
	for (i = 0; i < 100; i++)
		p += sprintf(p, "<a>");
	for (i = 0; i < 100; i++)
		p += sprintf(p, "</a>");
	cr_assert_eq(P("{}", "application/xml", xml, &rec), 400);
	cr_assert(strstr(why, "too deep") != NULL, "%s", why);
	free(xml);
}

Test(webhook_parse, csv_rfc4180)
{
	char		 why[WEBHOOK_WHYLEN];
	json_t		*rec;
	const char	*csv = "id,name,note\r\n"
			    "1,Ann,\"says \"\"hi\"\", twice\"\r\n"
			    "\r\n"
			    "2,\"Bob\",\"two\nlines\"\r\n"
			    "3,,\r\n";

	cr_assert_eq(P("{}", "text/csv", csv, &rec), 0, "%s", why);
	expect(rec, "[{\"id\":\"1\",\"name\":\"Ann\",\"note\":"
	    "\"says \\\"hi\\\", twice\"},"
	    "{\"id\":\"2\",\"name\":\"Bob\",\"note\":\"two\\nlines\"},"
	    "{\"id\":\"3\",\"name\":\"\",\"note\":\"\"}]");
	json_decref(rec);
	/* LF line ends, no final newline, a BOM */
	cr_assert_eq(P("{\"requestMediaType\":\"csv\"}", "application/json",
	    "\xef\xbb\xbf" "a,b\n1,2\n3,4", &rec), 0);
	expect(rec, "[{\"a\":\"1\",\"b\":\"2\"},{\"a\":\"3\",\"b\":\"4\"}]");
	json_decref(rec);
	/* header only */
	cr_assert_eq(P("{}", "text/csv", "a,b\n", &rec), 0);
	expect(rec, "[]");
	json_decref(rec);
}

Test(webhook_parse, csv_malformed)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(P("{}", "text/csv", "a,b\n1,2,3\n", &rec), 400);
	cr_assert(strstr(why, "line 2") != NULL, "%s", why);
	cr_assert_eq(P("{}", "text/csv", "a,b\n1\n", &rec), 400);
	cr_assert_eq(P("{}", "text/csv", "a,b\n\"1,2\n", &rec), 400);
	cr_assert(strstr(why, "unterminated") != NULL, "%s", why);
	cr_assert_eq(P("{}", "text/csv", "a,b\n\"1\"x,2\n", &rec), 400);
	cr_assert_eq(P("{}", "text/csv", "a,a\n1,2\n", &rec), 400);
	cr_assert_eq(P("{}", "text/csv", "a,b\n\xff,2\n", &rec), 400);
}

Test(webhook_parse, csv_too_many_records)
{
	char	 why[WEBHOOK_WHYLEN], *csv, *p;
	json_t	*rec;
	int	 i;

	p = csv = malloc(2 + 2 * (WEBHOOK_MAX_RECORDS + 1) + 1);
	p += sprintf(p, "a\n");
	for (i = 0; i < WEBHOOK_MAX_RECORDS + 1; i++)
		p += sprintf(p, "x\n");
	cr_assert_eq(P("{}", "text/csv", csv, &rec), 413);
	/* exactly the cap is fine */
	p[-2] = '\0';
	cr_assert_eq(P("{}", "text/csv", csv, &rec), 0);
	cr_assert_eq(json_array_size(rec), WEBHOOK_MAX_RECORDS);
	json_decref(rec);
	free(csv);
}

Test(webhook_parse, json_too_many_records)
{
	char	 why[WEBHOOK_WHYLEN], *s, *p;
	json_t	*rec;
	int	 i;

	p = s = malloc(3 * (WEBHOOK_MAX_RECORDS + 1) + 8);
	*p++ = '[';
	for (i = 0; i < WEBHOOK_MAX_RECORDS + 1; i++)
		p += sprintf(p, "{},");
	p[-1] = ']';
	*p = '\0';
	cr_assert_eq(P("{}", "application/json", s, &rec), 413);
	free(s);
}

Test(webhook_parse, urlencoded)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(P("{}", "application/x-www-form-urlencoded",
	    "a=1+2&b=%C3%A9%26x&tag=x&tag=y&&flag&hub.mode=subscribe&e=",
	    &rec), 0, "%s", why);
	expect(rec, "[{\"a\":\"1 2\",\"b\":\"\xc3\xa9&x\",\"tag\":[\"x\",\"y\"],"
	    "\"flag\":\"\",\"hub.mode\":\"subscribe\",\"e\":\"\"}]");
	json_decref(rec);
	cr_assert_eq(P("{}", "application/x-www-form-urlencoded", "a=%zz",
	    &rec), 400);
	cr_assert_eq(P("{}", "application/x-www-form-urlencoded", "a=%4",
	    &rec), 400);
	cr_assert_eq(P("{}", "application/x-www-form-urlencoded", "a=%ff",
	    &rec), 400);
}

Test(webhook_parse, plaintext)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(P("{}", "text/plain; charset=utf-8", "hello\nworld",
	    &rec), 0);
	expect(rec, "[{\"data\":\"hello\\nworld\"}]");
	json_decref(rec);
	cr_assert_eq(P("{\"requestMediaType\":\"plaintext\"}",
	    "application/json", "{not json", &rec), 0);
	expect(rec, "[{\"data\":\"{not json\"}]");
	json_decref(rec);
	cr_assert_eq(P("{}", "text/plain", "\xc3\x28", &rec), 400);
}

Test(webhook_parse, unsupported_content_type)
{
	char	 why[WEBHOOK_WHYLEN];
	json_t	*rec;

	cr_assert_eq(P("{}", "application/octet-stream", "abc", &rec), 415);
	/* an unknown requestMediaType falls back to the Content-Type */
	cr_assert_eq(P("{\"requestMediaType\":\"yaml\"}", "text/plain", "abc",
	    &rec), 0);
	json_decref(rec);
}

/* Texts handed over by webhook_parse_render, joined by '|'. */
struct rendered {
	char	out[4096];
	size_t	n;
};

static void
render_keep(void *arg, char *text, size_t len)
{
	struct rendered	*r = arg;

	cr_assert_eq(strlen(text), len);
	if (r->n++ > 0)
		strcat(r->out, "|");
	strcat(r->out, text);
	free(text);
}

/* Parse body (JSON) and render its records within caps. */
static int
render(const char *webhook, const char *data, size_t records, size_t bytes,
    struct rendered *out)
{
	struct webhook_caps	 caps = { records, bytes };
	struct webhook_request	 r;
	char			 why[WEBHOOK_WHYLEN];
	json_t			*w, *doc = NULL;
	int			 rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof r);
	r.body = data;
	r.bodylen = strlen(data);
	w = json_loads(webhook, 0, NULL);
	cr_assert_not_null(w);
	cr_assert_eq(webhook_parse_body(w, &r, &doc, why, sizeof why), 0);
	rc = webhook_parse_render(w, doc, &caps, render_keep, out, why,
	    sizeof why);
	if (rc != 0)
		cr_assert(why[0] != '\0');
	json_decref(doc);
	json_decref(w);
	return rc;
}

Test(webhook_parse, render_within_caps)
{
	struct rendered	out;

	/* exactly at both caps: 3 records of 7 bytes */
	cr_assert_eq(render("{}", "[{\"a\":1},{\"a\":2},{\"a\":3}]", 3, 21,
	    &out), 0);
	cr_assert_str_eq(out.out, "{\"a\":1}|{\"a\":2}|{\"a\":3}");
	/* one record too many: refused before any is made */
	cr_assert_eq(render("{}", "[{\"a\":1},{\"a\":2},{\"a\":3}]", 2, 100,
	    &out), 413);
	cr_assert_eq(out.n, 0);
	/* one byte too many: stops at the record that passes */
	cr_assert_eq(render("{}", "[{\"a\":1},{\"a\":2},{\"a\":3}]", 3, 20,
	    &out), 413);
	cr_assert_eq(out.n, 3);
	cr_assert_eq(render("{}", "[{\"a\":1},{\"a\":2},{\"a\":3}]", 3, 13,
	    &out), 413);
	cr_assert_eq(out.n, 2);
	/* includeParentData: the copies count, checked before any record */
	cr_assert_eq(render("{\"pathToRecords\":\"i\",\"includeParentData\":"
	    "true}", "{\"p\":\"xxxxxxxx\",\"i\":[{},{},{}]}", 3, 30, &out),
	    413);
	cr_assert_eq(out.n, 0);
	cr_assert_eq(render("{\"pathToRecords\":\"i\",\"includeParentData\":"
	    "true}", "{\"p\":\"x\",\"i\":[{},{\"p\":\"own\"}]}", 3, 100, &out),
	    0);
	cr_assert_str_eq(out.out, "{\"p\":\"x\"}|{\"p\":\"own\"}");
	/* a bad pathToRecords is 400 */
	cr_assert_eq(render("{\"pathToRecords\":\"nope\"}", "{\"a\":1}", 3,
	    100, &out), 400);
}

Test(webhook_parse, count)
{
	struct webhook_caps	 caps = { 3, 1 }, two = { 2, 1 };
	char			 why[WEBHOOK_WHYLEN];
	json_t			*w, *doc;
	size_t			 n;

	doc = json_loads("{\"a\":{\"b\":[1,2,3]},\"c\":{}}", 0, NULL);
	w = json_pack("{s:s}", "pathToRecords", "a.b");
	cr_assert_eq(webhook_parse_count(w, doc, &caps, &n, why, sizeof why),
	    0);
	cr_assert_eq(n, 3);
	cr_assert_eq(webhook_parse_count(w, doc, &two, &n, why, sizeof why),
	    413);
	json_object_set_new(w, "pathToRecords", json_string("c"));
	cr_assert_eq(webhook_parse_count(w, doc, &caps, &n, why, sizeof why),
	    0);
	cr_assert_eq(n, 1);
	json_object_set_new(w, "pathToRecords", json_string("x"));
	cr_assert_eq(webhook_parse_count(w, doc, &caps, &n, why, sizeof why),
	    400);
	cr_assert_eq(webhook_parse_count(w, NULL, &caps, &n, why, sizeof why),
	    0);
	cr_assert_eq(n, 0);
	json_decref(w);
	json_decref(doc);
}

/* A body of head then body repeated n times (caller frees). */
static char *
repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t	 hl = strlen(head), ul = strlen(unit), i;
	char	*s, *p;

	p = s = malloc(hl + ul * n + strlen(tail) + 1);
	memcpy(p, head, hl);
	p += hl;
	for (i = 0; i < n; i++, p += ul)
		memcpy(p, unit, ul);
	strcpy(p, tail);
	return s;
}

Test(webhook_parse, document_memory_bounded)
{
	char	 why[WEBHOOK_WHYLEN], *s, *hdr, *row, *p;
	json_t	*rec;
	size_t	 i;

	/* JSON: 400,000 empty objects (38 MiB estimated) */
	s = repeat("[", "{},", 400000, "{}]");
	cr_assert_eq(P("{}", "application/json", s, &rec), 413);
	cr_assert(strstr(why, "memory") != NULL, "%s", why);
	free(s);
	/* XML: 200,000 elements (46 MiB estimated for libxml2) */
	s = repeat("<r>", "<a/>", 200000, "</r>");
	cr_assert_eq(P("{}", "application/xml", s, &rec), 413);
	cr_assert(strstr(why, "memory") != NULL, "%s", why);
	free(s);
	/* CSV: every row copies 10,000 long column names */
	hdr = malloc(10000 * 42 + 1);
	for (i = 0, p = hdr; i < 10000; i++)
		p += sprintf(p, "%scolumn_name_%04zu_xxxxxxxxxxxxxxxxxxxxxx",
		    i > 0 ? "," : "", i);
	strcpy(p, "\n");
	row = repeat("", ",", 9999, "\n");
	s = repeat(hdr, row, 100, "");
	free(hdr);
	free(row);
	cr_assert_eq(P("{}", "text/csv", s, &rec), 413);
	cr_assert(strstr(why, "memory") != NULL, "%s", why);
	free(s);
}

/* <r a0="" a1="" ... /> with n attributes (caller frees). */
static char *
xml_attrs(int n)
{
	char	*s, *p;
	int	 i;

	p = s = malloc(16 + 12 * (size_t)n);
	p += sprintf(p, "<r");
	for (i = 0; i < n; i++)
		p += sprintf(p, " a%d=\"\"", i);
	strcpy(p, "/>");
	return s;
}

Test(webhook_parse, xml_attributes_per_element)
{
	char	 why[WEBHOOK_WHYLEN], *s;
	json_t	*rec;

	/* libxml2 compares the attributes of an element pairwise */
	s = xml_attrs(WEBHOOK_MAX_XML_ATTRS + 1);
	cr_assert_eq(P("{}", "application/xml", s, &rec), 413);
	cr_assert(strstr(why, "attributes") != NULL, "%s", why);
	free(s);
	s = xml_attrs(WEBHOOK_MAX_XML_ATTRS);
	cr_assert_eq(P("{}", "application/xml", s, &rec), 0, "%s", why);
	cr_assert_eq(json_object_size(json_object_get(json_array_get(rec, 0),
	    "r")), WEBHOOK_MAX_XML_ATTRS);
	json_decref(rec);
	free(s);
	/* '=' inside values and text is not an attribute */
	cr_assert_eq(P("{}", "application/xml", "<r a=\"x=y=z\" b='=='>"
	    "p=q</r>", &rec), 0, "%s", why);
	expect(rec, "[{\"r\":{\"@a\":\"x=y=z\",\"@b\":\"==\",\"#text\":"
	    "\"p=q\"}}]");
	json_decref(rec);
}
