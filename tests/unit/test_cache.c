/* test_cache.c - unit tests for cache.c: keys, TTL decay, RFC 2308
 * negative caching, clamps, LRU and byte caps, flushes, serve-stale,
 * prefetch, shards and threads. Time is an explicit millisecond clock;
 * replies are read back with ldns so every TTL and record is checked as a
 * client would see it. */
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <errno.h>
#include <ldns/ldns.h>

#include "stubd/cache.h"
#include "stubd/wire.h"
#include "pkt.h"

#define SEC 1000ull
#define OUR_EDNS 1232
#define TCP_LIMIT 65535
#define CLASS_CH 3

/* ---- packet builder ------------------------------------------------- */


static size_t wire_name(uint8_t *out, const char *text)
{
	struct pkt p = { .len = 0 };
	name(&p, text);
	memcpy(out, p.b, p.len);
	return p.len;
}

/* A stored answer's start: a reply header (upstream ID, QR, RD, RA) and
 * the question, uncompressed at offset 12. */
static void answer_start(struct pkt *p, unsigned rcode, uint16_t extra_flags, const char *qname,
			 uint16_t qtype, uint16_t qclass, uint16_t an, uint16_t ns, uint16_t ar)
{
	header(p, 0xbeef, (uint16_t)(WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA | extra_flags | rcode),
	       1, an, ns, ar);
	name(p, qname);
	put16(p, qtype);
	put16(p, qclass);
}

static void rr_a(struct pkt *p, uint32_t ttl, uint32_t addr)
{
	put16(p, 0xc00c); /* pointer to the question name */
	put16(p, WIRE_TYPE_A); put16(p, WIRE_CLASS_IN); put32(p, ttl);
	put16(p, 4); put32(p, addr);
}

static void rr_a_named(struct pkt *p, const char *owner, uint32_t ttl, uint32_t addr)
{
	name(p, owner);
	put16(p, WIRE_TYPE_A); put16(p, WIRE_CLASS_IN); put32(p, ttl);
	put16(p, 4); put32(p, addr);
}

static void rr_ns(struct pkt *p, const char *owner, uint32_t ttl, const char *target)
{
	name(p, owner);
	put16(p, WIRE_TYPE_NS); put16(p, WIRE_CLASS_IN); put32(p, ttl);
	size_t rdlen_at = p->len;
	put16(p, 0);
	size_t start = p->len;
	name(p, target);
	wire_put16(p->b + rdlen_at, (uint16_t)(p->len - start));
}

static void rr_cname(struct pkt *p, uint32_t ttl, const char *target)
{
	put16(p, 0xc00c);
	put16(p, WIRE_TYPE_CNAME); put16(p, WIRE_CLASS_IN); put32(p, ttl);
	size_t rdlen_at = p->len;
	put16(p, 0);
	size_t start = p->len;
	name(p, target);
	wire_put16(p->b + rdlen_at, (uint16_t)(p->len - start));
}

static void rr_soa(struct pkt *p, const char *owner, uint32_t ttl, uint32_t minimum)
{
	name(p, owner);
	put16(p, WIRE_TYPE_SOA); put16(p, WIRE_CLASS_IN); put32(p, ttl);
	size_t rdlen_at = p->len;
	put16(p, 0);
	size_t start = p->len;
	name(p, "ns.example.test");
	name(p, "hostmaster.example.test");
	put32(p, 2024010101); /* serial */
	put32(p, 7200);       /* refresh */
	put32(p, 900);        /* retry */
	put32(p, 1209600);    /* expire */
	put32(p, minimum);
	wire_put16(p->b + rdlen_at, (uint16_t)(p->len - start));
}

/* The usual positive answer: one A record. */
static void simple_answer(struct pkt *p, const char *qname, uint32_t ttl, uint32_t addr)
{
	answer_start(p, WIRE_RCODE_NOERROR, 0, qname, WIRE_TYPE_A, WIRE_CLASS_IN, 1, 0, 0);
	rr_a(p, ttl, addr);
}

/* ---- queries --------------------------------------------------------- */

struct qopt {
	uint16_t id;
	uint16_t qtype;
	uint16_t qclass;
	bool edns;
	bool dnssec_ok;
	bool cd;
	uint16_t udp_size;
};

static void make_query_opt(struct wire_query *q, const char *qname, const struct qopt *o)
{
	struct pkt p;
	unsigned rcode;

	header(&p, o->id, (uint16_t)(WIRE_FLAG_RD | (o->cd ? WIRE_FLAG_CD : 0)), 1, 0, 0,
	       o->edns ? 1 : 0);
	name(&p, qname);
	put16(&p, o->qtype ? o->qtype : WIRE_TYPE_A);
	put16(&p, o->qclass ? o->qclass : WIRE_CLASS_IN);
	if (o->edns) {
		put8(&p, 0);
		put16(&p, WIRE_TYPE_OPT);
		put16(&p, o->udp_size ? o->udp_size : 4096);
		put8(&p, 0);
		put8(&p, 0);
		put16(&p, o->dnssec_ok ? 0x8000 : 0);
		put16(&p, 0);
	}
	assert_int_equal(wire_parse_query(p.b, p.len, q, &rcode), WIRE_VERDICT_RESOLVE);
}

static void make_query(struct wire_query *q, const char *qname, uint16_t qtype)
{
	struct qopt o = { .id = 0x1234, .qtype = qtype };
	make_query_opt(q, qname, &o);
}

/* ---- cache helpers --------------------------------------------------- */

static struct cache_config base_config(void)
{
	struct cache_config cfg = {
		.max_entries = 1000,
		.max_bytes = 1 << 20,
		.min_ttl = 0,
		.max_ttl = 86400,
		.max_negative_ttl = 3600,
		.servfail_ttl = 5,
		.stale_max_age = 0,
	};
	return cfg;
}

static uint8_t out[WIRE_MSG_MAX];

/* The counters as of now (cache_get_stats() fills a snapshot). */
static struct cache_stats stats(struct cache *c)
{
	struct cache_stats st;
	cache_get_stats(c, &st);
	return st;
}

static enum cache_result lookup(struct cache *c, const struct wire_query *q, uint64_t now_ms,
				size_t *len)
{
	return cache_lookup(c, q, now_ms, out, sizeof(out), TCP_LIMIT, OUR_EDNS, len, NULL);
}

static enum cache_result lookup_stale(struct cache *c, const struct wire_query *q,
				      uint64_t now_ms, size_t *len)
{
	return cache_lookup_stale(c, q, now_ms, out, sizeof(out), TCP_LIMIT, OUR_EDNS, len, NULL);
}

static ldns_pkt *to_ldns(const uint8_t *b, size_t len)
{
	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, b, len), LDNS_STATUS_OK);
	return pkt;
}

static ldns_rr *section_rr(ldns_rr_list *list, size_t i)
{
	assert_true(i < ldns_rr_list_rr_count(list));
	return ldns_rr_list_rr(list, i);
}

static uint32_t answer_ttl(ldns_pkt *pkt, size_t i)
{
	return ldns_rr_ttl(section_rr(ldns_pkt_answer(pkt), i));
}

static uint32_t authority_ttl(ldns_pkt *pkt, size_t i)
{
	return ldns_rr_ttl(section_rr(ldns_pkt_authority(pkt), i));
}

static uint32_t additional_ttl(ldns_pkt *pkt, size_t i)
{
	return ldns_rr_ttl(section_rr(ldns_pkt_additional(pkt), i));
}

static uint32_t answer_addr(ldns_pkt *pkt, size_t i)
{
	ldns_rr *rr = section_rr(ldns_pkt_answer(pkt), i);
	assert_int_equal(ldns_rr_get_type(rr), LDNS_RR_TYPE_A);
	ldns_rdf *rdf = ldns_rr_rdf(rr, 0);
	assert_int_equal(ldns_rdf_size(rdf), 4);
	return wire_get32(ldns_rdf_data(rdf));
}

/* Looks q up at now_ms, expects a fresh hit, and returns the TTL of the
 * first answer record. */
static uint32_t hit_ttl(struct cache *c, const struct wire_query *q, uint64_t now_ms)
{
	size_t len;
	enum cache_result r = lookup(c, q, now_ms, &len);
	assert_true(r == CACHE_HIT || r == CACHE_HIT_PREFETCH);
	ldns_pkt *pkt = to_ldns(out, len);
	uint32_t ttl = answer_ttl(pkt, 0);
	ldns_pkt_free(pkt);
	return ttl;
}

static void expect_miss(struct cache *c, const struct wire_query *q, uint64_t now_ms)
{
	size_t len = 99;
	assert_int_equal(lookup(c, q, now_ms, &len), CACHE_MISS);
	assert_int_equal(len, 0);
}

/* Stores a one-record A answer for qname. */
static int store_a(struct cache *c, const char *qname, uint32_t ttl, uint32_t addr,
		   uint64_t now_ms)
{
	struct wire_query q;
	struct pkt p;
	make_query(&q, qname, WIRE_TYPE_A);
	simple_answer(&p, qname, ttl, addr);
	return cache_store(c, &q, p.b, p.len, now_ms);
}

/* ---- basics ---------------------------------------------------------- */

static void test_miss_then_hit(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;
	size_t len;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	expect_miss(c, &q, 0);
	assert_int_equal(stats(c).misses, 1);

	simple_answer(&p, "www.example.test", 300, 0xc0000201);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(lookup(c, &q, 0, &len), CACHE_HIT);
	assert_int_equal(len, p.len); /* no EDNS asked, none added */

	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_id(pkt), 0x1234);
	assert_true(ldns_pkt_qr(pkt));
	assert_true(ldns_pkt_rd(pkt));
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 1);
	assert_int_equal(answer_ttl(pkt, 0), 300);
	assert_int_equal(answer_addr(pkt, 0), 0xc0000201);
	ldns_pkt_free(pkt);

	assert_int_equal(stats(c).hits, 1);
	assert_int_equal(stats(c).misses, 1);
	assert_int_equal(stats(c).inserts, 1);
	assert_int_equal(stats(c).entries, 1);
	assert_true(stats(c).bytes > p.len);
	cache_free(c);
	cache_free(NULL);
}

