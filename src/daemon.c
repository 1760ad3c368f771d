/* daemon.c - wiring the modules together and running the loop. See daemon.h. */
#include "stubd/daemon.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <event2/thread.h>
#include <stdlib.h>

#include "stubd/access.h"
#include "stubd/control.h"
#include "stubd/log.h"
#include "stubd/cachesave.h"
#include "stubd/offload.h"
#include "stubd/resolve1.h"
#include "stubd/routing.h"
#include "stubd/service.h"
#include "stubd/version.h"

/* How often the hosts file is checked for changes: edits show up within
 * this long, without a SIGHUP, for the price of one stat() a second. */
#define HOSTS_CHECK_INTERVAL_MS 1000

/* The machine's own name and addresses, for the own-hostname answer
 * (nss-myhostname's job). Loopback and IPv6 link-local addresses are left
 * out: they mean nothing, or something else, to another program. */
static void collect_self(struct hosts_options *opt)
{
	struct ifaddrs *list = NULL;

	char name[256];
	if (gethostname(name, sizeof(name)) < 0)
		name[0] = '\0';
	name[sizeof(name) - 1] = '\0';
	hosts_options_set_hostname(opt, name);
	opt->n_self_v4 = opt->n_self_v6 = 0;
	if (getifaddrs(&list) < 0)
		return;
	for (struct ifaddrs *ifa = list; ifa; ifa = ifa->ifa_next) {
		if (!ifa->ifa_addr || (ifa->ifa_flags & IFF_LOOPBACK) || !(ifa->ifa_flags & IFF_UP))
			continue;
		if (ifa->ifa_addr->sa_family == AF_INET && opt->n_self_v4 < HOSTS_MAX_SELF_ADDRS) {
			opt->self_v4[opt->n_self_v4++] = ((struct sockaddr_in *)ifa->ifa_addr)->sin_addr;
		} else if (ifa->ifa_addr->sa_family == AF_INET6 &&
			   opt->n_self_v6 < HOSTS_MAX_SELF_ADDRS) {
			struct in6_addr *a6 = &((struct sockaddr_in6 *)ifa->ifa_addr)->sin6_addr;
			if (!IN6_IS_ADDR_LINKLOCAL(a6))
				opt->self_v6[opt->n_self_v6++] = *a6;
		}
	}
	freeifaddrs(list);
}

static bool hosts_enabled(const struct config *cfg)
{
	return strcmp(cfg->hosts_file, "none") != 0;
}

