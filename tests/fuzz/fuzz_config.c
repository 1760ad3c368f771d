/* fuzz_config.c - libFuzzer target: a config file, read by
 * config_load_file over the defaults (and, as the same bytes, a
 * resolv.conf read by resolvconf_read_nameservers).
 *
 * A file that loads gives settings within every key's limits, and what
 * --check-config prints for them (config_print) loads back to the same
 * settings: the printed form is config syntax. A file that does not load
 * gives one error message naming the file. Aborts when one of these
 * breaks.
 */
#include "fuzz_common.h"

#include <netinet/in.h>

#include "stubd/config.h"
#include "stubd/resolvconf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

static bool terminated(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL;
}

static bool account_ok(const char *s, size_t size)
{
	if (!terminated(s, size) || !((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_'))
		return false;
	for (const char *c = s; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
			return false;
	return true;
}

#define IN_RANGE(v, lo, hi) ((v) >= (lo) && (v) <= (hi))

/* Every key's limits, as the table in config.c states them. */
static void check_sane(const struct config *cfg)
{
	FUZZ_CHECK(IN_RANGE(cfg->n_listen, 1, CONFIG_MAX_ADDRS));
	FUZZ_CHECK(cfg->n_upstream <= CONFIG_MAX_ADDRS);
	for (size_t i = 0; i < cfg->n_listen; i++)
		FUZZ_CHECK(cfg->listen[i].ss.ss_family == AF_INET ||
			   cfg->listen[i].ss.ss_family == AF_INET6);
	for (size_t i = 0; i < cfg->n_upstream; i++)
		FUZZ_CHECK(cfg->upstream[i].addr.ss.ss_family == AF_INET ||
			   cfg->upstream[i].addr.ss.ss_family == AF_INET6);
	FUZZ_CHECK(terminated(cfg->resolv_conf, sizeof(cfg->resolv_conf)) && cfg->resolv_conf[0]);
	FUZZ_CHECK(terminated(cfg->hosts_file, sizeof(cfg->hosts_file)) && cfg->hosts_file[0]);
	FUZZ_CHECK(cfg->control_socket[0] && strnlen(cfg->control_socket, sizeof(cfg->control_socket)) < 108);
	FUZZ_CHECK(account_ok(cfg->user, sizeof(cfg->user)));
	FUZZ_CHECK(account_ok(cfg->control_group, sizeof(cfg->control_group)));
	FUZZ_CHECK(cfg->hosts_ttl <= 86400);
	FUZZ_CHECK(cfg->cache_size <= 10000000);
	FUZZ_CHECK(cfg->cache_memory >= 65536);
	FUZZ_CHECK(cfg->cache_min_ttl <= 86400);
	FUZZ_CHECK(IN_RANGE(cfg->cache_max_ttl, 1, 604800));
	FUZZ_CHECK(cfg->cache_max_negative_ttl <= 86400);
	FUZZ_CHECK(cfg->stale_max_age <= 604800);
	FUZZ_CHECK(IN_RANGE(cfg->upstream_timeout_ms, 50, 30000));
	FUZZ_CHECK(IN_RANGE(cfg->query_timeout_ms, 100, 60000));
	FUZZ_CHECK(IN_RANGE(cfg->edns_buffer_size, 512, 4096));
	FUZZ_CHECK(IN_RANGE(cfg->tcp_idle_timeout_ms, 100, 600000));
	FUZZ_CHECK(IN_RANGE(cfg->tcp_max_clients, 1, 65535));
	FUZZ_CHECK(IN_RANGE(cfg->tcp_max_queries, 1, 1024));
	FUZZ_CHECK(cfg->log_level <= LOG_LEVEL_DEBUG);
}

/* config_print's text; the caller frees it. */
static char *printed(const struct config *cfg, size_t *len)
{
	char *text = NULL;
	FILE *f = open_memstream(&text, len);
	FUZZ_CHECK(f != NULL);
	config_print(cfg, f);
	FUZZ_CHECK(fclose(f) == 0);
	return text;
}

/* --check-config's output is a config file that gives the same settings. */
static void check_round_trip(const struct config *cfg)
{
	size_t len1 = 0, len2 = 0;
	char *text1 = printed(cfg, &len1);
	char path[64];
	int fd = fuzz_input_file((const uint8_t *)text1, len1, path, sizeof(path));
	FUZZ_CHECK(fd >= 0);

	struct config *again = malloc(sizeof(*again));
	struct config_error err = { .msg = "" };
	FUZZ_CHECK(again != NULL);
	config_defaults(again);
	int r = config_load_file(again, path, &err);
	close(fd);
	if (r != 0) {
		fprintf(stderr, "printed config does not load: %s\n--- printed:\n%s---\n", err.msg,
			text1);
		FUZZ_CHECK(!"config_print's output loads");
	}
	char *text2 = printed(again, &len2);
	if (len1 != len2 || memcmp(text1, text2, len1) != 0) {
		fprintf(stderr, "--- first:\n%s--- reloaded:\n%s---\n", text1, text2);
		FUZZ_CHECK(!"config_print's output loads to the same settings");
	}
	free(text1);
	free(text2);
	free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64];
	int fd = fuzz_input_file(data, size, path, sizeof(path));
	if (fd < 0)
		return 0;

	struct config *cfg = malloc(sizeof(*cfg));
	struct config_error err;
	FUZZ_CHECK(cfg != NULL);
	config_defaults(cfg);
	memset(err.msg, 'x', sizeof(err.msg));
	int r = config_load_file(cfg, path, &err);
	FUZZ_CHECK(r == 0 || r == -EINVAL);
	if (r == 0) {
		check_sane(cfg);
		check_round_trip(cfg);
	} else {
		FUZZ_CHECK(terminated(err.msg, sizeof(err.msg)) && err.msg[0] != '\0');
		FUZZ_CHECK(strncmp(err.msg, path, strlen(path)) == 0); /* "FILE:LINE: ..." */
	}
	free(cfg);

	/* The same bytes as resolv.conf. */
	struct netaddr ns[CONFIG_MAX_ADDRS];
	size_t n = 99;
	r = resolvconf_read_nameservers(path, ns, CONFIG_MAX_ADDRS, &n);
	FUZZ_CHECK(r == 0 && n <= CONFIG_MAX_ADDRS);
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(ns[i].ss.ss_family == AF_INET || ns[i].ss.ss_family == AF_INET6);
		FUZZ_CHECK(netaddr_port(&ns[i]) == 53);
	}
	close(fd);
	return 0;
}
