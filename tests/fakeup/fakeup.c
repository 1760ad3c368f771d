/*
 * fakeup: a scriptable fake upstream DNS server for stubd's integration tests.
 *
 * It listens on UDP and TCP on loopback addresses and answers every query
 * with a canned reply whose behaviour (normal answer, NXDOMAIN, truncation,
 * spoofed replies, garbage, delays, silence, ...) is selected by the first
 * label of the query name or, server-wide, by --mode.  Every received query
 * is logged so tests can assert what stubd actually sent upstream.
 *
 * First-label behaviours (mode normal): nx big huge many tc servfail refused drop
 * slow wrongid wrongq garbage case poison ttl2; any other name gets a plain
 * answer.  poison adds records a cache-poisoner would (an unrelated A, an
 * NS for the parent pointing at ns.evil. and its glue); ttl2 answers with
 * TTL 2 so expiry can be tested in seconds. Other names get A and AAAA
 * records, MX "10 mail.NAME", PTR "host.fakeup.test.", or NODATA.
 *
 * --log-port adds the query's source port to each log line (" port=N"), so
 * tests can see how many sockets stubd spreads its questions over.
 *
 * --udp-only leaves TCP out: a connection to the port is refused, as a
 * plain DNS server's port 853 refuses DNS over TLS, while UDP answers.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#define MAX_LISTEN 32
#define TCP_FRAME_MAX (2 + 65535)
#define REPLY_EDNS_SIZE 1232
#define ANSWER_TTL 300
#define SOA_TTL 60

enum server_mode { MODE_NORMAL, MODE_SERVFAIL, MODE_REFUSED, MODE_DEAD };

struct listener {
	int fd;
	bool tcp;
};

struct conn {
	int fd; /* -1 once closed; reaped at the end of the loop iteration */
	uint64_t id;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint8_t *in;
	size_t inlen;
	uint8_t *out;
	size_t outlen, outcap;
	bool eof;
	/* Delayed replies still owed: the connection must outlive a client's
	 * half-close until they have been written. */
	unsigned pending;
};

/* Where a reply goes: a UDP peer, or a TCP connection (by id, because the
 * connection may be gone by the time a delayed reply is due). */
struct origin {
	bool tcp;
	int udp_fd;
	struct sockaddr_storage peer;
	socklen_t peerlen;
	uint64_t conn_id;
};

struct delayed {
	uint64_t due_ms;
	struct origin to;
	uint8_t *msg;
	size_t len;
};

static struct {
	enum server_mode mode;
	unsigned delay_ms;    /* --delay: added to every reply, a far or slow server */
	uint8_t answer4[4];
	FILE *log;
	bool log_port;
	bool udp_only; /* --udp-only: no TCP listener, so a TCP connect is refused */
	struct listener listeners[MAX_LISTEN];
	size_t nlisteners;
	struct conn **conns;
	size_t nconns, capconns;
	uint64_t next_conn_id;
	struct delayed *delayed;
	size_t ndelayed, capdelayed;
	uint64_t rng;
} S;

static volatile sig_atomic_t stop_requested;

static const uint8_t ADDR6_ANSWER[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 0x01 };
static const uint8_t ADDR4_SPOOF[4] = { 198, 51, 100, 66 };
static const uint8_t ADDR6_SPOOF[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0x06, [15] = 0x66 };
static const uint8_t ADDR4_TCP[4] = { 192, 0, 2, 99 };
static const uint8_t ADDR4_MANY_FIRST[4] = { 192, 0, 2, 1 }; /* big/huge/many ignore --answer */

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void *oom_check(void *p)
{
	if (!p) {
		fprintf(stderr, "fakeup: out of memory\n");
		exit(1);
	}
	return p;
}

static void *xrealloc(void *p, size_t n)
{
	return oom_check(realloc(p, n));
}

