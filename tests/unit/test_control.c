/* test_control.c - unit tests for the control protocol's request parsing:
 * what the daemon accepts from its socket before any command runs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <string.h>

#include "stubd/control.h"
#include "stubd/control_proto.h"

static int split(const char *text, char **words, int max)
{
	static char line[CONTROL_REQUEST_MAX + 64];
	snprintf(line, sizeof(line), "%s", text);
	return control_split_request(line, words, max);
}

static void test_good_requests(void **state)
{
	char *w[8];
	assert_int_equal(split("STUBCTL1 text status", w, 8), 2);
	assert_string_equal(w[0], "text");
	assert_string_equal(w[1], "status");
	assert_int_equal(split("STUBCTL1 json query example.com -t A -t AAAA --no-cache", w, 8), 8);
	assert_string_equal(w[2], "example.com");
	assert_string_equal(w[7], "--no-cache");
	/* Runs of spaces separate words like one space. */
	assert_int_equal(split("STUBCTL1  color   flush-cache", w, 8), 2);
	assert_string_equal(w[1], "flush-cache");
}

static void test_bad_requests(void **state)
{
	char *w[4];
	assert_int_equal(split("", w, 4), -1);
	assert_int_equal(split("hello", w, 4), -1);
	assert_int_equal(split("STUBCTL2 text status", w, 4), -1);   /* another version */
	assert_int_equal(split("STUBCTL1", w, 4), -1);                /* no format */
	assert_int_equal(split("STUBCTL1 text", w, 4), -1);           /* no command */
	assert_int_equal(split("STUBCTL1 text a b c d", w, 4), -1);   /* too many words */
	assert_int_equal(split("STUBCTL1 text st\tatus", w, 4), -1);  /* control byte */
	assert_int_equal(split("STUBCTL1 text st\x7f" "atus", w, 4), -1);
	assert_int_equal(split("stubctl1 text status", w, 4), -1);    /* magic is exact */
}

static void test_oversized_request(void **state)
{
	char big[CONTROL_REQUEST_MAX + 32];
	char *w[2 + CONTROL_MAX_ARGS];
	/* More words than the limit, each fine on its own. */
	strcpy(big, "STUBCTL1 text query");
	for (int i = 0; i < CONTROL_MAX_ARGS + 1; i++)
		strcat(big, " x");
	assert_int_equal(control_split_request(big, w, 2 + CONTROL_MAX_ARGS), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_requests),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_oversized_request),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
