/* fuzz_control.c - libFuzzer target: the bytes a client writes to the
 * control socket.
 *
 * Two layers. First control_split_request alone, on the input's first
 * line: its words are non-empty, inside the line, free of blanks and
 * control bytes, at most the limit, and joining them again splits the
 * same way. Then the whole input goes to a real daemon (daemon_init in
 * this process: listeners on a random loopback address and port, an
 * upstream on a closed port so that questions fail at once, a small hosts file, the
 * control socket in a private folder) through a unix socket connection,
 * the way stubctl talks to it; the event loop runs until stubd closes the
 * connection. Every connection gets an answer that starts with
 * "STUBCTL1 EXIT\n" (EXIT 0, 1 or 2) within a few seconds; a json request
 * gets valid JSON (RFC 8259, UTF-8) and no text request gets colour.
 * The cache is flushed after each input, so inputs do not build on each
 * other. Aborts when one of these breaks.
 */
#include "fuzz_common.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>

#include "stubd/control.h"
#include "stubd/utf8.h"
#include "stubd/control_proto.h"
#include "stubd/daemon.h"

#define SEND_MAX 16384        /* fits a unix socket's buffer: one write, no deadlock */
#define ANSWER_MAX (4u << 20) /* a bounded cache cannot need more */
#define HANG_S 5              /* stubd gives up on a client after 5 s itself */

static struct daemon d;
static bool d_up;
static char dir[] = "/tmp/stubd-fuzz-control.XXXXXX";
static char conf_path[128], hosts_path[128], resolv_path[128], sock_path[128];
static char *d_argv[] = { "stubd-fuzz", "-c", conf_path, NULL };

/* ---- layer 1: splitting ------------------------------------------------ */

static void check_split(const uint8_t *data, size_t size)
{
	char line[CONTROL_REQUEST_MAX + 1], again[CONTROL_REQUEST_MAX + 64];
	char *words[2 + CONTROL_MAX_ARGS], *words2[2 + CONTROL_MAX_ARGS];
	size_t len = 0;

	while (len < size && len < CONTROL_REQUEST_MAX && data[len] != '\n')
		len++;
	memcpy(line, data, len);
	line[len] = '\0';
	size_t real_len = strlen(line); /* strtok stops at a NUL anyway */
	int n = control_split_request(line, words, 2 + CONTROL_MAX_ARGS);
	FUZZ_CHECK(n == -1 || (n >= 2 && n <= 2 + CONTROL_MAX_ARGS));
	if (n < 0)
		return;
	size_t pos = strlen(CONTROL_MAGIC);
	memcpy(again, CONTROL_MAGIC, pos);
	for (int i = 0; i < n; i++) {
		FUZZ_CHECK(words[i] >= line && words[i] < line + real_len);
		FUZZ_CHECK(i == 0 || words[i] > words[i - 1]);
		size_t wlen = strlen(words[i]);
		FUZZ_CHECK(wlen > 0 && words[i] + wlen <= line + real_len);
		for (size_t k = 0; k < wlen; k++) {
			unsigned char c = (unsigned char)words[i][k];
			FUZZ_CHECK(c >= 0x20 && c != 0x7f && c != ' ');
		}
		again[pos++] = ' ';
		memcpy(again + pos, words[i], wlen);
		pos += wlen;
	}
	again[pos] = '\0';
	FUZZ_CHECK(control_split_request(again, words2, 2 + CONTROL_MAX_ARGS) == n);
	for (int i = 0; i < n; i++)
		FUZZ_CHECK(strcmp(words[i], words2[i]) == 0);
}

/* ---- JSON (RFC 8259), strict: what stubctl --json hands to scripts ---- */

struct json {
	const unsigned char *s;
	size_t len, pos;
	unsigned depth;
};

static void json_ws(struct json *j)
{
	while (j->pos < j->len && strchr(" \t\r\n", j->s[j->pos]) && j->s[j->pos])
		j->pos++;
}

static bool json_lit(struct json *j, const char *lit)
{
	size_t n = strlen(lit);
	if (j->len - j->pos < n || memcmp(j->s + j->pos, lit, n) != 0)
		return false;
	j->pos += n;
	return true;
}


