/* control_verbs.c - the control socket's verbs; see control_verbs.h. */
#include "stubd/control_verbs.h"

#include <string.h>

#define PROGRAM "stubctl"

const struct control_verb_info control_verbs[CONTROL_VERB_COUNT_] = {
	[CONTROL_VERB_STATUS] = { "status", "status", "daemon, listeners, upstreams and cache",
				  CONTROL_ARGS_NONE, CONTROL_OPEN, NULL, NULL },
	[CONTROL_VERB_QUERY] = { "query", "query NAME [-t TYPE]... [--no-cache]",
				 "resolve NAME (types default to A, AAAA)", CONTROL_ARGS_QUERY,
				 CONTROL_OPEN, NULL, NULL },
	[CONTROL_VERB_FLUSH_CACHE] = { "flush-cache", "flush-cache [NAME] [--zone]",
				       "drop cached answers: all, or NAME's", CONTROL_ARGS_FLUSH,
				       CONTROL_PRIVILEGED, NULL, NULL },
	[CONTROL_VERB_STATISTICS] = { "statistics", "statistics [--prometheus]",
				      "query, cache and upstream counters", CONTROL_ARGS_STATISTICS,
				      CONTROL_OPEN, NULL, NULL },
	[CONTROL_VERB_RESET_STATISTICS] = { "reset-statistics", "reset-statistics",
					    "set the counters back to zero", CONTROL_ARGS_NONE,
					    CONTROL_PRIVILEGED, NULL, NULL },
	[CONTROL_VERB_RELOAD] = { "reload", "reload", "re-read config and hosts (like SIGHUP)",
				  CONTROL_ARGS_NONE, CONTROL_PRIVILEGED, NULL, NULL },
	/* Every name the machine looked up: not for every local user. */
	[CONTROL_VERB_DUMP_CACHE] = { "dump-cache", "dump-cache", "list the cached answers and their TTLs",
				      CONTROL_ARGS_NONE, CONTROL_PRIVILEGED, NULL, NULL },
	[CONTROL_VERB_DNS] = { "dns", "dns [IFACE [SERVER...|'']]",
			       "an interface's servers: show, set, '' clears", CONTROL_ARGS_LINK_LIST,
			       CONTROL_PRIVILEGED_TO_CHANGE, "SERVER",
			       PROGRAM " dns eth0 192.0.2.1 '[2001:db8::1]:53'" },
	[CONTROL_VERB_DOMAIN] = { "domain", "domain [IFACE [DOMAIN...|'']]",
				  "its domains (~DOMAIN: routing only)", CONTROL_ARGS_LINK_LIST,
				  CONTROL_PRIVILEGED_TO_CHANGE, "DOMAIN",
				  PROGRAM " domain eth0 corp.example '~lab.example'" },
	[CONTROL_VERB_DEFAULT_ROUTE] = { "default-route", "default-route IFACE [yes|no]",
					 "may names no domain claims go there?",
					 CONTROL_ARGS_LINK_BOOL, CONTROL_PRIVILEGED_TO_CHANGE, NULL,
					 PROGRAM " default-route eth0 no" },
	[CONTROL_VERB_REVERT] = { "revert", "revert IFACE", "forget what was set for IFACE",
				  CONTROL_ARGS_LINK, CONTROL_PRIVILEGED, NULL, PROGRAM " revert eth0" },
	[CONTROL_VERB_RESOLVCONF_ADD] = { "resolvconf-add", NULL, NULL, CONTROL_ARGS_RESOLVCONF,
					  CONTROL_PRIVILEGED, NULL, NULL },
	[CONTROL_VERB_RESOLVCONF_DEL] = { "resolvconf-del", NULL, NULL, CONTROL_ARGS_RESOLVCONF,
					  CONTROL_PRIVILEGED, NULL, NULL },
};

int control_verb_find(const char *name)
{
	for (int v = 0; v < CONTROL_VERB_COUNT_; v++)
		if (strcmp(control_verbs[v].name, name) == 0)
			return v;
	return -1;
}

bool control_verb_needs_privilege(enum control_verb verb, int argc, char **argv)
{
	(void)argv;
	switch (control_verbs[verb].privilege) {
	case CONTROL_OPEN:
		return false;
	case CONTROL_PRIVILEGED:
		return true;
	case CONTROL_PRIVILEGED_TO_CHANGE:
		/* "dns IFACE --set ...", "default-route IFACE yes": more than
		 * the interface is a change (control_proto.h). */
		return argc >= 2;
	}
	return true;
}
