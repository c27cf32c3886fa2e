/* Random bytes from the kernel's generator. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/random.h>
#include <sys/types.h>

#include "util/random.h"

void
random_bytes(void *buf, size_t len)
{
	unsigned char	*p = buf;
	ssize_t		 n;

	/* Reads over 256 bytes may come back short when a signal arrives. */
	while (len > 0) {
		n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "exportd: fatal: getrandom failed\n");
			abort();
		}
		p += n;
		len -= (size_t)n;
	}
}
