/* Unit tests for webhook/template and webhook/response: placeholders,
 * escaping, caps, success responses and subscription challenges. */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>

#include "webhook/response.h"
#include "webhook/template.h"

struct fake {
	const char	*q[4][2];
};

static const char	*fake_query(void *, const char *);
static struct webhook_request fake_request(struct fake *, const char *);
static char		*render(const char *, enum webhook_escape,
			    const char *, struct fake *, size_t);
static json_t		*load(const char *);
static const char	*header(const struct webhook_response *, const char *);

static const char *
fake_query(void *arg, const char *name)
{
	struct fake	*f = arg;
	size_t		 i;

	for (i = 0; i < 4 && f->q[i][0] != NULL; i++)
		if (strcmp(f->q[i][0], name) == 0)
			return f->q[i][1];
	return NULL;
}

static struct webhook_request
fake_request(struct fake *f, const char *method)
{
	struct webhook_request	r;

	memset(&r, 0, sizeof r);
	r.method = method;
	r.query = fake_query;
	r.arg = f;
	return r;
}

static json_t *
load(const char *s)
{
	json_error_t	 err;
	json_t		*v;

	if (s == NULL)
		return NULL;
	v = json_loads(s, JSON_ALLOW_NUL, &err);
	cr_assert_not_null(v, "bad test JSON: %s", err.text);
	return v;
}

/* Render tmpl against doc (JSON text or NULL); the caller frees. */
static char *
render(const char *tmpl, enum webhook_escape esc, const char *doc,
    struct fake *f, size_t cap)
{
	struct fake		 none = { 0 };
	struct webhook_request	 r = fake_request(f != NULL ? f : &none, "POST");
	json_t			*d = load(doc);
	char			*out;
	size_t			 len;

	out = webhook_template_render(tmpl, esc, d, &r, cap, &len);
	if (out != NULL)
		cr_assert_eq(len, strlen(out));
	json_decref(d);
	return out;
}

#define EXPECT(tmpl, esc, doc, f, want) do {				\
	char *s_ = render(tmpl, esc, doc, f, 4096);			\
	cr_assert_not_null(s_);						\
	cr_assert_str_eq(s_, want);					\
	free(s_);							\
} while (0)

static const char *
header(const struct webhook_response *resp, const char *name)
{
	size_t	i;

	for (i = 0; i < resp->nheaders; i++)
		if (strcasecmp(resp->headers[i].name, name) == 0)
			return resp->headers[i].value;
	return NULL;
}

Test(webhook_template, placeholders)
{
	const char	*doc = "{\"challenge\":\"abc\",\"a\":{\"b\":{\"c\":42}},"
			    "\"list\":[{\"id\":\"x\"},{\"id\":\"y\"}],"
			    "\"t\":true,\"r\":1.5,\"n\":null,\"o\":{\"k\":[1]}}";

	EXPECT("{{challenge}}", WEBHOOK_ESCAPE_NONE, doc, NULL, "abc");
	EXPECT("[{{ a.b.c }}]", WEBHOOK_ESCAPE_NONE, doc, NULL, "[42]");
	EXPECT("{{list.1.id}}", WEBHOOK_ESCAPE_NONE, doc, NULL, "y");
	EXPECT("{{t}} {{r}} <{{n}}>", WEBHOOK_ESCAPE_NONE, doc, NULL,
	    "true 1.5 <>");
	EXPECT("{{o}}", WEBHOOK_ESCAPE_NONE, doc, NULL, "{\"k\":[1]}");
	EXPECT("{{this.challenge}}", WEBHOOK_ESCAPE_NONE, doc, NULL, "abc");
	EXPECT("no placeholders", WEBHOOK_ESCAPE_JSON, doc, NULL,
	    "no placeholders");
	EXPECT("", WEBHOOK_ESCAPE_JSON, doc, NULL, "");
}

Test(webhook_template, missing_values_are_empty)
{
	EXPECT("{\"challenge\":\"{{challenge}}\"}", WEBHOOK_ESCAPE_JSON, "{}",
	    NULL, "{\"challenge\":\"\"}");
	EXPECT("a{{x.y.z}}b{{list.9}}c", WEBHOOK_ESCAPE_NONE,
	    "{\"list\":[]}", NULL, "abc");
	EXPECT("{{challenge}}", WEBHOOK_ESCAPE_NONE, NULL, NULL, "");
}

