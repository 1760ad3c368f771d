/* control_verbs.h - the commands of the control socket, in one table that
 * stubd and stubctl both build from: each verb's name, what it takes, its
 * help text, and who may run it. Data and lookups only (libc), so stubctl
 * links it without the daemon.
 */
#ifndef STUBD_CONTROL_VERBS_H
#define STUBD_CONTROL_VERBS_H

#include <stdbool.h>

enum control_verb {
	CONTROL_VERB_STATUS,
	CONTROL_VERB_QUERY,
	CONTROL_VERB_FLUSH_CACHE,
	CONTROL_VERB_STATISTICS,
	CONTROL_VERB_RESET_STATISTICS,
	CONTROL_VERB_RELOAD,
	CONTROL_VERB_DUMP_CACHE,
	CONTROL_VERB_DNS,
	CONTROL_VERB_DOMAIN,
	CONTROL_VERB_DEFAULT_ROUTE,
	CONTROL_VERB_REVERT,
	CONTROL_VERB_RESOLVCONF_ADD, /* the resolvconf personality's (control_proto.h) */
	CONTROL_VERB_RESOLVCONF_DEL,
	CONTROL_VERB_COUNT_,
};

/* What a verb takes on stubctl's command line besides the global options. */
enum control_args {
	CONTROL_ARGS_NONE,      /* nothing */
	CONTROL_ARGS_QUERY,     /* NAME [-t TYPE]... [--no-cache] */
	CONTROL_ARGS_FLUSH,     /* [NAME] [--zone] */
	CONTROL_ARGS_STATISTICS, /* [--prometheus] */
	CONTROL_ARGS_LINK_LIST, /* [IFACE [VALUE... | '']]: show all, show one, set, set to none */
	CONTROL_ARGS_LINK_BOOL, /* IFACE [yes|no] */
	CONTROL_ARGS_LINK,      /* IFACE */
	CONTROL_ARGS_RESOLVCONF, /* built by stubctl's resolvconf personality, not typed */
};

/* Who may run it (SPEC "stubctl"): anyone who reaches the socket, or only
 * root and control-group (access.h); the link verbs show to anyone and
 * change only for the latter. */
enum control_privilege {
	CONTROL_OPEN,
	CONTROL_PRIVILEGED,
	CONTROL_PRIVILEGED_TO_CHANGE,
};

struct control_verb_info {
	const char *name;      /* the word on the command line and on the wire */
	const char *synopsis;  /* for --help; NULL: not shown there */
	const char *summary;   /* for --help, one line */
	enum control_args args;
	enum control_privilege privilege;
	const char *value;     /* CONTROL_ARGS_LINK_LIST: what one VALUE is, for messages */
	const char *example;   /* the link verbs: a whole command line, for messages */
};

extern const struct control_verb_info control_verbs[CONTROL_VERB_COUNT_];

/* The verb named name, or -1. */
int control_verb_find(const char *name);

/* Whether this request (its words after the verb, as on the wire) needs
 * root or control-group: a link verb with values sets them. */
bool control_verb_needs_privilege(enum control_verb verb, int argc, char **argv);

#endif
