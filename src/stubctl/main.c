/* main.c - stubctl, the command line of stubd's control socket.
 *
 * Owns the command line: parses and checks every command and argument
 * here, before any connection, so that a usage error is exit 2 even when
 * no daemon runs; picks the output format; and turns the command into the
 * one request line of control_proto.h, in a single canonical form. The
 * conversation with the daemon is client.c's. The daemon renders every
 * answer (text, colour or JSON); stubctl only relays it.
 *
 * Exit status (SPEC.md): 0 success, 1 the command failed, 2 usage error,
 * 3 the daemon is not reachable.
 */
#include <ctype.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "stubd/config.h"
#include "stubd/control_proto.h"
#include "stubd/version.h"

#define PROGRAM "stubctl"

/* Longest word on the request line: a DNS name in text form fits. */
#define WORD_MAX 255

/* -t TYPE pairs that fit in CONTROL_MAX_ARGS beside NAME and --no-cache. */
#define TYPES_MAX ((CONTROL_MAX_ARGS - 2) / 2)

/* What a command takes besides the global options. */
enum command_args {
	ARGS_NONE,  /* nothing */
	ARGS_QUERY, /* NAME [-t TYPE]... [--no-cache] */
	ARGS_FLUSH, /* [NAME] [--zone] */
};

struct command {
	const char *name;     /* the word on the command line and on the wire */
	const char *synopsis; /* for --help */
	const char *summary;  /* for --help, one line */
	enum command_args args;
};

static const struct command commands[] = {
	{ "status", "status", "daemon, listeners, upstreams and cache", ARGS_NONE },
	{ "query", "query NAME [-t TYPE]... [--no-cache]",
	  "resolve NAME (types default to A, AAAA)", ARGS_QUERY },
	{ "flush-cache", "flush-cache [NAME] [--zone]", "drop cached answers: all, or NAME's",
	  ARGS_FLUSH },
	{ "statistics", "statistics", "query, cache and upstream counters", ARGS_NONE },
	{ "reset-statistics", "reset-statistics", "set the counters back to zero", ARGS_NONE },
	{ "reload", "reload", "re-read config and hosts (like SIGHUP)", ARGS_NONE },
	{ "dump-cache", "dump-cache", "list the cached answers and their TTLs", ARGS_NONE },
};
#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

/* The command line as given; the strings point into argv. */
struct cli {
	const char *socket; /* -s; NULL: $STUBCTL_SOCKET, else the default */
	bool json, no_cache, zone, help, version;
	const char *words[3]; /* the first positional words: COMMAND, NAME, an extra */
	size_t n_words;       /* all positional words, kept or not */
	const char *types[TYPES_MAX];
	size_t n_types;
};

enum { OPT_JSON = 256, OPT_NO_CACHE, OPT_ZONE, OPT_VERSION };

/* '-' first: getopt hands back every word in order, so options may come
 * after the command whatever POSIXLY_CORRECT says. ':' next: a missing
 * value is told apart from an unknown option. */
