/* wire.c - zero-allocation DNS message handling. See wire.h. */
#include "stubd/wire.h"

#include <stdio.h>
#include <string.h>

#include "stubd/ascii.h"

static const char *const rcode_names[WIRE_RCODE_COUNT_] = {
	[0] = "NOERROR",   [1] = "FORMERR",   [2] = "SERVFAIL", [3] = "NXDOMAIN",
	[4] = "NOTIMP",    [5] = "REFUSED",   [6] = "YXDOMAIN", [7] = "YXRRSET",
	[8] = "NXRRSET",   [9] = "NOTAUTH",   [10] = "NOTZONE", [11] = "RCODE11",
	[12] = "RCODE12",  [13] = "RCODE13",  [14] = "RCODE14", [15] = "RCODE15",
	[16] = "BADVERS",
};

const char *wire_rcode_name(unsigned rcode)
{
	return rcode < WIRE_RCODE_COUNT_ ? rcode_names[rcode] : "RCODE?";
}


/* Reads the name at *off into out (WIRE_NAME_MAX bytes, NULL: only
 * check it) in flat form. With follow, compression pointers are followed
 * if they go strictly backward and never into the header: each jump lands
 * lower than the last, so no loop is possible (RFC 1035 §4.1.4). Without,
 * a pointer is malformed. */
static int read_name(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out,
		     size_t *out_len, bool follow)
{
	size_t pos = *off;
	size_t run = pos;   /* where the labels being read began */
	size_t after = 0;   /* past the first pointer; 0 until one is met */
	size_t n = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t label = pkt[pos];
		if ((label & 0xc0) == 0xc0 && follow) {
			if (pos + 2 > len)
				return -1;
			size_t target = wire_get16(pkt + pos) & 0x3fff;
			if (target < WIRE_HEADER_LEN || target >= run)
				return -1;
			if (after == 0)
				after = pos + 2;
			pos = run = target;
			continue;
		}
		if (label > WIRE_LABEL_MAX) /* a pointer not followed, or 0x40/0x80 types */
			return -1;
		if (n + 1 + label > WIRE_NAME_MAX || pos + 1 + label > len)
			return -1;
		if (out)
			memcpy(out + n, pkt + pos, 1 + (size_t)label);
		n += 1 + (size_t)label;
		pos += 1 + (size_t)label;
		if (label == 0)
			break;
	}
	*off = after ? after : pos;
	*out_len = n;
	return 0;
}

/* An uncompressed name, as in a question: questions are never compressed
 * in practice, and a pointer at offset 12 could only point forward or at
 * itself, so a pointer here is malformed. */
static int read_plain_name(const uint8_t *pkt, size_t len, size_t *off,
			   uint8_t *out, uint8_t *out_len)
{
	size_t n;
	if (read_name(pkt, len, off, out, &n, false) < 0)
		return -1;
	*out_len = (uint8_t)n;
	return 0;
}

int wire_read_name(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out, size_t *out_len)
{
	return read_name(pkt, len, off, out, out_len, true);
}

int wire_skip_name(const uint8_t *pkt, size_t len, size_t *off)
{
	size_t pos = *off;
	size_t total = 0;

	for (;;) {
		if (pos >= len)
			return -1;
		uint8_t label = pkt[pos];
		if ((label & 0xc0) == 0xc0) {
			if (pos + 2 > len)
				return -1;
			*off = pos + 2;
			return 0;
		}
		if (label > WIRE_LABEL_MAX)
			return -1;
		total += 1 + (size_t)label;
		if (total > WIRE_NAME_MAX || pos + 1 + label > len)
			return -1;
		pos += 1 + (size_t)label;
		if (label == 0)
			break;
	}
	*off = pos;
	return 0;
}

/* RFC 6891 §6.1.2: the OPT record's class is the UDP payload size, its TTL
 * holds the extended rcode, version and the DO bit. */
static unsigned read_opt(const uint8_t *rr, struct wire_query *q)
{
	uint16_t udp_size = wire_get16(rr + 2);
	uint32_t ttl = wire_get32(rr + 4);

	q->edns = true;
	q->edns_udp_size = udp_size < WIRE_UDP_MIN ? WIRE_UDP_MIN : udp_size;
	q->edns_version = (uint8_t)(ttl >> 16);
	q->edns_do = (ttl & 0x8000) != 0;
	return WIRE_RCODE_NOERROR;
}

