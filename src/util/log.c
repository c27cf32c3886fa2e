/* Leveled logging to stderr, one write per line. */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "util/isotime.h"
#include "util/log.h"

#define LOG_LINEMAX 8192

enum log_level	log_threshold = LOG_INFO;

static const char *const log_names[] = {
	[LOG_ERROR] = "ERROR",
	[LOG_WARN] = "WARN",
	[LOG_INFO] = "INFO",
	[LOG_DEBUG] = "DEBUG",
};

static const char *const log_json_names[] = {
	[LOG_ERROR] = "error",
	[LOG_WARN] = "warn",
	[LOG_INFO] = "info",
	[LOG_DEBUG] = "debug",
};

enum log_format	log_format = LOG_TEXT;

static size_t	log_utf8_seq(const unsigned char *, size_t);
static unsigned	log_utf8_cp(const unsigned char *, size_t, size_t *);

int
log_level_parse(const char *s, enum log_level *level)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "error") == 0)
		*level = LOG_ERROR;
	else if (strcasecmp(s, "warn") == 0 || strcasecmp(s, "warning") == 0)
		*level = LOG_WARN;
	else if (strcasecmp(s, "info") == 0)
		*level = LOG_INFO;
	else if (strcasecmp(s, "debug") == 0)
		*level = LOG_DEBUG;
	else
		return -1;
	return 0;
}

int
log_format_parse(const char *s, enum log_format *f)
{
	if (s == NULL)
		return -1;
	if (strcasecmp(s, "text") == 0)
		*f = LOG_TEXT;
	else if (strcasecmp(s, "json") == 0)
		*f = LOG_JSON;
	else
		return -1;
	return 0;
}

/* A line being built, cut (never past its size) when too long. */
struct line {
	char	buf[LOG_LINEMAX];
	size_t	len;
};

static void
line_add(struct line *l, const char *s, size_t n)
{
	if (n > sizeof(l->buf) - 1 - l->len)
		n = sizeof(l->buf) - 1 - l->len;
	memcpy(l->buf + l->len, s, n);
	l->len += n;
}

static void __attribute__((format(printf, 2, 3)))
line_printf(struct line *l, const char *fmt, ...)
{
	va_list	ap;
	int	rv;

	va_start(ap, fmt);
	rv = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (rv < 0)
		return;
	l->len += (size_t)rv;
	if (l->len > sizeof(l->buf) - 1)
		l->len = sizeof(l->buf) - 1;
}

/* The line and a newline, in one write (the newline replaces the last
 * byte of a line that filled the buffer). */
static void
line_write(struct line *l)
{
	size_t	off;
	ssize_t	n;

	if (l->len > sizeof(l->buf) - 1)
		l->len = sizeof(l->buf) - 1;
	l->buf[l->len++] = '\n';
	for (off = 0; off < l->len; off += (size_t)n) {
		n = write(STDERR_FILENO, l->buf + off, l->len - off);
		if (n == -1) {
			if (errno == EINTR)
				n = 0;
			else
				break;
		}
	}
}

/* A JSON string of len bytes of s: '"', '\\' and control characters
 * escaped, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped. It stops
 * where less than keep bytes would be left, so the line stays valid. */
static void
line_json(struct line *l, const char *s, size_t len, size_t keep)
{
	const unsigned char	*p = (const unsigned char *)s;
	char			 tmp[8];
	size_t			 i, n, seq, room = sizeof(l->buf) - 1;

	line_add(l, "\"", 1);
	for (i = 0; i < len; i += seq) {
		seq = 1;
		if (p[i] == '"' || p[i] == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)p[i];
			n = 2;
		} else if (p[i] < 0x20 || p[i] == 0x7f) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", p[i]);
		} else if (p[i] < 0x80) {
			tmp[0] = (char)p[i];
			n = 1;
		} else if ((seq = log_utf8_seq(p + i, len - i)) == 0) {
			seq = 1;
			/* invalid, or a C1 control, U+2028, U+2029 */
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x",
			    log_utf8_cp(p + i, len - i, &seq));
		} else
			n = 0;
		if (l->len + (n > 0 ? n : seq) + keep + 1 > room)
			break;
		line_add(l, n > 0 ? tmp : (const char *)p + i, n > 0 ? n : seq);
	}
	line_add(l, "\"", 1);
}

/* "time":"...","level":"..." opening a JSON line. */
static void
line_json_head(struct line *l, enum log_level level, const char *ts)
{
	line_printf(l, "{\"time\":\"%s\",\"level\":\"%s\"", ts,
	    log_json_names[level]);
}

static void
log_now(char ts[ISOTIME_LEN + 1])
{
	if (isotime_format(isotime_now_ms(), ts) != 0)
		strcpy(ts, "0000-00-00T00:00:00.000Z");
}

void
log_msg(enum log_level level, const char *fmt, ...)
{
	static _Thread_local struct line	 l;
	char					 ts[ISOTIME_LEN + 1];
	char					 msg[LOG_LINEMAX];
	va_list					 ap;
	int					 rv;

	if (level > log_threshold || (unsigned)level >=
	    sizeof log_names / sizeof log_names[0])
		return;
	log_now(ts);
	va_start(ap, fmt);
	rv = vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (rv < 0)
		return;
	if ((size_t)rv >= sizeof msg)
		rv = sizeof msg - 1;
	l.len = 0;
	if (log_format == LOG_JSON) {
		line_json_head(&l, level, ts);
		line_add(&l, ",\"msg\":", 7);
		line_json(&l, msg, (size_t)rv, 2);
		line_add(&l, "}", 1);
	} else {
		line_printf(&l, "%s %s ", ts, log_names[level]);
		line_add(&l, msg, (size_t)rv);
	}
	line_write(&l);
}

