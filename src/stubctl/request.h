/* request.h - the one request line stubctl sends (control_proto.h):
 * words joined by single spaces, each checked to travel as one word, the
 * whole kept within CONTROL_REQUEST_MAX bytes and CONTROL_MAX_ARGS words.
 *
 * Shared by stubctl's own command line (main.c) and its resolvconf
 * personality (resolvconf.c), which word their messages differently: this
 * module says what is wrong, they say it to the user. No I/O.
 */
#ifndef STUBCTL_REQUEST_H
#define STUBCTL_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

#include "stubd/control_proto.h"

/* Longest word on the request line: a DNS name in text form fits. */
#define REQUEST_WORD_MAX 255

/* Lives on the caller's stack; request_start() sets every field. */
struct request {
	char buf[CONTROL_REQUEST_MAX]; /* the line, newline included once ended */
	size_t len;
	size_t n_args;  /* words after the command */
	bool too_long;  /* a word did not fit in CONTROL_REQUEST_MAX */
	bool too_many;  /* more than CONTROL_MAX_ARGS words after the command */
};

/* "STUBCTL1 FORMAT COMMAND": format is text, color or json. */
void request_start(struct request *r, const char *format, const char *command);

/* Appends one word (the caller checked it with request_word_problem);
 * upper: upper-cased on the way (record types). Past a limit, the request
 * only remembers that it overflowed. */
void request_add(struct request *r, const char *word, bool upper);

/* Ends the line with its newline. Returns 0, -EMSGSIZE when it is longer
 * than CONTROL_REQUEST_MAX bytes, or -E2BIG when it has more than
 * CONTROL_MAX_ARGS words after the command. */
int request_end(struct request *r);

/* NULL when word may travel as one word; else what is wrong with it, as
 * a phrase to follow the word in a message: "is empty", "is too long
 * (300 bytes, at most 255)", "contains a blank or control character".
 * The phrase may be written in buf (REQUEST_PROBLEM_MAX bytes will do). */
#define REQUEST_PROBLEM_MAX 64
const char *request_word_problem(const char *word, char *buf, size_t size);

/* A word as a message may show it: control bytes as \xNN, cut after
 * REQUEST_SHOW_MAX bytes, so that an odd argument cannot garble the
 * terminal. Returns out->s. */
#define REQUEST_SHOW_MAX 48
struct shown {
	char s[REQUEST_SHOW_MAX * 4 + 4];
};
const char *request_show(const char *word, struct shown *out);

#endif
