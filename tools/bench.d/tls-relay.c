/* tls-relay.c - tools/bench's floor for a forwarder over DNS over TLS.
 *
 * Relays every UDP query to one upstream and its answer back, doing the
 * least a forwarder can: the query's ID is swapped for one of its own and
 * back, nothing is parsed, checked or cached. It runs on the stack stubd
 * must use (libevent, its OpenSSL bufferevents, one TLS connection with
 * TCP_NODELAY, the certificate verified at the handshake), reads clients
 * with recvmmsg() and answers with one sendmmsg() per read of upstream
 * answers. So the CPU it uses per query is the floor for any forwarder on
 * this stack against the same upstream; with --udp, the same over plain
 * UDP (one socket, recvmmsg()).
 *
 *   tls-relay ADDR PORT UP_ADDR UP_PORT NAME CA_FILE   (over TLS)
 *   tls-relay ADDR PORT UP_ADDR UP_PORT --udp          (over UDP)
 *
 * IPv4 only; runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/ssl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64
#define MSG_MAX 4096

struct slot {
	struct sockaddr_in client;
	uint8_t id[2];
	int used;
};

struct relay {
	struct event_base *base;
	int fd;                      /* clients */
	int up_fd;                   /* --udp: the upstream socket */
	struct sockaddr_in up;
	struct bufferevent *tls;     /* else: the TLS connection */
	SSL_CTX *ctx;
	const char *name;
	uint16_t next_id;
	struct slot slots[65536];

	uint8_t in[BATCH][MSG_MAX];
	struct sockaddr_in from[BATCH];
	struct iovec in_iov[BATCH];
	struct mmsghdr in_msgs[BATCH];

	uint8_t out[BATCH][MSG_MAX];
	struct sockaddr_in to[BATCH];
	struct iovec out_iov[BATCH];
	struct mmsghdr out_msgs[BATCH];
	unsigned n_out;
};

static void die(const char *what)
{
	fprintf(stderr, "tls-relay: %s\n", what);
	exit(1);
}

static void flush_answers(struct relay *r)
{
	for (unsigned sent = 0; sent < r->n_out;) {
		int n = sendmmsg(r->fd, r->out_msgs + sent, r->n_out - sent, MSG_DONTWAIT);
		if (n <= 0)
			break;
		sent += (unsigned)n;
	}
	r->n_out = 0;
}

/* An upstream answer: back to its client under the client's ID. */
static void answer(struct relay *r, const uint8_t *msg, size_t len)
{
	if (len < 12 || len > MSG_MAX)
		return;
	struct slot *s = &r->slots[(msg[0] << 8) | msg[1]];
	if (!s->used)
		return;
	s->used = 0;
	unsigned i = r->n_out++;
	memcpy(r->out[i], msg, len);
	memcpy(r->out[i], s->id, 2);
	r->to[i] = s->client;
	r->out_iov[i].iov_len = len;
	if (r->n_out == BATCH)
		flush_answers(r);
}

static void on_tls_read(struct bufferevent *bev, void *arg)
{
	struct relay *r = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint8_t prefix[2];
	while (evbuffer_copyout(in, prefix, 2) == 2) {
		size_t len = ((size_t)prefix[0] << 8) | prefix[1];
		if (evbuffer_get_length(in) < 2 + len)
			break;
		uint8_t *msg = evbuffer_pullup(in, (ssize_t)(2 + len));
		answer(r, msg + 2, len);
		evbuffer_drain(in, 2 + len);
	}
	flush_answers(r);
}

/* The front closes a connection idle between cells: the next query
 * opens another (those in flight on it, if any, are lost). */
static void on_tls_event(struct bufferevent *bev, short what, void *arg)
{
	struct relay *r = arg;
	if (!(what & (BEV_EVENT_ERROR | BEV_EVENT_EOF)))
		return;
	bufferevent_free(bev);
	r->tls = NULL;
}

static void on_up_udp(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct relay *r = arg;
	int got = recvmmsg(fd, r->in_msgs, BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < got; i++) {
		answer(r, r->in[i], r->in_msgs[i].msg_len);
		r->in_msgs[i].msg_hdr.msg_namelen = sizeof(r->from[i]);
	}
	flush_answers(r);
}

static void tls_connect(struct relay *r);

