/* link.c - network interfaces and their front ends' DNS settings. See link.h. */
#include "stubd/link.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "stubd/log.h"
#include "stubd/why.h"

/* resolvconf records one link may hold ("eth0.dhclient", "eth0.inet", ...):
 * a few are normal, dozens mean a script gone wrong. */
#define LINK_MAX_RECORDS 32
/* A state file line: every server and domain of one front end fits. */
#define LINK_LINE_MAX (1 << 20)
/* "eth0.ip6.dhclient" and the like, NUL included. */
#define RECORD_NAME_MAX 64

const char *const link_mode_names[LINK_MODE_COUNT_] = {
	[LINK_MODE_UNSET] = "",
	[LINK_MODE_NO] = "no",
	[LINK_MODE_YES] = "yes",
	[LINK_MODE_OPPORTUNISTIC] = "opportunistic",
	[LINK_MODE_ALLOW_DOWNGRADE] = "allow-downgrade",
	[LINK_MODE_RESOLVE] = "resolve",
};

const char *const link_feature_names[LINK_FEATURE_COUNT_] = {
	[LINK_FEATURE_DNS_OVER_TLS] = "dns-over-tls",
	[LINK_FEATURE_DNSSEC] = "dnssec",
	[LINK_FEATURE_LLMNR] = "llmnr",
	[LINK_FEATURE_MDNS] = "mdns",
};

const char *const link_source_names[LINK_SOURCE_COUNT_] = {
	[LINK_SOURCE_MANUAL] = "stubctl",
	[LINK_SOURCE_NETWORKD] = "networkd",
	[LINK_SOURCE_RESOLVCONF] = "resolvconf",
	[LINK_SOURCE_DBUS] = "dbus",
};

struct record {
	char name[RECORD_NAME_MAX];
	struct link_settings s;
};

struct link {
	unsigned ifindex;
	char name[ROUTE_IFNAME_MAX];
	bool up;
	struct link_settings manual;
	enum link_source manual_by;      /* LINK_SOURCE_MANUAL or _DBUS: who set it last */
	struct link_settings networkd;
	struct record records[LINK_MAX_RECORDS];
	size_t n_records;
	struct link_settings effective;  /* merged from the above */
};

struct link_registry {
	struct link_limits limits;
	struct link **links;             /* by ifindex, ascending */
	size_t n_links, cap_links;
	unsigned long generation;
	struct route_link_input *inputs; /* link_route_input()'s array */
};


/* ---- modes ----------------------------------------------------------- */

static bool feature_takes(enum link_feature f, enum link_mode m)
{
	switch (m) {
	case LINK_MODE_UNSET:
	case LINK_MODE_NO:
	case LINK_MODE_YES:
		return true;
	case LINK_MODE_OPPORTUNISTIC:
		return f == LINK_FEATURE_DNS_OVER_TLS;
	case LINK_MODE_ALLOW_DOWNGRADE:
		return f == LINK_FEATURE_DNSSEC;
	case LINK_MODE_RESOLVE:
		return f == LINK_FEATURE_LLMNR || f == LINK_FEATURE_MDNS;
	default:
		return false;
	}
}

