/* upstream.c - forwarding to upstream servers over UDP and TCP. See upstream.h.
 *
 * UDP goes over shared channels: per server a few connected sockets, each
 * on its own kernel-chosen random port with one persistent read event.
 * Many questions are in flight on a channel at once; a reply finds its
 * transaction through an ID table keyed by (channel, ID). So a miss costs
 * one send() and a share of one recvmmsg(), and allocates only the
 * transaction: no socket(), connect(), close() or epoll_ctl() per question.
 * TCP (after TC=1) keeps one connection per try.
 */
#include "stubd/upstream.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h> /* struct event embedded in channels and transactions */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stubd/log.h"
#include "stubd/route.h"
#include "stubd/scrub.h"

/* A question sent upstream: the largest is header, 255-byte name, type,
 * class and an OPT record. */
#define QUERY_MAX (WIRE_HEADER_LEN + WIRE_NAME_MAX + 4 + WIRE_OPT_LEN)
/* A UDP reply never exceeds the buffer size we offer, and edns-buffer-size
 * is at most 4096. A larger datagram arrives cut short (MSG_TRUNC) and is
 * treated like TC=1: the same server is asked again over TCP. */
#define UDP_REPLY_MAX 4096
/* A TCP message is at most 65535 bytes (RFC 1035 §4.2.2 length field). */
#define TCP_REPLY_MAX 65535
/* Tries per server and question before giving up (a timeout may be a lost
 * packet, so every server gets a second chance within the deadline). */
#define TRIES_PER_SERVER 2

/* Datagrams read per readiness event, one recvmmsg(); fewer than this
 * means the queue is empty, so no extra call to learn EAGAIN. */
#define RECV_BATCH 32
/* Receive buffer asked for each channel. Up to UPSTREAM_CHANNEL_USES
 * replies may be queued on one at once, and each datagram is charged its
 * kernel overhead too; the usual default (about 208 KiB) would drop some
 * of a burst. The kernel caps the request at net.core.rmem_max. */
#define CHANNEL_RCVBUF (1 << 20)
/* Buckets of the (channel, ID) table: IDs are random, so they spread
 * evenly; at the default max-inflight (1024) chains stay about one long. */
#define ID_BUCKETS 1024

struct server_set;

/* A connected UDP socket to one server, shared by the questions in flight
 * to it. Owned by its server set; a retired one is closed by the last
 * question to leave it. */
struct channel {
	struct upstream *up;
	struct server_set *set;
	size_t slot;              /* in set->chans: server * UPSTREAM_CHANNELS + i */
	int fd;
	unsigned sent;            /* questions sent on it so far */
	int error;                /* a send error its other questions must hear of */
	bool retired;             /* takes no new questions */
	bool reading;             /* its read callback runs: not freed before it returns */
	struct event read_ev;     /* EV_PERSIST, added once when opened */
	LIST_HEAD(, upstream_txn) txns;  /* questions waiting for a reply on it */
	LIST_ENTRY(channel) link;        /* in set->retired once retired */
};

/* The servers in force. A reload swaps in a new set while transactions
 * that started on the old one keep it alive through their reference. The
 * set owns its channels: they close with it. */
struct server_set {
	unsigned refs;
	size_t n;
	struct channel **chans;          /* UPSTREAM_CHANNELS per server, opened on first use */
	LIST_HEAD(, channel) retired;    /* renewed, still waiting for replies */
	struct upstream_server servers[];
};

struct upstream_txn {
	struct upstream *up;
	struct server_set *set;  /* a reference, dropped by txn_free */
	LIST_ENTRY(upstream_txn) link;

	struct wire_query q;
	upstream_done_fn done;
	void *arg;

	/* The route's servers, as indices into set->servers, in the order
	 * they are asked; pos is the one being tried. */
	uint16_t order[ROUTE_MAX_SERVERS];
	size_t n_order;
	size_t pos;
	unsigned tries;
	uint32_t failed;        /* bit per position whose server answered with a failure */
	uint16_t id;            /* of the current try */
	bool via_tcp;
	struct timeval sent_at;

