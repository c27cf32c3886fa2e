/* exportd: subcommand dispatch. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/api.h"
#include "auth/token.h"
#include "config.h"
#include "crypto/crypto.h"
#include "devmode.h"
#include "dump.h"
#include "http/cors.h"
#include "http/server.h"
#include "http/tls.h"
#include "manpage.h"
#include "run/egress.h"
#include "run/fetch.h"
#include "seed.h"
#include "store/store.h"
#include "util/isotime.h"
#include "util/log.h"
#include "util/xmalloc.h"
#include "webhook/parse.h"

#define STORE_WAIT_SECONDS 30	/* serve: wait this long for PostgreSQL */

/* The commands: exportd --help and the manual page (help-man) list them
 * from here; main() dispatches on their first word. */
static const struct manpage_command commands[] = {
	{ "serve", "", "run the Export API server",
	  "Run the server on --listen until SIGTERM or SIGINT. The first "
	  "start creates the data directory (mode 0700) and the secret key. "
	  "The schema is brought up to date before it listens. A PostgreSQL "
	  "database that is not up yet is waited for, up to 30 seconds. An "
	  "SQLite database is served by one server at a time; a PostgreSQL "
	  "database by any number. With --tls-cert and --tls-key it serves "
	  "HTTPS, and SIGHUP reads both files again.",
	  CONFIG_SERVE | CONFIG_STORE },
	{ "token create", "--account NAME", "make an API token (printed once)",
	  "Make an API token for the account NAME (created if new) and print "
	  "it. It is shown only this once: the store keeps its SHA-256.",
	  CONFIG_STORE | CONFIG_TOKEN },
	{ "token list", "", "list tokens (never their secrets)",
	  "List the tokens: id, account, when each was made and revoked.",
	  CONFIG_STORE | CONFIG_TOKEN },
	{ "token revoke", "ID", "revoke a token at once",
	  "Revoke the token ID (from token list). Every server on the store "
	  "refuses it from then on.",
	  CONFIG_STORE | CONFIG_TOKEN },
	{ "token init", "", "make a first token if there is none",
	  "Make a token for the account default (or --account) when the store "
	  "has no active token; otherwise say so and change nothing.",
	  CONFIG_STORE | CONFIG_TOKEN },
	{ "migrate", "", "bring the database schema up to date",
	  "Bring the store's schema up to date and exit (serve does it too). "
	  "Migrations only go forward.",
	  CONFIG_STORE },
	{ "dump", "[FILE]", "write the whole store as JSON lines",
	  "Write everything the store holds as JSON lines to FILE (made with "
	  "mode 0600, put in place once complete) or to standard output. "
	  "Secrets stay sealed with the secret key, which the dump does not "
	  "hold.",
	  CONFIG_STORE },
	{ "restore", "[--force] [FILE]", "read a dump into an empty store",
	  "Read a dump from FILE or standard input into the store, in one "
	  "transaction. The store must be empty unless --force is given, "
	  "which replaces what it holds. An SQLite database must not be in "
	  "use by a server. Serve the result with the secret key of the "
	  "dumped store.",
	  CONFIG_STORE | CONFIG_RESTORE },
	{ "help-man", "", "print the manual page exportd(1) as roff",
	  "Print this manual page as roff: exportd help-man | man -l -",
	  0 },
	{ NULL, NULL, NULL, NULL, 0 }
};

static void
usage(FILE *f)
{
	const struct manpage_command	*c;
	char				 left[64];

	fprintf(f, "usage: exportd COMMAND [options]\n\ncommands:\n");
	for (c = commands; c->name != NULL; c++) {
		snprintf(left, sizeof(left), "%s%s%s", c->name,
		    c->args[0] != '\0' ? " " : "", c->args);
		fprintf(f, "  %-30s %s\n", left, c->summary);
	}
	fprintf(f, "\nexportd COMMAND --help shows a command's options.\n");
}

/* mkdir -p for the data directory, private to its owner. */
static int
mkdirs(const char *path)
{
	char	*p = xstrdup(path), *s;
	int	 rc = 0;

	for (s = p + 1; *s != '\0'; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0700) == -1 && errno != EEXIST)
			rc = -1;
		*s = '/';
	}
	if (mkdir(p, 0700) == -1 && errno != EEXIST)
		rc = -1;
	if (rc == -1)
		fprintf(stderr, "exportd: cannot create %s: %s\n", path,
		    strerror(errno));
	free(p);
	return rc;
}

