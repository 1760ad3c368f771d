/* test_upstream.c - the upstream stage against a fake server in this very
 * process: a UDP socket on 127.0.0.1 that the test reads and answers by
 * hand, so it can hold replies back, reorder them, repeat them or spoil
 * them. Scenarios: many questions in flight over few shared channels,
 * stray replies on a busy channel, late replies, channel renewal, an ICMP
 * refusal that moves every question on a channel to the next server, an
 * oversized reply, a reload with questions in flight; and with the shared
 * policy: a silent first server waited on for its retransmit timeout only
 * (and not again), a late answer to an earlier try winning, and SERVFAIL
 * moving on at once without blaming the server.
 * The test links with --wrap=malloc/calloc/realloc to count what a miss
 * allocates. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pkt.h"
#include "stubd/config.h"
#include "stubd/upstream.h"
#include "stubd/wire.h"

#include "alloc_count.h"

/* libevent is a shared library, out of --wrap's reach: its allocations
 * (events, timers) are counted through its own hook. */
static void *event_malloc(size_t size)
{
	allocations++;
	return __real_malloc(size);
}

static void *event_realloc(void *p, size_t size)
{
	allocations++;
	return __real_realloc(p, size);
}

#define MAX_Q 512

/* A query the fake server received, and from which port. */
struct seen {
	uint8_t b[512];
	size_t len;
	struct sockaddr_in from;
};

struct fake {
	int fd;
	struct sockaddr_in addr;
	struct seen got[MAX_Q];
	size_t n;
};

/* What the done callback heard for one question. */
struct result {
	unsigned calls;
	enum upstream_status status;
	const struct upstream_server *server;
	uint8_t addr[4]; /* the A record of the answer */
};

struct world {
	struct event_base *base;
	struct config cfg;
	struct policy *pol;
	struct upstream *up;
	struct route_table *table;  /* the global upstreams of cfg */
	struct fake srv;
	struct wire_query q[MAX_Q];
	struct result res[MAX_Q];
	struct upstream_txn *txn[MAX_Q];
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fake_open(struct fake *f)
{
	f->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(f->fd >= 0);
	f->addr = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	assert_int_equal(bind(f->fd, (struct sockaddr *)&f->addr, sizeof(f->addr)), 0);
	socklen_t len = sizeof(f->addr);
	assert_int_equal(getsockname(f->fd, (struct sockaddr *)&f->addr, &len), 0);
	f->n = 0;
}

static void fake_drain(struct fake *f)
{
	while (f->n < MAX_Q) {
		struct seen *s = &f->got[f->n];
		socklen_t len = sizeof(s->from);
		ssize_t r = recvfrom(f->fd, s->b, sizeof(s->b), 0, (struct sockaddr *)&s->from, &len);
		if (r < 0)
			return;
		s->len = (size_t)r;
		f->n++;
	}
}

static void add_upstream(struct world *w, const struct sockaddr_in *a)
{
	char text[64], ip[INET_ADDRSTRLEN];
	struct config_error err;
	inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
	snprintf(text, sizeof(text), "%s:%u", ip, ntohs(a->sin_port));
	assert_int_equal(config_set(&w->cfg, "upstream", text, &err), 0);
}

static void set_key(struct world *w, const char *key, const char *value)
{
	struct config_error err;
	assert_int_equal(config_set(&w->cfg, key, value, &err), 0);
}

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	config_defaults(&w->cfg);
	w->base = event_base_new();
	fake_open(&w->srv);
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;
	upstream_free(w->up);
	policy_free(w->pol);
	route_table_free(w->table);
	event_base_free(w->base);
	close(w->srv.fd);
	free(w);
	return 0;
}

