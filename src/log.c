/* log.c - leveled logging to the journal, stderr or syslog. See log.h. */
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

/* Where messages go. Chosen here only: at start (log_init) and when
 * stubd leaves its terminal (log_detached), both before any other thread
 * runs, so the threads only ever read it. */
enum log_sink {
	LOG_SINK_STDERR,  /* the foreground: -f, a terminal, a test's pipe */
	LOG_SINK_JOURNAL, /* systemd connected stderr to the journal */
	LOG_SINK_SYSLOG,  /* detached: stderr is /dev/null */
};

/* The one piece of process-wide state outside the daemon context: every
 * module logs, and threading the level and the sink through each call
 * would add noise to every signature for no gain. */
static enum log_level current_level = LOG_LEVEL_INFO;
static enum log_sink sink = LOG_SINK_STDERR;

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it
 * connected our stderr to; if stderr is still that, structured journal
 * entries with real priorities beat plain lines. */
void log_init(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	bool journal = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		       (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
	sink = journal ? LOG_SINK_JOURNAL : LOG_SINK_STDERR;
}

/* daemon() pointed stderr at /dev/null: without this, nothing stubd says
 * from here on would reach anyone. The journal does not go through
 * stderr and stays. LOG_NDELAY connects to /dev/log now rather than at
 * the first message; glibc reconnects by itself if syslogd restarts. */
void log_detached(void)
{
	if (sink == LOG_SINK_JOURNAL)
		return;
	openlog("stubd", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	sink = LOG_SINK_SYSLOG;
}

bool log_to_journal(void)
{
	return sink == LOG_SINK_JOURNAL;
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
	/* syslog(3) priorities, which the journal uses too. */
	static const int priority[] = {
		[LOG_LEVEL_ERR] = LOG_ERR,
		[LOG_LEVEL_WARN] = LOG_WARNING,
		[LOG_LEVEL_INFO] = LOG_INFO,
		[LOG_LEVEL_DEBUG] = LOG_DEBUG,
	};
	switch (sink) {
	case LOG_SINK_JOURNAL:
		sd_journal_print(priority[level], "%s", line);
		return;
	case LOG_SINK_SYSLOG:
		syslog(priority[level], "%s", line);
		return;
	case LOG_SINK_STDERR:
		break;
	}
	/* One fprintf per line so that concurrent writers do not interleave. */
	fprintf(stderr, "stubd[%s]: %s\n", log_level_names[level], line);
}