static bool json_string(struct json *j)
{
	if (j->pos >= j->len || j->s[j->pos] != '"')
		return false;
	j->pos++;
	while (j->pos < j->len) {
		unsigned char c = j->s[j->pos];
		if (c == '"') {
			j->pos++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			if (++j->pos >= j->len)
				return false;
			c = j->s[j->pos];
			if (c == 'u') {
				if (j->len - j->pos < 5)
					return false;
				for (int k = 1; k <= 4; k++)
					if (!strchr("0123456789abcdefABCDEF", j->s[j->pos + k]) ||
					    !j->s[j->pos + k])
						return false;
				j->pos += 5;
			} else if (c && strchr("\"\\/bfnrt", c)) {
				j->pos++;
			} else {
				return false;
			}
			continue;
		}
		if (c < 0x80) {
			j->pos++;
			continue;
		}
		size_t n = utf8_seq_len(j->s + j->pos, j->len - j->pos);
		if (n == 0)
			return false;
		j->pos += n;
	}
	return false;
}

static bool json_number(struct json *j)
{
	size_t start = j->pos;
#define DIGIT() (j->pos < j->len && j->s[j->pos] >= '0' && j->s[j->pos] <= '9')
	if (j->pos < j->len && j->s[j->pos] == '-')
		j->pos++;
	if (j->pos < j->len && j->s[j->pos] == '0')
		j->pos++;
	else if (DIGIT())
		while (DIGIT())
			j->pos++;
	else
		return false;
	if (j->pos < j->len && j->s[j->pos] == '.') {
		j->pos++;
		if (!DIGIT())
			return false;
		while (DIGIT())
			j->pos++;
	}
	if (j->pos < j->len && (j->s[j->pos] == 'e' || j->s[j->pos] == 'E')) {
		j->pos++;
		if (j->pos < j->len && (j->s[j->pos] == '+' || j->s[j->pos] == '-'))
			j->pos++;
		if (!DIGIT())
			return false;
		while (DIGIT())
			j->pos++;
	}
#undef DIGIT
	return j->pos > start;
}

static bool json_value(struct json *j);

static bool json_container(struct json *j, char open, char close, bool object)
{
	if (j->pos >= j->len || j->s[j->pos] != (unsigned char)open || ++j->depth > 64)
		return false;
	j->pos++;
	json_ws(j);
	if (j->pos < j->len && j->s[j->pos] == (unsigned char)close) {
		j->pos++;
		j->depth--;
		return true;
	}
	for (;;) {
		json_ws(j);
		if (object) {
			if (!json_string(j))
				return false;
			json_ws(j);
			if (j->pos >= j->len || j->s[j->pos] != ':')
				return false;
			j->pos++;
		}
		if (!json_value(j))
			return false;
		json_ws(j);
		if (j->pos >= j->len)
			return false;
		if (j->s[j->pos] == ',') {
			j->pos++;
			continue;
		}
		if (j->s[j->pos] != (unsigned char)close)
			return false;
		j->pos++;
		j->depth--;
		return true;
	}
}

static bool json_value(struct json *j)
{
	json_ws(j);
	if (j->pos >= j->len)
		return false;
	switch (j->s[j->pos]) {
	case '{':
		return json_container(j, '{', '}', true);
	case '[':
		return json_container(j, '[', ']', false);
	case '"':
		return json_string(j);
	case 't':
		return json_lit(j, "true");
	case 'f':
		return json_lit(j, "false");
	case 'n':
		return json_lit(j, "null");
	default:
		return json_number(j);
	}
}

/* One JSON object and nothing after it but blanks. */
static bool json_document(const char *text, size_t len)
{
	struct json j = { .s = (const unsigned char *)text, .len = len };
	json_ws(&j);
	if (j.pos >= j.len || j.s[j.pos] != '{' || !json_value(&j))
		return false;
	json_ws(&j);
	return j.pos == j.len;
}

