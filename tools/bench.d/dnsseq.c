/* dnsseq.c - tools/bench's "one program looking names up" client: one
 * question at a time, each from a new UDP socket on a new source port, the
 * next sent when the answer is in, as glibc's getaddrinfo() asks. dnsperf
 * cannot do this (with one query outstanding it paces itself in
 * milliseconds). Prints what tools/bench reads:
 *
 *   completed N lost L latency_us AVG noerror K p50_us P p99_us Q max_us M
 *
 *   dnsseq ADDR PORT NAMES-FILE SECONDS [COUNT [RATE [TIMEOUT-MS [TIMES-FILE]]]]
 *
 * NAMES-FILE is dnsperf's format, "name TYPE" per line (A, AAAA, or a
 * number); the names are asked in turn, round and round, for SECONDS or
 * until COUNT questions are asked (0: no limit; COUNT up to the number of
 * names asks each name once). RATE paces the questions, at most RATE a
 * second (0: each as soon as the last is answered). A question without an
 * answer in TIMEOUT-MS (1000) is lost. The percentiles are of the answered
 * questions' times (nearest rank). TIMES-FILE, if given, gets every answered
 * question's time in microseconds, one a line in the order asked, so that
 * several runs can be pooled.
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

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* The P-th percentile of n sorted values, nearest rank; 0 for none. */
static double rank(const double *v, size_t n, unsigned p)
{
	if (n == 0)
		return 0;
	size_t k = (n * p + 99) / 100; /* ceil(n * p / 100), 1-based */
	return v[k ? k - 1 : 0];
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
static double ask(const struct sockaddr_in *sa, struct question *q, unsigned id, unsigned *rcode,
		  int timeout_ms)
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
		while (poll(&pfd, 1, timeout_ms) == 1) {
			ssize_t got = recv(fd, r, sizeof(r), 0);
			if (got < 12)
				break;
			/* poll's timeout restarts on a stray datagram: bounded by the
			 * whole exchange's, so it is TIMEOUT-MS in all. */
			if (now_s() - t0 > timeout_ms / 1000.0)
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
	if (argc < 5 || argc > 9) {
		fprintf(stderr, "usage: dnsseq ADDR PORT NAMES-FILE SECONDS [COUNT [RATE [TIMEOUT-MS [TIMES-FILE]]]]\n");
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
	unsigned long count = argc > 5 ? strtoul(argv[5], NULL, 10) : 0;
	double rate = argc > 6 ? atof(argv[6]) : 0;
	int timeout_ms = argc > 7 ? atoi(argv[7]) : 1000;
	if (timeout_ms <= 0)
		timeout_ms = 1000;
	double secs = atof(argv[4]), start = now_s(), sum = 0;
	unsigned long done = 0, lost = 0, noerror = 0, asked = 0;
	/* Every answered question's time, for the percentiles. */
	size_t cap = 1 << 16;
	double *times = malloc(cap * sizeof(*times));
	if (!times)
		return 1;
	srand((unsigned)getpid());
	unsigned id = (unsigned)rand();
	for (size_t i = 0; now_s() - start < secs && (!count || asked < count); i = (i + 1) % nq) {
		if (rate > 0) {
			double due = start + (double)asked / rate, wait = due - now_s();
			if (wait > 0) {
				struct timespec ts = { .tv_sec = (time_t)wait,
						       .tv_nsec = (long)((wait - (double)(time_t)wait) * 1e9) };
				nanosleep(&ts, NULL);
			}
		}
		asked++;
		unsigned rcode = 0;
		double took = ask(&sa, &qs[i], id++, &rcode, timeout_ms);
		if (took < 0) {
			lost++;
			continue;
		}
		if (done == cap) {
			double *more = realloc(times, 2 * cap * sizeof(*times));
			if (!more)
				return 1;
			times = more;
			cap *= 2;
		}
		times[done] = took;
		sum += took;
		done++;
		noerror += rcode == 0;
	}
	if (argc > 8) {
		FILE *tf = fopen(argv[8], "w");
		if (!tf) {
			perror("dnsseq: times file");
			return 1;
		}
		for (size_t k = 0; k < done; k++)
			fprintf(tf, "%.1f\n", times[k] * 1e6);
		if (fclose(tf) != 0) {
			perror("dnsseq: times file");
			return 1;
		}
	}
	qsort(times, done, sizeof(*times), cmp_double);
	printf("completed %lu lost %lu latency_us %.1f noerror %lu p50_us %.1f p99_us %.1f max_us %.1f\n",
	       done, lost, done ? sum / done * 1e6 : 0, noerror, rank(times, done, 50) * 1e6,
	       rank(times, done, 99) * 1e6, done ? times[done - 1] * 1e6 : 0);
	free(times);
	return 0;
}
