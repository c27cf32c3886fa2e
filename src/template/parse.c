/*
 * Parsing a template: the text is cut into tokens (text and tags), the
 * whitespace rules of Handlebars trim the text around them ({{~ and ~}},
 * and block tags alone on their line), then a stack of open blocks builds
 * the tree of internal.h. Helpers are resolved here, so an unknown helper
 * or a wrong number of arguments is a parse error with its position.
 * Every loop moves forward through the text: time is linear in its size.
 */

#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "template/internal.h"
#include "util/limits.h"
#include "util/xmalloc.h"

enum tok_kind {
	TOK_TEXT, TOK_OUT, TOK_RAW, TOK_OPEN, TOK_INVERT, TOK_CLOSE,
	TOK_ELSE, TOK_COMMENT,
};

/* A token. Text: [start, start+len) now, [ostart, ostart+olen) as
 * written. Tag: pos is its "{{", [start, start+len) the inside. */
struct tok {
	enum tok_kind	 kind;
	size_t		 pos;
	size_t		 start, len;
	size_t		 ostart, olen;
	bool		 strip_left, strip_right;
};

struct lexer {
	const char		*src;
	size_t			 len;
	struct tok		*toks;
	size_t			 n, size;
	struct template_error	*err;
};

/* An open block while the tree is built. */
struct frame {
	struct template_node	*node;
	struct template_prog	*cur;
	bool			 chained;	/* made by {{else helper ...}} */
	bool			 in_inverse;
	size_t			 name, namelen;	/* its name in the source */
};

struct xp {
	const char		*src;
	size_t			 i, end;
	unsigned		 depth;
	struct template_error	*err;
};

static int	fail(struct template_error *, const char *, size_t,
		    const char *, ...) __attribute__((format(printf, 4, 5)));
static void	tok_add(struct lexer *, enum tok_kind, size_t, size_t, size_t);
static int	lex(struct lexer *);
static int	lex_tag(struct lexer *, size_t, size_t *);
static int	lex_close(struct lexer *, size_t, size_t, bool, size_t *,
		    size_t *);
static void	strip(struct lexer *);
static bool	standalone_left(const struct lexer *, size_t);
static bool	standalone_right(const struct lexer *, size_t);
static int	build(struct template *, struct lexer *,
		    struct template_error *);
static int	xp_call(struct xp *, struct template_call *, bool, bool);
static int	xp_expr(struct xp *, struct template_expr *);
static int	xp_path(struct xp *, struct template_path *);
static int	xp_literal(struct xp *, struct template_expr *, bool *);
static void	call_clear(struct template_call *);
static void	expr_clear(struct template_expr *);
static void	prog_clear(struct template_prog *);

static bool
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' ||
	    c == '\f' || c == '\v';
}

/* The characters of a name: anything but blanks and Handlebars'
 * punctuation (a '-' is part of a name, as in Handlebars). */
static bool
is_id(char c)
{
	return c != '\0' && !is_space(c) &&
	    strchr("!\"#%&'()*+,./;<=>@[\\]^`{|}~", c) == NULL;
}

/* What may follow a literal or a name in an expression. */
static bool
is_delim(const struct xp *x, size_t i)
{
	return i >= x->end || is_space(x->src[i]) || x->src[i] == ')' ||
	    x->src[i] == '=';
}

int
template_error_vset(struct template_error *err, const char *src, size_t pos,
    const char *fmt, va_list ap)
{
	size_t	i;

	if (err == NULL)
		return -1;
	err->offset = pos;
	err->line = 1;
	err->column = 1;
	for (i = 0; src != NULL && i < pos && src[i] != '\0'; i++) {
		if (src[i] == '\n') {
			err->line++;
			err->column = 1;
		} else
			err->column++;
	}
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	return -1;
}

static int
fail(struct template_error *err, const char *src, size_t pos,
    const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	template_error_vset(err, src, pos, fmt, ap);
	va_end(ap);
	return -1;
}

