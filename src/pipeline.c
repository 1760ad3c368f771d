/* pipeline.c - the per-question stages. See pipeline.h. */
#include "stubd/pipeline.h"

#include <event2/event_struct.h> /* the stale timer, embedded in a fetch */
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "stubd/ascii.h"
#include "stubd/log.h"

const char *const pipeline_source_names[PIPELINE_SOURCE_COUNT_] = {
	[PIPELINE_SOURCE_LOCAL] = "local",
	[PIPELINE_SOURCE_HOSTS] = "hosts",
	[PIPELINE_SOURCE_CACHE] = "cache",
	[PIPELINE_SOURCE_UPSTREAM] = "upstream",
};

const unsigned pipeline_latency_bounds_ms[PIPELINE_LATENCY_BUCKETS - 1] = {
	1, 10, 50, 100, 500, 1000, 5000,
};

/* Buckets of the in-flight table; a power of two. */
#define FETCH_BUCKETS 1024

/* A client waiting for a fetch, with its own ID, case and EDNS. */
struct pipeline_waiter {
	SLIST_ENTRY(pipeline_waiter) link;
	struct wire_query q;
	struct pipeline_client client;
};

/* One question being fetched upstream. Every client asking the same
 * question meanwhile waits on it instead of sending another upstream
 * query; a prefetch is a fetch with no waiters. */
struct pipeline_fetch {
	struct pipeline *p;
	LIST_ENTRY(pipeline_fetch) link;
	uint32_t hash;
	struct wire_query q;      /* as the first asker sent it */
	struct upstream_txn *txn;
	char route[ROUTE_LABEL_MAX]; /* the way it went, for stubctl query */
	/* RFC 8767 §5: armed when a stale answer is at hand; when it fires,
	 * the waiting clients get that and the fetch goes on without them. */
	struct event stale_timer;
	bool stale_armed;
	SLIST_HEAD(, pipeline_waiter) waiters;
};

struct pipeline {
	struct event_base *base;
	const struct hosts_table *hosts;
	const struct hosts_options *hosts_opt;
	struct cache *cache;      /* borrowed; NULL only in tests without one */
	const struct route_table *routes; /* borrowed; NULL: no servers at all */
	bool serve_stale;
	struct timeval stale_answer_timeout;
	unsigned max_inflight;
	unsigned n_fetches;
	struct upstream *up;
	size_t edns_size;
	struct pipeline_stats stats;
	LIST_HEAD(, pipeline_fetch) fetches[FETCH_BUCKETS];
	/* Replies for waiting clients, and stored answers from the stages that
	 * answer at once, are built here: one loop, one message at a time. */
	uint8_t scratch[WIRE_MSG_MAX];
};

struct pipeline *pipeline_new(struct event_base *base, struct upstream *up,
			      const struct config *cfg)
{
	struct pipeline *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	p->base = base;
	p->up = up;
	pipeline_configure(p, cfg);
	for (size_t i = 0; i < FETCH_BUCKETS; i++)
		LIST_INIT(&p->fetches[i]);
	return p;
}

void pipeline_configure(struct pipeline *p, const struct config *cfg)
{
	p->edns_size = cfg->edns_buffer_size;
	p->serve_stale = cfg->serve_stale && cfg->stale_max_age > 0;
	p->stale_answer_timeout.tv_sec = cfg->stale_answer_timeout_ms / 1000;
	p->stale_answer_timeout.tv_usec = (cfg->stale_answer_timeout_ms % 1000) * 1000;
	p->max_inflight = cfg->max_inflight;
}

void pipeline_set_hosts(struct pipeline *p, const struct hosts_table *table,
			const struct hosts_options *opt)
{
	p->hosts = table;
	p->hosts_opt = opt;
}

void pipeline_set_cache(struct pipeline *p, struct cache *cache)
{
	p->cache = cache;
}

void pipeline_set_routes(struct pipeline *p, const struct route_table *routes)
{
	p->routes = routes;
}

const struct route *pipeline_route(const struct pipeline *p, const struct wire_query *q)
{
	return p->routes ? route_lookup(p->routes, q->qname, q->qname_len) : NULL;
}

