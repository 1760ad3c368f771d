/* networkd.c - networkd's link state files, parsed and watched. See networkd.h. */
#include "stubd/networkd.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stubd/log.h"

/* A state file is a few hundred bytes; anything much larger is not one. */
#define STATE_FILE_MAX (256 * 1024)

struct networkd_watch {
	struct event_base *base;
	char dir[PATH_MAX];
	networkd_fn fn;
	void *arg;
	int fd;                   /* inotify */
	int wd;                   /* the directory's watch, -1 until it exists */
	struct event *read_ev;
	struct event *retry_ev;
};

struct parse_ctx {
	const char *path;
	unsigned line;
	void (*warn)(void *arg, const char *msg);
	void *warn_arg;
};

static void warn_item(struct parse_ctx *ctx, const char *key, const char *why)
{
	char msg[PATH_MAX + 512];
	snprintf(msg, sizeof(msg), "%s:%u: %s: %s; that item is skipped", ctx->path, ctx->line, key,
		 why);
	if (ctx->warn)
		ctx->warn(ctx->warn_arg, msg);
	else
		log_warn("networkd: %s", msg);
}

static size_t count_words(const char *value)
{
	size_t n = 0;
	bool in_word = false;
	for (const char *c = value; *c; c++) {
		bool blank = isspace((unsigned char)*c);
		n += !blank && !in_word;
		in_word = !blank;
	}
	return n;
}

