/* fuzz_cachefile.c - libFuzzer target: a cache file image, read by
 * cachefile_parse.
 *
 * Each input is parsed twice over: as it is (so the magic, version,
 * lengths and both checksums are fuzzed) and, when it is as long as a
 * header, "resealed": its payload length and both checksums set to what
 * its bytes need, the rest of its header kept, so that the fuzzer reaches
 * the record walk without finding two 64-bit sums first.
 *
 * For each: a refusal is one of the documented errnos with its kind in
 * why, and no record was handed out, nor the save time; a success hands
 * out exactly the count it returns, in file order, every answer inside
 * the image. A success is then written again with cachefile_writer and
 * must come out byte for byte the same (the format has one spelling of
 * each file), parse to the same records, and be refused when cut short
 * or when any one byte changes. Aborts when an invariant breaks.
 */
#include "fuzz_common.h"

#include "stubd/ascii.h"
#include "stubd/cachefile.h"

/* The least a record takes: its fixed fields and a DNS header. */
#define RECORD_MIN (CACHEFILE_RECORD_FIXED + CACHEFILE_ANSWER_MIN)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	fuzz_quiet_logs();
	return 0;
}

struct seen {
	const uint8_t *image;
	size_t len;
	size_t n, cap;
	struct cachefile_record *r;
};

static void collect(void *arg, const struct cachefile_record *r)
{
	struct seen *s = arg;
	FUZZ_CHECK(s->n < s->cap);
	/* Every answer inside the image, after its record's fixed fields. */
	FUZZ_CHECK(r->answer >= s->image + CACHEFILE_HEADER_LEN + CACHEFILE_RECORD_FIXED);
	FUZZ_CHECK(r->answer + r->answer_len <= s->image + s->len);
	FUZZ_CHECK(r->answer_len >= CACHEFILE_ANSWER_MIN && r->answer_len <= CACHEFILE_ANSWER_MAX);
	FUZZ_CHECK((r->kflags & ~(CACHEFILE_KFLAG_DO | CACHEFILE_KFLAG_CD)) == 0);
	/* In file order: each after the one before. */
	if (s->n > 0)
		FUZZ_CHECK(r->answer >= s->r[s->n - 1].answer + s->r[s->n - 1].answer_len +
					       CACHEFILE_RECORD_FIXED);
	s->r[s->n++] = *r;
}

static size_t calls;

static void count_call(void *arg, const struct cachefile_record *r)
{
	calls++;
}

static bool same_record(const struct cachefile_record *a, const struct cachefile_record *b)
{
	return a->kflags == b->kflags && a->qtype == b->qtype && a->qclass == b->qclass &&
	       a->lifetime_s == b->lifetime_s && a->age_ms == b->age_ms &&
	       a->idle_ms == b->idle_ms && a->answer_len == b->answer_len &&
	       memcmp(a->answer, b->answer, a->answer_len) == 0;
}

/* A refusal names its kind, and only these kinds exist. */
static void check_refusal(int r, const char *why)
{
	const char *kind = r == -EPROTO	   ? "(foreign)"
			   : r == -ENOTSUP ? "(future version)"
			   : r == -ENODATA ? "(truncated)"
			   : r == -EBADMSG ? "(corrupted)"
					   : NULL;
	FUZZ_CHECK(kind != NULL);
	FUZZ_CHECK(strstr(why, kind) != NULL);
}

/* Parses an image that is refused, or checks it must be: nothing handed out. */
static int parse_counted(const uint8_t *buf, size_t len, uint64_t *saved)
{
	char why[256] = "";
	calls = 0;
	int r = cachefile_parse(buf, len, saved, count_call, NULL, why, sizeof(why));
	if (r < 0) {
		check_refusal(r, why);
		FUZZ_CHECK(calls == 0);
	} else {
		FUZZ_CHECK(calls == (size_t)r);
	}
	return r;
}

