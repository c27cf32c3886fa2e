/*
 * A connection's auth on the requests of a run: basic, token (header or
 * URL parameter), oauth (the clientcredentials and password grants fetch
 * a token from tokenURI) and cookie (a login request whose cookies go on
 * every request). Fetched tokens and cookies are cached per connection
 * (its id and revision, so a changed connection fetches again) until
 * they expire or the API says the auth failed (failStatusCode, failPath).
 * A connection's ping signs its one request here too (run_auth_sign).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crypto/crypto.h"
#include "run/internal.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

#define AUTH_CACHE	256	/* connections whose token or cookie is kept */

struct auth_entry {
	char	 key[128];
	char	*value;		/* token or Cookie header value */
	int64_t	 expires_ms;	/* 0: until the auth fails */
	int64_t	 used_ms;
};

static pthread_mutex_t	 auth_lock = PTHREAD_MUTEX_INITIALIZER;
static struct auth_entry auth_cache[AUTH_CACHE];

/* A copy of the cached value of key, or NULL. */
static char *
cache_get(const char *key, int64_t now)
{
	char	*v = NULL;
	size_t	 i;

	pthread_mutex_lock(&auth_lock);
	for (i = 0; i < AUTH_CACHE; i++)
		if (auth_cache[i].value != NULL &&
		    strcmp(auth_cache[i].key, key) == 0) {
			if (auth_cache[i].expires_ms == 0 ||
			    auth_cache[i].expires_ms > now) {
				v = xstrdup(auth_cache[i].value);
				auth_cache[i].used_ms = now;
			}
			break;
		}
	pthread_mutex_unlock(&auth_lock);
	return v;
}

static void
cache_drop(struct auth_entry *e)
{
	if (e->value != NULL) {
		crypto_wipe(e->value, strlen(e->value));
		free(e->value);
	}
	memset(e, 0, sizeof *e);
}

/* Keep value for key (the least recently used entry makes room). */
static void
cache_put(const char *key, const char *value, int64_t expires, int64_t now)
{
	size_t	 i, pick = 0;

	pthread_mutex_lock(&auth_lock);
	for (i = 0; i < AUTH_CACHE; i++) {
		if (auth_cache[i].value != NULL &&
		    strcmp(auth_cache[i].key, key) == 0) {
			pick = i;
			break;
		}
		if (auth_cache[i].used_ms < auth_cache[pick].used_ms)
			pick = i;
	}
	cache_drop(&auth_cache[pick]);
	snprintf(auth_cache[pick].key, sizeof auth_cache[pick].key, "%s", key);
	auth_cache[pick].value = xstrdup(value);
	auth_cache[pick].expires_ms = expires;
	auth_cache[pick].used_ms = now;
	pthread_mutex_unlock(&auth_lock);
}

void
run_auth_flush(void)
{
	size_t	 i;

	pthread_mutex_lock(&auth_lock);
	for (i = 0; i < AUTH_CACHE; i++)
		cache_drop(&auth_cache[i]);
	pthread_mutex_unlock(&auth_lock);
}

char *
run_url_encode(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	struct buf		 b;
	unsigned char		 c;

	buf_init(&b, 0);
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~')
			buf_addc(&b, (char)c);
		else {
			buf_addc(&b, '%');
			buf_addc(&b, hex[c >> 4]);
			buf_addc(&b, hex[c & 15]);
		}
	}
	buf_addc(&b, '\0');
	return buf_steal(&b, NULL);
}

