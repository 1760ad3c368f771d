/* cache.h - the second stage: answers stubd already has, TTLs counting down.
 *
 * Owns every cached answer: a hash table keyed by the question (name
 * without regard to case, type, class) plus the DO and CD bits, an LRU list
 * across it, and the counters. Bounded by entry count and by bytes; every
 * operation is O(1) but flushes by name or zone. The hit path copies the
 * stored answer into the caller's buffer and patches ID, case, EDNS and
 * TTLs there: no allocation, no ldns. Time comes in as an argument (a
 * monotonic millisecond clock), so tests need no sleeps. Storing does not
 * scrub: callers store only what scrub_reply() produced.
 *
 * Every function may be called from several threads at once (one cache
 * shared by all workers). The entries are split into `shards` by the
 * key's hash, each with its own lock, table, LRU list and counters: a
 * lookup or store locks one shard; flushes, walks, reloads and the
 * counters visit the shards one at a time, so they see each shard as
 * it was at its turn, not the whole cache at one instant.
 */
#ifndef STUBD_CACHE_H
#define STUBD_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/wire.h"

#define CACHE_SHARDS_MAX 64

struct cache_config {
	size_t max_entries;        /* cache-size; 0 = the cache stores nothing */
	size_t max_bytes;          /* cache-memory: entries, keys and answers */
	uint32_t min_ttl;          /* cache-min-ttl, seconds */
	uint32_t max_ttl;          /* cache-max-ttl */
	uint32_t max_negative_ttl; /* cache-max-negative-ttl (RFC 2308 §5) */
	uint32_t servfail_ttl;     /* how long a failure is remembered (RFC 9520) */
	uint32_t stale_max_age;    /* serve-stale window after expiry (RFC 8767), 0 = off */
	/* 0 or 1: one shard; else a power of two up to CACHE_SHARDS_MAX. Each
	 * shard gets ceil(limit / shards) of max_entries and of max_bytes, and
	 * evicts on its own (LRU within the shard). Fixed at cache_new(). */
	unsigned shards;
};

struct cache_stats {
	uint64_t entries;
	uint64_t bytes;
	uint64_t hits;
	uint64_t misses;
	uint64_t inserts;
	uint64_t evictions;        /* pushed out by the entry or byte cap */
	uint64_t expirations;      /* dropped because they ran out of time */
	uint64_t stale_served;
	uint64_t prefetches;       /* counted by the caller via cache_note_prefetch() */
};

enum cache_result {
	CACHE_MISS,
	CACHE_HIT,       /* fresh: *out holds the reply */
	CACHE_HIT_PREFETCH, /* fresh, but in the last 10% of its TTL: refresh it */
	CACHE_STALE,     /* only from cache_lookup_stale(): expired, TTLs set to 30 */
};

struct cache;

/* The clock the daemon gives the cache: monotonic, so TTLs do not jump
 * with the wall clock; the coarse clock is a vDSO read, cheap enough for
 * every hit. Milliseconds, from CACHE_CLOCK_BASE_MS at boot: an answer
 * loaded from the cache file was stored before boot, at a time this
 * clock must still be able to name. */
#define CACHE_CLOCK_BASE_MS ((uint64_t)1 << 40) /* 34 years */
uint64_t cache_clock_ms(void);

/* The caller owns the result; free with cache_free(). NULL on no memory
 * or a shard count that is not 0, 1 or a power of two up to
 * CACHE_SHARDS_MAX. */
struct cache *cache_new(const struct cache_config *cfg);
/* Not concurrently with any other call on c. */
void cache_free(struct cache *c);

/* Takes new limits (reload); shrinks to them at once. cfg->shards is
 * ignored: the shard count stays the one given to cache_new(). */
void cache_configure(struct cache *c, const struct cache_config *cfg);

/* Looks q up and, on a fresh hit, writes the client's reply to out (as
 * wire_finish_reply() does: q's ID, RD, CD, case and EDNS; TC if over
 * limit) with every TTL lowered by the entry's age; *out_len is set.
 * Moves the entry to the front of the LRU. Expired entries are a miss
 * (kept for serve-stale until stale_max_age past expiry). */
/* age_s (may be NULL) gets, on CACHE_HIT and CACHE_HIT_PREFETCH, the
 * seconds since the entry was stored (stubctl query's "cache, N s old"). */
enum cache_result cache_lookup(struct cache *c, const struct wire_query *q, uint64_t now_ms,
			       uint8_t *out, size_t cap, size_t limit, size_t our_edns_size,
			       size_t *out_len, uint32_t *age_s);

/* RFC 8767: when the upstreams failed, an expired answer not older than
 * stale_max_age past its expiry, with every TTL set to 30. age_s as for
 * cache_lookup(), on CACHE_HIT and CACHE_STALE. */