static bool same_file_state(const struct stat *a, const struct stat *b)
{
	return a->st_ino == b->st_ino && a->st_dev == b->st_dev && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

struct hosts_swap {
	const struct hosts_table *table;
	const struct hosts_options *opt;
};

static void set_hosts_on_loop(struct worker *w, void *arg)
{
	const struct hosts_swap *h = arg;
	pipeline_set_hosts(w->pipeline, h->table, h->opt);
}

/* One load of the hosts stage, read off the DNS loop (offload.h): what
 * the thread needs is copied in, so a reload meanwhile changes nothing
 * under it. */
struct hosts_job {
	char path[PATH_MAX];
	bool enabled;
	unsigned ttl;
	bool forward_single_label;
	struct hosts_table *table;   /* results, taken by hosts_job_apply() */
	struct hosts_table *retired; /* the table it replaced: freed off the loop too */
	struct hosts_options *opt;
	struct hosts_load_info info;
	struct stat st;
	int err;                     /* errno of a failed read, ENOMEM */
};

static void hosts_job_prepare(struct hosts_job *job, const struct config *cfg)
{
	struct hosts_table *retired = job->retired;
	memset(job, 0, sizeof(*job));
	job->retired = retired;
	snprintf(job->path, sizeof(job->path), "%s", cfg->hosts_file);
	job->enabled = hosts_enabled(cfg);
	job->ttl = cfg->hosts_ttl;
	job->forward_single_label = cfg->forward_single_label;
}

/* On the job's thread: reads the file and the machine's own names. */
/* Freeing a table of 100,000 names takes milliseconds: not on a DNS loop. */
static void hosts_job_retire(void *arg)
{
	struct hosts_job *job = arg;
	hosts_free(job->retired);
	job->retired = NULL;
}

static void hosts_job_work(void *arg)
{
	struct hosts_job *job = arg;
	hosts_job_retire(job);
	job->opt = calloc(1, sizeof(*job->opt));
	if (!job->opt) {
		job->err = ENOMEM;
		return;
	}
	job->opt->ttl = job->ttl;
	job->opt->forward_single_label = job->forward_single_label;
	collect_self(job->opt);
	if (!job->enabled)
		return;
	/* stat before reading: a change during the read is seen next time. */
	if (stat(job->path, &job->st) < 0)
		memset(&job->st, 0, sizeof(job->st));
	job->table = hosts_load(job->path, &job->info);
	if (!job->table)
		job->err = errno ? errno : EIO;
}

/* On the main loop: swaps the new table and options in whole, in every
 * worker, before the old ones are freed; on failure the old ones stay. */
static void hosts_job_apply(struct daemon *d, struct hosts_job *job)
{
	if (job->err) {
		log_err("hosts: cannot read %s: %s; keeping the names loaded before", job->path,
			strerror(job->err));
		hosts_free(job->table);
		free(job->opt);
		job->table = NULL;
		job->opt = NULL;
		return;
	}
	if (job->enabled) {
		d->hosts_seen = job->st;
		if (job->info.missing)
			log_info("hosts: %s does not exist; only the special names are answered",
				 job->path);
		else
			log_info("hosts: %zu name-address pairs from %s (%zu lines skipped)",
				 job->info.entries, job->path, job->info.skipped);
	}
	struct hosts_swap swap = { .table = job->table, .opt = job->opt };
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_call(&d->workers[i], set_hosts_on_loop, &swap);
	job->retired = d->hosts;
	free(d->hosts_opt);
	d->hosts = job->table;
	d->hosts_opt = job->opt;
}

static void load_hosts(struct daemon *d);

static void on_hosts_retired(void *arg)
{
	struct daemon *d = arg;
	if (d->hosts_again) {
		d->hosts_again = false;
		load_hosts(d);
	}
}

static void on_hosts_loaded(void *arg)
{
	struct daemon *d = arg;
	unsigned long done = d->hosts_loads_started;
	hosts_job_apply(d, d->hosts_job);
	if (d->hosts_again) {
		d->hosts_again = false;
		load_hosts(d); /* its thread frees the old table first */
	} else if (d->hosts_job->retired &&
		   offload_start(d->hosts_offload, hosts_job_retire, d->hosts_job, on_hosts_retired,
				 d) < 0) {
		hosts_job_retire(d->hosts_job);
	}
	/* Those whose change this load read (stubctl reload) hear it is done;
	 * a change made while it ran waits for the next one only, so a stream
	 * of reloads holds nobody back for long. */
	struct daemon_waiter **p = &d->hosts_waiters;
	while (*p) {
		struct daemon_waiter *w = *p;
		if (w->until > done) {
			p = &w->next;
			continue;
		}
		*p = w->next;
		w->next = NULL;
		w->fn(w->arg);
	}
}

/* Starts a load on a thread; one already under way is followed by another
 * (the file or the settings changed while it read). */
static void load_hosts(struct daemon *d)
{
	if (offload_busy(d->hosts_offload)) {
		d->hosts_again = true;
		return;
	}
	hosts_job_prepare(d->hosts_job, &d->cfg);
	d->hosts_loads_started++;
	if (offload_start(d->hosts_offload, hosts_job_work, d->hosts_job, on_hosts_loaded, d) == 0)
		return;
	/* No thread to be had: read it here rather than not at all. */
	hosts_job_work(d->hosts_job);
	on_hosts_loaded(d);
}

/* At start, before the first answer: read at once. */
static void load_hosts_now(struct daemon *d)
{
	hosts_job_prepare(d->hosts_job, &d->cfg);
	hosts_job_work(d->hosts_job);
	hosts_job_apply(d, d->hosts_job);
	hosts_job_retire(d->hosts_job);
}

uid_t daemon_self_uid(const struct daemon *d)
{
	return d->run_as.fallback ? ACCESS_NO_UID : geteuid();
}

bool daemon_hosts_loading(const struct daemon *d)
{
	return offload_busy(d->hosts_offload);
}

void daemon_wait_hosts(struct daemon *d, struct daemon_waiter *w)
{
	/* The load that reads the settings of now: the one under way, or the
	 * one that follows it when it started before them. */
	w->until = d->hosts_loads_started + (d->hosts_again ? 1 : 0);
	w->next = d->hosts_waiters;
	d->hosts_waiters = w;
}

void daemon_unwait_hosts(struct daemon *d, struct daemon_waiter *w)
{
	for (struct daemon_waiter **p = &d->hosts_waiters; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			return;
		}
}

static void on_hosts_check(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct stat st;

	if (!hosts_enabled(&d->cfg))
		return;
	if (stat(d->cfg.hosts_file, &st) < 0)
		memset(&st, 0, sizeof(st));
	if (same_file_state(&st, &d->hosts_seen))
		return;
	log_info("hosts: %s changed, reloading", d->cfg.hosts_file);
	load_hosts(d);
}

/* RFC 9520 §3.2 says at least 1 s and at most 5 minutes; a few seconds
 * spares a dead upstream the retries without hiding a recovery. */
#define SERVFAIL_TTL 5

/* One loop needs no sharding. Several want enough shards that two of
 * them seldom wait on one lock: four per worker, rounded to a power of two. */
static unsigned cache_shards(unsigned workers)
{
	unsigned shards = 1;
	while (workers > 1 && shards < 4 * workers && shards < CACHE_SHARDS_MAX)
		shards *= 2;
	return shards;
}

static void cache_settings(const struct config *cfg, unsigned workers, struct cache_config *cc)
{
	cc->max_entries = cfg->cache_size;
	cc->max_bytes = cfg->cache_memory;
	cc->min_ttl = cfg->cache_min_ttl;
	cc->max_ttl = cfg->cache_max_ttl;
	cc->max_negative_ttl = cfg->cache_max_negative_ttl;
	cc->servfail_ttl = SERVFAIL_TTL;
	cc->stale_max_age = cfg->serve_stale ? cfg->stale_max_age : 0;
	cc->shards = cache_shards(workers);
}

/* The cache lives as long as the daemon: a reload changes its limits but
 * keeps what it holds (SPEC: SIGHUP does not drop the cache). With
 * cache-size 0 it stores nothing. */
static int setup_cache(struct daemon *d)
{
	struct cache_config cc;
	cache_settings(&d->cfg, d->n_workers, &cc);
	if (d->cache) {
		cache_configure(d->cache, &cc);
		return 0;
	}
	d->cache = cache_new(&cc);
	return d->cache ? 0 : -1;
}

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	log_info("received %s, shutting down", strsignal((int)sig));
	service_stopping();
	/* Break now: answers still waiting upstream are dropped, and nothing
	 * is half-written because every reply is sent in one call. */
	event_base_loopbreak(d->base);
}

