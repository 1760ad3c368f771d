/* cachefile.c - the cache file's format: build, check, walk. See cachefile.h. */
#include "stubd/cachefile.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stubd/ascii.h"
#include "stubd/atomicfile.h"
#include "stubd/why.h"

static const uint8_t magic[8] = { 'S', 'T', 'U', 'B', 'D', 'C', 'F', '\0' };

/* Header fields, by offset (cachefile.h has the table). */
enum {
	H_MAGIC = 0,
	H_VERSION = 8,
	H_HEADER_LEN = 12,
	H_SAVED = 16,
	H_COUNT = 24,
	H_PAYLOAD_LEN = 32,
	H_PAYLOAD_SUM = 40,
	H_HEADER_SUM = 48,
};

/* Record fields, by offset from the record's start. */
enum {
	R_ANSWER_LEN = 0,
	R_QTYPE = 2,
	R_QCLASS = 4,
	R_KFLAGS = 6,
	R_RESERVED = 7,
	R_LIFETIME = 8,
	R_AGE = 12,
	R_IDLE = 20,
};

#define KFLAGS_KNOWN (CACHEFILE_KFLAG_DO | CACHEFILE_KFLAG_CD)
/* The first buffer of a writer; it doubles from there. */
#define WRITER_FIRST_CAP (64 * 1024)

/* Big-endian, as DNS: callers check bounds first. */
static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)(v >> 16));
	put16(p + 2, (uint16_t)v);
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return ((uint32_t)get16(p) << 16) | get16(p + 2);
}

static uint64_t get64(const uint8_t *p)
{
	return ((uint64_t)get32(p) << 32) | get32(p + 4);
}


/* ---- writing ---------------------------------------------------------- */

struct cachefile_writer {
	uint8_t *buf;  /* the header's room, then the records */
	size_t len;    /* bytes used, the header's included */
	size_t cap;
	size_t count;
	uint64_t saved_wall_ms;
};

struct cachefile_writer *cachefile_writer_new(uint64_t saved_wall_ms)
{
	struct cachefile_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->buf = malloc(WRITER_FIRST_CAP);
	if (!w->buf) {
		free(w);
		return NULL;
	}
	w->cap = WRITER_FIRST_CAP;
	w->len = CACHEFILE_HEADER_LEN;
	w->saved_wall_ms = saved_wall_ms;
	return w;
}

int cachefile_writer_add(struct cachefile_writer *w, const struct cachefile_record *r)
{
	if (!r->answer || r->answer_len < CACHEFILE_ANSWER_MIN ||
	    r->answer_len > CACHEFILE_ANSWER_MAX || (r->kflags & ~KFLAGS_KNOWN))
		return -EINVAL;
	size_t need = CACHEFILE_RECORD_FIXED + r->answer_len;
	if (w->cap - w->len < need) {
		/* Doubling: 100,000 records cost some 20 reallocations, not
		 * 100,000. */
		if (w->cap > SIZE_MAX / 2)
			return -ENOMEM;
		size_t cap = w->cap * 2;
		if (cap - w->len < need)
			cap = w->len + need;
		uint8_t *buf = realloc(w->buf, cap);
		if (!buf)
			return -ENOMEM;
		w->buf = buf;
		w->cap = cap;
	}
	uint8_t *p = w->buf + w->len;
	put16(p + R_ANSWER_LEN, (uint16_t)r->answer_len);
	put16(p + R_QTYPE, r->qtype);
	put16(p + R_QCLASS, r->qclass);
	p[R_KFLAGS] = r->kflags;
	p[R_RESERVED] = 0;
	put32(p + R_LIFETIME, r->lifetime_s);
	put64(p + R_AGE, r->age_ms);
	put64(p + R_IDLE, r->idle_ms);
	memcpy(p + CACHEFILE_RECORD_FIXED, r->answer, r->answer_len);
	w->len += need;
	w->count++;
	return 0;
}

size_t cachefile_writer_count(const struct cachefile_writer *w)
{
	return w->count;
}

const uint8_t *cachefile_writer_image(struct cachefile_writer *w, size_t *len)
{
	uint8_t *h = w->buf;
	const uint8_t *payload = w->buf + CACHEFILE_HEADER_LEN;
	size_t payload_len = w->len - CACHEFILE_HEADER_LEN;

	memcpy(h + H_MAGIC, magic, sizeof(magic));
	put32(h + H_VERSION, CACHEFILE_VERSION);
	put32(h + H_HEADER_LEN, CACHEFILE_HEADER_LEN);
	put64(h + H_SAVED, w->saved_wall_ms);
	put64(h + H_COUNT, w->count);
	put64(h + H_PAYLOAD_LEN, payload_len);
	put64(h + H_PAYLOAD_SUM, ascii_fnv64(ASCII_FNV64_BASIS, payload, payload_len));
	put64(h + H_HEADER_SUM, ascii_fnv64(ASCII_FNV64_BASIS, h, H_HEADER_SUM));
	*len = w->len;
	return w->buf;
}

