/* JSON helpers over jansson: a compact renderer that prints numbers the way
 * they round-trip (0.1 stays 0.1), strict parsing with caps, dot paths. */
#ifndef EXPORTD_JSON_H
#define EXPORTD_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "util/buf.h"

/* Render v compactly (no spaces) into b: object keys in stored order;
 * strings UTF-8 as is, with ", \, and control characters escaped (\n, \t,
 * \u001f, ...), "/" not escaped, U+2028/U+2029 escaped; integers as %lld;
 * reals with the fewest significant digits (up to 17) that read back to the
 * same double, always with a '.', 'e' or as "1.0" so they stay reals;
 * NaN/Inf cannot occur (jansson refuses them). Returns 0, or -1 if the
 * buffer cap was reached. */
int	 json_render(struct buf *b, const json_t *v);
/* The same into a new string; the caller frees it. */
char	*json_render_new(const json_t *v, size_t *len);
/* Render len bytes of UTF-8 text as a JSON string, quotes included, with
 * the escapes of json_render; for values placed around stored JSON bytes.
 * Returns 0, or -1 if the buffer cap was reached. */
int	 json_render_text(struct buf *b, const char *s, size_t len);

struct json_parse_error {
	int	 line, column;
	size_t	 position;
	char	 text[160];
	int	 unstorable;	/* valid JSON, but a number out of range */
};

/* Parse a whole document from bytes (NUL characters in strings allowed,
 * duplicate keys rejected). Rejects nesting deeper than max_depth with an
 * error text "nesting too deep". Returns a new reference or NULL. */
json_t	*json_parse(const char *data, size_t len, size_t max_depth,
	    struct json_parse_error *err);
/* The same for any JSON value, scalars too. */
json_t	*json_parse_any(const char *data, size_t len, size_t max_depth,
	    struct json_parse_error *err);

/* Look up a dot path ("a.b.c") through nested objects; NULL if absent or if
 * an intermediate value is not an object. Borrowed reference. */
json_t	*json_path_get(const json_t *root, const char *path);
/* Remove the value at a dot path if present; returns 1 if removed. Parent
 * objects are kept even if left empty. */
int	 json_path_del(json_t *root, const char *path);
/* Set the value at a dot path, creating intermediate objects where absent;
 * -1 if an intermediate value exists and is not an object. Steals value. */
int	 json_path_set_new(json_t *root, const char *path, json_t *value);

/* Count Unicode code points of a valid UTF-8 string of len bytes. */
size_t	 json_utf8_length(const char *s, size_t len);

#endif
