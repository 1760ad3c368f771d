/* linkctl.c - the link commands and their part of status. See linkctl.h. */
#include "stubd/linkctl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/control_proto.h"
#include "stubd/log.h"

/* A list of servers or domains as one line of text. */
#define LIST_TEXT_MAX 4096

static int fail(char *err, size_t err_size, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t err_size, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	return status;
}

/* ---- showing ----------------------------------------------------------- */

static void join_servers(const struct route_server *s, size_t n, char *buf, size_t size)
{
	char one[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX + 32];
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s", i ? " " : "",
				 route_server_str(&s[i], one, sizeof(one)));
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

static void join_domains(const struct route_domain *d, size_t n, char *buf, size_t size)
{
	char one[ROUTE_NAME_TEXT_MAX + 2];
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < n && used + 1 < size; i++) {
		int w = snprintf(buf + used, size - used, "%s%s", i ? " " : "",
				 route_domain_str(&d[i], one, sizeof(one)));
		if (w < 0)
			break;
		used += (size_t)w;
	}
}

struct source_text {
	char buf[512];
};

static void add_source(void *arg, enum link_source source, const char *record,
		       const struct link_settings *s)
{
	struct source_text *st = arg;
	size_t used = strlen(st->buf);
	snprintf(st->buf + used, sizeof(st->buf) - used, "%s%s%s%s", used ? ", " : "",
		 link_source_names[source], record ? " " : "", record ? record : "");
}

static void report_link(struct report *r, const struct link *l)
{
	const struct link_settings *s = link_effective(l);
	char key[32], title[64], text[LIST_TEXT_MAX];
	struct source_text sources = { .buf = "" };

	snprintf(key, sizeof(key), "%s", link_name(l));
	snprintf(title, sizeof(title), "Link %u (%s)", link_ifindex(l), link_name(l));
	report_begin(r, key, title);
	report_u64(r, "ifindex", NULL, link_ifindex(l));
	report_str(r, "state", "State", link_up(l) ? "up" : "down",
		   link_up(l) ? REPORT_TONE_GOOD : REPORT_TONE_BAD);
	join_servers(s->servers, s->n_servers, text, sizeof(text));
	report_str(r, "servers", "DNS Servers", text, REPORT_TONE_NONE);
	join_domains(s->domains, s->n_domains, text, sizeof(text));
	report_str(r, "domains", "DNS Domains", text, REPORT_TONE_NONE);
	report_bool(r, "default_route", "Default Route", link_default_route(l));
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++) {
		if (s->modes[f] == LINK_MODE_UNSET)
			continue;
		char fkey[32];
		snprintf(fkey, sizeof(fkey), "%s", link_feature_names[f]);
		for (char *c = fkey; *c; c++)
			if (*c == '-')
				*c = '_';
		report_str(r, fkey, link_feature_names[f], link_mode_names[s->modes[f]],
			   REPORT_TONE_NONE);
	}
	link_each_source(l, add_source, &sources);
	report_str(r, "set_by", "Set by", sources.buf, REPORT_TONE_DIM);
	if (link_up(l) && s->n_servers == 0 && s->n_domains > 0)
		report_note(r, REPORT_TONE_BAD, "  no DNS servers: its domains route nowhere");
	report_end(r);
}

static bool link_has_any(const struct link *l)
{
	const struct link_settings *s = link_effective(l);
	return s->n_servers > 0 || s->n_domains > 0 || s->default_route >= 0;
}