	/* The open UDP try: the channel it went out on, NULL when none. While
	 * set, the transaction is in the ID table and on the channel's list. */
	struct channel *chan;
	LIST_ENTRY(upstream_txn) by_id;
	LIST_ENTRY(upstream_txn) on_chan;
	struct bufferevent *tcp;
	struct event try_timer;  /* embedded: a miss allocates only the transaction */
	struct event deadline;

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
	LIST_HEAD(, upstream_txn) by_id[ID_BUCKETS];  /* open UDP tries */
	/* Query IDs and channel picks drawn from the kernel's CSPRNG a batch
	 * at a time: glibc's arc4random costs a getrandom() call per use, here
	 * one per 256 draws. */
	uint16_t rand[256];
	size_t rand_left;
	/* One loop, one reader at a time: the receive batch is built once
	 * and points at these buffers. */
	struct mmsghdr rmsgs[RECV_BATCH];
	struct iovec riov[RECV_BATCH];
	uint8_t rbuf[RECV_BATCH][UDP_REPLY_MAX];
	uint8_t tcp_buf[TCP_REPLY_MAX];
};

static struct timeval ms_to_tv(unsigned ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	return tv;
}

static uint16_t draw16(struct upstream *up)
{
	if (up->rand_left == 0) {
		arc4random_buf(up->rand, sizeof(up->rand));
		up->rand_left = sizeof(up->rand) / sizeof(up->rand[0]);
	}
	return up->rand[--up->rand_left];
}

/* ---- channels ------------------------------------------------------ */

static void chan_close(struct channel *ch)
{
	event_del(&ch->read_ev);
	close(ch->fd);
	free(ch);
}

/* A retired channel goes once nothing waits on it and its callback is
 * not on the stack. */
static void chan_maybe_close(struct channel *ch)
{
	if (!ch->retired || !LIST_EMPTY(&ch->txns) || ch->reading)
		return;
	LIST_REMOVE(ch, link);
	chan_close(ch);
}

/* No new questions on ch; the next pick of its slot opens a fresh one.
 * It stays open for the questions still waiting on it (the caller closes
 * it with chan_maybe_close() when there may be none). */
static void chan_retire(struct channel *ch)
{
	if (ch->retired)
		return;
	ch->retired = true;
	ch->set->chans[ch->slot] = NULL;
	LIST_INSERT_HEAD(&ch->set->retired, ch, link);
}

static void set_unref(struct server_set *set)
{
	if (!set || --set->refs > 0)
		return;
	for (size_t i = 0; i < set->n * UPSTREAM_CHANNELS; i++)
		if (set->chans[i])
			chan_close(set->chans[i]);
	/* Empty: a retired channel with questions keeps their set alive. */
	while (!LIST_EMPTY(&set->retired)) {
		struct channel *ch = LIST_FIRST(&set->retired);
		LIST_REMOVE(ch, link);
		chan_close(ch);
	}
	free(set->chans);
	free(set);
}

/* ---- transactions in the ID table ------------------------------------ */

static struct upstream_txn *txn_lookup(struct upstream *up, const struct channel *ch, uint16_t id)
{
	struct upstream_txn *txn;
	LIST_FOREACH(txn, &up->by_id[id & (ID_BUCKETS - 1)], by_id)
		if (txn->chan == ch && txn->id == id)
			return txn;
	return NULL;
}

/* A fresh random ID for a try on ch (RFC 5452 §9.2), not already waiting
 * for a reply there. At most UPSTREAM_CHANNEL_USES questions ever share a
 * channel, so a draw is taken with probability 1/256 at worst. */
static uint16_t free_id(struct upstream *up, const struct channel *ch)
{
	for (;;) {
		uint16_t id = draw16(up);
		if (!txn_lookup(up, ch, id))
			return id;
	}
}

static void txn_attach(struct upstream_txn *txn, struct channel *ch)
{
	txn->chan = ch;
	LIST_INSERT_HEAD(&txn->up->by_id[txn->id & (ID_BUCKETS - 1)], txn, by_id);
	LIST_INSERT_HEAD(&ch->txns, txn, on_chan);
}