/* With socket activation the served addresses are systemd's, not the
 * config's: leave those out of resolv.conf's upstreams too, or stubd
 * would forward to itself. */
static void drop_self_upstreams(struct daemon *d, struct config *cfg)
{
	struct netaddr served[2 * SERVICE_MAX_FDS];
	size_t n_served = listener_set_addrs(daemon_main_worker(d)->listeners, served,
					     2 * SERVICE_MAX_FDS);
	size_t kept = 0;

	if (!cfg->upstream_from_resolv_conf)
		return;
	for (size_t i = 0; i < cfg->n_upstream; i++) {
		bool self = false;
		for (size_t j = 0; j < n_served && !self; j++)
			self = netaddr_equal(&cfg->upstream[i].addr, &served[j]);
		if (self) {
			char name[NETADDR_STRLEN];
			log_warn("resolv.conf: leaving out nameserver %s: stubd serves on it "
				 "(no forwarding loops)", netaddr_str(&cfg->upstream[i].addr, name, sizeof(name)));
			continue;
		}
		cfg->upstream[kept++] = cfg->upstream[i];
	}
	cfg->n_upstream = kept;
}

static void warn_about_upstreams(const struct config *cfg)
{
	if (cfg->n_upstream > 0)
		return;
	if (cfg->upstream_from_resolv_conf)
		log_warn("no upstream servers: none is configured and %s names none that is "
			 "not stubd itself; every question not answered locally gets SERVFAIL "
			 "(give one with -u ADDR or 'upstream =' in the config)",
			 cfg->resolv_conf);
	else
		log_warn("no upstream servers configured; every question not answered "
			 "locally gets SERVFAIL (give one with -u ADDR)");
}

