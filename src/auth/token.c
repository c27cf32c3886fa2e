/* API token generation, hashing and header parsing. */
#include <string.h>
#include <strings.h>

#include "auth/token.h"

void
token_new(char out[TOKEN_HEXLEN + 1], unsigned char hash[CRYPTO_SHA256LEN])
{
	crypto_random_hex(out, TOKEN_BYTES);
	token_hash(out, TOKEN_HEXLEN, hash);
}

void
token_hash(const char *token, size_t len, unsigned char hash[CRYPTO_SHA256LEN])
{
	crypto_sha256(token, len, hash);
}

/* RFC 7235 token68: ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/",
 * then optional trailing "=". */
static int
token68(const char *s, size_t len)
{
	size_t	i = 0;

	while (i < len && (strchr("-._~+/", s[i]) != NULL ||
	    (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
	    (s[i] >= '0' && s[i] <= '9')) && s[i] != '\0')
		i++;
	if (i == 0)
		return 0;
	while (i < len && s[i] == '=')
		i++;
	return i == len;
}

int
token_is_credential(const char *s, size_t len)
{
	return len > 0 && len <= TOKEN_MAXLEN && token68(s, len);
}

int
token_from_header(const char *value, const char **tok, size_t *len)
{
	const char	*p;
	size_t		 n;

	if (value == NULL || strncasecmp(value, "Bearer", 6) != 0 ||
	    (value[6] != ' ' && value[6] != '\t'))
		return -1;
	for (p = value + 6; *p == ' ' || *p == '\t'; p++)
		;
	n = strlen(p);
	while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t'))
		n--;
	if (!token_is_credential(p, n))
		return -1;
	*tok = p;
	*len = n;
	return 0;
}