int cachefile_writer_save(struct cachefile_writer *w, const char *path, char *why,
			  size_t why_size)
{
	size_t len;
	const uint8_t *image = cachefile_writer_image(w, &len);
	return atomicfile_write(path, image, len, 0600, why, why_size);
}

void cachefile_writer_free(struct cachefile_writer *w)
{
	if (!w)
		return;
	free(w->buf);
	free(w);
}

/* ---- reading ---------------------------------------------------------- */

/* Walks the records of a payload whose checksum held. With fn NULL it
 * only checks (every record fits, its fields are ones a writer makes, the
 * count is the header's) and says what is wrong; with fn it hands each
 * record out, on a payload that passed the check. Returns the count or
 * -EBADMSG. */
static long long walk(const uint8_t *p, size_t len, uint64_t count, cachefile_record_fn fn,
		      void *arg, char *why, size_t why_size)
{
	size_t off = 0;
	uint64_t n = 0;
	while (off < len) {
		size_t left = len - off;
		const uint8_t *rec = p + off;
		if (left < CACHEFILE_RECORD_FIXED)
			return why_set(why, why_size, -EBADMSG,
				   "record %" PRIu64 " at payload byte %zu: %zu bytes left, "
				   "less than a record's %d fixed bytes (corrupted)",
				   n, off, left, CACHEFILE_RECORD_FIXED);
		size_t alen = get16(rec + R_ANSWER_LEN);
		if (alen < CACHEFILE_ANSWER_MIN)
			return why_set(why, why_size, -EBADMSG,
				   "record %" PRIu64 " at payload byte %zu: an answer of %zu bytes, "
				   "shorter than a DNS header (corrupted)", n, off, alen);
		if (left - CACHEFILE_RECORD_FIXED < alen)
			return why_set(why, why_size, -EBADMSG,
				   "record %" PRIu64 " at payload byte %zu: its answer of %zu bytes "
				   "runs past the payload's end (corrupted)", n, off, alen);
		if ((rec[R_KFLAGS] & ~KFLAGS_KNOWN) || rec[R_RESERVED] != 0)
			return why_set(why, why_size, -EBADMSG,
				   "record %" PRIu64 " at payload byte %zu: unknown flags "
				   "0x%02x 0x%02x (corrupted)", n, off, rec[R_KFLAGS],
				   rec[R_RESERVED]);
		if (fn) {
			const struct cachefile_record r = {
				.kflags = rec[R_KFLAGS],
				.qtype = get16(rec + R_QTYPE),
				.qclass = get16(rec + R_QCLASS),
				.lifetime_s = get32(rec + R_LIFETIME),
				.age_ms = get64(rec + R_AGE),
				.idle_ms = get64(rec + R_IDLE),
				.answer = rec + CACHEFILE_RECORD_FIXED,
				.answer_len = alen,
			};
			fn(arg, &r);
		}
		off += CACHEFILE_RECORD_FIXED + alen;
		n++;
	}
	if (n != count)
		return why_set(why, why_size, -EBADMSG,
			   "the header says %" PRIu64 " records, the payload holds %" PRIu64
			   " (corrupted)", count, n);
	/* At 40 bytes a record at least, more than INT_MAX records take
	 * 80 GiB: no file of stubd's, but the return value must hold it. */
	if (n > INT_MAX)
		return why_set(why, why_size, -EFBIG, "%" PRIu64 " records, more than %d", n, INT_MAX);
	return (long long)n;
}

int cachefile_parse(const uint8_t *buf, size_t len, uint64_t *saved_wall_ms,
		    cachefile_record_fn fn, void *arg, char *why, size_t why_size)
{
	/* The magic first: bytes of another program's are foreign, however
	 * short; a start of ours cut short is truncated. */
	size_t have = len < sizeof(magic) ? len : sizeof(magic);
	if (have > 0 && memcmp(buf, magic, have) != 0)
		return why_set(why, why_size, -EPROTO, "not a stubd cache file: bad magic (foreign)");
	if (len < H_VERSION + 4)
		return why_set(why, why_size, -ENODATA,
			   "%zu bytes, shorter than the %d-byte header (truncated)", len,
			   CACHEFILE_HEADER_LEN);

	/* The version before the header's checksum: a later version may lay
	 * out (and sum) its header otherwise. */
	uint32_t version = get32(buf + H_VERSION);
	if (version == 0)
		return why_set(why, why_size, -EBADMSG, "version 0 (corrupted)");
	if (version > CACHEFILE_VERSION)
		return why_set(why, why_size, -ENOTSUP,
			   "version %" PRIu32 ", this stubd reads version %d (future version)",
			   version, CACHEFILE_VERSION);
	if (len < CACHEFILE_HEADER_LEN)
		return why_set(why, why_size, -ENODATA,
			   "%zu bytes, shorter than the %d-byte header (truncated)", len,
			   CACHEFILE_HEADER_LEN);
	if (get64(buf + H_HEADER_SUM) != ascii_fnv64(ASCII_FNV64_BASIS, buf, H_HEADER_SUM))
		return why_set(why, why_size, -EBADMSG, "header checksum mismatch (corrupted)");
	/* Covered by the checksum, so only a writer of another mind sets
	 * it otherwise: version 1 has one header length. */
	if (get32(buf + H_HEADER_LEN) != CACHEFILE_HEADER_LEN)
		return why_set(why, why_size, -EBADMSG,
			   "a header length of %" PRIu32 ", version 1's is %d (corrupted)",
			   get32(buf + H_HEADER_LEN), CACHEFILE_HEADER_LEN);

	uint64_t payload_len = get64(buf + H_PAYLOAD_LEN);
	size_t have_payload = len - CACHEFILE_HEADER_LEN;
	if (payload_len > have_payload)
		return why_set(why, why_size, -ENODATA,
			   "%zu bytes of payload, the header says %" PRIu64 " (truncated)",
			   have_payload, payload_len);
	if (payload_len < have_payload)
		return why_set(why, why_size, -EBADMSG,
			   "%" PRIu64 " bytes after the payload's end (corrupted)",
			   (uint64_t)(have_payload - payload_len));
	const uint8_t *payload = buf + CACHEFILE_HEADER_LEN;
	if (get64(buf + H_PAYLOAD_SUM) != ascii_fnv64(ASCII_FNV64_BASIS, payload, have_payload))
		return why_set(why, why_size, -EBADMSG, "payload checksum mismatch (corrupted)");

	/* Every record is checked before the first is handed out: a caller
	 * never holds half a file's records. */
	uint64_t count = get64(buf + H_COUNT);
	long long n = walk(payload, have_payload, count, NULL, NULL, why, why_size);
	if (n < 0)
		return (int)n;
	if (saved_wall_ms)
		*saved_wall_ms = get64(buf + H_SAVED);
	if (fn)
		walk(payload, have_payload, count, fn, arg, NULL, 0);
	return (int)n;
}

