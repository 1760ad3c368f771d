/* dot.c - DNS over TLS connections to upstream servers. See dot.h.
 *
 * One connection per server at a time carries every query of this loop
 * to it (RFC 7858 §3.4: reuse, pipelining, answers out of order). Bytes
 * are cut into messages and matched to queries by dnsstream.c; this file
 * is the socket, TLS and timer side of it.
 */
#include "stubd/dot.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event_struct.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include "stubd/clock.h"
#include "stubd/log.h"

/* A question as it goes on the stream: header, name, type, class, an OPT
 * record, padding to the next 128 bytes, the length prefix. */
#define DOT_QUERY_MAX (DNSSTREAM_PREFIX_LEN + WIRE_HEADER_LEN + WIRE_NAME_MAX + 4 + WIRE_OPT_LEN + 4 + DNSSTREAM_PAD_BLOCK)
/* Back-off after TLS to a server could not be set up: the first retry
 * after this, doubling with each failure in a row, up to the cap. A dead
 * server then costs a connect() a minute, not one per question. */
#define BACKOFF_FIRST_MS 1000
#define BACKOFF_MAX_MS 60000
#define WHY_MAX POLICY_FAILURE_MAX

struct dot_client {
	struct event_base *base;
	struct policy *pol;
	const struct dot_ops *ops;
	dnsstream_rand16_fn rand;
	void *rand_arg;
	SSL_CTX *ctx;
	char ca_file[4096];
	struct dot_settings set;
	LIST_HEAD(, dot_server) servers;
};

struct dot_server {
	struct dot_client *client;
	LIST_ENTRY(dot_server) link;
	unsigned holders;            /* dot_server_get()s not yet put */
	struct route_server rs;
	struct netaddr addr;         /* where TLS goes: port 853 unless given */
	char name[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX]; /* for logs */
	struct policy_server *handle; /* NULL once no holder is left: it may be gone */
	struct dot_conn *conn;       /* the one taking new queries, or NULL */
	SSL_SESSION *session;        /* the last one the server gave: resumed on re-open */
	unsigned fail_row;           /* set-up failures in a row */
	uint64_t retry_at_ms;        /* backing off until then */
	char last_why[WHY_MAX];
};

struct dot_conn {
	struct dot_server *server;
	struct bufferevent *bev;
	SSL *ssl;
	bool established;            /* the handshake completed */
	bool dead;                   /* closed: its queries are being handed on */
	struct event timer;          /* handshake deadline, then idle timeout */
	struct dnsstream_table *inflight;
	struct dnsstream_reader reader;
};

