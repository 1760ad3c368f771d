/* control.c - the control socket and stubctl's commands. See control.h. */
#define _GNU_SOURCE
#include "stubd/control.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "stubd/access.h"
#include "stubd/control_cmds.h"
#include "stubd/control_proto.h"
#include "stubd/control_verbs.h"
#include "stubd/daemon.h"
#include "stubd/log.h"
#include "stubd/report.h"

/* Connections at once; more are closed at once. stubctl holds one for a
 * fraction of a second, so this only bites a misbehaving client. */
#define CONTROL_MAX_CONNS 64
/* A client must send its request, and take the reply, within this. */
#define CONTROL_TIMEOUT_S 5
/* One client's connection, and its one request (control_cmds.h's
 * struct control_request is this). */
struct control_request {
	struct control *ctl;
	LIST_ENTRY(control_request) link;
	struct bufferevent *bev;
	struct access_caller peer; /* read when it connected */
	enum report_format format;
	bool responded;
	bool client_done;        /* EOF: the client has sent all it will */
	void *state;             /* a command's, while it waits (a query) */
	control_state_drop drop_state;
};

struct control {
	struct daemon *d;
	struct evconnlistener *listener;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	LIST_HEAD(, control_request) conns;
	unsigned n_conns;
	bool created;            /* we made the socket file, so we remove it */
};

/* ---- replies ---------------------------------------------------------- */

static void conn_free(struct control_request *conn)
{
	if (conn->state)
		conn->drop_state(conn, conn->state);
	bufferevent_free(conn->bev);
	LIST_REMOVE(conn, link);
	conn->ctl->n_conns--;
	free(conn);
}

struct daemon *control_request_daemon(const struct control_request *req)
{
	return req->ctl->d;
}

enum report_format control_request_format(const struct control_request *req)
{
	return req->format;
}

void control_request_keep(struct control_request *req, void *state, control_state_drop drop)
{
	req->state = state;
	req->drop_state = drop;
}

void *control_request_state(const struct control_request *req)
{
	return req->state;
}

void control_reply_text(struct control_request *conn, int exit_status, const char *text,
			size_t len)
{
	evbuffer_add_printf(bufferevent_get_output(conn->bev), CONTROL_MAGIC " %d\n", exit_status);
	bufferevent_write(conn->bev, text, len);
	conn->responded = true;
	/* Read on to the client's EOF: closing with its bytes unread would
	 * reset the connection and could lose the reply on its way. */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, 0);
	bufferevent_enable(conn->bev, EV_READ);
}

void control_reply(struct control_request *conn, int exit_status, struct report *r)
{
	size_t len;
	const char *body = report_finish(r, &len);
	control_reply_text(conn, exit_status, body, len);
	report_free(r);
}

void control_reply_error(struct control_request *conn, int exit_status, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	struct report *r = report_new(conn->format);
	if (!r) {
		conn->responded = true;
		return;
	}
	if (conn->format == REPORT_JSON)
		report_str(r, "error", "Error", msg, REPORT_TONE_BAD);
	else
		report_note(r, REPORT_TONE_BAD, "%s", msg);
	control_reply(conn, exit_status, r);
}

/* ---- permission (SO_PEERCRED, SO_PEERGROUPS) --------------------------- */

/* Who connected, as the kernel recorded it at connect(): the uid and every
 * group, from the socket itself, so that no PID can be reused or exec'd in
 * between and no NSS lookup runs on the DNS loop (access.h has the rule;
 * control-group's id was looked up at start or reload). */
static int read_peer(int fd, struct access_caller *c)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	c->known = true;
	c->uid = cred.uid;
	c->groups[0] = cred.gid;
	c->n_groups = 1;
	len = (socklen_t)(sizeof(c->groups) - sizeof(c->groups[0]));
	/* ERANGE: more groups than room; none of them is read, and the
	 * caller counts by uid and primary group alone: refused, not guessed. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, &c->groups[1], &len) == 0) {
		c->n_groups += len / sizeof(c->groups[0]);
	}
	return 0;
}


/* ---- requests ----------------------------------------------------------------- */

