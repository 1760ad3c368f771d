/* fuzz_dnsstream.c - libFuzzer target: a DNS stream connection's bytes, as
 * a TLS or TCP upstream sends them, through dnsstream.h: framing, the
 * queries in flight, resending, and padded queries.
 *
 * Input: two control bytes, the piece sizes, then the stream.
 *   byte 0: bits 0-3 the table's cap less one (1 to 16 queries in flight);
 *           bit 4 a constant random source (IDs must stay unique all the
 *           same); bit 5 every other reply keeps the message's own ID and
 *           flags (most then answer nothing); bit 6 replies spell the name
 *           in other letter case (still answers); bit 7 every other reply
 *           asks another type (the wrong question: dropped, the query
 *           waits on);
 *   byte 1: bits 0-2 how many piece sizes follow, less one; bits 3-4 which
 *           query in flight is answered next (oldest, newest, one picked
 *           by a stride, the most recently added); bits 5-7 the seed of
 *           the random source and the stride;
 *   then the piece sizes, used in turn: 0 an empty piece, 1-239 that many
 *   bytes, 240-255 2^(b-232) bytes (256 bytes to 8 MiB: the rest).
 *
 * The stream is fed to a reader in those pieces and checked against a
 * plain walk of the same bytes: the same messages, each exactly as long
 * as its prefix said and at least a header, the reader never holding
 * more than one message and its prefix, -EPROTO exactly where a length
 * below 12 stands, and sticky until reset. Then each message gives the
 * question of a query put in flight (a table of the cap above) and is
 * sent back as its reply, interleaved and out of order; the table must
 * answer as wire_reply_matches() says for the query holding that ID, keep
 * IDs unique, count what it drops, hand back every query left, oldest
 * first, when the connection dies, and resend each once only. Last, each
 * message (QR cleared) is prepared for the stream: a multiple of 128
 * bytes, its options kept, read back whole by a reader, and parsed by
 * ldns whenever ldns parses the message itself.
 */
#include "fuzz_common.h"

#include "stubd/dnsstream.h"

#define STREAM_INPUT_MAX (1u << 20)
/* Messages the table and prepare steps look at: enough to fill any cap
 * several times over. */
#define MAX_QUERIES 64

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

static struct dnsstream_reader reader;

/* ---- framing ------------------------------------------------------------ */

/* The stream as a plain walk sees it. */
struct walk {
	size_t count;          /* whole messages before the end or an error */
	size_t off[STREAM_INPUT_MAX / (2 + WIRE_HEADER_LEN) + 1]; /* where each one's prefix is */
	bool error;            /* a length below 12 after them */
	size_t pending;        /* bytes of an incomplete message at the end */
};

static struct walk expect;

static void walk_stream(const uint8_t *s, size_t len, struct walk *w)
{
	size_t off = 0;
	w->count = 0;
	w->error = false;
	w->pending = 0;
	while (len - off >= 2) {
		size_t n = wire_get16(s + off);
		if (n < WIRE_HEADER_LEN) {
			w->error = true;
			return;
		}
		if (len - off - 2 < n)
			break;
		w->off[w->count++] = off;
		off += 2 + n;
	}
	w->pending = len - off;
}

static size_t piece_size(uint8_t b)
{
	return b < 240 ? b : (size_t)1 << (b - 232);
}

