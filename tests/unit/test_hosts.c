/* test_hosts.c - unit tests for hosts.c: the hosts(5) parser and its
 * table, and the answers hosts_answer() writes for file names, PTR, the
 * localhost names, the own hostname and the special-use domains.
 *
 * Each test writes its hosts file into a private temporary folder, asks
 * questions built by hand and reads the stored answers back with ldns. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <arpa/inet.h>
#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ldns/ldns.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stubd/hosts.h"
#include "stubd/log.h"
#include "stubd/wire.h"
#include "pkt.h"

#define TYPE_MX 15
#define TYPE_TXT 16
#define CLASS_CH 3
#define CLASS_ANY 255

/* ---- temporary files ------------------------------------------------ */

static char tmpdir[] = "/tmp/test_hosts.XXXXXX";
static char path_buf[512];

static int make_tmpdir(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;
	char path[600];

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", tmpdir, de->d_name);
		unlink(path);
	}
	closedir(d);
	return rmdir(tmpdir);
}

/* The path of name in the test folder; the buffer is reused by each call. */
static const char *tmp_path(const char *name)
{
	snprintf(path_buf, sizeof(path_buf), "%s/%s", tmpdir, name);
	return path_buf;
}

static const char *write_bytes(const char *name, const void *data, size_t len)
{
	const char *path = tmp_path(name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static const char *write_text(const char *name, const char *text)
{
	return write_bytes(name, text, strlen(text));
}

static struct hosts_table *load_text(const char *text, struct hosts_load_info *info)
{
	struct hosts_load_info ignored;
	struct hosts_table *t = hosts_load(write_text("hosts", text), info ? info : &ignored);
	assert_non_null(t);
	return t;
}

/* Sends stderr to a file until capture_end(), which returns what was logged. */
static char logged[16384];

static void capture_begin(int *saved)
{
	fflush(stderr);
	*saved = dup(2);
	int fd = open(tmp_path("stderr.txt"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	dup2(fd, 2);
	close(fd);
}

static const char *capture_end(int saved)
{
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	FILE *f = fopen(tmp_path("stderr.txt"), "r");
	assert_non_null(f);
	size_t n = fread(logged, 1, sizeof(logged) - 1, f);
	logged[n] = '\0';
	fclose(f);
	return logged;
}

static size_t count_substr(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
		n++;
	return n;
}

/* ---- queries and answers -------------------------------------------- */


static struct wire_query make_query(const char *qname, uint16_t type, uint16_t qclass,
				    uint16_t flags)
{
	struct pkt p = { .len = 0 };
	struct wire_query q;
	unsigned rcode;

	put16(&p, 0x4321);
	put16(&p, flags);
	put16(&p, 1);
	put16(&p, 0);
	put16(&p, 0);
	put16(&p, 0);
	name(&p, qname);
	put16(&p, type);
	put16(&p, qclass);
	assert_int_equal(wire_parse_query(p.b, p.len, &q, &rcode), WIRE_VERDICT_RESOLVE);
	return q;
}

static uint8_t out[WIRE_MSG_MAX];
static size_t out_len;

static enum hosts_verdict ask_full(const struct hosts_table *t, const struct hosts_options *opt,
				   const struct wire_query *q, size_t cap)
{
	out_len = 0;
	enum hosts_verdict v = hosts_answer(t, opt, q, out, cap, &out_len);
	if (v == HOSTS_ANSWERED)
		assert_true(out_len > 0 && out_len <= cap);
	return v;
}

static struct hosts_options no_opts(void)
{
	struct hosts_options o;
	memset(&o, 0, sizeof(o));
	return o;
}

/* "A 100.0.0.1, AAAA ::1": the answer section as text, in order. Also
 * checks what every record must be: owned by the question name exactly
 * as the client wrote it, class IN, TTL ttl. */
static void records_text(ldns_pkt *pkt, uint32_t ttl, char *buf, size_t size)
{
	ldns_rr_list *an = ldns_pkt_answer(pkt);
	char *qowner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(pkt), 0)));
	size_t pos = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		ldns_rr *rr = ldns_rr_list_rr(an, i);
		char *owner = ldns_rdf2str(ldns_rr_owner(rr));
		char *type = ldns_rr_type2str(ldns_rr_get_type(rr));
		char *data = ldns_rdf2str(ldns_rr_rdf(rr, 0));
		assert_string_equal(owner, qowner);
		assert_int_equal(ldns_rr_get_class(rr), LDNS_RR_CLASS_IN);
		assert_int_equal(ldns_rr_ttl(rr), ttl);
		assert_int_equal(ldns_rr_rd_count(rr), 1);
		int n = snprintf(buf + pos, size - pos, "%s%s %s", i ? ", " : "", type, data);
		assert_true(n > 0 && (size_t)n < size - pos);
		pos += (size_t)n;
		free(owner);
		free(type);
		free(data);
	}
	free(qowner);
}

/* Parses the stored answer and checks the header every hosts answer has:
 * ID 0, QR AA RA, RD as asked, the client's question, only answers. */