int link_mode_parse(enum link_feature feature, const char *text, enum link_mode *out)
{
	static const struct { const char *word; enum link_mode mode; } aliases[] = {
		{ "true", LINK_MODE_YES },  { "1", LINK_MODE_YES },  { "on", LINK_MODE_YES },
		{ "false", LINK_MODE_NO }, { "0", LINK_MODE_NO }, { "off", LINK_MODE_NO },
	};
	if (feature >= LINK_FEATURE_COUNT_ || !text)
		return -EINVAL;
	for (int m = 0; m < LINK_MODE_COUNT_; m++) {
		if (strcasecmp(text, link_mode_names[m]) == 0 && feature_takes(feature, m)) {
			*out = (enum link_mode)m;
			return 0;
		}
	}
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(text, aliases[i].word) == 0) {
			*out = aliases[i].mode;
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- settings -------------------------------------------------------- */

void link_settings_init(struct link_settings *s)
{
	memset(s, 0, sizeof(*s));
	s->default_route = -1;
}

void link_settings_clear(struct link_settings *s)
{
	free(s->servers);
	free(s->domains);
	link_settings_init(s);
}

static bool settings_empty(const struct link_settings *s)
{
	if (s->has_servers || s->has_domains || s->default_route >= 0)
		return false;
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		if (s->modes[f] != LINK_MODE_UNSET)
			return false;
	return true;
}

static bool has_server(const struct link_settings *s, const struct route_server *srv)
{
	for (size_t i = 0; i < s->n_servers; i++)
		if (route_server_equal(&s->servers[i], srv))
			return true;
	return false;
}

/* The index of d's name among s's domains, -1 when absent. */
static long find_domain(const struct link_settings *s, const struct route_domain *d)
{
	for (size_t i = 0; i < s->n_domains; i++)
		if (wire_name_equal(s->domains[i].wire, s->domains[i].len, d->wire, d->len))
			return (long)i;
	return -1;
}

/* Adds from's servers and domains to into, each once; a domain that is
 * a search domain anywhere is one in the result. */
static int merge_into(struct link_settings *into, const struct link_settings *from)
{
	if (from->n_servers) {
		struct route_server *grown = realloc(into->servers, (into->n_servers + from->n_servers) *
								  sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		into->servers = grown;
		for (size_t i = 0; i < from->n_servers; i++)
			if (!has_server(into, &from->servers[i]))
				into->servers[into->n_servers++] = from->servers[i];
	}
	if (from->n_domains) {
		struct route_domain *grown = realloc(into->domains, (into->n_domains + from->n_domains) *
								  sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		into->domains = grown;
		for (size_t i = 0; i < from->n_domains; i++) {
			long at = find_domain(into, &from->domains[i]);
			if (at >= 0)
				into->domains[at].route_only &= from->domains[i].route_only;
			else
				into->domains[into->n_domains++] = from->domains[i];
		}
	}
	into->has_servers |= from->has_servers;
	into->has_domains |= from->has_domains;
	return 0;
}

static int copy_list(void **dst, const void *src, size_t n, size_t size)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	*dst = malloc(n * size);
	if (!*dst)
		return -ENOMEM;
	memcpy(*dst, src, n * size);
	return 0;
}

/* What the link uses: networkd's and every resolvconf record's settings
 * added up, then each field stubctl set in place of theirs. */
static int merge_link(const struct link *l, struct link_settings *out)
{
	link_settings_init(out);
	int err = merge_into(out, &l->networkd);
	for (size_t i = 0; err == 0 && i < l->n_records; i++)
		err = merge_into(out, &l->records[i].s);
	if (err == 0 && l->manual.has_servers) {
		free(out->servers);
		out->n_servers = l->manual.n_servers;
		out->has_servers = true;
		err = copy_list((void **)&out->servers, l->manual.servers, l->manual.n_servers,
				sizeof(out->servers[0]));
	}
	if (err == 0 && l->manual.has_domains) {
		free(out->domains);
		out->n_domains = l->manual.n_domains;
		out->has_domains = true;
		err = copy_list((void **)&out->domains, l->manual.domains, l->manual.n_domains,
				sizeof(out->domains[0]));
	}
	if (err < 0) {
		link_settings_clear(out);
		return err;
	}
	out->default_route = l->manual.default_route >= 0 ? l->manual.default_route
							   : l->networkd.default_route;
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		out->modes[f] = l->manual.modes[f] != LINK_MODE_UNSET ? l->manual.modes[f]
								    : l->networkd.modes[f];
	return 0;
}

/* ---- the registry ---------------------------------------------------- */

struct link_registry *link_registry_new(const struct link_limits *limits)
{
	struct link_registry *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->limits = *limits;
	return r;
}

static void link_free(struct link *l)
{
	link_settings_clear(&l->manual);
	link_settings_clear(&l->networkd);
	for (size_t i = 0; i < l->n_records; i++)
		link_settings_clear(&l->records[i].s);
	link_settings_clear(&l->effective);
	free(l);
}

void link_registry_free(struct link_registry *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_links; i++)
		link_free(r->links[i]);
	free(r->links);
	free(r->inputs);
	free(r);
}

void link_registry_set_limits(struct link_registry *r, const struct link_limits *limits)
{
	r->limits = *limits;
}

unsigned long link_registry_generation(const struct link_registry *r)
{
	return r->generation;
}

/* Where ifindex is, or would go, in the sorted array. */
static size_t slot_of(const struct link_registry *r, unsigned ifindex)
{
	size_t lo = 0, hi = r->n_links;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->links[mid]->ifindex < ifindex)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct link *find_link(const struct link_registry *r, unsigned ifindex)
{
	size_t i = slot_of(r, ifindex);
	return i < r->n_links && r->links[i]->ifindex == ifindex ? r->links[i] : NULL;
}

const struct link *link_by_index(const struct link_registry *r, unsigned ifindex)
{
	return find_link(r, ifindex);
}

unsigned link_index_by_name(const struct link_registry *r, const char *name)
{
	for (size_t i = 0; i < r->n_links; i++)
		if (strcmp(r->links[i]->name, name) == 0)
			return r->links[i]->ifindex;
	return 0;
}

static void init_link(struct link *l)
{
	link_settings_init(&l->manual);
	link_settings_init(&l->networkd);
	link_settings_init(&l->effective);
}

/* A new link for ifindex, in its place in the sorted array; NULL when
 * memory runs out. */
static struct link *add_link(struct link_registry *r, unsigned ifindex, const char *name, bool up)
{
	if (r->n_links == r->cap_links) {
		size_t cap = r->cap_links ? 2 * r->cap_links : 16;
		struct link **grown = realloc(r->links, cap * sizeof(*grown));
		if (!grown)
			return NULL;
		r->links = grown;
		r->cap_links = cap;
	}
	struct link *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	init_link(l);
	l->ifindex = ifindex;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->up = up;
	size_t at = slot_of(r, ifindex);
	memmove(&r->links[at + 1], &r->links[at], (r->n_links - at) * sizeof(r->links[0]));
	r->links[at] = l;
	r->n_links++;
	r->generation++;
	return l;
}

/* The system-wide pseudo-link, made on first use: always up. */
static struct link *system_link(struct link_registry *r)
{
	struct link *l = find_link(r, LINK_SYSTEM_INDEX);
	return l ? l : add_link(r, LINK_SYSTEM_INDEX, LINK_SYSTEM_NAME, true);
}

/* The system link goes once nothing is set on it. */
static void drop_system_link_if_empty(struct link_registry *r, struct link *l);

void link_kernel_update(struct link_registry *r, unsigned ifindex, const char *name, bool up)
{
	if (ifindex == LINK_SYSTEM_INDEX)
		return; /* not the kernel's */
	struct link *l = find_link(r, ifindex);
	if (!l) {
		if (!add_link(r, ifindex, name, up))
			log_err("links: out of memory; interface %s is not tracked", name);
		return;
	}
	if (l->up == up && strcmp(l->name, name) == 0)
		return;
	snprintf(l->name, sizeof(l->name), "%s", name);
	l->up = up;
	r->generation++;
}

void link_kernel_remove(struct link_registry *r, unsigned ifindex)
{
	if (ifindex == LINK_SYSTEM_INDEX)
		return;
	size_t at = slot_of(r, ifindex);
	if (at >= r->n_links || r->links[at]->ifindex != ifindex)
		return;
	link_free(r->links[at]);
	memmove(&r->links[at], &r->links[at + 1], (r->n_links - at - 1) * sizeof(r->links[0]));
	r->n_links--;
	r->generation++;
}

static bool link_has_settings(const struct link *l)
{
	return l->n_records > 0 || !settings_empty(&l->manual) || !settings_empty(&l->networkd);
}

static size_t links_with_settings(const struct link_registry *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_links; i++)
		n += link_has_settings(r->links[i]);
	return n;
}

