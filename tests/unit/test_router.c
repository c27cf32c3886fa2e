/* Unit tests for http/router. */

#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "http/router.h"

static void h_health(struct request *r) { (void)r; }
static void h_list(struct request *r) { (void)r; }
static void h_create(struct request *r) { (void)r; }
static void h_get(struct request *r) { (void)r; }
static void h_put(struct request *r) { (void)r; }
static void h_delete(struct request *r) { (void)r; }
static void h_dist(struct request *r) { (void)r; }
static void h_clone(struct request *r) { (void)r; }
static void h_data(struct request *r) { (void)r; }
static void h_tokdata(struct request *r) { (void)r; }
static void h_four(struct request *r) { (void)r; }
static void h_five(struct request *r) { (void)r; }

static const struct route routes[] = {
	{ M_GET, "/v1/health", h_health, ROUTE_PUBLIC },		/* 0 */
	{ M_GET, "/v1/exports", h_list, 0 },				/* 1 */
	{ M_POST, "/v1/exports", h_create, 0 },				/* 2 */
	{ M_GET, "/v1/exports/:id", h_get, 0 },				/* 3 */
	{ M_PUT, "/v1/exports/:id", h_put, 0 },				/* 4 */
	{ M_DELETE, "/v1/exports/:id", h_delete, 0 },			/* 5 */
	{ M_GET | M_PUT, "/v1/exports/:id/distributed", h_dist, 0 },	/* 6 */
	{ M_POST, "/v1/exports/:id/clone", h_clone, 0 },		/* 7 */
	{ M_POST | M_PUT, "/v1/exports/:id/data", h_data, ROUTE_PUBLIC }, /* 8 */
	{ M_POST | M_PUT, "/v1/exports/:id/:token/data", h_tokdata,
	  ROUTE_PUBLIC },						/* 9 */
	{ M_GET, "/p/:a/:b/:c/:d", h_four, 0 },				/* 10 */
	{ M_GET, "/q/:a/:b/:c/:d/:e", h_five, 0 },			/* 11 */
	{ M_POST, "/v1/exports/ping", h_create, 0 },			/* 12 */
};
#define NROUTES (sizeof(routes) / sizeof(routes[0]))

struct result {
	enum router_result	 rc;
	const struct route	*match;
	char			*params[ROUTE_MAX_PARAMS];
	int			 nparams;
	unsigned		 allowed;
};

static void
run(const char *path, unsigned method, struct result *r)
{
	memset(r, 0, sizeof(*r));
	r->nparams = -1;
	r->allowed = 0xdead;
	r->rc = router_match(routes, NROUTES, path, method, &r->match,
	    r->params, &r->nparams, &r->allowed);
}

static void
done(struct result *r)
{
	if (r->rc == ROUTER_OK)
		router_params_free(r->params, r->nparams);
}

/* Expect a match on route index idx with the given params. */
static void
expect_ok(const char *path, unsigned method, size_t idx, int np,
    const char *p0, const char *p1)
{
	struct result	 r;
	const char	*want[2] = { p0, p1 };
	int		 i;

	run(path, method, &r);
	cr_assert_eq(r.rc, ROUTER_OK, "%s: rc %d", path, r.rc);
	cr_assert_eq(r.match, &routes[idx], "%s: matched route %td, want %zu",
	    path, r.match - routes, idx);
	cr_assert_eq(r.nparams, np, "%s: nparams %d", path, r.nparams);
	for (i = 0; i < np && i < 2; i++)
		cr_assert_str_eq(r.params[i], want[i], "%s: param %d", path,
		    i);
	done(&r);
}

static void
expect_404(const char *path, unsigned method)
{
	struct result	r;

	run(path, method, &r);
	cr_assert_eq(r.rc, ROUTER_NOT_FOUND, "%s: rc %d", path, r.rc);
	cr_assert_eq(r.allowed, 0u, "%s: allowed %#x", path, r.allowed);
	cr_assert_eq(r.nparams, 0, "%s", path);
	done(&r);
}

static void
expect_405(const char *path, unsigned method, unsigned allowed,
    const char *allow_text)
{
	struct result	r;
	char		text[128];

	run(path, method, &r);
	cr_assert_eq(r.rc, ROUTER_BAD_METHOD, "%s: rc %d", path, r.rc);
	cr_assert_eq(r.allowed, allowed, "%s: allowed %#x want %#x", path,
	    r.allowed, allowed);
	router_allow(r.allowed, text, sizeof(text));
	cr_assert_str_eq(text, allow_text, "%s", path);
	done(&r);
}

Test(router, exact_matches)
{
	expect_ok("/v1/health", M_GET, 0, 0, NULL, NULL);
	expect_ok("/v1/exports", M_GET, 1, 0, NULL, NULL);
	expect_ok("/v1/exports", M_POST, 2, 0, NULL, NULL);
}

Test(router, exact_match_flags)
{
	struct result	r;

	run("/v1/health", M_GET, &r);
	cr_assert_eq(r.rc, ROUTER_OK);
	cr_assert_eq(r.match->handler, h_health);
	cr_assert_eq(r.match->flags, ROUTE_PUBLIC);
	done(&r);
}