static void
tok_add(struct lexer *l, enum tok_kind kind, size_t pos, size_t start,
    size_t len)
{
	struct tok	*t;

	if (kind == TOK_TEXT && len == 0)
		return;
	if (l->n == l->size) {
		l->size = l->size ? l->size * 2 : 32;
		l->toks = xrealloc(l->toks, l->size * sizeof(*l->toks));
	}
	t = &l->toks[l->n++];
	memset(t, 0, sizeof(*t));
	t->kind = kind;
	t->pos = pos;
	t->start = t->ostart = start;
	t->len = t->olen = len;
}

static const char *
find(const char *s, size_t from, size_t len, const char *needle)
{
	if (from >= len)
		return NULL;
	return memmem(s + from, len - from, needle, strlen(needle));
}

/* Cut the source into text and tags. "\{{" makes the text up to the next
 * "{{" literal; "\\{{" is a backslash and a tag. */
static int
lex(struct lexer *l)
{
	const char	*p;
	size_t		 at, text = 0, i = 0, q;

	while ((p = find(l->src, i, l->len, "{{")) != NULL) {
		at = (size_t)(p - l->src);
		if (at > 0 && l->src[at - 1] == '\\' &&
		    !(at > 1 && l->src[at - 2] == '\\')) {
			tok_add(l, TOK_TEXT, text, text, at - 1 - text);
			p = find(l->src, at + 2, l->len, "{{");
			q = p ? (size_t)(p - l->src) : l->len;
			if (q < l->len && l->src[q - 1] == '\\')
				q--;
			tok_add(l, TOK_TEXT, at, at, q - at);
			text = i = q;
			continue;
		}
		if (at > 1 && l->src[at - 1] == '\\' && l->src[at - 2] == '\\')
			tok_add(l, TOK_TEXT, text, text, at - 1 - text);
		else
			tok_add(l, TOK_TEXT, text, text, at - text);
		if (lex_tag(l, at, &i) != 0)
			return -1;
		text = i;
	}
	tok_add(l, TOK_TEXT, text, text, l->len - text);
	return 0;
}

/* Find the end of a tag's inside from j: close is "}}" or "}}}"; quoted
 * strings are skipped so that a "}}" in a literal does not end the tag. */
static int
lex_close(struct lexer *l, size_t at, size_t j, bool triple, size_t *inner,
    size_t *next)
{
	const char	*close = triple ? "}}}" : "}}";
	size_t		 cl = strlen(close);
	char		 q;

	while (j < l->len) {
		if (l->src[j] == '"' || l->src[j] == '\'') {
			q = l->src[j++];
			while (j < l->len && l->src[j] != q)
				j += (l->src[j] == '\\' && j + 1 < l->len) ? 2 : 1;
			if (j >= l->len)
				break;
			j++;
			continue;
		}
		if (l->len - j >= cl && memcmp(l->src + j, close, cl) == 0) {
			*inner = j;
			*next = j + cl;
			return 0;
		}
		j++;
	}
	return fail(l->err, l->src, at, "unclosed tag: no \"%s\" after it",
	    close);
}

/* A raw block {{{{name}}}} ... {{{{/name}}}}: its content is text. */
static int
lex_rawblock(struct lexer *l, size_t at, size_t *next)
{
	const char	*p;
	char		 endtag[LIMIT_TEMPLATE_DEPTH * 2 + 16];
	size_t		 s, e, close;

	p = find(l->src, at + 4, l->len, "}}}}");
	if (p == NULL)
		return fail(l->err, l->src, at, "unclosed raw block tag");
	close = (size_t)(p - l->src);
	for (s = at + 4; s < close && is_space(l->src[s]); s++)
		;
	for (e = s; e < close && is_id(l->src[e]); e++)
		;
	if (e == s || e - s > LIMIT_TEMPLATE_DEPTH)
		return fail(l->err, l->src, at, "a raw block needs a name");
	snprintf(endtag, sizeof(endtag), "{{{{/%.*s}}}}", (int)(e - s),
	    l->src + s);
	p = find(l->src, close + 4, l->len, endtag);
	if (p == NULL)
		return fail(l->err, l->src, at, "raw block %.*s is not closed",
		    (int)(e - s), l->src + s);
	tok_add(l, TOK_TEXT, close + 4, close + 4,
	    (size_t)(p - l->src) - (close + 4));
	*next = (size_t)(p - l->src) + strlen(endtag);
	return 0;
}

