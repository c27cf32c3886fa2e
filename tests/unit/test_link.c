/* run/link.c: Link header entries and relative next-page URLs. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "run/link.h"

static void
next_is(const char *value, const char *rel, const char *want)
{
	char	*got = link_next(value, rel);

	if (want == NULL)
		cr_expect_null(got, "%s [%s]: %s", value, rel, got);
	else
		cr_expect(got != NULL && strcmp(got, want) == 0, "%s [%s]: %s",
		    value, rel, got != NULL ? got : "(null)");
	free(got);
}

Test(link, next)
{
	const char	*gh = "<https://api.example.com/r?page=2>; rel=\"next\", "
			    "<https://api.example.com/r?page=9>; rel=\"last\"";

	next_is(gh, "next", "https://api.example.com/r?page=2");
	next_is(gh, "last", "https://api.example.com/r?page=9");
	next_is(gh, "prev", NULL);
	next_is(gh, "nex", NULL);
	next_is("<a>; rel=next", "next", "a");
	next_is("<a>; rel=\"prev next\"", "next", "a");
	next_is("<a>; title=\"x\"; rel=\"next\"", "next", "a");
	next_is("<a>; rel=\"nextpage\", <b>; rel=next", "next", "b");
	next_is("<a>; REL=\"next\"", "next", "a");
	next_is("<a>; rel=\"Next\"", "next", NULL);	/* exact, as the spec says */
	next_is("<a; rel=next", "next", NULL);
	next_is("<<a>; rel=next", "next", "a");
	next_is("", "next", NULL);
	next_is("<a>; rel=next", "", NULL);
	next_is("<a>; rel=", "next", NULL);
}

static void
resolve_is(const char *base, const char *ref, const char *want)
{
	char	*got = link_resolve(base, ref);

	cr_expect_str_eq(got, want, "%s + %s", base, ref);
	free(got);
}

Test(link, resolve)
{
	resolve_is("http://h:8/a/b?x=1", "https://o/p", "https://o/p");
	resolve_is("http://h:8/a/b?x=1", "//o/p", "http://o/p");
	resolve_is("http://h:8/a/b?x=1", "/p?y", "http://h:8/p?y");
	resolve_is("http://h:8/a/b?x=1", "?y=2", "http://h:8/a/b?y=2");
	resolve_is("http://h:8/a/b?x=1", "c?y", "http://h:8/a/c?y");
	resolve_is("http://h:8", "c", "http://h:8/c");
	resolve_is("http://h:8", "/c", "http://h:8/c");
	resolve_is("http://h:8/a/", "c", "http://h:8/a/c");
}
