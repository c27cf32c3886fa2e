/* Leveled logging to stderr. The level is checked before any formatting. */
#ifndef EXPORTD_LOG_H
#define EXPORTD_LOG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };
/* text: "TIME LEVEL message"; json: one object per line. */
enum log_format { LOG_TEXT, LOG_JSON };

extern enum log_level log_threshold;
extern enum log_format log_format;

/* One request's access-log line; text fields are raw bytes, escaped by
 * the logger for its format. path must already be redacted. */
struct log_access {
	const char	*method;
	size_t		 method_len;
	const char	*path;
	size_t		 path_len;
	unsigned	 status;	/* 0: no answer was sent */
	size_t		 bytes;
	int64_t		 us;		/* duration */
	const char	*remote;	/* client address, or "-" */
	const char	*id;		/* request id */
	const char	*route;		/* route pattern, or "unmatched" */
	int		 completed;	/* 0: the connection ended first */
};

int	 log_level_parse(const char *, enum log_level *);
int	 log_format_parse(const char *, enum log_format *);
/* The access-log line of a request, at LOG_INFO. */
void	 log_access(const struct log_access *);
void	 log_msg(enum log_level, const char *, ...) __attribute__((format(printf, 2, 3)));
/* Append s to a log line with control characters, quotes and backslashes
 * escaped (\n, \x1b, ...), at most max bytes of input. Writes into out
 * (size outsz, always NUL-terminated). */
void	 log_escape(const char *s, size_t len, char *out, size_t outsz);

#define log_error(...) do { if (log_threshold >= LOG_ERROR) log_msg(LOG_ERROR, __VA_ARGS__); } while (0)
#define log_warn(...)  do { if (log_threshold >= LOG_WARN)  log_msg(LOG_WARN, __VA_ARGS__); } while (0)
#define log_info(...)  do { if (log_threshold >= LOG_INFO)  log_msg(LOG_INFO, __VA_ARGS__); } while (0)
#define log_debug(...) do { if (log_threshold >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