static void *xmalloc(size_t n)
{
	return oom_check(malloc(n));
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Garbage need not be cryptographically random, only different each run. */
static uint8_t rand_byte(void)
{
	S.rng ^= S.rng << 13;
	S.rng ^= S.rng >> 7;
	S.rng ^= S.rng << 17;
	return (uint8_t)(S.rng >> 24);
}

/* Accepts "1.2.3.4:53" and "[::1]:53".  Only loopback is allowed, so a typo
 * in a test script can never make this tool talk to a real network. */
static int parse_addrport(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[128];
	const char *port;
	if (s[0] == '[') {
		const char *end = strchr(s, ']');
		if (!end || end[1] != ':' || (size_t)(end - s - 1) >= sizeof host)
			return -1;
		memcpy(host, s + 1, (size_t)(end - s - 1));
		host[end - s - 1] = '\0';
		port = end + 2;
	} else {
		const char *colon = strrchr(s, ':');
		if (!colon || (size_t)(colon - s) >= sizeof host)
			return -1;
		memcpy(host, s, (size_t)(colon - s));
		host[colon - s] = '\0';
		port = colon + 1;
	}
	char *end;
	long p = strtol(port, &end, 10);
	if (!*port || *end || p < 0 || p > 65535)
		return -1;

	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		if ((ntohl(sin->sin_addr.s_addr) >> 24) != 127)
			return -2;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
		*len = sizeof *sin;
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr))
			return -2;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
		*len = sizeof *sin6;
	} else {
		return -1;
	}
	return 0;
}

static int open_listener(const struct sockaddr_storage *ss, socklen_t len, bool tcp)
{
	int fd = socket(ss->ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	/* Tests restart fakeup on the same port right away; TIME_WAIT must not
	 * make that fail. */
	if (tcp)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* stubd may send a few hundred questions in one burst (a pipelined
	 * TCP client); a sanitizer-slowed fakeup must not drop them. Beyond
	 * rmem_max only root can go (FORCE); otherwise the kernel caps it. */
	int rcvbuf = 4 << 20;
	if (!tcp && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || (tcp && listen(fd, 64) < 0)) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

/* ---- connections ---- */

static struct conn *conn_by_id(uint64_t id)
{
	for (size_t i = 0; i < S.nconns; i++)
		if (S.conns[i]->id == id && S.conns[i]->fd >= 0)
			return S.conns[i];
	return NULL;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0) {
		close(c->fd);
		c->fd = -1;
	}
}

static void conn_flush(struct conn *c)
{
	size_t off = 0;
	while (off < c->outlen) {
		ssize_t n = send(c->fd, c->out + off, c->outlen - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				conn_close(c);
			break;
		}
		off += (size_t)n;
	}
	if (c->fd < 0) {
		c->outlen = 0;
		return;
	}
	memmove(c->out, c->out + off, c->outlen - off);
	c->outlen -= off;
}

static void conn_send(struct conn *c, const uint8_t *msg, size_t len)
{
	if (c->fd < 0 || len > 65535)
		return;
	if (c->outlen + 2 + len > c->outcap) {
		c->outcap = (c->outlen + 2 + len) * 2;
		c->out = xrealloc(c->out, c->outcap);
	}
	c->out[c->outlen++] = (uint8_t)(len >> 8);
	c->out[c->outlen++] = (uint8_t)len;
	memcpy(c->out + c->outlen, msg, len);
	c->outlen += len;
	conn_flush(c);
}

static void reap_conns(void)
{
	size_t j = 0;
	for (size_t i = 0; i < S.nconns; i++) {
		struct conn *c = S.conns[i];
		if (c->fd >= 0 && c->eof && c->outlen == 0 && c->pending == 0)
			conn_close(c);
		if (c->fd < 0) {
			free(c->in);
			free(c->out);
			free(c);
		} else {
			S.conns[j++] = c;
		}
	}
	S.nconns = j;
}

/* ---- sending ---- */

static void send_now(const struct origin *to, const uint8_t *msg, size_t len)
{
	if (to->tcp) {
		struct conn *c = conn_by_id(to->conn_id);
		if (c)
			conn_send(c, msg, len);
	} else {
		/* Best effort, like any UDP server: a full socket buffer just
		 * loses the reply. */
		(void)sendto(to->udp_fd, msg, len, MSG_DONTWAIT, (const struct sockaddr *)&to->peer, to->peerlen);
	}
}

/* Takes ownership of msg. */
static void send_later(const struct origin *to, unsigned delay_ms, uint8_t *msg, size_t len)
{
	if (S.ndelayed == S.capdelayed) {
		S.capdelayed = S.capdelayed ? S.capdelayed * 2 : 16;
		S.delayed = xrealloc(S.delayed, S.capdelayed * sizeof *S.delayed);
	}
	S.delayed[S.ndelayed++] = (struct delayed){ now_ms() + delay_ms, *to, msg, len };
	if (to->tcp) {
		struct conn *c = conn_by_id(to->conn_id);
		if (c)
			c->pending++;
	}
}

static void run_delayed(void)
{
	uint64_t now = now_ms();
	size_t j = 0;
	/* Keep insertion order so replies scheduled together leave in order. */
	for (size_t i = 0; i < S.ndelayed; i++) {
		struct delayed *d = &S.delayed[i];
		if (d->due_ms > now) {
			S.delayed[j++] = *d;
			continue;
		}
		send_now(&d->to, d->msg, d->len);
		if (d->to.tcp) {
			struct conn *c = conn_by_id(d->to.conn_id);
			if (c && c->pending)
				c->pending--;
		}
		free(d->msg);
	}
	S.ndelayed = j;
}

static int next_timeout_ms(void)
{
	if (S.ndelayed == 0)
		return -1;
	uint64_t now = now_ms(), first = UINT64_MAX;
	for (size_t i = 0; i < S.ndelayed; i++)
		if (S.delayed[i].due_ms < first)
			first = S.delayed[i].due_ms;
	return first <= now ? 0 : (int)(first - now);
}

/* ---- building replies ---- */

static ldns_rr *addr_rr(const ldns_rdf *owner, ldns_rr_type type, const uint8_t *addr)
{
	ldns_rr *rr = ldns_rr_new();
	ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
	ldns_rr_set_type(rr, type);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(rr, ANSWER_TTL);
	if (type == LDNS_RR_TYPE_A)
		ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_A, 4, addr));
	else
		ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_AAAA, 16, addr));
	return rr;
}

