/* resolve1_answer.h - DNS replies as systemd-resolved's D-Bus API gives
 * them, and the errors it names.
 *
 * Owns the turn from a reply in wire form into ResolveHostname's
 * addresses and canonical name, ResolveAddress's names and
 * ResolveRecord's records (each one uncompressed in wire form, as
 * resolvectl parses it), following the CNAME chain from the question's
 * name; and the choice of error (org.freedesktop.resolve1.DNSError.RCODE,
 * NoSuchResourceRecord, NoNameServers), whose names clients act on. Cold
 * path: ldns parses. No D-Bus, no sockets.
 */
#ifndef STUBD_RESOLVE1_ANSWER_H
#define STUBD_RESOLVE1_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RESOLVE1_ERROR_NO_NAME_SERVERS "org.freedesktop.resolve1.NoNameServers"
#define RESOLVE1_ERROR_NO_SUCH_RR "org.freedesktop.resolve1.NoSuchResourceRecord"
#define RESOLVE1_ERROR_NO_SUCH_LINK "org.freedesktop.resolve1.NoSuchLink"
#define RESOLVE1_ERROR_DNS "org.freedesktop.resolve1.DNSError."

/* The text of a name without its final dot, NUL included. */
#define RESOLVE1_NAME_TEXT_MAX 256
/* Items one reply may give (more are left out). */
#define RESOLVE1_MAX_ITEMS 256

struct resolve1_address {
	int family;           /* AF_INET or AF_INET6 */
	uint8_t bytes[16];    /* 4 or 16 of them */
};

/* The A and AAAA records that answer the reply's question, at the end of
 * its CNAME chain, appended to out (*n of max used, *n updated), and
 * the name they belong to into canonical ("" when none). Returns 0, or
 * -EINVAL when the reply does not parse. */
int resolve1_answer_addresses(const uint8_t *reply, size_t len, struct resolve1_address *out,
			      size_t max, size_t *n, char *canonical, size_t canonical_size);

/* The PTR targets that answer the question, each passed to fn. Returns
 * the number passed, or -EINVAL. */
typedef void (*resolve1_name_fn)(void *arg, const char *name);
int resolve1_answer_names(const uint8_t *reply, size_t len, resolve1_name_fn fn, void *arg);

/* The records of the question's type and class (through CNAMEs, unless
 * the question asks for CNAME), each in wire form with its owner name
 * uncompressed, passed to fn. Returns the number passed, or -EINVAL. */
typedef void (*resolve1_record_fn)(void *arg, uint16_t rr_class, uint16_t rr_type,
				   const uint8_t *wire, size_t len);
int resolve1_answer_records(const uint8_t *reply, size_t len, resolve1_record_fn fn, void *arg);

/* Why a lookup of what (a name, or an address as text) gave nothing:
 * rcode is the reply's; no_servers: the name's route had no server;
 * found: records came back. Returns false when it did not fail; else
 * fills name (a D-Bus error name) and message as systemd-resolved does. */
struct resolve1_error {
	char name[96];
	char message[RESOLVE1_NAME_TEXT_MAX + 96];
};
bool resolve1_answer_error(unsigned rcode, bool no_servers, bool found, const char *what,
			   struct resolve1_error *e);

#endif
