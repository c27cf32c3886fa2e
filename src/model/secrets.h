/* A document's secrets at rest: the map secrets_take makes
 * ({"webhook.key": "...", ...}) sealed with AES-256-GCM under the server's
 * key, and bound to the document's account and id, so an envelope copied
 * onto another row does not open. Plain values in and out; knows nothing
 * of HTTP or of the store. */
#ifndef EXPORTD_SECRETS_H
#define EXPORTD_SECRETS_H

#define SECRETS_MASK "******"

#include <jansson.h>
#include <stddef.h>

#include "crypto/crypto.h"

/* Move the secrets at paths (dot paths) out of doc into a new map
 * {"http.auth.token.token": "...", ...} and leave "******" in their
 * place. A secret is a string, or a whole object at the path whole
 * (http.encrypted of a connection; NULL: none). A
 * masked value keeps the value in stored (a map as returned here, or
 * NULL); with nothing stored the field is removed. Other values are left
 * for validation. */
json_t		*secrets_take(json_t *doc, const json_t *stored,
		    const char *const *paths, size_t npaths, const char *whole);

/* Seal a secret map for the document (account, id): a new envelope (caller
 * frees) and its length in *len; NULL and *len 0 when the map is NULL or
 * empty (nothing is stored then). */
unsigned char	*secrets_seal(const unsigned char key[CRYPTO_KEYLEN],
		    const char *account, const char *id, const json_t *map,
		    size_t *len);
/* Open the envelope of the document (account, id) into *map (a new
 * reference; NULL when env is NULL, for a document with no secrets).
 * Returns 0, or -1 with *map NULL when the envelope is not authentic for
 * this key, account and id, or does not hold a secret map. The plain text
 * is wiped. */
int		 secrets_open(const unsigned char key[CRYPTO_KEYLEN],
		    const char *account, const char *id, const void *env,
		    size_t envlen, json_t **map);

#endif
