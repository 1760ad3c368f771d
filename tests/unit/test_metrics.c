/* test_metrics.c - unit tests for the Prometheus exposition of metrics.h:
 * given counters, the exact sample lines they become (labels, units,
 * cumulative buckets), and the format's rules checked by a small reader
 * of the text format of our own, independent of metrics.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/metrics.h"

/* ---- the inputs ----------------------------------------------------------- */

struct fixture {
	struct worker_stats ws;
	struct cache_stats cs;
	struct metrics_server servers[4];
	struct metrics_input in;
};

/* Every counter a different number, so a value in the wrong place shows. */
static void fill(struct fixture *fx)
{
	memset(fx, 0, sizeof(*fx));
	fx->ws.listener = (struct listener_stats){ .udp_queries = 101, .tcp_queries = 102,
						   .dropped = 103, .rejected = 104, .refused = 105,
						   .truncated = 106, .tcp_connections = 107,
						   .tcp_refused = 108, .tcp_idle_closed = 109,
						   .send_errors = 110 };
	fx->ws.tcp_clients = 3;
	fx->ws.n_workers = 2;
	fx->ws.queries[0] = 150;
	fx->ws.queries[1] = 53;
	for (int i = 0; i < PIPELINE_SOURCE_COUNT_; i++)
		fx->ws.pipeline.answers[i] = 200 + (uint64_t)i;
	fx->ws.pipeline.rcodes[WIRE_RCODE_NOERROR] = 190;
	fx->ws.pipeline.rcodes[WIRE_RCODE_NXDOMAIN] = 12;
	fx->ws.pipeline.rcodes[WIRE_RCODE_SERVFAIL] = 4;
	fx->ws.pipeline.stale = 211;
	fx->ws.pipeline.coalesced = 212;
	fx->ws.pipeline.pending = 2;
	fx->ws.pipeline.inflight_refused = 213;
	fx->ws.pipeline.no_servers = 214;
	fx->ws.upstream = (struct upstream_stats){ .mismatched = 301, .malformed = 302,
						   .failed = 303, .tcp_fallbacks = 304 };
	fx->cs = (struct cache_stats){ .entries = 401, .bytes = 402, .hits = 403, .misses = 404,
				       .inserts = 405, .evictions = 406, .expirations = 407,
				       .stale_served = 408, .prefetches = 409 };

	struct metrics_server *up = &fx->servers[0];
	up->name = "192.0.2.1:53";
	up->status.state = POLICY_UP;
	up->status.measured = true;
	up->status.srtt_us = 1500;
	up->status.rto_ms = 250;
	up->status.counters = (struct policy_counters){ .questions = 501, .answers = 502,
							.refused = 503, .timeouts = 504,
							.failures = 505 };
	struct metrics_server *dot = &fx->servers[1];
	dot->name = "192.0.2.2:853#dns.example";
	dot->tls = true;
	dot->status.state = POLICY_PROBING;
	dot->status.measured = false;
	dot->status.rto_ms = 1000;
	dot->status.counters.timeouts = 7;
	dot->status.tls = (struct policy_tls){ .connections = 601, .handshakes = 602,
					       .resumptions = 603, .queries = 604 };

	fx->in = (struct metrics_input){ .version = "1.2.3", .started = 1700000000,
					 .workers = &fx->ws, .cache = &fx->cs,
					 .cache_max_entries = 10000, .cache_max_bytes = 1 << 24,
					 .servers = fx->servers, .n_servers = 2 };
}

static char *render(const struct metrics_input *in)
{
	size_t len = 0;
	char *text = metrics_render(in, &len);
	assert_non_null(text);
	assert_int_equal(len, strlen(text));
	return text;
}

/* Whether text has line, whole. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define assert_line(text, line)                                                    \
	do {                                                                       \
		if (!has_line(text, line))                                         \
			fail_msg("missing line: %s\n--- in:\n%s", line, text);     \
	} while (0)

/* Lines that start with prefix. */
static int count_prefix(const char *text, const char *prefix)
{
	int n = 0;
	size_t len = strlen(prefix);
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		n += strncmp(p, prefix, len) == 0;
	return n;
}

/* ---- a reader of the text format, for the rules ---------------------------- */

#define MAX_FAMILIES 128

struct family_seen {
	char name[128];
	char type[16];
	int samples;
};

