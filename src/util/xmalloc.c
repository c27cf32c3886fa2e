/* Allocation wrappers that abort on failure. */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xmalloc.h"

static void	xmalloc_fail(const char *, size_t) __attribute__((noreturn));

/* Report an allocation failure and abort; never returns. */
static void
xmalloc_fail(const char *what, size_t size)
{
	fprintf(stderr, "exportd: fatal: %s: out of memory allocating %zu bytes\n",
	    what, size);
	abort();
}

void *
xmalloc(size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = malloc(size)) == NULL)
		xmalloc_fail("xmalloc", size);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void	*p;

	if (nmemb == 0 || size == 0)
		nmemb = size = 1;
	if (SIZE_MAX / nmemb < size)
		xmalloc_fail("xcalloc", SIZE_MAX);
	if ((p = calloc(nmemb, size)) == NULL)
		xmalloc_fail("xcalloc", nmemb * size);
	return p;
}

void *
xrealloc(void *ptr, size_t size)
{
	void	*p;

	if (size == 0)
		size = 1;
	if ((p = realloc(ptr, size)) == NULL)
		xmalloc_fail("xrealloc", size);
	return p;
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

/* Copy at most n bytes of s (stopping at a NUL) into a new string. */
char *
xstrndup(const char *s, size_t n)
{
	char	*p;
	size_t	 len;

	len = strnlen(s, n);
	if (len == SIZE_MAX)
		xmalloc_fail("xstrndup", len);
	p = xmalloc(len + 1);
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list	 ap;
	char	*s;
	int	 n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0)
		xmalloc_fail("xasprintf", 0);
	return s;
}
