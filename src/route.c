/* route.c - the routing table and the text forms of servers and domains.
 * See route.h. */
#include "stubd/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/log.h"
#include "stubd/why.h"

const char *const route_kind_names[ROUTE_KIND_COUNT_] = {
	[ROUTE_DEFAULT] = "default",
	[ROUTE_FORWARD_ZONE] = "forward-zone",
	[ROUTE_LINK] = "link",
};

/* What a "used by" list that no longer fits its buffer ends in. */
#define USED_BY_ELLIPSIS "..."


/* ---- servers ----------------------------------------------------------- */

static bool is_link_local6(const struct netaddr *a)
{
	if (netaddr_family(a) != AF_INET6)
		return false;
	const struct in6_addr *ip6 = &((const struct sockaddr_in6 *)&a->ss)->sin6_addr;
	return IN6_IS_ADDR_LINKLOCAL(ip6) || IN6_IS_ADDR_MC_LINKLOCAL(ip6);
}

static uint32_t scope_of(const struct netaddr *a)
{
	if (netaddr_family(a) != AF_INET6)
		return 0;
	return ((const struct sockaddr_in6 *)&a->ss)->sin6_scope_id;
}

/* RFC 4007 §11: a zone is an interface name or its index. */
static int parse_scope(const char *zone, unsigned *ifindex, char *why, size_t why_size)
{
	if (*zone == '\0')
		return why_set(why, why_size, -EINVAL, "empty interface after '%%'");
	if (strspn(zone, "0123456789") == strlen(zone)) {
		unsigned long v = strtoul(zone, NULL, 10);
		if (v == 0 || v > UINT32_MAX)
			return why_set(why, why_size, -EINVAL, "'%s' is not an interface index", zone);
		*ifindex = (unsigned)v;
		return 0;
	}
	unsigned idx = if_nametoindex(zone);
	if (idx == 0)
		return why_set(why, why_size, -EINVAL, "no interface named '%s'", zone);
	*ifindex = idx;
	return 0;
}

/* Cuts "%ZONE" out of "[fe80::1%eth0]:53", "[fe80::1]:53%eth0" or
 * "fe80::1%eth0" into zone (zone_size bytes), leaving the address with its
 * port in buf. Returns 0 when there is no zone, 1 when there is one, -1
 * when it is too long to be an interface name or index. */
static int cut_zone(char *buf, char *zone, size_t zone_size)
{
	char *pct = strchr(buf, '%');
	if (!pct)
		return 0;
	char *end = strchr(pct, ']');
	if (!end)
		end = pct + strlen(pct);
	size_t len = (size_t)(end - pct - 1);
	if (len >= zone_size)
		return -1;
	memcpy(zone, pct + 1, len);
	zone[len] = '\0';
	memmove(pct, end, strlen(end) + 1);
	return 1;
}

/* Host names as certificates carry them and domains as users route by
 * them: letters, digits, '-' and '_' (RFC 952/1123, plus the '_' of SRV
 * and service names). Nothing that the text forms would have to escape,
 * so what route_*_str() writes parses back, and the link state file can
 * use ',' and blanks as separators. */
static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_' || c == '.';
}

/* Says what is wrong with the first character name_char() refuses. */
static int bad_char(char *why, size_t why_size, const char *what, const char *name)
{
	const char *c = name;
	while (name_char(*c))
		c++;
	unsigned char u = (unsigned char)*c;
	if (u == ' ' || u == '\t')
		return why_set(why, why_size, -EINVAL, "%s '%.64s' has a blank", what, name);
	if (u < 0x20 || u == 0x7f)
		return why_set(why, why_size, -EINVAL, "%s has a control character (byte 0x%02x)", what, u);
	if (u >= 0x80)
		return why_set(why, why_size, -EINVAL, "%s '%.64s' has a non-ASCII character "
			    "(write IDNs in their xn-- form)", what, name);
	if (u == '\\')
		return why_set(why, why_size, -EINVAL, "%s '%.64s' has a '\\': escapes are not taken here", what, name);
	return why_set(why, why_size, -EINVAL, "%s '%.64s' has '%c': only letters, digits, '-' and '_' "
		    "may make up a label", what, name, u);
}

