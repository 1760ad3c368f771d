/* test_cachefile.c - the cache file: records come back as they went in,
 * and each kind of damage is named, refused before any record is handed
 * out, and moved aside to PATH.damaged. Images are edited by the offsets
 * cachefile.h documents, so the tests also hold the header to its word. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stubd/ascii.h"
#include "stubd/cachefile.h"

#define SAVED_AT 1718000000123ull /* a wall clock in ms, June 2024 */
#define MAX_RECORDS 64
#define NOBODY 65534

static char dir[64], path[128], aside[160];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/stubd-cachefile.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/cache", dir);
	snprintf(aside, sizeof(aside), "%s.damaged", path);
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* ---- records in and out --------------------------------------------- */

/* An answer: a reply header, the question, then filler bytes. */
static size_t make_answer(uint8_t *out, size_t len, unsigned seed)
{
	static const uint8_t question[] = "\x01w\x07" "example\x03" "com\x00\x00\x01\x00\x01";
	memset(out, 0, len);
	out[0] = (uint8_t)seed;
	out[2] = 0x81;
	out[3] = 0x80;
	if (len >= 12 + sizeof(question) - 1) {
		out[5] = 1;
		memcpy(out + 12, question, sizeof(question) - 1);
		out[13] = (uint8_t)('a' + seed % 26);
		for (size_t i = 12 + sizeof(question) - 1; i < len; i++)
			out[i] = (uint8_t)(seed * 31 + i);
	}
	return len;
}

static uint8_t answers[MAX_RECORDS][65535];

/* Record i of a varied set: every key flag, short and longest answers,
 * the largest values each field holds. */
static struct cachefile_record make_record(unsigned i)
{
	static const size_t lens[] = { 12, 29, 100, 180, 512, 4096, 65535 };
	size_t len = lens[i % (sizeof(lens) / sizeof(lens[0]))];
	make_answer(answers[i], len, i);
	return (struct cachefile_record){
		.kflags = (uint8_t)(i % 4),
		.qtype = (uint16_t)(i == 5 ? 0xffff : 1 + i),
		.qclass = (uint16_t)(i == 6 ? 0xffff : 1),
		.lifetime_s = i == 7 ? UINT32_MAX : 300 + i,
		.age_ms = i == 8 ? UINT64_MAX : 1000ull * i,
		.idle_ms = i == 9 ? UINT64_MAX : 10ull * i,
		.answer = answers[i],
		.answer_len = len,
	};
}

/* What fn saw: copies, since the records point into the loader's buffer. */
struct seen {
	size_t n;
	struct cachefile_record r[MAX_RECORDS];
	uint8_t *answer[MAX_RECORDS];
};

static void collect(void *arg, const struct cachefile_record *r)
{
	struct seen *s = arg;
	assert_true(s->n < MAX_RECORDS);
	s->r[s->n] = *r;
	s->answer[s->n] = malloc(r->answer_len);
	assert_non_null(s->answer[s->n]);
	memcpy(s->answer[s->n], r->answer, r->answer_len);
	s->r[s->n].answer = s->answer[s->n];
	s->n++;
}

static void seen_free(struct seen *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->answer[i]);
	s->n = 0;
}

static void assert_same_record(const struct cachefile_record *a, const struct cachefile_record *b)
{
	assert_int_equal(a->kflags, b->kflags);
	assert_int_equal(a->qtype, b->qtype);
	assert_int_equal(a->qclass, b->qclass);
	assert_int_equal(a->lifetime_s, b->lifetime_s);
	assert_true(a->age_ms == b->age_ms);
	assert_true(a->idle_ms == b->idle_ms);
	assert_int_equal(a->answer_len, b->answer_len);
	assert_memory_equal(a->answer, b->answer, a->answer_len);
}

/* A writer holding records 0..n-1. */
static struct cachefile_writer *writer_with(unsigned n)
{
	struct cachefile_writer *w = cachefile_writer_new(SAVED_AT);
	assert_non_null(w);
	for (unsigned i = 0; i < n; i++) {
		struct cachefile_record r = make_record(i);
		assert_int_equal(cachefile_writer_add(w, &r), 0);
	}
	assert_int_equal(cachefile_writer_count(w), n);
	return w;
}

static void save_records(unsigned n)
{
	char why[256] = "";
	struct cachefile_writer *w = writer_with(n);
	assert_int_equal(cachefile_writer_save(w, path, why, sizeof(why)), 0);
	cachefile_writer_free(w);
}

static int load(struct seen *s, uint64_t *saved, char *why, size_t why_size)
{
	return cachefile_load(path, geteuid(), 64 << 20, saved, collect, s, why, why_size);
}

