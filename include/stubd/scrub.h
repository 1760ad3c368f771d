/* scrub.h - checks an upstream reply and turns it into the answer stubd
 * stores and serves, on the wire bytes: once per cache miss.
 *
 * Owns the rules for what of an upstream reply is kept, so nothing
 * unchecked is ever cached or served. The reply has already been matched
 * to the question (wire_reply_matches: ID, question; RFC 5452 §9); scrub
 * then keeps only the records that answer that question (RFC 5452 §6,
 * RFC 2181 §5.4.1): the question's records and the CNAME chain from it,
 * the SOA of a negative answer (RFC 2308 §3), and DNSSEC proofs for DO
 * clients. Everything else, the classic poisoning vectors of NS records,
 * glue and unrelated answers among them, is dropped. The rules in full
 * are at the top of scrub.c.
 *
 * The result is a "stored answer": a complete DNS message with its
 * question uncompressed at offset 12, no OPT record and AA clear, which
 * wire_finish_reply() fits to each client. Called by upstream.c for every
 * reply it believes; pure (buffers in, buffer out), so tests need no
 * sockets. No ldns: the reply is read in place and the one allocation is
 * the result, but for replies of more than SCRUB_RR_INLINE records or
 * hundreds of names (tests/oracle keeps the ldns version to compare
 * against).
 */
#ifndef STUBD_SCRUB_H
#define STUBD_SCRUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/wire.h"

/* How many CNAME (or DNAME + CNAME) links are followed from the qname.
 * Records past the limit are dropped; the answer keeps the first links. */
#define SCRUB_CHAIN_MAX 16

/* How many records of the answer and authority sections together scrub
 * tracks on the stack. A reply with more (up to the 5957 records of 11
 * bytes a 65535-byte message holds) is scrubbed alike, with one
 * allocation for its records; nothing is ever cut, since cutting could
 * split an RRset (RFC 2181 §5) and the signature over it. The additional
 * section is only checked, so it is not tracked. */
#define SCRUB_RR_INLINE 512

/* What scrub_reply_counted() dropped, for logs and statistics. */
struct scrub_counts {
	unsigned answer_dropped;     /* records not about the chain's names */
	unsigned authority_dropped;
	unsigned additional_dropped; /* all of them; OPT and TSIG not counted */
	bool chain_cut;              /* a CNAME loop, or longer than SCRUB_CHAIN_MAX */
};

/* Parses reply (already matched to q by wire_reply_matches) and writes the
 * stored answer to *answer (malloc'ed; the caller frees it with free()).
 * Keeps the reply's ID, RD, RA, AD, CD, TC and rcode; clears AA and Z.
 * Returns 0, -EBADMSG if the reply is not for q or is malformed (a bad
 * name or count, rdata that does not parse as its type: see scrub.c),
 * -EMSGSIZE if the reply is well formed but the stored answer made of it
 * would be over 65535 bytes (names that were compressed and may not be:
 * not the server's fault), -ENOMEM. On error *answer is NULL and
 * *answer_len 0. */
int scrub_reply(const uint8_t *reply, size_t len, const struct wire_query *q,
		uint8_t **answer, size_t *answer_len);

/* scrub_reply(), also filling *counts (which may be NULL) on success. */
int scrub_reply_counted(const uint8_t *reply, size_t len, const struct wire_query *q,
			uint8_t **answer, size_t *answer_len, struct scrub_counts *counts);

#endif
