/* routing.h - keeps the route table in force as the machine's networks change.
 *
 * Owns the link registry (link.h) and the table built from it and the
 * config (route.h); the watchers that feed the registry (the kernel's
 * interfaces over rtnetlink, systemd-networkd's state files); and the two
 * files that follow it in runtime-directory: the link settings, so that a
 * restart loses nothing, and the resolv.conf stubd writes. Whenever the
 * settings change it builds a new table, hands it to every worker (each
 * borrows it for lookups on its miss path), tells the cache which names
 * now go elsewhere (their answers turn stale, RFC 8767), and frees the old
 * table. The decisions live in route.c and link.c; this is the plumbing.
 * Runs on the daemon's main loop.
 */
#ifndef STUBD_ROUTING_H
#define STUBD_ROUTING_H

#include <event2/event.h>
#include <stdbool.h>

#include "stubd/cache.h"
#include "stubd/config.h"
#include "stubd/link.h"
#include "stubd/route.h"
#include "stubd/upstream_policy.h"
#include "stubd/worker.h"

struct routing;

/* The file names under runtime-directory. */
#define ROUTING_STATE_FILE "links"
#define ROUTING_RESOLV_CONF "resolv.conf"

/* cfg, workers, cache and pol (the upstream policy) are borrowed and must
 * outlive the result: the daemon's. listen: the address clients reach stubd at, for resolv.conf.
 * Starts watching the kernel's interfaces, restores the saved link
 * settings, reads networkd's state files, and installs the first table.
 * Returns NULL with err set only when memory runs out; a watcher that
 * cannot start is logged and left out. Free with routing_free(). */
struct routing *routing_new(struct event_base *base, const struct config *cfg,
			    struct worker *workers, unsigned n_workers, struct cache *cache,
			    struct policy *pol, const struct netaddr *listen,
			    struct config_error *err);
void routing_free(struct routing *rt); /* NULL ok */

/* The config changed (reload): global servers, forward-zones, caps. */
void routing_reconfigure(struct routing *rt);

/* The registry, for the front ends to change; after a change they call
 * routing_commit(), which rebuilds only when something changed. */
struct link_registry *routing_links(struct routing *rt);
void routing_commit(struct routing *rt);

/* The table in force, for status and stubctl query. Never NULL after
 * routing_new() succeeded. */
const struct route_table *routing_table(const struct routing *rt);

/* The policy's handles for the table's servers, in its order (n of
 * them; route_table_server(routing_table(rt), i) is handles[i]), held
 * by rt until the next table: for status. */
struct policy_server *const *routing_servers(const struct routing *rt, size_t *n);

/* False when the kernel's interfaces are not known (rtnetlink failed):
 * the link commands then have nothing to work on. */
bool routing_knows_links(const struct routing *rt);

#endif
