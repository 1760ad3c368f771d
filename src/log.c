/* log.c - leveled logging to stderr. See log.h. */
#include "stubd/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

const char *const log_level_names[] = {
	[LOG_LEVEL_ERR] = "error",
	[LOG_LEVEL_WARN] = "warning",
	[LOG_LEVEL_INFO] = "info",
	[LOG_LEVEL_DEBUG] = "debug",
};

/* The one piece of process-wide state outside the daemon context: every
 * module logs, and threading the level through each call would add noise
 * to every signature for no gain. */
static enum log_level current_level = LOG_LEVEL_INFO;
static bool to_journal;

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected our stderr to; if stderr is still that, structured journal
 * entries with real priorities beat plain lines. */
void log_init(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	to_journal = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		     (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

bool log_to_journal(void)
{
	return to_journal;
}

void log_set_level(enum log_level level)
{
	current_level = level;
}

enum log_level log_get_level(void)
{
	return current_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = LOG_LEVEL_ERR; i <= LOG_LEVEL_DEBUG; i++) {
		if (strcmp(name, log_level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -EINVAL;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level > current_level)
		return;
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (to_journal) {
		static const int priority[] = {
			[LOG_LEVEL_ERR] = LOG_ERR,
			[LOG_LEVEL_WARN] = LOG_WARNING,
			[LOG_LEVEL_INFO] = LOG_INFO,
			[LOG_LEVEL_DEBUG] = LOG_DEBUG,
		};
		sd_journal_print(priority[level], "%s", line);
		return;
	}
	/* One fprintf per line so that concurrent writers do not interleave. */
	fprintf(stderr, "stubd[%s]: %s\n", log_level_names[level], line);
}