static struct timeval tv_ms(unsigned ms)
{
	return (struct timeval){ .tv_sec = ms / 1000, .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
}

/* ---- the SSL_CTX ----------------------------------------------------- */

/* The session the server just gave (TLS 1.3 sends it after the
 * handshake): kept on the server for the next connection. */
static int on_new_session(SSL *ssl, SSL_SESSION *session)
{
	struct dot_conn *conn = SSL_get_app_data(ssl);
	if (!conn)
		return 0;
	SSL_SESSION_free(conn->server->session);
	conn->server->session = session;
	return 1; /* we keep the reference */
}

static SSL_CTX *ctx_new(const char *ca_file, char *why, size_t why_size)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		snprintf(why, why_size, "cannot make a TLS context: out of memory");
		return NULL;
	}
	/* RFC 8310 §9: TLS 1.2 at least; 1.3 is preferred by the handshake. */
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, on_new_session);
	int ok = ca_file[0] ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
			    : SSL_CTX_set_default_verify_paths(ctx);
	if (ok != 1) {
		unsigned long e = ERR_get_error();
		snprintf(why, why_size, "tls-ca-file %s: cannot load it: %s",
			 ca_file[0] ? ca_file : "(the system's trust store)",
			 e ? ERR_reason_error_string(e) : "unknown error");
		ERR_clear_error();
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* ---- the client -------------------------------------------------------- */

struct dot_client *dot_client_new(struct event_base *base, struct policy *pol,
				  const struct dot_ops *ops, dnsstream_rand16_fn rand,
				  void *rand_arg)
{
	struct dot_client *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->base = base;
	c->pol = pol;
	c->ops = ops;
	c->rand = rand;
	c->rand_arg = rand_arg;
	LIST_INIT(&c->servers);
	return c;
}

int dot_client_configure(struct dot_client *c, const struct dot_settings *s, char *why,
			 size_t why_size)
{
	c->set = *s;
	c->set.ca_file = NULL; /* not kept: ca_file below is */
	if (c->ctx && strcmp(c->ca_file, s->ca_file) == 0)
		return 0;
	SSL_CTX *ctx = ctx_new(s->ca_file, why, why_size);
	if (!ctx)
		return -EINVAL;
	SSL_CTX_free(c->ctx); /* connections hold their own reference */
	c->ctx = ctx;
	snprintf(c->ca_file, sizeof(c->ca_file), "%s", s->ca_file);
	return 0;
}

/* ---- connections --------------------------------------------------------- */

static void server_maybe_free(struct dot_server *s);

/* Closes the socket and stops the timer; the struct and its table stay,
 * so tickets still pointing here can be cancelled while the dead
 * connection's queries are handed on (conn_fail). */
static void conn_close(struct dot_conn *conn)
{
	struct dot_server *s = conn->server;
	if (s->conn == conn)
		s->conn = NULL;
	conn->dead = true;
	event_del(&conn->timer);
	/* close_notify (RFC 8446 §6.1), best effort: without it OpenSSL
	 * marks the session not resumable, and the next connection would
	 * pay a full handshake. */
	if (conn->established)
		SSL_shutdown(conn->ssl);
	ERR_clear_error();
	/* Frees the SSL too (BEV_OPT_CLOSE_ON_FREE). */
	bufferevent_free(conn->bev);
	conn->bev = NULL;
}

static void conn_free(struct dot_conn *conn)
{
	struct dot_server *s = conn->server;
	if (!conn->dead)
		conn_close(conn);
	dnsstream_table_free(conn->inflight);
	free(conn);
	server_maybe_free(s);
}

/* After the handshake the timer watches two things: a message begun and
 * not finished (a server that sent a length of 65,535 and stopped would
 * otherwise hold every later query on this connection), then, with no
 * query in flight, the idle timeout. */
static void conn_arm(struct dot_conn *conn)
{
	const struct dot_settings *set = &conn->server->client->set;
	if (!conn->established || conn->dead)
		return; /* the handshake's deadline stands */
	struct timeval tv;
	if (dnsstream_reader_pending(&conn->reader) > 0)
		tv = tv_ms(set->handshake_ms);
	else if (dnsstream_count(conn->inflight) == 0)
		tv = tv_ms(set->idle_ms);
	else {
		event_del(&conn->timer);
		return;
	}
	event_add(&conn->timer, &tv);
}

/* The server's address alone, as a certificate's IP entry holds it. */
static void ip_str(const struct netaddr *a, char *buf, size_t size)
{
	const struct sockaddr_storage *ss = &a->ss;
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, buf, (socklen_t)size);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, buf, (socklen_t)size);
}

/* The certificate check, OpenSSL's (RFC 8310 §8.1): the name as SNI and
 * as what the certificate must carry, or the address when there is none. */
static int conn_set_peer(struct dot_conn *conn, const struct dot_server *s)
{
	SSL *ssl = conn->ssl;
	bool strict = s->rs.tls == ROUTE_TLS_YES;
	/* Opportunistic: the check still runs, for status, but does not stop
	 * the handshake (RFC 8310 §5: unauthenticated encryption beats none). */
	SSL_set_verify(ssl, strict ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (s->rs.tls_name[0]) {
		SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
		if (SSL_set1_host(ssl, s->rs.tls_name) != 1 ||
		    SSL_set_tlsext_host_name(ssl, s->rs.tls_name) != 1)
			return -EINVAL;
		return 0;
	}
	char ip[INET6_ADDRSTRLEN];
	ip_str(&s->addr, ip, sizeof(ip));
	return X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), ip) == 1 ? 0 : -EINVAL;
}

