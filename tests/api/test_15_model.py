"""The export model, table-driven per adaptorType (export-model.md §2-§6, §9;
the rule table src/model/rules.c): minimal and full documents, every required
field and enum with its exact dot path, type blocks, mockOutput, filter and
transform shapes, real documents, unknown fields, and rejected PUTs."""

import copy

import pytest

from apilib import (ADAPTOR_TYPES, CONN_A, MASK, adaptor_body, assert_errors, assert_status,
                    body_of, del_path, secret_value, set_path, unique, without_server_fields)

MRF = "missing_required_field"
INV = "invalid_field"

OID1 = "5587092ed78128000000000a"
OID2 = "5587092ed78128000000000b"
OID3 = "5587092ed78128000000000c"
OID4 = "5587092ed78128000000000d"


def minimal(adaptor, **paths):
    """The smallest valid export of an adaptor, with dot paths set."""
    if adaptor == "WebhookExport":
        b = {"name": unique("hook"), "adaptorType": "WebhookExport", "type": "webhook",
             "webhook": {"provider": "github"}}
    elif adaptor == "SimpleExport":
        b = {"name": unique("simple"), "adaptorType": "SimpleExport", "type": "simple",
             "simple": {"file": {"type": "csv"}}}
    else:
        b = adaptor_body(adaptor)
    for p, v in paths.items():
        set_path(b, p.replace("__", "."), copy.deepcopy(v))
    return b


def with_paths(body, paths):
    b = copy.deepcopy(body)
    for p, v in paths.items():
        set_path(b, p, copy.deepcopy(v))
    return b


def post_422(api, body, expected):
    r = api.post("/v1/exports", json=body)
    return assert_errors(r, 422, expected)


def post_ok(api, body, expected=None):
    """POST, expect 201 and an echo of every field sent (or of expected);
    GET returns the same document."""
    r = api.post("/v1/exports", json=body)
    assert_status(r, 201)
    got = body_of(r)
    if expected is not None:
        api.resolve(expected)
    exp = without_server_fields(expected if expected is not None else body)
    assert without_server_fields(got) == exp
    assert got["asynchronous"] is True
    g = api.get("/v1/exports/" + got["_id"])
    assert_status(g, 200)
    assert body_of(g) == got
    return got


# --------------------------------------------------------------------------
# Full documents: many documented fields per adaptor


COMMON_FULL = {
    "description": "A full export using many documented fields",
    "pageSize": 50,
    "dataURITemplate": "https://app.example.com/records/{{data.id}}",
    "traceKeyTemplate": "{{data.id}}-{{data.version}}",
    "groupByFields": ["customer", "status"],
    "skipRetries": True,
    "preserveOrder": False,
    "sampleHeaders": [{"name": "X-Sample", "value": "1"}],
    "sampleQueryParams": [{"name": "q", "value": "abc"}],
    "settings": {"threshold": 5, "mode": "strict"},
    "settingsForm": {"form": {"fieldMap": {"threshold": {"type": "text"}}}},
    "assistant": "shopify",
    "assistantMetadata": {"resource": "orders", "version": "2024-01"},
    "valueDelta": {"exportedField": "exported", "pendingField": "pending"},
    "hooks": {"preSavePage": {"function": "preSavePage", "_scriptId": OID1, "_stackId": OID2,
                              "configuration": {"retries": 3}}},
    "filter": {"type": "expression",
               "expression": {"version": "1",
                              "rules": ["equals", ["string", ["extract", "status"]], "open"]}},
    "transform": {"type": "expression",
                  "expression": {"version": "1",
                                 "rules": [[{"extract": "id", "generate": "externalId"}]]}},
    "mockOutput": {"page_of_records": [{"record": {"id": 1, "status": "open"}},
                                       {"record": {"id": 2, "status": "open"}}]},
    "_integrationId": OID3,
    "sampleData": "{\"id\":1,\"status\":\"open\"}",
    "useTechAdaptorForm": True,
    "originSampleData": "id,status\n1,open\n",
}

FILE_CSV = {"type": "csv", "output": "records", "encoding": "win1252", "compressionFormat": "gzip",
            "decrypt": "pgp", "batchSize": 500, "skipDelete": True, "sortByFields": [{"field": "id"}],
            "csv": {"columnDelimiter": ";", "rowDelimiter": "\r\n", "hasHeaderRow": True,
                    "trimSpaces": True, "rowsToSkip": 2, "keyColumns": ["id"]}}