static ldns_pkt *parse_answer(const struct wire_query *q, unsigned rcode)
{
	ldns_pkt *pkt = NULL;
	assert_int_equal(ldns_wire2pkt(&pkt, out, out_len), LDNS_STATUS_OK);
	assert_int_equal(ldns_pkt_id(pkt), 0);
	assert_true(ldns_pkt_qr(pkt));
	assert_true(ldns_pkt_aa(pkt));
	assert_true(ldns_pkt_ra(pkt));
	assert_false(ldns_pkt_tc(pkt));
	assert_int_equal(ldns_pkt_rd(pkt), (q->flags & WIRE_FLAG_RD) != 0);
	assert_int_equal(ldns_pkt_get_rcode(pkt), rcode);
	assert_int_equal(ldns_pkt_qdcount(pkt), 1);
	assert_int_equal(ldns_pkt_nscount(pkt), 0);
	assert_int_equal(ldns_pkt_arcount(pkt), 0);
	/* The question is the client's, byte for byte (its case included). */
	assert_memory_equal(out + WIRE_HEADER_LEN, q->qname, q->qname_len);
	assert_int_equal(wire_get16(out + WIRE_HEADER_LEN + q->qname_len), q->qtype);
	assert_int_equal(wire_get16(out + WIRE_HEADER_LEN + q->qname_len + 2), q->qclass);
	return pkt;
}

/* Asks qname/type (class IN, RD set) and checks the answer: rcode and the
 * records as records_text() writes them ("" for none). */
static void expect_cls(const struct hosts_table *t, const struct hosts_options *opt,
		       const char *qname, uint16_t type, uint16_t qclass, unsigned rcode,
		       const char *want)
{
	struct wire_query q = make_query(qname, type, qclass, WIRE_FLAG_RD);
	char got[4096];

	if (ask_full(t, opt, &q, sizeof(out)) != HOSTS_ANSWERED)
		fail_msg("%s type %u: passed, expected an answer", qname, type);
	ldns_pkt *pkt = parse_answer(&q, rcode);
	records_text(pkt, opt ? opt->ttl : 0, got, sizeof(got));
	if (strcmp(got, want) != 0)
		fail_msg("%s type %u: got \"%s\", want \"%s\"", qname, type, got, want);
	ldns_pkt_free(pkt);
}

static void expect(const struct hosts_table *t, const struct hosts_options *opt,
		   const char *qname, uint16_t type, unsigned rcode, const char *want)
{
	expect_cls(t, opt, qname, type, WIRE_CLASS_IN, rcode, want);
}

static void expect_pass_cls(const struct hosts_table *t, const struct hosts_options *opt,
			    const char *qname, uint16_t type, uint16_t qclass)
{
	struct wire_query q = make_query(qname, type, qclass, WIRE_FLAG_RD);
	if (ask_full(t, opt, &q, sizeof(out)) != HOSTS_PASS)
		fail_msg("%s type %u: answered, expected PASS", qname, type);
}

static void expect_pass(const struct hosts_table *t, const struct hosts_options *opt,
			const char *qname, uint16_t type)
{
	expect_pass_cls(t, opt, qname, type, WIRE_CLASS_IN);
}

#define NOERROR WIRE_RCODE_NOERROR
#define NXDOMAIN WIRE_RCODE_NXDOMAIN
#define A WIRE_TYPE_A
#define AAAA WIRE_TYPE_AAAA
#define PTR WIRE_TYPE_PTR
#define ANY WIRE_TYPE_ANY

/* The ip6.arpa name of an IPv6 address (RFC 3596 §2.5). */
static const char *rev6(const char *addr)
{
	static char buf[128];
	uint8_t b[16];
	size_t pos = 0;

	assert_int_equal(inet_pton(AF_INET6, addr, b), 1);
	for (int i = 15; i >= 0; i--)
		pos += (size_t)snprintf(buf + pos, sizeof(buf) - pos, "%x.%x.", b[i] & 0xf, b[i] >> 4);
	snprintf(buf + pos, sizeof(buf) - pos, "ip6.arpa");
	return buf;
}

/* ---- the file ------------------------------------------------------- */

static void test_v4_v6_and_aliases(void **state)
{
	struct hosts_load_info info;
	struct hosts_table *t = load_text("127.0.0.1 localhost\n"
					  "100.0.0.1 www.example.test www web\n"
					  "2001:db8::1 www.example.test\n"
					  "fe80::1%eth0 link.test\n",
					  &info);

	assert_int_equal(info.lines, 4);
	assert_int_equal(info.entries, 6);
	assert_int_equal(info.skipped, 0);
	assert_false(info.missing);

	expect(t, NULL, "www.example.test", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "www.example.test", AAAA, NOERROR, "AAAA 2001:db8::1");
	expect(t, NULL, "www.example.test", ANY, NOERROR, "A 100.0.0.1, AAAA 2001:db8::1");
	/* Aliases, single-label ones included, are names like any other. */
	expect(t, NULL, "www", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "web", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "web", AAAA, NOERROR, "");
	/* The zone index is dropped: DNS cannot carry it. */
	expect(t, NULL, "link.test", AAAA, NOERROR, "AAAA fe80::1");
	hosts_free(t);
}

