/* routing.c - builds, installs and follows the route table. See routing.h. */
#include "stubd/routing.h"

#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stubd/atomicfile.h"
#include "stubd/log.h"
#include "stubd/networkd.h"
#include "stubd/rtnl.h"

#ifndef IFF_LOWER_UP
#define IFF_LOWER_UP 0x10000 /* linux/if.h: the carrier is up */
#endif

struct routing {
	struct event_base *base;
	const struct config *cfg;
	struct worker *workers;
	unsigned n_workers;
	struct cache *cache;
	struct netaddr listen;

	struct link_registry *links;
	struct route_table *table;
	/* The policy's handles for table's servers, in its order: status
	 * reads the servers in force from the shared policy. */
	struct policy *pol;
	struct policy_server **handles;
	size_t n_handles;
	unsigned long built_generation;
	bool dirty;                 /* rebuild even if the generation is the same */
	bool restoring;             /* loading the state file: do not write it back yet */

	struct rtnl_watch *rtnl;
	struct networkd_watch *networkd;

	char *saved_state;          /* what the files hold now, to write only changes */
	char *saved_resolv;
};

static void limits_of(const struct config *cfg, struct link_limits *out)
{
	out->max_links = cfg->max_links;
	out->max_servers = cfg->max_link_servers;
	out->max_domains = cfg->max_link_domains;
}

/* dir/name; a path too long for PATH_MAX is cut, and its open fails. */
static void path_in(const char *dir, const char *name, char *buf, size_t size)
{
	int n = snprintf(buf, size, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= size)
		buf[0] = '\0';
}

/* ---- building and installing ---------------------------------------- */

/* The forward-zone lines, parsed (they were checked when read). */
struct zones {
	struct route_zone_input in[CONFIG_MAX_FORWARD_ZONES];
	struct route_server servers[CONFIG_MAX_FORWARD_ZONES][CONFIG_ZONE_MAX_SERVERS];
	size_t n;
};

static void parse_zones(const struct config *cfg, struct zones *z)
{
	char why[256];
	z->n = 0;
	for (size_t i = 0; i < cfg->n_forward_zones; i++) {
		struct route_zone_input *in = &z->in[z->n];
		if (config_forward_zone_parse(cfg->forward_zones[i], &in->zone, z->servers[z->n],
					      CONFIG_ZONE_MAX_SERVERS, &in->n_servers, why,
					      sizeof(why)) < 0) {
			/* An interface named by %IFACE went away since. */
			log_warn("forward-zone = %s: %s; left out", cfg->forward_zones[i], why);
			continue;
		}
		in->servers = z->servers[z->n];
		z->n++;
	}
}

static struct route_table *build_table(struct routing *rt)
{
	struct zones *z = malloc(sizeof(*z));
	if (!z)
		return NULL;
	parse_zones(rt->cfg, z);
	struct route_input in = {
		.global = rt->cfg->upstream,
		.n_global = rt->cfg->n_upstream,
		.global_tls = rt->cfg->dns_over_tls,
		.zones = z->in,
		.n_zones = z->n,
	};
	struct route_table *t = NULL;
	if (link_route_input(rt->links, &in) == 0)
		t = route_table_new(&in);
	free(z);
	return t;
}

struct install {
	const struct route_table *table;
	int err;
};

/* Servers and routes change together, on the worker's own loop: a route
 * always indexes the servers its table numbered. */
static void install_on_loop(struct worker *w, void *arg)
{
	struct install *in = arg;
	if (upstream_set_servers(w->upstream, in->table) < 0) {
		/* Its old servers no longer match any table we keep: misses
		 * get SERVFAIL until the next change installs again. */
		pipeline_set_routes(w->pipeline, NULL);
		in->err = -ENOMEM;
		return;
	}
	pipeline_set_routes(w->pipeline, in->table);
}

struct expire_count {
	struct cache *cache;
	uint64_t now;
	size_t entries;
	size_t domains;
};

