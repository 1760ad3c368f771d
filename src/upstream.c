/* upstream.c - forwarding to upstream servers over UDP and TCP. See upstream.h. */
#include "stubd/upstream.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h> /* struct event embedded in the transaction */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stubd/log.h"
#include "stubd/scrub.h"

/* A question sent upstream: the largest is header, 255-byte name, type,
 * class and an OPT record. */
#define QUERY_MAX (WIRE_HEADER_LEN + WIRE_NAME_MAX + 4 + WIRE_OPT_LEN)
/* UDP replies larger than our advertised buffer are not expected; anything
 * up to the IP maximum is read so that MSG_TRUNC never hides a reply. */
#define UDP_REPLY_MAX 65535
/* Tries per server and question before giving up (a timeout may be a lost
 * packet, so every server gets a second chance within the deadline). */
#define TRIES_PER_SERVER 2

/* Connected UDP sockets kept for reuse, per server: a miss then costs a
 * send and a receive, not socket(), connect() and close() as well. Each
 * socket sits on its own random ephemeral port and carries at most
 * POOL_SOCKET_USES questions before it is closed, so source ports keep
 * changing (RFC 5452 §9.2); every question still gets a fresh random ID. */
#define POOL_SIZE 16
#define POOL_SOCKET_USES 64

struct socket_pool {
	int fd[POOL_SIZE];
	unsigned uses[POOL_SIZE];
	size_t n;
};

/* The servers in force. A reload swaps in a new set while transactions
 * that started on the old one keep it alive through their reference. */
struct server_set {
	unsigned refs;
	size_t n;
	struct socket_pool *pools;  /* one per server */
	struct upstream_server servers[];
};

struct upstream_txn {
	struct upstream *up;
	struct server_set *set;  /* a reference, dropped by txn_free */
	LIST_ENTRY(upstream_txn) link;

	struct wire_query q;
	upstream_done_fn done;
	void *arg;

	size_t server;          /* index of the server being tried */
	unsigned tries;
	uint32_t failed;        /* bit per server that answered with a failure */
	uint16_t id;            /* of the current try */
	bool via_tcp;
	struct timeval sent_at;

	int udp_fd;             /* -1 when no UDP try is open */
	unsigned udp_uses;      /* questions this socket carried before */
	bool udp_broken;        /* an error on it: close, do not pool */
	bool udp_armed;         /* udp_read is added */
	struct event udp_read;  /* embedded: no allocation per try */
	struct bufferevent *tcp;
	struct event *try_timer;
	struct event *deadline;

	uint8_t query[QUERY_MAX];
	size_t query_len;
};

struct upstream {
	struct event_base *base;
	struct server_set *set;
	struct timeval try_timeout;
	struct timeval query_timeout;
	size_t edns_size;
	struct upstream_stats stats;
	LIST_HEAD(, upstream_txn) txns;
	/* Query IDs drawn from the kernel's CSPRNG a batch at a time: glibc's
	 * arc4random costs a getrandom() call per use, here one per 256. */
	uint16_t ids[256];
	size_t ids_left;
	uint8_t rbuf[UDP_REPLY_MAX];  /* one loop, one reader at a time */
};

static struct timeval ms_to_tv(unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	return tv;
}

static void set_unref(struct server_set *set)
{
	if (!set || --set->refs > 0)
		return;
	for (size_t i = 0; i < set->n; i++)
		for (size_t j = 0; j < set->pools[i].n; j++)
			close(set->pools[i].fd[j]);
	free(set->pools);
	free(set);
}

/* A pooled socket for server i, with anything still queued on it read
 * and dropped (a late reply to an earlier question); -1 when none. */
static int pool_take(struct server_set *set, size_t i, unsigned *uses)
{
	struct socket_pool *pool = &set->pools[i];
	uint8_t junk[512];
	while (pool->n > 0) {
		pool->n--;
		int fd = pool->fd[pool->n];
		*uses = pool->uses[pool->n];
		ssize_t r;
		while ((r = recv(fd, junk, sizeof(junk), MSG_DONTWAIT)) >= 0)
			;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return fd;
		close(fd); /* an ICMP error was waiting: start afresh */
	}
	return -1;
}