static void test_several_lines_one_name(void **state)
{
	struct hosts_load_info info;
	struct hosts_table *t = load_text("100.0.0.3 multi.test\n"
					  "100.0.0.1 multi.test\n"
					  "100.0.0.3 MULTI.test   # the same pair again\n"
					  "2001:db8::2 multi.test\n"
					  "100.0.0.2 multi.test\n"
					  "2001:db8::1 multi.test\n"
					  "2001:db8:0::2 multi.test.\n"
					  "100.0.0.9 dup.test dup.test DUP.TEST. other.test\n",
					  &info);

	/* multi: 3 v4 + 2 v6; dup: 1; other: 1 */
	assert_int_equal(info.entries, 7);
	expect(t, NULL, "multi.test", ANY, NOERROR,
	       "A 100.0.0.3, A 100.0.0.1, A 100.0.0.2, AAAA 2001:db8::2, AAAA 2001:db8::1");
	expect(t, NULL, "multi.test", A, NOERROR, "A 100.0.0.3, A 100.0.0.1, A 100.0.0.2");
	expect(t, NULL, "dup.test", A, NOERROR, "A 100.0.0.9");
	expect(t, NULL, "other.test", A, NOERROR, "A 100.0.0.9");
	hosts_free(t);
}

static void test_case_insensitive(void **state)
{
	struct hosts_table *t = load_text("100.0.0.1 MixedCase.Example.TEST\n", NULL);

	/* RFC 4343: found in any case; the reply keeps the client's. */
	expect(t, NULL, "mIXEDcase.example.test", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "MIXEDCASE.EXAMPLE.TEST", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "mixedcase.example.test.", A, NOERROR, "A 100.0.0.1");

	struct wire_query q = make_query("mIXEDcase.example.test", A, WIRE_CLASS_IN, 0);
	assert_int_equal(ask_full(t, NULL, &q, sizeof(out)), HOSTS_ANSWERED);
	ldns_pkt *pkt = parse_answer(&q, NOERROR);
	char *owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_answer(pkt), 0)));
	assert_string_equal(owner, "mIXEDcase.example.test.");
	free(owner);
	ldns_pkt_free(pkt);
	hosts_free(t);
}

static void test_trailing_dot_in_file(void **state)
{
	struct hosts_table *t = load_text("100.0.0.1 dotted.test. alias.test.\n", NULL);

	expect(t, NULL, "dotted.test", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "alias.test", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "1.0.0.100.in-addr.arpa", PTR, NOERROR, "PTR dotted.test.");
	hosts_free(t);
}

static void test_comments_blanks_tabs(void **state)
{
	struct hosts_load_info info;
	int saved;

	capture_begin(&saved);
	struct hosts_table *t = load_text("# a whole-line comment\n"
					  "   # an indented one\n"
					  "\n"
					  "   \t  \n"
					  "100.0.0.1\tTab.test\t# trailing comment\n"
					  "100.0.0.2 hash.test#no space before it\n"
					  "\t 100.0.0.3   spaced.test \t other.test  \n"
					  "100.0.0.4 crlf.test\r\n"
					  "100.0.0.5 # the name is in the comment\n"
					  "#100.0.0.6 commented.test\n",
					  &info);
	const char *log = capture_end(saved);

	assert_non_null(strstr(log, ":9: address with no name, ignoring line"));

	assert_int_equal(info.lines, 10);
	assert_int_equal(info.skipped, 1);
	assert_int_equal(info.entries, 5);
	expect(t, NULL, "tab.test", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "hash.test", A, NOERROR, "A 100.0.0.2");
	expect(t, NULL, "spaced.test", A, NOERROR, "A 100.0.0.3");
	expect(t, NULL, "other.test", A, NOERROR, "A 100.0.0.3");
	expect(t, NULL, "crlf.test", A, NOERROR, "A 100.0.0.4");
	expect_pass(t, NULL, "commented.test", A);
	hosts_free(t);
}

static void test_malformed_lines_skipped(void **state)
{
	char label63[64], ok_name[300], long_name[300], text[4096];
	struct hosts_load_info info;
	int saved;

	memset(label63, 'a', 63);
	label63[63] = '\0';
	/* 63+63+63+61 bytes of labels: 255 bytes in wire form, the most. */
	snprintf(ok_name, sizeof(ok_name), "%s.%s.%s.%.61s", label63, label63, label63, label63);
	snprintf(long_name, sizeof(long_name), "%s.%s.%s.%.62s", label63, label63, label63,
		 label63);
	snprintf(text, sizeof(text),
		 "100.0.0.1 good1.test\n"                 /* 1 */
		 "100.0.0.256 bad.test\n"                 /* 2: bad address */
		 "10.0.0 bad.test\n"                     /* 3 */
		 "not-an-address bad.test\n"             /* 4 */
		 "100.0.0.2\n"                            /* 5: no name */
		 "100.0.0.3 a..b.test\n"                  /* 6: empty label */
		 "100.0.0.4 .lead.test\n"                 /* 7 */
		 "100.0.0.5 %sa.test\n"                   /* 8: 64-byte label */
		 "100.0.0.6 %s\n"                         /* 9: 256 bytes */
		 "100.0.0.7 ok.test bad..alias\n"         /* 10: one bad name, whole line */
		 "100.0.0.8 x\001y.test\n"                /* 11: control character */
		 "100.0.0.9 caf\xc3\xa9.test\n"           /* 12: UTF-8, not ASCII */
		 "::ffff:zz bad6.test\n"                 /* 13 */
		 "100.0.0.10 %s.test\n"                   /* 14: a 63-byte label is fine */
		 "100.0.0.11 %s\n"                        /* 15: so is 255 bytes */
		 "100.0.0.12 good2.test\n",               /* 16 */
		 label63, long_name, label63, ok_name);

	capture_begin(&saved);
	struct hosts_table *t = load_text(text, &info);
	const char *log = capture_end(saved);

	assert_int_equal(info.lines, 16);
	assert_int_equal(info.skipped, 12);
	assert_int_equal(info.entries, 4);
	/* Each skipped line is named by file and line number. */
	char want[600];
	snprintf(want, sizeof(want), "%s:2: bad address", tmp_path("hosts"));
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof(want), "%s:5: address with no name", tmp_path("hosts"));
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof(want), "%s:9: name longer than 255 bytes", tmp_path("hosts"));
	assert_non_null(strstr(log, want));
	snprintf(want, sizeof(want), "%s:12: non-ASCII name", tmp_path("hosts"));
	assert_non_null(strstr(log, want));
	assert_int_equal(count_substr(log, "ignoring line"), 12);

	expect(t, NULL, "good1.test", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "good2.test", A, NOERROR, "A 100.0.0.12");
	expect(t, NULL, ok_name, A, NOERROR, "A 100.0.0.11");
	expect_pass(t, NULL, "ok.test", A);
	expect_pass(t, NULL, "bad.test", A);
	expect_pass(t, NULL, "lead.test", A);
	hosts_free(t);
}

