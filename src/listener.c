/* listener.c - UDP and TCP listeners and client connections. See listener.h. */
#include "stubd/listener.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stubd/log.h"
#include "stubd/wire.h"

/* One per listen address, or one per socket handed over by systemd. */
#define LISTENER_MAX (2 * SERVICE_MAX_FDS)

/* Datagrams read by one recvmmsg(). */
#define UDP_BATCH 32
/* Batches read per wake-up at most, before other events get a turn, and
 * the smallest batch after which another read is worth trying at once
 * (see on_udp_readable). */
#define UDP_ROUNDS 8
#define UDP_AGAIN_MIN 2
/* A query datagram larger than this is not a query a stub needs to read. */
#define UDP_QUERY_MAX 4096
#define UDP_REPLY_MAX 4096
/* A client that does not read its answers is not given more: stop reading
 * its questions while this much output waits. */
#define TCP_OUTPUT_HIGH (256 * 1024)

struct listener {
	struct listener_set *set;
	struct netaddr addr;
	int udp_fd;
	bool udp_shared;        /* we bound udp_fd with SO_REUSEPORT */
	struct event *udp_event;
	struct evconnlistener *tcp;
};

struct tcp_conn {
	struct listener_set *set;
	bool refused;           /* a client we do not serve: REFUSED to all */
	LIST_ENTRY(tcp_conn) link;
	struct bufferevent *bev;
	struct netaddr peer;
	unsigned inflight;      /* questions waiting for the pipeline */
	bool client_done;       /* EOF seen: close once the answers are out */
};

struct listener_set {
	struct event_base *base;
	struct pipeline *pipeline;
	size_t edns_size;
	struct timeval tcp_idle;
	unsigned tcp_max_clients;
	unsigned tcp_max_queries;
	struct netaddr_prefix allow[CONFIG_MAX_ADDRS];
	size_t n_allow;

	struct listener listeners[LISTENER_MAX];
	size_t n_listeners;
	LIST_HEAD(, tcp_conn) conns;
	unsigned n_conns;
	struct listener_stats stats;

	/* One event loop handles one packet at a time, so one buffer each
	 * way serves every socket: no allocation per question. */
	uint8_t rbuf[WIRE_MSG_MAX];
	uint8_t wbuf[2 + WIRE_MSG_MAX]; /* room for the TCP length prefix */

	/* UDP is read and answered in batches, one recvmmsg() and one
	 * sendmmsg() per wake-up: two system calls per batch instead of two
	 * per question. A UDP reply never exceeds our EDNS size (at most 4096). */
	uint8_t udp_in[UDP_BATCH][UDP_QUERY_MAX];
	uint8_t udp_out[UDP_BATCH][UDP_REPLY_MAX];
	struct netaddr udp_from[UDP_BATCH];
	struct mmsghdr udp_msgs[UDP_BATCH];   /* built once: they point at the above */
	struct iovec udp_iov[UDP_BATCH];

	/* Answers that come later (from upstream) are held until the loop
	 * has run this wake-up's callbacks, then sent by one sendmmsg(): a
	 * read of upstream answers (a recvmmsg() batch, or a TLS stream's
	 * records) sends them together. All of a batch leave one socket. */
	uint8_t late_out[UDP_BATCH][UDP_REPLY_MAX];
	struct netaddr late_to[UDP_BATCH];
	struct mmsghdr late_msgs[UDP_BATCH]; /* built once: they point at the above */
	struct iovec late_iov[UDP_BATCH];
	struct listener *late_from;
	unsigned n_late;
	struct event late_flush;     /* made active when the first one is held */
};

/* No open resolver by accident: loopback clients, and those in an
 * 'allow' block, are served; everyone else is REFUSED. */
static bool client_allowed(const struct listener_set *set, const struct netaddr *from)
{
	if (netaddr_is_loopback(from))
		return true;
	for (size_t i = 0; i < set->n_allow; i++)
		if (netaddr_in_prefix(from, &set->allow[i]))
			return true;
	return false;
}

