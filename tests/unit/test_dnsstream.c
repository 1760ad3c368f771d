/* test_dnsstream.c - unit tests for dnsstream.c: a stream cut into
 * messages however its bytes arrive, the queries in flight on one
 * connection (IDs, matching, resending once), and queries padded for the
 * stream (checked with ldns); and that a query's way through them
 * allocates nothing once the connection's table exists. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <ldns/ldns.h>

#include "stubd/dnsstream.h"
#include "stubd/wire.h"
#define PKT_MAX 70000 /* room for a 65,535-byte message */
#include "alloc_count.h"
#include "pkt.h"

/* ---- helpers -------------------------------------------------------- */

/* xorshift32: a seeded random source, as the caller would give one. */
static uint16_t xorshift16(void *arg)
{
	uint32_t *s = arg;
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (uint16_t)(*s >> 8);
}

/* A source with no randomness left: the table must still find free IDs. */
static uint16_t constant16(void *arg)
{
	return 0x4242;
}

/* A source that only knows a few values. */
static uint16_t few16(void *arg)
{
	unsigned *n = arg;
	return (uint16_t)(0xfff0 + (++*n % 4));
}

/* A message of len bytes (len >= 12) whose bytes say where they are. */
static void fake_message(uint8_t *out, size_t len, uint8_t tag)
{
	memset(out, 0, WIRE_HEADER_LEN);
	out[0] = tag;
	for (size_t i = WIRE_HEADER_LEN; i < len; i++)
		out[i] = (uint8_t)(tag + i);
}

/* prefix + message, appended at stream[*len]. */
static void frame(uint8_t *stream, size_t *len, const uint8_t *msg, size_t msg_len)
{
	wire_put16(stream + *len, (uint16_t)msg_len);
	memcpy(stream + *len + 2, msg, msg_len);
	*len += 2 + msg_len;
}

/* Two made-up messages of len1 and len2 bytes into m1 and m2, and both
 * framed one after the other into stream; returns the stream's length. */
static size_t two_framed(uint8_t *stream, uint8_t *m1, size_t len1, uint8_t *m2, size_t len2)
{
	size_t len = 0;
	fake_message(m1, len1, 0x10);
	fake_message(m2, len2, 0x80);
	frame(stream, &len, m1, len1);
	frame(stream, &len, m2, len2);
	return len;
}

struct got {
	unsigned n;
	size_t len[8];
	uint8_t msg[8][64];
	int error;
};

/* Feeds one piece to r the way a caller does: until every byte is used,
 * keeping the messages it yields. */
static void feed(struct dnsstream_reader *r, const uint8_t *data, size_t len, struct got *g)
{
	for (;;) {
		const uint8_t *msg;
		size_t used, msg_len;
		int rc = dnsstream_read(r, data, len, &used, &msg, &msg_len);
		assert_true(used <= len);
		assert_true(dnsstream_reader_pending(r) <= DNSSTREAM_READER_MAX);
		if (rc < 0) {
			g->error = rc;
			return;
		}
		data += used;
		len -= used;
		if (rc == 0) {
			assert_int_equal(len, 0);
			return;
		}
		assert_int_equal(rc, 1);
		assert_true(g->n < 8 && msg_len <= sizeof(g->msg[0]));
		memcpy(g->msg[g->n], msg, msg_len);
		g->len[g->n++] = msg_len;
	}
}

static struct dnsstream_reader reader; /* 64 KiB: not on the stack */

static void query_for(struct wire_query *q, const char *qname, uint16_t type, bool edns)
{
	assert_int_equal(pkt_client_query(q, qname, type, edns, false), WIRE_VERDICT_RESOLVE);
}

/* An answer to qname/type with ID id and one A record. */
static void reply_for(struct pkt *p, uint16_t id, const char *qname, uint16_t type)
{
	header(p, id, WIRE_FLAG_QR | WIRE_FLAG_RD | WIRE_FLAG_RA, 1, 1, 0, 0);
	question(p, qname, type);
	put16(p, 0xc00c); put16(p, type); put16(p, WIRE_CLASS_IN); put32(p, 300);
	put16(p, 4); put32(p, 0xc0000201);
}

/* ---- framing -------------------------------------------------------- */

/* Two messages, cut at every pair of points (i <= j) into three pieces:
 * each split of the prefixes and bodies, one piece holding both, empty
 * pieces. Always the same two messages, whole. */
static void test_read_every_split(void **state)
{
	uint8_t m1[29], m2[40], stream[128];
	size_t len = two_framed(stream, m1, sizeof(m1), m2, sizeof(m2));

	for (size_t i = 0; i <= len; i++) {
		for (size_t j = i; j <= len; j++) {
			struct got g = { 0 };
			dnsstream_reader_reset(&reader);
			feed(&reader, stream, i, &g);
			feed(&reader, stream + i, j - i, &g);
			feed(&reader, stream + j, len - j, &g);
			assert_int_equal(g.error, 0);
			assert_int_equal(g.n, 2);
			assert_int_equal(g.len[0], sizeof(m1));
			assert_memory_equal(g.msg[0], m1, sizeof(m1));
			assert_int_equal(g.len[1], sizeof(m2));
			assert_memory_equal(g.msg[1], m2, sizeof(m2));
			assert_int_equal(dnsstream_reader_pending(&reader), 0);
		}
	}
}

