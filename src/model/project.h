/* List projection: include=a,b.c or exclude=a,b.c over stored exports. */
#ifndef EXPORTD_PROJECT_H
#define EXPORTD_PROJECT_H

#include <stddef.h>

#define PROJECT_MAX_PATHS	64
#define PROJECT_MAX_PATH	128

enum project_mode { PROJECT_NONE, PROJECT_INCLUDE, PROJECT_EXCLUDE };

struct projection {
	enum project_mode	 mode;
	size_t			 n;
	char			*paths[PROJECT_MAX_PATHS];
};

/* Read the include and exclude parameters (either may be NULL; an empty
 * value is ignored). Returns 0, or -1 with a message for the client. */
int	 project_parse(struct projection *, const char *include,
	    const char *exclude, char *err, size_t errsz);
/* Apply to one stored export; returns a new rendering (caller frees), or
 * NULL if body is not JSON. include keeps _id, name and adaptorType. */
char	*project_apply(const struct projection *, const char *body,
	    size_t len, size_t *outlen);
void	 project_free(struct projection *);

#endif
