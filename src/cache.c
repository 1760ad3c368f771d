/* cache.c - the answer cache: hash table + LRU list, one block per entry.
 * See cache.h.
 *
 * Each entry is one malloc: the struct below, then the offsets of its TTL
 * fields, then the stored answer. The stored answer doubles as the key's
 * name: its question name (offset 12) is lowercased at store time, and
 * wire_finish_reply() writes the client's own spelling over it in every
 * reply, so nobody ever sees the lowercased copy. The TTL fields in the
 * stored bytes keep each record's TTL as of store time (after the clamps);
 * a hit copies the answer and writes "stored TTL - age" into the copy.
 * The serve-stale deadline is not stored: it is expiry + the current
 * stale_max_age, so a reload that changes the window applies to all.
 *
 * Threads: the entries are split into shards by the key's hash, each with
 * its own table, LRU list, counters, settings and mutex, so threads that
 * ask about different names seldom wait for each other. The hash is
 * computed once: its top bits pick the shard, its low 32 bits the bucket,
 * so every shard's table spreads as well as one big one would. A question
 * locks exactly one shard; whole-cache operations lock each shard in turn,
 * never two at once, so there is no lock order to get wrong. What is not
 * in a shard is fixed at cache_new() (seed, shard count) or atomic.
 */
#include "stubd/ascii.h"
#include "stubd/cache.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Remaining life under 1/10 of the original: time to refresh (like
 * Unbound's prefetch). Answers living less than this many seconds are not
 * worth it: they would be refetched nearly as often as asked. */
#define PREFETCH_DIVISOR 10
#define PREFETCH_MIN_LIFETIME 10
/* After a prefetch signal, hits stay plain CACHE_HIT this long, so that a
 * popular name does not start a refresh on every hit; a refresh that
 * failed is asked for again after it. */
#define PREFETCH_RETRY_MS 5000

/* RFC 8767 §4: the TTL on stale answers. */
#define STALE_TTL 30

/* RFC 2181 §8: a TTL with the top bit set is read as 0. */
#define TTL_MAX_VALID 0x7fffffffu

#define KEY_DO 0x01
#define KEY_CD 0x02

#define TABLE_MIN_BUCKETS 16u
#define TABLE_MAX_BUCKETS ((size_t)1 << 30)

/* Shards are padded to a cache line: two threads working in neighbouring
 * shards must not bounce one line between their cores. */
#define CACHE_LINE 64

struct cache_entry {
	struct cache_entry *hnext; /* hash chain */
	struct cache_entry *prev;  /* LRU: towards the front (most recent) */
	struct cache_entry *next;  /* LRU: towards the tail */
	uint64_t stored_at_ms;
	uint64_t expires_at_ms;
	uint64_t prefetch_quiet_until_ms; /* no prefetch signal before this */
	uint64_t used_at_ms;       /* stored or last served: the order a saved cache comes back in */
	uint32_t hash;
	uint32_t lifetime;         /* seconds, after the clamps */
	uint32_t size;             /* bytes charged against max_bytes */
	uint16_t answer_len;
	uint16_t n_ttls;
	uint16_t qtype;
	uint16_t qclass;
	uint8_t qname_len;
	uint8_t kflags;            /* KEY_DO, KEY_CD */
	uint16_t ttl_off[];        /* n_ttls offsets into the answer, then the answer */
};

/* One shard: a small cache of its own. lock guards every other field. */
struct cache_shard {
	_Alignas(CACHE_LINE) pthread_mutex_t lock;
	struct cache_config cfg;      /* max_entries, max_bytes: this shard's share */
	struct cache_stats stats;     /* prefetches stay 0: struct cache counts them */
	struct cache_entry **buckets; /* NULL until the first store */
	size_t mask;                  /* buckets - 1 */
	struct cache_entry *lru_head; /* most recently used */
	struct cache_entry *lru_tail;
};

struct cache {
	uint64_t seed[4];             /* fixed at cache_new(): read without a lock */
	unsigned n_shards;            /* a power of two, fixed at cache_new() */
	unsigned shard_shift;         /* 64 - log2(n_shards) */
	_Atomic uint64_t prefetches;  /* the callers' count, from any thread */
	struct cache_shard shard[];
};

/* The key of a question as the shards see it. */
struct cache_key {
	const uint8_t *name;
	size_t name_len;
	uint16_t qtype;
	uint16_t qclass;
	uint8_t kflags;
	uint64_t hash;                /* top bits: the shard; low 32: the bucket */
};

/* ---- small helpers -------------------------------------------------- */

static inline uint8_t *entry_answer(const struct cache_entry *e)
{
	return (uint8_t *)(e->ttl_off + e->n_ttls);
}

/* The key's name: the stored answer's question, lowercased. */
static inline const uint8_t *entry_name(const struct cache_entry *e)
{
	return entry_answer(e) + WIRE_HEADER_LEN;
}

