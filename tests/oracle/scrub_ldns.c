/* scrub_ldns.c - the test oracle: stubd's scrubber as it was with ldns.
 *
 * src/scrub.c works on wire bytes; this is the ldns implementation it
 * replaced, kept with its rules untouched under other names
 * (scrub_ldns_reply, scrub_ldns_reply_counted), so that tests and the
 * differential fuzzer (tests/fuzz/fuzz_scrub_diff.c) can check that both
 * keep the same records. It parses with ldns_wire2pkt, clones what it
 * keeps and encodes with ldns_pkt2wire; slow, but written against a
 * parser that knows every rdata format. Not linked into stubd.
 *
 * The rules, as they stood in src/scrub.c:
 *
 * A reply that gets here came from the server we asked, with our ID and
 * our question (RFC 5452 §9). That makes blind spoofing hard; it says
 * nothing about the records. An upstream, or whoever guessed the ID, can
 * add records about names nobody asked for, hoping a cache keeps them
 * (RFC 5452 §6; the Kaminsky attack rides on NS records and their glue).
 * So the stored answer is rebuilt from the parsed reply, keeping only:
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
 *
 * A stub forwarder knows no zone cuts, so "in bailiwick" here means on the
 * path from the qname: a record for a name off the chain is out. Every
 * kept record also has the question's class. What is kept is the answer
 * section's data of a non-authoritative reply plus the SOA and proofs
 * that go with it, the data a cache may use (RFC 2181 §5.4.1).
 *
 * Encoding goes through ldns_pkt2wire from a fresh ldns_pkt that never had
 * EDNS, so no OPT can come out; the question is the first name written,
 * so it is uncompressed at offset 12. The header's flag word is copied
 * from the reply afterwards (AA and Z cleared), so ldns's view of the
 * header cannot change ID, flags or rcode. The result is checked with
 * wire_reply_matches() before it is handed out. ldns compresses names
 * without regard to case, so a name may come out spelled like an earlier
 * one: the same name (RFC 4343), and DNSSEC signs the lowercase form
 * (RFC 4034 §6.2), so nothing a client checks changes.
 */
#include "scrub_ldns.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

#define WIRE_FLAG_Z 0x0040  /* RFC 1035 §4.1.1: reserved, must be zero */
#define ZONES_MAX 32        /* zones whose DNSSEC proofs are kept */

/* The names the answer may speak about: the qname, then each CNAME
 * target. The names are borrowed from the parsed reply. */
struct chain {
	const ldns_rdf *name[SCRUB_CHAIN_MAX + 1];
	bool cname_kept[SCRUB_CHAIN_MAX + 1]; /* the CNAME at name[i] was kept */
	bool data_kept[SCRUB_CHAIN_MAX + 1];  /* records of qtype at name[i] were */
	const ldns_rdf *dname_owner[SCRUB_CHAIN_MAX]; /* owners of kept DNAMEs */
	size_t len;
	size_t dnames;
	bool cut;
};

/* One reply being scrubbed: the parsed input and what to keep of it. */
struct scrub {
	const ldns_pkt *in;
	const struct wire_query *q;
	bool *keep_an;      /* per answer record */
	bool *keep_ns;      /* per authority record */
	struct chain chain;
	const ldns_rdf *soa_owner;          /* the kept SOA's, or NULL */
	const ldns_rdf *zone[ZONES_MAX];    /* where kept NSEC/NSEC3 may live */
	size_t zones;
};

static bool name_equal(const ldns_rdf *a, const ldns_rdf *b)
{
	return ldns_dname_compare(a, b) == 0; /* ignores ASCII case (RFC 4343) */
}

/* Is name equal to or below ancestor? */
static bool name_at_or_below(const ldns_rdf *name, const ldns_rdf *ancestor)
{
	return name_equal(name, ancestor) || ldns_dname_is_subdomain(name, ancestor);
}