static void test_warnings_are_capped(void **state)
{
	char text[2000] = "";
	struct hosts_load_info info;
	int saved;

	for (int i = 0; i < 50; i++)
		strcat(text, "bogus line\n");
	strcat(text, "100.0.0.1 fine.test\n");
	capture_begin(&saved);
	struct hosts_table *t = load_text(text, &info);
	const char *log = capture_end(saved);

	assert_int_equal(info.skipped, 50);
	/* A broken file is pointed at, not copied into the log. */
	assert_int_equal(count_substr(log, "ignoring line"), 20);
	assert_non_null(strstr(log, "30 more malformed lines"));
	expect(t, NULL, "fine.test", A, NOERROR, "A 100.0.0.1");
	hosts_free(t);
}


static void test_big_file(void **state)
{
	enum { LINES = 100000 };
	const char *path = tmp_path("big");
	FILE *f = fopen(path, "w");
	struct hosts_load_info info;

	assert_non_null(f);
	for (int i = 0; i < LINES; i++)
		fprintf(f, "100.%d.%d.%d host%d.example.test alias%d\n", i >> 16, (i >> 8) & 0xff,
			i & 0xff, i, i);
	assert_int_equal(fclose(f), 0);

	/* Load time is a benchmark matter (tools/bench), not asserted here. */
	struct hosts_table *t = hosts_load(path, &info);
	assert_non_null(t);
	assert_int_equal(info.lines, LINES);
	assert_int_equal(info.entries, 2 * LINES);
	assert_int_equal(info.skipped, 0);

	expect(t, NULL, "host0.example.test", A, NOERROR, "A 100.0.0.0");
	expect(t, NULL, "HOST99999.example.test", A, NOERROR, "A 100.1.134.159");
	expect(t, NULL, "alias99999", A, NOERROR, "A 100.1.134.159");
	expect(t, NULL, "159.134.1.100.in-addr.arpa", PTR, NOERROR, "PTR host99999.example.test.");
	expect_pass(t, NULL, "host100000.example.test", A);
	unlink(path);
	hosts_free(t);
}

static void test_long_lines_skipped(void **state)
{
	const size_t big = 1 << 20;
	char *text = malloc(big + 16384);
	size_t n = 0;
	struct hosts_load_info info;
	int saved;

	assert_non_null(text);
	n += (size_t)sprintf(text + n, "100.0.0.1 before.test\n");
	/* 1 MB of valid-looking aliases: rejected for its length alone. */
	n += (size_t)sprintf(text + n, "100.0.0.2 huge.test");
	while (n < big)
		n += (size_t)sprintf(text + n, " a%zu.test", n);
	text[n++] = '\n';
	n += (size_t)sprintf(text + n, "100.0.0.3 after.test\n");
	/* Exactly 4096 bytes before the newline: kept. 4097: dropped. */
	size_t start = n;
	n += (size_t)sprintf(text + n, "100.0.0.4 exact.test");
	memset(text + n, ' ', 4096 - (n - start));
	n = start + 4096;
	text[n++] = '\n';
	start = n;
	n += (size_t)sprintf(text + n, "100.0.0.5 over.test");
	memset(text + n, ' ', 4097 - (n - start));
	n = start + 4097;
	text[n++] = '\n';
	/* The last line needs no newline. */
	n += (size_t)sprintf(text + n, "100.0.0.6 last.test");

	capture_begin(&saved);
	struct hosts_table *t = hosts_load(write_bytes("hosts", text, n), &info);
	const char *log = capture_end(saved);
	free(text);

	assert_non_null(t);
	assert_int_equal(info.lines, 6);
	assert_int_equal(info.skipped, 2);
	assert_non_null(strstr(log, ":2: line longer than 4096 bytes"));
	assert_non_null(strstr(log, ":5: line longer than 4096 bytes"));
	expect(t, NULL, "before.test", A, NOERROR, "A 100.0.0.1");
	expect(t, NULL, "after.test", A, NOERROR, "A 100.0.0.3");
	expect(t, NULL, "exact.test", A, NOERROR, "A 100.0.0.4");
	expect(t, NULL, "last.test", A, NOERROR, "A 100.0.0.6");
	expect_pass(t, NULL, "huge.test", A);
	expect_pass(t, NULL, "a100.test", A);
	expect_pass(t, NULL, "over.test", A);
	hosts_free(t);
}

