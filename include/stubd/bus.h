/* bus.h - stubd's connection to the system bus, driven by the daemon's
 * event loop.
 *
 * Owns the sd-bus connection: its fd, events and timeout handed to
 * libevent (sd-bus gets no thread and never blocks the loop once it
 * runs), the well-known name it asks for, and the reconnection when the
 * bus goes away: DNS is answered throughout, and on each new connection
 * the objects are added again and the name asked for again (clients such
 * as NetworkManager then push their state anew, since the name changed
 * owner). What the objects say is resolve1.h's; this is plumbing.
 */
#ifndef STUBD_BUS_H
#define STUBD_BUS_H

#include <event2/event.h>
#include <stdbool.h>
#include <systemd/sd-bus.h>

#include "stubd/config.h"

struct bus;

/* What lives on each connection. attach adds the objects (returns 0, or
 * a negative errno: the connection is given up and retried); detach says
 * the connection is gone, before it is freed (drop every reference to
 * it and to its messages). */
struct bus_hooks {
	int (*attach)(void *arg, sd_bus *bus);
	void (*detach)(void *arg);
	void *arg;
};

/* Connects to the system bus ($DBUS_SYSTEM_BUS_ADDRESS when set) and asks
 * for name. mode CONFIG_DBUS_YES: the bus must be there and the name
 * free now, else NULL with err saying why (and who holds the name);
 * CONFIG_DBUS_AUTO: a warning, and the name is taken when its holder
 * lets go, the bus when it comes back. Not for CONFIG_DBUS_NO. Free with
 * bus_free(). */
struct bus *bus_new(struct event_base *base, enum config_dbus mode, const char *name,
		    const struct bus_hooks *hooks, struct config_error *err);
void bus_free(struct bus *b); /* NULL ok */

/* Something was queued on the connection outside sd-bus's own callbacks
 * (a reply that waited for an upstream): have it sent. */
void bus_kick(struct bus *b);

/* For status: "owner of org.freedesktop.resolve1", "waiting: the name is
 * held by :1.4 (pid 321)", "no system bus (retrying)". */
bool bus_owns_name(const struct bus *b);
const char *bus_describe(const struct bus *b);

#endif