/* RFC 8767: answers from servers a name no longer goes to are kept, but
 * only as stale, in case the new servers fail. */
static void on_route_change(void *arg, const uint8_t *domain, size_t len, bool all)
{
	struct expire_count *ec = arg;
	ec->entries += cache_expire(ec->cache, domain, len, true, ec->now);
	ec->domains++;
	(void)all;
}

static void save_files(struct routing *rt);

static void put_handles(struct policy *pol, struct policy_server **handles, size_t n)
{
	uint64_t now = cache_clock_ms();
	for (size_t i = 0; i < n; i++)
		policy_server_put(pol, handles[i], now);
	free(handles);
}

/* The policy's handles for t's servers, or NULL when memory runs out. */
static struct policy_server **get_handles(struct policy *pol, const struct route_table *t)
{
	size_t n = route_table_server_count(t);
	struct policy_server **handles = calloc(n ? n : 1, sizeof(handles[0]));
	if (!handles)
		return NULL;
	uint64_t now = cache_clock_ms();
	for (size_t i = 0; i < n; i++) {
		handles[i] = policy_server_get(pol, &route_table_server(t, i)->server, now);
		if (!handles[i]) {
			put_handles(pol, handles, i);
			return NULL;
		}
	}
	return handles;
}

static void install(struct routing *rt)
{
	struct route_table *t = build_table(rt);
	struct policy_server **handles = t ? get_handles(rt->pol, t) : NULL;
	if (!handles) {
		route_table_free(t);
		log_err("routing: out of memory; the previous routes stay");
		rt->dirty = true;
		return;
	}
	struct install in = { .table = t };
	for (unsigned i = 0; i < rt->n_workers; i++)
		worker_call(&rt->workers[i], install_on_loop, &in);
	if (in.err < 0)
		log_err("routing: out of memory in a worker; it answers SERVFAIL to misses until "
			"the routes change again");
	if (rt->table) {
		struct expire_count ec = { .cache = rt->cache, .now = cache_clock_ms() };
		route_table_diff(rt->table, t, on_route_change, &ec);
		if (ec.entries)
			log_info("routing: the servers changed for %zu domain(s); %zu cached "
				 "answer(s) are now only served stale", ec.domains, ec.entries);
	}
	route_table_free(rt->table);
	rt->table = t;
	put_handles(rt->pol, rt->handles, rt->n_handles);
	rt->handles = handles;
	rt->n_handles = route_table_server_count(t);
	rt->dirty = in.err < 0;
	rt->built_generation = link_registry_generation(rt->links);
	log_debug("routing: %zu servers, %zu domains; default route: %s",
		  route_table_server_count(t), route_table_domain_count(t),
		  route_table_default(t)->label);
	save_files(rt);
}

void routing_commit(struct routing *rt)
{
	if (!rt->dirty && rt->built_generation == link_registry_generation(rt->links))
		return;
	install(rt);
}

void routing_reconfigure(struct routing *rt)
{
	struct link_limits limits;
	limits_of(rt->cfg, &limits);
	link_registry_set_limits(rt->links, &limits);
	install(rt);
}

/* ---- the files ------------------------------------------------------- */

/* Writes path when text differs from what it last wrote there. */
static void write_if_changed(const char *path, char **last, char *text, size_t len)
{
	char why[PATH_MAX + 128];
	if (*last && strcmp(*last, text) == 0) {
		free(text);
		return;
	}
	if (atomicfile_write(path, text, len, 0644, why, sizeof(why)) < 0) {
		log_warn("routing: %s", why);
		free(text);
		return;
	}
	free(*last);
	*last = text;
}

static void save_state(struct routing *rt)
{
	char path[PATH_MAX];
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out)
		return;
	int err = link_registry_save(rt->links, out);
	fclose(out);
	if (err < 0 || !text) {
		free(text);
		return;
	}
	path_in(rt->cfg->runtime_dir, ROUTING_STATE_FILE, path, sizeof(path));
	write_if_changed(path, &rt->saved_state, text, len);
}

