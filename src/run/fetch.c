/* One outbound HTTP request on a libcurl easy handle, under the egress
 * policy. The policy is asked in the socket-open callback, with the
 * address libcurl resolved and is about to connect to: a name that
 * resolves to a refused address gets no socket at all. */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <openssl/x509.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "run/fetch.h"
#include "util/buf.h"
#include "util/isotime.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/random.h"
#include "util/xmalloc.h"

struct fetch_client {
	CURL			*curl;
	const struct egress	*egress;
	struct fetch_limits	 lim;
	/* the request being sent */
	char			*host;		/* its URL's host, for names */
	unsigned		 opened;	/* sockets the policy allowed */
	unsigned		 denied;	/* and refused */
	enum egress_class	 denied_class;
	char			 denied_ip[INET6_ADDRSTRLEN];
	struct buf		 body;
	int			 body_over;
	struct fetch_field	*fields;
	size_t			 nfields;
	size_t			 header_bytes;
	int			 headers_over;
	int			 requested;	/* connected, request sent */
};

/* One hop's request: what the redirects have made of the caller's. */
struct fetch_hop {
	char		*url;
	const char	*method;
	int		 with_body;	/* 0 once a redirect turned it to GET */
	int		 credentials;	/* 0 once a redirect left the origin */
};

static pthread_once_t	fetch_once = PTHREAD_ONCE_INIT;
static CURLcode		fetch_init_rc;

static void
fetch_global_init(void)
{
	fetch_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

void
fetch_limits_default(struct fetch_limits *l)
{
	l->connect_timeout_ms = LIMIT_EGRESS_CONNECT_TIMEOUT * 1000L;
	l->timeout_ms = LIMIT_EGRESS_TIMEOUT * 1000L;
	l->max_response = LIMIT_EGRESS_RESPONSE;
	l->max_redirects = LIMIT_EGRESS_REDIRECTS;
	l->retries = LIMIT_EGRESS_RETRIES;
	l->max_retry_after_ms = LIMIT_EGRESS_RETRY_AFTER * 1000L;
	l->backoff_ms = LIMIT_EGRESS_BACKOFF_MS;
}

struct fetch_client *
fetch_client_new(const struct egress *e, const struct fetch_limits *lim)
{
	struct fetch_client	*c;
	CURL			*curl;

	pthread_once(&fetch_once, fetch_global_init);
	if (fetch_init_rc != CURLE_OK || (curl = curl_easy_init()) == NULL) {
		log_error("fetch: libcurl could not be set up");
		return NULL;
	}
	c = xcalloc(1, sizeof(*c));
	c->curl = curl;
	c->egress = e;
	c->lim = *lim;
	buf_init(&c->body, lim->max_response);
	return c;
}

static void
fields_free(struct fetch_field *f, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++) {
		free(f[i].name);
		free(f[i].value);
	}
	free(f);
}

/* Forget the answer of the last request sent (before a retry or a hop). */
static void
client_reset_answer(struct fetch_client *c)
{
	fields_free(c->fields, c->nfields);
	c->fields = NULL;
	c->nfields = 0;
	c->header_bytes = 0;
	c->headers_over = 0;
	buf_reset(&c->body);
	c->body_over = 0;
	c->opened = c->denied = 0;
	c->denied_ip[0] = '\0';
}

void
fetch_client_free(struct fetch_client *c)
{
	if (c == NULL)
		return;
	client_reset_answer(c);
	buf_free(&c->body);
	free(c->host);
	curl_easy_cleanup(c->curl);
	free(c);
}

void
fetch_response_free(struct fetch_response *r)
{
	fields_free(r->headers, r->nheaders);
	free(r->body);
	free(r->url);
	memset(r, 0, sizeof(*r));
}

static const char *const error_codes[] = {
	"ok", "egress_denied", "bad_url", "bad_request", "dns", "refused",
	"timeout", "tls", "too_large", "too_many_redirects", "connection",
	"failed",
};