static bool valid_name(const char *s, size_t n)
{
	if (n == 0 || !(isalpha((unsigned char)s[0]) || s[0] == '_' || s[0] == ':'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '_' || s[i] == ':'))
			return false;
	return true;
}

/* Whether sample belongs to family f: a histogram's _bucket, _sum, _count. */
static bool sample_of(const struct family_seen *f, const char *name, size_t n)
{
	size_t fn = strlen(f->name);
	if (n == fn && strncmp(name, f->name, n) == 0)
		return strcmp(f->type, "histogram") != 0;
	if (strcmp(f->type, "histogram") != 0 || n <= fn || strncmp(name, f->name, fn) != 0)
		return false;
	const char *suffix = name + fn;
	size_t sn = n - fn;
	return (sn == 7 && strncmp(suffix, "_bucket", 7) == 0) ||
	       (sn == 4 && strncmp(suffix, "_sum", 4) == 0) ||
	       (sn == 6 && strncmp(suffix, "_count", 6) == 0);
}

static char problem[1200];

__attribute__((format(printf, 1, 2))) static int bad(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(problem, sizeof(problem), fmt, ap);
	va_end(ap);
	return -1;
}

/* Checks a label set "{k="v",...}" from *p, leaving *p after the '}'. */
static int check_labels(const char **p, const char *line)
{
	const char *s = *p + 1;
	for (;;) {
		size_t kn = strcspn(s, "=");
		if (!valid_name(s, kn))
			return bad("bad label name in: %s", line);
		s += kn;
		if (s[0] != '=' || s[1] != '"')
			return bad("label value not quoted in: %s", line);
		for (s += 2; *s != '"'; s++) {
			if (*s == '\n' || *s == '\0')
				return bad("label value not closed in: %s", line);
			if (*s == '\\') {
				s++;
				if (*s != '\\' && *s != '"' && *s != 'n')
					return bad("bad escape in: %s", line);
			}
		}
		s++;
		if (*s == '}')
			break;
		if (*s != ',')
			return bad("labels not separated by ',' in: %s", line);
		s++;
	}
	*p = s + 1;
	return 0;
}

/* The rules of text format 0.0.4 as metrics.h promises them: HELP then
 * TYPE for every family, once, before its samples, which all come
 * together and belong to it; valid names and label syntax; a number
 * after each sample; counters named _total; no counter's stem the name of
 * another family; the text ends in a newline. Returns the number of
 * families, or -1 with the first problem in problem[]. */
static int read_format(const char *text, struct family_seen *fams)
{
	int n = 0;
	struct family_seen *cur = NULL;
	char help_for[128] = "";
	size_t len = strlen(text);
	if (len == 0 || text[len - 1] != '\n')
		return bad("the text does not end in a newline");

	for (const char *line = text; *line; line = strchr(line, '\n') + 1) {
		size_t ll = strcspn(line, "\n");
		char buf[1024];
		if (ll >= sizeof(buf))
			return bad("line too long");
		memcpy(buf, line, ll);
		buf[ll] = '\0';
		if (strncmp(buf, "# HELP ", 7) == 0) {
			size_t nn = strcspn(buf + 7, " ");
			if (nn >= sizeof(help_for))
				return bad("name too long: %s", buf);
			if (buf[7 + nn] != ' ' || buf[8 + nn] == '\0')
				return bad("HELP without text: %s", buf);
			memcpy(help_for, buf + 7, nn);
			help_for[nn] = '\0';
			continue;
		}
		if (strncmp(buf, "# TYPE ", 7) == 0) {
			char name[128], type[16];
			if (sscanf(buf + 7, "%127s %15s", name, type) != 2)
				return bad("bad TYPE line: %s", buf);
			if (strcmp(name, help_for) != 0)
				return bad("TYPE %s not right after its HELP", name);
			if (strcmp(type, "counter") && strcmp(type, "gauge") && strcmp(type, "histogram"))
				return bad("unexpected type %s", type);
			if (!valid_name(name, strlen(name)))
				return bad("bad family name %s", name);
			for (int i = 0; i < n; i++)
				if (strcmp(fams[i].name, name) == 0)
					return bad("family %s declared twice", name);
			if (cur && cur->samples == 0)
				return bad("family %s has no samples", cur->name);
			if (n >= MAX_FAMILIES)
				return bad("more than %d families", MAX_FAMILIES);
			cur = &fams[n++];
			snprintf(cur->name, sizeof(cur->name), "%s", name);
			snprintf(cur->type, sizeof(cur->type), "%s", type);
			cur->samples = 0;
			help_for[0] = '\0';
			continue;
		}
		if (buf[0] == '#' || buf[0] == '\0')
			return bad("unexpected line: '%s'", buf);
		const char *p = buf;
		size_t nn = strcspn(p, "{ ");
		if (!valid_name(p, nn))
			return bad("bad sample name in: %s", buf);
		if (!cur || !sample_of(cur, p, nn))
			return bad("sample outside its family: %s", buf);
		p += nn;
		if (*p == '{' && check_labels(&p, buf) < 0)
			return -1;
		if (*p != ' ')
			return bad("no value in: %s", buf);
		char *end;
		strtod(p + 1, &end);
		if (end == p + 1 || *end != '\0')
			return bad("value is not a number (or a timestamp follows) in: %s", buf);
		cur->samples++;
	}
	if (cur && cur->samples == 0)
		return bad("family %s has no samples", cur->name);

	for (int i = 0; i < n; i++) {
		size_t fl = strlen(fams[i].name);
		bool total = fl > 6 && strcmp(fams[i].name + fl - 6, "_total") == 0;
		if (strcmp(fams[i].type, "counter") == 0 && !total)
			return bad("counter %s does not end in _total", fams[i].name);
		if (strcmp(fams[i].type, "counter") != 0 && total)
			return bad("%s %s ends in _total", fams[i].type, fams[i].name);
		if (!total)
			continue;
		for (int j = 0; j < n; j++)
			if (strlen(fams[j].name) == fl - 6 &&
			    strncmp(fams[j].name, fams[i].name, fl - 6) == 0)
				return bad("%s is the stem of counter %s", fams[j].name, fams[i].name);
	}
	return n;
}