/* Why the handshake failed, in words a user can act on. */
static void setup_why(struct dot_conn *conn, short what, char *why, size_t size)
{
	long v = conn->ssl ? SSL_get_verify_result(conn->ssl) : X509_V_OK;
	unsigned long e = bufferevent_get_openssl_error(conn->bev);
	int sock_err = EVUTIL_SOCKET_ERROR();
	if (v != X509_V_OK && conn->server->rs.tls == ROUTE_TLS_YES) {
		switch (v) {
		case X509_V_ERR_CERT_HAS_EXPIRED:
			snprintf(why, size, "TLS: certificate expired");
			return;
		case X509_V_ERR_CERT_NOT_YET_VALID:
			snprintf(why, size, "TLS: certificate not yet valid");
			return;
		case X509_V_ERR_HOSTNAME_MISMATCH:
		case X509_V_ERR_IP_ADDRESS_MISMATCH:
			snprintf(why, size, "TLS: certificate name mismatch");
			return;
		case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
		case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
			snprintf(why, size, "TLS: unknown CA");
			return;
		default:
			snprintf(why, size, "TLS: certificate: %s", X509_verify_cert_error_string(v));
			return;
		}
	}
	/* On a socket error libevent keeps SSL_get_error()'s code here, not
	 * an OpenSSL error: only a code OpenSSL can name is its reason. */
	const char *reason = e ? ERR_reason_error_string(e) : NULL;
	if (reason) {
		snprintf(why, size, "TLS: handshake failed (%s)", reason);
		return;
	}
	/* A refused connect comes as an end of stream (EOF, no ERROR) with
	 * the socket's error left in errno. */
	if (sock_err == ECONNREFUSED) {
		snprintf(why, size, "TLS: connection refused");
		return;
	}
	if (sock_err == ECONNRESET || sock_err == ETIMEDOUT || sock_err == EHOSTUNREACH ||
	    sock_err == ENETUNREACH || ((what & BEV_EVENT_ERROR) && sock_err)) {
		snprintf(why, size, "TLS: %s", strerror(sock_err));
		return;
	}
	snprintf(why, size, "TLS: handshake failed (connection closed)");
}

static struct dot_conn *conn_open(struct dot_server *s, int *err);

/* Puts q in flight on conn (again, when again is the query taken from a
 * dead connection) and writes it, padded (RFC 8467 §4.1). */
static int conn_send(struct dot_conn *conn, const struct wire_query *q, struct dot_ticket *t,
		     const struct dnsstream_query *again)
{
	struct dot_client *c = conn->server->client;
	uint8_t plain[DOT_QUERY_MAX], out[DOT_QUERY_MAX];
	size_t plain_len, out_len;
	uint16_t id;
	int err = again ? dnsstream_resend(conn->inflight, again, &id)
			: dnsstream_add(conn->inflight, q, t, &id);
	if (err < 0)
		return err;
	plain_len = wire_build_upstream_query(plain, sizeof(plain), 0, q, c->set.edns_size);
	err = dnsstream_prepare(out, sizeof(out), plain, plain_len, id, c->set.edns_size, &out_len);
	if (err == 0 && bufferevent_write(conn->bev, out, out_len) < 0)
		err = -ENOMEM;
	if (err < 0) {
		dnsstream_remove(conn->inflight, id, t, NULL);
		return err;
	}
	t->conn = conn;
	t->id = id;
	/* No idle close now; a handshake or a message half read keeps its deadline. */
	if (conn->established && dnsstream_reader_pending(&conn->reader) == 0)
		event_del(&conn->timer);
	if (conn->server->handle)
		policy_tls_sent(c->pol, conn->server->handle);
	return 0;
}

/* The queries of a dead connection (closed already): sent again once on
 * a new one (RFC 7766 §6.2.1: a server may close at any time); those
 * sent again already, or that cannot be, fail. Callbacks may cancel
 * queries still on dead: they leave its table, and get no call. */