/* Question i is "q<i>.example.test A"; its answer is 198.18.<i/256>.<i%256>. */
static void make_question(struct world *w, unsigned i)
{
	struct pkt p;
	char qname[64];
	unsigned rcode;
	snprintf(qname, sizeof(qname), "q%u.example.test", i);
	header(&p, 0x4242, WIRE_FLAG_RD, 1, 0, 0, 0);
	question(&p, qname, WIRE_TYPE_A);
	assert_int_equal(wire_parse_query(p.b, p.len, &w->q[i], &rcode), WIRE_VERDICT_RESOLVE);
}

static void on_done(void *arg, enum upstream_status status, const uint8_t *answer,
		    size_t answer_len, const struct upstream_server *server)
{
	struct result *r = arg;
	r->calls++;
	r->status = status;
	r->server = server;
	if (status == UPSTREAM_ANSWER) {
		/* A stored answer has no OPT: the A record's data ends it. */
		assert_true(answer_len >= WIRE_HEADER_LEN + 4);
		memcpy(r->addr, answer + answer_len - 4, 4);
	}
}

static void resolve(struct world *w, unsigned i)
{
	make_question(w, i);
	w->res[i] = (struct result){ 0 };
	w->txn[i] = upstream_resolve(w->up, &w->q[i], route_table_default(w->table), on_done,
				     &w->res[i]);
	assert_non_null(w->txn[i]);
}

/* The number after "q" in a received query's first label. */
static unsigned query_index(const struct seen *s)
{
	assert_true(s->len > WIRE_HEADER_LEN + 2 && s->b[WIRE_HEADER_LEN + 1] == 'q');
	return (unsigned)strtoul((const char *)s->b + WIRE_HEADER_LEN + 2, NULL, 10);
}

static uint16_t query_id(const struct seen *s)
{
	return wire_get16(s->b);
}

/* Length of the question section of a received query. */
static size_t question_len(const struct seen *s)
{
	size_t off = WIRE_HEADER_LEN;
	while (s->b[off] != 0)
		off += 1 + s->b[off];
	return off + 1 + 4 - WIRE_HEADER_LEN;
}

/* A reply to `to` with the given ID, carrying the question of `as` and
 * the answer for that question's index, sent to to's source port. */
static void reply_as(struct fake *f, const struct seen *to, uint16_t id, const struct seen *as)
{
	struct pkt p;
	unsigned i = query_index(as);
	header(&p, id, WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA, 1, 1, 0, 0);
	size_t qlen = question_len(as);
	memcpy(p.b + p.len, as->b + WIRE_HEADER_LEN, qlen);
	p.len += qlen;
	put16(&p, 0xc00c);
	put16(&p, WIRE_TYPE_A);
	put16(&p, WIRE_CLASS_IN);
	put32(&p, 300);
	put16(&p, 4);
	put32(&p, 0xc6120000u | (i & 0xffff));
	assert_int_equal(sendto(f->fd, p.b, p.len, 0, (const struct sockaddr *)&to->from,
				sizeof(to->from)), (ssize_t)p.len);
}

/* A reply to s with `count` A records. */
static const struct pkt *build_many(const struct seen *s, unsigned count)
{
	static struct pkt p;
	header(&p, query_id(s), WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA, 1, (uint16_t)count, 0, 0);
	size_t qlen = question_len(s);
	memcpy(p.b + p.len, s->b + WIRE_HEADER_LEN, qlen);
	p.len += qlen;
	for (unsigned k = 0; k < count; k++) {
		put16(&p, 0xc00c);
		put16(&p, WIRE_TYPE_A);
		put16(&p, WIRE_CLASS_IN);
		put32(&p, 300);
		put16(&p, 4);
		put32(&p, 0xc6120000u | k);
	}
	return &p;
}

/* A reply to s with `count` A records: 300 of them make a datagram larger
 * than any EDNS buffer stubd offers. */
static void reply_many(struct fake *f, const struct seen *s, unsigned count)
{
	const struct pkt *p = build_many(s, count);
	assert_int_equal(sendto(f->fd, p->b, p->len, 0, (const struct sockaddr *)&s->from,
				sizeof(s->from)), (ssize_t)p->len);
}