/* From now on a reply to this try is a stray: dropped and counted. */
static void txn_detach(struct upstream_txn *txn)
{
	struct channel *ch = txn->chan;
	LIST_REMOVE(txn, by_id);
	LIST_REMOVE(txn, on_chan);
	txn->chan = NULL;
	chan_maybe_close(ch);
}

/* ---- server sets ----------------------------------------------------- */

static bool same_server(const struct upstream_server *a, const struct route_server *b)
{
	return netaddr_equal(&a->addr, &b->addr) && a->scope_id == route_server_scope(b) &&
	       strcmp(a->tls_name, b->tls_name) == 0;
}

/* "192.0.2.1:53", or with its interface "[fe80::1%eth0]:53". */
static void server_name(const struct route_server *rs, char *buf, size_t size)
{
	if (route_server_scope(rs) == 0) {
		netaddr_str(&rs->addr, buf, size);
		return;
	}
	struct route_server plain = *rs;
	plain.tls_name[0] = '\0';
	route_server_str(&plain, buf, size);
	if (netaddr_port(&rs->addr) == 53 && strlen(buf) + 5 < size) {
		/* Always with the port, like the other servers. */
		char tmp[NETADDR_STRLEN];
		snprintf(tmp, sizeof(tmp), "[%s]:53", buf);
		snprintf(buf, size, "%s", tmp);
	}
}

/* A new set for the table's servers (none when t is NULL); counters carry
 * over for servers that were already there, so a change of routes does
 * not reset what status shows. */
static struct server_set *set_new(const struct route_table *t, const struct server_set *old)
{
	size_t n = t ? route_table_server_count(t) : 0;
	struct server_set *set = calloc(1, sizeof(*set) + n * sizeof(set->servers[0]));
	if (!set)
		return NULL;
	set->refs = 1;
	set->n = n;
	LIST_INIT(&set->retired);
	set->chans = calloc(set->n * UPSTREAM_CHANNELS + 1, sizeof(set->chans[0]));
	if (!set->chans) {
		free(set);
		return NULL;
	}
	for (size_t i = 0; i < set->n; i++) {
		const struct route_server_info *info = route_table_server(t, i);
		struct upstream_server *s = &set->servers[i];
		for (size_t j = 0; old && j < old->n; j++)
			if (same_server(&old->servers[j], &info->server))
				*s = old->servers[j];
		s->addr = info->server.addr;
		s->scope_id = route_server_scope(&info->server);
		snprintf(s->tls_name, sizeof(s->tls_name), "%s", info->server.tls_name);
		snprintf(s->used_by, sizeof(s->used_by), "%s", info->used_by);
		server_name(&info->server, s->name, sizeof(s->name));
	}
	return set;
}

static void apply_settings(struct upstream *up, const struct config *cfg)
{
	up->try_timeout = ms_to_tv(cfg->upstream_timeout_ms);
	up->query_timeout = ms_to_tv(cfg->query_timeout_ms);
	up->edns_size = cfg->edns_buffer_size;
}

/* The receive side of the batch never changes shape; recvmmsg() writes
 * only msg_len and msg_flags. Connected sockets need no source address. */
static void prepare_recv_batch(struct upstream *up)
{
	for (int i = 0; i < RECV_BATCH; i++) {
		up->riov[i] = (struct iovec){ .iov_base = up->rbuf[i], .iov_len = UDP_REPLY_MAX };
		up->rmsgs[i].msg_hdr = (struct msghdr){ .msg_iov = &up->riov[i], .msg_iovlen = 1 };
	}
}

struct upstream *upstream_new(struct event_base *base, const struct config *cfg)
{
	struct upstream *up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->base = base;
	LIST_INIT(&up->txns);
	for (size_t i = 0; i < ID_BUCKETS; i++)
		LIST_INIT(&up->by_id[i]);
	prepare_recv_batch(up);
	apply_settings(up, cfg);
	up->set = set_new(NULL, NULL);
	if (!up->set) {
		free(up);
		return NULL;
	}
	return up;
}

