/* test_config.c - scenarios for stubd's settings: defaults, the config
 * file, the command line, upstreams from resolv.conf and --check-config. */
#include <errno.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "stubd/config.h"

#ifndef STUBD_SOURCE_DIR
#define STUBD_SOURCE_DIR "."
#endif

#define ARGC(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct fixture {
	char dir[64];
	char conf[PATH_MAX];   /* dir/stubd.conf */
	char resolv[PATH_MAX]; /* dir/resolv.conf */
	char log[8192];        /* stderr of the last logged() call */
	int saved_stderr;
	int log_fd;
};

static struct config cfg;
static struct config_error err;

static int setup(void **state)
{
	struct fixture *fx = calloc(1, sizeof(*fx));
	assert_non_null(fx);
	snprintf(fx->dir, sizeof(fx->dir), "/tmp/stubd-test-config-XXXXXX");
	assert_non_null(mkdtemp(fx->dir));
	snprintf(fx->conf, sizeof(fx->conf), "%s/stubd.conf", fx->dir);
	snprintf(fx->resolv, sizeof(fx->resolv), "%s/resolv.conf", fx->dir);
	/* The foreground default depends on these; tests start outside systemd. */
	unsetenv("INVOCATION_ID");
	unsetenv("NOTIFY_SOCKET");
	memset(&err, 0, sizeof(err));
	*state = fx;
	return 0;
}

static const char *const temp_files[] = { "stubd.conf", "resolv.conf", "printed.conf",
					  "other.conf", "stderr" };

static int teardown(void **state)
{
	struct fixture *fx = *state;
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(temp_files) / sizeof(temp_files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", fx->dir, temp_files[i]);
		unlink(path);
	}
	snprintf(path, sizeof(path), "%s/subdir", fx->dir);
	rmdir(path);
	assert_int_equal(rmdir(fx->dir), 0);
	free(fx);
	return 0;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_true(fputs(text, f) >= 0);
	assert_int_equal(fclose(f), 0);
}

static char *temp_path(struct fixture *fx, const char *name)
{
	static char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s", fx->dir, name);
	return path;
}

/* Sends stderr (where log_msg writes) to a file until log_end(). */
static void log_begin(struct fixture *fx)
{
	fflush(stderr);
	fx->saved_stderr = dup(STDERR_FILENO);
	fx->log_fd = open(temp_path(fx, "stderr"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fx->saved_stderr >= 0 && fx->log_fd >= 0);
	dup2(fx->log_fd, STDERR_FILENO);
}

static const char *log_end(struct fixture *fx)
{
	fflush(stderr);
	dup2(fx->saved_stderr, STDERR_FILENO);
	close(fx->saved_stderr);
	ssize_t len = pread(fx->log_fd, fx->log, sizeof(fx->log) - 1, 0);
	fx->log[len > 0 ? len : 0] = '\0';
	close(fx->log_fd);
	return fx->log;
}

static const char *str(const struct netaddr *a)
{
	static char buf[4][NETADDR_STRLEN];
	static int next;
	next = (next + 1) % 4;
	return netaddr_str(a, buf[next], sizeof(buf[next]));
}

/* config_print into a malloc'd string. */
static char *print_to_string(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	config_print(c, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* Loads text as a config file over the defaults. */
static int load_text(struct fixture *fx, const char *text)
{
	write_file(fx->conf, text);
	config_defaults(&cfg);
	return config_load_file(&cfg, fx->conf, &err);
}

/* Asserts that loading text fails with exactly "CONF:LINE: rest". */
static void assert_load_error(struct fixture *fx, const char *text, unsigned line,
			      const char *rest)
{
	char want[sizeof(err.msg) + PATH_MAX];
	assert_int_equal(load_text(fx, text), -EINVAL);
	snprintf(want, sizeof(want), "%s:%u: %s", fx->conf, line, rest);
	assert_string_equal(err.msg, want);
}

/* Asserts that config_set(key, value) fails with exactly msg. */
static void assert_set_error(const char *key, const char *value, const char *msg)
{
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, key, value, &err), -EINVAL);
	assert_string_equal(err.msg, msg);
}

/* ---- defaults -------------------------------------------------------- */

static void test_defaults(void **state)
{
	config_defaults(&cfg);
	assert_string_equal(cfg.config_file, "");
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(str(&cfg.listen[0]), "127.0.0.53:53");
	assert_int_equal(cfg.n_upstream, 0);
	assert_false(cfg.upstream_from_resolv_conf);
	assert_string_equal(cfg.resolv_conf, "/etc/resolv.conf");
	assert_string_equal(cfg.hosts_file, "/etc/hosts");
	assert_string_equal(cfg.control_socket, "/run/stubd/control.sock");
	assert_int_equal(cfg.cache_size, 10000);
	assert_int_equal(cfg.upstream_strategy, POLICY_FASTEST);
	assert_int_equal(cfg.dbus, CONFIG_DBUS_AUTO);
	assert_int_equal(cfg.upstream_timeout_ms, 1000);
	assert_int_equal(cfg.query_timeout_ms, 5000);
	assert_int_equal(cfg.edns_buffer_size, 1232);
	assert_int_equal(cfg.tcp_idle_timeout_ms, 10000);
	assert_int_equal(cfg.tcp_max_clients, 256);
	assert_int_equal(cfg.tcp_max_queries, 64);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);
	assert_int_equal(cfg.foreground, geteuid() != 0);
}

static void test_foreground_default_under_systemd(void **state)
{
	setenv("INVOCATION_ID", "0123456789abcdef", 1);
	config_defaults(&cfg);
	assert_true(cfg.foreground);
	unsetenv("INVOCATION_ID");

	setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
	config_defaults(&cfg);
	assert_true(cfg.foreground);
	unsetenv("NOTIFY_SOCKET");

	/* Set but empty is not systemd. */
	setenv("INVOCATION_ID", "", 1);
	config_defaults(&cfg);
	assert_int_equal(cfg.foreground, geteuid() != 0);
	unsetenv("INVOCATION_ID");
}

/* ---- config_set: each key, valid and invalid ------------------------- */

struct number_key {
	const char *key;
	size_t offset;
	unsigned min, max;
	bool duration;
};

static const struct number_key number_keys[] = {
	{ "cache-size", offsetof(struct config, cache_size), 0, 10000000, false },
	{ "upstream-timeout", offsetof(struct config, upstream_timeout_ms), 50, 30000, true },
	{ "query-timeout", offsetof(struct config, query_timeout_ms), 100, 60000, true },
	{ "edns-buffer-size", offsetof(struct config, edns_buffer_size), 512, 4096, false },
	{ "tcp-idle-timeout", offsetof(struct config, tcp_idle_timeout_ms), 100, 600000, true },
	{ "tcp-max-clients", offsetof(struct config, tcp_max_clients), 1, 65535, false },
	{ "tcp-max-queries", offsetof(struct config, tcp_max_queries), 1, 1024, false },
};

static unsigned number_field(const struct number_key *nk)
{
	return *(const unsigned *)((const char *)&cfg + nk->offset);
}

static void range_error(const struct number_key *nk, const char *value, char *buf, size_t size)
{
	if (nk->duration)
		snprintf(buf, size,
			 "key '%s': '%s' is not a duration from %u to %u ms (a plain number is "
			 "ms; 1500ms, 2s, 15min and 1h also work)",
			 nk->key, value, nk->min, nk->max);
	else
		snprintf(buf, size, "key '%s': '%s' is not a number from %u to %u", nk->key, value,
			 nk->min, nk->max);
}

static void test_numbers_accept_their_bounds(void **state)
{
	char value[32];

	for (size_t i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]); i++) {
		const struct number_key *nk = &number_keys[i];
		config_defaults(&cfg);
		snprintf(value, sizeof(value), "%u", nk->min);
		assert_int_equal(config_set(&cfg, nk->key, value, &err), 0);
		assert_int_equal(number_field(nk), nk->min);
		snprintf(value, sizeof(value), "%u", nk->max);
		assert_int_equal(config_set(&cfg, nk->key, value, &err), 0);
		assert_int_equal(number_field(nk), nk->max);
	}
}

static void test_numbers_reject_out_of_range(void **state)
{
	char value[32], want[256];

	for (size_t i = 0; i < sizeof(number_keys) / sizeof(number_keys[0]); i++) {
		const struct number_key *nk = &number_keys[i];
		snprintf(value, sizeof(value), "%u", nk->max + 1);
		range_error(nk, value, want, sizeof(want));
		assert_set_error(nk->key, value, want);
		if (nk->min == 0)
			continue;
		snprintf(value, sizeof(value), "%u", nk->min - 1);
		range_error(nk, value, want, sizeof(want));
		assert_set_error(nk->key, value, want);
	}
}

static void test_numbers_reject_non_numbers(void **state)
{
	static const char *const bad[] = { "ten", "-1", "+5", "1e3", "0x10", "5 ", "12abc",
					   "99999999999999999999999999" };
	char want[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want), "key 'cache-size': '%s' is not a number from 0 to 10000000",
			 bad[i]);
		assert_set_error("cache-size", bad[i], want);
	}
}

static void test_workers(void **state)
{
	config_defaults(&cfg);
	assert_int_equal(cfg.workers, 1); /* one loop unless asked: a desktop needs no more */
	assert_int_equal(config_set(&cfg, "workers", "auto", &err), 0);
	assert_int_equal(cfg.workers, CONFIG_WORKERS_AUTO);
	assert_int_equal(config_set(&cfg, "workers", "4", &err), 0);
	assert_int_equal(cfg.workers, 4);
	assert_int_equal(config_set(&cfg, "workers", "64", &err), 0);
	assert_int_equal(cfg.workers, 64);
	assert_set_error("workers", "0", "key 'workers': '0' is neither 'auto' nor a number from 1 to 64");
	assert_set_error("workers", "65", "key 'workers': '65' is neither 'auto' nor a number from 1 to 64");
	assert_set_error("workers", "Auto", "key 'workers': 'Auto' is neither 'auto' nor a number from 1 to 64");

	enum config_action action;
	char *argv[] = { "stubd", "--workers", "auto", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), 0);
	assert_int_equal(cfg.workers, CONFIG_WORKERS_AUTO);
	char *bad[] = { "stubd", "--workers", "many", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(bad) - 1, bad, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--workers: 'many' is neither 'auto' nor a number from 1 to 64");
}

static void test_durations_take_ms_and_s(void **state)
{
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "upstream-timeout", "2s", &err), 0);
	assert_int_equal(cfg.upstream_timeout_ms, 2000);
	assert_int_equal(config_set(&cfg, "upstream-timeout", "1500ms", &err), 0);
	assert_int_equal(cfg.upstream_timeout_ms, 1500);
	assert_int_equal(config_set(&cfg, "upstream-timeout", "750", &err), 0);
	assert_int_equal(cfg.upstream_timeout_ms, 750);
	assert_int_equal(config_set(&cfg, "query-timeout", "60s", &err), 0);
	assert_int_equal(cfg.query_timeout_ms, 60000);
	assert_int_equal(config_set(&cfg, "tcp-idle-timeout", "600s", &err), 0);
	assert_int_equal(cfg.tcp_idle_timeout_ms, 600000);
}

static void test_durations_reject_bad_units_and_range(void **state)
{
	static const char *const bad[] = { "31s", "49ms", "2 s", "1.5s", "s", "ms", "2m", "2S",
					   "99999999999999999999s" };
	char want[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want),
			 "key 'upstream-timeout': '%s' is not a duration from 50 to 30000 ms "
			 "(a plain number is ms; 1500ms, 2s, 15min and 1h also work)",
			 bad[i]);
		assert_set_error("upstream-timeout", bad[i], want);
	}
}

