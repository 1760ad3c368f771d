/* networkd.c - systemd-networkd's link state files: the parser and the
 * inotify watch. See networkd.h. */
#define _GNU_SOURCE
#include "stubd/networkd.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <event2/event.h>

#include "stubd/config.h"
#include "stubd/log.h"

/* ---- the parser -------------------------------------------------------- */

struct parse {
	const char *path;
	unsigned ifindex;
	unsigned lineno;
	networkd_warn_fn warn;
	void *warn_arg;
	unsigned n_warnings;
	/* DOMAINS= and ROUTE_DOMAINS= each replace their own part when
	 * repeated, so they are kept apart until the end. */
	struct route_domain *search, *route;
	size_t n_search, n_route;
	bool has_search, has_route;
	bool unmanaged;           /* ADMIN_STATE= says networkd keeps off it */
};

static void default_warn(void *arg, const char *msg)
{
	log_warn("%s", msg);
}

/* Reports a problem at the current line (none when lineno is 0). */
static void say(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct parse *p, const char *fmt, ...)
{
	char why[512], msg[PATH_MAX + 600];

	if (p->n_warnings > NETWORKD_MAX_WARNINGS)
		return;
	if (p->n_warnings++ == NETWORKD_MAX_WARNINGS) {
		snprintf(msg, sizeof(msg), "%s: more problems, not reported", p->path);
	} else {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
		if (p->lineno)
			snprintf(msg, sizeof(msg), "%s:%u: %s", p->path, p->lineno, why);
		else
			snprintf(msg, sizeof(msg), "%s: %s", p->path, why);
	}
	p->warn(p->warn_arg, msg);
}

/* Appends one element of size bytes to *list, n of them. The array is
 * resized when n is 0 or a power of two (to twice n), which keeps room for
 * one more as n goes up and down by one. */
static int append(void **list, size_t *n, size_t size, const void *item)
{
	if ((*n & (*n - 1)) == 0) {
		size_t cap = *n ? 2 * *n : 1;
		void *grown = realloc(*list, cap * size);
		if (!grown)
			return -ENOMEM;
		*list = grown;
	}
	memcpy((char *)*list + *n * size, item, size);
	(*n)++;
	return 0;
}

/* The next blank-separated word of *at, NUL-terminated in place; NULL at
 * the end. */
static char *next_word(char **at)
{
	char *w = *at + strspn(*at, " \t");
	if (*w == '\0')
		return NULL;
	char *end = w + strcspn(w, " \t");
	*at = *end ? end + 1 : end;
	*end = '\0';
	return w;
}

