/* fuzz_scrub_diff.c - libFuzzer target: the wire scrubber (src/scrub.c)
 * against the ldns scrubber it replaced (tests/oracle/scrub_ldns.c), on
 * the same upstream reply for the same client.
 *
 * Input: as fuzz_reply's (two control bytes, then the reply), so the two
 * share seeds. Byte 0: bit 0 the client sent EDNS, bit 1 DO, bit 4 it
 * spelled the name in another letter case; the other bits and byte 1 do
 * not matter here. The question is the reply's own.
 *
 * When both accept, the stored answers must be the same DNS message: the
 * same ID and flag word, the same question byte for byte, the same
 * records in the same sections in the same order (owners and names in
 * rdata compared after decompression, without regard to case, since both
 * compress without regard to case; type, class, TTL and every other rdata
 * byte exactly); the same scrub_counts; and the wire one no longer than
 * ldns's (both compress every name they may).
 *
 * When only one accepts, it must be the wire scrubber that rejects, and
 * the input must show one of these intended differences, each checked
 * here from the input itself (the fourth by scrubbing the reply cut to
 * what ldns read):
 *  1. ldns does not frame a record as RFC 1035 §4.1.3 does. ldns 1.8.3
 *     reads rdata field by field and carries on from where its last field
 *     ended, not from RDLENGTH: rdata longer than its type's fields, or a
 *     name in rdata running past RDLENGTH, shifts its reading of all that
 *     follows. The wire scrubber frames by RDLENGTH and rejects such rdata.
 *  2. A compression pointer that goes into the header, or not strictly
 *     before the labels that led to it (RFC 1035 §4.1.4: a pointer refers
 *     to a prior occurrence). ldns follows any pointer inside the message,
 *     up to 65535 of them per name; wire_read_name refuses these, which
 *     rules out loops by construction.
 *  3. A stored answer over 65535 bytes (not a DNS message): the wire
 *     scrubber refuses it with -EMSGSIZE, and then only.
 *  4. A TSIG in the additional section: ldns 1.8.3 lowers ARCOUNT each
 *     time it meets one while it loops over that section, so it never
 *     reads the last record(s) there. The wire scrubber checks them, and
 *     counts them in additional_dropped; it must accept the reply cut
 *     to what ldns read, and count what ldns left unread besides.
 * Anything else, either way round, is a bug in one of the two.
 * Not compared: replies whose additional section holds two TSIGs or more
 * where ldns reads it (ldns_wire2pkt keeps the last and leaks the others,
 * which the leak checker would report as a crash).
 *
 * Where the ldns scrubber broke its own rules it was corrected in the
 * oracle rather than excused here; see the "Oracle fix" notes in
 * tests/oracle/scrub_ldns.c.
 */
#include "fuzz_common.h"

#include "scrub_ldns.h"
#include "stubd/scrub.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

/* ---- the intended differences ------------------------------------------ */

/* 1. Does ldns read each record exactly where RDLENGTH framing has it?
 * (A record ldns cannot read at its place is no framing difference: ldns
 * rejects the reply there, and so must the wire scrubber.) */