static void test_binary_garbage(void **state)
{
	enum { SIZE = 256 * 1024 };
	uint8_t *data = malloc(SIZE + 64);
	uint32_t x = 12345;
	struct hosts_load_info info;
	int saved;

	assert_non_null(data);
	for (size_t i = 0; i < SIZE; i++) {
		x = x * 1103515245u + 12345u; /* any fixed sequence will do */
		data[i] = (uint8_t)(x >> 16);
		if (i % 97 == 0)
			data[i] = 0;
	}
	size_t n = SIZE;
	n += (size_t)sprintf((char *)data + n, "\n100.0.0.1 survivor.test\n");

	capture_begin(&saved);
	struct hosts_table *t = hosts_load(write_bytes("hosts", data, n), &info);
	capture_end(saved);

	assert_non_null(t);
	assert_true(info.lines > 100);
	assert_true(info.skipped > 0);
	assert_int_equal(info.entries, 1);
	expect(t, NULL, "survivor.test", A, NOERROR, "A 100.0.0.1");
	hosts_free(t);

	/* A line of an address, a name and a NUL: the NUL alone rejects it. */
	static const char nul_line[] = "100.0.0.1 sneaky.test\0 100.0.0.2 hidden.test\n"
				       "100.0.0.3 \xff\xfe.test\n"
				       "\0\0\0";
	capture_begin(&saved);
	t = hosts_load(write_bytes("hosts", nul_line, sizeof(nul_line) - 1), &info);
	const char *log = capture_end(saved);
	assert_non_null(t);
	assert_int_equal(info.lines, 3);
	assert_int_equal(info.skipped, 3);
	assert_int_equal(info.entries, 0);
	assert_non_null(strstr(log, ":1: NUL byte"));
	assert_non_null(strstr(log, ":2: not valid UTF-8"));
	expect_pass(t, NULL, "sneaky.test", A);
	hosts_free(t);
	free(data);
}

static void test_missing_file(void **state)
{
	struct hosts_load_info info = { .lines = 99 };
	struct hosts_table *t = hosts_load(tmp_path("does-not-exist"), &info);

	assert_non_null(t);
	assert_true(info.missing);
	assert_int_equal(info.lines, 0);
	assert_int_equal(info.entries, 0);
	expect_pass(t, NULL, "www.example.test", A);
	expect_pass(t, NULL, "1.0.0.100.in-addr.arpa", PTR);
	expect(t, NULL, "localhost", A, NOERROR, "A 127.0.0.1");
	hosts_free(t);

	/* Unreadable for another reason: an error, and info untouched. */
	info = (struct hosts_load_info){ .lines = 99 };
	errno = 0;
	assert_null(hosts_load(tmpdir, &info));
	assert_int_equal(errno, EISDIR);
	assert_int_equal(info.lines, 99);

	hosts_free(NULL);
}

static void test_nodata(void **state)
{
	struct hosts_table *t = load_text("100.0.0.1 v4only.test\n"
					  "2001:db8::1 v6only.test\n",
					  NULL);

	/* RFC 2308 §2.2: the name exists, the type does not: NOERROR, empty. */
	expect(t, NULL, "v4only.test", AAAA, NOERROR, "");
	expect(t, NULL, "v4only.test", TYPE_MX, NOERROR, "");
	expect(t, NULL, "v4only.test", TYPE_TXT, NOERROR, "");
	expect(t, NULL, "v4only.test", PTR, NOERROR, "");
	expect(t, NULL, "v6only.test", A, NOERROR, "");
	expect(t, NULL, "v6only.test", ANY, NOERROR, "AAAA 2001:db8::1");
	hosts_free(t);
}

static void test_ptr_from_file(void **state)
{
	struct hosts_table *t = load_text("100.0.0.1 First.Example.test first\n"
					  "100.0.0.1 second.test\n"
					  "2001:db8::1 six.test\n"
					  "100.0.0.2 two.test\n"
					  "2001:DB8::1 later.test\n",
					  NULL);

	/* The canonical name of the first line with the address, as written. */
	expect(t, NULL, "1.0.0.100.in-addr.arpa", PTR, NOERROR, "PTR First.Example.test.");
	expect(t, NULL, "1.0.0.100.IN-ADDR.ARPA.", PTR, NOERROR, "PTR First.Example.test.");
	expect(t, NULL, "1.0.0.100.in-addr.arpa", ANY, NOERROR, "PTR First.Example.test.");
	expect(t, NULL, "1.0.0.100.in-addr.arpa", A, NOERROR, "");
	expect(t, NULL, "2.0.0.100.in-addr.arpa", PTR, NOERROR, "PTR two.test.");
	expect(t, NULL, rev6("2001:db8::1"), PTR, NOERROR, "PTR six.test.");

	char upper[128];
	snprintf(upper, sizeof(upper), "%s", rev6("2001:db8::1"));
	for (char *p = upper; *p; p++)
		if (*p >= 'a' && *p <= 'z')
			*p = (char)(*p - 32);
	expect(t, NULL, upper, PTR, NOERROR, "PTR six.test.");

	/* Not in the file, or not a reverse name: not ours. */
	expect_pass(t, NULL, "3.0.0.100.in-addr.arpa", PTR);
	expect_pass(t, NULL, rev6("2001:db8::2"), PTR);
	expect_pass(t, NULL, "01.0.0.100.in-addr.arpa", PTR);
	expect_pass(t, NULL, "1.00.0.100.in-addr.arpa", PTR);
	expect_pass(t, NULL, "1.0.10.in-addr.arpa", PTR);
	expect_pass(t, NULL, "257.0.0.100.in-addr.arpa", PTR);
	expect_pass(t, NULL, "1.1.0.0.100.in-addr.arpa", PTR);
	expect_pass(t, NULL, "in-addr.arpa", PTR);
	expect_pass(t, NULL, rev6("2001:db8::1") + 2, PTR); /* 31 nibbles */
	snprintf(upper, sizeof(upper), "%s", rev6("2001:db8::1"));
	upper[0] = 'g';
	expect_pass(t, NULL, upper, PTR);
	snprintf(upper, sizeof(upper), "1%s", rev6("2001:db8::1")); /* "11." label */
	expect_pass(t, NULL, upper, PTR);
	hosts_free(t);
}

