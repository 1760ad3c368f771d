/* resolvconf.c - stubctl as resolvconf(8). See resolvconf.h.
 *
 * The command line is the one systemd's resolvconf compatibility takes
 * (getopt "hadxpfm:uIi:l:Rr:vV" plus Debian's long options), which covers
 * what wg-quick, openvpn's update-resolv-conf, dhclient's hook and
 * ifupdown send; SPEC "resolvconf" says where stubd does better (each NAME
 * is a record of its own, -d of an unknown NAME is no error). NAME, the
 * servers and the domains are checked here only as far as they must be to
 * travel as words; the daemon, which knows the interfaces and parses
 * addresses, checks the rest and says what is wrong, which is relayed.
 */
#include "resolvconf.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "request.h"
#include "stubd/config.h"
#include "stubd/control_proto.h"
#include "stubd/control_verbs.h"
#include "stubd/version.h"

#define PROGRAM RESOLVCONF_PROGRAM

/* resolvconf's exit statuses, as Debian's resolvconf(8) gives them. */
enum rc_exit {
	RC_EXIT_OK = 0,
	RC_EXIT_FAILED = 1,
	RC_EXIT_UNKNOWN = 99, /* no command, or an option no resolvconf knows */
};

/* A stdin line longer than this cannot be sent whole (its words would not
 * fit in one request): refused when it is one stubd reads. */
#define RC_LINE_MAX CONTROL_REQUEST_MAX

/* Each entry travels as two words: "--nameserver ADDR", "--search DOMAIN". */
#define RC_ENTRIES_MAX (CONTROL_MAX_ARGS / 2)

/* What separates the words of a resolv.conf line. */
#define RC_BLANKS " \t\r\v\f"

enum rc_mode { RC_NONE, RC_ADD, RC_DEL };

/* The command line as given; the strings point into argv. */
struct rc_cli {
	enum rc_mode mode;
	bool exclusive; /* -x */
	bool if_exists; /* -f */
	bool no_op;     /* -u, --enable-updates, ...: accepted, nothing to do */
	bool help, version;
	const char *name;  /* the first positional word */
	const char *extra; /* a second one, which is an error */
};

/* The nameserver and search entries of -a's stdin, in the order read,
 * without repeats. The words are copies in text: a request holds no more
 * bytes than that, so what does not fit here would not fit there. */
struct rc_entries {
	char text[CONTROL_REQUEST_MAX];
	size_t used;
	const char *nameservers[RC_ENTRIES_MAX];
	size_t n_nameservers;
	const char *searches[RC_ENTRIES_MAX];
	size_t n_searches;
};

enum {
	OPT_VERSION = 256,
	OPT_ENABLE_UPDATES,
	OPT_DISABLE_UPDATES,
	OPT_UPDATES_ARE_ENABLED,
};

/* '-' first: every word comes back in order (wg-quick puts NAME before
 * its options), whatever POSIXLY_CORRECT says. ':' next: a missing value
 * is told apart from an unknown option. */
static const char short_options[] = "-:hadxpfm:uIi:l:Rr:vV";
static const struct option long_options[] = {
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "enable-updates", no_argument, NULL, OPT_ENABLE_UPDATES },
	{ "disable-updates", no_argument, NULL, OPT_DISABLE_UPDATES },
	{ "updates-are-enabled", no_argument, NULL, OPT_UPDATES_ARE_ENABLED },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fputs("Usage: " PROGRAM " -a NAME [-x] [-f] [-m METRIC] [-p] < RESOLV.CONF-LINES\n"
	      "       " PROGRAM " -d NAME [-f]\n"
	      "       " PROGRAM " -u | --enable-updates | --disable-updates |"
	      " --updates-are-enabled\n"
	      "\n"
	      "stubd's resolvconf: hands an interface's DNS servers and search domains\n"
	      "to stubd, the caching DNS stub resolver, which keeps each NAME apart.\n"
	      "\n"
	      "  -a NAME   add or replace NAME's servers and domains: the 'nameserver',\n"
	      "            'search' and 'domain' lines of stdin\n"
	      "  -d NAME   remove NAME's (a NAME never added is no error)\n"
	      "  -x        exclusive: every name goes to this interface's servers (~.)\n"
	      "  -f        an interface that does not exist is no error\n"
	      "  -m, -p    accepted and ignored (metric, private)\n"
	      "  -u, --enable-updates, --disable-updates, --updates-are-enabled\n"
	      "            accepted; stubd is always up to date\n"
	      "  -h, --help     print this help and exit\n"
	      "      --version  print the version and exit\n"
	      "\n"
	      "NAME is [PREFIX.]IFACE[.PROTOCOL...]: eth0.dhclient, eth0.ip6.dhclient,\n"
	      "tun.wg0, tun0.openvpn. The socket is $STUBCTL_SOCKET, else\n"
	      CONFIG_DEFAULT_CONTROL ". 'stubctl dns' shows the result.\n"
	      "Exit status: 0 success, 1 error, 99 unknown command.\n",
	      out);
}

