/* daemon.c - wiring the modules together and running the loop. See daemon.h. */
#include "stubd/daemon.h"

#include <signal.h>
#include <string.h>

#include "stubd/log.h"
#include "stubd/version.h"

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	log_info("received %s, shutting down", strsignal((int)sig));
	/* Break now: answers still waiting upstream are dropped, and nothing
	 * is half-written because every reply is sent in one call. */
	event_base_loopbreak(d->base);
}

static void warn_about_upstreams(const struct config *cfg)
{
	if (cfg->n_upstream > 0)
		return;
	if (cfg->upstream_from_resolv_conf)
		log_warn("no upstream servers: %s names none but stubd itself; every "
			 "question not answered locally gets SERVFAIL (give one with -u ADDR)",
			 cfg->resolv_conf);
	else
		log_warn("no upstream servers configured; every question not answered "
			 "locally gets SERVFAIL (give one with -u ADDR)");
}

static void on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct config next;
	struct config_error err;
	enum config_action action;

	if (config_from_args(&next, d->argc, d->argv, &action, &err) < 0) {
		log_err("reload failed, keeping the running configuration: %s", err.msg);
		return;
	}
	/* Everything but the sockets takes effect now; new listen addresses
	 * need a restart, and the log says so. */
	log_set_level(next.log_level);
	if (next.n_listen != d->cfg.n_listen ||
	    memcmp(next.listen, d->cfg.listen, sizeof(next.listen[0]) * next.n_listen) != 0)
		log_warn("reload: listen addresses changed; restart stubd to use them");
	if (upstream_reconfigure(d->upstream, &next) < 0) {
		log_err("reload failed, keeping the running configuration: out of memory");
		return;
	}
	next.n_listen = d->cfg.n_listen;
	memcpy(next.listen, d->cfg.listen, sizeof(next.listen));
	d->cfg = next;
	warn_about_upstreams(&d->cfg);
	log_info("configuration reloaded");
}

static int watch_signal(struct daemon *d, struct event **ev, int sig, event_callback_fn fn)
{
	*ev = evsignal_new(d->base, sig, fn, d);
	return *ev && evsignal_add(*ev, NULL) == 0 ? 0 : -1;
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

	/* A client vanishing must not kill the daemon through SIGPIPE. */
	signal(SIGPIPE, SIG_IGN);
	d->base = event_base_new();
	if (!d->base)
		return -1;
	d->upstream = upstream_new(d->base, &d->cfg);
	if (!d->upstream)
		return -1;
	d->pipeline = pipeline_new(d->upstream, &d->cfg);
	if (!d->pipeline)
		return -1;
	d->listeners = listener_set_new(d->base, d->pipeline, &d->cfg, err);
	if (!d->listeners)
		return -1;
	if (watch_signal(d, &d->on_sigterm, SIGTERM, on_stop_signal) < 0 ||
	    watch_signal(d, &d->on_sigint, SIGINT, on_stop_signal) < 0 ||
	    watch_signal(d, &d->on_sighup, SIGHUP, on_reload_signal) < 0)
		return -1;
	warn_about_upstreams(&d->cfg);
	return 0;
}

int daemon_run(struct daemon *d)
{
	char where[512];
	listener_set_describe(d->listeners, where, sizeof(where));
	log_info("stubd %s ready: serving on %s (udp, tcp), %zu upstream server(s)",
		 STUBD_VERSION, where, d->cfg.n_upstream);
	event_base_dispatch(d->base);
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
	/* Outermost first: connections cancel their waiting questions in the
	 * pipeline, which cancels its upstream transactions. */
	listener_set_free(d->listeners);
	pipeline_free(d->pipeline);
	upstream_free(d->upstream);
	if (d->base)
		event_base_free(d->base);
	memset(d, 0, sizeof(*d));
}
