/* cachefile.h - the cache file: cached answers written to disk and read back, every byte checked.
 *
 * Owns the file's format and nothing else: no cache, no clock, no
 * socket. The cache (cache.c) hands records to a writer and takes them
 * back from the parser; the daemon decides when to save and load. A
 * writer is one growing buffer owned by whoever made it (one thread at a
 * time; the save runs on a worker thread); the parser keeps nothing.
 * Errors are negative errno values with a sentence in why.
 *
 * The format, version 1. Every integer is big-endian (network order, as
 * in DNS messages). A file is a 56-byte header and a payload of records:
 *
 *   offset  size  header
 *        0     8  magic "STUBDCF\0"
 *        8     4  version, 1
 *       12     4  header length, 56 (version 1 has no other)
 *       16     8  saved_wall_ms: CLOCK_REALTIME at the save, milliseconds
 *       24     8  record count
 *       32     8  payload length: the bytes after the header, exactly
 *       40     8  payload checksum: 64-bit FNV-1a of the payload
 *       48     8  header checksum: 64-bit FNV-1a of bytes 0..48
 *
 *   offset  size  record (28 bytes, then the answer), one after another
 *        0     2  answer length, 12..65535
 *        2     2  qtype
 *        4     2  qclass
 *        6     1  kflags: DO (1), CD (2); other bits 0
 *        7     1  0 (reserved)
 *        8     4  lifetime_s
 *       12     8  age_ms
 *       20     8  idle_ms
 *       28     n  the answer: a DNS message, as the cache stores it
 *
 * The header has a checksum of its own so that a file cut short (its
 * header whole, its payload not) is told from one whose bytes changed.
 * A reader checks, in this order: the magic (-EPROTO, foreign; a file
 * shorter than 8 bytes that starts like the magic is -ENODATA), the
 * version (0 is -EBADMSG, above 1 -ENOTSUP: a later format may change
 * everything after the version), the header's length and checksum, the
 * payload's length against the file's (short: -ENODATA; longer:
 * -EBADMSG, trailing bytes), the payload's checksum, then walks every
 * record (-EBADMSG when one does not fit or the count disagrees). Only
 * then does it hand out a record.
 *
 * The answer's bytes are carried, not read: the cache parses a loaded
 * answer as it parses any answer before storing it.
 */
#ifndef STUBD_CACHEFILE_H
#define STUBD_CACHEFILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CACHEFILE_VERSION 1
#define CACHEFILE_HEADER_LEN 56
#define CACHEFILE_RECORD_FIXED 28
#define CACHEFILE_KFLAG_DO 1
#define CACHEFILE_KFLAG_CD 2
/* What a record's answer may be: a DNS header at least, a message at most. */
#define CACHEFILE_ANSWER_MIN 12
#define CACHEFILE_ANSWER_MAX 65535

/* A cached answer as the file holds it. */
struct cachefile_record {
	uint8_t kflags;           /* the key's DO (1) and CD (2) bits */
	uint16_t qtype, qclass;
	uint32_t lifetime_s;      /* its lifetime when stored, after the clamps */
	uint64_t age_ms;          /* time since it was stored, at the save */
	uint64_t idle_ms;         /* time since it was last used, at the save */
	const uint8_t *answer;    /* the stored answer: a DNS message (>= 12-byte header,
				   * question name at offset 12) */
	size_t answer_len;        /* 12 .. 65535 */
};

/* ---- writing ---------------------------------------------------------- */

/* A file built in memory: records are copied into one growing buffer, the
 * header is filled in when the image is taken. */
struct cachefile_writer;

/* saved_wall_ms: CLOCK_REALTIME in milliseconds at the save. The caller
 * owns the result (cachefile_writer_free()); NULL on no memory. */
struct cachefile_writer *cachefile_writer_new(uint64_t saved_wall_ms);

