/* report.h - what stubctl shows, built once and printed two ways: as an
 * aligned human table (with colour when asked) or as one JSON object.
 *
 * Owns the output buffer and the formatting rules, so no control command
 * writes text or JSON by hand and the two forms never drift apart. Callers
 * describe the content (sections, fields, tables, lines); report_finish()
 * returns the rendered text. Used by the control module in the daemon, and
 * by config for --check-config --json.
 */
#ifndef STUBD_REPORT_H
#define STUBD_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum report_format {
	REPORT_TEXT,     /* aligned plain text */
	REPORT_COLOR,    /* the same, with ANSI colour for headings and states */
	REPORT_JSON,     /* one JSON object, no trailing newline issues: ends with "\n" */
};

/* Colour hints for text values; ignored in JSON and plain text. */
enum report_tone {
	REPORT_TONE_NONE,
	REPORT_TONE_GOOD,   /* green: up, NOERROR */
	REPORT_TONE_BAD,    /* red: down, SERVFAIL, errors */
	REPORT_TONE_DIM,    /* grey: provenance lines, legends */
};

struct report;

/* NULL when memory runs out. Free with report_free(). */
struct report *report_new(enum report_format format);
void report_free(struct report *r);

/* Sections nest (at most 8 deep). key is the JSON member name
 * ("cache"); title the text heading ("Cache"). At the top level, a
 * section with a NULL title prints no heading. */
void report_begin(struct report *r, const char *key, const char *title);
void report_end(struct report *r);

/* Fields of the current section. Text: "  Title: value" lines, titles
 * aligned within the section. JSON: "key": value. A NULL title makes a
 * member for scripts only: JSON has it, text does not. */
void report_str(struct report *r, const char *key, const char *title, const char *value,
		enum report_tone tone);
void report_u64(struct report *r, const char *key, const char *title, uint64_t value);
void report_double(struct report *r, const char *key, const char *title, double value,
		   int decimals);
void report_bool(struct report *r, const char *key, const char *title, bool value);
/* A list of n strings: JSON an array ([] when n is 0), text one field
 * with the values joined by ", " ("-" when there are none). */
void report_list(struct report *r, const char *key, const char *title,
		 const char *const *values, size_t n);

/* A table: JSON an array of objects under key, one member per column;
 * text a heading, a header row and aligned rows. Cells are given as
 * strings; numeric columns (kinds 'n') are right-aligned in text and bare
 * numbers in JSON. kinds is a string with one letter per column: 's' text,
 * 'n' number, 'b' boolean (cells "true"/"false", bare in JSON). */
void report_table_begin(struct report *r, const char *key, const char *title, size_t ncols,
			const char *const *col_keys, const char *const *col_titles,
			const char *kinds);
void report_table_row(struct report *r, const char *const *cells, const enum report_tone *tones);
void report_table_end(struct report *r);

/* A free-form line of text, printed only in text formats (e.g. a legend
 * such as "-- Data from: cache, 12 s old"). */
void report_note(struct report *r, enum report_tone tone, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Ends the document (closes open sections and tables) and returns the
 * rendered text, NUL-terminated, owned by the report; len may be NULL.
 * After it every other call is ignored and it returns the same text again.
 * Limits: sections deeper than 8 are dropped with what is in them; tables
 * keep their first 24 columns; an open table ends at the next call that is
 * not a row. */
const char *report_finish(struct report *r, size_t *len);

#endif