/* One tag at offset at ("{{"); *next is set past it. */
static int
lex_tag(struct lexer *l, size_t at, size_t *next)
{
	enum tok_kind	 kind = TOK_OUT;
	const char	*p;
	size_t		 j = at + 2, inner = 0, s;
	bool		 left = false, triple = false;
	struct tok	*t;

	if (l->len - at >= 4 && memcmp(l->src + at, "{{{{", 4) == 0)
		return lex_rawblock(l, at, next);
	if (j < l->len && l->src[j] == '~') {
		left = true;
		j++;
	}
	if (j >= l->len)
		return fail(l->err, l->src, at, "unclosed tag");
	switch (l->src[j]) {
	case '!':
		kind = TOK_COMMENT;
		if (l->len - j >= 3 && memcmp(l->src + j, "!--", 3) == 0)
			p = find(l->src, j + 3, l->len, "--");
		else
			p = find(l->src, j, l->len, "}}");
		while (p != NULL && p[0] == '-') {
			s = (size_t)(p - l->src) + 2;
			if (s < l->len && l->src[s] == '~')
				s++;
			if (l->len - s >= 2 && memcmp(l->src + s, "}}", 2) == 0)
				break;
			p = find(l->src, (size_t)(p - l->src) + 1, l->len, "--");
		}
		if (p == NULL)
			return fail(l->err, l->src, at, "unclosed comment");
		inner = (size_t)(p - l->src);
		*next = (size_t)(find(l->src, inner, l->len, "}}") - l->src) + 2;
		tok_add(l, kind, at, j, 0);
		t = &l->toks[l->n - 1];
		t->strip_left = left;
		t->strip_right = l->src[*next - 3] == '~';
		return 0;
	case '{':
		triple = true;
		/* FALLTHROUGH */
	case '&':
		kind = TOK_RAW;
		j++;
		break;
	case '#':
		kind = TOK_OPEN;
		j++;
		if (j < l->len && (l->src[j] == '>' || l->src[j] == '*'))
			return fail(l->err, l->src, at, "partial blocks and "
			    "decorators are not supported");
		break;
	case '^':
		kind = TOK_INVERT;
		j++;
		break;
	case '/':
		kind = TOK_CLOSE;
		j++;
		break;
	case '>':
		return fail(l->err, l->src, at, "partials are not supported");
	case '*':
		return fail(l->err, l->src, at, "decorators are not supported");
	default:
		break;
	}
	if (lex_close(l, at, j, triple, &inner, next) != 0)
		return -1;
	tok_add(l, kind, at, j, 0);
	t = &l->toks[l->n - 1];
	t->strip_left = left;
	if (inner > j && l->src[inner - 1] == '~') {
		t->strip_right = true;
		inner--;
	}
	t->len = inner - j;
	/* {{else}}, {{else helper ...}} and {{^}} */
	for (s = t->start; s < inner && is_space(l->src[s]); s++)
		;
	if (kind == TOK_INVERT && s == inner)
		t->kind = TOK_ELSE;
	if (kind == TOK_OUT && inner - s >= 4 &&
	    memcmp(l->src + s, "else", 4) == 0 &&
	    (inner - s == 4 || is_space(l->src[s + 4]))) {
		t->kind = TOK_ELSE;
		t->start = s + 4;
		t->len = inner - t->start;
	}
	return 0;
}

/* The text before tag i ends its line with blanks only (or the template
 * starts with blanks before it). */
static bool
standalone_left(const struct lexer *l, size_t i)
{
	const struct tok	*p;
	size_t			 k;

	if (i == 0)
		return true;
	p = &l->toks[i - 1];
	if (p->kind != TOK_TEXT)
		return false;
	for (k = p->olen; k > 0; k--) {
		if (l->src[p->ostart + k - 1] == '\n')
			return true;
		if (!is_space(l->src[p->ostart + k - 1]))
			return false;
	}
	return i == 1;
}

/* The text after tag i starts with blanks and a line end (or the
 * template ends with blanks). */