/* Walks the additional section; only OPT matters to a stub, anything else
 * (TSIG, cookies in other records) is checked for length and ignored. */
static unsigned parse_additional(const uint8_t *pkt, size_t len, size_t off,
				 unsigned count, struct wire_query *q)
{
	for (unsigned i = 0; i < count; i++) {
		size_t name_start = off;
		if (wire_skip_name(pkt, len, &off) < 0 || off + 10 > len)
			return WIRE_RCODE_FORMERR;
		uint16_t type = wire_get16(pkt + off);
		uint16_t rdlen = wire_get16(pkt + off + 8);
		if (off + 10 + rdlen > len)
			return WIRE_RCODE_FORMERR;
		if (type == WIRE_TYPE_OPT) {
			/* RFC 6891 §6.1.1: one OPT, owned by the root. */
			if (q->edns || off != name_start + 1 || pkt[name_start] != 0)
				return WIRE_RCODE_FORMERR;
			read_opt(pkt + off, q);
		}
		off += 10 + (size_t)rdlen;
	}
	return WIRE_RCODE_NOERROR;
}

/* Steps over count resource records (answer and authority sections). */
static int skip_records(const uint8_t *pkt, size_t len, size_t *off, unsigned count)
{
	for (unsigned i = 0; i < count; i++) {
		if (wire_skip_name(pkt, len, off) < 0 || *off + 10 > len)
			return -1;
		size_t rdlen = wire_get16(pkt + *off + 8);
		if (*off + 10 + rdlen > len)
			return -1;
		*off += 10 + rdlen;
	}
	return 0;
}

static enum wire_verdict answer_with(unsigned *rcode, unsigned value)
{
	*rcode = value;
	return WIRE_VERDICT_ANSWER;
}

enum wire_verdict wire_parse_query(const uint8_t *pkt, size_t len,
				   struct wire_query *q, unsigned *rcode)
{
	memset(q, 0, offsetof(struct wire_query, qname));
	q->edns = false;
	q->edns_do = false;
	q->edns_version = 0;
	q->edns_udp_size = 0;
	*rcode = WIRE_RCODE_NOERROR;

	if (len < WIRE_HEADER_LEN)
		return WIRE_VERDICT_DROP;
	q->id = wire_get16(pkt);
	q->flags = wire_get16(pkt + 2);
	if (q->flags & WIRE_FLAG_QR) /* never answer an answer: no loops */
		return WIRE_VERDICT_DROP;

	unsigned qdcount = wire_get16(pkt + 4);
	unsigned ancount = wire_get16(pkt + 6);
	unsigned nscount = wire_get16(pkt + 8);
	unsigned arcount = wire_get16(pkt + 10);
	size_t off = WIRE_HEADER_LEN;

	if (qdcount == 1 &&
	    read_plain_name(pkt, len, &off, q->qname, &q->qname_len) == 0 &&
	    off + 4 <= len) {
		q->qtype = wire_get16(pkt + off);
		q->qclass = wire_get16(pkt + off + 2);
		q->has_question = true;
		off += 4;
	}
	/* Read the OPT record before judging the rest: RFC 6891 §7 wants
	 * an OPT in every reply to a query that had one, errors included. */
	unsigned add = WIRE_RCODE_FORMERR;
	if ((q->has_question || qdcount == 0) && skip_records(pkt, len, &off, ancount + nscount) == 0)
		add = parse_additional(pkt, len, off, arcount, q);
	if (add != WIRE_RCODE_NOERROR)
		q->edns = false; /* a broken OPT is not echoed */

	if (WIRE_OPCODE(q->flags) != 0)
		return answer_with(rcode, WIRE_RCODE_NOTIMP);
	if (!q->has_question || qdcount != 1 || ancount != 0 || nscount != 0)
		return answer_with(rcode, WIRE_RCODE_FORMERR);
	if (add != WIRE_RCODE_NOERROR)
		return answer_with(rcode, add);
	if (q->edns && q->edns_version > 0) /* RFC 6891 §6.1.3 */
		return answer_with(rcode, WIRE_RCODE_BADVERS);

