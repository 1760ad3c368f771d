/* control_cmds.c - the control socket's commands; see control_cmds.h. */
#include "stubd/control_cmds.h"

#include <arpa/inet.h>
#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stubd/ask.h"
#include "stubd/bus.h"
#include "stubd/cache.h"
#include "stubd/cachesave.h"
#include "stubd/clock.h"
#include "stubd/control_proto.h"
#include "stubd/daemon.h"
#include "stubd/linkctl.h"
#include "stubd/log.h"
#include "stubd/offload.h"
#include "stubd/pipeline.h"
#include "stubd/routing.h"
#include "stubd/upstream_policy.h"
#include "stubd/version.h"

/* Types one stubctl query may ask for. */
#define QUERY_MAX_TYPES ASK_MAX_TYPES

/* A stubctl query in progress: one pipeline question per type. */
struct ctl_query {
	char name[LDNS_MAX_DOMAINLEN * 4 + 1];
	uint64_t started_ms;
	struct control_request *req;
	struct ask ask;
};

/* ---- small formatting helpers ------------------------------------------ */

static void format_duration(uint64_t s, char *buf, size_t size)
{
	if (s >= 86400)
		snprintf(buf, size, "%llud %lluh %llum", (unsigned long long)(s / 86400),
			 (unsigned long long)(s % 86400 / 3600), (unsigned long long)(s % 3600 / 60));
	else if (s >= 3600)
		snprintf(buf, size, "%lluh %llum %llus", (unsigned long long)(s / 3600),
			 (unsigned long long)(s % 3600 / 60), (unsigned long long)(s % 60));
	else if (s >= 60)
		snprintf(buf, size, "%llum %llus", (unsigned long long)(s / 60),
			 (unsigned long long)(s % 60));
	else
		snprintf(buf, size, "%llus", (unsigned long long)s);
}

static void u64_str(uint64_t v, char *buf, size_t size)
{
	snprintf(buf, size, "%llu", (unsigned long long)v);
}

static double ratio(uint64_t part, uint64_t whole)
{
	return whole ? (double)part / (double)whole : 0.0;
}

/* ---- status -------------------------------------------------------------- */

/* "timeout, 3 s ago"; "-" when nothing failed yet. */
static void last_failure_str(const struct policy_status *ps, uint64_t now, char *buf, size_t size)
{
	if (!ps->last_failure[0]) {
		snprintf(buf, size, "-");
		return;
	}
	char age[64];
	uint64_t ago = now > ps->last_failure_at_ms ? now - ps->last_failure_at_ms : 0;
	format_duration(ago / 1000, age, sizeof(age));
	snprintf(buf, size, "%s, %s ago", ps->last_failure, age);
}

/* How a server is asked now: "udp", "tls", or "udp-fallback" for an
 * opportunistic one whose TLS could not be set up. */
static const char *transport_of(const struct route_server *rs, const struct policy_status *ps)
{
	if (rs->tls == ROUTE_TLS_NO)
		return "udp";
	if (rs->tls == ROUTE_TLS_OPPORTUNISTIC && ps->tls.fallback)
		return "udp-fallback";
	return "tls";
}

/* The text view's second table: what TLS did with each server that uses
 * it (JSON has these as members of each upstream). */
static void report_tls_upstreams(struct report *r, const struct route_table *t,
				 const struct policy_status *st, size_t n)
{
	static const char *const keys[] = { "address", "dns_over_tls", "transport", "tls_version",
					    "tls_name", "connections", "handshakes", "resumptions",
					    "tls_queries", "queries_per_connection" };
	static const char *const titles[] = { "ADDRESS", "DNS OVER TLS", "TRANSPORT", "TLS",
					      "VERIFIED NAME", "CONNECTIONS", "HANDSHAKES",
					      "RESUMED", "QUERIES", "PER CONNECTION" };
	size_t n_tls = 0;
	for (size_t i = 0; i < n; i++)
		n_tls += route_table_server(t, i)->server.tls != ROUTE_TLS_NO;
	if (n_tls == 0)
		return;
	report_table_begin(r, "tls_upstreams", "DNS over TLS", 10, keys, titles, "ssssssnnnn");
	for (size_t i = 0; i < n; i++) {
		const struct route_server *rs = &route_table_server(t, i)->server;
		const struct policy_tls *tls = &st[i].tls;
		if (rs->tls == ROUTE_TLS_NO)
			continue;
		char name[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX], verified[ROUTE_NAME_TEXT_MAX + 16];
		char conns[24], hs[24], res[24], qs[24], per[24];
		upstream_server_name(rs, name, sizeof(name));
		if (!tls->version[0])
			snprintf(verified, sizeof(verified), "-");
		else
			snprintf(verified, sizeof(verified), "%s%s", tls->name,
				 tls->verified ? "" : " (NOT verified)");
		u64_str(tls->connections, conns, sizeof(conns));
		u64_str(tls->handshakes, hs, sizeof(hs));
		u64_str(tls->resumptions, res, sizeof(res));
		u64_str(tls->queries, qs, sizeof(qs));
		snprintf(per, sizeof(per), "%.1f", ratio(tls->queries, tls->handshakes));
		const char *cells[] = { name, route_tls_names[rs->tls], transport_of(rs, &st[i]),
					tls->version[0] ? tls->version : "-", verified, conns, hs, res,
					qs, per };
		enum report_tone tones[10] = { 0 };
		tones[2] = strcmp(cells[2], "tls") == 0 ? REPORT_TONE_GOOD : REPORT_TONE_BAD;
		tones[4] = tls->version[0] && !tls->verified ? REPORT_TONE_BAD : REPORT_TONE_NONE;
		report_table_row(r, cells, tones);
	}
	report_table_end(r);
}

