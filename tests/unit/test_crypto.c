/* Unit tests for crypto/crypto. */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <openssl/evp.h>

#include "crypto/crypto.h"

/* Compare bytes with an expected lowercase hex string. */
static void
expect_hex(const unsigned char *p, size_t len, const char *want)
{
	char	*h;

	h = crypto_hex(p, len);
	cr_assert_str_eq(h, want);
	free(h);
}

static void
expect_hmac(enum crypto_hash hash, const void *key, size_t keylen,
    const char *data, const char *want)
{
	unsigned char	out[64];
	int		n;

	memset(out, 0, sizeof out);
	n = crypto_hmac(hash, key, keylen, data, strlen(data), out);
	cr_assert_eq((size_t)n * 2, strlen(want), "length %d", n);
	expect_hex(out, (size_t)n, want);
}

Test(crypto, sha256_vectors)
{
	unsigned char	out[CRYPTO_SHA256LEN];

	crypto_sha256("", 0, out);
	expect_hex(out, sizeof out, "e3b0c44298fc1c149afbf4c8996fb924"
	    "27ae41e4649b934ca495991b7852b855");
	crypto_sha256("abc", 3, out);
	expect_hex(out, sizeof out, "ba7816bf8f01cfea414140de5dae2223"
	    "b00361a396177a9cb410ff61f20015ad");
	crypto_sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	    56, out);
	expect_hex(out, sizeof out, "248d6a61d20638b8e5c026930c3e6039"
	    "a33ce45964ff2167f6ecedd419db06c1");
}

