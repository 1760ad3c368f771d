/*
 * dnsq: a raw DNS client for stubd's integration tests.
 *
 * Unlike dig it sends exactly what it is told (arbitrary bytes, odd EDNS
 * versions, fixed IDs, pipelined TCP queries, garbage floods) and prints
 * every reply verbatim as hex plus a one-line summary, without validating
 * it, so tests can check precisely what stubd put on the wire.
 */
#define _GNU_SOURCE

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>

#define MAX_MSG 65535

struct options {
	bool tcp;
	int timeout_ms;
	unsigned replies;
	long id; /* -1: random */
	bool edns;
	unsigned edns_size;
	unsigned edns_version;
	bool dnssec_ok;
	uint64_t seed;
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void *oom_check(void *p)
{
	if (!p) {
		fprintf(stderr, "dnsq: out of memory\n");
		exit(2);
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
	if (!*port || *end || p <= 0 || p > 65535)
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

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Whitespace and ':' are skipped so tests can group bytes for readability. */
static uint8_t *parse_hex(const char *s, size_t *len)
{
	uint8_t *out = xmalloc(strlen(s) / 2 + 1);
	size_t n = 0;
	int hi = -1;
	for (; *s; s++) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == ':')
			continue;
		int v = hexval((unsigned char)*s);
		if (v < 0) {
			free(out);
			return NULL;
		}
		if (hi < 0) {
			hi = v;
		} else {
			out[n++] = (uint8_t)(hi << 4 | v);
			hi = -1;
		}
	}
	if (hi >= 0) {
		free(out);
		return NULL;
	}
	*len = n;
	return out;
}

/* ---- building queries ---- */

/*
 * The OPT record is appended by hand rather than through ldns because ldns
 * omits it whenever the UDP size is 0, and tests need exactly that kind of
 * odd EDNS to probe stubd.
 */
static uint8_t *build_query(const char *name, const char *type, uint16_t id, const struct options *o, size_t *len)
{
	ldns_rr_type t = ldns_get_rr_type_by_name(type);
	if (t == 0 && strcasecmp(type, "TYPE0") != 0) {
		fprintf(stderr, "dnsq: unknown type '%s'\n", type);
		return NULL;
	}
	ldns_pkt *q = NULL;
	/* ldns keeps the letter case of the name, which 0x20 tests rely on. */
	if (ldns_pkt_query_new_frm_str(&q, name, t, LDNS_RR_CLASS_IN, LDNS_RD) != LDNS_STATUS_OK) {
		fprintf(stderr, "dnsq: bad name '%s'\n", name);
		return NULL;
	}
	ldns_pkt_set_id(q, id);
	uint8_t *wire = NULL;
	size_t n;
	ldns_status st = ldns_pkt2wire(&wire, q, &n);
	ldns_pkt_free(q);
	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "dnsq: cannot encode query: %s\n", ldns_get_errorstr_by_id(st));
		return NULL;
	}
	if (o->edns) {
		wire = xrealloc(wire, n + 11);
		uint8_t *p = wire + n;
		p[0] = 0;					/* root owner */
		p[1] = 0, p[2] = LDNS_RR_TYPE_OPT;
		p[3] = (uint8_t)(o->edns_size >> 8), p[4] = (uint8_t)o->edns_size;
		p[5] = 0;					/* extended rcode */
		p[6] = (uint8_t)o->edns_version;
		p[7] = o->dnssec_ok ? 0x80 : 0, p[8] = 0;	/* flags */
		p[9] = 0, p[10] = 0;				/* rdlength */
		n += 11;
		uint16_t ar = (uint16_t)(wire[10] << 8 | wire[11]) + 1;
		wire[10] = (uint8_t)(ar >> 8), wire[11] = (uint8_t)ar;
	}
	*len = n;
	return wire;
}

static uint16_t random_id(void)
{
	uint16_t id;
	if (getrandom(&id, sizeof id, 0) != (ssize_t)sizeof id)
		id = (uint16_t)(now_ms() ^ (uint64_t)getpid());
	return id;
}

/* ---- printing replies ---- */

static const char *rcode_name(unsigned rcode, char *buf, size_t n)
{
	static const char *const names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
					     "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE" };
	if (rcode < sizeof names / sizeof names[0])
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	snprintf(buf, n, "RCODE%u", rcode);
	return buf;
}

