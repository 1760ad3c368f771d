/* ascii.h - the byte-level helpers every DNS name path uses: ASCII
 * case folding (RFC 4343: DNS names compare without regard to ASCII case,
 * and only ASCII) and FNV-1a hashing. Header-only and inline: they run per
 * byte on the hot path (cache keys, in-flight table, scrubbing).
 *
 * Two widths of FNV-1a, one set of constants each: 32 bits for hash
 * tables, 64 bits for checksums of files (cachefile.h), where one changed
 * byte must change the sum (it always does: each step is a bijection of
 * the state) and 32 bits would let a damaged file of millions of bytes
 * pass once in four billion.
 */
#ifndef STUBD_ASCII_H
#define STUBD_ASCII_H

#include <stddef.h>
#include <stdint.h>

#define ASCII_FNV_BASIS 2166136261u
#define ASCII_FNV_PRIME 16777619u
#define ASCII_FNV64_BASIS 14695981039346656037ull
#define ASCII_FNV64_PRIME 1099511628211ull

/* 'A'..'Z' to 'a'..'z'; every other byte as it is. */
static inline uint8_t ascii_lower(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') ? (uint8_t)(c + 32) : c;
}

/* One FNV-1a step: h mixed with one more value. */
static inline uint32_t ascii_fnv_step(uint32_t h, uint32_t v)
{
	return (h ^ v) * ASCII_FNV_PRIME;
}

/* 64-bit FNV-1a of len bytes, carried on from h (ASCII_FNV64_BASIS to
 * start): a sum over several pieces equals the sum over them joined. */
static inline uint64_t ascii_fnv64(uint64_t h, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * ASCII_FNV64_PRIME;
	return h;
}

#endif
