/* JSON helpers over jansson: compact renderer, strict parser, dot paths. */

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/json.h"

static int	json_render_string(struct buf *, const char *, size_t);
static int	json_render_real(struct buf *, double);
static int	json_render_value(struct buf *, const json_t *);
static int	json_check_depth(const char *, size_t, size_t,
		    struct json_parse_error *);
static size_t	json_segment(const char *, const char **);

/* Render a string or key with JSON escapes, quotes included. */
static int
json_render_string(struct buf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	char			 esc[7];
	const char		*e;
	size_t			 i, start, skip;

	if (buf_addc(b, '"') != 0)
		return -1;
	for (i = start = 0; i < len; i += skip) {
		e = NULL;
		skip = 1;
		switch (p[i]) {
		case '"':
			e = "\\\"";
			break;
		case '\\':
			e = "\\\\";
			break;
		case '\b':
			e = "\\b";
			break;
		case '\f':
			e = "\\f";
			break;
		case '\n':
			e = "\\n";
			break;
		case '\r':
			e = "\\r";
			break;
		case '\t':
			e = "\\t";
			break;
		case 0xe2:
			/* U+2028 and U+2029 break JavaScript string literals. */
			if (i + 2 < len && p[i + 1] == 0x80 &&
			    (p[i + 2] == 0xa8 || p[i + 2] == 0xa9)) {
				e = p[i + 2] == 0xa8 ? "\\u2028" : "\\u2029";
				skip = 3;
			}
			break;
		default:
			if (p[i] < 0x20) {
				memcpy(esc, "\\u00", 4);
				esc[4] = hex[p[i] >> 4];
				esc[5] = hex[p[i] & 0xf];
				esc[6] = '\0';
				e = esc;
			}
			break;
		}
		if (e == NULL)
			continue;
		if (buf_add(b, s + start, i - start) != 0 || buf_adds(b, e) != 0)
			return -1;
		start = i + skip;
	}
	if (buf_add(b, s + start, len - start) != 0 || buf_addc(b, '"') != 0)
		return -1;
	return 0;
}

int
json_render_text(struct buf *b, const char *s, size_t len)
{
	return json_render_string(b, s, len);
}

/* Shortest of %.15g, %.16g, %.17g that reads back to d, kept a real. */
static int
json_render_real(struct buf *b, double d)
{
	char	s[40];
	int	prec;

	for (prec = 15; prec <= 17; prec++) {
		snprintf(s, sizeof s, "%.*g", prec, d);
		if (strtod(s, NULL) == d)
			break;
	}
	if (strpbrk(s, ".e") == NULL)
		strcat(s, ".0");
	return buf_adds(b, s);
}

static int
json_render_value(struct buf *b, const json_t *v)
{
	const char	*key;
	size_t		 keylen, i;
	json_t		*item;
	json_t		*obj = (json_t *)v;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (buf_addc(b, '{') != 0)
			return -1;
		i = 0;
		json_object_keylen_foreach(obj, key, keylen, item) {
			if (i++ != 0 && buf_addc(b, ',') != 0)
				return -1;
			if (json_render_string(b, key, keylen) != 0 ||
			    buf_addc(b, ':') != 0 ||
			    json_render_value(b, item) != 0)
				return -1;
		}
		return buf_addc(b, '}');
	case JSON_ARRAY:
		if (buf_addc(b, '[') != 0)
			return -1;
		json_array_foreach(obj, i, item) {
			if (i != 0 && buf_addc(b, ',') != 0)
				return -1;
			if (json_render_value(b, item) != 0)
				return -1;
		}
		return buf_addc(b, ']');
	case JSON_STRING:
		return json_render_string(b, json_string_value(v),
		    json_string_length(v));
	case JSON_INTEGER:
		return buf_printf(b, "%lld", (long long)json_integer_value(v));
	case JSON_REAL:
		return json_render_real(b, json_real_value(v));
	case JSON_TRUE:
		return buf_adds(b, "true");
	case JSON_FALSE:
		return buf_adds(b, "false");
	case JSON_NULL:
		return buf_adds(b, "null");
	}
	return -1;
}

int
json_render(struct buf *b, const json_t *v)
{
	size_t	len = b->len;

	if (v == NULL)
		return -1;
	if (json_render_value(b, v) != 0) {
		/* Leave the buffer as it was. */
		b->len = len;
		if (b->size != 0)
			b->data[len] = '\0';
		return -1;
	}
	return 0;
}

char *
json_render_new(const json_t *v, size_t *len)
{
	struct buf	b;

	buf_init(&b, 0);
	if (json_render(&b, v) != 0) {
		buf_free(&b);
		return NULL;
	}
	return buf_steal(&b, len);
}

/*
 * Check nesting of arrays and objects outside strings before jansson sees
 * the bytes, so that deep input fails cleanly with our own error.
 */
