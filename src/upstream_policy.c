/* upstream_policy.c - the servers' RTTs and health, and each question's plan.
 * See upstream_policy.h.
 *
 * Per server: SRTT and RTTVAR in microseconds (the clock is in ms, but a
 * LAN server answers in well under one, and RFC 6298's 1/8 and 1/4 gains
 * would round to nothing in whole ms), a count of backoff doublings, and
 * the down / probe / exploration state. The RTO is computed when needed
 * from these and the current upstream-timeout, so a reload that changes
 * the timeout applies to every server at once.
 *
 * Health in one sentence: a server is down after a try of it times out or
 * fails with no reply from it since that try was sent (or after
 * POLICY_REFUSED_DOWN refusals in a row), and up again on its first reply
 * that is not a refusal. Waiting for three timeouts, as upstream.c did,
 * made every client wait for them; one is enough because being wrong is
 * cheap: a late reply, or the next probe, brings the server straight back.
 *
 * Threads: pol->lock guards the list and every field of every server but
 * key (fixed at creation). Handles stay valid while referenced; a server
 * with no reference is freed only by policy_server_get's sweep or
 * policy_free.
 */
#include "stubd/upstream_policy.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "stubd/wire.h"

const char *const policy_strategy_names[POLICY_STRATEGY_COUNT_] = {
	[POLICY_FASTEST] = "fastest",
	[POLICY_ORDER] = "order",
};

const char *const policy_extra_names[POLICY_EXTRA_COUNT_] = {
	[POLICY_EXTRA_NONE] = "none",
	[POLICY_EXTRA_PROBE] = "probe",
	[POLICY_EXTRA_EXPLORE] = "explore",
};

const char *const policy_change_names[POLICY_CHANGE_COUNT_] = {
	[POLICY_SAME] = "same",
	[POLICY_WENT_DOWN] = "went down",
	[POLICY_CAME_UP] = "came up",
};

const char *const policy_state_names[POLICY_STATE_COUNT_] = {
	[POLICY_UP] = "up",
	[POLICY_DOWN] = "down",
	[POLICY_PROBING] = "probing",
};

/* Doublings past this change nothing: the RTO is at upstream-timeout long
 * before (100 ms << 9 > 30 s), and the shift stays well inside 64 bits. */
#define BACKOFF_MAX 16

struct policy_server {
	LIST_ENTRY(policy_server) link;
	struct route_server key;     /* fixed: read without the lock */
	unsigned refs;
	uint64_t unused_since;       /* when refs fell to 0 */

	/* RTT, RFC 6298 §2. */
	bool measured;
	uint32_t srtt_us;
	uint32_t rttvar_us;
	uint64_t sampled_at;
	unsigned backoff;            /* RTO doublings since the last sample */
	uint64_t backoff_at;         /* the last doubling or sample: Karn's epoch */

	/* Health. */
	bool replied;                /* any reply ever, and when the last came */
	uint64_t replied_at;
	bool down;
	uint64_t down_since;
	unsigned refused_row;        /* refusals since its last other reply */
	unsigned probe_interval;     /* ms from this probe to the next */
	uint64_t probe_due;
	bool probing;                /* a probe is waited on until probe_until */
	uint64_t probe_sent;
	uint64_t probe_until;

	/* Measuring it while another is asked first ("fastest"). */
	uint64_t explore_due;        /* 0 while never measured: due at once */
	bool exploring;
	uint64_t explore_sent;
	uint64_t explore_until;

	struct policy_counters counters;
	char last_failure[POLICY_FAILURE_MAX];
	uint64_t last_failure_at;
	struct policy_tls tls;
};

struct policy {
	pthread_mutex_t lock;
	unsigned timeout_ms;
	LIST_HEAD(, policy_server) servers;
};

static uint64_t min_u64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

