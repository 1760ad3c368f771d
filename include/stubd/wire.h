/* wire.h - DNS messages as bytes, on the hot path: no allocation, no ldns.
 *
 * Owns reading a client's query into a fixed-size view (struct wire_query),
 * the checks every untrusted packet gets before any work is done, and the
 * few replies stubd writes itself (errors, truncation, the final touch on
 * an answer: ID, question case, EDNS). Works on caller-owned buffers only;
 * every function checks lengths before it reads. Nothing here calls ldns;
 * scrub.c builds on these readers for upstream replies.
 */
#ifndef STUBD_WIRE_H
#define STUBD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WIRE_HEADER_LEN 12
#define WIRE_NAME_MAX 255      /* RFC 1035 §2.3.4, wire form */
#define WIRE_LABEL_MAX 63
#define WIRE_UDP_MIN 512       /* RFC 1035 §4.2.1 */
#define WIRE_MSG_MAX 65535
#define WIRE_OPT_LEN 11        /* an OPT RR with no options */

/* Header flag bits, in the 16-bit word at offset 2 (RFC 1035 §4.1.1). */
#define WIRE_FLAG_QR 0x8000
#define WIRE_FLAG_AA 0x0400
#define WIRE_FLAG_TC 0x0200
#define WIRE_FLAG_RD 0x0100
#define WIRE_FLAG_RA 0x0080
#define WIRE_FLAG_AD 0x0020
#define WIRE_FLAG_CD 0x0010
#define WIRE_OPCODE(flags) (((flags) >> 11) & 0xf)
#define WIRE_RCODE(flags) ((flags) & 0xf)

#define WIRE_TYPE_A 1
#define WIRE_TYPE_NS 2
#define WIRE_TYPE_CNAME 5
#define WIRE_TYPE_SOA 6
#define WIRE_TYPE_PTR 12
#define WIRE_TYPE_MX 15
#define WIRE_TYPE_SIG 24       /* SIG(0) transaction signatures, RFC 2931 */
#define WIRE_TYPE_AAAA 28
#define WIRE_TYPE_DNAME 39
#define WIRE_TYPE_OPT 41
#define WIRE_TYPE_RRSIG 46
#define WIRE_TYPE_NSEC 47
#define WIRE_TYPE_NSEC3 50
#define WIRE_TYPE_TKEY 249
#define WIRE_TYPE_TSIG 250
#define WIRE_TYPE_IXFR 251
#define WIRE_TYPE_AXFR 252
#define WIRE_TYPE_MAILB 253
#define WIRE_TYPE_MAILA 254
#define WIRE_TYPE_ANY 255
#define WIRE_CLASS_IN 1
#define WIRE_CLASS_ANY 255

enum wire_rcode {
	WIRE_RCODE_NOERROR = 0,
	WIRE_RCODE_FORMERR = 1,
	WIRE_RCODE_SERVFAIL = 2,
	WIRE_RCODE_NXDOMAIN = 3,
	WIRE_RCODE_NOTIMP = 4,
	WIRE_RCODE_REFUSED = 5,
	WIRE_RCODE_BADVERS = 16, /* extended: needs an OPT record (RFC 6891 §6.1.3) */
	WIRE_RCODE_COUNT_ = 17,
};

/* "NOERROR", "FORMERR", ...; "RCODE<n>" style names are not needed: any
 * value below WIRE_RCODE_COUNT_ has a name. */
const char *wire_rcode_name(unsigned rcode);

/* What the client asked, copied out of its packet so it outlives the
 * receive buffer. Fixed size: filling one allocates nothing. */
struct wire_query {
	uint16_t id;
	uint16_t flags;        /* the header flag word as received */
	uint16_t qtype;
	uint16_t qclass;
	bool has_question;     /* qname/qtype/qclass are valid (echo them) */
	uint8_t qname_len;     /* wire length, root label included */
	uint8_t qname[WIRE_NAME_MAX]; /* wire form, the client's letter case */

	bool edns;             /* the query had an OPT record */
	bool edns_do;          /* DNSSEC OK (RFC 3225) */
	uint8_t edns_version;
	uint16_t edns_udp_size; /* as advertised, at least 512 */
};

/* What to do with a packet, decided by wire_parse_query(). */
enum wire_verdict {
	WIRE_VERDICT_RESOLVE, /* a good question: send it down the pipeline */
	WIRE_VERDICT_ANSWER,  /* answer at once with the rcode in *rcode */
	WIRE_VERDICT_DROP,    /* say nothing: too short to answer, or a response */
};

/* Checks a client packet and fills q. RFC 1035 §4.1, RFC 6891 §6.1.1:
 * QR=1 or fewer than 12 bytes -> DROP; opcode other than QUERY -> NOTIMP;
 * QDCOUNT != 1, answer or authority records, a bad name, a second OPT or
 * an OPT not at the root -> FORMERR; EDNS version above 0 -> BADVERS;
 * AXFR/IXFR -> REFUSED (a stub does no zone transfers); meta types -> NOTIMP. */
enum wire_verdict wire_parse_query(const uint8_t *pkt, size_t len,
				   struct wire_query *q, unsigned *rcode);