/* Checks the packet and asks the pipeline, or refuses; the reply (if any)
 * is written to out. *pending tells that client->reply will be called
 * later instead. Shared by UDP and TCP. */
static size_t handle_query(struct listener_set *set, const uint8_t *pkt, size_t n,
			   bool refused, const struct pipeline_client *client, uint8_t *out,
			   size_t cap, bool *pending)
{
	*pending = false;
	struct wire_query q;
	unsigned rcode;
	struct pipeline_origin origin;

	switch (wire_parse_query(pkt, n, &q, &rcode)) {
	case WIRE_VERDICT_DROP:
		set->stats.dropped++;
		return 0;
	case WIRE_VERDICT_ANSWER:
		set->stats.rejected++;
		return pipeline_reject(set->pipeline, &q, rcode, out, cap);
	case WIRE_VERDICT_RESOLVE:
	default:
		break;
	}
	if (refused) {
		set->stats.refused++;
		return pipeline_reject(set->pipeline, &q, WIRE_RCODE_REFUSED, out, cap);
	}
	struct pipeline_client c = *client;
	if (c.reply_limit == 0)
		c.reply_limit = wire_udp_limit(&q, set->edns_size);
	size_t len = pipeline_submit(set->pipeline, &q, &c, out, cap, &origin);
	*pending = len == 0;
	return len;
}

/* ---- UDP ---------------------------------------------------------- */

/* Sends n prepared datagrams from fd. A full socket buffer drops
 * replies; clients retry, as after any lost datagram. */
static void udp_send_all(struct listener_set *set, int fd, struct mmsghdr *msgs, unsigned n)
{
	for (unsigned sent = 0; sent < n;) {
		int r = sendmmsg(fd, msgs + sent, n - sent, MSG_DONTWAIT);
		if (r <= 0) {
			set->stats.send_errors += n - sent;
			return;
		}
		sent += (unsigned)r;
	}
}

static void late_flush(struct listener_set *set)
{
	unsigned n = set->n_late;
	set->n_late = 0;
	if (n > 0)
		udp_send_all(set, set->late_from->udp_fd, set->late_msgs, n);
}

static void on_late_flush(evutil_socket_t fd, short what, void *arg)
{
	late_flush(arg);
}

static void udp_deliver(const struct pipeline_client *client, const uint8_t *reply,
			size_t len, const struct pipeline_origin *origin)
{
	struct listener *l = client->owner;
	struct listener_set *set = l->set;
	if (len > UDP_REPLY_MAX) { /* never: edns-buffer-size is at most 4096 */
		set->stats.send_errors++;
		return;
	}
	if (len >= WIRE_HEADER_LEN && (wire_get16(reply + 2) & WIRE_FLAG_TC))
		set->stats.truncated++;
	if (set->n_late > 0 && set->late_from != l)
		late_flush(set);
	unsigned i = set->n_late++;
	set->late_from = l;
	memcpy(set->late_out[i], reply, len);
	set->late_to[i] = client->addr;
	set->late_iov[i].iov_len = len;
	set->late_msgs[i].msg_hdr.msg_namelen = client->addr.len;
	if (set->n_late == UDP_BATCH)
		late_flush(set);
	else if (i == 0)
		event_active(&set->late_flush, EV_TIMEOUT, 1);
}

/* One datagram of a batch: the reply, if one is due now, is left in
 * set->udp_out[i]; returns its length or 0. */
static size_t udp_handle(struct listener *l, size_t i, size_t n)
{
	struct listener_set *set = l->set;
	const struct netaddr *from = &set->udp_from[i];
	struct pipeline_client client = {
		.reply = udp_deliver,
		.owner = l,
		.addr = *from,
		.reply_limit = 0, /* the client's EDNS size: set once the query is read */
	};
	bool pending;
	size_t len = handle_query(set, set->udp_in[i], n, !client_allowed(set, from), &client,
				  set->udp_out[i], sizeof(set->udp_out[i]), &pending);
	if (len >= WIRE_HEADER_LEN && (wire_get16(set->udp_out[i] + 2) & WIRE_FLAG_TC))
		set->stats.truncated++;
	return len;
}

