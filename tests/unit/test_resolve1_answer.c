/* test_resolve1_answer.c - scenarios for the turn from DNS replies into
 * systemd-resolved's D-Bus results: ResolveHostname's addresses and
 * canonical name, ResolveAddress's names, ResolveRecord's records (each
 * uncompressed in wire form), the CNAME chain they follow, and the error
 * names clients act on. Replies are built with ldns, which compresses
 * names as a real server does. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "pkt.h"
#include "stubd/resolve1_answer.h"

/* ---- helpers ------------------------------------------------------------ */

struct reply {
	uint8_t *wire;
	size_t len;
};

/* A reply to "qname qtype" (class IN) with rcode and the answer records
 * given as ldns text ("www.example.test. 300 IN A 192.0.2.1"), NULL
 * ending the list. ldns_pkt2wire compresses names. */
static struct reply build(const char *qname, ldns_rr_type qtype, ldns_pkt_rcode rcode,
			  const char *const *answers)
{
	ldns_pkt *pkt = ldns_pkt_new();
	assert_non_null(pkt);
	ldns_pkt_set_id(pkt, 0x1234);
	ldns_pkt_set_qr(pkt, true);
	ldns_pkt_set_rd(pkt, true);
	ldns_pkt_set_ra(pkt, true);
	ldns_pkt_set_rcode(pkt, (uint8_t)rcode);

	ldns_rdf *owner = ldns_dname_new_frm_str(qname);
	assert_non_null(owner);
	ldns_rr *q = ldns_rr_new();
	assert_non_null(q);
	ldns_rr_set_owner(q, owner);
	ldns_rr_set_type(q, qtype);
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_QUESTION, q));

	for (size_t i = 0; answers && answers[i]; i++) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_str(&rr, answers[i], 300, NULL, NULL);
		if (s != LDNS_STATUS_OK)
			fail_msg("'%s': %s", answers[i], ldns_get_errorstr_by_id(s));
		assert_true(ldns_pkt_push_rr(pkt, LDNS_SECTION_ANSWER, rr));
	}

	struct reply r = { 0 };
	assert_int_equal(ldns_pkt2wire(&r.wire, pkt, &r.len), LDNS_STATUS_OK);
	ldns_pkt_free(pkt);
	return r;
}

static void release(struct reply *r)
{
	free(r->wire);
	r->wire = NULL;
}

/* True when the bytes hold a compression pointer's first byte: for
 * records with no 0xc0 byte of their own (no address, no such TTL). */
static bool has_pointer(const uint8_t *b, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if ((b[i] & 0xc0) == 0xc0)
			return true;
	return false;
}

/* The length of the name at b[off], when it is plain labels ending in the
 * root within len; 0 when it holds a pointer or runs out. */
static size_t plain_name(const uint8_t *b, size_t len, size_t off)
{
	size_t at = off;
	while (at < len) {
		uint8_t l = b[at];
		if (l & 0xc0)
			return 0;
		at += 1u + l;
		if (l == 0)
			return at - off;
	}
	return 0;
}

struct addrs {
	struct resolve1_address a[RESOLVE1_MAX_ITEMS];
	size_t n;
	char canonical[RESOLVE1_NAME_TEXT_MAX];
};

static int addresses(const struct reply *r, struct addrs *out)
{
	return resolve1_answer_addresses(r->wire, r->len, out->a, RESOLVE1_MAX_ITEMS, &out->n,
					 out->canonical, sizeof(out->canonical));
}

static void assert_v4(const struct resolve1_address *a, uint8_t b0, uint8_t b1, uint8_t b2, uint8_t b3)
{
	const uint8_t want[4] = { b0, b1, b2, b3 };
	assert_int_equal(a->family, AF_INET);
	assert_memory_equal(a->bytes, want, 4);
}

/* Names passed to a resolve1_name_fn, joined by spaces. */
struct names {
	char text[4096];
	int calls;
};

static void collect_name(void *arg, const char *name)
{
	struct names *n = arg;
	size_t used = strlen(n->text);
	snprintf(n->text + used, sizeof(n->text) - used, "%s%s", used ? " " : "", name);
	n->calls++;
}

/* Records passed to a resolve1_record_fn, each parsed back with ldns
 * from the wire it came in, with its own copy of the wire. */
