/* exportd(1) in roff (the man macros). The synopsis, the commands, the
 * options and the environment come from the command list and the option
 * table, the same rows --help prints; only the prose sections are here.
 * `man -l` and `groff -ww -man` render it without a warning (tested). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "manpage.h"

/* Prose, one roff line a row. A row that starts with a dot is a request:
 * its name is written as it is and the rest escaped like text. */
static const char *const manpage_description[] = {
	".SH DESCRIPTION",
	"exportd implements the Export API of integrator.io: exports are "
	"created, read, replaced, cloned, listed and deleted under /v1/exports "
	"over HTTP with bearer tokens, and webhook exports receive events. It "
	"is one program with a few commands; serve runs the server, the others "
	"manage its store.",
	".PP",
	"The store is an SQLite database in the data directory (--data-dir) "
	"unless --db names a PostgreSQL database, which several servers may "
	"share. Secrets in exports are kept encrypted with a secret key that "
	"the first start creates in the data directory. A 2xx answer to a "
	"write means the write is durable.",
	".PP",
	"Every option has a flag, an environment variable and, for most, a "
	"default. The flag wins over the variable, which wins over the "
	"default; an empty variable counts as unset. A value follows its flag "
	"as the next argument or after an equals sign (--listen=0.0.0.0:8080). "
	"exportd --help lists the commands, exportd COMMAND --help the options "
	"of one, and exportd --version prints the version.",
	NULL
};

static const char *const manpage_files[] = {
	".SH FILES",
	".TP",
	".I DIR/exportd.db",
	"The SQLite database (with DIR/exportd.db-wal and DIR/exportd.db-shm "
	"beside it), where DIR is --data-dir.",
	".TP",
	".I DIR/exportd.db.lock",
	"Locked by serve and restore while they run, so that one server at a "
	"time uses an SQLite database.",
	".TP",
	".I DIR/exportd.db-tokens",
	"A counter that tells running servers that a token was revoked.",
	".TP",
	".I DIR/secret.key",
	"The secret key (64 hex digits), created with mode 0600 on the first "
	"start unless EXPORTD_SECRET_KEY is set. Back it up with the database: "
	"without it the secrets stored in exports cannot be read.",
	".TP",
	".I /etc/default/exportd",
	"EXPORTD_* variables for the systemd unit, one VARIABLE=value a line.",
	".TP",
	".I /lib/systemd/system/exportd.service",
	"The systemd unit of the Debian package (make install puts it in "
	"PREFIX/lib/systemd/system). It runs exportd serve as a dynamic user "
	"with its data directory in",
	".IR /var/lib/exportd .",
	NULL
};

static const char *const manpage_signals[] = {
	".SH SIGNALS",
	".TP",
	".B SIGTERM, SIGINT",
	"serve closes its listening socket, answers the requests it has "
	"already received (for up to --shutdown-timeout seconds), and exits "
	"with status 0.",
	".TP",
	".B SIGHUP",
	"serve logs it and keeps serving (systemctl reload exportd is safe).",
	".TP",
	".B SIGKILL",
	"Nothing acknowledged is lost: every write is durable before its 2xx "
	"answer.",
	NULL
};

static const char *const manpage_exit[] = {
	".SH EXIT STATUS",
	".TP",
	".B 0",
	"Success; for serve, a clean stop after SIGTERM or SIGINT.",
	".TP",
	".B 1",
	"The command failed; a message on standard error says why (the store "
	"cannot be opened, the port is in use, a value is out of range).",
	".TP",
	".B 2",
	"The command line is wrong: an unknown command or option, a value "
	"that is not of the option's kind, or a missing argument.",
	NULL
};