/* SPEC: nameserver for our listen address, search with the links' search
 * domains, options edns0 trust-ad. */
static void save_resolv_conf(struct routing *rt)
{
	char path[PATH_MAX], host[NETADDR_STRLEN], domain[ROUTE_NAME_TEXT_MAX + 2];
	const struct route_domain *search[256];
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);
	if (!out)
		return;
	netaddr_str(&rt->listen, host, sizeof(host));
	/* resolv.conf takes no port: the address only ("[::1]:53" -> "::1"). */
	char *addr = host[0] == '[' ? host + 1 : host;
	char *end = strrchr(addr, addr == host ? ':' : ']');
	if (end)
		*end = '\0';
	fprintf(out, "# Generated by stubd from its network interfaces' DNS settings; do not edit.\n"
		     "# See 'stubctl status' for the servers behind it and 'stubctl dns' to change them.\n"
		     "nameserver %s\n", addr);
	size_t n = link_search_domains(rt->links, search, sizeof(search) / sizeof(search[0]));
	if (n > 0) {
		fputs("search", out);
		for (size_t i = 0; i < n; i++)
			fprintf(out, " %s", route_domain_str(search[i], domain, sizeof(domain)));
		fputc('\n', out);
	}
	fputs("options edns0 trust-ad\n", out);
	if (fclose(out) != 0 || !text) {
		free(text);
		return;
	}
	path_in(rt->cfg->runtime_dir, ROUTING_RESOLV_CONF, path, sizeof(path));
	write_if_changed(path, &rt->saved_resolv, text, len);
}

static void save_files(struct routing *rt)
{
	if (rt->restoring || rt->cfg->runtime_dir[0] == '\0')
		return;
	save_state(rt);
	save_resolv_conf(rt);
}

static void restore_state(struct routing *rt)
{
	char path[PATH_MAX];
	path_in(rt->cfg->runtime_dir, ROUTING_STATE_FILE, path, sizeof(path));
	FILE *in = fopen(path, "re");
	if (!in) {
		if (errno != ENOENT)
			log_warn("routing: cannot read %s: %s; starting without saved link settings",
				 path, strerror(errno));
		return;
	}
	int n = link_registry_load(rt->links, in, path);
	fclose(in);
	if (n > 0)
		log_info("routing: restored %d link setting(s) from %s", n, path);
}

/* ---- the watchers ----------------------------------------------------- */

/* networkd may have written a link's file before the kernel's news of
 * the link reached us: read it when the link appears. */
static void read_networkd_file(struct routing *rt, unsigned ifindex)
{
	char path[PATH_MAX], name[16];
	struct link_settings s;
	if (strcmp(rt->cfg->networkd_dir, "none") == 0)
		return;
	snprintf(name, sizeof(name), "%u", ifindex);
	path_in(rt->cfg->networkd_dir, name, path, sizeof(path));
	link_settings_init(&s);
	if (networkd_parse_file(path, ifindex, &s, NULL, NULL) == 0) {
		char why[256];
		if (link_set(rt->links, ifindex, LINK_SOURCE_NETWORKD, NULL, &s, why, sizeof(why)) < 0)
			log_warn("networkd: %s: %s", path, why);
	}
	link_settings_clear(&s);
}

static void on_kernel_link(void *arg, unsigned ifindex, const char *name, unsigned flags,
			   bool removed)
{
	struct routing *rt = arg;
	/* Loopback carries no DNS settings of its own. */
	if (flags & IFF_LOOPBACK)
		return;
	if (removed) {
		const struct link *l = link_by_index(rt->links, ifindex);
		if (l && (link_effective(l)->n_servers || link_effective(l)->n_domains))
			log_info("routing: interface %s is gone; its DNS settings are dropped", name);
		link_kernel_remove(rt->links, ifindex);
	} else {
		bool known = link_by_index(rt->links, ifindex) != NULL;
		/* Up means up with a carrier: a cable out or a Wi-Fi lost is down. */
		link_kernel_update(rt->links, ifindex, name,
				   (flags & IFF_UP) && (flags & IFF_LOWER_UP));
		if (!known && rt->networkd)
			read_networkd_file(rt, ifindex);
	}
	if (rt->table)
		routing_commit(rt);
}