/* The SOA is owned by the parent of the query name, as if the fake server
 * were authoritative for it. */
static ldns_rr *soa_rr(const ldns_rdf *qname)
{
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, ". 60 IN SOA ns.fake. hostmaster.fake. 1 3600 600 86400 60", 0, NULL,
				NULL) != LDNS_STATUS_OK)
		return NULL;
	ldns_rdf *parent = ldns_dname_left_chop(qname);
	if (parent) {
		ldns_rdf_deep_free(ldns_rr_owner(rr));
		ldns_rr_set_owner(rr, parent);
	}
	ldns_rr_set_ttl(rr, SOA_TTL);
	return rr;
}

/* Letter-case only: label length bytes are < 64 and thus never letters. */
static ldns_rdf *dname_upper(const ldns_rdf *d)
{
	ldns_rdf *u = ldns_rdf_clone(d);
	uint8_t *p = ldns_rdf_data(u);
	for (size_t i = 0; i < ldns_rdf_size(u); i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			p[i] = (uint8_t)(p[i] - 'a' + 'A');
	return u;
}

/* Header, question (optionally renamed) and OPT; no records. */
static ldns_pkt *reply_base(const ldns_pkt *q, uint16_t id, const ldns_rdf *qname_override,
			    ldns_pkt_rcode rcode)
{
	ldns_pkt *r = ldns_pkt_new();
	ldns_pkt_set_id(r, id);
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_opcode(r, ldns_pkt_get_opcode(q));
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_set_cd(r, ldns_pkt_cd(q));
	ldns_pkt_set_ra(r, true);
	ldns_pkt_set_rcode(r, (uint8_t)rcode);
	ldns_rr *question = ldns_rr_clone(ldns_rr_list_rr(ldns_pkt_question(q), 0));
	if (qname_override) {
		ldns_rdf_deep_free(ldns_rr_owner(question));
		ldns_rr_set_owner(question, ldns_rdf_clone(qname_override));
	}
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, question);
	if (ldns_pkt_edns(q)) {
		ldns_pkt_set_edns_udp_size(r, REPLY_EDNS_SIZE);
		/* RFC 3225: the DO bit is echoed. */
		ldns_pkt_set_edns_do(r, ldns_pkt_edns_do(q));
	}
	return r;
}

/*
 * A positive answer: `count` A (or AAAA) records counting up from addr4
 * (addr6), or NODATA with an SOA for other types.  The question carries
 * qname_override if given; records are owned by `owner`.
 */
