/*
 * The helpers: the table parse.c resolves names with, and the inline
 * helpers that are not about dates (those are in date.c). Block helpers
 * are in the table too; render.c runs them. A helper gets evaluated
 * arguments (NULL: undefined) and gives a new value or fails with a
 * message; every string it builds is capped by env->cap.
 */

#include <limits.h>
#include <locale.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <wctype.h>

#include "template/internal.h"
#include "util/buf.h"

#define MANY	UINT_MAX

static const struct template_helper helpers[] = {
	{ "if",			HELPER_IF,		true,	1, 1 },
	{ "unless",		HELPER_UNLESS,		true,	1, 1 },
	{ "each",		HELPER_EACH,		true,	1, 1 },
	{ "with",		HELPER_WITH,		true,	1, 1 },
	{ "compare",		HELPER_COMPARE,		true,	3, 3 },
	{ "and",		HELPER_AND,		true,	1, MANY },
	{ "or",			HELPER_OR,		true,	1, MANY },
	{ "dateFormat",		HELPER_DATEFORMAT,	false,	0, 4 },
	{ "dateAdd",		HELPER_DATEADD,		false,	0, 3 },
	{ "timestamp",		HELPER_TIMESTAMP,	false,	0, 2 },
	{ "encodeURI",		HELPER_ENCODEURI,	false,	1, 1 },
	{ "decodeURI",		HELPER_DECODEURI,	false,	1, 1 },
	{ "base64Encode",	HELPER_BASE64ENCODE,	false,	1, 2 },
	{ "base64Decode",	HELPER_BASE64DECODE,	false,	1, 2 },
	{ "jsonSerialize",	HELPER_JSONSERIALIZE,	false,	1, 1 },
	{ "lowercase",		HELPER_LOWERCASE,	false,	1, 1 },
	{ "uppercase",		HELPER_UPPERCASE,	false,	1, 1 },
	{ "join",		HELPER_JOIN,		false,	1, MANY },
	{ "lookup",		HELPER_LOOKUP,		false,	2, 2 },
};

static const char	b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char	hexdig[] = "0123456789ABCDEF";

const struct template_helper *
template_helper_find(const char *name, size_t len)
{
	size_t	i;

	for (i = 0; i < sizeof(helpers) / sizeof(helpers[0]); i++)
		if (strlen(helpers[i].name) == len &&
		    memcmp(helpers[i].name, name, len) == 0)
			return &helpers[i];
	return NULL;
}

/* Fail with a message; returns -1. */
static int
why(struct template_env *env, const char *msg)
{
	snprintf(env->why, sizeof(env->why), "%s", msg);
	return -1;
}

/* The finished string of b as the result. */
static int
done(struct template_env *env, struct buf *b, int rc, json_t **out)
{
	if (rc != 0) {
		buf_free(b);
		return why(env, "result longer than the output cap");
	}
	*out = template_value_string(b->data, b->len);
	buf_free(b);
	return 0;
}

/* String(arg) into b, which the caller set up. */
static int
text_of(struct buf *b, const json_t *arg)
{
	return template_value_text(b, arg);
}

/* encodeURIComponent: all but A-Z a-z 0-9 - _ . ! ~ * ' ( ) as %XX. */
static int
encode_uri(const char *s, size_t len, struct buf *b)
{
	unsigned char	c;
	size_t		i;

	for (i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') ||
		    (c != '\0' && strchr("-_.!~*'()", c) != NULL)) {
			if (buf_addc(b, (char)c) != 0)
				return -1;
			continue;
		}
		if (buf_addc(b, '%') != 0 || buf_addc(b, hexdig[c >> 4]) != 0 ||
		    buf_addc(b, hexdig[c & 15]) != 0)
			return -1;
	}
	return 0;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* The length of the valid UTF-8 sequence at s (of at most n bytes), or 0. */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t	len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4, cp = s[0] & 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return len;
}

