/* The gate in front of libmicrohttpd: exportd accepts connections itself,
 * holds each until the head of its first request has arrived whole and
 * well framed, and only then hands it to libmicrohttpd. It enforces the
 * connection caps (total, per client address) with a JSON answer, and
 * the deadlines of every connection it handed over. */
#ifndef EXPORTD_GATE_H
#define EXPORTD_GATE_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

struct gate;

struct gate_options {
	unsigned	 max_connections;	/* 503 beyond */
	unsigned	 max_per_ip;	/* per address, 429 beyond; 0: none */
	unsigned	 header_timeout;	/* s, for a request's head */
	unsigned	 body_timeout;	/* s, for a request's body */
	unsigned	 idle_timeout;	/* s, kept alive between requests */
	struct http_metrics *metrics;	/* refusals are counted here */
	size_t		 nroutes;	/* of the server: its gate slot */
	bool		 tls;		/* connections speak TLS: see gate.c */
};

/* Where a handed-over connection is; set by the server as requests go. */
enum gate_phase {
	GATE_ARRIVED,	/* head received by the gate, not yet parsed */
	GATE_HEADERS,	/* waiting for the next request (kept alive) */
	GATE_BODY,	/* reading a request's body */
	GATE_BUSY,	/* request complete: handling it or answering */
	GATE_CUT,	/* shut down by the gate */
	GATE_HANDSHAKE,	/* TLS: handshake and first head, not yet parsed */
};

/* A gate on a listening socket (takes ownership of fd); NULL on error. */
struct http_metrics;

struct gate	*gate_new(int fd, const struct gate_options *);
/* Start accepting; connections go to daemon (MHD_USE_NO_LISTEN_SOCKET). */
int		 gate_start(struct gate *, struct MHD_Daemon *);
/* libmicrohttpd's MHD_OPTION_NOTIFY_CONNECTION callback (cls: the gate). */
void		 gate_notify(void *, struct MHD_Connection *, void **,
		    enum MHD_ConnectionNotificationCode);
/* Record where a connection's current request is. */
void		 gate_phase(struct MHD_Connection *, enum gate_phase);
/* Stop accepting, drop connections waiting for a head or a body; those
 * whose request is complete go on. */
void		 gate_drain(struct gate *);
/* Client connections open: waiting for a head, or handed over. */
unsigned	 gate_open(struct gate *);
/* Connections handed over whose request libmicrohttpd has not begun. */
unsigned	 gate_arrived(struct gate *);
/* Stop the thread and free the gate (after libmicrohttpd has stopped). */
void		 gate_free(struct gate *);

#endif
