/* route.h - where a question goes: split DNS, as systemd-resolved routes it.
 *
 * Owns the routing table: every upstream server stubd may ask (global,
 * forward-zones', links'), the routes that group them, and the domains
 * that pick a route. A table is built whole from its inputs, never
 * changed, and swapped in by the daemon (each worker borrows it), so a
 * lookup takes no lock. Also owns the text forms users write: a server
 * "ADDR[:PORT][%IFACE][#NAME]" and a domain "corp.example" / "~corp.example"
 * / "~.". No sockets, no clock, no libevent: unit-tested alone.
 *
 * The rule (SPEC "Where a question goes"): the longest domain the name is
 * at or under, among forward-zones and the domains of links that are up
 * and have servers, picks the route: that forward-zone's servers (a
 * forward-zone wins a tie), or the servers of every link with that domain.
 * A name under no domain goes the default route: the global servers and
 * those of every link that is a default route. "~." is the root domain,
 * which every name is under: such a link takes every name no longer
 * domain claims. Lookup runs on the miss path only: a hash probe per
 * label of the name, no allocation.
 */
#ifndef STUBD_ROUTE_H
#define STUBD_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/netaddr.h"
#include "stubd/wire.h"

/* A DNS name as text, NUL included: "#NAME" of a server, a domain. */
#define ROUTE_NAME_TEXT_MAX 254
/* Servers one route may ask (a link domain shared by several links, or
 * the default route with many links): past this, the rest are left out
 * with a warning when the table is built. */
#define ROUTE_MAX_SERVERS 32
/* "link wlan0 (~corp.example)" and the like, NUL included. */
#define ROUTE_LABEL_MAX 96
/* An interface name (IFNAMSIZ), NUL included. */
#define ROUTE_IFNAME_MAX 16

/* How a server is asked: dns-over-tls, globally or per link (SPEC "DNS
 * over TLS"). The table stamps each of its servers with the mode of
 * where it came from; a parsed server is ROUTE_TLS_NO. */
enum route_tls {
	ROUTE_TLS_NO,
	ROUTE_TLS_OPPORTUNISTIC, /* TLS when it can be set up, else plain DNS (RFC 7435) */
	ROUTE_TLS_YES,           /* TLS with a verified certificate, or not at all */
	ROUTE_TLS_COUNT_,
};
extern const char *const route_tls_names[ROUTE_TLS_COUNT_]; /* "no", "opportunistic", "yes" */

/* DNS over TLS goes to this port when the server names none (RFC 7858 §3.1). */
#define ROUTE_TLS_PORT 853

/* A server as resolvectl writes it: ADDR[:PORT][%IFACE][#NAME]. */
struct route_server {
	struct netaddr addr;     /* port 53 unless given; fe80::/10 with its scope id */
	char tls_name[ROUTE_NAME_TEXT_MAX]; /* "#NAME": what a DoT certificate must carry; "" none */
	bool port_given;         /* ":PORT" was written: TLS goes there too, not to 853 */
	uint8_t tls;             /* enum route_tls, set by the table */
};

/* Where TLS to s goes: its address, on ROUTE_TLS_PORT unless a port was given. */
struct netaddr route_server_tls_addr(const struct route_server *s);

/* Parses text into out. ifindex: the interface the server belongs to (a
 * link's), which an IPv6 link-local address without "%IFACE" is scoped to;
 * 0 for none (global, forward-zone), when a link-local address must name
 * its interface. "%IFACE" is a name (looked up now) or an index. Returns
 * 0, or -EINVAL with why (a phrase, "... is not an IP address") set. */
int route_server_parse(const char *text, unsigned ifindex, struct route_server *out,
		       char *why, size_t why_size);

/* The text form again: "192.0.2.1", "192.0.2.1:5353", "fe80::1%wlan0", "[fe80::1%wlan0]:5353",
 * "9.9.9.9#dns.quad9.net" (port shown when written or not 53, so that
 * it parses back to the same server, over TLS too; the scope as the
 * interface's name when it still exists, else its index). */
const char *route_server_str(const struct route_server *s, char *buf, size_t size);

/* The same, with the scope as the interface's index when numeric_scope:
 * for files read back later, which an interface name (it may hold a ','
 * or change) must not garble. */
const char *route_server_format(const struct route_server *s, bool numeric_scope, char *buf,
				size_t size);