Test(router, id_params)
{
	expect_ok("/v1/exports/5a0b1c2d3e4f5a6b7c8d9e0f", M_GET, 3, 1,
	    "5a0b1c2d3e4f5a6b7c8d9e0f", NULL);
	expect_ok("/v1/exports/abc", M_PUT, 4, 1, "abc", NULL);
	expect_ok("/v1/exports/abc", M_DELETE, 5, 1, "abc", NULL);
	expect_ok("/v1/exports/abc/distributed", M_GET, 6, 1, "abc", NULL);
	expect_ok("/v1/exports/abc/distributed", M_PUT, 6, 1, "abc", NULL);
	expect_ok("/v1/exports/x/clone", M_POST, 7, 1, "x", NULL);
	expect_ok("/v1/exports/abc/data", M_POST, 8, 1, "abc", NULL);
	expect_ok("/v1/exports/abc/tok-1/data", M_PUT, 9, 2, "abc", "tok-1");
	/* a param takes any one segment, even one spelled like a literal */
	expect_ok("/v1/exports/clone", M_GET, 3, 1, "clone", NULL);
	expect_ok("/v1/exports/distributed/distributed", M_GET, 6, 1,
	    "distributed", NULL);
	/* ':' in the path is just a character */
	expect_ok("/v1/exports/:id", M_GET, 3, 1, ":id", NULL);
}

Test(router, params_are_copies)
{
	char		 path[] = "/v1/exports/abc/def/data";
	struct result	 r;

	run(path, M_POST, &r);
	cr_assert_eq(r.rc, ROUTER_OK);
	cr_assert_eq(r.nparams, 2);
	memset(path, 'z', sizeof(path) - 1);
	cr_assert_str_eq(r.params[0], "abc");
	cr_assert_str_eq(r.params[1], "def");
	router_params_free(r.params, r.nparams);
	cr_assert_null(r.params[0]);
	cr_assert_null(r.params[1]);
}

Test(router, max_params)
{
	struct result	r;

	run("/p/1/2/3/4", M_GET, &r);
	cr_assert_eq(r.rc, ROUTER_OK);
	cr_assert_eq(r.match, &routes[10]);
	cr_assert_eq(r.nparams, ROUTE_MAX_PARAMS);
	cr_assert_str_eq(r.params[0], "1");
	cr_assert_str_eq(r.params[3], "4");
	done(&r);
	/* more params than ROUTE_MAX_PARAMS never match */
	expect_404("/q/1/2/3/4/5", M_GET);
}

Test(router, trailing_segments)
{
	expect_404("/v1/health/x", M_GET);
	expect_404("/v1/exports/abc/extra", M_GET);
	expect_404("/v1/exports/abc/distributed/x", M_GET);
	expect_404("/v1/exports/abc/def/ghi/data", M_POST);
	expect_404("/v1/exports/abc/clone/x", M_POST);
	expect_404("/p/1/2/3/4/5", M_GET);
}

Test(router, not_found)
{
	expect_404("/", M_GET);
	expect_404("", M_GET);
	expect_404("/v1", M_GET);
	expect_404("/v1/healthx", M_GET);
	expect_404("/v1/healt", M_GET);
	expect_404("/v1/Health", M_GET);
	expect_404("/V1/health", M_GET);
	expect_404("v1/health", M_GET);
	expect_404("/v2/exports", M_GET);
	expect_404("/v1/exportsabc", M_GET);
	expect_404("/v1/exports/abc/distributedx", M_GET);
	expect_404("/p/1/2/3", M_GET);
	/* 404 wins over the method: nothing fits the path */
	expect_404("/nope", M_DELETE);
	expect_404("/nope", M_OTHER);
}

Test(router, empty_segments_do_not_match_params)
{
	expect_404("/v1/exports/", M_GET);
	expect_404("/v1/exports//distributed", M_GET);
	expect_404("/v1/exports//clone", M_POST);
	expect_404("/v1/exports/abc//data", M_POST);
	expect_404("/v1/exports//data", M_POST);
	expect_404("/p/1//3/4", M_GET);
	expect_404("/p/1/2/3/", M_GET);
	expect_404("//v1/health", M_GET);
	expect_404("/v1//health", M_GET);
	expect_404("/v1/health/", M_GET);
}

Test(router, bad_method)
{
	expect_405("/v1/exports", M_DELETE, M_GET | M_POST, "GET, HEAD, POST");
	expect_405("/v1/exports", M_PUT, M_GET | M_POST, "GET, HEAD, POST");
	expect_405("/v1/exports/abc", M_POST, M_GET | M_PUT | M_DELETE,
	    "GET, HEAD, PUT, DELETE");
	expect_405("/v1/exports/abc", M_PATCH, M_GET | M_PUT | M_DELETE,
	    "GET, HEAD, PUT, DELETE");
	expect_405("/v1/exports/abc", M_OPTIONS, M_GET | M_PUT | M_DELETE,
	    "GET, HEAD, PUT, DELETE");
	expect_405("/v1/exports/abc", M_OTHER, M_GET | M_PUT | M_DELETE,
	    "GET, HEAD, PUT, DELETE");
	expect_405("/v1/health", M_POST, M_GET, "GET, HEAD");
	expect_405("/v1/exports/abc/clone", M_GET, M_POST, "POST");
	expect_405("/v1/exports/abc/distributed", M_DELETE, M_GET | M_PUT,
	    "GET, HEAD, PUT");
	expect_405("/v1/exports/abc/data", M_GET, M_POST | M_PUT, "POST, PUT");
	expect_405("/v1/exports/a/b/data", M_DELETE, M_POST | M_PUT,
	    "POST, PUT");
}

