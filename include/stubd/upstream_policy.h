/* upstream_policy.h - which upstream server to ask, and when to give up on one.
 *
 * Owns one table of upstream servers shared by every worker: per server
 * its round-trip time (Jacobson/Karels SRTT and RTTVAR, RFC 6298), its
 * retransmit timeout, its health (up, down, probing) and its counters.
 * From these it plans each question: the server to ask first, the order
 * of the others, how long each is waited on alone, and whether the
 * question also carries a probe to a down server or a measurement of a
 * slower one. The caller (upstream.c) sends, matches replies and reports
 * back what each try did; this module never sees a socket, a timer or
 * a clock: every call takes now_ms, a monotonic millisecond clock
 * (CLOCK_MONOTONIC), so scenario tests drive it with a fake one.
 *
 * Servers are known by what they are (address, port, IPv6 scope, TLS
 * name: route_server_equal), not by their index in a route table, so
 * what was learnt survives the rebuild of the table on every network
 * change: the caller looks each server of a new table up and holds the
 * handle it gets (policy_server_get/put).
 *
 * Threads: every function may be called from any thread. One mutex
 * guards the whole table; a call holds it once, for work of the order of
 * the servers of one route (at most ROUTE_MAX_SERVERS): no allocation,
 * no logging, no callback, no system call under it. Only
 * policy_server_get and policy_reset_stats walk the whole table, and
 * they run when routes change or an admin asks, not per question. What a call learns that is worth a log line
 * (a server went down or came back) is returned, and the caller logs it.
 *
 * How the caller uses it, per question:
 *   1. policy_choose() with the route's handles in configured order; it
 *      fills a plan.
 *   2. Send to plan.tries[0] and, if plan.extra_kind is not NONE, to
 *      plan.extra at once; call policy_sent() for every try sent (a try
 *      that cannot be sent is a policy_failed() instead).
 *   3. When a client try's wait_ms passes with no reply, report
 *      policy_timed_out() and send to the next of plan.tries without
 *      cancelling the earlier tries: their replies are still matched
 *      (each try has its own ID) and the first good answer wins. The
 *      extra try's wait_ms is reported the same way; no one waits on it.
 *      A try that has no reply by plan.listen_ms after its send is
 *      forgotten.
 *   4. Every reply that matched a try (ID and question) and parsed, late
 *      ones too, goes to policy_answered() with its rcode and the send
 *      time of the try it answers; a reply that matched but did not parse
 *      goes to policy_failed(). Which rcodes count against a server is
 *      decided here, not by the caller.
 */
#ifndef STUBD_UPSTREAM_POLICY_H
#define STUBD_UPSTREAM_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/route.h"

/* ---- the constants, and why ------------------------------------------- */

/* Lowest retransmit timeout (or upstream-timeout, when lower). RFC 6298's
 * 1 s is for TCP; for DNS Unbound uses 50 ms against authoritative
 * servers. Our upstreams are recursive resolvers: one that answers from
 * its cache in 1 ms still takes tens of ms to fetch a name it lacks
 * (a home router forwarding to its ISP), and Wi-Fi power saving adds
 * spikes of that size. A floor of 100 ms keeps such a LAN server from
 * being hedged on for every uncached name, while a dead one costs the
 * first client that meets it at most 100 ms plus the next server's RTT. */
#define POLICY_RTO_MIN_MS 100
/* The retransmit timeout of a server not yet measured (or
 * upstream-timeout, when lower): RFC 6298 §2.1's 1 s. Lower would hedge
 * on every far server (a satellite path with a recursion behind it
 * takes most of a second); it is paid once, as the first answer
 * measures the server. */
#define POLICY_RTO_INITIAL_MS 1000
/* RFC 6298 §2's G, the clock granularity: RTO = SRTT + max(G, 4 RTTVAR). */
#define POLICY_CLOCK_GRANULARITY_US 1000
/* Longer round trips are taken as this (a caller's bad send time must not
 * wreck the average). Above any upstream-timeout. */