/* Parse 64 hex digits (surrounding white space allowed) into a key. */
static int
key_parse(const char *s, size_t len, unsigned char key[CRYPTO_KEYLEN])
{
	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' ||
	    s[len - 1] == ' '))
		len--;
	while (len > 0 && (*s == ' ' || *s == '\n')) {
		s++;
		len--;
	}
	return len == 2 * CRYPTO_KEYLEN &&
	    crypto_unhex(s, len, key, CRYPTO_KEYLEN) == CRYPTO_KEYLEN ? 0 : -1;
}

/* The secret key: EXPORTD_SECRET_KEY, else the key file, created 0600
 * with a new random key on first start. */
static int
key_load(const struct config *c, unsigned char key[CRYPTO_KEYLEN])
{
	const char	*env = getenv("EXPORTD_SECRET_KEY");
	char		*path, hex[2 * CRYPTO_KEYLEN + 2];
	ssize_t		 n;
	int		 fd, rc = -1;

	if (env != NULL && *env != '\0') {
		if (key_parse(env, strlen(env), key) == -1) {
			fprintf(stderr, "exportd: EXPORTD_SECRET_KEY must be "
			    "64 hex digits (32 bytes)\n");
			return -1;
		}
		return 0;
	}
	path = config_key_path(c);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) != -1) {
		n = read(fd, hex, sizeof(hex) - 1);
		close(fd);
		if (n < 0 || key_parse(hex, (size_t)n, key) == -1) {
			fprintf(stderr, "exportd: %s is not a secret key (64 "
			    "hex digits)\n", path);
			goto out;
		}
		rc = 0;
		goto out;
	}
	if (errno != ENOENT) {
		fprintf(stderr, "exportd: cannot read %s: %s\n", path,
		    strerror(errno));
		goto out;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd == -1) {
		fprintf(stderr, "exportd: cannot create %s: %s\n", path,
		    strerror(errno));
		goto out;
	}
	crypto_random(key, CRYPTO_KEYLEN);
	for (n = 0; n < CRYPTO_KEYLEN; n++)
		snprintf(hex + 2 * n, 3, "%02x", key[n]);
	hex[2 * CRYPTO_KEYLEN] = '\n';
	if (write(fd, hex, 2 * CRYPTO_KEYLEN + 1) != 2 * CRYPTO_KEYLEN + 1 ||
	    fsync(fd) == -1) {
		fprintf(stderr, "exportd: cannot write %s: %s\n", path,
		    strerror(errno));
		close(fd);
		unlink(path);
		goto out;
	}
	close(fd);
	log_info("created secret key %s (back it up with the database)", path);
	rc = 0;
out:
	crypto_wipe(hex, sizeof(hex));
	free(path);
	return rc;
}

/* The store's flags from --db-pool-mode; -1 after a message. */
static int
pool_flags(const struct config *c, unsigned *flags)
{
	*flags = 0;
	if (strcmp(c->db_pool_mode, "transaction") == 0)
		*flags |= STORE_TRANSACTION_POOLING;
	else if (strcmp(c->db_pool_mode, "session") != 0) {
		fprintf(stderr, "exportd: --db-pool-mode wants session or "
		    "transaction\n");
		return -1;
	}
	return 0;
}

/* Open the store named by the configuration, creating the data dir for
 * the default SQLite file. */
static struct store *
open_store(const struct config *c)
{
	struct store	*s;
	char		*url;
	unsigned	 flags;

	if (pool_flags(c, &flags) == -1)
		return NULL;
	if ((c->db == NULL || c->db[0] == '\0') && mkdirs(c->data_dir) == -1)
		return NULL;
	url = config_db_url(c);
	s = store_open(url, flags);
	if (s == NULL)
		fprintf(stderr, "exportd: cannot open the store (see the "
		    "messages above)\n");
	free(url);
	return s;
}

/* Which store a command uses, said to its user: the SQLite file, or
 * PostgreSQL without its URL (which may hold a password). Caller frees. */
