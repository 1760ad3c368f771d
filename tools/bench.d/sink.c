/* sink.c - tools/bench's silent upstream: a UDP socket bound to ADDR:PORT
 * that reads every datagram and never answers. With nothing bound there,
 * the kernel would answer each query with an ICMP port unreachable, which a
 * resolver sees at once (ECONNREFUSED) and fails over on; a blackhole route
 * makes the send itself fail. This is the server that is down and says
 * nothing: the one a resolver must time out on.
 *
 *   sink ADDR PORT
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: sink ADDR PORT\n");
		return 2;
	}
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1)
		return 2;
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		perror("sink: bind");
		return 1;
	}
	unsigned char buf[65536];
	for (;;)
		if (recv(fd, buf, sizeof(buf), 0) < 0)
			perror("sink: recv");
}
