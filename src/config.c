/* The option table and its loader. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "util/limits.h"
#include "util/xmalloc.h"

#define OPT_STR(f)	offsetof(struct config, f), 0
#define OPT_LONG(f)	offsetof(struct config, f), 1
#define OPT_FLAG(f)	offsetof(struct config, f), 2
#define OPT_LIST(f)	offsetof(struct config, f), 3
#define STR(x)		#x
#define XSTR(x)		STR(x)

const struct config_option config_options[] = {
	{ "listen", "EXPORTD_LISTEN", "127.0.0.1:8080", "HOST:PORT",
	  "address and port to serve on", CONFIG_SERVE, OPT_STR(listen) },
	{ "reuse-port", "EXPORTD_REUSE_PORT", "0", NULL,
	  "share the port with other processes that also ask (SO_REUSEPORT); "
	  "without it a port in use is an error", CONFIG_SERVE,
	  OPT_FLAG(reuse_port) },
	{ "data-dir", "EXPORTD_DATA_DIR", "./var", "DIR",
	  "where the SQLite database and the secret key live",
	  CONFIG_STORE, OPT_STR(data_dir) },
	{ "db", "EXPORTD_DB", NULL, "URL",
	  "store: sqlite:PATH or postgresql://... (default: sqlite:DIR/exportd.db)",
	  CONFIG_STORE, OPT_STR(db) },
	{ "db-pool-mode", "EXPORTD_DB_POOL_MODE", "session", "MODE",
	  "session, or transaction when a pooler in transaction mode "
	  "(PgBouncer pool_mode=transaction) stands before PostgreSQL",
	  CONFIG_STORE, OPT_STR(db_pool_mode) },
	{ "secret-key-file", "EXPORTD_SECRET_KEY_FILE", NULL, "FILE",
	  "key that encrypts secrets at rest, created 0600 on first start "
	  "(default: DIR/secret.key; EXPORTD_SECRET_KEY=64 hex digits overrides it)",
	  CONFIG_STORE, OPT_STR(secret_key_file) },
	{ "public-url", "EXPORTD_PUBLIC_URL", NULL, "URL",
	  "base URL clients reach the server at, for absolute Link and "
	  "Location headers (default: from an absolute request target, else "
	  "the Host header)", CONFIG_SERVE, OPT_STR(public_url) },
	{ "cors-origin", "EXPORTD_CORS_ORIGIN", NULL, "ORIGIN",
	  "a browser origin (https://app.example.com, or * for any) allowed "
	  "to call the API (CORS); repeat for more (in the environment: "
	  "separated by commas); off by default", CONFIG_SERVE,
	  OPT_LIST(cors_origins) },
	{ "egress-allow", "EXPORTD_EGRESS_ALLOW", NULL, "ENTRY",
	  "let outbound requests (pings, export runs) reach a CIDR "
	  "(10.1.0.0/16, fd00::/8), an address, a host name, or every name "
	  "below one (*.corp.example); repeat for more (in the environment: "
	  "separated by commas); public addresses need no entry",
	  CONFIG_SERVE, OPT_LIST(egress_allow) },
	{ "egress-allow-loopback", "EXPORTD_EGRESS_ALLOW_LOOPBACK", "0", NULL,
	  "let outbound requests reach loopback addresses (127.0.0.0/8, ::1): "
	  "for a developer's machine (make run and --ephemeral set it), not "
	  "for production",
	  CONFIG_SERVE, OPT_FLAG(egress_allow_loopback) },
	{ "egress-connect-timeout", "EXPORTD_EGRESS_CONNECT_TIMEOUT",
	  XSTR(LIMIT_EGRESS_CONNECT_TIMEOUT), "SECONDS",
	  "an outbound connection must be made within this", CONFIG_SERVE,
	  OPT_LONG(egress_connect_timeout) },
	{ "egress-timeout", "EXPORTD_EGRESS_TIMEOUT",
	  XSTR(LIMIT_EGRESS_TIMEOUT), "SECONDS",
	  "an outbound request must be answered in full within this",
	  CONFIG_SERVE, OPT_LONG(egress_timeout) },
	{ "egress-max-response", "EXPORTD_EGRESS_MAX_RESPONSE",
	  XSTR(LIMIT_EGRESS_RESPONSE), "BYTES",
	  "largest body of an outbound request's answer (decoded); beyond, "
	  "the request fails as too_large", CONFIG_SERVE,
	  OPT_LONG(egress_max_response) },
	{ "egress-retries", "EXPORTD_EGRESS_RETRIES", XSTR(LIMIT_EGRESS_RETRIES),
	  "N", "times an outbound request is sent again after a 429, a 5xx "
	  "or a failed connection", CONFIG_SERVE, OPT_LONG(egress_retries) },
	{ "egress-max-retry-after", "EXPORTD_EGRESS_MAX_RETRY_AFTER",
	  XSTR(LIMIT_EGRESS_RETRY_AFTER), "SECONDS",
	  "longest Retry-After waited for before sending again; a longer one "
	  "is not waited for, and the 429 or 503 is the answer", CONFIG_SERVE,
	  OPT_LONG(egress_max_retry_after) },
	{ "run-workers", "EXPORTD_RUN_WORKERS", XSTR(LIMIT_RUN_WORKERS), "N",
	  "threads that exports run on (invoke, preview, virtual exports); "
	  "runs past these wait their turn", CONFIG_SERVE,
	  OPT_LONG(run_workers) },
	{ "run-max-pages", "EXPORTD_RUN_MAX_PAGES", XSTR(LIMIT_RUN_PAGES), "N",
	  "pages (requests) one run of an export may make", CONFIG_SERVE,
	  OPT_LONG(run_max_pages) },
	{ "run-max-records", "EXPORTD_RUN_MAX_RECORDS", XSTR(LIMIT_RUN_RECORDS),
	  "N", "records one run of an export may return", CONFIG_SERVE,
	  OPT_LONG(run_max_records) },
	{ "tls-cert", "EXPORTD_TLS_CERT", NULL, "FILE",
	  "serve HTTPS (TLS 1.2 and 1.3) with this PEM certificate, followed "
	  "by its intermediates; read again on SIGHUP", CONFIG_SERVE,
	  OPT_STR(tls_cert) },
	{ "tls-key", "EXPORTD_TLS_KEY", NULL, "FILE",
	  "the PEM private key of --tls-cert (unencrypted); read again on "
	  "SIGHUP", CONFIG_SERVE, OPT_STR(tls_key) },
	{ "threads", "EXPORTD_THREADS", "0", "N",
	  "server threads (0: one per core)", CONFIG_SERVE, OPT_LONG(threads) },
	{ "max-body", "EXPORTD_MAX_BODY", XSTR(LIMIT_BODY_DEFAULT), "BYTES",
	  "largest request body accepted", CONFIG_SERVE, OPT_LONG(max_body) },
	{ "max-connections", "EXPORTD_MAX_CONNECTIONS", XSTR(LIMIT_CONNECTIONS), "N",
	  "most client connections open at once", CONFIG_SERVE,
	  OPT_LONG(max_connections) },
	{ "max-connections-per-ip", "EXPORTD_MAX_CONNECTIONS_PER_IP",
	  XSTR(LIMIT_CONN_PER_IP), "N",
	  "most connections open at once from one client address (0: no cap)",
	  CONFIG_SERVE, OPT_LONG(max_per_ip) },
	{ "timeout", "EXPORTD_TIMEOUT", XSTR(LIMIT_CONN_TIMEOUT), "SECONDS",
	  "close a client connection idle this long", CONFIG_SERVE,
	  OPT_LONG(timeout) },
	{ "header-timeout", "EXPORTD_HEADER_TIMEOUT",
	  XSTR(LIMIT_HEADER_TIMEOUT), "SECONDS",
	  "a request's line and headers must arrive within this (408 after)",
	  CONFIG_SERVE, OPT_LONG(header_timeout) },
	{ "body-timeout", "EXPORTD_BODY_TIMEOUT", XSTR(LIMIT_BODY_TIMEOUT),
	  "SECONDS", "a request's body must arrive within this (the "
	  "connection is closed after)", CONFIG_SERVE, OPT_LONG(body_timeout) },
	{ "shutdown-timeout", "EXPORTD_SHUTDOWN_TIMEOUT",
	  XSTR(LIMIT_DRAIN_TIMEOUT), "SECONDS",
	  "on SIGTERM, wait this long for requests already received to be "
	  "answered", CONFIG_SERVE, OPT_LONG(drain_timeout) },
	{ "rate-limit-burst", "EXPORTD_RATE_LIMIT_BURST", "1000", "N",
	  "requests a token may make at once (its bucket)", CONFIG_SERVE,
	  OPT_LONG(rate_burst) },
	{ "rate-limit-rate", "EXPORTD_RATE_LIMIT_RATE", "300", "N",
	  "requests per second refilled into each token's bucket (0: no limit)",
	  CONFIG_SERVE, OPT_LONG(rate_per_second) },
	{ "listener-max-body", "EXPORTD_LISTENER_MAX_BODY",
	  XSTR(LIMIT_BODY_DEFAULT), "BYTES",
	  "largest webhook delivery accepted", CONFIG_SERVE,
	  OPT_LONG(listener_max_body) },
	{ "listener-max-records", "EXPORTD_LISTENER_MAX_RECORDS",
	  XSTR(LIMIT_LISTENER_RECORDS), "N",
	  "records one webhook delivery may hold (413 beyond)", CONFIG_SERVE,
	  OPT_LONG(listener_max_records) },
	{ "listener-max-stored-bytes", "EXPORTD_LISTENER_MAX_STORED_BYTES",
	  XSTR(LIMIT_LISTENER_STORED), "BYTES",
	  "bytes the records of one webhook delivery may take as stored, "
	  "includeParentData's copies counted (413 beyond)", CONFIG_SERVE,
	  OPT_LONG(listener_max_stored) },
	{ "listener-rate-limit-burst", "EXPORTD_LISTENER_RATE_LIMIT_BURST",
	  "2000", "N", "webhook deliveries one export may take at once",
	  CONFIG_SERVE, OPT_LONG(listener_burst) },
	{ "listener-rate-limit-rate", "EXPORTD_LISTENER_RATE_LIMIT_RATE",
	  "1000", "N", "webhook deliveries per second refilled per export "
	  "(0: no limit)", CONFIG_SERVE, OPT_LONG(listener_per_second) },
	{ "listener-failed-rate-limit-burst",
	  "EXPORTD_LISTENER_FAILED_RATE_LIMIT_BURST", "1000", "N",
	  "failed webhook verifications (and HEAD probes) one client address "
	  "may make at once; they never spend an export's deliveries",
	  CONFIG_SERVE, OPT_LONG(listener_failed_burst) },
	{ "listener-failed-rate-limit-rate",
	  "EXPORTD_LISTENER_FAILED_RATE_LIMIT_RATE", "100", "N",
	  "failed webhook verifications per second refilled per client "
	  "address (0: no limit)", CONFIG_SERVE,
	  OPT_LONG(listener_failed_per_second) },
	{ "inbox-max-records", "EXPORTD_INBOX_MAX_RECORDS", "100000", "N",
	  "records a webhook export's inbox holds before deliveries get 503",
	  CONFIG_SERVE, OPT_LONG(inbox_cap) },
	{ "audit-retention-days", "EXPORTD_AUDIT_RETENTION_DAYS", "365", "N",
	  "days audit entries are kept before they are pruned in the "
	  "background (0: kept forever)", CONFIG_SERVE,
	  OPT_LONG(audit_retention_days) },
	{ "ephemeral", "EXPORTD_EPHEMERAL", "0", NULL,
	  "developer mode: a throwaway SQLite store and secret key in a "
	  "private temporary directory, deleted at exit (not with --data-dir, "
	  "--db or --secret-key-file); outbound requests may reach loopback, "
	  "as with --egress-allow-loopback", CONFIG_SERVE,
	  OPT_FLAG(ephemeral) },
	{ "dev-token", "EXPORTD_DEV_TOKEN", NULL, "TOKEN",
	  "developer mode: accept this API token (16 to 512 characters of "
	  "A-Z a-z 0-9 - . _ ~ + /) for the account dev, added to the store "
	  "at start if new; prefer the variable to the flag",
	  CONFIG_SERVE, OPT_STR(dev_token) },
	{ "seed", "EXPORTD_SEED", NULL, "FILE",
	  "developer mode: load the connections and exports of FILE (a JSON "
	  "array or JSON lines, each with its _id) into the --dev-token "
	  "account at start; "
	  "ids already there are kept as they are", CONFIG_SERVE,
	  OPT_STR(seed) },
	{ "log-level", "EXPORTD_LOG_LEVEL", "info", "LEVEL",
	  "error, warn, info (one access-log line per request) or debug",
	  CONFIG_SERVE | CONFIG_STORE, OPT_STR(log_level) },
	{ "log-format", "EXPORTD_LOG_FORMAT", "text", "FORMAT",
	  "text, or json: one JSON object per log line (access lines carry "
	  "method, path, status, bytes, duration_ms, remote, id, route)",
	  CONFIG_SERVE | CONFIG_STORE, OPT_STR(log_format) },
	{ "metrics-token", "EXPORTD_METRICS_TOKEN", NULL, "TOKEN",
	  "require \"Authorization: Bearer TOKEN\" for GET /metrics "
	  "(default: /metrics is open; prefer the environment variable, "
	  "which ps does not show)", CONFIG_SERVE, OPT_STR(metrics_token) },
	{ "account", "EXPORTD_ACCOUNT", NULL, "NAME",
	  "account the new token belongs to (created if new)", CONFIG_TOKEN,
	  OPT_STR(account) },
	{ "force", "EXPORTD_FORCE", NULL, NULL,
	  "replace everything in a store that is not empty", CONFIG_RESTORE,
	  OPT_FLAG(force) },
	{ NULL, NULL, NULL, NULL, NULL, 0, 0, 0 }
};

/* A list option's values, freed. */
static void
list_free(char **list)
{
	size_t	i;

	for (i = 0; list != NULL && list[i] != NULL; i++)
		free(list[i]);
	free(list);
}