/* One recvmmsg() and one sendmmsg(): returns how many datagrams it read. */
static int udp_serve_batch(struct listener *l, int fd)
{
	struct listener_set *set = l->set;
	struct mmsghdr *in = set->udp_msgs, out[UDP_BATCH];
	struct iovec out_iov[UDP_BATCH];

	int got = recvmmsg(fd, in, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (got <= 0)
		return 0; /* EAGAIN, or an ICMP error for an earlier reply */

	unsigned n_out = 0;
	for (int i = 0; i < got; i++) {
		set->stats.udp_queries++;
		set->udp_from[i].len = in[i].msg_hdr.msg_namelen;
		/* The kernel wrote the address length; make room again for the
		 * next batch (only the slots it used changed). */
		in[i].msg_hdr.msg_namelen = sizeof(set->udp_from[i].ss);
		if (in[i].msg_hdr.msg_flags & MSG_TRUNC) {
			set->stats.dropped++;
			continue;
		}
		size_t len = udp_handle(l, (size_t)i, in[i].msg_len);
		if (len == 0)
			continue;
		out_iov[n_out] = (struct iovec){ .iov_base = set->udp_out[i], .iov_len = len };
		out[n_out].msg_hdr = (struct msghdr){
			.msg_name = &set->udp_from[i].ss,
			.msg_namelen = set->udp_from[i].len,
			.msg_iov = &out_iov[n_out],
			.msg_iovlen = 1,
		};
		n_out++;
	}
	udp_send_all(set, fd, out, n_out);
	return got;
}

static void on_udp_readable(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	/* Under a stream of queries more have come in while a batch was
	 * answered: reading again at once saves the epoll_wait() that would
	 * only say so (under dnsperf, 94% of such reads found datagrams). A
	 * lone datagram is the mark of one client waiting for its answer, and
	 * another read would most likely find nothing. */
	for (int round = 0; round < UDP_ROUNDS; round++)
		if (udp_serve_batch(l, fd) < UDP_AGAIN_MIN)
			return;
}

/* ---- TCP (RFC 7766) ------------------------------------------------ */

static void conn_free(struct tcp_conn *conn)
{
	struct listener_set *set = conn->set;
	if (conn->inflight > 0)
		pipeline_cancel_owner(set->pipeline, conn);
	bufferevent_free(conn->bev);
	LIST_REMOVE(conn, link);
	set->n_conns--;
	free(conn);
}

static bool conn_finished(const struct tcp_conn *conn)
{
	return conn->client_done && conn->inflight == 0 &&
	       evbuffer_get_length(bufferevent_get_output(conn->bev)) == 0;
}

/* Reading stops while the connection has its fill of questions in flight
 * or of answers unread, and starts again when that clears. */
static bool conn_may_read(const struct tcp_conn *conn)
{
	return !conn->client_done && conn->inflight < conn->set->tcp_max_queries &&
	       evbuffer_get_length(bufferevent_get_output(conn->bev)) < TCP_OUTPUT_HIGH;
}

static void conn_send(struct tcp_conn *conn, const uint8_t *reply, size_t len)
{
	uint8_t prefix[2];
	wire_put16(prefix, (uint16_t)len);
	bufferevent_write(conn->bev, prefix, 2);
	bufferevent_write(conn->bev, reply, len);
	if (!conn_may_read(conn))
		bufferevent_disable(conn->bev, EV_READ);
}

static void conn_resume(struct tcp_conn *conn)
{
	if (!conn_may_read(conn) || (bufferevent_get_enabled(conn->bev) & EV_READ))
		return;
	bufferevent_enable(conn->bev, EV_READ);
	/* Questions may already be buffered; read them from the loop, not
	 * from inside whatever callback got us here. */
	bufferevent_trigger(conn->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

static void tcp_deliver(const struct pipeline_client *client, const uint8_t *reply,
			size_t len, const struct pipeline_origin *origin)
{
	struct tcp_conn *conn = client->owner;
	conn->inflight--;
	conn_send(conn, reply, len);
	conn_resume(conn);
}

static void tcp_handle(struct tcp_conn *conn, size_t n)
{
	struct listener_set *set = conn->set;
	struct pipeline_client client = {
		.reply = tcp_deliver,
		.owner = conn,
		.addr = conn->peer,
		.reply_limit = WIRE_MSG_MAX,
	};
	bool pending;
	size_t len = handle_query(set, set->rbuf, n, conn->refused, &client, set->wbuf + 2,
				  sizeof(set->wbuf) - 2, &pending);
	if (pending)
		conn->inflight++;
	if (len > 0)
		conn_send(conn, set->wbuf + 2, len);
}

static void on_conn_read(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *conn = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	while (conn_may_read(conn) && evbuffer_get_length(in) >= 2) {
		uint8_t prefix[2];
		evbuffer_copyout(in, prefix, 2);
		size_t msg_len = wire_get16(prefix);
		if (evbuffer_get_length(in) < 2 + msg_len)
			return;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, conn->set->rbuf, msg_len);
		conn->set->stats.tcp_queries++;
		tcp_handle(conn, msg_len);
	}
	if (!conn_may_read(conn))
		bufferevent_disable(bev, EV_READ);
}

static void on_conn_written(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *conn = arg;
	if (conn_finished(conn)) {
		conn_free(conn);
		return;
	}
	conn_resume(conn);
}

static void on_conn_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *conn = arg;

	if (what & BEV_EVENT_EOF) {
		/* The client may half-close after its last question (RFC 7766
		 * §6.2.4 allows either side to close): answer what it asked. */
		conn->client_done = true;
		if (conn_finished(conn))
			conn_free(conn);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && (what & BEV_EVENT_READING) && conn->inflight > 0) {
		/* Quiet because it is waiting for us, not idle. */
		bufferevent_enable(bev, EV_READ);
		return;
	}
	if (what & BEV_EVENT_TIMEOUT)
		conn->set->stats.tcp_idle_closed++;
	conn_free(conn);
}

static void on_tcp_accept(struct evconnlistener *evl, evutil_socket_t fd,
			  struct sockaddr *addr, int addr_len, void *arg)
{
	struct listener *l = arg;
	struct listener_set *set = l->set;

	if (set->n_conns >= set->tcp_max_clients) {
		set->stats.tcp_refused++;
		close(fd);
		return;
	}
	struct tcp_conn *conn = calloc(1, sizeof(*conn));
	if (!conn) {
		close(fd);
		return;
	}
	conn->set = set;
	memcpy(&conn->peer.ss, addr, (size_t)addr_len);
	conn->peer.len = (socklen_t)addr_len;
	conn->refused = !client_allowed(set, &conn->peer);
	conn->bev = bufferevent_socket_new(set->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!conn->bev) {
		close(fd);
		free(conn);
		return;
	}
	bufferevent_setcb(conn->bev, on_conn_read, on_conn_written, on_conn_event, conn);
	/* RFC 7766 §6.2.3: idle connections are closed; a client that stops
	 * reading its answers is treated the same way. */
	bufferevent_set_timeouts(conn->bev, &set->tcp_idle, &set->tcp_idle);
	bufferevent_enable(conn->bev, EV_READ | EV_WRITE);
	LIST_INSERT_HEAD(&set->conns, conn, link);
	set->n_conns++;
	set->stats.tcp_connections++;
}

static void on_accept_error(struct evconnlistener *evl, void *arg)
{
	int err = EVUTIL_SOCKET_ERROR();
	log_warn("accepting a TCP connection failed: %s", strerror(err));
}

/* ---- sockets ------------------------------------------------------- */

static void bind_error(const struct netaddr *addr, const char *proto, int err,
		       struct config_error *out)
{
	char name[NETADDR_STRLEN], hint[200] = "";

	netaddr_str(addr, name, sizeof(name));
	if (err == EADDRINUSE)
		snprintf(hint, sizeof(hint),
			 "; another program holds it: find it with ss -%slpn 'sport = :%u', "
			 "stop it, or give stubd another address with -l",
			 strcmp(proto, "udp") == 0 ? "u" : "t", netaddr_port(addr));
	else if (err == EACCES)
		snprintf(hint, sizeof(hint), "; ports below 1024 need root or CAP_NET_BIND_SERVICE "
			 "(or use -l with a port above 1023)");
	else if (err == EADDRNOTAVAIL)
		snprintf(hint, sizeof(hint),
			 "; no interface on this machine has that address (see ip addr)");
	snprintf(out->msg, sizeof(out->msg), "cannot listen on %s (%s): %s%s", name, proto,
		 strerror(err), hint);
}

static int new_socket(const struct netaddr *addr, int type)
{
	int fd = socket(netaddr_family(addr), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	int one = 1;
	if (type == SOCK_STREAM) /* restart without waiting out TIME_WAIT */
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (netaddr_family(addr) == AF_INET6) /* [::] must not also take IPv4 */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	return fd;
}

/* SO_REUSEPORT lets any socket of the same user join the group, another
 * stubd started by mistake included, which would then take a share of the
 * queries. Binding once without it first fails, as with one worker, when
 * anyone holds the address. Returns 0 or an errno. */
static int probe_address_free(const struct netaddr *addr, int type)
{
	int fd = new_socket(addr, type);
	if (fd < 0)
		return errno;
	int rc = bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ? errno : 0;
	close(fd);
	return rc;
}

/* share: alone, or one of the workers that bind the same address with
 * SO_REUSEPORT (the kernel then spreads clients across their sockets). */
static int open_socket(const struct netaddr *addr, int type, enum listener_share share,
		       struct config_error *err)
{
	const char *proto = type == SOCK_DGRAM ? "udp" : "tcp";
	int probe = share == LISTENER_GROUP_FIRST ? probe_address_free(addr, type) : 0;
	if (probe != 0) {
		bind_error(addr, proto, probe, err);
		return -1;
	}
	int fd = new_socket(addr, type);
	if (fd < 0) {
		bind_error(addr, proto, errno, err);
		return -1;
	}
	int one = 1;
	if (share != LISTENER_ALONE &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0) {
		bind_error(addr, proto, errno, err);
		close(fd);
		return -1;
	}
	if (bind(fd, (const struct sockaddr *)&addr->ss, addr->len) < 0 ||
	    (type == SOCK_STREAM && listen(fd, 128) < 0)) {
		bind_error(addr, proto, errno, err);
		close(fd);
		return -1;
	}
	return fd;
}

/* Both ways of getting a socket (binding it, or socket activation) end
 * here: the listener takes fd and serves on it. */
static int serve_udp(struct listener *l, int fd, struct config_error *err)
{
	l->udp_fd = fd;
	l->udp_event = event_new(l->set->base, fd, EV_READ | EV_PERSIST, on_udp_readable, l);
	if (l->udp_event && event_add(l->udp_event, NULL) == 0)
		return 0;
	snprintf(err->msg, sizeof(err->msg), "cannot listen: out of memory");
	return -1;
}

static int serve_tcp(struct listener *l, int fd, struct config_error *err)
{
	l->tcp = evconnlistener_new(l->set->base, on_tcp_accept, l, LEV_OPT_CLOSE_ON_FREE, 0, fd);
	if (!l->tcp) {
		close(fd);
		snprintf(err->msg, sizeof(err->msg), "cannot listen: out of memory");
		return -1;
	}
	evconnlistener_set_error_cb(l->tcp, on_accept_error);
	return 0;
}

static int listener_open(struct listener_set *set, struct listener *l,
			 const struct netaddr *addr, enum listener_share share,
			 struct config_error *err)
{
	l->set = set;
	l->addr = *addr;
	int udp_fd = open_socket(addr, SOCK_DGRAM, share, err);
	if (udp_fd < 0 || serve_udp(l, udp_fd, err) < 0)
		return -1;
	l->udp_shared = share != LISTENER_ALONE;
	int tcp_fd = open_socket(addr, SOCK_STREAM, share, err);
	if (tcp_fd < 0)
		return -1;
	return serve_tcp(l, tcp_fd, err);
}

/* A socket from socket activation: one transport per fd, address as
 * systemd bound it. */
static int listener_adopt(struct listener_set *set, struct listener *l, int fd, bool udp,
			  struct config_error *err)
{
	l->set = set;
	l->udp_fd = -1; /* a TCP-only listener */
	l->addr.len = sizeof(l->addr.ss);
	if (getsockname(fd, (struct sockaddr *)&l->addr.ss, &l->addr.len) < 0 ||
	    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		snprintf(err->msg, sizeof(err->msg), "socket activation: fd %d: %s", fd,
			 strerror(errno));
		return -1;
	}
	return udp ? serve_udp(l, fd, err) : serve_tcp(l, fd, err);
}

static int adopt_all(struct listener_set *set, const struct service_fds *fds,
		     struct config_error *err)
{
	for (size_t i = 0; i < fds->n_udp + fds->n_tcp; i++) {
		bool udp = i < fds->n_udp;
		int fd = udp ? fds->udp[i] : fds->tcp[i - fds->n_udp];
		if (set->n_listeners >= LISTENER_MAX) {
			snprintf(err->msg, sizeof(err->msg), "socket activation passed more than %d "
				 "sockets", LISTENER_MAX);
			return -1;
		}
		struct listener *l = &set->listeners[set->n_listeners++];
		if (listener_adopt(set, l, fd, udp, err) < 0)
			return -1;
	}
	return 0;
}

static void listener_close(struct listener *l)
{
	if (l->udp_event)
		event_free(l->udp_event);
	if (l->udp_fd >= 0)
		close(l->udp_fd);
	if (l->tcp)
		evconnlistener_free(l->tcp);
}

/* The receive side of the UDP batch never changes shape. */
static void prepare_udp_batch(struct listener_set *set)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		set->udp_iov[i] = (struct iovec){ .iov_base = set->udp_in[i], .iov_len = UDP_QUERY_MAX };
		set->udp_msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &set->udp_from[i].ss,
			.msg_namelen = sizeof(set->udp_from[i].ss),
			.msg_iov = &set->udp_iov[i],
			.msg_iovlen = 1,
		};
		set->late_iov[i] = (struct iovec){ .iov_base = set->late_out[i] };
		set->late_msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &set->late_to[i].ss,
			.msg_iov = &set->late_iov[i],
			.msg_iovlen = 1,
		};
	}
}

