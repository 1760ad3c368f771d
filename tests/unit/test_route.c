/* test_route.c - scenarios for split DNS routing: the text forms of
 * servers and domains, and where a table sends a name (SPEC "Where a
 * question goes"). Tables are built by hand from inputs, as the daemon
 * builds them from config and the link registry. */
#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "stubd/route.h"

#include "alloc_count.h"

/* ---- helpers ------------------------------------------------------------ */

/* "a.b.c" in wire form, lowercase kept as given; "." is the root. Written
 * here, not with wire.c's reader, so the tests do not lean on the code
 * they check. */
static size_t to_wire(const char *text, uint8_t *out)
{
	size_t n = 0;
	if (strcmp(text, ".") != 0) {
		const char *p = text;
		while (*p) {
			const char *dot = strchr(p, '.');
			size_t len = dot ? (size_t)(dot - p) : strlen(p);
			assert_true(len > 0 && len <= 63);
			out[n++] = (uint8_t)len;
			memcpy(out + n, p, len);
			n += len;
			p += len + (dot ? 1 : 0);
		}
	}
	out[n++] = 0;
	assert_true(n <= WIRE_NAME_MAX);
	return n;
}

static struct route_server parse_server(const char *text, unsigned ifindex)
{
	struct route_server s;
	char why[256] = "";
	int rc = route_server_parse(text, ifindex, &s, why, sizeof(why));
	if (rc != 0)
		fail_msg("'%s' did not parse: %s", text, why);
	return s;
}

static struct route_domain parse_domain(const char *text)
{
	struct route_domain d;
	char why[256] = "";
	int rc = route_domain_parse(text, &d, why, sizeof(why));
	if (rc != 0)
		fail_msg("'%s' did not parse: %s", text, why);
	return d;
}

static uint16_t port_of(const struct route_server *s)
{
	return netaddr_port(&s->addr);
}

static uint32_t scope_of(const struct route_server *s)
{
	assert_int_equal(netaddr_family(&s->addr), AF_INET6);
	return ((const struct sockaddr_in6 *)&s->addr.ss)->sin6_scope_id;
}

/* Backing store for the inputs a test builds: route_table_new() copies
 * what it needs, so these only have to live until it returns. */
static struct route_server server_pool[2048];
static size_t servers_used;
static struct route_domain domain_pool[2048];
static size_t domains_used;

static void pools_reset(void)
{
	servers_used = 0;
	domains_used = 0;
}

/* "192.0.2.1 192.0.2.2" into the pool; n gets how many. */
static const struct route_server *servers(const char *list, unsigned ifindex, size_t *n)
{
	char copy[1024], *save = NULL;
	const struct route_server *first = &server_pool[servers_used];
	snprintf(copy, sizeof(copy), "%s", list);
	*n = 0;
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		assert_true(servers_used < sizeof(server_pool) / sizeof(server_pool[0]));
		server_pool[servers_used++] = parse_server(w, ifindex);
		(*n)++;
	}
	return first;
}

static const struct route_domain *domains(const char *list, size_t *n)
{
	char copy[1024], *save = NULL;
	const struct route_domain *first = &domain_pool[domains_used];
	snprintf(copy, sizeof(copy), "%s", list);
	*n = 0;
	for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
		assert_true(domains_used < sizeof(domain_pool) / sizeof(domain_pool[0]));
		domain_pool[domains_used++] = parse_domain(w);
		(*n)++;
	}
	return first;
}

static struct route_zone_input zone(const char *domain, const char *server_list)
{
	struct route_zone_input z = { .zone = parse_domain(domain) };
	z.servers = servers(server_list, 0, &z.n_servers);
	return z;
}

/* An interface that is up; tests turn .up off where they need to. */
static struct route_link_input link_in(unsigned ifindex, const char *name, const char *server_list,
				       const char *domain_list, bool default_route)
{
	struct route_link_input l = {
		.ifindex = ifindex,
		.name = name,
		.up = true,
		.default_route = default_route,
	};
	l.servers = servers(server_list, ifindex, &l.n_servers);
	l.domains = domains(domain_list, &l.n_domains);
	return l;
}

static const struct route *lookup(const struct route_table *t, const char *name)
{
	uint8_t wire[WIRE_NAME_MAX];
	size_t len = to_wire(name, wire);
	const struct route *r = route_lookup(t, wire, len);
	assert_non_null(r);
	return r;
}

/* A route's servers as "A B C", to compare with what the scenario says. */
static const char *route_servers(const struct route_table *t, const struct route *r)
{
	static char out[4096];
	char one[512];
	out[0] = '\0';
	for (size_t i = 0; i < r->n_servers; i++) {
		const struct route_server_info *info = route_table_server(t, r->servers[i]);
		assert_non_null(info);
		route_server_str(&info->server, one, sizeof(one));
		if (i)
			strcat(out, " ");
		strcat(out, one);
	}
	return out;
}

static const char *servers_for(const struct route_table *t, const char *name)
{
	return route_servers(t, lookup(t, name));
}

static const struct route_server_info *table_server(const struct route_table *t, const char *text)
{
	struct route_server s = parse_server(text, 0);
	for (size_t i = 0; i < route_table_server_count(t); i++)
		if (route_server_equal(&route_table_server(t, i)->server, &s))
			return route_table_server(t, i);
	fail_msg("%s is not a server of the table", text);
	return NULL;
}

static struct route_table *table(const struct route_input *in)
{
	struct route_table *t = route_table_new(in);
	assert_non_null(t);
	return t;
}

static int reset(void **state)
{
	pools_reset();
	return 0;
}

/* ---- servers ------------------------------------------------------------ */

