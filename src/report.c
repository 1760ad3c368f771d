/* report.c - stubctl output built once, rendered as text, colour text or JSON.
 * See report.h.
 *
 * Text needs look-ahead (field titles are aligned within a section, table
 * columns are as wide as their widest cell), so text fields and table cells
 * are buffered as cells in r->scratch until something else comes; headings
 * and notes go straight out. JSON needs no look-ahead and is written as the
 * calls come, except that a table keeps its column keys for its rows.
 *
 * Rules the header leaves open:
 * - After report_finish() every call but report_finish() and report_free()
 *   is ignored; report_finish() returns the same text again.
 * - A section opened beyond REPORT_MAX_DEPTH is dropped with everything in
 *   it, as if never called; its report_end() is counted so that the levels
 *   stay balanced. A table keeps its first REPORT_MAX_COLS columns.
 * - An open table ends at the next call that is not report_table_row().
 * - A section or table without a title prints no heading and indents its
 *   contents no further. Notes are grey under colour unless toned.
 * - NULL strings: a key is "", a missing title falls back to the key, a
 *   value or cell is null in JSON and "-" (field) or "" (cell) in text.
 * - Text never carries the caller's control bytes, C1 controls or invalid
 *   UTF-8 to the terminal: they are shown as \xNN, so a hostile DNS name
 *   cannot move the cursor or recolour the screen.
 * - Widths count code points, so East Asian wide characters misalign.
 * - Out of memory: every later call is ignored and report_finish() returns
 *   a short fixed error text ("{"error": ...}" in JSON).
 */
#include "stubd/report.h"
#include "stubd/utf8.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX_DEPTH 8
#define REPORT_MAX_COLS 24
#define INDENT_STEP 2
#define COLUMN_GAP 2

static const char oom_text[] = "error: out of memory while building the report\n";
static const char oom_json[] = "{\"error\": \"out of memory while building the report\"}\n";

/* ANSI SGR parameters; NULL means no colour. */
static const char *const report_tone_sgr[] = {
	[REPORT_TONE_NONE] = NULL,
	[REPORT_TONE_GOOD] = "32",
	[REPORT_TONE_BAD] = "31",
	[REPORT_TONE_DIM] = "90",
};
#define SGR_BOLD "1"

struct buf {
	char *data;
	size_t len, cap;
	bool oom;       /* a growth failed; the buffer ignores later writes */
};

/* A buffered text string in r->scratch (a field title or value, a table
 * cell), already made safe, with its visible width. JSON tables keep their
 * column keys here too, raw. */
struct cell {
	size_t off, len, width;
	enum report_tone tone;
};

struct report {
	enum report_format format;
	bool oom;               /* the cell array could not grow */
	bool finished;
	/* A section or columns were dropped over a limit. Nothing reads it
	 * until report.h gains an accessor; kept so that one is a one-liner. */
	bool truncated;
	size_t depth;           /* sections open, counting dropped ones */
	/* Text: where the content of each open section starts; index 0 is the
	 * document itself. */
	size_t indent[REPORT_MAX_DEPTH + 1];
	/* JSON: whether the object at each level has a member yet, for commas. */
	bool members[REPORT_MAX_DEPTH + 1];
	bool blank_pending;     /* text: a blank line goes before the next line */
	size_t pad;             /* text: spaces owed before the line's next text */
	struct buf out;
	struct buf scratch;
	struct cell *cells;     /* text: pending fields as (title, value) pairs, or
				 * the open table's header then rows; JSON: column keys */
	size_t ncells, cells_cap;

	bool in_table;
	size_t ncols;
	bool numeric[REPORT_MAX_COLS];
	bool boolean[REPORT_MAX_COLS];
	size_t table_indent;    /* text: where the header and rows start */
	bool table_rows;        /* JSON: the open table has a row, for commas */
};

/* ---- growable buffer ---- */

static bool buf_reserve(struct buf *b, size_t extra)
{
	if (b->oom)
		return false;
	/* +1 keeps room for the NUL that report_finish() adds. */
	if (extra < b->cap - b->len)
		return true;
	if (extra > SIZE_MAX / 2 - b->len - 1) {
		b->oom = true;
		return false;
	}
	size_t cap = b->cap ? b->cap : 256;
	while (cap <= b->len + extra)
		cap *= 2;
	char *data = realloc(b->data, cap);
	if (!data) {
		b->oom = true;
		return false;
	}
	b->data = data;
	b->cap = cap;
	return true;
}