/* RFC 2202 test cases 1, 2 and 6. */
Test(crypto, hmac_sha1_rfc2202)
{
	unsigned char	k0b[20], kaa[80];

	memset(k0b, 0x0b, sizeof k0b);
	memset(kaa, 0xaa, sizeof kaa);
	expect_hmac(CRYPTO_SHA1, k0b, sizeof k0b, "Hi There",
	    "b617318655057264e28bc0b6fb378c8ef146be00");
	expect_hmac(CRYPTO_SHA1, "Jefe", 4, "what do ya want for nothing?",
	    "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79");
	expect_hmac(CRYPTO_SHA1, kaa, sizeof kaa,
	    "Test Using Larger Than Block-Size Key - Hash Key First",
	    "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

/* RFC 4231 test cases 1, 2 and 6. */
Test(crypto, hmac_sha2_rfc4231)
{
	unsigned char	 k0b[20], kaa[131];
	const char	*big = "Test Using Larger Than Block-Size Key - Hash Key "
			    "First";

	memset(k0b, 0x0b, sizeof k0b);
	memset(kaa, 0xaa, sizeof kaa);

	expect_hmac(CRYPTO_SHA256, k0b, sizeof k0b, "Hi There",
	    "b0344c61d8db38535ca8afceaf0bf12b"
	    "881dc200c9833da726e9376c2e32cff7");
	expect_hmac(CRYPTO_SHA384, k0b, sizeof k0b, "Hi There",
	    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec6"
	    "82aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6");
	expect_hmac(CRYPTO_SHA512, k0b, sizeof k0b, "Hi There",
	    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
	    "daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");

	expect_hmac(CRYPTO_SHA256, "Jefe", 4, "what do ya want for nothing?",
	    "5bdcc146bf60754e6a042426089575c7"
	    "5a003f089d2739839dec58b964ec3843");
	expect_hmac(CRYPTO_SHA384, "Jefe", 4, "what do ya want for nothing?",
	    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47"
	    "e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649");
	expect_hmac(CRYPTO_SHA512, "Jefe", 4, "what do ya want for nothing?",
	    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554"
	    "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737");

	expect_hmac(CRYPTO_SHA256, kaa, sizeof kaa, big,
	    "60e431591ee0b67f0d8a26aacbf5b77f"
	    "8e0bc6213728c5140546040f0ee37f54");
	expect_hmac(CRYPTO_SHA384, kaa, sizeof kaa, big,
	    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f"
	    "3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952");
	expect_hmac(CRYPTO_SHA512, kaa, sizeof kaa, big,
	    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352"
	    "6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598");
}

Test(crypto, hmac_edge_cases)
{
	unsigned char	out[64];

	expect_hmac(CRYPTO_SHA256, NULL, 0, "",
	    "b613679a0814d9ec772f95d778c35fc5"
	    "ff1697c493715653c6c712144292c5ad");
	cr_assert_eq(crypto_hmac((enum crypto_hash)99, "k", 1, "d", 1, out),
	    -1);
}

Test(crypto, equal)
{
	cr_assert(crypto_equal("abc", 3, "abc", 3));
	cr_assert(crypto_equal("", 0, "", 0));
	cr_assert(crypto_equal(NULL, 0, NULL, 0));
	cr_assert_not(crypto_equal("abc", 3, "abd", 3));
	cr_assert_not(crypto_equal("abc", 3, "xbc", 3));
	cr_assert_not(crypto_equal("abc", 3, "abcd", 4));
	cr_assert_not(crypto_equal("abc", 3, "ab", 2));
	cr_assert_not(crypto_equal("a", 1, "", 0));
}

Test(crypto, wipe)
{
	unsigned char	b[64];
	size_t		i;

	memset(b, 0x5a, sizeof b);
	crypto_wipe(b, 32);
	for (i = 0; i < 32; i++)
		cr_assert_eq(b[i], 0);
	for (; i < 64; i++)
		cr_assert_eq(b[i], 0x5a);
	crypto_wipe(NULL, 0);
}

Test(crypto, random)
{
	unsigned char	a[32], b[32], zero[32];
	char		h[2 * 40 + 1];
	size_t		i;

	memset(zero, 0, sizeof zero);
	crypto_random(a, sizeof a);
	crypto_random(b, sizeof b);
	cr_assert_neq(memcmp(a, b, sizeof a), 0);
	cr_assert_neq(memcmp(a, zero, sizeof a), 0);
	crypto_random(a, 0);

	memset(h, 'X', sizeof h);
	crypto_random_hex(h, 40);
	cr_assert_eq(strlen(h), 80);
	for (i = 0; i < 80; i++)
		cr_assert(strchr("0123456789abcdef", h[i]) != NULL);
	crypto_random_hex(h, 0);
	cr_assert_str_eq(h, "");
}

static const unsigned char key1[CRYPTO_KEYLEN] = {
	1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
	17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32
};

Test(crypto, seal_open_round_trip)
{
	const char	 *msg = "the secret export credentials";
	const char	 *aad = "acct:42/export:5a1dbae0aabbccddee000001";
	unsigned char	 *env, *env2, *plain;
	size_t		  envlen, envlen2, plen = 0, len = strlen(msg);

	env = crypto_seal(key1, aad, strlen(aad), msg, len, &envlen);
	cr_assert_not_null(env);
	cr_assert_eq(envlen, len + CRYPTO_SEAL_OVERHEAD);
	cr_assert_eq(env[0], 0x01);
	cr_assert_null(memmem(env, envlen, msg, len));

	plain = crypto_open(key1, aad, strlen(aad), env, envlen, &plen);
	cr_assert_not_null(plain);
	cr_assert_eq(plen, len);
	cr_assert_eq(memcmp(plain, msg, len), 0);
	cr_assert_eq(plain[plen], '\0');
	crypto_wipe(plain, plen);
	free(plain);

	/* A fresh nonce each time. */
	env2 = crypto_seal(key1, aad, strlen(aad), msg, len, &envlen2);
	cr_assert_eq(envlen2, envlen);
	cr_assert_neq(memcmp(env + 1, env2 + 1, CRYPTO_NONCELEN), 0);
	cr_assert_neq(memcmp(env, env2, envlen), 0);
	free(env2);
	free(env);
}

Test(crypto, seal_open_empty)
{
	unsigned char	*env, *plain;
	size_t		 envlen, plen = 99;

	env = crypto_seal(key1, NULL, 0, "", 0, &envlen);
	cr_assert_not_null(env);
	cr_assert_eq(envlen, CRYPTO_SEAL_OVERHEAD);
	plain = crypto_open(key1, "", 0, env, envlen, &plen);
	cr_assert_not_null(plain);
	cr_assert_eq(plen, 0);
	cr_assert_eq(plain[0], '\0');
	free(plain);
	/* Binding to an aad fails if the envelope had none. */
	cr_assert_null(crypto_open(key1, "x", 1, env, envlen, &plen));
	free(env);
}

Test(crypto, open_rejects_tampering)
{
	const char	 *msg = "payload";
	unsigned char	  aad[] = "account-7";
	unsigned char	  key2[CRYPTO_KEYLEN];
	unsigned char	 *env, *plain;
	size_t		  envlen, plen, i;
	int		  bit;

	env = crypto_seal(key1, aad, sizeof aad - 1, msg, strlen(msg),
	    &envlen);
	cr_assert_not_null(env);

	for (i = 0; i < envlen; i++) {
		for (bit = 0; bit < 8; bit++) {
			env[i] ^= (unsigned char)(1 << bit);
			plain = crypto_open(key1, aad, sizeof aad - 1, env,
			    envlen, &plen);
			cr_assert_null(plain, "byte %zu bit %d", i, bit);
			env[i] ^= (unsigned char)(1 << bit);
		}
	}
	for (i = 0; i < sizeof aad - 1; i++) {
		aad[i] ^= 0x01;
		cr_assert_null(crypto_open(key1, aad, sizeof aad - 1, env,
		    envlen, &plen), "aad byte %zu", i);
		aad[i] ^= 0x01;
	}
	cr_assert_null(crypto_open(key1, aad, sizeof aad - 2, env, envlen,
	    &plen));
	cr_assert_null(crypto_open(key1, NULL, 0, env, envlen, &plen));
	for (i = 0; i < envlen; i++)
		cr_assert_null(crypto_open(key1, aad, sizeof aad - 1, env, i,
		    &plen), "truncated to %zu", i);

	memcpy(key2, key1, sizeof key2);
	key2[31] ^= 0x80;
	cr_assert_null(crypto_open(key2, aad, sizeof aad - 1, env, envlen,
	    &plen));

	/* Untouched, it still opens. */
	plain = crypto_open(key1, aad, sizeof aad - 1, env, envlen, &plen);
	cr_assert_not_null(plain);
	cr_assert_str_eq((char *)plain, msg);
	free(plain);
	free(env);
}

/* The envelope is 0x01 | nonce | ciphertext | tag: GCM test vectors 13, 14. */
Test(crypto, open_known_answer)
{
	static const unsigned char	ct[16] = {
		0xce, 0xa7, 0x40, 0x3d, 0x4d, 0x60, 0x6b, 0x6e,
		0x07, 0x4e, 0xc5, 0xd3, 0xba, 0xf3, 0x9d, 0x18
	};
	static const unsigned char	tag14[16] = {
		0xd0, 0xd1, 0xc8, 0xa7, 0x99, 0x99, 0x6b, 0xf0,
		0x26, 0x5b, 0x98, 0xb5, 0xd4, 0x8a, 0xb9, 0x19
	};
	static const unsigned char	tag13[16] = {
		0x53, 0x0f, 0x8a, 0xfb, 0xc7, 0x45, 0x36, 0xb9,
		0xa9, 0x63, 0xb4, 0xf1, 0xc4, 0xcb, 0x73, 0x8b
	};
	unsigned char	key[CRYPTO_KEYLEN], env[1 + 12 + 16 + 16], zero[16];
	unsigned char	*plain;
	size_t		 plen;

	memset(key, 0, sizeof key);
	memset(zero, 0, sizeof zero);
	memset(env, 0, sizeof env);
	env[0] = 0x01;
	memcpy(env + 13, ct, 16);
	memcpy(env + 29, tag14, 16);
	plain = crypto_open(key, NULL, 0, env, sizeof env, &plen);
	cr_assert_not_null(plain);
	cr_assert_eq(plen, 16);
	cr_assert_eq(memcmp(plain, zero, 16), 0);
	free(plain);

	env[0] = 0x02;
	cr_assert_null(crypto_open(key, NULL, 0, env, sizeof env, &plen));

	env[0] = 0x01;
	memcpy(env + 13, tag13, 16);
	plain = crypto_open(key, NULL, 0, env, 1 + 12 + 16, &plen);
	cr_assert_not_null(plain);
	cr_assert_eq(plen, 0);
	free(plain);
}

Test(crypto, hex)
{
	unsigned char	 out[8], data[256];
	char		*h;
	size_t		 i;

	for (i = 0; i < sizeof data; i++)
		data[i] = (unsigned char)i;
	h = crypto_hex(data, sizeof data);
	cr_assert_eq(strlen(h), 512);
	cr_assert_eq(strncmp(h, "000102", 6), 0);
	cr_assert_str_eq(h + 500, "fafbfcfdfeff");
	free(h);
	h = crypto_hex("", 0);
	cr_assert_str_eq(h, "");
	free(h);

	cr_assert_eq(crypto_unhex("00ff10Ab", 8, out, sizeof out), 4);
	cr_assert_eq(memcmp(out, "\x00\xff\x10\xab", 4), 0);
	cr_assert_eq(crypto_unhex("", 0, out, sizeof out), 0);
	cr_assert_eq(crypto_unhex("abc", 3, out, sizeof out), -1);
	cr_assert_eq(crypto_unhex("zz", 2, out, sizeof out), -1);
	cr_assert_eq(crypto_unhex("0g", 2, out, sizeof out), -1);
	cr_assert_eq(crypto_unhex(" 0", 2, out, sizeof out), -1);
	cr_assert_eq(crypto_unhex("0\0", 2, out, sizeof out), -1);
	cr_assert_eq(crypto_unhex("0011223344556677", 16, out, 8), 8);
	cr_assert_eq(crypto_unhex("001122334455667788", 18, out, 8), -1);
}

static void
expect_b64(const char *plain, const char *enc)
{
	unsigned char	 out[64];
	char		*s;
	int		 n;

	s = crypto_base64(plain, strlen(plain));
	cr_assert_str_eq(s, enc);
	free(s);
	n = crypto_unbase64(enc, strlen(enc), out, sizeof out);
	cr_assert_eq(n, (int)strlen(plain), "decode %s", enc);
	cr_assert_eq(memcmp(out, plain, (size_t)n), 0);
}

static void
reject_b64(const char *enc)
{
	unsigned char	out[64];

	cr_assert_eq(crypto_unbase64(enc, strlen(enc), out, sizeof out), -1,
	    "accepted \"%s\"", enc);
}

Test(crypto, base64_rfc4648)
{
	expect_b64("", "");
	expect_b64("f", "Zg==");
	expect_b64("fo", "Zm8=");
	expect_b64("foo", "Zm9v");
	expect_b64("foob", "Zm9vYg==");
	expect_b64("fooba", "Zm9vYmE=");
	expect_b64("foobar", "Zm9vYmFy");
	expect_b64("\xfb\xff", "+/8=");
}

Test(crypto, base64_rejects_malformed)
{
	unsigned char	out[8];

	reject_b64("Z");
	reject_b64("Zg");
	reject_b64("Zg=");
	reject_b64("Zg===");
	reject_b64("Z===");
	reject_b64("====");
	reject_b64("=Zg=");
	reject_b64("Zg==Zg==");
	reject_b64("Zm=v");
	reject_b64("Zg=a");
	reject_b64("Zm9v\n");
	reject_b64("Zm9v\nZm9v");
	reject_b64("Zm 9");
	reject_b64("Zm-_");
	reject_b64("Zm9\x80");
	/* Non-zero bits under the padding. */
	reject_b64("Zh==");
	reject_b64("Zm9=");
	cr_assert_eq(crypto_unbase64("Zm\0v", 4, out, sizeof out), -1);

	cr_assert_eq(crypto_unbase64("Zm9vYmFy", 8, out, 6), 6);
	cr_assert_eq(crypto_unbase64("Zm9vYmFy", 8, out, 5), -1);
	cr_assert_eq(crypto_unbase64("Zm9vYmE=", 8, out, 5), 5);
	cr_assert_eq(crypto_unbase64("Zm9vYmE=", 8, out, 4), -1);
}

/* Round trips against OpenSSL's own encoder for every length to 300. */
Test(crypto, base64_round_trip)
{
	unsigned char	 data[300], out[300], ref[404];
	char		*s;
	size_t		 len;
	int		 n;

	for (len = 0; len <= sizeof data; len++) {
		crypto_random(data, len);
		s = crypto_base64(data, len);
		n = EVP_EncodeBlock(ref, data, (int)len);
		cr_assert_eq(strlen(s), (size_t)n);
		cr_assert_str_eq(s, (char *)ref);
		n = crypto_unbase64(s, strlen(s), out, sizeof out);
		cr_assert_eq(n, (int)len);
		cr_assert_eq(memcmp(out, data, len), 0);
		free(s);

		s = crypto_hex(data, len);
		n = crypto_unhex(s, strlen(s), out, sizeof out);
		cr_assert_eq(n, (int)len);
		cr_assert_eq(memcmp(out, data, len), 0);
		free(s);
	}
}