static void fetch_free(struct pipeline_fetch *f)
{
	struct pipeline_waiter *w;
	while ((w = SLIST_FIRST(&f->waiters))) {
		SLIST_REMOVE_HEAD(&f->waiters, link);
		free(w);
		f->p->stats.pending--;
	}
	if (f->stale_armed)
		evtimer_del(&f->stale_timer);
	LIST_REMOVE(f, link);
	f->p->n_fetches--;
	free(f);
}

void pipeline_free(struct pipeline *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < FETCH_BUCKETS; i++) {
		while (!LIST_EMPTY(&p->fetches[i])) {
			struct pipeline_fetch *f = LIST_FIRST(&p->fetches[i]);
			upstream_cancel(f->txn);
			fetch_free(f);
		}
	}
	free(p);
}

static uint64_t now_ms(void)
{
	return cache_clock_ms();
}

static void count_latency(struct pipeline *p, uint64_t ms)
{
	unsigned i = 0;
	while (i < PIPELINE_LATENCY_BUCKETS - 1 && ms >= pipeline_latency_bounds_ms[i])
		i++;
	p->stats.latency[i]++;
	p->stats.latency_sum_ms += ms;
}

/* Answers given at once take well under a millisecond: the first latency
 * bucket, with no clock read. */
static size_t counted(struct pipeline *p, const uint8_t *reply, size_t len,
		      enum pipeline_source source)
{
	if (len >= WIRE_HEADER_LEN) {
		p->stats.answers[source]++;
		p->stats.rcodes[WIRE_RCODE(wire_get16(reply + 2))]++;
		p->stats.latency[0]++;
	}
	return len;
}

void pipeline_reset_stats(struct pipeline *p)
{
	uint64_t pending = p->stats.pending;
	memset(&p->stats, 0, sizeof(p->stats));
	p->stats.pending = pending;
}

size_t pipeline_reject(struct pipeline *p, const struct wire_query *q, unsigned rcode,
		       uint8_t *out, size_t cap)
{
	size_t len = wire_build_error(out, cap, q, rcode, p->edns_size);
	if (len > 0) {
		p->stats.answers[PIPELINE_SOURCE_LOCAL]++;
		p->stats.rcodes[rcode < WIRE_RCODE_COUNT_ ? rcode : WIRE_RCODE_SERVFAIL]++;
	}
	return len;
}

static void set_origin(struct pipeline_origin *origin, enum pipeline_source source)
{
	origin->source = source;
	origin->server = NULL;
	origin->age_s = 0;
	origin->stale = false;
	origin->route = NULL;
}

static size_t servfail(struct pipeline *p, const struct wire_query *q, uint8_t *out,
		       size_t cap, struct pipeline_origin *origin)
{
	set_origin(origin, PIPELINE_SOURCE_LOCAL);
	return pipeline_reject(p, q, WIRE_RCODE_SERVFAIL, out, cap);
}

/* ---- in-flight table -------------------------------------------------- */

/* FNV-1a over what makes two questions the same fetch: the name without
 * regard to case, type, class, and the DO and CD bits. */
static uint32_t question_hash(const struct wire_query *q)
{
	uint32_t h = wire_name_hash(q->qname, q->qname_len);
	h = ascii_fnv_step(h, q->qtype);
	h = ascii_fnv_step(h, q->qclass);
	return ascii_fnv_step(h, (q->edns_do ? 1u : 0u) ^ ((q->flags & WIRE_FLAG_CD) ? 2u : 0u));
}

static bool same_question(const struct wire_query *a, const struct wire_query *b)
{
	return a->qtype == b->qtype && a->qclass == b->qclass && a->edns_do == b->edns_do &&
	       (a->flags & WIRE_FLAG_CD) == (b->flags & WIRE_FLAG_CD) &&
	       wire_name_equal(a->qname, a->qname_len, b->qname, b->qname_len);
}

static struct pipeline_fetch *find_fetch(struct pipeline *p, const struct wire_query *q,
					 uint32_t hash)
{
	struct pipeline_fetch *f;
	LIST_FOREACH(f, &p->fetches[hash & (FETCH_BUCKETS - 1)], link)
		if (f->hash == hash && same_question(&f->q, q))
			return f;
	return NULL;
}

/* ---- the upstream stage's answer --------------------------------------- */

