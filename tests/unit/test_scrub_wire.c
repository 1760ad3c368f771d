/* test_scrub_wire.c - unit tests for what scrub.c does on wire bytes that
 * ldns used to do for it: names in rdata decompressed, names compressed
 * again, rdata checked against its type, compression pointers that could
 * loop refused, record counts up to what 65535 bytes hold, the counts. Replies are written byte by
 * byte (pkt.h), since most of them are ones ldns would never write; where
 * the ldns scrubber (tests/oracle) must agree, the test runs both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#define PKT_MAX 65536 /* a whole DNS message */
#include "pkt.h"
#include "scrub_ldns.h"
#include "stubd/scrub.h"
#include "stubd/wire.h"

#define QNAME_OFF WIRE_HEADER_LEN                 /* www.example.test */
#define EXAMPLE_OFF (WIRE_HEADER_LEN + 4)         /* example.test */
#define TEST_OFF (WIRE_HEADER_LEN + 12)           /* test */

/* ---- building replies ------------------------------------------------- */

static struct wire_query client(const char *qname, uint16_t qtype, bool dnssec_ok)
{
	struct wire_query q;
	assert_int_equal(pkt_client_query(&q, qname, qtype, dnssec_ok, dnssec_ok),
			 WIRE_VERDICT_RESOLVE);
	return q;
}

/* A reply's header and question; records follow with rr_head(). */
static void reply(struct pkt *p, const char *qname, uint16_t qtype, unsigned rcode,
		  uint16_t an, uint16_t ns, uint16_t ar)
{
	header(p, 0x4242, (uint16_t)(WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA | rcode), 1, an,
	       ns, ar);
	question(p, qname, qtype);
}

/* A record's owner (a pointer to off) and fixed part; returns where its
 * RDLENGTH is, for rr_end(). */
static size_t rr_head(struct pkt *p, uint16_t owner_off, uint16_t type, uint32_t ttl)
{
	put16(p, (uint16_t)(0xc000 | owner_off));
	put16(p, type);
	put16(p, WIRE_CLASS_IN);
	put32(p, ttl);
	put16(p, 0);
	return p->len - 2;
}

/* Sets RDLENGTH to what was written since rr_head(). */
static void rr_end(struct pkt *p, size_t rdlen_at)
{
	wire_put16(p->b + rdlen_at, (uint16_t)(p->len - rdlen_at - 2));
}

static void put_bytes(struct pkt *p, const void *data, size_t n)
{
	memcpy(p->b + p->len, data, n);
	p->len += n;
}

/* Labels without the root, then a pointer: a compressed name. */
static void labels_then_pointer(struct pkt *p, const char *labels, uint16_t off)
{
	name(p, labels);
	p->len--; /* the root label goes: a pointer ends the name */
	put16(p, (uint16_t)(0xc000 | off));
}

static uint8_t *scrub_ok(const struct pkt *p, const struct wire_query *q, size_t *len,
			 struct scrub_counts *counts)
{
	uint8_t *ans = NULL;
	assert_int_equal(scrub_reply_counted(p->b, p->len, q, &ans, len, counts), 0);
	assert_non_null(ans);
	assert_true(wire_reply_matches(ans, *len, 0x4242, q));
	assert_int_equal(wire_get16(ans + 10), 0);
	return ans;
}

static void scrub_rejects(const struct pkt *p, const struct wire_query *q)
{
	uint8_t *ans = (uint8_t *)"untouched";
	size_t len = 1;
	assert_int_equal(scrub_reply(p->b, p->len, q, &ans, &len), -EBADMSG);
	assert_null(ans);
	assert_int_equal(len, 0);
}

static ldns_pkt *must_parse(const uint8_t *ans, size_t len)
{
	ldns_pkt *out = NULL;
	assert_int_equal(ldns_wire2pkt(&out, ans, len), LDNS_STATUS_OK);
	return out;
}

/* The record at i of the answer section, as presentation text. */
static char *answer_str(const ldns_pkt *out, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(ldns_pkt_answer(out)));
	return ldns_rr2str(ldns_rr_list_rr(ldns_pkt_answer(out), i));
}

static void assert_answer(const uint8_t *ans, size_t len, size_t i, const char *want)
{
	ldns_pkt *out = must_parse(ans, len);
	char *got = answer_str(out, i);
	if (strcmp(got, want) != 0)
		fail_msg("answer %zu:\n got  %s want %s", i, got, want);
	free(got);
	ldns_pkt_free(out);
}

/* Does any byte of [from, to) look like a compression pointer? (Names in
 * the tests hold letters only, so a 0xc0 byte is one.) */
static bool has_pointer(const uint8_t *b, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++)
		if ((b[i] & 0xc0) == 0xc0)
			return true;
	return false;
}

/* The offset of the rdata of answer record i in a stored answer, and its
 * length in *rdlen. */
static size_t answer_rdata(const uint8_t *ans, size_t len, unsigned i, size_t *rdlen)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	assert_int_equal(wire_rr_iter_init(&it, ans, len), 0);
	for (unsigned k = 0; k <= i; k++)
		assert_int_equal(wire_rr_next(&it, &rr), 1);
	*rdlen = rr.rdlen;
	return rr.end - rr.rdlen;
}

/* ---- names in rdata come out whole ------------------------------------ */