Test(webhook_template, query_parameters)
{
	struct fake	f = { { { "hub.challenge", "1158201444" },
			    { "challenge", "q" } } };

	/* the body first, then the query parameter of that exact name */
	EXPECT("{{hub.challenge}}", WEBHOOK_ESCAPE_NONE, NULL, &f,
	    "1158201444");
	EXPECT("{{challenge}}", WEBHOOK_ESCAPE_NONE, "{\"challenge\":\"b\"}",
	    &f, "b");
	EXPECT("{{challenge}}", WEBHOOK_ESCAPE_NONE, "{}", &f, "q");
}

Test(webhook_template, json_escaping)
{
	const char	*doc = "{\"v\":\"a\\\"b\\\\c\\nd\\u0001\\u2028\","
			    "\"o\":{\"k\":\"v\"}}";

	EXPECT("{\"x\":\"{{v}}\"}", WEBHOOK_ESCAPE_JSON, doc, NULL,
	    "{\"x\":\"a\\\"b\\\\c\\nd\\u0001\\u2028\"}");
	/* an injection attempt stays inside the string */
	EXPECT("{\"x\":\"{{v}}\"}", WEBHOOK_ESCAPE_JSON,
	    "{\"v\":\"\\\",\\\"admin\\\":true,\\\"y\\\":\\\"\"}", NULL,
	    "{\"x\":\"\\\",\\\"admin\\\":true,\\\"y\\\":\\\"\"}");
	/* objects are escaped too, unless raw */
	EXPECT("\"{{o}}\"", WEBHOOK_ESCAPE_JSON, doc, NULL,
	    "\"{\\\"k\\\":\\\"v\\\"}\"");
	EXPECT("{{{o}}}", WEBHOOK_ESCAPE_JSON, doc, NULL, "{\"k\":\"v\"}");
	EXPECT("{{&o}}", WEBHOOK_ESCAPE_JSON, doc, NULL, "{\"k\":\"v\"}");
	/* the template's own text is never escaped */
	EXPECT("\"\\n\"", WEBHOOK_ESCAPE_JSON, doc, NULL, "\"\\n\"");
}

Test(webhook_template, xml_escaping)
{
	EXPECT("<c>{{v}}</c>", WEBHOOK_ESCAPE_XML,
	    "{\"v\":\"<a href='x'>&\\\"</a>\"}", NULL,
	    "<c>&lt;a href=&apos;x&apos;&gt;&amp;&quot;&lt;/a&gt;</c>");
	EXPECT("<c>{{{v}}}</c>", WEBHOOK_ESCAPE_XML, "{\"v\":\"<b/>\"}", NULL,
	    "<c><b/></c>");
}

Test(webhook_template, header_values_cleaned)
{
	EXPECT("id={{v}}", WEBHOOK_ESCAPE_HEADER,
	    "{\"v\":\"1\\r\\nSet-Cookie: x=1\\u0000\"}", NULL,
	    "id=1Set-Cookie: x=1");
	EXPECT("a\r\nb{{{v}}}", WEBHOOK_ESCAPE_HEADER, "{\"v\":\"\\n\"}",
	    NULL, "ab");
}

Test(webhook_template, no_helpers_no_code)
{
	const char	*doc = "{\"x\":\"X\",\"if\":\"I\"}";

	EXPECT("{{#if x}}yes{{/if}}", WEBHOOK_ESCAPE_NONE, doc, NULL, "yes");
	EXPECT("a{{! a comment }}b{{!-- {{x}} --}}c", WEBHOOK_ESCAPE_NONE,
	    doc, NULL, "abc");
	EXPECT("{{lookup x 'y'}}{{> partial}}{{../x}}{{@root.x}}{{else}}",
	    WEBHOOK_ESCAPE_NONE, doc, NULL, "");
	EXPECT("\\{{x}} {{x}}", WEBHOOK_ESCAPE_NONE, doc, NULL, "{{x}} X");
	EXPECT("{{x", WEBHOOK_ESCAPE_NONE, doc, NULL, "{{x");
	EXPECT("a {{ }} b {{}}", WEBHOOK_ESCAPE_NONE, doc, NULL, "a  b ");
	EXPECT("}}{{x}}{", WEBHOOK_ESCAPE_NONE, doc, NULL, "}}X{");
}