static const char *const manpage_examples[] = {
	".SH EXAMPLES",
	"Serve from a data directory, after making the first token:",
	".PP",
	".RS",
	".nf",
	"exportd token init --data-dir /srv/exportd",
	"exportd serve --listen 0.0.0.0:8080 --data-dir /srv/exportd",
	".fi",
	".RE",
	".PP",
	"Serve from PostgreSQL behind a load balancer (the URL holds a "
	"password, so it goes in the environment, not on the command line):",
	".PP",
	".RS",
	".nf",
	"export EXPORTD_DB=postgresql://exportd:PASSWORD@db/exportd",
	"export EXPORTD_SECRET_KEY=$(cat /etc/exportd/secret.hex)",
	"exportd serve --listen 10.0.0.11:8080 \\",
	"    --public-url https://exports.example.com",
	".fi",
	".RE",
	".PP",
	"Run it as a service, then make a token for an account:",
	".PP",
	".RS",
	".nf",
	"systemctl enable --now exportd",
	"exportd token create --account ci --data-dir /var/lib/exportd",
	".fi",
	".RE",
	".PP",
	"Back up a store, and restore it into another:",
	".PP",
	".RS",
	".nf",
	"exportd dump --data-dir /var/lib/exportd backup.jsonl",
	"exportd restore --db postgresql://exportd@db/exportd backup.jsonl",
	".fi",
	".RE",
	".SH SEE ALSO",
	".BR systemctl (1),",
	".BR systemd.exec (5),",
	".BR systemd.service (5)",
	NULL
};

/* One UTF-8 sequence from p as a groff glyph \[uXXXX]; returns the bytes
 * it took (a byte that begins no valid sequence is written as '?'). */
static size_t
manpage_glyph(FILE *f, const unsigned char *p)
{
	unsigned long	 cp;
	size_t		 n, i;

	if (*p >= 0xc2 && *p <= 0xdf) {
		n = 2;
		cp = *p & 0x1f;
	} else if (*p >= 0xe0 && *p <= 0xef) {
		n = 3;
		cp = *p & 0x0f;
	} else if (*p >= 0xf0 && *p <= 0xf4) {
		n = 4;
		cp = *p & 0x07;
	} else {
		fputc('?', f);
		return 1;
	}
	for (i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80) {
			fputc('?', f);
			return 1;
		}
		cp = cp << 6 | (p[i] & 0x3f);
	}
	fprintf(f, "\\[u%04lX]", cp);
	return n;
}

/* Plain text as roff: backslashes and minus signs escaped, a dot or a
 * quote that would begin a line made harmless, and beyond ASCII glyphs. */
static void
manpage_text(FILE *f, const char *s, int line_start)
{
	const unsigned char	*p = (const unsigned char *)s;

	while (*p != '\0') {
		if (line_start && (*p == '.' || *p == '\''))
			fputs("\\&", f);
		line_start = 0;
		if (*p >= 0x80) {
			p += manpage_glyph(f, p);
			continue;
		}
		if (*p == '\\')
			fputs("\\e", f);
		else if (*p == '-')
			fputs("\\-", f);
		else
			fputc(*p, f);
		p++;
	}
}

static void
manpage_lines(FILE *f, const char *const *lines)
{
	size_t	n;

	for (; *lines != NULL; lines++) {
		if ((*lines)[0] == '.') {
			n = strcspn(*lines, " ");
			fwrite(*lines, 1, n, f);
			manpage_text(f, *lines + n, 0);
		} else
			manpage_text(f, *lines, 1);
		fputc('\n', f);
	}
}

/* The heading; its date is SOURCE_DATE_EPOCH's, so that a build is
 * reproducible. */
static void
manpage_head(FILE *f, const char *version)
{
	const char	*epoch = getenv("SOURCE_DATE_EPOCH");
	char		 date[16] = "";
	time_t		 t;
	struct tm	 tm;

	if (epoch != NULL && *epoch != '\0') {
		t = (time_t)strtoll(epoch, NULL, 10);
		if (gmtime_r(&t, &tm) != NULL)
			strftime(date, sizeof(date), "%Y-%m-%d", &tm);
	}
	fprintf(f, ".\\\" Written by exportd help-man from the option table; "
	    "do not edit.\n.TH EXPORTD 1 \"%s\" \"exportd %s\" "
	    "\"User Commands\"\n.nh\n.ad l\n.SH NAME\nexportd \\- a self\\-hosted server "
	    "for the integrator.io Export API\n", date, version);
}

