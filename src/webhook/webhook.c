/* Helpers shared by the webhook modules: request lookups and dot paths. */

#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "webhook/webhook.h"

/* Where webhook_path_walk found a value. */
struct webhook_path_hit {
	json_t		*parent;	/* object or array holding it */
	const char	*key;		/* member name in the path */
	size_t		 keylen;
	size_t		 index;		/* element (arrays) */
};

static json_t	*webhook_path_walk(const json_t *, const char *, size_t,
		    struct webhook_path_hit *);
static json_t	*webhook_path_find(const json_t *, const char *,
		    struct webhook_path_hit *);
static void	 webhook_path_hit_set(struct webhook_path_hit *,
		    const json_t *, const char *, size_t, size_t);
static bool	 webhook_index(const char *, size_t, size_t *);

const char *
webhook_header(const struct webhook_request *req, const char *name)
{
	if (req == NULL || req->header == NULL)
		return NULL;
	return req->header(req->arg, name);
}

const char *
webhook_query(const struct webhook_request *req, const char *name)
{
	if (req == NULL || req->query == NULL)
		return NULL;
	return req->query(req->arg, name);
}

const char *
webhook_string(const json_t *webhook, const char *name)
{
	return json_string_value(json_object_get(webhook, name));
}

const char *
webhook_prefix(const char *s, const char *prefix)
{
	size_t	n = strlen(prefix);

	if (s == NULL || strncasecmp(s, prefix, n) != 0)
		return NULL;
	return s + n;
}

/* A decimal array index without sign or leading zeros. */
static bool
webhook_index(const char *s, size_t len, size_t *out)
{
	size_t	i, v = 0;

	if (len == 0 || len > 9 || (len > 1 && s[0] == '0'))
		return false;
	for (i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return false;
		v = v * 10 + (size_t)(s[i] - '0');
	}
	*out = v;
	return true;
}

/* One step of webhook_path_get over path[0..len); recursion depth is at
 * most the number of dots, bounded by WEBHOOK_MAX_PATH. *hit (if not
 * NULL) gets where the value found sits. */
static json_t *
webhook_path_walk(const json_t *v, const char *path, size_t len,
    struct webhook_path_hit *hit)
{
	const char	*dot;
	json_t		*child = NULL, *found;
	size_t		 n, idx = 0;

	dot = memchr(path, '.', len);
	n = dot != NULL ? (size_t)(dot - path) : len;
	if (json_is_object(v))
		child = json_object_getn(v, path, n);
	else if (json_is_array(v) && webhook_index(path, n, &idx))
		child = json_array_get(v, idx);
	if (child != NULL) {
		if (dot == NULL) {
			webhook_path_hit_set(hit, v, path, n, idx);
			return child;
		}
		found = webhook_path_walk(child, dot + 1, len - n - 1, hit);
		if (found != NULL)
			return found;
	}
	if (dot != NULL && json_is_object(v) &&
	    (found = json_object_getn(v, path, len)) != NULL) {
		webhook_path_hit_set(hit, v, path, len, 0);
		return found;
	}
	return NULL;
}

/* Where a value was found: its container and its key or index. */
static void
webhook_path_hit_set(struct webhook_path_hit *hit, const json_t *parent,
    const char *key, size_t keylen, size_t index)
{
	if (hit == NULL)
		return;
	hit->parent = (json_t *)parent;
	hit->key = key;
	hit->keylen = keylen;
	hit->index = index;
}

json_t *
webhook_path_get(const json_t *root, const char *path)
{
	return webhook_path_find(root, path, NULL);
}

/* webhook_path_get, and where the value sits (hit may be NULL). */
static json_t *
webhook_path_find(const json_t *root, const char *path,
    struct webhook_path_hit *hit)
{
	size_t	len;

	if (root == NULL || path == NULL)
		return NULL;
	len = strlen(path);
	if (len == 0 || len > WEBHOOK_MAX_PATH)
		return NULL;
	return webhook_path_walk(root, path, len, hit);
}

int
webhook_path_del_string(json_t *root, const char *path)
{
	struct webhook_path_hit	 hit;
	json_t			*v;

	if ((v = webhook_path_find(root, path, &hit)) == NULL ||
	    !json_is_string(v))
		return 0;
	if (json_is_object(hit.parent))
		json_object_deln(hit.parent, hit.key, hit.keylen);
	else
		json_array_remove(hit.parent, hit.index);
	return 1;
}
