/* dnsstream.c - DNS messages on one stream connection: framing, queries in
 * flight, padding. See dnsstream.h.
 *
 * The table keeps its queries in a fixed array of slots, found by ID
 * through an open-addressing index (linear probing, at most half full, so
 * a lookup is a probe or two), and chained in the order they were sent,
 * so a dead connection's queries are sent again oldest first. Nothing is
 * allocated after dnsstream_table_new().
 */
#include "stubd/dnsstream.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* ---- framing ---------------------------------------------------------- */

void dnsstream_reader_reset(struct dnsstream_reader *r)
{
	r->have = 0;
	r->error = 0;
}

size_t dnsstream_reader_pending(const struct dnsstream_reader *r)
{
	return r->have;
}

/* RFC 1035 §4.2.2 frames any length, but a DNS message has at least its
 * header: a shorter length is no DNS on this stream. */
static int check_length(struct dnsstream_reader *r, size_t msg_len)
{
	if (msg_len < WIRE_HEADER_LEN)
		r->error = -EPROTO;
	return r->error;
}

int dnsstream_read(struct dnsstream_reader *r, const uint8_t *data, size_t len, size_t *used,
		   const uint8_t **msg, size_t *msg_len)
{
	*used = 0;
	*msg = NULL;
	*msg_len = 0;
	if (r->error)
		return r->error;

	/* The common case: between messages, a whole one in data. */
	if (r->have == 0 && len >= DNSSTREAM_PREFIX_LEN) {
		size_t n = wire_get16(data);
		if (check_length(r, n) < 0)
			return r->error;
		if (len - DNSSTREAM_PREFIX_LEN >= n) {
			*used = DNSSTREAM_PREFIX_LEN + n;
			*msg = data + DNSSTREAM_PREFIX_LEN;
			*msg_len = n;
			return 1;
		}
	}

	/* Otherwise gather it in r->buf: the prefix first, byte by byte if
	 * it comes so, then the message up to its length and no further. */
	size_t off = 0;
	while (r->have < DNSSTREAM_PREFIX_LEN && off < len)
		r->buf[r->have++] = data[off++];
	*used = off;
	if (r->have < DNSSTREAM_PREFIX_LEN)
		return 0;
	size_t n = wire_get16(r->buf);
	if (check_length(r, n) < 0)
		return r->error;
	size_t missing = DNSSTREAM_PREFIX_LEN + n - r->have;
	size_t take = len - off < missing ? len - off : missing;
	memcpy(r->buf + r->have, data + off, take);
	r->have += take;
	*used = off + take;
	if (take < missing)
		return 0;
	r->have = 0;
	*msg = r->buf + DNSSTREAM_PREFIX_LEN;
	*msg_len = n;
	return 1;
}

/* ---- queries in flight -------------------------------------------------- */

#define NONE 0xffff /* no slot: slots are numbered below DNSSTREAM_INFLIGHT_MAX */
/* Draws from the caller's source before a free ID is looked for in order.
 * Even a full table of the largest cap takes 1 ID in 16, so a good source
 * misses all eight once in 4 billion queries (at a cap of 100, never in
 * practice); a bad one (constant, short cycle) still ends. */
#define ID_DRAWS 8

struct slot {
	struct dnsstream_query dq;
	uint16_t prev, next; /* in flight: sending order; free: the next free slot */
};

struct dnsstream_table {
	dnsstream_rand16_fn rand;
	void *rand_arg;
	unsigned cap;
	unsigned count;
	unsigned index_bits;
	uint16_t free_head;
	uint16_t oldest, newest;
	struct dnsstream_stats stats;
	uint16_t *index; /* 1 << index_bits entries: slot + 1, or 0 when empty */
	struct slot slots[];
};

/* IDs are random, but a poor source or the in-order fallback gives runs
 * of neighbours: a multiplicative hash spreads those too. */
