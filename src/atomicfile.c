/* atomicfile.c - write a temporary file, fsync, rename. See atomicfile.h. */
#include "stubd/atomicfile.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, char *why,
		     size_t why_size)
{
	char tmp[PATH_MAX];
	if (snprintf(tmp, sizeof(tmp), "%s.tmpXXXXXX", path) >= (int)sizeof(tmp)) {
		snprintf(why, why_size, "path too long (at most %d bytes): %.80s...", PATH_MAX - 12, path);
		return -ENAMETOOLONG;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		int err = -errno;
		snprintf(why, why_size, "cannot create %s: %s", tmp, strerror(-err));
		return err;
	}
	int err = write_all(fd, data, len);
	const char *step = "write";
	if (err == 0 && fchmod(fd, mode) < 0) {
		err = -errno;
		step = "chmod";
	}
	/* Flushed before the rename: after a crash the new name never
	 * points at an empty file. */
	if (err == 0 && fsync(fd) < 0) {
		err = -errno;
		step = "fsync";
	}
	if (close(fd) < 0 && err == 0) {
		err = -errno;
		step = "close";
	}
	if (err == 0 && rename(tmp, path) < 0) {
		err = -errno;
		step = "rename";
	}
	if (err < 0) {
		snprintf(why, why_size, "cannot write %s: %s failed: %s", path, step, strerror(-err));
		unlink(tmp);
	}
	return err;
}
