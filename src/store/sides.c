/* Reads of the side tables that are not pages of a resource: the audit
 * log (newest first), state values and keys, and an account's name. */
#include <stdlib.h>
#include <string.h>

#include "store/core.h"
#include "util/xmalloc.h"

/* A page of audit entries as it is read. */
struct audit_page {
	int64_t		 limit, n, *last_seq;
	store_row_cb	 cb;
	void		*arg;
	bool		*more, failed;
};

static int
audit_row(void *arg, const struct store_val *v, int n)
{
	struct audit_page	*p = arg;
	int			 rc;

	(void)n;

	if (p->n == p->limit) {
		*p->more = true;
		return 1;
	}
	p->n++;
	if ((rc = p->cb(p->arg, v[0].i, v[1].p, v[1].len)) == -1) {
		p->failed = true;
		return -1;
	}
	*p->last_seq = v[0].i;
	if (rc == 1)
		*p->more = true;	/* the caller ends the page here */
	return rc;
}

enum store_status
store_audit_list(struct store *s, const char *account,
    const struct store_audit_filter *f, int64_t before, int64_t limit,
    store_row_cb cb, void *arg, bool *more, int64_t *last_seq)
{
	struct audit_page	 p = { .limit = limit, .last_seq = last_seq,
	    .cb = cb, .arg = arg, .more = more };
	struct store_conn	*c;
	struct store_params	 pa;
	enum store_status	 ret;

	*more = false;
	*last_seq = 0;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, account);
	sp_int(&pa, before > 0 ? before : INT64_MAX);
	sp_text(&pa, f->resource_type);
	sp_text(&pa, f->resource_id);
	sp_text(&pa, f->source);
	sp_text(&pa, f->event);
	sp_int(&pa, f->from_ms);
	sp_int(&pa, f->to_ms);
	sp_int(&pa, limit + 1);
	ret = store_run(s, c, S_AUDIT_LIST, &pa, audit_row, &p, NULL);
	return ret == STORE_OK && p.failed ? STORE_ERROR : ret;
}

/* The first column of the first row, as a new string. */
struct text_out {
	char	*s;
	size_t	 len;
};

static int
first_text(void *arg, const struct store_val *v, int n)
{
	struct text_out	*t = arg;

	(void)n;

	t->s = store_val_text(&v[0], true);
	t->len = v[0].len;
	return 1;
}

/* Run a statement that answers one text or nothing. */
static enum store_status
text_lookup(struct store *s, int id, const struct store_params *pa,
    char **out, size_t *len)
{
	struct store_conn	*c;
	struct text_out		 t = { NULL, 0 };
	enum store_status	 ret;

	*out = NULL;
	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	if ((ret = store_run(s, c, id, pa, first_text, &t, NULL)) !=
	    STORE_OK) {
		free(t.s);
		return ret;
	}
	if (t.s == NULL)
		return STORE_NOT_FOUND;
	*out = t.s;
	if (len != NULL)
		*len = t.len;
	return STORE_OK;
}

enum store_status
store_state_get(struct store *s, const char *account, const char *scope,
    const char *key, char **value, size_t *len)
{
	struct store_params	pa;

	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, account);
	sp_text(&pa, scope);
	sp_text(&pa, key);
	return text_lookup(s, S_STATE_GET, &pa, value, len);
}

enum store_status
store_account_name(struct store *s, const char *account, char **name)
{
	struct store_params	pa;

	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, account);
	return text_lookup(s, S_ACCOUNT_NAME, &pa, name, NULL);
}

struct keys {
	int	(*cb)(void *, const char *);
	void	*arg;
	bool	 failed;
};

static int
key_row(void *arg, const struct store_val *v, int n)
{
	struct keys	*k = arg;
	char		*key = store_val_text(&v[0], true);
	int		 rc;

	(void)n;

	rc = key != NULL ? k->cb(k->arg, key) : -1;
	free(key);
	if (rc == -1)
		k->failed = true;
	return rc;
}

enum store_status
store_state_keys(struct store *s, const char *account, const char *scope,
    int (*cb)(void *, const char *), void *arg)
{
	struct store_conn	*c;
	struct store_params	 pa;
	struct keys		 k = { cb, arg, false };
	enum store_status	 ret;

	if ((c = store_conn(s)) == NULL)
		return STORE_UNAVAILABLE;
	memset(&pa, 0, sizeof(pa));
	sp_text(&pa, account);
	sp_text(&pa, scope);
	ret = store_run(s, c, S_STATE_KEYS, &pa, key_row, &k, NULL);
	return ret == STORE_OK && k.failed ? STORE_ERROR : ret;
}
