/* config.c - defaults, config file, command line and the default upstreams
 * from resolv.conf. See config.h.
 *
 * Every key is one row of the keys[] table: its parser, limits, default and
 * help line. Defaults, the file, the flags, config_print and
 * config_print_json all go through that table, so a key cannot be known to
 * one of them and not the others. Values are checked one by one as they are
 * set, and as a whole by config_check() once everything is read.
 */
#define _GNU_SOURCE
#include "stubd/config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "stubd/report.h"
#include "stubd/resolvconf.h"

#define CONFIG_MAX_LINE (PATH_MAX + 64) /* the longest key, " = " and the longest path fit */
#define CONFIG_DNS_PORT 53
#define CONFIG_QUOTE_MAX 80  /* longest user text quoted back in a message */
#define CONFIG_PROGRAM "stubd"

enum key_kind {
	KEY_ADDRS,    /* list of ADDR[:PORT], port 53 by default */
	KEY_PATH,
	KEY_HOSTS,    /* a path, or "none" */
	KEY_SOCKET,   /* a path that must fit in sockaddr_un */
	KEY_UINT,
	KEY_DURATION, /* milliseconds; "2s" and "1500ms" also accepted */
	KEY_LOG_LEVEL,
	KEY_STRATEGY, /* fastest or order (upstream_policy.h) */
	KEY_DBUS,     /* auto, yes or no */
	KEY_TLS,      /* no, opportunistic or yes (route.h) */
	KEY_BOOL,
	KEY_SIZE,     /* bytes; "512K", "64M", "1G" also accepted */
	KEY_ACCOUNT,  /* a user or group name, as useradd(8) takes */
	KEY_PREFIXES, /* list of ADDR[/LEN] */
	KEY_WORKERS,  /* "auto" (stored as 0) or 1 to max */
	KEY_SERVERS,  /* list of ADDR[:PORT][%IFACE][#NAME] */
	KEY_FORWARD_ZONES, /* list of "DOMAIN SERVER..." */
};

struct key {
	const char *name;
	enum key_kind kind;
	size_t offset;       /* the field in struct config */
	size_t count_offset; /* KEY_ADDRS: the size_t count beside the array */
	unsigned min, max;   /* KEY_UINT, KEY_DURATION, KEY_SIZE */
	const char *default_text; /* NULL: unset by default */
	const char *help;    /* one line, for config_print */
};

/* Same order as conf/stubd.conf. */
static const struct key keys[] = {
	{ .name = "listen", .kind = KEY_ADDRS,
	  .offset = offsetof(struct config, listen),
	  .count_offset = offsetof(struct config, n_listen),
	  .default_text = CONFIG_DEFAULT_LISTEN,
	  .help = "addresses to answer DNS on, UDP and TCP; repeat the key for more" },
	{ .name = "upstream", .kind = KEY_SERVERS,
	  .offset = offsetof(struct config, upstream),
	  .count_offset = offsetof(struct config, n_upstream),
	  .help = "servers to forward to, ADDR[:PORT][%IFACE][#NAME]; repeat the key for more; unset: resolv-conf's nameservers" },
	{ .name = "forward-zone", .kind = KEY_FORWARD_ZONES,
	  .offset = offsetof(struct config, forward_zones),
	  .count_offset = offsetof(struct config, n_forward_zones),
	  .help = "DOMAIN SERVER...: names at and under DOMAIN go to these servers; repeatable" },
	{ .name = "allow", .kind = KEY_PREFIXES,
	  .offset = offsetof(struct config, allow),
	  .count_offset = offsetof(struct config, n_allow),
	  .help = "clients answered besides loopback (ADDR/LEN, repeatable); others get REFUSED" },
	{ .name = "resolv-conf", .kind = KEY_PATH,
	  .offset = offsetof(struct config, resolv_conf),
	  .default_text = CONFIG_DEFAULT_RESOLV_CONF,
	  .help = "where the upstreams come from when no upstream is set" },
	{ .name = "hosts-file", .kind = KEY_HOSTS,
	  .offset = offsetof(struct config, hosts_file),
	  .default_text = CONFIG_DEFAULT_HOSTS,
	  .help = "names answered locally, never forwarded; 'none' turns the stage off" },
	{ .name = "hosts-ttl", .kind = KEY_UINT,
	  .offset = offsetof(struct config, hosts_ttl),
	  .min = 0, .max = 86400, .default_text = "0",
	  .help = "TTL in seconds of answers from the hosts file; 0 keeps clients from caching them" },
	{ .name = "forward-single-label", .kind = KEY_BOOL,
	  .offset = offsetof(struct config, forward_single_label),
	  .default_text = "no",
	  .help = "forward single-label names such as 'printer' upstream; no answers NXDOMAIN" },
	{ .name = "control-socket", .kind = KEY_SOCKET,
	  .offset = offsetof(struct config, control_socket),
	  .default_text = CONFIG_DEFAULT_CONTROL,
	  .help = "unix socket that stubctl talks to" },
	{ .name = "user", .kind = KEY_ACCOUNT,
	  .offset = offsetof(struct config, user),
	  .default_text = "stubd",
	  .help = "started as root, stubd opens its sockets and then runs as this user "
		  "(nobody, with a warning, when it does not exist; root keeps root)" },
	{ .name = "control-group", .kind = KEY_ACCOUNT,
	  .offset = offsetof(struct config, control_group),
	  .default_text = "stubd",
	  .help = "group whose members may flush, reload and reset via stubctl (besides root)" },
	{ .name = "cache-size", .kind = KEY_UINT,
	  .offset = offsetof(struct config, cache_size),
	  .min = 0, .max = 10000000, .default_text = "10000",
	  .help = "max cached answers; 0 turns the cache off" },
	{ .name = "cache-memory", .kind = KEY_SIZE,
	  .offset = offsetof(struct config, cache_memory),
	  .min = 65536, .max = 4294967295u, .default_text = "67108864",
	  .help = "max bytes the cache uses (512K, 64M, 1G also work); the LRU entry goes first" },
	{ .name = "cache-min-ttl", .kind = KEY_UINT,
	  .offset = offsetof(struct config, cache_min_ttl),
	  .min = 0, .max = 86400, .default_text = "0",
	  .help = "seconds an answer is kept at least, even if its TTL is lower" },
	{ .name = "cache-max-ttl", .kind = KEY_UINT,
	  .offset = offsetof(struct config, cache_max_ttl),
	  .min = 1, .max = 604800, .default_text = "86400",
	  .help = "seconds an answer is kept at most, even if its TTL is higher" },
	{ .name = "cache-max-negative-ttl", .kind = KEY_UINT,
	  .offset = offsetof(struct config, cache_max_negative_ttl),
	  .min = 0, .max = 86400, .default_text = "3600",
	  .help = "seconds NXDOMAIN and NODATA answers are kept at most (RFC 2308)" },
	{ .name = "serve-stale", .kind = KEY_BOOL,
	  .offset = offsetof(struct config, serve_stale),
	  .default_text = "yes",
	  .help = "when every upstream fails, answer from expired entries with TTL 30 (RFC 8767)" },
	{ .name = "stale-max-age", .kind = KEY_UINT,
	  .offset = offsetof(struct config, stale_max_age),
	  .min = 0, .max = 604800, .default_text = "86400",
	  .help = "seconds past expiry an answer may still be served stale" },
	{ .name = "stale-answer-timeout", .kind = KEY_DURATION,
	  .offset = offsetof(struct config, stale_answer_timeout_ms),
	  .min = 0, .max = 30000, .default_text = "1800",
	  .help = "ms a client with a stale answer at hand waits for a fresh one (RFC 8767)" },
	{ .name = "cache-file", .kind = KEY_HOSTS,
	  .offset = offsetof(struct config, cache_file),
	  .default_text = CONFIG_DEFAULT_CACHE_FILE,
	  .help = "where the cache is saved on stop and loaded at start; 'none' (or empty) turns that off" },
	{ .name = "cache-save-interval", .kind = KEY_DURATION,
	  .offset = offsetof(struct config, cache_save_interval_ms),
	  .min = 0, .max = 86400000, .default_text = "15min",
	  .help = "how often the cache is also saved while running; 0 only on stop" },
	{ .name = "max-inflight", .kind = KEY_UINT,
	  .offset = offsetof(struct config, max_inflight),
	  .min = 1, .max = 100000, .default_text = "1024",
	  .help = "questions waiting for an upstream at once; past it, new ones get SERVFAIL" },
	{ .name = "upstream-strategy", .kind = KEY_STRATEGY,
	  .offset = offsetof(struct config, upstream_strategy),
	  .default_text = "fastest",
	  .help = "fastest: the server with the lowest measured RTT first; order: the first healthy one as listed" },
	{ .name = "upstream-timeout", .kind = KEY_DURATION,
	  .offset = offsetof(struct config, upstream_timeout_ms),
	  .min = 50, .max = 30000, .default_text = "1000",
	  .help = "ms to wait for one upstream before trying the next" },
	{ .name = "query-timeout", .kind = KEY_DURATION,
	  .offset = offsetof(struct config, query_timeout_ms),
	  .min = 100, .max = 60000, .default_text = "5000",
	  .help = "ms for the whole question, all tries, before answering SERVFAIL" },
	{ .name = "edns-buffer-size", .kind = KEY_UINT,
	  .offset = offsetof(struct config, edns_buffer_size),
	  .min = 512, .max = 4096, .default_text = "1232",
	  .help = "EDNS UDP payload size; 1232 avoids IP fragmentation (DNS Flag Day 2020)" },
	{ .name = "dns-over-tls", .kind = KEY_TLS,
	  .offset = offsetof(struct config, dns_over_tls),
	  .default_text = "no",
	  .help = "reach the upstreams over TLS: yes (verified, never in plain text), "
		  "opportunistic (TLS when it works), no" },
	{ .name = "tls-ca-file", .kind = KEY_PATH,
	  .offset = offsetof(struct config, tls_ca_file),
	  .help = "PEM file of the CAs a DNS-over-TLS server's certificate must chain to; "
		  "unset: the system's trust store" },
	{ .name = "tls-idle-timeout", .kind = KEY_DURATION,
	  .offset = offsetof(struct config, tls_idle_timeout_ms),
	  .min = 100, .max = 600000, .default_text = "10000",
	  .help = "ms a DNS-over-TLS connection with no query in flight stays open" },
	{ .name = "tcp-idle-timeout", .kind = KEY_DURATION,
	  .offset = offsetof(struct config, tcp_idle_timeout_ms),
	  .min = 100, .max = 600000, .default_text = "10000",
	  .help = "ms an idle client TCP connection stays open (RFC 7766 section 6.2.3)" },
	{ .name = "tcp-max-clients", .kind = KEY_UINT,
	  .offset = offsetof(struct config, tcp_max_clients),
	  .min = 1, .max = 65535, .default_text = "256",
	  .help = "client TCP connections at once" },
	{ .name = "tcp-max-queries", .kind = KEY_UINT,
	  .offset = offsetof(struct config, tcp_max_queries),
	  .min = 1, .max = 1024, .default_text = "64",
	  .help = "queries in flight on one client TCP connection" },
	{ .name = "workers", .kind = KEY_WORKERS,
	  .offset = offsetof(struct config, workers),
	  .min = 1, .max = CONFIG_MAX_WORKERS, .default_text = "1",
	  .help = "event loops, one thread each; auto = one per CPU stubd may run on" },
	{ .name = "runtime-directory", .kind = KEY_PATH,
	  .offset = offsetof(struct config, runtime_dir),
	  .default_text = CONFIG_DEFAULT_RUNTIME_DIR,
	  .help = "where the link settings (kept across a restart) and stubd's resolv.conf go" },
	{ .name = "networkd-links-dir", .kind = KEY_HOSTS,
	  .offset = offsetof(struct config, networkd_dir),
	  .default_text = "/run/systemd/netif/links",
	  .help = "systemd-networkd's link state files, followed for DNS settings; 'none' turns it off" },
	{ .name = "dbus", .kind = KEY_DBUS,
	  .offset = offsetof(struct config, dbus),
	  .default_text = "auto",
	  .help = "own org.freedesktop.resolve1 on the system bus: auto (when free), yes (or exit), no" },
	{ .name = "max-links", .kind = KEY_UINT,
	  .offset = offsetof(struct config, max_links),
	  .min = 1, .max = 4096, .default_text = "64",
	  .help = "network interfaces that may have DNS settings at once" },
	{ .name = "max-link-servers", .kind = KEY_UINT,
	  .offset = offsetof(struct config, max_link_servers),
	  .min = 1, .max = 256, .default_text = "16",
	  .help = "DNS servers one interface may have, all front ends together" },
	{ .name = "max-link-domains", .kind = KEY_UINT,
	  .offset = offsetof(struct config, max_link_domains),
	  .min = 1, .max = 4096, .default_text = "256",
	  .help = "search and routing domains one interface may have, all front ends together" },
	{ .name = "log-level", .kind = KEY_LOG_LEVEL,
	  .offset = offsetof(struct config, log_level),
	  .default_text = "info",
	  .help = "error, warning, info or debug" },
	{ .name = "foreground", .kind = KEY_BOOL,
	  .offset = offsetof(struct config, foreground),
	  .default_text = "no",
	  .help = "stay in the foreground, log to stderr; default yes under systemd or when not root" },
};

