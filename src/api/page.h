/* A page of stored rows (a list page, an inbox page): sent in one piece
 * when it is small, else streamed in bounded chunks, each chunk its own
 * short read by keyset, so that a reader costs about LIMIT_PAGE_BUFFER
 * plus one row however large the page and however slow the reader.
 * docs/internals/streaming.md explains the bound and the consistency. */
#ifndef EXPORTD_PAGE_H
#define EXPORTD_PAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "http/request.h"
#include "store/store.h"
#include "util/buf.h"

struct page;

/* What a kind of page reads and writes; arg is the kind's own state. */
struct page_ops {
	/* Up to n rows with seq > after, skip rows passed first, each put
	 * in the page by page_row_begin, bytes into page->out, then
	 * page_row_end; *more: rows remain past the n. A row callback that
	 * returns -1 on their word ends the read early: then the store's
	 * answer is not a failure (page_read sorts that out). */
	enum store_status (*read)(struct page *, int64_t after, int64_t skip,
		    int64_t n, bool *more);
	/* Of the next n rows with seq > after: the seq of the last (after
	 * if none), how many there are, and whether a row follows them.
	 * Reads the index only, never a body. */
	enum store_status (*bound)(struct page *, int64_t after, int64_t n,
		    int64_t *last, int64_t *rows, bool *more);
	/* The bytes after the last row. */
	void	(*close)(struct page *, struct buf *);
	void	(*free)(void *arg);
};

struct page {
	const struct page_ops	*ops;
	void			*arg;
	struct store		*st;
	struct buf		 out;	/* bytes not sent yet, from off */
	size_t			 off;
	int64_t			 after;	/* the page starts after this seq */
	int64_t			 left;	/* rows the page may still take */
	int64_t			 last;	/* seq of the last row taken */
	int64_t			 bound;	/* streaming: no row past this seq */
	int64_t			 rows;	/* rows taken */
	int64_t			 chunk_rows;	/* rows taken by this read */
	uint64_t		 row_bytes;	/* bytes of the rows taken */
	uint64_t		 sent;		/* bytes streamed */
	bool			 more;	/* rows follow the page */
	bool			 full;	/* this read stopped: out is full */
	bool			 done;	/* no more rows: close follows */
	bool			 closed;
	bool			 streaming;
	bool			 failed;	/* a row could not be put */
};

/* A page of at most limit rows after seq after, starting with the bytes
 * open. Takes ownership of arg (ops->free). */
struct page	*page_new(struct store *, const struct page_ops *, void *arg,
		    const char *open, int64_t after, int64_t limit);
void		 page_free(struct page *);
/* Before a row's bytes: 0, or -1 to stop the read (the row is past the
 * page). Adds the separator. */
int		 page_row_begin(struct page *, int64_t seq);
/* After a row's bytes: 0, or -1 to stop the read (out is full). */
int		 page_row_end(struct page *);
/* Read the page's first rows (skipping skip) in the handler, before the
 * head: all of them if they fit LIMIT_PAGE_BUFFER (then done is set),
 * else the first chunk and the page's bound (then more is the answer for
 * the whole page). STORE_OK, or the store's failure. */
enum store_status page_start(struct page *, int64_t skip);
/* Answer 200 with the page; takes ownership of the page. */
void		 page_reply(struct request *, struct page *);

#endif
