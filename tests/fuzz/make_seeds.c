/* make_seeds.c - writes the binary seed corpora of fuzz_query, fuzz_reply,
 * fuzz_scrub_diff, fuzz_dnsstream and fuzz_cachefile from readable record
 * text, with ldns (and stubd's own cachefile writer for cache files).
 *
 *   fuzz_make_seeds DIR    writes DIR/fuzz_query/<name>, DIR/fuzz_reply/<name>,
 *                          DIR/fuzz_scrub_diff/<name>, DIR/fuzz_dnsstream/<name>
 *                          and DIR/fuzz_cachefile/<name>
 *
 * Run by "tools/fuzz --seeds"; its output is what tests/fuzz/corpus holds,
 * so the corpus can be read (here) and remade. The text seeds of the other
 * targets are plain files in the corpus.
 *
 * A fuzz_reply input (fuzz_scrub_diff's too) is two control bytes and the
 * reply (see fuzz_reply.c):
 * byte 0 bit 0 EDNS, 1 DO, 2 CD, 3 AD, 4 other letter case, 5 wrong ID,
 * 6-7 cache settings; byte 1 the client's EDNS size in 16-byte steps.
 *
 * A fuzz_dnsstream input is two control bytes, the piece sizes and a
 * stream of framed messages (see fuzz_dnsstream.c): byte 0 bits 0-3 the
 * cap less one, 4 a constant random source, 5 replies as they are, 6 other
 * letter case, 7 the wrong type; byte 1 bits 0-2 the count of piece sizes
 * less one, 3-4 the reply order, 5-7 the seed.
 *
 * A fuzz_cachefile input is a cache file image (cachefile.h), written by
 * cachefile_writer itself from replies made here, so the seeds are what
 * stubd writes; a few are then damaged by hand.
 */
#include <errno.h>
#include <ldns/ldns.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "stubd/cachefile.h"

static const char *out_dir;

static void die(const char *what)
{
	fprintf(stderr, "fuzz_make_seeds: %s\n", what);
	exit(1);
}

static void save(const char *target, const char *name, const uint8_t *prefix, size_t plen,
		 const uint8_t *data, size_t len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", out_dir, target);
	if (mkdir(path, 0755) < 0 && errno != EEXIST)
		die("cannot make the corpus folder");
	snprintf(path, sizeof(path), "%s/%s/%s", out_dir, target, name);
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(prefix, 1, plen, f) != plen || fwrite(data, 1, len, f) != len ||
	    fclose(f) != 0)
		die(path);
}

/* A packet: header flags as ldns words ("qr rd ra"), the question, then
 * records as zone-file lines, each prefixed by its section: "an ", "ns ",
 * "ar ". NULL ends the list. */
struct spec {
	uint16_t id;
	const char *flags;
	ldns_pkt_rcode rcode;
	ldns_pkt_opcode opcode;
	const char *question;   /* "www.example.com. IN A", or NULL for none */
	int edns;               /* 0 none, else the UDP size */
	bool dnssec_ok;
	uint8_t edns_version;
	bool reply;             /* flags default to "qr rd ra" */
	const char *records[40];
};

static ldns_pkt *build(const struct spec *s)
{
	ldns_pkt *p = ldns_pkt_new();
	if (!p)
		die("out of memory");
	ldns_pkt_set_id(p, s->id);
	ldns_pkt_set_opcode(p, s->opcode);
	ldns_pkt_set_rcode(p, (uint8_t)s->rcode);
	const char *flags = s->flags ? s->flags : s->reply ? "qr rd ra" : "";
	ldns_pkt_set_qr(p, strstr(flags, "qr") != NULL);
	ldns_pkt_set_aa(p, strstr(flags, "aa") != NULL);
	ldns_pkt_set_tc(p, strstr(flags, "tc") != NULL);
	ldns_pkt_set_rd(p, strstr(flags, "rd") != NULL);
	ldns_pkt_set_ra(p, strstr(flags, "ra") != NULL);
	ldns_pkt_set_ad(p, strstr(flags, "ad") != NULL);
	ldns_pkt_set_cd(p, strstr(flags, "cd") != NULL);
	if (s->question) {
		ldns_rr *q = NULL;
		if (ldns_rr_new_question_frm_str(&q, s->question, NULL, NULL) != LDNS_STATUS_OK)
			die(s->question);
		ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	}
	for (size_t i = 0; i < sizeof(s->records) / sizeof(s->records[0]) && s->records[i]; i++) {
		const char *line = s->records[i];
		ldns_pkt_section sec = strncmp(line, "an ", 3) == 0   ? LDNS_SECTION_ANSWER
				       : strncmp(line, "ns ", 3) == 0 ? LDNS_SECTION_AUTHORITY
								      : LDNS_SECTION_ADDITIONAL;
		ldns_rr *rr = NULL;
		if (ldns_rr_new_frm_str(&rr, line + 3, 3600, NULL, NULL) != LDNS_STATUS_OK)
			die(line);
		ldns_pkt_push_rr(p, sec, rr);
	}
	if (s->edns) {
		ldns_pkt_set_edns_udp_size(p, (uint16_t)s->edns);
		ldns_pkt_set_edns_do(p, s->dnssec_ok);
		ldns_pkt_set_edns_version(p, s->edns_version);
	}
	return p;
}

static void write_spec(const char *target, const char *name, const uint8_t *prefix,
		       size_t plen, const struct spec *s)
{
	ldns_pkt *p = build(s);
	uint8_t *wire = NULL;
	size_t len = 0;
	if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK)
		die(name);
	save(target, name, prefix, plen, wire, len);
	LDNS_FREE(wire);
	ldns_pkt_free(p);
}

