/* The rule table of the export document (export-model.md §2–§6). Field
 * facts only: the validator that reads them is validate.c. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "model/rules.h"
#include "util/json.h"
#include "util/limits.h"

#define L(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* ---- value lists ---- */

static const char *const adaptor_values[] = {
	"HTTPExport", "FTPExport", "AS2Export", "S3Export", "NetSuiteExport",
	"SalesforceExport", "JDBCExport", "RDBMSExport", "MongodbExport",
	"DynamodbExport", "WrapperExport", "SimpleExport", "WebhookExport",
	"FileSystemExport", "RESTExport", NULL,
};
static const char *const type_values[] = {
	"delta", "once", "test", "tranlinedelta", "simple", "blob", "webhook",
	"distributed", "stream", NULL,
};
static const char *const providers[] = {
	"github", "shopify", "travis", "travis-org", "slack", "dropbox",
	"onfleet", "helpscout", "errorception", "box", "stripe", "aha", "jira",
	"pagerduty", "postmark", "mailchimp", "intercom", "activecampaign",
	"segment", "recurly", "shipwire", "surveymonkey", "parseur",
	"mailparser-io", "hubspot", "integrator-extension", "custom",
	"sapariba", "happyreturns", "typeform", "trello", "mailparser", NULL,
};
static const char *const ns_exec_context[] = {
	"userinterface", "webservices", "csvimport", "offlineclient", "portlet",
	"scheduled", "suitelet", "custommassupdate", "workflow", "webstore",
	"userevent", "mapreduce", "restlet", "webapplication",
	"restwebservices", NULL,
};
static const char *const ns_exec_type[] = {
	"create", "edit", "delete", "xedit", "copy", "view", "cancel",
	"approve", "reject", "pack", "ship", "markcomplete", "reassign",
	"editforecast", "dropship", "specialorder", "orderitems", "paybills",
	"print", "email", NULL,
};
static const char *const no_connection[] = {
	"WebhookExport", "SimpleExport", NULL,
};
static const char *const media_request[] = {
	"json", "xml", "urlencoded", "form-data", "plaintext", NULL,
};

/* ---- shape checks ---- */

/* mockOutput: {page_of_records: [{record: {...}}, ...]}, at most 10
 * records and 1 MB. */
static bool
mock_output_ok(const json_t *v)
{
	json_t	*pages, *e;
	size_t	 i, len;
	char	*s;

	if (!json_is_object(v))
		return false;
	pages = json_object_get(v, "page_of_records");
	if (!json_is_array(pages) || json_array_size(pages) > 10)
		return false;
	json_array_foreach(pages, i, e)
		if (!json_is_object(e) ||
		    !json_is_object(json_object_get(e, "record")))
			return false;
	s = json_render_new(v, &len);
	free(s);
	return len <= 1024 * 1024;
}

/* filter / inputFilter: {type: expression|script, expression: {version,
 * rules: [...]}, script: {_scriptId, function}} with the chosen part. */
static bool
filter_ok(const json_t *v)
{
	const char	*t = json_string_value(json_object_get(v, "type"));
	json_t		*e = json_object_get(v, "expression");
	json_t		*sc = json_object_get(v, "script");

	if (!json_is_object(v))
		return false;
	if (e != NULL && (!json_is_object(e) ||
	    (json_object_get(e, "rules") != NULL &&
	    !json_is_array(json_object_get(e, "rules")))))
		return false;
	if (sc != NULL && !json_is_object(sc))
		return false;
	if (t != NULL && strcmp(t, "script") == 0 && sc == NULL)
		return false;
	return true;
}

#define FILTER_MSG(p) p " must be {type: expression|script, expression: " \
	"{version, rules: [...]} or script: {_scriptId, function}}"

