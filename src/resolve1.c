/* resolve1.c - org.freedesktop.resolve1 on the bus; see resolve1.h.
 *
 * Method names, signatures, property types and error names follow
 * systemd-resolved's (org.freedesktop.resolve1(5), systemd 252), since
 * resolvectl fails on a property of the wrong type and NetworkManager acts
 * on error names.
 */
#include "stubd/resolve1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stubd/access.h"
#include "stubd/ask.h"
#include "stubd/cache.h"
#include "stubd/cachesave.h"
#include "stubd/daemon.h"
#include "stubd/link.h"
#include "stubd/log.h"
#include "stubd/pipeline.h"
#include "stubd/resolve1_answer.h"
#include "stubd/routing.h"
#include "stubd/wire.h"

#define MANAGER_PATH "/org/freedesktop/resolve1"
#define MANAGER_IFACE "org.freedesktop.resolve1.Manager"
#define LINK_PREFIX "/org/freedesktop/resolve1/link"
#define LINK_IFACE "org.freedesktop.resolve1.Link"

/* The flags of systemd's sd-resolve (resolved-def.h): the protocol an
 * answer came by, and where it came from. */
#define SD_RESOLVED_DNS (UINT64_C(1) << 0)
#define SD_RESOLVED_PROTOCOLS_ALL (UINT64_C(0x1f))
#define SD_RESOLVED_NO_CACHE (UINT64_C(1) << 12)
#define SD_RESOLVED_SYNTHETIC (UINT64_C(1) << 19)
#define SD_RESOLVED_FROM_CACHE (UINT64_C(1) << 20)
#define SD_RESOLVED_FROM_NETWORK (UINT64_C(1) << 23)
/* The input flags systemd 252's clients may pass (bits 0-17: protocols,
 * NO_CNAME ... CLAMP_TTL; 24: NO_STALE); others are refused as resolved
 * refuses them. stubd routes by name alone, so the protocol bits only
 * filter, and NO_CACHE is the one that changes how stubd asks. */
#define LOOKUP_FLAGS_OK (UINT64_C(0x3ffff) | (UINT64_C(1) << 24))

struct r1_call;
struct r1_lookup;

struct resolve1 {
	struct daemon *d;
	struct bus *bus;
	struct r1_call *calls;   /* changing calls waiting for credentials */
	struct r1_lookup *lookups;
};

/* ---- small helpers --------------------------------------------------------- */

static struct link_registry *links_of(struct resolve1 *r1)
{
	return routing_links(r1->d->routing);
}

/* ifindex from a Link object's path; 0 when it is not one. */
static unsigned path_ifindex(const char *path)
{
	char *external = NULL;
	if (sd_bus_path_decode(path, LINK_PREFIX, &external) <= 0)
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(external, &end, 10);
	bool ok = external[0] >= '1' && external[0] <= '9' && *end == '\0' && errno == 0 && v <= INT_MAX;
	free(external);
	return ok ? (unsigned)v : 0;
}

static const struct link *kernel_link(struct resolve1 *r1, unsigned ifindex)
{
	if (ifindex == LINK_SYSTEM_INDEX || !r1->d->routing)
		return NULL;
	return link_by_index(links_of(r1), ifindex);
}

/* The server behind an address and port as a route_server, parsed the way
 * every front end's servers are (link-local scoped to the link). */
static int server_from_bus(int family, const void *bytes, size_t size, uint16_t port,
			   const char *name, unsigned ifindex, struct route_server *out,
			   sd_bus_error *e)
{
	char addr[INET6_ADDRSTRLEN], text[INET6_ADDRSTRLEN + ROUTE_NAME_TEXT_MAX + 16], why[160];
	if (family != AF_INET && family != AF_INET6)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Unknown address family %i", family);
	if (size != (family == AF_INET ? 4u : 16u))
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid address size");
	inet_ntop(family, bytes, addr, sizeof(addr));
	/* Port 0 is "the default": 53, or 853 over TLS (route_server.port_given). */
	const char *hash = name && *name ? "#" : "";
	if (port == 0)
		snprintf(text, sizeof(text), "%s%s%s", addr, hash, name ? name : "");
	else
		snprintf(text, sizeof(text), family == AF_INET6 ? "[%s]:%u%s%s" : "%s:%u%s%s", addr,
			 port, hash, name ? name : "");
	if (route_server_parse(text, ifindex, out, why, sizeof(why)) < 0)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid DNS server %s: %s",
					 text, why);
	return 0;
}