/* Append the values in v (separated by commas or spaces) to a list. */
static void
list_add(char ***lp, const char *v)
{
	size_t	n = 0, len;

	while (*lp != NULL && (*lp)[n] != NULL)
		n++;
	for (;;) {
		v += strspn(v, ", \t");
		if ((len = strcspn(v, ", \t")) == 0)
			break;
		*lp = xrealloc(*lp, (n + 2) * sizeof(**lp));
		(*lp)[n++] = xstrndup(v, len);
		(*lp)[n] = NULL;
		v += len;
	}
}

/* Set one option from text; -1 with a message if the text is not valid.
 * A list option takes the values in v after those it has, or in place
 * of them when replace is set. */
static int
config_set(struct config *c, const struct config_option *o, const char *v,
    const char *from, int replace)
{
	char	*end, **sp, ***lsp;
	long	 n, *lp;

	if (strcmp(from, "default") != 0)
		c->given[(o - config_options) / 8] |=
		    (unsigned char)(1u << ((o - config_options) % 8));
	if (o->is_long == 3) {
		lsp = (char ***)((char *)c + o->offset);
		if (replace) {
			list_free(*lsp);
			*lsp = NULL;
		}
		list_add(lsp, v);
		return 0;
	}
	if (!o->is_long) {
		sp = (char **)((char *)c + o->offset);
		free(*sp);
		*sp = xstrdup(v);
		return 0;
	}
	lp = (long *)((char *)c + o->offset);
	if (o->is_long == 2) {
		if (strcmp(v, "1") == 0 || strcmp(v, "true") == 0 ||
		    strcmp(v, "yes") == 0)
			*lp = 1;
		else if (strcmp(v, "0") == 0 || strcmp(v, "false") == 0 ||
		    strcmp(v, "no") == 0)
			*lp = 0;
		else {
			fprintf(stderr, "exportd: %s: --%s is a switch (1, "
			    "true or yes; 0, false or no), not \"%s\"\n", from,
			    o->name, v);
			return -1;
		}
		return 0;
	}
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || end == v || *end != '\0' || n < 0) {
		fprintf(stderr, "exportd: %s: --%s wants a whole number >= 0, "
		    "not \"%s\"\n", from, o->name, v);
		return -1;
	}
	*lp = n;
	return 0;
}