static void test_round_trip(void **state)
{
	const unsigned n = 20;
	struct seen s = { 0 };
	uint64_t saved = 0;
	char why[256] = "";
	save_records(n);

	assert_int_equal(load(&s, &saved, why, sizeof(why)), n);
	assert_true(saved == SAVED_AT);
	assert_int_equal(s.n, n);
	for (unsigned i = 0; i < n; i++) {
		struct cachefile_record want = make_record(i);
		assert_same_record(&s.r[i], &want);
	}
	seen_free(&s);
	/* A good file stays where it is. */
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(aside, F_OK), -1);
}

/* No records: a file all the same (flush-cache writes one), read back as
 * none with its save time. */
static void test_empty_round_trip(void **state)
{
	struct seen s = { 0 };
	uint64_t saved = 0;
	char why[256] = "";
	struct stat st;
	save_records(0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, CACHEFILE_HEADER_LEN);
	assert_int_equal(load(&s, &saved, why, sizeof(why)), 0);
	assert_true(saved == SAVED_AT);
	assert_int_equal(s.n, 0);
}

/* The answers are the user's browsing history: the owner's alone. The
 * mode holds whatever the umask. */
static void test_mode_0600(void **state)
{
	struct stat st;
	mode_t old = umask(0);
	save_records(3);
	umask(old);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISREG(st.st_mode));
	assert_int_equal(st.st_mode & 07777, 0600);
	assert_int_equal(st.st_uid, geteuid());
}

/* Saving again replaces the file whole; the writer may be saved twice. */
static void test_save_replaces(void **state)
{
	struct seen s = { 0 };
	char why[256] = "";
	save_records(10);
	struct cachefile_writer *w = writer_with(2);
	assert_int_equal(cachefile_writer_save(w, path, why, sizeof(why)), 0);
	struct cachefile_record r = make_record(2);
	assert_int_equal(cachefile_writer_add(w, &r), 0);
	assert_int_equal(cachefile_writer_save(w, path, why, sizeof(why)), 0);
	cachefile_writer_free(w);
	assert_int_equal(load(&s, NULL, why, sizeof(why)), 3);
	seen_free(&s);
}

static void test_save_error_names_the_file(void **state)
{
	char missing[160], why[256] = "";
	snprintf(missing, sizeof(missing), "%s/no/cache", dir);
	struct cachefile_writer *w = writer_with(1);
	assert_int_equal(cachefile_writer_save(w, missing, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, missing));
	cachefile_writer_free(w);
}

/* What the format cannot hold is refused at the door, the writer kept
 * as it was. */
static void test_bad_record_refused(void **state)
{
	uint8_t small[12] = { 0 };
	struct cachefile_writer *w = writer_with(2);
	struct cachefile_record r = make_record(0);

	r.answer_len = 5;
	assert_int_equal(cachefile_writer_add(w, &r), -EINVAL);
	r.answer_len = 0;
	assert_int_equal(cachefile_writer_add(w, &r), -EINVAL);
	r = make_record(6); /* 65,535 bytes */
	r.answer_len = 65536;
	assert_int_equal(cachefile_writer_add(w, &r), -EINVAL);
	r = (struct cachefile_record){ .answer = small, .answer_len = 12, .kflags = 4 };
	assert_int_equal(cachefile_writer_add(w, &r), -EINVAL);
	r = (struct cachefile_record){ .answer = NULL, .answer_len = 12 };
	assert_int_equal(cachefile_writer_add(w, &r), -EINVAL);
	assert_int_equal(cachefile_writer_count(w), 2);

	size_t len;
	const uint8_t *image = cachefile_writer_image(w, &len);
	assert_int_equal(cachefile_parse(image, len, NULL, NULL, NULL, NULL, 0), 2);
	cachefile_writer_free(w);
}

/* ---- damage ------------------------------------------------------------ */

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	put32(p, (uint32_t)(v >> 32));
	put32(p + 4, (uint32_t)v);
}

/* An image of records 0..n-1 in a buffer of the test's (room to grow). */
static uint8_t *image_of(unsigned n, size_t *len, size_t room)
{
	struct cachefile_writer *w = writer_with(n);
	const uint8_t *image = cachefile_writer_image(w, len);
	uint8_t *copy = malloc(*len + room);
	assert_non_null(copy);
	memcpy(copy, image, *len);
	cachefile_writer_free(w);
	return copy;
}

/* Both checksums made right again after an edit, as a writer with a bug
 * would have written them: what is left for the record walk to catch. */
