/* access.c - who may change stubd's settings; see access.h. */
#include "stubd/access.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <inttypes.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

bool access_may_change(const struct access_caller *c, gid_t control_gid, uid_t self_uid)
{
	if (!c->known)
		return false;
	if (c->uid == 0 || c->cap_net_admin || (self_uid != ACCESS_NO_UID && c->uid == self_uid))
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

/* An unsigned number at *p after tabs and spaces, never from the next
 * line (strtoull would skip a newline too); *p moved past it. */
static bool line_number(const char **p, int base, unsigned long long *v)
{
	const char *s = *p + strspn(*p, " \t");
	if (!(base == 16 ? isxdigit((unsigned char)*s) : isdigit((unsigned char)*s)))
		return false;
	char *end;
	errno = 0;
	*v = strtoull(s, &end, base);
	if (errno)
		return false;
	*p = end;
	return true;
}

int access_parse_proc_status(const char *text, struct access_caller *c)
{
	const char *uid = status_field(text, "Uid");
	const char *cap = status_field(text, "CapEff");
	if (!uid || !cap)
		return -EINVAL;
	/* Uid: real, effective, saved, filesystem. */
	unsigned long long real, effective, caps;
	if (!line_number(&uid, 10, &real) || !line_number(&uid, 10, &effective) ||
	    effective != (unsigned long long)c->uid)
		return -EINVAL;
	if (!line_number(&cap, 16, &caps) || (*cap != '\n' && *cap != '\0'))
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

gid_t access_group_id(const char *name)
{
	struct group grp, *found = NULL;
	char buf[16384];
	if (!name || !*name || getgrnam_r(name, &grp, buf, sizeof(buf), &found) != 0 || !found)
		return ACCESS_NO_GROUP;
	return found->gr_gid;
}

const char *access_who_may(const char *control_group, char *buf, size_t size)
{
	snprintf(buf, size, "root, CAP_NET_ADMIN or group '%s'", control_group);
	return buf;
}
