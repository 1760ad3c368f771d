/* upstream.c - forwarding to upstream servers over UDP and TCP. See upstream.h.
 *
 * UDP goes over shared channels: per server a few connected sockets, each
 * on its own kernel-chosen random port with one persistent read event.
 * Many questions are in flight on a channel at once; a reply finds its try
 * through an ID table keyed by (channel, ID). So a miss costs one send()
 * and a share of one recvmmsg(), and allocates only the transaction: no
 * socket(), connect(), close() or epoll_ctl() per question, and the tries
 * live inside the transaction. TCP (after TC=1) keeps one connection per
 * transaction at a time.
 *
 * Which server, when, and whether it is up: upstream_policy.h. This file
 * follows the plan it gets and reports what each try did.
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
#include <time.h>
#include <unistd.h>

#include "stubd/clock.h"
#include "stubd/dot.h"
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
/* The plan's tries are sent at most this many times round: a try that had
 * no reply may have lost a datagram, so once every server of the plan has
 * had its wait, each is asked once more (fresh IDs), within query-timeout. */
#define ROUNDS 2
/* Tries a transaction keeps open at once, inside it (a miss allocates
 * only the transaction). Enough for two rounds over a few servers, a
 * probe and TCP; with more servers the oldest silent try makes room. */
#define TRY_SLOTS 12
/* A timer may fire up to a millisecond before what the ms clock says is
 * due; that is due too (no spinning on a 0 ms re-arm). */
#define CLOCK_SLACK_MS 1

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
struct try;

/* A connected UDP socket to one server, shared by the questions in flight
 * to it. Owned by its server set; a retired one is closed by the last
 * try to leave it. */
struct channel {
	struct upstream *up;
	struct server_set *set;
	size_t slot;              /* in set->chans: server * UPSTREAM_CHANNELS + i */
	int fd;
	unsigned sent;            /* questions sent on it so far */
	int error;                /* a send error its other tries must hear of */
	bool retired;             /* takes no new questions */
	bool reading;             /* its read callback runs: not freed before it returns */
	struct event read_ev;     /* EV_PERSIST, added once when opened */
	LIST_HEAD(, try) tries;   /* tries waiting for a reply on it */
	LIST_ENTRY(channel) link; /* in set->retired once retired */
};

/* The servers in force. A reload swaps in a new set while transactions
 * that started on the old one keep it alive through their reference. The
 * set owns its channels (they close with it) and a policy handle per
 * server. */
struct server_set {
	unsigned refs;
	size_t n;
	struct policy *pol;
	struct channel **chans;          /* UPSTREAM_CHANNELS per server, opened on first use */
	LIST_HEAD(, channel) retired;    /* renewed, still waiting for replies */
	struct upstream_server servers[];
};

enum try_kind {
	TRY_CLIENT,   /* one of the plan's tries */
	TRY_EXTRA,    /* the plan's probe or exploration: no one waits on it */
};

/* One copy of the question sent to one server, with its own ID. Open
 * (in_use) until it is answered, fails, or has had no reply for the
 * plan's listen_ms. */
struct try {
	struct upstream_txn *txn;
	bool in_use;
	bool via_tcp;
	bool via_tls;            /* on its server's TLS connection: ticket */
	bool reported;           /* its timeout or failure went to the policy */
	uint8_t kind;            /* enum try_kind */
	uint8_t pos;             /* in txn->order (the plan's positions) */
	uint16_t server;         /* in txn->set->servers */
	uint16_t id;
	uint64_t sent_ms;
	uint64_t due_ms;         /* its wait ends: reported as a timeout then */
	struct channel *chan;    /* UDP: set while in the ID table and on chan->tries */
	struct dot_ticket ticket; /* TLS: its connection and ID there */
	LIST_ENTRY(try) by_id;
	LIST_ENTRY(try) on_chan;
};

struct upstream_txn {
	struct upstream *up;
	struct server_set *set;  /* a reference, dropped by txn_free */
	LIST_ENTRY(upstream_txn) link;

	struct wire_query q;
	upstream_done_fn done;
	void *arg;

	/* The route's servers, as indices into set->servers, in configured
	 * order: the positions the plan speaks of. */
	uint16_t order[ROUTE_MAX_SERVERS];
	size_t n_order;
	struct policy_plan plan;
	size_t step;             /* client tries sent so far, over ROUNDS rounds of the plan */
	struct try *current;     /* the client try waited on alone, NULL when none */
	uint32_t done_pos;       /* bit per position whose server is done for this question */
	/* The client has its outcome (done was called), but tries whose
	 * wait has not passed stay open until it does: a probe, an
	 * exploration, the try waited on. Their outcome still goes to the
	 * policy, or a dead server that always loses the race to a live one
	 * would never be found out. Freed when the last one is over. */
	bool finished;

