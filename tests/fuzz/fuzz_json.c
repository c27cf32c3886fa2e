/*
 * json_parse with the request depth cap, then the round trip the server
 * relies on: what json_render prints must parse again (same cap), be
 * equal to the original, and render to the same bytes.
 * Input: a JSON document as received.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "util/json.h"
#include "util/limits.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Nesting of arrays and objects; a scalar is depth 0. */
static size_t
depth_of(const json_t *v)
{
	const char	*k;
	json_t		*e;
	size_t		 i, d, max = 0;

	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
			if ((d = depth_of(e)) > max)
				max = d;
		return max + 1;
	}
	if (json_is_array(v)) {
		json_array_foreach(v, i, e)
			if ((d = depth_of(e)) > max)
				max = d;
		return max + 1;
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct json_parse_error	 err;
	json_t			*v, *v2;
	char			*s1, *s2;
	size_t			 n1, n2;

	v = json_parse((const char *)data, size, LIMIT_JSON_DEPTH, &err);
	if (v == NULL) {
		FUZZ_ASSERT(memchr(err.text, '\0', sizeof err.text) != NULL);
		return 0;
	}
	FUZZ_ASSERT(depth_of(v) <= LIMIT_JSON_DEPTH);

	s1 = json_render_new(v, &n1);
	FUZZ_ASSERT(s1 != NULL);
	FUZZ_ASSERT(strlen(s1) == n1);	/* NUL is always escaped */

	v2 = json_parse(s1, n1, LIMIT_JSON_DEPTH, &err);
	if (v2 == NULL)
		fprintf(stderr, "re-parse failed: %s (line %d column %d)\n"
		    "rendering: %s\n", err.text, err.line, err.column, s1);
	FUZZ_ASSERT(v2 != NULL);
	FUZZ_ASSERT(json_equal(v, v2));

	s2 = json_render_new(v2, &n2);
	FUZZ_ASSERT(s2 != NULL);
	if (n1 != n2 || memcmp(s1, s2, n1) != 0)
		fprintf(stderr, "first:  %s\nsecond: %s\n", s1, s2);
	FUZZ_ASSERT(n1 == n2 && memcmp(s1, s2, n1) == 0);

	free(s1);
	free(s2);
	json_decref(v2);
	json_decref(v);
	return 0;
}