static void test_client_fields(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query store_q, q1, q2;
	struct pkt p;
	size_t len;

	make_query(&store_q, "www.example.test", WIRE_TYPE_A);
	simple_answer(&p, "www.example.test", 300, 0x0a000001);
	assert_int_equal(cache_store(c, &store_q, p.b, p.len, 0), 0);

	struct qopt o1 = { .id = 0x1111 };
	make_query_opt(&q1, "WWW.example.TEST", &o1);
	struct qopt o2 = { .id = 0x2222, .edns = true, .udp_size = 4096 };
	make_query_opt(&q2, "www.EXAMPLE.test", &o2);

	assert_int_equal(lookup(c, &q1, 1000, &len), CACHE_HIT);
	assert_int_equal(len, p.len);
	assert_int_equal(wire_get16(out), 0x1111);
	assert_memory_equal(out + WIRE_HEADER_LEN, "\3WWW\7example\4TEST\0", 18);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_false(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_arcount(pkt), 0);
	ldns_pkt_free(pkt);

	assert_int_equal(lookup(c, &q2, 1000, &len), CACHE_HIT);
	assert_int_equal(len, p.len + WIRE_OPT_LEN);
	assert_int_equal(wire_get16(out), 0x2222);
	assert_memory_equal(out + WIRE_HEADER_LEN, "\3www\7EXAMPLE\4test\0", 18);
	pkt = to_ldns(out, len);
	assert_true(ldns_pkt_edns(pkt));
	assert_int_equal(ldns_pkt_edns_udp_size(pkt), OUR_EDNS);
	assert_int_equal(answer_addr(pkt, 0), 0x0a000001);
	assert_int_equal(answer_ttl(pkt, 0), 299);
	ldns_pkt_free(pkt);
	cache_free(c);
}

static void test_ttl_decay(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;
	size_t len;

	make_query(&q, "multi.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "multi.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     2, 1, 1);
	rr_a(&p, 300, 1);
	rr_a(&p, 500, 2);
	rr_ns(&p, "example.test", 7200, "ns.example.test");
	rr_a_named(&p, "ns.example.test", 250, 3);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);

	/* 100.5 s old: every TTL loses 100 (whole seconds, age rounded down). */
	assert_int_equal(lookup(c, &q, 100500, &len), CACHE_HIT);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(answer_ttl(pkt, 0), 200);
	assert_int_equal(answer_ttl(pkt, 1), 400);
	assert_int_equal(authority_ttl(pkt, 0), 7100);
	assert_int_equal(additional_ttl(pkt, 0), 150);
	ldns_pkt_free(pkt);

	/* The glue runs out before the entry does: it stays at 0. */
	assert_int_equal(lookup(c, &q, 299999, &len), CACHE_HIT_PREFETCH);
	pkt = to_ldns(out, len);
	assert_int_equal(answer_ttl(pkt, 0), 1);
	assert_int_equal(answer_ttl(pkt, 1), 201);
	assert_int_equal(additional_ttl(pkt, 0), 0);
	ldns_pkt_free(pkt);

	/* Expired at exactly its lifetime (the smallest answer TTL). */
	expect_miss(c, &q, 300000);
	cache_free(c);
}

/* The age a hit reports (stubctl query's "cache, N s old") is the hit's
 * own entry's, in whole seconds; a miss reports 0. */
static void test_hit_age(void **state)
{
	struct cache_config cfg = base_config();
	cfg.stale_max_age = 3600;
	struct cache *c = cache_new(&cfg);
	struct wire_query old_q, new_q;
	size_t len;
	uint32_t age = 99;

	make_query(&old_q, "old.test", WIRE_TYPE_A);
	make_query(&new_q, "new.test", WIRE_TYPE_A);
	assert_int_equal(store_a(c, "old.test", 300, 1, 1000), 0);
	assert_int_equal(store_a(c, "new.test", 300, 2, 40000), 0);
	assert_int_equal(cache_lookup(c, &old_q, 42999, out, sizeof(out), TCP_LIMIT, OUR_EDNS, &len,
				      &age),
			 CACHE_HIT);
	assert_int_equal(age, 41);
	assert_int_equal(cache_lookup(c, &new_q, 42999, out, sizeof(out), TCP_LIMIT, OUR_EDNS, &len,
				      &age),
			 CACHE_HIT);
	assert_int_equal(age, 2);

	/* Stale: the age since it was stored, too. */
	assert_int_equal(cache_lookup_stale(c, &old_q, 400000, out, sizeof(out), TCP_LIMIT,
					    OUR_EDNS, &len, &age),
			 CACHE_STALE);
	assert_int_equal(age, 399);
	assert_int_equal(cache_lookup(c, &old_q, 400000, out, sizeof(out), TCP_LIMIT, OUR_EDNS, &len,
				      &age),
			 CACHE_MISS);
	assert_int_equal(age, 0);
	cache_free(c);
}

static void test_min_ttl_of_answer(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "www.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     3, 1, 0);
	rr_a(&p, 600, 1);
	rr_a(&p, 120, 2);
	rr_a(&p, 900, 3);
	rr_ns(&p, "example.test", 30, "ns.example.test"); /* authority does not count */
	assert_int_equal(cache_store(c, &q, p.b, p.len, 5000), 0);

	assert_int_equal(hit_ttl(c, &q, 5000 + 119999), 600 - 119);
	expect_miss(c, &q, 5000 + 120000);
	cache_free(c);
}

/* ---- clamps ---------------------------------------------------------- */

static void test_clamp_min_ttl(void **state)
{
	struct cache_config cfg = base_config();
	cfg.min_ttl = 60;
	struct cache *c = cache_new(&cfg);
	struct wire_query q;

	make_query(&q, "short.example.test", WIRE_TYPE_A);
	assert_int_equal(store_a(c, "short.example.test", 5, 1, 0), 0);
	assert_int_equal(hit_ttl(c, &q, 0), 60);
	assert_int_equal(hit_ttl(c, &q, 59999), 1);
	expect_miss(c, &q, 60000);

	/* A TTL of 0 is raised too; without min_ttl it is not stored. */
	assert_int_equal(store_a(c, "short.example.test", 0, 1, 0), 0);
	assert_int_equal(hit_ttl(c, &q, 0), 60);
	cache_free(c);

	cfg.min_ttl = 0;
	c = cache_new(&cfg);
	assert_int_equal(store_a(c, "short.example.test", 0, 1, 0), -ENOSPC);
	/* RFC 2181 §8: a TTL with the top bit set means 0. */
	assert_int_equal(store_a(c, "short.example.test", 0x80000000u, 1, 0), -ENOSPC);
	expect_miss(c, &q, 0);
	assert_int_equal(stats(c).inserts, 0);
	cache_free(c);
}

static void test_clamp_max_ttl(void **state)
{
	struct cache_config cfg = base_config();
	cfg.max_ttl = 100;
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;
	size_t len;

	make_query(&q, "long.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "long.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     1, 1, 1);
	rr_a(&p, 300, 1);
	rr_ns(&p, "example.test", 86400, "ns.example.test");
	rr_a_named(&p, "ns.example.test", 50, 2);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);

	assert_int_equal(lookup(c, &q, 10000, &len), CACHE_HIT);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(answer_ttl(pkt, 0), 90);
	assert_int_equal(authority_ttl(pkt, 0), 90);   /* capped at max_ttl too */
	assert_int_equal(additional_ttl(pkt, 0), 40);  /* below the cap: its own */
	ldns_pkt_free(pkt);
	assert_int_equal(hit_ttl(c, &q, 99999), 1);
	expect_miss(c, &q, 100000);
	cache_free(c);
}

static void nxdomain_answer(struct pkt *p, const char *qname, uint32_t soa_ttl, uint32_t minimum)
{
	answer_start(p, WIRE_RCODE_NXDOMAIN, 0, qname, WIRE_TYPE_A, WIRE_CLASS_IN, 0, 1, 0);
	rr_soa(p, "example.test", soa_ttl, minimum);
}

static uint32_t negative_soa_ttl(struct cache *c, const struct wire_query *q, uint64_t now_ms,
				 int rcode)
{
	size_t len;
	enum cache_result r = lookup(c, q, now_ms, &len);
	assert_true(r == CACHE_HIT || r == CACHE_HIT_PREFETCH);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), rcode);
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_rr *soa = section_rr(ldns_pkt_authority(pkt), 0);
	assert_int_equal(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA);
	uint32_t ttl = ldns_rr_ttl(soa);
	ldns_pkt_free(pkt);
	return ttl;
}

static void test_clamp_negative(void **state)
{
	struct cache_config cfg = base_config();
	cfg.max_negative_ttl = 30;
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;

	make_query(&q, "nx.example.test", WIRE_TYPE_A);
	nxdomain_answer(&p, "nx.example.test", 3600, 600);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(negative_soa_ttl(c, &q, 0, LDNS_RCODE_NXDOMAIN), 30);
	assert_int_equal(negative_soa_ttl(c, &q, 29999, LDNS_RCODE_NXDOMAIN), 1);
	expect_miss(c, &q, 30000);
	cache_free(c);

	/* min_ttl applies to negative answers as well. */
	cfg.min_ttl = 120;
	c = cache_new(&cfg);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(negative_soa_ttl(c, &q, 0, LDNS_RCODE_NXDOMAIN), 120);
	expect_miss(c, &q, 120000);
	cache_free(c);
}

static uint32_t hit_addr(struct cache *c, const struct wire_query *q, uint64_t now_ms);

/* ---- negative caching (RFC 2308) ------------------------------------ */