/* Copies r (its answer too) to the end of w. Returns 0; -EINVAL for a
 * record the format cannot hold (answer NULL or not 12..65535 bytes,
 * kflags other than DO and CD), w unchanged; -ENOMEM, w unchanged. */
int cachefile_writer_add(struct cachefile_writer *w, const struct cachefile_record *r);

/* Records added so far. */
size_t cachefile_writer_count(const struct cachefile_writer *w);

/* The whole file image as it stands (header filled in): *len bytes,
 * owned by w, valid until the next add or free. For tests and for a
 * caller that stores the bytes elsewhere. */
const uint8_t *cachefile_writer_image(struct cachefile_writer *w, size_t *len);

/* Writes the image to path atomically (atomicfile_write(): a temporary
 * file in the same directory, fsync, rename), mode 0600, owned by the
 * caller's uid. Returns 0, or -errno with why set; the old file is then
 * untouched. w is kept (it may be saved again). */
int cachefile_writer_save(struct cachefile_writer *w, const char *path, char *why,
			  size_t why_size);

/* NULL is a no-op. */
void cachefile_writer_free(struct cachefile_writer *w);

/* ---- reading ---------------------------------------------------------- */

/* Called once per record, in file order. r and r->answer point into the
 * image: valid during the call only (the loader frees its buffer after). */
typedef void (*cachefile_record_fn)(void *arg, const struct cachefile_record *r);

/* Checks the whole image buf[0..len), then calls fn (may be NULL) for each
 * record. Returns the record count (>= 0), *saved_wall_ms (may be NULL)
 * set before the first call of fn; or a negative errno, fn never called,
 * with why (may be NULL) naming what is wrong and its kind in brackets,
 * e.g. "payload checksum mismatch (corrupted)":
 *   -EPROTO   foreign: not a stubd cache file (bad magic)
 *   -ENOTSUP  future version: newer than version 1
 *   -ENODATA  truncated: shorter than its header says (or than a header)
 *   -EBADMSG  corrupted: a checksum mismatch, version 0, trailing bytes,
 *             a record that does not walk, a count that disagrees
 *   -EFBIG    more records than an int counts (not in a real file)
 * Allocates nothing; any bytes are safe. */
int cachefile_parse(const uint8_t *buf, size_t len, uint64_t *saved_wall_ms,
		    cachefile_record_fn fn, void *arg, char *why, size_t why_size);

/* Reads the file at path and parses it as cachefile_parse() does. Opened
 * with O_NOFOLLOW and O_NONBLOCK (a FIFO put there cannot hang the
 * start), checked on the open file: a regular file, owned by owner_uid,
 * at most max_bytes long. One allocation (the file's size), one read.
 * Not concurrently with a save to the same path.
 *
 * Returns the record count, or a negative errno with why starting with
 * path. Two kinds:
 *  - no damage, the file is left where it is: -ENOENT (no file: a first
 *    start, nothing to report), -ENOMEM, -EINVAL when path is not a
 *    regular file (a directory, a FIFO, /dev/null: a mistake in the
 *    config, not stubd's to move), and the errors of open() (but ELOOP),
 *    fstat() and read() (-EIO, -EACCES, ...).
 *  - damage, which a later save would only hide: the file is renamed
 *    aside to "PATH.damaged" (replacing an older one) and why says what
 *    was wrong and where it went, e.g. "/var/cache/stubd/cache: payload
 *    checksum mismatch (corrupted); moved to /var/cache/stubd/cache.damaged"
 *    (or "...; cannot move it to ...: <reason>"). The errors of
 *    cachefile_parse(), and:
 *      -ELOOP   path is a symbolic link (not followed; the link itself
 *               is moved aside, never its target)
 *      -EPERM   not owned by owner_uid
 *      -EFBIG   oversized: more than max_bytes
 * fn is called only for a file found whole. */
int cachefile_load(const char *path, uid_t owner_uid, size_t max_bytes,
		   uint64_t *saved_wall_ms, cachefile_record_fn fn, void *arg, char *why,
		   size_t why_size);

#endif