static int
json_check_depth(const char *data, size_t len, size_t max_depth,
    struct json_parse_error *err)
{
	size_t	i, depth = 0, line = 1, linestart = 0, column;
	bool	instr = false, esc = false;
	char	c;

	for (i = 0; i < len; i++) {
		c = data[i];
		if (c == '\n') {
			line++;
			linestart = i + 1;
		}
		if (instr) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				instr = false;
			continue;
		}
		switch (c) {
		case '"':
			instr = true;
			break;
		case '[':
		case '{':
			if (++depth <= max_depth)
				break;
			if (err != NULL) {
				column = json_utf8_length(data + linestart,
				    i + 1 - linestart);
				err->line = (int)line;
				err->column = (int)column;
				err->position = i + 1;
				snprintf(err->text, sizeof err->text,
				    "nesting too deep");
			}
			return -1;
		case ']':
		case '}':
			if (depth > 0)
				depth--;
			break;
		}
	}
	return 0;
}

static json_t *
parse_with(const char *data, size_t len, size_t max_depth,
    struct json_parse_error *err, size_t flags)
{
	json_error_t	 jerr;
	json_t		*v;
	bool		 big_int, big_real;

	if (err != NULL)
		memset(err, 0, sizeof *err);
	if (json_check_depth(data, len, max_depth, err) != 0)
		return NULL;
	v = json_loadb(data, len, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES |
	    flags, &jerr);
	if (v == NULL && err != NULL) {
		err->line = jerr.line;
		err->column = jerr.column;
		err->position = jerr.position;
		/* valid JSON that cannot be kept exactly: say so plainly */
		big_int = strstr(jerr.text, "too big ") != NULL;
		big_real = strstr(jerr.text, "real number overflow") != NULL;
		err->unstorable = big_int || big_real;
		snprintf(err->text, sizeof err->text, "%s", big_int ?
		    "an integer outside the 64-bit range cannot be stored "
		    "exactly (send it as a string)" : big_real ?
		    "a number too large for a double cannot be stored (send "
		    "it as a string)" : jerr.text);
	}
	return v;
}

/* Length of the first segment of a dot path; *next is after its dot or NULL. */
static size_t
json_segment(const char *path, const char **next)
{
	const char	*dot;

	if ((dot = strchr(path, '.')) == NULL) {
		*next = NULL;
		return strlen(path);
	}
	*next = dot + 1;
	return (size_t)(dot - path);
}

json_t *
json_path_get(const json_t *root, const char *path)
{
	const char	*next;
	json_t		*v = (json_t *)root;
	size_t		 n;

	if (root == NULL || path == NULL)
		return NULL;
	for (;;) {
		if (!json_is_object(v))
			return NULL;
		n = json_segment(path, &next);
		if ((v = json_object_getn(v, path, n)) == NULL || next == NULL)
			return v;
		path = next;
	}
}

int
json_path_del(json_t *root, const char *path)
{
	const char	*next;
	json_t		*v = root;
	size_t		 n;

	if (root == NULL || path == NULL)
		return 0;
	for (;;) {
		if (!json_is_object(v))
			return 0;
		n = json_segment(path, &next);
		if (next == NULL)
			return json_object_deln(v, path, n) == 0;
		if ((v = json_object_getn(v, path, n)) == NULL)
			return 0;
		path = next;
	}
}

int
json_path_set_new(json_t *root, const char *path, json_t *value)
{
	const char	*p, *next;
	json_t		*v, *child;
	size_t		 n;
	int		 rv = -1;

	if (root == NULL || path == NULL || !json_is_object(root))
		goto out;

	/* Fail before changing anything if an intermediate is no object. */
	for (v = root, p = path; v != NULL; p = next) {
		n = json_segment(p, &next);
		if (next == NULL)
			break;
		if ((v = json_object_getn(v, p, n)) != NULL &&
		    !json_is_object(v))
			goto out;
	}

	for (v = root, p = path;; p = next) {
		n = json_segment(p, &next);
		if (next == NULL)
			break;
		if ((child = json_object_getn(v, p, n)) == NULL) {
			child = json_object();
			if (json_object_setn_new(v, p, n, child) != 0)
				goto out;
		}
		v = child;
	}
	rv = json_object_setn_new(v, p, n, value);
	value = NULL;
out:
	json_decref(value);
	return rv;
}

size_t
json_utf8_length(const char *s, size_t len)
{
	size_t	i, n = 0;

	for (i = 0; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80)
			n++;
	}
	return n;
}

json_t *
json_parse(const char *data, size_t len, size_t max_depth,
    struct json_parse_error *err)
{
	return parse_with(data, len, max_depth, err, 0);
}

json_t *
json_parse_any(const char *data, size_t len, size_t max_depth,
    struct json_parse_error *err)
{
	return parse_with(data, len, max_depth, err, JSON_DECODE_ANY);
}