FULL = {
    "HTTPExport": {
        "isLookup": True, "oneToMany": True, "pathToMany": "lines",
        "mappings": {"fields": [{"extract": "a", "generate": "b"}]},
        "inputFilter": {"type": "script", "script": {"_scriptId": OID4, "function": "keep"}},
        "http": {"method": "POST", "relativeURI": "/v2/orders?since={{lastExportDateTime}}",
                 "body": {"query": "{{data.id}}"}, "requestMediaType": "json",
                 "successMediaType": "json", "errorMediaType": "json",
                 "headers": [{"name": "Accept", "value": "application/json"}],
                 "paging": {"method": "token", "path": "meta.next", "pathLocation": "body",
                            "lastPagePath": "meta.done", "lastPageValues": [True, "true"],
                            "lastPageStatusCode": 404, "maxPagePath": "meta.pages"},
                 "response": {"resourcePath": "data.orders", "blobFormat": "utf8"},
                 "once": {"method": "PUT", "relativeURI": "/v2/orders/{{data.id}}/exported"}},
    },
    "FTPExport": {
        "type": "delta",
        "delta": {"dateField": "lastmodified", "dateFormat": "YYYY-MM-DD HH:mm", "lagOffset": -1000,
                  "startDate": "2020-01-01T00:00:00.000Z", "endDateField": "until"},
        "ftp": {"directoryPath": "/outbound/orders", "fileNameStartsWith": "order_",
                "fileNameEndsWith": ".csv", "backupDirectoryPath": "/archive"},
        "file": FILE_CSV,
        "_ediProfileId": OID1, "_postParseListenerId": OID2,
    },
    "AS2Export": {
        "type": "blob",
        "as2": {"blob": True, "_tpConnectorId": OID1},
        "file": {"type": "xml", "xml": {"resourcePath": "/Orders/Order"}},
        "_postParseListenerId": OID2,
    },
    "S3Export": {
        "type": "test", "test": {"limit": 100},
        "s3": {"region": "eu-west-1", "bucket": "orders-bucket", "keyStartsWith": "in/",
               "keyEndsWith": ".json", "backupBucket": "orders-archive", "keyPrefix": "done/"},
        "file": {"type": "json", "json": {"resourcePath": "records"}, "encoding": "utf-16le",
                 "compressionFormat": "zip", "batchSize": 1000},
    },
    "NetSuiteExport": {
        "type": "tranlinedelta",
        "netsuite": {"type": "restlet", "skipGrouping": True, "statsOnly": False,
                     "searchPreferences": {"bodyFieldsOnly": True, "pageSize": 100,
                                           "returnSearchColumns": True},
                     "restlet": {"recordType": "salesorder", "searchId": "customsearch42",
                                 "restletVersion": "suiteapp2.0", "useSS2Restlets": True,
                                 "criteria": [{"field": "status", "operator": "anyof",
                                               "searchValue": ["A"]}],
                                 "batchSize": 25,
                                 "hooks": {"preSend": {"fileInternalId": "1234",
                                                       "function": "preSend"}}}},
    },
    "SalesforceExport": {
        "type": "once", "once": {"booleanField": "Exported__c"},
        "salesforce": {"type": "soql", "api": "bulk", "includeDeletedRecords": True,
                       "soql": {"query": "SELECT Id, Name FROM Account WHERE Exported__c = false"},
                       "bulk": {"maxRecords": 20000, "purgeJobAfterExport": False}},
    },
    "JDBCExport": {
        "type": "test", "test": {"limit": 1},
        "jdbc": {"formType": "simple",
                 "simple": {"table": "orders", "columns": ["id", "total"], "filter": "total > 5"}},
    },
    "RDBMSExport": {
        "type": "once", "once": {"booleanField": "exported"},
        "rdbms": {"query": "SELECT * FROM orders WHERE exported = 0",
                  "once": {"query": "UPDATE orders SET exported = 1 WHERE id = {{data.id}}"}},
    },
    "MongodbExport": {
        "type": "stream",
        "mongodb": {"collection": "orders", "method": "find", "filter": "{\"status\":\"open\"}",
                    "projection": "{\"_id\":1}", "readPreference": "secondaryPreferred",
                    "pipeline": "[]"},
    },
    "DynamodbExport": {
        "type": "once", "once": {"booleanField": "exported"},
        "dynamodb": {"region": "us-west-2", "tableName": "orders", "method": "query",
                     "keyConditionExpression": "#k = :v",
                     "expressionAttributeNames": "{\"#k\":\"status\"}",
                     "expressionAttributeValues": "{\":v\":\"open\"}",
                     "onceExportPartitionKey": "id", "onceExportSortKey": "createdAt",
                     "projectionExpression": ["id", "total"], "filterExpression": "total > :min"},
    },
    "WrapperExport": {
        "type": "delta", "delta": {"dateField": "updated_at"},
        "wrapper": {"function": "exportOrders", "configuration": {"endpoint": "orders", "n": 2}},
    },
    "SimpleExport": {
        "simple": {"file": {"type": "csv", "csv": {"columnDelimiter": ",", "hasHeaderRow": True}}},
        "file": {"type": "csv", "encoding": "utf8"},
    },
    "WebhookExport": {
        "webhook": {"provider": "custom", "verify": "hmac", "algorithm": "sha256",
                    "encoding": "base64", "header": "X-Signature", "key": "@SECRET@",
                    "requestMediaType": "json", "pathToRecords": "events",
                    "includeParentData": True, "successStatusCode": 200,
                    "successBody": "{\"ok\":true}", "successMediaType": "json",
                    "successResponseHeaders": [{"name": "X-Ack", "value": "1"}],
                    "challengeSuccessStatusCode": 200,
                    "challengeSuccessBody": "{\"challenge\":\"{{challenge}}\"}",
                    "challengeSuccessMediaType": "json",
                    "challengeResponseHeaders": [{"name": "X-Challenge", "value": "yes"}]},
    },
    "FileSystemExport": {
        "type": "test", "test": {"limit": 7},
        "filesystem": {"directoryPath": "/var/exports"},
        "file": {"type": "xlsx", "xlsx": {"hasHeaderRow": False}, "output": "metadata"},
    },
}


def full_body(adaptor):
    b = minimal(adaptor)
    b.update(copy.deepcopy(COMMON_FULL))
    for k, v in FULL[adaptor].items():
        b[k] = copy.deepcopy(v)
    b["name"] = unique("full-" + adaptor)
    return b


def test_full_table_covers_all_adaptors():
    assert sorted(FULL) == sorted(ADAPTOR_TYPES)
    assert len(ADAPTOR_TYPES) == 14


@pytest.mark.parametrize("adaptor", ADAPTOR_TYPES)
def test_minimal_export_per_adaptor(api, adaptor):
    got = post_ok(api, minimal(adaptor))
    assert got["adaptorType"] == adaptor


@pytest.mark.parametrize("adaptor", ADAPTOR_TYPES)
def test_full_export_per_adaptor(api, adaptor, leak_watch):
    b = full_body(adaptor)
    exp = None
    if adaptor == "WebhookExport":
        s = secret_value("full")
        leak_watch.append(s)
        b["webhook"]["key"] = s
        exp = copy.deepcopy(b)
        exp["webhook"]["key"] = MASK
    got = post_ok(api, b, exp)
    if adaptor == "WebhookExport":
        assert s not in str(got)
    # PUT of the same full document is accepted and echoed too
    b["name"] = unique("full-put")
    if adaptor == "WebhookExport":
        b["webhook"]["key"] = MASK
        exp["name"] = b["name"]
    r = api.put("/v1/exports/" + got["_id"], json=b)
    assert_status(r, 200)
    assert without_server_fields(body_of(r)) == without_server_fields(exp if exp else b)


