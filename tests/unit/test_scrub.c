/* test_scrub.c - unit tests for scrub.c: what of an upstream reply is
 * stored. Each test scripts one upstream reply with ldns (the records as
 * zone-file lines), scrubs it for a client's question, and checks the
 * stored answer section by section, record by record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "stubd/scrub.h"
#include "stubd/wire.h"

#define SOA_TEST \
	"example.test. 3600 IN SOA ns.example.test. host.example.test. 1 7200 900 86400 300"
#define SIG(covered, owner, signer) \
	owner " 300 IN RRSIG " covered " 13 3 300 20300101000000 20200101000000 4242 " \
	signer " dGVzdA=="

/* Zone-file lines, NULL-terminated: RRS("a. 1 IN A 1.2.3.4", ...) */
#define RRS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NONE ((const char *const[]){ NULL })

/* ---- building replies ------------------------------------------------- */

static ldns_rr *rr(const char *text)
{
	ldns_rr *r = NULL;
	if (ldns_rr_new_frm_str(&r, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		fail_msg("bad test record: %s", text);
	return r;
}

/* The client's question as wire_parse_query() sees it. */
static struct wire_query client_query(const char *qname, ldns_rr_type qtype, bool edns,
				      bool dnssec_ok)
{
	ldns_pkt *p = NULL;
	uint8_t *wire = NULL;
	size_t len = 0;
	struct wire_query q;
	unsigned rcode;

	assert_int_equal(ldns_pkt_query_new_frm_str(&p, qname, qtype, LDNS_RR_CLASS_IN, LDNS_RD),
			 LDNS_STATUS_OK);
	ldns_pkt_set_id(p, 0x1234);
	if (edns) {
		ldns_pkt_set_edns_udp_size(p, 1232);
		ldns_pkt_set_edns_do(p, dnssec_ok);
	}
	assert_int_equal(ldns_pkt2wire(&wire, p, &len), LDNS_STATUS_OK);
	assert_int_equal(wire_parse_query(wire, len, &q, &rcode), WIRE_VERDICT_RESOLVE);
	assert_int_equal(q.edns_do, dnssec_ok);
	free(wire);
	ldns_pkt_free(p);
	return q;
}

/* An upstream reply: QR, RD, RA set, the given rcode, the question. */
static ldns_pkt *reply_new(const char *qname, ldns_rr_type qtype, ldns_pkt_rcode rcode)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *question = NULL;
	char text[300];

	assert_non_null(p);
	ldns_pkt_set_id(p, 0xbeef);
	ldns_pkt_set_qr(p, true);
	ldns_pkt_set_rd(p, true);
	ldns_pkt_set_ra(p, true);
	ldns_pkt_set_rcode(p, rcode);
	snprintf(text, sizeof(text), "%s IN A", qname);
	assert_int_equal(ldns_rr_new_question_frm_str(&question, text, NULL, NULL), LDNS_STATUS_OK);
	ldns_rr_set_type(question, qtype);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, question);
	return p;
}

static void add(ldns_pkt *p, ldns_pkt_section sec, const char *const *lines)
{
	for (size_t i = 0; lines[i]; i++)
		assert_true(ldns_pkt_push_rr(p, sec, rr(lines[i])));
}

/* Scrubs the reply (freeing it) for q; checks success and that the result
 * is a stored answer for q; returns it parsed. */
static ldns_pkt *scrub_ok(ldns_pkt *reply, const struct wire_query *q,
			  struct scrub_counts *counts)
{
	uint8_t *wire = NULL, *answer = NULL;
	size_t len = 0, answer_len = 0;
	ldns_pkt *out = NULL;

	assert_int_equal(ldns_pkt2wire(&wire, reply, &len), LDNS_STATUS_OK);
	ldns_pkt_free(reply);
	assert_int_equal(scrub_reply_counted(wire, len, q, &answer, &answer_len, counts), 0);
	assert_non_null(answer);
	assert_true(wire_reply_matches(answer, answer_len, wire_get16(answer), q));
	assert_int_equal(wire_get16(answer + 10), 0); /* nothing in additional, no OPT */
	assert_int_equal(ldns_wire2pkt(&out, answer, answer_len), LDNS_STATUS_OK);
	assert_false(ldns_pkt_edns(out));
	free(wire);
	free(answer);
	return out;
}