static int add_servers(struct link_settings *s, char *value, unsigned ifindex,
		       struct parse_ctx *ctx)
{
	char why[256], *save = NULL;
	size_t n = count_words(value);
	struct route_server *grown = realloc(s->servers, (s->n_servers + n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->servers = grown;
	s->has_servers = true;
	for (char *w = strtok_r(value, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		if (route_server_parse(w, ifindex, &s->servers[s->n_servers], why, sizeof(why)) < 0)
			warn_item(ctx, "DNS", why);
		else
			s->n_servers++;
	}
	return 0;
}

static int add_domains(struct link_settings *s, char *value, bool route_only,
		       struct parse_ctx *ctx)
{
	char why[256], *save = NULL;
	size_t n = count_words(value);
	struct route_domain *grown = realloc(s->domains, (s->n_domains + n + 1) * sizeof(*grown));
	if (!grown)
		return -ENOMEM;
	s->domains = grown;
	s->has_domains = true;
	for (char *w = strtok_r(value, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		struct route_domain *d = &s->domains[s->n_domains];
		/* networkd writes route-only domains without the '~'. */
		if (route_domain_parse(w, d, why, sizeof(why)) < 0) {
			warn_item(ctx, route_only ? "ROUTE_DOMAINS" : "DOMAINS", why);
			continue;
		}
		d->route_only = d->route_only || route_only;
		s->n_domains++;
	}
	return 0;
}

static void set_mode(struct link_settings *s, enum link_feature f, const char *key,
		     const char *value, struct parse_ctx *ctx)
{
	if (link_mode_parse(f, value, &s->modes[f]) < 0)
		warn_item(ctx, key, "not a value this setting takes");
}

static int parse_line(struct link_settings *s, char *line, unsigned ifindex,
		      struct parse_ctx *ctx)
{
	char *eq = strchr(line, '=');
	if (line[0] == '#' || !eq)
		return 0;
	*eq = '\0';
	char *value = eq + 1;
	value[strcspn(value, "\r\n")] = '\0';
	if (strcmp(line, "DNS") == 0)
		return add_servers(s, value, ifindex, ctx);
	if (strcmp(line, "DOMAINS") == 0)
		return add_domains(s, value, false, ctx);
	if (strcmp(line, "ROUTE_DOMAINS") == 0)
		return add_domains(s, value, true, ctx);
	if (strcmp(line, "DNS_DEFAULT_ROUTE") == 0) {
		enum link_mode m;
		if (link_mode_parse(LINK_FEATURE_DNSSEC, value, &m) == 0 &&
		    (m == LINK_MODE_YES || m == LINK_MODE_NO))
			s->default_route = m == LINK_MODE_YES;
		else
			warn_item(ctx, line, "not yes or no");
		return 0;
	}
	if (strcmp(line, "DNS_OVER_TLS") == 0)
		set_mode(s, LINK_FEATURE_DNS_OVER_TLS, line, value, ctx);
	else if (strcmp(line, "DNSSEC") == 0)
		set_mode(s, LINK_FEATURE_DNSSEC, line, value, ctx);
	else if (strcmp(line, "LLMNR") == 0)
		set_mode(s, LINK_FEATURE_LLMNR, line, value, ctx);
	else if (strcmp(line, "MDNS") == 0)
		set_mode(s, LINK_FEATURE_MDNS, line, value, ctx);
	return 0;
}

int networkd_parse_file(const char *path, unsigned ifindex, struct link_settings *s,
			void (*warn)(void *arg, const char *msg), void *warn_arg)
{
	struct parse_ctx ctx = { .path = path, .warn = warn, .warn_arg = warn_arg };
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	struct stat st;
	int err = fstat(fd, &st) < 0 ? -errno
		  : !S_ISREG(st.st_mode)     ? -EINVAL
		  : st.st_size > STATE_FILE_MAX ? -EFBIG
						: 0;
	if (err < 0) {
		close(fd);
		return err;
	}
	FILE *in = fdopen(fd, "re");
	if (!in) {
		close(fd);
		return -ENOMEM;
	}
	char *line = NULL;
	size_t cap = 0;
	while (err == 0 && getline(&line, &cap, in) > 0) {
		ctx.line++;
		if (memchr(line, '\0', strlen(line) + 1) != line + strlen(line))
			continue;
		err = parse_line(s, line, ifindex, &ctx);
	}
	free(line);
	fclose(in);
	return err;
}

/* ---- watching ------------------------------------------------------------ */

/* A state file's name is its interface index; networkd's temporary files
 * (".#IFINDEXxxxx") and anything else are not ours. */
static unsigned index_of(const char *name)
{
	if (!*name || strspn(name, "0123456789") != strlen(name) || strlen(name) > 9)
		return 0;
	return (unsigned)strtoul(name, NULL, 10);
}

static void report_file(struct networkd_watch *w, unsigned ifindex)
{
	char path[PATH_MAX + 16];
	struct link_settings s;
	snprintf(path, sizeof(path), "%s/%u", w->dir, ifindex);
	link_settings_init(&s);
	int err = networkd_parse_file(path, ifindex, &s, NULL, NULL);
	if (err == -ENOENT) {
		w->fn(w->arg, ifindex, NULL);
	} else if (err < 0) {
		log_warn("networkd: cannot read %s: %s; its settings are left as they were", path,
			 strerror(-err));
	} else {
		w->fn(w->arg, ifindex, &s);
	}
	link_settings_clear(&s);
}

static void scan_dir(struct networkd_watch *w)
{
	DIR *d = opendir(w->dir);
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		unsigned ifindex = index_of(e->d_name);
		if (ifindex)
			report_file(w, ifindex);
	}
	closedir(d);
}

/* Returns true when the directory is now watched. */
static bool add_dir_watch(struct networkd_watch *w)
{
	w->wd = inotify_add_watch(w->fd, w->dir, IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
							 IN_DELETE | IN_DELETE_SELF | IN_MOVE_SELF |
							 IN_ONLYDIR);
	if (w->wd < 0)
		return false;
	scan_dir(w);
	return true;
}

static void start_retry(struct networkd_watch *w)
{
	struct timeval tv = { .tv_sec = NETWORKD_RETRY_MS / 1000,
			      .tv_usec = (NETWORKD_RETRY_MS % 1000) * 1000 };
	evtimer_add(w->retry_ev, &tv);
}

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
	struct networkd_watch *w = arg;
	if (!add_dir_watch(w))
		start_retry(w);
	else
		log_info("networkd: following %s", w->dir);
}

/* The directory itself went away (networkd stopped, /run remounted): every
 * file in it is gone, and it is looked for again. */
static void dir_gone(struct networkd_watch *w)
{
	w->wd = -1;
	start_retry(w);
}

static void handle_event(struct networkd_watch *w, const struct inotify_event *ev)
{
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF | IN_IGNORED)) {
		if (ev->wd == w->wd)
			dir_gone(w);
		return;
	}
	if (ev->mask & IN_Q_OVERFLOW) {
		scan_dir(w); /* events were lost: read everything again */
		return;
	}
	unsigned ifindex = ev->len ? index_of(ev->name) : 0;
	if (ifindex == 0)
		return;
	if (ev->mask & (IN_DELETE | IN_MOVED_FROM))
		w->fn(w->arg, ifindex, NULL);
	else
		report_file(w, ifindex);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct networkd_watch *w = arg;
	char buf[16384] __attribute__((aligned(__alignof__(struct inotify_event))));
	for (;;) {
		ssize_t n = read(w->fd, buf, sizeof(buf));
		if (n <= 0)
			return;
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *ev = (const struct inotify_event *)p;
			handle_event(w, ev);
			p += sizeof(*ev) + ev->len;
		}
	}
}

struct networkd_watch *networkd_watch_new(struct event_base *base, const char *dir,
					  networkd_fn fn, void *arg, char *err, size_t err_size)
{
	struct networkd_watch *w = calloc(1, sizeof(*w));
	if (!w) {
		snprintf(err, err_size, "networkd: out of memory");
		return NULL;
	}
	w->base = base;
	w->fn = fn;
	w->arg = arg;
	w->wd = -1;
	snprintf(w->dir, sizeof(w->dir), "%s", dir);
	w->fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (w->fd < 0) {
		snprintf(err, err_size, "networkd: inotify: %s", strerror(errno));
		free(w);
		return NULL;
	}
	w->read_ev = event_new(base, w->fd, EV_READ | EV_PERSIST, on_readable, w);
	w->retry_ev = evtimer_new(base, on_retry, w);
	if (!w->read_ev || !w->retry_ev || event_add(w->read_ev, NULL) < 0) {
		snprintf(err, err_size, "networkd: out of memory");
		networkd_watch_free(w);
		return NULL;
	}
	if (!add_dir_watch(w))
		start_retry(w);
	return w;
}

void networkd_watch_free(struct networkd_watch *w)
{
	if (!w)
		return;
	if (w->read_ev)
		event_free(w->read_ev);
	if (w->retry_ev)
		event_free(w->retry_ev);
	close(w->fd);
	free(w);
}