@pytest.mark.parametrize("adaptor", ["NetSuiteExport", "SalesforceExport"])
def test_distributed_exports_valid(api, adaptor):
    if adaptor == "NetSuiteExport":
        b = minimal(adaptor, type="distributed",
                    netsuite={"type": "distributed",
                              "distributed": {"recordType": "salesorder",
                                              "executionContext": ["userinterface", "webstore"],
                                              "executionType": ["create", "edit", "xedit"],
                                              "disabled": False, "ioEnvironment": "production",
                                              "frameworkVersion": "suiteapp2.0",
                                              "lastSyncedDate": "2024-01-02T03:04:05.678Z",
                                              "sublists": ["item"]}})
        exp = b
    else:
        b = minimal(adaptor, type="distributed",
                    salesforce={"type": "distributed", "sObjectType": "Account",
                                "distributed": {"referencedFields": ["Owner.Name"],
                                                "disabled": True, "qualifier": "Amount > 10",
                                                "batchSize": 200, "relatedLists": []}})
        exp = b
    post_ok(api, b, exp)


# --------------------------------------------------------------------------
# Required fields: removing each gives 422 missing_required_field at its path

HOOK_CUSTOM = {"provider": "custom", "verify": "token", "token": "t0k", "path": "token"}

# (case id, adaptor, dot paths to set on the minimal body, path to remove)
REQUIRED = [
    ("name", "HTTPExport", {}, "name"),
    ("adaptorType", "HTTPExport", {}, "adaptorType"),
    ("adaptorType-not-inferable", "FTPExport", {"type": "test", "test": {"limit": 1}}, "adaptorType"),
    ("ftp.directoryPath", "FTPExport", {}, "ftp.directoryPath"),
    ("ftp-block", "FTPExport", {}, "ftp"),
    ("s3.bucket", "S3Export", {}, "s3.bucket"),
    ("rdbms.query", "RDBMSExport", {}, "rdbms.query"),
    ("jdbc.query", "JDBCExport", {}, "jdbc.query"),
    ("jdbc.query-sql", "JDBCExport", {"jdbc.formType": "sql"}, "jdbc.query"),
    ("jdbc.simple", "JDBCExport", {"jdbc.formType": "simple", "jdbc.simple": {"table": "t"}},
     "jdbc.simple"),
    ("mongodb.collection", "MongodbExport", {}, "mongodb.collection"),
    ("dynamodb.region", "DynamodbExport", {}, "dynamodb.region"),
    ("dynamodb.tableName", "DynamodbExport", {}, "dynamodb.tableName"),
    ("dynamodb.keyConditionExpression", "DynamodbExport", {}, "dynamodb.keyConditionExpression"),
    ("dynamodb.expressionAttributeNames", "DynamodbExport", {}, "dynamodb.expressionAttributeNames"),
    ("dynamodb.expressionAttributeValues", "DynamodbExport", {},
     "dynamodb.expressionAttributeValues"),
    ("dynamodb.onceExportPartitionKey", "DynamodbExport",
     {"type": "once", "once": {"booleanField": "b"}, "dynamodb.onceExportPartitionKey": "id"},
     "dynamodb.onceExportPartitionKey"),
    ("wrapper.function", "WrapperExport", {}, "wrapper.function"),
    ("filesystem.directoryPath", "FileSystemExport", {}, "filesystem.directoryPath"),
    ("salesforce.soql.query", "SalesforceExport", {}, "salesforce.soql.query"),
    ("salesforce.sObjectType-distributed", "SalesforceExport",
     {"type": "distributed", "salesforce": {"type": "distributed", "sObjectType": "Account"}},
     "salesforce.sObjectType"),
    ("salesforce.sObjectType-blob", "SalesforceExport",
     {"type": "blob", "salesforce": {"sObjectType": "Attachment", "id": "00P000000000001"}},
     "salesforce.sObjectType"),
    ("salesforce.id-blob", "SalesforceExport",
     {"type": "blob", "salesforce": {"sObjectType": "Document", "id": "015000000000001"}},
     "salesforce.id"),
    ("netsuite.searches", "NetSuiteExport",
     {"netsuite": {"type": "search", "searches": [{"recordType": "customer", "searchId": "1"}]}},
     "netsuite.searches"),
    ("netsuite.restlet.recordType", "NetSuiteExport", {}, "netsuite.restlet.recordType"),
    ("netsuite.restlet.searchId", "NetSuiteExport", {}, "netsuite.restlet.searchId"),
    ("netsuite.file.folderInternalId", "NetSuiteExport",
     {"netsuite": {"type": "file", "file": {"folderInternalId": "77"}}},
     "netsuite.file.folderInternalId"),
    ("netsuite.internalId-blob", "NetSuiteExport",
     {"type": "blob", "netsuite": {"internalId": "555"}}, "netsuite.internalId"),
    ("http.paging.path-token", "HTTPExport",
     {"http.paging": {"method": "token", "path": "next", "pathLocation": "body"}}, "http.paging.path"),
    ("http.paging.pathLocation-token", "HTTPExport",
     {"http.paging": {"method": "token", "path": "next", "pathLocation": "header"}},
     "http.paging.pathLocation"),
    ("http.paging.path-url", "HTTPExport",
     {"http.paging": {"method": "url", "path": "links.next"}}, "http.paging.path"),
    ("http.paging.relativeURI", "HTTPExport",
     {"http.paging": {"method": "relativeuri", "relativeURI": "/items?page={{export.http.paging.page}}"}},
     "http.paging.relativeURI"),
    ("http.paging.body", "HTTPExport",
     {"http.paging": {"method": "body", "body": {"page": "{{export.http.paging.page}}"}}},
     "http.paging.body"),
    ("http.paging.lastPageValues", "HTTPExport",
     {"http.paging": {"method": "page", "lastPagePath": "done", "lastPageValues": [True]}},
     "http.paging.lastPageValues"),
    ("file.fileDefinition._fileDefinitionId", "FTPExport",
     {"file": {"type": "filedefinition", "fileDefinition": {"_fileDefinitionId": OID1}}},
     "file.fileDefinition._fileDefinitionId"),
    ("transform.script", "HTTPExport",
     {"transform": {"type": "script", "script": {"_scriptId": OID1, "function": "t"}}},
     "transform.script"),
    ("delta.dateField", "FTPExport", {"type": "delta", "delta": {"dateField": "d"}}, "delta.dateField"),
    ("test.limit", "S3Export", {"type": "test", "test": {"limit": 3}}, "test.limit"),
    ("once.booleanField", "RDBMSExport", {"type": "once", "once": {"booleanField": "b"}},
     "once.booleanField"),
    ("webhook-block", "WebhookExport", {}, "webhook"),
    ("webhook-type", "WebhookExport", {}, "type"),
    ("simple-block", "SimpleExport", {}, "simple"),
    ("simple-type", "SimpleExport", {}, "type"),
    ("webhook.verify-custom", "WebhookExport", {"webhook": dict(HOOK_CUSTOM)}, "webhook.verify"),
    ("webhook.verify-no-provider", "WebhookExport",
     {"webhook": {"verify": "token", "token": "t0k", "path": "token"}}, "webhook.verify"),
    ("webhook.algorithm", "WebhookExport",
     {"webhook": {"provider": "custom", "verify": "hmac", "algorithm": "sha256",
                  "encoding": "hex", "header": "X-Sig", "key": "k"}}, "webhook.algorithm"),
    ("webhook.encoding", "WebhookExport",
     {"webhook": {"provider": "custom", "verify": "hmac", "algorithm": "sha1",
                  "encoding": "base64", "header": "X-Sig", "key": "k"}}, "webhook.encoding"),
    ("webhook.header", "WebhookExport",
     {"webhook": {"provider": "custom", "verify": "hmac", "algorithm": "sha512",
                  "encoding": "hex", "header": "X-Sig", "key": "k"}}, "webhook.header"),
    ("webhook.username", "WebhookExport",
     {"webhook": {"provider": "custom", "verify": "basic", "username": "u", "password": "p"}},
     "webhook.username"),
    ("webhook.tokenHeaderName", "WebhookExport",
     {"webhook": {"provider": "custom", "verify": "token", "token": "t", "tokenLocation": "header",
                  "tokenHeaderName": "X-Token"}}, "webhook.tokenHeaderName"),
    ("webhook.tokenQueryParamName", "WebhookExport",
     {"webhook": {"provider": "custom", "verify": "token", "token": "t",
                  "tokenLocation": "queryParam", "tokenQueryParamName": "tok"}},
     "webhook.tokenQueryParamName"),
    ("webhook.customTokenScheme", "WebhookExport",
     {"webhook": {"provider": "custom", "verify": "token", "token": "t", "tokenLocation": "header",
                  "tokenHeaderName": "Authorization", "tokenHeaderScheme": "custom",
                  "customTokenScheme": "Token"}}, "webhook.customTokenScheme"),
] + [("_connectionId-" + a, a, {}, "_connectionId")
     for a in ADAPTOR_TYPES if a not in ("WebhookExport", "SimpleExport")]

