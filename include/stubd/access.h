/* access.h - who may change stubd's settings (SPEC "D-Bus", "stubctl").
 *
 * Owns the rule: root, a caller with CAP_NET_ADMIN, a member of
 * control-group, or stubd's own user may change things (link settings, flush the cache, reset
 * the counters); anyone may read and ask. The caller's credentials come
 * from the transport (the bus's GetConnectionCredentials, SO_PEERCRED);
 * what the kernel says about its capabilities is read from
 * /proc/PID/status, whose text is parsed here. No sockets, no NSS: the
 * group's id is resolved by the caller, off the DNS path.
 */
#ifndef STUBD_ACCESS_H
#define STUBD_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define ACCESS_MAX_GROUPS 256
#define ACCESS_NO_GROUP ((gid_t)-1)

struct access_caller {
	bool known;                 /* false: the credentials could not be had */
	uid_t uid;
	gid_t groups[ACCESS_MAX_GROUPS]; /* primary and supplementary; past the room,
					  * the rest are left out: they can only refuse */
	size_t n_groups;
	bool cap_net_admin;         /* in the effective set */
};

#define ACCESS_NO_UID ((uid_t)-1)

/* True when the caller may change things. control_gid: the gid of
 * control-group, ACCESS_NO_GROUP when it does not exist. self_uid: the
 * user stubd runs as, whose processes may too (they could do anything to
 * stubd anyway; systemctl reload runs stubctl as that user), or
 * ACCESS_NO_UID. */
bool access_may_change(const struct access_caller *c, gid_t control_gid, uid_t self_uid);

/* Reads CapEff from the text of /proc/PID/status into c->cap_net_admin,
 * provided its Uid line's effective uid is c->uid (a PID reused by
 * another user's process must not lend its rights). Returns 0, or
 * -EINVAL when the text lacks the lines or the uid differs. */
int access_parse_proc_status(const char *text, struct access_caller *c);

/* The same from /proc/PID/status itself. Returns 0 or -errno. */
int access_read_proc(pid_t pid, struct access_caller *c);

/* control-group's id, ACCESS_NO_GROUP when there is no such group. Asks
 * NSS, which may block on the network (LDAP, sssd) or ask DNS: called at
 * start and reload, never per request. */
gid_t access_group_id(const char *name);

/* A phrase for refusals: "root, CAP_NET_ADMIN or group 'stubd'". */
const char *access_who_may(const char *control_group, char *buf, size_t size);

#endif
