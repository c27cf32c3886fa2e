/*
 * Webhook verification. A provider either has a built-in signature rule
 * (used whatever webhook.verify says), or is verified by its secret URL
 * unless webhook.verify names another method, or only by the method
 * webhook.verify names. Anything not understood is rejected.
 */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "util/buf.h"
#include "util/xmalloc.h"
#include "webhook/parse.h"
#include "webhook/verify.h"

#define VERIFY_MASKED	"******"

enum verify_rule {
	RULE_SIGNED,	/* built-in signature, whatever verify says */
	RULE_URL,	/* secret URL unless verify names another method */
	RULE_METHOD,	/* only the method verify names */
};

enum verify_enc { ENC_HEX, ENC_BASE64 };

struct verify_provider {
	const char		*name;
	enum verify_rule	 rule;
	int			(*check)(const json_t *,
				    const struct webhook_request *,
				    const char **);
};

/* One piece of the bytes a provider signs, in order. */
struct verify_part {
	const void	*p;
	size_t		 len;
};

static const char	*verify_secret(const json_t *, const char *);
static bool		 verify_secret_equal(const char *, const char *);
static int		 verify_sig_equal(const char *, enum verify_enc,
			    const unsigned char *, size_t);
static int		 verify_mac(const json_t *, const char *,
			    enum crypto_hash, enum verify_enc,
			    const struct verify_part *, size_t, const char **);
