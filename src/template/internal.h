/*
 * What the files of src/template share: the parsed tree (parse.c builds
 * it, render.c walks it), the helper table (helpers.c), JavaScript's
 * conversions of values (value.c) and dates (date.c). Not for use outside
 * src/template; the public interface is template.h.
 */
#ifndef EXPORTD_TEMPLATE_INTERNAL_H
#define EXPORTD_TEMPLATE_INTERNAL_H

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "template/template.h"
#include "util/buf.h"

struct template_expr;
struct template_node;

/* A path: ../ levels, then segments. data: an @variable (@index, @root.x,
 * @../key); scoped: written with this, ./ or ../, so never a helper. */
struct template_path {
	unsigned	 up;
	bool		 data;
	bool		 scoped;
	size_t		 nseg;
	char		**seg;
	size_t		*seglen;
};

enum template_helper_id {
	HELPER_NONE = 0,
	/* blocks, run by render.c */
	HELPER_IF, HELPER_UNLESS, HELPER_EACH, HELPER_WITH, HELPER_COMPARE,
	HELPER_AND, HELPER_OR,
	/* inline, run by helpers.c */
	HELPER_DATEFORMAT, HELPER_DATEADD, HELPER_TIMESTAMP, HELPER_ENCODEURI,
	HELPER_DECODEURI, HELPER_BASE64ENCODE, HELPER_BASE64DECODE,
	HELPER_JSONSERIALIZE, HELPER_LOWERCASE, HELPER_UPPERCASE, HELPER_JOIN,
	HELPER_LOOKUP,
};

/* A helper call or a plain value: helper is HELPER_NONE for a value
 * ({{path}}, {{"literal"}}), whose expression is then value. */
struct template_call {
	enum template_helper_id	 helper;
	struct template_expr	*value;
	size_t			 nargs;
	struct template_expr	*args;
	size_t			 nhash;
	char			**hkey;
	struct template_expr	*hval;
	size_t			 pos;
};

enum template_expr_kind { EXPR_PATH, EXPR_LITERAL, EXPR_CALL };

struct template_expr {
	enum template_expr_kind	 kind;
	size_t			 pos;
	struct template_path	 path;		/* EXPR_PATH */
	json_t			*literal;	/* EXPR_LITERAL, owned */
	struct template_call	*call;		/* EXPR_CALL: a subexpression */
};

struct template_prog {
	struct template_node	*nodes;
	size_t			 n;
	size_t			 size;
};

enum template_node_kind { NODE_TEXT, NODE_OUTPUT, NODE_BLOCK };

struct template_node {
	enum template_node_kind	 kind;
	size_t			 pos;
	const char		*text;		/* NODE_TEXT: into the source */
	size_t			 len;
	bool			 raw;		/* NODE_OUTPUT: not escaped */
	struct template_call	 call;		/* NODE_OUTPUT, NODE_BLOCK */
	struct template_prog	 body;		/* NODE_BLOCK */
	struct template_prog	 inverse;
};

struct template {
	char			*src;
	size_t			 len;
	struct template_prog	 prog;
};

/* Fill err (if not NULL) with a message at byte pos of src, counting
 * lines and columns; returns -1. */
int	template_error_vset(struct template_error *err, const char *src,
	    size_t pos, const char *fmt, va_list ap)
	    __attribute__((format(printf, 4, 0)));

/* The helper of a name, with its arity; HELPER_NONE if there is none. */
struct template_helper {
	const char		*name;
	enum template_helper_id	 id;
	bool			 block;
	unsigned		 min_args;
	unsigned		 max_args;
};
const struct template_helper *template_helper_find(const char *, size_t);

/* What an inline helper may use while it runs. */
struct template_env {
	int64_t		 now_ms;
	size_t		 cap;		/* longest string it may build */
	char		 why[128];	/* the message when it fails */
};

/* Run an inline helper on evaluated arguments (NULL: undefined). *out is a
 * new reference, or NULL for undefined. Returns 0, or -1 with env->why. */
int	template_helper_run(enum template_helper_id, json_t **args,
	    size_t nargs, struct template_env *, json_t **out);

/* JavaScript's String(v) appended to b (undefined and null: nothing;
 * arrays joined with ","; objects "[object Object]"). -1 past b's cap. */
int	template_value_text(struct buf *b, const json_t *v);
/* JSON.stringify(v) appended to b (undefined: nothing). -1 past the cap. */
int	template_value_json(struct buf *b, const json_t *v);
/* Number(v), NaN included. */
double	template_value_number(const json_t *v);
/* JavaScript's truthiness: false, 0, NaN, "", null and undefined are
 * false; everything else (empty arrays and objects too) is true. */
bool	template_value_truthy(const json_t *v);
/* JavaScript's a == b (loose) and a === b (strict). */
bool	template_value_loose_eq(const json_t *a, const json_t *b);
bool	template_value_strict_eq(const json_t *a, const json_t *b);
/* a < b as JavaScript compares; or_equal: a <= b. */
bool	template_value_less(const json_t *a, const json_t *b, bool or_equal);
/* A string value of len bytes, not checked for UTF-8 (never NULL). */
json_t	*template_value_string(const char *s, size_t len);

/* dateFormat, dateAdd and timestamp on evaluated arguments. */
int	template_date_format(json_t **args, size_t nargs,
	    struct template_env *, json_t **out);
int	template_date_add(json_t **args, size_t nargs,
	    struct template_env *, json_t **out);
int	template_date_timestamp(json_t **args, size_t nargs,
	    struct template_env *, json_t **out);

#endif