static char *
store_where(const struct config *c)
{
	char	*url = config_db_url(c), *w;

	if (strncmp(url, "sqlite:", 7) == 0)
		w = xasprintf("SQLite %s", url + 7);
	else
		w = xstrdup("PostgreSQL (--db)");
	free(url);
	return w;
}

/* The store for a command that only reads or changes what is there
 * (token list, token revoke): a SQLite file that does not exist is said
 * so, and not created empty. */
static struct store *
open_existing_store(const struct config *c, const char *cmd)
{
	char		*url = config_db_url(c);
	struct stat	 sb;
	int		 missing;

	missing = strncmp(url, "sqlite:", 7) == 0 && stat(url + 7, &sb) == -1 &&
	    errno == ENOENT;
	if (missing)
		fprintf(stderr, "exportd %s: no store at %s (nothing was "
		    "created); exportd serve and make run make one in "
		    "./var, --data-dir DIR or --db URL names another\n", cmd,
		    url + 7);
	free(url);
	return missing ? NULL : open_store(c);
}

/* One SQLite database, one server: an exclusive flock on DB.lock, held
 * until the process exits (the kernel drops it even after kill -9).
 * Returns the lock's descriptor, -2 for a store that needs none
 * (PostgreSQL serves many servers), or -1 after a message. */
static int
store_lock(const struct config *c, const char *cmd)
{
	char	*url, *path = NULL;
	int	 fd = -2;

	url = config_db_url(c);
	if (strncmp(url, "sqlite:", 7) != 0)
		goto out;
	if ((c->db == NULL || c->db[0] == '\0') && mkdirs(c->data_dir) == -1) {
		fd = -1;
		goto out;
	}
	path = xasprintf("%s.lock", url + 7);
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1) {
		fprintf(stderr, "exportd %s: cannot open %s: %s\n", cmd, path,
		    strerror(errno));
		goto out;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		if (errno == EWOULDBLOCK)
			fprintf(stderr, "exportd %s: the database %s is in use "
			    "by a running exportd serve (it holds %s); stop "
			    "it first\n", cmd, url + 7, path);
		else
			fprintf(stderr, "exportd %s: cannot lock %s: %s\n",
			    cmd, path, strerror(errno));
		close(fd);
		fd = -1;
	}
out:
	free(path);
	free(url);
	return fd;
}

static int
setup_log(const struct config *c)
{
	if (log_level_parse(c->log_level, &log_threshold) == -1) {
		fprintf(stderr, "exportd: --log-level wants error, warn, info "
		    "or debug\n");
		return -1;
	}
	if (log_format_parse(c->log_format, &log_format) == -1) {
		fprintf(stderr, "exportd: --log-format wants text or json\n");
		return -1;
	}
	return 0;
}

/* Every --cors-origin is an origin a browser sends, or "*". */
static int
cors_check(const struct config *c)
{
	char	**o;

	for (o = c->cors_origins; o != NULL && *o != NULL; o++) {
		if (cors_origin_valid(*o))
			continue;
		fprintf(stderr, "exportd serve: --cors-origin wants an origin "
		    "such as https://app.example.com (http or https, a host, "
		    "an optional port, nothing after) or *, not \"%s\"\n",
		    *o);
		return -1;
	}
	return 0;
}

/* The egress policy and the caps of outbound requests, from the options;
 * 0, or -1 after a message. */
static int
serve_egress_load(const struct config *c, struct egress **e,
    struct fetch_limits *lim)
{
	char	*cause = NULL;