/* Appends (family, address) [+ (port, name)] of a server. */
static int append_server(sd_bus_message *reply, const struct route_server *s, bool with_ifindex,
			 int ifindex, bool ex)
{
	const struct sockaddr_storage *ss = &s->addr.ss;
	int family = ss->ss_family;
	const void *bytes = family == AF_INET ? (const void *)&((const struct sockaddr_in *)ss)->sin_addr
					      : (const void *)&((const struct sockaddr_in6 *)ss)->sin6_addr;
	size_t size = family == AF_INET ? 4 : 16;
	int r = sd_bus_message_open_container(reply, 'r',
					      with_ifindex ? (ex ? "iiayqs" : "iiay") : (ex ? "iayqs" : "iay"));
	if (r >= 0 && with_ifindex)
		r = sd_bus_message_append(reply, "i", ifindex);
	if (r >= 0)
		r = sd_bus_message_append(reply, "i", family);
	if (r >= 0)
		r = sd_bus_message_append_array(reply, 'y', bytes, size);
	/* Port 0 is "the default", as systemd-resolved reports it. */
	uint16_t port = s->port_given ? netaddr_port(&s->addr) : 0;
	if (r >= 0 && ex)
		r = sd_bus_message_append(reply, "qs", port, s->tls_name);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

/* An empty (iiay) / (iay): "no current server". */
static int append_no_server(sd_bus_message *reply, bool with_ifindex, bool ex)
{
	int r = sd_bus_message_open_container(reply, 'r',
					      with_ifindex ? (ex ? "iiayqs" : "iiay") : (ex ? "iayqs" : "iay"));
	if (r >= 0 && with_ifindex)
		r = sd_bus_message_append(reply, "i", 0);
	if (r >= 0)
		r = sd_bus_message_append(reply, "i", AF_UNSPEC);
	if (r >= 0)
		r = sd_bus_message_append_array(reply, 'y', NULL, 0);
	if (r >= 0 && ex)
		r = sd_bus_message_append(reply, "qs", (uint16_t)0, "");
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

/* ---- changing calls: the caller's credentials first ------------------------ */

typedef int (*r1_action)(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e);

struct r1_method {
	const char *what;   /* for logs: "SetLinkDNS" */
	bool on_link;       /* takes a link: the ifindex argument, or the object's */
	r1_action run;
};

struct r1_call {
	struct r1_call *next;
	struct resolve1 *r1;
	sd_bus_message *m;
	sd_bus_slot *slot;  /* GetConnectionCredentials under way */
	const struct r1_method *method;
	unsigned object_ifindex; /* a Link object's method; 0: the Manager's, ifindex read from m */
};

static void call_free(struct r1_call *c)
{
	struct r1_call **p = &c->r1->calls;
	while (*p && *p != c)
		p = &(*p)->next;
	if (*p)
		*p = c->next;
	sd_bus_slot_unref(c->slot);
	sd_bus_message_unref(c->m);
	free(c);
}

/* GetConnectionCredentials' a{sv} (D-Bus specification): UnixUserID,
 * UnixGroupIDs (primary and supplementary), ProcessID. */
static int read_credentials(sd_bus_message *reply, struct access_caller *c, pid_t *pid)
{
	int r = sd_bus_message_enter_container(reply, 'a', "{sv}");
	if (r < 0)
		return r;
	bool have_uid = false;
	while ((r = sd_bus_message_enter_container(reply, 'e', "sv")) > 0) {
		const char *key;
		if ((r = sd_bus_message_read(reply, "s", &key)) < 0)
			return r;
		if (strcmp(key, "UnixUserID") == 0) {
			uint32_t uid;
			if ((r = sd_bus_message_read(reply, "v", "u", &uid)) < 0)
				return r;
			c->uid = uid;
			have_uid = true;
		} else if (strcmp(key, "ProcessID") == 0) {
			uint32_t p;
			if ((r = sd_bus_message_read(reply, "v", "u", &p)) < 0)
				return r;
			*pid = (pid_t)p;
		} else if (strcmp(key, "UnixGroupIDs") == 0) {
			const uint32_t *gids;
			size_t size;
			if ((r = sd_bus_message_enter_container(reply, 'v', "au")) < 0 ||
			    (r = sd_bus_message_read_array(reply, 'u', (const void **)&gids, &size)) < 0 ||
			    (r = sd_bus_message_exit_container(reply)) < 0)
				return r;
			size_t n = size / sizeof(uint32_t);
			/* Past the room, the rest refuse rather than grant. */
			c->n_groups = n <= ACCESS_MAX_GROUPS ? n : ACCESS_MAX_GROUPS;
			for (size_t i = 0; i < c->n_groups; i++)
				c->groups[i] = gids[i];
		} else if ((r = sd_bus_message_skip(reply, "v")) < 0) {
			return r;
		}
		if ((r = sd_bus_message_exit_container(reply)) < 0)
			return r;
	}
	if (r < 0)
		return r;
	c->known = have_uid;
	return have_uid ? 0 : -ENODATA;
}

static int reply_result(sd_bus_message *m, int r, sd_bus_error *e)
{
	if (sd_bus_error_is_set(e))
		return sd_bus_reply_method_error(m, e);
	if (r < 0)
		return sd_bus_reply_method_errno(m, r, NULL);
	return sd_bus_reply_method_return(m, NULL);
}

/* Runs an authorized call: its link first, when it takes one. */
static int run_call(struct resolve1 *r1, struct r1_call *c, sd_bus_error *e)
{
	unsigned ifindex = c->object_ifindex;
	if (c->method->on_link && ifindex == 0) {
		int32_t i;
		int r = sd_bus_message_read(c->m, "i", &i);
		if (r < 0)
			return r;
		if (i <= 0)
			return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid interface index %d", i);
		ifindex = (unsigned)i;
	}
	if (c->method->on_link && !kernel_link(r1, ifindex))
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_LINK, "Link %u not known", ifindex);
	return c->method->run(r1, c->m, ifindex, e);
}

static int on_credentials(sd_bus_message *reply, void *arg, sd_bus_error *ret_error)
{
	(void)ret_error;
	struct r1_call *c = arg;
	struct resolve1 *r1 = c->r1;
	struct access_caller caller = { .known = false };
	pid_t pid = 0;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	const char *sender = sd_bus_message_get_sender(c->m);
	char who[64];

	if (sd_bus_message_is_method_error(reply, NULL) || read_credentials(reply, &caller, &pid) < 0)
		caller.known = false;
	/* CAP_NET_ADMIN is the kernel's word on the process now; a PID
	 * taken over by another user's process does not count (uid checked). */
	if (caller.known && caller.uid != 0 && pid > 0)
		(void)access_read_proc(pid, &caller);
	if (!access_may_change(&caller, r1->d->control_gid, daemon_self_uid(r1->d))) {
		log_info("dbus: %s refused for %s (uid %d)", c->method->what, sender ? sender : "?",
			 caller.known ? (int)caller.uid : -1);
		sd_bus_error_setf(&e, SD_BUS_ERROR_ACCESS_DENIED,
				  "%s: permission denied; changing DNS settings needs %s",
				  c->method->what,
				  access_who_may(r1->d->cfg.control_group, who, sizeof(who)));
		sd_bus_reply_method_error(c->m, &e);
	} else {
		int r = run_call(r1, c, &e);
		if (r < 0 || sd_bus_error_is_set(&e))
			log_info("dbus: %s from %s (uid %u) failed: %s", c->method->what,
				 sender ? sender : "?", (unsigned)caller.uid,
				 e.message ? e.message : strerror(-r));
		reply_result(c->m, r, &e);
	}
	sd_bus_error_free(&e);
	call_free(c);
	return 0;
}

/* Asks the bus who sent m, without waiting; the call runs on the answer. */
static int authorize(struct resolve1 *r1, sd_bus_message *m, const struct r1_method *method,
		     unsigned object_ifindex)
{
	struct r1_call *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->r1 = r1;
	c->m = sd_bus_message_ref(m);
	c->method = method;
	c->object_ifindex = object_ifindex;
	c->next = r1->calls;
	r1->calls = c;
	int r = sd_bus_call_method_async(sd_bus_message_get_bus(m), &c->slot, "org.freedesktop.DBus",
					 "/org/freedesktop/DBus", "org.freedesktop.DBus",
					 "GetConnectionCredentials", on_credentials, c, "s",
					 sd_bus_message_get_sender(m));
	if (r < 0) {
		call_free(c);
		return r;
	}
	return 1; /* answered later */
}

/* ---- the changes ----------------------------------------------------------- */

static int commit_change(struct resolve1 *r1, unsigned ifindex, struct link_settings *s,
			 sd_bus_error *e)
{
	char why[256];
	int rc = link_set_manual_fields(links_of(r1), ifindex, LINK_SOURCE_DBUS, s, why, sizeof(why));
	link_settings_clear(s);
	if (rc == -ENODEV)
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_LINK, "Link %u not known", ifindex);
	if (rc == -E2BIG)
		return sd_bus_error_setf(e, SD_BUS_ERROR_LIMITS_EXCEEDED, "%s", why);
	if (rc < 0)
		return sd_bus_error_setf(e, SD_BUS_ERROR_FAILED, "%s", why);
	routing_commit(r1->d->routing);
	return 0;
}

/* The end of a list's reading (r: how it went): close the array and
 * commit, or drop what was read. */
static int commit_list(struct resolve1 *r1, sd_bus_message *m, int r, unsigned ifindex,
		       struct link_settings *s, sd_bus_error *e)
{
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	if (r < 0) {
		link_settings_clear(s);
		return r;
	}
	return commit_change(r1, ifindex, s, e);
}

static int set_dns(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e,
		   bool ex)
{
	size_t cap = r1->d->cfg.max_link_servers;
	struct link_settings s;
	link_settings_init(&s);
	s.has_servers = true;
	s.servers = calloc(cap ? cap : 1, sizeof(s.servers[0]));
	if (!s.servers)
		return -ENOMEM;
	int r = sd_bus_message_enter_container(m, 'a', ex ? "(iayqs)" : "(iay)");
	while (r >= 0 && (r = sd_bus_message_enter_container(m, 'r', ex ? "iayqs" : "iay")) > 0) {
		int32_t family;
		const void *bytes;
		size_t size;
		uint16_t port = 0;
		const char *name = NULL;
		if ((r = sd_bus_message_read(m, "i", &family)) < 0 ||
		    (r = sd_bus_message_read_array(m, 'y', &bytes, &size)) < 0 ||
		    (ex && (r = sd_bus_message_read(m, "qs", &port, &name)) < 0) ||
		    (r = sd_bus_message_exit_container(m)) < 0)
			break;
		if (s.n_servers == cap) {
			r = sd_bus_error_setf(e, SD_BUS_ERROR_LIMITS_EXCEEDED,
					      "at most %zu DNS servers per interface (max-link-servers)", cap);
			break;
		}
		r = server_from_bus(family, bytes, size, port, name, ifindex, &s.servers[s.n_servers], e);
		if (r < 0)
			break;
		s.n_servers++;
	}
	return commit_list(r1, m, r, ifindex, &s, e);
}