const struct rule export_rules[] = {
	/* ---- common fields (§2.2) ---- */
	{ .path = "name", .kind = V_STRING, .min = 1, .max = LIMIT_NAME,
	  .required = true },
	{ .path = "adaptorType", .kind = V_STRING, .enums = adaptor_values,
	  .required = true, .message = "Invalid adaptorType" },
	{ .path = "type", .kind = V_STRING, .enums = type_values },
	{ .path = "type", .kind = V_STRING, .enums = L("webhook"),
	  .adaptors = L("WebhookExport"), .required = true,
	  .message = "type must be webhook on a WebhookExport" },
	{ .path = "type", .kind = V_STRING, .enums = L("simple"),
	  .adaptors = L("SimpleExport"), .required = true,
	  .message = "type must be simple on a SimpleExport" },
	{ .path = "type", .kind = V_STRING, .types = L("webhook"),
	  .not_adaptors = L("WebhookExport"), .forbidden = true,
	  .message = "type webhook needs adaptorType WebhookExport" },
	{ .path = "type", .kind = V_STRING, .types = L("simple"),
	  .not_adaptors = L("SimpleExport"), .forbidden = true,
	  .message = "type simple needs adaptorType SimpleExport" },
	{ .path = "_connectionId", .kind = V_OID, .not_adaptors = no_connection,
	  .required = true },
	{ .path = "_connectionId", .adaptors = L("WebhookExport"),
	  .forbidden = true,
	  .message = "_connectionId is not allowed on a WebhookExport" },
	/* the format on every adaptor (an invalid adaptorType included),
	 * after the rules above, which report first */
	{ .path = "_connectionId", .kind = V_OID },
	{ .path = "_integrationId", .kind = V_OID },
	{ .path = "_ediProfileId", .kind = V_OID },
	{ .path = "_postParseListenerId", .kind = V_OID },
	{ .path = "description", .kind = V_STRING, .max = 10240 },
	{ .path = "pageSize", .kind = V_INT, .min = 1 },
	{ .path = "isLookup", .kind = V_BOOL },
	{ .path = "oneToMany", .kind = V_BOOL },
	{ .path = "pathToMany", .kind = V_STRING },
	{ .path = "dataURITemplate", .kind = V_STRING },
	{ .path = "traceKeyTemplate", .kind = V_STRING },
	{ .path = "groupByFields", .kind = V_STRINGS },
	{ .path = "skipRetries", .kind = V_BOOL },
	{ .path = "preserveOrder", .kind = V_BOOL },
	{ .path = "sampleHeaders", .kind = V_NAMEVALUES },
	{ .path = "sampleQueryParams", .kind = V_NAMEVALUES },
	{ .path = "settings", .kind = V_OBJECT },
	{ .path = "settingsForm", .kind = V_OBJECT },
	{ .path = "assistant", .kind = V_STRING },
	{ .path = "assistantMetadata", .kind = V_OBJECT },
	{ .path = "valueDelta", .kind = V_OBJECT },
	{ .path = "valueDelta.exportedField", .kind = V_STRING },
	{ .path = "valueDelta.pendingField", .kind = V_STRING },
	{ .path = "hooks", .kind = V_OBJECT },
	{ .path = "hooks.preSavePage", .kind = V_OBJECT },
	{ .path = "hooks.preSavePage.function", .kind = V_STRING },
	{ .path = "hooks.preSavePage._scriptId", .kind = V_OID },
	{ .path = "hooks.preSavePage._stackId", .kind = V_OID },
	{ .path = "hooks.preSavePage.configuration", .kind = V_OBJECT },
	{ .path = "filter", .kind = V_OBJECT, .check = filter_ok,
	  .message = FILTER_MSG("filter") },
	{ .path = "filter.type", .kind = V_STRING,
	  .enums = L("expression", "script") },
	{ .path = "filter.expression.version", .kind = V_STRING,
	  .enums = L("1") },
	{ .path = "filter.script._scriptId", .kind = V_OID },
	{ .path = "filter.script.function", .kind = V_STRING },
	{ .path = "inputFilter", .kind = V_OBJECT, .check = filter_ok,
	  .message = FILTER_MSG("inputFilter") },
	{ .path = "inputFilter.type", .kind = V_STRING,
	  .enums = L("expression", "script") },
	{ .path = "inputFilter.expression.version", .kind = V_STRING,
	  .enums = L("1") },
	{ .path = "inputFilter.script._scriptId", .kind = V_OID },
	{ .path = "transform", .kind = V_OBJECT },
	{ .path = "transform.type", .kind = V_STRING,
	  .enums = L("expression", "script") },
	{ .path = "transform.expression", .kind = V_OBJECT },
	{ .path = "transform.expression.version", .kind = V_STRING,
	  .enums = L("1", "2") },
	{ .path = "transform.expression.rules", .kind = V_ARRAY },
	{ .path = "transform.expression.rulesTwoDotZero", .kind = V_OBJECT },
	{ .path = "transform.expression.rulesTwoDotZero.mode",
	  .kind = V_STRING, .enums = L("create", "modify") },
	{ .path = "transform.script", .kind = V_OBJECT },
	{ .path = "transform.script._scriptId", .kind = V_OID },
	{ .path = "transform.script.function", .kind = V_STRING },
	{ .path = "transform.script", .kind = V_OBJECT,
	  .when_path = "transform.type", .when_values = L("script"),
	  .required = true },
	{ .path = "mappings", .kind = V_OBJECT },
	{ .path = "mockOutput", .kind = V_OBJECT, .check = mock_output_ok,
	  .message = "mockOutput is invalid" },

	/* ---- type blocks (§4) ---- */
	{ .path = "delta", .kind = V_OBJECT },
	{ .path = "delta.dateField", .kind = V_STRING, .min = 1,
	  .types = L("delta"), .not_adaptors = L("HTTPExport"),
	  .required = true },
	{ .path = "delta.dateField", .adaptors = L("HTTPExport"),
	  .forbidden = true, .message = "delta.dateField is not valid on an "
	  "HTTPExport: use {{lastExportDateTime}} in the relative URI or body" },
	{ .path = "delta.dateFormat", .kind = V_STRING },
	{ .path = "delta.lagOffset", .kind = V_INT },
	{ .path = "delta.startDate", .kind = V_DATETIME },
	{ .path = "delta.endDateField", .kind = V_STRING },
	{ .path = "test", .kind = V_OBJECT },
	{ .path = "test.limit", .kind = V_INT, .min = 1, .max = 100,
	  .types = L("test"), .required = true },
	{ .path = "test.limit", .kind = V_INT, .min = 1, .max = 100 },
	{ .path = "once", .kind = V_OBJECT },
	{ .path = "once.booleanField", .kind = V_STRING, .min = 1,
	  .types = L("once"), .required = true },
	{ .path = "webhook", .kind = V_OBJECT, .types = L("webhook"),
	  .required = true },
	{ .path = "simple", .kind = V_OBJECT, .types = L("simple"),
	  .required = true },
	/* on other types these blocks are not required, but still objects */
	{ .path = "webhook", .kind = V_OBJECT },
	{ .path = "simple", .kind = V_OBJECT },
	{ .path = "distributed", .kind = V_OBJECT },
	{ .path = "distributed.bearerToken", .kind = V_STRING },

	/* ---- HTTPExport (§3) ---- */
	{ .path = "http", .kind = V_OBJECT },
	{ .path = "http.method", .kind = V_STRING,
	  .enums = L("GET", "POST", "PUT", "PATCH", "DELETE") },
	{ .path = "http.relativeURI", .kind = V_STRING },
	{ .path = "http.body", .kind = V_ANY },
	{ .path = "http.type", .kind = V_STRING,
	  .enums = L("file", "blob", "csvstream") },
	{ .path = "http.requestMediaType", .kind = V_STRING,
	  .enums = media_request },
	{ .path = "http.successMediaType", .kind = V_STRING,
	  .enums = L("json", "xml", "csv", "plaintext") },
	{ .path = "http.errorMediaType", .kind = V_STRING,
	  .enums = L("json", "xml", "plaintext") },
	{ .path = "http.headers", .kind = V_NAMEVALUES },
	{ .path = "http.paging", .kind = V_OBJECT },
	{ .path = "http.paging.method", .kind = V_STRING,
	  .enums = L("linkheader", "page", "skip", "token", "url",
	  "relativeuri", "body", "nextpageurl") },
	{ .path = "http.paging.path", .kind = V_STRING, .min = 1,
	  .when_path = "http.paging.method", .when_values = L("token", "url"),
	  .required = true },
	{ .path = "http.paging.pathLocation", .kind = V_STRING,
	  .enums = L("body", "header"), .when_path = "http.paging.method",
	  .when_values = L("token"), .required = true },
	{ .path = "http.paging.pathLocation", .kind = V_STRING,
	  .enums = L("body", "header") },
	{ .path = "http.paging.relativeURI", .kind = V_STRING, .min = 1,
	  .when_path = "http.paging.method", .when_values = L("relativeuri"),
	  .required = true },
	{ .path = "http.paging.body", .kind = V_ANY,
	  .when_path = "http.paging.method", .when_values = L("body"),
	  .required = true },
	{ .path = "http.paging.lastPageValues", .kind = V_ARRAY,
	  .when_path = "http.paging.lastPagePath", .when_values = L("*"),
	  .required = true },
	{ .path = "http.paging.lastPageStatusCode", .kind = V_INT },
	{ .path = "http.paging.maxPagePath", .kind = V_STRING },
	{ .path = "http.response", .kind = V_OBJECT },
	{ .path = "http.response.resourcePath", .kind = V_STRING },
	{ .path = "http.response.blobFormat", .kind = V_STRING,
	  .enums = L("utf8", "ucs2", "utf-16le", "ascii", "binary", "base64",
	  "hex") },
	{ .path = "http.once", .kind = V_OBJECT },
	{ .path = "http.once.method", .kind = V_STRING,
	  .enums = L("GET", "POST", "PUT", "PATCH", "DELETE") },
	{ .path = "http.once.relativeURI", .kind = V_STRING },

	/* ---- RESTExport (legacy, integratorio-surface.md §2.5) ---- */
	{ .path = "rest", .kind = V_OBJECT },
	{ .path = "rest.relativeURI", .kind = V_STRING },
	{ .path = "rest.method", .kind = V_STRING,
	  .enums = L("GET", "POST", "PUT", "PATCH", "DELETE") },
	{ .path = "rest.headers", .kind = V_NAMEVALUES },
	{ .path = "rest.resourcePath", .kind = V_STRING },

	/* ---- NetSuiteExport ---- */
	{ .path = "netsuite", .kind = V_OBJECT },
	{ .path = "netsuite.type", .kind = V_STRING,
	  .enums = L("search", "basicSearch", "metadata", "selectoption",
	  "restlet", "getList", "getServerTime", "distributed", "file") },
	{ .path = "netsuite.searches", .kind = V_ARRAY,
	  .adaptors = L("NetSuiteExport"), .when_path = "netsuite.type",
	  .when_values = L("search"), .required = true },
	{ .path = "netsuite.restlet", .kind = V_OBJECT },
	{ .path = "netsuite.restlet.recordType", .kind = V_STRING, .min = 1,
	  .adaptors = L("NetSuiteExport"), .when_path = "netsuite.type",
	  .when_values = L("restlet"), .required = true },
	{ .path = "netsuite.restlet.searchId", .kind = V_ANY,
	  .adaptors = L("NetSuiteExport"), .when_path = "netsuite.type",
	  .when_values = L("restlet"), .required = true },
	{ .path = "netsuite.restlet.restletVersion", .kind = V_STRING,
	  .enums = L("suitebundle", "suiteapp1.0", "suiteapp2.0") },
	{ .path = "netsuite.file", .kind = V_OBJECT },
	{ .path = "netsuite.file.folderInternalId", .kind = V_ANY,
	  .adaptors = L("NetSuiteExport"), .when_path = "netsuite.type",
	  .when_values = L("file"), .required = true },
	{ .path = "netsuite.internalId", .kind = V_ANY,
	  .adaptors = L("NetSuiteExport"), .types = L("blob"),
	  .required = true },
	{ .path = "netsuite.skipGrouping", .kind = V_BOOL },
	{ .path = "netsuite.statsOnly", .kind = V_BOOL },
	{ .path = "netsuite.distributed", .kind = V_OBJECT },
	{ .path = "netsuite.distributed.executionContext", .kind = V_STRINGS,
	  .enums = ns_exec_context },
	{ .path = "netsuite.distributed.executionType", .kind = V_STRINGS,
	  .enums = ns_exec_type },
	{ .path = "netsuite.distributed.recordType", .kind = V_STRING },
	{ .path = "netsuite.distributed.disabled", .kind = V_BOOL },
	{ .path = "netsuite.distributed.ioEnvironment", .kind = V_STRING,
	  .enums = L("production", "staging") },
	{ .path = "netsuite.distributed.frameworkVersion", .kind = V_STRING,
	  .enums = L("suitebundle", "suiteapp1.0", "suiteapp2.0") },
	{ .path = "netsuite.distributed.lastSyncedDate", .kind = V_DATETIME },

	/* ---- SalesforceExport ---- */
	{ .path = "salesforce", .kind = V_OBJECT },
	{ .path = "salesforce.type", .kind = V_STRING,
	  .enums = L("soql", "distributed") },
	{ .path = "salesforce.api", .kind = V_STRING,
	  .enums = L("rest", "bulk") },
	{ .path = "salesforce.soql", .kind = V_OBJECT },
	{ .path = "salesforce.soql.query", .kind = V_STRING, .min = 1,
	  .max = 200000, .adaptors = L("SalesforceExport"),
	  .not_types = L("distributed", "blob"), .required = true },
	{ .path = "salesforce.sObjectType", .kind = V_STRING, .min = 1,
	  .adaptors = L("SalesforceExport"), .types = L("distributed"),
	  .required = true },
	{ .path = "salesforce.sObjectType", .kind = V_STRING,
	  .enums = L("Attachment", "ContentVersion", "Document"),
	  .adaptors = L("SalesforceExport"), .types = L("blob"),
	  .required = true },
	{ .path = "salesforce.id", .kind = V_STRING, .min = 1,
	  .adaptors = L("SalesforceExport"), .types = L("blob"),
	  .required = true },
	{ .path = "salesforce.includeDeletedRecords", .kind = V_BOOL },
	{ .path = "salesforce.bulk", .kind = V_OBJECT },
	{ .path = "salesforce.bulk.maxRecords", .kind = V_INT, .min = 10000 },
	{ .path = "salesforce.bulk.purgeJobAfterExport", .kind = V_BOOL },
	{ .path = "salesforce.distributed", .kind = V_OBJECT },
	{ .path = "salesforce.distributed.referencedFields",
	  .kind = V_STRINGS },
	{ .path = "salesforce.distributed.disabled", .kind = V_BOOL },
	{ .path = "salesforce.distributed.qualifier", .kind = V_STRING },
	{ .path = "salesforce.distributed.batchSize", .kind = V_INT, .min = 4,
	  .max = 200 },
	{ .path = "salesforce.distributed.relatedLists", .kind = V_ARRAY },

	/* ---- file-based adaptors and the shared file block ---- */
	{ .path = "ftp", .kind = V_OBJECT },
	{ .path = "ftp.directoryPath", .kind = V_STRING, .min = 1,
	  .adaptors = L("FTPExport"), .required = true },
	{ .path = "s3", .kind = V_OBJECT },
	{ .path = "s3.bucket", .kind = V_STRING, .min = 1,
	  .adaptors = L("S3Export"), .required = true },
	{ .path = "s3.region", .kind = V_STRING, .min = 1 },
	{ .path = "filesystem", .kind = V_OBJECT },
	{ .path = "filesystem.directoryPath", .kind = V_STRING, .min = 1,
	  .adaptors = L("FileSystemExport"), .required = true },
	{ .path = "file", .kind = V_OBJECT },
	{ .path = "file.type", .kind = V_STRING,
	  .enums = L("csv", "json", "xlsx", "xml", "filedefinition") },
	{ .path = "file.fileDefinition._fileDefinitionId", .kind = V_OID,
	  .when_path = "file.type", .when_values = L("filedefinition"),
	  .required = true },
	{ .path = "file.output", .kind = V_STRING,
	  .enums = L("records", "metadata", "blobKeys") },
	{ .path = "file.encoding", .kind = V_STRING,
	  .enums = L("utf8", "win1252", "utf-16le", "gb18030", "macroman",
	  "iso88591", "shiftjis") },
	{ .path = "file.compressionFormat", .kind = V_STRING,
	  .enums = L("gzip", "zip") },
	{ .path = "file.decrypt", .kind = V_STRING, .enums = L("pgp") },
	{ .path = "file.batchSize", .kind = V_INT, .min = 1, .max = 1000 },
	{ .path = "file.csv", .kind = V_OBJECT },
	{ .path = "file.csv.hasHeaderRow", .kind = V_BOOL },
	{ .path = "file.csv.trimSpaces", .kind = V_BOOL },
	{ .path = "file.csv.rowsToSkip", .kind = V_INT, .min = 0,
	  .max = LONG_MAX },
	{ .path = "file.json", .kind = V_OBJECT },
	{ .path = "file.xml", .kind = V_OBJECT },
	{ .path = "file.xlsx", .kind = V_OBJECT },
	{ .path = "file.sortByFields", .kind = V_ARRAY },

	/* ---- database and other adaptors ---- */
	{ .path = "rdbms", .kind = V_OBJECT },
	{ .path = "rdbms.query", .kind = V_STRING, .min = 1,
	  .adaptors = L("RDBMSExport"), .required = true },
	{ .path = "jdbc", .kind = V_OBJECT },
	{ .path = "jdbc.formType", .kind = V_STRING,
	  .enums = L("sql", "simple") },
	{ .path = "jdbc.query", .kind = V_STRING, .min = 1,
	  .adaptors = L("JDBCExport"), .when_path = "jdbc.formType",
	  .when_values = L("sql"), .when_absent = true, .required = true },
	{ .path = "jdbc.simple", .kind = V_OBJECT,
	  .adaptors = L("JDBCExport"), .when_path = "jdbc.formType",
	  .when_values = L("simple"), .required = true },
	{ .path = "jdbc.simple.table", .kind = V_STRING },
	{ .path = "jdbc.simple.columns", .kind = V_STRINGS },
	{ .path = "mongodb", .kind = V_OBJECT },
	{ .path = "mongodb.collection", .kind = V_STRING, .min = 1,
	  .adaptors = L("MongodbExport"), .required = true },
	{ .path = "mongodb.method", .kind = V_STRING, .enums = L("find") },
	{ .path = "mongodb.filter", .kind = V_STRING },
	{ .path = "mongodb.projection", .kind = V_STRING },
	{ .path = "mongodb.readPreference", .kind = V_STRING,
	  .enums = L("doNotOverride", "primary", "primaryPreferred",
	  "secondary", "secondaryPreferred", "nearest") },
	{ .path = "dynamodb", .kind = V_OBJECT },
	{ .path = "dynamodb.region", .kind = V_STRING, .min = 1,
	  .adaptors = L("DynamodbExport"), .required = true },
	{ .path = "dynamodb.tableName", .kind = V_STRING, .min = 1,
	  .adaptors = L("DynamodbExport"), .required = true },
	{ .path = "dynamodb.keyConditionExpression", .kind = V_STRING,
	  .min = 1, .adaptors = L("DynamodbExport"), .required = true },
	{ .path = "dynamodb.expressionAttributeNames", .kind = V_ANY,
	  .adaptors = L("DynamodbExport"), .required = true },
	{ .path = "dynamodb.expressionAttributeValues", .kind = V_ANY,
	  .adaptors = L("DynamodbExport"), .required = true },
	{ .path = "dynamodb.onceExportPartitionKey", .kind = V_STRING,
	  .min = 1, .adaptors = L("DynamodbExport"), .types = L("once"),
	  .required = true },
	{ .path = "dynamodb.method", .kind = V_STRING, .enums = L("query") },
	{ .path = "dynamodb.projectionExpression", .kind = V_STRINGS },
	{ .path = "dynamodb.filterExpression", .kind = V_STRING },
	{ .path = "as2", .kind = V_OBJECT },
	{ .path = "as2.blob", .kind = V_BOOL },
	{ .path = "as2._tpConnectorId", .kind = V_OID },
	{ .path = "wrapper", .kind = V_OBJECT },
	{ .path = "wrapper.function", .kind = V_STRING, .min = 1,
	  .adaptors = L("WrapperExport"), .required = true },
	{ .path = "wrapper.configuration", .kind = V_OBJECT },

	/* ---- webhook block (§6) ----
	 * Secrets are never required: a PUT that leaves one out erases it
	 * (spec §2), and a listener with no secret stored refuses every
	 * delivery. */
	{ .path = "webhook.provider", .kind = V_STRING, .enums = providers,
	  .message = "Invalid webhook.provider" },
	{ .path = "webhook.verify", .kind = V_STRING,
	  .enums = L("token", "hmac", "basic", "secret_url", "publickey") },
	{ .path = "webhook.verify", .kind = V_STRING,
	  .adaptors = L("WebhookExport"), .when_path = "webhook.provider",
	  .when_values = L("custom"), .when_absent = true, .required = true },
	{ .path = "webhook.key", .kind = V_STRING },
	{ .path = "webhook.algorithm", .kind = V_STRING,
	  .enums = L("sha1", "sha256", "sha384", "sha512"),
	  .when_path = "webhook.verify", .when_values = L("hmac"),
	  .required = true },
	{ .path = "webhook.algorithm", .kind = V_STRING,
	  .enums = L("sha1", "sha256", "sha384", "sha512") },
	{ .path = "webhook.encoding", .kind = V_STRING,
	  .enums = L("hex", "base64", "hexadecimal"),
	  .when_path = "webhook.verify", .when_values = L("hmac"),
	  .required = true },
	{ .path = "webhook.encoding", .kind = V_STRING,
	  .enums = L("hex", "base64", "hexadecimal") },
	{ .path = "webhook.header", .kind = V_STRING, .min = 1,
	  .when_path = "webhook.verify", .when_values = L("hmac"),
	  .required = true },
	{ .path = "webhook.token", .kind = V_STRING },
	{ .path = "webhook.tokenLocation", .kind = V_STRING,
	  .enums = L("body", "header", "queryParam") },
	{ .path = "webhook.path", .kind = V_STRING, .min = 1 },
	{ .path = "webhook.tokenHeaderName", .kind = V_STRING, .min = 1,
	  .when_path = "webhook.tokenLocation", .when_values = L("header"),
	  .required = true },
	{ .path = "webhook.tokenHeaderScheme", .kind = V_STRING,
	  .enums = L("bearer", "custom", "none") },
	{ .path = "webhook.customTokenScheme", .kind = V_STRING, .min = 1,
	  .when_path = "webhook.tokenHeaderScheme",
	  .when_values = L("custom"), .required = true },
	{ .path = "webhook.tokenQueryParamName", .kind = V_STRING, .min = 1,
	  .when_path = "webhook.tokenLocation",
	  .when_values = L("queryParam"), .required = true },
	{ .path = "webhook.username", .kind = V_STRING, .min = 1,
	  .when_path = "webhook.verify", .when_values = L("basic"),
	  .required = true },
	{ .path = "webhook.password", .kind = V_STRING },
	{ .path = "webhook.requestMediaType", .kind = V_STRING,
	  .enums = L("json", "xml", "csv", "urlencoded", "plaintext") },
	{ .path = "webhook.pathToRecords", .kind = V_STRING },
	{ .path = "webhook.includeParentData", .kind = V_BOOL },
	{ .path = "webhook.successStatusCode", .kind = V_INT, .min = 200,
	  .max = 299 },
	{ .path = "webhook.successBody", .kind = V_STRING },
	{ .path = "webhook.successMediaType", .kind = V_STRING,
	  .enums = L("json", "xml", "plaintext") },
	{ .path = "webhook.successResponseHeaders", .kind = V_NAMEVALUES },
	{ .path = "webhook.challengeSuccessStatusCode", .kind = V_INT,
	  .min = 200, .max = 299 },
	{ .path = "webhook.challengeSuccessBody", .kind = V_STRING },
	{ .path = "webhook.challengeSuccessMediaType", .kind = V_STRING,
	  .enums = L("json", "xml", "plaintext") },
	{ .path = "webhook.challengeResponseHeaders", .kind = V_NAMEVALUES },
	{ .path = "webhook._httpConnectorId", .kind = V_OID },
};

const unsigned long export_nrules = sizeof(export_rules) /
    sizeof(export_rules[0]);
