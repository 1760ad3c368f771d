/* resolvconf.h - reads the nameserver lines of resolv.conf(5).
 *
 * Owns nothing but the parsing: config calls it to find the default
 * upstreams when none are configured. Holds no state; it logs each line it
 * ignores (malformed, or past the caller's limit) and returns the rest.
 */
#ifndef STUBD_RESOLVCONF_H
#define STUBD_RESOLVCONF_H

#include <stddef.h>

#include "stubd/netaddr.h"

/* Reads the "nameserver ADDR" lines of path into out[0..max), port 53, in
 * file order, and sets *n to how many. IPv6 link-local addresses may carry a
 * zone ("fe80::1%eth0"): it becomes the scope id. Other keywords, "#" and
 * ";" comments are skipped; malformed nameserver lines and those beyond max
 * are logged and skipped. Returns 0, -ENOENT when the file does not exist
 * (*n = 0), or another negative errno when it cannot be read. */
int resolvconf_read_nameservers(const char *path, struct netaddr *out, size_t max,
				size_t *n);

#endif