/* read_format, which must find nothing wrong. */
static int check_format(const char *text, struct family_seen *fams)
{
	int n = read_format(text, fams);
	if (n < 0)
		fail_msg("%s\n--- in:\n%s", problem, text);
	return n;
}

static const char *type_of(const struct family_seen *fams, int n, const char *name)
{
	for (int i = 0; i < n; i++)
		if (strcmp(fams[i].name, name) == 0)
			return fams[i].type;
	return "(absent)";
}

/* ---- the scenarios ---------------------------------------------------------- */

/* The reader takes good text and catches each broken rule. */
static void test_checker_itself(void **state)
{
	(void)state;
	struct family_seen fams[MAX_FAMILIES];
	assert_int_equal(check_format("# HELP a_total A.\n# TYPE a_total counter\n"
				      "a_total{x=\"1\\\"\",y=\"\"} 3\n# HELP b B.\n# TYPE b histogram\n"
				      "b_bucket{le=\"+Inf\"} 1\nb_sum 0.5\nb_count 1\n",
				      fams),
			 2);
	assert_string_equal(type_of(fams, 2, "b"), "histogram");

	static const char *const broken[] = {
		/* no newline at the end */
		"# HELP a A.\n# TYPE a gauge\na 1",
		/* no HELP */
		"# TYPE a gauge\na 1\n",
		/* a counter without _total */
		"# HELP a A.\n# TYPE a counter\na 1\n",
		/* a gauge with it */
		"# HELP a_total A.\n# TYPE a_total gauge\na_total 1\n",
		/* a sample of another family */
		"# HELP a A.\n# TYPE a gauge\nb 1\n",
		/* a family twice */
		"# HELP a A.\n# TYPE a gauge\na 1\n# HELP a A.\n# TYPE a gauge\na 2\n",
		/* a family without samples */
		"# HELP a A.\n# TYPE a gauge\n# HELP b B.\n# TYPE b gauge\nb 1\n",
		/* a counter's stem another family's name */
		"# HELP a A.\n# TYPE a gauge\na 1\n# HELP a_total A.\n# TYPE a_total counter\n"
		"a_total 1\n",
		/* a bad escape, an unquoted value, a value that is no number */
		"# HELP a A.\n# TYPE a gauge\na{x=\"\\t\"} 1\n",
		"# HELP a A.\n# TYPE a gauge\na{x=1} 1\n",
		"# HELP a A.\n# TYPE a gauge\na one\n",
		/* a timestamp: node_exporter's textfile collector refuses them */
		"# HELP a A.\n# TYPE a gauge\na 1 1700000000000\n",
		/* a histogram's _bucket under a gauge */
		"# HELP a A.\n# TYPE a gauge\na_bucket{le=\"+Inf\"} 1\n",
		/* a bad name */
		"# HELP 1a A.\n# TYPE 1a gauge\n1a 1\n",
	};
	for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++)
		if (read_format(broken[i], fams) >= 0)
			fail_msg("broken text %zu taken for good:\n%s", i, broken[i]);
}

