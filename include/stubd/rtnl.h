/* rtnl.h - the kernel's network interfaces, as rtnetlink reports them.
 *
 * Owns one NETLINK_ROUTE socket subscribed to link changes, its libevent
 * event, and the receive buffer. It reports every interface once at start
 * (a dump), then each one that appears, changes or goes away; when the
 * kernel drops messages (the socket's buffer overflowed) or a dump was
 * interrupted by a change, it dumps everything again, so the caller may
 * see the same state twice but never misses the last one. It keeps no
 * list of interfaces: that is the caller's. Runs on the caller's event
 * base, on that base's thread.
 */
#ifndef STUBD_RTNL_H
#define STUBD_RTNL_H

#include <event2/event.h>
#include <stdbool.h>
#include <stddef.h>

/* Called for every interface the kernel reports: at start (the dump) and
 * whenever one appears, changes or goes away. flags are the kernel's
 * IFF_* (IFF_UP, IFF_LOWER_UP, IFF_LOOPBACK, ...); removed: RTM_DELLINK.
 * name is valid during the call only. A renamed interface is reported
 * under its new name with the same ifindex.
 *
 * The callback may call rtnl_watch_free() on its own watch: no further
 * call is made, and the watch is freed once the callback's wake-up is
 * over. (During rtnl_watch_new() the caller has no watch to free yet.) */
typedef void (*rtnl_link_fn)(void *arg, unsigned ifindex, const char *name, unsigned flags,
			     bool removed);

struct rtnl_watch;

/* Opens a NETLINK_ROUTE socket subscribed to RTMGRP_LINK, dumps the
 * existing links synchronously (fn is called for each before this
 * returns), then watches on base. Returns NULL with err set
 * ("rtnetlink: ...: strerror") on failure. The caller frees with
 * rtnl_watch_free(), before freeing base. */
struct rtnl_watch *rtnl_watch_new(struct event_base *base, rtnl_link_fn fn, void *arg,
				  char *err, size_t err_size);

/* Closes the socket. NULL ok; safe from inside the watch's callback. */
void rtnl_watch_free(struct rtnl_watch *w);

#endif