static void test_sizes_take_suffixes(void **state)
{
	config_defaults(&cfg);
	assert_int_equal(cfg.cache_memory, 64u * 1024 * 1024);
	assert_int_equal(config_set(&cfg, "cache-memory", "512K", &err), 0);
	assert_int_equal(cfg.cache_memory, 512u * 1024);
	assert_int_equal(config_set(&cfg, "cache-memory", "2m", &err), 0);
	assert_int_equal(cfg.cache_memory, 2u * 1024 * 1024);
	assert_int_equal(config_set(&cfg, "cache-memory", "1G", &err), 0);
	assert_int_equal(cfg.cache_memory, 1024u * 1024 * 1024);
	assert_int_equal(config_set(&cfg, "cache-memory", "65536", &err), 0);
	assert_int_equal(cfg.cache_memory, 65536);

	static const char *const bad[] = { "65535", "4G", "12T", "1.5M", "M", "-1M", "64 M" };
	char want[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want),
			 "key 'cache-memory': '%s' is not a size from 65536 to 4294967295 bytes "
			 "(512K, 64M, 1G also work)",
			 bad[i]);
		assert_set_error("cache-memory", bad[i], want);
	}
}

static void test_control_group(void **state)
{
	config_defaults(&cfg);
	assert_string_equal(cfg.control_group, "stubd");
	assert_int_equal(config_set(&cfg, "control-group", "dns-admins_2", &err), 0);
	assert_string_equal(cfg.control_group, "dns-admins_2");
	static const char *const bad[] = { "Admins", "2x", "a b", "wheel;rm",
		"a123456789012345678901234567890123456789012345678901234567890123" };
	char want[256];
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(want, sizeof(want),
			 "key 'control-group': '%s' is not a group name (lower-case letters, "
			 "digits, _ and -, at most 63 characters)", bad[i]);
		assert_set_error("control-group", bad[i], want);
		snprintf(want, sizeof(want),
			 "key 'user': '%s' is not a user name (lower-case letters, "
			 "digits, _ and -, at most 63 characters)", bad[i]);
		assert_set_error("user", bad[i], want);
		continue;
		assert_set_error("control-group", bad[i], want);
	}
}

static void test_allow_blocks(void **state)
{
	config_defaults(&cfg);
	assert_int_equal(cfg.n_allow, 0);
	assert_int_equal(config_set(&cfg, "allow", "192.168.1.7/24", &err), 0);
	assert_int_equal(config_set(&cfg, "allow", "2001:db8::/32", &err), 0);
	assert_int_equal(cfg.n_allow, 2);
	assert_int_equal(cfg.allow[0].len, 24);
	assert_int_equal(cfg.allow[0].bytes[3], 0); /* host bits cleared */
	assert_set_error("allow", "192.168.1.0/33",
			 "key 'allow': '192.168.1.0/33' is not an address block (expected "
			 "ADDR/LEN, e.g. 192.168.1.0/24 or 2001:db8::/32)");
	assert_set_error("allow", "lan",
			 "key 'allow': 'lan' is not an address block (expected ADDR/LEN, e.g. "
			 "192.168.1.0/24 or 2001:db8::/32)");
	assert_int_equal(cfg.max_inflight, 1024);
}

static void test_booleans(void **state)
{
	static const char *const yes[] = { "yes", "true", "on", "1", "YES", "True" };
	static const char *const no[] = { "no", "false", "off", "0", "No" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		cfg.foreground = false;
		assert_int_equal(config_set(&cfg, "foreground", yes[i], &err), 0);
		assert_true(cfg.foreground);
	}
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		cfg.foreground = true;
		assert_int_equal(config_set(&cfg, "foreground", no[i], &err), 0);
		assert_false(cfg.foreground);
	}
	assert_set_error("foreground", "maybe",
			 "key 'foreground': 'maybe' is not yes or no (also true/false, on/off, 1/0)");
	assert_set_error("foreground", "2",
			 "key 'foreground': '2' is not yes or no (also true/false, on/off, 1/0)");
}

static void test_log_levels(void **state)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };

	config_defaults(&cfg);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(config_set(&cfg, "log-level", names[i], &err), 0);
		assert_int_equal(cfg.log_level, i);
	}
	assert_set_error("log-level", "verbose",
			 "key 'log-level': 'verbose' is not a log level (expected error, "
			 "warning, info or debug)");
}

/* dbus: auto, or a boolean in any of config_parse_bool's words. */
static void test_dbus_setting(void **state)
{
	(void)state;
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "dbus", "no", &err), 0);
	assert_int_equal(cfg.dbus, CONFIG_DBUS_NO);
	assert_int_equal(config_set(&cfg, "dbus", "true", &err), 0);
	assert_int_equal(cfg.dbus, CONFIG_DBUS_YES);
	assert_int_equal(config_set(&cfg, "dbus", "AUTO", &err), 0);
	assert_int_equal(cfg.dbus, CONFIG_DBUS_AUTO);
	assert_set_error("dbus", "maybe", "key 'dbus': 'maybe' is not auto, yes or no");
}

/* DNS over TLS: its mode (off unless asked), the CA file, the idle timeout. */
static void test_dns_over_tls_settings(void **state)
{
	(void)state;
	config_defaults(&cfg);
	assert_int_equal(cfg.dns_over_tls, ROUTE_TLS_NO);
	assert_string_equal(cfg.tls_ca_file, "");
	assert_int_equal(cfg.tls_idle_timeout_ms, 10000);
	assert_int_equal(config_set(&cfg, "dns-over-tls", "opportunistic", &err), 0);
	assert_int_equal(cfg.dns_over_tls, ROUTE_TLS_OPPORTUNISTIC);
	assert_int_equal(config_set(&cfg, "dns-over-tls", "yes", &err), 0);
	assert_int_equal(cfg.dns_over_tls, ROUTE_TLS_YES);
	assert_int_equal(config_set(&cfg, "dns-over-tls", "off", &err), 0);
	assert_int_equal(cfg.dns_over_tls, ROUTE_TLS_NO);
	assert_set_error("dns-over-tls", "strict",
			 "key 'dns-over-tls': 'strict' is not no, opportunistic or yes");
	assert_int_equal(config_set(&cfg, "tls-ca-file", "/etc/stubd/ca.pem", &err), 0);
	assert_string_equal(cfg.tls_ca_file, "/etc/stubd/ca.pem");
	assert_int_equal(config_set(&cfg, "tls-idle-timeout", "30s", &err), 0);
	assert_int_equal(cfg.tls_idle_timeout_ms, 30000);
	assert_set_error("tls-idle-timeout", "50",
			 "key 'tls-idle-timeout': '50' is not a duration from 100 to 600000 ms "
			 "(a plain number is ms; 1500ms, 2s, 15min and 1h also work)");
}

static void test_upstream_strategy(void **state)
{
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "upstream-strategy", "order", &err), 0);
	assert_int_equal(cfg.upstream_strategy, POLICY_ORDER);
	assert_int_equal(config_set(&cfg, "upstream-strategy", "fastest", &err), 0);
	assert_int_equal(cfg.upstream_strategy, POLICY_FASTEST);
	assert_set_error("upstream-strategy", "random",
			 "key 'upstream-strategy': 'random' is not a strategy (expected fastest "
			 "or order)");
	assert_set_error("upstream-strategy", "Order",
			 "key 'upstream-strategy': 'Order' is not a strategy (expected fastest "
			 "or order)");
	assert_set_error("upstream-strategy", "",
			 "key 'upstream-strategy': empty value (expected fastest or order)");
	/* A typo is caught as any other key's. */
	assert_set_error("upstream-stategy", "order",
			 "key 'upstream-stategy': unknown key (see conf/stubd.conf for the list); "
			 "did you mean 'upstream-strategy'?");
}

static void test_paths(void **state)
{
	char path[PATH_MAX + 1];
	char want[512];

	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "hosts-file", "none", &err), 0);
	assert_string_equal(cfg.hosts_file, "none");
	assert_int_equal(config_set(&cfg, "resolv-conf", "/run/systemd/resolve/resolv.conf", &err), 0);
	assert_string_equal(cfg.resolv_conf, "/run/systemd/resolve/resolv.conf");

	/* The longest path that fits in sockaddr_un, and one byte more. */
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1;
	memset(path, 'a', max);
	path[0] = '/';
	path[max] = '\0';
	assert_int_equal(config_set(&cfg, "control-socket", path, &err), 0);
	assert_string_equal(cfg.control_socket, path);
	path[max] = 'a';
	path[max + 1] = '\0';
	assert_int_equal(config_set(&cfg, "control-socket", path, &err), -EINVAL);
	snprintf(want, sizeof(want), "(at most %zu bytes)", max);
	assert_non_null(strstr(err.msg, "key 'control-socket': '/aaa"));
	assert_non_null(strstr(err.msg, "' is too long for a unix socket path "));
	assert_non_null(strstr(err.msg, want));

	memset(path, 'a', PATH_MAX);
	path[PATH_MAX] = '\0';
	assert_set_error("hosts-file", path, "key 'hosts-file': path is longer than 4095 bytes");
}

/* upstream takes what resolvectl writes: a link-local address with its
 * interface (refused before), and #NAME for DNS over TLS. */
static void test_upstream_scope_and_name(void **state)
{
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "upstream", "fe80::1%lo", &err), 0);
	assert_int_equal(((struct sockaddr_in6 *)&cfg.upstream[0].addr.ss)->sin6_scope_id, 1);
	assert_int_equal(config_set(&cfg, "upstream", "9.9.9.9:853#dns.quad9.net", &err), 0);
	assert_string_equal(cfg.upstream[1].tls_name, "dns.quad9.net");
	assert_int_equal(netaddr_port(&cfg.upstream[1].addr), 853);
	assert_set_error("upstream", "fe80::1",
			 "key 'upstream': fe80::1 is an IPv6 link-local address: give its "
			 "interface, as in fe80::1%eth0");
	assert_set_error("upstream", "fe80::1%nosuchif9",
			 "key 'upstream': no interface named 'nosuchif9'");
}

/* Under systemd, RuntimeDirectory= reaches stubd as $RUNTIME_DIRECTORY:
 * the default follows it (the first of several); the file still wins. */
static void test_runtime_directory_from_env(void **state)
{
	setenv("RUNTIME_DIRECTORY", "/run/elsewhere:/run/second", 1);
	config_defaults(&cfg);
	assert_string_equal(cfg.runtime_dir, "/run/elsewhere");
	assert_int_equal(config_set(&cfg, "runtime-directory", "/run/mine", &err), 0);
	assert_string_equal(cfg.runtime_dir, "/run/mine");
	setenv("RUNTIME_DIRECTORY", "relative", 1);
	config_defaults(&cfg);
	assert_string_equal(cfg.runtime_dir, CONFIG_DEFAULT_RUNTIME_DIR);
	unsetenv("RUNTIME_DIRECTORY");
	config_defaults(&cfg);
	assert_string_equal(cfg.runtime_dir, CONFIG_DEFAULT_RUNTIME_DIR);
}