/* One byte at a time: the message comes with its last byte, not before;
 * what is held grows by one a byte. */
static void test_read_byte_by_byte(void **state)
{
	uint8_t m1[12], m2[33], stream[64];
	size_t len = two_framed(stream, m1, sizeof(m1), m2, sizeof(m2));

	dnsstream_reader_reset(&reader);
	size_t held = 0, seen = 0;
	for (size_t i = 0; i < len; i++) {
		const uint8_t *msg;
		size_t used, msg_len;
		int rc = dnsstream_read(&reader, stream + i, 1, &used, &msg, &msg_len);
		assert_int_equal(used, 1);
		bool last1 = i == 2 + sizeof(m1) - 1, last2 = i == len - 1;
		if (last1 || last2) {
			assert_int_equal(rc, 1);
			assert_int_equal(msg_len, last1 ? sizeof(m1) : sizeof(m2));
			assert_memory_equal(msg, last1 ? m1 : m2, msg_len);
			held = 0;
			seen++;
		} else {
			assert_int_equal(rc, 0);
			assert_null(msg);
			held++;
		}
		assert_int_equal(dnsstream_reader_pending(&reader), held);
	}
	assert_int_equal(seen, 2);
}

/* Many messages in one piece come out one per call, in place (no copy),
 * each call using exactly one framed message. */
static void test_read_many_in_one_piece(void **state)
{
	static uint8_t stream[100 * 66];
	size_t len = 0;
	for (unsigned k = 0; k < 100; k++) {
		uint8_t m[64];
		fake_message(m, 12 + k % 53, (uint8_t)k);
		frame(stream, &len, m, 12 + k % 53);
	}
	dnsstream_reader_reset(&reader);
	size_t off = 0;
	for (unsigned k = 0; k < 100; k++) {
		const uint8_t *msg;
		size_t used, msg_len;
		assert_int_equal(dnsstream_read(&reader, stream + off, len - off, &used, &msg, &msg_len), 1);
		assert_int_equal(msg_len, 12 + k % 53);
		assert_int_equal(used, 2 + msg_len);
		assert_ptr_equal(msg, stream + off + 2);
		assert_int_equal(msg[0], k);
		off += used;
	}
	assert_int_equal(off, len);
	const uint8_t *msg;
	size_t used, msg_len;
	assert_int_equal(dnsstream_read(&reader, stream + len, 0, &used, &msg, &msg_len), 0);
	assert_int_equal(used, 0);
}

/* Lengths 0 to 11 cannot hold a DNS header: -EPROTO, whole or split
 * across pieces, and it stays until reset. 12 is fine. */
static void test_read_short_lengths(void **state)
{
	const uint8_t *msg;
	size_t used, msg_len;
	uint8_t buf[2 + 12] = { 0 };

	for (unsigned n = 0; n < WIRE_HEADER_LEN; n++) {
		wire_put16(buf, (uint16_t)n);
		dnsstream_reader_reset(&reader);
		assert_int_equal(dnsstream_read(&reader, buf, sizeof(buf), &used, &msg, &msg_len), -EPROTO);
		assert_null(msg);

		/* The prefix split: its second byte tells. */
		dnsstream_reader_reset(&reader);
		assert_int_equal(dnsstream_read(&reader, buf, 1, &used, &msg, &msg_len), 0);
		assert_int_equal(used, 1);
		assert_int_equal(dnsstream_read(&reader, buf + 1, 1, &used, &msg, &msg_len), -EPROTO);

		/* Sticky: nothing is taken any more, even a good message. */
		uint8_t good[2 + 12] = { 0, 12 };
		assert_int_equal(dnsstream_read(&reader, good, sizeof(good), &used, &msg, &msg_len), -EPROTO);
		assert_int_equal(used, 0);
		assert_null(msg);
	}

	/* The error after a good message in the same piece. */
	uint8_t two[2 + 12 + 2] = { 0, 12 };
	dnsstream_reader_reset(&reader);
	assert_int_equal(dnsstream_read(&reader, two, sizeof(two), &used, &msg, &msg_len), 1);
	assert_int_equal(used, 14);
	assert_int_equal(dnsstream_read(&reader, two + used, 2, &used, &msg, &msg_len), -EPROTO);

	/* Reset: a new connection reads again. */
	dnsstream_reader_reset(&reader);
	wire_put16(buf, 12);
	assert_int_equal(dnsstream_read(&reader, buf, sizeof(buf), &used, &msg, &msg_len), 1);
	assert_int_equal(msg_len, 12);
}

/* The largest message: a prefix of 65,535 and nothing more is only
 * incomplete (the caller's timeout decides); sent in pieces, it comes out
 * whole, and the reader never holds more than it plus its prefix. Bytes
 * past it (the next message, however long) are not taken with it. */
