/* Cryptographic primitives, all on OpenSSL libcrypto. */

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"
#include "util/xmalloc.h"

#define CRYPTO_SEAL_VERSION 0x01
#define CRYPTO_CHUNK (1 << 30)
#define CRYPTO_INT_MAX ((size_t)INT_MAX)

static void	crypto_fatal(const char *) __attribute__((noreturn));
static int	crypto_hexval(int);
static int	crypto_b64val(int);

static const char crypto_hexdigits[] = "0123456789abcdef";
static const char crypto_b64chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* A primitive that cannot fail did: there is no safe way to go on. */
static void
crypto_fatal(const char *what)
{
	fprintf(stderr, "exportd: fatal: crypto: %s failed\n", what);
	abort();
}

void
crypto_random(void *buf, size_t len)
{
	static _Thread_local unsigned char	 pool[1024];
	static _Thread_local size_t		 left;
	unsigned char				*p = buf;
	size_t					 n;

	/* Small requests (ids, nonces) come from a per-thread pool filled
	 * from the CSPRNG, one call per 1 KiB; served bytes are wiped. */
	if (len <= 64) {
		if (left < len) {
			if (RAND_bytes(pool, (int)sizeof(pool)) != 1)
				crypto_fatal("RAND_bytes");
			left = sizeof(pool);
		}
		memcpy(buf, pool + sizeof(pool) - left, len);
		OPENSSL_cleanse(pool + sizeof(pool) - left, len);
		left -= len;
		return;
	}
	while (len > 0) {
		n = len > CRYPTO_CHUNK ? CRYPTO_CHUNK : len;
		if (RAND_bytes(p, (int)n) != 1)
			crypto_fatal("RAND_bytes");
		p += n;
		len -= n;
	}
}

void
crypto_random_hex(char *out, size_t n)
{
	unsigned char	b[32];
	size_t		i, j, k;

	for (i = 0; i < n; i += k) {
		k = n - i > sizeof b ? sizeof b : n - i;
		crypto_random(b, k);
		for (j = 0; j < k; j++) {
			out[2 * (i + j)] = crypto_hexdigits[b[j] >> 4];
			out[2 * (i + j) + 1] = crypto_hexdigits[b[j] & 0xf];
		}
	}
	out[2 * n] = '\0';
	crypto_wipe(b, sizeof b);
}

static pthread_once_t	 sha256_once = PTHREAD_ONCE_INIT;
static EVP_MD		*sha256_md;
static pthread_key_t	 sha256_key;	/* this thread's EVP_MD_CTX */

static void
sha256_ctx_free(void *ctx)
{
	EVP_MD_CTX_free(ctx);
}

static void
sha256_fetch(void)
{
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    pthread_key_create(&sha256_key, sha256_ctx_free) != 0)
		crypto_fatal("EVP_MD_fetch");
}

void
crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256LEN])
{
	static const unsigned char	 empty[1];
	EVP_MD_CTX			*ctx;
	unsigned int			 n;

	/* Hashing runs on every request (tokens): the algorithm is fetched
	 * once and each thread keeps one context, not a fetch per call. */
	pthread_once(&sha256_once, sha256_fetch);
	if ((ctx = pthread_getspecific(sha256_key)) == NULL) {
		if ((ctx = EVP_MD_CTX_new()) == NULL)
			crypto_fatal("EVP_MD_CTX_new");
		pthread_setspecific(sha256_key, ctx);
	}
	if (data == NULL)
		data = empty;
	if (EVP_DigestInit_ex(ctx, sha256_md, NULL) != 1 ||
	    EVP_DigestUpdate(ctx, data, len) != 1 ||
	    EVP_DigestFinal_ex(ctx, out, &n) != 1)
		crypto_fatal("EVP_Digest");
}

int
crypto_hmac(enum crypto_hash hash, const void *key, size_t keylen,
    const void *data, size_t len, unsigned char out[64])
{
	static const unsigned char	 empty[1];
	const EVP_MD			*md;
	unsigned int			 outlen = 0;

	switch (hash) {
	case CRYPTO_SHA1:
		md = EVP_sha1();
		break;
	case CRYPTO_SHA256:
		md = EVP_sha256();
		break;
	case CRYPTO_SHA384:
		md = EVP_sha384();
		break;
	case CRYPTO_SHA512:
		md = EVP_sha512();
		break;
	default:
		return -1;
	}
	if (keylen > CRYPTO_INT_MAX)
		return -1;
	if (key == NULL)
		key = empty;
	if (data == NULL)
		data = empty;
	if (HMAC(md, key, (int)keylen, data, len, out, &outlen) == NULL)
		return -1;
	return (int)outlen;
}

