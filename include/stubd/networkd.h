/* networkd.h - systemd-networkd's link state files as a front end.
 *
 * systemd-networkd has no D-Bus call to push DNS settings: it writes one
 * file per interface, /run/systemd/netif/links/IFINDEX, and
 * systemd-resolved watches the folder. This module does what resolved
 * does: it parses those files into link_settings (link.h) and watches the
 * folder with inotify, handing each file's settings to a callback, which
 * the daemon turns into link_set(..., LINK_SOURCE_NETWORKD, ...). Owns
 * the inotify descriptor and its events, nothing else; the parser is
 * plain file reading, unit-tested alone.
 *
 * The format, as networkd 252 writes it (src/network/networkd-state-file.c,
 * link_save()): a "# This is private data. Do not parse." line, then
 * KEY=VALUE lines, unquoted. ADMIN_STATE=, OPER_STATE=, CARRIER_STATE= and
 * the like always; the DNS keys only when networkd manages the link (it
 * has a .network file): DNS=, DOMAINS=, ROUTE_DOMAINS=, LLMNR= and MDNS=
 * always then, even empty; DNS_DEFAULT_ROUTE=, DNS_OVER_TLS= and DNSSEC=
 * only when configured. Lists are separated by single spaces. The file is
 * written under a temporary name in the same folder and renamed over the
 * old one, and removed when the interface goes.
 */
#ifndef STUBD_NETWORKD_H
#define STUBD_NETWORKD_H

#include <stddef.h>

#include "stubd/link.h"

struct event_base;

/* networkd's files are a few hundred bytes; past these sizes, a file or a
 * line is not one networkd wrote, and is cut short or skipped. */
#define NETWORKD_FILE_MAX 65536
#define NETWORKD_LINE_MAX 16384
/* Problems reported per file; a file of garbage says so once, not per line. */
#define NETWORKD_MAX_WARNINGS 10
/* How often a links folder that does not exist is looked for again. */
#define NETWORKD_RECHECK_SECONDS 3

/* Called with one complete message: "FILE:LINE: why" or "FILE: why". */
typedef void (*networkd_warn_fn)(void *arg, const char *msg);

/* Parses one state file (/run/systemd/netif/links/IFINDEX) into s, which
 * is initialised here (the caller clears it with link_settings_clear()):
 *   DNS=            servers, space-separated, each ADDR[:PORT][%IFINDEX|IFNAME][#NAME],
 *                   IPv6 with a port in brackets ("[fe80::1]:5353%3#dns.example",
 *                   the zone after the port as networkd writes it); a link-local
 *                   address without a zone gets ifindex as its scope
 *   DOMAINS=        search domains
 *   ROUTE_DOMAINS=  route-only domains: stored as "~" domains ("." is "~.")
 *   DNS_DEFAULT_ROUTE= yes/no
 *   DNS_OVER_TLS=, DNSSEC=, LLMNR=, MDNS=  as link_mode_parse() takes them
 * A key that is absent leaves its field unset; DNS= present but empty sets
 * "no servers" (DOMAINS= likewise). A key given twice: the last line wins.
 * Other keys, comment lines ('#', ';') and blank lines are ignored. When
 * ADMIN_STATE= says networkd does not manage the link ("pending",
 * "initialized", "unmanaged"), everything is left unset, as resolved does.
 *
 * A bad value skips that one item (a server, a domain) or that key, and a
 * line that is too long, has a NUL byte or no '=' is skipped: each is
 * reported through warn ("FILE:LINE: why"), at most NETWORKD_MAX_WARNINGS
 * per file; the rest of the file still counts. warn NULL: log_warn().
 *
 * Returns 0, -ENOENT (no such file: not reported, the caller knows why),
 * -ENOMEM, or another -errno when the file cannot be read or is not a
 * regular file (a folder, a symlink, a FIFO: reported through warn).
 * On error s is left unset. */
int networkd_parse_file(const char *path, unsigned ifindex, struct link_settings *s,
			networkd_warn_fn warn, void *warn_arg);

/* fn(arg, ifindex, s): the state file of ifindex is new or changed; fn
 * takes the settings over as link_set() does (it may move them out: what
 * it leaves is cleared after it returns). fn(arg, ifindex, NULL): the
 * file is gone (or no longer readable), so networkd says nothing about
 * the interface any more. networkd rewrites a file on every state change
 * of its interface, so fn may get settings equal to the last ones. fn
 * must not free the watch. */
typedef void (*networkd_fn)(void *arg, unsigned ifindex, struct link_settings *s);

struct networkd_watch;

/* Watches dir (networkd-links-dir in stubd.conf) with inotify on base, and
 * calls fn for every file there, from inside this call, then on every
 * change. Files whose name is not a decimal ifindex are ignored (networkd's
 * temporary files among them). A dir that does not exist, or goes, is
 * looked for every NETWORKD_RECHECK_SECONDS: networkd may start after
 * stubd; when the dir goes, each file seen in it is reported gone.
 * Returns NULL with err set when inotify or memory fails. The caller owns
 * the watch; free it with networkd_watch_free() before base. */
struct networkd_watch *networkd_watch_new(struct event_base *base, const char *dir,
					  networkd_fn fn, void *arg, char *err,
					  size_t err_size);
void networkd_watch_free(struct networkd_watch *w); /* NULL ok; calls no fn */

#endif