static void test_server_parse_forms(void **state)
{
	struct route_server s;
	char buf[512];
	unsigned lo = if_nametoindex("lo");
	assert_true(lo > 0);

	s = parse_server("192.0.2.1", 0);
	assert_int_equal(netaddr_family(&s.addr), AF_INET);
	assert_int_equal(port_of(&s), 53);
	assert_string_equal(s.tls_name, "");
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "192.0.2.1");

	s = parse_server("192.0.2.1:5353", 0);
	assert_int_equal(port_of(&s), 5353);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "192.0.2.1:5353");

	s = parse_server("[2001:db8::1]:853", 0);
	assert_int_equal(netaddr_family(&s.addr), AF_INET6);
	assert_int_equal(port_of(&s), 853);
	assert_int_equal(scope_of(&s), 0);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "[2001:db8::1]:853");

	s = parse_server("2001:db8::1", 0);
	assert_int_equal(port_of(&s), 53);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "2001:db8::1");

	/* A routed address has no use for a zone, and never takes the link's. */
	s = parse_server("2001:db8::1", 7);
	assert_int_equal(scope_of(&s), 0);

	/* "#NAME" is kept without its trailing dot. */
	s = parse_server("9.9.9.9#dns.quad9.net.", 0);
	assert_string_equal(s.tls_name, "dns.quad9.net");
	assert_int_equal(port_of(&s), 53);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "9.9.9.9#dns.quad9.net");
	s = parse_server("[2001:db8::1]:853#dns.example", 0);
	assert_string_equal(s.tls_name, "dns.example");
	assert_int_equal(port_of(&s), 853);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "[2001:db8::1]:853#dns.example");
}

static void test_server_parse_link_local(void **state)
{
	struct route_server s;
	char why[256];
	char buf[512];
	unsigned lo = if_nametoindex("lo");
	assert_true(lo > 0);

	/* Every way resolvectl and users write a zone. */
	const char *with_zone[] = { "fe80::1%lo", "[fe80::1%lo]:53", "[fe80::1]:53%lo" };
	for (size_t i = 0; i < sizeof(with_zone) / sizeof(with_zone[0]); i++) {
		s = parse_server(with_zone[i], 0);
		assert_int_equal(scope_of(&s), lo);
		assert_int_equal(port_of(&s), 53);
	}
	s = parse_server("[fe80::1%lo]:5353", 0);
	assert_int_equal(scope_of(&s), lo);
	assert_int_equal(port_of(&s), 5353);
	s = parse_server("fe80::1%1", 0);
	assert_int_equal(scope_of(&s), 1);
	/* An index need not exist now: the link may be on its way. */
	s = parse_server("fe80::1%4000", 0);
	assert_int_equal(scope_of(&s), 4000);

	/* No zone: a link's server belongs to that link ... */
	s = parse_server("fe80::1", 7);
	assert_int_equal(scope_of(&s), 7);
	/* ... a zone given wins over it ... */
	s = parse_server("fe80::1%lo", 7);
	assert_int_equal(scope_of(&s), lo);
	/* ... and a global or forward-zone server must say which. */
	why[0] = '\0';
	assert_int_equal(route_server_parse("fe80::1", 0, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "give its interface"));
	why[0] = '\0';
	assert_int_equal(route_server_parse("[fe80::1]:53", 0, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "give its interface"));
	/* The example is in the form written: the zone inside the brackets. */
	assert_int_equal(route_server_parse("[fe80::1:2]:5353#dns.example", 0, &s, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "[fe80::1:2]:5353 is an IPv6 link-local address: give its "
				 "interface, as in [fe80::1:2%eth0]:5353");
	assert_int_equal(route_server_parse("fe80::9", 0, &s, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "fe80::9 is an IPv6 link-local address: give its interface, as in "
				 "fe80::9%eth0");
	/* Link-local multicast is scoped too. */
	assert_int_equal(route_server_parse("ff02::fb", 0, &s, why, sizeof(why)), -EINVAL);

	/* The scope prints as the interface's name while it exists, else
	 * as its index. */
	s = parse_server("fe80::1%1", 0);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "fe80::1%lo");
	s = parse_server("fe80::1", 4000);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "fe80::1%4000");
	s = parse_server("[fe80::1]:5353", 4000);
	assert_string_equal(route_server_str(&s, buf, sizeof(buf)), "[fe80::1%4000]:5353");
}

static void test_server_parse_rejects(void **state)
{
	static const struct {
		const char *text;
		const char *why; /* a part of the message */
	} bad[] = {
		{ "", "empty" },
		{ "1.2.3", "not an IP address" },
		{ "1.2.3.4:0", "not an IP address" },
		{ "1.2.3.4:99999", "not an IP address" },
		{ "1.2.3.4:", "not an IP address" },
		{ "dns.example", "not an IP address" },
		{ "[2001:db8::1", "not an IP address" },
		{ "fe80::1%nosuchif0", "nosuchif0" },
		{ "fe80::1%", "empty interface" },
		{ "fe80::1%0", "not an interface index" },
		{ "fe80::1%abcdefghijklmnopqrstuvwxyz0123456789", "too long" },
		{ "1.2.3.4#", "empty name" },
		{ "1.2.3.4#bad name", "blank" },
		{ "1.2.3.4#a..b", "empty label" },
		/* ',' and '#' would break the lists the state file writes. */
		{ "1.2.3.4#a,b.example", "','" },
		{ "1.2.3.4#a#b", "'#'" },
		{ "1.2.3.4#caf\xc3\xa9.example", "non-ASCII" },
	};
	struct route_server s;
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(why, sizeof(why), "(unset)");
		int rc = route_server_parse(bad[i].text, 0, &s, why, sizeof(why));
		if (rc != -EINVAL)
			fail_msg("'%s' gave %d, not -EINVAL", bad[i].text, rc);
		if (!strstr(why, bad[i].why))
			fail_msg("'%s': why is '%s', expected '%s' in it", bad[i].text, why, bad[i].why);
	}
	assert_int_equal(route_server_parse(NULL, 0, &s, why, sizeof(why)), -EINVAL);
	/* why may be left out. */
	assert_int_equal(route_server_parse("1.2.3", 0, &s, NULL, 0), -EINVAL);

	/* A server name is at most 253 characters, one trailing dot aside. */
	char text[400], name[300];
	memset(name, 0, sizeof(name));
	for (size_t i = 0; i < 253; i++)
		name[i] = (i % 50 == 49) ? '.' : 'a';
	snprintf(text, sizeof(text), "1.2.3.4#%s", name);
	s = parse_server(text, 0);
	assert_int_equal(strlen(s.tls_name), 253);
	snprintf(text, sizeof(text), "1.2.3.4#%s.", name);
	s = parse_server(text, 0);
	assert_int_equal(strlen(s.tls_name), 253);
	name[253] = 'a';
	snprintf(text, sizeof(text), "1.2.3.4#%s", name);
	why[0] = '\0';
	assert_int_equal(route_server_parse(text, 0, &s, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "longer than 253"));
}