struct worker_settings {
	struct config cfg;
	int err;
};

static void configure_on_loop(struct worker *w, void *arg)
{
	struct worker_settings *ws = arg;
	upstream_configure(w->upstream, &ws->cfg);
	pipeline_configure(w->pipeline, &ws->cfg);
	listener_set_configure(w->listeners, &ws->cfg);
}

/* Hands d->cfg to every worker, each on its own loop. */
static int configure_workers(struct daemon *d)
{
	struct worker_settings *ws = malloc(sizeof(*ws)); /* a config is large */
	if (!ws)
		return -ENOMEM;
	worker_config(&d->cfg, d->n_workers, &ws->cfg);
	ws->err = 0;
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_call(&d->workers[i], configure_on_loop, ws);
	int err = ws->err;
	free(ws);
	return err;
}

/* What systemctl status shows: where we serve and how full the cache is.
 * ready: READY=1 too (start-up, and the end of a reload). */
static void announce(struct daemon *d, bool ready)
{
	char where[256], status[512];
	struct cache_stats cs;
	listener_set_describe(daemon_main_worker(d)->listeners, where, sizeof(where));
	cache_get_stats(d->cache, &cs);
	snprintf(status, sizeof(status), "Serving on %s, %llu answers cached", where,
		 (unsigned long long)cs.entries);
	if (ready)
		service_ready(status);
	else
		service_status(status);
}

int daemon_reload(struct daemon *d, char *why, size_t why_size)
{
	struct config next;
	struct config_error err;
	enum config_action action;

	service_reloading();
	if (config_from_args(&next, d->argc, d->argv, &action, &err) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err.msg);
		snprintf(why, why_size, "%s", err.msg);
		announce(d, true);
		return -1;
	}
	/* Everything but the sockets takes effect now; new listen addresses or
	 * a new control socket need a restart, and the log says so. */
	if (next.n_listen != d->cfg.n_listen ||
	    memcmp(next.listen, d->cfg.listen, sizeof(next.listen[0]) * next.n_listen) != 0)
		log_warn("reload: listen addresses changed; restart stubd to use them");
	if (strcmp(next.control_socket, d->cfg.control_socket) != 0)
		log_warn("reload: control-socket changed; restart stubd to use it");
	/* The setting, not worker_plan() again: with "auto", this thread is
	 * worker 0, pinned to one CPU, so its affinity counts one. */
	if (next.workers != d->cfg.workers)
		log_warn("reload: workers changed; restart stubd to use them");
	if (next.dbus != d->cfg.dbus)
		log_warn("reload: dbus changed; restart stubd to use it");
	if (strcmp(next.user, d->cfg.user) != 0)
		log_warn("reload: user changed; restart stubd to run as another user");
	drop_self_upstreams(d, &next);
	log_set_level(next.log_level);
	next.n_listen = d->cfg.n_listen;
	memcpy(next.listen, d->cfg.listen, sizeof(next.listen));
	memcpy(next.control_socket, d->cfg.control_socket, sizeof(next.control_socket));
	memcpy(next.user, d->cfg.user, sizeof(next.user));
	next.workers = d->cfg.workers;
	next.dbus = d->cfg.dbus;
	d->cfg = next;
	policy_set_timeout(d->policy, d->cfg.upstream_timeout_ms);
	if (configure_workers(d) < 0) {
		/* Out of memory: the workers that could not take the new
		 * servers keep the old ones; the rest is applied. */
		log_err("reload: out of memory; some workers keep the previous upstream servers");
		snprintf(why, why_size, "out of memory");
		announce(d, true);
		return -1;
	}
	setup_cache(d);
	cachesave_configure(d->cachesave, &d->cfg);
	routing_reconfigure(d->routing);
	d->control_gid = access_group_id(d->cfg.control_group);
	warn_about_upstreams(&d->cfg);
	load_hosts(d);
	log_info("configuration reloaded");
	announce(d, true);
	return 0;
}