void
log_access(const struct log_access *a)
{
	static _Thread_local struct line	 l;
	char					 ts[ISOTIME_LEN + 1];
	char					 path[800], method[100];

	if (log_threshold < LOG_INFO)
		return;
	log_now(ts);
	l.len = 0;
	if (log_format == LOG_TEXT) {
		log_escape(a->path, a->path_len, path, sizeof(path));
		log_escape(a->method, a->method_len, method, sizeof(method));
		line_printf(&l, "%s %s %s %s %u %zu %lldus id=%s%s", ts,
		    log_names[LOG_INFO], method, path, a->status, a->bytes,
		    (long long)a->us, a->id, a->completed ? "" :
		    " (not completed)");
		line_write(&l);
		return;
	}
	line_json_head(&l, LOG_INFO, ts);
	line_add(&l, ",\"method\":", 10);
	line_json(&l, a->method, a->method_len, 200);
	line_add(&l, ",\"path\":", 8);
	line_json(&l, a->path, a->path_len, 200);
	line_printf(&l, ",\"status\":%u,\"bytes\":%zu,\"duration_ms\":"
	    "%lld.%03lld,\"remote\":", a->status, a->bytes,
	    (long long)(a->us / 1000), (long long)(a->us % 1000));
	line_json(&l, a->remote, strlen(a->remote), 120);
	line_add(&l, ",\"id\":", 6);
	line_json(&l, a->id, strlen(a->id), 100);
	line_add(&l, ",\"route\":", 9);
	line_json(&l, a->route, strlen(a->route), 20);
	line_printf(&l, ",\"completed\":%s}", a->completed ? "true" :
	    "false");
	line_write(&l);
}

/* Length of a well-formed UTF-8 sequence at p (its code point in *cp),
 * or 0. */
static size_t
log_utf8_decode(const unsigned char *p, size_t len, unsigned *cp)
{
	size_t	n, i;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		*cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		*cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		*cp = p[0] & 0x07;
	} else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		*cp = *cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && *cp < 0x800) || (n == 4 && *cp < 0x10000) ||
	    *cp > 0x10ffff || (*cp >= 0xd800 && *cp <= 0xdfff))
		return 0;
	return n;
}

/* Length of a valid, printable UTF-8 sequence at p, or 0. C1 controls
 * and line/paragraph separators are escaped too. */
static size_t
log_utf8_seq(const unsigned char *p, size_t len)
{
	unsigned	cp;
	size_t		n = log_utf8_decode(p, len, &cp);

	if (n == 0 || cp < 0xa0 || cp == 0x2028 || cp == 0x2029)
		return 0;
	return n;
}

/* The code point to write as an escape for what log_utf8_seq refused at
 * p: a well-formed one (*seq set to its length), else U+FFFD for one
 * byte. */
static unsigned
log_utf8_cp(const unsigned char *p, size_t len, size_t *seq)
{
	unsigned	cp;
	size_t		n = log_utf8_decode(p, len, &cp);

	*seq = n > 0 ? n : 1;
	return n > 0 ? cp : 0xfffd;
}

/*
 * Escape len bytes of s into out: control characters, invalid UTF-8, '"' and
 * '\' become C-style escapes. Output is cut before an escape or character
 * that would not fit, and is always NUL-terminated.
 */
void
log_escape(const char *s, size_t len, char *out, size_t outsz)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*p = (const unsigned char *)s;
	char			 tmp[5];
	size_t			 i, o = 0, n, seq;

	if (outsz == 0)
		return;
	for (i = 0; i < len; i += seq) {
		seq = 1;
		switch (p[i]) {
		case '\n':
			memcpy(tmp, "\\n", n = 2);
			break;
		case '\r':
			memcpy(tmp, "\\r", n = 2);
			break;
		case '\t':
			memcpy(tmp, "\\t", n = 2);
			break;
		case '"':
			memcpy(tmp, "\\\"", n = 2);
			break;
		case '\\':
			memcpy(tmp, "\\\\", n = 2);
			break;
		default:
			if (p[i] >= 0x20 && p[i] < 0x7f) {
				tmp[0] = (char)p[i];
				n = 1;
			} else if (p[i] >= 0x80 &&
			    (seq = log_utf8_seq(p + i, len - i)) != 0) {
				n = 0;
			} else {
				seq = 1;
				tmp[0] = '\\';
				tmp[1] = 'x';
				tmp[2] = hex[p[i] >> 4];
				tmp[3] = hex[p[i] & 0xf];
				n = 4;
			}
			break;
		}
		if (n == 0) {
			/* A valid multibyte character, copied as is. */
			if (o + seq > outsz - 1)
				break;
			memcpy(out + o, p + i, seq);
			o += seq;
		} else {
			if (o + n > outsz - 1)
				break;
			memcpy(out + o, tmp, n);
			o += n;
		}
	}
	out[o] = '\0';
}
