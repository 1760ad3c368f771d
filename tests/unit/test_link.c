/* test_link.c - scenarios for the link registry: what the kernel says,
 * what each front end (stubctl, networkd, resolvconf records) sets, how
 * they merge, the caps, and the state file kept across a restart. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>

#include <cmocka.h>

#include "stubd/link.h"
#include "stubd/route.h"

/* link.c's cap on resolvconf records per link, which link.h does not
 * export: the test finds it by filling a link, and checks it is this. */
#define RECORDS_PER_LINK 32

/* ---- helpers ------------------------------------------------------------ */

static const struct link_limits roomy = { .max_links = 64, .max_servers = 16, .max_domains = 16 };

static struct link_registry *registry(const struct link_limits *limits)
{
	struct link_registry *r = link_registry_new(limits ? limits : &roomy);
	assert_non_null(r);
	return r;
}

/* Settings as a front end would hand them over: servers and domains as
 * space-separated text; NULL leaves the field unset, "" sets it to none. */
static struct link_settings settings(unsigned ifindex, const char *server_list, const char *domain_list)
{
	struct link_settings s;
	char copy[4096], why[256], *save = NULL;
	link_settings_init(&s);
	if (server_list) {
		s.has_servers = true;
		s.servers = calloc(64, sizeof(s.servers[0]));
		assert_non_null(s.servers);
		snprintf(copy, sizeof(copy), "%s", server_list);
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
			assert_true(s.n_servers < 64);
			if (route_server_parse(w, ifindex, &s.servers[s.n_servers++], why, sizeof(why)) < 0)
				fail_msg("%s: %s", w, why);
		}
	}
	if (domain_list) {
		s.has_domains = true;
		size_t words = 1;
		for (const char *c = domain_list; *c; c++)
			words += *c == ' ';
		s.domains = calloc(words, sizeof(s.domains[0]));
		assert_non_null(s.domains);
		snprintf(copy, sizeof(copy), "%s", domain_list);
		save = NULL;
		for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save))
			if (route_domain_parse(w, &s.domains[s.n_domains++], why, sizeof(why)) < 0)
				fail_msg("%s: %s", w, why);
	}
	return s;
}

static void set_ok(struct link_registry *r, unsigned ifindex, enum link_source source,
		   const char *record, struct link_settings s)
{
	char why[256] = "";
	int rc = link_set(r, ifindex, source, record, &s, why, sizeof(why));
	if (rc != 0)
		fail_msg("link_set(%u, %s, %s) gave %d: %s", ifindex, link_source_names[source],
			 record ? record : "-", rc, why);
	assert_false(s.has_servers);
	assert_null(s.servers);
	link_settings_clear(&s);
}

static void manual_fields_ok(struct link_registry *r, unsigned ifindex, struct link_settings s)
{
	char why[256] = "";
	int rc = link_set_manual_fields(r, ifindex, LINK_SOURCE_MANUAL, &s, why, sizeof(why));
	if (rc != 0)
		fail_msg("link_set_manual_fields(%u) gave %d: %s", ifindex, rc, why);
	link_settings_clear(&s);
}

static const char *servers_text(const struct link_settings *s)
{
	static char out[4096];
	char one[512];
	out[0] = '\0';
	for (size_t i = 0; i < s->n_servers; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, route_server_str(&s->servers[i], one, sizeof(one)));
	}
	return out;
}

static const char *domains_text(const struct link_settings *s)
{
	static char out[4096];
	char one[300];
	out[0] = '\0';
	for (size_t i = 0; i < s->n_domains; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, route_domain_str(&s->domains[i], one, sizeof(one)));
	}
	return out;
}

static const struct link *get(const struct link_registry *r, unsigned ifindex)
{
	const struct link *l = link_by_index(r, ifindex);
	assert_non_null(l);
	return l;
}

static const struct link_settings *effective(const struct link_registry *r, unsigned ifindex)
{
	return link_effective(get(r, ifindex));
}

/* Every front end's settings of a link, one line each, as a test can
 * compare them: "resolvconf:eth0.dhclient servers=... domains=...". */
struct dump {
	char text[8192];
	size_t calls;
	bool skip_networkd;
};

static void dump_source(void *arg, enum link_source source, const char *record,
			const struct link_settings *s)
{
	struct dump *d = arg;
	char line[2048];
	d->calls++;
	if (d->skip_networkd && source == LINK_SOURCE_NETWORKD)
		return;
	size_t n = (size_t)snprintf(line, sizeof(line), "%s%s%s", link_source_names[source],
				    record ? ":" : "", record ? record : "");
	if (s->has_servers)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " servers=[%s]", servers_text(s));
	if (s->has_domains)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " domains=[%s]", domains_text(s));
	if (s->default_route >= 0)
		n += (size_t)snprintf(line + n, sizeof(line) - n, " default-route=%d", s->default_route);
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		if (s->modes[f] != LINK_MODE_UNSET)
			n += (size_t)snprintf(line + n, sizeof(line) - n, " %s=%s", link_feature_names[f],
					      link_mode_names[s->modes[f]]);
	assert_true(strlen(d->text) + n + 2 < sizeof(d->text));
	strcat(d->text, line);
	strcat(d->text, "\n");
}

static struct dump sources(const struct link_registry *r, unsigned ifindex, bool skip_networkd)
{
	struct dump d = { .skip_networkd = skip_networkd };
	link_each_source(get(r, ifindex), dump_source, &d);
	return d;
}

/* stderr, where log.c writes when not under the journal, into buf. */
struct capture {
	FILE *file;
	int saved;
};

static struct capture capture_begin(void)
{
	struct capture c;
	fflush(stderr);
	c.file = tmpfile();
	assert_non_null(c.file);
	c.saved = dup(STDERR_FILENO);
	assert_true(c.saved >= 0);
	assert_true(dup2(fileno(c.file), STDERR_FILENO) >= 0);
	return c;
}

static char *capture_end(struct capture *c)
{
	fflush(stderr);
	dup2(c->saved, STDERR_FILENO);
	close(c->saved);
	long len = ftell(c->file);
	assert_true(len >= 0);
	char *text = calloc(1, (size_t)len + 1);
	assert_non_null(text);
	rewind(c->file);
	assert_int_equal(fread(text, 1, (size_t)len, c->file), (size_t)len);
	fclose(c->file);
	return text;
}

static size_t count_of(const char *text, const char *part)
{
	size_t n = 0;
	for (const char *p = text; (p = strstr(p, part)) != NULL; p++)
		n++;
	return n;
}

/* ---- modes -------------------------------------------------------------- */

