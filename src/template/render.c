/*
 * Rendering a parsed template over a JSON context. Contexts form a stack
 * (a block that changes the context pushes it; ../ walks back), and #each
 * pushes data frames (@index, @key, @first, @last). Work is bounded: every
 * node visited, path segment read and byte built or compared is counted
 * against a budget of WORK_FACTOR times the output cap, and #each rounds
 * against the iteration cap, so a render takes time linear in the template
 * and the output whatever the context holds.
 */

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/internal.h"
#include "util/isotime.h"
#include "util/limits.h"
#include "util/xmalloc.h"

#define WORK_FACTOR	8
#define STACK		(LIMIT_TEMPLATE_DEPTH + 2)

/* What #each sets for its body. */
struct data_frame {
	size_t		 index;
	const char	*key;		/* NULL when iterating an array */
	size_t		 keylen;
	bool		 first, last;
};

struct render {
	const struct template	*t;
	struct buf		 out;
	const json_t		*root;
	const json_t		*ctx[STACK];
	size_t			 nctx;
	struct data_frame	 data[STACK];
	size_t			 ndata;
	size_t			 iterations, max_iterations;
	size_t			 work, max_work;
	struct template_env	 env;
	struct template_error	*err;
};

static int	fail(struct render *, size_t, const char *, ...)
		    __attribute__((format(printf, 3, 4)));
static int	render_prog(struct render *, const struct template_prog *);
static int	eval_call(struct render *, const struct template_call *,
		    json_t **);

/* Fill the error at a position of the template; returns -1. */
static int
fail(struct render *r, size_t pos, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	template_error_vset(r->err, r->t->src, pos, fmt, ap);
	va_end(ap);
	return -1;
}

/* Count n units of work; fail past the budget. */
static int
spend(struct render *r, size_t n, size_t pos)
{
	if (n > r->max_work - r->work) {
		r->work = r->max_work;
		return fail(r, pos, "the template does more work than its "
		    "output cap allows (%zu units)", r->max_work);
	}
	r->work += n;
	return 0;
}

/* The cost of looking at a value: its string or its members. */
static size_t
cost(const json_t *v)
{
	if (v == NULL)
		return 0;
	if (json_is_string(v))
		return json_string_length(v);
	if (json_is_array(v))
		return json_array_size(v);
	if (json_is_object(v))
		return json_object_size(v);
	return 0;
}

/* One path segment of v: a member, an element by its decimal index, or
 * the length of an array or string. Borrowed, or a new integer (*owned). */
static json_t *
segment(const json_t *v, const char *seg, size_t len, bool *owned)
{
	const char	*s;
	size_t		 i, n = 0;
	json_t		*r;

	*owned = false;
	if (v == NULL)
		return NULL;
	if (json_is_object(v))
		return json_object_getn(v, seg, len);
	if (len == 6 && memcmp(seg, "length", 6) == 0) {
		if (json_is_array(v))
			n = json_array_size(v);
		else if (json_is_string(v)) {
			/* UTF-16 code units, as JavaScript counts them */
			s = json_string_value(v);
			for (i = 0; i < json_string_length(v); i++)
				if (((unsigned char)s[i] & 0xc0) != 0x80)
					n += ((unsigned char)s[i] >= 0xf0) + 1;
		} else
			return NULL;
		r = json_integer((json_int_t)n);
		*owned = true;
		return r;
	}
	if (!json_is_array(v) || len == 0 || len > 18 ||
	    (seg[0] == '0' && len > 1) || strspn(seg, "0123456789") < len)
		return NULL;
	return json_array_get(v, (size_t)strtoull(seg, NULL, 10));
}

/* The value of a data variable (@index, @key, @first, @last, @root). */
static json_t *
data_value(struct render *r, const struct template_path *p, size_t *next)
{
	const struct data_frame	*f;
	const char		*name = p->seg[0];

	*next = 1;
	if (strcmp(name, "root") == 0)
		return json_incref((json_t *)r->root);
	if (p->up >= r->ndata)
		return NULL;
	f = &r->data[r->ndata - 1 - p->up];
	if (strcmp(name, "index") == 0)
		return json_integer((json_int_t)f->index);
	if (strcmp(name, "key") == 0)
		return f->key != NULL ? template_value_string(f->key,
		    f->keylen) : json_integer((json_int_t)f->index);
	if (strcmp(name, "first") == 0)
		return json_boolean(f->first);
	if (strcmp(name, "last") == 0)
		return json_boolean(f->last);
	return NULL;
}

