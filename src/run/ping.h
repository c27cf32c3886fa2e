/* A connection's ping (export-api.md §9, docs/ping.md): one request to an
 * http or rest connection's ping URI with its auth (an oauth token or a
 * cookie login fetched first, as a run does), judged by the status
 * and the ping's successPath/failPath rules; SELECT 1 on a postgresql
 * rdbms connection. Plain values in and out: callable from any worker
 * thread, knows nothing of the request that asked. Blocks up to the
 * fetch limits' times. */
#ifndef EXPORTD_RUN_PING_H
#define EXPORTD_RUN_PING_H

#include <jansson.h>
#include <stdint.h>

#include "run/egress.h"
#include "run/fetch.h"

enum ping_result {
	PING_OK,
	PING_FAILED,		/* the remote refused, or could not be reached */
	PING_UNSUPPORTED,	/* this type (or auth) cannot be pinged */
};

/*
 * Ping connection (a whole connection document, its secrets in plain
 * text). secrets is the map of its secrets ({"path": "value", ...}, may
 * be NULL): no value of it, nor an Authorization header made from them,
 * is ever part of *message. On PING_FAILED and PING_UNSUPPORTED *message
 * is a new string (the caller frees it) saying what the remote said or
 * what failed; NULL on PING_OK. id and rev name a saved connection
 * (id NULL for an unsaved one): an oauth token or a login cookie the
 * ping fetches is kept for the runs of that revision (run_auth_sign).
 */
enum ping_result ping_connection(const json_t *connection,
		    const json_t *secrets, const char *id, int64_t rev,
		    const struct egress *, const struct fetch_limits *,
		    char **message);

#endif