enum cache_result cache_lookup_stale(struct cache *c, const struct wire_query *q,
				     uint64_t now_ms, uint8_t *out, size_t cap, size_t limit,
				     size_t our_edns_size, size_t *out_len, uint32_t *age_s);

/* True when q has an expired answer still within stale_max_age: what
 * cache_lookup_stale() would serve as CACHE_STALE, looked at only (no
 * copy, no counter, no LRU move). For arming RFC 8767's timer. */
bool cache_has_stale(struct cache *c, const struct wire_query *q, uint64_t now_ms);

/* Stores a stored answer (scrub.h's form) for q's question. Its lifetime:
 * positive answers the smallest TTL of the answer section's records;
 * NXDOMAIN and NODATA min(SOA TTL, SOA MINIMUM) from the authority section
 * (RFC 2308 §5), clamped to max_negative_ttl; SERVFAIL servfail_ttl; each
 * clamped to [min_ttl, max_ttl]. Not stored: TC set, other rcodes, a
 * negative answer without SOA, a lifetime of 0. Returns 0, or -ENOSPC
 * when not stored (not an error for the caller), -ENOMEM. */
int cache_store(struct cache *c, const struct wire_query *q, const uint8_t *answer,
		size_t len, uint64_t now_ms);

/* Drops every entry; returns how many. */
size_t cache_flush_all(struct cache *c);

/* Drops the entries for one name (wire form, any case); with zone, also
 * every name below it. Returns how many. */
size_t cache_flush_name(struct cache *c, const uint8_t *name, size_t name_len, bool zone);

/* Makes the entries for one name (wire form, any case; with zone, also
 * every name below it, the root meaning all) expire at now_ms: no longer
 * served fresh, still served stale (RFC 8767) within stale_max_age of
 * now, as when the servers a name goes to change. Returns how many. */
size_t cache_expire(struct cache *c, const uint8_t *name, size_t name_len, bool zone,
		    uint64_t now_ms);

/* Walks the entries for dump-cache: shard by shard, each shard's entries
 * most recently used first (so the order is per shard, not global). A
 * shard's rows are copied under its lock and fn runs after it is let go,
 * so a slow fn holds up no lookup. Allocates (cold path). */
typedef void (*cache_visit_fn)(void *arg, const uint8_t *name, size_t name_len,
			       uint16_t qtype, uint32_t ttl_left, size_t bytes, bool stale);
void cache_walk(const struct cache *c, uint64_t now_ms, cache_visit_fn fn, void *arg);

/* ---- the cache across restarts (cachefile.h writes and reads the file) ---- */

#define CACHE_SAVED_DO 0x01  /* the key's DO bit */
#define CACHE_SAVED_CD 0x02  /* the key's CD bit */

/* An entry as it leaves and comes back: its key (the question is the
 * answer's, at offset 12), its answer with the TTLs it was stored with,
 * and its times as ages, which mean the same on any clock. */
struct cache_saved {
	uint8_t kflags;            /* CACHE_SAVED_DO | CACHE_SAVED_CD */
	uint16_t qtype;
	uint16_t qclass;
	uint32_t lifetime_s;       /* from its store, after the clamps */
	uint64_t age_ms;           /* since it was stored */
	uint64_t idle_ms;          /* since it was last served (or stored) */
	const uint8_t *answer;
	size_t answer_len;
};

/* Calls fn for every entry still within its serve-stale window, with
 * its ages at now_ms. Entries are copied a bucket range at a time under
 * their shard's lock and fn runs with no lock held, so lookups wait for
 * a short copy at most, not for the caller (the cache file is written
 * from another thread). An entry moved by a table growth meanwhile may
 * come twice. Allocates (cold path); stops early when memory runs out,
 * and returns -ENOMEM then, else 0. */
typedef void (*cache_export_fn)(void *arg, const struct cache_saved *e);
int cache_export(struct cache *c, uint64_t now_ms, cache_export_fn fn, void *arg);

/* Puts a saved entry back as stored age_ms before now_ms and served
 * idle_ms before it, at the front of its shard's LRU (restore oldest-used
 * first, so the caps keep the most recently used). Its lifetime is capped
 * by cache-max-ttl as it is now. Returns 0; -ENOSPC when it is not
 * kept (past its serve-stale window, the cache off or too small for it,
 * older than the clock); -EBADMSG when the answer is not a stored answer
 * for its key (the file lied); -ENOMEM. */
int cache_restore(struct cache *c, const struct cache_saved *e, uint64_t now_ms);

void cache_note_prefetch(struct cache *c);

/* Zeroes the counters, keeping entries and bytes (reset-statistics). */
void cache_reset_stats(struct cache *c);

/* Copies the counters, summed over the shards, into *out: a snapshot,
 * not a live view, so that a reader never holds a pointer into counters
 * another thread writes. */
void cache_get_stats(struct cache *c, struct cache_stats *out);

#endif
