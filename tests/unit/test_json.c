/* Unit tests for util/json. */

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>
#include <jansson.h>

#include "util/buf.h"
#include "util/json.h"

/* Render v (stealing it) and compare with want. */
static void
expect_render(json_t *v, const char *want, size_t wantlen)
{
	char	*s;
	size_t	 len = 0;

	cr_assert_not_null(v);
	s = json_render_new(v, &len);
	cr_assert_not_null(s);
	cr_assert_eq(len, wantlen, "length %zu != %zu for %s", len, wantlen,
	    s);
	cr_assert_eq(memcmp(s, want, wantlen + 1), 0, "got %s want %s", s,
	    want);
	free(s);
	json_decref(v);
}

#define RENDER(v, want) expect_render((v), (want), sizeof(want) - 1)

static json_t *
parse(const char *s, size_t max_depth, struct json_parse_error *err)
{
	return json_parse(s, strlen(s), max_depth, err);
}

/* A string of n '[' followed (if closed) by n ']'. */
static char *
nested(size_t n, int closed)
{
	char	*s;

	s = malloc(2 * n + 1);
	cr_assert_not_null(s);
	memset(s, '[', n);
	memset(s + n, ']', closed ? n : 0);
	s[closed ? 2 * n : n] = '\0';
	return s;
}

Test(json, render_reals)
{
	RENDER(json_real(0.1), "0.1");
	RENDER(json_real(1.0), "1.0");
	RENDER(json_real(-1.0), "-1.0");
	RENDER(json_real(0.0), "0.0");
	RENDER(json_real(-0.0), "-0.0");
	RENDER(json_real(1.5), "1.5");
	RENDER(json_real(100.0), "100.0");
	RENDER(json_real(1e300), "1e+300");
	RENDER(json_real(1e16), "1e+16");
	RENDER(json_real(1e-7), "1e-07");
	RENDER(json_real(123456.789), "123456.789");
	RENDER(json_real(0.1 + 0.2), "0.30000000000000004");
	RENDER(json_real(1.0 / 3.0), "0.3333333333333333");
	RENDER(json_real(2.0 / 3.0), "0.6666666666666666");
	RENDER(json_real(5e-324), "4.94065645841247e-324");
	RENDER(json_real(1.7976931348623157e308), "1.7976931348623157e+308");
	RENDER(json_real(9007199254740993.0), "9007199254740992.0");
	RENDER(json_real(123456789012345.0), "123456789012345.0");
}

/* Any double renders to text that reads back exactly and stays a real. */
Test(json, render_reals_round_trip)
{
	uint64_t	 bits;
	double		 d;
	char		*s;
	json_t		*v, *back;
	int		 i;

	srand(4242);
	for (i = 0; i < 100000; i++) {
		bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^
		    (uint64_t)rand();
		memcpy(&d, &bits, sizeof d);
		if (!isfinite(d))
			continue;
		v = json_real(d);
		s = json_render_new(v, NULL);
		cr_assert(strpbrk(s, ".e") != NULL, "%s", s);
		cr_assert_eq(strtod(s, NULL), d, "%s", s);
		cr_assert_eq(signbit(strtod(s, NULL)), signbit(d), "%s", s);
		back = json_loads(s, JSON_DECODE_ANY, NULL);
		cr_assert(json_is_real(back), "%s", s);
		json_decref(back);
		free(s);
		json_decref(v);
	}
}

Test(json, render_integers)
{
	RENDER(json_integer(0), "0");
	RENDER(json_integer(-7), "-7");
	RENDER(json_integer(123456789012345678LL), "123456789012345678");
	RENDER(json_integer(INT64_MAX), "9223372036854775807");
	RENDER(json_integer(INT64_MIN), "-9223372036854775808");
}

Test(json, render_strings)
{
	RENDER(json_string(""), "\"\"");
	RENDER(json_string("plain / slash"), "\"plain / slash\"");
	RENDER(json_string("q\"b\\e"), "\"q\\\"b\\\\e\"");
	RENDER(json_string("\b\f\n\r\t"), "\"\\b\\f\\n\\r\\t\"");
	RENDER(json_string("\x01\x1f\x1b"), "\"\\u0001\\u001f\\u001b\"");
	RENDER(json_string("del\x7f"), "\"del\x7f\"");
	RENDER(json_stringn("a\0b", 3), "\"a\\u0000b\"");
	RENDER(json_stringn("\0", 1), "\"\\u0000\"");
	RENDER(json_string("x\xe2\x80\xa8y\xe2\x80\xa9z"),
	    "\"x\\u2028y\\u2029z\"");
	RENDER(json_string("\xe2\x80\xa8"), "\"\\u2028\"");
	/* U+2027 and U+202A are left alone. */
	RENDER(json_string("\xe2\x80\xa7\xe2\x80\xaa"),
	    "\"\xe2\x80\xa7\xe2\x80\xaa\"");
	RENDER(json_string("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80"),
	    "\"caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80\"");
}

