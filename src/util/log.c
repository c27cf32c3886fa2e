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

static size_t	log_utf8_seq(const unsigned char *, size_t);

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

void
log_msg(enum log_level level, const char *fmt, ...)
{
	char		 line[LOG_LINEMAX], ts[ISOTIME_LEN + 1];
	const char	*name;
	va_list		 ap;
	size_t		 len, off;
	ssize_t		 n;
	int		 rv;

	if (level > log_threshold)
		return;
	if ((unsigned)level < sizeof log_names / sizeof log_names[0])
		name = log_names[level];
	else
		name = "?";
	if (isotime_format(isotime_now_ms(), ts) != 0)
		strcpy(ts, "0000-00-00T00:00:00.000Z");

	rv = snprintf(line, sizeof line, "%s %s ", ts, name);
	if (rv < 0)
		return;
	len = (size_t)rv;
	va_start(ap, fmt);
	rv = vsnprintf(line + len, sizeof line - len, fmt, ap);
	va_end(ap);
	if (rv < 0)
		return;
	/* Keep room for the newline; an over-long message is cut. */
	len += (size_t)rv;
	if (len > sizeof line - 2)
		len = sizeof line - 2;
	line[len++] = '\n';

	for (off = 0; off < len; off += (size_t)n) {
		n = write(STDERR_FILENO, line + off, len - off);
		if (n == -1) {
			if (errno == EINTR)
				n = 0;
			else
				break;
		}
	}
}

/* Length of a valid, printable UTF-8 sequence at p, or 0. */
static size_t
log_utf8_seq(const unsigned char *p, size_t len)
{
	size_t		n, i;
	unsigned	cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		cp = p[0] & 0x07;
	} else
		return 0;
	if (n > len)
		return 0;
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	/* C1 controls and line/paragraph separators are escaped too. */
	if (cp < 0xa0 || cp == 0x2028 || cp == 0x2029)
		return 0;
	return n;
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