static void test_forward_zones(void **state)
{
	struct route_domain zone;
	struct route_server servers[CONFIG_ZONE_MAX_SERVERS];
	size_t n;
	char why[256];

	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "forward-zone", "corp.example 10.0.0.53 [fd00::53]:5353",
				    &err), 0);
	assert_int_equal(config_set(&cfg, "forward-zone", "10.in-addr.arpa 10.0.0.53", &err), 0);
	assert_int_equal(cfg.n_forward_zones, 2);
	assert_int_equal(config_forward_zone_parse(cfg.forward_zones[0], &zone, servers,
						   CONFIG_ZONE_MAX_SERVERS, &n, why, sizeof(why)), 0);
	assert_int_equal(n, 2);
	assert_true(zone.route_only);
	assert_int_equal(netaddr_port(&servers[1].addr), 5353);

	assert_set_error("forward-zone", "corp.example",
			 "key 'forward-zone': 'corp.example' has no servers: expected DOMAIN "
			 "SERVER..., e.g. corp.example 10.0.0.53");
	assert_set_error("forward-zone", "~corp.example 10.0.0.1",
			 "key 'forward-zone': write the zone without '~' (a forward-zone only routes)");
	assert_set_error("forward-zone", "corp..example 10.0.0.1",
			 "key 'forward-zone': domain 'corp..example': empty label in name");
	assert_set_error("forward-zone", "corp.example 10.0.0",
			 "key 'forward-zone': '10.0.0' is not an IP address with an optional port "
			 "(ADDR[:PORT][%IFACE][#NAME], IPv6 with a port as [ADDR]:PORT)");
	/* The same zone twice is a mistake: which servers were meant? */
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "forward-zone", "corp.example 10.0.0.1", &err), 0);
	assert_int_equal(config_set(&cfg, "forward-zone", "Corp.Example. 10.0.0.2", &err), -EINVAL);
	assert_string_equal(err.msg, "key 'forward-zone': a forward-zone for this domain is already "
				     "set; give all its servers on one line");
}

static void test_addresses(void **state)
{
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "listen", "[::1]:5353", &err), 0);
	assert_int_equal(cfg.n_listen, 2); /* config_set appends */
	assert_int_equal(netaddr_family(&cfg.listen[1]), AF_INET6);
	assert_int_equal(netaddr_port(&cfg.listen[1]), 5353);
	assert_string_equal(str(&cfg.listen[1]), "[::1]:5353");
	assert_int_equal(config_set(&cfg, "upstream", "192.0.2.1", &err), 0);
	assert_string_equal(str(&cfg.upstream[0].addr), "192.0.2.1:53");
	assert_int_equal(config_set(&cfg, "upstream", "2001:db8::1", &err), 0);
	assert_string_equal(str(&cfg.upstream[1].addr), "[2001:db8::1]:53");

	assert_set_error("listen", "127.0.0.300",
			 "key 'listen': '127.0.0.300' is not an address (expected ADDR[:PORT], "
			 "IPv6 as [::1]:53)");
	assert_set_error("upstream", "dns.example.org",
			 "key 'upstream': 'dns.example.org' is not an IP address with an optional port "
			 "(ADDR[:PORT][%IFACE][#NAME], IPv6 with a port as [ADDR]:PORT)");
	assert_set_error("listen", "127.0.0.1:0",
			 "key 'listen': '127.0.0.1:0' is not an address (expected ADDR[:PORT], "
			 "IPv6 as [::1]:53)");
	assert_set_error("listen", "127.0.0.1:65536",
			 "key 'listen': '127.0.0.1:65536' is not an address (expected "
			 "ADDR[:PORT], IPv6 as [::1]:53)");
}

static void test_too_many_addresses(void **state)
{
	char addr[32];

	config_defaults(&cfg);
	for (int i = 0; i < CONFIG_MAX_ADDRS; i++) {
		snprintf(addr, sizeof(addr), "192.0.2.%d", i + 1);
		assert_int_equal(config_set(&cfg, "upstream", addr, &err), 0);
	}
	assert_int_equal(cfg.n_upstream, CONFIG_MAX_ADDRS);
	assert_int_equal(config_set(&cfg, "upstream", "192.0.2.99", &err), -EINVAL);
	assert_string_equal(err.msg, "key 'upstream': too many addresses (at most 16)");
	assert_int_equal(cfg.n_upstream, CONFIG_MAX_ADDRS);
}

static void test_empty_values(void **state)
{
	assert_set_error("cache-size", "",
			 "key 'cache-size': empty value (expected a number from 0 to 10000000)");
	assert_set_error("listen", "",
			 "key 'listen': empty value (expected ADDR[:PORT], IPv6 as [::1]:53)");
	assert_set_error("hosts-file", "",
			 "key 'hosts-file': empty value (expected a file path or 'none')");
	assert_set_error("log-level", "",
			 "key 'log-level': empty value (expected error, warning, info or debug)");
	/* SPEC: an empty cache-file is 'none'. */
	config_defaults(&cfg);
	assert_string_equal(cfg.cache_file, CONFIG_DEFAULT_CACHE_FILE);
	assert_int_equal(config_set(&cfg, "cache-file", "", &err), 0);
	assert_string_equal(cfg.cache_file, "none");
	assert_int_equal(cfg.cache_save_interval_ms, 15 * 60 * 1000);
	assert_int_equal(config_set(&cfg, "cache-save-interval", "1h", &err), 0);
	assert_int_equal(cfg.cache_save_interval_ms, 60 * 60 * 1000);
	assert_int_equal(config_set(&cfg, "cache-save-interval", "0", &err), 0);
	assert_int_equal(cfg.cache_save_interval_ms, 0);
}

static void test_unknown_keys(void **state)
{
	assert_set_error("cache-sise", "5",
			 "key 'cache-sise': unknown key (see conf/stubd.conf for the list); "
			 "did you mean 'cache-size'?");
	assert_set_error("cache_size", "5",
			 "key 'cache_size': unknown key (see conf/stubd.conf for the list); "
			 "did you mean 'cache-size'?");
	assert_set_error("Listen", "5",
			 "key 'Listen': unknown key (see conf/stubd.conf for the list); "
			 "did you mean 'listen'?");
	/* The flags' names, used as keys. */
	assert_set_error("hosts", "none",
			 "key 'hosts': unknown key (see conf/stubd.conf for the list); "
			 "did you mean 'hosts-file'?");
	assert_set_error("control", "/x",
			 "key 'control': unknown key (see conf/stubd.conf for the list); "
			 "did you mean 'control-socket'?");
	/* Distance 2 (a swap) still gets a suggestion, distance 3 does not. */
	assert_set_error("cahce-size", "5",
			 "key 'cahce-size': unknown key (see conf/stubd.conf for the list); "
			 "did you mean 'cache-size'?");
	assert_set_error("cxxxe-size", "5",
			 "key 'cxxxe-size': unknown key (see conf/stubd.conf for the list)");
	assert_set_error("bogus", "5",
			 "key 'bogus': unknown key (see conf/stubd.conf for the list)");
}

/* ---- config file ----------------------------------------------------- */

static void test_file_sets_every_key(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load_text(fx, "listen = 127.0.0.1:5300\n"
				       "listen = [::1]:5353\n"
				       "upstream = 192.0.2.1\n"
				       "upstream = [2001:db8::1]:5353\n"
				       "resolv-conf = /tmp/none/resolv.conf\n"
				       "hosts-file = none\n"
				       "control-socket = /tmp/stubd.sock\n"
				       "cache-size = 0\n"
				       "upstream-strategy = order\n"
				       "upstream-timeout = 2s\n"
				       "query-timeout = 7000ms\n"
				       "edns-buffer-size = 4096\n"
				       "tcp-idle-timeout = 500\n"
				       "tcp-max-clients = 1\n"
				       "tcp-max-queries = 1024\n"
				       "log-level = debug\n"
				       "foreground = yes\n"),
			 0);
	/* The file's first listen line replaced the default. */
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(str(&cfg.listen[0]), "127.0.0.1:5300");
	assert_string_equal(str(&cfg.listen[1]), "[::1]:5353");
	assert_int_equal(cfg.n_upstream, 2);
	assert_string_equal(str(&cfg.upstream[0].addr), "192.0.2.1:53");
	assert_string_equal(str(&cfg.upstream[1].addr), "[2001:db8::1]:5353");
	assert_string_equal(cfg.resolv_conf, "/tmp/none/resolv.conf");
	assert_string_equal(cfg.hosts_file, "none");
	assert_string_equal(cfg.control_socket, "/tmp/stubd.sock");
	assert_int_equal(cfg.cache_size, 0);
	assert_int_equal(cfg.upstream_strategy, POLICY_ORDER);
	assert_int_equal(cfg.upstream_timeout_ms, 2000);
	assert_int_equal(cfg.query_timeout_ms, 7000);
	assert_int_equal(cfg.edns_buffer_size, 4096);
	assert_int_equal(cfg.tcp_idle_timeout_ms, 500);
	assert_int_equal(cfg.tcp_max_clients, 1);
	assert_int_equal(cfg.tcp_max_queries, 1024);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_true(cfg.foreground);
	/* Loading a file does not claim to be "the" config file: that is
	 * config_from_args' business. */
	assert_string_equal(cfg.config_file, "");
}

static void test_file_comments_blanks_and_whitespace(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load_text(fx, "# a comment\n"
				       "\n"
				       "   \t\n"
				       "   # an indented comment = with an equals sign\n"
				       "  cache-size\t=   42   # trailing comment\n"
				       "hosts-file = /srv/hosts#1 # '#' inside a value stays\n"
				       "log-level=warning\r\n"
				       "control-socket = /tmp/with space.sock\n"
				       "upstream = 192.0.2.1#not-a-comment..but-a-bad-name\n"),
			 -EINVAL);
	/* Everything up to the bad line took effect. */
	assert_int_equal(cfg.cache_size, 42);
	assert_string_equal(cfg.hosts_file, "/srv/hosts#1");
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);
	assert_string_equal(cfg.control_socket, "/tmp/with space.sock");
	char want[PATH_MAX + 200];
	snprintf(want, sizeof(want),
		 "%s:9: key 'upstream': server name '#not-a-comment..but-a-bad-name': "
		 "empty label in name",
		 fx->conf);
	assert_string_equal(err.msg, want);
}

static void test_file_without_final_newline(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load_text(fx, "cache-size = 7"), 0);
	assert_int_equal(cfg.cache_size, 7);
}

static void test_file_error_names_file_line_and_key(void **state)
{
	struct fixture *fx = *state;

	assert_load_error(fx, "# settings\n\ncache-size = ten\n", 3,
			  "key 'cache-size': 'ten' is not a number from 0 to 10000000");
	assert_load_error(fx, "listen = 127.0.0.300\n", 1,
			  "key 'listen': '127.0.0.300' is not an address (expected ADDR[:PORT], "
			  "IPv6 as [::1]:53)");
	assert_load_error(fx, "query-timeout = 61s\n", 1,
			  "key 'query-timeout': '61s' is not a duration from 100 to 60000 ms "
			  "(a plain number is ms; 1500ms, 2s, 15min and 1h also work)");
	assert_load_error(fx, "cache-size =\n", 1,
			  "key 'cache-size': empty value (expected a number from 0 to 10000000)");
	assert_load_error(fx, "cache-size = # nothing\n", 1,
			  "key 'cache-size': empty value (expected a number from 0 to 10000000)");
	assert_load_error(fx, "foreground = perhaps\n", 1,
			  "key 'foreground': 'perhaps' is not yes or no (also true/false, "
			  "on/off, 1/0)");
}

