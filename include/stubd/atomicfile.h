/* atomicfile.h - files stubd writes whole: never seen half-written.
 *
 * Owns the one way stubd replaces a file (the link settings, its
 * resolv.conf): a temporary file in the same directory, written, flushed
 * to disk, then renamed over the old one, so a reader, or stubd after a
 * crash, finds the old content or the new, never a mix. No state.
 */
#ifndef STUBD_ATOMICFILE_H
#define STUBD_ATOMICFILE_H

#include <stddef.h>
#include <sys/types.h>

/* Replaces path with len bytes of data, mode mode. Returns 0, or -errno
 * with why set ("cannot write /run/stubd/links.tmpXXXXXX: No space left on
 * device"); the old file is then untouched and no temporary file is left. */
int atomicfile_write(const char *path, const void *data, size_t len, mode_t mode, char *why,
		     size_t why_size);

#endif