#define QUERY(name, ...) write_spec("fuzz_query", name, NULL, 0, &(struct spec){ __VA_ARGS__ })
/* Replies seed both fuzz_reply and fuzz_scrub_diff (same input form). */
#define REPLY(name, c0, c1, ...)                                                    \
	do {                                                                        \
		const struct spec spec_ = { .reply = true, __VA_ARGS__ };           \
		write_spec("fuzz_reply", name, (const uint8_t[]){ c0, c1 }, 2, &spec_); \
		write_spec("fuzz_scrub_diff", name, (const uint8_t[]){ c0, c1 }, 2,  \
			   &spec_);                                                 \
	} while (0)

static void raw(const char *target, const char *name, const char *bytes, size_t len)
{
	save(target, name, NULL, 0, (const uint8_t *)bytes, len);
}

/* A hand-made reply, for fuzz_reply and fuzz_scrub_diff. */
static void raw_reply(const char *name, const char *bytes, size_t len)
{
	raw("fuzz_reply", name, bytes, len);
	raw("fuzz_scrub_diff", name, bytes, len);
}

static void queries(void)
{
	QUERY("a-plain", .id = 0x1234, .flags = "rd", .question = "www.example.com. IN A");
	QUERY("aaaa-edns-do", .id = 2, .flags = "rd ad", .question = "example.org. IN AAAA",
	      .edns = 4096, .dnssec_ok = true);
	QUERY("mixed-case-0x20", .id = 3, .flags = "rd", .question = "wWw.ExAmPlE.cOm. IN A",
	      .edns = 1232);
	QUERY("mx-cd", .id = 4, .flags = "rd cd", .question = "example.net. IN MX", .edns = 512);
	QUERY("any", .id = 5, .flags = "rd", .question = "example.com. IN ANY");
	QUERY("axfr-refused", .id = 6, .question = "example.com. IN AXFR");
	QUERY("ixfr-refused", .id = 7, .question = "example.com. IN IXFR");
	QUERY("badvers", .id = 8, .flags = "rd", .question = "example.com. IN A", .edns = 1232,
	      .edns_version = 1);
	QUERY("opcode-notify", .id = 9, .opcode = LDNS_PACKET_NOTIFY,
	      .question = "example.com. IN SOA");
	QUERY("opcode-update", .id = 10, .opcode = LDNS_PACKET_UPDATE,
	      .question = "example.com. IN SOA");
	QUERY("response-dropped", .id = 11, .flags = "qr rd", .question = "example.com. IN A");
	QUERY("localhost", .id = 12, .flags = "rd", .question = "localhost. IN A");
	QUERY("below-localhost-aaaa", .id = 13, .flags = "rd", .question = "db.app.LOCALHOST. IN AAAA");
	QUERY("ptr-loopback-v4", .id = 14, .flags = "rd", .question = "1.0.0.127.in-addr.arpa. IN PTR");
	QUERY("ptr-loopback-v6", .id = 15, .flags = "rd",
	      .question = "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa. IN PTR");
	QUERY("ptr-loopback-ent", .id = 16, .question = "0.127.in-addr.arpa. IN PTR");
	QUERY("ptr-loopback-bad", .id = 17, .question = "x.1.0.0.127.in-addr.arpa. IN PTR");
	QUERY("onion", .id = 18, .flags = "rd", .question = "expyuzz4wqqyqhjn.onion. IN A");
	QUERY("local", .id = 19, .flags = "rd", .question = "printer.local. IN A");
	QUERY("invalid", .id = 20, .flags = "rd", .question = "x.invalid. IN AAAA");
	QUERY("single-label", .id = 21, .flags = "rd", .question = "printer. IN A");
	QUERY("own-hostname", .id = 22, .flags = "rd", .question = "fuzzbox.example. IN ANY");
	QUERY("class-chaos", .id = 23, .flags = "rd", .question = "version.bind. CH TXT");
	QUERY("root-ns", .id = 24, .flags = "rd", .question = ". IN NS", .edns = 1232);
	QUERY("opt-qtype", .id = 25, .flags = "rd", .question = "example.com. IN TYPE41");
	QUERY("maila", .id = 26, .flags = "rd", .question = "example.com. IN MAILA");
	QUERY("with-answer-formerr", .id = 27, .flags = "rd", .question = "example.com. IN A",
	      .records = { "an example.com. 300 IN A 192.0.2.1" });
	QUERY("other-additional-and-opt", .id = 28, .flags = "rd", .question = "example.com. IN A", .edns = 1232,
	      .records = { "ar key.example. 0 IN TYPE65280 \\# 4 00000000" });
	QUERY("long-name", .id = 29, .flags = "rd",
	      .question = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
			  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
			  "ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc."
			  "ddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd. IN A");

	/* Hand-made: what ldns would not write. */
	raw("fuzz_query", "runt", "\x12\x34\x01\x00\x00\x01", 6);
	raw("fuzz_query", "no-question", "\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00", 12);
	raw("fuzz_query", "two-questions",
	    "\x00\x02\x01\x00\x00\x02\x00\x00\x00\x00\x00\x00"
	    "\x01" "a\x00\x00\x01\x00\x01"
	    "\x01" "b\x00\x00\x01\x00\x01", 26);
	raw("fuzz_query", "compressed-qname",
	    "\x00\x03\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
	    "\xc0\x0c\x00\x01\x00\x01", 18);
	raw("fuzz_query", "opt-not-root",
	    "\x00\x04\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
	    "\x01" "a\x00\x00\x01\x00\x01"
	    "\x01" "a\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00", 32);
	raw("fuzz_query", "two-opts",
	    "\x00\x05\x01\x00\x00\x01\x00\x00\x00\x00\x00\x02"
	    "\x01" "a\x00\x00\x01\x00\x01"
	    "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x00"
	    "\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x00", 41);
	raw("fuzz_query", "opt-cookie",
	    "\x00\x06\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
	    "\x07" "example\x03" "com\x00\x00\x01\x00\x01"
	    "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x0c"
	    "\x00\x0a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08", 51);
	raw("fuzz_query", "opt-small-size",
	    "\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
	    "\x01" "a\x00\x00\x1c\x00\x01"
	    "\x00\x00\x29\x00\x10\x00\x00\x80\x00\x00\x00", 30);
	raw("fuzz_query", "truncated-opt",
	    "\x00\x08\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
	    "\x01" "a\x00\x00\x01\x00\x01"
	    "\x00\x00\x29\x10\x00\x00\x00\x00\x00\x00\x08\x00", 31);
}