static const char short_options[] = "-:s:t:h";
static const struct option long_options[] = {
	{ "socket", required_argument, NULL, 's' },
	{ "json", no_argument, NULL, OPT_JSON },
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
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %-36s  %s\n", commands[i].synopsis, commands[i].summary);
	fputs("\n"
	      "Options (before or after the command):\n"
	      "  -s, --socket SOCKET  stubd's control socket (default $STUBCTL_SOCKET,\n"
	      "                       else " CONFIG_DEFAULT_CONTROL ")\n"
	      "      --json           print one JSON object instead of text\n"
	      "  -t, --type TYPE      query: record type, e.g. A, AAAA, MX, TXT, TYPE65;\n"
	      "                       repeatable\n"
	      "      --no-cache       query: do not answer from the cache\n"
	      "      --zone           flush-cache: NAME and every name below it\n"
	      "  -h, --help           print this help and exit\n"
	      "      --version        print the version and exit\n"
	      "\n"
	      "Colour is used on a terminal unless NO_COLOR is set or TERM is dumb.\n"
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

/* A word as a message may show it: control bytes as \xNN, cut after
 * SHOW_MAX bytes, so that an odd argument cannot garble the terminal. */
#define SHOW_MAX 48
struct shown {
	char s[SHOW_MAX * 4 + 4];
};

static const char *show(const char *word, struct shown *out)
{
	size_t i, o = 0;

	for (i = 0; word[i] != '\0' && i < SHOW_MAX; i++) {
		unsigned char c = (unsigned char)word[i];
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(out->s + o, 5, "\\x%02x", c);
		else
			out->s[o++] = (char)c;
	}
	if (word[i] != '\0') {
		memcpy(out->s + o, "...", 3);
		o += 3;
	}
	out->s[o] = '\0';
	return out->s;
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
	if (c->n_words < sizeof(c->words) / sizeof(c->words[0]))
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
 * it must be there, fit, and hold no blank or control byte. */
static int check_word(const char *what, const char *word)
{
	struct shown sh;
	size_t len = strlen(word);

	if (len == 0)
		return usage_error("empty %s", what);
	if (len > WORD_MAX)
		return usage_error("%s '%s' is too long (%zu bytes, at most %d)", what,
				   show(word, &sh), len, WORD_MAX);
	for (const unsigned char *p = (const unsigned char *)word; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f)
			return usage_error("%s '%s' contains a blank or control character;"
					   " give it as one word",
					   what, show(word, &sh));
	}
	return 0;
}

/* On the wire a NAME starting with '-' would read as an option. */
static int check_name(const char *name)
{
	struct shown sh;

	if (check_word("NAME", name) < 0)
		return -1;
	if (name[0] == '-')
		return usage_error("NAME '%s' starts with '-'; give a domain name", show(name, &sh));
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

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++) {
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	}
	return NULL;
}

/* The options that belong to one command only are refused elsewhere. */
static int check_options(const struct command *cmd, const struct cli *c)
{
	if (c->n_types > 0 && cmd->args != ARGS_QUERY)
		return usage_error("-t/--type is for 'query' only, not '%s'", cmd->name);
	if (c->no_cache && cmd->args != ARGS_QUERY)
		return usage_error("--no-cache is for 'query' only, not '%s'", cmd->name);
	if (c->zone && cmd->args != ARGS_FLUSH)
		return usage_error("--zone is for 'flush-cache' only, not '%s'", cmd->name);
	return 0;
}

static int check_args(const struct command *cmd, const struct cli *c)
{
	struct shown sh;
	size_t max_names = cmd->args == ARGS_NONE ? 0 : 1;
	size_t n_names = c->n_words - 1;

	if (check_options(cmd, c) < 0)
		return -1;
	if (n_names > max_names)
		return usage_error("unexpected argument '%s' after '%s'",
				   show(c->words[1 + max_names], &sh), cmd->name);
	if (cmd->args == ARGS_QUERY && n_names == 0)
		return usage_error("'query' needs a NAME, e.g. '" PROGRAM " query example.com'");
	if (c->zone && n_names == 0)
		return usage_error("--zone needs a NAME, e.g. '" PROGRAM
				   " flush-cache example.com --zone'");
	if (n_names == 1 && check_name(c->words[1]) < 0)
		return -1;
	for (size_t i = 0; i < c->n_types; i++) {
		if (check_type(c->types[i]) < 0)
			return -1;
	}
	return 0;
}

/* Sets *cmd to the command the words name, once they all check out. */
static int check_cli(const struct cli *c, const struct command **cmd)
{
	struct shown sh;

	if (c->n_words == 0)
		return usage_error("no command given");
	*cmd = find_command(c->words[0]);
	if (!*cmd)
		return usage_error("unknown command '%s'", show(c->words[0], &sh));
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

/* The request line, with room for its newline. */
struct request {
	char buf[CONTROL_REQUEST_MAX];
	size_t len;
	bool overflow;
};

static void request_add(struct request *r, const char *word, bool upper)
{
	size_t n = strlen(word);
	size_t sep = r->len > 0 ? 1 : 0;

	/* + 1: the newline must still fit at the end. */
	if (r->overflow || r->len + sep + n + 1 > sizeof(r->buf)) {
		r->overflow = true;
		return;
	}
	if (sep)
		r->buf[r->len++] = ' ';
	for (size_t i = 0; i < n; i++)
		r->buf[r->len++] = upper ? (char)toupper((unsigned char)word[i]) : word[i];
}

/* One canonical form whatever the user's order and spelling, so the daemon
 * parses one shape only:
 *     STUBCTL1 FORMAT COMMAND [NAME] [-t TYPE]... [--no-cache] [--zone]
 * with the types in the user's order, upper-cased. */
static int build_request(struct request *r, const struct command *cmd, const struct cli *c)
{
	request_add(r, CONTROL_MAGIC, false);
	request_add(r, output_format(c->json), false);
	request_add(r, cmd->name, false);
	if (c->n_words > 1)
		request_add(r, c->words[1], false);
	for (size_t i = 0; i < c->n_types; i++) {
		request_add(r, "-t", false);
		request_add(r, c->types[i], true);
	}
	if (c->no_cache)
		request_add(r, "--no-cache", false);
	if (c->zone)
		request_add(r, "--zone", false);
	if (r->overflow)
		return usage_error("the request is too long (at most %d bytes); give fewer or"
				   " shorter arguments",
				   CONTROL_REQUEST_MAX);
	r->buf[r->len++] = '\n';
	return 0;
}

int main(int argc, char **argv)
{
	struct cli c = { 0 };
	struct request req = { .len = 0 };
	const struct command *cmd = NULL;
	const char *path;

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
	path = socket_path(&c);
	if (check_cli(&c, &cmd) < 0 || check_socket_path(path) < 0 ||
	    build_request(&req, cmd, &c) < 0)
		return CONTROL_EXIT_USAGE;

	/* A daemon or a reader of our output that goes away early must show
	 * up as EPIPE, which client.c handles, not kill stubctl silently. */
	signal(SIGPIPE, SIG_IGN);
	return client_run(path, req.buf, req.len, c.json);
}