static void reply(struct fake *f, const struct seen *s)
{
	reply_as(f, s, query_id(s), s);
}

/* Runs the loop (and reads the fake server) until cond holds or 5 s pass. */
static void pump_until(struct world *w, bool (*cond)(struct world *, size_t), size_t arg)
{
	uint64_t deadline = now_ms() + 5000;
	for (;;) {
		event_base_loop(w->base, EVLOOP_NONBLOCK);
		fake_drain(&w->srv);
		if (cond(w, arg))
			return;
		assert_true(now_ms() < deadline);
		struct pollfd pfd = { .fd = w->srv.fd, .events = POLLIN };
		poll(&pfd, 1, 1);
	}
}

static bool got_queries(struct world *w, size_t n)
{
	return w->srv.n >= n;
}

static bool all_done(struct world *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (w->res[i].calls == 0)
			return false;
	return true;
}

/* Lets the loop run for ms milliseconds (for replies that must not count). */
static void pump_for(struct world *w, unsigned ms)
{
	uint64_t until = now_ms() + ms;
	while (now_ms() < until) {
		event_base_loop(w->base, EVLOOP_NONBLOCK);
		fake_drain(&w->srv);
		struct pollfd pfd = { .fd = w->srv.fd, .events = POLLIN };
		poll(&pfd, 1, 1);
	}
}

static void assert_answered(struct world *w, unsigned i)
{
	assert_int_equal(w->res[i].calls, 1);
	assert_int_equal(w->res[i].status, UPSTREAM_ANSWER);
	uint8_t want[4] = { 198, 18, (uint8_t)(i >> 8), (uint8_t)i };
	assert_memory_equal(w->res[i].addr, want, 4);
}

static size_t distinct_ports(const struct fake *f)
{
	size_t n = 0;
	for (size_t i = 0; i < f->n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = f->got[j].from.sin_port == f->got[i].from.sin_port;
		n += !seen;
	}
	return n;
}

/* The servers of cfg, as the daemon's routing hands them over. */
static void set_servers(struct world *w)
{
	struct route_input in = { .global = w->cfg.upstream, .n_global = w->cfg.n_upstream };
	struct route_table *t = route_table_new(&in);
	assert_non_null(t);
	assert_int_equal(upstream_set_servers(w->up, t), 0);
	route_table_free(w->table);
	w->table = t;
}

static void start(struct world *w)
{
	w->pol = policy_new(w->cfg.upstream_timeout_ms);
	assert_non_null(w->pol);
	w->up = upstream_new(w->base, &w->cfg, w->pol);
	assert_non_null(w->up);
	set_servers(w);
}

/* What the shared policy knows of server i of the table. */
static struct policy_status status_of(struct world *w, size_t i)
{
	struct policy_status st;
	struct policy_server *h = upstream_server_at(w->up, i)->policy;
	policy_status(w->pol, &h, 1, now_ms(), &st);
	return st;
}

/* 300 questions in flight at once share the server's few channels; the
 * replies, sent back in reverse order, each find their own question. */
static void test_many_in_flight_share_channels(void **state)
{
	struct world *w = *state;
	enum { N = 300 };
	add_upstream(w, &w->srv.addr);
	start(w);
	for (unsigned i = 0; i < N; i++) {
		resolve(w, i);
		fake_drain(&w->srv); /* before its socket buffer fills */
	}
	pump_until(w, got_queries, N);

	size_t ports = distinct_ports(&w->srv);
	assert_true(ports >= 2 && ports <= UPSTREAM_CHANNELS);
	/* No two questions in flight on one port with the same ID. */
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < i; j++)
			assert_false(w->srv.got[i].from.sin_port == w->srv.got[j].from.sin_port &&
				     query_id(&w->srv.got[i]) == query_id(&w->srv.got[j]));

	for (size_t k = N; k-- > 0;)
		reply(&w->srv, &w->srv.got[k]);
	pump_until(w, all_done, N);
	for (unsigned i = 0; i < N; i++)
		assert_answered(w, i);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 0);
	assert_int_equal(status_of(w, 0).counters.answers, N);
}