void linkctl_report_status(const struct routing *rt, struct report *r)
{
	struct link_registry *links = routing_links((struct routing *)rt);
	const struct route_table *t = routing_table(rt);

	size_t n_shown = 0;
	report_begin(r, "links", "Links");
	for (size_t i = 0; i < link_count(links); i++) {
		if (!link_has_any(link_at(links, i)))
			continue;
		report_link(r, link_at(links, i));
		n_shown++;
	}
	if (n_shown == 0)
		report_note(r, REPORT_TONE_DIM, "  no interface has DNS settings (stubctl dns IFACE "
			    "SERVER, resolvconf, networkd or NetworkManager set them)");
	report_end(r);
	if (!routing_knows_links(rt))
		report_note(r, REPORT_TONE_BAD,
			    "  network interfaces are not followed (rtnetlink failed; see the log)");

	static const char *const keys[] = { "domain", "route", "servers" };
	static const char *const titles[] = { "DOMAIN", "ROUTE", "SERVERS" };
	report_table_begin(r, "routes", "Routing", 3, keys, titles, "sss");
	for (size_t i = 0; t && i < route_table_domain_count(t); i++) {
		const struct route_domain *d;
		const struct route *route = route_table_domain_route(t, i, &d);
		char domain[ROUTE_NAME_TEXT_MAX + 2], servers[LIST_TEXT_MAX];
		struct route_domain shown = *d;
		shown.route_only = false;
		route_domain_str(&shown, domain, sizeof(domain));
		servers[0] = '\0';
		for (size_t j = 0; j < route->n_servers; j++) {
			char one[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX + 32];
			size_t used = strlen(servers);
			snprintf(servers + used, sizeof(servers) - used, "%s%s", j ? " " : "",
				 route_server_str(&route_table_server(t, route->servers[j])->server,
						  one, sizeof(one)));
		}
		const char *cells[] = { domain[0] == '~' ? domain + 1 : domain, route->label, servers };
		report_table_row(r, cells, NULL);
	}
	if (t) {
		const struct route *def = route_table_default(t);
		char servers[LIST_TEXT_MAX] = "";
		for (size_t j = 0; j < def->n_servers; j++) {
			char one[NETADDR_STRLEN + ROUTE_NAME_TEXT_MAX + 32];
			size_t used = strlen(servers);
			snprintf(servers + used, sizeof(servers) - used, "%s%s", j ? " " : "",
				 route_server_str(&route_table_server(t, def->servers[j])->server, one,
						  sizeof(one)));
		}
		const char *cells[] = { "(any other name)", def->label, servers[0] ? servers : "none: SERVFAIL" };
		enum report_tone tones[3] = { 0, 0, servers[0] ? REPORT_TONE_NONE : REPORT_TONE_BAD };
		report_table_row(r, cells, tones);
	}
	report_table_end(r);
}

/* ---- finding the interface --------------------------------------------- */

static const struct link *find_iface(struct routing *rt, const char *word)
{
	struct link_registry *links = routing_links(rt);
	unsigned idx = link_index_by_name(links, word);
	if (idx == 0 && strspn(word, "0123456789") == strlen(word))
		idx = (unsigned)strtoul(word, NULL, 10);
	return idx ? link_by_index(links, idx) : NULL;
}

static int no_iface(struct routing *rt, const char *word, char *err, size_t err_size)
{
	if (!routing_knows_links(rt))
		return fail(err, err_size, CONTROL_EXIT_FAILED,
			    "network interfaces are not followed (rtnetlink failed; see stubd's log)");
	return fail(err, err_size, CONTROL_EXIT_FAILED,
		    "no network interface '%s' (see 'ip link'; loopback takes no DNS settings)", word);
}

/* A cap or a full registry: the command failed, nothing changed. */
static int set_failed(int rc, const char *why, char *err, size_t err_size)
{
	return fail(err, err_size, CONTROL_EXIT_FAILED, "%s", rc == -ENOMEM ? "out of memory" : why);
}

/* ---- dns, domain, default-route, revert --------------------------------- */