const char *
fetch_error_code(enum fetch_error e)
{
	if ((size_t)e >= sizeof(error_codes) / sizeof(error_codes[0]))
		return "failed";
	return error_codes[e];
}

int64_t
fetch_retry_after_parse(const char *s, int64_t now_ms)
{
	const char	*p;
	time_t		 t;
	int64_t		 secs = 0;

	s += strspn(s, " \t");
	for (p = s; *p >= '0' && *p <= '9'; p++) {
		secs = secs * 10 + (*p - '0');
		if (secs > 86400 * 365)
			return -1;
	}
	if (p != s && p[strspn(p, " \t")] == '\0')
		return secs * 1000;
	if (p != s || (t = curl_getdate(s, NULL)) == -1)
		return -1;
	return (int64_t)t * 1000 > now_ms ? (int64_t)t * 1000 - now_ms : 0;
}

/* A URL parsed by libcurl, or NULL if it is not http(s) with a host. */
static CURLU *
url_parse(const char *url)
{
	CURLU	*u = curl_url();
	char	*scheme = NULL;
	int	 ok;

	ok = curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    (strcmp(scheme, "http") == 0 || strcmp(scheme, "https") == 0);
	curl_free(scheme);
	if (!ok) {
		curl_url_cleanup(u);
		return NULL;
	}
	return u;
}

/* scheme://host:port of a parsed URL (the port always written), or NULL;
 * the caller frees it. */
static char *
url_origin_new(CURLU *u)
{
	char	*scheme = NULL, *host = NULL, *port = NULL, *o = NULL;

	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) ==
	    CURLUE_OK)
		o = xasprintf("%s://%s:%s", scheme, host, port);
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	return o;
}

void
fetch_url_origin(const char *url, char *out, size_t outsz)
{
	CURLU	*u;
	char	*scheme = NULL, *host = NULL, *port = NULL;

	snprintf(out, outsz, "(invalid URL)");
	if ((u = url_parse(url)) == NULL)
		return;
	if (curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
		if (curl_url_get(u, CURLUPART_PORT, &port, 0) == CURLUE_OK)
			snprintf(out, outsz, "%s://%s:%s", scheme, host, port);
		else
			snprintf(out, outsz, "%s://%s", scheme, host);
	}
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
}

/* Do two URLs have the same scheme, host and port? */
static int
same_origin(const char *a, const char *b)
{
	CURLU	*ua = url_parse(a), *ub = url_parse(b);
	char	*oa = NULL, *ob = NULL;
	int	 same;

	if (ua != NULL)
		oa = url_origin_new(ua);
	if (ub != NULL)
		ob = url_origin_new(ub);
	same = oa != NULL && ob != NULL && strcasecmp(oa, ob) == 0;
	free(oa);
	free(ob);
	curl_url_cleanup(ua);
	curl_url_cleanup(ub);
	return same;
}

/* Every socket libcurl opens passes here with the address it resolved. */
static curl_socket_t
fetch_opensocket(void *clientp, curlsocktype purpose,
    struct curl_sockaddr *a)
{
	struct fetch_client	*c = clientp;
	enum egress_class	 class = EGRESS_RESERVED;
	curl_socket_t		 s;

	if (purpose != CURLSOCKTYPE_IPCXN || !egress_check(c->egress, c->host,
	    &a->addr, a->addrlen, &class)) {
		c->denied++;
		c->denied_class = class;
		if (a->family == AF_INET)
			inet_ntop(AF_INET, &((struct sockaddr_in *)(void *)
			    &a->addr)->sin_addr, c->denied_ip,
			    sizeof(c->denied_ip));
		else if (a->family == AF_INET6)
			inet_ntop(AF_INET6, &((struct sockaddr_in6 *)(void *)
			    &a->addr)->sin6_addr, c->denied_ip,
			    sizeof(c->denied_ip));
		return CURL_SOCKET_BAD;
	}
	if ((s = socket(a->family, a->socktype | SOCK_CLOEXEC,
	    a->protocol)) == -1)
		return CURL_SOCKET_BAD;
	c->opened++;
	return s;
}