static size_t home(const struct dnsstream_table *t, uint16_t id)
{
	return (uint16_t)(id * 40503u) >> (16 - t->index_bits);
}

static size_t index_mask(const struct dnsstream_table *t)
{
	return ((size_t)1 << t->index_bits) - 1;
}

/* The index position holding id, or the empty one where it would go;
 * *found says which. Ends: the index is never more than half full. */
static size_t index_find(const struct dnsstream_table *t, uint16_t id, bool *found)
{
	size_t pos = home(t, id);
	while (t->index[pos] != 0) {
		if (t->slots[t->index[pos] - 1].dq.q.id == id) {
			*found = true;
			return pos;
		}
		pos = (pos + 1) & index_mask(t);
	}
	*found = false;
	return pos;
}

/* Empties index position i, moving back the entries after it that would
 * otherwise no longer be found from their home position (backward-shift
 * deletion: no tombstones, so lookups stay short however long the
 * connection lives). */
static void index_delete(struct dnsstream_table *t, size_t i)
{
	size_t mask = index_mask(t);
	for (size_t j = (i + 1) & mask; t->index[j] != 0; j = (j + 1) & mask) {
		size_t k = home(t, t->slots[t->index[j] - 1].dq.q.id);
		/* It stays when its home lies cyclically in (i, j]. */
		bool stays = i <= j ? (i < k && k <= j) : (i < k || k <= j);
		if (stays)
			continue;
		t->index[i] = t->index[j];
		i = j;
	}
	t->index[i] = 0;
}

struct dnsstream_table *dnsstream_table_new(unsigned cap, dnsstream_rand16_fn rand, void *rand_arg)
{
	if (cap == 0 || cap > DNSSTREAM_INFLIGHT_MAX || !rand)
		return NULL;
	unsigned bits = 3;
	while ((1u << bits) < 2 * cap)
		bits++;
	size_t slots_size = sizeof(struct dnsstream_table) + (size_t)cap * sizeof(struct slot);
	struct dnsstream_table *t = calloc(1, slots_size + ((size_t)1 << bits) * sizeof(uint16_t));
	if (!t)
		return NULL;
	t->rand = rand;
	t->rand_arg = rand_arg;
	t->cap = cap;
	t->index_bits = bits;
	t->index = (uint16_t *)((uint8_t *)t + slots_size);
	t->oldest = t->newest = NONE;
	for (unsigned s = 0; s < cap; s++)
		t->slots[s].next = s + 1 < cap ? (uint16_t)(s + 1) : NONE;
	t->free_head = 0;
	return t;
}

void dnsstream_table_free(struct dnsstream_table *t)
{
	free(t);
}

static bool id_in_flight(const struct dnsstream_table *t, uint16_t id)
{
	bool found;
	index_find(t, id, &found);
	return found;
}

/* RFC 7766 §6.2.1.1: an ID no other query in flight on this connection
 * has. Random rather than counted, so that IDs tell nothing of the
 * traffic and a late answer to an abandoned query is unlikely to find a
 * new one under its old ID. */
static uint16_t draw_id(const struct dnsstream_table *t)
{
	uint16_t id = 0;
	for (unsigned i = 0; i < ID_DRAWS; i++) {
		id = t->rand(t->rand_arg);
		if (!id_in_flight(t, id))
			return id;
	}
	/* One is free: count < cap <= 4096. */
	while (id_in_flight(t, id))
		id++;
	return id;
}

static int insert(struct dnsstream_table *t, const struct wire_query *q, void *owner,
		  bool resent, uint16_t *id)
{
	if (t->count >= t->cap)
		return -EBUSY;
	uint16_t s = t->free_head;
	struct slot *sl = &t->slots[s];
	t->free_head = sl->next;

	sl->dq.q = *q;
	sl->dq.q.id = draw_id(t);
	sl->dq.owner = owner;
	sl->dq.resent = resent;
	bool found;
	t->index[index_find(t, sl->dq.q.id, &found)] = (uint16_t)(s + 1);

	sl->prev = t->newest;
	sl->next = NONE;
	if (t->newest != NONE)
		t->slots[t->newest].next = s;
	else
		t->oldest = s;
	t->newest = s;
	t->count++;
	*id = sl->dq.q.id;
	return 0;
}