static void test_file_line_without_equals(void **state)
{
	struct fixture *fx = *state;

	assert_load_error(fx, "# ok\ncache-size 10\n", 2,
			  "expected 'key = value', got 'cache-size 10'");
	assert_load_error(fx, "  = 10\n", 1, "expected 'key = value', got '= 10'");
}

static void test_file_unknown_key_suggests(void **state)
{
	struct fixture *fx = *state;

	assert_load_error(fx, "upstream-timout = 100\n", 1,
			  "key 'upstream-timout': unknown key (see conf/stubd.conf for the "
			  "list); did you mean 'upstream-timeout'?");
	assert_load_error(fx, "\n\nverbosity = 3\n", 3,
			  "key 'verbosity': unknown key (see conf/stubd.conf for the list)");
}

static void test_file_scalar_twice_is_an_error(void **state)
{
	struct fixture *fx = *state;

	assert_load_error(fx, "# sizes\n\ncache-size = 10\nlog-level = info\ncache-size = 20\n",
			  5, "key 'cache-size': set twice, first on line 3");
	/* Even when both lines say the same. */
	assert_load_error(fx, "foreground = no\nforeground = no\n", 2,
			  "key 'foreground': set twice, first on line 1");
}

static void test_file_lists_repeat(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load_text(fx, "upstream = 192.0.2.1\n"
				       "listen = 127.0.0.1\n"
				       "upstream = 192.0.2.2\n"
				       "listen = 127.0.0.2:5353\n"
				       "upstream = 192.0.2.3\n"),
			 0);
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(str(&cfg.listen[0]), "127.0.0.1:53");
	assert_string_equal(str(&cfg.listen[1]), "127.0.0.2:5353");
	assert_int_equal(cfg.n_upstream, 3);
	assert_string_equal(str(&cfg.upstream[2].addr), "192.0.2.3:53");
}

static void test_file_too_many_addresses(void **state)
{
	struct fixture *fx = *state;
	char text[1024] = "";
	char line[64];

	for (int i = 1; i <= CONFIG_MAX_ADDRS + 1; i++) {
		snprintf(line, sizeof(line), "listen = 127.0.0.%d\n", i);
		strcat(text, line);
	}
	assert_load_error(fx, text, CONFIG_MAX_ADDRS + 1,
			  "key 'listen': too many addresses (at most 16)");
}

static void test_file_long_lines(void **state)
{
	struct fixture *fx = *state;
	/* The limit leaves room for a key, " = " and the longest path, so
	 * what --check-config prints always loads back (found by fuzzing). */
	const size_t max = PATH_MAX + 64;
	size_t size = 3 * max;
	char *text = malloc(size);
	char want[64];
	assert_non_null(text);

	memset(text, 0, size);
	memset(text, '#', max);
	strcat(text, "\ncache-size = 1\n");
	assert_int_equal(load_text(fx, text), 0);
	assert_int_equal(cfg.cache_size, 1);

	memset(text, 0, size);
	strcpy(text, "cache-size = 1\n");
	memset(text + strlen(text), '#', max + 1);
	strcat(text, "\n");
	snprintf(want, sizeof(want), "line is longer than %zu bytes", max);
	assert_load_error(fx, text, 2, want);
	free(text);
}

static void test_file_with_nul_byte(void **state)
{
	struct fixture *fx = *state;
	FILE *f = fopen(fx->conf, "w");
	assert_non_null(f);
	fwrite("cache-size = 1\0\n", 1, 16, f);
	fclose(f);
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, fx->conf, &err), -EINVAL);
	char want[PATH_MAX + 64];
	snprintf(want, sizeof(want), "%s:1: line contains a NUL byte", fx->conf);
	assert_string_equal(err.msg, want);
}

static void test_file_that_cannot_be_read(void **state)
{
	struct fixture *fx = *state;
	char want[PATH_MAX + 64];

	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, fx->conf, &err), -ENOENT);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", fx->conf);
	assert_string_equal(err.msg, want);

	char *dir = temp_path(fx, "subdir");
	assert_int_equal(mkdir(dir, 0700), 0);
	assert_int_equal(config_load_file(&cfg, dir, &err), -EISDIR);
	snprintf(want, sizeof(want), "%s: cannot read: Is a directory", dir);
	assert_string_equal(err.msg, want);
}

static void test_file_ipv6_listen(void **state)
{
	struct fixture *fx = *state;

	assert_int_equal(load_text(fx, "listen = [::1]:5353\n"), 0);
	assert_int_equal(cfg.n_listen, 1);
	assert_int_equal(netaddr_family(&cfg.listen[0]), AF_INET6);
	assert_int_equal(netaddr_port(&cfg.listen[0]), 5353);
	assert_true(netaddr_is_loopback(&cfg.listen[0]));
}

/* ---- command line ---------------------------------------------------- */

static void test_args_flags_override_file(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	write_file(fx->conf, "cache-size = 5\n"
			     "hosts-file = /etc/hosts\n"
			     "control-socket = /run/a.sock\n"
			     "upstream-timeout = 300\n"
			     "resolv-conf = /nonexistent/resolv.conf\n"
			     "upstream = 192.0.2.1\n");
	char *argv[] = { "stubd", "-c", fx->conf, "--cache-size", "7", "--hosts", "none",
			 "-s", "/run/b.sock", "--resolv-conf", fx->resolv, NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), 0);
	assert_int_equal(action, CONFIG_ACTION_RUN);
	assert_string_equal(cfg.config_file, fx->conf);
	assert_int_equal(cfg.cache_size, 7);
	assert_string_equal(cfg.hosts_file, "none");
	assert_string_equal(cfg.control_socket, "/run/b.sock");
	assert_string_equal(cfg.resolv_conf, fx->resolv);
	/* What no flag touched comes from the file. */
	assert_int_equal(cfg.upstream_timeout_ms, 300);
	assert_int_equal(cfg.n_upstream, 1);
	assert_false(cfg.upstream_from_resolv_conf);
}

static void test_args_list_flag_replaces_file_list(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	write_file(fx->conf, "listen = 127.0.0.1\nlisten = 127.0.0.2\n"
			     "upstream = 192.0.2.1\nupstream = 192.0.2.2\n");
	char *argv[] = { "stubd", "--config", fx->conf, "-l", "[::1]:5353",
			 "--upstream", "198.51.100.1", "-u", "198.51.100.2:5300", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), 0);
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(str(&cfg.listen[0]), "[::1]:5353");
	assert_int_equal(cfg.n_upstream, 2);
	assert_string_equal(str(&cfg.upstream[0].addr), "198.51.100.1:53");
	assert_string_equal(str(&cfg.upstream[1].addr), "198.51.100.2:5300");

	/* Without -l the file's list stays. */
	char *argv2[] = { "stubd", "-c", fx->conf, "-u", "198.51.100.1", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv2) - 1, argv2, &action, &err), 0);
	assert_int_equal(cfg.n_listen, 2);
	assert_string_equal(str(&cfg.listen[1]), "127.0.0.2:53");
	assert_int_equal(cfg.n_upstream, 1);
}

static void test_args_too_many_list_flags(void **state)
{
	enum config_action action;
	char *argv[2 + 2 * (CONFIG_MAX_ADDRS + 1)];
	char addrs[CONFIG_MAX_ADDRS + 1][32];
	int argc = 0;

	argv[argc++] = "stubd";
	for (int i = 0; i <= CONFIG_MAX_ADDRS; i++) {
		snprintf(addrs[i], sizeof(addrs[i]), "192.0.2.%d", i + 1);
		argv[argc++] = "-u";
		argv[argc++] = addrs[i];
	}
	argv[argc] = NULL;
	assert_int_equal(config_from_args(&cfg, argc, argv, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--upstream: too many addresses (at most 16)");
}

static void test_args_missing_config_file(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;
	char want[PATH_MAX + 64];

	char *argv[] = { "stubd", "-c", fx->conf, NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory", fx->conf);
	assert_string_equal(err.msg, want);
}

static void test_args_config_error_is_reported(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;
	char want[PATH_MAX + 128];

	write_file(fx->conf, "cache-size = 1\ncache-size = 2\n");
	char *argv[] = { "stubd", "-c", fx->conf, "--check-config", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: key 'cache-size': set twice, first on line 1", fx->conf);
	assert_string_equal(err.msg, want);
}

static void test_args_bad_flag_values(void **state)
{
	enum config_action action;

	char *a1[] = { "stubd", "--cache-size", "x", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--cache-size: 'x' is not a number from 0 to 10000000");

	char *a2[] = { "stubd", "-l", "1.2.3.999", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a2) - 1, a2, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--listen: '1.2.3.999' is not an address (expected "
				     "ADDR[:PORT], IPv6 as [::1]:53)");

	char *a3[] = { "stubd", "--hosts", "", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a3) - 1, a3, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--hosts: empty value (expected a file path or 'none')");
}

static void test_args_usage_errors(void **state)
{
	enum config_action action;

	char *a1[] = { "stubd", "--bogus", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown option '--bogus'; run 'stubd --help' for usage");

	char *a2[] = { "stubd", "-f", "-x", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a2) - 1, a2, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown option '-x'; run 'stubd --help' for usage");

	char *a3[] = { "stubd", "-f", "stray", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a3) - 1, a3, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "unexpected argument 'stray'; run 'stubd --help' for usage");

	char *a4[] = { "stubd", "-l", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a4) - 1, a4, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "missing value for option '-l'; run 'stubd --help' for usage");

	char *a5[] = { "stubd", "--listen", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a5) - 1, a5, &action, &err), -EINVAL);
	assert_string_equal(err.msg,
			    "missing value for option '--listen'; run 'stubd --help' for usage");

	char *a6[] = { "stubd", "--help=yes", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a6) - 1, a6, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown option '--help=yes'; run 'stubd --help' for usage");

	char *a7[] = { "stubd", "-vx", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a7) - 1, a7, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown option '-x'; run 'stubd --help' for usage");
}

static void test_args_actions(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	/* --help and --version work even when the config is broken. */
	char *a1[] = { "stubd", "-c", fx->conf, "--help", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), 0);
	assert_int_equal(action, CONFIG_ACTION_HELP);

	char *a2[] = { "stubd", "--version", "-c", fx->conf, NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a2) - 1, a2, &action, &err), 0);
	assert_int_equal(action, CONFIG_ACTION_VERSION);

	write_file(fx->conf, "cache-size = 3\n");
	write_file(fx->resolv, "nameserver 192.0.2.1\n");
	char *a3[] = { "stubd", "-c", fx->conf, "--check-config", "--resolv-conf", fx->resolv,
		       NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a3) - 1, a3, &action, &err), 0);
	assert_int_equal(action, CONFIG_ACTION_CHECK);
	assert_int_equal(cfg.cache_size, 3);
}

static void test_args_verbose_counts_from_configured_level(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	write_file(fx->conf, "log-level = error\n");
	char *a1[] = { "stubd", "-c", fx->conf, "-v", "-u", "192.0.2.1", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_WARN);

	char *a2[] = { "stubd", "-c", fx->conf, "-vv", "-u", "192.0.2.1", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a2) - 1, a2, &action, &err), 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_INFO);

	char *a3[] = { "stubd", "-c", fx->conf, "-vvvvvv", "-u", "192.0.2.1", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a3) - 1, a3, &action, &err), 0);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
}

