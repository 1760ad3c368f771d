/* dnsprobe.c - tools/bench's readiness and sanity check: sends one UDP
 * query (RD=1) and prints the reply's RCODE name and answer count, e.g.
 * "NOERROR 1". Exit 0 on a matching reply, 1 on timeout or error.
 *
 *   dnsprobe ADDR PORT NAME [TYPE-NUMBER] [TIMEOUT-MS]
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

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: dnsprobe ADDR PORT NAME [TYPE] [TIMEOUT-MS]\n");
		return 2;
	}
	unsigned type = argc > 4 ? (unsigned)atoi(argv[4]) : 1;
	int timeout = argc > 5 ? atoi(argv[5]) : 1000;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;

	unsigned char q[512], r[4096];
	srand((unsigned)time(NULL) ^ (unsigned)getpid());
	unsigned id = (unsigned)rand() & 0xffff;
	size_t n = 0;
	q[n++] = id >> 8; q[n++] = id & 0xff;
	q[n++] = 0x01; q[n++] = 0x00;                  /* RD */
	q[n++] = 0; q[n++] = 1;                        /* QDCOUNT */
	memset(q + n, 0, 6); n += 6;
	for (const char *p = argv[3]; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		if (l == 0 || l > 63 || n + l + 8 > sizeof(q))
			return 2;
		q[n++] = (unsigned char)l;
		memcpy(q + n, p, l); n += l;
		p += l + (dot != NULL);
	}
	q[n++] = 0;
	q[n++] = type >> 8; q[n++] = type & 0xff;
	q[n++] = 0; q[n++] = 1;                        /* IN */

	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, q, n, 0) != (ssize_t)n)
		return 1;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	while (poll(&pfd, 1, timeout) == 1) {
		ssize_t got = recv(fd, r, sizeof(r), 0);
		if (got < 12)
			return 1; /* ICMP port unreachable comes back as an error */
		if (((unsigned)r[0] << 8 | r[1]) != id || !(r[2] & 0x80))
			continue;
		static const char *names[] = { "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN",
					       "NOTIMP", "REFUSED" };
		unsigned rc = r[3] & 0x0f;
		printf("%s %u\n", rc < 6 ? names[rc] : "RCODE?", (unsigned)r[6] << 8 | r[7]);
		return 0;
	}
	return 1;
}
