/* The connection document: its rule table (integratorio-surface.md §3.2,
 * the http auth matrix of §2.3), its secrets (§3.5), its rendering, and
 * the adaptor each connection type serves. */
#include <stdlib.h>
#include <string.h>

#include "model/connection.h"
#include "model/export.h"
#include "model/rules.h"
#include "model/secrets.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/xmalloc.h"

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

static const char *const connection_types[] = {
	"netsuite", "salesforce", "ftp", "s3", "wrapper", "http", "rdbms",
	"mongodb", "as2", "filesystem", "mcp", "dynamodb", "jdbc", "van",
	"rest", NULL,
};

/* Every secret of a connection; http.encrypted is one, whole. */
static const char *const connection_secret_paths[] = {
	"http.auth.basic.password", "http.auth.token.token",
	"http.auth.token.refreshToken", "http.auth.oauth.clientSecret",
	"http.auth.oauth.password", "http.auth.oauth.pkceCodeVerifier",
	"http.auth.oauth1.consumerSecret", "http.auth.oauth1.accessToken",
	"http.auth.oauth1.tokenSecret", "http.auth.oauth1.consumerPrivateKey",
	"http.auth.jwt.secret", "http.auth.jwt.privateKey",
	"http.auth.jwt.token", "http.encrypted",
	"http.clientCertificates.key", "http.clientCertificates.passphrase",
	"http.clientCertificates.pfx", "ssl.key", "ssl.passphrase",
	"ssl.cert", "ssl.ca", "rest.bearerToken", "rest.refreshToken",
	"rest.basicAuth.password", "rdbms.password", "ftp.password",
	"s3.secretAccessKey", "mongodb.password", "dynamodb.secretAccessKey",
	"jdbc.password",
};
#define CONNECTION_NSECRETS \
	(sizeof(connection_secret_paths) / sizeof(connection_secret_paths[0]))

static const char *const readonly_fields[] = {
	"_id", "createdAt", "lastModified", "lastModifiedBy", "offline",
	"debugDate", "queues",
};

/* An absolute http or https URL with a host. */
static bool
base_uri_ok(const json_t *v)
{
	const char	*s = json_string_value(v), *h;

	if (strncmp(s, "https://", 8) == 0)
		h = s + 8;
	else if (strncmp(s, "http://", 7) == 0)
		h = s + 7;
	else
		return false;
	return *h != '\0' && *h != '/' && *h != '?' && *h != '#' &&
	    strpbrk(s, " \t\r\n") == NULL;
}

/* http.encrypted: an object of custom secrets, or the mask. */
static bool
encrypted_ok(const json_t *v)
{
	return json_is_object(v) || (json_is_string(v) &&
	    strcmp(json_string_value(v), SECRETS_MASK) == 0);
}

#define BASE_URI_MSG(p) p " must be an absolute http or https URL"

