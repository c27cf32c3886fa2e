/* List projection. Paths are dot paths of letters, digits, '_' and '$';
 * anything else is refused, as integrator.io does. */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/project.h"
#include "util/json.h"
#include "util/xmalloc.h"

static int
path_char_ok(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '.';
}

/* Split a comma list into paths; -1 with a message if malformed. */
static int
paths_split(struct projection *p, const char *list, const char *param,
    char *err, size_t errsz)
{
	const char	*s = list, *e;
	size_t		 len;

	while (*s != '\0') {
		e = strchrnul(s, ',');
		len = (size_t)(e - s);
		if (len > 0) {
			if (len > PROJECT_MAX_PATH || p->n == PROJECT_MAX_PATHS ||
			    s[0] == '.' || s[len - 1] == '.' ||
			    memmem(s, len, "..", 2) != NULL)
				goto bad;
			for (size_t i = 0; i < len; i++)
				if (!path_char_ok(s[i]))
					goto bad;
			p->paths[p->n++] = xstrndup(s, len);
		}
		s = *e == ',' ? e + 1 : e;
	}
	return 0;
bad:
	snprintf(err, errsz, "%s must be a comma-separated list of at most %d "
	    "field paths (letters, digits, '_' and '.')", param,
	    PROJECT_MAX_PATHS);
	return -1;
}

int
project_parse(struct projection *p, const char *include, const char *exclude,
    char *err, size_t errsz)
{
	memset(p, 0, sizeof(*p));
	if (include != NULL && exclude != NULL) {
		snprintf(err, errsz, "Please provide either include or exclude "
		    "param in the request query and not both.");
		return -1;
	}
	if (include != NULL && include[0] != '\0') {
		p->mode = PROJECT_INCLUDE;
		return paths_split(p, include, "include", err, errsz);
	}
	if (exclude != NULL && exclude[0] != '\0') {
		p->mode = PROJECT_EXCLUDE;
		return paths_split(p, exclude, "exclude", err, errsz);
	}
	return 0;
}

static void
copy_path(json_t *out, const json_t *doc, const char *path)
{
	json_t	*v = json_path_get(doc, path);

	if (v != NULL)
		json_path_set_new(out, path, json_deep_copy(v));
}

char *
project_apply(const struct projection *p, const char *body, size_t len,
    size_t *outlen)
{
	json_t	*doc, *out;
	char	*s;
	size_t	 i;

	if ((doc = json_loadb(body, len, JSON_ALLOW_NUL, NULL)) == NULL)
		return NULL;
	if (p->mode == PROJECT_EXCLUDE) {
		for (i = 0; i < p->n; i++)
			if (strcmp(p->paths[i], "_id") != 0)
				json_path_del(doc, p->paths[i]);
		s = json_render_new(doc, outlen);
		json_decref(doc);
		return s;
	}
	out = json_object();
	copy_path(out, doc, "_id");
	copy_path(out, doc, "name");
	copy_path(out, doc, "adaptorType");
	for (i = 0; i < p->n; i++)
		copy_path(out, doc, p->paths[i]);
	s = json_render_new(out, outlen);
	json_decref(out);
	json_decref(doc);
	return s;
}

void
project_free(struct projection *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++)
		free(p->paths[i]);
	p->n = 0;
}