MISSING_PATH = {"ftp-block": "ftp.directoryPath"}


def _required_case(adaptor, paths):
    b = minimal(adaptor)
    return with_paths(b, paths)


@pytest.mark.parametrize("case", REQUIRED, ids=[c[0] for c in REQUIRED])
def test_required_field(api, case):
    cid, adaptor, paths, path = case
    valid = _required_case(adaptor, paths)
    # the document is valid with the field ...
    r = api.post("/v1/exports", json=valid)
    assert_status(r, 201)
    # ... and reports exactly that field without it
    bad = copy.deepcopy(valid)
    del_path(bad, path)
    if path == "adaptorType":           # else derived from the connection
        del bad["_connectionId"]
    errs = post_422(api, bad, [(MRF, MISSING_PATH.get(cid, path))])
    assert errs[0]["message"] == "%s is required" % MISSING_PATH.get(cid, path)


# Required strings with a minimum length: "" is invalid_field, not missing.
EMPTY = [
    ("FTPExport", "ftp.directoryPath"), ("S3Export", "s3.bucket"), ("RDBMSExport", "rdbms.query"),
    ("JDBCExport", "jdbc.query"), ("MongodbExport", "mongodb.collection"),
    ("DynamodbExport", "dynamodb.tableName"), ("WrapperExport", "wrapper.function"),
    ("FileSystemExport", "filesystem.directoryPath"), ("SalesforceExport", "salesforce.soql.query"),
    ("NetSuiteExport", "netsuite.restlet.recordType"),
]


@pytest.mark.parametrize("adaptor,path", EMPTY)
def test_required_string_empty(api, adaptor, path):
    post_422(api, with_paths(minimal(adaptor), {path: ""}), [(INV, path)])


def test_inferred_adaptor_types(api):
    b = minimal("WebhookExport")
    del b["adaptorType"]
    exp = copy.deepcopy(b)
    exp["adaptorType"] = "WebhookExport"
    post_ok(api, b, exp)
    b = minimal("SimpleExport")
    del b["adaptorType"]
    exp = copy.deepcopy(b)
    exp["adaptorType"] = "SimpleExport"
    post_ok(api, b, exp)


# --------------------------------------------------------------------------
# Enums: a value outside the list is invalid_field at its exact path

