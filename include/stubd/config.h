/* config.h - stubd's settings: built-in defaults, the config file, the
 * command line, and the default upstreams taken from resolv.conf.
 *
 * Owns struct config and every rule about which source wins (flags over
 * file over defaults). A config is parsed whole before anyone uses it, so a
 * reload can build a new one and swap it in, or keep the old one and say
 * why. Holds no process state; errors are returned as text naming file,
 * line and key, and the caller decides how to report them.
 */
#ifndef STUBD_CONFIG_H
#define STUBD_CONFIG_H

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>

#include "stubd/log.h"
#include "stubd/netaddr.h"
#include "stubd/route.h"
#include "stubd/upstream_policy.h"

#define CONFIG_MAX_ADDRS 16
/* workers: more loops than this buys nothing for a local stub. */
#define CONFIG_MAX_WORKERS 64
#define CONFIG_WORKERS_AUTO 0
#define CONFIG_ACCOUNT_MAX 64        /* user and group names, NUL included */
#define CONFIG_DEFAULT_FILE "/etc/stubd/stubd.conf"
#define CONFIG_DEFAULT_LISTEN "127.0.0.53:53"
#define CONFIG_DEFAULT_RESOLV_CONF "/etc/resolv.conf"
#define CONFIG_DEFAULT_HOSTS "/etc/hosts"
#define CONFIG_DEFAULT_CONTROL "/run/stubd/control.sock"
#define CONFIG_DEFAULT_RUNTIME_DIR "/run/stubd"
#define CONFIG_DEFAULT_CACHE_FILE "/var/cache/stubd/cache"
/* forward-zone lines, and the servers one of them may name. */
#define CONFIG_MAX_FORWARD_ZONES 64
#define CONFIG_FORWARD_ZONE_MAX 1024   /* one line's value, NUL included */
#define CONFIG_ZONE_MAX_SERVERS 16

/* dbus: whether stubd owns org.freedesktop.resolve1 (SPEC "D-Bus"). */
enum config_dbus {
	CONFIG_DBUS_AUTO,  /* when a system bus is there and the name is free */
	CONFIG_DBUS_YES,   /* failing to own the name is an error */
	CONFIG_DBUS_NO,
	CONFIG_DBUS_COUNT_,
};
extern const char *const config_dbus_names[CONFIG_DBUS_COUNT_]; /* "auto", "yes", "no" */
/* "auto", "yes"/"no" (and the other words config_parse_bool takes).
 * Returns 0, or -EINVAL. */
int config_dbus_parse(const char *text, enum config_dbus *out);

/* "no", "opportunistic", "yes" (and yes/no's other spellings). Returns 0 or -EINVAL. */
int config_tls_parse(const char *text, enum route_tls *out);

/* What failed while loading; msg is complete and ready to print, e.g.
 * "/etc/stubd/stubd.conf:12: key 'cache-size': 'ten' is not a number". */
struct config_error {
	char msg[512];
};

/* Where a value came from: a line of config_file, CONFIG_FROM_FLAG, or
 * CONFIG_FROM_DEFAULT (the built-in default, or config_set()). */
#define CONFIG_FROM_DEFAULT 0u
#define CONFIG_FROM_FLAG UINT_MAX
/* Room for every key of config.c's table (a static assertion there). */
#define CONFIG_MAX_KEYS 48

/* Where each setting came from, so that config_check() can name the file
 * and line of both settings that contradict each other. Lists keep one
 * origin per entry. */
struct config_origin {
	unsigned key[CONFIG_MAX_KEYS];  /* by key, in conf/stubd.conf's order */
	unsigned listen[CONFIG_MAX_ADDRS];
	unsigned upstream[CONFIG_MAX_ADDRS];
	unsigned forward_zone[CONFIG_MAX_FORWARD_ZONES];
};

struct config {
	/* Where the settings came from, for logs and --check-config. */
	char config_file[PATH_MAX];  /* "" when built-in defaults only */
	struct config_origin origin;

	struct netaddr listen[CONFIG_MAX_ADDRS];
	size_t n_listen;
	struct route_server upstream[CONFIG_MAX_ADDRS];
	size_t n_upstream;
	/* "DOMAIN SERVER..." as written, checked when read; turned into
	 * routes by config_forward_zone_parse() when the table is built. */
	char forward_zones[CONFIG_MAX_FORWARD_ZONES][CONFIG_FORWARD_ZONE_MAX];
	size_t n_forward_zones;
	/* True when no upstream was configured and the list was read from
	 * resolv_conf (minus our own listen addresses). */
	bool upstream_from_resolv_conf;
	char resolv_conf[PATH_MAX];

	/* Clients answered besides loopback ones (no open resolver). */
	struct netaddr_prefix allow[CONFIG_MAX_ADDRS];
	size_t n_allow;
	unsigned max_inflight;        /* upstream fetches at once */

	char hosts_file[PATH_MAX];   /* "none" turns the hosts stage off */
	unsigned hosts_ttl;          /* TTL of answers from the hosts stage */
	bool forward_single_label;   /* send "printer." upstream (default no) */
	char control_socket[PATH_MAX];
	char control_group[CONFIG_ACCOUNT_MAX]; /* may run the commands that change things */
	char user[CONFIG_ACCOUNT_MAX];          /* to run as after opening sockets as root */
	unsigned cache_size;         /* max cached answers, 0 = no cache */
	unsigned cache_memory;       /* bytes */
	unsigned cache_min_ttl;      /* seconds */
	unsigned cache_max_ttl;
	unsigned cache_max_negative_ttl;
	bool serve_stale;            /* RFC 8767 */
	unsigned stale_max_age;      /* seconds past expiry */
	unsigned stale_answer_timeout_ms; /* RFC 8767 client-response timer */
	char cache_file[PATH_MAX];   /* kept across restarts; "none" off */
	unsigned cache_save_interval_ms; /* also saved this often; 0 only on stop */