static void
manpage_synopsis(FILE *f, const struct manpage_command *cmds)
{
	const struct manpage_command	*c;

	fputs(".SH SYNOPSIS\n", f);
	for (c = cmds; c->name != NULL; c++) {
		fputs(".B exportd ", f);
		manpage_text(f, c->name, 0);
		fputc('\n', f);
		if (c->args[0] != '\0') {
			manpage_text(f, c->args, 1);
			fputc('\n', f);
		}
		if (c->groups != 0)
			fputs(".RI [ options ]\n", f);
		fputs(".br\n", f);
	}
}

/* An entry: the name in bold after a prefix, the arguments (if any) in
 * italics, then its text (if any). */
static void
manpage_tag(FILE *f, const char *prefix, const char *name, const char *args,
    const char *text)
{
	fprintf(f, ".TP\n.B %s", prefix);
	manpage_text(f, name, 0);
	if (args != NULL && args[0] != '\0') {
		fputs(" \\fI", f);
		manpage_text(f, args, 0);
		fputs("\\fR", f);
	}
	fputc('\n', f);
	if (text != NULL)
		manpage_text(f, text, 1);
}

/* "Commands: serve, token." - the first word of each command that takes
 * an option of these groups, once. */
static void
manpage_takers(FILE *f, const struct manpage_command *cmds, int groups)
{
	const struct manpage_command	*c, *d;
	char				 word[32];
	size_t				 n;
	int				 first = 1;

	for (c = cmds; c->name != NULL; c++) {
		if ((c->groups & groups) == 0)
			continue;
		n = strcspn(c->name, " ");
		for (d = cmds; d < c; d++)
			if ((d->groups & groups) != 0 &&
			    strncmp(d->name, c->name, n) == 0 &&
			    (d->name[n] == ' ' || d->name[n] == '\0'))
				break;
		if (d < c)
			continue;
		snprintf(word, sizeof(word), "%.*s", (int)n, c->name);
		fputs(first ? "Commands: " : ", ", f);
		manpage_text(f, word, 0);
		first = 0;
	}
	fputs(".\n", f);
}

static void
manpage_options(FILE *f, const struct manpage_command *cmds)
{
	const struct config_option	*o;

	fputs(".SH OPTIONS\n", f);
	for (o = config_options; o->name != NULL; o++) {
		manpage_tag(f, "\\-\\-", o->name, o->metavar, o->help);
		fputs(".\n.br\nEnvironment: \\fB", f);
		manpage_text(f, o->env, 0);
		fputs("\\fR", f);
		if (o->def != NULL) {
			fputs("; default: \\fB", f);
			manpage_text(f, o->def, 0);
			fputs("\\fR", f);
		}
		fputs(".\n.br\n", f);
		manpage_takers(f, cmds, o->groups);
	}
	fputs(".TP\n.B \\-\\-help, \\-h\n"
	    "Print the options of the command and exit.\n", f);
}

static void
manpage_environment(FILE *f)
{
	const struct config_option	*o;

	fputs(".SH ENVIRONMENT\n"
	    "Each option reads a variable (see OPTIONS):\n", f);
	for (o = config_options; o->name != NULL; o++) {
		manpage_tag(f, "", o->env, NULL, NULL);
		fputs("\\-\\-", f);
		manpage_text(f, o->name, 0);
		fputc('\n', f);
	}
	fputs(".PP\nOne more is read alone:\n"
	    ".TP\n.B EXPORTD_SECRET_KEY\n"
	    "The secret key as 64 hex digits. When set, it is used instead of "
	    "the key file (\\-\\-secret\\-key\\-file), and no key file is "
	    "made. Every server sharing a store needs the same key.\n", f);
}

void
manpage_write(FILE *f, const struct manpage_command *cmds,
    const char *version)
{
	const struct manpage_command	*c;

	manpage_head(f, version);
	manpage_synopsis(f, cmds);
	manpage_lines(f, manpage_description);
	fputs(".SH COMMANDS\n", f);
	for (c = cmds; c->name != NULL; c++) {
		manpage_tag(f, "", c->name, c->args, c->text);
		fputc('\n', f);
	}
	manpage_options(f, cmds);
	manpage_environment(f);
	manpage_lines(f, manpage_files);
	manpage_lines(f, manpage_signals);
	manpage_lines(f, manpage_exit);
	manpage_lines(f, manpage_examples);
}
