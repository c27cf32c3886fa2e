/* Developer mode of serve: --ephemeral and --dev-token (--seed: seed.c). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/token.h"
#include "devmode.h"
#include "util/log.h"
#include "util/xmalloc.h"

int
devmode_check(const struct config *c)
{
	static const char *const where[] = { "data-dir", "db",
	    "secret-key-file" };
	size_t	 i, len;

	for (i = 0; c->ephemeral && i < sizeof(where) / sizeof(where[0]);
	    i++) {
		if (!config_given(c, where[i]))
			continue;
		fprintf(stderr, "exportd serve: --ephemeral makes its own "
		    "throwaway store; it cannot be combined with --%s (or "
		    "its variable)\n", where[i]);
		return -1;
	}
	if (c->dev_token != NULL) {
		len = strlen(c->dev_token);
		if (len < DEVMODE_TOKEN_MIN ||
		    !token_is_credential(c->dev_token, len)) {
			fprintf(stderr, "exportd serve: --dev-token must be %d "
			    "to %d characters of A-Z a-z 0-9 - . _ ~ + / "
			    "(trailing = allowed); it has %zu\n",
			    DEVMODE_TOKEN_MIN, TOKEN_MAXLEN, len);
			return -1;
		}
	}
	if (c->seed != NULL && c->dev_token == NULL) {
		fprintf(stderr, "exportd serve: --seed loads exports into the "
		    "--dev-token account; give --dev-token TOKEN too\n");
		return -1;
	}
	return 0;
}

char *
devmode_ephemeral_new(struct config *c)
{
	const char	*tmp = getenv("TMPDIR");
	char		*dir;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	dir = xasprintf("%s/exportd-ephemeral-XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		fprintf(stderr, "exportd serve: --ephemeral: cannot create a "
		    "directory in %s: %s\n", tmp, strerror(errno));
		free(dir);
		return NULL;
	}
	free(c->data_dir);
	c->data_dir = xstrdup(dir);
	log_warn("ephemeral store in %s: everything stored is deleted when "
	    "the server stops", dir);
	return dir;
}

void
devmode_ephemeral_remove(const char *dir)
{
	DIR		*d;
	struct dirent	*e;

	if ((d = opendir(dir)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			if (unlinkat(dirfd(d), e->d_name, 0) == -1)
				log_warn("ephemeral store: cannot remove %s/%s: "
				    "%s", dir, e->d_name, strerror(errno));
		}
		closedir(d);
	}
	if (rmdir(dir) == -1)
		log_warn("ephemeral store: cannot remove %s: %s", dir,
		    strerror(errno));
	else
		log_info("ephemeral store %s removed", dir);
}

int
devmode_token(struct store *s, const char *token,
    char account[OID_HEXLEN + 1])
{
	unsigned char		 hash[CRYPTO_SHA256LEN];
	char			 id[OID_HEXLEN + 1];
	enum store_status	 st;
	int			 rc = -1;

	token_hash(token, strlen(token), hash);
	st = store_token_account(s, hash, account);
	if (st == STORE_OK) {
		rc = 0;
		goto out;
	}
	if (st != STORE_NOT_FOUND ||
	    store_account_ensure(s, DEVMODE_ACCOUNT, account) != STORE_OK)
		goto fail;
	/* the hash is unique: a revoked dev token cannot come back */
	if (store_token_insert(s, account, hash, id) != STORE_OK) {
		fprintf(stderr, "exportd serve: --dev-token cannot be added to "
		    "this store (a revoked token cannot be used again; pick "
		    "another)\n");
		goto out;
	}
	log_info("--dev-token added to account %s (%s)", DEVMODE_ACCOUNT,
	    account);
	rc = 0;
	goto out;
fail:
	fprintf(stderr, "exportd serve: --dev-token: the store cannot be "
	    "read or written (see the messages above)\n");
out:
	crypto_wipe(hash, sizeof(hash));
	return rc;
}