static void buf_add(struct buf *b, const char *s, size_t n)
{
	if (n == 0 || !buf_reserve(b, n))
		return;
	memcpy(b->data + b->len, s, n);
	b->len += n;
}

static void buf_adds(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static void buf_addc(struct buf *b, char c)
{
	buf_add(b, &c, 1);
}

static void buf_spaces(struct buf *b, size_t n)
{
	if (!buf_reserve(b, n))
		return;
	memset(b->data + b->len, ' ', n);
	b->len += n;
}

static void buf_hex_escape(struct buf *b, const char *prefix, unsigned char c)
{
	static const char hex[] = "0123456789abcdef";
	buf_adds(b, prefix);
	buf_addc(b, hex[c >> 4]);
	buf_addc(b, hex[c & 0xf]);
}

/* ---- bytes and strings ---- */


/* C1 controls (U+0080..U+009F) include CSI: some terminals obey them. */
static bool is_c1(const unsigned char *s, size_t n)
{
	return n == 2 && s[0] == 0xc2 && s[1] < 0xa0;
}

/* Appends s[0..len) for a terminal: C0 and C1 controls, DEL and bytes that
 * are not UTF-8 become \xNN, one per byte. */
static void text_clean(struct buf *b, const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < len) {
		size_t n = s[i] < 0x80 ? 1 : utf8_seq_len(s + i, len - i);
		if (n == 0 || s[i] < 0x20 || s[i] == 0x7f || is_c1(s + i, n)) {
			buf_hex_escape(b, "\\x", s[i]);
			i++;
			continue;
		}
		buf_add(b, str + i, n);
		i += n;
	}
}

/* Visible width of cleaned text: its code points (continuation bytes do
 * not count). */
static size_t text_width(const char *s, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++)
		w += ((unsigned char)s[i] & 0xc0) != 0x80;
	return w;
}

/* RFC 8259 §7. Control characters are written \u00XX; a byte that is not
 * UTF-8 becomes \u00XX of its value (its Latin-1 reading), so the output
 * is always valid JSON and keeps the byte's value for a reader. C1
 * controls and DEL are escaped too, for whoever prints the JSON raw. */
static void json_string(struct buf *b, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t len = strlen(str), i = 0;

	buf_addc(b, '"');
	while (i < len) {
		size_t n = s[i] < 0x80 ? 1 : utf8_seq_len(s + i, len - i);
		if (s[i] == '"' || s[i] == '\\') {
			buf_addc(b, '\\');
			buf_addc(b, (char)s[i]);
		} else if (n == 0 || s[i] < 0x20 || s[i] == 0x7f) {
			buf_hex_escape(b, "\\u00", s[i]);
			n = 1;
		} else if (is_c1(s + i, n)) {
			buf_hex_escape(b, "\\u00", s[i + 1]);
		} else {
			buf_add(b, str + i, n);
		}
		i += n;
	}
	buf_addc(b, '"');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_digits(const char *s)
{
	while (is_digit(*s))
		s++;
	return s;
}

/* RFC 8259 §6: number = [ minus ] int [ frac ] [ exp ]. */
static bool is_json_number(const char *s)
{
	if (*s == '-')
		s++;
	if (*s == '0')
		s++;
	else if (is_digit(*s))
		s = skip_digits(s);
	else
		return false;
	if (*s == '.') {
		if (!is_digit(*++s))
			return false;
		s = skip_digits(s);
	}
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!is_digit(*s))
			return false;
		s = skip_digits(s);
	}
	return *s == '\0';
}

/* Fixed decimals; false for NaN and infinities, which JSON cannot carry.
 * The decimal point is forced to '.': under a locale such as de_DE printf
 * writes ',' and the JSON would break. */
static bool format_double(char *out, size_t size, double v, int decimals)
{
	char raw[512];   /* DBL_MAX has 309 integer digits, decimals are capped */

	if (!isfinite(v))
		return false;
	decimals = decimals < 0 ? 0 : decimals > 17 ? 17 : decimals;
	snprintf(raw, sizeof(raw), "%.*f", decimals, v);
	const char *p = raw;
	size_t o = 0;
	if (*p == '-')
		out[o++] = *p++;
	while (is_digit(*p) && o + 1 < size)
		out[o++] = *p++;
	if (*p != '\0' && o + 1 < size) {
		out[o++] = '.';
		while (*p != '\0' && !is_digit(*p))
			p++;
		while (is_digit(*p) && o + 1 < size)
			out[o++] = *p++;
	}
	out[o] = '\0';
	return true;
}