void upstream_configure(struct upstream *up, const struct config *cfg)
{
	apply_settings(up, cfg);
}

int upstream_set_servers(struct upstream *up, const struct route_table *t)
{
	struct server_set *set = set_new(t, up->set);
	if (!set)
		return -ENOMEM;
	set_unref(up->set);
	up->set = set;
	return 0;
}

/* ---- transactions ---------------------------------------------------- */

static void close_try(struct upstream_txn *txn)
{
	if (txn->chan)
		txn_detach(txn);
	if (txn->tcp) {
		bufferevent_free(txn->tcp);
		txn->tcp = NULL;
	}
	evtimer_del(&txn->try_timer);
}

static void txn_free(struct upstream_txn *txn)
{
	close_try(txn);
	evtimer_del(&txn->deadline);
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
	return &txn->set->servers[txn->order[txn->pos]];
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
 * server of the route is down: then they are all tried as usual. */
static bool worth_asking(const struct upstream_txn *txn, size_t pos, uint64_t now)
{
	const struct upstream_server *s = &txn->set->servers[txn->order[pos]];
	if (upstream_server_up(s) || now >= s->retry_at_ms)
		return true;
	for (size_t j = 0; j < txn->n_order; j++)
		if (upstream_server_up(&txn->set->servers[txn->order[j]]))
			return false;
	return true;
}

static void server_failed(struct upstream_txn *txn, const char *why)
{
	struct upstream_server *s = current(txn);
	s->failures++;
	note_trouble(txn, s, why);
	txn->failed |= 1u << txn->pos;
	log_debug("upstream %s failed: %s", s->name, why);
	close_try(txn);
	try_next(txn);
}

/* RFC 7766 §5: a truncated UDP reply means asking again over TCP, same
 * server. */
static void fall_back_to_tcp(struct upstream_txn *txn)
{
	current(txn)->tcp_fallbacks++;
	close_try(txn);
	start_tcp(txn);
}

/* A reply that passed wire_reply_matches(): decide what it means. */
static void handle_reply(struct upstream_txn *txn, const uint8_t *pkt, size_t len)
{
	uint16_t flags = wire_get16(pkt + 2);
	unsigned rcode = WIRE_RCODE(flags);

	note_rtt(txn);
	if ((flags & WIRE_FLAG_TC) && !txn->via_tcp) {
		fall_back_to_tcp(txn);
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

/* ---- UDP over channels ----------------------------------------------- */

/* One datagram from ch's server (the connected socket drops any other
 * source). It must belong to a question waiting on this channel, with its
 * ID and question; anything else is late or spoofed: dropped, counted, and
 * the questions wait on. */
static void handle_datagram(struct channel *ch, const uint8_t *pkt, size_t len, bool cut_short)
{
	struct upstream *up = ch->up;
	struct upstream_txn *txn = len >= WIRE_HEADER_LEN ? txn_lookup(up, ch, wire_get16(pkt)) : NULL;
	if (!txn || !wire_reply_matches(pkt, len, txn->id, &txn->q)) {
		up->stats.mismatched++;
		log_debug("upstream %s: dropped a reply that does not match a question "
			  "(ID or question)", ch->set->servers[ch->slot / UPSTREAM_CHANNELS].name);
		return;
	}
	if (cut_short) {
		/* Larger than any buffer we offer: the server ignored our EDNS
		 * size. TCP gets the whole reply. */
		note_rtt(txn);
		fall_back_to_tcp(txn);
		return;
	}
	handle_reply(txn, pkt, len);
}

/* An error on a shared socket (an ICMP port unreachable comes back as
 * ECONNREFUSED) cannot be tied to one question: every question waiting on
 * the channel moves on to the next server, and the channel is renewed. */
static void chan_fail_all(struct channel *ch, int err)
{
	const char *why = err == ECONNREFUSED ? "connection refused" : strerror(err);
	chan_retire(ch);
	struct upstream_txn *txn;
	/* server_failed() takes txn off the list; callbacks it runs may take
	 * others off too, so always start again from the head. */
	while ((txn = LIST_FIRST(&ch->txns)) != NULL)
		server_failed(txn, why);
}

/* One recvmmsg() per readiness event: fewer than RECV_BATCH datagrams
 * means the queue is drained; more stay readable for the next round. */
static void chan_read(struct channel *ch)
{
	struct upstream *up = ch->up;
	int got = recvmmsg(ch->fd, up->rmsgs, RECV_BATCH, MSG_DONTWAIT, NULL);
	if (got < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			chan_fail_all(ch, errno);
		return;
	}
	for (int i = 0; i < got; i++)
		handle_datagram(ch, up->rbuf[i], up->rmsgs[i].msg_len,
				(up->rmsgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0);
}

static void on_chan_readable(evutil_socket_t fd, short what, void *arg)
{
	struct channel *ch = arg;
	struct server_set *set = ch->set;

	/* Replies finish questions, whose callbacks may drop the last
	 * reference to the set or empty a retired channel: both stay until
	 * this returns. */
	set->refs++;
	ch->reading = true;
	if (ch->error)
		chan_fail_all(ch, ch->error);
	else
		chan_read(ch);
	ch->reading = false;
	chan_maybe_close(ch);
	set_unref(set);
}

/* A connected socket: the kernel picks a random ephemeral source port
 * (RFC 5452 §9.2), delivers only datagrams from the server's address and
 * port, and reports ICMP errors. The read event is added once, here. */
static int chan_open(struct upstream *up, struct server_set *set, size_t slot)
{
	const struct netaddr *addr = &set->servers[slot / UPSTREAM_CHANNELS].addr;
	struct channel *ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->fd = socket(netaddr_family(addr), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ch->fd < 0) {
		int err = -errno;
		free(ch);
		return err;
	}
	int rcvbuf = CHANNEL_RCVBUF;
	(void)setsockopt(ch->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)); /* best effort */
	if (connect(ch->fd, (const struct sockaddr *)&addr->ss, addr->len) < 0) {
		int err = -errno;
		close(ch->fd);
		free(ch);
		return err;
	}
	ch->up = up;
	ch->set = set;
	ch->slot = slot;
	LIST_INIT(&ch->txns);
	event_assign(&ch->read_ev, up->base, ch->fd, EV_READ | EV_PERSIST, on_chan_readable, ch);
	if (event_add(&ch->read_ev, NULL) < 0) {
		close(ch->fd);
		free(ch);
		return -ENOMEM;
	}
	set->chans[slot] = ch;
	return 0;
}

/* A channel to the transaction's server, picked at random among its
 * slots so the source port of a try is not predictable from the last. */
static int chan_pick(struct upstream_txn *txn, struct channel **out)
{
	size_t pick = draw16(txn->up) & (UPSTREAM_CHANNELS - 1);
	size_t slot = (size_t)txn->order[txn->pos] * UPSTREAM_CHANNELS + pick;
	if (!txn->set->chans[slot]) {
		int err = chan_open(txn->up, txn->set, slot);
		if (err < 0)
			return err;
	}
	*out = txn->set->chans[slot];
	return 0;
}

/* A send that failed may carry an error meant for the whole channel (an
 * ICMP error for an earlier question surfaces on the next send). Its
 * questions hear of it from the read callback, not from inside this call,
 * which may be upstream_resolve()'s. A full buffer is only this send's. */
static void chan_send_failed(struct channel *ch, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EINTR)
		return;
	if (!LIST_EMPTY(&ch->txns)) {
		ch->error = err;
		event_active(&ch->read_ev, EV_READ, 1);
	}
	chan_retire(ch);
	chan_maybe_close(ch);
}

/* A fresh ID for every try (RFC 5452 §9.2). */
static void new_query(struct upstream_txn *txn, uint16_t id)
{
	txn->id = id;
	txn->query_len = wire_build_upstream_query(txn->query, sizeof(txn->query), txn->id,
						   &txn->q, txn->up->edns_size);
	event_base_gettimeofday_cached(txn->up->base, &txn->sent_at);
	current(txn)->queries++;
	evtimer_add(&txn->try_timer, &txn->up->try_timeout);
}

static int start_udp(struct upstream_txn *txn)
{
	struct channel *ch;
	int err = chan_pick(txn, &ch);
	if (err < 0)
		return err;
	txn->via_tcp = false;
	new_query(txn, free_id(txn->up, ch));
	if (send(ch->fd, txn->query, txn->query_len, 0) < 0) {
		err = errno;
		chan_send_failed(ch, err);
		return -err;
	}
	txn_attach(txn, ch);
	if (++ch->sent >= UPSTREAM_CHANNEL_USES)
		chan_retire(ch);
	return 0;
}

/* ---- TCP ------------------------------------------------------------- */

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
		evbuffer_remove(in, txn->up->tcp_buf, msg_len);
		if (!wire_reply_matches(txn->up->tcp_buf, msg_len, txn->id, &txn->q)) {
			txn->up->stats.mismatched++;
			continue;
		}
		handle_reply(txn, txn->up->tcp_buf, msg_len);
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
	new_query(txn, draw16(txn->up));
	uint8_t lenbuf[2];
	wire_put16(lenbuf, (uint16_t)txn->query_len);
	bufferevent_write(txn->tcp, lenbuf, 2);
	bufferevent_write(txn->tcp, txn->query, txn->query_len);
	if (bufferevent_socket_connect(txn->tcp, (const struct sockaddr *)&addr->ss,
				       (int)addr->len) < 0)
		server_failed(txn, "cannot connect over TCP");
}

/* ---- choosing servers -------------------------------------------------- */

static bool all_failed(const struct upstream_txn *txn)
{
	size_t n = txn->n_order;
	uint32_t all = n >= 32 ? UINT32_MAX : (1u << n) - 1;
	return (txn->failed & all) == all;
}

/* Moves to the next server that has not failed outright, in configured
 * order, and sends to it. Returns false when every server has had its
 * tries or failed: the caller gives up. */
static bool send_to_next(struct upstream_txn *txn)
{
	size_t n = txn->n_order;
	uint64_t now = loop_ms(txn->up);

	for (;;) {
		if (all_failed(txn) || txn->tries >= n * TRIES_PER_SERVER)
			return false;
		if (txn->tries > 0)
			txn->pos = (txn->pos + 1) % n;
		txn->tries++;
		if (txn->failed & (1u << txn->pos) || !worth_asking(txn, txn->pos, now))
			continue;
		int err = start_udp(txn);
		if (err == 0)
			return true;
		current(txn)->failures++;
		note_trouble(txn, current(txn), strerror(-err));
		txn->failed |= 1u << txn->pos;
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
				      const struct route *route, upstream_done_fn done, void *arg)
{
	if (route->n_servers == 0)
		return NULL;
	struct upstream_txn *txn = calloc(1, sizeof(*txn));
	if (!txn)
		return NULL;
	for (size_t i = 0; i < route->n_servers && i < ROUTE_MAX_SERVERS; i++)
		if (route->servers[i] < up->set->n)
			txn->order[txn->n_order++] = route->servers[i];
	if (txn->n_order == 0) {
		free(txn);
		return NULL;
	}
	txn->up = up;
	txn->q = *q;
	txn->done = done;
	txn->arg = arg;
	txn->set = up->set;
	txn->set->refs++;
	LIST_INSERT_HEAD(&up->txns, txn, link);
	evtimer_assign(&txn->try_timer, up->base, on_try_timeout, txn);
	evtimer_assign(&txn->deadline, up->base, on_deadline, txn);
	evtimer_add(&txn->deadline, &up->query_timeout);
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

bool upstream_route_down(const struct upstream *up, const struct route *route)
{
	for (size_t i = 0; i < route->n_servers; i++)
		if (route->servers[i] < up->set->n &&
		    upstream_server_up(&up->set->servers[route->servers[i]]))
			return false;
	return true;
}