static const struct rule connection_rules[] = {
	{ .path = "name", .kind = V_STRING, .min = 1, .max = LIMIT_NAME,
	  .required = true },
	{ .path = "type", .kind = V_STRING, .enums = connection_types,
	  .required = true, .message = "Invalid type" },
	{ .path = "_integrationId", .kind = V_OID },
	{ .path = "_connectorId", .kind = V_OID },
	{ .path = "_agentId", .kind = V_OID },
	{ .path = "_borrowConcurrencyFromConnectionId", .kind = V_OID },
	{ .path = "externalId", .kind = V_STRING },
	{ .path = "assistant", .kind = V_STRING },
	{ .path = "sandbox", .kind = V_BOOL },
	{ .path = "settings", .kind = V_OBJECT },
	{ .path = "settingsForm", .kind = V_OBJECT },
	{ .path = "ssl", .kind = V_OBJECT },
	/* the block named like the type */
	{ .path = "netsuite", .kind = V_OBJECT, .types = L("netsuite"),
	  .required = true },
	{ .path = "salesforce", .kind = V_OBJECT, .types = L("salesforce"),
	  .required = true },
	{ .path = "ftp", .kind = V_OBJECT, .types = L("ftp"),
	  .required = true },
	{ .path = "s3", .kind = V_OBJECT, .types = L("s3"), .required = true },
	{ .path = "wrapper", .kind = V_OBJECT, .types = L("wrapper"),
	  .required = true },
	{ .path = "http", .kind = V_OBJECT, .types = L("http"),
	  .required = true },
	{ .path = "rdbms", .kind = V_OBJECT, .types = L("rdbms"),
	  .required = true },
	{ .path = "mongodb", .kind = V_OBJECT, .types = L("mongodb"),
	  .required = true },
	{ .path = "as2", .kind = V_OBJECT, .types = L("as2"),
	  .required = true },
	{ .path = "filesystem", .kind = V_OBJECT, .types = L("filesystem"),
	  .required = true },
	{ .path = "mcp", .kind = V_OBJECT, .types = L("mcp"),
	  .required = true },
	{ .path = "dynamodb", .kind = V_OBJECT, .types = L("dynamodb"),
	  .required = true },
	{ .path = "jdbc", .kind = V_OBJECT, .types = L("jdbc"),
	  .required = true },
	{ .path = "van", .kind = V_OBJECT, .types = L("van"),
	  .required = true },
	{ .path = "rest", .kind = V_OBJECT, .types = L("rest"),
	  .required = true },

	/* ---- http ---- */
	{ .path = "http", .kind = V_OBJECT },
	{ .path = "http.baseURI", .kind = V_STRING, .types = L("http"),
	  .required = true },
	{ .path = "http.baseURI", .kind = V_STRING, .check = base_uri_ok,
	  .message = BASE_URI_MSG("http.baseURI") },
	{ .path = "http.mediaType", .kind = V_STRING,
	  .enums = L("xml", "json", "urlencoded", "form-data", "plaintext"),
	  .types = L("http"), .required = true },
	{ .path = "http.mediaType", .kind = V_STRING,
	  .enums = L("xml", "json", "urlencoded", "form-data", "plaintext") },
	{ .path = "http.successMediaType", .kind = V_STRING,
	  .enums = L("xml", "csv", "json", "plaintext") },
	{ .path = "http.errorMediaType", .kind = V_STRING,
	  .enums = L("xml", "json", "plaintext") },
	{ .path = "http.headers", .kind = V_NAMEVALUES },
	{ .path = "http.disableStrictSSL", .kind = V_BOOL },
	{ .path = "http.concurrencyLevel", .kind = V_INT, .min = 1,
	  .max = 50 },
	{ .path = "http.encrypted", .kind = V_ANY, .check = encrypted_ok,
	  .message = "http.encrypted must be an object" },
	{ .path = "http.unencrypted", .kind = V_OBJECT },
	{ .path = "http.clientCertificates", .kind = V_OBJECT },
	{ .path = "http.ping", .kind = V_OBJECT },
	{ .path = "http.ping.relativeURI", .kind = V_STRING },
	{ .path = "http.ping.method", .kind = V_STRING,
	  .enums = L("GET", "POST", "PUT", "HEAD") },
	{ .path = "http.ping.successPath", .kind = V_STRING },
	{ .path = "http.ping.successValues", .kind = V_STRINGS },
	{ .path = "http.ping.failPath", .kind = V_STRING },
	{ .path = "http.ping.failValues", .kind = V_STRINGS },
	{ .path = "http.ping.errorPath", .kind = V_STRING },
	{ .path = "http.ping.allowArrayforSuccessPath", .kind = V_BOOL },
	{ .path = "http.rateLimit", .kind = V_OBJECT },
	{ .path = "http.rateLimit.failStatusCode", .kind = V_INT, .min = 100,
	  .max = 599 },
	{ .path = "http.auth", .kind = V_OBJECT },
	{ .path = "http.auth.type", .kind = V_STRING,
	  .enums = L("basic", "token", "oauth", "custom", "cookie", "digest",
	  "wsse", "jwtbearer", "oauth1", "jwt", "specific") },
	{ .path = "http.auth.failStatusCode", .kind = V_INT, .min = 100,
	  .max = 599 },
	{ .path = "http.auth.failPath", .kind = V_STRING },
	{ .path = "http.auth.failValues", .kind = V_STRINGS },
	/* the auth matrix: what each http.auth.type requires */
	{ .path = "http.auth.basic.username", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.type",
	  .when_values = L("basic", "digest", "wsse"), .required = true },
	{ .path = "http.auth.token.token", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.type", .when_values = L("token"),
	  .required = true },
	{ .path = "http.auth.token.location", .kind = V_STRING,
	  .enums = L("header", "url", "body") },
	{ .path = "http.auth.token.headerName", .kind = V_STRING },
	{ .path = "http.auth.token.scheme", .kind = V_STRING },
	{ .path = "http.auth.token.paramName", .kind = V_STRING },
	{ .path = "http.auth.oauth.grantType", .kind = V_STRING,
	  .enums = L("authorizecode", "clientcredentials", "password") },
	{ .path = "http.auth.oauth.authURI", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.oauth.grantType",
	  .when_values = L("authorizecode"), .required = true },
	{ .path = "http.auth.oauth.tokenURI", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.oauth.grantType",
	  .when_values = L("authorizecode", "clientcredentials", "password"),
	  .required = true },
	{ .path = "http.auth.oauth.username", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.oauth.grantType",
	  .when_values = L("password"), .required = true },
	{ .path = "http.auth.oauth.password", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.oauth.grantType",
	  .when_values = L("password"), .required = true },
	{ .path = "http.auth.oauth.scope", .kind = V_STRINGS },
	{ .path = "http.auth.cookie.uri", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.type", .when_values = L("cookie"),
	  .required = true },
	{ .path = "http.auth.jwt.payload", .kind = V_ANY,
	  .when_path = "http.auth.type", .when_values = L("jwtbearer"),
	  .required = true },
	{ .path = "http.auth.jwt.signatureMethod", .kind = V_STRING,
	  .enums = L("hmac-sha256", "hmac-sha384", "hmac-sha512", "rsa-sha256",
	  "rsa-sha384", "rsa-sha512", "es256", "es384", "es512", "ps256",
	  "ps384", "ps512"), .when_path = "http.auth.type",
	  .when_values = L("jwtbearer"), .required = true },
	{ .path = "http.auth.jwt.secret", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.jwt.signatureMethod",
	  .when_values = L("hmac-sha256", "hmac-sha384", "hmac-sha512"),
	  .required = true },
	{ .path = "http.auth.jwt.privateKey", .kind = V_STRING, .min = 1,
	  .when_path = "http.auth.jwt.signatureMethod",
	  .when_values = L("rsa-sha256", "rsa-sha384", "rsa-sha512", "es256",
	  "es384", "es512", "ps256", "ps384", "ps512"), .required = true },
	{ .path = "http.auth.oauth1.signatureMethod", .kind = V_STRING,
	  .when_path = "http.auth.type", .when_values = L("oauth1"),
	  .required = true },
	{ .path = "http.auth.oauth1.consumerKey", .kind = V_STRING,
	  .when_path = "http.auth.type", .when_values = L("oauth1"),
	  .required = true },
	{ .path = "http.auth.oauth1.accessToken", .kind = V_STRING,
	  .when_path = "http.auth.type", .when_values = L("oauth1"),
	  .required = true },

	/* ---- rest (legacy) ---- */
	{ .path = "rest.baseURI", .kind = V_STRING, .types = L("rest"),
	  .required = true },
	{ .path = "rest.baseURI", .kind = V_STRING, .check = base_uri_ok,
	  .message = BASE_URI_MSG("rest.baseURI") },
	{ .path = "rest.mediaType", .kind = V_STRING,
	  .enums = L("json", "urlencoded", "xml", "csv"), .types = L("rest"),
	  .required = true },
	{ .path = "rest.mediaType", .kind = V_STRING,
	  .enums = L("json", "urlencoded", "xml", "csv") },
	{ .path = "rest.authType", .kind = V_STRING,
	  .enums = L("basic", "token", "oauth", "custom", "cookie", "jwt",
	  "hmac", "wsse", "oauth1"), .types = L("rest"), .required = true },
	{ .path = "rest.authType", .kind = V_STRING,
	  .enums = L("basic", "token", "oauth", "custom", "cookie", "jwt",
	  "hmac", "wsse", "oauth1") },
	{ .path = "rest.tokenLocation", .kind = V_STRING,
	  .enums = L("header", "url") },
	{ .path = "rest.basicAuth", .kind = V_OBJECT },
	{ .path = "rest.headers", .kind = V_NAMEVALUES },
	{ .path = "rest.concurrencyLevel", .kind = V_INT, .min = 1,
	  .max = 100 },

	/* ---- rdbms ---- */
	{ .path = "rdbms.type", .kind = V_STRING,
	  .enums = L("postgresql", "mysql", "mssql", "oracle", "snowflake"),
	  .types = L("rdbms"), .required = true },
	{ .path = "rdbms.type", .kind = V_STRING,
	  .enums = L("postgresql", "mysql", "mssql", "oracle", "snowflake") },
	{ .path = "rdbms.host", .kind = V_STRING, .min = 1,
	  .types = L("rdbms"), .required = true },
	{ .path = "rdbms.database", .kind = V_STRING, .min = 1,
	  .types = L("rdbms"), .required = true },
	{ .path = "rdbms.user", .kind = V_STRING, .min = 1,
	  .types = L("rdbms"), .required = true },
	{ .path = "rdbms.port", .kind = V_INT, .min = 1, .max = 65535 },

	/* ---- secrets: strings wherever they appear ---- */
	{ .path = "http.auth.basic.password", .kind = V_STRING },
	{ .path = "http.auth.token.refreshToken", .kind = V_STRING },
	{ .path = "http.auth.oauth.clientSecret", .kind = V_STRING },
	{ .path = "http.clientCertificates.key", .kind = V_STRING },
	{ .path = "http.clientCertificates.passphrase", .kind = V_STRING },
	{ .path = "http.clientCertificates.pfx", .kind = V_STRING },
	{ .path = "ssl.key", .kind = V_STRING },
	{ .path = "ssl.passphrase", .kind = V_STRING },
	{ .path = "ssl.cert", .kind = V_STRING },
	{ .path = "ssl.ca", .kind = V_STRING },
	{ .path = "rest.bearerToken", .kind = V_STRING },
	{ .path = "rest.refreshToken", .kind = V_STRING },
	{ .path = "rest.basicAuth.password", .kind = V_STRING },
	{ .path = "rdbms.password", .kind = V_STRING },
	{ .path = "ftp.password", .kind = V_STRING },
	{ .path = "s3.secretAccessKey", .kind = V_STRING },
	{ .path = "mongodb.password", .kind = V_STRING },
	{ .path = "dynamodb.secretAccessKey", .kind = V_STRING },
	{ .path = "jdbc.password", .kind = V_STRING },
};