/* The servers of the table in force, as the shared policy knows them:
 * one view for every worker. */
static void report_upstreams(struct report *r, struct daemon *d, bool json)
{
	/* JSON gets the parts as numbers too: the RTT's variance, the error
	 * alone and its age in seconds (the text says "timeout, 3s ago"),
	 * and what TLS did (text: a table of its own). */
	static const char *const keys[] = { "address", "state", "rtt_ms", "rto_ms", "questions",
					    "answers", "timeouts", "failures", "last_error",
					    "used_by", "rttvar_ms", "last_error_age_s",
					    "dns_over_tls", "transport", "tls_version", "tls_name",
					    "tls_verified", "connections", "handshakes", "resumptions",
					    "tls_queries", "queries_per_connection" };
	static const char *const titles[] = { "ADDRESS", "STATE", "RTT MS", "RTO MS", "QUESTIONS",
					      "ANSWERS", "TIMEOUTS", "FAILURES", "LAST ERROR",
					      "USED BY", "RTTVAR MS", "ERROR AGE S", "DNS OVER TLS",
					      "TRANSPORT", "TLS", "VERIFIED NAME", "VERIFIED",
					      "CONNECTIONS", "HANDSHAKES", "RESUMED", "QUERIES",
					      "PER CONNECTION" };
	size_t n = 0;
	struct policy_server *const *handles = d->routing ? routing_servers(d->routing, &n) : NULL;
	struct policy_status *st = calloc(n ? n : 1, sizeof(*st));
	if (!st)
		n = 0;
	uint64_t now = clock_mono_ms();
	if (n)
		policy_status(d->policy, handles, n, now, st);
	report_table_begin(r, "upstreams", "Upstream servers", json ? 22 : 10, keys, titles,
			   "ssnnnnnnssnnssssbnnnnn");
	for (size_t i = 0; i < n; i++) {
		const struct route_server_info *info = route_table_server(routing_table(d->routing), i);
		const struct policy_status *ps = &st[i];
		const struct policy_tls *tls = &ps->tls;
		char name[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX], rtt[24], rto[24], qs[24], an[24];
		char to[24], fl[24], failure[POLICY_FAILURE_MAX + 64], rttvar[24], age[24];
		char conns[24], hs[24], res[24], tq[24], per[24];
		upstream_server_name(&info->server, name, sizeof(name));
		/* Not measured yet: "-" for a person, 0 in JSON, which wants a number. */
		snprintf(rtt, sizeof(rtt), "%.1f", ps->measured ? ps->srtt_us / 1000.0 : 0.0);
		u64_str(ps->rto_ms, rto, sizeof(rto));
		u64_str(ps->counters.questions, qs, sizeof(qs));
		u64_str(ps->counters.answers, an, sizeof(an));
		u64_str(ps->counters.timeouts, to, sizeof(to));
		u64_str(ps->counters.failures, fl, sizeof(fl));
		if (json)
			snprintf(failure, sizeof(failure), "%s", ps->last_failure);
		else
			last_failure_str(ps, now, failure, sizeof(failure));
		snprintf(rttvar, sizeof(rttvar), "%.1f", ps->rttvar_us / 1000.0);
		u64_str(ps->last_failure[0] && now > ps->last_failure_at_ms
				? (now - ps->last_failure_at_ms) / 1000
				: 0,
			age, sizeof(age));
		u64_str(tls->connections, conns, sizeof(conns));
		u64_str(tls->handshakes, hs, sizeof(hs));
		u64_str(tls->resumptions, res, sizeof(res));
		u64_str(tls->queries, tq, sizeof(tq));
		snprintf(per, sizeof(per), "%.1f", ratio(tls->queries, tls->handshakes));
		const char *cells[] = { name, policy_state_names[ps->state],
					json || ps->measured ? rtt : "-", rto, qs, an, to, fl,
					failure, info->used_by, rttvar, age,
					route_tls_names[info->server.tls],
					transport_of(&info->server, ps), tls->version,
					tls->version[0] ? tls->name : "",
					tls->version[0] && tls->verified ? "true" : "false", conns, hs,
					res, tq, per };
		enum report_tone tones[22] = { 0 };
		tones[1] = ps->state == POLICY_UP ? REPORT_TONE_GOOD : REPORT_TONE_BAD;
		report_table_row(r, cells, tones);
	}
	report_table_end(r);
	if (!json && n)
		report_tls_upstreams(r, routing_table(d->routing), st, n);
	free(st);
	if (n == 0)
		report_note(r, REPORT_TONE_BAD, "  no upstream servers: give one with -u ADDR, "
			    "or set an interface's with stubctl dns IFACE SERVER");
}

