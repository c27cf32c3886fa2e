/* Leveled logging to stderr. The level is checked before any formatting. */
#ifndef EXPORTD_LOG_H
#define EXPORTD_LOG_H

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

extern enum log_level log_threshold;

int	 log_level_parse(const char *, enum log_level *);
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