Test(webhook_template, bounded_output)
{
	char	*s;

	s = render("{{v}}{{v}}", WEBHOOK_ESCAPE_NONE, "{\"v\":\"0123456789\"}",
	    NULL, 15);
	cr_assert_null(s);
	s = render("{{v}}{{v}}", WEBHOOK_ESCAPE_NONE, "{\"v\":\"0123456789\"}",
	    NULL, 20);
	cr_assert_str_eq(s, "01234567890123456789");
	free(s);
	/* escaping counts against the cap */
	s = render("{{v}}", WEBHOOK_ESCAPE_JSON, "{\"v\":\"\\\"\\\"\\\"\"}",
	    NULL, 5);
	cr_assert_null(s);
}

Test(webhook_response, success_default_204)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST");
	struct webhook_response	 resp;
	json_t			*w = load("{\"successBody\":\"ignored\"}");

	webhook_response_success(w, &r, NULL, &resp);
	cr_assert_eq(resp.status, 204);
	cr_assert_null(resp.body);
	cr_assert_eq(resp.nheaders, 0);
	webhook_response_free(&resp);
	json_decref(w);
}

Test(webhook_response, success_body_and_headers)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST");
	struct webhook_response	 resp;
	json_t			*w, *doc = load("{\"id\":\"7\\\"\"}");

	w = load("{\"successStatusCode\":200,"
	    "\"successBody\":\"{\\\"received\\\":\\\"{{id}}\\\"}\","
	    "\"successResponseHeaders\":[{\"name\":\"X-Id\",\"value\":\"{{id}}\"},"
	    "{\"name\":\"Content-Length\",\"value\":\"1\"},"
	    "{\"name\":\"Bad Name\",\"value\":\"1\"},{\"name\":\"X-N\"}]}");
	webhook_response_success(w, &r, doc, &resp);
	cr_assert_eq(resp.status, 200);
	cr_assert_str_eq(resp.body, "{\"received\":\"7\\\"\"}");
	cr_assert_eq(resp.bodylen, strlen(resp.body));
	cr_assert_str_eq(header(&resp, "content-type"), "application/json");
	cr_assert_str_eq(header(&resp, "X-Id"), "7\"");
	cr_assert_null(header(&resp, "Content-Length"));
	cr_assert_null(header(&resp, "Bad Name"));
	cr_assert_null(header(&resp, "X-N"));
	cr_assert_eq(resp.nheaders, 2);
	webhook_response_free(&resp);
	json_decref(w);

	/* xml and plaintext media; a configured Content-Type wins */
	w = load("{\"successStatusCode\":202,\"successMediaType\":\"xml\","
	    "\"successBody\":\"<ok>{{id}}</ok>\"}");
	webhook_response_success(w, &r, doc, &resp);
	cr_assert_eq(resp.status, 202);
	cr_assert_str_eq(resp.body, "<ok>7&quot;</ok>");
	cr_assert_str_eq(header(&resp, "Content-Type"), "application/xml");
	webhook_response_free(&resp);
	json_decref(w);
	w = load("{\"successStatusCode\":200,\"successMediaType\":\"plaintext\","
	    "\"successBody\":\"ok {{id}}\",\"successResponseHeaders\":"
	    "[{\"name\":\"content-type\",\"value\":\"text/csv\"}]}");
	webhook_response_success(w, &r, doc, &resp);
	cr_assert_str_eq(resp.body, "ok 7\"");
	cr_assert_str_eq(header(&resp, "Content-Type"), "text/csv");
	cr_assert_eq(resp.nheaders, 1);
	webhook_response_free(&resp);
	json_decref(w);
	json_decref(doc);
}

Test(webhook_response, success_status_not_2xx_is_default)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST");
	struct webhook_response	 resp;
	json_t			*w = load("{\"successStatusCode\":302,"
				    "\"successBody\":\"x\"}");

	webhook_response_success(w, &r, NULL, &resp);
	cr_assert_eq(resp.status, 204);
	cr_assert_null(resp.body);
	webhook_response_free(&resp);
	json_decref(w);
	/* 200 without a body: no body, no Content-Type */
	w = load("{\"successStatusCode\":200}");
	webhook_response_success(w, &r, NULL, &resp);
	cr_assert_eq(resp.status, 200);
	cr_assert_null(resp.body);
	cr_assert_null(header(&resp, "Content-Type"));
	webhook_response_free(&resp);
	json_decref(w);
}