/* cache-file: where, the last save, what came back at start. */
static void report_cache_file(struct report *r, const struct daemon *d)
{
	struct cachesave_status st;
	if (!d->cachesave)
		return;
	cachesave_status(d->cachesave, &st);
	report_str(r, "file", "File", st.enabled ? st.path : "none (cache-file)", REPORT_TONE_NONE);
	if (!st.enabled)
		return;
	char when[96] = "not yet";
	if (st.last_saved) {
		char age[48];
		time_t now = time(NULL);
		format_duration(now > st.last_saved ? (uint64_t)(now - st.last_saved) : 0, age,
				sizeof(age));
		snprintf(when, sizeof(when), "%s ago%s", age, st.saving ? " (saving now)" : "");
	} else if (st.saving) {
		snprintf(when, sizeof(when), "saving now");
	}
	report_str(r, "last_saved", "Last saved", when, REPORT_TONE_NONE);
	report_u64(r, "last_saved_at", NULL, (uint64_t)st.last_saved);
	report_u64(r, "saved_answers", "Answers saved", st.last_saved_answers);
	report_u64(r, "loaded_at_start", "Loaded at start", st.loaded);
	if (st.last_error[0])
		report_str(r, "file_error", "File problem", st.last_error, REPORT_TONE_BAD);
}

static void report_cache_summary(struct report *r, const struct daemon *d)
{
	report_begin(r, "cache", "Cache");
	struct cache_stats snap;
	cache_get_stats(d->cache, &snap);
	const struct cache_stats *cs = &snap;
	report_u64(r, "entries", "Entries", cs->entries);
	report_u64(r, "capacity", "Capacity", d->cfg.cache_size);
	report_u64(r, "memory_bytes", "Memory (bytes)", cs->bytes);
	report_u64(r, "memory_cap_bytes", "Memory cap (bytes)", d->cfg.cache_memory);
	report_u64(r, "hits", "Hits", cs->hits);
	report_u64(r, "misses", "Misses", cs->misses);
	report_double(r, "hit_ratio", "Hit ratio", ratio(cs->hits, cs->hits + cs->misses), 3);
	report_cache_file(r, d);
	report_end(r);
}

/* "0, 1 (each answers the UDP queries that arrive on its CPU)"; false
 * when the workers are not pinned. */
static bool describe_worker_cpus(const struct daemon *d, char *buf, size_t size)
{
	size_t used = 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < d->n_workers && d->workers[i].cpu >= 0; i++) {
		int n = snprintf(buf + used, size - used, "%s%d", i ? ", " : "", d->workers[i].cpu);
		if (n < 0 || (size_t)n >= size - used)
			return false;
		used += (size_t)n;
	}
	if (used == 0)
		return false;
	if (d->cpu_steered)
		snprintf(buf + used, size - used, " (each answers the UDP queries that arrive on its CPU)");
	return true;
}

static void cmd_status(struct control_request *req, int argc, char **argv)
{
	struct daemon *d = control_request_daemon(req);
	struct report *r = report_new(control_request_format(req));
	struct worker_stats st;
	char buf[512];

	daemon_gather_stats(d, &st);
	report_begin(r, "daemon", "stubd");
	report_str(r, "version", "Version", STUBD_VERSION, REPORT_TONE_NONE);
	uint64_t up_s = (uint64_t)(time(NULL) - d->started);
	format_duration(up_s, buf, sizeof(buf));
	report_str(r, "uptime", "Uptime", buf, REPORT_TONE_NONE);
	report_u64(r, "uptime_s", NULL, up_s);
	report_u64(r, "pid", "PID", (uint64_t)getpid());
	listener_set_describe(daemon_main_worker(d)->listeners, buf, sizeof(buf));
	report_str(r, "listening", "Listening", buf, REPORT_TONE_NONE);
	report_u64(r, "workers", "Workers", d->n_workers);
	if (describe_worker_cpus(d, buf, sizeof(buf)))
		report_str(r, "worker_cpus", "Worker CPUs", buf, REPORT_TONE_NONE);
	report_double(r, "queries_per_second", "Queries/s (last minute)", daemon_qps(d), 2);
	/* Whether NetworkManager and resolvectl reach us: they talk to
	 * whoever owns org.freedesktop.resolve1. */
	report_str(r, "dbus", "D-Bus", bus_describe(d->bus),
		   bus_owns_name(d->bus) ? REPORT_TONE_GOOD
		   : d->bus		 ? REPORT_TONE_BAD
					 : REPORT_TONE_DIM);
	report_bool(r, "dbus_name_owner", NULL, bus_owns_name(d->bus));
	report_end(r);
	report_upstreams(r, d, control_request_format(req) == REPORT_JSON);
	if (d->routing)
		linkctl_report_status(d->routing, r);
	report_cache_summary(r, d);
	control_reply(req, CONTROL_EXIT_OK, r);
}

