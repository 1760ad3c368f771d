/* bus.c - the system bus connection on the daemon's event loop; see bus.h. */
#include "stubd/bus.h"

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stubd/clock.h"
#include "stubd/log.h"

/* A burst of calls is handled this many at a time, then the loop gets a
 * turn (DNS first): the rest follow on the next pass. */
#define BUS_BATCH 64
#define BUS_RETRY_FIRST_S 1
#define BUS_RETRY_MAX_S 5
/* Only the start with dbus = yes waits on the bus, and not for long. */
#define BUS_START_TIMEOUT_USEC (5 * 1000 * 1000ULL)

/* RequestName's flags and answers (D-Bus specification, "Message Bus
 * Messages"). */
#define NAME_FLAG_DO_NOT_QUEUE 4
#define NAME_REPLY_PRIMARY_OWNER 1
#define NAME_REPLY_IN_QUEUE 2
#define NAME_REPLY_EXISTS 3
#define NAME_REPLY_ALREADY_OWNER 4

struct bus {
	struct event_base *base;
	char name[128];
	struct bus_hooks hooks;
	sd_bus *conn;          /* NULL between connections */
	bool attached;         /* hooks.attach succeeded on conn */
	bool owner;            /* conn holds name */
	bool said_lost;        /* the outage was logged once */
	struct event *io;
	short io_flags;        /* what io waits for now; 0: not added */
	struct event *timeout; /* sd-bus's own timeouts (method calls, auth) */
	struct event *work;    /* more to process, or replies queued by bus_kick */
	struct event *retry;   /* reconnects */
	unsigned retry_s;
	char state[192];
};

static void schedule_retry(struct bus *b);
static void process(struct bus *b);

static const char *address(void)
{
	const char *a = getenv("DBUS_SYSTEM_BUS_ADDRESS");
	return a && *a ? a : "unix:path=/run/dbus/system_bus_socket";
}

static void on_io(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	process(arg);
}

/* Hands sd-bus's wishes (readable, writable, a deadline) to libevent. */
static void rearm(struct bus *b)
{
	int events = sd_bus_get_events(b->conn);
	if (events < 0)
		return;
	short flags = (short)(((events & POLLIN) ? EV_READ : 0) | ((events & POLLOUT) ? EV_WRITE : 0));
	if (flags != b->io_flags) {
		if (b->io_flags)
			event_del(b->io);
		b->io_flags = flags;
		if (flags) {
			event_assign(b->io, b->base, sd_bus_get_fd(b->conn), flags | EV_PERSIST, on_io, b);
			event_add(b->io, NULL);
		}
	}
	uint64_t deadline;
	if (sd_bus_get_timeout(b->conn, &deadline) < 0 || deadline == UINT64_MAX) {
		evtimer_del(b->timeout);
		return;
	}
	uint64_t now = clock_mono_us();
	uint64_t in = deadline > now ? deadline - now : 0;
	struct timeval tv = { .tv_sec = (time_t)(in / 1000000), .tv_usec = (suseconds_t)(in % 1000000) };
	evtimer_add(b->timeout, &tv);
}

static void set_state(struct bus *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_state(struct bus *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->state, sizeof(b->state), fmt, ap);
	va_end(ap);
}

/* The connection is gone (or never came up): let go of it, keep DNS
 * going, try again later. */
static void drop_connection(struct bus *b)
{
	if (!b->conn)
		return;
	if (b->attached && b->hooks.detach)
		b->hooks.detach(b->hooks.arg);
	b->attached = false;
	b->owner = false;
	if (b->io_flags)
		event_del(b->io);
	b->io_flags = 0;
	evtimer_del(b->timeout);
	event_del(b->work);
	b->conn = sd_bus_close_unref(b->conn);
}

static void lost(struct bus *b, int err)
{
	if (!b->said_lost)
		log_warn("dbus: lost the system bus (%s); DNS goes on, reconnecting",
			 strerror(err > 0 ? err : -err));
	b->said_lost = true;
	set_state(b, "no system bus (reconnecting)");
	drop_connection(b);
	schedule_retry(b);
}

static void process(struct bus *b)
{
	if (!b->conn)
		return;
	int r = 0;
	int i;
	for (i = 0; i < BUS_BATCH && b->conn; i++) {
		r = sd_bus_process(b->conn, NULL);
		if (r <= 0)
			break;
	}
	if (!b->conn)
		return;
	if (r < 0 || sd_bus_is_open(b->conn) <= 0)
		return lost(b, r < 0 ? r : -ECONNRESET);
	if (i == BUS_BATCH)
		event_active(b->work, 0, 0);
	rearm(b);
}

static void on_work(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	process(arg);
}