static void test_mode_parse(void **state)
{
	static const struct {
		enum link_feature feature;
		const char *text;
		int rc;
		enum link_mode mode;
	} cases[] = {
		{ LINK_FEATURE_DNS_OVER_TLS, "yes", 0, LINK_MODE_YES },
		{ LINK_FEATURE_DNS_OVER_TLS, "no", 0, LINK_MODE_NO },
		{ LINK_FEATURE_DNS_OVER_TLS, "opportunistic", 0, LINK_MODE_OPPORTUNISTIC },
		{ LINK_FEATURE_DNS_OVER_TLS, "allow-downgrade", -EINVAL, 0 },
		{ LINK_FEATURE_DNS_OVER_TLS, "resolve", -EINVAL, 0 },
		{ LINK_FEATURE_DNSSEC, "allow-downgrade", 0, LINK_MODE_ALLOW_DOWNGRADE },
		{ LINK_FEATURE_DNSSEC, "opportunistic", -EINVAL, 0 },
		{ LINK_FEATURE_DNSSEC, "resolve", -EINVAL, 0 },
		{ LINK_FEATURE_DNSSEC, "yes", 0, LINK_MODE_YES },
		{ LINK_FEATURE_LLMNR, "resolve", 0, LINK_MODE_RESOLVE },
		{ LINK_FEATURE_LLMNR, "opportunistic", -EINVAL, 0 },
		{ LINK_FEATURE_LLMNR, "allow-downgrade", -EINVAL, 0 },
		{ LINK_FEATURE_MDNS, "resolve", 0, LINK_MODE_RESOLVE },
		{ LINK_FEATURE_MDNS, "opportunistic", -EINVAL, 0 },
		{ LINK_FEATURE_MDNS, "no", 0, LINK_MODE_NO },
		/* As networkd writes them. */
		{ LINK_FEATURE_MDNS, "true", 0, LINK_MODE_YES },
		{ LINK_FEATURE_LLMNR, "false", 0, LINK_MODE_NO },
		{ LINK_FEATURE_DNSSEC, "1", 0, LINK_MODE_YES },
		{ LINK_FEATURE_DNS_OVER_TLS, "0", 0, LINK_MODE_NO },
		/* "" on D-Bus: the front end says nothing. */
		{ LINK_FEATURE_DNS_OVER_TLS, "", 0, LINK_MODE_UNSET },
		{ LINK_FEATURE_MDNS, "", 0, LINK_MODE_UNSET },
		{ LINK_FEATURE_DNSSEC, "maybe", -EINVAL, 0 },
		{ LINK_FEATURE_DNSSEC, "yes ", -EINVAL, 0 },
		{ LINK_FEATURE_DNSSEC, "2", -EINVAL, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum link_mode m = LINK_MODE_COUNT_;
		int rc = link_mode_parse(cases[i].feature, cases[i].text, &m);
		if (rc != cases[i].rc)
			fail_msg("%s '%s': %d, expected %d", link_feature_names[cases[i].feature], cases[i].text,
				 rc, cases[i].rc);
		if (rc == 0 && m != cases[i].mode)
			fail_msg("%s '%s': mode %d, expected %d", link_feature_names[cases[i].feature],
				 cases[i].text, m, cases[i].mode);
	}
	enum link_mode m;
	assert_int_equal(link_mode_parse(LINK_FEATURE_COUNT_, "yes", &m), -EINVAL);
	assert_int_equal(link_mode_parse(LINK_FEATURE_DNSSEC, NULL, &m), -EINVAL);

	assert_string_equal(link_mode_names[LINK_MODE_UNSET], "");
	assert_string_equal(link_mode_names[LINK_MODE_ALLOW_DOWNGRADE], "allow-downgrade");
	assert_string_equal(link_feature_names[LINK_FEATURE_DNS_OVER_TLS], "dns-over-tls");
	assert_string_equal(link_source_names[LINK_SOURCE_MANUAL], "stubctl");
	assert_string_equal(link_source_names[LINK_SOURCE_RESOLVCONF], "resolvconf");
}

/* ---- the kernel's view -------------------------------------------------- */

static void test_kernel_updates(void **state)
{
	struct link_registry *r = registry(NULL);
	unsigned long g = link_registry_generation(r);

	link_kernel_update(r, 5, "eth1", true);
	assert_true(link_registry_generation(r) > g);
	link_kernel_update(r, 9, "wg0", true);
	link_kernel_update(r, 2, "eth0", false);
	assert_int_equal(link_count(r), 3);
	/* In index order, whatever order they came in. */
	assert_int_equal(link_ifindex(link_at(r, 0)), 2);
	assert_int_equal(link_ifindex(link_at(r, 1)), 5);
	assert_int_equal(link_ifindex(link_at(r, 2)), 9);
	assert_null(link_at(r, 3));
	assert_string_equal(link_name(get(r, 9)), "wg0");
	assert_false(link_up(get(r, 2)));
	assert_true(link_up(get(r, 5)));
	assert_null(link_by_index(r, 3));
	assert_int_equal(link_index_by_name(r, "eth0"), 2);
	assert_int_equal(link_index_by_name(r, "nosuch0"), 0);

	/* Nothing new: no rebuild. */
	g = link_registry_generation(r);
	link_kernel_update(r, 5, "eth1", true);
	assert_int_equal(link_registry_generation(r), g);

	/* Renamed. */
	link_kernel_update(r, 5, "lan0", true);
	assert_true(link_registry_generation(r) > g);
	assert_int_equal(link_index_by_name(r, "lan0"), 5);
	assert_int_equal(link_index_by_name(r, "eth1"), 0);

	/* Down, and up again. */
	g = link_registry_generation(r);
	link_kernel_update(r, 5, "lan0", false);
	assert_true(link_registry_generation(r) > g);
	assert_false(link_up(get(r, 5)));
	g = link_registry_generation(r);
	link_kernel_update(r, 5, "lan0", true);
	assert_true(link_registry_generation(r) > g);

	/* Gone: every setting of it goes, and comes not back with the index. */
	set_ok(r, 9, LINK_SOURCE_MANUAL, NULL, settings(9, "10.8.0.1", "~corp.example"));
	set_ok(r, 9, LINK_SOURCE_NETWORKD, NULL, settings(9, "10.8.0.2", NULL));
	set_ok(r, 9, LINK_SOURCE_RESOLVCONF, "tun.wg0", settings(9, "10.8.0.3", NULL));
	g = link_registry_generation(r);
	link_kernel_remove(r, 9);
	assert_true(link_registry_generation(r) > g);
	assert_null(link_by_index(r, 9));
	assert_int_equal(link_count(r), 2);
	assert_int_equal(link_index_by_name(r, "wg0"), 0);
	assert_int_equal(link_drop_record(r, "tun.wg0"), -ENOENT);
	link_kernel_update(r, 9, "wg0", true);
	assert_int_equal(sources(r, 9, false).calls, 0);
	assert_int_equal(effective(r, 9)->n_servers, 0);
	assert_false(effective(r, 9)->has_servers);

	/* Removing what is not there changes nothing. */
	g = link_registry_generation(r);
	link_kernel_remove(r, 77);
	assert_int_equal(link_registry_generation(r), g);
	link_registry_free(r);
	link_registry_free(NULL);
}

/* ---- front ends --------------------------------------------------------- */

static void test_set_each_source(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	char why[256];

	unsigned long g = link_registry_generation(r);
	set_ok(r, 2, LINK_SOURCE_NETWORKD, NULL, settings(2, "10.0.0.1", "lan"));
	assert_true(link_registry_generation(r) > g);
	assert_string_equal(servers_text(effective(r, 2)), "10.0.0.1");
	set_ok(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.dhclient", settings(2, "10.0.0.2", NULL));
	assert_string_equal(servers_text(effective(r, 2)), "10.0.0.1 10.0.0.2");
	set_ok(r, 2, LINK_SOURCE_MANUAL, NULL, settings(2, "192.0.2.1", NULL));
	assert_string_equal(servers_text(effective(r, 2)), "192.0.2.1");
	assert_string_equal(domains_text(effective(r, 2)), "lan");
	struct dump d = sources(r, 2, false);
	assert_int_equal(d.calls, 3);
	assert_string_equal(d.text, "stubctl servers=[192.0.2.1]\n"
				    "networkd servers=[10.0.0.1] domains=[lan]\n"
				    "resolvconf:eth0.dhclient servers=[10.0.0.2]\n");

	/* A whole set replaces the source's settings: the manual domains
	 * set before are gone when the next set leaves them out. */
	set_ok(r, 2, LINK_SOURCE_MANUAL, NULL, settings(2, NULL, "~corp.example"));
	assert_string_equal(servers_text(effective(r, 2)), "10.0.0.1 10.0.0.2");
	assert_string_equal(domains_text(effective(r, 2)), "~corp.example");

	/* No such interface: -ENODEV, nothing changes, s is still the caller's. */
	g = link_registry_generation(r);
	struct link_settings s = settings(99, "192.0.2.9", "x.example");
	struct route_server *kept = s.servers;
	why[0] = '\0';
	assert_int_equal(link_set(r, 99, LINK_SOURCE_MANUAL, NULL, &s, why, sizeof(why)), -ENODEV);
	assert_non_null(strstr(why, "99"));
	assert_int_equal(link_set(r, 99, LINK_SOURCE_RESOLVCONF, "x", &s, NULL, 0), -ENODEV);
	assert_int_equal(link_set_manual_fields(r, 99, LINK_SOURCE_MANUAL, &s, why, sizeof(why)), -ENODEV);
	assert_true(s.has_servers);
	assert_ptr_equal(s.servers, kept);
	assert_int_equal(s.n_servers, 1);
	assert_int_equal(s.n_domains, 1);
	assert_int_equal(link_registry_generation(r), g);
	assert_int_equal(link_count(r), 1);

	/* A resolvconf record needs a name the state file can hold. */
	char long_name[80];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	const char *bad_records[] = { NULL, "", "eth0 dhclient", "eth0.dhcp\n", long_name };
	for (size_t i = 0; i < sizeof(bad_records) / sizeof(bad_records[0]); i++) {
		why[0] = '\0';
		assert_int_equal(link_set(r, 2, LINK_SOURCE_RESOLVCONF, bad_records[i], &s, why, sizeof(why)),
				 -EINVAL);
		assert_true(why[0] != '\0');
		assert_ptr_equal(s.servers, kept);
	}
	assert_int_equal(link_registry_generation(r), g);
	assert_int_equal(sources(r, 2, false).calls, 3);
	link_settings_clear(&s);

	/* Settings that say nothing still make a record (resolvconf -a
	 * with nothing on stdin), which counts as a source. */
	set_ok(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.empty", settings(2, NULL, NULL));
	assert_int_equal(sources(r, 2, false).calls, 4);
	link_registry_free(r);
}

static void test_manual_fields(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 3, "wg0", true);

	/* stubctl dns, then stubctl domain, then default-route: each keeps
	 * what the others set. */
	manual_fields_ok(r, 3, settings(3, "10.8.0.1 10.8.0.2", NULL));
	manual_fields_ok(r, 3, settings(3, NULL, "~corp.example"));
	struct link_settings s;
	link_settings_init(&s);
	s.default_route = 0;
	s.modes[LINK_FEATURE_DNSSEC] = LINK_MODE_ALLOW_DOWNGRADE;
	manual_fields_ok(r, 3, s);
	assert_string_equal(sources(r, 3, false).text, "stubctl servers=[10.8.0.1 10.8.0.2] "
						      "domains=[~corp.example] default-route=0 "
						      "dnssec=allow-downgrade\n");
	/* stubctl dns again replaces the servers only. */
	manual_fields_ok(r, 3, settings(3, "10.8.0.3", NULL));
	assert_string_equal(sources(r, 3, false).text, "stubctl servers=[10.8.0.3] "
						      "domains=[~corp.example] default-route=0 "
						      "dnssec=allow-downgrade\n");
	/* A field s does not set, but holds memory for, is freed, not leaked. */
	s = settings(3, "192.0.2.1", NULL);
	s.has_servers = false;
	s.domains = calloc(1, sizeof(s.domains[0]));
	s.has_domains = true;
	s.n_domains = 0;
	assert_int_equal(link_set_manual_fields(r, 3, LINK_SOURCE_MANUAL, &s, NULL, 0), 0);
	assert_null(s.servers);
	assert_null(s.domains);
	assert_string_equal(servers_text(effective(r, 3)), "10.8.0.3");
	assert_int_equal(effective(r, 3)->n_domains, 0);
	assert_true(effective(r, 3)->has_domains);
	link_registry_free(r);
}

static void test_merging(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);

	set_ok(r, 2, LINK_SOURCE_NETWORKD, NULL, settings(2, "10.0.0.1", "~corp.example lan"));
	set_ok(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.dhclient",
	       settings(2, "10.0.0.2 10.0.0.1", "lan home.example"));
	set_ok(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.ip6.dhclient",
	       settings(2, "2001:db8::53 10.0.0.2", "corp.example"));

	/* The union, in order, each once; corp.example is a search domain
	 * for ip6's record, so it is one for the link. */
	const struct link_settings *e = effective(r, 2);
	assert_string_equal(servers_text(e), "10.0.0.1 10.0.0.2 2001:db8::53");
	assert_string_equal(domains_text(e), "corp.example lan home.example");

	/* One record goes; the other's settings stay. */
	unsigned long g = link_registry_generation(r);
	assert_int_equal(link_drop_record(r, "eth0.dhclient"), 0);
	assert_true(link_registry_generation(r) > g);
	e = effective(r, 2);
	assert_string_equal(servers_text(e), "10.0.0.1 2001:db8::53 10.0.0.2");
	assert_string_equal(domains_text(e), "corp.example lan");
	assert_int_equal(link_drop_record(r, "eth0.dhclient"), -ENOENT);
	assert_int_equal(link_drop_record(r, "never.added"), -ENOENT);

	/* Manual servers replace the automatic ones, manual domains too. */
	manual_fields_ok(r, 2, settings(2, "192.0.2.9", NULL));
	e = effective(r, 2);
	assert_string_equal(servers_text(e), "192.0.2.9");
	assert_string_equal(domains_text(e), "corp.example lan");
	manual_fields_ok(r, 2, settings(2, NULL, "~x.example"));
	e = effective(r, 2);
	assert_string_equal(servers_text(e), "192.0.2.9");
	assert_string_equal(domains_text(e), "~x.example");
	/* stubctl dns eth0 '': no servers, not "no opinion". */
	manual_fields_ok(r, 2, settings(2, "", NULL));
	e = effective(r, 2);
	assert_true(e->has_servers);
	assert_int_equal(e->n_servers, 0);

	/* Modes and default-route: stubctl's over networkd's. */
	struct link_settings nd = settings(2, "10.0.0.1", "~corp.example lan");
	nd.modes[LINK_FEATURE_DNSSEC] = LINK_MODE_NO;
	nd.default_route = 1;
	set_ok(r, 2, LINK_SOURCE_NETWORKD, NULL, nd);
	assert_int_equal(effective(r, 2)->modes[LINK_FEATURE_DNSSEC], LINK_MODE_NO);
	struct link_settings m;
	link_settings_init(&m);
	m.modes[LINK_FEATURE_DNSSEC] = LINK_MODE_YES;
	m.default_route = 0;
	manual_fields_ok(r, 2, m);
	assert_int_equal(effective(r, 2)->modes[LINK_FEATURE_DNSSEC], LINK_MODE_YES);
	assert_int_equal(effective(r, 2)->default_route, 0);

	/* revert: stubctl's and resolvconf's settings go, networkd's stay. */
	g = link_registry_generation(r);
	assert_int_equal(link_revert(r, 2), 0);
	assert_true(link_registry_generation(r) > g);
	e = effective(r, 2);
	assert_string_equal(servers_text(e), "10.0.0.1");
	assert_string_equal(domains_text(e), "~corp.example lan");
	assert_int_equal(e->modes[LINK_FEATURE_DNSSEC], LINK_MODE_NO);
	assert_int_equal(e->default_route, 1);
	assert_string_equal(sources(r, 2, false).text,
			    "networkd servers=[10.0.0.1] domains=[~corp.example lan] default-route=1 "
			    "dnssec=no\n");
	assert_int_equal(link_drop_record(r, "eth0.ip6.dhclient"), -ENOENT);
	assert_int_equal(link_revert(r, 99), -ENODEV);

	/* networkd's state file went. */
	g = link_registry_generation(r);
	link_drop_networkd(r, 2);
	assert_true(link_registry_generation(r) > g);
	e = effective(r, 2);
	assert_int_equal(e->n_servers, 0);
	assert_int_equal(e->n_domains, 0);
	assert_int_equal(e->default_route, -1);
	assert_int_equal(sources(r, 2, false).calls, 0);
	g = link_registry_generation(r);
	link_drop_networkd(r, 2);
	link_drop_networkd(r, 99);
	assert_int_equal(link_registry_generation(r), g);
	link_registry_free(r);
}

static void test_record_moves_between_links(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 3, "wg0", true);
	link_kernel_update(r, 5, "wg1", true);
	set_ok(r, 3, LINK_SOURCE_RESOLVCONF, "tun.wg0", settings(3, "10.8.0.1", "~."));
	/* The same NAME, now for another interface: one record, there. */
	set_ok(r, 5, LINK_SOURCE_RESOLVCONF, "tun.wg0", settings(5, "10.9.0.1", "~."));
	assert_int_equal(sources(r, 3, false).calls, 0);
	assert_int_equal(effective(r, 3)->n_servers, 0);
	assert_string_equal(servers_text(effective(r, 5)), "10.9.0.1");
	assert_int_equal(link_drop_record(r, "tun.wg0"), 0);
	assert_int_equal(link_drop_record(r, "tun.wg0"), -ENOENT);
	assert_int_equal(effective(r, 5)->n_servers, 0);
	link_registry_free(r);
}

