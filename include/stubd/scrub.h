/* scrub.h - checks an upstream reply with ldns and turns it into the
 * answer stubd stores and serves: the cold path.
 *
 * Owns the rules for what of an upstream reply is kept. The result is a
 * "stored answer": a complete DNS message with its question uncompressed
 * at offset 12 and no OPT record, which wire_finish_reply() fits to each
 * client. The cache issue adds the poisoning checks (bailiwick, unrelated
 * records) here, so nothing unchecked is ever stored.
 */
#ifndef STUBD_SCRUB_H
#define STUBD_SCRUB_H

#include <stddef.h>
#include <stdint.h>

#include "stubd/wire.h"

/* Parses reply (already matched to q by wire_reply_matches) and writes the
 * stored answer to *answer (malloc'ed; the caller frees it with free()).
 * Returns 0, -EBADMSG if ldns cannot parse it, -ENOMEM. */
int scrub_reply(const uint8_t *reply, size_t len, const struct wire_query *q,
		uint8_t **answer, size_t *answer_len);

#endif
