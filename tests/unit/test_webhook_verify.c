/* Unit tests for webhook/verify: every method and provider, with expected
 * signatures computed here with OpenSSL's HMAC(), not crypto/crypto. */

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "webhook/verify.h"

#define NOW_MS	1700000000000LL
#define NOW_S	"1700000000"

static const char body[] = "{\"action\":\"opened\",\"number\":1}";

/* A request: up to 8 headers and 8 query parameters. */
struct fake {
	const char	*h[8][2];
	const char	*q[8][2];
};

static const char	*fake_header(void *, const char *);
static const char	*fake_query(void *, const char *);
static struct webhook_request fake_request(struct fake *, const char *,
			    const char *, size_t);
static char		*mac_hex(const EVP_MD *, const char *, const void *,
			    size_t);
static char		*mac_b64(const EVP_MD *, const char *, const void *,
			    size_t);
static int		 check(const char *, struct webhook_request *);

static const char *
fake_header(void *arg, const char *name)
{
	struct fake	*f = arg;
	size_t		 i;

	for (i = 0; i < 8 && f->h[i][0] != NULL; i++)
		if (strcasecmp(f->h[i][0], name) == 0)
			return f->h[i][1];
	return NULL;
}

static const char *
fake_query(void *arg, const char *name)
{
	struct fake	*f = arg;
	size_t		 i;

	for (i = 0; i < 8 && f->q[i][0] != NULL; i++)
		if (strcmp(f->q[i][0], name) == 0)
			return f->q[i][1];
	return NULL;
}

static struct webhook_request
fake_request(struct fake *f, const char *method, const char *data, size_t len)
{
	struct webhook_request	r;

	memset(&r, 0, sizeof r);
	r.method = method;
	r.url = "https://hooks.example.com/v1/exports/0123456789abcdef01234567/"
	    "data";
	r.body = data;
	r.bodylen = len;
	r.now_ms = NOW_MS;
	r.header = fake_header;
	r.query = fake_query;
	r.arg = f;
	return r;
}

static char *
mac_hex(const EVP_MD *md, const char *key, const void *data, size_t len)
{
	unsigned char	 out[EVP_MAX_MD_SIZE];
	unsigned int	 n, i;
	char		*s;

	cr_assert_not_null(HMAC(md, key, (int)strlen(key), data, len, out,
	    &n));
	s = malloc(2 * n + 1);
	for (i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02x", out[i]);
	return s;
}

static char *
mac_b64(const EVP_MD *md, const char *key, const void *data, size_t len)
{
	unsigned char	 out[EVP_MAX_MD_SIZE];
	unsigned int	 n;
	char		*s;

	cr_assert_not_null(HMAC(md, key, (int)strlen(key), data, len, out,
	    &n));
	s = malloc(4 * ((n + 2) / 3) + 1);
	EVP_EncodeBlock((unsigned char *)s, out, (int)n);
	return s;
}

/* Verify against the webhook block in JSON text; 0 accept, -1 reject.
 * The reason must be set and never contain the test secrets. */
static int
check(const char *webhook, struct webhook_request *r)
{
	json_error_t	 err;
	json_t		*w;
	const char	*why = NULL;
	int		 rc;

	w = json_loads(webhook, 0, &err);
	cr_assert_not_null(w, "bad test JSON: %s", err.text);
	rc = webhook_verify(w, r, &why);
	cr_assert_not_null(why);
	cr_assert_null(strstr(why, "s3cret"), "reason leaks the key");
	cr_assert_null(strstr(why, "tok-"), "reason leaks the token");
	json_decref(w);
	return rc;
}

#define GITHUB	"{\"provider\":\"github\",\"key\":\"s3cret\"}"

Test(webhook_verify, github_sha256)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			*sig, *h;

	sig = mac_hex(EVP_sha256(), "s3cret", body, strlen(body));
	h = malloc(strlen(sig) + 8);
	sprintf(h, "sha256=%s", sig);
	f.h[0][0] = "x-hub-signature-256";
	f.h[0][1] = h;
	cr_assert_eq(check(GITHUB, &r), 0);
	/* hex in upper case is the same signature */
	for (char *p = h + 7; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	cr_assert_eq(check(GITHUB, &r), 0);
	/* wrong key */
	cr_assert_eq(check("{\"provider\":\"github\",\"key\":\"other\"}", &r),
	    -1);
	/* tampered body */
	r.bodylen--;
	cr_assert_eq(check(GITHUB, &r), -1);
	r.bodylen++;
	/* no prefix */
	f.h[0][1] = sig;
	cr_assert_eq(check(GITHUB, &r), -1);
	/* missing header */
	f.h[0][0] = NULL;
	cr_assert_eq(check(GITHUB, &r), -1);
	free(sig);
	free(h);
}

Test(webhook_verify, github_legacy_sha1)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "PUT", body,
				    strlen(body));
	char			*sig, *h, *bad;

	sig = mac_hex(EVP_sha1(), "s3cret", body, strlen(body));
	h = malloc(strlen(sig) + 8);
	sprintf(h, "sha1=%s", sig);
	f.h[0][0] = "X-Hub-Signature";
	f.h[0][1] = h;
	cr_assert_eq(check(GITHUB, &r), 0);
	/* a sha256 header, when sent, is the one checked */
	bad = mac_hex(EVP_sha256(), "wrong", body, strlen(body));
	f.h[1][0] = "X-Hub-Signature-256";
	f.h[1][1] = bad;
	cr_assert_eq(check(GITHUB, &r), -1);
	/* sha1 signature under a sha256= prefix */
	f.h[1][0] = NULL;
	sprintf(h, "sha256=%s", sig);
	cr_assert_eq(check(GITHUB, &r), -1);
	free(sig);
	free(bad);
	free(h);
}