static void conn_resend_all(struct dot_server *s, struct dot_conn *dead, const char *why)
{
	struct dnsstream_query dq;
	const struct dot_ops *ops = s->client->ops;
	int err = 0;
	while (dnsstream_take(dead->inflight, &dq)) {
		struct dot_ticket *t = dq.owner;
		t->conn = NULL;
		struct dot_conn *conn = s->conn;
		if (!conn && !dq.resent)
			conn = conn_open(s, &err);
		if (conn && conn_send(conn, &dq.q, t, &dq) == 0)
			continue;
		ops->failed(t, why, false);
	}
}

/* The connection failed: before the handshake completed (set-up: back
 * off, every query fails as set-up failures), or after (its queries are
 * sent again once). */
static void conn_fail(struct dot_conn *conn, const char *why)
{
	struct dot_server *s = conn->server;
	const struct dot_ops *ops = s->client->ops;
	bool setup = !conn->established;
	snprintf(s->last_why, sizeof(s->last_why), "%s", why);
	if (s->handle)
		policy_tls_failed(s->client->pol, s->handle, why, clock_mono_ms());
	if (setup) {
		unsigned shift = s->fail_row < 6 ? s->fail_row : 6;
		uint64_t wait = (uint64_t)BACKOFF_FIRST_MS << shift;
		s->fail_row++;
		s->retry_at_ms = clock_mono_ms() + (wait < BACKOFF_MAX_MS ? wait : BACKOFF_MAX_MS);
		log_warn("upstream %s: TLS failed: %s; %s", s->name, why + (strncmp(why, "TLS: ", 5) ? 0 : 5),
			 s->rs.tls == ROUTE_TLS_YES
				 ? "not asked in plain text (dns-over-tls = yes)"
				 : "asking it in plain text until TLS works (dns-over-tls = opportunistic)");
	} else {
		log_info("upstream %s: TLS connection ended: %s", s->name, why);
	}
	/* Off the server first: callbacks see a server with no connection.
	 * The server stays while its queries are handed on. */
	s->holders++;
	conn_close(conn);
	if (setup) {
		struct dnsstream_query dq;
		while (dnsstream_take(conn->inflight, &dq)) {
			struct dot_ticket *t = dq.owner;
			t->conn = NULL;
			ops->failed(t, why, true);
		}
	} else {
		conn_resend_all(s, conn, why);
	}
	conn_free(conn);
	dot_server_put(s);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct dot_conn *conn = arg;
	if (!conn->established) {
		conn_fail(conn, "TLS: handshake timeout");
		return;
	}
	if (dnsstream_reader_pending(&conn->reader) > 0) {
		conn_fail(conn, "TLS: a reply stalled half sent");
		return;
	}
	if (dnsstream_count(conn->inflight) == 0) {
		log_debug("upstream %s: closing the idle TLS connection", conn->server->name);
		conn_free(conn);
	}
}

static void conn_established(struct dot_conn *conn)
{
	struct dot_server *s = conn->server;
	conn->established = true;
	s->fail_row = 0;
	s->retry_at_ms = 0;
	event_del(&conn->timer);
	long v = SSL_get_verify_result(conn->ssl);
	char name[ROUTE_NAME_TEXT_MAX];
	if (s->rs.tls_name[0])
		snprintf(name, sizeof(name), "%s", s->rs.tls_name);
	else
		ip_str(&s->addr, name, sizeof(name));
	bool resumed = SSL_session_reused(conn->ssl) == 1;
	if (s->handle)
		policy_tls_established(s->client->pol, s->handle, SSL_get_version(conn->ssl), name,
				       v == X509_V_OK, resumed);
	if (v != X509_V_OK)
		log_warn("upstream %s: TLS without a verified certificate (%s): encrypted, not "
			 "authenticated (dns-over-tls = opportunistic)", s->name,
			 X509_verify_cert_error_string(v));
	log_debug("upstream %s: %s connection up%s", s->name, SSL_get_version(conn->ssl),
		  resumed ? ", session resumed" : "");
	conn_arm(conn);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct dot_conn *conn = arg;
	char why[WHY_MAX];
	if (what & BEV_EVENT_CONNECTED) {
		conn_established(conn);
		return;
	}
	if (!conn->established) {
		setup_why(conn, what, why, sizeof(why));
	} else if (what & BEV_EVENT_EOF) {
		size_t pending = dnsstream_reader_pending(&conn->reader);
		if (pending)
			snprintf(why, sizeof(why), "TLS: connection closed with a message half read");
		else
			snprintf(why, sizeof(why), "TLS: connection closed");
	} else {
		unsigned long e = bufferevent_get_openssl_error(bev);
		if (e)
			snprintf(why, sizeof(why), "TLS: %s", ERR_reason_error_string(e));
		else
			snprintf(why, sizeof(why), "TLS: %s", strerror(EVUTIL_SOCKET_ERROR()));
	}
	ERR_clear_error();
	if (conn->established && dnsstream_count(conn->inflight) == 0) {
		/* The server closed an idle connection (its own idle timeout):
		 * nothing is lost, the next query opens another. */
		log_debug("upstream %s: the server closed the idle TLS connection", conn->server->name);
		conn_free(conn);
		return;
	}
	conn_fail(conn, why);
}