/* A path's value (new reference, or NULL for undefined). */
static int
eval_path(struct render *r, const struct template_path *p, size_t pos,
    json_t **out)
{
	json_t	*v, *n;
	size_t	 i = 0, work = 1;
	bool	 owned;

	for (i = 0; i < p->nseg; i++)
		work += p->seglen[i];
	if (spend(r, work, pos) != 0)
		return -1;
	if (p->data)
		v = data_value(r, p, &i);
	else {
		i = 0;
		v = p->up < r->nctx ? json_incref((json_t *)
		    r->ctx[r->nctx - 1 - p->up]) : NULL;
	}
	for (; i < p->nseg && v != NULL; i++) {
		if (json_is_string(v) && spend(r, json_string_length(v),
		    pos) != 0) {
			json_decref(v);
			return -1;
		}
		n = segment(v, p->seg[i], p->seglen[i], &owned);
		if (n != NULL && !owned)
			json_incref(n);
		json_decref(v);
		v = n;
	}
	*out = v;
	return 0;
}

static int
eval_expr(struct render *r, const struct template_expr *e, json_t **out)
{
	*out = NULL;
	switch (e->kind) {
	case EXPR_LITERAL:
		*out = e->literal != NULL ? json_incref(e->literal) : NULL;
		return 0;
	case EXPR_PATH:
		return eval_path(r, &e->path, e->pos, out);
	case EXPR_CALL:
		return eval_call(r, e->call, out);
	}
	return 0;
}

/* Evaluate the arguments of a call into a new array (NULL: undefined). */
static int
eval_args(struct render *r, const struct template_call *c, json_t ***out)
{
	json_t	**a;
	size_t	  i;

	a = xcalloc(c->nargs + 1, sizeof(*a));
	for (i = 0; i < c->nargs; i++)
		if (eval_expr(r, &c->args[i], &a[i]) != 0 ||
		    spend(r, cost(a[i]), c->args[i].pos) != 0)
			break;
	*out = a;
	return i == c->nargs ? 0 : -1;
}

static void
free_args(json_t **a, size_t n)
{
	size_t	i;

	for (i = 0; i < n; i++)
		json_decref(a[i]);
	free(a);
}

/* A value, or an inline helper's result. */
static int
eval_call(struct render *r, const struct template_call *c, json_t **out)
{
	json_t	**args;
	int	  rc;

	*out = NULL;
	if (c->helper == HELPER_NONE)
		return eval_expr(r, c->value, out);
	if (eval_args(r, c, &args) != 0) {
		free_args(args, c->nargs);
		return -1;
	}
	r->env.why[0] = '\0';
	rc = template_helper_run(c->helper, args, c->nargs, &r->env, out);
	free_args(args, c->nargs);
	if (rc != 0)
		return fail(r, c->pos, "%s", r->env.why);
	return spend(r, cost(*out), c->pos);
}

/* Append text escaped as Handlebars escapes HTML. */
static int
escape_html(struct buf *b, const char *s, size_t len)
{
	size_t	i, from = 0;
	const char *rep;

	for (i = 0; i < len; i++) {
		switch (s[i]) {
		case '&': rep = "&amp;"; break;
		case '<': rep = "&lt;"; break;
		case '>': rep = "&gt;"; break;
		case '"': rep = "&quot;"; break;
		case '\'': rep = "&#x27;"; break;
		case '`': rep = "&#x60;"; break;
		case '=': rep = "&#x3D;"; break;
		default: continue;
		}
		if (buf_add(b, s + from, i - from) != 0 || buf_adds(b, rep) != 0)
			return -1;
		from = i + 1;
	}
	return buf_add(b, s + from, len - from);
}

/* {{value}} or {{{value}}}. */
static int
render_output(struct render *r, const struct template_node *n)
{
	struct buf	 text;
	json_t		*v;
	size_t		 before = r->out.len;
	int		 rc;

	if (eval_call(r, &n->call, &v) != 0)
		return -1;
	if (n->raw)
		rc = template_value_text(&r->out, v);
	else {
		buf_init(&text, r->out.cap);
		rc = template_value_text(&text, v);
		if (rc == 0)
			rc = escape_html(&r->out, text.data, text.len);
		buf_free(&text);
	}
	json_decref(v);
	if (rc != 0)
		return fail(r, n->pos, "output longer than %zu bytes",
		    r->out.cap);
	return spend(r, r->out.len - before, n->pos);
}