static bool ldns_frames_as_rfc(const uint8_t *pkt, size_t len)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	int got;

	if (wire_rr_iter_init(&it, pkt, len) < 0)
		return true;
	while ((got = wire_rr_next(&it, &rr)) == 1) {
		ldns_rr *r = NULL;
		size_t pos = rr.start;
		if (ldns_wire2rr(&r, pkt, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
			return true;
		ldns_rr_free(r);
		if (pos != rr.end)
			return false;
	}
	if (got < 0) { /* RFC framing fails here: does ldns read on? */
		ldns_rr *r = NULL;
		size_t pos = it.off;
		if (ldns_wire2rr(&r, pkt, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
			return true;
		ldns_rr_free(r);
		return false;
	}
	return true;
}

/* 2. Does the name at off use a pointer RFC 1035 compression would not
 * write: into the header, or not strictly before the labels leading to
 * it? Names ldns read, so every label fits. */
static bool odd_pointer(const uint8_t *pkt, size_t len, size_t off)
{
	size_t run = off;
	for (unsigned steps = 0; steps < 1024 && off < len; steps++) {
		uint8_t b = pkt[off];
		if (b == 0 || (b & 0xc0) == 0x40 || (b & 0xc0) == 0x80)
			return false;
		if ((b & 0xc0) == 0) {
			off += 1 + (size_t)b;
			continue;
		}
		if (off + 1 >= len)
			return false;
		size_t target = ((size_t)(b & 0x3f) << 8) | pkt[off + 1];
		if (target < WIRE_HEADER_LEN || target >= run)
			return true;
		off = run = target;
	}
	return true; /* a loop ldns would also give up on */
}

/* The owner and the names in the rdata (where ldns's parse of the record
 * puts them) of the record at start. */
static bool record_has_odd_pointer(const uint8_t *pkt, size_t len, size_t start)
{
	ldns_rr *r = NULL;
	size_t pos = start;
	if (ldns_wire2rr(&r, pkt, len, &pos, LDNS_SECTION_ANSWER) != LDNS_STATUS_OK)
		return false;
	bool odd = odd_pointer(pkt, len, start);
	pos = start;
	if (wire_skip_name(pkt, len, &pos) == 0) {
		pos += 10;
		for (size_t i = 0; i < ldns_rr_rd_count(r) && !odd; i++) {
			const ldns_rdf *f = ldns_rr_rdf(r, i);
			if (ldns_rdf_get_type(f) != LDNS_RDF_TYPE_DNAME) {
				pos += ldns_rdf_size(f);
				continue;
			}
			odd = odd_pointer(pkt, len, pos);
			if (wire_skip_name(pkt, len, &pos) < 0)
				break;
		}
	}
	ldns_rr_free(r);
	return odd;
}

static bool has_odd_pointer(const uint8_t *pkt, size_t len)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	if (wire_rr_iter_init(&it, pkt, len) < 0)
		return false;
	while (wire_rr_next(&it, &rr) == 1)
		if (record_has_odd_pointer(pkt, len, rr.start))
			return true;
	return false;
}

/* 4. How many additional records ldns reads: its loop runs to ARCOUNT,
 * which it lowers for each TSIG. *unread_counted is how many of the rest
 * scrub_counts would count (not OPT, not TSIG). */
static unsigned ldns_additional_read(const uint8_t *pkt, size_t len, unsigned *unread_counted)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	unsigned i = 0;

	*unread_counted = 0;
	if (wire_rr_iter_init(&it, pkt, len) < 0)
		return len < WIRE_HEADER_LEN ? 0 : wire_get16(pkt + 10);
	unsigned arcount = wire_get16(pkt + 10);
	while (wire_rr_next(&it, &rr) == 1) {
		if (rr.section != WIRE_SECTION_ADDITIONAL)
			continue;
		if (i >= arcount)
			*unread_counted += rr.type != WIRE_TYPE_OPT && rr.type != WIRE_TYPE_TSIG;
		else if (rr.type == WIRE_TYPE_TSIG)
			arcount--;
		i++;
	}
	return arcount;
}

/* How many TSIGs ldns_wire2pkt meets in the additional section, reading
 * the message as it does (ldns_wire2rr record after record, ARCOUNT
 * lowered for each TSIG). It keeps the last and leaks the others. */
static unsigned ldns_tsigs_met(const uint8_t *pkt, size_t len)
{
	size_t pos = WIRE_HEADER_LEN;
	unsigned tsigs = 0;

	if (len < WIRE_HEADER_LEN)
		return 0;
	unsigned counts[4] = { wire_get16(pkt + 4), wire_get16(pkt + 6), wire_get16(pkt + 8),
			       wire_get16(pkt + 10) };
	for (unsigned sec = 0; sec < 4; sec++) {
		for (unsigned i = 0; i < counts[sec]; i++) {
			ldns_rr *r = NULL;
			if (ldns_wire2rr(&r, pkt, len, &pos,
					 sec == 0 ? LDNS_SECTION_QUESTION : LDNS_SECTION_ANSWER) !=
			    LDNS_STATUS_OK)
				return tsigs;
			if (sec == 3 && ldns_rr_get_type(r) == LDNS_RR_TYPE_TSIG) {
				tsigs++;
				counts[3]--;
			}
			ldns_rr_free(r);
		}
	}
	return tsigs;
}

/* Does the wire scrubber take the reply cut to the additional records
 * ldns reads? */
static bool accepted_as_ldns_read_it(const uint8_t *pkt, size_t len, unsigned ldns_read,
				     const struct wire_query *q)
{
	static uint8_t copy[WIRE_MSG_MAX];
	uint8_t *ans = NULL;
	size_t ans_len = 0;
	if (ldns_read == wire_get16(pkt + 10) || len > sizeof(copy))
		return false;
	memcpy(copy, pkt, len);
	wire_put16(copy + 10, (uint16_t)ldns_read);
	int r = scrub_reply(copy, len, q, &ans, &ans_len);
	free(ans);
	return r == 0;
}

/* Why the wire scrubber may reject a reply the ldns one took; NULL if
 * there is no reason. */
static const char *intended_difference(const uint8_t *pkt, size_t len, size_t ldns_len,
				       const struct wire_query *q)
{
	unsigned unread_counted;
	unsigned ldns_read = ldns_additional_read(pkt, len, &unread_counted);

	if (!ldns_frames_as_rfc(pkt, len))
		return "ldns frames a record differently from RDLENGTH";
	if (has_odd_pointer(pkt, len))
		return "a compression pointer forward or into the header";
	if (ldns_len > WIRE_MSG_MAX)
		return "a stored answer over 65535 bytes";
	if (accepted_as_ldns_read_it(pkt, len, ldns_read, q))
		return "additional records ldns leaves unread after a TSIG";
	return NULL;
}

/* ---- the same message ----------------------------------------------------- */

static bool rdf_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	if (ldns_rdf_get_type(a) != ldns_rdf_get_type(b))
		return false;
	if (ldns_rdf_get_type(a) == LDNS_RDF_TYPE_DNAME)
		return ldns_dname_compare(a, b) == 0; /* ASCII case aside */
	return ldns_rdf_compare(a, b) == 0;
}