/* On a busy channel, a reply with a wrong ID or another question's name is
 * dropped and counted; every question still gets its own answer. */
static void test_stray_replies_do_not_disturb_others(void **state)
{
	struct world *w = *state;
	enum { N = 64 };
	add_upstream(w, &w->srv.addr);
	start(w);
	for (unsigned i = 0; i < N; i++)
		resolve(w, i);
	pump_until(w, got_queries, N);
	for (size_t k = 0; k < N; k++) {
		const struct seen *s = &w->srv.got[k];
		reply_as(&w->srv, s, query_id(s) ^ 0x5555, s);
		reply_as(&w->srv, s, query_id(s), &w->srv.got[(k + 1) % N]);
	}
	pump_for(w, 50);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(w->res[i].calls, 0);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 2 * N);

	for (size_t k = 0; k < N; k++)
		reply(&w->srv, &w->srv.got[k]);
	pump_until(w, all_done, N);
	for (unsigned i = 0; i < N; i++)
		assert_answered(w, i);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 2 * N);
}

/* A reply to a question already answered, or to tries that timed out, is
 * late: dropped and counted, and no callback runs twice. */
static void test_late_replies_counted(void **state)
{
	struct world *w = *state;
	add_upstream(w, &w->srv.addr);
	set_key(w, "upstream-timeout", "50");
	set_key(w, "query-timeout", "100");
	start(w);

	resolve(w, 0);
	pump_until(w, got_queries, 1);
	reply(&w->srv, &w->srv.got[0]);
	pump_until(w, all_done, 1);
	assert_answered(w, 0);
	reply(&w->srv, &w->srv.got[0]);
	pump_for(w, 20);
	assert_int_equal(w->res[0].calls, 1);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 1);

	/* Its tries (one, or a second round within the deadline), then the
	 * 100 ms deadline: every reply late. */
	resolve(w, 1);
	pump_until(w, all_done, 2);
	assert_int_equal(w->res[1].status, UPSTREAM_FAILED);
	size_t tries = w->srv.n - 1;
	assert_true(tries >= 1 && tries <= 2);
	for (size_t k = 1; k <= tries; k++)
		reply(&w->srv, &w->srv.got[k]);
	pump_for(w, 20);
	assert_int_equal(w->res[1].calls, 1);
	/* A reply to the try still waited on at the deadline measures the
	 * server instead (policy_answered): not a stray. */
	assert_true(upstream_get_stats(w->up)->mismatched >= tries);
}

/* A datagram larger than the receive buffers (the server ignored our
 * EDNS size) arrives cut short: like TC=1, the question goes to TCP. */
static void test_oversized_reply_goes_to_tcp(void **state)
{
	struct world *w = *state;
	add_upstream(w, &w->srv.addr);
	start(w);
	resolve(w, 0);
	pump_until(w, got_queries, 1);
	reply_many(&w->srv, &w->srv.got[0], 300);
	/* Nothing listens on TCP here: the fallback is refused, and with
	 * the only server failed the question fails. */
	pump_until(w, all_done, 1);
	assert_int_equal(w->res[0].status, UPSTREAM_FAILED);
	assert_int_equal(upstream_get_stats(w->up)->tcp_fallbacks, 1);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 0);
	assert_int_equal(upstream_get_stats(w->up)->malformed, 0);
}

/* Moves n bytes over the non-blocking TCP socket fd, in (read) or out,
 * running the loop meanwhile: stubd is on the other end. */
