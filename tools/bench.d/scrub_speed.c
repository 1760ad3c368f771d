/* scrub_speed.c - what one scrub_reply() costs, against the ldns scrubber
 * it replaced (tests/oracle/scrub_ldns.c), on typical upstream replies.
 *
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-rel --target scrub_speed
 *   build-rel/tests/scrub_speed [ITERATIONS]
 *
 * Not part of tools/bench (which measures whole servers) nor of ctest:
 * a microbenchmark for issue 7, where scrubbing was most of a cache
 * miss's user-space time. Each case is run in rounds; the best round's
 * mean is printed, in ns per call, for both scrubbers. Single-threaded,
 * no sockets.
 */
#include <errno.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scrub_ldns.h"
#include "stubd/scrub.h"
#include "stubd/wire.h"

#define ROUNDS 7

struct reply_case {
	const char *what;
	const char *question;    /* "name. IN TYPE" */
	ldns_pkt_rcode rcode;
	const char *records[8];  /* "an ...", "ns ...", "ar ..." */
};

static const struct reply_case cases[] = {
	{ "A at the qname", "www.example.com. IN A", LDNS_RCODE_NOERROR,
	  { "an www.example.com. 300 IN A 93.184.216.34" } },
	{ "NXDOMAIN with SOA", "nope.example.com. IN A", LDNS_RCODE_NXDOMAIN,
	  { "ns example.com. 900 IN SOA ns.icann.org. noc.dns.icann.org. 2024010101 7200 3600 1209600 3600" } },
	{ "CNAME chain, 2 links, 2 A", "www.example.com. IN A", LDNS_RCODE_NOERROR,
	  { "an www.example.com. 300 IN CNAME www.example.com.cdn.example.net.",
	    "an www.example.com.cdn.example.net. 60 IN CNAME e1234.a.cdn.example.net.",
	    "an e1234.a.cdn.example.net. 20 IN A 192.0.2.10",
	    "an e1234.a.cdn.example.net. 20 IN A 192.0.2.11" } },
	{ "A with NS and glue", "www.example.org. IN A", LDNS_RCODE_NOERROR,
	  { "an www.example.org. 300 IN A 192.0.2.1",
	    "ns example.org. 86400 IN NS a.iana-servers.net.",
	    "ns example.org. 86400 IN NS b.iana-servers.net.",
	    "ar a.iana-servers.net. 86400 IN A 199.43.135.53",
	    "ar b.iana-servers.net. 86400 IN A 199.43.133.53" } },
};

static void die(const char *what)
{
	fprintf(stderr, "scrub_speed: %s\n", what);
	exit(1);
}

/* The reply as an upstream sends it: compressed by ldns, with an OPT. */
static uint8_t *build_reply(const struct reply_case *c, size_t *len)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = NULL;
	uint8_t *wire = NULL;

	if (!p || ldns_rr_new_question_frm_str(&q, c->question, NULL, NULL) != LDNS_STATUS_OK)
		die(c->question);
	ldns_pkt_set_id(p, 0x1234);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rd(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, (uint8_t)c->rcode);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	for (size_t i = 0; i < 8 && c->records[i]; i++) {
		const char *line = c->records[i];
		ldns_pkt_section sec = strncmp(line, "an ", 3) == 0   ? LDNS_SECTION_ANSWER
				       : strncmp(line, "ns ", 3) == 0 ? LDNS_SECTION_AUTHORITY
								      : LDNS_SECTION_ADDITIONAL;
		ldns_rr *rr = NULL;
		if (ldns_rr_new_frm_str(&rr, line + 3, 0, NULL, NULL) != LDNS_STATUS_OK)
			die(line);
		ldns_pkt_push_rr(p, sec, rr);
	}
	ldns_pkt_set_edns_udp_size(p, 1232);
	if (ldns_pkt2wire(&wire, p, len) != LDNS_STATUS_OK)
		die("ldns_pkt2wire");
	ldns_pkt_free(p);
	return wire;
}

/* The client's question, as wire_parse_query reads it. */
static struct wire_query client(const uint8_t *reply)
{
	uint8_t pkt[WIRE_HEADER_LEN + WIRE_NAME_MAX + 4];
	struct wire_query q;
	unsigned rcode;
	size_t n = 0;

	while (reply[WIRE_HEADER_LEN + n] != 0)
		n += 1 + (size_t)reply[WIRE_HEADER_LEN + n];
	n += 1 + 4;
	memset(pkt, 0, WIRE_HEADER_LEN);
	wire_put16(pkt, 0x1234);
	wire_put16(pkt + 2, WIRE_FLAG_RD);
	wire_put16(pkt + 4, 1);
	memcpy(pkt + WIRE_HEADER_LEN, reply + WIRE_HEADER_LEN, n);
	if (wire_parse_query(pkt, WIRE_HEADER_LEN + n, &q, &rcode) != WIRE_VERDICT_RESOLVE)
		die("wire_parse_query");
	return q;
}

typedef int (*scrub_fn)(const uint8_t *, size_t, const struct wire_query *, uint8_t **,
			size_t *);

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* The best round's mean time per call; *out_len the answer's length. */
static double time_scrub(scrub_fn fn, const uint8_t *reply, size_t len,
			 const struct wire_query *q, long iterations, size_t *out_len)
{
	double best = 0;
	for (int r = 0; r < ROUNDS; r++) {
		double start = now_ns();
		for (long i = 0; i < iterations; i++) {
			uint8_t *ans;
			if (fn(reply, len, q, &ans, out_len) != 0)
				die("scrub failed");
			free(ans);
		}
		double per = (now_ns() - start) / (double)iterations;
		if (r == 0 || per < best)
			best = per;
	}
	return best;
}

int main(int argc, char **argv)
{
	long iterations = argc > 1 ? atol(argv[1]) : 200000;
	if (iterations <= 0)
		die("usage: scrub_speed [ITERATIONS]");

	printf("%-28s %7s %12s %12s %7s\n", "reply", "bytes", "ldns ns", "wire ns", "speedup");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len, old_len, new_len;
		uint8_t *reply = build_reply(&cases[i], &len);
		struct wire_query q = client(reply);
		double old_ns = time_scrub(scrub_ldns_reply, reply, len, &q, iterations / 10,
					   &old_len);
		double new_ns = time_scrub(scrub_reply, reply, len, &q, iterations, &new_len);
		if (old_len != new_len)
			die("the two stored answers differ in length");
		printf("%-28s %7zu %12.0f %12.0f %6.1fx\n", cases[i].what, len, old_ns, new_ns,
		       old_ns / new_ns);
		free(reply);
	}
	return 0;
}