/* ---- statistics ------------------------------------------------------------ */

static void cmd_statistics(struct control_request *req, int argc, char **argv)
{
	struct daemon *d = control_request_daemon(req);
	struct worker_stats st;
	daemon_gather_stats(d, &st);
	const struct listener_stats *ls = &st.listener;
	const struct pipeline_stats *ps = &st.pipeline;
	const struct upstream_stats *us = &st.upstream;
	struct cache_stats snap;
	cache_get_stats(d->cache, &snap);
	const struct cache_stats *cs = &snap;
	struct report *r = report_new(control_request_format(req));

	report_begin(r, "transport", "Queries by transport");
	report_u64(r, "udp", "UDP", ls->udp_queries);
	report_u64(r, "tcp", "TCP", ls->tcp_queries);
	report_u64(r, "dropped", "Dropped (malformed)", ls->dropped);
	report_u64(r, "rejected", "Rejected (FORMERR etc.)", ls->rejected);
	report_u64(r, "refused", "Refused (client not allowed)", ls->refused);
	report_u64(r, "truncated", "Truncated UDP replies", ls->truncated);
	report_u64(r, "tcp_connections", "TCP connections", ls->tcp_connections);
	report_u64(r, "tcp_refused", "TCP connections refused", ls->tcp_refused);
	report_u64(r, "tcp_idle_closed", "TCP idle closed", ls->tcp_idle_closed);
	report_u64(r, "send_errors", "Send errors", ls->send_errors);
	report_end(r);

	if (st.n_workers > 1) {
		report_begin(r, "workers", "Queries by worker");
		for (unsigned i = 0; i < st.n_workers; i++) {
			char key[32], title[32];
			snprintf(key, sizeof(key), "%u", i);
			snprintf(title, sizeof(title), "Worker %u", i);
			report_u64(r, key, title, st.queries[i]);
		}
		report_end(r);
	}

	report_begin(r, "source", "Answers by source");
	for (int i = 0; i < PIPELINE_SOURCE_COUNT_; i++)
		report_u64(r, pipeline_source_names[i], pipeline_source_names[i], ps->answers[i]);
	report_u64(r, "stale", "stale (RFC 8767)", ps->stale);
	report_u64(r, "coalesced", "coalesced", ps->coalesced);
	report_u64(r, "pending", "waiting now", ps->pending);
	report_u64(r, "inflight_refused", "over max-inflight", ps->inflight_refused);
	report_u64(r, "no_servers", "no server for the name", ps->no_servers);
	report_end(r);

	report_begin(r, "rcode", "Answers by rcode");
	for (unsigned i = 0; i < WIRE_RCODE_COUNT_; i++)
		if (ps->rcodes[i] || i <= WIRE_RCODE_REFUSED)
			report_u64(r, wire_rcode_name(i), wire_rcode_name(i), ps->rcodes[i]);
	report_end(r);

	report_begin(r, "latency", "Latency");
	for (unsigned i = 0; i < PIPELINE_LATENCY_BUCKETS; i++) {
		char key[32], title[32];
		if (i < PIPELINE_LATENCY_BUCKETS - 1) {
			snprintf(key, sizeof(key), "under_%ums", pipeline_latency_bounds_ms[i]);
			snprintf(title, sizeof(title), "< %u ms", pipeline_latency_bounds_ms[i]);
		} else {
			snprintf(key, sizeof(key), "over_%ums", pipeline_latency_bounds_ms[i - 1]);
			snprintf(title, sizeof(title), ">= %u ms", pipeline_latency_bounds_ms[i - 1]);
		}
		report_u64(r, key, title, ps->latency[i]);
	}
	report_end(r);

	report_begin(r, "upstream", "Upstream");
	report_u64(r, "mismatched", "Replies dropped (late, wrong ID or question)", us->mismatched);
	report_u64(r, "malformed", "Replies dropped (malformed)", us->malformed);
	report_u64(r, "failed", "Questions no server answered", us->failed);
	report_u64(r, "tcp_fallbacks", "Asked again over TCP (truncated)", us->tcp_fallbacks);
	report_end(r);
	report_upstreams(r, d, control_request_format(req) == REPORT_JSON);

	report_begin(r, "cache", "Cache");
	report_u64(r, "entries", "Entries", cs->entries);
	report_u64(r, "bytes", "Bytes", cs->bytes);
	report_u64(r, "hits", "Hits", cs->hits);
	report_u64(r, "misses", "Misses", cs->misses);
	report_u64(r, "inserts", "Inserts", cs->inserts);
	report_u64(r, "evictions", "Evictions", cs->evictions);
	report_u64(r, "expirations", "Expirations", cs->expirations);
	report_u64(r, "stale_served", "Stale served", cs->stale_served);
	report_u64(r, "prefetches", "Prefetches", cs->prefetches);
	report_end(r);
	control_reply(req, CONTROL_EXIT_OK, r);
}

static void cmd_reset_statistics(struct control_request *req, int argc, char **argv)
{
	daemon_reset_stats(control_request_daemon(req));
	struct report *r = report_new(control_request_format(req));
	report_bool(r, "reset", NULL, true);
	report_note(r, REPORT_TONE_NONE, "Statistics reset.");
	control_reply(req, CONTROL_EXIT_OK, r);
}