int control_split_request(char *line, char **words, int max_words)
{
	int n = 0;
	char *save = NULL;
	char *tok = strtok_r(line, " ", &save);
	if (!tok || strcmp(tok, CONTROL_MAGIC) != 0)
		return -1;
	while ((tok = strtok_r(NULL, " ", &save))) {
		if (n >= max_words)
			return -1;
		for (const char *c = tok; *c; c++)
			if ((unsigned char)*c < 0x20 || *c == 0x7f)
				return -1;
		words[n++] = tok;
	}
	return n >= 2 ? n : -1; /* FORMAT and COMMAND at least */
}

static bool parse_format(const char *word, enum report_format *format)
{
	if (strcmp(word, "text") == 0)
		*format = REPORT_TEXT;
	else if (strcmp(word, "color") == 0)
		*format = REPORT_COLOR;
	else if (strcmp(word, "json") == 0)
		*format = REPORT_JSON;
	else
		return false;
	return true;
}

static void run_request(struct control_request *conn, char *line)
{
	char *words[2 + CONTROL_MAX_ARGS];
	int n = control_split_request(line, words, 2 + CONTROL_MAX_ARGS);

	conn->format = REPORT_TEXT;
	if (n < 0 || !parse_format(words[0], &conn->format))
		return control_reply_error(conn, CONTROL_EXIT_USAGE,
					   "malformed request; use stubctl to talk to stubd");
	int verb = control_verb_find(words[1]);
	if (verb < 0)
		return control_reply_error(conn, CONTROL_EXIT_USAGE,
					   "unknown command '%s'; see stubctl --help", words[1]);
	if (control_verb_needs_privilege(verb, n - 2, words + 2) &&
	    !access_may_change(&conn->peer, conn->ctl->d->control_gid,
			       daemon_self_uid(conn->ctl->d))) {
		log_info("control: %s refused for uid %u", words[1], (unsigned)conn->peer.uid);
		return control_reply_error(conn, CONTROL_EXIT_FAILED,
					   "permission denied: %s needs root or membership of "
					   "group '%s' (control-group in stubd.conf)",
					   words[1], conn->ctl->d->cfg.control_group);
	}
	control_cmd_run(conn, verb, n - 2, words + 2);
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
	struct control_request *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	if (conn->responded || conn->state)
		return evbuffer_drain(in, evbuffer_get_length(in)), (void)0;
	size_t len;
	char *line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
	if (!line) {
		if (evbuffer_get_length(in) >= CONTROL_REQUEST_MAX)
			control_reply_error(conn, CONTROL_EXIT_USAGE, "request longer than %d bytes",
				      CONTROL_REQUEST_MAX);
		return;
	}
	if (len >= CONTROL_REQUEST_MAX || strlen(line) != len)
		control_reply_error(conn, CONTROL_EXIT_USAGE, "malformed request; use stubctl to talk to stubd");
	else
		run_request(conn, line);
	free(line);
}

static bool conn_finished(const struct control_request *conn)
{
	return conn->responded && conn->client_done &&
	       evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0;
}

static void on_conn_written(struct bufferevent *bev, void *arg)
{
	struct control_request *conn = arg;
	if (conn_finished(conn))
		conn_free(conn);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct control_request *conn = arg;
	/* The client's EOF after its request is expected; the answer may still
	 * be on its way (a query), so only an error or a timeout ends it. */
	if (what & BEV_EVENT_EOF) {
		conn->client_done = true;
		if (!conn->responded && !conn->state)
			control_reply_error(conn, CONTROL_EXIT_USAGE, "incomplete request (no newline)");
		if (conn_finished(conn))
			conn_free(conn);
		return;
	}
	conn_free(conn);
}

static void on_accept(struct evconnlistener *evl, evutil_socket_t fd, struct sockaddr *addr,
		      int addr_len, void *arg)
{
	struct control *ctl = arg;
	if (ctl->n_conns >= CONTROL_MAX_CONNS) {
		close(fd);
		return;
	}
	struct control_request *conn = calloc(1, sizeof(*conn));
	if (!conn || read_peer(fd, &conn->peer) < 0) {
		free(conn);
		close(fd);
		return;
	}
	conn->ctl = ctl;
	conn->bev = bufferevent_socket_new(ctl->d->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!conn->bev) {
		close(fd);
		free(conn);
		return;
	}
	struct timeval limit = { .tv_sec = CONTROL_TIMEOUT_S };
	bufferevent_setcb(conn->bev, on_conn_read, on_conn_written, on_conn_event, conn);
	bufferevent_set_timeouts(conn->bev, &limit, &limit);
	/* A request line larger than the limit is never buffered whole. */
	bufferevent_setwatermark(conn->bev, EV_READ, 0, CONTROL_REQUEST_MAX + 1);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&ctl->conns, conn, link);
	ctl->n_conns++;
}

