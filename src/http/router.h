/* The route table: method and path pattern to handler. A pattern is a
 * path whose ':name' segments match any one segment. */
#ifndef EXPORTD_ROUTER_H
#define EXPORTD_ROUTER_H

#include <stddef.h>

#include "http/request.h"

#define ROUTE_PUBLIC	0x01	/* no bearer token */
#define ROUTE_LISTENER	0x02	/* webhook deliveries: own body cap and limits */

struct route {
	unsigned	 methods;	/* enum http_method bits */
	const char	*pattern;
	void		(*handler)(struct request *);
	int		 flags;
};

enum router_result { ROUTER_OK, ROUTER_NOT_FOUND, ROUTER_BAD_METHOD };

/* Match path and method against n routes: the routes whose pattern takes
 * the path with the fewest parameters are its routes, the first of them
 * that accepts the method the match. On ROUTER_OK sets *match and
 * fills params (pointers into a copy the caller frees with
 * router_params_free). On ROUTER_BAD_METHOD sets *allowed to the methods
 * the path accepts. */
enum router_result router_match(const struct route *, size_t n,
	    const char *path, unsigned method, const struct route **match,
	    char *params[ROUTE_MAX_PARAMS], int *nparams, unsigned *allowed);
void	router_params_free(char *params[ROUTE_MAX_PARAMS], int nparams);
/* "GET, HEAD, PUT" for a method mask into out. */
void	router_allow(unsigned methods, char *out, size_t outsz);
unsigned router_method(const char *);

#endif
