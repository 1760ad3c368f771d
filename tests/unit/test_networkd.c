/* test_networkd.c - scenarios for systemd-networkd's link state files:
 * files as networkd 252 writes them, files it would never write, and the
 * inotify watch driven by a real event loop over a temporary folder. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <event2/event.h>

#include "stubd/link.h"
#include "stubd/networkd.h"
#include "stubd/route.h"

/* An ifindex no test machine has, so nothing depends on its interfaces. */
#define IFX 4242u
/* Longest a watch test waits for an event: a missing folder is looked for
 * every NETWORKD_RECHECK_SECONDS, so that plus ample slack. */
#define WAIT_SECONDS (NETWORKD_RECHECK_SECONDS + 7)

#define MAX_WARNINGS 32
#define MAX_EVENTS 32

struct event_seen {
	unsigned ifindex;
	bool gone;                 /* fn(..., NULL) */
	struct link_settings s;    /* taken over from the watch */
};

struct fixture {
	char root[64];
	char links[PATH_MAX];      /* root/links: the watched folder */
	char file[PATH_MAX];       /* root/IFX: for the parser tests */
	char *warnings[MAX_WARNINGS];
	size_t n_warnings;
	struct event_base *base;
	struct networkd_watch *watch;
	struct event_seen events[MAX_EVENTS];
	size_t n_events;
	bool take;                 /* the callback moves settings out */
	bool timed_out;
};

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->root, sizeof(fx->root), "/tmp/stubd-test-networkd-XXXXXX");
	assert_non_null(mkdtemp(fx->root));
	snprintf(fx->links, sizeof(fx->links), "%s/links", fx->root);
	snprintf(fx->file, sizeof(fx->file), "%s/%u", fx->root, IFX);
	fx->base = event_base_new();
	assert_non_null(fx->base);
	fx->take = true;
	*state = fx;
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	return remove(path);
}

static int teardown(void **state)
{
	struct fixture *fx = *state;
	networkd_watch_free(fx->watch);
	event_base_free(fx->base);
	for (size_t i = 0; i < fx->n_warnings; i++)
		free(fx->warnings[i]);
	for (size_t i = 0; i < fx->n_events; i++)
		link_settings_clear(&fx->events[i].s);
	assert_int_equal(nftw(fx->root, remove_one, 16, FTW_DEPTH | FTW_PHYS), 0);
	free(fx);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, len), (ssize_t)len);
	assert_int_equal(close(fd), 0);
}

static void warn_collect(void *arg, const char *msg)
{
	struct fixture *fx = arg;
	assert_true(fx->n_warnings < MAX_WARNINGS);
	fx->warnings[fx->n_warnings] = strdup(msg);
	assert_non_null(fx->warnings[fx->n_warnings]);
	fx->n_warnings++;
}

/* Writes text as the state file of IFX and parses it. */
static int parse_text(struct fixture *fx, const char *text, struct link_settings *s)
{
	write_file(fx->file, text, strlen(text));
	return networkd_parse_file(fx->file, IFX, s, warn_collect, fx);
}

/* Some warning is "FILE:LINE: ..." and has want in it. */
static void assert_warned(struct fixture *fx, unsigned line, const char *want)
{
	char prefix[PATH_MAX + 16];
	snprintf(prefix, sizeof(prefix), "%s:%u: ", fx->file, line);
	for (size_t i = 0; i < fx->n_warnings; i++)
		if (strncmp(fx->warnings[i], prefix, strlen(prefix)) == 0 &&
		    strstr(fx->warnings[i], want))
			return;
	for (size_t i = 0; i < fx->n_warnings; i++)
		print_message("warning: %s\n", fx->warnings[i]);
	fail_msg("no warning '%s...%s'", prefix, want);
}

