/* test_report.c - unit tests for stubctl output: exact text, colour and JSON
 * renderings of small documents, and a JSON syntax check of big ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stubd/report.h"

#define NONE REPORT_TONE_NONE
#define GOOD REPORT_TONE_GOOD
#define BAD REPORT_TONE_BAD
#define DIM REPORT_TONE_DIM

/* Finishes r, compares with expected (length too, so no stray NUL hides
 * a tail) and frees it. */
static void expect_output(struct report *r, const char *expected)
{
	size_t len = 0;
	const char *text = report_finish(r, &len);
	assert_non_null(text);
	assert_string_equal(text, expected);
	assert_int_equal(len, strlen(expected));
	report_free(r);
}

/* Builds the same document in format and checks the rendering. */
static void expect_doc(void (*build)(struct report *), enum report_format format,
		       const char *expected)
{
	struct report *r = report_new(format);
	assert_non_null(r);
	build(r);
	expect_output(r, expected);
}

/* ---- a tiny JSON syntax checker (RFC 8259), independent of report.c ---- */

struct jp {
	const unsigned char *s;
	size_t i, n;
	int depth;
};

static bool jp_value(struct jp *p);

static void jp_ws(struct jp *p)
{
	while (p->i < p->n && strchr(" \t\n\r", p->s[p->i]) && p->s[p->i] != '\0')
		p->i++;
}

static bool jp_eat(struct jp *p, char c)
{
	jp_ws(p);
	if (p->i < p->n && p->s[p->i] == (unsigned char)c) {
		p->i++;
		return true;
	}
	return false;
}

/* Decodes a UTF-8 sequence the long way (code point ranges) rather than
 * by lead-byte tables as report.c does, so the two cannot share a bug. */