/* Send a token as auth.token says: a header, or a URL parameter. */
static void
token_place(struct run *r, struct run_req *q, const char *token)
{
	const char	*loc = run_str(r->conn, "auth.token.location");
	const char	*hn = run_str(r->conn, "auth.token.headerName");
	const char	*scheme = run_str(r->conn, "auth.token.scheme");
	const char	*pn = run_str(r->conn, "auth.token.paramName");
	char		*v, *enc;
	size_t		 n;

	run_secret(r, token);
	if (loc != NULL && strcmp(loc, "url") == 0) {
		enc = run_url_encode(token);
		run_secret(r, enc);
		n = strlen(q->url) + strlen(enc) + 64;
		v = xmalloc(n);
		snprintf(v, n, "%s%c%s=%s", q->url, strchr(q->url, '?') ?
		    '&' : '?', pn != NULL ? pn : "access_token", enc);
		free(q->url);
		q->url = v;
		free(enc);
		return;
	}
	if (scheme == NULL)
		scheme = "Bearer";
	while (*scheme == ' ')
		scheme++;
	n = strlen(scheme) + strlen(token) + 2;
	v = xmalloc(n);
	snprintf(v, n, "%s%s%s", scheme, *scheme != '\0' ? " " : "", token);
	run_req_add(q, hn != NULL ? hn : "Authorization", v, FETCH_SECRET);
	free(v);
}

/* A URL of the auth block: absolute, or relative to baseURI. */
static char *
auth_url(struct run *r, const char *uri)
{
	const char	*base = run_str(r->conn, "baseURI");
	char		*url;
	size_t		 n;

	if (strncasecmp(uri, "http", 4) == 0 || base == NULL)
		return xstrdup(uri);
	n = strlen(base) + strlen(uri) + 2;
	url = xmalloc(n);
	snprintf(url, n, "%s%s%s", base, *uri == '/' ? "" : "/", uri);
	return url;
}

/* Add name=value (encoded) to a form body. */
static void
form_add(struct buf *b, const char *name, const char *value)
{
	char	*e;

	if (value == NULL)
		return;
	e = run_url_encode(value);
	buf_printf(b, "%s%s=%s", b->len > 0 ? "&" : "", name, e);
	crypto_wipe(e, strlen(e));
	free(e);
}

/* The scope list joined by scopeDelimiter (a space by default). */
static void
form_scope(struct run *r, struct buf *f)
{
	const json_t	*sc = json_path_get(r->conn, "auth.oauth.scope");
	const char	*d = run_str(r->conn, "auth.oauth.scopeDelimiter");
	struct buf	 s;
	json_t		*v;
	size_t		 i;

	if (json_array_size(sc) == 0)
		return;
	buf_init(&s, 0);
	json_array_foreach(sc, i, v)
		buf_printf(&s, "%s%s", i > 0 ? (d != NULL ? d : " ") : "",
		    json_string_value(v) ? json_string_value(v) : "");
	buf_addc(&s, '\0');
	form_add(f, "scope", s.data);
	buf_free(&s);
}

/* POST tokenURI for a clientcredentials or password grant: the access
 * token (caller frees), or NULL with an error added. */