static void tcp_move(struct world *w, int fd, uint8_t *b, size_t n, bool in)
{
	uint64_t deadline = now_ms() + 5000;
	size_t done = 0;
	while (done < n) {
		ssize_t r = in ? read(fd, b + done, n - done) : write(fd, b + done, n - done);
		if (r > 0) {
			done += (size_t)r;
			continue;
		}
		assert_true(r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
		assert_true(now_ms() < deadline);
		event_base_loop(w->base, EVLOOP_NONBLOCK);
		struct pollfd pfd = { .fd = fd, .events = in ? POLLIN : POLLOUT };
		poll(&pfd, 1, 1);
	}
}

/* Issue 14: a reply with more than 256 records in a section was taken for
 * an attack, so the question timed out and the server was blamed. 300
 * records, too many for a datagram, come over TCP and are served. */
static void test_300_records_over_tcp_served(void **state)
{
	struct world *w = *state;
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&w->srv.addr, sizeof(w->srv.addr)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	add_upstream(w, &w->srv.addr);
	start(w);
	resolve(w, 0);
	pump_until(w, got_queries, 1);
	reply_many(&w->srv, &w->srv.got[0], 300); /* cut short: to TCP */

	uint64_t deadline = now_ms() + 5000;
	int c;
	while ((c = accept(lfd, NULL, NULL)) < 0) {
		assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
		assert_true(now_ms() < deadline);
		event_base_loop(w->base, EVLOOP_NONBLOCK);
		struct pollfd pfd = { .fd = lfd, .events = POLLIN };
		poll(&pfd, 1, 1);
	}
	assert_int_equal(fcntl(c, F_SETFL, O_NONBLOCK), 0);
	struct seen tq = { 0 };
	uint8_t len2[2];
	tcp_move(w, c, len2, 2, true);
	tq.len = wire_get16(len2);
	assert_true(tq.len <= sizeof(tq.b));
	tcp_move(w, c, tq.b, tq.len, true);
	const struct pkt *p = build_many(&tq, 300);
	uint8_t out[2 + sizeof(p->b)];
	wire_put16(out, (uint16_t)p->len);
	memcpy(out + 2, p->b, p->len);
	tcp_move(w, c, out, 2 + p->len, false);

	pump_until(w, all_done, 1);
	assert_int_equal(w->res[0].status, UPSTREAM_ANSWER);
	uint8_t last[4] = { 198, 18, 1, 43 }; /* the 300th record: all kept */
	assert_memory_equal(w->res[0].addr, last, 4);
	assert_int_equal(upstream_get_stats(w->up)->tcp_fallbacks, 1);
	assert_int_equal(upstream_get_stats(w->up)->malformed, 0);
	close(c);
	close(lfd);
}

static size_t open_sockets(void)
{
	size_t n = 0;
	DIR *d = opendir("/proc/self/fd");
	assert_non_null(d);
	struct dirent *e;
	char target[64];
	while ((e = readdir(d)) != NULL) {
		ssize_t len = readlinkat(dirfd(d), e->d_name, target, sizeof(target) - 1);
		if (len > 0) {
			target[len] = '\0';
			n += strncmp(target, "socket:", 7) == 0;
		}
	}
	closedir(d);
	return n;
}

/* After UPSTREAM_CHANNEL_USES questions a channel makes way for a fresh
 * one on a new port, and the old one is closed once its questions end. */
static void test_channels_renewed(void **state)
{
	struct world *w = *state;
	enum { BATCH = 256, ROUNDS = 3 * UPSTREAM_CHANNELS * UPSTREAM_CHANNEL_USES / BATCH };
	add_upstream(w, &w->srv.addr);
	size_t before = open_sockets();
	start(w);

	unsigned short ports[4096];
	size_t n_ports = 0;
	for (unsigned round = 0; round < ROUNDS; round++) {
		w->srv.n = 0;
		for (unsigned i = 0; i < BATCH; i++) {
			resolve(w, i);
			fake_drain(&w->srv);
		}
		pump_until(w, got_queries, BATCH);
		for (size_t k = 0; k < BATCH; k++) {
			reply(&w->srv, &w->srv.got[k]);
			bool known = false;
			for (size_t j = 0; j < n_ports && !known; j++)
				known = ports[j] == w->srv.got[k].from.sin_port;
			if (!known && n_ports < 4096)
				ports[n_ports++] = w->srv.got[k].from.sin_port;
		}
		pump_until(w, all_done, BATCH);
		for (unsigned i = 0; i < BATCH; i++)
			assert_answered(w, i);
		/* The live channels, and none left over. */
		assert_true(open_sockets() <= before + UPSTREAM_CHANNELS);
	}
	/* 3 * CHANNELS * USES questions: every slot renewed at least twice. */
	assert_true(n_ports > 2 * UPSTREAM_CHANNELS);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 0);
}