/* Feeds the stream in pieces and checks every message against the walk. */
static void check_framing(const uint8_t *s, size_t len, const uint8_t *sizes, size_t k)
{
	size_t off = 0, seen = 0, empties = 0;
	int error = 0;
	bool sticky_seen = false;
	dnsstream_reader_reset(&reader);
	FUZZ_CHECK(dnsstream_reader_pending(&reader) == 0);

	for (size_t p = 0; off < len && !sticky_seen; p++) {
		size_t piece = piece_size(sizes[p % k]);
		/* A whole round of empty pieces: one byte, so it ends. */
		empties = piece == 0 ? empties + 1 : 0;
		if (empties > k)
			piece = 1;
		if (piece > len - off)
			piece = len - off;
		const uint8_t *data = s + off;
		size_t left = piece;
		for (;;) {
			const uint8_t *msg = (const uint8_t *)"x";
			size_t used = 99, msg_len = 99;
			int rc = dnsstream_read(&reader, data, left, &used, &msg, &msg_len);
			FUZZ_CHECK(used <= left);
			FUZZ_CHECK(dnsstream_reader_pending(&reader) <= DNSSTREAM_READER_MAX);
			if (rc < 0) {
				FUZZ_CHECK(rc == -EPROTO && msg == NULL && msg_len == 0);
				if (error) { /* sticky: nothing taken after it */
					FUZZ_CHECK(used == 0);
					sticky_seen = true;
				}
				error = rc;
				break;
			}
			data += used;
			left -= used;
			if (rc == 0) {
				FUZZ_CHECK(left == 0 && msg == NULL && msg_len == 0);
				break;
			}
			FUZZ_CHECK(rc == 1);
			FUZZ_CHECK(seen < expect.count);
			size_t at = expect.off[seen++];
			FUZZ_CHECK(msg_len >= WIRE_HEADER_LEN && msg_len == wire_get16(s + at));
			FUZZ_CHECK(memcmp(msg, s + at + 2, msg_len) == 0);
			/* A message ends the call: it is read before more is taken. */
			FUZZ_CHECK((size_t)(data - s) == at + 2 + msg_len);
		}
		off += piece;
	}
	FUZZ_CHECK(seen == expect.count);
	FUZZ_CHECK((error != 0) == expect.error);
	if (!error) {
		FUZZ_CHECK(dnsstream_reader_pending(&reader) == expect.pending);
		return;
	}
	/* Sticky until reset, then a new stream reads again. */
	static const uint8_t good[2 + WIRE_HEADER_LEN] = { 0, WIRE_HEADER_LEN };
	const uint8_t *msg;
	size_t used, msg_len;
	FUZZ_CHECK(dnsstream_read(&reader, good, sizeof(good), &used, &msg, &msg_len) == -EPROTO);
	FUZZ_CHECK(used == 0 && msg == NULL);
	dnsstream_reader_reset(&reader);
	FUZZ_CHECK(dnsstream_read(&reader, good, sizeof(good), &used, &msg, &msg_len) == 1);
	FUZZ_CHECK(used == sizeof(good) && msg_len == WIRE_HEADER_LEN);
}

/* ---- queries in flight ------------------------------------------------------ */

struct sent {
	struct wire_query q;   /* as given to the table (q.id not used) */
	uint16_t id;           /* on the connection it is live on */
	unsigned seq;          /* order of sending on that connection */
	bool added, live, resent;
};

static struct sent model[MAX_QUERIES];
static size_t n_model;

static uint16_t fuzz_rand16(void *arg)
{
	uint32_t *s = arg;
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return (uint16_t)(*s >> 8);
}

static uint16_t constant_rand16(void *arg)
{
	return 0x0707;
}

/* The message's question as a query's (its own, or example.com A
 * when it has none). False when stubd would never send it upstream. */
static bool question_of(const uint8_t *msg, size_t len, struct wire_query *q)
{
	uint8_t name[WIRE_NAME_MAX];
	uint16_t qtype, qclass;
	size_t name_len = fuzz_reply_question(msg, len, 0, name, &qtype, &qclass);
	return fuzz_client_query(q, 0, WIRE_FLAG_RD, name, name_len, qtype, qclass, false, 1232,
				 false);
}

/* The query live on the first connection (resent false) or the second
 * (true) with this ID: IDs are unique per connection, not across them. */
static struct sent *live_with_id(uint16_t id, bool resent)
{
	struct sent *found = NULL;
	for (size_t i = 0; i < n_model; i++) {
		if (model[i].live && model[i].resent == resent && model[i].id == id) {
			FUZZ_CHECK(!found); /* an ID in flight twice */
			found = &model[i];
		}
	}
	return found;
}