/* ---- special-use names ---------------------------------------------- */

static void test_loopback_ptr(void **state)
{
	/* RFC 6761 §6.3 and RFC 6303 §4.2, with no hosts file at all. */
	expect(NULL, NULL, "1.0.0.127.in-addr.arpa", PTR, NOERROR, "PTR localhost.");
	expect(NULL, NULL, "5.4.3.127.in-addr.arpa", PTR, NOERROR, "PTR localhost.");
	expect(NULL, NULL, "1.0.0.127.in-addr.arpa", ANY, NOERROR, "PTR localhost.");
	expect(NULL, NULL, "1.0.0.127.in-addr.arpa", A, NOERROR, "");
	expect(NULL, NULL, rev6("::1"), PTR, NOERROR, "PTR localhost.");
	/* Names above an address exist, with no data. */
	expect(NULL, NULL, "0.0.127.in-addr.arpa", PTR, NOERROR, "");
	expect(NULL, NULL, "0.127.in-addr.arpa", PTR, NOERROR, "");
	expect(NULL, NULL, "127.in-addr.arpa", TYPE_TXT, NOERROR, "");
	/* Below 127.in-addr.arpa but no address: no such name. */
	expect(NULL, NULL, "x.0.0.127.in-addr.arpa", PTR, NXDOMAIN, "");
	expect(NULL, NULL, "1.1.0.0.127.in-addr.arpa", PTR, NXDOMAIN, "");
	expect(NULL, NULL, "300.0.0.127.in-addr.arpa", PTR, NXDOMAIN, "");
	/* Above ::1 are names for other addresses too: not ours. */
	expect_pass(NULL, NULL, rev6("::1") + 2, PTR);
	expect_pass(NULL, NULL, rev6("::2"), PTR);
	expect_pass(NULL, NULL, "1.0.0.128.in-addr.arpa", PTR);

	/* The file's name for a loopback address wins. */
	struct hosts_table *t = load_text("127.0.1.1 myhost.example myhost\n"
					  "::1 ip6-localhost ip6-loopback\n",
					  NULL);
	expect(t, NULL, "1.1.0.127.in-addr.arpa", PTR, NOERROR, "PTR myhost.example.");
	expect(t, NULL, "1.0.0.127.in-addr.arpa", PTR, NOERROR, "PTR localhost.");
	expect(t, NULL, rev6("::1"), PTR, NOERROR, "PTR ip6-localhost.");
	hosts_free(t);
}

static void test_localhost(void **state)
{
	struct hosts_table *t = load_text("100.0.0.1 localhost sub.localhost\n", NULL);
	const struct hosts_table *tables[] = { NULL, t };

	/* RFC 6761 §6.3: loopback only, whatever the file says. */
	for (size_t i = 0; i < 2; i++) {
		const struct hosts_table *x = tables[i];
		expect(x, NULL, "localhost", A, NOERROR, "A 127.0.0.1");
		expect(x, NULL, "localhost", AAAA, NOERROR, "AAAA ::1");
		expect(x, NULL, "localhost", ANY, NOERROR, "A 127.0.0.1, AAAA ::1");
		expect(x, NULL, "localhost", TYPE_MX, NOERROR, "");
		expect(x, NULL, "LocalHost.", A, NOERROR, "A 127.0.0.1");
		expect(x, NULL, "foo.localhost", A, NOERROR, "A 127.0.0.1");
		expect(x, NULL, "sub.localhost", AAAA, NOERROR, "AAAA ::1");
		expect(x, NULL, "a.b.FOO.localhost", ANY, NOERROR, "A 127.0.0.1, AAAA ::1");
		expect(x, NULL, "foo.localhost", TYPE_TXT, NOERROR, "");
		expect_pass(x, NULL, "localhost.example.test", A);
		expect_pass(x, NULL, "notlocalhost.test", A);
	}
	hosts_free(t);
}

static void test_special_domains(void **state)
{
	struct hosts_table *t = load_text("127.0.0.1 api.local\n"
					  "100.0.0.1 hidden.onion\n",
					  NULL);
	static const char *const names[] = {
		"invalid", "foo.invalid", "A.B.INVALID.", "onion", "x.onion",
		"local", "printer.local", "Printer.Local.",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		expect(t, NULL, names[i], A, NXDOMAIN, "");
		expect(t, NULL, names[i], TYPE_MX, NXDOMAIN, "");
		expect(NULL, NULL, names[i], AAAA, NXDOMAIN, "");
	}
	/* The file wins: the user asked for it. */
	expect(t, NULL, "api.local", A, NOERROR, "A 127.0.0.1");
	expect(t, NULL, "API.LOCAL", AAAA, NOERROR, "");
	expect(t, NULL, "hidden.onion", A, NOERROR, "A 100.0.0.1");
	/* Only whole labels count. */
	expect_pass(t, NULL, "notlocal.test", A);
	expect_pass(t, NULL, "local.test", A);
	expect_pass(t, NULL, "myonion.test", A);
	hosts_free(t);
}