/* The first server's port is closed: the ICMP refusals, reported on a
 * shared channel or on its next send, move every question on it to the
 * second server at once, well before the try timeout. */
static void test_refused_moves_every_question_on(void **state)
{
	struct world *w = *state;
	enum { N = 24 };
	struct fake closed;
	fake_open(&closed);
	close(closed.fd);
	add_upstream(w, &closed.addr);
	add_upstream(w, &w->srv.addr);
	set_key(w, "upstream-timeout", "3000");
	set_key(w, "query-timeout", "6000");
	start(w);

	uint64_t t0 = now_ms();
	for (unsigned i = 0; i < N; i++)
		resolve(w, i);
	/* The second server may get a question twice (an exploration of
	 * it, then the try after the refusal): every copy is answered. */
	size_t replied = 0;
	uint64_t deadline = now_ms() + 5000;
	while (!all_done(w, N)) {
		event_base_loop(w->base, EVLOOP_NONBLOCK);
		fake_drain(&w->srv);
		for (; replied < w->srv.n; replied++)
			reply(&w->srv, &w->srv.got[replied]);
		assert_true(now_ms() < deadline);
		struct pollfd pfd = { .fd = w->srv.fd, .events = POLLIN };
		poll(&pfd, 1, 1);
	}
	assert_true(now_ms() - t0 < 1500);
	for (unsigned i = 0; i < N; i++) {
		assert_answered(w, i);
		assert_ptr_equal(w->res[i].server, upstream_server_at(w->up, 1));
	}
	/* Each try sent there failed at once (a send that failed is no
	 * question); down after the first, the rest went straight to the
	 * second. */
	struct policy_status refused = status_of(w, 0);
	assert_true(refused.counters.failures >= 1);
	assert_true(refused.counters.failures >= refused.counters.questions);
	assert_int_equal(refused.counters.timeouts, 0);
	assert_int_not_equal(refused.state, POLICY_UP);
	assert_int_equal(strcasecmp(refused.last_failure, "connection refused"), 0);
}

/* A reload takes a new server set: questions in flight finish on the old
 * set's channels, new ones go out on the new set's, and the old channels
 * close with the old set once its last question is done. */
static void test_reload_keeps_questions_in_flight(void **state)
{
	struct world *w = *state;
	enum { N = 100 };
	add_upstream(w, &w->srv.addr);
	size_t before = open_sockets();
	start(w);
	for (unsigned i = 0; i < N; i++)
		resolve(w, i);
	pump_until(w, got_queries, N);
	set_servers(w);
	for (unsigned i = N; i < 2 * N; i++)
		resolve(w, i);
	pump_until(w, got_queries, 2 * N);
	assert_true(open_sockets() > before + UPSTREAM_CHANNELS);

	for (size_t k = 2 * N; k-- > 0;)
		reply(&w->srv, &w->srv.got[k]);
	pump_until(w, all_done, 2 * N);
	for (unsigned i = 0; i < 2 * N; i++)
		assert_answered(w, i);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 0);
	assert_true(open_sockets() <= before + UPSTREAM_CHANNELS);
}

