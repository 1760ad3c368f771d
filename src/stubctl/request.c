/* request.c - the request line: words joined, checked, kept within the
 * protocol's limits. See request.h.
 */
#include "request.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

static void append(struct request *r, const char *word, bool upper)
{
	size_t n = strlen(word);
	size_t sep = r->len > 0 ? 1 : 0;

	/* + 1: the newline must still fit at the end. */
	if (r->too_long || r->len + sep + n + 1 > sizeof(r->buf)) {
		r->too_long = true;
		return;
	}
	if (sep)
		r->buf[r->len++] = ' ';
	for (size_t i = 0; i < n; i++)
		r->buf[r->len++] = upper ? (char)toupper((unsigned char)word[i]) : word[i];
}

void request_start(struct request *r, const char *format, const char *command)
{
	r->len = 0;
	r->n_args = 0;
	r->too_long = false;
	r->too_many = false;
	append(r, CONTROL_MAGIC, false);
	append(r, format, false);
	append(r, command, false);
}

void request_add(struct request *r, const char *word, bool upper)
{
	/* The daemon refuses a line with more words than it takes; say so
	 * here instead, where the user can still be told what to shorten. */
	if (++r->n_args > CONTROL_MAX_ARGS)
		r->too_many = true;
	append(r, word, upper);
}

int request_end(struct request *r)
{
	if (r->too_many)
		return -E2BIG;
	if (r->too_long)
		return -EMSGSIZE;
	r->buf[r->len++] = '\n';
	return 0;
}

const char *request_word_problem(const char *word, char *buf, size_t size)
{
	size_t len = strlen(word);

	if (len == 0)
		return "is empty";
	if (len > REQUEST_WORD_MAX) {
		snprintf(buf, size, "is too long (%zu bytes, at most %d)", len, REQUEST_WORD_MAX);
		return buf;
	}
	/* A blank would split the word in two on the line, a newline would
	 * end the request early: neither can travel. */
	for (const unsigned char *p = (const unsigned char *)word; *p != '\0'; p++) {
		if (*p <= ' ' || *p == 0x7f)
			return "contains a blank or control character";
	}
	return NULL;
}

const char *request_show(const char *word, struct shown *out)
{
	size_t i, o = 0;

	for (i = 0; word[i] != '\0' && i < REQUEST_SHOW_MAX; i++) {
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