static bool rr_equal(const ldns_rr *a, const ldns_rr *b)
{
	if (ldns_dname_compare(ldns_rr_owner(a), ldns_rr_owner(b)) != 0 ||
	    ldns_rr_get_type(a) != ldns_rr_get_type(b) ||
	    ldns_rr_get_class(a) != ldns_rr_get_class(b) || ldns_rr_ttl(a) != ldns_rr_ttl(b) ||
	    ldns_rr_rd_count(a) != ldns_rr_rd_count(b))
		return false;
	for (size_t i = 0; i < ldns_rr_rd_count(a); i++)
		if (!rdf_equal(ldns_rr_rdf(a, i), ldns_rr_rdf(b, i)))
			return false;
	return true;
}

static bool list_equal(const ldns_rr_list *a, const ldns_rr_list *b)
{
	if (ldns_rr_list_rr_count(a) != ldns_rr_list_rr_count(b))
		return false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(a); i++)
		if (!rr_equal(ldns_rr_list_rr(a, i), ldns_rr_list_rr(b, i)))
			return false;
	return true;
}

static void show(const char *who, const uint8_t *ans, size_t len)
{
	ldns_pkt *p = NULL;
	fprintf(stderr, "---- %s (%zu bytes):\n", who, len);
	if (ldns_wire2pkt(&p, ans, len) == LDNS_STATUS_OK)
		ldns_pkt_print(stderr, p);
	ldns_pkt_free(p);
}

/* Both accepted: the same message, the same counts (but for the
 * additional records ldns left unread, which the wire scrubber counts). */