static void test_server_str_round_trips(void **state)
{
	static const struct {
		const char *text;
		unsigned ifindex;
	} good[] = {
		{ "192.0.2.1", 0 },
		{ "192.0.2.1:5353", 0 },
		{ "[2001:db8::1]:853", 0 },
		{ "2001:db8::1", 0 },
		{ "fe80::1%lo", 0 },
		{ "[fe80::1%lo]:53", 0 },
		{ "[fe80::1]:53%lo", 0 },
		{ "fe80::1%1", 0 },
		{ "fe80::1", 7 },
		{ "[fe80::1]:5353", 4000 },
		{ "9.9.9.9#dns.quad9.net", 0 },
		{ "9.9.9.9:853#dns.quad9.net.", 0 },
		{ "[2001:db8::1]:853#dns.example", 0 },
		{ "fe80::53%lo#dns_1.example", 0 },
	};
	char buf[512];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		struct route_server a = parse_server(good[i].text, good[i].ifindex);
		/* Parsed back with no link: the text must carry the scope. */
		struct route_server b = parse_server(route_server_str(&a, buf, sizeof(buf)), 0);
		if (!route_server_equal(&a, &b))
			fail_msg("'%s' printed as '%s', which parses to another server", good[i].text, buf);
	}

	/* Equal means address, port, scope and name alike. */
	struct route_server a = parse_server("fe80::1%1", 0);
	struct route_server b = parse_server("fe80::1%2", 0);
	assert_false(route_server_equal(&a, &b));
	a = parse_server("192.0.2.1", 0);
	b = parse_server("192.0.2.1:54", 0);
	assert_false(route_server_equal(&a, &b));
	b = parse_server("192.0.2.1#dns.example", 0);
	assert_false(route_server_equal(&a, &b));
	b = parse_server("192.0.2.1:53", 0);
	assert_true(route_server_equal(&a, &b));
}

/* ---- domains ------------------------------------------------------------ */

static void assert_domain(const char *text, const char *wire_text, bool route_only, const char *shown)
{
	uint8_t wire[WIRE_NAME_MAX];
	size_t len = to_wire(wire_text, wire);
	char buf[300];
	struct route_domain d = parse_domain(text);
	assert_int_equal(d.len, len);
	assert_memory_equal(d.wire, wire, len);
	assert_int_equal(d.route_only, route_only);
	assert_string_equal(route_domain_str(&d, buf, sizeof(buf)), shown);
	/* What it prints parses back to the same domain. */
	struct route_domain again = parse_domain(buf);
	assert_true(route_domain_equal(&d, &again));
}

static void test_domain_parse_forms(void **state)
{
	assert_domain("corp.example", "corp.example", false, "corp.example");
	assert_domain("~corp.example", "corp.example", true, "~corp.example");
	assert_domain("corp.example.", "corp.example", false, "corp.example");
	assert_domain("Corp.Example.", "corp.example", false, "corp.example");
	assert_domain("~CORP.example", "corp.example", true, "~corp.example");
	/* The root routes every name and is never searched: route-only
	 * however it is written. */
	assert_domain("~.", ".", true, "~.");
	assert_domain(".", ".", true, "~.");
	assert_domain("168.192.in-addr.arpa", "168.192.in-addr.arpa", false, "168.192.in-addr.arpa");
	assert_domain("_msdcs.corp.example", "_msdcs.corp.example", false, "_msdcs.corp.example");
	assert_domain("xn--bcher-kva.example", "xn--bcher-kva.example", false, "xn--bcher-kva.example");
	assert_domain("lan", "lan", false, "lan");

	/* Search and route-only are different domains with the same name. */
	struct route_domain a = parse_domain("corp.example");
	struct route_domain b = parse_domain("~corp.example");
	assert_false(route_domain_equal(&a, &b));
	b = parse_domain("CORP.EXAMPLE.");
	assert_true(route_domain_equal(&a, &b));

	/* 253 characters, with or without the trailing dot. */
	char text[300];
	memset(text, 0, sizeof(text));
	for (size_t i = 0; i < 253; i++)
		text[i] = (i % 60 == 59) ? '.' : 'a';
	struct route_domain d = parse_domain(text);
	assert_int_equal(d.len, 255);
	text[253] = '.';
	d = parse_domain(text);
	assert_int_equal(d.len, 255);
	/* A label of 63. */
	memset(text, 0, sizeof(text));
	memset(text, 'b', 63);
	strcat(text, ".example");
	d = parse_domain(text);
	assert_int_equal(d.wire[0], 63);
}

static void test_domain_parse_rejects(void **state)
{
	char long_domain[300], long_label[100];
	memset(long_domain, 0, sizeof(long_domain));
	for (size_t i = 0; i < 254; i++)
		long_domain[i] = (i % 60 == 59) ? '.' : 'a';
	memset(long_label, 0, sizeof(long_label));
	memset(long_label, 'c', 64);
	strcat(long_label, ".example");

	const struct {
		const char *text;
		const char *why;
	} bad[] = {
		{ "", "empty" },
		{ "~", "needs a domain after it" },
		{ long_domain, "longer than 253" },
		{ long_label, "63" },
		{ "a..b", "empty label" },
		{ ".corp.example", "empty label" },
		{ "corp.example..", "empty label" },
		{ "~~corp.example", "'~'" },
		{ "corp example", "blank" },
		{ " corp.example", "blank" },
		{ "corp\texample", "blank" },
		{ "corp\x01.example", "control" },
		{ "corp\x7f.example", "control" },
		{ "corp\\.example", "'\\'" },
		{ "b\xc3\xbc" "cher.example", "non-ASCII" },
		{ "b\xc3\xbc" "cher.example", "xn--" },
		/* ',' separates domains in the link state file. */
		{ "corp,example", "','" },
		{ "*.corp.example", "'*'" },
	};
	struct route_domain d;
	char why[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(why, sizeof(why), "(unset)");
		int rc = route_domain_parse(bad[i].text, &d, why, sizeof(why));
		if (rc != -EINVAL)
			fail_msg("'%s' gave %d, not -EINVAL", bad[i].text, rc);
		if (!strstr(why, bad[i].why))
			fail_msg("'%s': why is '%s', expected '%s' in it", bad[i].text, why, bad[i].why);
	}
	assert_int_equal(route_domain_parse(NULL, &d, why, sizeof(why)), -EINVAL);
	assert_int_equal(route_domain_parse("a..b", &d, NULL, 0), -EINVAL);
}

