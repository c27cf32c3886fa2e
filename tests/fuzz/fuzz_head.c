/*
 * head_start_ok, head_end and head_check (src/http/head.c) on any bytes, as the gate
 * peeks them from a new connection's socket.
 *
 * Checked against head.h: the end lies inside the input and just past an
 * empty line (LF LF or LF CR LF), with no earlier one; a complete head is
 * answered 0, 400 or 413, and a refusal comes with a message; a start
 * refused by head_start_ok stays refused as more bytes arrive; a target
 * read as absolute has its path start inside it, after its authority.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http/head.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*p = (const char *)data;
	char		 msg[256];
	size_t		 end, i;
	int		 status;
	char		*t;
	size_t		 prefix, auth;
	bool		 https;

	t = strndup(p, size);
	if (t != NULL) {
		if (head_target(t, &prefix, &auth, &https, msg, sizeof(msg)) ==
		    TARGET_ABSOLUTE)
			FUZZ_ASSERT(auth > 0 && auth < prefix &&
			    prefix <= strlen(t));
		free(t);
	}
	if (!head_start_ok(p, size / 2))
		FUZZ_ASSERT(!head_start_ok(p, size));
	end = head_end(p, size);
	if (end == 0) {
		for (i = 0; i + 1 < size; i++)
			FUZZ_ASSERT(!(p[i] == '\n' && p[i + 1] == '\n'));
		return 0;
	}
	FUZZ_ASSERT(end >= 2 && end <= size && p[end - 1] == '\n');
	FUZZ_ASSERT(p[end - 2] == '\n' ||
	    (end >= 3 && p[end - 2] == '\r' && p[end - 3] == '\n'));
	msg[0] = '\0';
	status = head_check(p, end, size, msg, sizeof(msg));
	FUZZ_ASSERT(status == 0 || status == 400 || status == 413);
	FUZZ_ASSERT(status == 0 || msg[0] != '\0');
	return 0;
}