	if (c->egress_connect_timeout < 1 || c->egress_connect_timeout > 3600 ||
	    c->egress_timeout < 1 || c->egress_timeout > 86400 ||
	    c->egress_max_response < 1 ||
	    c->egress_max_response > LIMIT_EGRESS_RESPONSE_MAX ||
	    c->egress_retries > 10 || c->egress_max_retry_after > 3600) {
		fprintf(stderr, "exportd serve: --egress-connect-timeout must "
		    "be from 1 to 3600, --egress-timeout from 1 to 86400, "
		    "--egress-max-response from 1 to %d, --egress-retries at "
		    "most 10, --egress-max-retry-after at most 3600\n",
		    LIMIT_EGRESS_RESPONSE_MAX);
		return -1;
	}
	if (c->run_workers < 1 || c->run_workers > 256 ||
	    c->run_max_pages < 1 || c->run_max_records < 1) {
		fprintf(stderr, "exportd serve: --run-workers must be from 1 "
		    "to 256, --run-max-pages and --run-max-records at least "
		    "1\n");
		return -1;
	}
	/* developer mode reaches the services of the developer's machine */
	if ((*e = egress_new((const char *const *)c->egress_allow,
	    c->egress_allow_loopback != 0 || c->ephemeral != 0,
	    &cause)) == NULL) {
		fprintf(stderr, "exportd serve: --egress-allow: %s\n", cause);
		free(cause);
		return -1;
	}
	fetch_limits_default(lim);
	lim->connect_timeout_ms = c->egress_connect_timeout * 1000L;
	lim->timeout_ms = c->egress_timeout * 1000L;
	lim->max_response = (size_t)c->egress_max_response;
	lim->retries = (unsigned)c->egress_retries;
	lim->max_retry_after_ms = c->egress_max_retry_after * 1000L;
	return 0;
}

/* Say at start where outbound requests may go. */
static void
serve_egress_log(const struct config *c, const struct egress *e)
{
	size_t	n = 0;

	while (c->egress_allow != NULL && c->egress_allow[n] != NULL)
		n++;
	log_info("egress: outbound requests may reach public addresses%s%s%s",
	    !egress_allows_loopback(e) ? "" : c->egress_allow_loopback ?
	    ", loopback (--egress-allow-loopback" : ", loopback (--ephemeral",
	    egress_allows_loopback(e) ? ": a developer's machine, not "
	    "production)" : "", n > 0 ? " and the --egress-allow entries" : "");
}

/* The TLS certificate and key, when asked for: both or neither, loaded
 * before anything is created. 0 (*tls NULL for plain HTTP), or -1. */
static int
serve_tls_load(const struct config *c, struct tls **tls)
{
	*tls = NULL;
	if (c->tls_cert == NULL && c->tls_key == NULL)
		return 0;
	if (c->tls_cert == NULL || c->tls_key == NULL) {
		fprintf(stderr, "exportd serve: --tls-cert and --tls-key go "
		    "together; %s is missing\n", c->tls_cert == NULL ?
		    "--tls-cert" : "--tls-key");
		return -1;
	}
	if ((*tls = tls_new(c->tls_cert, c->tls_key)) == NULL) {
		fprintf(stderr, "exportd serve: cannot serve TLS; nothing was "
		    "started\n");
		return -1;
	}
	return 0;
}

/* The checks of serve's options that the option table cannot make, before
 * anything is created: a bad flag leaves no data dir, key or database. */
static int
serve_check(const struct config *c)
{
	unsigned	flags;

	if (pool_flags(c, &flags) == -1 ||
	    server_listen_check(c->listen) == -1)
		return -1;
	return devmode_check(c);
}

