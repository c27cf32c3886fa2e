/* Normalising, masking and rendering the export document. */
#include <stdlib.h>
#include <string.h>

#include "model/export.h"
#include "model/secrets.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

const char *const export_secret_paths[EXPORT_NSECRETS] = {
	"webhook.key", "webhook.token", "webhook.password",
	"distributed.bearerToken",
};

const char *const export_adaptor_types[EXPORT_NADAPTORS] = {
	"HTTPExport", "FTPExport", "AS2Export", "S3Export", "NetSuiteExport",
	"SalesforceExport", "JDBCExport", "RDBMSExport", "MongodbExport",
	"DynamodbExport", "WrapperExport", "SimpleExport", "WebhookExport",
	"FileSystemExport", "RESTExport",
};

static const char *const readonly_fields[] = {
	"_id", "createdAt", "lastModified", "apiIdentifier", "asynchronous",
	"_sourceId", "debugUntil",
};

static void strip_value(json_t *v);

/* Clean one object; returns 1 if it lost keys and is now empty. */
static int
strip_object(json_t *obj)
{
	const char	*k;
	json_t		*v;
	void		*tmp;
	int		 removed = 0;

	json_object_foreach_safe(obj, tmp, k, v) {
		if (json_is_null(v)) {
			json_object_del(obj, k);
			removed = 1;
		} else if (json_is_object(v)) {
			if (strip_object(v)) {
				json_object_del(obj, k);
				removed = 1;
			}
		} else if (json_is_array(v))
			strip_value(v);
	}
	return removed && json_object_size(obj) == 0;
}

static void
strip_value(json_t *v)
{
	size_t	 i;
	json_t	*e;

	if (json_is_object(v))
		(void)strip_object(v);
	else if (json_is_array(v))
		json_array_foreach(v, i, e)
			strip_value(e);
}

void
export_strip_nulls(json_t *doc)
{
	(void)strip_object(doc);
}

void
export_strip_readonly(json_t *doc)
{
	size_t	i;

	for (i = 0; i < sizeof(readonly_fields) / sizeof(readonly_fields[0]);
	    i++)
		json_object_del(doc, readonly_fields[i]);
}

const char *
export_infer_adaptor(const json_t *doc)
{
	const char	*t = json_string_value(json_object_get(doc, "type"));

	if (t == NULL)
		return NULL;
	if (strcmp(t, "webhook") == 0)
		return "WebhookExport";
	if (strcmp(t, "simple") == 0)
		return "SimpleExport";
	return NULL;
}

void
export_normalise(json_t *doc, const char *stored_adaptor)
{
	const char	*inferred;

	export_strip_readonly(doc);
	export_strip_nulls(doc);
	if (json_object_get(doc, "adaptorType") != NULL)
		return;
	if (stored_adaptor != NULL)
		json_object_set_new(doc, "adaptorType",
		    json_string(stored_adaptor));
	else if ((inferred = export_infer_adaptor(doc)) != NULL)
		json_object_set_new(doc, "adaptorType", json_string(inferred));
}

json_t *
export_secrets_take(json_t *doc, const json_t *stored)
{
	return secrets_take(doc, stored, export_secret_paths,
	    EXPORT_NSECRETS, NULL);
}

json_t *
render_start(const char *id, const json_t *doc, int64_t created_ms,
    int64_t modified_ms)
{
	json_t		*out, *v;
	const char	*k;
	char		 ts[ISOTIME_LEN + 1];

	out = json_object();
	json_object_set_new(out, "_id", json_string(id));
	json_object_foreach((json_t *)doc, k, v)
		json_object_set(out, k, v);
	isotime_format(created_ms, ts);
	json_object_set_new(out, "createdAt", json_string(ts));
	isotime_format(modified_ms, ts);
	json_object_set_new(out, "lastModified", json_string(ts));
	return out;
}

char *
export_render(const json_t *doc, const struct export_meta *m, size_t *len)
{
	json_t		*out;
	char		*s;

	out = render_start(m->id, doc, m->created_ms, m->modified_ms);
	json_object_set_new(out, "apiIdentifier",
	    json_string(m->api_identifier));
	json_object_set_new(out, "asynchronous", json_true());
	if (m->source_id != NULL)
		json_object_set_new(out, "_sourceId",
		    json_string(m->source_id));
	if (m->debug_until != NULL)
		json_object_set_new(out, "debugUntil",
		    json_string(m->debug_until));
	s = json_render_new(out, len);
	json_decref(out);
	return s;
}

int
export_meta_read(const json_t *body, struct export_meta *m)
{
	const char	*c, *l;

	memset(m, 0, sizeof(*m));
	m->id = json_string_value(json_object_get(body, "_id"));
	m->api_identifier = json_string_value(json_object_get(body,
	    "apiIdentifier"));
	m->source_id = json_string_value(json_object_get(body, "_sourceId"));
	m->debug_until = json_string_value(json_object_get(body,
	    "debugUntil"));
	c = json_string_value(json_object_get(body, "createdAt"));
	l = json_string_value(json_object_get(body, "lastModified"));
	if (m->id == NULL || m->api_identifier == NULL || c == NULL ||
	    l == NULL || isotime_parse(c, &m->created_ms) == -1 ||
	    isotime_parse(l, &m->modified_ms) == -1)
		return -1;
	return 0;
}