void
config_usage(FILE *f, int groups, const char *cmd, const char *usage)
{
	const struct config_option	*o;
	char				 left[64];

	fprintf(f, "usage: exportd %s%s%s\n\noptions:\n", cmd,
	    usage[0] != '\0' ? " " : "", usage);
	for (o = config_options; o->name != NULL; o++) {
		if ((o->groups & groups) == 0)
			continue;
		snprintf(left, sizeof(left), "--%s%s%s", o->name,
		    o->metavar != NULL ? " " : "",
		    o->metavar != NULL ? o->metavar : "");
		fprintf(f, "  %-28s %s\n  %-28s [env %s", left, o->help, "",
		    o->env);
		if (o->def != NULL)
			fprintf(f, ", default %s", o->def);
		fprintf(f, "]\n");
	}
	fprintf(f, "  %-28s %s\n", "--help", "show this help");
}

/* Look up --name or --name=value in the table. */
static const struct config_option *
config_find(const char *arg, int groups, const char **value)
{
	const struct config_option	*o;
	size_t				 n;

	for (o = config_options; o->name != NULL; o++) {
		if ((o->groups & groups) == 0)
			continue;
		n = strlen(o->name);
		if (strncmp(arg, o->name, n) != 0)
			continue;
		if (arg[n] == '\0') {
			*value = NULL;
			return o;
		}
		if (arg[n] == '=') {
			*value = arg + n + 1;
			return o;
		}
	}
	return NULL;
}

