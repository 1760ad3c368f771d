/* resolvconf.c - nameserver lines of resolv.conf(5). See resolvconf.h. */
#define _GNU_SOURCE
#include "stubd/resolvconf.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/log.h"

#define RESOLVCONF_PORT 53

static int set_v4(const char *addr, struct netaddr *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, addr, &sin->sin_addr) != 1)
		return -EINVAL;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(RESOLVCONF_PORT);
	out->len = sizeof(*sin);
	return 0;
}

/* A zone is an interface name or its index (RFC 4007 §11.2). Without it a
 * link-local server cannot be reached, so an unknown one is an error rather
 * than something to drop silently. */
static int parse_zone(const char *zone, uint32_t *scope_id)
{
	if (*zone == '\0')
		return -EINVAL;
	if (strspn(zone, "0123456789") == strlen(zone)) {
		errno = 0;
		unsigned long v = strtoul(zone, NULL, 10);
		if (errno || v == 0 || v > UINT32_MAX)
			return -EINVAL;
		*scope_id = (uint32_t)v;
		return 0;
	}
	unsigned idx = if_nametoindex(zone);
	if (idx == 0)
		return -ENODEV;
	*scope_id = idx;
	return 0;
}

/* addr is modified: the "%zone" part is cut off. */
static int set_v6(char *addr, struct netaddr *out)
{
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;
	uint32_t scope_id = 0;

	memset(out, 0, sizeof(*out));
	char *percent = strchr(addr, '%');
	if (percent) {
		*percent = '\0';
		int r = parse_zone(percent + 1, &scope_id);
		if (r < 0)
			return r;
	}
	if (inet_pton(AF_INET6, addr, &sin6->sin6_addr) != 1)
		return -EINVAL;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(RESOLVCONF_PORT);
	sin6->sin6_scope_id = scope_id;
	out->len = sizeof(*sin6);
	return 0;
}

/* Returns the value after the keyword "nameserver", or NULL when the line
 * is something else (another keyword, a comment, blank). */
static char *nameserver_value(char *line)
{
	static const char keyword[] = "nameserver";

	while (*line == ' ' || *line == '\t')
		line++;
	if (strncmp(line, keyword, sizeof(keyword) - 1) != 0)
		return NULL;
	line += sizeof(keyword) - 1;
	/* "nameservers 1.2.3.4" is not our keyword. */
	if (*line != ' ' && *line != '\t' && *line != '\n' && *line != '\0')
		return NULL;
	while (*line == ' ' || *line == '\t')
		line++;
	/* Like glibc's res_init: the address ends at blanks or a comment. */
	line[strcspn(line, " \t\r\n#;")] = '\0';
	return line;
}

static void parse_line(const char *path, unsigned lineno, char *line, struct netaddr *out,
		       size_t max, size_t *n)
{
	char *value = nameserver_value(line);
	if (!value)
		return;

	struct netaddr addr;
	char text[NETADDR_STRLEN];
	snprintf(text, sizeof(text), "%s", value);
	int r = strchr(value, ':') ? set_v6(value, &addr) : set_v4(value, &addr);
	if (r == -ENODEV) {
		log_warn("%s:%u: ignoring 'nameserver %s': no such network interface", path,
			 lineno, text);
		return;
	}
	if (r < 0) {
		log_warn("%s:%u: ignoring 'nameserver %s': expected an IPv4 or IPv6 address",
			 path, lineno, text);
		return;
	}
	if (*n >= max) {
		log_warn("%s:%u: ignoring 'nameserver %s': only the first %zu are used", path,
			 lineno, text, max);
		return;
	}
	out[(*n)++] = addr;
}

int resolvconf_read_nameservers(const char *path, struct netaddr *out, size_t max,
				size_t *n)
{
	*n = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;

	char *line = NULL;
	size_t cap = 0;
	unsigned lineno = 0;
	int r = 0;
	errno = 0;
	while (getline(&line, &cap, f) != -1) {
		lineno++;
		parse_line(path, lineno, line, out, max, n);
		errno = 0;
	}
	/* getline returns -1 both at the end and on error: ask the stream. */
	if (ferror(f))
		r = errno ? -errno : -EIO;
	free(line);
	fclose(f);
	return r;
}
