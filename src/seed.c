/* serve --seed FILE: read, check, then store connections and exports
 * with their ids. The checks are the POSTs' own (api_object_parse,
 * connections_doc_check, exports_doc_check_ref) and so are the rows
 * (connections_row_create, exports_row_create): a seeded record is stored
 * exactly as if it had been posted, only its _id is the file's. An export
 * names a connection of the seed, or one its account already has. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/api.h"
#include "model/connection.h"
#include "seed.h"
#include "util/buf.h"
#include "util/errors.h"
#include "util/json.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/oid.h"
#include "util/xmalloc.h"

struct seed_rec {
	enum store_res	 res;	/* STORE_EXPORTS or STORE_CONNECTIONS */
	char		 id[OID_HEXLEN + 1];
	json_t		*doc;	/* normalised and valid */
	int		 keep;	/* already in the account: not written */
	int		 later;	/* an export naming a connection the seed
				   lacks: checked against the store */
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

/* Print every error of errs as a problem of record no. */
static void
seed_errors(const struct seed *sd, size_t no, const struct errors *errs)
{
	const struct seed_rec	*r = &sd->rec[no - 1];
	size_t			 i;

	for (i = 0; i < errs->n; i++)
		seed_bad(sd, "record %zu (%s %s)%s%s: %s", no,
		    r->res == STORE_CONNECTIONS ? "connection" : "export",
		    r->id, errs->e[i].field[0] != '\0' ? ", field " : "",
		    errs->e[i].field, errs->e[i].message);
}

/* A connection, not an export: no adaptorType, and a connection's type. */
static enum store_res
seed_kind(const json_t *doc)
{
	return json_object_get(doc, "adaptorType") == NULL &&
	    connection_type_known(json_string_value(json_object_get(doc,
	    "type"))) ? STORE_CONNECTIONS : STORE_EXPORTS;
}

/* Keep record number no (from 1); takes ownership of doc. A connection
 * is checked as POST would now; an export once every record is read
 * (seed_check_exports), since its connection may come later. -1 after a
 * message. */
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
	memset(r, 0, sizeof(*r));
	r->res = seed_kind(doc);
	if (id == NULL || oid_normalize(id, strlen(id), r->id) == -1) {
		seed_bad(sd, "record %zu: _id is required, as 24 hex digits "
		    "(a seeded record keeps its id)", no);
		goto out;
	}
	for (i = 0; i < sd->n; i++)
		if (strcmp(sd->rec[i].id, r->id) == 0) {
			seed_bad(sd, "record %zu: _id %s is also record %zu's",
			    no, r->id, i + 1);
			goto out;
		}
	r->doc = doc;
	doc = NULL;
	sd->n++;
	if (r->res == STORE_CONNECTIONS &&
	    connections_doc_check(r->doc, errs) == -1) {
		seed_errors(sd, no, errs);
		goto out;
	}
	rc = 0;
out:
	json_decref(doc);
	free(errs);
	return rc;
}

/* The seed's connection of that id, or NULL. */
static const struct seed_rec *
seed_connection(const struct seed *sd, const char *cid)
{
	char	id[OID_HEXLEN + 1];
	size_t	i;

	if (oid_normalize(cid, strlen(cid), id) == -1)
		return NULL;
	for (i = 0; i < sd->n; i++)
		if (sd->rec[i].res == STORE_CONNECTIONS &&
		    strcmp(sd->rec[i].id, id) == 0)
			return &sd->rec[i];
	return NULL;
}

/* Check export i with the type of the connection it names (NULL: none
 * in the account); -1 after a message. */
static int
seed_check_export(struct seed *sd, size_t i, const char *ctype)
{
	struct errors	*errs = xmalloc(sizeof(*errs));
	int		 rc;

	errors_init(errs);
	if ((rc = exports_doc_check_ref(sd->rec[i].doc, NULL, ctype,
	    errs)) == -1)
		seed_errors(sd, i + 1, errs);
	free(errs);
	return rc;
}

/* Check every export whose connection is the seed's (or which names
 * none); the others wait for the store (seed_census). */
static int
seed_check_exports(struct seed *sd)
{
	const struct seed_rec	*c;
	const char		*cid;
	size_t			 i;

	for (i = 0; i < sd->n; i++) {
		if (sd->rec[i].res != STORE_EXPORTS)
			continue;
		cid = exports_doc_connection(sd->rec[i].doc);
		c = cid != NULL ? seed_connection(sd, cid) : NULL;
		if (cid != NULL && c == NULL)
			sd->rec[i].later = 1;
		else if (seed_check_export(sd, i, c != NULL ? json_string_value(
		    json_object_get(c->doc, "type")) : NULL) == -1)
			return -1;
	}
	return 0;
}