/* Names in the chain seeds. */
#define SOA_COM "example.com. 900 IN SOA ns1.example.com. hostmaster.example.com. 2024010101 7200 3600 1209600 300"
#define SOA_NET "example.net. 600 IN SOA ns.example.net. admin.example.net. 1 7200 3600 1209600 60"

static void replies(void)
{
	REPLY("a-with-glue-and-opt", 0x00, 0x00, .id = 0x1234, .question = "www.example.com. IN A",
	      .edns = 1232,
	      .records = { "an www.example.com. 300 IN A 192.0.2.1",
			   "an www.example.com. 300 IN A 192.0.2.2",
			   "ns example.com. 86400 IN NS ns1.example.com.",
			   "ar ns1.example.com. 86400 IN A 192.0.2.53" });
	REPLY("cname-chain-with-poison", 0x01, 0x30, .id = 0x2222,
	      .question = "www.example.com. IN A",
	      .records = { "an www.example.com. 300 IN CNAME edge.example.net.",
			   "an edge.example.net. 60 IN CNAME node7.cdn.example.org.",
			   "an node7.cdn.example.org. 20 IN A 198.51.100.7",
			   "an bank.example. 86400 IN A 203.0.113.66",
			   "ns example.org. 86400 IN NS ns.evil.example.",
			   "ar ns.evil.example. 86400 IN A 203.0.113.53" });
	REPLY("cname-chain-out-of-order", 0x10, 0x00, .id = 0x2223,
	      .question = "Www.Example.Com. IN AAAA",
	      .records = { "an b.example.org. 30 IN AAAA 2001:db8::b",
			   "an a.example.net. 40 IN CNAME b.example.org.",
			   "an www.example.com. 50 IN CNAME a.example.net." });
	REPLY("nxdomain-soa", 0x00, 0x00, .id = 0x3333, .rcode = LDNS_RCODE_NXDOMAIN,
	      .question = "nope.example.com. IN A",
	      .records = { "ns " SOA_COM });
	REPLY("nodata-soa-edns", 0x01, 0x40, .id = 0x3334, .question = "example.com. IN AAAA",
	      .edns = 4096, .records = { "ns " SOA_COM });
	REPLY("nxdomain-no-soa", 0x80, 0x00, .id = 0x3335, .rcode = LDNS_RCODE_NXDOMAIN,
	      .question = "nope.example.com. IN A");
	REPLY("cname-to-nxdomain", 0x40, 0x00, .id = 0x3336, .rcode = LDNS_RCODE_NXDOMAIN,
	      .question = "alias.example.com. IN A",
	      .records = { "an alias.example.com. 300 IN CNAME gone.example.net.",
			   "ns " SOA_NET, "ns " SOA_COM });
	REPLY("cname-to-nodata", 0xc0, 0x00, .id = 0x3337, .question = "alias.example.com. IN MX",
	      .records = { "an alias.example.com. 300 IN CNAME host.example.net.",
			   "ns " SOA_NET });
	REPLY("dname", 0x00, 0x00, .id = 0x4444, .question = "www.old.example. IN A",
	      .records = { "an old.example. 3600 IN DNAME new.example.",
			   "an www.old.example. 3600 IN CNAME www.new.example.",
			   "an www.new.example. 300 IN A 192.0.2.80",
			   "an other.example. 3600 IN DNAME evil.example." });
	REPLY("dnssec-positive", 0x03, 0x00, .id = 0x5555, .flags = "qr rd ra ad",
	      .question = "example.com. IN A", .edns = 1232, .dnssec_ok = true,
	      .records = { "an example.com. 300 IN A 93.184.216.34",
			   "an example.com. 300 IN RRSIG A 13 2 300 20300101000000 20200101000000 12345 example.com. aGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=",
			   "an example.com. 300 IN RRSIG AAAA 13 2 300 20300101000000 20200101000000 12345 example.com. aGVsbG8gd29ybGQ=",
			   "ns example.com. 86400 IN NS a.iana-servers.net." });
	REPLY("dnssec-wildcard", 0x0b, 0x00, .id = 0x5556, .flags = "qr rd ra ad",
	      .question = "x.wild.example.com. IN A", .edns = 1232, .dnssec_ok = true,
	      .records = { "an x.wild.example.com. 300 IN A 192.0.2.9",
			   "an x.wild.example.com. 300 IN RRSIG A 13 4 300 20300101000000 20200101000000 12345 example.com. aGVsbG8gd29ybGQ=",
			   "ns w.example.com. 300 IN NSEC z.example.com. A RRSIG NSEC",
			   "ns w.example.com. 300 IN RRSIG NSEC 13 3 300 20300101000000 20200101000000 12345 example.com. aGVsbG8gd29ybGQ=",
			   "ns evil.example.org. 300 IN NSEC zz.example.org. A" });
	REPLY("dnssec-nxdomain-nsec", 0x03, 0x10, .id = 0x5557, .rcode = LDNS_RCODE_NXDOMAIN,
	      .question = "nope.example.com. IN A", .edns = 1232, .dnssec_ok = true,
	      .records = { "ns " SOA_COM,
			   "ns example.com. 900 IN RRSIG SOA 13 2 900 20300101000000 20200101000000 12345 example.com. aGVsbG8gd29ybGQ=",
			   "ns example.com. 300 IN NSEC www.example.com. A NS SOA RRSIG NSEC",
			   "ns example.com. 300 IN RRSIG NSEC 13 2 300 20300101000000 20200101000000 12345 example.com. aGVsbG8gd29ybGQ=",
			   "ns 0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.com. 300 IN NSEC3 1 1 12 aabbccdd 2t7b4g4vsa5smi47k61mv5bv1a22bojr A RRSIG" });
	REPLY("servfail", 0x00, 0x00, .id = 0x6666, .rcode = LDNS_RCODE_SERVFAIL,
	      .question = "broken.example. IN A");
	REPLY("servfail-tiny-cache", 0xc0, 0x00, .id = 0x6667, .rcode = LDNS_RCODE_SERVFAIL,
	      .question = "broken.example. IN A");
	REPLY("refused", 0x00, 0x00, .id = 0x6668, .rcode = LDNS_RCODE_REFUSED,
	      .question = "example.com. IN A");
	REPLY("truncated", 0x00, 0x00, .id = 0x7777, .flags = "qr rd ra tc",
	      .question = "big.example. IN TXT");
	REPLY("cname-loop", 0x00, 0x00, .id = 0x8888, .question = "a.loop.example. IN A",
	      .records = { "an a.loop.example. 300 IN CNAME b.loop.example.",
			   "an b.loop.example. 300 IN CNAME a.loop.example." });
	REPLY("cname-chain-too-long", 0x00, 0x00, .id = 0x8889, .question = "c0.example. IN A",
	      .records = { "an c0.example. 60 IN CNAME c1.example.", "an c1.example. 60 IN CNAME c2.example.",
			   "an c2.example. 60 IN CNAME c3.example.", "an c3.example. 60 IN CNAME c4.example.",
			   "an c4.example. 60 IN CNAME c5.example.", "an c5.example. 60 IN CNAME c6.example.",
			   "an c6.example. 60 IN CNAME c7.example.", "an c7.example. 60 IN CNAME c8.example.",
			   "an c8.example. 60 IN CNAME c9.example.", "an c9.example. 60 IN CNAME c10.example.",
			   "an c10.example. 60 IN CNAME c11.example.", "an c11.example. 60 IN CNAME c12.example.",
			   "an c12.example. 60 IN CNAME c13.example.", "an c13.example. 60 IN CNAME c14.example.",
			   "an c14.example. 60 IN CNAME c15.example.", "an c15.example. 60 IN CNAME c16.example.",
			   "an c16.example. 60 IN CNAME c17.example.", "an c17.example. 60 IN CNAME c18.example.",
			   "an c18.example. 60 IN A 192.0.2.18" });
	REPLY("any", 0x00, 0x00, .id = 0x9999, .question = "example.com. IN ANY",
	      .records = { "an example.com. 300 IN A 192.0.2.1", "an example.com. 300 IN AAAA 2001:db8::1",
			   "an example.com. 300 IN MX 10 mail.example.com.",
			   "an example.com. 300 IN TXT \"v=spf1 -all\"",
			   "an mail.example.com. 300 IN A 192.0.2.25", "ns " SOA_COM });
	REPLY("many-aaaa-truncates", 0x01, 0x00, .id = 0xaaaa, .question = "many.example. IN AAAA",
	      .records = { "an many.example. 300 IN AAAA 2001:db8::1", "an many.example. 300 IN AAAA 2001:db8::2",
			   "an many.example. 300 IN AAAA 2001:db8::3", "an many.example. 300 IN AAAA 2001:db8::4",
			   "an many.example. 300 IN AAAA 2001:db8::5", "an many.example. 300 IN AAAA 2001:db8::6",
			   "an many.example. 300 IN AAAA 2001:db8::7", "an many.example. 300 IN AAAA 2001:db8::8",
			   "an many.example. 300 IN AAAA 2001:db8::9", "an many.example. 300 IN AAAA 2001:db8::a",
			   "an many.example. 300 IN AAAA 2001:db8::b", "an many.example. 300 IN AAAA 2001:db8::c",
			   "an many.example. 300 IN AAAA 2001:db8::d", "an many.example. 300 IN AAAA 2001:db8::e",
			   "an many.example. 300 IN AAAA 2001:db8::f", "an many.example. 300 IN AAAA 2001:db8::10",
			   "an many.example. 300 IN AAAA 2001:db8::11", "an many.example. 300 IN AAAA 2001:db8::12",
			   "an many.example. 300 IN AAAA 2001:db8::13", "an many.example. 300 IN AAAA 2001:db8::14",
			   "an many.example. 300 IN AAAA 2001:db8::15", "an many.example. 300 IN AAAA 2001:db8::16",
			   "an many.example. 300 IN AAAA 2001:db8::17", "an many.example. 300 IN AAAA 2001:db8::18" });
	REPLY("mx-compressed", 0x00, 0x00, .id = 0xbbbb, .question = "example.com. IN MX",
	      .records = { "an example.com. 3600 IN MX 10 mx1.example.com.",
			   "an example.com. 3600 IN MX 20 mx2.example.com.",
			   "ar mx1.example.com. 3600 IN A 192.0.2.25" });
	REPLY("ptr", 0x00, 0x00, .id = 0xcccc, .question = "1.2.0.192.in-addr.arpa. IN PTR",
	      .records = { "an 1.2.0.192.in-addr.arpa. 86400 IN PTR host.example.com." });
	REPLY("ttl-zero-and-huge", 0x40, 0x00, .id = 0xdddd, .question = "ttl.example. IN A",
	      .records = { "an ttl.example. 0 IN A 192.0.2.1", "an ttl.example. 2147483648 IN A 192.0.2.2" });
	REPLY("class-any-question", 0x00, 0x00, .id = 0xeeee, .question = "example.com. ANY A",
	      .records = { "an example.com. 300 IN A 192.0.2.1", "an example.com. 300 CH A 192.0.2.2" });
	REPLY("wrong-id", 0x20, 0x00, .id = 0xffff, .question = "example.com. IN A",
	      .records = { "an example.com. 300 IN A 192.0.2.1" });
	REPLY("rdata-names-any", 0x00, 0x00, .id = 0xbbbc, .question = "example.com. IN ANY",
	      .records = { "an example.com. 300 IN SOA ns1.example.com. host.example.com. 1 2 3 4 5",
			   "an example.com. 300 IN NS ns1.example.com.",
			   "an example.com. 300 IN MINFO rm.example.com. em.example.com.",
			   "an example.com. 300 IN RP mbox.example.com. txt.example.com.",
			   "an example.com. 300 IN AFSDB 1 afs.example.com.",
			   "an example.com. 300 IN RT 10 relay.example.com.",
			   "an example.com. 300 IN KX 10 kx.example.com.",
			   "an example.com. 300 IN PX 10 map822.example.com. mapx400.example.com.",
			   "an example.com. 300 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com.",
			   "an example.com. 300 IN SRV 0 5 5060 sip.example.com.",
			   "an example.com. 300 IN LP 10 l64.example.com.",
			   "an example.com. 300 IN TALINK prev.example.com. next.example.com.",
			   "an example.com. 300 IN HINFO \"PC\" \"Linux\"",
			   "an example.com. 300 IN TXT \"one\" \"two\"",
			   "an example.com. 300 IN CAA 0 issue \"ca.example.net\"",
			   "an example.com. 300 IN URI 10 1 \"https://example.com/\"",
			   "an example.com. 300 IN DS 12345 13 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
			   "an example.com. 300 IN NSEC3PARAM 1 0 0 -",
			   "an example.com. 300 IN TYPE65280 \\# 3 010203" } );
	REPLY("rdata-names-not-followed", 0x03, 0x00, .id = 0xbbbd, .question = "www.example.com. IN A",
	      .edns = 1232, .dnssec_ok = true,
	      .records = { "an www.example.com. 300 IN CNAME srv.example.com.",
			   "an srv.example.com. 300 IN A 192.0.2.1",
			   "an srv.example.com. 300 IN MX 10 srv.example.com.",
			   "an srv.example.com. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 12345 example.com. aGVsbG8gd29ybGQ=",
			   "ns example.com. 300 IN NS srv.example.com.",
			   "ar srv.example.com. 300 IN AAAA 2001:db8::1" });

	REPLY("dnssec-dname", 0x03, 0x00, .id = 0xbbbe, .flags = "qr rd ra ad",
	      .question = "www.old.example. IN A", .edns = 1232, .dnssec_ok = true,
	      .records = { "an old.example. 3600 IN DNAME new.example.",
			   "an old.example. 3600 IN RRSIG DNAME 13 2 3600 20300101000000 20200101000000 12345 old.example. aGVsbG8gd29ybGQ=",
			   "an www.old.example. 3600 IN CNAME www.new.example.",
			   "an www.new.example. 300 IN A 192.0.2.80",
			   "an www.new.example. 300 IN RRSIG A 13 3 300 20300101000000 20200101000000 54321 new.example. aGVsbG8gd29ybGQ=",
			   "an example. 3600 IN DNAME evil.",
			   "an example. 3600 IN RRSIG DNAME 13 1 3600 20300101000000 20200101000000 1 example. aGVsbG8gd29ybGQ=" });

	/* Hand-made: compression ldns would not write, and rdata that does
	 * not fill its RDLENGTH. */
	raw_reply("cname-target-points-into-dropped-record",
	    "\x03\x00"
	    "\x12\x34\x81\x80\x00\x01\x00\x03\x00\x00\x00\x00\x03\x77\x77\x77\x07\x65\x78\x61"
	    "\x6d\x70\x6c\x65\x03\x63\x6f\x6d\x00\x00\x01\x00\x01\x04\x65\x76\x69\x6c\xc0\x10"
	    "\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04\x06\x06\x06\x06\xc0\x0c\x00\x05\x00\x01"
	    "\x00\x00\x01\x2c\x00\x06\x03\x63\x64\x6e\xc0\x21\x03\x63\x64\x6e\xc0\x21\x00\x01"
	    "\x00\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x07", 94);
	raw_reply("srv-compressed-targets",
	    "\x03\x00"
	    "\x12\x35\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00\x04\x5f\x73\x69\x70\x04\x5f\x74"
	    "\x63\x70\x07\x65\x78\x61\x6d\x70\x6c\x65\x03\x63\x6f\x6d\x00\x00\x21\x00\x01\xc0"
	    "\x0c\x00\x21\x00\x01\x00\x00\x01\x2c\x00\x0c\x00\x0a\x00\x14\x13\xc4\x03\x73\x69"
	    "\x70\xc0\x16\xc0\x0c\x00\x21\x00\x01\x00\x00\x01\x2c\x00\x0d\x00\x0a\x00\x1e\x13"
	    "\xc4\x04\x73\x69\x70\x32\xc0\x16", 90);
	raw_reply("forward-pointer-in-rdata",
	    "\x03\x00"
	    "\x12\x36\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00\x03\x77\x77\x77\x07\x65\x78\x61"
	    "\x6d\x70\x6c\x65\x03\x63\x6f\x6d\x00\x00\x01\x00\x01\xc0\x0c\x00\x05\x00\x01\x00"
	    "\x00\x01\x2c\x00\x02\xc0\x2f\x03\x63\x64\x6e\xc0\x10\x00\x01\x00\x01\x00\x00\x00"
	    "\x3c\x00\x04\xc0\x00\x02\x08", 69);
	raw_reply("pointer-loop-owner",
	    "\x03\x00"
	    "\x12\x37\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00\x03\x77\x77\x77\x07\x65\x78\x61"
	    "\x6d\x70\x6c\x65\x03\x63\x6f\x6d\x00\x00\x01\x00\x01\x01\x61\xc0\x21\x00\x01\x00"
	    "\x01\x00\x00\x00\x3c\x00\x04\xc0\x00\x02\x09", 53);
	raw_reply("a-rdata-too-long",
	    "\x03\x00"
	    "\x12\x38\x81\x80\x00\x01\x00\x02\x00\x00\x00\x00\x03\x77\x77\x77\x07\x65\x78\x61"
	    "\x6d\x70\x6c\x65\x03\x63\x6f\x6d\x00\x00\x01\x00\x01\xc0\x0c\x00\x01\x00\x01\x00"
	    "\x00\x00\x3c\x00\x05\xc0\x00\x02\x01\x00\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c"
	    "\x00\x04\xc0\x00\x02\x02", 68);
	raw_reply("soa-compressed-rrsig-unsigned-soa-cut",
	    "\x03\x00"
	    "\x12\x39\x81\x83\x00\x01\x00\x00\x00\x03\x00\x00\x04\x6e\x6f\x70\x65\x07\x65\x78"
	    "\x61\x6d\x70\x6c\x65\x03\x63\x6f\x6d\x00\x00\x01\x00\x01\xc0\x11\x00\x06\x00\x01"
	    "\x00\x00\x03\x84\x00\x21\x03\x6e\x73\x31\xc0\x11\x04\x68\x6f\x73\x74\xc0\x11\x00"
	    "\x00\x00\x01\x00\x00\x1c\x20\x00\x00\x0e\x10\x00\x12\x75\x00\x00\x00\x01\x2c\xc0"
	    "\x11\x00\x2e\x00\x01\x00\x00\x03\x84\x00\x14\x00\x06\x0d\x02\x00\x00\x03\x84\x70"
	    "\x00\x00\x00\x60\x00\x00\x00\x10\x92\xc0\x11\xc0\x11\x00\x06\x00\x01\x00\x00\x03"
	    "\x84\x00\x0d\x03\x6e\x73\x31\xc0\x11\x04\x68\x6f\x73\x74\xc0\x11", 138);

	/* Bugs found by fuzzing: kept as crash-* so that the regression
	 * replays them (see README.md). */
	REPLY("crash-opt-in-answer-any", 0x00, 0x00, .id = 0x0101,
	      .question = "example.com. IN ANY", .records = { "an example.com. 300 IN TYPE41 \\# 0" });
	raw_reply("crash-empty-rdata-a",
	    "\x00\x00" "\x12\x34\x81\x80\x00\x01\x00\x01\x00\x00\x00\x00"
	    "\x03" "www\x07" "example\x03" "com\x00\x00\x01\x00\x01"
	    "\xc0\x0c\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x00", 47);
	raw_reply("crash-empty-rdata-soa",
	    "\x00\x00" "\x12\x35\x81\x80\x00\x01\x00\x00\x00\x01\x00\x00"
	    "\x07" "example\x03" "com\x00\x00\x1c\x00\x01"
	    "\xc0\x0c\x00\x06\x00\x01\x00\x00\x01\x2c\x00\x00", 43);
}

