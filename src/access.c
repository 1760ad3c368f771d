/* access.c - who may change stubd's settings; see access.h. */
#include "stubd/access.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool access_may_change(const struct access_caller *c, gid_t control_gid)
{
	if (!c->known)
		return false;
	if (c->uid == 0 || c->cap_net_admin)
		return true;
	if (control_gid == ACCESS_NO_GROUP)
		return false;
	for (size_t i = 0; i < c->n_groups; i++)
		if (c->groups[i] == control_gid)
			return true;
	return false;
}

/* The value after "Key:" at the start of a line of text, or NULL. */
static const char *status_field(const char *text, const char *key)
{
	size_t len = strlen(key);
	for (const char *line = text; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
		if (strncmp(line, key, len) == 0 && line[len] == ':')
			return line + len + 1;
	return NULL;
}

int access_parse_proc_status(const char *text, struct access_caller *c)
{
	const char *uid = status_field(text, "Uid");
	const char *cap = status_field(text, "CapEff");
	if (!uid || !cap)
		return -EINVAL;
	/* Uid: real, effective, saved, filesystem. */
	char *end;
	unsigned long real = strtoul(uid, &end, 10);
	unsigned long effective = strtoul(end, &end, 10);
	(void)real;
	if (end == uid || effective != (unsigned long)c->uid)
		return -EINVAL;
	errno = 0;
	uint64_t caps = strtoull(cap, &end, 16);
	if (errno || end == cap)
		return -EINVAL;
	c->cap_net_admin = (caps >> CAP_NET_ADMIN) & 1;
	return 0;
}

int access_read_proc(pid_t pid, struct access_caller *c)
{
	char path[64], text[8192];
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = read(fd, text, sizeof(text) - 1);
	int err = n < 0 ? -errno : 0;
	close(fd);
	if (err < 0)
		return err;
	text[n] = '\0';
	return access_parse_proc_status(text, c);
}

const char *access_who_may(const char *control_group, char *buf, size_t size)
{
	snprintf(buf, size, "root, CAP_NET_ADMIN or group '%s'", control_group);
	return buf;
}
