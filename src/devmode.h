/* Developer mode of serve, for CI and laptops: a throwaway store
 * (--ephemeral), a token known in advance (--dev-token) and exports loaded
 * at start (--seed, seed.h). */
#ifndef EXPORTD_DEVMODE_H
#define EXPORTD_DEVMODE_H

#include "config.h"
#include "store/store.h"
#include "util/oid.h"

#define DEVMODE_ACCOUNT		"dev"	/* the account of --dev-token */
#define DEVMODE_TOKEN_MIN	16	/* shortest --dev-token accepted */

/* Check the developer options before anything is created: --ephemeral
 * beside an option naming where data lives, a --dev-token of the wrong
 * shape, --seed without --dev-token. -1 after a message. */
int	 devmode_check(const struct config *);
/* --ephemeral: make a private directory (0700) under $TMPDIR or /tmp
 * and point the data dir at it. Returns the directory (caller frees,
 * after devmode_ephemeral_remove), or NULL after a message. */
char	*devmode_ephemeral_new(struct config *);
/* Remove the directory and every file in it (the database, its WAL and
 * lock files). */
void	 devmode_ephemeral_remove(const char *dir);
/* --dev-token: make the token valid for the account dev (created if
 * new); nothing is written when it already is. The token is never
 * logged. Fills account; -1 after a message. */
int	 devmode_token(struct store *, const char *token,
	    char account[OID_HEXLEN + 1]);

#endif
