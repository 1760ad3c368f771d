/* dnsstream.h - DNS messages on one stream connection (TCP, TLS): framing, queries in flight, padding.
 *
 * The socket-free core of a connection that carries many queries at once
 * (RFC 7766 §6.2.1.1, RFC 7858 for TLS): the caller owns the socket, the
 * TLS session, the timers and the clock, and hands this module bytes and
 * questions. Three parts, each on caller-owned memory:
 *
 *  - struct dnsstream_reader cuts the byte stream, arriving in pieces of
 *    any size, into messages by their 2-byte length prefix (RFC 1035
 *    §4.2.2). It holds one fixed buffer (one message of at most 65,535
 *    bytes plus its prefix) and allocates nothing.
 *  - struct dnsstream_table is one connection's queries in flight: the ID
 *    each has on that connection (random, unique while in flight), the
 *    question a reply must repeat, the caller's pointer, and whether the
 *    query was already sent again after a connection died (at most once).
 *    One allocation, when the connection is made.
 *  - dnsstream_prepare() turns a query into what is written on the stream:
 *    the connection's ID, EDNS(0) Padding to a multiple of 128 bytes
 *    (RFC 7830, RFC 8467 §4.1), the length prefix.
 *
 * No locks: a reader or table belongs to the loop that owns the
 * connection. Errors are negative errno values.
 */
#ifndef STUBD_DNSSTREAM_H
#define STUBD_DNSSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stubd/wire.h"

#define DNSSTREAM_PREFIX_LEN 2
/* The most a reader holds: one whole message and its prefix. */
#define DNSSTREAM_READER_MAX (DNSSTREAM_PREFIX_LEN + WIRE_MSG_MAX)
/* RFC 7830 §2: the EDNS(0) Padding option. */
#define DNSSTREAM_OPT_PADDING 12
/* RFC 8467 §4.1: clients pad queries to a multiple of 128 bytes. */
#define DNSSTREAM_PAD_BLOCK 128
/* The largest cap of a table: far below the 65,536 IDs, so a free ID is
 * found in a draw or two. */
#define DNSSTREAM_INFLIGHT_MAX 4096

/* ---- framing ---------------------------------------------------------- */

/* One direction of a stream. Embed it in the connection (it is 64 KiB);
 * the fields are the module's. */
struct dnsstream_reader {
	size_t have;           /* bytes in buf: a prefix, maybe part of a message */
	int error;             /* 0, or the error every call returns until reset */
	uint8_t buf[DNSSTREAM_READER_MAX];
};

/* Empties r for a new connection: no bytes held, no error. */
void dnsstream_reader_reset(struct dnsstream_reader *r);

/* Takes bytes of the stream, data[0..len), up to the end of the next whole
 * message, and sets *used to how many it took. Returns:
 *   1 - a message: *msg and *msg_len are set (12 to 65,535 bytes, exactly
 *       what its prefix said). *msg points into data or into r, valid
 *       until the next call on r; call again with the bytes not used.
 *   0 - every byte was used (*used == len) and no message is complete
 *       yet: wait for more. A prefix of 65,535 with nothing after it is
 *       only this; the caller's timeout decides how long to wait.
 *   -EPROTO - a length prefix below the 12-byte header (0 included): no
 *       DNS message, the connection must be dropped. Sticky: every later
 *       call returns it and uses nothing, until dnsstream_reader_reset().
 * A message that arrives whole in data while r holds nothing is handed
 * out in place, not copied. */
int dnsstream_read(struct dnsstream_reader *r, const uint8_t *data, size_t len, size_t *used,
		   const uint8_t **msg, size_t *msg_len);

/* Bytes r holds of a message not yet complete (its prefix included): 0
 * means the stream stands between messages, so a close there loses
 * nothing half-read. At most DNSSTREAM_READER_MAX. */
size_t dnsstream_reader_pending(const struct dnsstream_reader *r);

/* ---- queries in flight -------------------------------------------------- */

/* A random 16-bit draw, from the caller (upstream.c has a batched
 * arc4random source; tests and fuzzers pass a seeded one). */
typedef uint16_t (*dnsstream_rand16_fn)(void *arg);

/* A query in flight, as dnsstream_match(), dnsstream_take() and
 * dnsstream_remove() hand it back. */
struct dnsstream_query {
	struct wire_query q;   /* the question; q.id is its ID on the connection */
	void *owner;           /* the caller's (its transaction); never read here */
	bool resent;           /* sent again after a connection died: never again */
};

