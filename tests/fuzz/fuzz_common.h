/* fuzz_common.h - what every libFuzzer target of stubd shares: the
 * entry points' prototypes, the invariant check that aborts, input as a
 * file, and the DNS checks more than one target makes.
 *
 * Header-only (static functions) so that each target is one .c file.
 * Every target frees what it allocated before it returns: libFuzzer's leak
 * check runs per input, and nothing may grow from one input to the next.
 */
#ifndef STUBD_FUZZ_COMMON_H
#define STUBD_FUZZ_COMMON_H

#define _GNU_SOURCE
#include <errno.h>
#include <ldns/ldns.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stubd/log.h"
#include "stubd/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* An invariant that must hold whatever the input: a violation is a bug,
 * reported like a crash so that libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                       \
	do {                                                                   \
		if (!(cond))                                                   \
			fuzz_fail(__FILE__, __LINE__, #cond);                  \
	} while (0)

__attribute__((noreturn, unused)) static void fuzz_fail(const char *file, int line,
							const char *what)
{
	fprintf(stderr, "\n==== fuzz invariant broken at %s:%d: %s\n", file, line, what);
	abort();
}

/* The modules log what they skip (hosts lines, config keys): thousands of
 * lines a second would only slow the fuzzer down. Errors still show;
 * STUBD_FUZZ_VERBOSE=1 shows everything. */
__attribute__((unused)) static void fuzz_quiet_logs(void)
{
	const char *v = getenv("STUBD_FUZZ_VERBOSE");
	log_set_level(v && *v && *v != '0' ? LOG_LEVEL_DEBUG : LOG_LEVEL_ERR);
}

/* The input as a file for the loaders that take a path: a memfd, read back
 * through /proc/self/fd. Returns the fd (close it when done) and fills
 * path, or -1. */
__attribute__((unused)) static int fuzz_input_file(const uint8_t *data, size_t size, char *path,
						   size_t path_size)
{
	int fd = memfd_create("stubd-fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t done = 0;
	while (done < size) {
		ssize_t n = write(fd, data + done, size - done);
		if (n <= 0) {
			close(fd);
			return -1;
		}
		done += (size_t)n;
	}
	snprintf(path, path_size, "/proc/self/fd/%d", fd);
	return fd;
}

/* Is name[0..len) one whole uncompressed wire name: labels of at most 63
 * bytes ending in the root label exactly at len, at most 255 bytes? */
__attribute__((unused)) static bool fuzz_valid_name(const uint8_t *name, size_t len)
{
	size_t pos = 0;
	if (len == 0 || len > WIRE_NAME_MAX)
		return false;
	while (pos < len) {
		uint8_t label = name[pos];
		if (label > WIRE_LABEL_MAX)
			return false;
		if (label == 0)
			return pos + 1 == len;
		pos += 1 + (size_t)label;
	}
	return false;
}

/* Parses a message stubd wrote with ldns: whatever stubd sends a client
 * must be a message a real parser takes. Returns the packet (the caller
 * frees it with ldns_pkt_free), never NULL. */
__attribute__((unused)) static ldns_pkt *fuzz_must_parse(const uint8_t *pkt, size_t len)
{
	ldns_pkt *p = NULL;
	ldns_status st = ldns_wire2pkt(&p, pkt, len);
	if (st != LDNS_STATUS_OK) {
		fprintf(stderr, "ldns_wire2pkt: %s (%zu bytes)\n", ldns_get_errorstr_by_id(st), len);
		fuzz_fail(__FILE__, __LINE__, "stubd wrote a message ldns cannot parse");
	}
	return p;
}

/* The number of OPT records anywhere in a message stubd wrote (0 if the
 * message cannot be walked, which other checks catch). */
__attribute__((unused)) static unsigned fuzz_count_opt(const uint8_t *pkt, size_t len)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	unsigned n = 0;
	if (wire_rr_iter_init(&it, pkt, len) < 0)
		return 0;
	while (wire_rr_next(&it, &rr) == 1)
		n += rr.type == WIRE_TYPE_OPT;
	return n;
}

/* The checks every reply stubd gives a client passes, whatever stage made
 * it (after wire_finish_reply): it parses, carries the client's ID, QR,
 * RD and CD, the client's question byte for byte (its letter case), one
 * OPT exactly when the client sent one, and TC replies carry no records. */
__attribute__((unused)) static void fuzz_check_client_reply(const uint8_t *out, size_t len,
							    const struct wire_query *q)
{
	FUZZ_CHECK(len >= WIRE_HEADER_LEN + (size_t)q->qname_len + 4);
	uint16_t flags = wire_get16(out + 2);
	FUZZ_CHECK(wire_get16(out) == q->id);
	FUZZ_CHECK(flags & WIRE_FLAG_QR);
	FUZZ_CHECK((flags & WIRE_FLAG_RD) == (q->flags & WIRE_FLAG_RD));
	FUZZ_CHECK((flags & WIRE_FLAG_CD) == (q->flags & WIRE_FLAG_CD));
	/* RFC 6840 §5.8: AD only for clients that asked with AD or DO. */
	if (!(q->flags & WIRE_FLAG_AD) && !q->edns_do)
		FUZZ_CHECK(!(flags & WIRE_FLAG_AD));
	FUZZ_CHECK(wire_get16(out + 4) == 1);
	FUZZ_CHECK(memcmp(out + WIRE_HEADER_LEN, q->qname, q->qname_len) == 0);
	FUZZ_CHECK(wire_get16(out + WIRE_HEADER_LEN + q->qname_len) == q->qtype);
	FUZZ_CHECK(wire_get16(out + WIRE_HEADER_LEN + q->qname_len + 2) == q->qclass);
	FUZZ_CHECK(wire_reply_matches(out, len, q->id, q) == (WIRE_OPCODE(flags) == 0));
	FUZZ_CHECK(fuzz_count_opt(out, len) == (q->edns ? 1u : 0u));
	if (flags & WIRE_FLAG_TC)
		FUZZ_CHECK(wire_get16(out + 6) == 0 && wire_get16(out + 8) == 0);
	ldns_pkt *p = fuzz_must_parse(out, len);
	FUZZ_CHECK(ldns_pkt_id(p) == q->id);
	ldns_pkt_free(p);
}

/* ---- upstream replies (fuzz_reply, fuzz_scrub_diff) ------------------ */

/* Reads the uncompressed question name at offset 12 of reply; returns
 * its length or 0. */
__attribute__((unused)) static size_t fuzz_reply_qname(const uint8_t *reply, size_t len,
							uint8_t *name)
{
	size_t pos = WIRE_HEADER_LEN;
	if (len < WIRE_HEADER_LEN || wire_get16(reply + 4) == 0)
		return 0;
	for (;;) {
		if (pos >= len || reply[pos] > WIRE_LABEL_MAX)
			return 0;
		size_t label = reply[pos];
		if (pos - WIRE_HEADER_LEN + 1 + label > WIRE_NAME_MAX || pos + 1 + label > len)
			return 0;
		pos += 1 + label;
		if (label == 0)
			break;
	}
	if (pos + 4 > len)
		return 0;
	memcpy(name, reply + WIRE_HEADER_LEN, pos - WIRE_HEADER_LEN);
	return pos - WIRE_HEADER_LEN;
}

/* The question a fuzzed reply is checked against: the reply's own (or, if
 * it has none, example.com A IN, to see a reply that answers nothing
 * rejected), respelled in mixed case when ctl bit 0x10 is set, as a
 * client may have asked it. Shared by fuzz_reply and fuzz_scrub_diff,
 * whose inputs have the same form. Returns the name's length. */
__attribute__((unused)) static size_t fuzz_reply_question(const uint8_t *reply, size_t len,
							   uint8_t ctl, uint8_t *name,
							   uint16_t *qtype, uint16_t *qclass)
{
	static const uint8_t fallback[] = "\007example\003com";
	size_t name_len = fuzz_reply_qname(reply, len, name);

	*qtype = WIRE_TYPE_A;
	*qclass = WIRE_CLASS_IN;
	if (name_len > 0) {
		*qtype = wire_get16(reply + WIRE_HEADER_LEN + name_len);
		*qclass = wire_get16(reply + WIRE_HEADER_LEN + name_len + 2);
	} else {
		name_len = sizeof(fallback);
		memcpy(name, fallback, name_len);
	}
	if (ctl & 0x10)
		for (size_t i = 0; i < name_len; i++)
			if ((name[i] | 0x20) >= 'a' && (name[i] | 0x20) <= 'z' && (i & 1))
				name[i] ^= 0x20;
	return name_len;
}

/* A client's query packet for this question; returns its length. */
static size_t fuzz_build_query(uint8_t *out, uint16_t id, uint16_t flags, const uint8_t *name,
			       size_t name_len, uint16_t qtype, uint16_t qclass, bool edns,
			       uint16_t udp_size, bool dnssec_ok)
{
	memset(out, 0, WIRE_HEADER_LEN);
	wire_put16(out, id);
	wire_put16(out + 2, flags);
	wire_put16(out + 4, 1);
	wire_put16(out + 10, edns ? 1 : 0);
	size_t off = WIRE_HEADER_LEN;
	memcpy(out + off, name, name_len);
	off += name_len;
	wire_put16(out + off, qtype);
	wire_put16(out + off + 2, qclass);
	off += 4;
	if (edns) {
		out[off] = 0;
		wire_put16(out + off + 1, WIRE_TYPE_OPT);
		wire_put16(out + off + 3, udp_size);
		out[off + 5] = out[off + 6] = 0;
		wire_put16(out + off + 7, dnssec_ok ? 0x8000 : 0);
		wire_put16(out + off + 9, 0);
		off += WIRE_OPT_LEN;
	}
	return off;
}

/* The client's question as stubd reads it: the query packet through
 * wire_parse_query. False when stubd would not forward it. */
__attribute__((unused)) static bool fuzz_client_query(struct wire_query *q, uint16_t id,
						      uint16_t flags, const uint8_t *name,
						      size_t name_len, uint16_t qtype,
						      uint16_t qclass, bool edns, uint16_t udp_size,
						      bool dnssec_ok)
{
	uint8_t pkt[WIRE_HEADER_LEN + WIRE_NAME_MAX + 4 + WIRE_OPT_LEN];
	unsigned rcode;
	size_t len = fuzz_build_query(pkt, id, flags, name, name_len, qtype, qclass, edns,
				      udp_size, dnssec_ok);
	return wire_parse_query(pkt, len, q, &rcode) == WIRE_VERDICT_RESOLVE;
}

#endif
