/* ascii.h - the two byte-level helpers every DNS name path uses: ASCII
 * case folding (RFC 4343: DNS names compare without regard to ASCII case,
 * and only ASCII) and the FNV-1a hash step. Header-only and inline: they
 * run per byte on the hot path (cache keys, in-flight table, scrubbing).
 */
#ifndef STUBD_ASCII_H
#define STUBD_ASCII_H

#include <stdint.h>

#define ASCII_FNV_BASIS 2166136261u
#define ASCII_FNV_PRIME 16777619u

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

#endif
