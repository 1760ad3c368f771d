/* scrub.c - upstream reply checking with ldns. See scrub.h. */
#include "stubd/scrub.h"

#include <errno.h>
#include <ldns/ldns.h>
#include <stdlib.h>
#include <string.h>

/* Every record must parse as its type says: ldns knows the rdata formats,
 * so a reply it rejects is not fit to store. */
static bool ldns_accepts(const uint8_t *reply, size_t len)
{
	ldns_pkt *pkt = NULL;
	if (ldns_wire2pkt(&pkt, reply, len) != LDNS_STATUS_OK)
		return false;
	ldns_pkt_free(pkt);
	return true;
}

/* Where the stored answer ends: at the OPT record, which is hop-by-hop
 * (RFC 6891 §6.1.1) and so says nothing to our client; the client gets
 * one of ours from wire_finish_reply(). Additional records after an OPT
 * go with it: compression pointers only point backwards, so cutting the
 * message there leaves every pointer before the cut valid. */
static int find_cut(const uint8_t *reply, size_t len, size_t *cut, unsigned *arcount)
{
	struct wire_rr_iter it;
	struct wire_rr rr;
	int got;

	if (wire_rr_iter_init(&it, reply, len) < 0)
		return -EBADMSG;
	*cut = len;
	*arcount = wire_get16(reply + 10);
	while ((got = wire_rr_next(&it, &rr)) == 1) {
		if (rr.type == WIRE_TYPE_OPT && rr.section == WIRE_SECTION_ADDITIONAL) {
			*cut = rr.start;
			*arcount = rr.index;
			return 0;
		}
	}
	if (got < 0)
		return -EBADMSG;
	*cut = it.off; /* drop trailing bytes after the last record */
	return 0;
}

int scrub_reply(const uint8_t *reply, size_t len, const struct wire_query *q,
		uint8_t **answer, size_t *answer_len)
{
	size_t cut;
	unsigned arcount;

	*answer = NULL;
	*answer_len = 0;
	if (len < WIRE_HEADER_LEN || !wire_reply_matches(reply, len, wire_get16(reply), q) ||
	    !ldns_accepts(reply, len))
		return -EBADMSG;
	if (find_cut(reply, len, &cut, &arcount) < 0)
		return -EBADMSG;

	uint8_t *out = malloc(cut);
	if (!out)
		return -ENOMEM;
	memcpy(out, reply, cut);
	wire_put16(out + 10, (uint16_t)arcount);
	/* A forwarder is not the authority: AA would be a lie to our clients. */
	wire_put16(out + 2, (uint16_t)(wire_get16(out + 2) & ~WIRE_FLAG_AA));
	*answer = out;
	*answer_len = cut;
	return 0;
}
