/* Unit tests for auth/token. */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "auth/token.h"
#include "crypto/crypto.h"

/* SHA-256 straight from OpenSSL, independent of crypto_sha256. */
static void
ref_sha256(const void *p, size_t len, unsigned char out[CRYPTO_SHA256LEN])
{
	unsigned int	n = 0;

	cr_assert_eq(EVP_Digest(p, len, out, &n, EVP_sha256(), NULL), 1);
	cr_assert_eq(n, CRYPTO_SHA256LEN);
}

static void
expect_lower_hex(const char *s, size_t len)
{
	size_t	i;

	cr_assert_eq(strlen(s), len, "%s", s);
	for (i = 0; i < len; i++)
		cr_assert((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f'), "char %zu of %s", i, s);
}

Test(token, sizes)
{
	cr_assert_eq(TOKEN_BYTES, 16);
	cr_assert_eq(TOKEN_HEXLEN, 32);
}

Test(token, new_is_32_lowercase_hex)
{
	char		out[TOKEN_HEXLEN + 2];
	unsigned char	hash[CRYPTO_SHA256LEN];

	memset(out, 'X', sizeof(out));
	token_new(out, hash);
	cr_assert_eq(out[TOKEN_HEXLEN], '\0');
	cr_assert_eq(out[TOKEN_HEXLEN + 1], 'X', "wrote past out[33]");
	expect_lower_hex(out, TOKEN_HEXLEN);
}

Test(token, new_hash_is_sha256_of_text)
{
	char		out[TOKEN_HEXLEN + 1];
	unsigned char	hash[CRYPTO_SHA256LEN], want[CRYPTO_SHA256LEN];
	unsigned char	again[CRYPTO_SHA256LEN];

	token_new(out, hash);
	ref_sha256(out, TOKEN_HEXLEN, want);
	cr_assert_eq(memcmp(hash, want, sizeof(want)), 0);
	token_hash(out, strlen(out), again);
	cr_assert_eq(memcmp(hash, again, sizeof(again)), 0);
}

Test(token, new_differs)
{
	char		a[TOKEN_HEXLEN + 1], b[TOKEN_HEXLEN + 1];
	unsigned char	ha[CRYPTO_SHA256LEN], hb[CRYPTO_SHA256LEN];

	token_new(a, ha);
	token_new(b, hb);
	cr_assert_str_neq(a, b);
	cr_assert_neq(memcmp(ha, hb, sizeof(ha)), 0);
}

Test(token, new_not_constant)
{
	/* a handful of tokens, all distinct, and not all starting alike */
	char		t[8][TOKEN_HEXLEN + 1];
	unsigned char	h[CRYPTO_SHA256LEN];
	int		i, j, same_first = 0;

	for (i = 0; i < 8; i++)
		token_new(t[i], h);
	for (i = 0; i < 8; i++)
		for (j = i + 1; j < 8; j++)
			cr_assert_str_neq(t[i], t[j]);
	for (i = 1; i < 8; i++)
		same_first += strncmp(t[0], t[i], 4) == 0;
	cr_assert_lt(same_first, 7);
}

Test(token, hash_vector)
{
	unsigned char	h[CRYPTO_SHA256LEN];
	char		*hex;

	token_hash("abc", 3, h);
	hex = crypto_hex(h, sizeof(h));
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	free(hex);
	/* only len bytes are hashed */
	token_hash("abcdef", 3, h);
	hex = crypto_hex(h, sizeof(h));
	cr_assert_str_eq(hex, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	free(hex);
}

/* Expect value to yield the credential want (at offset off). */
static void
expect_tok(const char *value, size_t off, const char *want)
{
	const char	*tok = NULL;
	size_t		 len = 0;

	cr_assert_eq(token_from_header(value, &tok, &len), 0, "[%s]", value);
	cr_assert_eq(tok, value + off, "[%s]: offset %td", value, tok - value);
	cr_assert_eq(len, strlen(want), "[%s]: len %zu", value, len);
	cr_assert_eq(memcmp(tok, want, len), 0, "[%s]", value);
}

static void
expect_bad(const char *value)
{
	const char	*tok = NULL;
	size_t		 len = 0;

	cr_assert_eq(token_from_header(value, &tok, &len), -1, "[%s]",
	    value ? value : "(null)");
}

Test(token, header_bearer)
{
	expect_tok("Bearer x", 7, "x");
	expect_tok("Bearer 0123456789abcdef0123456789abcdef", 7,
	    "0123456789abcdef0123456789abcdef");
}

Test(token, header_scheme_any_case)
{
	expect_tok("bearer x", 7, "x");
	expect_tok("BEARER x", 7, "x");
	expect_tok("bEaReR abc", 7, "abc");
}

Test(token, header_extra_spaces)
{
	expect_tok("Bearer   x", 9, "x");
	expect_tok("Bearer abc  ", 7, "abc");
	expect_tok("Bearer    abc    ", 10, "abc");
}

Test(token, header_tabs)
{
	/* trailing whitespace (spaces or tabs) is not part of the token */
	expect_tok("Bearer abc\t", 7, "abc");
	expect_tok("Bearer abc \t ", 7, "abc");
	/* a tab inside the credential is not token68 */
	expect_bad("Bearer ab\tcd");
	expect_bad("Bearer\t");
}

Test(token, header_token68_chars)
{
	expect_tok("Bearer aZ09-._~+/", 7, "aZ09-._~+/");
	expect_tok("Bearer abc=", 7, "abc=");
	expect_tok("Bearer abc==", 7, "abc==");
	expect_bad("Bearer =abc");
	expect_bad("Bearer ===");
	expect_bad("Bearer a=b");
	expect_bad("Bearer ab cd");
	expect_bad("Bearer abc$");
	expect_bad("Bearer abc,def");
	expect_bad("Bearer \"abc\"");
	expect_bad("Bearer abc;");
	expect_bad("Bearer a:b");
	expect_bad("Bearer a\xc3\xa9");
	expect_bad("Bearer a\x01");
	expect_bad("Bearer realm=\"x\"");
}

Test(token, header_missing_scheme)
{
	expect_bad(NULL);
	expect_bad("");
	expect_bad("x");
	expect_bad("0123456789abcdef0123456789abcdef");
	expect_bad("Bearer");
	expect_bad("Bear x");
	expect_bad("Bearerx");
	expect_bad("BearerX abc");
	expect_bad("Bearer-abc");
	expect_bad("Bearer:abc");
}

Test(token, header_other_scheme)
{
	expect_bad("Basic x");
	expect_bad("Basic dXNlcjpwYXNz");
	expect_bad("Token abc");
	expect_bad("Digest abc");
	expect_bad("OAuth abc");
}

Test(token, header_empty_token)
{
	expect_bad("Bearer ");
	expect_bad("Bearer    ");
	expect_bad("bearer \t ");
}

Test(token, header_max_length)
{
	char	v[7 + TOKEN_MAXLEN + 2];

	memcpy(v, "Bearer ", 7);
	memset(v + 7, 'a', TOKEN_MAXLEN);
	v[7 + TOKEN_MAXLEN] = '\0';
	expect_tok(v, 7, v + 7);
	/* trailing spaces do not count */
	v[7 + TOKEN_MAXLEN] = ' ';
	v[7 + TOKEN_MAXLEN + 1] = '\0';
	{
		const char	*tok;
		size_t		 len;

		cr_assert_eq(token_from_header(v, &tok, &len), 0);
		cr_assert_eq(len, TOKEN_MAXLEN);
	}
	v[7 + TOKEN_MAXLEN] = 'a';
	expect_bad(v);
}

Test(token, header_way_over_max)
{
	size_t	 n = 100000;
	char	*v = malloc(7 + n + 1);

	cr_assert_not_null(v);
	memcpy(v, "Bearer ", 7);
	memset(v + 7, 'a', n);
	v[7 + n] = '\0';
	expect_bad(v);
	free(v);
}