static const char *server_text(const struct route_server *srv)
{
	static char buf[4][400];
	static int next;
	char host[INET6_ADDRSTRLEN];
	const struct netaddr *a = &srv->addr;
	unsigned scope = 0;

	next = (next + 1) % 4;
	if (netaddr_family(a) == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&a->ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		scope = sin6->sin6_scope_id;
	} else {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)&a->ss)->sin_addr, host, sizeof(host));
	}
	/* ADDR port P scope S name N: every part, whatever the machine's
	 * interfaces are called. */
	snprintf(buf[next], sizeof(buf[next]), "%s port %u scope %u name %s", host,
		 netaddr_port(a), scope, srv->tls_name[0] ? srv->tls_name : "-");
	return buf[next];
}

static const char *domain_text(const struct route_domain *d)
{
	static char buf[4][ROUTE_NAME_TEXT_MAX + 2];
	static int next;
	next = (next + 1) % 4;
	return route_domain_str(d, buf[next], sizeof(buf[next]));
}

static void assert_unset(const struct link_settings *s)
{
	assert_false(s->has_servers);
	assert_int_equal(s->n_servers, 0);
	assert_false(s->has_domains);
	assert_int_equal(s->n_domains, 0);
	assert_int_equal(s->default_route, -1);
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		assert_int_equal(s->modes[f], LINK_MODE_UNSET);
}

/* ---- the parser ---------------------------------------------------------- */

/* A link networkd manages, with what DHCP, RAs and the .network file give. */
static const char real_file[] =
	"# This is private data. Do not parse.\n"
	"ADMIN_STATE=configured\n"
	"OPER_STATE=routable\n"
	"CARRIER_STATE=carrier\n"
	"ADDRESS_STATE=routable\n"
	"IPV4_ADDRESS_STATE=routable\n"
	"IPV6_ADDRESS_STATE=routable\n"
	"ONLINE_STATE=online\n"
	"REQUIRED_FOR_ONLINE=yes\n"
	"REQUIRED_OPER_STATE_FOR_ONLINE=degraded\n"
	"REQUIRED_FAMILY_FOR_ONLINE=any\n"
	"ACTIVATION_POLICY=up\n"
	"NETWORK_FILE=/etc/systemd/network/20-wired.network\n"
	"DNS=192.0.2.53 2001:db8::53 fe80::1%4242 192.0.2.54:5353 [2001:db8::54]:5353#dns.example "
	"[fe80::2]:5353%4242#ll.example 9.9.9.9#dns.quad9.net fe80::3\n"
	"NTP=\n"
	"SIP=\n"
	"DOMAINS=corp.example lab.example\n"
	"ROUTE_DOMAINS=internal.example .\n"
	"LLMNR=yes\n"
	"MDNS=no\n"
	"DNS_DEFAULT_ROUTE=no\n"
	"DNS_OVER_TLS=opportunistic\n"
	"DNSSEC=allow-downgrade\n"
	"DNSSEC_NTA=corp.example\n"
	"DHCP_LEASE=/run/systemd/netif/leases/4242\n";

static void test_real_file(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;

	assert_int_equal(parse_text(fx, real_file, &s), 0);
	assert_int_equal(fx->n_warnings, 0);
	assert_true(s.has_servers);
	assert_int_equal(s.n_servers, 8);
	assert_string_equal(server_text(&s.servers[0]), "192.0.2.53 port 53 scope 0 name -");
	assert_string_equal(server_text(&s.servers[1]), "2001:db8::53 port 53 scope 0 name -");
	assert_string_equal(server_text(&s.servers[2]), "fe80::1 port 53 scope 4242 name -");
	assert_string_equal(server_text(&s.servers[3]), "192.0.2.54 port 5353 scope 0 name -");
	assert_string_equal(server_text(&s.servers[4]),
			    "2001:db8::54 port 5353 scope 0 name dns.example");
	/* networkd puts the zone after the port: [ADDR]:PORT%IFINDEX#NAME. */
	assert_string_equal(server_text(&s.servers[5]), "fe80::2 port 5353 scope 4242 name ll.example");
	assert_string_equal(server_text(&s.servers[6]), "9.9.9.9 port 53 scope 0 name dns.quad9.net");
	/* A link-local address without a zone belongs to the file's link. */
	assert_string_equal(server_text(&s.servers[7]), "fe80::3 port 53 scope 4242 name -");

	assert_true(s.has_domains);
	assert_int_equal(s.n_domains, 4);
	assert_string_equal(domain_text(&s.domains[0]), "corp.example");
	assert_string_equal(domain_text(&s.domains[1]), "lab.example");
	assert_string_equal(domain_text(&s.domains[2]), "~internal.example");
	assert_string_equal(domain_text(&s.domains[3]), "~.");
	assert_false(s.domains[0].route_only);
	assert_true(s.domains[2].route_only);

	assert_int_equal(s.default_route, 0);
	assert_int_equal(s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_OPPORTUNISTIC);
	assert_int_equal(s.modes[LINK_FEATURE_DNSSEC], LINK_MODE_ALLOW_DOWNGRADE);
	assert_int_equal(s.modes[LINK_FEATURE_LLMNR], LINK_MODE_YES);
	assert_int_equal(s.modes[LINK_FEATURE_MDNS], LINK_MODE_NO);
	link_settings_clear(&s);
}