Test(webhook_verify, key_missing_or_masked)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			*sig, *h;

	sig = mac_hex(EVP_sha256(), "******", body, strlen(body));
	h = malloc(strlen(sig) + 8);
	sprintf(h, "sha256=%s", sig);
	f.h[0][0] = "X-Hub-Signature-256";
	f.h[0][1] = h;
	cr_assert_eq(check("{\"provider\":\"github\",\"key\":\"******\"}", &r),
	    -1);
	cr_assert_eq(check("{\"provider\":\"github\"}", &r), -1);
	cr_assert_eq(check("{\"provider\":\"github\",\"key\":\"\"}", &r), -1);
	free(sig);
	free(h);
}

Test(webhook_verify, shopify)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"provider\":\"shopify\",\"key\":\"s3cret\"}";
	char			*sig;

	sig = mac_b64(EVP_sha256(), "s3cret", body, strlen(body));
	f.h[0][0] = "X-Shopify-Hmac-SHA256";
	f.h[0][1] = sig;
	cr_assert_eq(check(w, &r), 0);
	cr_assert_eq(check("{\"provider\":\"shopify\",\"key\":\"nope\"}", &r),
	    -1);
	r.body = "{\"action\":\"closed\",\"number\":1}";
	cr_assert_eq(check(w, &r), -1);
	r.body = body;
	f.h[0][0] = "X-Other";
	cr_assert_eq(check(w, &r), -1);
	free(sig);
}

/* X-Slack-Signature for timestamp ts over the body. */
static char *
slack_sig(const char *key, const char *ts, const char *data)
{
	char	*base, *hex, *out;

	base = malloc(strlen(ts) + strlen(data) + 5);
	sprintf(base, "v0:%s:%s", ts, data);
	hex = mac_hex(EVP_sha256(), key, base, strlen(base));
	out = malloc(strlen(hex) + 4);
	sprintf(out, "v0=%s", hex);
	free(base);
	free(hex);
	return out;
}

#define SLACK	"{\"provider\":\"slack\",\"key\":\"s3cret\"}"

Test(webhook_verify, slack_signature)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			*sig;

	sig = slack_sig("s3cret", NOW_S, body);
	f.h[0][0] = "X-Slack-Request-Timestamp";
	f.h[0][1] = NOW_S;
	f.h[1][0] = "X-Slack-Signature";
	f.h[1][1] = sig;
	cr_assert_eq(check(SLACK, &r), 0);
	/* four minutes either way is still fresh */
	r.now_ms = NOW_MS + 240000;
	cr_assert_eq(check(SLACK, &r), 0);
	r.now_ms = NOW_MS - 240000;
	cr_assert_eq(check(SLACK, &r), 0);
	/* six minutes is stale, in both directions */
	r.now_ms = NOW_MS + 360000;
	cr_assert_eq(check(SLACK, &r), -1);
	r.now_ms = NOW_MS - 360000;
	cr_assert_eq(check(SLACK, &r), -1);
	r.now_ms = NOW_MS;
	/* the timestamp is signed: changing it breaks the signature */
	f.h[0][1] = "1700000001";
	cr_assert_eq(check(SLACK, &r), -1);
	f.h[0][1] = "17e8";
	cr_assert_eq(check(SLACK, &r), -1);
	f.h[0][1] = NOW_S;
	/* wrong key, tampered body, missing headers */
	cr_assert_eq(check("{\"provider\":\"slack\",\"key\":\"x\"}", &r), -1);
	r.bodylen = 3;
	cr_assert_eq(check(SLACK, &r), -1);
	r.bodylen = strlen(body);
	f.h[1][0] = NULL;
	cr_assert_eq(check(SLACK, &r), -1);
	f.h[0][0] = NULL;
	cr_assert_eq(check(SLACK, &r), -1);
	free(sig);
}

