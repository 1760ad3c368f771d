/* cachesave.h - the cache across restarts: when it is saved and loaded.
 *
 * Owns the schedule and the bookkeeping of cache-file: the load at start
 * (before the first answer), a save every cache-save-interval on a
 * thread of its own (offload.h: exporting and writing 100,000 answers
 * must not hold up the DNS loop), a last save on a clean stop, and what
 * flush-cache does to the file. The file's format and checks are
 * cachefile.h's; the entries' ages are cache.h's. Times: the file holds
 * ages at the save and the wall-clock time of the save, so the downtime
 * is counted on the wall clock; a clock that went backwards counts as no
 * downtime, which never lengthens a TTL.
 *
 * One struct per daemon, on the main loop; nothing here is called from
 * the workers.
 */
#ifndef STUBD_CACHESAVE_H
#define STUBD_CACHESAVE_H

#include <event2/event.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "stubd/cache.h"
#include "stubd/config.h"

struct cachesave;

/* For cache (borrowed: it outlives the result), with cfg's cache-file
 * and cache-save-interval; the file must be owned by owner (stubd's
 * user). The caller owns the result (cachesave_free). NULL when memory
 * or the timer's event ran out. Nothing is read or written yet. */
struct cachesave *cachesave_new(struct event_base *base, struct cache *cache,
				const struct config *cfg, uid_t owner);

/* Loads the file into the cache (at start, before answering), logs what
 * came back, and starts the save timer. A missing file is no error; a
 * damaged one is logged, moved aside and ignored. Returns the number of
 * answers loaded. */
size_t cachesave_load(struct cachesave *cs);

/* New settings (reload): a new path or interval applies from the next
 * save on. */
void cachesave_configure(struct cachesave *cs, const struct config *cfg);

/* flush-cache (all): the saved copy is emptied too, and a save under way
 * cannot bring back what was flushed. */
void cachesave_flushed(struct cachesave *cs);

/* The last save, on a clean stop: waits for one under way, then saves on
 * this thread. */
void cachesave_stop(struct cachesave *cs);

/* Waits for a save under way (its result is dropped) and frees. NULL ok. */
void cachesave_free(struct cachesave *cs);

struct cachesave_status {
	bool enabled;              /* cache-file is not "none" */
	char path[PATH_MAX];
	bool saving;               /* a save runs now */
	time_t last_saved;         /* wall clock; 0 none yet */
	size_t last_saved_answers;
	unsigned last_save_ms;     /* how long it took */
	size_t loaded;             /* answers loaded at start */
	char last_error[PATH_MAX + 256]; /* the last save's or load's problem; "" none */
};

void cachesave_status(const struct cachesave *cs, struct cachesave_status *out);

#endif