/* "dns" or "dns IFACE": the servers as resolvectl shows them. */
static void show_list(struct routing *rt, const struct link *only, bool servers, struct report *r)
{
	static const char *const keys[] = { "link", "ifindex", "values" };
	static const char *const skeys_title[] = { "LINK", "INDEX", "DNS SERVERS" };
	static const char *const dkeys_title[] = { "LINK", "INDEX", "DNS DOMAINS" };
	struct link_registry *links = routing_links(rt);
	report_table_begin(r, servers ? "servers" : "domains", NULL, 3, keys,
			   servers ? skeys_title : dkeys_title, "sns");
	for (size_t i = 0; i < link_count(links); i++) {
		const struct link *l = link_at(links, i);
		if (only && l != only)
			continue;
		const struct link_settings *s = link_effective(l);
		if (!only && (servers ? s->n_servers : s->n_domains) == 0)
			continue;
		char idx[16], text[LIST_TEXT_MAX];
		snprintf(idx, sizeof(idx), "%u", link_ifindex(l));
		if (servers)
			join_servers(s->servers, s->n_servers, text, sizeof(text));
		else
			join_domains(s->domains, s->n_domains, text, sizeof(text));
		const char *cells[] = { link_name(l), idx, text };
		report_table_row(r, cells, NULL);
	}
	report_table_end(r);
}

static int parse_servers(char **words, int n, unsigned ifindex, struct link_settings *s,
			 char *err, size_t err_size)
{
	char why[256];
	s->has_servers = true;
	s->servers = n ? calloc((size_t)n, sizeof(s->servers[0])) : NULL;
	if (n && !s->servers)
		return fail(err, err_size, CONTROL_EXIT_FAILED, "out of memory");
	for (int i = 0; i < n; i++) {
		if (route_server_parse(words[i], ifindex, &s->servers[s->n_servers], why, sizeof(why)) < 0)
			return fail(err, err_size, CONTROL_EXIT_USAGE, "%s", why);
		bool dup = false;
		for (size_t j = 0; j < s->n_servers && !dup; j++)
			dup = route_server_equal(&s->servers[j], &s->servers[s->n_servers]);
		if (!dup)
			s->n_servers++;
	}
	return 0;
}

static int parse_domains(char **words, int n, struct link_settings *s, char *err, size_t err_size)
{
	char why[256];
	s->has_domains = true;
	s->domains = n ? calloc((size_t)n, sizeof(s->domains[0])) : NULL;
	if (n && !s->domains)
		return fail(err, err_size, CONTROL_EXIT_FAILED, "out of memory");
	for (int i = 0; i < n; i++) {
		if (route_domain_parse(words[i], &s->domains[s->n_domains], why, sizeof(why)) < 0)
			return fail(err, err_size, CONTROL_EXIT_USAGE, "%s", why);
		bool dup = false;
		for (size_t j = 0; j < s->n_domains && !dup; j++)
			dup = route_domain_equal(&s->domains[j], &s->domains[s->n_domains]);
		if (!dup)
			s->n_domains++;
	}
	return 0;
}

/* dns|domain [IFACE [--set VALUE...]] */
static int cmd_list(struct routing *rt, bool servers, int argc, char **argv, struct report *r,
		    char *err, size_t err_size)
{
	const char *what = servers ? "dns" : "domain";
	if (argc == 0) {
		show_list(rt, NULL, servers, r);
		return 0;
	}
	const struct link *l = find_iface(rt, argv[0]);
	if (!l)
		return no_iface(rt, argv[0], err, err_size);
	if (argc == 1) {
		show_list(rt, l, servers, r);
		return 0;
	}
	if (strcmp(argv[1], "--set") != 0)
		return fail(err, err_size, CONTROL_EXIT_USAGE, "%s: unexpected '%s'", what, argv[1]);
	struct link_settings s;
	link_settings_init(&s);
	int status = servers ? parse_servers(argv + 2, argc - 2, link_ifindex(l), &s, err, err_size)
			     : parse_domains(argv + 2, argc - 2, &s, err, err_size);
	char why[256];
	unsigned ifindex = link_ifindex(l);
	if (status == 0) {
		int rc = link_set_manual_fields(routing_links(rt), ifindex, LINK_SOURCE_MANUAL, &s, why, sizeof(why));
		if (rc < 0)
			status = set_failed(rc, why, err, err_size);
	}
	link_settings_clear(&s);
	if (status != 0)
		return status;
	routing_commit(rt);
	l = link_by_index(routing_links(rt), ifindex);
	log_info("control: %s of %s set to: %s", servers ? "DNS servers" : "domains", link_name(l),
		 argc > 2 ? "(see stubctl status)" : "none");
	show_list(rt, l, servers, r);
	return 0;
}