/* Render a block's program with a context (pushed if it is a new one). */
static int
render_with(struct render *r, const struct template_prog *p,
    const json_t *ctx, size_t pos)
{
	bool	push = ctx != r->ctx[r->nctx - 1];
	int	rc;

	if (push) {
		if (r->nctx >= STACK)
			return fail(r, pos, "contexts nested too deep");
		r->ctx[r->nctx++] = ctx;
	}
	rc = render_prog(r, p);
	if (push)
		r->nctx--;
	return rc;
}

/* One round of #each. */
static int
each_round(struct render *r, const struct template_node *n,
    const json_t *item, size_t index, size_t count, const char *key)
{
	struct data_frame	*f;
	int			 rc;

	if (++r->iterations > r->max_iterations)
		return fail(r, n->pos, "more than %zu #each rounds",
		    r->max_iterations);
	if (r->ndata >= STACK)
		return fail(r, n->pos, "blocks nested too deep");
	f = &r->data[r->ndata++];
	f->index = index;
	f->key = key;
	f->keylen = key != NULL ? strlen(key) : 0;
	f->first = index == 0;
	f->last = index + 1 == count;
	rc = render_with(r, &n->body, item, n->pos);
	r->ndata--;
	return rc;
}

/* #each over an array or an object; {{else}} when there is nothing. */
static int
render_each(struct render *r, const struct template_node *n, const json_t *v)
{
	const char	*key;
	json_t		*m;
	size_t		 i = 0, count;

	if (v != NULL && json_is_array(v) && json_array_size(v) > 0) {
		count = json_array_size(v);
		for (i = 0; i < count; i++)
			if (each_round(r, n, json_array_get(v, i), i, count,
			    NULL) != 0)
				return -1;
		return 0;
	}
	if (v != NULL && json_is_object(v) && json_object_size(v) > 0) {
		count = json_object_size(v);
		json_object_foreach((json_t *)v, key, m) {
			if (each_round(r, n, m, i, count, key) != 0)
				return -1;
			i++;
		}
		return 0;
	}
	return render_with(r, &n->inverse, r->ctx[r->nctx - 1], n->pos);
}

/* Handlebars' #if: false, null, undefined, "", [] and (unless
 * includeZero=true) 0 take the {{else}}. */
static int
if_true(struct render *r, const struct template_node *n, const json_t *v,
    bool *yes)
{
	json_t	*zero = NULL;
	size_t	 i;
	bool	 include_zero = false;

	for (i = 0; i < n->call.nhash; i++)
		if (strcmp(n->call.hkey[i], "includeZero") == 0) {
			if (eval_expr(r, &n->call.hval[i], &zero) != 0)
				return -1;
			include_zero = template_value_truthy(zero);
			json_decref(zero);
		}
	if (v != NULL && json_is_array(v))
		*yes = json_array_size(v) > 0;
	else if (v != NULL && json_is_number(v) && include_zero)
		*yes = true;
	else
		*yes = template_value_truthy(v);
	return 0;
}

/* #compare a operator b, with JavaScript's comparisons. */
static int
compare(struct render *r, const struct template_node *n, json_t **a,
    bool *yes)
{
	static const char *const ops[] = { "==", "===", "!=", "!==", "<",
	    "<=", ">", ">=" };
	const char	*op;
	size_t		 k;

	if (a[1] == NULL || !json_is_string(a[1]))
		return fail(r, n->call.args[1].pos, "compare: the operator "
		    "must be a string");
	op = json_string_value(a[1]);
	for (k = 0; k < 8 && strcmp(op, ops[k]) != 0; k++)
		;
	switch (k) {
	case 0: *yes = template_value_loose_eq(a[0], a[2]); break;
	case 1: *yes = template_value_strict_eq(a[0], a[2]); break;
	case 2: *yes = !template_value_loose_eq(a[0], a[2]); break;
	case 3: *yes = !template_value_strict_eq(a[0], a[2]); break;
	case 4: *yes = template_value_less(a[0], a[2], false); break;
	case 5: *yes = template_value_less(a[0], a[2], true); break;
	case 6: *yes = template_value_less(a[2], a[0], false); break;
	case 7: *yes = template_value_less(a[2], a[0], true); break;
	default:
		return fail(r, n->call.args[1].pos, "compare: unknown "
		    "operator \"%.20s\"", op);
	}
	return 0;
}

