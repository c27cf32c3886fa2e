/* exportd dump and restore: every row of a store as JSON lines (one
 * consistent snapshot, streamed), and the way back into an empty store of
 * either kind in one transaction. Secrets stay sealed: they travel as the
 * envelopes the store holds, bound to their account and export ids. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "crypto/crypto.h"
#include "dump.h"
#include "util/buf.h"
#include "util/isotime.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define DUMP_TICK_US	100000	/* the bar is redrawn at most 10 times a s */
#define DUMP_BAR	30	/* its width */
#define DUMP_LINE_MAX	((size_t)8 * LIMIT_BODY_MAX)	/* longest line */
#define DUMP_READ	65536	/* input read at once */
#define DUMP_TEMPS	8	/* decoded fields of one line */
#define DUMP_APIID_HEX	(STORE_APIID_LEN - 1)
#define DUMP_FIELDS	13	/* most fields of a line, plus NULL */

/* Kinds as a dump names them, and their keys in the header's counts. */
static const char *const dump_kinds[STORE_REC_NKINDS] = {
	"account", "token", "export", "inbox", "inbox_count", "audit",
	"state", "connection",
};
static const char *const dump_counts[STORE_REC_NKINDS] = {
	"accounts", "tokens", "exports", "inbox", "inbox_counts", "audit",
	"state", "connections",
};

/* The fields of each kind of line besides "kind", every one required.
 * A text field may come as NAME_b64 (base64 of its bytes) instead. */
static const char *const dump_fields[STORE_REC_NKINDS][DUMP_FIELDS] = {
	[STORE_REC_ACCOUNT] = { "id", "name", "created_ms", NULL },
	[STORE_REC_TOKEN] = { "id", "account_id", "hash", "created_ms",
	    "revoked_ms", NULL },
	[STORE_REC_EXPORT] = { "seq", "id", "account_id", "api_identifier",
	    "rev", "adaptor_type", "type", "connection_id", "integration_id",
	    "name", "secrets", "body", NULL },
	[STORE_REC_INBOX] = { "seq", "export_id", "received_ms", "request_id",
	    "headers", "record", NULL },
	[STORE_REC_INBOX_COUNT] = { "export_id", "n", NULL },
	[STORE_REC_AUDIT] = { "seq", "id", "account_id", "resource_type",
	    "resource_id", "source", "event", "time_ms", "body", NULL },
	[STORE_REC_STATE] = { "account_id", "scope", "key", "value", NULL },
	[STORE_REC_CONNECTION] = { "seq", "id", "account_id", "rev", "type",
	    "integration_id", "name", "secrets", "body", NULL },
};

/* The text columns of an export line, by store column. */
static const char *const export_cols[EXPORT_NCOLS] = {
	[EXPORT_APIID] = "api_identifier",
	[EXPORT_ADAPTOR_TYPE] = "adaptor_type",
	[EXPORT_TYPE] = "type",
	[EXPORT_CONNECTION_ID] = "connection_id",
	[EXPORT_INTEGRATION_ID] = "integration_id",
	[EXPORT_NAME] = "name",
};

/* The text columns of a connection line, by store column. */
static const char *const connection_cols[CONNECTION_NCOLS] = {
	[CONNECTION_TYPE] = "type",
	[CONNECTION_INTEGRATION_ID] = "integration_id",
	[CONNECTION_NAME] = "name",
};

/* The text fields among them: those may come as NAME_b64. */
static const char *const dump_text_fields[] = {
	"name", "adaptor_type", "type", "connection_id", "integration_id",
	"body", "request_id", "headers", "record", NULL
};

/* A one-line progress bar on a terminal. */
struct dump_progress {
	bool		 on;
	const char	*what;
	int64_t		 total;
	int64_t		 done;
	int64_t		 next_us;
	bool		 drawn;
};

struct dump_writer {
	FILE			*out;
	struct buf		 line;
	const char		*source;
	struct dump_progress	 pr;
	int64_t			 rows[STORE_REC_NKINDS];
	int			 io_errno;	/* a write failed */
};

/* Buffered input that splits lines with memchr; bytes may be anything. */
struct dump_input {
	FILE	*f;
	char	 data[DUMP_READ];
	size_t	 pos, len;
};

struct dump_reader {
	const char		*name;
	int64_t			 line;
	struct store_census	 census;	/* from the header */
	int64_t			 seen[STORE_REC_NKINDS];
	int			 kind;		/* of the last row; -1 */
	int64_t			 last_seq[STORE_REC_NKINDS];
	char			 source[64];
	char			 created[64];
	char			 err[512];
	void			*temps[DUMP_TEMPS];
	int			 ntemps;
};

/* Draw the bar if it is due (always when final); the cursor is left at
 * the start of the line so that a log line written meanwhile covers it. */
