/* Next-page links (link.h). */
#include <string.h>
#include <strings.h>

#include "run/link.h"
#include "util/buf.h"
#include "util/xmalloc.h"

/* Whether the rel list starting at q (up to end) names rel. */
static int
link_rel_has(const char *q, const char *end, const char *rel)
{
	size_t	 rl = strlen(rel);

	if (*q == '"')
		q++;
	while (q < end && *q != '"' && *q != ';' && *q != ',') {
		if ((size_t)(end - q) >= rl && strncmp(q, rel, rl) == 0 &&
		    (q + rl == end || q[rl] == '"' || q[rl] == ' ' ||
		    q[rl] == ';' || q[rl] == ','))
			return 1;
		while (q < end && *q != ' ' && *q != '"' && *q != ';' &&
		    *q != ',')
			q++;
		while (q < end && *q == ' ')
			q++;
	}
	return 0;
}

char *
link_next(const char *value, const char *rel)
{
	const char	*p, *lt, *gt, *end, *q;

	if (*rel == '\0')
		return NULL;
	for (p = value; (lt = strchr(p, '<')) != NULL; p = end) {
		if ((gt = strchr(lt, '>')) == NULL)
			break;
		/* a target holds no '<' ("<<a>" is the target "a") */
		for (q = gt; q > lt; q--)
			if (q[-1] == '<') {
				lt = q - 1;
				break;
			}
		if ((end = strchr(gt, '<')) == NULL)
			end = gt + strlen(gt);
		for (q = gt + 1; q + 4 <= end; q++)
			if (strncasecmp(q, "rel=", 4) == 0 &&
			    link_rel_has(q + 4, end, rel))
				return xstrndup(lt + 1, (size_t)(gt - lt - 1));
	}
	return NULL;
}

char *
link_resolve(const char *base, const char *ref)
{
	const char	*p, *q, *dd;
	size_t		 n;
	struct buf	 b;

	if (strncasecmp(ref, "http://", 7) == 0 ||
	    strncasecmp(ref, "https://", 8) == 0 || base == NULL)
		return xstrdup(ref);
	buf_init(&b, 0);
	p = strstr(base, "://");
	p = p != NULL ? p + 3 : base;
	if (ref[0] == '/' && ref[1] == '/')
		/* the scheme and its colon */
		n = (dd = strstr(base, "//")) != NULL ? (size_t)(dd - base) : 0;
	else if (ref[0] == '/')
		n = (size_t)(p - base) + strcspn(p, "/?#");
	else if (ref[0] == '?')
		n = strcspn(base, "?#");
	else {
		/* the directory of base's path, or its origin and a '/' */
		n = strcspn(base, "?#");
		for (q = base + n; q > p && q[-1] != '/'; q--)
			;
		if (q > p)
			n = (size_t)(q - base);
		else {
			buf_add(&b, base, n);
			buf_addc(&b, '/');
			n = 0;
		}
	}
	buf_add(&b, base, n);
	buf_adds(&b, ref);
	buf_addc(&b, '\0');
	return buf_steal(&b, NULL);
}