#define MAX_RECORDS 64
struct records {
	int calls;
	uint16_t rr_class[MAX_RECORDS], rr_type[MAX_RECORDS];
	uint8_t wire[MAX_RECORDS][512];
	size_t len[MAX_RECORDS];
	ldns_rr *rr[MAX_RECORDS];
};

static void collect_record(void *arg, uint16_t rr_class, uint16_t rr_type, const uint8_t *wire,
			   size_t len)
{
	struct records *r = arg;
	assert_true(r->calls < MAX_RECORDS);
	assert_true(len <= sizeof(r->wire[0]));
	int i = r->calls++;
	r->rr_class[i] = rr_class;
	r->rr_type[i] = rr_type;
	memcpy(r->wire[i], wire, len);
	r->len[i] = len;
	/* On its own, with no message around it: a pointer could not resolve. */
	size_t pos = 0;
	ldns_status s = ldns_wire2rr(&r->rr[i], wire, len, &pos, LDNS_SECTION_ANSWER);
	if (s != LDNS_STATUS_OK)
		fail_msg("record %d does not parse on its own: %s", i, ldns_get_errorstr_by_id(s));
	assert_int_equal(pos, len);
}

static void records_free(struct records *r)
{
	for (int i = 0; i < r->calls; i++)
		ldns_rr_free(r->rr[i]);
}

/* The text of a record's field, without the final dot of a name. */
static const char *rdf_text(const ldns_rdf *rdf)
{
	static char out[512];
	char *s = ldns_rdf2str(rdf);
	assert_non_null(s);
	snprintf(out, sizeof(out), "%s", s);
	free(s);
	size_t n = strlen(out);
	if (n > 1 && out[n - 1] == '.')
		out[n - 1] = '\0';
	return out;
}

/* ---- ResolveHostname ---------------------------------------------------- */

static void test_addresses_a_and_aaaa(void **state)
{
	(void)state;
	struct reply r = build("www.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "www.example.test. 300 IN A 192.0.2.1",
				       "www.example.test. 300 IN AAAA 2001:db8::1",
				       "www.example.test. 300 IN A 198.51.100.7",
				       NULL,
			       });
	struct addrs out = { .canonical = "stale" };
	assert_int_equal(addresses(&r, &out), 0);
	assert_int_equal(out.n, 3);
	assert_v4(&out.a[0], 192, 0, 2, 1);
	assert_int_equal(out.a[1].family, AF_INET6);
	const uint8_t v6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
	assert_memory_equal(out.a[1].bytes, v6, 16);
	assert_v4(&out.a[2], 198, 51, 100, 7);
	assert_string_equal(out.canonical, "www.example.test");
	release(&r);
}

/* ResolveHostname asks A and AAAA apart: the second reply's addresses
 * come after the first's. */
static void test_addresses_append(void **state)
{
	(void)state;
	struct reply a = build("host.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
			       (const char *const[]){ "host.example.test. 60 IN A 192.0.2.9", NULL });
	struct reply aaaa = build("host.example.test.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
				  (const char *const[]){ "host.example.test. 60 IN AAAA ::1", NULL });
	struct addrs out = { 0 };
	assert_int_equal(addresses(&a, &out), 0);
	assert_int_equal(out.n, 1);
	assert_int_equal(addresses(&aaaa, &out), 0);
	assert_int_equal(out.n, 2);
	assert_v4(&out.a[0], 192, 0, 2, 9);
	assert_int_equal(out.a[1].family, AF_INET6);
	const uint8_t loopback[16] = { [15] = 1 };
	assert_memory_equal(out.a[1].bytes, loopback, 16);
	assert_string_equal(out.canonical, "host.example.test");
	release(&a);
	release(&aaaa);
}

/* www -> alias -> target: the addresses are target's, the canonical name
 * is target's, and an A record for some other owner in the same answer
 * (a server's stray, or an attempt to slip one in) is not returned. The
 * question's name matches whatever its case. */
