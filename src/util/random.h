/* Random bytes from the kernel, for util/ (object ids). util/ sits below
 * crypto/, so it cannot use crypto_random; keys, tokens and nonces still
 * come from crypto_random (OpenSSL's generator). */
#ifndef EXPORTD_RANDOM_H
#define EXPORTD_RANDOM_H

#include <stddef.h>

/* Fill buf with len bytes from getrandom(2); aborts if the kernel cannot
 * give them (there is no safe way to go on). */
void	random_bytes(void *buf, size_t len);

#endif