Test(json, render_containers)
{
	json_t	*o, *a;

	RENDER(json_object(), "{}");
	RENDER(json_array(), "[]");
	RENDER(json_true(), "true");
	RENDER(json_false(), "false");
	RENDER(json_null(), "null");

	o = json_object();
	json_object_set_new(o, "zeta", json_integer(1));
	json_object_set_new(o, "alpha", json_real(2.0));
	json_object_set_new(o, "mid", json_null());
	a = json_array();
	json_array_append_new(a, json_true());
	json_array_append_new(a, json_string("s"));
	json_array_append_new(a, json_object());
	json_array_append_new(a, json_array());
	json_object_set_new(o, "list", a);
	json_object_set_new(o, "q\"k\n", json_false());
	json_object_setn_new(o, "n\0k", 3, json_integer(3));
	RENDER(o, "{\"zeta\":1,\"alpha\":2.0,\"mid\":null,"
	    "\"list\":[true,\"s\",{},[]],\"q\\\"k\\n\":false,"
	    "\"n\\u0000k\":3}");
}

Test(json, render_parse_round_trip)
{
	const char	*doc = "{\"b\":[1,2.5,-0.0,\"x\\u0000y\"],\"a\":"
			    "{\"c\":null,\"d\":true},\"e\":\"\\u2028\"}";
	json_t		*v;

	v = parse(doc, 32, NULL);
	cr_assert_not_null(v);
	expect_render(v, doc, strlen(doc));
}

Test(json, render_cap)
{
	struct buf	 b;
	json_t		*v;

	v = json_pack("{s:s}", "key", "a long enough value");
	buf_init(&b, 10);
	buf_adds(&b, "pre");
	cr_assert_eq(json_render(&b, v), -1);
	cr_assert_eq(b.len, 3);
	cr_assert_str_eq(b.data, "pre");
	buf_free(&b);

	buf_init(&b, 0);
	buf_adds(&b, "pre");
	cr_assert_eq(json_render(&b, v), 0);
	cr_assert_str_eq(b.data, "pre{\"key\":\"a long enough value\"}");
	buf_free(&b);
	json_decref(v);
}

Test(json, parse_depth)
{
	struct json_parse_error	 err;
	json_t			*v;
	char			*s;

	s = nested(32, 1);
	v = parse(s, 32, &err);
	cr_assert_not_null(v, "%s", err.text);
	json_decref(v);
	free(s);

	s = nested(33, 1);
	v = parse(s, 32, &err);
	cr_assert_null(v);
	cr_assert_str_eq(err.text, "nesting too deep");
	cr_assert_eq(err.line, 1);
	cr_assert_eq(err.position, 33);
	free(s);

	v = parse("{\"a\":[{\"b\":[]}]}", 4, NULL);
	cr_assert_not_null(v);
	json_decref(v);
	v = parse("{\"a\":[{\"b\":[]}]}", 3, &err);
	cr_assert_null(v);
	cr_assert_str_eq(err.text, "nesting too deep");

	/* Brackets inside strings do not count. */
	v = parse("[\"[[[[{{{{\", \"\\\"[[[[\", \"\\\\\"]", 1, &err);
	cr_assert_not_null(v, "%s", err.text);
	json_decref(v);
	v = parse("[\"\\\\\", [\"x\"]]", 1, &err);
	cr_assert_null(v);
	cr_assert_str_eq(err.text, "nesting too deep");
}

Test(json, parse_deep_input_fails_cleanly)
{
	struct json_parse_error	 err;
	json_t			*v;
	char			*s;

	s = nested(100000, 0);
	v = parse(s, 32, &err);
	cr_assert_null(v);
	cr_assert_str_eq(err.text, "nesting too deep");
	free(s);

	s = nested(100000, 1);
	v = parse(s, 64, &err);
	cr_assert_null(v);
	cr_assert_str_eq(err.text, "nesting too deep");

	/* Even with a huge cap, jansson's own limit gives an error. */
	v = parse(s, 1000000, &err);
	cr_assert_null(v);
	cr_assert_str_neq(err.text, "");
	free(s);

	s = malloc(200001);
	cr_assert_not_null(s);
	for (size_t i = 0; i < 100000; i++)
		memcpy(s + 2 * i, "{\"", 2);
	s[200000] = '\0';
	v = parse(s, 32, &err);
	cr_assert_null(v);
	free(s);
}

