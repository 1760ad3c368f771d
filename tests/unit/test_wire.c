/* test_wire.c - unit tests for wire.c (query checks, replies stubd writes,
 * reply matching, record walking) and scrub.c (stored-answer form). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "stubd/scrub.h"
#include "stubd/wire.h"
#include "pkt.h"

/* ---- packet builder ------------------------------------------------- */

static void a_record(struct pkt *p, uint32_t ttl, uint32_t addr)
{
	put16(p, 0xc00c); /* pointer to the question name */
	put16(p, WIRE_TYPE_A); put16(p, WIRE_CLASS_IN); put32(p, ttl);
	put16(p, 4); put32(p, addr);
}

static enum wire_verdict parse(const struct pkt *p, struct wire_query *q, unsigned *rcode)
{
	return wire_parse_query(p->b, p->len, q, rcode);
}

static void simple_query(struct pkt *p, const char *qname, uint16_t type, bool edns)
{
	header(p, 0x1234, WIRE_FLAG_RD, 1, 0, 0, edns ? 1 : 0);
	question(p, qname, type);
	if (edns)
		opt(p, 4096, 0, false);
}

/* ---- wire_parse_query ----------------------------------------------- */

static void test_parse_good_query(void **state)
{
	struct pkt p;
	struct wire_query q;
	unsigned rcode = 99;

	simple_query(&p, "WwW.Example.test", WIRE_TYPE_AAAA, false);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_RESOLVE);
	assert_int_equal(q.id, 0x1234);
	assert_int_equal(q.qtype, WIRE_TYPE_AAAA);
	assert_int_equal(q.qclass, WIRE_CLASS_IN);
	assert_true(q.has_question);
	assert_false(q.edns);
	assert_int_equal(q.qname_len, 18);
	assert_memory_equal(q.qname, "\3WwW\7Example\4test\0", 18);
}

static void test_parse_edns(void **state)
{
	struct pkt p;
	struct wire_query q;
	unsigned rcode;

	header(&p, 1, 0, 1, 0, 0, 1);
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1400, 0, true);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_RESOLVE);
	assert_true(q.edns);
	assert_true(q.edns_do);
	assert_int_equal(q.edns_udp_size, 1400);

	/* RFC 6891 §6.2.5: sizes below 512 are treated as 512. */
	header(&p, 1, 0, 1, 0, 0, 1);
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 100, 0, false);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_RESOLVE);
	assert_int_equal(q.edns_udp_size, 512);
	assert_false(q.edns_do);
}

static void test_parse_drops(void **state)
{
	struct pkt p;
	struct wire_query q;
	unsigned rcode;

	simple_query(&p, "a.test", WIRE_TYPE_A, false);
	for (size_t len = 0; len < WIRE_HEADER_LEN; len++)
		assert_int_equal(wire_parse_query(p.b, len, &q, &rcode), WIRE_VERDICT_DROP);

	header(&p, 1, WIRE_FLAG_QR, 1, 0, 0, 0);
	question(&p, "a.test", WIRE_TYPE_A);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_DROP);
}

static void expect_rcode(const struct pkt *p, unsigned want)
{
	struct wire_query q;
	unsigned rcode = 99;
	assert_int_equal(parse(p, &q, &rcode), WIRE_VERDICT_ANSWER);
	assert_int_equal(rcode, want);
}

static void test_parse_rejects(void **state)
{
	struct pkt p;

	header(&p, 1, 2 << 11, 1, 0, 0, 0); /* opcode STATUS */
	question(&p, "a.test", WIRE_TYPE_A);
	expect_rcode(&p, WIRE_RCODE_NOTIMP);

	header(&p, 1, 0, 0, 0, 0, 0);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	header(&p, 1, 0, 2, 0, 0, 0);
	question(&p, "a.test", WIRE_TYPE_A);
	question(&p, "b.test", WIRE_TYPE_A);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	header(&p, 1, 0, 1, 1, 0, 0);
	question(&p, "a.test", WIRE_TYPE_A);
	a_record(&p, 1, 1);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	header(&p, 1, 0, 1, 0, 1, 0);
	question(&p, "a.test", WIRE_TYPE_A);
	a_record(&p, 1, 1);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	simple_query(&p, "a.test", WIRE_TYPE_AXFR, false);
	expect_rcode(&p, WIRE_RCODE_REFUSED);
	simple_query(&p, "a.test", WIRE_TYPE_IXFR, false);
	expect_rcode(&p, WIRE_RCODE_REFUSED);
	simple_query(&p, "a.test", WIRE_TYPE_OPT, false);
	expect_rcode(&p, WIRE_RCODE_FORMERR);
	simple_query(&p, "a.test", WIRE_TYPE_MAILA, false);
	expect_rcode(&p, WIRE_RCODE_NOTIMP);
}

