/*
 * link_next and link_resolve (src/run/link.c) on what a source API sends:
 * a Link header value and a next-page URL.
 *
 * Input: a relation name, NUL, then the rest used twice: as a Link
 * header value, and as a reference resolved against a fixed base and
 * against the header's first target.
 *
 * Checked: a target found is a substring of the header that holds no
 * '<' and no '>'; a resolved reference ends with the reference, and
 * starts with the base's scheme unless it is an absolute http(s) URL.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "run/link.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check_resolve(const char *base, const char *ref)
{
	char	*r = link_resolve(base, ref);
	size_t	 rl = strlen(r), fl = strlen(ref);

	FUZZ_ASSERT(rl >= fl && strcmp(r + rl - fl, ref) == 0);
	if (strncasecmp(ref, "http://", 7) != 0 &&
	    strncasecmp(ref, "https://", 8) != 0)
		FUZZ_ASSERT(strncmp(r, "https:", 6) == 0 ||
		    strncmp(r, base, strcspn(base, ":")) == 0);
	free(r);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t	*nul = memchr(data, 0, size);
	char		*rel, *rest, *t;

	if (nul == NULL)
		return 0;
	rel = strndup((const char *)data, (size_t)(nul - data));
	rest = strndup((const char *)nul + 1, size - (size_t)(nul - data) - 1);
	if (rel == NULL || rest == NULL)
		abort();
	if ((t = link_next(rest, rel)) != NULL) {
		FUZZ_ASSERT(strstr(rest, t) != NULL);
		FUZZ_ASSERT(strchr(t, '<') == NULL && strchr(t, '>') == NULL);
		check_resolve("https://api.example.com/v1/items?page=1", t);
		free(t);
	}
	check_resolve("https://api.example.com/v1/items?page=1", rest);
	check_resolve("https://api.example.com", rest);
	free(rel);
	free(rest);
	return 0;
}