Test(webhook_verify, slack_stale_with_valid_signature)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			*sig;

	/* a correctly signed replay from ten minutes ago */
	sig = slack_sig("s3cret", "1699999400", body);
	f.h[0][0] = "X-Slack-Request-Timestamp";
	f.h[0][1] = "1699999400";
	f.h[1][0] = "X-Slack-Signature";
	f.h[1][1] = sig;
	cr_assert_eq(check(SLACK, &r), -1);
	free(sig);
}

Test(webhook_verify, slack_legacy_token)
{
	struct fake		 f = { 0 };
	const char		*ev = "{\"token\":\"tok-1\",\"type\":\"event\"}";
	struct webhook_request	 r = fake_request(&f, "POST", ev, strlen(ev));
	const char		*w = "{\"provider\":\"slack\",\"token\":\"tok-1\"}";

	f.h[0][0] = "Content-Type";
	f.h[0][1] = "application/json";
	cr_assert_eq(check(w, &r), 0);
	cr_assert_eq(check("{\"provider\":\"slack\",\"token\":\"tok-2\"}", &r),
	    -1);
	cr_assert_eq(check("{\"provider\":\"slack\"}", &r), -1);
}

Test(webhook_verify, dropbox)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"provider\":\"dropbox\",\"key\":\"s3cret\"}";
	char			*sig;

	sig = mac_hex(EVP_sha256(), "s3cret", body, strlen(body));
	f.h[0][0] = "X-Dropbox-Signature";
	f.h[0][1] = sig;
	cr_assert_eq(check(w, &r), 0);
	cr_assert_eq(check("{\"provider\":\"dropbox\",\"key\":\"k\"}", &r), -1);
	f.h[0][0] = NULL;
	cr_assert_eq(check(w, &r), -1);
	free(sig);
}

Test(webhook_verify, dropbox_get_challenge)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "GET", NULL, 0);
	const char		*w = "{\"provider\":\"dropbox\",\"key\":\"s3cret\"}";

	/* Dropbox does not sign its verification GET */
	f.q[0][0] = "challenge";
	f.q[0][1] = "abc123";
	cr_assert_eq(check(w, &r), 0);
	/* only a GET, and only with the challenge */
	r.method = "POST";
	cr_assert_eq(check(w, &r), -1);
	r.method = "GET";
	f.q[0][0] = "other";
	cr_assert_eq(check(w, &r), -1);
	/* not for other providers */
	f.q[0][0] = "challenge";
	cr_assert_eq(check(GITHUB, &r), -1);
}

Test(webhook_verify, helpscout)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w =
				    "{\"provider\":\"helpscout\",\"key\":\"s3cret\"}";
	char			*sig;

	sig = mac_b64(EVP_sha1(), "s3cret", body, strlen(body));
	f.h[0][0] = "X-HelpScout-Signature";
	f.h[0][1] = sig;
	cr_assert_eq(check(w, &r), 0);
	cr_assert_eq(check("{\"provider\":\"helpscout\",\"key\":\"k\"}", &r),
	    -1);
	r.bodylen = 1;
	cr_assert_eq(check(w, &r), -1);
	free(sig);
}

