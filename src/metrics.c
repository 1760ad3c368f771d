/* metrics.c - the Prometheus text exposition of stubd's counters; see metrics.h.
 *
 * The format: https://prometheus.io/docs/instrumenting/exposition_formats/
 * (text format 0.0.4). The names follow Prometheus' naming practice: the
 * stubd_ prefix, base units in the name (_seconds, _bytes), _total on
 * every counter, and a label where the sum or the average over it means
 * something (queries by transport, answers by source). No name is both a
 * counter's stem and another family's name (stubd_tcp_connections_total
 * and a gauge stubd_tcp_connections would collide once _total is cut, as
 * OpenMetrics does).
 */
#include "stubd/metrics.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/pipeline.h"
#include "stubd/wire.h"

enum metrics_type {
	METRICS_COUNTER,
	METRICS_GAUGE,
	METRICS_HISTOGRAM,
	METRICS_TYPE_COUNT_,
};
static const char *const metrics_type_names[METRICS_TYPE_COUNT_] = {
	[METRICS_COUNTER] = "counter",
	[METRICS_GAUGE] = "gauge",
	[METRICS_HISTOGRAM] = "histogram",
};

struct label {
	const char *key;
	const char *value;
};

/* "-18446744073709551615.000001" and more fit. */
#define NUMBER_MAX 48

/* ---- the format's pieces ------------------------------------------------ */

/* A family's two comment lines. help is one of this file's literals: no
 * backslash or newline, which HELP would have to escape. */
static void family(FILE *f, enum metrics_type type, const char *name, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, metrics_type_names[type]);
}

/* A label value as the format quotes it: backslash, double quote and
 * line feed escaped, every other byte as it is (UTF-8 passes). */
static void label_value(FILE *f, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			fputs("\\\\", f);
		else if (*v == '"')
			fputs("\\\"", f);
		else if (*v == '\n')
			fputs("\\n", f);
		else
			fputc(*v, f);
	}
}

/* One sample line: name[suffix]{labels} value. */
static void sample(FILE *f, const char *name, const char *suffix, const struct label *labels,
		   size_t n, const char *value)
{
	fprintf(f, "%s%s", name, suffix);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "%s%s=\"", i ? "," : "{", labels[i].key);
		label_value(f, labels[i].value);
		fputc('"', f);
	}
	fprintf(f, "%s %s\n", n ? "}" : "", value);
}

static const char *u64_text(uint64_t v, char *buf)
{
	snprintf(buf, NUMBER_MAX, "%llu", (unsigned long long)v);
	return buf;
}

/* v / 10^digits as the shortest exact decimal: (1500, 3) "1.5", (5000, 3)
 * "5", (1, 3) "0.001"; so a bucket bound reads le="0.05" as Go's client
 * writes it, and milliseconds become seconds without rounding. */
static const char *decimal_text(uint64_t v, unsigned digits, char *buf)
{
	uint64_t scale = 1;
	for (unsigned i = 0; i < digits; i++)
		scale *= 10;
	uint64_t frac = v % scale;
	if (frac == 0)
		return u64_text(v / scale, buf);
	int n = snprintf(buf, NUMBER_MAX, "%llu.%0*llu", (unsigned long long)(v / scale),
			 (int)digits, (unsigned long long)frac);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
	return buf;
}

static void sample_u64(FILE *f, const char *name, const struct label *labels, size_t n,
		       uint64_t v)
{
	char num[NUMBER_MAX];
	sample(f, name, "", labels, n, u64_text(v, num));
}

/* A family of one sample without labels. */
static void single(FILE *f, enum metrics_type type, const char *name, const char *help,
		   uint64_t v)
{
	family(f, type, name, help);
	sample_u64(f, name, NULL, 0, v);
}

/* ---- the daemon, its listeners and pipelines ------------------------------ */

static void render_daemon(FILE *f, const struct metrics_input *in)
{
	family(f, METRICS_GAUGE, "stubd_build_info",
	       "The version of stubd that runs, as a label; the value is always 1.");
	sample_u64(f, "stubd_build_info", &(struct label){ "version", in->version }, 1, 1);
	single(f, METRICS_GAUGE, "stubd_start_time_seconds",
	       "When stubd started, in seconds since the Unix epoch.",
	       in->started > 0 ? (uint64_t)in->started : 0);
}

