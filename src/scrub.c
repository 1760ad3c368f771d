/* scrub.c - upstream reply checking on wire bytes: what of a reply is kept.
 * See scrub.h.
 *
 * A reply that gets here came from the server we asked, with our ID and
 * our question (RFC 5452 §9). That makes blind spoofing hard; it says
 * nothing about the records. An upstream, or whoever guessed the ID, can
 * add records about names nobody asked for, hoping a cache keeps them
 * (RFC 5452 §6; the Kaminsky attack rides on NS records and their glue).
 * So the stored answer is rebuilt from the reply, keeping only:
 *
 * Answer: records at the qname of type qtype (any type for ANY), and the
 *   CNAME chain from it: the CNAME at the qname, then records at its
 *   target, and so on, at most SCRUB_CHAIN_MAX links, stopping at a loop
 *   (RFC 1034 §3.6.2, RFC 2181 §10.1: one CNAME per name, so the first is
 *   followed and any other dropped). A query for CNAME or ANY does not
 *   follow the chain. RRSIGs are kept for DO clients (RFC 3225) when they
 *   cover a kept RRset: same owner, same type.
 * DNAME (RFC 6672): a DNAME is kept only beside the CNAME it synthesized,
 *   that is when its owner is a proper ancestor of a chain name and the
 *   CNAME at that name points exactly where the DNAME says. The chain is
 *   always walked through CNAMEs, which every DNAME-aware server sends
 *   (RFC 6672 §3.4) and old clients need; the DNAME stays only as what a
 *   validating client checks the unsigned CNAME against. A DNAME that
 *   explains no kept CNAME redirects nothing and is dropped.
 * Authority: for a negative answer, NXDOMAIN or NOERROR with no data at
 *   the chain's last name (RFC 2308 §2.1, §2.2), the first SOA whose
 *   owner is that name or an ancestor of it: the zone the negative answer
 *   is about, whose SOA gives the negative TTL (RFC 2308 §3, §5). For DO
 *   clients also NSEC and NSEC3 records in that zone, and in a positive
 *   answer those in a zone that signed a kept answer RRSIG (wildcard
 *   proofs, RFC 4035 §3.1.3), with the RRSIGs covering what is kept.
 *   Nothing else: a stub's clients look up no NS records, and NS records
 *   in authority are the classic poisoning vector.
 * Additional: nothing. Stub clients do not use glue; the OPT record is
 *   hop-by-hop (RFC 6891 §6.1.1) and the client gets one of ours from
 *   wire_finish_reply(); a TSIG would be for us, not for the client.
 * Unfit records are taken out before anything is chosen, whatever their
 *   name: pseudo-records (OPT, TSIG, TKEY: one hop's, RFC 6891 §6.1.1,
 *   RFC 8945), question-only types (IXFR to ANY), and records whose rdata
 *   stops, cleanly between fields, before the fields their type requires
 *   (an empty rdata among them: the RFC 2136 update form, which a cache
 *   must not serve).
 *
 * A stub forwarder knows no zone cuts, so "in bailiwick" here means on the
 * path from the qname: a record for a name off the chain is out. Every
 * kept record also has the question's class. What is kept is the answer
 * section's data of a non-authoritative reply plus the SOA and proofs
 * that go with it, the data a cache may use (RFC 2181 §5.4.1).
 *
 * Parsing. The reply is read in place, with no allocation: each record's
 * owner, type, class and rdata location go into a fixed array, and names
 * stay in the reply, compared where they are (struct name_ref). Every
 * record of every section is checked before anything is kept:
 *  - its name, by wire_read_name(): labels, length, and compression
 *    pointers that go strictly backward and never into the header
 *    (RFC 1035 §4.1.4), so no pointer can loop;
 *  - its rdata, field by field, against the layout of its type
 *    (struct rdata_form, the RFC layouts as ldns 1.8.3 knows them, so that
 *    the two scrubbers judge alike); types not in the table are opaque
 *    (RFC 3597 §5). The fields must fill RDLENGTH exactly.
 * Whole reply or one record: a reply whose framing is broken (a count
 *   promising records that are not there, a bad name, rdata running past
 *   the message) or whose rdata does not parse as its type (a field cut
 *   in the middle, a name crossing the end of the rdata, bytes left after
 *   the last field) is rejected whole with -EBADMSG, as ldns rejected it:
 *   a server that sends that is not to be believed about the rest. Only
 *   rdata that stops cleanly between fields before its type's required
 *   ones (the unfit rule above) costs just that record.
 * Limits: none on record counts. Every record of a reply that fits in
 *   65535 bytes is tracked, whatever its section's count (at most 5957
 *   records of 11 bytes): up to SCRUB_RR_INLINE in an array on the
 *   stack, more in one malloc'ed array for that reply only. Counts that
 *   promise more records than the bytes after the question can hold are
 *   malformed and rejected before anything is allocated. Nothing is cut,
 *   since cutting could split an RRset (RFC 2181 §5) and break the
 *   signature over it. A reply over 65535 bytes is no DNS message
 *   (RFC 1035 §4.2.2) and is rejected (-EBADMSG). Bytes after the last
 *   record are ignored, as ldns ignored them.
 *   The other limits only make the answer smaller, never refuse it:
 *   past SCRUB_CHAIN_MAX links the chain is cut (chain_cut); past
 *   ZONES_MAX signing zones, proofs from further zones are dropped.
 *   Compression remembers COMPRESS_MAX suffixes on the stack, then moves
 *   them to one malloc'ed table with room for every suffix a pointer can
 *   reach (below offset 0x4000), so a stored answer is never longer than
 *   ldns made it. It can still be longer than the reply (a compressed
 *   name in the rdata of a type that may not be compressed comes out
 *   whole; an owner that pointed into a dropped record is written out):
 *   a stored answer over 65535 bytes cannot be served, over TCP either,
 *   and a cut one would be cached and served as if whole, so the reply
 *   is refused with -EMSGSIZE. That is no fault of the server (the reply
 *   itself was well formed): upstream.c answers the client SERVFAIL and
 *   does not count it against the server.

 * Encoding. The stored answer is written into one malloc'ed buffer: the
 * header's flag word copied from the reply with AA and Z cleared, the
 * question copied uncompressed to offset 12, then the kept records with
 * their TTLs as they came (the cache clamps and counts them down).
 * Names in rdata come out uncompressed (a pointer copied as it was would
 * point into the wrong message, RFC 3597 §4), then compressed again
 * (RFC 1035 §4.1.4) where RFC 3597 §4 allows: owners, and names in the
 * rdata of RFC 1035's own types (NS, CNAME, SOA, PTR, MX, ...), against
 * every earlier owner and such name and each of their suffixes, so that
 * a stored answer is about as long as ldns made it. Never the names in
 * DNAME, RRSIG, NSEC, SRV or any later type (RFC 3597 §4, RFC 4034 §6.2).
 * Compression ignores letter case, as ldns's did, so a name may come out
 * spelled like an earlier one: the same name (RFC 4343), and DNSSEC signs
 * the lowercase form (RFC 4034 §6.2), so nothing a client checks changes.
 * The result is checked with wire_reply_matches() before it is handed out.
 */