Test(webhook_verify, hubspot_v3)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"provider\":\"hubspot\",\"key\":\"s3cret\"}";
	const char		*ts = "1700000000000";
	const char		*signed_url =
				    "https://h.example.com/v1/exports/x/data?a=b:c";
	char			*base, *sig;

	base = malloc(1024);
	snprintf(base, 1024, "POST%s%s%s", signed_url, body, ts);
	sig = mac_b64(EVP_sha256(), "s3cret", base, strlen(base));
	/* the caller passes the URL as sent: %3A is decoded before signing */
	r.url = "https://h.example.com/v1/exports/x/data?a=b%3Ac";
	f.h[0][0] = "X-HubSpot-Signature-v3";
	f.h[0][1] = sig;
	f.h[1][0] = "X-HubSpot-Request-Timestamp";
	f.h[1][1] = ts;
	cr_assert_eq(check(w, &r), 0);
	/* method, URL and timestamp are all signed */
	r.method = "PUT";
	cr_assert_eq(check(w, &r), -1);
	r.method = "POST";
	r.url = "https://h.example.com/v1/exports/y/data?a=b%3Ac";
	cr_assert_eq(check(w, &r), -1);
	r.url = NULL;
	cr_assert_eq(check(w, &r), -1);
	r.url = "https://h.example.com/v1/exports/x/data?a=b%3Ac";
	/* stale */
	r.now_ms = NOW_MS + 301000;
	cr_assert_eq(check(w, &r), -1);
	r.now_ms = NOW_MS;
	cr_assert_eq(check("{\"provider\":\"hubspot\",\"key\":\"k\"}", &r), -1);
	/* v1 (a plain hash) is not accepted */
	f.h[0][0] = "X-HubSpot-Signature";
	cr_assert_eq(check(w, &r), -1);
	free(base);
	free(sig);
}

Test(webhook_verify, surveymonkey)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w =
	    "{\"provider\":\"surveymonkey\",\"key\":\"api_key&s3cret\"}";
	char			*sig;

	sig = mac_b64(EVP_sha1(), "api_key&s3cret", body, strlen(body));
	f.h[0][0] = "Sm-Signature";
	f.h[0][1] = sig;
	cr_assert_eq(check(w, &r), 0);
	cr_assert_eq(check("{\"provider\":\"surveymonkey\",\"key\":\"s3cret\"}",
	    &r), -1);
	free(sig);
}

Test(webhook_verify, trello)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"provider\":\"trello\",\"key\":\"s3cret\"}";
	char			*base, *sig;

	base = malloc(strlen(body) + strlen(r.url) + 1);
	sprintf(base, "%s%s", body, r.url);
	sig = mac_b64(EVP_sha1(), "s3cret", base, strlen(base));
	f.h[0][0] = "X-Trello-Webhook";
	f.h[0][1] = sig;
	cr_assert_eq(check(w, &r), 0);
	r.url = "https://elsewhere.example.com/data";
	cr_assert_eq(check(w, &r), -1);
	r.url = NULL;
	cr_assert_eq(check(w, &r), -1);
	free(base);
	free(sig);
}

Test(webhook_verify, secret_url_custom)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"provider\":\"custom\",\"verify\":"
				    "\"secret_url\",\"token\":\"tok-abcdef\"}";

	r.url_token = "tok-abcdef";
	cr_assert_eq(check(w, &r), 0);
	/* custom, or no provider, without verify is refused by the model;
	 * a stored one (an old dump) verifies nothing, not even its URL */
	cr_assert_eq(check("{\"token\":\"tok-abcdef\"}", &r), -1);
	cr_assert_eq(check("{\"provider\":\"custom\",\"token\":"
	    "\"tok-abcdef\"}", &r), -1);
	r.url_token = "tok-abcde0";
	cr_assert_eq(check(w, &r), -1);
	r.url_token = "tok-abcdef0";
	cr_assert_eq(check(w, &r), -1);
	r.url_token = "";
	cr_assert_eq(check(w, &r), -1);
	r.url_token = NULL;
	cr_assert_eq(check(w, &r), -1);
	/* no token stored: nothing matches, not even an empty one */
	r.url_token = "";
	cr_assert_eq(check("{\"verify\":\"secret_url\"}", &r), -1);
}

Test(webhook_verify, secret_url_providers)
{
	static const char *const names[] = {
		"stripe", "box", "intercom", "pagerduty", "postmark",
		"mailchimp", "activecampaign", "aha", "jira", "segment",
		"recurly", "parseur", "mailparser", "mailparser-io", "sapariba",
	};
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			 w[256];
	size_t			 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(w, sizeof w, "{\"provider\":\"%s\",\"token\":"
		    "\"tok-123\"}", names[i]);
		r.url_token = "tok-123";
		cr_assert_eq(check(w, &r), 0, "%s", names[i]);
		r.url_token = "tok-124";
		cr_assert_eq(check(w, &r), -1, "%s", names[i]);
		r.url_token = NULL;
		cr_assert_eq(check(w, &r), -1, "%s", names[i]);
	}
}

Test(webhook_verify, url_token_on_signed_export)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			*sig, *h;

	sig = mac_hex(EVP_sha256(), "s3cret", body, strlen(body));
	h = malloc(strlen(sig) + 8);
	sprintf(h, "sha256=%s", sig);
	f.h[0][0] = "X-Hub-Signature-256";
	f.h[0][1] = h;
	r.url_token = "whatever";
	cr_assert_eq(check(GITHUB, &r), -1);
	free(sig);
	free(h);
}

