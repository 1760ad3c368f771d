/* rtnl.c - network interfaces over rtnetlink, with libmnl. See rtnl.h. */
#include "stubd/rtnl.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "stubd/log.h"

/* The kernel sizes dump batches to the reader's buffer, up to 32 KiB
 * (netlink_recvmsg); a larger message makes the buffer grow, up to this. */
#define RTNL_BUF_START (32 * 1024)
#define RTNL_BUF_MAX (1024 * 1024)
/* Room for a burst of changes (a container starting, a VPN coming up)
 * before the kernel drops messages and we must dump again. */
#define RTNL_RCVBUF (1024 * 1024)
/* The kernel answers a dump as we read it; waiting longer than this means
 * something is badly wrong. */
#define RTNL_DUMP_TIMEOUT_MS 5000

struct rtnl_watch {
	struct mnl_socket *nl;
	unsigned portid;       /* ours: the kernel's answers to our dumps carry it */
	struct event *ev;
	rtnl_link_fn fn;
	void *arg;

	uint8_t *buf;
	size_t buf_size;

	uint32_t seq;          /* of the last dump requested */
	bool dumping;          /* its NLMSG_DONE not yet read */
	bool dump_again;       /* interrupted, or messages lost: dump once more */
	int dump_err;          /* the kernel refused the dump: -errno */

	/* rtnl_watch_free() from the callback only marks the watch dying;
	 * whoever called the callback frees it when it is done with it. */
	unsigned busy;
	bool dying;
};

static void set_err(char *err, size_t err_size, const char *what, int e)
{
	if (err && err_size)
		snprintf(err, err_size, "rtnetlink: %s: %s", what, strerror(e));
}

static int link_attr(const struct nlattr *attr, void *data)
{
	const struct nlattr **name = data;
	if (mnl_attr_get_type(attr) == IFLA_IFNAME)
		*name = attr;
	return MNL_CB_OK;
}

static void on_link(struct rtnl_watch *w, const struct nlmsghdr *nlh)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *name_attr = NULL;

	if (mnl_nlmsg_get_payload_len(nlh) < sizeof(*ifi) || ifi->ifi_index <= 0)
		return;
	if (mnl_attr_parse(nlh, sizeof(*ifi), link_attr, &name_attr) < 0 || !name_attr)
		return;
	/* Trust no length: a name is NUL-terminated and fits an ifreq. */
	if (mnl_attr_validate(name_attr, MNL_TYPE_NUL_STRING) < 0)
		return;
	const char *name = mnl_attr_get_str(name_attr);
	size_t len = strlen(name);
	if (len == 0 || len >= IFNAMSIZ)
		return;
	w->fn(w->arg, (unsigned)ifi->ifi_index, name, ifi->ifi_flags,
	      nlh->nlmsg_type == RTM_DELLINK);
}

/* A dump's answers carry its sequence number and our port id; link
 * notifications may carry another requester's sequence, never our port. */
static bool dump_answer(const struct rtnl_watch *w, const struct nlmsghdr *nlh)
{
	return w->dumping && nlh->nlmsg_seq == w->seq && nlh->nlmsg_pid == w->portid;
}

/* One datagram from the kernel: dump answers and notifications mixed, in
 * the order the kernel queued them, which is the order things happened. */
static void on_datagram(struct rtnl_watch *w, size_t n)
{
	const struct nlmsghdr *nlh = (const struct nlmsghdr *)w->buf;
	int len = (int)n;

	for (; mnl_nlmsg_ok(nlh, len) && !w->dying; nlh = mnl_nlmsg_next(nlh, &len)) {
		bool ours = dump_answer(w, nlh);
		/* A link came or went while the kernel walked the list: what
		 * this dump says may miss one. */
		if (ours && (nlh->nlmsg_flags & NLM_F_DUMP_INTR))
			w->dump_again = true;
		switch (nlh->nlmsg_type) {
		case RTM_NEWLINK:
		case RTM_DELLINK:
			on_link(w, nlh);
			break;
		case NLMSG_DONE:
			if (!ours)
				break;
			w->dumping = false;
			/* A dump that failed half-way says why in its DONE. */
			if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int)) {
				int e = *(const int *)mnl_nlmsg_get_payload(nlh);
				if (e < 0)
					w->dump_err = e;
			}
			break;
		case NLMSG_ERROR:
			if (!ours)
				break;
			if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(struct nlmsgerr)) {
				const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
				if (e->error < 0) {
					w->dumping = false;
					w->dump_err = e->error;
				}
			}
			break;
		default:
			break;
		}
	}
}

/* Reads and handles one datagram. Returns 1, 0 when nothing is waiting,
 * -ENOBUFS when the kernel dropped messages for us, or another -errno. */