static inline void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint8_t query_kflags(const struct wire_query *q)
{
	return (uint8_t)((q->edns_do ? KEY_DO : 0) | ((q->flags & WIRE_FLAG_CD) ? KEY_CD : 0));
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* Lowercases the ASCII letters among 8 bytes at once: a byte gets 0x20
 * when it is in 'A'..'Z'. Adding 0x3f sets bit 7 of bytes >= 'A', adding
 * 0x25 sets it for bytes > 'Z'; bytes >= 0x80 are masked out (no byte
 * carries into its neighbour since the high bits were cleared first). */
static inline uint64_t fold8(uint64_t x)
{
	const uint64_t high = 0x8080808080808080ull;
	uint64_t low7 = x & ~high;
	uint64_t ge_a = low7 + 0x3f3f3f3f3f3f3f3full;
	uint64_t gt_z = low7 + 0x2525252525252525ull;
	uint64_t upper = ge_a & ~gt_z & ~x & high;
	return x | (upper >> 2);
}

static inline uint64_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* The last up to 8 bytes of p[0..len), len >= 1, as one word, without a
 * variable-length copy: short tails are read as two overlapping windows
 * (or three bytes). Which bytes land where depends only on len, so two
 * names of the same length give equal words exactly when their tails are
 * equal, and the hash stays a function of the name. */
static inline uint64_t load_last(const uint8_t *p, size_t len)
{
	if (len >= 8)
		return load64(p + len - 8);
	if (len >= 4)
		return load32(p) | (load32(p + len - 4) << 32);
	return (uint64_t)p[0] | ((uint64_t)p[len / 2] << 8) | ((uint64_t)p[len - 1] << 16);
}

/* lower (already lowercase) equals name without regard to ASCII case;
 * both len >= 1 bytes. */
static bool name_equal_folded(const uint8_t *lower, const uint8_t *name, size_t len)
{
	for (size_t i = 0; i + 8 < len; i += 8)
		if (load64(lower + i) != fold8(load64(name + i)))
			return false;
	return load_last(lower, len) == fold8(load_last(name, len));
}

static void lowercase_name(uint8_t *name, size_t len)
{
	for (size_t i = 0; i < len; i++)
		name[i] = ascii_lower(name[i]);
}

/* 64x64->128 multiply folded to 64 bits (as in wyhash): every input bit
 * reaches most output bits in one step. */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;
	return (uint64_t)r ^ (uint64_t)(r >> 64);
}

/* A keyed, case-blind hash of the question. The per-cache random seed
 * keeps remote clients from choosing names that share a bucket. All 64
 * bits are mixed, so the shard (top bits) and the bucket (low bits) are
 * independent. */
static uint64_t key_hash(const struct cache *c, const uint8_t *name, size_t len,
			 uint16_t qtype, uint16_t qclass, uint8_t kflags)
{
	uint64_t h = c->seed[0] ^ (((uint64_t)qtype << 48) | ((uint64_t)qclass << 32) |
				   ((uint64_t)kflags << 16) | len);
	for (size_t i = 0; i + 8 < len; i += 8)
		h = mum(h ^ fold8(load64(name + i)), c->seed[1]);
	return mum(h ^ fold8(load_last(name, len)) ^ c->seed[2], c->seed[3]);
}

/* q's key; name_len 0 (no question) is a key that matches nothing. */
static void query_key(const struct cache *c, const struct wire_query *q, struct cache_key *k)
{
	memset(k, 0, sizeof(*k));
	if (!q->has_question || q->qname_len == 0)
		return;
	k->name = q->qname;
	k->name_len = q->qname_len;
	k->qtype = q->qtype;
	k->qclass = q->qclass;
	k->kflags = query_kflags(q);
	k->hash = key_hash(c, k->name, k->name_len, k->qtype, k->qclass, k->kflags);
}

static inline struct cache_shard *shard_of(struct cache *c, uint64_t hash)
{
	/* A shift by 64 is undefined: one shard takes no bits. */
	return &c->shard[c->n_shards == 1 ? 0 : hash >> c->shard_shift];
}

/* ---- LRU list and hash table ---------------------------------------- */

/* Everything from here to the public functions works on one shard, with
 * its lock held. */