void listener_set_configure(struct listener_set *set, const struct config *cfg)
{
	set->edns_size = cfg->edns_buffer_size;
	set->tcp_idle.tv_sec = cfg->tcp_idle_timeout_ms / 1000;
	set->tcp_idle.tv_usec = (cfg->tcp_idle_timeout_ms % 1000) * 1000;
	set->tcp_max_clients = cfg->tcp_max_clients;
	set->tcp_max_queries = cfg->tcp_max_queries;
	set->n_allow = cfg->n_allow;
	memcpy(set->allow, cfg->allow, sizeof(set->allow));
}

struct listener_set *listener_set_new(struct event_base *base, struct pipeline *p,
				      const struct config *cfg, const struct service_fds *fds,
				      enum listener_share share, struct config_error *err)
{
	struct listener_set *set = calloc(1, sizeof(*set));
	if (!set) {
		snprintf(err->msg, sizeof(err->msg), "cannot listen: out of memory");
		return NULL;
	}
	set->base = base;
	set->pipeline = p;
	listener_set_configure(set, cfg);
	prepare_udp_batch(set);
	event_assign(&set->late_flush, base, -1, 0, on_late_flush, set);
	LIST_INIT(&set->conns);

	if (fds && fds->n_udp + fds->n_tcp > 0) {
		if (adopt_all(set, fds, err) < 0) {
			listener_set_free(set);
			return NULL;
		}
		return set;
	}
	for (size_t i = 0; i < cfg->n_listen; i++) {
		set->listeners[i].udp_fd = -1;
		set->n_listeners++;
		if (listener_open(set, &set->listeners[i], &cfg->listen[i], share, err) < 0) {
			listener_set_free(set);
			return NULL;
		}
	}
	return set;
}