/* ---- fuzz_dnsstream: streams of framed messages -------------------------- */

struct stream {
	uint8_t b[1 << 17];
	size_t len;
};

/* Appends a message built from s, with its 2-byte length prefix. */
static void frame_spec(struct stream *st, const struct spec *s)
{
	ldns_pkt *p = build(s);
	uint8_t *wire = NULL;
	size_t len = 0;
	if (ldns_pkt2wire(&wire, p, &len) != LDNS_STATUS_OK || st->len + 2 + len > sizeof(st->b))
		die("stream message");
	st->b[st->len++] = (uint8_t)(len >> 8);
	st->b[st->len++] = (uint8_t)len;
	memcpy(st->b + st->len, wire, len);
	st->len += len;
	LDNS_FREE(wire);
	ldns_pkt_free(p);
}

/* Appends bytes as they are: a hand-made prefix, or a prefix and message. */
static void frame_raw(struct stream *st, const char *bytes, size_t len)
{
	if (st->len + len > sizeof(st->b))
		die("stream bytes");
	memcpy(st->b + st->len, bytes, len);
	st->len += len;
}

/* Appends a hand-made message with its length prefix. */
static void frame_bytes(struct stream *st, const char *bytes, size_t len)
{
	const char prefix[2] = { (char)(len >> 8), (char)len };
	frame_raw(st, prefix, 2);
	frame_raw(st, bytes, len);
}