static size_t live_count(void)
{
	size_t n = 0;
	for (size_t i = 0; i < n_model; i++)
		n += model[i].live;
	return n;
}

struct reply_ctl {
	uint8_t ctl, order, stride;
	unsigned replies;      /* sent so far */
	size_t last_added;
	uint64_t unknown_id, wrong_question; /* what the table must have counted */
};

/* The live query to answer next, by the order byte 1 chose. */
static struct sent *pick(struct reply_ctl *rc)
{
	struct sent *best = NULL;
	size_t live = live_count(), k = 0, target = live ? (rc->stride * rc->replies) % live : 0;
	for (size_t i = 0; i < n_model; i++) {
		struct sent *e = &model[i];
		if (!e->live)
			continue;
		switch (rc->order) {
		case 0: /* oldest */
			if (!best || e->seq < best->seq)
				best = e;
			break;
		case 1: /* newest */
			if (!best || e->seq > best->seq)
				best = e;
			break;
		case 2: /* by stride */
			if (k++ == target)
				best = e;
			break;
		default: /* the one just added, else the first */
			if (!best || i == rc->last_added)
				best = e;
			break;
		}
	}
	return best;
}

/* Sends back the message j came from as the reply to query j, altered as
 * ctl says, and checks the table against wire_reply_matches(). */
static void answer(struct dnsstream_table *t, const uint8_t *msg, size_t len, struct sent *e,
		   struct reply_ctl *rc)
{
	static uint8_t reply[WIRE_MSG_MAX];
	bool odd = rc->replies++ & 1;
	memcpy(reply, msg, len);
	if (!((rc->ctl & 0x20) && odd)) {
		wire_put16(reply, e->id);
		wire_put16(reply + 2, (uint16_t)((wire_get16(reply + 2) | WIRE_FLAG_QR) & ~0x7800));
	}
	uint8_t name[WIRE_NAME_MAX];
	size_t qname_len = fuzz_reply_qname(reply, len, name);
	if (rc->ctl & 0x40)
		for (size_t i = 0; i < qname_len; i++)
			if ((reply[WIRE_HEADER_LEN + i] | 0x20) >= 'a' &&
			    (reply[WIRE_HEADER_LEN + i] | 0x20) <= 'z')
				reply[WIRE_HEADER_LEN + i] ^= 0x20;
	if ((rc->ctl & 0x80) && odd && qname_len > 0) {
		uint8_t *type = reply + WIRE_HEADER_LEN + qname_len;
		wire_put16(type, (uint16_t)(wire_get16(type) + 1));
	}

	struct sent *holder = live_with_id(wire_get16(reply), false);
	bool want = holder && wire_reply_matches(reply, len, holder->id, &holder->q);
	if (!holder)
		rc->unknown_id++;
	else if (!want)
		rc->wrong_question++;
	struct dnsstream_query dq;
	int got = dnsstream_match(t, reply, len, &dq);
	FUZZ_CHECK(got == (want ? 1 : 0));
	if (got) {
		FUZZ_CHECK(dq.owner == holder && dq.q.id == holder->id && !dq.resent);
		FUZZ_CHECK(dq.q.qname_len == holder->q.qname_len &&
			   memcmp(dq.q.qname, holder->q.qname, dq.q.qname_len) == 0);
		holder->live = false;
	}
	const struct dnsstream_stats *st = dnsstream_get_stats(t);
	FUZZ_CHECK(st->unknown_id == rc->unknown_id && st->wrong_question == rc->wrong_question);
	FUZZ_CHECK(dnsstream_count(t) == live_count());
}