/* The section holds exactly these records, in this order, TTL included.
 * Letter case aside: ldns compresses names without regard to case, so a
 * name may come out spelled like an earlier one (RFC 4343: same name). */
static void assert_section(const ldns_pkt *p, ldns_pkt_section sec, const char *const *want)
{
	const ldns_rr_list *got;
	size_t n = 0;

	switch (sec) {
	case LDNS_SECTION_ANSWER: got = ldns_pkt_answer(p); break;
	case LDNS_SECTION_AUTHORITY: got = ldns_pkt_authority(p); break;
	default: got = ldns_pkt_additional(p); break;
	}
	while (want[n])
		n++;
	if (ldns_rr_list_rr_count(got) != n) {
		char *all = ldns_rr_list2str(got);
		print_error("section %d has %zu records, want %zu:\n%s", (int)sec,
			    ldns_rr_list_rr_count(got), n, all ? all : "");
		free(all);
		fail();
	}
	for (size_t i = 0; i < n; i++) {
		ldns_rr *w = rr(want[i]);
		char *a = ldns_rr2str(ldns_rr_list_rr(got, i));
		char *b = ldns_rr2str(w);
		if (strcasecmp(a, b) != 0)
			fail_msg("record %zu of section %d:\n got %s want %s", i, (int)sec, a, b);
		free(a);
		free(b);
		ldns_rr_free(w);
	}
}

static void assert_sections(const ldns_pkt *p, const char *const *an, const char *const *ns)
{
	assert_section(p, LDNS_SECTION_ANSWER, an);
	assert_section(p, LDNS_SECTION_AUTHORITY, ns);
	assert_section(p, LDNS_SECTION_ADDITIONAL, NONE);
}

/* ---- answer section ---------------------------------------------------- */

static void test_plain_answer_kept(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	struct scrub_counts counts;

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1",
					"www.example.test. 300 IN A 192.0.2.2"));
	ldns_pkt *out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("www.example.test. 300 IN A 192.0.2.1",
				 "www.example.test. 300 IN A 192.0.2.2"), NONE);
	assert_int_equal(counts.answer_dropped, 0);
	assert_false(counts.chain_cut);
	ldns_pkt_free(out);
}

static void test_unrelated_answer_dropped(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	struct scrub_counts counts;

	add(r, LDNS_SECTION_ANSWER, RRS("evil.example. 86400 IN A 6.6.6.6",
					"www.example.test. 300 IN A 192.0.2.1",
					"www.example.test. 300 IN AAAA 2001:db8::1",   /* other type */
					"sub.www.example.test. 300 IN A 6.6.6.6",      /* child */
					"example.test. 300 IN A 6.6.6.6",              /* parent */
					"www.example.test. 300 CH A 6.6.6.6"));        /* other class */
	ldns_pkt *out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("www.example.test. 300 IN A 192.0.2.1"), NONE);
	assert_int_equal(counts.answer_dropped, 5);
	ldns_pkt_free(out);
}

static void test_case_insensitive_owner(void **state)
{
	struct wire_query q = client_query("WwW.ExAmple.TEST", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN CNAME Web.CDN.test.",
					"wEB.cdn.TEST. 60 IN A 192.0.2.7"));
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("www.example.test. 300 IN CNAME Web.CDN.test.",
				 "wEB.cdn.TEST. 60 IN A 192.0.2.7"), NONE);
	ldns_pkt_free(out);
}

static void test_cname_chain_kept(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	struct scrub_counts counts;

	/* Out of order on purpose: a chain is followed, not read in order. */
	add(r, LDNS_SECTION_ANSWER, RRS("b.cdn.test. 60 IN A 192.0.2.9",
					"www.example.test. 300 IN CNAME a.cdn.test.",
					"other.test. 300 IN A 6.6.6.6",
					"a.cdn.test. 300 IN CNAME b.cdn.test.",
					"a.cdn.test. 300 IN CNAME evil.test.",  /* a second CNAME */
					"evil.test. 300 IN A 6.6.6.6"));
	ldns_pkt *out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("b.cdn.test. 60 IN A 192.0.2.9",
				 "www.example.test. 300 IN CNAME a.cdn.test.",
				 "a.cdn.test. 300 IN CNAME b.cdn.test."), NONE);
	assert_int_equal(counts.answer_dropped, 3);
	assert_false(counts.chain_cut);
	ldns_pkt_free(out);
}

