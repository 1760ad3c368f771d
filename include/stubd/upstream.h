/* upstream.h - the third stage: asks the upstream servers, asynchronously.
 *
 * The plumbing between a question and the servers: one transaction per
 * question sent upstream, its timers, its tries and the checks a reply must
 * pass before it is believed (RFC 5452: fresh random ID per try, random
 * source port, reply only from the server's address and port, same ID,
 * same question). Also owns, per server, the UDP channels that carry the
 * questions: a few connected sockets on random ports, each shared by many
 * questions at once and renewed after a few hundred, so a miss costs a send
 * and a share of a batched receive. UDP first; TC=1 means the same server
 * again over TCP (RFC 7766 §5).
 *
 * Which server to ask, how long to wait on it alone and whether it is up
 * is not decided here: the shared policy (upstream_policy.h) plans each
 * question, and every try's outcome is reported back to it. A transaction
 * may have several tries open at once (the next server is asked when a
 * try's wait passes, without giving up on the earlier ones), each with its
 * own ID; the first good answer wins.
 *
 * All I/O goes through libevent on the caller's event base; nothing
 * blocks. One struct upstream belongs to one event loop: there are no
 * locks here (the policy has its own).
 */
#ifndef STUBD_UPSTREAM_H
#define STUBD_UPSTREAM_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "stubd/config.h"
#include "stubd/netaddr.h"
#include "stubd/route.h"
#include "stubd/upstream_policy.h"
#include "stubd/wire.h"

/* A server of the table in force, as this loop's upstream stage knows it.
 * What is learnt about it (RTT, health, counters) lives in the policy,
 * behind its handle. */
struct dot_server;

struct upstream_server {
	struct netaddr addr;   /* for plain DNS (UDP, TCP): port 53 unless given */
	uint32_t scope_id;     /* IPv6 link-local: the interface */
	char tls_name[ROUTE_NAME_TEXT_MAX]; /* "#NAME", for DNS over TLS; "" none */
	char used_by[ROUTE_LABEL_MAX];      /* "global", "link wg0", ... (route.h) */
	char name[NETADDR_STRLEN];
	struct policy_server *policy;       /* held while the server set lives */
	enum route_tls tls;                 /* dns-over-tls where it came from */
	struct dot_server *dot;             /* its TLS, held; NULL when tls is no */
};

/* "192.0.2.1:53", or with its interface "[fe80::1%eth0]:53", or over TLS
 * "192.0.2.1:853#dns.example": how logs and status name a server. */
void upstream_server_name(const struct route_server *rs, char *buf, size_t size);

/* UDP channels per server. Each try goes out on one picked at random, so
 * an off-path spoofer must hit one of these live random ports as well as
 * the random ID (RFC 5452 §9.2; a fresh port per question would add only 3
 * bits more at 8). Few channels let one recvmmsg() collect several
 * replies. A power of two, so a random 16-bit draw picks one without bias. */
#define UPSTREAM_CHANNELS 8
/* Questions a channel carries before it is renewed: a fresh socket on a
 * fresh port takes its slot, and the old one is read until its questions
 * are answered or time out. The ports in use thus keep moving (RFC 5452
 * §9.2) while socket(), connect() and close() cost 1/256 of a question;
 * it also caps the questions in flight on one channel. */
#define UPSTREAM_CHANNEL_USES 256

struct upstream_stats {
	uint64_t mismatched;   /* replies dropped: late, or wrong ID or question */
	uint64_t malformed;    /* replies that matched but did not parse */
	uint64_t failed;       /* questions that got no answer from any server */
	uint64_t tcp_fallbacks; /* tries asked again over TCP after TC=1 */
};

enum upstream_status {
	UPSTREAM_ANSWER,       /* answer holds the stored-answer form (scrub.h) */
	UPSTREAM_FAILED,       /* every server failed or the deadline passed */
};

/* Called once per transaction unless it was cancelled first. answer is
 * valid only during the call; server is the one that answered, or NULL. */
typedef void (*upstream_done_fn)(void *arg, enum upstream_status status,
				 const uint8_t *answer, size_t answer_len,
				 const struct upstream_server *server);

struct upstream;
struct upstream_txn;

/* Creates the upstream stage with cfg's timeouts and strategy and no
 * servers yet (upstream_set_servers gives them), asking pol (shared by
 * every worker, borrowed: it must outlive the result) which server to ask.
 * The caller owns the result and frees it with upstream_free(). */
struct upstream *upstream_new(struct event_base *base, const struct config *cfg,
			      struct policy *pol);

/* Takes cfg's timeouts, strategy, sizes and TLS settings for new
 * questions (SIGHUP); the policy's upstream-timeout is the daemon's to
 * set. A tls-ca-file that cannot be loaded is logged, and the one before
 * stays in use. */
void upstream_configure(struct upstream *up, const struct config *cfg);

/* Takes the routing table's servers (route.h numbers them; routes refer
 * to them by index) for new questions; questions already sent finish with
 * the servers they started on. What the policy learnt carries over for
 * servers in both (it knows them by what they are). t is only read during the call. Returns 0 or -ENOMEM
 * (nothing changed). */
int upstream_set_servers(struct upstream *up, const struct route_table *t);

/* Cancels every transaction still open (no callbacks) and frees. NULL ok. */
void upstream_free(struct upstream *up);

/* Starts resolving q with route's servers (indices from the table last
 * given to upstream_set_servers; route is only read during the call).
 * Returns the transaction, owned by the upstream module until done is
 * called or upstream_cancel(); NULL when the route has no servers, no
 * server could be sent to, or memory ran out (the caller answers SERVFAIL
 * itself; done is never called then). */
struct upstream_txn *upstream_resolve(struct upstream *up, const struct wire_query *q,
				      const struct route *route, upstream_done_fn done, void *arg);

/* Stops a transaction; done will not be called. */
void upstream_cancel(struct upstream_txn *txn);

/* Zeroes the module's counters (reset-statistics); the servers' are the
 * policy's (policy_reset_stats). */
void upstream_reset_stats(struct upstream *up);

/* True when the policy has every server of the route down (or it has
 * none): questions would only wait for timeouts. */
bool upstream_route_down(const struct upstream *up, const struct route *route);

size_t upstream_server_count(const struct upstream *up);
const struct upstream_server *upstream_server_at(const struct upstream *up, size_t i);
const struct upstream_stats *upstream_get_stats(const struct upstream *up);

#endif
