/* link.h - the network interfaces ("links") and the DNS settings their
 * front ends give them.
 *
 * Owns, per link: what the kernel says (index, name, up or down), and the
 * settings of each front end kept apart: stubctl and D-Bus, which
 * sets fields the way resolvectl does; systemd-networkd's state file; and
 * one record per resolvconf NAME ("tun.wg0", "eth0.dhclient",
 * "eth0.ip6.dhclient"). A link's effective settings merge them: the
 * automatic sources (networkd and every resolvconf record) add up, and a
 * field stubctl has set replaces theirs until `revert`. Also owns the caps
 * (links, servers and domains per link), the state file that carries the
 * settings over a restart, and the search list of the resolv.conf stubd
 * writes. No sockets, no clock, no libevent; the daemon calls it from its
 * main loop and turns the result into a route table (route.h).
 */
#ifndef STUBD_LINK_H
#define STUBD_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "stubd/route.h"

/* Settings front ends send that stubd stores and shows; acted on when the
 * feature exists. LINK_MODE_UNSET: the front end said nothing ("" on D-Bus). */
enum link_mode {
	LINK_MODE_UNSET,
	LINK_MODE_NO,
	LINK_MODE_YES,
	LINK_MODE_OPPORTUNISTIC,   /* DNS over TLS */
	LINK_MODE_ALLOW_DOWNGRADE, /* DNSSEC */
	LINK_MODE_RESOLVE,         /* LLMNR, mDNS: resolve but do not announce */
	LINK_MODE_COUNT_,
};
extern const char *const link_mode_names[LINK_MODE_COUNT_]; /* "", "no", "yes", ... */

enum link_feature {
	LINK_FEATURE_DNS_OVER_TLS,
	LINK_FEATURE_DNSSEC,
	LINK_FEATURE_LLMNR,
	LINK_FEATURE_MDNS,
	LINK_FEATURE_COUNT_,
};
extern const char *const link_feature_names[LINK_FEATURE_COUNT_]; /* "dns-over-tls", ... */

/* Parses a mode for feature ("yes", "no", "opportunistic", "allow-downgrade",
 * "resolve", "" for unset; also "true"/"false", "1"/"0" as networkd writes
 * them). Returns 0, or -EINVAL when the word is not one the feature takes. */
int link_mode_parse(enum link_feature feature, const char *text, enum link_mode *out);

/* One front end's settings for one link. A field a front end never set
 * stays unset and takes nothing away from the others. */
struct link_settings {
	bool has_servers;              /* servers set, even to none */
	struct route_server *servers;  /* owned; n_servers of them */
	size_t n_servers;
	bool has_domains;
	struct route_domain *domains;  /* owned */
	size_t n_domains;
	int default_route;             /* -1 unset, 0 no, 1 yes */
	enum link_mode modes[LINK_FEATURE_COUNT_];
};

void link_settings_init(struct link_settings *s);  /* everything unset */
void link_settings_clear(struct link_settings *s); /* frees, then unset */

/* Caps, from the config: what one front end may set. */
struct link_limits {
	size_t max_links;
	size_t max_servers;   /* per link, all front ends together */
	size_t max_domains;
};

enum link_source {
	LINK_SOURCE_MANUAL,      /* stubctl dns/domain/default-route */
	LINK_SOURCE_NETWORKD,    /* /run/systemd/netif/links/IFINDEX */
	LINK_SOURCE_RESOLVCONF,  /* resolvconf -a NAME */
	LINK_SOURCE_DBUS,        /* SetLink* on org.freedesktop.resolve1 */
	LINK_SOURCE_COUNT_,
};
extern const char *const link_source_names[LINK_SOURCE_COUNT_];

struct link_registry;
struct link;

/* The caller owns the registry; free with link_registry_free(). */
struct link_registry *link_registry_new(const struct link_limits *limits);
void link_registry_free(struct link_registry *r); /* NULL ok */
void link_registry_set_limits(struct link_registry *r, const struct link_limits *limits);

/* A resolvconf record that names no interface (NetworkManager's
 * "resolvconf -a NetworkManager" carries every connection's servers
 * together) applies system-wide: it is kept on this pseudo-link, always
 * up, which routes like any other (a default route unless all its
 * domains are "~" ones). It exists while it holds a record. */
#define LINK_SYSTEM_INDEX 0
#define LINK_SYSTEM_NAME "system"

/* ---- what the kernel says (netlink) ---- */

/* The interface exists with this name, up (IFF_UP and a carrier) or not. */
void link_kernel_update(struct link_registry *r, unsigned ifindex, const char *name, bool up);
/* The interface is gone: every setting of it is forgotten. */
void link_kernel_remove(struct link_registry *r, unsigned ifindex);
/* The index of a name the kernel reported, 0 when none. */
unsigned link_index_by_name(const struct link_registry *r, const char *name);