/* RFC 1035 §3.2.5: a question of class ANY takes records of any class. */
static bool class_ok(const struct scrub *s, const ldns_rr *rr)
{
	return s->q->qclass == LDNS_RR_CLASS_ANY || ldns_rr_get_class(rr) == s->q->qclass;
}

/* The domain name in rdata field i, or NULL if there is none. */
static const ldns_rdf *rdata_name(const ldns_rr *rr, size_t i)
{
	if (ldns_rr_rd_count(rr) <= i)
		return NULL;
	const ldns_rdf *f = ldns_rr_rdf(rr, i);
	return f && ldns_rdf_get_type(f) == LDNS_RDF_TYPE_DNAME ? f : NULL;
}

/* The type an RRSIG covers, or 0 for a malformed one. */
static ldns_rr_type rrsig_covered(const ldns_rr *sig)
{
	const ldns_rdf *f = ldns_rr_rrsig_typecovered(sig);
	return f ? ldns_rdf2rr_type(f) : 0;
}

static void add_zone(struct scrub *s, const ldns_rdf *zone)
{
	for (size_t i = 0; i < s->zones; i++)
		if (name_equal(s->zone[i], zone))
			return;
	if (s->zones < ZONES_MAX)
		s->zone[s->zones++] = zone;
}

static bool in_a_zone(const struct scrub *s, const ldns_rdf *name)
{
	for (size_t i = 0; i < s->zones; i++)
		if (name_at_or_below(name, s->zone[i]))
			return true;
	return false;
}

/* ---- answer section --------------------------------------------------- */

/* Keeps the records of qtype (every type for ANY) owned by name; says
 * whether there were any. */
static bool keep_data_at(struct scrub *s, const ldns_rdf *name)
{
	const ldns_rr_list *an = ldns_pkt_answer(s->in);
	bool found = false;

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if ((s->q->qtype == WIRE_TYPE_ANY || ldns_rr_get_type(rr) == s->q->qtype) &&
		    class_ok(s, rr) && name_equal(ldns_rr_owner(rr), name)) {
			s->keep_an[i] = true;
			found = true;
		}
	}
	return found;
}

/* The first usable CNAME owned by name: its index, or -1. */
static long find_cname(const struct scrub *s, const ldns_rdf *name)
{
	const ldns_rr_list *an = ldns_pkt_answer(s->in);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_CNAME && class_ok(s, rr) &&
		    rdata_name(rr, 0) && name_equal(ldns_rr_owner(rr), name))
			return (long)i;
	}
	return -1;
}

/* Did this DNAME synthesize "name CNAME target"? RFC 6672 §2.2: a DNAME
 * applies below its owner only, and the target is name with the owner's
 * suffix replaced by the DNAME's target. */
static bool dname_explains(const ldns_rr *dname, const ldns_rdf *name, const ldns_rdf *target)
{
	const ldns_rdf *owner = ldns_rr_owner(dname);
	const ldns_rdf *to = rdata_name(dname, 0);

	/* Oracle fix: ldns_dname_is_subdomain() calls a name below itself
	 * when the two differ only in letter case, which made a DNAME at
	 * "WWW.example" apply to "www.example". A DNAME never applies to its
	 * own owner (RFC 6672 §2.2; the rule above), whatever the case, and
	 * src/scrub.c gets that right; found by fuzz_scrub_diff. */
	if (!to || name_equal(name, owner) || !ldns_dname_is_subdomain(name, owner))
		return false;
	/* Uncompressed wire forms: name = prefix labels + owner. */
	size_t prefix = ldns_rdf_size(name) - ldns_rdf_size(owner);
	if (ldns_rdf_size(target) != prefix + ldns_rdf_size(to))
		return false;
	const uint8_t *t = ldns_rdf_data(target);
	return wire_name_equal(t, prefix, ldns_rdf_data(name), prefix) &&
	       wire_name_equal(t + prefix, ldns_rdf_size(to), ldns_rdf_data(to), ldns_rdf_size(to));
}

