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

/* Makes dir (one level, mode 0755) when it is missing and, started as
 * root to run as another user, gives it to that user, so stubd can still
 * write there after dropping root. Failures are logged: what needs the
 * directory says so again when it cannot write. */
void service_prepare_dir(const struct config *cfg, const char *dir);

/* sd_notify messages (no-ops without NOTIFY_SOCKET). */
void service_ready(const char *status);
void service_status(const char *status);
void service_reloading(void);            /* RELOADING=1 with MONOTONIC_USEC */
void service_stopping(void);
void service_watchdog_ping(void);

/* The watchdog interval systemd expects pings within, or 0 when none. */
uint64_t service_watchdog_usec(void);

/* Started as root: becomes cfg->user (setgroups, setgid, setuid, each
 * checked, then checked that root cannot be regained). Not root, or user
 * "root": nothing to do. The default user missing: a warning, still root.
 * Returns 0, or -1 with err set (exit 1). */
int service_drop_privileges(const struct config *cfg, struct config_error *err);

#endif