bool
crypto_equal(const void *a, size_t alen, const void *b, size_t blen)
{
	if (alen != blen)
		return false;
	if (alen == 0)
		return true;
	return CRYPTO_memcmp(a, b, alen) == 0;
}

void
crypto_wipe(void *p, size_t len)
{
	if (p != NULL && len != 0)
		OPENSSL_cleanse(p, len);
}

unsigned char *
crypto_seal(const unsigned char key[CRYPTO_KEYLEN], const void *aad,
    size_t aadlen, const void *plain, size_t len, size_t *outlen)
{
	EVP_CIPHER_CTX		*ctx = NULL;
	unsigned char		*env = NULL, *nonce, *ct, *tag;
	const unsigned char	*in = plain, *a = aad;
	size_t			 n, off;
	int			 outl;

	if (len > SIZE_MAX - CRYPTO_SEAL_OVERHEAD)
		return NULL;
	env = xmalloc(len + CRYPTO_SEAL_OVERHEAD);
	env[0] = CRYPTO_SEAL_VERSION;
	nonce = env + 1;
	ct = nonce + CRYPTO_NONCELEN;
	tag = ct + len;
	crypto_random(nonce, CRYPTO_NONCELEN);

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1)
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_NONCELEN,
	    NULL) != 1)
		goto fail;
	if (EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto fail;
	for (off = 0; off < aadlen; off += n) {
		n = aadlen - off > CRYPTO_CHUNK ? CRYPTO_CHUNK : aadlen - off;
		if (EVP_EncryptUpdate(ctx, NULL, &outl, a + off, (int)n) != 1)
			goto fail;
	}
	for (off = 0; off < len; off += n) {
		n = len - off > CRYPTO_CHUNK ? CRYPTO_CHUNK : len - off;
		if (EVP_EncryptUpdate(ctx, ct + off, &outl, in + off,
		    (int)n) != 1 || (size_t)outl != n)
			goto fail;
	}
	if (EVP_EncryptFinal_ex(ctx, ct + len, &outl) != 1 || outl != 0)
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, CRYPTO_TAGLEN,
	    tag) != 1)
		goto fail;
	*outlen = len + CRYPTO_SEAL_OVERHEAD;
	goto out;

fail:
	crypto_wipe(env, len + CRYPTO_SEAL_OVERHEAD);
	free(env);
	env = NULL;
out:
	EVP_CIPHER_CTX_free(ctx);
	return env;
}

unsigned char *
crypto_open(const unsigned char key[CRYPTO_KEYLEN], const void *aad,
    size_t aadlen, const void *env, size_t envlen, size_t *outlen)
{
	EVP_CIPHER_CTX		*ctx = NULL;
	unsigned char		*plain = NULL, tag[CRYPTO_TAGLEN];
	const unsigned char	*e = env, *a = aad, *nonce, *ct;
	size_t			 len = 0, n, off;
	int			 outl;

	if (env == NULL || envlen < CRYPTO_SEAL_OVERHEAD ||
	    e[0] != CRYPTO_SEAL_VERSION)
		return NULL;
	len = envlen - CRYPTO_SEAL_OVERHEAD;
	nonce = e + 1;
	ct = nonce + CRYPTO_NONCELEN;
	memcpy(tag, ct + len, CRYPTO_TAGLEN);
	plain = xmalloc(len + 1);

	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		goto fail;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1)
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, CRYPTO_NONCELEN,
	    NULL) != 1)
		goto fail;
	if (EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto fail;
	for (off = 0; off < aadlen; off += n) {
		n = aadlen - off > CRYPTO_CHUNK ? CRYPTO_CHUNK : aadlen - off;
		if (EVP_DecryptUpdate(ctx, NULL, &outl, a + off, (int)n) != 1)
			goto fail;
	}
	for (off = 0; off < len; off += n) {
		n = len - off > CRYPTO_CHUNK ? CRYPTO_CHUNK : len - off;
		if (EVP_DecryptUpdate(ctx, plain + off, &outl, ct + off,
		    (int)n) != 1 || (size_t)outl != n)
			goto fail;
	}
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, CRYPTO_TAGLEN,
	    tag) != 1)
		goto fail;
	if (EVP_DecryptFinal_ex(ctx, plain + len, &outl) != 1 || outl != 0)
		goto fail;
	plain[len] = '\0';
	*outlen = len;
	goto out;