/* RFC 6891 §7: an error reply to an EDNS query carries an OPT too. */
static void test_errors_keep_edns(void **state)
{
	struct pkt p;
	struct wire_query q;
	unsigned rcode;

	header(&p, 1, 2 << 11, 1, 0, 0, 1); /* opcode STATUS */
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 0, true);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_ANSWER);
	assert_int_equal(rcode, WIRE_RCODE_NOTIMP);
	assert_true(q.edns);
	assert_true(q.edns_do);

	header(&p, 1, 0, 1, 1, 0, 1); /* an answer record in a query */
	question(&p, "a.test", WIRE_TYPE_A);
	a_record(&p, 1, 1);
	opt(&p, 1232, 0, false);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_ANSWER);
	assert_int_equal(rcode, WIRE_RCODE_FORMERR);
	assert_true(q.edns);

	header(&p, 1, 0, 0, 0, 0, 1); /* no question, but an OPT */
	opt(&p, 1232, 0, false);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_ANSWER);
	assert_int_equal(rcode, WIRE_RCODE_FORMERR);
	assert_true(q.edns);
}

static void test_parse_bad_names(void **state)
{
	struct pkt p;

	/* label length runs past the end */
	header(&p, 1, 0, 1, 0, 0, 0);
	put8(&p, 10);
	put8(&p, 'a');
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	/* compression pointer in the question */
	header(&p, 1, 0, 1, 0, 0, 0);
	put16(&p, 0xc00c);
	put16(&p, 1);
	put16(&p, 1);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	/* reserved label type 0x40 */
	header(&p, 1, 0, 1, 0, 0, 0);
	put8(&p, 0x41);
	put8(&p, 'a');
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	/* name longer than 255 bytes: five 63-byte labels */
	header(&p, 1, 0, 1, 0, 0, 0);
	for (int i = 0; i < 5; i++) {
		put8(&p, 63);
		memset(p.b + p.len, 'x', 63);
		p.len += 63;
	}
	put8(&p, 0);
	put16(&p, 1);
	put16(&p, 1);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	/* name ends before type and class */
	header(&p, 1, 0, 1, 0, 0, 0);
	name(&p, "a.test");
	put16(&p, 1);
	expect_rcode(&p, WIRE_RCODE_FORMERR);
}

static void test_parse_bad_opt(void **state)
{
	struct pkt p;
	struct wire_query q;
	unsigned rcode;

	/* RFC 6891 §6.1.1: two OPT records */
	header(&p, 1, 0, 1, 0, 0, 2);
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 0, false);
	opt(&p, 1232, 0, false);
	expect_rcode(&p, WIRE_RCODE_FORMERR);
	parse(&p, &q, &rcode);
	assert_false(q.edns); /* a broken OPT is not echoed */

	/* OPT owned by a name other than the root */
	header(&p, 1, 0, 1, 0, 0, 1);
	question(&p, "a.test", WIRE_TYPE_A);
	name(&p, "x");
	put16(&p, WIRE_TYPE_OPT); put16(&p, 1232); put32(&p, 0); put16(&p, 0);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	/* rdata runs past the end */
	header(&p, 1, 0, 1, 0, 0, 1);
	question(&p, "a.test", WIRE_TYPE_A);
	put8(&p, 0);
	put16(&p, WIRE_TYPE_OPT); put16(&p, 1232); put32(&p, 0); put16(&p, 20);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	/* ARCOUNT claims more records than there are */
	header(&p, 1, 0, 1, 0, 0, 3);
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 0, false);
	expect_rcode(&p, WIRE_RCODE_FORMERR);

	/* RFC 6891 §6.1.3: unknown version */
	header(&p, 1, 0, 1, 0, 0, 1);
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 1, false);
	expect_rcode(&p, WIRE_RCODE_BADVERS);
}