static void reseal(uint8_t *image, size_t len)
{
	size_t payload = len - CACHEFILE_HEADER_LEN;
	put64(image + 32, payload);
	put64(image + 40, ascii_fnv64(ASCII_FNV64_BASIS, image + CACHEFILE_HEADER_LEN, payload));
	put64(image + 48, ascii_fnv64(ASCII_FNV64_BASIS, image, 48));
}

static void write_file(const uint8_t *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	close(fd);
}

static size_t count_calls;

static void count_fn(void *arg, const struct cachefile_record *r)
{
	count_calls++;
}

/* Loads a damaged file: the errno, why naming the file, the kind and the
 * place it went, no record handed out, the file moved aside whole. */
static void expect_damage(const uint8_t *data, size_t len, int err, const char *kind)
{
	char why[512] = "", want[256];
	struct stat st;
	uint64_t saved = 42;

	write_file(data, len);
	count_calls = 0;
	assert_int_equal(cachefile_load(path, geteuid(), 64 << 20, &saved, count_fn, NULL, why,
					sizeof(why)), err);
	assert_int_equal(count_calls, 0);
	assert_true(saved == 42);
	assert_true(strncmp(why, path, strlen(path)) == 0);
	assert_non_null(strstr(why, kind));
	snprintf(want, sizeof(want), "; moved to %s", aside);
	assert_non_null(strstr(why, want));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(stat(aside, &st), 0);
	assert_int_equal(st.st_size, len);

	/* The parser alone says the same, path aside. */
	char parse_why[256] = "";
	assert_int_equal(cachefile_parse(data, len, &saved, count_fn, NULL, parse_why,
					 sizeof(parse_why)), err);
	assert_non_null(strstr(why, parse_why));
	assert_int_equal(count_calls, 0);
}

/* Cut at any point: a start of the magic, inside the header, right after
 * it, inside a record, one byte short. */
static void test_truncated(void **state)
{
	size_t len;
	uint8_t *image = image_of(5, &len, 0);
	const size_t cuts[] = { 0, 1, 4, 8, 11, 12, 30, 55, 56, 57, 56 + 28, len / 2, len - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		expect_damage(image, cuts[i], -ENODATA, "(truncated)");
	}
	free(image);
}

/* One changed byte anywhere: FNV-1a changes with any single byte. */
static void test_flipped_byte(void **state)
{
	size_t len;
	uint8_t *image = image_of(5, &len, 0);
	const size_t in_payload[] = { 56, 56 + 7, 56 + 28, len / 2, len - 1 };
	for (size_t i = 0; i < sizeof(in_payload) / sizeof(in_payload[0]); i++) {
		image[in_payload[i]] ^= 0x10;
		expect_damage(image, len, -EBADMSG, "payload checksum mismatch (corrupted)");
		image[in_payload[i]] ^= 0x10;
	}
	/* The save time, the count, the payload's length and sum, the
	 * header's sum: each caught by the header's checksum. */
	const size_t in_header[] = { 12, 16, 23, 24, 31, 32, 39, 40, 47, 48, 55 };
	for (size_t i = 0; i < sizeof(in_header) / sizeof(in_header[0]); i++) {
		image[in_header[i]] ^= 0x01;
		expect_damage(image, len, -EBADMSG, "header checksum mismatch (corrupted)");
		image[in_header[i]] ^= 0x01;
	}
	free(image);
}

static void test_foreign(void **state)
{
	static const char script[] = "#!/bin/sh\necho this is no cache file\n";
	expect_damage((const uint8_t *)script, sizeof(script) - 1, -EPROTO,
		      "bad magic (foreign)");
	/* Short and not ours: foreign, not truncated. */
	expect_damage((const uint8_t *)"GIF8", 4, -EPROTO, "(foreign)");
	expect_damage((const uint8_t *)"\n", 1, -EPROTO, "(foreign)");

	size_t len;
	uint8_t *image = image_of(2, &len, 0);
	image[7] = '1'; /* "STUBDCF1": a near miss is no match */
	expect_damage(image, len, -EPROTO, "(foreign)");
	free(image);
}

/* A later stubd's file: refused whatever follows the version, since that
 * version may lay out its header otherwise. Version 0 was never written. */
static void test_version(void **state)
{
	size_t len;
	uint8_t *image = image_of(2, &len, 0);
	put32(image + 8, 2);
	expect_damage(image, len, -ENOTSUP, "version 2, this stubd reads version 1 (future version)");
	put32(image + 8, 0xffffffff);
	expect_damage(image, 12, -ENOTSUP, "(future version)");
	put32(image + 8, 0);
	reseal(image, len);
	expect_damage(image, len, -EBADMSG, "version 0 (corrupted)");
	free(image);
}