static int		 verify_fresh(const char *, int64_t, int64_t);
static int		 verify_github(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_shopify(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_slack(const json_t *,
			    const struct webhook_request *, const char **);
static const char	*verify_slack_path(const json_t *);
static int		 verify_dropbox(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_helpscout(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_hubspot(const json_t *,
			    const struct webhook_request *, const char **);
static char		*verify_hubspot_url(const char *);
static int		 verify_surveymonkey(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_trello(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_url(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_token(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_token_body(const json_t *,
			    const struct webhook_request *, const char *,
			    const char *, const char **);
static const char	*verify_token_header(const char *, const char *,
			    const char *);
static int		 verify_hmac(const json_t *,
			    const struct webhook_request *, const char **);
static const char	*verify_strip_algo(const char *);
static int		 verify_basic(const json_t *,
			    const struct webhook_request *, const char **);
static int		 verify_method(const json_t *,
			    const struct webhook_request *, const char *,
			    const char **);

static const struct verify_provider verify_providers[] = {
	{ "github", RULE_SIGNED, verify_github },
	{ "shopify", RULE_SIGNED, verify_shopify },
	{ "slack", RULE_SIGNED, verify_slack },
	{ "dropbox", RULE_SIGNED, verify_dropbox },
	{ "helpscout", RULE_SIGNED, verify_helpscout },
	{ "hubspot", RULE_SIGNED, verify_hubspot },
	{ "surveymonkey", RULE_SIGNED, verify_surveymonkey },
	{ "trello", RULE_SIGNED, verify_trello },

	{ "stripe", RULE_URL, NULL },
	{ "box", RULE_URL, NULL },
	{ "intercom", RULE_URL, NULL },
	{ "pagerduty", RULE_URL, NULL },
	{ "postmark", RULE_URL, NULL },
	{ "mailchimp", RULE_URL, NULL },
	{ "activecampaign", RULE_URL, NULL },
	{ "aha", RULE_URL, NULL },
	{ "jira", RULE_URL, NULL },
	{ "segment", RULE_URL, NULL },
	{ "recurly", RULE_URL, NULL },
	{ "parseur", RULE_URL, NULL },
	{ "mailparser", RULE_URL, NULL },
	{ "mailparser-io", RULE_URL, NULL },
	{ "sapariba", RULE_URL, NULL },

	/* custom (and no provider) must name its method: the explicit
	 * verify decides, and the model refuses it without one; no
	 * built-in rule known for the others (travis signs with RSA:
	 * "publickey") */
	{ "custom", RULE_METHOD, NULL },
	{ "shipwire", RULE_METHOD, NULL },
	{ "errorception", RULE_METHOD, NULL },
	{ "travis", RULE_METHOD, NULL },
	{ "travis-org", RULE_METHOD, NULL },
	{ "onfleet", RULE_METHOD, NULL },
	{ "happyreturns", RULE_METHOD, NULL },
	{ "typeform", RULE_METHOD, NULL },
	{ "integrator-extension", RULE_METHOD, NULL },
};
#define NPROVIDERS (sizeof verify_providers / sizeof verify_providers[0])

/* A stored secret, or NULL when absent, empty or still the mask. */
static const char *
verify_secret(const json_t *webhook, const char *name)
{
	const char	*s = webhook_string(webhook, name);

	if (s == NULL || *s == '\0' || strcmp(s, VERIFY_MASKED) == 0)
		return NULL;
	return s;
}

/* Constant-time equality of two strings (time depends on lengths only). */
static bool
verify_secret_equal(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return false;
	return crypto_equal(a, strlen(a), b, strlen(b));
}

/* Decode a received signature (surrounding blanks ignored; hex in either
 * case) and compare it with mac in constant time; 0 if equal. */
static int
verify_sig_equal(const char *sig, enum verify_enc enc,
    const unsigned char *mac, size_t maclen)
{
	unsigned char	got[64];
	size_t		len;
	int		n;
	bool		ok;

	while (*sig == ' ' || *sig == '\t')
		sig++;
	len = strlen(sig);
	while (len > 0 && (sig[len - 1] == ' ' || sig[len - 1] == '\t'))
		len--;
	if (enc == ENC_HEX)
		n = crypto_unhex(sig, len, got, sizeof got);
	else
		n = crypto_unbase64(sig, len, got, sizeof got);
	ok = n >= 0 && crypto_equal(got, (size_t)n, mac, maclen);
	crypto_wipe(got, sizeof got);
	return ok ? 0 : -1;
}

/*
 * HMAC with webhook.key over the parts, compared with sig (the header
 * value past any prefix; NULL when the header or its prefix is missing).
 * Parts are joined in a temporary copy only when there are several.
 */
static int
verify_mac(const json_t *webhook, const char *sig, enum crypto_hash hash,
    enum verify_enc enc, const struct verify_part *parts, size_t nparts,
    const char **why)
{
	unsigned char	 mac[64];
	const char	*key;
	const void	*data;
	struct buf	 joined;
	size_t		 i, len;
	int		 n, rc = -1;

	buf_init(&joined, 0);
	if ((key = verify_secret(webhook, "key")) == NULL) {
		*why = "no key stored";
		goto out;
	}
	if (sig == NULL) {
		*why = "signature header missing or malformed";
		goto out;
	}
	if (nparts == 1) {
		data = parts[0].p;
		len = parts[0].len;
	} else {
		for (i = 0; i < nparts; i++)
			buf_add(&joined, parts[i].p, parts[i].len);
		data = joined.data;
		len = joined.len;
	}
	n = crypto_hmac(hash, key, strlen(key), data, len, mac);
	if (n < 0) {
		*why = "hmac failed";
		goto out;
	}
	if (verify_sig_equal(sig, enc, mac, (size_t)n) != 0) {
		*why = "signature mismatch";
		goto out;
	}
	rc = 0;
out:
	crypto_wipe(mac, sizeof mac);
	buf_free(&joined);
	return rc;
}

/* A decimal timestamp in units of unit_ms within WEBHOOK_WINDOW_MS of now,
 * either way; 0 if so. */
static int
verify_fresh(const char *ts, int64_t unit_ms, int64_t now_ms)
{
	int64_t	v = 0, d;
	size_t	i, len;

	if (ts == NULL || (len = strlen(ts)) == 0 || len > 15)
		return -1;
	for (i = 0; i < len; i++) {
		if (ts[i] < '0' || ts[i] > '9')
			return -1;
		v = v * 10 + (ts[i] - '0');
	}
	d = v * unit_ms - now_ms;
	return d >= -WEBHOOK_WINDOW_MS && d <= WEBHOOK_WINDOW_MS ? 0 : -1;
}

/* GitHub: X-Hub-Signature-256 "sha256=<hex>" when sent, else the legacy
 * X-Hub-Signature "sha1=<hex>". */
static int
verify_github(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	 body = { req->body, req->bodylen };
	const char		*v;

	if ((v = webhook_header(req, "X-Hub-Signature-256")) != NULL)
		return verify_mac(w, webhook_prefix(v, "sha256="),
		    CRYPTO_SHA256, ENC_HEX, &body, 1, why);
	v = webhook_header(req, "X-Hub-Signature");
	return verify_mac(w, webhook_prefix(v, "sha1="), CRYPTO_SHA1, ENC_HEX,
	    &body, 1, why);
}

/* Shopify: X-Shopify-Hmac-Sha256, base64 HMAC-SHA256 of the body. */
static int
verify_shopify(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	body = { req->body, req->bodylen };

	return verify_mac(w, webhook_header(req, "X-Shopify-Hmac-Sha256"),
	    CRYPTO_SHA256, ENC_BASE64, &body, 1, why);
}

/*
 * Slack with a signing secret in key: X-Slack-Signature "v0=<hex>" of
 * HMAC-SHA256 over "v0:{X-Slack-Request-Timestamp}:{body}", the timestamp
 * within five minutes. Without a key, the legacy verification token: the
 * body's "token" (or webhook.path) must equal webhook.token.
 */
static int
verify_slack(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	 parts[4];
	const char		*ts, *v, *path;

	if (verify_secret(w, "key") == NULL) {
		if ((path = verify_slack_path(w)) == NULL) {
			*why = "no key stored";
			return -1;
		}
		return verify_token_body(w, req, verify_secret(w, "token"),
		    path, why);
	}
	ts = webhook_header(req, "X-Slack-Request-Timestamp");
	v = webhook_header(req, "X-Slack-Signature");
	if (ts == NULL || v == NULL) {
		*why = "signature header missing";
		return -1;
	}
	if (verify_fresh(ts, 1000, req->now_ms) != 0) {
		*why = "timestamp stale or malformed";
		return -1;
	}
	parts[0] = (struct verify_part){ "v0:", 3 };
	parts[1] = (struct verify_part){ ts, strlen(ts) };
	parts[2] = (struct verify_part){ ":", 1 };
	parts[3] = (struct verify_part){ req->body, req->bodylen };
	return verify_mac(w, webhook_prefix(v, "v0="), CRYPTO_SHA256, ENC_HEX,
	    parts, 4, why);
}

/* Dropbox: X-Dropbox-Signature, hex HMAC-SHA256 of the body. */
static int
verify_dropbox(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	body = { req->body, req->bodylen };

	return verify_mac(w, webhook_header(req, "X-Dropbox-Signature"),
	    CRYPTO_SHA256, ENC_HEX, &body, 1, why);
}

/* Help Scout: X-HelpScout-Signature, base64 HMAC-SHA1 of the body. */
static int
verify_helpscout(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	body = { req->body, req->bodylen };

	return verify_mac(w, webhook_header(req, "X-HelpScout-Signature"),
	    CRYPTO_SHA1, ENC_BASE64, &body, 1, why);
}

/* HubSpot signs the URL with these escapes decoded (its v3 rules). */
static char *
verify_hubspot_url(const char *url)
{
	static const char	*const from[] = { "%3A", "%2F", "%3F", "%40",
				    "%21", "%24", "%27", "%28", "%29", "%2A",
				    "%2C", "%3B" };
	static const char	 to[] = ":/?@!$'()*,;";
	char			*out, *o;
	size_t			 i;

	o = out = xmalloc(strlen(url) + 1);
	while (*url != '\0') {
		for (i = 0; i < sizeof from / sizeof from[0]; i++)
			if (strncasecmp(url, from[i], 3) == 0)
				break;
		if (i < sizeof from / sizeof from[0]) {
			*o++ = to[i];
			url += 3;
		} else
			*o++ = *url++;
	}
	*o = '\0';
	return out;
}

/*
 * HubSpot v3: X-HubSpot-Signature-v3, base64 HMAC-SHA256 over method, URL,
 * body and X-HubSpot-Request-Timestamp (milliseconds, within five
 * minutes). v1/v2 (a plain SHA-256 of secret + data) are not accepted.
 */
static int
verify_hubspot(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	 parts[4];
	const char		*ts, *v;
	char			*url;
	int			 rc;

	ts = webhook_header(req, "X-HubSpot-Request-Timestamp");
	v = webhook_header(req, "X-HubSpot-Signature-v3");
	if (ts == NULL || v == NULL) {
		*why = "signature header missing";
		return -1;
	}
	if (req->method == NULL || req->url == NULL) {
		*why = "request URL unknown";
		return -1;
	}
	if (verify_fresh(ts, 1, req->now_ms) != 0) {
		*why = "timestamp stale or malformed";
		return -1;
	}
	url = verify_hubspot_url(req->url);
	parts[0] = (struct verify_part){ req->method, strlen(req->method) };
	parts[1] = (struct verify_part){ url, strlen(url) };
	parts[2] = (struct verify_part){ req->body, req->bodylen };
	parts[3] = (struct verify_part){ ts, strlen(ts) };
	rc = verify_mac(w, v, CRYPTO_SHA256, ENC_BASE64, parts, 4, why);
	free(url);
	return rc;
}

/* SurveyMonkey: Sm-Signature, base64 HMAC-SHA1 of the body keyed with
 * webhook.key as stored (the user stores "api_key&api_secret"). */
static int
verify_surveymonkey(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	body = { req->body, req->bodylen };

	return verify_mac(w, webhook_header(req, "Sm-Signature"), CRYPTO_SHA1,
	    ENC_BASE64, &body, 1, why);
}

/* Trello: X-Trello-Webhook, base64 HMAC-SHA1 over body + callback URL. */
static int
verify_trello(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	struct verify_part	parts[2];

	if (req->url == NULL) {
		*why = "request URL unknown";
		return -1;
	}
	parts[0] = (struct verify_part){ req->body, req->bodylen };
	parts[1] = (struct verify_part){ req->url, strlen(req->url) };
	return verify_mac(w, webhook_header(req, "X-Trello-Webhook"),
	    CRYPTO_SHA1, ENC_BASE64, parts, 2, why);
}

/* secret_url: the {token} path segment equals webhook.token. */
static int
verify_url(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	const char	*token;

	if ((token = verify_secret(w, "token")) == NULL) {
		*why = "no token stored";
		return -1;
	}
	if (req->url_token == NULL) {
		*why = "URL token missing";
		return -1;
	}
	if (!verify_secret_equal(req->url_token, token)) {
		*why = "URL token mismatch";
		return -1;
	}
	return 0;
}

/* Token in the body at path (any parsed media type), or in the query
 * parameter of that name (the older schema checked both). */
static int
verify_token_body(const json_t *w, const struct webhook_request *req,
    const char *token, const char *path, const char **why)
{
	char		 err[WEBHOOK_WHYLEN];
	json_t		*doc = NULL, *v;
	const char	*got;
	bool		 ok = false;

	if (webhook_parse_body(w, req, &doc, err, sizeof err) == 0) {
		v = webhook_path_get(doc, path);
		if (json_is_string(v))
			ok = crypto_equal(json_string_value(v),
			    json_string_length(v), token, strlen(token));
	}
	if ((got = webhook_query(req, path)) != NULL)
		ok = verify_secret_equal(got, token) || ok;
	json_decref(doc);
	if (!ok) {
		*why = "token missing or mismatch";
		return -1;
	}
	return 0;
}

/* The token part of a header value under the scheme, or NULL when the
 * scheme's prefix is absent. */
static const char *
verify_token_header(const char *v, const char *scheme, const char *custom)
{
	const char	*p;

	if (scheme == NULL || strcasecmp(scheme, "bearer") == 0) {
		if ((p = webhook_prefix(v, "Bearer")) == NULL ||
		    (*p != ' ' && *p != '\t'))
			return NULL;
	} else if (strcasecmp(scheme, "custom") == 0 && custom != NULL &&
	    *custom != '\0') {
		if ((p = webhook_prefix(v, custom)) == NULL)
			return NULL;
	} else if (strcasecmp(scheme, "none") == 0 ||
	    strcasecmp(scheme, "custom") == 0)
		return v;
	else
		return NULL;
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* token: compared exactly at tokenLocation (body, header, queryParam). */
static int
verify_token(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	const char	*token, *loc, *name, *v, *path;

	if ((token = verify_secret(w, "token")) == NULL) {
		*why = "no token stored";
		return -1;
	}
	if ((loc = webhook_string(w, "tokenLocation")) == NULL ||
	    strcmp(loc, "body") == 0) {
		if ((path = webhook_string(w, "path")) == NULL ||
		    *path == '\0') {
			*why = "no token path configured";
			return -1;
		}
		return verify_token_body(w, req, token, path, why);
	}
	if (strcmp(loc, "header") == 0) {
		if ((name = webhook_string(w, "tokenHeaderName")) == NULL ||
		    *name == '\0')
			name = "Authorization";
		v = verify_token_header(webhook_header(req, name),
		    webhook_string(w, "tokenHeaderScheme"),
		    webhook_string(w, "customTokenScheme"));
	} else if (strcmp(loc, "queryParam") == 0) {
		if ((name = webhook_string(w, "tokenQueryParamName")) == NULL ||
		    *name == '\0') {
			*why = "no token parameter configured";
			return -1;
		}
		v = webhook_query(req, name);
	} else {
		*why = "unknown tokenLocation";
		return -1;
	}
	if (v == NULL || !verify_secret_equal(v, token)) {
		*why = "token missing or mismatch";
		return -1;
	}
	return 0;
}

/* Skip an "<algo>=" prefix such as "sha256=": letters, digits, '-' or '_'
 * then '=' with more than padding after it (base64 ends in '=' only). */
static const char *
verify_strip_algo(const char *v)
{
	const char	*p;

	for (p = v; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
	    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'; p++)
		;
	if (p == v || *p != '=' || p[strspn(p, "=")] == '\0')
		return v;
	return p + 1;
}

/* hmac: HMAC(algorithm, key, raw body) encoded as encoding, in header. */
static int
verify_hmac(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	static const struct {
		const char		*name;
		enum crypto_hash	 hash;
	} algos[] = {
		{ "sha1", CRYPTO_SHA1 }, { "sha256", CRYPTO_SHA256 },
		{ "sha384", CRYPTO_SHA384 }, { "sha512", CRYPTO_SHA512 },
	};
	struct verify_part	 body = { req->body, req->bodylen };
	const char		*algo, *enc, *header, *v;
	enum verify_enc		 e;
	size_t			 i;

	if ((algo = webhook_string(w, "algorithm")) == NULL)
		algo = "sha256";
	for (i = 0; i < sizeof algos / sizeof algos[0]; i++)
		if (strcasecmp(algo, algos[i].name) == 0)
			break;
	if (i == sizeof algos / sizeof algos[0]) {
		*why = "unknown hmac algorithm";
		return -1;
	}
	if ((enc = webhook_string(w, "encoding")) == NULL ||
	    strcasecmp(enc, "hex") == 0 || strcasecmp(enc, "hexadecimal") == 0)
		e = ENC_HEX;
	else if (strcasecmp(enc, "base64") == 0)
		e = ENC_BASE64;
	else {
		*why = "unknown hmac encoding";
		return -1;
	}
	if ((header = webhook_string(w, "header")) == NULL || *header == '\0') {
		*why = "no signature header configured";
		return -1;
	}
	if ((v = webhook_header(req, header)) != NULL) {
		while (*v == ' ' || *v == '\t')
			v++;
		v = verify_strip_algo(v);
	}
	return verify_mac(w, v, algos[i].hash, e, &body, 1, why);
}

/* basic: Authorization: Basic base64(username:password). */
static int
verify_basic(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	const char	*pass, *user, *v;
	unsigned char	*dec = NULL;
	char		*colon;
	size_t		 len = 0;
	int		 n = -1, rc = -1;
	bool		 ok;

	if ((pass = verify_secret(w, "password")) == NULL) {
		*why = "no password stored";
		goto out;
	}
	if ((user = webhook_string(w, "username")) == NULL)
		user = "";
	if ((v = webhook_prefix(webhook_header(req, "Authorization"),
	    "Basic")) == NULL || (*v != ' ' && *v != '\t')) {
		*why = "basic credentials missing";
		goto out;
	}
	v += strspn(v, " \t");
	len = strlen(v);
	while (len > 0 && (v[len - 1] == ' ' || v[len - 1] == '\t'))
		len--;
	dec = xmalloc(len / 4 * 3 + 1);
	if ((n = crypto_unbase64(v, len, dec, len / 4 * 3)) < 0 ||
	    (colon = memchr(dec, ':', (size_t)n)) == NULL) {
		*why = "basic credentials malformed";
		goto out;
	}
	/* both compared, whatever the first gives */
	ok = crypto_equal(dec, (size_t)(colon - (char *)dec), user,
	    strlen(user));
	ok = crypto_equal(colon + 1, (size_t)n - (size_t)(colon -
	    (char *)dec) - 1, pass, strlen(pass)) && ok;
	if (!ok) {
		*why = "basic credentials mismatch";
		goto out;
	}
	rc = 0;
out:
	if (dec != NULL)
		crypto_wipe(dec, len / 4 * 3 + 1);
	free(dec);
	return rc;
}

/* The generic method webhook.verify names. */
static int
verify_method(const json_t *w, const struct webhook_request *req,
    const char *verify, const char **why)
{
	if (strcmp(verify, "token") == 0)
		return verify_token(w, req, why);
	if (strcmp(verify, "hmac") == 0)
		return verify_hmac(w, req, why);
	if (strcmp(verify, "basic") == 0)
		return verify_basic(w, req, why);
	if (strcmp(verify, "secret_url") == 0)
		return verify_url(w, req, why);
	*why = strcmp(verify, "publickey") == 0 ?
	    "publickey verification not supported" : "unknown verify method";
	return -1;
}

/* The export's provider and the generic method that applies to it (NULL
 * for built-in signatures); NULL with *why set if there is none. */
static const struct verify_provider *
verify_resolve(const json_t *w, const char **verify, const char **why)
{
	const char	*name;
	size_t		 i;

	*verify = NULL;
	if (!json_is_object(w)) {
		*why = "no webhook block";
		return NULL;
	}
	if ((name = webhook_string(w, "provider")) == NULL || *name == '\0')
		name = "custom";
	if (strcmp(name, "integratorio") == 0)
		name = "integrator-extension";
	for (i = 0; i < NPROVIDERS; i++)
		if (strcmp(name, verify_providers[i].name) == 0)
			break;
	if (i == NPROVIDERS) {
		*why = "unknown provider";
		return NULL;
	}
	if (verify_providers[i].rule == RULE_SIGNED)
		return &verify_providers[i];
	if ((*verify = webhook_string(w, "verify")) != NULL && **verify == '\0')
		*verify = NULL;
	if (verify_providers[i].rule == RULE_URL && *verify == NULL)
		*verify = "secret_url";
	if (*verify == NULL) {
		*why = "no verify method for this provider";
		return NULL;
	}
	return &verify_providers[i];
}

/* The body path of slack's legacy verification token, or NULL when the
 * export verifies slack by its signing secret. */
static const char *
verify_slack_path(const json_t *w)
{
	const char	*path;

	if (verify_secret(w, "key") != NULL ||
	    verify_secret(w, "token") == NULL)
		return NULL;
	if ((path = webhook_string(w, "path")) == NULL || *path == '\0')
		path = "token";
	return path;
}

const char *
webhook_verify_body_path(const json_t *w)
{
	const struct verify_provider	*p;
	const char			*verify, *why, *loc, *path;

	if ((p = verify_resolve(w, &verify, &why)) == NULL)
		return NULL;
	if (p->check == verify_slack)
		return verify_slack_path(w);
	if (verify == NULL || strcmp(verify, "token") != 0)
		return NULL;
	if ((loc = webhook_string(w, "tokenLocation")) != NULL &&
	    strcmp(loc, "body") != 0)
		return NULL;
	if ((path = webhook_string(w, "path")) == NULL || *path == '\0')
		return NULL;
	return path;
}

int
webhook_verify(const json_t *w, const struct webhook_request *req,
    const char **why)
{
	const struct verify_provider	*p;
	const char			*verify, *dummy, *token, *got;
	bool				 by_url;

	if (why == NULL)
		why = &dummy;
	*why = "rejected";
	if ((p = verify_resolve(w, &verify, why)) == NULL)
		return -1;
	by_url = p->rule != RULE_SIGNED && strcmp(verify, "secret_url") == 0;
	if (req->url_token != NULL && !by_url) {
		*why = "URL token on an export not verified by URL";
		return -1;
	}

	/* Subscription challenges sent as GET */
	if (req->method != NULL && strcmp(req->method, "GET") == 0) {
		if (strcmp(p->name, "dropbox") == 0 &&
		    webhook_query(req, "challenge") != NULL) {
			*why = "dropbox challenge";
			return 0;
		}
		token = verify_secret(w, "token");
		got = webhook_query(req, "hub.verify_token");
		if (webhook_query(req, "hub.challenge") != NULL &&
		    token != NULL && got != NULL &&
		    verify_secret_equal(got, token)) {
			*why = "hub.verify_token";
			return 0;
		}
	}
	if (p->rule == RULE_SIGNED)
		return p->check(w, req, why) == 0 ? 0 : -1;
	return verify_method(w, req, verify, why) == 0 ? 0 : -1;
}
