/* serve --seed FILE: read, check, then store exports with their ids. The
 * checks are POST /v1/exports's own (api_object_parse, exports_doc_check)
 * and so is the row (exports_row_create): a seeded export is stored
 * exactly as if it had been posted, only its _id is the file's. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "seed.h"
#include "util/buf.h"
#include "util/errors.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/oid.h"
#include "util/xmalloc.h"

struct seed_rec {
	char	 id[OID_HEXLEN + 1];
	json_t	*doc;		/* normalised and valid */
	int	 keep;		/* already in the account: not written */
};

struct seed {
	const char		*path;	/* borrowed from the configuration */
	struct seed_rec		*rec;
	size_t			 n;
	const unsigned char	*key;	/* while applying */
};

static void __attribute__((format(printf, 2, 3)))
seed_bad(const struct seed *sd, const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "exportd serve: --seed %s: ", sd->path);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* The whole file into b; -1 after a message. */
static int
seed_read(struct seed *sd, struct buf *b)
{
	FILE	*f;
	char	 chunk[65536];
	size_t	 n;
	int	 rc = 0;

	if ((f = fopen(sd->path, "re")) == NULL) {
		seed_bad(sd, "cannot open it: %s", strerror(errno));
		return -1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		if (buf_add(b, chunk, n) == -1) {
			seed_bad(sd, "larger than %d bytes", LIMIT_SEED_BYTES);
			rc = -1;
			break;
		}
	if (rc == 0 && ferror(f)) {
		seed_bad(sd, "cannot read it: %s", strerror(errno));
		rc = -1;
	}
	fclose(f);
	return rc;
}

/* Check record number no (from 1) as POST would and keep it; takes
 * ownership of doc. -1 after a message naming every problem. */
static int
seed_add(struct seed *sd, size_t no, json_t *doc)
{
	struct errors	*errs;
	struct seed_rec	*r;
	const char	*id = json_string_value(json_object_get(doc, "_id"));
	size_t		 i;
	int		 rc = -1;

	errs = xmalloc(sizeof(*errs));
	errors_init(errs);
	sd->rec = xrealloc(sd->rec, (sd->n + 1) * sizeof(*sd->rec));
	r = &sd->rec[sd->n];
	if (id == NULL || oid_normalize(id, strlen(id), r->id) == -1) {
		seed_bad(sd, "record %zu: _id is required, as 24 hex digits "
		    "(a seeded export keeps its id)", no);
		goto out;
	}
	for (i = 0; i < sd->n; i++)
		if (strcmp(sd->rec[i].id, r->id) == 0) {
			seed_bad(sd, "record %zu: _id %s is also record %zu's",
			    no, r->id, i + 1);
			goto out;
		}
	if (exports_doc_check(doc, NULL, errs) == -1) {
		for (i = 0; i < errs->n; i++)
			seed_bad(sd, "record %zu (_id %s)%s%s: %s", no, r->id,
			    errs->e[i].field[0] != '\0' ? ", field " : "",
			    errs->e[i].field, errs->e[i].message);
		goto out;
	}
	r->doc = doc;
	r->keep = 0;
	doc = NULL;
	sd->n++;
	rc = 0;
out:
	json_decref(doc);
	free(errs);
	return rc;
}

/* A JSON array of export objects. */
static int
seed_parse_array(struct seed *sd, const struct buf *b)
{
	struct json_parse_error	 err;
	json_t			*all, *e;
	size_t			 i;
	char			 why[96];
	int			 rc = 0;

	if ((all = json_parse(b->data, b->len, LIMIT_JSON_DEPTH + 1,
	    &err)) == NULL) {
		seed_bad(sd, "not valid JSON: %s (line %d, column %d)",
		    err.text, err.line, err.column);
		return -1;
	}
	if (!json_is_array(all)) {
		seed_bad(sd, "a JSON array of exports, or one export a line, "
		    "is expected");
		rc = -1;
	}
	json_array_foreach(all, i, e) {
		if (!json_is_object(e)) {
			seed_bad(sd, "record %zu must be a JSON object", i + 1);
			rc = -1;
		} else if (api_object_caps(e, why, sizeof(why)) == -1) {
			seed_bad(sd, "record %zu is over a limit: %s", i + 1,
			    why);
			rc = -1;
		} else
			rc = seed_add(sd, i + 1, json_incref(e));
		if (rc == -1)
			break;
	}
	json_decref(all);
	return rc;
}

/* One export a line; blank lines are skipped and not counted. */
static int
seed_parse_lines(struct seed *sd, const struct buf *b)
{
	const char	*p = b->data, *end = b->data + b->len, *nl;
	json_t		*doc;
	size_t		 no = 0, line = 0, i, len;
	char		 why[256];

	for (; p < end; p = nl + 1) {
		line++;
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		for (i = 0; i < len && strchr(" \t\r", p[i]) != NULL; i++)
			;
		if (i == len)
			continue;
		no++;
		if ((doc = api_object_parse(p, len, why, sizeof(why))) ==
		    NULL) {
			seed_bad(sd, "record %zu (line %zu) %s", no, line, why);
			return -1;
		}
		if (seed_add(sd, no, doc) == -1)
			return -1;
	}
	return 0;
}

struct seed *
seed_load(const char *path)
{
	struct seed	*sd = xcalloc(1, sizeof(*sd));
	struct buf	 b;
	size_t		 i;
	int		 rc;

	sd->path = path;
	buf_init(&b, LIMIT_SEED_BYTES);
	if (seed_read(sd, &b) == -1)
		goto fail;
	for (i = 0; i < b.len && strchr(" \t\r\n", b.data[i]) != NULL; i++)
		;
	/* a byte order mark is skipped, as in a request body */
	if (b.len - i >= 3 && memcmp(b.data + i, "\xEF\xBB\xBF", 3) == 0)
		i += 3;
	if (i < b.len && b.data[i] == '[')
		rc = seed_parse_array(sd, &b);
	else
		rc = seed_parse_lines(sd, &b);
	if (rc == -1)
		goto fail;
	buf_free(&b);
	return sd;
fail:
	seed_bad(sd, "nothing was loaded");
	buf_free(&b);
	seed_free(sd);
	return NULL;
}

/* A seeded create keeps its id: if the id was taken meanwhile, refuse
 * rather than pick another. */
static int
seed_mutate(struct store_write *w, const struct store_row *cur,
    struct store_row *next)
{
	struct seed	*sd = w->arg;
	size_t		 i;

	(void)cur;

	if (w->attempts > 0)
		return -1;
	for (i = 0; strcmp(sd->rec[i].id, w->id) != 0; i++)
		;
	exports_row_create(sd->key, w->account, w->id, sd->rec[i].doc, next);
	return 0;
}

static void
seed_done(struct store_write *w)
{
	(void)w;	/* no writer threads yet: the write is done in place */
}

/* Which records the account holds already; -1 (and a message) when an id
 * belongs to another account or the store cannot say. */
static int
seed_census(struct seed *sd, struct store *st, const char *account)
{
	struct store_row	 row;
	enum store_status	 rc;
	size_t			 i;

	for (i = 0; i < sd->n; i++) {
		memset(&row, 0, sizeof(row));
		rc = store_get_any(st, STORE_EXPORTS, sd->rec[i].id, &row);
		if (rc == STORE_OK && strcmp(row.account, account) == 0)
			sd->rec[i].keep = 1;
		else if (rc == STORE_OK)
			seed_bad(sd, "record %zu: _id %s belongs to an export "
			    "of another account", i + 1, sd->rec[i].id);
		store_row_free(&row);
		if (rc != STORE_OK && rc != STORE_NOT_FOUND)
			seed_bad(sd, "the store cannot be read (%s)",
			    store_status_str(rc));
		if ((rc == STORE_OK && !sd->rec[i].keep) ||
		    (rc != STORE_OK && rc != STORE_NOT_FOUND))
			return -1;
	}
	return 0;
}

int
seed_apply(struct seed *sd, struct store *st,
    const unsigned char key[CRYPTO_KEYLEN], const char *account)
{
	struct store_write	 w;
	size_t			 i, added = 0;

	if (seed_census(sd, st, account) == -1) {
		seed_bad(sd, "nothing was loaded");
		return -1;
	}
	sd->key = key;
	for (i = 0; i < sd->n; i++) {
		if (sd->rec[i].keep)
			continue;
		memset(&w, 0, sizeof(w));
		w.kind = STORE_CREATE;
		w.res = STORE_EXPORTS;
		memcpy(w.account, account, sizeof(w.account));
		memcpy(w.id, sd->rec[i].id, sizeof(w.id));
		w.mutate = seed_mutate;
		w.done = seed_done;
		w.arg = sd;
		store_write_submit(st, &w);
		store_row_free(&w.result);
		if (w.status != STORE_OK) {
			seed_bad(sd, "record %zu (_id %s) cannot be stored "
			    "(%s); %zu of %zu were", i + 1, sd->rec[i].id,
			    store_status_str(w.status), added, sd->n);
			return -1;
		}
		added++;
	}
	log_info("seed %s: %zu export(s) added, %zu already there", sd->path,
	    added, sd->n - added);
	return 0;
}

void
seed_free(struct seed *sd)
{
	size_t	i;

	if (sd == NULL)
		return;
	for (i = 0; i < sd->n; i++)
		json_decref(sd->rec[i].doc);
	free(sd->rec);
	free(sd);
}