static void test_read_largest(void **state)
{
	static uint8_t stream[2 + WIRE_MSG_MAX + 2 + 20];
	size_t len = 0;
	static uint8_t big[WIRE_MSG_MAX];
	fake_message(big, sizeof(big), 7);
	frame(stream, &len, big, sizeof(big));
	uint8_t small[20];
	fake_message(small, sizeof(small), 9);
	frame(stream, &len, small, sizeof(small));

	const uint8_t *msg;
	size_t used, msg_len;
	dnsstream_reader_reset(&reader);
	assert_int_equal(dnsstream_read(&reader, stream, 2, &used, &msg, &msg_len), 0);
	assert_int_equal(used, 2);
	assert_int_equal(dnsstream_reader_pending(&reader), 2);
	assert_int_equal(dnsstream_read(&reader, stream + 2, 0, &used, &msg, &msg_len), 0);

	/* The rest in pieces of 1000, the last running into the next message. */
	size_t off = 2;
	int rc = 0;
	while (rc == 0) {
		size_t piece = len - off < 1000 ? len - off : 1000;
		rc = dnsstream_read(&reader, stream + off, piece, &used, &msg, &msg_len);
		assert_true(dnsstream_reader_pending(&reader) <= DNSSTREAM_READER_MAX);
		off += used;
	}
	assert_int_equal(rc, 1);
	assert_int_equal(off, 2 + WIRE_MSG_MAX);
	assert_int_equal(msg_len, WIRE_MSG_MAX);
	assert_memory_equal(msg, big, WIRE_MSG_MAX);
	assert_int_equal(dnsstream_read(&reader, stream + off, len - off, &used, &msg, &msg_len), 1);
	assert_int_equal(msg_len, sizeof(small));

	/* Whole in one piece: in place. */
	dnsstream_reader_reset(&reader);
	assert_int_equal(dnsstream_read(&reader, stream, len, &used, &msg, &msg_len), 1);
	assert_ptr_equal(msg, stream + 2);
	assert_int_equal(used, 2 + WIRE_MSG_MAX);
}

/* ---- queries in flight ------------------------------------------------ */

static bool in_set(const uint16_t *ids, size_t n, uint16_t id)
{
	for (size_t i = 0; i < n; i++)
		if (ids[i] == id)
			return true;
	return false;
}

/* Up to the cap, every ID is new; then -EBUSY; a slot freed is usable
 * again. With a random source the IDs are not a count. */
static void test_ids_unique_up_to_cap(void **state)
{
	uint32_t seed = 12345;
	struct wire_query q;
	uint16_t ids[64], id;
	query_for(&q, "a.test", WIRE_TYPE_A, true);

	struct dnsstream_table *t = dnsstream_table_new(64, xorshift16, &seed);
	assert_non_null(t);
	assert_int_equal(dnsstream_cap(t), 64);
	unsigned steps = 0;
	for (size_t i = 0; i < 64; i++) {
		assert_int_equal(dnsstream_add(t, &q, &ids[i], &ids[i]), 0);
		assert_false(in_set(ids, i, ids[i]));
		if (i > 0 && ids[i] == (uint16_t)(ids[i - 1] + 1))
			steps++;
	}
	assert_true(steps < 4);
	assert_int_equal(dnsstream_count(t), 64);
	assert_int_equal(dnsstream_add(t, &q, NULL, &id), -EBUSY);
	assert_true(dnsstream_remove(t, ids[10], &ids[10], NULL));
	assert_int_equal(dnsstream_add(t, &q, NULL, &id), 0);
	assert_false(in_set(ids, 10, id) || in_set(ids + 11, 53, id));
	dnsstream_table_free(t);

	assert_null(dnsstream_table_new(0, xorshift16, &seed));
	assert_null(dnsstream_table_new(DNSSTREAM_INFLIGHT_MAX + 1, xorshift16, &seed));
	dnsstream_table_free(NULL);
}

/* However poor the random source, an ID in flight is never given twice:
 * thousands of adds and removes in random order, the IDs in flight kept
 * aside and checked. */
static void test_ids_never_reused_in_flight(void **state)
{
	uint32_t seed = 99, pick = 7;
	unsigned few = 0;
	struct {
		dnsstream_rand16_fn fn;
		void *arg;
	} sources[] = { { xorshift16, &seed }, { constant16, NULL }, { few16, &few } };
	struct wire_query q;
	query_for(&q, "b.test", WIRE_TYPE_AAAA, false);

	for (size_t s = 0; s < sizeof(sources) / sizeof(sources[0]); s++) {
		enum { CAP = 100 };
		struct dnsstream_table *t = dnsstream_table_new(CAP, sources[s].fn, sources[s].arg);
		uint16_t live[CAP];
		size_t n = 0;
		for (unsigned round = 0; round < 20000; round++) {
			bool add = n < CAP && (n == 0 || xorshift16(&pick) % 3 != 0);
			if (add) {
				uint16_t id;
				assert_int_equal(dnsstream_add(t, &q, (void *)(uintptr_t)round, &id), 0);
				assert_false(in_set(live, n, id));
				live[n++] = id;
			} else {
				size_t k = xorshift16(&pick) % n;
				struct dnsstream_query dq;
				assert_false(dnsstream_remove(t, live[k], &pick, NULL)); /* not its owner */
				/* its owner: whoever added it, found by taking it */
				struct pkt p;
				reply_for(&p, live[k], "B.TEST", WIRE_TYPE_AAAA);
				assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 1);
				assert_int_equal(dq.q.id, live[k]);
				live[k] = live[--n];
			}
			assert_int_equal(dnsstream_count(t), n);
		}
		/* Every ID still in flight is found, none twice. */
		struct dnsstream_query dq;
		size_t taken = 0;
		while (dnsstream_take(t, &dq)) {
			assert_true(in_set(live, n, dq.q.id));
			taken++;
		}
		assert_int_equal(taken, n);
		assert_int_equal(dnsstream_get_stats(t)->unknown_id, 0);
		dnsstream_table_free(t);
	}
}