Test(json, parse_strictness)
{
	struct json_parse_error	 err;
	json_t			*v;

	v = parse("{\"a\":1,\"a\":2}", 32, &err);
	cr_assert_null(v);
	cr_assert_eq(strncmp(err.text, "duplicate object key", 20), 0, "%s",
	    err.text);
	v = parse("{\"x\":{\"a\":1,\"b\":{},\"a\":2}}", 32, &err);
	cr_assert_null(v);

	v = parse("{\"a\":1} x", 32, &err);
	cr_assert_null(v);
	cr_assert_str_neq(err.text, "");
	v = parse("{\"a\":1,}", 32, &err);
	cr_assert_null(v);
	v = parse("", 32, &err);
	cr_assert_null(v);
	v = parse("{\n\"a\": tru}", 32, &err);
	cr_assert_null(v);
	cr_assert_eq(err.line, 2);
	v = parse("[NaN]", 32, &err);
	cr_assert_null(v);
	v = json_parse("[1]\0", 4, 32, &err);
	cr_assert_null(v);

	v = parse("[\"a\\u0000b\"]", 32, &err);
	cr_assert_not_null(v, "%s", err.text);
	cr_assert_eq(json_string_length(json_array_get(v, 0)), 3);
	cr_assert_eq(memcmp(json_string_value(json_array_get(v, 0)), "a\0b",
	    3), 0);
	json_decref(v);

	v = json_parse("{\"a\":[1,2]}", 11, 2, NULL);
	cr_assert_not_null(v);
	json_decref(v);
}

Test(json, path_get)
{
	json_t	*root, *v;

	root = parse("{\"a\":{\"b\":{\"c\":1}},\"x\":2,\"s\":\"str\"}", 32,
	    NULL);
	cr_assert_not_null(root);
	v = json_path_get(root, "a.b.c");
	cr_assert(json_is_integer(v));
	cr_assert_eq(json_integer_value(v), 1);
	cr_assert(json_is_object(json_path_get(root, "a.b")));
	cr_assert_eq(json_path_get(root, "a"), json_object_get(root, "a"));
	cr_assert_eq(json_integer_value(json_path_get(root, "x")), 2);
	cr_assert_null(json_path_get(root, "x.y"));
	cr_assert_null(json_path_get(root, "s.length"));
	cr_assert_null(json_path_get(root, "a.z"));
	cr_assert_null(json_path_get(root, "a.b.c.d"));
	cr_assert_null(json_path_get(root, "nope"));
	cr_assert_null(json_path_get(root, ""));
	cr_assert_null(json_path_get(root, "a."));
	cr_assert_null(json_path_get(json_object_get(root, "x"), "x"));
	json_decref(root);
}

Test(json, path_del)
{
	json_t	*root;
	char	*s;

	root = parse("{\"a\":{\"b\":{\"c\":1,\"d\":2}},\"x\":2}", 32, NULL);
	cr_assert_eq(json_path_del(root, "a.b.c"), 1);
	cr_assert_eq(json_path_del(root, "a.b.c"), 0);
	cr_assert_eq(json_path_del(root, "a.b.d"), 1);
	cr_assert(json_is_object(json_path_get(root, "a.b")));
	cr_assert_eq(json_object_size(json_path_get(root, "a.b")), 0);
	cr_assert_eq(json_path_del(root, "x.y"), 0);
	cr_assert_eq(json_path_del(root, "q.r"), 0);
	cr_assert_eq(json_path_del(root, "x"), 1);
	s = json_render_new(root, NULL);
	cr_assert_str_eq(s, "{\"a\":{\"b\":{}}}");
	free(s);
	json_decref(root);
}

Test(json, path_set_new)
{
	json_t	*root;
	char	*s;

	root = json_object();
	cr_assert_eq(json_path_set_new(root, "a.b.c", json_integer(1)), 0);
	cr_assert_eq(json_path_set_new(root, "a.b.d", json_string("v")), 0);
	cr_assert_eq(json_path_set_new(root, "x", json_integer(2)), 0);
	cr_assert_eq(json_path_set_new(root, "a.b.c", json_true()), 0);
	/* An intermediate that is not an object: nothing changes. */
	cr_assert_eq(json_path_set_new(root, "x.y.z", json_integer(3)), -1);
	cr_assert_eq(json_path_set_new(root, "a.b.d.e", json_integer(4)), -1);
	cr_assert_eq(json_path_set_new(json_object_get(root, "x"), "k",
	    json_integer(5)), -1);
	s = json_render_new(root, NULL);
	cr_assert_str_eq(s, "{\"a\":{\"b\":{\"c\":true,\"d\":\"v\"}},\"x\":2}");
	free(s);
	cr_assert_eq(json_path_set_new(root, "a.n\xff", json_integer(1)), -1);
	cr_assert_null(json_object_get(root, "n"));
	json_decref(root);
}

Test(json, utf8_length)
{
	cr_assert_eq(json_utf8_length("", 0), 0);
	cr_assert_eq(json_utf8_length("abc", 3), 3);
	cr_assert_eq(json_utf8_length("a\0c", 3), 3);
	cr_assert_eq(json_utf8_length("\xc3\xa9", 2), 1);
	cr_assert_eq(json_utf8_length("\xe6\x97\xa5\xe6\x9c\xac", 6), 2);
	cr_assert_eq(json_utf8_length("\xf0\x9f\x98\x80!", 5), 2);
	cr_assert_eq(json_utf8_length("caf\xc3\xa9", 5), 4);
}
