/* service.c - systemd integration and privilege drop. See service.h. */
#include "stubd/service.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

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
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=Reloading",
		   (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
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

/* ---- privilege drop ----------------------------------------------------- */

static int fail(struct config_error *err, const char *what, const char *user)
{
	snprintf(err->msg, sizeof(err->msg), "cannot become user '%s': %s failed: %s", user, what,
		 strerror(errno));
	return -1;
}

int service_drop_privileges(const struct config *cfg, struct config_error *err)
{
	if (geteuid() != 0 || strcmp(cfg->user, "root") == 0)
		return 0;

	struct passwd pw, *found = NULL;
	char buf[4096];
	errno = getpwnam_r(cfg->user, &pw, buf, sizeof(buf), &found);
	if (!found) {
		if (strcmp(cfg->user, "stubd") == 0) {
			log_warn("running as root: there is no user 'stubd' to run as; create it "
				 "(systemd-sysusers, or useradd --system --no-create-home stubd) "
				 "or set 'user =' in stubd.conf");
			return 0;
		}
		snprintf(err->msg, sizeof(err->msg),
			 "cannot become user '%s' (user in the config): no such user", cfg->user);
		return -1;
	}
	/* Order matters: groups first, while we still may set them. */
	if (setgroups(1, &pw.pw_gid) < 0)
		return fail(err, "setgroups", cfg->user);
	if (setgid(pw.pw_gid) < 0)
		return fail(err, "setgid", cfg->user);
	if (setuid(pw.pw_uid) < 0)
		return fail(err, "setuid", cfg->user);

	/* Paranoia that costs nothing: root must be gone for good. */
	if (pw.pw_uid != 0 && (setuid(0) == 0 || seteuid(0) == 0)) {
		snprintf(err->msg, sizeof(err->msg), "dropped to '%s' but could regain root", cfg->user);
		return -1;
	}
	if (getuid() != pw.pw_uid || geteuid() != pw.pw_uid || getgid() != pw.pw_gid ||
	    getegid() != pw.pw_gid) {
		snprintf(err->msg, sizeof(err->msg), "dropping to '%s' did not take", cfg->user);
		return -1;
	}
	log_info("running as user %s (uid %u)", cfg->user, (unsigned)pw.pw_uid);
	return 0;
}

void service_prepare_dir(const struct config *cfg, const char *dir)
{
	if (dir[0] == '\0')
		return;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_warn("cannot create %s: %s", dir, strerror(errno));
		return;
	}
	if (geteuid() != 0 || strcmp(cfg->user, "root") == 0)
		return;
	struct passwd pw, *found = NULL;
	char buf[4096];
	if (getpwnam_r(cfg->user, &pw, buf, sizeof(buf), &found) != 0 || !found)
		return;
	struct stat st;
	if (stat(dir, &st) == 0 && st.st_uid == 0 && chown(dir, pw.pw_uid, pw.pw_gid) < 0)
		log_warn("cannot give %s to user %s: %s", dir, cfg->user, strerror(errno));
}