void
connection_strip_readonly(json_t *doc)
{
	size_t	i;

	for (i = 0; i < sizeof(readonly_fields) / sizeof(readonly_fields[0]);
	    i++)
		json_object_del(doc, readonly_fields[i]);
}

void
connection_normalise(json_t *doc)
{
	connection_strip_readonly(doc);
	export_strip_nulls(doc);
}

int
connection_validate(const json_t *doc, struct errors *errs)
{
	return rules_validate(connection_rules, sizeof(connection_rules) /
	    sizeof(connection_rules[0]), doc, NULL, errs);
}

json_t *
connection_secrets_take(json_t *doc, const json_t *stored)
{
	return secrets_take(doc, stored, connection_secret_paths,
	    CONNECTION_NSECRETS,
	    "http.encrypted");
}

char *
connection_render(const json_t *doc, const struct connection_meta *m,
    size_t *len)
{
	json_t		*out;
	char		*s;

	out = render_start(m->id, doc, m->created_ms, m->modified_ms);
	json_object_set_new(out, "lastModifiedBy",
	    json_string(m->modified_by));
	if (m->offline >= 0)
		json_object_set_new(out, "offline",
		    json_boolean(m->offline > 0));
	if (m->debug_date != NULL)
		json_object_set_new(out, "debugDate",
		    json_string(m->debug_date));
	s = json_render_new(out, len);
	json_decref(out);
	return s;
}

