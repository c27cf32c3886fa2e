/* An RDBMSExport's rows from PostgreSQL: connect under the egress policy,
 * a read-only transaction, a cursor, a page of rows per FETCH, values to
 * JSON by type (docs/rdbms.md). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "crypto/crypto.h"
#include "run/rdbms.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/xmalloc.h"

#define RDBMS_CURSOR	"exportd_rows"
#define RDBMS_ADDRS	8		/* addresses of a host tried */
/* A file that cannot exist (a path under a device): given to libpq for
 * the files it would otherwise look for in the service's home directory
 * (a password file, a client certificate), so that no credential of the
 * service's own reaches a database a connection names. */
#define RDBMS_NO_FILE	"/dev/null/none"

struct rdbms_run {
	PGconn		*pg;
	char		*password;	/* to keep out of messages */
	int		 page_size;
	bool		 done;
};

/* The files of the ssl block, written for libpq, removed once connected. */
struct rdbms_ssl {
	char	 ca[64], cert[64], key[64];
};

static __thread const char *rdbms_code = "";

const char *
rdbms_error_code(void)
{
	return rdbms_code;
}

/* *err: the message with every occurrence of the password replaced by
 * "******" (a server may echo what it was sent). */
static void __attribute__((format(printf, 4, 5)))
rdbms_fail(char **err, const char *code, const char *password,
    const char *fmt, ...)
{
	struct buf	 b;
	va_list		 ap;
	char		*msg, *p, *hit;
	size_t		 plen = password != NULL ? strlen(password) : 0;

	rdbms_code = code;
	va_start(ap, fmt);
	buf_init(&b, 4096);
	buf_vprintf(&b, fmt, ap);
	va_end(ap);
	msg = buf_steal(&b, NULL);
	/* libpq's messages end with a newline; some hold two lines */
	for (p = msg + strlen(msg); p > msg && isspace((unsigned char)p[-1]);)
		*--p = '\0';
	for (p = msg; *p != '\0'; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	if (plen > 0 && strstr(msg, password) != NULL) {
		buf_init(&b, 4096);
		for (p = msg; (hit = strstr(p, password)) != NULL;
		    p = hit + plen) {
			buf_add(&b, p, (size_t)(hit - p));
			buf_adds(&b, "******");
		}
		buf_adds(&b, p);
		crypto_wipe(msg, strlen(msg));
		free(msg);
		msg = buf_steal(&b, NULL);
	}
	if (err != NULL)
		*err = msg;
	else
		free(msg);
}

static const char *
block_string(const json_t *block, const char *key)
{
	const json_t	*v = json_object_get(block, key);

	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A host name or an address: no list, no Unix socket directory. */
static int
host_ok(const char *host)
{
	const char	*p;

	if (host == NULL || *host == '\0' || strlen(host) > 253)
		return 0;
	for (p = host; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && strchr(".-_:[]", *p) == NULL)
			return 0;
	return 1;
}

/*
 * The addresses of host the policy allows, numeric and comma-separated
 * into addrs, and as many copies of host into hosts (libpq pairs them):
 * libpq then connects to these addresses only, in order, and checks a
 * certificate against host. Returns the count, 0 with *err set.
 */
static int
rdbms_resolve(const char *host, const char *port,
    const struct egress *policy, struct buf *addrs, struct buf *hosts,
    char **err)
{
	struct addrinfo		 hints, *res = NULL, *ai;
	enum egress_class	 class = EGRESS_PUBLIC;
	char			 num[NI_MAXHOST], bare[256];
	size_t			 hlen = strlen(host);
	int			 n = 0, gai;

	/* an IPv6 address may come in brackets, as in a URL */
	if (host[0] == '[' && hlen > 2 && host[hlen - 1] == ']')
		snprintf(bare, sizeof(bare), "%.*s", (int)(hlen - 2), host + 1);
	else
		snprintf(bare, sizeof(bare), "%s", host);
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	if ((gai = getaddrinfo(bare, port, &hints, &res)) != 0) {
		rdbms_fail(err, "connect_failed", NULL,
		    "rdbms.host %s did not resolve: %s", bare,
		    gai_strerror(gai));
		return 0;
	}
	for (ai = res; ai != NULL && n < RDBMS_ADDRS; ai = ai->ai_next) {
		if (!egress_check(policy, bare, ai->ai_addr, ai->ai_addrlen,
		    &class))
			continue;
		if (getnameinfo(ai->ai_addr, ai->ai_addrlen, num, sizeof(num),
		    NULL, 0, NI_NUMERICHOST) != 0)
			continue;
		buf_printf(addrs, "%s%s", n > 0 ? "," : "", num);
		buf_printf(hosts, "%s%s", n > 0 ? "," : "", bare);
		n++;
	}
	freeaddrinfo(res);
	if (n == 0)
		rdbms_fail(err, "egress_denied", NULL,
		    "rdbms.host %s resolves only to addresses the egress policy "
		    "refuses (%s); allow them with --egress-allow", bare,
		    egress_class_name(class));
	return n;
}

/* Write pem to a new file only this process may read; "" when pem is
 * NULL. Returns 0, or -1. */
static int
ssl_file(const char *pem, char path[64])
{
	const char	*dir = getenv("TMPDIR");
	size_t		 len, off = 0;
	ssize_t		 w;
	int		 fd;

	path[0] = '\0';
	if (pem == NULL)
		return 0;
	if (dir == NULL || *dir == '\0' || strlen(dir) > 40)
		dir = "/tmp";
	snprintf(path, 64, "%s/exportd-pg.XXXXXX", dir);
	if ((fd = mkstemp(path)) == -1) {
		path[0] = '\0';
		return -1;
	}
	for (len = strlen(pem); off < len; off += (size_t)w)
		if ((w = write(fd, pem + off, len - off)) <= 0)
			break;
	close(fd);
	return off == len ? 0 : -1;
}

static void
ssl_files_remove(struct rdbms_ssl *s)
{
	if (s->ca[0] != '\0')
		unlink(s->ca);
	if (s->cert[0] != '\0')
		unlink(s->cert);
	if (s->key[0] != '\0')
		unlink(s->key);
}

/* A notice of the server (RAISE NOTICE in a query) is not the service's
 * to print. */
static void
notice_drop(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* The parameters libpq gets, beside host, hostaddr and the login. */
struct rdbms_params {
	const char	*keys[24];
	const char	*vals[24];
	int		 n;
};

static void
param_add(struct rdbms_params *p, const char *key, const char *val)
{
	p->keys[p->n] = key;
	p->vals[p->n] = val;
	p->n++;
	p->keys[p->n] = NULL;
	p->vals[p->n] = NULL;
}

/* The TLS parameters of the connection's ssl block: none → sslmode
 * prefer (as libpq); a block → require, verify-full with its ca, a
 * client certificate with its cert and key. -1 if a file cannot be
 * written. */
static int
ssl_params(const json_t *ssl, struct rdbms_ssl *files,
    struct rdbms_params *p)
{
	const char	*pass;

	memset(files, 0, sizeof(*files));
	if (!json_is_object(ssl)) {
		param_add(p, "sslmode", "prefer");
		param_add(p, "sslcert", RDBMS_NO_FILE);
		param_add(p, "sslkey", RDBMS_NO_FILE);
		return 0;
	}
	if (ssl_file(block_string(ssl, "ca"), files->ca) == -1 ||
	    ssl_file(block_string(ssl, "cert"), files->cert) == -1 ||
	    ssl_file(block_string(ssl, "key"), files->key) == -1) {
		ssl_files_remove(files);
		return -1;
	}
	param_add(p, "sslmode", files->ca[0] != '\0' ? "verify-full" :
	    "require");
	if (files->ca[0] != '\0')
		param_add(p, "sslrootcert", files->ca);
	param_add(p, "sslcert", files->cert[0] != '\0' ? files->cert :
	    RDBMS_NO_FILE);
	param_add(p, "sslkey", files->key[0] != '\0' ? files->key :
	    RDBMS_NO_FILE);
	if ((pass = block_string(ssl, "passphrase")) != NULL)
		param_add(p, "sslpassword", pass);
	return 0;
}

/*
 * A connection to the database a connection document names, its
 * session set for reading (UTC, ISO dates, a statement timeout). NULL
 * with *err set. *password gets the password (borrowed from doc) to
 * keep out of later messages.
 */
static PGconn *
rdbms_connect(const json_t *doc, const struct egress *policy,
    const char **password, char **err)
{
	const json_t		*rdbms = json_object_get(doc, "rdbms");
	const char		*type, *host, *db, *user, *pass;
	struct rdbms_params	 p = { .n = 0 };
	struct rdbms_ssl	 files;
	struct buf		 addrs, hosts;
	char			 port[16], timeout[16], options[160];
	json_int_t		 portn = 5432;
	PGconn			*pg = NULL;

	*password = NULL;
	type = block_string(rdbms, "type");
	host = block_string(rdbms, "host");
	db = block_string(rdbms, "database");
	user = block_string(rdbms, "user");
	pass = block_string(rdbms, "password");
	if (json_is_integer(json_object_get(rdbms, "port")))
		portn = json_integer_value(json_object_get(rdbms, "port"));
	if (type == NULL || strcmp(type, "postgresql") != 0) {
		rdbms_fail(err, "invalid_connection", NULL,
		    "rdbms.type %s is not supported (only postgresql)",
		    type != NULL ? type : "(none)");
		return NULL;
	}
	if (!host_ok(host) || db == NULL || *db == '\0' || user == NULL ||
	    *user == '\0' || portn < 1 || portn > 65535) {
		rdbms_fail(err, "invalid_connection", NULL, "the rdbms block "
		    "needs host (a name or an address), database, user and a "
		    "port from 1 to 65535");
		return NULL;
	}
	*password = pass;
	snprintf(port, sizeof(port), "%d", (int)portn);
	buf_init(&addrs, 1024);
	buf_init(&hosts, 4096);
	if (rdbms_resolve(host, port, policy, &addrs, &hosts, err) == 0)
		goto out;
	buf_addc(&addrs, '\0');
	buf_addc(&hosts, '\0');
	snprintf(timeout, sizeof(timeout), "%d", LIMIT_EGRESS_CONNECT_TIMEOUT);
	snprintf(options, sizeof(options), "-c statement_timeout=%d "
	    "-c TimeZone=UTC -c DateStyle=ISO,YMD -c IntervalStyle=iso_8601 "
	    "-c bytea_output=hex -c extra_float_digits=1",
	    LIMIT_RDBMS_STATEMENT_MS);
	param_add(&p, "host", hosts.data);
	param_add(&p, "hostaddr", addrs.data);
	param_add(&p, "port", port);
	param_add(&p, "dbname", db);
	param_add(&p, "user", user);
	param_add(&p, "password", pass != NULL ? pass : "");
	param_add(&p, "passfile", RDBMS_NO_FILE);
	param_add(&p, "connect_timeout", timeout);
	param_add(&p, "client_encoding", "UTF8");
	param_add(&p, "application_name", "exportd");
	param_add(&p, "gssencmode", "disable");
	param_add(&p, "options", options);
	if (ssl_params(json_object_get(doc, "ssl"), &files, &p) == -1) {
		rdbms_fail(err, "invalid_connection", NULL,
		    "the ssl block's certificates could not be written");
		goto out;
	}
	pg = PQconnectdbParams(p.keys, p.vals, 0);
	ssl_files_remove(&files);
	if (pg == NULL) {
		rdbms_fail(err, "connect_failed", NULL, "out of memory");
	} else if (PQstatus(pg) != CONNECTION_OK) {
		const char *m = PQerrorMessage(pg);

		rdbms_fail(err, strstr(m, "timeout expired") != NULL ?
		    "timeout" : "connect_failed", pass,
		    "cannot connect to PostgreSQL at %s:%s: %s", host, port, m);
		PQfinish(pg);
		pg = NULL;
	} else
		PQsetNoticeProcessor(pg, notice_drop, NULL);
out:
	buf_free(&addrs);
	buf_free(&hosts);
	return pg;
}

/* The message of a failed statement: the server's own, the code
 * "timeout" for a statement cancelled by its timeout. */
static void
result_fail(PGconn *pg, const PGresult *res, const char *what,
    const char *password, char **err)
{
	const char	*state = res != NULL ?
			    PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char	*m = res != NULL ? PQresultErrorMessage(res) : "";

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(pg);
	if (state != NULL && strcmp(state, "57014") == 0)
		rdbms_fail(err, "timeout", password, "%s: over %d ms: %s",
		    what, LIMIT_RDBMS_STATEMENT_MS, m);
	else
		rdbms_fail(err, "query_failed", password, "%s: %s", what, m);
}

/* Run one statement of ours (never the caller's SQL); 0 or -1. */
static int
rdbms_exec(PGconn *pg, const char *sql, ExecStatusType want,
    const char *what, const char *password, char **err)
{
	PGresult	*res = PQexecParams(pg, sql, 0, NULL, NULL, NULL, NULL, 0);
	int		 rc = 0;

	if (res == NULL || PQresultStatus(res) != want) {
		result_fail(pg, res, what, password, err);
		rc = -1;
	}
	PQclear(res);
	return rc;
}

struct rdbms_run *
rdbms_run_start(const json_t *connection, const char *sql, int page_size,
    const struct egress *policy, char **err)
{
	struct rdbms_run	*run;
	const char		*password;
	struct buf		 q;
	size_t			 len;
	PGconn			*pg;
	PGresult		*res;

	len = sql != NULL ? strlen(sql) : 0;
	/* a statement's own terminator would end DECLARE's */
	while (len > 0 && (isspace((unsigned char)sql[len - 1]) ||
	    sql[len - 1] == ';'))
		len--;
	if (len == 0) {
		rdbms_fail(err, "invalid_connection", NULL,
		    "rdbms.query is empty");
		return NULL;
	}
	if ((pg = rdbms_connect(connection, policy, &password, err)) == NULL)
		return NULL;
	if (rdbms_exec(pg, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	    PGRES_COMMAND_OK, "BEGIN", password, err) == -1) {
		PQfinish(pg);
		return NULL;
	}
	buf_init(&q, len + 64);
	buf_printf(&q, "DECLARE " RDBMS_CURSOR " NO SCROLL CURSOR FOR %.*s",
	    (int)len, sql);
	buf_addc(&q, '\0');
	/* the extended protocol runs one statement, never a list of them */
	res = PQexecParams(pg, q.data, 0, NULL, NULL, NULL, NULL, 0);
	buf_free(&q);
	if (res == NULL || PQresultStatus(res) != PGRES_COMMAND_OK) {
		result_fail(pg, res, "rdbms.query", password, err);
		PQclear(res);
		PQfinish(pg);
		return NULL;
	}
	PQclear(res);
	run = xcalloc(1, sizeof(*run));
	run->pg = pg;
	run->password = password != NULL ? xstrdup(password) : NULL;
	if (page_size < 1)
		page_size = 1;
	run->page_size = page_size > LIMIT_RDBMS_PAGE_ROWS ?
	    LIMIT_RDBMS_PAGE_ROWS : page_size;
	return run;
}

/* ---- values ---- */

enum {
	OID_BOOL = 16, OID_BYTEA = 17, OID_INT8 = 20, OID_INT2 = 21,
	OID_INT4 = 23, OID_OID = 26, OID_JSON = 114, OID_FLOAT4 = 700,
	OID_FLOAT8 = 701, OID_DATE = 1082, OID_TIMESTAMP = 1114,
	OID_TIMESTAMPTZ = 1184, OID_NUMERIC = 1700, OID_JSONB = 3802,
};

/* The element type of the array types read as JSON arrays. */
static const struct {
	Oid	 array, elem;
} array_types[] = {
	{ 1000, OID_BOOL }, { 1001, OID_BYTEA }, { 1002, 18 }, { 1003, 19 },
	{ 1005, OID_INT2 }, { 1007, OID_INT4 }, { 1009, 25 }, { 1014, 1042 },
	{ 1015, 1043 }, { 1016, OID_INT8 }, { 1021, OID_FLOAT4 },
	{ 1022, OID_FLOAT8 }, { 1028, OID_OID }, { 1115, OID_TIMESTAMP },
	{ 1182, OID_DATE }, { 1185, OID_TIMESTAMPTZ }, { 1231, OID_NUMERIC },
	{ 2951, 2950 }, { 199, OID_JSON }, { 3807, OID_JSONB },
};

static json_t *
text_value(const char *s, size_t len)
{
	json_t	*v = json_stringn(s, len);

	/* the session is UTF-8, so the server sends only valid text */
	return v != NULL ? v : json_null();
}

/* A numeric: an integer when it is one and fits 64 bits; a number when
 * a double holds it exactly as written (at most 15 significant digits);
 * its text otherwise (and for NaN and the infinities), so that no digit
 * is lost. */
static json_t *
numeric_value(const char *s, size_t len)
{
	const char	*p = s;
	size_t		 digits = 0, zeros = 0;
	int		 seen = 0, frac = 0;
	char		*end;
	long long	 ll;

	if (*p == '-' || *p == '+')
		p++;
	if (!isdigit((unsigned char)*p))
		return text_value(s, len);
	for (; *p != '\0'; p++) {
		if (*p == '.') {
			frac = 1;
			continue;
		}
		if (!isdigit((unsigned char)*p))
			return text_value(s, len);
		if (*p == '0' && !seen)
			continue;
		seen = 1;
		/* trailing zeros of a fraction add no digit a double needs */
		if (*p == '0' && frac) {
			zeros++;
			continue;
		}
		digits += zeros + 1;
		zeros = 0;
	}
	if (!frac) {
		errno = 0;
		ll = strtoll(s, &end, 10);
		if (errno == 0 && *end == '\0')
			return json_integer(ll);
	}
	if (digits > 15)
		return text_value(s, len);
	return json_real(strtod(s, NULL));
}

/* A float: a number; NaN and the infinities, which JSON lacks, as text. */
static json_t *
float_value(const char *s, size_t len)
{
	double	d = strtod(s, NULL);

	return isfinite(d) ? json_real(d) : text_value(s, len);
}

/* timestamp and timestamptz, as the session (DateStyle ISO, UTC) prints
 * them ("2024-05-06 07:08:09.5+00"), to ISO 8601 with at least
 * milliseconds ("2024-05-06T07:08:09.500Z"); timestamp has no zone, so
 * it gets none. infinity and BC dates stay as PostgreSQL prints them. */
static json_t *
timestamp_value(const char *s, size_t len, int tz)
{
	const char	*sp = strchr(s, ' '), *t, *f;
	struct buf	 b;
	size_t		 flen = 0;
	json_t		*v;
	char		*out;

	if (sp == NULL || !isdigit((unsigned char)s[0]) ||
	    strstr(s, " BC") != NULL || strlen(sp + 1) < 8)
		return text_value(s, len);
	t = sp + 1;
	f = t + 8;
	if (*f == '.')
		for (f++; isdigit((unsigned char)f[flen]); flen++)
			;
	else
		f = "";
	buf_init(&b, 64);
	buf_printf(&b, "%.*sT%.8s.%.*s", (int)(sp - s), s, t, (int)flen, f);
	for (; flen < 3; flen++)
		buf_addc(&b, '0');
	if (tz)
		buf_addc(&b, 'Z');
	out = buf_steal(&b, &len);
	v = text_value(out, len);
	free(out);
	return v;
}

/* bytea, printed as hex ("\x0102"), to base64. */
static json_t *
bytea_value(const char *s, size_t len)
{
	unsigned char	*raw;
	char		*b64;
	size_t		 n;
	json_t		*v;

	if (len < 2 || s[0] != '\\' || s[1] != 'x' || (len - 2) % 2 != 0)
		return text_value(s, len);
	n = (len - 2) / 2;
	raw = xmalloc(n + 1);
	if (crypto_unhex(s + 2, len - 2, raw, n + 1) != (int)n) {
		free(raw);
		return text_value(s, len);
	}
	b64 = crypto_base64(raw, n);
	free(raw);
	v = json_string(b64);
	free(b64);
	return v;
}

static json_t *pg_value(Oid type, const char *s, size_t len);

/* One element of an array literal: quoted (backslash escapes) or bare
 * up to the next ',' or '}'; an unquoted NULL is null. */
static json_t *
array_element(const char **pp, Oid elem)
{
	const char	*p = *pp;
	struct buf	 b;
	json_t		*v;
	char		*text;
	size_t		 len;

	buf_init(&b, 64);
	if (*p == '"') {
		for (p++; *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (*p == '\0') {
				buf_free(&b);
				return NULL;
			}
			buf_addc(&b, *p);
		}
		p++;
	} else {
		for (; *p != '\0' && *p != ',' && *p != '}'; p++)
			buf_addc(&b, *p);
		if (b.len == 4 && strncasecmp(b.data, "NULL", 4) == 0) {
			buf_free(&b);
			*pp = p;
			return json_null();
		}
	}
	buf_addc(&b, '\0');
	text = buf_steal(&b, &len);
	v = pg_value(elem, text, len - 1);
	free(text);
	*pp = p;
	return v;
}

/* An array literal ("{1,2,NULL}", "{{a,b},{c,d}}") to nested arrays;
 * NULL if it does not parse. */
static json_t *
array_parse(const char **pp, Oid elem, int depth)
{
	const char	*p = *pp;
	json_t		*arr, *v;

	if (*p != '{' || depth > 6)
		return NULL;
	arr = json_array();
	for (p++; *p != '}';) {
		v = *p == '{' ? array_parse(&p, elem, depth + 1) :
		    array_element(&p, elem);
		if (v == NULL || (*p != ',' && *p != '}')) {
			json_decref(v);
			json_decref(arr);
			return NULL;
		}
		json_array_append_new(arr, v);
		if (*p == ',')
			p++;
	}
	*pp = p + 1;
	return arr;
}

static json_t *
array_value(Oid elem, const char *s, size_t len)
{
	const char	*p = s;
	json_t		*v;

	/* bounds other than 1 come first: "[0:1]={1,2}" */
	if (*p == '[' && (p = strchr(s, '=')) != NULL)
		p++;
	else
		p = s;
	if ((v = array_parse(&p, elem, 1)) == NULL || *p != '\0') {
		json_decref(v);
		return text_value(s, len);
	}
	return v;
}

/* One value, from PostgreSQL's text form, by the column's type. */
static json_t *
pg_value(Oid type, const char *s, size_t len)
{
	struct json_parse_error	 e;
	json_t			*v;
	size_t			 i;

	switch (type) {
	case OID_BOOL:
		return json_boolean(s[0] == 't');
	case OID_INT2:
	case OID_INT4:
	case OID_INT8:
	case OID_OID:
		return json_integer(strtoll(s, NULL, 10));
	case OID_FLOAT4:
	case OID_FLOAT8:
		return float_value(s, len);
	case OID_NUMERIC:
		return numeric_value(s, len);
	case OID_JSON:
	case OID_JSONB:
		v = json_parse_any(s, len, LIMIT_JSON_DEPTH, &e);
		return v != NULL ? v : text_value(s, len);
	case OID_TIMESTAMP:
		return timestamp_value(s, len, 0);
	case OID_TIMESTAMPTZ:
		return timestamp_value(s, len, 1);
	case OID_BYTEA:
		return bytea_value(s, len);
	default:
		break;
	}
	for (i = 0; i < sizeof(array_types) / sizeof(array_types[0]); i++)
		if (array_types[i].array == type)
			return array_value(array_types[i].elem, s, len);
	return text_value(s, len);
}

/* One row of a result as an object, column name → value. */
static json_t *
row_object(const PGresult *res, int row, size_t *bytes)
{
	json_t	*obj = json_object();
	int	 c, n = PQnfields(res);
	size_t	 len;

	for (c = 0; c < n; c++) {
		len = (size_t)PQgetlength(res, row, c);
		*bytes += len + strlen(PQfname(res, c));
		json_object_set_new(obj, PQfname(res, c),
		    PQgetisnull(res, row, c) ? json_null() :
		    pg_value(PQftype(res, c), PQgetvalue(res, row, c), len));
	}
	return obj;
}

/* ---- pages ---- */

/* Read what is left of a query sent, so the connection can be used (or
 * closed) cleanly after a page given up on. */
static void
rdbms_drain(PGconn *pg)
{
	PGresult	*res;

	while ((res = PQgetResult(pg)) != NULL)
		PQclear(res);
}

int
rdbms_run_next(struct rdbms_run *run, json_t **records, bool *done,
    char **err)
{
	char		 q[96];
	PGresult	*res;
	size_t		 bytes = 0;
	int		 rows = 0, rc = -1;
	json_t		*page = json_array();

	*records = NULL;
	*done = run->done;
	if (run->done || run->pg == NULL) {
		*records = page;
		return 0;
	}
	snprintf(q, sizeof(q), "FETCH FORWARD %d FROM " RDBMS_CURSOR,
	    run->page_size);
	/* a row at a time, so that a page over its cap is seen as it comes */
	if (!PQsendQueryParams(run->pg, q, 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(run->pg)) {
		rdbms_fail(err, "query_failed", run->password, "FETCH: %s",
		    PQerrorMessage(run->pg));
		goto fail;
	}
	while ((res = PQgetResult(run->pg)) != NULL) {
		ExecStatusType st = PQresultStatus(res);

		if (st == PGRES_SINGLE_TUPLE && bytes <= LIMIT_RDBMS_PAGE_BYTES) {
			json_array_append_new(page, row_object(res, 0, &bytes));
			rows++;
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK) {
			result_fail(run->pg, res, "rdbms.query", run->password,
			    err);
			PQclear(res);
			rdbms_drain(run->pg);
			goto fail;
		}
		PQclear(res);
	}
	if (bytes > LIMIT_RDBMS_PAGE_BYTES) {
		rdbms_fail(err, "too_large", NULL, "a page of %d rows is over "
		    "%d bytes: set a smaller pageSize", run->page_size,
		    LIMIT_RDBMS_PAGE_BYTES);
		goto fail;
	}
	run->done = rows < run->page_size;
	*done = run->done;
	*records = page;
	page = NULL;
	rc = 0;
	if (run->done)
		(void)rdbms_exec(run->pg, "COMMIT", PGRES_COMMAND_OK, "COMMIT",
		    run->password, NULL);
	return rc;
fail:
	json_decref(page);
	PQfinish(run->pg);
	run->pg = NULL;
	run->done = true;
	return rc;
}

void
rdbms_run_free(struct rdbms_run *run)
{
	if (run == NULL)
		return;
	if (run->pg != NULL)
		PQfinish(run->pg);
	if (run->password != NULL) {
		crypto_wipe(run->password, strlen(run->password));
		free(run->password);
	}
	free(run);
}

int
rdbms_ping(const json_t *connection, const struct egress *policy,
    char **err)
{
	const char	*password;
	PGconn		*pg;
	int		 rc;

	if ((pg = rdbms_connect(connection, policy, &password, err)) == NULL)
		return -1;
	rc = rdbms_exec(pg, "SELECT 1", PGRES_TUPLES_OK, "SELECT 1",
	    password, err);
	PQfinish(pg);
	return rc;
}
