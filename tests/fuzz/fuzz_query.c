/* fuzz_query.c - libFuzzer target: a client's packet, as the listener
 * hands it over (UDP datagram or one TCP message).
 *
 * Runs what stubd does with every client packet before any upstream is
 * involved: wire_parse_query's verdict, the error reply for ANSWER, the
 * query sent upstream for RESOLVE, and the hosts stage's special names
 * (no hosts file) fitted to the client by wire_finish_reply. Also walks
 * the packet with wire_rr_iter. Aborts when an invariant of wire.h breaks.
 */
#include "fuzz_common.h"

#include <arpa/inet.h>

#include "stubd/hosts.h"

#define OUR_EDNS 1232

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

/* wire_rr_iter never reads past the message and never goes backwards. */
static void walk_records(const uint8_t *data, size_t size)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	int got;
	size_t prev_end;
	unsigned n = 0;

	if (wire_rr_iter_init(&it, data, size) < 0)
		return;
	FUZZ_CHECK(it.off >= WIRE_HEADER_LEN && it.off <= size);
	prev_end = it.off;
	while ((got = wire_rr_next(&it, &rr)) == 1) {
		FUZZ_CHECK(rr.start == prev_end);
		FUZZ_CHECK(rr.start < rr.ttl_off && rr.ttl_off + 6 + rr.rdlen == rr.end);
		FUZZ_CHECK(rr.end <= size);
		FUZZ_CHECK(rr.ttl == wire_get32(data + rr.ttl_off));
		FUZZ_CHECK(rr.type == wire_get16(data + rr.ttl_off - 4));
		prev_end = rr.end;
		FUZZ_CHECK(++n <= 3u * 65535u);
	}
	FUZZ_CHECK(got == 0 || got == -1);
}

/* The error reply for an ANSWER verdict: ID, rcode (extended ones in an
 * OPT), question echoed, and small enough for any UDP client. */
static void check_error_reply(const struct wire_query *q, unsigned rcode)
{
	uint8_t out[WIRE_UDP_MIN];
	size_t n = wire_build_error(out, sizeof(out), q, rcode, OUR_EDNS);

	FUZZ_CHECK(n >= WIRE_HEADER_LEN && n <= sizeof(out));
	FUZZ_CHECK(wire_get16(out) == q->id);
	uint16_t flags = wire_get16(out + 2);
	FUZZ_CHECK(flags & WIRE_FLAG_QR);
	FUZZ_CHECK(WIRE_RCODE(flags) == (rcode & 0xf));
	FUZZ_CHECK(wire_get16(out + 4) == (q->has_question ? 1 : 0));
	bool opt = q->edns || rcode > 15;
	FUZZ_CHECK(fuzz_count_opt(out, n) == (opt ? 1u : 0u));
	if (q->has_question && WIRE_OPCODE(q->flags) == 0)
		FUZZ_CHECK(wire_reply_matches(out, n, q->id, q));

	ldns_pkt *p = fuzz_must_parse(out, n);
	unsigned full = (unsigned)ldns_pkt_get_rcode(p) | ((unsigned)ldns_pkt_edns_extended_rcode(p) << 4);
	FUZZ_CHECK(full == rcode);
	ldns_pkt_free(p);

	/* Too small a buffer is refused, never overrun. */
	FUZZ_CHECK(wire_build_error(out, n - 1, q, rcode, OUR_EDNS) == 0);
}

/* The query stubd sends upstream parses back to the same question, with
 * our ID, RD, and an OPT carrying our size and the client's DO bit. */
static void check_upstream_query(const struct wire_query *q)
{
	uint8_t out[WIRE_HEADER_LEN + WIRE_NAME_MAX + 4 + WIRE_OPT_LEN];
	struct wire_query back;
	unsigned rcode;
	size_t n = wire_build_upstream_query(out, sizeof(out), 0xbeef, q, OUR_EDNS);

	FUZZ_CHECK(n == WIRE_HEADER_LEN + (size_t)q->qname_len + 4 + WIRE_OPT_LEN);
	FUZZ_CHECK(wire_parse_query(out, n, &back, &rcode) == WIRE_VERDICT_RESOLVE);
	FUZZ_CHECK(back.id == 0xbeef && (back.flags & WIRE_FLAG_RD));
	FUZZ_CHECK(back.qname_len == q->qname_len &&
		   memcmp(back.qname, q->qname, q->qname_len) == 0);
	FUZZ_CHECK(back.qtype == q->qtype && back.qclass == q->qclass);
	FUZZ_CHECK(back.edns && back.edns_udp_size == OUR_EDNS && back.edns_do == q->edns_do);
	FUZZ_CHECK((back.flags & WIRE_FLAG_CD) == (q->flags & WIRE_FLAG_CD));
	FUZZ_CHECK(wire_build_upstream_query(out, n - 1, 0xbeef, q, OUR_EDNS) == 0);
	ldns_pkt_free(fuzz_must_parse(out, n));
}

/* The hosts stage with no hosts file: localhost, reverse loopback names,
 * the own hostname, .invalid/.onion/.local and single labels. Its stored
 * answer, fitted to the client, is a good reply; a smaller buffer gives a
 * prefix of the same records. */