static void on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	service_watchdog_ping();
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	char why[512];
	daemon_reload(arg, why, sizeof(why));
}

/* Once a second: the query count, for status's queries per second over
 * the last minute. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;
	struct worker_stats st;
	daemon_gather_stats(d, &st);
	d->qps_ring[d->qps_pos] = st.listener.udp_queries + st.listener.tcp_queries;
	d->qps_pos = (d->qps_pos + 1) % DAEMON_QPS_WINDOW;
	if (d->qps_filled < DAEMON_QPS_WINDOW)
		d->qps_filled++;
	if (d->qps_pos % 5 == 0)
		announce(d, false);
}

double daemon_qps(const struct daemon *d)
{
	if (d->qps_filled < 2)
		return 0.0;
	size_t newest = (d->qps_pos + DAEMON_QPS_WINDOW - 1) % DAEMON_QPS_WINDOW;
	size_t oldest = d->qps_filled < DAEMON_QPS_WINDOW ? 0 : d->qps_pos;
	uint64_t diff = d->qps_ring[newest] - d->qps_ring[oldest];
	/* reset-statistics can make the count go down: no negative rates. */
	if (d->qps_ring[newest] < d->qps_ring[oldest])
		return 0.0;
	return (double)diff / (double)(d->qps_filled - 1);
}

void daemon_gather_stats(struct daemon *d, struct worker_stats *out)
{
	worker_gather_stats(d->workers, d->n_workers, out);
}

void daemon_reset_stats(struct daemon *d)
{
	for (unsigned i = 0; i < d->n_workers; i++)
		worker_reset_stats(&d->workers[i]);
	policy_reset_stats(d->policy);
	cache_reset_stats(d->cache);
}

static int watch_signal(struct daemon *d, struct event **ev, int sig, event_callback_fn fn)
{
	*ev = evsignal_new(d->base, sig, fn, d);
	return *ev && evsignal_add(*ev, NULL) == 0 ? 0 : -1;
}

static int worker_cpu(const struct worker_plan *plan, unsigned i)
{
	return plan->pinned ? plan->cpu[i] : -1;
}

/* Pinned workers answer what arrives on their CPU. Without that (an old
 * kernel) they still answer everything, spread by the kernel's hash. */
static void steer_to_cpus(struct daemon *d, const struct worker_plan *plan)
{
	int rc = listener_set_steer_by_cpu(daemon_main_worker(d)->listeners, plan->cpu,
					   plan->n);
	if (rc < 0) {
		log_info("cannot give each worker the queries that arrive on its CPU (%s); "
			 "the kernel spreads them by address instead", strerror(-rc));
		return;
	}
	d->cpu_steered = rc > 0;
}

/* The other workers serve what worker 0 serves: the same addresses (with
 * the ports it was given), or duplicates of systemd's sockets. */
static int init_workers(struct daemon *d, const struct worker_plan *plan,
			const struct service_fds *fds, struct config_error *err)
{
	enum listener_share share = d->n_workers > 1 ? LISTENER_GROUP_FIRST : LISTENER_ALONE;
	struct config *wcfg = malloc(sizeof(*wcfg)); /* a config is large */
	if (!wcfg)
		return -1;
	worker_config(&d->cfg, d->n_workers, wcfg);
	int rc = worker_init(&d->workers[0], 0, worker_cpu(plan, 0), d->base, wcfg, fds, share,
			     d->cache, d->policy, err);
	if (rc == 0 && d->n_workers > 1)
		wcfg->n_listen = listener_set_addrs(d->workers[0].listeners, wcfg->listen,
						    CONFIG_MAX_ADDRS);
	for (unsigned i = 1; rc == 0 && i < d->n_workers; i++) {
		struct service_fds dup_fds = *fds;
		for (size_t k = 0; k < fds->n_udp; k++)
			dup_fds.udp[k] = dup(fds->udp[k]);
		for (size_t k = 0; k < fds->n_tcp; k++)
			dup_fds.tcp[k] = dup(fds->tcp[k]);
		rc = worker_init(&d->workers[i], i, worker_cpu(plan, i), NULL, wcfg, &dup_fds,
				 LISTENER_GROUP_JOIN, d->cache, d->policy, err);
	}
	free(wcfg);
	if (rc == 0 && plan->pinned)
		steer_to_cpus(d, plan);
	return rc;
}

