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
void netaddr_set_port(struct netaddr *a, uint16_t port);
int netaddr_family(const struct netaddr *a);

/* Same family, address and port. */
bool netaddr_equal(const struct netaddr *a, const struct netaddr *b);

/* 127.0.0.0/8, ::1 or ::ffff:127.0.0.0/104. */
bool netaddr_is_loopback(const struct netaddr *a);

/* An address block, "192.0.2.0/24" or "2001:db8::/32" (a bare address is
 * a block of one). */
struct netaddr_prefix {
	int family;            /* AF_INET or AF_INET6 */
	uint8_t bytes[16];     /* network order; bits past len are zero */
	unsigned len;          /* prefix length in bits */
};

/* Returns 0, or -EINVAL for anything but ADDR or ADDR/LEN. */
int netaddr_prefix_parse(const char *text, struct netaddr_prefix *out);

/* Writes "192.0.2.0/24" into buf and returns buf. */
const char *netaddr_prefix_str(const struct netaddr_prefix *p, char *buf, size_t size);

/* True when a's address lies in p (IPv4-mapped IPv6 counts as IPv4). */
bool netaddr_in_prefix(const struct netaddr *a, const struct netaddr_prefix *p);

#endif