void bus_kick(struct bus *b)
{
	if (b && b->conn)
		event_active(b->work, 0, 0);
}

/* ---- the name ------------------------------------------------------------ */

static int on_name_acquired(sd_bus_message *m, void *arg, sd_bus_error *error)
{
	(void)error;
	struct bus *b = arg;
	const char *name;
	if (sd_bus_message_read(m, "s", &name) < 0 || strcmp(name, b->name) != 0)
		return 0;
	if (!b->owner)
		log_info("dbus: now the owner of %s", b->name);
	b->owner = true;
	set_state(b, "owner of %s", b->name);
	return 0;
}

static int on_name_lost(sd_bus_message *m, void *arg, sd_bus_error *error)
{
	(void)error;
	struct bus *b = arg;
	const char *name;
	if (sd_bus_message_read(m, "s", &name) < 0 || strcmp(name, b->name) != 0)
		return 0;
	log_warn("dbus: lost the name %s to another program", b->name);
	b->owner = false;
	set_state(b, "waiting for %s (another program took it)", b->name);
	return 0;
}

/* "held by :1.4 (pid 321, systemd-resolve)", as far as the bus tells. */
static void describe_holder(sd_bus *conn, const char *name, char *buf, size_t size)
{
	sd_bus_creds *c = NULL;
	const char *unique = NULL, *comm = NULL;
	pid_t pid = 0;
	snprintf(buf, size, "another program");
	if (sd_bus_get_name_creds(conn, name, SD_BUS_CREDS_UNIQUE_NAME | SD_BUS_CREDS_PID | SD_BUS_CREDS_COMM | SD_BUS_CREDS_AUGMENT, &c) < 0)
		return;
	sd_bus_creds_get_unique_name(c, &unique);
	sd_bus_creds_get_pid(c, &pid);
	sd_bus_creds_get_comm(c, &comm);
	snprintf(buf, size, "%s (pid %d%s%s)", unique ? unique : "?", (int)pid, comm ? ", " : "",
		 comm ? comm : "");
	sd_bus_creds_unref(c);
}

static int on_request_name(sd_bus_message *m, void *arg, sd_bus_error *error)
{
	(void)error;
	struct bus *b = arg;
	uint32_t reply = 0;
	const sd_bus_error *e = sd_bus_message_get_error(m);
	if (e) {
		log_warn("dbus: cannot own %s: %s", b->name, e->message ? e->message : e->name);
		set_state(b, "not the owner of %s: %s", b->name, e->name);
		return 0;
	}
	if (sd_bus_message_read(m, "u", &reply) < 0)
		return 0;
	if (reply == NAME_REPLY_PRIMARY_OWNER || reply == NAME_REPLY_ALREADY_OWNER) {
		/* The bus sends NameAcquired before this reply, and
		 * on_name_acquired has said it already. */
		if (!b->owner)
			log_info("dbus: owner of %s on %s", b->name, address());
		b->owner = true;
		set_state(b, "owner of %s", b->name);
		return 0;
	}
	log_warn("dbus: %s is held by another program (is systemd-resolved running? stubd cannot "
		 "run beside it); stubd takes the name when it is let go", b->name);
	set_state(b, "waiting for %s (held by another program)", b->name);
	return 0;
}

/* ---- connecting ----------------------------------------------------------- */

static int open_connection(sd_bus **out)
{
	sd_bus *conn = NULL;
	int r = sd_bus_new(&conn);
	if (r < 0)
		return r;
	if ((r = sd_bus_set_address(conn, address())) < 0 || (r = sd_bus_set_bus_client(conn, 1)) < 0 ||
	    (r = sd_bus_set_trusted(conn, 0)) < 0 || (r = sd_bus_start(conn)) < 0) {
		sd_bus_unref(conn);
		return r;
	}
	*out = conn;
	return 0;
}

static int add_name_matches(struct bus *b)
{
	int r = sd_bus_match_signal_async(b->conn, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
					  "org.freedesktop.DBus", "NameAcquired", on_name_acquired,
					  NULL, b);
	if (r >= 0)
		r = sd_bus_match_signal_async(b->conn, NULL, "org.freedesktop.DBus",
					      "/org/freedesktop/DBus", "org.freedesktop.DBus",
					      "NameLost", on_name_lost, NULL, b);
	return r;
}

/* Connects, adds the objects, asks for the name. With wait (dbus = yes at
 * start), asks and waits for the answer, so that start-up can fail. */
