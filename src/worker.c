/* worker.c - event loops on threads, and running code on them. See worker.h. */
#include "stubd/worker.h"

#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stubd/log.h"

void worker_plan(const struct config *cfg, struct worker_plan *out)
{
	memset(out, 0, sizeof(*out));
	out->n = cfg->workers == CONFIG_WORKERS_AUTO ? 1 : cfg->workers;
	if (cfg->workers != CONFIG_WORKERS_AUTO)
		return;
	cpu_set_t cpus;
	if (sched_getaffinity(0, sizeof(cpus), &cpus) < 0)
		return;
	unsigned n = 0;
	for (int c = 0; c < CPU_SETSIZE && n < CONFIG_MAX_WORKERS; c++)
		if (CPU_ISSET(c, &cpus))
			out->cpu[n++] = c;
	if (n == 0)
		return;
	out->n = n;
	out->pinned = n > 1;
}

static unsigned share(unsigned total, unsigned n)
{
	return (total + n - 1) / n;
}

void worker_config(const struct config *cfg, unsigned n, struct config *out)
{
	*out = *cfg;
	out->max_inflight = share(cfg->max_inflight, n);
	out->tcp_max_clients = share(cfg->tcp_max_clients, n);
}

int worker_init(struct worker *w, unsigned index, int cpu, struct event_base *base,
		const struct config *cfg, const struct service_fds *fds, enum listener_share share,
		struct cache *cache, struct policy *pol, struct config_error *err)
{
	memset(w, 0, sizeof(*w));
	w->index = index;
	w->cpu = cpu;
	snprintf(err->msg, sizeof(err->msg), "out of memory");
	w->base = base;
	if (!w->base) {
		w->base = event_base_new();
		w->own_base = true;
		if (!w->base)
			return -1;
	}
	if (pthread_mutex_init(&w->call_lock, NULL) != 0)
		return -1;
	if (pthread_cond_init(&w->call_cond, NULL) != 0) {
		pthread_mutex_destroy(&w->call_lock);
		return -1;
	}
	w->call_sync_ready = true;
	w->upstream = upstream_new(w->base, cfg, pol);
	if (!w->upstream)
		return -1;
	w->pipeline = pipeline_new(w->base, w->upstream, cfg);
	if (!w->pipeline)
		return -1;
	pipeline_set_cache(w->pipeline, cache);
	w->listeners = listener_set_new(w->base, w->pipeline, cfg, fds, share, err);
	if (!w->listeners)
		return -1;
	return 0;
}

/* ---- running code on the worker's loop ------------------------------- */

static void on_call(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	w->call_fn(w, w->call_arg);
	pthread_mutex_lock(&w->call_lock);
	w->call_done = true;
	pthread_cond_signal(&w->call_cond);
	pthread_mutex_unlock(&w->call_lock);
}

void worker_call(struct worker *w, worker_fn fn, void *arg)
{
	if (!w->running) {
		fn(w, arg);
		return;
	}
	pthread_mutex_lock(&w->call_lock);
	w->call_fn = fn;
	w->call_arg = arg;
	w->call_done = false;
	pthread_mutex_unlock(&w->call_lock);
	/* Thread-safe with libevent's pthread locking (evthread_use_pthreads
	 * before any base was made): it wakes the worker's epoll_wait. */
	event_active(w->call_event, EV_READ, 0);
	pthread_mutex_lock(&w->call_lock);
	while (!w->call_done)
		pthread_cond_wait(&w->call_cond, &w->call_lock);
	pthread_mutex_unlock(&w->call_lock);
}

/* A worker pinned to a CPU it may no longer use (hotplug, a changed
 * cpuset) still runs: the scheduler places it, and only locality is lost. */
static void pin_self(const struct worker *w)
{
	cpu_set_t one;
	CPU_ZERO(&one);
	CPU_SET(w->cpu, &one);
	int err = pthread_setaffinity_np(pthread_self(), sizeof(one), &one);
	if (err != 0)
		log_warn("worker %u: cannot pin to CPU %d (%s); it runs where the scheduler puts "
			 "it, and answers still come, only not always from the client's core",
			 w->index, w->cpu, strerror(err));
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	if (w->cpu >= 0)
		pin_self(w);
	/* No exit on an empty loop: a worker with nothing to watch still
	 * waits for calls (and its stop). */
	event_base_loop(w->base, EVLOOP_NO_EXIT_ON_EMPTY);
	return NULL;
}

