/*
 * The export document pipeline of POST/PUT /v1/exports and PUT
 * .../distributed, on any JSON a client sends: json_parse (depth cap) →
 * export_strip_readonly → export_strip_nulls → adaptorType inference →
 * export_validate → export_secrets_take → export_render, then the replace
 * path twice (the masked document sent back, whose masks must keep exactly
 * the stored secrets; the client's own document) and
 * export_validate_distributed on the same body.
 *
 * Input: a request body. Checked: no null survives strip_nulls; errors
 * are bounded and printable; secrets_take leaves every secret path masked,
 * absent or a non-string, and returns only strings; the rendering parses
 * again, starts with "_id", and export_meta_read reads it back.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "model/export.h"
#include "util/errors.h"
#include "util/json.h"
#include "util/limits.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static bool
has_null(const json_t *v, bool top)
{
	const char	*k;
	json_t		*e;
	size_t		 i;

	if (json_is_null(v))
		return !top;
	if (json_is_object(v)) {
		json_object_foreach((json_t *)v, k, e)
			if (json_is_null(e) || has_null(e, false))
				return true;
	} else if (json_is_array(v)) {
		/* arrays keep their elements, nulls included */
		json_array_foreach(v, i, e)
			if (!json_is_null(e) && has_null(e, false))
				return true;
	}
	return false;
}

static void
check_errors(const struct errors *errs)
{
	size_t		 i;
	const char	*p;

	FUZZ_ASSERT(errs->n <= LIMIT_ERRORS);
	for (i = 0; i < errs->n; i++) {
		FUZZ_ASSERT(errs->e[i].status >= 400 &&
		    errs->e[i].status < 600);
		for (p = errs->e[i].message; *p != '\0'; p++)
			FUZZ_ASSERT(*p >= 0x20 && *p <= 0x7e);
		for (p = errs->e[i].field; *p != '\0'; p++)
			FUZZ_ASSERT(*p >= 0x20 && *p <= 0x7e);
	}
}

/* Normalise and validate, as doc_prepare in src/api/exports.c does. */
static void
prepare(json_t *doc, const char *stored_adaptor, struct errors *errs)
{
	int		 rc;

	export_normalise(doc, stored_adaptor);
	FUZZ_ASSERT(!has_null(doc, true));
	rc = export_validate(doc, errs);
	FUZZ_ASSERT(rc == (errs->n > 0 ? -1 : 0));
	check_errors(errs);
}

static void
check_secrets(const json_t *doc, const json_t *secrets)
{
	const char	*k;
	json_t		*v;
	size_t		 i;

	FUZZ_ASSERT(json_is_object(secrets));
	json_object_foreach((json_t *)secrets, k, v)
		FUZZ_ASSERT(json_is_string(v));
	for (i = 0; i < EXPORT_NSECRETS; i++) {
		v = json_path_get(doc, export_secret_paths[i]);
		FUZZ_ASSERT(v == NULL || !json_is_string(v) ||
		    strcmp(json_string_value(v), EXPORT_MASK) == 0);
		if (json_is_string(v))
			FUZZ_ASSERT(json_object_get(secrets,
			    export_secret_paths[i]) != NULL);
	}
}

static void
render_check(const json_t *doc)
{
	struct export_meta	 m, back;
	json_t			*r;
	char			*s;
	size_t			 len;

	memset(&m, 0, sizeof m);
	m.id = "0123456789abcdef01234567";
	m.api_identifier = "e0123456789";
	m.source_id = "76543210fedcba9876543210";
	m.created_ms = 1511897824180;
	m.modified_ms = 1700000000000;
	s = export_render(doc, &m, &len);
	FUZZ_ASSERT(s != NULL && strlen(s) == len);
	FUZZ_ASSERT(strncmp(s, "{\"_id\":\"", 8) == 0);
	r = json_parse(s, len, LIMIT_JSON_DEPTH, NULL);
	FUZZ_ASSERT(json_is_object(r));
	FUZZ_ASSERT(export_meta_read(r, &back) == 0);
	FUZZ_ASSERT(strcmp(back.id, m.id) == 0);
	FUZZ_ASSERT(back.created_ms == m.created_ms &&
	    back.modified_ms == m.modified_ms);
	json_decref(r);
	free(s);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct errors	 errs;
	json_t		*orig, *doc, *secrets, *doc2, *secrets2, *block;
	const char	*adaptor;

	orig = json_parse((const char *)data, size, LIMIT_JSON_DEPTH, NULL);
	if (!json_is_object(orig)) {
		json_decref(orig);
		return 0;
	}

	/* POST /v1/exports */
	doc = json_deep_copy(orig);
	errors_init(&errs);
	prepare(doc, NULL, &errs);
	secrets = export_secrets_take(doc, NULL);
	check_secrets(doc, secrets);
	render_check(doc);

	/* PUT /v1/exports/{id} of what GET showed: the masks keep the
	 * stored secrets, all of them and nothing else */
	adaptor = json_string_value(json_object_get(doc, "adaptorType"));
	doc2 = json_deep_copy(doc);
	errors_init(&errs);
	prepare(doc2, adaptor, &errs);
	secrets2 = export_secrets_take(doc2, secrets);
	check_secrets(doc2, secrets2);
	FUZZ_ASSERT(json_equal(secrets2, secrets));
	render_check(doc2);
	json_decref(secrets2);
	json_decref(doc2);

	/* PUT /v1/exports/{id} with the client's own document */
	doc2 = json_deep_copy(orig);
	errors_init(&errs);
	prepare(doc2, adaptor, &errs);
	secrets2 = export_secrets_take(doc2, secrets);
	check_secrets(doc2, secrets2);
	render_check(doc2);

	/* PUT /v1/exports/{id}/distributed: the body is the block */
	block = json_deep_copy(orig);
	export_strip_nulls(block);
	errors_init(&errs);
	(void)export_validate_distributed("NetSuiteExport", block, &errs);
	check_errors(&errs);
	errors_init(&errs);
	(void)export_validate_distributed("SalesforceExport", block, &errs);
	check_errors(&errs);

	json_decref(block);
	json_decref(secrets2);
	json_decref(doc2);
	json_decref(secrets);
	json_decref(doc);
	json_decref(orig);
	return 0;
}
