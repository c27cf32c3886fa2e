/* Growable byte buffer with a hard cap; always NUL-terminated. */
#ifndef EXPORTD_BUF_H
#define EXPORTD_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;
	size_t	 len;
	size_t	 size;	/* allocated */
	size_t	 cap;	/* 0: no cap; appends past cap fail */
};

void	 buf_init(struct buf *, size_t cap);
void	 buf_free(struct buf *);
void	 buf_reset(struct buf *);
/* Append; return 0, or -1 (buffer unchanged) when the cap would be passed. */
int	 buf_add(struct buf *, const void *, size_t);
int	 buf_adds(struct buf *, const char *);
int	 buf_addc(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...) __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list)
	    __attribute__((format(printf, 2, 0)));
/* Take the data out; the caller frees it; the buffer is left empty. */
char	*buf_steal(struct buf *, size_t *len);

#endif
