/* API tokens: 128 random bits shown once as 32 hex characters; only their
 * SHA-256 is stored. */
#ifndef EXPORTD_TOKEN_H
#define EXPORTD_TOKEN_H

#include <stddef.h>

#include "crypto/crypto.h"

#define TOKEN_BYTES	16
#define TOKEN_HEXLEN	(TOKEN_BYTES * 2)
#define TOKEN_MAXLEN	512	/* longest bearer credential looked at */

/* A new token into out[33] and its hash. */
void	token_new(char out[TOKEN_HEXLEN + 1], unsigned char hash[CRYPTO_SHA256LEN]);
void	token_hash(const char *token, size_t len,
	    unsigned char hash[CRYPTO_SHA256LEN]);
/* Find the credential in an Authorization header value: scheme "Bearer"
 * (any case), one or more spaces or tabs, then 1 to TOKEN_MAXLEN token68
 * characters. Returns 0 and sets *tok and *len, or -1. */
/* Whether s could be sent as a bearer credential: 1 to TOKEN_MAXLEN
 * token68 characters. */
int	token_is_credential(const char *s, size_t len);
int	token_from_header(const char *value, const char **tok, size_t *len);

#endif
