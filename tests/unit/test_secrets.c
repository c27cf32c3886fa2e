/* Unit tests for model/secrets. */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "crypto/crypto.h"
#include "model/secrets.h"

#define ACCOUNT	"6b0b09b53d1dfa71bb8650c4"
#define ID	"6b0b09b53d1dfa71bb8650c5"
#define OTHER	"6b0b09b53d1dfa71bb8650c6"

static unsigned char	key[CRYPTO_KEYLEN];

static void
key_fill(void)
{
	memset(key, 0x42, sizeof(key));
}

static json_t *
sample_map(void)
{
	return json_pack("{s:s, s:s}", "webhook.key", "my-hmac-secret",
	    "webhook.password", "p\"w\\d\n");
}

/* Seal the sample map for ACCOUNT/ID; the caller frees. */
static unsigned char *
sample_env(size_t *len)
{
	json_t		*m = sample_map();
	unsigned char	*env = secrets_seal(key, ACCOUNT, ID, m, len);

	json_decref(m);
	cr_assert_not_null(env);
	return env;
}

TestSuite(secrets, .init = key_fill);

Test(secrets, round_trip)
{
	json_t		*m = sample_map(), *back;
	unsigned char	*env;
	size_t		 len;

	env = secrets_seal(key, ACCOUNT, ID, m, &len);
	cr_assert_not_null(env);
	cr_expect_gt(len, CRYPTO_SEAL_OVERHEAD);
	/* sealed: the plain text appears nowhere in the envelope */
	cr_expect_null(memmem(env, len, "my-hmac-secret", 14));
	cr_assert_eq(secrets_open(key, ACCOUNT, ID, env, len, &back), 0);
	cr_assert_not_null(back);
	cr_expect(json_equal(m, back));
	json_decref(back);
	json_decref(m);
	free(env);
}

Test(secrets, nothing_to_seal)
{
	json_t		*empty = json_object(), *back = json_object();
	size_t		 len = 99;

	cr_expect_null(secrets_seal(key, ACCOUNT, ID, NULL, &len));
	cr_expect_eq(len, 0);
	len = 99;
	cr_expect_null(secrets_seal(key, ACCOUNT, ID, empty, &len));
	cr_expect_eq(len, 0);
	/* a row without an envelope has no secrets, and that is no error */
	json_decref(back);
	cr_expect_eq(secrets_open(key, ACCOUNT, ID, NULL, 0, &back), 0);
	cr_expect_null(back);
	json_decref(empty);
}

Test(secrets, bound_to_account_and_id)
{
	unsigned char	*env;
	size_t		 len;
	json_t		*back = NULL;

	env = sample_env(&len);
	cr_expect_eq(secrets_open(key, ACCOUNT, OTHER, env, len, &back), -1);
	cr_expect_null(back);
	cr_expect_eq(secrets_open(key, OTHER, ID, env, len, &back), -1);
	cr_expect_null(back);
	free(env);
}

Test(secrets, wrong_key_or_tampered)
{
	unsigned char	*env, other[CRYPTO_KEYLEN];
	size_t		 len;
	json_t		*back = NULL;

	env = sample_env(&len);
	memset(other, 0x43, sizeof(other));
	cr_expect_eq(secrets_open(other, ACCOUNT, ID, env, len, &back), -1);
	cr_expect_null(back);
	env[len / 2] ^= 1;
	cr_expect_eq(secrets_open(key, ACCOUNT, ID, env, len, &back), -1);
	cr_expect_null(back);
	env[len / 2] ^= 1;
	cr_expect_eq(secrets_open(key, ACCOUNT, ID, env, len - 1, &back), -1);
	cr_expect_null(back);
	free(env);
}

/* Envelopes already stored were sealed with this additional data: it is
 * part of the storage format and must not change. */
Test(secrets, opens_what_is_stored)
{
	const char	*aad = "exportd/secrets/v1:" ACCOUNT ":" ID;
	const char	*plain = "{\"webhook.key\":\"s3cret\"}";
	unsigned char	*env;
	size_t		 len;
	json_t		*back = NULL;

	env = crypto_seal(key, aad, strlen(aad), plain, strlen(plain), &len);
	cr_assert_eq(secrets_open(key, ACCOUNT, ID, env, len, &back), 0);
	cr_expect_str_eq(json_string_value(json_object_get(back,
	    "webhook.key")), "s3cret");
	json_decref(back);
	free(env);
}

Test(secrets, authentic_but_not_a_map)
{
	const char	*aad = "exportd/secrets/v1:" ACCOUNT ":" ID;
	const char	*bad[] = { "[\"webhook.key\"]", "\"s3cret\"", "{",
			    "" };
	unsigned char	*env;
	size_t		 i, len;
	json_t		*back = NULL;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		env = crypto_seal(key, aad, strlen(aad), bad[i],
		    strlen(bad[i]), &len);
		cr_expect_eq(secrets_open(key, ACCOUNT, ID, env, len, &back),
		    -1, "%s", bad[i]);
		cr_expect_null(back);
		free(env);
	}
}