static void test_nxdomain_soa(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;

	make_query(&q, "nx.example.test", WIRE_TYPE_A);
	nxdomain_answer(&p, "nx.example.test", 3600, 60);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	/* RFC 2308 §3/§5: min(SOA TTL, MINIMUM), and the SOA says so. */
	assert_int_equal(negative_soa_ttl(c, &q, 0, LDNS_RCODE_NXDOMAIN), 60);
	assert_int_equal(negative_soa_ttl(c, &q, 10500, LDNS_RCODE_NXDOMAIN), 50);
	expect_miss(c, &q, 60000);

	/* The SOA TTL is the smaller one. */
	nxdomain_answer(&p, "nx.example.test", 40, 600);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 100000), 0);
	assert_int_equal(negative_soa_ttl(c, &q, 100000, LDNS_RCODE_NXDOMAIN), 40);
	expect_miss(c, &q, 140000);
	cache_free(c);
}

static void test_nxdomain_after_cname(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;
	size_t len;

	/* The CNAME lives 20 s, the negative part 60 s: the entry 20 s. */
	make_query(&q, "alias.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_NXDOMAIN, 0, "alias.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     1, 1, 0);
	rr_cname(&p, 20, "gone.example.test");
	rr_soa(&p, "example.test", 3600, 60);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(lookup(c, &q, 0, &len), CACHE_HIT);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_NXDOMAIN);
	assert_int_equal(answer_ttl(pkt, 0), 20);
	assert_int_equal(authority_ttl(pkt, 0), 20);
	ldns_pkt_free(pkt);
	expect_miss(c, &q, 20000);
	cache_free(c);
}

static void test_nodata(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;

	make_query(&q, "v4only.example.test", WIRE_TYPE_AAAA);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "v4only.example.test", WIRE_TYPE_AAAA,
		     WIRE_CLASS_IN, 0, 1, 0);
	rr_soa(&p, "example.test", 120, 300);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(negative_soa_ttl(c, &q, 20000, LDNS_RCODE_NOERROR), 100);
	expect_miss(c, &q, 120000);
	cache_free(c);
}

static void test_negative_without_soa(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;

	make_query(&q, "nx.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_NXDOMAIN, 0, "nx.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     0, 0, 0);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -ENOSPC);
	expect_miss(c, &q, 0);

	/* NODATA with only an NS in authority (a referral): not stored. */
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "nx.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     0, 1, 0);
	rr_ns(&p, "example.test", 3600, "ns.example.test");
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -ENOSPC);
	expect_miss(c, &q, 0);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).inserts, 0);
	cache_free(c);
}

static void test_servfail(void **state)
{
	struct cache_config cfg = base_config();
	cfg.servfail_ttl = 5;
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;
	size_t len;

	make_query(&q, "broken.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_SERVFAIL, 0, "broken.example.test", WIRE_TYPE_A,
		     WIRE_CLASS_IN, 0, 0, 0);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(lookup(c, &q, 4999, &len), CACHE_HIT);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(pkt);
	expect_miss(c, &q, 5000);
	cache_free(c);

	/* A failure does not replace an answer that can still be served:
	 * not while fresh, not within the serve-stale window; after it, yes. */
	cfg.stale_max_age = 100;
	c = cache_new(&cfg);
	assert_int_equal(store_a(c, "broken.example.test", 60, 1, 0), 0);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 10000), -ENOSPC);
	assert_int_equal(hit_addr(c, &q, 10000), 1);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 159999), -ENOSPC);
	assert_int_equal(lookup_stale(c, &q, 159999, &len), CACHE_STALE);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 160000), 0);
	assert_int_equal(lookup(c, &q, 160000, &len), CACHE_HIT);
	pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_get_rcode(pkt), LDNS_RCODE_SERVFAIL);
	ldns_pkt_free(pkt);
	/* A failure replaces a failure; an answer replaces a failure. */
	assert_int_equal(cache_store(c, &q, p.b, p.len, 161000), 0);
	assert_int_equal(store_a(c, "broken.example.test", 60, 2, 162000), 0);
	assert_int_equal(hit_addr(c, &q, 162000), 2);
	assert_int_equal(stats(c).entries, 1);
	cache_free(c);

	/* cache-min-ttl is for answers: a failure stays remembered for
	 * servfail_ttl, not for an hour (RFC 9520 §3.2: at most 5 minutes). */
	cfg.stale_max_age = 0;
	cfg.min_ttl = 3600;
	c = cache_new(&cfg);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(lookup(c, &q, 4999, &len), CACHE_HIT);
	expect_miss(c, &q, 5000);
	cache_free(c);

	/* servfail_ttl 0 turns it off, whatever min_ttl says. */
	cfg.stale_max_age = 0;
	cfg.servfail_ttl = 0;
	cfg.min_ttl = 60;
	c = cache_new(&cfg);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -ENOSPC);
	expect_miss(c, &q, 0);
	cache_free(c);
}

static void test_not_cached(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	/* TC: a partial answer. */
	answer_start(&p, WIRE_RCODE_NOERROR, WIRE_FLAG_TC, "www.example.test", WIRE_TYPE_A,
		     WIRE_CLASS_IN, 1, 0, 0);
	rr_a(&p, 300, 1);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -ENOSPC);
	expect_miss(c, &q, 0);

	/* REFUSED and FORMERR speak of the server, not the name. */
	static const unsigned rcodes[] = { WIRE_RCODE_REFUSED, WIRE_RCODE_FORMERR,
					   WIRE_RCODE_NOTIMP };
	for (size_t i = 0; i < sizeof(rcodes) / sizeof(rcodes[0]); i++) {
		answer_start(&p, rcodes[i], 0, "www.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
			     0, 1, 0);
		rr_soa(&p, "example.test", 300, 300);
		assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -ENOSPC);
		expect_miss(c, &q, 0);
	}
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).inserts, 0);
	cache_free(c);
}

/* ---- keys ------------------------------------------------------------ */

static uint32_t hit_addr(struct cache *c, const struct wire_query *q, uint64_t now_ms)
{
	size_t len;
	assert_int_equal(lookup(c, q, now_ms, &len), CACHE_HIT);
	ldns_pkt *pkt = to_ldns(out, len);
	uint32_t addr = answer_addr(pkt, 0);
	ldns_pkt_free(pkt);
	return addr;
}

static void test_do_cd_keys(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query plain, with_do, with_cd, both;
	struct pkt p;

	make_query(&plain, "www.example.test", WIRE_TYPE_A);
	struct qopt o_do = { .id = 1, .edns = true, .dnssec_ok = true };
	make_query_opt(&with_do, "www.example.test", &o_do);
	struct qopt o_cd = { .id = 2, .cd = true };
	make_query_opt(&with_cd, "www.example.test", &o_cd);
	struct qopt o_both = { .id = 3, .edns = true, .dnssec_ok = true, .cd = true };
	make_query_opt(&both, "www.example.test", &o_both);

	simple_answer(&p, "www.example.test", 300, 1);
	assert_int_equal(cache_store(c, &plain, p.b, p.len, 0), 0);
	expect_miss(c, &with_do, 0);
	expect_miss(c, &with_cd, 0);
	expect_miss(c, &both, 0);

	simple_answer(&p, "www.example.test", 300, 2);
	assert_int_equal(cache_store(c, &with_do, p.b, p.len, 0), 0);
	simple_answer(&p, "www.example.test", 300, 3);
	assert_int_equal(cache_store(c, &with_cd, p.b, p.len, 0), 0);
	simple_answer(&p, "www.example.test", 300, 4);
	assert_int_equal(cache_store(c, &both, p.b, p.len, 0), 0);
	assert_int_equal(stats(c).entries, 4);
	assert_int_equal(hit_addr(c, &plain, 0), 1);
	assert_int_equal(hit_addr(c, &with_do, 0), 2);
	assert_int_equal(hit_addr(c, &with_cd, 0), 3);
	assert_int_equal(hit_addr(c, &both, 0), 4);

	/* EDNS without DO is the same key as no EDNS. */
	struct wire_query edns_plain;
	struct qopt o_edns = { .id = 5, .edns = true };
	make_query_opt(&edns_plain, "www.example.test", &o_edns);
	assert_int_equal(hit_addr(c, &edns_plain, 0), 1);
	cache_free(c);
}

static void test_type_class_keys(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query qa, qaaaa, qch;
	struct pkt p;

	make_query(&qa, "www.example.test", WIRE_TYPE_A);
	make_query(&qaaaa, "www.example.test", WIRE_TYPE_AAAA);
	struct qopt o = { .id = 9, .qclass = CLASS_CH };
	make_query_opt(&qch, "www.example.test", &o);

	assert_int_equal(store_a(c, "www.example.test", 300, 1, 0), 0);
	expect_miss(c, &qaaaa, 0);
	expect_miss(c, &qch, 0);

	answer_start(&p, WIRE_RCODE_NOERROR, 0, "www.example.test", WIRE_TYPE_A, CLASS_CH,
		     1, 0, 0);
	rr_a(&p, 300, 7);
	/* An answer for another question than q's is refused. */
	assert_int_equal(cache_store(c, &qa, p.b, p.len, 0), -EBADMSG);
	assert_int_equal(cache_store(c, &qch, p.b, p.len, 0), 0);
	assert_int_equal(stats(c).entries, 2);
	assert_int_equal(hit_addr(c, &qa, 0), 1);
	assert_int_equal(hit_addr(c, &qch, 0), 7);
	cache_free(c);
}