static void test_rdata_names_decompressed(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_A, false);
	struct pkt p;
	size_t len;

	/* The CNAME's target points into the owner of a record scrub drops:
	 * copied as it was, it would point at whatever the stored answer
	 * has at that offset (RFC 3597 §4). */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 3, 0, 0);
	size_t evil = p.len;
	labels_then_pointer(&p, "evil.zone", EXAMPLE_OFF); /* evil.zone.example.test */
	put16(&p, WIRE_TYPE_A); put16(&p, WIRE_CLASS_IN); put32(&p, 300); put16(&p, 4);
	put32(&p, 0x06060606);
	size_t at = rr_head(&p, QNAME_OFF, WIRE_TYPE_CNAME, 300);
	labels_then_pointer(&p, "cdn", (uint16_t)(evil + 5)); /* cdn.zone.example.test */
	rr_end(&p, at);
	size_t cdn = at + 2;
	at = rr_head(&p, (uint16_t)cdn, WIRE_TYPE_A, 60);
	put32(&p, 0xc0000207);
	rr_end(&p, at);

	uint8_t *ans = scrub_ok(&p, &q, &len, NULL);
	assert_int_equal(wire_get16(ans + 6), 2);
	assert_answer(ans, len, 0, "www.example.test.\t300\tIN\tCNAME\tcdn.zone.example.test.\n");
	assert_answer(ans, len, 1, "cdn.zone.example.test.\t60\tIN\tA\t192.0.2.7\n");
	free(ans);
}

static void test_rdata_names_of_later_types_uncompressed(void **state)
{
	struct wire_query q = client("_sip._tcp.example.test", 33 /* SRV */, false);
	struct pkt p;
	size_t len, rdlen;

	/* RFC 2052's SRV was compressed; RFC 2782's must not be (RFC 3597
	 * §4): the target is read through its pointer and written whole. */
	reply(&p, "_sip._tcp.example.test", 33, 0, 1, 0, 0);
	size_t at = rr_head(&p, QNAME_OFF, 33, 300);
	put16(&p, 10); put16(&p, 20); put16(&p, 5060);
	labels_then_pointer(&p, "sip", QNAME_OFF + 10); /* sip.example.test */
	rr_end(&p, at);

	uint8_t *ans = scrub_ok(&p, &q, &len, NULL);
	assert_answer(ans, len, 0, "_sip._tcp.example.test.\t300\tIN\tSRV\t10 20 5060 sip.example.test.\n");
	size_t rd = answer_rdata(ans, len, 0, &rdlen);
	assert_int_equal(rdlen, 6 + 18);
	assert_false(has_pointer(ans, rd + 6, rd + rdlen));
	free(ans);
}

/* ---- names compressed on the way out ---------------------------------- */

/* A chain, an SOA and proofs: what RFC 1035 types may compress, and what
 * nothing may. */
static void dnssec_chain_reply(struct pkt *p, bool compressed_input)
{
	reply(p, "www.example.test", WIRE_TYPE_AAAA, 0, 3, 3, 0);
	/* www CNAME host.example.test: target compressed, or whole */
	size_t at = rr_head(p, QNAME_OFF, WIRE_TYPE_CNAME, 300);
	if (compressed_input)
		labels_then_pointer(p, "host", EXAMPLE_OFF);
	else
		name(p, "host.example.test");
	rr_end(p, at);
	size_t host = at + 2;
	/* its RRSIG, signer example.test written whole (RFC 4034 §6.2) */
	at = rr_head(p, QNAME_OFF, WIRE_TYPE_RRSIG, 300);
	put16(p, WIRE_TYPE_CNAME); put8(p, 13); put8(p, 3); put32(p, 300);
	put32(p, 0x70000000); put32(p, 0x60000000); put16(p, 4242);
	name(p, "example.test");
	put_bytes(p, "sig", 3);
	rr_end(p, at);
	/* host DNAME target.test: not an RFC 1035 type, never compressed */
	at = rr_head(p, (uint16_t)host, WIRE_TYPE_DNAME, 300);
	name(p, "example.test");
	rr_end(p, at);
	/* NODATA at host: SOA, its RRSIG, an NSEC */
	at = rr_head(p, EXAMPLE_OFF, WIRE_TYPE_SOA, 900);
	if (compressed_input) {
		labels_then_pointer(p, "ns", EXAMPLE_OFF);
		labels_then_pointer(p, "hostmaster", EXAMPLE_OFF);
	} else {
		name(p, "ns.example.test");
		name(p, "hostmaster.example.test");
	}
	put32(p, 1); put32(p, 7200); put32(p, 900); put32(p, 86400); put32(p, 300);
	rr_end(p, at);
	at = rr_head(p, EXAMPLE_OFF, WIRE_TYPE_RRSIG, 900);
	put16(p, WIRE_TYPE_SOA); put8(p, 13); put8(p, 2); put32(p, 900);
	put32(p, 0x70000000); put32(p, 0x60000000); put16(p, 4242);
	name(p, "example.test");
	put_bytes(p, "sig", 3);
	rr_end(p, at);
	at = rr_head(p, (uint16_t)host, WIRE_TYPE_NSEC, 300);
	name(p, "zzz.example.test");
	put8(p, 0); put8(p, 1); put8(p, 0x40); /* bitmap: A */
	rr_end(p, at);
}