static void test_args_foreground_flag(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	write_file(fx->conf, "foreground = no\nupstream = 192.0.2.1\n");
	char *a1[] = { "stubd", "-c", fx->conf, NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), 0);
	assert_false(cfg.foreground);

	char *a2[] = { "stubd", "-c", fx->conf, "-f", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a2) - 1, a2, &action, &err), 0);
	assert_true(cfg.foreground);

	char *a3[] = { "stubd", "-c", fx->conf, "--foreground", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a3) - 1, a3, &action, &err), 0);
	assert_true(cfg.foreground);
}

/* SIGHUP calls config_from_args again with the same argv; getopt must start
 * over each time, even after an error inside a group of short options. */
static void test_args_twice_in_one_process(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;
	struct config first;

	write_file(fx->conf, "cache-size = 11\nlisten = 127.0.0.1:5353\n");
	char *bad[] = { "stubd", "-fxv", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(bad) - 1, bad, &action, &err), -EINVAL);

	char *argv[] = { "stubd", "-fv", "-c", fx->conf, "-u", "192.0.2.1", "--cache-size", "12",
			 NULL };
	assert_int_equal(config_from_args(&first, ARGC(argv) - 1, argv, &action, &err), 0);
	assert_int_equal(first.cache_size, 12);
	assert_true(first.foreground);
	assert_int_equal(first.log_level, LOG_LEVEL_DEBUG);

	/* The file changed between the two calls, as before a reload. */
	write_file(fx->conf, "cache-size = 11\nlisten = 127.0.0.1:5354\n");
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), 0);
	assert_int_equal(cfg.cache_size, 12);
	assert_true(cfg.foreground);
	assert_int_equal(cfg.log_level, LOG_LEVEL_DEBUG);
	assert_int_equal(cfg.n_upstream, 1);
	assert_int_equal(cfg.n_listen, 1);
	assert_string_equal(str(&cfg.listen[0]), "127.0.0.1:5354");
	/* argv itself is left alone. */
	assert_string_equal(argv[1], "-fv");
	assert_string_equal(argv[2], "-c");
}

/* ---- upstreams from resolv.conf -------------------------------------- */

static int args_with_resolv(struct fixture *fx, const char *conf_text)
{
	enum config_action action;
	write_file(fx->conf, conf_text);
	char *argv[] = { "stubd", "-c", fx->conf, "--resolv-conf", fx->resolv, NULL };
	return config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err);
}

static void test_upstreams_from_resolv_conf(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->resolv, "search example.org\n"
			       "nameserver 192.0.2.1\n"
			       "nameserver 2001:db8::53\n");
	assert_int_equal(args_with_resolv(fx, ""), 0);
	assert_true(cfg.upstream_from_resolv_conf);
	assert_int_equal(cfg.n_upstream, 2);
	assert_string_equal(str(&cfg.upstream[0].addr), "192.0.2.1:53");
	assert_string_equal(str(&cfg.upstream[1].addr), "[2001:db8::53]:53");

	/* Again (a reload): resolv.conf is read afresh, not appended. */
	write_file(fx->resolv, "nameserver 198.51.100.9\n");
	assert_int_equal(config_resolve_upstreams(&cfg), 0);
	assert_int_equal(cfg.n_upstream, 1);
	assert_string_equal(str(&cfg.upstream[0].addr), "198.51.100.9:53");
	assert_true(cfg.upstream_from_resolv_conf);
}

static void test_upstreams_configured_skip_resolv_conf(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->resolv, "nameserver 192.0.2.1\n");
	assert_int_equal(args_with_resolv(fx, "upstream = 198.51.100.1\n"), 0);
	assert_false(cfg.upstream_from_resolv_conf);
	assert_int_equal(cfg.n_upstream, 1);
	assert_string_equal(str(&cfg.upstream[0].addr), "198.51.100.1:53");
}

static void test_upstreams_leave_out_own_listen_address(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->resolv, "nameserver 127.0.0.53\n"
			       "nameserver 192.0.2.1\n"
			       "nameserver ::1\n");
	log_begin(fx);
	int r = args_with_resolv(fx, "");
	const char *log = log_end(fx);
	assert_int_equal(r, 0);
	assert_int_equal(cfg.n_upstream, 2);
	assert_string_equal(str(&cfg.upstream[0].addr), "192.0.2.1:53");
	assert_string_equal(str(&cfg.upstream[1].addr), "[::1]:53");

	char want[PATH_MAX + 200];
	snprintf(want, sizeof(want),
		 "%s: leaving out nameserver 127.0.0.53:53: it is stubd's own listen address "
		 "(no forwarding loops)\n",
		 fx->resolv);
	assert_non_null(strstr(log, want));
	assert_null(strstr(log, "192.0.2.1"));
	assert_null(strstr(log, "[::1]"));
}

static void test_upstreams_other_port_is_not_a_loop(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->resolv, "nameserver 127.0.0.53\n");
	assert_int_equal(args_with_resolv(fx, "listen = 127.0.0.53:5353\n"), 0);
	assert_int_equal(cfg.n_upstream, 1);
	assert_string_equal(str(&cfg.upstream[0].addr), "127.0.0.53:53");
}

static void test_upstreams_wildcard_listen_leaves_out_loopback(void **state)
{
	struct fixture *fx = *state;
	static const char *const wildcards[] = { "listen = 0.0.0.0\n", "listen = [::]:53\n" };

	write_file(fx->resolv, "nameserver 127.0.0.1\n"
			       "nameserver 198.51.100.1\n"
			       "nameserver 127.0.0.53\n"
			       "nameserver ::1\n");
	for (size_t i = 0; i < 2; i++) {
		log_begin(fx);
		int r = args_with_resolv(fx, wildcards[i]);
		const char *log = log_end(fx);
		assert_int_equal(r, 0);
		assert_int_equal(cfg.n_upstream, 1);
		assert_string_equal(str(&cfg.upstream[0].addr), "198.51.100.1:53");
		assert_non_null(strstr(log, "leaving out nameserver 127.0.0.1:53: stubd listens on "));
		assert_non_null(strstr(log, "leaving out nameserver [::1]:53: stubd listens on "));
		assert_non_null(strstr(log, ", which would receive it (no forwarding loops)\n"));
	}
	assert_non_null(strstr(fx->log, "stubd listens on [::]:53, which"));

	/* A wildcard on another port does not receive what goes to port 53. */
	assert_int_equal(args_with_resolv(fx, "listen = 0.0.0.0:5353\n"), 0);
	assert_int_equal(cfg.n_upstream, 4);
}

/* A LAN server whose resolv.conf names its own interface address. */
static void test_upstreams_wildcard_listen_leaves_out_local_address(void **state)
{
	struct fixture *fx = *state;
	struct ifaddrs *ifs;
	char addr[INET_ADDRSTRLEN] = "";
	char text[128];

	assert_int_equal(getifaddrs(&ifs), 0);
	for (struct ifaddrs *i = ifs; i && !addr[0]; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		const struct in_addr *in = &((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(in->s_addr) >> 24) != 127)
			inet_ntop(AF_INET, in, addr, sizeof(addr));
	}
	freeifaddrs(ifs);
	if (!addr[0])
		skip(); /* only loopback here: nothing to test */

	snprintf(text, sizeof(text), "nameserver %s\nnameserver 198.51.100.1\n", addr);
	write_file(fx->resolv, text);
	log_begin(fx);
	int r = args_with_resolv(fx, "listen = 0.0.0.0:53\n");
	log_end(fx);
	assert_int_equal(r, 0);
	assert_int_equal(cfg.n_upstream, 1);
	assert_string_equal(str(&cfg.upstream[0].addr), "198.51.100.1:53");

	/* Listening on loopback only, that address does not reach us. */
	assert_int_equal(args_with_resolv(fx, ""), 0);
	assert_int_equal(cfg.n_upstream, 2);
}

static void test_upstream_set_replaces_resolv_conf_list(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->resolv, "nameserver 198.51.100.1\nnameserver 198.51.100.2\n");
	assert_int_equal(args_with_resolv(fx, ""), 0);
	assert_int_equal(cfg.n_upstream, 2);
	assert_int_equal(config_set(&cfg, "upstream", "192.0.2.53", &err), 0);
	assert_false(cfg.upstream_from_resolv_conf);
	assert_int_equal(cfg.n_upstream, 1);
	assert_string_equal(str(&cfg.upstream[0].addr), "192.0.2.53:53");
}

static void test_upstreams_missing_resolv_conf(void **state)
{
	struct fixture *fx = *state;

	log_begin(fx);
	int r = args_with_resolv(fx, "");
	const char *log = log_end(fx);
	assert_int_equal(r, 0);
	assert_int_equal(cfg.n_upstream, 0);
	assert_true(cfg.upstream_from_resolv_conf);
	assert_non_null(strstr(log, fx->resolv));
	assert_non_null(strstr(log, "does not exist"));
}

/* An IPv6 link-local nameserver without its interface cannot be reached
 * (the kernel refuses to send there): left out, and said why. */
static void test_upstreams_leave_out_link_local_without_zone(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->resolv, "nameserver fe80::1\nnameserver fe80::2%lo\nnameserver 192.0.2.1\n");
	log_begin(fx);
	int r = args_with_resolv(fx, "");
	const char *log = log_end(fx);
	assert_int_equal(r, 0);
	assert_int_equal(cfg.n_upstream, 2);
	assert_string_equal(str(&cfg.upstream[0].addr), "[fe80::2]:53");
	assert_int_equal(((struct sockaddr_in6 *)&cfg.upstream[0].addr.ss)->sin6_scope_id, 1);
	assert_string_equal(str(&cfg.upstream[1].addr), "192.0.2.1:53");
	assert_non_null(strstr(log, "leaving out nameserver [fe80::1]:53: an IPv6 link-local "
				    "address without its interface cannot be reached (write it as "
				    "fe80::1%eth0)\n"));
}

/* A server named twice is asked once; the same link-local address on
 * another interface is another server. */
static void test_upstreams_named_twice_asked_once(void **state)
{
	struct fixture *fx = *state;

	write_file(fx->resolv, "nameserver 192.0.2.1\nnameserver 2001:db8::1\n"
			       "nameserver 192.0.2.1  # again, from DHCP\nnameserver 2001:DB8:0::1\n"
			       "nameserver fe80::1%lo\nnameserver fe80::1%1\nnameserver 192.0.2.2\n");
	log_begin(fx);
	int r = args_with_resolv(fx, "");
	const char *log = log_end(fx);
	assert_int_equal(r, 0);
	assert_int_equal(cfg.n_upstream, 4);
	assert_string_equal(str(&cfg.upstream[0].addr), "192.0.2.1:53");
	assert_string_equal(str(&cfg.upstream[1].addr), "[2001:db8::1]:53");
	assert_string_equal(str(&cfg.upstream[2].addr), "[fe80::1]:53");
	assert_string_equal(str(&cfg.upstream[3].addr), "192.0.2.2:53");
	assert_non_null(strstr(log, "nameserver 192.0.2.1:53 is named more than once; asking it once\n"));
	assert_non_null(strstr(log, "nameserver [2001:db8::1]:53 is named more than once"));
	assert_non_null(strstr(log, "nameserver [fe80::1]:53 is named more than once"));

	/* fe80::1 on another interface than lo (index 1) is another server. */
	unsigned other = 0;
	for (unsigned i = 2; i < 64 && !other; i++) {
		char name[IF_NAMESIZE];
		if (if_indextoname(i, name))
			other = i;
	}
	if (!other)
		return; /* only lo here */
	char text[160];
	snprintf(text, sizeof(text), "nameserver fe80::1%%lo\nnameserver fe80::1%%%u\n", other);
	write_file(fx->resolv, text);
	assert_int_equal(args_with_resolv(fx, ""), 0);
	assert_int_equal(cfg.n_upstream, 2);
}