static void pool_put(struct server_set *set, size_t i, int fd, unsigned uses)
{
	struct socket_pool *pool = &set->pools[i];
	if (uses >= POOL_SOCKET_USES || pool->n >= POOL_SIZE) {
		close(fd);
		return;
	}
	pool->fd[pool->n] = fd;
	pool->uses[pool->n] = uses;
	pool->n++;
}

/* A new set for cfg's servers; counters carry over for servers that were
 * already configured, so a reload does not reset what status shows. */
static struct server_set *set_new(const struct config *cfg, const struct server_set *old)
{
	struct server_set *set = calloc(1, sizeof(*set) + cfg->n_upstream * sizeof(set->servers[0]));
	if (!set)
		return NULL;
	set->refs = 1;
	set->n = cfg->n_upstream;
	set->pools = calloc(set->n + 1, sizeof(set->pools[0]));
	if (!set->pools) {
		free(set);
		return NULL;
	}
	for (size_t i = 0; i < set->n; i++) {
		struct upstream_server *s = &set->servers[i];
		s->addr = cfg->upstream[i];
		for (size_t j = 0; old && j < old->n; j++)
			if (netaddr_equal(&old->servers[j].addr, &s->addr))
				*s = old->servers[j];
		netaddr_str(&s->addr, s->name, sizeof(s->name));
	}
	return set;
}

static void apply_settings(struct upstream *up, const struct config *cfg)
{
	up->try_timeout = ms_to_tv(cfg->upstream_timeout_ms);
	up->query_timeout = ms_to_tv(cfg->query_timeout_ms);
	up->edns_size = cfg->edns_buffer_size;
}

struct upstream *upstream_new(struct event_base *base, const struct config *cfg)
{
	struct upstream *up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->base = base;
	LIST_INIT(&up->txns);
	apply_settings(up, cfg);
	up->set = set_new(cfg, NULL);
	if (!up->set) {
		free(up);
		return NULL;
	}
	return up;
}

int upstream_reconfigure(struct upstream *up, const struct config *cfg)
{
	struct server_set *set = set_new(cfg, up->set);
	if (!set)
		return -ENOMEM;
	set_unref(up->set);
	up->set = set;
	apply_settings(up, cfg);
	return 0;
}

static void close_try(struct upstream_txn *txn)
{
	if (txn->udp_armed) {
		event_del(&txn->udp_read);
		txn->udp_armed = false;
	}
	if (txn->udp_fd >= 0) {
		if (txn->udp_broken)
			close(txn->udp_fd);
		else
			pool_put(txn->set, txn->server, txn->udp_fd, txn->udp_uses + 1);
		txn->udp_fd = -1;
	}
	if (txn->tcp) {
		bufferevent_free(txn->tcp);
		txn->tcp = NULL;
	}
	if (txn->try_timer)
		evtimer_del(txn->try_timer);
}

static void txn_free(struct upstream_txn *txn)
{
	close_try(txn);
	if (txn->try_timer)
		event_free(txn->try_timer);
	if (txn->deadline)
		event_free(txn->deadline);
	LIST_REMOVE(txn, link);
	set_unref(txn->set);
	free(txn);
}

void upstream_free(struct upstream *up)
{
	if (!up)
		return;
	while (!LIST_EMPTY(&up->txns))
		txn_free(LIST_FIRST(&up->txns));
	set_unref(up->set);
	free(up);
}

void upstream_cancel(struct upstream_txn *txn)
{
	if (txn)
		txn_free(txn);
}

static void finish(struct upstream_txn *txn, enum upstream_status status,
		   const uint8_t *answer, size_t len, const struct upstream_server *server)
{
	if (status == UPSTREAM_FAILED)
		txn->up->stats.failed++;
	close_try(txn);
	txn->done(txn->arg, status, answer, len, server);
	txn_free(txn);
}

static struct upstream_server *current(struct upstream_txn *txn)
{
	return &txn->set->servers[txn->server];
}