	enum policy_strategy upstream_strategy; /* which server a question asks first */
	unsigned upstream_timeout_ms; /* one try at one server: the most its RTO may grow to */
	unsigned query_timeout_ms;    /* the whole question, all tries: then SERVFAIL */
	unsigned edns_buffer_size;    /* advertised to upstreams and clients */
	enum route_tls dns_over_tls;  /* the global servers' and forward-zones' */
	char tls_ca_file[PATH_MAX];   /* "" the system's trust store */
	unsigned tls_idle_timeout_ms; /* an idle DNS-over-TLS connection closes */
	unsigned tcp_idle_timeout_ms; /* RFC 7766 §6.2.3 */
	unsigned tcp_max_clients;     /* concurrent client connections */
	unsigned tcp_max_queries;     /* in flight on one connection */
	unsigned workers;             /* event loops; CONFIG_WORKERS_AUTO: one per CPU */
	char runtime_dir[PATH_MAX];   /* link settings and the resolv.conf stubd writes */
	char networkd_dir[PATH_MAX];  /* systemd-networkd's link state files; "" off */
	unsigned max_links;           /* interfaces with DNS settings */
	unsigned max_link_servers;    /* per interface */
	unsigned max_link_domains;    /* per interface */
	enum config_dbus dbus;        /* the org.freedesktop.resolve1 front end */

	enum log_level log_level;
	bool foreground;
};

/* Which command the command line asked for. */
enum config_action {
	CONFIG_ACTION_RUN,
	CONFIG_ACTION_CHECK,   /* --check-config */
	CONFIG_ACTION_CHECK_JSON, /* --check-config --json */
	CONFIG_ACTION_VERSION, /* --version */
	CONFIG_ACTION_HELP,    /* --help */
};

/* Fills in the built-in defaults (no file, no resolv.conf read). */
void config_defaults(struct config *cfg);

/* Sets one key from text, as a config file line would ("listen" appends to
 * the list). Returns 0, or -EINVAL with err->msg "key 'K': why" (no file
 * or line: the caller adds where the value came from). */
int config_set(struct config *cfg, const char *key, const char *value,
	       struct config_error *err);

/* Reads a config file into cfg over what is already there. Returns 0,
 * -ENOENT when the file does not exist (err set), or -EINVAL on the first
 * bad line (err names file, line and key). */
int config_load_file(struct config *cfg, const char *path, struct config_error *err);

/* The whole start-up sequence: defaults, then the config file (-c FILE, or
 * CONFIG_DEFAULT_FILE when it exists), then the flags, then the default
 * upstreams from resolv.conf, then config_check(). Returns 0, or -EINVAL
 * with err set (a usage or config error: exit status 2); *action is set
 * either way, to what the command line asked for as far as it was read
 * (so that --check-config --json can report an error as JSON). A reload
 * (SIGHUP) calls it again with the same argv, so flags keep overriding the
 * file, and a file that contradicts itself is refused as at start-up. */
int config_from_args(struct config *cfg, int argc, char **argv,
		     enum config_action *action, struct config_error *err);

/* Fills cfg->upstream from cfg->resolv_conf when no upstream is set,
 * leaving out our own listen addresses, IPv6 link-local addresses without
 * an interface, and a server named again. Logs each address left out, and
 * why. Returns 0 (an empty list is not an error: see the caller). */
int config_resolve_upstreams(struct config *cfg);

/* Checks the settings as a whole, for values that are each valid but
 * cannot work together: query-timeout below upstream-timeout, cache-min-ttl
 * above cache-max-ttl or cache-max-negative-ttl, an upstream or forward-zone
 * server that is one of stubd's own listen addresses (or that a wildcard
 * listen address receives), listen addresses that overlap. Returns 0, or
 * -EINVAL with err naming both keys and, for what came from the file, the
 * file and the line of the later one ("FILE:LINE: key 'K': ..."). */
int config_check(const struct config *cfg, struct config_error *err);

/* "yes"/"no", and "true"/"false", "on"/"off", "1"/"0", any case: how
 * stubd.conf and the files of other programs (networkd) say a boolean.
 * Returns 0, or -EINVAL. */
int config_parse_bool(const char *text, bool *out);

/* Parses a forward-zone value, "DOMAIN SERVER...", into its zone and up
 * to max servers (*n set). Returns 0, or -EINVAL with why set. */
int config_forward_zone_parse(const char *text, struct route_domain *zone,
			      struct route_server *servers, size_t max, size_t *n,
			      char *why, size_t why_size);

/* Prints the effective settings in config file syntax (--check-config). */
void config_print(const struct config *cfg, FILE *out);

/* The same as one JSON object, for scripts (--check-config --json): every
 * key under its config file name, lists as arrays, numbers (ms for
 * durations, bytes for sizes) as numbers, booleans as true/false; workers
 * is a number or "auto". "upstream" is the servers in force, from the
 * config or from resolv-conf ("upstream_from_resolv_conf": true), and
 * "config_file" the file read (null: built-in defaults only). */
void config_print_json(const struct config *cfg, FILE *out);

/* {"error": msg} as one JSON object, for --check-config --json. */
void config_print_json_error(const char *msg, FILE *out);

/* Usage text for --help. */
void config_usage(FILE *out);

#endif