#define POLICY_SAMPLE_MAX_MS 60000

/* A down server's first probe is due this long after it went down; each
 * probe doubles the interval to the next, up to POLICY_PROBE_MAX_MS. A
 * probe is one extra copy of a client's question, sent beside the
 * client's own try: a dead server costs one datagram per interval, and
 * a server that recovers is asked first again at most
 * POLICY_PROBE_MAX_MS plus its RTT after it recovered (given a question
 * to carry the probe): within 10 s, where systemd-resolved's failover
 * has been seen to take 26 s. */
#define POLICY_PROBE_FIRST_MS 1000
#define POLICY_PROBE_MAX_MS 8000
/* Under "fastest", an up server that is not the one asked first is
 * measured again when its last RTT sample is this old (at once when it
 * has none): one extra copy of a question, at most one in flight per
 * server, so the others' SRTTs stay at most about 5 s old and a server
 * that became faster is noticed within that. */
#define POLICY_EXPLORE_MS 5000
/* REFUSED (or NOTIMP, FORMERR) for this many replies in a row, with no
 * other reply between, marks a server down: it will not serve us (an
 * access list, a server for another network). Fewer could be a
 * filtering resolver refusing a run of blocked names, which a good
 * answer between resets. */
#define POLICY_REFUSED_DOWN 10
/* A server no route uses any more is remembered this long (a VPN that
 * reconnects, a Wi-Fi roam), then forgotten. */
#define POLICY_FORGET_MS (10 * 60 * 1000)

/* ---- strategies ------------------------------------------------------- */

/* upstream-strategy: "fastest" asks first the up server with the lowest
 * SRTT and keeps the others measured; "order" the first up server in
 * configured order (dnsmasq's strict-order). */
enum policy_strategy {
	POLICY_FASTEST,
	POLICY_ORDER,
	POLICY_STRATEGY_COUNT_,
};
extern const char *const policy_strategy_names[POLICY_STRATEGY_COUNT_];

/* Parses "fastest" or "order"; returns 0 or -EINVAL. */
int policy_strategy_parse(const char *text, enum policy_strategy *out);

/* ---- the table and its handles ---------------------------------------- */

struct policy;
struct policy_server; /* a handle: one server, stable across route tables */

/* A table whose retransmit timeouts are bounded above by timeout_ms
 * (upstream-timeout). The caller owns it: policy_free(). NULL when memory
 * runs out. */
struct policy *policy_new(unsigned timeout_ms);

/* Frees the table and every server in it, held or not: handles are
 * invalid afterwards. NULL ok. */
void policy_free(struct policy *pol);

/* A new upstream-timeout (reload): bounds every server's RTO from now on. */
void policy_set_timeout(struct policy *pol, unsigned timeout_ms);

/* The handle of the server key names (route_server_equal), with what was
 * learnt about it when it is known, else a fresh one. Adds a reference:
 * the caller gives it back with policy_server_put(). key is only read
 * during the call. Also forgets servers unused for POLICY_FORGET_MS.
 * NULL when memory runs out. */
struct policy_server *policy_server_get(struct policy *pol, const struct route_server *key,
					uint64_t now_ms);

/* Gives a reference back. A server with none left is kept, with all it
 * learnt, for POLICY_FORGET_MS, and found again by policy_server_get()
 * meanwhile; so a worker may put its old table's handles before or
 * after it gets the new table's. NULL ok. */
void policy_server_put(struct policy *pol, struct policy_server *server, uint64_t now_ms);

/* What the server is; fixed for the handle's life, read without the lock. */
const struct route_server *policy_server_key(const struct policy_server *server);

/* ---- choosing --------------------------------------------------------- */