static size_t
fetch_write(char *data, size_t size, size_t n, void *clientp)
{
	struct fetch_client	*c = clientp;

	if (buf_add(&c->body, data, size * n) == -1) {
		c->body_over = 1;
		return 0;	/* libcurl stops: CURLE_WRITE_ERROR */
	}
	return size * n;
}

/* Keep one header line; a status line starts a new answer (after 1xx). */
static size_t
fetch_header(char *data, size_t size, size_t n, void *clientp)
{
	struct fetch_client	*c = clientp;
	size_t			 len = size * n, k;
	struct fetch_field	*f;

	c->header_bytes += len;
	if (c->header_bytes > LIMIT_EGRESS_HEADERS) {
		c->headers_over = 1;
		return 0;
	}
	while (len > 0 && (data[len - 1] == '\r' || data[len - 1] == '\n'))
		len--;
	if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
		fields_free(c->fields, c->nfields);
		c->fields = NULL;
		c->nfields = 0;
		return size * n;
	}
	if (len == 0)
		return size * n;
	if ((data[0] == ' ' || data[0] == '\t') && c->nfields > 0) {
		/* an obsolete folded line continues the last value */
		f = &c->fields[c->nfields - 1];
		k = strspn(data, " \t");
		f->value = xrealloc(f->value, strlen(f->value) + len - k + 2);
		strcat(f->value, " ");
		strncat(f->value, data + k, len - k);
		return size * n;
	}
	if ((k = strcspn(data, ":")) >= len)
		return size * n;	/* not a header: ignored */
	c->fields = xrealloc(c->fields, (c->nfields + 1) * sizeof(*c->fields));
	f = &c->fields[c->nfields++];
	f->name = xstrndup(data, k);
	for (k++; k < len && (data[k] == ' ' || data[k] == '\t'); k++)
		;
	while (len > k && (data[len - 1] == ' ' || data[len - 1] == '\t'))
		len--;
	f->value = xstrndup(data + k, len - k);
	return size * n;
}

/* libcurl calls this once connected, before the request goes out. */
static int
fetch_prereq(void *clientp, char *ip, char *local_ip, int port,
    int local_port)
{
	struct fetch_client	*c = clientp;

	(void)ip;
	(void)local_ip;
	(void)port;
	(void)local_port;
	c->requested = 1;
	return CURL_PREREQFUNC_OK;
}

static void
fetch_fail(struct fetch_response *r, enum fetch_error e, const char *fmt,
    ...) __attribute__((format(printf, 3, 4)));

static void
fetch_fail(struct fetch_response *r, enum fetch_error e, const char *fmt,
    ...)
{
	va_list	ap;

	r->error = e;
	va_start(ap, fmt);
	vsnprintf(r->message, sizeof(r->message), fmt, ap);
	va_end(ap);
}

static const char *
field_find(const struct fetch_field *f, size_t n, const char *name)
{
	size_t	i;

	for (i = 0; i < n; i++)
		if (strcasecmp(f[i].name, name) == 0)
			return f[i].value;
	return NULL;
}

const char *
fetch_response_header(const struct fetch_response *r, const char *name)
{
	return field_find(r->headers, r->nheaders, name);
}

/* Credentials go only to the origin of the caller's URL. */
static int
is_credential(const struct fetch_header *h)
{
	return (h->flags & FETCH_SECRET) != 0 ||
	    strcasecmp(h->name, "Authorization") == 0 ||
	    strcasecmp(h->name, "Proxy-Authorization") == 0 ||
	    strcasecmp(h->name, "Cookie") == 0;
}