# (adaptor, {paths that make the context}, path, bad value)
ENUMS = [
    ("HTTPExport", {}, "type", "full"),
    ("HTTPExport", {}, "type", "Delta"),
    ("HTTPExport", {}, "filter.type", "regex"),
    ("HTTPExport", {"filter.type": "expression", "filter.expression.rules": []},
     "filter.expression.version", "2"),
    ("HTTPExport", {"isLookup": True}, "inputFilter.type", "sql"),
    ("HTTPExport", {"inputFilter.type": "expression"}, "inputFilter.expression.version", "3"),
    ("HTTPExport", {}, "transform.type", "xslt"),
    ("HTTPExport", {"transform.type": "expression"}, "transform.expression.version", "3"),
    ("HTTPExport", {"transform.type": "expression", "transform.expression.version": "2"},
     "transform.expression.rulesTwoDotZero.mode", "replace"),
    ("HTTPExport", {}, "http.method", "get"),
    ("HTTPExport", {}, "http.method", "HEAD"),
    ("HTTPExport", {}, "http.type", "stream"),
    ("HTTPExport", {}, "http.requestMediaType", "yaml"),
    ("HTTPExport", {}, "http.successMediaType", "urlencoded"),
    ("HTTPExport", {}, "http.errorMediaType", "csv"),
    ("HTTPExport", {}, "http.paging.method", "cursor"),
    ("HTTPExport", {"http.paging.method": "token", "http.paging.path": "n"},
     "http.paging.pathLocation", "query"),
    ("HTTPExport", {"http.paging.method": "linkheader"}, "http.paging.pathLocation", "cookie"),
    ("HTTPExport", {}, "http.response.blobFormat", "utf32"),
    ("HTTPExport", {}, "http.once.method", "OPTIONS"),
    ("NetSuiteExport", {}, "netsuite.type", "savedsearch"),
    ("NetSuiteExport", {}, "netsuite.restlet.restletVersion", "suiteapp3.0"),
    ("NetSuiteExport", {}, "netsuite.distributed.executionContext", ["userinterface", "api"]),
    ("NetSuiteExport", {}, "netsuite.distributed.executionType", ["create", "upsert"]),
    ("NetSuiteExport", {}, "netsuite.distributed.ioEnvironment", "sandbox"),
    ("NetSuiteExport", {}, "netsuite.distributed.frameworkVersion", "suiteapp9"),
    ("SalesforceExport", {}, "salesforce.type", "sosl"),
    ("SalesforceExport", {}, "salesforce.api", "soap"),
    ("SalesforceExport", {"type": "blob", "salesforce.id": "0150000001"}, "salesforce.sObjectType",
     "Account"),
    ("FTPExport", {}, "file.type", "yaml"),
    ("FTPExport", {}, "file.output", "rows"),
    ("FTPExport", {}, "file.encoding", "latin1"),
    ("FTPExport", {}, "file.compressionFormat", "bzip2"),
    ("FTPExport", {}, "file.decrypt", "aes"),
    ("JDBCExport", {}, "jdbc.formType", "builder"),
    ("MongodbExport", {}, "mongodb.method", "aggregate"),
    ("MongodbExport", {}, "mongodb.readPreference", "any"),
    ("DynamodbExport", {}, "dynamodb.method", "scan"),
    ("WebhookExport", {}, "webhook.provider", "gitlab"),
    ("WebhookExport", {"webhook.provider": "custom"}, "webhook.verify", "oauth"),
    ("WebhookExport", {}, "webhook.verify", "jwt"),
    ("WebhookExport", {"webhook.provider": "custom", "webhook.verify": "hmac",
                       "webhook.encoding": "hex", "webhook.header": "X-S"}, "webhook.algorithm", "md5"),
    ("WebhookExport", {"webhook.provider": "custom", "webhook.verify": "hmac",
                       "webhook.algorithm": "sha1", "webhook.header": "X-S"}, "webhook.encoding", "base32"),
    ("WebhookExport", {}, "webhook.algorithm", "sha3"),
    ("WebhookExport", {}, "webhook.encoding", "binary"),
    ("WebhookExport", {}, "webhook.tokenLocation", "cookie"),
    ("WebhookExport", {}, "webhook.tokenHeaderScheme", "basic"),
    ("WebhookExport", {}, "webhook.requestMediaType", "yaml"),
    ("WebhookExport", {}, "webhook.successMediaType", "csv"),
    ("WebhookExport", {}, "webhook.challengeSuccessMediaType", "html"),
]


@pytest.mark.parametrize("case", ENUMS, ids=["%s=%s" % (c[2], c[3]) for c in ENUMS])
def test_enum_violation(api, case):
    adaptor, ctx, path, bad = case
    body = with_paths(minimal(adaptor), ctx)
    post_422(api, with_paths(body, {path: bad}), [(INV, path)])


def test_adaptor_type_enum_message(api):
    errs = post_422(api, minimal("HTTPExport", adaptorType="HttpExport"), [(INV, "adaptorType")])
    assert errs[0]["message"] == "Invalid adaptorType"
    errs = post_422(api, minimal("WebhookExport", webhook__provider="gitlab"),
                    [(INV, "webhook.provider")])
    assert errs[0]["message"] == "Invalid webhook.provider"


@pytest.mark.parametrize("path,value", [
    ("webhook.successStatusCode", 199), ("webhook.successStatusCode", 300),
    ("webhook.challengeSuccessStatusCode", 301), ("webhook.successStatusCode", "200"),
    ("webhook.includeParentData", "yes"), ("webhook.successResponseHeaders", [{"value": "x"}]),
])
def test_webhook_field_values(api, path, value):
    post_422(api, with_paths(minimal("WebhookExport"), {path: value}), [(INV, path)])


@pytest.mark.parametrize("adaptor,path,value", [
    ("HTTPExport", "pageSize", 0), ("HTTPExport", "pageSize", "20"), ("HTTPExport", "isLookup", 1),
    ("HTTPExport", "_integrationId", "xyz"), ("HTTPExport", "groupByFields", ["a", 1]),
    ("HTTPExport", "sampleHeaders", [{"value": "v"}]), ("HTTPExport", "http.headers", {"a": "b"}),
    ("HTTPExport", "hooks.preSavePage._scriptId", "nope"), ("HTTPExport", "description", "d" * 10241),
    ("SalesforceExport", "salesforce.bulk.maxRecords", 9999),
    ("SalesforceExport", "salesforce.soql.query", "S" * 200001),
    ("FTPExport", "file.batchSize", 1001), ("FTPExport", "file.csv.rowsToSkip", -1),
    ("FTPExport", "delta.startDate", "yesterday"), ("FTPExport", "delta.lagOffset", "10"),
    ("DynamodbExport", "dynamodb.projectionExpression", "id"),
    ("SalesforceExport", "salesforce.distributed.batchSize", 3),
    ("NetSuiteExport", "netsuite.distributed.lastSyncedDate", "2024-13"),
])
def test_field_kinds_and_bounds(api, adaptor, path, value):
    post_422(api, with_paths(minimal(adaptor), {path: value}), [(INV, path)])


# --------------------------------------------------------------------------
# Several errors in one body


