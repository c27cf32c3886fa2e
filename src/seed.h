/* serve --seed FILE: connections and exports loaded into the --dev-token
 * account at start. FILE is a JSON array of records or JSON lines (one
 * record a line, blank lines skipped). A record without adaptorType whose
 * type is a connection type is a connection; any other is an export.
 * Every record is parsed, capped, normalised and validated as POST
 * /v1/connections or POST /v1/exports does (an export's _connectionId
 * names a connection of the seed or of the account), and its secrets
 * sealed the same way; each must carry its _id (24 hex digits), which it
 * keeps. */
#ifndef EXPORTD_SEED_H
#define EXPORTD_SEED_H

#include "crypto/crypto.h"
#include "store/store.h"

struct seed;

/* Read and check every record of path, before anything is stored. NULL
 * after a message naming the record and every problem it has: one bad
 * record loads nothing. */
struct seed	*seed_load(const char *path);
/* Store the records in account: an id the account already holds is left
 * as it is (so a persistent store is seeded once); an id held by another
 * account stops the load before anything is written. -1 after a
 * message. */
int		 seed_apply(struct seed *, struct store *,
		    const unsigned char key[CRYPTO_KEYLEN], const char *account);
void		 seed_free(struct seed *);

#endif
