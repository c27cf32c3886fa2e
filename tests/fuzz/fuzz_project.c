/*
 * List projection: project_parse on the include/exclude query values,
 * then project_apply to a stored export body.
 *
 * Input: byte 0 bits 0-1 pick which parameters are sent (include,
 * exclude, both, neither); the first line is the
 * parameter value (decoded query values are C strings); the rest is the
 * body. Bodies in the store are renderings of validated documents, so the
 * body is used only when json_parse with the request depth cap takes it.
 *
 * Checked: project_parse fails with a message or gives at most
 * PROJECT_MAX_PATHS well-formed paths; project_apply returns JSON that
 * parses again, is an object, and in include mode holds only the kept
 * top-level keys; in exclude mode a string "_id" survives.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "model/project.h"
#include "util/json.h"
#include "util/limits.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Whether key is the first segment of a kept path. */
static bool
kept(const struct projection *p, const char *key)
{
	static const char *const always[] = { "_id", "name", "adaptorType" };
	size_t	i, n = strlen(key);

	for (i = 0; i < 3; i++)
		if (strcmp(key, always[i]) == 0)
			return true;
	for (i = 0; i < p->n; i++)
		if (strncmp(p->paths[i], key, n) == 0 &&
		    (p->paths[i][n] == '\0' || p->paths[i][n] == '.'))
			return true;
	return false;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct projection	 p;
	struct fuzz_field	 f;
	const char		*inc = NULL, *exc = NULL, *k;
	char			*param, *body, *out, err[256];
	json_t			*doc, *o, *v;
	size_t			 i, outlen = 0;
	int			 rc, mode;

	if (size < 1)
		return 0;
	mode = data[0] & 3;
	data++;
	size--;
	f = fuzz_take(&data, &size, '\n');
	param = fuzz_cstr(f.p, f.len);
	if (mode == 0 || mode == 2)
		inc = param;
	if (mode == 1 || mode == 2)
		exc = param;
	err[0] = '\0';
	rc = project_parse(&p, inc, exc, err, sizeof err);
	if (rc != 0) {
		FUZZ_ASSERT(rc == -1 && err[0] != '\0');
		goto out;
	}
	FUZZ_ASSERT(p.n <= PROJECT_MAX_PATHS);
	for (i = 0; i < p.n; i++) {
		FUZZ_ASSERT(p.paths[i][0] != '\0' && p.paths[i][0] != '.');
		FUZZ_ASSERT(strlen(p.paths[i]) <= PROJECT_MAX_PATH);
		FUZZ_ASSERT(strstr(p.paths[i], "..") == NULL);
	}
	FUZZ_ASSERT(p.n == 0 || p.mode != PROJECT_NONE);

	body = fuzz_cstr(data, size);
	if ((doc = json_parse(body, size, LIMIT_JSON_DEPTH, NULL)) != NULL) {
		out = project_apply(&p, body, size, &outlen);
		FUZZ_ASSERT(out != NULL && strlen(out) == outlen);
		o = json_parse(out, outlen, LIMIT_JSON_DEPTH, NULL);
		FUZZ_ASSERT(o != NULL);
		if (p.mode != PROJECT_EXCLUDE) {
			FUZZ_ASSERT(json_is_object(o));
			json_object_foreach(o, k, v)
				FUZZ_ASSERT(kept(&p, k));
		} else if (json_is_string(json_object_get(doc, "_id")))
			FUZZ_ASSERT(json_equal(json_object_get(doc, "_id"),
			    json_object_get(o, "_id")));
		json_decref(o);
		free(out);
		json_decref(doc);
	}
	free(body);
out:
	project_free(&p);
	free(param);
	return 0;
}