Test(webhook_verify, token_header)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*none = "{\"verify\":\"token\",\"tokenLocation\":"
	    "\"header\",\"tokenHeaderName\":\"X-Webhook-Token\","
	    "\"tokenHeaderScheme\":\"none\",\"token\":\"tok-1\"}";
	const char		*bearer = "{\"verify\":\"token\",\"tokenLocation\":"
	    "\"header\",\"token\":\"tok-1\"}";
	const char		*custom = "{\"verify\":\"token\",\"tokenLocation\":"
	    "\"header\",\"tokenHeaderName\":\"X-Auth\",\"tokenHeaderScheme\":"
	    "\"custom\",\"customTokenScheme\":\"Token\",\"token\":\"tok-1\"}";

	f.h[0][0] = "x-webhook-token";
	f.h[0][1] = "tok-1";
	cr_assert_eq(check(none, &r), 0);
	f.h[0][1] = "tok-1x";
	cr_assert_eq(check(none, &r), -1);
	f.h[0][1] = "TOK-1";
	cr_assert_eq(check(none, &r), -1);
	f.h[0][1] = " tok-1";
	cr_assert_eq(check(none, &r), -1);

	/* bearer is the default scheme, Authorization the default header */
	f.h[0][0] = "Authorization";
	f.h[0][1] = "Bearer tok-1";
	cr_assert_eq(check(bearer, &r), 0);
	f.h[0][1] = "bearer  tok-1";
	cr_assert_eq(check(bearer, &r), 0);
	f.h[0][1] = "tok-1";
	cr_assert_eq(check(bearer, &r), -1);
	f.h[0][1] = "Bearertok-1";
	cr_assert_eq(check(bearer, &r), -1);
	f.h[0][1] = "Bearer tok-2";
	cr_assert_eq(check(bearer, &r), -1);

	f.h[0][0] = "X-Auth";
	f.h[0][1] = "Token tok-1";
	cr_assert_eq(check(custom, &r), 0);
	f.h[0][1] = "Bearer tok-1";
	cr_assert_eq(check(custom, &r), -1);
	f.h[0][0] = NULL;
	cr_assert_eq(check(custom, &r), -1);
}

Test(webhook_verify, token_query)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"verify\":\"token\",\"tokenLocation\":"
	    "\"queryParam\",\"tokenQueryParamName\":\"key\",\"token\":\"tok-1\"}";

	f.q[0][0] = "key";
	f.q[0][1] = "tok-1";
	cr_assert_eq(check(w, &r), 0);
	f.q[0][1] = "tok-2";
	cr_assert_eq(check(w, &r), -1);
	f.q[0][0] = "other";
	cr_assert_eq(check(w, &r), -1);
	/* no parameter name configured */
	f.q[0][0] = "key";
	f.q[0][1] = "tok-1";
	cr_assert_eq(check("{\"verify\":\"token\",\"tokenLocation\":"
	    "\"queryParam\",\"token\":\"tok-1\"}", &r), -1);
}

Test(webhook_verify, token_body)
{
	struct fake		 f = { 0 };
	const char		*json = "{\"meta\":{\"token\":\"tok-1\"},\"a\":1}";
	const char		*form = "a=1&meta.token=tok-1";
	struct webhook_request	 r = fake_request(&f, "POST", json,
				    strlen(json));
	const char		*w = "{\"verify\":\"token\",\"path\":\"meta.token\","
				    "\"token\":\"tok-1\"}";

	/* JSON body (the default location is body) */
	f.h[0][0] = "Content-Type";
	f.h[0][1] = "application/json; charset=utf-8";
	cr_assert_eq(check(w, &r), 0);
	cr_assert_eq(check("{\"verify\":\"token\",\"path\":\"meta.token\","
	    "\"token\":\"tok-2\"}", &r), -1);
	cr_assert_eq(check("{\"verify\":\"token\",\"path\":\"meta.other\","
	    "\"token\":\"tok-1\"}", &r), -1);
	cr_assert_eq(check("{\"verify\":\"token\",\"token\":\"tok-1\"}", &r),
	    -1);
	/* urlencoded body */
	f.h[0][1] = "application/x-www-form-urlencoded";
	r.body = form;
	r.bodylen = strlen(form);
	cr_assert_eq(check(w, &r), 0);
	/* query string under the same path */
	r.body = "{}";
	r.bodylen = 2;
	f.h[0][1] = "application/json";
	cr_assert_eq(check(w, &r), -1);
	f.q[0][0] = "meta.token";
	f.q[0][1] = "tok-1";
	cr_assert_eq(check(w, &r), 0);
	f.q[0][1] = "tok-0";
	cr_assert_eq(check(w, &r), -1);
	/* a number is not the token */
	r.body = "{\"meta\":{\"token\":1}}";
	r.bodylen = strlen(r.body);
	cr_assert_eq(check("{\"verify\":\"token\",\"path\":\"meta.token\","
	    "\"token\":\"1\"}", &r), -1);
	/* unparseable body */
	r.body = "{\"meta\":";
	r.bodylen = strlen(r.body);
	cr_assert_eq(check(w, &r), -1);
}