/* ---- report state ---- */

static bool failed(const struct report *r)
{
	return r->oom || r->out.oom || r->scratch.oom;
}

static bool live(const struct report *r)
{
	return r && !r->finished && !failed(r);
}

/* Whether content calls count: not inside a dropped section. */
static bool accepting(const struct report *r)
{
	return live(r) && r->depth <= REPORT_MAX_DEPTH;
}

static bool is_json(const struct report *r)
{
	return r->format == REPORT_JSON;
}

static const char *or_empty(const char *s)
{
	return s ? s : "";
}

/* Buffers s as a cell: cleaned for text, raw for JSON column keys. */
static void cell_add(struct report *r, const char *s, enum report_tone tone)
{
	if (r->ncells == r->cells_cap) {
		size_t cap = r->cells_cap ? r->cells_cap * 2 : 32;
		struct cell *cells = realloc(r->cells, cap * sizeof(*cells));
		if (!cells) {
			r->oom = true;
			return;
		}
		r->cells = cells;
		r->cells_cap = cap;
	}
	struct cell *c = &r->cells[r->ncells++];
	c->off = r->scratch.len;
	if (is_json(r))
		buf_adds(&r->scratch, s);
	else
		text_clean(&r->scratch, s, strlen(s));
	c->len = r->scratch.len - c->off;
	c->tone = tone;
	/* NUL-terminated so JSON can pass column keys to json_string(). */
	buf_addc(&r->scratch, '\0');
	c->width = r->scratch.oom ? 0 : text_width(r->scratch.data + c->off, c->len);
}

static const char *cell_text(const struct report *r, size_t i)
{
	return r->scratch.data + r->cells[i].off;
}

static void cells_clear(struct report *r)
{
	r->ncells = 0;
	r->scratch.len = 0;
}

/* ---- text output ---- */

/* Indentation and padding are owed, not written, until text follows:
 * a last column or an empty value then leaves no trailing blanks, and the
 * caller's own spaces are kept, the same with colour or without. */
static void out_pad(struct report *r, size_t n)
{
	r->pad += n;
}

static void out_write(struct report *r, const char *s, size_t len)
{
	if (len == 0)
		return;
	buf_spaces(&r->out, r->pad);
	r->pad = 0;
	buf_add(&r->out, s, len);
}

/* Lines start here so the blank line between top-level blocks is written
 * only when a next line comes: never first, never last, never doubled. */
static void line_begin(struct report *r, size_t indent)
{
	if (r->blank_pending && r->out.len > 0)
		buf_addc(&r->out, '\n');
	r->blank_pending = false;
	r->pad = indent;
}

static void line_end(struct report *r)
{
	r->pad = 0;
	buf_addc(&r->out, '\n');
}

/* Writes already cleaned text, coloured under REPORT_COLOR; padding stays
 * outside the colour. */
static void put_styled(struct report *r, const char *s, size_t len, const char *sgr)
{
	if (len == 0)
		return;
	bool colour = r->format == REPORT_COLOR && sgr;
	if (colour) {
		out_write(r, "\033[", 2);
		out_write(r, sgr, strlen(sgr));
		out_write(r, "m", 1);
	}
	out_write(r, s, len);
	if (colour)
		out_write(r, "\033[0m", 4);
}

/* One line of caller text (a heading or a note) at indent. */
static void text_line(struct report *r, size_t indent, const char *s, size_t len, const char *sgr)
{
	size_t mark = r->scratch.len;
	text_clean(&r->scratch, s, len);
	line_begin(r, indent);
	if (r->scratch.len > mark && !r->scratch.oom)
		put_styled(r, r->scratch.data + mark, r->scratch.len - mark, sgr);
	line_end(r);
	r->scratch.len = mark;
}

static size_t content_indent(const struct report *r)
{
	return r->indent[r->depth];
}

/* Writes the pending "Title: value" lines of the current section with the
 * values in one column. */
static void text_flush_fields(struct report *r)
{
	size_t width = 0;

	if (r->ncells == 0 || failed(r))
		return;
	for (size_t i = 0; i < r->ncells; i += 2)
		width = r->cells[i].width > width ? r->cells[i].width : width;
	for (size_t i = 0; i < r->ncells; i += 2) {
		const struct cell *title = &r->cells[i], *value = &r->cells[i + 1];
		line_begin(r, content_indent(r));
		out_write(r, cell_text(r, i), title->len);
		out_write(r, ":", 1);
		out_pad(r, width - title->width + 1);
		put_styled(r, cell_text(r, i + 1), value->len, report_tone_sgr[value->tone]);
		line_end(r);
	}
	cells_clear(r);
}