static unsigned get16(const uint8_t *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

/* Header-derived fields come from the raw bytes so they are reported even
 * when the rest of the message does not parse. */
static void print_reply(const uint8_t *msg, size_t len)
{
	for (size_t i = 0; i < len; i++)
		printf("%02x", msg[i]);
	printf("\n");
	if (len < 12) {
		printf("short reply (%zu bytes)\n", len);
		return;
	}

	ldns_pkt *p = NULL;
	ldns_status st = ldns_wire2pkt(&p, msg, len);
	unsigned flags = get16(msg + 2);
	unsigned rcode = flags & 0xf;
	if (st == LDNS_STATUS_OK && ldns_pkt_edns(p))
		rcode |= (unsigned)ldns_pkt_edns_extended_rcode(p) << 4;
	static const struct {
		unsigned bit;
		const char *name;
	} flag_names[] = { { 0x8000, "qr" }, { 0x0400, "aa" }, { 0x0200, "tc" }, { 0x0100, "rd" },
			   { 0x0080, "ra" }, { 0x0020, "ad" }, { 0x0010, "cd" } };
	char fbuf[32] = "";
	for (size_t i = 0; i < sizeof flag_names / sizeof flag_names[0]; i++) {
		if (!(flags & flag_names[i].bit))
			continue;
		if (fbuf[0])
			strcat(fbuf, " ");
		strcat(fbuf, flag_names[i].name);
	}
	char rbuf[16];
	printf("id=%u rcode=%s flags=%s qd=%u an=%u ns=%u ar=%u", get16(msg), rcode_name(rcode, rbuf, sizeof rbuf),
	       fbuf, get16(msg + 4), get16(msg + 6), get16(msg + 8), get16(msg + 10));
	if (st != LDNS_STATUS_OK) {
		printf(" parse=error(%s)\n", ldns_get_errorstr_by_id(st));
		return;
	}

	const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
	if (q) {
		char *name = ldns_rdf2str(ldns_rr_owner(q));
		char *type = ldns_rr_type2str(ldns_rr_get_type(q));
		printf(" q=%s %s", name ? name : "?", type ? type : "?");
		free(name);
		free(type);
	} else {
		printf(" q=-");
	}
	if (ldns_pkt_edns(p))
		printf(" edns=%u ednsver=%u do=%d", ldns_pkt_edns_udp_size(p), ldns_pkt_edns_version(p),
		       ldns_pkt_edns_do(p) ? 1 : 0);
	else
		printf(" edns=none");
	printf("\n");

	static const struct {
		const char *tag;
		ldns_pkt_section sec;
	} sections[] = { { "an", LDNS_SECTION_ANSWER },
			 { "ns", LDNS_SECTION_AUTHORITY },
			 { "ar", LDNS_SECTION_ADDITIONAL } };
	for (size_t s = 0; s < sizeof sections / sizeof sections[0]; s++) {
		ldns_rr_list *list = ldns_pkt_get_section_clone(p, sections[s].sec);
		for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
			char *txt = ldns_rr2str(ldns_rr_list_rr(list, i));
			if (!txt)
				continue;
			/* One space-separated line per record is easier to grep
			 * than ldns's tab layout. */
			for (char *c = txt; *c; c++)
				if (*c == '\t')
					*c = ' ';
			txt[strcspn(txt, "\n")] = '\0';
			printf("%s %s\n", sections[s].tag, txt);
			free(txt);
		}
		ldns_rr_list_deep_free(list);
	}
	ldns_pkt_free(p);
}

/* ---- transport ---- */