static int
cmd_serve(int argc, char **argv)
{
	struct config		 c;
	struct server		 srv;
	struct server_options	 o;
	struct api_context	 app;
	struct api_options	 ao;
	struct store		*st;
	struct tls		*tls = NULL;
	struct egress		*egress = NULL;
	struct fetch_limits	 fetch_limits;
	struct seed		*seed = NULL;
	unsigned char		 key[CRYPTO_KEYLEN];
	char			 account[OID_HEXLEN + 1], *ephemeral = NULL;
	sigset_t		 set;
	int			 argi = 2, sig, rc = 1, tries, lock = -2;

	if ((sig = config_load(&c, CONFIG_SERVE | CONFIG_STORE, "serve", "",
	    argc, argv, &argi)) != 0) {
		config_free(&c);
		return sig == 1 ? 0 : 2;
	}
	if (argv[argi] != NULL) {
		fprintf(stderr, "exportd serve: unexpected argument %s\n",
		    argv[argi]);
		goto out;
	}
	if (setup_log(&c) == -1)
		goto out;
	if (c.max_body < 1 || c.max_body > LIMIT_BODY_MAX ||
	    c.listener_max_body < 1 || c.listener_max_body > LIMIT_BODY_MAX) {
		fprintf(stderr, "exportd serve: --max-body and "
		    "--listener-max-body must be from 1 to %d\n",
		    LIMIT_BODY_MAX);
		goto out;
	}
	if (c.listener_max_records < 1 || c.listener_max_stored < 1 ||
	    c.listener_max_stored > LIMIT_LISTENER_STORED_MAX) {
		fprintf(stderr, "exportd serve: --listener-max-records must be "
		    "at least 1 and --listener-max-stored-bytes from 1 to %d\n",
		    LIMIT_LISTENER_STORED_MAX);
		goto out;
	}
	if (c.max_connections < 1 ||
	    c.max_connections > LIMIT_CONNECTIONS_MAX ||
	    c.max_per_ip > LIMIT_CONNECTIONS_MAX || c.header_timeout < 1 ||
	    c.header_timeout > 86400 || c.body_timeout < 1 ||
	    c.body_timeout > 86400 || c.drain_timeout > 86400) {
		fprintf(stderr, "exportd serve: --max-connections must be from "
		    "1 to %d, --max-connections-per-ip at most that, "
		    "--header-timeout and --body-timeout from 1 to 86400, "
		    "--shutdown-timeout at most 86400\n",
		    LIMIT_CONNECTIONS_MAX);
		goto out;
	}
	if (cors_check(&c) == -1)
		goto out;
	if (serve_check(&c) == -1)
		goto out;
	if (serve_egress_load(&c, &egress, &fetch_limits) == -1)
		goto out;
	if (c.seed != NULL && (seed = seed_load(c.seed)) == NULL)
		goto out;
	if (serve_tls_load(&c, &tls) == -1)
		goto out;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);	/* a reload (systemctl reload) */
	if (c.ephemeral) {
		/* a stop while starting waits for sigwait too, so the
		 * throwaway store is removed however the server stops */
		pthread_sigmask(SIG_BLOCK, &set, NULL);
		if ((ephemeral = devmode_ephemeral_new(&c)) == NULL)
			goto out;
	}
	if ((lock = store_lock(&c, "serve")) == -1)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	webhook_parse_init();

	memset(&srv, 0, sizeof(srv));
	/* A database server may come up after exportd (both started at
	 * once): wait for it a while rather than fail at once. */
	for (tries = 0; (st = open_store(&c)) == NULL; tries++) {
		if (c.db == NULL || strncmp(c.db, "postgres", 8) != 0 ||
		    tries == STORE_WAIT_SECONDS)
			goto out;
		if (tries % 5 == 0)
			log_warn("waiting for the database (up to %d s)",
			    STORE_WAIT_SECONDS);
		sleep(1);
	}
	/* Signals go to the main thread's sigwait, never to the threads
	 * started from here on. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (ephemeral != NULL)
		crypto_random(key, sizeof(key));	/* never written */
	else if (key_load(&c, key) == -1)
		goto close;
	if (c.dev_token != NULL && (devmode_token(st, c.dev_token,
	    account) == -1 || (seed != NULL && seed_apply(seed, st, key,
	    account) == -1)))
		goto close;
	if (store_start(st) == -1)
		goto close;
	memset(&ao, 0, sizeof(ao));
	ao.inbox_cap = c.inbox_cap;
	ao.audit_retention_days = c.audit_retention_days;
	ao.listener_max_records = (size_t)c.listener_max_records;
	ao.listener_max_stored = (size_t)c.listener_max_stored;
	ao.listener_burst = c.listener_burst;
	ao.listener_per_second = c.listener_per_second;
	ao.listener_failed_burst = c.listener_failed_burst;
	ao.listener_failed_per_second = c.listener_failed_per_second;
	ao.metrics_token = c.metrics_token;
	ao.egress = egress;
	ao.fetch_limits = fetch_limits;
	ao.run_workers = (unsigned)c.run_workers;
	ao.run_limits.max_pages = c.run_max_pages;
	ao.run_limits.max_records = c.run_max_records;
	api_context_init(&app, st, key, &ao);
	srv.app = &app;
	srv.hooks = &api_hooks;
	srv.routes = api_routes;
	srv.nroutes = api_nroutes;
	memset(&o, 0, sizeof(o));
	o.listen = c.listen;
	o.reuse_port = c.reuse_port != 0;
	o.threads = (unsigned)c.threads;
	o.max_body = (size_t)c.max_body;
	o.max_connections = (unsigned)c.max_connections;
	o.max_per_ip = (unsigned)c.max_per_ip;
	o.timeout = (unsigned)c.timeout;
	o.header_timeout = (unsigned)c.header_timeout;
	o.body_timeout = (unsigned)c.body_timeout;
	o.drain_timeout = (unsigned)c.drain_timeout;
	o.public_url = c.public_url;
	o.cors_origins = (const char *const *)c.cors_origins;
	o.rate_burst = c.rate_burst;
	o.rate_per_second = c.rate_per_second;
	o.listener_max_body = (size_t)c.listener_max_body;
	o.tls = tls;
	tls = NULL;
	if (server_start(&srv, &o) == -1)
		goto close;
	log_info("exportd listening on %s (port %d, %s), store %s",
	    c.listen, srv.port, o.tls != NULL ? "https" : "http",
	    store_name(st));
	serve_egress_log(&c, egress);
	do {
		if (sigwait(&set, &sig) != 0)
			break;
		if (sig == SIGHUP)
			(void)server_reload(&srv);
	} while (sig != SIGINT && sig != SIGTERM);
	log_info("shutting down: finishing requests in flight");
	server_stop(&srv);
	rc = 0;