#include "stubd/ascii.h"
#include "stubd/scrub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_FLAG_Z 0x0040  /* RFC 1035 §4.1.1: reserved, must be zero */
#define ZONES_MAX 32        /* zones whose DNSSEC proofs are kept */
#define COMPRESS_MAX 256    /* name suffixes remembered for compression */
#define COMPRESS_SLOTS 512  /* their hash table: a power of two, half full at most */
#define COMPRESS_SCAN 16    /* below this many, a scan is quicker than the table */
#define COMPRESS_BIG 8192   /* as many as fit before POINTER_MAX: labels of 2 bytes or more */
#define COMPRESS_BIG_SLOTS 16384
#define RR_MIN 11           /* the shortest record: root owner, no rdata */
#define SEEN_MAX 16         /* whole names remembered by where they are in the reply */
#define POINTER_MAX 0x3fff  /* the furthest a compression pointer reaches */

/* ---- rdata layouts ------------------------------------------------------ */

/* The fields of a type's rdata, one letter each:
 *   n  a domain name, possibly compressed
 *   1 2 4 6 8  that many bytes; x sixteen bytes
 *   s  a <character-string>: a length byte and that many bytes
 *   d  a 16-bit length and that many bytes (TSIG, TKEY)
 *   h  HIP's head: HIT length byte, algorithm, 16-bit key length, HIT, key
 *   r  the rest of the rdata, at least one byte
 * Fields are read while rdata is left; more is a kind read again and
 * again after the listed ones. A record with fewer than min fields is
 * unfit; one with bytes left after the last field is malformed. The
 * table follows ldns 1.8.3's descriptors, field for field, so that this
 * scrubber and the ldns oracle in the tests judge every record alike. */
struct rdata_form {
	const char *fields;
	uint8_t listed;  /* strlen(fields) */
	char more;
	uint8_t min;
	bool compress;   /* an RFC 1035 type: its names may be compressed (RFC 3597 §4) */
};

#define FORM(f) { f, sizeof(f) - 1, 0, sizeof(f) - 1, false }
#define FORM_MIN(f, n) { f, sizeof(f) - 1, 0, n, false }
#define FORM_MORE(f, kind, n) { f, sizeof(f) - 1, kind, n, false }
#define FORM_RFC1035(f) { f, sizeof(f) - 1, 0, sizeof(f) - 1, true }

static const struct rdata_form forms[110] = {
	[1] = FORM("4"),                  /* A */
	[2] = FORM_RFC1035("n"),          /* NS */
	[3] = FORM_RFC1035("n"),          /* MD */
	[4] = FORM_RFC1035("n"),          /* MF */
	[5] = FORM_RFC1035("n"),          /* CNAME */
	[6] = FORM_RFC1035("nn44444"),    /* SOA */
	[7] = FORM_RFC1035("n"),          /* MB */
	[8] = FORM_RFC1035("n"),          /* MG */
	[9] = FORM_RFC1035("n"),          /* MR */
	[10] = FORM("r"),                 /* NULL */
	[11] = FORM("4r"),                /* WKS */
	[12] = FORM_RFC1035("n"),         /* PTR */
	[13] = FORM("ss"),                /* HINFO */
	[14] = FORM_RFC1035("nn"),        /* MINFO */
	[15] = FORM_RFC1035("2n"),        /* MX */
	[16] = FORM_MORE("", 's', 1),     /* TXT */
	[17] = FORM("nn"),                /* RP */
	[18] = FORM("2n"),                /* AFSDB */
	[19] = FORM("s"),                 /* X25 */
	[20] = FORM_MIN("ss", 1),         /* ISDN */
	[21] = FORM("2n"),                /* RT */
	[22] = FORM("r"),                 /* NSAP */
	[23] = FORM("s"),                 /* NSAP-PTR */
	[24] = FORM("2114442nr"),         /* SIG */
	[25] = FORM("211r"),              /* KEY */
	[26] = FORM("2nn"),               /* PX */
	[27] = FORM("sss"),               /* GPOS */
	[28] = FORM("x"),                 /* AAAA */
	[29] = FORM("r"),                 /* LOC */
	[30] = FORM("nr"),                /* NXT */
	[31] = FORM("r"),                 /* EID */
	[32] = FORM("r"),                 /* NIMLOC */
	[33] = FORM("222n"),              /* SRV */
	[34] = FORM("r"),                 /* ATMA */
	[35] = FORM("22sssn"),            /* NAPTR */
	[36] = FORM("2n"),                /* KX */
	[37] = FORM("221r"),              /* CERT */
	[38] = FORM("r"),                 /* A6 */
	[39] = FORM("n"),                 /* DNAME */
	[40] = FORM("1"),                 /* SINK */
	[41] = FORM("r"),                 /* OPT */
	[43] = FORM("211r"),              /* DS */
	[44] = FORM("11r"),               /* SSHFP */
	[45] = FORM("r"),                 /* IPSECKEY */
	[46] = FORM("2114442nr"),         /* RRSIG */
	[47] = FORM_MIN("nr", 1),         /* NSEC */
	[48] = FORM("211r"),              /* DNSKEY */
	[49] = FORM("r"),                 /* DHCID */
	[50] = FORM_MIN("112ssr", 5),     /* NSEC3 */
	[51] = FORM("112s"),              /* NSEC3PARAM */
	[52] = FORM("111r"),              /* TLSA */
	[53] = FORM("111r"),              /* SMIMEA */
	[55] = FORM_MORE("h", 'n', 1),    /* HIP: then rendezvous servers */
	[58] = FORM("nn"),                /* TALINK */
	[59] = FORM("211r"),              /* CDS */
	[60] = FORM("211r"),              /* CDNSKEY */
	[61] = FORM("r"),                 /* OPENPGPKEY */
	[62] = FORM("42r"),               /* CSYNC */
	[63] = FORM("411r"),              /* ZONEMD */
	[64] = FORM_MIN("2nr", 2),        /* SVCB */
	[65] = FORM_MIN("2nr", 2),        /* HTTPS */
	[99] = FORM_MORE("", 's', 1),     /* SPF */
	[104] = FORM("28"),               /* NID */
	[105] = FORM("24"),               /* L32 */
	[106] = FORM("28"),               /* L64 */
	[107] = FORM("2n"),               /* LP */
	[108] = FORM("6"),                /* EUI48 */
	[109] = FORM("8"),                /* EUI64 */
};

