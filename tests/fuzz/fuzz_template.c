/*
 * webhook_template_render: an owner-written template over the sender's
 * parsed document and query string.
 *
 * Input: byte 0 bits 0-1 pick the escaping, bits 2-3 the cap; then the
 * template up to the first NUL (templates are JSON strings read with
 * json_string_value, so a NUL ends them); the rest is the document as
 * JSON (none if it does not parse).
 *
 * Checked: the output is NUL-terminated, as long as *len says, within
 * the cap; header output has no control character but tab; a template
 * without "{{" renders as itself. And the escaping promises of
 * docs/webhooks.md on fixed templates: {"v":"{{this}}"} with JSON escaping
 * is always valid JSON whose v is the document's text, and <a>{{this}}</a>
 * with XML escaping never gains a '<', '>' or '&' from the value.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_common.h"
#include "util/json.h"
#include "util/limits.h"
#include "webhook/template.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static const size_t caps[] = { 0, 16, WEBHOOK_MAX_HEADER_OUT,
	WEBHOOK_MAX_BODY_OUT };

static size_t
count(const char *s, size_t len, char c)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i++)
		if (s[i] == c)
			n++;
	return n;
}

/* Every '&' starts one of the five entities the XML escaping writes. */
static bool
entities_only(const char *s, size_t len)
{
	static const char *const ent[] = { "&amp;", "&lt;", "&gt;", "&quot;",
	    "&apos;" };

	return fuzz_entities_only(s, len, ent, 5);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webhook_request	 req;
	struct fuzz_req		 fr;
	struct fuzz_field	 f;
	enum webhook_escape	 esc;
	json_t			*doc, *o;
	char			*tmpl, *out, *text;
	size_t			 cap, len, tlen, i;

	if (size < 1)
		return 0;
	esc = (enum webhook_escape)(data[0] & 3);
	cap = caps[(data[0] >> 2) & 3];
	data++;
	size--;
	f = fuzz_take(&data, &size, '\0');
	tmpl = fuzz_cstr(f.p, f.len);
	doc = json_parse((const char *)data, size, LIMIT_JSON_DEPTH, NULL);

	memset(&fr, 0, sizeof fr);
	fuzz_req_add(&fr, true, "challenge", 9, "c<&>\"'\\\r\n\x01", 10);
	fuzz_req_add(&fr, true, "hub.challenge", 13, "h\xe2\x80\xa8z", 5);
	fuzz_req_add(&fr, true, "a b", 3, "space", 5);
	memset(&req, 0, sizeof req);
	req.method = "POST";
	req.query = fuzz_req_query;
	req.arg = &fr;

	out = webhook_template_render(tmpl, esc, doc, &req, cap, &len);
	if (out != NULL) {
		FUZZ_ASSERT(out[len] == '\0');
		FUZZ_ASSERT(cap == 0 || len <= cap);
		if (esc == WEBHOOK_ESCAPE_HEADER)
			for (i = 0; i < len; i++)
				FUZZ_ASSERT(out[i] == '\t' ||
				    ((unsigned char)out[i] >= 0x20 &&
				    out[i] != 0x7f));
		if (strstr(tmpl, "{{") == NULL && esc != WEBHOOK_ESCAPE_HEADER)
			FUZZ_ASSERT(len == f.len && memcmp(out, tmpl, len) == 0);
		free(out);
	} else
		FUZZ_ASSERT(cap != 0);

	if (doc != NULL) {
		/* the text {{this}} puts there: strings as is, else JSON */
		if (json_is_string(doc))
			text = fuzz_cstr(json_string_value(doc),
			    json_string_length(doc));
		else if (json_is_null(doc))
			text = fuzz_cstr("", 0);
		else
			text = json_render_new(doc, NULL);
		tlen = json_is_string(doc) ? json_string_length(doc) :
		    strlen(text);

		out = webhook_template_render("{\"v\":\"{{this}}\"}",
		    WEBHOOK_ESCAPE_JSON, doc, &req, 0, &len);
		FUZZ_ASSERT(out != NULL);
		o = json_loadb(out, len, JSON_ALLOW_NUL, NULL);
		if (o == NULL)
			fprintf(stderr, "not JSON: %s\n", out);
		FUZZ_ASSERT(o != NULL);
		FUZZ_ASSERT(json_string_length(json_object_get(o, "v")) ==
		    tlen && memcmp(json_string_value(json_object_get(o, "v")),
		    text, tlen) == 0);
		json_decref(o);
		free(out);

		out = webhook_template_render("<a>{{this}}</a>",
		    WEBHOOK_ESCAPE_XML, doc, &req, 0, &len);
		FUZZ_ASSERT(out != NULL);
		FUZZ_ASSERT(count(out, len, '<') == 2 &&
		    count(out, len, '>') == 2 && entities_only(out, len));
		free(out);
		free(text);
	}

	json_decref(doc);
	free(tmpl);
	fuzz_req_free(&fr);
	return 0;
}