def test_multi_error_body_reports_all(api):
    body = {
        "adaptorType": "DynamodbExport",
        "type": "test", "test": {"limit": 0},
        "mockOutput": [{"record": {}}],
        "dynamodb": {"region": "us-east-1", "method": "scan"},
        "filter": {"type": "bogus"},
        "pageSize": -5,
        "file": {"type": "csv", "encoding": "ascii"},
    }
    errs = post_422(api, body, [
        (MRF, "name"), (MRF, "_connectionId"), (INV, "test.limit"), (INV, "mockOutput"),
        (MRF, "dynamodb.tableName"), (MRF, "dynamodb.keyConditionExpression"),
        (MRF, "dynamodb.expressionAttributeNames"), (MRF, "dynamodb.expressionAttributeValues"),
        (INV, "dynamodb.method"), (INV, "filter.type"), (INV, "pageSize"), (INV, "file.encoding"),
    ])
    assert len(errs) == 12
    assert len({e["field"] for e in errs}) == 12


def test_multi_error_webhook(api):
    body = {"name": "", "type": "webhook", "_connectionId": CONN_A,
            "webhook": {"provider": "custom", "verify": "hmac", "tokenLocation": "header"}}
    post_422(api, body, [(INV, "name"), (INV, "_connectionId"), (MRF, "webhook.algorithm"),
                         (MRF, "webhook.encoding"), (MRF, "webhook.header"),
                         (MRF, "webhook.tokenHeaderName")])


# --------------------------------------------------------------------------
# Type blocks


@pytest.mark.parametrize("limit,ok", [(0, False), (1, True), (100, True), (101, False),
                                      (-1, False), (50, True), (1.5, False), ("5", False)])
def test_test_limit_bounds(api, limit, ok):
    b = minimal("HTTPExport", type="test", test={"limit": limit})
    if ok:
        post_ok(api, b)
    else:
        post_422(api, b, [(INV, "test.limit")])


def test_type_blocks(api):
    # delta
    post_ok(api, minimal("FTPExport", type="delta", delta={"dateField": "modified"}))
    post_422(api, minimal("FTPExport", type="delta"), [(MRF, "delta.dateField")])
    post_422(api, minimal("FTPExport", type="delta", delta={"dateField": ""}),
             [(INV, "delta.dateField")])
    post_422(api, minimal("FTPExport", type="delta", delta="lastmodified"), [(INV, "delta")])
    post_ok(api, minimal("HTTPExport", type="delta", delta={"lagOffset": 500}))
    post_ok(api, minimal("HTTPExport", type="delta"))
    post_422(api, minimal("HTTPExport", type="delta", delta={"dateField": "modified"}),
             [(INV, "delta.dateField")])
    # test
    post_422(api, minimal("FTPExport", type="test"), [(MRF, "test.limit")])
    post_422(api, minimal("FTPExport", type="test", test={}), [(MRF, "test.limit")])
    # a test block on another type is still checked
    post_422(api, minimal("FTPExport", test={"limit": 500}), [(INV, "test.limit")])
    # once
    post_ok(api, minimal("RDBMSExport", type="once", once={"booleanField": "done"}))
    post_422(api, minimal("RDBMSExport", type="once"), [(MRF, "once.booleanField")])
    post_422(api, minimal("RDBMSExport", type="once", once={"booleanField": True}),
             [(INV, "once.booleanField")])
    # webhook
    post_422(api, {"name": "w", "type": "webhook"}, [(MRF, "webhook")])
    post_422(api, minimal("WebhookExport", webhook="github"), [(INV, "webhook")])
    post_422(api, minimal("HTTPExport", type="webhook", webhook={"provider": "github"}),
             [(INV, "type")])
    post_422(api, minimal("WebhookExport", type="delta", delta={"dateField": "x"}), [(INV, "type")])
    post_422(api, minimal("WebhookExport", _connectionId=CONN_A), [(INV, "_connectionId")])
    # simple
    post_422(api, {"name": "s", "type": "simple"}, [(MRF, "simple")])
    post_422(api, minimal("SimpleExport", simple=[1]), [(INV, "simple")])
    post_422(api, minimal("HTTPExport", type="simple", simple={"file": {"type": "csv"}}),
             [(INV, "type")])
    post_422(api, minimal("SimpleExport", type="test", test={"limit": 1}), [(INV, "type")])
    post_ok(api, minimal("SimpleExport", _connectionId=CONN_A))
    post_422(api, minimal("SimpleExport", _connectionId="x" * 24), [(INV, "_connectionId")])
    # the other types need no block
    for t in ("tranlinedelta", "blob", "stream"):
        post_ok(api, minimal("FTPExport", type=t))
    # type null = standard export, stripped
    b = minimal("FTPExport", type=None)
    exp = copy.deepcopy(b)
    del exp["type"]
    post_ok(api, b, exp)


# --------------------------------------------------------------------------
# mockOutput


def _records(n, rec=None):
    return {"page_of_records": [{"record": rec if rec is not None else {"i": i}} for i in range(n)]}


@pytest.mark.parametrize("mock,stored", [
    ({"page_of_records": [{"record": {}}]}, None),
    (_records(1), None),
    (_records(10), None),
    ({"page_of_records": []}, None),
    ({"page_of_records": [{"record": {"nested": {"a": [1, 2, {"b": None}]}}}]},
     {"page_of_records": [{"record": {"nested": {"a": [1, 2, {}]}}}]}),
])
def test_mock_output_valid(api, mock, stored):
    b = minimal("HTTPExport", mockOutput=mock)
    exp = copy.deepcopy(b)
    exp["mockOutput"] = stored if stored is not None else mock
    post_ok(api, b, exp)


@pytest.mark.parametrize("mock", [
    [{"record": {}}],                                   # a plain array
    _records(11),                                       # 11 records
    {"page_of_records": [{"record": [1, 2]}]},          # record not an object
    {"page_of_records": [{"record": "x"}]},
    {"page_of_records": [{"data": {}}]},                # no record
    {"page_of_records": [{"record": {}}, 5]},
    {"page_of_records": {"record": {}}},
    {"records": [{"record": {}}]},
    {},
    "mock", 7,
], ids=["array", "11-records", "record-array", "record-string", "no-record", "entry-not-object",
        "pages-object", "wrong-key", "empty", "string", "number"])
