/*
 * router_match over the real route table (src/api/routes.c, handlers
 * stubbed) with any path, normalised the way server.c does it (one
 * trailing '/' dropped), and router_method / router_allow.
 *
 * Input: byte 0 picks the method (or, past the known ones, the method
 * string is the first line); the rest is the path as a C string.
 *
 * Checked: ROUTER_OK gives a route that accepts the method, the route's
 * number of ':' segments as parameters, each a non-empty segment without
 * '/'; ROUTER_BAD_METHOD gives a non-empty Allow set that lacks the
 * method; every parameter is freed (leaks are caught by LeakSanitizer).
 */
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "fuzz_common.h"
#include "http/router.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* The handlers the table points at; never called here. */
#define STUB(name) void name(struct request *r) { (void)r; abort(); }
/* one STUB line per handler of the route table, made by build.sh */
#include "router_stubs.h"

static const char *const methods[] = {
	"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE",
};
#define NMETHODS (sizeof methods / sizeof methods[0])

/* server.c's path_normalize */
static char *
normalize(const char *url)
{
	size_t	len = strlen(url);

	if (len > 1 && url[len - 1] == '/')
		len--;
	return fuzz_cstr(url, len);
}

static int
nparams_of(const char *pattern)
{
	int	n = 0;

	for (; *pattern != '\0'; pattern++)
		if (pattern[0] == '/' && pattern[1] == ':')
			n++;
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct route	*match = NULL;
	struct fuzz_field	 f;
	char			*params[ROUTE_MAX_PARAMS];
	char			*mstr, *raw, *path, allow[128];
	unsigned		 method, allowed, want;
	int			 np, i;
	enum router_result	 rr;

	if (size < 1)
		return 0;
	if (data[0] < 0x80) {
		mstr = fuzz_cstr(methods[data[0] % NMETHODS],
		    strlen(methods[data[0] % NMETHODS]));
		data++;
		size--;
	} else {
		data++;
		size--;
		f = fuzz_take(&data, &size, '\n');
		mstr = fuzz_cstr(f.p, f.len);
	}
	method = router_method(mstr);
	FUZZ_ASSERT(method != 0 && (method & (method - 1)) == 0);
	raw = fuzz_cstr(data, size);
	path = normalize(raw);

	memset(params, 0, sizeof params);
	rr = router_match(api_routes, api_nroutes, path, method, &match,
	    params, &np, &allowed);
	want = method == M_HEAD ? M_GET : method;
	switch (rr) {
	case ROUTER_OK:
		FUZZ_ASSERT(match != NULL && (match->methods & want) != 0);
		FUZZ_ASSERT(np == nparams_of(match->pattern));
		for (i = 0; i < np; i++) {
			FUZZ_ASSERT(params[i] != NULL && params[i][0] != '\0');
			FUZZ_ASSERT(strchr(params[i], '/') == NULL);
			FUZZ_ASSERT(strstr(path, params[i]) != NULL);
		}
		router_params_free(params, np);
		for (i = 0; i < np; i++)
			FUZZ_ASSERT(params[i] == NULL);
		break;
	case ROUTER_BAD_METHOD:
		FUZZ_ASSERT(np == 0);
		FUZZ_ASSERT(allowed != 0 && (allowed & want) == 0);
		router_allow(allowed, allow, sizeof allow);
		FUZZ_ASSERT(allow[0] != '\0');
		router_allow(allowed, allow, 8);
		FUZZ_ASSERT(strlen(allow) < 8);
		break;
	case ROUTER_NOT_FOUND:
		FUZZ_ASSERT(np == 0 && allowed == 0);
		break;
	default:
		FUZZ_ASSERT(!"unknown router result");
	}
	free(path);
	free(raw);
	free(mstr);
	return 0;
}