static bool
standalone_right(const struct lexer *l, size_t i)
{
	const struct tok	*n;
	size_t			 k;

	if (i + 1 >= l->n)
		return true;
	n = &l->toks[i + 1];
	if (n->kind != TOK_TEXT)
		return false;
	for (k = 0; k < n->olen; k++) {
		if (l->src[n->ostart + k] == '\n')
			return true;
		if (!is_space(l->src[n->ostart + k]))
			return false;
	}
	return i + 2 >= l->n;
}

/* Trim text around tags: all blanks beside a "~", and the line of a
 * block, else or comment tag that stands alone on it. */
static void
strip(struct lexer *l)
{
	struct tok	*t, *p, *n;
	size_t		 i, k, end;

	for (i = 0; i < l->n; i++) {
		t = &l->toks[i];
		if (t->kind == TOK_TEXT)
			continue;
		p = i > 0 && l->toks[i - 1].kind == TOK_TEXT ?
		    &l->toks[i - 1] : NULL;
		n = i + 1 < l->n && l->toks[i + 1].kind == TOK_TEXT ?
		    &l->toks[i + 1] : NULL;
		if (t->strip_left && p != NULL)
			while (p->len > 0 && is_space(l->src[p->start +
			    p->len - 1]))
				p->len--;
		if (t->strip_right && n != NULL)
			while (n->len > 0 && is_space(l->src[n->start])) {
				n->start++;
				n->len--;
			}
		if (t->kind == TOK_OUT || t->kind == TOK_RAW ||
		    !standalone_left(l, i) || !standalone_right(l, i))
			continue;
		if (p != NULL) {
			for (k = p->olen; k > 0 &&
			    l->src[p->ostart + k - 1] != '\n'; k--)
				;
			end = p->ostart + k;
			if (end < p->start + p->len)
				p->len = end > p->start ? end - p->start : 0;
		}
		if (n != NULL) {
			for (k = 0; k < n->olen &&
			    l->src[n->ostart + k] != '\n'; k++)
				;
			end = n->ostart + (k < n->olen ? k + 1 : k);
			if (end > n->start) {
				k = end - n->start;
				n->start = end;
				n->len = n->len > k ? n->len - k : 0;
			}
		}
	}
}

static void
skip_space(struct xp *x)
{
	while (x->i < x->end && is_space(x->src[x->i]))
		x->i++;
}

/* A string, number, boolean, null or undefined literal at x->i, if one
 * is there (*found). */
static int
xp_literal(struct xp *x, struct template_expr *e, bool *found)
{
	static const char *const words[] = { "true", "false", "null",
	    "undefined" };
	const char	*s = x->src;
	struct buf	 b;
	size_t		 i = x->i, k, n;
	char		 q, *end;

	*found = true;
	e->kind = EXPR_LITERAL;
	e->pos = x->i;
	if (s[i] == '"' || s[i] == '\'') {
		q = s[i++];
		buf_init(&b, 0);
		while (i < x->end && s[i] != q) {
			if (s[i] == '\\' && i + 1 < x->end && s[i + 1] == q)
				i++;
			buf_addc(&b, s[i++]);
		}
		if (i >= x->end) {
			buf_free(&b);
			return fail(x->err, s, e->pos, "unterminated string");
		}
		e->literal = template_value_string(b.data, b.len);
		buf_free(&b);
		x->i = i + 1;
		return 0;
	}
	k = i + (s[i] == '-');
	for (n = k; n < x->end && s[n] >= '0' && s[n] <= '9'; n++)
		;
	if (n > k && n + 1 < x->end && s[n] == '.' && s[n + 1] >= '0' &&
	    s[n + 1] <= '9')
		for (n += 1; n < x->end && s[n] >= '0' && s[n] <= '9'; n++)
			;
	if (n > k && is_delim(x, n)) {
		char	num[64];

		if (n - i >= sizeof(num))
			return fail(x->err, s, i, "number too long");
		memcpy(num, s + i, n - i);
		num[n - i] = '\0';
		if (memchr(num, '.', n - i) == NULL && n - k < 19)
			e->literal = json_integer(strtoll(num, &end, 10));
		else
			e->literal = json_real(strtod(num, &end));
		x->i = n;
		return 0;
	}
	for (k = 0; k < 4; k++) {
		n = strlen(words[k]);
		if (x->end - i >= n && memcmp(s + i, words[k], n) == 0 &&
		    is_delim(x, i + n)) {
			e->literal = k == 0 ? json_true() : k == 1 ?
			    json_false() : k == 2 ? json_null() : NULL;
			x->i = i + n;
			return 0;
		}
	}
	*found = false;
	return 0;
}

