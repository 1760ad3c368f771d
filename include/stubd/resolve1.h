/* resolve1.h - systemd-resolved's D-Bus API, org.freedesktop.resolve1, as
 * NetworkManager, resolvectl and openvpn-systemd-resolved use it.
 *
 * Owns the objects stubd puts on the bus: the Manager at
 * /org/freedesktop/resolve1 (ResolveHostname/Address/Record through
 * stubd's own pipeline, SetLink* and RevertLink into the link registry as
 * the D-Bus front end, FlushCaches, the statistics, and the properties
 * resolvectl reads, with its exact types) and one Link object per kernel
 * interface (/org/freedesktop/resolve1/link/_3N). Also owns who may
 * call what: changing calls wait for the caller's credentials from the
 * bus (asked without blocking) and are run only for access.h's callers.
 * The connection itself is bus.h's. Runs on the daemon's main loop.
 */
#ifndef STUBD_RESOLVE1_H
#define STUBD_RESOLVE1_H

#include <systemd/sd-bus.h>

#include "stubd/bus.h"

#define RESOLVE1_BUS_NAME "org.freedesktop.resolve1"

struct daemon;
struct resolve1;

/* d is borrowed and must outlive the result. Returns NULL when memory
 * runs out. Free with resolve1_free() after the bus it serves. */
struct resolve1 *resolve1_new(struct daemon *d);
void resolve1_free(struct resolve1 *r1); /* NULL ok */

/* The bus.h hooks: attach adds the objects to a new connection; detach
 * drops every call still waiting (a lookup, a caller's credentials). */
struct bus_hooks resolve1_hooks(struct resolve1 *r1);

/* The bus, once made, so that replies sent later get flushed. */
void resolve1_set_bus(struct resolve1 *r1, struct bus *b);

#endif