void listener_set_free(struct listener_set *set)
{
	if (!set)
		return;
	while (!LIST_EMPTY(&set->conns))
		conn_free(LIST_FIRST(&set->conns));
	late_flush(set);
	event_del(&set->late_flush);
	for (size_t i = 0; i < set->n_listeners; i++)
		listener_close(&set->listeners[i]);
	free(set);
}

void listener_set_describe(const struct listener_set *set, char *buf, size_t size)
{
	size_t pos = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < set->n_listeners && pos < size; i++) {
		char name[NETADDR_STRLEN];
		netaddr_str(&set->listeners[i].addr, name, sizeof(name));
		const struct listener *l = &set->listeners[i];
		const char *what = l->udp_fd >= 0 && l->tcp ? "" : l->tcp ? " (tcp)" : " (udp)";
		int n = snprintf(buf + pos, size - pos, "%s%s%s", i ? ", " : "", name, what);
		if (n < 0)
			break;
		pos += (size_t)n;
	}
}

const struct listener_stats *listener_set_stats(const struct listener_set *set)
{
	return &set->stats;
}

void listener_set_reset_stats(struct listener_set *set)
{
	memset(&set->stats, 0, sizeof(set->stats));
}

unsigned listener_set_tcp_clients(const struct listener_set *set)
{
	return set->n_conns;
}