static ldns_pkt *reply_answer(const ldns_pkt *q, uint16_t id, const ldns_rdf *qname_override,
			      const ldns_rdf *owner, const uint8_t *addr4, const uint8_t *addr6, unsigned count)
{
	ldns_pkt *r = reply_base(q, id, qname_override, LDNS_RCODE_NOERROR);
	ldns_pkt_set_aa(r, true);
	ldns_rr_type qtype = ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_question(q), 0));
	if (qtype == LDNS_RR_TYPE_A || qtype == LDNS_RR_TYPE_AAAA) {
		size_t alen = qtype == LDNS_RR_TYPE_A ? 4 : 16;
		uint8_t a[16];
		memcpy(a, qtype == LDNS_RR_TYPE_A ? addr4 : addr6, alen);
		for (unsigned i = 0; i < count; i++) {
			ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, addr_rr(owner, qtype, a));
			for (size_t k = alen; k-- > 0 && ++a[k] == 0;)
				; /* carried: past 256 records the addresses stay distinct */
		}
	} else if (qtype == LDNS_RR_TYPE_MX || qtype == LDNS_RR_TYPE_PTR) {
		/* MX "10 mail.OWNER", PTR "host.fakeup.test.": for clients that
		 * show other types (resolvectl query -t MX, reverse lookups). */
		char *name = ldns_rdf2str(owner);
		char text[600];
		ldns_rr *rr = NULL;
		if (qtype == LDNS_RR_TYPE_MX)
			snprintf(text, sizeof(text), "%s %d IN MX 10 mail.%s", name, ANSWER_TTL, name);
		else
			snprintf(text, sizeof(text), "%s %d IN PTR host.fakeup.test.", name, ANSWER_TTL);
		free(name);
		if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) == LDNS_STATUS_OK)
			ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	} else {
		ldns_rr *soa = soa_rr(owner);
		if (soa)
			ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY, soa);
	}
	return r;
}

/* Serialises and frees r.  Over UDP a reply that does not fit the client's
 * buffer becomes an empty TC=1 reply, as a real server would send. */
static uint8_t *finish(ldns_pkt *r, const ldns_pkt *q, bool tcp, size_t *len)
{
	uint8_t *wire = NULL;
	if (ldns_pkt2wire(&wire, r, len) != LDNS_STATUS_OK)
		wire = NULL;
	if (wire && !tcp) {
		size_t limit = 512;
		if (ldns_pkt_edns(q) && ldns_pkt_edns_udp_size(q) > limit)
			limit = ldns_pkt_edns_udp_size(q);
		if (*len > limit) {
			free(wire);
			wire = NULL;
			ldns_pkt *t = reply_base(q, ldns_pkt_id(r), ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(r), 0)),
						 ldns_pkt_get_rcode(r));
			ldns_pkt_set_aa(t, ldns_pkt_aa(r));
			ldns_pkt_set_tc(t, true);
			if (ldns_pkt2wire(&wire, t, len) != LDNS_STATUS_OK)
				wire = NULL;
			ldns_pkt_free(t);
		}
	}
	ldns_pkt_free(r);
	return wire;
}

static void emit(const struct origin *to, unsigned delay_ms, ldns_pkt *r, const ldns_pkt *q)
{
	size_t len;
	uint8_t *wire = finish(r, q, to->tcp, &len);
	if (!wire)
		return;
	delay_ms += S.delay_ms;
	if (delay_ms) {
		send_later(to, delay_ms, wire, len);
	} else {
		send_now(to, wire, len);
		free(wire);
	}
}

static void emit_random(const struct origin *to, const uint8_t *prefix, size_t plen, size_t len)
{
	uint8_t buf[32];
	for (size_t i = 0; i < len; i++)
		buf[i] = i < plen ? prefix[i] : rand_byte();
	send_now(to, buf, len);
}

/* ---- query handling ---- */

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void log_line(const char *fmt, ...)
{
	if (!S.log)
		return;
	va_list ap;
	va_start(ap, fmt);
	vfprintf(S.log, fmt, ap);
	va_end(ap);
	fflush(S.log);
}

/* The source port of a query; 0 if unknown. */
static unsigned peer_port(const struct origin *to)
{
	if (to->peer.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)&to->peer)->sin_port);
	if (to->peer.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&to->peer)->sin6_port);
	return 0;
}