/* ---- the socket ------------------------------------------------------------------ */

/* A socket file left by a stubd that died is removed; one that answers
 * belongs to a running stubd and is left alone. */
static int clear_stale_socket(const struct sockaddr_un *sun, struct config_error *err)
{
	struct stat st;
	if (lstat(sun->sun_path, &st) < 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err->msg, sizeof(err->msg),
			 "control socket %s: a file that is not a socket is in the way; remove it "
			 "or choose another path with -s", sun->sun_path);
		return -1;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0) {
		close(fd);
		snprintf(err->msg, sizeof(err->msg),
			 "control socket %s is in use by another stubd; stop it or choose "
			 "another path with -s", sun->sun_path);
		return -1;
	}
	if (fd >= 0)
		close(fd);
	unlink(sun->sun_path);
	return 0;
}

static void make_parent_dir(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return;
	*slash = '\0';
	if (mkdir(dir, 0755) == 0)
		log_info("control: created %s", dir);
}

/* root:control-group, so ls -l shows who may change things. */
static void own_by_group(const char *path, const char *group)
{
	struct group grp, *found = NULL;
	char buf[4096];
	if (getgrnam_r(group, &grp, buf, sizeof(buf), &found) == 0 && found &&
	    chown(path, (uid_t)-1, found->gr_gid) < 0)
		log_debug("control: cannot give %s to group %s: %s", path, group, strerror(errno));
}

/* Anyone on the machine may connect and read (status, query), as anyone
 * may ask 127.0.0.53; what changes things is checked per command. */
static int open_socket(struct control *ctl, struct config_error *err)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	const char *path = ctl->d->cfg.control_socket;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err->msg, sizeof(err->msg), "control socket path too long: %.200s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	make_parent_dir(path);
	if (clear_stale_socket(&sun, err) < 0)
		return -1;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (const struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    chmod(path, 0666) < 0 || listen(fd, 16) < 0) {
		snprintf(err->msg, sizeof(err->msg), "cannot create control socket %s: %s%s", sun.sun_path,
			 strerror(errno),
			 errno == EACCES || errno == ENOENT || errno == ENOTDIR
				 ? " (stubctl will not work; run as root, or choose a writable path with -s)"
				 : "");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	memcpy(ctl->path, sun.sun_path, sizeof(ctl->path));
	ctl->created = true;
	own_by_group(path, ctl->d->cfg.control_group);
	ctl->listener = evconnlistener_new(ctl->d->base, on_accept, ctl, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (!ctl->listener) {
		close(fd);
		snprintf(err->msg, sizeof(err->msg), "control socket: out of memory");
		return -1;
	}
	return 0;
}

struct control *control_new(struct daemon *d, int fd, struct config_error *err)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	if (!ctl) {
		snprintf(err->msg, sizeof(err->msg), "control socket: out of memory");
		return NULL;
	}
	ctl->d = d;
	LIST_INIT(&ctl->conns);
	if (fd >= 0) {
		/* From socket activation: systemd owns the file. */
		evutil_make_socket_nonblocking(fd);
		ctl->listener = evconnlistener_new(d->base, on_accept, ctl, LEV_OPT_CLOSE_ON_FREE, 0, fd);
		if (ctl->listener)
			return ctl;
		snprintf(err->msg, sizeof(err->msg), "control socket: out of memory");
		free(ctl);
		return NULL;
	}
	if (open_socket(ctl, err) < 0) {
		free(ctl);
		return NULL;
	}
	return ctl;
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	while (!LIST_EMPTY(&ctl->conns))
		conn_free(LIST_FIRST(&ctl->conns));
	evconnlistener_free(ctl->listener);
	if (ctl->created && unlink(ctl->path) < 0)
		log_debug("control: cannot remove %s: %s", ctl->path, strerror(errno));
	free(ctl);
}