/* ---- the settings as a whole: config_check --------------------------- */

#define NO_FAILOVER "a question would end in SERVFAIL before a server that does not answer " \
		    "is given up on, so the next server is never tried; make query-timeout at " \
		    "least upstream-timeout"
#define LOOP "every question stubd forwards there would come back to it; name another server"

/* Asserts that conf_text, as the file, is refused with "CONF:rest" (rest
 * starts with the line: "5: key ..."), or with exactly rest when it
 * starts with '-' (a flag) or "key". */
static void assert_check_error(struct fixture *fx, const char *conf_text, const char *rest)
{
	char want[sizeof(err.msg) + PATH_MAX];
	assert_int_equal(args_with_resolv(fx, conf_text), -EINVAL);
	if (rest[0] == '-' || strncmp(rest, "key", 3) == 0)
		snprintf(want, sizeof(want), "%s", rest);
	else
		snprintf(want, sizeof(want), "%s:%s", fx->conf, rest);
	assert_string_equal(err.msg, want);
}

/* Failover needs a try to end before the question does. */
static void test_check_query_timeout_below_upstream_timeout(void **state)
{
	struct fixture *fx = *state;

	assert_check_error(fx, "upstream-timeout = 2s\nquery-timeout = 1500\n",
			   "2: key 'query-timeout': 1500 ms is below upstream-timeout (2000 ms, "
			   "line 1): " NO_FAILOVER);
	/* Told from the later line, whichever key it holds. */
	assert_check_error(fx, "query-timeout = 800\n# a comment\nupstream-timeout = 900ms\n",
			   "3: key 'upstream-timeout': 900 ms is above query-timeout (800 ms, "
			   "line 1): " NO_FAILOVER);
	assert_check_error(fx, "\nquery-timeout = 800\n",
			   "2: key 'query-timeout': 800 ms is below upstream-timeout (1000 ms, "
			   "the default): " NO_FAILOVER);
	assert_check_error(fx, "upstream-timeout = 6s\n",
			   "1: key 'upstream-timeout': 6000 ms is above query-timeout (5000 ms, "
			   "the default): " NO_FAILOVER);
	/* Equal: one try may take the whole question. */
	assert_int_equal(args_with_resolv(fx, "upstream-timeout = 2000\nquery-timeout = 2s\n"), 0);
}

/* A CA file stubd cannot read is said at start, with its line. */
static void test_check_tls_ca_file_readable(void **state)
{
	struct fixture *fx = *state;
	char text[PATH_MAX + 64], rest[2 * PATH_MAX + 200];
	const char *missing = temp_path(fx, "no-such-ca.pem");
	snprintf(text, sizeof(text), "dns-over-tls = yes\ntls-ca-file = %s\n", missing);
	snprintf(rest, sizeof(rest), "2: key 'tls-ca-file': cannot read %s: No such file or "
		 "directory (give a PEM file of CA certificates, or leave tls-ca-file unset for "
		 "the system's trust store)", missing);
	assert_check_error(fx, text, rest);
	write_file(temp_path(fx, "ca.pem"), "not checked here: OpenSSL reads it\n");
	snprintf(text, sizeof(text), "tls-ca-file = %s\n", temp_path(fx, "ca.pem"));
	assert_int_equal(args_with_resolv(fx, text), 0);
	unlink(temp_path(fx, "ca.pem")); /* the teardown removes its own files only */
}

static void test_check_cache_min_ttl_above_max_ttl(void **state)
{
	struct fixture *fx = *state;

	assert_check_error(fx, "cache-max-ttl = 300\ncache-min-ttl = 600\n",
			   "2: key 'cache-min-ttl': 600 s is above cache-max-ttl (300 s, line 1): "
			   "no answer can be kept at least the one and at most the other; make "
			   "cache-min-ttl at most cache-max-ttl");
	assert_check_error(fx, "cache-min-ttl = 600\ncache-max-ttl = 300\n",
			   "2: key 'cache-max-ttl': 300 s is below cache-min-ttl (600 s, line 1): "
			   "no answer can be kept at least the one and at most the other; make "
			   "cache-min-ttl at most cache-max-ttl");
	assert_int_equal(args_with_resolv(fx, "cache-min-ttl = 300\ncache-max-ttl = 300\n"), 0);
}

/* The minimum applies to negative answers too, after their own cap. */
static void test_check_cache_min_ttl_above_max_negative_ttl(void **state)
{
	struct fixture *fx = *state;

	assert_check_error(fx, "cache-min-ttl = 60\ncache-max-negative-ttl = 0\n",
			   "2: key 'cache-max-negative-ttl': 0 s is below cache-min-ttl (60 s, "
			   "line 1): NXDOMAIN and NODATA answers would be kept cache-min-ttl "
			   "seconds all the same; make cache-min-ttl at most cache-max-negative-ttl");
	assert_check_error(fx, "cache-min-ttl = 7200\n",
			   "1: key 'cache-min-ttl': 7200 s is above cache-max-negative-ttl (3600 s, "
			   "the default): NXDOMAIN and NODATA answers would be kept cache-min-ttl "
			   "seconds all the same; make cache-min-ttl at most cache-max-negative-ttl");
	/* Above the negative cap but under cache-max-ttl is no contradiction:
	 * cache-max-ttl caps negative answers too. */
	assert_int_equal(args_with_resolv(fx, "cache-max-negative-ttl = 86400\n"
					      "cache-max-ttl = 600\n"), 0);
}

/* 127.0.0.53:53 as listen address and 127.0.0.53 (port 53) as upstream. */
static void test_check_upstream_is_own_listen_address(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	assert_check_error(fx, "listen = 127.0.0.53:53\nupstream = 127.0.0.53\n",
			   "2: key 'upstream': 127.0.0.53:53 is stubd's own listen address "
			   "(127.0.0.53:53, line 1): " LOOP);
	assert_check_error(fx, "upstream = 192.0.2.1\nupstream = 127.0.0.53\n",
			   "2: key 'upstream': 127.0.0.53:53 is stubd's own listen address "
			   "(127.0.0.53:53, the default): " LOOP);
	assert_check_error(fx, "upstream = [::1]:5300\nlisten = [::1]:5300\n",
			   "2: key 'listen': [::1]:5300 is also an upstream ([::1]:5300, line 1): "
			   LOOP);
	/* Another port is another server. */
	assert_int_equal(args_with_resolv(fx, "upstream = 127.0.0.53:5353\n"), 0);

	/* Flags come after the file: told from the flag. */
	write_file(fx->conf, "upstream = 127.0.0.1:5300\n");
	char *a1[] = { "stubd", "-c", fx->conf, "-l", "127.0.0.1:5300", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--listen: 127.0.0.1:5300 is also an upstream "
				     "(127.0.0.1:5300, line 1): " LOOP);
	write_file(fx->conf, "");
	char *a2[] = { "stubd", "-c", fx->conf, "-u", "127.0.0.53", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a2) - 1, a2, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--upstream: 127.0.0.53:53 is stubd's own listen address "
				     "(127.0.0.53:53, the default): " LOOP);
	/* Set with config_set: neither has a line, so none is named. */
	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "upstream", "127.0.0.53", &err), 0);
	assert_int_equal(config_check(&cfg, &err), -EINVAL);
	assert_string_equal(err.msg, "key 'upstream': 127.0.0.53:53 is stubd's own listen address "
				     "(127.0.0.53:53, the default): " LOOP);
}

/* A wildcard listen address receives what is sent to loopback on its
 * port, in its own family only (IPV6_V6ONLY); IPv4-mapped IPv6 goes over
 * IPv4. */
static void test_check_upstream_reached_through_wildcard(void **state)
{
	struct fixture *fx = *state;

	assert_check_error(fx, "listen = 0.0.0.0:53\nupstream = 127.0.0.1\n",
			   "2: key 'upstream': 127.0.0.1:53 would reach stubd itself through its "
			   "listen address (0.0.0.0:53, line 1): " LOOP);
	assert_check_error(fx, "upstream = ::1\nlisten = [::]:53\n",
			   "2: key 'listen': [::]:53 would receive what stubd sends to its upstream "
			   "([::1]:53, line 1): " LOOP);
	assert_check_error(fx, "listen = 0.0.0.0:53\nupstream = [::ffff:127.0.0.2]:53\n",
			   "2: key 'upstream': [::ffff:127.0.0.2]:53 would reach stubd itself "
			   "through its listen address (0.0.0.0:53, line 1): " LOOP);
	assert_int_equal(args_with_resolv(fx, "listen = [::]:53\nupstream = 127.0.0.1\n"), 0);
	assert_int_equal(args_with_resolv(fx, "listen = 0.0.0.0:53\nupstream = ::1\n"), 0);
	assert_int_equal(args_with_resolv(fx, "listen = 0.0.0.0:5353\nupstream = 127.0.0.1\n"), 0);
	assert_int_equal(args_with_resolv(fx, "listen = 0.0.0.0:53\nupstream = 192.0.2.1\n"), 0);
}

/* A LAN address of this machine, under a wildcard listen address. */
static void test_check_upstream_local_address_through_wildcard(void **state)
{
	struct fixture *fx = *state;
	struct ifaddrs *ifs;
	char addr[INET_ADDRSTRLEN] = "";
	char text[256], want[512];

	assert_int_equal(getifaddrs(&ifs), 0);
	for (struct ifaddrs *i = ifs; i && !addr[0]; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		const struct in_addr *in = &((const struct sockaddr_in *)i->ifa_addr)->sin_addr;
		if ((ntohl(in->s_addr) >> 24) != 127)
			inet_ntop(AF_INET, in, addr, sizeof(addr));
	}
	freeifaddrs(ifs);
	if (!addr[0])
		skip(); /* only loopback here: nothing to test */

	snprintf(text, sizeof(text), "listen = 0.0.0.0\nupstream = %s\n", addr);
	snprintf(want, sizeof(want), "2: key 'upstream': %s:53 would reach stubd itself through "
		 "its listen address (0.0.0.0:53, line 1): " LOOP, addr);
	assert_check_error(fx, text, want);
	/* Listening on loopback only, that address does not reach us. */
	snprintf(text, sizeof(text), "upstream = %s\n", addr);
	assert_int_equal(args_with_resolv(fx, text), 0);
}

static void test_check_forward_zone_server_loops(void **state)
{
	struct fixture *fx = *state;

	assert_check_error(fx, "listen = 127.0.0.53\n"
			       "forward-zone = corp.example 10.0.0.1 127.0.0.53\n",
			   "2: key 'forward-zone': the server 127.0.0.53:53 of corp.example is "
			   "stubd's own listen address (127.0.0.53:53, line 1): " LOOP);
	assert_check_error(fx, "forward-zone = corp.example\t10.0.0.1 127.0.0.1:5300\n"
			       "listen = 0.0.0.0:5300\n",
			   "2: key 'listen': 0.0.0.0:5300 would receive what stubd sends to the "
			   "forward-zone (corp.example\t10.0.0.1 127.0.0.1:5300, line 1): " LOOP);
	assert_int_equal(args_with_resolv(fx, "forward-zone = corp.example 127.0.0.53:5300\n"), 0);
}

/* The second bind() would fail with "address in use", blaming another
 * program. */