/* decodeURIComponent: %XX to bytes, which must make valid UTF-8. */
static int
decode_uri(const char *s, size_t len, struct buf *b, struct template_env *env)
{
	size_t	i, start = b->len;

	for (i = 0; i < len; i++) {
		if (s[i] != '%') {
			if (buf_addc(b, s[i]) != 0)
				return why(env, "result longer than the cap");
			continue;
		}
		if (i + 2 >= len || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
			return why(env, "decodeURI: malformed %-escape");
		if (buf_addc(b, (char)(hexval(s[i + 1]) << 4 |
		    hexval(s[i + 2]))) != 0)
			return why(env, "result longer than the cap");
		i += 2;
	}
	for (i = start; i < b->len; ) {
		size_t	n = utf8_seq((unsigned char *)b->data + i, b->len - i);

		if (n == 0)
			return why(env, "decodeURI: the %-escapes are not "
			    "UTF-8");
		i += n;
	}
	return 0;
}

/* Bytes as UTF-8, each invalid byte replaced by U+FFFD (as Node does). */
static int
add_utf8(struct buf *b, const unsigned char *s, size_t len)
{
	size_t	i = 0, n;

	while (i < len) {
		n = utf8_seq(s + i, len - i);
		if (n == 0) {
			if (buf_add(b, "\xef\xbf\xbd", 3) != 0)
				return -1;
			i++;
			continue;
		}
		if (buf_add(b, s + i, n) != 0)
			return -1;
		i += n;
	}
	return 0;
}

/* The code point at s (valid UTF-8 of len n, from jansson), or the byte. */
static unsigned
utf8_cp(const unsigned char *s, size_t n)
{
	if (n == 2)
		return (unsigned)(s[0] & 0x1f) << 6 | (s[1] & 0x3f);
	if (n == 3)
		return (unsigned)(s[0] & 0x0f) << 12 | (unsigned)(s[1] & 0x3f)
		    << 6 | (s[2] & 0x3f);
	if (n == 4)
		return (unsigned)(s[0] & 0x07) << 18 | (unsigned)(s[1] & 0x3f)
		    << 12 | (unsigned)(s[2] & 0x3f) << 6 | (s[3] & 0x3f);
	return s[0];
}

static int
add_cp(struct buf *b, unsigned cp)
{
	unsigned char	u[4];

	if (cp < 0x80)
		return buf_addc(b, (char)cp);
	if (cp < 0x800) {
		u[0] = (unsigned char)(0xc0 | cp >> 6);
		u[1] = (unsigned char)(0x80 | (cp & 0x3f));
		return buf_add(b, u, 2);
	}
	if (cp < 0x10000) {
		u[0] = (unsigned char)(0xe0 | cp >> 12);
		u[1] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (unsigned char)(0x80 | (cp & 0x3f));
		return buf_add(b, u, 3);
	}
	u[0] = (unsigned char)(0xf0 | cp >> 18);
	u[1] = (unsigned char)(0x80 | (cp >> 12 & 0x3f));
	u[2] = (unsigned char)(0x80 | (cp >> 6 & 0x3f));
	u[3] = (unsigned char)(0x80 | (cp & 0x3f));
	return buf_add(b, u, 4);
}

static locale_t		utf8_locale;
static pthread_once_t	utf8_once = PTHREAD_ONCE_INIT;

static void
utf8_locale_init(void)
{
	utf8_locale = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
}

/* toLowerCase/toUpperCase, one code point to one (C.UTF-8's tables;
 * ASCII only if that locale is missing). */
static int
change_case(const char *s, size_t len, bool upper, struct buf *b)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, n;
	unsigned		 cp;

	pthread_once(&utf8_once, utf8_locale_init);
	while (i < len) {
		n = utf8_seq(u + i, len - i);
		if (n == 0)
			n = 1;
		cp = utf8_cp(u + i, n);
		if (cp < 0x80)
			cp = upper ? (unsigned)(cp >= 'a' && cp <= 'z' ?
			    cp - 32 : cp) : (unsigned)(cp >= 'A' && cp <= 'Z' ?
			    cp + 32 : cp);
		else if (utf8_locale != (locale_t)0 && n > 1)
			cp = (unsigned)(upper ? towupper_l((wint_t)cp,
			    utf8_locale) : towlower_l((wint_t)cp, utf8_locale));
		if (n == 1 && u[i] >= 0x80) {
			if (buf_addc(b, (char)u[i]) != 0)
				return -1;
		} else if (add_cp(b, cp) != 0)
			return -1;
		i += n;
	}
	return 0;
}

static int
b64_encode(const unsigned char *s, size_t len, struct buf *b)
{
	unsigned	v;
	size_t		i, n;
	char		q[4];

	for (i = 0; i < len; i += 3) {
		n = len - i < 3 ? len - i : 3;
		v = (unsigned)s[i] << 16 | (n > 1 ? (unsigned)s[i + 1] << 8 : 0) |
		    (n > 2 ? s[i + 2] : 0);
		q[0] = b64[v >> 18];
		q[1] = b64[v >> 12 & 63];
		q[2] = n > 1 ? b64[v >> 6 & 63] : '=';
		q[3] = n > 2 ? b64[v & 63] : '=';
		if (buf_add(b, q, 4) != 0)
			return -1;
	}
	return 0;
}