/* RFC 7766 §6.2.1.1: answers come in any order, each to its own query,
 * whatever the letter case of the name in it. */
static void test_match_out_of_order(void **state)
{
	static const char *names[] = { "a.test", "b.test", "www.example.org", "x.y.z", "a.test" };
	static const uint16_t types[] = { WIRE_TYPE_A, WIRE_TYPE_A, WIRE_TYPE_AAAA, WIRE_TYPE_MX,
					  WIRE_TYPE_AAAA };
	static const char *answered_as[] = { "A.TEST", "b.Test", "WWW.example.ORG", "x.y.z",
					     "a.TEST" };
	uint32_t seed = 4242;
	int owners[5];
	uint16_t ids[5];
	struct dnsstream_table *t = dnsstream_table_new(8, xorshift16, &seed);

	for (size_t i = 0; i < 5; i++) {
		struct wire_query q;
		query_for(&q, names[i], types[i], i % 2);
		assert_int_equal(dnsstream_add(t, &q, &owners[i], &ids[i]), 0);
	}
	static const size_t order[] = { 3, 0, 4, 2, 1 };
	for (size_t k = 0; k < 5; k++) {
		size_t i = order[k];
		struct pkt p;
		struct dnsstream_query dq;
		reply_for(&p, ids[i], answered_as[i], types[i]);
		assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 1);
		assert_ptr_equal(dq.owner, &owners[i]);
		assert_int_equal(dq.q.id, ids[i]);
		assert_int_equal(dq.q.qtype, types[i]);
		assert_false(dq.resent);
		assert_int_equal(dnsstream_count(t), 4 - k);
		/* A second copy of the same answer finds nothing now. */
		assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 0);
		assert_int_equal(dnsstream_get_stats(t)->unknown_id, k + 1);
	}
	assert_int_equal(dnsstream_get_stats(t)->wrong_question, 0);
	dnsstream_table_free(t);
}

/* A message with the ID of a query in flight that does not answer it is
 * dropped and counted; the query waits on for its real answer. */
static void test_match_drops_wrong_question(void **state)
{
	uint32_t seed = 1;
	int owner;
	uint16_t id;
	struct wire_query q;
	struct dnsstream_query dq;
	struct pkt p;
	struct dnsstream_table *t = dnsstream_table_new(4, xorshift16, &seed);
	query_for(&q, "www.example.test", WIRE_TYPE_A, true);
	assert_int_equal(dnsstream_add(t, &q, &owner, &id), 0);

	reply_for(&p, id, "www.example.tesu", WIRE_TYPE_A); /* another name */
	assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 0);
	reply_for(&p, id, "www.example.test", WIRE_TYPE_AAAA); /* another type */
	assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 0);
	reply_for(&p, id, "www.example.test", WIRE_TYPE_A);
	wire_put16(p.b + 12 + 18 + 2, 3); /* another class (CHAOS) */
	assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 0);
	reply_for(&p, id, "www.example.test", WIRE_TYPE_A);
	wire_put16(p.b + 2, WIRE_FLAG_RD); /* QR=0: a query, not an answer */
	assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 0);
	reply_for(&p, id, "www.example.test", WIRE_TYPE_A);
	assert_int_equal(dnsstream_match(t, p.b, 11, &dq), 0); /* no header */
	assert_int_equal(dnsstream_get_stats(t)->wrong_question, 4);
	assert_int_equal(dnsstream_get_stats(t)->unknown_id, 1);
	reply_for(&p, (uint16_t)(id + 1), "www.example.test", WIRE_TYPE_A);
	assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 0);
	assert_int_equal(dnsstream_get_stats(t)->unknown_id, 2);
	assert_int_equal(dnsstream_count(t), 1);

	reply_for(&p, id, "www.example.test", WIRE_TYPE_A);
	assert_int_equal(dnsstream_match(t, p.b, p.len, &dq), 1);
	assert_ptr_equal(dq.owner, &owner);
	assert_int_equal(dnsstream_count(t), 0);
	dnsstream_table_free(t);
}

/* The connection dies: every query comes back, oldest first, and goes
 * out again once on a new connection with a new ID; the new connection
 * dying too fails them (the caller's answer: SERVFAIL or another server). */