static size_t t_utf8(const unsigned char *s, size_t avail)
{
	static const uint32_t min[] = { 0, 0, 0x80, 0x800, 0x10000 };
	uint32_t cp;
	size_t n;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static bool jp_hex4(struct jp *p)
{
	for (int k = 0; k < 4; k++, p->i++)
		if (p->i >= p->n || !strchr("0123456789abcdefABCDEF", p->s[p->i]) ||
		    p->s[p->i] == '\0')
			return false;
	return true;
}

static bool jp_string(struct jp *p)
{
	if (!jp_eat(p, '"'))
		return false;
	while (p->i < p->n) {
		unsigned char c = p->s[p->i];
		if (c == '"') {
			p->i++;
			return true;
		}
		if (c < 0x20)
			return false;
		if (c == '\\') {
			p->i++;
			if (p->i >= p->n)
				return false;
			c = p->s[p->i++];
			if (c == 'u' && !jp_hex4(p))
				return false;
			if (c != 'u' && (c == '\0' || !strchr("\"\\/bfnrt", c)))
				return false;
			continue;
		}
		size_t len = t_utf8(p->s + p->i, p->n - p->i);
		if (len == 0)
			return false;
		p->i += len;
	}
	return false;
}

static bool jp_digits(struct jp *p)
{
	size_t start = p->i;
	while (p->i < p->n && p->s[p->i] >= '0' && p->s[p->i] <= '9')
		p->i++;
	return p->i > start;
}

static bool jp_number(struct jp *p)
{
	if (p->i < p->n && p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if (!jp_digits(p))
		return false;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if (!jp_digits(p))
			return false;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if (!jp_digits(p))
			return false;
	}
	return true;
}

static bool jp_literal(struct jp *p, const char *word)
{
	size_t len = strlen(word);
	if (p->n - p->i < len || memcmp(p->s + p->i, word, len) != 0)
		return false;
	p->i += len;
	return true;
}

/* Members or elements up to close, comma separated, none trailing. */
static bool jp_container(struct jp *p, char close, bool object)
{
	if (++p->depth > 64)
		return false;
	if (jp_eat(p, close)) {
		p->depth--;
		return true;
	}
	do {
		if (object && (!jp_string(p) || !jp_eat(p, ':')))
			return false;
		if (!jp_value(p))
			return false;
	} while (jp_eat(p, ','));
	p->depth--;
	return jp_eat(p, close);
}

static bool jp_value(struct jp *p)
{
	jp_ws(p);
	if (p->i >= p->n)
		return false;
	switch (p->s[p->i]) {
	case '{':
		p->i++;
		return jp_container(p, '}', true);
	case '[':
		p->i++;
		return jp_container(p, ']', false);
	case '"':
		return jp_string(p);
	case 't':
		return jp_literal(p, "true");
	case 'f':
		return jp_literal(p, "false");
	case 'n':
		return jp_literal(p, "null");
	default:
		return jp_number(p);
	}
}

/* One object and nothing after it but whitespace. */
static bool json_valid(const char *text, size_t len)
{
	struct jp p = { (const unsigned char *)text, 0, len, 0 };
	jp_ws(&p);
	if (p.i >= p.n || p.s[p.i] != '{' || !jp_value(&p))
		return false;
	jp_ws(&p);
	return p.i == p.n;
}

static void test_json_checker_itself(void **state)
{
	static const char *const good[] = {
		"{}",
		"{\"a\": [1, -0.5e+3, 0, 10E2, \"x\\u00e9\\n\\/\", true, false, null, {}, []]}\n",
		"{\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\": {\"b\": {\"c\": []}}}",
	};
	static const char *const bad[] = {
		"", "[]", "{", "{\"a\":1,}", "{\"a\" 1}", "{\"a\":[1 2]}", "{\"a\":\"\x01\"}",
		"{\"a\":\"\\q\"}", "{\"a\":01}", "{\"a\":1.}", "{\"a\":NaN}", "{\"a\":\"\xff\"}",
		"{\"a\":\"\xc0\xaf\"}", "{\"a\":\"\xed\xa0\x80\"}", "{\"a\":\"\\u12G4\"}",
		"{\"a\":[}", "{} {}", "{\"a\":\"x}", "{\"a\":nul}", "{\"a\":-}", "{\"a\":+1}",
		"{\"a\":.5}", "{1:2}", "{\"a\":1e}",
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(json_valid(good[i], strlen(good[i])));
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (json_valid(bad[i], strlen(bad[i])))
			fail_msg("accepted bad JSON #%zu: %s", i, bad[i]);
	}
	/* An embedded NUL is not whitespace. */
	assert_false(json_valid("{}\0", 3));
}

/* ---- fields and sections ---- */

static void build_status(struct report *r)
{
	report_str(r, "version", "Version", "0.3", NONE);
	report_begin(r, "cache", "Cache");
	report_u64(r, "entries", "Entries", 12);
	report_double(r, "hit_ratio", "Hit ratio", 0.5, 2);
	report_bool(r, "serve_stale", "Serve stale", true);
	report_end(r);
	report_begin(r, "upstream", "Upstream");
	report_str(r, "state", "State", "up", GOOD);
	report_bool(r, "tcp", "TCP", false);
	report_end(r);
}

static void test_fields_aligned(void **state)
{
	expect_doc(build_status, REPORT_TEXT,
		   "Version: 0.3\n"
		   "\n"
		   "Cache\n"
		   "  Entries:     12\n"
		   "  Hit ratio:   0.50\n"
		   "  Serve stale: yes\n"
		   "\n"
		   "Upstream\n"
		   "  State: up\n"
		   "  TCP:   no\n");
	expect_doc(build_status, REPORT_COLOR,
		   "Version: 0.3\n"
		   "\n"
		   "\033[1mCache\033[0m\n"
		   "  Entries:     12\n"
		   "  Hit ratio:   0.50\n"
		   "  Serve stale: yes\n"
		   "\n"
		   "\033[1mUpstream\033[0m\n"
		   "  State: \033[32mup\033[0m\n"
		   "  TCP:   no\n");
	expect_doc(build_status, REPORT_JSON,
		   "{\n"
		   "  \"version\": \"0.3\",\n"
		   "  \"cache\": {\n"
		   "    \"entries\": 12,\n"
		   "    \"hit_ratio\": 0.50,\n"
		   "    \"serve_stale\": true\n"
		   "  },\n"
		   "  \"upstream\": {\n"
		   "    \"state\": \"up\",\n"
		   "    \"tcp\": false\n"
		   "  }\n"
		   "}\n");
}

static void build_nested(struct report *r)
{
	report_begin(r, "daemon", "Daemon");
	report_str(r, "pid", "PID", "42", NONE);
	report_begin(r, "listen", "Listening");
	report_str(r, "udp", "UDP", "127.0.0.53:53", NONE);
	report_str(r, "tcp_clients", "TCP clients", "3", NONE);
	report_end(r);
	/* After a subsection: a new run of aligned fields. */
	report_str(r, "uptime", "Uptime", "5 s", NONE);
	report_begin(r, "empty", "Nothing here");
	report_end(r);
	report_end(r);
	report_begin(r, "plain", NULL);
	report_u64(r, "a", "A", 1);
	report_u64(r, "bb", "Bb", 2);
	report_end(r);
}

static void test_nested_sections(void **state)
{
	expect_doc(build_nested, REPORT_TEXT,
		   "Daemon\n"
		   "  PID: 42\n"
		   "  Listening\n"
		   "    UDP:         127.0.0.53:53\n"
		   "    TCP clients: 3\n"
		   "  Uptime: 5 s\n"
		   "  Nothing here\n"
		   "\n"
		   "A:  1\n"
		   "Bb: 2\n");
	expect_doc(build_nested, REPORT_JSON,
		   "{\n"
		   "  \"daemon\": {\n"
		   "    \"pid\": \"42\",\n"
		   "    \"listen\": {\n"
		   "      \"udp\": \"127.0.0.53:53\",\n"
		   "      \"tcp_clients\": \"3\"\n"
		   "    },\n"
		   "    \"uptime\": \"5 s\",\n"
		   "    \"empty\": {}\n"
		   "  },\n"
		   "  \"plain\": {\n"
		   "    \"a\": 1,\n"
		   "    \"bb\": 2\n"
		   "  }\n"
		   "}\n");
}

static void build_empty(struct report *r)
{
}

static void test_empty_document(void **state)
{
	expect_doc(build_empty, REPORT_TEXT, "");
	expect_doc(build_empty, REPORT_COLOR, "");
	expect_doc(build_empty, REPORT_JSON, "{}\n");
}

/* NULL strings follow the rules at the top of report.c; a NULL title is
 * a member for JSON only. */
static void build_nulls(struct report *r)
{
	report_str(r, "value", "Value", NULL, GOOD);
	report_str(r, NULL, "No key", "", BAD);
	report_u64(r, "json_only", NULL, 7);
}

static void test_null_strings(void **state)
{
	expect_doc(build_nulls, REPORT_TEXT, "Value:  -\nNo key:\n");
	/* No colour codes around an empty value. */
	expect_doc(build_nulls, REPORT_COLOR, "Value:  \033[32m-\033[0m\nNo key:\n");
	expect_doc(build_nulls, REPORT_JSON,
		   "{\n  \"value\": null,\n  \"\": \"\",\n  \"json_only\": 7\n}\n");
}

static void build_lists(struct report *r)
{
	report_begin(r, "s", "S");
	report_list(r, "listen", "Listen", (const char *const[]){ "127.0.0.53:53", "[::1]:53" }, 2);
	report_list(r, "none", "None", NULL, 0);
	report_list(r, "odd", "Odd", (const char *const[]){ "a\"b", NULL, "\x01" }, 3);
	report_end(r);
	report_list(r, "top", NULL, (const char *const[]){ "x" }, 1);
}

/* Lists: JSON arrays of strings (escaped, null as ""), text one field. */
static void test_lists(void **state)
{
	expect_doc(build_lists, REPORT_JSON,
		   "{\n  \"s\": {\n    \"listen\": [\"127.0.0.53:53\", \"[::1]:53\"],\n"
		   "    \"none\": [],\n    \"odd\": [\"a\\\"b\", \"\", \"\\u0001\"]\n  },\n"
		   "  \"top\": [\"x\"]\n}\n");
	expect_doc(build_lists, REPORT_TEXT,
		   "S\n  Listen: 127.0.0.53:53, [::1]:53\n  None:   -\n  Odd:    a\"b, , \\x01\n");
}

static void build_bool_table(struct report *r)
{
	static const char *const keys[] = { "k", "ok" };
	static const char *const titles[] = { "K", "OK" };
	report_table_begin(r, "t", NULL, 2, keys, titles, "sb");
	report_table_row(r, (const char *const[]){ "a", "true" }, NULL);
	report_table_row(r, (const char *const[]){ "b", "maybe" }, NULL);
	report_table_end(r);
}

/* 'b' columns are bare true/false in JSON; anything else stays a string. */
static void test_bool_columns(void **state)
{
	expect_doc(build_bool_table, REPORT_JSON,
		   "{\n  \"t\": [\n    {\"k\": \"a\", \"ok\": true},\n"
		   "    {\"k\": \"b\", \"ok\": \"maybe\"}\n  ]\n}\n");
	expect_doc(build_bool_table, REPORT_TEXT, "K  OK\na  true\nb  maybe\n");
}

static void build_doubles(struct report *r)
{
	report_double(r, "nan", "NaN", NAN, 2);
	report_double(r, "inf", "Inf", INFINITY, 2);
	report_double(r, "ninf", "-Inf", -INFINITY, 2);
	report_double(r, "d0", "d0", 3.14159, 0);
	report_double(r, "dneg", "dneg", 2.5, -3);
	report_double(r, "d3", "d3", 3.14159, 3);
	report_double(r, "big", "big", 1e20, 1);
	report_double(r, "negzero", "negzero", -0.001, 2);
	report_u64(r, "max", "max", UINT64_MAX);
}

static void test_numbers(void **state)
{
	expect_doc(build_doubles, REPORT_TEXT,
		   "NaN:     n/a\n"
		   "Inf:     n/a\n"
		   "-Inf:    n/a\n"
		   "d0:      3\n"
		   "dneg:    2\n"
		   "d3:      3.142\n"
		   "big:     100000000000000000000.0\n"
		   "negzero: -0.00\n"
		   "max:     18446744073709551615\n");
	expect_doc(build_doubles, REPORT_JSON,
		   "{\n"
		   "  \"nan\": null,\n"
		   "  \"inf\": null,\n"
		   "  \"ninf\": null,\n"
		   "  \"d0\": 3,\n"
		   "  \"dneg\": 2,\n"
		   "  \"d3\": 3.142,\n"
		   "  \"big\": 100000000000000000000.0,\n"
		   "  \"negzero\": -0.00,\n"
		   "  \"max\": 18446744073709551615\n"
		   "}\n");
}

/* ---- tables ---- */

static const char *const up_keys[] = { "address", "rtt_ms", "state", "queries" };
static const char *const up_titles[] = { "Address", "RTT ms", "State", "Queries" };

static void build_table(struct report *r)
{
	static const char *const row1[] = { "192.0.2.1", "12", "up", "1500" };
	static const char *const row2[] = { "2001:db8::53", "7", "down", "n/a" };
	static const enum report_tone tones1[] = { NONE, NONE, GOOD, NONE };
	static const enum report_tone tones2[] = { NONE, NONE, BAD, NONE };

	report_str(r, "version", "Version", "0.3", NONE);
	report_table_begin(r, "upstreams", "Upstreams", 4, up_keys, up_titles, "snsn");
	report_table_row(r, row1, tones1);
	report_table_row(r, row2, tones2);
	report_table_end(r);
	report_u64(r, "cached", "Cached", 3);
}

static void test_table(void **state)
{
	/* Widths 12, 6, 5, 7: text left, numbers right, 2 spaces apart. */
	expect_doc(build_table, REPORT_TEXT,
		   "Version: 0.3\n"
		   "\n"
		   "Upstreams\n"
		   "  Address       RTT ms  State  Queries\n"
		   "  192.0.2.1         12  up        1500\n"
		   "  2001:db8::53       7  down       n/a\n"
		   "\n"
		   "Cached: 3\n");
	expect_doc(build_table, REPORT_JSON,
		   "{\n"
		   "  \"version\": \"0.3\",\n"
		   "  \"upstreams\": [\n"
		   "    {\"address\": \"192.0.2.1\", \"rtt_ms\": 12, \"state\": \"up\", "
		   "\"queries\": 1500},\n"
		   "    {\"address\": \"2001:db8::53\", \"rtt_ms\": 7, \"state\": \"down\", "
		   "\"queries\": \"n/a\"}\n"
		   "  ],\n"
		   "  \"cached\": 3\n"
		   "}\n");
}

/* Colour codes sit outside the padding, so the columns line up as in plain
 * text: compare with test_table. */
static void test_table_colour(void **state)
{
	expect_doc(build_table, REPORT_COLOR,
		   "Version: 0.3\n"
		   "\n"
		   "\033[1mUpstreams\033[0m\n"
		   "  \033[1mAddress\033[0m       \033[1mRTT ms\033[0m  \033[1mState\033[0m  "
		   "\033[1mQueries\033[0m\n"
		   "  192.0.2.1         12  \033[32mup\033[0m        1500\n"
		   "  2001:db8::53       7  \033[31mdown\033[0m       n/a\n"
		   "\n"
		   "Cached: 3\n");
}

static void build_table_widths(struct report *r)
{
	static const char *const keys[] = { "name", "n" };
	static const char *const titles[] = { "A long header", "Count" };
	static const char *const row1[] = { "x", "1234567" };
	static const char *const row2[] = { "yy", NULL };

	/* Inside a section, untitled: rows at the section's field indent. */
	report_begin(r, "s", "Section");
	report_table_begin(r, "t", NULL, 2, keys, titles, "sn");
	report_table_row(r, row1, NULL);
	report_table_row(r, row2, NULL);
	report_table_end(r);
	report_end(r);
}

static void test_table_widths(void **state)
{
	expect_doc(build_table_widths, REPORT_TEXT,
		   "Section\n"
		   "  A long header    Count\n"
		   "  x              1234567\n"
		   "  yy\n");
	expect_doc(build_table_widths, REPORT_JSON,
		   "{\n"
		   "  \"s\": {\n"
		   "    \"t\": [\n"
		   "      {\"name\": \"x\", \"n\": 1234567},\n"
		   "      {\"name\": \"yy\", \"n\": null}\n"
		   "    ]\n"
		   "  }\n"
		   "}\n");
}

static void test_json_number_cells(void **state)
{
	static const char *const keys[] = { "a", "b", "c", "d", "e", "f", "g",
					    "h", "i", "j", "k", "l", "m" };
	static const char *const cells[] = { "0", "-1.5e-3", "1E+9", "01", "1.", "", "0x10",
					     " 1", "-", "+1", "1e", "NaN", "5" };
	struct report *r = report_new(REPORT_JSON);
	/* kinds is one short: the last column is text. */
	report_table_begin(r, "t", "T", 13, keys, NULL, "nnnnnnnnnnnn");
	report_table_row(r, cells, NULL);
	report_table_end(r);
	expect_output(r, "{\n"
			 "  \"t\": [\n"
			 "    {\"a\": 0, \"b\": -1.5e-3, \"c\": 1E+9, \"d\": \"01\", \"e\": \"1.\", "
			 "\"f\": \"\", \"g\": \"0x10\", \"h\": \" 1\", \"i\": \"-\", \"j\": \"+1\", "
			 "\"k\": \"1e\", \"l\": \"NaN\", \"m\": \"5\"}\n"
			 "  ]\n"
			 "}\n");
}

static void build_empty_table(struct report *r)
{
	static const char *const keys[] = { "name", "ttl" };
	static const char *const titles[] = { "Name", "TTL" };

	report_begin(r, "cache", "Cache");
	report_u64(r, "entries", "Entries", 0);
	report_table_begin(r, "list", "Entries", 2, keys, titles, "sn");
	report_table_end(r);
	report_end(r);
}

static void test_empty_table(void **state)
{
	expect_doc(build_empty_table, REPORT_TEXT,
		   "Cache\n"
		   "  Entries: 0\n"
		   "  Entries\n"
		   "    Name  TTL\n");
	expect_doc(build_empty_table, REPORT_JSON,
		   "{\n"
		   "  \"cache\": {\n"
		   "    \"entries\": 0,\n"
		   "    \"list\": []\n"
		   "  }\n"
		   "}\n");
}

static void test_table_column_limit(void **state)
{
	const char *keys[25], *cells[25];
	char names[25][8];
	for (int i = 0; i < 25; i++) {
		snprintf(names[i], sizeof(names[i]), "c%d", i);
		keys[i] = cells[i] = names[i];
	}
	struct report *r = report_new(REPORT_JSON);
	report_table_begin(r, "t", "T", 25, keys, NULL, NULL);
	report_table_row(r, cells, NULL);
	report_table_end(r);
	const char *text = report_finish(r, NULL);
	assert_non_null(strstr(text, "\"c23\": \"c23\"}"));
	assert_null(strstr(text, "c24"));
	assert_true(json_valid(text, strlen(text)));
	report_free(r);

	r = report_new(REPORT_TEXT);
	report_table_begin(r, "t", NULL, 25, keys, NULL, NULL);
	report_table_end(r);
	expect_output(r, "c0  c1  c2  c3  c4  c5  c6  c7  c8  c9  c10  c11  c12  c13  c14  c15  c16  c17  "
		      "c18  c19  c20  c21  c22  c23\n");
}

/* A call other than a row ends the table; stray rows and ends are ignored. */
static void build_table_misuse(struct report *r)
{
	static const char *const keys[] = { "k" };
	static const char *const row[] = { "v" };

	report_table_row(r, row, NULL);
	report_table_end(r);
	report_table_begin(r, "t", NULL, 1, keys, NULL, "s");
	report_table_row(r, row, NULL);
	report_str(r, "f", "F", "x", NONE);
	report_table_row(r, row, NULL);
	report_table_row(r, NULL, NULL);
	report_table_end(r);
	/* A note ends the table in JSON too, where it prints nothing. */
	report_table_begin(r, "n", NULL, 1, keys, NULL, "s");
	report_note(r, NONE, "note");
	report_table_row(r, row, NULL);
	report_table_begin(r, "open", NULL, 1, keys, NULL, "s");
	report_table_row(r, row, NULL);
	/* Left open: report_finish() closes it. */
}

static void test_table_misuse(void **state)
{
	expect_doc(build_table_misuse, REPORT_TEXT,
		   "k\n"
		   "v\n"
		   "\n"
		   "F: x\n"
		   "\n"
		   "k\n"
		   "\n"
		   "note\n"
		   "\n"
		   "k\n"
		   "v\n");
	expect_doc(build_table_misuse, REPORT_JSON,
		   "{\n"
		   "  \"t\": [\n"
		   "    {\"k\": \"v\"}\n"
		   "  ],\n"
		   "  \"f\": \"x\",\n"
		   "  \"n\": [],\n"
		   "  \"open\": [\n"
		   "    {\"k\": \"v\"}\n"
		   "  ]\n"
		   "}\n");
}

/* ---- notes ---- */

static void build_notes(struct report *r)
{
	report_note(r, NONE, "Data from: %s, %d s old", "cache", 12);
	report_begin(r, "cache", "Cache");
	report_u64(r, "entries", "Entries", 1);
	report_note(r, BAD, "line one\nline two\n");
	report_u64(r, "hits", "Hits", 20);
	report_end(r);
	report_note(r, GOOD, "%s", "");
}

static void test_notes(void **state)
{
	expect_doc(build_notes, REPORT_TEXT,
		   "Data from: cache, 12 s old\n"
		   "\n"
		   "Cache\n"
		   "  Entries: 1\n"
		   "  line one\n"
		   "  line two\n"
		   "  Hits: 20\n"
		   "\n"
		   "\n");
	expect_doc(build_notes, REPORT_COLOR,
		   "\033[90mData from: cache, 12 s old\033[0m\n"
		   "\n"
		   "\033[1mCache\033[0m\n"
		   "  Entries: 1\n"
		   "  \033[31mline one\033[0m\n"
		   "  \033[31mline two\033[0m\n"
		   "  Hits: 20\n"
		   "\n"
		   "\n");
	expect_doc(build_notes, REPORT_JSON,
		   "{\n"
		   "  \"cache\": {\n"
		   "    \"entries\": 1,\n"
		   "    \"hits\": 20\n"
		   "  }\n"
		   "}\n");
}

/* ---- escaping ---- */

static void test_json_escaping(void **state)
{
	struct report *r = report_new(REPORT_JSON);
	report_str(r, "k\"e\\y\n", "T", "q\"b\\s/\n\t\x01\x1f\x7f \xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80",
		   NONE);
	/* Not UTF-8: a lone byte, a cut sequence, an overlong form, a
	 * surrogate, above U+10FFFF, and a sequence cut by the string's end. */
	report_str(r, "bad", "T", "\xff \xc3( \xe0\x80\x80 \xed\xa0\x80 \xf4\x90\x80\x80 \xe2\x82",
		   NONE);
	/* C1 control U+009B (CSI) is valid UTF-8 but escaped all the same. */
	report_str(r, "c1", "T", "\xc2\x9b[2J", NONE);
	expect_output(r, "{\n"
			 "  \"k\\\"e\\\\y\\u000a\": \"q\\\"b\\\\s/\\u000a\\u0009\\u0001\\u001f\\u007f "
			 "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\",\n"
			 "  \"bad\": \"\\u00ff \\u00c3( \\u00e0\\u0080\\u0080 \\u00ed\\u00a0\\u0080 "
			 "\\u00f4\\u0090\\u0080\\u0080 \\u00e2\\u0082\",\n"
			 "  \"c1\": \"\\u009b[2J\"\n"
			 "}\n");
}

static void test_json_escaping_in_tables(void **state)
{
	static const char *const keys[] = { "na\"me", "ttl" };
	static const char *const row[] = { "a\\b\x01\xff", "\"3\"" };
	struct report *r = report_new(REPORT_JSON);
	report_table_begin(r, "t\n", NULL, 2, keys, NULL, "sn");
	report_table_row(r, row, NULL);
	report_table_end(r);
	expect_output(r, "{\n"
			 "  \"t\\u000a\": [\n"
			 "    {\"na\\\"me\": \"a\\\\b\\u0001\\u00ff\", \"ttl\": \"\\\"3\\\"\"}\n"
			 "  ]\n"
			 "}\n");
}

/* Text shows hostile bytes as \xNN and measures widths in code points. */
static void build_hostile_text(struct report *r)
{
	static const char *const keys[] = { "name", "n" };
	static const char *const row1[] = { "\xc3\xa9t\xc3\xa9", "1" };
	static const char *const row2[] = { "a\tb", "22" };

	report_begin(r, "s", "Bad\033[2J title");
	report_str(r, "name", "Name", "evil\033[2J\r\n\x7f\xc2\x9b\xff \xc3\xa9.", NONE);
	report_str(r, "debit", "D\xc3\xa9" "bit", "1", NONE);
	report_str(r, "tab", "A\tB", "2", NONE);
	report_table_begin(r, "t", NULL, 2, keys, NULL, "sn");
	report_table_row(r, row1, NULL);
	report_table_row(r, row2, NULL);
	report_table_end(r);
	report_note(r, NONE, "note\x07 here");
	report_end(r);
}

static void test_text_sanitized(void **state)
{
	expect_doc(build_hostile_text, REPORT_TEXT,
		   "Bad\\x1b[2J title\n"
		   "  Name:   evil\\x1b[2J\\x0d\\x0a\\x7f\\xc2\\x9b\\xff \xc3\xa9.\n"
		   "  D\xc3\xa9" "bit:  1\n"
		   "  A\\x09B: 2\n"
		   "  name     n\n"
		   "  \xc3\xa9t\xc3\xa9      1\n"
		   "  a\\x09b  22\n"
		   "  note\\x07 here\n");
}

/* ---- limits and life cycle ---- */

static void build_deep(struct report *r)
{
	char key[8];
	for (int i = 1; i <= 10; i++) {
		snprintf(key, sizeof(key), "l%d", i);
		report_begin(r, key, key);
		report_u64(r, "d", "Depth", (uint64_t)i);
	}
	for (int i = 0; i < 10; i++)
		report_end(r);
	/* The two dropped levels took their two ends: this is the root. */
	report_str(r, "after", "After", "x", NONE);
	report_end(r);  /* unbalanced: ignored */
	report_str(r, "last", "Last", "y", NONE);
}

static void test_depth_overflow(void **state)
{
	expect_doc(build_deep, REPORT_TEXT,
		   "l1\n"
		   "  Depth: 1\n"
		   "  l2\n"
		   "    Depth: 2\n"
		   "    l3\n"
		   "      Depth: 3\n"
		   "      l4\n"
		   "        Depth: 4\n"
		   "        l5\n"
		   "          Depth: 5\n"
		   "          l6\n"
		   "            Depth: 6\n"
		   "            l7\n"
		   "              Depth: 7\n"
		   "              l8\n"
		   "                Depth: 8\n"
		   "\n"
		   "After: x\n"
		   "Last:  y\n");
	expect_doc(build_deep, REPORT_JSON,
		   "{\n"
		   "  \"l1\": {\n"
		   "    \"d\": 1,\n"
		   "    \"l2\": {\n"
		   "      \"d\": 2,\n"
		   "      \"l3\": {\n"
		   "        \"d\": 3,\n"
		   "        \"l4\": {\n"
		   "          \"d\": 4,\n"
		   "          \"l5\": {\n"
		   "            \"d\": 5,\n"
		   "            \"l6\": {\n"
		   "              \"d\": 6,\n"
		   "              \"l7\": {\n"
		   "                \"d\": 7,\n"
		   "                \"l8\": {\n"
		   "                  \"d\": 8\n"
		   "                }\n"
		   "              }\n"
		   "            }\n"
		   "          }\n"
		   "        }\n"
		   "      }\n"
		   "    }\n"
		   "  },\n"
		   "  \"after\": \"x\",\n"
		   "  \"last\": \"y\"\n"
		   "}\n");
}

/* Sections left open, even dropped ones, are closed by report_finish(). */
static void build_unclosed(struct report *r)
{
	for (int i = 0; i < 9; i++)
		report_begin(r, "s", NULL);
	report_u64(r, "x", "X", 1);
}

static void test_unclosed_sections(void **state)
{
	expect_doc(build_unclosed, REPORT_TEXT, "");
	struct report *r = report_new(REPORT_JSON);
	build_unclosed(r);
	const char *text = report_finish(r, NULL);
	assert_true(json_valid(text, strlen(text)));
	assert_null(strstr(text, "\"x\""));
	report_free(r);
}

static void test_finish_twice(void **state)
{
	struct report *r = report_new(REPORT_JSON);
	size_t len1 = 0, len2 = 0;

	report_u64(r, "a", "A", 1);
	const char *first = report_finish(r, &len1);
	/* Everything after finish is ignored. */
	report_u64(r, "b", "B", 2);
	report_begin(r, "s", "S");
	report_note(r, NONE, "n");
	report_table_begin(r, "t", "T", 0, NULL, NULL, NULL);
	report_end(r);
	const char *second = report_finish(r, &len2);
	assert_ptr_equal(first, second);
	assert_int_equal(len1, len2);
	assert_string_equal(second, "{\n  \"a\": 1\n}\n");
	assert_string_equal(report_finish(r, NULL), "{\n  \"a\": 1\n}\n");
	report_free(r);
}

static void test_null_report(void **state)
{
	size_t len = 0;
	report_free(NULL);
	report_str(NULL, "a", "A", "x", NONE);
	report_begin(NULL, "a", "A");
	report_note(NULL, NONE, "x");
	/* A NULL report is what report_new() gives when memory runs out. */
	const char *text = report_finish(NULL, &len);
	assert_string_equal(text, "error: out of memory while building the report\n");
	assert_int_equal(len, strlen(text));
}

/* ---- big and random documents ---- */

static void big_document(struct report *r)
{
	static const char *const keys[] = { "name", "type", "ttl", "rdata", "hits" };
	static const char *const kinds = "ssnsn";
	char name[64], ttl[32], every_byte[256];

	for (int i = 0; i < 255; i++)
		every_byte[i] = (char)(i + 1);
	every_byte[255] = '\0';
	report_str(r, "version", "Version", "0.3 \"beta\"", GOOD);
	report_str(r, "bytes", "Bytes", every_byte, BAD);
	report_double(r, "nan", "NaN", NAN, 3);
	report_bool(r, "yes", "Yes", true);
	report_note(r, DIM, "note");
	for (int s = 0; s < 5; s++) {
		report_begin(r, every_byte + s * 40, every_byte + s * 40);
		for (int d = 0; d < 9; d++)
			report_begin(r, "nest", "Nest");
		report_double(r, "ratio", "Ratio", s / 3.0, s);
		for (int d = 0; d < 9; d++)
			report_end(r);
		report_table_begin(r, every_byte + 200, "Entries", 5, keys, keys, kinds);
		for (int i = 0; i < 50; i++) {
			snprintf(name, sizeof(name), "host%d.\xff\x80\"\\example.", i);
			snprintf(ttl, sizeof(ttl), i % 7 ? "%d" : "n%d", i * 10);
			const char *cells[] = { name, i % 2 ? "A" : NULL, ttl, every_byte + i, "-2.5e3" };
			report_table_row(r, cells, NULL);
		}
		report_table_end(r);
		report_begin(r, "empty", NULL);
		report_end(r);
		report_table_begin(r, "none", NULL, 0, NULL, NULL, NULL);
		report_table_row(r, keys, NULL);
		report_end(r);
	}
}

static void test_big_json_valid(void **state)
{
	struct report *r = report_new(REPORT_JSON);
	size_t len = 0;
	big_document(r);
	const char *text = report_finish(r, &len);
	assert_true(len > 10000);
	assert_int_equal(strlen(text), len);
	assert_true(json_valid(text, len));
	assert_int_equal(text[len - 1], '\n');
	report_free(r);
}

/* Deterministic pseudo-random numbers (a 64-bit LCG), so a failure
 * replays. */
static uint64_t rnd_state;

static unsigned rnd(unsigned n)
{
	rnd_state = rnd_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (unsigned)(rnd_state >> 33) % n;
}

/* Mostly ASCII letters, sometimes any byte but NUL. */
static void rnd_string(char *out, size_t size)
{
	size_t len = rnd((unsigned)size);
	for (size_t i = 0; i < len; i++)
		out[i] = rnd(3) ? (char)('a' + rnd(26)) : (char)(1 + rnd(255));
	out[len] = '\0';
}

static void random_document(struct report *r)
{
	char a[16], b[16], cells[16][16];
	const char *cellp[16];
	enum report_tone tones[16];

	for (int step = 0; step < 60; step++) {
		rnd_string(a, sizeof(a));
		rnd_string(b, sizeof(b));
		switch (rnd(9)) {
		case 0: report_begin(r, a, rnd(4) ? b : NULL); break;
		case 1: report_end(r); break;
		case 2: report_str(r, a, b, rnd(5) ? b : NULL, (enum report_tone)rnd(4)); break;
		case 3: report_u64(r, a, b, (uint64_t)rnd(100000) * rnd(100000)); break;
		case 4: report_double(r, a, b, rnd(5) ? rnd(10000) / 7.0 : NAN, (int)rnd(6) - 1); break;
		case 5: report_bool(r, a, b, rnd(2)); break;
		case 6: report_note(r, (enum report_tone)rnd(4), "%s\n%s", a, b); break;
		case 7: {
			size_t ncols = rnd(5);
			char kinds[8] = "";
			for (size_t c = 0; c < ncols; c++) {
				kinds[c] = rnd(2) ? 'n' : 's';
				rnd_string(cells[c], sizeof(cells[c]));
				cellp[c] = cells[c];
			}
			report_table_begin(r, a, rnd(2) ? b : NULL, ncols, cellp, NULL, kinds);
			for (unsigned row = rnd(4); row > 0; row--) {
				for (size_t c = 0; c < ncols; c++) {
					if (rnd(2))
						snprintf(cells[c], sizeof(cells[c]), "%d", (int)rnd(2000) - 1000);
					else
						rnd_string(cells[c], sizeof(cells[c]));
					tones[c] = (enum report_tone)rnd(4);
				}
				report_table_row(r, cellp, tones);
			}
			if (rnd(2))
				report_table_end(r);
			break;
		}
		default: report_table_end(r); break;
		}
	}
}

/* Removes "\033[...m" sequences. */
static char *strip_sgr(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	assert_non_null(out);
	while (*s) {
		if (s[0] == '\033' && s[1] == '[') {
			s += 2;
			while (*s && *s != 'm')
				s++;
			assert_int_equal(*s, 'm');
			s++;
			continue;
		}
		*o++ = *s++;
	}
	*o = '\0';
	return out;
}

/* Plain text: valid UTF-8, no control byte but newlines, a newline at the
 * end. (Trailing blanks are checked in exact strings: the random strings
 * may end in spaces of their own.) */
static void check_text(const char *text)
{
	const unsigned char *s = (const unsigned char *)text;
	size_t len = strlen(text);

	for (size_t i = 0; i < len;) {
		size_t n = t_utf8(s + i, len - i);
		assert_true(n > 0);
		assert_true(s[i] >= 0x20 || s[i] == '\n');
		assert_true(s[i] != 0x7f);
		i += n;
	}
	assert_true(len == 0 || text[len - 1] == '\n');
}

static void test_random_documents(void **state)
{
	for (uint64_t seed = 1; seed <= 300; seed++) {
		const char *out[3];
		struct report *rep[3];
		for (int f = 0; f < 3; f++) {
			rnd_state = seed;
			rep[f] = report_new((enum report_format)f);
			random_document(rep[f]);
			out[f] = report_finish(rep[f], NULL);
		}
		check_text(out[REPORT_TEXT]);
		/* Colour changes nothing but the escape codes. */
		char *stripped = strip_sgr(out[REPORT_COLOR]);
		assert_string_equal(stripped, out[REPORT_TEXT]);
		free(stripped);
		if (!json_valid(out[REPORT_JSON], strlen(out[REPORT_JSON])))
			fail_msg("seed %llu: invalid JSON:\n%s", (unsigned long long)seed,
				 out[REPORT_JSON]);
		for (int f = 0; f < 3; f++)
			report_free(rep[f]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_json_checker_itself),
		cmocka_unit_test(test_fields_aligned),
		cmocka_unit_test(test_nested_sections),
		cmocka_unit_test(test_empty_document),
		cmocka_unit_test(test_null_strings),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_bool_columns),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_table_colour),
		cmocka_unit_test(test_table_widths),
		cmocka_unit_test(test_json_number_cells),
		cmocka_unit_test(test_empty_table),
		cmocka_unit_test(test_table_column_limit),
		cmocka_unit_test(test_table_misuse),
		cmocka_unit_test(test_notes),
		cmocka_unit_test(test_json_escaping),
		cmocka_unit_test(test_json_escaping_in_tables),
		cmocka_unit_test(test_text_sanitized),
		cmocka_unit_test(test_depth_overflow),
		cmocka_unit_test(test_unclosed_sections),
		cmocka_unit_test(test_finish_twice),
		cmocka_unit_test(test_null_report),
		cmocka_unit_test(test_big_json_valid),
		cmocka_unit_test(test_random_documents),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