static void lru_unlink(struct cache_shard *s, struct cache_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		s->lru_head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		s->lru_tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_front(struct cache_shard *s, struct cache_entry *e)
{
	e->prev = NULL;
	e->next = s->lru_head;
	if (s->lru_head)
		s->lru_head->prev = e;
	else
		s->lru_tail = e;
	s->lru_head = e;
}

static inline void lru_touch(struct cache_shard *s, struct cache_entry *e, uint64_t now_ms)
{
	e->used_at_ms = now_ms; /* the line lru_unlink writes anyway */
	if (s->lru_head == e)
		return;
	lru_unlink(s, e);
	lru_push_front(s, e);
}

/* Unlinks e from everything and frees it. */
static void entry_drop(struct cache_shard *s, struct cache_entry *e)
{
	struct cache_entry **pp = &s->buckets[e->hash & s->mask];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	lru_unlink(s, e);
	s->stats.entries--;
	s->stats.bytes -= e->size;
	free(e);
}

static struct cache_entry *table_find(const struct cache_shard *s, const struct cache_key *k)
{
	uint32_t hash = (uint32_t)k->hash;
	if (!s->buckets || k->name_len == 0)
		return NULL;
	for (struct cache_entry *e = s->buckets[hash & s->mask]; e; e = e->hnext) {
		if (e->hash == hash && e->qtype == k->qtype && e->qclass == k->qclass &&
		    e->kflags == k->kflags && e->qname_len == k->name_len &&
		    name_equal_folded(entry_name(e), k->name, k->name_len))
			return e;
	}
	return NULL;
}

/* The most buckets max_entries can use at a load of 3/4. */
static size_t table_cap(const struct cache_shard *s)
{
	size_t want = s->cfg.max_entries;
	if (want > TABLE_MAX_BUCKETS / 4 * 3)
		return TABLE_MAX_BUCKETS;
	want = want / 3 * 4 + 4;
	size_t n = TABLE_MIN_BUCKETS;
	while (n < want)
		n <<= 1;
	return n;
}

/* Doubles the table (or makes the first one). On no memory the old table
 * stays: chains get longer, nothing breaks. */
static void table_grow(struct cache_shard *s)
{
	size_t old_n = s->buckets ? s->mask + 1 : 0;
	size_t n = old_n ? old_n * 2 : TABLE_MIN_BUCKETS;
	struct cache_entry **nb = calloc(n, sizeof(*nb));
	if (!nb)
		return;
	for (size_t i = 0; i < old_n; i++) {
		struct cache_entry *e = s->buckets[i];
		while (e) {
			struct cache_entry *next = e->hnext;
			e->hnext = nb[e->hash & (n - 1)];
			nb[e->hash & (n - 1)] = e;
			e = next;
		}
	}
	free(s->buckets);
	s->buckets = nb;
	s->mask = n - 1;
}

/* Whole seconds since e was stored. */
static inline uint32_t entry_age_s(const struct cache_entry *e, uint64_t now_ms)
{
	return now_ms > e->stored_at_ms ? (uint32_t)((now_ms - e->stored_at_ms) / 1000) : 0;
}

static inline uint64_t stale_deadline(const struct cache_shard *s, const struct cache_entry *e)
{
	return e->expires_at_ms + (uint64_t)s->cfg.stale_max_age * 1000;
}

/* Drops the least recently used entry. */
static void evict_tail(struct cache_shard *s, uint64_t now_ms)
{
	struct cache_entry *e = s->lru_tail;
	if (now_ms >= stale_deadline(s, e))
		s->stats.expirations++;
	else
		s->stats.evictions++;
	entry_drop(s, e);
}

/* Evicts until `extra` more bytes and one more entry fit (extra 0 and
 * need_slot false: until the cache is within its limits). */
static void shrink_to_fit(struct cache_shard *s, size_t extra, bool need_slot, uint64_t now_ms)
{
	size_t slot = need_slot ? 1 : 0;
	while (s->lru_tail && (s->stats.entries + slot > s->cfg.max_entries ||
			       s->stats.bytes + extra > s->cfg.max_bytes))
		evict_tail(s, now_ms);
}

/* ---- public: life cycle --------------------------------------------- */

/* A shard's share of a limit: ceil(limit / n), so the shards together
 * hold at least the limit, and one shard holds exactly it. */
static size_t limit_share(size_t limit, unsigned n)
{
	return limit / n + (limit % n != 0);
}

static void shard_settings(struct cache_shard *s, const struct cache_config *cfg, unsigned n)
{
	s->cfg = *cfg;
	s->cfg.shards = n;
	s->cfg.max_entries = limit_share(cfg->max_entries, n);
	s->cfg.max_bytes = limit_share(cfg->max_bytes, n);
}

/* The shard count cfg asks for, or 0 when it is not one we take. */
static unsigned shard_count(unsigned shards)
{
	if (shards <= 1)
		return 1;
	if (shards > CACHE_SHARDS_MAX || (shards & (shards - 1)) != 0)
		return 0;
	return shards;
}

static void shard_empty(struct cache_shard *s)
{
	struct cache_entry *e = s->lru_head;
	while (e) {
		struct cache_entry *next = e->next;
		free(e);
		e = next;
	}
	free(s->buckets);
}

uint64_t cache_clock_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return CACHE_CLOCK_BASE_MS + (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct cache *cache_new(const struct cache_config *cfg)
{
	unsigned n = shard_count(cfg->shards);
	if (n == 0)
		return NULL;
	/* aligned_alloc wants a multiple of the alignment; sizeof(struct
	 * cache_shard) is one already. */
	size_t size = sizeof(struct cache) + n * sizeof(struct cache_shard);
	size = (size + CACHE_LINE - 1) / CACHE_LINE * CACHE_LINE;
	struct cache *c = aligned_alloc(CACHE_LINE, size);
	if (!c)
		return NULL;
	memset(c, 0, size);
	c->n_shards = n;
	c->shard_shift = 64 - (unsigned)__builtin_ctz(n);
	atomic_init(&c->prefetches, 0);
	for (unsigned i = 0; i < n; i++) {
		if (pthread_mutex_init(&c->shard[i].lock, NULL) != 0) {
			while (i-- > 0)
				pthread_mutex_destroy(&c->shard[i].lock);
			free(c);
			return NULL;
		}
		shard_settings(&c->shard[i], cfg, n);
	}
	arc4random_buf(c->seed, sizeof(c->seed));
	c->seed[1] |= 1; /* an odd multiplier never collapses to 0 */
	c->seed[3] |= 1;
	return c;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	for (unsigned i = 0; i < c->n_shards; i++) {
		shard_empty(&c->shard[i]);
		pthread_mutex_destroy(&c->shard[i].lock);
	}
	free(c);
}

void cache_configure(struct cache *c, const struct cache_config *cfg)
{
	for (unsigned i = 0; i < c->n_shards; i++) {
		struct cache_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		shard_settings(s, cfg, c->n_shards); /* cfg->shards is ignored */
		/* The clock is not known here; count every drop as an eviction
		 * (UINT64_MAX would call them all expired, 0 calls none). */
		shrink_to_fit(s, 0, false, 0);
		pthread_mutex_unlock(&s->lock);
	}
}

/* ---- public: lookups ------------------------------------------------ */

/* Writes the reply for q from e; TTLs become stored - age, or `fixed`
 * when fixed_ttl. Returns the length, 0 if out cannot hold even a
 * truncated reply. */
static size_t write_reply(const struct cache_entry *e, const struct wire_query *q,
			  uint64_t now_ms, uint8_t *out, size_t cap, size_t limit,
			  size_t our_edns_size, bool fixed_ttl, uint32_t fixed)
{
	const uint8_t *answer = entry_answer(e);
	size_t n = wire_finish_reply(out, cap, answer, e->answer_len, q, limit, our_edns_size);
	/* A truncated reply (TC, no records) is shorter than the stored
	 * answer: then there is nothing to patch, and the offsets would point
	 * past it. A full one starts with the stored bytes. Stored answers
	 * never have TC, so TC here always means truncated. */
	if (n < e->answer_len || (wire_get16(out + 2) & WIRE_FLAG_TC))
		return n;

	if (fixed_ttl) {
		for (unsigned i = 0; i < e->n_ttls; i++)
			put32(out + e->ttl_off[i], fixed);
		return n;
	}
	uint32_t age = entry_age_s(e, now_ms);
	if (age == 0)
		return n; /* the copy already holds the stored TTLs */
	for (unsigned i = 0; i < e->n_ttls; i++) {
		uint32_t ttl = wire_get32(answer + e->ttl_off[i]);
		put32(out + e->ttl_off[i], ttl > age ? ttl - age : 0);
	}
	return n;
}

/* What a lookup writes to: cache_lookup()'s out parameters. */
struct reply_out {
	uint8_t *buf;
	size_t cap;
	size_t limit;
	size_t our_edns_size;
	size_t len;
	uint32_t age_s;
};

/* cache_lookup() within k's shard, locked. */
static enum cache_result lookup_locked(struct cache_shard *s, const struct cache_key *k,
				       const struct wire_query *q, uint64_t now_ms,
				       struct reply_out *r)
{
	struct cache_entry *e = table_find(s, k);
	if (!e) {
		s->stats.misses++;
		return CACHE_MISS;
	}
	if (now_ms >= e->expires_at_ms) {
		/* Kept for serve-stale within its window, dropped after it. */
		if (now_ms >= stale_deadline(s, e)) {
			s->stats.expirations++;
			entry_drop(s, e);
		}
		s->stats.misses++;
		return CACHE_MISS;
	}

	size_t n = write_reply(e, q, now_ms, r->buf, r->cap, r->limit, r->our_edns_size, false, 0);
	if (n == 0) {
		s->stats.misses++;
		return CACHE_MISS;
	}
	lru_touch(s, e, now_ms);
	s->stats.hits++;
	r->len = n;
	r->age_s = entry_age_s(e, now_ms);

	uint64_t left_ms = e->expires_at_ms - now_ms;
	if (e->lifetime >= PREFETCH_MIN_LIFETIME &&
	    left_ms * PREFETCH_DIVISOR < (uint64_t)e->lifetime * 1000 &&
	    now_ms >= e->prefetch_quiet_until_ms) {
		e->prefetch_quiet_until_ms = now_ms + PREFETCH_RETRY_MS;
		return CACHE_HIT_PREFETCH;
	}
	return CACHE_HIT;
}

typedef enum cache_result (*locked_lookup_fn)(struct cache_shard *s, const struct cache_key *k,
					      const struct wire_query *q, uint64_t now_ms,
					      struct reply_out *r);

/* Both lookups: the key, its shard, the shard's lock around fn. */
static enum cache_result lookup_in_shard(struct cache *c, const struct wire_query *q,
					 uint64_t now_ms, uint8_t *out, size_t cap, size_t limit,
					 size_t our_edns_size, size_t *out_len, uint32_t *age_s,
					 locked_lookup_fn fn)
{
	struct reply_out r = { .buf = out, .cap = cap, .limit = limit,
			       .our_edns_size = our_edns_size };
	struct cache_key k;
	query_key(c, q, &k);
	struct cache_shard *s = shard_of(c, k.hash);

	pthread_mutex_lock(&s->lock);
	enum cache_result result = fn(s, &k, q, now_ms, &r);
	pthread_mutex_unlock(&s->lock);
	*out_len = r.len;
	if (age_s)
		*age_s = r.age_s;
	return result;
}

enum cache_result cache_lookup(struct cache *c, const struct wire_query *q, uint64_t now_ms,
			       uint8_t *out, size_t cap, size_t limit, size_t our_edns_size,
			       size_t *out_len, uint32_t *age_s)
{
	return lookup_in_shard(c, q, now_ms, out, cap, limit, our_edns_size, out_len, age_s,
			       lookup_locked);
}

/* cache_lookup_stale() within k's shard, locked. */
static enum cache_result lookup_stale_locked(struct cache_shard *s, const struct cache_key *k,
					     const struct wire_query *q, uint64_t now_ms,
					     struct reply_out *r)
{
	struct cache_entry *e = table_find(s, k);
	if (!e)
		return CACHE_MISS;

	size_t n;
	enum cache_result result;
	if (now_ms < e->expires_at_ms) {
		/* Refreshed while the upstreams were failing for this client:
		 * the fresh answer beats a stale one. */
		n = write_reply(e, q, now_ms, r->buf, r->cap, r->limit, r->our_edns_size, false, 0);
		result = CACHE_HIT;
	} else if (now_ms < stale_deadline(s, e)) {
		n = write_reply(e, q, now_ms, r->buf, r->cap, r->limit, r->our_edns_size, true,
				STALE_TTL);
		result = CACHE_STALE;
	} else {
		s->stats.expirations++;
		entry_drop(s, e);
		return CACHE_MISS;
	}
	if (n == 0)
		return CACHE_MISS;
	if (result == CACHE_STALE)
		s->stats.stale_served++;
	lru_touch(s, e, now_ms);
	r->len = n;
	r->age_s = entry_age_s(e, now_ms);
	return result;
}

enum cache_result cache_lookup_stale(struct cache *c, const struct wire_query *q,
				     uint64_t now_ms, uint8_t *out, size_t cap, size_t limit,
				     size_t our_edns_size, size_t *out_len, uint32_t *age_s)
{
	return lookup_in_shard(c, q, now_ms, out, cap, limit, our_edns_size, out_len, age_s,
			       lookup_stale_locked);
}

/* cache_has_stale() within q's shard, locked: a look, nothing written,
 * nothing counted, the LRU untouched. */
static enum cache_result has_stale_locked(struct cache_shard *s, const struct cache_key *k,
					  const struct wire_query *q, uint64_t now_ms,
					  struct reply_out *r)
{
	const struct cache_entry *e = table_find(s, k);
	return e && now_ms >= e->expires_at_ms && now_ms < stale_deadline(s, e) ? CACHE_STALE
										  : CACHE_MISS;
}

bool cache_has_stale(struct cache *c, const struct wire_query *q, uint64_t now_ms)
{
	size_t len;
	return lookup_in_shard(c, q, now_ms, NULL, 0, 0, 0, &len, NULL, has_stale_locked) ==
	       CACHE_STALE;
}

/* ---- public: store -------------------------------------------------- */

/* What the first pass over a stored answer learned. */
struct answer_scan {
	unsigned n_ttls;
	bool have_answer_ttl;
	uint32_t min_answer_ttl;
	bool have_soa;
	size_t soa_ttl_off;
	uint32_t soa_negative;   /* min(SOA TTL, MINIMUM) */
};

static inline uint32_t valid_ttl(uint32_t ttl)
{
	return ttl > TTL_MAX_VALID ? 0 : ttl;
}

/* RFC 2308 §5: a negative answer lives min(SOA TTL, SOA MINIMUM). The
 * SOA rdata is two names (maybe compressed) and five 32-bit numbers,
 * MINIMUM last. Returns 0, or -1 if the rdata does not have that shape. */
static int soa_negative_ttl(const uint8_t *pkt, const struct wire_rr *rr, uint32_t *out)
{
	size_t off = rr->end - rr->rdlen;
	if (wire_skip_name(pkt, rr->end, &off) < 0 || wire_skip_name(pkt, rr->end, &off) < 0 ||
	    off + 20 != rr->end)
		return -1;
	uint32_t minimum = valid_ttl(wire_get32(pkt + off + 16));
	uint32_t ttl = valid_ttl(rr->ttl);
	*out = ttl < minimum ? ttl : minimum;
	return 0;
}

/* Checks the answer's shape and question, counts its TTL fields, and
 * finds the numbers the lifetime comes from. */
static int scan_answer(const uint8_t *answer, size_t len, const struct wire_query *q,
		       struct answer_scan *s)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	int got;

	memset(s, 0, sizeof(*s));
	if (len < WIRE_HEADER_LEN || len > WIRE_MSG_MAX || wire_get16(answer + 4) != 1 ||
	    WIRE_OPCODE(wire_get16(answer + 2)) != 0)
		return -EBADMSG;
	/* The question, uncompressed at offset 12, must be q's. Equal up to
	 * case with a valid name means the same label structure: length
	 * bytes (< 64) fold to themselves only. */
	size_t qend = WIRE_HEADER_LEN + (size_t)q->qname_len + 4;
	if (qend > len ||
	    !wire_name_equal(answer + WIRE_HEADER_LEN, q->qname_len, q->qname, q->qname_len) ||
	    wire_get16(answer + qend - 4) != q->qtype || wire_get16(answer + qend - 2) != q->qclass)
		return -EBADMSG;
	if (wire_rr_iter_init(&it, answer, len) < 0 || it.off != qend)
		return -EBADMSG;

	while ((got = wire_rr_next(&it, &rr)) == 1) {
		/* OPT is hop-by-hop and scrub cuts it; one left here would make
		 * a second OPT in every EDNS client's reply (a FORMERR). */
		if (rr.type == WIRE_TYPE_OPT)
			return -EBADMSG;
		s->n_ttls++;
		uint32_t ttl = valid_ttl(rr.ttl);
		if (rr.section == WIRE_SECTION_ANSWER) {
			if (!s->have_answer_ttl || ttl < s->min_answer_ttl)
				s->min_answer_ttl = ttl;
			s->have_answer_ttl = true;
		} else if (rr.section == WIRE_SECTION_AUTHORITY && rr.type == WIRE_TYPE_SOA &&
			   !s->have_soa) {
			if (soa_negative_ttl(answer, &rr, &s->soa_negative) < 0)
				return -EBADMSG;
			s->have_soa = true;
			s->soa_ttl_off = rr.ttl_off;
		}
	}
	/* Trailing bytes would be copied into every reply: not a stored
	 * answer as scrub makes them. */
	if (got < 0 || it.off != len)
		return -EBADMSG;
	return 0;
}

static inline uint32_t clamp_ttl(uint32_t ttl, uint32_t lo, uint32_t hi)
{
	if (ttl < lo)
		ttl = lo;
	if (ttl > hi)
		ttl = hi;
	return ttl;
}

/* The entry's lifetime in seconds, 0 when it is not to be stored;
 * *negative is set when the SOA TTL must be rewritten to it. */
static uint32_t answer_lifetime(const struct cache_config *cfg, const uint8_t *answer,
				const struct answer_scan *s, bool *negative)
{
	uint16_t flags = wire_get16(answer + 2);
	uint32_t life;

	*negative = false;
	if (flags & WIRE_FLAG_TC)
		return 0; /* a partial answer: the client must get it all */
	switch (WIRE_RCODE(flags)) {
	case WIRE_RCODE_NOERROR:
	case WIRE_RCODE_NXDOMAIN: {
		bool nodata = WIRE_RCODE(flags) == WIRE_RCODE_NXDOMAIN || !s->have_answer_ttl;
		if (nodata && !s->have_soa)
			return 0; /* RFC 2308 §5: no SOA, no negative caching */
		life = UINT32_MAX;
		if (s->have_answer_ttl)
			life = s->min_answer_ttl;
		/* An SOA also bounds a positive answer: a CNAME chain that ends
		 * in NODATA or NXDOMAIN is as old as its negative part. */
		if (s->have_soa) {
			uint32_t neg = s->soa_negative;
			if (neg > cfg->max_negative_ttl)
				neg = cfg->max_negative_ttl;
			if (neg < life)
				life = neg;
			*negative = true;
		}
		break;
	}
	case WIRE_RCODE_SERVFAIL:
		if (cfg->servfail_ttl == 0)
			return 0;
		/* RFC 9520 §3.2: at least 1 s, at most 5 minutes; cache-min-ttl
		 * is about answers and must not stretch a failure to an hour. */
		life = cfg->servfail_ttl;
		return life < cfg->max_ttl ? life : cfg->max_ttl;
	default:
		return 0; /* REFUSED, FORMERR, NOTIMP...: about this server, not the name */
	}
	return clamp_ttl(life, cfg->min_ttl, cfg->max_ttl);
}

/* What an entry holding answer costs, charged against max_bytes. */
static inline size_t entry_size(const struct answer_scan *scan, size_t len)
{
	return sizeof(struct cache_entry) + scan->n_ttls * sizeof(uint16_t) + len;
}

/* A new entry for k holding answer, its TTLs made to agree with life and
 * clamped to s's settings; NULL on no memory. */
static struct cache_entry *entry_new(const struct cache_shard *s, const struct cache_key *k,
				     const uint8_t *answer, size_t len,
				     const struct answer_scan *scan, uint32_t life, bool negative,
				     uint64_t now_ms)
{
	size_t size = entry_size(scan, len);
	struct cache_entry *e = malloc(size);
	if (!e)
		return NULL;

	memset(e, 0, sizeof(*e));
	e->stored_at_ms = now_ms;
	e->used_at_ms = now_ms;
	e->expires_at_ms = now_ms + (uint64_t)life * 1000;
	e->lifetime = life;
	e->size = (uint32_t)size;
	e->answer_len = (uint16_t)len;
	e->n_ttls = (uint16_t)scan->n_ttls;
	e->qtype = k->qtype;
	e->qclass = k->qclass;
	e->qname_len = (uint8_t)k->name_len;
	e->kflags = k->kflags;
	e->hash = (uint32_t)k->hash; /* the same for the lowercased copy: the hash folds case */
	uint8_t *stored = entry_answer(e);
	memcpy(stored, answer, len);
	lowercase_name(stored + WIRE_HEADER_LEN, e->qname_len);

	/* Second pass, over our copy: note each TTL field and make it agree
	 * with the entry's life. RFC 2308 §3: the SOA of a negative answer
	 * carries the negative TTL. The clamps apply to every record, so a
	 * client never sees a TTL that outlives the entry's max_ttl cap. */
	if (negative)
		put32(stored + scan->soa_ttl_off, life);
	struct wire_rr_iter it;
	struct wire_rr rr;
	unsigned i = 0;
	(void)wire_rr_iter_init(&it, stored, len); /* scan_answer checked it */
	while (wire_rr_next(&it, &rr) == 1) {
		uint32_t ttl = clamp_ttl(valid_ttl(rr.ttl), s->cfg.min_ttl, s->cfg.max_ttl);
		put32(stored + rr.ttl_off, ttl);
		e->ttl_off[i++] = (uint16_t)rr.ttl_off;
	}
	return e;
}

/* Links e into s's table and LRU list, making room first. */
static int table_insert(struct cache_shard *s, struct cache_entry *e, uint64_t now_ms)
{
	shrink_to_fit(s, e->size, true, now_ms);
	if (!s->buckets || (s->stats.entries + 1 > (s->mask + 1) / 4 * 3 &&
			    s->mask + 1 < table_cap(s)))
		table_grow(s);
	if (!s->buckets)
		return -ENOMEM;
	struct cache_entry **head = &s->buckets[e->hash & s->mask];
	e->hnext = *head;
	*head = e;
	lru_push_front(s, e);
	s->stats.entries++;
	s->stats.bytes += e->size;
	s->stats.inserts++;
	return 0;
}

/* cache_store() within k's shard, locked: everything that needs the
 * settings or the entries. */
static int store_locked(struct cache_shard *s, const struct cache_key *k, const uint8_t *answer,
			size_t len, const struct answer_scan *scan, uint64_t now_ms)
{
	bool negative;

	if (s->cfg.max_entries == 0)
		return -ENOSPC; /* the cache is off */
	uint32_t life = answer_lifetime(&s->cfg, answer, scan, &negative);
	if (life == 0)
		return -ENOSPC;

	struct cache_entry *old = table_find(s, k);
	/* RFC 8767 §4 (and RFC 9520): a failure to refresh must not wipe
	 * out an answer that can still be served, fresh or stale. */
	if (old && WIRE_RCODE(wire_get16(answer + 2)) == WIRE_RCODE_SERVFAIL &&
	    WIRE_RCODE(wire_get16(entry_answer(old) + 2)) != WIRE_RCODE_SERVFAIL &&
	    now_ms < stale_deadline(s, old))
		return -ENOSPC;

	if (entry_size(scan, len) > s->cfg.max_bytes)
		return -ENOSPC;
	struct cache_entry *e = entry_new(s, k, answer, len, scan, life, negative, now_ms);
	if (!e)
		return -ENOMEM;
	if (old)
		entry_drop(s, old); /* replaced: neither evicted nor expired */
	int err = table_insert(s, e, now_ms);
	if (err < 0)
		free(e);
	return err;
}

int cache_store(struct cache *c, const struct wire_query *q, const uint8_t *answer,
		size_t len, uint64_t now_ms)
{
	struct answer_scan scan;
	struct cache_key k;

	if (!q->has_question || q->qname_len == 0)
		return -EBADMSG;
	/* The answer's shape needs neither settings nor entries: checked
	 * before the lock, so other threads wait less. */
	int err = scan_answer(answer, len, q, &scan);
	if (err < 0)
		return err;
	query_key(c, q, &k);
	struct cache_shard *s = shard_of(c, k.hash);

	pthread_mutex_lock(&s->lock);
	err = store_locked(s, &k, answer, len, &scan, now_ms);
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* ---- public: flushes, walk, stats ----------------------------------- */

size_t cache_flush_all(struct cache *c)
{
	size_t n = 0;
	for (unsigned i = 0; i < c->n_shards; i++) {
		struct cache_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		while (s->lru_head) {
			entry_drop(s, s->lru_head);
			n++;
		}
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}

/* name equals zone, or (with zone) ends in it at a label boundary. */
static bool name_in(const uint8_t *name, size_t len, const uint8_t *zone, size_t zone_len,
		    bool below)
{
	if (!below)
		return wire_name_equal(name, len, zone, zone_len);
	for (size_t off = 0; off < len && len - off >= zone_len; off += 1 + (size_t)name[off]) {
		if (len - off == zone_len && wire_name_equal(name + off, zone_len, zone, zone_len))
			return true;
		if (name[off] == 0)
			break;
	}
	return false;
}

/* What a flush or an expiry does to each entry for a name (or zone). */
enum name_action {
	NAME_DROP,    /* flush-cache NAME */
	NAME_EXPIRE,  /* the name's servers changed: stale from now on */
};

/* act_on_names() within one shard, locked. */
static size_t act_on_names_locked(struct cache_shard *s, const uint8_t *name, size_t name_len,
				  bool zone, enum name_action action, uint64_t now_ms)
{
	size_t n = 0;
	struct cache_entry *e = s->lru_head;
	while (e) {
		struct cache_entry *next = e->next;
		if ((action == NAME_DROP || e->expires_at_ms > now_ms) &&
		    name_in(entry_name(e), e->qname_len, name, name_len, zone)) {
			if (action == NAME_DROP)
				entry_drop(s, e);
			else
				e->expires_at_ms = now_ms;
			n++;
		}
		e = next;
	}
	return n;
}

/* O(entries) and every shard: an admin command or a change of routes,
 * not worth an index per name; a zone's names are spread over all
 * shards anyway. */
static size_t act_on_names(struct cache *c, const uint8_t *name, size_t name_len, bool zone,
			   enum name_action action, uint64_t now_ms)
{
	size_t n = 0;
	if (name_len == 0 || name_len > WIRE_NAME_MAX)
		return 0;
	for (unsigned i = 0; i < c->n_shards; i++) {
		struct cache_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		n += act_on_names_locked(s, name, name_len, zone, action, now_ms);
		pthread_mutex_unlock(&s->lock);
	}
	return n;
}

size_t cache_flush_name(struct cache *c, const uint8_t *name, size_t name_len, bool zone)
{
	return act_on_names(c, name, name_len, zone, NAME_DROP, 0);
}

size_t cache_expire(struct cache *c, const uint8_t *name, size_t name_len, bool zone,
		    uint64_t now_ms)
{
	return act_on_names(c, name, name_len, zone, NAME_EXPIRE, now_ms);
}

/* One entry as dump-cache shows it, copied out under the shard's lock. */
struct walk_row {
	uint16_t qtype;
	uint8_t name_len;
	bool stale;
	uint32_t ttl_left;
	size_t bytes;
	uint8_t name[WIRE_NAME_MAX];
};

/* Copies the shard's rows, most recently used first, into *rows (grown as
 * needed); returns how many, or stops early when memory runs out. Only
 * copying happens under the lock: the caller formats them after. */
static size_t copy_rows_locked(const struct cache_shard *s, uint64_t now_ms, struct walk_row **rows,
			       size_t *cap)
{
	size_t n = 0;
	for (const struct cache_entry *e = s->lru_head; e; e = e->next) {
		if (n == *cap) {
			size_t more = *cap ? *cap * 2 : 256;
			struct walk_row *grown = realloc(*rows, more * sizeof(**rows));
			if (!grown)
				break;
			*rows = grown;
			*cap = more;
		}
		struct walk_row *w = &(*rows)[n++];
		w->stale = now_ms >= e->expires_at_ms;
		w->ttl_left = 0;
		if (!w->stale) {
			/* What a client would see on the record that set the life. */
			uint32_t age = entry_age_s(e, now_ms);
			w->ttl_left = age < e->lifetime ? e->lifetime - age : 0;
		}
		w->qtype = e->qtype;
		w->bytes = e->size;
		w->name_len = (uint8_t)e->qname_len;
		memcpy(w->name, entry_name(e), e->qname_len);
	}
	return n;
}

void cache_walk(const struct cache *c, uint64_t now_ms, cache_visit_fn fn, void *arg)
{
	struct walk_row *rows = NULL;
	size_t cap = 0;
	for (unsigned i = 0; i < c->n_shards; i++) {
		const struct cache_shard *s = &c->shard[i];
		/* The walk changes no entry, hence the const cache; the lock is
		 * the one member it must write, and no cache is const itself
		 * (cache_new() allocates them). */
		pthread_mutex_t *lock = (pthread_mutex_t *)&s->lock;
		pthread_mutex_lock(lock);
		size_t n = copy_rows_locked(s, now_ms, &rows, &cap);
		pthread_mutex_unlock(lock);
		/* Formatting takes far longer than copying: other workers'
		 * lookups in this shard do not wait for it. */
		for (size_t k = 0; k < n; k++)
			fn(arg, rows[k].name, rows[k].name_len, rows[k].qtype, rows[k].ttl_left,
			   rows[k].bytes, rows[k].stale);
	}
	free(rows);
}

/* ---- the cache across restarts ------------------------------------------ */

_Static_assert(KEY_DO == CACHE_SAVED_DO && KEY_CD == CACHE_SAVED_CD,
	       "saved key flags are the cache's own");

/* Buckets copied per hold of a shard's lock by cache_export(): at a load
 * of 3/4, about 800 entries, some tens of microseconds of copying. */
#define EXPORT_BUCKETS 1024

struct export_buf {
	struct cache_saved *rows;
	size_t *offs;              /* rows[i].answer is bytes + offs[i] once copied */
	size_t n, cap;
	uint8_t *bytes;
	size_t used, bytes_cap;
};

static int export_room(struct export_buf *b, size_t len)
{
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 1024;
		struct cache_saved *rows = realloc(b->rows, cap * sizeof(*rows));
		if (rows)
			b->rows = rows;
		size_t *offs = realloc(b->offs, cap * sizeof(*offs));
		if (offs)
			b->offs = offs;
		if (!rows || !offs)
			return -ENOMEM;
		b->cap = cap;
	}
	if (b->used + len > b->bytes_cap) {
		size_t cap = b->bytes_cap ? b->bytes_cap * 2 : 256 * 1024;
		while (cap < b->used + len)
			cap *= 2;
		uint8_t *bytes = realloc(b->bytes, cap);
		if (!bytes)
			return -ENOMEM;
		b->bytes = bytes;
		b->bytes_cap = cap;
	}
	return 0;
}

/* Copies the entries of buckets [from, to) still within their stale
 * window into b. */
static int export_range_locked(const struct cache_shard *s, size_t from, size_t to,
			       uint64_t now_ms, struct export_buf *b)
{
	for (size_t i = from; i < to; i++) {
		for (const struct cache_entry *e = s->buckets[i]; e; e = e->hnext) {
			if (now_ms >= stale_deadline(s, e) || now_ms < e->stored_at_ms)
				continue;
			if (export_room(b, e->answer_len) < 0)
				return -ENOMEM;
			memcpy(b->bytes + b->used, entry_answer(e), e->answer_len);
			b->offs[b->n] = b->used;
			b->used += e->answer_len;
			b->rows[b->n++] = (struct cache_saved){
				.kflags = e->kflags,
				.qtype = e->qtype,
				.qclass = e->qclass,
				.lifetime_s = e->lifetime,
				.age_ms = now_ms - e->stored_at_ms,
				.idle_ms = now_ms > e->used_at_ms ? now_ms - e->used_at_ms : 0,
				.answer_len = e->answer_len,
			};
		}
	}
	return 0;
}

int cache_export(struct cache *c, uint64_t now_ms, cache_export_fn fn, void *arg)
{
	struct export_buf b = { 0 };
	int err = 0;
	for (unsigned i = 0; i < c->n_shards && err == 0; i++) {
		struct cache_shard *s = &c->shard[i];
		size_t next = 0, size = 0;
		do {
			b.n = b.used = 0;
			pthread_mutex_lock(&s->lock);
			size_t now_size = s->buckets ? s->mask + 1 : 0;
			/* A growth doubled the table: bucket k split into k and
			 * k + old size, so the walk goes on from twice as far. */
			if (size && now_size > size)
				next = next * (now_size / size);
			size = now_size;
			size_t to = next + EXPORT_BUCKETS < size ? next + EXPORT_BUCKETS : size;
			if (next < size)
				err = export_range_locked(s, next, to, now_ms, &b);
			next = to;
			pthread_mutex_unlock(&s->lock);
			for (size_t k = 0; k < b.n; k++) {
				b.rows[k].answer = b.bytes + b.offs[k];
				fn(arg, &b.rows[k]);
			}
		} while (err == 0 && next < size);
	}
	free(b.rows);
	free(b.offs);
	free(b.bytes);
	return err;
}

/* cache_restore() within k's shard, locked. */
static int restore_locked(struct cache_shard *s, const struct cache_key *k,
			  const struct cache_saved *saved, const struct answer_scan *scan,
			  uint64_t now_ms)
{
	if (s->cfg.max_entries == 0 || now_ms < saved->age_ms)
		return -ENOSPC;
	uint32_t life = saved->lifetime_s < s->cfg.max_ttl ? saved->lifetime_s : s->cfg.max_ttl;
	uint64_t stored_at = now_ms - saved->age_ms;
	uint64_t expires = stored_at + (uint64_t)life * 1000;
	if (now_ms >= expires + (uint64_t)s->cfg.stale_max_age * 1000)
		return -ENOSPC; /* neither fresh nor servable stale */
	if (entry_size(scan, saved->answer_len) > s->cfg.max_bytes)
		return -ENOSPC;
	struct cache_entry *e = entry_new(s, k, saved->answer, saved->answer_len, scan, life,
					  false, stored_at);
	if (!e)
		return -ENOMEM;
	e->used_at_ms = saved->idle_ms < saved->age_ms ? now_ms - saved->idle_ms : stored_at;
	struct cache_entry *old = table_find(s, k);
	if (old)
		entry_drop(s, old);
	int err = table_insert(s, e, now_ms);
	if (err < 0)
		free(e);
	return err;
}

int cache_restore(struct cache *c, const struct cache_saved *saved, uint64_t now_ms)
{
	struct wire_query q = { 0 };
	struct answer_scan scan;
	struct cache_key k;
	size_t end = WIRE_HEADER_LEN;

	if (saved->answer_len < WIRE_HEADER_LEN || saved->answer_len > WIRE_MSG_MAX ||
	    wire_skip_name(saved->answer, saved->answer_len, &end) < 0 ||
	    end - WIRE_HEADER_LEN > WIRE_NAME_MAX)
		return -EBADMSG;
	q.has_question = true;
	q.qname_len = (uint8_t)(end - WIRE_HEADER_LEN);
	memcpy(q.qname, saved->answer + WIRE_HEADER_LEN, q.qname_len);
	q.qtype = saved->qtype;
	q.qclass = saved->qclass;
	q.edns_do = (saved->kflags & CACHE_SAVED_DO) != 0;
	q.flags = (saved->kflags & CACHE_SAVED_CD) ? WIRE_FLAG_CD : 0;
	/* The same checks as a store: a file is input like any other. A
	 * compressed question name fails here (its name must equal q's). */
	int err = scan_answer(saved->answer, saved->answer_len, &q, &scan);
	if (err < 0)
		return err;
	query_key(c, &q, &k);
	struct cache_shard *s = shard_of(c, k.hash);
	pthread_mutex_lock(&s->lock);
	err = restore_locked(s, &k, saved, &scan, now_ms);
	pthread_mutex_unlock(&s->lock);
	return err;
}

void cache_note_prefetch(struct cache *c)
{
	/* Relaxed: a counter, ordered with nothing else. */
	atomic_fetch_add_explicit(&c->prefetches, 1, memory_order_relaxed);
}

void cache_get_stats(struct cache *c, struct cache_stats *out)
{
	memset(out, 0, sizeof(*out));
	for (unsigned i = 0; i < c->n_shards; i++) {
		struct cache_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		out->entries += s->stats.entries;
		out->bytes += s->stats.bytes;
		out->hits += s->stats.hits;
		out->misses += s->stats.misses;
		out->inserts += s->stats.inserts;
		out->evictions += s->stats.evictions;
		out->expirations += s->stats.expirations;
		out->stale_served += s->stats.stale_served;
		pthread_mutex_unlock(&s->lock);
	}
	out->prefetches = atomic_load_explicit(&c->prefetches, memory_order_relaxed);
}

void cache_reset_stats(struct cache *c)
{
	for (unsigned i = 0; i < c->n_shards; i++) {
		struct cache_shard *s = &c->shard[i];
		pthread_mutex_lock(&s->lock);
		uint64_t entries = s->stats.entries;
		uint64_t bytes = s->stats.bytes;
		memset(&s->stats, 0, sizeof(s->stats));
		s->stats.entries = entries;
		s->stats.bytes = bytes;
		pthread_mutex_unlock(&s->lock);
	}
	atomic_store_explicit(&c->prefetches, 0, memory_order_relaxed);
}