/* ---- replies stubd writes ------------------------------------------ */

static ldns_pkt *to_ldns(const uint8_t *b, size_t len)
{
	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, b, len), LDNS_STATUS_OK);
	return pkt;
}

static void test_build_error(void **state)
{
	struct pkt p;
	struct wire_query q;
	unsigned rcode;
	uint8_t out[512];

	header(&p, 0xbeef, WIRE_FLAG_RD | WIRE_FLAG_CD, 1, 0, 0, 0);
	question(&p, "Mixed.Case", WIRE_TYPE_A);
	parse(&p, &q, &rcode);
	size_t len = wire_build_error(out, sizeof(out), &q, WIRE_RCODE_SERVFAIL, 1232);
	assert_int_equal(len, WIRE_HEADER_LEN + q.qname_len + 4);
	assert_int_equal(wire_get16(out), 0xbeef);
	uint16_t flags = wire_get16(out + 2);
	assert_true(flags & WIRE_FLAG_QR);
	assert_true(flags & WIRE_FLAG_RD);
	assert_true(flags & WIRE_FLAG_CD);
	assert_int_equal(WIRE_RCODE(flags), WIRE_RCODE_SERVFAIL);
	assert_memory_equal(out + WIRE_HEADER_LEN, q.qname, q.qname_len);
	assert_int_equal(wire_get16(out + 10), 0); /* no OPT: the client sent none */

	/* BADVERS lives in the OPT record: header rcode 0, extended 1. */
	header(&p, 7, 0, 1, 0, 0, 1);
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 1, true);
	assert_int_equal(parse(&p, &q, &rcode), WIRE_VERDICT_ANSWER);
	len = wire_build_error(out, sizeof(out), &q, rcode, 1232);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), 0);
	assert_int_equal(ldns_pkt_edns_extended_rcode(pkt), 1);
	assert_int_equal(ldns_pkt_edns_version(pkt), 0);
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	ldns_pkt_free(pkt);

	/* A buffer too small gets nothing, not a partial message. */
	assert_int_equal(wire_build_error(out, 20, &q, WIRE_RCODE_SERVFAIL, 1232), 0);
}

