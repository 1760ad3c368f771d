/* main.c - stubctl, the command line of stubd's control socket.
 *
 * Owns the command line: parses and checks every command and argument
 * here, before any connection, so that a usage error is exit 2 even when
 * no daemon runs; picks the output format; and turns the command into the
 * one request line of control_proto.h, in a single canonical form. The
 * conversation with the daemon is client.c's. The daemon renders every
 * answer (text, colour or JSON); stubctl only relays it. Run under the
 * name "resolvconf", it hands over to resolvconf.c instead.
 *
 * Exit status (SPEC.md): 0 success, 1 the command failed, 2 usage error,
 * 3 the daemon is not reachable.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "request.h"
#include "resolvconf.h"
#include "stubd/config.h"
#include "stubd/control_proto.h"
#include "stubd/control_verbs.h"
#include "stubd/version.h"

#define PROGRAM "stubctl"

/* The daemon answers at most this many types in one query. */
#define TYPES_MAX 8

/* The kernel's rule for an interface name (dev_valid_name()): 1 to
 * IFNAMSIZ - 1 bytes, no '/', ':' or blank, neither "." nor "..". */
#define IFACE_NAME_MAX 15

/* The commands: control_verbs.h's table, shared with stubd. */
typedef struct control_verb_info command_t;

/* Positional words kept: the command and as many as a request carries. */
#define WORDS_MAX (1 + CONTROL_MAX_ARGS)

/* The command line as given; the strings point into argv. */
struct cli {
	const char *socket; /* -s; NULL: $STUBCTL_SOCKET, else the default */
	bool json, prometheus, no_cache, zone, help, version;
	const char *words[WORDS_MAX]; /* the positional words, COMMAND first */
	size_t n_words;               /* all positional words, kept or not */
	const char *types[TYPES_MAX];
	size_t n_types;
};

enum { OPT_JSON = 256, OPT_PROMETHEUS, OPT_NO_CACHE, OPT_ZONE, OPT_VERSION };

/* '-' first: getopt hands back every word in order, so options may come
 * after the command whatever POSIXLY_CORRECT says. ':' next: a missing
 * value is told apart from an unknown option. */
static const char short_options[] = "-:s:t:h";
static const struct option long_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "prometheus", no_argument, NULL, OPT_PROMETHEUS },
	{ "type", required_argument, NULL, 't' },
	{ "no-cache", no_argument, NULL, OPT_NO_CACHE },
	{ "zone", no_argument, NULL, OPT_ZONE },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void usage(FILE *out)
{
	fputs("Usage: " PROGRAM " [-s SOCKET] [--json] COMMAND [ARGS]\n"
	      "\n"
	      "Asks stubd, the caching DNS stub resolver, over its control socket.\n"
	      "\n"
	      "Commands:\n",
	      out);
	for (size_t i = 0; i < CONTROL_VERB_COUNT_; i++)
		if (control_verbs[i].synopsis) /* not the resolvconf personality's */
			fprintf(out, "  %-36s  %s\n", control_verbs[i].synopsis,
				control_verbs[i].summary);
	fputs("\n"
	      "IFACE is a network interface's name or index. SERVER is written as\n"
	      "ADDR[:PORT][%IFACE][#NAME], IPv6 with a port as [ADDR]:PORT.\n"
	      "\n"
	      "Options (before or after the command):\n"
	      "  -s, --socket SOCKET  stubd's control socket (default $STUBCTL_SOCKET,\n"
	      "                       else " CONFIG_DEFAULT_CONTROL ")\n"
	      "      --json           print one JSON object instead of text\n"
	      "      --prometheus     statistics: Prometheus' text format, for node_exporter\n"
	      "  -t, --type TYPE      query: record type, e.g. A, AAAA, MX, TXT, TYPE65;\n"
	      "                       repeatable, up to 8 times\n"
	      "      --no-cache       query: do not answer from the cache\n"
	      "      --zone           flush-cache: NAME and every name below it\n"
	      "  -h, --help           print this help and exit\n"
	      "      --version        print the version and exit\n"
	      "\n"
	      "Colour is used on a terminal unless NO_COLOR is set or TERM is dumb.\n"
	      "\n"
	      "statistics --prometheus prints the counters for node_exporter's textfile\n"
	      "collector, which reads DIR/*.prom (DIR: the directory it is given,\n"
	      "/var/lib/prometheus/node-exporter on Debian). Write another name and\n"
	      "rename it, so that the collector never reads half a file:\n"
	      "  " PROGRAM " statistics --prometheus >DIR/stubd.prom.$$ &&\n"
	      "    mv DIR/stubd.prom.$$ DIR/stubd.prom\n"
	      "\n"
	      "Run as 'resolvconf' (a link to " PROGRAM "), it takes resolvconf(8)'s command\n"
	      "line instead: see 'resolvconf --help'.\n"
	      "Exit status: 0 success, 1 the command failed or the name did not resolve,\n"
	      "2 usage error, 3 stubd is not reachable.\n",
	      out);
}

