/* Unit tests for the pure helpers of api/common.c. */

#include <criterion/criterion.h>

#include "api/api.h"

#define ID	"6b0b09b53d1dfa71bb8650c4"

static int
matches(const char *list, int64_t rev, bool weak)
{
	return api_etag_matches(list, ID, rev, weak);
}

Test(api_etag, strong_comparison_for_if_match)
{
	cr_expect(matches("\"" ID "-3\"", 3, false));
	cr_expect(!matches("\"" ID "-3\"", 4, false));
	cr_expect(!matches("\"" ID "-33\"", 3, false));
	cr_expect(!matches("\"" ID "-3", 3, false));
	/* a weak tag never matches strongly */
	cr_expect(!matches("W/\"" ID "-3\"", 3, false));
	cr_expect(matches("*", 3, false));
}

Test(api_etag, weak_comparison_for_if_none_match)
{
	cr_expect(matches("W/\"" ID "-3\"", 3, true));
	cr_expect(matches("\"" ID "-3\"", 3, true));
	cr_expect(!matches("W/\"" ID "-2\"", 3, true));
}

Test(api_etag, lists)
{
	cr_expect(matches("\"a\", \"" ID "-3\"", 3, false));
	cr_expect(matches(" \t\"a\",,\"" ID "-3\" ", 3, false));
	cr_expect(matches("W/\"x\", \"" ID "-3\"", 3, false));
	cr_expect(matches("\"a\", *", 3, false));
	cr_expect(!matches("\"a\", \"b\"", 3, false));
	cr_expect(!matches("", 3, false));
}

Test(api_etag, malformed_lists_match_nothing)
{
	cr_expect(!matches(ID "-3", 3, false));
	cr_expect(!matches("W/" ID "-3", 3, true));
	cr_expect(!matches("\"a\", " ID "-3", 3, false));
	cr_expect(!matches("W/\"unterminated", 3, true));
}