/* RFC 6298-style smoothing, enough to tell a slow server from a fast one. */
static void note_rtt(struct upstream_txn *txn)
{
	struct timeval now, diff;
	event_base_gettimeofday_cached(txn->up->base, &now);
	timersub(&now, &txn->sent_at, &diff);
	unsigned ms = (unsigned)(diff.tv_sec * 1000 + diff.tv_usec / 1000);
	struct upstream_server *s = current(txn);
	s->srtt_ms = s->srtt_ms == 0 ? ms : (s->srtt_ms * 7 + ms) / 8;
}

static void try_next(struct upstream_txn *txn);
static void start_tcp(struct upstream_txn *txn);

static uint64_t loop_ms(const struct upstream *up)
{
	struct timeval now;
	event_base_gettimeofday_cached(up->base, &now);
	return (uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_usec / 1000;
}

/* A server that keeps failing is left alone, and asked again (a probe
 * with a real question) once UPSTREAM_REPROBE_MS has passed. */
static void note_trouble(struct upstream_txn *txn, struct upstream_server *s, const char *why)
{
	s->trouble++;
	snprintf(s->last_error, sizeof(s->last_error), "%s", why);
	if (!upstream_server_up(s)) {
		if (s->trouble == UPSTREAM_DOWN_AFTER)
			log_warn("upstream %s is down (%s); asking the others, and it again in %d s",
				 s->name, why, UPSTREAM_REPROBE_MS / 1000);
		s->retry_at_ms = loop_ms(txn->up) + UPSTREAM_REPROBE_MS;
	}
}

/* Down servers are skipped until their probe is due, unless every
 * server is down: then they are all tried as usual. */
static bool worth_asking(const struct upstream_txn *txn, size_t i, uint64_t now)
{
	const struct upstream_server *s = &txn->set->servers[i];
	if (upstream_server_up(s) || now >= s->retry_at_ms)
		return true;
	for (size_t j = 0; j < txn->set->n; j++)
		if (upstream_server_up(&txn->set->servers[j]))
			return false;
	return true;
}

static void server_failed(struct upstream_txn *txn, const char *why)
{
	struct upstream_server *s = current(txn);
	s->failures++;
	note_trouble(txn, s, why);
	txn->failed |= 1u << txn->server;
	log_debug("upstream %s failed: %s", s->name, why);
	close_try(txn);
	try_next(txn);
}

/* A reply that passed wire_reply_matches(): decide what it means. */
static void handle_reply(struct upstream_txn *txn, const uint8_t *pkt, size_t len)
{
	uint16_t flags = wire_get16(pkt + 2);
	unsigned rcode = WIRE_RCODE(flags);

	note_rtt(txn);
	if ((flags & WIRE_FLAG_TC) && !txn->via_tcp) {
		current(txn)->tcp_fallbacks++;
		close_try(txn);
		start_tcp(txn);
		return;
	}
	if (rcode == WIRE_RCODE_SERVFAIL || rcode == WIRE_RCODE_REFUSED ||
	    rcode == WIRE_RCODE_NOTIMP || rcode == WIRE_RCODE_FORMERR) {
		server_failed(txn, wire_rcode_name(rcode));
		return;
	}

	uint8_t *answer;
	size_t answer_len;
	int err = scrub_reply(pkt, len, &txn->q, &answer, &answer_len);
	if (err == -EBADMSG) {
		/* Could be a spoofed packet with a guessed ID: keep waiting for
		 * the real reply rather than give up on the server. */
		txn->up->stats.malformed++;
		return;
	}
	if (err < 0) {
		finish(txn, UPSTREAM_FAILED, NULL, 0, NULL);
		return;
	}
	struct upstream_server *s = current(txn);
	s->answers++;
	s->trouble = 0;
	finish(txn, UPSTREAM_ANSWER, answer, answer_len, s);
	free(answer);
}

static bool from_server(const struct upstream_txn *txn, const struct sockaddr_storage *from,
			socklen_t from_len)
{
	struct netaddr got = { .ss = *from, .len = from_len };
	return netaddr_equal(&got, &txn->set->servers[txn->server].addr);
}

static void on_udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_txn *txn = arg;
	struct upstream *up = txn->up;

	/* Drain what is queued: a spoofer may have sent several packets
	 * ahead of the real reply. */
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage from;
		socklen_t from_len = sizeof(from);
		ssize_t n = recvfrom(fd, up->rbuf, sizeof(up->rbuf), MSG_DONTWAIT,
				     (struct sockaddr *)&from, &from_len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				return;
			/* ECONNREFUSED: ICMP port unreachable. Either way the socket
			 * is not fit for the pool. */
			txn->udp_broken = true;
			server_failed(txn, errno == ECONNREFUSED ? "connection refused" : strerror(errno));
			return;
		}
		if (!from_server(txn, &from, from_len) ||
		    !wire_reply_matches(up->rbuf, (size_t)n, txn->id, &txn->q)) {
			up->stats.mismatched++;
			log_debug("upstream %s: dropped a reply that does not match the question "
				  "(ID, question or source)", current(txn)->name);
			continue;
		}
		handle_reply(txn, up->rbuf, (size_t)n);
		return; /* txn may be gone */
	}
}

