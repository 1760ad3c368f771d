/* ask.h - a few questions about one name that stubd asks itself (stubctl
 * query, D-Bus ResolveHostname and friends), sent down a pipeline like any
 * client's, their answers kept with where each came from.
 *
 * Owns the questions' replies (copies) until ask_clear(). The caller owns
 * the struct (usually inside its own request) and keeps it in place while
 * answers may come; the pipeline's callbacks find it as the client owner.
 */
#ifndef STUBD_ASK_H
#define STUBD_ASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/netaddr.h"
#include "stubd/pipeline.h"
#include "stubd/route.h"

#define ASK_MAX_TYPES 8

struct ask_answer {
	uint16_t qtype;
	bool done;
	uint8_t *reply;                /* owned copy; NULL when none came (out of memory) */
	size_t len;
	struct pipeline_origin origin; /* server and route are NULL: see below */
	char server[NETADDR_STRLEN];   /* the upstream's ADDR:PORT; "" for other sources */
};

struct ask;
/* All answers are in. Called from the pipeline's callback, never from
 * ask_start(). */
typedef void (*ask_done_fn)(struct ask *a, void *arg);

struct ask {
	struct pipeline *p;
	ask_done_fn done;
	void *arg;
	size_t n, n_done;
	bool no_servers;               /* the name's route has no server */
	char route[ROUTE_LABEL_MAX];   /* where the name goes now ("none" without a table) */
	struct ask_answer answers[ASK_MAX_TYPES];
};

/* Asks one question per type (at most ASK_MAX_TYPES) about qname (wire
 * form) of class qclass, IDs 0..n-1; skip_cache: not answered from the
 * cache. Returns 1 when every answer came at once (done is not called),
 * 0 when done will be called, -EINVAL for too many types, -ENOMEM. */
int ask_start(struct ask *a, struct pipeline *p, const uint8_t *qname, size_t qname_len,
	      const uint16_t *types, size_t n, uint16_t qclass, bool skip_cache, ask_done_fn done,
	      void *arg);

/* The reply's rcode; SERVFAIL when there is no reply. */
unsigned ask_rcode(const struct ask_answer *a);

/* Drops what is still on its way (no callback after this) and frees the
 * replies. Safe on a zeroed struct. */
void ask_clear(struct ask *a);

#endif