static void test_addresses_cname_chain(void **state)
{
	(void)state;
	struct reply r = build("WWW.Example.TEST.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "www.example.test. 300 IN CNAME alias.example.net.",
				       "other.example.org. 300 IN A 203.0.113.66",
				       "alias.example.net. 300 IN CNAME target.cdn.example.",
				       "www.example.test. 300 IN A 203.0.113.1",
				       "target.cdn.example. 300 IN A 192.0.2.10",
				       "alias.example.net. 300 IN A 203.0.113.2",
				       "target.cdn.example. 300 IN A 192.0.2.11",
				       NULL,
			       });
	struct addrs out = { 0 };
	assert_int_equal(addresses(&r, &out), 0);
	assert_int_equal(out.n, 2);
	assert_v4(&out.a[0], 192, 0, 2, 10);
	assert_v4(&out.a[1], 192, 0, 2, 11);
	assert_string_equal(out.canonical, "target.cdn.example");
	release(&r);
}

/* A CNAME loop, and a chain longer than any resolver follows: the walk
 * ends, and what it finds is not an address of the name asked. */
static void test_addresses_cname_loop_and_long_chain(void **state)
{
	(void)state;
	struct reply loop = build("a.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				  (const char *const[]){
					  "a.example.test. 300 IN CNAME b.example.test.",
					  "b.example.test. 300 IN CNAME a.example.test.",
					  NULL,
				  });
	struct addrs out = { 0 };
	assert_int_equal(addresses(&loop, &out), 0);
	assert_int_equal(out.n, 0);
	assert_string_equal(out.canonical, "");
	release(&loop);

	/* A self-loop too. */
	struct reply self = build("s.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
				  (const char *const[]){
					  "s.example.test. 300 IN CNAME s.example.test.",
					  NULL,
				  });
	out.n = 0;
	assert_int_equal(addresses(&self, &out), 0);
	assert_int_equal(out.n, 0);
	release(&self);

	/* c0 -> c1 -> ... -> c40, with the address on c40. */
	const char *rrs[64];
	char text[41][96];
	int n = 0;
	for (int i = 0; i < 40; i++) {
		snprintf(text[i], sizeof(text[i]), "c%d.example.test. 300 IN CNAME c%d.example.test.", i, i + 1);
		rrs[n++] = text[i];
	}
	snprintf(text[40], sizeof(text[40]), "c40.example.test. 300 IN A 192.0.2.40");
	rrs[n++] = text[40];
	rrs[n] = NULL;
	struct reply chain = build("c0.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs);
	out.n = 0;
	assert_int_equal(addresses(&chain, &out), 0);
	assert_int_equal(out.n, 0);
	assert_string_equal(out.canonical, "");
	release(&chain);

	/* A chain of a few hops is followed to its end. */
	rrs[0] = "c0.example.test. 300 IN CNAME c1.example.test.";
	rrs[1] = "c1.example.test. 300 IN CNAME c2.example.test.";
	rrs[2] = "c2.example.test. 300 IN CNAME c3.example.test.";
	rrs[3] = "c3.example.test. 300 IN A 192.0.2.3";
	rrs[4] = NULL;
	struct reply short_chain = build("c0.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs);
	out.n = 0;
	assert_int_equal(addresses(&short_chain, &out), 0);
	assert_int_equal(out.n, 1);
	assert_v4(&out.a[0], 192, 0, 2, 3);
	assert_string_equal(out.canonical, "c3.example.test");
	release(&short_chain);
}

static void test_addresses_nxdomain_and_nodata(void **state)
{
	(void)state;
	struct reply nx = build("nowhere.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NXDOMAIN, NULL);
	struct addrs out = { .canonical = "stale" };
	assert_int_equal(addresses(&nx, &out), 0);
	assert_int_equal(out.n, 0);
	assert_string_equal(out.canonical, "");
	release(&nx);

	/* NODATA: the name is there, without addresses; a CNAME to a name
	 * without them is NODATA too. */
	struct reply nodata = build("v4only.example.test.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR, NULL);
	snprintf(out.canonical, sizeof(out.canonical), "stale");
	assert_int_equal(addresses(&nodata, &out), 0);
	assert_int_equal(out.n, 0);
	assert_string_equal(out.canonical, "");
	release(&nodata);

	struct reply cname_only = build("www.example.test.", LDNS_RR_TYPE_AAAA, LDNS_RCODE_NOERROR,
					(const char *const[]){
						"www.example.test. 300 IN CNAME v4only.example.test.",
						"www.example.test. 300 IN TXT \"not an address\"",
						NULL,
					});
	assert_int_equal(addresses(&cname_only, &out), 0);
	assert_int_equal(out.n, 0);
	assert_string_equal(out.canonical, "");
	release(&cname_only);
}

/* max bounds what is written, the rest of the array untouched. */
static void test_addresses_max(void **state)
{
	(void)state;
	struct reply r = build("many.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "many.example.test. 300 IN A 192.0.2.1",
				       "many.example.test. 300 IN A 192.0.2.2",
				       "many.example.test. 300 IN A 192.0.2.3",
				       "many.example.test. 300 IN A 192.0.2.4",
				       "many.example.test. 300 IN A 192.0.2.5",
				       NULL,
			       });
	struct resolve1_address out[4];
	memset(out, 0xa5, sizeof(out));
	size_t n = 0;
	char canonical[RESOLVE1_NAME_TEXT_MAX];
	assert_int_equal(resolve1_answer_addresses(r.wire, r.len, out, 3, &n, canonical, sizeof(canonical)), 0);
	assert_int_equal(n, 3);
	assert_v4(&out[0], 192, 0, 2, 1);
	assert_v4(&out[2], 192, 0, 2, 3);
	uint8_t untouched[sizeof(out[3])];
	memset(untouched, 0xa5, sizeof(untouched));
	assert_memory_equal(&out[3], untouched, sizeof(out[3]));
	assert_string_equal(canonical, "many.example.test");

	/* Appending to an array already full adds nothing. */
	assert_int_equal(resolve1_answer_addresses(r.wire, r.len, out, 3, &n, canonical, sizeof(canonical)), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(&out[3], untouched, sizeof(out[3]));

	/* One place left: one more. */
	n = 2;
	assert_int_equal(resolve1_answer_addresses(r.wire, r.len, out, 3, &n, canonical, sizeof(canonical)), 0);
	assert_int_equal(n, 3);
	assert_v4(&out[2], 192, 0, 2, 1);

	/* A canonical buffer too small for the name gets a cut, terminated one. */
	char small[5];
	n = 0;
	assert_int_equal(resolve1_answer_addresses(r.wire, r.len, out, 3, &n, small, sizeof(small)), 0);
	assert_string_equal(small, "many");
	release(&r);
}

/* ---- what does not parse ------------------------------------------------ */

static int names_of(const uint8_t *b, size_t len)
{
	struct names n = { 0 };
	int rc = resolve1_answer_names(b, len, collect_name, &n);
	if (rc < 0)
		assert_int_equal(n.calls, 0);
	return rc;
}

static int records_of(const uint8_t *b, size_t len)
{
	struct records r = { 0 };
	int rc = resolve1_answer_records(b, len, collect_record, &r);
	if (rc < 0)
		assert_int_equal(r.calls, 0);
	records_free(&r);
	return rc;
}

static void assert_all_einval(const uint8_t *b, size_t len, const char *what)
{
	struct addrs out = { 0 };
	int rc = resolve1_answer_addresses(b, len, out.a, RESOLVE1_MAX_ITEMS, &out.n, out.canonical,
					   sizeof(out.canonical));
	if (rc != -EINVAL)
		fail_msg("%s: addresses gave %d", what, rc);
	assert_int_equal(out.n, 0);
	if ((rc = names_of(b, len)) != -EINVAL)
		fail_msg("%s: names gave %d", what, rc);
	if ((rc = records_of(b, len)) != -EINVAL)
		fail_msg("%s: records gave %d", what, rc);
}

static void test_malformed(void **state)
{
	(void)state;
	/* Garbage. */
	uint8_t garbage[64];
	for (size_t i = 0; i < sizeof(garbage); i++)
		garbage[i] = (uint8_t)(i * 37 + 0xc1);
	assert_all_einval(garbage, sizeof(garbage), "garbage");
	assert_all_einval(garbage, 0, "empty");
	assert_all_einval(garbage, 5, "shorter than a header");

	/* Each cut of a good reply. */
	struct reply r = build("www.example.test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "www.example.test. 300 IN CNAME mail.example.test.",
				       "mail.example.test. 300 IN MX 10 mx1.example.test.",
				       "mail.example.test. 300 IN MX 20 mx2.example.test.",
				       NULL,
			       });
	assert_int_equal(records_of(r.wire, r.len), 2);
	for (size_t cut = 0; cut < r.len; cut++) {
		char what[64];
		snprintf(what, sizeof(what), "cut at %zu of %zu", cut, r.len);
		assert_all_einval(r.wire, cut, what);
	}
	release(&r);

	/* A header with no question, and one with two: no question to answer. */
	struct pkt p;
	header(&p, 1, 0x8180, 0, 0, 0, 0);
	assert_all_einval(p.b, p.len, "no question");

	header(&p, 1, 0x8180, 0, 1, 0, 0);
	name(&p, "www.example.test");
	put16(&p, WIRE_TYPE_A);
	put16(&p, WIRE_CLASS_IN);
	put32(&p, 300);
	put16(&p, 4);
	put32(&p, 0xc0000201);
	assert_all_einval(p.b, p.len, "an answer without a question");

	header(&p, 1, 0x8180, 2, 0, 0, 0);
	question(&p, "a.example.test", WIRE_TYPE_A);
	question(&p, "b.example.test", WIRE_TYPE_A);
	assert_all_einval(p.b, p.len, "two questions");

	/* A compression pointer that loops on itself. */
	header(&p, 1, 0x8180, 1, 0, 0, 0);
	put16(&p, 0xc00c);
	put16(&p, WIRE_TYPE_A);
	put16(&p, WIRE_CLASS_IN);
	assert_all_einval(p.b, p.len, "pointer loop");

	/* The same built by hand, well formed, does parse. */
	header(&p, 1, 0x8180, 1, 1, 0, 0);
	question(&p, "www.example.test", WIRE_TYPE_A);
	put16(&p, 0xc00c);
	put16(&p, WIRE_TYPE_A);
	put16(&p, WIRE_CLASS_IN);
	put32(&p, 300);
	put16(&p, 4);
	put32(&p, 0xc0000201);
	struct addrs out = { 0 };
	assert_int_equal(resolve1_answer_addresses(p.b, p.len, out.a, RESOLVE1_MAX_ITEMS, &out.n,
						   out.canonical, sizeof(out.canonical)), 0);
	assert_int_equal(out.n, 1);
	assert_v4(&out.a[0], 192, 0, 2, 1);
	assert_string_equal(out.canonical, "www.example.test");
}

/* ---- ResolveAddress ----------------------------------------------------- */

static void test_names_ptr(void **state)
{
	(void)state;
	struct reply r = build("1.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "1.2.0.192.in-addr.arpa. 300 IN PTR host.example.test.",
				       "1.2.0.192.in-addr.arpa. 300 IN PTR alias.example.test.",
				       "9.2.0.192.in-addr.arpa. 300 IN PTR stray.example.test.",
				       NULL,
			       });
	struct names n = { 0 };
	assert_int_equal(resolve1_answer_names(r.wire, r.len, collect_name, &n), 2);
	assert_int_equal(n.calls, 2);
	assert_string_equal(n.text, "host.example.test alias.example.test");
	release(&r);

	/* IPv6's nibbles. */
	r = build("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa.",
		  LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
		  (const char *const[]){
			  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa. "
			  "300 IN PTR v6.example.test.",
			  NULL,
		  });
	memset(&n, 0, sizeof(n));
	assert_int_equal(resolve1_answer_names(r.wire, r.len, collect_name, &n), 1);
	assert_string_equal(n.text, "v6.example.test");
	release(&r);

	/* No PTR: none. */
	r = build("7.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NXDOMAIN, NULL);
	memset(&n, 0, sizeof(n));
	assert_int_equal(resolve1_answer_names(r.wire, r.len, collect_name, &n), 0);
	assert_int_equal(n.calls, 0);
	release(&r);
}

/* RFC 2317: a classless delegation answers the reverse name with a CNAME
 * into the customer's zone, whose PTR is the answer. */
static void test_names_rfc2317(void **state)
{
	(void)state;
	struct reply r = build("5.2.0.192.in-addr.arpa.", LDNS_RR_TYPE_PTR, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "5.2.0.192.in-addr.arpa. 300 IN CNAME 5.0/25.2.0.192.in-addr.arpa.",
				       "5.0/25.2.0.192.in-addr.arpa. 300 IN PTR customer.example.test.",
				       NULL,
			       });
	struct names n = { 0 };
	assert_int_equal(resolve1_answer_names(r.wire, r.len, collect_name, &n), 1);
	assert_string_equal(n.text, "customer.example.test");
	release(&r);
}

/* ---- ResolveRecord ------------------------------------------------------ */

/* MX: each record in wire form, parseable on its own, with no pointer in
 * it although the reply compressed every name. */
static void test_records_mx_uncompressed(void **state)
{
	(void)state;
	struct reply r = build("example.test.", LDNS_RR_TYPE_MX, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "example.test. 300 IN MX 10 mx1.example.test.",
				       "example.test. 300 IN MX 20 mx2.example.test.",
				       "example.test. 300 IN MX 30 mx3.example.test.",
				       NULL,
			       });
	/* The reply does compress: else the test would prove nothing. */
	assert_true(has_pointer(r.wire + 12, r.len - 12));

	struct records got = { 0 };
	assert_int_equal(resolve1_answer_records(r.wire, r.len, collect_record, &got), 3);
	assert_int_equal(got.calls, 3);
	static const uint8_t owner[] = { 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 4, 't', 'e', 's', 't', 0 };
	for (int i = 0; i < 3; i++) {
		assert_int_equal(got.rr_class[i], LDNS_RR_CLASS_IN);
		assert_int_equal(got.rr_type[i], LDNS_RR_TYPE_MX);
		if (has_pointer(got.wire[i], got.len[i]))
			fail_msg("record %d has a compression pointer", i);
		/* Owner, then type, class, TTL, length, preference, exchange. */
		assert_memory_equal(got.wire[i], owner, sizeof(owner));
		const uint8_t *p = got.wire[i] + sizeof(owner);
		assert_int_equal(wire_get16(p), LDNS_RR_TYPE_MX);
		assert_int_equal(wire_get16(p + 2), LDNS_RR_CLASS_IN);
		assert_int_equal(wire_get16(p + 8), got.len[i] - sizeof(owner) - 10);
		assert_int_equal(wire_get16(p + 10), 10 * (i + 1));
		/* The exchange, whole to the end of the record. */
		assert_int_equal(plain_name(got.wire[i], got.len[i], sizeof(owner) + 12), 18);
		assert_int_equal(got.len[i], sizeof(owner) + 12 + 18);
		char mx[32];
		snprintf(mx, sizeof(mx), "mx%d.example.test", i + 1);
		assert_string_equal(rdf_text(ldns_rr_rdf(got.rr[i], 1)), mx);
		assert_string_equal(rdf_text(ldns_rr_owner(got.rr[i])), "example.test");
		assert_int_equal(ldns_rr_ttl(got.rr[i]), 300);
	}
	records_free(&got);
	release(&r);
}