/* Feeds the stream to the reader; every whole message goes to the query
 * it answers. */
static void on_read(struct bufferevent *bev, void *arg)
{
	struct dot_conn *conn = arg;
	struct dot_server *s = conn->server;
	struct evbuffer *in = bufferevent_get_input(bev);
	const struct dot_ops *ops = s->client->ops;

	/* Answers may end other questions and start new ones: the
	 * connection stays while this runs (it is only freed from its own
	 * callbacks and the client's end). */
	while (evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v;
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1)
			break;
		size_t used = 0;
		const uint8_t *msg;
		size_t len;
		int r = dnsstream_read(&conn->reader, v.iov_base, v.iov_len, &used, &msg, &len);
		if (r < 0) {
			conn_fail(conn, "TLS: bad length prefix");
			return;
		}
		if (r == 1) {
			struct dnsstream_query dq;
			if (dnsstream_match(conn->inflight, msg, len, &dq)) {
				struct dot_ticket *t = dq.owner;
				t->conn = NULL;
				ops->answered(t, msg, len);
			} else {
				log_debug("upstream %s: dropped a TLS message that answers no query in flight",
					  s->name);
			}
		}
		evbuffer_drain(in, used);
	}
	conn_arm(conn);
}

static struct dot_conn *conn_open(struct dot_server *s, int *err)
{
	struct dot_client *c = s->client;
	*err = -ENOMEM;
	if (!c->ctx) {
		*err = -ENOPROTOOPT;
		return NULL;
	}
	struct dot_conn *conn = calloc(1, sizeof(*conn));
	if (!conn)
		return NULL;
	conn->server = s;
	conn->inflight = dnsstream_table_new(DNSSTREAM_INFLIGHT_MAX, c->rand, c->rand_arg);
	conn->ssl = SSL_new(c->ctx);
	if (!conn->inflight || !conn->ssl || conn_set_peer(conn, s) < 0)
		goto fail;
	SSL_set_app_data(conn->ssl, conn);
	if (s->session)
		SSL_set_session(conn->ssl, s->session);
	conn->bev = bufferevent_openssl_socket_new(c->base, -1, conn->ssl, BUFFEREVENT_SSL_CONNECTING,
						   BEV_OPT_CLOSE_ON_FREE);
	if (!conn->bev)
		goto fail;
	/* The bufferevent owns the SSL from here. A server may close without
	 * close_notify (RFC 7858 §3.4 lets either side close an idle
	 * connection): that is an end of stream, not an attack on it, as
	 * DNS messages carry their own length. */
	bufferevent_openssl_set_allow_dirty_shutdown(conn->bev, 1);
	bufferevent_setcb(conn->bev, on_read, NULL, on_event, conn);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	evtimer_assign(&conn->timer, c->base, on_timer, conn);
	if (s->handle)
		policy_tls_connecting(c->pol, s->handle);
	if (bufferevent_socket_connect(conn->bev, (const struct sockaddr *)&s->addr.ss,
				       (int)s->addr.len) < 0) {
		*err = -(EVUTIL_SOCKET_ERROR() ? EVUTIL_SOCKET_ERROR() : ECONNREFUSED);
		conn_free(conn);
		return NULL;
	}
	/* Queries go out as they come, each its own small write: with Nagle
	 * on, a second one waits for the ACK of the first, which the server
	 * delays up to 40 ms (tools/bench saw 10 concurrent misses take
	 * 8-11 ms each over TLS). */
	int one = 1;
	(void)setsockopt(bufferevent_getfd(conn->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct timeval tv = tv_ms(s->rs.tls == ROUTE_TLS_YES ? c->set.strict_handshake_ms
							      : c->set.handshake_ms);
	event_add(&conn->timer, &tv);
	s->conn = conn;
	return conn;
fail:
	if (conn->bev)
		bufferevent_free(conn->bev);
	else
		SSL_free(conn->ssl);
	dnsstream_table_free(conn->inflight);
	free(conn);
	return NULL;
}

/* ---- servers ------------------------------------------------------------ */

struct dot_server *dot_server_get(struct dot_client *c, const struct route_server *rs,
				  struct policy_server *handle)
{
	struct dot_server *s;
	LIST_FOREACH(s, &c->servers, link) {
		if (route_server_equal(&s->rs, rs)) {
			s->holders++;
			s->handle = handle;
			return s;
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->client = c;
	s->holders = 1;
	s->rs = *rs;
	s->addr = route_server_tls_addr(rs);
	s->handle = handle;
	char addr[NETADDR_STRLEN];
	netaddr_str(&s->addr, addr, sizeof(addr));
	snprintf(s->name, sizeof(s->name), "%s%s%s", addr, rs->tls_name[0] ? "#" : "", rs->tls_name);
	LIST_INSERT_HEAD(&c->servers, s, link);
	return s;
}

/* A server no route names any more stays while its connection is open,
 * so a table that names it again soon (a network change and back) finds
 * the connection; the idle timeout closes it otherwise. */
static void server_maybe_free(struct dot_server *s)
{
	if (s->holders > 0 || s->conn)
		return;
	LIST_REMOVE(s, link);
	SSL_SESSION_free(s->session);
	free(s);
}

void dot_server_put(struct dot_server *s)
{
	if (!s)
		return;
	if (--s->holders == 0)
		s->handle = NULL;
	server_maybe_free(s);
}

bool dot_server_ready(const struct dot_server *s, const char **why)
{
	if (s->conn || s->retry_at_ms == 0 || clock_mono_ms() >= s->retry_at_ms)
		return true;
	if (why)
		*why = s->last_why;
	return false;
}

int dot_send(struct dot_server *s, const struct wire_query *q, struct dot_ticket *t)
{
	int err;
	if (!dot_server_ready(s, NULL))
		return -EAGAIN;
	struct dot_conn *conn = s->conn;
	if (!conn && !(conn = conn_open(s, &err)))
		return err;
	return conn_send(conn, q, t, NULL);
}

void dot_cancel(struct dot_ticket *t)
{
	struct dot_conn *conn = t->conn;
	if (!conn)
		return;
	t->conn = NULL;
	dnsstream_remove(conn->inflight, t->id, t, NULL);
	conn_arm(conn);
}

void dot_client_free(struct dot_client *c)
{
	if (!c)
		return;
	while (!LIST_EMPTY(&c->servers)) {
		struct dot_server *s = LIST_FIRST(&c->servers);
		s->holders = 0;
		s->handle = NULL;
		if (s->conn) {
			/* Its queries' owners are going too: no callbacks. */
			struct dnsstream_query dq;
			while (dnsstream_take(s->conn->inflight, &dq))
				((struct dot_ticket *)dq.owner)->conn = NULL;
			conn_free(s->conn); /* frees s */
		} else {
			server_maybe_free(s);
		}
	}
	SSL_CTX_free(c->ctx);
	free(c);
}
