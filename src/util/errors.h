/* Errors are values: each problem found is added here where it is found,
 * with its HTTP status, machine code, field path and message; exactly one
 * place (http/response.c) renders them. */
#ifndef EXPORTD_ERRORS_H
#define EXPORTD_ERRORS_H

#include <stddef.h>

#include "util/limits.h"

struct error {
	int	 status;
	char	 code[32];
	char	 field[160];	/* dot path, or "" */
	char	 message[256];
};

struct errors {
	size_t		n;
	size_t		dropped;	/* beyond LIMIT_ERRORS */
	struct error	e[LIMIT_ERRORS];
};

void	errors_init(struct errors *);
/* Add one error; field may be NULL. The response status is the first
 * error's. */
void	errors_add(struct errors *, int status, const char *code,
	    const char *field, const char *fmt, ...)
	    __attribute__((format(printf, 5, 6)));
int	errors_status(const struct errors *);

#endif