Test(webhook_response, slack_url_verification)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST");
	struct webhook_response	 resp;
	json_t			*w = load("{\"provider\":\"slack\"}");
	json_t			*doc = load("{\"token\":\"t\",\"challenge\":"
				    "\"3eZbrw1aBm2rZgRNFdxV\",\"type\":"
				    "\"url_verification\"}");

	cr_assert_eq(webhook_response_challenge(w, &r, doc, &resp), 1);
	cr_assert_eq(resp.status, 200);
	cr_assert_str_eq(resp.body, "3eZbrw1aBm2rZgRNFdxV");
	cr_assert_str_eq(header(&resp, "Content-Type"), "text/plain");
	cr_assert_str_eq(header(&resp, "X-Content-Type-Options"), "nosniff");
	webhook_response_free(&resp);
	json_decref(w);

	/* the export's challenge settings, when set */
	w = load("{\"challengeSuccessBody\":\"{\\\"challenge\\\":"
	    "\\\"{{challenge}}\\\"}\",\"challengeSuccessStatusCode\":202,"
	    "\"challengeResponseHeaders\":[{\"name\":\"X-C\",\"value\":"
	    "\"{{type}}\"}]}");
	cr_assert_eq(webhook_response_challenge(w, &r, doc, &resp), 1);
	cr_assert_eq(resp.status, 202);
	cr_assert_str_eq(resp.body, "{\"challenge\":\"3eZbrw1aBm2rZgRNFdxV\"}");
	cr_assert_str_eq(header(&resp, "Content-Type"), "application/json");
	cr_assert_str_eq(header(&resp, "X-C"), "url_verification");
	webhook_response_free(&resp);

	/* not a challenge: a GET, or another event type */
	r.method = "GET";
	cr_assert_eq(webhook_response_challenge(w, &r, doc, &resp), 0);
	cr_assert_null(resp.body);
	r.method = "POST";
	json_object_set_new(doc, "type", json_string("event_callback"));
	cr_assert_eq(webhook_response_challenge(w, &r, doc, &resp), 0);
	json_decref(w);
	json_decref(doc);
}

Test(webhook_response, dropbox_get_challenge)
{
	struct fake		 f = { { { "challenge", "<script>x</script>" } } };
	struct webhook_request	 r = fake_request(&f, "GET");
	struct webhook_response	 resp;
	json_t			*w = load("{\"provider\":\"dropbox\"}");

	cr_assert_eq(webhook_response_challenge(w, &r, NULL, &resp), 1);
	cr_assert_eq(resp.status, 200);
	cr_assert_str_eq(resp.body, "<script>x</script>");
	cr_assert_str_eq(header(&resp, "Content-Type"), "text/plain");
	cr_assert_str_eq(header(&resp, "X-Content-Type-Options"), "nosniff");
	webhook_response_free(&resp);
	/* a POST with ?challenge= is a delivery */
	r.method = "POST";
	cr_assert_eq(webhook_response_challenge(w, &r, NULL, &resp), 0);
	json_decref(w);
}

Test(webhook_response, hub_challenge)
{
	struct fake		 f = { { { "hub.mode", "subscribe" },
				    { "hub.challenge", "1158201444" } } };
	struct webhook_request	 r = fake_request(&f, "GET");
	struct webhook_response	 resp;
	json_t			*w;

	w = load("{}");
	cr_assert_eq(webhook_response_challenge(w, &r, NULL, &resp), 1);
	cr_assert_str_eq(resp.body, "1158201444");
	webhook_response_free(&resp);
	json_decref(w);
	w = load("{\"challengeSuccessBody\":\"{{hub.challenge}}\","
	    "\"challengeSuccessMediaType\":\"plaintext\"}");
	cr_assert_eq(webhook_response_challenge(w, &r, NULL, &resp), 1);
	cr_assert_str_eq(resp.body, "1158201444");
	cr_assert_str_eq(header(&resp, "Content-Type"), "text/plain");
	webhook_response_free(&resp);
	json_decref(w);
	/* 204 sends no body */
	w = load("{\"challengeSuccessStatusCode\":204}");
	cr_assert_eq(webhook_response_challenge(w, &r, NULL, &resp), 1);
	cr_assert_eq(resp.status, 204);
	cr_assert_null(resp.body);
	webhook_response_free(&resp);
	json_decref(w);
	/* no challenge parameter */
	f.q[1][0] = "other";
	cr_assert_eq(webhook_response_challenge(NULL, &r, NULL, &resp), 0);
}