static struct curl_slist *
slist_add(struct curl_slist *l, char *line)
{
	struct curl_slist	*n;

	if ((n = curl_slist_append(l, line)) == NULL) {
		log_error("fetch: out of memory");
		abort();
	}
	free(line);
	return n;
}

/* The header lines of a hop; libcurl's own Expect, and its form
 * Content-Type when a body has none, are switched off. */
static struct curl_slist *
hop_headers(const struct fetch_request *req, const struct fetch_hop *hop)
{
	struct curl_slist	*l = NULL;
	const struct fetch_header *h;
	int			 ua = 0, ct = 0, expect = 0;
	size_t			 i;

	for (i = 0; i < req->nheaders; i++) {
		h = &req->headers[i];
		if (!hop->credentials && is_credential(h))
			continue;
		if (strcasecmp(h->name, "Content-Type") == 0) {
			if (!hop->with_body)
				continue;
			ct = 1;
		}
		ua |= strcasecmp(h->name, "User-Agent") == 0;
		expect |= strcasecmp(h->name, "Expect") == 0;
		/* "Name;" is how libcurl sends a header with no value */
		l = slist_add(l, h->value[0] != '\0' ?
		    xasprintf("%s: %s", h->name, h->value) :
		    xasprintf("%s;", h->name));
	}
	if (!ua)
		l = slist_add(l, xstrdup("User-Agent: exportd/" EXPORTD_VERSION));
	if (!expect)
		l = slist_add(l, xstrdup("Expect:"));
	if (!ct && hop->with_body)
		l = slist_add(l, xstrdup("Content-Type:"));
	return l;
}

/* Is s an HTTP token (a method or a header name)? */
static int
is_token(const char *s, size_t max)
{
	size_t	n = strlen(s);

	return n > 0 && n <= max && strspn(s, "abcdefghijklmnopqrstuvwxyz"
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~") == n;
}

/* Refuse what cannot be sent as it is (a line break would start a header
 * of its own). Names are tokens, so they may be named in the message. */
static int
fetch_check_request(const struct fetch_request *req, struct fetch_response *r)
{
	CURLU	*u;
	size_t	 i;

	if (req->method != NULL && !is_token(req->method, 32)) {
		fetch_fail(r, FETCH_BAD_REQUEST, "the method is not a token");
		return -1;
	}
	for (i = 0; i < req->nheaders; i++) {
		if (!is_token(req->headers[i].name, 256)) {
			fetch_fail(r, FETCH_BAD_REQUEST, "header %zu: the name "
			    "is not a token", i + 1);
			return -1;
		}
		if (strpbrk(req->headers[i].value, "\r\n") != NULL) {
			fetch_fail(r, FETCH_BAD_REQUEST, "header %s: the value "
			    "holds a line break", req->headers[i].name);
			return -1;
		}
	}
	if ((u = url_parse(req->url)) == NULL) {
		fetch_fail(r, FETCH_BAD_URL, "the URL is not an absolute "
		    "http or https URL");
		return -1;
	}
	curl_url_cleanup(u);
	return 0;
}

static void
fetch_setopt(struct fetch_client *c, const struct fetch_request *req,
    const struct fetch_hop *hop, struct curl_slist *headers)
{
	CURL	*h = c->curl;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, hop->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	/* the policy judges the address connected to: never a proxy's */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->lim.connect_timeout_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->lim.timeout_ms);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE,
	    (curl_off_t)c->lim.max_response);
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
	curl_easy_setopt(h, CURLOPT_OPENSOCKETFUNCTION, fetch_opensocket);
	curl_easy_setopt(h, CURLOPT_OPENSOCKETDATA, c);
	curl_easy_setopt(h, CURLOPT_PREREQFUNCTION, fetch_prereq);
	curl_easy_setopt(h, CURLOPT_PREREQDATA, c);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, fetch_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, fetch_header);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, req->insecure ? 0L : 1L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, req->insecure ? 0L : 2L);
	if (strcmp(hop->method, "HEAD") == 0) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
		return;
	}
	if (hop->with_body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)req->body_len);
	} else if (strcmp(hop->method, "POST") == 0 ||
	    strcmp(hop->method, "PUT") == 0 ||
	    strcmp(hop->method, "PATCH") == 0) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
	}
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, hop->method);
}