static int act_set_dns(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e)
{
	return set_dns(r1, m, ifindex, e, false);
}

static int act_set_dns_ex(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e)
{
	return set_dns(r1, m, ifindex, e, true);
}

static int act_set_domains(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e)
{
	size_t cap = r1->d->cfg.max_link_domains;
	struct link_settings s;
	link_settings_init(&s);
	s.has_domains = true;
	s.domains = calloc(cap ? cap : 1, sizeof(s.domains[0]));
	if (!s.domains)
		return -ENOMEM;
	int r = sd_bus_message_enter_container(m, 'a', "(sb)");
	const char *name;
	int route_only;
	while (r >= 0 && (r = sd_bus_message_read(m, "(sb)", &name, &route_only)) > 0) {
		char text[ROUTE_NAME_TEXT_MAX + 2], why[160];
		bool root = strcmp(name, ".") == 0 || strcmp(name, "") == 0;
		if (root && !route_only) {
			r = sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
					      "Root domain is not suitable as search domain");
			break;
		}
		if (s.n_domains == cap) {
			r = sd_bus_error_setf(e, SD_BUS_ERROR_LIMITS_EXCEEDED,
					      "at most %zu domains per interface (max-link-domains)", cap);
			break;
		}
		/* The boolean says "routing only"; a "~" in the name is not ours
		 * to read as that (resolved refuses it as no valid name). */
		if (name[0] == '~') {
			r = sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
					      "Invalid search domain %s: pass routing-only domains "
					      "without '~' and with the flag set", name);
			break;
		}
		if (strlen(name) >= ROUTE_NAME_TEXT_MAX) {
			r = sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
					      "Invalid search domain: longer than 253 characters");
			break;
		}
		snprintf(text, sizeof(text), "%s%s", route_only ? "~" : "", root ? "." : name);
		if (route_domain_parse(text, &s.domains[s.n_domains], why, sizeof(why)) < 0) {
			r = sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid search domain %s: %s",
					      name, why);
			break;
		}
		s.n_domains++;
	}
	return commit_list(r1, m, r, ifindex, &s, e);
}

static int act_set_default_route(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex,
				 sd_bus_error *e)
{
	int b;
	int r = sd_bus_message_read(m, "b", &b);
	if (r < 0)
		return r;
	struct link_settings s;
	link_settings_init(&s);
	s.default_route = b ? 1 : 0;
	return commit_change(r1, ifindex, &s, e);
}

static int set_mode(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e,
		    enum link_feature feature, const char *what)
{
	const char *text;
	int r = sd_bus_message_read(m, "s", &text);
	if (r < 0)
		return r;
	struct link_settings s;
	link_settings_init(&s);
	if (link_mode_parse(feature, text, &s.modes[feature]) < 0)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid %s setting: %s", what, text);
	/* "" is "back to the default", as NetworkManager says on removal. */
	if (s.modes[feature] == LINK_MODE_UNSET) {
		link_clear_manual_mode(links_of(r1), ifindex, LINK_SOURCE_DBUS, feature);
		routing_commit(r1->d->routing);
		return 0;
	}
	return commit_change(r1, ifindex, &s, e);
}

static int act_set_llmnr(struct resolve1 *r1, sd_bus_message *m, unsigned i, sd_bus_error *e)
{
	return set_mode(r1, m, i, e, LINK_FEATURE_LLMNR, "LLMNR");
}

static int act_set_mdns(struct resolve1 *r1, sd_bus_message *m, unsigned i, sd_bus_error *e)
{
	return set_mode(r1, m, i, e, LINK_FEATURE_MDNS, "MulticastDNS");
}

static int act_set_dot(struct resolve1 *r1, sd_bus_message *m, unsigned i, sd_bus_error *e)
{
	return set_mode(r1, m, i, e, LINK_FEATURE_DNS_OVER_TLS, "DNSOverTLS");
}

static int act_set_dnssec(struct resolve1 *r1, sd_bus_message *m, unsigned i, sd_bus_error *e)
{
	return set_mode(r1, m, i, e, LINK_FEATURE_DNSSEC, "DNSSEC");
}

/* stubd validates no DNSSEC itself (it passes DO and AD through), so
 * negative trust anchors change nothing; the names are still checked so
 * that a caller's mistake is an error, as in systemd-resolved. */
static int act_set_ntas(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e)
{
	(void)r1;
	const char *name;
	int r = sd_bus_message_enter_container(m, 'a', "s");
	while (r >= 0 && (r = sd_bus_message_read(m, "s", &name)) > 0) {
		uint8_t wire[WIRE_NAME_MAX];
		const char *why = NULL;
		if (wire_name_from_text(name, strlen(name), true, wire, &why) == 0)
			return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
						 "Invalid negative trust anchor domain: %s", name);
	}
	if (r >= 0)
		r = sd_bus_message_exit_container(m);
	if (r >= 0)
		log_debug("dbus: negative trust anchors for link %u noted; stubd does not validate "
			  "DNSSEC itself", ifindex);
	return r;
}

static int act_revert(struct resolve1 *r1, sd_bus_message *m, unsigned ifindex, sd_bus_error *e)
{
	(void)m;
	if (link_revert(links_of(r1), ifindex) < 0)
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_LINK, "Link %u not known", ifindex);
	routing_commit(r1->d->routing);
	log_info("dbus: link %u reverted", ifindex);
	return 0;
}

static int act_flush_caches(struct resolve1 *r1, sd_bus_message *m, unsigned i, sd_bus_error *e)
{
	(void)m;
	(void)i;
	(void)e;
	size_t n = cache_flush_all(r1->d->cache);
	cachesave_flushed(r1->d->cachesave);
	log_info("dbus: flushed %zu cache entries", n);
	return 0;
}

static int act_reset_statistics(struct resolve1 *r1, sd_bus_message *m, unsigned i, sd_bus_error *e)
{
	(void)m;
	(void)i;
	(void)e;
	daemon_reset_stats(r1->d);
	log_info("dbus: statistics reset");
	return 0;
}

/* systemd-resolved forgets which EDNS and TLS features each server had;
 * stubd keeps no such levels (every query is sent alike), so this only
 * says so. */
static int act_reset_server_features(struct resolve1 *r1, sd_bus_message *m, unsigned i,
				     sd_bus_error *e)
{
	(void)r1;
	(void)m;
	(void)i;
	(void)e;
	log_info("dbus: ResetServerFeatures: stubd keeps no per-server feature levels");
	return 0;
}

static const struct r1_method method_set_dns = { "SetLinkDNS", true, act_set_dns };
static const struct r1_method method_set_dns_ex = { "SetLinkDNSEx", true, act_set_dns_ex };
static const struct r1_method method_set_domains = { "SetLinkDomains", true, act_set_domains };
static const struct r1_method method_set_default_route = { "SetLinkDefaultRoute", true,
							     act_set_default_route };
static const struct r1_method method_set_llmnr = { "SetLinkLLMNR", true, act_set_llmnr };
static const struct r1_method method_set_mdns = { "SetLinkMulticastDNS", true, act_set_mdns };
static const struct r1_method method_set_dot = { "SetLinkDNSOverTLS", true, act_set_dot };
static const struct r1_method method_set_dnssec = { "SetLinkDNSSEC", true, act_set_dnssec };
static const struct r1_method method_set_ntas = { "SetLinkDNSSECNegativeTrustAnchors", true,
						  act_set_ntas };
static const struct r1_method method_revert = { "RevertLink", true, act_revert };
static const struct r1_method method_flush = { "FlushCaches", false, act_flush_caches };
static const struct r1_method method_reset_stats = { "ResetStatistics", false, act_reset_statistics };
static const struct r1_method method_reset_features = { "ResetServerFeatures", false,
							  act_reset_server_features };

/* One handler per method for the vtables: the Manager's take the ifindex
 * from the call, a Link object's from its path. */
