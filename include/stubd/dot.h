/* dot.h - DNS over TLS to upstream servers (RFC 7858), for one event loop.
 *
 * Owns, per TLS server this loop asks, the connection that carries its
 * queries: opened on demand through libevent's OpenSSL bufferevent,
 * queries written while the handshake runs, many in flight at once and
 * answers matched by ID in any order (dnsstream.h), closed after
 * tls-idle-timeout with none in flight, the TLS session kept so that a
 * re-open resumes it, and a back-off when the server keeps failing. Also
 * owns the loop's SSL_CTX (TLS 1.2 at least, the trust store or
 * tls-ca-file) and the certificate check: OpenSSL's, for the server's
 * #NAME (also sent as SNI) or its address when it has none.
 *
 * Not decided here: which server to ask or when to give up on a query
 * (upstream.c and its policy). The caller hands in queries with a ticket
 * of its own and hears back through struct dot_ops, always from the
 * loop, never from inside dot_send(). A server is known by what it is
 * (route_server_equal), so its connection outlives the route tables that
 * name it: a network change does not cost a handshake.
 *
 * What a server's TLS did (connections, handshakes, resumptions, queries,
 * version, the name verified) goes to the shared policy, which status
 * reads; failures are the caller's to report.
 */
#ifndef STUBD_DOT_H
#define STUBD_DOT_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "stubd/dnsstream.h"
#include "stubd/route.h"
#include "stubd/upstream_policy.h"
#include "stubd/wire.h"

struct dot_client;
struct dot_server;
struct dot_conn;

/* A query in flight over TLS, embedded in the caller's try: the
 * connection and ID it went with (moved when it is sent again on a new
 * connection). conn is NULL when it is in flight nowhere. */
struct dot_ticket {
	struct dot_conn *conn;
	uint16_t id;
};

struct dot_ops {
	/* A message on ticket's connection answered its question (ID and
	 * question match); the ticket is out of flight already. */
	void (*answered)(struct dot_ticket *t, const uint8_t *msg, size_t len);
	/* The ticket's query is lost. setup: TLS could not be set up with
	 * the server (opportunistic mode may ask in plain text instead);
	 * else the connection failed later and the query was sent again
	 * once already. why: "TLS: certificate expired", ... */
	void (*failed)(struct dot_ticket *t, const char *why, bool setup);
};

struct dot_settings {
	const char *ca_file;        /* "" the system's trust store */
	unsigned idle_ms;           /* tls-idle-timeout */
	unsigned handshake_ms;      /* connect and handshake at most this (opportunistic);
				     * a message begun and not finished, as long */
	unsigned strict_handshake_ms; /* the same for dns-over-tls = yes */
	uint16_t edns_size;
};

/* A client for the loop of base, reporting to pol (borrowed). rand draws
 * query IDs. The caller owns the result (dot_client_free). NULL when
 * memory ran out. The settings come with dot_client_configure. */
struct dot_client *dot_client_new(struct event_base *base, struct policy *pol,
				  const struct dot_ops *ops, dnsstream_rand16_fn rand,
				  void *rand_arg);

/* Takes new settings. A new ca_file makes a new SSL_CTX for connections
 * opened from now on. Returns 0, or -EINVAL with why set when the CA file
 * cannot be loaded (the old context, if any, stays in use). */
int dot_client_configure(struct dot_client *c, const struct dot_settings *s, char *why,
			 size_t why_size);

/* Closes every connection (their queries are dropped without callbacks:
 * the caller is going too) and frees. Servers still held are freed too. */
void dot_client_free(struct dot_client *c);

/* The client's record of rs (route_server_equal; rs->tls is its mode),
 * made on first use, reporting to handle (the policy's, borrowed: the
 * caller's reference outlives its own). Returns a reference for
 * dot_server_put, or NULL when memory ran out. */
struct dot_server *dot_server_get(struct dot_client *c, const struct route_server *rs,
				  struct policy_server *handle);
void dot_server_put(struct dot_server *s); /* NULL ok */

/* False while TLS to s is backing off after failures to set it up: a
 * query then fails at once (yes) or goes in plain text (opportunistic).
 * why: the last failure, for the log. */
bool dot_server_ready(const struct dot_server *s, const char **why);

/* Sends q to s over TLS (padded, RFC 8467), opening a connection when
 * none is open, and sets *t. Callbacks for t come later, from the loop.
 * Returns 0; -EAGAIN while backing off (dot_server_ready); -ENOPROTOOPT
 * when no CA file could ever be loaded (no SSL_CTX); -EBUSY when a
 * connection holds DNSSTREAM_INFLIGHT_MAX queries already; -ENOMEM; or a
 * connect() error. */
int dot_send(struct dot_server *s, const struct wire_query *q, struct dot_ticket *t);

/* Takes t out of flight (its try gave up): no callback comes for it. */
void dot_cancel(struct dot_ticket *t);

#endif