/* Says what is wrong and where to look; returns -1 for the caller to pass
 * up. Every usage error goes through here, so all end the same way. */
__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs(PROGRAM ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("; run '" PROGRAM " --help' for usage\n", stderr);
	return -1;
}

static const char *show(const char *word, struct shown *out)
{
	return request_show(word, out);
}

/* The option as the user wrote it: the whole word for a long one, "-x"
 * for a short one (which may sit inside a group such as "-jx"). */
static const char *bad_option(const char *word, char *buf, size_t size)
{
	if (strncmp(word, "--", 2) == 0 || optopt <= 0 || optopt > 127)
		return word;
	snprintf(buf, size, "-%c", optopt);
	return buf;
}

static void add_word(struct cli *c, const char *word)
{
	if (c->n_words < WORDS_MAX)
		c->words[c->n_words] = word;
	c->n_words++;
}

/* word: the argv element getopt was reading, for messages. */
static int parse_option(struct cli *c, int opt, const char *word)
{
	char buf[8];
	struct shown sh;

	switch (opt) {
	case 1: /* a positional word, in order (the '-' of short_options) */
		add_word(c, optarg);
		return 0;
	case 's':
		c->socket = optarg;
		return 0;
	case 't':
		if (c->n_types == TYPES_MAX)
			return usage_error("too many types: at most %d -t options", TYPES_MAX);
		c->types[c->n_types++] = optarg;
		return 0;
	case OPT_JSON:
		c->json = true;
		return 0;
	case OPT_PROMETHEUS:
		c->prometheus = true;
		return 0;
	case OPT_NO_CACHE:
		c->no_cache = true;
		return 0;
	case OPT_ZONE:
		c->zone = true;
		return 0;
	case 'h':
		c->help = true;
		return 0;
	case OPT_VERSION:
		c->version = true;
		return 0;
	case ':':
		return usage_error("option '%s' needs a value",
				   show(bad_option(word, buf, sizeof(buf)), &sh));
	default:
		return usage_error("unknown option '%s'",
				   show(bad_option(word, buf, sizeof(buf)), &sh));
	}
}

static int parse_cli(struct cli *c, int argc, char **argv)
{
	opterr = 0; /* usage_error() speaks instead */
	for (;;) {
		/* getopt reads argv[optind] next, or the rest of a group there. */
		const char *word = optind < argc ? argv[optind] : "";
		int opt = getopt_long(argc, argv, short_options, long_options, NULL);
		if (opt == -1)
			break;
		if (parse_option(c, opt, word) < 0)
			return -1;
	}
	/* After "--", every word is positional. */
	for (; optind < argc; optind++)
		add_word(c, argv[optind]);
	return 0;
}

/* Every word travels inside one space-separated line (control_proto.h):
 * it must be there, fit, and hold no blank or control byte. On the wire a
 * word starting with '-' would read as an option, and no name, interface,
 * server or domain starts so. */
static int check_word(const char *what, const char *word)
{
	char buf[REQUEST_PROBLEM_MAX];
	const char *problem = request_word_problem(word, buf, sizeof(buf));
	struct shown sh;

	if (problem)
		return usage_error("%s '%s' %s", what, show(word, &sh), problem);
	if (word[0] == '-')
		return usage_error("%s '%s' starts with '-'", what, show(word, &sh));
	return 0;
}