/* A link networkd does not manage: the state keys only. */
static void test_absent_keys_stay_unset(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;

	assert_int_equal(parse_text(fx, "# This is private data. Do not parse.\n"
					"ADMIN_STATE=configured\n"
					"OPER_STATE=carrier\n"
					"CARRIER_STATE=carrier\n"
					"LLMNR=resolve\n",
				    &s),
			 0);
	assert_int_equal(fx->n_warnings, 0);
	assert_false(s.has_servers);
	assert_false(s.has_domains);
	assert_int_equal(s.default_route, -1);
	assert_int_equal(s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_UNSET);
	assert_int_equal(s.modes[LINK_FEATURE_DNSSEC], LINK_MODE_UNSET);
	assert_int_equal(s.modes[LINK_FEATURE_MDNS], LINK_MODE_UNSET);
	assert_int_equal(s.modes[LINK_FEATURE_LLMNR], LINK_MODE_RESOLVE);
	link_settings_clear(&s);

	assert_int_equal(parse_text(fx, "", &s), 0);
	assert_unset(&s);
}

/* Present but empty is a setting: "no servers", "no domains". */
static void test_empty_values_set_none(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;

	assert_int_equal(parse_text(fx, "ADMIN_STATE=configured\nDNS=\nDOMAINS=\nROUTE_DOMAINS=\n", &s),
			 0);
	assert_int_equal(fx->n_warnings, 0);
	assert_true(s.has_servers);
	assert_int_equal(s.n_servers, 0);
	assert_true(s.has_domains);
	assert_int_equal(s.n_domains, 0);
	assert_int_equal(s.default_route, -1);
	link_settings_clear(&s);

	/* Route domains alone set the domains too. */
	assert_int_equal(parse_text(fx, "ROUTE_DOMAINS=vpn.example\n", &s), 0);
	assert_false(s.has_servers);
	assert_true(s.has_domains);
	assert_int_equal(s.n_domains, 1);
	assert_string_equal(domain_text(&s.domains[0]), "~vpn.example");
	link_settings_clear(&s);
}