/* A string literal's bytes, without its terminating NUL. */
#define RAW(st, lit) frame_raw(st, lit, sizeof(lit) - 1)
#define RAW_MSG(st, lit) frame_bytes(st, lit, sizeof(lit) - 1)

/* Writes ctl, byte 1 (its piece count filled in), the piece sizes, the stream. */
static void save_stream(const char *name, uint8_t ctl, uint8_t b1, const uint8_t *sizes,
			size_t k, const struct stream *st)
{
	uint8_t head[2 + 8];
	if (k < 1 || k > 8)
		die("piece sizes");
	head[0] = ctl;
	head[1] = (uint8_t)((b1 & ~7) | (k - 1));
	memcpy(head + 2, sizes, k);
	save("fuzz_dnsstream", name, head, 2 + k, st->b, st->len);
}

#define MSG(st, ...) frame_spec(st, &(struct spec){ __VA_ARGS__ })
#define SIZES(...) (const uint8_t[]){ __VA_ARGS__ }, sizeof((const uint8_t[]){ __VA_ARGS__ })

/* The queries stubd sends and the replies it gets, in the shapes a stream
 * carries them. */
static void some_queries(struct stream *st)
{
	MSG(st, .id = 1, .flags = "rd", .question = "www.example.com. IN A", .edns = 1232);
	MSG(st, .id = 2, .flags = "rd ad", .question = "example.org. IN AAAA", .edns = 1232,
	    .dnssec_ok = true);
	MSG(st, .id = 3, .flags = "rd cd", .question = "Mail.Example.NET. IN MX", .edns = 1232);
	MSG(st, .id = 4, .flags = "rd", .question = "printer. IN A");
	MSG(st, .id = 5, .flags = "rd", .question = ". IN NS", .edns = 1232);
}