/* IFACE: a name the kernel could give an interface, or an index (digits,
 * which make such a name too); which interfaces exist is the daemon's to
 * say. */
static int check_iface(const char *iface)
{
	struct shown sh;
	const char *why = NULL;

	if (check_word("IFACE", iface) < 0)
		return -1;
	if (strlen(iface) > IFACE_NAME_MAX)
		why = "longer than an interface name can be (15 bytes)";
	else if (strcmp(iface, ".") == 0 || strcmp(iface, "..") == 0)
		why = "not a name an interface can have";
	else if (strpbrk(iface, "/:"))
		why = "not an interface name (those hold no '/' or ':')";
	if (why)
		return usage_error("IFACE '%s' is %s; give an interface's name or index"
				   " ('ip link' lists them)",
				   show(iface, &sh), why);
	return 0;
}

/* Mnemonics (A, MX, HTTPS, ...) and RFC 3597 TYPEnnn are all letters and
 * digits; which ones exist is the daemon's to say. */
static int check_type(const char *type)
{
	struct shown sh;

	if (check_word("TYPE", type) < 0)
		return -1;
	for (const char *p = type; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p))
			return usage_error("'%s' is not a record type; give a mnemonic such as"
					   " A, AAAA, MX or TXT, or TYPEnnn",
					   show(type, &sh));
	}
	return 0;
}

/* resolvectl's booleans (systemd's parse_boolean()): 1 yes, 0 no, -1
 * neither. */
static int parse_bool(const char *word)
{
	static const char *const yes[] = { "1", "yes", "y", "true", "t", "on" };
	static const char *const no[] = { "0", "no", "n", "false", "f", "off" };

	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		if (strcasecmp(word, yes[i]) == 0)
			return 1;
		if (strcasecmp(word, no[i]) == 0)
			return 0;
	}
	return -1;
}

static const command_t *find_command(const char *name)
{
	int v = control_verb_find(name);
	/* resolvconf-add and -del are built by the resolvconf personality. */
	return v >= 0 && control_verbs[v].synopsis ? &control_verbs[v] : NULL;
}

/* The options that belong to one command only are refused elsewhere. */
static int check_options(const command_t *cmd, const struct cli *c)
{
	if (c->n_types > 0 && cmd->args != CONTROL_ARGS_QUERY)
		return usage_error("-t/--type is for 'query' only, not '%s'", cmd->name);
	if (c->no_cache && cmd->args != CONTROL_ARGS_QUERY)
		return usage_error("--no-cache is for 'query' only, not '%s'", cmd->name);
	if (c->zone && cmd->args != CONTROL_ARGS_FLUSH)
		return usage_error("--zone is for 'flush-cache' only, not '%s'", cmd->name);
	if (c->prometheus && cmd->args != CONTROL_ARGS_STATISTICS)
		return usage_error("--prometheus is for 'statistics' only, not '%s'", cmd->name);
	if (c->prometheus && c->json)
		return usage_error("--json and --prometheus are two output formats: give one");
	return 0;
}

/* At most max words after the command. */
static int check_count(const command_t *cmd, const struct cli *c, size_t max)
{
	struct shown sh;

	if (c->n_words - 1 > max)
		return usage_error("unexpected argument '%s' after '%s'",
				   show(c->words[1 + max], &sh), cmd->name);
	return 0;
}

/* query and flush-cache: NAME (which flush-cache may leave out), types. */
static int check_name_args(const command_t *cmd, const struct cli *c)
{
	size_t n = c->n_words - 1;

	if (check_count(cmd, c, 1) < 0)
		return -1;
	if (cmd->args == CONTROL_ARGS_QUERY && n == 0)
		return usage_error("'query' needs a NAME, e.g. '" PROGRAM " query example.com'");
	if (c->zone && n == 0)
		return usage_error("--zone needs a NAME, e.g. '" PROGRAM
				   " flush-cache example.com --zone'");
	if (n == 1 && check_word("NAME", c->words[1]) < 0)
		return -1;
	for (size_t i = 0; i < c->n_types; i++) {
		if (check_type(c->types[i]) < 0)
			return -1;
	}
	return 0;
}