int
connection_meta_read(const json_t *body, struct connection_meta *m)
{
	const char	*c, *l;
	json_t		*off;

	memset(m, 0, sizeof(*m));
	m->id = json_string_value(json_object_get(body, "_id"));
	m->modified_by = json_string_value(json_object_get(body,
	    "lastModifiedBy"));
	m->debug_date = json_string_value(json_object_get(body, "debugDate"));
	off = json_object_get(body, "offline");
	m->offline = json_is_boolean(off) ? json_is_true(off) : -1;
	c = json_string_value(json_object_get(body, "createdAt"));
	l = json_string_value(json_object_get(body, "lastModified"));
	if (m->id == NULL || c == NULL || l == NULL ||
	    isotime_parse(c, &m->created_ms) == -1 ||
	    isotime_parse(l, &m->modified_ms) == -1)
		return -1;
	return 0;
}

/* Connection types and the adaptor of the exports that read through
 * them (rest: HTTPExport, or RESTExport with the legacy rest block). */
static const struct {
	const char	*type;
	const char	*adaptor;
} adaptor_of[] = {
	{ "http", "HTTPExport" }, { "rest", "HTTPExport" },
	{ "netsuite", "NetSuiteExport" }, { "salesforce", "SalesforceExport" },
	{ "ftp", "FTPExport" }, { "s3", "S3Export" },
	{ "rdbms", "RDBMSExport" }, { "jdbc", "JDBCExport" },
	{ "mongodb", "MongodbExport" }, { "dynamodb", "DynamodbExport" },
	{ "wrapper", "WrapperExport" }, { "as2", "AS2Export" },
	{ "filesystem", "FileSystemExport" },
};

bool
connection_type_known(const char *type)
{
	size_t	i;

	for (i = 0; type != NULL && connection_types[i] != NULL; i++)
		if (strcmp(type, connection_types[i]) == 0)
			return true;
	return false;
}

const char *
connection_adaptor(const char *type, bool rest_block)
{
	size_t	i;

	if (type == NULL)
		return NULL;
	if (strcmp(type, "rest") == 0 && rest_block)
		return "RESTExport";
	for (i = 0; i < sizeof(adaptor_of) / sizeof(adaptor_of[0]); i++)
		if (strcmp(type, adaptor_of[i].type) == 0)
			return adaptor_of[i].adaptor;
	return NULL;
}

bool
connection_suits(const char *type, const char *adaptor)
{
	const char	*a;

	if (type == NULL || adaptor == NULL)
		return false;
	if (strcmp(adaptor, "RESTExport") == 0)
		return strcmp(type, "rest") == 0;
	a = connection_adaptor(type, false);
	return a != NULL && strcmp(a, adaptor) == 0;
}