static void render_listeners(FILE *f, const struct worker_stats *ws)
{
	const struct listener_stats *ls = &ws->listener;
	char worker[NUMBER_MAX];

	family(f, METRICS_COUNTER, "stubd_queries_total", "DNS queries received, by transport.");
	sample_u64(f, "stubd_queries_total", &(struct label){ "transport", "udp" }, 1,
		   ls->udp_queries);
	sample_u64(f, "stubd_queries_total", &(struct label){ "transport", "tcp" }, 1,
		   ls->tcp_queries);
	family(f, METRICS_COUNTER, "stubd_worker_queries_total",
	       "DNS queries received by each worker, UDP and TCP: how the load is spread.");
	for (unsigned i = 0; i < ws->n_workers && i < CONFIG_MAX_WORKERS; i++)
		sample_u64(f, "stubd_worker_queries_total",
			   &(struct label){ "worker", u64_text(i, worker) }, 1, ws->queries[i]);
	single(f, METRICS_COUNTER, "stubd_queries_dropped_total",
	       "Packets dropped without an answer: malformed, or not worth one.", ls->dropped);
	single(f, METRICS_COUNTER, "stubd_queries_rejected_total",
	       "Queries answered at once with FORMERR, NOTIMP, BADVERS or REFUSED, "
	       "as the query itself asked for.",
	       ls->rejected);
	single(f, METRICS_COUNTER, "stubd_queries_not_allowed_total",
	       "Queries refused because the client is outside loopback and allow.", ls->refused);
	single(f, METRICS_COUNTER, "stubd_truncated_replies_total",
	       "UDP replies sent truncated (TC=1), for the client to ask again over TCP.",
	       ls->truncated);
	single(f, METRICS_COUNTER, "stubd_send_errors_total", "Replies that could not be sent.",
	       ls->send_errors);
	single(f, METRICS_COUNTER, "stubd_tcp_connections_accepted_total",
	       "TCP connections accepted.", ls->tcp_connections);
	single(f, METRICS_COUNTER, "stubd_tcp_connections_refused_total",
	       "TCP connections closed at once because tcp-max-clients were open.",
	       ls->tcp_refused);
	single(f, METRICS_COUNTER, "stubd_tcp_connections_idle_closed_total",
	       "TCP connections closed for being idle.", ls->tcp_idle_closed);
	single(f, METRICS_GAUGE, "stubd_tcp_connections_open", "TCP connections open now.",
	       ws->tcp_clients);
}

/* The latency buckets as a Prometheus histogram. The pipeline counts an
 * answer in the first bucket whose bound it is under, by a millisecond
 * clock, so each bucket's count is cumulated into le="bound"; hosts and
 * cache answers are in the first bucket and add 0 to the sum (not timed). */
static void render_latency(FILE *f, const struct pipeline_stats *ps)
{
	static const char name[] = "stubd_query_duration_seconds";
	char le[NUMBER_MAX], num[NUMBER_MAX];
	uint64_t cumulative = 0;

	family(f, METRICS_HISTOGRAM, name,
	       "Time from a question to its answer. Answers from the hosts file and the cache "
	       "take well under a millisecond and count as 0; upstream answers are timed to "
	       "the millisecond.");
	for (unsigned i = 0; i < PIPELINE_LATENCY_BUCKETS - 1; i++) {
		cumulative += ps->latency[i];
		sample(f, name, "_bucket",
		       &(struct label){ "le", decimal_text(pipeline_latency_bounds_ms[i], 3, le) }, 1,
		       u64_text(cumulative, num));
	}
	cumulative += ps->latency[PIPELINE_LATENCY_BUCKETS - 1];
	sample(f, name, "_bucket", &(struct label){ "le", "+Inf" }, 1, u64_text(cumulative, num));
	sample(f, name, "_sum", NULL, 0, decimal_text(ps->latency_sum_ms, 3, num));
	sample(f, name, "_count", NULL, 0, u64_text(cumulative, num));
}

static void render_pipeline(FILE *f, const struct pipeline_stats *ps)
{
	family(f, METRICS_COUNTER, "stubd_answers_total",
	       "Answers sent, by where they came from (local: stubd's own, such as SERVFAIL "
	       "when no server answered).");
	for (int i = 0; i < PIPELINE_SOURCE_COUNT_; i++)
		sample_u64(f, "stubd_answers_total",
			   &(struct label){ "source", pipeline_source_names[i] }, 1, ps->answers[i]);
	/* The six rcodes of RFC 1035 always, so that a rate starts from 0;
	 * the rarer ones once they were sent. */
	family(f, METRICS_COUNTER, "stubd_answer_rcodes_total", "Answers sent, by response code.");
	for (unsigned i = 0; i < WIRE_RCODE_COUNT_; i++)
		if (ps->rcodes[i] || i <= WIRE_RCODE_REFUSED)
			sample_u64(f, "stubd_answer_rcodes_total",
				   &(struct label){ "rcode", wire_rcode_name(i) }, 1, ps->rcodes[i]);
	single(f, METRICS_COUNTER, "stubd_stale_answers_total",
	       "Expired answers served from the cache because the upstream servers failed or "
	       "were slow (RFC 8767).",
	       ps->stale);
	single(f, METRICS_COUNTER, "stubd_coalesced_queries_total",
	       "Questions that joined an upstream fetch already under way for the same question.",
	       ps->coalesced);
	single(f, METRICS_GAUGE, "stubd_waiting_queries",
	       "Questions waiting for an upstream answer now.", ps->pending);
	single(f, METRICS_COUNTER, "stubd_queries_over_max_inflight_total",
	       "Questions answered SERVFAIL at once because max-inflight upstream fetches "
	       "were open.",
	       ps->inflight_refused);
	single(f, METRICS_COUNTER, "stubd_queries_no_server_total",
	       "Questions answered SERVFAIL at once because no upstream server serves their "
	       "name.",
	       ps->no_servers);
	render_latency(f, ps);
}