static void test_resend_once(void **state)
{
	uint32_t seed = 77;
	int owners[3];
	uint16_t ids[3], id;
	struct dnsstream_query dq;
	struct dnsstream_table *first = dnsstream_table_new(4, xorshift16, &seed);
	struct dnsstream_table *second = dnsstream_table_new(4, xorshift16, &seed);
	struct dnsstream_table *third = dnsstream_table_new(4, xorshift16, &seed);

	for (size_t i = 0; i < 3; i++) {
		struct wire_query q;
		query_for(&q, i == 1 ? "one.test" : "other.test", WIRE_TYPE_A, true);
		assert_int_equal(dnsstream_add(first, &q, &owners[i], &ids[i]), 0);
	}
	/* The middle one is answered; two are left when the connection dies. */
	struct pkt p;
	reply_for(&p, ids[1], "one.test", WIRE_TYPE_A);
	assert_int_equal(dnsstream_match(first, p.b, p.len, &dq), 1);

	size_t order[] = { 0, 2 };
	for (size_t k = 0; k < 2; k++) {
		assert_true(dnsstream_take(first, &dq));
		assert_ptr_equal(dq.owner, &owners[order[k]]);
		assert_int_equal(dq.q.id, ids[order[k]]);
		assert_false(dq.resent);
		assert_int_equal(dnsstream_resend(second, &dq, &id), 0);
	}
	assert_false(dnsstream_take(first, &dq));
	assert_int_equal(dnsstream_count(first), 0);
	assert_int_equal(dnsstream_count(second), 2);

	/* The second connection dies too: no third try. */
	for (size_t k = 0; k < 2; k++) {
		assert_true(dnsstream_take(second, &dq));
		assert_true(dq.resent);
		assert_ptr_equal(dq.owner, &owners[order[k]]);
		assert_int_equal(dnsstream_resend(third, &dq, &id), -EALREADY);
	}
	assert_int_equal(dnsstream_count(third), 0);

	/* A resend finds the table full like any query. */
	struct wire_query q;
	query_for(&q, "full.test", WIRE_TYPE_A, false);
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(dnsstream_add(third, &q, NULL, &id), 0);
	dq.resent = false;
	assert_int_equal(dnsstream_resend(third, &dq, &id), -EBUSY);

	dnsstream_table_free(first);
	dnsstream_table_free(second);
	dnsstream_table_free(third);
}

/* ---- writing a query ----------------------------------------------------- */

/* Walks the OPT RDATA ldns kept for p; returns how many options it has,
 * their codes in codes[], and the padding option's length in *pad_len
 * (and checks its bytes are zero). */
static size_t ldns_options(ldns_pkt *p, uint16_t *codes, size_t max, size_t *pad_len)
{
	ldns_rdf *data = ldns_pkt_edns_data(p);
	size_t n = 0;
	*pad_len = SIZE_MAX;
	if (!data)
		return 0;
	const uint8_t *b = ldns_rdf_data(data);
	size_t len = ldns_rdf_size(data);
	for (size_t o = 0; o < len;) {
		assert_true(o + 4 <= len);
		uint16_t code = wire_get16(b + o), olen = wire_get16(b + o + 2);
		assert_true(o + 4 + olen <= len);
		if (code == DNSSTREAM_OPT_PADDING) {
			*pad_len = olen;
			for (size_t i = 0; i < olen; i++)
				assert_int_equal(b[o + 4 + i], 0);
		}
		if (n < max)
			codes[n] = code;
		n++;
		o += 4 + (size_t)olen;
	}
	return n;
}

/* Checks a prepared query: framed, a multiple of 128, ID set, parsed by
 * ldns with one padding option; and read back whole through a reader.
 * Returns the ldns packet (the caller frees it). */
static ldns_pkt *check_prepared(const uint8_t *out, size_t out_len, uint16_t id)
{
	assert_true(out_len > 2);
	assert_int_equal(wire_get16(out), out_len - 2);
	assert_int_equal((out_len - 2) % DNSSTREAM_PAD_BLOCK, 0);
	assert_int_equal(wire_get16(out + 2), id);

	ldns_pkt *p = NULL;
	assert_int_equal(ldns_wire2pkt(&p, out + 2, out_len - 2), LDNS_STATUS_OK);
	assert_true(ldns_pkt_edns(p));
	assert_int_equal(ldns_pkt_id(p), id);
	uint16_t codes[8];
	size_t pad_len;
	size_t n = ldns_options(p, codes, 8, &pad_len);
	assert_true(n >= 1);
	assert_int_equal(codes[n - 1], DNSSTREAM_OPT_PADDING); /* last, once */
	assert_true(pad_len < DNSSTREAM_PAD_BLOCK);

	const uint8_t *msg;
	size_t used, msg_len;
	dnsstream_reader_reset(&reader);
	assert_int_equal(dnsstream_read(&reader, out, out_len, &used, &msg, &msg_len), 1);
	assert_int_equal(used, out_len);
	return p;
}