/* Every family a scraper is promised, with its type. */
static void test_families_and_types(void **state)
{
	(void)state;
	struct fixture fx;
	struct family_seen fams[MAX_FAMILIES];
	fill(&fx);
	char *text = render(&fx.in);
	int n = check_format(text, fams);
	static const char *const expected[][2] = {
		{ "stubd_build_info", "gauge" },
		{ "stubd_start_time_seconds", "gauge" },
		{ "stubd_queries_total", "counter" },
		{ "stubd_worker_queries_total", "counter" },
		{ "stubd_queries_dropped_total", "counter" },
		{ "stubd_queries_rejected_total", "counter" },
		{ "stubd_queries_not_allowed_total", "counter" },
		{ "stubd_truncated_replies_total", "counter" },
		{ "stubd_send_errors_total", "counter" },
		{ "stubd_tcp_connections_accepted_total", "counter" },
		{ "stubd_tcp_connections_refused_total", "counter" },
		{ "stubd_tcp_connections_idle_closed_total", "counter" },
		{ "stubd_tcp_connections_open", "gauge" },
		{ "stubd_answers_total", "counter" },
		{ "stubd_answer_rcodes_total", "counter" },
		{ "stubd_stale_answers_total", "counter" },
		{ "stubd_coalesced_queries_total", "counter" },
		{ "stubd_waiting_queries", "gauge" },
		{ "stubd_queries_over_max_inflight_total", "counter" },
		{ "stubd_queries_no_server_total", "counter" },
		{ "stubd_query_duration_seconds", "histogram" },
		{ "stubd_upstream_replies_dropped_total", "counter" },
		{ "stubd_upstream_unanswered_total", "counter" },
		{ "stubd_upstream_tcp_fallbacks_total", "counter" },
		{ "stubd_upstream_queries_total", "counter" },
		{ "stubd_upstream_answers_total", "counter" },
		{ "stubd_upstream_refusals_total", "counter" },
		{ "stubd_upstream_timeouts_total", "counter" },
		{ "stubd_upstream_errors_total", "counter" },
		{ "stubd_upstream_tls_connections_total", "counter" },
		{ "stubd_upstream_tls_handshakes_total", "counter" },
		{ "stubd_upstream_tls_resumptions_total", "counter" },
		{ "stubd_upstream_tls_queries_total", "counter" },
		{ "stubd_upstream_rtt_seconds", "gauge" },
		{ "stubd_upstream_rto_seconds", "gauge" },
		{ "stubd_upstream_state", "gauge" },
		{ "stubd_cache_entries", "gauge" },
		{ "stubd_cache_max_entries", "gauge" },
		{ "stubd_cache_memory_bytes", "gauge" },
		{ "stubd_cache_memory_max_bytes", "gauge" },
		{ "stubd_cache_hits_total", "counter" },
		{ "stubd_cache_misses_total", "counter" },
		{ "stubd_cache_inserts_total", "counter" },
		{ "stubd_cache_evictions_total", "counter" },
		{ "stubd_cache_expirations_total", "counter" },
		{ "stubd_cache_prefetches_total", "counter" },
	};
	size_t n_expected = sizeof(expected) / sizeof(expected[0]);
	for (size_t i = 0; i < n_expected; i++)
		if (strcmp(type_of(fams, n, expected[i][0]), expected[i][1]) != 0)
			fail_msg("%s: expected %s, got %s", expected[i][0], expected[i][1],
				 type_of(fams, n, expected[i][0]));
	assert_int_equal(n, n_expected); /* and nothing unlisted */
	for (int i = 0; i < n; i++)
		if (strncmp(fams[i].name, "stubd_", 6) != 0)
			fail_msg("%s lacks the stubd_ prefix", fams[i].name);
	free(text);
}