/* Node's lenient base64: both alphabets, characters outside them
 * skipped, padding optional, stops at the first "=". */
static int
b64_decode(const char *s, size_t len, struct buf *b)
{
	unsigned	v = 0;
	size_t		i;
	int		n = 0, d;
	char		c, q[3];

	for (i = 0; i < len && s[i] != '='; i++) {
		c = s[i];
		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '+' || c == '-')
			d = 62;
		else if (c == '/' || c == '_')
			d = 63;
		else
			continue;
		v = v << 6 | (unsigned)d;
		if (++n == 4) {
			q[0] = (char)(v >> 16 & 255);
			q[1] = (char)(v >> 8 & 255);
			q[2] = (char)(v & 255);
			if (buf_add(b, q, 3) != 0)
				return -1;
			n = 0;
			v = 0;
		}
	}
	/* a last group of 2 or 3 characters holds 1 or 2 bytes */
	q[0] = (char)(n == 2 ? v >> 4 & 255 : v >> 10 & 255);
	q[1] = (char)(v >> 2 & 255);
	return n < 2 ? 0 : buf_add(b, q, (size_t)n - 1);
}

enum encoding { ENC_UTF8, ENC_HEX, ENC_LATIN1, ENC_BASE64, ENC_BAD };

/* A Buffer encoding name as Node spells them (utf8 when absent). */
static enum encoding
encoding_of(const json_t *v)
{
	const char	*s;

	if (v == NULL || !json_is_string(v) || json_string_length(v) == 0)
		return ENC_UTF8;
	s = json_string_value(v);
	if (strcasecmp(s, "utf8") == 0 || strcasecmp(s, "utf-8") == 0)
		return ENC_UTF8;
	if (strcasecmp(s, "hex") == 0)
		return ENC_HEX;
	if (strcasecmp(s, "latin1") == 0 || strcasecmp(s, "binary") == 0 ||
	    strcasecmp(s, "ascii") == 0)
		return ENC_LATIN1;
	if (strcasecmp(s, "base64") == 0)
		return ENC_BASE64;
	return ENC_BAD;
}

/* The bytes of text s in an encoding (Buffer.from(s, enc)). */
static int
bytes_from(const char *s, size_t len, enum encoding enc, struct buf *b)
{
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i, n;

	switch (enc) {
	case ENC_HEX:
		for (i = 0; i + 1 < len && hexval(s[i]) >= 0 &&
		    hexval(s[i + 1]) >= 0; i += 2)
			if (buf_addc(b, (char)(hexval(s[i]) << 4 |
			    hexval(s[i + 1]))) != 0)
				return -1;
		return 0;
	case ENC_LATIN1:
		for (i = 0; i < len; i += n) {
			n = utf8_seq(u + i, len - i);
			n = n ? n : 1;
			if (buf_addc(b, (char)(utf8_cp(u + i, n) & 255)) != 0)
				return -1;
		}
		return 0;
	case ENC_BASE64:
		return b64_decode(s, len, b);
	default:
		return buf_add(b, s, len);
	}
}

/* Bytes as text in an encoding (buffer.toString(enc)). */
static int
bytes_to(const unsigned char *s, size_t len, enum encoding enc,
    struct buf *b)
{
	size_t	i;

	switch (enc) {
	case ENC_HEX:
		for (i = 0; i < len; i++)
			if (buf_printf(b, "%02x", s[i]) != 0)
				return -1;
		return 0;
	case ENC_LATIN1:
		for (i = 0; i < len; i++)
			if (add_cp(b, s[i]) != 0)
				return -1;
		return 0;
	case ENC_BASE64:
		return b64_encode(s, len, b);
	default:
		return add_utf8(b, s, len);
	}
}

/* base64Encode value [encoding] and base64Decode value [encoding]. */
static int
base64(json_t **args, size_t nargs, bool encode, struct template_env *env,
    json_t **out)
{
	enum encoding	 enc = encoding_of(nargs > 1 ? args[1] : NULL);
	struct buf	 text, bytes, res;
	int		 rc;

	if (enc == ENC_BAD)
		return why(env, encode ? "base64Encode: unknown encoding" :
		    "base64Decode: unknown encoding");
	buf_init(&text, env->cap);
	buf_init(&bytes, env->cap);
	buf_init(&res, env->cap);
	rc = text_of(&text, args[0]);
	if (rc == 0 && encode)
		rc = bytes_from(text.data, text.len, enc, &bytes) != 0 ||
		    b64_encode((unsigned char *)bytes.data, bytes.len, &res);
	else if (rc == 0)
		rc = b64_decode(text.data, text.len, &bytes) != 0 ||
		    bytes_to((unsigned char *)bytes.data, bytes.len, enc, &res);
	buf_free(&text);
	buf_free(&bytes);
	return done(env, &res, rc, out);
}