static void test_bad_items_are_skipped_and_named(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;

	assert_int_equal(parse_text(fx, "# This is private data. Do not parse.\n"
					"ADMIN_STATE=configured\n"
					"DNS=192.0.2.1 not-an-address 192.0.2.300 fe80::9%nosuchif0 192.0.2.2\n"
					"DOMAINS=good.example bad..example ok.example\n"
					"ROUTE_DOMAINS=~ fine.example\n"
					"this line has no equals sign\n"
					"DNS_DEFAULT_ROUTE=maybe\n"
					"DNS_OVER_TLS=allow-downgrade\n"
					"DNSSEC=yes\n"
					"MDNS=loud\n",
				    &s),
			 0);
	assert_warned(fx, 3, "'not-an-address' skipped");
	assert_warned(fx, 3, "'192.0.2.300' skipped");
	assert_warned(fx, 3, "'fe80::9%nosuchif0' skipped: no interface named 'nosuchif0'");
	assert_warned(fx, 4, "DOMAINS domain 'bad..example' skipped");
	assert_warned(fx, 5, "ROUTE_DOMAINS domain '~' skipped");
	assert_warned(fx, 6, "not KEY=VALUE");
	assert_warned(fx, 7, "DNS_DEFAULT_ROUTE='maybe' skipped");
	assert_warned(fx, 8, "DNS_OVER_TLS='allow-downgrade' skipped");
	assert_warned(fx, 10, "MDNS='loud' skipped");
	assert_int_equal(fx->n_warnings, 9);

	/* What was good is kept. */
	assert_int_equal(s.n_servers, 2);
	assert_string_equal(server_text(&s.servers[0]), "192.0.2.1 port 53 scope 0 name -");
	assert_string_equal(server_text(&s.servers[1]), "192.0.2.2 port 53 scope 0 name -");
	assert_int_equal(s.n_domains, 3);
	assert_string_equal(domain_text(&s.domains[0]), "good.example");
	assert_string_equal(domain_text(&s.domains[1]), "ok.example");
	assert_string_equal(domain_text(&s.domains[2]), "~fine.example");
	assert_int_equal(s.default_route, -1);
	assert_int_equal(s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_UNSET);
	assert_int_equal(s.modes[LINK_FEATURE_DNSSEC], LINK_MODE_YES);
	assert_int_equal(s.modes[LINK_FEATURE_MDNS], LINK_MODE_UNSET);
	link_settings_clear(&s);
}

/* The last line of a key wins; the same server or domain twice is one; a
 * search domain needs no route-only twin; quotes and blanks are allowed. */
static void test_repeats_quotes_and_blanks(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;

	assert_int_equal(parse_text(fx, "DNS=192.0.2.1\n"
					"  DNS = \"192.0.2.2  192.0.2.2\t192.0.2.3\"  \r\n"
					"DOMAINS=a.example\n"
					"DOMAINS=b.example B.EXAMPLE\n"
					"ROUTE_DOMAINS=b.example c.example\n"
					"; a comment\n"
					"\n"
					"DNS_DEFAULT_ROUTE=yes\n"
					"DNS_DEFAULT_ROUTE=no\n",
				    &s),
			 0);
	assert_int_equal(fx->n_warnings, 0);
	assert_int_equal(s.n_servers, 2);
	assert_string_equal(server_text(&s.servers[0]), "192.0.2.2 port 53 scope 0 name -");
	assert_string_equal(server_text(&s.servers[1]), "192.0.2.3 port 53 scope 0 name -");
	assert_int_equal(s.n_domains, 2);
	assert_string_equal(domain_text(&s.domains[0]), "b.example");
	assert_string_equal(domain_text(&s.domains[1]), "~c.example");
	assert_int_equal(s.default_route, 0);
	link_settings_clear(&s);
}

/* resolved leaves alone a link networkd has not taken on; so does stubd. */
static void test_unmanaged_link_says_nothing(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	static const char *const states[] = { "pending", "initialized", "unmanaged" };

	for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		char text[256];
		snprintf(text, sizeof(text), "ADMIN_STATE=%s\nDNS=192.0.2.1\nDOMAINS=x.example\n"
			 "DNS_DEFAULT_ROUTE=yes\nLLMNR=no\n", states[i]);
		assert_int_equal(parse_text(fx, text, &s), 0);
		assert_unset(&s);
	}
	assert_int_equal(parse_text(fx, "ADMIN_STATE=configuring\nDNS=192.0.2.1\n", &s), 0);
	assert_int_equal(s.n_servers, 1);
	link_settings_clear(&s);
	assert_int_equal(fx->n_warnings, 0);
}

/* Bytes no networkd wrote: no crash, nothing set, a bounded number of
 * warnings. */