static void test_case_insensitive_key(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query stored_q, q;
	struct pkt p;
	size_t len;

	/* The upstream's case differs from the asker's; both differ from the
	 * next client's. */
	make_query(&stored_q, "WWW.Example.TEST", WIRE_TYPE_A);
	simple_answer(&p, "www.EXAMPLE.test", 300, 1);
	assert_int_equal(cache_store(c, &stored_q, p.b, p.len, 0), 0);

	make_query(&q, "wWw.eXample.tesT", WIRE_TYPE_A);
	assert_int_equal(lookup(c, &q, 0, &len), CACHE_HIT);
	assert_memory_equal(out + WIRE_HEADER_LEN, "\3wWw\7eXample\4tesT\0", 18);

	/* Different names of the same length are different keys. */
	struct wire_query other;
	make_query(&other, "wWw.eXample.tesU", WIRE_TYPE_A);
	expect_miss(c, &other, 0);
	make_query(&other, "www.example.test.longer.than.eight.bytes", WIRE_TYPE_A);
	expect_miss(c, &other, 0);

	/* Short names (1 to 8 bytes in wire form) and the root. */
	static const char *const shorts[] = { "a", "b", "ab", "ba", "abc", "abd", "abcd", "abce",
					      "abcdef", "abcdeg", "x.y", "x.z" };
	for (uint32_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++)
		assert_int_equal(store_a(c, shorts[i], 300, i, 0), 0);
	for (uint32_t i = 0; i < sizeof(shorts) / sizeof(shorts[0]); i++) {
		char upper[16];
		for (size_t k = 0; k <= strlen(shorts[i]); k++)
			upper[k] = (char)(shorts[i][k] >= 'a' ? shorts[i][k] - 32 : shorts[i][k]);
		make_query(&other, upper, WIRE_TYPE_A);
		assert_int_equal(hit_addr(c, &other, 0), i);
	}
	struct wire_query root;
	make_query(&root, "", WIRE_TYPE_NS);
	assert_int_equal(root.qname_len, 1);
	expect_miss(c, &root, 0);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "", WIRE_TYPE_NS, WIRE_CLASS_IN, 1, 0, 0);
	rr_ns(&p, "", 518400, "a.root-servers.net");
	assert_int_equal(cache_store(c, &root, p.b, p.len, 0), 0);
	assert_int_equal(lookup(c, &root, 0, &len), CACHE_HIT);
	cache_free(c);
}

/* ---- LRU, caps, counters --------------------------------------------- */

static void test_lru_order(void **state)
{
	struct cache_config cfg = base_config();
	cfg.max_entries = 3;
	struct cache *c = cache_new(&cfg);
	struct wire_query q1, q2, q3, q4;

	make_query(&q1, "one.test", WIRE_TYPE_A);
	make_query(&q2, "two.test", WIRE_TYPE_A);
	make_query(&q3, "three.test", WIRE_TYPE_A);
	make_query(&q4, "four.test", WIRE_TYPE_A);
	assert_int_equal(store_a(c, "one.test", 300, 1, 0), 0);
	assert_int_equal(store_a(c, "two.test", 300, 2, 1000), 0);
	assert_int_equal(store_a(c, "three.test", 300, 3, 2000), 0);
	assert_int_equal(stats(c).entries, 3);

	assert_int_equal(hit_addr(c, &q1, 3000), 1); /* the oldest, touched */
	assert_int_equal(store_a(c, "four.test", 300, 4, 4000), 0);

	assert_int_equal(stats(c).entries, 3);
	assert_int_equal(stats(c).evictions, 1);
	assert_int_equal(stats(c).expirations, 0);
	expect_miss(c, &q2, 5000);
	assert_int_equal(hit_addr(c, &q1, 5000), 1);
	assert_int_equal(hit_addr(c, &q3, 5000), 3);
	assert_int_equal(hit_addr(c, &q4, 5000), 4);
	cache_free(c);
}

static void test_eviction_counters(void **state)
{
	struct cache_config cfg = base_config();
	cfg.max_entries = 2;
	struct cache *c = cache_new(&cfg);
	struct wire_query q;

	assert_int_equal(store_a(c, "short.test", 10, 1, 0), 0);
	assert_int_equal(store_a(c, "long.test", 300, 2, 0), 0);
	/* The tail (short.test) ran out at 10 s: an expiration. */
	assert_int_equal(store_a(c, "third.test", 300, 3, 20000), 0);
	assert_int_equal(stats(c).expirations, 1);
	assert_int_equal(stats(c).evictions, 0);
	/* The tail (long.test) is fresh: an eviction. */
	assert_int_equal(store_a(c, "fourth.test", 300, 4, 21000), 0);
	assert_int_equal(stats(c).expirations, 1);
	assert_int_equal(stats(c).evictions, 1);

	/* A lookup past the stale window frees the entry. */
	make_query(&q, "third.test", WIRE_TYPE_A);
	expect_miss(c, &q, 20000 + 300000);
	assert_int_equal(stats(c).expirations, 2);
	assert_int_equal(stats(c).entries, 1);
	assert_int_equal(stats(c).inserts, 4);
	cache_free(c);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

static void random_name(char *buf, size_t size)
{
	static const char alphabet[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
	size_t n = 10 + rng() % 20; /* long enough that names do not repeat */
	for (size_t i = 0; i < n; i++)
		buf[i] = alphabet[rng() % (sizeof(alphabet) - 1)];
	snprintf(buf + n, size - n, ".flood.test");
}

static void test_byte_cap(void **state)
{
	struct cache_config cfg = base_config();
	cfg.max_entries = 1000000;
	cfg.max_bytes = 1 << 20;
	struct cache *c = cache_new(&cfg);
	enum { FLOOD = 100000, RECENT = 200 };
	static char recent[RECENT][64];
	uint64_t max_seen = 0;

	for (unsigned i = 0; i < FLOOD; i++) {
		char qname[64];
		random_name(qname, sizeof(qname));
		assert_int_equal(store_a(c, qname, 300 + (unsigned)(rng() % 3000), i, i), 0);
		if (stats(c).bytes > max_seen)
			max_seen = stats(c).bytes;
		if (i >= FLOOD - RECENT)
			memcpy(recent[i - (FLOOD - RECENT)], qname, sizeof(qname));
	}
	assert_true(max_seen <= cfg.max_bytes);
	assert_true(max_seen > cfg.max_bytes - 1000); /* it did fill up */
	assert_true(stats(c).entries > 5000);
	assert_int_equal(stats(c).inserts, FLOOD);
	assert_int_equal(stats(c).evictions + stats(c).entries, FLOOD);

	for (unsigned i = 0; i < RECENT; i++) {
		struct wire_query q;
		make_query(&q, recent[i], WIRE_TYPE_A);
		assert_int_equal(hit_addr(c, &q, FLOOD), FLOOD - RECENT + i);
	}

	/* An answer larger than the whole cache is not stored. */
	cfg.max_bytes = 100;
	cache_configure(c, &cfg);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).bytes, 0);
	assert_int_equal(store_a(c, "big.test", 300, 1, 0), -ENOSPC);
	assert_int_equal(stats(c).entries, 0);
	cache_free(c);
}

static void test_replace(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	assert_int_equal(store_a(c, "www.example.test", 300, 1, 0), 0);
	uint64_t bytes = stats(c).bytes;
	assert_int_equal(store_a(c, "WWW.example.test", 60, 2, 10000), 0);

	assert_int_equal(stats(c).entries, 1);
	assert_int_equal(stats(c).bytes, bytes);
	assert_int_equal(stats(c).inserts, 2);
	assert_int_equal(stats(c).evictions, 0);
	assert_int_equal(hit_addr(c, &q, 10000), 2);
	assert_int_equal(hit_ttl(c, &q, 10000), 60);
	expect_miss(c, &q, 70000);
	cache_free(c);
}

static void test_max_entries_zero(void **state)
{
	struct cache_config cfg = base_config();
	cfg.max_entries = 0;
	struct cache *c = cache_new(&cfg);
	struct wire_query q;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	assert_int_equal(store_a(c, "www.example.test", 300, 1, 0), -ENOSPC);
	expect_miss(c, &q, 0);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).bytes, 0);
	cache_free(c);
}

static void test_configure_shrinks(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	char qname[32];

	for (unsigned i = 0; i < 10; i++) {
		snprintf(qname, sizeof(qname), "n%u.test", i);
		assert_int_equal(store_a(c, qname, 300, i, i * 1000), 0);
	}
	cfg.max_entries = 4;
	cache_configure(c, &cfg);
	assert_int_equal(stats(c).entries, 4);
	assert_int_equal(stats(c).evictions, 6);
	for (unsigned i = 0; i < 10; i++) {
		struct wire_query q;
		snprintf(qname, sizeof(qname), "n%u.test", i);
		make_query(&q, qname, WIRE_TYPE_A);
		if (i < 6)
			expect_miss(c, &q, 20000);
		else
			assert_int_equal(hit_addr(c, &q, 20000), i);
	}

	/* Bytes too: half the bytes keeps at most half the entries. */
	cfg.max_bytes = (size_t)stats(c).bytes / 2;
	cache_configure(c, &cfg);
	assert_true(stats(c).bytes <= cfg.max_bytes);
	assert_int_equal(stats(c).entries, 2);

	/* Growing again lets new entries in. */
	cfg = base_config();
	cache_configure(c, &cfg);
	for (unsigned i = 0; i < 10; i++) {
		snprintf(qname, sizeof(qname), "m%u.test", i);
		assert_int_equal(store_a(c, qname, 300, i, 30000), 0);
	}
	assert_int_equal(stats(c).entries, 12);
	cache_free(c);
}

/* ---- flushes and walk -------------------------------------------------- */

/* When the servers a name goes to change (split DNS), its answers stop
 * being fresh but stay for serve-stale (RFC 8767): the zone's and only
 * the zone's; the root means every one. */
static void test_expire_zone(void **state)
{
	struct cache_config cfg = base_config();
	cfg.stale_max_age = 3600;
	struct cache *c = cache_new(&cfg);
	static const char *const names[] = { "a.corp.test", "corp.test", "notcorp.test", "other.test" };
	uint8_t wire[WIRE_NAME_MAX];
	struct wire_query q;
	size_t len;

	for (size_t i = 0; i < 4; i++)
		assert_int_equal(store_a(c, names[i], 300, (uint32_t)i, 0), 0);
	size_t wire_len = wire_name(wire, "Corp.Test");
	assert_int_equal(cache_expire(c, wire, wire_len, true, 10000), 2);
	for (size_t i = 0; i < 4; i++) {
		make_query(&q, names[i], WIRE_TYPE_A);
		if (i < 2) {
			expect_miss(c, &q, 10000);
			assert_int_equal(lookup_stale(c, &q, 10000, &len), CACHE_STALE);
		} else {
			assert_int_equal(hit_addr(c, &q, 10000), i);
		}
	}
	assert_int_equal(stats(c).entries, 4);
	/* Expired ones are not counted again. */
	assert_int_equal(cache_expire(c, wire, wire_len, true, 20000), 0);
	/* The root: all the rest. */
	assert_int_equal(cache_expire(c, (const uint8_t *)"", 1, true, 20000), 2);
	make_query(&q, "other.test", WIRE_TYPE_A);
	expect_miss(c, &q, 20000);
	assert_int_equal(lookup_stale(c, &q, 20000, &len), CACHE_STALE);
	/* Stale until stale_max_age past the moment they were expired. */
	assert_int_equal(lookup_stale(c, &q, 20000 + 3600000, &len), CACHE_MISS);
	cache_free(c);
}

