/* fuzz_reply.c - libFuzzer target: an upstream's reply, as upstream.c
 * receives it, through to the cache and back out to clients.
 *
 * Input: two control bytes, then the reply.
 *   byte 0: bit 0 the client sent EDNS, 1 DO, 2 CD, 3 AD, 4 the client
 *           spelled the name in another letter case, 5 a wrong ID (the
 *           reply must then be dropped), 6-7 one of four cache settings;
 *   byte 1: the client's EDNS buffer size (512 + 16 * byte).
 * The client's question is the reply's own (so that most replies match),
 * built as a real query packet and read with wire_parse_query, so the
 * question is one stubd would have sent upstream.
 *
 * The path: wire_reply_matches, scrub_reply_counted, cache_store, then
 * cache_lookup for a few clients asking the same question (other IDs,
 * case, EDNS, buffer sizes) at a few times, and cache_lookup_stale.
 * Aborts when an invariant of scrub.h or cache.h breaks.
 */
#include "fuzz_common.h"

#include "stubd/cache.h"
#include "stubd/scrub.h"

#define OUR_EDNS 1232
#define NOW_MS 1000000000ull /* any clock will do; far from 0 */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

static const struct cache_config cache_variants[4] = {
	/* the daemon's defaults */
	{ .max_entries = 10000, .max_bytes = 64u << 20, .min_ttl = 0, .max_ttl = 86400,
	  .max_negative_ttl = 3600, .servfail_ttl = 5, .stale_max_age = 86400 },
	/* tight clamps */
	{ .max_entries = 100, .max_bytes = 1u << 20, .min_ttl = 60, .max_ttl = 300,
	  .max_negative_ttl = 30, .servfail_ttl = 1, .stale_max_age = 10 },
	/* no negative or failure caching, no serve-stale */
	{ .max_entries = 10, .max_bytes = 65536, .min_ttl = 0, .max_ttl = 1,
	  .max_negative_ttl = 0, .servfail_ttl = 0, .stale_max_age = 0 },
	/* a tiny cache: big answers do not fit */
	{ .max_entries = 1, .max_bytes = 600, .min_ttl = 5, .max_ttl = 604800,
	  .max_negative_ttl = 86400, .servfail_ttl = 300, .stale_max_age = 604800 },
};

/* Owner names of the records scrub kept in the answer section: each is
 * the qname or the target of a kept CNAME, except a DNAME's, which must
 * be an ancestor of one of them (RFC 6672), and its RRSIG's. */
static bool on_chain(const ldns_rr_list *an, const ldns_rdf *qname, const ldns_rdf *owner)
{
	if (ldns_dname_compare(owner, qname) == 0)
		return true;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && ldns_rr_rd_count(rr) > 0 &&
		    ldns_dname_compare(ldns_rr_rdf(rr, 0), owner) == 0)
			return true;
	}
	return false;
}

/* A kept record has the rdata its type says (scrub.c: rdata is checked
 * against its type's layout, and a record cut short is unfit). ldns takes an empty rdata of any type (the
 * RFC 2136 form), so the count of fields is what tells. */
static bool whole_rdata(const ldns_rr *rr)
{
	const ldns_rr_descriptor *d = ldns_rr_descript(ldns_rr_get_type(rr));
	if (!d || d->_type != ldns_rr_get_type(rr))
		return true; /* a type ldns does not know: opaque rdata */
	return ldns_rr_rd_count(rr) >= ldns_rr_descriptor_minimum(d);
}

/* The additional records scrub_counts counts: all but OPT and TSIG. */
static unsigned additional_counted(const uint8_t *reply, size_t len)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	unsigned n = 0;
	FUZZ_CHECK(wire_rr_iter_init(&it, reply, len) == 0);
	while (wire_rr_next(&it, &rr) == 1)
		n += rr.section == WIRE_SECTION_ADDITIONAL && rr.type != WIRE_TYPE_OPT &&
		     rr.type != WIRE_TYPE_TSIG;
	return n;
}