static void log_query(const char *proto, const ldns_pkt *q, const struct origin *to)
{
	const ldns_rr *question = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	ldns_rdf *lower = ldns_rdf_clone(ldns_rr_owner(question));
	ldns_dname2canonical(lower);
	char *name = ldns_rdf2str(lower);
	char *type = ldns_rr_type2str(ldns_rr_get_type(question));
	if (S.log_port)
		log_line("%s %s %s id=%u port=%u\n", proto, name ? name : "?", type ? type : "?",
			 (unsigned)ldns_pkt_id(q), peer_port(to));
	else
		log_line("%s %s %s id=%u\n", proto, name ? name : "?", type ? type : "?",
			 (unsigned)ldns_pkt_id(q));
	free(name);
	free(type);
	ldns_rdf_deep_free(lower);
}

static bool first_label_is(const ldns_rdf *name, const char *label)
{
	const uint8_t *p = ldns_rdf_data(name);
	size_t n = strlen(label);
	return ldns_rdf_size(name) > n && p[0] == n && strncasecmp((const char *)p + 1, label, n) == 0;
}

/* Adds records given in presentation form; a bad string is skipped. */
static void push_strs(ldns_pkt *r, ldns_pkt_section section, const char *const *rrs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = NULL;
		if (ldns_rr_new_frm_str(&rr, rrs[i], 0, NULL, NULL) == LDNS_STATUS_OK)
			ldns_pkt_push_rr(r, section, rr);
	}
}

static void answer_query(const struct origin *to, const ldns_pkt *q)
{
	const ldns_rdf *qname = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(q), 0));
	uint16_t id = ldns_pkt_id(q);

	switch (S.mode) {
	case MODE_DEAD:
		return;
	case MODE_SERVFAIL:
		emit(to, 0, reply_base(q, id, NULL, LDNS_RCODE_SERVFAIL), q);
		return;
	case MODE_REFUSED:
		emit(to, 0, reply_base(q, id, NULL, LDNS_RCODE_REFUSED), q);
		return;
	case MODE_NORMAL:
		break;
	}

	if (ldns_pkt_get_opcode(q) != LDNS_PACKET_QUERY) {
		emit(to, 0, reply_base(q, id, NULL, LDNS_RCODE_NOTIMPL), q);
		return;
	}

	const uint8_t *a4 = S.answer4;
	if (first_label_is(qname, "nx")) {
		ldns_pkt *r = reply_base(q, id, NULL, LDNS_RCODE_NXDOMAIN);
		ldns_pkt_set_aa(r, true);
		ldns_rr *soa = soa_rr(qname);
		if (soa)
			ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY, soa);
		emit(to, 0, r, q);
	} else if (first_label_is(qname, "big")) {
		emit(to, 0, reply_answer(q, id, NULL, qname, ADDR4_MANY_FIRST, ADDR6_ANSWER, 60), q);
	} else if (first_label_is(qname, "huge")) {
		/* Unlike "big" this exceeds even a 1232-byte EDNS buffer, so it
		 * forces TC=1 over UDP whatever the client advertises. */
		emit(to, 0, reply_answer(q, id, NULL, qname, ADDR4_MANY_FIRST, ADDR6_ANSWER, 200), q);
	} else if (first_label_is(qname, "many")) {
		/* More than 256 records in a section, 4.8 kB: only over TCP
		 * (stubd once took this for an attack, issue 14). */
		emit(to, 0, reply_answer(q, id, NULL, qname, ADDR4_MANY_FIRST, ADDR6_ANSWER, 300), q);
	} else if (first_label_is(qname, "tc")) {
		if (to->tcp) {
			emit(to, 0, reply_answer(q, id, NULL, qname, ADDR4_TCP, ADDR6_ANSWER, 1), q);
		} else {
			ldns_pkt *r = reply_base(q, id, NULL, LDNS_RCODE_NOERROR);
			ldns_pkt_set_tc(r, true);
			emit(to, 0, r, q);
		}
	} else if (first_label_is(qname, "servfail")) {
		emit(to, 0, reply_base(q, id, NULL, LDNS_RCODE_SERVFAIL), q);
	} else if (first_label_is(qname, "refused")) {
		emit(to, 0, reply_base(q, id, NULL, LDNS_RCODE_REFUSED), q);
	} else if (first_label_is(qname, "drop")) {
		return;
	} else if (first_label_is(qname, "slow")) {
		emit(to, 300, reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1), q);
	} else if (first_label_is(qname, "wrongid")) {
		if (!to->tcp) {
			emit(to, 0, reply_answer(q, id ^ 0x5555, NULL, qname, ADDR4_SPOOF, ADDR6_SPOOF, 1), q);
			emit(to, 100, reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1), q);
		} else {
			emit(to, 0, reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1), q);
		}
	} else if (first_label_is(qname, "wrongq")) {
		/* The records keep the real owner so the spoof differs from the
		 * genuine reply in the question alone. */
		ldns_rdf *evil = ldns_dname_new_frm_str("evil.");
		if (ldns_rdf_size(qname) + 5 <= LDNS_MAX_DOMAINLEN && ldns_dname_cat(evil, qname) == LDNS_STATUS_OK)
			emit(to, 0, reply_answer(q, id, evil, qname, ADDR4_SPOOF, ADDR6_SPOOF, 1), q);
		ldns_rdf_deep_free(evil);
		emit(to, 100, reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1), q);
	} else if (first_label_is(qname, "garbage")) {
		/* QR is forced on so the junk looks like a response to this very
		 * query and the client has to reject it for failing to parse, not
		 * merely for being a query. */
		uint8_t head[3] = { (uint8_t)(id >> 8), (uint8_t)id, (uint8_t)(rand_byte() | 0x80) };
		emit_random(to, NULL, 0, 7);
		emit_random(to, head, sizeof head, 20);
		emit(to, 100, reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1), q);
	} else if (first_label_is(qname, "poison")) {
		ldns_pkt *r = reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1);
		static const char *const evil[] = {
			"evil.example. 300 IN A 198.51.100.66",
		};
		static const char *const auth[] = { "example.test. 300 IN NS ns.evil." };
		static const char *const add[] = { "ns.evil. 300 IN A 198.51.100.67" };
		push_strs(r, LDNS_SECTION_ANSWER, evil, 1);
		push_strs(r, LDNS_SECTION_AUTHORITY, auth, 1);
		push_strs(r, LDNS_SECTION_ADDITIONAL, add, 1);
		emit(to, 0, r, q);
	} else if (first_label_is(qname, "ttl2")) {
		ldns_pkt *r = reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1);
		for (size_t i = 0; i < ldns_pkt_ancount(r); i++)
			ldns_rr_set_ttl(ldns_rr_list_rr(ldns_pkt_answer(r), i), 2);
		emit(to, 0, r, q);
	} else if (first_label_is(qname, "case")) {
		ldns_rdf *upper = dname_upper(qname);
		emit(to, 0, reply_answer(q, id, upper, upper, a4, ADDR6_ANSWER, 1), q);
		ldns_rdf_deep_free(upper);
	} else {
		emit(to, 0, reply_answer(q, id, NULL, qname, a4, ADDR6_ANSWER, 1), q);
	}
}