#define N_KEYS (sizeof(keys) / sizeof(keys[0]))
_Static_assert(N_KEYS <= CONFIG_MAX_KEYS, "raise CONFIG_MAX_KEYS in config.h");

static int fail(struct config_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Every error message goes through here: vsnprintf truncates a message that
 * names a long path instead of overflowing, and GCC does not warn about it. */
static int fail(struct config_error *err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* User text quoted back in a message, cut short so that the message still
 * has room for what was expected. */
struct quote {
	char s[CONFIG_QUOTE_MAX + 4];
};

static const char *quote(const char *text, struct quote *q)
{
	size_t len = strlen(text);
	if (len <= CONFIG_QUOTE_MAX)
		return text;
	snprintf(q->s, sizeof(q->s), "%.*s...", CONFIG_QUOTE_MAX, text);
	return q->s;
}

static void *field(struct config *cfg, const struct key *k)
{
	return (char *)cfg + k->offset;
}

static const void *cfield(const struct config *cfg, const struct key *k)
{
	return (const char *)cfg + k->offset;
}

static size_t *list_count(struct config *cfg, const struct key *k)
{
	return (size_t *)((char *)cfg + k->count_offset);
}

static size_t clist_count(const struct config *cfg, const struct key *k)
{
	return *(const size_t *)((const char *)cfg + k->count_offset);
}

static const struct key *find_key(const char *name)
{
	for (size_t i = 0; i < N_KEYS; i++)
		if (strcmp(keys[i].name, name) == 0)
			return &keys[i];
	return NULL;
}

/* ---- values ---------------------------------------------------------- */

/* Strict decimal: digits only, no sign, no spaces, no overflow. */
static int parse_number(const char *text, size_t len, unsigned long long *out)
{
	unsigned long long v = 0;

	if (len == 0)
		return -EINVAL;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)text[i]))
			return -EINVAL;
		if (v > (ULLONG_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (unsigned)(text[i] - '0');
	}
	*out = v;
	return 0;
}

static int parse_duration_ms(const char *text, unsigned long long *ms)
{
	size_t digits = strspn(text, "0123456789");
	const char *unit = text + digits;
	unsigned long long v;
	unsigned long long scale;

	if (strcmp(unit, "") == 0 || strcmp(unit, "ms") == 0)
		scale = 1;
	else if (strcmp(unit, "s") == 0)
		scale = 1000;
	else if (strcmp(unit, "min") == 0)
		scale = 60 * 1000;
	else if (strcmp(unit, "h") == 0)
		scale = 60 * 60 * 1000;
	else
		return -EINVAL;
	if (parse_number(text, digits, &v) < 0 || v > ULLONG_MAX / scale)
		return -EINVAL;
	*ms = v * scale;
	return 0;
}

int config_parse_bool(const char *text, bool *out)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

const char *const config_dbus_names[CONFIG_DBUS_COUNT_] = { "auto", "yes", "no" };

int config_tls_parse(const char *text, enum route_tls *out)
{
	bool on;
	if (strcasecmp(text, "opportunistic") == 0) {
		*out = ROUTE_TLS_OPPORTUNISTIC;
		return 0;
	}
	if (config_parse_bool(text, &on) < 0)
		return -EINVAL;
	*out = on ? ROUTE_TLS_YES : ROUTE_TLS_NO;
	return 0;
}

int config_dbus_parse(const char *text, enum config_dbus *out)
{
	bool on;
	if (strcasecmp(text, "auto") == 0) {
		*out = CONFIG_DBUS_AUTO;
		return 0;
	}
	if (config_parse_bool(text, &on) < 0)
		return -EINVAL;
	*out = on ? CONFIG_DBUS_YES : CONFIG_DBUS_NO;
	return 0;
}

/* What a value of key k looks like, for "empty value (expected ...)". */
static void expected(const struct key *k, char *buf, size_t size)
{
	switch (k->kind) {
	case KEY_ADDRS:
		snprintf(buf, size, "ADDR[:PORT], IPv6 as [::1]:53");
		return;
	case KEY_PATH:
		snprintf(buf, size, "a file path");
		return;
	case KEY_HOSTS:
		snprintf(buf, size, "a file path or 'none'");
		return;
	case KEY_SOCKET:
		snprintf(buf, size, "a unix socket path");
		return;
	case KEY_UINT:
		snprintf(buf, size, "a number from %u to %u", k->min, k->max);
		return;
	case KEY_WORKERS:
		snprintf(buf, size, "'auto' or a number from %u to %u", k->min, k->max);
		return;
	case KEY_DURATION:
		snprintf(buf, size, "milliseconds from %u to %u, or 1500ms, 2s", k->min, k->max);
		return;
	case KEY_LOG_LEVEL:
		snprintf(buf, size, "error, warning, info or debug");
		return;
	case KEY_STRATEGY:
		snprintf(buf, size, "fastest or order");
		return;
	case KEY_DBUS:
		snprintf(buf, size, "auto, yes or no");
		return;
	case KEY_TLS:
		snprintf(buf, size, "no, opportunistic or yes");
		return;
	case KEY_BOOL:
		snprintf(buf, size, "yes or no");
		return;
	case KEY_SIZE:
		snprintf(buf, size, "bytes from %u to %u, or 512K, 64M, 1G", k->min, k->max);
		return;
	case KEY_ACCOUNT:
		snprintf(buf, size, "a user or group name");
		return;
	case KEY_PREFIXES:
		snprintf(buf, size, "ADDR/LEN, e.g. 192.168.1.0/24");
		return;
	case KEY_SERVERS:
		snprintf(buf, size, "ADDR[:PORT][%%IFACE][#NAME], IPv6 with a port as [::1]:53");
		return;
	case KEY_FORWARD_ZONES:
		snprintf(buf, size, "DOMAIN SERVER..., e.g. corp.example 10.0.0.53");
		return;
	}
}