/* A question through a CNAME: the records of the chain's end, of the
 * type asked, and not the CNAME itself nor a stray. */
static void test_records_through_cname(void **state)
{
	(void)state;
	struct reply r = build("www.example.test.", LDNS_RR_TYPE_TXT, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "www.example.test. 300 IN CNAME web.example.test.",
				       "web.example.test. 300 IN TXT \"v=one\"",
				       "other.example.test. 300 IN TXT \"stray\"",
				       "web.example.test. 300 IN A 192.0.2.80",
				       "web.example.test. 300 IN TXT \"v=two\"",
				       NULL,
			       });
	struct records got = { 0 };
	assert_int_equal(resolve1_answer_records(r.wire, r.len, collect_record, &got), 2);
	assert_int_equal(got.calls, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(got.rr_type[i], LDNS_RR_TYPE_TXT);
		assert_string_equal(rdf_text(ldns_rr_owner(got.rr[i])), "web.example.test");
	}
	assert_string_equal(rdf_text(ldns_rr_rdf(got.rr[0], 0)), "\"v=one\"");
	assert_string_equal(rdf_text(ldns_rr_rdf(got.rr[1], 0)), "\"v=two\"");
	records_free(&got);
	release(&r);

	/* Nothing of the type: none, which the caller turns into an error. */
	r = build("www.example.test.", LDNS_RR_TYPE_SRV, LDNS_RCODE_NOERROR,
		  (const char *const[]){ "www.example.test. 300 IN CNAME web.example.test.", NULL });
	memset(&got, 0, sizeof(got));
	assert_int_equal(resolve1_answer_records(r.wire, r.len, collect_record, &got), 0);
	assert_int_equal(got.calls, 0);
	release(&r);
}