/* The address resolv.conf names: the first one we serve on. */
static int start_routing(struct daemon *d, struct config_error *err)
{
	struct netaddr served[2 * SERVICE_MAX_FDS];
	size_t n = listener_set_addrs(daemon_main_worker(d)->listeners, served, 2 * SERVICE_MAX_FDS);
	if (n == 0)
		netaddr_parse(CONFIG_DEFAULT_LISTEN, 53, &served[0]);
	service_prepare_dir(&d->run_as, d->cfg.runtime_dir);
	d->routing = routing_new(d->base, &d->cfg, d->workers, d->n_workers, d->cache, d->policy,
				 &served[0], err);
	return d->routing ? 0 : -1;
}

static int start_dbus(struct daemon *d, struct config_error *err)
{
	if (d->cfg.dbus == CONFIG_DBUS_NO)
		return 0;
	d->resolve1 = resolve1_new(d);
	if (!d->resolve1)
		return -1;
	struct bus_hooks hooks = resolve1_hooks(d->resolve1);
	d->bus = bus_new(d->base, d->cfg.dbus, RESOLVE1_BUS_NAME, &hooks, err);
	if (!d->bus)
		return -1;
	resolve1_set_bus(d->resolve1, d->bus);
	return 0;
}

int daemon_init(struct daemon *d, const struct config *cfg, int argc, char **argv,
		struct config_error *err)
{
	memset(d, 0, sizeof(*d));
	d->cfg = *cfg;
	d->argc = argc;
	d->argv = argv;
	d->started = time(NULL);
	snprintf(err->msg, sizeof(err->msg), "out of memory");

	/* Before any socket: with no user to run as but root, stop now. */
	if (service_choose_user(&d->cfg, &d->run_as, err) < 0)
		return -1;
	/* A client vanishing must not kill the daemon through SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	struct worker_plan plan;
	worker_plan(&d->cfg, &plan);
	d->n_workers = plan.n;
	/* Locks in libevent only when loops run on several threads: worker_call
	 * wakes another thread's loop. Must come before any base is made. */
	if (d->n_workers > 1 && evthread_use_pthreads() < 0)
		return -1;
	d->base = event_base_new();
	if (!d->base)
		return -1;
	if (setup_cache(d) < 0)
		return -1;
	/* One view of the upstream servers for every worker. */
	d->policy = policy_new(d->cfg.upstream_timeout_ms);
	if (!d->policy)
		return -1;
	d->workers = calloc(d->n_workers, sizeof(d->workers[0]));
	if (!d->workers)
		return -1;
	struct service_fds fds;
	if (service_take_fds(&fds, err) < 0)
		return -1;
	if (init_workers(d, &plan, &fds, err) < 0)
		return -1;
	if (fds.n_udp + fds.n_tcp > 0 && d->cfg.n_listen > 0)
		log_info("socket activation: serving on the sockets systemd passed; 'listen' "
			 "in the config is not used");
	drop_self_upstreams(d, &d->cfg);
	if (configure_workers(d) < 0)
		return -1;
	if (start_routing(d, err) < 0)
		return -1;
	d->hosts_job = calloc(1, sizeof(*d->hosts_job));
	d->hosts_offload = offload_new(d->base);
	if (!d->hosts_job || !d->hosts_offload)
		return -1;
	load_hosts_now(d);
	/* Before the first answer: the workers' loops start in daemon_run. */
	d->cachesave = cachesave_new(d->base, d->cache, &d->cfg,
				     d->run_as.change ? d->run_as.uid : geteuid());
	if (!d->cachesave)
		return -1;
	cachesave_load(d->cachesave);
	struct timeval every = { .tv_sec = HOSTS_CHECK_INTERVAL_MS / 1000,
				 .tv_usec = (HOSTS_CHECK_INTERVAL_MS % 1000) * 1000 };
	d->hosts_watch = event_new(d->base, -1, EV_PERSIST, on_hosts_check, d);
	if (!d->hosts_watch || event_add(d->hosts_watch, &every) < 0)
		return -1;
	if (watch_signal(d, &d->on_sigterm, SIGTERM, on_stop_signal) < 0 ||
	    watch_signal(d, &d->on_sigint, SIGINT, on_stop_signal) < 0 ||
	    watch_signal(d, &d->on_sighup, SIGHUP, on_reload_signal) < 0)
		return -1;
	struct timeval second = { .tv_sec = 1 };
	d->tick = event_new(d->base, -1, EV_PERSIST, on_tick, d);
	if (!d->tick || event_add(d->tick, &second) < 0)
		return -1;
	d->control_gid = access_group_id(d->cfg.control_group);
	struct config_error ctl_err;
	d->control = control_new(d, fds.control, &ctl_err);
	if (!d->control)
		log_warn("%s", ctl_err.msg);
	uint64_t watchdog = service_watchdog_usec();
	if (watchdog > 0) {
		/* Ping at half the interval, from the loop itself: a stuck loop
		 * stops pinging and systemd restarts us. */
		struct timeval half = { .tv_sec = (time_t)(watchdog / 2000000),
					.tv_usec = (suseconds_t)(watchdog / 2 % 1000000) };
		d->watchdog = event_new(d->base, -1, EV_PERSIST, on_watchdog, d);
		if (!d->watchdog || event_add(d->watchdog, &half) < 0)
			return -1;
	}
	/* Last: every socket is open, nothing has been read yet, and no
	 * thread but this one runs (daemon_run starts them): capabilities
	 * are per thread, and each thread starts with this one's. */
	if (service_drop_privileges(&d->run_as, err) < 0)
		return -1;
	/* On the bus as the user stubd runs as: the policy lets it own the name. */
	if (start_dbus(d, err) < 0)
		return -1;
	warn_about_upstreams(&d->cfg);
	return 0;
}