static bool is_list(const struct key *k)
{
	return k->kind == KEY_ADDRS || k->kind == KEY_PREFIXES || k->kind == KEY_SERVERS ||
	       k->kind == KEY_FORWARD_ZONES;
}

static int set_server(struct config *cfg, const struct key *k, const char *text,
		      struct config_error *why)
{
	char reason[256];
	struct route_server server;

	if (route_server_parse(text, 0, &server, reason, sizeof(reason)) < 0)
		return fail(why, "%s", reason);
	/* An explicit upstream replaces the list read from resolv.conf. */
	if (cfg->upstream_from_resolv_conf) {
		cfg->upstream_from_resolv_conf = false;
		cfg->n_upstream = 0;
	}
	if (cfg->n_upstream >= CONFIG_MAX_ADDRS)
		return fail(why, "too many addresses (at most %d)", CONFIG_MAX_ADDRS);
	cfg->upstream[cfg->n_upstream++] = server;
	return 0;
}

int config_forward_zone_parse(const char *text, struct route_domain *zone,
			      struct route_server *servers, size_t max, size_t *n,
			      char *why, size_t why_size)
{
	char buf[CONFIG_FORWARD_ZONE_MAX];
	char *save = NULL;

	*n = 0;
	if (strlen(text) >= sizeof(buf)) {
		snprintf(why, why_size, "longer than %d bytes", CONFIG_FORWARD_ZONE_MAX - 1);
		return -EINVAL;
	}
	strcpy(buf, text);
	char *domain = strtok_r(buf, " \t", &save);
	if (!domain || route_domain_parse(domain, zone, why, why_size) < 0) {
		if (!domain)
			snprintf(why, why_size, "expected DOMAIN SERVER..., e.g. corp.example 10.0.0.53");
		return -EINVAL;
	}
	if (zone->route_only && domain[0] == '~') {
		snprintf(why, why_size, "write the zone without '~' (a forward-zone only routes)");
		return -EINVAL;
	}
	zone->route_only = true;
	for (char *word = strtok_r(NULL, " \t", &save); word; word = strtok_r(NULL, " \t", &save)) {
		if (*n >= max) {
			snprintf(why, why_size, "more than %zu servers", max);
			return -EINVAL;
		}
		if (route_server_parse(word, 0, &servers[*n], why, why_size) < 0)
			return -EINVAL;
		(*n)++;
	}
	if (*n == 0) {
		snprintf(why, why_size, "'%s' has no servers: expected DOMAIN SERVER..., e.g. "
			 "corp.example 10.0.0.53", domain);
		return -EINVAL;
	}
	return 0;
}

static int set_forward_zone(struct config *cfg, const struct key *k, const char *text,
			    struct config_error *why)
{
	struct route_domain zone, other;
	struct route_server servers[CONFIG_ZONE_MAX_SERVERS];
	size_t n;
	char reason[256];

	if (config_forward_zone_parse(text, &zone, servers, CONFIG_ZONE_MAX_SERVERS, &n, reason,
				      sizeof(reason)) < 0)
		return fail(why, "%s", reason);
	if (cfg->n_forward_zones >= CONFIG_MAX_FORWARD_ZONES)
		return fail(why, "too many forward-zone lines (at most %d)", CONFIG_MAX_FORWARD_ZONES);
	for (size_t i = 0; i < cfg->n_forward_zones; i++) {
		if (config_forward_zone_parse(cfg->forward_zones[i], &other, servers,
					      CONFIG_ZONE_MAX_SERVERS, &n, reason, sizeof(reason)) == 0 &&
		    route_domain_equal(&zone, &other))
			return fail(why, "a forward-zone for this domain is already set; give all its "
				    "servers on one line");
	}
	snprintf(cfg->forward_zones[cfg->n_forward_zones++], CONFIG_FORWARD_ZONE_MAX, "%s", text);
	return 0;
}

static int set_prefix(struct config *cfg, const struct key *k, const char *text,
		      struct config_error *why)
{
	struct netaddr_prefix *list = field(cfg, k);
	size_t *n = list_count(cfg, k);
	struct quote q;

	if (*n >= CONFIG_MAX_ADDRS)
		return fail(why, "too many address blocks (at most %d)", CONFIG_MAX_ADDRS);
	if (netaddr_prefix_parse(text, &list[*n]) < 0)
		return fail(why, "'%s' is not an address block (expected ADDR/LEN, e.g. "
			    "192.168.1.0/24 or 2001:db8::/32)", quote(text, &q));
	(*n)++;
	return 0;
}

static int set_addr(struct config *cfg, const struct key *k, const char *text,
		    struct config_error *why)
{
	struct netaddr *list = field(cfg, k);
	size_t *n = list_count(cfg, k);
	struct netaddr addr;
	struct quote q;

	if (netaddr_parse(text, CONFIG_DNS_PORT, &addr) < 0)
		return fail(why, "'%s' is not an address (expected ADDR[:PORT], IPv6 as [::1]:53)",
			    quote(text, &q));
	if (*n >= CONFIG_MAX_ADDRS)
		return fail(why, "too many addresses (at most %d)", CONFIG_MAX_ADDRS);
	list[(*n)++] = addr;
	return 0;
}

static int set_path(struct config *cfg, const struct key *k, const char *text,
		    struct config_error *why)
{
	struct quote q;