/* ---- the table ---------------------------------------------------------- */

static void test_global_only(void **state)
{
	size_t n;
	struct route_input in = { .global = servers("192.0.2.1 192.0.2.2", 0, &n) };
	in.n_global = n;
	struct route_table *t = table(&in);

	const struct route *r = lookup(t, "www.example.com");
	assert_int_equal(r->kind, ROUTE_DEFAULT);
	assert_string_equal(r->label, "global");
	assert_string_equal(route_servers(t, r), "192.0.2.1 192.0.2.2");
	assert_ptr_equal(r, route_table_default(t));
	assert_ptr_equal(lookup(t, "."), r);
	assert_int_equal(route_table_domain_count(t), 0);
	assert_int_equal(route_table_server_count(t), 2);
	assert_string_equal(route_table_server(t, 0)->used_by, "global");
	assert_null(route_table_server(t, 2));
	assert_string_equal(route_kind_names[r->kind], "default");
	route_table_free(t);
	route_table_free(NULL);
}

static void test_forward_zone(void **state)
{
	size_t n;
	struct route_zone_input zones[] = { zone("corp.example", "10.0.0.1 10.0.0.2") };
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .zones = zones, .n_zones = 1 };
	in.n_global = n;
	struct route_table *t = table(&in);

	const struct route *r = lookup(t, "corp.example");
	assert_int_equal(r->kind, ROUTE_FORWARD_ZONE);
	assert_string_equal(r->label, "forward-zone corp.example");
	assert_string_equal(route_servers(t, r), "10.0.0.1 10.0.0.2");
	assert_ptr_equal(lookup(t, "www.corp.example"), r);
	assert_ptr_equal(lookup(t, "a.b.c.corp.example"), r);
	/* A label boundary, not a string suffix. */
	assert_string_equal(servers_for(t, "notcorp.example"), "192.0.2.1");
	assert_string_equal(servers_for(t, "example"), "192.0.2.1");
	assert_string_equal(servers_for(t, "corp.example.com"), "192.0.2.1");
	assert_string_equal(table_server(t, "10.0.0.1")->used_by, "forward-zone corp.example");

	const struct route_domain *d = NULL;
	assert_int_equal(route_table_domain_count(t), 1);
	assert_ptr_equal(route_table_domain_route(t, 0, &d), r);
	assert_non_null(d);
	struct route_domain want = parse_domain("corp.example");
	assert_true(route_domain_equal(d, &want));
	assert_null(route_table_domain_route(t, 1, &d));
	route_table_free(t);
}

static void test_longest_match_wins(void **state)
{
	struct route_zone_input zones[] = {
		zone("a.corp.example", "10.0.0.1"),
		zone("corp.example", "10.0.0.2"),
	};
	struct route_link_input links[] = {
		link_in(3, "wg0", "10.8.0.1", "~corp.example", false),
		link_in(4, "tun0", "10.9.0.1", "~x.corp.example", false),
	};
	struct route_input in = { .zones = zones, .n_zones = 2, .links = links, .n_links = 2 };
	struct route_table *t = table(&in);

	/* A forward-zone deeper than a link's domain ... */
	assert_string_equal(servers_for(t, "host.a.corp.example"), "10.0.0.1");
	assert_string_equal(lookup(t, "a.corp.example")->label, "forward-zone a.corp.example");
	/* ... and a link's domain deeper than a forward-zone. */
	const struct route *r = lookup(t, "host.x.corp.example");
	assert_int_equal(r->kind, ROUTE_LINK);
	assert_string_equal(r->label, "link tun0 (~x.corp.example)");
	assert_string_equal(route_servers(t, r), "10.9.0.1");
	/* corp.example itself: the forward-zone ties with wg0 and wins. */
	r = lookup(t, "host.corp.example");
	assert_int_equal(r->kind, ROUTE_FORWARD_ZONE);
	assert_string_equal(route_servers(t, r), "10.0.0.2");
	/* wg0's servers serve no route: not in the table either. */
	assert_int_equal(route_table_server_count(t), 3);
	route_table_free(t);
}

static void test_link_domain_label(void **state)
{
	struct route_link_input links[] = {
		link_in(3, "wg0", "10.8.0.1", "~corp.example", false),
		link_in(2, "eth0", "192.168.1.1", "lan", true),
	};
	struct route_input in = { .links = links, .n_links = 2 };
	struct route_table *t = table(&in);
	const struct route *r = lookup(t, "intranet.corp.example");
	assert_int_equal(r->kind, ROUTE_LINK);
	assert_string_equal(r->label, "link wg0 (~corp.example)");
	assert_string_equal(route_kind_names[r->kind], "link");
	assert_string_equal(lookup(t, "nas.lan")->label, "link eth0 (lan)");
	assert_string_equal(table_server(t, "10.8.0.1")->used_by, "link wg0");
	route_table_free(t);
}

static void test_forward_zone_wins_tie(void **state)
{
	struct route_zone_input zones[] = { zone("corp.example", "10.0.0.1") };
	/* Whatever the order the inputs come in, and search or route-only. */
	struct route_link_input links[] = {
		link_in(3, "wg0", "10.8.0.1", "corp.example", false),
		link_in(4, "tun0", "10.9.0.1", "~corp.example", false),
	};
	struct route_input in = { .zones = zones, .n_zones = 1, .links = links, .n_links = 2 };
	struct route_table *t = table(&in);
	const struct route *r = lookup(t, "host.corp.example");
	assert_int_equal(r->kind, ROUTE_FORWARD_ZONE);
	assert_string_equal(r->label, "forward-zone corp.example");
	assert_string_equal(route_servers(t, r), "10.0.0.1");
	assert_int_equal(route_table_domain_count(t), 1);
	route_table_free(t);

	/* Two forward-zone lines for one domain: the first one. */
	struct route_zone_input twice[] = { zone("corp.example", "10.0.0.1"), zone("~corp.example", "10.0.0.2") };
	struct route_input in2 = { .zones = twice, .n_zones = 2 };
	t = table(&in2);
	assert_string_equal(servers_for(t, "host.corp.example"), "10.0.0.1");
	route_table_free(t);
}