/* ---- layer 2: a real daemon ------------------------------------------- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "we");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "fuzz_control: cannot write %s\n", path);
		abort();
	}
}

/* A UDP port on addr that nothing listens on: questions sent there fail
 * at once (ICMP port unreachable), so no input waits on a timeout. */
static unsigned closed_udp_port(const char *addr)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || inet_pton(AF_INET, addr, &sin.sin_addr) != 1 ||
	    bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		abort();
	close(fd);
	return ntohs(sin.sin_port);
}

static void cleanup(void)
{
	if (d_up)
		daemon_fini(&d);
	d_up = false;
	unlink(conf_path);
	unlink(hosts_path);
	unlink(resolv_path);
	unlink(sock_path);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char conf[2048];
	struct config cfg;
	struct config_error err;
	enum config_action action;

	fuzz_quiet_logs();
	if (!mkdtemp(dir)) {
		perror("fuzz_control: mkdtemp");
		abort();
	}
	snprintf(conf_path, sizeof(conf_path), "%s/stubd.conf", dir);
	snprintf(hosts_path, sizeof(hosts_path), "%s/hosts", dir);
	snprintf(resolv_path, sizeof(resolv_path), "%s/resolv.conf", dir);
	snprintf(sock_path, sizeof(sock_path), "%s/control.sock", dir);
	write_file(hosts_path, "192.0.2.10 fuzz.example alias\n2001:db8::10 fuzz.example\n"
			       "127.0.0.1 localhost\n");
	write_file(resolv_path, "nameserver 127.0.0.1\n");
	atexit(cleanup);

	/* A random loopback address and port of our own, away from the
	 * 127.x addresses the integration tests pick, which may run beside. */
	char addr[INET_ADDRSTRLEN];
	srand((unsigned)getpid() ^ (unsigned)time(NULL));
	snprintf(addr, sizeof(addr), "127.%u.%u.%u", 200 + (unsigned)rand() % 55,
		 1 + (unsigned)rand() % 254, 1 + (unsigned)rand() % 254);
	unsigned upstream = closed_udp_port(addr);
	for (int tries = 0; tries < 50 && !d_up; tries++) {
		unsigned port = 20000 + (unsigned)rand() % 40000;
		snprintf(conf, sizeof(conf),
			 "listen = %s:%u\n"
			 "upstream = %s:%u\n"
			 "resolv-conf = %s\n"
			 "hosts-file = %s\n"
			 "control-socket = %s\n"
			 "user = root\n"
			 "dbus = no\n" /* never the machine's system bus */
			 "control-group = root\n"
			 "cache-size = 64\n"
			 "upstream-timeout = 50\n"
			 "query-timeout = 200\n"
			 "log-level = error\n"
			 "foreground = yes\n",
			 addr, port, addr, upstream, resolv_path, hosts_path, sock_path);
		write_file(conf_path, conf);
		if (config_from_args(&cfg, 3, d_argv, &action, &err) < 0) {
			fprintf(stderr, "fuzz_control: config: %s\n", err.msg);
			abort();
		}
		if (daemon_init(&d, &cfg, 3, d_argv, &err) == 0)
			d_up = true;
		else
			daemon_fini(&d);
	}
	if (!d_up || !d.control) {
		fprintf(stderr, "fuzz_control: cannot start the daemon: %s\n", err.msg);
		abort();
	}
	fuzz_quiet_logs(); /* daemon_init may have set the config's level */
	return 0;
}

struct client {
	int fd;
	char *buf;
	size_t len, cap;
	bool done;
	bool hung;
};

static void on_client_read(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	if (c->cap - c->len < 4096) {
		FUZZ_CHECK(c->cap < ANSWER_MAX);
		c->cap = c->cap ? c->cap * 2 : 8192;
		c->buf = realloc(c->buf, c->cap);
		FUZZ_CHECK(c->buf != NULL);
	}
	ssize_t n = read(fd, c->buf + c->len, c->cap - c->len - 1);
	if (n > 0) {
		c->len += (size_t)n;
		return;
	}
	if (n < 0 && errno == EAGAIN)
		return;
	c->done = true; /* EOF, or the connection reset */
	event_base_loopbreak(d.base);
}

