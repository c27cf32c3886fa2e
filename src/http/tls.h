/* TLS on the listener: the certificate chain and key that libmicrohttpd's
 * GnuTLS handshakes present, loaded from PEM files and replaced while
 * the server runs (SIGHUP). See docs/internals/tls.md. */
#ifndef EXPORTD_TLS_H
#define EXPORTD_TLS_H

#include <stddef.h>

#include <gnutls/abstract.h>
#include <microhttpd.h>

struct tls;

/* TLS 1.2 and 1.3 only, GnuTLS's usual ciphers within them. */
#define TLS_PRIORITIES	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"

/* Load the chain (leaf first) and its key; NULL after logging why (a
 * file missing or unreadable, no certificate, a key that is not the
 * leaf's). Nothing is created. */
struct tls	*tls_new(const char *cert_path, const char *key_path);
/* Read both files again; on success new handshakes present the new
 * chain, else the old one stays and -1 is returned after logging why. */
int		 tls_reload(struct tls *);
/* libmicrohttpd's MHD_OPTION_HTTPS_CERT_CALLBACK: the installed chain. */
int		 tls_retrieve(gnutls_session_t, const gnutls_datum_t *, int,
		    const gnutls_pk_algorithm_t *, int, gnutls_pcert_st **,
		    unsigned int *, gnutls_privkey_t *);
/* Make tls the one tls_retrieve serves (a process has one). */
void		 tls_install(struct tls *);
/* A connection closed: the chain its handshake used may be freed. */
void		 tls_conn_closed(struct MHD_Connection *);
/* Write bytes on a connection outside libmicrohttpd's answer (a refusal
 * in the middle of a body), encrypted if the connection is TLS. */
void		 tls_conn_send(struct MHD_Connection *, const char *, size_t);
/* Free everything (after libmicrohttpd has stopped). */
void		 tls_free(struct tls *);

#endif