static void deliver(struct pipeline *p, struct pipeline_waiter *w, const uint8_t *reply,
		    size_t len, const struct pipeline_origin *origin, uint64_t now)
{
	if (len >= WIRE_HEADER_LEN) {
		p->stats.answers[origin->source]++;
		p->stats.rcodes[WIRE_RCODE(wire_get16(reply + 2))]++;
		count_latency(p, now - w->client.asked_ms);
	}
	w->client.reply(&w->client, reply, len, origin);
}

/* Each waiter gets the answer fitted to its own question (ID, case, EDNS,
 * size), or a stale answer (RFC 8767) or SERVFAIL when there is none. */
static void answer_waiter(struct pipeline *p, struct pipeline_waiter *w,
			  const uint8_t *answer, size_t answer_len,
			  const struct upstream_server *server, const char *route, uint64_t now)
{
	struct pipeline_origin origin;
	size_t len = 0;

	set_origin(&origin, PIPELINE_SOURCE_UPSTREAM);
	origin.server = server ? server->name : NULL;
	origin.route = route;
	if (answer)
		len = wire_finish_reply(p->scratch, sizeof(p->scratch), answer, answer_len, &w->q,
					w->client.reply_limit, p->edns_size);
	if (len == 0 && p->cache && p->serve_stale) {
		/* Fresh again if another fetch refreshed it meanwhile; else stale. */
		enum cache_result r = cache_lookup_stale(p->cache, &w->q, now, p->scratch,
							 sizeof(p->scratch), w->client.reply_limit,
							 p->edns_size, &len, NULL);
		if (r != CACHE_MISS)
			set_origin(&origin, PIPELINE_SOURCE_CACHE);
		if (r == CACHE_STALE) {
			origin.stale = true;
			p->stats.stale++;
		}
	}
	if (len == 0) {
		len = wire_build_error(p->scratch, sizeof(p->scratch), &w->q, WIRE_RCODE_SERVFAIL,
				       p->edns_size);
		set_origin(&origin, PIPELINE_SOURCE_LOCAL);
	}
	deliver(p, w, p->scratch, len, &origin, now);
}

/* A stale answer (RFC 8767) for q fitted to client into out, with origin
 * set; 0 when there is none. */
static size_t stale_reply(struct pipeline *p, const struct wire_query *q,
			  const struct pipeline_client *client, uint8_t *out, size_t cap,
			  struct pipeline_origin *origin, uint64_t now)
{
	size_t len = 0;
	if (!p->cache || !p->serve_stale || client->skip_cache)
		return 0;
	enum cache_result r = cache_lookup_stale(p->cache, q, now, out, cap, client->reply_limit,
						 p->edns_size, &len, NULL);
	if (r != CACHE_STALE && r != CACHE_HIT)
		return 0;
	set_origin(origin, PIPELINE_SOURCE_CACHE);
	origin->stale = r == CACHE_STALE;
	p->stats.stale += r == CACHE_STALE;
	return len;
}

/* RFC 8767 §5's client-response timer: the clients of a fetch that has a
 * stale answer at hand get it now, and the fetch goes on without them to
 * refresh the cache. */
static void on_stale_timer(evutil_socket_t fd, short what, void *arg)
{
	struct pipeline_fetch *f = arg;
	struct pipeline *p = f->p;
	uint64_t now = now_ms();
	struct pipeline_waiter *w;

	f->stale_armed = false;
	while ((w = SLIST_FIRST(&f->waiters)) != NULL) {
		struct pipeline_origin origin;
		size_t len = stale_reply(p, &w->q, &w->client, p->scratch, sizeof(p->scratch), &origin, now);
		if (len == 0)
			return; /* gone meanwhile: they wait for the fetch after all */
		SLIST_REMOVE_HEAD(&f->waiters, link);
		p->stats.pending--;
		deliver(p, w, p->scratch, len, &origin, now);
		free(w);
	}
}

static void arm_stale_timer(struct pipeline *p, struct pipeline_fetch *f)
{
	if (f->stale_armed || !p->cache || !p->serve_stale || !p->base ||
	    !cache_has_stale(p->cache, &f->q, now_ms()))
		return;
	evtimer_assign(&f->stale_timer, p->base, on_stale_timer, f);
	f->stale_armed = evtimer_add(&f->stale_timer, &p->stale_answer_timeout) == 0;
}