static void test_build_upstream_query(void **state)
{
	struct pkt p;
	struct wire_query q;
	unsigned rcode;
	uint8_t out[512];

	header(&p, 1, WIRE_FLAG_CD, 1, 0, 0, 1);
	question(&p, "WWW.example.TEST", WIRE_TYPE_AAAA);
	opt(&p, 4096, 0, true);
	parse(&p, &q, &rcode);
	size_t len = wire_build_upstream_query(out, sizeof(out), 0x4242, &q, 1232);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_id(pkt), 0x4242);
	assert_true(ldns_pkt_rd(pkt));
	assert_true(ldns_pkt_cd(pkt));
	assert_false(ldns_pkt_qr(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	assert_true(ldns_pkt_edns_do(pkt));
	assert_memory_equal(out + WIRE_HEADER_LEN, q.qname, q.qname_len);
	ldns_pkt_free(pkt);
}

/* A stored answer for "www.example.test A": the form scrub_reply makes. */
static void stored_answer(struct pkt *p, unsigned records)
{
	header(p, 0, WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA | WIRE_FLAG_AD, 1,
	       (uint16_t)records, 0, 0);
	question(p, "www.example.test", WIRE_TYPE_A);
	for (unsigned i = 0; i < records; i++)
		a_record(p, 300, 0xc0000201 + i);
}

static void test_finish_reply(void **state)
{
	struct pkt ans, p;
	struct wire_query q;
	unsigned rcode;
	uint8_t out[4096];

	stored_answer(&ans, 2);
	header(&p, 0x9999, 0, 1, 0, 0, 1); /* RD=0 */
	question(&p, "WWW.Example.Test", WIRE_TYPE_A);
	opt(&p, 4096, 0, true);
	parse(&p, &q, &rcode);

	size_t len = wire_finish_reply(out, sizeof(out), ans.b, ans.len, &q, 1232, 1232);
	assert_int_equal(len, ans.len + WIRE_OPT_LEN);
	assert_int_equal(wire_get16(out), 0x9999);
	uint16_t flags = wire_get16(out + 2);
	assert_false(flags & WIRE_FLAG_RD); /* the client's RD, not the stored one */
	assert_true(flags & WIRE_FLAG_AD);  /* DO set: AD kept (RFC 6840 §5.8) */
	assert_memory_equal(out + WIRE_HEADER_LEN, "\3WWW\7Example\4Test", 17);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(ldns_rr_list_rr_count(ldns_pkt_answer(pkt)), 2);
	assert_true(ldns_pkt_edns_do(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), 1232);
	ldns_pkt_free(pkt);

	/* Without EDNS and AD: no OPT, AD cleared. */
	simple_query(&p, "www.example.test", WIRE_TYPE_A, false);
	parse(&p, &q, &rcode);
	len = wire_finish_reply(out, sizeof(out), ans.b, ans.len, &q, 512, 1232);
	assert_int_equal(len, ans.len);
	assert_int_equal(wire_get16(out + 10), 0);
	assert_false(wire_get16(out + 2) & WIRE_FLAG_AD);
}

static void test_finish_reply_truncates(void **state)
{
	struct pkt ans, p;
	struct wire_query q;
	unsigned rcode;
	uint8_t out[4096];

	stored_answer(&ans, 40); /* 34 + 40 * 16 = 674 bytes */
	simple_query(&p, "www.example.test", WIRE_TYPE_A, false);
	parse(&p, &q, &rcode);
	size_t len = wire_finish_reply(out, sizeof(out), ans.b, ans.len, &q,
				       wire_udp_limit(&q, 1232), 1232);
	assert_true(len <= 512);
	assert_true(wire_get16(out + 2) & WIRE_FLAG_TC);
	assert_int_equal(wire_get16(out + 6), 0);
	assert_int_equal(wire_get16(out), 0x1234);

	/* The same answer fits a client with a larger EDNS buffer. */
	simple_query(&p, "www.example.test", WIRE_TYPE_A, true);
	parse(&p, &q, &rcode);
	len = wire_finish_reply(out, sizeof(out), ans.b, ans.len, &q,
				wire_udp_limit(&q, 1232), 1232);
	assert_int_equal(len, ans.len + WIRE_OPT_LEN);
	assert_false(wire_get16(out + 2) & WIRE_FLAG_TC);
	assert_int_equal(wire_get16(out + 6), 40);
}

static void test_finish_reply_wrong_question(void **state)
{
	struct pkt ans, p;
	struct wire_query q;
	unsigned rcode;
	uint8_t out[4096];

	stored_answer(&ans, 1);
	simple_query(&p, "other.example.test", WIRE_TYPE_A, false);
	parse(&p, &q, &rcode);
	assert_int_equal(wire_finish_reply(out, sizeof(out), ans.b, ans.len, &q, 512, 1232), 0);
	simple_query(&p, "www.example.test", WIRE_TYPE_AAAA, false);
	parse(&p, &q, &rcode);
	assert_int_equal(wire_finish_reply(out, sizeof(out), ans.b, ans.len, &q, 512, 1232), 0);
}

static void test_udp_limit(void **state)
{
	struct wire_query q = { .edns = false };
	assert_int_equal(wire_udp_limit(&q, 1232), 512);
	q.edns = true;
	q.edns_udp_size = 4096;
	assert_int_equal(wire_udp_limit(&q, 1232), 1232);
	q.edns_udp_size = 800;
	assert_int_equal(wire_udp_limit(&q, 1232), 800);
	q.edns_udp_size = 512;
	assert_int_equal(wire_udp_limit(&q, 1232), 512);
}

/* ---- matching upstream replies ------------------------------------- */

static void test_reply_matches(void **state)
{
	struct pkt p, r;
	struct wire_query q;
	unsigned rcode;

	simple_query(&p, "www.Example.test", WIRE_TYPE_A, false);
	parse(&p, &q, &rcode);

	header(&r, 77, WIRE_FLAG_QR, 1, 0, 0, 0);
	question(&r, "WWW.EXAMPLE.TEST", WIRE_TYPE_A); /* RFC 4343: case does not matter */
	assert_true(wire_reply_matches(r.b, r.len, 77, &q));
	assert_false(wire_reply_matches(r.b, r.len, 78, &q)); /* wrong ID */
	assert_false(wire_reply_matches(r.b, 11, 77, &q));

	header(&r, 77, 0, 1, 0, 0, 0); /* not a response */
	question(&r, "www.example.test", WIRE_TYPE_A);
	assert_false(wire_reply_matches(r.b, r.len, 77, &q));

	header(&r, 77, WIRE_FLAG_QR, 1, 0, 0, 0);
	question(&r, "evil.www.example.test", WIRE_TYPE_A);
	assert_false(wire_reply_matches(r.b, r.len, 77, &q));

	header(&r, 77, WIRE_FLAG_QR, 1, 0, 0, 0);
	question(&r, "www.example.test", WIRE_TYPE_AAAA);
	assert_false(wire_reply_matches(r.b, r.len, 77, &q));

	header(&r, 77, WIRE_FLAG_QR, 0, 0, 0, 0);
	assert_false(wire_reply_matches(r.b, r.len, 77, &q));
}

static void test_rr_iter(void **state)
{
	struct pkt p;
	struct wire_rr_iter it;
	struct wire_rr rr;

	header(&p, 1, WIRE_FLAG_QR, 1, 2, 0, 1);
	question(&p, "www.example.test", WIRE_TYPE_A);
	a_record(&p, 100, 1);
	a_record(&p, 200, 2);
	opt(&p, 1232, 0, false);

	assert_int_equal(wire_rr_iter_init(&it, p.b, p.len), 0);
	assert_int_equal(wire_rr_next(&it, &rr), 1);
	assert_int_equal(rr.section, WIRE_SECTION_ANSWER);
	assert_int_equal(rr.ttl, 100);
	assert_int_equal(wire_get32(p.b + rr.ttl_off), 100);
	assert_int_equal(wire_rr_next(&it, &rr), 1);
	assert_int_equal(rr.ttl, 200);
	assert_int_equal(rr.index, 1);
	assert_int_equal(wire_rr_next(&it, &rr), 1);
	assert_int_equal(rr.section, WIRE_SECTION_ADDITIONAL);
	assert_int_equal(rr.type, WIRE_TYPE_OPT);
	assert_int_equal(rr.end, p.len);
	assert_int_equal(wire_rr_next(&it, &rr), 0);

	/* Counts that promise more than the message holds. */
	wire_put16(p.b + 6, 5);
	assert_int_equal(wire_rr_iter_init(&it, p.b, p.len), 0);
	int got;
	while ((got = wire_rr_next(&it, &rr)) == 1)
		;
	assert_int_equal(got, -1);
}

static void test_name_str(void **state)
{
	char buf[64];
	assert_string_equal(wire_name_str((const uint8_t *)"\3WwW\4test", 10, buf, sizeof(buf)),
			    "WwW.test.");
	assert_string_equal(wire_name_str((const uint8_t *)"", 1, buf, sizeof(buf)), ".");
	assert_string_equal(wire_name_str((const uint8_t *)"\3a.b\1\001", 7, buf, sizeof(buf)),
			    "a\\.b.\\001.");
	assert_string_equal(wire_rcode_name(WIRE_RCODE_NXDOMAIN), "NXDOMAIN");
	assert_string_equal(wire_rcode_name(WIRE_RCODE_BADVERS), "BADVERS");
}

/* Reads the name at off of p; returns its presentation form, or NULL
 * when wire_read_name() refuses it. Checks where the name ends. */
static const char *read_name_at(const struct pkt *p, size_t off, size_t want_end, char *buf,
				size_t size)
{
	uint8_t flat[WIRE_NAME_MAX];
	size_t flat_len = 0;
	size_t pos = off;
	if (wire_read_name(p->b, p->len, &pos, flat, &flat_len) < 0) {
		assert_int_equal(pos, off); /* untouched on error */
		return NULL;
	}
	assert_int_equal(pos, want_end);
	return wire_name_str(flat, flat_len, buf, size);
}

static void test_read_name(void **state)
{
	struct pkt p;
	char buf[1100];

	header(&p, 1, WIRE_FLAG_QR, 1, 0, 0, 0);
	question(&p, "www.example.test", WIRE_TYPE_A);  /* name at 12..29 */
	size_t ptr_whole = p.len;
	put16(&p, 0xc00c);                                /* -> www.example.test */
	size_t ptr_mid = p.len;
	name(&p, "mail");                                 /* \4mail then... */
	p.len--;                                          /* ...no root: a pointer */
	put16(&p, 0xc000 | 16);                           /* -> example.test */
	size_t two_hops = p.len;
	put8(&p, 1); put8(&p, 'x');
	put16(&p, (uint16_t)(0xc000 | ptr_mid));          /* x.mail.example.test */

	assert_string_equal(read_name_at(&p, 12, 30, buf, sizeof(buf)), "www.example.test.");
	assert_string_equal(read_name_at(&p, ptr_whole, ptr_whole + 2, buf, sizeof(buf)),
			    "www.example.test.");
	assert_string_equal(read_name_at(&p, ptr_mid, ptr_mid + 7, buf, sizeof(buf)),
			    "mail.example.test.");
	assert_string_equal(read_name_at(&p, two_hops, two_hops + 4, buf, sizeof(buf)),
			    "x.mail.example.test.");

	/* A pointer to itself, forward, into the header, or back into the
	 * labels that led to it: all refused (RFC 1035 §4.1.4 points back at
	 * an earlier name only). */
	size_t self = p.len;
	put16(&p, (uint16_t)(0xc000 | self));
	assert_null(read_name_at(&p, self, 0, buf, sizeof(buf)));
	size_t fwd = p.len;
	put16(&p, (uint16_t)(0xc000 | (fwd + 2)));
	name(&p, "later");
	assert_null(read_name_at(&p, fwd, 0, buf, sizeof(buf)));
	size_t hdr = p.len;
	put16(&p, 0xc004);
	assert_null(read_name_at(&p, hdr, 0, buf, sizeof(buf)));
	size_t loop = p.len;
	put8(&p, 1); put8(&p, 'a');
	put16(&p, (uint16_t)(0xc000 | loop));             /* a.a.a.a... */
	assert_null(read_name_at(&p, loop, 0, buf, sizeof(buf)));
	size_t inner = p.len;                              /* b -> c -> (back to b) */
	put8(&p, 1); put8(&p, 'b');
	put8(&p, 1); put8(&p, 'c');
	put16(&p, (uint16_t)(0xc000 | inner));
	assert_null(read_name_at(&p, inner + 2, 0, buf, sizeof(buf)));

	/* Reserved label types, a cut-off pointer, a name past the end. */
	size_t bad = p.len;
	put8(&p, 0x40); put8(&p, 0);
	assert_null(read_name_at(&p, bad, 0, buf, sizeof(buf)));
	p.b[bad] = 0x80;
	assert_null(read_name_at(&p, bad, 0, buf, sizeof(buf)));
	p.len = bad;
	put8(&p, 0xc0);
	assert_null(read_name_at(&p, bad, 0, buf, sizeof(buf)));
	p.len = bad;
	put8(&p, 3); put8(&p, 'a');
	assert_null(read_name_at(&p, bad, 0, buf, sizeof(buf)));
	assert_null(read_name_at(&p, p.len, 0, buf, sizeof(buf)));

	/* 255 bytes uncompressed is the most (RFC 1035 §2.3.4), however the
	 * name got there: four 63-byte labels through pointers are 257. */
	header(&p, 1, WIRE_FLAG_QR, 1, 0, 0, 0);
	size_t l62 = p.len;
	for (int i = 0; i < 4; i++) {
		put8(&p, i < 3 ? 63 : 61);
		memset(p.b + p.len, 'a' + i, i < 3 ? 63 : 61);
		p.len += i < 3 ? 63 : 61;
	}
	put8(&p, 0); /* 3 * 64 + 62 + 1 = 255 */
	assert_non_null(read_name_at(&p, l62, p.len, buf, sizeof(buf)));
	size_t longer = p.len;
	put8(&p, 1); put8(&p, 'z');
	put16(&p, (uint16_t)(0xc000 | l62)); /* 257 */
	assert_null(read_name_at(&p, longer, 0, buf, sizeof(buf)));
	size_t root = p.len;
	put8(&p, 0);
	assert_string_equal(read_name_at(&p, root, root + 1, buf, sizeof(buf)), ".");
}

/* ---- scrub_reply ----------------------------------------------------- */

static void test_scrub_strips_opt_and_aa(void **state)
{
	struct pkt p, r;
	struct wire_query q;
	unsigned rcode;
	uint8_t *answer;
	size_t len;

	simple_query(&p, "www.example.test", WIRE_TYPE_A, true);
	parse(&p, &q, &rcode);

	header(&r, 5, WIRE_FLAG_QR | WIRE_FLAG_AA | WIRE_FLAG_RD, 1, 1, 0, 1);
	question(&r, "www.example.test", WIRE_TYPE_A);
	a_record(&r, 300, 0xc0000201);
	opt(&r, 4096, 0, false);
	assert_int_equal(scrub_reply(r.b, r.len, &q, &answer, &len), 0);
	assert_int_equal(len, r.len - WIRE_OPT_LEN);
	assert_int_equal(wire_get16(answer + 10), 0);
	assert_false(wire_get16(answer + 2) & WIRE_FLAG_AA);
	assert_int_equal(wire_get16(answer + 6), 1);
	free(answer);
}

static void test_scrub_rejects_bad(void **state)
{
	struct pkt p, r;
	struct wire_query q;
	unsigned rcode;
	uint8_t *answer = (uint8_t *)"x";
	size_t len = 1;

	simple_query(&p, "www.example.test", WIRE_TYPE_A, false);
	parse(&p, &q, &rcode);

	/* an A record with 3 bytes of rdata */
	header(&r, 5, WIRE_FLAG_QR, 1, 1, 0, 0);
	question(&r, "www.example.test", WIRE_TYPE_A);
	put16(&r, 0xc00c); put16(&r, WIRE_TYPE_A); put16(&r, 1); put32(&r, 1); put16(&r, 3);
	put8(&r, 1); put8(&r, 2); put8(&r, 3);
	assert_int_equal(scrub_reply(r.b, r.len, &q, &answer, &len), -EBADMSG);
	assert_null(answer);
	assert_int_equal(len, 0);

	assert_int_equal(scrub_reply(r.b, 5, &q, &answer, &len), -EBADMSG);

	/* a reply to another question */
	header(&r, 5, WIRE_FLAG_QR, 1, 0, 0, 0);
	question(&r, "other.test", WIRE_TYPE_A);
	assert_int_equal(scrub_reply(r.b, r.len, &q, &answer, &len), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good_query),
		cmocka_unit_test(test_parse_edns),
		cmocka_unit_test(test_parse_drops),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_errors_keep_edns),
		cmocka_unit_test(test_parse_bad_names),
		cmocka_unit_test(test_parse_bad_opt),
		cmocka_unit_test(test_build_error),
		cmocka_unit_test(test_build_upstream_query),
		cmocka_unit_test(test_finish_reply),
		cmocka_unit_test(test_finish_reply_truncates),
		cmocka_unit_test(test_finish_reply_wrong_question),
		cmocka_unit_test(test_udp_limit),
		cmocka_unit_test(test_reply_matches),
		cmocka_unit_test(test_rr_iter),
		cmocka_unit_test(test_name_str),
		cmocka_unit_test(test_read_name),
		cmocka_unit_test(test_scrub_strips_opt_and_aa),
		cmocka_unit_test(test_scrub_rejects_bad),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