static void test_check_listen_addresses_overlap(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	assert_check_error(fx, "listen = 127.0.0.1\nlisten = 127.0.0.2\nlisten = 127.0.0.1:53\n",
			   "3: key 'listen': 127.0.0.1:53 is also an earlier listen address "
			   "(127.0.0.1:53, line 1): stubd cannot bind the same address twice; "
			   "keep one");
	assert_check_error(fx, "listen = [::1]:5300\nlisten = [::]:5300\n",
			   "2: key 'listen': [::]:5300 overlaps another listen address "
			   "([::1]:5300, line 1): a wildcard address receives what is sent to the "
			   "other, so stubd cannot bind both; keep one");
	char *a1[] = { "stubd", "-c", fx->conf, "-l", "0.0.0.0:5300", "-l", "127.0.0.9:5300",
		       NULL };
	write_file(fx->conf, "");
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--listen: 127.0.0.9:5300 overlaps another listen address "
				     "(0.0.0.0:5300, --listen): a wildcard address receives what is "
				     "sent to the other, so stubd cannot bind both; keep one");
	/* Other families or other ports do not overlap. */
	assert_int_equal(args_with_resolv(fx, "listen = 0.0.0.0:53\nlisten = [::]:53\n"
					      "listen = 127.0.0.1:5300\n"), 0);
}

/* Checked where the server is read (route_server_parse): the message
 * says how to write the interface, in the form the server was written. */
static void test_check_link_local_upstream_needs_zone(void **state)
{
	struct fixture *fx = *state;

	assert_check_error(fx, "upstream = fe80::1\n",
			   "1: key 'upstream': fe80::1 is an IPv6 link-local address: give its "
			   "interface, as in fe80::1%eth0");
	assert_check_error(fx, "\nupstream = [fe80::1]:5353\n",
			   "2: key 'upstream': [fe80::1]:5353 is an IPv6 link-local address: give "
			   "its interface, as in [fe80::1%eth0]:5353");
	assert_check_error(fx, "forward-zone = lan fe80::53\n",
			   "1: key 'forward-zone': fe80::53 is an IPv6 link-local address: give "
			   "its interface, as in fe80::53%eth0");
	assert_int_equal(args_with_resolv(fx, "upstream = [fe80::1%lo]:5353\n"), 0);
}

/* ---- config_print ---------------------------------------------------- */

static void test_print_defaults(void **state)
{
	config_defaults(&cfg);
	cfg.foreground = false;
	char *text = print_to_string(&cfg);
	assert_true(strncmp(text, "# effective configuration (built-in defaults)\n", 46) == 0);
	static const char *const lines[] = {
		"\nlisten = 127.0.0.53:53\n",
		"\n# upstream: none set\n",
		"\nresolv-conf = /etc/resolv.conf\n",
		"\nhosts-file = /etc/hosts\n",
		"\ncontrol-socket = /run/stubd/control.sock\n",
		"\ncache-size = 10000\n",
		"\nupstream-strategy = fastest\n",
		"\nupstream-timeout = 1000\n",
		"\nquery-timeout = 5000\n",
		"\nedns-buffer-size = 1232\n",
		"\ntcp-idle-timeout = 10000\n",
		"\ntcp-max-clients = 256\n",
		"\ntcp-max-queries = 64\n",
		"\nlog-level = info\n",
		"\nforeground = no\n",
	};
	const char *at = text;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const char *found = strstr(at, lines[i]);
		if (!found)
			fail_msg("'%s' missing or out of order in:\n%s", lines[i], text);
		at = found + 1;
	}
	free(text);
}

static void test_print_round_trip(void **state)
{
	struct fixture *fx = *state;
	struct config loaded;

	assert_int_equal(load_text(fx, "listen = 127.0.0.1:5300\n"
				       "listen = [::1]:5353\n"
				       "upstream = 192.0.2.1\n"
				       "upstream = [2001:db8::1]:5353\n"
				       "hosts-file = none\n"
				       "cache-size = 0\n"
				       "upstream-strategy = order\n"
				       "upstream-timeout = 2s\n"
				       "query-timeout = 7000ms\n"
				       "edns-buffer-size = 512\n"
				       "log-level = debug\n"
				       "foreground = yes\n"),
			 0);
	char *first = print_to_string(&cfg);
	assert_non_null(strstr(first, "\nupstream-timeout = 2000\n"));
	assert_non_null(strstr(first, "\nupstream-strategy = order\n"));
	assert_non_null(strstr(first, "\nupstream = [2001:db8::1]:5353\n"));

	write_file(temp_path(fx, "printed.conf"), first);
	config_defaults(&loaded);
	assert_int_equal(config_load_file(&loaded, temp_path(fx, "printed.conf"), &err), 0);
	char *second = print_to_string(&loaded);
	assert_string_equal(second, first);
	/* The same settings, from other lines of another file. */
	memset(&loaded.origin, 0, sizeof(loaded.origin));
	memset(&cfg.origin, 0, sizeof(cfg.origin));
	assert_memory_equal(&loaded, &cfg, sizeof(cfg));
	free(first);
	free(second);
}

static void test_print_round_trip_with_resolv_conf_upstreams(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	write_file(fx->resolv, "nameserver 192.0.2.1\nnameserver 2001:db8::53\n");
	assert_int_equal(args_with_resolv(fx, "cache-size = 5\n"), 0);
	char *first = print_to_string(&cfg);
	char want[PATH_MAX + 200];
	snprintf(want, sizeof(want), "# effective configuration (from %s)\n", fx->conf);
	assert_true(strncmp(first, want, strlen(want)) == 0);
	snprintf(want, sizeof(want),
		 "\n# upstream: none set, so these come from %s:\n"
		 "# upstream = 192.0.2.1\n"
		 "# upstream = 2001:db8::53\n",
		 fx->resolv);
	assert_non_null(strstr(first, want));

	/* The printed file, loaded as the config, still follows resolv.conf. */
	char *printed = temp_path(fx, "printed.conf");
	write_file(printed, first);
	char *argv[] = { "stubd", "-c", printed, NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), 0);
	assert_true(cfg.upstream_from_resolv_conf);
	assert_int_equal(cfg.n_upstream, 2);
	char *second = print_to_string(&cfg);
	/* Only the first line, naming the file, differs. */
	assert_string_equal(strchr(second, '\n'), strchr(first, '\n'));
	free(first);
	free(second);
}

/* ---- config_print_json ------------------------------------------------ */

static char *read_all(const char *path);

static char *print_json_to_string(const struct config *c)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	config_print_json(c, f);
	assert_int_equal(fclose(f), 0);
	return text;
}

/* The whole shape, for the defaults. */
static void test_print_json_defaults(void **state)
{
	unsetenv("RUNTIME_DIRECTORY");
	config_defaults(&cfg);
	cfg.foreground = false;
	char *text = print_json_to_string(&cfg);
	assert_string_equal(text,
			    "{\n"
			    "  \"config_file\": null,\n"
			    "  \"listen\": [\"127.0.0.53:53\"],\n"
			    "  \"upstream\": [],\n"
			    "  \"upstream_from_resolv_conf\": false,\n"
			    "  \"forward-zone\": [],\n"
			    "  \"allow\": [],\n"
			    "  \"resolv-conf\": \"/etc/resolv.conf\",\n"
			    "  \"hosts-file\": \"/etc/hosts\",\n"
			    "  \"hosts-ttl\": 0,\n"
			    "  \"forward-single-label\": false,\n"
			    "  \"control-socket\": \"/run/stubd/control.sock\",\n"
			    "  \"user\": \"stubd\",\n"
			    "  \"control-group\": \"stubd\",\n"
			    "  \"cache-size\": 10000,\n"
			    "  \"cache-memory\": 67108864,\n"
			    "  \"cache-min-ttl\": 0,\n"
			    "  \"cache-max-ttl\": 86400,\n"
			    "  \"cache-max-negative-ttl\": 3600,\n"
			    "  \"serve-stale\": true,\n"
			    "  \"stale-max-age\": 86400,\n"
			    "  \"stale-answer-timeout\": 1800,\n"
			    "  \"cache-file\": \"/var/cache/stubd/cache\",\n"
			    "  \"cache-save-interval\": 900000,\n"
			    "  \"max-inflight\": 1024,\n"
			    "  \"upstream-strategy\": \"fastest\",\n"
			    "  \"upstream-timeout\": 1000,\n"
			    "  \"query-timeout\": 5000,\n"
			    "  \"edns-buffer-size\": 1232,\n"
			    "  \"dns-over-tls\": \"no\",\n"
			    "  \"tls-ca-file\": null,\n"
			    "  \"tls-idle-timeout\": 10000,\n"
			    "  \"tcp-idle-timeout\": 10000,\n"
			    "  \"tcp-max-clients\": 256,\n"
			    "  \"tcp-max-queries\": 64,\n"
			    "  \"workers\": 1,\n"
			    "  \"runtime-directory\": \"/run/stubd\",\n"
			    "  \"networkd-links-dir\": \"/run/systemd/netif/links\",\n"
			    "  \"dbus\": \"auto\",\n"
			    "  \"max-links\": 64,\n"
			    "  \"max-link-servers\": 16,\n"
			    "  \"max-link-domains\": 256,\n"
			    "  \"log-level\": \"info\",\n"
			    "  \"foreground\": false\n"
			    "}\n");
	free(text);
}

/* Values as a file and the flags set them: lists in order, numbers in ms
 * and bytes, "auto", strings escaped; then upstreams from resolv.conf. */
static void test_print_json_values(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;
	char want[PATH_MAX + 64];

	write_file(fx->conf, "listen = 127.0.0.1:5300\n"
			     "listen = [::1]:5353\n"
			     "upstream = 192.0.2.1\n"
			     "upstream = [fe80::1%lo]:853#dns.example\n"
			     "forward-zone = corp.example 10.0.0.53\n"
			     "allow = 192.168.1.0/24\n"
			     "hosts-file = /tmp/a\"b\n"
			     "cache-memory = 1M\n"
			     "upstream-timeout = 2s\n"
			     "serve-stale = off\n"
			     "workers = auto\n"
			     "log-level = warning\n");
	char *argv[] = { "stubd", "-c", fx->conf, "--cache-size", "7", "--check-config", "--json",
			 NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(argv) - 1, argv, &action, &err), 0);
	assert_int_equal(action, CONFIG_ACTION_CHECK_JSON);
	char *text = print_json_to_string(&cfg);
	snprintf(want, sizeof(want), "{\n  \"config_file\": \"%s\",\n", fx->conf);
	assert_true(strncmp(text, want, strlen(want)) == 0);
	static const char *const members[] = {
		"\n  \"listen\": [\"127.0.0.1:5300\", \"[::1]:5353\"],\n",
		"\n  \"upstream\": [\"192.0.2.1\", \"[fe80::1]:853%lo#dns.example\"],\n",
		"\n  \"upstream_from_resolv_conf\": false,\n",
		"\n  \"forward-zone\": [\"corp.example 10.0.0.53\"],\n",
		"\n  \"allow\": [\"192.168.1.0/24\"],\n",
		"\n  \"hosts-file\": \"/tmp/a\\\"b\",\n",
		"\n  \"cache-size\": 7,\n",
		"\n  \"cache-memory\": 1048576,\n",
		"\n  \"serve-stale\": false,\n",
		"\n  \"upstream-timeout\": 2000,\n",
		"\n  \"workers\": \"auto\",\n",
		"\n  \"log-level\": \"warning\",\n",
	};
	const char *at = text;
	for (size_t i = 0; i < sizeof(members) / sizeof(members[0]); i++) {
		const char *found = strstr(at, members[i]);
		if (!found)
			fail_msg("'%s' missing or out of order in:\n%s", members[i], text);
		at = found + 1;
	}
	free(text);

	/* No upstream set: the ones in force come from resolv.conf. */
	write_file(fx->resolv, "nameserver 192.0.2.9\nnameserver 127.0.0.53\n");
	assert_int_equal(args_with_resolv(fx, "cache-size = 5\n"), 0);
	text = print_json_to_string(&cfg);
	assert_non_null(strstr(text, "\n  \"upstream\": [\"192.0.2.9\"],\n"
				     "  \"upstream_from_resolv_conf\": true,\n"));
	free(text);
}