static void on_networkd(void *arg, unsigned ifindex, struct link_settings *s)
{
	struct routing *rt = arg;
	char why[256];
	if (!s) {
		link_drop_networkd(rt->links, ifindex);
	} else if (link_by_index(rt->links, ifindex)) {
		if (link_set(rt->links, ifindex, LINK_SOURCE_NETWORKD, NULL, s, why, sizeof(why)) < 0)
			log_warn("networkd: %s/%u: %s; its settings are left out", rt->cfg->networkd_dir,
				 ifindex, why);
	}
	if (rt->table)
		routing_commit(rt);
}

static void start_watchers(struct routing *rt)
{
	char err[256];
	rt->rtnl = rtnl_watch_new(rt->base, on_kernel_link, rt, err, sizeof(err));
	if (!rt->rtnl)
		log_warn("%s; network interfaces are not followed, so only the global servers "
			 "and forward-zones are used", err);
	if (strcmp(rt->cfg->networkd_dir, "none") == 0)
		return;
	rt->networkd = networkd_watch_new(rt->base, rt->cfg->networkd_dir, on_networkd, rt, err,
					  sizeof(err));
	if (!rt->networkd)
		log_warn("%s; systemd-networkd's DNS settings are not followed", err);
}

/* ---- life ------------------------------------------------------------- */

struct routing *routing_new(struct event_base *base, const struct config *cfg,
			    struct worker *workers, unsigned n_workers, struct cache *cache,
			    struct policy *pol, const struct netaddr *listen,
			    struct config_error *err)
{
	struct link_limits limits;
	struct routing *rt = calloc(1, sizeof(*rt));
	limits_of(cfg, &limits);
	if (!rt || !(rt->links = link_registry_new(&limits))) {
		free(rt);
		snprintf(err->msg, sizeof(err->msg), "routing: out of memory");
		return NULL;
	}
	rt->base = base;
	rt->cfg = cfg;
	rt->workers = workers;
	rt->n_workers = n_workers;
	rt->cache = cache;
	rt->pol = pol;
	rt->listen = *listen;
	rt->restoring = true;
	start_watchers(rt);
	restore_state(rt);
	rt->restoring = false;
	install(rt);
	if (!rt->table) {
		routing_free(rt);
		snprintf(err->msg, sizeof(err->msg), "routing: out of memory");
		return NULL;
	}
	return rt;
}

void routing_free(struct routing *rt)
{
	if (!rt)
		return;
	rtnl_watch_free(rt->rtnl);
	networkd_watch_free(rt->networkd);
	/* The workers borrow the table: they stop using it first. */
	struct install none = { .table = NULL };
	for (unsigned i = 0; rt->table && i < rt->n_workers; i++)
		worker_call(&rt->workers[i], install_on_loop, &none);
	route_table_free(rt->table);
	put_handles(rt->pol, rt->handles, rt->n_handles);
	link_registry_free(rt->links);
	free(rt->saved_state);
	free(rt->saved_resolv);
	free(rt);
}

struct link_registry *routing_links(struct routing *rt)
{
	return rt->links;
}

const struct route_table *routing_table(const struct routing *rt)
{
	return rt->table;
}

struct policy_server *const *routing_servers(const struct routing *rt, size_t *n)
{
	*n = rt->n_handles;
	return rt->handles;
}

bool routing_knows_links(const struct routing *rt)
{
	return rt->rtnl != NULL;
}