/* With its channels open, a miss allocates the transaction and nothing
 * else: no timer, event or socket per question (libevent's own
 * allocations count too). */
static void test_miss_allocates_only_the_transaction(void **state)
{
	struct world *w = *state;
	enum { WARM = 128, N = 64 };
	add_upstream(w, &w->srv.addr);
	start(w);
	for (unsigned i = 0; i < WARM; i++)
		resolve(w, i);
	pump_until(w, got_queries, WARM);

	unsigned long before = allocations;
	for (unsigned i = WARM; i < WARM + N; i++) {
		make_question(w, i);
		w->txn[i] = upstream_resolve(w->up, &w->q[i], route_table_default(w->table),
					     on_done, &w->res[i]);
		assert_non_null(w->txn[i]);
	}
	/* Any channel not opened yet by the warm-up (unlikely) costs one. */
	assert_true(allocations - before <= N + UPSTREAM_CHANNELS);
	assert_true(allocations - before >= N);

	for (unsigned i = 0; i < WARM + N; i++)
		upstream_cancel(w->txn[i]);
}

/* A reply to s with only its question and rcode. */
static void reply_rcode(struct fake *f, const struct seen *s, unsigned rcode)
{
	struct pkt p;
	header(&p, query_id(s), (uint16_t)(WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA | rcode), 1,
	       0, 0, 0);
	size_t qlen = question_len(s);
	memcpy(p.b + p.len, s->b + WIRE_HEADER_LEN, qlen);
	p.len += qlen;
	assert_int_equal(sendto(f->fd, p.b, p.len, 0, (const struct sockaddr *)&s->from,
				sizeof(s->from)), (ssize_t)p.len);
}

/* Runs the loop until the second fake f has received n queries. */
static void pump_until_other(struct world *w, struct fake *f, size_t n)
{
	uint64_t deadline = now_ms() + 5000;
	for (;;) {
		event_base_loop(w->base, EVLOOP_NONBLOCK);
		fake_drain(&w->srv);
		fake_drain(f);
		if (f->n >= n)
			return;
		assert_true(now_ms() < deadline);
		struct pollfd pfd = { .fd = f->fd, .events = POLLIN };
		poll(&pfd, 1, 1);
	}
}

/* The first of two servers is silent: the first question is answered by
 * the second once the first's retransmit timeout (unmeasured:
 * upstream-timeout, here 300 ms) has passed, not after a fixed second;
 * the next question goes straight to the second, with no wait and no
 * datagram to the silent one. */
static void test_silent_first_server_waited_on_once(void **state)
{
	struct world *w = *state;
	struct fake silent;
	fake_open(&silent);
	add_upstream(w, &silent.addr);
	add_upstream(w, &w->srv.addr);
	set_key(w, "upstream-timeout", "300");
	set_key(w, "query-timeout", "3000");
	set_key(w, "upstream-strategy", "order"); /* no exploration of the second */
	start(w);

	uint64_t t0 = now_ms();
	resolve(w, 0);
	pump_until(w, got_queries, 1);
	reply(&w->srv, &w->srv.got[0]);
	pump_until(w, all_done, 1);
	uint64_t took = now_ms() - t0;
	assert_answered(w, 0);
	assert_ptr_equal(w->res[0].server, upstream_server_at(w->up, 1));
	assert_true(took >= 250 && took < 900);
	fake_drain(&silent);
	assert_int_equal(silent.n, 1);
	assert_int_equal(status_of(w, 0).state, POLICY_DOWN);

	t0 = now_ms();
	resolve(w, 1);
	pump_until(w, got_queries, 2);
	reply(&w->srv, &w->srv.got[1]);
	pump_until(w, all_done, 2);
	assert_answered(w, 1);
	assert_true(now_ms() - t0 < 100);
	fake_drain(&silent);
	assert_int_equal(silent.n, 1);
	close(silent.fd);
}