/* The slot where source's settings live; for resolvconf, the record's
 * (a new one when absent and create). NULL: no room. */
static struct link_settings *source_slot(struct link *l, enum link_source source,
					 const char *record, bool create)
{
	if (source == LINK_SOURCE_MANUAL || source == LINK_SOURCE_DBUS)
		return &l->manual;
	if (source == LINK_SOURCE_NETWORKD)
		return &l->networkd;
	for (size_t i = 0; i < l->n_records; i++)
		if (strcmp(l->records[i].name, record) == 0)
			return &l->records[i].s;
	if (!create || l->n_records == LINK_MAX_RECORDS)
		return NULL;
	struct record *rec = &l->records[l->n_records++];
	snprintf(rec->name, sizeof(rec->name), "%s", record);
	link_settings_init(&rec->s);
	return &rec->s;
}

/* Merges l's settings and installs the result; with check_caps, first
 * checks it against the caps (a front end adding settings). A cap refuses
 * only growth past it: a link a reload left above a lowered cap may still
 * change other settings or shrink. On error the caller puts back what it
 * changed. */
static int refresh(struct link_registry *r, struct link *l, bool check_caps, char *why,
		   size_t why_size)
{
	struct link_settings merged;
	int err = merge_link(l, &merged);
	if (err < 0)
		return why_set(why, why_size, err, "out of memory");
	if (check_caps && merged.n_servers > r->limits.max_servers &&
	    merged.n_servers > l->effective.n_servers) {
		size_t n = merged.n_servers;
		link_settings_clear(&merged);
		return why_set(why, why_size, -E2BIG,
			   "%s would have %zu DNS servers; at most %zu per interface "
			   "(max-link-servers in stubd.conf)", l->name, n, r->limits.max_servers);
	}
	if (check_caps && merged.n_domains > r->limits.max_domains &&
	    merged.n_domains > l->effective.n_domains) {
		size_t n = merged.n_domains;
		link_settings_clear(&merged);
		return why_set(why, why_size, -E2BIG,
			   "%s would have %zu domains; at most %zu per interface "
			   "(max-link-domains in stubd.conf)", l->name, n, r->limits.max_domains);
	}
	link_settings_clear(&l->effective);
	l->effective = merged;
	r->generation++;
	return 0;
}

