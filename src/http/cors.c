/* CORS: the allowed origins and the grant (see cors.h). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/cors.h"
#include "http/head.h"
#include "util/xmalloc.h"

bool
cors_origin_valid(const char *s)
{
	size_t	prefix, auth;
	bool	https;

	if (strcmp(s, "*") == 0)
		return true;
	return head_target(s, &prefix, &auth, &https, NULL, 0) ==
	    TARGET_ABSOLUTE && s[prefix] == '\0';
}

void
cors_init(struct cors *c, const char *const *origins)
{
	size_t	i, n = 0;
	char	*p;

	memset(c, 0, sizeof(*c));
	while (origins != NULL && origins[n] != NULL)
		n++;
	if (n == 0)
		return;
	c->origins = xcalloc(n, sizeof(*c->origins));
	for (i = 0; i < n; i++) {
		if (strcmp(origins[i], "*") == 0)
			c->any = true;
		/* browsers send scheme and host in lowercase */
		c->origins[c->n++] = p = xstrdup(origins[i]);
		for (; *p != '\0'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
}

void
cors_free(struct cors *c)
{
	size_t	i;

	for (i = 0; i < c->n; i++)
		free(c->origins[i]);
	free(c->origins);
	memset(c, 0, sizeof(*c));
}

const char *
cors_allow(const struct cors *c, const char *origin)
{
	size_t	i;

	if (c->n == 0 || origin == NULL)
		return NULL;
	if (c->any)
		return "*";
	for (i = 0; i < c->n; i++)
		if (strcasecmp(c->origins[i], origin) == 0)
			return origin;
	return NULL;
}