static void test_output_compressed(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_AAAA, true);
	struct pkt plain, packed;
	size_t len_plain, len_packed, ldns_len, rdlen;
	uint8_t *ldns_ans = NULL;

	/* The same records from a server that compressed nothing and from
	 * one that compressed all it could: the same stored answer. */
	dnssec_chain_reply(&plain, false);
	dnssec_chain_reply(&packed, true);
	assert_true(packed.len < plain.len);
	uint8_t *a = scrub_ok(&plain, &q, &len_plain, NULL);
	uint8_t *b = scrub_ok(&packed, &q, &len_packed, NULL);
	assert_int_equal(len_plain, len_packed);
	assert_memory_equal(a, b, len_plain);
	assert_int_equal(wire_get16(a + 6), 2); /* CNAME, RRSIG; the DNAME explains nothing */
	assert_int_equal(wire_get16(a + 8), 3);

	/* As long as ldns made it (it compresses fully too). */
	assert_int_equal(scrub_ldns_reply(plain.b, plain.len, &q, &ldns_ans, &ldns_len), 0);
	assert_int_equal(len_plain, ldns_len);
	free(ldns_ans);

	/* Owners point at the question; the CNAME target is "host" and a
	 * pointer to example.test. */
	size_t rd = answer_rdata(a, len_plain, 0, &rdlen);
	assert_int_equal(wire_get16(a + rd - 12), 0xc000 | QNAME_OFF); /* owner */
	assert_int_equal(rdlen, 5 + 2);
	assert_int_equal(wire_get16(a + rd + 5), 0xc000 | EXAMPLE_OFF);
	/* The signer name in the RRSIG is whole (RFC 4034 §6.2). */
	rd = answer_rdata(a, len_plain, 1, &rdlen);
	assert_false(has_pointer(a, rd + 18, rd + rdlen));
	/* SOA: both names compressed; its RRSIG and the NSEC's next name
	 * whole. */
	rd = answer_rdata(a, len_plain, 2, &rdlen);
	assert_int_equal(rdlen, 3 + 2 + 11 + 2 + 20);
	rd = answer_rdata(a, len_plain, 3, &rdlen);
	assert_false(has_pointer(a, rd + 18, rd + rdlen));
	rd = answer_rdata(a, len_plain, 4, &rdlen);
	assert_false(has_pointer(a, rd, rd + rdlen));
	free(a);
	free(b);
}

static void test_dname_target_never_compressed(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_A, false);
	struct pkt p;
	size_t len, rdlen;

	/* example.test DNAME other.test, and the CNAME it made */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 3, 0, 0);
	size_t at = rr_head(&p, EXAMPLE_OFF, WIRE_TYPE_DNAME, 300);
	labels_then_pointer(&p, "other", TEST_OFF);
	rr_end(&p, at);
	size_t other = at + 2;
	at = rr_head(&p, QNAME_OFF, WIRE_TYPE_CNAME, 0);
	labels_then_pointer(&p, "www", (uint16_t)other);
	rr_end(&p, at);
	at = rr_head(&p, (uint16_t)(at + 2), WIRE_TYPE_A, 300);
	put32(&p, 0xc0000203);
	rr_end(&p, at);

	uint8_t *ans = scrub_ok(&p, &q, &len, NULL);
	assert_answer(ans, len, 0, "example.test.\t300\tIN\tDNAME\tother.test.\n");
	assert_answer(ans, len, 1, "www.example.test.\t0\tIN\tCNAME\twww.other.test.\n");
	assert_answer(ans, len, 2, "www.other.test.\t300\tIN\tA\t192.0.2.3\n");
	size_t rd = answer_rdata(ans, len, 0, &rdlen);
	assert_int_equal(rdlen, 12); /* whole: RFC 3597 §4, DNAME is no RFC 1035 type */
	assert_false(has_pointer(ans, rd, rd + rdlen));
	free(ans);
}

static void test_dname_at_owner_in_other_case(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_A, false);
	struct pkt p;
	struct scrub_counts counts;
	size_t len;

	/* RFC 6672 §2.2: a DNAME applies below its owner, never to the owner
	 * itself, however the owner is spelled (ldns_dname_is_subdomain()
	 * said otherwise; the oracle is corrected). */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 2, 0, 0);
	name(&p, "WWW.example.test");
	put16(&p, WIRE_TYPE_DNAME); put16(&p, WIRE_CLASS_IN); put32(&p, 300);
	put16(&p, 8);
	name(&p, "x.test");
	size_t at = rr_head(&p, QNAME_OFF, WIRE_TYPE_CNAME, 300);
	name(&p, "x.test");
	rr_end(&p, at);
	for (int oracle = 0; oracle < 2; oracle++) {
		uint8_t *ans = NULL;
		int r = oracle ? scrub_ldns_reply_counted(p.b, p.len, &q, &ans, &len, &counts)
			       : scrub_reply_counted(p.b, p.len, &q, &ans, &len, &counts);
		assert_int_equal(r, 0);
		assert_int_equal(wire_get16(ans + 6), 1);
		assert_answer(ans, len, 0, "www.example.test.\t300\tIN\tCNAME\tx.test.\n");
		assert_int_equal(counts.answer_dropped, 1);
		free(ans);
	}
}

/* Both scrubbers on one reply: the same records, the same counts;
 * returns the wire one's answer (the caller frees it) and both lengths. */
static uint8_t *scrub_compare(const struct pkt *p, const struct wire_query *q, size_t *len,
			      size_t *ldns_len)
{
	struct scrub_counts ca, cb;
	uint8_t *a = NULL, *b = NULL;
	assert_int_equal(scrub_reply_counted(p->b, p->len, q, &a, len, &ca), 0);
	assert_int_equal(scrub_ldns_reply_counted(p->b, p->len, q, &b, ldns_len, &cb), 0);
	ldns_pkt *pa = must_parse(a, *len), *pb = must_parse(b, *ldns_len);
	assert_int_equal(ldns_rr_list_compare(ldns_pkt_answer(pa), ldns_pkt_answer(pb)), 0);
	assert_int_equal(ldns_rr_list_compare(ldns_pkt_authority(pa), ldns_pkt_authority(pb)), 0);
	assert_int_equal(ca.answer_dropped, cb.answer_dropped);
	assert_int_equal(ca.authority_dropped, cb.authority_dropped);
	assert_int_equal(ca.chain_cut, cb.chain_cut);
	ldns_pkt_free(pa);
	ldns_pkt_free(pb);
	free(b);
	return a;
}

