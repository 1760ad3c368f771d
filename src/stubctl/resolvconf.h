/* resolvconf.h - stubctl run under the name "resolvconf": resolvconf(8)'s
 * command line, for the programs that hand an interface's DNS servers to
 * the system that way (wg-quick, openvpn's update-resolv-conf, dhclient's
 * enter hook, ifupdown).
 *
 * main() calls resolvconf_main() instead of its own parsing when
 * basename(argv[0]) is RESOLVCONF_PROGRAM. It reads the command line (and
 * for -a the resolv.conf lines on stdin), sends one resolvconf-add or
 * resolvconf-del request (control_proto.h) and returns resolvconf's exit
 * status: 0 success, 1 error (the message says why, the daemon's relayed),
 * 99 unknown command. resolvconf's callers know only 0 and 1, so a daemon
 * that cannot be reached is 1 here, not stubctl's 3.
 */
#ifndef STUBCTL_RESOLVCONF_H
#define STUBCTL_RESOLVCONF_H

#define RESOLVCONF_PROGRAM "resolvconf"

int resolvconf_main(int argc, char **argv);

#endif