/* RFC 9520 §3.2: remember a failure briefly, so a dead upstream is not
 * asked again for every client retry. The cache refuses it while a stale
 * answer for the question may still be served. */
static void remember_failure(struct pipeline *p, const struct wire_query *q, uint64_t now)
{
	uint8_t stored[WIRE_HEADER_LEN + WIRE_NAME_MAX + 4];
	struct wire_query plain = *q;

	if (!p->cache)
		return;
	plain.edns = false; /* stored answers carry no OPT */
	plain.id = 0;
	size_t len = wire_build_error(stored, sizeof(stored), &plain, WIRE_RCODE_SERVFAIL,
				      p->edns_size);
	if (len > 0)
		cache_store(p->cache, q, stored, len, now);
}

static void on_upstream_done(void *arg, enum upstream_status status, const uint8_t *answer,
			     size_t answer_len, const struct upstream_server *server)
{
	struct pipeline_fetch *f = arg;
	struct pipeline *p = f->p;
	uint64_t now = now_ms();
	struct pipeline_waiter *w;

	f->txn = NULL; /* the upstream module frees it after this call */
	if (status == UPSTREAM_ANSWER && p->cache)
		cache_store(p->cache, &f->q, answer, answer_len, now);
	if (status != UPSTREAM_ANSWER) {
		answer = NULL;
		answer_len = 0;
	}
	SLIST_FOREACH(w, &f->waiters, link)
		answer_waiter(p, w, answer, answer_len, server, f->route, now);
	if (status != UPSTREAM_ANSWER)
		remember_failure(p, &f->q, now);
	fetch_free(f);
}

/* route: where q goes (pipeline_route); NULL or no servers is a SERVFAIL
 * at once, counted. */
static struct pipeline_fetch *start_fetch(struct pipeline *p, const struct wire_query *q,
					  uint32_t hash, const struct route *route)
{
	if (!route || route->n_servers == 0) {
		p->stats.no_servers++;
		return NULL;
	}
	/* A cap on what a flood of new names can make us hold open. */
	if (p->n_fetches >= p->max_inflight) {
		p->stats.inflight_refused++;
		return NULL;
	}
	struct pipeline_fetch *f = calloc(1, sizeof(*f));
	if (!f)
		return NULL;
	p->n_fetches++;
	f->p = p;
	f->q = *q;
	f->hash = hash;
	memcpy(f->route, route->label, sizeof(f->route));
	SLIST_INIT(&f->waiters);
	LIST_INSERT_HEAD(&p->fetches[hash & (FETCH_BUCKETS - 1)], f, link);
	f->txn = upstream_resolve(p->up, q, route, on_upstream_done, f);
	if (!f->txn) {
		fetch_free(f);
		return NULL;
	}
	return f;
}

static bool add_waiter(struct pipeline *p, struct pipeline_fetch *f, const struct wire_query *q,
		       const struct pipeline_client *client)
{
	struct pipeline_waiter *w = malloc(sizeof(*w));
	if (!w)
		return false;
	w->q = *q;
	w->client = *client;
	w->client.asked_ms = now_ms();
	SLIST_INSERT_HEAD(&f->waiters, w, link);
	p->stats.pending++;
	return true;
}

/* ---- the stages ---------------------------------------------------------- */

/* Stage 1. The stored answer is built in scratch, then fitted to the
 * client (ID, case, EDNS, size) like any other answer. */
static size_t answer_from_hosts(struct pipeline *p, const struct wire_query *q,
				const struct pipeline_client *client, uint8_t *out, size_t cap)
{
	size_t stored_len;
	if (!p->hosts_opt ||
	    hosts_answer(p->hosts, p->hosts_opt, q, p->scratch, sizeof(p->scratch), &stored_len) !=
		    HOSTS_ANSWERED)
		return 0;
	return wire_finish_reply(out, cap, p->scratch, stored_len, q, client->reply_limit,
				 p->edns_size);
}

/* Stage 2. A hit in the last tenth of its TTL is refreshed in the
 * background (as Unbound's prefetch), so popular names never expire. */