static const struct rdata_form form_tkey = FORM("n4422dd");
static const struct rdata_form form_tsig = FORM("n62d22d");
static const struct rdata_form form_uri = FORM("22r");
static const struct rdata_form form_caa = FORM("1sr");
static const struct rdata_form form_dlv = FORM("211r");

/* The layout of type's rdata, or NULL: opaque (RFC 3597 §5). */
static const struct rdata_form *form_of(uint16_t type)
{
	if (type < sizeof(forms) / sizeof(forms[0]))
		return forms[type].fields ? &forms[type] : NULL;
	switch (type) {
	case WIRE_TYPE_TKEY: return &form_tkey;
	case WIRE_TYPE_TSIG: return &form_tsig;
	case 256: return &form_uri;
	case 257: return &form_caa;
	case 32769: return &form_dlv;
	default: return NULL;
	}
}

/* Walks the fields of one rdata. */
struct field_walk {
	const uint8_t *pkt;
	size_t len;
	size_t pos;                   /* the next field */
	size_t end;                   /* just past the rdata */
	const struct rdata_form *form;
	unsigned count;               /* fields read */
	size_t name_len;              /* the last name's, uncompressed */
};

static void walk_init(struct field_walk *w, const uint8_t *pkt, size_t len, size_t rdata,
		      size_t rdlen, const struct rdata_form *form)
{
	w->pkt = pkt;
	w->len = len;
	w->pos = rdata;
	w->end = rdata + rdlen;
	w->form = form;
	w->count = 0;
	w->name_len = 0;
}

/* The size of the field of this kind at w->pos, or 0 if it does not fit
 * in the rdata. */
static size_t field_size(const struct field_walk *w, char kind)
{
	const uint8_t *p = w->pkt + w->pos;
	size_t left = w->end - w->pos;
	size_t n;

	switch (kind) {
	case 'x': n = 16; break;
	case 's': n = 1 + (size_t)p[0]; break;
	case 'd': n = left < 2 ? SIZE_MAX : 2 + (size_t)wire_get16(p); break;
	case 'h': n = left < 4 ? SIZE_MAX : 4 + (size_t)p[0] + wire_get16(p + 2); break;
	case 'r': n = left; break;
	default: n = (size_t)(kind - '0'); break; /* '1' to '8' */
	}
	return n <= left ? n : 0;
}

/* Reads the next field: returns 1 and its start in *start (for a name,
 * checked, its uncompressed length in w->name_len), 0 when the rdata or
 * the form is used up, -1 when the field does not fit: malformed. */
static int next_field(struct field_walk *w, size_t *start, bool *is_name)
{
	if (w->pos >= w->end)
		return 0;
	char kind = w->count < w->form->listed ? w->form->fields[w->count] : w->form->more;
	if (kind == '\0')
		return 0;
	*start = w->pos;
	*is_name = kind == 'n';
	if (kind == 'n') {
		/* The name may point anywhere before it, but its own bytes
		 * must end inside the rdata. */
		if (wire_read_name(w->pkt, w->len, &w->pos, NULL, &w->name_len) < 0 ||
		    w->pos > w->end)
			return -1;
	} else {
		size_t n = field_size(w, kind);
		if (n == 0)
			return -1;
		w->pos += n;
	}
	w->count++;
	return 1;
}

/* ---- names in the reply ------------------------------------------------ */

/* Where the labels at off really are: past any pointers. Names were
 * checked when read, so every pointer goes back and the walk ends. */
static size_t deref(const uint8_t *pkt, size_t off)
{
	while ((pkt[off] & 0xc0) == 0xc0)
		off = wire_get16(pkt + off) & 0x3fff;
	return off;
}

/* A name in the reply, checked by wire_read_name(): where its first label
 * is (past any pointer, so that the many names that are one pointer to
 * the same place compare equal at once), and enough about it to tell most
 * names apart without walking them. */
struct name_ref {
	uint16_t off;
	uint8_t len;    /* uncompressed, root label included */
	uint8_t labels; /* root label not counted */
};

static void ref_set(const uint8_t *pkt, struct name_ref *ref, size_t start, size_t len)
{
	size_t off = deref(pkt, start);
	unsigned labels = 0;

	ref->off = (uint16_t)off;
	ref->len = (uint8_t)len;
	while (pkt[off] != 0) {
		labels++;
		off = deref(pkt, off + 1 + pkt[off]);
	}
	ref->labels = (uint8_t)labels;
}

/* Steps over n labels of the checked name at off. */
static size_t skip_labels(const uint8_t *pkt, size_t off, unsigned n)
{
	for (; n > 0; n--) {
		off = deref(pkt, off);
		off += 1 + (size_t)pkt[off];
	}
	return off;
}