static void
path_add(struct template_path *p, const char *s, size_t len)
{
	p->seg = xrealloc(p->seg, (p->nseg + 1) * sizeof(*p->seg));
	p->seglen = xrealloc(p->seglen, (p->nseg + 1) * sizeof(*p->seglen));
	p->seg[p->nseg] = xstrndup(s, len);
	p->seglen[p->nseg] = len;
	p->nseg++;
}

/* A path: [@] [../]* [this|.] segment ([./] segment)*; a segment is a
 * name or [anything but "]"]. */
static int
xp_path(struct xp *x, struct template_path *p)
{
	const char	*s = x->src;
	size_t		 start = x->i, k;

	if (s[x->i] == '@') {
		p->data = true;
		x->i++;
	}
	for (;;) {
		if (x->end - x->i >= 2 && s[x->i] == '.' && s[x->i + 1] == '.') {
			if (p->nseg > 0 || (p->scoped && p->up == 0))
				return fail(x->err, s, start, "invalid path: "
				    "\"..\" only at its start");
			p->up++;
			p->scoped = true;
			x->i += 2;
		} else if (s[x->i] == '.' && (x->i + 1 >= x->end ||
		    s[x->i + 1] == '/' || is_delim(x, x->i + 1))) {
			if (p->nseg > 0)
				return fail(x->err, s, start, "invalid path: "
				    "\".\" only at its start");
			p->scoped = true;
			x->i++;
		} else if (x->end - x->i >= 4 && memcmp(s + x->i, "this", 4) ==
		    0 && (x->i + 4 >= x->end || s[x->i + 4] == '.' ||
		    s[x->i + 4] == '/' || is_delim(x, x->i + 4)) &&
		    p->nseg == 0 && !p->data) {
			p->scoped = true;
			x->i += 4;
		} else if (s[x->i] == '[') {
			for (k = x->i + 1; k < x->end && s[k] != ']'; k++)
				;
			if (k >= x->end)
				return fail(x->err, s, x->i, "unclosed \"[\"");
			path_add(p, s + x->i + 1, k - x->i - 1);
			x->i = k + 1;
		} else {
			for (k = x->i; k < x->end && is_id(s[k]); k++)
				;
			if (k == x->i)
				return fail(x->err, s, x->i, "expected a name");
			path_add(p, s + x->i, k - x->i);
			x->i = k;
		}
		if (x->i < x->end && (s[x->i] == '.' || s[x->i] == '/') &&
		    x->i + 1 < x->end && !is_delim(x, x->i + 1)) {
			x->i++;
			continue;
		}
		break;
	}
	if (p->data && p->nseg == 0)
		return fail(x->err, s, start, "expected a name after \"@\"");
	if (x->i < x->end && !is_delim(x, x->i))
		return fail(x->err, s, x->i, "unexpected \"%c\"", s[x->i]);
	return 0;
}

/* One argument: a literal, a path or a (subexpression). */
static int
xp_expr(struct xp *x, struct template_expr *e)
{
	bool	found;

	memset(e, 0, sizeof(*e));
	e->pos = x->i;
	if (x->src[x->i] == '(') {
		if (++x->depth > LIMIT_TEMPLATE_DEPTH)
			return fail(x->err, x->src, x->i, "nesting deeper "
			    "than %d", LIMIT_TEMPLATE_DEPTH);
		x->i++;
		e->kind = EXPR_CALL;
		e->call = xcalloc(1, sizeof(*e->call));
		if (xp_call(x, e->call, true, false) != 0)
			return -1;
		if (x->i >= x->end || x->src[x->i] != ')')
			return fail(x->err, x->src, e->pos, "unclosed \"(\"");
		x->i++;
		x->depth--;
		if (x->i < x->end && !is_delim(x, x->i))
			return fail(x->err, x->src, x->i, "unexpected \"%c\"",
			    x->src[x->i]);
		return 0;
	}
	if (xp_literal(x, e, &found) != 0)
		return -1;
	if (found)
		return 0;
	e->kind = EXPR_PATH;
	return xp_path(x, &e->path);
}