	switch (q->qtype) {
	case WIRE_TYPE_OPT: /* RFC 6891 §6.1.1: OPT is not a question type */
		return answer_with(rcode, WIRE_RCODE_FORMERR);
	case WIRE_TYPE_AXFR:
	case WIRE_TYPE_IXFR:
		return answer_with(rcode, WIRE_RCODE_REFUSED);
	case WIRE_TYPE_MAILA:
	case WIRE_TYPE_MAILB:
		return answer_with(rcode, WIRE_RCODE_NOTIMP);
	default:
		return WIRE_VERDICT_RESOLVE;
	}
}

size_t wire_udp_limit(const struct wire_query *q, size_t our_edns_size)
{
	if (!q->edns)
		return WIRE_UDP_MIN;
	size_t limit = q->edns_udp_size < our_edns_size ? q->edns_udp_size : our_edns_size;
	return limit < WIRE_UDP_MIN ? WIRE_UDP_MIN : limit;
}

static void write_header(uint8_t *out, uint16_t id, uint16_t flags, uint16_t qd,
			 uint16_t an, uint16_t ns, uint16_t ar)
{
	wire_put16(out, id);
	wire_put16(out + 2, flags);
	wire_put16(out + 4, qd);
	wire_put16(out + 6, an);
	wire_put16(out + 8, ns);
	wire_put16(out + 10, ar);
}

static size_t write_question(uint8_t *out, const struct wire_query *q)
{
	memcpy(out, q->qname, q->qname_len);
	wire_put16(out + q->qname_len, q->qtype);
	wire_put16(out + q->qname_len + 2, q->qclass);
	return (size_t)q->qname_len + 4;
}

/* An OPT record with no options (RFC 6891 §6.1.2). */
static size_t write_opt(uint8_t *out, size_t udp_size, unsigned ext_rcode, bool dnssec_ok)
{
	out[0] = 0; /* root owner */
	wire_put16(out + 1, WIRE_TYPE_OPT);
	wire_put16(out + 3, (uint16_t)udp_size);
	out[5] = (uint8_t)ext_rcode;
	out[6] = 0; /* version */
	wire_put16(out + 7, dnssec_ok ? 0x8000 : 0);
	wire_put16(out + 9, 0); /* RDLEN */
	return WIRE_OPT_LEN;
}

/* The header bits a reply carries over from its query (RFC 1035 §4.1.1,
 * RFC 4035 §3.2.2 for CD). */
static uint16_t echoed_flags(const struct wire_query *q)
{
	return (uint16_t)(q->flags & (WIRE_FLAG_RD | WIRE_FLAG_CD | 0x7800));
}

size_t wire_build_error(uint8_t *out, size_t cap, const struct wire_query *q,
			unsigned rcode, size_t our_edns_size)
{
	bool with_opt = q->edns || rcode > 15;
	size_t need = WIRE_HEADER_LEN + (q->has_question ? (size_t)q->qname_len + 4 : 0) +
		      (with_opt ? WIRE_OPT_LEN : 0);
	if (need > cap)
		return 0;

	uint16_t flags = (uint16_t)(WIRE_FLAG_QR | WIRE_FLAG_RA | echoed_flags(q) | (rcode & 0xf));
	write_header(out, q->id, flags, q->has_question ? 1 : 0, 0, 0, with_opt ? 1 : 0);
	size_t off = WIRE_HEADER_LEN;
	if (q->has_question)
		off += write_question(out + off, q);
	if (with_opt)
		off += write_opt(out + off, our_edns_size, rcode >> 4, q->edns_do);
	return off;
}

size_t wire_build_upstream_query(uint8_t *out, size_t cap, uint16_t id,
				 const struct wire_query *q, size_t our_edns_size)
{
	size_t need = WIRE_HEADER_LEN + (size_t)q->qname_len + 4 + WIRE_OPT_LEN;
	if (need > cap || !q->has_question)
		return 0;
	/* RFC 6840 §5.7: AD in a query asks for AD in the answer; pass it on. */
	uint16_t flags = (uint16_t)(WIRE_FLAG_RD | (q->flags & (WIRE_FLAG_CD | WIRE_FLAG_AD)));
	write_header(out, id, flags, 1, 0, 0, 1);
	size_t off = WIRE_HEADER_LEN + write_question(out + WIRE_HEADER_LEN, q);
	off += write_opt(out + off, our_edns_size, 0, q->edns_do);
	return off;
}

