/* metrics.h - stubd's counters in Prometheus' text exposition format, for
 * stubctl statistics --prometheus and node_exporter's textfile collector.
 *
 * Owns what a scraper sees: every metric family's name, type, help text
 * and labels, and the format's rules (text format 0.0.4): HELP and TYPE
 * before a family's samples, all of a family together, label values
 * escaped, a histogram as cumulative le buckets ending in +Inf, then
 * _sum and _count. It reads numbers it is given and never a module of the
 * daemon: the control command gathers them (control_cmds.c), so a test
 * renders numbers of its own. No I/O, no locks, no libevent.
 */
#ifndef STUBD_METRICS_H
#define STUBD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "stubd/cache.h"
#include "stubd/upstream_policy.h"
#include "stubd/worker.h"

/* One upstream server as the policy sees it (status' table). */
struct metrics_server {
	const char *name;   /* its server label: "ADDR:PORT", "ADDR:PORT#NAME" for DNS over TLS */
	bool tls;           /* dns-over-tls is not "no": its TLS counters are shown */
	struct policy_status status;
};

/* Everything one exposition shows; all borrowed for the call. */
struct metrics_input {
	const char *version;               /* stubd's, for stubd_build_info */
	time_t started;                    /* when the daemon started, Unix time */
	const struct worker_stats *workers; /* the workers' counters added up */
	const struct cache_stats *cache;
	uint64_t cache_max_entries;        /* cache-size */
	uint64_t cache_max_bytes;          /* cache-memory */
	const struct metrics_server *servers; /* the table in force, in its order */
	size_t n_servers;
};

/* The exposition of in: text ending in a newline, NUL-terminated, which
 * the caller frees; *len (len may be NULL) is its length. NULL when memory
 * runs out. A server whose name repeats an earlier one's is left out: a
 * sample twice would make the scraper refuse the whole file. */
char *metrics_render(const struct metrics_input *in, size_t *len);

#endif
