/* Every cap on untrusted input, in one place. */
#ifndef EXPORTD_LIMITS_H
#define EXPORTD_LIMITS_H

#define LIMIT_BODY_DEFAULT	1048576	/* request body, bytes (configurable) */
#define LIMIT_BODY_MAX		67108864	/* largest --max-body accepted */
#define LIMIT_JSON_DEPTH	64		/* nesting of objects and arrays */
#define LIMIT_URL		8192		/* path plus query string, bytes */
#define LIMIT_AUTHORITY		255		/* host and port of an absolute target */
#define LIMIT_HEADERS		16384		/* all request headers, bytes */
#define LIMIT_CONN_MEMORY	32768		/* request line and headers; zeroed per request, keep it small */
#define LIMIT_STRING		1048576		/* one JSON string, bytes */
#define LIMIT_KEYS		10000		/* keys of one JSON object */
#define LIMIT_JSON_NODES	200000		/* values in one JSON document */
#define LIMIT_NAME		255		/* export name, characters */
#define LIMIT_PAGE_DEFAULT	1000		/* list page size when none is asked */
#define LIMIT_PAGE_MAX		1000		/* largest list page */
#define LIMIT_PAGE_BUFFER	65536		/* page bytes held at once: a page up to this is sent in one piece, a larger one streams in chunks of about this (plus one row) */
#define LIMIT_PAGE_CHUNK_ROWS	256		/* rows read by one chunk of a streamed page */
#define LIMIT_ERRORS		50		/* errors reported in one response */
#define LIMIT_CONNECTIONS	4096		/* open client connections (configurable) */
#define LIMIT_CONNECTIONS_MAX	1000000		/* largest --max-connections accepted */
#define LIMIT_LISTEN_BACKLOG	511		/* connections waiting for accept */
#define LIMIT_REQUEST_HEAD	(LIMIT_URL + LIMIT_HEADERS + 1024)	/* request line and headers seen by the gate */
#define LIMIT_GATE_LINGER	1024		/* refused connections waiting for their EOF */
#define LIMIT_TLS_FILE		1048576		/* a --tls-cert or --tls-key file, bytes */
#define LIMIT_TLS_CHAIN		16		/* certificates in the --tls-cert chain */
#define LIMIT_CONN_PER_IP	1024		/* open connections per client address (configurable) */
#define LIMIT_HEADER_TIMEOUT	10		/* seconds to receive a request head (configurable) */
#define LIMIT_BODY_TIMEOUT	60		/* seconds to receive a request body (configurable) */
#define LIMIT_DRAIN_TIMEOUT	30		/* seconds for requests in flight at shutdown (configurable) */
#define LIMIT_CONN_TIMEOUT	60		/* idle connection, seconds */
#define LIMIT_ACCOUNT_NAME	128		/* account name, bytes */
#define LIMIT_LISTENER_RECORDS	10000		/* records of one webhook delivery (configurable) */
#define LIMIT_LISTENER_STORED	16777216	/* their JSON text, bytes (configurable) */
#define LIMIT_LISTENER_STORED_MAX 1073741824	/* largest --listener-max-stored-bytes */
#define LIMIT_WRITE_BATCH	256		/* writes committed in one transaction */
#define LIMIT_STATE_KEY		128		/* state key, characters */
#define LIMIT_STATE_VALUE	1048576		/* state value, bytes of its JSON */
#define LIMIT_TOKEN_CACHE	256		/* tokens cached per server thread */
#define LIMIT_SEED_BYTES	268435456	/* serve --seed FILE, bytes */
#define LIMIT_TOKEN_CACHE_MS	10000		/* longest a cached token is trusted */
#define LIMIT_EGRESS_ALLOW	1024		/* --egress-allow entries */
#define LIMIT_EGRESS_NAME	253		/* a host name in --egress-allow */
#define LIMIT_EGRESS_CONNECT_TIMEOUT 10		/* outbound connect, seconds (configurable) */
#define LIMIT_EGRESS_TIMEOUT	60		/* one outbound request, seconds (configurable) */
#define LIMIT_EGRESS_RESPONSE	16777216	/* one outbound response body, bytes (configurable) */
#define LIMIT_EGRESS_RESPONSE_MAX 1073741824	/* largest --egress-max-response accepted */
#define LIMIT_EGRESS_HEADERS	65536		/* one outbound response's headers, bytes */
#define LIMIT_EGRESS_REDIRECTS	5		/* redirects followed per request */
#define LIMIT_EGRESS_RETRIES	2		/* retries after a 5xx, 429 or failed connect (configurable) */
#define LIMIT_EGRESS_RETRY_AFTER 30		/* longest Retry-After waited for, seconds (configurable) */
#define LIMIT_EGRESS_BACKOFF_MS	500		/* first wait before a retry; doubles */
#define LIMIT_PINGS		16		/* connection pings in flight at once */
#define LIMIT_RDBMS_PAGE_ROWS	10000		/* rows of one RDBMS page */
#define LIMIT_RDBMS_PAGE_BYTES	16777216	/* one RDBMS page's values as the server sent them, bytes */
#define LIMIT_RDBMS_STATEMENT_MS 60000		/* one RDBMS statement (DECLARE, each FETCH), ms */
#define LIMIT_RUN_PAGES		1000		/* pages (requests) of one run of an export (configurable) */
#define LIMIT_RUN_RECORDS	100000		/* records of one run (configurable) */
#define LIMIT_RUN_WORKERS	8		/* threads that runs happen on (configurable) */
#define LIMIT_RUN_QUEUE		1024		/* runs waiting for a worker; beyond, 503 */
#define LIMIT_RUN_PAGE_SIZE	20		/* records of a first page (export.pageSize's default) */
#define LIMIT_PAGED_STATE_S	3600		/* a pagedExportState is good for this many seconds */
#define LIMIT_TEMPLATE_SOURCE	1048576		/* a handlebars template, bytes */
#define LIMIT_TEMPLATE_DEPTH	64		/* nested blocks and subexpressions of a template */
#define LIMIT_TEMPLATE_OUTPUT	4194304		/* a rendered template, bytes (the caller may set less or more) */
#define LIMIT_TEMPLATE_ITERATIONS 1000000	/* #each rounds of one render (the caller may set less or more) */

#endif