/* A block whose name is no helper: a section, as Handlebars runs it. */
static int
render_section(struct render *r, const struct template_node *n,
    const json_t *v)
{
	const json_t	*here = r->ctx[r->nctx - 1];

	if (v != NULL && json_is_true(v))
		return render_with(r, &n->body, here, n->pos);
	if (v == NULL || json_is_false(v) || json_is_null(v) ||
	    (json_is_array(v) && json_array_size(v) == 0))
		return render_with(r, &n->inverse, here, n->pos);
	if (json_is_array(v))
		return render_each(r, n, v);
	return render_with(r, &n->body, v, n->pos);
}

static int
render_block(struct render *r, const struct template_node *n)
{
	const json_t	*here = r->ctx[r->nctx - 1];
	json_t		**a = NULL, *v = NULL;
	size_t		  i;
	bool		  yes = false;
	int		  rc = -1;

	if (n->call.helper == HELPER_NONE) {
		if (eval_expr(r, n->call.value, &v) == 0)
			rc = render_section(r, n, v);
		json_decref(v);
		return rc;
	}
	if (eval_args(r, &n->call, &a) != 0)
		goto out;
	switch (n->call.helper) {
	case HELPER_EACH:
		rc = render_each(r, n, a[0]);
		goto out;
	case HELPER_WITH:
		if (a[0] == NULL || json_is_null(a[0]) || json_is_false(a[0]) ||
		    (json_is_string(a[0]) && json_string_length(a[0]) == 0) ||
		    (json_is_array(a[0]) && json_array_size(a[0]) == 0))
			rc = render_with(r, &n->inverse, here, n->pos);
		else
			rc = render_with(r, &n->body, a[0], n->pos);
		goto out;
	case HELPER_IF:
	case HELPER_UNLESS:
		if (if_true(r, n, a[0], &yes) != 0)
			goto out;
		yes = yes == (n->call.helper == HELPER_IF);
		break;
	case HELPER_COMPARE:
		if (compare(r, n, a, &yes) != 0)
			goto out;
		break;
	case HELPER_AND:
	case HELPER_OR:
		yes = n->call.helper == HELPER_AND;
		for (i = 0; i < n->call.nargs; i++)
			if (template_value_truthy(a[i]) != yes) {
				yes = !yes;
				break;
			}
		break;
	default:
		rc = fail(r, n->pos, "not a block helper");
		goto out;
	}
	rc = render_with(r, yes ? &n->body : &n->inverse, here, n->pos);
out:
	free_args(a, n->call.nargs);
	return rc;
}

static int
render_prog(struct render *r, const struct template_prog *p)
{
	const struct template_node	*n;
	size_t				 i;

	for (i = 0; i < p->n; i++) {
		n = &p->nodes[i];
		if (spend(r, 1, n->pos) != 0)
			return -1;
		switch (n->kind) {
		case NODE_TEXT:
			if (buf_add(&r->out, n->text, n->len) != 0)
				return fail(r, n->pos, "output longer than %zu "
				    "bytes", r->out.cap);
			if (spend(r, n->len, n->pos) != 0)
				return -1;
			break;
		case NODE_OUTPUT:
			if (render_output(r, n) != 0)
				return -1;
			break;
		case NODE_BLOCK:
			if (render_block(r, n) != 0)
				return -1;
			break;
		}
	}
	return 0;
}

char *
template_render(const struct template *t, const json_t *context,
    const struct template_options *opt, size_t *len,
    struct template_error *err)
{
	struct render	r;

	memset(&r, 0, sizeof(r));
	r.t = t;
	r.err = err;
	r.root = context;
	r.ctx[r.nctx++] = context;
	buf_init(&r.out, opt != NULL && opt->max_output ? opt->max_output :
	    LIMIT_TEMPLATE_OUTPUT);
	r.max_iterations = opt != NULL && opt->max_iterations ?
	    opt->max_iterations : LIMIT_TEMPLATE_ITERATIONS;
	r.max_work = r.out.cap < SIZE_MAX / (2 * WORK_FACTOR) ?
	    r.out.cap * WORK_FACTOR + 1024 : SIZE_MAX;
	r.env.cap = r.out.cap;
	r.env.now_ms = opt != NULL && opt->has_now ? opt->now_ms :
	    isotime_now_ms();
	if (render_prog(&r, &t->prog) != 0) {
		buf_free(&r.out);
		return NULL;
	}
	return buf_steal(&r.out, len);
}

char *
template_render_text(const char *text, size_t textlen, const json_t *context,
    const struct template_options *opt, size_t *len,
    struct template_error *err)
{
	struct template	*t;
	char		*s;

	if ((t = template_new(text, textlen, err)) == NULL)
		return NULL;
	s = template_render(t, context, opt, len, err);
	template_free(t);
	return s;
}