int daemon_run(struct daemon *d)
{
	char where[512];
	/* Threads start after the privileges are dropped: the drop then
	 * covers them without relying on glibc broadcasting it. */
	for (unsigned i = 0; i < d->n_workers; i++) {
		int err = worker_start(&d->workers[i]);
		if (err < 0) {
			log_err("cannot start worker %u: %s", i, strerror(-err));
			return 1;
		}
	}
	listener_set_describe(daemon_main_worker(d)->listeners, where, sizeof(where));
	log_info("stubd %s ready: serving on %s, %zu upstream server(s), %u worker(s)",
		 STUBD_VERSION, where, d->cfg.n_upstream, d->n_workers);
	announce(d, true);
	event_base_dispatch(d->base);
	for (unsigned i = 1; i < d->n_workers; i++)
		worker_stop(&d->workers[i]);
	/* A clean stop: nothing answers any more, the cache is as it ends. */
	cachesave_stop(d->cachesave);
	return 0;
}

void daemon_fini(struct daemon *d)
{
	if (d->on_sigterm)
		event_free(d->on_sigterm);
	if (d->on_sigint)
		event_free(d->on_sigint);
	if (d->on_sighup)
		event_free(d->on_sighup);
	if (d->hosts_watch)
		event_free(d->hosts_watch);
	/* A load under way finishes first (its result is dropped). */
	offload_free(d->hosts_offload);
	if (d->hosts_job) {
		hosts_job_retire(d->hosts_job);
		if (d->hosts_job->table != d->hosts)
			hosts_free(d->hosts_job->table);
		if (d->hosts_job->opt != d->hosts_opt)
			free(d->hosts_job->opt);
		free(d->hosts_job);
	}
	if (d->tick)
		event_free(d->tick);
	if (d->watchdog)
		event_free(d->watchdog);
	cachesave_free(d->cachesave);
	control_free(d->control);
	/* The bus first: it hands back the lookups waiting in the pipeline. */
	bus_free(d->bus);
	resolve1_free(d->resolve1);
	routing_free(d->routing);
	/* Threads first (each stops and is joined), then what they shared. */
	for (unsigned i = d->n_workers; i-- > 0;)
		if (d->workers)
			worker_fini(&d->workers[i]);
	free(d->workers);
	policy_free(d->policy); /* after the workers and routing gave their handles back */
	cache_free(d->cache);
	hosts_free(d->hosts);
	free(d->hosts_opt);
	if (d->base)
		event_base_free(d->base);
	memset(d, 0, sizeof(*d));
}