/* An RRSIG of the given covered type at owner_off, signed by example.test. */
static void rrsig(struct pkt *p, uint16_t owner_off, uint16_t covered, uint8_t labels)
{
	size_t at = rr_head(p, owner_off, WIRE_TYPE_RRSIG, 300);
	put16(p, covered); put8(p, 13); put8(p, labels); put32(p, 300);
	put32(p, 0x70000000); put32(p, 0x60000000); put16(p, 4242);
	name(p, "example.test");
	put_bytes(p, "sig", 3);
	rr_end(p, at);
}

static void test_dname_signatures_for_do_clients(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_A, true);
	struct pkt p;
	size_t len, ldns_len;

	/* RFC 6672 §5.3.1: a validator checks the synthesized CNAME against
	 * the signed DNAME, so the DNAME's RRSIG stays with it; the RRSIG of
	 * a DNAME that explains nothing goes. */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 7, 0, 0);
	size_t at = rr_head(&p, EXAMPLE_OFF, WIRE_TYPE_DNAME, 300);
	name(&p, "other.test");
	rr_end(&p, at);
	size_t other = at + 2;
	rrsig(&p, EXAMPLE_OFF, WIRE_TYPE_DNAME, 2);
	at = rr_head(&p, QNAME_OFF, WIRE_TYPE_CNAME, 0);
	labels_then_pointer(&p, "www", (uint16_t)other);
	rr_end(&p, at);
	size_t target = at + 2;
	at = rr_head(&p, (uint16_t)target, WIRE_TYPE_A, 300);
	put32(&p, 0xc0000203);
	rr_end(&p, at);
	rrsig(&p, (uint16_t)target, WIRE_TYPE_A, 3);
	at = rr_head(&p, TEST_OFF, WIRE_TYPE_DNAME, 300); /* test. DNAME evil. */
	name(&p, "evil");
	rr_end(&p, at);
	rrsig(&p, TEST_OFF, WIRE_TYPE_DNAME, 1);

	uint8_t *ans = scrub_compare(&p, &q, &len, &ldns_len);
	assert_int_equal(wire_get16(ans + 6), 5);
	assert_answer(ans, len, 1, "example.test.\t300\tIN\tRRSIG\tDNAME 13 2 300 "
				   "20290718054952 20210114082536 4242 example.test. c2ln\n");
	assert_int_equal(len, ldns_len);
	free(ans);
}

static void test_many_names_compressed(void **state)
{
	struct wire_query q = client("nope.example.test", WIRE_TYPE_A, true);
	struct pkt *p = malloc(sizeof(*p));
	size_t len, ldns_len;
	char owner[32];
	assert_non_null(p);

	/* NXDOMAIN with an SOA and 299 NSECs, each owned by a name of its
	 * own: more names than the stack's compression table holds, and past
	 * the point where lookups go through its hash table. */
	reply(p, "nope.example.test", WIRE_TYPE_A, WIRE_RCODE_NXDOMAIN, 0, 300, 0);
	size_t at = rr_head(p, WIRE_HEADER_LEN + 5, WIRE_TYPE_SOA, 900);
	name(p, "ns.example.test");
	name(p, "hostmaster.example.test");
	put32(p, 1); put32(p, 7200); put32(p, 900); put32(p, 86400); put32(p, 300);
	rr_end(p, at);
	for (unsigned i = 1; i < 300; i++) {
		snprintf(owner, sizeof(owner), "n%u", i);
		labels_then_pointer(p, owner, WIRE_HEADER_LEN + 5); /* n<i>.example.test */
		put16(p, WIRE_TYPE_NSEC); put16(p, WIRE_CLASS_IN); put32(p, 300);
		put16(p, 0);
		at = p->len - 2;
		put16(p, 0xc000 | (WIRE_HEADER_LEN + 5)); /* next: example.test */
		put8(p, 0); put8(p, 1); put8(p, 0x40);
		rr_end(p, at);
	}
	uint8_t *ans = scrub_compare(p, &q, &len, &ldns_len);
	assert_int_equal(wire_get16(ans + 8), 300);
	/* ldns remembers every name; so does scrub, past the stack's table. */
	assert_true(len <= ldns_len);
	free(ans);
	free(p);
}

/* ---- rdata checked against its type ----------------------------------- */

/* A reply for www.example.test A with one answer record at the qname of
 * this type and rdata. */
static void one_record(struct pkt *p, uint16_t qtype, uint16_t type, const void *rdata,
		       size_t rdlen)
{
	reply(p, "www.example.test", qtype, 0, 1, 0, 0);
	size_t at = rr_head(p, QNAME_OFF, type, 300);
	put_bytes(p, rdata, rdlen);
	rr_end(p, at);
}

struct rdata_case {
	uint16_t type;
	const char *what;
	const char *rdata;
	size_t rdlen;
};