/* Is the question at offset 12 of pkt the one in q? Returns the offset
 * just past it, or 0. */
static size_t match_question(const uint8_t *pkt, size_t len, const struct wire_query *q)
{
	if (len < WIRE_HEADER_LEN || wire_get16(pkt + 4) != 1)
		return 0;
	uint8_t name[WIRE_NAME_MAX];
	uint8_t name_len;
	size_t off = WIRE_HEADER_LEN;
	if (read_plain_name(pkt, len, &off, name, &name_len) < 0 || off + 4 > len)
		return 0;
	if (!wire_name_equal(name, name_len, q->qname, q->qname_len))
		return 0;
	if (wire_get16(pkt + off) != q->qtype || wire_get16(pkt + off + 2) != q->qclass)
		return 0;
	return off + 4;
}

bool wire_reply_matches(const uint8_t *pkt, size_t len, uint16_t id,
			const struct wire_query *q)
{
	if (len < WIRE_HEADER_LEN || wire_get16(pkt) != id)
		return false;
	uint16_t flags = wire_get16(pkt + 2);
	if (!(flags & WIRE_FLAG_QR) || WIRE_OPCODE(flags) != 0)
		return false;
	return match_question(pkt, len, q) != 0;
}

/* RFC 2181 §9: when an answer does not fit, send what fits with TC set; a
 * bare header and question is the simplest correct form, and makes the
 * client retry over TCP at once. */
static size_t write_truncated(uint8_t *out, uint16_t flags, const struct wire_query *q,
			      size_t our_edns_size)
{
	write_header(out, q->id, (uint16_t)(flags | WIRE_FLAG_TC), 1, 0, 0, q->edns ? 1 : 0);
	size_t off = WIRE_HEADER_LEN + write_question(out + WIRE_HEADER_LEN, q);
	if (q->edns)
		off += write_opt(out + off, our_edns_size, 0, q->edns_do);
	return off;
}

size_t wire_finish_reply(uint8_t *out, size_t cap, const uint8_t *answer,
			 size_t answer_len, const struct wire_query *q,
			 size_t limit, size_t our_edns_size)
{
	if (match_question(answer, answer_len, q) == 0)
		return 0;

	uint16_t flags = wire_get16(answer + 2);
	flags = (uint16_t)((flags & ~(WIRE_FLAG_RD | WIRE_FLAG_CD)) | echoed_flags(q) |
			   WIRE_FLAG_QR | WIRE_FLAG_RA);
	/* RFC 6840 §5.8: AD only for clients that asked for it. */
	if (!(q->flags & WIRE_FLAG_AD) && !q->edns_do)
		flags &= (uint16_t)~WIRE_FLAG_AD;

	size_t total = answer_len + (q->edns ? WIRE_OPT_LEN : 0);
	if (total > limit || total > cap) {
		size_t small = WIRE_HEADER_LEN + (size_t)q->qname_len + 4 + (q->edns ? WIRE_OPT_LEN : 0);
		if (small > cap)
			return 0;
		return write_truncated(out, flags, q, our_edns_size);
	}

	memcpy(out, answer, answer_len);
	wire_put16(out, q->id);
	wire_put16(out + 2, flags);
	/* Same name up to case, so same length: restore the client's case
	 * (some clients check it, and 0x20-style randomization relies on it). */
	memcpy(out + WIRE_HEADER_LEN, q->qname, q->qname_len);
	if (!q->edns)
		return answer_len;
	wire_put16(out + 10, (uint16_t)(wire_get16(out + 10) + 1));
	return answer_len + write_opt(out + answer_len, our_edns_size, 0, q->edns_do);
}

