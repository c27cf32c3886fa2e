/*
 * token_from_header on any Authorization header value (a C string, as
 * libmicrohttpd hands it out), then token_hash of what it found.
 *
 * Checked against token.h: on success the scheme is "Bearer" in any case
 * followed by a blank, the token lies inside the value, is 1 to
 * TOKEN_MAXLEN token68 characters (then only '=' padding), and is what is
 * left once surrounding blanks are dropped.
 */
#include <stddef.h>
#include <stdint.h>

#include "auth/token.h"
#include "fuzz_common.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' && strchr("-._~+/", c) != NULL);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char	 hash[CRYPTO_SHA256LEN];
	const char	*tok = NULL, *end;
	char		*value;
	size_t		 len = 0, i;

	value = fuzz_cstr(data, size);
	if (token_from_header(value, &tok, &len) == 0) {
		FUZZ_ASSERT(strncasecmp(value, "Bearer", 6) == 0);
		FUZZ_ASSERT(value[6] == ' ' || value[6] == '\t');
		FUZZ_ASSERT(tok > value + 6 && tok + len <= value + strlen(value));
		FUZZ_ASSERT(len >= 1 && len <= TOKEN_MAXLEN);
		FUZZ_ASSERT(tok[-1] == ' ' || tok[-1] == '\t');
		for (i = 0; i < len && tchar(tok[i]); i++)
			;
		FUZZ_ASSERT(i > 0);
		for (; i < len; i++)
			FUZZ_ASSERT(tok[i] == '=');
		for (end = tok + len; *end != '\0'; end++)
			FUZZ_ASSERT(*end == ' ' || *end == '\t');
		token_hash(tok, len, hash);
	} else
		FUZZ_ASSERT(tok == NULL && len == 0);
	free(value);
	return 0;
}
