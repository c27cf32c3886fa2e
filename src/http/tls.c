/* TLS credentials (see tls.h). libmicrohttpd asks for the certificate of
 * each handshake through tls_retrieve; the chain it gets is counted as
 * used by that connection until the connection closes, so a reload can
 * swap in a new chain at any time and free the old one only once no
 * handshake can still be reading it. GnuTLS keeps the pointers it was
 * given and frees nothing of them. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <gnutls/gnutls.h>
#include <gnutls/abstract.h>

#include "crypto/crypto.h"
#include "http/tls.h"
#include "util/limits.h"
#include "util/log.h"
#include "util/xmalloc.h"

#define TLS_BUCKETS	1024	/* connections with a chain, hashed */

/* One loaded chain and its key. */
struct tls_chain {
	gnutls_pcert_st		 pcert[LIMIT_TLS_CHAIN];
	unsigned		 n;
	gnutls_privkey_t	 key;
	unsigned		 uses;		/* connections that took it */
	struct tls_chain	*next;		/* retired list */
};

struct tls {
	char			*cert_path;
	char			*key_path;
	struct tls_chain	*cur;
	struct tls_chain	*retired;	/* replaced, still in use */
};

/* A connection and the chain its handshake took. */
struct tls_use {
	struct MHD_Connection	*conn;
	struct tls_chain	*chain;
	struct tls_use		*next;
};

static pthread_mutex_t	 tls_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tls	*tls_active;
static struct tls_use	*tls_uses[TLS_BUCKETS];

static void
chain_free(struct tls_chain *ch)
{
	unsigned	i;

	if (ch == NULL)
		return;
	for (i = 0; i < ch->n; i++)
		gnutls_pcert_deinit(&ch->pcert[i]);
	if (ch->key != NULL)
		gnutls_privkey_deinit(ch->key);
	free(ch);
}

/* A whole file, at most LIMIT_TLS_FILE bytes, into d (gnutls_free'd by
 * the caller, wiped first if secret); -1 after logging. */
static int
file_read(const char *opt, const char *path, gnutls_datum_t *d)
{
	FILE	*f;
	size_t	 n;
	int	 rc = -1;

	d->data = NULL;
	d->size = 0;
	if ((f = fopen(path, "rb")) == NULL) {
		log_error("%s %s: cannot read it: %s", opt, path,
		    strerror(errno));
		return -1;
	}
	d->data = gnutls_malloc(LIMIT_TLS_FILE + 1);
	if (d->data == NULL)
		goto out;
	n = fread(d->data, 1, LIMIT_TLS_FILE + 1, f);
	if (ferror(f))
		log_error("%s %s: cannot read it: %s", opt, path,
		    strerror(errno));
	else if (n > LIMIT_TLS_FILE)
		log_error("%s %s: larger than %d bytes", opt, path,
		    LIMIT_TLS_FILE);
	else {
		d->size = (unsigned)n;
		rc = 0;
	}
out:
	fclose(f);
	return rc;
}

static void
datum_wipe(gnutls_datum_t *d)
{
	if (d->data != NULL) {
		crypto_wipe(d->data, LIMIT_TLS_FILE + 1);
		gnutls_free(d->data);
	}
	d->data = NULL;
}

/* The DER form of a public key (gnutls_free'd by the caller). */
static int
pubkey_der(gnutls_pubkey_t pub, gnutls_datum_t *out)
{
	return gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, out);
}

/* Does the private key belong to the leaf (the first certificate)? */
static bool
chain_key_matches(struct tls_chain *ch)
{
	gnutls_pubkey_t	pub = NULL;
	gnutls_datum_t	a = { NULL, 0 }, b = { NULL, 0 };
	bool		ok = false;

	if (gnutls_pubkey_init(&pub) == 0 &&
	    gnutls_pubkey_import_privkey(pub, ch->key, 0, 0) == 0 &&
	    pubkey_der(pub, &a) == 0 &&
	    pubkey_der(ch->pcert[0].pubkey, &b) == 0)
		ok = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	if (pub != NULL)
		gnutls_pubkey_deinit(pub);
	return ok;
}

/* Load a chain and its key from the two files; NULL after logging. */
static struct tls_chain *
chain_load(const char *cert_path, const char *key_path)
{
	struct tls_chain	*ch;
	gnutls_datum_t		 cert = { NULL, 0 }, key = { NULL, 0 };
	int			 e;

	ch = xcalloc(1, sizeof(*ch));
	if (file_read("--tls-cert", cert_path, &cert) == -1 ||
	    file_read("--tls-key", key_path, &key) == -1)
		goto fail;
	ch->n = LIMIT_TLS_CHAIN;
	if ((e = gnutls_pcert_list_import_x509_raw(ch->pcert, &ch->n, &cert,
	    GNUTLS_X509_FMT_PEM, GNUTLS_X509_CRT_LIST_FAIL_IF_UNSORTED)) < 0) {
		ch->n = 0;
		log_error("--tls-cert %s: not a PEM certificate chain (leaf "
		    "first, at most %d certificates): %s", cert_path,
		    LIMIT_TLS_CHAIN, gnutls_strerror(e));
		goto fail;
	}
	if ((e = gnutls_privkey_init(&ch->key)) < 0 ||
	    (e = gnutls_privkey_import_x509_raw(ch->key, &key,
	    GNUTLS_X509_FMT_PEM, NULL, 0)) < 0) {
		log_error("--tls-key %s: not an unencrypted PEM private key: "
		    "%s", key_path, gnutls_strerror(e));
		goto fail;
	}
	if (!chain_key_matches(ch)) {
		log_error("--tls-key %s is not the key of the certificate in "
		    "--tls-cert %s", key_path, cert_path);
		goto fail;
	}
	datum_wipe(&key);
	gnutls_free(cert.data);
	return ch;
fail:
	datum_wipe(&key);
	gnutls_free(cert.data);
	chain_free(ch);
	return NULL;
}

