/* daemon.h - the one daemon context: every long-lived object of a running
 * stubd, and the signals that steer it.
 *
 * Owns the event base, the config in force, and the modules built from it
 * in pipeline order (upstream, pipeline, listeners). Nothing else in stubd
 * keeps mutable state outside this struct (log.h's level aside).
 */
#ifndef STUBD_DAEMON_H
#define STUBD_DAEMON_H

#include <event2/event.h>
#include <sys/stat.h>
#include <time.h>

#include "stubd/cache.h"
#include "stubd/config.h"
#include "stubd/hosts.h"
#include "stubd/listener.h"
#include "stubd/pipeline.h"
#include "stubd/upstream.h"

/* Seconds of query counts kept for "queries per second, last minute". */
#define DAEMON_QPS_WINDOW 61

struct daemon {
	struct event_base *base;
	struct config cfg;
	int argc;                 /* kept to re-read the config on SIGHUP */
	char **argv;
	time_t started;

	/* The hosts stage's table, rebuilt whole when the file changes. */
	struct hosts_table *hosts;
	struct hosts_options hosts_opt;
	struct stat hosts_seen;    /* what the file looked like when loaded */
	struct event *hosts_watch; /* a cheap periodic stat() of the file */

	struct cache *cache;       /* always made; with cache-size 0 it stores nothing */
	struct upstream *upstream;
	struct pipeline *pipeline;
	struct listener_set *listeners;
	struct control *control;   /* NULL when the socket could not be made */
	struct event *tick;        /* once a second: the queries-per-second ring */
	struct event *watchdog;    /* pings systemd's watchdog, when it has one */
	uint64_t qps_ring[DAEMON_QPS_WINDOW];
	size_t qps_pos;
	size_t qps_filled;
	struct event *on_sigterm;
	struct event *on_sigint;
	struct event *on_sighup;
};

/* Builds every module and opens the listening sockets. Returns 0, or -1
 * with err set (the caller exits 1). daemon_fini() cleans up either way. */
int daemon_init(struct daemon *d, const struct config *cfg, int argc, char **argv,
		struct config_error *err);

/* Runs the event loop until SIGTERM or SIGINT. Returns 0. */
int daemon_run(struct daemon *d);

/* Re-reads the config (same argv), hosts file and resolv.conf, and
 * applies what can change without new sockets (SIGHUP, stubctl reload).
 * Returns 0, or -1 with why set and the running configuration kept. */
int daemon_reload(struct daemon *d, char *why, size_t why_size);

/* Queries per second over the last minute (less just after start). */
double daemon_qps(const struct daemon *d);

/* Frees everything daemon_init() built; safe on a partly built daemon. */
void daemon_fini(struct daemon *d);

#endif
