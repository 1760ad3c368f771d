/* echo-responder.c - tools/bench's trivial DNS responder: the ceiling.
 *
 * Answers every UDP query at once by sending it back with QR set and
 * RCODE 0 (no records), reading and writing in batches with
 * recvmmsg/sendmmsg. It does no work per query beyond flipping two header
 * bytes, so the CPU it uses per query is the kernel's floor for UDP on this
 * machine, and the queries/s dnsperf gets from it is dnsperf's own ceiling.
 *
 *   echo-responder ADDR PORT      (IPv4; runs until killed)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#define BATCH 64
#define BUFSZ 4096

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: echo-responder ADDR PORT\n");
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "echo-responder: bad address %s\n", argv[1]);
		return 2;
	}
	int fd = socket(AF_INET, SOCK_DGRAM, 0);
	int one = 1, rcvbuf = 4 << 20;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("echo-responder: bind");
		return 1;
	}

	static unsigned char bufs[BATCH][BUFSZ];
	static struct sockaddr_in peers[BATCH];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	for (;;) {
		for (int i = 0; i < BATCH; i++) {
			iov[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = BUFSZ };
			msgs[i].msg_hdr = (struct msghdr){ .msg_name = &peers[i],
							   .msg_namelen = sizeof(peers[i]),
							   .msg_iov = &iov[i], .msg_iovlen = 1 };
		}
		int n = recvmmsg(fd, msgs, BATCH, MSG_WAITFORONE, NULL);
		if (n <= 0)
			continue;
		int m = 0;
		for (int i = 0; i < n; i++) {
			unsigned len = msgs[i].msg_len;
			if (len < 12 || (bufs[i][2] & 0x80))
				continue; /* runt, or a response: never answer those */
			bufs[i][2] |= 0x80;              /* QR */
			bufs[i][3] = (bufs[i][3] & 0x70) | 0x80; /* RA, RCODE 0 */
			iov[i].iov_len = len;
			if (m != i)
				msgs[m] = msgs[i];
			m++;
		}
		for (int done = 0; done < m;) {
			int s = sendmmsg(fd, msgs + done, (unsigned)(m - done), 0);
			if (s <= 0)
				break;
			done += s;
		}
	}
}