static int cmd_default_route(struct routing *rt, int argc, char **argv, struct report *r,
			     char *err, size_t err_size)
{
	if (argc < 1 || argc > 2)
		return fail(err, err_size, CONTROL_EXIT_USAGE, "usage: default-route IFACE [yes|no]");
	const struct link *l = find_iface(rt, argv[0]);
	if (!l)
		return no_iface(rt, argv[0], err, err_size);
	unsigned ifindex = link_ifindex(l);
	if (argc == 2) {
		enum link_mode m;
		if (link_mode_parse(LINK_FEATURE_DNSSEC, argv[1], &m) < 0 ||
		    (m != LINK_MODE_YES && m != LINK_MODE_NO))
			return fail(err, err_size, CONTROL_EXIT_USAGE,
				    "default-route: '%s' is not yes or no", argv[1]);
		struct link_settings s;
		char why[256];
		link_settings_init(&s);
		s.default_route = m == LINK_MODE_YES;
		int rc = link_set_manual_fields(routing_links(rt), ifindex, LINK_SOURCE_MANUAL, &s, why, sizeof(why));
		link_settings_clear(&s);
		if (rc < 0)
			return set_failed(rc, why, err, err_size);
		routing_commit(rt);
		l = link_by_index(routing_links(rt), ifindex);
	}
	report_str(r, "link", "Link", link_name(l), REPORT_TONE_NONE);
	report_bool(r, "default_route", "Default Route", link_default_route(l));
	return 0;
}

static int cmd_revert(struct routing *rt, int argc, char **argv, struct report *r, char *err,
		      size_t err_size)
{
	if (argc != 1)
		return fail(err, err_size, CONTROL_EXIT_USAGE, "usage: revert IFACE");
	const struct link *l = find_iface(rt, argv[0]);
	if (!l)
		return no_iface(rt, argv[0], err, err_size);
	char name[ROUTE_IFNAME_MAX];
	snprintf(name, sizeof(name), "%s", link_name(l));
	link_revert(routing_links(rt), link_ifindex(l));
	routing_commit(rt);
	log_info("control: DNS settings of %s reverted", name);
	report_str(r, "reverted", NULL, name, REPORT_TONE_NONE);
	report_note(r, REPORT_TONE_NONE, "DNS settings of %s reverted.", name);
	return 0;
}

/* ---- resolvconf --------------------------------------------------------- */

/* The record name is a file name to resolvconf: no '/', no dot files. */
static bool valid_record(const char *name)
{
	size_t len = strlen(name);
	return len > 0 && len < 64 && !strchr(name, '/') && name[0] != '.';
}

struct rc_args {
	const char *record;
	bool exclusive, if_exists;
	char *servers[CONTROL_MAX_ARGS];
	int n_servers;
	char *search[CONTROL_MAX_ARGS];
	int n_search;
};

static int parse_rc_args(int argc, char **argv, bool add, struct rc_args *a, char *err,
			 size_t err_size)
{
	memset(a, 0, sizeof(*a));
	if (argc < 1 || !valid_record(argv[0]))
		return fail(err, err_size, CONTROL_EXIT_USAGE,
			    "resolvconf: a record name such as tun.wg0 or eth0.dhclient is needed");
	a->record = argv[0];
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--if-exists") == 0) {
			a->if_exists = true;
		} else if (add && strcmp(argv[i], "--exclusive") == 0) {
			a->exclusive = true;
		} else if (add && strcmp(argv[i], "--nameserver") == 0 && i + 1 < argc) {
			a->servers[a->n_servers++] = argv[++i];
		} else if (add && strcmp(argv[i], "--search") == 0 && i + 1 < argc) {
			a->search[a->n_search++] = argv[++i];
		} else {
			return fail(err, err_size, CONTROL_EXIT_USAGE, "resolvconf: unexpected '%s'",
				    argv[i]);
		}
	}
	return 0;
}

/* Search domains from resolvconf's "search"/"domain" lines route and
 * search; -x adds "~.", so every name goes to this interface. */
