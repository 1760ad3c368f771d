/* test_networkd.c - networkd's link state files: parsed as networkd 252
 * writes them, and followed as they are created, replaced and removed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "stubd/networkd.h"

struct fixture {
	char dir[64];
	char warnings[4096];
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/stubd-networkd.XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", fx->dir);
	assert_int_equal(system(cmd), 0);
	free(fx);
	return 0;
}

static void collect_warning(void *arg, const char *msg)
{
	struct fixture *fx = arg;
	size_t used = strlen(fx->warnings);
	snprintf(fx->warnings + used, sizeof(fx->warnings) - used, "%s\n", msg);
}

/* Writes a state file as networkd does: a temporary name, then a rename. */
static void write_state(const struct fixture *fx, const char *name, const char *text)
{
	char tmp[128], path[128];
	snprintf(tmp, sizeof(tmp), "%s/.#%s-tmp", fx->dir, name);
	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	FILE *f = fopen(tmp, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
}

static int parse(struct fixture *fx, const char *name, unsigned ifindex, struct link_settings *s)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	link_settings_init(s);
	return networkd_parse_file(path, ifindex, s, collect_warning, fx);
}

static const char *server_text(const struct link_settings *s, size_t i)
{
	static char buf[128];
	return route_server_str(&s->servers[i], buf, sizeof(buf));
}

static const char *domain_text(const struct link_settings *s, size_t i)
{
	static char buf[300];
	return route_domain_str(&s->domains[i], buf, sizeof(buf));
}

/* What networkd 252's link_save() writes for a link with DNS settings. */
static void test_parse_full_file(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	write_state(fx, "1", "# This is private data. Do not parse.\n"
			     "ADMIN_STATE=configured\n"
			     "OPER_STATE=routable\n"
			     "REQUIRED_FOR_ONLINE=yes\n"
			     "NETWORK_FILE=/etc/systemd/network/50-wired.network\n"
			     "DNS=192.0.2.1 2001:db8::53 fe80::1%1 [2001:db8::54]:5353 192.0.2.9#dns.example\n"
			     "NTP=\n"
			     "SIP=\n"
			     "DOMAINS=lan Example.COM\n"
			     "ROUTE_DOMAINS=corp.example\n"
			     "LLMNR=resolve\n"
			     "MDNS=no\n"
			     "DNS_DEFAULT_ROUTE=no\n"
			     "DNS_OVER_TLS=opportunistic\n"
			     "DNSSEC=allow-downgrade\n"
			     "DNSSEC_NTA=\n");
	assert_int_equal(parse(fx, "1", 1, &s), 0);
	assert_true(s.has_servers);
	assert_int_equal(s.n_servers, 5);
	assert_string_equal(server_text(&s, 0), "192.0.2.1");
	assert_string_equal(server_text(&s, 1), "2001:db8::53");
	assert_int_equal(route_server_scope(&s.servers[2]), 1);
	assert_string_equal(server_text(&s, 3), "[2001:db8::54]:5353");
	assert_string_equal(s.servers[4].tls_name, "dns.example");
	assert_true(s.has_domains);
	assert_int_equal(s.n_domains, 3);
	assert_string_equal(domain_text(&s, 0), "lan");
	assert_string_equal(domain_text(&s, 1), "example.com");
	assert_string_equal(domain_text(&s, 2), "~corp.example"); /* ROUTE_DOMAINS: route only */
	assert_int_equal(s.default_route, 0);
	assert_int_equal(s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_OPPORTUNISTIC);
	assert_int_equal(s.modes[LINK_FEATURE_DNSSEC], LINK_MODE_ALLOW_DOWNGRADE);
	assert_int_equal(s.modes[LINK_FEATURE_LLMNR], LINK_MODE_RESOLVE);
	assert_int_equal(s.modes[LINK_FEATURE_MDNS], LINK_MODE_NO);
	assert_string_equal(fx->warnings, "");
	link_settings_clear(&s);
}

/* A link networkd manages without DNS: DNS= empty means "no servers",
 * keys it did not write stay unset. A link-local server without a zone
 * belongs to the file's own interface. */
static void test_parse_empty_and_absent(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	write_state(fx, "2", "ADMIN_STATE=configured\nDNS=\n");
	assert_int_equal(parse(fx, "2", 2, &s), 0);
	assert_true(s.has_servers);
	assert_int_equal(s.n_servers, 0);
	assert_false(s.has_domains);
	assert_int_equal(s.default_route, -1);
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		assert_int_equal(s.modes[f], LINK_MODE_UNSET);
	link_settings_clear(&s);

	write_state(fx, "7", "DNS=fe80::53\n");
	assert_int_equal(parse(fx, "7", 7, &s), 0);
	assert_int_equal(route_server_scope(&s.servers[0]), 7);
	link_settings_clear(&s);
}

/* A bad item is skipped with a warning naming file and line; the rest of
 * the file counts. */
static void test_parse_bad_items(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	write_state(fx, "3", "DNS=192.0.2.1 not-an-address 192.0.2.2\n"
			     "DOMAINS=good.example bad..example\n"
			     "DNS_DEFAULT_ROUTE=perhaps\n"
			     "DNS_OVER_TLS=allow-downgrade\n"
			     "\x01\x02 binary junk without equals\n");
	assert_int_equal(parse(fx, "3", 3, &s), 0);
	assert_int_equal(s.n_servers, 2);
	assert_int_equal(s.n_domains, 1);
	assert_int_equal(s.default_route, -1);
	assert_int_equal(s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_UNSET);
	char want[256];
	snprintf(want, sizeof(want), "%s/3:1: DNS: 'not-an-address' is not an IP address", fx->dir);
	assert_non_null(strstr(fx->warnings, want));
	snprintf(want, sizeof(want), "%s/3:2: DOMAINS: domain 'bad..example'", fx->dir);
	assert_non_null(strstr(fx->warnings, want));
	snprintf(want, sizeof(want), "%s/3:3: DNS_DEFAULT_ROUTE: not yes or no", fx->dir);
	assert_non_null(strstr(fx->warnings, want));
	snprintf(want, sizeof(want), "%s/3:4: DNS_OVER_TLS", fx->dir);
	assert_non_null(strstr(fx->warnings, want));
	link_settings_clear(&s);
}