static void test_flush(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	static const char *const names[] = {
		"a.example.test", "b.a.example.test", "example.test", "notexample.test",
		"example.testing", "other.test",
	};
	uint8_t wire[WIRE_NAME_MAX];
	size_t wire_len;
	struct wire_query q;
	struct pkt p;

	for (size_t i = 0; i < 6; i++)
		assert_int_equal(store_a(c, names[i], 300, (uint32_t)i, 0), 0);
	make_query(&q, "example.test", WIRE_TYPE_AAAA);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "example.test", WIRE_TYPE_AAAA, WIRE_CLASS_IN,
		     0, 1, 0);
	rr_soa(&p, "example.test", 300, 300);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(stats(c).entries, 7);

	/* One name, every type, any case. */
	wire_len = wire_name(wire, "EXAMPLE.Test");
	assert_int_equal(cache_flush_name(c, wire, wire_len, false), 2);
	assert_int_equal(stats(c).entries, 5);
	make_query(&q, "a.example.test", WIRE_TYPE_A);
	assert_int_equal(hit_addr(c, &q, 0), 0);

	/* The zone: the name and everything below it, at label boundaries. */
	assert_int_equal(store_a(c, "example.test", 300, 2, 0), 0);
	assert_int_equal(cache_flush_name(c, wire, wire_len, true), 3);
	assert_int_equal(stats(c).entries, 3);
	for (size_t i = 0; i < 6; i++) {
		make_query(&q, names[i], WIRE_TYPE_A);
		if (i < 3)
			expect_miss(c, &q, 0);
		else
			assert_int_equal(hit_addr(c, &q, 0), i);
	}
	assert_int_equal(cache_flush_name(c, wire, wire_len, true), 0);

	assert_int_equal(cache_flush_all(c), 3);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).bytes, 0);
	assert_int_equal(cache_flush_all(c), 0);

	/* The root zone holds everything. */
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(store_a(c, names[i], 300, (uint32_t)i, 0), 0);
	assert_int_equal(cache_flush_name(c, (const uint8_t *)"", 1, true), 6);
	assert_int_equal(stats(c).entries, 0);
	cache_free(c);
}

struct walk_item {
	char name[64];
	uint16_t qtype;
	uint32_t ttl_left;
	size_t bytes;
	bool stale;
};

struct walk_log {
	struct walk_item items[8];
	size_t n;
};

static void walk_visit(void *arg, const uint8_t *qname, size_t name_len, uint16_t qtype,
		       uint32_t ttl_left, size_t bytes, bool stale)
{
	struct walk_log *log = arg;
	assert_true(log->n < 8);
	struct walk_item *it = &log->items[log->n++];
	wire_name_str(qname, name_len, it->name, sizeof(it->name));
	it->qtype = qtype;
	it->ttl_left = ttl_left;
	it->bytes = bytes;
	it->stale = stale;
}

static void test_walk(void **state)
{
	struct cache_config cfg = base_config();
	cfg.stale_max_age = 3600;
	struct cache *c = cache_new(&cfg);
	struct walk_log log = { .n = 0 };
	struct wire_query q;

	assert_int_equal(store_a(c, "First.test", 300, 1, 0), 0);
	assert_int_equal(store_a(c, "second.test", 10, 2, 0), 0);
	assert_int_equal(store_a(c, "third.test", 600, 3, 0), 0);
	make_query(&q, "first.test", WIRE_TYPE_A);
	assert_int_equal(hit_addr(c, &q, 1000), 1);

	cache_walk(c, 20500, walk_visit, &log);
	assert_int_equal(log.n, 3);
	assert_string_equal(log.items[0].name, "first.test.");
	assert_int_equal(log.items[0].ttl_left, 280);
	assert_false(log.items[0].stale);
	assert_string_equal(log.items[1].name, "third.test.");
	assert_int_equal(log.items[1].ttl_left, 580);
	assert_string_equal(log.items[2].name, "second.test.");
	assert_int_equal(log.items[2].ttl_left, 0);
	assert_true(log.items[2].stale);
	size_t total = 0;
	for (size_t i = 0; i < log.n; i++) {
		assert_int_equal(log.items[i].qtype, WIRE_TYPE_A);
		total += log.items[i].bytes;
	}
	assert_int_equal(total, stats(c).bytes);
	cache_free(c);
}

/* ---- serve-stale and prefetch ----------------------------------------- */

/* ---- the cache across restarts ----------------------------------------- */

/* What cache_export() hands out, kept past the call (answers copied). */
struct saved_set {
	struct cache_saved e[64];
	uint8_t bytes[64][512];
	size_t n;
};

static void keep_saved(void *arg, const struct cache_saved *e)
{
	struct saved_set *set = arg;
	assert_true(set->n < 64);
	assert_true(e->answer_len <= sizeof(set->bytes[0]));
	memcpy(set->bytes[set->n], e->answer, e->answer_len);
	set->e[set->n] = *e;
	set->e[set->n].answer = set->bytes[set->n];
	set->n++;
}

static const struct cache_saved *saved_named(const struct saved_set *set, const char *qname,
					     uint8_t kflags)
{
	uint8_t wire[WIRE_NAME_MAX];
	size_t len = wire_name(wire, qname);
	for (size_t i = 0; i < set->n; i++)
		if (set->e[i].kflags == kflags &&
		    memcmp(set->e[i].answer + WIRE_HEADER_LEN, wire, len) == 0)
			return &set->e[i];
	fail_msg("%s not exported", qname);
	return NULL;
}

/* An answer leaves with its ages and comes back into a new cache on
 * another clock with the TTL it had left: ages, not times, cross over. */
static void test_export_restore_keeps_ttl_left(void **state)
{
	struct cache_config cfg = base_config();
	cfg.stale_max_age = 600;
	struct cache *c = cache_new(&cfg);
	struct wire_query q, qdo;
	make_query(&q, "www.example.test", WIRE_TYPE_A);
	struct qopt o = { .id = 7, .qtype = WIRE_TYPE_A, .edns = true, .dnssec_ok = true, .cd = true };
	make_query_opt(&qdo, "www.example.test", &o);
	struct pkt p;
	simple_answer(&p, "www.example.test", 300, 1);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 1000000), 0);
	simple_answer(&p, "www.example.test", 1000, 2);
	assert_int_equal(cache_store(c, &qdo, p.b, p.len, 1000000), 0);
	assert_int_equal(store_a(c, "old.example.test", 10, 3, 1000000), 0);
	assert_int_equal(store_a(c, "gone.example.test", 10, 4, 0), 0); /* past its stale window */
	assert_int_equal(hit_ttl(c, &q, 1060000), 240); /* used 60 s after its store */

	struct saved_set set = { .n = 0 };
	assert_int_equal(cache_export(c, 1100000, keep_saved, &set), 0);
	assert_int_equal(set.n, 3);
	const struct cache_saved *www = saved_named(&set, "www.example.test", 0);
	assert_int_equal(www->lifetime_s, 300);
	assert_int_equal(www->age_ms, 100000);
	assert_int_equal(www->idle_ms, 40000);
	assert_int_equal(www->qtype, WIRE_TYPE_A);
	assert_int_equal(www->qclass, WIRE_CLASS_IN);
	assert_int_equal(saved_named(&set, "www.example.test", CACHE_SAVED_DO | CACHE_SAVED_CD)->lifetime_s,
			 1000);
	cache_free(c);

	/* Another process, another clock: 5 s later by the wall. */
	struct cache *d = cache_new(&cfg);
	uint64_t now = 50000000;
	for (size_t i = 0; i < set.n; i++) {
		struct cache_saved e = set.e[i];
		e.age_ms += 5000;
		e.idle_ms += 5000;
		assert_int_equal(cache_restore(d, &e, now), 0);
	}
	assert_int_equal(stats(d).entries, 3);
	assert_int_equal(hit_ttl(d, &q, now), 195);
	assert_int_equal(hit_addr(d, &qdo, now), 2); /* the DO+CD key stayed its own */
	/* Expired during the downtime: not fresh, but stale within the window. */
	struct wire_query qold;
	make_query(&qold, "old.example.test", WIRE_TYPE_A);
	expect_miss(d, &qold, now);
	size_t len;
	assert_int_equal(lookup_stale(d, &qold, now, &len), CACHE_STALE);
	/* Past the window: not kept at all. */
	struct cache_saved late = *www;
	late.age_ms = (300 + 600) * 1000;
	assert_int_equal(cache_restore(d, &late, now), -ENOSPC);
	/* Older than the clock can name. */
	late.age_ms = now + 1;
	assert_int_equal(cache_restore(d, &late, now), -ENOSPC);
	cache_free(d);
}

/* A file's answer is input: one that is not a stored answer for its key
 * is refused, as a store would refuse it. */
static void test_restore_checks_the_answer(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct pkt p;
	simple_answer(&p, "www.example.test", 300, 1);
	struct cache_saved e = { .qtype = WIRE_TYPE_A, .qclass = WIRE_CLASS_IN, .lifetime_s = 300,
				 .answer = p.b, .answer_len = p.len };
	e.qtype = WIRE_TYPE_AAAA; /* not the answer's question */
	assert_int_equal(cache_restore(c, &e, 1000), -EBADMSG);
	e.qtype = WIRE_TYPE_A;
	e.answer_len = 11;
	assert_int_equal(cache_restore(c, &e, 1000), -EBADMSG);
	e.answer_len = p.len - 1; /* a record cut short */
	assert_int_equal(cache_restore(c, &e, 1000), -EBADMSG);
	e.answer_len = p.len;
	assert_int_equal(cache_restore(c, &e, 1000), 0);
	assert_int_equal(stats(c).entries, 1);
	cache_free(c);
}