static void render_upstream(FILE *f, const struct upstream_stats *us)
{
	family(f, METRICS_COUNTER, "stubd_upstream_replies_dropped_total",
	       "Replies from upstream servers dropped: mismatched (late, or for another ID or "
	       "question) or malformed.");
	sample_u64(f, "stubd_upstream_replies_dropped_total",
		   &(struct label){ "reason", "mismatched" }, 1, us->mismatched);
	sample_u64(f, "stubd_upstream_replies_dropped_total",
		   &(struct label){ "reason", "malformed" }, 1, us->malformed);
	single(f, METRICS_COUNTER, "stubd_upstream_unanswered_total",
	       "Questions that no upstream server answered.", us->failed);
	single(f, METRICS_COUNTER, "stubd_upstream_tcp_fallbacks_total",
	       "Questions asked again over TCP after a truncated UDP reply.", us->tcp_fallbacks);
}

/* ---- each upstream server ---------------------------------------------------- */

/* The per-server counters, read from struct policy_status. */
struct server_counter {
	const char *name;
	const char *help;
	size_t offset;  /* of a uint64_t in struct policy_status */
	bool tls_only;  /* a series for the DNS-over-TLS servers only */
};

static const struct server_counter server_counters[] = {
	{ "stubd_upstream_queries_total",
	  "Tries sent to the upstream server, probes and measurements included.",
	  offsetof(struct policy_status, counters.questions), false },
	{ "stubd_upstream_answers_total",
	  "Replies from the upstream server with an rcode it stands by (not REFUSED, NOTIMP or "
	  "FORMERR).",
	  offsetof(struct policy_status, counters.answers), false },
	{ "stubd_upstream_refusals_total",
	  "REFUSED, NOTIMP and FORMERR replies from the upstream server.",
	  offsetof(struct policy_status, counters.refused), false },
	{ "stubd_upstream_timeouts_total", "Tries the upstream server did not answer in time.",
	  offsetof(struct policy_status, counters.timeouts), false },
	{ "stubd_upstream_errors_total",
	  "Tries to the upstream server that failed: a network error, or a reply that did not "
	  "parse.",
	  offsetof(struct policy_status, counters.failures), false },
	{ "stubd_upstream_tls_connections_total",
	  "TLS connections opened, or tried, to the DNS-over-TLS server.",
	  offsetof(struct policy_status, tls.connections), true },
	{ "stubd_upstream_tls_handshakes_total",
	  "TLS handshakes completed with the DNS-over-TLS server.",
	  offsetof(struct policy_status, tls.handshakes), true },
	{ "stubd_upstream_tls_resumptions_total",
	  "TLS handshakes with the DNS-over-TLS server that resumed a session.",
	  offsetof(struct policy_status, tls.resumptions), true },
	{ "stubd_upstream_tls_queries_total", "Queries sent over TLS to the DNS-over-TLS server.",
	  offsetof(struct policy_status, tls.queries), true },
};

/* Whether servers[i]'s name is an earlier server's (metrics.h). */
static bool repeated(const struct metrics_input *in, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (strcmp(in->servers[j].name, in->servers[i].name) == 0)
			return true;
	return false;
}

/* Whether any server will have a sample in a family: one with none is
 * left out, HELP and TYPE included. */
static bool any_server(const struct metrics_input *in, bool tls_only, bool measured_only)
{
	for (size_t i = 0; i < in->n_servers; i++) {
		const struct metrics_server *s = &in->servers[i];
		if ((!tls_only || s->tls) && (!measured_only || s->status.measured))
			return true;
	}
	return false;
}