/* A name of about len wire bytes: labels of up to 63 'a'..'z'. */
static void long_name(char *text, size_t wire_len)
{
	size_t pos = 0, left = wire_len - 1; /* the root label */
	while (left >= 2) {
		size_t label = left - 1 > 63 ? 63 : left - 1;
		if (left - 1 - label == 1)
			label--; /* no 0-byte label left over */
		for (size_t i = 0; i < label; i++, pos++)
			text[pos] = (char)('a' + pos % 26);
		text[pos++] = '.';
		left -= 1 + label;
	}
	text[pos] = '\0';
}

/* Every name length, with stubd's own OPT and with none: the result is a
 * multiple of 128, its padding option last and its question unchanged. */
static void test_prepare_padding_lengths(void **state)
{
	static uint8_t out[2 + 1024];
	unsigned seen[3] = { 0 };
	for (size_t wire_len = 3; wire_len <= WIRE_NAME_MAX; wire_len++) {
		char text[300];
		long_name(text, wire_len);
		for (int edns = 0; edns <= 1; edns++) {
			struct pkt p;
			size_t out_len;
			header(&p, 0x5555, WIRE_FLAG_RD, 1, 0, 0, edns);
			question(&p, text, WIRE_TYPE_AAAA);
			if (edns)
				opt(&p, 1232, 0, true);
			assert_int_equal(dnsstream_prepare(out, sizeof(out), p.b, p.len, 0xbeef, 1400,
							   &out_len), 0);
			ldns_pkt *lp = check_prepared(out, out_len, 0xbeef);
			assert_int_equal(ldns_pkt_get_rcode(lp), 0);
			assert_true(ldns_pkt_rd(lp));
			assert_int_equal(ldns_pkt_edns_udp_size(lp), edns ? 1232 : 1400);
			assert_int_equal(ldns_pkt_edns_do(lp), edns);
			assert_int_equal(ldns_pkt_arcount(lp), 0); /* the OPT is not a record to ldns */
			/* Question bytes as they were. */
			assert_memory_equal(out + 2 + WIRE_HEADER_LEN, p.b + WIRE_HEADER_LEN,
					    p.len - WIRE_HEADER_LEN - (edns ? WIRE_OPT_LEN : 0));
			size_t blocks = (out_len - 2) / DNSSTREAM_PAD_BLOCK;
			assert_true(blocks >= 1 && blocks <= 3);
			seen[blocks - 1]++;
			ldns_pkt_free(lp);
		}
	}
	/* Names that long make 128-, 256- and 384-byte messages. */
	assert_true(seen[0] > 0 && seen[1] > 0 && seen[2] > 0);
}

/* The exact sizes: the padding fills up to the next block, 0 bytes when
 * the option header alone gets there. */
static void test_prepare_exact_sizes(void **state)
{
	static uint8_t out[2 + 1024];
	for (size_t wire_len = 3; wire_len <= WIRE_NAME_MAX; wire_len++) {
		char text[300];
		struct pkt p;
		size_t out_len;
		long_name(text, wire_len);
		header(&p, 1, 0, 1, 0, 0, 1);
		question(&p, text, WIRE_TYPE_A);
		opt(&p, 1232, 0, false);
		assert_int_equal(dnsstream_prepare(out, sizeof(out), p.b, p.len, 1, 0, &out_len), 0);
		size_t unpadded = p.len + 4;
		size_t want = (unpadded + 127) / 128 * 128;
		assert_int_equal(out_len - 2, want);
		assert_int_equal(wire_get16(out + 2 + p.len - 2), 4 + want - unpadded);
		assert_int_equal(wire_get16(out + 2 + p.len + 2), want - unpadded);
	}
}

/* A query with an OPT of its own: its payload size, version, DO bit and
 * options (a cookie, client subnet) are kept in order; its padding
 * option is replaced by one of the right length. */