/* Restored oldest-used first into a smaller cache, the most recently used
 * answers are the ones kept; cache-max-ttl as it is now caps a lifetime. */
static void test_restore_keeps_most_recent_under_caps(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	char name[64];
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d.example.test", i);
		assert_int_equal(store_a(c, name, 3600, (uint32_t)i, 1000 + (uint64_t)i * 1000), 0);
	}
	struct saved_set set = { .n = 0 };
	assert_int_equal(cache_export(c, 20000, keep_saved, &set), 0);
	assert_int_equal(set.n, 10);
	cache_free(c);

	cfg.max_entries = 4;
	cfg.max_ttl = 600;
	struct cache *d = cache_new(&cfg);
	/* Oldest used first: the largest idle first. */
	for (int pass = 0; pass < 10; pass++) {
		size_t pick = 0;
		for (size_t i = 1; i < set.n; i++)
			if (set.e[i].idle_ms > set.e[pick].idle_ms)
				pick = i;
		assert_int_equal(cache_restore(d, &set.e[pick], 5000000), 0);
		set.e[pick].idle_ms = 0;
		set.e[pick] = set.e[--set.n];
	}
	assert_int_equal(stats(d).entries, 4);
	struct wire_query q;
	for (int i = 0; i < 10; i++) {
		snprintf(name, sizeof(name), "n%d.example.test", i);
		make_query(&q, name, WIRE_TYPE_A);
		if (i < 6)
			expect_miss(d, &q, 5000000);
		else
			assert_int_equal(hit_ttl(d, &q, 5000000), 600 - (20000 - 1000 - (uint64_t)i * 1000) / 1000);
	}
	cache_free(d);
}

static void test_serve_stale(void **state)
{
	struct cache_config cfg = base_config();
	cfg.stale_max_age = 3600;
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;
	size_t len;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "www.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     1, 1, 0);
	rr_a(&p, 60, 1);
	rr_ns(&p, "example.test", 7200, "ns.example.test");
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);

	/* While fresh, the stale lookup serves the fresh answer. */
	assert_int_equal(lookup_stale(c, &q, 30000, &len), CACHE_HIT);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_int_equal(answer_ttl(pkt, 0), 30);
	assert_int_equal(authority_ttl(pkt, 0), 7170);
	ldns_pkt_free(pkt);
	assert_int_equal(stats(c).stale_served, 0);

	/* Expired: a miss for the normal lookup, kept for serve-stale. */
	expect_miss(c, &q, 60000);
	assert_int_equal(stats(c).entries, 1);
	assert_int_equal(lookup_stale(c, &q, 60000, &len), CACHE_STALE);
	pkt = to_ldns(out, len);
	assert_int_equal(ldns_pkt_id(pkt), 0x1234);
	assert_int_equal(answer_addr(pkt, 0), 1);
	assert_int_equal(answer_ttl(pkt, 0), 30);     /* RFC 8767 §4 */
	assert_int_equal(authority_ttl(pkt, 0), 30);
	ldns_pkt_free(pkt);
	assert_int_equal(lookup_stale(c, &q, 60000 + 3600000 - 1, &len), CACHE_STALE);
	assert_int_equal(stats(c).stale_served, 2);

	/* Past the window: gone. */
	assert_int_equal(lookup_stale(c, &q, 60000 + 3600000, &len), CACHE_MISS);
	assert_int_equal(len, 0);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).expirations, 1);
	assert_int_equal(stats(c).stale_served, 2);
	cache_free(c);

	/* stale_max_age 0: never stale. */
	cfg.stale_max_age = 0;
	c = cache_new(&cfg);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);
	assert_int_equal(lookup_stale(c, &q, 60000, &len), CACHE_MISS);
	assert_int_equal(stats(c).stale_served, 0);
	make_query(&q, "never.example.test", WIRE_TYPE_A);
	assert_int_equal(lookup_stale(c, &q, 0, &len), CACHE_MISS);
	cache_free(c);
}

static void test_prefetch(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q, tiny;
	size_t len;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	assert_int_equal(store_a(c, "www.example.test", 100, 1, 0), 0);
	assert_int_equal(lookup(c, &q, 0, &len), CACHE_HIT);
	assert_int_equal(lookup(c, &q, 90000, &len), CACHE_HIT); /* exactly 10% left */
	assert_int_equal(lookup(c, &q, 90001, &len), CACHE_HIT_PREFETCH);
	assert_true(len > 0);
	/* Signalled once, then quiet for a while, then again. */
	assert_int_equal(lookup(c, &q, 91000, &len), CACHE_HIT);
	assert_int_equal(lookup(c, &q, 95001, &len), CACHE_HIT_PREFETCH);
	assert_int_equal(lookup(c, &q, 99999, &len), CACHE_HIT);

	/* A refresh makes a new entry: a new life. */
	assert_int_equal(store_a(c, "www.example.test", 100, 2, 99000), 0);
	assert_int_equal(lookup(c, &q, 99999, &len), CACHE_HIT);
	assert_int_equal(lookup(c, &q, 189001, &len), CACHE_HIT_PREFETCH);

	/* Short lives never ask. */
	make_query(&tiny, "tiny.example.test", WIRE_TYPE_A);
	assert_int_equal(store_a(c, "tiny.example.test", 5, 1, 0), 0);
	assert_int_equal(lookup(c, &tiny, 4900, &len), CACHE_HIT);

	assert_int_equal(stats(c).prefetches, 0);
	cache_note_prefetch(c);
	assert_int_equal(stats(c).prefetches, 1);
	cache_free(c);
}

/* ---- size limits and bad input ----------------------------------------- */

static void test_truncated_reply(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	struct pkt p;
	size_t len;

	make_query(&q, "big.example.test", WIRE_TYPE_A);
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "big.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     40, 0, 0);
	for (uint32_t i = 0; i < 40; i++)
		rr_a(&p, 300, i);
	assert_true(p.len > 512);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0);

	/* Old enough that the patcher has work; UDP limit 512. */
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(cache_lookup(c, &q, 50000, out, sizeof(out), WIRE_UDP_MIN, OUR_EDNS, &len,
				      NULL),
			 CACHE_HIT);
	assert_true(len < 512);
	assert_true(wire_get16(out + 2) & WIRE_FLAG_TC);
	assert_int_equal(wire_get16(out + 6), 0);
	ldns_pkt *pkt = to_ldns(out, len);
	assert_true(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 0);
	ldns_pkt_free(pkt);
	for (size_t i = len; i < p.len + 16; i++)
		assert_int_equal(out[i], 0xaa); /* no TTL written past the reply */

	/* A buffer smaller than the answer truncates the same way. */
	memset(out, 0xaa, sizeof(out));
	assert_int_equal(cache_lookup(c, &q, 50000, out, 200, TCP_LIMIT, OUR_EDNS, &len, NULL), CACHE_HIT);
	assert_true(wire_get16(out + 2) & WIRE_FLAG_TC);
	for (size_t i = len; i < p.len + 16; i++)
		assert_int_equal(out[i], 0xaa);

	/* Over TCP it fits, every TTL patched. */
	assert_int_equal(lookup(c, &q, 50000, &len), CACHE_HIT);
	pkt = to_ldns(out, len);
	assert_false(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_ancount(pkt), 40);
	for (size_t i = 0; i < 40; i++) {
		assert_int_equal(answer_ttl(pkt, i), 250);
		assert_int_equal(answer_addr(pkt, i), i);
	}
	ldns_pkt_free(pkt);

	/* Too small for even the truncated form: a miss, nothing written. */
	assert_int_equal(cache_lookup(c, &q, 50000, out, 20, TCP_LIMIT, OUR_EDNS, &len, NULL), CACHE_MISS);
	assert_int_equal(len, 0);
	cache_free(c);
}