static void check_same(const uint8_t *a, size_t a_len, const struct scrub_counts *ca,
		       const uint8_t *b, size_t b_len, const struct scrub_counts *cb,
		       const struct wire_query *q, unsigned unread_counted)
{
	size_t question = WIRE_HEADER_LEN + (size_t)q->qname_len + 4;
	ldns_pkt *pa = fuzz_must_parse(a, a_len);
	ldns_pkt *pb = fuzz_must_parse(b, b_len);
	bool same = a_len >= question && b_len >= question &&
		    memcmp(a, b, 4) == 0 &&                  /* ID, flag word */
		    memcmp(a + 4, b + 4, 8) == 0 &&          /* the four counts */
		    memcmp(a + WIRE_HEADER_LEN, b + WIRE_HEADER_LEN, question - WIRE_HEADER_LEN) == 0 &&
		    list_equal(ldns_pkt_answer(pa), ldns_pkt_answer(pb)) &&
		    list_equal(ldns_pkt_authority(pa), ldns_pkt_authority(pb)) &&
		    ldns_rr_list_rr_count(ldns_pkt_additional(pa)) == 0 && !ldns_pkt_edns(pa);
	ldns_pkt_free(pa);
	ldns_pkt_free(pb);
	if (!same) {
		show("wire scrubber", a, a_len);
		show("ldns scrubber", b, b_len);
		FUZZ_CHECK(!"the two stored answers differ");
	}
	FUZZ_CHECK(ca->answer_dropped == cb->answer_dropped);
	FUZZ_CHECK(ca->authority_dropped == cb->authority_dropped);
	FUZZ_CHECK(ca->additional_dropped == cb->additional_dropped + unread_counted);
	FUZZ_CHECK(ca->chain_cut == cb->chain_cut);
	if (a_len > b_len) {
		show("wire scrubber", a, a_len);
		show("ldns scrubber", b, b_len);
		FUZZ_CHECK(!"the wire scrubber's answer is longer than ldns's");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t name[WIRE_NAME_MAX];
	uint16_t qtype, qclass;

	if (size < 2)
		return 0;
	uint8_t ctl = data[0];
	const uint8_t *reply = data + 2;
	size_t len = size - 2;

	size_t name_len = fuzz_reply_question(reply, len, ctl, name, &qtype, &qclass);
	uint16_t id = len >= 2 ? wire_get16(reply) : 0;
	bool edns = (ctl & 1) || (ctl & 2);
	struct wire_query q;
	if (!fuzz_client_query(&q, id, WIRE_FLAG_RD, name, name_len, qtype, qclass, edns, 1232,
			       ctl & 2))
		return 0; /* stubd never asks this upstream */

	uint8_t *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	struct scrub_counts ca, cb;
	unsigned unread_counted;
	int ra = scrub_reply_counted(reply, len, &q, &a, &a_len, &ca);
	FUZZ_CHECK(ra == 0 || ((ra == -EBADMSG || ra == -EMSGSIZE) && a == NULL && a_len == 0));
	ldns_additional_read(reply, len, &unread_counted);
	if (ldns_tsigs_met(reply, len) > 1) { /* ldns_wire2pkt would leak */
		free(a);
		return 0;
	}
	int rb = scrub_ldns_reply_counted(reply, len, &q, &b, &b_len, &cb);
	FUZZ_CHECK(rb == 0 || rb == -EBADMSG);

	/* Record counts have no limit (scrub.h): the only answer refused as
	 * too large is one ldns also makes over 65535 bytes. */
	FUZZ_CHECK(ra != -EMSGSIZE || (rb == 0 && b_len > WIRE_MSG_MAX));
	if (ra == 0 && rb == 0) {
		check_same(a, a_len, &ca, b, b_len, &cb, &q, unread_counted);
	} else if (ra != rb) {
		if (ra == 0) {
			show("wire scrubber", a, a_len);
			FUZZ_CHECK(!"only the ldns scrubber rejects this reply");
		}
		if (!intended_difference(reply, len, b_len, &q)) {
			show("ldns scrubber", b, b_len);
			FUZZ_CHECK(!"only the wire scrubber rejects this reply, for no listed reason");
		}
	}
	free(a);
	free(b);
	return 0;
}
