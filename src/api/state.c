/* State (export-api.md §12): JSON values kept under a key, for the
 * account (/v1/state) and for each of its resources
 * (/v1/<kind>/{id}/state). Writes go through the store's write queue;
 * a resource's values are written only while it exists and go with it. */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "http/response.h"
#include "util/buf.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/xmalloc.h"

/* What a state write keeps until it is done. */
struct sstate {
	char	*key;
	char	*value;
	bool	 global;
};

static void
sstate_free(void *p)
{
	struct sstate	*s = p;

	if (s == NULL)
		return;
	free(s->key);
	free(s->value);
	free(s);
}

/* Whether a key can be stored: 1-128 characters, none of them '/' or a
 * control character. */
static bool
key_valid(const char *k)
{
	size_t	i, n = strlen(k);

	if (n == 0 || json_utf8_length(k, n) > LIMIT_STATE_KEY)
		return false;
	for (i = 0; i < n; i++)
		if ((unsigned char)k[i] < 0x20 || k[i] == 0x7f || k[i] == '/')
			return false;
	return true;
}

/* The scope of the path (its resource id, or "" for the account's own)
 * and its key (NULL when the path has none); -1 after replying 404. */
static int
state_path(struct request *req, bool global, const char *what,
    char scope[OID_HEXLEN + 1], const char **key)
{
	int	ki = global ? 0 : 1;

	scope[0] = '\0';
	if (!global && api_path_id(req, what, scope) == -1)
		return -1;
	*key = req->nparams > ki ? req->params[ki] : NULL;
	if (*key != NULL && !key_valid(*key)) {
		reply_error(req, 404, "not_found", NULL, "State key not "
		    "found (keys are 1-%d characters, without '/' or control "
		    "characters)", LIMIT_STATE_KEY);
		return -1;
	}
	return 0;
}

static int
key_add(void *arg, const char *key)
{
	json_array_append_new(arg, json_string(key));
	return 0;
}

static void
keys_reply(struct request *req, enum store_res res, bool global,
    const char *what)
{
	struct store_row	 row;
	enum store_status	 rc;
	const char		*key;
	json_t			*o, *keys;
	char			 scope[OID_HEXLEN + 1], *body;
	size_t			 len;

	if (state_path(req, global, what, scope, &key) == -1)
		return;
	if (!global) {
		if ((rc = store_get(api_store(req), res, req->account, scope,
		    &row)) != STORE_OK) {
			api_store_failure(req, rc, what);
			return;
		}
		store_row_free(&row);
	}
	keys = json_array();
	if ((rc = store_state_keys(api_store(req), req->account, scope,
	    key_add, keys)) != STORE_OK) {
		json_decref(keys);
		api_store_failure(req, rc, "State");
		return;
	}
	o = json_object();
	json_object_set_new(o, "keys", keys);
	body = json_render_new(o, &len);
	json_decref(o);
	reply_json(req, 200, body, len);
}

static void
value_reply(struct request *req, bool global, const char *what)
{
	enum store_status	 rc;
	const char		*key;
	char			 scope[OID_HEXLEN + 1], *value;
	size_t			 len;

	if (state_path(req, global, what, scope, &key) == -1)
		return;
	rc = store_state_get(api_store(req), req->account, scope, key, &value,
	    &len);
	if (rc != STORE_OK) {
		api_store_failure(req, rc, "State key");
		return;
	}
	reply_json(req, 200, value, len);
}

static void
put_done(struct request *req)
{
	struct store_write	*w = api_write_get(req);

	if (w->status != STORE_OK) {
		api_store_failure(req, w->status, w->id[0] != '\0' ?
		    "Resource" : "State");
		return;
	}
	reply_text(req, 200, "text/plain; charset=utf-8",
	    xstrdup(w->affected == 1 ? "Created" : "OK"),
	    w->affected == 1 ? 7 : 2);
}

static void
delete_done(struct request *req)
{
	struct store_write	*w = api_write_get(req);
	struct sstate		*s = req->state;

	if (w->status != STORE_OK) {
		api_store_failure(req, w->status, "State key");
		return;
	}
	/* as integrator.io answers: 204 on the account's, 200 on a
	 * resource's */
	reply_empty(req, s->global ? 204 : 200);
}

/* Submit a state write of the path's scope and key. */
static void
state_submit(struct request *req, enum store_res res, bool global,
    const char *what, enum store_write_kind kind, char *value, size_t len,
    void (*cont)(struct request *))
{
	struct store_write	*w;
	struct sstate		*s;
	const char		*key;
	char			 scope[OID_HEXLEN + 1];

	if (state_path(req, global, what, scope, &key) == -1) {
		free(value);
		return;
	}
	s = xcalloc(1, sizeof(*s));
	s->key = key != NULL ? xstrdup(key) : NULL;
	s->value = value;
	s->global = global;
	req->state = s;
	req->free_state = sstate_free;
	w = api_write_get(req);
	w->kind = kind;
	w->res = res;
	memcpy(w->id, scope, sizeof(scope));
	w->state_key = s->key;
	w->state_value = value;
	w->state_value_len = len;
	api_write_submit(req, cont);
}

static void
put_request(struct request *req, enum store_res res, bool global,
    const char *what)
{
	json_t	*v;
	char	*text;
	size_t	 len;

	if ((v = api_body_json(req)) == NULL)
		return;
	text = json_render_new(v, &len);
	json_decref(v);
	if (len > LIMIT_STATE_VALUE) {
		free(text);
		reply_error(req, 413, "payload_too_large", NULL, "A state "
		    "value is at most %d bytes of JSON", LIMIT_STATE_VALUE);
		return;
	}
	state_submit(req, res, global, what, STORE_STATE_PUT, text, len,
	    put_done);
}

static void
delete_request(struct request *req, enum store_res res, bool global,
    const char *what)
{
	state_submit(req, res, global, what, STORE_STATE_DELETE, NULL, 0,
	    delete_done);
}

/* ---- /v1/state ---- */

void
state_global_keys(struct request *req)
{
	keys_reply(req, STORE_EXPORTS, true, "State");
}

void
state_global_get(struct request *req)
{
	value_reply(req, true, "State");
}

void
state_global_put(struct request *req)
{
	put_request(req, STORE_EXPORTS, true, "State");
}

/* DELETE /v1/state/{key}, and DELETE /v1/state: every key of the
 * account's own. */
void
state_global_delete(struct request *req)
{
	delete_request(req, STORE_EXPORTS, true, "State");
}


/* ---- a resource's state ---- */

void
state_keys(struct request *req, enum store_res res, const char *what)
{
	keys_reply(req, res, false, what);
}

void
state_get(struct request *req, enum store_res res, const char *what)
{
	(void)res;

	value_reply(req, false, what);
}

void
state_put(struct request *req, enum store_res res, const char *what)
{
	put_request(req, res, false, what);
}

void
state_delete(struct request *req, enum store_res res, const char *what)
{
	delete_request(req, res, false, what);
}
