/* dnsseq.c - tools/bench's "one program looking names up" client: one
 * question at a time, each from a new UDP socket on a new source port, the
 * next sent when the answer is in, as glibc's getaddrinfo() asks. dnsperf
 * cannot do this (with one query outstanding it paces itself in
 * milliseconds). Prints what tools/bench reads:
 *
 *   completed N lost L latency_us AVG noerror K
 *
 *   dnsseq ADDR PORT NAMES-FILE SECONDS
 *
 * NAMES-FILE is dnsperf's format, "name TYPE" per line (A, AAAA, or a
 * number); the names are asked in turn, round and round.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_NAMES 100000

struct question {
	unsigned char wire[300];
	size_t len;
};

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Builds a query with ID 0 (set per send) and RD=1; 0 on a bad line. */
static size_t build(struct question *q, const char *name, unsigned type)
{
	unsigned char *w = q->wire;
	size_t n = 0;
	memset(w, 0, 12);
	w[2] = 0x01;      /* RD */
	w[5] = 1;         /* QDCOUNT */
	n = 12;
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || n + l + 6 > sizeof(q->wire))
			return 0;
		w[n++] = (unsigned char)l;
		memcpy(w + n, p, l);
		n += l;
		p += l + (dot != NULL);
	}
	w[n++] = 0;
	w[n++] = (unsigned char)(type >> 8);
	w[n++] = (unsigned char)type;
	w[n++] = 0;
	w[n++] = 1; /* IN */
	return n;
}

static size_t load(const char *path, struct question *qs)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[512], name[300], type[32];
	size_t n = 0;
	while (n < MAX_NAMES && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%299s %31s", name, type) != 2)
			continue;
		unsigned t = strcmp(type, "A") == 0      ? 1
			     : strcmp(type, "AAAA") == 0 ? 28
							 : (unsigned)atoi(type);
		qs[n].len = build(&qs[n], name, t);
		if (qs[n].len)
			n++;
	}
	fclose(f);
	return n;
}

/* One exchange on a new socket: the latency in seconds, or -1 when no
 * matching answer came within a second; *rcode gets the answer's RCODE. */
static double ask(const struct sockaddr_in *sa, struct question *q, unsigned id, unsigned *rcode)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) < 0) {
		perror("dnsseq: socket");
		exit(1);
	}
	q->wire[0] = (unsigned char)(id >> 8);
	q->wire[1] = (unsigned char)id;
	double t0 = now_s(), took = -1;
	unsigned char r[4096];
	if (send(fd, q->wire, q->len, 0) == (ssize_t)q->len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		while (poll(&pfd, 1, 1000) == 1) {
			ssize_t got = recv(fd, r, sizeof(r), 0);
			if (got < 12)
				break;
			if (r[0] == q->wire[0] && r[1] == q->wire[1] && (r[2] & 0x80)) {
				took = now_s() - t0;
				*rcode = r[3] & 0x0f;
				break;
			}
		}
	}
	close(fd);
	return took;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: dnsseq ADDR PORT NAMES-FILE SECONDS\n");
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	static struct question qs[MAX_NAMES];
	size_t nq = load(argv[3], qs);
	if (nq == 0) {
		fprintf(stderr, "dnsseq: no questions in %s\n", argv[3]);
		return 2;
	}
	double secs = atof(argv[4]), start = now_s(), sum = 0;
	unsigned long done = 0, lost = 0, noerror = 0;
	srand((unsigned)getpid());
	unsigned id = (unsigned)rand();
	for (size_t i = 0; now_s() - start < secs; i = (i + 1) % nq) {
		unsigned rcode = 0;
		double took = ask(&sa, &qs[i], id++, &rcode);
		if (took < 0) {
			lost++;
			continue;
		}
		sum += took;
		done++;
		noerror += rcode == 0;
	}
	printf("completed %lu lost %lu latency_us %.1f noerror %lu\n", done, lost,
	       done ? sum / done * 1e6 : 0, noerror);
	return 0;
}