/* What a good image must also be: the writer's own spelling, and fragile. */
static void check_good(const uint8_t *image, size_t len, uint64_t saved,
		       const struct seen *s)
{
	struct cachefile_writer *w = cachefile_writer_new(saved);
	FUZZ_CHECK(w);
	for (size_t i = 0; i < s->n; i++)
		FUZZ_CHECK(cachefile_writer_add(w, &s->r[i]) == 0);
	FUZZ_CHECK(cachefile_writer_count(w) == s->n);
	size_t again_len;
	const uint8_t *again = cachefile_writer_image(w, &again_len);
	FUZZ_CHECK(again_len == len && memcmp(again, image, len) == 0);

	/* The writer's image parsed: the same records, in the same order. */
	struct seen s2 = { .image = again, .len = again_len, .cap = s->n };
	s2.r = calloc(s->n + 1, sizeof(*s2.r));
	FUZZ_CHECK(s2.r);
	uint64_t saved2 = ~saved;
	FUZZ_CHECK(cachefile_parse(again, again_len, &saved2, collect, &s2, NULL, 0) == (int)s->n);
	FUZZ_CHECK(saved2 == saved && s2.n == s->n);
	for (size_t i = 0; i < s->n; i++)
		FUZZ_CHECK(same_record(&s->r[i], &s2.r[i]));
	free(s2.r);

	/* Cut short anywhere: truncated, never foreign nor read. */
	const size_t cuts[] = { 0, 1, 7, 8, 12, CACHEFILE_HEADER_LEN - 1, CACHEFILE_HEADER_LEN,
				len / 2, len - 1 };
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (cuts[i] >= len)
			continue;
		uint64_t untouched = 7;
		FUZZ_CHECK(parse_counted(image, cuts[i], &untouched) == -ENODATA);
		FUZZ_CHECK(untouched == 7);
	}

	/* Any one byte changed, at places spread over the image: refused. */
	uint8_t *copy = malloc(len);
	FUZZ_CHECK(copy);
	memcpy(copy, image, len);
	for (size_t k = 0; k < 16; k++) {
		size_t at = (size_t)((k * 0x9e3779b97f4a7c15ull + saved) % len);
		uint8_t flip = (uint8_t)(1u << (k % 8));
		copy[at] ^= flip;
		int r = parse_counted(copy, len, NULL);
		FUZZ_CHECK(r < 0);
		/* Past the version, a change is corruption: the sums catch it. */
		if (at >= 12)
			FUZZ_CHECK(r == -EBADMSG);
		copy[at] ^= flip;
	}
	free(copy);
	cachefile_writer_free(w);
}

static void check_image(const uint8_t *buf, size_t len)
{
	char why[256] = "";
	struct seen s = { .image = buf, .len = len, .cap = len / RECORD_MIN + 1 };
	s.r = calloc(s.cap, sizeof(*s.r));
	FUZZ_CHECK(s.r);
	uint64_t saved = 0x5a5a5a5a5a5a5a5aull;
	int r = cachefile_parse(buf, len, &saved, collect, &s, why, sizeof(why));
	/* Without fn or why: the same answer. */
	FUZZ_CHECK(cachefile_parse(buf, len, NULL, NULL, NULL, NULL, 0) == r);
	if (r < 0) {
		check_refusal(r, why);
		FUZZ_CHECK(s.n == 0 && saved == 0x5a5a5a5a5a5a5a5aull);
	} else {
		FUZZ_CHECK(s.n == (size_t)r);
		FUZZ_CHECK(len >= CACHEFILE_HEADER_LEN + (size_t)r * RECORD_MIN);
		check_good(buf, len, saved, &s);
	}
	free(s.r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_image(data, size);
	if (size < CACHEFILE_HEADER_LEN)
		return 0;

	/* Resealed: lengths and sums made right, as cachefile.h lays them
	 * out (big-endian; payload length at 32, its sum at 40, the
	 * header's sum of bytes 0..48 at 48). */
	uint8_t *sealed = malloc(size);
	FUZZ_CHECK(sealed);
	memcpy(sealed, data, size);
	uint64_t payload_len = size - CACHEFILE_HEADER_LEN;
	uint64_t sum = ascii_fnv64(ASCII_FNV64_BASIS, sealed + CACHEFILE_HEADER_LEN, payload_len);
	for (int i = 0; i < 8; i++) {
		sealed[32 + i] = (uint8_t)(payload_len >> (56 - 8 * i));
		sealed[40 + i] = (uint8_t)(sum >> (56 - 8 * i));
	}
	uint64_t head = ascii_fnv64(ASCII_FNV64_BASIS, sealed, 48);
	for (int i = 0; i < 8; i++)
		sealed[48 + i] = (uint8_t)(head >> (56 - 8 * i));
	check_image(sealed, size);
	free(sealed);
	return 0;
}
