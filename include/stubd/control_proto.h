/* control_proto.h - the words stubctl and stubd say to each other over the
 * control socket. Shared by both sides; holds no code.
 *
 * One request per connection, one line:
 *     STUBCTL1 FORMAT COMMAND [ARG...]\n
 * FORMAT is text, color or json; COMMAND and its ARGs are stubctl's own
 * command line words (no spaces or newlines inside a word). The client
 * then shuts down its sending side. The daemon answers with one line
 *     STUBCTL1 EXIT\n
 * where EXIT is the exit status stubctl should return (0 success, 1 the
 * command failed or the name did not resolve, 2 usage error), followed by
 * the rendered output until it closes the connection.
 *
 * statistics takes "--prometheus" for metrics.h's exposition instead of
 * the FORMAT's rendering (FORMAT then only words an error).
 *
 * The link commands take their values as words after a marker, so that
 * "show" and "set to nothing" stay apart without an empty word:
 *     dns [IFACE [--set [SERVER...]]]
 *     domain [IFACE [--set [DOMAIN...]]]
 *     default-route IFACE [yes|no]
 *     revert IFACE
 * and the resolvconf personality sends, for "resolvconf -a NAME" with the
 * nameserver, search and domain lines of its stdin:
 *     resolvconf-add NAME [--exclusive] [--if-exists] [--nameserver ADDR]... [--search DOMAIN]...
 *     resolvconf-del NAME [--if-exists]
 * --exclusive is -x (every name to this interface: "~."); --if-exists is
 * -f (an interface that does not exist is no error). NAME is the record
 * name as given ("tun.wg0", "eth0.ip6.dhclient"): the daemon, which knows
 * the interfaces, finds the interface in it.
 */
#ifndef STUBD_CONTROL_PROTO_H
#define STUBD_CONTROL_PROTO_H

#define CONTROL_MAGIC "STUBCTL1"
#define CONTROL_REQUEST_MAX 4096   /* bytes, newline included */
#define CONTROL_MAX_ARGS 256       /* words after the command */

enum control_exit {
	CONTROL_EXIT_OK = 0,
	CONTROL_EXIT_FAILED = 1,
	CONTROL_EXIT_USAGE = 2,
	CONTROL_EXIT_UNREACHABLE = 3,  /* stubctl's own: the daemon did not answer */
};

#endif
