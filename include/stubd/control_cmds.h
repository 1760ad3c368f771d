/* control_cmds.h - what the control socket's commands do: status,
 * statistics, query, flush-cache, dump-cache, reload, reset-statistics,
 * and the link verbs (through linkctl.h). Each reads the daemon's modules
 * and describes them through report.h, or for statistics --prometheus
 * through metrics.h.
 *
 * The transport (control.h) owns the connection, reads the request,
 * checks who may run it, and hands the verb here with a request handle;
 * a command answers through control_reply() at once, or later (a query
 * waiting for an upstream), keeping its state with the request.
 */
#ifndef STUBD_CONTROL_CMDS_H
#define STUBD_CONTROL_CMDS_H

#include "stubd/control_verbs.h"
#include "stubd/report.h"

struct daemon;
struct control_request; /* one client's request: the transport's */

/* ---- what the transport gives the commands (control.c) ---- */

struct daemon *control_request_daemon(const struct control_request *req);
enum report_format control_request_format(const struct control_request *req);
/* Sends the reply (stubctl exits with exit_status) and frees r. Once per
 * request. */
void control_reply(struct control_request *req, int exit_status, struct report *r);
/* Sends len bytes of text as they are, for an output that is not a
 * report (statistics --prometheus: metrics.h's exposition). Once per
 * request, like control_reply(); text is copied. */
void control_reply_text(struct control_request *req, int exit_status, const char *text,
			size_t len);
/* An error as stubctl shows it: one "error" member in JSON, a line of
 * text otherwise. */
void control_reply_error(struct control_request *req, int exit_status, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* A command that answers later keeps its state with the request; drop
 * frees it when the request ends (answered, or the client went). */
typedef void (*control_state_drop)(struct control_request *req, void *state);
void control_request_keep(struct control_request *req, void *state, control_state_drop drop);
void *control_request_state(const struct control_request *req);

/* ---- what the commands give the transport (control_cmds.c) ---- */

/* Runs verb with its words (as on the wire, after the verb). */
void control_cmd_run(struct control_request *req, enum control_verb verb, int argc, char **argv);

#endif