def test_mock_output_invalid(api, mock):
    b = minimal("HTTPExport", mockOutput=mock)
    errs = post_422(api, b, [(INV, "mockOutput")])
    assert errs[0]["message"] == "mockOutput is invalid"


def test_mock_output_over_1mb_invalid(server_factory):
    srv = server_factory(max_body=8 * 1024 * 1024)
    a = srv.api(unique("mock"))
    b = minimal("HTTPExport", mockOutput=_records(1, {"blob": "x" * (1024 * 1024)}))
    errs = post_422(a, b, [(INV, "mockOutput")])
    assert errs[0]["message"] == "mockOutput is invalid"
    b = minimal("HTTPExport", mockOutput=_records(1, {"blob": "x" * (1024 * 1000)}))
    assert_status(a.post("/v1/exports", json=b), 201)


# --------------------------------------------------------------------------
# filter / inputFilter / transform shapes


@pytest.mark.parametrize("field,value", [
    ("filter", {"type": "expression", "expression": {"version": "1", "rules": ["equals", 1, 1]}}),
    ("filter", {"type": "script", "script": {"_scriptId": OID1, "function": "keep"}}),
    ("filter", {"type": "expression", "expression": {"version": "1"}}),
    ("inputFilter", {"type": "expression", "expression": {"version": "1", "rules": []}}),
    ("inputFilter", {"type": "script", "script": {"_scriptId": OID1, "function": "f"}}),
    ("transform", {"type": "expression", "expression": {"version": "1", "rules": [[]]}}),
    ("transform", {"type": "expression",
                   "expression": {"version": "2",
                                  "rulesTwoDotZero": {"mode": "create", "mappings": [], "lookups": []}}}),
    ("transform", {"type": "script", "script": {"_scriptId": OID1, "function": "t"}}),
])
def test_filter_transform_valid(api, field, value):
    post_ok(api, minimal("HTTPExport", **{field: value}))


@pytest.mark.parametrize("field,value,path", [
    ("filter", "status == open", "filter"),
    ("filter", [1], "filter"),
    ("filter", {"type": "script"}, "filter"),
    ("filter", {"type": "expression", "expression": "x"}, "filter"),
    ("filter", {"type": "expression", "expression": {"version": "1", "rules": "x"}}, "filter"),
    ("filter", {"type": "script", "script": "f"}, "filter"),
    ("filter", {"type": "script", "script": {"_scriptId": "abc", "function": "f"}},
     "filter.script._scriptId"),
    ("filter", {"type": "script", "script": {"_scriptId": OID1, "function": 5}}, "filter.script.function"),
    ("inputFilter", {"type": "script"}, "inputFilter"),
    ("inputFilter", 3, "inputFilter"),
    ("transform", "x", "transform"),
    ("transform", {"type": "script"}, "transform.script"),
    ("transform", {"type": "script", "script": []}, "transform.script"),
    ("transform", {"type": "expression", "expression": []}, "transform.expression"),
    ("transform", {"type": "expression", "expression": {"version": "1", "rules": {}}},
     "transform.expression.rules"),
    ("transform", {"type": "expression", "expression": {"version": "2", "rulesTwoDotZero": []}},
     "transform.expression.rulesTwoDotZero"),
])
def test_filter_transform_invalid(api, field, value, path):
    code = MRF if (field, path) == ("transform", "transform.script") and value == {"type": "script"} else INV
    post_422(api, minimal("HTTPExport", **{field: value}), [(code, path)])


def test_filter_message(api):
    errs = post_422(api, minimal("HTTPExport", filter={"type": "script"}), [(INV, "filter")])
    assert errs[0]["message"] == ("filter must be {type: expression|script, expression: "
                                  "{version, rules: [...]} or script: {_scriptId, function}}")


# --------------------------------------------------------------------------
# Real documents


def test_real_github_listener_get_put(api, leak_watch):
    key = secret_value("gh")
    leak_watch.append(key)
    post = {"name": "GitHub Event Listener", "type": "webhook",
            "hooks": {"preSavePage": {"_stackId": None, "function": None}},
            "webhook": {"provider": "github", "key": key}}
    got = post_ok(api, post, {"name": "GitHub Event Listener", "type": "webhook",
                              "adaptorType": "WebhookExport",
                              "webhook": {"provider": "github", "key": MASK}})
    put = {"_id": "55ea776bb751843c37b7b366", "lastModified": "2017-04-16T18:56:15.879Z",
           "name": "GitHub Event Listener (updated!)", "type": "webhook",
           "hooks": {"preSavePage": {"_stackId": None, "function": None}},
           "webhook": {"provider": "github", "key": "******"}}
    r = api.put("/v1/exports/" + got["_id"], json=put)
    assert_status(r, 200)
    u = body_of(r)
    assert without_server_fields(u) == {"name": "GitHub Event Listener (updated!)", "type": "webhook",
                                        "adaptorType": "WebhookExport",
                                        "webhook": {"provider": "github", "key": MASK}}
    assert u["_id"] == got["_id"]


def test_real_netsuite_restlet_delta(api):
    doc = {"name": "Delta Customer Export", "adaptorType": "NetSuiteExport",
           "_connectionId": CONN_A, "asynchronous": True, "type": "delta",
           "delta": {"dateField": "lastmodifieddate"},
           "netsuite": {"type": "restlet",
                        "restlet": {"recordType": "customer", "searchId": "69422",
                                    "hooks": {"preSend": {"fileInternalId": "1234",
                                                          "function": "myPreSendLogic"}}}},
           "pageSize": 50}
    got = post_ok(api, doc)
    assert got["asynchronous"] is True
    # a restlet export without its searchId is the documented failure
    bad = copy.deepcopy(doc)
    del bad["netsuite"]["restlet"]["searchId"]
    post_422(api, bad, [(MRF, "netsuite.restlet.searchId")])