static void test_garbage_file(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	unsigned char junk[8192];
	uint32_t x = 2463534242u;

	for (size_t i = 0; i < sizeof(junk); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		junk[i] = (unsigned char)x;
		if (junk[i] == '=')
			junk[i] = 'x'; /* no line can be a key by chance */
	}
	write_file(fx->file, (const char *)junk, sizeof(junk));
	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, warn_collect, fx), 0);
	assert_unset(&s);
	assert_int_equal(fx->n_warnings, NETWORKD_MAX_WARNINGS + 1);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s: more problems, not reported", fx->file);
	assert_string_equal(fx->warnings[NETWORKD_MAX_WARNINGS], want);
}

/* A NUL byte or an overlong line costs that line only. */
static void test_nul_and_long_lines(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	size_t long_len = NETWORKD_LINE_MAX + 100;
	char *text = malloc(long_len + 256);
	assert_non_null(text);

	size_t n = (size_t)sprintf(text, "DOMAINS=a.example\nDNS=192.0.2.1");
	text[n++] = '\0';
	n += (size_t)sprintf(text + n, "\nDNS=");
	while (n < long_len)
		n += (size_t)sprintf(text + n, "192.0.2.9 ");
	n += (size_t)sprintf(text + n, "\nDNS_OVER_TLS=yes\n");
	write_file(fx->file, text, n);
	free(text);

	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, warn_collect, fx), 0);
	assert_warned(fx, 2, "NUL byte");
	assert_warned(fx, 3, "line longer than 16384 bytes, skipped");
	assert_int_equal(fx->n_warnings, 2);
	assert_false(s.has_servers);
	assert_int_equal(s.n_domains, 1);
	assert_int_equal(s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_YES);
	link_settings_clear(&s);
}

/* Past NETWORKD_FILE_MAX the file is not one networkd wrote: what comes
 * after is ignored, what came before counts. */
static void test_file_too_long(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	size_t size = NETWORKD_FILE_MAX + 4096;
	char *text = malloc(size + 64);
	assert_non_null(text);
	size_t n = (size_t)sprintf(text, "DNS=192.0.2.1\n");
	while (n < size)
		n += (size_t)sprintf(text + n, "# padding padding padding\n");
	n += (size_t)sprintf(text + n, "DNS_OVER_TLS=yes\n");
	write_file(fx->file, text, n);
	free(text);

	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, warn_collect, fx), 0);
	assert_int_equal(fx->n_warnings, 1);
	assert_non_null(strstr(fx->warnings[0], "longer than 65536 bytes; what follows line "));
	assert_int_equal(s.n_servers, 1);
	assert_int_equal(s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_UNSET);
	link_settings_clear(&s);
}

static void test_not_a_regular_file(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;
	char target[PATH_MAX + 8];

	/* No file: an error, but no warning (the watch knows why). */
	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, warn_collect, fx), -ENOENT);
	assert_unset(&s);
	assert_int_equal(fx->n_warnings, 0);

	assert_int_equal(mkdir(fx->file, 0755), 0);
	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, warn_collect, fx), -EISDIR);
	assert_unset(&s);
	assert_int_equal(fx->n_warnings, 1);
	assert_non_null(strstr(fx->warnings[0], "is a directory"));
	assert_int_equal(rmdir(fx->file), 0);

	snprintf(target, sizeof(target), "%s/real", fx->root);
	write_file(target, "DNS=192.0.2.1\n", 14);
	assert_int_equal(symlink(target, fx->file), 0);
	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, warn_collect, fx), -ELOOP);
	assert_unset(&s);
	assert_int_equal(fx->n_warnings, 2);
	assert_non_null(strstr(fx->warnings[1], "is a symbolic link"));
	assert_int_equal(unlink(fx->file), 0);

	/* A FIFO would block a reader that opened it plainly. */
	assert_int_equal(mkfifo(fx->file, 0644), 0);
	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, warn_collect, fx), -EINVAL);
	assert_unset(&s);
	assert_int_equal(fx->n_warnings, 3);
	assert_non_null(strstr(fx->warnings[2], "not a regular file"));
}

