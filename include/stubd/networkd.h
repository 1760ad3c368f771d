/* networkd.h - systemd-networkd's link state files as a front end.
 *
 * Owns reading /run/systemd/netif/links/IFINDEX the way networkd writes it
 * (DNS=, DOMAINS=, ROUTE_DOMAINS=, DNS_DEFAULT_ROUTE=, DNS_OVER_TLS=,
 * DNSSEC=, LLMNR=, MDNS=) into link settings (link.h), and watching that
 * directory with inotify on the event loop, as systemd-resolved does
 * (libsystemd exports no sd_network_* API). networkd replaces each file by
 * writing a temporary one and renaming it, so a file is read whole when it
 * lands under its final name.
 */
#ifndef STUBD_NETWORKD_H
#define STUBD_NETWORKD_H

#include <event2/event.h>
#include <stddef.h>

#include "stubd/link.h"

/* How often a directory that does not exist yet (networkd not started,
 * or not used at all) is looked for again. */
#define NETWORKD_RETRY_MS 5000

/* Parses one state file into s (initialized by the caller). A key that
 * is absent leaves its field unset; "DNS=" with nothing after it sets "no
 * servers". Other keys are ignored. A bad item (a server or domain that
 * does not parse) is skipped and reported through warn, naming the file
 * and line; the rest of the file still counts. warn NULL: log_warn.
 * Returns 0, or -errno when the file cannot be read (or is not a regular
 * file). */
int networkd_parse_file(const char *path, unsigned ifindex, struct link_settings *s,
			void (*warn)(void *arg, const char *msg), void *warn_arg);

/* fn gets a file's settings when it appears or is replaced (it may move
 * them out, as link_set() does; what is left is freed after the call), and
 * s NULL when the file goes. */
typedef void (*networkd_fn)(void *arg, unsigned ifindex, struct link_settings *s);

struct networkd_watch;

/* Watches dir on base; the files already there are reported before this
 * returns. A dir that does not exist yet is looked for every
 * NETWORKD_RETRY_MS. Returns NULL with err set when inotify cannot be
 * set up. Free with networkd_watch_free(). */
struct networkd_watch *networkd_watch_new(struct event_base *base, const char *dir,
					  networkd_fn fn, void *arg, char *err, size_t err_size);
void networkd_watch_free(struct networkd_watch *w); /* NULL ok; not from inside fn */

#endif