static void test_malformed_rdata_rejects_reply(void **state)
{
	static const struct rdata_case bad[] = {
		{ WIRE_TYPE_A, "A, 3 bytes", "\1\2\3", 3 },
		{ WIRE_TYPE_A, "A, 5 bytes", "\1\2\3\4\5", 5 },
		{ WIRE_TYPE_AAAA, "AAAA, 15 bytes", "0123456789abcde", 15 },
		{ WIRE_TYPE_AAAA, "AAAA, 17 bytes", "0123456789abcdefg", 17 },
		{ WIRE_TYPE_CNAME, "CNAME, a byte after the name", "\1a\0x", 4 },
		{ WIRE_TYPE_CNAME, "CNAME, the name past RDLENGTH", "\3abc\0", 3 },
		{ WIRE_TYPE_CNAME, "CNAME, a label past the message", "\077abc", 4 },
		{ WIRE_TYPE_NS, "NS, a reserved label type", "\100\0", 2 },
		{ WIRE_TYPE_PTR, "PTR, a name over 255 bytes", NULL, 0 },
		{ WIRE_TYPE_DNAME, "DNAME, two names", "\1a\0\1b\0", 6 },
		{ WIRE_TYPE_SOA, "SOA, 19 bytes after the names", "\0\0" "0123456789012345678", 21 },
		{ WIRE_TYPE_SOA, "SOA, 21 bytes after the names", "\0\0" "012345678901234567890", 23 },
		{ WIRE_TYPE_MX, "MX, one byte", "\1", 1 },
		{ WIRE_TYPE_MX, "MX, a byte after the name", "\0\12\0x", 4 },
		{ 33, "SRV, the target cut", "\0\1\0\2\0\3\5ab", 9 },
		{ WIRE_TYPE_RRSIG, "RRSIG, 17 bytes", "01234567890123456", 17 },
		{ WIRE_TYPE_RRSIG, "RRSIG, the signer past RDLENGTH", "012345678901234567\3ab", 21 },
		{ WIRE_TYPE_NSEC, "NSEC, the next name past RDLENGTH", "\4ab", 3 },
		{ WIRE_TYPE_NSEC3, "NSEC3, the salt past RDLENGTH", "\1\0\0\0\7ab", 7 },
		{ 16, "TXT, a string past RDLENGTH", "\2a\5bc", 5 },
		{ 13, "HINFO, three strings", "\1a\1b\1c", 6 },
	};
	struct wire_query q = client("www.example.test", WIRE_TYPE_ANY, false);
	struct pkt p;
	uint8_t long_name[330];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *rdata = bad[i].rdata;
		size_t rdlen = bad[i].rdlen;
		if (!rdata) { /* 5 labels of 63: 321 bytes */
			for (size_t k = 0; k < 5; k++) {
				long_name[k * 64] = 63;
				memset(long_name + k * 64 + 1, 'a', 63);
			}
			long_name[320] = 0;
			rdata = (const char *)long_name;
			rdlen = 321;
		}
		one_record(&p, WIRE_TYPE_ANY, bad[i].type, rdata, rdlen);
		uint8_t *ans = NULL;
		size_t len = 0;
		if (scrub_reply(p.b, p.len, &q, &ans, &len) != -EBADMSG)
			fail_msg("%s: accepted", bad[i].what);
		assert_null(ans);
		/* In the additional section just the same: every record counts. */
		reply(&p, "www.example.test", WIRE_TYPE_ANY, 0, 0, 0, 1);
		size_t at = rr_head(&p, QNAME_OFF, bad[i].type, 300);
		put_bytes(&p, rdata, rdlen);
		rr_end(&p, at);
		if (scrub_reply(p.b, p.len, &q, &ans, &len) != -EBADMSG)
			fail_msg("%s, in additional: accepted", bad[i].what);
	}
}

static void test_short_rdata_drops_record(void **state)
{
	/* Rdata that stops cleanly between fields, before its type's last
	 * required one: that record is unfit, the reply is fine. */
	static const struct rdata_case cut[] = {
		{ WIRE_TYPE_A, "A, empty", "", 0 },
		{ WIRE_TYPE_CNAME, "CNAME, empty", "", 0 },
		{ WIRE_TYPE_MX, "MX, the preference only", "\0\12", 2 },
		{ WIRE_TYPE_SOA, "SOA, the names only", "\0\0", 2 },
		{ WIRE_TYPE_SOA, "SOA, no MINIMUM", "\0\0" "0123456789012345", 18 },
		{ WIRE_TYPE_RRSIG, "RRSIG, no signer", "012345678901234567", 18 },
		{ WIRE_TYPE_RRSIG, "RRSIG, no signature", "012345678901234567\0", 19 },
		{ WIRE_TYPE_NSEC3, "NSEC3, no next owner", "\1\0\0\0\0", 5 },
		{ 16, "TXT, empty", "", 0 },
	};
	struct wire_query q = client("www.example.test", WIRE_TYPE_ANY, false);
	struct pkt p;
	struct scrub_counts counts;

	for (size_t i = 0; i < sizeof(cut) / sizeof(cut[0]); i++) {
		one_record(&p, WIRE_TYPE_ANY, cut[i].type, cut[i].rdata, cut[i].rdlen);
		uint8_t *ans = NULL, *old = NULL;
		size_t len = 0, old_len = 0;
		if (scrub_reply_counted(p.b, p.len, &q, &ans, &len, &counts) != 0)
			fail_msg("%s: rejected", cut[i].what);
		assert_int_equal(wire_get16(ans + 6), 0);
		assert_int_equal(counts.answer_dropped, 1);
		/* The ldns scrubber judged it so. */
		assert_int_equal(scrub_ldns_reply(p.b, p.len, &q, &old, &old_len), 0);
		assert_int_equal(old_len, len);
		free(ans);
		free(old);
	}
	/* An NSEC with its next name and no bitmap is whole: the type asks
	 * no more (as ldns has it). */
	q = client("www.example.test", WIRE_TYPE_NSEC, false);
	one_record(&p, WIRE_TYPE_NSEC, WIRE_TYPE_NSEC, "\1z\0", 3);
	size_t len;
	uint8_t *ans = scrub_ok(&p, &q, &len, NULL);
	assert_int_equal(wire_get16(ans + 6), 1);
	free(ans);
}

/* Every type ldns knows, with rdata built from ldns's own description of
 * it: kept whole (names through a pointer, read and written back), one
 * byte more rejected, cut after each field unfit below the type's
 * minimum; and for each the two scrubbers agree. */