Test(webhook_verify, hmac_every_algorithm_and_encoding)
{
	static const struct {
		const char	*name;
		const EVP_MD	*(*md)(void);
	} algos[] = {
		{ "sha1", EVP_sha1 }, { "sha256", EVP_sha256 },
		{ "sha384", EVP_sha384 }, { "sha512", EVP_sha512 },
	};
	static const char *const encs[] = { "hex", "hexadecimal", "base64" };
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			 w[256], *sig, *other;
	size_t			 i, j;

	f.h[0][0] = "x-sig";
	for (i = 0; i < 4; i++) {
		for (j = 0; j < 3; j++) {
			snprintf(w, sizeof w, "{\"provider\":\"custom\","
			    "\"verify\":\"hmac\",\"algorithm\":\"%s\","
			    "\"encoding\":\"%s\",\"header\":\"X-Sig\","
			    "\"key\":\"s3cret\"}", algos[i].name, encs[j]);
			if (j == 2) {
				sig = mac_b64(algos[i].md(), "s3cret", body,
				    strlen(body));
				other = mac_b64(algos[i].md(), "s3cret2", body,
				    strlen(body));
			} else {
				sig = mac_hex(algos[i].md(), "s3cret", body,
				    strlen(body));
				other = mac_hex(algos[i].md(), "s3cret2", body,
				    strlen(body));
			}
			f.h[0][1] = sig;
			r.bodylen = strlen(body);
			cr_assert_eq(check(w, &r), 0, "%s %s", algos[i].name,
			    encs[j]);
			r.bodylen--;
			cr_assert_eq(check(w, &r), -1, "%s %s tampered",
			    algos[i].name, encs[j]);
			r.bodylen++;
			f.h[0][1] = other;
			cr_assert_eq(check(w, &r), -1, "%s %s wrong key",
			    algos[i].name, encs[j]);
			free(sig);
			free(other);
		}
	}
}

Test(webhook_verify, hmac_prefix_case_and_missing)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"verify\":\"hmac\",\"algorithm\":\"sha256\","
	    "\"encoding\":\"hex\",\"header\":\"X-Signature\",\"key\":\"s3cret\"}";
	char			*sig, h[200];

	sig = mac_hex(EVP_sha256(), "s3cret", body, strlen(body));
	f.h[0][0] = "X-SIGNATURE";
	snprintf(h, sizeof h, "sha256=%s", sig);
	f.h[0][1] = h;
	cr_assert_eq(check(w, &r), 0);
	for (char *p = h; *p != '\0'; p++)
		*p = (char)toupper((unsigned char)*p);
	cr_assert_eq(check(w, &r), 0);
	f.h[0][1] = sig;
	cr_assert_eq(check(w, &r), 0);
	f.h[0][1] = "";
	cr_assert_eq(check(w, &r), -1);
	f.h[0][1] = "sha256=";
	cr_assert_eq(check(w, &r), -1);
	f.h[0][0] = NULL;
	cr_assert_eq(check(w, &r), -1);
	/* no header configured; unknown algorithm or encoding */
	f.h[0][0] = "X-Signature";
	f.h[0][1] = sig;
	cr_assert_eq(check("{\"verify\":\"hmac\",\"key\":\"s3cret\"}", &r), -1);
	cr_assert_eq(check("{\"verify\":\"hmac\",\"algorithm\":\"md5\","
	    "\"header\":\"X-Signature\",\"key\":\"s3cret\"}", &r), -1);
	cr_assert_eq(check("{\"verify\":\"hmac\",\"encoding\":\"base32\","
	    "\"header\":\"X-Signature\",\"key\":\"s3cret\"}", &r), -1);
	/* sha256 and hex are the defaults */
	cr_assert_eq(check("{\"verify\":\"hmac\",\"header\":\"X-Signature\","
	    "\"key\":\"s3cret\"}", &r), 0);
	free(sig);
}