static void handle_message(const struct origin *to, const uint8_t *msg, size_t len)
{
	const char *proto = to->tcp ? "tcp" : "udp";
	ldns_pkt *q = NULL;
	/* Only a single-question query can be answered meaningfully; anything
	 * else, including stray responses, counts as garbage. */
	if (ldns_wire2pkt(&q, msg, len) != LDNS_STATUS_OK || ldns_pkt_qr(q) || ldns_pkt_qdcount(q) != 1 ||
	    ldns_rr_list_rr_count(ldns_pkt_question(q)) != 1) {
		log_line("%s garbage\n", proto);
		ldns_pkt_free(q);
		return;
	}
	log_query(proto, q, to);
	answer_query(to, q);
	ldns_pkt_free(q);
}

/* ---- I/O ---- */

static void udp_readable(int fd)
{
	static uint8_t buf[65536];
	/* Bounded so a flood on one socket cannot starve the others. */
	for (int i = 0; i < 64; i++) {
		struct origin to = { .tcp = false, .udp_fd = fd, .peerlen = sizeof to.peer };
		ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&to.peer, &to.peerlen);
		if (n < 0)
			return;
		handle_message(&to, buf, (size_t)n);
	}
}

static void tcp_acceptable(int fd)
{
	for (;;) {
		struct sockaddr_storage peer;
		socklen_t peerlen = sizeof peer;
		int cfd = accept4(fd, (struct sockaddr *)&peer, &peerlen, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0)
			return;
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(cfd);
			return;
		}
		c->fd = cfd;
		c->id = ++S.next_conn_id;
		c->peer = peer;
		c->peerlen = peerlen;
		c->in = xmalloc(TCP_FRAME_MAX);
		if (S.nconns == S.capconns) {
			S.capconns = S.capconns ? S.capconns * 2 : 16;
			S.conns = xrealloc(S.conns, S.capconns * sizeof *S.conns);
		}
		S.conns[S.nconns++] = c;
	}
}