static bool label_equal(const uint8_t *a, const uint8_t *b)
{
	if (a[0] != b[0])
		return false;
	for (size_t i = 1; i <= a[0]; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

/* Compares n labels of two checked names, ASCII case aside (RFC 4343);
 * moves *a and *b past them. */
static bool labels_equal(const uint8_t *pkt, size_t *a, size_t *b, unsigned n)
{
	for (; n > 0; n--) {
		size_t x = deref(pkt, *a), y = deref(pkt, *b);
		if (!label_equal(pkt + x, pkt + y))
			return false;
		*a = x + 1 + (size_t)pkt[x];
		*b = y + 1 + (size_t)pkt[y];
	}
	return true;
}

/* Are the checked names at a and b, of the same label count, equal? */
static bool names_equal_at(const uint8_t *pkt, size_t a, size_t b, unsigned labels)
{
	return labels_equal(pkt, &a, &b, labels);
}

/* ---- one reply ------------------------------------------------------------ */

/* A record of the answer or authority section. */
struct rr {
	struct name_ref owner;
	struct name_ref target;  /* the first name in the rdata: CNAME and
				    DNAME target, RRSIG signer; len 0 if none */
	uint16_t type;
	uint16_t rclass;
	uint16_t fixed;          /* offset of TYPE, CLASS, TTL, RDLENGTH */
	uint16_t rdata;
	uint16_t rdlen;
	uint32_t size;           /* the record written with names uncompressed */
	bool names;              /* the rdata holds names */
	bool unfit;
	bool keep;
};

/* The names the answer may speak about: the qname, then each CNAME
 * target. */
struct chain {
	struct name_ref name[SCRUB_CHAIN_MAX + 1];
	bool cname_kept[SCRUB_CHAIN_MAX + 1]; /* the CNAME at name[i] was kept */
	bool data_kept[SCRUB_CHAIN_MAX + 1];  /* records of qtype at name[i] were */
	struct name_ref dname_owner[SCRUB_CHAIN_MAX]; /* owners of kept DNAMEs */
	size_t len;
	size_t dnames;
	bool cut;
};

/* One reply being scrubbed: where its records are and what to keep. */
struct scrub {
	const uint8_t *pkt;
	size_t len;
	const struct wire_query *q;
	struct name_ref qname;
	uint16_t flags;
	struct rr *an;           /* an_count records, then ns: in rr_stack, */
	struct rr *ns;           /* or in rr_heap for a reply of more */
	struct rr *rr_heap;      /* NULL, or malloc'ed: freed by the caller */
	struct rr rr_stack[SCRUB_RR_INLINE];
	unsigned an_count;
	unsigned ns_count;
	unsigned additional;     /* additional records other than OPT and TSIG */
	struct chain chain;
	const struct name_ref *soa_owner;   /* the kept SOA's, or NULL */
	struct name_ref zone[ZONES_MAX];    /* where kept NSEC/NSEC3 may live */
	size_t zones;
};

/* Checks the name at *off and fills ref; moves *off past it. */
static int read_ref(const struct scrub *s, size_t *off, struct name_ref *ref)
{
	size_t start = *off;
	size_t len;

	if (wire_read_name(s->pkt, s->len, off, NULL, &len) < 0)
		return -1;
	ref_set(s->pkt, ref, start, len);
	return 0;
}

/* Records no answer may carry, whatever their name: pseudo-records and
 * question-only types. */
static bool unfit_type(uint16_t type)
{
	return type == WIRE_TYPE_OPT || type == WIRE_TYPE_TSIG || type == WIRE_TYPE_TKEY ||
	       (type >= WIRE_TYPE_IXFR && type <= WIRE_TYPE_ANY);
}

/* Checks the rdata of r against its type's layout, notes its first name,
 * the size it takes with names uncompressed, and whether it stops before
 * its type's required fields (unfit). Returns 0, or -1 for rdata that
 * does not parse as its type. */
static int check_rdata(const struct scrub *s, struct rr *r)
{
	const struct rdata_form *form = form_of(r->type);
	struct field_walk w;
	size_t start;
	bool is_name;
	int got;

	r->size = (uint32_t)r->owner.len + 10 + r->rdlen;
	if (!form)
		return 0; /* RFC 3597 §5: opaque */
	walk_init(&w, s->pkt, s->len, r->rdata, r->rdlen, form);
	while ((got = next_field(&w, &start, &is_name)) == 1) {
		if (!is_name)
			continue;
		r->names = true;
		if (r->target.len == 0)
			ref_set(s->pkt, &r->target, start, w.name_len);
		r->size -= (uint32_t)(w.pos - start); /* as it sits... */
		r->size += (uint32_t)w.name_len;      /* ...and uncompressed */
	}
	if (got < 0 || w.pos != w.end)
		return -1; /* a field cut short, or bytes after the last one */
	r->unfit = w.count < form->min;
	return 0;
}

/* Reads the record at *off into r and checks it; moves *off past it. */
static int read_rr(const struct scrub *s, size_t *off, struct rr *r)
{
	memset(r, 0, sizeof(*r));
	if (read_ref(s, off, &r->owner) < 0 || *off + 10 > s->len)
		return -1;
	const uint8_t *p = s->pkt + *off;
	r->fixed = (uint16_t)*off;
	r->type = wire_get16(p);
	r->rclass = wire_get16(p + 2);
	r->rdlen = wire_get16(p + 8);
	r->rdata = (uint16_t)(*off + 10);
	if ((size_t)r->rdata + r->rdlen > s->len)
		return -1;
	*off = (size_t)r->rdata + r->rdlen;
	if (check_rdata(s, r) < 0)
		return -1;
	r->unfit = r->unfit || unfit_type(r->type);
	return 0;
}

/* Reads and checks every record; the question was checked by
 * wire_reply_matches(). Returns 0, -1: not a message to believe, or
 * -ENOMEM. */
static int parse(struct scrub *s)
{
	size_t off = WIRE_HEADER_LEN;

	if (read_ref(s, &off, &s->qname) < 0)
		return -1;
	off += 4;
	s->an_count = wire_get16(s->pkt + 6);
	s->ns_count = wire_get16(s->pkt + 8);
	size_t records = (size_t)s->an_count + s->ns_count;
	if (records * RR_MIN > s->len - off)
		return -1; /* counts promising records the bytes cannot hold */
	if (records > SCRUB_RR_INLINE) {
		s->rr_heap = malloc(records * sizeof(*s->rr_heap));
		if (!s->rr_heap)
			return -ENOMEM;
		s->an = s->rr_heap;
	}
	s->ns = s->an + s->an_count;
	for (unsigned i = 0; i < s->an_count; i++)
		if (read_rr(s, &off, &s->an[i]) < 0)
			return -1;
	for (unsigned i = 0; i < s->ns_count; i++)
		if (read_rr(s, &off, &s->ns[i]) < 0)
			return -1;
	/* Checked like the others, then forgotten: nothing there is kept. */
	for (unsigned i = wire_get16(s->pkt + 10); i > 0; i--) {
		struct rr extra;
		if (read_rr(s, &off, &extra) < 0)
			return -1;
		s->additional += extra.type != WIRE_TYPE_OPT && extra.type != WIRE_TYPE_TSIG;
	}
	return 0;
}

/* ---- comparing names ------------------------------------------------------- */

static bool name_equal(const struct scrub *s, const struct name_ref *a,
		       const struct name_ref *b)
{
	return a->len == b->len && a->labels == b->labels &&
	       (a->off == b->off || names_equal_at(s->pkt, a->off, b->off, a->labels));
}

/* Is name below ancestor by at least min_depth labels? */
static bool name_below(const struct scrub *s, const struct name_ref *name,
		       const struct name_ref *ancestor, unsigned min_depth)
{
	if (name->labels < ancestor->labels + min_depth || name->len < ancestor->len)
		return false;
	size_t off = skip_labels(s->pkt, name->off, name->labels - ancestor->labels);
	return names_equal_at(s->pkt, off, ancestor->off, ancestor->labels);
}

/* Is name equal to or below ancestor? */
static bool name_at_or_below(const struct scrub *s, const struct name_ref *name,
			     const struct name_ref *ancestor)
{
	return name_below(s, name, ancestor, 0);
}

/* RFC 1035 §3.2.5: a question of class ANY takes records of any class. */
static bool class_ok(const struct scrub *s, const struct rr *r)
{
	return s->q->qclass == WIRE_CLASS_ANY || r->rclass == s->q->qclass;
}

/* The type an RRSIG covers (its rdata was checked: at least 18 bytes). */
static uint16_t rrsig_covered(const struct scrub *s, const struct rr *sig)
{
	return wire_get16(s->pkt + sig->rdata);
}

static void add_zone(struct scrub *s, const struct name_ref *zone)
{
	for (size_t i = 0; i < s->zones; i++)
		if (name_equal(s, &s->zone[i], zone))
			return;
	if (s->zones < ZONES_MAX)
		s->zone[s->zones++] = *zone;
}

static bool in_a_zone(const struct scrub *s, const struct name_ref *name)
{
	for (size_t i = 0; i < s->zones; i++)
		if (name_at_or_below(s, name, &s->zone[i]))
			return true;
	return false;
}

/* ---- answer section --------------------------------------------------- */

/* Keeps the records of qtype (every type for ANY) owned by name; says
 * whether there were any. */
static bool keep_data_at(struct scrub *s, const struct name_ref *name)
{
	bool found = false;

	for (unsigned i = 0; i < s->an_count; i++) {
		struct rr *r = &s->an[i];
		if (!r->unfit && (s->q->qtype == WIRE_TYPE_ANY || r->type == s->q->qtype) &&
		    class_ok(s, r) && name_equal(s, &r->owner, name)) {
			r->keep = true;
			found = true;
		}
	}
	return found;
}

/* The first usable CNAME owned by name, or NULL. */
static struct rr *find_cname(struct scrub *s, const struct name_ref *name)
{
	for (unsigned i = 0; i < s->an_count; i++) {
		struct rr *r = &s->an[i];
		if (!r->unfit && r->type == WIRE_TYPE_CNAME && class_ok(s, r) &&
		    name_equal(s, &r->owner, name))
			return r;
	}
	return NULL;
}

/* Did this DNAME synthesize "name CNAME target"? RFC 6672 §2.2: a DNAME
 * applies below its owner only, and the target is name with the owner's
 * suffix replaced by the DNAME's target. */
static bool dname_explains(const struct scrub *s, const struct rr *dname,
			   const struct name_ref *name, const struct name_ref *target)
{
	const struct name_ref *owner = &dname->owner;
	const struct name_ref *to = &dname->target;

	if (!name_below(s, name, owner, 1))
		return false;
	unsigned prefix = (unsigned)name->labels - owner->labels;
	if (target->labels != prefix + to->labels ||
	    target->len != name->len - owner->len + to->len)
		return false;
	size_t t = target->off, n = name->off;
	return labels_equal(s->pkt, &t, &n, prefix) &&
	       names_equal_at(s->pkt, t, to->off, to->labels);
}

/* Keeps the first DNAME that explains the CNAME name -> target. */
static void keep_dname_for(struct scrub *s, const struct name_ref *name,
			   const struct name_ref *target)
{
	struct chain *c = &s->chain;

	for (unsigned i = 0; i < s->an_count; i++) {
		struct rr *r = &s->an[i];
		if (!r->unfit && r->type == WIRE_TYPE_DNAME && class_ok(s, r) &&
		    dname_explains(s, r, name, target)) {
			r->keep = true;
			if (c->dnames < SCRUB_CHAIN_MAX) /* one per link at most */
				c->dname_owner[c->dnames++] = r->owner;
			return;
		}
	}
}

static bool in_chain(const struct scrub *s, const struct name_ref *name)
{
	const struct chain *c = &s->chain;
	for (size_t i = 0; i < c->len; i++)
		if (name_equal(s, &c->name[i], name))
			return true;
	return false;
}

/* Walks from the qname through CNAMEs, keeping the data and links found.
 * Order-independent: servers do not all list a chain in order. */
static void walk_chain(struct scrub *s)
{
	struct chain *c = &s->chain;
	/* A CNAME is the answer to a CNAME question, and ANY asks about the
	 * qname only: neither follows the chain. */
	bool follow = s->q->qtype != WIRE_TYPE_CNAME && s->q->qtype != WIRE_TYPE_ANY;

	c->name[0] = s->qname;
	c->len = 1;
	for (;;) {
		size_t k = c->len - 1;
		c->data_kept[k] = keep_data_at(s, &c->name[k]);
		if (!follow)
			break;
		struct rr *cname = find_cname(s, &c->name[k]);
		if (!cname)
			break;
		if (c->len > SCRUB_CHAIN_MAX) {
			c->cut = true; /* SCRUB_CHAIN_MAX links kept already */
			break;
		}
		cname->keep = true;
		c->cname_kept[k] = true;
		keep_dname_for(s, &c->name[k], &cname->target);
		if (in_chain(s, &cname->target)) {
			c->cut = true; /* a loop: the link closing it shows it */
			break;
		}
		c->name[c->len++] = cname->target;
	}
}

/* Does this RRSIG in the answer cover a kept RRset? */
static bool signs_kept_answer(const struct scrub *s, const struct rr *sig)
{
	const struct chain *c = &s->chain;
	uint16_t covered = rrsig_covered(s, sig);

	for (size_t k = 0; k < c->len; k++) {
		if (!name_equal(s, &sig->owner, &c->name[k]))
			continue;
		if (covered == WIRE_TYPE_CNAME && c->cname_kept[k])
			return true;
		if (c->data_kept[k] && covered == s->q->qtype)
			return true;
	}
	for (size_t d = 0; d < c->dnames; d++)
		if (covered == WIRE_TYPE_DNAME && name_equal(s, &sig->owner, &c->dname_owner[d]))
			return true;
	return false;
}

static void scrub_answer(struct scrub *s)
{
	walk_chain(s);
	if (!s->q->edns_do)
		return;
	for (unsigned i = 0; i < s->an_count; i++) {
		struct rr *r = &s->an[i];
		if (!r->keep && !r->unfit && r->type == WIRE_TYPE_RRSIG && class_ok(s, r) &&
		    signs_kept_answer(s, r))
			r->keep = true;
	}
}

/* ---- authority section ------------------------------------------------ */

/* The first SOA at or above the name the negative answer is about. */
static void keep_negative_soa(struct scrub *s, const struct name_ref *about)
{
	for (unsigned i = 0; i < s->ns_count; i++) {
		struct rr *r = &s->ns[i];
		if (!r->unfit && r->type == WIRE_TYPE_SOA && class_ok(s, r) &&
		    name_at_or_below(s, about, &r->owner)) {
			r->keep = true;
			s->soa_owner = &r->owner;
			return;
		}
	}
}

/* Is there a kept NSEC or NSEC3 of this type and owner? */
static bool kept_proof(const struct scrub *s, uint16_t type, const struct name_ref *owner)
{
	for (unsigned i = 0; i < s->ns_count; i++) {
		const struct rr *r = &s->ns[i];
		if (r->keep && r->type == type && name_equal(s, &r->owner, owner))
			return true;
	}
	return false;
}

/* RFC 4035 §3.1.3: the NSEC/NSEC3 proofs and their RRSIGs, for clients
 * that validate, taken only from the zones the answer is about. */
static void keep_proofs(struct scrub *s)
{
	for (unsigned i = 0; i < s->ns_count; i++) {
		struct rr *r = &s->ns[i];
		if (!r->unfit && (r->type == WIRE_TYPE_NSEC || r->type == WIRE_TYPE_NSEC3) &&
		    class_ok(s, r) && in_a_zone(s, &r->owner))
			r->keep = true;
	}
	for (unsigned i = 0; i < s->ns_count; i++) {
		struct rr *r = &s->ns[i];
		if (r->unfit || r->type != WIRE_TYPE_RRSIG || !class_ok(s, r))
			continue;
		uint16_t covered = rrsig_covered(s, r);
		if (covered == WIRE_TYPE_SOA)
			r->keep = s->soa_owner && name_equal(s, &r->owner, s->soa_owner);
		else if (covered == WIRE_TYPE_NSEC || covered == WIRE_TYPE_NSEC3)
			r->keep = in_a_zone(s, &r->owner) && kept_proof(s, covered, &r->owner);
	}
}

/* The zones that signed the kept answer: where a wildcard's proof lives. */
static void add_answer_signers(struct scrub *s)
{
	for (unsigned i = 0; i < s->an_count; i++) {
		const struct rr *r = &s->an[i];
		if (r->keep && r->type == WIRE_TYPE_RRSIG)
			add_zone(s, &r->target); /* the signer's name */
	}
}

static void scrub_authority(struct scrub *s)
{
	const struct chain *c = &s->chain;
	size_t last = c->len - 1;
	unsigned rcode = WIRE_RCODE(s->flags);
	bool nodata = rcode == WIRE_RCODE_NOERROR && !c->data_kept[last];
	bool positive = rcode == WIRE_RCODE_NOERROR && c->data_kept[last];

	/* RFC 2308 §2.1, §2.2: the rcode and the SOA are about the last name
	 * of the chain, not the qname. */
	if (rcode == WIRE_RCODE_NXDOMAIN || nodata) {
		keep_negative_soa(s, &c->name[last]);
		if (s->soa_owner)
			add_zone(s, s->soa_owner);
	} else if (positive) {
		add_answer_signers(s);
	}
	if (s->q->edns_do)
		keep_proofs(s);
}

/* ---- output ----------------------------------------------------------- */

struct suffix {
	uint16_t off;   /* where a name (suffix) is written */
	uint32_t hash;  /* its suffix_hashes() value */
};

/* The stored answer being written, and the names it can point at. */
struct writer {
	uint8_t *buf;
	size_t cap;
	size_t len;
	bool full;              /* something did not fit: the result is void */
	/* Whole names written, by where they are in the reply: a name that is
	 * a pointer into the reply (most owners) needs no reading at all. */
	struct {
		uint16_t src;   /* the name's first label in the reply */
		uint16_t out;   /* the name in the stored answer */
	} seen[SEEN_MAX];
	size_t n_seen;
	/* Every suffix written, for RFC 1035 §4.1.4 compression: scanned
	 * while few, then through an open-addressed table. */
	struct suffix *names;          /* names_stack, or big->names */
	size_t n_names;
	size_t names_max;
	bool table;                    /* slot[] is in use */
	uint16_t *slot;                /* 1 + an index into names, or 0 */
	size_t slot_mask;
	struct compress_big *big;      /* NULL, or malloc'ed once the stack's fill */
	struct suffix names_stack[COMPRESS_MAX];
	uint16_t slot_stack[COMPRESS_SLOTS];
};

/* The table for a stored answer of more than COMPRESS_MAX suffixes: room
 * for every suffix a pointer can reach, so that compression never stops
 * (and a stored answer is never longer than ldns made it). */
struct compress_big {
	struct suffix names[COMPRESS_BIG];
	uint16_t slot[COMPRESS_BIG_SLOTS];
};

static void put(struct writer *w, const void *data, size_t n)
{
	if (w->full || n > w->cap - w->len) {
		w->full = true;
		return;
	}
	memcpy(w->buf + w->len, data, n);
	w->len += n;
}

static void put16(struct writer *w, uint16_t v)
{
	uint8_t b[2];
	wire_put16(b, v);
	put(w, b, sizeof(b));
}

/* Hashes of every suffix of an uncompressed name, built from the root
 * up: hash[i] is of the suffix at label i. Returns the label count. */
static unsigned suffix_hashes(const uint8_t *name, uint8_t *start, uint32_t *hash)
{
	unsigned n = 0;
	for (size_t i = 0; name[i] != 0; i += 1 + (size_t)name[i])
		start[n++] = (uint8_t)i;
	uint32_t h = ASCII_FNV_BASIS;
	for (unsigned k = n; k-- > 0;) {
		const uint8_t *label = name + start[k];
		for (size_t i = 0; i <= label[0]; i++)
			h = ascii_fnv_step(h, ascii_lower(label[i]));
		hash[k] = h;
	}
	return n;
}

/* Is the name written at off (compressed or not) the uncompressed name
 * flat, ASCII case aside? */
static bool written_equal(const struct writer *w, size_t off, const uint8_t *flat)
{
	for (;;) {
		off = deref(w->buf, off); /* our own pointers: always backward */
		if (!label_equal(w->buf + off, flat))
			return false;
		if (flat[0] == 0)
			return true;
		off += 1 + (size_t)flat[0];
		flat += 1 + (size_t)flat[0];
	}
}

static void slot_add(struct writer *w, size_t index)
{
	size_t i = w->names[index].hash & w->slot_mask;
	while (w->slot[i] != 0)
		i = (i + 1) & w->slot_mask;
	w->slot[i] = (uint16_t)(index + 1);
}

/* Where an earlier name equal to this suffix is written, or 0. */
static size_t find_written(const struct writer *w, const uint8_t *suffix, uint32_t hash)
{
	if (!w->table) {
		for (size_t k = 0; k < w->n_names; k++)
			if (w->names[k].hash == hash && written_equal(w, w->names[k].off, suffix))
				return w->names[k].off;
		return 0;
	}
	for (size_t i = hash & w->slot_mask; w->slot[i] != 0; i = (i + 1) & w->slot_mask) {
		size_t k = (size_t)w->slot[i] - 1;
		if (w->names[k].hash == hash && written_equal(w, w->names[k].off, suffix))
			return w->names[k].off;
	}
	return 0;
}

/* Moves the suffixes to the big table, once the stack's is full; false
 * if there is no memory for it (compression then stops there). */
static bool grow(struct writer *w)
{
	if (w->big)
		return false; /* cannot happen: COMPRESS_BIG reaches POINTER_MAX */
	w->big = malloc(sizeof(*w->big));
	if (!w->big)
		return false;
	memcpy(w->big->names, w->names, w->n_names * sizeof(w->names[0]));
	memset(w->big->slot, 0, sizeof(w->big->slot));
	w->names = w->big->names;
	w->names_max = COMPRESS_BIG;
	w->slot = w->big->slot;
	w->slot_mask = COMPRESS_BIG_SLOTS - 1;
	for (size_t k = 0; k < w->n_names; k++)
		slot_add(w, k);
	return true;
}

/* Remembers a suffix written at off, while a pointer can reach it; past
 * a few, lookups go through the table, so that a reply of many long
 * names costs no more per name than a small one. */
static void remember(struct writer *w, size_t off, uint32_t hash)
{
	if (off > POINTER_MAX || (w->n_names == w->names_max && !grow(w)))
		return;
	w->names[w->n_names].off = (uint16_t)off;
	w->names[w->n_names].hash = hash;
	w->n_names++;
	if (w->table) {
		slot_add(w, w->n_names - 1);
	} else if (w->n_names > COMPRESS_SCAN) {
		memset(w->slot, 0, (w->slot_mask + 1) * sizeof(w->slot[0]));
		w->table = true;
		for (size_t k = 0; k < w->n_names; k++)
			slot_add(w, k);
	}
}

/* Writes an uncompressed name as labels and a pointer to the longest
 * suffix written before (RFC 1035 §4.1.4), and remembers where its own
 * suffixes went. Returns where the name is, for later pointers. */
static size_t put_compressed(struct writer *w, const uint8_t *flat, size_t len)
{
	uint8_t start[WIRE_NAME_MAX / 2];
	uint32_t hash[WIRE_NAME_MAX / 2];
	size_t at = w->len;
	unsigned labels = suffix_hashes(flat, start, hash);
	unsigned k = 0;
	size_t target = 0;

	for (; k < labels; k++)
		if ((target = find_written(w, flat + start[k], hash[k])) != 0)
			break;
	if (k == 0 && labels > 0) { /* the whole name: a pointer */
		put16(w, (uint16_t)(0xc000 | target));
		return target;
	}
	put(w, flat, k < labels ? start[k] : len);
	if (k < labels)
		put16(w, (uint16_t)(0xc000 | target));
	if (!w->full)
		for (unsigned i = 0; i < k; i++)
			remember(w, at + start[i], hash[i]);
	return at;
}

/* Writes the name whose first byte is at src in the reply: whole, or
 * with compress compressed against what is written already. */
static void put_name(struct writer *w, const struct scrub *s, size_t src, bool compress)
{
	uint8_t flat[WIRE_NAME_MAX];
	size_t len;
	size_t off = src;

	src = deref(s->pkt, src);
	if (compress)
		for (size_t i = 0; i < w->n_seen; i++)
			if (w->seen[i].src == src) {
				put16(w, (uint16_t)(0xc000 | w->seen[i].out));
				return;
			}
	if (wire_read_name(s->pkt, s->len, &off, flat, &len) < 0) {
		w->full = true; /* cannot happen: read once already */
		return;
	}
	if (!compress) {
		put(w, flat, len);
		return;
	}
	size_t at = put_compressed(w, flat, len);
	if (!w->full && len > 1 && at <= POINTER_MAX && w->n_seen < SEEN_MAX) {
		w->seen[w->n_seen].src = (uint16_t)src;
		w->seen[w->n_seen].out = (uint16_t)at;
		w->n_seen++;
	}
}

/* Writes the rdata of r: names uncompressed, or compressed again where
 * the type allows it; every other byte as it came. */
static void put_rdata(struct writer *w, const struct scrub *s, const struct rr *r)
{
	const struct rdata_form *form = form_of(r->type);

	if (!r->names) {
		put(w, s->pkt + r->rdata, r->rdlen);
		return;
	}
	struct field_walk fw;
	size_t start;
	bool is_name;
	walk_init(&fw, s->pkt, s->len, r->rdata, r->rdlen, form);
	while (next_field(&fw, &start, &is_name) == 1) {
		if (is_name)
			put_name(w, s, start, form->compress);
		else
			put(w, s->pkt + start, fw.pos - start);
	}
}

static void put_rr(struct writer *w, const struct scrub *s, const struct rr *r)
{
	put_name(w, s, r->owner.off, true);
	put(w, s->pkt + r->fixed, 8); /* TYPE, CLASS, TTL as they came */
	size_t rdlen_at = w->len;
	put16(w, 0);
	put_rdata(w, s, r);
	if (!w->full)
		wire_put16(w->buf + rdlen_at, (uint16_t)(w->len - rdlen_at - 2));
}

static unsigned put_kept(struct writer *w, const struct scrub *s, const struct rr *rrs,
			 unsigned n)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++)
		if (rrs[i].keep) {
			put_rr(w, s, &rrs[i]);
			kept++;
		}
	return kept;
}