def test_real_netsuite_search_export(api):
    doc = {"name": "Customer Saved Search Export", "adaptorType": "NetSuiteExport",
           "_connectionId": CONN_A,
           "netsuite": {"type": "search",
                        "searches": [{"recordType": "customer", "searchId": "customsearch69422"},
                                     {"recordType": "salesorder", "searchId": "1234"}]},
           "hooks": {"_preSavePageId": "5587092ed78128000000000b"},
           "pageSize": 20}
    post_ok(api, doc)
    bad = copy.deepcopy(doc)
    bad["netsuite"]["searches"] = {"recordType": "customer"}
    post_422(api, bad, [(INV, "netsuite.searches")])


def test_real_model_examples(api):
    """Fragments quoted in export-model.md, as whole documents."""
    docs = [
        # §3: HTTP with token paging and a last-page rule
        minimal("HTTPExport", http={"method": "GET", "relativeURI": "/orders?updated_since={{lastExportDateTime}}",
                                    "paging": {"method": "token", "path": "next_token", "pathLocation": "body",
                                               "lastPagePath": "has_more", "lastPageValues": [False]},
                                    "response": {"resourcePath": "orders"}}),
        # §9: mockOutput
        minimal("HTTPExport", mockOutput={"page_of_records": [{"record": {"id": "A-1"}}]}),
        # §6: a custom token listener with the token in a header
        minimal("WebhookExport", webhook={"provider": "custom", "verify": "token",
                                          "tokenLocation": "header", "tokenHeaderName": "X-Webhook-Token",
                                          "tokenHeaderScheme": "bearer"}),
        # §6: secret URL and basic
        minimal("WebhookExport", webhook={"provider": "stripe", "verify": "secret_url"}),
        minimal("WebhookExport", webhook={"provider": "custom", "verify": "basic", "username": "u"}),
        # §4: once with the adaptor-side companions
        minimal("DynamodbExport", type="once", once={"booleanField": "exported"},
                dynamodb__onceExportPartitionKey="pk"),
        # §3: JDBC simple form, Salesforce blob, NetSuite file and blob
        minimal("JDBCExport", jdbc={"formType": "simple", "simple": {"table": "t", "columns": ["a"]}}),
        minimal("SalesforceExport", type="blob",
                salesforce={"sObjectType": "ContentVersion", "id": "0680000000001"}),
        minimal("NetSuiteExport", netsuite={"type": "file", "file": {"folderInternalId": 99}}),
        minimal("NetSuiteExport", type="blob", netsuite={"internalId": "4321"}),
    ]
    for d in docs:
        post_ok(api, d)


# --------------------------------------------------------------------------
# Unknown fields and rejected PUTs


def test_unknown_fields_kept_at_any_depth(api):
    b = minimal("HTTPExport")
    b["x_top"] = {"a": [1, {"b": {"c": "d"}}], "e": 1.5, "f": False}
    b["http"]["x_mid"] = "m"
    b["http"]["paging"] = {"method": "page", "x_deep": {"y": {"z": [None, 1]}}}
    b["hooks"] = {"preSavePage": {"function": "f", "x_hook": {"k": 1}}, "x_other": 2}
    b["filter"] = {"type": "expression", "expression": {"version": "1", "rules": [], "x_r": "r"}}
    b["file"] = {"csv": {"x_csv": {"w": {"v": {"u": "t"}}}}}
    b["mockOutput"] = {"page_of_records": [{"record": {"q": 1}, "x_meta": "m"}], "x_mo": 1}
    got = post_ok(api, b)
    # and on PUT, with other unknown fields
    b2 = copy.deepcopy(b)
    b2["x_top"] = ["replaced"]
    b2["http"]["paging"]["x_deep"] = {"new": True}
    r = api.put("/v1/exports/" + got["_id"], json=b2)
    assert_status(r, 200)
    assert without_server_fields(body_of(r)) == without_server_fields(b2)
    assert without_server_fields(api.fetch(got["_id"])) == without_server_fields(b2)


INVALID_PUTS = [
    lambda b: {k: v for k, v in b.items() if k != "name"},
    lambda b: with_paths(b, {"http.method": "FETCH"}),
    lambda b: with_paths(b, {"mockOutput": [{"record": {}}]}),
    lambda b: with_paths(b, {"adaptorType": "FTPExport"}),
    lambda b: with_paths(b, {"type": "test"}),
    lambda b: with_paths(b, {"http.paging": {"method": "token"}}),
    lambda b: with_paths(b, {"name": "", "pageSize": 0, "_connectionId": "bad"}),
]


def test_invalid_put_changes_nothing(api):
    b = full_body("HTTPExport")
    created = api.create(b)
    g0 = api.get("/v1/exports/" + created["_id"])
    assert_status(g0, 200)
    before, tag = body_of(g0), g0.headers.get("ETag")
    assert tag
    for i, mutate in enumerate(INVALID_PUTS):
        bad = mutate(copy.deepcopy(b))
        r = api.put("/v1/exports/" + created["_id"], json=bad)
        assert r.status_code == 422, (i, r.status_code, r.text[:300])
    for raw in (b"{", b"[]", b'{"name":"a","name":"b"}'):
        r = api.put("/v1/exports/" + created["_id"], data=raw,
                    headers={"Content-Type": "application/json"})
        assert r.status_code == 400, (raw, r.status_code, r.text[:300])
    g1 = api.get("/v1/exports/" + created["_id"])
    assert_status(g1, 200)
    assert body_of(g1) == before
    assert g1.headers.get("ETag") == tag


def test_invalid_put_webhook_keeps_secret(api, leak_watch):
    key = secret_value("putkeep")
    leak_watch.append(key)
    b = minimal("WebhookExport", webhook={"provider": "custom", "verify": "hmac", "algorithm": "sha256",
                                          "encoding": "hex", "header": "X-Sig", "key": key})
    created = api.create(b)
    g0 = api.get("/v1/exports/" + created["_id"])
    bad = copy.deepcopy(b)
    bad["webhook"]["key"] = "other"
    del bad["webhook"]["algorithm"]
    post = api.put("/v1/exports/" + created["_id"], json=bad)
    assert_errors(post, 422, [(MRF, "webhook.algorithm")])
    g1 = api.get("/v1/exports/" + created["_id"])
    assert body_of(g1) == body_of(g0)
    assert g1.headers.get("ETag") == g0.headers.get("ETag")