/* Every key the shipped file documents, in its order, and the members
 * that are not keys. */
static void test_print_json_has_every_key(void **state)
{
	char *conf = read_all(STUBD_SOURCE_DIR "/conf/stubd.conf");
	config_defaults(&cfg);
	char *text = print_json_to_string(&cfg);
	const char *at = text;
	char last[96] = "";
	int n = 0;

	for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n")) {
		size_t key = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz-");
		if (strncmp(line, "# ", 2) != 0 || key == 0 || strncmp(line + 2 + key, " = ", 3) != 0)
			continue;
		char want[96];
		snprintf(want, sizeof(want), "\n  \"%.*s\": ", (int)key, line + 2);
		if (strcmp(want, last) == 0)
			continue; /* upstream is shown twice */
		snprintf(last, sizeof(last), "%s", want);
		const char *found = strstr(at, want);
		if (!found)
			fail_msg("JSON lacks '%s' (or has it out of order):\n%s", want + 1, text);
		at = found + 1;
		n++;
	}
	assert_int_equal(n, 41);
	assert_non_null(strstr(text, "\n  \"config_file\": "));
	assert_non_null(strstr(text, "\n  \"upstream_from_resolv_conf\": "));
	free(text);
	free(conf);
}

static void test_print_json_error(void **state)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	assert_non_null(f);
	config_print_json_error("/etc/stubd/stubd.conf:3: key 'x': 'a\"b' is\tbad", f);
	assert_int_equal(fclose(f), 0);
	assert_string_equal(text, "{\n  \"error\": \"/etc/stubd/stubd.conf:3: key 'x': "
				  "'a\\\"b' is\\u0009bad\"\n}\n");
	free(text);
}

/* --json goes with --check-config, and a script that asked for it gets
 * CONFIG_ACTION_CHECK_JSON back with the error, to print it as JSON,
 * wherever the flags stood. */
static void test_args_json(void **state)
{
	struct fixture *fx = *state;
	enum config_action action;

	write_file(fx->conf, "");
	char *a1[] = { "stubd", "-c", fx->conf, "--json", "--check-config", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a1) - 1, a1, &action, &err), 0);
	assert_int_equal(action, CONFIG_ACTION_CHECK_JSON);

	char *a2[] = { "stubd", "-c", fx->conf, "--json", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a2) - 1, a2, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "--json goes with --check-config; run 'stubd --help' for usage");
	assert_int_equal(action, CONFIG_ACTION_RUN);

	char *a3[] = { "stubd", "--json", "--help", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a3) - 1, a3, &action, &err), 0);
	assert_int_equal(action, CONFIG_ACTION_HELP);

	char *a4[] = { "stubd", "--bogus", "--check-config", "-x", "--json", NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a4) - 1, a4, &action, &err), -EINVAL);
	assert_string_equal(err.msg, "unknown option '--bogus'; run 'stubd --help' for usage");
	assert_int_equal(action, CONFIG_ACTION_CHECK_JSON);

	write_file(fx->conf, "query-timeout = 500\n");
	char *a5[] = { "stubd", "--check-config", "--json", "-c", fx->conf, NULL };
	assert_int_equal(config_from_args(&cfg, ARGC(a5) - 1, a5, &action, &err), -EINVAL);
	assert_int_equal(action, CONFIG_ACTION_CHECK_JSON);
	assert_non_null(strstr(err.msg, ":1: key 'query-timeout': 500 ms is below "
					"upstream-timeout (1000 ms, the default)"));
}

/* ---- the shipped conf/stubd.conf ------------------------------------- */

static char *read_all(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s: %s (is STUBD_SOURCE_DIR right?)", path, strerror(errno));
	char *text = calloc(1, 65536);
	assert_non_null(text);
	size_t len = fread(text, 1, 65535, f);
	assert_true(len > 0 && len < 65535);
	fclose(f);
	return text;
}

static void test_shipped_conf_loads_as_defaults(void **state)
{
	struct config defaults;

	config_defaults(&defaults);
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, STUBD_SOURCE_DIR "/conf/stubd.conf", &err), 0);
	assert_memory_equal(&cfg, &defaults, sizeof(cfg));
}

/* Every "key = value" line that config_print gives for the defaults is in
 * the shipped file as "# key = value", in the same order: the documented
 * defaults are the real ones. */
static void test_shipped_conf_documents_every_default(void **state)
{
	char *conf = read_all(STUBD_SOURCE_DIR "/conf/stubd.conf");
	config_defaults(&cfg);
	cfg.foreground = false; /* documented as "no", the default as root */
	char *printed = print_to_string(&cfg);
	const char *at = conf;

	for (char *line = strtok(printed, "\n"); line; line = strtok(NULL, "\n")) {
		char want[512];
		if (line[0] == '#' && strncmp(line, "# upstream", 10) != 0)
			continue;
		if (line[0] == '#')
			snprintf(want, sizeof(want), "\n# upstream = ");
		else
			snprintf(want, sizeof(want), "\n# %s\n", line);
		const char *found = strstr(at, want);
		if (!found)
			fail_msg("conf/stubd.conf lacks '%s' (or has it out of order)", want + 1);
		at = found + 1;
	}
	free(printed);
	free(conf);
}

/* Uncommenting every documented line gives a valid file. */
static void test_shipped_conf_uncommented_loads(void **state)
{
	struct fixture *fx = *state;
	char *conf = read_all(STUBD_SOURCE_DIR "/conf/stubd.conf");
	FILE *out = fopen(fx->conf, "w");
	assert_non_null(out);
	int n = 0;

	for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n")) {
		size_t key = strspn(line + 2, "abcdefghijklmnopqrstuvwxyz-");
		if (strncmp(line, "# ", 2) == 0 && key > 0 && strncmp(line + 2 + key, " = ", 3) == 0) {
			fprintf(out, "%s\n", line + 2);
			n++;
		}
	}
	fclose(out);
	free(conf);
	assert_int_equal(n, 42); /* 41 keys, upstream shown twice */
	config_defaults(&cfg);
	assert_int_equal(config_load_file(&cfg, fx->conf, &err), 0);
	assert_int_equal(cfg.n_upstream, 2);
	assert_int_equal(cfg.n_forward_zones, 1);
	assert_int_equal(cfg.cache_size, 10000);
	assert_int_equal(cfg.edns_buffer_size, 1232);
	assert_false(cfg.foreground);
}

static void test_usage_lists_every_flag(void **state)
{
	static const char *const flags[] = {
		"-c, --config FILE", "-l, --listen ADDR[:PORT]", "-u, --upstream ADDR[:PORT]",
		"--hosts FILE|none", "-s, --control SOCKET", "--cache-size N", "-f, --foreground",
		"\n  -v ", "--check-config", "--json", "--version", "--help", "--resolv-conf FILE",
	};
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	config_usage(f);
	fclose(f);
	assert_true(strncmp(text, "Usage: stubd [-c FILE] [-l ADDR[:PORT]]...", 42) == 0);
	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++)
		if (!strstr(text, flags[i]))
			fail_msg("usage lacks '%s'", flags[i]);
	free(text);
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(test_defaults),
		TEST(test_foreground_default_under_systemd),
		TEST(test_numbers_accept_their_bounds),
		TEST(test_numbers_reject_out_of_range),
		TEST(test_numbers_reject_non_numbers),
		TEST(test_workers),
		TEST(test_durations_take_ms_and_s),
		TEST(test_durations_reject_bad_units_and_range),
		TEST(test_sizes_take_suffixes),
		TEST(test_control_group),
		TEST(test_allow_blocks),
		TEST(test_booleans),
		TEST(test_log_levels),
		TEST(test_upstream_strategy),
		TEST(test_dbus_setting),
		TEST(test_dns_over_tls_settings),
		TEST(test_paths),
		TEST(test_addresses),
		TEST(test_upstream_scope_and_name),
		TEST(test_forward_zones),
		TEST(test_runtime_directory_from_env),
		TEST(test_too_many_addresses),
		TEST(test_empty_values),
		TEST(test_unknown_keys),
		TEST(test_file_sets_every_key),
		TEST(test_file_comments_blanks_and_whitespace),
		TEST(test_file_without_final_newline),
		TEST(test_file_error_names_file_line_and_key),
		TEST(test_file_line_without_equals),
		TEST(test_file_unknown_key_suggests),
		TEST(test_file_scalar_twice_is_an_error),
		TEST(test_file_lists_repeat),
		TEST(test_file_too_many_addresses),
		TEST(test_file_long_lines),
		TEST(test_file_with_nul_byte),
		TEST(test_file_that_cannot_be_read),
		TEST(test_file_ipv6_listen),
		TEST(test_args_flags_override_file),
		TEST(test_args_list_flag_replaces_file_list),
		TEST(test_args_too_many_list_flags),
		TEST(test_args_missing_config_file),
		TEST(test_args_config_error_is_reported),
		TEST(test_args_bad_flag_values),
		TEST(test_args_usage_errors),
		TEST(test_args_actions),
		TEST(test_args_verbose_counts_from_configured_level),
		TEST(test_args_foreground_flag),
		TEST(test_args_twice_in_one_process),
		TEST(test_upstreams_from_resolv_conf),
		TEST(test_upstreams_configured_skip_resolv_conf),
		TEST(test_upstreams_leave_out_own_listen_address),
		TEST(test_upstreams_other_port_is_not_a_loop),
		TEST(test_upstreams_wildcard_listen_leaves_out_loopback),
		TEST(test_upstreams_wildcard_listen_leaves_out_local_address),
		TEST(test_upstream_set_replaces_resolv_conf_list),
		TEST(test_upstreams_missing_resolv_conf),
		TEST(test_upstreams_leave_out_link_local_without_zone),
		TEST(test_upstreams_named_twice_asked_once),
		TEST(test_check_query_timeout_below_upstream_timeout),
		TEST(test_check_tls_ca_file_readable),
		TEST(test_check_cache_min_ttl_above_max_ttl),
		TEST(test_check_cache_min_ttl_above_max_negative_ttl),
		TEST(test_check_upstream_is_own_listen_address),
		TEST(test_check_upstream_reached_through_wildcard),
		TEST(test_check_upstream_local_address_through_wildcard),
		TEST(test_check_forward_zone_server_loops),
		TEST(test_check_listen_addresses_overlap),
		TEST(test_check_link_local_upstream_needs_zone),
		TEST(test_print_defaults),
		TEST(test_print_round_trip),
		TEST(test_print_round_trip_with_resolv_conf_upstreams),
		TEST(test_print_json_defaults),
		TEST(test_print_json_values),
		TEST(test_print_json_has_every_key),
		TEST(test_print_json_error),
		TEST(test_args_json),
		TEST(test_shipped_conf_loads_as_defaults),
		TEST(test_shipped_conf_documents_every_default),
		TEST(test_shipped_conf_uncommented_loads),
		TEST(test_usage_lists_every_flag),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