/* warn NULL logs instead; the result is the same. */
static void test_default_warn(void **state)
{
	struct fixture *fx = *state;
	struct link_settings s;

	write_file(fx->file, "DNS=192.0.2.1 bogus\n", 20);
	assert_int_equal(networkd_parse_file(fx->file, IFX, &s, NULL, NULL), 0);
	assert_int_equal(s.n_servers, 1);
	link_settings_clear(&s);
}

/* ---- the watch ----------------------------------------------------------- */

static void on_change(void *arg, unsigned ifindex, struct link_settings *s)
{
	struct fixture *fx = arg;
	assert_true(fx->n_events < MAX_EVENTS);
	struct event_seen *e = &fx->events[fx->n_events++];
	e->ifindex = ifindex;
	e->gone = s == NULL;
	link_settings_init(&e->s);
	if (!s)
		return;
	if (fx->take) {
		e->s = *s;              /* as link_set() does: moved out */
		link_settings_init(s);
	} else {
		/* Leaves s to the watch; records only the servers. */
		e->s.has_servers = s->has_servers;
		e->s.n_servers = s->n_servers;
		e->s.servers = malloc(s->n_servers * sizeof(*s->servers) + 1);
		assert_non_null(e->s.servers);
		memcpy(e->s.servers, s->servers, s->n_servers * sizeof(*s->servers));
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	struct fixture *fx = arg;
	fx->timed_out = true;
}

/* Runs the loop until n events in all have come, or WAIT_SECONDS pass. */
static void wait_events(struct fixture *fx, size_t n)
{
	struct timeval limit = { .tv_sec = WAIT_SECONDS };
	struct event *deadline = evtimer_new(fx->base, on_deadline, fx);
	assert_non_null(deadline);
	fx->timed_out = false;
	evtimer_add(deadline, &limit);
	while (fx->n_events < n && !fx->timed_out)
		event_base_loop(fx->base, EVLOOP_ONCE);
	event_free(deadline);
	if (fx->n_events < n)
		fail_msg("%zu events after %d s, expected %zu", fx->n_events, WAIT_SECONDS, n);
}

/* Nothing more is pending: the loop has nothing to hand out now. */
static void assert_no_more_events(struct fixture *fx, size_t n)
{
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	event_base_loop(fx->base, EVLOOP_NONBLOCK);
	assert_int_equal(fx->n_events, n);
}

/* As networkd does: a temporary name in the same folder, then rename(). */
static void networkd_writes(struct fixture *fx, unsigned ifindex, const char *text)
{
	char tmp[PATH_MAX + 32], path[PATH_MAX + 16];
	snprintf(tmp, sizeof(tmp), "%s/.#%uXyZ123", fx->links, ifindex);
	snprintf(path, sizeof(path), "%s/%u", fx->links, ifindex);
	write_file(tmp, text, strlen(text));
	assert_int_equal(rename(tmp, path), 0);
}

static void networkd_removes(struct fixture *fx, unsigned ifindex)
{
	char path[PATH_MAX + 16];
	snprintf(path, sizeof(path), "%s/%u", fx->links, ifindex);
	assert_int_equal(unlink(path), 0);
}

static void start_watch(struct fixture *fx)
{
	char err[256] = "";
	fx->watch = networkd_watch_new(fx->base, fx->links, on_change, fx, err, sizeof(err));
	if (!fx->watch)
		fail_msg("networkd_watch_new: %s", err);
}

static void assert_servers_event(const struct event_seen *e, unsigned ifindex, const char *first,
				 size_t n)
{
	assert_int_equal(e->ifindex, ifindex);
	assert_false(e->gone);
	assert_true(e->s.has_servers);
	assert_int_equal(e->s.n_servers, n);
	assert_string_equal(server_text(&e->s.servers[0]), first);
}

/* Files already there are reported from inside networkd_watch_new(). */
static void test_watch_reports_files_at_start(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mkdir(fx->links, 0755), 0);
	networkd_writes(fx, 2, "ADMIN_STATE=configured\nDNS=192.0.2.2\n");
	networkd_writes(fx, 3, "ADMIN_STATE=configured\nDNS=192.0.2.3 192.0.2.33\n");
	char lease[PATH_MAX + 16];
	snprintf(lease, sizeof(lease), "%s/lo", fx->links);
	write_file(lease, "DNS=192.0.2.99\n", 15);

	start_watch(fx);
	assert_int_equal(fx->n_events, 2);
	const struct event_seen *two = fx->events[0].ifindex == 2 ? &fx->events[0] : &fx->events[1];
	const struct event_seen *three = fx->events[0].ifindex == 3 ? &fx->events[0] : &fx->events[1];
	assert_servers_event(two, 2, "192.0.2.2 port 53 scope 0 name -", 1);
	assert_servers_event(three, 3, "192.0.2.3 port 53 scope 0 name -", 2);
	assert_no_more_events(fx, 2);
}