/* A classic BPF program for the SO_REUSEPORT group: it returns the index
 * of the socket to deliver to, and an index past the group's end makes
 * the kernel fall back to its hash. The group's sockets are indexed in
 * the order they were bound, which is worker order. */
static unsigned steer_program(struct sock_filter *code, const int *cpu, unsigned n)
{
	unsigned k = 0;
	code[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, SKF_AD_OFF + SKF_AD_CPU);
	for (unsigned i = 0; i < n; i++) {
		/* if (cpu == cpu[i]) return i; */
		code[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)cpu[i], 0, 1);
		code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, i);
	}
	code[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, UINT32_MAX);
	return k;
}

int listener_set_steer_by_cpu(struct listener_set *set, const int *cpu, unsigned n)
{
	struct sock_filter code[2 + 2 * LISTENER_STEER_MAX];
	if (n == 0 || n > LISTENER_STEER_MAX)
		return -EINVAL;
	struct sock_fprog prog = { .len = (unsigned short)steer_program(code, cpu, n),
				   .filter = code };
	int steered = 0;
	for (size_t i = 0; i < set->n_listeners; i++) {
		const struct listener *l = &set->listeners[i];
		if (!l->udp_shared)
			continue; /* socket activation: one socket for all workers */
		/* Attached to one socket, the program serves its whole group. */
		if (setsockopt(l->udp_fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog,
			       sizeof(prog)) < 0)
			return -errno;
		steered++;
	}
	return steered;
}

size_t listener_set_addrs(const struct listener_set *set, struct netaddr *out, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < set->n_listeners && n < max; i++)
		out[n++] = set->listeners[i].addr;
	return n;
}