#define CHANGING(fn, method)                                                          \
	static int fn(sd_bus_message *m, void *arg, sd_bus_error *e)                  \
	{                                                                             \
		(void)e;                                                              \
		return authorize(arg, m, &(method), 0);                               \
	}                                                                             \
	static int fn##_on_link(sd_bus_message *m, void *arg, sd_bus_error *e)        \
	{                                                                             \
		unsigned ifindex = path_ifindex(sd_bus_message_get_path(m));          \
		if (!kernel_link(arg, ifindex))                                       \
			return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_LINK,      \
						 "Link object %s not known",          \
						 sd_bus_message_get_path(m));         \
		return authorize(arg, m, &(method), ifindex);                         \
	}

CHANGING(bus_set_dns, method_set_dns)
CHANGING(bus_set_dns_ex, method_set_dns_ex)
CHANGING(bus_set_domains, method_set_domains)
CHANGING(bus_set_default_route, method_set_default_route)
CHANGING(bus_set_llmnr, method_set_llmnr)
CHANGING(bus_set_mdns, method_set_mdns)
CHANGING(bus_set_dot, method_set_dot)
CHANGING(bus_set_dnssec, method_set_dnssec)
CHANGING(bus_set_ntas, method_set_ntas)
CHANGING(bus_revert, method_revert)

static int bus_flush_caches(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	(void)e;
	return authorize(arg, m, &method_flush, 0);
}

static int bus_reset_statistics(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	(void)e;
	return authorize(arg, m, &method_reset_stats, 0);
}

static int bus_reset_server_features(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	(void)e;
	return authorize(arg, m, &method_reset_features, 0);
}

static int bus_get_link(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	int32_t ifindex;
	int r = sd_bus_message_read(m, "i", &ifindex);
	if (r < 0)
		return r;
	if (ifindex <= 0)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid interface index %d", ifindex);
	if (!kernel_link(arg, (unsigned)ifindex))
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_LINK, "Link %d not known", ifindex);
	char idx[16], *path = NULL;
	snprintf(idx, sizeof(idx), "%d", ifindex);
	if ((r = sd_bus_path_encode(LINK_PREFIX, idx, &path)) < 0)
		return r;
	r = sd_bus_reply_method_return(m, "o", path);
	free(path);
	return r;
}

/* ---- lookups through the pipeline ------------------------------------------ */

enum lookup_kind { LOOKUP_HOSTNAME, LOOKUP_ADDRESS, LOOKUP_RECORD };

struct r1_lookup {
	struct r1_lookup *next;
	struct resolve1 *r1;
	sd_bus_message *m;
	enum lookup_kind kind;
	char what[RESOLVE1_NAME_TEXT_MAX]; /* the name or address, for errors */
	struct ask ask;       /* its questions (A and AAAA, PTR, or the record's type) */
};

static void lookup_free(struct r1_lookup *l)
{
	struct r1_lookup **p = &l->r1->lookups;
	while (*p && *p != l)
		p = &(*p)->next;
	if (*p)
		*p = l->next;
	ask_clear(&l->ask);
	sd_bus_message_unref(l->m);
	free(l);
}

/* The interface whose server gave the answer (0: global, cache, hosts),
 * as systemd-resolved reports the scope that answered. */
static int answer_ifindex(struct resolve1 *r1, const struct ask_answer *a)
{
	if (a->origin.source != PIPELINE_SOURCE_UPSTREAM || !a->server[0])
		return 0;
	struct link_registry *reg = links_of(r1);
	for (size_t i = 0; i < link_count(reg); i++) {
		const struct link *l = link_at(reg, i);
		const struct link_settings *s = link_effective(l);
		for (size_t j = 0; j < s->n_servers; j++) {
			char text[NETADDR_STRLEN];
			if (strcmp(netaddr_str(&s->servers[j].addr, text, sizeof(text)), a->server) == 0)
				return (int)link_ifindex(l);
		}
	}
	return 0;
}

static uint64_t answer_flags(const struct r1_lookup *l)
{
	uint64_t flags = SD_RESOLVED_DNS;
	for (size_t i = 0; i < l->ask.n; i++) {
		if (l->ask.answers[i].origin.source == PIPELINE_SOURCE_CACHE)
			flags |= SD_RESOLVED_FROM_CACHE;
		else if (l->ask.answers[i].origin.source == PIPELINE_SOURCE_UPSTREAM)
			flags |= SD_RESOLVED_FROM_NETWORK;
		else if (l->ask.answers[i].origin.source == PIPELINE_SOURCE_HOSTS)
			flags |= SD_RESOLVED_SYNTHETIC;
	}
	return flags;
}

/* NXDOMAIN first, then another failure, else NOERROR: what the lookup as
 * a whole says when it found nothing. */
static unsigned lookup_rcode(const struct r1_lookup *l)
{
	unsigned worst = WIRE_RCODE_NOERROR;
	for (size_t i = 0; i < l->ask.n; i++) {
		unsigned rc = ask_rcode(&l->ask.answers[i]);
		if (rc == WIRE_RCODE_NXDOMAIN)
			return rc;
		if (rc != WIRE_RCODE_NOERROR)
			worst = rc;
	}
	return worst;
}

static int reply_lookup_error(struct r1_lookup *l, bool found)
{
	struct resolve1_error err;
	if (!resolve1_answer_error(lookup_rcode(l), l->ask.no_servers, found, l->what, &err))
		return 0;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	sd_bus_error_set(&e, err.name, err.message);
	int r = sd_bus_reply_method_error(l->m, &e);
	sd_bus_error_free(&e);
	return r < 0 ? r : 1;
}

static int finish_hostname(struct r1_lookup *l, sd_bus_message *reply)
{
	struct resolve1_address addrs[RESOLVE1_MAX_ITEMS];
	int ifindex[RESOLVE1_MAX_ITEMS];
	char canonical[RESOLVE1_NAME_TEXT_MAX] = "", one[RESOLVE1_NAME_TEXT_MAX];
	size_t n = 0;
	for (size_t i = 0; i < l->ask.n; i++) {
		size_t before = n;
		if (ask_rcode(&l->ask.answers[i]) != WIRE_RCODE_NOERROR)
			continue;
		if (resolve1_answer_addresses(l->ask.answers[i].reply, l->ask.answers[i].len, addrs, RESOLVE1_MAX_ITEMS,
					      &n, one, sizeof(one)) < 0)
			continue;
		if (!canonical[0])
			snprintf(canonical, sizeof(canonical), "%s", one);
		int idx = answer_ifindex(l->r1, &l->ask.answers[i]);
		for (size_t j = before; j < n; j++)
			ifindex[j] = idx;
	}
	int r = reply_lookup_error(l, n > 0);
	if (r != 0)
		return r;
	r = sd_bus_message_open_container(reply, 'a', "(iiay)");
	for (size_t i = 0; r >= 0 && i < n; i++) {
		r = sd_bus_message_open_container(reply, 'r', "iiay");
		if (r >= 0)
			r = sd_bus_message_append(reply, "ii", ifindex[i], addrs[i].family);
		if (r >= 0)
			r = sd_bus_message_append_array(reply, 'y', addrs[i].bytes,
							addrs[i].family == AF_INET ? 4 : 16);
		if (r >= 0)
			r = sd_bus_message_close_container(reply);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "st", canonical, answer_flags(l));
	return r < 0 ? r : 0;
}

struct append_ctx {
	sd_bus_message *reply;
	int ifindex;
	int r;
	size_t n;
};

static void append_name(void *arg, const char *name)
{
	struct append_ctx *ctx = arg;
	if (ctx->r >= 0)
		ctx->r = sd_bus_message_append(ctx->reply, "(is)", ctx->ifindex, name);
	ctx->n++;
}