struct tls *
tls_new(const char *cert_path, const char *key_path)
{
	struct tls		*t;
	struct tls_chain	*ch;

	if ((ch = chain_load(cert_path, key_path)) == NULL)
		return NULL;
	t = xcalloc(1, sizeof(*t));
	t->cert_path = xstrdup(cert_path);
	t->key_path = xstrdup(key_path);
	t->cur = ch;
	return t;
}

/* Free the retired chains no connection uses; with the lock held. */
static void
retired_sweep(struct tls *t)
{
	struct tls_chain	**pp, *ch;

	for (pp = &t->retired; (ch = *pp) != NULL;) {
		if (ch->uses > 0) {
			pp = &ch->next;
			continue;
		}
		*pp = ch->next;
		chain_free(ch);
	}
}

int
tls_reload(struct tls *t)
{
	struct tls_chain	*ch;

	if ((ch = chain_load(t->cert_path, t->key_path)) == NULL) {
		log_error("tls: reload failed; the certificate loaded before "
		    "stays in use");
		return -1;
	}
	pthread_mutex_lock(&tls_lock);
	t->cur->next = t->retired;
	t->retired = t->cur;
	t->cur = ch;
	retired_sweep(t);
	pthread_mutex_unlock(&tls_lock);
	log_info("tls: reloaded %s (%u certificates) and %s", t->cert_path,
	    ch->n, t->key_path);
	return 0;
}

void
tls_install(struct tls *t)
{
	pthread_mutex_lock(&tls_lock);
	tls_active = t;
	pthread_mutex_unlock(&tls_lock);
}

static unsigned
use_bucket(const struct MHD_Connection *conn)
{
	uintptr_t	p = (uintptr_t)conn;

	return (unsigned)((p >> 4) ^ (p >> 14)) % TLS_BUCKETS;
}

/* Forget what conn used; with the lock held. */
static void
use_drop(struct MHD_Connection *conn)
{
	struct tls_use	**pp, *u;

	for (pp = &tls_uses[use_bucket(conn)]; (u = *pp) != NULL;
	    pp = &u->next) {
		if (u->conn != conn)
			continue;
		*pp = u->next;
		u->chain->uses--;
		free(u);
		return;
	}
}

/* GnuTLS asks which chain to present: the current one, counted as used
 * by the connection (libmicrohttpd sets it as the session's pointer). */
int
tls_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn,
    int nreqs, const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
    gnutls_pcert_st **pcert, unsigned int *pcert_length,
    gnutls_privkey_t *key)
{
	struct MHD_Connection	*conn = gnutls_session_get_ptr(session);
	struct tls_chain	*ch;
	struct tls_use		*u;
	unsigned		 b;

	(void)req_ca_dn;
	(void)nreqs;
	(void)pk_algos;
	(void)pk_algos_length;

	u = xcalloc(1, sizeof(*u));
	pthread_mutex_lock(&tls_lock);
	if (tls_active == NULL) {
		pthread_mutex_unlock(&tls_lock);
		free(u);
		return -1;
	}
	use_drop(conn);		/* a second handshake on the connection */
	ch = tls_active->cur;
	ch->uses++;
	u->conn = conn;
	u->chain = ch;
	b = use_bucket(conn);
	u->next = tls_uses[b];
	tls_uses[b] = u;
	pthread_mutex_unlock(&tls_lock);
	*pcert = ch->pcert;
	*pcert_length = ch->n;
	*key = ch->key;
	return 0;
}

void
tls_conn_closed(struct MHD_Connection *conn)
{
	pthread_mutex_lock(&tls_lock);
	use_drop(conn);
	if (tls_active != NULL)
		retired_sweep(tls_active);
	pthread_mutex_unlock(&tls_lock);
}

void
tls_conn_send(struct MHD_Connection *conn, const char *p, size_t n)
{
	const union MHD_ConnectionInfo	*ci;

	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if (ci != NULL && ci->tls_session != NULL) {
		(void)gnutls_record_send(ci->tls_session, p, n);
		return;
	}
	ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
	if (ci != NULL)
		(void)send(ci->connect_fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
}

void
tls_free(struct tls *t)
{
	struct tls_chain	*ch;
	struct tls_use		*u;
	int			 b;

	if (t == NULL)
		return;
	pthread_mutex_lock(&tls_lock);
	if (tls_active == t)
		tls_active = NULL;
	for (b = 0; b < TLS_BUCKETS; b++) {
		while ((u = tls_uses[b]) != NULL) {
			tls_uses[b] = u->next;
			free(u);
		}
	}
	pthread_mutex_unlock(&tls_lock);
	while ((ch = t->retired) != NULL) {
		t->retired = ch->next;
		chain_free(ch);
	}
	chain_free(t->cur);
	free(t->cert_path);
	free(t->key_path);
	free(t);
}
