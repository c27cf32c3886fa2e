/* Error lists. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/errors.h"

/* Keep messages and paths printable ASCII: they may quote client bytes. */
static void
sanitize(char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
			*s = '?';
}

void
errors_init(struct errors *e)
{
	e->n = 0;
	e->dropped = 0;
}

void
errors_add(struct errors *e, int status, const char *code, const char *field,
    const char *fmt, ...)
{
	struct error	*x;
	va_list		 ap;

	if (e->n == LIMIT_ERRORS) {
		e->dropped++;
		return;
	}
	x = &e->e[e->n++];
	x->status = status;
	snprintf(x->code, sizeof(x->code), "%s", code);
	snprintf(x->field, sizeof(x->field), "%s", field != NULL ? field : "");
	va_start(ap, fmt);
	vsnprintf(x->message, sizeof(x->message), fmt, ap);
	va_end(ap);
	sanitize(x->field);
	sanitize(x->message);
}

int
errors_status(const struct errors *e)
{
	return e->n > 0 ? e->e[0].status : 500;
}