/* Keeps the first DNAME that explains the CNAME name -> target. */
static void keep_dname_for(struct scrub *s, const ldns_rdf *name, const ldns_rdf *target)
{
	const ldns_rr_list *an = ldns_pkt_answer(s->in);
	struct chain *c = &s->chain;

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME && class_ok(s, rr) &&
		    dname_explains(rr, name, target)) {
			s->keep_an[i] = true;
			if (c->dnames < SCRUB_CHAIN_MAX) /* one per link at most */
				c->dname_owner[c->dnames++] = ldns_rr_owner(rr);
			return;
		}
	}
}

static bool in_chain(const struct chain *c, const ldns_rdf *name)
{
	for (size_t i = 0; i < c->len; i++)
		if (name_equal(c->name[i], name))
			return true;
	return false;
}

/* Walks from the qname through CNAMEs, keeping the data and links found.
 * Order-independent: servers do not all list a chain in order. */
static void walk_chain(struct scrub *s)
{
	struct chain *c = &s->chain;
	const ldns_rr_list *an = ldns_pkt_answer(s->in);
	/* A CNAME is the answer to a CNAME question, and ANY asks about the
	 * qname only: neither follows the chain. */
	bool follow = s->q->qtype != WIRE_TYPE_CNAME && s->q->qtype != WIRE_TYPE_ANY;

	c->name[0] = ldns_rr_owner(ldns_rr_list_rr(ldns_pkt_question(s->in), 0));
	c->len = 1;
	for (;;) {
		size_t k = c->len - 1;
		c->data_kept[k] = keep_data_at(s, c->name[k]);
		if (!follow)
			break;
		long i = find_cname(s, c->name[k]);
		if (i < 0)
			break;
		if (c->len > SCRUB_CHAIN_MAX) {
			c->cut = true; /* SCRUB_CHAIN_MAX links kept already */
			break;
		}
		const ldns_rdf *target = rdata_name(ldns_rr_list_rr(an, (size_t)i), 0);
		s->keep_an[i] = true;
		c->cname_kept[k] = true;
		keep_dname_for(s, c->name[k], target);
		if (in_chain(c, target)) {
			c->cut = true; /* a loop: the link closing it shows it */
			break;
		}
		c->name[c->len++] = target;
	}
}

/* Does this RRSIG in the answer cover a kept RRset? */
static bool signs_kept_answer(const struct scrub *s, const ldns_rr *sig)
{
	const struct chain *c = &s->chain;
	const ldns_rdf *owner = ldns_rr_owner(sig);
	ldns_rr_type covered = rrsig_covered(sig);

	for (size_t k = 0; k < c->len; k++) {
		if (!name_equal(owner, c->name[k]))
			continue;
		if (covered == LDNS_RR_TYPE_CNAME && c->cname_kept[k])
			return true;
		if (c->data_kept[k] && covered == s->q->qtype)
			return true;
	}
	for (size_t d = 0; d < c->dnames; d++)
		if (covered == LDNS_RR_TYPE_DNAME && name_equal(owner, c->dname_owner[d]))
			return true;
	return false;
}

static void scrub_answer(struct scrub *s)
{
	const ldns_rr_list *an = ldns_pkt_answer(s->in);

	walk_chain(s);
	if (!s->q->edns_do)
		return;
	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		if (!s->keep_an[i] && ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
		    class_ok(s, rr) && signs_kept_answer(s, rr))
			s->keep_an[i] = true;
	}
}

/* ---- authority section ------------------------------------------------ */

/* The first SOA at or above the name the negative answer is about. */
static void keep_negative_soa(struct scrub *s, const ldns_rdf *about)
{
	const ldns_rr_list *ns = ldns_pkt_authority(s->in);

	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA && class_ok(s, rr) &&
		    name_at_or_below(about, ldns_rr_owner(rr))) {
			s->keep_ns[i] = true;
			s->soa_owner = ldns_rr_owner(rr);
			return;
		}
	}
}

