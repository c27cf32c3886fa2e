/* Route matching: 404 when no pattern fits the path, 405 when one does
 * but not for this method. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/router.h"
#include "util/xmalloc.h"

unsigned
router_method(const char *m)
{
	static const struct { const char *name; unsigned bit; } t[] = {
		{ "GET", M_GET }, { "HEAD", M_HEAD }, { "POST", M_POST },
		{ "PUT", M_PUT }, { "DELETE", M_DELETE }, { "PATCH", M_PATCH },
		{ "OPTIONS", M_OPTIONS },
	};
	size_t	i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (strcmp(m, t[i].name) == 0)
			return t[i].bit;
	return M_OTHER;
}

void
router_allow(unsigned methods, char *out, size_t outsz)
{
	static const char *const names[] = {
		"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS",
	};
	size_t	i, len = 0;

	out[0] = '\0';
	if (methods & M_GET)
		methods |= M_HEAD;
	for (i = 0; i < sizeof(names) / sizeof(names[0]) && len < outsz; i++) {
		if ((methods & (1u << i)) == 0)
			continue;
		len += (size_t)snprintf(out + len, outsz - len, "%s%s",
		    len > 0 ? ", " : "", names[i]);
	}
}

/* Match one pattern against a path; on success fill params. */
static int
pattern_match(const char *pat, const char *path, char *params[], int *np)
{
	const char	*pe, *se;
	int		 n = 0;

	while (*pat == '/' && *path == '/') {
		pat++;
		path++;
		pe = strchrnul(pat, '/');
		se = strchrnul(path, '/');
		if (*pat == ':') {
			if (se == path || n == ROUTE_MAX_PARAMS)
				goto fail;
			params[n++] = xstrndup(path, (size_t)(se - path));
		} else if (pe - pat != se - path ||
		    memcmp(pat, path, (size_t)(pe - pat)) != 0)
			goto fail;
		pat = pe;
		path = se;
	}
	if (*pat != '\0' || *path != '\0')
		goto fail;
	*np = n;
	return 1;
fail:
	router_params_free(params, n);
	return 0;
}

/* The routes whose pattern takes the path with the fewest parameters are
 * the path's routes (a literal segment beats a parameter: POST
 * /v1/connections/ping is not a GET of /v1/connections/:id); among them
 * the first that accepts the method wins. */
enum router_result
router_match(const struct route *routes, size_t n, const char *path,
    unsigned method, const struct route **match,
    char *params[ROUTE_MAX_PARAMS], int *nparams, unsigned *allowed)
{
	char	*tmp[ROUTE_MAX_PARAMS];
	size_t	 i;
	int	 np, best = ROUTE_MAX_PARAMS + 1;
	unsigned want = method == M_HEAD ? M_GET : method;

	*allowed = 0;
	*nparams = 0;
	*match = NULL;
	for (i = 0; i < n; i++) {
		if (!pattern_match(routes[i].pattern, path, tmp, &np))
			continue;
		if (np > best || (np == best && *match != NULL)) {
			if (np == best)
				*allowed |= routes[i].methods;
			router_params_free(tmp, np);
			continue;
		}
		if (np < best) {	/* fewer parameters: forget the others */
			if (*match != NULL)
				router_params_free(params, *nparams);
			*match = NULL;
			*nparams = 0;
			*allowed = 0;
			best = np;
		}
		*allowed |= routes[i].methods;
		if (routes[i].methods & want) {
			*match = &routes[i];
			memcpy(params, tmp, sizeof(tmp));
			*nparams = np;
			if (np == 0)
				return ROUTER_OK;
		} else
			router_params_free(tmp, np);
	}
	if (*match != NULL)
		return ROUTER_OK;
	return *allowed != 0 ? ROUTER_BAD_METHOD : ROUTER_NOT_FOUND;
}

void
router_params_free(char *params[ROUTE_MAX_PARAMS], int nparams)
{
	int	i;

	for (i = 0; i < nparams; i++) {
		free(params[i]);
		params[i] = NULL;
	}
}