static void text_table_cell(struct report *r, size_t i, size_t width, bool right, const char *sgr)
{
	const struct cell *c = &r->cells[i];
	size_t pad = width - c->width;

	if (right)
		out_pad(r, pad);
	put_styled(r, cell_text(r, i), c->len, sgr);
	if (!right)
		out_pad(r, pad);
}

/* The header (cells 0..ncols) and the rows, columns as wide as their
 * widest cell, numbers right-aligned. */
static void text_table_flush(struct report *r)
{
	size_t width[REPORT_MAX_COLS] = { 0 };
	size_t n = r->ncols;

	if (n == 0 || failed(r))
		return;
	for (size_t i = 0; i < r->ncells; i++)
		width[i % n] = r->cells[i].width > width[i % n] ? r->cells[i].width : width[i % n];
	for (size_t row = 0; row < r->ncells; row += n) {
		line_begin(r, r->table_indent);
		for (size_t col = 0; col < n; col++) {
			const char *sgr = row == 0 ? SGR_BOLD : report_tone_sgr[r->cells[row + col].tone];
			if (col > 0)
				out_pad(r, COLUMN_GAP);
			text_table_cell(r, row + col, width[col], r->numeric[col], sgr);
		}
		line_end(r);
	}
}

/* ---- JSON output ---- */

/* Starts a member of the innermost object: separator, its own line, key. */
static void json_member(struct report *r, const char *key)
{
	if (r->members[r->depth])
		buf_addc(&r->out, ',');
	r->members[r->depth] = true;
	buf_addc(&r->out, '\n');
	buf_spaces(&r->out, INDENT_STEP * (r->depth + 1));
	json_string(&r->out, or_empty(key));
	buf_adds(&r->out, ": ");
}

/* Closes a container at indent whose contents, if any, were on their own
 * lines; an empty one stays "{}" or "[]". */
static void json_close(struct report *r, bool had_contents, size_t indent, char close)
{
	if (had_contents) {
		buf_addc(&r->out, '\n');
		buf_spaces(&r->out, indent);
	}
	buf_addc(&r->out, close);
}

static void json_cell(struct report *r, const char *cell, bool numeric, bool boolean)
{
	if (!cell)
		buf_adds(&r->out, "null");
	else if (numeric && is_json_number(cell))
		buf_adds(&r->out, cell);
	else if (boolean && (strcmp(cell, "true") == 0 || strcmp(cell, "false") == 0))
		buf_adds(&r->out, cell);
	else
		json_string(&r->out, cell);
}

/* One table row as a one-line object; the keys are cells 0..ncols. */
static void json_row(struct report *r, const char *const *cells)
{
	if (r->table_rows)
		buf_addc(&r->out, ',');
	r->table_rows = true;
	buf_addc(&r->out, '\n');
	buf_spaces(&r->out, INDENT_STEP * (r->depth + 2));
	buf_addc(&r->out, '{');
	for (size_t col = 0; col < r->ncols && !failed(r); col++) {
		if (col > 0)
			buf_adds(&r->out, ", ");
		json_string(&r->out, cell_text(r, col));
		buf_adds(&r->out, ": ");
		json_cell(r, cells[col], r->numeric[col], r->boolean[col]);
	}
	buf_addc(&r->out, '}');
}

/* ---- structure ---- */

static void table_close(struct report *r)
{
	if (!r->in_table)
		return;
	r->in_table = false;
	if (is_json(r)) {
		json_close(r, r->table_rows, INDENT_STEP * (r->depth + 1), ']');
	} else {
		text_table_flush(r);
		/* A top-level table is a block like a top-level section. */
		r->blank_pending |= r->depth == 0;
	}
	cells_clear(r);
}

/* Anything that is not a field ends the run of fields being aligned. */
static void flush_pending(struct report *r)
{
	table_close(r);
	if (!is_json(r))
		text_flush_fields(r);
}

static void section_end(struct report *r)
{
	flush_pending(r);
	if (is_json(r))
		json_close(r, r->members[r->depth], INDENT_STEP * r->depth, '}');
	r->depth--;
	r->blank_pending |= !is_json(r) && r->depth == 0;
}