/* A JSON array of records. */
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
		seed_bad(sd, "a JSON array of connections and exports, or one "
		    "a line, is expected");
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

/* One record a line; blank lines are skipped and not counted. */
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
	if (rc == -1 || seed_check_exports(sd) == -1)
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
	if (w->res == STORE_CONNECTIONS)
		connections_row_create(sd->key, w->account, w->id,
		    sd->rec[i].doc, next);
	else
		exports_row_create(sd->key, w->account, w->id, sd->rec[i].doc,
		    next);
	return 0;
}

static void
seed_done(struct store_write *w)
{
	(void)w;	/* no writer threads yet: the write is done in place */
}

/* The type of the account's stored connection cid (caller frees), or
 * NULL; -1 if the store cannot say. */
static int
seed_stored_type(struct store *st, const char *account, const char *cid,
    char **type)
{
	struct store_row	row;
	enum store_status	rc;
	char			id[OID_HEXLEN + 1];

	*type = NULL;
	if (oid_normalize(cid, strlen(cid), id) == -1)
		return 0;
	memset(&row, 0, sizeof(row));
	rc = store_get(st, STORE_CONNECTIONS, account, id, &row);
	if (rc == STORE_OK) {
		*type = row.col[CONNECTION_TYPE];
		row.col[CONNECTION_TYPE] = NULL;
	}
	store_row_free(&row);
	return rc == STORE_OK || rc == STORE_NOT_FOUND ? 0 : -1;
}

/* Which records the account holds already, and the exports whose
 * connection only the store can have; -1 (and a message) when an id
 * belongs to another account, such an export is not valid, or the store
 * cannot say. */
static int
seed_census(struct seed *sd, struct store *st, const char *account)
{
	struct store_row	 row;
	enum store_status	 rc;
	char			*ctype;
	size_t			 i;
	int			 bad;

	for (i = 0; i < sd->n; i++) {
		memset(&row, 0, sizeof(row));
		rc = store_get_any(st, sd->rec[i].res, sd->rec[i].id, &row);
		if (rc == STORE_OK && strcmp(row.account, account) == 0)
			sd->rec[i].keep = 1;
		else if (rc == STORE_OK)
			seed_bad(sd, "record %zu: _id %s belongs to %s of "
			    "another account", i + 1, sd->rec[i].id,
			    sd->rec[i].res == STORE_CONNECTIONS ?
			    "a connection" : "an export");
		store_row_free(&row);
		if (rc != STORE_OK && rc != STORE_NOT_FOUND)
			seed_bad(sd, "the store cannot be read (%s)",
			    store_status_str(rc));
		if ((rc == STORE_OK && !sd->rec[i].keep) ||
		    (rc != STORE_OK && rc != STORE_NOT_FOUND))
			return -1;
		if (!sd->rec[i].later || sd->rec[i].keep)
			continue;
		if (seed_stored_type(st, account, exports_doc_connection(
		    sd->rec[i].doc), &ctype) == -1) {
			seed_bad(sd, "the store cannot be read");
			return -1;
		}
		bad = seed_check_export(sd, i, ctype);
		free(ctype);
		if (bad == -1)
			return -1;
	}
	return 0;
}

/* Store the records of one kind; -1 after a message. */
static int
seed_store(struct seed *sd, struct store *st, const char *account,
    enum store_res res, size_t *added)
{
	struct store_write	 w;
	size_t			 i;

	for (i = 0; i < sd->n; i++) {
		if (sd->rec[i].keep || sd->rec[i].res != res)
			continue;
		memset(&w, 0, sizeof(w));
		w.kind = STORE_CREATE;
		w.res = res;
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
			    store_status_str(w.status), *added, sd->n);
			return -1;
		}
		(*added)++;
	}
	return 0;
}

int
seed_apply(struct seed *sd, struct store *st,
    const unsigned char key[CRYPTO_KEYLEN], const char *account)
{
	size_t	added = 0;

	if (seed_census(sd, st, account) == -1) {
		seed_bad(sd, "nothing was loaded");
		return -1;
	}
	sd->key = key;
	/* connections first: the exports name them */
	if (seed_store(sd, st, account, STORE_CONNECTIONS, &added) == -1 ||
	    seed_store(sd, st, account, STORE_EXPORTS, &added) == -1)
		return -1;
	log_info("seed %s: %zu record(s) added, %zu already there", sd->path,
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