/* The helper of a call's head, checked against where it is used. */
static int
xp_resolve(struct xp *x, struct template_call *c, bool block)
{
	const struct template_helper	*h = NULL;
	const struct template_path	*p = &c->value->path;
	char				 name[64];

	if (c->value->kind == EXPR_PATH && p->nseg == 1 && !p->data &&
	    !p->scoped)
		h = template_helper_find(p->seg[0], p->seglen[0]);
	if (h == NULL) {
		if (c->nargs > 0 || c->nhash > 0) {
			if (c->value->kind != EXPR_PATH || p->nseg == 0)
				return fail(x->err, x->src, c->pos,
				    "a helper name is needed here");
			return fail(x->err, x->src, c->pos, "unknown helper "
			    "\"%.*s\"", (int)(p->seglen[0] > 40 ? 40 :
			    p->seglen[0]), p->seg[0]);
		}
		return 0;
	}
	snprintf(name, sizeof(name), "%s", h->name);
	if (h->block && !block)
		return fail(x->err, x->src, c->pos, "%s is a block helper: "
		    "write {{#%s ...}}...{{/%s}}", name, name, name);
	if (!h->block && block)
		return fail(x->err, x->src, c->pos, "%s is not a block helper",
		    name);
	if (c->nargs < h->min_args || c->nargs > h->max_args) {
		if (h->min_args == h->max_args)
			return fail(x->err, x->src, c->pos, "%s takes %u "
			    "argument%s, not %zu", name, h->min_args,
			    h->min_args == 1 ? "" : "s", c->nargs);
		if (h->max_args == UINT_MAX)
			return fail(x->err, x->src, c->pos, "%s takes %u or "
			    "more arguments, not %zu", name, h->min_args,
			    c->nargs);
		return fail(x->err, x->src, c->pos, "%s takes %u to %u "
		    "arguments, not %zu", name, h->min_args, h->max_args,
		    c->nargs);
	}
	c->helper = h->id;
	return 0;
}

/* A call: head, arguments, then key=value pairs, up to the end of the tag
 * or (in a subexpression) the closing ")". */
static int
xp_call(struct xp *x, struct template_call *c, bool sub, bool block)
{
	size_t	k;

	skip_space(x);
	c->pos = x->i;
	if (x->i >= x->end || x->src[x->i] == ')')
		return fail(x->err, x->src, x->i, "expected an expression");
	if (x->src[x->i] == '(')
		return fail(x->err, x->src, x->i, "a helper name is needed "
		    "here, not a subexpression");
	c->value = xcalloc(1, sizeof(*c->value));
	if (xp_expr(x, c->value) != 0)
		return -1;
	for (;;) {
		skip_space(x);
		if (x->i >= x->end || (sub && x->src[x->i] == ')'))
			break;
		for (k = x->i; k < x->end && is_id(x->src[k]); k++)
			;
		if (k > x->i && k < x->end && x->src[k] == '=') {
			c->hkey = xrealloc(c->hkey, (c->nhash + 1) *
			    sizeof(*c->hkey));
			c->hval = xrealloc(c->hval, (c->nhash + 1) *
			    sizeof(*c->hval));
			c->hkey[c->nhash] = xstrndup(x->src + x->i, k - x->i);
			memset(&c->hval[c->nhash], 0, sizeof(*c->hval));
			c->nhash++;
			x->i = k + 1;
			if (x->i >= x->end || is_space(x->src[x->i]))
				return fail(x->err, x->src, k, "a value is "
				    "needed after \"=\"");
			if (xp_expr(x, &c->hval[c->nhash - 1]) != 0)
				return -1;
			continue;
		}
		if (c->nhash > 0)
			return fail(x->err, x->src, x->i, "arguments must come "
			    "before key=value pairs");
		c->args = xrealloc(c->args, (c->nargs + 1) * sizeof(*c->args));
		memset(&c->args[c->nargs], 0, sizeof(*c->args));
		c->nargs++;
		if (xp_expr(x, &c->args[c->nargs - 1]) != 0)
			return -1;
	}
	return xp_resolve(x, c, block);
}

