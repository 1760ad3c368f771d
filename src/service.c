/* service.c - systemd integration and privilege drop. See service.h. */
#include "stubd/service.h"

#include <errno.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "stubd/clock.h"
#include "stubd/log.h"

static int classify_fd(int fd, struct service_fds *fds, struct config_error *err)
{
	int type = 0, listening = 0;
	socklen_t len = sizeof(type);
	struct sockaddr_storage ss;
	socklen_t ss_len = sizeof(ss);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockname(fd, (struct sockaddr *)&ss, &ss_len) < 0)
		goto unusable;
	len = sizeof(listening);
	getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len);

	bool inet = ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
	if (inet && type == SOCK_DGRAM && fds->n_udp < SERVICE_MAX_FDS) {
		fds->udp[fds->n_udp++] = fd;
		return 0;
	}
	if (inet && type == SOCK_STREAM && listening && fds->n_tcp < SERVICE_MAX_FDS) {
		fds->tcp[fds->n_tcp++] = fd;
		return 0;
	}
	if (ss.ss_family == AF_UNIX && type == SOCK_STREAM && listening && fds->control < 0) {
		fds->control = fd;
		return 0;
	}
unusable:
	snprintf(err->msg, sizeof(err->msg),
		 "socket activation passed fd %d, which is not a UDP socket, a listening TCP "
		 "socket or one unix stream socket; check the ListenDatagram=/ListenStream= "
		 "lines of stubd.socket (Accept=no)", fd);
	return -1;
}

int service_take_fds(struct service_fds *fds, struct config_error *err)
{
	char **names = NULL;
	memset(fds, 0, sizeof(*fds));
	fds->control = -1;

	/* unset_environment: children must not think the fds are theirs. */
	int n = sd_listen_fds_with_names(1, &names);
	if (n <= 0) {
		free(names);
		return 0;
	}
	int ret = 0;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		if (ret == 0 && classify_fd(fd, fds, err) < 0)
			ret = -1;
		if (names)
			free(names[i]);
	}
	free(names);
	if (ret == 0)
		log_info("socket activation: %zu UDP, %zu TCP%s", fds->n_udp, fds->n_tcp,
			 fds->control >= 0 ? ", control socket" : "");
	return ret;
}

void service_ready(const char *status)
{
	sd_notifyf(0, "READY=1\nSTATUS=%s", status);
}

void service_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

void service_reloading(void)
{
	/* systemd 253+ wants MONOTONIC_USEC with RELOADING=1 (Type=notify-reload);
	 * older ones ignore it. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading",
		   (unsigned long long)clock_mono_us());
}

void service_stopping(void)
{
	sd_notify(0, "STOPPING=1\nSTATUS=Shutting down");
}

void service_watchdog_ping(void)
{
	sd_notify(0, "WATCHDOG=1");
}

uint64_t service_watchdog_usec(void)
{
	uint64_t usec = 0;
	return sd_watchdog_enabled(0, &usec) > 0 ? usec : 0;
}

/* ---- who stubd runs as ------------------------------------------------- */

/* The fallback when the configured user does not exist: never root by
 * accident (Unbound refuses to start instead; running as nobody keeps
 * DNS working while the log says how to do better). */
#define FALLBACK_USER "nobody"
#define FALLBACK_GROUP "nogroup"

/* Returns 0 and fills *uid and *gid, -ENOENT when there is no such user, or
 * another negative errno when the lookup failed (NSS down, say). */
static int lookup_user(const char *name, uid_t *uid, gid_t *gid)
{
	struct passwd pw, *found = NULL;
	char buf[16384];
	int rc = getpwnam_r(name, &pw, buf, sizeof(buf), &found);
	if (!found)
		return rc == 0 || rc == ENOENT || rc == ESRCH ? -ENOENT : -rc;
	*uid = pw.pw_uid;
	*gid = pw.pw_gid;
	return 0;
}

static void set_user(struct service_user *who, const char *name, uid_t uid, gid_t gid)
{
	who->change = true;
	who->uid = uid;
	who->gid = gid;
	snprintf(who->name, sizeof(who->name), "%s", name);
}

int service_choose_user(const struct config *cfg, struct service_user *who,
			struct config_error *err)
{
	/* Set by lookup_user() when it succeeds; zeroed so the optimizer
	 * need not prove that. */
	uid_t uid = 0;
	gid_t gid = 0;

	memset(who, 0, sizeof(*who));
	if (geteuid() != 0)
		return 0;
	if (strcmp(cfg->user, "root") == 0) {
		who->stay_root = true;
		snprintf(who->name, sizeof(who->name), "root");
		return 0;
	}
	int rc = lookup_user(cfg->user, &uid, &gid);
	if (rc == 0 && uid == 0) { /* another name for root */
		who->stay_root = true;
		snprintf(who->name, sizeof(who->name), "%s", cfg->user);
		return 0;
	}
	if (rc == 0) {
		set_user(who, cfg->user, uid, gid);
		return 0;
	}
	char why[160];
	if (rc == -ENOENT)
		snprintf(why, sizeof(why), "there is no user '%s' to run as", cfg->user);
	else
		snprintf(why, sizeof(why), "cannot look up user '%s' to run as (%s)", cfg->user,
			 strerror(-rc));
	/* systemd-sysusers creates "stubd" from the shipped sysusers.d entry;
	 * any other name is the admin's own to create. */
	const char *sysusers = strcmp(cfg->user, "stubd") == 0 ? "systemd-sysusers, or " : "";
	if (lookup_user(FALLBACK_USER, &uid, &gid) < 0 || uid == 0) {
		snprintf(err->msg, sizeof(err->msg),
			 "%s, nor user '" FALLBACK_USER "', and stubd does not stay root unasked; "
			 "create '%s' (%suseradd --system --no-create-home %s), or set 'user = root' "
			 "in stubd.conf to run as root", why, cfg->user, sysusers, cfg->user);
		return -1;
	}
	struct group gr, *found = NULL;
	char buf[16384];
	const char *group = "its primary group";
	if (getgrnam_r(FALLBACK_GROUP, &gr, buf, sizeof(buf), &found) == 0 && found) {
		gid = gr.gr_gid;
		group = FALLBACK_GROUP;
	}
	set_user(who, FALLBACK_USER, uid, gid);
	who->fallback = true;
	log_warn("%s: running as " FALLBACK_USER " (group %s) instead, an account other programs "
		 "may share; create its own user (%suseradd --system --no-create-home %s) or set "
		 "'user =' in stubd.conf", why, group, sysusers, cfg->user);
	return 0;
}

/* ---- privilege drop ----------------------------------------------------- */

static int fail(struct config_error *err, const char *what, const char *user)
{
	snprintf(err->msg, sizeof(err->msg), "cannot become user '%s': %s failed: %s", user, what,
		 strerror(errno));
	return -1;
}

/* The calling thread's capability sets, as two 32-bit words each. */
static int get_caps(struct __user_cap_data_struct data[2])
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	memset(data, 0, 2 * sizeof(data[0]));
	return (int)syscall(SYS_capget, &hdr, data);
}

