/* exportd dump and restore: a whole store as JSON lines, and back. */
#ifndef EXPORTD_DUMP_H
#define EXPORTD_DUMP_H

#include <stdbool.h>
#include <stdio.h>

#include "store/store.h"

#define DUMP_FORMAT	"exportd-dump"
#define DUMP_VERSION	1

/* Write every row of the store to out, one JSON object a line: a header
 * with the counts first, then accounts, tokens, exports, inbox entries
 * and inbox counts. progress draws a bar on stderr. 0, or -1 after a
 * message on stderr. */
int	dump_write(struct store *, FILE *out, bool progress);

/* Read a dump into the store in one transaction; a store that is not
 * empty is refused unless replace. name names the input in messages.
 * 0, or -1 after a message (with the line number) on stderr; then the
 * store is as it was. */
int	dump_restore(struct store *, FILE *in, const char *name, bool replace,
	    bool progress);

#endif