/* A reload in progress: the hosts file is read on a thread, and stubctl
 * hears "reloaded" once its names are in. */
struct ctl_reload {
	struct control_request *req;
	struct daemon_waiter waiter;
};

static void reply_reloaded(struct control_request *req)
{
	struct report *r = report_new(control_request_format(req));
	report_bool(r, "reloaded", NULL, true);
	report_note(r, REPORT_TONE_NONE, "Configuration and hosts file reloaded.");
	control_reply(req, CONTROL_EXIT_OK, r);
}

static void on_hosts_in(void *arg)
{
	struct ctl_reload *rl = arg;
	reply_reloaded(rl->req);
}

static void drop_reload(struct control_request *req, void *state)
{
	struct ctl_reload *rl = state;
	daemon_unwait_hosts(control_request_daemon(req), &rl->waiter);
	free(rl);
}

static void cmd_reload(struct control_request *req, int argc, char **argv)
{
	char why[512];
	struct daemon *d = control_request_daemon(req);
	if (daemon_reload(d, why, sizeof(why)) < 0) {
		control_reply_error(req, CONTROL_EXIT_FAILED,
			      "reload failed, the running configuration stays: %s", why);
		return;
	}
	struct ctl_reload *rl = daemon_hosts_loading(d) ? calloc(1, sizeof(*rl)) : NULL;
	if (!rl)
		return reply_reloaded(req);
	rl->req = req;
	rl->waiter.fn = on_hosts_in;
	rl->waiter.arg = rl;
	control_request_keep(req, rl, drop_reload);
	daemon_wait_hosts(d, &rl->waiter);
}

/* ---- flush-cache and dump-cache ------------------------------------------ */

/* Text to wire form through ldns: the control path is cold. */
static int name_to_wire(const char *text, uint8_t *out, size_t *len)
{
	ldns_rdf *rdf = NULL;
	if (ldns_str2rdf_dname(&rdf, text) != LDNS_STATUS_OK)
		return -EINVAL;
	*len = ldns_rdf_size(rdf);
	memcpy(out, ldns_rdf_data(rdf), *len);
	ldns_rdf_deep_free(rdf);
	return 0;
}

static void cmd_flush_cache(struct control_request *req, int argc, char **argv)
{
	struct cache *cache = control_request_daemon(req)->cache;
	const char *name = NULL;
	bool zone = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--zone") == 0)
			zone = true;
		else if (!name && argv[i][0] != '-')
			name = argv[i];
		else
			return control_reply_error(req, CONTROL_EXIT_USAGE,
					     "flush-cache: unexpected '%s'; usage: flush-cache [NAME] [--zone]",
					     argv[i]);
	}
	if (zone && !name)
		return control_reply_error(req, CONTROL_EXIT_USAGE,
				     "flush-cache --zone needs a NAME, e.g. flush-cache example.com --zone");
	size_t flushed;
	if (name) {
		uint8_t wire[LDNS_MAX_DOMAINLEN + 1];
		size_t len;
		if (name_to_wire(name, wire, &len) < 0)
			return control_reply_error(req, CONTROL_EXIT_USAGE,
					     "flush-cache: '%s' is not a domain name", name);
		flushed = cache_flush_name(cache, wire, len, zone);
	} else {
		flushed = cache_flush_all(cache);
		cachesave_flushed(control_request_daemon(req)->cachesave);
	}
	log_info("control: flushed %zu cache entries%s%s%s", flushed, name ? " for " : "",
		 name ? name : "", zone ? " and below" : "");
	struct report *r = report_new(control_request_format(req));
	report_u64(r, "flushed", NULL, flushed);
	report_note(r, REPORT_TONE_NONE, "Flushed %zu cache %s.", flushed,
		    flushed == 1 ? "entry" : "entries");
	control_reply(req, CONTROL_EXIT_OK, r);
}

static void dump_row(void *arg, const uint8_t *name, size_t name_len, uint16_t qtype,
		     uint32_t ttl_left, size_t bytes, bool stale)
{
	struct report *r = arg;
	char owner[WIRE_NAME_MAX * 4 + 2], type[32], ttl[24], size[24];
	wire_name_str(name, name_len, owner, sizeof(owner));
	char *type_name = ldns_rr_type2str((ldns_rr_type)qtype);
	snprintf(type, sizeof(type), "%s", type_name ? type_name : "?");
	free(type_name);
	u64_str(ttl_left, ttl, sizeof(ttl));
	u64_str(bytes, size, sizeof(size));
	const char *cells[] = { owner, type, ttl, size, stale ? "yes" : "no" };
	enum report_tone tones[5] = { 0, 0, 0, 0, stale ? REPORT_TONE_DIM : REPORT_TONE_NONE };
	report_table_row(r, cells, tones);
}

/* dump-cache: every entry of a cache that may hold a million is listed on
 * a thread of its own (offload.h), not on worker 0's DNS loop; the cache
 * copies each shard under its lock, so lookups do not wait either. */