static void append_record(void *arg, uint16_t rr_class, uint16_t rr_type, const uint8_t *wire,
			  size_t len)
{
	struct append_ctx *ctx = arg;
	int r = ctx->r;
	if (r >= 0)
		r = sd_bus_message_open_container(ctx->reply, 'r', "iqqay");
	if (r >= 0)
		r = sd_bus_message_append(ctx->reply, "iqq", ctx->ifindex, rr_class, rr_type);
	if (r >= 0)
		r = sd_bus_message_append_array(ctx->reply, 'y', wire, len);
	if (r >= 0)
		r = sd_bus_message_close_container(ctx->reply);
	ctx->r = r;
	ctx->n++;
}

/* ResolveAddress and ResolveRecord: one question, its answer's items. */
static int finish_items(struct r1_lookup *l, sd_bus_message *reply)
{
	struct ask_answer *a = &l->ask.answers[0];
	struct append_ctx ctx = { .reply = reply, .ifindex = answer_ifindex(l->r1, a) };
	bool address = l->kind == LOOKUP_ADDRESS;
	/* Count first: an empty answer is an error, not an empty array. */
	int found = 0;
	if (ask_rcode(a) == WIRE_RCODE_NOERROR) {
		struct append_ctx count = { .r = -1 };
		found = address ? resolve1_answer_names(a->reply, a->len, append_name, &count)
				: resolve1_answer_records(a->reply, a->len, append_record, &count);
	}
	int r = reply_lookup_error(l, found > 0);
	if (r != 0)
		return r;
	ctx.r = sd_bus_message_open_container(reply, 'a', address ? "(is)" : "(iqqay)");
	if (address)
		resolve1_answer_names(a->reply, a->len, append_name, &ctx);
	else
		resolve1_answer_records(a->reply, a->len, append_record, &ctx);
	r = ctx.r;
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "t", answer_flags(l));
	return r < 0 ? r : 0;
}

static void finish_lookup(struct r1_lookup *l)
{
	sd_bus_message *reply = NULL;
	int r = sd_bus_message_new_method_return(l->m, &reply);
	if (r >= 0)
		r = l->kind == LOOKUP_HOSTNAME ? finish_hostname(l, reply) : finish_items(l, reply);
	if (r == 0)
		r = sd_bus_send(NULL, reply, NULL);
	if (r < 0)
		sd_bus_reply_method_errno(l->m, r, NULL);
	sd_bus_message_unref(reply);
	struct resolve1 *r1 = l->r1;
	lookup_free(l);
	bus_kick(r1->bus);
}

static void on_asked(struct ask *a, void *arg)
{
	(void)a;
	finish_lookup(arg);
}

/* Sends each question down worker 0's pipeline, as stubctl query does.
 * Returns 1 (answered now or later) or a negative errno. */
static int start_lookup(struct resolve1 *r1, sd_bus_message *m, enum lookup_kind kind,
			const char *what, const uint8_t *qname, size_t qname_len,
			const uint16_t *qtypes, size_t n, uint16_t qclass, bool skip_cache)
{
	struct r1_lookup *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->r1 = r1;
	l->m = sd_bus_message_ref(m);
	l->kind = kind;
	snprintf(l->what, sizeof(l->what), "%s", what);
	l->next = r1->lookups;
	r1->lookups = l;
	int rc = ask_start(&l->ask, daemon_main_worker(r1->d)->pipeline, qname, qname_len, qtypes, n,
			   qclass, skip_cache, on_asked, l);
	if (rc < 0) {
		lookup_free(l);
		return rc;
	}
	if (rc == 1)
		finish_lookup(l);
	return 1;
}

static int check_lookup_flags(int32_t ifindex, uint64_t flags, sd_bus_error *e)
{
	if (ifindex < 0)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid interface index");
	if (flags & ~LOOKUP_FLAGS_OK)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid flags parameter");
	/* Asked for other protocols only (LLMNR, mDNS), none of which stubd
	 * speaks: nothing can answer. */
	if ((flags & SD_RESOLVED_PROTOCOLS_ALL) && !(flags & SD_RESOLVED_DNS))
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_NAME_SERVERS,
					 "No appropriate name servers or networks for name found");
	return 0;
}

/* A lookup on one link (NetworkManager's connectivity check passes the
 * device's): a link that is unknown is an error, one that is down or has
 * no server answers nothing (NoNameServers, which NetworkManager reports
 * as limited connectivity). A link with servers is asked as the name's
 * route says: stubd keeps one cache for all links, so a lookup is not
 * confined to one link's servers (documented difference). */
static int check_lookup_link(struct resolve1 *r1, int32_t ifindex, sd_bus_error *e)
{
	if (ifindex == 0)
		return 0;
	const struct link *l = kernel_link(r1, (unsigned)ifindex);
	if (!l)
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_LINK, "Link %d not known", ifindex);
	if (!link_up(l) || link_effective(l)->n_servers == 0)
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_NAME_SERVERS,
					 "No appropriate name servers or networks for name found");
	return 0;
}

/* A hostname that is an address already is answered as itself, without
 * a lookup (as systemd-resolved does). Returns 1 when it was one. */
static int answer_literal(sd_bus_message *m, int32_t ifindex, const char *name, int32_t family,
			  sd_bus_error *e)
{
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} a;
	int f = inet_pton(AF_INET, name, &a) == 1 ? AF_INET : inet_pton(AF_INET6, name, &a) == 1 ? AF_INET6 : 0;
	if (!f)
		return 0;
	if (family != AF_UNSPEC && family != f)
		return sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_RR,
					 "The specified address is not of the requested family.");
	char canonical[INET6_ADDRSTRLEN];
	inet_ntop(f, &a, canonical, sizeof(canonical));
	sd_bus_message *reply = NULL;
	int r = sd_bus_message_new_method_return(m, &reply);
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'a', "(iiay)");
	if (r >= 0)
		r = sd_bus_message_open_container(reply, 'r', "iiay");
	if (r >= 0)
		r = sd_bus_message_append(reply, "ii", ifindex, f);
	if (r >= 0)
		r = sd_bus_message_append_array(reply, 'y', &a, f == AF_INET ? 4 : 16);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	if (r >= 0)
		r = sd_bus_message_append(reply, "st", canonical, SD_RESOLVED_DNS | SD_RESOLVED_SYNTHETIC);
	if (r >= 0)
		r = sd_bus_send(NULL, reply, NULL);
	sd_bus_message_unref(reply);
	return r < 0 ? r : 1;
}

static int bus_resolve_hostname(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	int32_t ifindex, family;
	const char *name;
	uint64_t flags;
	int r = sd_bus_message_read(m, "isit", &ifindex, &name, &family, &flags);
	if (r < 0)
		return r;
	if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Unknown address family %i", family);
	if ((r = check_lookup_flags(ifindex, flags, e)) < 0)
		return r;
	if ((r = answer_literal(m, ifindex, name, family, e)) != 0)
		return r;
	if ((r = check_lookup_link(arg, ifindex, e)) < 0)
		return r;
	uint8_t qname[WIRE_NAME_MAX];
	const char *why = NULL;
	size_t len = wire_name_from_text(name, strlen(name), false, qname, &why);
	if (len == 0)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid hostname '%s'", name);
	uint16_t types[2];
	size_t n = 0;
	if (family != AF_INET6)
		types[n++] = WIRE_TYPE_A;
	if (family != AF_INET)
		types[n++] = WIRE_TYPE_AAAA;
	return start_lookup(arg, m, LOOKUP_HOSTNAME, name, qname, len, types, n, WIRE_CLASS_IN,
			    flags & SD_RESOLVED_NO_CACHE);
}