/* The most the stored answer can take: every kept record with its names
 * uncompressed, capped at the largest DNS message. */
static size_t answer_bound(const struct scrub *s)
{
	size_t n = WIRE_HEADER_LEN + (size_t)s->qname.len + 4;
	for (unsigned i = 0; i < s->an_count; i++)
		n += s->an[i].keep ? s->an[i].size : 0;
	for (unsigned i = 0; i < s->ns_count; i++)
		n += s->ns[i].keep ? s->ns[i].size : 0;
	return n < WIRE_MSG_MAX ? n : WIRE_MSG_MAX;
}

/* Writes the stored answer into a malloc'ed buffer: the reply's ID and
 * flag word (AA and Z cleared), its question, the kept records. */
static int encode(const struct scrub *s, struct writer *w, uint8_t **answer, size_t *answer_len)
{
	w->cap = answer_bound(s);
	w->buf = malloc(w->cap);
	if (!w->buf)
		return -ENOMEM;
	uint8_t header[WIRE_HEADER_LEN] = { 0 };
	memcpy(header, s->pkt, 2);
	wire_put16(header + 2, (uint16_t)(s->flags & ~(WIRE_FLAG_AA | WIRE_FLAG_Z)));
	wire_put16(header + 4, 1);
	put(w, header, sizeof(header));
	put_name(w, s, WIRE_HEADER_LEN, true); /* the first name: never a pointer */
	put(w, s->pkt + WIRE_HEADER_LEN + s->qname.len, 4);
	unsigned an = put_kept(w, s, s->an, s->an_count);
	unsigned ns = put_kept(w, s, s->ns, s->ns_count);
	/* The stored-answer form, checked rather than assumed: the question
	 * uncompressed at offset 12 and equal to q's, nothing in the
	 * additional section, so no OPT. */
	if (w->full) {
		free(w->buf);
		return -EMSGSIZE; /* over 65535 bytes: no DNS message */
	}
	if (!wire_reply_matches(w->buf, w->len, wire_get16(s->pkt), s->q)) {
		free(w->buf);
		return -EBADMSG; /* a bug */
	}
	wire_put16(w->buf + 6, (uint16_t)an);
	wire_put16(w->buf + 8, (uint16_t)ns);
	*answer = w->buf;
	*answer_len = w->len;
	return 0;
}