/* dns and domain: nothing (every interface), IFACE (show it), IFACE and
 * values (set them), or IFACE and one empty word (set to none), as
 * resolvectl takes them. */
static int check_link_list(const command_t *cmd, const struct cli *c)
{
	size_t n = c->n_words - 1;

	if (n >= 1 && check_iface(c->words[1]) < 0)
		return -1;
	if (n == 2 && c->words[2][0] == '\0')
		return 0;
	for (size_t i = 2; i <= n; i++) {
		if (c->words[i][0] == '\0')
			return usage_error("an empty %s clears the list and must come alone, as in"
					   " '" PROGRAM " %s %s \"\"'",
					   cmd->value, cmd->name, c->words[1]);
		if (check_word(cmd->value, c->words[i]) < 0)
			return -1;
	}
	return 0;
}

/* default-route and revert: IFACE, and for default-route a boolean. */
static int check_link(const command_t *cmd, const struct cli *c)
{
	struct shown sh;
	size_t n = c->n_words - 1;

	if (n == 0)
		return usage_error("'%s' needs an IFACE, e.g. '%s'", cmd->name, cmd->example);
	if (check_count(cmd, c, cmd->args == CONTROL_ARGS_LINK_BOOL ? 2 : 1) < 0 ||
	    check_iface(c->words[1]) < 0)
		return -1;
	if (n == 2 && parse_bool(c->words[2]) < 0)
		return usage_error("'%s' is neither yes nor no (true/false, on/off and 1/0 do"
				   " too), e.g. '%s'",
				   show(c->words[2], &sh), cmd->example);
	return 0;
}

static int check_args(const command_t *cmd, const struct cli *c)
{
	if (check_options(cmd, c) < 0)
		return -1;
	switch (cmd->args) {
	case CONTROL_ARGS_NONE:
	case CONTROL_ARGS_STATISTICS:
		return check_count(cmd, c, 0);
	case CONTROL_ARGS_QUERY:
	case CONTROL_ARGS_FLUSH:
		return check_name_args(cmd, c);
	case CONTROL_ARGS_LINK_LIST:
		return check_link_list(cmd, c);
	case CONTROL_ARGS_LINK_BOOL:
	case CONTROL_ARGS_LINK:
		return check_link(cmd, c);
	case CONTROL_ARGS_RESOLVCONF: /* never typed: find_command() skips them */
		break;
	}
	return 0;
}

static int too_many_words(void)
{
	return usage_error("too many arguments (a request carries at most %d words after the"
			   " command)",
			   CONTROL_MAX_ARGS);
}

/* Sets *cmd to the command the words name, once they all check out. */
static int check_cli(const struct cli *c, const command_t **cmd)
{
	struct shown sh;

	if (c->n_words == 0)
		return usage_error("no command given");
	*cmd = find_command(c->words[0]);
	if (!*cmd)
		return usage_error("unknown command '%s'", show(c->words[0], &sh));
	if (c->n_words > WORDS_MAX)
		return too_many_words();
	return check_args(*cmd, c);
}

/* -s wins, then $STUBCTL_SOCKET when set and not empty, then the default. */
static const char *socket_path(const struct cli *c)
{
	const char *env = getenv("STUBCTL_SOCKET");

	if (c->socket)
		return c->socket;
	return env && *env ? env : CONFIG_DEFAULT_CONTROL;
}

static int check_socket_path(const char *path)
{
	struct sockaddr_un sun;
	struct shown sh;
	size_t len = strlen(path);

	if (len == 0)
		return usage_error("empty socket path");
	if (len >= sizeof(sun.sun_path))
		return usage_error("socket path '%s' is too long (%zu bytes; a unix socket path"
				   " has at most %zu)",
				   show(path, &sh), len, sizeof(sun.sun_path) - 1);
	return 0;
}

/* The FORMAT word: colour only for a person at a terminal that can show
 * it (https://no-color.org; TERM=dumb). */