	if (strlen(text) >= PATH_MAX)
		return fail(why, "path is longer than %d bytes", PATH_MAX - 1);
	/* bind() would fail much later, with a less helpful message. */
	if (k->kind == KEY_SOCKET && strlen(text) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		return fail(why, "'%s' is too long for a unix socket path (at most %zu bytes)",
			    quote(text, &q), sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
	memcpy(field(cfg, k), text, strlen(text) + 1);
	return 0;
}

static int set_workers(struct config *cfg, const struct key *k, const char *text,
		       struct config_error *why)
{
	if (strcmp(text, "auto") == 0) {
		*(unsigned *)field(cfg, k) = CONFIG_WORKERS_AUTO;
		return 0;
	}
	unsigned long long v;
	struct quote q;
	if (parse_number(text, strlen(text), &v) < 0 || v < k->min || v > k->max)
		return fail(why, "'%s' is neither 'auto' nor a number from %u to %u",
			    quote(text, &q), k->min, k->max);
	*(unsigned *)field(cfg, k) = (unsigned)v;
	return 0;
}

static int set_uint(struct config *cfg, const struct key *k, const char *text,
		    struct config_error *why)
{
	unsigned long long v;
	struct quote q;

	if (parse_number(text, strlen(text), &v) < 0 || v < k->min || v > k->max)
		return fail(why, "'%s' is not a number from %u to %u", quote(text, &q), k->min,
			    k->max);
	*(unsigned *)field(cfg, k) = (unsigned)v;
	return 0;
}

static int set_duration(struct config *cfg, const struct key *k, const char *text,
			struct config_error *why)
{
	unsigned long long ms;
	struct quote q;

	if (parse_duration_ms(text, &ms) < 0 || ms < k->min || ms > k->max)
		return fail(why,
			    "'%s' is not a duration from %u to %u ms (a plain number is ms; "
			    "1500ms, 2s, 15min and 1h also work)",
			    quote(text, &q), k->min, k->max);
	*(unsigned *)field(cfg, k) = (unsigned)ms;
	return 0;
}

static int set_size(struct config *cfg, const struct key *k, const char *text,
		    struct config_error *why)
{
	size_t digits = strspn(text, "0123456789");
	const char *unit = text + digits;
	unsigned long long v, scale = 1;
	struct quote q;

	if (strcasecmp(unit, "k") == 0)
		scale = 1024;
	else if (strcasecmp(unit, "m") == 0)
		scale = 1024 * 1024;
	else if (strcasecmp(unit, "g") == 0)
		scale = 1024 * 1024 * 1024;
	else if (*unit != '\0')
		scale = 0;
	if (scale == 0 || parse_number(text, digits, &v) < 0 || v > ULLONG_MAX / scale ||
	    v * scale < k->min || v * scale > k->max)
		return fail(why, "'%s' is not a size from %u to %u bytes (512K, 64M, 1G also work)",
			    quote(text, &q), k->min, k->max);
	*(unsigned *)field(cfg, k) = (unsigned)(v * scale);
	return 0;
}

static int set_account(struct config *cfg, const struct key *k, const char *text,
		     struct config_error *why)
{
	size_t len = strlen(text);
	struct quote q;
	bool ok = len < CONFIG_ACCOUNT_MAX && (islower((unsigned char)text[0]) || text[0] == '_');
	for (size_t i = 0; ok && i < len; i++)
		ok = islower((unsigned char)text[i]) || isdigit((unsigned char)text[i]) ||
		     text[i] == '_' || text[i] == '-';
	if (!ok)
		return fail(why, "'%s' is not a %s name (lower-case letters, digits, _ and -, "
			    "at most %d characters)", quote(text, &q),
			    strcmp(k->name, "user") == 0 ? "user" : "group", CONFIG_ACCOUNT_MAX - 1);
	memcpy(field(cfg, k), text, len + 1);
	return 0;
}

static int set_value(struct config *cfg, const struct key *k, const char *text,
		     struct config_error *why)
{
	struct quote q;
	char what[128];

	/* SPEC: an empty cache-file turns saving off, as 'none' does. */
	if (*text == '\0' && strcmp(k->name, "cache-file") == 0)
		return set_path(cfg, k, "none", why);
	if (*text == '\0') {
		expected(k, what, sizeof(what));
		return fail(why, "empty value (expected %s)", what);
	}
	switch (k->kind) {
	case KEY_ADDRS:
		return set_addr(cfg, k, text, why);
	case KEY_PATH:
	case KEY_HOSTS:
	case KEY_SOCKET:
		return set_path(cfg, k, text, why);
	case KEY_UINT:
		return set_uint(cfg, k, text, why);
	case KEY_WORKERS:
		return set_workers(cfg, k, text, why);
	case KEY_DURATION:
		return set_duration(cfg, k, text, why);
	case KEY_SIZE:
		return set_size(cfg, k, text, why);
	case KEY_ACCOUNT:
		return set_account(cfg, k, text, why);
	case KEY_PREFIXES:
		return set_prefix(cfg, k, text, why);
	case KEY_SERVERS:
		return set_server(cfg, k, text, why);
	case KEY_FORWARD_ZONES:
		return set_forward_zone(cfg, k, text, why);
	case KEY_LOG_LEVEL:
		if (log_level_parse(text, field(cfg, k)) < 0)
			return fail(why,
				    "'%s' is not a log level (expected error, warning, info or debug)",
				    quote(text, &q));
		return 0;
	case KEY_STRATEGY:
		if (policy_strategy_parse(text, field(cfg, k)) < 0)
			return fail(why, "'%s' is not a strategy (expected fastest or order)",
				    quote(text, &q));
		return 0;
	case KEY_DBUS:
		if (config_dbus_parse(text, field(cfg, k)) < 0)
			return fail(why, "'%s' is not auto, yes or no", quote(text, &q));
		return 0;
	case KEY_TLS:
		if (config_tls_parse(text, field(cfg, k)) < 0)
			return fail(why, "'%s' is not no, opportunistic or yes", quote(text, &q));
		return 0;
	case KEY_BOOL:
		if (config_parse_bool(text, field(cfg, k)) < 0)
			return fail(why, "'%s' is not yes or no (also true/false, on/off, 1/0)",
				    quote(text, &q));
		return 0;
	}
	return fail(why, "internal error: key has no parser");
}

/* Lists start over when a file or the command line first names them: the
 * file's "listen" replaces the default, a -l flag replaces the file's. */
static void clear_list(struct config *cfg, const struct key *k)
{
	*list_count(cfg, k) = 0;
	if (field(cfg, k) == (void *)cfg->upstream)
		cfg->upstream_from_resolv_conf = false;
}

/* Records where the value just set for k came from: for a list, the entry
 * just added. */
static void note_origin(struct config *cfg, const struct key *k, unsigned origin)
{
	struct config_origin *o = &cfg->origin;
	const void *f = field(cfg, k);

	o->key[k - keys] = origin;
	if (!is_list(k) || *list_count(cfg, k) == 0)
		return;
	size_t last = *list_count(cfg, k) - 1;
	if (f == (void *)cfg->listen)
		o->listen[last] = origin;
	else if (f == (void *)cfg->upstream)
		o->upstream[last] = origin;
	else if (f == (void *)cfg->forward_zones)
		o->forward_zone[last] = origin;
}

/* ---- unknown keys ---------------------------------------------------- */

/* Levenshtein distance, ignoring case; keys are short, so one row on the
 * stack is enough. */
static unsigned edit_distance(const char *a, const char *b)
{
	enum { MAX = 32 };
	unsigned row[MAX + 1];
	size_t la = strlen(a), lb = strlen(b);

	if (la > MAX || lb > MAX)
		return UINT_MAX;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned cost = tolower((unsigned char)a[i - 1]) !=
					tolower((unsigned char)b[j - 1]);
			unsigned best = diag + cost;
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* A typo within edit distance 2, or a flag's name used as a key ("hosts"
 * for "hosts-file", "control" for "control-socket"). */
static const struct key *closest_key(const char *name)
{
	const struct key *best = NULL;
	unsigned best_distance = 3;
	size_t len = strlen(name);

	for (size_t i = 0; i < N_KEYS; i++) {
		unsigned d = edit_distance(name, keys[i].name);
		if (d < best_distance) {
			best = &keys[i];
			best_distance = d;
		}
	}
	for (size_t i = 0; i < N_KEYS && !best && len > 0; i++)
		if (strncmp(keys[i].name, name, len) == 0 && keys[i].name[len] == '-')
			best = &keys[i];
	return best;
}

static int unknown_key(const char *name, struct config_error *why)
{
	const struct key *near = closest_key(name);
	struct quote q;

	if (near)
		return fail(why,
			    "key '%s': unknown key (see conf/stubd.conf for the list); "
			    "did you mean '%s'?",
			    quote(name, &q), near->name);
	return fail(why, "key '%s': unknown key (see conf/stubd.conf for the list)",
		    quote(name, &q));
}

/* ---- defaults and config_set ----------------------------------------- */

static bool env_set(const char *name)
{
	const char *v = getenv(name);
	return v && *v;
}

/* systemd passes RuntimeDirectory= as $RUNTIME_DIRECTORY (several are
 * ':'-separated; ours is the first): the default then follows the unit,
 * and a test or a user run elsewhere keeps off the machine's /run/stubd. */
static void runtime_dir_from_env(struct config *cfg)
{
	const char *env = getenv("RUNTIME_DIRECTORY");
	if (!env || env[0] != '/')
		return;
	size_t len = strcspn(env, ":");
	if (len < sizeof(cfg->runtime_dir))
		snprintf(cfg->runtime_dir, sizeof(cfg->runtime_dir), "%.*s", (int)len, env);
}

void config_defaults(struct config *cfg)
{
	struct config_error why;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_KEYS; i++) {
		if (!keys[i].default_text)
			continue;
		/* The table's defaults are checked by the unit tests; a bad one
		 * is a programming error, not something to run with. */
		if (set_value(cfg, &keys[i], keys[i].default_text, &why) < 0)
			abort();
	}
	/* SPEC: a daemon by default only as root outside systemd; systemd sets
	 * INVOCATION_ID for every unit and NOTIFY_SOCKET for Type=notify. */
	cfg->foreground = geteuid() != 0 || env_set("INVOCATION_ID") || env_set("NOTIFY_SOCKET");
	runtime_dir_from_env(cfg);
}

int config_set(struct config *cfg, const char *key, const char *value,
	       struct config_error *err)
{
	const struct key *k = find_key(key);
	struct config_error why;

	if (!k)
		return unknown_key(key, err);
	if (set_value(cfg, k, value, &why) < 0)
		return fail(err, "key '%s': %s", k->name, why.msg);
	note_origin(cfg, k, CONFIG_FROM_DEFAULT);
	return 0;
}

/* ---- config file ----------------------------------------------------- */

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t len = strlen(s);
	while (len > 0 && isspace((unsigned char)s[len - 1]))
		s[--len] = '\0';
	return s;
}

/* A '#' starts a comment at the start of the value or after a blank, so
 * that a path like /srv/a#b keeps its '#'. */
static void cut_comment(char *value)
{
	for (char *p = value; *p; p++) {
		if (*p == '#' && (p == value || p[-1] == ' ' || p[-1] == '\t')) {
			*p = '\0';
			return;
		}
	}
}

struct file_state {
	const char *path;
	unsigned lineno;
	unsigned first_line[N_KEYS]; /* where each key was first set, 0 = not yet */
};

static int parse_line(struct config *cfg, struct file_state *st, char *line,
		      struct config_error *err)
{
	struct config_error why;
	struct quote q;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	char *eq = strchr(line, '=');
	if (!eq || eq == line)
		return fail(err, "%s:%u: expected 'key = value', got '%s'", st->path, st->lineno,
			    quote(line, &q));
	*eq = '\0';
	char *name = trim(line);
	char *value = eq + 1;
	cut_comment(value);
	value = trim(value);

	const struct key *k = find_key(name);
	if (!k) {
		unknown_key(name, &why);
		return fail(err, "%s:%u: %s", st->path, st->lineno, why.msg);
	}
	size_t idx = (size_t)(k - keys);
	if (st->first_line[idx] == 0) {
		st->first_line[idx] = st->lineno;
		if (is_list(k))
			clear_list(cfg, k);
	} else if (!is_list(k)) {
		/* Two values for one setting: which one did the user mean? */
		return fail(err, "%s:%u: key '%s': set twice, first on line %u", st->path,
			    st->lineno, k->name, st->first_line[idx]);
	}
	if (set_value(cfg, k, value, &why) < 0)
		return fail(err, "%s:%u: key '%s': %s", st->path, st->lineno, k->name, why.msg);
	note_origin(cfg, k, st->lineno);
	return 0;
}

static int read_lines(struct config *cfg, FILE *f, struct file_state *st,
		      struct config_error *err)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	errno = 0;
	while ((len = getline(&line, &cap, f)) != -1) {
		st->lineno++;
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if ((size_t)len > CONFIG_MAX_LINE) {
			r = fail(err, "%s:%u: line is longer than %d bytes", st->path, st->lineno,
				 CONFIG_MAX_LINE);
			break;
		}
		if (strlen(line) != (size_t)len) {
			r = fail(err, "%s:%u: line contains a NUL byte", st->path, st->lineno);
			break;
		}
		r = parse_line(cfg, st, line, err);
		if (r < 0)
			break;
		errno = 0;
	}
	/* getline returns -1 both at the end and on error (EISDIR, EIO). */
	if (r == 0 && ferror(f)) {
		r = errno ? -errno : -EIO;
		fail(err, "%s: cannot read: %s", st->path, strerror(-r));
	}
	free(line);
	return r;
}

int config_load_file(struct config *cfg, const char *path, struct config_error *err)
{
	struct file_state st = { .path = path };

	FILE *f = fopen(path, "re");
	if (!f) {
		int r = -errno;
		fail(err, "%s: cannot read: %s", path, strerror(-r));
		return r;
	}
	int r = read_lines(cfg, f, &st, err);
	fclose(f);
	return r;
}