static void test_links_sharing_a_domain(void **state)
{
	struct route_link_input links[] = {
		link_in(3, "wg0", "10.8.0.1 10.8.0.2", "~corp.example", false),
		link_in(4, "tun0", "10.8.0.2 10.9.0.1", "corp.example", false),
		link_in(5, "tun1", "10.7.0.1", "~other.example", false),
	};
	struct route_input in = { .links = links, .n_links = 3 };
	struct route_table *t = table(&in);
	const struct route *r = lookup(t, "host.corp.example");
	assert_int_equal(r->kind, ROUTE_LINK);
	/* Both links' servers, in link order, each once. */
	assert_string_equal(route_servers(t, r), "10.8.0.1 10.8.0.2 10.9.0.1");
	assert_non_null(strstr(r->label, "2 links"));
	assert_non_null(strstr(r->label, "corp.example"));
	assert_string_equal(table_server(t, "10.8.0.2")->used_by, "link wg0, link tun0");
	assert_string_equal(servers_for(t, "a.other.example"), "10.7.0.1");
	assert_int_equal(route_table_domain_count(t), 2);
	route_table_free(t);
}

static void test_link_down_or_without_servers(void **state)
{
	size_t n;
	struct route_link_input links[] = {
		link_in(2, "eth0", "192.168.1.1", "lan", true),
		link_in(3, "wg0", "10.8.0.1", "~corp.example ~.", true),
		link_in(4, "tun0", "", "vpn.example", true),
	};
	links[1].up = false;
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .links = links, .n_links = 3 };
	in.n_global = n;
	struct route_table *t = table(&in);

	/* wg0 is down: its domains match nothing (not even "~.") and it is
	 * not in the default route; tun0 has no servers: the same. */
	assert_string_equal(servers_for(t, "host.corp.example"), "192.0.2.1 192.168.1.1");
	assert_string_equal(servers_for(t, "host.vpn.example"), "192.0.2.1 192.168.1.1");
	assert_int_equal(lookup(t, "www.example.com")->kind, ROUTE_DEFAULT);
	assert_string_equal(servers_for(t, "nas.lan"), "192.168.1.1");
	assert_int_equal(route_table_domain_count(t), 1);
	assert_int_equal(route_table_server_count(t), 2);
	route_table_free(t);
}

static void test_default_route(void **state)
{
	size_t n;
	struct route_link_input links[] = {
		link_in(2, "eth0", "192.168.1.1", "lan", true),
		link_in(3, "wg0", "10.8.0.1", "~corp.example", false),
		link_in(4, "wlan0", "192.168.2.1 192.168.1.1", "", true),
	};
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .links = links, .n_links = 3 };
	in.n_global = n;
	struct route_table *t = table(&in);
	const struct route *r = lookup(t, "www.example.com");
	assert_int_equal(r->kind, ROUTE_DEFAULT);
	/* Global first, then each default-route link, each server once. */
	assert_string_equal(route_servers(t, r), "192.0.2.1 192.168.1.1 192.168.2.1");
	assert_string_equal(r->label, "global + link eth0 + link wlan0");
	assert_null(strstr(r->label, "wg0"));
	route_table_free(t);

	/* No global servers: the default-route links alone. */
	struct route_input in2 = { .links = links, .n_links = 3 };
	t = table(&in2);
	assert_string_equal(servers_for(t, "www.example.com"), "192.168.1.1 192.168.2.1");
	route_table_free(t);
}

static void test_full_tunnel(void **state)
{
	size_t n;
	/* wg-quick with "DNS = 10.8.0.1" and AllowedIPs 0.0.0.0/0: resolvconf -x. */
	struct route_link_input links[] = {
		link_in(2, "eth0", "192.168.1.1", "lan", true),
		link_in(3, "wg0", "10.8.0.1", "~.", true),
	};
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .links = links, .n_links = 2 };
	in.n_global = n;
	struct route_table *t = table(&in);
	const struct route *r = lookup(t, "www.example.com");
	assert_int_equal(r->kind, ROUTE_LINK);
	assert_string_equal(r->label, "link wg0 (~.)");
	assert_string_equal(route_servers(t, r), "10.8.0.1");
	assert_ptr_equal(lookup(t, "com"), r);
	assert_ptr_equal(lookup(t, "."), r);
	/* The LAN's search domain is longer than the root: it still wins. */
	assert_string_equal(servers_for(t, "nas.lan"), "192.168.1.1");
	route_table_free(t);
}

static void test_reverse_names(void **state)
{
	size_t n;
	struct route_link_input links[] = {
		link_in(2, "eth0", "192.168.1.1", "~168.192.in-addr.arpa lan", false),
	};
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .links = links, .n_links = 1 };
	in.n_global = n;
	struct route_table *t = table(&in);
	assert_string_equal(servers_for(t, "7.1.168.192.in-addr.arpa"), "192.168.1.1");
	assert_string_equal(servers_for(t, "168.192.in-addr.arpa"), "192.168.1.1");
	assert_string_equal(servers_for(t, "7.1.0.10.in-addr.arpa"), "192.0.2.1");
	assert_string_equal(servers_for(t, "7.1.168.193.in-addr.arpa"), "192.0.2.1");
	route_table_free(t);
}

static void test_no_server_for_a_name(void **state)
{
	struct route_link_input links[] = {
		link_in(3, "wg0", "10.8.0.1", "~corp.example", false),
	};
	struct route_input in = { .links = links, .n_links = 1 };
	struct route_table *t = table(&in);
	const struct route *r = lookup(t, "www.example.com");
	assert_int_equal(r->kind, ROUTE_DEFAULT);
	assert_int_equal(r->n_servers, 0);
	assert_true(r->label[0] != '\0');
	route_table_free(t);

	/* Nothing at all. */
	struct route_input none = { 0 };
	t = table(&none);
	r = lookup(t, "www.example.com");
	assert_int_equal(r->n_servers, 0);
	assert_int_equal(route_table_server_count(t), 0);
	route_table_free(t);
}