/* After a front end's settings went: fewer settings, so no cap applies,
 * not even one a reload lowered below what the link already had. */
static void refresh_dropped(struct link_registry *r, struct link *l)
{
	char why[64];
	if (refresh(r, l, false, why, sizeof(why)) < 0)
		log_err("links: %s: %s; its DNS settings stay as they were", l->name, why);
}

static int check_new_link(struct link_registry *r, const struct link *l, char *why,
			  size_t why_size)
{
	if (link_has_settings(l) || links_with_settings(r) < r->limits.max_links)
		return 0;
	return why_set(why, why_size, -E2BIG,
		   "%zu interfaces already have DNS settings; at most %zu (max-links in stubd.conf)",
		   links_with_settings(r), r->limits.max_links);
}

static void drop_record_at(struct link *l, size_t i)
{
	link_settings_clear(&l->records[i].s);
	memmove(&l->records[i], &l->records[i + 1], (l->n_records - i - 1) * sizeof(l->records[0]));
	l->n_records--;
}

/* A NAME as resolvconf -a gives it ("eth0.dhclient"): the state file
 * writes it between blanks, so it must have none. */
static bool record_name_ok(const char *record)
{
	if (!record || !*record || strlen(record) >= RECORD_NAME_MAX)
		return false;
	for (const char *c = record; *c; c++)
		if (*c <= ' ' || *c >= 0x7f)
			return false;
	return true;
}

/* A record NAME is one set of settings, as resolvconf keeps it: when it
 * now goes to l (the interface it names was renamed, or another took its
 * name), the copy another link holds goes. */
static void drop_record_elsewhere(struct link_registry *r, const struct link *l,
				  const char *record)
{
	for (size_t i = 0; i < r->n_links; i++) {
		struct link *other = r->links[i];
		for (size_t j = 0; other != l && j < other->n_records; j++) {
			if (strcmp(other->records[j].name, record) == 0) {
				drop_record_at(other, j);
				refresh_dropped(r, other);
				break;
			}
		}
	}
}

int link_set(struct link_registry *r, unsigned ifindex, enum link_source source,
	     const char *record, struct link_settings *s, char *why, size_t why_size)
{
	struct link *l = ifindex == LINK_SYSTEM_INDEX && source == LINK_SOURCE_RESOLVCONF
				 ? system_link(r)
				 : find_link(r, ifindex);
	if (!l)
		return why_set(why, why_size, -ENODEV, "no interface with index %u", ifindex);
	if (source >= LINK_SOURCE_COUNT_)
		return why_set(why, why_size, -EINVAL, "unknown source of settings");
	if (source == LINK_SOURCE_RESOLVCONF && !record_name_ok(record))
		return why_set(why, why_size, -EINVAL, "a resolvconf record needs a name of 1-%d "
			   "printable ASCII characters, no blanks", RECORD_NAME_MAX - 1);
	int err = check_new_link(r, l, why, why_size);
	if (err < 0)
		return err;
	bool was_new = source == LINK_SOURCE_RESOLVCONF && !source_slot(l, source, record, false);
	struct link_settings *slot = source_slot(l, source, record, true);
	if (!slot)
		return why_set(why, why_size, -E2BIG, "%s already has %d resolvconf records; remove some "
			   "with resolvconf -d", l->name, LINK_MAX_RECORDS);
	struct link_settings old = *slot;
	*slot = *s;
	err = refresh(r, l, true, why, why_size);
	if (err < 0) {
		*slot = old;
		if (was_new)
			l->n_records--;
		return err;
	}
	link_settings_clear(&old);
	link_settings_init(s);
	if (slot == &l->manual)
		l->manual_by = source;
	if (source == LINK_SOURCE_RESOLVCONF)
		drop_record_elsewhere(r, l, record);
	return 0;
}