/* Damage: path is renamed aside to PATH.damaged, so that the next save
 * does not hide it and the next start does not trip on it again. why
 * gets "PATH: WHAT; moved to PATH.damaged". Returns err. */
static int set_aside(const char *path, int err, const char *what, char *why, size_t why_size)
{
	char aside[PATH_MAX];
	if (snprintf(aside, sizeof(aside), "%s.damaged", path) >= (int)sizeof(aside))
		return why_set(why, why_size, err, "%s: %s; cannot move it aside: path too long",
			   path, what);
	if (rename(path, aside) < 0)
		return why_set(why, why_size, err, "%s: %s; cannot move it to %s: %s", path, what,
			   aside, strerror(errno));
	return why_set(why, why_size, err, "%s: %s; moved to %s", path, what, aside);
}

/* Reads up to size bytes of fd into buf; returns how many (fewer when
 * the file is shorter than its size said) or -errno. */
static ssize_t read_whole(int fd, uint8_t *buf, size_t size)
{
	size_t got = 0;
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int cachefile_load(const char *path, uid_t owner_uid, size_t max_bytes,
		   uint64_t *saved_wall_ms, cachefile_record_fn fn, void *arg, char *why,
		   size_t why_size)
{
	char what[256];
	struct stat st;
	/* O_NONBLOCK: a FIFO at path would block open() until a writer came. */
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int err = -errno;
		if (err == -ENOENT)
			return why_set(why, why_size, err, "%s: no file", path);
		/* ELOOP from O_NOFOLLOW is a link at path itself; from too
		 * many links in the folders above, it is not ours to move. */
		if (err == -ELOOP && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
			return set_aside(path, err, "a symbolic link, not followed", why,
					 why_size);
		return why_set(why, why_size, err, "%s: cannot open: %s", path, strerror(-err));
	}
	int err = 0;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) < 0) {
		err = -errno;
		why_set(why, why_size, err, "%s: cannot stat: %s", path, strerror(-err));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		err = why_set(why, why_size, -EINVAL, "%s: not a regular file (left where it is)", path);
		goto out;
	}
	if (st.st_uid != owner_uid) {
		snprintf(what, sizeof(what), "not owned by uid %ju (owner: uid %ju)",
			 (uintmax_t)owner_uid, (uintmax_t)st.st_uid);
		err = -EPERM;
		goto damaged;
	}
	if (st.st_size < 0 || (uintmax_t)st.st_size > max_bytes) {
		snprintf(what, sizeof(what), "oversized: %jd bytes, at most %zu",
			 (intmax_t)st.st_size, max_bytes);
		err = -EFBIG;
		goto damaged;
	}
	size_t size = (size_t)st.st_size;
	buf = malloc(size > 0 ? size : 1);
	if (!buf) {
		err = why_set(why, why_size, -ENOMEM, "%s: no memory for %zu bytes", path, size);
		goto out;
	}
	ssize_t got = read_whole(fd, buf, size);
	if (got < 0) {
		err = why_set(why, why_size, (int)got, "%s: cannot read: %s", path,
			  strerror((int)-got));
		goto out;
	}
	close(fd);
	fd = -1;
	err = cachefile_parse(buf, (size_t)got, saved_wall_ms, fn, arg, what, sizeof(what));
	if (err >= 0)
		goto out;
damaged:
	if (fd >= 0)
		close(fd);
	fd = -1;
	err = set_aside(path, err, what, why, why_size);
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return err;
}