static uint16_t next_id(struct upstream *up)
{
	if (up->ids_left == 0) {
		arc4random_buf(up->ids, sizeof(up->ids));
		up->ids_left = sizeof(up->ids) / sizeof(up->ids[0]);
	}
	return up->ids[--up->ids_left];
}

/* A fresh ID for every try (RFC 5452 §9.2). */
static void new_query(struct upstream_txn *txn)
{
	txn->id = next_id(txn->up);
	txn->query_len = wire_build_upstream_query(txn->query, sizeof(txn->query), txn->id,
						   &txn->q, txn->up->edns_size);
	event_base_gettimeofday_cached(txn->up->base, &txn->sent_at);
	current(txn)->queries++;
	evtimer_add(txn->try_timer, &txn->up->try_timeout);
}

/* A connected socket, pooled or new: the kernel picked a random ephemeral
 * source port (RFC 5452 §9.2) and delivers only datagrams from the
 * server's address and port; ICMP errors come back as ECONNREFUSED. */
static int open_udp(struct upstream_txn *txn)
{
	const struct netaddr *addr = &current(txn)->addr;
	int fd = pool_take(txn->set, txn->server, &txn->udp_uses);
	if (fd >= 0)
		return fd;
	txn->udp_uses = 0;
	fd = socket(netaddr_family(addr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int start_udp(struct upstream_txn *txn)
{
	int fd = open_udp(txn);
	if (fd < 0)
		return fd;
	txn->udp_fd = fd;
	txn->udp_broken = false;
	txn->via_tcp = false;
	event_assign(&txn->udp_read, txn->up->base, fd, EV_READ | EV_PERSIST, on_udp_readable, txn);
	event_add(&txn->udp_read, NULL);
	txn->udp_armed = true;
	new_query(txn);
	if (send(fd, txn->query, txn->query_len, 0) < 0) {
		txn->udp_broken = true;
		return -errno;
	}
	return 0;
}

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct upstream_txn *txn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) >= 2) {
		uint8_t lenbuf[2];
		evbuffer_copyout(in, lenbuf, 2);
		size_t msg_len = wire_get16(lenbuf);
		if (evbuffer_get_length(in) < 2 + msg_len)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, txn->up->rbuf, msg_len);
		if (!wire_reply_matches(txn->up->rbuf, msg_len, txn->id, &txn->q)) {
			txn->up->stats.mismatched++;
			continue;
		}
		handle_reply(txn, txn->up->rbuf, msg_len);
		return; /* txn may be gone */
	}
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_txn *txn = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF)
		server_failed(txn, "TCP connection closed before the reply");
	else if (what & BEV_EVENT_ERROR)
		server_failed(txn, strerror(EVUTIL_SOCKET_ERROR()));
}

/* RFC 7766 §5: a truncated UDP reply means asking again over TCP, same
 * server, with the usual 2-byte length framing. */