int link_set_manual_fields(struct link_registry *r, unsigned ifindex, enum link_source by,
			   struct link_settings *s, char *why, size_t why_size)
{
	struct link *l = find_link(r, ifindex);
	if (!l)
		return why_set(why, why_size, -ENODEV, "no interface with index %u", ifindex);
	int err = check_new_link(r, l, why, why_size);
	if (err < 0)
		return err;
	/* The new manual settings: the old ones with s's fields in place. */
	struct link_settings next = l->manual;
	if (s->has_servers) {
		next.has_servers = true;
		next.servers = s->servers;
		next.n_servers = s->n_servers;
	}
	if (s->has_domains) {
		next.has_domains = true;
		next.domains = s->domains;
		next.n_domains = s->n_domains;
	}
	if (s->default_route >= 0)
		next.default_route = s->default_route;
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		if (s->modes[f] != LINK_MODE_UNSET)
			next.modes[f] = s->modes[f];
	struct link_settings old = l->manual;
	l->manual = next;
	err = refresh(r, l, true, why, why_size);
	if (err < 0) {
		l->manual = old;
		return err;
	}
	/* Free what s replaced, and what s held in fields it did not set;
	 * s gives up what it handed over. */
	if (s->has_servers)
		free(old.servers);
	else
		free(s->servers);
	if (s->has_domains)
		free(old.domains);
	else
		free(s->domains);
	link_settings_init(s);
	l->manual_by = by;
	return 0;
}

int link_clear_manual_mode(struct link_registry *r, unsigned ifindex, enum link_source by,
			   enum link_feature feature)
{
	struct link *l = find_link(r, ifindex);
	if (!l)
		return -ENODEV;
	if (feature >= LINK_FEATURE_COUNT_ || l->manual.modes[feature] == LINK_MODE_UNSET)
		return 0;
	l->manual.modes[feature] = LINK_MODE_UNSET;
	l->manual_by = by;
	refresh_dropped(r, l);
	return 0;
}

int link_drop_record(struct link_registry *r, const char *record)
{
	for (size_t i = 0; i < r->n_links; i++) {
		struct link *l = r->links[i];
		for (size_t j = 0; j < l->n_records; j++) {
			if (strcmp(l->records[j].name, record) != 0)
				continue;
			drop_record_at(l, j);
			refresh_dropped(r, l);
			drop_system_link_if_empty(r, l);
			return 0;
		}
	}
	return -ENOENT;
}

static void drop_system_link_if_empty(struct link_registry *r, struct link *l)
{
	if (l->ifindex != LINK_SYSTEM_INDEX || link_has_settings(l))
		return;
	size_t at = slot_of(r, l->ifindex);
	link_free(l);
	memmove(&r->links[at], &r->links[at + 1], (r->n_links - at - 1) * sizeof(r->links[0]));
	r->n_links--;
	r->generation++;
}

void link_drop_networkd(struct link_registry *r, unsigned ifindex)
{
	struct link *l = find_link(r, ifindex);
	if (!l || settings_empty(&l->networkd))
		return;
	link_settings_clear(&l->networkd);
	refresh_dropped(r, l);
}

int link_revert(struct link_registry *r, unsigned ifindex)
{
	struct link *l = find_link(r, ifindex);
	if (!l)
		return -ENODEV;
	link_settings_clear(&l->manual);
	l->manual_by = LINK_SOURCE_MANUAL;
	while (l->n_records > 0)
		drop_record_at(l, l->n_records - 1);
	refresh_dropped(r, l);
	return 0;
}

/* ---- the result ------------------------------------------------------- */

size_t link_count(const struct link_registry *r)
{
	return r->n_links;
}