/* Status, address and phase times of the request just sent. */
static void
fetch_info(struct fetch_client *c, struct fetch_response *r)
{
	CURL		*h = c->curl;
	long		 status = 0;
	char		*ip = NULL;
	curl_off_t	 t;

	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	r->status = status;
	if (curl_easy_getinfo(h, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK &&
	    ip != NULL)
		snprintf(r->ip, sizeof(r->ip), "%s", ip);
	if (curl_easy_getinfo(h, CURLINFO_NAMELOOKUP_TIME_T, &t) == CURLE_OK)
		r->t.dns_us = t;
	if (curl_easy_getinfo(h, CURLINFO_CONNECT_TIME_T, &t) == CURLE_OK)
		r->t.connect_us = t;
	if (curl_easy_getinfo(h, CURLINFO_APPCONNECT_TIME_T, &t) == CURLE_OK)
		r->t.tls_us = t;
	if (curl_easy_getinfo(h, CURLINFO_STARTTRANSFER_TIME_T, &t) ==
	    CURLE_OK)
		r->t.first_byte_us = t;
	if (curl_easy_getinfo(h, CURLINFO_TOTAL_TIME_T, &t) == CURLE_OK)
		r->t.total_us = t;
}

static int
is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_SHUTDOWN_FAILED:
		return 1;
	default:
		return 0;
	}
}

static int
is_connection_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_BAD_CONTENT_ENCODING:
		return 1;
	default:
		return 0;
	}
}

/* Why the request just sent failed, as an error value whose message
 * names only the origin. libcurl's own texts (curl_easy_strerror) are
 * fixed strings, so they may be quoted; its error buffer may not. */
static void
fetch_classify(struct fetch_client *c, const struct fetch_hop *hop,
    CURLcode rc, struct fetch_response *r)
{
	char	origin[160];
	long	verify = 0, oserr = 0;

	fetch_url_origin(hop->url, origin, sizeof(origin));
	if (c->headers_over)
		fetch_fail(r, FETCH_TOO_LARGE, "%s: the answer's headers are "
		    "over %d bytes", origin, LIMIT_EGRESS_HEADERS);
	else if (c->body_over || rc == CURLE_FILESIZE_EXCEEDED)
		fetch_fail(r, FETCH_TOO_LARGE, "%s: the answer's body is over "
		    "%zu bytes", origin, c->lim.max_response);
	else if (c->denied > 0 && c->opened == 0)
		fetch_fail(r, FETCH_EGRESS_DENIED, "%s: %s is a %s address, "
		    "which the egress policy does not allow (--egress-allow)",
		    origin, c->denied_ip[0] != '\0' ? c->denied_ip :
		    "the address", egress_class_name(c->denied_class));
	else if (rc == CURLE_COULDNT_RESOLVE_HOST)
		fetch_fail(r, FETCH_DNS, "%s: the host name does not resolve",
		    origin);
	else if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(c->curl, CURLINFO_OS_ERRNO, &oserr);
		fetch_fail(r, FETCH_REFUSED, "%s: cannot connect: %s", origin,
		    oserr != 0 ? strerror((int)oserr) : "connection refused");
	} else if (rc == CURLE_OPERATION_TIMEDOUT && !c->requested)
		fetch_fail(r, FETCH_TIMEOUT, "%s: no connection within %ld ms",
		    origin, c->lim.connect_timeout_ms);
	else if (rc == CURLE_OPERATION_TIMEDOUT)
		fetch_fail(r, FETCH_TIMEOUT, "%s: no complete answer within "
		    "%ld ms", origin, c->lim.timeout_ms);
	else if (is_tls_error(rc)) {
		curl_easy_getinfo(c->curl, CURLINFO_SSL_VERIFYRESULT, &verify);
		fetch_fail(r, FETCH_TLS, "%s: TLS: %s", origin, verify != 0 ?
		    X509_verify_cert_error_string(verify) :
		    curl_easy_strerror(rc));
	} else if (rc == CURLE_URL_MALFORMAT || rc == CURLE_UNSUPPORTED_PROTOCOL)
		fetch_fail(r, FETCH_BAD_URL, "%s: %s", origin,
		    curl_easy_strerror(rc));
	else if (is_connection_error(rc))
		fetch_fail(r, FETCH_CONNECTION, "%s: %s", origin,
		    curl_easy_strerror(rc));
	else
		fetch_fail(r, FETCH_FAILED, "%s: %s", origin,
		    curl_easy_strerror(rc));
}