static void start_tcp(struct upstream_txn *txn)
{
	const struct netaddr *addr = &current(txn)->addr;
	txn->via_tcp = true;
	txn->tcp = bufferevent_socket_new(txn->up->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!txn->tcp) {
		server_failed(txn, "out of memory");
		return;
	}
	bufferevent_setcb(txn->tcp, on_tcp_read, NULL, on_tcp_event, txn);
	bufferevent_enable(txn->tcp, EV_READ | EV_WRITE);
	new_query(txn);
	uint8_t lenbuf[2];
	wire_put16(lenbuf, (uint16_t)txn->query_len);
	bufferevent_write(txn->tcp, lenbuf, 2);
	bufferevent_write(txn->tcp, txn->query, txn->query_len);
	if (bufferevent_socket_connect(txn->tcp, (const struct sockaddr *)&addr->ss,
				       (int)addr->len) < 0)
		server_failed(txn, "cannot connect over TCP");
}

static bool all_failed(const struct upstream_txn *txn)
{
	size_t n = txn->set->n;
	uint32_t all = n >= 32 ? UINT32_MAX : (1u << n) - 1;
	return (txn->failed & all) == all;
}

/* Moves to the next server that has not failed outright, in configured
 * order, and sends to it. Returns false when every server has had its
 * tries or failed: the caller gives up. */
static bool send_to_next(struct upstream_txn *txn)
{
	size_t n = txn->set->n;
	uint64_t now = loop_ms(txn->up);

	for (;;) {
		if (all_failed(txn) || txn->tries >= n * TRIES_PER_SERVER)
			return false;
		if (txn->tries > 0)
			txn->server = (txn->server + 1) % n;
		txn->tries++;
		if (txn->failed & (1u << txn->server) || !worth_asking(txn, txn->server, now))
			continue;
		int err = start_udp(txn);
		if (err == 0)
			return true;
		current(txn)->failures++;
		note_trouble(txn, current(txn), strerror(-err));
		txn->failed |= 1u << txn->server;
		log_warn("upstream %s: cannot send: %s", current(txn)->name, strerror(-err));
		close_try(txn);
	}
}

static void try_next(struct upstream_txn *txn)
{
	if (!send_to_next(txn))
		finish(txn, UPSTREAM_FAILED, NULL, 0, NULL);
}

static void on_try_timeout(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_txn *txn = arg;
	current(txn)->timeouts++;
	note_trouble(txn, current(txn), "timeout");
	log_debug("upstream %s: no reply within the try timeout", current(txn)->name);
	close_try(txn);
	try_next(txn);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_txn *txn = arg;
	log_debug("question timed out at every upstream");
	finish(txn, UPSTREAM_FAILED, NULL, 0, NULL);
}

struct upstream_txn *upstream_resolve(struct upstream *up, const struct wire_query *q,
				      upstream_done_fn done, void *arg)
{
	if (up->set->n == 0)
		return NULL;
	struct upstream_txn *txn = calloc(1, sizeof(*txn));
	if (!txn)
		return NULL;
	txn->up = up;
	txn->q = *q;
	txn->done = done;
	txn->arg = arg;
	txn->udp_fd = -1;
	txn->set = up->set;
	txn->set->refs++;
	LIST_INSERT_HEAD(&up->txns, txn, link);
	txn->try_timer = evtimer_new(up->base, on_try_timeout, txn);
	txn->deadline = evtimer_new(up->base, on_deadline, txn);
	if (!txn->try_timer || !txn->deadline) {
		txn_free(txn);
		return NULL;
	}
	evtimer_add(txn->deadline, &up->query_timeout);
	if (!send_to_next(txn)) {
		up->stats.failed++;
		txn_free(txn);
		return NULL;
	}
	return txn;
}

size_t upstream_server_count(const struct upstream *up)
{
	return up->set->n;
}

const struct upstream_server *upstream_server_at(const struct upstream *up, size_t i)
{
	return i < up->set->n ? &up->set->servers[i] : NULL;
}

const struct upstream_stats *upstream_get_stats(const struct upstream *up)
{
	return &up->stats;
}

void upstream_reset_stats(struct upstream *up)
{
	memset(&up->stats, 0, sizeof(up->stats));
	for (size_t i = 0; i < up->set->n; i++) {
		struct upstream_server *s = &up->set->servers[i];
		s->queries = s->answers = s->failures = s->timeouts = s->tcp_fallbacks = 0;
	}
}

bool upstream_all_down(const struct upstream *up)
{
	for (size_t i = 0; i < up->set->n; i++)
		if (upstream_server_up(&up->set->servers[i]))
			return false;
	return true;
}