static void test_cname_loop(void **state)
{
	struct wire_query q = client_query("a.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("a.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	struct scrub_counts counts;

	add(r, LDNS_SECTION_ANSWER, RRS("a.example.test. 300 IN CNAME b.example.test.",
					"b.example.test. 300 IN CNAME A.example.test.",
					"c.example.test. 300 IN A 6.6.6.6"));
	ldns_pkt *out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("a.example.test. 300 IN CNAME b.example.test.",
				 "b.example.test. 300 IN CNAME A.example.test."), NONE);
	assert_true(counts.chain_cut);
	ldns_pkt_free(out);

	/* a name that is its own alias */
	r = reply_new("a.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("a.example.test. 300 IN CNAME a.example.test."));
	out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("a.example.test. 300 IN CNAME a.example.test."), NONE);
	assert_true(counts.chain_cut);
	ldns_pkt_free(out);
}

/* A reply with a chain c0 -> c1 -> ... -> c<links> and an A at the end. */
static ldns_pkt *long_chain(size_t links)
{
	ldns_pkt *r = reply_new("c0.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	char line[128];

	for (size_t i = 0; i < links; i++) {
		snprintf(line, sizeof(line), "c%zu.example.test. 300 IN CNAME c%zu.example.test.",
			 i, i + 1);
		add(r, LDNS_SECTION_ANSWER, RRS(line));
	}
	snprintf(line, sizeof(line), "c%zu.example.test. 300 IN A 192.0.2.1", links);
	add(r, LDNS_SECTION_ANSWER, RRS(line));
	return r;
}

static void test_chain_limit(void **state)
{
	struct wire_query q = client_query("c0.example.test", LDNS_RR_TYPE_A, false, false);
	struct scrub_counts counts;
	char line[128];

	/* At the limit: all of it. */
	ldns_pkt *out = scrub_ok(long_chain(SCRUB_CHAIN_MAX), &q, &counts);
	assert_int_equal(ldns_pkt_ancount(out), SCRUB_CHAIN_MAX + 1);
	snprintf(line, sizeof(line), "c%d.example.test. 300 IN A 192.0.2.1", SCRUB_CHAIN_MAX);
	ldns_rr *want = rr(line);
	assert_int_equal(ldns_rr_compare(ldns_rr_list_rr(ldns_pkt_answer(out), SCRUB_CHAIN_MAX),
					 want), 0);
	ldns_rr_free(want);
	assert_false(counts.chain_cut);
	ldns_pkt_free(out);

	/* Past it: the first SCRUB_CHAIN_MAX links, nothing further. */
	out = scrub_ok(long_chain(SCRUB_CHAIN_MAX + 4), &q, &counts);
	assert_int_equal(ldns_pkt_ancount(out), SCRUB_CHAIN_MAX);
	for (size_t i = 0; i < SCRUB_CHAIN_MAX; i++) {
		snprintf(line, sizeof(line), "c%zu.example.test. 300 IN CNAME c%zu.example.test.",
			 i, i + 1);
		want = rr(line);
		assert_int_equal(ldns_rr_compare(ldns_rr_list_rr(ldns_pkt_answer(out), i), want), 0);
		ldns_rr_free(want);
	}
	assert_true(counts.chain_cut);
	assert_int_equal(counts.answer_dropped, 5);
	assert_section(out, LDNS_SECTION_AUTHORITY, NONE);
	ldns_pkt_free(out);
}

static void test_dname(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	/* RFC 6672: the DNAME, the CNAME it synthesized, the target's data. */
	add(r, LDNS_SECTION_ANSWER, RRS("example.test. 300 IN DNAME example.net.",
					"www.example.test. 0 IN CNAME www.example.net.",
					"www.example.net. 300 IN A 192.0.2.3",
					"other.test. 300 IN DNAME evil.test."));
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("example.test. 300 IN DNAME example.net.",
				 "www.example.test. 0 IN CNAME www.example.net.",
				 "www.example.net. 300 IN A 192.0.2.3"), NONE);
	ldns_pkt_free(out);

	/* A DNAME that does not explain the CNAME, or sits at the qname
	 * itself (it applies below its owner only), redirects nothing. */
	r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("example.test. 300 IN DNAME evil.test.",
					"www.example.test. 300 IN DNAME evil.test.",
					"www.example.test. 300 IN CNAME www.example.net.",
					"www.example.net. 300 IN A 192.0.2.3",
					"www.evil.test. 300 IN A 6.6.6.6"));
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("www.example.test. 300 IN CNAME www.example.net.",
				 "www.example.net. 300 IN A 192.0.2.3"), NONE);
	ldns_pkt_free(out);

	/* A DNAME with no CNAME beside it is not followed. */
	r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("example.test. 300 IN DNAME example.net.",
					"www.example.net. 300 IN A 192.0.2.3"));
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, NONE, NONE);
	ldns_pkt_free(out);
}