static unsigned kept_count(const struct rr *rrs, unsigned n)
{
	unsigned kept = 0;
	for (unsigned i = 0; i < n; i++)
		kept += rrs[i].keep;
	return kept;
}

int scrub_reply_counted(const uint8_t *reply, size_t len, const struct wire_query *q,
			uint8_t **answer, size_t *answer_len, struct scrub_counts *counts)
{
	struct scrub s;
	struct writer w;

	*answer = NULL;
	*answer_len = 0;
	if (!q->has_question || len < WIRE_HEADER_LEN || len > WIRE_MSG_MAX ||
	    !wire_reply_matches(reply, len, wire_get16(reply), q))
		return -EBADMSG;
	/* Only what is read is set: the record arrays fill as they go. */
	s.pkt = reply;
	s.len = len;
	s.q = q;
	s.flags = wire_get16(reply + 2);
	s.an = s.rr_stack;
	s.ns = s.rr_stack;
	s.rr_heap = NULL;
	s.an_count = 0;
	s.ns_count = 0;
	s.additional = 0;
	s.soa_owner = NULL;
	s.zones = 0;
	memset(s.chain.cname_kept, 0, sizeof(s.chain.cname_kept));
	s.chain.dnames = 0;
	s.chain.cut = false;
	int err = parse(&s);
	if (err < 0) {
		free(s.rr_heap);
		return err == -ENOMEM ? err : -EBADMSG;
	}

	scrub_answer(&s);
	scrub_authority(&s);

	w.len = 0;
	w.full = false;
	w.n_seen = 0;
	w.names = w.names_stack;
	w.n_names = 0;
	w.names_max = COMPRESS_MAX;
	w.table = false;
	w.slot = w.slot_stack;
	w.slot_mask = COMPRESS_SLOTS - 1;
	w.big = NULL;
	err = encode(&s, &w, answer, answer_len);
	free(w.big);
	if (err == 0 && counts) {
		counts->answer_dropped = s.an_count - kept_count(s.an, s.an_count);
		counts->authority_dropped = s.ns_count - kept_count(s.ns, s.ns_count);
		counts->additional_dropped = s.additional;
		counts->chain_cut = s.chain.cut;
	}
	free(s.rr_heap);
	return err;
}

int scrub_reply(const uint8_t *reply, size_t len, const struct wire_query *q,
		uint8_t **answer, size_t *answer_len)
{
	return scrub_reply_counted(reply, len, q, answer, answer_len, NULL);
}