/* The UDP reply size the client can take: 512, or its EDNS buffer size
 * capped at our own (RFC 6891 §6.2.5). */
size_t wire_udp_limit(const struct wire_query *q, size_t our_edns_size);

/* Writes a reply with no records and the given rcode (extended rcodes set
 * in the OPT record), echoing q's ID, RD, CD and question. Returns its
 * length, or 0 if out is too small. */
size_t wire_build_error(uint8_t *out, size_t cap, const struct wire_query *q,
			unsigned rcode, size_t our_edns_size);

/* Writes the query stubd sends upstream for q: the given ID, RD=1, CD as
 * the client sent it, the client's name with its case, and an OPT record
 * with our buffer size and the client's DO bit. Returns its length or 0. */
size_t wire_build_upstream_query(uint8_t *out, size_t cap, uint16_t id,
				 const struct wire_query *q, size_t our_edns_size);

/* Turns a stored answer (a full reply without OPT, question uncompressed
 * at offset 12; see scrub.h) into the reply for this client: its ID, RD
 * and CD, its question's letter case, an OPT record if it sent one, and
 * TC with no records if the result would exceed limit bytes (RFC 2181
 * §9). Returns the length, or 0 if answer is not for q's question or out
 * is too small. */
size_t wire_finish_reply(uint8_t *out, size_t cap, const uint8_t *answer,
			 size_t answer_len, const struct wire_query *q,
			 size_t limit, size_t our_edns_size);

/* True when pkt is a reply to q as stubd asked it: QR=1, the given ID,
 * opcode QUERY, one question equal to q's (name compared without regard
 * to ASCII case, RFC 4343). Anything else must be dropped (RFC 5452 §9). */
bool wire_reply_matches(const uint8_t *pkt, size_t len, uint16_t id,
			const struct wire_query *q);

/* A text name -> wire form (lowercased when lower), into out
 * (WIRE_NAME_MAX bytes). One trailing dot is accepted, as glibc does; the
 * root alone is not a name here. Returns the wire length, or 0 with *why
 * set ("empty label in name", ...). Labels are copied as they are: the
 * caller says which bytes it accepts. */
size_t wire_name_from_text(const char *text, size_t len, bool lower, uint8_t *out,
			   const char **why);

/* FNV-1a over a wire name with ASCII case folded, so a name in any case
 * hashes like its lowercased form. Length bytes are below 'A': unchanged. */
uint32_t wire_name_hash(const uint8_t *name, size_t len);

/* Compares two uncompressed wire names, ASCII case-insensitively. */
bool wire_name_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen);

/* Reads the name at *off, compressed or not (RFC 1035 §4.1.4), into out
 * (WIRE_NAME_MAX bytes) in uncompressed form, or only checks it when out
 * is NULL; sets *out_len (root label included) and moves *off past the
 * name where it sits (past its first pointer). Returns 0, or -1 when the name is malformed: it runs past
 * len, has a label over 63 bytes or of a reserved type (0x40, 0x80), is
 * longer than 255 bytes uncompressed, or has a pointer into the header or
 * one that does not point strictly before the labels that led to it.
 * RFC 1035 compression only ever points back at an earlier name, and
 * pointers that always go backward cannot form a loop. */
int wire_read_name(const uint8_t *pkt, size_t len, size_t *off, uint8_t *out, size_t *out_len);

/* Skips an uncompressed or compressed name starting at *off; returns 0 and
 * moves *off past it, or -1 if the name runs past len or is malformed. */
int wire_skip_name(const uint8_t *pkt, size_t len, size_t *off);

/* Walking the records of a message, for the cold path and for finding
 * TTL offsets once at store time. */
enum wire_section { WIRE_SECTION_ANSWER, WIRE_SECTION_AUTHORITY, WIRE_SECTION_ADDITIONAL };

struct wire_rr {
	size_t start;          /* offset of the owner name */
	size_t ttl_off;        /* offset of the 32-bit TTL */
	size_t end;            /* offset just past the rdata */
	uint16_t type;
	uint16_t rclass;
	uint32_t ttl;
	uint16_t rdlen;
	enum wire_section section;
	unsigned index;        /* position within its section */
};

struct wire_rr_iter {
	const uint8_t *pkt;
	size_t len;
	size_t off;
	unsigned left[3];      /* records still to read, per section */
	unsigned section;
	unsigned index;
};

/* Positions it after the question section. Returns 0, or -1 if the header
 * or question is malformed. */
int wire_rr_iter_init(struct wire_rr_iter *it, const uint8_t *pkt, size_t len);

/* Returns 1 and fills rr, 0 when every record was read, -1 when the
 * message is malformed (a name or rdata runs past the end). */
int wire_rr_next(struct wire_rr_iter *it, struct wire_rr *rr);

/* Writes the presentation form ("www.example.com.") of an uncompressed
 * wire name into buf, escaping odd bytes; returns buf. */
char *wire_name_str(const uint8_t *name, size_t len, char *buf, size_t size);

/* Big-endian accessors; callers check bounds first. */
static inline uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline uint32_t wire_get32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	       ((uint32_t)p[2] << 8) | p[3];
}

#endif