static int connect_bus(struct bus *b, bool wait, char *why, size_t why_size)
{
	int r = open_connection(&b->conn);
	if (r < 0) {
		snprintf(why, why_size, "cannot connect to the system bus at %s: %s", address(),
			 strerror(-r));
		b->conn = NULL;
		return r;
	}
	if (b->hooks.attach && (r = b->hooks.attach(b->hooks.arg, b->conn)) < 0) {
		snprintf(why, why_size, "cannot add stubd's objects to the bus: %s", strerror(-r));
		drop_connection(b);
		return r;
	}
	b->attached = true;
	if ((r = add_name_matches(b)) < 0) {
		snprintf(why, why_size, "cannot watch the bus names: %s", strerror(-r));
		drop_connection(b);
		return r;
	}
	if (wait) {
		sd_bus_set_method_call_timeout(b->conn, BUS_START_TIMEOUT_USEC);
		r = sd_bus_request_name(b->conn, b->name, 0);
		if (r == -EEXIST) {
			char holder[160];
			describe_holder(b->conn, b->name, holder, sizeof(holder));
			snprintf(why, why_size,
				 "%s is already owned by %s; stop it (systemd-resolved: systemctl "
				 "disable --now systemd-resolved) or set dbus = auto",
				 b->name, holder);
		} else if (r < 0) {
			snprintf(why, why_size, "cannot own %s on %s: %s", b->name, address(),
				 strerror(-r));
		}
		if (r < 0) {
			drop_connection(b);
			return r;
		}
		b->owner = true;
		set_state(b, "owner of %s", b->name);
		log_info("dbus: owner of %s on %s", b->name, address());
	} else {
		r = sd_bus_call_method_async(b->conn, NULL, "org.freedesktop.DBus", "/org/freedesktop/DBus",
					     "org.freedesktop.DBus", "RequestName", on_request_name, b,
					     "su", b->name, (uint32_t)0);
		if (r < 0) {
			snprintf(why, why_size, "cannot ask for %s: %s", b->name, strerror(-r));
			drop_connection(b);
			return r;
		}
		set_state(b, "asking for %s", b->name);
	}
	b->said_lost = false;
	b->retry_s = BUS_RETRY_FIRST_S;
	process(b);
	return 0;
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct bus *b = arg;
	char why[256];
	if (connect_bus(b, false, why, sizeof(why)) == 0) {
		log_info("dbus: connected to the system bus at %s", address());
		return;
	}
	log_debug("dbus: %s", why);
	schedule_retry(b);
}

static void schedule_retry(struct bus *b)
{
	struct timeval tv = { .tv_sec = b->retry_s };
	evtimer_add(b->retry, &tv);
	if (b->retry_s < BUS_RETRY_MAX_S)
		b->retry_s = b->retry_s * 2 > BUS_RETRY_MAX_S ? BUS_RETRY_MAX_S : b->retry_s * 2;
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	process(arg);
}

struct bus *bus_new(struct event_base *base, enum config_dbus mode, const char *name,
		    const struct bus_hooks *hooks, struct config_error *err)
{
	struct bus *b = calloc(1, sizeof(*b));
	if (!b) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		return NULL;
	}
	b->base = base;
	b->hooks = *hooks;
	b->retry_s = BUS_RETRY_FIRST_S;
	snprintf(b->name, sizeof(b->name), "%s", name);
	b->io = event_new(base, -1, 0, on_io, b);
	b->timeout = evtimer_new(base, on_timeout, b);
	b->work = event_new(base, -1, 0, on_work, b);
	b->retry = evtimer_new(base, on_retry, b);
	if (!b->io || !b->timeout || !b->work || !b->retry) {
		snprintf(err->msg, sizeof(err->msg), "out of memory");
		bus_free(b);
		return NULL;
	}
	char why[sizeof(err->msg) - 16];
	if (connect_bus(b, mode == CONFIG_DBUS_YES, why, sizeof(why)) == 0)
		return b;
	if (mode == CONFIG_DBUS_YES) {
		snprintf(err->msg, sizeof(err->msg), "dbus = yes: %s", why);
		bus_free(b);
		return NULL;
	}
	log_warn("dbus: %s; the D-Bus front end waits for it (dbus = no turns it off)", why);
	b->said_lost = true;
	set_state(b, "no system bus (retrying)");
	schedule_retry(b);
	return b;
}

void bus_free(struct bus *b)
{
	if (!b)
		return;
	drop_connection(b);
	if (b->io)
		event_free(b->io);
	if (b->timeout)
		event_free(b->timeout);
	if (b->work)
		event_free(b->work);
	if (b->retry)
		event_free(b->retry);
	free(b);
}

bool bus_owns_name(const struct bus *b)
{
	return b && b->owner;
}

const char *bus_describe(const struct bus *b)
{
	return b ? b->state : "off (dbus = no)";
}