static int check_tls_name(const char *name, char *why, size_t why_size)
{
	uint8_t wire[WIRE_NAME_MAX];
	const char *bad = NULL;
	size_t len = strlen(name);
	/* 253 characters, and the one trailing dot a name may carry. */
	if (len > (size_t)ROUTE_NAME_TEXT_MAX - 1 + (len > 0 && name[len - 1] == '.'))
		return why_set(why, why_size, -EINVAL, "server name '#%.40s...' is longer than 253 characters", name);
	for (const char *c = name; *c; c++)
		if (!name_char(*c))
			return bad_char(why, why_size, "server name", name);
	if (wire_name_from_text(name, len, true, wire, &bad) == 0)
		return why_set(why, why_size, -EINVAL, "server name '#%s': %s", name, bad);
	return 0;
}

int route_server_parse(const char *text, unsigned ifindex, struct route_server *out,
		       char *why, size_t why_size)
{
	char buf[NETADDR_STRLEN + IF_NAMESIZE + 8], zone[IF_NAMESIZE + 16];

	memset(out, 0, sizeof(*out));
	if (!text || *text == '\0')
		return why_set(why, why_size, -EINVAL, "empty server address");
	const char *hash = strchr(text, '#');
	size_t addr_len = hash ? (size_t)(hash - text) : strlen(text);
	if (addr_len >= sizeof(buf))
		return why_set(why, why_size, -EINVAL, "'%.64s...' is not an IP address", text);
	memcpy(buf, text, addr_len);
	buf[addr_len] = '\0';
	if (hash) {
		if (check_tls_name(hash + 1, why, why_size) < 0)
			return -EINVAL;
		snprintf(out->tls_name, sizeof(out->tls_name), "%s", hash + 1);
		size_t n = strlen(out->tls_name);
		if (n > 0 && out->tls_name[n - 1] == '.')
			out->tls_name[n - 1] = '\0';
	}
	int has_zone = cut_zone(buf, zone, sizeof(zone));
	if (has_zone < 0)
		return why_set(why, why_size, -EINVAL, "'%s': the part after '%%' is too long for an interface", text);
	/* Parsed without a default, so a port written stands out. */
	if (netaddr_parse(buf, 0, &out->addr) < 0)
		return why_set(why, why_size, -EINVAL, "'%s' is not an IP address with an optional port "
			    "(ADDR[:PORT][%%IFACE][#NAME], IPv6 with a port as [ADDR]:PORT)", text);
	out->port_given = netaddr_port(&out->addr) != 0;
	if (!out->port_given)
		netaddr_set_port(&out->addr, 53);
	unsigned scope = 0;
	if (has_zone > 0 && parse_scope(zone, &scope, why, why_size) < 0)
		return -EINVAL;
	if (!is_link_local6(&out->addr))
		return 0; /* a zone means nothing to a routed address */
	if (scope == 0)
		scope = ifindex;
	if (scope == 0) {
		/* The example in the form written: with a port, the zone goes
		 * inside the brackets. Without a zone the kernel cannot tell
		 * which network the address is on, and refuses to send. */
		const char *close = buf[0] == '[' ? strchr(buf, ']') : NULL;
		if (close)
			return why_set(why, why_size, -EINVAL, "%s is an IPv6 link-local address: give its "
				    "interface, as in %.*s%%eth0%s", buf, (int)(close - buf), buf,
				    close);
		return why_set(why, why_size, -EINVAL, "%s is an IPv6 link-local address: give its interface, "
			    "as in %s%%eth0", buf, buf);
	}
	((struct sockaddr_in6 *)&out->addr.ss)->sin6_scope_id = scope;
	return 0;
}

const char *route_server_str(const struct route_server *s, char *buf, size_t size)
{
	return route_server_format(s, false, buf, size);
}

const char *route_server_format(const struct route_server *s, bool numeric_scope, char *buf,
				size_t size)
{
	char host[INET6_ADDRSTRLEN], zone[IF_NAMESIZE + 16] = "";
	const struct netaddr *a = &s->addr;
	uint16_t port = netaddr_port(a);
	unsigned scope = scope_of(a);

	if (netaddr_family(a) == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&a->ss)->sin6_addr, host, sizeof(host));
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, host, sizeof(host));
	if (scope) {
		char name[IF_NAMESIZE];
		if (!numeric_scope && if_indextoname(scope, name))
			snprintf(zone, sizeof(zone), "%%%s", name);
		else
			snprintf(zone, sizeof(zone), "%%%u", scope);
	}
	const char *hash = s->tls_name[0] ? "#" : "";
	/* A port written stays written, 53 too: over TLS none means 853. */
	if (port == 53 && !s->port_given)
		snprintf(buf, size, "%s%s%s%s", host, zone, hash, s->tls_name);
	else if (netaddr_family(a) == AF_INET6)
		snprintf(buf, size, "[%s%s]:%u%s%s", host, zone, port, hash, s->tls_name);
	else
		snprintf(buf, size, "%s:%u%s%s", host, port, hash, s->tls_name);
	return buf;
}

