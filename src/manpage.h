/* The manual page exportd(1), written as roff from the option table and
 * the command list, so that it always says what --help says. */
#ifndef EXPORTD_MANPAGE_H
#define EXPORTD_MANPAGE_H

#include <stdio.h>

/* One row of the command list: exportd --help prints name, args and
 * summary; the manual adds text. */
struct manpage_command {
	const char	*name;		/* "token create" */
	const char	*args;		/* "--account NAME", or "" */
	const char	*summary;	/* one line */
	const char	*text;		/* a paragraph of plain text */
	int		 groups;	/* the option groups it takes (CONFIG_*) */
};

/* Write the page for the commands (ended by a row with a NULL name). The
 * date is SOURCE_DATE_EPOCH's when it is set, else none. */
void	 manpage_write(FILE *, const struct manpage_command *,
	    const char *version);

#endif