/* ---- what the front ends say ---- */

/* The interface a resolvconf record NAME is for: NAME itself when the
 * kernel has such an interface, else NAME with ".SUFFIX" parts taken off
 * the right and "PREFIX." parts off the left ("eth0.ip6.dhclient" ->
 * eth0, "tun.wg0" -> wg0, "eth0.100.inet" -> eth0.100 when that VLAN
 * exists), the longest that exists winning. 0 when none does. */
unsigned link_record_ifindex(const struct link_registry *r, const char *record);

/* Where a resolvconf record goes: its interface (link_record_ifindex),
 * else, for a NAME with no dot ("NetworkManager"), LINK_SYSTEM_INDEX.
 * Sets *ifindex and returns 0, or -ENODEV: a NAME like "eth9.dhclient"
 * whose interface does not exist. */
int link_record_target(const struct link_registry *r, const char *record, unsigned *ifindex);

/* Each takes the settings over (moves them: *s is left unset) and returns
 * 0, -ENODEV (no such link), -E2BIG (a cap: why says which), or -ENOMEM;
 * on error nothing changes. why may be NULL. */
int link_set(struct link_registry *r, unsigned ifindex, enum link_source source,
	     const char *record, struct link_settings *s, char *why, size_t why_size);

/* Only the fields set in s replace the manual source's (stubctl dns sets
 * servers, domain sets domains, ...). stubctl and D-Bus share that one
 * set of fields, as resolvectl and NetworkManager share systemd-resolved's:
 * by (LINK_SOURCE_MANUAL or LINK_SOURCE_DBUS) records who changed it last,
 * for status. */
int link_set_manual_fields(struct link_registry *r, unsigned ifindex, enum link_source by,
			   struct link_settings *s, char *why, size_t why_size);

/* The manual source no longer says anything about feature (D-Bus's ""
 * for "the default"): the automatic sources' mode, if any, applies again.
 * Returns 0 or -ENODEV. */
int link_clear_manual_mode(struct link_registry *r, unsigned ifindex, enum link_source by,
			   enum link_feature feature);

/* Drops one resolvconf record by NAME; returns 0 or -ENOENT. */
int link_drop_record(struct link_registry *r, const char *record);
/* Drops the networkd settings of a link (its state file went). */
void link_drop_networkd(struct link_registry *r, unsigned ifindex);
/* revert: forgets what stubctl and resolvconf set for the link (networkd's
 * settings stay while its state file says so). Returns 0 or -ENODEV. */
int link_revert(struct link_registry *r, unsigned ifindex);

/* ---- the result ---- */

/* A change count: bumped by every change the registry accepts (a front
 * end's settings, or what the kernel says), even when the merged result
 * stays the same: the daemon rebuilds the table and saves state only
 * when it moved. */
unsigned long link_registry_generation(const struct link_registry *r);

/* Each link the kernel knows of, in index order. */
size_t link_count(const struct link_registry *r);
const struct link *link_at(const struct link_registry *r, size_t i);
const struct link *link_by_index(const struct link_registry *r, unsigned ifindex);

unsigned link_ifindex(const struct link *l);
const char *link_name(const struct link *l);
bool link_up(const struct link *l);
/* The merged settings (owned by the link; valid until the next change). */
const struct link_settings *link_effective(const struct link *l);
/* SPEC: set explicitly, else yes with "~.", else no when every domain is
 * a "~" one, else yes. */
bool link_default_route(const struct link *l);
/* One front end's settings, for status; record is the resolvconf NAME.
 * Calls fn for each source that has anything set. */
typedef void (*link_source_fn)(void *arg, enum link_source source, const char *record,
			       const struct link_settings *s);
void link_each_source(const struct link *l, link_source_fn fn, void *arg);

/* Fills in->links (n_links) for route_table_new(): an array the registry
 * owns, valid until the next change. A link whose dns-over-tls no front
 * end set takes in->global_tls (set it first). Returns 0, or -ENOMEM (in->links
 * then empty). */
int link_route_input(struct link_registry *r, struct route_input *in);

/* The search domains of every link that is up, in link order, without
 * repeats: for resolv.conf's "search" line. Writes at most max; returns
 * how many. Pointers into the registry, valid until the next change. */
size_t link_search_domains(const struct link_registry *r, const struct route_domain **out,
			   size_t max);

/* ---- across a restart ---- */

/* Writes every front end's settings (not the kernel's view) as text. */
int link_registry_save(const struct link_registry *r, FILE *out);
/* Reads what link_registry_save() wrote, keeping links the kernel
 * reported (call after the first netlink dump) and skipping the rest.
 * A line that does not parse is skipped, and logged with path and line
 * number. Returns the number of settings restored, or -errno when the
 * file cannot be read. */
int link_registry_load(struct link_registry *r, FILE *in, const char *path);

#endif
