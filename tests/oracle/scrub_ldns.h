/* scrub_ldns.h - the test oracle for scrub.c: the same rules, through ldns.
 *
 * Owns nothing stubd runs: the ldns implementation of scrub_reply() that
 * src/scrub.c replaced, kept for tests only (unit tests run test_scrub.c
 * against both; tests/fuzz/fuzz_scrub_diff.c runs both on every input and
 * compares). Same contract as scrub.h: reply in, malloc'ed stored answer
 * out, the same struct scrub_counts.
 */
#ifndef STUBD_SCRUB_LDNS_H
#define STUBD_SCRUB_LDNS_H

#include "stubd/scrub.h"

int scrub_ldns_reply(const uint8_t *reply, size_t len, const struct wire_query *q,
		     uint8_t **answer, size_t *answer_len);

int scrub_ldns_reply_counted(const uint8_t *reply, size_t len, const struct wire_query *q,
			     uint8_t **answer, size_t *answer_len, struct scrub_counts *counts);

#endif