static void test_lookup_ignores_case(void **state)
{
	struct route_zone_input zones[] = { zone("corp.example", "10.0.0.1") };
	struct route_link_input links[] = { link_in(3, "wg0", "10.8.0.1", "~VPN.Example", false) };
	struct route_input in = { .zones = zones, .n_zones = 1, .links = links, .n_links = 1 };
	struct route_table *t = table(&in);
	assert_string_equal(servers_for(t, "WWW.CoRp.ExAmple"), "10.0.0.1");
	assert_string_equal(servers_for(t, "CORP.EXAMPLE"), "10.0.0.1");
	assert_string_equal(servers_for(t, "host.vpn.example"), "10.8.0.1");
	route_table_free(t);
}

static void test_malformed_name_gets_default(void **state)
{
	struct route_zone_input zones[] = { zone("corp.example", "10.0.0.1") };
	struct route_input in = { .zones = zones, .n_zones = 1 };
	struct route_table *t = table(&in);
	/* A label that runs past the length: no read past it, no match. */
	uint8_t name[] = { 9, 'x', 'y' };
	assert_ptr_equal(route_lookup(t, name, sizeof(name)), route_table_default(t));
	assert_ptr_equal(route_lookup(t, name, 0), route_table_default(t));
	route_table_free(t);
}

static void test_servers_shared_between_routes(void **state)
{
	size_t n;
	struct route_zone_input zones[] = { zone("example", "10.0.0.9") };
	struct route_link_input links[] = {
		link_in(3, "eth10", "192.0.2.1 10.0.0.9", "~ten.example", false),
		link_in(4, "eth1", "10.0.0.9", "~one.example", false),
		link_in(5, "wg0", "192.0.2.1", "~corp.example", false),
	};
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .zones = zones, .n_zones = 1,
				  .links = links, .n_links = 3 };
	in.n_global = n;
	struct route_table *t = table(&in);
	/* One server of the table each, whoever asks it. */
	assert_int_equal(route_table_server_count(t), 2);
	assert_string_equal(table_server(t, "192.0.2.1")->used_by, "global, link eth10, link wg0");
	/* "link eth1" is not "link eth10". */
	assert_string_equal(table_server(t, "10.0.0.9")->used_by,
			    "forward-zone example, link eth10, link eth1");
	const struct route *a = lookup(t, "www.example.com");
	const struct route *b = lookup(t, "host.corp.example");
	assert_int_equal(a->n_servers, 1);
	assert_int_equal(b->n_servers, 1);
	assert_int_equal(a->servers[0], b->servers[0]);
	route_table_free(t);
}

/* dns-over-tls is the server's source's: the global setting for global
 * and forward-zone servers, a link's own for its servers. The same
 * address asked two ways is two servers of the table (two connections,
 * two records in the policy). */
static void test_tls_mode_stamped_by_source(void **state)
{
	size_t n;
	struct route_zone_input zones[] = { zone("example", "10.0.0.9") };
	struct route_link_input links[] = {
		link_in(3, "wg0", "192.0.2.1", "~corp.example", false),
		link_in(4, "eth0", "192.0.2.7#dns.example", "~lan.example", false),
	};
	links[0].tls = ROUTE_TLS_NO;
	links[1].tls = ROUTE_TLS_OPPORTUNISTIC;
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .zones = zones, .n_zones = 1,
				  .links = links, .n_links = 2, .global_tls = ROUTE_TLS_YES };
	in.n_global = n;
	struct route_table *t = table(&in);
	assert_int_equal(route_table_server_count(t), 4);
	const struct route *def = lookup(t, "www.example.com");
	const struct route *corp = lookup(t, "host.corp.example");
	const struct route *zone_route = lookup(t, "host.example");
	const struct route *lan = lookup(t, "nas.lan.example");
	assert_int_not_equal(def->servers[0], corp->servers[0]);
	assert_int_equal(route_table_server(t, def->servers[0])->server.tls, ROUTE_TLS_YES);
	assert_int_equal(route_table_server(t, corp->servers[0])->server.tls, ROUTE_TLS_NO);
	assert_int_equal(route_table_server(t, zone_route->servers[0])->server.tls, ROUTE_TLS_YES);
	assert_int_equal(route_table_server(t, lan->servers[0])->server.tls, ROUTE_TLS_OPPORTUNISTIC);
	assert_string_equal(route_table_server(t, def->servers[0])->used_by, "global");
	route_table_free(t);
}

/* RFC 7858 §3.1: TLS goes to 853 unless the server names a port, which
 * then carries TLS too. */
static void test_tls_port(void **state)
{
	struct route_server plain = parse_server("192.0.2.1#dns.example", 0);
	struct route_server given = parse_server("192.0.2.1:53#dns.example", 0);
	struct route_server high = parse_server("[2001:db8::1]:8853", 0);
	assert_false(plain.port_given);
	assert_true(given.port_given);
	assert_int_equal(netaddr_port(&plain.addr), 53);
	struct netaddr a = route_server_tls_addr(&plain);
	assert_int_equal(netaddr_port(&a), ROUTE_TLS_PORT);
	a = route_server_tls_addr(&given);
	assert_int_equal(netaddr_port(&a), 53);
	a = route_server_tls_addr(&high);
	assert_int_equal(netaddr_port(&a), 8853);
	/* Each parses back from its text form as it was. */
	char text[ROUTE_NAME_TEXT_MAX + NETADDR_STRLEN];
	assert_string_equal(route_server_str(&given, text, sizeof(text)), "192.0.2.1:53#dns.example");
	assert_string_equal(route_server_str(&plain, text, sizeof(text)), "192.0.2.1#dns.example");
	struct route_server again = parse_server(route_server_str(&given, text, sizeof(text)), 0);
	assert_true(again.port_given);
	/* Plain DNS cannot tell them apart; TLS can. */
	assert_true(route_server_equal(&plain, &given));
	plain.tls = given.tls = ROUTE_TLS_YES;
	assert_false(route_server_equal(&plain, &given));
	given.port_given = false;
	assert_true(route_server_equal(&plain, &given));
	given.tls = ROUTE_TLS_OPPORTUNISTIC;
	assert_false(route_server_equal(&plain, &given));
}

static void test_used_by_too_long_ends_in_ellipsis(void **state)
{
	char names[20][16];
	struct route_link_input links[20];
	for (size_t i = 0; i < 20; i++) {
		snprintf(names[i], sizeof(names[i]), "ethernet%zu", i);
		links[i] = link_in((unsigned)(i + 2), names[i], "192.0.2.1", "", true);
	}
	struct route_input in = { .links = links, .n_links = 20 };
	struct route_table *t = table(&in);
	const char *used_by = table_server(t, "192.0.2.1")->used_by;
	assert_true(strlen(used_by) < ROUTE_LABEL_MAX);
	assert_int_equal(strncmp(used_by, "link ethernet0, link ethernet1", 30), 0);
	assert_string_equal(used_by + strlen(used_by) - 3, "...");
	const char *label = route_table_default(t)->label;
	assert_string_equal(label + strlen(label) - 3, "...");
	route_table_free(t);
}