/* Is there a kept DNAME with this owner? (An RRSIG over a DNAME stays
 * with it, RFC 6672 §5.3.1.) */
static bool owns_kept_dname(const ldns_rr_list *an, const ldns_rdf *owner)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME &&
		    ldns_dname_compare(ldns_rr_owner(rr), owner) == 0)
			return true;
	}
	return false;
}

static void check_scrubbed(const uint8_t *reply, size_t reply_len, const uint8_t *ans,
			   size_t ans_len, const struct wire_query *q,
			   const struct scrub_counts *counts)
{
	FUZZ_CHECK(ans && ans_len >= WIRE_HEADER_LEN + (size_t)q->qname_len + 4);
	FUZZ_CHECK(ans_len <= WIRE_MSG_MAX);
	/* The stored-answer form: question uncompressed at 12 and q's, no
	 * additional records, the reply's ID and flags less AA and Z. */
	FUZZ_CHECK(wire_reply_matches(ans, ans_len, wire_get16(reply), q));
	FUZZ_CHECK(wire_get16(ans + 10) == 0);
	FUZZ_CHECK(fuzz_count_opt(ans, ans_len) == 0);
	FUZZ_CHECK(wire_get16(ans + 2) == (wire_get16(reply + 2) & ~(WIRE_FLAG_AA | 0x0040)));

	ldns_pkt *out = fuzz_must_parse(ans, ans_len);
	const ldns_rr_list *an = ldns_pkt_answer(out);
	const ldns_rr_list *ns = ldns_pkt_authority(out);
	const ldns_rdf *qname = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(out), 0));

	/* Counted from the reply's own records (not through ldns_wire2pkt,
	 * which reads fewer additional records after a TSIG, and leaks). */
	FUZZ_CHECK(ldns_rr_list_rr_count(an) + counts->answer_dropped == wire_get16(reply + 6));
	FUZZ_CHECK(ldns_rr_list_rr_count(ns) + counts->authority_dropped == wire_get16(reply + 8));
	FUZZ_CHECK(counts->additional_dropped == additional_counted(reply, reply_len));

	/* Nothing about names off the chain from the qname (RFC 5452 §6). */
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		FUZZ_CHECK(whole_rdata(rr));
		FUZZ_CHECK(q->qclass == LDNS_RR_CLASS_ANY || ldns_rr_get_class(rr) == q->qclass);
		ldns_rr_type t = ldns_rr_get_type(rr);
		const ldns_rdf *covered = t == LDNS_RR_TYPE_RRSIG ? ldns_rr_rrsig_typecovered(rr) : NULL;
		if (covered && ldns_rdf2rr_type(covered) == LDNS_RR_TYPE_DNAME)
			FUZZ_CHECK(owns_kept_dname(an, ldns_rr_owner(rr)) ||
				   on_chain(an, qname, ldns_rr_owner(rr)));
		else if (t != LDNS_RR_TYPE_DNAME)
			FUZZ_CHECK(on_chain(an, qname, ldns_rr_owner(rr)));
	}
	/* Authority: one SOA at most, and proofs for DO clients only. */
	unsigned soas = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(ns, i));
		FUZZ_CHECK(whole_rdata(ldns_rr_list_rr(ns, i)));
		soas += t == LDNS_RR_TYPE_SOA;
		if (q->edns_do)
			FUZZ_CHECK(t == LDNS_RR_TYPE_SOA || t == LDNS_RR_TYPE_NSEC ||
				   t == LDNS_RR_TYPE_NSEC3 || t == LDNS_RR_TYPE_RRSIG);
		else
			FUZZ_CHECK(t == LDNS_RR_TYPE_SOA);
	}
	FUZZ_CHECK(soas <= 1);
	ldns_pkt_free(out);

	/* Scrubbing a scrubbed answer keeps all of it: what scrub keeps is
	 * exactly what its own rules keep. */
	uint8_t *again = NULL;
	size_t again_len = 0;
	struct scrub_counts c2;
	FUZZ_CHECK(scrub_reply_counted(ans, ans_len, q, &again, &again_len, &c2) == 0);
	FUZZ_CHECK(c2.answer_dropped == 0 && c2.authority_dropped == 0 &&
		   c2.additional_dropped == 0);
	FUZZ_CHECK(wire_get16(again + 6) == wire_get16(ans + 6) &&
		   wire_get16(again + 8) == wire_get16(ans + 8));
	free(again);
}

