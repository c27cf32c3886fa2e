/*
 * Handlebars templates as integrator.io writes them, for the runner of
 * exports: {{path}} (HTML-escaped), {{{path}}} and {{&path}} (raw), blocks
 * with {{else}}, subexpressions, whitespace control and the helpers of the
 * Export API (#if, #unless, #each, #with, #compare, #and, #or, dateFormat,
 * dateAdd, timestamp, encodeURI, decodeURI, base64Encode, base64Decode,
 * jsonSerialize, lowercase, uppercase, join, lookup). The rules, and what
 * is not supported, are in docs/templates.md.
 *
 * A template is parsed once (template_new) and rendered any number of
 * times over a jansson context (template_render). Both are bounded: the
 * template's size and nesting, the output, and the iterations of #each;
 * time is linear in the template and the output. Nothing here allocates
 * without a cap set by the caller or util/limits.h, and an error is a
 * value with a position, never a crash.
 */
#ifndef EXPORTD_TEMPLATE_H
#define EXPORTD_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct template;

/* Where and why parsing or rendering failed. offset is a byte offset into
 * the template text; line and column count from 1 (columns in bytes). */
struct template_error {
	size_t		 offset;
	unsigned	 line;
	unsigned	 column;
	char		 message[160];
};

/* What a render may use. Zero values mean the defaults of util/limits.h;
 * now_ms is the clock of timestamp (and of dateFormat without a date)
 * when has_now is set, else the real time. */
struct template_options {
	size_t		 max_output;	/* bytes of the result */
	size_t		 max_iterations;	/* #each rounds, all blocks together */
	bool		 has_now;
	int64_t		 now_ms;
};

/* Parse len bytes of template text. Returns a new template (free with
 * template_free), or NULL with *err filled (unknown helper, unclosed or
 * mismatched block, bad syntax, too deep, too long). */
struct template	*template_new(const char *text, size_t len,
		    struct template_error *err);
void		 template_free(struct template *);

/*
 * Render over context (borrowed; any JSON value, usually an object).
 * opt may be NULL. Returns a new NUL-terminated string of *len bytes that
 * the caller frees, or NULL with *err filled (output or iterations past
 * their cap, a helper given what it cannot use).
 */
char		*template_render(const struct template *, const json_t *context,
		    const struct template_options *opt, size_t *len,
		    struct template_error *err);

/* template_new, template_render and template_free in one call. */
char		*template_render_text(const char *text, size_t textlen,
		    const json_t *context, const struct template_options *opt,
		    size_t *len, struct template_error *err);

#endif
