/* why.h - the "why" a function fills in when it fails, in one way.
 *
 * Parsers and loaders report a failure as a negative errno and a phrase
 * for the user ("'x' is not an IP address"): the caller passes a buffer,
 * or NULL when it only wants the errno. Header-only.
 */
#ifndef STUBD_WHY_H
#define STUBD_WHY_H

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>

/* Formats the phrase into why (when there is one, cut to why_size) and
 * returns err, so that a failure is one statement: return why_set(...). */
static inline int why_set(char *why, size_t why_size, int err, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int why_set(char *why, size_t why_size, int err, const char *fmt, ...)
{
	if (why && why_size > 0) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(why, why_size, fmt, ap);
		va_end(ap);
	}
	return err;
}

#endif