static int bus_resolve_address(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	int32_t ifindex, family;
	const void *bytes;
	size_t size;
	uint64_t flags;
	int r = sd_bus_message_read(m, "ii", &ifindex, &family);
	if (r < 0)
		return r;
	if (family != AF_INET && family != AF_INET6)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Unknown address family %i", family);
	if ((r = sd_bus_message_read_array(m, 'y', &bytes, &size)) < 0)
		return r;
	if (size != (family == AF_INET ? 4u : 16u))
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid address size");
	if ((r = sd_bus_message_read(m, "t", &flags)) < 0)
		return r;
	if ((r = check_lookup_flags(ifindex, flags, e)) < 0 ||
	    (r = check_lookup_link(arg, ifindex, e)) < 0)
		return r;
	/* The reverse name: nibbles (ip6.arpa) or octets (in-addr.arpa),
	 * least significant first (RFC 3596 §2.5, RFC 1035 §3.5). */
	char rev[80] = "", what[INET6_ADDRSTRLEN];
	const uint8_t *b = bytes;
	size_t used = 0;
	for (size_t i = size; i-- > 0;)
		used += (size_t)(family == AF_INET ? snprintf(rev + used, sizeof(rev) - used, "%u.", b[i])
						   : snprintf(rev + used, sizeof(rev) - used, "%x.%x.",
							      b[i] & 0xf, b[i] >> 4));
	snprintf(rev + used, sizeof(rev) - used, family == AF_INET ? "in-addr.arpa" : "ip6.arpa");
	inet_ntop(family, bytes, what, sizeof(what));
	uint8_t qname[WIRE_NAME_MAX];
	const char *why = NULL;
	size_t len = wire_name_from_text(rev, strlen(rev), true, qname, &why);
	uint16_t type = WIRE_TYPE_PTR;
	return start_lookup(arg, m, LOOKUP_ADDRESS, what, qname, len, &type, 1, WIRE_CLASS_IN,
			    flags & SD_RESOLVED_NO_CACHE);
}

static int bus_resolve_record(sd_bus_message *m, void *arg, sd_bus_error *e)
{
	int32_t ifindex;
	const char *name;
	uint16_t rr_class, rr_type;
	uint64_t flags;
	int r = sd_bus_message_read(m, "isqqt", &ifindex, &name, &rr_class, &rr_type, &flags);
	if (r < 0)
		return r;
	if ((r = check_lookup_flags(ifindex, flags, e)) < 0 ||
	    (r = check_lookup_link(arg, ifindex, e)) < 0)
		return r;
	uint8_t qname[WIRE_NAME_MAX];
	const char *why = NULL;
	size_t len = wire_name_from_text(name, strlen(name), false, qname, &why);
	if (len == 0)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid name '%s'", name);
	/* Zone transfers and meta types are no questions for a stub. */
	if (rr_type == 0 || rr_type == WIRE_TYPE_OPT || (rr_type >= 128 && rr_type <= 255 && rr_type != WIRE_TYPE_ANY))
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS,
					 "Specified resource record type %u may not be used in a query.",
					 rr_type);
	if (rr_class == 0 || rr_class == WIRE_CLASS_ANY)
		return sd_bus_error_setf(e, SD_BUS_ERROR_INVALID_ARGS, "Invalid class %u", rr_class);
	return start_lookup(arg, m, LOOKUP_RECORD, name, qname, len, &rr_type, 1, rr_class,
			    flags & SD_RESOLVED_NO_CACHE);
}

/* ---- properties ------------------------------------------------------------- */

#define GETTER(fn)                                                                          \
	static int fn(sd_bus *bus, const char *path, const char *interface, const char *property, \
		      sd_bus_message *reply, void *arg, sd_bus_error *e)

static int append_string(sd_bus_message *reply, const char *s)
{
	return sd_bus_message_append(reply, "s", s);
}

GETTER(get_no)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)arg, (void)e;
	return append_string(reply, "no");
}

GETTER(get_false)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)arg, (void)e;
	return sd_bus_message_append(reply, "b", 0);
}

GETTER(get_empty_strv)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)arg, (void)e;
	return sd_bus_message_append(reply, "as", 0);
}

GETTER(get_hostname)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)arg, (void)e;
	char name[256] = "";
	if (gethostname(name, sizeof(name) - 1) < 0)
		name[0] = '\0';
	return append_string(reply, name);
}

GETTER(get_stub_listener)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)arg, (void)e;
	return append_string(reply, "yes");
}

/* "stub" when /etc/resolv.conf is the one stubd writes, as resolved says
 * of its own; "foreign" otherwise. */
GETTER(get_resolv_conf_mode)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)e;
	struct resolve1 *r1 = arg;
	char target[PATH_MAX], ours[PATH_MAX + 32];
	ssize_t n = readlink("/etc/resolv.conf", target, sizeof(target) - 1);
	snprintf(ours, sizeof(ours), "%s/%s", r1->d->cfg.runtime_dir, ROUTING_RESOLV_CONF);
	bool stub = n > 0 && (target[n] = '\0', strcmp(target, ours) == 0);
	return append_string(reply, stub ? "stub" : "foreign");
}

/* Manager.DNS / DNSEx: the global servers (ifindex 0), then every
 * link's, as systemd-resolved lists them. */
static int append_all_servers(struct resolve1 *r1, sd_bus_message *reply, bool ex)
{
	const struct config *cfg = &r1->d->cfg;
	int r = sd_bus_message_open_container(reply, 'a', ex ? "(iiayqs)" : "(iiay)");
	for (size_t i = 0; r >= 0 && i < cfg->n_upstream; i++)
		r = append_server(reply, &cfg->upstream[i], true, 0, ex);
	struct link_registry *reg = links_of(r1);
	for (size_t i = 0; r >= 0 && i < link_count(reg); i++) {
		const struct link *l = link_at(reg, i);
		const struct link_settings *s = link_effective(l);
		for (size_t j = 0; r >= 0 && j < s->n_servers; j++)
			r = append_server(reply, &s->servers[j], true, (int)link_ifindex(l), ex);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

GETTER(get_dns)
{
	(void)bus, (void)path, (void)interface, (void)e;
	return append_all_servers(arg, reply, strcmp(property, "DNSEx") == 0);
}

GETTER(get_fallback_dns)
{
	(void)bus, (void)path, (void)interface, (void)arg, (void)e;
	bool ex = strcmp(property, "FallbackDNSEx") == 0;
	return sd_bus_message_append(reply, ex ? "a(iiayqs)" : "a(iiay)", 0);
}

GETTER(get_current_dns)
{
	(void)bus, (void)path, (void)interface, (void)e;
	struct resolve1 *r1 = arg;
	bool ex = strcmp(property, "CurrentDNSServerEx") == 0;
	if (r1->d->cfg.n_upstream == 0)
		return append_no_server(reply, true, ex);
	return append_server(reply, &r1->d->cfg.upstream[0], true, 0, ex);
}

/* Manager.Domains: forward-zones as global routing domains, then every
 * link's domains. */
GETTER(get_domains)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)e;
	struct resolve1 *r1 = arg;
	char text[ROUTE_NAME_TEXT_MAX + 2];
	int r = sd_bus_message_open_container(reply, 'a', "(isb)");
	const struct route_table *t = routing_table(r1->d->routing);
	for (size_t i = 0; r >= 0 && i < route_table_domain_count(t); i++) {
		const struct route_domain *d;
		const struct route *route = route_table_domain_route(t, i, &d);
		if (route->kind != ROUTE_FORWARD_ZONE)
			continue;
		route_domain_str(d, text, sizeof(text));
		r = sd_bus_message_append(reply, "(isb)", 0, text[0] == '~' ? text + 1 : text, 1);
	}
	struct link_registry *reg = links_of(r1);
	for (size_t i = 0; r >= 0 && i < link_count(reg); i++) {
		const struct link *l = link_at(reg, i);
		const struct link_settings *s = link_effective(l);
		for (size_t j = 0; r >= 0 && j < s->n_domains; j++) {
			route_domain_str(&s->domains[j], text, sizeof(text));
			r = sd_bus_message_append(reply, "(isb)", (int)link_ifindex(l),
						  text[0] == '~' ? text + 1 : text, s->domains[j].route_only);
		}
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

GETTER(get_transaction_stats)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)e;
	struct resolve1 *r1 = arg;
	struct worker_stats st;
	daemon_gather_stats(r1->d, &st);
	uint64_t total = 0;
	for (int i = 0; i < PIPELINE_SOURCE_COUNT_; i++)
		total += st.pipeline.answers[i];
	return sd_bus_message_append(reply, "(tt)", st.pipeline.pending, total);
}