static void test_prepare_keeps_options(void **state)
{
	static uint8_t out[2 + 1024];
	struct pkt p;
	size_t out_len;
	header(&p, 9, WIRE_FLAG_RD | WIRE_FLAG_CD, 1, 0, 0, 1);
	question(&p, "www.example.test", WIRE_TYPE_A);
	put8(&p, 0);
	put16(&p, WIRE_TYPE_OPT); put16(&p, 4096); put32(&p, 0x00008000);
	size_t rdlen_at = p.len;
	put16(&p, 0);
	put16(&p, 10); put16(&p, 8); put32(&p, 0x01020304); put32(&p, 0x05060708); /* COOKIE */
	put16(&p, 12); put16(&p, 3); put8(&p, 0); put8(&p, 0); put8(&p, 0); /* old padding */
	put16(&p, 8); put16(&p, 7); put16(&p, 1); put8(&p, 24); put8(&p, 0); /* ECS 192.0.2/24 */
	put8(&p, 192); put8(&p, 0); put8(&p, 2);
	wire_put16(p.b + rdlen_at, (uint16_t)(p.len - rdlen_at - 2));

	assert_int_equal(dnsstream_prepare(out, sizeof(out), p.b, p.len, 0x0102, 1232, &out_len), 0);
	ldns_pkt *lp = check_prepared(out, out_len, 0x0102);
	assert_true(ldns_pkt_cd(lp));
	assert_int_equal(ldns_pkt_edns_udp_size(lp), 4096);
	assert_true(ldns_pkt_edns_do(lp));
	uint16_t codes[8];
	size_t pad_len;
	assert_int_equal(ldns_options(lp, codes, 8, &pad_len), 3);
	assert_int_equal(codes[0], 10);
	assert_int_equal(codes[1], 8);
	assert_int_equal(codes[2], DNSSTREAM_OPT_PADDING);
	/* The cookie's bytes, as they were. */
	const uint8_t *data = ldns_rdf_data(ldns_pkt_edns_data(lp));
	assert_memory_equal(data + 4, "\1\2\3\4\5\6\7\10", 8);
	/* ldns reads the options too. */
	ldns_edns_option_list *list = ldns_pkt_edns_get_option_list(lp);
	assert_non_null(list);
	assert_int_equal(ldns_edns_option_list_get_count(list), 3);
	assert_int_equal(ldns_edns_get_code(ldns_edns_option_list_get_option(list, 2)),
			 LDNS_EDNS_PADDING);
	assert_int_equal(ldns_edns_get_size(ldns_edns_option_list_get_option(list, 2)), pad_len);
	ldns_pkt_free(lp);
}

/* A buffer one byte short is refused, an exact one is enough; so is a
 * result past 65,535 bytes. */
static void test_prepare_does_not_fit(void **state)
{
	static uint8_t out[2 + WIRE_MSG_MAX + 128];
	static struct pkt p;
	size_t out_len, need;
	header(&p, 1, 0, 1, 0, 0, 0);
	question(&p, "a.test", WIRE_TYPE_A);
	assert_int_equal(dnsstream_prepare(out, sizeof(out), p.b, p.len, 1, 1232, &need), 0);
	assert_int_equal(need, 2 + 128);
	for (size_t cap = 0; cap < need; cap++) {
		assert_int_equal(dnsstream_prepare(out, cap, p.b, p.len, 1, 1232, &out_len), -EMSGSIZE);
		assert_int_equal(out_len, 0);
	}
	assert_int_equal(dnsstream_prepare(out, need, p.b, p.len, 1, 1232, &out_len), 0);

	/* An option so big that padding would pass 65,535. */
	header(&p, 1, 0, 1, 0, 0, 1);
	question(&p, "a.test", WIRE_TYPE_A);
	put8(&p, 0);
	put16(&p, WIRE_TYPE_OPT); put16(&p, 1232); put32(&p, 0);
	size_t opt_len = WIRE_MSG_MAX - p.len - 2 - 4 - 10;
	put16(&p, (uint16_t)(4 + opt_len));
	put16(&p, 65001); put16(&p, (uint16_t)opt_len);
	memset(p.b + p.len, 0xab, opt_len);
	p.len += opt_len;
	assert_true(p.len <= WIRE_MSG_MAX);
	assert_int_equal(dnsstream_prepare(out, sizeof(out), p.b, p.len, 1, 1232, &out_len), -EMSGSIZE);
}

static int prepare(const struct pkt *p)
{
	static uint8_t out[2 + 2048];
	size_t out_len;
	return dnsstream_prepare(out, sizeof(out), p->b, p->len, 1, 1232, &out_len);
}

/* What is not a query that can be padded: refused, nothing written. */
static void test_prepare_refuses(void **state)
{
	struct pkt p;

	header(&p, 1, WIRE_FLAG_QR, 1, 0, 0, 0); /* an answer */
	question(&p, "a.test", WIRE_TYPE_A);
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 0, 0, 0);
	question(&p, "a.test", WIRE_TYPE_A);
	p.len--; /* cut short */
	assert_int_equal(prepare(&p), -EBADMSG);
	p.len = 11;
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 0, 0, 0);
	question(&p, "a.test", WIRE_TYPE_A);
	put8(&p, 0); /* a byte after the last record */
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 0, 0, 2); /* two OPT records */
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 0, false);
	opt(&p, 1232, 0, false);
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 0, 0, 1); /* an OPT not owned by the root */
	question(&p, "a.test", WIRE_TYPE_A);
	put16(&p, 0xc00c); put16(&p, WIRE_TYPE_OPT); put16(&p, 1232); put32(&p, 0); put16(&p, 0);
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 1, 0, 0); /* an OPT in the answer section */
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 0, false);
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 0, 0, 1); /* an option running past the RDATA */
	question(&p, "a.test", WIRE_TYPE_A);
	put8(&p, 0); put16(&p, WIRE_TYPE_OPT); put16(&p, 1232); put32(&p, 0); put16(&p, 6);
	put16(&p, 10); put16(&p, 8); put16(&p, 0);
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 0, 0, 1); /* half an option header */
	question(&p, "a.test", WIRE_TYPE_A);
	put8(&p, 0); put16(&p, WIRE_TYPE_OPT); put16(&p, 1232); put32(&p, 0); put16(&p, 2);
	put16(&p, 10);
	assert_int_equal(prepare(&p), -EBADMSG);

	header(&p, 1, 0, 1, 0, 0, 2); /* signed: padding would break the TSIG */
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 0, false);
	name(&p, "key.test"); put16(&p, WIRE_TYPE_TSIG); put16(&p, 255); put32(&p, 0); put16(&p, 0);
	assert_int_equal(prepare(&p), -ENOTSUP);

	header(&p, 1, 0, 1, 0, 0, 2); /* a record after the OPT */
	question(&p, "a.test", WIRE_TYPE_A);
	opt(&p, 1232, 0, false);
	put16(&p, 0xc00c); put16(&p, WIRE_TYPE_A); put16(&p, 1); put32(&p, 0); put16(&p, 4);
	put32(&p, 0);
	assert_int_equal(prepare(&p), -ENOTSUP);

	/* The same record before the OPT is fine. */
	header(&p, 1, 0, 1, 0, 0, 2);
	question(&p, "a.test", WIRE_TYPE_A);
	put16(&p, 0xc00c); put16(&p, WIRE_TYPE_A); put16(&p, 1); put32(&p, 0); put16(&p, 4);
	put32(&p, 0);
	opt(&p, 1232, 0, false);
	assert_int_equal(prepare(&p), 0);
}