struct ctl_dump {
	struct control_request *req;
	struct cache *cache;
	struct report *r;
	struct offload *job;
};

static void dump_work(void *arg)
{
	static const char *const keys[] = { "name", "type", "ttl", "bytes", "stale" };
	static const char *const titles[] = { "NAME", "TYPE", "TTL", "BYTES", "STALE" };
	struct ctl_dump *dump = arg;
	report_table_begin(dump->r, "entries", NULL, 5, keys, titles, "ssnns");
	cache_walk(dump->cache, clock_mono_ms(), dump_row, dump->r);
	report_table_end(dump->r);
	struct cache_stats cs;
	cache_get_stats(dump->cache, &cs);
	report_note(dump->r, REPORT_TONE_DIM, "-- %llu entries, %llu bytes",
		    (unsigned long long)cs.entries, (unsigned long long)cs.bytes);
}

static void dump_done(void *arg)
{
	struct ctl_dump *dump = arg;
	struct report *r = dump->r;
	dump->r = NULL; /* control_reply frees it */
	control_reply(dump->req, CONTROL_EXIT_OK, r);
}

/* The request ended: a listing under way finishes first (offload_free
 * waits for it), then nothing of it is left. */
static void drop_dump(struct control_request *req, void *state)
{
	(void)req;
	struct ctl_dump *dump = state;
	offload_free(dump->job);
	report_free(dump->r);
	free(dump);
}

static void cmd_dump_cache(struct control_request *req, int argc, char **argv)
{
	(void)argc;
	(void)argv;
	struct daemon *d = control_request_daemon(req);
	struct ctl_dump *dump = calloc(1, sizeof(*dump));
	if (!dump)
		return control_reply_error(req, CONTROL_EXIT_FAILED, "out of memory");
	dump->req = req;
	dump->cache = d->cache;
	dump->r = report_new(control_request_format(req));
	dump->job = offload_new(d->base);
	control_request_keep(req, dump, drop_dump);
	if (!dump->r || !dump->job)
		return control_reply_error(req, CONTROL_EXIT_FAILED, "out of memory");
	if (offload_start(dump->job, dump_work, dump, dump_done, dump) < 0) {
		/* No thread to be had: list it here rather than not at all. */
		dump_work(dump);
		dump_done(dump);
	}
}

/* ---- query ------------------------------------------------------------------ */

static const char *origin_text(const struct ask_answer *a, char *buf, size_t size)
{
	switch (a->origin.source) {
	case PIPELINE_SOURCE_HOSTS:
		return "hosts file";
	case PIPELINE_SOURCE_CACHE:
		if (a->origin.stale)
			snprintf(buf, size, "cache (stale: every upstream failed)");
		else
			snprintf(buf, size, "cache, %u s old", a->origin.age_s);
		return buf;
	case PIPELINE_SOURCE_UPSTREAM:
		snprintf(buf, size, "upstream %s", a->server[0] ? a->server : "?");
		return buf;
	case PIPELINE_SOURCE_LOCAL:
	default:
		return "stubd";
	}
}

static void rdata_text(const ldns_rr *rr, char *buf, size_t size)
{
	size_t pos = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < ldns_rr_rd_count(rr) && pos < size; i++) {
		char *s = ldns_rdf2str(ldns_rr_rdf(rr, i));
		int n = snprintf(buf + pos, size - pos, "%s%s", i ? " " : "", s ? s : "?");
		free(s);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
}

/* Adds the answer section's records to the table. */
static void report_records(struct report *r, const ldns_pkt *pkt)
{
	const ldns_rr_list *answer = ldns_pkt_answer(pkt);
	size_t n = ldns_rr_list_rr_count(answer);
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(answer, i);
		char *owner = ldns_rdf2str(ldns_rr_owner(rr));
		char *type = ldns_rr_type2str(ldns_rr_get_type(rr));
		char ttl[24], data[1024];
		u64_str(ldns_rr_ttl(rr), ttl, sizeof(ttl));
		rdata_text(rr, data, sizeof(data));
		const char *cells[] = { owner ? owner : "?", ttl, type ? type : "?", data };
		report_table_row(r, cells, NULL);
		free(owner);
		free(type);
	}
}

/* Renders every type's answer once the last one is in, resolvectl-style:
 * the records, then where each came from and how long it took. */