/* The host of a URL (for host-name entries of the policy), or NULL. */
static char *
url_host_new(const char *url)
{
	CURLU	*u;
	char	*host = NULL, *copy = NULL;

	if ((u = url_parse(url)) == NULL)
		return NULL;
	if (curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		copy = xstrdup(host);
	curl_free(host);
	curl_url_cleanup(u);
	return copy;
}

/* Send one request of a hop. 0: an answer came (in c); -1: r says why. */
static int
fetch_send(struct fetch_client *c, const struct fetch_request *req,
    const struct fetch_hop *hop, struct fetch_response *r)
{
	struct curl_slist	*headers;
	CURLcode		 rc;

	client_reset_answer(c);
	free(c->host);
	c->host = url_host_new(hop->url);
	c->requested = 0;
	headers = hop_headers(req, hop);
	fetch_setopt(c, req, hop, headers);
	rc = curl_easy_perform(c->curl);
	curl_slist_free_all(headers);
	fetch_info(c, r);
	if (rc == CURLE_OK)
		return 0;
	fetch_classify(c, hop, rc, r);
	return -1;
}

static void
sleep_ms(int64_t ms)
{
	struct timespec	ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* The wait before retry number try + 1: backoff doubled per try, plus up
 * to half of it again at random, so that clients spread out. */
static int64_t
backoff_ms(const struct fetch_client *c, unsigned try)
{
	uint32_t	r;
	int64_t		base = c->lim.backoff_ms << (try < 16 ? try : 16);

	random_bytes(&r, sizeof(r));
	return base + (c->lim.backoff_ms > 1 ?
	    (int64_t)(r % (uint32_t)(c->lim.backoff_ms / 2 + 1)) : 0);
}

/* How long to wait before sending a hop's request again, or -1 not to. */
static int64_t
retry_wait(const struct fetch_client *c, int sent, unsigned try,
    const struct fetch_response *r)
{
	const char	*v;
	int64_t		 ms;

	if (try >= c->lim.retries)
		return -1;
	if (sent == -1)
		return r->error == FETCH_REFUSED ||
		    r->error == FETCH_CONNECTION ||
		    (r->error == FETCH_TIMEOUT && !c->requested) ?
		    backoff_ms(c, try) : -1;
	if ((r->status == 429 || r->status == 503) &&
	    (v = field_find(c->fields, c->nfields, "Retry-After")) != NULL &&
	    (ms = fetch_retry_after_parse(v, isotime_now_ms())) >= 0)
		return ms <= c->lim.max_retry_after_ms ? ms : -1;
	if (r->status == 429 || (r->status >= 500 && r->status <= 599))
		return backoff_ms(c, try);
	return -1;
}

/* Send a hop's request, and again while retry_wait says so. */
static int
fetch_hop_send(struct fetch_client *c, const struct fetch_request *req,
    const struct fetch_hop *hop, struct fetch_response *r)
{
	char		origin[160];
	unsigned	try;
	int64_t		wait;
	int		sent;

	for (try = 0; ; try++) {
		sent = fetch_send(c, req, hop, r);
		if ((wait = retry_wait(c, sent, try, r)) < 0)
			return sent;
		if (log_threshold >= LOG_DEBUG) {
			fetch_url_origin(hop->url, origin, sizeof(origin));
			log_debug("fetch: %s: %s %ld, again in %lld ms", origin,
			    sent == 0 ? "status" : fetch_error_code(r->error),
			    r->status, (long long)wait);
		}
		sleep_ms(wait);
		r->retries++;
		r->error = FETCH_OK;
		r->message[0] = '\0';
	}
}

static int
is_redirect(long status)
{
	return status == 301 || status == 302 || status == 303 ||
	    status == 307 || status == 308;
}

/* Make the next hop from a Location: the URL resolved against the
 * current one, the method a 303 (or a 301/302 after a POST) turns into
 * GET, and the credentials left behind for good once the origin is not
 * the caller's. */
static int
fetch_redirect(const struct fetch_request *req, struct fetch_hop *hop,
    const char *location, long status, struct fetch_response *r)
{
	CURLU	*u, *check;
	char	*next = NULL, origin[160];

	fetch_url_origin(hop->url, origin, sizeof(origin));
	if ((u = url_parse(hop->url)) == NULL ||
	    curl_url_set(u, CURLUPART_URL, location, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &next, 0) != CURLUE_OK ||
	    (check = url_parse(next)) == NULL) {
		curl_url_cleanup(u);
		curl_free(next);
		fetch_fail(r, FETCH_BAD_URL, "%s: a redirect to a location "
		    "that is not an http or https URL", origin);
		return -1;
	}
	curl_url_cleanup(check);
	curl_url_cleanup(u);
	if ((status == 303 && strcmp(hop->method, "HEAD") != 0) ||
	    ((status == 301 || status == 302) &&
	    strcmp(hop->method, "POST") == 0)) {
		hop->method = "GET";
		hop->with_body = 0;
	}
	free(hop->url);
	hop->url = xstrdup(next);
	curl_free(next);
	if (!same_origin(req->url, hop->url))
		hop->credentials = 0;
	return 0;
}

int
fetch_do(struct fetch_client *c, const struct fetch_request *req,
    struct fetch_response *r)
{
	struct fetch_hop	 hop;
	const char		*location;
	char			 origin[160];
	int64_t			 start = isotime_mono_us();
	int			 rc = -1;

	memset(r, 0, sizeof(*r));
	hop.url = xstrdup(req->url);
	hop.method = req->method != NULL ? req->method : "GET";
	hop.with_body = req->body != NULL;
	hop.credentials = 1;
	if (fetch_check_request(req, r) == -1)
		goto out;
	for (;;) {
		if (fetch_hop_send(c, req, &hop, r) == -1)
			goto out;
		if (!is_redirect(r->status) || (location = field_find(c->fields,
		    c->nfields, "Location")) == NULL)
			break;
		if (r->redirects == c->lim.max_redirects) {
			fetch_url_origin(hop.url, origin, sizeof(origin));
			fetch_fail(r, FETCH_TOO_MANY_REDIRECTS, "%s: more than "
			    "%u redirects", origin, c->lim.max_redirects);
			goto out;
		}
		if (fetch_redirect(req, &hop, location, r->status, r) == -1)
			goto out;
		r->redirects++;
	}
	rc = 0;
	r->headers = c->fields;
	r->nheaders = c->nfields;
	c->fields = NULL;
	c->nfields = 0;
	r->body = buf_steal(&c->body, &r->body_len);
out:
	if (r->body == NULL)
		r->body = xstrdup("");
	r->url = hop.url;
	r->t.elapsed_us = isotime_mono_us() - start;
	client_reset_answer(c);
	return rc;
}
