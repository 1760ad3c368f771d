/* cachefile_speed.c - how long saving and loading a cache file of 100,000
 * answers takes (issue 18: each must be well under 200 ms).
 *
 *   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release
 *   cmake --build build-rel --target cachefile_speed
 *   build-rel/tests/cachefile_speed [RECORDS [DIR]]
 *
 * Not part of ctest (a unit test must not assert timing): a measurement.
 * Answers of 100 to 200 bytes are made up front; then, in rounds, the
 * save (writer, every add, the image with its checksums, the atomic write
 * with its fsync) and the load (open, checks, one read, parse, a callback
 * per record) are timed, each part apart. DIR (default /var/tmp, usually
 * a disk, not tmpfs) holds the file; the best round and the median are
 * printed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stubd/cachefile.h"

#define ROUNDS 7

static void die(const char *what)
{
	fprintf(stderr, "cachefile_speed: %s\n", what);
	exit(1);
}

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct sink {
	uint64_t sum;
};

static void take(void *arg, const struct cachefile_record *r)
{
	struct sink *s = arg;
	/* Touch what a restore reads: the fields and the question's start. */
	s->sum += r->lifetime_s + r->age_ms + r->answer_len + r->answer[12];
}

static void report(const char *what, double *t)
{
	qsort(t, ROUNDS, sizeof(*t), cmp_double);
	printf("  %-28s best %7.2f ms   median %7.2f ms\n", what, t[0], t[ROUNDS / 2]);
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 100000;
	const char *dir = argc > 2 ? argv[2] : "/var/tmp";
	if (n == 0 || argc > 3)
		die("usage: cachefile_speed [RECORDS [DIR]]");

	char path[4096], why[512];
	snprintf(path, sizeof(path), "%s/cachefile_speed.%d", dir, (int)getpid());

	/* The answers: a reply header, a question, filler, 100..200 bytes. */
	uint8_t *answers = malloc(n * 200);
	size_t *lens = malloc(n * sizeof(*lens));
	if (!answers || !lens)
		die("out of memory");
	srand(18);
	size_t total = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t *a = answers + i * 200;
		lens[i] = 100 + (size_t)rand() % 101;
		for (size_t j = 0; j < lens[i]; j++)
			a[j] = (uint8_t)rand();
		memcpy(a + 12, "\x03www\x07" "example\x03" "com\x00", 17);
		total += lens[i];
	}

	double add[ROUNDS], image[ROUNDS], write[ROUNDS], save[ROUNDS], load[ROUNDS];
	size_t file_len = 0;
	for (int round = 0; round < ROUNDS; round++) {
		double t0 = now_ms();
		struct cachefile_writer *w = cachefile_writer_new(1718000000000ull);
		if (!w)
			die("out of memory");
		for (size_t i = 0; i < n; i++) {
			const struct cachefile_record r = {
				.kflags = (uint8_t)(i & 3), .qtype = 1, .qclass = 1,
				.lifetime_s = 300, .age_ms = i, .idle_ms = i / 2,
				.answer = answers + i * 200, .answer_len = lens[i],
			};
			if (cachefile_writer_add(w, &r) != 0)
				die("cachefile_writer_add failed");
		}
		double t1 = now_ms();
		cachefile_writer_image(w, &file_len);
		double t2 = now_ms();
		if (cachefile_writer_save(w, path, why, sizeof(why)) != 0)
			die(why);
		double t3 = now_ms();
		cachefile_writer_free(w);
		add[round] = t1 - t0;
		image[round] = t2 - t1;
		/* The save sums again: the write alone is the save less it. */
		write[round] = (t3 - t2) - (t2 - t1);
		save[round] = (t3 - t0) - (t2 - t1);

		struct sink s = { 0 };
		double t4 = now_ms();
		int got = cachefile_load(path, geteuid(), 1u << 30, NULL, take, &s, why, sizeof(why));
		double t5 = now_ms();
		if (got != (int)n)
			die(got < 0 ? why : "a record count that differs");
		load[round] = t5 - t4;
	}
	unlink(path);

	printf("cachefile_speed: %zu records, answers of %.0f bytes on average, a file of %.1f MB in %s\n",
	       n, (double)total / (double)n, file_len / 1e6, dir);
	report("save: adds", add);
	report("save: checksums (image)", image);
	report("save: write, fsync, rename", write);
	report("save, all", save);
	report("load, all", load);
	free(answers);
	free(lens);
	return 0;
}
