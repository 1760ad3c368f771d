/* clock.h - the clocks stubd reads, in one place.
 *
 * Monotonic time for everything that measures or waits (a wall-clock jump
 * must neither age nor revive anything), the wall clock only for what
 * outlives the process (the cache file's save time). Header-only: a vDSO
 * read each, cheap enough anywhere. The cache has a coarse clock of its
 * own (cache_clock_ms: cache.h). Modules whose policy is tested on a fake
 * clock take the time as an argument and read these only at their edge.
 */
#ifndef STUBD_CLOCK_H
#define STUBD_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ms_of(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* CLOCK_MONOTONIC, milliseconds. */
static inline uint64_t clock_mono_ms(void)
{
	return clock_ms_of(CLOCK_MONOTONIC);
}

/* CLOCK_MONOTONIC, microseconds (sd-bus and sd_notify count in these). */
static inline uint64_t clock_mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* CLOCK_REALTIME, milliseconds. */
static inline uint64_t clock_wall_ms(void)
{
	return clock_ms_of(CLOCK_REALTIME);
}

#endif