static void test_malformed(void **state)
{
	struct cache_config cfg = base_config();
	struct cache *c = cache_new(&cfg);
	struct wire_query q, other;
	struct pkt p, good;
	size_t len;

	make_query(&q, "www.example.test", WIRE_TYPE_A);

	/* Counts beyond the data. */
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "www.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     5, 0, 0);
	rr_a(&p, 300, 1);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -EBADMSG);

	/* Trailing garbage. */
	simple_answer(&p, "www.example.test", 300, 1);
	put8(&p, 0);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -EBADMSG);

	/* No question, two questions, a header only. */
	simple_answer(&p, "www.example.test", 300, 1);
	wire_put16(p.b + 4, 0);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -EBADMSG);
	wire_put16(p.b + 4, 2);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -EBADMSG);
	assert_int_equal(cache_store(c, &q, p.b, WIRE_HEADER_LEN, 0), -EBADMSG);
	assert_int_equal(cache_store(c, &q, p.b, 3, 0), -EBADMSG);

	/* Someone else's question: name, or type. */
	make_query(&other, "www.example.tesu", WIRE_TYPE_A);
	simple_answer(&p, "www.example.test", 300, 1);
	assert_int_equal(cache_store(c, &other, p.b, p.len, 0), -EBADMSG);
	make_query(&other, "www.example.test", WIRE_TYPE_AAAA);
	assert_int_equal(cache_store(c, &other, p.b, p.len, 0), -EBADMSG);

	/* Not a QUERY answer. */
	wire_put16(p.b + 2, (uint16_t)(wire_get16(p.b + 2) | (2 << 11)));
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -EBADMSG);

	/* An OPT left in (scrub removes it): it would be doubled. */
	answer_start(&p, WIRE_RCODE_NOERROR, 0, "www.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     1, 0, 1);
	rr_a(&p, 300, 1);
	put8(&p, 0); put16(&p, WIRE_TYPE_OPT); put16(&p, 1232); put32(&p, 0); put16(&p, 0);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -EBADMSG);

	/* An SOA whose rdata is cut short. */
	answer_start(&p, WIRE_RCODE_NXDOMAIN, 0, "www.example.test", WIRE_TYPE_A, WIRE_CLASS_IN,
		     0, 1, 0);
	size_t soa_at = p.len;
	rr_soa(&p, "example.test", 300, 300);
	uint8_t *rdlen = p.b + soa_at + 14 + 8; /* owner (14 bytes), type, class, TTL */
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), 0); /* intact: fine */
	cache_flush_all(c);
	wire_put16(rdlen, (uint16_t)(wire_get16(rdlen) - 1)); /* one number byte short */
	assert_int_equal(cache_store(c, &q, p.b, p.len - 1, 0), -EBADMSG);
	wire_put16(rdlen, (uint16_t)(wire_get16(rdlen) + 2)); /* one byte too many */
	put8(&p, 0);
	assert_int_equal(cache_store(c, &q, p.b, p.len, 0), -EBADMSG);
	assert_int_equal(stats(c).entries, 0);

	/* Every prefix of a good answer is refused. */
	answer_start(&good, WIRE_RCODE_NOERROR, 0, "www.example.test", WIRE_TYPE_A,
		     WIRE_CLASS_IN, 1, 1, 1);
	rr_a(&good, 300, 1);
	rr_soa(&good, "example.test", 300, 60);
	rr_a_named(&good, "ns.example.test", 300, 2);
	for (size_t n = 0; n < good.len; n++)
		assert_true(cache_store(c, &q, good.b, n, 0) < 0);
	assert_int_equal(cache_store(c, &q, good.b, good.len, 0), 0);

	/* Random damage: whatever is stored must be servable. */
	for (unsigned round = 0; round < 20000; round++) {
		memcpy(&p, &good, sizeof(p));
		unsigned flips = 1 + (unsigned)(rng() % 4);
		for (unsigned f = 0; f < flips; f++)
			p.b[rng() % p.len] ^= (uint8_t)(1u << (rng() % 8));
		if (cache_store(c, &q, p.b, p.len, round) == 0) {
			enum cache_result r = lookup(c, &q, round + 1000, &len);
			assert_true(r == CACHE_HIT || r == CACHE_HIT_PREFETCH || r == CACHE_MISS);
			assert_true(len <= p.len);
		}
	}
	cache_free(c);
}

/* ---- shards ------------------------------------------------------------ */

static struct cache_config sharded_config(unsigned shards)
{
	struct cache_config cfg = base_config();
	cfg.shards = shards;
	return cfg;
}

/* Stores "n<i>.<zone>" for i in [0, n) with address i. */
static void store_many(struct cache *c, const char *zone, unsigned n, uint64_t now_ms)
{
	char qname[64];
	for (unsigned i = 0; i < n; i++) {
		snprintf(qname, sizeof(qname), "n%u.%s", i, zone);
		assert_int_equal(store_a(c, qname, 300, i, now_ms), 0);
	}
}

static void expect_many(struct cache *c, const char *zone, unsigned n, bool present,
			uint64_t now_ms)
{
	char qname[64];
	struct wire_query q;
	for (unsigned i = 0; i < n; i++) {
		snprintf(qname, sizeof(qname), "n%u.%s", i, zone);
		make_query(&q, qname, WIRE_TYPE_A);
		if (present)
			assert_int_equal(hit_addr(c, &q, now_ms), i);
		else
			expect_miss(c, &q, now_ms);
	}
}

static void count_bytes(void *arg, const uint8_t *qname, size_t name_len, uint16_t qtype,
			uint32_t ttl_left, size_t bytes, bool stale)
{
	uint64_t *sum = arg; /* [0] entries, [1] bytes */
	sum[0]++;
	sum[1] += bytes;
}

struct walk_into {
	struct cache *c;
	uint64_t visited, entries_seen;
};

static void lookup_while_walking(void *arg, const uint8_t *qname, size_t name_len, uint16_t qtype,
				 uint32_t ttl_left, size_t bytes, bool stale)
{
	struct walk_into *w = arg;
	struct cache_stats st;
	cache_get_stats(w->c, &st); /* takes every shard's lock */
	w->visited++;
	w->entries_seen = st.entries;
}

/* Powers of two up to 64 (0 meaning 1); anything else is refused, and a
 * reload cannot change the count. */
static void test_shard_counts(void **state)
{
	static const unsigned good[] = { 0, 1, 2, 4, 8, 16, 32, 64 };
	static const unsigned bad[] = { 3, 6, 12, 65, 128, 1u << 31 };
	struct wire_query q;

	make_query(&q, "www.example.test", WIRE_TYPE_A);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct cache_config cfg = sharded_config(good[i]);
		struct cache *c = cache_new(&cfg);
		assert_non_null(c);
		assert_int_equal(store_a(c, "www.example.test", 300, 7, 0), 0);
		assert_int_equal(hit_addr(c, &q, 0), 7);
		cache_free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cache_config cfg = sharded_config(bad[i]);
		assert_null(cache_new(&cfg));
	}

	/* 8 shards of ceil(9 / 8) = 2 entries hold 16, one shard of 9 would
	 * hold 9: the count stays 8 after a reload that asks for 1. */
	struct cache_config cfg = sharded_config(8);
	cfg.max_entries = 9;
	struct cache *c = cache_new(&cfg);
	cfg.shards = 1;
	cache_configure(c, &cfg);
	store_many(c, "count.test", 1000, 0);
	assert_int_equal(stats(c).entries, 16);
	cache_free(c);
}

/* Many names over 8 shards: each one found again, the counters the sums
 * of every shard's, the walk visiting every entry. */
static void test_sharded_many(void **state)
{
	struct cache_config cfg = sharded_config(8);
	struct cache *c = cache_new(&cfg);
	struct wire_query q;
	size_t len;
	char qname[64];

	store_many(c, "many.test", 400, 0); /* ~50 a shard, far below 125 */
	expect_many(c, "many.test", 400, true, 1000);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(qname, sizeof(qname), "absent%u.many.test", i);
		make_query(&q, qname, WIRE_TYPE_A);
		assert_int_equal(lookup(c, &q, 1000, &len), CACHE_MISS);
	}
	cache_note_prefetch(c);
	cache_note_prefetch(c);

	struct cache_stats st = stats(c);
	assert_int_equal(st.entries, 400);
	assert_int_equal(st.inserts, 400);
	assert_int_equal(st.hits, 400);
	assert_int_equal(st.misses, 100);
	assert_int_equal(st.evictions, 0);
	assert_int_equal(st.prefetches, 2);
	uint64_t sum[2] = { 0, 0 };
	cache_walk(c, 1000, count_bytes, sum);
	assert_int_equal(sum[0], 400);
	assert_int_equal(sum[1], st.bytes);
	/* The visitor runs with no shard locked: it may use the cache (a lock
	 * held across it would deadlock here, and stall every worker's
	 * lookups for as long as dump-cache formats). */
	struct walk_into w = { .c = c };
	cache_walk(c, 1000, lookup_while_walking, &w);
	assert_int_equal(w.visited, 400);
	assert_int_equal(w.entries_seen, 400);

	/* reset-statistics reaches every shard and keeps what is cached. */
	cache_reset_stats(c);
	struct cache_stats after = stats(c);
	assert_int_equal(after.entries, 400);
	assert_int_equal(after.bytes, st.bytes);
	assert_int_equal(after.hits + after.misses + after.inserts + after.prefetches, 0);
	cache_free(c);
}

/* Flushes by name, by zone and of everything reach every shard. */
static void test_sharded_flush(void **state)
{
	struct cache_config cfg = sharded_config(8);
	struct cache *c = cache_new(&cfg);
	uint8_t wire[WIRE_NAME_MAX];
	size_t wire_len;
	struct wire_query q;

	store_many(c, "a.example.test", 100, 0);
	store_many(c, "b.example.test", 100, 0);
	store_many(c, "other.test", 100, 0);
	assert_int_equal(store_a(c, "example.test", 300, 1, 0), 0);
	assert_int_equal(stats(c).entries, 301);

	/* One name. */
	wire_len = wire_name(wire, "N7.A.example.test");
	assert_int_equal(cache_flush_name(c, wire, wire_len, false), 1);
	make_query(&q, "n7.a.example.test", WIRE_TYPE_A);
	expect_miss(c, &q, 0);
	assert_int_equal(stats(c).entries, 300);

	/* A zone: its 99 names left, wherever they live. */
	wire_len = wire_name(wire, "a.example.test");
	assert_int_equal(cache_flush_name(c, wire, wire_len, true), 99);
	expect_many(c, "a.example.test", 100, false, 0);
	expect_many(c, "b.example.test", 100, true, 0);

	/* The parent zone: b's 100 and the apex. */
	wire_len = wire_name(wire, "example.test");
	assert_int_equal(cache_flush_name(c, wire, wire_len, true), 101);
	expect_many(c, "b.example.test", 100, false, 0);
	expect_many(c, "other.test", 100, true, 0);

	assert_int_equal(cache_flush_all(c), 100);
	expect_many(c, "other.test", 100, false, 0);
	assert_int_equal(stats(c).entries, 0);
	assert_int_equal(stats(c).bytes, 0);
	cache_free(c);
}

/* Limits are split over the shards: a cache-size of 64 over 8 shards
 * never holds more than 64, and fills all 64 (every shard takes names). */