static const char *output_format(bool json)
{
	const char *no_color = getenv("NO_COLOR");
	const char *term = getenv("TERM");

	if (json)
		return "json";
	if (!isatty(STDOUT_FILENO) || (no_color && *no_color) || (term && strcmp(term, "dumb") == 0))
		return "text";
	return "color";
}

/* One canonical form whatever the user's order and spelling, so the daemon
 * parses one shape only (control_proto.h):
 *     STUBCTL1 FORMAT COMMAND [NAME] [-t TYPE]... [--no-cache] [--zone]
 *     STUBCTL1 FORMAT statistics [--prometheus]
 * with the types in the user's order, upper-cased; and for the link
 * commands
 *     dns|domain [IFACE [--set [VALUE...]]]
 *     default-route IFACE [yes|no]
 *     revert IFACE
 * where a bare "--set" is the user's single '' (set to none). */
static int build_request(struct request *r, const command_t *cmd, const struct cli *c)
{
	size_t n = c->n_words - 1;
	const char *const *arg = c->words + 1;

	request_start(r, output_format(c->json), cmd->name);
	switch (cmd->args) {
	case CONTROL_ARGS_NONE:
		break;
	case CONTROL_ARGS_STATISTICS:
		if (c->prometheus)
			request_add(r, "--prometheus", false);
		break;
	case CONTROL_ARGS_QUERY:
	case CONTROL_ARGS_FLUSH:
		if (n > 0)
			request_add(r, arg[0], false);
		for (size_t i = 0; i < c->n_types; i++) {
			request_add(r, "-t", false);
			request_add(r, c->types[i], true);
		}
		if (c->no_cache)
			request_add(r, "--no-cache", false);
		if (c->zone)
			request_add(r, "--zone", false);
		break;
	case CONTROL_ARGS_LINK_LIST:
		if (n > 0)
			request_add(r, arg[0], false);
		if (n > 1)
			request_add(r, "--set", false);
		for (size_t i = 1; i < n; i++) {
			if (arg[i][0] != '\0')
				request_add(r, arg[i], false);
		}
		break;
	case CONTROL_ARGS_LINK_BOOL:
	case CONTROL_ARGS_LINK:
		request_add(r, arg[0], false);
		if (n > 1)
			request_add(r, parse_bool(arg[1]) ? "yes" : "no", false);
		break;
	case CONTROL_ARGS_RESOLVCONF:
		break;
	}
	switch (request_end(r)) {
	case 0:
		return 0;
	case -E2BIG:
		return too_many_words();
	default:
		return usage_error("the request is too long (at most %d bytes); give fewer or"
				   " shorter arguments",
				   CONTROL_REQUEST_MAX);
	}
}

/* The name stubctl was run as: argv[0] without its folders. */
static const char *run_as(int argc, char **argv)
{
	const char *slash;

	if (argc < 1 || !argv[0])
		return PROGRAM;
	slash = strrchr(argv[0], '/');
	return slash ? slash + 1 : argv[0];
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	struct request req;
	const command_t *cmd = NULL;
	struct client_call call = { .program = PROGRAM, .socket_option = "-s SOCKET" };

	if (strcmp(run_as(argc, argv), RESOLVCONF_PROGRAM) == 0)
		return resolvconf_main(argc, argv);
	if (parse_cli(&c, argc, argv) < 0)
		return CONTROL_EXIT_USAGE;
	if (c.help) {
		usage(stdout);
		return CONTROL_EXIT_OK;
	}
	if (c.version) {
		printf(PROGRAM " %s\n", STUBD_VERSION);
		return CONTROL_EXIT_OK;
	}
	call.socket_path = socket_path(&c);
	call.json = c.json;
	if (check_cli(&c, &cmd) < 0 || check_socket_path(call.socket_path) < 0 ||
	    build_request(&req, cmd, &c) < 0)
		return CONTROL_EXIT_USAGE;

	/* A daemon or a reader of our output that goes away early must show
	 * up as EPIPE, which client.c handles, not kill stubctl silently. */
	signal(SIGPIPE, SIG_IGN);
	return client_run(&call, req.buf, req.len);
}