/* Asked for the CNAME itself: the CNAME, not where it leads. */
static void test_records_cname_asked(void **state)
{
	(void)state;
	struct reply r = build("www.example.test.", LDNS_RR_TYPE_CNAME, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "www.example.test. 300 IN CNAME web.example.test.",
				       "web.example.test. 300 IN CNAME final.example.test.",
				       NULL,
			       });
	struct records got = { 0 };
	assert_int_equal(resolve1_answer_records(r.wire, r.len, collect_record, &got), 1);
	assert_int_equal(got.rr_type[0], LDNS_RR_TYPE_CNAME);
	assert_int_equal(got.rr_class[0], LDNS_RR_CLASS_IN);
	assert_false(has_pointer(got.wire[0], got.len[0]));
	assert_string_equal(rdf_text(ldns_rr_owner(got.rr[0])), "www.example.test");
	assert_string_equal(rdf_text(ldns_rr_rdf(got.rr[0], 0)), "web.example.test");
	records_free(&got);
	release(&r);
}

/* ANY: every record of the asked name, each of its own type; another
 * name's record (a server's extra) is not the answer. */
static void test_records_any(void **state)
{
	(void)state;
	struct reply r = build("example.test.", LDNS_RR_TYPE_ANY, LDNS_RCODE_NOERROR,
			       (const char *const[]){
				       "example.test. 300 IN A 192.0.2.1",
				       "example.test. 300 IN AAAA 2001:db8::1",
				       "example.test. 300 IN MX 10 mx.example.test.",
				       "example.test. 300 IN TXT \"hello\"",
				       "example.test. 300 IN NS ns1.example.test.",
				       "other.test. 300 IN A 192.0.2.99",
				       NULL,
			       });
	struct records got = { 0 };
	assert_int_equal(resolve1_answer_records(r.wire, r.len, collect_record, &got), 5);
	static const uint16_t types[] = { LDNS_RR_TYPE_A, LDNS_RR_TYPE_AAAA, LDNS_RR_TYPE_MX,
					  LDNS_RR_TYPE_TXT, LDNS_RR_TYPE_NS };
	for (int i = 0; i < 5; i++) {
		assert_int_equal(got.rr_type[i], types[i]);
		assert_int_equal(ldns_rr_get_type(got.rr[i]), types[i]);
		assert_int_equal(got.rr_class[i], LDNS_RR_CLASS_IN);
		assert_int_equal(plain_name(got.wire[i], got.len[i], 0), 14); /* example.test */
	}
	/* The names in MX's and NS's data, whole too. */
	assert_int_equal(plain_name(got.wire[2], got.len[2], 14 + 10 + 2), 17);
	assert_int_equal(got.len[2], 14 + 10 + 2 + 17);
	assert_int_equal(plain_name(got.wire[4], got.len[4], 14 + 10), 18);
	assert_int_equal(got.len[4], 14 + 10 + 18);
	assert_string_equal(rdf_text(ldns_rr_rdf(got.rr[2], 1)), "mx.example.test");
	assert_string_equal(rdf_text(ldns_rr_rdf(got.rr[4], 0)), "ns1.example.test");
	records_free(&got);
	release(&r);
}

