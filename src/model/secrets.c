/* Secrets at rest: seal and open a document's secret map. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/secrets.h"
#include "util/json.h"
#include "util/limits.h"

/* Depth of a secret map: strings, and whole objects (http.encrypted). */
#define SECRETS_DEPTH LIMIT_JSON_DEPTH

json_t *
secrets_take(json_t *doc, const json_t *stored, const char *const *paths,
    size_t npaths, const char *whole)
{
	json_t		*out, *v, *old;
	size_t		 i;

	out = json_object();
	for (i = 0; i < npaths; i++) {
		v = json_path_get(doc, paths[i]);
		if (v == NULL || (!json_is_string(v) && (!json_is_object(v) ||
		    whole == NULL || strcmp(paths[i], whole) != 0)))
			continue;
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), SECRETS_MASK) == 0) {
			old = stored != NULL ? json_object_get(stored,
			    paths[i]) : NULL;
			if (old == NULL)
				json_path_del(doc, paths[i]);
			else
				json_object_set(out, paths[i], old);
			continue;
		}
		json_object_set(out, paths[i], v);
		json_path_set_new(doc, paths[i], json_string(SECRETS_MASK));
	}
	return out;
}

/* The additional data an envelope is bound to. Changing it makes every
 * stored secret unreadable: it is part of the storage format. */
static void
secrets_aad(const char *account, const char *id, char *out, size_t outsz)
{
	snprintf(out, outsz, "exportd/secrets/v1:%s:%s", account, id);
}

unsigned char *
secrets_seal(const unsigned char key[CRYPTO_KEYLEN], const char *account,
    const char *id, const json_t *map, size_t *len)
{
	unsigned char	*env;
	char		*plain, aad[96];
	size_t		 plen;

	*len = 0;
	if (map == NULL || json_object_size(map) == 0)
		return NULL;
	secrets_aad(account, id, aad, sizeof(aad));
	plain = json_render_new(map, &plen);
	env = crypto_seal(key, aad, strlen(aad), plain, plen, len);
	crypto_wipe(plain, plen);
	free(plain);
	return env;
}

int
secrets_open(const unsigned char key[CRYPTO_KEYLEN], const char *account,
    const char *id, const void *env, size_t envlen, json_t **map)
{
	struct json_parse_error	 err;
	unsigned char		*plain;
	char			 aad[96];
	size_t			 len;

	*map = NULL;
	if (env == NULL)
		return 0;
	secrets_aad(account, id, aad, sizeof(aad));
	plain = crypto_open(key, aad, strlen(aad), env, envlen, &len);
	if (plain == NULL)
		return -1;
	*map = json_parse((const char *)plain, len, SECRETS_DEPTH, &err);
	crypto_wipe(plain, len);
	free(plain);
	if (!json_is_object(*map)) {
		json_decref(*map);
		*map = NULL;
		return -1;
	}
	return 0;
}
