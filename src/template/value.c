/*
 * JavaScript's conversions on JSON values, as Handlebars and its helpers
 * see them: String(v), Number(v), truthiness, ==, === and <. A missing
 * value (undefined) is NULL. Numbers print as JavaScript prints them
 * (1.0 is "1", 1e21 is "1e+21", 1e-7 is "1e-7").
 */

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/internal.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/xmalloc.h"

/* The kinds of value JavaScript tells apart. */
enum js_type { JS_UNDEFINED, JS_NULL, JS_BOOL, JS_NUMBER, JS_STRING,
	JS_OBJECT };

static enum js_type
js_type(const json_t *v)
{
	if (v == NULL)
		return JS_UNDEFINED;
	switch (json_typeof(v)) {
	case JSON_NULL:
		return JS_NULL;
	case JSON_TRUE:
	case JSON_FALSE:
		return JS_BOOL;
	case JSON_INTEGER:
	case JSON_REAL:
		return JS_NUMBER;
	case JSON_STRING:
		return JS_STRING;
	default:
		return JS_OBJECT;
	}
}

json_t *
template_value_string(const char *s, size_t len)
{
	json_t	*v = json_stringn_nocheck(s, len);

	if (v == NULL)
		abort();
	return v;
}

/* Number::toString: the shortest digits that read back, placed as
 * JavaScript places them. */
static int
number_text(struct buf *b, double d)
{
	char	tmp[40], digits[20];
	int	prec, exp, k = 0, n, i;
	char	*p;

	if (isnan(d))
		return buf_adds(b, "NaN");
	if (isinf(d))
		return buf_adds(b, d < 0 ? "-Infinity" : "Infinity");
	if (d == 0)
		return buf_addc(b, '0');
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*e", prec - 1, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	for (p = tmp + (d < 0); *p != 'e'; p++)
		if (*p != '.')
			digits[k++] = *p;
	exp = atoi(p + 1);
	while (k > 1 && digits[k - 1] == '0')
		k--;
	n = exp + 1;
	if (d < 0 && buf_addc(b, '-') != 0)
		return -1;
	if (k <= n && n <= 21) {
		if (buf_add(b, digits, (size_t)k) != 0)
			return -1;
		for (i = k; i < n; i++)
			if (buf_addc(b, '0') != 0)
				return -1;
		return 0;
	}
	if (0 < n && n <= 21)
		return buf_printf(b, "%.*s.%.*s", n, digits, k - n, digits + n);
	if (-6 < n && n <= 0) {
		if (buf_adds(b, "0.") != 0)
			return -1;
		for (i = n; i < 0; i++)
			if (buf_addc(b, '0') != 0)
				return -1;
		return buf_add(b, digits, (size_t)k);
	}
	if (k == 1)
		return buf_printf(b, "%ce%c%d", digits[0], n - 1 < 0 ? '-' : '+',
		    abs(n - 1));
	return buf_printf(b, "%c.%.*se%c%d", digits[0], k - 1, digits + 1,
	    n - 1 < 0 ? '-' : '+', abs(n - 1));
}

/* String(v) with a guard on nesting (arrays inside arrays). */
static int
value_text(struct buf *b, const json_t *v, unsigned depth)
{
	size_t	i;

	switch (js_type(v)) {
	case JS_UNDEFINED:
	case JS_NULL:
		return 0;
	case JS_BOOL:
		return buf_adds(b, json_is_true(v) ? "true" : "false");
	case JS_NUMBER:
		if (json_is_integer(v))
			return buf_printf(b, "%lld",
			    (long long)json_integer_value(v));
		return number_text(b, json_real_value(v));
	case JS_STRING:
		return buf_add(b, json_string_value(v), json_string_length(v));
	case JS_OBJECT:
		if (!json_is_array(v))
			return buf_adds(b, "[object Object]");
		if (depth >= LIMIT_JSON_DEPTH)
			return 0;
		for (i = 0; i < json_array_size(v); i++) {
			if (i > 0 && buf_addc(b, ',') != 0)
				return -1;
			if (value_text(b, json_array_get(v, i), depth + 1) != 0)
				return -1;
		}
		return 0;
	}
	return 0;
}