static void test_qtype_any_and_cname(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_ANY, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR);

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1",
					"www.example.test. 300 IN AAAA 2001:db8::1",
					"evil.test. 300 IN A 6.6.6.6",
					"WWW.example.test. 300 IN MX 10 mail.example.test.",
					"www.example.test. 300 IN TXT \"hello\"",
					"mail.example.test. 300 IN A 6.6.6.6"));
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("www.example.test. 300 IN A 192.0.2.1",
				 "www.example.test. 300 IN AAAA 2001:db8::1",
				 "WWW.example.test. 300 IN MX 10 mail.example.test.",
				 "www.example.test. 300 IN TXT \"hello\""), NONE);
	ldns_pkt_free(out);

	/* ANY asks about the qname only: a CNAME there is not followed. */
	r = reply_new("www.example.test", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN CNAME a.example.test.",
					"a.example.test. 300 IN A 192.0.2.1"));
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("www.example.test. 300 IN CNAME a.example.test."), NONE);
	ldns_pkt_free(out);

	/* A CNAME question: the CNAME is the answer, the chain past it is not. */
	q = client_query("www.example.test", LDNS_RR_TYPE_CNAME, false, false);
	r = reply_new("www.example.test", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN CNAME a.example.test.",
					"a.example.test. 300 IN CNAME b.example.test.",
					"b.example.test. 300 IN A 192.0.2.1"));
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("www.example.test. 300 IN CNAME a.example.test."), NONE);
	ldns_pkt_free(out);
}

/* ---- authority and additional ----------------------------------------- */

static void test_positive_drops_authority_and_glue(void **state)
{
	struct wire_query q = client_query("www.example.com", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.com", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	struct scrub_counts counts;

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.com. 300 IN A 192.0.2.1"));
	add(r, LDNS_SECTION_AUTHORITY, RRS("example.com. 86400 IN NS ns.evil.",
					   "com. 86400 IN NS ns.evil.",
					   "example.com. 3600 IN SOA ns.evil. h.evil. 1 2 3 4 5"));
	add(r, LDNS_SECTION_ADDITIONAL, RRS("ns.evil. 86400 IN A 6.6.6.6",
					    "www.example.com. 86400 IN A 6.6.6.6"));
	ldns_pkt *out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("www.example.com. 300 IN A 192.0.2.1"), NONE);
	assert_int_equal(counts.answer_dropped, 0);
	assert_int_equal(counts.authority_dropped, 3);
	assert_int_equal(counts.additional_dropped, 2);
	ldns_pkt_free(out);
}

