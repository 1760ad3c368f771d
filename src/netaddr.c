/* netaddr.c - ADDR[:PORT] parsing and printing. See netaddr.h. */
#include "stubd/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
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

void netaddr_set_port(struct netaddr *a, uint16_t port)
{
	if (netaddr_family(a) == AF_INET6)
		((struct sockaddr_in6 *)&a->ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)&a->ss)->sin_port = htons(port);
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

int netaddr_prefix_parse(const char *text, struct netaddr_prefix *out)
{
	char buf[NETADDR_STRLEN];
	unsigned len;

	if (!text || strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	memset(out, 0, sizeof(*out));
	char *slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (inet_pton(AF_INET, buf, out->bytes) == 1) {
		out->family = AF_INET;
		len = 32;
	} else if (inet_pton(AF_INET6, buf, out->bytes) == 1) {
		out->family = AF_INET6;
		len = 128;
	} else {
		return -EINVAL;
	}
	if (slash) {
		char *end;
		unsigned long v = strtoul(slash + 1, &end, 10);
		if (slash[1] == '\0' || *end != '\0' || v > len || !isdigit((unsigned char)slash[1]))
			return -EINVAL;
		len = (unsigned)v;
	}
	out->len = len;
	/* Clear the host bits, so 192.0.2.7/24 means 192.0.2.0/24. */
	for (unsigned bit = len; bit < (out->family == AF_INET ? 32u : 128u); bit++)
		out->bytes[bit / 8] &= (uint8_t)~(0x80 >> (bit % 8));
	return 0;
}

const char *netaddr_prefix_str(const struct netaddr_prefix *p, char *buf, size_t size)
{
	char host[INET6_ADDRSTRLEN];
	inet_ntop(p->family, p->bytes, host, sizeof(host));
	snprintf(buf, size, "%s/%u", host, p->len);
	return buf;
}

static bool bits_match(const uint8_t *a, const uint8_t *b, unsigned len)
{
	unsigned whole = len / 8, rest = len % 8;
	if (memcmp(a, b, whole) != 0)
		return false;
	if (rest == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rest));
	return (a[whole] & mask) == (b[whole] & mask);
}

bool netaddr_in_prefix(const struct netaddr *a, const struct netaddr_prefix *p)
{
	if (netaddr_family(a) == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&a->ss;
		return p->family == AF_INET &&
		       bits_match((const uint8_t *)&sin->sin_addr, p->bytes, p->len);
	}
	if (netaddr_family(a) != AF_INET6)
		return false;
	const uint8_t *b6 = ((const struct sockaddr_in6 *)&a->ss)->sin6_addr.s6_addr;
	if (p->family == AF_INET6)
		return bits_match(b6, p->bytes, p->len);
	return IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)b6) && bits_match(b6 + 12, p->bytes, p->len);
}