static void test_own_hostname(void **state)
{
	struct hosts_options opt = no_opts();

	hosts_options_set_hostname(&opt, "myhost.example.test");
	inet_pton(AF_INET, "192.0.2.10", &opt.self_v4[0]);
	inet_pton(AF_INET, "192.0.2.11", &opt.self_v4[1]);
	opt.n_self_v4 = 2;
	inet_pton(AF_INET6, "2001:db8::10", &opt.self_v6[0]);
	opt.n_self_v6 = 1;

	expect(NULL, &opt, "myhost.example.test", A, NOERROR, "A 192.0.2.10, A 192.0.2.11");
	expect(NULL, &opt, "MyHost.Example.TEST.", AAAA, NOERROR, "AAAA 2001:db8::10");
	expect(NULL, &opt, "myhost.example.test", ANY, NOERROR,
	       "A 192.0.2.10, A 192.0.2.11, AAAA 2001:db8::10");
	expect(NULL, &opt, "myhost.example.test", TYPE_MX, NOERROR, "");
	/* Just the full name, not its first label. */
	expect(NULL, &opt, "myhost", A, NXDOMAIN, "");
	expect_pass(NULL, &opt, "other.example.test", A);

	/* Only IPv4 addresses: AAAA is NODATA (no ::1 fallback). */
	opt.n_self_v6 = 0;
	expect(NULL, &opt, "myhost.example.test", AAAA, NOERROR, "");

	/* No addresses at all: as nss-myhostname, 127.0.0.2 and ::1. */
	opt.n_self_v4 = 0;
	hosts_options_set_hostname(&opt, "myhost.example.test.");
	expect(NULL, &opt, "myhost.example.test", ANY, NOERROR, "A 127.0.0.2, AAAA ::1");

	/* A single-label hostname, or one under .local, is still answered. */
	hosts_options_set_hostname(&opt, "box");
	expect(NULL, &opt, "BOX", A, NOERROR, "A 127.0.0.2");
	hosts_options_set_hostname(&opt, "box.local");
	expect(NULL, &opt, "box.local", AAAA, NOERROR, "AAAA ::1");
	expect(NULL, &opt, "other.local", A, NXDOMAIN, "");

	/* The file naming it wins. */
	struct hosts_table *t = load_text("100.9.9.9 box.local\n", NULL);
	expect(t, &opt, "box.local", A, NOERROR, "A 100.9.9.9");
	expect(t, &opt, "box.local", AAAA, NOERROR, "");
	hosts_free(t);

	/* No hostname: no rule. */
	hosts_options_set_hostname(&opt, "");
	expect_pass(NULL, &opt, "box.example.test", A);
}

static void test_single_label(void **state)
{
	struct hosts_options opt = no_opts();

	expect(NULL, &opt, "printer", A, NXDOMAIN, "");
	expect(NULL, &opt, "Printer.", TYPE_MX, NXDOMAIN, "");
	expect(NULL, &opt, "com", TYPE_TXT, NXDOMAIN, "");
	/* The root is no single label. */
	expect_pass(NULL, &opt, ".", WIRE_TYPE_NS);

	opt.forward_single_label = true;
	expect_pass(NULL, &opt, "printer", A);
	expect_pass(NULL, &opt, "com", WIRE_TYPE_SOA);
	expect_pass(NULL, &opt, ".", WIRE_TYPE_NS);
	/* Special names stay special. */
	expect(NULL, &opt, "localhost", A, NOERROR, "A 127.0.0.1");
	expect(NULL, &opt, "local", A, NXDOMAIN, "");
}

static void test_other_names_and_classes(void **state)
{
	struct hosts_table *t = load_text("100.0.0.1 www.example.test\n", NULL);

	expect_pass(t, NULL, "www.example.com", A);
	expect_pass(t, NULL, "example.test", A);
	expect_pass(t, NULL, "x.www.example.test", A);
	/* Chaos class: not our names (version.bind and friends). */
	expect_pass_cls(t, NULL, "localhost", A, CLASS_CH);
	expect_pass_cls(t, NULL, "www.example.test", A, CLASS_CH);
	expect_pass_cls(t, NULL, "version.bind", TYPE_TXT, CLASS_CH);
	/* QCLASS * matches IN data; the records are class IN. */
	expect_cls(t, NULL, "www.example.test", A, CLASS_ANY, NOERROR, "A 100.0.0.1");
	expect_cls(t, NULL, "localhost", AAAA, CLASS_ANY, NOERROR, "AAAA ::1");
	hosts_free(t);
}