/* ---- results ------------------------------------------------------------ */

static bool default_route_with(struct link_registry *r, const char *domain_list, int explicit_value)
{
	struct link_settings s = settings(2, "192.0.2.1", domain_list);
	s.default_route = explicit_value;
	set_ok(r, 2, LINK_SOURCE_MANUAL, NULL, s);
	return link_default_route(get(r, 2));
}

static void test_default_route(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	assert_true(default_route_with(r, NULL, -1));
	assert_true(default_route_with(r, "", -1));
	assert_false(default_route_with(r, "~corp.example", -1));
	assert_false(default_route_with(r, "~corp.example ~lan", -1));
	assert_true(default_route_with(r, "~corp.example ~.", -1));
	assert_true(default_route_with(r, "~.", -1));
	assert_true(default_route_with(r, "corp.example ~x.example", -1));
	assert_true(default_route_with(r, "corp.example", -1));
	/* Set explicitly: that, whatever the domains. */
	assert_false(default_route_with(r, "corp.example", 0));
	assert_false(default_route_with(r, "~.", 0));
	assert_true(default_route_with(r, "~corp.example", 1));
	link_registry_free(r);
}

static void test_route_input_and_search_domains(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	link_kernel_update(r, 3, "wlan0", true);
	link_kernel_update(r, 4, "eth1", false);
	link_kernel_update(r, 5, "tun0", true);
	set_ok(r, 2, LINK_SOURCE_NETWORKD, NULL, settings(2, "192.168.1.1", "lan ~corp.example ~."));
	set_ok(r, 3, LINK_SOURCE_NETWORKD, NULL, settings(3, "192.168.2.1", "LAN home.example ~vpn.example"));
	set_ok(r, 4, LINK_SOURCE_NETWORKD, NULL, settings(4, "10.1.1.1", "down.example"));
	set_ok(r, 5, LINK_SOURCE_NETWORKD, NULL, settings(5, "", "noservers.example"));

	/* Search domains: of up links with servers, not "~" ones, not the
	 * root, each once. */
	const struct route_domain *out[16];
	char buf[300];
	size_t n = link_search_domains(r, out, 16);
	assert_int_equal(n, 2);
	assert_string_equal(route_domain_str(out[0], buf, sizeof(buf)), "lan");
	assert_string_equal(route_domain_str(out[1], buf, sizeof(buf)), "home.example");
	assert_int_equal(link_search_domains(r, out, 1), 1);
	assert_int_equal(link_search_domains(r, out, 0), 0);

	struct route_input in = { 0 };
	assert_int_equal(link_route_input(r, &in), 0);
	assert_int_equal(in.n_links, 4);
	assert_int_equal(in.links[0].ifindex, 2);
	assert_string_equal(in.links[0].name, "eth0");
	assert_true(in.links[0].up);
	assert_int_equal(in.links[0].n_servers, 1);
	assert_int_equal(in.links[0].n_domains, 3);
	assert_true(in.links[0].default_route);
	assert_true(in.links[1].default_route);
	assert_false(in.links[2].up);
	assert_int_equal(in.links[3].n_servers, 0);

	/* What the daemon does with it. */
	struct route_table *t = route_table_new(&in);
	assert_non_null(t);
	uint8_t q1[] = { 1, 'x', 4, 'c', 'o', 'r', 'p', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	uint8_t q2[] = { 1, 'x', 4, 'h', 'o', 'm', 'e', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	uint8_t q3[] = { 1, 'x', 4, 'd', 'o', 'w', 'n', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0 };
	uint8_t q4[] = { 3, 'n', 'a', 's', 3, 'l', 'a', 'n', 0 };
	const struct route *rt = route_lookup(t, q1, sizeof(q1));
	assert_string_equal(rt->label, "link eth0 (~corp.example)");
	rt = route_lookup(t, q2, sizeof(q2));
	assert_string_equal(rt->label, "link wlan0 (home.example)");
	/* eth1 is down: its domain goes where everything goes, eth0's "~.". */
	rt = route_lookup(t, q3, sizeof(q3));
	assert_string_equal(rt->label, "link eth0 (~.)");
	rt = route_lookup(t, q4, sizeof(q4));
	assert_int_equal(rt->n_servers, 2);
	route_table_free(t);

	/* The root is never a search domain, however a front end marks it. */
	struct link_settings root = settings(5, "10.5.0.1", NULL);
	root.has_domains = true;
	root.domains = calloc(1, sizeof(root.domains[0]));
	assert_non_null(root.domains);
	root.domains[0] = (struct route_domain){ .wire = { 0 }, .len = 1, .route_only = false };
	root.n_domains = 1;
	set_ok(r, 5, LINK_SOURCE_MANUAL, NULL, root);
	assert_int_equal(link_search_domains(r, out, 16), 2);
	link_registry_free(r);
}

static void test_record_ifindex(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	link_kernel_update(r, 3, "wg0", true);
	link_kernel_update(r, 5, "eth0.100", true);

	assert_int_equal(link_record_ifindex(r, "tun.wg0"), 3);
	assert_int_equal(link_record_ifindex(r, "wg0"), 3);
	assert_int_equal(link_record_ifindex(r, "eth0.ip6.dhclient"), 2);
	assert_int_equal(link_record_ifindex(r, "eth0.dhclient"), 2);
	assert_int_equal(link_record_ifindex(r, "eth0.100.inet"), 5);
	assert_int_equal(link_record_ifindex(r, "eth0.100"), 5);
	assert_int_equal(link_record_ifindex(r, "eth0.200.inet"), 2);
	assert_int_equal(link_record_ifindex(r, "unknown"), 0);
	assert_int_equal(link_record_ifindex(r, "eth1.dhclient"), 0);
	assert_int_equal(link_record_ifindex(r, ""), 0);
	assert_int_equal(link_record_ifindex(r, "eth"), 0);
	char long_name[200];
	memset(long_name, 'x', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	memcpy(long_name, "eth0.", 5);
	assert_int_equal(link_record_ifindex(r, long_name), 0);

	/* The VLAN goes: its records now belong to the parent. */
	link_kernel_remove(r, 5);
	assert_int_equal(link_record_ifindex(r, "eth0.100.inet"), 2);
	link_registry_free(r);
}

/* ---- caps --------------------------------------------------------------- */

static void test_caps(void **state)
{
	const struct link_limits limits = { .max_links = 2, .max_servers = 3, .max_domains = 2 };
	struct link_registry *r = registry(&limits);
	char why[256];
	link_kernel_update(r, 2, "eth0", true);
	link_kernel_update(r, 3, "wg0", true);
	link_kernel_update(r, 4, "tun0", true);

	/* Servers per link, all front ends together. */
	set_ok(r, 2, LINK_SOURCE_NETWORKD, NULL, settings(2, "10.0.0.1 10.0.0.2", "lan"));
	unsigned long g = link_registry_generation(r);
	struct link_settings s = settings(2, "10.0.0.3 10.0.0.4", NULL);
	why[0] = '\0';
	assert_int_equal(link_set(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.dhclient", &s, why, sizeof(why)),
			 -E2BIG);
	assert_non_null(strstr(why, "max-link-servers"));
	assert_non_null(strstr(why, "eth0"));
	/* Nothing changed, and s is still the caller's. */
	assert_int_equal(link_registry_generation(r), g);
	assert_int_equal(sources(r, 2, false).calls, 1);
	assert_string_equal(servers_text(effective(r, 2)), "10.0.0.1 10.0.0.2");
	assert_true(s.has_servers);
	assert_int_equal(s.n_servers, 2);
	link_settings_clear(&s);
	/* A server already there counts once. */
	set_ok(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.dhclient", settings(2, "10.0.0.2 10.0.0.3", NULL));
	assert_int_equal(effective(r, 2)->n_servers, 3);
	/* Manual servers replace the rest: counted alone. */
	manual_fields_ok(r, 2, settings(2, "192.0.2.1 192.0.2.2 192.0.2.3", NULL));
	s = settings(2, "192.0.2.1 192.0.2.2 192.0.2.3 192.0.2.4", NULL);
	why[0] = '\0';
	assert_int_equal(link_set_manual_fields(r, 2, LINK_SOURCE_MANUAL, &s, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "max-link-servers"));
	assert_int_equal(s.n_servers, 4);
	link_settings_clear(&s);
	assert_string_equal(servers_text(effective(r, 2)), "192.0.2.1 192.0.2.2 192.0.2.3");

	/* Domains per link, merged. */
	g = link_registry_generation(r);
	s = settings(2, NULL, "a.example b.example");
	why[0] = '\0';
	assert_int_equal(link_set(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.ip6.dhclient", &s, why, sizeof(why)),
			 -E2BIG);
	assert_non_null(strstr(why, "max-link-domains"));
	assert_int_equal(link_registry_generation(r), g);
	assert_int_equal(sources(r, 2, false).calls, 3);
	link_settings_clear(&s);
	set_ok(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.ip6.dhclient", settings(2, NULL, "LAN a.example"));
	assert_string_equal(domains_text(effective(r, 2)), "lan a.example");

	/* Links with settings. */
	set_ok(r, 3, LINK_SOURCE_MANUAL, NULL, settings(3, "10.8.0.1", NULL));
	s = settings(4, "10.9.0.1", NULL);
	why[0] = '\0';
	g = link_registry_generation(r);
	assert_int_equal(link_set(r, 4, LINK_SOURCE_NETWORKD, NULL, &s, why, sizeof(why)), -E2BIG);
	assert_non_null(strstr(why, "max-links"));
	assert_int_equal(link_set_manual_fields(r, 4, LINK_SOURCE_MANUAL, &s, NULL, 0), -E2BIG);
	assert_int_equal(link_registry_generation(r), g);
	assert_int_equal(sources(r, 4, false).calls, 0);
	/* Links that have settings may still change them. */
	set_ok(r, 3, LINK_SOURCE_MANUAL, NULL, settings(3, "10.8.0.2", NULL));
	/* One link let go: room for another. */
	assert_int_equal(link_revert(r, 3), 0);
	assert_int_equal(link_set(r, 4, LINK_SOURCE_NETWORKD, NULL, &s, why, sizeof(why)), 0);
	link_settings_clear(&s);

	/* A reload lowers the caps below what eth0 has: what it has stays,
	 * it may change what does not grow, and what it drops is dropped. */
	const struct link_limits lower = { .max_links = 1, .max_servers = 1, .max_domains = 1 };
	link_registry_set_limits(r, &lower);
	struct link_settings dr;
	link_settings_init(&dr);
	dr.default_route = 0;
	manual_fields_ok(r, 2, dr);
	assert_int_equal(effective(r, 2)->default_route, 0);
	assert_int_equal(link_drop_record(r, "eth0.ip6.dhclient"), 0);
	assert_string_equal(domains_text(effective(r, 2)), "lan");
	assert_int_equal(link_revert(r, 2), 0);
	assert_string_equal(servers_text(effective(r, 2)), "10.0.0.1 10.0.0.2");
	link_drop_networkd(r, 2);
	assert_int_equal(effective(r, 2)->n_servers, 0);
	link_registry_free(r);
}

static void test_record_cap(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	char name[32], why[256];
	size_t ok = 0;
	for (int i = 0; i < 100; i++) {
		snprintf(name, sizeof(name), "eth0.r%d", i);
		struct link_settings s;
		link_settings_init(&s);
		why[0] = '\0';
		int rc = link_set(r, 2, LINK_SOURCE_RESOLVCONF, name, &s, why, sizeof(why));
		if (rc == 0) {
			ok++;
			continue;
		}
		assert_int_equal(rc, -E2BIG);
		assert_non_null(strstr(why, "resolvconf records"));
	}
	assert_int_equal(ok, RECORDS_PER_LINK);
	assert_int_equal(sources(r, 2, false).calls, RECORDS_PER_LINK);
	/* A record there already may still change when the link is full. */
	set_ok(r, 2, LINK_SOURCE_RESOLVCONF, "eth0.r7", settings(2, "10.0.0.7", NULL));
	assert_string_equal(servers_text(effective(r, 2)), "10.0.0.7");
	link_registry_free(r);
}

static void test_flood_stays_within_caps(void **state)
{
	const struct link_limits limits = { .max_links = 16, .max_servers = 4, .max_domains = 4 };
	struct link_registry *r = registry(&limits);
	char name[32], text[64];

	/* A thousand interfaces, each given a server. */
	for (unsigned i = 1; i <= 1000; i++) {
		snprintf(name, sizeof(name), "veth%u", i);
		link_kernel_update(r, i, name, true);
	}
	size_t ok = 0;
	for (unsigned i = 1; i <= 1000; i++) {
		snprintf(text, sizeof(text), "10.%u.%u.1", i / 256, i % 256);
		struct link_settings s = settings(i, text, NULL);
		int rc = link_set(r, i, LINK_SOURCE_MANUAL, NULL, &s, NULL, 0);
		assert_true(rc == 0 || rc == -E2BIG);
		ok += rc == 0;
		link_settings_clear(&s);
	}
	assert_int_equal(ok, 16);
	size_t with = 0;
	for (size_t i = 0; i < link_count(r); i++)
		with += sources(r, link_ifindex(link_at(r, i)), false).calls > 0;
	assert_int_equal(with, 16);

	/* A thousand domains pushed at one link, one record each ... */
	ok = 0;
	for (int i = 0; i < 1000; i++) {
		snprintf(name, sizeof(name), "veth1.r%d", i);
		snprintf(text, sizeof(text), "d%d.example", i);
		struct link_settings s = settings(1, NULL, text);
		int rc = link_set(r, 1, LINK_SOURCE_RESOLVCONF, name, &s, NULL, 0);
		assert_true(rc == 0 || rc == -E2BIG);
		ok += rc == 0;
		link_settings_clear(&s);
		assert_true(effective(r, 1)->n_domains <= limits.max_domains);
	}
	assert_int_equal(ok, limits.max_domains);
	/* ... and all at once. */
	char *all = malloc(1000 * 16);
	assert_non_null(all);
	all[0] = '\0';
	for (int i = 0; i < 1000; i++) {
		snprintf(text, sizeof(text), "%sx%d.example", i ? " " : "", i);
		strcat(all, text);
	}
	struct link_settings s;
	link_settings_init(&s);
	s.has_domains = true;
	s.domains = calloc(1000, sizeof(s.domains[0]));
	assert_non_null(s.domains);
	char *save = NULL;
	for (char *w = strtok_r(all, " ", &save); w; w = strtok_r(NULL, " ", &save))
		assert_int_equal(route_domain_parse(w, &s.domains[s.n_domains++], NULL, 0), 0);
	assert_int_equal(s.n_domains, 1000);
	assert_int_equal(link_set(r, 2, LINK_SOURCE_MANUAL, NULL, &s, NULL, 0), -E2BIG);
	assert_int_equal(link_set_manual_fields(r, 2, LINK_SOURCE_MANUAL, &s, NULL, 0), -E2BIG);
	link_settings_clear(&s);
	free(all);
	assert_true(effective(r, 2)->n_domains <= limits.max_domains);
	link_registry_free(r);
}

/* ---- across a restart --------------------------------------------------- */

static char *save_to_text(const struct link_registry *r)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	assert_int_equal(link_registry_save(r, f), 0);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* Loads text into r; returns what load returned, and sets *log to what
 * it logged (free it). */
static int load_text(struct link_registry *r, const char *text, char **log)
{
	FILE *f = fmemopen((void *)text, strlen(text), "r");
	assert_non_null(f);
	struct capture c = capture_begin();
	int rc = link_registry_load(r, f, "links.state");
	char *logged = capture_end(&c);
	fclose(f);
	if (log)
		*log = logged;
	else
		free(logged);
	return rc;
}

static struct link_registry *world_before(void)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	link_kernel_update(r, 3, "wg0", true);
	link_kernel_update(r, 6, "eth1", false);
	link_kernel_update(r, 7, "gone0", true);

	struct link_settings m = settings(2, "192.0.2.1:5353 [2001:db8::1]:853#dns.example fe80::1 "
					     "[fe80::2]:5353 9.9.9.9#dns.quad9.net",
					  "corp.example ~lan ~. ~168.192.in-addr.arpa");
	m.default_route = 0;
	m.modes[LINK_FEATURE_DNS_OVER_TLS] = LINK_MODE_OPPORTUNISTIC;
	m.modes[LINK_FEATURE_DNSSEC] = LINK_MODE_ALLOW_DOWNGRADE;
	m.modes[LINK_FEATURE_LLMNR] = LINK_MODE_RESOLVE;
	m.modes[LINK_FEATURE_MDNS] = LINK_MODE_NO;
	set_ok(r, 2, LINK_SOURCE_MANUAL, NULL, m);
	set_ok(r, 2, LINK_SOURCE_NETWORKD, NULL, settings(2, "10.0.0.1", "networkd.example"));
	set_ok(r, 3, LINK_SOURCE_RESOLVCONF, "tun.wg0", settings(3, "10.8.0.1", "~."));
	set_ok(r, 3, LINK_SOURCE_RESOLVCONF, "wg0.none", settings(3, "", ""));
	set_ok(r, 3, LINK_SOURCE_RESOLVCONF, "wg0.empty", settings(3, NULL, NULL));
	struct link_settings dr;
	link_settings_init(&dr);
	dr.default_route = 1;
	set_ok(r, 6, LINK_SOURCE_MANUAL, NULL, dr);
	set_ok(r, 7, LINK_SOURCE_MANUAL, NULL, settings(7, "10.7.0.1", NULL));
	return r;
}

/* A link's dns-over-tls, when a front end set it, is what its servers are
 * asked with; else the global setting the caller puts in the input. */
static void test_route_input_tls(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	link_kernel_update(r, 3, "wg0", true);
	link_kernel_update(r, 4, "eth1", true);
	struct link_settings strict = settings(2, "192.0.2.1#dns.example", NULL);
	strict.modes[LINK_FEATURE_DNS_OVER_TLS] = LINK_MODE_YES;
	set_ok(r, 2, LINK_SOURCE_DBUS, NULL, strict);
	struct link_settings off = settings(3, "10.8.0.1", "~.");
	off.modes[LINK_FEATURE_DNS_OVER_TLS] = LINK_MODE_NO;
	set_ok(r, 3, LINK_SOURCE_MANUAL, NULL, off);
	set_ok(r, 4, LINK_SOURCE_NETWORKD, NULL, settings(4, "10.0.0.1", NULL));
	struct route_input in = { .global_tls = ROUTE_TLS_OPPORTUNISTIC };
	assert_int_equal(link_route_input(r, &in), 0);
	assert_int_equal(in.n_links, 3);
	for (size_t i = 0; i < in.n_links; i++) {
		const struct route_link_input *l = &in.links[i];
		enum route_tls want = l->ifindex == 2   ? ROUTE_TLS_YES
				      : l->ifindex == 3 ? ROUTE_TLS_NO
							: ROUTE_TLS_OPPORTUNISTIC;
		assert_int_equal(l->tls, want);
	}
	link_registry_free(r);
}

/* NetworkManager's "resolvconf -a NetworkManager" names no interface: its
 * record applies system-wide on a pseudo-link that is always up, routes
 * like a link, is saved and restored, and goes with its last record. */
static void test_system_record(void **state)
{
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	link_kernel_update(r, LINK_SYSTEM_INDEX, "bogus", true); /* never the kernel's */
	assert_null(link_by_index(r, LINK_SYSTEM_INDEX));
	char why[256];
	struct link_settings manual = settings(0, "192.0.2.1", NULL);
	assert_int_equal(link_set(r, LINK_SYSTEM_INDEX, LINK_SOURCE_MANUAL, NULL, &manual, why,
				  sizeof(why)), -ENODEV);
	link_settings_clear(&manual);

	unsigned target = 99;
	assert_int_equal(link_record_target(r, "NetworkManager", &target), 0);
	assert_int_equal(target, LINK_SYSTEM_INDEX);
	assert_int_equal(link_record_target(r, "eth0.dhclient", &target), 0);
	assert_int_equal(target, 2);
	assert_int_equal(link_record_target(r, "eth9.dhclient", &target), -ENODEV);
	set_ok(r, LINK_SYSTEM_INDEX, LINK_SOURCE_RESOLVCONF, "NetworkManager",
	       settings(0, "192.0.2.53", "nm.example"));
	const struct link *sys = get(r, LINK_SYSTEM_INDEX);
	assert_string_equal(link_name(sys), LINK_SYSTEM_NAME);
	assert_true(link_up(sys));
	assert_true(link_default_route(sys));
	struct route_input in = { 0 };
	assert_int_equal(link_route_input(r, &in), 0);
	assert_int_equal(in.n_links, 2);
	assert_int_equal(in.links[0].ifindex, LINK_SYSTEM_INDEX);
	assert_int_equal(in.links[0].n_servers, 1);
	const struct route_domain *search[4];
	assert_int_equal(link_search_domains(r, search, 4), 1);

	char *text = save_to_text(r);
	assert_non_null(strstr(text, "0 system resolvconf:NetworkManager servers=192.0.2.53"));
	struct link_registry *b = registry(NULL);
	assert_int_equal(load_text(b, text, NULL), 1);
	assert_string_equal(servers_text(effective(b, LINK_SYSTEM_INDEX)), "192.0.2.53");
	link_registry_free(b);
	free(text);

	assert_int_equal(link_drop_record(r, "NetworkManager"), 0);
	assert_null(link_by_index(r, LINK_SYSTEM_INDEX));
	link_registry_free(r);
}

static void note_source(void *arg, enum link_source source, const char *record,
			const struct link_settings *s)
{
	(void)record;
	(void)s;
	char *buf = arg;
	size_t used = strlen(buf);
	snprintf(buf + used, 128 - used, "%s%s", used ? "," : "", link_source_names[source]);
}

/* stubctl and D-Bus set the same fields, as resolvectl and NetworkManager
 * do on systemd-resolved; the registry remembers which changed them last,
 * shows it, keeps it across a restart, and forgets it on revert. */
static void test_dbus_and_stubctl_share_the_manual_fields(void **state)
{
	(void)state;
	struct link_registry *r = registry(NULL);
	link_kernel_update(r, 2, "eth0", true);
	char who[128] = "";
	char why[256];

	struct link_settings s = settings(2, "192.0.2.1", NULL);
	assert_int_equal(link_set_manual_fields(r, 2, LINK_SOURCE_DBUS, &s, why, sizeof(why)), 0);
	link_each_source(get(r, 2), note_source, who);
	assert_string_equal(who, "dbus");

	/* stubctl's domain keeps D-Bus's server: one set of fields. */
	s = settings(2, NULL, "corp.example");
	assert_int_equal(link_set_manual_fields(r, 2, LINK_SOURCE_MANUAL, &s, why, sizeof(why)), 0);
	assert_string_equal(servers_text(effective(r, 2)), "192.0.2.1");
	who[0] = '\0';
	link_each_source(get(r, 2), note_source, who);
	assert_string_equal(who, "stubctl");

	s = settings(2, "192.0.2.2", NULL);
	assert_int_equal(link_set_manual_fields(r, 2, LINK_SOURCE_DBUS, &s, why, sizeof(why)), 0);
	char *text = save_to_text(r);
	assert_non_null(strstr(text, "2 eth0 dbus servers=192.0.2.2 domains=corp.example"));
	struct link_registry *b = registry(NULL);
	link_kernel_update(b, 2, "eth0", true);
	assert_int_equal(load_text(b, text, NULL), 1);
	who[0] = '\0';
	link_each_source(get(b, 2), note_source, who);
	assert_string_equal(who, "dbus");
	link_registry_free(b);
	free(text);

	/* D-Bus's "" for a mode: the front end no longer says; networkd's shows. */
	struct link_settings nd;
	link_settings_init(&nd);
	nd.modes[LINK_FEATURE_DNS_OVER_TLS] = LINK_MODE_OPPORTUNISTIC;
	set_ok(r, 2, LINK_SOURCE_NETWORKD, NULL, nd);
	s = settings(2, NULL, NULL);
	s.modes[LINK_FEATURE_DNS_OVER_TLS] = LINK_MODE_YES;
	assert_int_equal(link_set_manual_fields(r, 2, LINK_SOURCE_DBUS, &s, why, sizeof(why)), 0);
	assert_int_equal(effective(r, 2)->modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_YES);
	assert_int_equal(link_clear_manual_mode(r, 2, LINK_SOURCE_DBUS, LINK_FEATURE_DNS_OVER_TLS), 0);
	assert_int_equal(effective(r, 2)->modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_OPPORTUNISTIC);
	assert_int_equal(link_clear_manual_mode(r, 99, LINK_SOURCE_DBUS, LINK_FEATURE_DNSSEC), -ENODEV);

	assert_int_equal(link_revert(r, 2), 0);
	s = settings(2, NULL, NULL);
	s.default_route = 0;
	assert_int_equal(link_set_manual_fields(r, 2, LINK_SOURCE_MANUAL, &s, why, sizeof(why)), 0);
	who[0] = '\0';
	link_each_source(get(r, 2), note_source, who);
	assert_string_equal(who, "stubctl,networkd"); /* revert keeps networkd's */
	link_registry_free(r);
}

static void test_save_load_round_trip(void **state)
{
	struct link_registry *a = world_before();
	char *text = save_to_text(a);
	/* networkd's files say its settings again after a restart. */
	assert_null(strstr(text, "10.0.0.1"));
	assert_null(strstr(text, "networkd.example"));

	/* After the restart: the same interfaces, but gone0 is gone. */
	struct link_registry *b = registry(NULL);
	link_kernel_update(b, 2, "eth0", true);
	link_kernel_update(b, 3, "wg0", true);
	link_kernel_update(b, 6, "eth1", false);
	char *log = NULL;
	assert_int_equal(load_text(b, text, &log), 5);
	assert_string_equal(log, "");
	free(log);

	for (unsigned i = 2; i <= 6; i++) {
		if (!link_by_index(b, i))
			continue;
		struct dump before = sources(a, i, true), after = sources(b, i, false);
		assert_string_equal(after.text, before.text);
	}
	/* A link-local server keeps the scope of its link. */
	const struct link_settings *e = effective(b, 2);
	assert_int_equal(e->n_servers, 5);
	assert_int_equal(((const struct sockaddr_in6 *)&e->servers[2].addr.ss)->sin6_scope_id, 2);
	assert_int_equal(netaddr_port(&e->servers[3].addr), 5353);
	assert_string_equal(e->servers[4].tls_name, "dns.quad9.net");
	assert_int_equal(effective(b, 2)->modes[LINK_FEATURE_LLMNR], LINK_MODE_RESOLVE);
	assert_true(effective(b, 3)->has_servers);

	/* Saved again, the same text. */
	char *again = save_to_text(b);
	assert_null(strstr(again, "gone0"));
	struct link_registry *c = registry(NULL);
	link_kernel_update(c, 7, "gone0", true);
	assert_int_equal(load_text(c, text, NULL), 1);
	assert_string_equal(sources(c, 7, false).text, "stubctl servers=[10.7.0.1]\n");
	link_registry_free(c);
	free(again);

	/* Other interfaces now: wg0's index is another's, eth0's is gone. */
	c = registry(NULL);
	link_kernel_update(c, 3, "wg1", true);
	link_kernel_update(c, 6, "eth1", true);
	assert_int_equal(load_text(c, text, NULL), 1);
	assert_int_equal(sources(c, 3, false).calls, 0);
	assert_int_equal(sources(c, 6, false).calls, 1);
	link_registry_free(c);

	free(text);
	link_registry_free(a);
	link_registry_free(b);
}

static void test_load_skips_what_does_not_parse(void **state)
{
	struct link_registry *r = registry(&(struct link_limits){ .max_links = 8, .max_servers = 2,
								  .max_domains = 8 });
	link_kernel_update(r, 2, "eth0", true);
	link_kernel_update(r, 3, "wg0", true);

	size_t big = (1 << 20) + 16; /* past the longest line a state file may have */
	char *text = malloc(2 * big + 4096);
	assert_non_null(text);
	strcpy(text, "# comment\n"                                          /* 1 */
		     "\n"                                                   /* 2 */
		     "   \n"                                                /* 3 */
		     "garbage\n"                                            /* 4 */
		     "abc eth0 stubctl servers=192.0.2.1\n"                 /* 5 */
		     "2 eth0 nosuch servers=192.0.2.1\n"                    /* 6 */
		     "2 eth0 stubctl servers=1.2.3\n"                       /* 7 */
		     "2 eth0 stubctl servers=192.0.2.1,bad\n"               /* 8 */
		     "2 eth0 stubctl bogus=1\n"                             /* 9 */
		     "2 eth0 stubctl dnssec=opportunistic\n"                /* 10 */
		     "2 eth0 stubctl default-route=maybe\n"                 /* 11 */
		     "2 eth0 stubctl servers=192.0.2.1 servers=192.0.2.2\n" /* 12 */
		     "2 eth0 stubctl domains=a..b\n"                        /* 13 */
		     "2 eth0 resolvconf: servers=192.0.2.1\n"               /* 14 */
		     "2 eth0 stubctl noequals\n"                            /* 15 */
		     "2 eth0 stubctl servers=10.0.0.1,10.0.0.2,10.0.0.3\n"  /* 16: over the cap */
		     "2 eth0 stubctl servers=192.0.2.1,192.0.2.2 domains=corp.example\n" /* 17: good */
		     "9 eth9 stubctl servers=192.0.2.1\n"                   /* 18: gone, no error */
		     "2 eth0 resolvconf:long servers=");                    /* 19: too long */
	size_t n = strlen(text);
	memset(text + n, '1', big);
	n += big;
	strcpy(text + n, "\n# ");                                            /* 20: long comment */
	n += 3;
	memset(text + n, 'c', big);
	n += big;
	strcpy(text + n, "\n2 eth0 resolvconf:eth0.dhclient domains=lan\n"    /* 21: good */
			 "3 wg0 stubctl servers=10.8.0.1");                   /* 22: good, no newline */

	char *log = NULL;
	assert_int_equal(load_text(r, text, &log), 3);
	/* Each bad line once, with the path and its number. */
	for (int line = 4; line <= 16; line++) {
		char where[64];
		snprintf(where, sizeof(where), "links.state:%d: ", line);
		if (count_of(log, where) != 1)
			fail_msg("line %d not logged once:\n%s", line, log);
	}
	assert_int_equal(count_of(log, "line skipped"), 14); /* 4-16 and 19 */
	assert_non_null(strstr(log, "links.state:5: 'abc' is not an interface index"));
	assert_non_null(strstr(log, "links.state:16: eth0 would have 3 DNS servers"));
	assert_non_null(strstr(log, "links.state:19: line longer than"));
	assert_null(strstr(log, "links.state:3:"));
	assert_null(strstr(log, "links.state:18:"));
	assert_null(strstr(log, "links.state:20:"));
	assert_null(strstr(log, "links.state:21:"));
	assert_null(strstr(log, "ccc"));
	free(log);
	free(text);

	assert_string_equal(sources(r, 2, false).text,
			    "stubctl servers=[192.0.2.1 192.0.2.2] domains=[corp.example]\n"
			    "resolvconf:eth0.dhclient domains=[lan]\n");
	assert_string_equal(sources(r, 3, false).text, "stubctl servers=[10.8.0.1]\n");
	link_registry_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_mode_parse),
		cmocka_unit_test(test_kernel_updates),
		cmocka_unit_test(test_set_each_source),
		cmocka_unit_test(test_manual_fields),
		cmocka_unit_test(test_merging),
		cmocka_unit_test(test_record_moves_between_links),
		cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_route_input_and_search_domains),
		cmocka_unit_test(test_record_ifindex),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_record_cap),
		cmocka_unit_test(test_flood_stays_within_caps),
		cmocka_unit_test(test_route_input_tls),
		cmocka_unit_test(test_system_record),
		cmocka_unit_test(test_save_load_round_trip),
		cmocka_unit_test(test_dbus_and_stubctl_share_the_manual_fields),
		cmocka_unit_test(test_load_skips_what_does_not_parse),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