/* Every TTL of a cached reply, none above max (0 when TC). */
static void check_ttls(const uint8_t *out, size_t len, uint32_t max, bool all_equal,
		       uint32_t value)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	FUZZ_CHECK(wire_rr_iter_init(&it, out, len) == 0);
	while (wire_rr_next(&it, &rr) == 1) {
		if (rr.type == WIRE_TYPE_OPT)
			continue;
		FUZZ_CHECK(rr.ttl <= max);
		if (all_equal)
			FUZZ_CHECK(rr.ttl == value);
	}
}

struct entry_seen {
	unsigned n;
	uint32_t ttl_left;
	size_t bytes;
};

static void on_entry(void *arg, const uint8_t *name, size_t name_len, uint16_t qtype,
		     uint32_t ttl_left, size_t bytes, bool stale)
{
	struct entry_seen *seen = arg;
	seen->n++;
	seen->ttl_left = ttl_left;
	seen->bytes = bytes;
	FUZZ_CHECK(!stale);
}

/* The counters as of now (cache_get_stats() fills a snapshot). */
static struct cache_stats stats(struct cache *c)
{
	struct cache_stats st;
	cache_get_stats(c, &st);
	return st;
}

/* One client's lookup: a hit fitted to it, or (TC) a bare question. */
static enum cache_result lookup(struct cache *c, const struct wire_query *cq, uint64_t now,
				size_t cap, size_t limit, uint8_t *out, size_t *len, bool stale)
{
	enum cache_result r = stale ? cache_lookup_stale(c, cq, now, out, cap, limit, OUR_EDNS, len,
							 NULL)
				    : cache_lookup(c, cq, now, out, cap, limit, OUR_EDNS, len, NULL);
	if (r == CACHE_MISS) {
		FUZZ_CHECK(*len == 0);
		return r;
	}
	FUZZ_CHECK(*len > 0 && *len <= cap);
	fuzz_check_client_reply(out, *len, cq);
	size_t bare = WIRE_HEADER_LEN + (size_t)cq->qname_len + 4 + (cq->edns ? WIRE_OPT_LEN : 0);
	if (wire_get16(out + 2) & WIRE_FLAG_TC)
		FUZZ_CHECK(*len == bare);
	else
		FUZZ_CHECK(*len <= limit);
	return r;
}