static char *
oauth_fetch(struct run *r, struct fetch_client *fc, int64_t *expires)
{
	const json_t		*o = json_path_get(r->conn, "auth.oauth");
	const char		*grant = run_str(o, "grantType");
	const char		*id = run_str(o, "clientId");
	const char		*secret = run_str(o, "clientSecret");
	const char		*loc = run_str(o, "clientCredentialsLocation");
	const char		*tp = run_str(o, "accessTokenPath");
	struct fetch_header	 h[3];
	struct fetch_request	 fr;
	struct fetch_response	 resp;
	struct buf		 f, cred;
	json_t			*doc = NULL;
	char			*url, *b64 = NULL, *tok = NULL;
	size_t			 nh = 0;

	buf_init(&f, 0);
	memset(&fr, 0, sizeof fr);
	memset(&resp, 0, sizeof resp);
	form_add(&f, "grant_type", grant != NULL && strcmp(grant,
	    "password") == 0 ? "password" : "client_credentials");
	if (grant != NULL && strcmp(grant, "password") == 0) {
		form_add(&f, "username", run_str(o, "username"));
		form_add(&f, "password", run_str(o, "password"));
	}
	form_scope(r, &f);
	h[nh++] = (struct fetch_header){ "Content-Type",
	    "application/x-www-form-urlencoded", 0 };
	h[nh++] = (struct fetch_header){ "Accept", "application/json", 0 };
	if (loc != NULL && strcmp(loc, "body") == 0) {
		form_add(&f, "client_id", id);
		form_add(&f, "client_secret", secret);
	} else if (id != NULL) {
		buf_init(&cred, 0);
		buf_printf(&cred, "%s:%s", id, secret != NULL ? secret : "");
		b64 = crypto_base64(cred.data, cred.len);
		crypto_wipe(cred.data, cred.len);
		buf_free(&cred);
		buf_init(&cred, 0);
		buf_printf(&cred, "Basic %s", b64);
		buf_addc(&cred, '\0');
		run_secret(r, b64);
		free(b64);
		b64 = buf_steal(&cred, NULL);
		h[nh++] = (struct fetch_header){ "Authorization", b64,
		    FETCH_SECRET };
	}
	url = auth_url(r, run_str(o, "tokenURI") ? run_str(o, "tokenURI") :
	    "");
	fr.method = "POST";
	fr.url = url;
	fr.headers = h;
	fr.nheaders = nh;
	fr.body = f.data;
	fr.body_len = f.len;
	if (fetch_do(fc, &fr, &resp) == -1)
		run_error(r, "auth_failed", "connection", 0, "the OAuth token "
		    "request failed: %s", resp.message);
	else if (resp.status < 200 || resp.status >= 300)
		run_error(r, "auth_failed", "connection", resp.status, "the "
		    "OAuth token request was answered %ld", resp.status);
	else if ((doc = json_parse(resp.body, resp.body_len, 32, NULL)) ==
	    NULL || json_string_value(json_path_get(doc, tp != NULL ? tp :
	    "access_token")) == NULL)
		run_error(r, "auth_failed", "connection", resp.status, "the "
		    "OAuth token response has no token at %s", tp != NULL ? tp :
		    "access_token");
	else {
		tok = xstrdup(json_string_value(json_path_get(doc, tp != NULL ?
		    tp : "access_token")));
		if (json_integer_value(json_object_get(doc, "expires_in")) > 0)
			*expires = isotime_now_ms() + 1000 * json_integer_value(
			    json_object_get(doc, "expires_in"));
	}
	json_decref(doc);
	fetch_response_free(&resp);
	crypto_wipe(f.data, f.len);
	buf_free(&f);
	if (b64 != NULL) {
		crypto_wipe(b64, strlen(b64));
		free(b64);
	}
	free(url);
	return tok;
}

/* The cookie.uri login: its cookies as a Cookie header value (caller
 * frees), or NULL with an error added. */
static char *
cookie_fetch(struct run *r, struct fetch_client *fc)
{
	const json_t		*c = json_path_get(r->conn, "auth.cookie");
	const char		*m = run_str(c, "method");
	const char		*tb = run_str(c, "body");
	long			 want = (long)json_integer_value(
				    json_object_get(c, "successStatusCode"));
	struct fetch_header	 h[1] = { { "Content-Type",
				    "application/json", 0 } };
	struct fetch_request	 fr;
	struct fetch_response	 resp;
	struct buf		 out;
	char			*url, *body = NULL;
	size_t			 i;

	memset(&fr, 0, sizeof fr);
	memset(&resp, 0, sizeof resp);
	if (tb != NULL && (body = run_render(r, tb,
	    "connection.http.auth.cookie.body")) == NULL)
		return NULL;
	url = auth_url(r, run_str(c, "uri") ? run_str(c, "uri") : "");
	fr.method = m != NULL ? m : "POST";
	fr.url = url;
	fr.headers = h;
	fr.nheaders = body != NULL ? 1 : 0;
	fr.body = body;
	fr.body_len = body != NULL ? strlen(body) : 0;
	buf_init(&out, 0);
	if (fetch_do(fc, &fr, &resp) == -1)
		run_error(r, "auth_failed", "connection", 0, "the cookie login "
		    "failed: %s", resp.message);
	else if (want > 0 ? resp.status != want : (resp.status < 200 ||
	    resp.status >= 300))
		run_error(r, "auth_failed", "connection", resp.status, "the "
		    "cookie login was answered %ld", resp.status);
	else
		for (i = 0; i < resp.nheaders; i++)
			if (strcasecmp(resp.headers[i].name, "Set-Cookie") == 0)
				buf_printf(&out, "%s%.*s", out.len > 0 ? "; " :
				    "", (int)strcspn(resp.headers[i].value,
				    ";"), resp.headers[i].value);
	fetch_response_free(&resp);
	if (body != NULL) {
		crypto_wipe(body, strlen(body));
		free(body);
	}
	free(url);
	if (out.len == 0) {
		if (json_array_size(r->errors) == 0)
			run_error(r, "auth_failed", "connection", 0, "the "
			    "cookie login set no cookie");
		buf_free(&out);
		return NULL;
	}
	buf_addc(&out, '\0');
	return buf_steal(&out, NULL);
}