static int read_one(struct rtnl_watch *w)
{
	int fd = mnl_socket_get_fd(w->nl);
	struct sockaddr_nl from;
	struct iovec iov = { .iov_base = w->buf, .iov_len = 0 };
	struct msghdr msg = {
		.msg_name = &from,
		.msg_namelen = sizeof(from),
		.msg_iov = &iov,
		.msg_iovlen = 1,
	};

	/* Peek at the length first (MSG_TRUNC: the real one), so no message
	 * is ever cut short. */
	ssize_t n = recvmsg(fd, &msg, MSG_PEEK | MSG_TRUNC);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	if ((size_t)n > w->buf_size) {
		uint8_t *bigger = (size_t)n <= RTNL_BUF_MAX ? realloc(w->buf, (size_t)n) : NULL;
		if (!bigger) {
			recv(fd, NULL, 0, MSG_DONTWAIT); /* drop it, or we would read it forever */
			return -ENOMEM;
		}
		w->buf = bigger;
		w->buf_size = (size_t)n;
	}
	iov.iov_len = w->buf_size;
	msg.msg_namelen = sizeof(from);
	n = recvmsg(fd, &msg, 0);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	/* Only the kernel speaks for the kernel: anyone may send to our port. */
	if (msg.msg_namelen != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
		return 1;
	on_datagram(w, (size_t)n);
	return 1;
}

static int request_dump(struct rtnl_watch *w)
{
	uint8_t req[NLMSG_HDRLEN + NLMSG_ALIGN(sizeof(struct ifinfomsg))];
	memset(req, 0, sizeof(req));
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(req);
	nlh->nlmsg_type = RTM_GETLINK;
	nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
	if (++w->seq == 0) /* 0 is what notifications carry */
		w->seq = 1;
	nlh->nlmsg_seq = w->seq;
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	ifi->ifi_family = AF_UNSPEC;

	if (mnl_socket_sendto(w->nl, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	w->dumping = true;
	w->dump_err = 0;
	return 0;
}

/* Asks for every link and reads until the answer is complete, handling
 * the notifications that come in between; again while the kernel says
 * the answer may be incomplete. Returns 0 (also when the callback freed
 * the watch: w->dying) or -errno. */
static int dump_all(struct rtnl_watch *w)
{
	do {
		w->dump_again = false;
		int r = request_dump(w);
		if (r < 0)
			return r;
		while (w->dumping && !w->dying) {
			r = read_one(w);
			if (r == -ENOBUFS) {
				/* Notifications lost; the dump itself goes on. */
				w->dump_again = true;
				continue;
			}
			if (r < 0)
				return r;
			if (r > 0)
				continue;
			struct pollfd p = { .fd = mnl_socket_get_fd(w->nl), .events = POLLIN };
			r = poll(&p, 1, RTNL_DUMP_TIMEOUT_MS);
			if (r == 0)
				return -ETIMEDOUT;
			if (r < 0 && errno != EINTR)
				return -errno;
		}
		if (w->dying)
			return 0;
		if (w->dump_err < 0)
			return w->dump_err;
		if (w->dump_again)
			log_debug("rtnetlink: links changed during the dump, dumping again");
	} while (w->dump_again);
	return 0;
}

static void destroy(struct rtnl_watch *w)
{
	if (w->ev)
		event_free(w->ev);
	if (w->nl)
		mnl_socket_close(w->nl);
	free(w->buf);
	free(w);
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
	struct rtnl_watch *w = arg;

	w->busy++;
	while (!w->dying) {
		int r = read_one(w);
		if (r == 0)
			break;
		if (r == -ENOBUFS) {
			log_info("rtnetlink: the kernel dropped interface changes (receive "
				 "buffer full), reading every interface again");
			r = dump_all(w);
			if (r < 0) {
				log_warn("rtnetlink: dump: %s; interfaces may be out of date",
					 strerror(-r));
				break;
			}
			continue;
		}
		if (r < 0) {
			log_warn("rtnetlink: receive: %s", strerror(-r));
			break;
		}
	}
	w->busy--;
	if (w->dying && w->busy == 0)
		destroy(w);
}

struct rtnl_watch *rtnl_watch_new(struct event_base *base, rtnl_link_fn fn, void *arg,
				  char *err, size_t err_size)
{
	struct rtnl_watch *w = calloc(1, sizeof(*w));
	int fd, r, size = RTNL_RCVBUF;

	if (!w) {
		set_err(err, err_size, "allocate", ENOMEM);
		return NULL;
	}
	w->fn = fn;
	w->arg = arg;
	w->buf_size = RTNL_BUF_START;
	w->buf = malloc(w->buf_size);
	if (!w->buf) {
		set_err(err, err_size, "allocate", ENOMEM);
		goto fail;
	}

	/* Our own socket() rather than mnl_socket_open2(): the flags are
	 * ours to choose, and the tests can make it fail. */
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_ROUTE);
	if (fd < 0) {
		set_err(err, err_size, "socket", errno);
		goto fail;
	}
	/* Best effort: FORCE passes rmem_max when we may (CAP_NET_ADMIN);
	 * a smaller buffer only means re-dumping sooner. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	w->nl = mnl_socket_fdopen(fd);
	if (!w->nl) {
		set_err(err, err_size, "socket", errno);
		close(fd);
		goto fail;
	}
	/* Subscribed before the dump: a change that happens while we dump is
	 * queued behind it, not lost between dump and watch. */
	if (mnl_socket_bind(w->nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		set_err(err, err_size, "bind", errno);
		goto fail;
	}
	w->portid = mnl_socket_get_portid(w->nl);

	w->busy++;
	r = dump_all(w);
	w->busy--;
	if (r < 0) {
		set_err(err, err_size, "dump links", -r);
		goto fail;
	}

	w->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_readable, w);
	if (!w->ev || event_add(w->ev, NULL) < 0) {
		set_err(err, err_size, "event", ENOMEM);
		goto fail;
	}
	return w;

fail:
	destroy(w);
	return NULL;
}

void rtnl_watch_free(struct rtnl_watch *w)
{
	if (!w)
		return;
	if (w->busy) {
		/* From the callback: on_readable still holds w, and frees it. */
		w->dying = true;
		if (w->ev)
			event_del(w->ev);
		return;
	}
	destroy(w);
}