static void test_nxdomain_keeps_soa_only(void **state)
{
	struct wire_query q = client_query("nope.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("nope.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);

	add(r, LDNS_SECTION_AUTHORITY, RRS("example.test. 86400 IN NS ns.evil.",
					   SOA_TEST,
					   "test. 3600 IN SOA a.test. b.test. 1 2 3 4 5"));
	add(r, LDNS_SECTION_ADDITIONAL, RRS("ns.evil. 86400 IN A 6.6.6.6"));
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, NONE, RRS(SOA_TEST));
	assert_int_equal(ldns_pkt_get_rcode(out), LDNS_RCODE_NXDOMAIN);
	ldns_pkt_free(out);
}

static void test_nodata_keeps_soa(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_AAAA, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1"));
	add(r, LDNS_SECTION_AUTHORITY, RRS(SOA_TEST, "example.test. 300 IN NS ns.evil."));
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, NONE, RRS(SOA_TEST));
	assert_int_equal(ldns_pkt_get_rcode(out), LDNS_RCODE_NOERROR);
	ldns_pkt_free(out);

	/* Through a CNAME, the negative answer is about the chain's last name
	 * (RFC 2308 §2.2): its zone's SOA, not the qname's. */
	r = reply_new("www.example.test", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN CNAME x.other.test."));
	add(r, LDNS_SECTION_AUTHORITY, RRS(SOA_TEST,
					   "other.test. 60 IN SOA ns.other.test. h.other.test. 1 2 3 4 5"));
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("www.example.test. 300 IN CNAME x.other.test."),
			RRS("other.test. 60 IN SOA ns.other.test. h.other.test. 1 2 3 4 5"));
	ldns_pkt_free(out);
}

static void test_unrelated_soa_dropped(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);

	add(r, LDNS_SECTION_AUTHORITY,
	    RRS("evil.example. 3600 IN SOA ns.evil. h.evil. 1 2 3 4 5",
		"sub.www.example.test. 3600 IN SOA ns.evil. h.evil. 1 2 3 4 5", /* below */
		"example.test. 3600 CH SOA ns.evil. h.evil. 1 2 3 4 5"));       /* class */
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, NONE, NONE);
	ldns_pkt_free(out);

	/* The qname's own SOA is the name itself: kept. */
	r = reply_new("example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	q = client_query("example.test", LDNS_RR_TYPE_A, false, false);
	add(r, LDNS_SECTION_AUTHORITY, RRS(SOA_TEST));
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, NONE, RRS(SOA_TEST));
	ldns_pkt_free(out);
}

/* ---- DNSSEC records ---------------------------------------------------- */

static void test_rrsig_kept_for_do_clients(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, true, true);
	const char *const an[] = {
		"www.example.test. 300 IN CNAME a.example.test.",
		SIG("CNAME", "www.example.test.", "example.test."),
		"a.example.test. 300 IN A 192.0.2.1",
		SIG("A", "a.example.test.", "example.test."),
		SIG("AAAA", "a.example.test.", "example.test."),  /* covers nothing kept */
		SIG("A", "evil.test.", "evil.test."),             /* off the chain */
		SIG("CNAME", "a.example.test.", "example.test."), /* no CNAME there */
		NULL,
	};
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, an);
	add(r, LDNS_SECTION_AUTHORITY, RRS("example.test. 300 IN NS ns.example.test.",
					   SIG("NS", "example.test.", "example.test.")));
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS(an[0], an[1], an[2], an[3]), NONE);
	ldns_pkt_free(out);

	/* Without DO the signatures go. */
	q = client_query("www.example.test", LDNS_RR_TYPE_A, true, false);
	r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, an);
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS(an[0], an[2]), NONE);
	ldns_pkt_free(out);
}

