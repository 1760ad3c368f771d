/* main.c - stubd's entry point: settings, then the daemon, then exit status
 * per SPEC.md (0 clean shutdown, 1 runtime failure, 2 usage or config error). */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "stubd/config.h"
#include "stubd/daemon.h"
#include "stubd/log.h"
#include "stubd/version.h"

enum { EXIT_RUNTIME = 1, EXIT_USAGE = 2 };

/* Detaches after the sockets are open, so that errors such as "address in
 * use" still reach the terminal and the exit status; what follows goes to
 * syslog. */
static int detach(struct daemon *d)
{
	if (daemon(0, 0) < 0) {
		log_err("cannot detach into the background: %m");
		return -1;
	}
	log_detached();
	if (event_reinit(d->base) < 0) {
		log_err("cannot re-initialize the event loop after detaching");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct config cfg;
	struct config_error err;
	enum config_action action;

	log_init();
	if (config_from_args(&cfg, argc, argv, &action, &err) < 0) {
		fprintf(stderr, "stubd: %s\n", err.msg);
		/* A script reads stdout: it gets the error there too. */
		if (action == CONFIG_ACTION_CHECK_JSON)
			config_print_json_error(err.msg, stdout);
		return EXIT_USAGE;
	}
	switch (action) {
	case CONFIG_ACTION_HELP:
		config_usage(stdout);
		return 0;
	case CONFIG_ACTION_VERSION:
		printf("stubd %s\n", STUBD_VERSION);
		return 0;
	case CONFIG_ACTION_CHECK:
		config_print(&cfg, stdout);
		return 0;
	case CONFIG_ACTION_CHECK_JSON:
		config_print_json(&cfg, stdout);
		return 0;
	case CONFIG_ACTION_RUN:
		break;
	}
	log_set_level(cfg.log_level);

	struct daemon d;
	int status = 0;
	if (daemon_init(&d, &cfg, argc, argv, &err) < 0) {
		fprintf(stderr, "stubd: %s\n", err.msg);
		status = EXIT_RUNTIME;
	} else if (!cfg.foreground && detach(&d) < 0) {
		status = EXIT_RUNTIME;
	} else {
		status = daemon_run(&d);
	}
	daemon_fini(&d);
	return status;
}