static void test_route_server_cap(void **state)
{
	char list[2048] = "";
	char one[32];
	for (int i = 1; i <= ROUTE_MAX_SERVERS + 8; i++) {
		snprintf(one, sizeof(one), "%s192.0.2.%d", i > 1 ? " " : "", i);
		strcat(list, one);
	}
	size_t n;
	struct route_input in = { .global = servers(list, 0, &n) };
	in.n_global = n;
	assert_int_equal(n, ROUTE_MAX_SERVERS + 8);
	struct route_table *t = table(&in);
	const struct route *r = route_table_default(t);
	assert_int_equal(r->n_servers, ROUTE_MAX_SERVERS);
	/* The first ones, in order. */
	for (size_t i = 0; i < r->n_servers; i++) {
		char want[32], got[64];
		snprintf(want, sizeof(want), "192.0.2.%zu", i + 1);
		route_server_str(&route_table_server(t, r->servers[i])->server, got, sizeof(got));
		assert_string_equal(got, want);
	}
	/* Those left out are asked by no route: status must not list them. */
	assert_int_equal(route_table_server_count(t), ROUTE_MAX_SERVERS);
	route_table_free(t);

	/* Links sharing a domain, 20 servers each. */
	char a[1024] = "", b[1024] = "";
	for (int i = 1; i <= 20; i++) {
		snprintf(one, sizeof(one), "%s10.1.0.%d", i > 1 ? " " : "", i);
		strcat(a, one);
		snprintf(one, sizeof(one), "%s10.2.0.%d", i > 1 ? " " : "", i);
		strcat(b, one);
	}
	struct route_link_input links[] = {
		link_in(3, "wg0", a, "~corp.example", false),
		link_in(4, "wg1", b, "~corp.example", false),
	};
	struct route_input in2 = { .links = links, .n_links = 2 };
	t = table(&in2);
	r = lookup(t, "host.corp.example");
	assert_int_equal(r->n_servers, ROUTE_MAX_SERVERS);
	assert_string_equal(route_table_server(t, r->servers[20])->used_by, "link wg1");
	route_table_free(t);
}

/* ---- diff --------------------------------------------------------------- */

struct changes {
	char text[32][300];
	size_t n;
};

static void record_change(void *arg, const uint8_t *domain, size_t len, bool all)
{
	struct changes *c = arg;
	assert_true(c->n < 32);
	if (all) {
		assert_int_equal(len, 1);
		assert_int_equal(domain[0], 0);
		snprintf(c->text[c->n++], sizeof(c->text[0]), "(all)");
		return;
	}
	/* The name only: a search and a "~" domain are one for the cache. */
	struct route_domain d = { .len = (uint8_t)len };
	memcpy(d.wire, domain, len);
	route_domain_str(&d, c->text[c->n++], sizeof(c->text[0]));
}

static bool changed(const struct changes *c, const char *text)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->text[i], text) == 0)
			return true;
	return false;
}

/* The two tables a scenario compares, built from what it changed. */
struct world {
	struct route_server global[4];
	size_t n_global;
	struct route_zone_input zones[4];
	size_t n_zones;
	struct route_link_input links[4];
	size_t n_links;
};

static struct route_table *world_table(const struct world *w)
{
	struct route_input in = {
		.global = w->global, .n_global = w->n_global,
		.zones = w->zones, .n_zones = w->n_zones,
		.links = w->links, .n_links = w->n_links,
	};
	return table(&in);
}

static struct world base_world(void)
{
	struct world w = { .n_global = 1, .n_zones = 1, .n_links = 2 };
	w.global[0] = parse_server("192.0.2.1", 0);
	w.zones[0] = zone("corp.example", "10.0.0.1");
	w.links[0] = link_in(2, "eth0", "192.168.1.1", "lan", true);
	w.links[1] = link_in(3, "wg0", "10.8.0.1", "~vpn.example ~10.in-addr.arpa", false);
	return w;
}

static struct changes diff(const struct world *before, const struct world *after)
{
	struct changes c = { .n = 0 };
	struct route_table *a = world_table(before), *b = world_table(after);
	route_table_diff(a, b, record_change, &c);
	route_table_free(a);
	route_table_free(b);
	return c;
}

static void test_diff(void **state)
{
	struct world old = base_world();
	struct world w;
	struct changes c;

	/* The same inputs again: nothing to tell. */
	w = base_world();
	c = diff(&old, &w);
	assert_int_equal(c.n, 0);

	/* wg0's servers changed: each of its domains, and nothing else. */
	w = base_world();
	w.links[1].servers = servers("10.8.0.2", 3, &w.links[1].n_servers);
	c = diff(&old, &w);
	assert_int_equal(c.n, 2);
	assert_true(changed(&c, "vpn.example"));
	assert_true(changed(&c, "10.in-addr.arpa"));

	/* A domain added, and one removed. */
	w = base_world();
	w.links[1].domains = domains("~vpn.example ~new.example", &w.links[1].n_domains);
	c = diff(&old, &w);
	assert_int_equal(c.n, 2);
	assert_true(changed(&c, "new.example"));
	assert_true(changed(&c, "10.in-addr.arpa"));

	/* wg0 goes down: its domains go. */
	w = base_world();
	w.links[1].up = false;
	c = diff(&old, &w);
	assert_int_equal(c.n, 2);
	assert_true(changed(&c, "vpn.example"));
	assert_true(changed(&c, "10.in-addr.arpa"));

	/* The global servers changed: one call for every name. */
	w = base_world();
	w.global[0] = parse_server("192.0.2.2", 0);
	c = diff(&old, &w);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.text[0], "(all)");

	/* eth0 stops being a default route: the default route changed, and
	 * its own domain did not. */
	w = base_world();
	w.links[0].default_route = false;
	c = diff(&old, &w);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.text[0], "(all)");

	/* A new forward-zone takes the first indices after the default
	 * route's: every other server moves in the table, but no route other
	 * than the new one asks anyone else. */
	w = base_world();
	w.zones[0] = zone("new.example", "10.0.0.7 10.0.0.8");
	w.zones[1] = zone("corp.example", "10.0.0.1");
	w.n_zones = 2;
	struct route_table *a = world_table(&old), *b = world_table(&w);
	const struct route *ra = lookup(a, "x.vpn.example"), *rb = lookup(b, "x.vpn.example");
	assert_int_not_equal(ra->servers[0], rb->servers[0]);
	c.n = 0;
	route_table_diff(a, b, record_change, &c);
	assert_int_equal(c.n, 1);
	assert_string_equal(c.text[0], "new.example");
	route_table_free(a);
	route_table_free(b);

	/* Nothing to something, and back. */
	struct world empty = { 0 };
	c = diff(&empty, &old);
	assert_true(changed(&c, "(all)"));
	assert_true(changed(&c, "corp.example"));
	assert_true(changed(&c, "lan"));
	assert_true(changed(&c, "vpn.example"));
	assert_int_equal(c.n, 5);
	c = diff(&old, &empty);
	assert_int_equal(c.n, 5);
}