static void test_sharded_limits(void **state)
{
	struct cache_config cfg = sharded_config(8);
	cfg.max_entries = 64;
	struct cache *c = cache_new(&cfg);
	char qname[64];

	for (unsigned i = 0; i < 2000; i++) {
		snprintf(qname, sizeof(qname), "n%u.limit.test", i);
		assert_int_equal(store_a(c, qname, 300, i, i), 0);
		assert_true(stats(c).entries <= 64);
	}
	struct cache_stats st = stats(c);
	assert_int_equal(st.entries, 64);
	assert_int_equal(st.inserts, 2000);
	assert_int_equal(st.evictions + st.entries, 2000);
	/* The LRU is per shard, but the last few stored are surely kept. */
	for (unsigned i = 1995; i < 2000; i++) {
		struct wire_query q;
		snprintf(qname, sizeof(qname), "n%u.limit.test", i);
		make_query(&q, qname, WIRE_TYPE_A);
		assert_int_equal(hit_addr(c, &q, 2000), i);
	}

	/* A reload shrinks every shard. */
	cfg.max_entries = 16;
	cache_configure(c, &cfg);
	assert_int_equal(stats(c).entries, 16);
	cache_free(c);

	/* Bytes too: each shard gets an eighth of cache-memory, and an answer
	 * that fits the whole cache but not one shard's share is refused. */
	cfg = sharded_config(8);
	cfg.max_bytes = 800;
	c = cache_new(&cfg);
	assert_int_equal(store_a(c, "big.test", 300, 1, 0), -ENOSPC);
	cache_free(c);
	cfg.shards = 1;
	c = cache_new(&cfg);
	assert_int_equal(store_a(c, "big.test", 300, 1, 0), 0);
	cache_free(c);

	cfg = sharded_config(8);
	cfg.max_bytes = 8 * 4096;
	c = cache_new(&cfg);
	for (unsigned i = 0; i < 2000; i++) {
		snprintf(qname, sizeof(qname), "n%u.bytes.test", i);
		assert_int_equal(store_a(c, qname, 300, i, i), 0);
		assert_true(stats(c).bytes <= cfg.max_bytes);
	}
	assert_true(stats(c).bytes > cfg.max_bytes - 8 * 200); /* each shard filled up */
	cache_free(c);
}

/* ---- threads ----------------------------------------------------------- */

/* Four threads at once on one 8-shard cache, over one small pool of names
 * so they meet on the same entries: lookups, stale lookups, stores,
 * flushes, walks, counters and reloads. No cmocka asserts in the threads
 * (not thread-safe): each counts what it did and what looked wrong, and
 * the main thread checks that the cache's counters agree. Run under ASan
 * (tools/test) and TSan (test_cache_tsan). */

enum { POOL = 200, THREADS = 4, OPS = 20000 };

static struct wire_query pool_q[POOL];
static struct pkt pool_ans[POOL];
static _Atomic uint64_t pool_clock; /* ms: each operation moves it on by 20 */

struct churner {
	pthread_t tid;
	struct cache *c;
	uint64_t rng;
	uint64_t lookups, stores, stale, prefetches;
	uint64_t bad;            /* a wrong answer or an unexpected error */
};

static uint64_t churn_rng(struct churner *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return w->rng;
}

/* A reply for pool name k: its ID and its address. */
static bool churn_reply_ok(const uint8_t *buf, size_t len, unsigned k)
{
	size_t rdata = WIRE_HEADER_LEN + (size_t)pool_q[k].qname_len + 4 + 12;
	return len == pool_ans[k].len && wire_get16(buf) == pool_q[k].id &&
	       wire_get32(buf + rdata) == k;
}

static void churn_visit(void *arg, const uint8_t *qname, size_t name_len, uint16_t qtype,
			uint32_t ttl_left, size_t bytes, bool stale)
{
	(*(uint64_t *)arg)++;
}

static void churn_one(struct churner *w, uint8_t *buf, size_t cap)
{
	uint64_t r = churn_rng(w);
	unsigned k = (unsigned)(r % POOL);
	unsigned op = (unsigned)((r >> 32) % 10000);
	uint64_t now = atomic_fetch_add(&pool_clock, 20);
	size_t len;
	uint32_t age;

	if (op < 6000) {
		enum cache_result res = cache_lookup(w->c, &pool_q[k], now, buf, cap, TCP_LIMIT,
						     OUR_EDNS, &len, &age);
		w->lookups++;
		if (res == CACHE_HIT_PREFETCH) {
			cache_note_prefetch(w->c);
			w->prefetches++;
		}
		if (res != CACHE_MISS && !churn_reply_ok(buf, len, k))
			w->bad++;
	} else if (op < 7000) {
		enum cache_result res = cache_lookup_stale(w->c, &pool_q[k], now, buf, cap,
							   TCP_LIMIT, OUR_EDNS, &len, &age);
		if (res == CACHE_STALE)
			w->stale++;
		if (res != CACHE_MISS && !churn_reply_ok(buf, len, k))
			w->bad++;
	} else if (op < 9700) {
		if (cache_store(w->c, &pool_q[k], pool_ans[k].b, pool_ans[k].len, now) == 0)
			w->stores++;
		else
			w->bad++;
	} else if (op < 9740) {
		/* One name, or a tenth of the pool (its zone). */
		bool zone = op & 1;
		size_t skip = zone ? 1 + (size_t)pool_q[k].qname[0] : 0;
		cache_flush_name(w->c, pool_q[k].qname + skip, pool_q[k].qname_len - skip, zone);
	} else if (op < 9745) {
		cache_flush_all(w->c);
	} else if (op < 9800) {
		uint64_t n = 0;
		cache_walk(w->c, now, churn_visit, &n);
	} else if (op < 9950) {
		struct cache_stats st;
		cache_get_stats(w->c, &st);
	} else {
		/* A reload: cache-size 64 (evictions) or 256 (room for the
		 * pool, so entries live to expire). */
		struct cache_config cfg = sharded_config(8);
		cfg.max_entries = (r >> 16) & 1 ? 64 : 256;
		cfg.stale_max_age = 10;
		cache_configure(w->c, &cfg);
	}
}

static void *churn(void *arg)
{
	struct churner *w = arg;
	uint8_t buf[WIRE_MSG_MAX];
	for (unsigned i = 0; i < OPS; i++)
		churn_one(w, buf, sizeof(buf));
	return NULL;
}

static void test_threads(void **state)
{
	struct cache_config cfg = sharded_config(8);
	cfg.max_entries = 256;
	cfg.stale_max_age = 10;
	struct cache *c = cache_new(&cfg);
	struct churner w[THREADS];
	char qname[64];

	/* Names in 10 zones; TTLs of 10-29 s, so entries expire, go stale
	 * and ask for prefetches over the 1600 s the clock runs. */
	for (unsigned k = 0; k < POOL; k++) {
		struct qopt o = { .id = (uint16_t)k, .qtype = WIRE_TYPE_A };
		snprintf(qname, sizeof(qname), "N%u.z%u.test", k, k % 10);
		make_query_opt(&pool_q[k], qname, &o);
		simple_answer(&pool_ans[k], qname, 10 + k % 20, k);
	}
	atomic_store(&pool_clock, 0);
	for (unsigned i = 0; i < THREADS; i++) {
		memset(&w[i], 0, sizeof(w[i]));
		w[i].c = c;
		w[i].rng = 0x9e3779b97f4a7c15ull * (i + 1);
		assert_int_equal(pthread_create(&w[i].tid, NULL, churn, &w[i]), 0);
	}
	uint64_t lookups = 0, stores = 0, stale = 0, prefetches = 0, bad = 0;
	for (unsigned i = 0; i < THREADS; i++) {
		assert_int_equal(pthread_join(w[i].tid, NULL), 0);
		lookups += w[i].lookups;
		stores += w[i].stores;
		stale += w[i].stale;
		prefetches += w[i].prefetches;
		bad += w[i].bad;
	}

	assert_int_equal(bad, 0);
	struct cache_stats st = stats(c);
	assert_int_equal(st.hits + st.misses, lookups);
	assert_int_equal(st.inserts, stores);
	assert_int_equal(st.stale_served, stale);
	assert_int_equal(st.prefetches, prefetches);
	/* The mix did reach every path. */
	assert_true(st.hits > 0 && st.misses > 0 && st.evictions > 0 && st.expirations > 0);
	assert_true(stale > 0 && prefetches > 0);
	assert_true(st.entries <= 256);
	uint64_t sum[2] = { 0, 0 };
	cache_walk(c, atomic_load(&pool_clock), count_bytes, sum);
	assert_int_equal(sum[0], st.entries);
	assert_int_equal(sum[1], st.bytes);
	assert_int_equal(cache_flush_all(c), st.entries);
	assert_int_equal(stats(c).bytes, 0);
	cache_free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_miss_then_hit),
		cmocka_unit_test(test_client_fields),
		cmocka_unit_test(test_ttl_decay),
		cmocka_unit_test(test_hit_age),
		cmocka_unit_test(test_min_ttl_of_answer),
		cmocka_unit_test(test_clamp_min_ttl),
		cmocka_unit_test(test_clamp_max_ttl),
		cmocka_unit_test(test_clamp_negative),
		cmocka_unit_test(test_nxdomain_soa),
		cmocka_unit_test(test_nxdomain_after_cname),
		cmocka_unit_test(test_nodata),
		cmocka_unit_test(test_negative_without_soa),
		cmocka_unit_test(test_servfail),
		cmocka_unit_test(test_not_cached),
		cmocka_unit_test(test_do_cd_keys),
		cmocka_unit_test(test_type_class_keys),
		cmocka_unit_test(test_case_insensitive_key),
		cmocka_unit_test(test_lru_order),
		cmocka_unit_test(test_eviction_counters),
		cmocka_unit_test(test_byte_cap),
		cmocka_unit_test(test_replace),
		cmocka_unit_test(test_max_entries_zero),
		cmocka_unit_test(test_configure_shrinks),
		cmocka_unit_test(test_flush),
		cmocka_unit_test(test_expire_zone),
		cmocka_unit_test(test_walk),
		cmocka_unit_test(test_export_restore_keeps_ttl_left),
		cmocka_unit_test(test_restore_checks_the_answer),
		cmocka_unit_test(test_restore_keeps_most_recent_under_caps),
		cmocka_unit_test(test_serve_stale),
		cmocka_unit_test(test_prefetch),
		cmocka_unit_test(test_truncated_reply),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_shard_counts),
		cmocka_unit_test(test_sharded_many),
		cmocka_unit_test(test_sharded_flush),
		cmocka_unit_test(test_sharded_limits),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
