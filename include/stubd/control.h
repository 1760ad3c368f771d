/* control.h - the control socket: what stubctl talks to.
 *
 * Owns the unix socket (control_proto.h has the protocol), its client
 * connections with their size limits and timeouts, the request line, and
 * who may run what: the caller's uid and groups as the kernel recorded
 * them at connect (SO_PEERCRED, SO_PEERGROUPS), judged by access.h against
 * the verb's right in control_verbs.h. The commands themselves are
 * control_cmds.h's. libevent I/O on the daemon's event base.
 */
#ifndef STUBD_CONTROL_H
#define STUBD_CONTROL_H

#include "stubd/config.h"

struct daemon;
struct control;

/* Serves on fd when socket activation passed one (>= 0), else creates the
 * socket at d->cfg.control_socket (and its directory), mode 0666, group
 * control-group. Returns NULL with err set when it cannot; the daemon runs
 * on without it. Free with control_free(). */
struct control *control_new(struct daemon *d, int fd, struct config_error *err);

/* Closes the socket and every connection, and removes the socket file if
 * it made it. NULL ok. */
void control_free(struct control *ctl);

/* Parses one request line (without its newline) into words, in place.
 * Returns the number of words after CONTROL_MAGIC (FORMAT, COMMAND, ARGs)
 * or -1 when the line is not a well-formed request. Exposed for tests. */
int control_split_request(char *line, char **words, int max_words);

#endif