struct dnsstream_stats {
	uint64_t unknown_id;     /* messages dropped: no query in flight with their ID */
	uint64_t wrong_question; /* dropped: the ID of a query in flight, but not an
				  * answer to it (QR, opcode or question differ) */
};

struct dnsstream_table;

/* A table for up to cap queries at once (1 to DNSSTREAM_INFLIGHT_MAX;
 * the server may allow fewer, RFC 7766 §6.2.2), drawing IDs from rand
 * (rand_arg is passed to it; both borrowed, for the table's life). The
 * caller owns the result and frees it with dnsstream_table_free(). NULL
 * when cap is out of range, rand is NULL or memory ran out. */
struct dnsstream_table *dnsstream_table_new(unsigned cap, dnsstream_rand16_fn rand, void *rand_arg);

/* Frees t and forgets its queries (their owners are the caller's). NULL ok. */
void dnsstream_table_free(struct dnsstream_table *t);

/* Puts the question q (q->id is not used) in flight with a fresh ID,
 * unused by every other query in flight on t (RFC 7766 §6.2.1.1), set in
 * *id: the ID to send it with (dnsstream_prepare). owner comes back with
 * the reply. Returns 0, or -EBUSY when cap queries are in flight already
 * (the caller opens another connection or waits). */
int dnsstream_add(struct dnsstream_table *t, const struct wire_query *q, void *owner,
		  uint16_t *id);

/* Puts a query taken from a dead connection (dnsstream_take) in flight on
 * t, the new connection, marked resent, with a fresh ID in *id. Returns
 * 0; -EALREADY when dq was resent once already (the caller fails it: a
 * query is sent again at most once, so a query that kills connections
 * cannot kill them forever); -EBUSY as dnsstream_add. */
int dnsstream_resend(struct dnsstream_table *t, const struct dnsstream_query *dq, uint16_t *id);

/* Finds the query that msg (a whole message from dnsstream_read) answers:
 * the query in flight with msg's ID, for which wire_reply_matches() holds
 * (QR=1, opcode QUERY, the same question, name case-insensitively).
 * Returns 1 with the query taken off t and copied into *out; 0 when msg
 * is dropped (counted in the stats), the query with its ID, if any,
 * still waiting for its real answer. */
int dnsstream_match(struct dnsstream_table *t, const uint8_t *msg, size_t len,
		    struct dnsstream_query *out);

/* Takes the query with this ID off t when its owner is owner (its
 * transaction gave up or was cancelled); copies it into *out unless out
 * is NULL. Returns true when it was there. A late answer is then counted
 * as unknown_id. */
bool dnsstream_remove(struct dnsstream_table *t, uint16_t id, const void *owner,
		      struct dnsstream_query *out);

/* Takes the query sent earliest off t into *out; false when none is left.
 * When a connection dies, the caller takes every query this way and
 * gives each to dnsstream_resend() on a new connection, or fails it. */
bool dnsstream_take(struct dnsstream_table *t, struct dnsstream_query *out);

/* Queries in flight on t, and its cap. */
size_t dnsstream_count(const struct dnsstream_table *t);
size_t dnsstream_cap(const struct dnsstream_table *t);

const struct dnsstream_stats *dnsstream_get_stats(const struct dnsstream_table *t);

/* ---- writing a query ---------------------------------------------------- */

/* Writes query[0..len) as it goes on the stream into out[0..cap): the
 * 2-byte length prefix, then the message with its ID set to id and an
 * EDNS(0) Padding option (RFC 7830) whose length brings the message to a
 * multiple of 128 bytes (RFC 8467 §4.1), its bytes zero. An OPT record
 * already there keeps its fields and its other options, in order; a
 * padding option of its own is replaced. A query without one gets an OPT
 * record at its end advertising edns_size. Sets *out_len (prefix
 * included). out must not overlap query. Returns 0, or:
 *   -EMSGSIZE  the result exceeds cap or 65,535 bytes;
 *   -EBADMSG   not a query that walks: shorter than a header, QR=1, a
 *              record running past the end, bytes after the last record,
 *              a second OPT, an OPT outside the additional section or not
 *              owned by the root, options running past the OPT's data;
 *   -ENOTSUP   a query padding would break: signed (TSIG, SIG(0); RFC
 *              7830 §4 pads before signing), or a record after its OPT
 *              (growing the OPT would move what its compression
 *              pointers may point at). stubd's own queries are neither. */
int dnsstream_prepare(uint8_t *out, size_t cap, const uint8_t *query, size_t len, uint16_t id,
		      uint16_t edns_size, size_t *out_len);

#endif