static void some_replies(struct stream *st)
{
	MSG(st, .reply = true, .id = 0x1001, .question = "www.example.com. IN A", .edns = 1232,
	    .records = { "an www.example.com. 300 IN A 192.0.2.1" });
	MSG(st, .reply = true, .id = 0x1002, .question = "example.org. IN AAAA",
	    .records = { "an example.org. 300 IN AAAA 2001:db8::1" });
	MSG(st, .reply = true, .id = 0x1003, .rcode = LDNS_RCODE_NXDOMAIN,
	    .question = "nope.example.com. IN A", .records = { "ns " SOA_COM });
	MSG(st, .reply = true, .id = 0x1004, .question = "alias.example.com. IN A",
	    .records = { "an alias.example.com. 300 IN CNAME www.example.com.",
			 "an www.example.com. 300 IN A 192.0.2.1" });
}

static void streams(void)
{
	static struct stream st;

	st.len = 0;
	some_queries(&st);
	save_stream("queries-whole", 0x07, 0x00, SIZES(0xff), &st);
	save_stream("queries-byte-by-byte", 0x03, 0x08, SIZES(1), &st);
	save_stream("queries-split-prefixes", 0x01, 0x30, SIZES(1, 3, 7, 2, 0, 31), &st);

	st.len = 0;
	some_replies(&st);
	save_stream("replies-stride-case", 0x47, 0x70, SIZES(17, 5), &st);
	save_stream("replies-cap-one-wrong-type", 0x80, 0x18, SIZES(0xf0, 2), &st);
	save_stream("replies-as-they-are", 0x25, 0x00, SIZES(64), &st);

	st.len = 0;
	for (int i = 0; i < 6; i++) {
		some_queries(&st);
		some_replies(&st);
	}
	save_stream("many-poor-random", 0x1f, 0x28, SIZES(200, 1, 0xf1), &st);
	save_stream("many-cap-four", 0x03, 0x10, SIZES(9, 0xf0), &st);

	/* A reply larger than any piece: 60 records. */
	st.len = 0;
	{
		struct spec big = { .reply = true, .id = 0x2001, .question = "big.example.com. IN TXT" };
		for (int i = 0; i < 40; i++)
			big.records[i] = "an big.example.com. 60 IN TXT \"0123456789abcdef0123456789abcdef"
					 "0123456789abcdef0123456789abcdef\"";
		frame_spec(&st, &big);
	}
	save_stream("big-reply-in-pieces", 0x00, 0x00, SIZES(0xf0, 13), &st);

	/* Lengths that are no DNS message: the connection must go. */
	st.len = 0;
	some_queries(&st);
	RAW(&st, "\x00\x05\x01\x02\x03\x04\x05");
	some_replies(&st);
	save_stream("length-5-after-queries", 0x07, 0x00, SIZES(33), &st);
	st.len = 0;
	RAW(&st, "\x00\x00");
	save_stream("length-0", 0x00, 0x00, SIZES(1), &st);
	st.len = 0;
	RAW(&st, "\x00\x0b" "\x00\x01\x01\x00\x00\x01\x00\x00\x00\x00\x00");
	save_stream("length-11", 0x00, 0x00, SIZES(0xff), &st);

	/* The largest length with too little after it: only incomplete. */
	st.len = 0;
	some_replies(&st);
	RAW(&st, "\xff\xff\x12\x34\x81\x80\x00\x01");
	save_stream("length-65535-incomplete", 0x01, 0x00, SIZES(5), &st);
	st.len = 0;
	RAW(&st, "\xff\xff");
	save_stream("length-65535-alone", 0x00, 0x00, SIZES(0xff), &st);

	/* Queries to pad: options of their own, signed, a record after the OPT. */
	st.len = 0;
	RAW_MSG(&st, "\x00\x06\x01\x00\x00\x01\x00\x00\x00\x00\x00\x01"
		     "\x07" "example\x03" "com\x00\x00\x01\x00\x01"
		     "\x00\x00\x29\x04\xd0\x00\x00\x80\x00\x00\x1f"
		     "\x00\x0a\x00\x08\x01\x02\x03\x04\x05\x06\x07\x08"  /* COOKIE */
		     "\x00\x0c\x00\x04\x00\x00\x00\x00"                  /* padding */
		     "\x00\x08\x00\x07\x00\x01\x18\x00\xc0\x00\x02");    /* ECS 192.0.2/24 */
	RAW_MSG(&st, "\x00\x07\x01\x00\x00\x01\x00\x00\x00\x00\x00\x02"
		     "\x01" "a\x00\x00\x01\x00\x01"
		     "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
		     "\x03" "key\x00\x00\xfa\x00\xff\x00\x00\x00\x00\x00\x05" "12345"); /* TSIG */
	RAW_MSG(&st, "\x00\x08\x01\x00\x00\x01\x00\x00\x00\x00\x00\x02"
		     "\x01" "a\x00\x00\x01\x00\x01"
		     "\x00\x00\x29\x04\xd0\x00\x00\x00\x00\x00\x00"
		     "\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x00\x00\x04\x7f\x00\x00\x01");
	save_stream("queries-with-options-tsig-record-after-opt", 0x02, 0x00, SIZES(0xff), &st);
}