GETTER(get_cache_stats)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)e;
	struct resolve1 *r1 = arg;
	struct cache_stats cs;
	cache_get_stats(r1->d->cache, &cs);
	return sd_bus_message_append(reply, "(ttt)", cs.entries, cs.hits, cs.misses);
}

GETTER(get_dnssec_stats)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)arg, (void)e;
	return sd_bus_message_append(reply, "(tttt)", UINT64_C(0), UINT64_C(0), UINT64_C(0), UINT64_C(0));
}

/* ---- Link objects ------------------------------------------------------------ */

static const struct link *link_of_path(struct resolve1 *r1, const char *path, sd_bus_error *e)
{
	const struct link *l = kernel_link(r1, path_ifindex(path));
	if (!l)
		sd_bus_error_setf(e, RESOLVE1_ERROR_NO_SUCH_LINK, "Link object %s not known", path);
	return l;
}

GETTER(get_link_scopes)
{
	(void)bus, (void)interface, (void)property;
	const struct link *l = link_of_path(arg, path, e);
	if (!l)
		return -ENXIO;
	bool dns = link_up(l) && link_effective(l)->n_servers > 0;
	return sd_bus_message_append(reply, "t", dns ? SD_RESOLVED_DNS : UINT64_C(0));
}

GETTER(get_link_dns)
{
	(void)bus, (void)interface;
	const struct link *l = link_of_path(arg, path, e);
	if (!l)
		return -ENXIO;
	bool ex = strcmp(property, "DNSEx") == 0;
	const struct link_settings *s = link_effective(l);
	int r = sd_bus_message_open_container(reply, 'a', ex ? "(iayqs)" : "(iay)");
	for (size_t i = 0; r >= 0 && i < s->n_servers; i++)
		r = append_server(reply, &s->servers[i], false, 0, ex);
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

GETTER(get_link_current_dns)
{
	(void)bus, (void)interface;
	const struct link *l = link_of_path(arg, path, e);
	if (!l)
		return -ENXIO;
	bool ex = strcmp(property, "CurrentDNSServerEx") == 0;
	const struct link_settings *s = link_effective(l);
	if (s->n_servers == 0)
		return append_no_server(reply, false, ex);
	return append_server(reply, &s->servers[0], false, 0, ex);
}

GETTER(get_link_domains)
{
	(void)bus, (void)interface, (void)property;
	const struct link *l = link_of_path(arg, path, e);
	if (!l)
		return -ENXIO;
	const struct link_settings *s = link_effective(l);
	char text[ROUTE_NAME_TEXT_MAX + 2];
	int r = sd_bus_message_open_container(reply, 'a', "(sb)");
	for (size_t i = 0; r >= 0 && i < s->n_domains; i++) {
		route_domain_str(&s->domains[i], text, sizeof(text));
		r = sd_bus_message_append(reply, "(sb)", text[0] == '~' ? text + 1 : text,
					  s->domains[i].route_only);
	}
	if (r >= 0)
		r = sd_bus_message_close_container(reply);
	return r;
}

GETTER(get_link_default_route)
{
	(void)bus, (void)interface, (void)property;
	const struct link *l = link_of_path(arg, path, e);
	if (!l)
		return -ENXIO;
	return sd_bus_message_append(reply, "b", link_default_route(l));
}

/* dns-over-tls in stubd.conf: what links that set none use, as
 * systemd-resolved's DNSOverTLS= in resolved.conf. */
GETTER(get_global_dot)
{
	(void)bus, (void)path, (void)interface, (void)property, (void)e;
	struct resolve1 *r1 = arg;
	return append_string(reply, route_tls_names[r1->d->cfg.dns_over_tls]);
}

/* The mode a front end set; unset, the global dns-over-tls for DNS over
 * TLS (what the link's servers are asked with), and "no" for the rest
 * (stubd speaks neither LLMNR nor mDNS and validates no DNSSEC). */
GETTER(get_link_mode)
{
	(void)bus, (void)interface;
	const struct link *l = link_of_path(arg, path, e);
	if (!l)
		return -ENXIO;
	enum link_feature f = strcmp(property, "LLMNR") == 0          ? LINK_FEATURE_LLMNR
			      : strcmp(property, "MulticastDNS") == 0 ? LINK_FEATURE_MDNS
			      : strcmp(property, "DNSOverTLS") == 0   ? LINK_FEATURE_DNS_OVER_TLS
								      : LINK_FEATURE_DNSSEC;
	enum link_mode mode = link_effective(l)->modes[f];
	if (mode == LINK_MODE_UNSET && f == LINK_FEATURE_DNS_OVER_TLS)
		return get_global_dot(bus, path, interface, property, reply, arg, e);
	return append_string(reply, mode == LINK_MODE_UNSET ? "no" : link_mode_names[mode]);
}

/* ---- the vtables ---------------------------------------------------------------- */

static const sd_bus_vtable manager_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("LLMNRHostname", "s", get_hostname, 0, 0),
	SD_BUS_PROPERTY("LLMNR", "s", get_no, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("MulticastDNS", "s", get_no, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("DNSOverTLS", "s", get_global_dot, 0, 0),
	SD_BUS_PROPERTY("DNS", "a(iiay)", get_dns, 0, 0),
	SD_BUS_PROPERTY("DNSEx", "a(iiayqs)", get_dns, 0, 0),
	SD_BUS_PROPERTY("FallbackDNS", "a(iiay)", get_fallback_dns, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("FallbackDNSEx", "a(iiayqs)", get_fallback_dns, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("CurrentDNSServer", "(iiay)", get_current_dns, 0, 0),
	SD_BUS_PROPERTY("CurrentDNSServerEx", "(iiayqs)", get_current_dns, 0, 0),
	SD_BUS_PROPERTY("Domains", "a(isb)", get_domains, 0, 0),
	SD_BUS_PROPERTY("TransactionStatistics", "(tt)", get_transaction_stats, 0, 0),
	SD_BUS_PROPERTY("CacheStatistics", "(ttt)", get_cache_stats, 0, 0),
	SD_BUS_PROPERTY("DNSSEC", "s", get_no, 0, 0),
	SD_BUS_PROPERTY("DNSSECStatistics", "(tttt)", get_dnssec_stats, 0, 0),
	SD_BUS_PROPERTY("DNSSECSupported", "b", get_false, 0, 0),
	SD_BUS_PROPERTY("DNSSECNegativeTrustAnchors", "as", get_empty_strv, 0, 0),
	SD_BUS_PROPERTY("DNSStubListener", "s", get_stub_listener, 0, SD_BUS_VTABLE_PROPERTY_CONST),
	SD_BUS_PROPERTY("ResolvConfMode", "s", get_resolv_conf_mode, 0, 0),

	SD_BUS_METHOD_WITH_ARGS("ResolveHostname",
				SD_BUS_ARGS("i", ifindex, "s", name, "i", family, "t", flags),
				SD_BUS_RESULT("a(iiay)", addresses, "s", canonical, "t", flags),
				bus_resolve_hostname, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ResolveAddress",
				SD_BUS_ARGS("i", ifindex, "i", family, "ay", address, "t", flags),
				SD_BUS_RESULT("a(is)", names, "t", flags), bus_resolve_address,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("ResolveRecord",
				SD_BUS_ARGS("i", ifindex, "s", name, "q", class, "q", type, "t", flags),
				SD_BUS_RESULT("a(iqqay)", records, "t", flags), bus_resolve_record,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("GetLink", SD_BUS_ARGS("i", ifindex), SD_BUS_RESULT("o", path),
				bus_get_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkDNS", SD_BUS_ARGS("i", ifindex, "a(iay)", addresses),
				SD_BUS_NO_RESULT, bus_set_dns, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkDNSEx", SD_BUS_ARGS("i", ifindex, "a(iayqs)", addresses),
				SD_BUS_NO_RESULT, bus_set_dns_ex, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkDomains", SD_BUS_ARGS("i", ifindex, "a(sb)", domains),
				SD_BUS_NO_RESULT, bus_set_domains, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkDefaultRoute", SD_BUS_ARGS("i", ifindex, "b", enable),
				SD_BUS_NO_RESULT, bus_set_default_route, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkLLMNR", SD_BUS_ARGS("i", ifindex, "s", mode),
				SD_BUS_NO_RESULT, bus_set_llmnr, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkMulticastDNS", SD_BUS_ARGS("i", ifindex, "s", mode),
				SD_BUS_NO_RESULT, bus_set_mdns, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkDNSOverTLS", SD_BUS_ARGS("i", ifindex, "s", mode),
				SD_BUS_NO_RESULT, bus_set_dot, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkDNSSEC", SD_BUS_ARGS("i", ifindex, "s", mode),
				SD_BUS_NO_RESULT, bus_set_dnssec, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLinkDNSSECNegativeTrustAnchors",
				SD_BUS_ARGS("i", ifindex, "as", names), SD_BUS_NO_RESULT, bus_set_ntas,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("RevertLink", SD_BUS_ARGS("i", ifindex), SD_BUS_NO_RESULT, bus_revert,
				SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("FlushCaches", NULL, NULL, bus_flush_caches, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("ResetStatistics", NULL, NULL, bus_reset_statistics, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("ResetServerFeatures", NULL, NULL, bus_reset_server_features,
		      SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

static const sd_bus_vtable link_vtable[] = {
	SD_BUS_VTABLE_START(0),
	SD_BUS_PROPERTY("ScopesMask", "t", get_link_scopes, 0, 0),
	SD_BUS_PROPERTY("DNS", "a(iay)", get_link_dns, 0, 0),
	SD_BUS_PROPERTY("DNSEx", "a(iayqs)", get_link_dns, 0, 0),
	SD_BUS_PROPERTY("CurrentDNSServer", "(iay)", get_link_current_dns, 0, 0),
	SD_BUS_PROPERTY("CurrentDNSServerEx", "(iayqs)", get_link_current_dns, 0, 0),
	SD_BUS_PROPERTY("Domains", "a(sb)", get_link_domains, 0, 0),
	SD_BUS_PROPERTY("DefaultRoute", "b", get_link_default_route, 0, 0),
	SD_BUS_PROPERTY("LLMNR", "s", get_link_mode, 0, 0),
	SD_BUS_PROPERTY("MulticastDNS", "s", get_link_mode, 0, 0),
	SD_BUS_PROPERTY("DNSOverTLS", "s", get_link_mode, 0, 0),
	SD_BUS_PROPERTY("DNSSEC", "s", get_link_mode, 0, 0),
	SD_BUS_PROPERTY("DNSSECNegativeTrustAnchors", "as", get_empty_strv, 0, 0),
	SD_BUS_PROPERTY("DNSSECSupported", "b", get_false, 0, 0),

	SD_BUS_METHOD_WITH_ARGS("SetDNS", SD_BUS_ARGS("a(iay)", addresses), SD_BUS_NO_RESULT,
				bus_set_dns_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetDNSEx", SD_BUS_ARGS("a(iayqs)", addresses), SD_BUS_NO_RESULT,
				bus_set_dns_ex_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetDomains", SD_BUS_ARGS("a(sb)", domains), SD_BUS_NO_RESULT,
				bus_set_domains_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetDefaultRoute", SD_BUS_ARGS("b", enable), SD_BUS_NO_RESULT,
				bus_set_default_route_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetLLMNR", SD_BUS_ARGS("s", mode), SD_BUS_NO_RESULT,
				bus_set_llmnr_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetMulticastDNS", SD_BUS_ARGS("s", mode), SD_BUS_NO_RESULT,
				bus_set_mdns_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetDNSOverTLS", SD_BUS_ARGS("s", mode), SD_BUS_NO_RESULT,
				bus_set_dot_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetDNSSEC", SD_BUS_ARGS("s", mode), SD_BUS_NO_RESULT,
				bus_set_dnssec_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD_WITH_ARGS("SetDNSSECNegativeTrustAnchors", SD_BUS_ARGS("as", names),
				SD_BUS_NO_RESULT, bus_set_ntas_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_METHOD("Revert", NULL, NULL, bus_revert_on_link, SD_BUS_VTABLE_UNPRIVILEGED),
	SD_BUS_VTABLE_END,
};

/* A Link object exists for every interface the kernel has. */
static int find_link_object(sd_bus *bus, const char *path, const char *interface, void *arg,
			    void **found, sd_bus_error *e)
{
	(void)bus, (void)interface, (void)e;
	if (!kernel_link(arg, path_ifindex(path)))
		return 0;
	*found = arg;
	return 1;
}

static int enumerate_links(sd_bus *bus, const char *prefix, void *arg, char ***nodes,
			   sd_bus_error *e)
{
	(void)bus, (void)prefix, (void)e;
	struct resolve1 *r1 = arg;
	struct link_registry *reg = links_of(r1);
	size_t n = link_count(reg), k = 0;
	char **paths = calloc(n + 1, sizeof(*paths));
	if (!paths)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const struct link *l = link_at(reg, i);
		char idx[16];
		if (link_ifindex(l) == LINK_SYSTEM_INDEX)
			continue;
		snprintf(idx, sizeof(idx), "%u", link_ifindex(l));
		if (sd_bus_path_encode(LINK_PREFIX, idx, &paths[k]) < 0)
			break;
		k++;
	}
	*nodes = paths;
	return 0;
}

static int attach(void *arg, sd_bus *bus)
{
	struct resolve1 *r1 = arg;
	int r = sd_bus_add_object_vtable(bus, NULL, MANAGER_PATH, MANAGER_IFACE, manager_vtable, r1);
	if (r >= 0)
		r = sd_bus_add_fallback_vtable(bus, NULL, LINK_PREFIX, LINK_IFACE, link_vtable,
					       find_link_object, r1);
	if (r >= 0)
		r = sd_bus_add_node_enumerator(bus, NULL, LINK_PREFIX, enumerate_links, r1);
	if (r >= 0)
		r = sd_bus_add_object_manager(bus, NULL, MANAGER_PATH);
	return r;
}

/* The connection went: every waiting call and lookup goes with it (the
 * callers' messages would be answered on a bus that is gone). */
static void detach(void *arg)
{
	struct resolve1 *r1 = arg;
	while (r1->calls)
		call_free(r1->calls);
	while (r1->lookups)
		lookup_free(r1->lookups); /* ask_clear() cancels what is on its way */
}

struct bus_hooks resolve1_hooks(struct resolve1 *r1)
{
	return (struct bus_hooks){ .attach = attach, .detach = detach, .arg = r1 };
}

void resolve1_set_bus(struct resolve1 *r1, struct bus *b)
{
	r1->bus = b;
}

struct resolve1 *resolve1_new(struct daemon *d)
{
	struct resolve1 *r1 = calloc(1, sizeof(*r1));
	if (!r1)
		return NULL;
	r1->d = d;
	return r1;
}

void resolve1_free(struct resolve1 *r1)
{
	if (!r1)
		return;
	detach(r1);
	free(r1);
}