/* ---- command line ---------------------------------------------------- */

enum {
	OPT_HOSTS = 256,
	OPT_CACHE_SIZE,
	OPT_CHECK_CONFIG,
	OPT_VERSION,
	OPT_HELP,
	OPT_RESOLV_CONF,
	OPT_WORKERS,
	OPT_JSON,
	OPT_CACHE_FILE,
};

static const struct option long_options[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "listen", required_argument, NULL, 'l' },
	{ "upstream", required_argument, NULL, 'u' },
	{ "hosts", required_argument, NULL, OPT_HOSTS },
	{ "control", required_argument, NULL, 's' },
	{ "cache-size", required_argument, NULL, OPT_CACHE_SIZE },
	{ "cache-file", required_argument, NULL, OPT_CACHE_FILE },
	{ "resolv-conf", required_argument, NULL, OPT_RESOLV_CONF },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "foreground", no_argument, NULL, 'f' },
	{ "check-config", no_argument, NULL, OPT_CHECK_CONFIG },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

/* '+': stop at the first non-option instead of reordering argv, which a
 * reload passes again; ':': report a missing value ourselves. */
static const char short_options[] = "+:c:l:u:s:fv";

/* Flags that set a config key, named as in error messages. */
static const struct {
	int opt;
	const char *flag;
	const char *key;
} flag_keys[] = {
	{ 'l', "--listen", "listen" },
	{ 'u', "--upstream", "upstream" },
	{ OPT_HOSTS, "--hosts", "hosts-file" },
	{ 's', "--control", "control-socket" },
	{ OPT_CACHE_SIZE, "--cache-size", "cache-size" },
	{ OPT_CACHE_FILE, "--cache-file", "cache-file" },
	{ OPT_RESOLV_CONF, "--resolv-conf", "resolv-conf" },
	{ OPT_WORKERS, "--workers", "workers" },
};

#define N_FLAG_KEYS (sizeof(flag_keys) / sizeof(flag_keys[0]))

/* One key flag as given; applied after the config file, in order. */
struct flag_setting {
	size_t flag; /* index in flag_keys */
	const char *value;
};

struct args {
	const char *config_file; /* NULL: CONFIG_DEFAULT_FILE if it exists */
	struct flag_setting *settings; /* argc entries at most */
	size_t n_settings;
	bool foreground;
	bool json;
	unsigned verbose;
	enum config_action action;
};

static int usage_error(struct config_error *err, const char *what, const char *arg)
{
	struct quote q;
	return fail(err, "%s '%s'; run '" CONFIG_PROGRAM " --help' for usage", what,
		    quote(arg, &q));
}

/* The option as the user wrote it: the whole word for a long one, "-x" for
 * a short one (which may sit inside a group like "-fx"). */
static const char *bad_option(const char *word, char *buf, size_t size)
{
	if (strncmp(word, "--", 2) == 0 || optopt <= 0 || optopt > 127)
		return word;
	snprintf(buf, size, "-%c", optopt);
	return buf;
}

static int add_setting(struct args *a, int opt, const char *value)
{
	for (size_t i = 0; i < N_FLAG_KEYS; i++) {
		if (flag_keys[i].opt == opt) {
			a->settings[a->n_settings++] = (struct flag_setting){ i, value };
			return 0;
		}
	}
	return -ENOENT;
}

/* word: the argv element getopt was reading, for error messages. */
static int parse_option(struct args *a, int opt, const char *word, struct config_error *err)
{
	char buf[8];

	switch (opt) {
	case 'c':
		a->config_file = optarg;
		return 0;
	case 'f':
		a->foreground = true;
		return 0;
	case 'v':
		a->verbose++;
		return 0;
	case OPT_CHECK_CONFIG:
		if (a->action == CONFIG_ACTION_RUN)
			a->action = CONFIG_ACTION_CHECK;
		return 0;
	case OPT_JSON:
		a->json = true;
		return 0;
	case OPT_VERSION:
		if (a->action != CONFIG_ACTION_HELP)
			a->action = CONFIG_ACTION_VERSION;
		return 0;
	case OPT_HELP:
		a->action = CONFIG_ACTION_HELP;
		return 0;
	case ':':
		return usage_error(err, "missing value for option",
				   bad_option(word, buf, sizeof(buf)));
	case '?':
		return usage_error(err, "unknown option", bad_option(word, buf, sizeof(buf)));
	}
	if (add_setting(a, opt, optarg) < 0)
		return usage_error(err, "unknown option", word);
	return 0;
}

/* a->action, with --json: only --check-config prints settings. */
static int finish_action(struct args *a, struct config_error *err)
{
	if (!a->json || a->action == CONFIG_ACTION_HELP || a->action == CONFIG_ACTION_VERSION)
		return 0;
	if (a->action != CONFIG_ACTION_CHECK)
		return fail(err, "--json goes with --check-config; run '" CONFIG_PROGRAM
			    " --help' for usage");
	a->action = CONFIG_ACTION_CHECK_JSON;
	return 0;
}

/* Reports the first error, but reads every option all the same: a script
 * that asked for --check-config --json gets its error as JSON wherever
 * the flags stood. */
static int parse_args(struct args *a, int argc, char **argv, struct config_error *err)
{
	struct config_error ignored;
	int opt, r = 0;

	/* optind = 0 makes glibc start over, including inside a group of
	 * short options: config_from_args runs again on every reload. */
	optind = 0;
	opterr = 0;
	for (;;) {
		/* Without permutation, getopt reads argv[optind] next, or
		 * argv[1] on the first call. */
		int word = optind > 0 ? optind : 1;
		opt = getopt_long(argc, argv, short_options, long_options, NULL);
		if (opt == -1)
			break;
		int one = parse_option(a, opt, word < argc ? argv[word] : "",
				       r < 0 ? &ignored : err);
		if (r == 0)
			r = one;
	}
	if (r == 0 && optind < argc)
		r = usage_error(err, "unexpected argument", argv[optind]);
	int action = finish_action(a, r < 0 ? &ignored : err);
	return r < 0 ? r : action;
}

static int apply_flags(struct config *cfg, const struct args *a, struct config_error *err)
{
	bool cleared[N_FLAG_KEYS] = { false };
	struct config_error why;

	for (size_t i = 0; i < a->n_settings; i++) {
		const struct flag_setting *s = &a->settings[i];
		const struct key *k = find_key(flag_keys[s->flag].key);
		if (is_list(k) && !cleared[s->flag]) {
			clear_list(cfg, k);
			cleared[s->flag] = true;
		}
		if (set_value(cfg, k, s->value, &why) < 0)
			return fail(err, "%s: %s", flag_keys[s->flag].flag, why.msg);
		note_origin(cfg, k, CONFIG_FROM_FLAG);
	}
	if (a->foreground)
		cfg->foreground = true;
	/* -v counts up from the configured level, so "log-level = warning"
	 * plus -v gives info. */
	unsigned level = (unsigned)cfg->log_level + a->verbose;
	cfg->log_level = level > LOG_LEVEL_DEBUG ? LOG_LEVEL_DEBUG : (enum log_level)level;
	return 0;
}

static int load_config(struct config *cfg, const char *path, struct config_error *err)
{
	bool explicit = path != NULL;

	if (!explicit)
		path = CONFIG_DEFAULT_FILE;
	if (strlen(path) >= sizeof(cfg->config_file))
		return fail(err, "--config: path is longer than %zu bytes",
			    sizeof(cfg->config_file) - 1);
	int r = config_load_file(cfg, path, err);
	/* The default file is optional; one named with -c is not. */
	if (r == -ENOENT && !explicit)
		return 0;
	if (r < 0)
		return -EINVAL;
	snprintf(cfg->config_file, sizeof(cfg->config_file), "%s", path);
	return 0;
}

int config_from_args(struct config *cfg, int argc, char **argv,
		     enum config_action *action, struct config_error *err)
{
	struct args a = { .action = CONFIG_ACTION_RUN };
	int r;

	config_defaults(cfg);
	*action = CONFIG_ACTION_RUN;
	a.settings = calloc(argc > 0 ? (size_t)argc : 1, sizeof(*a.settings));
	if (!a.settings)
		return fail(err, "out of memory");

	r = parse_args(&a, argc, argv, err);
	*action = a.action;
	if (r < 0)
		goto out;
	/* --help and --version must work even with a broken config file. */
	if (a.action == CONFIG_ACTION_HELP || a.action == CONFIG_ACTION_VERSION)
		goto out;
	r = load_config(cfg, a.config_file, err);
	if (r < 0)
		goto out;
	r = apply_flags(cfg, &a, err);
	if (r < 0)
		goto out;
	r = config_resolve_upstreams(cfg);
	if (r < 0)
		goto out;
	r = config_check(cfg, err);
out:
	free(a.settings);
	return r;
}

/* ---- upstreams from resolv.conf -------------------------------------- */