/* ---- the steady path ------------------------------------------------------ */

/* A connection's life after its table is made: queries padded, put in
 * flight, their answers read from the stream in pieces and matched, a
 * query given up, the rest taken when the connection dies. No allocation
 * anywhere (the reader and the out buffers are the caller's). */
static void test_steady_path_allocates_nothing(void **state)
{
	uint32_t seed = 5;
	static uint8_t out[2 + 512], stream[4096];
	struct dnsstream_table *t = dnsstream_table_new(64, xorshift16, &seed);
	assert_non_null(t);
	dnsstream_reader_reset(&reader);
	unsigned long before = allocations;

	for (unsigned round = 0; round < 50; round++) {
		struct wire_query q;
		struct pkt p;
		uint16_t ids[8];
		size_t len = 0, out_len;
		int owner;
		query_for(&q, round & 1 ? "www.example.test" : "Mail.Example.Test", WIRE_TYPE_A, true);
		for (unsigned i = 0; i < 8; i++) {
			assert_int_equal(dnsstream_add(t, &q, &owner, &ids[i]), 0);
			header(&p, 0, WIRE_FLAG_RD, 1, 0, 0, 1);
			question(&p, round & 1 ? "www.example.test" : "Mail.Example.Test", WIRE_TYPE_A);
			opt(&p, 1232, 0, false);
			assert_int_equal(dnsstream_prepare(out, sizeof(out), p.b, p.len, ids[i], 1232,
							   &out_len), 0);
			/* The answers, newest first, framed into one stream. */
			reply_for(&p, ids[i], round & 1 ? "WWW.example.test" : "mail.example.test",
				  WIRE_TYPE_A);
			memmove(stream + 2 + p.len, stream, len);
			wire_put16(stream, (uint16_t)p.len);
			memcpy(stream + 2, p.b, p.len);
			len += 2 + p.len;
		}
		/* Read in pieces of 7 bytes: copies into the reader, no more. */
		size_t matched = 0;
		for (size_t off = 0; off < len;) {
			size_t piece = len - off < 7 ? len - off : 7, used;
			const uint8_t *msg;
			size_t msg_len;
			int rc = dnsstream_read(&reader, stream + off, piece, &used, &msg, &msg_len);
			assert_true(rc >= 0);
			off += used;
			if (rc == 1 && matched < 7) {
				struct dnsstream_query dq;
				assert_int_equal(dnsstream_match(t, msg, msg_len, &dq), 1);
				matched++;
			}
		}
		/* The oldest was never matched: given up, or left for the end. */
		if (round % 2 == 0)
			assert_true(dnsstream_remove(t, ids[0], &owner, NULL));
	}
	struct dnsstream_query dq;
	size_t left = 0;
	while (dnsstream_take(t, &dq))
		left++;
	assert_int_equal(left, 25);
	assert_int_equal(allocations, before);
	dnsstream_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_every_split),
		cmocka_unit_test(test_read_byte_by_byte),
		cmocka_unit_test(test_read_many_in_one_piece),
		cmocka_unit_test(test_read_short_lengths),
		cmocka_unit_test(test_read_largest),
		cmocka_unit_test(test_ids_unique_up_to_cap),
		cmocka_unit_test(test_ids_never_reused_in_flight),
		cmocka_unit_test(test_match_out_of_order),
		cmocka_unit_test(test_match_drops_wrong_question),
		cmocka_unit_test(test_resend_once),
		cmocka_unit_test(test_prepare_padding_lengths),
		cmocka_unit_test(test_prepare_exact_sizes),
		cmocka_unit_test(test_prepare_keeps_options),
		cmocka_unit_test(test_prepare_does_not_fit),
		cmocka_unit_test(test_prepare_refuses),
		cmocka_unit_test(test_steady_path_allocates_nothing),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
