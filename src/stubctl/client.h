/* client.h - stubctl's side of one control conversation (control_proto.h).
 *
 * client_run() connects to stubd's unix control socket, sends one request
 * line, and relays the rendered reply: to stdout when the daemon says the
 * command succeeded or when the output is JSON, to stderr otherwise. It
 * prints its own messages and returns stubctl's exit status: the daemon's
 * (0, 1 or 2), 1 when the daemon did not answer properly (timeout, a reply
 * that is not the protocol's, a broken connection), or 3 when the socket
 * could not be reached at all. The caller checks that socket_path fits a
 * sockaddr_un and ignores SIGPIPE before calling.
 */
#ifndef STUBCTL_CLIENT_H
#define STUBCTL_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

/* How long stubctl waits for the daemon in all (connect, send, reply). */
#define CLIENT_TIMEOUT_S 15

/* request: the whole request line, newline included, len bytes long.
 * json: the reply goes to stdout even when the command failed, so that a
 * script always finds the JSON object there. */
int client_run(const char *socket_path, const char *request, size_t len, bool json);

#endif