/* The first server is slow this once: its answer, coming after its try's
 * wait (its RTO, from a fast first answer) but before the second server's
 * and within upstream-timeout, wins the question (a late answer to an
 * earlier try is still matched), and brings it back up. */
static void test_late_answer_to_first_try_wins(void **state)
{
	struct world *w = *state;
	struct fake slow;
	fake_open(&slow);
	add_upstream(w, &slow.addr);
	add_upstream(w, &w->srv.addr);
	set_key(w, "upstream-timeout", "1000");
	set_key(w, "query-timeout", "3000");
	set_key(w, "upstream-strategy", "order");
	start(w);

	/* Measured: its RTO is now the floor, POLICY_RTO_MIN_MS. */
	resolve(w, 0);
	pump_until_other(w, &slow, 1);
	reply(&slow, &slow.got[0]);
	pump_until(w, all_done, 1);
	assert_answered(w, 0);

	uint64_t t0 = now_ms();
	resolve(w, 1);
	pump_until_other(w, &slow, 2);
	pump_until(w, got_queries, 1); /* its wait passed: the second is asked too */
	assert_true(now_ms() - t0 < 500);
	assert_int_equal(w->res[1].calls, 0);
	reply(&slow, &slow.got[1]);
	pump_until(w, all_done, 2);
	assert_answered(w, 1);
	assert_ptr_equal(w->res[1].server, upstream_server_at(w->up, 0));
	assert_int_equal(status_of(w, 0).state, POLICY_UP);
	assert_int_equal(status_of(w, 0).counters.answers, 2);

	/* The second server's answer comes after, within its try's wait: no
	 * second callback, but it measures that server. */
	reply(&w->srv, &w->srv.got[0]);
	pump_for(w, 20);
	assert_int_equal(w->res[1].calls, 1);
	assert_int_equal(upstream_get_stats(w->up)->mismatched, 0);
	assert_int_equal(status_of(w, 1).counters.answers, 1);
	close(slow.fd);
}

/* SERVFAIL is about the name: the second server is asked at once (not
 * after a timeout), and the first stays up with nothing held against it. */
static void test_servfail_moves_on_at_once(void **state)
{
	struct world *w = *state;
	struct fake first;
	fake_open(&first);
	add_upstream(w, &first.addr);
	add_upstream(w, &w->srv.addr);
	set_key(w, "upstream-timeout", "3000");
	set_key(w, "query-timeout", "6000");
	set_key(w, "upstream-strategy", "order");
	start(w);

	uint64_t t0 = now_ms();
	resolve(w, 0);
	pump_until_other(w, &first, 1);
	reply_rcode(&first, &first.got[0], WIRE_RCODE_SERVFAIL);
	pump_until(w, got_queries, 1);
	assert_true(now_ms() - t0 < 500);
	reply(&w->srv, &w->srv.got[0]);
	pump_until(w, all_done, 1);
	assert_answered(w, 0);
	assert_ptr_equal(w->res[0].server, upstream_server_at(w->up, 1));

	struct policy_status st = status_of(w, 0);
	assert_int_equal(st.state, POLICY_UP);
	assert_int_equal(st.counters.timeouts, 0);
	assert_int_equal(st.counters.failures, 0);
	close(first.fd);
}

int main(void)
{
	event_set_mem_functions(event_malloc, event_realloc, free);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_many_in_flight_share_channels, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stray_replies_do_not_disturb_others, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_replies_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_reply_goes_to_tcp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_300_records_over_tcp_served, setup, teardown),
		cmocka_unit_test_setup_teardown(test_channels_renewed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_refused_moves_every_question_on, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reload_keeps_questions_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_miss_allocates_only_the_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_silent_first_server_waited_on_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_late_answer_to_first_try_wins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_servfail_moves_on_at_once, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