static void render_servers(FILE *f, const struct metrics_input *in)
{
	char num[NUMBER_MAX];

	for (size_t c = 0; c < sizeof(server_counters) / sizeof(server_counters[0]); c++) {
		const struct server_counter *sc = &server_counters[c];
		if (!any_server(in, sc->tls_only, false))
			continue;
		family(f, METRICS_COUNTER, sc->name, sc->help);
		for (size_t i = 0; i < in->n_servers; i++) {
			const struct metrics_server *s = &in->servers[i];
			uint64_t v;
			if ((sc->tls_only && !s->tls) || repeated(in, i))
				continue;
			memcpy(&v, (const char *)&s->status + sc->offset, sizeof(v));
			sample_u64(f, sc->name, &(struct label){ "server", s->name }, 1, v);
		}
	}

	/* Not measured yet: no sample, rather than an RTT of 0 that would
	 * drag an average down. */
	if (any_server(in, false, true)) {
		family(f, METRICS_GAUGE, "stubd_upstream_rtt_seconds",
		       "Smoothed round-trip time to the upstream server (RFC 6298 SRTT); none "
		       "until it answered once.");
		for (size_t i = 0; i < in->n_servers; i++) {
			const struct metrics_server *s = &in->servers[i];
			if (s->status.measured && !repeated(in, i))
				sample(f, "stubd_upstream_rtt_seconds", "",
				       &(struct label){ "server", s->name }, 1,
				       decimal_text(s->status.srtt_us, 6, num));
		}
	}
	if (!any_server(in, false, false))
		return;
	family(f, METRICS_GAUGE, "stubd_upstream_rto_seconds",
	       "How long a try waits on the upstream server before the next server is asked "
	       "(its retransmit timeout).");
	for (size_t i = 0; i < in->n_servers; i++)
		if (!repeated(in, i))
			sample(f, "stubd_upstream_rto_seconds", "",
			       &(struct label){ "server", in->servers[i].name }, 1,
			       decimal_text(in->servers[i].status.rto_ms, 3, num));
	/* One series per state, the one it is in at 1 (the kube-state-metrics
	 * way): max by (server) or a sum over servers both work. */
	family(f, METRICS_GAUGE, "stubd_upstream_state",
	       "1 for the state the upstream server is in (up, down, or probing: down with a "
	       "probe in flight), 0 for the others.");
	for (size_t i = 0; i < in->n_servers; i++) {
		const struct metrics_server *s = &in->servers[i];
		if (repeated(in, i))
			continue;
		for (unsigned st = 0; st < POLICY_STATE_COUNT_; st++) {
			struct label labels[] = { { "server", s->name },
						  { "state", policy_state_names[st] } };
			sample_u64(f, "stubd_upstream_state", labels, 2, (unsigned)s->status.state == st);
		}
	}
}

/* ---- the cache -------------------------------------------------------------- */

static void render_cache(FILE *f, const struct metrics_input *in)
{
	const struct cache_stats *cs = in->cache;

	single(f, METRICS_GAUGE, "stubd_cache_entries", "Answers in the cache now.", cs->entries);
	single(f, METRICS_GAUGE, "stubd_cache_max_entries",
	       "Answers the cache holds at most (cache-size).", in->cache_max_entries);
	single(f, METRICS_GAUGE, "stubd_cache_memory_bytes", "Memory the cached answers take now.",
	       cs->bytes);
	single(f, METRICS_GAUGE, "stubd_cache_memory_max_bytes",
	       "Memory the cached answers take at most (cache-memory).", in->cache_max_bytes);
	single(f, METRICS_COUNTER, "stubd_cache_hits_total", "Questions answered from the cache.",
	       cs->hits);
	single(f, METRICS_COUNTER, "stubd_cache_misses_total",
	       "Questions the cache had no fresh answer for.", cs->misses);
	single(f, METRICS_COUNTER, "stubd_cache_inserts_total", "Answers stored in the cache.",
	       cs->inserts);
	single(f, METRICS_COUNTER, "stubd_cache_evictions_total",
	       "Answers pushed out of the cache by cache-size or cache-memory.", cs->evictions);
	single(f, METRICS_COUNTER, "stubd_cache_expirations_total",
	       "Answers dropped from the cache because their time ran out.", cs->expirations);
	single(f, METRICS_COUNTER, "stubd_cache_prefetches_total",
	       "Answers fetched again before they expired, because they were asked for late "
	       "in their TTL.",
	       cs->prefetches);
}

char *metrics_render(const struct metrics_input *in, size_t *len)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	if (!f)
		return NULL;
	render_daemon(f, in);
	render_listeners(f, in->workers);
	render_pipeline(f, &in->workers->pipeline);
	render_upstream(f, &in->workers->upstream);
	render_servers(f, in);
	render_cache(f, in);
	/* A write that ran out of memory leaves the stream in error; the
	 * text would miss lines, so none is given. */
	bool failed = ferror(f) != 0;
	if (fclose(f) != 0 || failed) {
		free(buf);
		return NULL;
	}
	if (len)
		*len = size;
	return buf;
}