static void test_negative_proofs_for_do_clients(void **state)
{
	struct wire_query q = client_query("nope.example.test", LDNS_RR_TYPE_A, true, true);
	const char *const ns[] = {
		SOA_TEST,
		SIG("SOA", "example.test.", "example.test."),
		"a.example.test. 300 IN NSEC z.example.test. A RRSIG NSEC",
		SIG("NSEC", "a.example.test.", "example.test."),
		"2t7b4g4vsa5smi47k61mv5bv1a22bojr.example.test. 300 IN NSEC3 1 0 0 - "
		"2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG",
		"evil.test. 300 IN NSEC z.evil.test. A",              /* another zone */
		SIG("NSEC", "evil.test.", "evil.test."),
		SIG("NSEC", "b.example.test.", "example.test."),      /* no NSEC there */
		"example.test. 300 IN NS ns.evil.",
		SIG("NS", "example.test.", "example.test."),
		NULL,
	};
	ldns_pkt *r = reply_new("nope.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	add(r, LDNS_SECTION_AUTHORITY, ns);
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, NONE, RRS(ns[0], ns[1], ns[2], ns[3], ns[4]));
	ldns_pkt_free(out);

	/* Without DO only the SOA. */
	q = client_query("nope.example.test", LDNS_RR_TYPE_A, true, false);
	r = reply_new("nope.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN);
	add(r, LDNS_SECTION_AUTHORITY, ns);
	out = scrub_ok(r, &q, NULL);
	assert_sections(out, NONE, RRS(SOA_TEST));
	ldns_pkt_free(out);
}

static void test_wildcard_proof_for_do_clients(void **state)
{
	struct wire_query q = client_query("x.example.test", LDNS_RR_TYPE_A, true, true);
	ldns_pkt *r = reply_new("x.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);

	/* RFC 4035 §3.1.3.3: a wildcard answer and the NSEC proving there is
	 * no closer match, from the zone that signed the answer. */
	add(r, LDNS_SECTION_ANSWER, RRS("x.example.test. 300 IN A 192.0.2.1",
					SIG("A", "x.example.test.", "example.test.")));
	add(r, LDNS_SECTION_AUTHORITY, RRS("a.example.test. 300 IN NSEC z.example.test. A RRSIG NSEC",
					   SIG("NSEC", "a.example.test.", "example.test."),
					   "a.evil.test. 300 IN NSEC z.evil.test. A",
					   SOA_TEST));
	ldns_pkt *out = scrub_ok(r, &q, NULL);
	assert_sections(out, RRS("x.example.test. 300 IN A 192.0.2.1",
				 SIG("A", "x.example.test.", "example.test.")),
			RRS("a.example.test. 300 IN NSEC z.example.test. A RRSIG NSEC",
			    SIG("NSEC", "a.example.test.", "example.test.")));
	ldns_pkt_free(out);
}

/* ---- header, EDNS, form ------------------------------------------------ */

static void test_opt_removed(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, true, true);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	static const uint8_t cookie[] = { 0, 10, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8 }; /* RFC 7873 */
	uint8_t *wire = NULL, *answer = NULL;
	size_t len = 0, answer_len = 0;
	struct wire_rr_iter it;
	struct wire_rr rec;
	int got;

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1"));
	ldns_pkt_set_edns_udp_size(r, 4096);
	ldns_pkt_set_edns_do(r, true);
	ldns_pkt_set_edns_z(r, 0x1234);
	ldns_pkt_set_edns_data(r, ldns_rdf_new_frm_data(LDNS_RDF_TYPE_UNKNOWN, sizeof(cookie), cookie));
	assert_int_equal(ldns_pkt2wire(&wire, r, &len), LDNS_STATUS_OK);
	ldns_pkt_free(r);
	assert_int_equal(wire_get16(wire + 10), 1); /* the input does carry an OPT */

	assert_int_equal(scrub_reply(wire, len, &q, &answer, &answer_len), 0);
	assert_int_equal(wire_get16(answer + 10), 0);
	assert_int_equal(wire_rr_iter_init(&it, answer, answer_len), 0);
	while ((got = wire_rr_next(&it, &rec)) == 1)
		assert_int_not_equal(rec.type, WIRE_TYPE_OPT);
	assert_int_equal(got, 0);
	assert_int_equal(it.off, answer_len); /* nothing after the last record */

	/* The stored answer serves: the client gets our OPT, only one. */
	uint8_t reply[512];
	size_t n = wire_finish_reply(reply, sizeof(reply), answer, answer_len, &q, 512, 1232);
	assert_int_equal(n, answer_len + WIRE_OPT_LEN);
	assert_int_equal(wire_get16(reply + 10), 1);
	free(answer);
	free(wire);
}

/* A record with no rdata at all (ldns reads rdlen 0 as the RFC 2136
 * update form), of the given type and owner. */
static ldns_rr *empty_rr(const char *owner, ldns_rr_type type)
{
	ldns_rr *r = ldns_rr_new();
	ldns_rdf *name = NULL;
	assert_non_null(r);
	assert_int_equal(ldns_str2rdf_dname(&name, owner), LDNS_STATUS_OK);
	ldns_rr_set_owner(r, name);
	ldns_rr_set_type(r, type);
	ldns_rr_set_class(r, LDNS_RR_CLASS_IN);
	ldns_rr_set_ttl(r, 60);
	return r;
}

/* Found by fuzz_reply: pseudo-records and records with their rdata cut
 * short are never kept, even where their name would qualify. */
static void test_unfit_records_dropped(void **state)
{
	struct scrub_counts counts;

	/* qtype ANY keeps every type at the qname, but not an OPT there. */
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_ANY, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1"));
	assert_true(ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, empty_rr("www.example.test.", LDNS_RR_TYPE_OPT)));
	assert_true(ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, empty_rr("www.example.test.", LDNS_RR_TYPE_MX)));
	ldns_pkt *out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("www.example.test. 300 IN A 192.0.2.1"), NONE);
	assert_int_equal(counts.answer_dropped, 2);
	ldns_pkt_free(out);

	/* A negative answer whose SOA has no rdata keeps no SOA (the cache
	 * then does not store it: it has no negative TTL to go by). */
	q = client_query("alias.example.com", LDNS_RR_TYPE_MX, false, false);
	r = reply_new("alias.example.com", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR);
	add(r, LDNS_SECTION_ANSWER, RRS("alias.example.com. 300 IN CNAME host.example.net."));
	assert_true(ldns_pkt_push_rr(r, LDNS_SECTION_AUTHORITY, empty_rr("example.net.", LDNS_RR_TYPE_SOA)));
	out = scrub_ok(r, &q, &counts);
	assert_sections(out, RRS("alias.example.com. 300 IN CNAME host.example.net."), NONE);
	assert_int_equal(counts.authority_dropped, 1);
	ldns_pkt_free(out);
}