/* Parse the inside of tag t into c. */
static int
tag_call(const struct lexer *l, const struct tok *t, struct template_call *c,
    bool block, unsigned depth)
{
	struct xp	x = { l->src, t->start, t->start + t->len, depth,
	    l->err };

	if (xp_call(&x, c, false, block) != 0)
		return -1;
	skip_space(&x);
	if (x.i < x.end)
		return fail(l->err, l->src, x.i, "unexpected \"%c\"",
		    l->src[x.i]);
	return 0;
}

/* The name a block's close must repeat: the head of its open tag. */
static void
tag_name(const struct lexer *l, const struct tok *t, size_t *s, size_t *n)
{
	size_t	i = t->start, e = t->start + t->len;

	while (i < e && is_space(l->src[i]))
		i++;
	*s = i;
	while (i < e && !is_space(l->src[i]))
		i++;
	*n = i - *s;
}

static struct template_node *
node_add(struct template_prog *p, enum template_node_kind kind, size_t pos)
{
	struct template_node	*n;

	if (p->n == p->size) {
		p->size = p->size ? p->size * 2 : 8;
		p->nodes = xrealloc(p->nodes, p->size * sizeof(*p->nodes));
	}
	n = &p->nodes[p->n++];
	memset(n, 0, sizeof(*n));
	n->kind = kind;
	n->pos = pos;
	return n;
}

/* Open a block (or a chained {{else helper}}) on the stack. */
static int
open_block(struct lexer *l, const struct tok *t, struct frame *st,
    size_t *depth, struct template_prog *into, bool chained, size_t name,
    size_t namelen)
{
	struct template_node	*n;
	struct frame		*f;

	if (*depth >= LIMIT_TEMPLATE_DEPTH)
		return fail(l->err, l->src, t->pos, "blocks nested deeper "
		    "than %d", LIMIT_TEMPLATE_DEPTH);
	n = node_add(into, NODE_BLOCK, t->pos);
	if (tag_call(l, t, &n->call, true, (unsigned)*depth) != 0)
		return -1;
	f = &st[(*depth)++];
	f->node = n;
	f->cur = t->kind == TOK_INVERT ? &n->inverse : &n->body;
	f->chained = chained;
	f->in_inverse = t->kind == TOK_INVERT;
	f->name = name;
	f->namelen = namelen;
	return 0;
}

/* Close the innermost block (and the chain of {{else helper}} in it). */
static int
close_block(struct lexer *l, const struct tok *t, struct frame *st,
    size_t *depth)
{
	size_t	s, n;

	tag_name(l, t, &s, &n);
	if (*depth == 0)
		return fail(l->err, l->src, t->pos, "{{/%.*s}} closes no "
		    "block", (int)(n > 40 ? 40 : n), l->src + s);
	while (*depth > 1 && st[*depth - 1].chained)
		(*depth)--;
	(*depth)--;
	if (n != st[*depth].namelen || memcmp(l->src + s, l->src +
	    st[*depth].name, n) != 0)
		return fail(l->err, l->src, t->pos, "{{/%.*s}} does not match "
		    "{{#%.*s}}", (int)(n > 40 ? 40 : n), l->src + s,
		    (int)(st[*depth].namelen > 40 ? 40 : st[*depth].namelen),
		    l->src + st[*depth].name);
	return 0;
}