/* Each counter lands under its own name and label. */
static void test_values_in_place(void **state)
{
	(void)state;
	struct fixture fx;
	fill(&fx);
	char *t = render(&fx.in);
	assert_line(t, "stubd_build_info{version=\"1.2.3\"} 1");
	assert_line(t, "stubd_start_time_seconds 1700000000");
	assert_line(t, "stubd_queries_total{transport=\"udp\"} 101");
	assert_line(t, "stubd_queries_total{transport=\"tcp\"} 102");
	assert_line(t, "stubd_worker_queries_total{worker=\"0\"} 150");
	assert_line(t, "stubd_worker_queries_total{worker=\"1\"} 53");
	assert_int_equal(count_prefix(t, "stubd_worker_queries_total{"), 2);
	assert_line(t, "stubd_queries_dropped_total 103");
	assert_line(t, "stubd_queries_rejected_total 104");
	assert_line(t, "stubd_queries_not_allowed_total 105");
	assert_line(t, "stubd_truncated_replies_total 106");
	assert_line(t, "stubd_tcp_connections_accepted_total 107");
	assert_line(t, "stubd_tcp_connections_refused_total 108");
	assert_line(t, "stubd_tcp_connections_idle_closed_total 109");
	assert_line(t, "stubd_send_errors_total 110");
	assert_line(t, "stubd_tcp_connections_open 3");
	assert_line(t, "stubd_answers_total{source=\"local\"} 200");
	assert_line(t, "stubd_answers_total{source=\"hosts\"} 201");
	assert_line(t, "stubd_answers_total{source=\"cache\"} 202");
	assert_line(t, "stubd_answers_total{source=\"upstream\"} 203");
	assert_line(t, "stubd_stale_answers_total 211");
	assert_line(t, "stubd_coalesced_queries_total 212");
	assert_line(t, "stubd_waiting_queries 2");
	assert_line(t, "stubd_queries_over_max_inflight_total 213");
	assert_line(t, "stubd_queries_no_server_total 214");
	assert_line(t, "stubd_upstream_replies_dropped_total{reason=\"mismatched\"} 301");
	assert_line(t, "stubd_upstream_replies_dropped_total{reason=\"malformed\"} 302");
	assert_line(t, "stubd_upstream_unanswered_total 303");
	assert_line(t, "stubd_upstream_tcp_fallbacks_total 304");
	assert_line(t, "stubd_cache_entries 401");
	assert_line(t, "stubd_cache_max_entries 10000");
	assert_line(t, "stubd_cache_memory_bytes 402");
	assert_line(t, "stubd_cache_memory_max_bytes 16777216");
	assert_line(t, "stubd_cache_hits_total 403");
	assert_line(t, "stubd_cache_misses_total 404");
	assert_line(t, "stubd_cache_inserts_total 405");
	assert_line(t, "stubd_cache_evictions_total 406");
	assert_line(t, "stubd_cache_expirations_total 407");
	assert_line(t, "stubd_cache_prefetches_total 409");
	free(t);
}

/* The six classic rcodes always (a rate needs its zero), rarer ones once
 * sent, each by its name. */
static void test_rcodes(void **state)
{
	(void)state;
	struct fixture fx;
	fill(&fx);
	char *t = render(&fx.in);
	assert_line(t, "stubd_answer_rcodes_total{rcode=\"NOERROR\"} 190");
	assert_line(t, "stubd_answer_rcodes_total{rcode=\"FORMERR\"} 0");
	assert_line(t, "stubd_answer_rcodes_total{rcode=\"SERVFAIL\"} 4");
	assert_line(t, "stubd_answer_rcodes_total{rcode=\"NXDOMAIN\"} 12");
	assert_line(t, "stubd_answer_rcodes_total{rcode=\"NOTIMP\"} 0");
	assert_line(t, "stubd_answer_rcodes_total{rcode=\"REFUSED\"} 0");
	assert_int_equal(count_prefix(t, "stubd_answer_rcodes_total{"), 6);
	free(t);

	fx.ws.pipeline.rcodes[16] = 5;
	t = render(&fx.in);
	assert_line(t, "stubd_answer_rcodes_total{rcode=\"BADVERS\"} 5");
	assert_int_equal(count_prefix(t, "stubd_answer_rcodes_total{"), 7);
	free(t);
}

/* The pipeline's buckets (answers under 1, 10, 50 ... 5000 ms, and the
 * rest) become cumulative le buckets in seconds, +Inf equal to _count,
 * the sum in seconds to the millisecond. */