static void on_hang(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	c->hung = true;
	event_base_loopbreak(d.base);
}

/* The format the daemon must answer in: the request's FORMAT word when
 * the first line is a whole, well-formed request; text otherwise. */
static const char *request_format(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	if (!nl || (size_t)(nl - data) >= CONTROL_REQUEST_MAX - 1 ||
	    memchr(data, '\0', (size_t)(nl - data)))
		return "text";
	char line[CONTROL_REQUEST_MAX];
	char *words[2 + CONTROL_MAX_ARGS];
	memcpy(line, data, (size_t)(nl - data));
	line[nl - data] = '\0';
	if (control_split_request(line, words, 2 + CONTROL_MAX_ARGS) < 2)
		return "text";
	if (strcmp(words[0], "json") == 0)
		return "json";
	if (strcmp(words[0], "color") == 0)
		return "color";
	return "text";
}

static void talk_to_daemon(const uint8_t *data, size_t size)
{
	struct client c = { .fd = -1 };
	struct sockaddr_un sun = { .sun_family = AF_UNIX };

	if (size > SEND_MAX)
		size = SEND_MAX;
	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
	c.fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	FUZZ_CHECK(c.fd >= 0);
	FUZZ_CHECK(connect(c.fd, (struct sockaddr *)&sun, sizeof(sun)) == 0);
	size_t sent = 0;
	while (sent < size) {
		ssize_t n = write(c.fd, data + sent, size - sent);
		if (n <= 0)
			break; /* stubd may close early on garbage: fine */
		sent += (size_t)n;
	}
	shutdown(c.fd, SHUT_WR);
	fcntl(c.fd, F_SETFL, O_NONBLOCK);

	struct event *rd = event_new(d.base, c.fd, EV_READ | EV_PERSIST, on_client_read, &c);
	struct event *timer = evtimer_new(d.base, on_hang, &c);
	struct timeval limit = { .tv_sec = HANG_S };
	FUZZ_CHECK(rd && timer && event_add(rd, NULL) == 0 && event_add(timer, &limit) == 0);
	while (!c.done && !c.hung)
		event_base_loop(d.base, EVLOOP_ONCE);
	event_free(rd);
	event_free(timer);
	close(c.fd);

	if (c.hung) {
		fprintf(stderr, "stubd did not close the control connection within %d s "
				"(got %zu bytes)\n", HANG_S, c.len);
		FUZZ_CHECK(!"the control connection ends");
	}
	if (getenv("STUBD_FUZZ_VERBOSE"))
		fprintf(stderr, "--- stubd answered %zu bytes:\n%.*s---\n", c.len, (int)c.len,
			c.buf ? c.buf : "");
	/* "STUBCTL1 EXIT\n", then the rendered output. */
	FUZZ_CHECK(c.len >= sizeof(CONTROL_MAGIC " 0\n") - 1);
	FUZZ_CHECK(memcmp(c.buf, CONTROL_MAGIC " ", sizeof(CONTROL_MAGIC)) == 0);
	char exit_code = c.buf[sizeof(CONTROL_MAGIC)];
	FUZZ_CHECK(exit_code >= '0' && exit_code <= '2');
	FUZZ_CHECK(c.buf[sizeof(CONTROL_MAGIC) + 1] == '\n');
	const char *body = c.buf + sizeof(CONTROL_MAGIC) + 2;
	size_t body_len = c.len - (sizeof(CONTROL_MAGIC) + 2);
	const char *format = request_format(data, size);
	if (strcmp(format, "json") == 0 && !json_document(body, body_len)) {
		fprintf(stderr, "--- not JSON:\n%.*s\n---\n", (int)body_len, body);
		FUZZ_CHECK(!"a json request gets JSON");
	}
	if (strcmp(format, "color") != 0) /* colour only when asked for */
		FUZZ_CHECK(memchr(body, 0x1b, body_len) == NULL);
	free(c.buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_split(data, size);
	talk_to_daemon(data, size);
	cache_flush_all(d.cache);
	return 0;
}