static bool is_wildcard(const struct netaddr *a)
{
	if (netaddr_family(a) == AF_INET)
		return ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr == htonl(INADDR_ANY);
	if (netaddr_family(a) == AF_INET6)
		return IN6_IS_ADDR_UNSPECIFIED(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
	return false;
}

static bool same_ip(const struct netaddr *a, const struct sockaddr *sa)
{
	if (!sa || sa->sa_family != netaddr_family(a))
		return false;
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
		       ((const struct sockaddr_in *)&a->ss)->sin_addr.s_addr;
	return memcmp(&((const struct sockaddr_in6 *)sa)->sin6_addr,
		      &((const struct sockaddr_in6 *)&a->ss)->sin6_addr,
		      sizeof(struct in6_addr)) == 0;
}

static bool is_link_local6(const struct netaddr *a)
{
	return netaddr_family(a) == AF_INET6 &&
	       IN6_IS_ADDR_LINKLOCAL(&((const struct sockaddr_in6 *)&a->ss)->sin6_addr);
}

/* One of this machine's interface addresses: a wildcard listener receives
 * what is sent there, e.g. a LAN server whose resolv.conf names itself. */
static bool is_local_address(const struct netaddr *a)
{
	struct ifaddrs *ifs;
	bool found = false;

	if (getifaddrs(&ifs) < 0)
		return false;
	for (struct ifaddrs *i = ifs; i && !found; i = i->ifa_next)
		found = same_ip(a, i->ifa_addr);
	freeifaddrs(ifs);
	return found;
}

/* Why nameserver ns would send our own queries back to us, or NULL. */
static const char *loop_reason(const struct config *cfg, const struct netaddr *ns,
			       char *buf, size_t size)
{
	char listen[NETADDR_STRLEN];

	for (size_t i = 0; i < cfg->n_listen; i++) {
		const struct netaddr *l = &cfg->listen[i];
		if (netaddr_equal(l, ns))
			return "it is stubd's own listen address (no forwarding loops)";
		if (!is_wildcard(l) || netaddr_port(l) != netaddr_port(ns))
			continue;
		if (!netaddr_is_loopback(ns) && !is_local_address(ns))
			continue;
		snprintf(buf, size, "stubd listens on %s, which would receive it (no forwarding loops)",
			 netaddr_str(l, listen, sizeof(listen)));
		return buf;
	}
	return NULL;
}

/* Whether ns is in cfg->upstream already: resolv.conf may name a server
 * twice (a DHCP client's line and a static one), and asking it twice would
 * only double its probes. The zone counts: fe80::1%eth0 is not %eth1. */
static bool listed(const struct config *cfg, const struct netaddr *ns)
{
	for (size_t i = 0; i < cfg->n_upstream; i++) {
		const struct netaddr *u = &cfg->upstream[i].addr;
		if (netaddr_equal(u, ns) &&
		    (netaddr_family(ns) != AF_INET6 ||
		     ((const struct sockaddr_in6 *)&u->ss)->sin6_scope_id ==
			     ((const struct sockaddr_in6 *)&ns->ss)->sin6_scope_id))
			return true;
	}
	return false;
}

int config_resolve_upstreams(struct config *cfg)
{
	struct netaddr found[CONFIG_MAX_ADDRS];
	size_t n = 0;
	char text[NETADDR_STRLEN];
	char reason[160];

	/* Configured upstreams win; a list read earlier is read again, so a
	 * reload picks up a changed resolv.conf. */
	if (cfg->n_upstream > 0 && !cfg->upstream_from_resolv_conf)
		return 0;
	cfg->n_upstream = 0;
	cfg->upstream_from_resolv_conf = true;

	int r = resolvconf_read_nameservers(cfg->resolv_conf, found, CONFIG_MAX_ADDRS, &n);
	if (r == -ENOENT) {
		log_warn("%s: does not exist, so there are no upstream servers", cfg->resolv_conf);
		return 0;
	}
	if (r < 0)
		log_warn("%s: cannot read: %s; using the %zu nameservers read so far",
			 cfg->resolv_conf, strerror(-r), n);
	for (size_t i = 0; i < n; i++) {
		const char *why = loop_reason(cfg, &found[i], reason, sizeof(reason));
		if (!why && is_link_local6(&found[i]) &&
		    ((const struct sockaddr_in6 *)&found[i].ss)->sin6_scope_id == 0)
			why = "an IPv6 link-local address without its interface cannot be reached "
			      "(write it as fe80::1%eth0)";
		if (why) {
			log_warn("%s: leaving out nameserver %s: %s", cfg->resolv_conf,
				 netaddr_str(&found[i], text, sizeof(text)), why);
			continue;
		}
		if (listed(cfg, &found[i])) {
			log_info("%s: nameserver %s is named more than once; asking it once",
				 cfg->resolv_conf, netaddr_str(&found[i], text, sizeof(text)));
			continue;
		}
		cfg->upstream[cfg->n_upstream++] = (struct route_server){ .addr = found[i] };
	}
	return 0;
}

/* ---- the settings as a whole ------------------------------------------ */

/* One of two settings that contradict each other: the value as the
 * subject of the message and as its object (in parentheses), and where it
 * came from. */
struct side {
	const char *key;
	unsigned origin; /* CONFIG_FROM_DEFAULT, a line, or CONFIG_FROM_FLAG */
	char subject[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX + 32];
	char object[CONFIG_QUOTE_MAX + NETADDR_STRLEN + 16];
};

static void side_key(struct side *s, const struct config *cfg, const char *key)
{
	const struct key *k = find_key(key);
	s->key = key;
	s->origin = cfg->origin.key[k - keys];
}

/* A number with its unit, as subject and object alike. */
static void side_number(struct side *s, const struct config *cfg, const char *key,
			unsigned value, const char *unit)
{
	side_key(s, cfg, key);
	snprintf(s->subject, sizeof(s->subject), "%u %s", value, unit);
	snprintf(s->object, sizeof(s->object), "%u %s", value, unit);
}

static const char *flag_of(const char *key)
{
	for (size_t i = 0; i < N_FLAG_KEYS; i++)
		if (strcmp(flag_keys[i].key, key) == 0)
			return flag_keys[i].flag;
	return "a flag";
}

/* Says that a and b cannot both hold, from the later of the two, whose
 * file and line (or flag) start the message: "FILE:LINE: key 'A': VALUE
 * a_to_b (OTHER, line N): why". b_to_a is the relation told from b. */
/* "FILE:LINE: key 'K'", "--flag" or "key 'K'": where a setting came from. */
static void where_of(const struct config *cfg, const struct side *s, char *buf, size_t size)
{
	if (s->origin == CONFIG_FROM_FLAG)
		snprintf(buf, size, "%s", flag_of(s->key));
	else if (s->origin != CONFIG_FROM_DEFAULT && cfg->config_file[0])
		snprintf(buf, size, "%s:%u: key '%s'", cfg->config_file, s->origin, s->key);
	else if (s->origin != CONFIG_FROM_DEFAULT)
		snprintf(buf, size, "line %u: key '%s'", s->origin, s->key);
	else
		snprintf(buf, size, "key '%s'", s->key);
}

static int contradiction(const struct config *cfg, struct config_error *err,
			 const struct side *a, const char *a_to_b,
			 const struct side *b, const char *b_to_a, const char *why)
{
	const struct side *later = a, *other = b;
	const char *relation = a_to_b;
	char where[PATH_MAX + 96], note[64] = "";

	/* Flags are applied after the file, and both after the defaults:
	 * CONFIG_FROM_DEFAULT < a line < CONFIG_FROM_FLAG. */
	if (b->origin > a->origin) {
		later = b;
		other = a;
		relation = b_to_a;
	}
	where_of(cfg, later, where, sizeof(where));

	if (other->origin == CONFIG_FROM_FLAG)
		snprintf(note, sizeof(note), ", %s", flag_of(other->key));
	else if (other->origin != CONFIG_FROM_DEFAULT)
		snprintf(note, sizeof(note), ", line %u", other->origin);
	else
		snprintf(note, sizeof(note), ", the default");
	return fail(err, "%s: %s %s (%s%s): %s", where, later->subject, relation, other->object,
		    note, why);
}

/* A CA file that cannot be read would leave every DNS-over-TLS server
 * failing later with no word of the config: said now, with its line. */
static int check_tls_ca_file(const struct config *cfg, struct config_error *err)
{
	struct side ca;
	char where[PATH_MAX + 96];
	if (!cfg->tls_ca_file[0] || access(cfg->tls_ca_file, R_OK) == 0)
		return 0;
	int e = errno;
	side_key(&ca, cfg, "tls-ca-file");
	where_of(cfg, &ca, where, sizeof(where));
	return fail(err, "%s: cannot read %s: %s (give a PEM file of CA certificates, or leave "
		    "tls-ca-file unset for the system's trust store)",
		    where, cfg->tls_ca_file, strerror(e));
}

/* A question that ends before one try has had its time can never move on
 * to the next server: upstream-timeout would promise a failover that
 * query-timeout cuts off. */
static int check_timeouts(const struct config *cfg, struct config_error *err)
{
	struct side q, u;

	if (cfg->query_timeout_ms >= cfg->upstream_timeout_ms)
		return 0;
	side_number(&q, cfg, "query-timeout", cfg->query_timeout_ms, "ms");
	side_number(&u, cfg, "upstream-timeout", cfg->upstream_timeout_ms, "ms");
	return contradiction(cfg, err, &q, "is below upstream-timeout", &u,
			     "is above query-timeout",
			     "a question would end in SERVFAIL before a server that does not answer "
			     "is given up on, so the next server is never tried; make query-timeout "
			     "at least upstream-timeout");
}

/* The cache clamps every lifetime to [cache-min-ttl, cache-max-ttl], and a
 * negative answer's to cache-max-negative-ttl before that: a minimum
 * above either maximum overrides it. */
static int check_ttls(const struct config *cfg, struct config_error *err)
{
	struct side lo, hi;

	side_number(&lo, cfg, "cache-min-ttl", cfg->cache_min_ttl, "s");
	if (cfg->cache_min_ttl > cfg->cache_max_ttl) {
		side_number(&hi, cfg, "cache-max-ttl", cfg->cache_max_ttl, "s");
		return contradiction(cfg, err, &lo, "is above cache-max-ttl", &hi,
				     "is below cache-min-ttl",
				     "no answer can be kept at least the one and at most the other; "
				     "make cache-min-ttl at most cache-max-ttl");
	}
	if (cfg->cache_min_ttl > cfg->cache_max_negative_ttl) {
		side_number(&hi, cfg, "cache-max-negative-ttl", cfg->cache_max_negative_ttl, "s");
		return contradiction(cfg, err, &lo, "is above cache-max-negative-ttl", &hi,
				     "is below cache-min-ttl",
				     "NXDOMAIN and NODATA answers would be kept cache-min-ttl seconds "
				     "all the same; make cache-min-ttl at most cache-max-negative-ttl");
	}
	return 0;
}

/* addr as IPv4 when it is IPv4-mapped IPv6: a socket sends there over IPv4. */
static struct netaddr unmapped(const struct netaddr *a)
{
	const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->ss;
	struct netaddr v4 = { .len = sizeof(struct sockaddr_in) };
	struct sockaddr_in *in = (struct sockaddr_in *)&v4.ss;

	if (netaddr_family(a) != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
		return *a;
	in->sin_family = AF_INET;
	in->sin_port = in6->sin6_port;
	memcpy(&in->sin_addr, &in6->sin6_addr.s6_addr[12], 4);
	return v4;
}

/* Whether what is sent to addr reaches stubd's listen address l: the
 * same address and port, or a wildcard of the same family on that port
 * when addr is loopback or one of this machine's own addresses. Unlike
 * loop_reason(), which leaves out a nameserver when in doubt, this is an
 * error, so it follows the sockets exactly: an IPv6 listener takes IPv6
 * only (listener.c sets IPV6_V6ONLY). */
static bool listener_receives(const struct netaddr *l, const struct netaddr *server)
{
	struct netaddr a = unmapped(server);

	if (netaddr_equal(l, &a))
		return true;
	if (!is_wildcard(l) || netaddr_family(l) != netaddr_family(&a) ||
	    netaddr_port(l) != netaddr_port(&a))
		return false;
	return netaddr_is_loopback(&a) || is_local_address(&a);
}

static void side_listen(struct side *s, const struct config *cfg, size_t i)
{
	char text[NETADDR_STRLEN];
	s->key = "listen";
	s->origin = cfg->origin.listen[i];
	netaddr_str(&cfg->listen[i], text, sizeof(text));
	snprintf(s->subject, sizeof(s->subject), "%s", text);
	snprintf(s->object, sizeof(s->object), "%s", text);
}

/* A server whose questions would come back to stubd: every miss would
 * loop until query-timeout. */
static int check_server_loop(const struct config *cfg, struct config_error *err,
			     const struct side *server, const struct netaddr *addr)
{
	for (size_t i = 0; i < cfg->n_listen; i++) {
		struct side l;
		if (!listener_receives(&cfg->listen[i], addr))
			continue;
		side_listen(&l, cfg, i);
		bool same = netaddr_equal(&cfg->listen[i], addr);
		return contradiction(cfg, err, server,
				     same ? "is stubd's own listen address"
					  : "would reach stubd itself through its listen address",
				     &l,
				     same ? (strcmp(server->key, "upstream") == 0
						     ? "is also an upstream"
						     : "is also a forward-zone server")
					  : (strcmp(server->key, "upstream") == 0
						     ? "would receive what stubd sends to its upstream"
						     : "would receive what stubd sends to the forward-zone"),
				     "every question stubd forwards there would come back to it; "
				     "name another server");
	}
	return 0;
}

static int check_loops(const struct config *cfg, struct config_error *err)
{
	char text[NETADDR_STRLEN], why[256];
	struct quote q;

	/* resolv.conf's nameservers were left out by loop_reason() already. */
	for (size_t i = 0; i < cfg->n_upstream && !cfg->upstream_from_resolv_conf; i++) {
		struct side s = { .key = "upstream", .origin = cfg->origin.upstream[i] };
		netaddr_str(&cfg->upstream[i].addr, text, sizeof(text));
		snprintf(s.subject, sizeof(s.subject), "%s", text);
		snprintf(s.object, sizeof(s.object), "%s", text);
		if (check_server_loop(cfg, err, &s, &cfg->upstream[i].addr) < 0)
			return -EINVAL;
	}
	for (size_t i = 0; i < cfg->n_forward_zones; i++) {
		struct route_domain zone;
		struct route_server servers[CONFIG_ZONE_MAX_SERVERS];
		size_t n;
		const char *line = cfg->forward_zones[i];
		if (config_forward_zone_parse(line, &zone, servers, CONFIG_ZONE_MAX_SERVERS, &n, why,
					      sizeof(why)) < 0)
			continue; /* checked when it was set */
		struct side s = { .key = "forward-zone", .origin = cfg->origin.forward_zone[i] };
		snprintf(s.object, sizeof(s.object), "%s", quote(line, &q));
		for (size_t j = 0; j < n; j++) {
			snprintf(s.subject, sizeof(s.subject), "the server %s of %.*s",
				 netaddr_str(&servers[j].addr, text, sizeof(text)),
				 (int)strcspn(line, " \t"), line);
			if (check_server_loop(cfg, err, &s, &servers[j].addr) < 0)
				return -EINVAL;
		}
	}
	return 0;
}

/* Two listen addresses one of which receives what is sent to the other:
 * the second bind() fails with "address in use", which would blame
 * another program. IPv6 listeners take IPv6 only, so [::] and 0.0.0.0
 * go together. */
static int check_listens(const struct config *cfg, struct config_error *err)
{
	for (size_t i = 0; i < cfg->n_listen; i++) {
		for (size_t j = 0; j < i; j++) {
			const struct netaddr *a = &cfg->listen[i], *b = &cfg->listen[j];
			if (netaddr_family(a) != netaddr_family(b) || netaddr_port(a) != netaddr_port(b))
				continue;
			if (!netaddr_equal(a, b) && !is_wildcard(a) && !is_wildcard(b))
				continue;
			struct side sa, sb;
			side_listen(&sa, cfg, i);
			side_listen(&sb, cfg, j);
			if (netaddr_equal(a, b))
				return contradiction(cfg, err, &sa, "is also an earlier listen address",
						     &sb, "is also a later listen address",
						     "stubd cannot bind the same address twice; keep one");
			return contradiction(cfg, err, &sa, "overlaps another listen address", &sb,
					     "overlaps another listen address",
					     "a wildcard address receives what is sent to the other, "
					     "so stubd cannot bind both; keep one");
		}
	}
	return 0;
}

int config_check(const struct config *cfg, struct config_error *err)
{
	if (check_timeouts(cfg, err) < 0 || check_ttls(cfg, err) < 0 ||
	    check_listens(cfg, err) < 0 || check_loops(cfg, err) < 0 ||
	    check_tls_ca_file(cfg, err) < 0)
		return -EINVAL;
	return 0;
}

/* ---- printing -------------------------------------------------------- */

/* "192.0.2.1:53", "[fe80::1]:53%eth0#dns.example": ADDR:PORT as for
 * the other address keys, then what else the server carries. */
static const char *config_server_str(const struct route_server *s, char *buf, size_t size)
{
	char addr[NETADDR_STRLEN], full[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX + 32];
	route_server_str(s, full, sizeof(full));
	/* A port is written only when it was: over TLS, none means 853. */
	if (!s->port_given) {
		snprintf(buf, size, "%s", full);
		return buf;
	}
	netaddr_str(&s->addr, addr, sizeof(addr));
	const char *zone = strchr(full, '%');
	size_t zone_len = zone ? strcspn(zone, "]#") : 0;
	snprintf(buf, size, "%s%.*s%s%s", addr, (int)zone_len, zone ? zone : "",
		 s->tls_name[0] ? "#" : "", s->tls_name);
	return buf;
}

static void print_upstreams(const struct config *cfg, const struct key *k, FILE *out)
{
	char text[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX + 32];

	if (!cfg->upstream_from_resolv_conf && cfg->n_upstream == 0) {
		fprintf(out, "# %s: none set\n", k->name);
		return;
	}
	if (!cfg->upstream_from_resolv_conf) {
		for (size_t i = 0; i < cfg->n_upstream; i++)
			fprintf(out, "%s = %s\n", k->name,
				config_server_str(&cfg->upstream[i], text, sizeof(text)));
		return;
	}
	/* Commented out: loading this output must keep following resolv.conf
	 * rather than pin today's nameservers. */
	if (cfg->n_upstream == 0) {
		fprintf(out, "# %s: none set, and %s has no usable nameserver\n", k->name,
			cfg->resolv_conf);
		return;
	}
	fprintf(out, "# %s: none set, so these come from %s:\n", k->name, cfg->resolv_conf);
	for (size_t i = 0; i < cfg->n_upstream; i++)
		fprintf(out, "# %s = %s\n", k->name,
			config_server_str(&cfg->upstream[i], text, sizeof(text)));
}

static void print_key(const struct config *cfg, const struct key *k, FILE *out)
{
	char text[NETADDR_STRLEN];

	switch (k->kind) {
	case KEY_SERVERS:
		print_upstreams(cfg, k, out);
		return;
	case KEY_FORWARD_ZONES:
		if (cfg->n_forward_zones == 0)
			fprintf(out, "# %s: none set\n", k->name);
		for (size_t i = 0; i < cfg->n_forward_zones; i++)
			fprintf(out, "%s = %s\n", k->name, cfg->forward_zones[i]);
		return;
	case KEY_ADDRS:
		for (size_t i = 0; i < clist_count(cfg, k); i++)
			fprintf(out, "%s = %s\n", k->name,
				netaddr_str((const struct netaddr *)cfield(cfg, k) + i, text,
					    sizeof(text)));
		return;
	case KEY_PATH:
	case KEY_HOSTS:
	case KEY_SOCKET:
	case KEY_ACCOUNT:
		if (*(const char *)cfield(cfg, k) == '\0') /* unset (tls-ca-file) */
			fprintf(out, "# %s is unset\n", k->name);
		else
			fprintf(out, "%s = %s\n", k->name, (const char *)cfield(cfg, k));
		return;
	case KEY_PREFIXES:
		for (size_t i = 0; i < clist_count(cfg, k); i++)
			fprintf(out, "%s = %s\n", k->name,
				netaddr_prefix_str((const struct netaddr_prefix *)cfield(cfg, k) + i,
						   text, sizeof(text)));
		if (clist_count(cfg, k) == 0)
			fprintf(out, "# %s: none set: only loopback clients are answered\n", k->name);
		return;
	case KEY_UINT:
	case KEY_DURATION:
	case KEY_SIZE:
		fprintf(out, "%s = %u\n", k->name, *(const unsigned *)cfield(cfg, k));
		return;
	case KEY_WORKERS:
		if (*(const unsigned *)cfield(cfg, k) == CONFIG_WORKERS_AUTO)
			fprintf(out, "%s = auto\n", k->name);
		else
			fprintf(out, "%s = %u\n", k->name, *(const unsigned *)cfield(cfg, k));
		return;
	case KEY_LOG_LEVEL:
		fprintf(out, "%s = %s\n", k->name,
			log_level_names[*(const enum log_level *)cfield(cfg, k)]);
		return;
	case KEY_STRATEGY:
		fprintf(out, "%s = %s\n", k->name,
			policy_strategy_names[*(const enum policy_strategy *)cfield(cfg, k)]);
		return;
	case KEY_DBUS:
		fprintf(out, "%s = %s\n", k->name,
			config_dbus_names[*(const enum config_dbus *)cfield(cfg, k)]);
		return;
	case KEY_TLS:
		fprintf(out, "%s = %s\n", k->name,
			route_tls_names[*(const enum route_tls *)cfield(cfg, k)]);
		return;
	case KEY_BOOL:
		fprintf(out, "%s = %s\n", k->name, *(const bool *)cfield(cfg, k) ? "yes" : "no");
		return;
	}
}

void config_print(const struct config *cfg, FILE *out)
{
	if (cfg->config_file[0])
		fprintf(out, "# effective configuration (from %s)\n", cfg->config_file);
	else
		fprintf(out, "# effective configuration (built-in defaults)\n");
	for (size_t i = 0; i < N_KEYS; i++) {
		fprintf(out, "# %s\n", keys[i].help);
		print_key(cfg, &keys[i], out);
	}
}

/* ---- printing as JSON -------------------------------------------------- */

/* Room for one list's entries as text. */
struct text_list {
	char text[CONFIG_MAX_ADDRS][NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX + 32];
	const char *values[CONFIG_MAX_FORWARD_ZONES];
	size_t n;
};

static void json_key(struct report *r, const struct config *cfg, const struct key *k,
		     struct text_list *l)
{
	const void *f = cfield(cfg, k);

	l->n = 0;
	switch (k->kind) {
	case KEY_SERVERS:
		for (size_t i = 0; i < cfg->n_upstream; i++)
			l->values[l->n++] = config_server_str(&cfg->upstream[i], l->text[i],
							      sizeof(l->text[i]));
		report_list(r, k->name, NULL, l->values, l->n);
		report_bool(r, "upstream_from_resolv_conf", NULL, cfg->upstream_from_resolv_conf);
		return;
	case KEY_FORWARD_ZONES:
		for (size_t i = 0; i < cfg->n_forward_zones; i++)
			l->values[l->n++] = cfg->forward_zones[i];
		report_list(r, k->name, NULL, l->values, l->n);
		return;
	case KEY_ADDRS:
		for (size_t i = 0; i < clist_count(cfg, k); i++)
			l->values[l->n++] = netaddr_str((const struct netaddr *)f + i, l->text[i],
							sizeof(l->text[i]));
		report_list(r, k->name, NULL, l->values, l->n);
		return;
	case KEY_PREFIXES:
		for (size_t i = 0; i < clist_count(cfg, k); i++)
			l->values[l->n++] = netaddr_prefix_str((const struct netaddr_prefix *)f + i,
							       l->text[i], sizeof(l->text[i]));
		report_list(r, k->name, NULL, l->values, l->n);
		return;
	case KEY_PATH:
	case KEY_HOSTS:
	case KEY_SOCKET:
	case KEY_ACCOUNT:
		report_str(r, k->name, NULL, *(const char *)f ? f : NULL, REPORT_TONE_NONE);
		return;
	case KEY_UINT:
	case KEY_DURATION:
	case KEY_SIZE:
		report_u64(r, k->name, NULL, *(const unsigned *)f);
		return;
	case KEY_WORKERS:
		if (*(const unsigned *)f == CONFIG_WORKERS_AUTO)
			report_str(r, k->name, NULL, "auto", REPORT_TONE_NONE);
		else
			report_u64(r, k->name, NULL, *(const unsigned *)f);
		return;
	case KEY_LOG_LEVEL:
		report_str(r, k->name, NULL, log_level_names[*(const enum log_level *)f],
			   REPORT_TONE_NONE);
		return;
	case KEY_STRATEGY:
		report_str(r, k->name, NULL,
			   policy_strategy_names[*(const enum policy_strategy *)f], REPORT_TONE_NONE);
		return;
	case KEY_DBUS:
		report_str(r, k->name, NULL, config_dbus_names[*(const enum config_dbus *)f],
			   REPORT_TONE_NONE);
		return;
	case KEY_TLS:
		report_str(r, k->name, NULL, route_tls_names[*(const enum route_tls *)f],
			   REPORT_TONE_NONE);
		return;
	case KEY_BOOL:
		report_bool(r, k->name, NULL, *(const bool *)f);
		return;
	}
}

#define CONFIG_JSON_OOM "{\"error\": \"out of memory\"}\n"

/* A report's text (its own short JSON error when memory ran out midway). */
static void print_report(struct report *r, FILE *out)
{
	size_t len;
	const char *text = report_finish(r, &len);
	fwrite(text, 1, len, out);
	report_free(r);
}

void config_print_json(const struct config *cfg, FILE *out)
{
	struct report *r = report_new(REPORT_JSON);
	struct text_list *l = malloc(sizeof(*l));

	if (!r || !l) {
		fputs(CONFIG_JSON_OOM, out);
		goto out;
	}
	report_str(r, "config_file", NULL, cfg->config_file[0] ? cfg->config_file : NULL,
		   REPORT_TONE_NONE);
	for (size_t i = 0; i < N_KEYS; i++)
		json_key(r, cfg, &keys[i], l);
	print_report(r, out);
	r = NULL;
out:
	report_free(r);
	free(l);
}

void config_print_json_error(const char *msg, FILE *out)
{
	struct report *r = report_new(REPORT_JSON);
	if (!r) {
		fputs(CONFIG_JSON_OOM, out);
		return;
	}
	report_str(r, "error", NULL, msg, REPORT_TONE_NONE);
	print_report(r, out);
}

void config_usage(FILE *out)
{
	fputs("Usage: stubd [-c FILE] [-l ADDR[:PORT]]... [-u ADDR[:PORT]]...\n"
	      "             [--hosts FILE|none] [-s SOCKET] [--cache-size N]\n"
	      "             [--cache-file FILE|none]\n"
	      "             [--workers N|auto] [-f] [-v]\n"
	      "             [--check-config [--json]] [--version] [--help]\n"
	      "\n"
	      "A caching DNS stub resolver.\n"
	      "\n"
	      "  -c, --config FILE           config file\n"
	      "                              (default " CONFIG_DEFAULT_FILE " when it exists)\n"
	      "  -l, --listen ADDR[:PORT]    answer on this address, UDP and TCP; repeatable;\n"
	      "                              IPv6 as [::1]:53 (default " CONFIG_DEFAULT_LISTEN ")\n"
	      "  -u, --upstream ADDR[:PORT]  forward to this server; repeatable (default: the\n"
	      "                              nameservers in --resolv-conf, minus stubd itself)\n"
	      "      --resolv-conf FILE      where the default upstreams come from\n"
	      "                              (default " CONFIG_DEFAULT_RESOLV_CONF ")\n"
	      "      --hosts FILE|none       hosts file to answer from (default " CONFIG_DEFAULT_HOSTS ")\n"
	      "  -s, --control SOCKET        control socket for stubctl\n"
	      "                              (default " CONFIG_DEFAULT_CONTROL ")\n"
	      "      --cache-size N          max cached answers, 0 = no cache (default 10000)\n"
	      "      --cache-file FILE|none  where the cache is kept across restarts\n"
	      "                              (default " CONFIG_DEFAULT_CACHE_FILE ")\n"
	      "      --workers N|auto        event loops (threads); auto = one per CPU (default 1)\n"
	      "  -f, --foreground            stay in the foreground, log to stderr\n"
	      "                              (default under systemd and when not root)\n"
	      "  -v                          more logging; repeat for more\n"
	      "      --check-config          validate the config, print the settings, exit\n"
	      "      --json                  with --check-config: print them as one JSON\n"
	      "                              object (or {\"error\": ...}), for scripts\n"
	      "      --version               print the version and exit\n"
	      "      --help                  print this help and exit\n"
	      "\n"
	      "Flags override the config file (see conf/stubd.conf for every setting).\n"
	      "Exit status: 0 clean shutdown, 1 runtime failure, 2 usage or config error.\n",
	      out);
}