unsigned route_server_scope(const struct route_server *s)
{
	return scope_of(&s->addr);
}

bool route_server_equal(const struct route_server *a, const struct route_server *b)
{
	/* "1.2.3.4" and "1.2.3.4:53" differ only once TLS picks the port. */
	return netaddr_equal(&a->addr, &b->addr) && scope_of(&a->addr) == scope_of(&b->addr) &&
	       strcmp(a->tls_name, b->tls_name) == 0 && a->tls == b->tls &&
	       (a->tls == ROUTE_TLS_NO || a->port_given == b->port_given);
}

const char *const route_tls_names[ROUTE_TLS_COUNT_] = {
	[ROUTE_TLS_NO] = "no",
	[ROUTE_TLS_OPPORTUNISTIC] = "opportunistic",
	[ROUTE_TLS_YES] = "yes",
};

struct netaddr route_server_tls_addr(const struct route_server *s)
{
	struct netaddr a = s->addr;
	if (!s->port_given)
		netaddr_set_port(&a, ROUTE_TLS_PORT);
	return a;
}

/* ---- domains ----------------------------------------------------------- */

int route_domain_parse(const char *text, struct route_domain *out, char *why, size_t why_size)
{
	const char *name = text;
	const char *bad = NULL;

	memset(out, 0, sizeof(*out));
	if (!text || *text == '\0')
		return why_set(why, why_size, -EINVAL, "empty domain");
	if (*name == '~') {
		out->route_only = true;
		name++;
	}
	size_t len = strlen(name);
	if (len == 0)
		return why_set(why, why_size, -EINVAL, "'~' needs a domain after it, as in ~corp.example or ~.");
	if (strcmp(name, ".") == 0) {
		/* The root routes everything; it is never a search domain. */
		out->wire[0] = 0;
		out->len = 1;
		out->route_only = true;
		return 0;
	}
	if (len > 253 + (name[len - 1] == '.'))
		return why_set(why, why_size, -EINVAL, "domain '%.40s...' is longer than 253 characters", name);
	for (const char *c = name; *c; c++)
		if (!name_char(*c))
			return bad_char(why, why_size, "domain", name);
	size_t n = wire_name_from_text(name, len, true, out->wire, &bad);
	if (n == 0)
		return why_set(why, why_size, -EINVAL, "domain '%.64s': %s", name, bad);
	out->len = (uint8_t)n;
	return 0;
}

const char *route_domain_str(const struct route_domain *d, char *buf, size_t size)
{
	if (d->len <= 1) {
		snprintf(buf, size, "~.");
		return buf;
	}
	char text[WIRE_NAME_MAX * 4 + 2];
	wire_name_str(d->wire, d->len, text, sizeof(text));
	size_t n = strlen(text);
	if (n > 1 && text[n - 1] == '.')
		text[n - 1] = '\0';
	snprintf(buf, size, "%s%s", d->route_only ? "~" : "", text);
	return buf;
}

bool route_domain_equal(const struct route_domain *a, const struct route_domain *b)
{
	return a->route_only == b->route_only &&
	       wire_name_equal(a->wire, a->len, b->wire, b->len);
}

/* ---- the table ----------------------------------------------------------- */

/* A domain and where it leads. Buckets chain through next (an index). */
struct domain_route {
	struct route_domain domain;
	struct route route;
	uint32_t hash;
	int32_t next;            /* -1 ends the chain */
	bool from_zone;          /* a forward-zone: links do not join it */
	unsigned n_links;        /* links that share it, for the label */
};

struct route_table {
	struct route_server_info *servers;
	size_t n_servers, cap_servers;
	struct route def;
	struct domain_route *domains;
	size_t n_domains, cap_domains;
	int32_t *buckets;        /* heads, -1 when empty; n_buckets a power of two */
	size_t n_buckets;
	bool truncated;          /* some route had more than ROUTE_MAX_SERVERS */
	/* A bit per top-level label some domain ends in (by the hash of its
	 * suffix "\x03tld\0"): a name whose TLD has no bit is under no
	 * domain but the root, found with one hash instead of one per label. */
	uint64_t tld_bits;
	const struct domain_route *root; /* "~.", when some link has it */
};