const struct link *link_at(const struct link_registry *r, size_t i)
{
	return i < r->n_links ? r->links[i] : NULL;
}

unsigned link_ifindex(const struct link *l)
{
	return l->ifindex;
}

const char *link_name(const struct link *l)
{
	return l->name;
}

bool link_up(const struct link *l)
{
	return l->up;
}

const struct link_settings *link_effective(const struct link *l)
{
	return &l->effective;
}

bool link_default_route(const struct link *l)
{
	const struct link_settings *s = &l->effective;
	if (s->default_route >= 0)
		return s->default_route == 1;
	bool all_route_only = s->n_domains > 0;
	for (size_t i = 0; i < s->n_domains; i++) {
		if (s->domains[i].len <= 1)
			return true; /* "~.": a route for every name */
		if (!s->domains[i].route_only)
			all_route_only = false;
	}
	return !all_route_only;
}

void link_each_source(const struct link *l, link_source_fn fn, void *arg)
{
	if (!settings_empty(&l->manual))
		fn(arg, l->manual_by, NULL, &l->manual);
	if (!settings_empty(&l->networkd))
		fn(arg, LINK_SOURCE_NETWORKD, NULL, &l->networkd);
	for (size_t i = 0; i < l->n_records; i++)
		fn(arg, LINK_SOURCE_RESOLVCONF, l->records[i].name, &l->records[i].s);
}

/* A link's dns-over-tls: its own when a front end set it, else the global. */
static enum route_tls tls_of(enum link_mode m, enum route_tls global)
{
	switch (m) {
	case LINK_MODE_NO:
		return ROUTE_TLS_NO;
	case LINK_MODE_YES:
		return ROUTE_TLS_YES;
	case LINK_MODE_OPPORTUNISTIC:
		return ROUTE_TLS_OPPORTUNISTIC;
	default:
		return global;
	}
}

int link_route_input(struct link_registry *r, struct route_input *in)
{
	in->links = NULL;
	in->n_links = 0;
	free(r->inputs);
	r->inputs = calloc(r->n_links ? r->n_links : 1, sizeof(r->inputs[0]));
	if (!r->inputs)
		return -ENOMEM;
	for (size_t i = 0; i < r->n_links; i++) {
		const struct link *l = r->links[i];
		r->inputs[i] = (struct route_link_input){
			.ifindex = l->ifindex,
			.name = l->name,
			.up = l->up,
			.servers = l->effective.servers,
			.n_servers = l->effective.n_servers,
			.domains = l->effective.domains,
			.n_domains = l->effective.n_domains,
			.default_route = link_default_route(l),
			.tls = tls_of(l->effective.modes[LINK_FEATURE_DNS_OVER_TLS], in->global_tls),
		};
	}
	in->links = r->inputs;
	in->n_links = r->n_links;
	return 0;
}

size_t link_search_domains(const struct link_registry *r, const struct route_domain **out,
			   size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < r->n_links; i++) {
		const struct link *l = r->links[i];
		if (!l->up || l->effective.n_servers == 0)
			continue;
		for (size_t j = 0; j < l->effective.n_domains && n < max; j++) {
			const struct route_domain *d = &l->effective.domains[j];
			bool seen = d->route_only || d->len <= 1; /* the root is never searched */
			for (size_t k = 0; k < n && !seen; k++)
				seen = wire_name_equal(out[k]->wire, out[k]->len, d->wire, d->len);
			if (!seen)
				out[n++] = d;
		}
	}
	return n;
}

unsigned link_record_ifindex(const struct link_registry *r, const char *record)
{
	char buf[RECORD_NAME_MAX];
	unsigned best = 0;
	size_t best_len = 0;

	if (strlen(record) >= sizeof(buf))
		return 0;
	/* Every run of whole dot-separated parts, longest first wins. */
	for (const char *start = record; start; start = strchr(start, '.') ? strchr(start, '.') + 1 : NULL) {
		snprintf(buf, sizeof(buf), "%s", start);
		for (;;) {
			size_t len = strlen(buf);
			unsigned idx = len > best_len ? link_index_by_name(r, buf) : 0;
			if (idx) {
				best = idx;
				best_len = len;
			}
			char *dot = strrchr(buf, '.');
			if (!dot)
				break;
			*dot = '\0';
		}
	}
	return best;
}

