/*
 * template_new, template_render: the handlebars engine of src/template,
 * with a template and a context written by the attacker.
 *
 * Input: byte 0 bits 0-1 pick the output cap, bits 2-3 the #each cap;
 * then the template up to the first NUL; the rest is the context as JSON
 * (a fixed context with every kind of value if it does not parse).
 *
 * Checked: a parse error or a render error has a message and a position
 * inside the template (line and column from 1); the output is
 * NUL-terminated, within its cap, and the same when rendered twice (the
 * clock is fixed); text without "{{" renders as itself; and {{this}} over
 * the context is HTML-escaped: none of < > " ' ` = is left, every '&'
 * starts one of the entities Handlebars writes.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "template/template.h"
#include "util/json.h"
#include "util/limits.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const size_t output_caps[] = { 0, 1, 64, 4096 };
static const size_t each_caps[] = { 0, 1, 7, 1000 };

static const char fallback[] = "{\"s\":\"<a&b>\\\"'`=\",\"n\":-1.5,"
    "\"i\":42,\"t\":true,\"f\":false,\"z\":null,\"a\":[1,\"x\",[2],{}],"
    "\"o\":{\"k\":\"v\",\"d\":\"2020-07-09T19:59:39.156Z\"},\"e\":[],"
    "\"u\":\"%C3%A9\",\"b\":\"SGVsbG8=\"}";

static void
check_error(const struct template_error *e, size_t tlen)
{
	FUZZ_ASSERT(e->message[0] != '\0');
	FUZZ_ASSERT(e->offset <= tlen);
	FUZZ_ASSERT(e->line >= 1 && e->column >= 1);
}

/* None of the characters Handlebars escapes is left, and every '&'
 * starts one of its entities. */
static void
check_escaped(const char *s, size_t len)
{
	static const char *const ent[] = { "&amp;", "&lt;", "&gt;", "&quot;",
	    "&#x27;", "&#x60;", "&#x3D;" };
	size_t	i;

	for (i = 0; i < len; i++)
		FUZZ_ASSERT(s[i] == '\0' || strchr("<>\"'`=", s[i]) == NULL);
	FUZZ_ASSERT(fuzz_entities_only(s, len, ent, 7));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct template_options	 o;
	struct template_error	 e;
	struct template		*t;
	struct fuzz_field	 f;
	json_t			*ctx;
	char			*tmpl, *a, *b;
	size_t			 la, lb;

	if (size < 1)
		return 0;
	memset(&o, 0, sizeof(o));
	o.max_output = output_caps[data[0] & 3];
	o.max_iterations = each_caps[(data[0] >> 2) & 3];
	o.has_now = true;
	o.now_ms = 1594324779156LL;
	data++;
	size--;
	f = fuzz_take(&data, &size, '\0');
	tmpl = fuzz_cstr(f.p, f.len);
	ctx = json_parse_any((const char *)data, size, LIMIT_JSON_DEPTH, NULL);
	if (ctx == NULL)
		ctx = json_parse_any(fallback, strlen(fallback),
		    LIMIT_JSON_DEPTH, NULL);
	FUZZ_ASSERT(ctx != NULL);

	memset(&e, 0, sizeof(e));
	t = template_new(tmpl, f.len, &e);
	if (t == NULL)
		check_error(&e, f.len);
	else {
		memset(&e, 0, sizeof(e));
		a = template_render(t, ctx, &o, &la, &e);
		b = template_render(t, ctx, &o, &lb, NULL);
		FUZZ_ASSERT((a == NULL) == (b == NULL));
		if (a == NULL)
			check_error(&e, f.len);
		else {
			FUZZ_ASSERT(a[la] == '\0');
			FUZZ_ASSERT(la <= (o.max_output ? o.max_output :
			    LIMIT_TEMPLATE_OUTPUT));
			FUZZ_ASSERT(la == lb && memcmp(a, b, la) == 0);
			if (memmem(tmpl, f.len, "{{", 2) == NULL)
				FUZZ_ASSERT(la == f.len &&
				    memcmp(a, tmpl, la) == 0);
		}
		free(a);
		free(b);
		template_free(t);
	}

	a = template_render_text("{{this}}", 8, ctx, NULL, &la, &e);
	FUZZ_ASSERT(a != NULL);
	check_escaped(a, la);
	free(a);

	json_decref(ctx);
	free(tmpl);
	return 0;
}