static size_t field_bytes(ldns_rdf_type t, uint8_t *out)
{
	switch (t) {
	case LDNS_RDF_TYPE_DNAME: out[0] = 0xc0; out[1] = QNAME_OFF; return 2;
	case LDNS_RDF_TYPE_CLASS: case LDNS_RDF_TYPE_ALG: case LDNS_RDF_TYPE_INT8:
	case LDNS_RDF_TYPE_CERTIFICATE_USAGE: case LDNS_RDF_TYPE_SELECTOR:
	case LDNS_RDF_TYPE_MATCHING_TYPE:
		out[0] = 1; return 1;
	case LDNS_RDF_TYPE_TYPE: case LDNS_RDF_TYPE_INT16: case LDNS_RDF_TYPE_CERT_ALG:
		out[0] = 0; out[1] = 1; return 2;
	case LDNS_RDF_TYPE_TIME: case LDNS_RDF_TYPE_INT32: case LDNS_RDF_TYPE_A:
	case LDNS_RDF_TYPE_PERIOD:
		memset(out, 1, 4); return 4;
	case LDNS_RDF_TYPE_TSIGTIME: case LDNS_RDF_TYPE_EUI48: memset(out, 1, 6); return 6;
	case LDNS_RDF_TYPE_ILNP64: case LDNS_RDF_TYPE_EUI64: memset(out, 1, 8); return 8;
	case LDNS_RDF_TYPE_AAAA: memset(out, 1, 16); return 16;
	case LDNS_RDF_TYPE_STR: case LDNS_RDF_TYPE_NSEC3_SALT: case LDNS_RDF_TYPE_TAG:
	case LDNS_RDF_TYPE_B32_EXT: case LDNS_RDF_TYPE_NSEC3_NEXT_OWNER:
		out[0] = 1; out[1] = 'x'; return 2;
	case LDNS_RDF_TYPE_INT16_DATA: out[0] = 0; out[1] = 1; out[2] = 'x'; return 3;
	case LDNS_RDF_TYPE_HIP:
		out[0] = 1; out[1] = 2; out[2] = 0; out[3] = 1; out[4] = 'h'; out[5] = 'k';
		return 6;
	default: out[0] = 'r'; return 1; /* read to the end */
	}
}

/* Field kinds that take the rest of the rdata, whatever its length. */
static bool reads_to_end(ldns_rdf_type t)
{
	uint8_t scratch[16];
	return field_bytes(t, scratch) == 1 && scratch[0] == 'r';
}

static int scrub_both(const struct pkt *p, const struct wire_query *q, uint16_t *kept)
{
	uint8_t *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	int ra = scrub_reply(p->b, p->len, q, &a, &a_len);
	int rb = scrub_ldns_reply(p->b, p->len, q, &b, &b_len);
	assert_int_equal(ra, rb);
	if (ra == 0) {
		assert_int_equal(a_len, b_len);
		ldns_pkt *pa = must_parse(a, a_len), *pb = must_parse(b, b_len);
		assert_int_equal(ldns_rr_list_compare(ldns_pkt_answer(pa), ldns_pkt_answer(pb)), 0);
		*kept = wire_get16(a + 6);
		ldns_pkt_free(pa);
		ldns_pkt_free(pb);
	}
	free(a);
	free(b);
	return ra;
}

static void test_rdata_forms_agree_with_ldns(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_ANY, false);
	struct pkt p;
	uint8_t rdata[256];
	size_t cut_at[32];
	unsigned checked = 0;

	for (unsigned t = 1; t < 65536; t++) {
		const ldns_rr_descriptor *d = ldns_rr_descript((uint16_t)t);
		if (!d || d->_type != t || t == WIRE_TYPE_OPT || t == WIRE_TYPE_TSIG ||
		    t == WIRE_TYPE_TKEY)
			continue;
		size_t n = 0, fields = ldns_rr_descriptor_maximum(d);
		if (d->_variable != LDNS_RDF_TYPE_NONE)
			fields = 3; /* fields repeated to the end: three of them */
		for (size_t f = 0; f < fields; f++) {
			n += field_bytes(ldns_rr_descriptor_field_type(d, f), rdata + n);
			cut_at[f] = n;
		}
		uint16_t kept = 0;
		one_record(&p, WIRE_TYPE_ANY, (uint16_t)t, rdata, n);
		if (scrub_both(&p, &q, &kept) != 0 || kept != 1)
			fail_msg("type %u: whole rdata not kept", t);
		/* One byte more: no field takes it (a type whose last field
		 * reads to the end takes it, and stays whole). */
		rdata[n] = 'x';
		one_record(&p, WIRE_TYPE_ANY, (uint16_t)t, rdata, n + 1);
		uint8_t *ans = NULL;
		size_t len = 0;
		int r = scrub_reply(p.b, p.len, &q, &ans, &len);
		free(ans);
		ldns_rdf_type next = d->_variable != LDNS_RDF_TYPE_NONE ? d->_variable
					: ldns_rr_descriptor_field_type(d, fields - 1);
		bool to_end = reads_to_end(next);
		if (to_end && r != 0)
			fail_msg("type %u: a byte more in the last field rejected", t);
		if (!to_end && r != -EBADMSG)
			fail_msg("type %u: a byte after the last field accepted", t);
		/* Cut after each field: whole from the minimum on. */
		for (size_t f = 0; f + 1 < fields; f++) {
			one_record(&p, WIRE_TYPE_ANY, (uint16_t)t, rdata, cut_at[f]);
			if (scrub_both(&p, &q, &kept) != 0)
				fail_msg("type %u cut after field %zu: rejected", t, f);
			assert_int_equal(kept, f + 1 >= ldns_rr_descriptor_minimum(d) ? 1 : 0);
		}
		checked++;
	}
	assert_true(checked > 70);
}

/* ---- compression pointers ------------------------------------------------ */