/* Takes the query at index position pos off t, into *out unless NULL. */
static void take_at(struct dnsstream_table *t, size_t pos, struct dnsstream_query *out)
{
	uint16_t s = (uint16_t)(t->index[pos] - 1);
	struct slot *sl = &t->slots[s];
	if (out)
		*out = sl->dq;
	index_delete(t, pos);

	if (sl->prev != NONE)
		t->slots[sl->prev].next = sl->next;
	else
		t->oldest = sl->next;
	if (sl->next != NONE)
		t->slots[sl->next].prev = sl->prev;
	else
		t->newest = sl->prev;
	sl->next = t->free_head;
	t->free_head = s;
	t->count--;
}

int dnsstream_add(struct dnsstream_table *t, const struct wire_query *q, void *owner,
		  uint16_t *id)
{
	return insert(t, q, owner, false, id);
}

int dnsstream_resend(struct dnsstream_table *t, const struct dnsstream_query *dq, uint16_t *id)
{
	if (dq->resent)
		return -EALREADY;
	return insert(t, &dq->q, dq->owner, true, id);
}

int dnsstream_match(struct dnsstream_table *t, const uint8_t *msg, size_t len,
		    struct dnsstream_query *out)
{
	bool found = false;
	size_t pos = 0;
	if (len >= WIRE_HEADER_LEN)
		pos = index_find(t, wire_get16(msg), &found);
	if (!found) {
		t->stats.unknown_id++;
		return 0;
	}
	const struct wire_query *q = &t->slots[t->index[pos] - 1].dq.q;
	if (!wire_reply_matches(msg, len, q->id, q)) {
		t->stats.wrong_question++;
		return 0;
	}
	take_at(t, pos, out);
	return 1;
}

bool dnsstream_remove(struct dnsstream_table *t, uint16_t id, const void *owner,
		      struct dnsstream_query *out)
{
	bool found;
	size_t pos = index_find(t, id, &found);
	if (!found || t->slots[t->index[pos] - 1].dq.owner != owner)
		return false;
	take_at(t, pos, out);
	return true;
}

bool dnsstream_take(struct dnsstream_table *t, struct dnsstream_query *out)
{
	if (t->oldest == NONE)
		return false;
	bool found;
	size_t pos = index_find(t, t->slots[t->oldest].dq.q.id, &found);
	take_at(t, pos, out);
	return true;
}

size_t dnsstream_count(const struct dnsstream_table *t)
{
	return t->count;
}

size_t dnsstream_cap(const struct dnsstream_table *t)
{
	return t->cap;
}

const struct dnsstream_stats *dnsstream_get_stats(const struct dnsstream_table *t)
{
	return &t->stats;
}

/* ---- writing a query ---------------------------------------------------- */

/* Where the query's OPT record is, found by walking every record. */
struct opt_place {
	bool present;
	size_t rdata;          /* offset of its RDATA (just past RDLENGTH) */
	size_t end;            /* offset just past it */
	size_t kept;           /* bytes of its options other than padding */
};