static void conn_readable(struct conn *c)
{
	ssize_t n = read(c->fd, c->in + c->inlen, TCP_FRAME_MAX - c->inlen);
	if (n < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
			conn_close(c);
		return;
	}
	if (n == 0) {
		c->eof = true;
		return;
	}
	c->inlen += (size_t)n;

	size_t off = 0;
	struct origin to = { .tcp = true, .conn_id = c->id, .peer = c->peer, .peerlen = c->peerlen };
	while (c->fd >= 0 && c->inlen - off >= 2) {
		size_t mlen = (size_t)c->in[off] << 8 | c->in[off + 1];
		if (c->inlen - off < 2 + mlen)
			break;
		handle_message(&to, c->in + off + 2, mlen);
		off += 2 + mlen;
	}
	memmove(c->in, c->in + off, c->inlen - off);
	c->inlen -= off;
}

static void serve(void)
{
	sigset_t block, orig;
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	/* Signals are only delivered inside ppoll, so a stop request can never
	 * slip in between the check and the wait. */
	sigprocmask(SIG_BLOCK, &block, &orig);

	struct pollfd *pfds = NULL;
	size_t cap = 0;
	while (!stop_requested) {
		size_t nl = S.nlisteners, nc = S.nconns;
		if (nl + nc > cap) {
			cap = (nl + nc) * 2;
			pfds = xrealloc(pfds, cap * sizeof *pfds);
		}
		for (size_t i = 0; i < nl; i++)
			pfds[i] = (struct pollfd){ .fd = S.listeners[i].fd, .events = POLLIN };
		for (size_t i = 0; i < nc; i++) {
			struct conn *c = S.conns[i];
			short ev = (short)((c->eof ? 0 : POLLIN) | (c->outlen ? POLLOUT : 0));
			pfds[nl + i] = (struct pollfd){ .fd = c->fd, .events = ev };
		}

		int t = next_timeout_ms();
		struct timespec ts = { t / 1000, (long)(t % 1000) * 1000000L };
		int rc = ppoll(pfds, nl + nc, t < 0 ? NULL : &ts, &orig);
		if (rc < 0 && errno != EINTR) {
			perror("fakeup: ppoll");
			break;
		}
		if (rc > 0) {
			for (size_t i = 0; i < nl; i++) {
				if (!pfds[i].revents)
					continue;
				if (S.listeners[i].tcp)
					tcp_acceptable(S.listeners[i].fd);
				else
					udp_readable(S.listeners[i].fd);
			}
			/* Accepted connections are appended past nc and polled next
			 * round; pointers stay valid until reap_conns(). */
			for (size_t i = 0; i < nc; i++) {
				struct conn *c = S.conns[i];
				short re = pfds[nl + i].revents;
				if (c->fd < 0 || !re)
					continue;
				if (re & POLLERR) {
					conn_close(c);
					continue;
				}
				if (re & POLLOUT)
					conn_flush(c);
				if (c->fd >= 0 && !c->eof && (re & (POLLIN | POLLHUP)))
					conn_readable(c);
				/* Both directions are gone: nothing owed can be
				 * delivered, and POLLHUP would otherwise spin. */
				if (c->fd >= 0 && (re & POLLHUP))
					conn_close(c);
			}
		}
		run_delayed();
		reap_conns();
	}
	free(pfds);
	sigprocmask(SIG_SETMASK, &orig, NULL);
}

static void cleanup(void)
{
	for (size_t i = 0; i < S.nconns; i++) {
		conn_close(S.conns[i]);
		free(S.conns[i]->in);
		free(S.conns[i]->out);
		free(S.conns[i]);
	}
	free(S.conns);
	for (size_t i = 0; i < S.ndelayed; i++)
		free(S.delayed[i].msg);
	free(S.delayed);
	for (size_t i = 0; i < S.nlisteners; i++)
		close(S.listeners[i].fd);
	if (S.log)
		fclose(S.log);
}