/* Where the last label of a wire name starts (the root for the root). */
static size_t tld_offset(const uint8_t *name, size_t len)
{
	size_t off = 0, last = 0;
	while (off < len && name[off] != 0) {
		last = off;
		off += 1u + name[off];
	}
	return last;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && strcmp(s + n - m, tail) == 0;
}

/* Appends sep and text to buf; when they do not fit, "..." once. Room
 * for the "..." is always kept, so a list cut short always says so. */
static void append_text(char *buf, size_t size, const char *sep, const char *text)
{
	size_t used = strlen(buf);
	size_t need = (used ? strlen(sep) : 0) + strlen(text);
	if (ends_with(buf, USED_BY_ELLIPSIS))
		return;
	if (used + need + strlen(USED_BY_ELLIPSIS) + 1 > size) {
		if (used + strlen(USED_BY_ELLIPSIS) + 1 <= size)
			strcat(buf, USED_BY_ELLIPSIS);
		return;
	}
	if (used)
		strcat(buf, sep);
	strcat(buf, text);
}

/* Whether list ("global, link wg0, ...") names who already: a whole item,
 * not a part of one ("link eth1" is not in "link eth10"). */
static bool list_has(const char *list, const char *who)
{
	size_t n = strlen(who);
	for (const char *p = list; (p = strstr(p, who)) != NULL; p++) {
		bool starts = p == list || (p >= list + 2 && p[-2] == ',' && p[-1] == ' ');
		bool ends = p[n] == '\0' || p[n] == ',';
		if (starts && ends)
			return true;
	}
	return false;
}

/* The table's index of s, -1 when it has none yet. */
static int find_server(const struct route_table *t, const struct route_server *s)
{
	for (size_t i = 0; i < t->n_servers; i++)
		if (route_server_equal(&t->servers[i].server, s))
			return (int)i;
	return -1;
}

/* The table's index of s, added when new, with used_by added to whom it
 * serves; -1 when memory runs out. */
static int add_server(struct route_table *t, const struct route_server *s, const char *used_by)
{
	int found = find_server(t, s);
	if (found >= 0) {
		struct route_server_info *info = &t->servers[found];
		if (!list_has(info->used_by, used_by))
			append_text(info->used_by, sizeof(info->used_by), ", ", used_by);
		return found;
	}
	if (t->n_servers >= UINT16_MAX)
		return -1;
	if (t->n_servers == t->cap_servers) {
		size_t cap = t->cap_servers ? 2 * t->cap_servers : 16;
		struct route_server_info *grown = realloc(t->servers, cap * sizeof(*grown));
		if (!grown)
			return -1;
		t->servers = grown;
		t->cap_servers = cap;
	}
	struct route_server_info *info = &t->servers[t->n_servers];
	memset(info, 0, sizeof(*info));
	info->server = *s;
	snprintf(info->used_by, sizeof(info->used_by), "%s", used_by);
	return (int)t->n_servers++;
}

/* Adds servers to r once each, in order, up to ROUTE_MAX_SERVERS. A
 * server left out is not made a server of the table for it: status must
 * not show it as used by a route that never asks it. */
static int route_add_servers(struct route_table *t, struct route *r, const struct route_server *servers,
			     size_t n, const char *used_by, enum route_tls tls)
{
	for (size_t i = 0; i < n; i++) {
		struct route_server s = servers[i];
		s.tls = (uint8_t)tls;
		int known = find_server(t, &s);
		bool have = false;
		for (size_t j = 0; known >= 0 && j < r->n_servers && !have; j++)
			have = r->servers[j] == known;
		if (!have && r->n_servers == ROUTE_MAX_SERVERS) {
			t->truncated = true;
			continue;
		}
		/* Also when r has it already: another link of a shared domain. */
		int idx = add_server(t, &s, used_by);
		if (idx < 0)
			return -ENOMEM;
		if (!have)
			r->servers[r->n_servers++] = (uint16_t)idx;
	}
	return 0;
}

static struct domain_route *find_domain(const struct route_table *t, const uint8_t *name,
					size_t len, uint32_t hash)
{
	for (int32_t i = t->buckets[hash & (t->n_buckets - 1)]; i >= 0; i = t->domains[i].next) {
		const struct domain_route *d = &t->domains[i];
		if (d->hash == hash && wire_name_equal(d->domain.wire, d->domain.len, name, len))
			return &t->domains[i];
	}
	return NULL;
}