static int connect_to(const struct sockaddr_storage *ss, socklen_t sslen, bool tcp, uint64_t deadline)
{
	int fd = socket(ss->ss_family, (tcp ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC | (tcp ? SOCK_NONBLOCK : 0),
			0);
	if (fd < 0) {
		perror("dnsq: socket");
		return -1;
	}
	/* UDP connect() makes the kernel drop datagrams from anyone but the
	 * target, so only its replies are printed. */
	if (connect(fd, (const struct sockaddr *)ss, sslen) == 0)
		return fd;
	if (!tcp || errno != EINPROGRESS) {
		perror("dnsq: connect");
		close(fd);
		return -1;
	}
	uint64_t now = now_ms();
	struct pollfd pfd = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t elen = sizeof err;
	if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0) {
		fprintf(stderr, "timeout\n");
		close(fd);
		return -1;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0 || err) {
		fprintf(stderr, "dnsq: connect: %s\n", strerror(err ? err : errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int send_all(int fd, const uint8_t *buf, size_t len, uint64_t deadline)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		uint64_t now = now_ms();
		struct pollfd pfd = { .fd = fd, .events = POLLOUT };
		if (now >= deadline || poll(&pfd, 1, (int)(deadline - now)) <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
	}
	return 0;
}

static int send_msg(int fd, bool tcp, const uint8_t *msg, size_t len, uint64_t deadline)
{
	if (!tcp)
		return send(fd, msg, len, 0) == (ssize_t)len ? 0 : -1;
	if (len > MAX_MSG) {
		errno = EMSGSIZE;
		return -1;
	}
	uint8_t pfx[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	return send_all(fd, pfx, 2, deadline) < 0 ? -1 : send_all(fd, msg, len, deadline);
}

/* TCP stream reassembly state. */
struct reader {
	uint8_t *buf;
	size_t len;
};

/*
 * Waits for the next message.  Returns its length (into *out, valid until
 * the next call), -1 on timeout, -2 on error or TCP close (message printed).
 */
static long recv_msg(int fd, bool tcp, struct reader *r, uint64_t deadline, const uint8_t **out)
{
	for (;;) {
		if (tcp && r->len >= 2 && r->len >= 2 + get16(r->buf)) {
			*out = r->buf + 2;
			return (long)get16(r->buf);
		}
		uint64_t now = now_ms();
		if (now >= deadline)
			return -1;
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int rc = poll(&pfd, 1, (int)(deadline - now));
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc < 0) {
			perror("dnsq: poll");
			return -2;
		}
		if (rc == 0)
			return -1;
		ssize_t n = recv(fd, r->buf + r->len, (tcp ? 2 + MAX_MSG : MAX_MSG + 1) - r->len, MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
				continue;
			fprintf(stderr, "dnsq: receive: %s\n", strerror(errno));
			return -2;
		}
		if (!tcp) {
			*out = r->buf;
			return (long)n;
		}
		if (n == 0) {
			fprintf(stderr, "dnsq: connection closed by server\n");
			return -2;
		}
		r->len += (size_t)n;
	}
}

/* Drops the TCP frame just returned by recv_msg(). */
static void consume_msg(bool tcp, struct reader *r)
{
	if (!tcp || r->len < 2)
		return;
	size_t f = 2 + get16(r->buf);
	memmove(r->buf, r->buf + f, r->len - f);
	r->len -= f;
}

/* ---- modes ---- */

static int run_exchange(const struct sockaddr_storage *ss, socklen_t sslen, const struct options *o,
			const uint8_t *msg, size_t len)
{
	uint64_t deadline = now_ms() + (uint64_t)o->timeout_ms;
	int fd = connect_to(ss, sslen, o->tcp, deadline);
	if (fd < 0)
		return 1;
	if (send_msg(fd, o->tcp, msg, len, deadline) < 0) {
		fprintf(stderr, "dnsq: send: %s\n", strerror(errno));
		close(fd);
		return 1;
	}
	struct reader r = { xmalloc(2 + MAX_MSG + 1), 0 };
	int ret = 0;
	for (unsigned got = 0; got < o->replies; got++) {
		const uint8_t *reply;
		long n = recv_msg(fd, o->tcp, &r, deadline, &reply);
		if (n < 0) {
			if (n == -1)
				fprintf(stderr, "timeout\n");
			ret = 1;
			break;
		}
		print_reply(reply, (size_t)n);
		fflush(stdout);
		consume_msg(o->tcp, &r);
	}
	free(r.buf);
	close(fd);
	return ret;
}

/* Sends the queries for names (ids 1..nnames) back to back, before any
 * reply is read: over TCP in one buffer (pipeline), over UDP one datagram
 * each (burst). */
static int send_queries(int fd, bool tcp, const struct options *o, char **names, size_t nnames,
			uint64_t deadline)
{
	if (!tcp) {
		for (size_t i = 0; i < nnames; i++) {
			size_t qlen;
			uint8_t *q = build_query(names[i], "A", (uint16_t)(i + 1), o, &qlen);
			if (!q)
				return 2;
			ssize_t n = send(fd, q, qlen, 0);
			free(q);
			if (n < 0) {
				fprintf(stderr, "dnsq: send: %s\n", strerror(errno));
				return 1;
			}
		}
		return 0;
	}
	uint8_t *out = NULL;
	size_t outlen = 0;
	for (size_t i = 0; i < nnames; i++) {
		size_t qlen;
		uint8_t *q = build_query(names[i], "A", (uint16_t)(i + 1), o, &qlen);
		if (!q) {
			free(out);
			return 2;
		}
		out = xrealloc(out, outlen + 2 + qlen);
		out[outlen] = (uint8_t)(qlen >> 8);
		out[outlen + 1] = (uint8_t)qlen;
		memcpy(out + outlen + 2, q, qlen);
		outlen += 2 + qlen;
		free(q);
	}
	int rc = send_all(fd, out, outlen, deadline);
	free(out);
	if (rc < 0) {
		fprintf(stderr, "dnsq: send: %s\n", strerror(errno));
		return 1;
	}
	return 0;
}

/* Many questions at once on one connection or socket; prints a line per
 * reply, and names the ids that got none. */
static int run_pipeline(const struct sockaddr_storage *ss, socklen_t sslen, const struct options *o,
			bool tcp, char **names, size_t nnames)
{
	if (nnames == 0 || nnames > 65535) {
		fprintf(stderr, "dnsq: pipeline and burst need 1..65535 names\n");
		return 2;
	}
	uint64_t deadline = now_ms() + (uint64_t)o->timeout_ms;
	int fd = connect_to(ss, sslen, tcp, deadline);
	if (fd < 0)
		return 1;
	int rc = send_queries(fd, tcp, o, names, nnames, deadline);
	if (rc != 0) {
		close(fd);
		return rc;
	}

	bool *seen = calloc(nnames, sizeof *seen);
	struct reader r = { xmalloc(2 + MAX_MSG + 1), 0 };
	size_t nseen = 0;
	int ret = 0;
	while (nseen < nnames) {
		const uint8_t *reply;
		long n = recv_msg(fd, tcp, &r, deadline, &reply);
		if (n < 0) {
			if (n == -1)
				fprintf(stderr, "timeout\n");
			ret = 1;
			break;
		}
		ldns_pkt *p = NULL;
		if (n < 12 || ldns_wire2pkt(&p, reply, (size_t)n) != LDNS_STATUS_OK) {
			printf("unparsable reply (%ld bytes)\n", n);
			consume_msg(tcp, &r);
			continue;
		}
		unsigned id = ldns_pkt_id(p);
		const ldns_rr *q = ldns_rr_list_rr(ldns_pkt_question(p), 0);
		char *name = q ? ldns_rdf2str(ldns_rr_owner(q)) : NULL;
		char rbuf[16];
		unsigned rcode = ldns_pkt_get_rcode(p) | (unsigned)ldns_pkt_edns_extended_rcode(p) << 4;
		printf("id=%u name=%s rcode=%s an=%u\n", id, name ? name : "-", rcode_name(rcode, rbuf, sizeof rbuf),
		       (unsigned)ldns_pkt_ancount(p));
		fflush(stdout);
		free(name);
		ldns_pkt_free(p);
		consume_msg(tcp, &r);
		if (id >= 1 && id <= nnames && !seen[id - 1]) {
			seen[id - 1] = true;
			nseen++;
		}
	}
	for (size_t i = 0; i < nnames; i++)
		if (!seen[i])
			fprintf(stderr, "no reply for id=%zu (%s)\n", i + 1, names[i]);
	free(seen);
	free(r.buf);
	close(fd);
	return ret;
}

/* splitmix64: the flood must be reproducible from --seed on any libc. */
static uint64_t next_rand(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int run_flood(const struct sockaddr_storage *ss, socklen_t sslen, const struct options *o,
		     unsigned long count)
{
	int fd = connect_to(ss, sslen, false, now_ms() + (uint64_t)o->timeout_ms);
	if (fd < 0)
		return 1;
	uint64_t s = o->seed;
	uint8_t buf[600];
	for (unsigned long i = 0; i < count; i++) {
		size_t len = (size_t)(next_rand(&s) % (sizeof buf + 1));
		for (size_t j = 0; j < len; j++)
			buf[j] = (uint8_t)next_rand(&s);
		/* An ICMP error from an earlier datagram surfaces on a later
		 * send; the flood does not care whether anyone listens. */
		while (send(fd, buf, len, 0) < 0 && (errno == ECONNREFUSED || errno == EINTR))
			;
	}
	close(fd);
	return 0;
}

/* A random-subdomain flood: N well-formed A queries for random labels
 * under zone, sent as fast as the socket takes them, replies drained and
 * not waited for (the attack the cache cap must survive). */
static int run_namesflood(const struct sockaddr_storage *ss, socklen_t sslen,
			  const struct options *o, unsigned long count, const char *zone)
{
	int fd = connect_to(ss, sslen, false, now_ms() + (uint64_t)o->timeout_ms);
	if (fd < 0)
		return 1;
	uint64_t s = o->seed;
	size_t zlen = strlen(zone);
	if (zlen > 200) {
		close(fd);
		return 2;
	}
	for (unsigned long i = 0; i < count; i++) {
		uint8_t buf[512], junk[4096];
		size_t off = 12;
		memset(buf, 0, 12);
		uint64_t r = next_rand(&s);
		buf[0] = (uint8_t)(r >> 8);
		buf[1] = (uint8_t)r;
		buf[2] = 0x01; /* RD */
		buf[5] = 1;    /* QDCOUNT */
		buf[off++] = 16;
		for (int j = 0; j < 16; j++)
			buf[off++] = (uint8_t)('a' + next_rand(&s) % 26);
		const char *label = zone;
		while (*label) {
			const char *dot = strchr(label, '.');
			size_t n = dot ? (size_t)(dot - label) : strlen(label);
			buf[off++] = (uint8_t)n;
			memcpy(buf + off, label, n);
			off += n;
			label += n + (dot ? 1 : 0);
		}
		buf[off++] = 0;
		buf[off++] = 0; buf[off++] = 1; /* A */
		buf[off++] = 0; buf[off++] = 1; /* IN */
		while (send(fd, buf, off, 0) < 0 && (errno == ECONNREFUSED || errno == EINTR))
			;
		while (recv(fd, junk, sizeof junk, MSG_DONTWAIT) > 0)
			;
	}
	close(fd);
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: dnsq [--tcp] [--timeout MS] [--replies N] ADDR:PORT hex HEXBYTES\n"
		"       dnsq [--tcp] [--timeout MS] [--replies N] ADDR:PORT query NAME TYPE\n"
		"            [--id N] [--no-edns | --edns-size N] [--edns-version V] [--do]\n"
		"       dnsq [--timeout MS] ADDR:PORT pipeline NAME... (over TCP, one connection)\n"
		"       dnsq [--timeout MS] ADDR:PORT burst NAME...    (over UDP, one socket)\n"
		"       dnsq ADDR:PORT flood N [--seed S]\n"
		"       dnsq ADDR:PORT namesflood N ZONE [--seed S]\n"
		"ADDR is a loopback address: 127.0.0.1:53 or [::1]:53\n"
		"exit: 0 reply received, 1 timeout/network error, 2 usage\n");
}

static bool parse_num(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 0);
	if (!*s || *end || errno || v > max || s[0] == '-')
		return false;
	*out = v;
	return true;
}

int main(int argc, char **argv)
{
	enum { O_TCP = 256, O_TIMEOUT, O_REPLIES, O_ID, O_NOEDNS, O_EDNSSIZE, O_EDNSVER, O_DO, O_SEED, O_HELP };
	static const struct option opts[] = {
		{ "tcp", no_argument, NULL, O_TCP },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "replies", required_argument, NULL, O_REPLIES },
		{ "id", required_argument, NULL, O_ID },
		{ "no-edns", no_argument, NULL, O_NOEDNS },
		{ "edns-size", required_argument, NULL, O_EDNSSIZE },
		{ "edns-version", required_argument, NULL, O_EDNSVER },
		{ "do", no_argument, NULL, O_DO },
		{ "seed", required_argument, NULL, O_SEED },
		{ "help", no_argument, NULL, O_HELP },
		{ NULL, 0, NULL, 0 },
	};
	struct options o = { .timeout_ms = 2000, .replies = 1, .id = -1, .edns = true, .edns_size = 1232, .seed = 1 };
	bool no_edns = false, edns_param = false;
	unsigned long v;

	int opt;
	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case O_TCP:
			o.tcp = true;
			break;
		case O_TIMEOUT:
			if (!parse_num(optarg, 3600000, &v))
				goto bad;
			o.timeout_ms = (int)v;
			break;
		case O_REPLIES:
			if (!parse_num(optarg, 65535, &v) || v == 0)
				goto bad;
			o.replies = (unsigned)v;
			break;
		case O_ID:
			if (!parse_num(optarg, 65535, &v))
				goto bad;
			o.id = (long)v;
			break;
		case O_NOEDNS:
			no_edns = true;
			break;
		case O_EDNSSIZE:
			if (!parse_num(optarg, 65535, &v))
				goto bad;
			o.edns_size = (unsigned)v;
			edns_param = true;
			break;
		case O_EDNSVER:
			if (!parse_num(optarg, 255, &v))
				goto bad;
			o.edns_version = (unsigned)v;
			edns_param = true;
			break;
		case O_DO:
			o.dnssec_ok = true;
			edns_param = true;
			break;
		case O_SEED:
			if (!parse_num(optarg, UINT64_MAX, &v))
				goto bad;
			o.seed = v;
			break;
		case O_HELP:
			usage(stdout);
			return 0;
		default:
			goto usage;
		}
	}
	if (no_edns && edns_param) {
		fprintf(stderr, "dnsq: --no-edns conflicts with --edns-size/--edns-version/--do\n");
		return 2;
	}
	o.edns = !no_edns;
	if (argc - optind < 2)
		goto usage;

	struct sockaddr_storage ss;
	socklen_t sslen;
	int prc = parse_addrport(argv[optind], &ss, &sslen);
	if (prc < 0) {
		fprintf(stderr, "dnsq: %s: %s\n", argv[optind],
			prc == -2 ? "not a loopback address" : "expected ADDR:PORT or [ADDR6]:PORT");
		return 2;
	}
	const char *mode = argv[optind + 1];
	char **args = argv + optind + 2;
	int nargs = argc - optind - 2;

	if (!strcmp(mode, "hex") && nargs == 1) {
		size_t len;
		uint8_t *msg = parse_hex(args[0], &len);
		if (!msg) {
			fprintf(stderr, "dnsq: bad hex string\n");
			return 2;
		}
		int ret = run_exchange(&ss, sslen, &o, msg, len);
		free(msg);
		return ret;
	}
	if (!strcmp(mode, "query") && nargs == 2) {
		size_t len;
		uint16_t id = o.id >= 0 ? (uint16_t)o.id : random_id();
		uint8_t *msg = build_query(args[0], args[1], id, &o, &len);
		if (!msg)
			return 2;
		int ret = run_exchange(&ss, sslen, &o, msg, len);
		free(msg);
		return ret;
	}
	if (!strcmp(mode, "pipeline") && nargs >= 1)
		return run_pipeline(&ss, sslen, &o, true, args, (size_t)nargs);
	if (!strcmp(mode, "burst") && nargs >= 1)
		return run_pipeline(&ss, sslen, &o, false, args, (size_t)nargs);
	if (!strcmp(mode, "namesflood") && nargs == 2) {
		if (!parse_num(args[0], 100000000, &v))
			goto bad;
		return run_namesflood(&ss, sslen, &o, v, args[1]);
	}
	if (!strcmp(mode, "flood") && nargs == 1) {
		if (!parse_num(args[0], 100000000, &v))
			goto bad;
		return run_flood(&ss, sslen, &o, v);
	}
usage:
	usage(stderr);
	return 2;
bad:
	fprintf(stderr, "dnsq: bad numeric argument\n");
	return 2;
}