static int write_ready_file(const char *path)
{
	/* Written under a temporary name and renamed so a polling test never
	 * sees a half-written file. */
	size_t n = strlen(path) + 8;
	char *tmp = xmalloc(n);
	snprintf(tmp, n, "%s.tmp", path);
	FILE *f = fopen(tmp, "w");
	int rc = -1;
	if (f) {
		bool ok = fputs("ready\n", f) >= 0;
		ok = (fclose(f) == 0) && ok;
		if (ok && rename(tmp, path) == 0)
			rc = 0;
		else
			unlink(tmp);
	}
	free(tmp);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: fakeup -l ADDR:PORT [-l ADDR:PORT ...] [--mode normal|servfail|refused|dead]\n"
		   "              [--answer IPV4] [--delay MS] [--log FILE] [--log-port] [--ready-file FILE]\n"
		   "              [--udp-only]\n"
		   "ADDR is a loopback address: 127.0.0.5:5300 or [::1]:5300\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "mode", required_argument, NULL, 'm' },
		{ "answer", required_argument, NULL, 'a' },
		{ "delay", required_argument, NULL, 'D' },
		{ "log", required_argument, NULL, 'L' },
		{ "ready-file", required_argument, NULL, 'r' },
		{ "log-port", no_argument, NULL, 'P' },
		{ "udp-only", no_argument, NULL, 'U' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *listen_addrs[MAX_LISTEN / 2];
	size_t nlisten = 0;
	const char *log_path = NULL, *ready_path = NULL;

	S.mode = MODE_NORMAL;
	memcpy(S.answer4, (const uint8_t[]){ 192, 0, 2, 1 }, 4);

	int opt;
	while ((opt = getopt_long(argc, argv, "l:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'l':
			if (nlisten == sizeof listen_addrs / sizeof listen_addrs[0]) {
				fprintf(stderr, "fakeup: too many -l\n");
				return 2;
			}
			listen_addrs[nlisten++] = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "normal"))
				S.mode = MODE_NORMAL;
			else if (!strcmp(optarg, "servfail"))
				S.mode = MODE_SERVFAIL;
			else if (!strcmp(optarg, "refused"))
				S.mode = MODE_REFUSED;
			else if (!strcmp(optarg, "dead"))
				S.mode = MODE_DEAD;
			else {
				fprintf(stderr, "fakeup: unknown mode '%s'\n", optarg);
				return 2;
			}
			break;
		case 'a':
			if (inet_pton(AF_INET, optarg, S.answer4) != 1) {
				fprintf(stderr, "fakeup: --answer needs an IPv4 address\n");
				return 2;
			}
			break;
		case 'P':
			S.log_port = true;
			break;
		case 'U':
			S.udp_only = true;
			break;
		case 'D':
			S.delay_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'L':
			log_path = optarg;
			break;
		case 'r':
			ready_path = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc || nlisten == 0) {
		usage(stderr);
		return 2;
	}

	S.rng = ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL) ^ 0x9e3779b97f4a7c15ull;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	if (log_path) {
		S.log = fopen(log_path, "a");
		if (!S.log) {
			fprintf(stderr, "fakeup: %s: %s\n", log_path, strerror(errno));
			return 1;
		}
	}

	for (size_t i = 0; i < nlisten; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int prc = parse_addrport(listen_addrs[i], &ss, &len);
		if (prc < 0) {
			fprintf(stderr, "fakeup: %s: %s\n", listen_addrs[i],
				prc == -2 ? "not a loopback address" : "expected ADDR:PORT or [ADDR6]:PORT");
			cleanup();
			return 2;
		}
		for (int tcp = 0; tcp <= !S.udp_only; tcp++) {
			int fd = open_listener(&ss, len, tcp);
			if (fd < 0) {
				fprintf(stderr, "fakeup: %s %s: %s\n", tcp ? "tcp" : "udp", listen_addrs[i],
					strerror(errno));
				cleanup();
				return 1;
			}
			S.listeners[S.nlisteners++] = (struct listener){ fd, tcp };
		}
	}

	if (ready_path && write_ready_file(ready_path) < 0) {
		fprintf(stderr, "fakeup: %s: %s\n", ready_path, strerror(errno));
		cleanup();
		return 1;
	}

	serve();
	cleanup();
	return 0;
}