/* Whether the auth type fetches what it sends (and may fetch it again). */
static bool
auth_fetches(const struct run *r)
{
	const char	*t = run_str(r->conn, "auth.type");
	const char	*g = run_str(r->conn, "auth.oauth.grantType");

	if (t == NULL)
		return false;
	if (strcmp(t, "cookie") == 0)
		return true;
	return strcmp(t, "oauth") == 0 && g != NULL &&
	    (strcmp(g, "clientcredentials") == 0 || strcmp(g, "password") == 0);
}

int
run_auth_check(const json_t *conn, char *why, size_t whysz)
{
	const char	*auth = run_str(conn, "auth.type");
	const char	*grant = run_str(conn, "auth.oauth.grantType");
	const char	*loc;

	if (auth != NULL && strcmp(auth, "basic") != 0 &&
	    strcmp(auth, "token") != 0 && strcmp(auth, "oauth") != 0 &&
	    strcmp(auth, "custom") != 0 && strcmp(auth, "cookie") != 0) {
		snprintf(why, whysz, "the connection's auth type %s is not "
		    "supported for running exports", auth);
		return -1;
	}
	if (auth != NULL && strcmp(auth, "token") == 0 && (loc = run_str(conn,
	    "auth.token.location")) != NULL && strcmp(loc, "header") != 0 &&
	    strcmp(loc, "url") != 0) {
		snprintf(why, whysz, "the connection's token location %s is not "
		    "supported for running exports (header or url)", loc);
		return -1;
	}
	if (auth != NULL && strcmp(auth, "oauth") == 0 && grant != NULL &&
	    strcmp(grant, "clientcredentials") != 0 &&
	    strcmp(grant, "password") != 0 &&
	    run_str(conn, "auth.token.token") == NULL) {
		snprintf(why, whysz, "the connection's oauth grant %s needs a "
		    "token in http.auth.token.token", grant);
		return -1;
	}
	return 0;
}

