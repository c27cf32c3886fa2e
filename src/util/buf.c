/* Growable byte buffer with a hard cap; always NUL-terminated. */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/xmalloc.h"

#define BUF_MINSIZE 64

/* Shared terminator for buffers that own no memory yet (size 0). */
static char	buf_empty[1];

static int	buf_reserve(struct buf *, size_t);

void
buf_init(struct buf *b, size_t cap)
{
	b->data = buf_empty;
	b->len = 0;
	b->size = 0;
	b->cap = cap;
}

void
buf_free(struct buf *b)
{
	if (b->size != 0)
		free(b->data);
	b->data = buf_empty;
	b->len = 0;
	b->size = 0;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	if (b->size != 0)
		b->data[0] = '\0';
}

/* Make room for n more bytes plus the terminator; -1 past the cap. */
static int
buf_reserve(struct buf *b, size_t n)
{
	size_t	 need, size;
	char	*p;

	if (n > SIZE_MAX - 1 - b->len)
		return -1;
	if (b->cap != 0 && b->len + n > b->cap)
		return -1;
	need = b->len + n + 1;
	if (need <= b->size)
		return 0;

	size = b->size < BUF_MINSIZE ? BUF_MINSIZE : b->size;
	while (size < need) {
		if (size > SIZE_MAX / 2) {
			size = need;
			break;
		}
		size *= 2;
	}
	if (b->cap != 0 && b->cap < SIZE_MAX && size > b->cap + 1)
		size = b->cap + 1;

	if (b->size == 0) {
		p = xmalloc(size);
		p[0] = '\0';
	} else
		p = xrealloc(b->data, size);
	b->data = p;
	b->size = size;
	return 0;
}

int
buf_add(struct buf *b, const void *p, size_t n)
{
	if (buf_reserve(b, n) != 0)
		return -1;
	if (n != 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int
buf_adds(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_addc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	int	rv;

	va_start(ap, fmt);
	rv = buf_vprintf(b, fmt, ap);
	va_end(ap);
	return rv;
}

int
buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
	va_list	ap2;
	int	n;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return -1;
	if (buf_reserve(b, (size_t)n) != 0)
		return -1;
	va_copy(ap2, ap);
	n = vsnprintf(b->data + b->len, b->size - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		b->data[b->len] = '\0';
		return -1;
	}
	b->len += (size_t)n;
	return 0;
}

char *
buf_steal(struct buf *b, size_t *len)
{
	char	*p;

	if (len != NULL)
		*len = b->len;
	if (b->size == 0)
		p = xstrdup("");
	else
		p = b->data;
	b->data = buf_empty;
	b->len = 0;
	b->size = 0;
	return p;
}