Test(webhook_verify, hmac_empty_body)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", NULL, 0);
	const char		*w = "{\"verify\":\"hmac\",\"header\":\"X-Sig\","
				    "\"key\":\"s3cret\"}";
	char			*sig;

	sig = mac_hex(EVP_sha256(), "s3cret", "", 0);
	f.h[0][0] = "X-Sig";
	f.h[0][1] = sig;
	cr_assert_eq(check(w, &r), 0);
	free(sig);
}

Test(webhook_verify, basic)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*w = "{\"verify\":\"basic\",\"username\":\"user\","
				    "\"password\":\"s3cret:pw\"}";
	char			 good[128], bad[128], wrong_user[128];

	strcpy(good, "Basic ");
	EVP_EncodeBlock((unsigned char *)good + 6,
	    (const unsigned char *)"user:s3cret:pw", 14);
	strcpy(bad, "Basic ");
	EVP_EncodeBlock((unsigned char *)bad + 6,
	    (const unsigned char *)"user:nope", 9);
	strcpy(wrong_user, "Basic ");
	EVP_EncodeBlock((unsigned char *)wrong_user + 6,
	    (const unsigned char *)"usr:s3cret:pw", 13);
	f.h[0][0] = "authorization";
	f.h[0][1] = good;
	cr_assert_eq(check(w, &r), 0);
	good[0] = 'b';
	cr_assert_eq(check(w, &r), 0);
	f.h[0][1] = bad;
	cr_assert_eq(check(w, &r), -1);
	f.h[0][1] = wrong_user;
	cr_assert_eq(check(w, &r), -1);
	f.h[0][1] = "Basic !!!!";
	cr_assert_eq(check(w, &r), -1);
	f.h[0][1] = "Basic dXNlcg==";	/* "user", no colon */
	cr_assert_eq(check(w, &r), -1);
	f.h[0][1] = "Bearer s3cret";
	cr_assert_eq(check(w, &r), -1);
	f.h[0][0] = NULL;
	cr_assert_eq(check(w, &r), -1);
	/* no password stored */
	f.h[0][0] = "Authorization";
	f.h[0][1] = "Basic dXNlcjo=";	/* "user:" */
	cr_assert_eq(check("{\"verify\":\"basic\",\"username\":\"user\"}", &r),
	    -1);
}

Test(webhook_verify, unknown_and_unsupported)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	const char		*why = NULL;
	json_t			*w;

	r.url_token = "tok-1";
	cr_assert_eq(check("{\"provider\":\"nosuch\",\"token\":\"tok-1\"}",
	    &r), -1);
	r.url_token = NULL;
	cr_assert_eq(check("{\"verify\":\"magic\",\"token\":\"tok-1\"}", &r),
	    -1);
	cr_assert_eq(check("{\"verify\":\"publickey\"}", &r), -1);
	/* a provider without a built-in rule needs an explicit method */
	cr_assert_eq(check("{\"provider\":\"shipwire\",\"key\":\"s3cret\"}",
	    &r), -1);
	cr_assert_eq(check("{\"provider\":\"travis\",\"token\":\"tok-1\"}",
	    &r), -1);
	/* not an object at all */
	w = json_string("x");
	cr_assert_eq(webhook_verify(w, &r, &why), -1);
	cr_assert_eq(webhook_verify(NULL, &r, NULL), -1);
	json_decref(w);
}

Test(webhook_verify, explicit_method_on_other_provider)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "POST", body,
				    strlen(body));
	char			*sig;

	sig = mac_b64(EVP_sha256(), "s3cret", body, strlen(body));
	f.h[0][0] = "X-Shipwire-Signature";
	f.h[0][1] = sig;
	cr_assert_eq(check("{\"provider\":\"shipwire\",\"verify\":\"hmac\","
	    "\"encoding\":\"base64\",\"header\":\"X-Shipwire-Signature\","
	    "\"key\":\"s3cret\"}", &r), 0);
	/* integratorio is an alias of integrator-extension */
	f.h[1][0] = "Authorization";
	f.h[1][1] = "Bearer tok-1";
	cr_assert_eq(check("{\"provider\":\"integratorio\",\"verify\":"
	    "\"token\",\"tokenLocation\":\"header\",\"token\":\"tok-1\"}", &r),
	    0);
	free(sig);
}