static void count_record(void *arg, uint16_t rr_class, uint16_t rr_type, const uint8_t *wire,
			 size_t len)
{
	(void)rr_class;
	(void)rr_type;
	(void)wire;
	(void)len;
	(*(int *)arg)++;
}

/* More records than one reply gives: RESOLVE1_MAX_ITEMS of them. */
static void test_records_cap(void **state)
{
	(void)state;
	enum { N = RESOLVE1_MAX_ITEMS + 20 };
	static char text[N][80];
	static const char *rrs[N + 1];
	for (int i = 0; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "big.example.test. 300 IN A 10.0.%d.%d", i / 256, i % 256);
		rrs[i] = text[i];
	}
	rrs[N] = NULL;
	struct reply r = build("big.example.test.", LDNS_RR_TYPE_A, LDNS_RCODE_NOERROR, rrs);
	int calls = 0;
	assert_int_equal(resolve1_answer_records(r.wire, r.len, count_record, &calls), RESOLVE1_MAX_ITEMS);
	assert_int_equal(calls, RESOLVE1_MAX_ITEMS);
	/* An A question has no PTR to give. */
	struct names none = { 0 };
	assert_int_equal(resolve1_answer_names(r.wire, r.len, collect_name, &none), 0);
	release(&r);
}

/* ---- errors ------------------------------------------------------------- */