static void check_cache(const uint8_t *ans, size_t ans_len, const struct wire_query *q,
			const struct cache_config *cfg, uint8_t ctl)
{
	static uint8_t out[WIRE_MSG_MAX + WIRE_OPT_LEN];
	struct cache *c = cache_new(cfg);
	FUZZ_CHECK(c);

	int r = cache_store(c, q, ans, ans_len, NOW_MS);
	/* scrub's output is a stored answer: never rejected as malformed. */
	FUZZ_CHECK(r == 0 || r == -ENOSPC);
	uint16_t flags = wire_get16(ans + 2);
	/* A plain positive answer with sane TTLs is always kept. */
	if (r == -ENOSPC && cfg == &cache_variants[0] && !(flags & WIRE_FLAG_TC) &&
	    WIRE_RCODE(flags) == WIRE_RCODE_NOERROR && wire_get16(ans + 6) > 0 &&
	    wire_get16(ans + 8) == 0) {
		struct wire_rr_iter it;
		struct wire_rr rr;
		bool sane = wire_rr_iter_init(&it, ans, ans_len) == 0;
		while (sane && wire_rr_next(&it, &rr) == 1)
			sane = rr.ttl > 0 && rr.ttl <= 0x7fffffff;
		FUZZ_CHECK(!sane);
	}
	if (r != 0) {
		FUZZ_CHECK(stats(c).entries == 0);
		cache_free(c);
		return;
	}
	if (flags & WIRE_FLAG_TC)
		FUZZ_CHECK(!"a TC answer was stored");

	struct cache_stats st = stats(c);
	FUZZ_CHECK(st.entries == 1 && st.bytes <= cfg->max_bytes);
	struct entry_seen seen = { 0 };
	cache_walk(c, NOW_MS, on_entry, &seen);
	FUZZ_CHECK(seen.n == 1 && seen.bytes == st.bytes);
	uint32_t life = seen.ttl_left;
	/* A remembered failure lives servfail_ttl (RFC 9520 §3.2), which
	 * cache-min-ttl does not stretch; an answer at least the minimum. */
	uint32_t floor = WIRE_RCODE(flags) == WIRE_RCODE_SERVFAIL ? 1 : cfg->min_ttl;
	FUZZ_CHECK(life >= 1 && life >= floor && life <= cfg->max_ttl);
	if (WIRE_RCODE(flags) == WIRE_RCODE_SERVFAIL)
		FUZZ_CHECK(life <= cfg->servfail_ttl);

	/* The same question from other clients: any ID, case, RD, AD, EDNS
	 * size; same DO and CD (part of the key). */
	uint8_t lower[WIRE_NAME_MAX], upper[WIRE_NAME_MAX];
	for (size_t i = 0; i < q->qname_len; i++) {
		uint8_t ch = q->qname[i];
		lower[i] = ch >= 'A' && ch <= 'Z' ? (uint8_t)(ch + 32) : ch;
		upper[i] = ch >= 'a' && ch <= 'z' ? (uint8_t)(ch - 32) : ch;
	}
	uint16_t cd = q->flags & WIRE_FLAG_CD;
	struct {
		uint16_t id, flags;
		const uint8_t *name;
		bool edns;
		uint16_t udp;
		size_t limit;
		size_t cap;
	} clients[] = {
		{ 0x0001, WIRE_FLAG_RD, lower, false, 0, WIRE_UDP_MIN, sizeof(out) },
		{ 0xffff, 0, upper, true, 4096, 0, sizeof(out) },
		{ 0x1234, WIRE_FLAG_RD | WIRE_FLAG_AD, q->qname, true, 512, WIRE_MSG_MAX, sizeof(out) },
		{ 0x4321, WIRE_FLAG_RD, lower, true, 1400, 0, WIRE_HEADER_LEN + WIRE_NAME_MAX + 4 + WIRE_OPT_LEN },
	};
	for (size_t i = 0; i < sizeof(clients) / sizeof(clients[0]); i++) {
		struct wire_query cq;
		size_t len;
		bool edns = clients[i].edns || q->edns_do; /* DO needs EDNS */
		FUZZ_CHECK(fuzz_client_query(&cq, clients[i].id, clients[i].flags | cd,
					     clients[i].name, q->qname_len, q->qtype, q->qclass,
					     edns, clients[i].udp ? clients[i].udp : 1232,
					     q->edns_do));
		size_t limit = clients[i].limit ? clients[i].limit : wire_udp_limit(&cq, OUR_EDNS);
		size_t cap = clients[i].cap;

		/* Fresh: the stored TTLs (clamped). */
		FUZZ_CHECK(lookup(c, &cq, NOW_MS, cap, limit, out, &len, false) == CACHE_HIT);
		if (!(wire_get16(out + 2) & WIRE_FLAG_TC)) {
			FUZZ_CHECK(WIRE_RCODE(wire_get16(out + 2)) == WIRE_RCODE(flags));
			FUZZ_CHECK(wire_get16(out + 6) == wire_get16(ans + 6) &&
				   wire_get16(out + 8) == wire_get16(ans + 8));
			check_ttls(out, len, cfg->max_ttl, false, 0);
		}
		/* Older: every TTL counts down. */
		uint64_t later = NOW_MS + (uint64_t)(life - 1) * 1000 + (ctl & 1) * 999;
		enum cache_result res = lookup(c, &cq, later, cap, limit, out, &len, false);
		FUZZ_CHECK(res == CACHE_HIT || res == CACHE_HIT_PREFETCH);
		if (!(wire_get16(out + 2) & WIRE_FLAG_TC))
			check_ttls(out, len, cfg->max_ttl > life - 1 ? cfg->max_ttl - (life - 1) : 0,
				   false, 0);
	}

	/* Another DO or CD bit is another key. */
	struct wire_query other;
	size_t len;
	FUZZ_CHECK(fuzz_client_query(&other, 7, WIRE_FLAG_RD | cd, q->qname, q->qname_len,
				     q->qtype, q->qclass, true, 1232, !q->edns_do));
	FUZZ_CHECK(lookup(c, &other, NOW_MS, sizeof(out), 1232, out, &len, false) == CACHE_MISS);
	FUZZ_CHECK(fuzz_client_query(&other, 7, WIRE_FLAG_RD | (cd ^ WIRE_FLAG_CD), q->qname,
				     q->qname_len, q->qtype, q->qclass, q->edns_do, 1232,
				     q->edns_do));
	FUZZ_CHECK(lookup(c, &other, NOW_MS, sizeof(out), 1232, out, &len, false) == CACHE_MISS);

	/* Expired: a miss; served stale within the window with TTL 30. */
	uint64_t expired = NOW_MS + (uint64_t)life * 1000;
	enum cache_result stale = lookup(c, q, expired, sizeof(out), WIRE_MSG_MAX, out, &len, true);
	if (cfg->stale_max_age > 0) {
		FUZZ_CHECK(stale == CACHE_STALE);
		check_ttls(out, len, 30, true, 30);
	} else {
		FUZZ_CHECK(stale == CACHE_MISS);
	}
	FUZZ_CHECK(lookup(c, q, expired, sizeof(out), WIRE_MSG_MAX, out, &len, false) == CACHE_MISS);

	/* Storing again replaces; flushing by name empties the cache. */
	FUZZ_CHECK(cache_store(c, q, ans, ans_len, NOW_MS) == 0);
	FUZZ_CHECK(stats(c).entries == 1);
	FUZZ_CHECK(cache_flush_name(c, upper, q->qname_len, false) == 1);
	FUZZ_CHECK(stats(c).entries == 0 && stats(c).bytes == 0);
	cache_free(c);
}