Test(webhook_verify, hub_challenge_get)
{
	struct fake		 f = { 0 };
	struct webhook_request	 r = fake_request(&f, "GET", NULL, 0);
	const char		*w = "{\"verify\":\"token\",\"tokenLocation\":"
	    "\"header\",\"token\":\"tok-1\"}";

	f.q[0][0] = "hub.challenge";
	f.q[0][1] = "12345";
	f.q[1][0] = "hub.verify_token";
	f.q[1][1] = "tok-1";
	cr_assert_eq(check(w, &r), 0);
	f.q[1][1] = "tok-2";
	cr_assert_eq(check(w, &r), -1);
	/* without a challenge the verify_token means nothing */
	f.q[0][0] = "x";
	f.q[1][1] = "tok-1";
	cr_assert_eq(check(w, &r), -1);
}

Test(webhook_verify, token_body_nul_is_not_a_prefix_match)
{
	struct fake		 f = { 0 };
	const char		*json = "{\"t\":\"tok-1\\u0000junk\"}";
	struct webhook_request	 r = fake_request(&f, "POST", json,
				    strlen(json));

	cr_assert_eq(check("{\"verify\":\"token\",\"path\":\"t\","
	    "\"token\":\"tok-1\"}", &r), -1);
}

/* webhook_verify_body_path on the block in JSON text. */
static void
body_path_is(const char *webhook, const char *want)
{
	json_t		*w = json_loads(webhook, 0, NULL);
	const char	*got;

	cr_assert_not_null(w);
	got = webhook_verify_body_path(w);
	if (want == NULL)
		cr_assert_null(got, "%s: got %s", webhook, got);
	else
		cr_assert(got != NULL && strcmp(got, want) == 0, "%s: got %s",
		    webhook, got != NULL ? got : "NULL");
	json_decref(w);
}

Test(webhook_verify, body_path_of_the_credential)
{
	body_path_is("{\"provider\":\"custom\",\"verify\":\"token\","
	    "\"path\":\"a.t\",\"token\":\"tok-1\"}", "a.t");
	body_path_is("{\"provider\":\"typeform\",\"verify\":\"token\","
	    "\"tokenLocation\":\"body\",\"path\":\"t\",\"token\":\"tok-1\"}",
	    "t");
	body_path_is("{\"provider\":\"custom\",\"verify\":\"token\","
	    "\"tokenLocation\":\"header\",\"path\":\"t\",\"token\":\"tok-1\"}",
	    NULL);
	body_path_is("{\"provider\":\"custom\",\"verify\":\"token\","
	    "\"tokenLocation\":\"queryParam\",\"path\":\"t\"}", NULL);
	body_path_is("{\"provider\":\"custom\",\"verify\":\"hmac\","
	    "\"path\":\"t\"}", NULL);
	body_path_is("{\"provider\":\"custom\",\"path\":\"t\"}", NULL);
	body_path_is("{\"provider\":\"slack\",\"token\":\"tok-1\"}", "token");
	body_path_is("{\"provider\":\"slack\",\"token\":\"tok-1\","
	    "\"path\":\"m.v\"}", "m.v");
	body_path_is("{\"provider\":\"slack\",\"token\":\"tok-1\","
	    "\"key\":\"s3cret\"}", NULL);
	body_path_is("{\"provider\":\"slack\",\"token\":\"******\"}", NULL);
	body_path_is("{\"provider\":\"github\",\"verify\":\"token\","
	    "\"path\":\"t\",\"key\":\"s3cret\"}", NULL);
	body_path_is("{\"provider\":\"nosuch\",\"verify\":\"token\","
	    "\"path\":\"t\"}", NULL);
}

Test(webhook_verify, path_del_string)
{
	json_t	*doc;
	char	*s;

	doc = json_loads("{\"a\":{\"t\":\"x\",\"n\":1},\"l\":[\"y\",\"z\"],"
	    "\"d.k\":\"w\",\"o\":{}}", 0, NULL);

	cr_assert_eq(webhook_path_del_string(doc, "a.t"), 1);
	cr_assert_eq(webhook_path_del_string(doc, "a.n"), 0);
	cr_assert_eq(webhook_path_del_string(doc, "o"), 0);
	cr_assert_eq(webhook_path_del_string(doc, "l.0"), 1);
	cr_assert_eq(webhook_path_del_string(doc, "d.k"), 1);
	cr_assert_eq(webhook_path_del_string(doc, "missing"), 0);
	cr_assert_eq(webhook_path_del_string(doc, NULL), 0);
	cr_assert_eq(webhook_path_del_string(NULL, "a"), 0);
	s = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
	cr_assert_str_eq(s, "{\"a\":{\"n\":1},\"l\":[\"z\"],\"o\":{}}");
	free(s);
	json_decref(doc);
}