/* Says what is wrong; returns status for the caller to pass up. */
__attribute__((format(printf, 2, 3))) static int fail(int status, const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* The same, for a command line that is wrong: also where to look. */
__attribute__((format(printf, 2, 3))) static int usage_error(int status, const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; run '" PROGRAM " --help' for usage\n", stderr);
	return status;
}

/* openresolv's options that need an interface of their own (-I -i -l -R
 * -r) or print its variables (-v -V): stubd keeps no resolv.conf parts to
 * list or rebuild. */
static int unsupported(int opt)
{
	return fail(RC_EXIT_FAILED,
		    "-%c is not supported by this resolvconf (stubd's), which takes -a, -d, -x,"
		    " -f, -m, -p and -u; 'stubctl dns' and 'stubctl domain' show what it holds",
		    opt);
}

static void add_word(struct rc_cli *c, const char *word)
{
	if (!c->name)
		c->name = word;
	else if (!c->extra)
		c->extra = word;
}

/* Returns -1 to go on, or the exit status. word: the argv element getopt
 * was reading, for messages. */
static int parse_option(struct rc_cli *c, int opt, const char *word)
{
	struct shown sh;
	enum rc_mode mode;

	switch (opt) {
	case 1: /* a positional word, in order (the '-' of short_options) */
		add_word(c, optarg);
		return -1;
	case 'a':
	case 'd':
		mode = opt == 'a' ? RC_ADD : RC_DEL;
		if (c->mode != RC_NONE && c->mode != mode)
			return usage_error(RC_EXIT_FAILED, "-a and -d do not go together");
		c->mode = mode;
		return -1;
	case 'x':
		c->exclusive = true;
		return -1;
	case 'f':
		c->if_exists = true;
		return -1;
	case 'p': /* private: the servers are not to go in resolv.conf; stubd's has none */
		return -1;
	case 'm': /* openresolv's metric orders resolv.conf's lines; stubd has none to order */
		if (optarg[0] == '\0' || strspn(optarg, "0123456789") != strlen(optarg))
			return usage_error(RC_EXIT_FAILED, "-m takes a number, not '%s'",
					   request_show(optarg, &sh));
		return -1;
	case 'u':
	case OPT_ENABLE_UPDATES:
	case OPT_DISABLE_UPDATES:
	case OPT_UPDATES_ARE_ENABLED:
		/* stubd takes every change at once: there is nothing to
		 * update, and updates are always on. */
		c->no_op = true;
		return -1;
	case 'h':
		c->help = true;
		return -1;
	case OPT_VERSION:
		c->version = true;
		return -1;
	case 'I':
	case 'i':
	case 'l':
	case 'R':
	case 'r':
	case 'v':
	case 'V':
		return unsupported(opt);
	case ':':
		if (optopt == 'i' || optopt == 'l' || optopt == 'r')
			return unsupported(optopt);
		return usage_error(RC_EXIT_FAILED, "-%c needs a value", optopt);
	default:
		/* Debian's resolvconf: "Command not recognized", 99. */
		if (strncmp(word, "--", 2) == 0 || optopt <= 0 || optopt > 127)
			return usage_error(RC_EXIT_UNKNOWN, "unknown option '%s'",
					   request_show(word, &sh));
		return usage_error(RC_EXIT_UNKNOWN, "unknown option '-%c'", optopt);
	}
}

/* Returns -1 to go on, or the exit status. */
static int parse_cli(struct rc_cli *c, int argc, char **argv)
{
	opterr = 0; /* usage_error() speaks instead */
	for (;;) {
		/* getopt reads argv[optind] next, or the rest of a group there. */
		const char *word = optind < argc ? argv[optind] : "";
		int opt = getopt_long(argc, argv, short_options, long_options, NULL);
		if (opt == -1)
			break;
		int status = parse_option(c, opt, word);
		if (status >= 0)
			return status;
	}
	/* After "--", every word is positional. */
	for (; optind < argc; optind++)
		add_word(c, argv[optind]);
	return -1;
}

/* NAME becomes a record the daemon may keep as a file of its own: one
 * word, no '/', not hidden, not an option. Returns -1 or the exit status. */
static int check_name(const char *name)
{
	char buf[REQUEST_PROBLEM_MAX];
	const char *problem = request_word_problem(name, buf, sizeof(buf));
	struct shown sh;

	if (!problem && strchr(name, '/'))
		problem = "holds a '/'";
	else if (!problem && (name[0] == '-' || name[0] == '.'))
		problem = name[0] == '-' ? "starts with '-'" : "starts with '.'";
	if (!problem)
		return -1;
	return usage_error(RC_EXIT_FAILED,
			   "NAME '%s' %s; give the interface, alone or with a prefix or suffix"
			   " (eth0, eth0.dhclient, tun.wg0)",
			   request_show(name, &sh), problem);
}

/* Reads one line into buf (without its newline). Returns false at the end
 * of the input. *cut: the line did not fit (the rest was read and
 * dropped); *nul: it held a NUL byte, which no text line does. */
static bool read_line(FILE *in, char *buf, size_t size, bool *cut, bool *nul)
{
	size_t len = 0;
	int ch;

	*cut = false;
	*nul = false;
	while ((ch = getc(in)) != EOF && ch != '\n') {
		if (ch == '\0')
			*nul = true;
		if (len + 1 < size)
			buf[len++] = (char)ch;
		else
			*cut = true;
	}
	buf[len] = '\0';
	return ch != EOF || len > 0 || *cut || *nul;
}

/* Adds word to a list unless it is there already. Returns false when it
 * does not fit. */
static bool entries_add(struct rc_entries *e, const char **list, size_t *n, const char *word)
{
	size_t size = strlen(word) + 1;

	for (size_t i = 0; i < *n; i++) {
		if (strcmp(list[i], word) == 0)
			return true;
	}
	if (*n == RC_ENTRIES_MAX || e->used + size > sizeof(e->text))
		return false;
	memcpy(e->text + e->used, word, size);
	list[(*n)++] = e->text + e->used;
	e->used += size;
	return true;
}

static int too_many(void)
{
	return fail(RC_EXIT_FAILED,
		    "too many nameserver and search entries for one request (at most %d bytes"
		    " and %d words); give fewer",
		    CONTROL_REQUEST_MAX, CONTROL_MAX_ARGS);
}

/* The words of one "nameserver", "search" or "domain" line, after the
 * keyword. Returns -1 or the exit status. */
static int read_values(struct rc_entries *e, bool nameserver, char **save, size_t line)
{
	char buf[REQUEST_PROBLEM_MAX];
	struct shown sh;
	char *word;

	while ((word = strtok_r(NULL, RC_BLANKS, save))) {
		/* Not resolv.conf(5), which has comments on lines of their
		 * own, but people write them; no address or domain starts so. */
		if (word[0] == '#' || word[0] == ';')
			break;
		const char *problem = request_word_problem(word, buf, sizeof(buf));
		if (!problem && word[0] == '-')
			problem = "starts with '-'";
		if (problem)
			return fail(RC_EXIT_FAILED, "stdin line %zu: '%s' %s", line,
				    request_show(word, &sh), problem);
		bool fits = nameserver
				    ? entries_add(e, e->nameservers, &e->n_nameservers, word)
				    : entries_add(e, e->searches, &e->n_searches, word);
		if (!fits)
			return too_many();
	}
	return -1;
}

/* resolv.conf lines, as resolvconf's callers write them: "nameserver
 * ADDR" (a link-local ADDR may carry its "%IFACE"), "search DOMAIN...",
 * "domain DOMAIN" (a search domain too, as systemd takes it); "#" and ";"
 * start comments; other keywords (options, sortlist) mean nothing to a
 * stub resolver and are skipped. Returns -1 or the exit status. */
static int read_entries(FILE *in, struct rc_entries *e)
{
	char line[RC_LINE_MAX];
	bool cut, nul;

	for (size_t n = 1; read_line(in, line, sizeof(line), &cut, &nul); n++) {
		char *save = NULL;
		char *keyword = strtok_r(line, RC_BLANKS, &save);
		bool nameserver;

		if (nul)
			return fail(RC_EXIT_FAILED, "stdin line %zu holds a NUL byte; give"
						    " resolv.conf lines, which are text", n);
		if (!keyword || keyword[0] == '#' || keyword[0] == ';')
			continue;
		if (strcmp(keyword, "nameserver") == 0)
			nameserver = true;
		else if (strcmp(keyword, "search") == 0 || strcmp(keyword, "domain") == 0)
			nameserver = false;
		else
			continue;
		if (cut)
			return fail(RC_EXIT_FAILED, "stdin line %zu is longer than %d bytes", n,
				    RC_LINE_MAX - 1);
		int status = read_values(e, nameserver, &save, n);
		if (status >= 0)
			return status;
	}
	if (ferror(in))
		return fail(RC_EXIT_FAILED, "cannot read stdin: %s", strerror(errno));
	return -1;
}

/* The request (control_proto.h):
 *     resolvconf-add NAME [--exclusive] [--if-exists] [--nameserver ADDR]... [--search DOMAIN]...
 *     resolvconf-del NAME [--if-exists]
 * Returns -1, or the exit status when it does not fit. */
static int build_request(struct request *r, const struct rc_cli *c, const struct rc_entries *e)
{
	request_start(r, "text", control_verbs[c->mode == RC_ADD ? CONTROL_VERB_RESOLVCONF_ADD
							       : CONTROL_VERB_RESOLVCONF_DEL].name);
	request_add(r, c->name, false);
	if (c->mode == RC_ADD && c->exclusive)
		request_add(r, "--exclusive", false);
	if (c->if_exists)
		request_add(r, "--if-exists", false);
	for (size_t i = 0; e && i < e->n_nameservers; i++) {
		request_add(r, "--nameserver", false);
		request_add(r, e->nameservers[i], false);
	}
	for (size_t i = 0; e && i < e->n_searches; i++) {
		request_add(r, "--search", false);
		request_add(r, e->searches[i], false);
	}
	return request_end(r) == 0 ? -1 : too_many();
}

/* -s is not resolvconf's: the environment, else the default (SPEC). */
static const char *socket_path(void)
{
	const char *env = getenv("STUBCTL_SOCKET");

	return env && *env ? env : CONFIG_DEFAULT_CONTROL;
}

int resolvconf_main(int argc, char **argv)
{
	struct rc_cli c = { .mode = RC_NONE };
	struct rc_entries *entries = NULL;
	struct request req;
	struct client_call call = { .program = PROGRAM,
				    .socket_path = socket_path(),
				    .socket_option = "STUBCTL_SOCKET=SOCKET" };
	int status = parse_cli(&c, argc, argv);

	if (status >= 0)
		return status;
	if (c.help) {
		usage(stdout);
		return RC_EXIT_OK;
	}
	if (c.version) {
		/* conf/dhclient-enter-hook knows stubd's resolvconf by this. */
		printf(PROGRAM " (stubd) %s\n", STUBD_VERSION);
		return RC_EXIT_OK;
	}
	if (c.mode == RC_NONE && c.no_op)
		return RC_EXIT_OK;
	if (c.mode == RC_NONE)
		return usage_error(RC_EXIT_UNKNOWN, "no command given: -a NAME (with resolv.conf"
						    " lines on stdin) or -d NAME");
	if (!c.name) {
		const char *flag = c.mode == RC_ADD ? "-a" : "-d";
		return usage_error(RC_EXIT_FAILED,
				   "%s needs a NAME, e.g. '" PROGRAM " %s eth0.dhclient'", flag, flag);
	}
	if (c.extra) {
		struct shown sh;
		return usage_error(RC_EXIT_FAILED, "unexpected argument '%s': give one NAME",
				   request_show(c.extra, &sh));
	}
	status = check_name(c.name);
	if (status >= 0)
		return status;

	if (c.mode == RC_ADD) {
		entries = calloc(1, sizeof(*entries));
		if (!entries)
			return fail(RC_EXIT_FAILED, "out of memory");
		status = read_entries(stdin, entries);
		if (status < 0 && entries->n_nameservers == 0)
			status = fail(RC_EXIT_FAILED,
				      "no nameserver line on stdin, so nothing to add for %s (to"
				      " remove what it had: " PROGRAM " -d %s)",
				      c.name, c.name);
	}
	if (status < 0)
		status = build_request(&req, &c, entries);
	free(entries);
	if (status >= 0)
		return status;

	/* A daemon that goes away early must show up as EPIPE, which
	 * client.c handles, not kill us silently. */
	signal(SIGPIPE, SIG_IGN);
	/* resolvconf's callers know 0 and 1 only; client.c has said why. */
	return client_run(&call, req.buf, req.len) == CONTROL_EXIT_OK ? RC_EXIT_OK : RC_EXIT_FAILED;
}