static bool holds_caps(void)
{
	struct __user_cap_data_struct data[2];
	if (get_caps(data) < 0)
		return true; /* cannot tell: assume the worst */
	return (data[0].effective | data[1].effective | data[0].permitted | data[1].permitted) != 0;
}

/* Empties the effective, permitted and inheritable sets (the ambient set
 * follows: it cannot hold what the others do not). Returns 0 or -1 with
 * errno set. */
static int clear_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	/* Ambient first: they are what an exec'd child would get. EINVAL
	 * means a kernel older than 4.3, which has none. */
	(void)prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0);
	return (int)syscall(SYS_capset, &hdr, data);
}

/* While still root (CAP_SETPCAP): no capability may come back, not even
 * through a set-user-ID or file-capability program. Returns 0, or -1 with
 * errno set when the kernel refused one (a container without
 * CAP_SETPCAP): that is reported, not fatal, since the effective and
 * permitted sets are what setuid() empties and what is checked after. */
static int empty_bounding_set(void)
{
	int failed = 0;
	for (int cap = 0; prctl(PR_CAPBSET_READ, cap, 0, 0, 0) >= 0; cap++)
		if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0)
			failed = errno;
	errno = failed;
	return failed ? -1 : 0;
}

/* Not started as root: only capabilities handed over (setcap on the
 * binary, AmbientCapabilities=) can be given up; the sockets are open, so
 * CAP_NET_BIND_SERVICE has done its job. A seccomp filter that refuses
 * capset (the unit's ~@privileged) leaves them: that is systemd's choice. */
static void drop_handed_caps(void)
{
	if (!holds_caps())
		return;
	if (clear_caps() < 0) {
		log_debug("keeping the capabilities stubd was started with: capset: %s",
			  strerror(errno));
		return;
	}
	log_info("gave up the capabilities it was started with: every socket is open");
}

int service_drop_privileges(const struct service_user *who, struct config_error *err)
{
	if (who->stay_root) {
		log_info("running as root, as 'user = %s' in the config asks", who->name);
		return 0;
	}
	if (!who->change) {
		drop_handed_caps();
		return 0;
	}
	const char *user = who->name;
	if (empty_bounding_set() < 0)
		log_info("cannot empty the capability bounding set (%s); dropping root all the same",
			 strerror(errno));
	/* Order matters: groups first, while we still may set them. */
	if (setgroups(1, &who->gid) < 0)
		return fail(err, "setgroups", user);
	if (setgid(who->gid) < 0)
		return fail(err, "setgid", user);
	if (setuid(who->uid) < 0)
		return fail(err, "setuid", user);
	/* setuid() away from 0 empties the sets, unless securebits inherited
	 * from whoever started us (SECBIT_KEEP_CAPS, NO_SETUID_FIXUP) say
	 * otherwise: clear them explicitly. Lowering always succeeds. */
	if (clear_caps() < 0)
		return fail(err, "capset", user);

	/* Paranoia that costs nothing: root must be gone for good. */
	if (setuid(0) == 0 || seteuid(0) == 0) {
		snprintf(err->msg, sizeof(err->msg), "dropped to '%s' but could regain root", user);
		return -1;
	}
	if (getuid() != who->uid || geteuid() != who->uid || getgid() != who->gid ||
	    getegid() != who->gid) {
		snprintf(err->msg, sizeof(err->msg), "dropping to '%s' did not take", user);
		return -1;
	}
	if (holds_caps()) {
		snprintf(err->msg, sizeof(err->msg), "dropped to '%s' but capabilities are left", user);
		return -1;
	}
	log_info("running as user %s (uid %u, gid %u), with no capabilities", user,
		 (unsigned)who->uid, (unsigned)who->gid);
	return 0;
}

void service_prepare_dir(const struct service_user *who, const char *dir)
{
	if (dir[0] == '\0')
		return;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_warn("cannot create %s: %s", dir, strerror(errno));
		return;
	}
	if (!who->change)
		return;
	struct stat st;
	if (stat(dir, &st) == 0 && st.st_uid == 0 && chown(dir, who->uid, who->gid) < 0)
		log_warn("cannot give %s to user %s: %s", dir, who->name, strerror(errno));
}