int link_record_target(const struct link_registry *r, const char *record, unsigned *ifindex)
{
	*ifindex = link_record_ifindex(r, record);
	if (*ifindex != 0)
		return 0;
	/* NetworkManager's "NetworkManager" carries every connection's
	 * servers at once, for no one interface: they apply system-wide. */
	if (!strchr(record, '.')) {
		*ifindex = LINK_SYSTEM_INDEX;
		return 0;
	}
	return -ENODEV;
}

/* ---- across a restart ------------------------------------------------- */

/* One line per front end's settings:
 *     IFINDEX NAME SOURCE[:RECORD] [servers=A,B] [domains=D,E] [default-route=yes] [dnssec=no]...
 * "servers=" with nothing after it is "set to none"; a field not written
 * was not set. networkd's settings are not written: its files say them. */
static void save_settings(FILE *out, const struct link *l, enum link_source source,
			  const char *record, const struct link_settings *s)
{
	char text[ROUTE_NAME_TEXT_MAX + NETADDR_STRLEN + 32];
	fprintf(out, "%u %s %s%s%s", l->ifindex, l->name, link_source_names[source],
		record ? ":" : "", record ? record : "");
	if (s->has_servers) {
		fputs(" servers=", out);
		for (size_t i = 0; i < s->n_servers; i++)
			fprintf(out, "%s%s", i ? "," : "", route_server_format(&s->servers[i], true, text, sizeof(text)));
	}
	if (s->has_domains) {
		fputs(" domains=", out);
		for (size_t i = 0; i < s->n_domains; i++)
			fprintf(out, "%s%s", i ? "," : "", route_domain_str(&s->domains[i], text, sizeof(text)));
	}
	if (s->default_route >= 0)
		fprintf(out, " default-route=%s", s->default_route ? "yes" : "no");
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		if (s->modes[f] != LINK_MODE_UNSET)
			fprintf(out, " %s=%s", link_feature_names[f], link_mode_names[s->modes[f]]);
	fputc('\n', out);
}

int link_registry_save(const struct link_registry *r, FILE *out)
{
	fputs("# stubd's link settings, kept across a restart of stubd. Written by stubd;\n"
	      "# change them with stubctl dns/domain/default-route/revert or resolvconf.\n", out);
	for (size_t i = 0; i < r->n_links; i++) {
		const struct link *l = r->links[i];
		if (!settings_empty(&l->manual))
			save_settings(out, l, l->manual_by, NULL, &l->manual);
		for (size_t j = 0; j < l->n_records; j++)
			save_settings(out, l, LINK_SOURCE_RESOLVCONF, l->records[j].name, &l->records[j].s);
	}
	return ferror(out) ? -EIO : 0;
}

/* Parses a comma-separated list into s. */
static int load_list(struct link_settings *s, bool servers, char *list, unsigned ifindex,
		     char *why, size_t why_size)
{
	size_t n = 1;
	for (const char *c = list; *c; c++)
		n += *c == ',';
	if (*list == '\0')
		n = 0;
	if (servers) {
		s->has_servers = true;
		s->servers = n ? calloc(n, sizeof(s->servers[0])) : NULL;
		if (n && !s->servers)
			return why_set(why, why_size, -ENOMEM, "out of memory");
	} else {
		s->has_domains = true;
		s->domains = n ? calloc(n, sizeof(s->domains[0])) : NULL;
		if (n && !s->domains)
			return why_set(why, why_size, -ENOMEM, "out of memory");
	}
	char *save = NULL;
	for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
		int err = servers ? route_server_parse(item, ifindex, &s->servers[s->n_servers++], why, why_size)
				  : route_domain_parse(item, &s->domains[s->n_domains++], why, why_size);
		if (err < 0)
			return err;
	}
	return 0;
}