/* The entry for domain, made when new (with kind and no servers yet). */
static struct domain_route *domain_entry(struct route_table *t, const struct route_domain *domain)
{
	uint32_t hash = wire_name_hash(domain->wire, domain->len);
	struct domain_route *d = find_domain(t, domain->wire, domain->len, hash);
	if (d)
		return d;
	if (t->n_domains == t->cap_domains)
		return NULL; /* sized up front: cannot happen */
	d = &t->domains[t->n_domains];
	memset(d, 0, sizeof(*d));
	d->domain = *domain;
	d->hash = hash;
	if (domain->len <= 1) {
		t->root = d;
	} else {
		size_t tld = tld_offset(domain->wire, domain->len);
		t->tld_bits |= 1ull << (wire_name_hash(domain->wire + tld, domain->len - tld) & 63);
	}
	size_t b = hash & (t->n_buckets - 1);
	d->next = t->buckets[b];
	t->buckets[b] = (int32_t)t->n_domains++;
	return d;
}

static int add_zone(struct route_table *t, const struct route_zone_input *z, enum route_tls tls)
{
	struct domain_route *d = domain_entry(t, &z->zone);
	if (!d)
		return -ENOMEM;
	if (d->from_zone)
		return 0; /* the first forward-zone line for a domain wins */
	char text[ROUTE_NAME_TEXT_MAX + 2], used_by[ROUTE_LABEL_MAX];
	route_domain_str(&z->zone, text, sizeof(text));
	const char *plain = text[0] == '~' ? text + 1 : text;
	/* Zones go in before links' domains, so d is new here; links that
	 * have this domain later find from_zone and stay out (a tie goes to
	 * the forward-zone). */
	d->from_zone = true;
	d->route.kind = ROUTE_FORWARD_ZONE;
	snprintf(used_by, sizeof(used_by), "forward-zone %.75s", plain);
	snprintf(d->route.label, sizeof(d->route.label), "%s", used_by);
	return route_add_servers(t, &d->route, z->servers, z->n_servers, used_by, tls);
}

static bool link_counts(const struct route_link_input *l)
{
	return l->up && l->n_servers > 0;
}

static int add_link_domain(struct route_table *t, const struct route_link_input *l,
			   const struct route_domain *domain)
{
	struct domain_route *d = domain_entry(t, domain);
	if (!d)
		return -ENOMEM;
	if (d->from_zone)
		return 0;
	char text[ROUTE_NAME_TEXT_MAX + 2], used_by[ROUTE_LABEL_MAX];
	route_domain_str(domain, text, sizeof(text));
	snprintf(used_by, sizeof(used_by), "link %s", l->name);
	d->route.kind = ROUTE_LINK;
	if (d->n_links++ == 0)
		snprintf(d->route.label, sizeof(d->route.label), "link %.15s (%.70s)", l->name, text);
	else
		snprintf(d->route.label, sizeof(d->route.label), "%u links (%.70s)", d->n_links, text);
	return route_add_servers(t, &d->route, l->servers, l->n_servers, used_by, l->tls);
}

static int add_default(struct route_table *t, const struct route_input *in)
{
	char used_by[ROUTE_LABEL_MAX];
	t->def.kind = ROUTE_DEFAULT;
	snprintf(t->def.label, sizeof(t->def.label), "%s", in->n_global ? "global" : "");
	if (route_add_servers(t, &t->def, in->global, in->n_global, "global", in->global_tls) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < in->n_links; i++) {
		const struct route_link_input *l = &in->links[i];
		if (!link_counts(l) || !l->default_route)
			continue;
		snprintf(used_by, sizeof(used_by), "link %s", l->name);
		append_text(t->def.label, sizeof(t->def.label), " + ", used_by);
		if (route_add_servers(t, &t->def, l->servers, l->n_servers, used_by, l->tls) < 0)
			return -ENOMEM;
	}
	if (t->def.label[0] == '\0')
		snprintf(t->def.label, sizeof(t->def.label), "global (no servers)");
	return 0;
}

static size_t count_domains(const struct route_input *in)
{
	size_t n = in->n_zones;
	for (size_t i = 0; i < in->n_links; i++)
		if (link_counts(&in->links[i]))
			n += in->links[i].n_domains;
	return n;
}

static int size_table(struct route_table *t, size_t n_domains)
{
	t->cap_domains = n_domains;
	t->n_buckets = 16;
	while (t->n_buckets < 2 * n_domains)
		t->n_buckets *= 2;
	t->domains = calloc(n_domains ? n_domains : 1, sizeof(t->domains[0]));
	t->buckets = malloc(t->n_buckets * sizeof(t->buckets[0]));
	if (!t->domains || !t->buckets)
		return -ENOMEM;
	for (size_t i = 0; i < t->n_buckets; i++)
		t->buckets[i] = -1;
	return 0;
}