Test(router, head_is_get)
{
	expect_ok("/v1/health", M_HEAD, 0, 0, NULL, NULL);
	expect_ok("/v1/exports", M_HEAD, 1, 0, NULL, NULL);
	expect_ok("/v1/exports/abc", M_HEAD, 3, 1, "abc", NULL);
	expect_ok("/v1/exports/abc/distributed", M_HEAD, 6, 1, "abc", NULL);
	/* HEAD where there is no GET is a 405 */
	expect_405("/v1/exports/abc/clone", M_HEAD, M_POST, "POST");
	expect_405("/v1/exports/abc/data", M_HEAD, M_POST | M_PUT,
	    "POST, PUT");
}

Test(router, later_route_wins_for_method)
{
	struct result	r;

	/* GET route for the path comes first; DELETE is found after it */
	run("/v1/exports/abc", M_DELETE, &r);
	cr_assert_eq(r.rc, ROUTER_OK);
	cr_assert_eq(r.match->handler, h_delete);
	cr_assert_eq(r.nparams, 1);
	cr_assert_str_eq(r.params[0], "abc");
	done(&r);
}

Test(router, literal_segment_beats_a_parameter)
{
	struct result	r;

	/* the literal route is the path's, though an :id route comes first */
	run("/v1/exports/ping", M_POST, &r);
	cr_assert_eq(r.rc, ROUTER_OK);
	cr_assert_eq(r.match, &routes[12]);
	cr_assert_eq(r.nparams, 0);
	done(&r);
	/* so a GET of it is a wrong method, not a GET of /v1/exports/:id */
	run("/v1/exports/ping", M_GET, &r);
	cr_assert_eq(r.rc, ROUTER_BAD_METHOD);
	cr_assert_eq(r.allowed, M_POST);
	cr_assert_eq(r.nparams, 0);
	done(&r);
	/* other ids still reach the :id routes */
	run("/v1/exports/pong", M_GET, &r);
	cr_assert_eq(r.rc, ROUTER_OK);
	cr_assert_eq(r.match->handler, h_get);
	done(&r);
}

Test(router, allow_text)
{
	char	out[128];

	router_allow(0, out, sizeof(out));
	cr_assert_str_eq(out, "");
	router_allow(M_GET, out, sizeof(out));
	cr_assert_str_eq(out, "GET, HEAD");
	router_allow(M_HEAD, out, sizeof(out));
	cr_assert_str_eq(out, "HEAD");
	router_allow(M_GET | M_HEAD, out, sizeof(out));
	cr_assert_str_eq(out, "GET, HEAD");
	router_allow(M_POST, out, sizeof(out));
	cr_assert_str_eq(out, "POST");
	router_allow(M_DELETE | M_GET | M_PUT, out, sizeof(out));
	cr_assert_str_eq(out, "GET, HEAD, PUT, DELETE");
	router_allow(M_OPTIONS | M_PATCH, out, sizeof(out));
	cr_assert_str_eq(out, "PATCH, OPTIONS");
	router_allow(M_GET | M_HEAD | M_POST | M_PUT | M_DELETE | M_PATCH |
	    M_OPTIONS, out, sizeof(out));
	cr_assert_str_eq(out, "GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS");
	/* M_OTHER has no name */
	router_allow(M_OTHER | M_POST, out, sizeof(out));
	cr_assert_str_eq(out, "POST");
}

Test(router, allow_truncates_safely)
{
	char	out[8];

	memset(out, 'x', sizeof(out));
	router_allow(M_GET | M_PUT, out, sizeof(out));
	cr_assert_eq(strlen(out), sizeof(out) - 1);
	cr_assert_eq(strncmp(out, "GET, HEAD, PUT", sizeof(out) - 1), 0);
}

Test(router, method_names)
{
	cr_assert_eq(router_method("GET"), M_GET);
	cr_assert_eq(router_method("HEAD"), M_HEAD);
	cr_assert_eq(router_method("POST"), M_POST);
	cr_assert_eq(router_method("PUT"), M_PUT);
	cr_assert_eq(router_method("DELETE"), M_DELETE);
	cr_assert_eq(router_method("PATCH"), M_PATCH);
	cr_assert_eq(router_method("OPTIONS"), M_OPTIONS);
	cr_assert_eq(router_method("get"), M_OTHER);
	cr_assert_eq(router_method("BREW"), M_OTHER);
	cr_assert_eq(router_method(""), M_OTHER);
	cr_assert_eq(router_method("GETX"), M_OTHER);
}