static void test_watch_create_replace_remove(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(mkdir(fx->links, 0755), 0);
	start_watch(fx);
	assert_int_equal(fx->n_events, 0);

	networkd_writes(fx, 7, real_file);
	wait_events(fx, 1);
	assert_servers_event(&fx->events[0], 7, "192.0.2.53 port 53 scope 0 name -", 8);
	assert_int_equal(fx->events[0].s.n_domains, 4);
	assert_int_equal(fx->events[0].s.default_route, 0);
	assert_int_equal(fx->events[0].s.modes[LINK_FEATURE_DNS_OVER_TLS], LINK_MODE_OPPORTUNISTIC);

	networkd_writes(fx, 7, "ADMIN_STATE=configured\nDNS=198.51.100.7\nDOMAINS=\n");
	wait_events(fx, 2);
	assert_servers_event(&fx->events[1], 7, "198.51.100.7 port 53 scope 0 name -", 1);
	assert_true(fx->events[1].s.has_domains);
	assert_int_equal(fx->events[1].s.n_domains, 0);
	assert_int_equal(fx->events[1].s.default_route, -1);

	networkd_removes(fx, 7);
	wait_events(fx, 3);
	assert_int_equal(fx->events[2].ifindex, 7);
	assert_true(fx->events[2].gone);
	assert_no_more_events(fx, 3);
}

/* A plain write (not networkd's way) counts once it is closed. */
static void test_watch_plain_write(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX + 16];

	assert_int_equal(mkdir(fx->links, 0755), 0);
	start_watch(fx);
	fx->take = false; /* the watch frees what fn leaves */
	snprintf(path, sizeof(path), "%s/12", fx->links);
	write_file(path, "DNS=192.0.2.12\n", 15);
	wait_events(fx, 1);
	assert_servers_event(&fx->events[0], 12, "192.0.2.12 port 53 scope 0 name -", 1);
}

/* Names that are no ifindex are networkd's temporary files, or not
 * networkd's at all: no callback, before or after the rename. */
static void test_watch_ignores_other_names(void **state)
{
	struct fixture *fx = *state;
	static const char *const names[] = { "lo", "eth0", "0", "007", "-3", "3a", "99999999999",
					     ".#5abc" };
	char path[PATH_MAX + 32];

	assert_int_equal(mkdir(fx->links, 0755), 0);
	start_watch(fx);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->links, names[i]);
		write_file(path, "DNS=192.0.2.1\n", 14);
	}
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->links, names[i]);
		assert_int_equal(unlink(path), 0);
	}
	/* Events come in order: had any name above counted, it would be first. */
	networkd_writes(fx, 5, "DNS=192.0.2.5\n");
	wait_events(fx, 1);
	assert_servers_event(&fx->events[0], 5, "192.0.2.5 port 53 scope 0 name -", 1);
	assert_no_more_events(fx, 1);
}

