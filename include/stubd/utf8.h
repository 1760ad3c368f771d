/* utf8.h - is this well-formed UTF-8? For the hosts file (names a query
 * could never match), command output on terminals, and JSON. No state. */
#ifndef STUBD_UTF8_H
#define STUBD_UTF8_H

#include <stddef.h>

/* Length (2 to 4) of the well-formed multi-byte UTF-8 sequence at s, at
 * most avail bytes, or 0 if there is none. RFC 3629 §4: overlong forms,
 * surrogates and code points above U+10FFFF are not UTF-8. ASCII bytes
 * are not multi-byte sequences: callers take those themselves. */
size_t utf8_seq_len(const unsigned char *s, size_t avail);

#endif