struct route_table *route_table_new(const struct route_input *in)
{
	struct route_table *t = calloc(1, sizeof(*t));
	if (!t || size_table(t, count_domains(in)) < 0)
		goto fail;
	/* Default route first: the global servers take the first indices,
	 * so status lists them first. */
	if (add_default(t, in) < 0)
		goto fail;
	for (size_t i = 0; i < in->n_zones; i++)
		if (add_zone(t, &in->zones[i], in->global_tls) < 0)
			goto fail;
	for (size_t i = 0; i < in->n_links; i++) {
		const struct route_link_input *l = &in->links[i];
		if (!link_counts(l))
			continue;
		for (size_t j = 0; j < l->n_domains; j++)
			if (add_link_domain(t, l, &l->domains[j]) < 0)
				goto fail;
	}
	if (t->truncated)
		log_warn("routing: a route has more than %d servers; it asks only the first %d",
			 ROUTE_MAX_SERVERS, ROUTE_MAX_SERVERS);
	return t;
fail:
	route_table_free(t);
	return NULL;
}

void route_table_free(struct route_table *t)
{
	if (!t)
		return;
	free(t->servers);
	free(t->domains);
	free(t->buckets);
	free(t);
}

const struct route *route_lookup(const struct route_table *t, const uint8_t *qname,
				 size_t qname_len)
{
	if (t->n_domains == 0)
		return &t->def;
	size_t tld = tld_offset(qname, qname_len);
	if (qname_len > tld && qname[tld] != 0 &&
	    !(t->tld_bits & (1ull << (wire_name_hash(qname + tld, qname_len - tld) & 63))))
		return t->root ? &t->root->route : &t->def;
	/* Longest first: the name itself, then each parent, the root last. */
	size_t off = 0;
	while (off < qname_len) {
		size_t len = qname_len - off;
		const struct domain_route *d = find_domain(t, qname + off, len,
							   wire_name_hash(qname + off, len));
		if (d)
			return &d->route;
		if (qname[off] == 0)
			break;
		off += 1u + qname[off];
	}
	return &t->def;
}

size_t route_table_server_count(const struct route_table *t)
{
	return t->n_servers;
}

const struct route_server_info *route_table_server(const struct route_table *t, size_t i)
{
	return i < t->n_servers ? &t->servers[i] : NULL;
}

size_t route_table_domain_count(const struct route_table *t)
{
	return t->n_domains;
}

const struct route *route_table_domain_route(const struct route_table *t, size_t i,
					     const struct route_domain **domain)
{
	if (i >= t->n_domains)
		return NULL;
	if (domain)
		*domain = &t->domains[i].domain;
	return &t->domains[i].route;
}

const struct route *route_table_default(const struct route_table *t)
{
	return &t->def;
}

/* Same servers in the same order, compared by what they are, not by
 * their index (each table numbers its own). */
static bool same_servers(const struct route_table *a, const struct route *ra,
			 const struct route_table *b, const struct route *rb)
{
	if (ra->n_servers != rb->n_servers)
		return false;
	for (size_t i = 0; i < ra->n_servers; i++)
		if (!route_server_equal(&a->servers[ra->servers[i]].server,
					&b->servers[rb->servers[i]].server))
			return false;
	return true;
}

static void diff_one_way(const struct route_table *from, const struct route_table *to,
			 bool report_same_missing_only, route_change_fn fn, void *arg)
{
	for (size_t i = 0; i < from->n_domains; i++) {
		const struct domain_route *d = &from->domains[i];
		const struct domain_route *o = find_domain(to, d->domain.wire, d->domain.len, d->hash);
		if (!o)
			fn(arg, d->domain.wire, d->domain.len, false);
		else if (!report_same_missing_only && !same_servers(from, &d->route, to, &o->route))
			fn(arg, d->domain.wire, d->domain.len, false);
	}
}

void route_table_diff(const struct route_table *old, const struct route_table *new_table,
		      route_change_fn fn, void *arg)
{
	static const uint8_t root[1] = { 0 };
	if (!same_servers(old, &old->def, new_table, &new_table->def))
		fn(arg, root, 1, true);
	diff_one_way(old, new_table, false, fn, arg);
	diff_one_way(new_table, old, true, fn, arg);
}