/* ---- cache files ------------------------------------------------------ */

/* A reply's wire form (malloc'ed, for the caller to free). */
static uint8_t *spec_wire(const struct spec *s, size_t *len)
{
	ldns_pkt *p = build(s);
	uint8_t *wire = NULL;
	if (ldns_pkt2wire(&wire, p, len) != LDNS_STATUS_OK)
		die("cannot write a reply");
	ldns_pkt_free(p);
	return wire;
}

static void add_answer(struct cachefile_writer *w, const struct spec *s, uint8_t kflags,
		       uint32_t lifetime_s, uint64_t age_ms, uint64_t idle_ms)
{
	size_t len = 0;
	uint8_t *wire = spec_wire(s, &len);
	/* The key's type: the question's, after the name at offset 12. */
	uint16_t qtype = 0;
	size_t at = 12;
	while (at < len && wire[at] != 0)
		at += 1 + (size_t)wire[at];
	if (at + 5 <= len)
		qtype = (uint16_t)(wire[at + 1] << 8 | wire[at + 2]);
	const struct cachefile_record r = {
		.kflags = kflags, .qtype = qtype, .qclass = 1, .lifetime_s = lifetime_s,
		.age_ms = age_ms, .idle_ms = idle_ms, .answer = wire, .answer_len = len,
	};
	if (cachefile_writer_add(w, &r) != 0)
		die("cachefile_writer_add refused a seed record");
	LDNS_FREE(wire);
}