/* Is rr a kept NSEC or NSEC3 of this type and owner? */
static bool kept_proof(const struct scrub *s, ldns_rr_type type, const ldns_rdf *owner)
{
	const ldns_rr_list *ns = ldns_pkt_authority(s->in);

	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (s->keep_ns[i] && ldns_rr_get_type(rr) == type &&
		    name_equal(ldns_rr_owner(rr), owner))
			return true;
	}
	return false;
}

/* RFC 4035 §3.1.3: the NSEC/NSEC3 proofs and their RRSIGs, for clients
 * that validate, taken only from the zones the answer is about. */
static void keep_proofs(struct scrub *s)
{
	const ldns_rr_list *ns = ldns_pkt_authority(s->in);
	size_t n = ldns_rr_list_rr_count(ns);

	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		ldns_rr_type t = ldns_rr_get_type(rr);
		if ((t == LDNS_RR_TYPE_NSEC || t == LDNS_RR_TYPE_NSEC3) && class_ok(s, rr) &&
		    in_a_zone(s, ldns_rr_owner(rr)))
			s->keep_ns[i] = true;
	}
	for (size_t i = 0; i < n; i++) {
		const ldns_rr *rr = ldns_rr_list_rr(ns, i);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_RRSIG || !class_ok(s, rr))
			continue;
		const ldns_rdf *owner = ldns_rr_owner(rr);
		ldns_rr_type covered = rrsig_covered(rr);
		if (covered == LDNS_RR_TYPE_SOA)
			s->keep_ns[i] = s->soa_owner && name_equal(owner, s->soa_owner);
		else if (covered == LDNS_RR_TYPE_NSEC || covered == LDNS_RR_TYPE_NSEC3)
			s->keep_ns[i] = in_a_zone(s, owner) && kept_proof(s, covered, owner);
	}
}

/* The zones that signed the kept answer: where a wildcard's proof lives. */
static void add_answer_signers(struct scrub *s)
{
	const ldns_rr_list *an = ldns_pkt_answer(s->in);

	for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(an, i);
		const ldns_rdf *signer;
		if (s->keep_an[i] && ldns_rr_get_type(rr) == LDNS_RR_TYPE_RRSIG &&
		    (signer = ldns_rr_rrsig_signame(rr)) != NULL &&
		    ldns_rdf_get_type(signer) == LDNS_RDF_TYPE_DNAME)
			add_zone(s, signer);
	}
}

static void scrub_authority(struct scrub *s)
{
	const struct chain *c = &s->chain;
	size_t last = c->len - 1;
	ldns_pkt_rcode rcode = ldns_pkt_get_rcode(s->in);
	bool nodata = rcode == LDNS_RCODE_NOERROR && !c->data_kept[last];
	bool positive = rcode == LDNS_RCODE_NOERROR && c->data_kept[last];

	/* RFC 2308 §2.1, §2.2: the rcode and the SOA are about the last name
	 * of the chain, not the qname. */
	if (rcode == LDNS_RCODE_NXDOMAIN || nodata) {
		keep_negative_soa(s, c->name[last]);
		if (s->soa_owner)
			add_zone(s, s->soa_owner);
	} else if (positive) {
		add_answer_signers(s);
	}
	if (s->q->edns_do)
		keep_proofs(s);
}

/* ---- output ----------------------------------------------------------- */

/* Appends a copy of rr to section sec of out. */
static int push_copy(ldns_pkt *out, ldns_pkt_section sec, const ldns_rr *rr)
{
	ldns_rr *copy = ldns_rr_clone(rr);
	if (!copy)
		return -ENOMEM;
	if (!ldns_pkt_push_rr(out, sec, copy)) {
		ldns_rr_free(copy);
		return -ENOMEM;
	}
	return 0;
}

static int push_kept(ldns_pkt *out, ldns_pkt_section sec, const ldns_rr_list *list,
		     const bool *keep)
{
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++)
		if (keep[i] && push_copy(out, sec, ldns_rr_list_rr(list, i)) < 0)
			return -ENOMEM;
	return 0;
}

/* A fresh packet with the question and the kept records, and no EDNS:
 * every EDNS field is zero, so ldns writes no OPT record. */