	struct try tries[TRY_SLOTS];
	struct bufferevent *tcp; /* one TCP connection at a time, for tcp_try */
	struct try *tcp_try;
	struct event timer;      /* embedded: the next try's wait, probes' waits, forgetting */
	struct event deadline;   /* query-timeout */
};

struct upstream {
	struct event_base *base;
	struct policy *pol;
	struct server_set *set;
	enum policy_strategy strategy;
	struct timeval query_timeout;
	/* The same, as one of libevent's common timeouts: every question's
	 * deadline has this one duration, so they wait in a queue, in the
	 * order they were added, instead of each going through the timer
	 * heap. NULL when libevent has no slot left (then query_timeout). */
	const struct timeval *query_timeout_common;
	size_t edns_size;
	struct upstream_stats stats;
	struct dot_client *dot;  /* this loop's DNS-over-TLS connections */
	LIST_HEAD(, upstream_txn) txns;
	LIST_HEAD(, try) by_id[ID_BUCKETS];  /* open UDP tries */
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

static struct timeval ms_to_tv(uint64_t ms)
{
	struct timeval tv = { .tv_sec = (time_t)(ms / 1000), .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
	return tv;
}

/* The policy's clock: monotonic, so a wall-clock jump neither ages nor
 * revives a server. The fine clock, not the cache's coarse one: a LAN
 * server's RTT is well under the coarse clock's 4 ms tick. A vDSO read. */
static uint64_t now_ms(void)
{
	return clock_mono_ms();
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
	if (!ch->retired || !LIST_EMPTY(&ch->tries) || ch->reading)
		return;
	LIST_REMOVE(ch, link);
	chan_close(ch);
}

/* No new questions on ch; the next pick of its slot opens a fresh one.
 * It stays open for the tries still waiting on it (the caller closes
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
	/* Empty: a retired channel with tries keeps their set alive. */
	while (!LIST_EMPTY(&set->retired)) {
		struct channel *ch = LIST_FIRST(&set->retired);
		LIST_REMOVE(ch, link);
		chan_close(ch);
	}
	uint64_t now = now_ms();
	for (size_t i = 0; i < set->n; i++) {
		dot_server_put(set->servers[i].dot);
		policy_server_put(set->pol, set->servers[i].policy, now);
	}
	free(set->chans);
	free(set);
}

/* ---- tries in the ID table ------------------------------------------- */

static struct try *try_lookup(struct upstream *up, const struct channel *ch, uint16_t id)
{
	struct try *t;
	LIST_FOREACH(t, &up->by_id[id & (ID_BUCKETS - 1)], by_id)
		if (t->chan == ch && t->id == id)
			return t;
	return NULL;
}

/* A fresh random ID for a try on ch (RFC 5452 §9.2), not already waiting
 * for a reply there. At most UPSTREAM_CHANNEL_USES questions ever share a
 * channel (a few tries each), so a draw is taken with small probability. */
static uint16_t free_id(struct upstream *up, const struct channel *ch)
{
	for (;;) {
		uint16_t id = draw16(up);
		if (!try_lookup(up, ch, id))
			return id;
	}
}

static void try_attach(struct try *t, struct channel *ch)
{
	t->chan = ch;
	LIST_INSERT_HEAD(&t->txn->up->by_id[t->id & (ID_BUCKETS - 1)], t, by_id);
	LIST_INSERT_HEAD(&ch->tries, t, on_chan);
}

/* From now on a reply to this try is a stray: dropped and counted. */
static void try_detach(struct try *t)
{
	struct channel *ch = t->chan;
	LIST_REMOVE(t, by_id);
	LIST_REMOVE(t, on_chan);
	t->chan = NULL;
	chan_maybe_close(ch);
}

/* ---- server sets ----------------------------------------------------- */

void upstream_server_name(const struct route_server *rs, char *buf, size_t size)
{
	if (rs->tls != ROUTE_TLS_NO) {
		/* Where TLS goes, and the name its certificate must carry. */
		struct netaddr tls = route_server_tls_addr(rs);
		char addr[NETADDR_STRLEN];
		netaddr_str(&tls, addr, sizeof(addr));
		snprintf(buf, size, "%s%s%s", addr, rs->tls_name[0] ? "#" : "", rs->tls_name);
		return;
	}
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

/* A new set for the table's servers (none when t is NULL), each with its
 * policy handle: what was learnt about a server carries over to every
 * table that names it. */
static struct server_set *set_new(struct upstream *up, const struct route_table *t)
{
	struct policy *pol = up->pol;
	size_t n = t ? route_table_server_count(t) : 0;
	struct server_set *set = calloc(1, sizeof(*set) + n * sizeof(set->servers[0]));
	if (!set)
		return NULL;
	set->refs = 1;
	set->pol = pol;
	LIST_INIT(&set->retired);
	set->chans = calloc(n * UPSTREAM_CHANNELS + 1, sizeof(set->chans[0]));
	if (!set->chans) {
		free(set);
		return NULL;
	}
	uint64_t now = now_ms();
	for (size_t i = 0; i < n; i++) {
		const struct route_server_info *info = route_table_server(t, i);
		struct upstream_server *s = &set->servers[i];
		s->policy = policy_server_get(pol, &info->server, now);
		if (!s->policy) {
			set_unref(set); /* puts the handles got so far (set->n of them) */
			return NULL;
		}
		set->n = i + 1;
		s->tls = (enum route_tls)info->server.tls;
		if (s->tls != ROUTE_TLS_NO &&
		    !(s->dot = dot_server_get(up->dot, &info->server, s->policy))) {
			set_unref(set);
			return NULL;
		}
		s->addr = info->server.addr;
		s->scope_id = route_server_scope(&info->server);
		snprintf(s->tls_name, sizeof(s->tls_name), "%s", info->server.tls_name);
		snprintf(s->used_by, sizeof(s->used_by), "%s", info->used_by);
		upstream_server_name(&info->server, s->name, sizeof(s->name));
	}
	return set;
}

static void apply_settings(struct upstream *up, const struct config *cfg)
{
	up->query_timeout = ms_to_tv(cfg->query_timeout_ms);
	up->query_timeout_common = event_base_init_common_timeout(up->base, &up->query_timeout);
	up->edns_size = cfg->edns_buffer_size;
	up->strategy = cfg->upstream_strategy;
	/* Opportunistic: connecting and the handshake get what one try
	 * gets, and a server that cannot set TLS up in that time is asked in
	 * plain text rather than waited on. Yes: plain text is no way out, and
	 * failing starts a back-off, so the handshake gets what is left of
	 * query-timeout after one try of the question on it (a far server on
	 * a slow link needs more than a try: systemd-resolved too gives
	 * opportunistic mode the shorter deadline). */
	unsigned strict_ms = cfg->upstream_timeout_ms;
	if (cfg->query_timeout_ms > 2 * cfg->upstream_timeout_ms)
		strict_ms = cfg->query_timeout_ms - cfg->upstream_timeout_ms;
	struct dot_settings dot = { .ca_file = cfg->tls_ca_file,
				    .idle_ms = cfg->tls_idle_timeout_ms,
				    .handshake_ms = cfg->upstream_timeout_ms,
				    .strict_handshake_ms = strict_ms,
				    .edns_size = (uint16_t)cfg->edns_buffer_size };
	char why[PATH_MAX + 128];
	if (dot_client_configure(up->dot, &dot, why, sizeof(why)) < 0)
		log_err("%s; DNS over TLS %s", why,
			"keeps the trust store it had, if any (servers with dns-over-tls fail until it loads)");
}

static uint16_t dot_rand(void *arg)
{
	return draw16(arg);
}

static void on_dot_answer(struct dot_ticket *ticket, const uint8_t *msg, size_t len);
static void on_dot_failure(struct dot_ticket *ticket, const char *why, bool setup);
static const struct dot_ops dot_ops = { .answered = on_dot_answer, .failed = on_dot_failure };

/* The receive side of the batch never changes shape; recvmmsg() writes
 * only msg_len and msg_flags. Connected sockets need no source address. */
static void prepare_recv_batch(struct upstream *up)
{
	for (int i = 0; i < RECV_BATCH; i++) {
		up->riov[i] = (struct iovec){ .iov_base = up->rbuf[i], .iov_len = UDP_REPLY_MAX };
		up->rmsgs[i].msg_hdr = (struct msghdr){ .msg_iov = &up->riov[i], .msg_iovlen = 1 };
	}
}

struct upstream *upstream_new(struct event_base *base, const struct config *cfg,
			      struct policy *pol)
{
	struct upstream *up = calloc(1, sizeof(*up));
	if (!up)
		return NULL;
	up->base = base;
	up->pol = pol;
	LIST_INIT(&up->txns);
	for (size_t i = 0; i < ID_BUCKETS; i++)
		LIST_INIT(&up->by_id[i]);
	prepare_recv_batch(up);
	up->dot = dot_client_new(base, pol, &dot_ops, dot_rand, up);
	if (!up->dot) {
		free(up);
		return NULL;
	}
	apply_settings(up, cfg);
	up->set = set_new(up, NULL);
	if (!up->set) {
		dot_client_free(up->dot);
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
	struct server_set *set = set_new(up, t);
	if (!set)
		return -ENOMEM;
	set_unref(up->set);
	up->set = set;
	return 0;
}

/* ---- reporting to the policy ------------------------------------------- */

static struct upstream_server *server_of(const struct try *t)
{
	return &t->txn->set->servers[t->server];
}

/* The policy says what changed; the log line is written here, outside its
 * lock. */
static void log_change(const struct upstream_server *s, enum policy_change change, const char *why)
{
	if (change == POLICY_WENT_DOWN)
		log_warn("upstream %s is down (%s); asking the others first, and probing it",
			 s->name, why);
	else if (change == POLICY_CAME_UP)
		log_info("upstream %s is up again", s->name);
}

static void report_timeout(struct try *t, uint64_t now)
{
	struct upstream_server *s = server_of(t);
	t->reported = true;
	log_debug("upstream %s: no reply within %llu ms", s->name,
		  (unsigned long long)(now - t->sent_ms));
	log_change(s, policy_timed_out(t->txn->up->pol, s->policy, t->sent_ms, now), "timeout");
}

static void report_failure(struct try *t, const char *why, uint64_t now)
{
	struct upstream_server *s = server_of(t);
	t->reported = true;
	log_debug("upstream %s failed: %s", s->name, why);
	log_change(s, policy_failed(t->txn->up->pol, s->policy, why, t->sent_ms, now), why);
}

/* ---- transactions ---------------------------------------------------- */

static void try_close(struct try *t)
{
	struct upstream_txn *txn = t->txn;
	if (!t->in_use)
		return;
	if (t->chan)
		try_detach(t);
	dot_cancel(&t->ticket);
	if (txn->tcp_try == t) {
		bufferevent_free(txn->tcp);
		txn->tcp = NULL;
		txn->tcp_try = NULL;
	}
	if (txn->current == t)
		txn->current = NULL;
	t->in_use = false;
}

static void close_tries(struct upstream_txn *txn)
{
	for (size_t i = 0; i < TRY_SLOTS; i++)
		try_close(&txn->tries[i]);
}

static void txn_free(struct upstream_txn *txn)
{
	close_tries(txn);
	evtimer_del(&txn->timer);
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
	dot_client_free(up->dot);
	free(up);
}

void upstream_cancel(struct upstream_txn *txn)
{
	if (txn)
		txn_free(txn);
}

static void arm(struct upstream_txn *txn, uint64_t now);

static void finish(struct upstream_txn *txn, enum upstream_status status,
		   const uint8_t *answer, size_t len, const struct upstream_server *server)
{
	if (status == UPSTREAM_FAILED)
		txn->up->stats.failed++;
	/* Late replies to tries already reported are strays from now on. */
	bool open = false;
	for (size_t i = 0; i < TRY_SLOTS; i++) {
		struct try *t = &txn->tries[i];
		if (t->reported || t->via_tcp || t->via_tls)
			try_close(t);
		open |= t->in_use;
	}
	txn->finished = true;
	txn->current = NULL;
	evtimer_del(&txn->deadline);
	txn->done(txn->arg, status, answer, len, server);
	if (open)
		arm(txn, now_ms());
	else
		txn_free(txn);
}

/* A slot for a new try: a free one, else the oldest silent try that is
 * neither waited on nor on TCP (its wait has passed: only a late answer
 * is given up). NULL when every slot is busy otherwise. */
static struct try *try_alloc(struct upstream_txn *txn)
{
	struct try *oldest = NULL;
	for (size_t i = 0; i < TRY_SLOTS; i++) {
		struct try *t = &txn->tries[i];
		if (!t->in_use)
			return t;
		if (t->reported && t != txn->current && t != txn->tcp_try &&
		    (!oldest || t->sent_ms < oldest->sent_ms))
			oldest = t;
	}
	if (oldest)
		try_close(oldest);
	return oldest;
}

static bool any_open(const struct upstream_txn *txn)
{
	for (size_t i = 0; i < TRY_SLOTS; i++)
		if (txn->tries[i].in_use)
			return true;
	return false;
}

static bool steps_left(const struct upstream_txn *txn)
{
	return txn->step < ROUNDS * txn->plan.n_tries;
}

/* ---- UDP over channels ----------------------------------------------- */

static void handle_reply(struct try *t, const uint8_t *pkt, size_t len, bool cut_short);
static void try_failed(struct try *t, const char *why, uint64_t now);

/* One datagram from ch's server (the connected socket drops any other
 * source). It must belong to a try waiting on this channel, with its ID
 * and question; anything else is late or spoofed: dropped, counted, and
 * the tries wait on. */
static void handle_datagram(struct channel *ch, const uint8_t *pkt, size_t len, bool cut_short)
{
	struct upstream *up = ch->up;
	struct try *t = len >= WIRE_HEADER_LEN ? try_lookup(up, ch, wire_get16(pkt)) : NULL;
	if (!t || !wire_reply_matches(pkt, len, t->id, &t->txn->q)) {
		up->stats.mismatched++;
		log_debug("upstream %s: dropped a reply that does not match a question "
			  "(ID or question)", ch->set->servers[ch->slot / UPSTREAM_CHANNELS].name);
		return;
	}
	handle_reply(t, pkt, len, cut_short);
}

/* An error on a shared socket (an ICMP port unreachable comes back as
 * ECONNREFUSED) cannot be tied to one try: every try waiting on the
 * channel has failed, and the channel is renewed. */
static void chan_fail_all(struct channel *ch, int err)
{
	const char *why = err == ECONNREFUSED ? "connection refused" : strerror(err);
	uint64_t now = now_ms();
	chan_retire(ch);
	struct try *t;
	/* try_failed() takes t off the list; callbacks it runs may take
	 * others off too, so always start again from the head. */
	while ((t = LIST_FIRST(&ch->tries)) != NULL)
		try_failed(t, why, now);
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
	LIST_INIT(&ch->tries);
	event_assign(&ch->read_ev, up->base, ch->fd, EV_READ | EV_PERSIST, on_chan_readable, ch);
	if (event_add(&ch->read_ev, NULL) < 0) {
		close(ch->fd);
		free(ch);
		return -ENOMEM;
	}
	set->chans[slot] = ch;
	return 0;
}

/* A channel to the server, picked at random among its slots so the
 * source port of a try is not predictable from the last. */
static int chan_pick(struct upstream_txn *txn, size_t server, struct channel **out)
{
	size_t pick = draw16(txn->up) & (UPSTREAM_CHANNELS - 1);
	size_t slot = server * UPSTREAM_CHANNELS + pick;
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
 * tries hear of it from the read callback, not from inside this call,
 * which may be upstream_resolve()'s. A full buffer is only this send's. */
static void chan_send_failed(struct channel *ch, int err)
{
	if (err == EAGAIN || err == EWOULDBLOCK || err == ENOBUFS || err == EINTR)
		return;
	if (!LIST_EMPTY(&ch->tries)) {
		ch->error = err;
		event_active(&ch->read_ev, EV_READ, 1);
	}
	chan_retire(ch);
	chan_maybe_close(ch);
}

/* Sends t's question over UDP with a fresh ID (RFC 5452 §9.2). */
static int send_udp(struct try *t)
{
	struct upstream_txn *txn = t->txn;
	uint8_t query[QUERY_MAX];
	struct channel *ch;
	int err = chan_pick(txn, t->server, &ch);
	if (err < 0)
		return err;
	t->id = free_id(txn->up, ch);
	size_t len = wire_build_upstream_query(query, sizeof(query), t->id, &txn->q,
					       txn->up->edns_size);
	if (send(ch->fd, query, len, 0) < 0) {
		err = errno;
		chan_send_failed(ch, err);
		return -err;
	}
	try_attach(t, ch);
	if (++ch->sent >= UPSTREAM_CHANNEL_USES)
		chan_retire(ch);
	return 0;
}

/* ---- TCP ------------------------------------------------------------- */

static void on_tcp_read(struct bufferevent *bev, void *arg)
{
	struct upstream_txn *txn = arg;
	struct try *t = txn->tcp_try;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (evbuffer_get_length(in) >= 2) {
		uint8_t lenbuf[2];
		evbuffer_copyout(in, lenbuf, 2);
		size_t msg_len = wire_get16(lenbuf);
		if (evbuffer_get_length(in) < 2 + msg_len)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, txn->up->tcp_buf, msg_len);
		if (!wire_reply_matches(txn->up->tcp_buf, msg_len, t->id, &txn->q)) {
			txn->up->stats.mismatched++;
			continue;
		}
		handle_reply(t, txn->up->tcp_buf, msg_len, false);
		return; /* txn may be gone */
	}
}

static void on_tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct upstream_txn *txn = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	if (what & BEV_EVENT_EOF)
		try_failed(txn->tcp_try, "TCP connection closed before the reply", now_ms());
	else if (what & BEV_EVENT_ERROR)
		try_failed(txn->tcp_try, strerror(EVUTIL_SOCKET_ERROR()), now_ms());
}

/* RFC 7766 §5: the same server over TCP, with the usual 2-byte length
 * framing and a fresh ID. Returns 0 or a negative errno. */
static int send_tcp(struct try *t)
{
	struct upstream_txn *txn = t->txn;
	const struct netaddr *addr = &server_of(t)->addr;
	uint8_t query[2 + QUERY_MAX];
	txn->tcp = bufferevent_socket_new(txn->up->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!txn->tcp)
		return -ENOMEM;
	txn->tcp_try = t;
	t->via_tcp = true;
	bufferevent_setcb(txn->tcp, on_tcp_read, NULL, on_tcp_event, txn);
	bufferevent_enable(txn->tcp, EV_READ | EV_WRITE);
	t->id = draw16(txn->up);
	size_t len = wire_build_upstream_query(query + 2, sizeof(query) - 2, t->id, &txn->q,
					       txn->up->edns_size);
	wire_put16(query, (uint16_t)len);
	bufferevent_write(txn->tcp, query, 2 + len);
	if (bufferevent_socket_connect(txn->tcp, (const struct sockaddr *)&addr->ss,
				       (int)addr->len) < 0) {
		bufferevent_free(txn->tcp);
		txn->tcp = NULL;
		txn->tcp_try = NULL;
		return -ECONNREFUSED;
	}
	return 0;
}

/* ---- TLS ------------------------------------------------------------- */

/* Over TLS when the server's dns-over-tls asks for it (dot.h); an
 * opportunistic server goes in plain text while TLS cannot be set up
 * (RFC 7435), a strict one not at all: *why says why then. */
static int send_first(struct try *t, const char **why)
{
	struct upstream_txn *txn = t->txn;
	struct upstream_server *s = server_of(t);
	const char *last = NULL;
	if (!s->dot)
		return send_udp(t);
	int err = dot_server_ready(s->dot, &last) ? dot_send(s->dot, &txn->q, &t->ticket) : -EAGAIN;
	if (err == 0) {
		t->via_tls = true;
		return 0;
	}
	if (s->tls == ROUTE_TLS_YES) {
		if (err == -EAGAIN)
			*why = last;
		else if (err == -ENOPROTOOPT) /* dot.h: no SSL_CTX */
			*why = "TLS: no CA certificates loaded (tls-ca-file; the log at start or reload says why)";
		return err;
	}
	policy_tls_fallback(txn->up->pol, s->policy, true);
	return send_udp(t);
}

static struct try *try_of_ticket(struct dot_ticket *ticket)
{
	return (struct try *)(void *)((char *)ticket - offsetof(struct try, ticket));
}

static void on_dot_answer(struct dot_ticket *ticket, const uint8_t *msg, size_t len)
{
	handle_reply(try_of_ticket(ticket), msg, len, false);
}

static void on_dot_failure(struct dot_ticket *ticket, const char *why, bool setup)
{
	struct try *t = try_of_ticket(ticket);
	struct upstream_server *s = server_of(t);
	uint64_t now = now_ms();
	t->via_tls = false;
	if (setup && s->tls == ROUTE_TLS_OPPORTUNISTIC) {
		/* RFC 7435: plain text rather than no answer. The failed
		 * handshake is no round trip of the server's. */
		policy_tls_fallback(t->txn->up->pol, s->policy, true);
		/* The try's wait starts again: it was spent on the handshake. */
		t->due_ms = now + (t->due_ms > t->sent_ms ? t->due_ms - t->sent_ms : 0);
		t->sent_ms = now;
		if (send_udp(t) == 0) {
			arm(t->txn, now);
			return;
		}
	}
	try_failed(t, why, now);
}

/* ---- following the plan ------------------------------------------------ */

/* Sends a new try to the server at plan position pos. Returns it, or NULL
 * when it could not be sent (reported to the policy as a failure; a
 * client try's server is then done for this question). */
static struct try *send_try(struct upstream_txn *txn, size_t pos, enum try_kind kind,
			    unsigned wait_ms, bool tcp, uint64_t now)
{
	struct try *t = try_alloc(txn);
	if (!t)
		return NULL;
	*t = (struct try){ .txn = txn, .in_use = true, .kind = (uint8_t)kind, .pos = (uint8_t)pos,
			   .server = txn->order[pos], .sent_ms = now, .due_ms = now + wait_ms };
	const char *why = NULL;
	int err = tcp ? send_tcp(t) : send_first(t, &why);
	struct upstream_server *s = server_of(t);
	if (err < 0) {
		if (why) /* TLS backing off: logged when it failed */
			log_debug("upstream %s: not asked: %s (retrying TLS later)", s->name, why);
		else
			log_warn("upstream %s: cannot send%s: %s", s->name,
				 tcp ? " over TCP" : s->dot ? " over TLS" : "", strerror(-err));
		if (!why)
			why = strerror(-err);
		if (kind == TRY_CLIENT)
			txn->done_pos |= 1u << pos;
		log_change(s, policy_failed(txn->up->pol, s->policy, why, now, now), why);
		t->in_use = false;
		return NULL;
	}
	policy_sent(txn->up->pol, s->policy, now);
	return t;
}

/* The probe or exploration sent to pos with this question, still
 * waited for; NULL when none. */
static struct try *open_extra(struct upstream_txn *txn, size_t pos)
{
	for (size_t i = 0; i < TRY_SLOTS; i++) {
		struct try *t = &txn->tries[i];
		if (t->in_use && !t->reported && t->kind == TRY_EXTRA && t->pos == pos)
			return t;
	}
	return NULL;
}

/* True when a try of this question to pos is in flight over TLS: it
 * will be answered or fail, never silently lost as a datagram is, so the
 * second round does not send the server a copy (RFC 7766 §6.2.1). */
static bool open_over_tls(const struct upstream_txn *txn, size_t pos)
{
	for (size_t i = 0; i < TRY_SLOTS; i++) {
		const struct try *t = &txn->tries[i];
		if (t->in_use && t->via_tls && t->pos == pos)
			return true;
	}
	return false;
}

/* Sends the plan's next client try (skipping servers done for this
 * question, and those that cannot be sent to), and waits on it alone. */
static void advance(struct upstream_txn *txn, uint64_t now)
{
	txn->current = NULL;
	if (txn->finished)
		return;
	while (steps_left(txn)) {
		const struct policy_try *pt = &txn->plan.tries[txn->step++ % txn->plan.n_tries];
		if (txn->done_pos & (1u << pt->pos))
			continue;
		if (open_over_tls(txn, pt->pos))
			continue; /* a stream loses nothing: asking again only adds load */
		struct try *extra = open_extra(txn, pt->pos);
		if (extra) {
			/* Already asked with this question: wait on that copy
			 * rather than send the server a second one. */
			extra->kind = TRY_CLIENT;
			if (extra->due_ms < now + pt->wait_ms)
				extra->due_ms = now + pt->wait_ms;
			txn->current = extra;
			return;
		}
		struct try *t = send_try(txn, pt->pos, TRY_CLIENT, pt->wait_ms, false, now);
		if (t) {
			txn->current = t;
			return;
		}
	}
}

/* The next moment something is due: the current try's wait, an extra
 * try's wait, an open try to be forgotten. */
static void arm(struct upstream_txn *txn, uint64_t now)
{
	uint64_t next = UINT64_MAX;
	for (size_t i = 0; i < TRY_SLOTS; i++) {
		const struct try *t = &txn->tries[i];
		if (!t->in_use || (t->reported && t->via_tls))
			continue;
		uint64_t at = t->reported ? t->sent_ms + txn->plan.listen_ms : t->due_ms;
		if (at < next)
			next = at;
	}
	if (next == UINT64_MAX) {
		evtimer_del(&txn->timer);
		return;
	}
	struct timeval tv = ms_to_tv(next > now ? next - now : 0);
	evtimer_add(&txn->timer, &tv);
}

/* Called last by whoever changed txn: fails the question when no try is
 * open and none is left to send, else sets the timer. */
static void settle(struct upstream_txn *txn, uint64_t now)
{
	if (txn->finished) {
		if (any_open(txn))
			arm(txn, now);
		else
			txn_free(txn);
		return;
	}
	if (!txn->current && !steps_left(txn) && !any_open(txn)) {
		log_debug("upstream: no server answered the question");
		finish(txn, UPSTREAM_FAILED, NULL, 0, NULL);
		return;
	}
	arm(txn, now);
}

/* t is over without an answer (reported already, or not worth
 * reporting); when it was the one waited on, the next goes out now. */
static void try_over(struct try *t, uint64_t now)
{
	struct upstream_txn *txn = t->txn;
	bool was_current = txn->current == t;
	if (t->kind == TRY_CLIENT)
		txn->done_pos |= 1u << t->pos;
	try_close(t);
	if (was_current)
		advance(txn, now);
	settle(txn, now);
}

/* A network error on t (ICMP refusal, a refused or reset TCP
 * connection): counted against its server, which is done for this
 * question. May finish the transaction. */
static void try_failed(struct try *t, const char *why, uint64_t now)
{
	report_failure(t, why, now);
	try_over(t, now);
}

/* RFC 7766 §5: a truncated UDP reply means asking the same server again
 * over TCP, one connection per transaction at a time. */
static void fall_back_to_tcp(struct try *t, uint64_t now)
{
	struct upstream_txn *txn = t->txn;
	bool was_current = txn->current == t;
	size_t pos = t->pos;
	enum try_kind kind = t->kind;
	try_close(t);
	if (txn->tcp || txn->finished) {
		/* Another try's TCP connection is on its way. */
		if (was_current)
			advance(txn, now);
		settle(txn, now);
		return;
	}
	txn->up->stats.tcp_fallbacks++;
	/* No one else is waited on meanwhile: the server did reply. */
	struct try *tcp = send_try(txn, pos, kind, txn->plan.listen_ms, true, now);
	if (tcp && was_current)
		txn->current = tcp;
	else if (!tcp && was_current)
		advance(txn, now);
	settle(txn, now);
}

/* A reply that matched t (ID and question): decide what it means. */
static void handle_reply(struct try *t, const uint8_t *pkt, size_t len, bool cut_short)
{
	struct upstream_txn *txn = t->txn;
	struct upstream_server *s = server_of(t);
	uint64_t now = now_ms();
	uint16_t flags = wire_get16(pkt + 2);
	unsigned rcode = WIRE_RCODE(flags);

	if (cut_short || ((flags & WIRE_FLAG_TC) && !t->via_tcp && !t->via_tls)) {
		/* The server answers (an RTT sample); the whole answer comes
		 * over TCP. A cut-short datagram: the server ignored our EDNS
		 * size. */
		log_change(s, policy_answered(txn->up->pol, s->policy, rcode, t->sent_ms, now),
			   "");
		fall_back_to_tcp(t, now);
		return;
	}
	if (rcode == WIRE_RCODE_SERVFAIL || rcode == WIRE_RCODE_REFUSED ||
	    rcode == WIRE_RCODE_NOTIMP || rcode == WIRE_RCODE_FORMERR) {
		/* About this name, most likely: the policy decides whether it
		 * counts against the server; for this question it is done. */
		log_debug("upstream %s: %s", s->name, wire_rcode_name(rcode));
		log_change(s, policy_answered(txn->up->pol, s->policy, rcode, t->sent_ms, now),
			   wire_rcode_name(rcode));
		t->reported = true;
		try_over(t, now);
		return;
	}
	if (txn->finished) {
		/* The question has its answer: this one only tells about
		 * the server (a measurement, or a probe that came back). */
		log_change(s, policy_answered(txn->up->pol, s->policy, rcode, t->sent_ms, now), "");
		try_close(t);
		settle(txn, now);
		return;
	}

	uint8_t *answer;
	size_t answer_len;
	int err = scrub_reply(pkt, len, &txn->q, &answer, &answer_len);
	if (err == -EBADMSG) {
		/* Counted against the server, which is not waited on alone any
		 * more; but this could be a spoofed packet with a guessed ID,
		 * so the try stays open for the real reply. */
		txn->up->stats.malformed++;
		report_failure(t, "malformed reply", now);
		if (txn->finished)
			try_close(t);
		if (t->kind == TRY_CLIENT)
			txn->done_pos |= 1u << t->pos;
		if (txn->current == t)
			advance(txn, now);
		settle(txn, now);
		return;
	}
	t->reported = true; /* answered: over, whatever comes next */
	if (err == -EMSGSIZE) {
		/* Well formed, but its stored answer would be over 65535
		 * bytes (scrub.h): the server answered and is not to blame;
		 * the client gets SERVFAIL rather than a cut answer. */
		log_debug("upstream %s: answer too large to store", s->name);
		log_change(s, policy_answered(txn->up->pol, s->policy, rcode, t->sent_ms, now), "");
	}
	if (err < 0) {
		finish(txn, UPSTREAM_FAILED, NULL, 0, NULL);
		return;
	}
	log_change(s, policy_answered(txn->up->pol, s->policy, rcode, t->sent_ms, now), "");
	finish(txn, UPSTREAM_ANSWER, answer, answer_len, s);
	free(answer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct upstream_txn *txn = arg;
	uint64_t now = now_ms();
	bool move_on = false;

	for (size_t i = 0; i < TRY_SLOTS; i++) {
		struct try *t = &txn->tries[i];
		if (!t->in_use)
			continue;
		if (!t->reported && t->due_ms <= now + CLOCK_SLACK_MS) {
			report_timeout(t, now);
			move_on |= t == txn->current;
			if (txn->finished)
				try_close(t);
		}
		/* No reply by listen_ms after its send: forgotten. Not over
		 * TLS: that reply is not lost but slow, and waited for up to
		 * query-timeout (no copy is sent: advance()). */
		if (!t->via_tls && t->sent_ms + txn->plan.listen_ms <= now + CLOCK_SLACK_MS)
			try_close(t);
	}
	if (move_on || (!txn->current && !any_open(txn)))
		advance(txn, now); /* the earlier tries stay open */
	settle(txn, now);
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
	struct policy_server *handles[ROUTE_MAX_SERVERS];
	if (route->n_servers == 0)
		return NULL;
	struct upstream_txn *txn = calloc(1, sizeof(*txn));
	if (!txn)
		return NULL;
	for (size_t i = 0; i < route->n_servers && i < ROUTE_MAX_SERVERS; i++)
		if (route->servers[i] < up->set->n) {
			handles[txn->n_order] = up->set->servers[route->servers[i]].policy;
			txn->order[txn->n_order++] = route->servers[i];
		}
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
	evtimer_assign(&txn->timer, up->base, on_timer, txn);
	evtimer_assign(&txn->deadline, up->base, on_deadline, txn);
	evtimer_add(&txn->deadline, up->query_timeout_common ? up->query_timeout_common
							  : &up->query_timeout);

	uint64_t now = now_ms();
	policy_choose(up->pol, handles, txn->n_order, up->strategy, now, &txn->plan);
	advance(txn, now);
	if (txn->plan.extra_kind != POLICY_EXTRA_NONE)
		send_try(txn, txn->plan.extra.pos, TRY_EXTRA, txn->plan.extra.wait_ms, false, now);
	if (!txn->current && !any_open(txn)) {
		/* Nothing could be sent: the caller answers at once. */
		up->stats.failed++;
		txn_free(txn);
		return NULL;
	}
	arm(txn, now);
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
}

bool upstream_route_down(const struct upstream *up, const struct route *route)
{
	struct policy_server *handles[ROUTE_MAX_SERVERS];
	size_t n = 0;
	for (size_t i = 0; i < route->n_servers && i < ROUTE_MAX_SERVERS; i++)
		if (route->servers[i] < up->set->n)
			handles[n++] = up->set->servers[route->servers[i]].policy;
	return !policy_any_up(up->pol, handles, n, now_ms());
}
