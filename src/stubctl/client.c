/* client.c - stubctl's side of one control conversation: connect, send the
 * request line, relay the reply. See client.h.
 *
 * The 15 s budget counts the time spent waiting for the daemon (connect,
 * send, poll for the reply), not the time spent writing our own output: a
 * slow pager reading `stubctl dump-cache` must not turn into a timeout.
 */
#include "client.h"

#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "stubd/config.h"
#include "stubd/clock.h"
#include "stubd/control_proto.h"

/* "STUBCTL1 N\n" is 11 bytes; a first line longer than this is not stubd. */
#define HEADER_MAX 32

/* One conversation; lives on client_run's stack. */
struct conv {
	const struct client_call *call; /* program name and hints, for messages */
	const char *path;  /* the socket, for messages */
	int fd;
	int budget_ms;     /* waiting time left, never below 0 */
};

static int64_t now_ms(void)
{
	return (int64_t)clock_mono_ms();
}

/* Takes the time waited since start off the budget. */
static void spend(struct conv *cv, int64_t start)
{
	int64_t spent = now_ms() - start;
	cv->budget_ms = spent >= cv->budget_ms ? 0 : cv->budget_ms - (int)spent;
}

static int timed_out(const struct conv *cv, bool mid_reply)
{
	if (mid_reply)
		fprintf(stderr, "%s: stubd at %s did not finish its reply within %d s\n",
			cv->call->program, cv->path, CLIENT_TIMEOUT_S);
	else
		fprintf(stderr, "%s: stubd at %s did not answer within %d s\n", cv->call->program,
			cv->path, CLIENT_TIMEOUT_S);
	return CONTROL_EXIT_FAILED;
}

/* ECONNREFUSED is also what connect() says for a path that exists but is
 * no socket (a regular file, a directory): tell that case apart, since
 * "is stubd running?" would send the user the wrong way. */
static bool exists_but_not_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && !S_ISSOCK(st.st_mode);
}

/* The daemon cannot be reached: one message naming the socket and the
 * error, then what to do about it. */
static int unreachable(const struct conv *cv, int err)
{
	const char *why = strerror(err);
	const char *opt = cv->call->socket_option;

	if ((err == ECONNREFUSED || err == ENOTSOCK) && exists_but_not_socket(cv->path)) {
		why = "not a socket";
		err = ENOTSOCK;
	}
	fprintf(stderr, "%s: cannot connect to stubd at %s: %s\n", cv->call->program, cv->path,
		why);
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
		fprintf(stderr,
			"Is stubd running? Start it with 'systemctl start stubd' (or 'stubd -f' in"
			" a terminal), or give its socket with %s.\n",
			opt);
		break;
	case EACCES:
	case EPERM:
		fputs("Run as root or as a member of the control group (control-group in"
		      " stubd.conf).\n",
		      stderr);
		break;
	default:
		fprintf(stderr,
			"Give stubd's control socket with %s (control-socket in stubd.conf;"
			" default " CONFIG_DEFAULT_CONTROL ").\n",
			opt);
		break;
	}
	return CONTROL_EXIT_UNREACHABLE;
}

/* Returns 0, or the exit status after saying what went wrong. */
static int conv_connect(struct conv *cv)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	size_t plen = strlen(cv->path);

	/* client.h: the caller checked that the path fits; never overrun. */
	if (plen >= sizeof(sun.sun_path))
		return unreachable(cv, ENAMETOOLONG);
	memcpy(sun.sun_path, cv->path, plen);

	cv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (cv->fd < 0) {
		fprintf(stderr, "%s: cannot create a unix socket: %s\n", cv->call->program,
			strerror(errno));
		return CONTROL_EXIT_FAILED;
	}
	/* A blocking connect() to a unix socket waits while the daemon's
	 * listen backlog is full, and SO_SNDTIMEO is what bounds that wait
	 * (EAGAIN when it runs out); it bounds send() too. */
	struct timeval tv = { .tv_sec = cv->budget_ms / 1000,
			      .tv_usec = (cv->budget_ms % 1000) * 1000 };
	setsockopt(cv->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	int64_t start = now_ms();
	int r;
	do
		r = connect(cv->fd, (const struct sockaddr *)&sun, sizeof(sun));
	while (r < 0 && errno == EINTR);
	int err = errno;
	spend(cv, start);
	if (r == 0)
		return 0;
	if (err == EAGAIN || err == EWOULDBLOCK)
		return timed_out(cv, false);
	return unreachable(cv, err);
}

/* Sends the whole request. Returns 0, or the exit status on a timeout;
 * other errors are left in *send_err (0 if none): the daemon may have
 * answered before it closed, so the reply is still read. */
static int conv_send(struct conv *cv, const char *req, size_t len, int *send_err)
{
	int64_t start = now_ms();
	size_t off = 0;

	*send_err = 0;
	while (off < len) {
		ssize_t n = send(cv->fd, req + off, len - off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			*send_err = errno;
			break;
		}
		off += (size_t)n;
	}
	spend(cv, start);
	if (*send_err == EAGAIN || *send_err == EWOULDBLOCK)
		return timed_out(cv, false);
	/* The end of the request, for a daemon that reads until EOF. */
	shutdown(cv->fd, SHUT_WR);
	return 0;
}

/* Reads what the daemon sent, waiting within the budget. Returns the
 * bytes read, 0 at the end of the reply, -1 with errno set (ETIMEDOUT
 * when the budget ran out).
 *
 * ECONNRESET counts as the end: Linux reports it, after everything the
 * daemon sent, when the daemon closed without reading all of our request
 * (say, it refused us at once), and the reply is still whole. */