/* Checksums right, records wrong: the walk catches each. */
static void test_records_that_do_not_walk(void **state)
{
	size_t len;
	uint8_t *good = image_of(3, &len, 0);
	uint8_t *bad = malloc(len + 64);
	assert_non_null(bad);

	/* answer_len 5: no DNS header. */
	memcpy(bad, good, len);
	bad[CACHEFILE_HEADER_LEN] = 0;
	bad[CACHEFILE_HEADER_LEN + 1] = 5;
	reseal(bad, len);
	expect_damage(bad, len, -EBADMSG,
		      "record 0 at payload byte 0: an answer of 5 bytes, shorter than a DNS header "
		      "(corrupted)");

	/* The last record's answer runs past the end. */
	memcpy(bad, good, len);
	reseal(bad, len - 1);
	expect_damage(bad, len - 1, -EBADMSG, "runs past the payload's end (corrupted)");

	/* Bytes after the last record, inside the payload. */
	memcpy(bad, good, len);
	memset(bad + len, 0, 10);
	reseal(bad, len + 10);
	expect_damage(bad, len + 10, -EBADMSG, "10 bytes left, less than a record's 28 fixed bytes");

	/* A whole record more than the header counts. */
	memcpy(bad, good, len);
	memset(bad + len, 0, 40);
	bad[len + 1] = 12;
	reseal(bad, len + 40);
	expect_damage(bad, len + 40, -EBADMSG, "the header says 3 records, the payload holds 4 (corrupted)");

	/* Fewer than it counts. */
	memcpy(bad, good, len);
	put64(bad + 24, 4);
	reseal(bad, len);
	expect_damage(bad, len, -EBADMSG, "the header says 4 records, the payload holds 3 (corrupted)");

	/* Bytes after the payload's end, the header left as it was. */
	memcpy(bad, good, len);
	memset(bad + len, 0xaa, 3);
	expect_damage(bad, len + 3, -EBADMSG, "3 bytes after the payload's end (corrupted)");

	/* Key flags and the reserved byte: only what a writer writes. */
	memcpy(bad, good, len);
	bad[CACHEFILE_HEADER_LEN + 6] = 4;
	reseal(bad, len);
	expect_damage(bad, len, -EBADMSG, "unknown flags 0x04 0x00 (corrupted)");
	memcpy(bad, good, len);
	bad[CACHEFILE_HEADER_LEN + 7] = 1;
	reseal(bad, len);
	expect_damage(bad, len, -EBADMSG, "unknown flags 0x00 0x01 (corrupted)");

	/* Version 1 has one header length. */
	memcpy(bad, good, len);
	put32(bad + 12, 64);
	reseal(bad, len);
	expect_damage(bad, len, -EBADMSG, "a header length of 64");

	/* A payload length past any file: truncated, not an overflow. */
	memcpy(bad, good, len);
	put64(bad + 32, UINT64_MAX);
	put64(bad + 48, ascii_fnv64(ASCII_FNV64_BASIS, bad, 48));
	expect_damage(bad, len, -ENODATA, "(truncated)");

	free(bad);
	free(good);
}

static void test_oversized(void **state)
{
	char why[512] = "";
	struct stat st;
	save_records(4);
	assert_int_equal(stat(path, &st), 0);
	size_t size = (size_t)st.st_size;

	/* Exactly at the limit: read. */
	assert_int_equal(cachefile_load(path, geteuid(), size, NULL, NULL, NULL, why, sizeof(why)), 4);
	/* One byte over: not read at all. */
	count_calls = 0;
	assert_int_equal(cachefile_load(path, geteuid(), size - 1, NULL, count_fn, NULL, why,
					sizeof(why)), -EFBIG);
	assert_int_equal(count_calls, 0);
	assert_non_null(strstr(why, "oversized"));
	assert_non_null(strstr(why, "moved to"));
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(aside, F_OK), 0);
}

static void expect_not_owned(uid_t owner, uid_t file_uid)
{
	char why[512] = "", want[512];
	count_calls = 0;
	assert_int_equal(cachefile_load(path, owner, 64 << 20, NULL, count_fn, NULL, why,
					sizeof(why)), -EPERM);
	assert_int_equal(count_calls, 0);
	snprintf(want, sizeof(want), "%s: not owned by uid %u (owner: uid %u); moved to %s", path,
		 (unsigned)owner, (unsigned)file_uid, aside);
	assert_string_equal(why, want);
	assert_int_equal(access(path, F_OK), -1);
	assert_int_equal(access(aside, F_OK), 0);
}