int worker_start(struct worker *w)
{
	if (w->index == 0 && w->cpu >= 0)
		pin_self(w); /* the caller's thread is worker 0's */
	if (w->index == 0 || w->running)
		return 0;
	w->call_event = event_new(w->base, -1, 0, on_call, w);
	if (!w->call_event)
		return -ENOMEM;
	/* Signals are for the main thread's loop: the workers block them, so
	 * SIGTERM and SIGHUP are always handled in one place. */
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	int err = pthread_create(&w->thread, NULL, worker_main, w);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err != 0)
		return -err;
	w->running = true;
	return 0;
}

static void break_loop(struct worker *w, void *arg)
{
	event_base_loopbreak(w->base);
}

void worker_stop(struct worker *w)
{
	if (!w->running)
		return;
	/* Through the loop itself: a loopbreak sent before the thread entered
	 * its loop would be forgotten, a queued call is not. */
	worker_call(w, break_loop, NULL);
	pthread_join(w->thread, NULL);
	w->running = false;
}

void worker_fini(struct worker *w)
{
	worker_stop(w);
	/* Outermost first: connections cancel their waiting questions in the
	 * pipeline, which cancels its upstream transactions. */
	listener_set_free(w->listeners);
	pipeline_free(w->pipeline);
	upstream_free(w->upstream);
	if (w->call_event)
		event_free(w->call_event);
	if (w->own_base && w->base)
		event_base_free(w->base);
	if (w->call_sync_ready) {
		pthread_mutex_destroy(&w->call_lock);
		pthread_cond_destroy(&w->call_cond);
	}
	memset(w, 0, sizeof(*w));
}

/* ---- counters ---------------------------------------------------------- */

static void add_listener(struct listener_stats *sum, const struct listener_stats *s)
{
	sum->udp_queries += s->udp_queries;
	sum->tcp_queries += s->tcp_queries;
	sum->dropped += s->dropped;
	sum->rejected += s->rejected;
	sum->refused += s->refused;
	sum->truncated += s->truncated;
	sum->tcp_connections += s->tcp_connections;
	sum->tcp_refused += s->tcp_refused;
	sum->tcp_idle_closed += s->tcp_idle_closed;
	sum->send_errors += s->send_errors;
}

static void add_pipeline(struct pipeline_stats *sum, const struct pipeline_stats *s)
{
	for (size_t i = 0; i < PIPELINE_SOURCE_COUNT_; i++)
		sum->answers[i] += s->answers[i];
	for (size_t i = 0; i < WIRE_RCODE_COUNT_; i++)
		sum->rcodes[i] += s->rcodes[i];
	for (size_t i = 0; i < PIPELINE_LATENCY_BUCKETS; i++)
		sum->latency[i] += s->latency[i];
	sum->latency_sum_ms += s->latency_sum_ms;
	sum->pending += s->pending;
	sum->coalesced += s->coalesced;
	sum->stale += s->stale;
	sum->inflight_refused += s->inflight_refused;
	sum->no_servers += s->no_servers;
}

static void gather_on_loop(struct worker *w, void *arg)
{
	struct worker_stats *sum = arg;
	const struct upstream_stats *us = upstream_get_stats(w->upstream);

	const struct listener_stats *ls = listener_set_stats(w->listeners);
	add_listener(&sum->listener, ls);
	if (w->index < CONFIG_MAX_WORKERS) {
		sum->queries[w->index] = ls->udp_queries + ls->tcp_queries;
		if (w->index + 1 > sum->n_workers)
			sum->n_workers = w->index + 1;
	}
	add_pipeline(&sum->pipeline, pipeline_get_stats(w->pipeline));
	sum->upstream.mismatched += us->mismatched;
	sum->upstream.malformed += us->malformed;
	sum->upstream.failed += us->failed;
	sum->upstream.tcp_fallbacks += us->tcp_fallbacks;
	sum->tcp_clients += listener_set_tcp_clients(w->listeners);
}

void worker_gather_stats(struct worker *workers, unsigned n, struct worker_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < n; i++)
		worker_call(&workers[i], gather_on_loop, out);
}

static void reset_on_loop(struct worker *w, void *arg)
{
	listener_set_reset_stats(w->listeners);
	pipeline_reset_stats(w->pipeline);
	upstream_reset_stats(w->upstream);
}

void worker_reset_stats(struct worker *w)
{
	worker_call(w, reset_on_loop, NULL);
}
