/*
 * A deliberately small subset of Handlebars: {{path}} (escaped for the
 * output's media type), {{{path}}} and {{&path}} (raw), {{! comment}} and
 * {{!-- comment --}} (nothing), \{{ (a literal "{{"). Helpers, blocks,
 * partials and parent paths ({{#if}}, {{/if}}, {{> p}}, {{../x}},
 * {{helper arg}}) render as nothing: nothing in a template can run code.
 */

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/json.h"
#include "util/xmalloc.h"
#include "webhook/template.h"

static int	template_escape(struct buf *, const char *, size_t,
		    enum webhook_escape);
static int	template_value(struct buf *, const char *, size_t,
		    enum webhook_escape, const json_t *,
		    const struct webhook_request *);
static void	template_clean_header(struct buf *);

/* Append s escaped for the media type. */
static int
template_escape(struct buf *b, const char *s, size_t len,
    enum webhook_escape esc)
{
	static const char	hex[] = "0123456789abcdef";
	unsigned char		c;
	size_t			i;
	int			rv = 0;

	if (esc != WEBHOOK_ESCAPE_JSON && esc != WEBHOOK_ESCAPE_XML)
		return buf_add(b, s, len);
	for (i = 0; i < len && rv == 0; i++) {
		c = (unsigned char)s[i];
		if (esc == WEBHOOK_ESCAPE_XML) {
			switch (c) {
			case '&': rv = buf_adds(b, "&amp;"); break;
			case '<': rv = buf_adds(b, "&lt;"); break;
			case '>': rv = buf_adds(b, "&gt;"); break;
			case '"': rv = buf_adds(b, "&quot;"); break;
			case '\'': rv = buf_adds(b, "&apos;"); break;
			default: rv = buf_addc(b, (char)c); break;
			}
			continue;
		}
		switch (c) {
		case '"': rv = buf_adds(b, "\\\""); break;
		case '\\': rv = buf_adds(b, "\\\\"); break;
		case '\n': rv = buf_adds(b, "\\n"); break;
		case '\r': rv = buf_adds(b, "\\r"); break;
		case '\t': rv = buf_adds(b, "\\t"); break;
		case '\b': rv = buf_adds(b, "\\b"); break;
		case '\f': rv = buf_adds(b, "\\f"); break;
		default:
			if (c < 0x20 || c == 0x7f)
				rv = buf_printf(b, "\\u00%c%c", hex[c >> 4],
				    hex[c & 0xf]);
			else if (c == 0xe2 && i + 2 < len &&
			    (unsigned char)s[i + 1] == 0x80 &&
			    ((unsigned char)s[i + 2] == 0xa8 ||
			    (unsigned char)s[i + 2] == 0xa9)) {
				/* U+2028, U+2029 */
				rv = buf_adds(b, (unsigned char)s[i + 2] ==
				    0xa8 ? "\\u2028" : "\\u2029");
				i += 2;
			} else
				rv = buf_addc(b, (char)c);
			break;
		}
	}
	return rv;
}

/* Append the text of the value at path[0..len): strings as they are,
 * other JSON values as compact JSON, null and missing as nothing. */
static int
template_value(struct buf *b, const char *path, size_t len,
    enum webhook_escape esc, const json_t *doc,
    const struct webhook_request *req)
{
	const json_t	*v = NULL;
	const char	*q;
	char		*p, *s = NULL;
	size_t		 n = 0;
	int		 rv = 0;

	if (len == 0 || len > WEBHOOK_MAX_PATH)
		return 0;
	p = xstrndup(path, len);
	if (strcmp(p, "this") == 0)
		v = doc;
	else
		v = webhook_path_get(doc, strncmp(p, "this.", 5) == 0 ? p + 5 :
		    p);
	if (v == NULL) {
		if ((q = webhook_query(req, p)) != NULL)
			rv = template_escape(b, q, strlen(q), esc);
	} else if (json_is_string(v))
		rv = template_escape(b, json_string_value(v),
		    json_string_length(v), esc);
	else if (!json_is_null(v)) {
		if ((s = json_render_new(v, &n)) == NULL)
			rv = -1;
		else
			rv = template_escape(b, s, n, esc);
	}
	free(s);
	free(p);
	return rv;
}

/* Header values: drop CR, LF, NUL and other control characters but tab. */
static void
template_clean_header(struct buf *b)
{
	size_t	i, j;

	for (i = j = 0; i < b->len; i++) {
		if (((unsigned char)b->data[i] < 0x20 && b->data[i] != '\t') ||
		    b->data[i] == 0x7f)
			continue;
		b->data[j++] = b->data[i];
	}
	b->len = j;
	if (b->size != 0)
		b->data[j] = '\0';
}

char *
webhook_template_render(const char *tmpl, enum webhook_escape esc,
    const json_t *doc, const struct webhook_request *req, size_t cap,
    size_t *len)
{
	struct buf	 b;
	const char	*p, *open, *close, *in, *end;
	enum webhook_escape e;
	char		*out = NULL;
	bool		 triple;

	buf_init(&b, cap);
	for (p = tmpl != NULL ? tmpl : ""; *p != '\0'; p = close) {
		if ((open = strstr(p, "{{")) == NULL) {
			if (buf_adds(&b, p) != 0)
				goto out;
			break;
		}
		if (open > p && open[-1] == '\\') {
			/* \{{ is a literal {{ */
			if (buf_add(&b, p, (size_t)(open - 1 - p)) != 0 ||
			    buf_adds(&b, "{{") != 0)
				goto out;
			close = open + 2;
			continue;
		}
		if (buf_add(&b, p, (size_t)(open - p)) != 0)
			goto out;
		triple = open[2] == '{';
		in = open + (triple ? 3 : 2);
		if (strncmp(in, "!--", 3) == 0)
			end = strstr(in, "--}}");
		else
			end = strstr(in, triple ? "}}}" : "}}");
		if (end == NULL) {	/* unterminated: kept as text */
			if (buf_adds(&b, open) != 0)
				goto out;
			break;
		}
		close = end + (strncmp(in, "!--", 3) == 0 ? 4 : triple ? 3 : 2);
		while (in < end && (*in == ' ' || *in == '\t'))
			in++;
		while (end > in && (end[-1] == ' ' || end[-1] == '\t'))
			end--;
		e = triple ? WEBHOOK_ESCAPE_NONE : esc;
		if (!triple && in < end && *in == '&') {
			e = WEBHOOK_ESCAPE_NONE;
			in++;
		}
		/* helpers, blocks, partials, comments, parent paths */
		if (in == end || strchr("!#/^>@", *in) != NULL ||
		    memchr(in, ' ', (size_t)(end - in)) != NULL ||
		    memchr(in, '\t', (size_t)(end - in)) != NULL ||
		    strncmp(in, "../", 3) == 0 || (end - in == 4 &&
		    strncmp(in, "else", 4) == 0))
			continue;
		if (template_value(&b, in, (size_t)(end - in), e, doc,
		    req) != 0)
			goto out;
	}
	if (esc == WEBHOOK_ESCAPE_HEADER)
		template_clean_header(&b);
	out = buf_steal(&b, len);
out:
	buf_free(&b);
	return out;
}