#define ANSWER(w, kflags, lifetime, age, idle, ...) \
	add_answer(w, &(struct spec){ .reply = true, __VA_ARGS__ }, kflags, lifetime, age, idle)

static void save_cachefile(const char *name, struct cachefile_writer *w, size_t cut,
			   uint32_t version)
{
	size_t len;
	const uint8_t *image = cachefile_writer_image(w, &len);
	uint8_t copy[8192];
	if (len > sizeof(copy))
		die("a cache file seed too large");
	memcpy(copy, image, len);
	if (version) /* big-endian at offset 8, the header's sum left stale */
		for (int i = 0; i < 4; i++)
			copy[8 + i] = (uint8_t)(version >> (24 - 8 * i));
	save("fuzz_cachefile", name, NULL, 0, copy, len - cut);
}

static void cachefiles(void)
{
	/* 2024-06-10 06:13:20.123 UTC, as a save would write it. */
	const uint64_t saved = 1718000000123ull;
	struct cachefile_writer *w = cachefile_writer_new(saved);
	if (!w)
		die("out of memory");
	save_cachefile("empty", w, 0, 0);

	ANSWER(w, 0, 300, 12000, 500, .id = 0x1234, .question = "www.example.com. IN A",
	       .records = { "an www.example.com. 300 IN A 192.0.2.1",
			    "an www.example.com. 300 IN A 192.0.2.2" });
	ANSWER(w, CACHEFILE_KFLAG_DO, 300, 310000, 310000, .id = 0x3333,
	       .rcode = LDNS_RCODE_NXDOMAIN, .question = "nope.example.com. IN A", .edns = 1232,
	       .dnssec_ok = true, .records = { "ns " SOA_COM });
	ANSWER(w, CACHEFILE_KFLAG_DO | CACHEFILE_KFLAG_CD, 60, 0, 0, .id = 0x2223,
	       .question = "www.example.com. IN AAAA",
	       .records = { "an www.example.com. 50 IN CNAME a.example.net.",
			    "an a.example.net. 40 IN CNAME b.example.org.",
			    "an b.example.org. 30 IN AAAA 2001:db8::b" });
	ANSWER(w, CACHEFILE_KFLAG_CD, 30, 29999, 1, .id = 0x6666, .rcode = LDNS_RCODE_SERVFAIL,
	       .question = "broken.example. IN A");
	save_cachefile("four-answers", w, 0, 0);
	save_cachefile("four-answers-cut-in-the-last", w, 7, 0);
	save_cachefile("four-answers-version-2", w, 0, 2);
	cachefile_writer_free(w);

	/* Many small ones, and the extremes: a bare header as the answer,
	 * every field at its largest. */
	w = cachefile_writer_new(UINT64_MAX);
	if (!w)
		die("out of memory");
	static const uint8_t bare[12] = { 0x12, 0x34, 0x81, 0x80 };
	const struct cachefile_record extreme = {
		.kflags = 3, .qtype = 0xffff, .qclass = 0xffff, .lifetime_s = UINT32_MAX,
		.age_ms = UINT64_MAX, .idle_ms = UINT64_MAX, .answer = bare, .answer_len = 12,
	};
	if (cachefile_writer_add(w, &extreme) != 0)
		die("cachefile_writer_add refused a seed record");
	for (unsigned i = 0; i < 24; i++)
		ANSWER(w, (uint8_t)(i & 3), 60 + i, 1000ull * i, 10ull * i, .id = (uint16_t)i,
		       .question = i & 1 ? "a.example. IN AAAA" : "b.example. IN A",
		       .records = { i & 1 ? "an a.example. 60 IN AAAA 2001:db8::1"
					  : "an b.example. 60 IN A 192.0.2.7" });
	save_cachefile("many-small-and-extremes", w, 0, 0);
	cachefile_writer_free(w);

	raw("fuzz_cachefile", "foreign-script", "#!/bin/sh\necho hello\n", 21);
	raw("fuzz_cachefile", "magic-only", "STUBDCF\0", 8);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: fuzz_make_seeds DIR\n");
		return 2;
	}
	out_dir = argv[1];
	queries();
	replies();
	streams();
	cachefiles();
	return 0;
}