static int build_packet(const struct scrub *s, ldns_pkt **result)
{
	ldns_pkt *out = ldns_pkt_new();
	int err = -ENOMEM;

	*result = NULL;
	if (!out)
		return -ENOMEM;
	ldns_pkt_set_edns_udp_size(out, 0);
	ldns_pkt_set_edns_extended_rcode(out, 0);
	ldns_pkt_set_edns_version(out, 0);
	ldns_pkt_set_edns_z(out, 0);
	ldns_pkt_set_edns_do(out, false);
	if (ldns_pkt_edns(out)) { /* would write an OPT: ldns changed under us */
		err = -EBADMSG;
		goto out;
	}
	if (push_copy(out, LDNS_SECTION_QUESTION,
		      ldns_rr_list_rr(ldns_pkt_question(s->in), 0)) < 0 ||
	    push_kept(out, LDNS_SECTION_ANSWER, ldns_pkt_answer(s->in), s->keep_an) < 0 ||
	    push_kept(out, LDNS_SECTION_AUTHORITY, ldns_pkt_authority(s->in), s->keep_ns) < 0)
		goto out;
	*result = out;
	out = NULL;
	err = 0;
out:
	ldns_pkt_free(out);
	return err;
}

/* Encodes pkt into a malloc'ed stored answer with the reply's header word
 * (AA and Z cleared) and ID, and checks it is one. */
static int encode(const ldns_pkt *pkt, const uint8_t *reply, const struct wire_query *q,
		  uint8_t **answer, size_t *answer_len)
{
	uint8_t *wire = NULL;
	size_t len = 0;
	ldns_status st = ldns_pkt2wire(&wire, pkt, &len);
	int err;

	if (st != LDNS_STATUS_OK) {
		err = st == LDNS_STATUS_MEM_ERR ? -ENOMEM : -EBADMSG;
		goto out;
	}
	uint16_t flags = (uint16_t)(wire_get16(reply + 2) & ~(WIRE_FLAG_AA | WIRE_FLAG_Z));
	wire_put16(wire, wire_get16(reply));
	wire_put16(wire + 2, flags);
	/* The stored-answer form, checked rather than assumed: the question
	 * uncompressed at offset 12 and equal to q's, and nothing in the
	 * additional section, so no OPT. */
	if (len < WIRE_HEADER_LEN || wire_get16(wire + 10) != 0 ||
	    !wire_reply_matches(wire, len, wire_get16(wire), q)) {
		err = -EBADMSG;
		goto out;
	}
	/* ldns allocates with its own macros; the caller frees with free(). */
	*answer = malloc(len);
	if (!*answer) {
		err = -ENOMEM;
		goto out;
	}
	memcpy(*answer, wire, len);
	*answer_len = len;
	err = 0;
out:
	LDNS_FREE(wire);
	return err;
}

static unsigned dropped(const ldns_rr_list *list, const bool *keep)
{
	unsigned n = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++)
		n += !keep || !keep[i];
	return n;
}

/* Records no answer may carry, whatever their name: pseudo-records (OPT
 * and TSIG/TKEY belong to one hop, RFC 6891 §6.1.1, RFC 8945) and
 * question-only types, and records whose rdata is cut short (ldns takes an
 * empty rdata, the RFC 2136 update form, which a cache must not serve). */
static bool unfit(const ldns_rr *rr)
{
	ldns_rr_type t = ldns_rr_get_type(rr);
	if (t == LDNS_RR_TYPE_OPT || t == LDNS_RR_TYPE_TSIG || t == LDNS_RR_TYPE_TKEY ||
	    (t >= LDNS_RR_TYPE_IXFR && t <= LDNS_RR_TYPE_ANY))
		return true;
	const ldns_rr_descriptor *d = ldns_rr_descript(t);
	return d && d->_type == t && ldns_rr_rd_count(rr) < ldns_rr_descriptor_minimum(d);
}

/* Takes unfit records out of a section before anything is chosen from it;
 * returns how many went. */