static void finish_query(struct control_request *req)
{
	static const char *const rkeys[] = { "name", "ttl", "type", "data" };
	static const char *const rtitles[] = { "NAME", "TTL", "TYPE", "DATA" };
	struct ctl_query *cq = control_request_state(req);
	struct report *r = report_new(control_request_format(req));
	ldns_pkt *pkts[QUERY_MAX_TYPES] = { 0 };
	size_t records = 0;

	report_str(r, "name", NULL, cq->name, REPORT_TONE_NONE);
	for (size_t i = 0; i < cq->ask.n; i++) {
		const struct ask_answer *a = &cq->ask.answers[i];
		if (a->reply && ldns_wire2pkt(&pkts[i], a->reply, a->len) == LDNS_STATUS_OK)
			records += ldns_rr_list_rr_count(ldns_pkt_answer(pkts[i]));
	}
	/* An empty table says nothing to a person; scripts get [] anyway. */
	if (records > 0 || control_request_format(req) == REPORT_JSON) {
		report_table_begin(r, "records", NULL, 4, rkeys, rtitles, "snss");
		for (size_t i = 0; i < cq->ask.n; i++)
			if (pkts[i])
				report_records(r, pkts[i]);
		report_table_end(r);
	}

	static const char *const skeys[] = { "type", "rcode", "source", "server", "age_s", "stale" };
	static const char *const stitles[] = { "TYPE", "RCODE", "SOURCE", "SERVER", "AGE", "STALE" };
	if (control_request_format(req) == REPORT_JSON)
		report_table_begin(r, "answers", NULL, 6, skeys, stitles, "ssssnb");
	unsigned first_rcode = WIRE_RCODE_SERVFAIL;
	for (size_t i = 0; i < cq->ask.n; i++) {
		const struct ask_answer *a = &cq->ask.answers[i];
		char *type = ldns_rr_type2str((ldns_rr_type)a->qtype);
		unsigned rcode = pkts[i] ? ldns_pkt_get_rcode(pkts[i]) : WIRE_RCODE_SERVFAIL;
		size_t an = pkts[i] ? ldns_rr_list_rr_count(ldns_pkt_answer(pkts[i])) : 0;
		char from[128], age[24];
		if (i == 0)
			first_rcode = rcode;
		u64_str(a->origin.age_s, age, sizeof(age));
		if (control_request_format(req) == REPORT_JSON) {
			const char *cells[] = { type ? type : "?", wire_rcode_name(rcode),
						pipeline_source_names[a->origin.source],
						a->server, age, a->origin.stale ? "true" : "false" };
			report_table_row(r, cells, NULL);
		} else {
			const char *what = rcode != WIRE_RCODE_NOERROR ? wire_rcode_name(rcode)
					   : an == 0 ? "no records (NODATA)" : NULL;
			report_note(r, what ? REPORT_TONE_BAD : REPORT_TONE_DIM, "-- %s: %s%sfrom %s",
				    type ? type : "?", what ? what : "", what ? ", " : "",
				    origin_text(a, from, sizeof(from)));
		}
		free(type);
		ldns_pkt_free(pkts[i]);
	}
	if (control_request_format(req) == REPORT_JSON)
		report_table_end(r);
	uint64_t took = clock_mono_ms() - cq->started_ms;
	report_str(r, "route", NULL, cq->ask.route, REPORT_TONE_NONE);
	report_note(r, REPORT_TONE_DIM, "-- route: %s", cq->ask.route);
	report_u64(r, "time_ms", NULL, took);
	report_note(r, REPORT_TONE_DIM, "-- %s in %llu ms", cq->name, (unsigned long long)took);

	int status = CONTROL_EXIT_OK;
	if (records == 0) {
		status = CONTROL_EXIT_FAILED;
		report_note(r, REPORT_TONE_BAD, "%s: %s", cq->name,
			    first_rcode == WIRE_RCODE_NXDOMAIN   ? "NXDOMAIN: the name does not exist"
			    : first_rcode == WIRE_RCODE_SERVFAIL ? "SERVFAIL: every upstream failed or timed out"
			    : first_rcode != WIRE_RCODE_NOERROR  ? wire_rcode_name(first_rcode)
								 : "no records of the asked types (NODATA)");
	}
	control_reply(req, status, r);
}

/* The last answer came in. */
static void on_asked(struct ask *a, void *arg)
{
	(void)a;
	struct ctl_query *cq = arg;
	finish_query(cq->req);
}

/* "192.0.2.1" or "2001:db8::1" become their reverse names, asked as PTR. */
static ldns_rdf *reverse_name(const char *text)
{
	ldns_rdf *addr = NULL, *rev = NULL;
	struct in6_addr a6;
	struct in_addr a4;
	if (inet_pton(AF_INET, text, &a4) == 1)
		addr = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_A, text);
	else if (inet_pton(AF_INET6, text, &a6) == 1)
		addr = ldns_rdf_new_frm_str(LDNS_RDF_TYPE_AAAA, text);
	if (!addr)
		return NULL;
	rev = ldns_rdf_address_reverse(addr);
	ldns_rdf_deep_free(addr);
	return rev;
}