int
run_auth_apply(struct run *r, struct fetch_client *fc, struct run_req *q)
{
	const char	*t = run_str(r->conn, "auth.type");
	const char	*u, *p;
	char		*v, *b64;
	int64_t		 exp = 0, now = isotime_now_ms();
	struct buf	 b;

	if (t == NULL || strcmp(t, "custom") == 0)
		return 0;
	if (strcmp(t, "basic") == 0) {
		u = run_str(r->conn, "auth.basic.username");
		p = run_str(r->conn, "auth.basic.password");
		buf_init(&b, 0);
		buf_printf(&b, "%s:%s", u != NULL ? u : "", p != NULL ? p : "");
		b64 = crypto_base64(b.data, b.len);
		crypto_wipe(b.data, b.len);
		buf_reset(&b);
		buf_printf(&b, "Basic %s", b64);
		buf_addc(&b, '\0');
		run_secret(r, b64);
		run_req_add(q, "Authorization", b.data, FETCH_SECRET);
		crypto_wipe(b.data, b.len);
		buf_free(&b);
		free(b64);
		return 0;
	}
	if (!auth_fetches(r)) {
		if ((p = run_str(r->conn, "auth.token.token")) != NULL)
			token_place(r, q, p);
		return 0;
	}
	/* a connection without an id (unsaved) shares no cache entry */
	if (*r->conn_id == '\0' || (v = cache_get(r->conn_key, now)) == NULL) {
		v = strcmp(t, "cookie") == 0 ? cookie_fetch(r, fc) :
		    oauth_fetch(r, fc, &exp);
		if (v == NULL)
			return -1;
		if (*r->conn_id != '\0')
			cache_put(r->conn_key, v, exp, now);
	}
	run_secret(r, v);
	if (strcmp(t, "cookie") == 0)
		run_req_add(q, "Cookie", v, FETCH_SECRET);
	else
		token_place(r, q, v);
	crypto_wipe(v, strlen(v));
	free(v);
	return 0;
}

bool
run_auth_failed(const struct run *r, long status, const json_t *doc)
{
	long		 fs = (long)json_integer_value(json_path_get(r->conn,
			    "auth.failStatusCode"));
	const char	*fp = run_str(r->conn, "auth.failPath");
	const json_t	*v;

	if (status == (fs > 0 ? fs : 401))
		return true;
	return fp != NULL && doc != NULL && (v = json_path_get(doc, fp)) !=
	    NULL && run_value_in(v, json_path_get(r->conn, "auth.failValues"),
	    false);
}

int
run_auth_forget(struct run *r)
{
	size_t	 i;

	if (!auth_fetches(r))
		return 0;
	pthread_mutex_lock(&auth_lock);
	for (i = 0; i < AUTH_CACHE; i++)
		if (auth_cache[i].value != NULL &&
		    strcmp(auth_cache[i].key, r->conn_key) == 0)
			cache_drop(&auth_cache[i]);
	pthread_mutex_unlock(&auth_lock);
	return 1;
}

enum run_auth_result
run_auth_sign(const struct run_input *in, struct fetch_client *fc,
    const char *url, struct run_signed *out)
{
	struct run		*r = run_base_new(in);
	struct run_req		 q;
	char			 why[RUN_MAX_MESSAGE];
	enum run_auth_result	 rc = RUN_AUTH_UNSUPPORTED;

	memset(out, 0, sizeof *out);
	memset(&q, 0, sizeof q);
	q.url = xstrdup(url);
	if (run_auth_check(r->conn, why, sizeof why) == -1) {
		out->why = xstrdup(why);
		goto out;
	}
	rc = RUN_AUTH_FAILED;
	run_auth_forget(r);
	if (run_auth_apply(r, fc, &q) == -1) {
		out->why = xstrdup(run_str(json_array_get(r->errors, 0),
		    "message") ? run_str(json_array_get(r->errors, 0),
		    "message") : "the login failed");
		goto out;
	}
	rc = RUN_AUTH_OK;
	out->url = q.url;
	q.url = NULL;
	if (q.nh > 0) {
		out->name = xstrdup(q.hname[0]);
		out->value = xstrdup(q.hvalue[0]);
	}
out:
	out->masks = json_incref(r->secrets);
	if (q.nh > 0)
		crypto_wipe(q.hvalue[0], strlen(q.hvalue[0]));
	run_req_free(&q);
	run_free(r);
	return rc;
}

void
run_signed_free(struct run_signed *s)
{
	if (s->value != NULL)
		crypto_wipe(s->value, strlen(s->value));
	if (s->url != NULL)
		crypto_wipe(s->url, strlen(s->url));
	free(s->url);
	free(s->name);
	free(s->value);
	free(s->why);
	json_decref(s->masks);
	memset(s, 0, sizeof *s);
}