close:
	if (srv.app != NULL)
		api_context_free(&app);
	store_close(st);
	crypto_wipe(key, sizeof(key));
	if (rc == 0)
		log_info("stopped cleanly");
out:
	tls_free(tls);
	egress_free(egress);
	if (lock >= 0)
		close(lock);
	if (ephemeral != NULL)
		devmode_ephemeral_remove(ephemeral);
	free(ephemeral);
	seed_free(seed);
	config_free(&c);
	return rc;
}

static int
account_name_ok(const char *s)
{
	size_t	n = strlen(s), i;

	if (n == 0 || n > LIMIT_ACCOUNT_NAME)
		return 0;
	for (i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x21 || s[i] == 0x7f)
			return 0;
	return 1;
}

/* Make a token for an account (created if new) and print it last. */
static int
token_make(struct store *s, const struct config *c,
    const char *account_name)
{
	char		 account[OID_HEXLEN + 1], id[OID_HEXLEN + 1];
	char		 tok[TOKEN_HEXLEN + 1], *where;
	unsigned char	 hash[CRYPTO_SHA256LEN];

	if (store_account_ensure(s, account_name, account) != STORE_OK)
		return -1;
	token_new(tok, hash);
	if (store_token_insert(s, account, hash, id) != STORE_OK)
		return -1;
	where = store_where(c);
	printf("store: %s\naccount: %s (%s)\nid: %s\n"
	    "token (shown only now; store it safely):\n%s\n",
	    where, account_name, account, id, tok);
	free(where);
	fflush(stdout);
	crypto_wipe(tok, sizeof(tok));
	return 0;
}