static int load_field(struct link_settings *s, char *field, unsigned ifindex, char *why,
		      size_t why_size)
{
	char *eq = strchr(field, '=');
	if (!eq)
		return why_set(why, why_size, -EINVAL, "'%.40s' is not KEY=VALUE", field);
	*eq = '\0';
	const char *value = eq + 1;
	if (strcmp(field, "servers") == 0 && !s->has_servers)
		return load_list(s, true, eq + 1, ifindex, why, why_size);
	if (strcmp(field, "domains") == 0 && !s->has_domains)
		return load_list(s, false, eq + 1, ifindex, why, why_size);
	if (strcmp(field, "default-route") == 0) {
		if (strcmp(value, "yes") != 0 && strcmp(value, "no") != 0)
			return why_set(why, why_size, -EINVAL, "default-route=%.40s is not yes or no", value);
		s->default_route = strcmp(value, "yes") == 0;
		return 0;
	}
	for (int f = 0; f < LINK_FEATURE_COUNT_; f++)
		if (strcmp(field, link_feature_names[f]) == 0)
			return link_mode_parse(f, value, &s->modes[f]) == 0
				       ? 0
				       : why_set(why, why_size, -EINVAL, "%s=%.40s is not a setting", field, value);
	return why_set(why, why_size, -EINVAL, "unknown or repeated key '%.40s'", field);
}

/* One line; returns 1 when settings were restored, 0 when skipped (a
 * link that is gone), -EINVAL with why set when it does not parse. */
static int load_line(struct link_registry *r, char *line, char *why, size_t why_size)
{
	char *save = NULL;
	char *idx_text = strtok_r(line, " \t\n", &save);
	char *name = strtok_r(NULL, " \t\n", &save);
	char *source = strtok_r(NULL, " \t\n", &save);
	if (!idx_text || !name || !source)
		return why_set(why, why_size, -EINVAL, "expected IFINDEX NAME SOURCE");
	/* A line that is not ours says so, rather than passing for a link
	 * that is gone: "abc" is no index 0. */
	errno = 0;
	char *end;
	unsigned long v = strtoul(idx_text, &end, 10);
	bool system = v == LINK_SYSTEM_INDEX && strcmp(name, LINK_SYSTEM_NAME) == 0;
	if (idx_text[0] < '0' || idx_text[0] > '9' || *end != '\0' || errno || (v == 0 && !system) ||
	    v > UINT_MAX)
		return why_set(why, why_size, -EINVAL, "'%.40s' is not an interface index", idx_text);
	unsigned ifindex = (unsigned)v;
	enum link_source src;
	const char *record = NULL;
	if (strcmp(source, link_source_names[LINK_SOURCE_MANUAL]) == 0) {
		src = LINK_SOURCE_MANUAL;
	} else if (strcmp(source, link_source_names[LINK_SOURCE_DBUS]) == 0) {
		src = LINK_SOURCE_DBUS;
	} else if (strncmp(source, "resolvconf:", 11) == 0 && source[11]) {
		src = LINK_SOURCE_RESOLVCONF;
		record = source + 11;
	} else {
		return why_set(why, why_size, -EINVAL, "unknown source '%.40s'", source);
	}
	/* Settings of an interface that is gone, or whose index another one
	 * has now: not restored, and no error. */
	const struct link *l = find_link(r, ifindex);
	if (!system && (!l || strcmp(l->name, name) != 0))
		return 0;
	if (system && src != LINK_SOURCE_RESOLVCONF)
		return why_set(why, why_size, -EINVAL, "only resolvconf records apply system-wide");
	struct link_settings s;
	link_settings_init(&s);
	int err = 0;
	for (char *f = strtok_r(NULL, " \t\n", &save); f && err == 0; f = strtok_r(NULL, " \t\n", &save))
		err = load_field(&s, f, ifindex, why, why_size);
	if (err == 0)
		err = link_set(r, ifindex, src, record, &s, why, why_size);
	link_settings_clear(&s);
	return err < 0 ? err : 1;
}

int link_registry_load(struct link_registry *r, FILE *in, const char *path)
{
	char *line = NULL, why[256];
	size_t cap = 0;
	ssize_t len;
	unsigned lineno = 0;
	int restored = 0;

	while ((len = getline(&line, &cap, in)) > 0) {
		lineno++;
		const char *text = line + strspn(line, " \t");
		if (*text == '#' || *text == '\n' || *text == '\0')
			continue;
		int rc;
		if (strlen(line) != (size_t)len)
			rc = why_set(why, sizeof(why), -EINVAL, "binary data");
		else if (len > LINK_LINE_MAX)
			rc = why_set(why, sizeof(why), -EINVAL, "line longer than %d bytes", LINK_LINE_MAX);
		else
			rc = load_line(r, line, why, sizeof(why));
		if (rc < 0)
			log_warn("%s:%u: %s; line skipped", path, lineno, why);
		else
			restored += rc;
	}
	free(line);
	return ferror(in) ? -EIO : restored;
}