/* join delimiter value...: arrays spread one level, String() of each. */
static int
join(json_t **args, size_t nargs, struct template_env *env, json_t **out)
{
	struct buf	 delim, b;
	size_t		 i, k, n = 0;
	int		 rc;

	buf_init(&delim, env->cap);
	buf_init(&b, env->cap);
	rc = text_of(&delim, args[0]);
	for (i = 1; i < nargs && rc == 0; i++) {
		if (args[i] != NULL && json_is_array(args[i])) {
			for (k = 0; k < json_array_size(args[i]) && rc == 0;
			    k++, n++)
				rc = (n > 0 && buf_add(&b, delim.data,
				    delim.len) != 0) || text_of(&b,
				    json_array_get(args[i], k)) != 0;
			continue;
		}
		rc = (n > 0 && buf_add(&b, delim.data, delim.len) != 0) ||
		    text_of(&b, args[i]) != 0;
		n++;
	}
	buf_free(&delim);
	return done(env, &b, rc, out);
}

/* lookup object key: the member or element, or an array's length. */
static int
lookup(json_t **args, struct template_env *env, json_t **out)
{
	struct buf	 key;
	json_t		*v = NULL;

	*out = NULL;
	if (args[0] == NULL || (!json_is_object(args[0]) &&
	    !json_is_array(args[0])))
		return 0;
	buf_init(&key, env->cap);
	if (text_of(&key, args[1]) != 0) {
		buf_free(&key);
		return why(env, "lookup: key longer than the cap");
	}
	if (json_is_object(args[0]))
		v = json_incref(json_object_getn(args[0], key.data, key.len));
	else if (strcmp(key.data, "length") == 0)
		v = json_integer((json_int_t)json_array_size(args[0]));
	else if (key.len > 0 && key.len < 19 && (key.data[0] != '0' ||
	    key.len == 1) && strspn(key.data, "0123456789") == key.len)
		v = json_incref(json_array_get(args[0],
		    (size_t)strtoull(key.data, NULL, 10)));
	buf_free(&key);
	*out = v;
	return 0;
}

int
template_helper_run(enum template_helper_id id, json_t **args, size_t nargs,
    struct template_env *env, json_t **out)
{
	struct buf	text, b;
	int		rc;

	*out = NULL;
	switch (id) {
	case HELPER_DATEFORMAT:
		return template_date_format(args, nargs, env, out);
	case HELPER_DATEADD:
		return template_date_add(args, nargs, env, out);
	case HELPER_TIMESTAMP:
		return template_date_timestamp(args, nargs, env, out);
	case HELPER_BASE64ENCODE:
	case HELPER_BASE64DECODE:
		return base64(args, nargs, id == HELPER_BASE64ENCODE, env, out);
	case HELPER_JOIN:
		return join(args, nargs, env, out);
	case HELPER_LOOKUP:
		return lookup(args, env, out);
	case HELPER_JSONSERIALIZE:
		if (args[0] == NULL)
			return 0;
		buf_init(&b, env->cap);
		return done(env, &b, template_value_json(&b, args[0]), out);
	default:
		break;
	}
	buf_init(&text, env->cap);
	buf_init(&b, env->cap);
	rc = text_of(&text, args[0]);
	if (rc == 0 && id == HELPER_ENCODEURI)
		rc = encode_uri(text.data, text.len, &b);
	else if (rc == 0 && (id == HELPER_LOWERCASE || id == HELPER_UPPERCASE))
		rc = change_case(text.data, text.len, id == HELPER_UPPERCASE,
		    &b);
	else if (rc == 0 && id == HELPER_DECODEURI &&
	    decode_uri(text.data, text.len, &b, env) != 0) {
		buf_free(&text);
		buf_free(&b);
		return -1;
	} else if (rc == 0 && id != HELPER_DECODEURI) {
		buf_free(&text);
		buf_free(&b);
		return why(env, "not an inline helper");
	}
	buf_free(&text);
	return done(env, &b, rc, out);
}