/* A file stubd's user did not write (left by a run as root, or put
 * there): its answers are not trusted. */
static void test_not_owned(void **state)
{
	/* Any user: the file is ours, stubd's user is said to be another. */
	save_records(2);
	expect_not_owned(geteuid() + 1, geteuid());

	if (geteuid() != 0) {
		print_message("not root: the file handed to uid %d is not tested\n", NOBODY);
		return;
	}
	save_records(2);
	assert_int_equal(chown(path, NOBODY, NOBODY), 0);
	expect_not_owned(0, NOBODY);
}

/* O_NOFOLLOW: a link at path is refused, as damage (-ELOOP), and the
 * link itself is moved aside, its target left alone and unread. */
static void test_symlink_refused(void **state)
{
	char target[160], why[512] = "", link_to[160] = "";
	struct stat st;
	save_records(3);
	snprintf(target, sizeof(target), "%s/elsewhere", dir);
	assert_int_equal(rename(path, target), 0);
	assert_int_equal(symlink(target, path), 0);

	count_calls = 0;
	assert_int_equal(cachefile_load(path, geteuid(), 64 << 20, NULL, count_fn, NULL, why,
					sizeof(why)), -ELOOP);
	assert_int_equal(count_calls, 0);
	assert_non_null(strstr(why, "a symbolic link, not followed; moved to"));
	assert_int_equal(lstat(aside, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_true(readlink(aside, link_to, sizeof(link_to) - 1) > 0);
	assert_string_equal(link_to, target);
	assert_int_equal(stat(target, &st), 0);
	assert_true(S_ISREG(st.st_mode));
}

/* No file: a first start. Nothing moved, nothing made. */
static void test_no_file(void **state)
{
	char why[512] = "";
	count_calls = 0;
	assert_int_equal(cachefile_load(path, geteuid(), 64 << 20, NULL, count_fn, NULL, why,
					sizeof(why)), -ENOENT);
	assert_int_equal(count_calls, 0);
	assert_non_null(strstr(why, "no file"));
	assert_null(strstr(why, "moved"));
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		assert_true(e->d_name[0] == '.');
	closedir(d);
}

/* A directory or a FIFO at path: a config mistake, reported and left
 * where it is (the FIFO without hanging the open). */
static void test_not_a_regular_file(void **state)
{
	char why[512] = "";
	assert_int_equal(mkdir(path, 0700), 0);
	assert_int_equal(cachefile_load(path, geteuid(), 64 << 20, NULL, NULL, NULL, why,
					sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "not a regular file"));
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(aside, F_OK), -1);
	assert_int_equal(rmdir(path), 0);

	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(cachefile_load(path, geteuid(), 64 << 20, NULL, NULL, NULL, why,
					sizeof(why)), -EINVAL);
	assert_int_equal(access(path, F_OK), 0);
	assert_int_equal(access(aside, F_OK), -1);
}

/* A second damaged file replaces the first one set aside. */
static void test_damaged_replaces_older(void **state)
{
	struct stat st;
	expect_damage((const uint8_t *)"first damaged file", 18, -EPROTO, "(foreign)");
	expect_damage((const uint8_t *)"second", 6, -EPROTO, "(foreign)");
	assert_int_equal(stat(aside, &st), 0);
	assert_int_equal(st.st_size, 6);
}

/* The kind of damage with why NULL: the errno alone. */
static void test_parse_without_why(void **state)
{
	size_t len;
	uint8_t *image = image_of(2, &len, 0);
	assert_int_equal(cachefile_parse(image, len, NULL, NULL, NULL, NULL, 0), 2);
	assert_int_equal(cachefile_parse(image, len - 1, NULL, NULL, NULL, NULL, 0), -ENODATA);
	assert_int_equal(cachefile_parse(image, 0, NULL, NULL, NULL, NULL, 0), -ENODATA);
	free(image);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(test_round_trip),
		T(test_empty_round_trip),
		T(test_mode_0600),
		T(test_save_replaces),
		T(test_save_error_names_the_file),
		T(test_bad_record_refused),
		T(test_truncated),
		T(test_flipped_byte),
		T(test_foreign),
		T(test_version),
		T(test_records_that_do_not_walk),
		T(test_oversized),
		T(test_not_owned),
		T(test_symlink_refused),
		T(test_no_file),
		T(test_not_a_regular_file),
		T(test_damaged_replaces_older),
		T(test_parse_without_why),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