static ssize_t conv_read(struct conv *cv, char *buf, size_t size)
{
	for (;;) {
		struct pollfd p = { .fd = cv->fd, .events = POLLIN };
		int64_t start = now_ms();
		int r = poll(&p, 1, cv->budget_ms);
		int err = errno;
		spend(cv, start);
		if (r == 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (r < 0 && err != EINTR) {
			errno = err;
			return -1;
		}
		if (r < 0)
			continue;
		ssize_t n = read(cv->fd, buf, size);
		if (n < 0 && errno == ECONNRESET)
			return 0;
		if (n >= 0 || (errno != EINTR && errno != EAGAIN))
			return n;
	}
}

/* Parses "STUBCTL1 EXIT\n" at the start of buf. Returns the line's length
 * and sets *status, or 0 when buf does not start with one. */
static size_t parse_header(const char *buf, size_t len, int *status)
{
	static const char magic[] = CONTROL_MAGIC " ";
	const size_t mlen = sizeof(magic) - 1;

	if (len < mlen + 2 || memcmp(buf, magic, mlen) != 0 || buf[mlen + 1] != '\n')
		return 0;
	switch (buf[mlen]) {
	case '0':
		*status = CONTROL_EXIT_OK;
		break;
	case '1':
		*status = CONTROL_EXIT_FAILED;
		break;
	case '2':
		*status = CONTROL_EXIT_USAGE;
		break;
	default:
		return 0;
	}
	return mlen + 2;
}

/* Reads until the first line is complete (or cannot be a header). Returns
 * the bytes in buf, or -1 after saying what went wrong (*status set). */
static ssize_t read_header(struct conv *cv, char *buf, size_t size, int send_err, int *status)
{
	size_t len = 0;

	while (len < HEADER_MAX && !memchr(buf, '\n', len)) {
		ssize_t n = conv_read(cv, buf + len, size - len);
		if (n == 0)
			break;
		if (n < 0 && errno == ETIMEDOUT) {
			*status = timed_out(cv, false);
			return -1;
		}
		if (n < 0) {
			fprintf(stderr, "%s: lost the connection to stubd at %s: %s\n",
				cv->call->program, cv->path, strerror(errno));
			*status = CONTROL_EXIT_FAILED;
			return -1;
		}
		len += (size_t)n;
	}
	if (len == 0 && send_err) {
		fprintf(stderr, "%s: cannot send the request to stubd at %s: %s\n",
			cv->call->program, cv->path, strerror(send_err));
		*status = CONTROL_EXIT_FAILED;
		return -1;
	}
	if (len == 0) {
		fprintf(stderr,
			"%s: %s closed the connection without a reply"
			" (is it a stubd control socket? stubd's log may say why)\n",
			cv->call->program, cv->path);
		*status = CONTROL_EXIT_FAILED;
		return -1;
	}
	return (ssize_t)len;
}

/* Writes all of buf to fd. Returns 0, or -errno. */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Copies the body to out: first the part already in buf, then the rest
 * of the stream. Returns the exit status for stubctl. */
static int relay_body(struct conv *cv, int out, char *buf, size_t size, size_t len, int status)
{
	size_t total = len;

	for (;;) {
		int r = write_all(out, buf, len);
		/* Whoever reads our output stopped (`stubctl dump-cache | head`):
		 * not an error of the command, and nothing left to say. */
		if (r == -EPIPE)
			return status;
		if (r < 0) {
			fprintf(stderr, "%s: cannot write the output: %s\n", cv->call->program,
				strerror(-r));
			return CONTROL_EXIT_FAILED;
		}
		ssize_t n = conv_read(cv, buf, size);
		if (n == 0)
			break;
		if (n < 0 && errno == ETIMEDOUT)
			return timed_out(cv, true);
		if (n < 0) {
			fprintf(stderr, "%s: lost the connection to stubd at %s: %s\n",
				cv->call->program, cv->path, strerror(errno));
			return CONTROL_EXIT_FAILED;
		}
		len = (size_t)n;
		total += len;
	}
	/* A failure without a word would leave the user guessing. */
	if (total == 0 && status != CONTROL_EXIT_OK && !cv->call->json)
		fprintf(stderr, "%s: the command failed; stubd gave no details (see its log)\n",
			cv->call->program);
	return status;
}

int client_run(const struct client_call *call, const char *request, size_t len)
{
	struct conv cv = { .call = call, .path = call->socket_path, .fd = -1,
			   .budget_ms = CLIENT_TIMEOUT_S * 1000 };
	char buf[64 * 1024];
	int send_err;
	ssize_t got;
	size_t hlen;
	int out;
	int status = conv_connect(&cv);

	if (status != 0)
		goto out;
	status = conv_send(&cv, request, len, &send_err);
	if (status != 0)
		goto out;
	got = read_header(&cv, buf, sizeof(buf), send_err, &status);
	if (got < 0)
		goto out;
	hlen = parse_header(buf, (size_t)got, &status);
	if (hlen == 0) {
		fprintf(stderr, "%s: unexpected reply from %s (is it a stubd control socket?)\n",
			call->program, cv.path);
		status = CONTROL_EXIT_FAILED;
		goto out;
	}
	memmove(buf, buf + hlen, (size_t)got - hlen);
	out = status == CONTROL_EXIT_OK || call->json ? STDOUT_FILENO : STDERR_FILENO;
	status = relay_body(&cv, out, buf, sizeof(buf), (size_t)got - hlen, status);
out:
	if (cv.fd >= 0)
		close(cv.fd);
	return status;
}