int
config_load(struct config *c, int groups, const char *cmd, const char *usage,
    int argc, char **argv, int *argi)
{
	const struct config_option	*o;
	const char			*v, *env;
	unsigned char			*given;	/* on the command line */
	int				 i, npos = 0, rc = -1;

	memset(c, 0, sizeof(*c));
	for (o = config_options; o->name != NULL; o++) {
		if (o - config_options >= CONFIG_MAX_OPTIONS)
			abort();	/* raise CONFIG_MAX_OPTIONS */
		if (o->def != NULL &&
		    config_set(c, o, o->def, "default", 1) == -1)
			return -1;
		if ((env = getenv(o->env)) != NULL && *env != '\0' &&
		    config_set(c, o, env, o->env, 1) == -1)
			return -1;
	}
	given = xcalloc((size_t)(o - config_options), 1);
	/* Options and positional arguments may mix; positionals are moved
	 * to the front of what remains, in order. */
	for (i = *argi; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			config_usage(stdout, groups, cmd, usage);
			rc = 1;
			goto out;
		}
		if (strcmp(argv[i], "--") == 0) {
			for (i++; i < argc; i++)
				argv[*argi + npos++] = argv[i];
			break;
		}
		if (strncmp(argv[i], "--", 2) != 0 || argv[i][2] == '\0') {
			argv[*argi + npos++] = argv[i];
			continue;
		}
		if ((o = config_find(argv[i] + 2, groups, &v)) == NULL) {
			fprintf(stderr, "exportd %s: unknown option %s "
			    "(see exportd %s --help)\n", cmd, argv[i], cmd);
			goto out;
		}
		if (v == NULL && o->is_long == 2)
			v = "1";
		if (v == NULL) {
			if (i + 1 >= argc) {
				fprintf(stderr, "exportd %s: --%s needs a "
				    "value\n", cmd, o->name);
				goto out;
			}
			v = argv[++i];
		}
		/* a list given on the command line replaces the
		 * environment's; repeated, it grows */
		if (config_set(c, o, v, "command line",
		    !given[o - config_options]) == -1)
			goto out;
		given[o - config_options] = 1;
	}
	argv[*argi + npos] = NULL;
	rc = 0;
out:
	free(given);
	return rc;
}

void
config_free(struct config *c)
{
	const struct config_option	*o;

	for (o = config_options; o->name != NULL; o++) {
		if (o->is_long == 3)
			list_free(*(char ***)((char *)c + o->offset));
		else if (!o->is_long)
			free(*(char **)((char *)c + o->offset));
	}
	memset(c, 0, sizeof(*c));
}

char *
config_db_url(const struct config *c)
{
	if (c->db != NULL && c->db[0] != '\0')
		return xstrdup(c->db);
	return xasprintf("sqlite:%s/exportd.db", c->data_dir);
}

char *
config_key_path(const struct config *c)
{
	if (c->secret_key_file != NULL && c->secret_key_file[0] != '\0')
		return xstrdup(c->secret_key_file);
	return xasprintf("%s/secret.key", c->data_dir);
}

int
config_given(const struct config *c, const char *name)
{
	const struct config_option	*o;
	size_t				 i;

	for (o = config_options; o->name != NULL; o++) {
		if (strcmp(o->name, name) != 0)
			continue;
		i = (size_t)(o - config_options);
		return (c->given[i / 8] >> (i % 8)) & 1;
	}
	return 0;
}