static void test_error_mapping(void **state)
{
	(void)state;
	struct resolve1_error e;

	memset(&e, 0, sizeof(e));
	assert_false(resolve1_answer_error(WIRE_RCODE_NOERROR, false, true, "x.example", &e));
	/* Found, even with no server on some other route: no error. */
	assert_false(resolve1_answer_error(WIRE_RCODE_NOERROR, true, true, "x.example", &e));

	assert_true(resolve1_answer_error(WIRE_RCODE_NXDOMAIN, false, false, "x.example", &e));
	assert_string_equal(e.name, "org.freedesktop.resolve1.DNSError.NXDOMAIN");
	assert_string_equal(e.message, "'x.example' not found");

	assert_true(resolve1_answer_error(WIRE_RCODE_SERVFAIL, true, false, "x.example", &e));
	assert_string_equal(e.name, "org.freedesktop.resolve1.NoNameServers");
	assert_string_equal(e.name, RESOLVE1_ERROR_NO_NAME_SERVERS);
	assert_non_null(strstr(e.message, "name servers"));

	assert_true(resolve1_answer_error(WIRE_RCODE_SERVFAIL, false, false, "x.example", &e));
	assert_string_equal(e.name, "org.freedesktop.resolve1.DNSError.SERVFAIL");
	assert_non_null(strstr(e.message, "SERVFAIL"));
	assert_non_null(strstr(e.message, "'x.example'"));

	assert_true(resolve1_answer_error(WIRE_RCODE_REFUSED, false, false, "x.example", &e));
	assert_string_equal(e.name, "org.freedesktop.resolve1.DNSError.REFUSED");
	assert_non_null(strstr(e.message, "REFUSED"));

	/* An address as text, as ResolveAddress names it. */
	assert_true(resolve1_answer_error(WIRE_RCODE_NOERROR, false, false, "192.0.2.1", &e));
	assert_string_equal(e.name, "org.freedesktop.resolve1.NoSuchResourceRecord");
	assert_string_equal(e.name, RESOLVE1_ERROR_NO_SUCH_RR);
	assert_non_null(strstr(e.message, "'192.0.2.1'"));

	/* A refusal with records is still a failure. */
	assert_true(resolve1_answer_error(WIRE_RCODE_REFUSED, false, true, "x.example", &e));
	assert_string_equal(e.name, "org.freedesktop.resolve1.DNSError.REFUSED");

	/* An rcode with no name still makes a terminated name. */
	assert_true(resolve1_answer_error(200, false, false, "x.example", &e));
	assert_true(strncmp(e.name, RESOLVE1_ERROR_DNS, strlen(RESOLVE1_ERROR_DNS)) == 0);
	assert_true(strlen(e.name) < sizeof(e.name));

	/* The longest name fits the message whole. */
	char longest[RESOLVE1_NAME_TEXT_MAX];
	memset(longest, 'a', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_true(resolve1_answer_error(WIRE_RCODE_SERVFAIL, false, false, longest, &e));
	assert_non_null(strstr(e.message, longest));
	assert_non_null(strstr(e.message, "SERVFAIL"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_addresses_a_and_aaaa),
		cmocka_unit_test(test_addresses_append),
		cmocka_unit_test(test_addresses_cname_chain),
		cmocka_unit_test(test_addresses_cname_loop_and_long_chain),
		cmocka_unit_test(test_addresses_nxdomain_and_nodata),
		cmocka_unit_test(test_addresses_max),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_names_ptr),
		cmocka_unit_test(test_names_rfc2317),
		cmocka_unit_test(test_records_mx_uncompressed),
		cmocka_unit_test(test_records_through_cname),
		cmocka_unit_test(test_records_cname_asked),
		cmocka_unit_test(test_records_any),
		cmocka_unit_test(test_records_cap),
		cmocka_unit_test(test_error_mapping),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