bool wire_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	if (alen != blen)
		return false;
	/* Most names arrive in one case, usually lower: one memcmp settles it. */
	if (memcmp(a, b, alen) == 0)
		return true;
	/* Length bytes are at most 63, below 'A', so folding them is harmless. */
	for (size_t i = 0; i < alen; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static size_t append_char(char *buf, size_t size, size_t pos, uint8_t c)
{
	bool plain = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		     (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '*';
	char tmp[5];
	int n;
	if (plain)
		n = snprintf(tmp, sizeof(tmp), "%c", c);
	else if (c == '.' || c == '\\' || (c > 0x20 && c < 0x7f))
		n = snprintf(tmp, sizeof(tmp), "\\%c", c);
	else
		n = snprintf(tmp, sizeof(tmp), "\\%03u", c);
	for (int i = 0; i < n && pos + 1 < size; i++)
		buf[pos++] = tmp[i];
	return pos;
}

char *wire_name_str(const uint8_t *name, size_t len, char *buf, size_t size)
{
	size_t pos = 0;
	size_t off = 0;

	if (size == 0)
		return buf;
	while (off < len && name[off] != 0) {
		uint8_t label = name[off++];
		for (uint8_t i = 0; i < label && off < len; i++)
			pos = append_char(buf, size, pos, name[off++]);
		if (pos + 1 < size)
			buf[pos++] = '.';
	}
	if (pos == 0 && size > 1)
		buf[pos++] = '.';
	buf[pos] = '\0';
	return buf;
}

int wire_rr_iter_init(struct wire_rr_iter *it, const uint8_t *pkt, size_t len)
{
	memset(it, 0, sizeof(*it));
	if (len < WIRE_HEADER_LEN)
		return -1;
	it->pkt = pkt;
	it->len = len;
	it->off = WIRE_HEADER_LEN;
	it->left[WIRE_SECTION_ANSWER] = wire_get16(pkt + 6);
	it->left[WIRE_SECTION_AUTHORITY] = wire_get16(pkt + 8);
	it->left[WIRE_SECTION_ADDITIONAL] = wire_get16(pkt + 10);
	for (unsigned i = wire_get16(pkt + 4); i > 0; i--) {
		if (wire_skip_name(pkt, len, &it->off) < 0 || it->off + 4 > len)
			return -1;
		it->off += 4;
	}
	return 0;
}

int wire_rr_next(struct wire_rr_iter *it, struct wire_rr *rr)
{
	while (it->section <= WIRE_SECTION_ADDITIONAL && it->left[it->section] == 0) {
		it->section++;
		it->index = 0;
	}
	if (it->section > WIRE_SECTION_ADDITIONAL)
		return 0;

	rr->start = it->off;
	if (wire_skip_name(it->pkt, it->len, &it->off) < 0 || it->off + 10 > it->len)
		return -1;
	const uint8_t *p = it->pkt + it->off;
	rr->type = wire_get16(p);
	rr->rclass = wire_get16(p + 2);
	rr->ttl_off = it->off + 4;
	rr->ttl = wire_get32(p + 4);
	rr->rdlen = wire_get16(p + 8);
	rr->end = it->off + 10 + rr->rdlen;
	if (rr->end > it->len)
		return -1;
	rr->section = (enum wire_section)it->section;
	rr->index = it->index++;
	it->left[it->section]--;
	it->off = rr->end;
	return 1;
}

size_t wire_name_from_text(const char *text, size_t len, bool lower, uint8_t *out,
			   const char **why)
{
	size_t n = 0;

	if (len > 0 && text[len - 1] == '.')
		len--;
	if (len == 0) {
		*why = "empty name";
		return 0;
	}
	size_t start = 0;
	while (start <= len) {
		const char *dot = memchr(text + start, '.', len - start);
		size_t label = dot ? (size_t)(dot - (text + start)) : len - start;
		if (label == 0) {
			*why = "empty label in name";
			return 0;
		}
		if (label > WIRE_LABEL_MAX) { /* RFC 1035 §2.3.4 */
			*why = "label longer than 63 bytes in name";
			return 0;
		}
		if (n + 1 + label + 1 > WIRE_NAME_MAX) {
			*why = "name longer than 255 bytes";
			return 0;
		}
		out[n++] = (uint8_t)label;
		for (size_t i = 0; i < label; i++) {
			uint8_t c = (uint8_t)text[start + i];
			out[n++] = lower ? ascii_lower(c) : c;
		}
		start += label + 1;
	}
	out[n++] = 0;
	return n;
}

uint32_t wire_name_hash(const uint8_t *name, size_t len)
{
	uint32_t h = ASCII_FNV_BASIS;
	for (size_t i = 0; i < len; i++)
		h = ascii_fnv_step(h, ascii_lower(name[i]));
	return h;
}