static int drop_unfit(ldns_pkt *pkt, ldns_pkt_section section, unsigned *count)
{
	ldns_rr_list *list = ldns_pkt_get_section_clone(pkt, section);
	ldns_rr_list *fit = ldns_rr_list_new();
	if (!list || !fit) {
		ldns_rr_list_deep_free(list);
		ldns_rr_list_free(fit);
		return -ENOMEM;
	}
	*count = 0;
	for (size_t i = 0; i < ldns_rr_list_rr_count(list); i++) {
		ldns_rr *rr = ldns_rr_list_rr(list, i);
		if (unfit(rr)) {
			ldns_rr_free(rr);
			(*count)++;
		} else {
			ldns_rr_list_push_rr(fit, rr);
		}
	}
	ldns_rr_list_free(list); /* the records moved to fit or were freed */
	ldns_rr_list *old = section == LDNS_SECTION_ANSWER ? ldns_pkt_answer(pkt)
							    : ldns_pkt_authority(pkt);
	if (section == LDNS_SECTION_ANSWER)
		ldns_pkt_set_answer(pkt, fit);
	else
		ldns_pkt_set_authority(pkt, fit);
	ldns_rr_list_deep_free(old);
	return 0;
}

int scrub_ldns_reply_counted(const uint8_t *reply, size_t len, const struct wire_query *q,
			     uint8_t **answer, size_t *answer_len, struct scrub_counts *counts)
{
	struct scrub s = { .q = q };
	ldns_pkt *in = NULL, *out = NULL;
	int err = -EBADMSG;

	*answer = NULL;
	*answer_len = 0;
	if (!q->has_question || len < WIRE_HEADER_LEN ||
	    !wire_reply_matches(reply, len, wire_get16(reply), q))
		return -EBADMSG;
	/* Every record must parse as its type says: ldns knows the rdata
	 * formats, so a reply it rejects is not fit to store. */
	ldns_status st = ldns_wire2pkt(&in, reply, len);
	if (st != LDNS_STATUS_OK) {
		err = st == LDNS_STATUS_MEM_ERR ? -ENOMEM : -EBADMSG;
		goto out;
	}
	if (ldns_rr_list_rr_count(ldns_pkt_question(in)) != 1)
		goto out;
	unsigned unfit_an = 0, unfit_ns = 0;
	if (drop_unfit(in, LDNS_SECTION_ANSWER, &unfit_an) < 0 ||
	    drop_unfit(in, LDNS_SECTION_AUTHORITY, &unfit_ns) < 0) {
		err = -ENOMEM;
		goto out;
	}
	s.in = in;
	s.keep_an = calloc(ldns_rr_list_rr_count(ldns_pkt_answer(in)) + 1, sizeof(bool));
	s.keep_ns = calloc(ldns_rr_list_rr_count(ldns_pkt_authority(in)) + 1, sizeof(bool));
	if (!s.keep_an || !s.keep_ns) {
		err = -ENOMEM;
		goto out;
	}

	scrub_answer(&s);
	scrub_authority(&s);

	err = build_packet(&s, &out);
	if (err < 0)
		goto out;
	err = encode(out, reply, q, answer, answer_len);
	if (err < 0)
		goto out;
	if (counts) {
		counts->answer_dropped = unfit_an + dropped(ldns_pkt_answer(in), s.keep_an);
		counts->authority_dropped = unfit_ns + dropped(ldns_pkt_authority(in), s.keep_ns);
		counts->additional_dropped = dropped(ldns_pkt_additional(in), NULL);
		counts->chain_cut = s.chain.cut;
	}
out:
	free(s.keep_an);
	free(s.keep_ns);
	ldns_pkt_free(out);
	ldns_pkt_free(in);
	return err;
}

int scrub_ldns_reply(const uint8_t *reply, size_t len, const struct wire_query *q,
		     uint8_t **answer, size_t *answer_len)
{
	return scrub_ldns_reply_counted(reply, len, q, answer, answer_len, NULL);
}