static int
cmd_token(int argc, char **argv)
{
	static const char usage_text[] =
	    "create --account NAME | list | revoke ID | init";
	struct config	 c;
	struct store	*s = NULL;
	struct token_row *rows;
	const char	*sub;
	char		 created[ISOTIME_LEN + 1], revoked[ISOTIME_LEN + 1];
	char		*where;
	int64_t		 n;
	size_t		 nrows, i;
	int		 argi = 2, rc = 1, st;

	if ((st = config_load(&c, CONFIG_STORE | CONFIG_TOKEN, "token",
	    usage_text, argc, argv, &argi)) != 0) {
		config_free(&c);
		return st == 1 ? 0 : 2;
	}
	if (setup_log(&c) == -1)
		goto out;
	if ((sub = argv[argi]) == NULL) {
		config_usage(stderr, CONFIG_STORE | CONFIG_TOKEN, "token",
		    usage_text);
		rc = 2;
		goto out;
	}
	if (strcmp(sub, "create") == 0) {
		if (c.account == NULL || !account_name_ok(c.account)) {
			fprintf(stderr, "exportd token create: --account NAME "
			    "is required (1 to %d visible characters)\n",
			    LIMIT_ACCOUNT_NAME);
			rc = 2;
			goto out;
		}
		if ((s = open_store(&c)) == NULL ||
		    token_make(s, &c, c.account) == -1)
			goto out;
		rc = 0;
	} else if (strcmp(sub, "list") == 0) {
		if ((s = open_existing_store(&c, "token list")) == NULL ||
		    store_token_list(s, &rows, &nrows) != STORE_OK)
			goto out;
		where = store_where(&c);
		printf("store: %s\n", where);
		free(where);
		printf("%-24s  %-24s  %-24s  %-24s  %s\n", "ID", "ACCOUNT ID",
		    "CREATED", "REVOKED", "ACCOUNT");
		for (i = 0; i < nrows; i++) {
			isotime_format(rows[i].created_ms, created);
			if (rows[i].revoked_ms != 0)
				isotime_format(rows[i].revoked_ms, revoked);
			else
				snprintf(revoked, sizeof(revoked), "-");
			printf("%-24s  %-24s  %-24s  %-24s  %s\n", rows[i].id,
			    rows[i].account, created, revoked,
			    rows[i].account_name);
		}
		token_rows_free(rows, nrows);
		rc = 0;
	} else if (strcmp(sub, "revoke") == 0) {
		if (argv[argi + 1] == NULL) {
			fprintf(stderr, "exportd token revoke: which token? "
			    "(an ID from exportd token list)\n");
			rc = 2;
			goto out;
		}
		if ((s = open_existing_store(&c, "token revoke")) == NULL)
			goto out;
		switch (store_token_revoke(s, argv[argi + 1])) {
		case STORE_OK:
			printf("revoked %s\n", argv[argi + 1]);
			rc = 0;
			break;
		case STORE_NOT_FOUND:
			fprintf(stderr, "exportd token revoke: no active token "
			    "%s\n", argv[argi + 1]);
			break;
		default:
			break;
		}
	} else if (strcmp(sub, "init") == 0) {
		if ((s = open_store(&c)) == NULL ||
		    store_token_count(s, &n) != STORE_OK)
			goto out;
		if (n > 0) {
			where = store_where(&c);
			printf("store: %s\nexportd already has %lld active "
			    "token(s), shown once when made; make another "
			    "with: exportd token create --account NAME\n",
			    where, (long long)n);
			free(where);
			rc = 0;
			goto out;
		}
		if (token_make(s, &c, c.account != NULL ? c.account :
		    "default") == -1)
			goto out;
		rc = 0;
	} else {
		fprintf(stderr, "exportd token: unknown subcommand %s (want "
		    "%s)\n", sub, usage_text);
		rc = 2;
	}
out:
	store_close(s);
	config_free(&c);
	return rc;
}

static int
cmd_migrate(int argc, char **argv)
{
	struct config	 c;
	struct store	*s;
	int		 argi = 2, st;

	if ((st = config_load(&c, CONFIG_STORE, "migrate", "", argc, argv,
	    &argi)) != 0) {
		config_free(&c);
		return st == 1 ? 0 : 2;
	}
	if (setup_log(&c) == -1 || (s = open_store(&c)) == NULL) {
		config_free(&c);
		return 1;
	}
	printf("schema is up to date\n");
	store_close(s);
	config_free(&c);
	return 0;
}

/* exportd dump [FILE]: the whole store as JSON lines, to standard output
 * or to FILE (made 0600, and put in place only once complete). */
