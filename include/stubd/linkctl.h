/* linkctl.h - the link commands of the control socket, and the links and
 * routes part of stubctl status.
 *
 * Owns the words of `dns`, `domain`, `default-route`, `revert` (as
 * resolvectl takes them) and of the resolvconf personality's
 * `resolvconf-add` / `resolvconf-del` (control_proto.h has them all): it
 * checks them, turns them into link settings, hands those to the registry
 * of routing.h and commits, and describes the result through report.h.
 * The control module calls it for those commands, after its permission
 * check; runs on the main loop.
 */
#ifndef STUBD_LINKCTL_H
#define STUBD_LINKCTL_H

#include <stdbool.h>
#include <stddef.h>

#include "stubd/control_verbs.h"
#include "stubd/report.h"
#include "stubd/routing.h"

/* Runs a link verb (dns, domain, default-route, revert, resolvconf-add,
 * resolvconf-del) with its words, adding what it shows to r. Returns the
 * exit status stubctl gives (control_proto.h): 0, 1 (failed: no such
 * interface, a cap) or 2 (usage: a malformed server or domain), with err
 * set to the message for 1 and 2. */
int linkctl_run(struct routing *rt, enum control_verb verb, int argc, char **argv,
		struct report *r, char *err, size_t err_size);

/* The links with any DNS settings, every front end's part, and the
 * routing domains with where each goes: status's part. */
void linkctl_report_status(const struct routing *rt, struct report *r);

#endif