int
template_value_text(struct buf *b, const json_t *v)
{
	return value_text(b, v, 0);
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Number(s) for a string: blanks around, "" is 0, decimal with an
 * exponent, 0x/0o/0b integers, Infinity; anything else NaN. */
static double
string_number(const char *s, size_t len)
{
	char	*tmp, *end;
	size_t	 i = 0, e = len, k;
	double	 d;
	int	 base = 0;

	while (i < e && strchr(" \t\n\r\f\v", s[i]) != NULL && s[i] != '\0')
		i++;
	while (e > i && strchr(" \t\n\r\f\v", s[e - 1]) != NULL &&
	    s[e - 1] != '\0')
		e--;
	if (i == e)
		return 0;
	if (e - i > 2 && s[i] == '0') {
		base = (s[i + 1] | 0x20) == 'x' ? 16 : (s[i + 1] | 0x20) ==
		    'o' ? 8 : (s[i + 1] | 0x20) == 'b' ? 2 : 0;
	}
	if (base != 0) {
		d = 0;
		for (k = i + 2; k < e; k++) {
			int	c = s[k] | 0x20, v;

			v = is_digit(s[k]) ? s[k] - '0' : (c >= 'a' && c <= 'f') ?
			    c - 'a' + 10 : 99;
			if (v >= base)
				return NAN;
			d = d * base + v;
		}
		return d;
	}
	k = i + (s[i] == '+' || s[i] == '-');
	if (e - k == 8 && memcmp(s + k, "Infinity", 8) == 0)
		return s[i] == '-' ? -INFINITY : INFINITY;
	/* digits [. digits] [e [sign] digits], at least one digit before
	 * the exponent */
	{
		size_t	 nd = 0;

		while (k < e && is_digit(s[k])) {
			k++;
			nd++;
		}
		if (k < e && s[k] == '.')
			for (k++; k < e && is_digit(s[k]); k++)
				nd++;
		if (nd == 0)
			return NAN;
		if (k < e && (s[k] | 0x20) == 'e') {
			k++;
			if (k < e && (s[k] == '+' || s[k] == '-'))
				k++;
			if (k >= e || !is_digit(s[k]))
				return NAN;
			while (k < e && is_digit(s[k]))
				k++;
		}
		if (k != e)
			return NAN;
	}
	tmp = xstrndup(s + i, e - i);
	d = strtod(tmp, &end);
	free(tmp);
	return d;
}

double
template_value_number(const json_t *v)
{
	struct buf	b;
	double		d;

	switch (js_type(v)) {
	case JS_UNDEFINED:
		return NAN;
	case JS_NULL:
		return 0;
	case JS_BOOL:
		return json_is_true(v) ? 1 : 0;
	case JS_NUMBER:
		return json_number_value(v);
	case JS_STRING:
		return string_number(json_string_value(v),
		    json_string_length(v));
	case JS_OBJECT:
		if (!json_is_array(v))
			return NAN;
		buf_init(&b, LIMIT_TEMPLATE_OUTPUT);
		d = value_text(&b, v, 0) == 0 ? string_number(b.data, b.len) :
		    NAN;
		buf_free(&b);
		return d;
	}
	return NAN;
}

bool
template_value_truthy(const json_t *v)
{
	double	d;

	switch (js_type(v)) {
	case JS_UNDEFINED:
	case JS_NULL:
		return false;
	case JS_BOOL:
		return json_is_true(v);
	case JS_NUMBER:
		d = json_number_value(v);
		return d != 0 && !isnan(d);
	case JS_STRING:
		return json_string_length(v) > 0;
	case JS_OBJECT:
		return true;
	}
	return false;
}

bool
template_value_strict_eq(const json_t *a, const json_t *b)
{
	enum js_type	ta = js_type(a);

	if (ta != js_type(b))
		return false;
	switch (ta) {
	case JS_UNDEFINED:
	case JS_NULL:
		return true;
	case JS_BOOL:
		return json_is_true(a) == json_is_true(b);
	case JS_NUMBER:
		if (json_is_integer(a) && json_is_integer(b))
			return json_integer_value(a) == json_integer_value(b);
		return json_number_value(a) == json_number_value(b);
	case JS_STRING:
		return json_string_length(a) == json_string_length(b) &&
		    memcmp(json_string_value(a), json_string_value(b),
		    json_string_length(a)) == 0;
	case JS_OBJECT:
		return a == b;
	}
	return false;
}

/* ToPrimitive: an array or object as its string; anything else itself.
 * A new reference, or NULL for undefined. */
static json_t *
primitive(const json_t *v)
{
	struct buf	 b;
	json_t		*s;

	if (js_type(v) != JS_OBJECT)
		return v == NULL ? NULL : json_incref((json_t *)v);
	buf_init(&b, LIMIT_TEMPLATE_OUTPUT);
	value_text(&b, v, 0);
	s = template_value_string(b.data, b.len);
	buf_free(&b);
	return s;
}

bool
template_value_loose_eq(const json_t *a, const json_t *b)
{
	enum js_type	 ta = js_type(a), tb = js_type(b);
	json_t		*pa, *pb;
	bool		 eq;

	if (ta == tb)
		return template_value_strict_eq(a, b);
	if ((ta == JS_UNDEFINED || ta == JS_NULL) &&
	    (tb == JS_UNDEFINED || tb == JS_NULL))
		return true;
	if (ta == JS_UNDEFINED || ta == JS_NULL || tb == JS_UNDEFINED ||
	    tb == JS_NULL)
		return false;
	if (ta == JS_OBJECT || tb == JS_OBJECT) {
		pa = primitive(a);
		pb = primitive(b);
		eq = template_value_loose_eq(pa, pb);
		json_decref(pa);
		json_decref(pb);
		return eq;
	}
	/* number, string and boolean against each other: as numbers */
	return template_value_number(a) == template_value_number(b);
}

bool
template_value_less(const json_t *a, const json_t *b, bool or_equal)
{
	json_t	*pa = primitive(a), *pb = primitive(b);
	double	 x, y;
	size_t	 la, lb;
	int	 c;
	bool	 r;

	if (js_type(pa) == JS_STRING && js_type(pb) == JS_STRING) {
		la = json_string_length(pa);
		lb = json_string_length(pb);
		c = memcmp(json_string_value(pa), json_string_value(pb),
		    la < lb ? la : lb);
		if (c == 0)
			c = la < lb ? -1 : la > lb ? 1 : 0;
		r = c < 0 || (or_equal && c == 0);
	} else {
		x = template_value_number(pa);
		y = template_value_number(pb);
		r = !isnan(x) && !isnan(y) && (or_equal ? x <= y : x < y);
	}
	json_decref(pa);
	json_decref(pb);
	return r;
}

/* JSON.stringify(v) with a guard on nesting. */
static int
value_json(struct buf *b, const json_t *v, unsigned depth)
{
	const char	*key;
	json_t		*m;
	size_t		 i;
	bool		 first = true;

	if (depth > LIMIT_JSON_DEPTH)
		return buf_adds(b, "null");
	switch (json_typeof(v)) {
	case JSON_STRING:
		return json_render_text(b, json_string_value(v),
		    json_string_length(v));
	case JSON_ARRAY:
		if (buf_addc(b, '[') != 0)
			return -1;
		for (i = 0; i < json_array_size(v); i++)
			if ((i > 0 && buf_addc(b, ',') != 0) ||
			    value_json(b, json_array_get(v, i), depth + 1) != 0)
				return -1;
		return buf_addc(b, ']');
	case JSON_OBJECT:
		if (buf_addc(b, '{') != 0)
			return -1;
		json_object_foreach((json_t *)v, key, m) {
			if ((!first && buf_addc(b, ',') != 0) ||
			    json_render_text(b, key, strlen(key)) != 0 ||
			    buf_addc(b, ':') != 0 ||
			    value_json(b, m, depth + 1) != 0)
				return -1;
			first = false;
		}
		return buf_addc(b, '}');
	case JSON_NULL:
		return buf_adds(b, "null");
	default:
		return value_text(b, v, depth);
	}
}

int
template_value_json(struct buf *b, const json_t *v)
{
	if (v == NULL)
		return 0;
	return value_json(b, v, 0);
}