/* A client's query: to the upstream under an ID of ours. */
static void ask(struct relay *r, uint8_t *msg, size_t len, const struct sockaddr_in *client)
{
	if (len < 12)
		return;
	uint16_t id = r->next_id++;
	struct slot *s = &r->slots[id];
	s->used = 1;
	s->client = *client;
	memcpy(s->id, msg, 2);
	msg[0] = (uint8_t)(id >> 8);
	msg[1] = (uint8_t)id;
	if (!r->ctx) {
		(void)send(r->up_fd, msg, len, MSG_DONTWAIT);
		return;
	}
	if (!r->tls)
		tls_connect(r);
	uint8_t prefix[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	bufferevent_write(r->tls, prefix, 2);
	bufferevent_write(r->tls, msg, len);
}

static void on_client(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct relay *r = arg;
	int got = recvmmsg(fd, r->in_msgs, BATCH, MSG_DONTWAIT, NULL);
	for (int i = 0; i < got; i++) {
		ask(r, r->in[i], r->in_msgs[i].msg_len, &r->from[i]);
		r->in_msgs[i].msg_hdr.msg_namelen = sizeof(r->from[i]);
	}
}

static struct sockaddr_in addr_of(const char *ip, const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(port)) };
	if (inet_pton(AF_INET, ip, &sa.sin_addr) != 1)
		die("bad IPv4 address");
	return sa;
}

static void tls_connect(struct relay *r)
{
	SSL *ssl = SSL_new(r->ctx);
	if (!ssl || SSL_set1_host(ssl, r->name) != 1 || SSL_set_tlsext_host_name(ssl, r->name) != 1)
		die("cannot set up TLS");
	r->tls = bufferevent_openssl_socket_new(r->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!r->tls)
		die("cannot make the TLS bufferevent");
	bufferevent_openssl_set_allow_dirty_shutdown(r->tls, 1);
	bufferevent_setcb(r->tls, on_tls_read, NULL, on_tls_event, r);
	bufferevent_enable(r->tls, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(r->tls, (struct sockaddr *)&r->up, sizeof(r->up)) < 0)
		die("cannot connect");
	int one = 1;
	setsockopt(bufferevent_getfd(r->tls), IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void tls_open(struct relay *r, const char *name, const char *ca_file)
{
	r->ctx = SSL_CTX_new(TLS_client_method());
	if (!r->ctx || SSL_CTX_load_verify_locations(r->ctx, ca_file, NULL) != 1)
		die("cannot load the CA file");
	SSL_CTX_set_verify(r->ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_min_proto_version(r->ctx, TLS1_2_VERSION);
	r->name = name;
	tls_connect(r);
}

int main(int argc, char **argv)
{
	if (argc != 7 && !(argc == 6 && strcmp(argv[5], "--udp") == 0)) {
		fprintf(stderr, "usage: tls-relay ADDR PORT UP_ADDR UP_PORT (NAME CA_FILE | --udp)\n");
		return 2;
	}
	struct relay *r = calloc(1, sizeof(*r));
	if (!r)
		die("out of memory");
	r->base = event_base_new();
	r->up = addr_of(argv[3], argv[4]);
	struct sockaddr_in sa = addr_of(argv[1], argv[2]);
	int rcvbuf = 4 << 20;
	r->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
	setsockopt(r->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (r->fd < 0 || bind(r->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot bind");
	for (int i = 0; i < BATCH; i++) {
		r->in_iov[i] = (struct iovec){ .iov_base = r->in[i], .iov_len = MSG_MAX };
		r->in_msgs[i].msg_hdr = (struct msghdr){ .msg_name = &r->from[i],
			.msg_namelen = sizeof(r->from[i]), .msg_iov = &r->in_iov[i], .msg_iovlen = 1 };
		r->out_iov[i] = (struct iovec){ .iov_base = r->out[i] };
		r->out_msgs[i].msg_hdr = (struct msghdr){ .msg_name = &r->to[i],
			.msg_namelen = sizeof(r->to[i]), .msg_iov = &r->out_iov[i], .msg_iovlen = 1 };
	}
	if (argc == 6) {
		r->up_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);
		setsockopt(r->up_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
		if (r->up_fd < 0 || connect(r->up_fd, (struct sockaddr *)&r->up, sizeof(r->up)) < 0)
			die("cannot connect");
		event_add(event_new(r->base, r->up_fd, EV_READ | EV_PERSIST, on_up_udp, r), NULL);
	} else {
		tls_open(r, argv[5], argv[6]);
	}
	event_add(event_new(r->base, r->fd, EV_READ | EV_PERSIST, on_client, r), NULL);
	event_base_dispatch(r->base);
	return 0;
}