static int find_opt(const uint8_t *query, size_t len, struct opt_place *opt)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	bool signed_ = false, after_opt = false;
	int r;

	memset(opt, 0, sizeof(*opt));
	if (wire_rr_iter_init(&it, query, len) < 0)
		return -EBADMSG;
	while ((r = wire_rr_next(&it, &rr)) == 1) {
		after_opt |= opt->present;
		if (rr.section == WIRE_SECTION_ADDITIONAL &&
		    (rr.type == WIRE_TYPE_TSIG || rr.type == WIRE_TYPE_SIG))
			signed_ = true;
		if (rr.type != WIRE_TYPE_OPT)
			continue;
		/* RFC 6891 §6.1.1: one OPT, in the additional section, owned
		 * by the root (a single zero byte: no pointer to a root). */
		if (opt->present || rr.section != WIRE_SECTION_ADDITIONAL || query[rr.start] != 0)
			return -EBADMSG;
		opt->present = true;
		opt->rdata = rr.end - rr.rdlen;
		opt->end = rr.end;
	}
	if (r < 0 || it.off != len)
		return -EBADMSG;
	if (signed_ || after_opt)
		return -ENOTSUP;

	/* RFC 6891 §6.1.2: options are {code, length, data}, filling RDATA. */
	for (size_t o = opt->rdata; o < opt->end;) {
		if (opt->end - o < 4 || opt->end - o - 4 < wire_get16(query + o + 2))
			return -EBADMSG;
		size_t size = 4 + (size_t)wire_get16(query + o + 2);
		if (wire_get16(query + o) != DNSSTREAM_OPT_PADDING)
			opt->kept += size;
		o += size;
	}
	return 0;
}

int dnsstream_prepare(uint8_t *out, size_t cap, const uint8_t *query, size_t len, uint16_t id,
		      uint16_t edns_size, size_t *out_len)
{
	struct opt_place opt;

	*out_len = 0;
	if (len < WIRE_HEADER_LEN || len > WIRE_MSG_MAX || (wire_get16(query + 2) & WIRE_FLAG_QR))
		return -EBADMSG;
	int err = find_opt(query, len, &opt);
	if (err < 0)
		return err;

	/* Everything before the options is copied as it is; a new OPT
	 * record goes at the end, where it moves nothing. */
	size_t head = opt.present ? opt.rdata : len;
	size_t rdata = opt.present ? opt.rdata : len + WIRE_OPT_LEN;
	size_t unpadded = rdata + opt.kept + 4;
	/* RFC 8467 §4.1: the whole message, option header included, to the
	 * next multiple of the block; a zero-length option when it is one. */
	size_t pad = (DNSSTREAM_PAD_BLOCK - unpadded % DNSSTREAM_PAD_BLOCK) % DNSSTREAM_PAD_BLOCK;
	size_t total = unpadded + pad;
	if (total > WIRE_MSG_MAX || cap < DNSSTREAM_PREFIX_LEN || cap - DNSSTREAM_PREFIX_LEN < total)
		return -EMSGSIZE;

	uint8_t *m = out + DNSSTREAM_PREFIX_LEN;
	wire_put16(out, (uint16_t)total);
	memcpy(m, query, head);
	wire_put16(m, id);
	if (!opt.present) {
		/* RFC 6891 §6.1.2: root owner, the payload size as class,
		 * extended rcode, version 0 and no DO in the TTL. */
		wire_put16(m + 10, (uint16_t)(wire_get16(m + 10) + 1));
		memset(m + len, 0, WIRE_OPT_LEN);
		wire_put16(m + len + 1, WIRE_TYPE_OPT);
		wire_put16(m + len + 3, edns_size);
	}
	wire_put16(m + rdata - 2, (uint16_t)(total - rdata));

	size_t off = rdata;
	for (size_t o = opt.rdata; o < opt.end;) {
		size_t size = 4 + (size_t)wire_get16(query + o + 2);
		if (wire_get16(query + o) != DNSSTREAM_OPT_PADDING) {
			memcpy(m + off, query + o, size);
			off += size;
		}
		o += size;
	}
	/* RFC 7830 §3: padding octets are zero. */
	wire_put16(m + off, DNSSTREAM_OPT_PADDING);
	wire_put16(m + off + 2, (uint16_t)pad);
	memset(m + off + 4, 0, pad);
	*out_len = DNSSTREAM_PREFIX_LEN + total;
	return 0;
}