static void
dump_progress_draw(struct dump_progress *p, bool final)
{
	char		bar[DUMP_BAR + 1];
	int64_t		now, pct;
	int		i, fill;

	if (!p->on)
		return;
	now = isotime_mono_us();
	if (!final && now < p->next_us)
		return;
	p->next_us = now + DUMP_TICK_US;
	pct = p->total > 0 ? p->done * 100 / p->total : 100;
	if (pct > 100)
		pct = 100;
	fill = (int)(pct * DUMP_BAR / 100);
	for (i = 0; i < DUMP_BAR; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[DUMP_BAR] = '\0';
	fprintf(stderr, "\rexportd %s [%s] %3d%%  %lld/%lld rows\033[K\r",
	    p->what, bar, (int)pct, (long long)p->done, (long long)p->total);
	fflush(stderr);
	p->drawn = true;
}

/* Leave the bar: complete on success, wiped on failure. */
static void
dump_progress_end(struct dump_progress *p, bool ok)
{
	if (!p->on || !p->drawn)
		return;
	if (ok) {
		dump_progress_draw(p, true);
		fputc('\n', stderr);
	} else
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

/* Render one object as a line of the dump; takes the reference. */
static int
dump_emit(struct dump_writer *w, json_t *o)
{
	int	rc = 0;

	buf_reset(&w->line);
	if (json_render(&w->line, o) == -1 || buf_addc(&w->line, '\n') == -1)
		rc = -1;
	json_decref(o);
	if (rc == 0 && fwrite(w->line.data, 1, w->line.len, w->out) !=
	    w->line.len) {
		w->io_errno = errno != 0 ? errno : EIO;
		rc = -1;
	}
	return rc;
}

/* Set a text field: a JSON string, or NAME_b64 when the bytes are not
 * UTF-8 (a JSON string cannot hold them); null for NULL. */
static void
dump_set_text(json_t *o, const char *key, const char *s, size_t len)
{
	json_t	*v;
	char	 k[64], *b64;

	if (s == NULL) {
		json_object_set_new(o, key, json_null());
		return;
	}
	if ((v = json_stringn(s, len)) != NULL) {
		json_object_set_new(o, key, v);
		return;
	}
	snprintf(k, sizeof(k), "%s_b64", key);
	b64 = crypto_base64(s, len);
	json_object_set_new(o, k, json_string(b64));
	free(b64);
}

/* Set an integer field. */
static void
dump_set_int(json_t *o, const char *key, int64_t v)
{
	json_object_set_new(o, key, json_integer((json_int_t)v));
}

/* The header line: format, counts and sequences of the snapshot. */
static int
dump_header(void *arg, const struct store_census *c)
{
	struct dump_writer	*w = arg;
	json_t			*o, *counts, *seqs;
	char			 now[ISOTIME_LEN + 1];
	int			 i;

	o = json_object();
	counts = json_object();
	seqs = json_object();
	json_object_set_new(o, "kind", json_string("header"));
	json_object_set_new(o, "format", json_string(DUMP_FORMAT));
	dump_set_int(o, "version", DUMP_VERSION);
	json_object_set_new(o, "source", json_string(w->source));
	if (isotime_format(isotime_now_ms(), now) == 0)
		json_object_set_new(o, "created_at", json_string(now));
	w->pr.total = 0;
	for (i = 0; i < STORE_REC_NKINDS; i++) {
		dump_set_int(counts, dump_counts[i], c->rows[i]);
		w->pr.total += c->rows[i];
	}
	json_object_set_new(o, "counts", counts);
	dump_set_int(seqs, "exports", c->export_seq);
	dump_set_int(seqs, "inbox", c->inbox_seq);
	dump_set_int(seqs, "audit", c->audit_seq);
	dump_set_int(seqs, "connections", c->connection_seq);
	json_object_set_new(o, "sequences", seqs);
	json_object_set_new(o, "secrets", json_string("sealed with the secret "
	    "key of the dumped store: serve the restored store with the same "
	    "key"));
	return dump_emit(w, o);
}

/* The fields of an audit entry's line. */
static void
dump_audit_line(json_t *o, const struct store_rec *r)
{
	dump_set_int(o, "seq", r->seq);
	json_object_set_new(o, "id", json_string(r->id));
	json_object_set_new(o, "account_id", json_string(r->account));
	dump_set_text(o, "resource_type", r->resource_type,
	    strlen(r->resource_type));
	dump_set_text(o, "resource_id", r->resource_id,
	    strlen(r->resource_id));
	dump_set_text(o, "source", r->source, strlen(r->source));
	dump_set_text(o, "event", r->event, strlen(r->event));
	dump_set_int(o, "time_ms", r->received_ms);
	dump_set_text(o, "body", r->record, r->record_len);
}

/* A resource row's text columns first..n-1, sealed secrets and body. */
static void
dump_set_row(json_t *o, const struct store_row *e, const char *const *cols,
    int first, int n)
{
	char	*s;
	int	 i;

	for (i = first; i < n; i++)
		dump_set_text(o, cols[i], e->col[i], e->col[i] != NULL ?
		    strlen(e->col[i]) : 0);
	if (e->secrets != NULL) {
		s = crypto_base64(e->secrets, e->secrets_len);
		json_object_set_new(o, "secrets", json_string(s));
		free(s);
	} else
		json_object_set_new(o, "secrets", json_null());
	dump_set_text(o, "body", e->body, e->body_len);
}

/* One row line. */
static int
dump_row(void *arg, const struct store_rec *r)
{
	struct dump_writer	*w = arg;
	const struct store_row	*e = &r->row;
	json_t			*o;
	char			*s;

	if ((unsigned)r->kind >= STORE_REC_NKINDS)
		return -1;
	o = json_object();
	json_object_set_new(o, "kind", json_string(dump_kinds[r->kind]));
	switch (r->kind) {
	case STORE_REC_ACCOUNT:
		json_object_set_new(o, "id", json_string(r->id));
		dump_set_text(o, "name", r->name, strlen(r->name));
		dump_set_int(o, "created_ms", r->created_ms);
		break;
	case STORE_REC_TOKEN:
		json_object_set_new(o, "id", json_string(r->id));
		json_object_set_new(o, "account_id", json_string(r->account));
		s = crypto_hex(r->hash, sizeof(r->hash));
		json_object_set_new(o, "hash", json_string(s));
		free(s);
		dump_set_int(o, "created_ms", r->created_ms);
		json_object_set_new(o, "revoked_ms", r->revoked ?
		    json_integer(r->revoked_ms) : json_null());
		break;
	case STORE_REC_EXPORT:
		dump_set_int(o, "seq", e->seq);
		json_object_set_new(o, "id", json_string(e->id));
		json_object_set_new(o, "account_id", json_string(e->account));
		json_object_set_new(o, "api_identifier",
		    json_string(e->col[EXPORT_APIID]));
		dump_set_int(o, "rev", e->rev);
		dump_set_row(o, e, export_cols, EXPORT_ADAPTOR_TYPE,
		    EXPORT_NCOLS);
		break;
	case STORE_REC_CONNECTION:
		dump_set_int(o, "seq", e->seq);
		json_object_set_new(o, "id", json_string(e->id));
		json_object_set_new(o, "account_id", json_string(e->account));
		dump_set_int(o, "rev", e->rev);
		dump_set_row(o, e, connection_cols, 0, CONNECTION_NCOLS);
		break;
	case STORE_REC_INBOX:
		dump_set_int(o, "seq", r->seq);
		json_object_set_new(o, "export_id", json_string(r->id));
		dump_set_int(o, "received_ms", r->received_ms);
		dump_set_text(o, "request_id", r->request_id,
		    strlen(r->request_id));
		dump_set_text(o, "headers", r->headers, strlen(r->headers));
		dump_set_text(o, "record", r->record, r->record_len);
		break;
	case STORE_REC_AUDIT:
		dump_audit_line(o, r);
		break;
	case STORE_REC_STATE:
		json_object_set_new(o, "account_id", json_string(r->account));
		dump_set_text(o, "scope", r->resource_id,
		    strlen(r->resource_id));
		dump_set_text(o, "key", r->event, strlen(r->event));
		dump_set_text(o, "value", r->record, r->record_len);
		break;
	default:
		json_object_set_new(o, "export_id", json_string(r->id));
		dump_set_int(o, "n", r->n);
		break;
	}
	w->rows[r->kind]++;
	w->pr.done++;
	dump_progress_draw(&w->pr, false);
	return dump_emit(w, o);
}

int
dump_write(struct store *s, FILE *out, bool progress)
{
	struct dump_writer	w;
	enum store_status	st;
	int			rc = -1;

	memset(&w, 0, sizeof(w));
	w.out = out;
	w.source = store_name(s);
	w.pr.on = progress;
	w.pr.what = "dump";
	buf_init(&w.line, 0);
	errno = 0;
	st = store_dump(s, dump_header, dump_row, &w);
	if (st == STORE_OK && w.io_errno == 0 && fflush(out) != 0)
		w.io_errno = errno != 0 ? errno : EIO;
	dump_progress_end(&w.pr, st == STORE_OK && w.io_errno == 0);
	if (w.io_errno != 0)
		fprintf(stderr, "exportd dump: cannot write the dump: %s\n",
		    strerror(w.io_errno));
	else if (st != STORE_OK)
		fprintf(stderr, "exportd dump: reading the store failed (%s); "
		    "see the messages above\n", store_status_str(st));
	else {
		fprintf(stderr, "exportd dump: %lld accounts, %lld tokens, "
		    "%lld exports, %lld inbox entries, %lld inbox counts, "
		    "%lld audit entries, %lld state values, %lld connections "
		    "from %s\n",
		    (long long)w.rows[STORE_REC_ACCOUNT],
		    (long long)w.rows[STORE_REC_TOKEN],
		    (long long)w.rows[STORE_REC_EXPORT],
		    (long long)w.rows[STORE_REC_INBOX],
		    (long long)w.rows[STORE_REC_INBOX_COUNT],
		    (long long)w.rows[STORE_REC_AUDIT],
		    (long long)w.rows[STORE_REC_STATE],
		    (long long)w.rows[STORE_REC_CONNECTION], w.source);
		rc = 0;
	}
	buf_free(&w.line);
	return rc;
}

/* Read one line, without its newline, into line: 1, or 0 at the end of
 * the input, -1 on a read error, -2 if the line passes max. */
static int
dump_getline(struct dump_input *in, struct buf *line, size_t max)
{
	const char	*p;
	size_t		 n;

	buf_reset(line);
	for (;;) {
		if (in->pos == in->len) {
			in->pos = 0;
			in->len = fread(in->data, 1, sizeof(in->data), in->f);
			if (in->len == 0) {
				if (ferror(in->f))
					return -1;
				return line->len > 0 ? 1 : 0;
			}
		}
		p = memchr(in->data + in->pos, '\n', in->len - in->pos);
		n = p != NULL ? (size_t)(p - (in->data + in->pos)) :
		    in->len - in->pos;
		if (line->len + n > max)
			return -2;
		buf_add(line, in->data + in->pos, n);
		in->pos += n;
		if (p != NULL) {
			in->pos++;
			return 1;
		}
	}
}

/* Note what is wrong with the current line; -1. */
static int __attribute__((format(printf, 2, 3)))
dump_bad(struct dump_reader *rd, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(rd->err, sizeof(rd->err), fmt, ap);
	va_end(ap);
	return -1;
}

/* Keep a decoded field until the line is done. */
static void *
dump_temp(struct dump_reader *rd, void *p)
{
	if (rd->ntemps == DUMP_TEMPS) {
		free(p);
		return NULL;
	}
	rd->temps[rd->ntemps++] = p;
	return p;
}

/* Free the decoded fields of a line. */
static void
dump_temps_free(struct dump_reader *rd)
{
	while (rd->ntemps > 0)
		free(rd->temps[--rd->ntemps]);
}

/* Whether key is field, or field_b64 for a text field. */
static bool
dump_key_is(const char *key, const char *field)
{
	const char *const	*t;
	size_t			 n = strlen(field);

	if (strcmp(key, field) == 0)
		return true;
	if (strncmp(key, field, n) != 0 || strcmp(key + n, "_b64") != 0)
		return false;
	for (t = dump_text_fields; *t != NULL; t++)
		if (strcmp(*t, field) == 0)
			return true;
	return false;
}

/* Only known fields (or their _b64 forms) besides "kind". */
static int
dump_check_keys(struct dump_reader *rd, json_t *o, enum store_rec_kind kind)
{
	const char *const	*f;
	const char		*key;
	json_t			*v;
	char			 esc[80];

	json_object_foreach(o, key, v) {
		if (strcmp(key, "kind") == 0)
			continue;
		for (f = dump_fields[kind]; *f != NULL; f++)
			if (dump_key_is(key, *f))
				break;
		if (*f == NULL) {
			log_escape(key, strlen(key), esc, sizeof(esc));
			return dump_bad(rd, "unknown field \"%s\" (in a line "
			    "of kind %s)", esc, dump_kinds[kind]);
		}
	}
	return 0;
}

/* An integer field >= min; with isnull, null is allowed too. */
static int
dump_int(struct dump_reader *rd, json_t *o, const char *key, int64_t min,
    int64_t *out, bool *isnull)
{
	json_t	*v = json_object_get(o, key);

	if (isnull != NULL)
		*isnull = false;
	if (v == NULL)
		return dump_bad(rd, "field \"%s\" is missing", key);
	if (isnull != NULL && json_is_null(v)) {
		*isnull = true;
		*out = 0;
		return 0;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min)
		return dump_bad(rd, "field \"%s\" must be a whole number >= "
		    "%lld%s", key, (long long)min, isnull != NULL ?
		    " or null" : "");
	*out = (int64_t)json_integer_value(v);
	return 0;
}

/* Whether len bytes are lowercase hex digits. */
static bool
dump_lowhex(const char *s, size_t len)
{
	size_t	i;

	for (i = 0; i < len; i++)
		if (!((s[i] >= '0' && s[i] <= '9') ||
		    (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

/* An object id field: 24 lowercase hex digits. */
static int
dump_oid(struct dump_reader *rd, json_t *o, const char *key,
    char out[OID_HEXLEN + 1])
{
	json_t	*v = json_object_get(o, key);

	if (v == NULL)
		return dump_bad(rd, "field \"%s\" is missing", key);
	if (!json_is_string(v) || json_string_length(v) != OID_HEXLEN ||
	    !dump_lowhex(json_string_value(v), OID_HEXLEN))
		return dump_bad(rd, "field \"%s\" must be an id (24 lowercase "
		    "hex digits)", key);
	memcpy(out, json_string_value(v), OID_HEXLEN + 1);
	return 0;
}

/* A text field, as NAME (a string) or NAME_b64 (base64 of its bytes);
 * null gives NULL where nullable. Only body and record may hold NUL. */
static int
dump_text(struct dump_reader *rd, json_t *o, const char *key,
    bool nullable, bool nul_ok, const char **s, size_t *len)
{
	json_t	*v, *b;
	char	 k[64], *dec;
	size_t	 n;
	int	 got;

	snprintf(k, sizeof(k), "%s_b64", key);
	v = json_object_get(o, key);
	b = json_object_get(o, k);
	*s = NULL;
	*len = 0;
	if (v != NULL && b != NULL)
		return dump_bad(rd, "fields \"%s\" and \"%s\" are both there",
		    key, k);
	if (v == NULL && b == NULL)
		return dump_bad(rd, "field \"%s\" is missing", key);
	if (v != NULL && json_is_null(v)) {
		if (!nullable)
			return dump_bad(rd, "field \"%s\" must not be null",
			    key);
		return 0;
	}
	if (v != NULL) {
		if (!json_is_string(v))
			return dump_bad(rd, "field \"%s\" must be a string%s",
			    key, nullable ? " or null" : "");
		*s = json_string_value(v);
		*len = json_string_length(v);
	} else {
		if (!json_is_string(b))
			return dump_bad(rd, "field \"%s\" must be base64", k);
		n = json_string_length(b);
		dec = xmalloc(n / 4 * 3 + 1);
		if ((got = crypto_unbase64(json_string_value(b), n,
		    (unsigned char *)dec, n / 4 * 3)) < 0) {
			free(dec);
			return dump_bad(rd, "field \"%s\" must be base64", k);
		}
		dec[got] = '\0';
		if (dump_temp(rd, dec) == NULL)
			return dump_bad(rd, "too many _b64 fields");
		*s = dec;
		*len = (size_t)got;
	}
	if (!nul_ok && memchr(*s, '\0', *len) != NULL)
		return dump_bad(rd, "field \"%s\" must not hold a NUL "
		    "character", key);
	return 0;
}

/* A text field the store keeps with no length: NUL-terminated. */
static int
dump_str(struct dump_reader *rd, json_t *o, const char *key, bool nullable,
    char **out)
{
	const char	*s;
	size_t		 len;

	if (dump_text(rd, o, key, nullable, false, &s, &len) == -1)
		return -1;
	*out = (char *)s;
	return 0;
}

/* Whether text is one JSON document (an object if want_object). */
static bool
dump_json_ok(const char *s, size_t len, bool want_object, json_t **doc)
{
	json_t	*v;
	bool	 ok;

	*doc = NULL;
	if ((v = json_parse_any(s, len, LIMIT_JSON_DEPTH + 8, NULL)) == NULL)
		return false;
	ok = !want_object || json_is_object(v);
	if (ok && doc != NULL && want_object)
		*doc = v;
	else
		json_decref(v);
	return ok;
}

/* An account line. */
static int
dump_read_account(struct dump_reader *rd, json_t *o, struct store_rec *r)
{
	char	*name;

	if (dump_oid(rd, o, "id", r->id) == -1 ||
	    dump_str(rd, o, "name", false, &name) == -1 ||
	    dump_int(rd, o, "created_ms", 0, &r->created_ms, NULL) == -1)
		return -1;
	if (name[0] == '\0' || strlen(name) > LIMIT_ACCOUNT_NAME)
		return dump_bad(rd, "field \"name\" must have 1 to %d bytes",
		    LIMIT_ACCOUNT_NAME);
	r->name = name;
	return 0;
}

/* A token line: its hash as 64 hex digits. */
static int
dump_read_token(struct dump_reader *rd, json_t *o, struct store_rec *r)
{
	json_t	*v;
	bool	 isnull;

	if (dump_oid(rd, o, "id", r->id) == -1 ||
	    dump_oid(rd, o, "account_id", r->account) == -1 ||
	    dump_int(rd, o, "created_ms", 0, &r->created_ms, NULL) == -1 ||
	    dump_int(rd, o, "revoked_ms", 0, &r->revoked_ms, &isnull) == -1)
		return -1;
	r->revoked = !isnull;
	v = json_object_get(o, "hash");
	if (v == NULL)
		return dump_bad(rd, "field \"hash\" is missing");
	if (!json_is_string(v) || json_string_length(v) !=
	    2 * sizeof(r->hash) || !dump_lowhex(json_string_value(v),
	    2 * sizeof(r->hash)) || crypto_unhex(json_string_value(v),
	    2 * sizeof(r->hash), r->hash, sizeof(r->hash)) !=
	    (int)sizeof(r->hash))
		return dump_bad(rd, "field \"hash\" must be a SHA-256 hash (64 "
		    "lowercase hex digits)");
	return 0;
}

/* The nullable text columns of a resource line. */
static int
dump_cols(struct dump_reader *rd, json_t *o, struct store_row *e,
    const char *const *cols, int first, int n)
{
	int	i;

	for (i = first; i < n; i++)
		if (dump_str(rd, o, cols[i], true, &e->col[i]) == -1)
			return -1;
	return 0;
}

/* The sealed secrets of a resource line: base64 or null. */
static int
dump_secrets(struct dump_reader *rd, json_t *o, struct store_row *e)
{
	json_t		*v;
	const char	*sec;
	unsigned char	*dec;
	size_t		 n;
	int		 got;

	if ((v = json_object_get(o, "secrets")) == NULL)
		return dump_bad(rd, "field \"secrets\" is missing");
	if (json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return dump_bad(rd, "field \"secrets\" must be base64 or null");
	sec = json_string_value(v);
	n = json_string_length(v);
	dec = xmalloc(n / 4 * 3 + 1);
	got = crypto_unbase64(sec, n, dec, n / 4 * 3);
	if (got < 0) {
		free(dec);
		return dump_bad(rd, "field \"secrets\" must be base64");
	}
	if (dump_temp(rd, dec) == NULL)
		return dump_bad(rd, "too many decoded fields");
	e->secrets = dec;
	e->secrets_len = (size_t)got;
	return 0;
}

/* What an export line and a connection line share: seq, id, account,
 * rev, the text columns, the sealed secrets and the stored body, byte for
 * byte, a JSON object whose "_id" is the row's. */
static int
dump_read_resource(struct dump_reader *rd, json_t *o, struct store_rec *r,
    const char *const *cols, int first, int n)
{
	struct store_row	*e = &r->row;
	const char		*body, *what = dump_kinds[r->kind];
	json_t			*v, *doc;
	size_t			 len;
	bool			 ok;

	if (dump_int(rd, o, "seq", 1, &e->seq, NULL) == -1 ||
	    dump_oid(rd, o, "id", e->id) == -1 ||
	    dump_oid(rd, o, "account_id", e->account) == -1 ||
	    dump_int(rd, o, "rev", 1, &e->rev, NULL) == -1 ||
	    dump_cols(rd, o, e, cols, first, n) == -1 ||
	    dump_text(rd, o, "body", false, true, &body, &len) == -1 ||
	    dump_secrets(rd, o, e) == -1)
		return -1;
	if (e->seq <= rd->last_seq[r->kind])
		return dump_bad(rd, "%s seq %lld is not above the one before "
		    "(%lld): %ss come in seq order", what, (long long)e->seq,
		    (long long)rd->last_seq[r->kind], what);
	/* The body is what GETs serve: a JSON object about this row. */
	if (!dump_json_ok(body, len, true, &doc))
		return dump_bad(rd, "field \"body\" must hold a JSON object");
	v = json_object_get(doc, "_id");
	ok = json_is_string(v) && strcmp(json_string_value(v), e->id) == 0;
	json_decref(doc);
	if (!ok)
		return dump_bad(rd, "the body's \"_id\" is not the %s's id",
		    what);
	e->body = (char *)body;
	e->body_len = len;
	rd->last_seq[r->kind] = e->seq;
	return 0;
}

/* An export line: a resource line with its api identifier. */
static int
dump_read_export(struct dump_reader *rd, json_t *o, struct store_rec *r)
{
	json_t	*v;

	if (dump_read_resource(rd, o, r, export_cols, EXPORT_ADAPTOR_TYPE,
	    EXPORT_NCOLS) == -1)
		return -1;
	v = json_object_get(o, "api_identifier");
	if (v == NULL)
		return dump_bad(rd, "field \"api_identifier\" is missing");
	if (!json_is_string(v) || json_string_length(v) != STORE_APIID_LEN ||
	    json_string_value(v)[0] != 'e' ||
	    !dump_lowhex(json_string_value(v) + 1, DUMP_APIID_HEX))
		return dump_bad(rd, "field \"api_identifier\" must be \"e\" "
		    "and %d lowercase hex digits", DUMP_APIID_HEX);
	r->row.col[EXPORT_APIID] = (char *)json_string_value(v);
	return 0;
}

/* An inbox entry line. */
static int
dump_read_inbox(struct dump_reader *rd, json_t *o, struct store_rec *r)
{
	const char	*rec;
	char		*req, *hdrs;
	json_t		*doc;
	size_t		 len;

	if (dump_int(rd, o, "seq", 1, &r->seq, NULL) == -1 ||
	    dump_oid(rd, o, "export_id", r->id) == -1 ||
	    dump_int(rd, o, "received_ms", 0, &r->received_ms, NULL) == -1 ||
	    dump_str(rd, o, "request_id", false, &req) == -1 ||
	    dump_str(rd, o, "headers", false, &hdrs) == -1 ||
	    dump_text(rd, o, "record", false, true, &rec, &len) == -1)
		return -1;
	if (r->seq <= rd->last_seq[STORE_REC_INBOX])
		return dump_bad(rd, "inbox seq %lld is not above the one "
		    "before (%lld): inbox entries come in seq order",
		    (long long)r->seq,
		    (long long)rd->last_seq[STORE_REC_INBOX]);
	if (!dump_json_ok(hdrs, strlen(hdrs), false, &doc))
		return dump_bad(rd, "field \"headers\" must hold JSON");
	if (!dump_json_ok(rec, len, false, &doc))
		return dump_bad(rd, "field \"record\" must hold JSON");
	r->request_id = req;
	r->headers = hdrs;
	r->record = rec;
	r->record_len = len;
	rd->last_seq[STORE_REC_INBOX] = r->seq;
	return 0;
}

/* An audit entry line: its body must be a JSON object. */
static int
dump_read_audit(struct dump_reader *rd, json_t *o, struct store_rec *r)
{
	char		*type, *res, *src, *ev;
	const char	*body;
	json_t		*doc;
	size_t		 len;

	if (dump_int(rd, o, "seq", 1, &r->seq, NULL) == -1 ||
	    dump_oid(rd, o, "id", r->id) == -1 ||
	    dump_oid(rd, o, "account_id", r->account) == -1 ||
	    dump_str(rd, o, "resource_type", false, &type) == -1 ||
	    dump_str(rd, o, "resource_id", false, &res) == -1 ||
	    dump_str(rd, o, "source", false, &src) == -1 ||
	    dump_str(rd, o, "event", false, &ev) == -1 ||
	    dump_int(rd, o, "time_ms", 0, &r->received_ms, NULL) == -1 ||
	    dump_text(rd, o, "body", false, false, &body, &len) == -1)
		return -1;
	if (r->seq <= rd->last_seq[STORE_REC_AUDIT])
		return dump_bad(rd, "audit seq %lld is not above the one "
		    "before (%lld): audit entries come in seq order",
		    (long long)r->seq,
		    (long long)rd->last_seq[STORE_REC_AUDIT]);
	if (!dump_json_ok(body, len, true, &doc))
		return dump_bad(rd, "field \"body\" must hold a JSON object");
	json_decref(doc);
	r->resource_type = type;
	r->resource_id = res;
	r->source = src;
	r->event = ev;
	r->record = body;
	r->record_len = len;
	rd->last_seq[STORE_REC_AUDIT] = r->seq;
	return 0;
}

/* A state value line: scope is "" or an id, the value JSON. */
static int
dump_read_state(struct dump_reader *rd, json_t *o, struct store_rec *r)
{
	char		*scope, *key;
	const char	*value;
	json_t		*doc;
	size_t		 len;

	if (dump_oid(rd, o, "account_id", r->account) == -1 ||
	    dump_str(rd, o, "scope", false, &scope) == -1 ||
	    dump_str(rd, o, "key", false, &key) == -1 ||
	    dump_text(rd, o, "value", false, false, &value, &len) == -1)
		return -1;
	if (*scope != '\0' && !oid_valid(scope, strlen(scope)))
		return dump_bad(rd, "field \"scope\" must be \"\" or an id");
	if (*key == '\0')
		return dump_bad(rd, "field \"key\" must not be empty");
	if (!dump_json_ok(value, len, false, &doc))
		return dump_bad(rd, "field \"value\" must hold JSON");
	r->resource_id = scope;
	r->event = key;
	r->record = value;
	r->record_len = len;
	return 0;
}

/* Parse and check one row line into r (which borrows from o). */
static int
dump_read_row(struct dump_reader *rd, json_t *o, struct store_rec *r)
{
	const char	*kind;
	int		 k;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(o))
		return dump_bad(rd, "a line must be a JSON object");
	kind = json_string_value(json_object_get(o, "kind"));
	if (kind == NULL)
		return dump_bad(rd, "field \"kind\" is missing");
	if (strcmp(kind, "header") == 0)
		return dump_bad(rd, "a second header");
	for (k = 0; k < STORE_REC_NKINDS; k++)
		if (strcmp(kind, dump_kinds[k]) == 0)
			break;
	if (k == STORE_REC_NKINDS)
		return dump_bad(rd, "unknown kind of line (want account, "
		    "token, export, inbox, inbox_count, audit, state or "
		    "connection)");
	if (k < rd->kind)
		return dump_bad(rd, "%s lines must come before %s lines",
		    dump_kinds[k], dump_kinds[rd->kind]);
	rd->kind = k;
	if (++rd->seen[k] > rd->census.rows[k])
		return dump_bad(rd, "more %s lines than the header counts "
		    "(%lld)", dump_kinds[k], (long long)rd->census.rows[k]);
	if (dump_check_keys(rd, o, k) == -1)
		return -1;
	r->kind = k;
	switch (k) {
	case STORE_REC_ACCOUNT:
		return dump_read_account(rd, o, r);
	case STORE_REC_TOKEN:
		return dump_read_token(rd, o, r);
	case STORE_REC_EXPORT:
		return dump_read_export(rd, o, r);
	case STORE_REC_INBOX:
		return dump_read_inbox(rd, o, r);
	case STORE_REC_AUDIT:
		return dump_read_audit(rd, o, r);
	case STORE_REC_STATE:
		return dump_read_state(rd, o, r);
	case STORE_REC_CONNECTION:
		return dump_read_resource(rd, o, r, connection_cols, 0,
		    CONNECTION_NCOLS);
	default:
		if (dump_oid(rd, o, "export_id", r->id) == -1)
			return -1;
		return dump_int(rd, o, "n", 0, &r->n, NULL);
	}
}

/* Copy an optional string field of the header, escaped for messages. */
static void
dump_header_str(json_t *o, const char *key, char *out, size_t outsz)
{
	const char	*s = json_string_value(json_object_get(o, key));

	if (s == NULL)
		snprintf(out, outsz, "(unknown)");
	else
		log_escape(s, strlen(s), out, outsz);
}

/* Check the header line and take its counts. */
static int
dump_read_header(struct dump_reader *rd, json_t *o)
{
	const char	*fmt;
	json_t		*counts, *seqs;
	int64_t		 version = 0;
	int		 k;

	if (!json_is_object(o) || json_string_value(json_object_get(o,
	    "kind")) == NULL || strcmp(json_string_value(json_object_get(o,
	    "kind")), "header") != 0)
		return dump_bad(rd, "the first line must be the dump's header "
		    "(kind \"header\")");
	fmt = json_string_value(json_object_get(o, "format"));
	if (fmt == NULL || strcmp(fmt, DUMP_FORMAT) != 0)
		return dump_bad(rd, "not an exportd dump (format must be \""
		    DUMP_FORMAT "\")");
	if (dump_int(rd, o, "version", 1, &version, NULL) == -1)
		return -1;
	if (version != DUMP_VERSION)
		return dump_bad(rd, "dump format version %lld; this exportd "
		    "reads version %d", (long long)version, DUMP_VERSION);
	counts = json_object_get(o, "counts");
	seqs = json_object_get(o, "sequences");
	if (!json_is_object(counts) || !json_is_object(seqs))
		return dump_bad(rd, "the header needs \"counts\" and "
		    "\"sequences\" objects");
	/* dumps made before the audit log and state have neither, and
	 * dumps made before connections have none */
	for (k = 0; k < STORE_REC_NKINDS; k++)
		if ((k < STORE_REC_AUDIT || json_object_get(counts,
		    dump_counts[k]) != NULL) && dump_int(rd, counts,
		    dump_counts[k], 0, &rd->census.rows[k], NULL) == -1)
			return -1;
	if (dump_int(rd, seqs, "exports", 0, &rd->census.export_seq, NULL) ==
	    -1 || dump_int(rd, seqs, "inbox", 0, &rd->census.inbox_seq,
	    NULL) == -1 || (json_object_get(seqs, "audit") != NULL &&
	    dump_int(rd, seqs, "audit", 0, &rd->census.audit_seq, NULL) ==
	    -1) || (json_object_get(seqs, "connections") != NULL &&
	    dump_int(rd, seqs, "connections", 0, &rd->census.connection_seq,
	    NULL) == -1))
		return -1;
	dump_header_str(o, "source", rd->source, sizeof(rd->source));
	dump_header_str(o, "created_at", rd->created, sizeof(rd->created));
	return 0;
}

/* Parse a line as JSON; NULL with the reason noted. */
static json_t *
dump_parse_line(struct dump_reader *rd, const struct buf *line)
{
	struct json_parse_error	 err;
	json_t			*o;

	if (line->len == 0) {
		dump_bad(rd, "an empty line");
		return NULL;
	}
	if ((o = json_parse(line->data, line->len, 8, &err)) == NULL)
		dump_bad(rd, "not a JSON object (%s, at column %d)", err.text,
		    err.column);
	return o;
}

int
dump_restore(struct store *s, FILE *in, const char *name, bool replace,
    bool progress)
{
	struct dump_reader	 rd;
	struct dump_progress	 pr;
	struct dump_input	*inp;
	struct store_rec	 r;
	struct buf		 line;
	enum store_status	 st;
	json_t			*o = NULL;
	bool			 begun = false;
	int			 got, k, rc = -1;

	memset(&rd, 0, sizeof(rd));
	memset(&pr, 0, sizeof(pr));
	rd.name = name;
	rd.kind = -1;
	pr.on = progress;
	pr.what = "restore";
	inp = xcalloc(1, sizeof(*inp));
	inp->f = in;
	buf_init(&line, 0);

	rd.line = 1;
	got = dump_getline(inp, &line, DUMP_LINE_MAX);
	if (got == 0) {
		dump_bad(&rd, "no header: the input is empty");
		goto bad;
	}
	if (got < 0)
		goto readerr;
	if ((o = dump_parse_line(&rd, &line)) == NULL ||
	    dump_read_header(&rd, o) == -1)
		goto bad;
	json_decref(o);
	o = NULL;
	for (k = 0; k < STORE_REC_NKINDS; k++)
		pr.total += rd.census.rows[k];

	st = store_restore_begin(s, replace);
	if (st == STORE_CONFLICT) {
		fprintf(stderr, "exportd restore: the store is not empty: "
		    "nothing was restored. Restore into an empty store, or "
		    "add --force to replace everything in this one.\n");
		goto out;
	}
	if (st != STORE_OK) {
		fprintf(stderr, "exportd restore: cannot start the restore "
		    "(%s); see the messages above\n", store_status_str(st));
		goto out;
	}
	begun = true;
	dump_progress_draw(&pr, true);

	while ((got = dump_getline(inp, &line, DUMP_LINE_MAX)) == 1) {
		rd.line++;
		if ((o = dump_parse_line(&rd, &line)) == NULL ||
		    dump_read_row(&rd, o, &r) == -1)
			goto bad;
		if ((st = store_restore_row(s, &r)) != STORE_OK) {
			dump_bad(&rd, "the store refused this %s (%s%s); see "
			    "the message above", dump_kinds[r.kind],
			    store_status_str(st), st == STORE_CONFLICT ?
			    ": a duplicate id or seq" : "");
			goto bad;
		}
		json_decref(o);
		o = NULL;
		dump_temps_free(&rd);
		pr.done++;
		dump_progress_draw(&pr, false);
	}
	if (got < 0) {
		rd.line++;
		goto readerr;
	}
	for (k = 0; k < STORE_REC_NKINDS; k++) {
		if (rd.seen[k] != rd.census.rows[k]) {
			rd.line++;
			dump_bad(&rd, "the dump ends here, with %lld %s lines "
			    "of the %lld its header counts (is it truncated?)",
			    (long long)rd.seen[k], dump_kinds[k],
			    (long long)rd.census.rows[k]);
			goto bad;
		}
	}
	if ((st = store_restore_commit(s, &rd.census)) != STORE_OK) {
		begun = false;
		dump_progress_end(&pr, false);
		fprintf(stderr, "exportd restore: the commit failed (%s); "
		    "nothing was restored\n", store_status_str(st));
		goto out;
	}
	begun = false;
	dump_progress_end(&pr, true);
	printf("restored %lld accounts, %lld tokens, %lld exports, %lld inbox "
	    "entries, %lld inbox counts, %lld audit entries, %lld state "
	    "values and %lld connections into %s, from a %s dump made %s\n"
	    "secrets are still sealed with the secret key of the store that "
	    "was dumped: serve this store with that same key "
	    "(--secret-key-file or EXPORTD_SECRET_KEY), or they cannot be "
	    "read\n",
	    (long long)rd.seen[STORE_REC_ACCOUNT],
	    (long long)rd.seen[STORE_REC_TOKEN],
	    (long long)rd.seen[STORE_REC_EXPORT],
	    (long long)rd.seen[STORE_REC_INBOX],
	    (long long)rd.seen[STORE_REC_INBOX_COUNT],
	    (long long)rd.seen[STORE_REC_AUDIT],
	    (long long)rd.seen[STORE_REC_STATE],
	    (long long)rd.seen[STORE_REC_CONNECTION], store_name(s),
	    rd.source, rd.created);
	fflush(stdout);
	rc = 0;
	goto out;
readerr:
	if (got == -2)
		dump_bad(&rd, "the line is longer than %zu bytes",
		    DUMP_LINE_MAX);
	else
		dump_bad(&rd, "cannot read: %s", strerror(errno));
bad:
	dump_progress_end(&pr, false);
	fprintf(stderr, "exportd restore: %s: line %lld: %s; nothing was "
	    "restored\n", name, (long long)rd.line, rd.err);
out:
	if (begun)
		store_restore_abort(s);
	json_decref(o);
	dump_temps_free(&rd);
	buf_free(&line);
	free(inp);
	return rc;
}
