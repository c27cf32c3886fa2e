/* Cryptographic primitives, all on OpenSSL libcrypto. */
#ifndef EXPORTD_CRYPTO_H
#define EXPORTD_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_KEYLEN	32	/* AES-256 */
#define CRYPTO_NONCELEN	12
#define CRYPTO_TAGLEN	16
#define CRYPTO_SEAL_OVERHEAD (1 + CRYPTO_NONCELEN + CRYPTO_TAGLEN)
#define CRYPTO_SHA256LEN 32

/* Fill buf from the CSPRNG; aborts if the CSPRNG fails. */
void	crypto_random(void *buf, size_t len);
/* n random bytes as 2n lowercase hex characters plus NUL into out. */
void	crypto_random_hex(char *out, size_t n);

void	crypto_sha256(const void *data, size_t len, unsigned char out[CRYPTO_SHA256LEN]);

enum crypto_hash { CRYPTO_SHA1, CRYPTO_SHA256, CRYPTO_SHA384, CRYPTO_SHA512 };
/* HMAC; writes up to 64 bytes to out and returns the length, or -1. */
int	crypto_hmac(enum crypto_hash, const void *key, size_t keylen,
	    const void *data, size_t len, unsigned char out[64]);

/* Constant-time equality of two byte strings; lengths may differ (then false,
 * in time that depends only on the lengths). */
bool	crypto_equal(const void *a, size_t alen, const void *b, size_t blen);
/* Wipe memory so the compiler cannot elide it. */
void	crypto_wipe(void *, size_t);

/* AES-256-GCM envelope: 0x01 | nonce(12) | ciphertext | tag(16).
 * aad binds the envelope to its context (e.g. account and export id).
 * seal returns a new buffer (caller frees) of len + CRYPTO_SEAL_OVERHEAD. */
unsigned char *crypto_seal(const unsigned char key[CRYPTO_KEYLEN],
	    const void *aad, size_t aadlen, const void *plain, size_t len,
	    size_t *outlen);
/* Open an envelope; returns a new NUL-terminated buffer (caller wipes and
 * frees) and its length in *outlen, or NULL if it is not authentic. */
unsigned char *crypto_open(const unsigned char key[CRYPTO_KEYLEN],
	    const void *aad, size_t aadlen, const void *env, size_t envlen,
	    size_t *outlen);

/* Hex and base64 (standard alphabet, padded) encoders into new strings. */
char	*crypto_hex(const void *, size_t);
char	*crypto_base64(const void *, size_t);
/* Decoders: return bytes written to out (size outsz), or -1 if malformed. */
int	 crypto_unhex(const char *, size_t, unsigned char *out, size_t outsz);
int	 crypto_unbase64(const char *, size_t, unsigned char *out, size_t outsz);

#endif