static int rc_settings(const struct rc_args *a, unsigned ifindex, struct link_settings *s,
		       char *err, size_t err_size)
{
	int status = parse_servers((char **)a->servers, a->n_servers, ifindex, s, err, err_size);
	if (status == 0)
		status = parse_domains((char **)a->search, a->n_search, s, err, err_size);
	if (status != 0 || !a->exclusive)
		return status;
	struct route_domain *grown = realloc(s->domains, (s->n_domains + 1) * sizeof(*grown));
	if (!grown)
		return fail(err, err_size, CONTROL_EXIT_FAILED, "out of memory");
	s->domains = grown;
	route_domain_parse("~.", &s->domains[s->n_domains++], NULL, 0);
	return 0;
}

static int cmd_resolvconf_add(struct routing *rt, int argc, char **argv, struct report *r,
			      char *err, size_t err_size)
{
	struct rc_args a;
	int status = parse_rc_args(argc, argv, true, &a, err, err_size);
	if (status != 0)
		return status;
	unsigned ifindex;
	if (link_record_target(routing_links(rt), a.record, &ifindex) < 0) {
		if (a.if_exists) {
			report_note(r, REPORT_TONE_DIM, "no interface for %s; ignored (-f)", a.record);
			return 0;
		}
		return fail(err, err_size, CONTROL_EXIT_FAILED,
			    "no network interface for '%s' (see 'ip link')", a.record);
	}
	struct link_settings s;
	link_settings_init(&s);
	status = rc_settings(&a, ifindex, &s, err, err_size);
	char why[256];
	if (status == 0) {
		int rc = link_set(routing_links(rt), ifindex, LINK_SOURCE_RESOLVCONF, a.record, &s, why,
				  sizeof(why));
		if (rc < 0)
			status = set_failed(rc, why, err, err_size);
	}
	link_settings_clear(&s);
	if (status != 0)
		return status;
	routing_commit(rt);
	log_info("resolvconf: %s added to %s: %d server(s), %d domain(s)%s", a.record,
		 link_name(link_by_index(routing_links(rt), ifindex)), a.n_servers, a.n_search,
		 a.exclusive ? ", every name (-x)" : "");
	report_str(r, "added", NULL, a.record, REPORT_TONE_NONE);
	return 0;
}

static int cmd_resolvconf_del(struct routing *rt, int argc, char **argv, struct report *r,
			      char *err, size_t err_size)
{
	struct rc_args a;
	int status = parse_rc_args(argc, argv, false, &a, err, err_size);
	if (status != 0)
		return status;
	/* SPEC: deleting a record never added is no error. */
	if (link_drop_record(routing_links(rt), a.record) == 0) {
		routing_commit(rt);
		log_info("resolvconf: %s removed", a.record);
	}
	report_str(r, "deleted", NULL, a.record, REPORT_TONE_NONE);
	return 0;
}

/* ---- dispatch ------------------------------------------------------------ */

int linkctl_run(struct routing *rt, enum control_verb verb, int argc, char **argv,
		struct report *r, char *err, size_t err_size)
{
	switch (verb) {
	case CONTROL_VERB_DNS:
		return cmd_list(rt, true, argc, argv, r, err, err_size);
	case CONTROL_VERB_DOMAIN:
		return cmd_list(rt, false, argc, argv, r, err, err_size);
	case CONTROL_VERB_DEFAULT_ROUTE:
		return cmd_default_route(rt, argc, argv, r, err, err_size);
	case CONTROL_VERB_REVERT:
		return cmd_revert(rt, argc, argv, r, err, err_size);
	case CONTROL_VERB_RESOLVCONF_ADD:
		return cmd_resolvconf_add(rt, argc, argv, r, err, err_size);
	case CONTROL_VERB_RESOLVCONF_DEL:
		return cmd_resolvconf_del(rt, argc, argv, r, err, err_size);
	default:
		return fail(err, err_size, CONTROL_EXIT_USAGE, "'%s' is not a link command",
			    control_verbs[verb].name);
	}
}