static void check_special_names(const struct wire_query *q)
{
	static uint8_t stored[WIRE_MSG_MAX], small[WIRE_UDP_MIN], out[WIRE_MSG_MAX];
	struct hosts_options opt = { .ttl = 7 };
	size_t len = 0, small_len = 0;

	hosts_options_set_hostname(&opt, "fuzzbox.example");
	inet_pton(AF_INET, "192.0.2.7", &opt.self_v4[0]);
	inet_pton(AF_INET6, "2001:db8::7", &opt.self_v6[0]);
	opt.n_self_v4 = opt.n_self_v6 = 1;

	enum hosts_verdict v = hosts_answer(NULL, &opt, q, stored, sizeof(stored), &len);
	if (v != HOSTS_ANSWERED)
		return;
	FUZZ_CHECK(len >= WIRE_HEADER_LEN + (size_t)q->qname_len + 4 && len <= sizeof(stored));
	uint16_t flags = wire_get16(stored + 2);
	FUZZ_CHECK((flags & WIRE_FLAG_QR) && (flags & WIRE_FLAG_AA));
	FUZZ_CHECK(WIRE_RCODE(flags) == WIRE_RCODE_NOERROR ||
		   WIRE_RCODE(flags) == WIRE_RCODE_NXDOMAIN);
	FUZZ_CHECK(wire_reply_matches(stored, len, 0, q)); /* hosts answers carry ID 0 */
	ldns_pkt_free(fuzz_must_parse(stored, len));

	FUZZ_CHECK(hosts_answer(NULL, &opt, q, small, sizeof(small), &small_len) == HOSTS_ANSWERED);
	FUZZ_CHECK(small_len <= sizeof(small) && small_len <= len);
	FUZZ_CHECK(memcmp(small + WIRE_HEADER_LEN, stored + WIRE_HEADER_LEN,
			  small_len - WIRE_HEADER_LEN) == 0);
	FUZZ_CHECK(wire_get16(small + 6) <= wire_get16(stored + 6));

	size_t limit = wire_udp_limit(q, OUR_EDNS);
	size_t n = wire_finish_reply(out, sizeof(out), stored, len, q, limit, OUR_EDNS);
	FUZZ_CHECK(n > 0);
	fuzz_check_client_reply(out, n, q);
	if (!(wire_get16(out + 2) & WIRE_FLAG_TC))
		FUZZ_CHECK(n <= limit);
}

static void check_resolve(const uint8_t *data, size_t size, const struct wire_query *q)
{
	FUZZ_CHECK(q->has_question);
	FUZZ_CHECK(fuzz_valid_name(q->qname, q->qname_len));
	FUZZ_CHECK(memcmp(q->qname, data + WIRE_HEADER_LEN, q->qname_len) == 0);
	FUZZ_CHECK(wire_get16(data + 4) == 1 && wire_get16(data + 6) == 0 &&
		   wire_get16(data + 8) == 0);
	FUZZ_CHECK(WIRE_OPCODE(q->flags) == 0 && !(q->flags & WIRE_FLAG_QR));
	FUZZ_CHECK(q->qtype != WIRE_TYPE_OPT && q->qtype != WIRE_TYPE_AXFR &&
		   q->qtype != WIRE_TYPE_IXFR && q->qtype != WIRE_TYPE_MAILA &&
		   q->qtype != WIRE_TYPE_MAILB);
	if (q->edns)
		FUZZ_CHECK(q->edns_version == 0 && q->edns_udp_size >= WIRE_UDP_MIN);
	else
		FUZZ_CHECK(!q->edns_do);

	size_t limit = wire_udp_limit(q, OUR_EDNS);
	FUZZ_CHECK(limit >= WIRE_UDP_MIN && limit <= OUR_EDNS);
	FUZZ_CHECK(q->edns || limit == WIRE_UDP_MIN);

	char text[WIRE_NAME_MAX * 4 + 2], tiny[6];
	wire_name_str(q->qname, q->qname_len, text, sizeof(text));
	FUZZ_CHECK(strlen(text) >= 1 && strlen(text) < sizeof(text));
	wire_name_str(q->qname, q->qname_len, tiny, sizeof(tiny));
	FUZZ_CHECK(strlen(tiny) < sizeof(tiny));

	check_upstream_query(q);
	check_error_reply(q, WIRE_RCODE_SERVFAIL);
	check_special_names(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wire_query q;
	unsigned rcode = 0xdead;

	memset(&q, 0xa5, sizeof(q)); /* no reliance on what was there before */
	enum wire_verdict v = wire_parse_query(data, size, &q, &rcode);
	walk_records(data, size);

	switch (v) {
	case WIRE_VERDICT_DROP:
		/* RFC 1035 §4.1.1: runts and responses only. */
		FUZZ_CHECK(size < WIRE_HEADER_LEN || (data[2] & 0x80));
		break;
	case WIRE_VERDICT_ANSWER:
		FUZZ_CHECK(size >= WIRE_HEADER_LEN && !(data[2] & 0x80));
		FUZZ_CHECK(rcode == WIRE_RCODE_FORMERR || rcode == WIRE_RCODE_NOTIMP ||
			   rcode == WIRE_RCODE_REFUSED || rcode == WIRE_RCODE_BADVERS);
		FUZZ_CHECK(q.id == wire_get16(data) && q.flags == wire_get16(data + 2));
		if (rcode == WIRE_RCODE_BADVERS)
			FUZZ_CHECK(q.edns && q.edns_version > 0 && q.has_question);
		if (q.has_question)
			FUZZ_CHECK(fuzz_valid_name(q.qname, q.qname_len));
		if (q.edns)
			FUZZ_CHECK(q.edns_udp_size >= WIRE_UDP_MIN);
		check_error_reply(&q, rcode);
		break;
	case WIRE_VERDICT_RESOLVE:
		FUZZ_CHECK(rcode == WIRE_RCODE_NOERROR);
		check_resolve(data, size, &q);
		break;
	default:
		FUZZ_CHECK(!"unknown verdict");
	}
	return 0;
}