static void test_latency_histogram(void **state)
{
	(void)state;
	struct fixture fx;
	fill(&fx);
	static const uint64_t buckets[PIPELINE_LATENCY_BUCKETS] = { 30, 5, 0, 2, 1, 0, 0, 4 };
	memcpy(fx.ws.pipeline.latency, buckets, sizeof(buckets));
	fx.ws.pipeline.latency_sum_ms = 21345;
	char *t = render(&fx.in);
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"0.001\"} 30");
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"0.01\"} 35");
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"0.05\"} 35");
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"0.1\"} 37");
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"0.5\"} 38");
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"1\"} 38");
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"5\"} 38");
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"+Inf\"} 42");
	assert_line(t, "stubd_query_duration_seconds_sum 21.345");
	assert_line(t, "stubd_query_duration_seconds_count 42");
	assert_int_equal(count_prefix(t, "stubd_query_duration_seconds_bucket{"),
			 PIPELINE_LATENCY_BUCKETS);
	/* +Inf last: a scraper reads buckets in order. */
	assert_true(strstr(t, "le=\"5\"}") < strstr(t, "le=\"+Inf\"}"));
	free(t);

	/* Nothing asked yet: zeros throughout, a whole number of seconds. */
	memset(fx.ws.pipeline.latency, 0, sizeof(fx.ws.pipeline.latency));
	fx.ws.pipeline.latency_sum_ms = 0;
	t = render(&fx.in);
	assert_line(t, "stubd_query_duration_seconds_bucket{le=\"+Inf\"} 0");
	assert_line(t, "stubd_query_duration_seconds_sum 0");
	assert_line(t, "stubd_query_duration_seconds_count 0");
	free(t);
}

/* Per server: counters, RTT only once measured, the RTO, one state
 * series per state, TLS counters for the DNS-over-TLS server alone. */
static void test_servers(void **state)
{
	(void)state;
	struct fixture fx;
	fill(&fx);
	char *t = render(&fx.in);
	assert_line(t, "stubd_upstream_queries_total{server=\"192.0.2.1:53\"} 501");
	assert_line(t, "stubd_upstream_answers_total{server=\"192.0.2.1:53\"} 502");
	assert_line(t, "stubd_upstream_refusals_total{server=\"192.0.2.1:53\"} 503");
	assert_line(t, "stubd_upstream_timeouts_total{server=\"192.0.2.1:53\"} 504");
	assert_line(t, "stubd_upstream_errors_total{server=\"192.0.2.1:53\"} 505");
	assert_line(t, "stubd_upstream_timeouts_total{server=\"192.0.2.2:853#dns.example\"} 7");
	assert_line(t, "stubd_upstream_rtt_seconds{server=\"192.0.2.1:53\"} 0.0015");
	assert_int_equal(count_prefix(t, "stubd_upstream_rtt_seconds{"), 1);
	assert_line(t, "stubd_upstream_rto_seconds{server=\"192.0.2.1:53\"} 0.25");
	assert_line(t, "stubd_upstream_rto_seconds{server=\"192.0.2.2:853#dns.example\"} 1");
	assert_line(t, "stubd_upstream_state{server=\"192.0.2.1:53\",state=\"up\"} 1");
	assert_line(t, "stubd_upstream_state{server=\"192.0.2.1:53\",state=\"down\"} 0");
	assert_line(t, "stubd_upstream_state{server=\"192.0.2.1:53\",state=\"probing\"} 0");
	assert_line(t, "stubd_upstream_state{server=\"192.0.2.2:853#dns.example\",state=\"up\"} 0");
	assert_line(t, "stubd_upstream_state{server=\"192.0.2.2:853#dns.example\",state=\"down\"} 0");
	assert_line(t,
		    "stubd_upstream_state{server=\"192.0.2.2:853#dns.example\",state=\"probing\"} 1");
	assert_line(t, "stubd_upstream_tls_connections_total{server=\"192.0.2.2:853#dns.example\"} 601");
	assert_line(t, "stubd_upstream_tls_handshakes_total{server=\"192.0.2.2:853#dns.example\"} 602");
	assert_line(t, "stubd_upstream_tls_resumptions_total{server=\"192.0.2.2:853#dns.example\"} 603");
	assert_line(t, "stubd_upstream_tls_queries_total{server=\"192.0.2.2:853#dns.example\"} 604");
	assert_int_equal(count_prefix(t, "stubd_upstream_tls_queries_total{"), 1);
	free(t);
}

