/* pipeline.h - one question's way through stubd, as nsswitch's
 * "hosts: files dns": hosts, then cache, then upstream.
 *
 * Owns the questions that are waiting for an upstream, and the turn from
 * "an answer" into "the reply this client gets" (ID, case, EDNS, size
 * limit). Listeners and the control socket call it; it knows nothing of
 * sockets. Stages that know the answer at once (hosts, cache) reply
 * synchronously into the caller's buffer without allocating; only a
 * question that must go upstream allocates its pending state, and clients
 * asking the same question meanwhile wait on the same upstream fetch.
 * Upstream answers are stored in the cache; when the upstreams fail, an
 * expired answer is served stale (RFC 8767) before SERVFAIL.
 */
#ifndef STUBD_PIPELINE_H
#define STUBD_PIPELINE_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/cache.h"
#include "stubd/config.h"
#include "stubd/hosts.h"
#include "stubd/netaddr.h"
#include "stubd/route.h"
#include "stubd/upstream.h"
#include "stubd/wire.h"

/* Where an answer came from: for logs, counters and stubctl query. */
enum pipeline_source {
	PIPELINE_SOURCE_LOCAL,    /* stubd itself: errors, SERVFAIL */
	PIPELINE_SOURCE_HOSTS,
	PIPELINE_SOURCE_CACHE,
	PIPELINE_SOURCE_UPSTREAM,
	PIPELINE_SOURCE_COUNT_,
};
extern const char *const pipeline_source_names[PIPELINE_SOURCE_COUNT_];

/* Where one answer came from, for stubctl query and the counters. */
struct pipeline_origin {
	enum pipeline_source source;
	const char *server;      /* the upstream's ADDR:PORT; NULL for other sources */
	uint32_t age_s;          /* cache: seconds since the answer was stored */
	bool stale;              /* cache: served stale (RFC 8767) */
	const char *route;       /* upstream: the route it took (route.h label); else NULL */
};

struct pipeline_client;

/* Delivers a reply to a client that had to wait. reply and origin are
 * valid only during the call. */
typedef void (*pipeline_reply_fn)(const struct pipeline_client *client,
				  const uint8_t *reply, size_t len,
				  const struct pipeline_origin *origin);

/* The way back to a client, copied by value into a waiting question so
 * that the caller allocates nothing per question. */
struct pipeline_client {
	pipeline_reply_fn reply;
	void *owner;             /* the listener or connection that asked */
	struct netaddr addr;     /* the client's address (UDP replies go here) */
	size_t reply_limit;      /* the largest reply the transport takes */
	bool skip_cache;         /* stubctl query --no-cache: do not answer from it */
	uint64_t asked_ms;       /* set by pipeline_submit: for the latency counts */
};

/* Upper bounds, in ms, of the latency histogram's buckets; the last
 * bucket counts everything slower. */
#define PIPELINE_LATENCY_BUCKETS 8
extern const unsigned pipeline_latency_bounds_ms[PIPELINE_LATENCY_BUCKETS - 1];

struct pipeline_stats {
	uint64_t answers[PIPELINE_SOURCE_COUNT_];
	uint64_t rcodes[WIRE_RCODE_COUNT_];
	uint64_t pending;        /* clients waiting for an upstream now */
	uint64_t coalesced;      /* questions that joined a fetch under way */
	uint64_t stale;          /* stale answers served (RFC 8767) */
	uint64_t inflight_refused; /* SERVFAIL at once: max-inflight fetches open */
	uint64_t no_servers;     /* SERVFAIL at once: the name's route has no server */
	uint64_t latency[PIPELINE_LATENCY_BUCKETS]; /* answers by time to answer */
	/* The times of the answers counted in latency, added up: with their
	 * number, the mean (a Prometheus histogram's _sum). Answers given at
	 * once add 0: they are not timed (see latency[0]). */
	uint64_t latency_sum_ms;
};

struct pipeline;

/* The caller owns the pipeline and frees it with pipeline_free(); up is
 * borrowed and must outlive it. base runs the serve-stale timers (RFC
 * 8767 stale-answer-timeout); NULL: none, stale answers only when every
 * try has failed. */
struct pipeline *pipeline_new(struct event_base *base, struct upstream *up,
			      const struct config *cfg);

/* The hosts stage's table (NULL when the hosts file is off) and options,
 * both borrowed: the daemon swaps them on reload and keeps them alive. */
void pipeline_set_hosts(struct pipeline *p, const struct hosts_table *table,
			const struct hosts_options *opt);

/* The cache stage (NULL: no cache), borrowed like the hosts table. */
void pipeline_set_cache(struct pipeline *p, struct cache *cache);

/* The routing table (route.h), borrowed like the hosts table; NULL: no
 * servers, every miss is SERVFAIL. Lookups run on the miss path only. */
void pipeline_set_routes(struct pipeline *p, const struct route_table *routes);

/* The route q's name takes now (NULL when there is no table), for
 * stubctl query. */
const struct route *pipeline_route(const struct pipeline *p, const struct wire_query *q);

/* Takes the settings the pipeline uses from cfg (reload). */
void pipeline_configure(struct pipeline *p, const struct config *cfg);

/* Forgets every waiting question (no replies are sent). NULL ok. */
void pipeline_free(struct pipeline *p);

/* Runs q through the stages. When a stage answers at once, the reply is
 * written to out (cap bytes, at least client->reply_limit) and its length
 * returned, with *origin set. Otherwise returns 0 and client->reply is
 * called later, exactly once, unless pipeline_cancel_owner() comes first. */
size_t pipeline_submit(struct pipeline *p, const struct wire_query *q,
		       const struct pipeline_client *client, uint8_t *out, size_t cap,
		       struct pipeline_origin *origin);

/* Zeroes the counters (reset-statistics); pending stays true. */
void pipeline_reset_stats(struct pipeline *p);

/* Drops every waiting question whose client has this owner (a TCP
 * connection that closed): no reply will be attempted for them. */
void pipeline_cancel_owner(struct pipeline *p, const void *owner);

/* Answers a packet that wire_parse_query() rejected with rcode, into out. */
size_t pipeline_reject(struct pipeline *p, const struct wire_query *q, unsigned rcode,
		       uint8_t *out, size_t cap);

const struct pipeline_stats *pipeline_get_stats(const struct pipeline *p);

#endif