static size_t answer_from_cache(struct pipeline *p, const struct wire_query *q,
				const struct pipeline_client *client, uint8_t *out, size_t cap,
				uint32_t *age_s)
{
	size_t len = 0;
	if (!p->cache || client->skip_cache)
		return 0;
	enum cache_result r = cache_lookup(p->cache, q, now_ms(), out, cap, client->reply_limit,
					   p->edns_size, &len, age_s);
	if (r == CACHE_HIT_PREFETCH) {
		uint32_t hash = question_hash(q);
		if (!find_fetch(p, q, hash) && start_fetch(p, q, hash, pipeline_route(p, q)))
			cache_note_prefetch(p->cache);
	}
	return r == CACHE_HIT || r == CACHE_HIT_PREFETCH ? len : 0;
}

/* RFC 8767 §5: while every upstream is down, a client with a stale answer
 * gets it at once instead of waiting out the timeouts, and a refresh goes
 * upstream in the background (a fetch with no waiters) to probe them. */
static size_t answer_stale_now(struct pipeline *p, const struct wire_query *q,
			       const struct pipeline_client *client, uint8_t *out, size_t cap,
			       uint32_t hash, const struct route *route)
{
	size_t len = 0;
	if (!p->cache || !p->serve_stale || client->skip_cache || !route ||
	    !upstream_route_down(p->up, route))
		return 0;
	if (cache_lookup_stale(p->cache, q, now_ms(), out, cap, client->reply_limit, p->edns_size,
			       &len, NULL) != CACHE_STALE)
		return 0;
	p->stats.stale++;
	if (!find_fetch(p, q, hash))
		start_fetch(p, q, hash, route);
	return len;
}

size_t pipeline_submit(struct pipeline *p, const struct wire_query *q,
		       const struct pipeline_client *client, uint8_t *out, size_t cap,
		       struct pipeline_origin *origin)
{
	size_t len = answer_from_hosts(p, q, client, out, cap);
	if (len > 0) {
		set_origin(origin, PIPELINE_SOURCE_HOSTS);
		return counted(p, out, len, origin->source);
	}
	uint32_t age_s = 0;
	len = answer_from_cache(p, q, client, out, cap, &age_s);
	if (len > 0) {
		set_origin(origin, PIPELINE_SOURCE_CACHE);
		origin->age_s = age_s;
		return counted(p, out, len, origin->source);
	}

	/* Stage 3: join the fetch already under way, or start one. */
	/* Routing runs here, on the miss path only. */
	uint32_t hash = question_hash(q);
	const struct route *route = pipeline_route(p, q);
	len = answer_stale_now(p, q, client, out, cap, hash, route);
	if (len > 0) {
		set_origin(origin, PIPELINE_SOURCE_CACHE);
		origin->stale = true;
		return counted(p, out, len, origin->source);
	}
	struct pipeline_fetch *f = find_fetch(p, q, hash);
	if (f) {
		p->stats.coalesced++;
	} else {
		f = start_fetch(p, q, hash, route);
		if (!f) {
			/* Nothing can be asked (no server, max-inflight): an
			 * answer at hand, even stale, beats SERVFAIL (RFC 8767). */
			len = stale_reply(p, q, client, out, cap, origin, now_ms());
			if (len > 0)
				return counted(p, out, len, origin->source);
			return servfail(p, q, out, cap, origin);
		}
	}
	if (!add_waiter(p, f, q, client))
		return servfail(p, q, out, cap, origin);
	arm_stale_timer(p, f);
	return 0;
}

void pipeline_cancel_owner(struct pipeline *p, const void *owner)
{
	/* The fetches go on: their answers are still worth caching. */
	for (size_t i = 0; i < FETCH_BUCKETS; i++) {
		struct pipeline_fetch *f;
		LIST_FOREACH(f, &p->fetches[i], link) {
			struct pipeline_waiter **link = &SLIST_FIRST(&f->waiters);
			while (*link) {
				struct pipeline_waiter *w = *link;
				if (w->client.owner == owner) {
					*link = SLIST_NEXT(w, link);
					free(w);
					p->stats.pending--;
				} else {
					link = &SLIST_NEXT(w, link);
				}
			}
		}
	}
}

const struct pipeline_stats *pipeline_get_stats(const struct pipeline *p)
{
	return &p->stats;
}