static void test_pointer_loops_and_forward_pointers(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_A, false);
	struct pkt p;

	/* An owner that points at itself. */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 1, 0, 0);
	size_t own = p.len;
	put16(&p, (uint16_t)(0xc000 | own));
	put16(&p, WIRE_TYPE_A); put16(&p, WIRE_CLASS_IN); put32(&p, 1); put16(&p, 4); put32(&p, 1);
	scrub_rejects(&p, &q);

	/* A label, then a pointer back to it: a.a.a.a... */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 1, 0, 0);
	own = p.len;
	put8(&p, 1); put8(&p, 'a'); put16(&p, (uint16_t)(0xc000 | own));
	put16(&p, WIRE_TYPE_A); put16(&p, WIRE_CLASS_IN); put32(&p, 1); put16(&p, 4); put32(&p, 1);
	scrub_rejects(&p, &q);

	/* Two names pointing at each other, in a record scrub would drop. */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 2, 0, 0);
	size_t at = rr_head(&p, QNAME_OFF, WIRE_TYPE_A, 1);
	put32(&p, 1);
	rr_end(&p, at);
	size_t first = p.len; /* x -> (rdata) y -> (owner) x -> ... */
	put8(&p, 1); put8(&p, 'x'); put16(&p, (uint16_t)(0xc000 | (first + 14)));
	put16(&p, WIRE_TYPE_CNAME); put16(&p, WIRE_CLASS_IN); put32(&p, 1); put16(&p, 4);
	put8(&p, 1); put8(&p, 'y'); put16(&p, (uint16_t)(0xc000 | first));
	scrub_rejects(&p, &q);

	/* A CNAME target pointing forward to the next owner: a valid name,
	 * but no compressor writes it (RFC 1035 §4.1.4: a prior occurrence). */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 2, 0, 0);
	at = rr_head(&p, QNAME_OFF, WIRE_TYPE_CNAME, 300);
	put16(&p, (uint16_t)(0xc000 | (p.len + 2)));
	rr_end(&p, at);
	name(&p, "cdn.test");
	put16(&p, WIRE_TYPE_A); put16(&p, WIRE_CLASS_IN); put32(&p, 1); put16(&p, 4); put32(&p, 1);
	scrub_rejects(&p, &q);

	/* A pointer into the header. */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 1, 0, 0);
	at = rr_head(&p, 4, WIRE_TYPE_A, 300);
	put32(&p, 1);
	rr_end(&p, at);
	scrub_rejects(&p, &q);

	/* And the same names pointing backward are fine. */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 2, 0, 0);
	size_t cdn = p.len;
	name(&p, "cdn.test");
	put16(&p, WIRE_TYPE_A); put16(&p, WIRE_CLASS_IN); put32(&p, 1); put16(&p, 4); put32(&p, 1);
	at = rr_head(&p, QNAME_OFF, WIRE_TYPE_CNAME, 300);
	put16(&p, (uint16_t)(0xc000 | cdn));
	rr_end(&p, at);
	size_t len;
	uint8_t *ans = scrub_ok(&p, &q, &len, NULL);
	assert_int_equal(wire_get16(ans + 6), 2);
	assert_answer(ans, len, 0, "cdn.test.\t1\tIN\tA\t0.0.0.1\n");
	free(ans);
}

/* ---- limits and counts ---------------------------------------------------- */

/* A reply of n A records at the qname: the first an in the answer, the
 * rest in authority (where they are dropped). */
static void a_records(struct pkt *p, unsigned an, unsigned ns)
{
	reply(p, "www.example.test", WIRE_TYPE_A, 0, (uint16_t)an, (uint16_t)ns, 0);
	for (unsigned i = 0; i < an + ns; i++) {
		size_t at = rr_head(p, QNAME_OFF, WIRE_TYPE_A, 300);
		put32(p, 0x0a000000 + i);
		rr_end(p, at);
	}
}

static void test_record_counts_unlimited(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_A, false);
	struct pkt *p = malloc(sizeof(*p));
	struct scrub_counts counts;
	size_t len, ldns_len;
	assert_non_null(p);

	/* Either side of the stack's array, in one section and the other:
	 * all scrubbed alike, nothing cut. */
	const unsigned sizes[][2] = {
		{ 300, 0 }, { SCRUB_RR_INLINE, 0 }, { SCRUB_RR_INLINE + 1, 0 },
		{ 1, SCRUB_RR_INLINE }, { 300, 300 }, { 4000, 0 },
	};
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		a_records(p, sizes[k][0], sizes[k][1]);
		assert_true(p->len <= WIRE_MSG_MAX);
		uint8_t *ans = scrub_ok(p, &q, &len, &counts);
		assert_int_equal(wire_get16(ans + 6), sizes[k][0]);
		assert_int_equal(wire_get16(ans + 8), 0);
		assert_int_equal(counts.authority_dropped, sizes[k][1]);
		assert_int_equal(len, p->len - 16 * sizes[k][1]);
		free(ans);
	}
	a_records(p, 300, 0);
	free(scrub_compare(p, &q, &len, &ldns_len));
	assert_true(len <= ldns_len);

	/* Counts promising more records than the bytes can hold: malformed,
	 * refused before anything is allocated for them. */
	a_records(p, 3, 0);
	wire_put16(p->b + 6, 65535);
	scrub_rejects(p, &q);
	wire_put16(p->b + 6, 3);
	wire_put16(p->b + 8, 65535);
	scrub_rejects(p, &q);
	free(p);
}

/* About as many records as 65535 bytes hold: 5,000 of 13 bytes (a
 * pointer for owner, one byte of rdata of a private type), all kept. */
