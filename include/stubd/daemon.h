/* daemon.h - the one daemon context: every long-lived object of a running
 * stubd, and the signals that steer it.
 *
 * Owns the main event base, the config in force, what the workers share
 * (the cache, the hosts table and its options) and the workers themselves
 * (worker.h: each a loop with its listeners, pipeline and upstream stage;
 * worker 0 runs on the main base). The main loop also runs the control
 * socket, the signals and the timers. Nothing else in stubd keeps mutable
 * state outside this struct (log.c's level and sink aside).
 */
#ifndef STUBD_DAEMON_H
#define STUBD_DAEMON_H

#include <event2/event.h>
#include <sys/stat.h>
#include <time.h>

#include "stubd/bus.h"
#include "stubd/cache.h"
#include "stubd/config.h"
#include "stubd/hosts.h"
#include "stubd/service.h"
#include "stubd/upstream_policy.h"
#include "stubd/worker.h"

/* Seconds of query counts kept for "queries per second, last minute". */
#define DAEMON_QPS_WINDOW 61

struct resolve1;
struct hosts_job;

/* Someone waiting for the hosts load under way (stubctl reload answers
 * once the new names are in). The waiter owns the struct. */
struct daemon_waiter {
	void (*fn)(void *arg);
	void *arg;
	unsigned long until;       /* the load (count) that must be in: set by daemon_wait_hosts */
	struct daemon_waiter *next;
};

struct cachesave;

struct daemon {
	struct event_base *base;
	struct config cfg;
	int argc;                 /* kept to re-read the config on SIGHUP */
	char **argv;
	time_t started;
	struct service_user run_as; /* chosen at start; a reload does not change it */

	/* The hosts stage's table and options, rebuilt whole when the file
	 * changes and swapped into every worker before the old ones go. */
	struct hosts_table *hosts;
	struct hosts_options *hosts_opt;
	struct stat hosts_seen;    /* what the file looked like when loaded */
	struct event *hosts_watch; /* a cheap periodic stat() of the file */
	struct offload *hosts_offload; /* the file is read on a thread of its own */
	struct hosts_job *hosts_job;   /* the load under way, or the last one */
	bool hosts_again;              /* asked for again while a load ran */
	unsigned long hosts_loads_started; /* loads begun so far (for waiters) */
	struct daemon_waiter *hosts_waiters; /* told when the load under way is in */

	struct cache *cache;       /* always made; with cache-size 0 it stores nothing */
	struct cachesave *cachesave; /* cache-file: the cache across restarts */
	struct worker *workers;    /* n_workers; workers[0] runs on base */
	unsigned n_workers;
	bool cpu_steered;          /* UDP queries go to the worker on their CPU */
	struct control *control;   /* NULL when the socket could not be made */
	gid_t control_gid;         /* control-group's, looked up at start and reload only */
	struct routing *routing;   /* links, routes and the table the workers use */
	struct policy *policy;     /* the upstream servers' RTTs and health, for every worker */
	struct resolve1 *resolve1; /* org.freedesktop.resolve1's objects; NULL with dbus = no */
	struct bus *bus;           /* the system bus connection they live on */
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

/* Starts the other workers' threads and runs the main loop until SIGTERM
 * or SIGINT. Returns 0, or 1 when a worker could not start. */
int daemon_run(struct daemon *d);

/* Re-reads the config (same argv), hosts file and resolv.conf, and
 * applies what can change without new sockets (SIGHUP, stubctl reload).
 * Returns 0, or -1 with why set and the running configuration kept. */
int daemon_reload(struct daemon *d, char *why, size_t why_size);

/* A reload or a changed file reads the hosts file on a thread: true
 * while that runs. daemon_wait_hosts() calls w->fn once it is in (and
 * swapped into every worker); daemon_unwait_hosts() takes a waiter back. */
bool daemon_hosts_loading(const struct daemon *d);

/* The user whose processes may change things as stubd's own (access.h):
 * the one stubd runs as, or ACCESS_NO_UID while it runs as nobody only
 * because its user is missing, since other programs run as nobody too. */
uid_t daemon_self_uid(const struct daemon *d);
void daemon_wait_hosts(struct daemon *d, struct daemon_waiter *w);
void daemon_unwait_hosts(struct daemon *d, struct daemon_waiter *w);

/* Queries per second over the last minute (less just after start). */
double daemon_qps(const struct daemon *d);

/* Worker 0: the one on the main loop, which stubctl query asks. */
static inline struct worker *daemon_main_worker(struct daemon *d)
{
	return &d->workers[0];
}

/* Every worker's counters added up (each read on its own loop). */
void daemon_gather_stats(struct daemon *d, struct worker_stats *out);

/* Zeroes every counter (reset-statistics). */
void daemon_reset_stats(struct daemon *d);

/* Frees everything daemon_init() built; safe on a partly built daemon. */
void daemon_fini(struct daemon *d);

#endif
