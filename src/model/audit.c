/* Field-level changes for the audit log, and the rendering of an entry
 * (export-api.md §10). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/audit.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/xmalloc.h"

/* Fields the server sets on every write: their change says nothing. */
static const char *const audit_skipped[] = {
	"lastModified", "lastModifiedBy",
};

struct diff {
	json_t		*out;
	const json_t	*sb, *sa;	/* secret maps, or NULL */
};

static void
change_add(json_t *out, const char *path, const json_t *old,
    const json_t *new)
{
	json_t	*c = json_object();

	json_object_set_new(c, "fieldPath", json_string(path));
	if (old != NULL)
		json_object_set(c, "oldValue", (json_t *)old);
	if (new != NULL)
		json_object_set(c, "newValue", (json_t *)new);
	json_array_append_new(out, c);
}

static int
skipped(const struct diff *d, const char *path, int depth)
{
	size_t	i;

	/* a secret's changes come from the secret maps */
	if (json_object_get(d->sb, path) != NULL ||
	    json_object_get(d->sa, path) != NULL)
		return 1;
	for (i = 0; depth == 0 && i < sizeof(audit_skipped) /
	    sizeof(audit_skipped[0]); i++)
		if (strcmp(path, audit_skipped[i]) == 0)
			return 1;
	return 0;
}

static void diff_value(struct diff *, const char *, const json_t *,
    const json_t *, int);

/* Both objects (or one absent): every key of either, in before's order
 * then after's new ones. */
static void
diff_object(struct diff *d, const char *prefix, const json_t *a,
    const json_t *b, int depth)
{
	const char	*k;
	json_t		*v;
	char		*path;

	json_object_foreach((json_t *)a, k, v) {
		path = prefix != NULL ? xasprintf("%s.%s", prefix, k) :
		    xstrdup(k);
		diff_value(d, path, v, json_object_get(b, k), depth);
		free(path);
	}
	json_object_foreach((json_t *)b, k, v) {
		if (json_object_get(a, k) != NULL)
			continue;
		path = prefix != NULL ? xasprintf("%s.%s", prefix, k) :
		    xstrdup(k);
		diff_value(d, path, NULL, v, depth);
		free(path);
	}
}

static void
diff_value(struct diff *d, const char *path, const json_t *a,
    const json_t *b, int depth)
{
	if (skipped(d, path, depth))
		return;
	if ((a == NULL || json_is_object(a)) &&
	    (b == NULL || json_is_object(b))) {
		diff_object(d, path, a, b, depth + 1);
		return;
	}
	if (a != NULL && b != NULL && json_equal((json_t *)a, (json_t *)b))
		return;
	change_add(d->out, path, a, b);
}

json_t *
audit_changes(const json_t *before, const json_t *after,
    const json_t *secrets_before, const json_t *secrets_after)
{
	struct diff	 d = { json_array(), secrets_before, secrets_after };
	json_t		*mask = json_string(AUDIT_MASK), *v, *w;
	const char	*k;

	diff_object(&d, NULL, before, after, 0);
	json_object_foreach((json_t *)secrets_before, k, v) {
		w = json_object_get(secrets_after, k);
		if (w == NULL || !json_equal(v, w))
			change_add(d.out, k, mask, w != NULL ? mask : NULL);
	}
	json_object_foreach((json_t *)secrets_after, k, v)
		if (json_object_get(secrets_before, k) == NULL)
			change_add(d.out, k, NULL, mask);
	json_decref(mask);
	return d.out;
}

char *
audit_render(const struct audit_meta *m, json_t *changes, size_t *len)
{
	json_t	*o = json_object(), *by = json_object();
	char	 ts[ISOTIME_LEN + 1], *s;

	isotime_format(m->time_ms, ts);
	json_object_set_new(o, "_id", json_string(m->id));
	json_object_set_new(o, "resourceType", json_string(m->resource_type));
	json_object_set_new(o, "_resourceId", json_string(m->resource_id));
	json_object_set_new(o, "source", json_string(m->source));
	json_object_set_new(o, "event", json_string(m->event));
	json_object_set_new(o, "time", json_string(ts));
	json_object_set_new(by, "_id", json_string(m->user_id));
	if (m->user_name != NULL)
		json_object_set_new(by, "name", json_string(m->user_name));
	json_object_set_new(o, "byUser", by);
	json_object_set_new(o, "fieldChanges", changes);
	s = json_render_new(o, len);
	json_decref(o);
	return s;
}