static void test_five_thousand_records(void **state)
{
	const uint16_t type = 65280;
	struct wire_query q = client("www.example.test", type, false);
	struct pkt *p = malloc(sizeof(*p));
	size_t len, ldns_len;
	assert_non_null(p);

	reply(p, "www.example.test", type, 0, 5000, 0, 0);
	for (unsigned i = 0; i < 5000; i++) {
		size_t at = rr_head(p, QNAME_OFF, type, 300);
		put8(p, (uint8_t)i);
		rr_end(p, at);
	}
	assert_true(p->len <= WIRE_MSG_MAX);
	uint8_t *ans = scrub_compare(p, &q, &len, &ldns_len);
	assert_int_equal(wire_get16(ans + 6), 5000);
	assert_int_equal(len, p->len);
	assert_true(len <= ldns_len);
	free(ans);
	free(p);
}

static void test_counts(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_A, false);
	struct pkt p;
	struct scrub_counts counts;
	size_t len;

	/* answer: 1 kept, an unrelated A and an OPT (unfit) dropped;
	 * authority: an NS dropped; additional: glue counted, OPT and TSIG
	 * not (scrub.h). */
	reply(&p, "www.example.test", WIRE_TYPE_A, 0, 3, 1, 3);
	size_t at = rr_head(&p, QNAME_OFF, WIRE_TYPE_A, 300);
	put32(&p, 0xc0000201);
	rr_end(&p, at);
	at = rr_head(&p, EXAMPLE_OFF, WIRE_TYPE_A, 300);
	put32(&p, 0x06060606);
	rr_end(&p, at);
	at = rr_head(&p, QNAME_OFF, WIRE_TYPE_OPT, 0);
	rr_end(&p, at);
	at = rr_head(&p, EXAMPLE_OFF, WIRE_TYPE_NS, 300);
	labels_then_pointer(&p, "ns", EXAMPLE_OFF);
	rr_end(&p, at);
	size_t ns = at + 2;
	at = rr_head(&p, (uint16_t)ns, WIRE_TYPE_A, 300);
	put32(&p, 0x06060606);
	rr_end(&p, at);
	opt(&p, 1232, 0, false);
	name(&p, "key.test");
	put16(&p, WIRE_TYPE_TSIG); put16(&p, 255); put32(&p, 0);
	static const uint8_t tsig[] = { 0xc0, EXAMPLE_OFF, 0, 0, 0, 0, 0, 1, 1, 44, 0, 1, 'm',
					0x42, 0x42, 0, 0, 0, 0 };
	put16(&p, sizeof(tsig));
	put_bytes(&p, tsig, sizeof(tsig));

	uint8_t *ans = scrub_ok(&p, &q, &len, &counts);
	assert_int_equal(wire_get16(ans + 6), 1);
	assert_int_equal(counts.answer_dropped, 2);
	assert_int_equal(counts.authority_dropped, 1);
	assert_int_equal(counts.additional_dropped, 1);
	assert_false(counts.chain_cut);
	free(ans);

	/* Counts are left alone when the reply is rejected. */
	memset(&counts, 0x5a, sizeof(counts));
	p.len -= 1; /* the TSIG cut short */
	uint8_t *none = NULL;
	assert_int_equal(scrub_reply_counted(p.b, p.len, &q, &none, &len, &counts), -EBADMSG);
	assert_int_equal(counts.answer_dropped, 0x5a5a5a5a);
}

static void test_answer_over_64k_refused(void **state)
{
	struct wire_query q = client("www.example.test", WIRE_TYPE_ANY, false);
	struct pkt p;

	/* A HIP record whose rendezvous servers are a 255-byte name and 300
	 * pointers to it: 1.3 kB as it came, 77 kB written whole (HIP names
	 * may not be compressed, RFC 3597 §4): no DNS message. */
	reply(&p, "www.example.test", WIRE_TYPE_ANY, 0, 1, 0, 0);
	size_t at = rr_head(&p, QNAME_OFF, 55 /* HIP */, 300);
	put8(&p, 1); put8(&p, 2); put16(&p, 1); put8(&p, 'h'); put8(&p, 'k');
	size_t long_at = p.len;
	for (int k = 0; k < 4; k++) {
		put8(&p, k < 3 ? 63 : 61);
		memset(p.b + p.len, 'a', k < 3 ? 63 : 61);
		p.len += k < 3 ? 63 : 61;
	}
	put8(&p, 0);
	for (int k = 0; k < 300; k++)
		put16(&p, (uint16_t)(0xc000 | long_at));
	rr_end(&p, at);
	uint8_t *none = (uint8_t *)"untouched";
	size_t none_len = 1;
	/* Well formed, but no stored answer can be made of it: refused as
	 * too large, which upstream.c does not count against the server. */
	assert_int_equal(scrub_reply(p.b, p.len, &q, &none, &none_len), -EMSGSIZE);
	assert_null(none);
	assert_int_equal(none_len, 0);

	/* 200 of them fit: 51 kB. */
	p.len -= 200;
	rr_end(&p, at);
	size_t len;
	uint8_t *ans = scrub_ok(&p, &q, &len, NULL);
	assert_true(len > 200 * 255);
	free(ans);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rdata_names_decompressed),
		cmocka_unit_test(test_rdata_names_of_later_types_uncompressed),
		cmocka_unit_test(test_output_compressed),
		cmocka_unit_test(test_dname_target_never_compressed),
		cmocka_unit_test(test_dname_at_owner_in_other_case),
		cmocka_unit_test(test_dname_signatures_for_do_clients),
		cmocka_unit_test(test_many_names_compressed),
		cmocka_unit_test(test_malformed_rdata_rejects_reply),
		cmocka_unit_test(test_short_rdata_drops_record),
		cmocka_unit_test(test_rdata_forms_agree_with_ldns),
		cmocka_unit_test(test_pointer_loops_and_forward_pointers),
		cmocka_unit_test(test_record_counts_unlimited),
		cmocka_unit_test(test_five_thousand_records),
		cmocka_unit_test(test_counts),
		cmocka_unit_test(test_answer_over_64k_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