static void check_table(const uint8_t *s, uint8_t ctl, uint8_t b1)
{
	uint32_t seed = 0x9e3779b9u ^ ((uint32_t)b1 << 8) ^ (uint32_t)(b1 >> 5);
	unsigned cap = (ctl & 0x0f) + 1u;
	dnsstream_rand16_fn rnd = (ctl & 0x10) ? constant_rand16 : fuzz_rand16;
	struct dnsstream_table *t = dnsstream_table_new(cap, rnd, &seed);
	FUZZ_CHECK(t && dnsstream_cap(t) == cap && dnsstream_count(t) == 0);
	struct reply_ctl rc = { .ctl = ctl, .order = (b1 >> 3) & 3, .stride = (uint8_t)((b1 >> 5) | 1) };
	unsigned seq = 0;

	n_model = expect.count < MAX_QUERIES ? expect.count : MAX_QUERIES;
	memset(model, 0, sizeof(model));
	for (size_t i = 0; i < n_model; i++) {
		const uint8_t *msg = s + expect.off[i] + 2;
		size_t len = wire_get16(s + expect.off[i]);
		struct sent *e = &model[i];
		if (question_of(msg, len, &e->q)) {
			uint16_t id = 0;
			size_t before = dnsstream_count(t);
			int r = dnsstream_add(t, &e->q, e, &id);
			if (before == cap) {
				FUZZ_CHECK(r == -EBUSY && dnsstream_count(t) == cap);
			} else {
				FUZZ_CHECK(r == 0 && dnsstream_count(t) == before + 1);
				FUZZ_CHECK(!live_with_id(id, false)); /* never an ID in flight */
				*e = (struct sent){ .q = e->q, .id = id, .seq = seq++, .added = true,
						    .live = true };
				rc.last_added = i;
			}
		}
		/* Answer one when full, or when the message's length is odd. */
		if (dnsstream_count(t) == cap || (len & 1)) {
			struct sent *a = pick(&rc);
			if (a) {
				size_t j = (size_t)(a - model);
				answer(t, s + expect.off[j] + 2, wire_get16(s + expect.off[j]), a, &rc);
			}
		}
	}

	/* A query given up: only its owner takes it off. */
	struct sent *gone = pick(&rc);
	if (gone && (b1 & 1)) {
		FUZZ_CHECK(!dnsstream_remove(t, gone->id, &rc, NULL));
		struct dnsstream_query dq;
		FUZZ_CHECK(dnsstream_remove(t, gone->id, gone, &dq) && dq.owner == gone);
		gone->live = false;
		FUZZ_CHECK(!dnsstream_remove(t, gone->id, gone, NULL));
	}

	/* The connection dies: every query left comes back once, oldest
	 * first, and goes out again on a new connection with a new ID. */
	struct dnsstream_table *t2 = dnsstream_table_new(cap, rnd, &seed);
	FUZZ_CHECK(t2);
	struct dnsstream_query dq;
	size_t left = live_count(), taken = 0;
	unsigned last_seq = 0, seq2 = 0;
	while (dnsstream_take(t, &dq)) {
		struct sent *e = dq.owner;
		FUZZ_CHECK(e >= model && e < model + n_model && e->live && e->id == dq.q.id);
		FUZZ_CHECK(!dq.resent && (taken == 0 || e->seq > last_seq));
		last_seq = e->seq;
		e->live = false;
		taken++;
		uint16_t id;
		FUZZ_CHECK(dnsstream_resend(t2, &dq, &id) == 0);
		FUZZ_CHECK(!live_with_id(id, true));
		e->id = id;
		e->seq = seq2++;
		e->live = true;
		e->resent = true;
	}
	FUZZ_CHECK(taken == left && dnsstream_count(t) == 0 && dnsstream_count(t2) == left);

	/* And that one dies too: no third connection for them. */
	taken = 0;
	while (dnsstream_take(t2, &dq)) {
		struct sent *e = dq.owner;
		uint16_t id = 0;
		FUZZ_CHECK(e->live && e->resent && dq.resent && e->id == dq.q.id);
		FUZZ_CHECK(dnsstream_resend(t, &dq, &id) == -EALREADY);
		e->live = false;
		taken++;
	}
	FUZZ_CHECK(taken == left && dnsstream_count(t) == 0);
	dnsstream_table_free(t);
	dnsstream_table_free(t2);
}