static void test_flags_and_ttl(void **state)
{
	struct hosts_table *t = load_text("100.0.0.1 www.example.test\n", NULL);
	struct hosts_options opt = no_opts();

	opt.ttl = 3600;
	expect(t, &opt, "www.example.test", A, NOERROR, "A 100.0.0.1"); /* checks TTL 3600 */
	expect(t, &opt, "localhost", AAAA, NOERROR, "AAAA ::1");
	expect(t, &opt, "1.0.0.100.in-addr.arpa", PTR, NOERROR, "PTR www.example.test.");

	/* RD echoes the query; AA, QR, RA always (parse_answer checks them). */
	struct wire_query q = make_query("www.example.test", A, WIRE_CLASS_IN, 0);
	assert_int_equal(ask_full(t, &opt, &q, sizeof(out)), HOSTS_ANSWERED);
	ldns_pkt_free(parse_answer(&q, NOERROR));
	q = make_query("x.invalid", A, WIRE_CLASS_IN, 0);
	assert_int_equal(ask_full(t, &opt, &q, sizeof(out)), HOSTS_ANSWERED);
	ldns_pkt_free(parse_answer(&q, NXDOMAIN));

	/* A stored answer: wire_finish_reply() turns it into the client's reply. */
	q = make_query("WWW.example.test", A, WIRE_CLASS_IN, WIRE_FLAG_RD);
	assert_int_equal(ask_full(t, &opt, &q, sizeof(out)), HOSTS_ANSWERED);
	uint8_t reply[512];
	size_t n = wire_finish_reply(reply, sizeof(reply), out, out_len, &q, 512, 1232);
	assert_int_equal(n, out_len);
	assert_int_equal(wire_get16(reply), 0x4321);
	assert_int_equal(wire_get16(reply + 6), 1);
	hosts_free(t);
}

static void test_cut_to_fit(void **state)
{
	char text[300 * 32] = "";
	size_t pos = 0;

	for (int i = 0; i < 300; i++)
		pos += (size_t)sprintf(text + pos, "100.1.%d.%d many.test\n", i / 256, i % 256);
	pos += (size_t)sprintf(text + pos, "2001:db8::1 many.test\n");
	struct hosts_table *t = load_text(text, NULL);
	struct wire_query q = make_query("many.test", A, WIRE_CLASS_IN, WIRE_FLAG_RD);

	assert_int_equal(ask_full(t, NULL, &q, sizeof(out)), HOSTS_ANSWERED);
	ldns_pkt *pkt = parse_answer(&q, NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 300);
	ldns_pkt_free(pkt);

	/* 512 bytes: 12 header + 15 question + 30 records of 16 bytes. */
	assert_int_equal(ask_full(t, NULL, &q, 512), HOSTS_ANSWERED);
	assert_int_equal(out_len, 12 + 15 + 30 * 16);
	pkt = parse_answer(&q, NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 30);
	char *last = ldns_rdf2str(ldns_rr_rdf(ldns_rr_list_rr(ldns_pkt_answer(pkt), 29), 0));
	assert_string_equal(last, "100.1.0.29"); /* the first 30, in file order */
	free(last);
	ldns_pkt_free(pkt);

	/* ANY: whole records only. */
	q = make_query("many.test", ANY, WIRE_CLASS_IN, WIRE_FLAG_RD);
	assert_int_equal(ask_full(t, NULL, &q, 12 + 15 + 2 * 16 + 15), HOSTS_ANSWERED);
	pkt = parse_answer(&q, NOERROR);
	assert_int_equal(ldns_pkt_ancount(pkt), 2);
	ldns_pkt_free(pkt);

	/* Not even the question fits (cannot happen with cap >= 512). */
	assert_int_equal(ask_full(t, NULL, &q, 12 + 15 - 1), HOSTS_PASS);
	hosts_free(t);
}

static void test_file_replaced(void **state)
{
	struct hosts_table *old = load_text("100.0.0.1 a.test\n", NULL);

	/* How editors and tools replace /etc/hosts: write a new file, rename it over. */
	char next[600], hosts[600];
	snprintf(next, sizeof(next), "%s", write_text("hosts.new", "100.0.0.2 b.test\n"));
	snprintf(hosts, sizeof(hosts), "%s", tmp_path("hosts"));
	assert_int_equal(rename(next, hosts), 0);
	struct hosts_load_info info;
	struct hosts_table *cur = hosts_load(hosts, &info);
	assert_non_null(cur);

	expect(cur, NULL, "b.test", A, NOERROR, "A 100.0.0.2");
	expect_pass(cur, NULL, "a.test", A);
	/* The old table is its own object: it answers from the old file. */
	expect(old, NULL, "a.test", A, NOERROR, "A 100.0.0.1");
	expect_pass(old, NULL, "b.test", A);
	hosts_free(cur);
	expect(old, NULL, "a.test", A, NOERROR, "A 100.0.0.1");
	hosts_free(old);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v4_v6_and_aliases),
		cmocka_unit_test(test_several_lines_one_name),
		cmocka_unit_test(test_case_insensitive),
		cmocka_unit_test(test_trailing_dot_in_file),
		cmocka_unit_test(test_comments_blanks_tabs),
		cmocka_unit_test(test_malformed_lines_skipped),
		cmocka_unit_test(test_warnings_are_capped),
		cmocka_unit_test(test_big_file),
		cmocka_unit_test(test_long_lines_skipped),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_missing_file),
		cmocka_unit_test(test_nodata),
		cmocka_unit_test(test_ptr_from_file),
		cmocka_unit_test(test_loopback_ptr),
		cmocka_unit_test(test_localhost),
		cmocka_unit_test(test_special_domains),
		cmocka_unit_test(test_own_hostname),
		cmocka_unit_test(test_single_label),
		cmocka_unit_test(test_other_names_and_classes),
		cmocka_unit_test(test_flags_and_ttl),
		cmocka_unit_test(test_cut_to_fit),
		cmocka_unit_test(test_file_replaced),
	};
	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