/* One try of a plan. */
struct policy_try {
	size_t pos;                    /* index into the servers given to policy_choose */
	struct policy_server *server;  /* that handle, borrowed */
	unsigned wait_ms;              /* waited on alone this long after its send: then
					  policy_timed_out() and the next try */
};

enum policy_extra {
	POLICY_EXTRA_NONE,
	POLICY_EXTRA_PROBE,    /* to a down server: up again if it answers */
	POLICY_EXTRA_EXPLORE,  /* to a slower up server, to keep its RTT fresh */
	POLICY_EXTRA_COUNT_,
};
extern const char *const policy_extra_names[POLICY_EXTRA_COUNT_];

struct policy_plan {
	/* The client's tries, in order: tries[0] at once, each next one when
	 * the one before has had its wait_ms (or failed). Only up servers;
	 * every server when all are down (all_down), rather than failing at
	 * once. Empty only when no server was given. */
	struct policy_try tries[ROUTE_MAX_SERVERS];
	size_t n_tries;
	bool all_down;
	/* A copy of the question sent with tries[0] to another server. The
	 * client never waits on it, but its answer may win the question. */
	enum policy_extra extra_kind;
	struct policy_try extra;       /* set when extra_kind is not NONE */
	/* Replies to any try are used up to this long after its send
	 * (upstream-timeout), late ones included. */
	unsigned listen_ms;
};

/* Plans one question to servers (n handles in configured order, as the
 * route lists them; at most ROUTE_MAX_SERVERS are read). "fastest" puts
 * first the up server with the lowest SRTT (measured before unmeasured,
 * a tie in whole ms going to configured order); "order" the first up
 * server. A probe or exploration it plans is reserved for this question:
 * a burst at the moment one is due carries exactly one; it is over when
 * its outcome is reported or, if none is, when its wait_ms has passed.
 * Never fails. */
void policy_choose(struct policy *pol, struct policy_server *const *servers, size_t n,
		   enum policy_strategy strategy, uint64_t now_ms, struct policy_plan *plan);

/* ---- what happened ------------------------------------------------------ */

/* What a report changed, for the caller to log (outside the lock). */
enum policy_change {
	POLICY_SAME,
	POLICY_WENT_DOWN,  /* the reason is in its status' last_failure */
	POLICY_CAME_UP,
	POLICY_CHANGE_COUNT_,
};
extern const char *const policy_change_names[POLICY_CHANGE_COUNT_];

/* A try went out to server (counted as a question). */
void policy_sent(struct policy *pol, struct policy_server *server, uint64_t now_ms);

/* A reply from server matched the try sent at sent_ms and parsed, with
 * rcode (wire.h). NOERROR and NXDOMAIN are answers: an RTT sample
 * (now_ms - sent_ms; the try is known by its ID, so a late answer
 * measures truly, RFC 6298 §3's ambiguity does not arise) and the server
 * is up. SERVFAIL and other rcodes about the name: the server works, it
 * is up, no sample (a resolver's SERVFAIL takes as long as its own
 * upstreams made it, nothing to do with the path to it). REFUSED, NOTIMP
 * and FORMERR: no sample, and POLICY_REFUSED_DOWN of them in a row mark
 * the server down. */
enum policy_change policy_answered(struct policy *pol, struct policy_server *server,
				   unsigned rcode, uint64_t sent_ms, uint64_t now_ms);

/* The try sent at sent_ms had no reply within its wait_ms. Karn's
 * backoff (RFC 6298 §5.5): the RTO doubles, once for all tries sent
 * before the last doubling, up to upstream-timeout; an RTT sample
 * collapses it again. The server goes down, unless it has replied to
 * anything since sent_ms: then this was a lost datagram, not a dead
 * server. */
enum policy_change policy_timed_out(struct policy *pol, struct policy_server *server,
				    uint64_t sent_ms, uint64_t now_ms);