/* ---- padded queries ------------------------------------------------------- */

/* The OPT record's RDATA in a message that walks: offset and length.
 * Returns false when it has none (or does not walk). */
static bool opt_rdata(const uint8_t *m, size_t len, size_t *at, size_t *rdlen, bool *last)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	bool found = false;
	if (wire_rr_iter_init(&it, m, len) < 0)
		return false;
	while (wire_rr_next(&it, &rr) == 1) {
		if (found)
			*last = false;
		if (rr.type == WIRE_TYPE_OPT && !found) {
			found = true;
			*at = rr.end - rr.rdlen;
			*rdlen = rr.rdlen;
			*last = true;
		}
	}
	return found;
}

/* The options of an OPT RDATA other than padding, one after another. */
static size_t non_padding(const uint8_t *rdata, size_t len, uint8_t *out)
{
	size_t n = 0;
	for (size_t o = 0; o + 4 <= len;) {
		size_t size = 4 + (size_t)wire_get16(rdata + o + 2);
		if (o + size > len)
			break;
		if (wire_get16(rdata + o) != DNSSTREAM_OPT_PADDING) {
			memcpy(out + n, rdata + o, size);
			n += size;
		}
		o += size;
	}
	return n;
}

static void check_prepare(const uint8_t *msg, size_t len, uint16_t id)
{
	static uint8_t query[WIRE_MSG_MAX], out[DNSSTREAM_READER_MAX];
	static uint8_t kept_in[WIRE_MSG_MAX], kept_out[WIRE_MSG_MAX];
	memcpy(query, msg, len);
	wire_put16(query + 2, (uint16_t)(wire_get16(query + 2) & ~WIRE_FLAG_QR));

	size_t out_len = 99;
	int r = dnsstream_prepare(out, sizeof(out), query, len, id, 1232, &out_len);
	if (r < 0) {
		FUZZ_CHECK(r == -EBADMSG || r == -ENOTSUP || r == -EMSGSIZE);
		FUZZ_CHECK(out_len == 0);
		/* Too big only when padding could pass 65,535 bytes. */
		if (r == -EMSGSIZE)
			FUZZ_CHECK(len + WIRE_OPT_LEN + 4 + DNSSTREAM_PAD_BLOCK - 1 > WIRE_MSG_MAX);
		return;
	}
	const uint8_t *m = out + DNSSTREAM_PREFIX_LEN;
	size_t m_len = out_len - DNSSTREAM_PREFIX_LEN;
	FUZZ_CHECK(m_len == wire_get16(out) && m_len % DNSSTREAM_PAD_BLOCK == 0);
	/* At most a new OPT, an option header and a block more (less when
	 * an old padding option is replaced by a shorter one). */
	FUZZ_CHECK(m_len < len + WIRE_OPT_LEN + 4 + DNSSTREAM_PAD_BLOCK);
	FUZZ_CHECK(wire_get16(m) == id);
	FUZZ_CHECK(memcmp(m + 2, query + 2, 8) == 0); /* flags and counts but ARCOUNT */

	/* The OPT: last, its other options as they were, padding last. */
	size_t in_at = 0, in_rdlen = 0, at = 0, rdlen = 0;
	bool in_last = false, last = false;
	bool had_opt = opt_rdata(query, len, &in_at, &in_rdlen, &in_last);
	FUZZ_CHECK(opt_rdata(m, m_len, &at, &rdlen, &last) && last && at + rdlen == m_len);
	FUZZ_CHECK(wire_get16(m + 10) == wire_get16(query + 10) + (had_opt ? 0 : 1));
	size_t n_in = had_opt ? non_padding(query + in_at, in_rdlen, kept_in) : 0;
	size_t n_out = non_padding(m + at, rdlen, kept_out);
	FUZZ_CHECK(n_in == n_out && memcmp(kept_in, kept_out, n_in) == 0);
	FUZZ_CHECK(rdlen >= n_out + 4);
	const uint8_t *pad = m + at + n_out;
	FUZZ_CHECK(wire_get16(pad) == DNSSTREAM_OPT_PADDING && wire_get16(pad + 2) == rdlen - n_out - 4);
	for (size_t i = 4; i < rdlen - n_out; i++)
		FUZZ_CHECK(pad[i] == 0);
	/* Everything before the OPT's RDLENGTH as it was (a new OPT: all). */
	size_t same = had_opt ? in_at - 2 : len;
	FUZZ_CHECK(memcmp(m + WIRE_HEADER_LEN, query + WIRE_HEADER_LEN, same - WIRE_HEADER_LEN) == 0);

	/* One byte less room: refused, not cut. */
	size_t short_len = 99;
	FUZZ_CHECK(dnsstream_prepare(out, out_len - 1, query, len, id, 1232, &short_len) == -EMSGSIZE &&
		   short_len == 0);
	FUZZ_CHECK(dnsstream_prepare(out, sizeof(out), query, len, id, 1232, &short_len) == 0 &&
		   short_len == out_len);

	/* What a server reads: the same message, whole. */
	const uint8_t *back;
	size_t used, back_len;
	dnsstream_reader_reset(&reader);
	FUZZ_CHECK(dnsstream_read(&reader, out, out_len, &used, &back, &back_len) == 1);
	FUZZ_CHECK(used == out_len && back_len == m_len && memcmp(back, m, m_len) == 0);

	/* A query as stubd sends one (a question, no records but maybe an
	 * OPT) that ldns takes is taken padded too, with the same options.
	 * Not any message: ldns reads a known type's rdata by its fields, not
	 * its RDLENGTH, so a record with bytes to spare parses as the last
	 * one and breaks whatever record follows, an OPT added or not. */
	if (wire_get16(query + 6) != 0 || wire_get16(query + 8) != 0 ||
	    wire_get16(query + 10) != (had_opt ? 1 : 0))
		return;
	ldns_pkt *before = NULL;
	if (ldns_wire2pkt(&before, query, len) != LDNS_STATUS_OK)
		return;
	ldns_pkt *after = fuzz_must_parse(m, m_len);
	FUZZ_CHECK(ldns_pkt_edns(after) && ldns_pkt_id(after) == id);
	FUZZ_CHECK(ldns_pkt_qdcount(after) == ldns_pkt_qdcount(before) &&
		   ldns_pkt_ancount(after) == ldns_pkt_ancount(before) &&
		   ldns_pkt_nscount(after) == ldns_pkt_nscount(before) &&
		   ldns_pkt_arcount(after) == ldns_pkt_arcount(before));
	ldns_rdf *edns = ldns_pkt_edns_data(after);
	FUZZ_CHECK(edns && ldns_rdf_size(edns) == rdlen &&
		   memcmp(ldns_rdf_data(edns), m + at, rdlen) == 0);
	ldns_pkt_free(before);
	ldns_pkt_free(after);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size > STREAM_INPUT_MAX)
		return 0;
	uint8_t ctl = data[0], b1 = data[1];
	size_t k = (size_t)(b1 & 7) + 1;
	if (size < 2 + k)
		return 0;
	const uint8_t *sizes = data + 2;
	const uint8_t *s = data + 2 + k;
	size_t len = size - 2 - k;

	walk_stream(s, len, &expect);
	check_framing(s, len, sizes, k);
	check_table(s, ctl, b1);
	for (size_t i = 0; i < expect.count && i < MAX_QUERIES; i++)
		check_prepare(s + expect.off[i] + 2, wire_get16(s + expect.off[i]),
			      (uint16_t)(0xd000 + i));
	return 0;
}