static void test_header_kept_aa_cleared(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	uint8_t *wire = NULL, *answer = NULL;
	size_t len = 0, answer_len = 0;

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1"));
	assert_int_equal(ldns_pkt2wire(&wire, r, &len), LDNS_STATUS_OK);
	ldns_pkt_free(r);

	/* Every flag combination that matters, and every rcode a reply that
	 * reaches scrub may carry. */
	static const uint16_t flag_sets[] = {
		WIRE_FLAG_QR,
		WIRE_FLAG_QR | WIRE_FLAG_AA | WIRE_FLAG_RD | WIRE_FLAG_RA | WIRE_FLAG_AD | WIRE_FLAG_CD,
		WIRE_FLAG_QR | WIRE_FLAG_AA | WIRE_FLAG_TC | 0x0040 /* Z */,
		WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_AD | WIRE_RCODE_NXDOMAIN,
		WIRE_FLAG_QR | WIRE_FLAG_CD | WIRE_FLAG_RA | 9 /* NOTAUTH */,
	};
	for (size_t i = 0; i < sizeof(flag_sets) / sizeof(flag_sets[0]); i++) {
		wire_put16(wire, (uint16_t)(0xbee0 + i));
		wire_put16(wire + 2, flag_sets[i]);
		assert_int_equal(scrub_reply(wire, len, &q, &answer, &answer_len), 0);
		assert_int_equal(wire_get16(answer), 0xbee0 + i);
		assert_int_equal(wire_get16(answer + 2),
				 flag_sets[i] & ~(WIRE_FLAG_AA | 0x0040));
		assert_true(wire_reply_matches(answer, answer_len, (uint16_t)(0xbee0 + i), &q));
		free(answer);
	}
	free(wire);
}