int policy_strategy_parse(const char *text, enum policy_strategy *out)
{
	for (int i = 0; i < POLICY_STRATEGY_COUNT_; i++) {
		if (strcmp(text, policy_strategy_names[i]) == 0) {
			*out = (enum policy_strategy)i;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- the table ---------------------------------------------------------- */

struct policy *policy_new(unsigned timeout_ms)
{
	struct policy *pol = calloc(1, sizeof(*pol));
	if (!pol)
		return NULL;
	if (pthread_mutex_init(&pol->lock, NULL) != 0) {
		free(pol);
		return NULL;
	}
	pol->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	LIST_INIT(&pol->servers);
	return pol;
}

void policy_free(struct policy *pol)
{
	if (!pol)
		return;
	while (!LIST_EMPTY(&pol->servers)) {
		struct policy_server *s = LIST_FIRST(&pol->servers);
		LIST_REMOVE(s, link);
		free(s);
	}
	pthread_mutex_destroy(&pol->lock);
	free(pol);
}

void policy_set_timeout(struct policy *pol, unsigned timeout_ms)
{
	pthread_mutex_lock(&pol->lock);
	pol->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	pthread_mutex_unlock(&pol->lock);
}

struct policy_server *policy_server_get(struct policy *pol, const struct route_server *key,
					uint64_t now_ms)
{
	struct policy_server *found = NULL, *s, *next;
	LIST_HEAD(, policy_server) forgotten = LIST_HEAD_INITIALIZER(forgotten);

	/* Allocated before the lock and freed after it: used only when the
	 * server is new. */
	struct policy_server *fresh = calloc(1, sizeof(*fresh));
	pthread_mutex_lock(&pol->lock);
	for (s = LIST_FIRST(&pol->servers); s; s = next) {
		next = LIST_NEXT(s, link);
		if (!found && route_server_equal(&s->key, key)) {
			found = s;
			continue;
		}
		if (s->refs == 0 && now_ms - s->unused_since >= POLICY_FORGET_MS) {
			LIST_REMOVE(s, link);
			LIST_INSERT_HEAD(&forgotten, s, link);
		}
	}
	if (!found && fresh) {
		found = fresh;
		fresh = NULL;
		found->key = *key;
		LIST_INSERT_HEAD(&pol->servers, found, link);
	}
	if (found)
		found->refs++;
	pthread_mutex_unlock(&pol->lock);
	free(fresh);
	while (!LIST_EMPTY(&forgotten)) {
		s = LIST_FIRST(&forgotten);
		LIST_REMOVE(s, link);
		free(s);
	}
	return found;
}

void policy_server_put(struct policy *pol, struct policy_server *server, uint64_t now_ms)
{
	if (!server)
		return;
	pthread_mutex_lock(&pol->lock);
	if (server->refs > 0 && --server->refs == 0)
		server->unused_since = now_ms;
	pthread_mutex_unlock(&pol->lock);
}

const struct route_server *policy_server_key(const struct policy_server *server)
{
	return &server->key;
}

/* ---- RTT and RTO (pol->lock held) ---------------------------------------- */

/* RFC 6298 §2: RTO = SRTT + max(G, 4 RTTVAR), the initial RTO while
 * unmeasured, at least POLICY_RTO_MIN_MS (§2.4's floor), doubled per
 * backoff (§5.5), at most upstream-timeout (§2.5's ceiling). */
static unsigned rto_ms(const struct policy *pol, const struct policy_server *s)
{
	uint64_t top = pol->timeout_ms;
	uint64_t floor = min_u64(POLICY_RTO_MIN_MS, top);
	uint64_t base;

	if (!s->measured) {
		base = min_u64(POLICY_RTO_INITIAL_MS, top);
	} else {
		uint64_t var = 4 * (uint64_t)s->rttvar_us;
		if (var < POLICY_CLOCK_GRANULARITY_US)
			var = POLICY_CLOCK_GRANULARITY_US;
		base = (s->srtt_us + var + 999) / 1000;
	}
	if (base < floor)
		base = floor;
	return (unsigned)min_u64(base << s->backoff, top);
}

/* RFC 6298 §2.2 and §2.3, with §5.7: a sample ends the backoff. */
static void take_sample(struct policy_server *s, uint64_t sent_ms, uint64_t now_ms)
{
	uint64_t ms = now_ms > sent_ms ? now_ms - sent_ms : 0;
	uint32_t r = (uint32_t)min_u64(ms, POLICY_SAMPLE_MAX_MS) * 1000;

	if (!s->measured) {
		s->srtt_us = r;
		s->rttvar_us = r / 2;
		s->measured = true;
	} else {
		uint32_t delta = s->srtt_us > r ? s->srtt_us - r : r - s->srtt_us;
		/* RTTVAR first: it uses the SRTT before this sample. */
		s->rttvar_us = (uint32_t)(((uint64_t)s->rttvar_us * 3 + delta) / 4);
		s->srtt_us = (uint32_t)(((uint64_t)s->srtt_us * 7 + r) / 8);
	}
	s->sampled_at = now_ms;
	s->backoff = 0;
	s->backoff_at = now_ms;
	s->exploring = false;
	s->explore_due = now_ms + POLICY_EXPLORE_MS;
}

/* Karn's backoff, once per loss episode: tries sent before the last
 * doubling (a burst that went out together) time out together and
 * double it once, not once each. */
static void back_off(const struct policy *pol, struct policy_server *s, uint64_t sent_ms,
		     uint64_t now_ms)
{
	if (sent_ms < s->backoff_at)
		return;
	if (s->backoff < BACKOFF_MAX && rto_ms(pol, s) < pol->timeout_ms)
		s->backoff++;
	s->backoff_at = now_ms;
}

/* ---- health (pol->lock held) ----------------------------------------------- */

static void note_failure(struct policy_server *s, const char *why, uint64_t now_ms)
{
	snprintf(s->last_failure, sizeof(s->last_failure), "%s", why);
	s->last_failure_at = now_ms;
}

static enum policy_change go_down(struct policy_server *s, uint64_t now_ms)
{
	if (s->down)
		return POLICY_SAME;
	s->down = true;
	s->down_since = now_ms;
	s->probe_interval = POLICY_PROBE_FIRST_MS;
	s->probe_due = now_ms + POLICY_PROBE_FIRST_MS;
	s->probing = false;
	s->exploring = false;
	return POLICY_WENT_DOWN;
}

static enum policy_change come_up(struct policy_server *s)
{
	if (!s->down)
		return POLICY_SAME;
	s->down = false;
	s->probing = false;
	return POLICY_CAME_UP;
}

/* The try sent at sent_ms got no reply, or a broken one: the probe or
 * exploration it may have been is over, and the server is down unless it
 * replied to something since (a lost datagram, not a dead server). */
static enum policy_change trouble(struct policy_server *s, const char *why, uint64_t sent_ms,
				  uint64_t now_ms)
{
	note_failure(s, why, now_ms);
	if (s->probing && sent_ms >= s->probe_sent)
		s->probing = false;
	if (s->exploring && sent_ms >= s->explore_sent)
		s->exploring = false;
	if (s->replied && s->replied_at >= sent_ms)
		return POLICY_SAME;
	return go_down(s, now_ms);
}

/* A probe or exploration nobody reported on is over once its wait ends. */
static void lapse(struct policy_server *s, uint64_t now_ms)
{
	if (s->probing && now_ms >= s->probe_until)
		s->probing = false;
	if (s->exploring && now_ms >= s->explore_until)
		s->exploring = false;
}

/* ---- reports -------------------------------------------------------------- */

void policy_sent(struct policy *pol, struct policy_server *server, uint64_t now_ms)
{
	pthread_mutex_lock(&pol->lock);
	server->counters.questions++;
	pthread_mutex_unlock(&pol->lock);
}

static bool is_refusal(unsigned rcode)
{
	return rcode == WIRE_RCODE_REFUSED || rcode == WIRE_RCODE_NOTIMP ||
	       rcode == WIRE_RCODE_FORMERR;
}

enum policy_change policy_answered(struct policy *pol, struct policy_server *s, unsigned rcode,
				   uint64_t sent_ms, uint64_t now_ms)
{
	enum policy_change change = POLICY_SAME;

	pthread_mutex_lock(&pol->lock);
	s->replied = true;
	if (now_ms > s->replied_at)
		s->replied_at = now_ms;
	if (is_refusal(rcode)) {
		s->counters.refused++;
		s->refused_row++;
		note_failure(s, wire_rcode_name(rcode), now_ms);
		if (s->probing && sent_ms >= s->probe_sent)
			s->probing = false;
		if (s->refused_row >= POLICY_REFUSED_DOWN && !s->down) {
			char why[POLICY_FAILURE_MAX];
			snprintf(why, sizeof(why), "%s to %u questions in a row",
				 wire_rcode_name(rcode), s->refused_row);
			note_failure(s, why, now_ms);
			change = go_down(s, now_ms);
		}
		pthread_mutex_unlock(&pol->lock);
		return change;
	}
	s->counters.answers++;
	s->refused_row = 0;
	if (rcode == WIRE_RCODE_NOERROR || rcode == WIRE_RCODE_NXDOMAIN)
		take_sample(s, sent_ms, now_ms);
	change = come_up(s);
	pthread_mutex_unlock(&pol->lock);
	return change;
}

enum policy_change policy_timed_out(struct policy *pol, struct policy_server *s,
				    uint64_t sent_ms, uint64_t now_ms)
{
	pthread_mutex_lock(&pol->lock);
	s->counters.timeouts++;
	back_off(pol, s, sent_ms, now_ms);
	enum policy_change change = trouble(s, "timeout", sent_ms, now_ms);
	pthread_mutex_unlock(&pol->lock);
	return change;
}

enum policy_change policy_failed(struct policy *pol, struct policy_server *s, const char *why,
				 uint64_t sent_ms, uint64_t now_ms)
{
	pthread_mutex_lock(&pol->lock);
	s->counters.failures++;
	enum policy_change change = trouble(s, why && *why ? why : "failed", sent_ms, now_ms);
	pthread_mutex_unlock(&pol->lock);
	return change;
}

/* ---- choosing --------------------------------------------------------------- */

/* What choose needs of one server, copied under the lock and sorted after. */
struct candidate {
	size_t pos;
	struct policy_server *server;
	bool up;
	bool measured;
	unsigned srtt_ms;   /* whole ms: closer than that is a tie */
	unsigned rto_ms;
};

/* Whether a is asked before b. */
static bool ahead(const struct candidate *a, const struct candidate *b, enum policy_strategy st)
{
	if (st == POLICY_FASTEST) {
		/* Measured first: an unmeasured server is measured by an
		 * exploration, not by making a client wait on it. */
		if (a->measured != b->measured)
			return a->measured;
		if (a->measured && a->srtt_ms != b->srtt_ms)
			return a->srtt_ms < b->srtt_ms;
	}
	return a->pos < b->pos;
}

/* The down server whose probe is most overdue, if one is due and has none
 * in flight; reserved for this question. */
static struct candidate *reserve_probe(struct policy *pol, struct candidate *c, size_t n,
				       uint64_t now_ms, unsigned *wait_ms)
{
	struct candidate *best = NULL;
	for (size_t i = 0; i < n; i++) {
		struct policy_server *s = c[i].server;
		if (c[i].up || s->probing || now_ms < s->probe_due)
			continue;
		if (!best || s->probe_due < best->server->probe_due)
			best = &c[i];
	}
	if (!best)
		return NULL;
	struct policy_server *s = best->server;
	s->probe_interval = (unsigned)min_u64(2 * (uint64_t)s->probe_interval, POLICY_PROBE_MAX_MS);
	s->probe_due = now_ms + s->probe_interval;
	/* Waited on until the next is due at most: one in flight at a time. */
	*wait_ms = (unsigned)min_u64(pol->timeout_ms, s->probe_interval);
	s->probing = true;
	s->probe_sent = now_ms;
	s->probe_until = now_ms + *wait_ms;
	s->counters.probes++;
	return best;
}

/* The up server, other than the one asked first, whose RTT sample is the
 * most overdue, if one is due and has no exploration in flight. */
static struct candidate *reserve_exploration(struct policy *pol, struct candidate *c, size_t n,
					     const struct candidate *first, uint64_t now_ms,
					     unsigned *wait_ms)
{
	struct candidate *best = NULL;
	for (size_t i = 0; i < n; i++) {
		struct policy_server *s = c[i].server;
		if (&c[i] == first || !c[i].up || s->exploring || now_ms < s->explore_due)
			continue;
		if (!best || s->explore_due < best->server->explore_due)
			best = &c[i];
	}
	if (!best)
		return NULL;
	struct policy_server *s = best->server;
	*wait_ms = (unsigned)min_u64(pol->timeout_ms, POLICY_EXPLORE_MS);
	s->exploring = true;
	s->explore_sent = now_ms;
	s->explore_until = now_ms + *wait_ms;
	s->explore_due = now_ms + POLICY_EXPLORE_MS;
	s->counters.explorations++;
	return best;
}

void policy_choose(struct policy *pol, struct policy_server *const *servers, size_t n,
		   enum policy_strategy strategy, uint64_t now_ms, struct policy_plan *plan)
{
	struct candidate c[ROUTE_MAX_SERVERS];
	size_t k = 0, n_up = 0;
	const struct candidate *first = NULL;
	struct candidate *extra = NULL;
	unsigned extra_wait = 0;

	memset(plan, 0, sizeof(*plan));
	if (n > ROUTE_MAX_SERVERS)
		n = ROUTE_MAX_SERVERS;

	pthread_mutex_lock(&pol->lock);
	plan->listen_ms = pol->timeout_ms;
	for (size_t i = 0; i < n; i++) {
		struct policy_server *s = servers[i];
		if (!s)
			continue;
		lapse(s, now_ms);
		c[k] = (struct candidate){
			.pos = i,
			.server = s,
			.up = !s->down,
			.measured = s->measured,
			.srtt_ms = s->srtt_us / 1000,
			.rto_ms = rto_ms(pol, s),
		};
		n_up += c[k].up;
		k++;
	}
	plan->all_down = n_up == 0;
	for (size_t i = 0; i < k; i++)
		if ((c[i].up || plan->all_down) && (!first || ahead(&c[i], first, strategy)))
			first = &c[i];
	/* All down: every server is a client try anyway, nothing to add. */
	if (!plan->all_down) {
		enum policy_extra kind = POLICY_EXTRA_PROBE;
		extra = reserve_probe(pol, c, k, now_ms, &extra_wait);
		if (!extra && strategy == POLICY_FASTEST) {
			kind = POLICY_EXTRA_EXPLORE;
			extra = reserve_exploration(pol, c, k, first, now_ms, &extra_wait);
		}
		if (extra)
			plan->extra_kind = kind;
	}
	pthread_mutex_unlock(&pol->lock);

	if (extra)
		plan->extra = (struct policy_try){ .pos = extra->pos, .server = extra->server,
						   .wait_ms = extra_wait };
	/* Insertion sort of at most ROUTE_MAX_SERVERS, outside the lock. */
	const struct candidate *order[ROUTE_MAX_SERVERS];
	size_t m = 0;
	for (size_t i = 0; i < k; i++) {
		if (!c[i].up && !plan->all_down)
			continue;
		size_t j = m++;
		for (; j > 0 && ahead(&c[i], order[j - 1], strategy); j--)
			order[j] = order[j - 1];
		order[j] = &c[i];
	}
	for (size_t i = 0; i < m; i++)
		plan->tries[i] = (struct policy_try){ .pos = order[i]->pos, .server = order[i]->server,
						      .wait_ms = order[i]->rto_ms };
	plan->n_tries = m;
}

/* ---- status ------------------------------------------------------------------ */

void policy_status(struct policy *pol, struct policy_server *const *servers, size_t n,
		   uint64_t now_ms, struct policy_status *out)
{
	pthread_mutex_lock(&pol->lock);
	for (size_t i = 0; i < n; i++) {
		struct policy_server *s = servers[i];
		struct policy_status *st = &out[i];
		memset(st, 0, sizeof(*st));
		if (!s)
			continue;
		lapse(s, now_ms);
		st->state = !s->down ? POLICY_UP : s->probing ? POLICY_PROBING : POLICY_DOWN;
		st->measured = s->measured;
		st->srtt_us = s->srtt_us;
		st->rttvar_us = s->rttvar_us;
		st->rto_ms = rto_ms(pol, s);
		st->sampled_at_ms = s->sampled_at;
		st->down_since_ms = s->down ? s->down_since : 0;
		st->counters = s->counters;
		memcpy(st->last_failure, s->last_failure, sizeof(st->last_failure));
		st->last_failure_at_ms = s->last_failure_at;
		st->tls = s->tls;
	}
	pthread_mutex_unlock(&pol->lock);
}

bool policy_any_up(struct policy *pol, struct policy_server *const *servers, size_t n,
		   uint64_t now_ms)
{
	bool up = false;
	pthread_mutex_lock(&pol->lock);
	for (size_t i = 0; i < n && !up; i++) {
		if (!servers[i])
			continue;
		lapse(servers[i], now_ms);
		up = !servers[i]->down;
	}
	pthread_mutex_unlock(&pol->lock);
	return up;
}

void policy_reset_stats(struct policy *pol)
{
	struct policy_server *s;
	pthread_mutex_lock(&pol->lock);
	LIST_FOREACH(s, &pol->servers, link) {
		memset(&s->counters, 0, sizeof(s->counters));
		s->tls.connections = s->tls.handshakes = s->tls.resumptions = s->tls.queries = 0;
	}
	pthread_mutex_unlock(&pol->lock);
}

/* ---- DNS over TLS, for status ------------------------------------------- */

void policy_tls_connecting(struct policy *pol, struct policy_server *s)
{
	pthread_mutex_lock(&pol->lock);
	s->tls.connections++;
	pthread_mutex_unlock(&pol->lock);
}

void policy_tls_established(struct policy *pol, struct policy_server *s, const char *version,
			    const char *name, bool verified, bool resumed)
{
	pthread_mutex_lock(&pol->lock);
	s->tls.handshakes++;
	s->tls.resumptions += resumed;
	s->tls.verified = verified;
	s->tls.fallback = false;
	snprintf(s->tls.version, sizeof(s->tls.version), "%s", version);
	snprintf(s->tls.name, sizeof(s->tls.name), "%s", name);
	pthread_mutex_unlock(&pol->lock);
}

void policy_tls_sent(struct policy *pol, struct policy_server *s)
{
	pthread_mutex_lock(&pol->lock);
	s->tls.queries++;
	pthread_mutex_unlock(&pol->lock);
}

void policy_tls_failed(struct policy *pol, struct policy_server *s, const char *why,
		       uint64_t now_ms)
{
	pthread_mutex_lock(&pol->lock);
	note_failure(s, why, now_ms);
	pthread_mutex_unlock(&pol->lock);
}

void policy_tls_fallback(struct policy *pol, struct policy_server *s, bool on)
{
	pthread_mutex_lock(&pol->lock);
	s->tls.fallback = on;
	pthread_mutex_unlock(&pol->lock);
}