/* What is not a state file is refused whole, not half read. */
static void test_parse_not_a_file(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	char path[128], target[128];
	snprintf(path, sizeof(path), "%s/4", fx->dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(parse(fx, "4", 4, &s), -EINVAL);
	snprintf(target, sizeof(target), "%s/1", fx->dir);
	write_state(fx, "1", "DNS=192.0.2.1\n");
	snprintf(path, sizeof(path), "%s/5", fx->dir);
	assert_int_equal(symlink(target, path), 0);
	assert_true(parse(fx, "5", 5, &s) < 0); /* O_NOFOLLOW: ELOOP */
	assert_int_equal(parse(fx, "6", 6, &s), -ENOENT);
	link_settings_clear(&s);
}

/* ---- the watcher --------------------------------------------------------- */

struct seen {
	unsigned calls;
	unsigned ifindex;
	bool removed;
	size_t n_servers;
	char first_server[128];
};

static void on_file(void *arg, unsigned ifindex, struct link_settings *s)
{
	struct seen *seen = arg;
	seen->calls++;
	seen->ifindex = ifindex;
	seen->removed = s == NULL;
	seen->n_servers = s ? s->n_servers : 0;
	if (s && s->n_servers)
		route_server_str(&s->servers[0], seen->first_server, sizeof(seen->first_server));
}

/* Runs the loop until seen has more calls than before, or 3 s pass. */
static void wait_call(struct event_base *base, struct seen *seen, unsigned before)
{
	time_t deadline = time(NULL) + 3;
	while (seen->calls == before && time(NULL) < deadline) {
		struct timeval tick = { .tv_usec = 20000 };
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	assert_true(seen->calls > before);
}

static void test_watch_follows_files(void **state)
{
	struct fixture *fx = *state;
	struct event_base *base = event_base_new();
	struct seen seen = { 0 };
	char err[256], path[128];

	write_state(fx, "2", "DNS=192.0.2.2\n");
	struct networkd_watch *w = networkd_watch_new(base, fx->dir, on_file, &seen, err, sizeof(err));
	assert_non_null(w);
	/* The files already there are reported at once. */
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.ifindex, 2);
	assert_string_equal(seen.first_server, "192.0.2.2");

	write_state(fx, "3", "DNS=192.0.2.3\n");
	wait_call(base, &seen, 1);
	assert_int_equal(seen.ifindex, 3);
	assert_string_equal(seen.first_server, "192.0.2.3");

	unsigned before = seen.calls;
	write_state(fx, "3", "DNS=192.0.2.33 192.0.2.34\n");
	wait_call(base, &seen, before);
	assert_int_equal(seen.n_servers, 2);
	assert_string_equal(seen.first_server, "192.0.2.33");

	/* Not an interface's file: ignored. */
	before = seen.calls;
	write_state(fx, "lo.conf", "DNS=192.0.2.99\n");
	snprintf(path, sizeof(path), "%s/3", fx->dir);
	assert_int_equal(unlink(path), 0);
	wait_call(base, &seen, before);
	assert_int_equal(seen.calls, before + 1);
	assert_int_equal(seen.ifindex, 3);
	assert_true(seen.removed);

	networkd_watch_free(w);
	event_base_free(base);
}

/* networkd may start after stubd: a directory that is not there yet is
 * looked for again, and its files reported when it comes. */
static void test_watch_dir_created_later(void **state)
{
	struct fixture *fx = *state;
	struct event_base *base = event_base_new();
	struct seen seen = { 0 };
	char err[256], dir[128];

	snprintf(dir, sizeof(dir), "%s/links", fx->dir);
	struct networkd_watch *w = networkd_watch_new(base, dir, on_file, &seen, err, sizeof(err));
	assert_non_null(w);
	assert_int_equal(seen.calls, 0);
	assert_int_equal(mkdir(dir, 0755), 0);
	char tmp[160], path[160];
	snprintf(tmp, sizeof(tmp), "%s/.tmp", dir);
	snprintf(path, sizeof(path), "%s/8", dir);
	FILE *f = fopen(tmp, "w");
	fputs("DNS=192.0.2.8\n", f);
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);

	/* Within NETWORKD_RETRY_MS, and a little. */
	time_t deadline = time(NULL) + NETWORKD_RETRY_MS / 1000 + 2;
	while (seen.calls == 0 && time(NULL) < deadline) {
		struct timeval tick = { .tv_usec = 100000 };
		event_base_loopexit(base, &tick);
		event_base_dispatch(base);
	}
	assert_int_equal(seen.calls, 1);
	assert_int_equal(seen.ifindex, 8);
	assert_string_equal(seen.first_server, "192.0.2.8");
	networkd_watch_free(w);
	event_base_free(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_parse_full_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_empty_and_absent, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_bad_items, setup, teardown),
		cmocka_unit_test_setup_teardown(test_parse_not_a_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_follows_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_watch_dir_created_later, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