fail:
	crypto_wipe(plain, len + 1);
	free(plain);
	plain = NULL;
out:
	EVP_CIPHER_CTX_free(ctx);
	return plain;
}

char *
crypto_hex(const void *data, size_t len)
{
	const unsigned char	*p = data;
	char			*s;
	size_t			 i;

	if (len > (SIZE_MAX - 1) / 2)
		crypto_fatal("crypto_hex size");
	s = xmalloc(2 * len + 1);
	for (i = 0; i < len; i++) {
		s[2 * i] = crypto_hexdigits[p[i] >> 4];
		s[2 * i + 1] = crypto_hexdigits[p[i] & 0xf];
	}
	s[2 * len] = '\0';
	return s;
}

char *
crypto_base64(const void *data, size_t len)
{
	const unsigned char	*p = data;
	char			*s, *o;
	size_t			 i;
	uint32_t		 v;

	if (len / 3 > (SIZE_MAX - 5) / 4)
		crypto_fatal("crypto_base64 size");
	o = s = xmalloc((len + 2) / 3 * 4 + 1);
	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
		*o++ = crypto_b64chars[v >> 18 & 0x3f];
		*o++ = crypto_b64chars[v >> 12 & 0x3f];
		*o++ = crypto_b64chars[v >> 6 & 0x3f];
		*o++ = crypto_b64chars[v & 0x3f];
	}
	if (len - i == 1) {
		v = (uint32_t)p[i] << 16;
		*o++ = crypto_b64chars[v >> 18 & 0x3f];
		*o++ = crypto_b64chars[v >> 12 & 0x3f];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8;
		*o++ = crypto_b64chars[v >> 18 & 0x3f];
		*o++ = crypto_b64chars[v >> 12 & 0x3f];
		*o++ = crypto_b64chars[v >> 6 & 0x3f];
		*o++ = '=';
	}
	*o = '\0';
	return s;
}

/* Value of a hex digit (either case), or -1. */
static int
crypto_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int
crypto_unhex(const char *s, size_t len, unsigned char *out, size_t outsz)
{
	size_t	i;
	int	hi, lo;

	if (len % 2 != 0 || len / 2 > outsz || len / 2 > CRYPTO_INT_MAX)
		return -1;
	for (i = 0; i < len; i += 2) {
		if ((hi = crypto_hexval((unsigned char)s[i])) == -1 ||
		    (lo = crypto_hexval((unsigned char)s[i + 1])) == -1)
			return -1;
		out[i / 2] = (unsigned char)(hi << 4 | lo);
	}
	return (int)(len / 2);
}

/* Value of a base64 character of the standard alphabet, or -1. */
static int
crypto_b64val(int c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Strict decoder: length a multiple of 4, padding only at the very end, no
 * whitespace, and unused bits before the padding must be zero so that every
 * byte string has exactly one accepted encoding.
 */
int
crypto_unbase64(const char *s, size_t len, unsigned char *out, size_t outsz)
{
	size_t		i, j, n, pad = 0;
	uint32_t	v;
	int		c, k;

	if (len % 4 != 0)
		return -1;
	if (len > 0 && s[len - 1] == '=')
		pad++;
	if (len > 1 && s[len - 2] == '=')
		pad++;
	n = len / 4 * 3 - pad;
	if (n > outsz || n > CRYPTO_INT_MAX)
		return -1;

	for (i = 0, j = 0; i < len; i += 4) {
		v = 0;
		for (k = 0; k < 4; k++) {
			if (i + k >= len - pad) {
				c = 0;
				/* Padding may only appear in the last group. */
				if (s[i + k] != '=')
					return -1;
			} else if ((c = crypto_b64val((unsigned char)s[i + k])) == -1)
				return -1;
			v = v << 6 | (uint32_t)c;
		}
		if (i + 4 < len || pad == 0) {
			out[j++] = (unsigned char)(v >> 16);
			out[j++] = (unsigned char)(v >> 8);
			out[j++] = (unsigned char)v;
		} else if (pad == 1) {
			if ((v & 0xff) != 0)
				return -1;
			out[j++] = (unsigned char)(v >> 16);
			out[j++] = (unsigned char)(v >> 8);
		} else {
			if ((v & 0xffff) != 0)
				return -1;
			out[j++] = (unsigned char)(v >> 16);
		}
	}
	return (int)j;
}
