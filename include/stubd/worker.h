/* worker.h - one event loop and the stages it runs: workers = N.
 *
 * Owns, per loop: the event base, the listening sockets it serves, its
 * pipeline and its upstream stage, and for every worker but the first the
 * thread that runs the loop. The daemon owns what all workers share: the
 * cache (thread-safe, sharded), the hosts table (immutable, swapped whole),
 * the upstream policy (one table of servers' RTTs and health, locked) and
 * the configuration. Worker 0 is the main thread's loop, which also
 * runs the control socket, the signals and the timers.
 *
 * Nothing outside a worker's thread touches its objects: another thread
 * asks with worker_call(), which runs a function on the worker's own loop
 * and waits for it (reload, statistics). The hit path takes no lock but
 * the cache shard's.
 *
 * Each worker binds its own sockets with SO_REUSEPORT, and the kernel
 * spreads clients across them by source address and port, or with
 * "auto" hands each datagram to the worker on the CPU it arrived on (see
 * worker_plan); with socket activation every worker serves systemd's
 * sockets (duplicated), and the first to read a datagram answers it.
 */
#ifndef STUBD_WORKER_H
#define STUBD_WORKER_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>

#include "stubd/cache.h"
#include "stubd/config.h"
#include "stubd/listener.h"
#include "stubd/pipeline.h"
#include "stubd/service.h"
#include "stubd/upstream.h"

struct worker;
typedef void (*worker_fn)(struct worker *w, void *arg);

struct worker {
	unsigned index;
	int cpu;                   /* the one CPU its thread runs on, or -1 */
	struct event_base *base;   /* worker 0: borrowed from the daemon */
	bool own_base;
	struct upstream *upstream;
	struct pipeline *pipeline;
	struct listener_set *listeners;

	/* The thread (workers 1..n-1) and the way to run code on it. */
	pthread_t thread;
	bool running;
	struct event *call_event;
	pthread_mutex_t call_lock;
	pthread_cond_t call_cond;
	bool call_sync_ready;      /* lock and cond initialized */
	worker_fn call_fn;
	void *call_arg;
	bool call_done;
};

/* Counters of every worker added up, for status and statistics. */
struct worker_stats {
	struct listener_stats listener;
	struct pipeline_stats pipeline;
	struct upstream_stats upstream;
	unsigned tcp_clients;
	uint64_t queries[CONFIG_MAX_WORKERS]; /* UDP and TCP, per worker: the spread */
	unsigned n_workers;
};

/* How many workers cfg asks for and where they run. A number: that many,
 * placed by the scheduler, and the kernel spreads clients over their
 * sockets by address and port. "auto": one per CPU this process may run
 * on (its affinity mask, as taskset or systemd's CPUAffinity= set it),
 * worker i pinned to cpu[i], and each UDP query answered by the worker on
 * the CPU it arrived on (listener_set_steer_by_cpu): a local client's
 * question and answer then stay on the client's core, with no wake-up
 * sent across cores and no cache lines moved. */
struct worker_plan {
	unsigned n;
	bool pinned;                   /* cpu[0..n-1] are set */
	int cpu[CONFIG_MAX_WORKERS];
};
void worker_plan(const struct config *cfg, struct worker_plan *out);

/* cfg as one of n workers applies it: the limits on things in flight
 * (max-inflight, tcp-max-clients) shared out, rounded up. */
void worker_config(const struct config *cfg, unsigned n, struct config *out);

/* Builds worker index, pinned to cpu (-1: not pinned) once it runs, on
 * base (NULL: a base of its own), serving fds (socket activation) or cfg's
 * listen addresses, alone or in a group of workers (share), asking the
 * shared upstream policy pol (borrowed; it outlives the worker). Returns 0, or
 * -1 with err set; worker_fini() cleans up either way. */
int worker_init(struct worker *w, unsigned index, int cpu, struct event_base *base,
		const struct config *cfg, const struct service_fds *fds, enum listener_share share,
		struct cache *cache, struct policy *pol, struct config_error *err);

/* Starts the worker's thread on its CPU; for worker 0, whose loop the
 * caller runs, pins the calling thread instead. Returns 0 or -errno. */
int worker_start(struct worker *w);

/* Runs fn(w, arg) on w's loop and returns when it has: at once when w has
 * no thread running (worker 0, or before worker_start). Only the main
 * thread calls this. */
void worker_call(struct worker *w, worker_fn fn, void *arg);

/* Stops the loop and joins the thread, if one runs. */
void worker_stop(struct worker *w);

/* Frees what worker_init() built; safe on a partly built worker. */
void worker_fini(struct worker *w);

/* The counters of workers[0..n-1] added up into out, each read on its
 * own loop (worker_call). workers[0] must be worker 0. */
void worker_gather_stats(struct worker *workers, unsigned n, struct worker_stats *out);

/* Zeroes w's counters (runs on w's loop through worker_call). */
void worker_reset_stats(struct worker *w);

#endif
