/* test_atomicfile.c - a file is replaced whole or not at all, and a
 * failure says which file and why, leaving no temporary file behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stubd/atomicfile.h"

static char dir[64];

static int setup(void **state)
{
	snprintf(dir, sizeof(dir), "/tmp/stubd-atomic.XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static size_t entries(void)
{
	size_t n = 0;
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void test_replaces_whole(void **state)
{
	char path[128], why[256], buf[64] = "";
	struct stat st;
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	assert_int_equal(atomicfile_write(path, "old\n", 4, 0600, why, sizeof(why)), 0);
	assert_int_equal(atomicfile_write(path, "new text\n", 9, 0644, why, sizeof(why)), 0);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(buf, sizeof(buf), f));
	fclose(f);
	assert_string_equal(buf, "new text\n");
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(entries(), 1); /* no temporary file left */
}

/* A directory that is not there: the error names the file. */
static void test_missing_directory(void **state)
{
	char path[128], why[256];
	snprintf(path, sizeof(path), "%s/nodir/links", dir);
	assert_int_equal(atomicfile_write(path, "x", 1, 0644, why, sizeof(why)), -ENOENT);
	assert_non_null(strstr(why, path));
	assert_non_null(strstr(why, strerror(ENOENT)));
}

/* A file in the way of the rename (a directory of that name): the old
 * content stays and the temporary file is removed. */
static void test_rename_fails_cleanly(void **state)
{
	char path[128], why[256];
	snprintf(path, sizeof(path), "%s/links", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(atomicfile_write(path, "x", 1, 0644, why, sizeof(why)), -EISDIR);
	assert_non_null(strstr(why, "rename"));
	assert_int_equal(entries(), 1); /* the directory, no temporary file */
}

static void test_path_too_long(void **state)
{
	char path[5000], why[256];
	memset(path, 'a', sizeof(path) - 1);
	path[0] = '/';
	path[sizeof(path) - 1] = '\0';
	assert_int_equal(atomicfile_write(path, "x", 1, 0644, why, sizeof(why)), -ENAMETOOLONG);
	assert_non_null(strstr(why, "path too long"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_replaces_whole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_directory, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_fails_cleanly, setup, teardown),
		cmocka_unit_test_setup_teardown(test_path_too_long, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