static int parse_servers(struct parse *p, char *value, struct link_settings *s)
{
	char why[256];

	free(s->servers);
	s->servers = NULL;
	s->n_servers = 0;
	s->has_servers = true;
	for (char *w; (w = next_word(&value));) {
		struct route_server srv;
		if (route_server_parse(w, p->ifindex, &srv, why, sizeof(why)) < 0) {
			say(p, "DNS= server '%.80s' skipped: %s", w, why);
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < s->n_servers && !dup; i++)
			dup = route_server_equal(&s->servers[i], &srv);
		if (!dup && append((void **)&s->servers, &s->n_servers, sizeof(srv), &srv) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool has_domain_name(const struct route_domain *list, size_t n, const struct route_domain *d)
{
	for (size_t i = 0; i < n; i++)
		if (wire_name_equal(list[i].wire, list[i].len, d->wire, d->len))
			return true;
	return false;
}

/* DOMAINS= (route_only false) or ROUTE_DOMAINS= (true): networkd writes
 * route-only domains without resolvectl's '~', so it is added here. */
static int parse_domains(struct parse *p, const char *key, char *value, bool route_only)
{
	struct route_domain **list = route_only ? &p->route : &p->search;
	size_t *n = route_only ? &p->n_route : &p->n_search;
	char why[256], text[ROUTE_NAME_TEXT_MAX + 2];

	free(*list);
	*list = NULL;
	*n = 0;
	*(route_only ? &p->has_route : &p->has_search) = true;
	for (char *w; (w = next_word(&value));) {
		struct route_domain d;
		if (strlen(w) + 2 > sizeof(text)) {
			say(p, "%s domain '%.40s...' skipped: longer than 253 characters", key, w);
			continue;
		}
		snprintf(text, sizeof(text), "%s%s", route_only && *w != '~' ? "~" : "", w);
		if (route_domain_parse(text, &d, why, sizeof(why)) < 0) {
			say(p, "%s domain '%.80s' skipped: %s", key, w, why);
			continue;
		}
		if (!has_domain_name(*list, *n, &d) && append((void **)list, n, sizeof(d), &d) < 0)
			return -ENOMEM;
	}
	return 0;
}


static const struct {
	const char *key;
	enum link_feature feature;
} mode_keys[] = {
	{ "DNS_OVER_TLS", LINK_FEATURE_DNS_OVER_TLS },
	{ "DNSSEC", LINK_FEATURE_DNSSEC },
	{ "LLMNR", LINK_FEATURE_LLMNR },
	{ "MDNS", LINK_FEATURE_MDNS },
};

static char *trim(char *s)
{
	s += strspn(s, " \t\r");
	size_t len = strlen(s);
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r'))
		s[--len] = '\0';
	return s;
}

/* One line, NUL-terminated, without its '\n'. */
static int parse_line(struct parse *p, char *line, struct link_settings *s)
{
	line = trim(line);
	if (*line == '\0' || *line == '#' || *line == ';')
		return 0;
	char *eq = strchr(line, '=');
	if (!eq) {
		say(p, "not KEY=VALUE, line skipped");
		return 0;
	}
	*eq = '\0';
	char *key = trim(line), *value = trim(eq + 1);
	/* resolved reads the file as an environment file: allow quotes. */
	size_t len = strlen(value);
	if (len >= 2 && (value[0] == '"' || value[0] == '\'') && value[len - 1] == value[0]) {
		value[len - 1] = '\0';
		value++;
	}

	if (strcmp(key, "DNS") == 0)
		return parse_servers(p, value, s);
	if (strcmp(key, "DOMAINS") == 0)
		return parse_domains(p, key, value, false);
	if (strcmp(key, "ROUTE_DOMAINS") == 0)
		return parse_domains(p, key, value, true);
	if (strcmp(key, "ADMIN_STATE") == 0) {
		/* resolved's link_is_managed(): networkd has not taken the link
		 * on (yet), whatever else the file says. */
		p->unmanaged = strcmp(value, "pending") == 0 || strcmp(value, "initialized") == 0 ||
			       strcmp(value, "unmanaged") == 0;
		return 0;
	}
	if (strcmp(key, "DNS_DEFAULT_ROUTE") == 0) {
		bool yes;
		if (config_parse_bool(value, &yes) == 0)
			s->default_route = yes;
		else
			say(p, "DNS_DEFAULT_ROUTE='%.80s' skipped: not yes or no", value);
		return 0;
	}
	for (size_t i = 0; i < sizeof(mode_keys) / sizeof(mode_keys[0]); i++) {
		if (strcmp(key, mode_keys[i].key) != 0)
			continue;
		if (link_mode_parse(mode_keys[i].feature, value, &s->modes[mode_keys[i].feature]) < 0)
			say(p, "%s='%.80s' skipped: not a %s mode", key, value,
			    link_feature_names[mode_keys[i].feature]);
		return 0;
	}
	return 0; /* OPER_STATE=, NTP=, NETWORK_FILE=, ...: not ours */
}

/* Joins the search domains and the route-only ones into s->domains; a
 * name that is a search domain needs no route-only twin. */
static int finish_domains(struct parse *p, struct link_settings *s)
{
	if (!p->has_search && !p->has_route)
		return 0;
	s->has_domains = true;
	s->domains = p->search;
	s->n_domains = p->n_search;
	p->search = NULL;
	p->n_search = 0;
	for (size_t i = 0; i < p->n_route; i++) {
		if (has_domain_name(s->domains, s->n_domains, &p->route[i]))
			continue;
		if (append((void **)&s->domains, &s->n_domains, sizeof(s->domains[0]), &p->route[i]) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Opens path as a regular file, without following a symlink and without
 * blocking on a FIFO. Returns the descriptor or -errno. */
static int open_regular(struct parse *p)
{
	int fd = open(p->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int err = -errno;
		if (err == -ELOOP)
			say(p, "is a symbolic link; networkd writes regular files, so it is not read");
		else if (err != -ENOENT)
			say(p, "cannot open: %s", strerror(-err));
		return err;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int err = -errno;
		say(p, "cannot stat: %s", strerror(-err));
		close(fd);
		return err;
	}
	if (!S_ISREG(st.st_mode)) {
		bool dir = S_ISDIR(st.st_mode);
		say(p, "is %s, not a state file", dir ? "a directory" : "not a regular file");
		close(fd);
		return dir ? -EISDIR : -EINVAL;
	}
	return fd;
}

/* Reads at most NETWORKD_FILE_MAX bytes into buf (one byte more in size
 * for the NUL); *len gets how many, *cut whether there was more. */
static int read_capped(struct parse *p, int fd, char *buf, size_t *len, bool *cut)
{
	*len = 0;
	*cut = false;
	for (;;) {
		ssize_t n = read(fd, buf + *len, NETWORKD_FILE_MAX + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int err = -errno;
			say(p, "cannot read: %s", strerror(-err));
			return err;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
		if (*len > NETWORKD_FILE_MAX) {
			*len = NETWORKD_FILE_MAX;
			*cut = true;
			break;
		}
	}
	buf[*len] = '\0';
	return 0;
}

static int parse_text(struct parse *p, char *buf, size_t len, bool cut,
		      struct link_settings *s)
{
	char *end = buf + len;
	int err = 0;

	for (char *line = buf; line < end && err == 0;) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		if (!nl && cut)
			break; /* a line cut short: not read at all */
		p->lineno++;
		char *stop = nl ? nl : end;
		size_t n = (size_t)(stop - line);
		*stop = '\0';
		if (n > NETWORKD_LINE_MAX)
			say(p, "line longer than %d bytes, skipped", NETWORKD_LINE_MAX);
		else if (strlen(line) != n)
			say(p, "line has a NUL byte, skipped");
		else
			err = parse_line(p, line, s);
		line = stop + 1;
	}
	if (err == 0 && cut) {
		unsigned last = p->lineno;
		p->lineno = 0;
		say(p, "longer than %d bytes; what follows line %u is ignored", NETWORKD_FILE_MAX,
		    last);
	}
	return err;
}

int networkd_parse_file(const char *path, unsigned ifindex, struct link_settings *s,
			networkd_warn_fn warn, void *warn_arg)
{
	struct parse p = {
		.path = path,
		.ifindex = ifindex,
		.warn = warn ? warn : default_warn,
		.warn_arg = warn_arg,
	};
	char *buf = NULL;
	size_t len;
	bool cut;

	link_settings_init(s);
	int fd = open_regular(&p);
	if (fd < 0)
		return fd;
	int err = -ENOMEM;
	buf = malloc(NETWORKD_FILE_MAX + 1);
	if (buf)
		err = read_capped(&p, fd, buf, &len, &cut);
	close(fd);
	if (err == 0)
		err = parse_text(&p, buf, len, cut, s);
	if (err == 0)
		err = finish_domains(&p, s);
	if (err < 0 || p.unmanaged)
		link_settings_clear(s);
	free(p.search);
	free(p.route);
	free(buf);
	return err;
}

/* ---- the watch ----------------------------------------------------------- */

/* A folder that is missing is looked for again on a timer rather than by
 * watching its parent: the parent may be missing too (/run/systemd/netif
 * exists only where networkd is installed), and a chain of watches up to
 * the first folder that exists, moved along as folders come and go, is a
 * lot of code for a stat() every few seconds. The timer also covers an
 * inotify_add_watch() that fails for other reasons (the watch limit, a
 * permission), which a parent watch would not. */

#define DIR_EVENTS (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | \
		    IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

struct known {
	unsigned ifindex;
	bool seen;               /* during a scan */
};

struct networkd_watch {
	char dir[PATH_MAX];
	networkd_fn fn;
	void *arg;
	int fd;                  /* inotify */
	int wd;                  /* dir's watch, -1 while dir is missing */
	int last_add_error;      /* reported once while polling */
	struct event *ev_inotify;
	struct event *ev_recheck;
	struct known *known;     /* interfaces whose settings fn got */
	size_t n_known;
};

/* The ifindex a file name stands for, 0 when it is not a plain decimal
 * number networkd would write (no sign, no leading zero, fits an int). */
static unsigned name_ifindex(const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > 10 || name[0] == '0' || strspn(name, "0123456789") != len)
		return 0;
	unsigned long v = strtoul(name, NULL, 10);
	return v <= INT_MAX ? (unsigned)v : 0;
}

static struct known *find_known(struct networkd_watch *w, unsigned ifindex)
{
	for (size_t i = 0; i < w->n_known; i++)
		if (w->known[i].ifindex == ifindex)
			return &w->known[i];
	return NULL;
}

static void forget(struct networkd_watch *w, unsigned ifindex)
{
	struct known *k = find_known(w, ifindex);
	if (!k)
		return;
	*k = w->known[--w->n_known];
	w->fn(w->arg, ifindex, NULL);
}

/* The file of ifindex is new or changed: read it and tell fn. */
static void update(struct networkd_watch *w, unsigned ifindex)
{
	char path[PATH_MAX + 16];
	struct link_settings s;

	snprintf(path, sizeof(path), "%s/%u", w->dir, ifindex);
	int err = networkd_parse_file(path, ifindex, &s, NULL, NULL);
	if (err == -ENOMEM)
		log_err("networkd: out of memory reading %s; its settings are not used", path);
	if (err < 0) {
		/* Gone again, or not a file networkd wrote: it says nothing. */
		forget(w, ifindex);
		return;
	}
	struct known *k = find_known(w, ifindex);
	if (!k) {
		struct known add = { .ifindex = ifindex };
		if (append((void **)&w->known, &w->n_known, sizeof(add), &add) < 0) {
			log_err("networkd: out of memory; the settings in %s are not used", path);
			link_settings_clear(&s);
			return;
		}
		k = &w->known[w->n_known - 1];
	}
	k->seen = true;
	w->fn(w->arg, ifindex, &s);
	link_settings_clear(&s);
}

/* Reports every file in dir, and the end of those that went meanwhile
 * (after an inotify queue overflow, or a dir that came back). */
static void scan(struct networkd_watch *w)
{
	DIR *d = opendir(w->dir);
	if (!d) {
		/* It went right after the watch was added: the watch says so. */
		if (errno != ENOENT)
			log_warn("networkd: cannot list %s: %s", w->dir, strerror(errno));
		return;
	}
	for (size_t i = 0; i < w->n_known; i++)
		w->known[i].seen = false;
	for (struct dirent *e; (e = readdir(d));) {
		unsigned ifindex = name_ifindex(e->d_name);
		if (ifindex)
			update(w, ifindex);
	}
	closedir(d);
	for (size_t i = 0; i < w->n_known;) {
		if (w->known[i].seen)
			i++;
		else
			forget(w, w->known[i].ifindex); /* moves the last one to i */
	}
}

/* Starts watching dir; 0, or -errno when it cannot (yet). */
static int arm(struct networkd_watch *w)
{
	int wd = inotify_add_watch(w->fd, w->dir, DIR_EVENTS);
	if (wd < 0) {
		int err = -errno;
		if (err != -ENOENT && err != w->last_add_error)
			log_warn("networkd: cannot watch %s: %s; trying again every %d s", w->dir,
				 strerror(-err), NETWORKD_RECHECK_SECONDS);
		w->last_add_error = err;
		return err;
	}
	if (w->last_add_error)
		log_info("networkd: watching %s", w->dir);
	w->wd = wd;
	w->last_add_error = 0;
	return 0;
}

static void start_recheck(struct networkd_watch *w)
{
	struct timeval every = { .tv_sec = NETWORKD_RECHECK_SECONDS };
	event_add(w->ev_recheck, &every);
}

static void on_recheck(evutil_socket_t fd, short what, void *arg)
{
	struct networkd_watch *w = arg;
	if (arm(w) < 0)
		return;
	event_del(w->ev_recheck);
	scan(w);
}

/* dir went (removed, moved away, unmounted): networkd says nothing any
 * more about the interfaces it had files for. */
static void lose_dir(struct networkd_watch *w)
{
	if (w->wd >= 0)
		inotify_rm_watch(w->fd, w->wd); /* EINVAL once the kernel dropped it: fine */
	w->wd = -1;
	while (w->n_known > 0)
		forget(w, w->known[w->n_known - 1].ifindex);
	log_info("networkd: %s went away; looking for it every %d s", w->dir,
		 NETWORKD_RECHECK_SECONDS);
	w->last_add_error = -ENOENT;
	/* A new one may have been moved in at once. */
	if (arm(w) == 0)
		scan(w);
	else
		start_recheck(w);
}

static void on_inotify(evutil_socket_t fd, short what, void *arg)
{
	struct networkd_watch *w = arg;
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool lost = false, rescan = false;

	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			if (errno != EAGAIN)
				log_warn("networkd: reading inotify events: %s", strerror(errno));
			break;
		}
		for (char *at = buf; at < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)at;
			at += sizeof(*ev) + ev->len;
			if (ev->mask & IN_Q_OVERFLOW) {
				rescan = true;
				continue;
			}
			if (ev->wd != w->wd || w->wd < 0 || lost)
				continue;
			if (ev->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
				lost = true;
				continue;
			}
			unsigned ifindex = ev->len ? name_ifindex(ev->name) : 0;
			if (!ifindex)
				continue;
			if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
				forget(w, ifindex);
			else if (ev->mask & (IN_CLOSE_WRITE | IN_MOVED_TO))
				update(w, ifindex);
		}
	}
	if (lost)
		lose_dir(w);
	else if (rescan && w->wd >= 0)
		scan(w);
}

struct networkd_watch *networkd_watch_new(struct event_base *base, const char *dir,
					  networkd_fn fn, void *arg, char *err,
					  size_t err_size)
{
	struct networkd_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, err_size, "networkd: out of memory");
		return NULL;
	}
	w->fd = -1;
	w->wd = -1;
	w->fn = fn;
	w->arg = arg;
	if (strlen(dir) >= sizeof(w->dir)) {
		snprintf(err, err_size, "networkd: folder name longer than %d bytes", PATH_MAX - 1);
		goto fail;
	}
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		snprintf(err, err_size, "networkd: cannot watch %s: inotify: %s", dir, strerror(errno));
		goto fail;
	}
	w->ev_inotify = event_new(base, w->fd, EV_READ | EV_PERSIST, on_inotify, w);
	w->ev_recheck = event_new(base, -1, EV_PERSIST, on_recheck, w);
	if (!w->ev_inotify || !w->ev_recheck || event_add(w->ev_inotify, NULL) < 0) {
		snprintf(err, err_size, "networkd: cannot watch %s: out of memory", dir);
		goto fail;
	}
	if (arm(w) == 0) {
		scan(w);
	} else {
		log_debug("networkd: %s does not exist yet; looking for it every %d s", dir,
			  NETWORKD_RECHECK_SECONDS);
		start_recheck(w);
	}
	return w;
fail:
	networkd_watch_free(w);
	return NULL;
}

void networkd_watch_free(struct networkd_watch *w)
{
	if (!w)
		return;
	if (w->ev_inotify)
		event_free(w->ev_inotify);
	if (w->ev_recheck)
		event_free(w->ev_recheck);
	if (w->fd >= 0)
		close(w->fd);
	free(w->known);
	free(w);
}