bool route_server_equal(const struct route_server *a, const struct route_server *b);

/* The interface an IPv6 link-local server is scoped to; 0 for others. */
unsigned route_server_scope(const struct route_server *s);

/* A routing domain: lowercased wire form, and whether it only routes (a
 * "~" domain) or is a search domain too. The root ("~." or ".") routes
 * every name and is never a search domain. */
struct route_domain {
	uint8_t wire[WIRE_NAME_MAX];
	uint8_t len;
	bool route_only;
};

/* "corp.example", "~corp.example", "corp.example.", "~.", ".": one
 * trailing dot allowed, at most 253 characters, labels of 1-63 letters,
 * digits, '-' or '_' (IDNs in their xn-- form; what route_domain_str()
 * writes parses back). Returns 0, or -EINVAL with why set. */
int route_domain_parse(const char *text, struct route_domain *out, char *why, size_t why_size);

/* "corp.example" or "~corp.example"; the root as "~.". */
const char *route_domain_str(const struct route_domain *d, char *buf, size_t size);

bool route_domain_equal(const struct route_domain *a, const struct route_domain *b);

/* What the table is built from. */
struct route_zone_input {            /* a forward-zone line */
	struct route_domain zone;
	const struct route_server *servers;
	size_t n_servers;
};

struct route_link_input {            /* a link as its front ends left it */
	unsigned ifindex;
	const char *name;
	bool up;                         /* false: contributes nothing */
	const struct route_server *servers;
	size_t n_servers;
	const struct route_domain *domains;
	size_t n_domains;
	bool default_route;              /* link_default_route() decided it */
	enum route_tls tls;              /* its dns-over-tls: the link's own, else the global */
};

struct route_input {
	const struct route_server *global;
	size_t n_global;
	enum route_tls global_tls;       /* for the global servers and forward-zones' */
	const struct route_zone_input *zones;
	size_t n_zones;
	const struct route_link_input *links;
	size_t n_links;
};

enum route_kind {
	ROUTE_DEFAULT,       /* no domain matched: global servers and default-route links */
	ROUTE_FORWARD_ZONE,
	ROUTE_LINK,          /* one or more links with the matching domain */
	ROUTE_KIND_COUNT_,
};
extern const char *const route_kind_names[ROUTE_KIND_COUNT_];

/* One way out: the servers a question asks, in order. */
struct route {
	enum route_kind kind;
	char label[ROUTE_LABEL_MAX];  /* "global", "forward-zone corp.example", "link wg0 (~corp.example)" */
	uint16_t servers[ROUTE_MAX_SERVERS]; /* indices into the table's servers */
	size_t n_servers;                    /* 0: SERVFAIL at once */
};

/* Who a server of the table serves, for status. */
struct route_server_info {
	struct route_server server;
	char used_by[ROUTE_LABEL_MAX];  /* "global", "link wg0", "forward-zone corp.example", ... */
};

struct route_table;

/* Builds a table from in (copied: in may go once this returns). Servers
 * that appear in several places with the same dns-over-tls are one
 * server of the table, stamped with it (route_server.tls). Returns NULL
 * when memory runs out. Free with route_table_free(). */
struct route_table *route_table_new(const struct route_input *in);
void route_table_free(struct route_table *t); /* NULL ok */

/* The route for a name (wire form, any case). Never NULL: a name under
 * no domain gets the default route, which may have no servers. */
const struct route *route_lookup(const struct route_table *t, const uint8_t *qname,
				 size_t qname_len);

/* Every server of the table, each once; routes refer to them by index. */
size_t route_table_server_count(const struct route_table *t);
const struct route_server_info *route_table_server(const struct route_table *t, size_t i);

/* The domains the table routes by and their routes, for status. */
size_t route_table_domain_count(const struct route_table *t);
const struct route *route_table_domain_route(const struct route_table *t, size_t i,
					     const struct route_domain **domain);
const struct route *route_table_default(const struct route_table *t);

/* Calls fn for every domain whose servers differ between old and new (a
 * domain in only one of them counts), and for the root with all=true when
 * the default route's servers differ: what the cache must stop serving
 * as fresh (SPEC: answers from servers a name no longer goes to). */
typedef void (*route_change_fn)(void *arg, const uint8_t *domain, size_t len, bool all);
void route_table_diff(const struct route_table *old, const struct route_table *new_table,
		      route_change_fn fn, void *arg);

#endif