/* A server twice in the table (two names for one address) would be a
 * duplicate series, which makes a scraper drop the file: shown once. */
static void test_repeated_server(void **state)
{
	(void)state;
	struct fixture fx;
	struct family_seen fams[MAX_FAMILIES];
	fill(&fx);
	fx.servers[2] = fx.servers[0];
	fx.servers[2].status.counters.questions = 999;
	fx.in.n_servers = 3;
	char *t = render(&fx.in);
	check_format(t, fams);
	assert_int_equal(count_prefix(t, "stubd_upstream_queries_total{server=\"192.0.2.1:53\"}"), 1);
	assert_line(t, "stubd_upstream_queries_total{server=\"192.0.2.1:53\"} 501");
	assert_int_equal(count_prefix(t, "stubd_upstream_state{server=\"192.0.2.1:53\""), 3);
	free(t);
}

/* No servers: their families are left out whole, HELP and TYPE too (a
 * family without samples is nothing to a scraper); no DNS-over-TLS
 * server, no TLS families; none measured, no RTT family. */
static void test_families_without_samples_left_out(void **state)
{
	(void)state;
	struct fixture fx;
	struct family_seen fams[MAX_FAMILIES];
	fill(&fx);
	fx.in.n_servers = 1;
	fx.servers[0].status.measured = false;
	char *t = render(&fx.in);
	int n = check_format(t, fams);
	assert_string_equal(type_of(fams, n, "stubd_upstream_queries_total"), "counter");
	assert_string_equal(type_of(fams, n, "stubd_upstream_tls_queries_total"), "(absent)");
	assert_string_equal(type_of(fams, n, "stubd_upstream_rtt_seconds"), "(absent)");
	assert_null(strstr(t, "stubd_upstream_rtt_seconds"));
	free(t);

	fx.in.n_servers = 0;
	t = render(&fx.in);
	n = check_format(t, fams);
	assert_null(strstr(t, "server=\""));
	assert_null(strstr(t, "stubd_upstream_state"));
	assert_null(strstr(t, "stubd_upstream_queries_total"));
	/* The daemon's own upstream counters stay. */
	assert_string_equal(type_of(fams, n, "stubd_upstream_unanswered_total"), "counter");
	free(t);
}

/* Label values are quoted as the format says: backslash, double quote
 * and newline escaped; the line still parses. */
static void test_label_escaping(void **state)
{
	(void)state;
	struct fixture fx;
	struct family_seen fams[MAX_FAMILIES];
	fill(&fx);
	fx.servers[0].name = "192.0.2.9:853#we\"ird\\na\nme";
	fx.in.version = "0.1.0-\"dev\"";
	char *t = render(&fx.in);
	check_format(t, fams);
	assert_line(t, "stubd_upstream_queries_total{server=\"192.0.2.9:853#we\\\"ird\\\\na\\nme\"} 501");
	assert_line(t, "stubd_build_info{version=\"0.1.0-\\\"dev\\\"\"} 1");
	free(t);
}

/* Big numbers stay exact: no float rounding of counters or of the sum. */
static void test_big_numbers(void **state)
{
	(void)state;
	struct fixture fx;
	fill(&fx);
	fx.ws.listener.udp_queries = UINT64_MAX;
	fx.ws.pipeline.latency_sum_ms = 9007199254740993ULL; /* 2^53 + 1 */
	fx.servers[0].status.srtt_us = 4000000;
	char *t = render(&fx.in);
	assert_line(t, "stubd_queries_total{transport=\"udp\"} 18446744073709551615");
	assert_line(t, "stubd_query_duration_seconds_sum 9007199254740.993");
	assert_line(t, "stubd_upstream_rtt_seconds{server=\"192.0.2.1:53\"} 4");
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checker_itself),
		cmocka_unit_test(test_families_and_types),
		cmocka_unit_test(test_values_in_place),
		cmocka_unit_test(test_rcodes),
		cmocka_unit_test(test_latency_histogram),
		cmocka_unit_test(test_servers),
		cmocka_unit_test(test_repeated_server),
		cmocka_unit_test(test_families_without_samples_left_out),
		cmocka_unit_test(test_label_escaping),
		cmocka_unit_test(test_big_numbers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