struct report *report_new(enum report_format format)
{
	struct report *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->format = format;
	if (is_json(r))
		buf_addc(&r->out, '{');
	if (failed(r)) {
		report_free(r);
		return NULL;
	}
	return r;
}

void report_free(struct report *r)
{
	if (!r)
		return;
	free(r->out.data);
	free(r->scratch.data);
	free(r->cells);
	free(r);
}

void report_begin(struct report *r, const char *key, const char *title)
{
	if (!live(r))
		return;
	if (r->depth >= REPORT_MAX_DEPTH) {
		r->depth++;
		r->truncated = true;
		return;
	}
	flush_pending(r);
	size_t indent = content_indent(r);
	if (is_json(r)) {
		json_member(r, key);
		buf_addc(&r->out, '{');
	} else {
		r->blank_pending |= r->depth == 0;
		if (title) {
			text_line(r, indent, title, strlen(title), SGR_BOLD);
			indent += INDENT_STEP;
		}
	}
	r->depth++;
	r->indent[r->depth] = indent;
	r->members[r->depth] = false;
}

void report_end(struct report *r)
{
	if (!live(r) || r->depth == 0)
		return;
	if (r->depth > REPORT_MAX_DEPTH) {
		r->depth--;
		return;
	}
	section_end(r);
}

/* json is written raw (a number, true, null...) unless quoted. */
static void field(struct report *r, const char *key, const char *title, const char *text,
		  const char *json, bool quoted, enum report_tone tone)
{
	if (!accepting(r))
		return;
	table_close(r);
	if (is_json(r)) {
		json_member(r, key);
		if (!json)
			buf_adds(&r->out, "null");
		else if (quoted)
			json_string(&r->out, json);
		else
			buf_adds(&r->out, json);
		return;
	}
	if (!title)
		return; /* a member for scripts only */
	cell_add(r, title, REPORT_TONE_NONE);
	cell_add(r, text, tone);
}

static enum report_tone tone_checked(enum report_tone tone)
{
	return tone <= REPORT_TONE_DIM ? tone : REPORT_TONE_NONE;
}

void report_str(struct report *r, const char *key, const char *title, const char *value,
		enum report_tone tone)
{
	field(r, key, title, value ? value : "-", value, true, tone_checked(tone));
}

void report_u64(struct report *r, const char *key, const char *title, uint64_t value)
{
	char num[24];
	snprintf(num, sizeof(num), "%" PRIu64, value);
	field(r, key, title, num, num, false, REPORT_TONE_NONE);
}

void report_double(struct report *r, const char *key, const char *title, double value,
		   int decimals)
{
	char num[512];
	if (format_double(num, sizeof(num), value, decimals))
		field(r, key, title, num, num, false, REPORT_TONE_NONE);
	else
		field(r, key, title, "n/a", NULL, false, REPORT_TONE_NONE);
}

void report_bool(struct report *r, const char *key, const char *title, bool value)
{
	field(r, key, title, value ? "yes" : "no", value ? "true" : "false", false,
	      REPORT_TONE_NONE);
}

void report_list(struct report *r, const char *key, const char *title,
		 const char *const *values, size_t n)
{
	if (!accepting(r))
		return;
	if (is_json(r)) {
		table_close(r);
		json_member(r, key);
		buf_addc(&r->out, '[');
		for (size_t i = 0; i < n; i++) {
			if (i > 0)
				buf_adds(&r->out, ", ");
			json_string(&r->out, or_empty(values[i]));
		}
		buf_addc(&r->out, ']');
		return;
	}
	struct buf joined = { 0 };
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_adds(&joined, ", ");
		buf_adds(&joined, or_empty(values[i]));
	}
	buf_addc(&joined, '\0');
	if (joined.oom)
		r->oom = true;
	else
		field(r, key, title, n > 0 ? joined.data : "-", NULL, true, REPORT_TONE_NONE);
	free(joined.data);
}

/* Which columns are numbers; kinds may be NULL or shorter than ncols. */
static void table_kinds(struct report *r, const char *kinds)
{
	bool ended = !kinds;
	for (size_t col = 0; col < r->ncols; col++) {
		ended = ended || kinds[col] == '\0';
		r->numeric[col] = !ended && kinds[col] == 'n';
		r->boolean[col] = !ended && kinds[col] == 'b';
	}
}