static int parse_query_args(struct control_request *req, int argc, char **argv, ldns_rdf **name,
			    uint16_t *types, size_t *n_types, bool *skip_cache)
{
	const char *text = NULL;
	*n_types = 0;
	*skip_cache = false;
	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--no-cache") == 0) {
			*skip_cache = true;
		} else if (strcmp(argv[i], "-t") == 0 || strcmp(argv[i], "--type") == 0) {
			if (++i >= argc || *n_types >= QUERY_MAX_TYPES) {
				control_reply_error(req, CONTROL_EXIT_USAGE,
					      "query: -t needs a type (A, AAAA, MX, ...), at most %d",
					      QUERY_MAX_TYPES);
				return -1;
			}
			ldns_rr_type t = ldns_get_rr_type_by_name(argv[i]);
			if (t == 0) {
				control_reply_error(req, CONTROL_EXIT_USAGE,
					      "query: '%s' is not a record type (A, AAAA, MX, TXT, ...)",
					      argv[i]);
				return -1;
			}
			types[(*n_types)++] = (uint16_t)t;
		} else if (!text) {
			text = argv[i];
		} else {
			control_reply_error(req, CONTROL_EXIT_USAGE,
				      "query: unexpected '%s'; usage: query NAME [-t TYPE]... [--no-cache]",
				      argv[i]);
			return -1;
		}
	}
	if (!text) {
		control_reply_error(req, CONTROL_EXIT_USAGE, "query needs a NAME, e.g. query example.com");
		return -1;
	}
	*name = reverse_name(text);
	if (*name) {
		if (*n_types == 0)
			types[(*n_types)++] = LDNS_RR_TYPE_PTR;
	} else if (ldns_str2rdf_dname(name, text) != LDNS_STATUS_OK) {
		control_reply_error(req, CONTROL_EXIT_USAGE, "query: '%s' is not a domain name", text);
		return -1;
	}
	if (*n_types == 0) {
		types[(*n_types)++] = LDNS_RR_TYPE_A;
		types[(*n_types)++] = LDNS_RR_TYPE_AAAA;
	}
	return 0;
}

/* The request ended (answered, or the client went): no answer may come
 * for it any more. */
static void drop_query(struct control_request *req, void *state)
{
	(void)req;
	struct ctl_query *cq = state;
	ask_clear(&cq->ask);
	free(cq);
}

static void cmd_query(struct control_request *req, int argc, char **argv)
{
	ldns_rdf *name = NULL;
	uint16_t types[QUERY_MAX_TYPES];
	size_t n_types;
	bool skip_cache;

	if (parse_query_args(req, argc, argv, &name, types, &n_types, &skip_cache) < 0)
		return;
	struct ctl_query *cq = calloc(1, sizeof(*cq));
	if (!cq) {
		ldns_rdf_deep_free(name);
		return control_reply_error(req, CONTROL_EXIT_FAILED, "out of memory");
	}
	control_request_keep(req, cq, drop_query);
	cq->req = req;
	char *text = ldns_rdf2str(name);
	snprintf(cq->name, sizeof(cq->name), "%s", text ? text : "?");
	free(text);
	cq->started_ms = clock_mono_ms();
	int rc = ask_start(&cq->ask, daemon_main_worker(control_request_daemon(req))->pipeline,
			   ldns_rdf_data(name), ldns_rdf_size(name), types, n_types, LDNS_RR_CLASS_IN,
			   skip_cache, on_asked, cq);
	ldns_rdf_deep_free(name);
	if (rc < 0)
		return control_reply_error(req, CONTROL_EXIT_FAILED, "out of memory");
	if (rc == 1)
		finish_query(req);
}

static void cmd_link(struct control_request *req, enum control_verb verb, int argc, char **argv)
{
	char err[512] = "";
	struct daemon *d = control_request_daemon(req);
	if (!d->routing)
		return control_reply_error(req, CONTROL_EXIT_FAILED, "routing is not set up");
	struct report *r = report_new(control_request_format(req));
	if (!r)
		return control_reply_error(req, CONTROL_EXIT_FAILED, "out of memory");
	const char *name = control_verbs[verb].name;
	int status = linkctl_run(d->routing, verb, argc, argv, r, err, sizeof(err));
	if (status != CONTROL_EXIT_OK) {
		report_free(r);
		return control_reply_error(req, status, "%s: %s", name, err);
	}
	control_reply(req, status, r);
}


void control_cmd_run(struct control_request *req, enum control_verb verb, int argc, char **argv)
{
	switch (verb) {
	case CONTROL_VERB_STATUS:
		return cmd_status(req, argc, argv);
	case CONTROL_VERB_QUERY:
		return cmd_query(req, argc, argv);
	case CONTROL_VERB_FLUSH_CACHE:
		return cmd_flush_cache(req, argc, argv);
	case CONTROL_VERB_STATISTICS:
		return cmd_statistics(req, argc, argv);
	case CONTROL_VERB_RESET_STATISTICS:
		return cmd_reset_statistics(req, argc, argv);
	case CONTROL_VERB_RELOAD:
		return cmd_reload(req, argc, argv);
	case CONTROL_VERB_DUMP_CACHE:
		return cmd_dump_cache(req, argc, argv);
	case CONTROL_VERB_DNS:
	case CONTROL_VERB_DOMAIN:
	case CONTROL_VERB_DEFAULT_ROUTE:
	case CONTROL_VERB_REVERT:
	case CONTROL_VERB_RESOLVCONF_ADD:
	case CONTROL_VERB_RESOLVCONF_DEL:
		return cmd_link(req, verb, argc, argv);
	case CONTROL_VERB_COUNT_:
		break;
	}
	control_reply_error(req, CONTROL_EXIT_USAGE, "unknown command; see stubctl --help");
}