static int
cmd_dump(int argc, char **argv)
{
	struct config	 c;
	struct store	*s = NULL;
	FILE		*out = stdout;
	const char	*path;
	char		*tmp = NULL;
	int		 argi = 2, st, fd, rc = 1;

	if ((st = config_load(&c, CONFIG_STORE, "dump", "[FILE]", argc, argv,
	    &argi)) != 0) {
		config_free(&c);
		return st == 1 ? 0 : 2;
	}
	path = argv[argi];
	if (path != NULL && argv[argi + 1] != NULL) {
		fprintf(stderr, "exportd dump: unexpected argument %s\n",
		    argv[argi + 1]);
		rc = 2;
		goto out;
	}
	if (path != NULL && strcmp(path, "-") == 0)
		path = NULL;
	if (path == NULL && isatty(STDOUT_FILENO)) {
		fprintf(stderr, "exportd dump: standard output is a terminal; "
		    "name a file or redirect it: exportd dump > "
		    "backup.jsonl\n");
		rc = 2;
		goto out;
	}
	if (setup_log(&c) == -1)
		goto out;
	signal(SIGPIPE, SIG_IGN);
	if (path != NULL) {
		tmp = xasprintf("%s.tmp%ld", path, (long)getpid());
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd == -1 || (out = fdopen(fd, "w")) == NULL) {
			fprintf(stderr, "exportd dump: cannot create %s: %s\n",
			    tmp, strerror(errno));
			if (fd != -1)
				close(fd);
			out = NULL;
			goto out;
		}
	}
	if ((s = open_store(&c)) == NULL ||
	    dump_write(s, out, isatty(STDERR_FILENO)) == -1)
		goto out;
	if (tmp != NULL) {
		st = fflush(out) != 0 || fsync(fileno(out)) == -1;
		if (fclose(out) != 0)
			st = 1;
		out = NULL;
		if (st != 0 || rename(tmp, path) == -1) {
			fprintf(stderr, "exportd dump: cannot write %s: %s\n",
			    path, strerror(errno));
			goto out;
		}
		free(tmp);
		tmp = NULL;
	}
	rc = 0;
out:
	if (tmp != NULL) {
		if (out != NULL)
			fclose(out);
		unlink(tmp);
		free(tmp);
	}
	store_close(s);
	config_free(&c);
	return rc;
}

/* exportd restore [--force] [FILE]: a dump, from standard input or FILE,
 * into the store in one transaction. */
static int
cmd_restore(int argc, char **argv)
{
	struct config	 c;
	struct store	*s = NULL;
	FILE		*in = stdin;
	const char	*path;
	int		 argi = 2, st, rc = 1, lock = -2;

	if ((st = config_load(&c, CONFIG_STORE | CONFIG_RESTORE, "restore",
	    "[--force] [FILE]", argc, argv, &argi)) != 0) {
		config_free(&c);
		return st == 1 ? 0 : 2;
	}
	path = argv[argi];
	if (path != NULL && argv[argi + 1] != NULL) {
		fprintf(stderr, "exportd restore: unexpected argument %s\n",
		    argv[argi + 1]);
		rc = 2;
		goto out;
	}
	if (path != NULL && strcmp(path, "-") == 0)
		path = NULL;
	if (path == NULL && isatty(STDIN_FILENO)) {
		fprintf(stderr, "exportd restore: standard input is a "
		    "terminal; name a dump or redirect it: exportd restore < "
		    "backup.jsonl\n");
		rc = 2;
		goto out;
	}
	if (setup_log(&c) == -1)
		goto out;
	if (path != NULL && (in = fopen(path, "re")) == NULL) {
		fprintf(stderr, "exportd restore: cannot open %s: %s\n", path,
		    strerror(errno));
		goto out;
	}
	if ((lock = store_lock(&c, "restore")) == -1 ||
	    (s = open_store(&c)) == NULL)
		goto out;
	if (dump_restore(s, in, path != NULL ? path : "stdin", c.force != 0,
	    isatty(STDERR_FILENO)) == 0)
		rc = 0;
out:
	if (in != NULL && in != stdin)
		fclose(in);
	store_close(s);
	if (lock >= 0)
		close(lock);
	config_free(&c);
	return rc;
}

int
main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "serve") == 0)
		return cmd_serve(argc, argv);
	if (strcmp(argv[1], "token") == 0)
		return cmd_token(argc, argv);
	if (strcmp(argv[1], "migrate") == 0)
		return cmd_migrate(argc, argv);
	if (strcmp(argv[1], "dump") == 0)
		return cmd_dump(argc, argv);
	if (strcmp(argv[1], "restore") == 0)
		return cmd_restore(argc, argv);
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("exportd %s\n", EXPORTD_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "help-man") == 0) {
		if (argc > 2) {
			fprintf(stderr, "exportd help-man: unexpected argument "
			    "%s\n", argv[2]);
			return 2;
		}
		manpage_write(stdout, commands, EXPORTD_VERSION);
		return fflush(stdout) == 0 ? 0 : 1;
	}
	fprintf(stderr, "exportd: unknown command %s\n\n", argv[1]);
	usage(stderr);
	return 2;
}