void report_table_begin(struct report *r, const char *key, const char *title, size_t ncols,
			const char *const *col_keys, const char *const *col_titles,
			const char *kinds)
{
	if (!accepting(r))
		return;
	flush_pending(r);
	if (ncols > REPORT_MAX_COLS) {
		ncols = REPORT_MAX_COLS;
		r->truncated = true;
	}
	r->in_table = true;
	r->ncols = ncols;
	r->table_rows = false;
	table_kinds(r, kinds);
	if (is_json(r)) {
		json_member(r, key);
		buf_addc(&r->out, '[');
		for (size_t col = 0; col < ncols; col++)
			cell_add(r, col_keys ? or_empty(col_keys[col]) : "", REPORT_TONE_NONE);
		return;
	}
	r->blank_pending |= r->depth == 0;
	r->table_indent = content_indent(r);
	if (title) {
		text_line(r, r->table_indent, title, strlen(title), SGR_BOLD);
		r->table_indent += INDENT_STEP;
	}
	for (size_t col = 0; col < ncols; col++) {
		const char *name = col_titles && col_titles[col] ? col_titles[col]
				   : col_keys ? col_keys[col] : NULL;
		cell_add(r, or_empty(name), REPORT_TONE_NONE);
	}
}

void report_table_row(struct report *r, const char *const *cells, const enum report_tone *tones)
{
	if (!accepting(r) || !r->in_table || !cells)
		return;
	if (is_json(r)) {
		json_row(r, cells);
		return;
	}
	for (size_t col = 0; col < r->ncols; col++)
		cell_add(r, or_empty(cells[col]), tones ? tone_checked(tones[col]) : REPORT_TONE_NONE);
}

void report_table_end(struct report *r)
{
	if (accepting(r))
		table_close(r);
}

/* Each line of the note at the current indent; one trailing newline is
 * dropped since printf habits put it there. Notes are dim unless a tone
 * says otherwise. */
static void text_note(struct report *r, enum report_tone tone, const char *text)
{
	const char *sgr = report_tone_sgr[tone == REPORT_TONE_NONE ? REPORT_TONE_DIM : tone];
	size_t len = strlen(text);

	if (len > 0 && text[len - 1] == '\n')
		len--;
	for (;;) {
		const char *nl = memchr(text, '\n', len);
		size_t n = nl ? (size_t)(nl - text) : len;
		text_line(r, content_indent(r), text, n, sgr);
		if (!nl)
			break;
		text += n + 1;
		len -= n + 1;
	}
}

/* vasprintf() would need _GNU_SOURCE; measuring first is as short. */
static char *format_note(const char *fmt, va_list ap)
{
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(NULL, 0, fmt, again);
	va_end(again);
	char *text = n < 0 ? NULL : malloc((size_t)n + 1);
	if (text)
		vsnprintf(text, (size_t)n + 1, fmt, ap);
	return text;
}

void report_note(struct report *r, enum report_tone tone, const char *fmt, ...)
{
	va_list ap;

	if (!accepting(r))
		return;
	/* Ends an open table in JSON too, so both forms get the same rows. */
	flush_pending(r);
	if (is_json(r))
		return;
	va_start(ap, fmt);
	char *text = format_note(fmt, ap);
	va_end(ap);
	if (!text)
		r->oom = true;  /* glibc fails only for memory or a bad conversion */
	else
		text_note(r, tone_checked(tone), text);
	free(text);
}

/* Closes what is open, including dropped levels, and NUL-terminates. */
static void finish_document(struct report *r)
{
	if (r->depth > REPORT_MAX_DEPTH)
		r->depth = REPORT_MAX_DEPTH;
	while (r->depth > 0)
		section_end(r);
	flush_pending(r);
	if (is_json(r)) {
		json_close(r, r->members[0], 0, '}');
		buf_addc(&r->out, '\n');
	}
	buf_addc(&r->out, '\0');
	r->out.len--;
	/* The buffered cells are no longer needed. */
	free(r->cells);
	r->cells = NULL;
	r->ncells = r->cells_cap = 0;
}

const char *report_finish(struct report *r, size_t *len)
{
	const char *text;
	size_t n;

	if (r && !r->finished && !failed(r))
		finish_document(r);
	if (r)
		r->finished = true;
	if (!r || failed(r)) {
		/* No report at all also means memory ran out (report_new). */
		bool json = r && is_json(r);
		text = json ? oom_json : oom_text;
		n = json ? sizeof(oom_json) - 1 : sizeof(oom_text) - 1;
	} else {
		text = r->out.data;
		n = r->out.len;
	}
	if (len)
		*len = n;
	return text;
}
