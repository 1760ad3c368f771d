/* client.h - stubctl's side of one control conversation (control_proto.h).
 *
 * client_run() connects to stubd's unix control socket, sends one request
 * line, and relays the rendered reply: to stdout when the daemon says the
 * command succeeded or when the output is JSON, to stderr otherwise. It
 * prints its own messages and returns stubctl's exit status: the daemon's
 * (0, 1 or 2), 1 when the daemon did not answer properly (timeout, a reply
 * that is not the protocol's, a broken connection), or 3 when the socket
 * could not be reached at all. The caller ignores SIGPIPE before calling;
 * a socket path too long for a sockaddr_un is reported as unreachable.
 */
#ifndef STUBCTL_CLIENT_H
#define STUBCTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* How long stubctl waits for the daemon in all (connect, send, reply). */
#define CLIENT_TIMEOUT_S 15

/* Who calls, and how the messages should put things. */
struct client_call {
	const char *program;     /* starts every message: "stubctl", "resolvconf" */
	const char *socket_path;
	/* How this program is told another socket, for the hints:
	 * "-s SOCKET", or "STUBCTL_SOCKET=SOCKET" when it has no -s. */
	const char *socket_option;
	/* The reply goes to stdout even when the command failed, so that a
	 * script always finds the JSON object there. */
	bool json;
};

/* request: the whole request line, newline included, len bytes long. */
int client_run(const struct client_call *call, const char *request, size_t len);

#endif