/* Build the tree from the tokens with a stack of open blocks. */
static int
build(struct template *t, struct lexer *l, struct template_error *err)
{
	struct frame		 st[LIMIT_TEMPLATE_DEPTH];
	struct template_prog	*cur;
	struct template_node	*n;
	struct tok		*k;
	size_t			 i, depth = 0, s, len;

	for (i = 0; i < l->n; i++) {
		k = &l->toks[i];
		cur = depth ? st[depth - 1].cur : &t->prog;
		switch (k->kind) {
		case TOK_TEXT:
			if (k->len == 0)
				break;
			n = node_add(cur, NODE_TEXT, k->start);
			n->text = l->src + k->start;
			n->len = k->len;
			break;
		case TOK_COMMENT:
			break;
		case TOK_OUT:
		case TOK_RAW:
			n = node_add(cur, NODE_OUTPUT, k->pos);
			n->raw = k->kind == TOK_RAW;
			if (tag_call(l, k, &n->call, false, (unsigned)depth) != 0)
				return -1;
			break;
		case TOK_OPEN:
		case TOK_INVERT:
			tag_name(l, k, &s, &len);
			if (open_block(l, k, st, &depth, cur, false, s, len) != 0)
				return -1;
			break;
		case TOK_ELSE:
			if (depth == 0)
				return fail(err, l->src, k->pos, "{{else}} "
				    "outside a block");
			if (st[depth - 1].in_inverse)
				return fail(err, l->src, k->pos, "a second "
				    "{{else}} in one block");
			st[depth - 1].in_inverse = true;
			st[depth - 1].cur = &st[depth - 1].node->inverse;
			for (s = k->start; s < k->start + k->len &&
			    is_space(l->src[s]); s++)
				;
			if (s < k->start + k->len && open_block(l, k, st,
			    &depth, st[depth - 1].cur, true,
			    st[depth - 1].name, st[depth - 1].namelen) != 0)
				return -1;
			break;
		case TOK_CLOSE:
			if (close_block(l, k, st, &depth) != 0)
				return -1;
			break;
		}
	}
	if (depth > 0) {
		while (depth > 1 && st[depth - 1].chained)
			depth--;
		return fail(err, l->src, st[depth - 1].node->pos, "{{#%.*s}} "
		    "is not closed", (int)(st[depth - 1].namelen > 40 ? 40 :
		    st[depth - 1].namelen), l->src + st[depth - 1].name);
	}
	return 0;
}

struct template *
template_new(const char *text, size_t len, struct template_error *err)
{
	struct template	*t;
	struct lexer	 l;
	int		 rc;

	if (len > LIMIT_TEMPLATE_SOURCE) {
		fail(err, NULL, 0, "template longer than %d bytes",
		    LIMIT_TEMPLATE_SOURCE);
		return NULL;
	}
	t = xcalloc(1, sizeof(*t));
	t->src = xmalloc(len + 1);
	memcpy(t->src, text, len);
	t->src[len] = '\0';
	t->len = len;
	memset(&l, 0, sizeof(l));
	l.src = t->src;
	l.len = len;
	l.err = err;
	rc = lex(&l);
	if (rc == 0) {
		strip(&l);
		rc = build(t, &l, err);
	}
	free(l.toks);
	if (rc != 0) {
		template_free(t);
		return NULL;
	}
	return t;
}

static void
expr_clear(struct template_expr *e)
{
	size_t	i;

	for (i = 0; i < e->path.nseg; i++)
		free(e->path.seg[i]);
	free(e->path.seg);
	free(e->path.seglen);
	json_decref(e->literal);
	if (e->call != NULL) {
		call_clear(e->call);
		free(e->call);
	}
}

static void
call_clear(struct template_call *c)
{
	size_t	i;

	if (c->value != NULL) {
		expr_clear(c->value);
		free(c->value);
	}
	for (i = 0; i < c->nargs; i++)
		expr_clear(&c->args[i]);
	free(c->args);
	for (i = 0; i < c->nhash; i++) {
		free(c->hkey[i]);
		expr_clear(&c->hval[i]);
	}
	free(c->hkey);
	free(c->hval);
}

static void
prog_clear(struct template_prog *p)
{
	size_t	i;

	for (i = 0; i < p->n; i++) {
		call_clear(&p->nodes[i].call);
		prog_clear(&p->nodes[i].body);
		prog_clear(&p->nodes[i].inverse);
	}
	free(p->nodes);
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	prog_clear(&t->prog);
	free(t->src);
	free(t);
}