/* ---- scale -------------------------------------------------------------- */

static void test_large_table(void **state)
{
	enum { LINKS = 50, DOMAINS = 4, ZONES = 20 };
	static char names[LINKS][16];
	static char text[LINKS][256];
	struct route_link_input links[LINKS];
	struct route_zone_input zones[ZONES];
	char srv[64], dom[64];

	for (int i = 0; i < LINKS; i++) {
		snprintf(names[i], sizeof(names[i]), "tun%d", i);
		snprintf(srv, sizeof(srv), "10.%d.0.1 10.%d.0.2", i, i);
		snprintf(text[i], sizeof(text[i]), "~d0.l%d.example ~d1.l%d.example l%d.corp d3.l%d.example", i,
			 i, i, i);
		links[i] = link_in((unsigned)(i + 10), names[i], srv, text[i], i % 10 == 0);
	}
	for (int i = 0; i < ZONES; i++) {
		snprintf(dom, sizeof(dom), "z%d.zone.example", i);
		snprintf(srv, sizeof(srv), "172.16.%d.1", i);
		zones[i] = zone(dom, srv);
	}
	size_t n;
	struct route_input in = { .global = servers("192.0.2.1", 0, &n), .zones = zones, .n_zones = ZONES,
				  .links = links, .n_links = LINKS };
	in.n_global = n;
	struct route_table *t = table(&in);
	assert_int_equal(route_table_domain_count(t), LINKS * DOMAINS + ZONES);

	assert_string_equal(servers_for(t, "host.d0.l0.example"), "10.0.0.1 10.0.0.2");
	assert_string_equal(servers_for(t, "a.b.d1.l17.example"), "10.17.0.1 10.17.0.2");
	assert_string_equal(servers_for(t, "x.l49.corp"), "10.49.0.1 10.49.0.2");
	assert_string_equal(lookup(t, "x.l49.corp")->label, "link tun49 (l49.corp)");
	assert_string_equal(servers_for(t, "d3.l33.example"), "10.33.0.1 10.33.0.2");
	assert_string_equal(servers_for(t, "www.z19.zone.example"), "172.16.19.1");
	assert_string_equal(servers_for(t, "z7.zone.example"), "172.16.7.1");
	/* Near misses fall to the default route: global and tun0, tun10, ... */
	assert_string_equal(servers_for(t, "d2.l5.example"),
			    "192.0.2.1 10.0.0.1 10.0.0.2 10.10.0.1 10.10.0.2 10.20.0.1 10.20.0.2 "
			    "10.30.0.1 10.30.0.2 10.40.0.1 10.40.0.2");
	assert_int_equal(lookup(t, "z20.zone.example")->kind, ROUTE_DEFAULT);
	assert_int_equal(lookup(t, "l50.corp")->kind, ROUTE_DEFAULT);

	/* Lookup is on the miss path of every query: no allocation. */
	uint8_t names_wire[4][WIRE_NAME_MAX];
	size_t lens[4] = {
		to_wire("a.very.deep.name.under.d1.l42.example", names_wire[0]),
		to_wire("www.z3.zone.example", names_wire[1]),
		to_wire("nowhere.invalid", names_wire[2]),
		to_wire(".", names_wire[3]),
	};
	unsigned long before = allocations;
	for (int i = 0; i < 1000; i++)
		assert_non_null(route_lookup(t, names_wire[i % 4], lens[i % 4]));
	assert_int_equal(allocations, before);
	route_table_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_parse_forms),
		cmocka_unit_test(test_server_parse_link_local),
		cmocka_unit_test(test_server_parse_rejects),
		cmocka_unit_test(test_server_str_round_trips),
		cmocka_unit_test(test_domain_parse_forms),
		cmocka_unit_test(test_domain_parse_rejects),
		cmocka_unit_test_setup(test_global_only, reset),
		cmocka_unit_test_setup(test_forward_zone, reset),
		cmocka_unit_test_setup(test_longest_match_wins, reset),
		cmocka_unit_test_setup(test_link_domain_label, reset),
		cmocka_unit_test_setup(test_forward_zone_wins_tie, reset),
		cmocka_unit_test_setup(test_links_sharing_a_domain, reset),
		cmocka_unit_test_setup(test_link_down_or_without_servers, reset),
		cmocka_unit_test_setup(test_default_route, reset),
		cmocka_unit_test_setup(test_full_tunnel, reset),
		cmocka_unit_test_setup(test_reverse_names, reset),
		cmocka_unit_test_setup(test_no_server_for_a_name, reset),
		cmocka_unit_test_setup(test_lookup_ignores_case, reset),
		cmocka_unit_test_setup(test_malformed_name_gets_default, reset),
		cmocka_unit_test_setup(test_servers_shared_between_routes, reset),
		cmocka_unit_test_setup(test_tls_mode_stamped_by_source, reset),
		cmocka_unit_test(test_tls_port),
		cmocka_unit_test_setup(test_used_by_too_long_ends_in_ellipsis, reset),
		cmocka_unit_test_setup(test_route_server_cap, reset),
		cmocka_unit_test_setup(test_diff, reset),
		cmocka_unit_test_setup(test_large_table, reset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
