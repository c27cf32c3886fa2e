/* Pages of stored rows, in one piece or streamed (see page.h). */
#include <microhttpd.h>
#include <stdlib.h>
#include <string.h>

#include "api/page.h"
#include "http/response.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/xmalloc.h"

struct page *
page_new(struct store *st, const struct page_ops *ops, void *arg,
    const char *open, int64_t after, int64_t limit)
{
	struct page	*p;

	p = xcalloc(1, sizeof(*p));
	p->ops = ops;
	p->arg = arg;
	p->st = st;
	buf_init(&p->out, 0);
	buf_adds(&p->out, open);
	p->after = p->last = after;
	p->left = limit;
	return p;
}

void
page_free(struct page *p)
{
	if (p == NULL)
		return;
	if (p->ops->free != NULL)
		p->ops->free(p->arg);
	buf_free(&p->out);
	free(p);
}

static void
page_free_cb(void *cls)
{
	page_free(cls);
}

int
page_row_begin(struct page *p, int64_t seq)
{
	if (p->streaming && seq > p->bound) {
		p->done = true;
		return -1;
	}
	if (p->rows > 0)
		buf_addc(&p->out, ',');
	p->last = seq;
	p->row_bytes -= p->out.len;	/* plus out.len at the end */
	return 0;
}

int
page_row_end(struct page *p)
{
	p->row_bytes += p->out.len;
	p->rows++;
	p->chunk_rows++;
	p->left--;
	if (p->out.len - p->off < LIMIT_PAGE_BUFFER)
		return 0;
	p->full = true;
	return -1;
}

/* Rows for about LIMIT_PAGE_BUFFER bytes by the sizes seen so far (few
 * when rows are large, so that a read passes few rows it cannot take),
 * and no more than the page may still take. */
static int64_t
page_chunk(const struct page *p)
{
	int64_t	n = LIMIT_PAGE_CHUNK_ROWS, avg;

	if (p->rows > 0) {
		avg = (int64_t)(p->row_bytes / (uint64_t)p->rows);
		n = LIMIT_PAGE_BUFFER / (avg > 0 ? avg : 1);
		if (n > LIMIT_PAGE_CHUNK_ROWS)
			n = LIMIT_PAGE_CHUNK_ROWS;
		if (n < 1)
			n = 1;
	}
	return n < p->left ? n : p->left;
}

/* One read of n rows after the last taken. A read the page stopped
 * itself (full, or past the bound) is not a failure, whatever the store
 * answered for it. */
static enum store_status
page_read(struct page *p, int64_t skip, int64_t n, bool *more)
{
	enum store_status	rc;

	p->full = false;
	p->chunk_rows = 0;
	*more = false;
	rc = p->ops->read(p, p->last, skip, n, more);
	if (p->failed)
		return rc != STORE_OK ? rc : STORE_ERROR;
	if (rc != STORE_OK && !p->full && !(p->streaming && p->done))
		return rc;
	return STORE_OK;
}

enum store_status
page_start(struct page *p, int64_t skip)
{
	enum store_status	rc;
	int64_t			n, rows;
	bool			more;

	for (n = page_chunk(p);; n = page_chunk(p), skip = 0) {
		if ((rc = page_read(p, skip, n, &more)) != STORE_OK)
			return rc;
		if (p->full)
			break;
		if (p->left == 0 || p->chunk_rows < n) {
			p->done = true;
			p->more = p->left == 0 && more;
			return STORE_OK;
		}
	}
	/* Too large for one piece: the rest streams, up to the bound set
	 * now, so that the answer about more rows goes out with the head. */
	if ((rc = p->ops->bound(p, p->last, p->left, &p->bound, &rows,
	    &p->more)) != STORE_OK)
		return rc;
	p->left = rows;
	p->streaming = true;
	p->done = rows == 0;
	return STORE_OK;
}

/* Empty out and put the next chunk in it, and the close after the last.
 * Each chunk is a read of its own: nothing is held open in between. */
static int
page_refill(struct page *p)
{
	enum store_status	rc;
	int64_t			n;
	bool			more;

	buf_reset(&p->out);
	p->off = 0;
	if (!p->done && p->left > 0) {
		n = page_chunk(p);
		if ((rc = page_read(p, 0, n, &more)) != STORE_OK) {
			log_warn("page: a chunk read failed (%s); the response "
			    "is cut short", store_status_str(rc));
			return -1;
		}
		/* fewer rows than asked and no stop: rows were deleted */
		if (!p->full && p->chunk_rows < n)
			p->done = true;
	}
	if (p->left <= 0)
		p->done = true;
	if (p->done) {
		p->ops->close(p, &p->out);
		p->closed = true;
	}
	return 0;
}

/* libmicrohttpd's content reader: out, then the next chunk. */
static ssize_t
page_stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct page	*p = cls;
	size_t		 n;

	(void)pos;

	while (p->off == p->out.len) {
		if (p->closed)
			return MHD_CONTENT_READER_END_OF_STREAM;
		if (page_refill(p) == -1)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	n = p->out.len - p->off;
	if (n > max)
		n = max;
	memcpy(dst, p->out.data + p->off, n);
	p->off += n;
	p->sent += n;
	return (ssize_t)n;
}

void
page_reply(struct request *req, struct page *p)
{
	char	*body;
	size_t	 len;

	if (!p->streaming) {
		p->ops->close(p, &p->out);
		body = buf_steal(&p->out, &len);
		page_free(p);
		reply_json(req, 200, body, len);
		return;
	}
	reply_json_stream(req, 200, page_stream_read, p, page_free_cb,
	    &p->sent);
}