static void test_question_kept_uncompressed(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	uint8_t *wire = NULL, *answer = NULL;
	size_t len = 0, answer_len = 0;

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1"));
	assert_int_equal(ldns_pkt2wire(&wire, r, &len), LDNS_STATUS_OK);
	ldns_pkt_free(r);
	assert_int_equal(scrub_reply(wire, len, &q, &answer, &answer_len), 0);
	assert_int_equal(wire_get16(answer + 4), 1);
	assert_memory_equal(answer + WIRE_HEADER_LEN, q.qname, q.qname_len);
	assert_int_equal(wire_get16(answer + WIRE_HEADER_LEN + q.qname_len), WIRE_TYPE_A);
	assert_int_equal(wire_get16(answer + WIRE_HEADER_LEN + q.qname_len + 2), WIRE_CLASS_IN);
	free(answer);
	free(wire);
}

static void test_garbage_rejected(void **state)
{
	struct wire_query q = client_query("www.example.test", LDNS_RR_TYPE_A, false, false);
	ldns_pkt *r = reply_new("www.example.test", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR);
	uint8_t *wire = NULL, *answer = (uint8_t *)"x";
	size_t len = 0, answer_len = 1;
	uint8_t junk[64];

	add(r, LDNS_SECTION_ANSWER, RRS("www.example.test. 300 IN A 192.0.2.1"));
	assert_int_equal(ldns_pkt2wire(&wire, r, &len), LDNS_STATUS_OK);
	ldns_pkt_free(r);

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 37 + 11);
	assert_int_equal(scrub_reply(junk, sizeof(junk), &q, &answer, &answer_len), -EBADMSG);
	assert_null(answer);
	assert_int_equal(answer_len, 0);
	assert_int_equal(scrub_reply(wire, 0, &q, &answer, &answer_len), -EBADMSG);
	assert_int_equal(scrub_reply(wire, 11, &q, &answer, &answer_len), -EBADMSG);
	/* cut inside the answer record */
	assert_int_equal(scrub_reply(wire, len - 2, &q, &answer, &answer_len), -EBADMSG);
	assert_null(answer);
	/* the answer count promises a record that is not there */
	wire_put16(wire + 6, 2);
	assert_int_equal(scrub_reply(wire, len, &q, &answer, &answer_len), -EBADMSG);
	wire_put16(wire + 6, 1);
	/* not a response */
	wire_put16(wire + 2, (uint16_t)(wire_get16(wire + 2) & ~WIRE_FLAG_QR));
	assert_int_equal(scrub_reply(wire, len, &q, &answer, &answer_len), -EBADMSG);
	wire_put16(wire + 2, (uint16_t)(wire_get16(wire + 2) | WIRE_FLAG_QR));
	/* a reply to another question */
	struct wire_query other = client_query("www.example.test", LDNS_RR_TYPE_AAAA, false, false);
	assert_int_equal(scrub_reply(wire, len, &other, &answer, &answer_len), -EBADMSG);
	assert_null(answer);
	/* and the untouched reply is fine */
	assert_int_equal(scrub_reply(wire, len, &q, &answer, &answer_len), 0);
	free(answer);
	free(wire);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_answer_kept),
		cmocka_unit_test(test_unrelated_answer_dropped),
		cmocka_unit_test(test_case_insensitive_owner),
		cmocka_unit_test(test_cname_chain_kept),
		cmocka_unit_test(test_cname_loop),
		cmocka_unit_test(test_chain_limit),
		cmocka_unit_test(test_dname),
		cmocka_unit_test(test_qtype_any_and_cname),
		cmocka_unit_test(test_positive_drops_authority_and_glue),
		cmocka_unit_test(test_nxdomain_keeps_soa_only),
		cmocka_unit_test(test_nodata_keeps_soa),
		cmocka_unit_test(test_unrelated_soa_dropped),
		cmocka_unit_test(test_rrsig_kept_for_do_clients),
		cmocka_unit_test(test_negative_proofs_for_do_clients),
		cmocka_unit_test(test_wildcard_proof_for_do_clients),
		cmocka_unit_test(test_opt_removed),
		cmocka_unit_test(test_unfit_records_dropped),
		cmocka_unit_test(test_header_kept_aa_cleared),
		cmocka_unit_test(test_question_kept_uncompressed),
		cmocka_unit_test(test_garbage_rejected),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
