/* The option table: flags, EXPORTD_* environment variables, defaults and
 * --help all come from one table. */
#ifndef EXPORTD_CONFIG_H
#define EXPORTD_CONFIG_H

#include <stddef.h>
#include <stdio.h>

#define CONFIG_MAX_OPTIONS	128	/* rows of the option table, at most */

struct config {
	char	*listen;	/* HOST:PORT */
	char	*data_dir;
	char	*db_pool_mode;	/* session or transaction */
	char	*db;		/* sqlite:PATH or postgresql://... ; NULL: data_dir/exportd.db */
	char	*secret_key_file;	/* NULL: data_dir/secret.key */
	char	*public_url;	/* base for absolute links; NULL: from Host */
	char	**cors_origins;	/* NULL-terminated; NULL: CORS off */
	char	**egress_allow;	/* NULL-terminated CIDRs and host names */
	long	 egress_allow_loopback;	/* developer mode: loopback too */
	long	 egress_connect_timeout;	/* seconds */
	long	 egress_timeout;	/* seconds, one outbound request */
	long	 egress_max_response;	/* bytes */
	long	 egress_retries;
	long	 egress_max_retry_after;	/* seconds */
	long	 run_workers;	/* threads of export runs */
	long	 run_max_pages;	/* per run */
	long	 run_max_records;	/* per run */
	char	*log_level;
	char	*log_format;	/* text or json */
	char	*metrics_token;	/* NULL: /metrics is open */
	char	*tls_cert;	/* PEM chain, leaf first; NULL: plain HTTP */
	char	*tls_key;	/* PEM private key of the leaf */
	long	 reuse_port;	/* SO_REUSEPORT on the listen socket */
	long	 threads;	/* 0: one per core */
	long	 max_body;
	long	 max_connections;
	long	 max_per_ip;	/* connections per client address */
	long	 timeout;
	long	 header_timeout;
	long	 body_timeout;
	long	 drain_timeout;	/* seconds, at shutdown */
	long	 rate_burst;
	long	 rate_per_second;
	long	 listener_max_body;
	long	 listener_max_records;
	long	 listener_max_stored;
	long	 listener_burst;
	long	 listener_per_second;
	long	 listener_failed_burst;
	long	 listener_failed_per_second;
	long	 inbox_cap;
	long	 audit_retention_days;	/* 0: keep forever */
	char	*account;	/* token create */
	long	 force;		/* restore: replace a store's contents */
	long	 ephemeral;	/* serve: a throwaway store, removed at exit */
	char	*dev_token;	/* serve: a token known in advance */
	char	*seed;		/* serve: exports loaded at start */
	/* which options were set by the environment or the command line,
	 * one bit per row of config_options (config_given) */
	unsigned char given[CONFIG_MAX_OPTIONS / 8];
};

/* Option groups: which subcommands take an option. */
#define CONFIG_SERVE	0x01
#define CONFIG_STORE	0x02	/* every subcommand that opens the store */
#define CONFIG_TOKEN	0x04
#define CONFIG_RESTORE	0x08

struct config_option {
	const char	*name;		/* --name */
	const char	*env;		/* EXPORTD_NAME */
	const char	*def;		/* default as text, or NULL */
	const char	*metavar;
	const char	*help;
	int		 groups;
	size_t		 offset;	/* in struct config */
	int		 is_long;	/* 0 text, 1 number, 2 flag (no value),
					   3 list (repeatable; in the
					   environment, separated by commas
					   or spaces) */
};

extern const struct config_option config_options[];

/* Fill defaults, then the environment, then argv (only options in groups).
 * Positional arguments are left in argv[*argi..argc). Returns 0, or -1
 * after printing a message; 1 if --help was printed. */
int	 config_load(struct config *, int groups, const char *cmd,
	    const char *usage, int argc, char **argv, int *argi);
void	 config_usage(FILE *, int groups, const char *cmd, const char *usage);
void	 config_free(struct config *);
/* The resolved store URL (sqlite:... or postgresql://...); caller frees. */
char	*config_db_url(const struct config *);
char	*config_key_path(const struct config *);
/* Whether the option --name was set by its variable or on the command
 * line, not left at its default. */
int	 config_given(const struct config *, const char *name);

#endif
