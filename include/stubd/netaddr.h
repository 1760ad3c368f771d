/* netaddr.h - socket addresses as users write them: "127.0.0.53:53",
 * "[::1]:5353", "::1", "127.0.0.1".
 *
 * Owns parsing and printing of ADDR[:PORT]; holds no state. Used by config
 * (listen, upstream), the listener and the upstream module.
 */
#ifndef STUBD_NETADDR_H
#define STUBD_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for the longest text netaddr_str() produces, "[v6]:65535", and NUL. */
#define NETADDR_STRLEN 64

struct netaddr {
	struct sockaddr_storage ss;
	socklen_t len;
};

/* Parses "IPv4[:PORT]", "[IPv6][:PORT]" or a bare IPv6 address; port
 * defaults to default_port. Returns 0, or -EINVAL for anything else
 * (names are not resolved: a resolver must not depend on DNS to start). */
int netaddr_parse(const char *text, uint16_t default_port, struct netaddr *out);

/* Writes "1.2.3.4:53" or "[::1]:53" into buf and returns buf. */
const char *netaddr_str(const struct netaddr *a, char *buf, size_t size);

uint16_t netaddr_port(const struct netaddr *a);
int netaddr_family(const struct netaddr *a);

/* Same family, address and port. */
bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
bool netaddr_is_loopback(const struct netaddr *a);

#endif