/* networkd may start after stubd: the folder appears later. */
static void test_watch_dir_created_later(void **state)
{
	struct fixture *fx = *state;

	start_watch(fx);
	assert_int_equal(fx->n_events, 0);
	assert_no_more_events(fx, 0);

	assert_int_equal(mkdir(fx->links, 0755), 0);
	networkd_writes(fx, 4, "ADMIN_STATE=configured\nDNS=192.0.2.4\n");
	wait_events(fx, 1);
	assert_servers_event(&fx->events[0], 4, "192.0.2.4 port 53 scope 0 name -", 1);

	/* From then on, changes come through inotify. */
	networkd_writes(fx, 4, "ADMIN_STATE=configured\nDNS=192.0.2.44\n");
	wait_events(fx, 2);
	assert_servers_event(&fx->events[1], 4, "192.0.2.44 port 53 scope 0 name -", 1);
}

/* The folder moved away: its files no longer speak for their links; back
 * again, they do. */
static void test_watch_dir_goes_and_comes_back(void **state)
{
	struct fixture *fx = *state;
	char away[PATH_MAX + 8];

	assert_int_equal(mkdir(fx->links, 0755), 0);
	networkd_writes(fx, 6, "DNS=192.0.2.6\n");
	start_watch(fx);
	assert_int_equal(fx->n_events, 1);

	snprintf(away, sizeof(away), "%s/away", fx->root);
	assert_int_equal(rename(fx->links, away), 0);
	wait_events(fx, 2);
	assert_int_equal(fx->events[1].ifindex, 6);
	assert_true(fx->events[1].gone);

	assert_int_equal(rename(away, fx->links), 0);
	wait_events(fx, 3);
	assert_servers_event(&fx->events[2], 6, "192.0.2.6 port 53 scope 0 name -", 1);
}

/* A file networkd would not write there: warned about, and it says
 * nothing for its link (a link it spoke for before is dropped). */
static void test_watch_file_turns_into_symlink(void **state)
{
	struct fixture *fx = *state;
	char target[PATH_MAX + 8], link_tmp[PATH_MAX + 16], path[PATH_MAX + 16];

	assert_int_equal(mkdir(fx->links, 0755), 0);
	start_watch(fx);
	networkd_writes(fx, 8, "DNS=192.0.2.8\n");
	wait_events(fx, 1);
	assert_false(fx->events[0].gone);

	snprintf(target, sizeof(target), "%s/elsewhere", fx->root);
	write_file(target, "DNS=203.0.113.1\n", 16);
	snprintf(link_tmp, sizeof(link_tmp), "%s/.#8link", fx->links);
	snprintf(path, sizeof(path), "%s/8", fx->links);
	assert_int_equal(symlink(target, link_tmp), 0);
	assert_int_equal(rename(link_tmp, path), 0);
	wait_events(fx, 2);
	assert_int_equal(fx->events[1].ifindex, 8);
	assert_true(fx->events[1].gone);

	/* Removing it now reports nothing more: it already said nothing. */
	assert_int_equal(unlink(path), 0);
	networkd_writes(fx, 9, "DNS=192.0.2.9\n");
	wait_events(fx, 3);
	assert_int_equal(fx->events[2].ifindex, 9);
	assert_no_more_events(fx, 3);
}

static void test_watch_free_null(void **state)
{
	networkd_watch_free(NULL);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_real_file),
		TEST(test_absent_keys_stay_unset),
		TEST(test_empty_values_set_none),
		TEST(test_bad_items_are_skipped_and_named),
		TEST(test_repeats_quotes_and_blanks),
		TEST(test_unmanaged_link_says_nothing),
		TEST(test_garbage_file),
		TEST(test_nul_and_long_lines),
		TEST(test_file_too_long),
		TEST(test_not_a_regular_file),
		TEST(test_default_warn),
		TEST(test_watch_reports_files_at_start),
		TEST(test_watch_create_replace_remove),
		TEST(test_watch_plain_write),
		TEST(test_watch_ignores_other_names),
		TEST(test_watch_dir_created_later),
		TEST(test_watch_dir_goes_and_comes_back),
		TEST(test_watch_file_turns_into_symlink),
		TEST(test_watch_free_null),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