static void count_entry(void *arg, const uint8_t *name, size_t name_len, uint16_t qtype,
			uint32_t ttl_left, size_t bytes, bool stale)
{
	(*(size_t *)arg)++;
}

/* Many entries: the same answer for other names (its first letter
 * changed, in the question and wherever a record points at it) and under
 * the other DO/CD keys, so that the table grows, the LRU order and the
 * caps are exercised. The caps hold throughout, the most recent entry is
 * always a hit, and a flush leaves nothing. */
static void check_many(const uint8_t *ans, size_t ans_len, const struct wire_query *q,
		       const struct cache_config *cfg)
{
	static uint8_t out[WIRE_MSG_MAX + WIRE_OPT_LEN], copy[WIRE_MSG_MAX];
	struct cache *c = cache_new(cfg);
	size_t len, stored = 0;
	FUZZ_CHECK(c);
	if (q->qname_len < 2)
		goto out; /* the root: nothing to rename */
	memcpy(copy, ans, ans_len);
	for (unsigned k = 0; k < 36; k++) {
		struct wire_query kq;
		uint8_t name[WIRE_NAME_MAX];
		memcpy(name, q->qname, q->qname_len);
		name[1] = (uint8_t)"0123456789abcdefghijklmnopqrstuvwxyz"[k]; /* 36 names */
		copy[WIRE_HEADER_LEN + 1] = name[1];
		bool dnssec_ok = k & 1, cd = k & 2;
		FUZZ_CHECK(fuzz_client_query(&kq, (uint16_t)k, WIRE_FLAG_RD | (cd ? WIRE_FLAG_CD : 0),
					     name, q->qname_len, q->qtype, q->qclass, dnssec_ok,
					     1232, dnssec_ok));
		int r = cache_store(c, &kq, copy, ans_len, NOW_MS + k);
		FUZZ_CHECK(r == 0 || r == -ENOSPC);
		struct cache_stats st = stats(c);
		FUZZ_CHECK(st.entries <= cfg->max_entries && st.bytes <= cfg->max_bytes);
		if (r == 0) {
			stored++;
			FUZZ_CHECK(lookup(c, &kq, NOW_MS + k, sizeof(out), WIRE_MSG_MAX, out, &len,
					  false) == CACHE_HIT);
		}
	}
	size_t walked = 0;
	cache_walk(c, NOW_MS + 36, count_entry, &walked);
	FUZZ_CHECK(walked == stats(c).entries && walked <= stored);

	/* A reload with smaller caps shrinks the cache at once. */
	struct cache_config smaller = *cfg;
	smaller.max_entries = cfg->max_entries / 2;
	cache_configure(c, &smaller);
	FUZZ_CHECK(stats(c).entries <= smaller.max_entries);
	size_t left = (size_t)stats(c).entries;
	FUZZ_CHECK(cache_flush_all(c) == left);
	FUZZ_CHECK(stats(c).entries == 0 && stats(c).bytes == 0);
out:
	cache_free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t name[WIRE_NAME_MAX];
	uint16_t qtype, qclass;

	if (size < 2)
		return 0;
	uint8_t ctl = data[0];
	uint16_t udp = (uint16_t)(WIRE_UDP_MIN + 16 * data[1]);
	const uint8_t *reply = data + 2;
	size_t len = size - 2;

	/* The question the reply answers (or some question, to see a reply
	 * that answers none rejected). */
	size_t name_len = fuzz_reply_question(reply, len, ctl, name, &qtype, &qclass);
	uint16_t id = len >= 2 ? wire_get16(reply) : 0;
	if (ctl & 0x20)
		id ^= 0x0101;
	uint16_t flags = WIRE_FLAG_RD | ((ctl & 4) ? WIRE_FLAG_CD : 0) | ((ctl & 8) ? WIRE_FLAG_AD : 0);
	bool edns = (ctl & 1) || (ctl & 2);
	struct wire_query q;
	if (!fuzz_client_query(&q, id, flags, name, name_len, qtype, qclass, edns, udp, ctl & 2))
		return 0; /* stubd never asks this upstream */

	bool matches = wire_reply_matches(reply, len, q.id, &q);
	if (ctl & 0x20)
		FUZZ_CHECK(!matches);
	if (!matches)
		return 0; /* upstream.c drops it here */

	uint8_t *ans = (uint8_t *)"not touched";
	size_t ans_len = 12345;
	struct scrub_counts counts;
	int r = scrub_reply_counted(reply, len, &q, &ans, &ans_len, &counts);
	FUZZ_CHECK(r == 0 || r == -EBADMSG);
	if (r < 0) {
		FUZZ_CHECK(ans == NULL && ans_len == 0);
		return 0;
	}
	check_scrubbed(reply, len, ans, ans_len, &q, &counts);
	check_cache(ans, ans_len, &q, &cache_variants[ctl >> 6], ctl);
	check_many(ans, ans_len, &q, &cache_variants[ctl >> 6]);
	free(ans);
	return 0;
}
