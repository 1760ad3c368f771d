/* netaddr.c - ADDR[:PORT] parsing and printing. See netaddr.h. */
#include "stubd/netaddr.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_port(const char *text, uint16_t *port)
{
	if (*text == '\0')
		return -EINVAL;
	char *end;
	errno = 0;
	unsigned long v = strtoul(text, &end, 10);
	if (errno || *end != '\0' || v == 0 || v > 65535 || text[0] == '-' || text[0] == '+')
		return -EINVAL;
	*port = (uint16_t)v;
	return 0;
}

static int set_v4(const char *addr, uint16_t port, struct netaddr *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
		return -EINVAL;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	out->len = sizeof(*sin);
	return 0;
}

static int set_v6(const char *addr, uint16_t port, struct netaddr *out)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
		return -EINVAL;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	out->len = sizeof(*sin6);
	return 0;
}

int netaddr_parse(const char *text, uint16_t default_port, struct netaddr *out)
{
	char buf[NETADDR_STRLEN];
	uint16_t port = default_port;

	if (!text || strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);

	if (buf[0] == '[') {
		char *close = strchr(buf, ']');
		if (!close)
			return -EINVAL;
		*close = '\0';
		if (close[1] == ':') {
			if (parse_port(close + 2, &port) < 0)
				return -EINVAL;
		} else if (close[1] != '\0') {
			return -EINVAL;
		}
		return set_v6(buf + 1, port, out);
	}
	/* More than one colon and no brackets: a bare IPv6 address. */
	char *colon = strchr(buf, ':');
	if (colon && strchr(colon + 1, ':'))
		return set_v6(buf, port, out);
	if (colon) {
		*colon = '\0';
		if (parse_port(colon + 1, &port) < 0)
			return -EINVAL;
	}
	return set_v4(buf, port, out);
}

const char *netaddr_str(const struct netaddr *a, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];

	if (netaddr_family(a) == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(buf, size, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else if (netaddr_family(a) == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(buf, size, "%s:%u", host, ntohs(sin->sin_port));
	} else {
		snprintf(buf, size, "(unknown address family)");
	}
	return buf;
}

int netaddr_family(const struct netaddr *a)
{
	return a->ss.ss_family;
}

uint16_t netaddr_port(const struct netaddr *a)
{
	if (netaddr_family(a) == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

bool netaddr_equal(const struct netaddr *a, const struct netaddr *b)
{
	if (netaddr_family(a) != netaddr_family(b) || netaddr_port(a) != netaddr_port(b))
		return false;
	if (netaddr_family(a) == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
			      &((const struct sockaddr_in6 *)&b->ss)->sin6_addr,
			      sizeof(struct in6_addr)) == 0;
	return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr ==
	       ((const struct sockaddr_in *)&b->ss)->sin_addr.s_addr;
}

bool netaddr_is_loopback(const struct netaddr *a)
{
	if (netaddr_family(a) == AF_INET) {
		uint32_t ip = ntohl(((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr);
		return (ip >> 24) == 127;
	}
	if (netaddr_family(a) == AF_INET6) {
		const struct in6_addr *ip6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(ip6))
			return true;
		return IN6_IS_ADDR_V4MAPPED(ip6) && ip6->s6_addr[12] == 127;
	}
	return false;
}
