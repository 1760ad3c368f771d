/* service.h - stubd as a service: what it says to its service manager and
 * what it is handed by it, and who it runs as.
 *
 * Owns the libsystemd calls (sd_notify, sd_listen_fds_with_names,
 * sd_watchdog_enabled) and the privilege drop. Without systemd every call
 * is a harmless no-op and stubd binds its own sockets, so it behaves the
 * same with or without socket activation.
 */
#ifndef STUBD_SERVICE_H
#define STUBD_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "stubd/config.h"

#define SERVICE_MAX_FDS 32

/* Sockets handed over by socket activation, sorted by what they are. */
struct service_fds {
	int udp[SERVICE_MAX_FDS];    /* AF_INET/AF_INET6 datagram: DNS over UDP */
	size_t n_udp;
	int tcp[SERVICE_MAX_FDS];    /* AF_INET/AF_INET6 stream, listening: DNS over TCP */
	size_t n_tcp;
	int control;                 /* AF_UNIX stream: the control socket, or -1 */
};

/* Takes the sockets systemd passed (none without activation: all counts 0,
 * control -1). Returns 0, or -1 with err set when a passed socket is of a
 * kind stubd cannot use (exit 1). */
int service_take_fds(struct service_fds *fds, struct config_error *err);

/* Who stubd runs as once its sockets are open: chosen once at start-up
 * (service_choose_user), used to give it its directories and then to
 * become it. Kept in the daemon context. */
struct service_user {
	bool change;                      /* started as root: become uid/gid */
	bool stay_root;                   /* started as root with user = root */
	bool fallback;                    /* nobody, as the user is missing: shared */
	uid_t uid;
	gid_t gid;
	char name[CONFIG_ACCOUNT_MAX];    /* for logs: cfg->user, or "nobody" */
};

/* Started as root: cfg->user when it exists; else nobody (group nogroup,
 * else nobody's primary group), with a warning that says how to create
 * the user; with user = root, root. Not root (systemd's User=, or a user's
 * own run): nothing changes. Returns 0, or -1 with err set when not even
 * nobody exists (exit 1): stubd never stays root by accident. */
int service_choose_user(const struct config *cfg, struct service_user *who,
			struct config_error *err);

/* Makes dir (one level, mode 0755) when it is missing and, started as
 * root to run as another user, gives it to that user, so stubd can still
 * write there after dropping root. Failures are logged: what needs the
 * directory says so again when it cannot write. */
void service_prepare_dir(const struct service_user *who, const char *dir);

/* sd_notify messages (no-ops without NOTIFY_SOCKET). */
void service_ready(const char *status);
void service_status(const char *status);
void service_reloading(void);            /* RELOADING=1 with MONOTONIC_USEC */
void service_stopping(void);
void service_watchdog_ping(void);

/* The watchdog interval systemd expects pings within, or 0 when none. */
uint64_t service_watchdog_usec(void);

/* Becomes who (service_choose_user): the capability bounding set emptied
 * while still root, then setgroups, setgid, setuid, each checked, then
 * checked that root cannot be regained and that no capability is left
 * (CapEff and CapPrm 0). Call it with only the main thread running:
 * capabilities are per thread. Not started as root: only gives up the
 * capabilities it was handed (file capabilities, ambient ones), where the
 * kernel and the service manager let it; failing that is no error. user =
 * root: stays root, and says so. Returns 0, or -1 with err set (exit 1). */
int service_drop_privileges(const struct service_user *who, struct config_error *err);

#endif