/* The try sent at sent_ms failed: it could not be sent, the network said
 * no (ICMP unreachable, a refused or reset TCP connection), or the reply
 * matched but did not parse. why is kept for status ("connection
 * refused"; cut to fit). The server goes down unless it has replied to
 * anything since sent_ms. */
enum policy_change policy_failed(struct policy *pol, struct policy_server *server,
				 const char *why, uint64_t sent_ms, uint64_t now_ms);

/* ---- status --------------------------------------------------------------- */

enum policy_state {
	POLICY_UP,
	POLICY_DOWN,
	POLICY_PROBING,    /* down, with its one probe in flight */
	POLICY_STATE_COUNT_,
};
extern const char *const policy_state_names[POLICY_STATE_COUNT_]; /* "up", "down", "probing" */

struct policy_counters {
	uint64_t questions;    /* tries sent, probes and explorations included */
	uint64_t answers;      /* replies with an rcode the server stands by (not refusals) */
	uint64_t refused;      /* REFUSED, NOTIMP, FORMERR replies */
	uint64_t timeouts;
	uint64_t failures;     /* network errors, unparsable replies */
	uint64_t probes;
	uint64_t explorations;
};

#define POLICY_FAILURE_MAX 64

/* What DNS over TLS did with a server (dot.h reports it), for status. */
struct policy_tls {
	uint64_t connections;   /* opened, or tried */
	uint64_t handshakes;    /* completed */
	uint64_t resumptions;   /* handshakes that resumed a session */
	uint64_t queries;       /* sent over TLS */
	bool fallback;          /* opportunistic: asked in plain text for now */
	bool verified;          /* the last handshake's certificate passed the check */
	char version[16];       /* the last handshake's, "TLSv1.3"; "" none yet */
	char name[ROUTE_NAME_TEXT_MAX]; /* what its certificate was checked for */
};

void policy_tls_connecting(struct policy *pol, struct policy_server *s);
void policy_tls_established(struct policy *pol, struct policy_server *s, const char *version,
			    const char *name, bool verified, bool resumed);
void policy_tls_sent(struct policy *pol, struct policy_server *s);
/* A TLS connection failed (why: "TLS: certificate expired"): shown as the
 * server's last failure, even when no question waited on it (another
 * server answered first) or it is asked in plain text instead. Counts
 * nothing against its health: the tries that fail say that. */
void policy_tls_failed(struct policy *pol, struct policy_server *s, const char *why,
		       uint64_t now_ms);
/* Opportunistic mode: TLS could not be set up and the server is asked in
 * plain text (on), or TLS works again (off). */
void policy_tls_fallback(struct policy *pol, struct policy_server *s, bool on);

struct policy_status {
	enum policy_state state;
	bool measured;          /* false: no RTT sample yet; srtt_us and rttvar_us are 0 */
	uint32_t srtt_us;
	uint32_t rttvar_us;
	unsigned rto_ms;        /* what a try would wait on it now */
	uint64_t sampled_at_ms; /* the last RTT sample, when measured */
	uint64_t down_since_ms; /* when down or probing */
	struct policy_counters counters;
	char last_failure[POLICY_FAILURE_MAX]; /* "timeout", "connection refused", ...; "" none yet */
	uint64_t last_failure_at_ms;           /* its age is now - this */
	struct policy_tls tls;
};

/* The status of n servers into out[n], one lock for all: the caller
 * passes the handles of the current route table, so status shows its
 * servers only, in its order. */
void policy_status(struct policy *pol, struct policy_server *const *servers, size_t n,
		   uint64_t now_ms, struct policy_status *out);

/* Whether any of the n servers is up now (not down, not probing): what
 * serve-stale asks on every miss, so it copies no status. */
bool policy_any_up(struct policy *pol, struct policy_server *const *servers, size_t n,
		   uint64_t now_ms);

/* Zeroes every server's counters (reset-statistics); RTTs, health and
 * the last failure stay, they are not counts. */
void policy_reset_stats(struct policy *pol);

#endif
