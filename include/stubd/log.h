/* log.h - the daemon's one way of telling people what happened.
 *
 * Owns the verbosity setting, which is set once at start-up (and on reload)
 * and read everywhere. Messages go to the journal, with priorities, when
 * systemd connected stderr to it, and to stderr otherwise. Callers log an
 * error once, where it is handled.
 */
#ifndef STUBD_LOG_H
#define STUBD_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LEVEL_ERR,
	LOG_LEVEL_WARN,
	LOG_LEVEL_INFO,
	LOG_LEVEL_DEBUG,
};

/* Names for config and logs: "error", "warning", "info", "debug". */
extern const char *const log_level_names[];

/* Decides between journal and stderr (see JOURNAL_STREAM). */
void log_init(void);
bool log_to_journal(void);

/* Says that stubd has detached (daemon(): stderr is /dev/null): from now
 * on messages go to syslog, unless they go to the journal. Call it before
 * any other thread starts. */
void log_detached(void);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);

/* Parses a level name; returns 0 or -EINVAL. */
int log_level_parse(const char *name, enum log_level *out);

void log_msg(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_LEVEL_ERR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...)                                                         \
	do {                                                                   \
		if (log_get_level() >= LOG_LEVEL_DEBUG)                         \
			log_msg(LOG_LEVEL_DEBUG, __VA_ARGS__);                  \
	} while (0)

#endif
